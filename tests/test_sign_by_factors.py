"""Definedness certificates of products read factor by factor (elbo_sym.engine.definedness).

A numerator or denominator that is a product of factors each with a strict sign on the whole
domain has the product of their signs: the certificate no longer expands the product (the
Gaussian chain's variances multiply 1 - c1**2, 1 - c1**2 c2**2, ... into every obligation).
These tests compare that answer with the certificate of the expanded product and with exact
values at random points of the domain, and check that a factor without a strict sign sends the
product back to the whole certificate.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from sympy import Integer, Rational, expand

from elbo_sym.engine.definedness import (
    NEGATIVE,
    POSITIVE,
    _strict_class_by_factors,
    polynomial_sign,
    strict_sign,
)
from elbo_sym.engine.models import Interval, ModelSpec, Parameter, build

UNIT = Interval(Fraction(0), Fraction(1), lower_open=True, upper_open=True)
MODEL = build(ModelSpec(K=2, params=tuple(Parameter(n, UNIT) for n in ("c1", "c2", "c3"))))
C1, C2, C3 = (next(s for s in MODEL.parameter_bounds if s.name == n) for n in ("c1", "c2", "c3"))
PI0, PI1 = MODEL.prior
STRICT_FACTORS = (1 - C1 ** 2, 1 - C1 ** 2 * C2 ** 2, 1 - C1 ** 2 * C2 ** 2 * C3 ** 2, C2 - 2, PI0 + 2 * PI1,
                  C1 - C3 - 1, PI0 - 2, Integer(3), Integer(-2))
"""Factors with one sign on the whole domain (c_i in (0, 1), pi a distribution over K = 2)."""
MIXED_FACTORS = (C1 - C2, PI0 - PI1, 2 * C3 - 1)
"""Factors that change sign on the domain."""


def _value(e, rng: random.Random) -> Fraction:
    """e at a random exact point of the domain, evaluated with fractions (not SymPy's signs)."""
    point = {C1: Fraction(rng.randint(1, 99), 100), C2: Fraction(rng.randint(1, 99), 100),
             C3: Fraction(rng.randint(1, 99), 100)}
    p = Fraction(rng.randint(1, 99), 100)
    point.update({PI0: p, PI1: 1 - p})
    value = e.xreplace({s: Rational(v.numerator, v.denominator) for s, v in point.items()})
    return Fraction(int(value.p), int(value.q))


@pytest.mark.full
def test_a_product_of_strictly_signed_factors_has_the_product_of_their_signs():
    rng = random.Random(3)
    compared = 0
    for _ in range(25):
        factors = [rng.choice(STRICT_FACTORS) ** rng.randint(1, 2) for _ in range(rng.randint(2, 3))]
        product = factors[0] * factors[1]
        for f in factors[2:]:
            product = product * f
        if not product.is_Mul:
            continue
        found = _strict_class_by_factors(product, MODEL)
        assert found in (POSITIVE, NEGATIVE), product
        for _ in range(5):  # the class holds at exact points of the domain
            value = _value(product, rng)
            assert (value > 0) if found == POSITIVE else (value < 0), (product, value)
        whole = polynomial_sign(expand(product), MODEL)  # the expanded product's own certificate
        if whole in (POSITIVE, NEGATIVE):
            assert whole == found, product
            compared += 1
    assert compared > 10


def test_a_factor_without_a_strict_sign_leaves_the_product_to_the_whole_certificate():
    for mixed in MIXED_FACTORS:
        for strict in STRICT_FACTORS[:3]:
            assert _strict_class_by_factors(mixed * strict, MODEL) is None
            assert _strict_class_by_factors(mixed ** 2 * strict, MODEL) is None  # not a strict sign: may vanish
    assert strict_sign((C1 - C2) ** 2 * (1 - C1 ** 2), MODEL) is None  # vanishes at c1 = c2


def test_obligations_with_shared_factors_are_certified_in_any_order():
    """The factors' memo gives the same answers whichever obligation asks first."""
    shapes = [(1 - C1 ** 2) * (1 - C2 ** 2) / (1 - C1 ** 2 * C2 ** 2), 1 - C1 ** 2 * C2 ** 2,
              (C2 - 2) * (1 - C1 ** 2) / ((PI0 - 2) * (1 - C1 ** 2 * C2 ** 2)), (C1 - C2) * (1 - C1 ** 2)]
    expected = [1, 1, 1, None]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        fresh = build(ModelSpec(K=2, params=tuple(Parameter(n, UNIT) for n in ("c1", "c2", "c3"))))
        assert [strict_sign(shapes[i], fresh) for i in order] == [expected[i] for i in order]


# End to end (a red team's files, session 8): a product whose factors each have a strict sign is
# certified even where the expanded product has no certificate (a real parameter; an expansion too
# large), and a factor that can vanish still stops the step.
_DISCRETE = ('title = "t"\nsummary = "t"\nK = 2\nstart = "log(p(x))"\n\n'
             '[params]\npa = "in (0, 1)"\npd = "real"\npe = "> 0"\n')
_CHAIN = 'title = "t"\nsummary = "t"\nmodel = "gaussian"\nlatents = ["z1", "z2"]\nstart = "log(p(x))"\n'


def _one_step(tmp_path, head: str, expr: str) -> str:
    from elbo_sym.report.build import check_file

    path = tmp_path / "f.toml"
    path.write_text(head + f'\n[[step]]\nrel = "="\nexpr = "{expr}"\nrule = "algebra"\nwhy = "w"\n')
    (step,) = check_file(path).steps
    return step.verdict


@pytest.mark.full  # whole files checked end to end (the unit tests above stay in make test)
def test_strict_factors_certify_what_the_expanded_product_could_not(tmp_path):
    assert _one_step(tmp_path, _DISCRETE,
                     "log(p(x)) + 1/((pe + pd**2)*(1 - pa)) - 1/((pe + pd**2)*(1 - pa))") == "proved"
    assert _one_step(tmp_path, _DISCRETE,
                     "log(p(x)) + log(((pe + pd**2)*(1 - pa))**2) - 2*log((pe + pd**2)*(1 - pa))") == "proved"
    assert _one_step(tmp_path, _CHAIN, "log(p(x)) + log((a1**2 + v1)**4*(1 - c1**2*c2**2)**4)"
                                       " - log((a1**2 + v1)**4*(1 - c1**2*c2**2)**4)") == "proved"


@pytest.mark.full  # whole files checked end to end, 4 s (the unit tests above stay in make test)
def test_a_factor_that_can_vanish_still_stops_the_step(tmp_path):
    # pd is real: pd**2 is 0 at pd = 0, so neither the divisor nor the log argument is shown.
    assert _one_step(tmp_path, _DISCRETE, "log(p(x)) + 1/(pd**2*(1 - pa)) - 1/(pd**2*(1 - pa))") != "proved"
    assert _one_step(tmp_path, _DISCRETE,
                     "log(p(x)) + log((pd**2*(1 - pa))**2) - 2*log(pd**2*(1 - pa))") != "proved"
    assert _one_step(tmp_path, _DISCRETE,
                     "log(p(x)) + 1/((pe - pd**2)*(1 - pa)) - 1/((pe - pd**2)*(1 - pa))") != "proved"

"""The canonical form's fast zero test for rational-function coefficients
(elbo_sym.engine.canonical._vanishes_as_fraction, sparse integer polynomials without gcds).

It may only ever say "identically 0" when that is true: on random exact rational functions
(nested fractions, products, powers) it must agree with SymPy's own field arithmetic
(QQ.frac_field, every sum and product in lowest terms), say 0 for differences of equal
forms, and never for a sum that is non-zero by 10**-30; each verdict is checked again by
evaluating at exact rational points with `fractions.Fraction` (an evaluator written here).
The same sparse arithmetic reads off a polynomial's coefficients in one layer for the Gaussian
chain's moments (engine.sparse.terms_in): they must be Poly's own, the same expressions.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from suite_sizes import sized_int
from sympy import QQ, Add, Float, Integer, Mul, Poly, Pow, Rational, Symbol, expand, log, pi, sqrt, together
from sympy.polys.polyerrors import CoercionFailed

from elbo_sym.engine.canonical import TooLarge, _vanishes_as_fraction, expansion_terms
from elbo_sym.engine.sparse import Fractions, expanded_polynomial, is_polynomial, terms_in

# the random cases are sized (tests/suite_sizes.py): the first 14 of the 40 seeds in make test (the
# first 7 of 20, 12 of 30 for the slower properties), every seed in make test-full
pytestmark = pytest.mark.sized

SYMBOLS = [Symbol(name, real=True) for name in ("a", "b", "c", "d")]
TINY = Rational(1, 10**30)


def field_says_zero(c) -> bool:
    """SymPy's field arithmetic: c as an element of QQ(symbols), in lowest terms at every step."""
    symbols = sorted(c.free_symbols, key=str)
    try:
        return not QQ.frac_field(*symbols).from_sympy(c)
    except (ZeroDivisionError, CoercionFailed):
        return False


def value(e, point: dict) -> Fraction:
    """e at an exact rational point (ZeroDivisionError where a denominator vanishes there)."""
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e.is_Symbol:
        return point[e]
    if e.is_Add:
        return sum((value(a, point) for a in e.args), Fraction(0))
    if e.is_Mul:
        out = Fraction(1)
        for a in e.args:
            out *= value(a, point)
        return out
    if e.is_Pow and e.exp.is_Integer:
        return value(e.base, point) ** int(e.exp)
    raise TypeError(type(e).__name__)


def values(e, rng: random.Random, count: int = 6) -> list[Fraction]:
    """e at `count` random rational points where it is defined."""
    out = []
    while len(out) < count:
        point = {s: Fraction(rng.randint(-40, 40), rng.randint(1, 9)) for s in SYMBOLS}
        try:
            out.append(value(e, point))
        except ZeroDivisionError:
            continue
    return out


def random_fraction(rng: random.Random, depth: int):
    """A random rational function: sums, products, squares and inverses of nonzero sums of squares
    plus a positive number (never 0: every inverse is defined everywhere)."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(SYMBOLS) if rng.random() < 0.6 else Rational(rng.randint(-9, 9), rng.randint(1, 5))
    kind = rng.choice(["add", "mul", "square", "inverse", "inverse"])
    if kind == "add":
        return Add(*(random_fraction(rng, depth - 1) for _ in range(rng.randint(2, 3))))
    if kind == "mul":
        return Mul(*(random_fraction(rng, depth - 1) for _ in range(2)))
    if kind == "square":
        return Pow(random_fraction(rng, depth - 1), 2)
    inner = random_fraction(rng, depth - 1)
    return Pow(Add(Integer(1), Pow(inner, 2), Pow(rng.choice(SYMBOLS), 2)), -rng.randint(1, 2))


CASES = list(range(sized_int(14, 40)))
"""Seeds of the random cases: the first 14 in make test, all 40 in make test-full."""


def within_estimate(c) -> bool:
    """Both ways first bound the expansion (canonical.expansion_terms); beyond it neither decides."""
    try:
        expansion_terms(c)
    except TooLarge:
        return False
    return True


def equal_forms(rng: random.Random):
    """(e, the same rational function over one denominator), within the expansion estimate."""
    while True:
        e = random_fraction(rng, 4)
        other = together(e)
        if e != other and within_estimate(e - other):
            return e, other


@pytest.mark.full
@pytest.mark.parametrize("seed", CASES)
def test_difference_of_equal_forms_is_zero_and_the_field_agrees(seed):
    rng = random.Random(seed)
    e, other = equal_forms(rng)
    c = e - other
    assert all(v == 0 for v in values(c, rng))  # independently: 0 at exact points
    assert field_says_zero(c)
    assert _vanishes_as_fraction(c)


@pytest.mark.parametrize("seed", CASES)
def test_nonzero_by_ten_to_minus_thirty_is_never_zero(seed):
    rng = random.Random(1000 + seed)
    e, other = equal_forms(rng)
    c = Add(e, -other, TINY, evaluate=False)
    assert all(v == Fraction(1, 10**30) for v in values(c, rng))  # independently: exactly 10**-30
    assert not field_says_zero(c)
    assert not _vanishes_as_fraction(c)


@pytest.mark.parametrize("seed", CASES[:sized_int(7, 20)])
def test_random_sums_agree_with_the_field(seed):
    """A random sum of fractions (zero or not): both decisions agree, and a 0 is 0 at exact points."""
    rng = random.Random(2000 + seed)
    parts = [random_fraction(rng, 2) for _ in range(3)]
    zero_sum = rng.random() < 0.5  # the parts, then the first two and the third taken away again
    c = Add(*parts, -Add(*parts[:2]), -parts[2], evaluate=False) if zero_sum else Add(*parts, evaluate=False)
    fast = _vanishes_as_fraction(c)
    assert fast == field_says_zero(c)
    if fast:
        assert all(v == 0 for v in values(c, rng))
    else:
        assert any(v != 0 for v in values(c, rng, 12))


def test_partial_fractions_of_a_three_layer_style_denominator():
    a, b, c, _ = SYMBOLS
    D = 1 - a**2 * b**2 * c**2
    e = (1 - c**2) * (1 - a**2 * b**2) / D - (1 - c**2) / D + a**2 * b**2 * (1 - c**2) / D
    assert _vanishes_as_fraction(e) and field_says_zero(e)
    assert not _vanishes_as_fraction(e + TINY * a / D)


@pytest.mark.parametrize("c", [pi * SYMBOLS[0] - pi * SYMBOLS[0] + pi, Float(0.5) * SYMBOLS[0],
                               sqrt(SYMBOLS[0]) + SYMBOLS[1], Integer(0) * SYMBOLS[0] + Rational(3, 4)])
def test_anything_but_a_rational_function_with_symbols_is_left_to_the_usual_way(c):
    assert not _vanishes_as_fraction(c)


def test_a_denominator_that_is_the_zero_polynomial_is_not_zero():
    a = SYMBOLS[0]
    c = Add(Mul(a, Pow(Add(a, -a, evaluate=False), -1, evaluate=False), evaluate=False), -a, evaluate=False)
    assert not _vanishes_as_fraction(c)


def test_too_large_a_numerator_is_refused_before_it_is_computed():
    """Passes the expansion estimate (a negative power counts as one term), but a common denominator
    would need (s0 + ... + s29 + 1) ** 12 multiplied out: refused, and left to the usual way."""
    many = [Symbol(f"s{i}", real=True) for i in range(30)]
    c = Add(Pow(Add(*many, 1), -12), Pow(many[0] ** 2 + 1, -1), evaluate=False)
    with pytest.raises(TooLarge):
        Fractions(sorted(c.free_symbols, key=str)).convert(c)
    assert not _vanishes_as_fraction(c)


# ------------------------------------------------------------------ coefficients in one variable

LAYER = Symbol("z2", real=True)
NAMES = [Symbol(name, real=True) for name in ("x", "a1", "c1", "c2", "z1", "b")]
"""Names like the chain's: SymPy orders x before the others, and that order fixes a denominator's sign."""


def random_coefficient(rng: random.Random, depth: int):
    """A random rational function of NAMES (a fraction with a denominator that may be negative somewhere)."""
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(NAMES) if rng.random() < 0.6 else Rational(rng.randint(-9, 9), rng.randint(1, 5))
    kind = rng.choice(["add", "mul", "inverse"])
    if kind == "add":
        return Add(*(random_coefficient(rng, depth - 1) for _ in range(2)))
    if kind == "mul":
        return Mul(*(random_coefficient(rng, depth - 1) for _ in range(2)))
    denominator = Add(random_coefficient(rng, depth - 1), -rng.choice(NAMES) ** 2, rng.randint(-3, 3))
    return Pow(denominator, -1) if denominator != 0 else Integer(1)


SLOW_FOR_POLY = {5, 10}
"""Seeds where Poly itself (the reference here) needs seconds to expand the nested fractions."""


@pytest.mark.parametrize("seed", [s for s in range(sized_int(14, 32)) if s not in SLOW_FOR_POLY])
def test_coefficients_in_a_layer_are_polys_own(seed):
    """terms_in(g, v) gives Poly(g, v).terms()'s coefficients, the same expressions (signs included)."""
    rng = random.Random(3000 + seed)
    mean = Add(*(random_coefficient(rng, 2) * LAYER ** n for n in range(2)))
    power = rng.randint(1, 3)
    g = Add(Pow(LAYER - mean, power) * random_coefficient(rng, 1), random_coefficient(rng, 2) * LAYER)
    expected = tuple((n, c) for (n,), c in Poly(g, LAYER).terms())
    assert terms_in(g, LAYER) == expected


@pytest.mark.parametrize("g", [LAYER * log(2), LAYER / (LAYER + 1), Float(0.5) * LAYER, pi * LAYER,
                               sqrt(NAMES[0]) * LAYER])
def test_anything_but_a_polynomial_with_rational_function_coefficients_is_left_to_poly(g):
    with pytest.raises(ValueError):
        terms_in(g, LAYER)


def test_terms_in_remembers_what_it_computed_and_no_refusal():
    """terms_in is remembered per process (the Gaussian chains ask for the same moments again): an equal
    (not identical) question gets the answer computed afresh, and a refusal raises every time."""
    a = NAMES[0]
    g = (LAYER - a) ** 2 * Rational(1, 3) + a * LAYER
    first = terms_in(g, LAYER)
    again = terms_in((LAYER - a) ** 2 * Rational(1, 3) + a * LAYER, LAYER)
    assert again is first
    assert terms_in.__wrapped__(g, LAYER) == first == tuple((n, c) for (n,), c in Poly(g, LAYER).terms())
    for _ in range(2):
        with pytest.raises(ValueError):
            terms_in(LAYER / (LAYER + a), LAYER)


def test_one_ring_per_tuple_of_symbols():
    """SymPy's rings (the browser's polynomials, and terms_in's gcds): Fractions over the same symbols,
    in the same order, share one ring (SymPy builds a ring's generators and monomial functions anew
    each time); other symbols, another order or a symbol with other assumptions get their own."""
    a, b = SYMBOLS[:2]

    def ring(symbols):
        return Fractions(symbols, flint=False).polynomials.ring

    assert ring([a, b]) is ring([a, b])
    assert ring([b, a]) is not ring([a, b])
    assert ring([Symbol("a", positive=True), b]) is not ring([a, b])
    assert Fractions([a, b], flint=False).numerator(a * b - b * a + a) == ring([a, b]).gens[0]


def test_flint_polynomials_where_python_flint_has_them():
    """python-flint is a dependency: its polynomials are the ones used (the products in C)."""
    a, b = SYMBOLS[:2]
    fractions = Fractions([a, b])
    assert type(fractions.polynomials).__name__ == "_FlintPolynomials"
    assert fractions.numerator(a * b - b * a + a) == fractions.polynomials.gens[0]


def as_terms(fractions: Fractions, c) -> tuple:
    """c's (N, q, {F: k}) with each polynomial as its terms (monomial -> int), comparable across backends."""
    numerator, scale, denominator = fractions.convert(c)
    polynomials = fractions.polynomials
    factors = {tuple(sorted(polynomials.as_dict(fractions.factors[f]).items())): k for f, k in denominator.items()}
    return polynomials.as_dict(numerator), int(scale), factors


@pytest.mark.parametrize("seed", CASES[:sized_int(7, 20)])
def test_flint_and_sympy_polynomials_give_the_same_fraction(seed):
    """The same N, q and F (each F primitive with a positive leading coefficient) with FLINT's polynomials
    as with SymPy's ring: so the zero test and terms_in's coefficients cannot depend on which is used."""
    rng = random.Random(4000 + seed)
    parts = [random_fraction(rng, 3) for _ in range(3)]
    c = Add(*parts, -parts[0], evaluate=False) if rng.random() < 0.5 else Add(*parts, evaluate=False)
    symbols = sorted(c.free_symbols, key=str)
    try:
        expected = as_terms(Fractions(symbols, flint=False), c)
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            Fractions(symbols).convert(c)
        return
    assert as_terms(Fractions(symbols), c) == expected


# ------------------------------------------------------------------ polynomials multiplied out

def random_polynomial(rng: random.Random, depth: int):
    """A random polynomial of SYMBOLS with rational coefficients: sums, products and small powers."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(SYMBOLS) if rng.random() < 0.6 else Rational(rng.randint(-9, 9), rng.randint(1, 5))
    kind = rng.choice(["add", "mul", "power"])
    if kind == "add":
        return Add(*(random_polynomial(rng, depth - 1) for _ in range(rng.randint(2, 3))))
    if kind == "mul":
        return Mul(*(random_polynomial(rng, depth - 1) for _ in range(2)))
    return Pow(random_polynomial(rng, depth - 1), rng.randint(0, 3))


@pytest.mark.parametrize("seed", CASES)
def test_a_polynomial_multiplied_out_sparsely_is_expands_own_expression(seed):
    """canonical's expansions of polynomials (`sparse.expanded_polynomial`) are the expressions `expand`
    gives, term for term (what the residuals print): the same terms make the same sum."""
    rng = random.Random(5000 + seed)
    e = random_polynomial(rng, 4)
    assert is_polynomial(e)
    assert expanded_polynomial(e) == expand(e, deep=True, log=False, power_exp=False, power_base=False)


@pytest.mark.parametrize("e", [SYMBOLS[0] / SYMBOLS[1], log(SYMBOLS[0]) * SYMBOLS[1], Float(0.5) * SYMBOLS[0],
                               sqrt(SYMBOLS[0]) + 1, pi * SYMBOLS[0], Symbol("n", commutative=False) * SYMBOLS[0]])
def test_anything_but_a_polynomial_in_symbols_is_expanded_by_expand(e):
    assert not is_polynomial(e)


@pytest.mark.parametrize("seed", [0, 2, 3])  # seed 1 takes over a minute
def test_without_flint_sympys_ring_gives_the_same_coefficients_and_expansions(seed, monkeypatch):
    """Where python-flint's polynomials do not import (the browser), SymPy's ring does the same work:
    terms_in is still Poly's, an expansion still expand's."""
    from elbo_sym.engine import sparse

    monkeypatch.setattr(sparse, "_flint_context", lambda n: None)
    assert type(Fractions(SYMBOLS).polynomials).__name__ == "_SympyPolynomials"
    rng = random.Random(6000 + seed)
    mean = Add(*(random_coefficient(rng, 2) * LAYER ** n for n in range(2)))
    g = Add(Pow(LAYER - mean, rng.randint(1, 3)) * random_coefficient(rng, 1), random_coefficient(rng, 2) * LAYER)
    assert terms_in(g, LAYER) == tuple((n, c) for (n,), c in Poly(g, LAYER).terms())
    e = random_polynomial(rng, 4)
    assert expanded_polynomial(e) == expand(e, deep=True, log=False, power_exp=False, power_base=False)

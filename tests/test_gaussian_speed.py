"""The Gaussian families' fast paths give what the slow ones gave.

E(q, f) reads f as a polynomial in z.  `expanded_terms` reads it off f's expansion, without
Poly's search for a domain of coefficients (which expands every coefficient again and, on a
Gaussian's log-density, ends in the expression domain EX anyway).  Here it is compared with
`Poly(f, *generators).terms()`: the same expressions (srepr) wherever Poly's domain is EX, the
integers or rationals, or a polynomial ring; the same values (cancel of the difference is 0)
where Poly writes a coefficient over a fraction field in lowest terms.  Where the reader refuses
(z in a denominator, a log, a root, a degree above MAX_MOMENT) Poly decides and words it.

A density is exp of its log-density built without Exp's evaluation (`density_of`): the same Exp.
The Gaussian chain's factors (each conditional's mean and variance) are composed in the field of
rational functions: the same expressions as SymPy's arithmetic converted by Poly gave (that former
code is kept here as the reference).
"""

from __future__ import annotations

import itertools
import random

import pytest
from sympy import (
    Add,
    Integer,
    Mul,
    Poly,
    Rational,
    Symbol,
    cancel,
    exp,
    log,
    pi,
    sqrt,
    srepr,
)

import elbo_sym.engine.models.gaussian as gaussian
from elbo_sym.engine.models.base import ModelSpec
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.models.gaussian import (
    ANY_D,
    MAX_MOMENT,
    GaussianAnyD,
    GaussianModel,
    density_of,
    expanded_terms,
    moment_terms,
)
from elbo_sym.engine.models.gaussian_chain import IDENTITY, GaussianChainModel
from elbo_sym.engine.notation import Density, Exp, x, z
from elbo_sym.engine.parse import Vocabulary, parse_expression

# the fast way against the long way, test by test: in make test-full (and CI), not the author's
# fast loop (every test is in one of the two tiers)
pytestmark = pytest.mark.full

VOCABULARY = Vocabulary(("x",), ("mu", "sigma", "w", "b", "s"), real=True)
MU, W, B, X = (Symbol(n, real=True) for n in ("mu", "w", "b", "x"))
SIGMA, S = (Symbol(n, positive=True) for n in ("sigma", "s"))
BODIES = [
    "log(q(z))", "log(p(z))", "log(p(x, z))", "log(p(z | x))", "log(p(x | z))", "log(p(x, z)) - log(q(z))",
    "log(q(z)) - log(p(z | x))", "(log(q(z)) - log(p(z)))**2", "z**3 * log(p(x | z))",
    "log(Normal(mu + w, sigma**2 + s**2))", "(z - mu)**4 / sigma**2", "log(q(z) * p(x | z) / p(z | x))",
    "z**2 * (w**2 + s**2) / s**2", "(z - w * (x - b) / (w**2 + s**2))**2", "log(p(z | x)) * z**2",
    "z**2", "(z - mu)**2", "log(2 * pi * q(z)) * z",
]


def poly_terms(f, generators):
    return tuple(Poly(f, *generators).terms())


def assert_reads_as_poly(f, generators) -> str:
    """The reader's terms are Poly's: the same expressions over EX, ZZ, QQ and polynomial rings, the
    same monomials and values over a fraction field (Poly cancels common factors there, the reader
    keeps each term's own form).  Returns Poly's domain."""
    poly = Poly(f, *generators)
    fast = expanded_terms(f, generators)
    assert fast is not None
    if poly.domain.is_EX or not poly.domain.is_Field or poly.domain.is_QQ:
        assert srepr(fast) == srepr(tuple(poly.terms()))
    else:
        slow = dict(poly.terms())
        assert [m for m, _ in fast] == list(slow)
        assert all(cancel(c - slow[m]) == 0 for m, c in fast)
    return str(poly.domain)


def test_a_log_density_is_remembered_as_written_out():
    """log_normal is remembered per process (the files ask for the same log-densities again): equal
    arguments, a Python 0 or SymPy's among them, get the expression written out afresh."""
    first = gaussian.log_normal(z, 0, 1)
    assert gaussian.log_normal(z, Integer(0), Integer(1)) is first
    assert gaussian.log_normal.__wrapped__(z, Integer(0), Integer(1)) == first
    assert first == -log(2 * pi, evaluate=False) / 2 - z ** 2 / 2
    other = gaussian.log_normal(X, W * z + B, S ** 2)
    assert other == -log(2 * pi * S ** 2, evaluate=False) / 2 - (X - W * z - B) ** 2 / (2 * S ** 2)


@pytest.mark.parametrize("body", BODIES)
def test_the_family_s_bodies_read_as_poly_reads_them(body):
    f = GaussianModel().unfold(parse_expression(body, VOCABULARY))
    assert f.has(z)
    assert_reads_as_poly(f, (z,))


@pytest.mark.parametrize("body", ["log(q(z))", "log(p(x, z)) - log(q(z))", "log(p(z | x))",
                                  "(log(q(z)) - log(p(z)))**2", "log(p(x | z)) * log(q(z))"])
def test_the_diagonal_version_s_bodies_read_as_poly_reads_them(body):
    model = GaussianModel(ModelSpec("gaussian", D=2))
    f = model._open(parse_expression(body, Vocabulary(("x",), ("b", "s"), real=True)))
    coordinates = tuple(c for c in model.coordinates_z if f.has(c))
    assert len(coordinates) == 2
    assert assert_reads_as_poly(f, coordinates) == "EX"


ATOMS = [MU, W, B, X, SIGMA, S, log(SIGMA), log(S), log(W ** 2 + S ** 2), log(2), log(pi), pi, sqrt(S), sqrt(2),
         1 / SIGMA, 1 / (W ** 2 + S ** 2), exp(MU), Rational(3, 7)]


def random_coefficient(rng: random.Random, depth: int):
    """A sum of products of the atoms (parameters, logs, roots, pi, fractions) and small rationals."""
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(ATOMS) if rng.random() < 0.8 else Rational(rng.randint(-9, 9), rng.randint(1, 5))
    parts = [random_coefficient(rng, depth - 1) for _ in range(rng.randint(2, 3))]
    return Add(*parts) if rng.random() < 0.5 else Mul(*parts)


def random_polynomial(rng: random.Random, atoms_only: bool):
    """A polynomial in z as the unfolding builds them: powers of (z - a), products, sums."""
    terms = [random_coefficient(rng, 2) * z ** n for n in range(rng.randint(1, 4))]
    if rng.random() < 0.7:
        terms.append(random_coefficient(rng, 1) * (z - random_coefficient(rng, 1)) ** rng.randint(1, 3))
    if atoms_only:
        terms = [t.xreplace({log(2): Integer(2)}) for t in terms]
    return Add(*terms)


@pytest.mark.parametrize("seed", range(40))
def test_random_polynomials_read_as_poly_reads_them(seed):
    rng = random.Random(7100 + seed)
    assert_reads_as_poly(random_polynomial(rng, atoms_only=seed % 3 == 0), (z,))


def test_the_random_polynomials_meet_every_kind_of_domain():
    """The comparison above is exercised where it matters: EX, rings and fraction fields all occur."""
    domains = [Poly(random_polynomial(random.Random(7100 + seed), seed % 3 == 0), z).domain for seed in range(40)]
    assert any(d.is_EX for d in domains)
    assert any(not d.is_Field for d in domains)
    assert any(d.is_Field and not d.is_EX and not d.is_QQ for d in domains)


def test_a_fraction_field_is_met_and_gives_the_same_values():
    """The case the value comparison is for: Poly over ZZ(s, w) writes (w + s)/(w**2 + s**2) in one."""
    f = z * W / (W ** 2 + S ** 2) + z * S / (W ** 2 + S ** 2)
    assert Poly(f, z).domain.is_Field and not Poly(f, z).domain.is_EX
    ((power, coefficient),) = expanded_terms(f, (z,))
    assert power == (1,) and cancel(coefficient - Poly(f, z).coeff_monomial(z)) == 0


@pytest.mark.parametrize("f", [1 / z + MU, log(z) * SIGMA, sqrt(z), exp(z), z ** Rational(3, 2), z ** SIGMA,
                               MU * z / (z + 1), Symbol("A", commutative=False) * z])
def test_what_is_not_a_polynomial_in_z_is_left_to_poly_and_refused_by_it(f):
    assert expanded_terms(f, (z,)) is None
    with pytest.raises(UnfoldError, match="exact here for polynomials"):
        moment_terms(f, (z,), "z", "polynomials", z)


def test_a_degree_above_the_limit_is_refused_naming_it():
    f = MU * z ** (MAX_MOMENT + 1) + z
    assert expanded_terms(f, (z,))[0][0] == (MAX_MOMENT + 1,)
    with pytest.raises(UnfoldError, match=f"degree {MAX_MOMENT + 1} in z"):
        moment_terms(f, (z,), "z", "polynomials", z)


def test_the_family_s_bodies_never_ask_poly(monkeypatch):
    """The speed-up itself: a log-density's expectation is read without Poly."""
    def refuse(*args, **kwargs):
        raise AssertionError("Poly was asked")

    monkeypatch.setattr(gaussian, "Poly", refuse)
    model = GaussianModel()
    for body in BODIES:
        f = model.unfold(parse_expression(body, VOCABULARY))
        assert moment_terms(f, (z,), "z", "polynomials", z)


def test_a_zero_polynomial_and_a_constant_read_as_poly_reads_them():
    assert expanded_terms(z - z + MU, (z,)) == poly_terms(MU + 0 * z, (z,))
    assert expanded_terms(Integer(0) * z, (z,)) == poly_terms(Integer(0) * z, (z,))
    f = (z + SIGMA) ** 2 - z ** 2 - 2 * z * SIGMA
    assert expanded_terms(f, (z,)) == poly_terms(f, (z,)) == (((0,), SIGMA ** 2),)


DENSITIES = ["q(z)", "p(z)", "p(x, z)", "p(z | x)", "p(x | z)", "p(x)", "q(z | x)"]


@pytest.mark.parametrize("model", [GaussianModel(), GaussianModel(ModelSpec("gaussian", D=2)),
                                   GaussianAnyD(ModelSpec("gaussian", D=ANY_D))], ids=["D=1", "D=2", "D=any"])
def test_a_density_is_the_exp_its_evaluation_gives(model):
    """density_of builds exp of a log-density without asking whether the sum is 0: the same Exp."""
    vocabulary = Vocabulary(("x",), (), real=True)
    for text in DENSITIES:
        d = parse_expression(text, vocabulary)
        log_density = model.vector_log_density(d) if getattr(model, "diagonal", False) else model.log_density(d)
        assert log_density.is_Add
        assert srepr(model.density(d)) == srepr(Exp(log_density)) == srepr(density_of(log_density))
    assert density_of(Integer(0)) == 1 and density_of(3 * log(SIGMA)) == SIGMA ** 3


# ---------------------------------------------------------------------------- the Gaussian chain's factors


def _conditional_as_sympy_gave_it(chain, variable, fixed):
    """The chain's former `conditional`: mean and variance as SymPy expressions (the slow path)."""
    order, top, steps = chain
    i = order.index(variable)
    before = [j for j in range(i) if order[j] in fixed]
    after = [j for j in range(i + 1, len(order)) if order[j] in fixed]
    into = IDENTITY if before else top
    for j in range(before[-1] + 1 if before else 1, i + 1):
        into = into.then(steps[j - 1])
    mean = into.A * order[before[-1]] + into.B if before else into.B
    if not after:
        return mean, into.V
    out = IDENTITY
    for j in range(i + 1, after[0] + 1):
        out = out.then(steps[j - 1])
    posterior = 1 / (1 / into.V + out.A ** 2 / out.V)
    return posterior * (mean / into.V + out.A * (order[after[0]] - out.B) / out.V), posterior


def _factors_as_poly_gave_them(model, d):
    """The former `_factors`: each SymPy mean converted by Poly over the field, the variance by the field."""
    chain, variables, given = model._chain_of(d)
    out, fixed = [], given
    for v in sorted(set(variables), key=chain[0].index, reverse=d.name == "p" and x in given):
        mean, variance = _conditional_as_sympy_gave_it(chain, v, fixed)
        mean = Poly(mean, *model.layers, x, domain=model.field).as_expr()
        out.append((v, mean, model.field.to_sympy(model.field.from_sympy(variance))))
        fixed = fixed | {v}
    return tuple(out)


def _chain_densities(model):
    """Every density of the chain over one or two variables, given any others (and the named ones)."""
    variables = (*model.layers, x)
    out = list(model._named_densities())
    for name in ("p", "q"):
        for wanted in [*((v,) for v in variables), *itertools.combinations(variables, 2)]:
            rest = [v for v in variables if v not in wanted]
            for k in range(len(rest) + 1):
                for given in itertools.combinations(rest, k):
                    d = Density(name, wanted, tuple(sorted({*given, x} if name == "q" else given, key=str)))
                    if name == "q" and x in wanted:
                        continue
                    out.append(d)
    return out


@pytest.mark.parametrize("T", [2, 3])
def test_the_chain_s_factors_are_the_ones_sympy_and_poly_gave(T):
    """Conditioning in the field of rational functions gives the same means and variances, written
    the same way (srepr), as SymPy's arithmetic converted by Poly did, for every density of the chain."""
    model = GaussianChainModel(ModelSpec("gaussian", layers=T, layered=True))
    densities = _chain_densities(model)
    assert len(densities) > 30
    compared = 0
    for d in densities:
        try:
            expected = _factors_as_poly_gave_them(model, d)
        except (UnfoldError, ZeroDivisionError):
            continue
        assert srepr(model._factors(d)) == srepr(expected), d
        compared += 1
    assert compared == len(densities)

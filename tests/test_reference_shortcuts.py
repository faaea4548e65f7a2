"""Session 12's shortcuts of the second opinion decide as the long ways decide, on both interval backends:
a clear-cut comparison, the intervals' own + and *, the memo by equal subtrees, log_normal by identity,
the product rule's point numbers.  (The tree's opinions and their counted work are the same as before
them: tests/test_reference_work.py and tests/test_interval_backends.py.)"""

from __future__ import annotations

import random

import pytest
import sympy
from interval_backends import same

from elbo_sym.engine import reference
from elbo_sym.engine.notation import Density, x, z
from elbo_sym.engine.parse import parse_expression as parse_expr
from elbo_sym.engine.reference import discrete, gaussian, intervals
from elbo_sym.engine.reference.rationals import Rational

BACKENDS = sorted(intervals.available())


@pytest.fixture(params=BACKENDS)
def backend(request):
    with reference.use_backend(request.param) as chosen:
        yield chosen


def _interval(rng: random.Random):
    """A value as the judges meet them: a log (an enclosure 2**-210 wide), a sum of logs that is 0 or
    nearly 0, a widened one (a retry's), a huge one, or an exact fraction."""
    kind = rng.randrange(6)
    q = Rational(rng.randint(1, 10**9), rng.randint(1, 10**9))
    if kind == 0:
        return q
    if kind == 1:
        return discrete._log(q)
    if kind == 2:  # log(q) - log(q) and log(q * r) - log(q) - log(r): enclosures of 0 or of log(r)
        r = Rational(rng.randint(1, 50), rng.randint(1, 50))
        return discrete._sum((discrete._log(q * r), discrete._product((discrete.MINUS_ONE, discrete._log(q)))))
    if kind == 3:
        width = Rational(1, 10 ** rng.choice((20, 40, 49, 50, 51, 52, 60, 70)))
        return intervals.widened(discrete.backend(), discrete._iv(discrete._log(q)), discrete._iv(width), discrete.PREC)
    if kind == 4:
        return discrete._product((Rational(10) ** rng.randint(20, 60), discrete._log(q)))
    return discrete._exp(discrete._log(q))


TOLERANCES = (discrete.EXACT, discrete.QUADRATURE_TOLERANCE, discrete.TOLERANCE, Rational(1, 10**60))


@pytest.mark.full
def test_a_clear_cut_comparison_is_what_the_long_way_decides(backend):
    rng = random.Random(12)
    fired = 0
    for _ in range(3000):
        a = _interval(rng)
        b = a if rng.random() < 0.3 else _interval(rng)
        if rng.random() < 0.3 and type(a) is not Rational:  # the same value made again: equal, not one object
            b = discrete._sum((a, discrete.ZERO))
        if type(a) is Rational and type(b) is Rational:
            continue
        rel = rng.choice(("=", ">=", "<=", ">", "<"))
        tolerance = rng.choice(TOLERANCES)
        A, B = discrete._iv(a), discrete._iv(b)
        difference = backend.sub(A, B, discrete.PREC)
        if not discrete._clearly_holds(rel, difference, tolerance):
            continue
        fired += 1
        assert discrete._decided_from_ends(rel, A, B, difference, tolerance) == (True, ""), (rel, tolerance)
        assert discrete.relation_holds(rel, a, b, tolerance) == (True, "")
    assert fired > 200  # the shortcut is taken (else this test tests nothing)


def test_a_comparison_that_is_not_clear_cut_is_decided_the_long_way(backend):
    log2 = discrete._log(Rational(2))
    for width, decided in ((10**45, True), (10**30, False)):  # within EXACT's resolution (1e-40), beyond it
        wide = intervals.widened(backend, log2, discrete._iv(Rational(1, width)), discrete.PREC)
        assert not discrete._clearly_holds("=", backend.sub(wide, log2, discrete.PREC), discrete.EXACT)
        if decided:
            assert discrete.relation_holds("=", wide, log2, discrete.EXACT) == (True, "")
        else:
            with pytest.raises(discrete.JudgeError, match="too wide"):
                discrete.relation_holds("=", wide, log2, discrete.EXACT)
    assert discrete.relation_holds("=", log2, discrete._sum((log2, discrete.ZERO)), discrete.EXACT) == (True, "")
    shown = discrete.relation_holds(">", log2, discrete._log(Rational(3)), discrete.EXACT)
    assert shown[0] is False and "enclosure" in shown[1]


def test_sums_and_products_by_the_intervals_operators_are_the_backends_operations_bit_for_bit(backend, monkeypatch):
    rng = random.Random(7)
    cases = []
    for _ in range(400):
        values = [_interval(rng) for _ in range(rng.randint(1, 5))]
        if all(type(v) is Rational for v in values):
            values.append(discrete._log(Rational(5, 7)))
        cases.append(values)
    fast = [(discrete._sum(v), discrete._product(v)) for v in cases]
    monkeypatch.setattr(discrete, "_OPERATORS", False)  # the backend's add, mul and rounded, one call each
    for values, (total, product) in zip(cases, fast):
        assert same(total, discrete._sum(values)) and same(product, discrete._product(values))


def test_equal_subtrees_that_are_distinct_objects_share_one_value_and_its_work():
    text = "KL(q(z), p(z | x)) + log(p(x)) - E(q(z), log(p(x, z) / q(z)))"
    first = parse_expr(text)
    sympy.core.cache.clear_cache()  # else SymPy's cache hands out the same objects again
    second = parse_expr(text)
    assert first == second and first is not second
    inst = discrete.instances(3)[4]
    with discrete.work_limit(10**9, "test"):
        alone = discrete.evaluate(second, inst, None, {})
        work_alone = discrete.work_spent()
    memo: dict = {}
    with discrete.work_limit(10**9, "test"):
        discrete.evaluate(first, inst, None, memo)
        work_first = discrete.work_spent()
    entries = len(memo)
    with discrete.work_limit(10**9, "test"):
        again = discrete.evaluate(second, inst, None, memo)
        assert discrete.work_spent() == work_alone == work_first  # found, and charged what it cost
    assert len(memo) == entries  # nothing evaluated afresh: the other object's values were found
    assert same(again, alone)
    assert discrete.representative(second) is discrete.representative(first)


def test_log_normal_by_identity_is_the_value_and_work_by_value():
    t = discrete._log(Rational(7, 3))
    mean, variance = Rational(1, 3), Rational(5, 4)
    with discrete.work_limit(10**9, "test"):
        made = gaussian.log_normal(t, mean, variance)
        work = discrete.work_spent()
    for args in ((t, mean, variance), (discrete._sum((t, discrete.ZERO)), Rational(1, 3), Rational(5, 4))):
        with discrete.work_limit(10**9, "test"):
            assert same(gaussian.log_normal(*args), made) and discrete.work_spent() == work
    gaussian.forget_intervals()
    with discrete.work_limit(10**9, "test"):
        assert same(gaussian.log_normal(t, mean, variance), made) and discrete.work_spent() == work


def test_equal_points_get_one_number_and_a_number_is_never_given_twice():
    point = (discrete._log(Rational(2)), Rational(1, 2))
    copy = (discrete._sum((point[0], discrete.ZERO)), Rational(1, 2))
    other = (discrete._log(Rational(3)), Rational(1, 2))
    number, another = gaussian._point_key(point), gaussian._point_key(other)
    assert gaussian._point_key(copy) == number != another
    gaussian._POINT_KEYS.clear()
    gaussian._POINT_NUMBERS.clear()  # the tables start afresh: new numbers, never an old one
    assert min(gaussian._point_key(other), gaussian._point_key(point)) > max(number, another)


def test_the_diagonal_models_density_kinds():
    kinds = {text: gaussian._vector_kind(parse_expr(text)) for text in
             ("p(x)", "q(z)", "q(z | x)", "p(z)", "p(x | z)", "p(x, z)", "p(z, x)", "p(z | x)")}
    assert kinds == {"p(x)": "marginal", "q(z)": "q", "q(z | x)": "q", "p(z)": "prior", "p(x | z)": "likelihood",
                     "p(x, z)": "joint", "p(z, x)": "joint", "p(z | x)": "posterior"}
    assert gaussian._vector_kind(Density("r", (z,))) is None
    assert gaussian._vector_kind(Density("q", (x,))) == "marginal"  # as the judge read it before: any name
    assert gaussian._JOINT == parse_expr("p(x, z)") and gaussian._EVIDENCE == parse_expr("p(x)")


def test_equal_expressions_get_one_number_and_numbers_are_never_given_twice():
    first = sympy.log(2 * sympy.pi * sympy.Symbol("sigma", positive=True) ** 2) / 2
    sympy.core.cache.clear_cache()
    second = sympy.log(2 * sympy.pi * sympy.Symbol("sigma", positive=True) ** 2) / 2
    other = sympy.log(2 * sympy.pi * sympy.Symbol("sigma", positive=True) ** 2) / 3
    assert first is not second
    number, another = discrete.expression_number(first), discrete.expression_number(other)
    assert discrete.expression_number(second) == number != another
    discrete._NUMBERS.clear()  # the table starts afresh: new numbers, never an old one
    assert min(discrete.expression_number(first), discrete.expression_number(other)) > max(number, another)


def test_an_exact_part_is_shared_across_precisions_and_charged_the_same():
    c, a = sympy.Symbol("c", real=True), sympy.Symbol("a", real=True)
    exact = (1 - c**2) ** 2 / (a * c + 3)
    mixed = exact + sympy.log(1 + c**2)
    assert gaussian._rational_function(exact) and not gaussian._rational_function(mixed)
    assert not gaussian._rational_function(exact * gaussian.z)
    inst = gaussian.GaussianInstance("test", (("c", Rational(1, 3)), ("a", Rational(-7, 2))))

    def valued(bits: int, where: gaussian.GaussianInstance):
        with discrete._precision(bits), discrete.work_limit(10**9, "test"):
            return gaussian.evaluate(mixed, where), gaussian.evaluate(exact, where), discrete.work_spent()

    valued(discrete.PREC, inst)  # the exact part remembered at the working precision, for every precision
    assert (discrete.expression_number(exact), None) in inst.binders
    again = valued(discrete.RETRY_PRECISIONS[0], inst)
    afresh = valued(discrete.RETRY_PRECISIONS[0], gaussian.GaussianInstance("test", inst.values))
    assert same(again[0], afresh[0]) and again[1] == afresh[1] == Rational(64, 81) / Rational(11, 6)
    assert again[2] == afresh[2]


def test_an_outcome_that_holds_shows_its_sides_when_asked_and_one_that_fails_at_once():
    inst = discrete.instances(2)[0]
    kl = parse_expr("KL(q(z), p(z | x))")
    gap = parse_expr("log(p(x)) - ELBO(q(z), x)")
    held = discrete.outcome_of(inst, None, kl, "=", gap, discrete.evaluate, inst, None, {}, tolerance=discrete.EXACT)
    assert held.holds and not isinstance(held.shown[0], str)  # the value, not yet shown
    value = discrete.evaluate(kl, inst, None, {})
    assert held.lhs == discrete.show(value) and held.rhs == discrete.show(discrete.evaluate(gap, inst, None, {}))
    failed = discrete.outcome_of(inst, None, kl, ">", gap, discrete.evaluate, inst, None, {}, tolerance=discrete.EXACT)
    assert not failed.holds and failed.shown == (discrete.show(value), failed.rhs) and failed.lhs in failed.describe()

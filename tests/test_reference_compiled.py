"""The discrete judge's compiled expressions and two-operand arithmetic give what the walk and the general
sums and products give: the same values (fractions equal, intervals with the same midpoint and radius), the
same work counted, the same errors in the same order -- so that the faster second opinion changes no
outcome and no count of the work budget (docs/05, the eighth round)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import sympy
from interval_backends import same
from mpmath.libmp import from_rational, round_floor

from elbo_sym.engine import reference
from elbo_sym.engine.notation import Density, x, z
from elbo_sym.engine.reference import discrete, intervals
from elbo_sym.engine.reference.rationals import Rational


def _value(rng: random.Random, bits: int):
    """An operand of any kind the judges meet: a fraction, an exact 0, the interval of a fraction, a log, a
    point with more bits than the working precision (a Hermite node: a sum or product rounds it first)."""
    kind = rng.randrange(6)
    q = Rational(rng.randint(-10**12, 10**12), rng.randint(1, 10**9))
    if kind <= 1:
        return q
    if kind == 2:
        return Rational(0)
    if kind == 3:
        return discrete._iv(q)
    if kind == 4:
        return discrete._log(abs(q) + 1)
    lo = from_rational(int(q.numerator), int(q.denominator), bits + 40, round_floor)
    return discrete.backend().from_ends(lo, lo)


@pytest.mark.parametrize("backend", sorted(intervals.available()))
@pytest.mark.parametrize("bits", [discrete.PREC, *discrete.RETRY_PRECISIONS])
def test_two_operand_sums_and_products_are_the_general_ones(backend, bits):
    """_sum2(a, b) and _product2(a, b) are _sum((a, b)) and _product((a, b)) for every kind of operand, in
    each backend and at each precision, and count the same two operations."""
    rng = random.Random(bits)
    with reference.use_backend(backend), discrete._precision(bits):
        for _ in range(600):
            with discrete.work_limit(10**9, "test"):
                a, b = _value(rng, bits), _value(rng, bits)
                spent = discrete.work_spent()
            for two, general in ((discrete._sum2, discrete._sum), (discrete._product2, discrete._product)):
                with discrete.work_limit(10**9, "test"):
                    got = two(a, b)
                    assert discrete.work_spent() == 2
                with discrete.work_limit(10**9, "test"):
                    want = general((a, b))
                assert same(got, want), (two.__name__, a, b)
            assert spent >= 0


def _walk(e, inst, k=None, memo=None):
    """`discrete.evaluate` as the walk it replaced: each part by its handler, no memo of values."""
    return discrete._handler(e)(e, inst, k, {} if memo is None else memo)


def _outcome(evaluate, e, inst, k, memo):
    """(value or error, work counted) of one evaluation."""
    with discrete.work_limit(10**9, "test"):
        try:
            value = evaluate(e, inst, k, memo)
        except discrete.Undefined as error:
            value = ("undefined", str(error), error.near_zero)
        except discrete.JudgeError as error:
            value = ("judge error", str(error))
        return value, discrete.work_spent()


def _the_same(a, b) -> bool:
    (value_a, work_a), (value_b, work_b) = a, b
    if type(value_a) is tuple or type(value_b) is tuple:
        return value_a == value_b and work_a == work_b
    return same(value_a, value_b) and work_a == work_b


def _discrete_parts() -> list:
    """Every part of every expression of the tree's files (another family's parts: the judge's errors)."""
    from pathlib import Path

    from elbo_sym.engine.derivation import load

    root = Path(__file__).resolve().parent.parent / "derivations"
    parts: dict = {}
    for folder in ("teaching", "variants", "literature"):
        for path in sorted((root / folder).glob("*.toml")):
            try:
                derivation = load(path)
            except Exception:  # noqa: BLE001 - a file another family's loader refuses: not this test's
                continue
            for e in [derivation.start.expr] + [step.expr for step in derivation.steps]:
                for part in sympy.preorder_traversal(e):
                    if isinstance(part, sympy.Expr):
                        parts[part] = None
    return list(parts)


@pytest.mark.full
def test_compiled_expressions_are_the_walk_with_the_same_work(monkeypatch):
    """Every part of every discrete file, at instances of K = 2 and 3 and at every z: the compiled
    evaluation gives the walk's value, error and work -- afresh, and again from the memo it filled."""
    parts = _discrete_parts()
    assert len(parts) > 1000
    cases = discrete.instances(2, seed=1)[:3] + discrete.instances(3, seed=2)[:2]
    kinds: Counter = Counter()
    for inst in cases:
        for part in parts:
            for k in (None, *range(inst.K)):
                with monkeypatch.context() as m:
                    m.setattr(discrete, "evaluate", _walk)  # every level walked, nothing remembered
                    want = _outcome(_walk, part, inst, k, {})
                memo: dict = {}
                for _ in range(2):  # afresh, then from the memo
                    assert _the_same(_outcome(discrete.evaluate, part, inst, k, memo), want), (part, k)
                kinds[want[0][0] if type(want[0]) is tuple else "value"] += 1
    assert kinds["value"] > 2000, kinds  # values compared, not only errors (undefined: the test below)


def test_an_error_the_judge_cannot_evaluate_comes_where_the_walk_met_it():
    """Compiling never raises: a part the judge refuses (a non-integer power) after one that is undefined
    (the log of an exact 0) leaves the Undefined first, as the walk did; alone, it raises its JudgeError."""
    inst = discrete.instances(2, seed=0)[0]
    p_x = Density("p", (x,))
    zero = sympy.Add(p_x, sympy.Mul(-1, p_x, evaluate=False), evaluate=False)
    refused = sympy.Pow(p_x, sympy.Rational(1, 2), evaluate=False)
    both = sympy.Add(sympy.log(zero, evaluate=False), refused, evaluate=False)
    assert both.args[0].func is sympy.log
    for e, kind in ((both, discrete.Undefined), (refused, discrete.JudgeError)):
        for _ in range(2):
            with pytest.raises(kind):
                discrete.evaluate(e, inst, None, {})
    with pytest.raises(discrete.JudgeError, match="with z unbound"):
        discrete.evaluate(Density("q", (z,)), inst, None, {})

"""The Gaussian judges' shortcuts (functions made once per expression, remembered quadrature points)
give what the plain evaluation gives: the same values bit for bit, the same errors and the same count
of work, step after step of every Gaussian file (the memos of one step carried into the next)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import sympy
from interval_backends import mpmath_backend  # noqa: F401 - the fixture
from mpmath.libmp.libmpi import mpi_sqrt

from elbo_sym.engine import reference
from elbo_sym.engine.derivation import load
from elbo_sym.engine.reference import discrete, gaussian, gaussian_chain
from elbo_sym.engine.reference.rationals import Rational

# the fast way against the long way, test by test: in make test-full (and CI), not the author's
# fast loop (every test is in one of the two tiers)
pytestmark = [pytest.mark.full, pytest.mark.usefixtures("mpmath_backend")]
"""These tests hold the pure-Python backend's shortcuts to mpmath's plain libmpi operations, bit for
bit; tests/test_interval_backends.py holds the arb backend to the same judgements."""

ROOT = Path(__file__).resolve().parent.parent
GAUSSIAN_FILES = sorted(p for folder in ("derivations/literature", "derivations/variants")
                        for p in (ROOT / folder).glob("*.toml")
                        if 'model = "gaussian"' in p.read_text() and "latents" not in p.read_text())


def _plain_expect(inst, mean, variance, body):
    """`_expect` as the loop it was: each point made again by its product and sum."""
    if not discrete._positive(variance):
        raise discrete.Undefined(f"a Gaussian with variance {discrete.show(variance)} <= 0")
    scale = mpi_sqrt(discrete._iv(variance), discrete.PREC)
    terms = []
    for node, weight in gaussian.hermite_rule(gaussian.NODES, discrete.PREC):
        point = discrete._sum((mean, discrete._product((scale, node))))
        terms.append(discrete._product((weight, body(point))))
    return discrete._sum(terms)


def _fresh(cases: list) -> list:
    """The instances again with empty memos, and every value the Gaussian judge remembers forgotten."""
    reference.forget()
    gaussian._POINTS.clear()
    gaussian._AT_POINT.clear()
    gaussian._UNBOUND.clear()
    return [gaussian.GaussianInstance(c.name, c.values, c.D, c.q, diagonal=c.diagonal) for c in cases]


def _run(derivation, cases, limit: int = 10) -> list:
    """Each step judged at the first `limit` instances in turn (the memos of a step kept for the next,
    as in a check): per step the outcomes (values shown, verdicts) and the work counted, or the error."""
    out = []
    lhs = derivation.start.expr
    for step in derivation.steps:
        with discrete.work_limit(10**12, "test"):
            try:
                judgement = gaussian.judge(lhs, step.rel, step.expr, cases[:limit], stop_at_first=False)
                got = [(o.lhs, o.rhs, o.holds, o.reason) for o in judgement.outcomes]
            except discrete.JudgeError as error:
                got = [f"JudgeError: {error}"]
            out.append((got, discrete.work_spent()))
        lhs = step.expr
    return out


@pytest.mark.parametrize("path", GAUSSIAN_FILES, ids=lambda p: p.stem)
def test_every_gaussian_file_is_judged_as_the_plain_evaluation_judges_it(path, monkeypatch):
    derivation = load(path)
    model = derivation.model()
    _, found, _ = reference.cases(model.spec, model.K)
    assert found
    fast = _run(derivation, _fresh(found))
    with monkeypatch.context() as plain:
        plain.setattr(gaussian, "evaluate", gaussian._plain_evaluate)
        plain.setattr(gaussian, "_expect", _plain_expect)
        slow = _run(derivation, _fresh(found))
    assert fast == slow
    assert any(work for _, work in fast)  # something was evaluated and counted


def _parts(expressions) -> list:
    out: list = []
    for e in expressions:
        for part in sympy.preorder_traversal(e):
            if part not in out:
                out.append(part)
    return out


def _outcome(evaluate, e, inst, at):
    with discrete.work_limit(10**12, "test"):
        try:
            value = evaluate(e, inst, at)
        except (discrete.Undefined, discrete.JudgeError) as error:
            value = f"{type(error).__name__}: {error}"
        return value, discrete.work_spent()


def test_every_part_of_the_gaussian_files_at_a_point_is_its_plain_value(monkeypatch):
    """Each part of every expression of the Gaussian files (sums, powers, logs, densities, z, constants,
    parts refused) with z unbound and at points of z, at instances of every dimension: the same value or the same
    error, the same work counted, from a fresh memo and from one the plain evaluation filled."""
    rng = random.Random(7)
    expressions = []
    for path in GAUSSIAN_FILES:
        derivation = load(path)
        expressions += [derivation.start.expr, *(step.expr for step in derivation.steps)]
    z = sympy.Symbol("z")
    extra = [z**2 + 3 * z, sympy.exp(z / 2) * z, sympy.log(z**2 + 1), z ** sympy.Rational(1, 2), 1 / (z - z),
             sympy.log(-z**2 - 1), sympy.pi * z, sympy.Symbol("nonesuch") * z]
    parts = _parts(expressions) + extra
    cases = [c for D in (1, 2, "any") for c in gaussian.instances(D, 3, 0)]
    points = [Rational(0), Rational(-3, 2), Rational(1000), discrete._iv(Rational(1, 3)),
              gaussian.hermite_rule(gaussian.NODES, discrete.PREC)[3][0]]
    compared = 0
    for inst in cases:
        for at in [None, *points] if not inst.vector else [None, tuple(points[j % len(points)] for j in range(inst.D))]:
            for e in rng.sample(parts, min(len(parts), 50)) + extra:
                fresh = _fresh([inst])[0]
                fast = _outcome(gaussian.evaluate, e, fresh, at)
                again = _outcome(gaussian.evaluate, e, fresh, at)  # from the memo the first call filled
                with monkeypatch.context() as plain:
                    plain.setattr(gaussian, "evaluate", gaussian._plain_evaluate)
                    fresh = _fresh([inst])[0]
                    assert _outcome(gaussian.evaluate, e, fresh, at) == fast, (e, inst.name, at)
                    assert _outcome(gaussian.evaluate, e, fresh, at) == again, (e, inst.name, at)
                compared += 1
    assert compared > 500


def test_remembered_points_are_made_by_the_plain_operations_and_counted_the_same():
    """The quadrature points of N(mean, variance), remembered, are the plain product-and-sum points, and
    an expectation counts the same work whether its points were made or found (precisions too)."""
    rng = random.Random(3)
    for bits in (discrete.PREC, *discrete.RETRY_PRECISIONS):
        gaussian._POINTS.clear()
        with discrete._precision(bits):
            for _ in range(40):
                mean = Rational(rng.randint(-3000, 3000), rng.randint(1, 40))
                if rng.random() < 0.3:
                    mean = discrete._iv(mean)
                variance = Rational(rng.randint(1, 5000), rng.randint(1, 1000))
                scale = mpi_sqrt(discrete._iv(variance), bits)
                plain = [discrete._sum((mean, discrete._product((scale, node))))
                         for node, _ in gaussian.hermite_rule(gaussian.NODES, bits)]
                assert [point for point, _ in gaussian._points(mean, variance)] == plain
                for (_, rounded), (_, weight) in zip(gaussian._points(mean, variance),
                                                     gaussian.hermite_rule(gaussian.NODES, bits)):
                    for value in (mean, discrete._iv(variance), Rational(-7, 3), Rational(0), plain[0]):
                        assert discrete._product((rounded, value)) == discrete._product((weight, value))
                counts = []
                for expect in (_plain_expect, gaussian._expect, gaussian._expect):  # made, then found
                    with discrete.work_limit(10**9, "test"):
                        value = expect(None, mean, variance, lambda t: discrete._product((t, t)))
                        counts.append((value, discrete.work_spent()))
                assert counts[0] == counts[1] == counts[2]


def test_the_pointwise_functions_nodes_are_taken_by_no_earlier_branch():
    """`_pointwise` turns exp and log of a number into their arithmetic directly: right only while no
    class `_evaluate` checks before its log and exp branches is one of theirs."""
    from elbo_sym.engine.notation import ELBO, IWAE, KL, Density, DimensionSum, Entropy, Expectation, LatentSum, Normal

    earlier = (DimensionSum, Density, Normal, Expectation, KL, Entropy, ELBO, LatentSum, IWAE, sympy.Symbol,
               sympy.Rational, sympy.Add, sympy.Mul, sympy.Pow)
    for kind in (sympy.log, sympy.exp):
        assert not issubclass(kind, earlier)
        assert not any(issubclass(other, kind) for other in earlier)


GAUSSIAN_LAYER_FILES = sorted(p for p in (ROOT / "derivations" / "literature").glob("*.toml")
                              if 'model = "gaussian"' in p.read_text() and "latents" in p.read_text())


def _chain_run(derivation, cases, limit: int = 4) -> list:
    """`_run` for the Gaussian layers' judge (fresh instances, the memos of a step kept for the next)."""
    out = []
    lhs = derivation.start.expr
    for step in derivation.steps:
        with discrete.work_limit(10**12, "test"):
            try:
                judgement = gaussian_chain.judge(lhs, step.rel, step.expr, cases[:limit], stop_at_first=False)
                got = [(o.lhs, o.rhs, o.holds, o.reason) for o in judgement.outcomes]
            except discrete.JudgeError as error:
                got = [f"JudgeError: {error}"]
            out.append((got, discrete.work_spent()))
        lhs = step.expr
    return out


def _fresh_chain(cases: list) -> list:
    reference.forget()
    gaussian_chain._EVALUATIONS.clear()
    return [gaussian_chain.ChainInstance(c.name, c.values, c.T) for c in cases]


@pytest.mark.parametrize("path", GAUSSIAN_LAYER_FILES, ids=lambda p: p.stem)
def test_every_gaussian_layers_file_is_judged_as_the_plain_evaluation_judges_it(path, monkeypatch):
    derivation = load(path)
    model = derivation.model()
    family, found, _ = reference.cases(model.spec, model.K)
    assert family == "gaussian_chain" and found
    fast = _chain_run(derivation, _fresh_chain(found))
    with monkeypatch.context() as plain:
        plain.setattr(gaussian_chain, "evaluate", gaussian_chain._plain_evaluate)
        slow = _chain_run(derivation, _fresh_chain(found))
    assert fast == slow
    assert any(work for _, work in fast)


def test_every_part_of_the_gaussian_layers_files_is_its_plain_value(monkeypatch):
    """Each part of every expression of the Gaussian layers' files, and a few it refuses, with the layers
    at values: the same value or error and the same work as the plain evaluation."""
    expressions = []
    for path in GAUSSIAN_LAYER_FILES:
        derivation = load(path)
        expressions += [derivation.start.expr, *(step.expr for step in derivation.steps)]
    z1, z2 = sympy.Symbol("z1"), sympy.Symbol("z2")
    extra = [z1**2 + 3 * z2, sympy.exp(z1 / 2) * z2, sympy.log(z1**2 + 1), z1 ** sympy.Rational(1, 2), sympy.pi * z1,
             sympy.log(-z1**2 - 1), 1 / (z1 - z1), sympy.Symbol("nonesuch") * z1, sympy.Dummy("d") + 1]
    parts = _parts(expressions) + extra
    compared = 0
    for T in (2, 3):
        for inst in gaussian_chain.instances(T, 2, 0):
            at = {"x": inst.value("x"), **{f"z{t}": inst.value(f"z{t}") for t in range(1, T + 1)}}
            for e in parts:
                fresh = _fresh_chain([inst])[0]
                fast = _outcome(gaussian_chain.evaluate, e, fresh, at)
                with monkeypatch.context() as plain:
                    plain.setattr(gaussian_chain, "evaluate", gaussian_chain._plain_evaluate)
                    assert _outcome(gaussian_chain.evaluate, e, _fresh_chain([inst])[0], at) == fast, (e, inst.name)
                compared += 1
    assert compared > 200


def test_remembered_coordinates_are_the_ones_computed_afresh():
    """A diagonal Gaussian's (mean, variance) per coordinate, remembered per instance, is what computing it
    afresh gives, counting no work; a distribution that has none is an error each time."""
    from elbo_sym.engine.notation import Density, Normal, x, z

    for inst in [c for D in (2, 3, "any") for c in gaussian.instances(D, 5, 1)]:
        for d in (Density("q", (z,)), Density("p", (z,)), Density("q", (z,), (x,))):
            fresh = gaussian._coordinates_of(d, gaussian.GaussianInstance(inst.name, inst.values, inst.D))
            with discrete.work_limit(10**9, "test"):
                assert gaussian._coordinates(d, inst) == tuple(fresh)
                assert gaussian._coordinates(d, inst) == tuple(fresh)
                assert discrete.work_spent() == 0
        for d in (Density("p", (z,), (x,)), Normal(0, 1)):
            for _ in range(2):
                with pytest.raises(discrete.JudgeError):
                    gaussian._coordinates(d, inst)

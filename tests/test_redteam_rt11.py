"""Red team rt11 (session 12): `limit(...)` when q depends on the limit's variable.

With ``assume = "q(z) = alpha * p(z) + (1 - alpha) * p(z | x)"`` the Renyi bound
1/(1 - alpha) log E_q[(p(x, z)/q(z))**(1 - alpha)] tends, as alpha -> 1, to the ELBO of q at
alpha = 1 (here p(z)), not to ELBO(q) at the file's alpha.  The engine took the limit by Li and
Turner's theorem with alpha still free in q: the false step was `proved` (K = 2 and K = "any"), a
teaching file's true step was "refuted" with a false repair checked, a claim naming the limit was
established without the chain taking it, and the second opinion agreed (it moved alpha in the
bound but not in q).  Now a limit whose q moves with its variable has no certified value
(models.base.limit_moves, read by every family's limit_of and by the rules), and the second
opinion moves an assumed q with the parameter.  Each false step is confirmed false here by mpmath.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from sympy import S, Symbol

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models.base import ModelSpec, limit_moves
from elbo_sym.engine.notation import IWAE, Limit, to_text
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.engine.reference import discrete as judge
from elbo_sym.engine.reference import second_opinion
from elbo_sym.engine.rules import RULES
from elbo_sym.report.build import check_file

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
MOVES = "makes q(z) depend on alpha, the limit's variable"
PRIOR, LIKELIHOOD = (Fraction(3, 4), Fraction(1, 4)), (Fraction(1, 5), Fraction(3, 5))  # the file's instance


def mixture(alpha):
    """q_alpha = alpha p(z) + (1 - alpha) p(z | x) at PRIOR, LIKELIHOOD."""
    evidence = sum(a * b for a, b in zip(PRIOR, LIKELIHOOD))
    return [alpha * a + (1 - alpha) * a * b / evidence for a, b in zip(PRIOR, LIKELIHOOD)]


def real(v: Fraction):
    return mpmath.mpf(v.numerator) / v.denominator


def renyi(q, alpha):
    s = 1 - alpha
    return mpmath.log(sum(real(w) * real(a * b / w) ** s for w, a, b in zip(q, PRIOR, LIKELIHOOD))) / s


def elbo(q):
    return sum(real(w) * mpmath.log(real(a * b / w)) for w, a, b in zip(q, PRIOR, LIKELIHOOD))


def test_the_steps_the_engine_proved_are_false():
    with mpmath.workdps(120):  # 1/s log(...) at s = 1e-40 loses 40 of them
        near = [renyi(mixture(1 - Fraction(1, 10**n)), 1 - mpmath.mpf(10) ** -n) for n in (30, 40)]
        assert abs(near[0] - near[1]) < mpmath.mpf(10) ** -25  # converged, to ELBO(q at alpha = 1) = ELBO(p(z))
        assert abs(near[1] - elbo(PRIOR)) < mpmath.mpf(10) ** -35
        assert abs(near[1] - elbo(mixture(Fraction(1, 2)))) > mpmath.mpf(1) / 20  # not ELBO(q) at alpha = 1/2


@pytest.mark.parametrize("name", ["rt11_renyi_q_moves.toml", "rt11_renyi_q_moves_any.toml",
                                  "rt11_renyi_softmax_path.toml", "rt11_renyi_q_moves_at_0.toml"])
def test_a_limit_whose_q_moves_with_its_variable_is_never_proved(name):
    """Refused, not refuted: the first three are false; the alpha -> 0 one is true (q_0 = p(z | x) > 0,
    so the limit is log p(x); red team rt13 confirmed it to 19 digits) but no certified rule covers a
    moving q, so it ends `error` too -- conservative, never a false proof."""
    report = check_file(REDTEAM / name)
    step = report.steps[0]
    assert step.verdict == "error", (step.verdict, step.reason)
    assert "has no certified value" in step.reason and MOVES in step.reason, step.reason
    assert not report.ok


@pytest.mark.parametrize("name", ["rt11_renyi_q_moves.toml", "rt11_renyi_q_moves_any.toml"])
def test_the_rules_refuse_it_themselves_and_say_why(name):
    derivation = load(REDTEAM / name)
    outcome = RULES["renyi-limit"](derivation.start.expr, "=", derivation.steps[0].expr, derivation.model())
    assert not outcome.proved
    failed = [text for text, held in outcome.conditions if not held]
    assert failed[0].startswith("q(z) stays fixed as alpha -> 1: ") and MOVES in failed[0], failed
    assert [text.split(",")[0] for text in failed[1:]] == ["the other side is the limit"], failed  # no value
    held = [text for text, ok in outcome.conditions if ok]
    assert "alpha tends to 1 (the theorem's points are 1 and 0), from inside its domain" in held, held
    if derivation.spec.K == "any":  # alpha's domain (0, 1) still lets the limit pass under the integral
        assert any(text.startswith("alpha stays in [0, 1)") for text in held), held


def test_a_q_of_another_observation_that_moves_does_not_matter():
    """The refusal is about the q the limit averages over: x2's q moves with alpha, x1's does not."""
    report = check_file(REDTEAM / "rt11_other_q_moves.toml")
    assert report.steps[0].verdict == "proved", report.steps[0].reason
    assert report.ok


K_SAMPLES = Symbol("k", integer=True, positive=True)
MOVING_WITH_K = parse_expression("alpha * p(z) + (1 - alpha) * p(z | x)", Vocabulary(params=("alpha",))).subs(
    Symbol("alpha", real=True), 1 / K_SAMPLES)  # q_k = p(z) / k + (1 - 1/k) p(z | x)


def test_an_iwae_limit_whose_q_is_written_with_k_has_no_theorem():
    """The loader refuses k outside IWAE's count, so this is the rule's own guard (a built node)."""
    written = Limit(IWAE(MOVING_WITH_K, K_SAMPLES, Symbol("x")), K_SAMPLES, S.Infinity)
    assert "depends on k, the limit's variable" in limit_moves(written, ModelSpec())
    fixed = Limit(IWAE(parse_expression("q(z)"), K_SAMPLES, Symbol("x")), K_SAMPLES, S.Infinity)
    assert limit_moves(fixed, ModelSpec()) is None


def test_a_teaching_files_true_step_is_not_refuted_nor_its_false_repair_checked():
    report = check_file(REDTEAM / "rt11_teaching_true_mistake.toml")
    step = report.steps[0]
    assert step.verdict != "refuted" and step.counterexample is None, (step.verdict, step.reason)
    assert not report.ok
    derivation = load(REDTEAM / "rt11_teaching_true_mistake.toml")
    repaired = derivation.steps[0].repair
    assert repaired is not None
    assert not RULES["renyi-limit"](derivation.start.expr, "=", repaired.expr, derivation.model()).proved


def test_a_claim_naming_the_limit_is_not_established_through_the_comparison():
    result = check_derivation(load(REDTEAM / "rt11_claim_names_the_limit.toml"), budget=10.0)
    assert result.steps[0].verdict is Verdict.proved  # ELBO(q) = log p(x) - KL: true
    assert not result.established and not result.ok
    assert MOVES in result.claim_reason, result.claim_reason


def test_the_second_opinion_moves_an_assumed_q_with_the_limits_parameter():
    derivation = load(REDTEAM / "rt11_renyi_q_moves.toml")
    start, spec = derivation.start.expr, derivation.spec
    false = second_opinion(start, "=", derivation.steps[0].expr, spec, spec.K)
    assert false.disagrees, false.describe()
    true = second_opinion(start, "=", parse_expression("E(p(z), log(p(x | z)))"), spec, spec.K)  # ELBO(p(z))
    assert true.status == "agrees", true.describe()


def test_the_second_opinion_takes_no_iwae_limit_whose_q_moves_with_k():
    inst = judge.Instance("t", (Fraction(3, 4), Fraction(1, 4)), (Fraction(1, 5), Fraction(3, 5)), None,
                          params=(("k", Fraction(2)),))
    (fixed,), _ = judge.with_assumptions([inst], [("x", MOVING_WITH_K)])
    limit = Limit(IWAE(parse_expression("q(z)"), K_SAMPLES, Symbol("x")), K_SAMPLES, S.Infinity)
    with pytest.raises(judge.JudgeError, match="q moves with k"):
        judge.evaluate(limit, fixed)
    (steady,), _ = judge.with_assumptions([inst], [("x", parse_expression("p(z) / 2 + p(z | x) / 2"))])
    judge.evaluate(limit, steady)  # a fixed q: log p(x), confirmed by Burda's bound


def test_a_limit_prints_with_str_and_repr():
    expr = load(REDTEAM / "rt11_renyi_q_moves.toml").start.expr
    assert str(expr).startswith("limit(") and str(expr).endswith(", alpha, 1)")
    assert repr(expr) == str(expr)
    assert to_text(expr) == "limit(1/(1 - alpha)*log(E(q, (p(x, z)/q(z))**(1 - alpha))), alpha, 1)"


@pytest.mark.full
def test_a_gaussian_log_argument_that_fails_shows_its_value():
    step = check_file(REDTEAM / "rt11_gaussian_log_argument_value.toml").steps[0]
    assert step.verdict == "refuted"
    found = re.search(r"log of a non-positive value: 2 - p\(x \| z\) \(≈ (\S+)\)", step.reason)
    assert found, step.reason
    values = dict(step.counterexample.values)
    w, b, s, x, z = (mpmath.mpf(Fraction(values[n][0]).numerator) / Fraction(values[n][0]).denominator
                     for n in ("w", "b", "s", "x", "z"))
    density = mpmath.exp(-(x - w * z - b) ** 2 / (2 * s ** 2)) / mpmath.sqrt(2 * mpmath.pi * s ** 2)
    shown = mpmath.mpf(found.group(1))
    assert shown < 0 and abs(shown - (2 - density)) <= abs(shown) * mpmath.mpf(10) ** -5

"""Only the "no instance satisfies the premises" problem is answered by a counterexample (red team rt33 F0).

A counterexample is an instance where every premise holds, so it shows premises satisfiable and withdraws
that one problem.  A premise not shown defined (``log(t) >= 0`` with t any real) is another problem: a
teaching file's deliberate slip, refuted, must not clear it -- the file used to pass, exit 0, and its
sheet printed the undefined premise.  And a step under refused premises says the premises are refused,
not "the assumption" (F4).
"""

from __future__ import annotations

from elbo_sym.engine.check import NO_PREMISE_INSTANCE, Verdict, check_derivation
from elbo_sym.engine.derivation import loads

_UNDEFINED_PREMISE = """
title = "find the mistake, premise not shown defined"
model = "gaussian"
{expect}
assume = ["log(t) >= 0"]
claim = "mu**2 + mu = mu*(mu + 1)"
start = "mu**2 + mu"
[params]
t = "real"
[[step]]
rel = "="
expr = "{expr}"
{repair}
rule = "algebra"
"""


def _result(expr: str, teaching: bool):
    text = _UNDEFINED_PREMISE.format(
        expect="expect_refuted = [1]" if teaching else "", expr=expr,
        repair='repair = "mu*(mu + 1)"' if teaching else "")
    return check_derivation(loads(text, "t.toml"), budget=30)


def test_a_slips_counterexample_does_not_clear_an_undefined_premise() -> None:
    result = _result("mu*(mu + 2)", teaching=True)
    assert any("not shown to be defined" in p for p in result.problems), result.problems
    assert not result.ok


def test_the_same_chain_without_the_slip_fails_on_the_premise_too() -> None:
    result = _result("mu*(mu + 1)", teaching=False)
    (step,) = result.steps
    assert step.verdict is Verdict.error and "the premises are refused" in step.reason, step.reason
    assert any("not shown to be defined" in p for p in result.problems)
    assert not any(p.startswith(NO_PREMISE_INSTANCE) for p in result.problems)


def test_premises_no_model_satisfies_are_named_as_premises() -> None:
    text = """
title = "t"
model = "gaussian"
assume = ["beta**2 <= -1"]
start = "mu**2 + mu"
[params]
beta = "real"
[[step]]
rel = "="
expr = "mu*(mu + 1)"
rule = "algebra"
"""
    result = check_derivation(loads(text, "t.toml"), budget=30)
    (step,) = result.steps
    assert step.verdict is Verdict.error, step.verdict
    assert "the premises are refused" in step.reason and "the assumption" not in step.reason, step.reason
    assert any(p.startswith(NO_PREMISE_INSTANCE) for p in result.problems), result.problems

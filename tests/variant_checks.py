"""Checking a variant of a derivation written in a test, in one place: the text as a file named
variant.toml under the usual step budget, and a refuted step's exact counterexample."""

from __future__ import annotations

from elbo_sym.engine.check import DerivationResult, Verdict, check_derivation
from elbo_sym.engine.derivation import loads


def check_text(text: str, budget: float = 10.0, name: str = "variant.toml") -> DerivationResult:
    return check_derivation(loads(text, name), budget=budget)


def refuted(text: str, index: int = 1):
    """Step `index` (from 1) is refuted, so the file fails; its counterexample, a model (no problem)."""
    result = check_text(text)
    step = result.steps[index - 1]
    assert step.verdict is Verdict.refuted and not result.ok, (step.verdict, step.reason)
    c = step.counterexample
    assert c is not None and c.problem is None
    return c

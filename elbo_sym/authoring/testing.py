"""Derivations in tests: `assert_derivation(path)` and the readable failure report.

    from elbo_sym.authoring.testing import assert_derivation

    def test_gap_identity():
        assert_derivation("derivations/gap.toml")

A derivation that does not hold raises :class:`DerivationFailed` (an ``AssertionError``)
whose message is the same report the pytest plugin prints: file:line, the failing step's
relation with both sides, the rule, the verdict, the counterexample and the suggested
repair.  A malformed file raises :class:`elbo_sym.engine.derivation.DerivationError`.
"""

from __future__ import annotations

from pathlib import Path

from elbo_sym.limits import STEP_BUDGET_SECONDS, BudgetError, validate_budget  # noqa: F401

DEFAULT_BUDGET = STEP_BUDGET_SECONDS


class DerivationFailed(AssertionError):
    """A derivation that does not hold; `result` is the full DerivationResult."""

    def __init__(self, result):
        super().__init__(format_failure(result))
        self.result = result


def check_file(path, budget: float = DEFAULT_BUDGET):
    """Load and check one derivation (a path, or an already loaded Derivation).

    `budget`: seconds per step, finite and > 0 (else :class:`BudgetError`, a ValueError).
    """
    budget = validate_budget(budget)
    from elbo_sym.authoring.repair import check_with_suggestions
    from elbo_sym.engine.derivation import Derivation, load

    derivation = path if isinstance(path, Derivation) else load(Path(path))
    return check_with_suggestions(derivation, budget=budget)


def assert_derivation(path, budget: float = DEFAULT_BUDGET):
    """Check a derivation file; raise DerivationFailed with a readable report unless it holds.

    Returns the DerivationResult when every step is proved or checked, the examples hold
    and the chain establishes its claim.
    """
    result = check_file(path, validate_budget(budget))
    if not result.ok:
        raise DerivationFailed(result)
    return result


_MARK = {"proved": "✓", "checked": "~", "refuted": "✗", "error": "!"}


def format_failure(result) -> str:
    """Why a derivation fails, like a good assertion message (plain text, no colours)."""
    d = result.derivation
    failing = [r for r in result.steps if r.verdict.value not in ("proved", "checked")]
    lines: list[str] = []
    if failing:
        first = failing[0]
        lines.append(f"{d.path}:{first.step.line}: step {first.step.index} is {first.verdict.value} "
                     f"— {d.title}")
    else:
        lines.append(f"{d.path}: {d.title}: {result.claim_reason}")
    for n, r in enumerate(failing):
        if n:
            lines += ["", f"{d.path}:{r.step.line}: step {r.step.index} is {r.verdict.value}"]
        lines += _step_report(d, r)
    failed_examples = [e for e in result.examples if not e.holds]
    for e in failed_examples:
        lines += ["", f"{d.path}:{e.example.line}: example {e.example.index} does not hold"]
        lines += [f"    {failure}" for failure in e.failures]
    for problem in result.problems:
        lines += ["", f"problem: {problem}"]
    if not result.established:
        lines += ["", f"claim NOT established: {result.claim_reason}"]
        if d.claim is not None:
            lines.append(f"    claim: {d.claim.lhs.text} {d.claim.rel} {d.claim.rhs.text}")
    lines += ["", "chain:", f"      {d.start.text}"]
    for r in result.steps:
        lines.append(f"  {r.step.rel:>2}  {r.step.formula.text}    {_MARK[r.verdict.value]} {r.verdict.value} "
                     f"[{r.step.rule}] (line {r.step.line})")
    return "\n".join(lines)


def _step_report(d, r) -> list[str]:
    from elbo_sym.engine.rules import RULE_HELP

    step = r.step
    lhs = d.start if step.index == 1 else d.steps[step.index - 2].formula
    lines = [f"      {lhs.text}",
             f"  {step.rel:>2}  {step.formula.text}",
             f"    rule:     {step.rule} — {RULE_HELP.get(step.rule, '')}"]
    if step.why:
        lines.append(f"    why:      {step.why}")
    lines.append(f"    verdict:  {r.verdict.value} — {r.reason}")
    if r.outcome is not None:
        for condition, held in r.outcome.conditions:
            if not held:
                lines.append(f"    failed condition: {condition}")
    if r.counterexample is not None:
        lines += ["    " + line for line in r.counterexample.report_lines()]
    suggestion = getattr(r, "suggestion", None)
    if suggestion is not None:
        lines.append(f"    suggestion: {suggestion.describe()}")
    if r.verdict.value == "refuted":
        lines.append(f"    (more: elbo-sym explain {d.path} --step {step.index})")
    return lines


__all__ = ["assert_derivation", "check_file", "format_failure", "DerivationFailed"]

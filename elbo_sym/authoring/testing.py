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


from elbo_sym.limits import STEP_BUDGET_SECONDS, BudgetError, validate_budget  # noqa: F401

DEFAULT_BUDGET = STEP_BUDGET_SECONDS


class DerivationFailed(AssertionError):
    """A derivation that does not pass; `report` is its full DerivationReport."""

    def __init__(self, report):
        from elbo_sym.report.text import failure_text

        super().__init__(failure_text(report))
        self.report = report


def check_file(path, budget: float = DEFAULT_BUDGET):
    """Check one derivation (a path, or an already loaded Derivation): its DerivationReport.

    `budget`: seconds per step, finite and > 0 (else :class:`BudgetError`, a ValueError).
    A malformed file raises DerivationError (file, line, column, message).
    """
    from elbo_sym.report.build import check_file as check

    return check(path, validate_budget(budget))


def assert_derivation(path, budget: float = DEFAULT_BUDGET):
    """Check a derivation file; raise DerivationFailed with a readable report unless it passes.

    Returns the DerivationReport when every step is proved (or checked and accepted), the
    examples hold and the chain establishes its claim.
    """
    report = check_file(path, validate_budget(budget))
    if not report.ok:
        raise DerivationFailed(report)
    return report


def format_failure(report) -> str:
    """Why a derivation does not pass (elbo_sym.report.text.failure_text)."""
    from elbo_sym.report.text import failure_text

    return failure_text(report)


__all__ = ["assert_derivation", "check_file", "format_failure", "DerivationFailed"]

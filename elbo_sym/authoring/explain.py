"""`elbo-sym explain FILE --step N`: how one step was decided, in the order the checker works.

1. the two sides, as written (the previous expression and the step's expression);
2. both sides *unfolded* into the model's parameters, named as the family describes them
   (`Model.describe_unfolding`: pi_k = p(z=k), ... in the discrete family); one line per value of z
   when z is free;
3. the *canonical form* each side reaches (the family's constraints substituted, logs split into
   log atoms), and the residual left - right when they differ;
4. the rule, its side conditions and whether each held;
5. the verdict, the counterexample and the repair suggestion, exactly as `check` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.derivation import Derivation, Formula
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import EXPLAIN_LINE_WIDTH, STEP_BUDGET_SECONDS, validate_budget
from elbo_sym.report.build import counterexample_report, report_of
from elbo_sym.report.model import DerivationReport

if TYPE_CHECKING:
    from elbo_sym.engine.check import DerivationResult, StepResult

TOO_LARGE = "(too large to show within the budget)"
"""The note shown when unfolding or reducing the sides for display does not finish."""


@dataclass(frozen=True)
class SidePair:
    """One value of a free z (or the whole expression): the unfolded and canonical sides."""

    z: int | None
    left: str
    right: str
    left_canonical: str
    right_canonical: str
    residual: str
    residual_zero: bool


@dataclass(frozen=True)
class Explanation:
    """What `elbo-sym explain` shows of one step: both sides unfolded, pair by pair."""

    derivation: Derivation
    index: int
    lhs: Formula
    pairs: tuple[SidePair, ...]
    canonical_note: str
    result: StepResult
    rule_help: str
    file_result: DerivationResult | None = None  # the exit status follows it
    notice: str = ""  # shown first, e.g. why this step was chosen when none was asked for

    @property
    def file_report(self) -> DerivationReport | None:
        return report_of(self.file_result) if self.file_result is not None else None

    @property
    def ok(self) -> bool:
        """The whole file passes (the same rule as `check`, teaching files included), not only
        the step shown."""
        report = self.file_report
        return bool(report is not None and report.ok)

    @property
    def step(self):
        return self.derivation.steps[self.index - 1]


def first_unproved(result) -> int:
    """The first step that is not `proved` (1 when every step is)."""
    for r in result.steps:
        if r.verdict.value != "proved":
            return r.step.index
    return 1


def explain(derivation: Derivation, index: int | None = None, budget: float = STEP_BUDGET_SECONDS,
            result=None) -> Explanation:
    """Explain step `index` (1-based; default: the first step that is not proved, or step 1
    with a `notice` saying so when every step is proved).

    `budget`: seconds per step, finite and > 0 (else BudgetError, a ValueError).
    """
    budget = validate_budget(budget)
    from elbo_sym.engine.canonical import TooLarge, canonical
    from elbo_sym.engine.models.discrete import UnfoldError
    from elbo_sym.engine.repair import check_with_suggestions
    from elbo_sym.engine.rules import RULE_HELP

    if result is None:
        result = check_with_suggestions(derivation, budget=budget)
    notice = ""
    if index is None:
        index = first_unproved(result)
        if all(r.verdict.value == "proved" for r in result.steps):
            notice = (f"every step is proved; showing step {index} of {len(derivation.steps)} "
                      f"(use --step N for another)")
    if not 1 <= index <= len(derivation.steps):
        raise IndexError(f"step {index} does not exist: {derivation.path} has steps 1 to {len(derivation.steps)}")
    step = derivation.steps[index - 1]
    lhs = derivation.start if index == 1 else derivation.steps[index - 2].formula
    model = derivation.model()
    pairs: list[SidePair] = []
    note = ""
    # the display work (unfolding, canonical forms, printing) is bounded like a step, and
    # whatever goes wrong in it is a note in the explanation, never a traceback
    try:
        with budgets.limit(budget, TOO_LARGE):
            lefts, rights = model.unfold_pointwise(lhs.expr), model.unfold_pointwise(step.expr)
            if len(lefts) != len(rights):
                lefts = lefts * (len(rights) if len(lefts) == 1 else 1)
                rights = rights * (len(lefts) if len(rights) == 1 else 1)
            pointwise = len(lefts) > 1
            for k, (left, right) in enumerate(zip(lefts, rights)):
                try:
                    a, b = canonical(left, model), canonical(right, model)
                    d = canonical(left - right, model)
                    texts = (_show(a.as_expr()), _show(b.as_expr()), _show(d.as_expr()), d.is_zero)
                except (TooLarge, ValueError, ZeroDivisionError) as error:
                    reraise_callers(error)
                    texts = ("(too large to reduce)", "(too large to reduce)", f"({error})", False)
                pairs.append(SidePair(k if pointwise else None, _show(_without_log_one(left)),
                                      _show(_without_log_one(right)), *texts))
    except UnfoldError as error:
        note = f"cannot unfold: {error}"
    except (BudgetExceeded, MemoryError, RecursionError, Exception) as raised:  # noqa: BLE001 - see above
        reraise_callers(raised)
        _clear_sympy_cache()
        note = TOO_LARGE
    return Explanation(derivation, index, lhs, tuple(pairs), note, result.steps[index - 1],
                       RULE_HELP.get(step.rule, ""), result, notice)


def _clear_sympy_cache() -> None:
    from sympy.core.cache import clear_cache  # an interrupted SymPy call can leave it half-filled

    clear_cache()


def _without_log_one(e):
    """`e` with every log(1) (an unfolding's q/p where an assumption makes them equal) as the 0
    it is, so the unfolded sides read "log(p_x)", not "-log(1) + log(p_x)"; the rest as it was."""
    from sympy import Integer, log

    ones = {a: Integer(0) for a in e.atoms(log) if a.args[0] == 1}
    return e.xreplace(ones) if ones else e


def _show(e) -> str:
    from sympy import sstr

    return sstr(e, order="none")


_MARK = {True: "✓", False: "✗"}


def format_explanation(e: Explanation) -> str:
    """The explanation as terminal text."""
    d, step, r = e.derivation, e.step, e.result
    model = d.model()
    lines = [f"note: {e.notice}", ""] if e.notice else []
    lines += [f"{d.path}:{step.line}: step {e.index} of {len(d.steps)} — {d.title}",
              "",
              "the step, as written:",
              f"      {e.lhs.text}        (line {e.lhs.line}: {'start' if e.index == 1 else f'step {e.index - 1}'})",
              f"  {step.rel:>2}  {step.formula.text}        (line {step.line})",
              f"  rule: {step.rule} — {e.rule_help}"]
    if step.why:
        lines.append(f"  why:  {step.why}")
    words = model.describe_unfolding()  # each family names its own parameters and reductions
    lines += ["", words.unfolded]
    if e.canonical_note:
        lines.append(f"  {e.canonical_note}")
    for pair in e.pairs:
        at = f" at z = {pair.z}" if pair.z is not None else ""
        lines += [f"  left{at}  = {pair.left}", f"  right{at} = {pair.right}"]
    lines += ["", words.canonical]
    for pair in e.pairs:
        at = f" at z = {pair.z}" if pair.z is not None else ""
        lines += [f"  left{at}  -> {pair.left_canonical}", f"  right{at} -> {pair.right_canonical}"]
        if pair.residual_zero:
            lines.append(f"  residual left - right{at} -> 0   (the same canonical form: the sides are equal)")
        else:
            lines.append(f"  residual left - right{at} -> {pair.residual}   (not identically 0)")
    lines += ["", f"rule {step.rule}:"]
    outcome = r.outcome
    if outcome is not None:
        lines.append(f"  {'proves the step' if outcome.proved else 'does not prove the step'}: {outcome.reason}")
        for condition, held in outcome.conditions:
            lines.append(f"    {_MARK[held]} {condition}: {'held' if held else 'FAILED'}")
        if not outcome.conditions:
            lines.append("    (no side condition was reached)")
    else:
        lines.append("  (the rule did not finish)")
    lines += ["", f"verdict: {r.verdict.value} — {r.reason}"]
    if r.verdict.value == "checked":
        lines.append(f"  held on {r.instances} exact instance(s); this is evidence, not a proof")
    shown = counterexample_report(r.counterexample, e.derivation.vocabulary)  # None without a counterexample
    if shown is not None:
        lines += shown.lines(width=EXPLAIN_LINE_WIDTH)
    suggestion = getattr(r, "suggestion", None)
    if suggestion is not None:
        label = "repair (the file's, checked)" if suggestion.authored else "suggestion"
        lines.append(f"{label}: {suggestion.describe()}")
    elif r.verdict.value == "refuted":
        lines.append("suggestion: none of the common repairs (sign, q/p or KL swap, prior/posterior, "
                     "p(x | z)/p(z | x), a term too many or too few, relation) proves it")
    whole = e.file_report
    if whole is not None:
        lines.append("")
        if whole.ok and whole.expect == "refuted":
            lines.append("the whole file passes: a teaching file, exactly its marked steps are refuted")
        elif whole.ok:
            lines.append(f"the whole file passes: {whole.claim_reason}")
        else:
            lines.append("the whole file does not pass (exit 1): " + "; ".join(whole.failure_reasons))
    return "\n".join(lines) + "\n"


__all__ = ["Explanation", "SidePair", "TOO_LARGE", "explain", "format_explanation", "first_unproved"]

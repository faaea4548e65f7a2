"""Helpful failures: when a step is refuted, try the common slips and re-check.

The repairs are the mistakes students and authors actually make in this lesson:

* a sign: negate the step's expression or one of its terms, or turn a log's fraction over
  (``log(p/q)`` for ``log(q/p)``);
* q and p swapped: the two arguments of ``KL``; ``q(z)`` written for ``p(z)`` or
  ``p(z | x)`` (one occurrence, or all of them);
* the posterior and the prior confused: ``p(z | x)`` <-> ``p(z)``;
* a conditional turned round: ``p(x | z)`` <-> ``p(z | x)``;
* a term too many or too few: drop a top-level term, or add one that the neighbouring
  expressions (the previous and next step, the claim) or the lesson's standard quantities
  have -- also inside a bracketed sum, a closed form's constant included (``- 1``);
* an expectation left out: ``log(p(x | z))`` for ``E(q, log(p(x | z)))`` (a term, or the whole
  expression, with a latent free);
* an average written as a sum: ``A(x1) + A(x2)`` for ``(A(x1) + A(x2)) / 2`` (alike terms: a
  dataset's, IWAE's importance weights), ``Sum(f, (i, 1, N))`` for ``Sum(f, (i, 1, N)) / N``;
* the relation: ``>=`` <-> ``<=`` (and ``>`` <-> ``<``), a strict inequality for a
  non-strict one, or ``=`` where the step is really an inequality by ``jensen`` or
  ``kl-nonneg``.

For an ``=`` step every repair that keeps ``=`` ranks before weakening the step to an
inequality: "the step is an inequality by kl-nonneg" is true of a sign slip in
``E(q, log(p(x | z))) + KL(q(z), p(z))``, but it is not the mistake.

Edits are made on the author's *text* (positions from Python's ``ast``), so the
suggestion shows exactly what to type.  Every candidate is re-parsed and re-checked by
the same rules and checker as the original step; only a candidate whose verdict is
``proved`` is ever suggested, and the smallest such edit wins.  A suggestion is a
suggestion: it is labelled as one and never changes any verdict.  What a repair does is
kept as words and the formulas it names (:class:`Named`); a suggestion carries each formula
parsed with the file's names, as the checker parses the step, so that every renderer prints it
through the one printer and none re-parses a sentence.

A teaching file may state its intended correction, ``repair = "..."`` on the wrong step
(:func:`check_authored_repairs`): it is checked like any candidate -- the repaired step
must be proved, and the chain with it must establish the claim -- and a repair that does
not is a problem that fails the file.  A refuted step's counterexample is, where one of
the file's own ``[[example]]`` tables refutes the step, that example (any K).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeGuard

from sympy import Expr
from sympy.core.cache import clear_cache

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.check import (  # noqa: F401  (Suggestion: re-exported)
    Counterexample,
    DerivationResult,
    StepResult,
    Suggestion,
    Verdict,
    check_derivation,
)
from elbo_sym.engine.derivation import Derivation, Example, Formula, Step
from elbo_sym.engine.models.base import Model
from elbo_sym.engine.notation import to_latex
from elbo_sym.engine.parse import Vocabulary
from elbo_sym.engine.rules import FLIPPED
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import STEP_BUDGET_SECONDS, own_budget, validate_budget

SEARCH_BUDGET_SECONDS = 5.0
"""CPU-time limit for the whole repair search of one step."""
CANDIDATE_BUDGET_SECONDS = 2.0
"""Time budget for checking one candidate."""
MAX_CANDIDATES = 120
"""At most this many candidate edits are tried per step."""
DERIVATION_BUDGET_SECONDS = 15.0
"""CPU-time limit for all the repair searches of one derivation."""
MAX_ADDED_TERMS = 12
"""At most this many terms are tried as the missing term of a step (each with + and -)."""
STANDARD_TERMS = ("KL(q(z), p(z))", "KL(q(z), p(z | x))", "E(q, log(p(x | z)))", "log(p(x))", "H(q)")
"""The lesson's quantities, tried as a missing term (when the file's vocabulary has them)."""

_INEQUALITY_RULES = ("jensen", "kl-nonneg")
_NON_STRICT = {">": ">=", "<": "<="}


@dataclass(frozen=True)
class Named:
    """A formula a repair names, as the author's text ("p(z | x)", "alpha*beta"): parsed with the
    file's names once the repair is suggested (:func:`checked_pieces`), never guessed from a sentence."""

    text: str


Wording = tuple[str | Named, ...]
"""What a repair does: words and the formulas it names, ("drop the term ", Named("alpha*beta"))."""


def plain(wording: Wording) -> str:
    """The wording in the author's text: "drop the term alpha*beta" (the search ranks and matches by it)."""
    return "".join(p if isinstance(p, str) else p.text for p in wording)


def checked_pieces(wording: Wording, vocabulary: Vocabulary | None) -> tuple[str | Expr, ...]:
    """The wording for a :class:`Suggestion`: each formula parsed with the file's names, as the
    checker parses the step it comes from (a formula that does not parse alone stays its text)."""
    from elbo_sym.engine.parse import ParseError, parse_expression

    out: list[str | Expr] = []
    for piece in wording:
        if isinstance(piece, Named):
            try:
                piece = parse_expression(piece.text, vocabulary) if vocabulary is not None else \
                    parse_expression(piece.text)
            except (ParseError, ValueError, TypeError, RecursionError) as raised:
                reraise_callers(raised)
                piece = piece.text
        if piece == "":
            continue
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)
    return tuple(out)


@dataclass(frozen=True)
class Candidate:
    """One edit of a refuted step that the repair search tries (cheapest first)."""

    wording: Wording
    rel: str
    text: str
    rule: str
    cost: int
    order: int

    @property
    def description(self) -> str:
        return plain(self.wording)


# ---------------------------------------------------------------------------- search


def suggest(lhs, step: Step, model: Model, examples: tuple[Example, ...] = (),
            budget: float = SEARCH_BUDGET_SECONDS, keeps_chain: Callable[[Candidate], str | None] | None = None,
            vocabulary: Vocabulary | None = None, context: tuple[str, ...] = ()) -> Suggestion | None:
    """The smallest common repair that makes `lhs step.rel step.expr` proved, or None.

    `keeps_chain(candidate)` says what following the repair would break further down the
    chain (None: nothing); a repair that keeps the chain wins over a smaller one that does
    not, and a repair that breaks it says so.  For an ``=`` step a repair that keeps ``=``
    wins over any that weakens it to an inequality, chain or not.  `context`: texts of the
    neighbouring expressions, where a missing term may come from."""
    deadline = budgets.clock() + budget  # CPU time, as every budget: the same suggestion on a busy machine
    fallback: Suggestion | None = None
    fallback_tier = 0
    for candidate in candidates(step, context)[:MAX_CANDIDATES]:
        if budgets.clock() > deadline:
            break
        if fallback is not None and _tier(step, candidate) > fallback_tier:
            return fallback  # e.g. a repair that keeps '=' (breaking the chain) beats every weakening
        expr = _proved_expr(lhs, step, candidate, model, examples, vocabulary)
        if expr is not None:
            changes = tuple(key for key, old, new in (("rel", step.rel, candidate.rel),
                                                      ("expr", step.formula.text.strip(), candidate.text),
                                                      ("rule", step.rule, candidate.rule)) if old != new)
            broken = keeps_chain(candidate) if keeps_chain is not None and changes != ("rule",) else None
            if broken is None:
                return Suggestion(checked_pieces(candidate.wording, vocabulary), candidate.rel, candidate.text,
                                  candidate.rule, changes, expr, expr_latex=to_latex(expr))
            if fallback is None:
                fallback = Suggestion(checked_pieces((*candidate.wording, f" (but then {broken})"), vocabulary),
                                      candidate.rel, candidate.text, candidate.rule, changes, expr,
                                      expr_latex=to_latex(expr))
                fallback_tier = _tier(step, candidate)
    return fallback


def _tier(step: Step, candidate: Candidate) -> int:
    """Rank class of a repair: for an ``=`` step, local edits that keep ``=`` (0) come before
    weakening it to an inequality (1), and exchanging densities throughout (2) last; for
    other steps one class (the cost decides)."""
    if step.rel != "=":
        return 0
    if candidate.rel != "=":
        return 1
    return 2 if candidate.description.endswith("throughout") or candidate.cost >= NESTED_COST else 0


def check_with_suggestions(derivation: Derivation, budget: float = STEP_BUDGET_SECONDS,
                           total: float | None = None, spent: float = 0.0) -> DerivationResult:
    """`check_derivation`, plus a repair suggestion on every refuted step (verdicts unchanged).

    The file's own repairs (``repair = "..."``) are checked first: one that does not hold
    is a problem of the file (it fails), one that does is the step's suggestion.  Refuted
    steps show the file's own example as their counterexample when one refutes them.
    The suggestions share the file's budget: they only use the time the check left over, and
    `spent` seconds of it (reading the file) were gone before either began.
    """
    budget = validate_budget(budget)
    total = own_budget(len(derivation.steps), budget, total)  # resolved here; check_derivation takes it as is
    started = budgets.clock() - spent
    result = check_derivation(derivation, budget, total=total, spent=spent)
    model = derivation.model()
    if any(s.repair is not None for s in derivation.steps):
        result = _with_authored_repairs(result, model, budget, total - (budgets.clock() - started))
    if not any(r.verdict is Verdict.refuted for r in result.steps):
        return result
    try:
        with budgets.limit(total - (budgets.clock() - started), "repair budget exhausted"):
            result = replace(result, steps=tuple(prefer_example(r, model, derivation.examples)
                                                 for r in result.steps))
            steps = attach_suggestions(derivation, model, list(result.steps), budget)
    except BudgetExceeded as error:
        clear_cache()
        return _with_solution(result, model, budget, 0.0, ran_out=str(error))
    return _with_solution(replace(result, steps=tuple(steps)), model, budget, total - (budgets.clock() - started))


def prefer_example(result: StepResult, model: Model, examples: tuple[Example, ...]) -> StepResult:
    """A refuted step whose counterexample was generated, with one of the file's own
    examples (any K) instead when that refutes it too -- decided exactly, as the checker
    decides; the verdict is unchanged (it was refuted already)."""
    from elbo_sym.engine.check import ENGINE_ERRORS, _examples_agree

    shown = result.counterexample
    if result.verdict is not Verdict.refuted or not examples or (
            shown is not None and shown.source.startswith("example")):
        return result
    try:
        with budgets.limit(CANDIDATE_BUDGET_SECONDS):
            found = _examples_agree(result.lhs, result.step.rel, result.step.expr, model, examples)
    except BudgetExceeded:
        clear_cache()
        return result
    except ENGINE_ERRORS as raised:
        reraise_callers(raised)  # the caller's own exception is never taken for "no example refutes it"
        clear_cache()
        return result
    if found is None:
        return result
    reason = result.reason
    if found.problem:
        reason = found.problem
    elif shown is not None and shown.problem:  # the generated one was about definedness
        reason = "the relation fails at an exact instance"
    return replace(result, counterexample=found, reason=reason)


def attach_suggestions(derivation: Derivation, model: Model, results: list,
                       step_budget: float = STEP_BUDGET_SECONDS) -> list:
    """Results with a `suggestion` on every refuted step (steps are repaired in chain order).

    When the previous step was refuted too and its suggestion edits its expression, this
    step is judged against the repaired expression: often the later "failure" is only the
    earlier slip carried forward, and then no edit of this step is suggested.  A step that
    already has a suggestion (the file's own, checked repair) keeps it.  Each step's search
    stays within the step's budget.
    """
    out, repaired_previous = [], None
    deadline = budgets.clock() + DERIVATION_BUDGET_SECONDS

    def budget() -> float:
        return max(0.0, min(SEARCH_BUDGET_SECONDS, step_budget, deadline - budgets.clock()))

    vocabulary = derivation.vocabulary
    for i, result in enumerate(results):
        suggestion = result.suggestion
        if result.verdict is Verdict.refuted and suggestion is None and budget() > 0:
            keeps = _chain_check(derivation, model, results, i)
            context = _context(derivation, i)
            if repaired_previous is not None:
                unchanged = Candidate((), result.step.rel, result.step.formula.text.strip(), result.step.rule, 0, 0)
                if _proves(repaired_previous, result.step, unchanged, model, derivation.examples, vocabulary):
                    suggestion = Suggestion(
                        (f"no edit needed here: this step holds once step {result.step.index - 1} is repaired "
                         "as suggested",), result.step.rel, result.step.formula.text.strip(), result.step.rule, (),
                        result.step.expr, expr_latex=to_latex(result.step.expr))
                else:
                    suggestion = suggest(repaired_previous, result.step, model, derivation.examples, budget(), keeps,
                                         vocabulary, context)
                    if suggestion is not None:  # proved against the repair, not the file as written: say so (rt26)
                        first = f"with step {result.step.index - 1} repaired as suggested, "
                        suggestion = replace(suggestion, pieces=(first, *suggestion.pieces), lhs=repaired_previous)
            if suggestion is None:
                suggestion = suggest(result.lhs, result.step, model, derivation.examples, budget(), keeps, vocabulary,
                                     context)
            result = replace(result, suggestion=suggestion)
        repaired_previous = suggestion.parsed if suggestion is not None and "expr" in suggestion.changes else None
        out.append(result)
    return out


def _context(derivation: Derivation, i: int) -> tuple[str, ...]:
    """Texts of the expressions around step i+1, where the chain is going first: the claim's
    sides, the next step, the previous one."""
    steps = derivation.steps
    texts = [derivation.claim.rhs.text, derivation.claim.lhs.text] if derivation.claim is not None else []
    if i + 1 < len(steps):
        texts.append(steps[i + 1].formula.text)
    texts.append(derivation.start.text if i == 0 else steps[i - 1].formula.text)
    return tuple(texts)


# ---------------------------------------------------------------------------- the file's own repairs


def _with_authored_repairs(result: DerivationResult, model: Model, step_budget: float,
                           left: float) -> DerivationResult:
    """`result` with each proved ``repair = "..."`` as its step's suggestion, and a problem
    (failing the file) for each repair that does not hold or does not fix the chain.
    Running out of time is a problem too: an unchecked repair is never printed."""
    try:
        with budgets.limit(max(left, 0.0), "the budget for the file's repairs ran out"):
            steps, problems = check_authored_repairs(result.derivation, model, list(result.steps), step_budget)
    except BudgetExceeded as error:
        clear_cache()
        return replace(result, problems=result.problems + (f"could not check the file's repairs: {error}",))
    return replace(result, steps=tuple(steps), problems=result.problems + tuple(problems))


def check_authored_repairs(derivation: Derivation, model: Model, results: list[StepResult],
                           step_budget: float = STEP_BUDGET_SECONDS) -> tuple[list[StepResult], list[str]]:
    """Check a teaching file's ``repair = "..."`` keys: (results, problems).

    Each repaired step ``previous rel repair`` (with the step's rule) must be ``proved``; the
    step after it must still follow from the repair; and once every refuted step has a
    repair, the chain with the repairs must establish the claim.  A repair that passes
    becomes its step's suggestion (``authored``); every failure is a problem of the file.
    """
    from elbo_sym.engine.check import check_step

    steps = derivation.steps
    repaired = [s.repair.expr if s.repair is not None else s.expr for s in steps]
    problems: list[str] = []
    fixed: dict[int, StepResult] = {}
    for i, (step, result) in enumerate(zip(steps, results)):
        if step.repair is None:
            continue
        if result.verdict is not Verdict.refuted:
            problems.append(f"step {step.index} has a repair, but the step is {result.verdict.value}, not refuted: "
                            "a repair corrects a deliberate mistake")
            continue
        lhs = derivation.start.expr if i == 0 else repaired[i - 1]
        edited = replace(step, formula=step.repair)
        checked = check_step(lhs, edited, model, derivation.examples, _left(step_budget))
        if checked.verdict is not Verdict.proved:
            problems.append(f"step {step.index}: {_quoted(step.repair.text)} is {checked.verdict.value}, not proved "
                            f"({_why(checked)}); the file's repair must hold")
            continue
        fixed[i] = checked
        if i + 1 < len(steps) and steps[i + 1].repair is None and results[i + 1].verdict is Verdict.proved:
            following = check_step(repaired[i], steps[i + 1], model, derivation.examples, _left(step_budget))
            if following.verdict is not Verdict.proved:
                problems.append(f"step {step.index}: with the repair {_quoted(step.repair.text)}, step "
                                f"{steps[i + 1].index} no longer follows ({_why(following)}); a repair must fix the "
                                "chain, not only its own step")
                continue
            fixed[i + 1] = following
    if not problems and fixed and all(s.repair is not None for s, r in zip(steps, results)
                                      if r.verdict is Verdict.refuted):
        problem = _chain_problem(derivation, model, results, step_budget)
        if problem:
            problems.append(problem)
    if problems:
        return results, problems
    out = list(results)
    for i, step in enumerate(steps):
        if step.repair is not None and i in fixed:
            text = step.repair.text.strip()
            wording = _authored_wording(step, text, _context(derivation, i))
            suggestion = Suggestion(checked_pieces(wording, derivation.vocabulary), step.rel, text, step.rule,
                                    ("expr",), step.repair.expr, authored=True, expr_latex=to_latex(step.repair.expr))
            out[i] = replace(results[i], suggestion=suggestion)
    return out, []


def _chain_problem(derivation: Derivation, model: Model, results: list[StepResult],
                   step_budget: float) -> str | None:
    """None when the chain with the file's repairs (every step proved) establishes the claim."""
    corrections = {i: replace(s, formula=s.repair) for i, s in enumerate(derivation.steps) if s.repair is not None}
    problem = corrected_chain_problem(derivation, model, results, corrections, step_budget)
    return None if problem is None else (f"with the repairs {problem}; a teaching file with a repair states the "
                                         "claim its repaired chain shows")


# ---------------------------------------------------------------------------- a teaching file's solution


def _with_solution(result: DerivationResult, model: Model, step_budget: float, left: float,
                   ran_out: str = "") -> DerivationResult:
    """A teaching file's `result`, with each step that only carries a deliberate mistake
    marked (:func:`_with_carried`), and a problem (failing the file) unless its solution is
    shown right: see :func:`solution_problem`.  Other files, and teaching files that fail
    already, are returned unchanged; running out of time (`ran_out`: while the corrections
    were searched) is a problem, never a pass."""
    derivation = result.derivation
    if derivation.expect != "refuted" or result.problems:
        return result
    if ran_out:
        return replace(result, problems=result.problems + (_unchecked(ran_out),)) if _mistakes(result) else result
    try:
        with budgets.limit(max(left, 1e-3), "the budget for checking the solution ran out"):
            result = _with_carried(result, model, step_budget)
            if not _mistakes(result):
                return result
            problem = solution_problem(derivation, model, list(result.steps), step_budget)
    except BudgetExceeded as error:
        clear_cache()
        if not _mistakes(result):
            return result
        problem = _unchecked(str(error))
    return result if problem is None else replace(result, problems=result.problems + (problem,))


def _unchecked(why: str) -> str:
    return (f"could not check the solution: {why}; a teaching file's correction must be checked (a larger "
            "--file-budget, or the intended correction as repair = \"...\" on the wrong step)")


def _marked(result: DerivationResult) -> list[int]:
    """Positions of a teaching file's deliberate mistakes: the steps its ``expect_refuted``
    lists, or (``expect = "refuted"`` alone) the first refuted step."""
    listed = result.derivation.expect_refuted
    if listed:
        return [i for i, r in enumerate(result.steps) if r.step.index in listed]
    return [i for i, r in enumerate(result.steps) if r.verdict is Verdict.refuted][:1]


def _with_carried(result: DerivationResult, model: Model, step_budget: float) -> DerivationResult:
    """`result` with `carried` set on each refuted step that is not a deliberate mistake, comes
    right after one, and is proved once that mistake is corrected (the file's repair or the
    suggestion): its left side is the mistake's expression, so the slip is carried, not made
    again (red team rt32's F3).  Any other refuted step stays a mistake of its own."""
    from elbo_sym.engine.check import check_step

    marked = _marked(result)
    steps = list(result.steps)
    for i in marked:
        j, g = i + 1, steps[i].suggestion
        if (j >= len(steps) or j in marked or steps[j].verdict is not Verdict.refuted or g is None
                or "expr" not in g.changes or steps[i].verdict is not Verdict.refuted):
            continue
        following = check_step(g.parsed, steps[j].step, model, result.derivation.examples, _left(step_budget),
                               search=False)
        if following.verdict is Verdict.proved:
            steps[j] = replace(steps[j], carried=True)
    return replace(result, steps=tuple(steps))


def _mistakes(result: DerivationResult) -> list[int]:
    """Positions of a teaching file's deliberate mistakes when exactly those are refuted and
    every other step is proved or only carries one (the file's expectation met); else [] (it
    fails anyway)."""
    marked = _marked(result)
    if not marked or any(result.steps[i].verdict is not Verdict.refuted for i in marked):
        return []
    others_hold = all(r.verdict is Verdict.proved or r.carried for i, r in enumerate(result.steps) if i not in marked)
    return marked if others_hold else []


def solution_problem(derivation: Derivation, model: Model, results: list[StepResult],
                     step_budget: float = STEP_BUDGET_SECONDS) -> str | None:
    """None when a teaching file's solution is right: every deliberate mistake has a
    correction (the file's ``repair``, else the generated suggestion) and with all of them
    every step of the chain is proved and the chain establishes the claim (or, without a
    claim, some relation).  The claim printed above the chain is then true, and the repair
    printed as the solution is one that works; otherwise what fails, and what to write."""
    mistakes = _mistakes(DerivationResult(derivation, tuple(results), None, False, "", (), ()))
    if (all(results[i].suggestion is not None and results[i].suggestion.authored for i in mistakes)  # type: ignore[union-attr]
            and not any(r.carried for r in results)):
        return None  # the file's own repairs: their chain was checked (check_authored_repairs)
    lacking = [results[i].step.index for i in mistakes if results[i].suggestion is None]
    if lacking:
        return (f"step {lacking[0]}: no correction of the deliberate mistake was found that is proved (the repair "
                f"search tries the common slips, within its time budget); write the intended correction as "
                f"repair = \"...\" on step {lacking[0]} (a teaching file's solution is checked, never printed "
                "unchecked)")
    corrections = {}
    for i in mistakes:
        g = results[i].suggestion
        assert g is not None
        step = results[i].step
        expr = g.parsed if "expr" in g.changes else step.expr  # the expression that was proved, not a re-parse
        corrections[i] = replace(step, rel=g.rel, rule=g.rule, formula=Formula(expr, g.expr, step.formula.line))
    problem = corrected_chain_problem(derivation, model, results, corrections, step_budget)
    if problem is None:
        return None
    shown = "; ".join(f"step {results[i].step.index}: {results[i].suggestion.describe()}"  # type: ignore[union-attr]
                      for i in mistakes)
    first = results[mistakes[0]].step.index  # (not every correction is the file's own: that returned above)
    return (f"the solution does not hold: with the suggested correction ({shown}) {problem}. A teaching file's "
            f"claim must be true and shown by the corrected chain: check that the claim is true, and write the "
            f"intended correction as repair = \"...\" on step {first}")


def corrected_chain_problem(derivation: Derivation, model: Model, results: list[StepResult],
                            corrections: dict[int, Step], step_budget: float = STEP_BUDGET_SECONDS) -> str | None:
    """None when the chain with `corrections` (position -> the corrected step) holds: each step
    whose left side or text changed is checked again and every step is proved, the relations
    compose, and the claim (if any) is established; else what fails."""
    from elbo_sym.engine.check import _claim, check_step, compose

    steps = tuple(corrections.get(i, s) for i, s in enumerate(derivation.steps))
    chain: list[StepResult] = []
    lhs, changed = derivation.start.expr, False
    for i, (step, result) in enumerate(zip(steps, results)):
        if changed or i in corrections:
            result = check_step(lhs, step, model, derivation.examples, _left(step_budget), search=False)
        if result.verdict is not Verdict.proved:
            return f"step {step.index} is not proved ({result.reason})"
        chain.append(result)
        changed = i in corrections and step.expr != derivation.steps[i].expr
        lhs = step.expr
    relation: str | None = "="
    for step in steps:
        relation = compose(relation, step.rel)
    if relation is None:
        return "the chain mixes >= and <= steps, so it establishes no relation"
    if derivation.claim is None:
        return None
    edited = replace(derivation, steps=steps)
    established, reason = _claim(edited, relation, model, chain, _left(step_budget), "the budget ran out")
    return None if established else f"the chain does not establish the claim ({reason})"


def _left(step_budget: float) -> float:
    """The step's budget, or what is left of the file's when that is less (at least a moment)."""
    return max(min(step_budget, budgets.remaining()), 1e-3)


def _why(result: StepResult) -> str:
    c: Counterexample | None = result.counterexample
    if c is None:
        return result.reason
    where = ", ".join(f"{label} = ({', '.join(v)})" if len(v) > 1 else f"{label} = {v[0]}" for label, v in c.values)
    return f"{result.reason}; it fails at {where} [{c.source}]"


def _quoted(text: str) -> str:
    return f'repair = "{text.strip()}"'


def _authored_wording(step: Step, text: str, context: tuple[str, ...] = ()) -> Wording:
    """What the file's repair does, in the words of the generated repairs when it is one of them."""
    squeezed = "".join(text.split())
    for candidate in candidates(step, context):
        if candidate.rel == step.rel and candidate.rule == step.rule and "".join(candidate.text.split()) == squeezed:
            return candidate.wording
    return ("the intended correction",)


def _chain_check(derivation: Derivation, model: Model, results: list,
                 i: int) -> Callable[[Candidate], str | None]:
    """What following a repair of step i+1 would break: the chain's relation (>= and <= mixed);
    the next step, when it was proved from the old expression; for the last step, the claim
    (when every other step passes)."""
    from elbo_sym.engine.check import StepResult, _claim, compose
    from elbo_sym.engine.parse import ParseError, parse_expression

    def keeps(candidate: Candidate) -> str | None:
        try:
            expr = parse_expression(candidate.text, derivation.vocabulary)
        except ParseError:
            return "it does not parse"
        relation: str | None = "="
        for j, r in enumerate(results):
            relation = compose(relation, candidate.rel if j == i else r.step.rel)
        others_hold = all(r.passes for j, r in enumerate(results) if j != i)  # else their relations may change too
        if relation is None and others_hold:
            return "the chain mixes >= and <= steps"
        if i + 1 < len(results):
            following = results[i + 1]
            if following.verdict is not Verdict.proved:
                return None
            nxt = following.step
            unchanged = Candidate((), nxt.rel, nxt.formula.text.strip(), nxt.rule, 0, 0)
            if _proves(expr, nxt, unchanged, model, derivation.examples, derivation.vocabulary):
                return None
            return f"step {nxt.index} no longer follows"
        others = [r for j, r in enumerate(results) if j != i]
        if derivation.claim is None or not others_hold:
            return None
        step = replace(results[i].step, rel=candidate.rel, rule=candidate.rule,
                       formula=Formula(expr, candidate.text, results[i].step.line))
        edited = replace(derivation, steps=derivation.steps[:i] + (step,))
        fixed = others + [StepResult(step, results[i].lhs, Verdict.proved, "repaired")]
        try:
            with budgets.limit(CANDIDATE_BUDGET_SECONDS):
                established, _ = _claim(edited, relation, model, fixed, CANDIDATE_BUDGET_SECONDS, "budget")
        except BudgetExceeded:
            clear_cache()
            return "the claim could not be compared in time"
        return None if established else "the chain no longer shows the claim"

    return keeps


def _proves(lhs, step: Step, candidate: Candidate, model: Model, examples,
            vocabulary: Vocabulary | None = None) -> bool:
    """Does the edited step get the verdict `proved`? (rule first: cheap; then the checker)."""
    return _proved_expr(lhs, step, candidate, model, examples, vocabulary) is not None


def _proved_expr(lhs, step: Step, candidate: Candidate, model: Model, examples,
                 vocabulary: Vocabulary | None = None) -> Expr | None:
    """The edited step's expression when the step with it is `proved`, else None."""
    from elbo_sym.engine.canonical import TooLarge
    from elbo_sym.engine.check import check_step
    from elbo_sym.engine.models.discrete import UnfoldError
    from elbo_sym.engine.parse import ParseError, parse_expression
    from elbo_sym.engine.rules import RULES

    try:
        expr = parse_expression(candidate.text, vocabulary) if vocabulary is not None else \
            parse_expression(candidate.text)
    except ParseError:
        return None
    edited = replace(step, rel=candidate.rel, rule=candidate.rule,
                     formula=Formula(expr, candidate.text, step.formula.line))
    try:
        with budgets.limit(CANDIDATE_BUDGET_SECONDS):
            outcome = RULES[candidate.rule](lhs, candidate.rel, expr, model)
    except BudgetExceeded:
        clear_cache()
        return None
    except (TooLarge, UnfoldError, RecursionError, ValueError, ZeroDivisionError, TypeError) as raised:
        reraise_callers(raised)
        return None
    if not outcome.proved:
        return None
    proved = check_step(lhs, edited, model, examples, CANDIDATE_BUDGET_SECONDS).verdict is Verdict.proved
    return expr if proved else None


# ---------------------------------------------------------------------------- candidates


def candidates(step: Step, context: tuple[str, ...] = ()) -> list[Candidate]:
    """Every repair to try for a step, smallest first (then in a fixed, explainable order);
    for an ``=`` step every repair that keeps ``=`` comes before those that weaken it.
    `context`: texts of the neighbouring expressions (a missing term is taken from them)."""
    text = step.formula.text.strip()
    rel, rule = step.rel, step.rule
    out: list[Candidate] = []

    def add(wording: Wording, new_rel: str, new_text: str, new_rule: str, cost: int) -> None:
        out.append(Candidate(wording, new_rel, new_text, new_rule, cost, len(out)))

    # The relation.
    if rel in FLIPPED:
        add(("reverse the inequality",), FLIPPED[rel], text, rule, 1)
    if rel in _NON_STRICT:
        add(("use the non-strict inequality",), _NON_STRICT[rel], text, rule, 1)
    # '=' that is really an inequality, and inequalities that are really identities.
    if rel == "=":
        for new_rel in (">=", "<="):
            for new_rule in _INEQUALITY_RULES:
                if new_rule == rule:
                    add(("the step is an inequality, not an identity",), new_rel, text, new_rule, 1)
                else:
                    add((f"the step is an inequality by {new_rule}",), new_rel, text, new_rule, 2)
    elif rel in ("<", ">"):
        add(("the two sides are equal",), "=", text, rule if rule not in _INEQUALITY_RULES else "algebra", 2)
    # The expression (keeping relation and rule); exchanges "throughout" touch several places.
    for wording, edited in expression_edits(text):
        add(wording, rel, edited, rule, 2 if plain(wording).endswith("throughout") else 1)
    # An average written as a sum, an expectation left out (few, specific edits) before a missing term
    # (a dataset's "A + B" must become "(A + B) / 2", not "A + B - (A + B) / 2").
    for wording, edited in missing_averages(text):
        add(wording, rel, edited, rule, 2)
    for wording, edited in missing_expectations(text, context):
        add(wording, rel, edited, rule, 2)
    for wording, edited in term_additions(text, context):
        add(wording, rel, edited, rule, 2)
    for wording, edited in nested_sign_flips(text):  # last: tried only when no other repair holds
        add(wording, rel, edited, rule, NESTED_COST)
    for wording, edited in nested_term_additions(text, context):
        add(wording, rel, edited, rule, NESTED_COST)

    seen, unique = set(), []
    for c in sorted(out, key=lambda c: (_tier(step, c), c.cost, c.order)):
        key = (c.rel, c.rule, "".join(c.text.split()))
        if key in seen or key == (rel, rule, "".join(text.split())):
            continue
        seen.add(key)
        unique.append(c)
    return unique


def _syntax_tree(text: str) -> ast.expr | None:
    """The expression's Python syntax tree (the file syntax is Python's), None when it has none: no edits."""
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError) as raised:
        reraise_callers(raised)
        return None


def expression_edits(text: str) -> list[tuple[Wording, str]]:
    """(what the edit does, edited text) for every single common slip in an expression."""
    tree = _syntax_tree(text)
    if tree is None:
        return []
    source = _Source(text)
    edits: list[tuple[Wording, str]] = []
    edits += _kl_swaps(tree, source)
    edits += _density_swaps(tree, source)
    edits += _conditional_swaps(tree, source)
    edits += _term_sign_flips(tree, source)
    edits += _log_fraction_flips(tree, source)
    edits += _term_drops(tree, source)
    edits += _negations(tree, source)
    edits += _global_swaps(tree, source)
    return [(w, t) for w, t in edits if t.strip() != text.strip() and not _divergence_of_itself(t)]


def _divergence_of_itself(text: str) -> bool:
    """An edit that writes KL(a, a) (which is 0): true, but no correction a student would learn from."""
    tree = _syntax_tree(text)
    if tree is None:
        return False
    return any(_is_call(node, "KL") and len(node.args) == 2 and ast.dump(node.args[0]) == ast.dump(node.args[1])
               for node in ast.walk(tree))


def term_additions(text: str, context: tuple[str, ...] = ()) -> list[tuple[Wording, str]]:
    """(what the edit does, edited text) for a missing term: ``text + T`` and ``text - T`` for each
    top-level term T of the context expressions, then the lesson's standard quantities,
    that the expression does not have already (at most MAX_ADDED_TERMS terms)."""
    tree = _syntax_tree(text)
    if tree is None or _is_zero(tree):
        # 0 has no term missing: "0 + T" is T put in the place of the side, most often the other side
        # (X >= 0 "repaired" as X >= 0 + X, true and saying nothing: red team rt36 M2)
        return []
    source = _Source(text)
    have = {"".join(_term_text(node, source).split()) for _, node in _terms(tree)}
    found = _unseen_terms(context + STANDARD_TERMS, have, nested=False, keep=lambda node: not _is_number(node))
    edits: list[tuple[Wording, str]] = []
    for term in found[:MAX_ADDED_TERMS]:
        edits.append((("add the missing term ", Named(term)), f"{text.strip()} + {term}"))
        edits.append((("add the missing term ", Named(f"-{term}")), f"{text.strip()} - {term}"))
    return edits


MAX_NESTED_ADDITIONS = 24
"""At most this many edits that put a missing term back inside a bracketed sum (each term with + and -)."""


def nested_term_additions(text: str, context: tuple[str, ...] = ()) -> list[tuple[Wording, str]]:
    """(what the edit does, edited text) for a term missing inside a bracketed sum -- a closed form's
    ``(mu**2 + sigma**2 - log(sigma**2)) / 2`` without its ``- 1`` (red team rt32: a dropped term had no
    repair unless it was a top-level term).  The terms tried are those of every sum in the context
    expressions, at any depth (numbers included: a closed form's constant), that the expression does
    not have anywhere; each is put, with + and with -, at the end of each bracketed sum."""
    tree = _syntax_tree(text)
    if tree is None:
        return []
    source = _Source(text)
    sums = _bracketed_sums(tree)
    if not sums:
        return []
    have = {"".join(_term_text(node, source).split()) for s in [tree, *sums] for _, node in _terms(s)}
    found = _unseen_terms(context, have, nested=True, keep=lambda node: not _is_zero(node))
    edits: list[tuple[Wording, str]] = []
    for added in found:
        for node in sums:
            inner = source.of(node)
            for sign in ("+", "-"):
                named = added if sign == "+" else f"-{added}"
                edits.append((("add the missing term ", Named(named), " inside ", Named(f"({inner})")),
                              source.splice([(source.span(node), f"{inner} {sign} {added}")])))
    return edits[:MAX_NESTED_ADDITIONS]


def _unseen_terms(texts: tuple[str, ...], have: set[str], nested: bool,
                  keep: Callable[[ast.expr], bool]) -> list[str]:
    """The terms of `texts` -- their top-level terms, and with `nested` those of every bracketed sum
    too -- that `keep` accepts and `have` (texts without spaces) lacks, each once, first seen first."""
    seen, found = set(have), []
    for tree, source in _parsed(texts):
        for node in [tree, *_bracketed_sums(tree)] if nested else [tree]:
            for _, term in _terms(node):
                shown = _term_text(term, source)
                key = "".join(shown.split())
                if key not in seen and keep(term):
                    seen.add(key)
                    found.append(shown)
    return found


def _parsed(texts: tuple[str, ...]) -> list[tuple[ast.expr, _Source]]:
    """Each text's syntax tree with its source positions (a text without one left out)."""
    trees = [(_syntax_tree(text), text) for text in texts]
    return [(tree, _Source(text)) for tree, text in trees if tree is not None]


def _bracketed_sums(tree: ast.expr) -> list[ast.BinOp]:
    """The sums of an expression that are not its top-level term list (nor the start of another sum's)."""
    sums = [n for n in ast.walk(tree) if isinstance(n, ast.BinOp) and _is_sum(n)]
    continued = {id(n.left) for n in sums}  # a sum's left operand is the start of the same term list
    return [n for n in sums if n is not tree and id(n) not in continued]


def _is_zero(node: ast.expr) -> bool:
    """0 or -0: a term that adds nothing (a relation's other side, "... >= 0")."""
    number = node.operand if isinstance(node, ast.UnaryOp) else node
    return isinstance(number, ast.Constant) and number.value == 0


LATENT_NAMES = frozenset({"z", "z1", "z2", "z3", "z4", "z5"})
"""The latent variables' names (elbo_sym.engine.parse.RESERVED): a term that has one free is a random quantity."""
BINDERS = frozenset({"Sum", "E", "KL", "H", "ELBO", "IWAE", "Integral"})
"""Calls that bind (or hide) a latent: a term with one of them is not wrapped in an expectation."""
MAX_DISTRIBUTIONS = 2
"""At most this many distributions are tried as the missing expectation's."""


def missing_expectations(text: str, context: tuple[str, ...] = ()) -> list[tuple[Wording, str]]:
    """(what the edit does, edited text) for an expectation left out: ``log(p(x | z))`` written where
    ``E(q, log(p(x | z)))`` is meant (red team rt32).  Each top-level term with a latent free, and the
    whole expression when several terms have one, is wrapped in ``E(d, ...)`` for the distributions the
    expression and its context take expectations over (``q`` when they name none)."""
    tree = _syntax_tree(text)
    if tree is None:
        return []
    source = _Source(text)
    terms = _terms(tree)
    random = [(sign, node) for sign, node in terms if _has_free_latent(node)]
    if not random:
        return []
    edits: list[tuple[Wording, str]] = []
    for d in _expectation_distributions((text, *context)):
        if len(random) > 1 and len(random) == len(terms):
            whole = text.strip()
            edits.append((("take the expectation of the whole expression: ", Named(f"E({d}, {whole})")),
                          f"E({d}, {whole})"))
        for _, node in random:
            old = source.of(node)
            new = f"E({d}, {old})"
            edits.append((("write the expectation ", Named(new), " instead of ", Named(old)),
                          source.splice([(source.span(node), new)])))
    return edits


def _has_free_latent(node: ast.expr) -> bool:
    """A latent's name occurs in `node` and nothing in it binds one (conservative: any binder counts)."""
    names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
    return any(n.id in LATENT_NAMES for n in names) and not any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in BINDERS for n in ast.walk(node))


def _expectation_distributions(texts: tuple[str, ...]) -> list[str]:
    """The distributions of the ``E(d, f)`` in `texts`, first seen first; ``q`` when there are none."""
    found: list[str] = []
    for tree, source in _parsed(texts):
        for node in ast.walk(tree):
            if _is_call(node, "E") and len(node.args) == 2:
                d = source.of(node.args[0])
                if "".join(d.split()) not in {"".join(f.split()) for f in found}:
                    found.append(d)
    return found[:MAX_DISTRIBUTIONS] or ["q"]


def missing_averages(text: str) -> list[tuple[Wording, str]]:
    """(what the edit does, edited text) for an average written as a sum (red team rt32: IWAE's mean of
    the k importance weights, a dataset's average): a sum of n alike terms (the same formula of other
    names: ``p(x, z) / q(z) + p(x, w) / q(w)``) divided by n, and ``Sum(f, (i, 1, N))`` divided by N --
    where the sum is not divided by anything already."""
    tree = _syntax_tree(text)
    if tree is None:
        return []
    source = _Source(text)
    skipped = {id(n.left) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and (
        isinstance(n.op, ast.Div) or _is_sum(n))}  # divided already, or the start of a longer sum
    edits: list[tuple[Wording, str]] = []
    for node in ast.walk(tree):
        count = None if id(node) in skipped or not isinstance(node, ast.expr) else _count_of(node, source)
        if count is None or not isinstance(node, ast.expr):
            continue
        old = source.of(node)
        if _is_sum(node):  # nested, its brackets (or a call's) are around it in the text already
            new = f"({old}) / {count}"
        else:  # Sum(...): bracketed unless it is the whole expression (x ** Sum(...) / N is not x ** (...))
            new = f"{old} / {count}" if node is tree else f"({old} / {count})"
        edits.append((("an average, not a sum: divide ", Named(old), " by ", Named(count)),
                      source.splice([(source.span(node), new)])))
    return edits


def _count_of(node: ast.AST, source: _Source) -> str | None:
    """How many terms `node` sums, when it is a sum that could be an average: n alike terms, all
    added, or ``Sum(f, (i, a, b))`` (b - a + 1 of them); None otherwise."""
    if _is_call(node, "Sum") and len(node.args) == 2 and isinstance(node.args[1], ast.Tuple) \
            and len(node.args[1].elts) == 3:
        _, first, last = node.args[1].elts
        end = source.of(last)
        if isinstance(first, ast.Constant) and first.value == 1:
            return end if _is_atomic(last) else f"({end})"
        return f"({end} - {source.of(first)} + 1)"
    if not (isinstance(node, ast.BinOp) and _is_sum(node)):
        return None
    terms = _terms(node)
    if len(terms) < 2 or any(sign < 0 for sign, _ in terms):
        return None
    shapes = {ast.dump(_nameless(term)) for _, term in terms}
    return str(len(terms)) if len(shapes) == 1 else None


def _nameless(node: ast.expr) -> ast.AST:
    """`node` with every variable's name the same: two terms of one formula in other names look alike."""

    class Blank(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.Name:
            return ast.Name(id="_", ctx=name.ctx)

    return Blank().visit(ast.parse(ast.unparse(node), mode="eval").body)


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def _conditional_swaps(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    """p(a | b) -> p(b | a), one occurrence at a time: the likelihood and the posterior confused."""
    edits: list[tuple[Wording, str]] = []
    for node in ast.walk(tree):
        if _is_call(node, "p") and len(node.args) == 1 and not node.keywords:
            arg = node.args[0]
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr) and isinstance(arg.left, ast.Name) \
                    and isinstance(arg.right, ast.Name):
                old, new = source.of(node), f"p({arg.right.id} | {arg.left.id})"
                edits.append((("write ", Named(new), " instead of ", Named(old)),
                              source.splice([(source.span(node), new)])))
    return edits


def _term_drops(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    """Leave out one top-level term: a term too many."""
    terms = _terms(tree)
    if len(terms) < 2:
        return []
    texts = [(sign, _term_text(node, source)) for sign, node in terms]
    edits: list[tuple[Wording, str]] = []
    for i, (sign, text) in enumerate(texts):
        shown = text if sign > 0 else f"-{text}"
        edits.append((("drop the term ", Named(shown)), _join(texts[:i] + texts[i + 1:])))
    return edits


class _Source:
    """The expression text with `ast` positions (UTF-8 byte columns per line) as indices."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        for line in text.split("\n")[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.lines = text.split("\n")

    def index(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))

    def span(self, node: ast.expr) -> tuple[int, int]:
        end_lineno, end_col_offset = node.end_lineno, node.end_col_offset
        assert end_lineno is not None and end_col_offset is not None  # ast.parse sets them on every node
        return self.index(node.lineno, node.col_offset), self.index(end_lineno, end_col_offset)

    def of(self, node: ast.expr) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def splice(self, replacements: list[tuple[tuple[int, int], str]]) -> str:
        out, position = [], 0
        for (start, end), new in sorted(replacements):
            out.append(self.text[position:start])
            out.append(new)
            position = end
        out.append(self.text[position:])
        return "".join(out)


def _kl_swaps(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    edits: list[tuple[Wording, str]] = []
    for node in ast.walk(tree):
        if _is_call(node, "KL") and len(node.args) == 2:
            a, b = node.args
            edited = source.splice([(source.span(a), source.of(b)), (source.span(b), source.of(a))])
            edits.append((("swap the two arguments of KL",), edited))
    return edits


_DENSITY_TEXT = {"q": "q(z)", "prior": "p(z)", "posterior": "p(z | x)"}
_DENSITY_NAME: dict[str, Wording] = {"q": (Named("q(z)"),), "prior": ("the prior ", Named("p(z)")),
                                     "posterior": ("the posterior ", Named("p(z | x)"))}
_SWAPS = (("q", "prior"), ("q", "posterior"), ("posterior", "prior"))


def _densities(tree: ast.expr, source: _Source) -> list[tuple[tuple[int, int], str]]:
    """Occurrences of q(z), p(z), p(z | x) (and a bare `q` used as a distribution), in order."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):  # both kinds of occurrence are (inside) calls
            continue
        kind = _density_kind(node)
        if kind is not None:
            found.append((source.span(node), kind))
        if isinstance(node.func, ast.Name) and node.func.id in ("E", "KL", "H", "ELBO"):
            for arg in node.args[: 2 if node.func.id == "KL" else 1]:
                if isinstance(arg, ast.Name) and arg.id == "q":
                    found.append((source.span(arg), "q"))
    return sorted(found)


def _density_kind(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.keywords:
        return None
    args = node.args
    if node.func.id == "q" and len(args) == 1 and _is_name(args[0], "z"):
        return "q"
    if node.func.id == "p" and len(args) == 1:
        if _is_name(args[0], "z"):
            return "prior"
        arg = args[0]
        if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr) and _is_name(arg.left, "z") \
                and _is_name(arg.right, "x"):
            return "posterior"
    return None


def _density_swaps(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    """Replace one occurrence of q(z) / p(z) / p(z | x) by one of the others."""
    occurrences = _densities(tree, source)
    edits: list[tuple[Wording, str]] = []
    for a, b in _SWAPS:
        for old, new in ((a, b), (b, a)):
            matching = [span for span, kind in occurrences if kind == old]
            for n, span in enumerate(matching, 1):
                where = f" (occurrence {n} of {len(matching)})" if len(matching) > 1 else ""
                edits.append((("write ", Named(_DENSITY_TEXT[new]), " instead of ", Named(_DENSITY_TEXT[old]), where),
                              source.splice([(span, _DENSITY_TEXT[new])])))
    return edits


def _global_swaps(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    """Exchange two of q(z), p(z), p(z | x) everywhere (when that touches two or more places)."""
    occurrences = _densities(tree, source)
    edits: list[tuple[Wording, str]] = []
    for a, b in _SWAPS:
        touched = [(span, _DENSITY_TEXT[b if kind == a else a]) for span, kind in occurrences if kind in (a, b)]
        if len(touched) >= 2:
            edits.append((("exchange ", *_DENSITY_NAME[a], " and ", *_DENSITY_NAME[b], " throughout"),
                          source.splice(touched)))
    return edits


def _log_fraction_flips(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    """log(a / b) -> log(b / a): the sign slip inside a KL or an ELBO."""
    edits: list[tuple[Wording, str]] = []
    for node in ast.walk(tree):
        if _is_call(node, "log") and len(node.args) == 1:
            arg = node.args[0]
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Div):
                flipped = f"{_operand(arg.right, source)} / {_operand(arg.left, source)}"
                edits.append((("turn the fraction inside ", Named(f"log({source.of(arg)})"), " upside down"),
                              source.splice([(source.span(arg), flipped)])))
    return edits


def _terms(node: ast.expr) -> list[tuple[int, ast.expr]]:
    """The top-level terms of a sum as (sign, node)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        left = _terms(node.left)
        sign = 1 if isinstance(node.op, ast.Add) else -1
        return left + [(sign * s, n) for s, n in _terms_of_operand(node.right)]
    return _terms_of_operand(node)


def _terms_of_operand(node: ast.expr) -> list[tuple[int, ast.expr]]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return [(-s, n) for s, n in _terms_of_operand(node.operand)]
    return [(1, node)]


def _join(terms: list[tuple[int, str]]) -> str:
    out = ""
    for i, (sign, text) in enumerate(terms):
        if i == 0:
            out = text if sign > 0 else f"-{text}"
        else:
            out += (" + " if sign > 0 else " - ") + text
    return out


def _term_sign_flips(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    terms = _terms(tree)
    if len(terms) < 2:
        return []
    texts = [(sign, _term_text(node, source)) for sign, node in terms]
    edits: list[tuple[Wording, str]] = []
    for i, (sign, text) in enumerate(texts):
        flipped = list(texts)
        flipped[i] = (-sign, text)
        edits.append((("flip the sign of the term ", Named(text)), _join(flipped)))
    return edits


NESTED_COST = 3
"""The cost of a sign flip inside a bracketed sum: after every other repair (rt32's F2)."""


def nested_sign_flips(text: str) -> list[tuple[Wording, str]]:
    """A sign flipped inside a bracketed sum -- a closed form's ``(mu**2 + sigma**2 - 1 + log(sigma**2)) / 2``
    with the sign of ``log(sigma**2)`` wrong (red team rt32's F2) -- for every sum that is not a
    top-level term list (those are :func:`_term_sign_flips`'s)."""
    tree = _syntax_tree(text)
    if tree is None:
        return []
    source = _Source(text)
    edits: list[tuple[Wording, str]] = []
    for node in _bracketed_sums(tree):
        texts = [(sign, _term_text(term, source)) for sign, term in _terms(node)]
        for i, (sign, term) in enumerate(texts):
            if term.startswith("-"):
                continue  # "--a": a term with its own minus is _negations' (and reads badly flipped)
            flipped = list(texts)
            flipped[i] = (-sign, term)
            edits.append((("flip the sign of the term ", Named(term)), source.splice([(source.span(node),
                                                                                      _join(flipped))])))
    return edits


def _is_sum(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))


def _negations(tree: ast.expr, source: _Source) -> list[tuple[Wording, str]]:
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
        return [(("drop the leading minus sign",), source.of(tree.operand))]
    inner = source.of(tree)
    body = inner if _is_atomic(tree) else f"({inner})"
    return [(("negate the whole expression",), f"-{body}")]


def _term_text(node: ast.expr, source: _Source) -> str:
    text = source.of(node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return f"({text})"
    return text


def _operand(node: ast.expr, source: _Source) -> str:
    """Text of an operand of `/`, parenthesised unless it binds tighter than `*` and `/`."""
    text = source.of(node)
    return text if _is_atomic(node) else f"({text})"


def _is_atomic(node: ast.AST) -> bool:
    return isinstance(node, (ast.Call, ast.Name, ast.Constant)) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow))


def _is_call(node: ast.AST, name: str) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _is_name(node: ast.AST, name: str) -> TypeGuard[ast.Name]:
    return isinstance(node, ast.Name) and node.id == name


__all__ = ["Suggestion", "Named", "Wording", "plain", "checked_pieces", "suggest", "attach_suggestions", "candidates",
           "expression_edits", "term_additions", "check_authored_repairs", "check_with_suggestions", "prefer_example"]

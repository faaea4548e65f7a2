"""Warnings: what a file says that nothing checked, though the file loads and its chain is checked.

The one kind so far is a relation stated in words between two prose formulas, ``$A$ is $B$``
or ``$A$ is at least $B$`` (the loader finds them: elbo_sym.prose.worded_relations).  A relation
*sign* in prose is refused at loading (it would look checked); words are the author's, so they
only warn -- unless the relation is one the file checks anyway (the chain composes to it between
those two expressions, or the claim or a premise is it or implies it, orientation included), or the
checker proves ``A rel B`` on its own within :data:`PROSE_RELATION_SECONDS`: an inequality by the
engine's sign certificates (elbo_sym.engine.definedness) or rules ``jensen`` and ``kl-nonneg``, and
any relation as an ``algebra`` step.  The warning says which: refuted, held where the checker looked
(not proved), or not checked (past :data:`MAX_PROSE_RELATIONS`, the budget spent, not decided).
A warning never changes a verdict or the exit status:
`check` prints it on stderr at file:line:column, the JSON report carries it, the handouts and the
site print nothing of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sympy import Expr
from sympy.core.cache import clear_cache

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.check import compose, implies
from elbo_sym.engine.definedness import certified, nonnegative, obligations, strict_sign
from elbo_sym.engine.derivation import RELATIONS, Derivation, Formula, ProseRelation
from elbo_sym.engine.models.base import Model
from elbo_sym.engine.rules import FLIPPED
from elbo_sym.failures import reraise_callers

PROSE_RELATION_SECONDS = 1.0
"""CPU-time limit for checking one relation the prose states in words."""
MAX_PROSE_RELATIONS = 8
"""At most this many of a file's worded relations are checked; the rest warn as unchecked."""


@dataclass(frozen=True)
class FileWarning:
    """Something a file says that nothing checked: at its line and (1-based) column."""

    line: int
    column: int | None
    message: str
    step: int | None = None


def prose_warnings(derivation: Derivation, seconds: float = float("inf")) -> tuple[FileWarning, ...]:
    """A warning for each relation the prose states in words that neither the file nor the checker checks,
    deciding them within `seconds` of CPU in all (what the file's budget left after its check: the
    warnings never take a file past its budget); a relation not reached in time warns as not checked."""
    checked = checked_relations(derivation)
    return relation_warnings([(found, derivation, checked) for found in derivation.prose_relations], seconds)


@dataclass(frozen=True)
class Wording:
    """What checks a file's relations, and what the author can do, in a warning's words."""

    checker: str
    remedy: str
    numbered: str = ""
    """What a relation's ``step`` numbers, named before its field ("step 2: why"); "" when the field
    names it already (a deck's "card 2: 'back'")."""


STEP_WORDING = Wording("no step checks", "make it a step or the claim", "step")
CARD_WORDING = Wording("the card does not check",
                       "write it as a formula in the card's text ($A <= B$, checked as a claim of the card)")
"""A deck's warnings (elbo_sym.lesson.practice.deck_warnings): a card's text relates two formulas in words."""
LABEL_WORDING = Wording("nothing checks", "state it as a card's formula ($A <= B$, checked)")
"""A deck's title, summary or a card's topic relates two formulas in words: printed, and checked by nothing."""


def relation_warnings(relations: Sequence[tuple[ProseRelation, Derivation, frozenset[tuple[Expr, str, Expr]]]],
                      seconds: float = float("inf"), wording: Wording = STEP_WORDING) -> tuple[FileWarning, ...]:
    """The warnings of `relations`, each with the derivation it is decided in (its model, its first step the
    template of the check: a file's own, or a card's one-step derivation) and the relations already checked
    there (:func:`checked_relations`): one file's, deciding at most :data:`MAX_PROSE_RELATIONS` of them
    within `seconds` of CPU in all."""
    deadline = budgets.clock() + seconds
    out = []
    tried = 0
    for found, derivation, checked in relations:
        if _implied(checked, found.lhs, found.rel, found.rhs):
            continue  # the chain (or the claim, a premise; a card's formula) establishes what the words say
        left = min(PROSE_RELATION_SECONDS, deadline - budgets.clock())
        if tried >= MAX_PROSE_RELATIONS:
            verdict = f"{NOT_CHECKED}: past the file's first {MAX_PROSE_RELATIONS} relations in words"
        elif left <= 0:
            verdict = f"{NOT_CHECKED}: the file's budget was spent"
        else:
            tried += 1
            verdict = _verdict(derivation, found, left)
        if verdict == "proved":
            continue
        out.append(FileWarning(found.line, found.column, _message(found, verdict, wording), found.step))
    return tuple(out)


NOT_CHECKED = "not checked"
"""The start of the verdict of a relation that was not tried, or not decided: "not checked: why"."""
NOT_DECIDED_IN_TIME = f"{NOT_CHECKED}: not decided in the time it had"
"""A relation whose check ran out of its PROSE_RELATION_SECONDS: neither refuted nor held (a false one may
be refuted by a run with a little more time, red team rt40 F3)."""
HELD_NOT_PROVED = "held where the checker looked, not proved"
"""A relation the check left `checked`: the search found no counterexample, which is no proof that it is
true (``$p(z)$ is at most $1$`` holds for every finite K and fails for a narrow density)."""

def checked_relations(derivation: Derivation) -> frozenset[tuple[Expr, str, Expr]]:
    """The relations ``(A, rel, B)`` the file checks: the claim's, the premises' and every one the chain
    composes to between two of its expressions (``a = b >= c`` gives ``a >= c``; ``a >= b <= c`` nothing)."""
    found = set()
    for relation in (derivation.claim, *derivation.assumptions, *derivation.premises):
        if relation is not None:
            found.add((relation.lhs.expr, relation.rel, relation.rhs.expr))
    chain = [derivation.start.expr, *(s.formula.expr for s in derivation.steps)]
    rels = [s.rel for s in derivation.steps]
    for i in range(len(chain)):
        composed: str | None = "="
        for j in range(i + 1, len(chain)):
            composed = compose(composed, rels[j - 1])
            if composed is None:
                break
            found.add((chain[i], composed, chain[j]))
    return frozenset(found)


def _implied(checked: frozenset[tuple[Expr, str, Expr]], lhs: Expr, rel: str, rhs: Expr) -> bool:
    """Whether a relation the file checks gives ``lhs rel rhs`` (as written, or its converse)."""
    return any((lhs, known, rhs) in checked and implies(known, rel)
               or (rhs, known, lhs) in checked and implies(FLIPPED.get(known, known), rel) for known in RELATIONS)


_INEQUALITY_RULES = ("jensen", "kl-nonneg")
"""The lesson's inequalities are proved by these rules, not by ``algebra``: tried as well for "at least"."""


def _verdict(derivation: Derivation, found: ProseRelation, seconds: float) -> str:
    """The checker's verdict on ``lhs rel rhs`` within `seconds` of CPU.  An inequality is first decided by
    signs (:func:`_signs_prove`, cheap), then by the rules that prove the lesson's inequalities; then
    (and an equality at once) as an ``algebra`` step of the file, which also searches a counterexample:
    "proved", "refuted", another verdict of the step, or "not checked (...)" when it could not be
    decided in time or at all.  Each way is sound alone, so the order only saves time."""
    from elbo_sym.engine.check import ENGINE_ERRORS, check_step, error_text

    if not derivation.steps:
        return f"{NOT_CHECKED}: the file has no step to check it as"
    step = replace(derivation.steps[0], rel=found.rel, rule="algebra", repair=None,
                   formula=Formula(found.rhs, found.text, found.line))
    deadline = budgets.clock() + seconds
    model = derivation.model()
    try:
        with budgets.limit(seconds):
            if found.rel != "=" and _signs_prove(found.lhs, found.rel, found.rhs, model):
                return "proved"
            for rule in _INEQUALITY_RULES if found.rel != "=" else ():
                other = check_step(found.lhs, replace(step, rule=rule), model, derivation.examples,
                                   max(deadline - budgets.clock(), 0.01), search=False)
                if other.verdict.value == "proved":
                    return "proved"
            result = check_step(found.lhs, step, model, derivation.examples, max(deadline - budgets.clock(), 0.01))
    except BudgetExceeded:
        clear_cache()
        return NOT_DECIDED_IN_TIME
    except ENGINE_ERRORS as raised:  # as check_step's callers: a warning never stops `check`
        reraise_callers(raised)
        clear_cache()
        return f"{NOT_CHECKED}: {error_text(raised)}"  # the refusal's own words (rt39 F3: "failed" read as a fault)
    if result.verdict.value != "error":
        return result.verdict.value
    # check_step ends in `error` itself when its budget runs out (it catches BudgetExceeded): undecided, never
    # "does not prove it either", which would read as true (red team rt40 F3)
    if budgets.clock() >= deadline:
        return NOT_DECIDED_IN_TIME
    return f"{NOT_CHECKED}: {result.reason.split('; ')[0]}"


def _signs_prove(lhs: Expr, rel: str, rhs: Expr, model: Model) -> bool:
    """Whether the engine's sign certificates (elbo_sym.engine.definedness: the signs it decides for a
    step's definedness) show the inequality ``lhs rel rhs`` on the whole domain: both sides defined
    there, and the larger side minus the smaller, at every value of a free z, > 0 for < or > and
    >= 0 for <= or >= ("$s**2$ is at least $0$", "$exp(mu)$ is greater than $0$", "$log(q(z))$ is at
    most $0$").  False is no verdict: only that no certificate was found."""
    upper, lower = (lhs, rhs) if rel in (">=", ">") else (rhs, lhs)
    if not all(certified(o, model) for side in (lhs, rhs) for o in obligations(side, model)):
        return False
    gaps = model.unfold_pointwise(upper - lower)
    if rel in (">", "<"):
        return all(strict_sign(gap, model) == 1 for gap in gaps)
    return all(nonnegative(gap, model) for gap in gaps)


def _message(found: ProseRelation, verdict: str, wording: Wording = STEP_WORDING) -> str:
    """Three wordings: refuted, tried but not proved, and not checked (with why)."""
    where = f"{wording.numbered} {found.step}: {found.what}" if found.step is not None and wording.numbered \
        else found.what
    if verdict == "refuted":
        status = "checked on its own it is refuted"
    elif verdict.startswith(NOT_CHECKED):
        status = verdict
    else:
        status = HELD_NOT_PROVED
    return (f"{where}: \"{found.text}\" states a relation in words that {wording.checker} ({status}); "
            f"{wording.remedy}, or say it without the relation")


__all__ = ["CARD_WORDING", "HELD_NOT_PROVED", "LABEL_WORDING", "MAX_PROSE_RELATIONS", "NOT_CHECKED",
           "NOT_DECIDED_IN_TIME", "PROSE_RELATION_SECONDS", "STEP_WORDING", "FileWarning", "Wording",
           "checked_relations", "prose_warnings", "relation_warnings"]

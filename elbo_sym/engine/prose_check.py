"""Warnings: what a file says that nothing checked, though the file loads and its chain is checked.

The one kind so far is a relation stated in words between two prose formulas, ``$A$ is $B$``
or ``$A$ is at least $B$`` (the loader finds them: elbo_sym.prose.worded_relations).  A relation
*sign* in prose is refused at loading (it would look checked); words are the author's, so they
only warn -- unless the relation is one the file checks anyway: both sides are expressions of the
chain, the claim or a premise, or the checker proves ``A rel B`` on its own (rule ``algebra``,
within :data:`PROSE_RELATION_SECONDS`).  A warning never changes a verdict or the exit status:
`check` prints it on stderr at file:line:column, the JSON report carries it, the handouts and the
site print nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sympy.core.cache import clear_cache

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.derivation import Derivation, Formula, ProseRelation
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
    checked = _checked_sides(derivation)
    deadline = budgets.clock() + seconds
    out = []
    for n, found in enumerate(derivation.prose_relations):
        if found.lhs in checked and found.rhs in checked:
            continue  # the chain (or the claim, a premise) relates them: a step checks what the words say
        left = min(PROSE_RELATION_SECONDS, deadline - budgets.clock())
        verdict = _verdict(derivation, found, left) if n < MAX_PROSE_RELATIONS and left > 0 else "not checked"
        if verdict == "proved":
            continue
        out.append(FileWarning(found.line, found.column, _message(found, verdict), found.step))
    return tuple(out)


def _checked_sides(derivation: Derivation) -> set:
    """The expressions the file checks relations between: the chain's, the claim's, the premises'."""
    formulas = [derivation.start, *(s.formula for s in derivation.steps)]
    for relation in (derivation.claim, *derivation.assumptions, *derivation.premises):
        if relation is not None:
            formulas += [relation.lhs, relation.rhs]
    return {f.expr for f in formulas}


def _verdict(derivation: Derivation, found: ProseRelation, seconds: float) -> str:
    """The checker's verdict on ``lhs rel rhs`` as an ``algebra`` step of the file within `seconds` of
    CPU ("not checked" when it could not be decided in time or at all)."""
    from elbo_sym.engine.check import _ENGINE_ERRORS, check_step

    if not derivation.steps:
        return "not checked"
    step = replace(derivation.steps[0], rel=found.rel, rule="algebra", repair=None,
                   formula=Formula(found.rhs, found.text, found.line))
    try:
        with budgets.limit(seconds):
            return check_step(found.lhs, step, derivation.model(), derivation.examples, seconds).verdict.value
    except BudgetExceeded:
        clear_cache()
        return "not checked"
    except _ENGINE_ERRORS as raised:  # as check_step's callers: a warning never stops `check`
        reraise_callers(raised)
        clear_cache()
        return "not checked"


def _message(found: ProseRelation, verdict: str) -> str:
    where = f"step {found.step}: {found.what}" if found.step is not None else found.what
    status = "checked on its own it is refuted" if verdict == "refuted" else "the checker does not prove it either"
    return (f"{where}: \"{found.text}\" states a relation in words that no step checks ({status}); "
            "make it a step or the claim, or say it without the relation")


__all__ = ["MAX_PROSE_RELATIONS", "PROSE_RELATION_SECONDS", "FileWarning", "prose_warnings"]

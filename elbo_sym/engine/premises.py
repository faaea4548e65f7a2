"""Premises: `assume` entries that restrict the domain instead of fixing q.

A premise is a relation ``a rel b`` between expressions of the vocabulary, ``rel`` one of
``<=``, ``>=``, ``<``, ``>`` (for every z, when a side has a free z) or ``!=``.  ``a != b``
means the two sides *differ*: for two distributions over z, ``q(z) != p(z | x)`` says they are
different distributions -- for finite K, they differ at some z; for densities, they differ on a
set of positive probability (densities equal but for a null set are the same distribution, and
their KL divergence is 0); for numbers, that the numbers differ.  A step of a file with premises
is proved when it holds on every model of the
family that satisfies all of them.  So:

* an instance may refute a step only when it is shown to satisfy every premise (exactly, or by
  certified intervals); an instance that violates a premise, where a premise is undefined, or
  where a premise cannot be decided is no counterexample (the last kind is counted and said);
* the rules that use a premise (``assumption``, the strict ``kl-nonneg``) apply a theorem to a
  premise matched exactly (:func:`premises_of`).

This module decides premises at exact instances of an explicit model (the checker's search and
example re-check); the reference evaluator decides them independently with its own evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sympy import Expr

from elbo_sym.engine.definedness import Obligation, obligations
from elbo_sym.engine.models.base import ExplicitModel, Model
from elbo_sym.numbers.evaluate import Undefined, closed_sign, compile_float, decide, sign_of

BOUND_RELATIONS = ("<=", ">=", "<", ">")
"""The relations of a premise that bounds its sides (:func:`is_bound`)."""
PREMISE_RELATIONS = (*BOUND_RELATIONS, "!=")
"""The relations a premise may state (``=`` in `assume` fixes q instead)."""
PREMISE_FAMILIES = ("discrete", "gaussian", "chain")
"""The families whose checker, rules and reference evaluator decide premises."""

HOLDS, VIOLATED, UNDECIDED = "holds", "violated", "undecided"


def premises_of(model: Model) -> tuple:
    """The premises (elbo_sym.engine.derivation.Relation) the model's domain is restricted by."""
    return tuple(model.spec.premises)


def is_bound(premise) -> bool:
    """The premise is a bound (<=, >=, <, >), the only kind that narrows a parameter's range (``beta > 1``);
    a ``!=`` narrows none: it leaves out one value, or keeps two distributions apart (engine.exact reads this
    one predicate wherever it asks which premises narrow a range)."""
    return premise.rel in BOUND_RELATIONS


def premise_text(premise) -> str:
    return f"{premise.lhs.text} {premise.rel} {premise.rhs.text}"


def _holds(rel: str, s: int) -> bool:
    return {">=": s >= 0, "<=": s <= 0, ">": s > 0, "<": s < 0}[rel]


@dataclass(frozen=True)
class _Premise:
    """A premise of the model's domain, ready to be judged at each instance."""

    rel: str
    parts: tuple[tuple[Expr, Expr], ...]
    """(left, right) at each value of a free z (one pair without one)."""
    open: tuple[Obligation, ...]
    """Definedness obligations of both sides, decided at each instance."""


class PremiseJudge:
    """Decides every premise of a file at exact instances of one explicit model."""

    def __init__(self, premises, model: ExplicitModel):
        self.model = model
        self.premises = tuple(premises)
        built = []
        for premise in self.premises:
            left, right = self._sides(premise, model)
            if len(left) != len(right):  # one side without a free z: the same value at every z
                left = left * (len(right) if len(left) == 1 else 1)
                right = right * (len(left) if len(right) == 1 else 1)
            found: dict = {}
            for side in (premise.lhs.expr, premise.rhs.expr):
                for o in obligations(side, model):
                    found.setdefault((o.kind, o.expr), o)
            built.append(_Premise(premise.rel, tuple(zip(left, right)), tuple(found.values())))
        self._built = tuple(built)

    @property
    def expressions(self) -> tuple[Expr, ...]:
        """Every expression `status` evaluates (the premises' sides, their open obligations): what
        counts the premise check's work (engine.check)."""
        return tuple(e for p in self._built for e in (*(side for pair in p.parts for side in pair),
                                                      *(o.expr for o in p.open)))

    @property
    def compared(self) -> tuple[tuple[str, tuple[tuple[Expr, Expr], ...]], ...]:
        """Each premise as (rel, its (left, right) pairs): what engine.polishing judges at a polished
        minimum in mpmath (whether a premise's margin falls with the precision there)."""
        return tuple((p.rel, p.parts) for p in self._built)

    @staticmethod
    def _sides(premise, model: ExplicitModel) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
        """What the premise compares: for ``a != b`` between two distributions the family
        determines by parameters (a normal distribution: mean and variance), those parameters
        (they differ somewhere exactly when the distributions differ); else the sides' values,
        at each z when a side has a free z."""
        if premise.rel == "!=":
            a = model.distribution_parameters(premise.lhs.expr)
            b = model.distribution_parameters(premise.rhs.expr)
            if a is not None and b is not None and len(a) == len(b):
                return a, b
        return model.unfold_pointwise(premise.lhs.expr), model.unfold_pointwise(premise.rhs.expr)

    def status(self, instance) -> str:
        """HOLDS when every premise is shown to hold at the instance; VIOLATED when one is shown
        to fail or is undefined there; UNDECIDED otherwise (never used as a counterexample)."""
        values = self.model.values(instance)
        memo: dict = {}
        return self._status(lambda e: sign_of(e, values, memo), lambda a, b: decide(a, b, values, memo))

    def status_at_point(self, values: dict) -> str:
        """`status` at an algebraic point (`values`: every parameter -> an exact SymPy number, some
        irrational: a square root or a CRootOf -- search.AlgebraicPoint), each sign decided by
        `closed_sign`: in the root's field or by certified intervals, 0 only by exact algebra.  HOLDS
        only when every premise is shown to hold there."""
        def sign(e: Expr) -> int | None:
            return closed_sign(e.xreplace(values))

        return self._status(sign, lambda a, b: sign(a - b))

    def _status(self, sign: Callable[[Expr], int | None], compare: Callable[[Expr, Expr], int | None]) -> str:
        """Every premise judged with `sign` (of an expression) and `compare` (the sign of a - b), each
        certified or None, raising Undefined where the expression is not defined."""
        undecided = False
        for premise in self._built:
            found = self._one(premise, sign, compare)
            if found == VIOLATED:
                return VIOLATED
            undecided = undecided or found == UNDECIDED
        return UNDECIDED if undecided else HOLDS

    @staticmethod
    def _one(premise: _Premise, sign: Callable[[Expr], int | None],
             compare: Callable[[Expr, Expr], int | None]) -> str:
        for o in premise.open:
            try:
                s = sign(o.expr)
            except Undefined:
                return VIOLATED
            if s is None:
                return UNDECIDED
            if not o.holds_at(s):
                return VIOLATED
        signs = []
        for a, b in premise.parts:
            try:
                signs.append(compare(a, b))
            except Undefined:
                return VIOLATED
        if premise.rel == "!=":  # differ at some z (an explicit model: finite K)
            if any(s is not None and s != 0 for s in signs):
                return HOLDS
            return VIOLATED if all(s == 0 for s in signs) else UNDECIDED
        if any(s is not None and not _holds(premise.rel, s) for s in signs):
            return VIOLATED
        return UNDECIDED if any(s is None for s in signs) else HOLDS

    def margin_function(self) -> Callable[[tuple[float, ...]], float]:
        """A float function: how far inside every premise a point lies (> 0 inside)."""
        params = self.model.parameters
        compiled = [(p.rel, [(compile_float(a, params), compile_float(b, params)) for a, b in p.parts])
                    for p in self._built]

        def margin(point) -> float:
            worst = float("inf")
            for rel, sides in compiled:
                gaps = []
                for fa, fb in sides:
                    a, b = fa(point), fb(point)
                    if a != a or b != b:
                        return float("-inf")
                    gaps.append((a - b) / (1.0 + abs(a) + abs(b)))
                if rel == "!=":
                    worst = min(worst, max(abs(g) for g in gaps))
                elif rel in (">=", ">"):
                    worst = min(worst, min(gaps))
                else:
                    worst = min(worst, -max(gaps))
            return worst

        return margin


@dataclass
class PremiseTally:
    """Instances a search left out because of the premises (said in the step's report)."""

    outside: int = 0
    undecided: int = 0
    densities_left_out: bool = False
    """A premise holds for every z, and a density is decided at one z: no densities searched."""

    def notes(self) -> tuple[str, ...]:
        out = ["no densities (a premise holds for every z, and a density is decided at one z)"] \
            if self.densities_left_out else []
        if self.outside:
            out.append(f"{self.outside} instance(s) outside the premises left out")
        if self.undecided:
            out.append(f"{self.undecided} instance(s) where a premise could not be decided left out "
                       f"(never counterexamples)")
        return tuple(out)


__all__ = ["BOUND_RELATIONS", "PREMISE_RELATIONS", "PREMISE_FAMILIES", "is_bound",
           "PremiseJudge", "PremiseTally", "premises_of", "premise_text",
           "HOLDS", "VIOLATED", "UNDECIDED"]

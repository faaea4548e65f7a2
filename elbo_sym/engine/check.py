"""Verdicts for steps and whole chains.

A step is ``proved`` when its rule proves it for every model of the family *and* every
expression in it is defined there: each log argument shown > 0 and each divisor shown
!= 0 by a certificate (:mod:`elbo_sym.engine.definedness`).  Otherwise the checker searches for
a counterexample (:mod:`elbo_sym.engine.search`): an exact instance where the relation fails or
an expression is undefined makes the step ``refuted``.  Signs and equalities at an
instance are decided exactly or by certified intervals (:mod:`elbo_sym.numbers.evaluate`);
undecided is never "holds".  Only a step that no rule proves, that held on at least
``MIN_DECIDED`` decided instances and whose search found nothing is ``checked`` -- which
is evidence, not success: it fails the run unless the step says ``accept = "checked"``.
Everything reachable from a file runs under the step's and the file's time budgets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path

from sympy import Add, Expr, Integer, Mul, Rational, S, exp, factor_terms, log
from sympy.core.cache import clear_cache

from elbo_sym import budget as budgets
from elbo_sym import limits
from elbo_sym.budget import BudgetExceeded, WorkCount
from elbo_sym.engine.canonical import TooLarge, canonical, with_exps
from elbo_sym.engine.definedness import Obligation, certified, obligations, require_state
from elbo_sym.engine.derivation import Derivation, Example, Formula, Relation, Step
from elbo_sym.engine.exact import ExactPlan, empty_ranges, exact_plan, memo_at, premise_pins
from elbo_sym.engine.models.base import ExplicitModel, Model
from elbo_sym.engine.models.discrete import TooManyTerms, UnfoldError, free_latents
from elbo_sym.engine.models.general import SEARCH_K
from elbo_sym.engine.notation import Limit, integer_power, to_latex, to_text
from elbo_sym.engine.phrases import OUTSIDE_PREMISES
from elbo_sym.engine.polishing import Allowance, Meeting, polished_instances
from elbo_sym.engine.premises import HOLDS, UNDECIDED, PremiseJudge, PremiseTally, premise_text, premises_of
from elbo_sym.engine.rules import FLIPPED, RULES, RuleOutcome, difference, proves_zero
from elbo_sym.engine.samples import (
    at_example,
    counts_fit,
    for_definedness,
    instantiate,
    instantiations,
    lowest_values,
    sample_parameters,
    values_at,
)
from elbo_sym.engine.search import (
    ALGEBRAIC_TOLERANCE,
    FAR_END_BASES,
    LIGHT_BOUNDARY_INSTANCES,
    LIGHT_MINIMISER_STARTS,
    MAX_BOUNDARY_INSTANCES,
    MIN_DECIDED,
    MINIMISER_STARTS,
    RANDOM_SOURCE,
    AlgebraicPoint,
    Instance,
    algebraic_points,
    between_roots,
    boundary_instances,
    exact_candidates,
    far_end_instances,
    far_ends,
    minimise,
    point_reader,
    seed_for,
    solvable,
    structure,
    values_reader,
)
from elbo_sym.engine.wellformed import (
    algebraic_instance_problem,
    derived_arguments,
    derived_distribution_problem,
    instance_problem,
    well_formedness_problem,
)
from elbo_sym.failures import computing_failure, reraise_callers
from elbo_sym.limits import (
    DEFINEDNESS_SEARCH_WORK_OPERATIONS,
    GENERAL_SEARCH_FULL_LARGER_K,
    GENERAL_SEARCH_WORK_OPERATIONS,
    INTEGER_OFFSETS,
    LARGE_K,
    POLISH_WEIGHT,
    PREMISE_CHECK_WORK_OPERATIONS,
    REFERENCE_BUDGET_SECONDS,
    SEARCH_EXACT_WEIGHT,
    SEARCH_WORK_OPERATIONS,
    STEP_BUDGET_SECONDS,
    own_budget,
    validate_budget,
)
from elbo_sym.numbers.algebraic import in_root, in_root_with_logs, root_text
from elbo_sym.numbers.evaluate import (
    Undefined,
    approx_text,
    as_float,
    closed_sign,
    compile_float,
    compile_rational,
    decide,
    rational_type,
    short_form,
    sign_of,
    value,
    value_text,
)
from elbo_sym.numbers.exact import LogNumber, quick_factoring
from elbo_sym.prose import counted

FULL_SEARCH_K = 2
"""A general claim gets the full search (every boundary combination, six minimiser starts) up
to this K; larger K and the densities get the light one, so that more of them fit."""
MAX_OBLIGATION_SEARCHES = 4
"""Open definedness obligations minimised one by one (|divisor| -> 0) for an algebraic zero."""
SCREEN_KEEP = 8
"""Boundary instances with the smallest float margin that are always decided exactly."""
SCREEN_CERTIFY = 40
"""At most this many nominated boundary instances are decided exactly per step."""
MAX_VALUE_TEXT = 100
"""Exact values longer than this are shown as decimals only (boundary instances have huge numbers)."""
ENGINE_ERRORS: tuple[type[Exception], ...] = (TooLarge, UnfoldError, RecursionError, ValueError,
                                               ZeroDivisionError, TypeError, ArithmeticError, MemoryError)
"""What checking a step may raise that the check reports as "could not check: ..." (an `error` naming
the cause) rather than "internal error (please report)": the engine's own refusals (an expression too
large, a model that cannot unfold it) and what arithmetic raises on undefined or huge values and too
deep expressions.  Catching one never makes a step pass.  Code that runs a check and must not stop on
these (a prose warning's verdict, a repair's example) catches this set and starts its handler with
failures.reraise_callers: a caller's own exception of one of these types is raised again."""


_PACKAGE = Path(__file__).resolve().parent.parent


def error_text(error: BaseException) -> str:
    """An exception as a verdict may show it: our own messages (raised in elbo_sym, written
    in the author's notation) as they are; a library's (SymPy's ``linsolve``, ...) never raw,
    only what kind of failure it was."""
    frame, origin = error.__traceback__, None
    while frame is not None:
        origin = frame.tb_frame.f_code.co_filename
        frame = frame.tb_next
    ours = origin is None or Path(origin).resolve().is_relative_to(_PACKAGE)
    if isinstance(error, KeyError):  # its message is an internal name (a symbol such as q_x2_0)
        return "a quantity has no value in the model here"
    if ours and str(error):
        return str(error)
    if isinstance(error, (RecursionError, MemoryError)):
        return "the expression is too deeply nested or too large to check"
    return f"the computer algebra could not handle it ({type(error).__name__})"


class Verdict(str, Enum):
    proved = "proved"
    refuted = "refuted"
    checked = "checked"
    error = "error"


@dataclass(frozen=True)
class Suggestion:
    """A repair that makes the step ``proved``: what it does, what changed and the step as edited."""

    pieces: tuple[str | Expr, ...]
    """What the repair does, as words and the formulas it names -- each formula the expression
    parsed from the step's text with the file's names (as the checker parses it), printed by the
    one printer: ("drop the term ", alpha*beta). A renderer typesets them from the report's pieces
    and never re-parses the sentence (:attr:`description`)."""
    rel: str
    expr: str
    rule: str
    changes: tuple[str, ...]
    """Which keys of the step the repair edits ("rel", "expr", "rule"); empty if none."""
    parsed: Expr
    """The expression the checker parsed from `expr` and proved: a corrected chain is checked
    with it, never with a re-parse of the text."""
    authored: bool = False
    """The file's own ``repair = "..."`` (checked like a generated one), not a generated suggestion."""
    expr_latex: str = ""
    """The printer's LaTeX of the expression the checker parsed and proved (never re-parsed from `expr`)."""
    lhs: Expr | None = None
    """The left side the edited step was proved from when it is not the step's own: the previous step
    as repaired (a suggestion judged with that repair in place); a display of the repaired step must
    show it (red team rt29: the unrepaired left side made the display a false equation)."""

    @property
    def description(self) -> str:
        """The pieces as one sentence, each formula in the printer's text: "drop the term alpha*beta"."""
        return "".join(p if isinstance(p, str) else to_text(p) for p in self.pieces)

    def describe(self) -> str:
        """One line, e.g. ``swap the two arguments of KL: expr = "KL(q(z), p(z | x))"``."""
        values = {"rel": self.rel, "expr": self.expr, "rule": self.rule}
        edits = ", ".join(f'{key} = "{values[key]}"' for key in ("rel", "expr", "rule") if key in self.changes)
        return f"{self.description}: {edits}" if edits else self.description



@dataclass(frozen=True)
class Counterexample:
    """Exact parameter values where a step fails (or is undefined), with both sides' values.

    ``values`` names every block of the instance as the report prints it:
    (("p(z)", ("1/2", "1/2")), ("p(x | z)", (...)), ("q(z)", (...)), ("beta", ("1/2",))).
    """

    values: tuple[tuple[str, tuple[str, ...]], ...]
    lhs: str
    rhs: str
    lhs_value: float
    rhs_value: float
    z: int | None = None
    """Which of the model's points it fails at (a state of a finite latent space, or the index of a
    chain's point); None when at none: a step without a free z, or a density point (never its symbol)."""
    source: str = "random instance"
    problem: str | None = None
    """Set when the step is undefined there: "log of a non-positive value: ... = -1/6"."""
    values_latex: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """LaTeX of the values by label, made by the printer from the numbers themselves (an exact
    fraction, an algebraic point's sqrt(5)); a label without it has none."""
    at: str = ""
    """The latent values of point `z` as the model names them ("z = 1", "z1 = 0, z2 = 1")."""
    lhs_latex: str = ""
    rhs_latex: str = ""
    """Both sides' values through the printer, from the exact values (never re-parsed from
    `lhs`/`rhs`); "" where a side has no value to typeset ("undefined")."""
    lhs_exact: LogNumber | None = None
    rhs_exact: LogNumber | None = None
    """Both sides' exact values where they are in the exact class (None elsewhere): the ≈ column's
    digits come from them, since two different values can round to one float (rt33 F5)."""
    lhs_beyond: str = ""
    rhs_beyond: str = ""
    """A side's value to six figures where no float holds it -- exp(1000) overflows to inf, exp(-1000)
    underflows to 0 -- as numbers.evaluate.approx_text certifies it ("1.97007e+434"); "" where the float
    does (the ≈ column then shows the float, never "inf")."""
    gap: str = ""
    """left - right to six certified figures ("1.19902e+12") where the sides' floats cannot tell them
    apart -- one float for both, inf and inf at a far end's exp(2**41) (red team rt57 F1: both sides
    printed "≈ 1.43874e+955023665463") -- and no exact values are there to; "" elsewhere or unknown."""

    def __post_init__(self) -> None:
        require_state(self.z)  # a density point is None here: its value of z is among `values`

    def value_of(self, label: str) -> tuple[str, ...] | None:
        return dict(self.values).get(label)

    # the one-observation names: p(z), p(x | z), q(z)
    @property
    def prior(self) -> tuple[str, ...] | None:
        return self.value_of("p(z)")

    @property
    def likelihood(self) -> tuple[str, ...] | None:
        return self.value_of("p(x | z)")

    @property
    def q(self) -> tuple[str, ...] | None:
        return self.value_of("q(z)")


@dataclass(frozen=True)
class Searched:
    """Where the counterexample search of a step that no rule proves looked: which K, how
    many densities (Gaussian models, for K = "any"), how many instances were decided."""

    K: tuple[int, ...] = ()
    densities: int = 0
    """Decided instances that were densities (Gaussian models)."""
    instances: int = 0
    undecided: int = 0
    notes: tuple[str, ...] = ()
    """What was searched only in part, or not, and why ("K = 34, 89, 233: examples, special cases
    and random instances only", "no densities (...)")."""
    dimensions: tuple[int, ...] = ()
    """The numbers of dimensions D searched, for a model of every D (its prior is N(0, I))."""
    skipped: tuple[str, ...] = ()
    """Instances the search builds on purpose (the file's examples, the family's special cases
    such as the tight case) that could not be decided: the step is then `error`, never `checked`."""
    covered: frozenset[str] = frozenset()
    """The names of the symbols the exact decision decided at every value (`ExactProof.covers`, when it
    found the step true for all of them; a rule other than algebra still leaves the step to the search):
    a whole number among them is not one the search left unreached (`_whole_numbers_unsearched`)."""

    def describe(self) -> str:
        """e.g. "K = 2, 3, 5, 8, 13; 40 Gaussian densities (prior N(0, 1))": the densities are
        the Gaussian family's, whose prior is the standard normal -- said, so that nobody reads
        "checked" as covering every density."""
        parts = []
        if self.K:
            parts.append(f"K = {', '.join(map(str, self.K))}")
        if self.densities:
            prior = f"prior N(0, I); D = {', '.join(map(str, self.dimensions))}" if self.dimensions else "prior N(0, 1)"
            parts.append(f"{self.densities} Gaussian densit{'y' if self.densities == 1 else 'ies'} ({prior})")
        if self.undecided:
            parts.append(f"{self.undecided} undecided, not counted")
        parts += self.notes
        return "; ".join(parts)


@dataclass(frozen=True)
class StepResult:
    """What checking one step found: verdict, reason and the evidence for it."""

    step: Step
    lhs: Expr
    verdict: Verdict
    reason: str
    counterexample: Counterexample | None = None
    instances: int = 0
    outcome: RuleOutcome | None = field(default=None, compare=False)
    seconds: float = 0.0
    suggestion: Suggestion | None = field(default=None, compare=False)
    """For a refuted step: the smallest common repair that makes it proved (elbo_sym.engine.repair)."""
    conditions: tuple[tuple[str, bool], ...] = ()
    """Definedness conditions of the step and whether each was shown on the whole domain."""
    second_opinion: str = field(default="", compare=False)
    """For a proved step: what the independent reference evaluator found (elbo_sym.engine.reference)."""
    searched: Searched | None = None
    """For a step that was searched (not proved): the K, densities and instances tried."""
    carried: bool = False
    """A teaching file's step refuted only because the deliberate mistake just before it carries
    into its left side: proved with that step corrected (engine.repair, red team rt32's F3)."""
    any_k: bool = False
    """For a `checked` step: its file writes ``K = "any"`` (`_any_k`), so ``accept = "checked"`` cannot pass
    it (check_step makes an accepted one an `error`) and its hint says to write an explicit K."""
    in_teaching_file: bool = False
    """The step is a teaching file's (``expect = "refuted"``), where ``accept`` is refused when read: its
    hint never suggests it (red team rt42 F12)."""
    whole_unsearched: str = ""
    """For a `checked` step: the whole-number parameter free in it whose values the search cannot all
    reach (`_whole_numbers_unsearched`), so ``accept = "checked"`` cannot pass it either; "" when none."""

    @property
    def accepted(self) -> bool:
        """A `checked` step that the file explicitly accepts (``accept = "checked"``)."""
        return self.verdict is Verdict.checked and self.step.accept == "checked"

    @property
    def hint(self) -> str:
        """For a `checked` step that does not pass: what lets it pass ("" for any other step). The one
        source of this advice -- the claim's reason, the step notes and failures of `check`, the
        handouts' refusal -- so that none suggests the ``accept = "checked"`` that check refuses."""
        if self.verdict is not Verdict.checked or self.accepted:
            return ""
        if self.in_teaching_file:
            return TEACHING_HINT
        if self.any_k:
            return EXPLICIT_K_HINT
        return whole_number_hint(self.whole_unsearched) if self.whole_unsearched else ACCEPT_HINT

    @property
    def passes(self) -> bool:
        """Proved, or checked and accepted: what lets a run succeed."""
        return self.verdict is Verdict.proved or self.accepted


@dataclass(frozen=True)
class ExampleResult:
    """One exact example checked: the failures found (none: it holds)."""

    example: Example
    failures: tuple[str, ...]
    lines: tuple[int, ...] = ()
    """The file's line of each failure: the expected value's own line in [example.expect], else the
    example's (red team rt32: every failure was named at the [[example]] header)."""

    @property
    def holds(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class DerivationResult:
    """What checking a whole derivation found: each step, the chain's relation, the examples."""

    derivation: Derivation
    steps: tuple[StepResult, ...]
    relation: str | None
    established: bool
    claim_reason: str
    examples: tuple[ExampleResult, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Exit 0: every step proved (or checked and accepted), claim established, examples hold."""
        return (self.established and not self.problems
                and all(r.passes for r in self.steps)
                and all(e.holds for e in self.examples))

    @property
    def fully_proved(self) -> bool:
        return self.ok and all(r.verdict is Verdict.proved for r in self.steps)

    @property
    def unaccepted_checked(self) -> tuple[StepResult, ...]:
        """Steps that are only `checked` and not accepted: each fails the run."""
        return tuple(r for r in self.steps if r.verdict is Verdict.checked and not r.accepted)


def domain_text(model: Model) -> str:
    """The domain every `proved` is about, in words (the family says it: Model.domain_text),
    restricted by the file's premises."""
    premises = premises_of(model)
    restricted = f"; where {' and '.join(premise_text(p) for p in premises)}" if premises else ""
    return model.domain_text() + restricted


def holds(rel: str, s: int) -> bool:
    return {"=": s == 0, ">=": s >= 0, "<=": s <= 0, ">": s > 0, "<": s < 0}[rel]


# ------------------------------------------------------------------------- deciding one instance


@dataclass(frozen=True)
class _Decision:
    """What one exact instance says: 'holds', 'fails', 'undefined' or 'undecided'."""

    status: str
    z: int | None = None
    problem: str | None = None
    left: Expr | None = None
    right: Expr | None = None


@lru_cache(maxsize=4096)
def _limit_variables(e: Expr) -> frozenset[str]:
    """The names of the variables bound by the limits in `e` (a walk of the whole tree, and a step's
    right side is the next step's left: remembered)."""
    return frozenset(str(limit.variable) for limit in e.atoms(Limit))


class _Instances:
    """Decides a relation (and the open definedness obligations) at exact instances."""

    def __init__(self, lhs: Expr, rel: str, rhs: Expr, model: ExplicitModel,
                 open_obligations: Iterable[Obligation]):
        self.model = model
        self.rel = rel
        left, right = model.unfold_pointwise(lhs), model.unfold_pointwise(rhs)
        if len(left) != len(right):
            left = left * (len(right) if len(left) == 1 else 1)
            right = right * (len(left) if len(right) == 1 else 1)
        self.parts = tuple(zip(left, right))
        self.open = tuple(open_obligations)
        bound = _limit_variables(lhs) | _limit_variables(rhs)
        self.limit_bound = bound - {str(s) for s in lhs.free_symbols | rhs.free_symbols} if bound else bound
        """Parameters the step has only bound inside limit(...): a counterexample gives them no value."""

    @cached_property
    def exact_parts(self):
        """Each part's sides compiled to exact rational functions of the parameters, with how to read
        an instance's values for them (None unless every side is one: logs take numbers.evaluate)."""
        return _compiled_exactly(self.parts, self.model)

    @cached_property
    def point_cost(self) -> int:
        """What screening one point in floats counts against a search's work limit: its values, and
        each operation of the sides and the open obligations (shared subexpressions once)."""
        return len(self.model.parameters) + _operations([e for pair in self.parts for e in pair]
                                                        + [o.expr for o in self.open])

    def decide(self, instance: Instance, shared: bool = False) -> _Decision:
        """What `instance` says; with `shared`, exact values are kept at the instance's point for later
        callers there (evaluate.memo_at: a file's examples, step after step)."""
        values = self.model.values(instance) if self.open or self.exact_parts is None else {}
        memo: dict = memo_at(values) if shared and values else {}
        undecided = False
        for obligation in self.open:
            try:
                s = sign_of(obligation.expr, values, memo)
            except Undefined:
                return _Decision("undefined", obligation.z, obligation.failure())
            if s is None:
                undecided = True
            elif not obligation.holds_at(s):
                shown = _value_text(obligation.expr, values)
                return _Decision("undefined", obligation.z, f"{obligation.failure()}{shown}")
        several = len(self.parts) > 1
        if self.exact_parts is not None:
            return self._decide_rational(instance, undecided)
        for k, (a, b) in enumerate(self.parts):
            try:
                s = decide(a, b, values, memo)
            except Undefined as error:
                return _Decision("undefined", k if several else None, f"undefined: {error_text(error)}")
            if s is None and _equal_by_structure(a, b, values, self.model):
                s = 0
            if s is None:
                undecided = True
            elif not holds(self.rel, s):
                return _Decision("fails", k if several else None, left=a, right=b)
        return _Decision("undecided" if undecided else "holds")

    def _decide_rational(self, instance: Instance, undecided: bool) -> _Decision:
        """`decide` for sides that are rational functions: the same exact values, from the compiled
        functions (a division by 0 is undefined there, as numbers.evaluate says it)."""
        assert self.exact_parts is not None
        compiled, read = self.exact_parts
        x = read(instance)
        several = len(self.parts) > 1
        for k, ((a, b), (fa, fb)) in enumerate(zip(self.parts, compiled)):
            try:
                d = fa(x) - fb(x)
            except ZeroDivisionError as raised:
                reraise_callers(raised)
                return _Decision("undefined", k if several else None, f"undefined: {Undefined('division by zero')}")
            if not holds(self.rel, (d > 0) - (d < 0)):
                return _Decision("fails", k if several else None, left=a, right=b)
        return _Decision("undecided" if undecided else "holds")

    def counterexample(self, instance: Instance, decision: _Decision) -> Counterexample:
        values = self.model.values(instance)
        used = frozenset().union(*(e.free_symbols for pair in self.parts for e in pair),
                                 *(o.expr.free_symbols for o in self.open))
        blocks = [b for b in self.model.blocks if b.name not in ("z", "z1", "z2", "z3", *self.limit_bound)
                  or used & set(b.symbols)]  # a real z only where free; no value for a limit's parameter
        shown = tuple((b.label, tuple(str(v) for v in instance[b.name])) for b in blocks)
        printed = tuple((b.label, tuple(to_latex(Rational(v.numerator, v.denominator)) for v in instance[b.name]))
                        for b in blocks)
        for o, q in self.model.assumed.items():  # q fixed by an assumption: show its value too
            label = self.model.assumed_label(o)
            exact = [_exact_value(v, values) for v in q]
            shown += ((label, tuple(text for text, _ in exact)),)
            printed += ((label, tuple(latex for _, latex in exact)),)
        if decision.status == "undefined":
            return Counterexample(shown, "undefined", "undefined", float("nan"), float("nan"), decision.z,
                                  self._source(instance.source, used), decision.problem, printed,
                                  self._at(decision.z))
        a, b = decision.left, decision.right
        (lhs, lhs_latex), (rhs, rhs_latex) = _exact_value(a, values), _exact_value(b, values)
        left, right = as_float(a, values), as_float(b, values)
        return Counterexample(shown, lhs, rhs, left, right, decision.z,
                              self._source(instance.source, used), values_latex=printed, at=self._at(decision.z),
                              lhs_latex=lhs_latex, rhs_latex=rhs_latex,
                              lhs_exact=_exact_number(a, values), rhs_exact=_exact_number(b, values),
                              lhs_beyond=_beyond_float(a, values, left), rhs_beyond=_beyond_float(b, values, right),
                              gap=self._gap(a, b, values) if left == right else "")

    def _gap(self, a: Expr, b: Expr, values) -> str:
        """left - right at the point to six certified figures, for sides whose floats are one float: as
        formed, else from its canonical form (exp(2**41) + 2**41 - exp(2**41) - 10**12 is 2**41 - 10**12
        there, which no enclosure of the two exps reaches; the far end made that form already, so it is
        remembered); "" when neither pins six digits, or left - right is 0 (the sides are alike)."""
        if _exact_number(a, values) is not None and _exact_number(b, values) is not None:
            return ""  # the report tells exact sides apart by their digits
        formed = Add(a, -b)
        approx = approx_text(formed, values)
        if not approx.startswith("≈ "):
            try:
                approx = approx_text(with_exps(canonical(formed, self.model).as_expr()), values)
            except TooLarge:
                return ""
        return _certified_digits(approx)

    def _source(self, source: str, used: frozenset) -> str:
        """A special instance named after q ("tight case q = p(z | x)", "q = p(z)") where the step
        has no q in it: "special instance" (the label would name a q the step does not have)."""
        if not source.startswith(("tight case", "q = ")):
            return source
        try:
            q = frozenset().union(*(e.free_symbols for o in self.model.observations
                                    for e in self.model.unfold_pointwise(self.model.variational(o))))
        except (UnfoldError, TypeError, ValueError) as raised:
            reraise_callers(raised)
            return source
        return source if q & used else "special instance"

    def meets_at(self, point_: AlgebraicPoint, k: int, rest: Expr | None = None) -> bool | None:
        """Whether part `k`'s two sides are exactly equal at the algebraic point: False unless every open
        definedness obligation is shown to hold there (exactly, `closed_sign`; the shown ones hold on the
        whole domain) -- one undecided or failing leaves the point to the obligations' own search, which
        says "undefined" where it is -- and False where the sides' values are certified to differ.  Else
        True at a root of their difference (`_difference_to_solve`, `rest` None: an exact root of an
        expression equal to left - right on the domain, so 0 by algebra, never read off intervals).  At a
        point where only the difference's logs vanish (`_logs_vanish_where`), left - right is `rest`, the
        rest of its canonical form: True where that is exactly 0, False where it is not, None where that
        is undecided -- undecided is never equal: log(p(x)) - ELBO(q) + p(x) > 0 was refuted where its
        logs vanish, and p(x) = exp(-1.2e24) there (red team rt51 F3)."""
        for obligation in self.open:
            try:
                s = closed_sign(obligation.expr.xreplace(point_.values))
            except Undefined:
                return False
            if s is None or not obligation.holds_at(s):
                return False
        a, b = self.parts[k]
        try:
            s = closed_sign(Add(a, -b).xreplace(point_.values))
            if s is None and rest is not None:
                s = closed_sign(rest.xreplace(point_.values))
        except Undefined:
            return False
        if s is None:
            return None if rest is not None else True
        return s == 0

    def algebraic_counterexample(self, point_: AlgebraicPoint, k: int) -> Counterexample:
        """Both sides are exactly equal at the algebraic point, so the strict relation fails."""
        a, b = self.parts[k]
        left, right = (_closed_form(e.xreplace(point_.values)) for e in (a, b))
        shown = point_.shown + self._assumed_at(point_)
        (left_text, left_latex), (right_text, right_latex) = _root_side(left), _root_side(right)
        return Counterexample(shown, left_text, right_text, as_float(left, {}), as_float(right, {}),
                              k if len(self.parts) > 1 else None,
                              f"algebraic point: {_root_said(point_)} near a numeric minimum, both sides are "
                              f"exactly equal there",
                              values_latex=point_.latex, at=self._at(k if len(self.parts) > 1 else None),
                              lhs_latex=left_latex, rhs_latex=right_latex)

    def undefined_at(self, point_: AlgebraicPoint, obligation: Obligation) -> Counterexample:
        """The obligation's expression is exactly 0 at the algebraic point: undefined there."""
        shown = point_.shown + self._assumed_at(point_)
        return Counterexample(shown, "undefined", "undefined", float("nan"), float("nan"), obligation.z,
                              f"algebraic point: {_root_said(point_)} near a numeric minimum",
                              f"{obligation.failure()} (exactly 0 there)",
                              values_latex=point_.latex, at=self._at(obligation.z))

    def _at(self, k) -> str:
        return self.model.point_text(k) if isinstance(k, int) else ""

    def _assumed_at(self, point_: AlgebraicPoint) -> tuple:
        out: tuple = ()
        for o, q in self.model.assumed.items():  # q fixed by an assumption: show its value too
            label = "q(z)" if len(self.model.observations) == 1 else f"q(z | {o})"
            out += ((label, tuple(root_text(_closed_form(v.xreplace(point_.values))) for v in q)),)
        return out

    # -- float screening --------------------------------------------------------------

    def margin_function(self):
        """A float function: how far the relation (and each open obligation) is from failing."""
        params = self.model.parameters
        sides = [(compile_float(a, params), compile_float(b, params)) for a, b in self.parts]
        checks = [(o.kind, compile_float(o.expr, params)) for o in self.open]
        rel = self.rel

        def margin(point) -> float:
            worst = float("inf")
            for kind, f in checks:
                v = f(point)
                if v != v:
                    return float("-inf")
                worst = min(worst, v if kind == "positive" else abs(v))
            for fa, fb in sides:
                a, b = fa(point), fb(point)
                if a != a or b != b:
                    return float("-inf")
                d = a - b
                scale = 1.0 + abs(a) + abs(b)
                if rel in (">=", ">"):
                    m = d / scale
                elif rel in ("<=", "<"):
                    m = -d / scale
                else:
                    m = -abs(d) / scale
                worst = min(worst, m)
            return worst

        return margin


def _compiled_exactly(parts: tuple, model: ExplicitModel):
    """((compiled left, compiled right) per part, the instance reader), when every side is a rational
    function of the model's parameters; else None."""
    rational = rational_type()
    compiled = [tuple(compile_rational(e, model.parameters, rational) for e in pair) for pair in parts]
    if any(f is None for pair in compiled for f in pair):
        return None
    return compiled, values_reader(model, lambda v: rational(v.numerator, v.denominator))


def _operations(exprs: list[Expr]) -> int:
    """The distinct operations (sums, products, powers, logs, ...) of the expressions: what
    evaluating them once at a point does, each shared subexpression counted once."""
    seen: set = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if e.args and e not in seen:
            seen.add(e)
            stack.extend(e.args)
    return len(seen)


def _exact_text(e: Expr, values) -> str:
    return _exact_value(e, values)[0]


def _exact_number(e: Expr, values) -> LogNumber | None:
    """`e`'s exact value at `values`, None when it has none in the exact class (or is undefined)."""
    try:
        return value(e, values)
    except (Undefined, ArithmeticError, OverflowError) as raised:
        reraise_callers(raised)
        return None


def _exact_value(e: Expr, values) -> tuple[str, str]:
    """`e`'s exact value as text and as the printer's LaTeX of the same form ("" when there is
    no number to typeset: undefined, not in closed form, too long)."""
    try:
        v = value(e, values, pi=True)
    except Undefined:
        return "undefined", ""
    if v is None:
        return _side_at_point(e, values)
    form = short_form(v)  # one form, written as text and typeset: the two say the same
    text = form.text
    if len(text) > MAX_VALUE_TEXT and v.is_rational:  # a plain fraction too long to print (rt42 F4)
        described = _long_rational(v.rational)
        return described, "" if described.startswith("(") else to_latex(Integer(v.rational.numerator))
    if len(text) > MAX_VALUE_TEXT:
        return f"({counted(len(v.logs), 'log term')})", ""
    return text, to_latex(form.expr)


def _side_at_point(e: Expr, values) -> tuple[str, str]:
    """A value outside the exact class (rationals and logs) as `_exact_value` gives it: the expression at the
    point when no symbol is left and it is short ("exp(1000)", "exp(2199023255552)" at a far end), else "(not
    in closed form)" -- which was all a far end's exp(2**41) said (h-rt47's note)."""
    at = e.xreplace({s: Rational(v.numerator, v.denominator) for s, v in values.items()})
    text = to_text(at)
    if at.free_symbols or len(text) > MAX_VALUE_TEXT:
        return "(not in closed form)", ""
    return text, to_latex(at)


def _beyond_float(e: Expr, values, shown: float) -> str:
    """`e`'s value to six certified figures when its float `shown` cannot hold it (inf, or 0 for a value that
    is not 0: a far end's exp(2**41), exp(-1000)); "" when the float holds it or no digits are certain."""
    if math.isnan(shown) or (math.isfinite(shown) and shown != 0):
        return ""
    return _certified_digits(approx_text(e, values))


def _certified_digits(approx: str) -> str:
    """The digits of an approx_text certified to six figures ("≈ 1.97007e+434" -> "1.97007e+434"); "" when
    it certified none, or the value is 0 ("≈ 0.0": the float's 0 was the value, the sides are alike)."""
    digits = approx.removeprefix("≈ ")
    return digits if approx.startswith("≈ ") and digits.lstrip("-0.") else ""


def _long_rational(r: Fraction) -> str:
    """A rational too long to print, described: ``-10**144`` (a power of 2 or 10, exact), "(an integer of
    145 digits)", "(a fraction of 145 digits over 3 digits)" (red team rt45 F3: not "over 1 digits")."""
    top = abs(r.numerator)
    sign = "-" if r < 0 else ""
    if r.denominator == 1:
        power = integer_power(top)
        return f"{sign}{power[0]}**{power[1]}" if power is not None else f"(an integer of {len(str(top))} digits)"
    return f"(a fraction of {counted(len(str(top)), 'digit')} over {counted(len(str(r.denominator)), 'digit')})"


def _value_text(e: Expr, values) -> str:
    """" (= -1/6)" after a failed obligation: the value exactly (log(pi) included), else certified to
    six digits (a Gaussian density's exp: " (≈ -0.0121)"), "" when 0 or not known."""
    try:
        v = value(e, values, pi=True)
    except Undefined:
        return ""
    if v is None:
        approx = approx_text(e, values)
        return f" ({approx})" if approx.startswith("≈") else ""
    if v.is_zero:
        return ""
    text = value_text(v)
    if len(text) > MAX_VALUE_TEXT:
        return f" (≈ {v.to_float():.6g})"
    return f" (= {text})" if v.is_rational else f" (= {text} ≈ {v.to_float():.6g})"


def _closed_form(e: Expr) -> Expr:
    """A side's value at an algebraic point, as shown: rational in one CRootOf r, its one form in Q(r)
    (a polynomial in r of degree below r's: 0 when it is 0, numbers.algebraic); such a form beside logs,
    each coefficient in its one form (``1 + log(2)``, not r's powers up to r**8 beside log(2)); else
    expanded, with square roots out of the denominators."""
    from sympy import expand, radsimp

    try:
        in_field = in_root(e)
        with_logs = in_root_with_logs(e) if in_field is None else None
    except ZeroDivisionError as raised:
        reraise_callers(raised)
        in_field = with_logs = None
    if in_field is not None:
        return in_field.as_expr()
    return with_logs if with_logs is not None else radsimp(expand(e))


def _root_side(e: Expr) -> tuple[str, str]:
    """A side's value at an algebraic point as text and LaTeX; one longer than MAX_VALUE_TEXT (several logs
    of the root beside their coefficients, reduced in Q(r) though they are) said so, its value to six
    digits beside it, as `_exact_value` cuts an instance's (rt42 F15: a 1,900-character side ran off
    find-the-mistake.pdf)."""
    text = root_text(e)
    if len(text) > MAX_VALUE_TEXT:
        return f"(an exact value of {len(text)} characters)", ""
    return text, to_latex(e)


def _root_said(point_: AlgebraicPoint) -> str:
    """"t is the root t ≈ 1.32472 of t**3 - t - 1 = 0": which coordinate was solved, and its value."""
    approx = f" {point_.approx}" if point_.approx.startswith("≈") else ""
    return f"{point_.coordinate} is the root t{approx} of {point_.polynomial} = 0"


def _search(lhs: Expr, rel: str, rhs: Expr, model: ExplicitModel, examples, open_obligations,
            seed: int, light: bool = False, phase: str = "all", premises: PremiseJudge | None = None,
            tally: PremiseTally | None = None, work: WorkCount | None = None,
            pins: tuple = (), polishing: Allowance | None = None
            ) -> tuple[Counterexample | None, int, int, tuple[str, ...]]:
    """(counterexample or None, instances held, instances undecided, undecided instances that
    the search builds on purpose: examples and the family's special cases).  `phase`: "all";
    "quick", only the exact candidates (examples, special cases, random instances); "rest",
    everything but them (the model had its quick pass).  With `premises`, only an instance
    shown to satisfy every premise is decided (the others are counted in `tally`).  Each point
    screened in floats and each instance tried exactly is counted in `work` (the judge's
    `point_cost`; SEARCH_EXACT_WEIGHT times that for an exact one), which may end the search.
    `pins`: (block, values) every instance is given (the exact decision's whole number, `exact.Pin`).
    `polishing`: the step's polishing allowance, shared by its models (a fresh one when not given)."""
    judge = _Instances(lhs, rel, rhs, model, open_obligations)
    polishing = polishing if polishing is not None else Allowance()
    tally = tally if tally is not None else PremiseTally()
    work = work if work is not None else WorkCount.uncounted()
    exact_cost = SEARCH_EXACT_WEIGHT * judge.point_cost
    held = undecided = 0
    tried: set = set()
    skipped: list[str] = []
    outside: list[str] = []  # where the step failed at no model of the family: no counterexample
    on_purpose = False

    def try_one(instance: Instance, same_sign: tuple[_SameSign, ...] = ()) -> Counterexample | None:
        """Decide `instance` (once); `same_sign`: forms of the parts' differences that decide it where
        the sides leave it undecided (the far end's, `_far_end_differences`) -- only to refute."""
        nonlocal held, undecided
        instance = _pinned(instance, pins)
        key = instance.key()  # every block (a family may have more than prior, likelihood and q)
        if key in tried:
            return None
        tried.add(key)
        work.spend(exact_cost)
        try:
            model.validate(instance)  # only an instance of the domain may refute
        except ValueError as raised:
            reraise_callers(raised)
            return None
        if premises is not None:  # ... and only one shown to satisfy every premise
            status = premises.status(instance)
            if status != HOLDS:
                if status == UNDECIDED:
                    tally.undecided += 1
                else:
                    tally.outside += 1
                return None
        decision = judge.decide(instance)
        if decision.status == "undecided" and same_sign:
            decision = _decided_by_sign(judge, instance, same_sign) or decision
        if decision.status in ("fails", "undefined"):
            if _outside_model(model, instance, outside):
                return None  # no model of the family here: no counterexample (docs/02)
            return _within_premises(judge.counterexample(instance, decision), premises)
        if decision.status == "holds":
            held += 1
        else:
            undecided += 1
            if on_purpose:
                skipped.append(instance.source)
        return None

    candidates = exact_candidates(model, examples, seed)  # also the far end's bases (below)
    for instance in candidates if phase != "rest" else ():
        on_purpose = instance.source != RANDOM_SOURCE
        found = try_one(instance)
        if found:
            return found, held, undecided, ()
    if phase == "quick":
        _refuse_outside_model(outside)
        return None, held, undecided, tuple(skipped)
    on_purpose = False
    # boundary families, screened in floats; the closest calls are decided exactly
    uncounted_margin = judge.margin_function()
    if premises is not None:  # a point fails only where the step fails *inside* the premises
        step_margin, inside = uncounted_margin, premises.margin_function()

        def uncounted_margin(p) -> float:
            return max(step_margin(p), -inside(p))

    def margin(p) -> float:
        work.spend(judge.point_cost)
        return uncounted_margin(p)
    scored: list[tuple[float, int, Instance]] = []
    point = point_reader(model)
    for instance in boundary_instances(model, LIGHT_BOUNDARY_INSTANCES if light else MAX_BOUNDARY_INSTANCES, seed):
        scored.append((margin(point(instance)), len(scored), instance))
    scored.sort(key=lambda t: (t[0], t[1]))
    # clear failures in the order generated (larger eps first: simpler numbers), then near misses
    failing = sorted((t for t in scored if t[0] < -1e-9), key=lambda t: t[1])
    near = [t for t in scored if -1e-9 <= t[0] <= 1e-9] if rel != "=" else []
    nominated = (failing + near)[:SCREEN_CERTIFY]
    nominated += [t for t in scored[:SCREEN_KEEP] if t not in nominated]
    for _, _, instance in nominated:
        found = try_one(instance)
        if found:
            return found, held, undecided, ()
    # numeric minimisation from the closest calls and a few random starts
    starts = [instance for _, _, instance in scored[:3]]
    minima: list = []
    for instance in minimise(margin, model, starts, seed, LIGHT_MINIMISER_STARTS if light else MINIMISER_STARTS,
                             minima):
        found = try_one(instance)
        if found:
            return found, held, undecided, ()
    # each real parameter's open ends, exactly: past every root of the difference where its sign fails
    # -- nominated where the step fails, so one left undecided is one on purpose: never `checked` (session 22)
    bases = [i for i in candidates if i.source == RANDOM_SOURCE]
    far_differences, same_sign = _far_end_differences(judge.parts, model)
    on_purpose = True
    for instance in far_end_instances(model, far_differences, lambda s: not holds(rel, s),
                                      bases[:1 if light else FAR_END_BASES], lambda: work.spend(exact_cost)):
        found = try_one(instance, same_sign)
        if found:
            return found, held, undecided, ()
    on_purpose = False
    if rel in (">=", "<=") and any(m[0] < ALGEBRAIC_TOLERANCE for m in minima):
        # false only on a sliver between two close roots, too thin for floats: a rational there (red team rt43 F6)
        for a, b in judge.parts:
            for instance in between_roots(model, _difference_to_solve(a, b, model), minima):
                found = try_one(instance)
                if found:
                    return found, held, undecided, ()
    meetings: list[str] = []  # algebraic points where the step fails and a premise is undecided

    def refutes_at(point_: AlgebraicPoint) -> bool:
        """Whether the step's failure at the algebraic point is a counterexample: a model of the
        family there, and every premise shown to hold there (exactly; undecided is remembered)."""
        if _outside_model(model, point_, outside):
            return False
        if premises is not None:
            work.spend(exact_cost)  # deciding the premises there: an exact decision, as an instance's
        status = HOLDS if premises is None else premises.status_at_point(point_.values)
        if status == UNDECIDED:
            tally.undecided += 1
            meetings.append(_point_text(point_))
        elif status != HOLDS:
            tally.outside += 1
        return status == HOLDS

    unequal_undecided: list[str] = []  # algebraic points where the sides were neither shown equal nor different

    def fails_at(point_: AlgebraicPoint, k: int, rest: Expr | None = None) -> bool:
        """Whether the strict step fails at the algebraic point (its sides exactly equal there, and
        `refutes_at`); a point inside where their difference is undecided is remembered, never a failure."""
        meets = judge.meets_at(point_, k, rest)
        if meets is None and refutes_at(point_):
            unequal_undecided.append(_point_text(point_))
        return bool(meets) and refutes_at(point_)

    near_minima: list = []  # minima of |left - right| formed symbolically (a strict step's), polished too
    met: list[Meeting] = []  # where a strict step's sides genuinely meet at no point the search can give
    if rel in (">", "<"):  # a strict relation may fail only where both sides are equal (an algebraic point)
        differences = [_difference_to_solve(a, b, model) for a, b in judge.parts]
        for k, difference_ in enumerate(differences):
            for point_, rest in _solved_points(model, difference_, judge.parts[k], minima):
                if fails_at(point_, k, rest):
                    return _within_premises(judge.algebraic_counterexample(point_, k), premises), held, \
                        undecided, ()
        # ... and near the zeros of the difference formed symbolically: a term on both sides (sigma**2,
        # a KL) cancels there, while in floats its large values swamp the margin (red team rt42 F5)
        inside_margin = premises.margin_function() if premises is not None else None
        for k, difference_ in enumerate(differences):
            near = _near_equal(difference_, model, seed, inside_margin, lambda: work.spend(judge.point_cost))
            near_minima += near
            for point_ in algebraic_points(model, difference_, near):
                if fails_at(point_, k):
                    return _within_premises(judge.algebraic_counterexample(point_, k), premises), held, \
                        undecided, ()
    # a minimum near 0 polished at 60 and 120 digits: a rational 10**-digits from it decided exactly (a sliver
    # 10**-48 thin, logs left: red team rt46 F2); a strict step's genuine meeting there is remembered (rt46 F7)
    compared = premises.compared if premises is not None else ()
    polish_cost = POLISH_WEIGHT * judge.point_cost
    for instance in polished_instances(model, judge.parts, rel, minima + near_minima, compared, judge.open,
                                       lambda: work.spend(polish_cost), polish_cost, polishing, met):
        found = try_one(instance)
        if found:
            return found, held, undecided, ()
    # an expression undefined only at irrational points: a divisor (or log argument) that is 0 only there
    premise_margin = premises.margin_function() if premises is not None and judge.open else None
    for obligation in judge.open[:MAX_OBLIGATION_SEARCHES]:
        size = compile_float(obligation.expr, model.parameters)

        def distance_to_zero(p: tuple[float, ...], size=size) -> float:
            work.spend(judge.point_cost)  # 0 only inside the premises (their margin >= 0)
            return abs(size(p)) if premise_margin is None else max(abs(size(p)), -premise_margin(p))

        near_zero: list = []
        for instance in minimise(distance_to_zero, model, starts, seed, LIGHT_MINIMISER_STARTS, near_zero):
            found = try_one(instance)
            if found:
                return found, held, undecided, ()
        for point_ in algebraic_points(model, obligation.expr, near_zero):
            if refutes_at(point_):
                return _within_premises(judge.undefined_at(point_, obligation), premises), held, undecided, ()
    _refuse_outside_model(outside)
    if meetings:
        raise _UndecidedPremises(f"{PREMISES_UNDECIDED} ({meetings[0]})")
    if met:
        raise _SidesMeet(f"{SIDES_MEET} ({met[0].text()})")
    if unequal_undecided:
        raise _SidesMeet(f"{SIDES_UNDECIDED} ({unequal_undecided[0]})")
    return None, held, undecided, tuple(dict.fromkeys(skipped))


def _point_text(point_: AlgebraicPoint) -> str:
    """An algebraic point's coordinates as an error names them: "sigma = 1, q(z) = (1/3, 2/3)"."""
    return ", ".join(f"{label} = {v[0] if len(v) == 1 else '(' + ', '.join(v) + ')'}" for label, v in point_.shown)


def _difference_to_solve(a: Expr, b: Expr, model: ExplicitModel) -> Expr:
    """left - right (unfolded sides) as `algebraic_points` solves it: as formed when no log, exp or pi is in
    it, else its canonical form (engine.canonical: each log split into atoms, those whose coefficients cancel
    dropped -- `explain`'s residual) when that has none left.  log(sigma**2) against 2 log(sigma), ELBO(q)
    against E(q, log p(x | z)) - KL cancel only there, so a strict step false where the rest vanishes was
    never solved and passed with accept (red team rt43 F1).  The canonical form equals left - right on the
    domain wherever both are defined (what a proof by it rests on); where they are defined at the point is
    asked there (`_Instances.defined_at`)."""
    formed = Add(a, -b)
    if solvable(formed):
        return formed
    try:
        form = canonical(formed, model)
    except TooLarge:
        return formed
    if any(key for key, _ in form.terms):  # a log atom (or an opaque term) is left: no polynomial to solve
        return formed
    residual = form.as_expr()
    known = set(model.parameters)
    return residual if solvable(residual) and residual.free_symbols <= known else formed


def _solved_points(model: ExplicitModel, difference: Expr, part: tuple[Expr, Expr], minima: list):
    """(point, rest): the algebraic points near `minima` where `difference` (`_difference_to_solve`) is 0, rest
    None (an exact root of an expression equal to left - right on the domain); when logs are left in it,
    those where they vanish together (`_logs_vanish_where`) after them, rest the canonical form's log-free
    part, which left - right equals there.  A strict step may fail there, which `judge.meets_at` decides."""
    for point_ in algebraic_points(model, difference, minima):
        yield point_, None
    if not solvable(difference):
        units, rest = _logs_vanish_where(Add(part[0], -part[1]), model)
        for unit in units:
            for point_ in algebraic_points(model, unit, minima):
                yield point_, rest


def _logs_vanish_where(formed: Expr, model: ExplicitModel) -> tuple[tuple[Expr, ...], Expr]:
    """Where the log terms of left - right vanish together, as expressions `algebraic_points` solves (their
    zeros), and the log-free part of its canonical form (left - right there), when the form's log terms are
    c_1 log(a_1) + ... with rational c_i and a_i rational functions of the parameters: log(a_1**n_1 * ...) = 0
    where a_1**n_1 * ... = 1 (n_i = c_i L, L the least common denominator), i.e. where the a_i with n_i > 0,
    raised, equal the others -- or their negative, as the form may file log(2 - t) as log(t - 2) (red team
    rt49 F10); no units otherwise.  The
    Gaussian KL(q(z), Normal(mu, v)) is log(v)/2 - log(sigma) + sigma**2/(2 v) - 1/2, 0 on the rational curve
    v = sigma**2, which no coordinate rounded on its own reaches: under the premise sigma != v, the step
    KL > 0 passed with accept (red team rt47 F1).  Only where to look: the step is decided there exactly --
    the rest need not vanish with the logs (log(p(x)) - ELBO(q) + p(x) at w = 0 is p(x): red team rt51 F3)."""
    none: tuple[tuple[Expr, ...], Expr] = ((), S.Zero)
    try:
        form = canonical(formed, model)
    except TooLarge:
        return none
    powers: list[tuple[Expr, Rational]] = []
    rest: Expr = S.Zero
    for key, coefficient in form.terms:
        if not key:
            rest = with_exps(coefficient)
            continue
        if len(key) != 1 or key[0][0] != "log" or not coefficient.is_Rational:
            return none
        powers.append((key[0][1], coefficient))
    if not powers:
        return none
    scale = math.lcm(*(int(c.q) for _, c in powers))
    up = Mul(*(a ** (c * scale) for a, c in powers if c > 0))
    down = Mul(*(a ** (-c * scale) for a, c in powers if c < 0))
    known = set(model.parameters)
    return tuple(unit for unit in (up - down, up + down)
                 if solvable(unit) and unit.free_symbols and unit.free_symbols <= known), rest


@dataclass(frozen=True)
class _SameSign:
    """A form of part `part`'s left - right with its sign wherever the part's sides are defined: its
    canonical form (equal on the domain), divided by its positive exp factors.  It decides a far-end
    instance the sides cannot: exp(beta) - exp(beta) at beta = 2**41 is undecided side by side (each
    side is some e**(2**41)), beta - 10**12 is not (`_far_end_differences`)."""

    part: int
    expr: Expr


def _far_end_differences(parts: tuple, model: ExplicitModel) -> tuple[tuple[Expr, ...], tuple[_SameSign, ...]]:
    """left - right of each part as the far end slices it (search.far_end_instances): as formed, then, for
    a part with a parameter inside an exp or a log, its canonical form (engine.canonical: exp(a) exp(b) =
    exp(a + b), cancelling logs dropped), its positive exp factors divided out (`_without_exp_factors`),
    when that differs and keeps no symbol outside the model's -- returned again as `_SameSign` forms, to
    decide the instances nominated.  `beta * KL * exp(beta) * exp(-beta) <= 10**12 * KL` was never sliced
    (beta inside an exp) and passed with accept, false from beta = 10**12 (red team rt47 F2);
    `beta exp(beta) exp(-beta) + exp(beta) <= 10**12 + exp(beta)` was sliced but each instance nominated
    was undecided (e**(2**41) on both sides), and `beta exp(beta) <= 10**12 exp(beta)` kept beta inside
    an exp: both passed with accept (session 22)."""
    formed = tuple(Add(a, -b) for a, b in parts)
    known = set(model.parameters)
    ends = {symbol for block in model.blocks if far_ends(block) for symbol in block.symbols}

    def trapped(e: Expr) -> set:
        """The parameters with a far end inside an exp or a log of `e` (where the slice refuses e)."""
        return {s for node in e.atoms(exp, log) for s in node.free_symbols & ends}

    extra: list[_SameSign] = []
    for k, difference_ in enumerate(formed):
        inside = trapped(difference_)
        if not inside:
            continue
        try:
            residual = _without_exp_factors(with_exps(canonical(difference_, model).as_expr()))
        except TooLarge:
            continue
        # only a form that frees a parameter: slicing one that keeps them all inside costs much and finds
        # nothing (red team rt49 F8: a Gaussian D = 6 step's logs of sigma_d ran out of its budget)
        if residual.free_symbols <= known and inside - trapped(residual):
            extra.append(_SameSign(k, residual))
    return formed + tuple(f.expr for f in extra), tuple(extra)


def _decided_by_sign(judge: _Instances, instance: Instance, forms: tuple[_SameSign, ...]) -> _Decision | None:
    """"fails" at `instance` where a form with its part's sign fails the relation there, exactly; None
    where none does (their "holds" is not taken: a side may be undefined where the form is not)."""
    values = judge.model.values(instance)
    for form in forms:
        try:
            s = sign_of(form.expr, values)
        except Undefined as raised:
            reraise_callers(raised)
            continue
        if s is not None and not holds(judge.rel, s):
            a, b = judge.parts[form.part]
            return _Decision("fails", form.part if len(judge.parts) > 1 else None, left=a, right=b)
    return None


def _without_exp_factors(e: Expr) -> Expr:
    """`e` with its common exp factors divided out: exp of a real is positive, so the sign is `e`'s
    ((beta - 10**12) exp(beta) -> beta - 10**12).  `e` itself when it has none."""
    coefficient, factors = factor_terms(e).as_coeff_mul()
    kept = [f for f in factors if not isinstance(f, exp)]
    return e if len(kept) == len(factors) else Mul(coefficient, *kept)


def _near_equal(difference: Expr, model, seed: int, inside_margin, spend: Callable[[], None]) -> list:
    """The numeric minima of |difference| (inside the premises, whose margin is >= 0 there) from random
    starts: where an algebraic point may make the two sides equal.  The minimiser's rounded instances
    are not decided (the search decided its own); only its minima are returned, none when no algebraic
    point can come of them (`solvable`)."""
    if not solvable(difference):
        return []
    size = compile_float(difference, model.parameters)

    def distance(p: tuple[float, ...]) -> float:
        spend()
        return abs(size(p)) if inside_margin is None else max(abs(size(p)), -inside_margin(p))

    minima: list = []
    for _ in minimise(distance, model, [], seed, LIGHT_MINIMISER_STARTS, minima):
        pass
    return minima


def _within_premises(found: Counterexample, premises: PremiseJudge | None) -> Counterexample:
    """A counterexample found under premises says that every premise holds there."""
    return found if premises is None else replace(found, source=f"{found.source}; every premise holds there")


PREMISES_UNDECIDED = ("not checked: the step fails at an algebraic point (the two sides are exactly equal there, "
                      "or an expression is undefined there), and the premises could not be decided there")
"""The start of a step's `error` where the search found the step failing at an algebraic point whose
premises it could not decide (`_UndecidedPremises`): a counterexample if they hold there, so the
step may not pass as `checked`."""


class _UndecidedPremises(Exception):
    """The step fails at an algebraic point where a premise is undecided: neither a counterexample
    nor a point where the step held, so the step is `error` (undecided is never "holds")."""


SIDES_MEET = ("not checked: the two sides of this strict step meet at a point the search cannot give exactly "
              "(no rational point, and no algebraic one it could solve for), so it may be false there; neither a "
              "counterexample nor a point where it held")
"""The start of a strict step's `error` where a polished float minimum shows its sides meeting well inside
the domain and every premise (engine.polishing: the meeting is genuine), at no point an exact instance
reaches (red team rt46 F7: false at an irrational point, it passed with accept)."""


SIDES_UNDECIDED = ("not checked: this strict step may fail at an algebraic point (where its difference, or the "
                   "logs in it, vanish), and its two sides could not be shown equal or different there; neither a "
                   "counterexample nor a point where it held")
"""The start of a strict step's `error` where `_Instances.meets_at` was undecided at an algebraic point inside
the domain and every premise: undecided is never equal (no counterexample, red team rt51 F3) and never
different (no pass)."""


class _SidesMeet(Exception):
    """A strict step's sides genuinely meet at a point the search cannot give exactly: `error`."""


OUTSIDE_MODEL = "not refuted: it fails only at an instance that is no model of the family"
"""The start of a step's `error` where the search found the step failing at an instance where an
assumption makes no model (`_OutsideModel`); under a refused assumption the step names the refusal."""


class _OutsideModel(Exception):
    """The step fails (or is undefined) at an instance where an assumption's q is no distribution:
    no counterexample (docs/02: a counterexample lies in the domain), so the step is `error`."""


def _outside_model(model: ExplicitModel, where: Instance | AlgebraicPoint, outside: list[str]) -> bool:
    """Whether an assumption makes no model at `where`, an instance or an algebraic point (the q it
    fixes is negative there, does not sum to 1, has variance 0, or is not shown to be a distribution)
    -- the one check of every distribution block (engine.wellformed), asked of that point; if so, what
    is wrong is added to `outside`.  Asked only where a step fails: cheap."""
    if not model.assumed:
        return False
    if isinstance(where, AlgebraicPoint):
        problem, source = algebraic_instance_problem(model, where.values), "an algebraic point"
    else:
        problem, source = instance_problem(model, model.values(where)), where.source
    if problem is not None:
        outside.append(f"{source}: {problem}")
    return problem is not None


def _refuse_outside_model(outside: list[str]) -> None:
    """After a model's search found no counterexample: when the step failed where an assumption makes
    no model, end the step (`_OutsideModel`) -- the search found the assumption's failure, not the step's."""
    if outside:
        raise _OutsideModel(f"{OUTSIDE_MODEL} ({outside[0]})")


def _explicit(model: Model, K: int) -> ExplicitModel:
    """The explicit K-state model of `model`'s family (itself when it is one: a K-state model's
    ``explicit(K)`` is the model)."""
    return model.explicit(K)


def _examples_for(model, examples) -> tuple:
    """The file's examples that are instances of the explicit `model` (same K)."""
    return tuple(e for e in examples if e.K == model.K)


def _examples_agree(lhs: Expr, rel: str, rhs: Expr, model, examples) -> Counterexample | None:
    """For a proved step: re-decide it on the file's examples (a disagreement is a bug) -- on
    those shown to satisfy every premise (the step is only claimed there)."""
    for K in dict.fromkeys(e.K for e in examples):
        explicit = _explicit(model, K)
        mine = _examples_for(explicit, examples)
        symbolic = bool(sample_parameters(lhs, rhs))
        judge = None if symbolic else _Instances(lhs, rel, rhs, explicit, ())
        premises = PremiseJudge(premises_of(model), explicit) if premises_of(model) else None
        for instance in (e.instance for e in mine):  # exact_candidates' first len(mine), without its random ones
            if premises is not None and premises.status(instance) != HOLDS:
                continue
            if symbolic:  # k as the example gives it (IWAE(q, k) for every k)
                values = values_at((lhs, rhs), instance)
                judge = _Instances(instantiate(lhs, values), rel, instantiate(rhs, values), explicit, ())
            assert judge is not None
            decision = judge.decide(instance, shared=True)
            if decision.status in ("fails", "undefined"):
                return judge.counterexample(instance, decision)
    return None


def _is_density_model(explicit) -> bool:
    return explicit.spec.family == "gaussian"


def _search_everywhere(lhs: Expr, step: Step, model, examples, open_, definedness: bool = False,
                       exact: ExactPlan | None = None) -> tuple[Counterexample | None, int, int, Searched]:
    """The search in each explicit model of the family, in a fixed plan (`_search_plan`) run in
    full every time, so that the verdict does not depend on the machine's load.

    For a general claim (K = "any"): K = 2, 3, 5, 8, then densities (the Gaussian family, when
    the step has a Gaussian form), then the larger K.  With `definedness` (`_definedness_search`):
    its own fixed list, no larger K.  The step's budget is only a backstop: running out of it
    during a general claim's search ends the step in `error` saying where the search stopped.
    `exact`: the step's exact plan when `check_step` made it already.  Returns the counterexample (or
    None), instances held and undecided, and what was searched."""
    held = undecided = 0
    skipped: list[str] = []
    reached: list[int] = []
    densities = 0
    dimensions: list[int] = []
    notes: list[str] = []
    general = model.K == "any"
    models = model.search_models()
    exact = exact if exact is not None else exact_plan(lhs, step, model)
    notes += exact.notes
    if exact.first or exact.after:  # where the difference fails, or a factor of it changes sign (engine.dimensions)
        usual = tuple(m for m in models if m.spec.D not in exact.first)
        models = (tuple(model.explicit(n) for n in exact.first) + usual
                  + tuple(model.explicit(n) for n in exact.after if n not in {m.spec.D for m in usual}))
    found = None
    if general and not any(_is_density_model(m) for m in models):
        notes.append(f"no densities (the domain includes densities, but {model.no_densities()})")

    def is_larger(m) -> bool:
        return general and not _is_density_model(m) and m.K not in SEARCH_K

    if definedness:
        models = _definedness_models(tuple(m for m in models if not is_larger(m)))
    too_many_from: int | None = None  # the smallest larger K whose terms the step's draws cannot unfold
    quick_reached: list[int] = []
    tally = PremiseTally()
    # the whole plan is counted, so that where it stops does not depend on the machine's speed or load
    work = _search_work(general, definedness)
    polishing = Allowance()  # ... and the polishing's allowance is the step's, not each model's
    met: list[_SidesMeet] = []  # meetings the polishing named, set aside for the exact plan's named failure

    def search_one(explicit, light: bool, phase: str, pins: tuple = ()):
        """`_search_one` in `explicit`; a polished meeting (`_SidesMeet`) ends the step at once unless the
        exact plan names where the step fails (`exact.unreached`): that exact point is the more useful
        error ("fail at D = 7, w_1 = sqrt(2)"), so the plan runs on -- a rational counterexample still
        refutes -- and the plan's failure is the error when nothing does."""
        try:
            return _search_one(lhs, step, model, explicit, examples, open_, light, phase, tally, work,
                               pins, polishing)  # positional: tests wrap _search_one(*args)
        except _SidesMeet as meeting:
            if exact.unreached is None:
                raise
            met.append(meeting)
            return None, 0, 0, ()

    for pin in exact.pins:  # the exact decision's own values first (each with the quick pass)
        explicit = models[0] if pin.D is None else model.explicit(pin.D)
        try:
            found, h, u, skips = search_one(explicit, True, "quick", pin.blocks)
        except BudgetExceeded as error:
            _named_failure_first(met, exact)
            if not work.exhausted or definedness:
                raise
            clear_cache()
            raise BudgetExceeded(f"{error}: the counterexample search ran out at {pin.where}, before the rest of "
                                 "its fixed plan; nothing failed before") from None
        held, undecided = held + h, undecided + u
        skipped += [f"the {source} ({pin.where})" for source in skips]
        if pin.D is not None:
            densities += h
            dimensions.append(pin.D)
        if found is not None:  # an instance whose q the pin changed is no longer "q = p(z)": the pin names it
            found = replace(found, source=pin.where if pin.renames else f"{found.source}, {pin.where}")
            break
    plan = _search_plan(models, is_larger) if found is None else []
    for done, (explicit, phase) in enumerate(plan):
        if too_many_from is not None and is_larger(explicit) and explicit.K >= too_many_from:
            continue
        try:
            light = general and (_is_density_model(explicit) or explicit.K > FULL_SEARCH_K)
            found, h, u, skips = search_one(explicit, light, phase)
        except BudgetExceeded as error:
            _named_failure_first(met, exact)
            if definedness or not (general or work.exhausted):  # the definedness search says its own refusal
                raise
            clear_cache()
            raise BudgetExceeded(_ran_out(str(error), plan, done)) from None
        except TooManyTerms as error:  # a larger K the step's draws cannot unfold: no larger K either
            if not is_larger(explicit):
                raise
            clear_cache()
            too_many_from = explicit.K
            notes.append(f"stopped before K = {explicit.K}: the step would have {error.terms} terms there, more "
                         f"than {limits.MAX_IWAE_TERMS}")
            continue
        except UnfoldError as error:
            if not _is_density_model(explicit):
                raise
            clear_cache()
            notes.append("no densities (the step has no closed form for Gaussian densities: "
                         f"{str(error).split(' (')[0].split(': ')[0]})")
            continue
        held, undecided = held + h, undecided + u
        where = f"D = {explicit.spec.D}" if model.dimension is not None else \
            "a Gaussian density" if _is_density_model(explicit) else f"K = {explicit.K}"
        skipped += [f"the {source} ({where})" for source in skips]
        if _is_density_model(explicit):
            densities += h
            if model.dimension is not None:
                dimensions.append(int(explicit.spec.D))
        elif phase == "quick":
            quick_reached.append(explicit.K)
        else:
            reached.append(explicit.K)
        if found is not None:
            if explicit is not model and not found.source.startswith("example"):
                found = replace(found, source=f"{found.source}, {where}")
            break
    if found is None and exact.unreached is not None:
        raise UnfoldError(exact.unreached)
    only_quick = [k for k in quick_reached if k not in reached]
    if only_quick:
        notes.append(f"K = {', '.join(map(str, only_quick))}: examples, special cases and random instances only")
    covered = frozenset(map(str, exact.proof.covers)) if exact.proof is not None else frozenset()
    searched = Searched(tuple(reached), densities, held, undecided, tuple(notes) + tally.notes(),
                        tuple(sorted(set(dimensions))), tuple(skipped), covered)
    return found, held, undecided, searched


def _named_failure_first(met: list, exact: ExactPlan) -> None:
    """When the search stops (its budget) after setting a polished meeting aside (`met`), the exact
    plan's named failure (`exact.unreached`), not the budget, is the step's error."""
    if met and exact.unreached is not None:
        clear_cache()
        raise UnfoldError(exact.unreached) from None


def _general_work() -> WorkCount:
    """The count a general claim's whole search plan runs under (limits.GENERAL_SEARCH_WORK_OPERATIONS)."""
    return _work(GENERAL_SEARCH_WORK_OPERATIONS)


def _search_work(general: bool, definedness: bool) -> WorkCount:
    """The count a step's whole search plan runs under: the definedness search's
    (limits.DEFINEDNESS_SEARCH_WORK_OPERATIONS), a general claim's (`_general_work`), or a search in
    explicit models' (limits.SEARCH_WORK_OPERATIONS).  Every plan is fixed, so counted work ends it at the
    same place on every machine; the step's CPU-time budget stays the backstop."""
    if definedness:
        return _work(DEFINEDNESS_SEARCH_WORK_OPERATIONS)
    return _general_work() if general else _work(SEARCH_WORK_OPERATIONS)


def _work(limit: int) -> WorkCount:
    """A count of `limit` operations, whose exception names it (one wording for every counted search)."""
    return WorkCount(limit, work_limit_text(limit))


def work_limit_text(limit: int) -> str:
    """What a search that reached its work limit says ("work limit of 8,000,000 counted operations reached")."""
    return f"work limit of {limit:,} counted operations reached"


def _search_plan(models: tuple, is_larger) -> list[tuple[ExplicitModel, str]]:
    """(explicit model, phase) in the order searched, the same on every run: each model in full
    ("all"), except the larger K of a general claim (`is_larger`), which first get the quick pass
    each (the examples, the family's special cases and random instances: a uniform q at K = 233
    is cheap), then the rest of the search only at limits.GENERAL_SEARCH_FULL_LARGER_K."""
    larger = [m for m in models if is_larger(m)]
    return ([(m, "all") for m in models if not is_larger(m)] + [(m, "quick") for m in larger]
            + [(m, "rest") for m in larger if m.K in GENERAL_SEARCH_FULL_LARGER_K])


def _ran_out(budget_message: str, plan: list[tuple[ExplicitModel, str]], done: int) -> str:
    """The `error` of a general claim whose fixed search plan the budget did not let finish (`done`
    of its parts finished): never a `checked` on less evidence than the plan promises."""
    explicit, phase = plan[done]
    where = "the Gaussian densities" if _is_density_model(explicit) else f"K = {explicit.K}"
    part = {"quick": " (its quick pass)", "rest": " (the rest of its search)"}.get(phase, "")
    return (f"{budget_message}: the counterexample search ran out at {where}{part}, with {done} of the "
            f"{len(plan)} parts of its fixed plan done; nothing failed before")


def _definedness_models(models: tuple) -> tuple:
    """The explicit models a definedness search tries, in order: the smallest K, then the
    densities (where an obligation true for every finite K fails: H(q) > 0 for a narrow
    Gaussian q), then the other K of the fixed list.  A fixed list, so that what is found does
    not depend on the clock: the densities after K = 8 were reached, or not, within half the
    budget depending on the machine's load (refuted on one run, the refusal on another)."""
    densities = tuple(m for m in models if _is_density_model(m))
    finite = tuple(m for m in models if not _is_density_model(m))
    return finite[:1] + densities + finite[1:]


_HALF_FOR_DEFINEDNESS = "the definedness search's half of the budget"


def _definedness_search(lhs: Expr, step: Step, model, examples, open_):
    """The search of a K = "any" step whose identity is proved but whose definedness is not
    shown (log(-log(q(z))): defined for every finite K, not for a density above 1), in a fixed
    list of models (`_definedness_models`), so its verdict does not depend on the clock.  Half
    of what is left is only a backstop: a slow search (logs of logs near 0 need many digits)
    ends in a clear refusal naming the obligations, never in an exhausted budget.  A string:
    the refusal (the search found nothing, or ran out of its half)."""
    for o in open_:
        values = model.density_witness(o.expr, o.kind)
        if values is not None:
            return (f"not defined for every latent space: {o.describe()} fails for densities with {values} (on a "
                    f"set of positive probability), though it holds for every finite K; give an explicit K")
    missing = "; ".join(dict.fromkeys(o.describe() for o in open_[:3]))
    plan = _obligations_plan(lhs, step, model, open_)
    if plan is not None:  # the Gaussian D = "any": every number of dimensions, not every latent space
        refusal = (f"could not show that every expression is defined for every number of dimensions D: {missing}; "
                   f"no instance where it fails was found")
        give = "give an explicit D"
    elif unequal := [p for p in premises_of(model) if p.rel == "!="]:  # rt37 F3: an explicit K would not help
        shown = ", ".join(f"{p.lhs.text} != {p.rhs.text}" for p in unequal)
        refusal = (f"could not show that every expression is defined for every latent space: {missing} (no "
                   f"certificate shows it; certificates do not use the premise {shown}, here or at an explicit K); "
                   f"no instance where it fails was found")
        give = "an explicit K helps only where the premise is not needed"
    else:
        refusal = (f"could not show that every expression is defined for every latent space: {missing} (no "
                   f"certificate shows it for densities, where an expression defined for every finite K may still "
                   f"fail: their values exceed 1); no instance where it fails was found")
        give = "give an explicit K"
    counted = work_limit_text(DEFINEDNESS_SEARCH_WORK_OPERATIONS)
    try:
        with budgets.limit(budgets.remaining() / 2, _HALF_FOR_DEFINEDNESS):
            found = _search_everywhere(lhs, step, model, examples, open_, definedness=True, exact=plan)
    except BudgetExceeded as error:
        if str(error) not in (_HALF_FOR_DEFINEDNESS, counted):  # the step's own budget: its verdict as for any step
            raise
        clear_cache()
        spent = "half the step budget" if str(error) == _HALF_FOR_DEFINEDNESS else \
            f"its work limit ({DEFINEDNESS_SEARCH_WORK_OPERATIONS:,} counted operations)"
        return f"{refusal} before the search ran out of {spent}; {give}"
    if found[0] is not None:
        return found
    where = found[3].describe()
    return f"{refusal} ({where}); {give}" if where else f"{refusal}; {give}"


def _obligations_plan(lhs: Expr, step: Step, model, open_) -> ExactPlan | None:
    """For the Gaussian D = "any" (None for other models): the exact plan (engine.exact) of each open
    obligation, decided as the step `f > 0` (a log argument) or `f**2 > 0` (a divisor), so that the
    search tries first where it fails -- log((D - 9)**2 + Sum(w_d**2, (d, 1, D))) at D = 9 with every
    w_d = 0, refuted there (red team rt24 F3) -- or the step is an error naming a D beyond the search;
    after the step's own plan (as the search makes it without them).  An obligation the plan cannot
    read adds nothing."""
    if model.dimension is None:
        return None
    plans, beyond = [exact_plan(lhs, step, model)], []
    for o in open_:
        e = o.expr if o.kind == "positive" else o.expr ** 2
        said = f"the {o.describe()}"
        try:
            plan = exact_plan(e, replace(step, rel=">", formula=Formula(Integer(0), "0", step.line)), model)
        except UnfoldError as error:  # it fails beyond the search (D = 70 > MAX_SEARCH_D): an error naming D
            beyond.append(str(error).replace("left - right = ", f"{said}: ", 1))
            continue
        plans.append(replace(plan, pins=tuple(replace(pin, where=pin.where.replace("left - right", said))
                                              for pin in plan.pins)))
    return ExactPlan(tuple(dict.fromkeys(n for p in plans for n in p.first)),
                     tuple(dict.fromkeys(n for p in plans for n in p.after)),
                     next((u for u in (*(p.unreached for p in plans), *beyond) if u is not None), None),
                     tuple(dict.fromkeys(pin for p in plans for pin in p.pins)),
                     tuple(note for p in plans for note in p.notes))


def _search_one(lhs: Expr, step: Step, model, explicit, examples, open_, light: bool = False,
                phase: str = "all", tally: PremiseTally | None = None, work: WorkCount | None = None,
                pins: tuple = (), polishing: Allowance | None = None
                ) -> tuple[Counterexample | None, int, int, tuple[str, ...]]:
    if explicit is model:
        open_here = open_
    else:
        _, open_here = _definedness((lhs, step.expr), explicit)
    seed = seed_for(structure(lhs), step.rel, structure(step.expr), step.rule, explicit.K)
    premises = PremiseJudge(premises_of(model), explicit) if premises_of(model) else None
    if premises is not None and _is_density_model(explicit) and _pointwise_premise(model):
        if tally is not None:  # a density is decided at one z: a premise "for every z" is not decided there
            tally.densities_left_out = True
        return None, 0, 0, ()
    if sample_parameters(lhs, step.expr):
        return _search_counts(lhs, step, explicit, examples, seed, light, phase, premises, tally, work, polishing)
    with quick_factoring():
        return _search(lhs, step.rel, step.expr, explicit, _examples_for(explicit, examples), open_here, seed,
                       light, phase, premises, tally, work, pins, polishing)


def _pointwise_premise(model: Model) -> bool:
    """Some inequality premise has a free z (it holds for every z): a density model, decided at
    one z, cannot show it."""
    explicit = model.explicit(2) if model.K == "any" else model
    return any(p.rel != "!=" and len(explicit.unfold_pointwise(difference(p.lhs.expr, p.rhs.expr))) > 1
               for p in premises_of(model))


def _search_counts(lhs: Expr, step: Step, explicit, examples, seed: int, light: bool, phase: str,
                   premises: PremiseJudge | None, tally: PremiseTally | None, work: WorkCount | None,
                   polishing: Allowance | None = None) -> tuple[Counterexample | None, int, int, tuple[str, ...]]:
    """The search with a symbolic number of samples k: at each whole number n the step unfolds
    at (engine.samples), the step with k = n searched like any other; a counterexample names n.  Every n
    polishes from one `polishing` allowance (the step's)."""
    polishing = polishing if polishing is not None else Allowance()
    held = undecided = 0
    skips: tuple[str, ...] = ()
    given = [values_at((lhs, step.expr), e.instance) for e in _examples_for(explicit, examples)]
    chosen = instantiations((lhs, step.expr), explicit.K, lowest_values(explicit))
    for values in chosen + [v for v in given if v not in chosen and v in _fitting(lhs, step.expr, explicit.K, v)]:
        left, right = instantiate(lhs, values), instantiate(step.expr, values)
        _, open_here = _definedness((left, right), explicit)
        mine = tuple(e for e in _examples_for(explicit, examples) if values_at((lhs, step.expr), e.instance) == values)
        with quick_factoring():
            found, h, u, s = _search(left, step.rel, right, explicit, mine, open_here, seed, light, phase,
                                     premises, tally, work, polishing=polishing)
        held, undecided, skips = held + h, undecided + u, skips + s
        if found is not None:
            named = tuple((label, (str(values[label]),) if label in values else shown)
                          for label, shown in found.values)
            where = ", ".join(f"{name} = {n}" for name, n in values.items())
            return replace(found, values=named, source=f"{found.source}; {where}"), held, undecided, skips
    return None, held, undecided, skips


def _fitting(lhs: Expr, rhs: Expr, K: int, values: dict) -> list[dict]:
    """[values] when the step unfolds within the IWAE budget there (an example's own k), else []."""
    return [values] if counts_fit((instantiate(lhs, values), instantiate(rhs, values)), K) else []


# ------------------------------------------------------------------------- steps and chains


def _limits_as_values(e: Expr, model: Model) -> Expr:
    """Each limit(...) as the value its theorem certifies here (the model's `limit_of`, an error
    without one): a limit with no certified value must never cancel against itself into a proof
    (red team round 7: limit(1/(1 - alpha), alpha, 1) on both sides of a strict step), and a
    limit's expression need not be defined at the point it tends to, only near it."""
    while e.has(Limit):
        e = e.replace(lambda n: isinstance(n, Limit) and not n.body.has(Limit), model.limit_of)
    return e


def _definedness(exprs: Iterable[Expr], model: Model) -> tuple[list[Obligation], list[Obligation]]:
    """(certified, open) obligations of the expressions; each limit taken by its theorem first."""
    found: dict = {}
    for e in exprs:
        for o in _obligations_of(e, model):
            found.setdefault((o.kind, o.expr), o)
    shown: list[Obligation] = []
    open_: list[Obligation] = []
    for o in found.values():
        (shown if certified(o, model) else open_).append(o)
    return shown, open_


def _undefined_in_a_parameter(exprs: Iterable[Expr], model: Model) -> str | None:
    """A division by, or log of, an expression in one [params] parameter alone that is 0 at a rational
    value of that parameter's domain: "1/(1 - alpha) divides by 0 at alpha = 1, which alpha in [0, 1]
    includes" (red team rt24 F5).  The cause to name when a step cannot be unfolded at all, whose own
    refusal (an integral infinite for many densities) would blame something else; None when none."""
    from sympy import Poly, fraction, log, preorder_traversal, together
    from sympy.polys.polyerrors import BasePolynomialError

    params = {p.name: p for p in model.spec.params}
    for e in exprs:
        for node in preorder_traversal(e):
            if isinstance(node, log):
                arg, what = node.args[0], "is the log of 0"
            elif node.is_Pow and node.exp.is_negative:
                arg, what = node.base, "divides by 0"
            else:
                continue
            names = {str(s) for s in arg.free_symbols}
            if len(names) != 1 or not names <= params.keys():
                continue
            (symbol,) = arg.free_symbols
            parameter = params[str(symbol)]
            try:
                roots = Poly(fraction(together(arg))[0], symbol).ground_roots()
            except (BasePolynomialError, ValueError, TypeError, ArithmeticError, NotImplementedError) as raised:
                reraise_callers(raised)
                continue
            for root in sorted(r for r in roots if r.is_Rational):  # the least first: one message each run
                value = Fraction(int(root.p), int(root.q))
                if parameter.interval.contains(value):
                    shown = f"1/({to_text(arg)})" if node.is_Pow and node.exp == -1 else to_text(node)
                    return (f"{shown} {what} at {parameter.name} = {value}, which "
                            f"{parameter.interval.describe(parameter.name)} includes: leave it out of the "
                            f"parameter's domain")
    return None


_OBLIGATIONS = ("definedness obligations",)
"""The key, in a model's sign memo, of its memo of each expression's obligations."""


def _obligations_of(e: Expr, model: Model) -> tuple[Obligation, ...]:
    """The definedness obligations of one side, remembered per model (a pure function of the two:
    a step's left side is the step before's right side).  An expression that does not unfold
    raises UnfoldError each time; an interrupted walk leaves nothing behind."""
    memo = model.sign_memo.setdefault(_OBLIGATIONS, {})
    known = memo.get(e)
    if known is None:
        # IWAE(q, k): as ELBO(q) (engine.samples)
        side = for_definedness(_limits_as_values(e, model), model.K == "any")
        model.unfold_pointwise(side)  # each side must mean something on its own (UnfoldError otherwise)
        known = obligations(side, model)
        if len(memo) < 10_000:
            memo[e] = known
    return known


def _conditions(shown: list[Obligation], open_: list[Obligation]) -> tuple[tuple[str, bool], ...]:
    out = [(o.describe(), True) for o in shown if o.kind in ("positive", "nonzero")]
    out += [(o.describe(), False) for o in open_]
    # the lesson's K-state steps have K obligations of one shape; list each shape once
    return tuple(dict.fromkeys(out))


def _second_opinion(lhs: Expr, step: Step, model: Model):
    """The independent reference evaluator's opinion on a proved step (elbo_sym.engine.reference),
    within its own budget inside the step's; running out is undecided, never agreement."""
    from elbo_sym.engine.reference import Opinion, second_opinion

    try:
        with budgets.limit(min(REFERENCE_BUDGET_SECONDS, budgets.remaining()), "the second opinion's budget ran out"):
            return second_opinion(lhs, step.rel, step.expr, model.spec, model.K)
    except BudgetExceeded as error:
        return Opinion("undecided", detail=str(error))


def _outcome(rule, lhs: Expr, step: Step, model: Model) -> RuleOutcome:
    """The rule's outcome; with a symbolic number of samples k, a rule that cannot unfold
    IWAE(q, k) does not prove the step (the search decides it at whole numbers k)."""
    if not sample_parameters(lhs, step.expr):
        return rule(lhs, step.rel, step.expr, model)
    try:
        return rule(lhs, step.rel, step.expr, model)
    except UnfoldError as error:
        return RuleOutcome(False, f"{error_text(error)}")


EXACT_RULES = ("algebra",)
PROVED_BY_EXACT = "exact"
"""RuleOutcome.proved_by of a step the exact rule proved: the reports show ``[algebra, exact]``."""
"""The rules whose step an exact decision may prove when its sides are not identical (engine.exact:
a residual in D or a whole number, decided for every value): an inequality by algebra."""


def _exact_decision(lhs: Expr, step: Step, model: Model) -> ExactPlan | None:
    """The step's exact plan (engine.exact), made before the search so that a complete decision that it
    holds proves the step; None when the plan raises (an engine error reading the step): the search makes
    it again and ends in that error, as without this.  A failure beyond the search is no exception: the
    plan's `unreached` makes it an error after the search (engine.exact._failure)."""
    try:
        return exact_plan(lhs, step, model)
    except UnfoldError:
        return None


def check_step(lhs: Expr, step: Step, model: Model, examples: tuple[Example, ...] = (),
               budget: float = STEP_BUDGET_SECONDS, search: bool = True) -> StepResult:
    """The verdict of one step `lhs rel step.expr`, justified by `step.rule`.

    With ``search=False`` a step that is not proved ends as ``error`` at once (no
    counterexample search): for callers that only care whether a step is proved.
    """
    budget = validate_budget(budget)
    started = time.perf_counter()
    rule = RULES[step.rule]
    conditions: tuple[tuple[str, bool], ...] = ()
    outcome = None
    try:
        with budgets.limit(budget, budgets.exhausted_text("step", budget)):
            shown, open_ = _definedness((lhs, step.expr), model)
            conditions = _conditions(shown, open_)
            outcome = _outcome(rule, lhs, step, model)
            exact = _exact_decision(lhs, step, model) if not outcome.proved and step.rule in EXACT_RULES else None
            if exact is not None and exact.proof is not None:
                outcome = replace(exact.proof.outcome(), proved_by=PROVED_BY_EXACT)
            if outcome.proved:
                outcome = _with_derived_distributions(outcome, (lhs, step.expr), model)
            if outcome.proved and not open_:
                counterexample = _examples_agree(lhs, step.rel, step.expr, model, examples)
                seconds = time.perf_counter() - started
                if counterexample is not None:
                    return StepResult(step, lhs, Verdict.refuted, "BUG: proved but an example disagrees",
                                      counterexample, 0, outcome, seconds, conditions=conditions)
                opinion = _second_opinion(lhs, step, model)
                seconds = time.perf_counter() - started
                if opinion.disagrees:
                    return StepResult(step, lhs, Verdict.error, f"internal disagreement: the proof says "
                                      f"{to_text(lhs)} {step.rel} {to_text(step.expr)}, "
                                      f"{opinion.describe()}", None, 0, outcome, seconds,
                                      conditions=conditions, second_opinion=opinion.describe())
                return StepResult(step, lhs, Verdict.proved, outcome.reason, None, len(examples), outcome,
                                  seconds, conditions=conditions, second_opinion=opinion.describe())
            if not search:
                why = outcome.reason if not outcome.proved else "definedness not shown"
                return StepResult(step, lhs, Verdict.error, f"not proved ({why}); search skipped", None, 0,
                                  outcome, time.perf_counter() - started, conditions=conditions)
            if outcome.proved and open_ and model.K == "any":
                found = _definedness_search(lhs, step, model, examples, open_)
                if isinstance(found, str):
                    return StepResult(step, lhs, Verdict.error, found, None, 0, outcome,
                                      time.perf_counter() - started, conditions=conditions)
                counterexample, held, undecided, searched = found
            else:
                counterexample, held, undecided, searched = _search_everywhere(lhs, step, model, examples, open_,
                                                                               exact=exact)
    except (_OutsideModel, _UndecidedPremises, _SidesMeet) as outside:
        return StepResult(step, lhs, Verdict.error, str(outside), None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    except BudgetExceeded as error:
        clear_cache()
        return StepResult(step, lhs, Verdict.error, f"{error}{_accept_besides(step, model)}", None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    except Exception as error:  # noqa: BLE001 - a bug must still end as a verdict, never a pass
        clear_cache()
        if not computing_failure(error):
            raise  # the caller's own exception (a watchdog's, say): never a verdict (elbo_sym.failures)
        if isinstance(error, ENGINE_ERRORS):
            cause = _undefined_in_a_parameter((lhs, step.expr), model)
            why = f"{cause}; besides, {error_text(error)}" if cause else error_text(error)
            return StepResult(step, lhs, Verdict.error, f"could not check: {why}", None, 0, outcome,
                              time.perf_counter() - started, conditions=conditions)
        return StepResult(step, lhs, Verdict.error, f"internal error (please report): "
                          f"{type(error).__name__}: {error_text(error)}", None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    seconds = time.perf_counter() - started
    if counterexample is not None:
        reason = counterexample.problem if counterexample.problem else (
            outcome.reason if not outcome.proved else "the relation fails at an exact instance")
        reason += free_latent_note(lhs, step.expr)
        return StepResult(step, lhs, Verdict.refuted, reason, counterexample, held, outcome, seconds,
                          conditions=conditions, searched=searched)
    where = f" ({searched.describe()})" if searched.describe() else ""
    if open_:
        missing = "; ".join(dict.fromkeys(o.describe() for o in open_[:3]))
        more = f" (and {len(open_) - 3} more)" if len(open_) > 3 else ""
        why = "" if outcome.proved else f"; and not proved ({outcome.reason})"
        return StepResult(step, lhs, Verdict.error, f"could not show that every expression is defined: "
                          f"{missing}{more}{why}; held on {held} exact instances{where}", None, held, outcome,
                          seconds, conditions=conditions, searched=searched)
    if held < MIN_DECIDED:
        return StepResult(step, lhs, Verdict.error, f"not proved ({outcome.reason}) and only {held} instance(s) "
                          f"decided ({undecided} undecided; at least {MIN_DECIDED} needed)",
                          None, held, outcome, seconds, conditions=conditions, searched=searched)
    if searched.skipped:
        return StepResult(step, lhs, Verdict.error, f"not proved ({outcome.reason}) and the search could not "
                          f"decide {searched.skipped[0]}: undecided is not 'held'", None, held, outcome, seconds,
                          conditions=conditions, searched=searched)
    unsearched = _any_k(model)
    whole = _whole_numbers_unsearched(model, (lhs, step.expr), searched.covered)
    refused = (_unsearched_refusal(model) if unsearched
               else whole_number_refusal(whole, searched.covered) if whole else "")
    if step.accept == "checked" and refused:
        return StepResult(step, lhs, Verdict.error, f"not proved ({outcome.reason}); held on {held} exact "
                          f"instances{where}: {refused}", None, held, outcome,
                          seconds, conditions=conditions, searched=searched)
    return StepResult(step, lhs, Verdict.checked, f"not proved ({outcome.reason}); held on {held} exact "
                      f"instances{where}", None, held, outcome, seconds, conditions=conditions, searched=searched,
                      any_k=unsearched, whole_unsearched=whole)


UNSEARCHED_DENSITIES = ('K = "any" holds every K and every density, and no finite search reaches all of them, '
                        'so accept = "checked" cannot vouch for a step of it: write an explicit K to accept a step '
                        'on its instances, or make it a step a rule proves')
"""Why a step `accept = "checked"` names is an `error`, not an accepted `checked`, in a file whose domain
holds every K and every density (``K = "any"``): evidence from a finite search never looked at all of that
domain -- a prior density above 1, a chain at K = 6 -- and cannot stand in for a proof there (red teams
rt37, rt40: false steps passed).  `_unsearched_refusal` adds what this file's search reaches."""


def _unsearched_refusal(model: Model) -> str:
    """UNSEARCHED_DENSITIES with what the search of this file's family reaches: its K and its densities
    (the Gaussian family's, prior N(0, 1), or none) -- so that a data file is not told of a density stage."""
    searched = model.search_models()
    Ks = sorted({m.K for m in searched if not _is_density_model(m)})
    reach = f"K = {', '.join(map(str, Ks))}" if Ks else "no finite K"
    densities = ("Gaussian densities whose prior is N(0, 1), never a prior density above 1"
                 if any(_is_density_model(m) for m in searched) else "no density")
    return f"{UNSEARCHED_DENSITIES} (this file's search reaches {reach} and {densities})"


EXPLICIT_K_HINT = ('K = "any" holds every K and every density, so accept = "checked" cannot pass it: write an '
                   'explicit K to accept it on instances, or make it a step a rule proves')
"""What lets a `checked` step pass (StepResult.hint) when accept = "checked" cannot (UNSEARCHED_DENSITIES):
the claim, the step notes, the summary and the handouts say it instead of suggesting the refused accept."""

LARGE_K_HINT = ('at K = {K} a step takes long to check: give it more time (--budget SECONDS), or write K = "any", '
                'where a step its rule proves is proved for every K at once')
"""What a step's budget error adds in a file with an explicit K >= limits.LARGE_K (red team rt56 F2)."""

TEACHING_HINT = ('a teaching file (expect = "refuted") accepts no step, so accept = "checked" cannot pass it: '
                 'make it a step a rule proves')
"""What a `checked` step of a teaching file can do (StepResult.hint): its reader refuses `accept` there."""

ACCEPT_HINT = 'add accept = "checked" to print it labelled as unproved'
"""What lets a `checked` step pass (StepResult.hint) when accept = "checked" can."""


def _accept_besides(step: Step, model: Model) -> str:
    """What a step's budget error adds: when more budget would not let its accept pass it either (a file
    writing ``K = "any"``: UNSEARCHED_DENSITIES) -- said now, not after the author raised the budget (the
    session-21 CI: the search ran out first and the error named the budget alone); else, in a file with a
    large explicit K, what else helps (LARGE_K_HINT; red team rt56 F2: K = 2000 ran out with no hint)."""
    if step.accept == "checked" and _any_k(model):
        return f"; besides, {_unsearched_refusal(model)}"
    if isinstance(model.spec.K, int) and model.spec.K >= LARGE_K:
        return f"; {LARGE_K_HINT.format(K=model.spec.K)}"
    return ""


def _any_k(model: Model) -> bool:
    """Whether `accept = "checked"` cannot pass a step of `model` because its file writes ``K = "any"``
    (every family: discrete, chain, data, IWAE), whatever the search tried -- red teams rt37, rt40: a search
    that tried densities still never reached a prior density above 1, nor a chain at K = 6.  The Gaussian
    family's ``D = "any"``, whose model.K is "any" too but whose file writes no K, is not concerned."""
    return model.spec.K == "any"


def _whole_numbers_unsearched(model: Model, exprs: tuple[Expr, ...], covered: frozenset[str] = frozenset()) -> str:
    """The first whole-number parameter free in `exprs` (``k = "integer >= 1"``: IWAE's samples) with values
    the search never tries: it tries the least ones (limits.INTEGER_OFFSETS) and those where a part of the
    step in it alone changes sign, and `IWAE(q, k) <= IWAE(q, 5)`, false from k = 6, passed (red team rt42
    F10) -- the K = "any" argument (UNSEARCHED_DENSITIES) for k; "" when there is none.  One in `covered`
    (`Searched.covered`: the exact decision found the step true at every value of it) is not unreached.
    The Gaussian ``D = "any"``'s D is one too (`_free_dimension`)."""
    free = {str(s) for e in exprs for s in e.free_symbols}  # by name: the parsed k and the [params] k differ
    if _free_dimension(model, free, covered):
        return str(model.dimension)
    for parameter in model.spec.params:
        interval = parameter.interval
        if not interval.integer or parameter.name not in free or interval.lower is None or parameter.name in covered:
            continue
        tried = {interval.lower + d for d in INTEGER_OFFSETS}
        if interval.upper is None or any(interval.contains(Fraction(v)) and v not in tried
                                         for v in range(math.ceil(interval.lower), math.floor(interval.upper) + 1)):
            return parameter.name
    return ""


DIMENSION_NAME = "D"
"""The number of dimensions' name in a Gaussian ``D = "any"`` file (models.gaussian's params["D"], Model.dimension)."""


def _free_dimension(model: Model, written: set[str], covered: frozenset[str]) -> bool:
    """Whether a step of `model` may depend on the number of dimensions D (the Gaussian ``D = "any"``), a
    whole number the search builds in full only at GAUSSIAN_ANY_D (up to 12): `log(D) * (1 + b**2) <= 5 *
    (1 + b**2)`, false from D = 149, and `2**D * (1 + b**2) <= 5000 * (1 + b**2)`, false from D = 13,
    passed with accept (red team rt47 F5).  D need not be written: KL(q(z), p(z)) and log(p(z)) sum over
    the D dimensions and carry D/2*log(2*pi), so D counts unless the exact decision covered it.  When a
    proof covers every symbol of left - right but not D (it cancelled), D counts only where it is written
    -- as a whole-number parameter does (`whole_number_refusal`)."""
    D = model.dimension
    if D is None or str(D) in covered:
        return False
    return not covered or str(D) in written


def whole_number_refusal(name: str, covered: frozenset[str] = frozenset()) -> str:
    """Why `accept = "checked"` cannot pass a step with the whole-number parameter `name` free in it.
    With `covered` (the exact decision's proof covers these others, and a proof is kept only when
    left - right has no symbol outside them: exact.exact_plan) `name` has cancelled from left - right,
    but the step is written in it, defined or not at values never tried (red team rt45's note: m1.toml
    named m without saying that it cancels)."""
    if covered:
        return (f"{name} is a whole number that cancels from left - right (decided exactly for every "
                f"{', '.join(sorted(covered))}), but the step is still written in {name}, which the search "
                f"tries only at a few values (where the step is defined, say), so accept = \"checked\" cannot "
                f"vouch for it; make it a step a rule proves")
    return (f"{name} is a whole number the search tries only at a few values, and no finite search reaches "
            f"all of them, so accept = \"checked\" cannot vouch for a step of it (red teams rt42, rt47: "
            f"IWAE(q, k) <= IWAE(q, 5), false from k = 6, and 2**D*(1 + b**2) <= 5000*(1 + b**2), false from "
            f"D = 13, passed); make it a step a rule proves{_explicit_d(name)}")


def whole_number_hint(name: str) -> str:
    """What a `checked` step with the whole-number parameter `name` free in it can do (StepResult.hint)."""
    return (f"{name} is a whole number no finite search covers, so accept = \"checked\" cannot pass it: make "
            f"it a step a rule proves{_explicit_d(name)}")


def _explicit_d(name: str) -> str:
    """The Gaussian ``D = "any"``'s other way out (`_free_dimension`): an explicit D is searched in full."""
    return ", or write an explicit D to accept it on its instances" if name == DIMENSION_NAME else ""


STEP_SIDES = ("previous expression", "step", "step")
CARD_SIDES = ("card's left side", "card's right side", "card")  # a card has no previous expression (rt36 F3)


def free_latent_note(lhs: Expr, rhs: Expr, sides: tuple[str, str, str] = STEP_SIDES) -> str:
    """Why a step with a latent free on one side only is refuted "at z = 0": it claims the relation
    for every value of that latent (a binder forgotten, most often an E); the chain family refuses
    this when the file is read, the others refute it and say so here (red team rt32's F5).
    `sides` names the left side, the right side and the whole (a step's, or a card's: CARD_SIDES)."""
    left, right = free_latents(lhs), free_latents(rhs)
    if bool(left) == bool(right):
        return ""
    names = sorted(str(v) for v in (left or right))
    side, other = (sides[1], sides[0]) if right else (sides[0], sides[1])
    return (f"; {' and '.join(names)} {'is' if len(names) == 1 else 'are'} free in the {side} (not bound by a Sum, "
            f"E, KL or H) while the {other} has none, so the {sides[2]} claims the relation for every value of "
            f"{names[0]}: bind {names[0]}, e.g. E(q, ...) around the part that mentions it")


def compose(first: str | None, second: str | None) -> str | None:
    """Chain two relations like a calc block: = keeps the other, mixed directions give None."""
    if first is None or second is None:
        return None
    if first == "=":
        return second
    if second == "=":
        return first
    up, down = {">=", ">"}, {"<=", "<"}
    for family, strict in ((up, ">"), (down, "<")):
        if first in family and second in family:
            return strict if strict in (first, second) else first
    return None


_FLIP = {"=": "=", **FLIPPED}


def implies(have: str, want: str) -> bool:
    return have == want or (have == "=" and want in ("<=", ">=")) or (have, want) in ((">", ">="), ("<", "<="))


def check_derivation(derivation: Derivation, budget: float = STEP_BUDGET_SECONDS,
                     search: bool = True, total: float | None = None, spent: float = 0.0) -> DerivationResult:
    """Check every step, every example, and whether the chain establishes the claim.

    `budget` bounds each step; `total` the whole file (default: steps x budget, capped --
    limits.own_budget, which report.build.check_file applies where it reads the file), of which
    `spent` seconds are gone already (reading the file): the check gets the rest.  Steps after the
    file budget ran out are `error`.  Repair suggestions for refuted steps are added one layer up
    (elbo_sym.engine.repair).
    """
    budget = validate_budget(budget)
    total = own_budget(len(derivation.steps), budget, total)
    message = budgets.exhausted_text("file", total)
    from elbo_sym.engine.reference import forget_when_full

    forget_when_full()  # bounded memory; what the second opinion counts never depends on the files before
    done: dict = {"steps": [], "examples": [], "problems": []}
    try:
        with budgets.limit(total - spent, message):
            return _check_derivation(derivation, budget, search, message, done)
    except BudgetExceeded:  # the file's alarm fired between two budgeted parts: keep what is done
        clear_cache()
        return _exhausted(derivation, message, done)


def _exhausted(derivation: Derivation, message: str, done: dict) -> DerivationResult:
    """A result from the parts finished before the file budget ran out; the rest is `error`."""
    steps = list(done["steps"])
    lhs = steps[-1].step.expr if steps else derivation.start.expr
    for s in derivation.steps[len(steps):]:
        steps.append(StepResult(s, lhs, Verdict.error, message + _accept_besides(s, derivation.model())))
        lhs = s.expr
    examples = list(done["examples"])
    examples += [ExampleResult(e, (message,)) for e in derivation.examples[len(examples):]]
    return DerivationResult(derivation, tuple(steps), None, False, message, tuple(examples),
                            tuple(done["problems"]) + (message,))


def _check_derivation(derivation: Derivation, budget: float, search: bool, message: str,
                      done: dict) -> DerivationResult:
    problems: list[str] = done["problems"]
    model = derivation.model()
    refused = None
    if derivation.assumptions:
        refused = _assumption_problem(derivation, model, budget)
        if refused:
            problems.append(refused)
    refusal = "the assumption is refused"
    unsatisfied = None  # the one premise problem a counterexample answers: no instance tried satisfied them all
    if derivation.premises and not refused:
        refused = _premise_problem(derivation, model, budget)
        if refused:
            problems.append(refused)
            refusal = "the premises are refused"
            unsatisfied = refused if refused.startswith(NO_PREMISE_INSTANCE) else None
    not_distribution = _derived_problem(derivation, model, budget)
    if not_distribution:
        problems.append(not_distribution)
        if not refused:
            refused, refusal = not_distribution, NOT_A_DISTRIBUTION
    results, lhs = done["steps"], derivation.start.expr
    own: list[StepResult | None] = []  # each step's result before a refusal (None: not checked)
    relation: str | None = "="
    for step in derivation.steps:
        left = min(budget, budgets.remaining())
        if left <= 0:
            own.append(None)
            results.append(StepResult(step, lhs, Verdict.error, message))
        else:
            result = check_step(lhs, step, model, derivation.examples, left, search)
            if derivation.expect == "refuted" and result.verdict is Verdict.checked:
                result = replace(result, in_teaching_file=True)  # its hint: no accept there
            own.append(result)
            results.append(_refused(result, refused, refusal))
        relation = compose(relation, step.rel)
        lhs = step.expr
    if unsatisfied and any(r is not None and r.counterexample is not None for r in own):
        # a counterexample is an instance shown to satisfy every premise (engine.premises): the premises
        # are satisfiable after all, and the report must not say otherwise (red team rt30)
        problems.remove(unsatisfied)
        results[len(results) - len(own):] = [
            shown if r is None else _refused(r, not_distribution, NOT_A_DISTRIBUTION)
            for shown, r in zip(results[len(results) - len(own):], own)]
    if relation is None and derivation.expect != "refuted":  # a teaching file may flip a step on purpose
        problems.append("the chain mixes >= and <= steps, so it establishes no relation")
    established, claim_reason = _claim(derivation, relation, model, results, budget, message)
    if derivation.expect == "refuted" and derivation.claim is not None:  # printed on the student sheet
        problem = _teaching_claim_problem(derivation, model, budget)
        if problem:
            problems.append(problem)
    for e in derivation.examples:
        done["examples"].append(_check_example(derivation, e, model, message))
    return DerivationResult(derivation, tuple(results), relation, established, claim_reason,
                            tuple(done["examples"]), tuple(problems))


NOT_A_DISTRIBUTION = "an argument is not shown to be a distribution"
"""What a step under `_derived_problem`'s refusal names (the refusal stands after premises are withdrawn)."""


def _refused(result: StepResult, refused: str | None, what: str) -> StepResult:
    """`result` as the file's refusal leaves it: with premises or assumptions refused, or an argument not
    shown to be a distribution, nothing stands on them -- a proved or checked step (or one outside the
    model) is an `error` naming why (`what` was refused, and the problem)."""
    outside = result.verdict is Verdict.error and result.reason.startswith(OUTSIDE_MODEL)
    if not refused or not (result.verdict in (Verdict.proved, Verdict.checked) or outside):
        return result
    return replace(result, verdict=Verdict.error, reason=f"not proved: {what} ({refused})")


def _problem_within_budget(check, budget: float, what: str) -> str | None:
    """`check()` (a problem or None) under its own budget; running out, or failing in any
    way, is a problem too -- never a traceback, never a pass."""
    try:
        with budgets.limit(min(budget, budgets.remaining()), f"the budget for {what} ran out"):
            return check()
    except Exception as error:  # noqa: BLE001 - BudgetExceeded included
        clear_cache()
        if not (isinstance(error, BudgetExceeded) or computing_failure(error)):
            raise  # the caller's own exception: never a verdict (elbo_sym.failures)
        return f"could not check {what}: {error_text(error)}"


def _assumption_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """None when the assumptions are defined and every distribution block of the model is
    shown to be a distribution under them (engine.wellformed, the same for every family and
    every observation); else what is wrong, with an instance where it fails."""
    def check() -> str | None:
        own = model.assumption_problem()  # a family's own rule (the Gaussian: not through mu, sigma)
        if own is not None:
            return own
        problem = well_formedness_problem(model)
        if problem is not None:
            return problem
        _, open_ = _definedness([a.rhs.expr for a in derivation.assumptions], model)
        if open_:
            return f"the assumption is not shown to be defined: {open_[0].describe()}"
        return None

    return _problem_within_budget(check, budget, "the assumption")


NO_PREMISE_INSTANCE = "no instance was shown to satisfy every premise"
"""How the premise problem a counterexample answers begins: a counterexample is an instance where every
premise holds, so it withdraws this problem -- and only this one (not a premise not shown defined, nor a
premise check that ran out of budget: red team rt33)."""


UNSATISFIABLE = "premises that no model satisfies would let any step be proved"
"""Why a premise problem refuses the file's steps, said after what was found."""


def _premise_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """None when every premise is defined on the domain and some exact instance is shown to
    satisfy all of them (premises no model satisfies would let anything be proved); else what
    is wrong.  The instances: the search's exact candidates, then each with the parameters the
    premises narrow at points inside their ranges (`exact.premise_pins`: red team rt30, under
    ``n >= 35`` no candidate satisfied the premise).  Bounds that leave a parameter no value (``n >= 35``
    and ``n <= 34``) are named as such (`exact.empty_ranges`, rt33 F1): no instance can satisfy them."""
    def check() -> str | None:
        for premise in derivation.premises:
            _, open_ = _definedness((premise.lhs.expr, premise.rhs.expr), model)
            if open_:
                return f"the premise {premise_text(premise)} is not shown to be defined: {open_[0].describe()}"
        empty = empty_ranges(model)
        if empty:
            return f"{'; '.join(e.describe(derivation.path) for e in empty)}: {UNSATISFIABLE}"
        tried = 0
        inside = premise_pins(model)
        work = _work(PREMISE_CHECK_WORK_OPERATIONS)  # a fixed list of instances, counted (limits)
        for explicit in model.search_models()[:2]:
            if _is_density_model(explicit) and derivation.family != "gaussian":  # K = "any": the sums first
                continue
            judge = PremiseJudge(derivation.premises, explicit)
            cost = SEARCH_EXACT_WEIGHT * (len(explicit.parameters) + _operations(list(judge.expressions)))
            candidates = exact_candidates(explicit, _examples_for(explicit, derivation.examples), 0)
            for instance in candidates + [_pinned(c, pin.blocks) for pin in inside for c in candidates]:
                try:
                    explicit.validate(instance)
                except ValueError as raised:
                    reraise_callers(raised)
                    continue
                tried += 1
                work.spend(cost)
                if judge.status(instance) == HOLDS:
                    return None
        texts = "; ".join(premise_text(p) for p in derivation.premises)
        return f"{NO_PREMISE_INSTANCE} ({texts}; {tried} tried): {UNSATISFIABLE}"

    return _problem_within_budget(check, budget, "the premises")


def _pinned(instance: Instance, blocks) -> Instance:
    """`instance` with the values `blocks` gives (an `exact.Pin`'s)."""
    for name, values in blocks:
        instance = instance.with_block(name, values)
    return instance


_DERIVED_MEMO: dict = {}
"""(model spec, derived distribution) -> its problem or None: the steps of a file share them."""


def _derived_distribution_problem(d: Expr, model: Model) -> str | None:
    key = (model.spec, model.K, d)
    if key not in _DERIVED_MEMO:
        if len(_DERIVED_MEMO) > 1024:
            _DERIVED_MEMO.clear()
        _DERIVED_MEMO[key] = derived_distribution_problem(d, model)
    return _DERIVED_MEMO[key]


def _with_derived_distributions(outcome: RuleOutcome, exprs: tuple[Expr, ...], model: Model) -> RuleOutcome:
    """A proof stands only when every derived distribution argument of the step (a mixture, a
    product, a normalised exp) is shown to be a distribution (engine.wellformed)."""
    for d in derived_arguments(*exprs):
        problem = _derived_distribution_problem(d, model)
        if problem is not None:
            return replace(outcome, proved=False, reason=problem,
                           conditions=outcome.conditions + ((f"{to_text(d)} is a distribution", False),))
    return outcome


def _derived_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """None when every derived distribution argument of the file (a mixture, a product, a
    normalised exp as the first argument of E, KL, H, ELBO) is shown to be a distribution on the
    whole domain (engine.wellformed, like every distribution block); else what fails, and where."""
    exprs = [derivation.start.expr] + [s.expr for s in derivation.steps]
    if derivation.claim is not None:
        exprs += [derivation.claim.lhs.expr, derivation.claim.rhs.expr]
    derived = derived_arguments(*exprs)
    if not derived:
        return None

    def check() -> str | None:
        for d in derived:
            problem = _derived_distribution_problem(d, model)
            if problem is not None:
                return problem
        return None

    return _problem_within_budget(check, budget, "that the derived distributions are distributions")


def _teaching_claim_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """A teaching file's claim is printed above its chain, so it must mean something: every
    log argument positive, every divisor non-zero (engine.repair checks that the corrected
    chain shows it)."""
    claim = derivation.claim
    assert claim is not None

    def check() -> str | None:
        _, open_ = _definedness((claim.lhs.expr, claim.rhs.expr), model)
        return f"the claim is not shown to be defined: {open_[0].describe()}" if open_ else None

    return _problem_within_budget(check, budget, "that the claim is defined")


CLAIM_NO_RELATION = "the chain establishes no relation"
CLAIM_CHAIN_SHOWS = "the chain shows "
CLAIM_NOT_GIVEN = (", which is not the claim", ", which does not give the claim's ")
"""The words of `_claim` when the chain, compared with the claim in full, does not give it (mixed
>= and <= steps; a chain about other expressions; a weaker relation): what
elbo_sym.authoring.testing.chain_misses_claim reads as a refutation, every other reason deciding nothing."""


def _claim(derivation: Derivation, relation: str | None, model: Model,
           results: list[StepResult], budget: float, message: str) -> tuple[bool, str]:
    if relation is None:
        return False, CLAIM_NO_RELATION
    failing = [r for r in results if not r.passes]
    if failing:
        first = failing[0]
        if first.verdict is Verdict.checked:
            where = f" ({first.searched.describe()})" if first.searched and first.searched.describe() else ""
            return False, (f"step {first.step.index} is only checked (held on {first.instances} exact instances"
                           f"{where}, not proved); {first.hint}")
        return False, "not every step holds"
    claim, start, end = derivation.claim, derivation.start.expr, derivation.steps[-1].expr
    chain_text = f"{to_text(start)} {relation} {to_text(end)}"
    accepted = [r.step.index for r in results if r.accepted]
    kind = "proved" if not accepted else (
        f"checked, not proved (step{'s' * (len(accepted) > 1)} {', '.join(map(str, accepted))} only held on "
        f"exact instances)")
    if claim is None:
        return True, f"the chain shows {chain_text}" + ("" if not accepted else f" ({kind})")
    if budgets.remaining() <= 0:
        return False, message
    try:
        with budgets.limit(min(budget, budgets.remaining()), "the claim's budget ran out"):
            _, open_ = _definedness((claim.lhs.expr, claim.rhs.expr), model)
            if open_:
                return False, f"the claim is not shown to be defined: {open_[0].describe()}"
            # a = b gives f(a) = f(b): compare the arguments first (f(a) itself may be too big to expand)
            same = relation == "=" and any(_same_pair(a, b, start, end, model)
                                           for a, b in _congruent_arguments(claim.lhs.expr, claim.rhs.expr))
            same = same or proves_zero(difference(claim.lhs.expr, start), model) and \
                proves_zero(difference(claim.rhs.expr, end), model)
            flipped = not same and proves_zero(difference(claim.lhs.expr, end), model) and \
                proves_zero(difference(claim.rhs.expr, start), model)
            if not (same or flipped):  # a - b >= 0 establishes b <= a: compare the differences
                chain_gap, claim_gap = difference(start, end), difference(claim.lhs.expr, claim.rhs.expr)
                same = proves_zero(difference(chain_gap, claim_gap), model)
                flipped = not same and proves_zero(Add(chain_gap, claim_gap), model)
    except BudgetExceeded as error:
        clear_cache()
        return False, f"could not compare the claim with the chain: {error_text(error)}"
    except Exception as error:  # noqa: BLE001 - never a traceback, never a pass
        clear_cache()
        if not computing_failure(error):
            raise  # the caller's own exception: never a verdict (elbo_sym.failures)
        return False, f"could not compare the claim with the chain: {error_text(error)}"
    have = relation if same else _FLIP[relation] if flipped else None
    if have is None:
        return False, f"{CLAIM_CHAIN_SHOWS}{chain_text}{CLAIM_NOT_GIVEN[0]}{_claim_differs(claim, start, end)}"
    if not implies(have, claim.rel):
        return False, f"{CLAIM_CHAIN_SHOWS}{chain_text}{CLAIM_NOT_GIVEN[1]}'{claim.rel}'"
    return True, f"claim {kind}: the chain shows {chain_text}"


def _claim_differs(claim: Relation, start: Expr, end: Expr) -> str:
    """How a claim differs from the chain that does not give it, in the printer's text (red team
    rt32: "not about the claim's two sides" said nothing when only one side differed).  Words only: what the
    claim is compared by is `_claim`'s proof, never this text comparison."""
    lhs, rhs, first, last = (to_text(e) for e in (claim.lhs.expr, claim.rhs.expr, start, end))
    for shared, other in ((lhs, rhs), (rhs, lhs)):
        if shared == first:
            return f": the claim has {shared} too, but {other} where the chain ends"
        if shared == last:
            return f": the claim has {shared} too, but {other} where the chain starts"
    return f" {lhs} {claim.rel} {rhs}"


def _congruent_arguments(a: Expr, b: Expr) -> Iterator[tuple[Expr, Expr]]:
    """While `a` and `b` are the same function (a power with the same exponent, log, KL, ...)
    of arguments that differ in one place, that pair of arguments: a = b then gives the claim.  Only
    expressions: a density's name (q and p in q(z | x2), p(z | x2)) is a SymPy Str, which is no value
    (red team rt34: Add(Str, ...) warned of deprecation, and will raise in a later SymPy)."""
    while a.args and a.func == b.func and len(a.args) == len(b.args):
        differing = [(u, v) for u, v in zip(a.args, b.args) if u != v]
        if len(differing) != 1 or not all(isinstance(e, Expr) for e in differing[0]):
            return
        a, b = differing[0]
        yield a, b


def _equal_by_structure(a: Expr, b: Expr, values, model) -> bool:
    """a = b at an instance whose values put exp of rationals into both sides: intervals never
    separate equal values, but exp(r) exp(s) = exp(r + s) and log(exp(r)) = r decide them --
    the difference at the instance has a zero canonical form, each exp a positive symbol."""
    if not (a.has(exp) or b.has(exp)):
        return False
    exact = {symbol: Rational(v.numerator, v.denominator) for symbol, v in values.items()}
    try:
        return canonical(difference(a, b).xreplace(exact), model).is_zero
    except (TooLarge, ValueError, ArithmeticError) as raised:
        reraise_callers(raised)
        return False


def _same_pair(a: Expr, b: Expr, start: Expr, end: Expr, model: Model) -> bool:
    """{a, b} is {start, end}, each shown equal on the model's domain (too large or without a
    meaning in the model, such as a bare latent variable: not shown)."""
    try:
        return (proves_zero(difference(a, start), model) and proves_zero(difference(b, end), model)
                or proves_zero(difference(a, end), model) and proves_zero(difference(b, start), model))
    except Exception as error:  # noqa: BLE001 - only a way to establish the claim; the plain comparison follows
        if isinstance(error, BudgetExceeded) or not computing_failure(error):
            raise  # the budget's, or the caller's own exception: never "not the same pair"
        return False


def _check_example(derivation: Derivation, example: Example, model: Model, message: str) -> ExampleResult:
    """The example's expected values, decided exactly; undecided is a failure."""
    failures, lines = [], []
    explicit = _explicit(model, example.K)
    instance = example.instance
    if derivation.premises:  # an example illustrates the premised domain: it must lie inside it
        try:
            status = PremiseJudge(derivation.premises, explicit).status(instance)
        except Exception as error:  # noqa: BLE001 - never a traceback, never a pass
            clear_cache()
            if not (isinstance(error, BudgetExceeded) or computing_failure(error)):
                raise  # the caller's own exception: never a verdict (elbo_sym.failures)
            status = f"could not be decided ({error_text(error)})"
        if status != HOLDS:
            failures.append(_outside_premises(derivation.premises, explicit, instance, status))
            lines.append(example.line)
    for expectation in example.expect:
        name = expectation.lhs.text
        if budgets.remaining() <= 0:
            failures.append(f"{name}: not checked ({message})")
            lines.append(expectation.lhs.line)
            continue
        try:
            with budgets.limit(min(STEP_BUDGET_SECONDS, budgets.remaining()), "the example's budget ran out"):
                failure = _expect_failure(expectation, instance, explicit)
        except BudgetExceeded as error:
            clear_cache()
            failure = f"could not decide ({error_text(error)})"
        except Exception as error:  # noqa: BLE001 - never a traceback, never a pass
            clear_cache()
            if not computing_failure(error):
                raise  # the caller's own exception: never a verdict (elbo_sym.failures)
            failure = f"could not evaluate ({error_text(error)})"
        if failure:
            failures.append(f"{name}: {failure}")
            lines.append(expectation.lhs.line)
    return ExampleResult(example, tuple(failures), tuple(lines))


def _outside_premises(premises: tuple[Relation, ...], explicit: ExplicitModel, instance: Instance,
                      status: str) -> str:
    """Why an example is outside the premises: the premise it violates, named (rt47 F4: "it violates one"),
    or every premise and why they were not decided (`status`)."""
    if status == "violated":
        for premise in premises:
            try:
                violated = PremiseJudge((premise,), explicit).status(instance) == "violated"
            except Exception as error:  # noqa: BLE001 - the wording only: the example fails either way
                clear_cache()
                if not (isinstance(error, BudgetExceeded) or computing_failure(error)):
                    raise  # the caller's own exception (elbo_sym.failures)
                violated = False
            if violated:
                return f"{OUTSIDE_PREMISES}: it violates the premise {premise_text(premise)}"
        status = "it violates one"
    return f"{OUTSIDE_PREMISES} ({'; '.join(premise_text(p) for p in premises)}): {status}"


def _expect_failure(expectation, instance: Instance, model: ExplicitModel) -> str | None:
    lhs, rhs = at_example((expectation.lhs.expr, expectation.rhs.expr), instance)  # IWAE(q, k): k as given
    values = model.values(instance)
    memo: dict = {}
    for side in (lhs, rhs):
        for o in obligations(side, model):
            try:
                s = sign_of(o.expr, values, memo)
            except Undefined:
                return o.failure()
            if s is None:
                return f"undecided: could not decide whether {o.describe()} here"
            if not o.holds_at(s):
                return f"{o.failure()}{_value_text(o.expr, values)}"
    judge = _Instances(lhs, "=", rhs, model, ())
    decision = judge.decide(instance)
    if decision.status == "holds":
        return None
    if decision.status == "undecided":
        return (f"undecided: could not decide whether it equals {expectation.rhs.text} exactly "
                f"(the values leave the exact class of rationals and logs of rationals)")
    if decision.status == "undefined":
        return decision.problem
    a, b = decision.left, decision.right
    assert a is not None and b is not None  # a "fails" decision carries both sides
    shown, expected = approx_text(a, values), approx_text(b, values)
    differ = f" (they differ by {approx_text(a - b, values)})" if shown == expected else ""  # rt3: off by exp(-200)
    return f"is {_exact_text(a, values)} {shown}, not {expectation.rhs.text} {expected}{differ}"


__all__ = ["Verdict", "Searched", "Counterexample", "StepResult", "ExampleResult", "DerivationResult", "check_step",
           "check_derivation", "compose", "implies", "BudgetExceeded", "domain_text",
           "STEP_BUDGET_SECONDS", "error_text", "ENGINE_ERRORS"]

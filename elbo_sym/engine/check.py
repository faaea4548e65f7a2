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

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum

from sympy import Add, Expr, Rational, exp
from sympy.core.cache import clear_cache

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.canonical import TooLarge, canonical
from elbo_sym.engine.definedness import Obligation, certified, obligations
from elbo_sym.engine.derivation import Derivation, Example, Step
from elbo_sym.engine.models.base import ExplicitModel, Model
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.notation import to_text
from elbo_sym.engine.rules import RULES, RuleOutcome, difference, is_distribution, proves_zero
from elbo_sym.engine.search import (
    MIN_DECIDED,
    Instance,
    boundary_instances,
    exact_candidates,
    minimise,
    point,
    seed_for,
)
from elbo_sym.limits import STEP_BUDGET_SECONDS, file_budget, validate_budget
from elbo_sym.numbers.evaluate import Undefined, approx_text, as_float, compile_float, decide, sign_of, value_text

SCREEN_KEEP = 8
"""Boundary instances with the smallest float margin that are always decided exactly."""
SCREEN_CERTIFY = 40
"""At most this many nominated boundary instances are decided exactly per step."""
MAX_VALUE_TEXT = 100
"""Exact values longer than this are shown as decimals only (boundary instances have huge numbers)."""
_ENGINE_ERRORS = (TooLarge, UnfoldError, RecursionError, ValueError, ZeroDivisionError, TypeError,
                  ArithmeticError, MemoryError)


class Verdict(str, Enum):
    proved = "proved"
    refuted = "refuted"
    checked = "checked"
    error = "error"


@dataclass(frozen=True)
class Suggestion:
    """A repair that makes the step ``proved``: what changed and the step as edited."""

    description: str
    rel: str
    expr: str
    rule: str
    changes: tuple[str, ...]
    """Which keys of the step the repair edits ("rel", "expr", "rule"); empty if none."""
    authored: bool = False
    """The file's own ``repair = "..."`` (checked like a generated one), not a generated suggestion."""

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
    source: str = "random instance"
    problem: str | None = None
    """Set when the step is undefined there: "log of a non-positive value: ... = -1/6"."""

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
class StepResult:
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

    @property
    def accepted(self) -> bool:
        """A `checked` step that the file explicitly accepts (``accept = "checked"``)."""
        return self.verdict is Verdict.checked and self.step.accept == "checked"

    @property
    def passes(self) -> bool:
        """Proved, or checked and accepted: what lets a run succeed."""
        return self.verdict is Verdict.proved or self.accepted


@dataclass(frozen=True)
class ExampleResult:
    example: Example
    failures: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class DerivationResult:
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


def domain_text(model) -> str:
    """The domain every `proved` is about, in words."""
    own = getattr(model, "domain_text", None)  # a family with other blocks says it itself
    if own is not None:
        return own()
    spec = model.spec
    states = "K = any (every latent space: any finite K, or densities)" if model.K == "any" else \
        f"K = {model.K} latent states"
    parts = [states, "p(z) > 0 with sum 1"]
    fixed = {a.lhs.text: a.rhs.text for a in spec.assumptions}
    for o in spec.data:
        parts.append(f"p({o} | z) in (0, 1]")
        q = "q(z)" if len(spec.data) == 1 else f"q(z | {o})"
        assumed = next((f"{lhs} = {rhs} (assumed)" for lhs, rhs in fixed.items() if lhs.replace(" ", "") ==
                        q.replace(" ", "")), None)
        parts.append(assumed or f"{q} > 0 with sum 1")
    parts += [p.describe() for p in spec.params]
    return "; ".join(parts)


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

    def decide(self, instance: Instance) -> _Decision:
        values = self.model.values(instance)
        memo: dict = {}
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
        for k, (a, b) in enumerate(self.parts):
            try:
                s = decide(a, b, values, memo)
            except Undefined as error:
                return _Decision("undefined", k if several else None, f"undefined: {error}")
            if s is None and _equal_by_structure(a, b, values, self.model):
                s = 0
            if s is None:
                undecided = True
            elif not holds(self.rel, s):
                return _Decision("fails", k if several else None, left=a, right=b)
        return _Decision("undecided" if undecided else "holds")

    def counterexample(self, instance: Instance, decision: _Decision) -> Counterexample:
        values = self.model.values(instance)
        shown = tuple((b.label, tuple(str(v) for v in instance[b.name])) for b in self.model.blocks)
        for o, q in self.model.assumed.items():  # q fixed by an assumption: show its value too
            label = "q(z)" if len(self.model.observations) == 1 else f"q(z | {o})"
            shown += ((label, tuple(_exact_text(v, values) for v in q)),)
        if decision.status == "undefined":
            return Counterexample(shown, "undefined", "undefined", float("nan"), float("nan"), decision.z,
                                  instance.source, decision.problem)
        a, b = decision.left, decision.right
        return Counterexample(shown, _exact_text(a, values), _exact_text(b, values), as_float(a, values),
                              as_float(b, values), decision.z, instance.source)

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


def _exact_text(e: Expr, values) -> str:
    from elbo_sym.numbers.evaluate import value

    try:
        v = value(e, values)
    except Undefined:
        return "undefined"
    if v is None:
        return "(not in closed form)"
    text = value_text(v)
    return text if len(text) <= MAX_VALUE_TEXT else f"({len(v.logs)} log terms)"


def _value_text(e: Expr, values) -> str:
    from elbo_sym.numbers.evaluate import value

    try:
        v = value(e, values)
    except Undefined:
        return ""
    if v is None or v.is_zero:
        return ""
    text = value_text(v)
    if len(text) > MAX_VALUE_TEXT:
        return f" (≈ {v.to_float():.6g})"
    return f" (= {text})" if v.is_rational else f" (= {text} ≈ {v.to_float():.6g})"


def _search(lhs: Expr, rel: str, rhs: Expr, model: ExplicitModel, examples, open_obligations,
            seed: int) -> tuple[Counterexample | None, int, int]:
    """(counterexample or None, instances held, instances undecided)."""
    judge = _Instances(lhs, rel, rhs, model, open_obligations)
    held = undecided = 0
    tried: set = set()

    def try_one(instance: Instance) -> Counterexample | None:
        nonlocal held, undecided
        key = instance.key()  # every block (a family may have more than prior, likelihood and q)
        if key in tried:
            return None
        tried.add(key)
        decision = judge.decide(instance)
        if decision.status in ("fails", "undefined"):
            return judge.counterexample(instance, decision)
        if decision.status == "holds":
            held += 1
        else:
            undecided += 1
        return None

    for instance in exact_candidates(model, examples, seed):
        found = try_one(instance)
        if found:
            return found, held, undecided
    # boundary families, screened in floats; the closest calls are decided exactly
    margin = judge.margin_function()
    scored: list[tuple[float, int, Instance]] = []
    for instance in boundary_instances(model):
        scored.append((margin(point(model, instance)), len(scored), instance))
    scored.sort(key=lambda t: (t[0], t[1]))
    # clear failures in the order generated (larger eps first: simpler numbers), then near misses
    failing = sorted((t for t in scored if t[0] < -1e-9), key=lambda t: t[1])
    near = [t for t in scored if -1e-9 <= t[0] <= 1e-9] if rel != "=" else []
    nominated = (failing + near)[:SCREEN_CERTIFY]
    nominated += [t for t in scored[:SCREEN_KEEP] if t not in nominated]
    for _, _, instance in nominated:
        found = try_one(instance)
        if found:
            return found, held, undecided
    # numeric minimisation from the closest calls and a few random starts
    starts = [instance for _, _, instance in scored[:3]]
    for instance in minimise(margin, model, starts, seed):
        found = try_one(instance)
        if found:
            return found, held, undecided
    return None, held, undecided


def _explicit(model: Model, K: int) -> ExplicitModel:
    """The explicit K-state model of `model`'s family (itself when it is one: a K-state model's
    ``explicit(K)`` is the model)."""
    return model.explicit(K)


def _examples_for(model, examples) -> tuple:
    """The file's examples that are instances of the explicit `model` (same K)."""
    return tuple(e for e in examples if e.K == model.K)


def _examples_agree(lhs: Expr, rel: str, rhs: Expr, model, examples) -> Counterexample | None:
    """For a proved step: re-decide it on the file's examples (a disagreement is a bug)."""
    for K in dict.fromkeys(e.K for e in examples):
        explicit = _explicit(model, K)
        mine = _examples_for(explicit, examples)
        judge = _Instances(lhs, rel, rhs, explicit, ())
        for instance in exact_candidates(explicit, mine, 0)[: len(mine)]:
            decision = judge.decide(instance)
            if decision.status in ("fails", "undefined"):
                return judge.counterexample(instance, decision)
    return None


def _search_everywhere(lhs: Expr, step: Step, model, examples, open_) -> tuple[Counterexample | None, int, int]:
    """The search in each explicit model of the family (a general claim: K = 2, 3, 5)."""
    held = undecided = 0
    for explicit in model.search_models():
        if explicit is model:
            open_here = open_
        else:
            _, open_here = _definedness((lhs, step.expr), explicit)
        seed = seed_for(to_text(lhs), step.rel, to_text(step.expr), step.rule, explicit.K)
        found, h, u = _search(lhs, step.rel, step.expr, explicit, _examples_for(explicit, examples), open_here,
                              seed)
        held, undecided = held + h, undecided + u
        if found is not None:
            if explicit is not model and not found.source.startswith("example"):
                found = replace(found, source=f"{found.source}, K = {explicit.K}")
            return found, held, undecided
    return None, held, undecided


# ------------------------------------------------------------------------- steps and chains


def _definedness(exprs: Iterable[Expr], model: Model) -> tuple[list[Obligation], list[Obligation]]:
    """(certified, open) obligations of the expressions."""
    found: dict = {}
    for e in exprs:
        model.unfold_pointwise(e)  # each side must mean something on its own (UnfoldError otherwise)
        for o in obligations(e, model):
            found.setdefault((o.kind, o.expr), o)
    shown: list[Obligation] = []
    open_: list[Obligation] = []
    for o in found.values():
        (shown if certified(o, model) else open_).append(o)
    return shown, open_


def _conditions(shown: list[Obligation], open_: list[Obligation]) -> tuple[tuple[str, bool], ...]:
    out = [(o.describe(), True) for o in shown if o.kind in ("positive", "nonzero")]
    out += [(o.describe(), False) for o in open_]
    # the lesson's K-state steps have K obligations of one shape; list each shape once
    return tuple(dict.fromkeys(out))


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
        with budgets.limit(budget, f"step budget of {budget:g} s exhausted"):
            shown, open_ = _definedness((lhs, step.expr), model)
            conditions = _conditions(shown, open_)
            outcome = rule(lhs, step.rel, step.expr, model)
            if outcome.proved and not open_:
                counterexample = _examples_agree(lhs, step.rel, step.expr, model, examples)
                seconds = time.perf_counter() - started
                if counterexample is not None:
                    return StepResult(step, lhs, Verdict.refuted, "BUG: proved but an example disagrees",
                                      counterexample, 0, outcome, seconds, conditions=conditions)
                return StepResult(step, lhs, Verdict.proved, outcome.reason, None, len(examples), outcome,
                                  seconds, conditions=conditions)
            if not search:
                why = outcome.reason if not outcome.proved else "definedness not shown"
                return StepResult(step, lhs, Verdict.error, f"not proved ({why}); search skipped", None, 0,
                                  outcome, time.perf_counter() - started, conditions=conditions)
            counterexample, held, undecided = _search_everywhere(lhs, step, model, examples, open_)
    except BudgetExceeded as error:
        clear_cache()
        return StepResult(step, lhs, Verdict.error, str(error), None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    except _ENGINE_ERRORS as error:
        clear_cache()
        return StepResult(step, lhs, Verdict.error, f"could not check: {error}", None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    except Exception as error:  # noqa: BLE001 - a bug must still end as a verdict, never a pass
        clear_cache()
        return StepResult(step, lhs, Verdict.error, f"internal error (please report): "
                          f"{type(error).__name__}: {error}", None, 0, outcome,
                          time.perf_counter() - started, conditions=conditions)
    seconds = time.perf_counter() - started
    if counterexample is not None:
        reason = counterexample.problem if counterexample.problem else (
            outcome.reason if not outcome.proved else "the relation fails at an exact instance")
        return StepResult(step, lhs, Verdict.refuted, reason, counterexample, held, outcome, seconds,
                          conditions=conditions)
    if open_:
        missing = "; ".join(dict.fromkeys(o.describe() for o in open_[:3]))
        more = f" (and {len(open_) - 3} more)" if len(open_) > 3 else ""
        why = "" if outcome.proved else f"; and not proved ({outcome.reason})"
        return StepResult(step, lhs, Verdict.error, f"could not show that every expression is defined: "
                          f"{missing}{more}{why}; held on {held} exact instances", None, held, outcome, seconds,
                          conditions=conditions)
    if held < MIN_DECIDED:
        return StepResult(step, lhs, Verdict.error, f"not proved ({outcome.reason}) and only {held} instance(s) "
                          f"decided ({undecided} undecided; at least {MIN_DECIDED} needed)",
                          None, held, outcome, seconds, conditions=conditions)
    return StepResult(step, lhs, Verdict.checked, f"not proved ({outcome.reason}); held on {held} exact "
                      f"instances", None, held, outcome, seconds, conditions=conditions)


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


_FLIP = {"=": "=", ">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def implies(have: str, want: str) -> bool:
    return have == want or (have == "=" and want in ("<=", ">=")) or (have, want) in ((">", ">="), ("<", "<="))


def check_derivation(derivation: Derivation, budget: float = STEP_BUDGET_SECONDS,
                     search: bool = True, total: float | None = None) -> DerivationResult:
    """Check every step, every example, and whether the chain establishes the claim.

    `budget` bounds each step; `total` the whole file (default: steps x budget, capped by
    elbo_sym.limits).  Steps after the file budget ran out are `error`.  Repair
    suggestions for refuted steps are added one layer up (elbo_sym.engine.repair).
    """
    budget = validate_budget(budget)
    total = validate_budget(total, "file budget") if total is not None else file_budget(
        len(derivation.steps), budget)
    message = f"file budget of {total:g} s exhausted"
    done: dict = {"steps": [], "examples": [], "problems": []}
    try:
        with budgets.limit(total, message):
            return _check_derivation(derivation, budget, search, message, done)
    except BudgetExceeded:  # the file's alarm fired between two budgeted parts: keep what is done
        clear_cache()
        return _exhausted(derivation, message, done)


def _exhausted(derivation: Derivation, message: str, done: dict) -> DerivationResult:
    """A result from the parts finished before the file budget ran out; the rest is `error`."""
    steps = list(done["steps"])
    lhs = steps[-1].step.expr if steps else derivation.start.expr
    for s in derivation.steps[len(steps):]:
        steps.append(StepResult(s, lhs, Verdict.error, message))
        lhs = s.expr
    examples = list(done["examples"])
    examples += [ExampleResult(e, (message,)) for e in derivation.examples[len(examples):]]
    return DerivationResult(derivation, tuple(steps), None, False, message, tuple(examples),
                            tuple(done["problems"]) + (message,))


def _check_derivation(derivation: Derivation, budget: float, search: bool, message: str,
                      done: dict) -> DerivationResult:
    problems: list[str] = done["problems"]
    model = derivation.model()
    if derivation.assumptions:
        problem = _assumption_problem(derivation, model, budget)
        if problem:
            problems.append(problem)
    results, lhs = done["steps"], derivation.start.expr
    relation: str | None = "="
    for step in derivation.steps:
        left = min(budget, budgets.remaining())
        if left <= 0:
            results.append(StepResult(step, lhs, Verdict.error, message))
        else:
            results.append(check_step(lhs, step, model, derivation.examples, left, search))
        relation = compose(relation, step.rel)
        lhs = step.expr
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


def _problem_within_budget(check, budget: float, what: str) -> str | None:
    """`check()` (a problem or None) under its own budget; running out, or failing in any
    way, is a problem too -- never a traceback, never a pass."""
    try:
        with budgets.limit(min(budget, budgets.remaining()), f"the budget for {what} ran out"):
            return check()
    except Exception as error:  # noqa: BLE001 - BudgetExceeded included
        clear_cache()
        return f"could not check {what}: {error}"


def _assumption_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """None when the assumption defines a distribution over z (shown), else what is wrong."""
    def check() -> str | None:
        own = getattr(model, "assumption_problem", None)  # a family whose q is not a vector says it itself
        if own is None and any(s in model.q_symbols for v in model.q for s in v.free_symbols):
            return "the assumption defines q in terms of q itself"
        _, open_ = _definedness([a.rhs.expr for a in derivation.assumptions], model)
        if open_:
            return f"the assumption is not shown to be defined: {open_[0].describe()}"
        if own is not None:
            return own()
        if not is_distribution(model.q, model):
            return "the assumption does not define a distribution over z (not shown positive with sum 1)"
        return None

    return _problem_within_budget(check, budget, "the assumption")


def _teaching_claim_problem(derivation: Derivation, model: Model, budget: float) -> str | None:
    """A teaching file's claim is the wrong conclusion its chain reaches, but it must still
    mean something: every log argument positive, every divisor non-zero."""
    claim = derivation.claim
    assert claim is not None

    def check() -> str | None:
        _, open_ = _definedness((claim.lhs.expr, claim.rhs.expr), model)
        return f"the claim is not shown to be defined: {open_[0].describe()}" if open_ else None

    return _problem_within_budget(check, budget, "that the claim is defined")


def _claim(derivation: Derivation, relation: str | None, model: Model,
           results: list[StepResult], budget: float, message: str) -> tuple[bool, str]:
    if relation is None:
        return False, "the chain establishes no relation"
    failing = [r for r in results if not r.passes]
    if failing:
        first = failing[0]
        if first.verdict is Verdict.checked:
            return False, (f"step {first.step.index} is only checked (held on {first.instances} exact instances, "
                           f"not proved); mark it accept = \"checked\" to print it as such")
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
        return False, f"could not compare the claim with the chain: {error}"
    except Exception as error:  # noqa: BLE001 - never a traceback, never a pass
        clear_cache()
        return False, f"could not compare the claim with the chain: {error}"
    have = relation if same else _FLIP[relation] if flipped else None
    if have is None:
        return False, f"the chain shows {chain_text}, which is not about the claim's two sides"
    if not implies(have, claim.rel):
        return False, f"the chain shows {chain_text}, which does not give the claim's '{claim.rel}'"
    return True, f"claim {kind}: the chain shows {chain_text}"


def _congruent_arguments(a: Expr, b: Expr) -> Iterator[tuple[Expr, Expr]]:
    """While `a` and `b` are the same function (a power with the same exponent, log, KL, ...)
    of arguments that differ in one place, that pair of arguments: a = b then gives the claim."""
    while a.args and a.func == b.func and len(a.args) == len(b.args):
        differing = [(u, v) for u, v in zip(a.args, b.args) if u != v]
        if len(differing) != 1:
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
    except (TooLarge, ValueError, ArithmeticError):
        return False


def _same_pair(a: Expr, b: Expr, start: Expr, end: Expr, model: Model) -> bool:
    """{a, b} is {start, end}, each shown equal on the model's domain (too large or without a
    meaning in the model, such as a bare latent variable: not shown)."""
    try:
        return (proves_zero(difference(a, start), model) and proves_zero(difference(b, end), model)
                or proves_zero(difference(a, end), model) and proves_zero(difference(b, start), model))
    except BudgetExceeded:
        raise
    except Exception:  # noqa: BLE001 - only a way to establish the claim; the plain comparison follows
        return False


def _check_example(derivation: Derivation, example: Example, model: Model, message: str) -> ExampleResult:
    """The example's expected values, decided exactly; undecided is a failure."""
    failures = []
    explicit = _explicit(model, example.K)
    instance = example.instance
    for expectation in example.expect:
        name = expectation.lhs.text
        if budgets.remaining() <= 0:
            failures.append(f"{name}: not checked ({message})")
            continue
        try:
            with budgets.limit(min(STEP_BUDGET_SECONDS, budgets.remaining()), "the example's budget ran out"):
                failure = _expect_failure(expectation, instance, explicit)
        except BudgetExceeded as error:
            clear_cache()
            failure = f"could not decide ({error})"
        except Exception as error:  # noqa: BLE001 - never a traceback, never a pass
            clear_cache()
            failure = f"could not evaluate ({error})"
        if failure:
            failures.append(f"{name}: {failure}")
    return ExampleResult(example, tuple(failures))


def _expect_failure(expectation, instance: Instance, model: ExplicitModel) -> str | None:
    lhs, rhs = expectation.lhs.expr, expectation.rhs.expr
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
    return (f"is {_exact_text(a, values)} {approx_text(a, values)}, "
            f"not {expectation.rhs.text} {approx_text(b, values)}")


__all__ = ["Verdict", "Counterexample", "StepResult", "ExampleResult", "DerivationResult", "check_step",
           "check_derivation", "compose", "implies", "BudgetExceeded", "domain_text",
           "STEP_BUDGET_SECONDS"]

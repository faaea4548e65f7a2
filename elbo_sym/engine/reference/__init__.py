"""A second, independent opinion on every ``proved`` step.

One reference evaluator per family, chosen by the model's family name, each written from the
definitions with outward-rounded intervals past a log or exp (60 digits; FLINT's arb, or mpmath's
libmpi where python-flint is missing: :mod:`.intervals`) and exact rationals (GMP's mpq, else Fraction:
:mod:`.rationals`) -- never with the engine's unfolding, canonical forms, rules or definedness:

* ``discrete`` (:mod:`.discrete`, also the fuzzer's judge): sums over an explicit K, p(x) =
  sum prior * likelihood, the posterior by Bayes, KL = sum q log(q / p), IWAE by enumerating
  the K**k draws; several observations; [params]; ``K = "any"`` at several explicit K;
* ``gaussian`` (:mod:`.gaussian`): textbook densities and Gauss-Hermite quadrature (D = 1), a
  sum over coordinates of one-dimensional ones (D = 2..8);
* ``chain`` (:mod:`.chain`): explicit tables over (z1, z2), every density a ratio of marginals.

`second_opinion` evaluates both sides of a step at seeded random and boundary instances that
are valid models, with every assumption applied (the assumption's right-hand side evaluated by
the same evaluator; an instance where it is not a distribution is skipped and counted) and, when
the file has premises (``ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)``, ``q(z) != p(z | x)``), only
at the instances where the evaluator itself shows every premise to hold (the others, and those
it cannot decide against a premise, are counted as outside; none inside is undecided).  A
relation that fails, or a side that is undefined, at a valid instance is a disagreement; an
instance the evaluator cannot decide (outside its vocabulary, out of budget) is undecided and
never counts as agreement.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import sympy

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.models.base import Interval, ModelSpec
from elbo_sym.failures import computing_failure, reraise_callers
from elbo_sym.limits import (
    REFERENCE_ANY_K,
    REFERENCE_CHAIN_ANY_INSTANCES,
    REFERENCE_CHAIN_ANY_K,
    REFERENCE_CHAIN_ANY_MAX_POINTS,
    REFERENCE_EXTREME_ANY_K,
    REFERENCE_GAUSSIAN_INSTANCES,
    REFERENCE_INSTANCES,
    REFERENCE_KEPT_VALUES,
    REFERENCE_MAX_STATES,
    REFERENCE_WORK_OPERATIONS,
)


@dataclass(frozen=True)
class Opinion:
    """What the reference evaluator says about a step: ``agrees`` (held at every decided instance,
    at least one), ``disagrees`` (`detail` names the instance and both values) or ``undecided``."""

    status: str
    decided: int = 0
    undecided: int = 0
    skipped: int = 0
    detail: str = ""
    outside: int = 0
    """Instances not judged because a premise fails there or could not be decided there."""
    unreached: int = 0
    """Instances not judged because the budget ran out first (`detail` says which budget)."""

    @property
    def disagrees(self) -> bool:
        return self.status == "disagrees"

    def describe(self) -> str:
        """One line for reports: what the second opinion did."""
        extra = f", {self.undecided} undecided" if self.undecided else ""
        extra += f", {self.skipped} skipped (an assumption is no distribution there)" if self.skipped else ""
        extra += f", {self.outside} outside the premises (or not decided against them)" if self.outside else ""
        if self.status == "agrees" and self.unreached:  # never worded as agreement on the rest
            extra += f", {self.unreached} not reached ({self.detail})"
        if self.status == "agrees":
            return f"the reference evaluator agrees on {self.decided} instance(s){extra}"
        if self.status == "disagrees":
            return f"the reference evaluator disagrees: {self.detail}"
        return f"the reference evaluator could not decide ({self.detail or 'no instance evaluated'}){extra}"


def condition_text(interval: Interval) -> str:
    """A parameter's interval as the judge's condition text (">= 1", "in (0, 1]", "real")."""
    lo, hi = interval.lower, interval.upper
    if interval.integer:
        return f"integer >= {lo}" + (f" and <= {hi}" if hi is not None else "")
    if lo is not None and hi is not None:
        return f"in {'(' if interval.lower_open else '['}{lo}, {hi}{')' if interval.upper_open else ']'}"
    if lo is not None:
        return f"{'>' if interval.lower_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if interval.upper_open else '<='} {hi}"
    return "real"


def conditions(spec: ModelSpec) -> tuple[tuple[str, str], ...]:
    """(name, condition text) of each [params] parameter: its declared interval narrowed by the premises
    that bound it alone (``n >= 35``, ``beta > 1``, `_narrowed`), so that the instances are drawn where the
    step is claimed -- from the declared interval none satisfied ``n >= 35``, and a step proved under it
    got no second opinion (rt33).  Bounds that leave no value leave the interval as declared (no instance
    satisfies the premises there either: the opinion says so)."""
    return tuple((p.name, condition_text(_narrowed(p.name, p.interval, spec.premises))) for p in spec.params)


def _narrowed(name: str, interval: Interval, premises) -> Interval:
    """`interval` within every premise's bound on the parameter `name` alone (`_bound_on`); `interval`
    itself when they leave no value of it."""
    lower, upper = (interval.lower, interval.lower_open), (interval.upper, interval.upper_open)
    for premise in premises:
        bound = _bound_on(name, premise)
        if bound is None:
            continue
        rel, b = bound
        if rel in (">=", ">") and (lower[0] is None or b > lower[0] or (b == lower[0] and rel == ">")):
            lower = (b, rel == ">")
        if rel in ("<=", "<") and (upper[0] is None or b < upper[0] or (b == upper[0] and rel == "<")):
            upper = (b, rel == "<")
    if interval.integer:  # whole numbers: closed ends at the whole numbers inside
        low = None if lower[0] is None else (math.floor(lower[0]) + 1 if lower[1] else math.ceil(lower[0]))
        high = None if upper[0] is None else (math.ceil(upper[0]) - 1 if upper[1] else math.floor(upper[0]))
        if low is None or (high is not None and high < low):
            return interval
        return Interval(Fraction(low), None if high is None else Fraction(high), integer=True)
    narrowed = Interval(lower[0], upper[0], lower[1], upper[1])
    if lower[0] is not None and upper[0] is not None and (
            lower[0] > upper[0] or (lower[0] == upper[0] and (lower[1] or upper[1]))):
        return interval
    return narrowed


def _bound_on(name: str, premise) -> tuple[str, Fraction] | None:
    """(rel, b) when the premise says ``name rel b`` (read from left - right = a*t + c, a and c rational,
    a != 0, by SymPy's expansion -- not the engine's canonical forms); None for any other premise."""
    if premise.rel not in (">=", "<=", ">", "<"):
        return None
    d = premise.lhs.expr - premise.rhs.expr
    if {s.name for s in d.free_symbols} != {name} or len(d.free_symbols) != 1:
        return None
    (t,) = d.free_symbols
    d = sympy.expand(d)
    a, c = d.coeff(t, 1), d.coeff(t, 0)
    if not (a.is_Rational and c.is_Rational) or a == 0 or sympy.expand(d - a * t - c) != 0:
        return None
    b = Fraction(int((-c / a).p), int((-c / a).q))
    flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
    return (premise.rel if a > 0 else flipped[premise.rel]), b


def _fixes(spec: ModelSpec) -> list[tuple[str, object]]:
    """(observation, right-hand side) of each assumption q(z | o) = ... of the spec."""
    out = []
    for relation in spec.assumptions:
        lhs = relation.lhs.expr
        given = tuple(getattr(lhs, "given", ()))
        out.append((str(given[0]) if given else spec.data[0], relation.rhs.expr))
    return out


_CASES: dict = {}
"""cases() by (spec, K, seed): the steps of a file, and files of one model, share the instances."""


def cases(spec: ModelSpec, K, seed: int = 0) -> tuple[str, list, int]:
    """(family module name, valid instances with every assumption applied, instances skipped
    because an assumption makes them no model of the family).

    Each instance is checked to be a model of the family (every block a distribution, every
    parameter in its interval) after the assumptions are applied.  Cached: the steps of a file
    share their instances (and the values each instance caches, until `forget`).  Making them
    counts under a work budget of its own (a pure function of the arguments, so the same count
    whether made now or found made), never against a step's."""
    from elbo_sym.engine.reference.discrete import work_limit

    key = (spec, K, seed)
    known = _CASES.get(key)
    if known is None:
        with work_limit(REFERENCE_WORK_OPERATIONS, cases_budget_text(REFERENCE_WORK_OPERATIONS)):
            known = _made_cases(spec, K, seed)
        if len(_CASES) >= 64:
            _CASES.clear()
        _CASES[key] = known
    return known


def _made_cases(spec: ModelSpec, K, seed: int) -> tuple[str, list, int]:
    family, found, skipped = _cases(spec, K, seed)
    from importlib import import_module

    params = conditions(spec)
    module = import_module(f"elbo_sym.engine.reference.{family}")
    kept = [inst for inst in found if module.is_valid(inst, params)
            and (not spec.data_space or module.normalised(inst))]
    return family, kept, skipped + len(found) - len(kept)


def _cases(spec: ModelSpec, K, seed: int) -> tuple[str, list, int]:
    params = conditions(spec)
    fixes = _fixes(spec)
    if spec.family == "gaussian" and spec.layered:  # Gaussian layers: exact covariances, nested quadrature
        from elbo_sym.engine.reference import gaussian_chain

        return "gaussian_chain", gaussian_chain.instances(spec.layers, REFERENCE_GAUSSIAN_INSTANCES, seed, params), 0
    if spec.family == "gaussian":
        from elbo_sym.engine.reference import gaussian

        normal = gaussian.instances(spec.D, REFERENCE_GAUSSIAN_INSTANCES, seed, params)
        fixed, lost = gaussian.with_assumptions(normal, fixes)
        return "gaussian", fixed, lost
    if spec.family == "chain":
        from elbo_sym.engine.reference import chain

        chains: list = []
        small = tuple(k for k in REFERENCE_CHAIN_ANY_K if k ** spec.layers <= REFERENCE_CHAIN_ANY_MAX_POINTS)
        for k in (small if K == "any" else (int(K),)):  # K = "any": several explicit K
            count = REFERENCE_CHAIN_ANY_INSTANCES if K == "any" else REFERENCE_INSTANCES
            count = max(2, min(count, REFERENCE_MAX_STATES // (k * k)))
            count = max(2, min(count, REFERENCE_MAX_STATES // k ** spec.layers))
            chains += chain.instances(k, count, seed, spec.data[0], params, spec.layers)
            if k == small[0] or K != "any":  # the extremes at the first K
                chains += chain.extreme_instances(k, spec.data[0], params, spec.layers)
        return "chain", chains, 0
    if spec.family == "discrete":
        from elbo_sym.engine.reference import discrete

        every_k = REFERENCE_ANY_K if K == "any" else (int(K),)
        found: list = []
        skipped = 0
        for i, k in enumerate(every_k + _larger_k(K)):  # K = "any": each K its part of the list
            count = max(2, min(REFERENCE_INSTANCES // len(every_k) + 1, REFERENCE_MAX_STATES // k))
            drawn = _discrete_instances(k, count, i, seed, spec, params, every_k)
            drawn = discrete.with_model_names(drawn, spec.variationals, spec.indices, seed)  # r, theta's tables
            if spec.data_space:  # the observations are every value of x: normalised before the assumptions read it
                drawn = discrete.with_data_space(drawn)
            some, lost = discrete.with_assumptions(drawn, fixes)
            found += some
            skipped += lost
        if spec.data_weights:  # p_data(x1): every instance with weights of its observations
            found = discrete.with_data_weights(found, seed)
        return "discrete", found, skipped
    raise LookupError(f"no reference evaluator for the family {spec.family!r}")


def _larger_k(K) -> tuple[int, ...]:
    """The further K a ``K = "any"`` step is tried at (its extremes only): none for a fixed K."""
    return (REFERENCE_EXTREME_ANY_K,) if K == "any" else ()


def _discrete_instances(k: int, count: int, i: int, seed: int, spec: ModelSpec, params, every_k) -> list:
    """The discrete instances at k states: the product path's, then those at the extremes (at a fixed K and
    the first K of a ``K = "any"`` step; at its larger K only the one with q uniform: its IWAE draws cost)."""
    from elbo_sym.engine.reference import discrete

    data = tuple(spec.data)
    moderate = discrete.product_instances(k, count, seed, data, params, offset=i * count) if k in every_k else []
    if k not in (every_k[0], REFERENCE_EXTREME_ANY_K):
        return moderate
    return moderate + discrete.extreme_instances(k, data, params, uniform_q=k not in every_k)


_MEMOS: dict = {}


def _memo(spec: ModelSpec, K, seed: int, index: int) -> dict:
    """The discrete evaluator's memo of one cached instance (bounded: cleared when it grows)."""
    if len(_MEMOS) > 256:
        _MEMOS.clear()
    memo = _MEMOS.setdefault((spec, K, seed, index), {})
    if len(memo) > 20_000:  # a long session on one model (a notebook, the repair search)
        memo.clear()
    return memo


def _satisfies(module, premises, case, memo: dict) -> bool:
    """Every premise shown to hold at the case (undecided or outside the evaluator: not shown)."""
    from elbo_sym.engine.reference.discrete import JudgeError

    try:
        return all(module.premise_holds(p.lhs.expr, p.rel, p.rhs.expr, case, memo) is True for p in premises)
    except (JudgeError, ArithmeticError, ValueError, TypeError) as raised:
        reraise_callers(raised)
        return False


def forget() -> None:
    """Drop every memo of values (the instances and what they cache, the evaluators' remembered
    values): when they hold too many (`forget_when_full`) or another backend's intervals.  The work a
    second opinion counts never depends on them (a value found is charged what it cost when made)."""
    for _, found, _ in _CASES.values():  # the instances stay (made by a pure function), their values go
        for case in found:
            case.binders.clear()
    _MEMOS.clear()
    for memo in _gaussian_memos():  # not imported yet: it remembers nothing (a discrete file need not import it)
        memo.clear()


def _gaussian_memos() -> tuple[dict, ...]:
    """The Gaussian judge's memos by value (none before a Gaussian file imports it)."""
    gaussian = sys.modules.get("elbo_sym.engine.reference.gaussian")
    if gaussian is None:
        return ()
    return (gaussian._LOG_NORMALS, gaussian._PRODUCT_RULES, gaussian._LOG_2PI_V, gaussian._INTERVAL_KEYS,
            gaussian._POINT_KEYS, gaussian._LOG_NORMALS_BY_IDENTITY)


def values_held() -> int:
    """How many values the memos `forget` drops hold now (entries of each)."""
    cases_ = sum(len(case.binders) for _, found, _ in _CASES.values() for case in found)
    return cases_ + sum(len(memo) for memo in _MEMOS.values()) + sum(len(memo) for memo in _gaussian_memos())


def forget_when_full() -> None:
    """`forget`, when the memos hold more than REFERENCE_KEPT_VALUES values: called when a file's check
    starts, so that the files of one model reuse their instances' values (on the whole derivations/
    tree, 13 % of the second opinion's CPU) while the memory stays bounded.  What a second opinion
    says and the work it counts are the same either way (`forget`)."""
    if values_held() > REFERENCE_KEPT_VALUES:
        forget()


@contextmanager
def use_backend(name: str):
    """Judge with the interval backend `name` ("arb", "mpmath"; `intervals.available()`) inside the
    block: every value remembered under the other one (instances an assumption fixed, logs, quadrature
    points, shown texts) is forgotten on the way in and out, so no interval of one backend meets the
    other's.  The tests run the pure-Python backend this way (the browser's) beside arb."""
    from elbo_sym.engine.reference import discrete, intervals

    saved = discrete.backend()
    _forget_intervals(intervals.available()[name])
    try:
        yield discrete.backend()
    finally:
        _forget_intervals(saved)


def _forget_intervals(chosen) -> None:
    from elbo_sym.engine.reference import discrete

    discrete.set_backend(chosen)
    forget()
    _CASES.clear()
    gaussian = sys.modules.get("elbo_sym.engine.reference.gaussian")
    if gaussian is not None:  # its memos by value (the chains keep theirs in their instances)
        gaussian.forget_intervals()


def work_budget_text(operations: int) -> str:
    """Why a judgement stopped, naming the budget it ran under (a function, not a text made at import,
    so that a patched REFERENCE_WORK_OPERATIONS is the number shown)."""
    return f"the second opinion's work budget of {operations:,} operations ran out"


def cases_budget_text(operations: int) -> str:
    """Why making a model's instances stopped, naming the budget it ran under."""
    return f"making the second opinion's instances took more than {operations:,} operations"


def second_opinion(lhs, rel: str, rhs, spec: ModelSpec, K, seed: int = 0) -> Opinion:
    """Evaluate `lhs rel rhs` at valid instances of the model `spec` describes (K: the model's K,
    "any" for every latent space) with the family's reference evaluator, under a budget of
    REFERENCE_WORK_OPERATIONS arithmetic operations (counted, so the same step stops at the same
    instance however busy the machine is; the caller's clock is only a backstop)."""
    return second_opinion_and_work(lhs, rel, rhs, spec, K, seed)[0]


def second_opinion_and_work(lhs, rel: str, rhs, spec: ModelSpec, K, seed: int = 0) -> tuple[Opinion, int]:
    """`second_opinion` and the operations it counted: a pure function of the step and the model
    (a value found remembered charges what it cost when made), so the same whether the step is judged
    alone or after the steps before it, and whether its equal parts are one object or several."""
    from elbo_sym.engine.reference.discrete import work_limit, work_spent

    with work_limit(REFERENCE_WORK_OPERATIONS, work_budget_text(REFERENCE_WORK_OPERATIONS)):
        opinion = _second_opinion(lhs, rel, rhs, spec, K, seed)
        return opinion, work_spent()


def _second_opinion(lhs, rel: str, rhs, spec: ModelSpec, K, seed: int) -> Opinion:
    from importlib import import_module

    from elbo_sym.engine.reference.discrete import JudgeError

    try:
        family, found, skipped = cases(spec, K, seed)
    except (JudgeError, LookupError, ValueError, ArithmeticError, TypeError) as error:  # TypeError: unhashable
        reraise_callers(error)
        return Opinion("undecided", detail=f"no instances: {error}")
    if not found and skipped:  # no instance is a model: the step stands on assumptions no model satisfies
        assumed = "; ".join(f"{relation.lhs.text} = {relation.rhs.text}" for relation in spec.assumptions)
        return Opinion("disagrees", 0, 0, skipped, f"no instance is a model of the family under the assumption "
                       f"({assumed or 'none'}): it is no distribution at any of the {skipped} instances tried")
    module = import_module(f"elbo_sym.engine.reference.{family}")
    decided = undecided = 0
    reasons: list[str] = []
    premises = tuple(spec.premises)
    if premises and family not in ("discrete", "gaussian", "chain"):
        return Opinion("undecided", detail=f"no premise evaluator for the family {family!r}")
    inside = list(enumerate(found))
    if premises:  # the step is claimed only where every premise holds: judge it only there
        inside = [(index, case) for index, case in inside
                  if _satisfies(module, premises, case, _memo(spec, K, seed, index))]
        if not inside:
            return Opinion("undecided", 0, 0, skipped, f"no instance was shown to satisfy every premise "
                           f"({len(found)} tried)", len(found))
    outside = len(found) - len(inside)
    try:
        for index, case in inside:
            budgets.checkpoint()
            try:
                if family == "discrete":  # values shared by the steps of a file (a step's rhs is the next lhs)
                    judgement = module.judge(lhs, rel, rhs, [case], memos={0: _memo(spec, K, seed, index)})
                else:
                    judgement = module.judge(lhs, rel, rhs, [case])
            except Exception as error:  # noqa: BLE001 - outside the evaluator's reach: undecided, never agreement
                if isinstance(error, BudgetExceeded) or not computing_failure(error):
                    raise  # the budget's, or the caller's own exception (elbo_sym.failures)
                undecided += 1
                reasons.append(str(error) if isinstance(error, JudgeError) else f"{type(error).__name__}: {error}")
                continue
            failures = judgement.failures
            if failures:
                first = failures[0]
                at = f" at z = {first.k}" if first.k is not None else ""
                return Opinion("disagrees", decided, undecided, skipped,
                               f"{first.reason} at {first.instance.describe()}{at} (lhs = {first.lhs}, "
                               f"rhs = {first.rhs})", outside)
            decided += 1
    except BudgetExceeded as error:
        reasons.append(str(error))
        unreached = len(inside) - decided - undecided
        if decided:
            return Opinion("agrees", decided, undecided, skipped, str(error), outside, unreached)
    if not decided:
        return Opinion("undecided", 0, undecided, skipped, reasons[0] if reasons else "", outside)
    return Opinion("agrees", decided, undecided, skipped, outside=outside)


__all__ = ["Opinion", "second_opinion", "second_opinion_and_work", "cases", "condition_text", "conditions", "forget",
           "use_backend"]

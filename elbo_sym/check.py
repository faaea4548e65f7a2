"""Verdicts for steps and whole chains.

A step is ``proved`` when its rule proves it for every model of the family; otherwise
the checker looks for a counterexample among exact instances (the file's examples, the
tight case q = posterior, q = prior, and seeded random fractions).  A counterexample is
*certified*: equality is decided exactly (log-prime canonical forms), signs by interval
arithmetic -- never by a float.  Only when no counterexample turns up is a step
``checked``, with the number of instances it held on.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING

import mpmath
from sympy import Expr, Rational, Symbol, log
from sympy.core.cache import clear_cache

from elbo_sym.canonical import TooLarge, canonical
from elbo_sym.derivation import Derivation, Example, Step
from elbo_sym.model import DiscreteModel, UnfoldError
from elbo_sym.notation import to_text
from elbo_sym.rules import RULES, RuleOutcome, difference, is_distribution

if TYPE_CHECKING:
    from elbo_sym.repair import Suggestion

STEP_BUDGET_SECONDS = 10.0
RANDOM_INSTANCES = 12


class Verdict(str, Enum):
    proved = "proved"
    refuted = "refuted"
    checked = "checked"
    error = "error"


@dataclass(frozen=True)
class Counterexample:
    """Exact parameter values where a step fails, with both sides' values."""

    prior: tuple[str, ...]
    likelihood: tuple[str, ...]
    q: tuple[str, ...]
    lhs: str
    rhs: str
    lhs_value: float
    rhs_value: float
    z: int | None = None
    source: str = "random instance"

    def as_dict(self) -> dict:
        return {"prior": list(self.prior), "likelihood": list(self.likelihood), "q": list(self.q),
                "z": self.z, "lhs": self.lhs, "rhs": self.rhs, "lhs_value": self.lhs_value,
                "rhs_value": self.rhs_value, "source": self.source}

    def report_lines(self) -> list[str]:
        """The counterexample as three readable lines (for explain and pytest reports)."""
        at = f" at z = {self.z}" if self.z is not None else ""
        return [f"counterexample ({self.source}){at}: p(z) = ({', '.join(self.prior)}), "
                f"p(x|z) = ({', '.join(self.likelihood)}), q(z) = ({', '.join(self.q)})",
                f"    left  = {self.lhs} ≈ {self.lhs_value:.6g}",
                f"    right = {self.rhs} ≈ {self.rhs_value:.6g}"]

    def describe(self) -> str:
        at = f" at z = {self.z}" if self.z is not None else ""
        return (f"p(z) = ({', '.join(self.prior)}), p(x|z) = ({', '.join(self.likelihood)}), "
                f"q(z) = ({', '.join(self.q)}){at} [{self.source}]: "
                f"left = {self.lhs} ≈ {self.lhs_value:.6g}, right = {self.rhs} ≈ {self.rhs_value:.6g}")


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
    """For a refuted step: the smallest common repair that makes it proved (elbo_sym.repair)."""

    def as_dict(self) -> dict:
        s = self.step
        return {"index": s.index, "line": s.line, "rel": s.rel, "rule": s.rule, "expr": s.formula.text,
                "verdict": self.verdict.value, "reason": self.reason, "instances": self.instances,
                "counterexample": self.counterexample.as_dict() if self.counterexample else None,
                "suggestion": self.suggestion.as_dict() if self.suggestion else None}


@dataclass(frozen=True)
class ExampleResult:
    example: Example
    failures: tuple[str, ...]

    @property
    def holds(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {"index": self.example.index, "line": self.example.line, "holds": self.holds,
                "failures": list(self.failures)}


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
        return (self.established and not self.problems
                and all(r.verdict in (Verdict.proved, Verdict.checked) for r in self.steps)
                and all(e.holds for e in self.examples))

    @property
    def fully_proved(self) -> bool:
        return self.ok and all(r.verdict is Verdict.proved for r in self.steps)

    def _repr_latex_(self) -> str:
        """Jupyter: the chain with each step's rule and verdict (elbo_sym.display)."""
        from elbo_sym.display import result_latex

        return result_latex(self)

    def _repr_html_(self) -> str:
        """Jupyter: a table of steps with verdict marks, counterexamples, suggestions."""
        from elbo_sym.display import result_html

        return result_html(self)

    def as_dict(self) -> dict:
        d = self.derivation
        return {"file": d.path, "title": d.title, "claim": _relation_text(d.claim), "relation": self.relation,
                "established": self.established, "claim_reason": self.claim_reason, "ok": self.ok,
                "steps": [s.as_dict() for s in self.steps], "examples": [e.as_dict() for e in self.examples],
                "problems": list(self.problems)}


# ------------------------------------------------------------------------- budget


class BudgetExceeded(Exception):
    pass


@contextmanager
def time_budget(seconds: float):
    """Abort the block after `seconds` (main thread only; elsewhere size limits still apply)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def expire(signum, frame):
        raise BudgetExceeded(f"time budget of {seconds:g} s exceeded")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class Instance:
    prior: tuple[Fraction, ...]
    likelihood: tuple[Fraction, ...]
    q: tuple[Fraction, ...] | None
    source: str

    def values(self, model: DiscreteModel) -> dict[Symbol, Rational]:
        return model.instance(self.prior, self.likelihood, None if model.q_assumed is not None else self.q)


def _random_distribution(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    weights = [rng.randint(1, 9) for _ in range(K)]
    total = sum(weights)
    return tuple(Fraction(w, total) for w in weights)


def instances(model: DiscreteModel, examples: tuple[Example, ...] = (), seed: int = 0) -> list[Instance]:
    """The file's examples first, then the tight case, q = prior, and seeded random fractions."""
    rng = random.Random(seed)
    out = [Instance(e.prior, e.likelihood, e.q, f"example {e.index}") for e in examples]
    for n in range(RANDOM_INSTANCES):
        prior = _random_distribution(rng, model.K)
        likelihood = tuple(Fraction(rng.randint(1, 9), 10) for _ in range(model.K))
        evidence = sum(a * b for a, b in zip(prior, likelihood))
        posterior = tuple(a * b / evidence for a, b in zip(prior, likelihood))
        if n == 0:
            out.append(Instance(prior, likelihood, posterior, "tight case q = posterior"))
        elif n == 1:
            out.append(Instance(prior, likelihood, prior, "q = prior"))
        else:
            out.append(Instance(prior, likelihood, _random_distribution(rng, model.K), "random instance"))
    return out + _skewed_instances(model.K)


def _skewed_instances(K: int) -> list[Instance]:
    """Corner cases the random fractions (weights 1..9) never reach: a nearly degenerate q
    or prior, likelihoods near 0 and 1.  Wrong inequalities that hold "on average" (e.g.
    sum_z log(p(x, z) / q(z)) <= log p(x)) fail only here."""
    tiny = Fraction(1, 100 * K)

    def skewed(j: int) -> tuple[Fraction, ...]:
        return tuple(1 - tiny * (K - 1) if k == j else tiny for k in range(K))

    uniform = tuple(Fraction(1, K) for _ in range(K))
    high = tuple(Fraction(9, 10) for _ in range(K))
    spread = tuple(Fraction(1, 100) if k % 2 == 0 else Fraction(1) for k in range(K))
    return [Instance(uniform, high, skewed(0), "skewed q"),
            Instance(uniform, spread, skewed(K - 1), "skewed q"),
            Instance(skewed(0), spread, uniform, "skewed prior"),
            Instance(skewed(K - 1), high, skewed(0), "skewed prior and q")]


# ------------------------------------------------------------------------- certified arithmetic


class Undefined(ArithmeticError):
    """A log of a non-positive value: the expression is not real there."""


def interval(e: Expr):
    """An mpmath interval enclosing a numeric SymPy expression."""
    if e.is_Rational:
        return mpmath.iv.mpf(e.p) / e.q
    if e.is_Add:
        return sum((interval(a) for a in e.args), mpmath.iv.mpf(0))
    if e.is_Mul:
        result = mpmath.iv.mpf(1)
        for a in e.args:
            result = result * interval(a)
        return result
    if e.is_Pow and e.exp.is_Integer:
        return interval(e.base) ** int(e.exp)
    name = type(e).__name__
    if name == "log":
        arg = interval(e.args[0])
        if arg.b <= 0:
            raise Undefined(f"log of a non-positive value {to_text(e.args[0])}")
        if arg.a <= 0:
            raise ArithmeticError("interval too wide")
        return mpmath.iv.log(arg)
    if name == "exp":
        return mpmath.iv.exp(interval(e.args[0]))
    raise ArithmeticError(f"cannot evaluate {name}")


def sign(d: Expr, model: DiscreteModel) -> int | None:
    """-1, 0 or 1 for a numeric expression, certified; None if undecided."""
    if canonical(d, model).is_zero:
        return 0
    for digits in (30, 80, 200):
        value = _interval_at(d, digits)
        if value is None:
            continue
        if value.a > 0:
            return 1
        if value.b < 0:
            return -1
    return None


def _interval_at(e: Expr, digits: int):
    saved = mpmath.iv.dps
    mpmath.iv.dps = digits
    try:
        return interval(e)
    except Undefined:
        raise
    except ArithmeticError:
        return None
    finally:
        mpmath.iv.dps = saved


def holds(rel: str, s: int) -> bool:
    return {"=": s == 0, ">=": s >= 0, "<=": s <= 0, ">": s > 0, "<": s < 0}[rel]


def _float(e: Expr) -> float:
    with mpmath.workdps(30):
        try:
            return float(e.evalf(20))
        except (TypeError, ValueError):
            return float("nan")


def _text(values) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def substitute(e: Expr, values: dict, memo: dict | None = None) -> Expr:
    """`e.xreplace(values)`, visiting each distinct subtree once.

    An unfolded expression repeats p(x) = sum_k pi_k l_k inside K logs; `xreplace` walks
    every copy (quadratic in K), this walks the shared subtree once (linear)."""
    memo = {} if memo is None else memo

    def walk(node: Expr) -> Expr:
        if node in values:
            return values[node]
        if not node.args:
            return node
        known = memo.get(node)
        if known is None:
            args = tuple(walk(a) for a in node.args)
            if not any(n is not o for n, o in zip(args, node.args)):
                known = node
            elif isinstance(node, log) and args[0].is_Rational and args[0] > 0:
                known = log(args[0], evaluate=False)  # SymPy's log(p/q) evaluation is slow; both
            else:                                     # canonical forms and intervals take it as is
                known = node.func(*args)
            memo[node] = known
        return known

    return walk(e)


def find_counterexample(lhs: Expr, rel: str, rhs: Expr, model: DiscreteModel,
                        candidates: list[Instance]) -> tuple[Counterexample | None, int, str | None]:
    """First candidate where `lhs rel rhs` certifiably fails; also how many it held on."""
    held = 0
    left_parts, right_parts = model.unfold_pointwise(lhs), model.unfold_pointwise(rhs)
    if len(left_parts) != len(right_parts):
        left_parts = left_parts * (len(right_parts) if len(left_parts) == 1 else 1)
        right_parts = right_parts * (len(left_parts) if len(right_parts) == 1 else 1)
    for candidate in candidates:
        values = candidate.values(model)
        decided = True
        memo: dict = {}
        for k, (left, right) in enumerate(zip(left_parts, right_parts)):
            a, b = substitute(left, values, memo), substitute(right, values, memo)
            try:
                s = sign(difference(a, b), model)
            except Undefined as error:
                return None, held, f"{error} ({candidate.source})"
            if s is None:
                decided = False
                continue
            if not holds(rel, s):
                q = candidate.q if model.q_assumed is None else tuple(
                    Fraction(str(v.xreplace(values))) for v in model.q)
                z = k if len(left_parts) > 1 else None
                return Counterexample(_text(candidate.prior), _text(candidate.likelihood), _text(q),
                                      str(a), str(b), _float(a), _float(b), z, candidate.source), held, None
        held += decided
    return None, held, None


# ------------------------------------------------------------------------- steps and chains


def check_step(lhs: Expr, step: Step, model: DiscreteModel, examples: tuple[Example, ...] = (),
               budget: float = STEP_BUDGET_SECONDS) -> StepResult:
    """The verdict of one step `lhs rel step.expr`, justified by `step.rule`."""
    started = time.perf_counter()
    rule = RULES[step.rule]
    try:
        with time_budget(budget):
            outcome = rule(lhs, step.rel, step.expr, model)
            candidates = instances(model, examples, seed=step.index)
            if outcome.proved:
                # Examples are re-checked even for proved steps: a disagreement would be a bug.
                counterexample, held, undefined = find_counterexample(
                    lhs, step.rel, step.expr, model, candidates[: len(examples)])
            else:
                counterexample, held, undefined = find_counterexample(lhs, step.rel, step.expr, model, candidates)
    except BudgetExceeded as error:
        clear_cache()
        return StepResult(step, lhs, Verdict.error, str(error), seconds=time.perf_counter() - started)
    except (TooLarge, UnfoldError, RecursionError, ValueError, ZeroDivisionError) as error:
        clear_cache()
        return StepResult(step, lhs, Verdict.error, f"could not check: {error}",
                          seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if undefined:
        return StepResult(step, lhs, Verdict.error, undefined, None, held, outcome, seconds)
    if counterexample is not None:
        return StepResult(step, lhs, Verdict.refuted, outcome.reason if not outcome.proved else
                          "BUG: proved but an example disagrees", counterexample, held, outcome, seconds)
    if outcome.proved:
        return StepResult(step, lhs, Verdict.proved, outcome.reason, None, held, outcome, seconds)
    if held == 0:
        return StepResult(step, lhs, Verdict.error, f"not proved ({outcome.reason}) and no instance decided it",
                          None, 0, outcome, seconds)
    return StepResult(step, lhs, Verdict.checked, f"not proved ({outcome.reason}); held on {held} exact instances",
                      None, held, outcome, seconds)


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


def check_derivation(derivation: Derivation, budget: float = STEP_BUDGET_SECONDS) -> DerivationResult:
    """Check every step, every example, and whether the chain establishes the claim.

    Repair suggestions for refuted steps are added one layer up, by
    `elbo_sym.repair.check_with_suggestions`.
    """
    problems: list[str] = []
    model = derivation.model()
    if derivation.assumptions and not _assumption_ok(model):
        problems.append("the assumption does not define a distribution over z")
    results, relation, lhs = [], "=", derivation.start.expr
    for step in derivation.steps:
        result = check_step(lhs, step, model, derivation.examples, budget)
        results.append(result)
        relation = compose(relation, step.rel)
        lhs = step.expr
    if relation is None:
        problems.append("the chain mixes >= and <= steps, so it establishes no relation")
    established, claim_reason = _claim(derivation, relation, model, results)
    examples = tuple(_check_example(derivation, e, model) for e in derivation.examples)
    return DerivationResult(derivation, tuple(results), relation, established, claim_reason, examples,
                            tuple(problems))


def _assumption_ok(model: DiscreteModel) -> bool:
    q_free = not any(s in model.q_symbols for v in model.q for s in v.free_symbols)
    return q_free and is_distribution(model.q, model)


def _claim(derivation: Derivation, relation: str | None, model: DiscreteModel,
           results: list[StepResult]) -> tuple[bool, str]:
    steps_ok = all(r.verdict in (Verdict.proved, Verdict.checked) for r in results)
    if relation is None:
        return False, "the chain establishes no relation"
    if not steps_ok:
        return False, "not every step holds"
    claim, start, end = derivation.claim, derivation.start.expr, derivation.steps[-1].expr
    chain_text = f"{to_text(start)} {relation} {to_text(end)}"
    if claim is None:
        return True, f"the chain shows {chain_text}"
    from elbo_sym.rules import proves_zero

    try:
        with time_budget(STEP_BUDGET_SECONDS):
            same = proves_zero(difference(claim.lhs.expr, start), model) and \
                proves_zero(difference(claim.rhs.expr, end), model)
            flipped = not same and proves_zero(difference(claim.lhs.expr, end), model) and \
                proves_zero(difference(claim.rhs.expr, start), model)
    except (BudgetExceeded, TooLarge, UnfoldError) as error:
        clear_cache()
        return False, f"could not compare the claim with the chain: {error}"
    have = relation if same else _FLIP[relation] if flipped else None
    if have is None:
        return False, f"the chain shows {chain_text}, which is not about the claim's two sides"
    if not implies(have, claim.rel):
        return False, f"the chain shows {chain_text}, which does not give the claim's '{claim.rel}'"
    kind = "proved" if all(r.verdict is Verdict.proved for r in results) else "checked (not every step proved)"
    return True, f"claim {kind}: the chain shows {chain_text}"


def _check_example(derivation: Derivation, example: Example, model: DiscreteModel) -> ExampleResult:
    """The example's expected values, decided exactly (steps were already run on it)."""
    failures = []
    candidate = [Instance(example.prior, example.likelihood, example.q, f"example {example.index}")]
    for expectation in example.expect:
        try:
            counterexample, _, undefined = find_counterexample(
                expectation.lhs.expr, "=", expectation.rhs.expr, model, candidate)
        except (TooLarge, UnfoldError, ValueError) as error:
            failures.append(f"{expectation.lhs.text}: could not evaluate ({error})")
            continue
        if undefined:
            failures.append(f"{expectation.lhs.text}: {undefined}")
        elif counterexample is not None:
            failures.append(f"{expectation.lhs.text} is {counterexample.lhs} ≈ {counterexample.lhs_value:.6g}, "
                            f"not {expectation.rhs.text} ≈ {counterexample.rhs_value:.6g}")
    return ExampleResult(example, tuple(failures))


def _relation_text(relation) -> str | None:
    if relation is None:
        return None
    return f"{relation.lhs.text} {relation.rel} {relation.rhs.text}"

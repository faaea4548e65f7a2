"""Fresh exercises with answer keys, and the tight-case drill -- reproducible from a seed.

Everything is drawn from ``random.Random(seed)`` only: no hash randomisation, no set
iteration order, no floats in any decision (the "gap is not tiny" test is a certified
LogNumber comparison). The same seed gives the same sheet on every machine and Python
process (``PYTHONHASHSEED`` does not matter).

Each case is one :class:`elbo_sym.engine.models.base.Instance` (p(z), p(x | z), q(z)); its
answer key is the :class:`elbo_sym.lesson.examples.WorkedExample` of that instance,
cross-checked against the engine. The posterior of a drawn model is ``Instance.posterior()``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from elbo_sym.engine.models.base import Instance
from elbo_sym.lesson.examples import (
    ExampleInputError,
    WorkedExample,
    example_of,
    fraction_text,
    lesson_instance,
)
from elbo_sym.limits import MAX_COUNT, MAX_EXERCISE_K, MAX_SEED, SCIENTIFIC_FIGURES, SHOWN_DIGITS, SOLUTIONS

__all__ = [
    "Exercise",
    "ExerciseSheet",
    "DrillCase",
    "Drill",
    "Task",
    "TASKS",
    "PARTS",
    "SOLUTIONS",
    "parse_parts",
    "select_tasks",
    "generate_exercises",
    "tight_drill",
    "format_sheet",
    "format_drill",
    "NICE_DENOMINATORS",
    "MIN_GAP",
    "MAX_COUNT",
    "MAX_SEED",
]

NICE_DENOMINATORS = (2, 3, 4, 5, 10)
"""Denominators of the binary exercises' probabilities (K > 2 adds 6, 8, 12, 20, ...)."""
MIN_GAP = Fraction(1, 100)
"""A fresh exercise's gap exceeds this many nats (certified), so q is visibly not the posterior."""
_ATTEMPTS_PER_CASE = 500
DRILL_STREAM = 2**64
"""The drill draws from random.Random(seed + 2**64): a stream no exercise seed (< 2**63) uses, so
a drill never gives away the posterior of the same seed's exercise sheet."""


@dataclass(frozen=True)
class Task:
    """What a sheet asks for: the quantity's key in WorkedExample, its formula, the prompt."""

    key: str
    formula: str
    prompt: str

    @property
    def symbol(self):
        from elbo_sym.engine.parse import parse_expression

        return parse_expression(self.formula)


TASKS = (
    Task("evidence", "p(x)", "the evidence p(x)"),
    Task("posterior", "p(z | x)", "the posterior p(z | x) for each z"),
    Task("elbo", "ELBO(q)", "the ELBO, one term per z"),
    Task("reconstruction", "E(q, log(p(x | z)))", "the reconstruction term E_q[log p(x | z)]"),
    Task("kl_prior", "KL(q(z), p(z))", "the KL divergence from q to the prior"),
    Task("kl_posterior", "KL(q(z), p(z | x))", "the KL divergence from q to the posterior"),
    Task("gap", "log(p(x)) - ELBO(q)", "the gap log p(x) - ELBO, and check it equals KL(q || p(z | x))"),
)
"""The questions of every exercise, in order (keys index WorkedExample; 'posterior' is per state)."""

PARTS = tuple(t.key for t in TASKS)
"""The names of the parts a sheet may ask for (``--parts evidence,posterior,elbo``)."""


def select_tasks(parts) -> tuple[Task, ...]:
    """The tasks named by ``parts`` (an iterable of PARTS names, or None: all), in the lesson's
    order, each once; ExampleInputError naming an unknown part or an empty selection."""
    if parts is None:
        return TASKS
    names = [str(name).strip() for name in parts]
    unknown = [name for name in names if name not in PARTS]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:3])
        raise ExampleInputError(f"unknown part {shown} (parts: {', '.join(PARTS)})")
    if not names:
        raise ExampleInputError(f"no parts chosen (parts: {', '.join(PARTS)})")
    return tuple(t for t in TASKS if t.key in names)


def parse_parts(text: str) -> tuple[Task, ...]:
    """``"evidence,posterior,elbo"`` -> the tasks (:func:`select_tasks`)."""
    return select_tasks([part for part in text.split(",") if part.strip()] if text.strip() else [])


class _Givens:
    """The givens of a case, read from its answer key's Instance (the one copy of them)."""

    key: WorkedExample

    @property
    def instance(self) -> Instance:
        return self.key.instance

    @property
    def prior(self) -> tuple[Fraction, ...]:  # the key's givens, not a second copy of them
        return self.key.prior

    @property
    def likelihood(self) -> tuple[Fraction, ...]:
        return self.key.likelihood

    @property
    def q(self) -> tuple[Fraction, ...]:
        return self.key.q

    @property
    def K(self) -> int:
        return self.key.K


@dataclass(frozen=True)
class Exercise(_Givens):
    """One case of a sheet: the answer key (``key``, the WorkedExample of the case's
    ``instance``); ``prior``, ``likelihood`` and ``q`` are the givens."""

    index: int
    key: WorkedExample

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, **self.key.as_dict()}


@dataclass(frozen=True)
class ExerciseSheet:
    """``count`` fresh cases from ``seed``; iterate it for the exercises."""

    seed: int
    K: int
    exercises: tuple[Exercise, ...]
    tasks: tuple[Task, ...] = TASKS
    min_gap: Fraction = MIN_GAP

    @property
    def count(self) -> int:
        return len(self.exercises)

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self.exercises)

    def __len__(self) -> int:
        return len(self.exercises)

    def __getitem__(self, i: int) -> Exercise:
        return self.exercises[i]

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "K": self.K, "count": self.count,
                "cases": [e.as_dict() for e in self.exercises]}


@dataclass(frozen=True)
class DrillCase(_Givens):
    """A drill case: q is the posterior (``near_miss`` False) or close to it (True).

    The case's ``instance`` is its key's; ``prior``, ``likelihood`` and ``q`` read it.
    ``gap_is_zero`` and ``elbo_equals_log_evidence`` are decided exactly (LogNumber ==);
    for the near miss ``gap_positive`` is a certified sign.
    """

    index: int
    key: WorkedExample
    near_miss: bool = False

    @property
    def gap_is_zero(self) -> bool:
        return self.key.gap.value.is_zero

    @property
    def elbo_equals_log_evidence(self) -> bool:
        return self.key.elbo.value == self.key.log_evidence.value

    @property
    def gap_positive(self) -> bool:
        return self.key.gap.value.sign() > 0

    @property
    def gap_scientific(self) -> str:
        """The gap to SCIENTIFIC_FIGURES significant figures, e.g. '2.35e-03' (near misses can be tiny)."""
        return self.key.gap.value.scientific(SCIENTIFIC_FIGURES)

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "near_miss": self.near_miss, "gap_is_zero": self.gap_is_zero,
                "elbo_equals_log_evidence": self.elbo_equals_log_evidence, **self.key.as_dict()}


@dataclass(frozen=True)
class Drill:
    """Tight cases (q = posterior: gap exactly 0) and one near miss (gap > 0, certified)."""

    seed: int
    K: int
    cases: tuple[DrillCase, ...]
    near_miss: DrillCase

    @property
    def ok(self) -> bool:
        """Every tight case has gap 0 and ELBO = log p(x) exactly; the near miss has gap > 0."""
        return (all(c.gap_is_zero and c.elbo_equals_log_evidence for c in self.cases)
                and not self.near_miss.gap_is_zero and self.near_miss.gap_positive)

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "K": self.K, "count": len(self.cases), "ok": self.ok,
                "cases": [c.as_dict() for c in self.cases], "near_miss": self.near_miss.as_dict()}


# --------------------------------------------------------------------------- drawing


def _check_arguments(seed: int, count: int, K: int) -> None:
    for name, value in (("seed", seed), ("count", count), ("K", K)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExampleInputError(f"{name} must be an integer, not {value!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ExampleInputError(f"seed must be between 0 and 2**63 - 1, got {seed}")
    if not 1 <= count <= MAX_COUNT:
        raise ExampleInputError(f"count must be between 1 and {MAX_COUNT}, got {count}")
    if not 2 <= K <= MAX_EXERCISE_K:
        raise ExampleInputError(f"K must be between 2 and {MAX_EXERCISE_K} for generated cases, got {K}")


def _denominators(K: int) -> tuple[int, ...]:
    if K == 2:
        return NICE_DENOMINATORS
    return tuple(d for d in (4, 5, 6, 8, 10, 12, 20) if d >= K + 1)


_NICE_VALUES = tuple(sorted({Fraction(a, d) for d in NICE_DENOMINATORS for a in range(1, d)}))
"""The 13 distinct fractions strictly between 0 and 1 with a nice denominator, in increasing order."""


_WIDE_VALUES = tuple(sorted({Fraction(a, d) for d in range(2, 21) for a in range(1, d)}))
"""The 127 fractions in (0, 1) with a denominator up to 20: binary priors once the nice ones are used up."""


def _distribution(rng: random.Random, K: int, wide: bool = False) -> tuple[Fraction, ...]:
    """K positive fractions with a nice common denominator, summing to 1 (no 0, no 1);
    ``wide``: a binary one from :data:`_WIDE_VALUES` (a long sheet, every nice prior used)."""
    if K == 2:
        first = rng.choice(_WIDE_VALUES if wide else _NICE_VALUES)  # uniform over the values, not skewed to 1/2
        return (first, 1 - first)
    d = rng.choice(_denominators(K))
    cuts = sorted(rng.sample(range(1, d), K - 1))
    bounds = [0] + cuts + [d]
    return tuple(Fraction(bounds[i + 1] - bounds[i], d) for i in range(K))


def _likelihood(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    """p(x | z = k) strictly between 0 and 1, nice denominators, not all equal."""
    while True:
        values = tuple(rng.choice(_NICE_VALUES) for _ in range(K))
        if any(v != values[0] for v in values):
            return values


def _case_key(*vectors: tuple[Fraction, ...]) -> tuple:
    """Identity of a case up to relabelling the states of z (so mirror images count once)."""
    return tuple(sorted(zip(*vectors)))


def _priors_used_up(used: dict[tuple[Fraction, ...], None], K: int) -> bool:
    """Every nice binary prior is on the sheet already (then priors come from _WIDE_VALUES)."""
    return K == 2 and len(used) >= len(_NICE_VALUES) and all((v, 1 - v) in used for v in _NICE_VALUES)


def generate_exercises(seed: int, count: int, K: int = 2, parts=None) -> ExerciseSheet:
    """``count`` distinct cases with nice fractions, each with its answer key.

    Every case has: probabilities with small denominators (2, 3, 4, 5, 10 for K = 2: p(z = 0),
    each p(x | z) and q(z = 0) uniform over the 13 such fractions in (0, 1)), none equal to
    0 or 1; a prior no other case of the sheet has (a binary sheet of more than 13 cases
    then draws p(z = 0) among the fractions with denominators up to 20); cases distinct even
    up to relabelling the states; a likelihood that is not constant (x carries information
    about z); q different from the posterior with a gap > MIN_GAP nats (certified).
    Reproducible: only ``random.Random(seed)`` is used. ``parts`` names the quantities to
    ask for (:data:`PARTS`; None: all of them); the keys always hold every quantity.
    """
    _check_arguments(seed, count, K)
    tasks = select_tasks(parts)
    rng = random.Random(seed)

    def complete(prior, likelihood):
        q = _distribution(rng, K)
        instance = lesson_instance(prior, likelihood, q)

        def exercise(index: int) -> Exercise | None:
            if q == instance.posterior():
                return None
            key = example_of(instance)
            return Exercise(index, key) if key.gap.value > MIN_GAP else None
        return _case_key(prior, likelihood, q), exercise

    exercises = _distinct_cases(rng, count, K, "cases", complete)
    return ExerciseSheet(seed, K, tuple(exercises), tasks)


def _distinct_cases(rng: random.Random, count: int, K: int, what: str, complete: Callable) -> list:
    """The one rejection sampler of the exercise sheet and the drill: `count` cases, each from a
    prior no other case has (:func:`_distribution`) and a likelihood (:func:`_likelihood`).
    ``complete(prior, likelihood)`` may draw more (q) and returns the case's identity up to
    relabelling and a function of the case number that builds the case, or None to reject it;
    a case already on the sheet is rejected before it is built.  At most _ATTEMPTS_PER_CASE
    draws per case."""
    seen: dict[tuple, None] = {}
    priors: dict[tuple[Fraction, ...], None] = {}
    cases: list = []
    attempts = 0
    while len(cases) < count:
        attempts += 1
        if attempts > _ATTEMPTS_PER_CASE * count:
            raise ExampleInputError(f"could not find {count} distinct {what} (found {len(cases)})")
        prior = _distribution(rng, K, wide=_priors_used_up(priors, K))
        identity, build = complete(prior, _likelihood(rng, K))
        if prior in priors or identity in seen or (case := build(len(cases) + 1)) is None:
            continue
        seen[identity] = None
        priors[prior] = None
        cases.append(case)
    return cases


def _near(posterior: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
    """A q close to the posterior but not equal: round to tenths (nudged if that is exact)."""
    K = len(posterior)
    tenth = Fraction(1, 10)
    head = [min(max(Fraction(round(p * 10), 10), tenth), 1 - tenth) for p in posterior[:-1]]
    last = 1 - sum(head, Fraction(0))
    q = tuple(head) + (last,)
    if last <= 0 or q == posterior:
        # fall back to a 9:1 mix of the posterior with the uniform distribution
        q = tuple(p * 9 / 10 + Fraction(1, 10 * K) for p in posterior)
        if q == posterior:  # the posterior is uniform: move a little mass from the last state
            q = (posterior[0] + Fraction(1, 20),) + posterior[1:-1] + (posterior[-1] - Fraction(1, 20),)
    return q


def tight_drill(seed: int, count: int, K: int = 2) -> Drill:
    """``count`` tight cases (q = posterior) and a near miss on the first case's model.

    No two tight cases share a prior.  In each the key shows the gap is exactly 0 and
    ELBO = log p(x) (LogNumber equality). The near miss keeps that model and moves q slightly off the posterior
    (rounded to tenths); its gap is certified > 0 and shown. Cases are drawn from
    ``random.Random(seed + DRILL_STREAM)``, not the exercise sheet's stream.
    """
    _check_arguments(seed, count, K)
    rng = random.Random(seed + DRILL_STREAM)

    def complete(prior, likelihood):
        model = lesson_instance(prior, likelihood)
        posterior = model.posterior()

        def tight(index: int) -> DrillCase | None:
            if posterior == prior:
                return None
            key = example_of(model.with_block("q", posterior))
            case = DrillCase(index, key)
            if not (case.gap_is_zero and case.elbo_equals_log_evidence and key.tight):
                raise AssertionError(f"tight case {case.index}: the gap is not exactly 0 ({key.gap.value})")
            return case
        return _case_key(prior, likelihood), tight

    cases = _distinct_cases(rng, count, K, "drill cases", complete)
    first = cases[0]
    near = DrillCase(count + 1, example_of(first.instance.with_block("q", _near(first.q))), near_miss=True)
    if near.gap_is_zero or not near.gap_positive:
        raise AssertionError("the near miss does not have a positive gap")
    return Drill(seed, K, tuple(cases), near)


# --------------------------------------------------------------------------- text


def _vector(values) -> str:
    return "(" + ", ".join(fraction_text(v) for v in values) + ")"


def _givens(prior, likelihood, q) -> str:
    return f"p(z) = {_vector(prior)}, p(x | z) = {_vector(likelihood)}, q(z) = {_vector(q)}"


def _key_lines(key: WorkedExample, indent: str = "    ", tasks: tuple[Task, ...] = TASKS) -> list[str]:
    width = max(len(t.formula) for t in tasks)
    lines = []
    for task in tasks:
        if task.key == "posterior":
            value = ", ".join(f"{p.exact_text}" for p in key.posterior)
            lines.append(f"{indent}{task.formula.ljust(width)} = ({value})")
            continue
        quantity = key.quantity(task.key)
        bits = f" ≈ {quantity.bits} bits" if quantity.bits is not None else ""  # both rounded: never "="
        lines.append(f"{indent}{task.formula.ljust(width)} = {quantity.exact_text} ≈ {quantity.nats}"
                     f"{' nats' if quantity.is_information else ''}{bits}")
    verdicts = ", ".join(f"{i.key} {i.verdict}" for i in key.identities)
    lines.append(f"{indent}identities: {verdicts}")
    return lines


def _check_solutions(solutions: str) -> None:
    if solutions not in SOLUTIONS:
        raise ExampleInputError(f"solutions must be one of {', '.join(SOLUTIONS)}, not {solutions!r}")


def format_sheet(sheet: ExerciseSheet, solutions: str = "separate") -> str:
    """The exercise sheet (givens and tasks) and its answer key: after all the cases
    (``separate``), after each case (``inline``) or not at all (``none``)."""
    _check_solutions(solutions)
    lines = [f"Exercise sheet: seed {sheet.seed}, {sheet.count} case(s), K = {sheet.K}",
             "For each case compute:"]
    lines += [f"  {chr(ord('a') + i)}) {task.prompt}" for i, task in enumerate(sheet.tasks)]
    lines.append("")
    for e in sheet:
        lines.append(f"Case {e.index}: {_givens(e.prior, e.likelihood, e.q)}")
        if solutions == "inline":
            lines += _key_lines(e.key, tasks=sheet.tasks)
    if solutions == "separate":
        lines.append("")
        lines.append("Answer key (exact; decimals in nats, correctly rounded to "
                     f"{SHOWN_DIGITS} places; every identity decided exactly)")
        for e in sheet:
            lines.append(f"Case {e.index}: {_givens(e.prior, e.likelihood, e.q)}")
            lines += _key_lines(e.key, tasks=sheet.tasks)
    return "\n".join(lines) + "\n"


def _drill_answer(c: DrillCase) -> list[str]:
    return [f"    q(z) = p(z | x) = {_vector(c.q)}",
            f"    log p(x) = ELBO(q) = {c.key.elbo.exact_text} ≈ {c.key.elbo.nats} nats "
            f"(equal exactly: {'yes' if c.elbo_equals_log_evidence else 'NO'}); gap = {c.key.gap.exact_text}"]


def _near_answer(n: DrillCase) -> list[str]:
    return [f"    p(z | x) = {_vector(n.key.posterior_values)}",
            f"    gap = KL(q || p(z | x)) = {n.key.gap.exact_text} ≈ {n.gap_scientific} nats > 0 (certified)",
            f"    ELBO(q) ≈ {n.key.elbo.value.decimal(10)} < log p(x) ≈ {n.key.log_evidence.value.decimal(10)}"]


def format_drill(drill: Drill, solutions: str = "inline") -> str:
    """The drill; its answers after each case (``inline``), after all of them (``separate``)
    or not at all (``none``)."""
    _check_solutions(solutions)
    lines = [f"Tight-case drill: seed {drill.seed}, {len(drill.cases)} case(s), K = {drill.K}",
             "Set q(z) = p(z | x). Show that the gap is 0, i.e. ELBO(q) = log p(x).", ""]
    for c in drill.cases:
        lines.append(f"Case {c.index}: p(z) = {_vector(c.prior)}, p(x | z) = {_vector(c.likelihood)}")
        if solutions == "inline":
            lines += _drill_answer(c)
    n = drill.near_miss
    lines.append("")
    lines.append(f"Near miss (case {n.index}): the model of case 1 with q rounded off the posterior")
    lines.append(f"    p(z) = {_vector(n.prior)}, p(x | z) = {_vector(n.likelihood)}, q(z) = {_vector(n.q)}")
    if solutions == "inline":
        lines += _near_answer(n)
    if solutions == "separate":
        lines += ["", "Answers"]
        for c in drill.cases:
            lines.append(f"Case {c.index}:")
            lines += _drill_answer(c)
        lines.append(f"Near miss (case {n.index}):")
        lines += _near_answer(n)
    return "\n".join(lines) + "\n"

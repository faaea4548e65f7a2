"""Float minima near 0 polished at high precision: rational points to decide, and where a strict step's
sides meet at a point no rational reaches.

A float minimum of the search's margin below ALGEBRAIC_TOLERANCE is followed in mpmath
(numbers.polish) at 60, then 120 digits, of sign * (left - right) -- sign making a failure negative.
Each polished point is rounded to a rational 10**-digits away (`Chart.instance`) for the caller to
decide exactly: a non-strict step false on a sliver 10**-48 thin fails there (red team rt46 F2).  A
negative minimum deeper than 120 digits can reach is polished once more, at the digits it needs (at
most MAX_POLISH_DIGITS).

A strict step false only at an irrational point that no coordinate of is rational (rt46 F7) has no
such rational point; there the polished minimum is a `Meeting` -- the step is an `error`, not `checked`
-- but only when it is genuine, each of these being what a true step's near-meeting is not:

* both polishings converged (a density that underflows far out, exp(-u**2) -> 0, has no minimum to
  converge to) and their points agree to MEETING_AGREE;
* |left - right| is below MEETING_GAP of the sides' size at 60 digits and falls by MEETING_FALL more at
  120 (a true step's positive minimum, however small, stays where it is);
* the point lies inside the domain by MEETING_MARGIN (a probability -> 0, an open bound), inside every
  premise by as much -- a ``!=`` premise's excluded point is where the lesson's ``log(p(x)) > ELBO(q)``
  meets (rt46 F1) -- and every open definedness obligation holds there by as much.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import mpmath
from sympy import Add, Expr, Integer

from elbo_sym.engine.search import ALGEBRAIC_TOLERANCE, MEETING_MARGIN, Chart, Instance, chart
from elbo_sym.numbers.evaluate import compile_float, compile_mp
from elbo_sym.numbers.polish import MAX_POLISH_DIGITS, POLISH_DIGITS, Polished, polish

MAX_POLISHED_MINIMA = 2
"""Distinct float minima polished per step (the smallest first)."""
MEETING_GAP = 1e-40
"""|left - right| at the 60-digit minimum below this share of 1 + |left| + |right|: where the sides may meet."""
MEETING_FALL = 1e-30
"""... and at the 120-digit minimum at most this share of that: a genuine zero's value falls with the
precision (a square's by 120 orders), a positive minimum's does not move."""
MEETING_AGREE = 1e-40
"""How near (relative to the point's size) the 60- and 120-digit minima must be: the same point."""
DEEPER_DIGITS = 10
"""Digits beyond half a negative minimum's exponent when it is polished deeper: a rational within
10**-digits of the minimum misses it by about 10**(-2 * digits)."""


@dataclass(frozen=True)
class Meeting:
    """Where a strict step's sides meet as far as 120-digit arithmetic can tell (see the module)."""

    where: str
    """The blocks the difference uses at the point, six digits each: "q(z) ≈ (0.276393, 0.723607)"."""
    gaps: tuple[float, float]
    """|left - right| at the 60- and the 120-digit minimum."""

    def text(self) -> str:
        first, second = self.gaps
        return (f"{self.where}, where |left - right| falls from {first:.1e} to {second:.1e} as the precision goes "
                f"from {POLISH_DIGITS[0]} to {POLISH_DIGITS[1]} digits")


@dataclass(frozen=True)
class _Site:
    """One float minimum to polish: its chart, the part (left, right) nearest equality there, and the
    signed difference whose minimum is sought."""

    chart: Chart
    left: Expr
    right: Expr
    objective: Expr


class _Spent(Exception):
    """The step's polishing allowance is spent: no more polishing (not a verdict)."""


def polished_instances(model, parts: tuple, rel: str, minima: list, premise_margin, obligations: tuple,
                       spend: Callable[[], None], allowance: int, met: list[Meeting]) -> Iterator[Instance]:
    """Rational instances near the polished minima (see the module), for the caller to decide exactly;
    each genuine meeting of a strict step's sides is appended to `met`.  `premise_margin`: the premises'
    float margin function (None without premises); `obligations`: the open definedness obligations;
    `spend` is called once per evaluation in mpmath, and after `allowance` evaluations the polishing
    stops where it is (counted, so at the same place on every machine)."""
    if rel not in (">", ">=", "<", "<="):
        return
    left = [allowance]

    def count() -> None:
        if left[0] <= 0:
            raise _Spent
        left[0] -= 1
        spend()

    try:
        yield from _polished(model, parts, rel, minima, premise_margin, obligations, count, met)
    except _Spent:
        return


def _polished(model, parts: tuple, rel: str, minima: list, premise_margin, obligations: tuple,
              spend: Callable[[], None], met: list[Meeting]) -> Iterator[Instance]:
    """`polished_instances` within its allowance."""
    sign = 1 if rel in (">", ">=") else -1
    strict = rel in (">", "<")
    symbols = tuple(s for b in model.blocks for s in b.symbols)
    for values in _picked(minima):
        site = _site(model, parts, sign, values)
        if site is None:
            continue
        objective_at = _objective(site, symbols)
        first = polish(objective_at, site.chart.start, POLISH_DIGITS[0], spend)
        if first is None:
            continue
        found = site.chart.instance(first.point, first.digits)
        if found is not None:
            yield found
        if not (first.converged and _worth_more(first, strict)):
            continue
        second = polish(objective_at, first.point, POLISH_DIGITS[1], spend)
        if second is None:
            continue
        found = site.chart.instance(second.point, second.digits)
        if found is not None:
            yield found
        deeper = _deeper_digits(first, second)
        if deeper is not None:
            third = polish(objective_at, second.point, deeper, spend)
            found = site.chart.instance(third.point, deeper) if third is not None else None
            if found is not None:
                yield found
        if rel in (">", "<"):
            meeting = _meeting(site, first, second, premise_margin, obligations, model)
            if meeting is not None:
                met.append(meeting)


def _worth_more(first: Polished, strict: bool) -> bool:
    """Whether the converged 60-digit minimum is worth polishing at 120 digits: for a strict step, where
    the sides may meet (|value| below MEETING_GAP; the sides' size is at least 1 in its scale); for a
    non-strict one, where it fails by more than its precision (a minimum of 0, KL >= 0 at q = p, holds
    there whatever the digits)."""
    with mpmath.mp.workdps(30):
        if strict:
            return bool(abs(first.value) <= MEETING_GAP * (1 + abs(first.value)))
        return bool(first.value < -mpmath.mpf(10) ** -(2 * first.digits - 10))


def _objective(site: _Site, symbols: tuple) -> Callable[[int], Callable[[list], object]]:
    """The site's objective as a function of its free coordinates, compiled at a number of digits once."""
    compiled: dict[int, Callable[[list], object]] = {}

    def at(working: int) -> Callable[[list], object]:
        if working not in compiled:
            f = compile_mp(site.objective, symbols, working)
            compiled[working] = lambda x: f(site.chart.values(x))
        return compiled[working]

    return at


def _picked(minima: list) -> list[list[tuple[float, ...]]]:
    """The values of the distinct minima below ALGEBRAIC_TOLERANCE, the smallest first, at most
    MAX_POLISHED_MINIMA (two within 1e-6 of each other are one)."""
    out: list[list[tuple[float, ...]]] = []
    flat_seen: list[list[float]] = []
    for fun, values in sorted(minima, key=lambda m: m[0]):
        if not (math.isfinite(fun) and fun < ALGEBRAIC_TOLERANCE) or len(out) >= MAX_POLISHED_MINIMA:
            break
        flat = [v for block in values for v in block]
        if any(max(abs(a - b) for a, b in zip(flat, seen)) < 1e-6 for seen in flat_seen):
            continue
        flat_seen.append(flat)
        out.append(values)
    return out


def _site(model, parts: tuple, sign: int, values: list[tuple[float, ...]]) -> _Site | None:
    """The part nearest equality at the float minimum (|left - right| relative to their size), its
    chart; None when no part is a number there or its chart is None."""
    symbols = tuple(s for b in model.blocks for s in b.symbols)
    flat = tuple(v for block in values for v in block)
    best: tuple[float, Expr, Expr] | None = None
    for a, b in parts:
        fa, fb = compile_float(a, symbols)(flat), compile_float(b, symbols)(flat)
        gap = abs(fa - fb) / (1.0 + abs(fa) + abs(fb))
        if math.isfinite(gap) and (best is None or gap < best[0]):
            best = (gap, a, b)
    if best is None:
        return None
    _, a, b = best
    difference = Add(a, -b)
    where = chart(model, values, set(difference.free_symbols))
    return None if where is None else _Site(where, a, b, Integer(sign) * difference)


def _deeper_digits(first: Polished, second: Polished) -> int | None:
    """The digits a stable negative minimum (a failure in both precisions, of about the same size) needs
    for a rational beside it to fail too, when beyond the second precision and within MAX_POLISH_DIGITS."""
    if not (first.converged and second.converged and second.value < 0 and first.value < 0):
        return None
    with mpmath.mp.workdps(30):
        if not abs(second.value - first.value) <= abs(second.value) / 2:
            return None
        needed = int(-mpmath.log10(-second.value) / 2) + DEEPER_DIGITS
    return needed if second.digits < needed <= MAX_POLISH_DIGITS else None


def _meeting(site: _Site, first: Polished, second: Polished, premise_margin, obligations: tuple,
             model) -> Meeting | None:
    """The `Meeting` at the polished minimum when it is genuine (the module's list), else None."""
    if not (first.converged and second.converged):
        return None
    with mpmath.mp.workdps(30):
        size = 1 + max(abs(v) for v in second.point)
        if not max(abs(a - b) for a, b in zip(first.point, second.point)) <= MEETING_AGREE * size:
            return None
        gap_first, gap_second = abs(first.value), abs(second.value)
        point = [float(v) for v in second.point]
    symbols = tuple(s for b in model.blocks for s in b.symbols)
    flat = tuple(site.chart.values(point))
    left, right = compile_float(site.left, symbols)(flat), compile_float(site.right, symbols)(flat)
    scale = 1.0 + abs(left) + abs(right)
    if not (math.isfinite(scale) and gap_first <= MEETING_GAP * scale and gap_second <= MEETING_FALL * gap_first):
        return None
    if not site.chart.inside(point):
        return None
    if premise_margin is not None and not premise_margin(_in_parameter_order(model, flat)) > MEETING_MARGIN:
        return None
    for obligation in obligations:
        v = compile_float(obligation.expr, symbols)(flat)
        if not (v > MEETING_MARGIN if obligation.kind == "positive" else abs(v) > MEETING_MARGIN):
            return None
    used = set(site.objective.free_symbols)
    return Meeting(site.chart.shown(point, used), (float(gap_first), float(gap_second)))


def _in_parameter_order(model, flat: Sequence) -> list:
    """Values given block by block, in the order of `model.parameters` (what premise margins read)."""
    by_symbol = dict(zip((s for b in model.blocks for s in b.symbols), flat))
    return [by_symbol[s] for s in model.parameters]


__all__ = ["Meeting", "polished_instances", "MEETING_GAP", "MEETING_FALL", "MEETING_AGREE", "MAX_POLISHED_MINIMA"]

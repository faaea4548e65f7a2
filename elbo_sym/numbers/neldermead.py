"""Nelder-Mead minimisation in plain Python: SciPy's algorithm, step for step.

The counterexample search only uses a minimiser to *nominate* instances (each is then
decided exactly), but which instances it nominates can decide whether a false step is
found.  The checker must find the same ones on the command line and in the browser, where
SciPy does not run (Pyodide's core has no SciPy), so both use this one port of
``scipy.optimize.minimize(method="Nelder-Mead")`` (non-adaptive, no bounds): the same
initial simplex (5 % steps, 0.00025 for a zero coordinate), the same reflection, expansion,
contraction and shrink coefficients, the same order of evaluations and the same stopping
rule.  ``tests/test_browser.py`` compares it with SciPy's on random functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import sub

RHO, CHI, PSI, SIGMA = 1.0, 2.0, 0.5, 0.5
"""Reflection, expansion, contraction and shrink coefficients (SciPy's, non-adaptive)."""
NONZERO_STEP, ZERO_STEP = 0.05, 0.00025
"""The initial simplex: each coordinate moved by 5 %, or set to 0.00025 where it is 0."""


@dataclass(frozen=True)
class Minimum:
    """Where the search stopped: the best point, its value, and the iterations taken."""

    x: tuple[float, ...]
    fun: float
    iterations: int


def minimise(f: Callable[[tuple[float, ...]], float], x0: Sequence[float], max_iterations: int,
             xatol: float = 1e-4, fatol: float = 1e-4) -> Minimum:
    """Minimise `f` from `x0` (SciPy's Nelder-Mead; `f` may raise to stop the search early)."""
    n = len(x0)
    simplex = [tuple(float(v) for v in x0)]
    for k in range(n):
        y = list(simplex[0])
        y[k] = (1 + NONZERO_STEP) * y[k] if y[k] != 0 else ZERO_STEP
        simplex.append(tuple(y))
    values = [f(p) for p in simplex]
    simplex, values = _sorted(simplex, values)
    iterations = 1
    while iterations < max_iterations:
        if max(abs(values[0] - v) for v in values[1:]) <= fatol and _spread(simplex) <= xatol:
            break  # SciPy's test, its cheap half first (the spread costs n**2 subtractions)
        centre = tuple(sum(column) / n for column in zip(*simplex[:-1]))  # each coordinate summed in SciPy's order
        worst = simplex[-1]
        reflected = _towards(centre, worst, 1 + RHO, RHO)
        f_reflected = f(reflected)
        shrink = False
        if f_reflected < values[0]:
            expanded = _towards(centre, worst, 1 + RHO * CHI, RHO * CHI)
            f_expanded = f(expanded)
            simplex[-1], values[-1] = (expanded, f_expanded) if f_expanded < f_reflected else (reflected, f_reflected)
        elif f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
        elif f_reflected < values[-1]:
            contracted = _towards(centre, worst, 1 + PSI * RHO, PSI * RHO)
            f_contracted = f(contracted)
            if f_contracted <= f_reflected:
                simplex[-1], values[-1] = contracted, f_contracted
            else:
                shrink = True
        else:
            inside = tuple((1 - PSI) * c + PSI * w for c, w in zip(centre, worst))
            f_inside = f(inside)
            if f_inside < values[-1]:
                simplex[-1], values[-1] = inside, f_inside
            else:
                shrink = True
        if shrink:
            best = simplex[0]
            for j in range(1, n + 1):
                simplex[j] = tuple(b + SIGMA * (v - b) for b, v in zip(best, simplex[j]))
                values[j] = f(simplex[j])
        iterations += 1
        simplex, values = _sorted(simplex, values)
    return Minimum(simplex[0], min(values), iterations)


def _spread(simplex: list) -> float:
    """The largest coordinate distance of a point of the simplex from its best point."""
    best = simplex[0]
    return max(max(map(abs, map(sub, p, best))) for p in simplex[1:])


def _towards(centre: tuple[float, ...], worst: tuple[float, ...], a: float, b: float) -> tuple[float, ...]:
    """``a * centre - b * worst``, coordinate by coordinate (SciPy's reflection formula)."""
    return tuple(a * c - b * w for c, w in zip(centre, worst))


def _sorted(simplex: list, values: list) -> tuple[list, list]:
    order = sorted(range(len(values)), key=values.__getitem__)
    return [simplex[i] for i in order], [values[i] for i in order]


__all__ = ["Minimum", "minimise"]

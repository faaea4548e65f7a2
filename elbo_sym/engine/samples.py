"""Symbolic numbers of samples: ``IWAE(q, k)`` for every whole number k ([params] ``k = "integer >= 1"``).

No finite unfolding covers every k, so each part of the checker meets k its own way:

* proofs: only the rules ``iwae-bound`` and ``iwae-monotone`` (Burda et al.'s Theorem 1, applied
  to an exactly matched form, engine.rules) prove a step with a symbolic k -- for every k;
* definedness: IWAE(q, k) is defined exactly where IWAE(q, 1) = ELBO(q) is (the log of an
  average of the ratios p(x, z_i) / q(z_i) is defined for every draw iff every ratio is positive:
  the draw z_1 = ... = z_k = z averages one ratio), so its obligations are ELBO(q)'s;
* the counterexample search, the examples and the second opinion instantiate k at whole numbers
  (its lower bound and 1, 2, 4 above it) and unfold IWAE(q, n) exactly -- a counterexample names n.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache

from sympy import Expr, Integer, Symbol, preorder_traversal

from elbo_sym import limits
from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.notation import ELBO, IWAE, Limit
from elbo_sym.limits import INTEGER_OFFSETS


def sample_parameters(*exprs: Expr) -> tuple[Symbol, ...]:
    """The parameters some IWAE's number of samples is written in (k of IWAE(q, k + 1))."""
    found: dict[Symbol, None] = {}
    for e in exprs:
        found.update(dict.fromkeys(_sample_parameters_of(e)))
    return tuple(found)


@lru_cache(maxsize=4096)
def _sample_parameters_of(e: Expr) -> tuple[Symbol, ...]:
    """sample_parameters of one expression, in the order of a preorder walk; remembered (the
    checker asks it of each side of each step several times: a walk of the whole tree each).  Most
    expressions hold no IWAE of a symbolic k: one walk shows it, where taking the limits out first
    walked them twice."""
    if not any(isinstance(node, IWAE) and node.symbolic for node in preorder_traversal(e)):
        return ()
    found: dict[Symbol, None] = {}
    for node in preorder_traversal(_without_limits(e)):
        if isinstance(node, IWAE) and node.symbolic:
            found.update(dict.fromkeys(sorted(node.count.free_symbols, key=lambda s: s.name)))
    return tuple(found)


def _without_limits(e: Expr) -> Expr:
    """`e` with each limit(f, k, oo) as one opaque symbol: its k is bound, never instantiated."""
    opaque = {node: Symbol(f"limit#{i}") for i, node in enumerate(preorder_traversal(e)) if isinstance(node, Limit)}
    return e.xreplace(opaque) if opaque else e


def instantiate(e: Expr, values: dict[str, int]) -> Expr:
    """`e` with each sample parameter (by name) replaced by its whole-number value."""
    mapping = {s: Integer(values[s.name]) for s in e.free_symbols if isinstance(s, Symbol) and s.name in values}
    return e.xreplace(mapping) if mapping else e


def for_definedness(e: Expr, general: bool = False) -> Expr:
    """`e` with every IWAE of a symbolic k -- and, in a family without IWAE's unfolding
    (`general`: K = "any"), every IWAE -- replaced by ELBO(q) of the same q and observation,
    whose definedness obligations are the same (see the module docstring).  One walk finds the
    limits and the IWAEs (most sides have neither: asked of every side of every step)."""
    found = [node for node in preorder_traversal(e) if isinstance(node, (Limit, IWAE))]
    if any(isinstance(node, Limit) for node in found):
        while e.has(Limit):  # a limit's expression must be defined on its parameter's whole domain
            e = e.replace(lambda n: isinstance(n, Limit), lambda n: n.body)
        found = list(preorder_traversal(e))
    swap = {node: ELBO(node.distribution, node.observation) for node in found
            if isinstance(node, IWAE) and (general or node.symbolic)}
    return e.xreplace(swap) if swap else e


def counts_fit(exprs: Iterable[Expr], K: int, limit: int | None = None) -> bool:
    """Every IWAE's number of samples is a whole number >= 1 with K**n terms within `limit` (None:
    limits.MAX_IWAE_TERMS, read at the call, so a patched limit reaches the unfolding and this test
    alike)."""
    if limit is None:
        limit = limits.MAX_IWAE_TERMS
    for e in exprs:
        for node in preorder_traversal(e):
            if isinstance(node, IWAE):
                if node.symbolic or not 1 <= node.samples or K ** node.samples > limit:
                    return False
    return True


def instantiations(exprs: tuple[Expr, ...], K: int, lowest: dict[str, int]) -> list[dict[str, int]]:
    """Whole-number values of the sample parameters at which the expressions unfold within
    the IWAE budget at K states: each parameter at its lower bound (`lowest`) and 1, 2, 4
    above it, every combination."""
    names = [s.name for s in sample_parameters(*exprs)]
    out = []
    for combination in itertools.product(*([lowest[n] + d for d in INTEGER_OFFSETS] for n in names)):
        values = dict(zip(names, combination))
        if counts_fit(tuple(instantiate(e, values) for e in exprs), K):
            out.append(values)
    return out


def lowest_values(model) -> dict[str, int]:
    """Each whole-number parameter's least value, by name."""
    return {s.name: int(interval.lower) for s, interval in model.parameter_bounds.items()
            if interval.integer and interval.lower is not None}


def values_at(exprs: tuple[Expr, ...], instance: Instance) -> dict[str, int]:
    """The sample parameters' values at an instance (ValueError when one is not a whole number)."""
    out = {}
    for s in sample_parameters(*exprs):
        (v,) = instance[s.name]
        if Fraction(v).denominator != 1:
            raise ValueError(f"{s.name} = {v} is not a whole number of samples")
        out[s.name] = int(v)
    return out


def at_example(exprs: tuple[Expr, ...], instance: Instance) -> tuple[Expr, ...]:
    """The expressions with each number of samples the example gives (IWAE(q, k) at k = 2 is
    IWAE(q, 2), which unfolds): one function for the example's expect check and for its value
    tables, which printed "no exact value" for a value the check computed (red team rt55 F2).
    ValueError when a count is not a whole number."""
    counts = values_at(exprs, instance)
    return tuple(instantiate(e, counts) for e in exprs)


__all__ = ["sample_parameters", "instantiate", "for_definedness", "instantiations", "lowest_values", "values_at",
           "counts_fit", "at_example"]

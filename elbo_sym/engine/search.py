"""Where to look for counterexamples: exact instances of an explicit model, block by block.

A step that no rule proves is searched for a counterexample before it may be called
``checked``; so is every definedness obligation without a certificate.  Claims break
where authors do not look, so the search goes there:

1. the file's own examples, and the family's special cases of each instance (for the
   discrete family: the tight case q = p(z | x) and q = p(z));
2. seeded random fractions (small and large denominators).  The seed comes from the
   step's text, so a counterexample is reproducible, yet the points are not one fixed,
   public set that a crafted polynomial could vanish on;
3. boundary families: probabilities -> 0 through 1e-1, 1e-3, 1e-9, 1e-30, likelihoods at
   exactly 1 and likelihood ratios -> infinity -- every combination of corners for
   K <= 3, the single-coordinate corners for larger K -- and each parameter at its
   bounds, just inside them and far out;
4. numeric minimisation (Nelder-Mead from several starts: SciPy's algorithm in plain Python,
   :mod:`elbo_sym.numbers.neldermead`, so the browser nominates the same points) of the quantity that
   must stay positive, whose best points are rounded to nearby rationals.

Families 3 and 4 are *screened* with plain floats; a float only nominates an instance.
Every verdict is decided exactly afterwards (:mod:`elbo_sym.numbers.evaluate`).  The
search only knows a model through its blocks (`elbo_sym.engine.models.base.Block`).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Callable, Iterator
from fractions import Fraction

from elbo_sym.budget import checkpoint
from elbo_sym.engine.models.base import PARAMETER, SIMPLEX, UNIT, Block, Instance
from elbo_sym.numbers.neldermead import minimise as nelder_mead

RANDOM_INSTANCES = 16
"""Seeded random instances decided exactly for every step that is not proved."""
MIN_DECIDED = 8
"""A step that no rule proves is `checked` only after holding on at least this many decided instances."""
EPSILONS = (Fraction(1, 10), Fraction(1, 10**3), Fraction(1, 10**9), Fraction(1, 10**30))
"""How close to 0 the boundary families take a probability."""
LARGE_RATIO = Fraction(1, 10**9)
"""A likelihood this small beside a likelihood of 1: ratio 1e9."""
MAX_BOUNDARY_INSTANCES = 20_000
"""Boundary combinations screened per step (in floats) at most."""
MINIMISER_STARTS = 6
MINIMISER_ITERATIONS = 400
ROUNDING_DENOMINATORS = (10, 1000, 10**6, 10**12)

__all__ = ["Instance", "exact_candidates", "boundary_instances", "minimise", "seed_for", "MIN_DECIDED",
           "RANDOM_INSTANCES"]


def seed_for(*parts: object) -> int:
    """A reproducible seed from the step's content."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big")


def point(model, instance: Instance) -> tuple[float, ...]:
    """The instance as floats, in the order of `model.parameters`."""
    values = model.values(instance)
    return tuple(float(values[s]) for s in model.parameters)


# --------------------------------------------------------------------------- exact candidates


def _random_block(rng: random.Random, block: Block, top: int) -> tuple[Fraction, ...]:
    n = len(block.symbols)
    if block.kind == SIMPLEX:
        weights = [rng.randint(1, top) for _ in range(n)]
        total = sum(weights)
        return tuple(Fraction(w, total) for w in weights)
    if block.kind == UNIT:
        scale = max(top, 10)
        return tuple(Fraction(rng.randint(1, scale), scale) for _ in range(n))
    samples = block.bounds.samples()
    return (rng.choice(samples),)


def _random_instance(rng: random.Random, model, top: int, source: str) -> Instance:
    return Instance(tuple((b.name, _random_block(rng, b, top)) for b in model.blocks), source)


def exact_candidates(model, examples=(), seed: int = 0) -> list[Instance]:
    """Instances every unproved step is decided on exactly: examples, special cases, random fractions."""
    rng = random.Random(seed)
    out = [e.instance for e in examples]
    for n in range(RANDOM_INSTANCES):
        base = _random_instance(rng, model, 9 if n % 2 == 0 else 10**4, "random instance")
        if n == 0:
            out += model.special_instances(base)
        out.append(base)
    return out


# --------------------------------------------------------------------------- boundary families


def _simplex_corners(K: int, eps: Fraction) -> list[tuple[Fraction, ...]]:
    """Distributions with some coordinates at eps (the rest share what is left)."""
    out = [tuple(Fraction(1, K) for _ in range(K))]
    if K <= 3:
        subsets = [s for r in range(1, K) for s in itertools.combinations(range(K), r)]
    else:
        singles = [(k,) for k in range(K)][:4] + [(K - 1,)]
        dominant = [tuple(j for j in range(K) if j != k) for k in (0, K - 1)]
        subsets = list(dict.fromkeys(singles + dominant))
    for tiny in subsets:
        rest = (1 - eps * len(tiny)) / (K - len(tiny))
        out.append(tuple(eps if k in tiny else rest for k in range(K)))
    return out


def _unit_corners(K: int, eps: Fraction) -> list[tuple[Fraction, ...]]:
    levels = (eps, Fraction(1, 2), Fraction(1))
    ratio = tuple(Fraction(1) if k == 0 else LARGE_RATIO for k in range(K))
    if K <= 3:
        return [tuple(c) for c in itertools.product(levels, repeat=K)] + [ratio]
    out = [tuple(Fraction(1) for _ in range(K)), tuple(Fraction(1, 2) for _ in range(K)), ratio]
    for k in (0, K - 1):
        out.append(tuple(eps if j == k else Fraction(1) for j in range(K)))
        out.append(tuple(Fraction(1) if j == k else eps for j in range(K)))
    return out


def _block_corners(block: Block, eps: Fraction) -> list[tuple[Fraction, ...]]:
    n = len(block.symbols)
    if block.kind == SIMPLEX:
        return _simplex_corners(n, eps)
    if block.kind == UNIT:
        return _unit_corners(n, eps)
    return [(v,) for v in block.bounds.samples()]


def boundary_instances(model) -> Iterator[Instance]:
    """The boundary families (see the module docstring), nearest-to-typical first.

    Every combination of the blocks' corners (up to an equal share of
    MAX_BOUNDARY_INSTANCES per eps); each combination also gets the family's special
    cases (q = p(z | x), q = p(z))."""
    blocks = model.blocks
    share = MAX_BOUNDARY_INSTANCES // len(EPSILONS)
    for eps in EPSILONS:
        corners = [_block_corners(b, eps) for b in blocks]
        count = 0
        for combination in itertools.product(*corners):
            checkpoint()
            instance = Instance(tuple((b.name, values) for b, values in zip(blocks, combination)),
                                f"boundary eps = {eps}")
            for candidate in [instance] + model.special_instances(instance):
                yield Instance(candidate.blocks, f"boundary eps = {eps}")
                count += 1
            if count >= share:
                break


# --------------------------------------------------------------------------- minimisation


def minimise(objective: Callable[[tuple[float, ...]], float], model, starts: list[Instance],
             seed: int) -> Iterator[Instance]:
    """Rational instances near local minima of `objective` (a float function of the parameters).

    Nelder-Mead in unconstrained coordinates (softmax for each simplex, a logistic map for
    each likelihood, an affine or exponential map for each parameter), from the given
    starts and a few random ones.  Each result is then decided exactly by the caller; a
    float minimum is only a nomination.
    """
    rng = random.Random(seed)
    blocks = model.blocks
    width = sum(len(b.symbols) for b in blocks)

    def to_values(u) -> list[tuple[float, ...]]:
        out, i = [], 0
        for b in blocks:
            n = len(b.symbols)
            out.append(_from_unconstrained(b, list(u[i:i + n])))
            i += n
        return out

    def wrapped(u) -> float:
        checkpoint()
        flat = tuple(v for values in to_values(u) for v in values)
        value = objective(flat)
        return value if math.isfinite(value) else 1e300

    initial = [[t for b, values in zip(blocks, _start_values(model, s)) for t in _to_unconstrained(b, values)]
               for s in starts]
    while len(initial) < MINIMISER_STARTS:
        initial.append([rng.gauss(0, 3) for _ in range(width)])
    for u0 in initial[:MINIMISER_STARTS]:
        result = nelder_mead(wrapped, u0, MINIMISER_ITERATIONS, xatol=1e-10, fatol=1e-14)
        best = to_values(result.x)
        for denominator in ROUNDING_DENOMINATORS:
            try:
                yield Instance(tuple((b.name, _rational(b, values, denominator)) for b, values in zip(blocks, best)),
                               f"numeric minimisation (rounded to 1/{denominator})")
            except (ValueError, OverflowError, ZeroDivisionError):
                continue


def _start_values(model, instance: Instance) -> list[tuple[float, ...]]:
    return [tuple(float(v) for v in instance[b.name]) for b in model.blocks]


def _to_unconstrained(block: Block, values: tuple[float, ...]) -> list[float]:
    if block.kind == SIMPLEX:
        return [math.log(max(v, 1e-300)) for v in values]
    if block.kind == UNIT:
        return [math.log(max(v, 1e-300)) - math.log(max(1 - v, 1e-300)) if v < 1 else 40.0 for v in values]
    lo, hi = block.bounds.lower, block.bounds.upper
    (v,) = values
    if lo is not None and hi is not None:
        t = (v - float(lo)) / float(hi - lo)
        return [math.log(max(t, 1e-300)) - math.log(max(1 - t, 1e-300))]
    if lo is not None:
        return [math.log(max(v - float(lo), 1e-300))]
    if hi is not None:
        return [math.log(max(float(hi) - v, 1e-300))]
    return [v]


def _from_unconstrained(block: Block, u: list[float]) -> tuple[float, ...]:
    if block.kind == SIMPLEX:
        top = max(u)
        weights = [math.exp(t - top) for t in u]
        total = sum(weights)
        return tuple(w / total for w in weights)
    if block.kind == UNIT:
        return tuple(1.0 / (1.0 + math.exp(-max(min(t, 700.0), -700.0))) for t in u)
    lo, hi = block.bounds.lower, block.bounds.upper
    (t,) = u
    t = max(min(t, 700.0), -700.0)
    if lo is not None and hi is not None:
        return (float(lo) + float(hi - lo) / (1.0 + math.exp(-t)),)
    if lo is not None:
        return (float(lo) + math.exp(t),)
    if hi is not None:
        return (float(hi) - math.exp(t),)
    return (t,)


def _rational(block: Block, values: tuple[float, ...], denominator: int) -> tuple[Fraction, ...]:
    if block.kind == SIMPLEX:
        rounded = [Fraction(v).limit_denominator(denominator) for v in values]
        rounded = [r if r > 0 else Fraction(1, denominator * 10) for r in rounded]
        total = sum(rounded)
        return tuple(r / total for r in rounded)
    if block.kind == UNIT:
        return tuple(min(Fraction(1), max(Fraction(v).limit_denominator(denominator), Fraction(1, denominator * 10)))
                     for v in values)
    v = Fraction(values[0]).limit_denominator(denominator)
    if not block.bounds.contains(v):
        raise ValueError("rounded outside the parameter's interval")
    return (v,)


def blocks_of_kind(model, kind: str) -> tuple[Block, ...]:
    return tuple(b for b in model.blocks if b.kind == kind)


_ = PARAMETER  # the third kind of block: handled by its interval

"""Where to look for counterexamples: exact instances of the discrete family.

A step that no rule proves is searched for a counterexample before it may be called
``checked``; so is every definedness obligation without a certificate.  Claims break
where authors do not look, so the search goes there:

1. the file's own examples; the tight case q = p(z | x); q = p(z);
2. seeded random fractions (small and large denominators).  The seed comes from the
   step's text, so a counterexample is reproducible, yet the points are not one fixed,
   public set that a crafted polynomial could vanish on;
3. boundary families: probabilities -> 0 through 1e-1, 1e-3, 1e-9, 1e-30, likelihoods at
   exactly 1 and likelihood ratios -> infinity -- every combination of corners for
   K <= 3, the single-coordinate corners for larger K;
4. numeric minimisation (scipy's Nelder-Mead from several starts) of the quantity that
   must stay positive, whose best points are rounded to nearby rationals.

Families 3 and 4 are *screened* with plain floats; a float only nominates an instance.
Every verdict is decided exactly afterwards (:mod:`elbo_sym.numbers.evaluate`).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator

from sympy import Symbol

from elbo_sym.budget import checkpoint
from elbo_sym.engine.models.discrete import DiscreteModel

RANDOM_INSTANCES = 16
"""Seeded random instances decided exactly for every step that is not proved."""
MIN_DECIDED = 8
"""A step that no rule proves is `checked` only after holding on at least this many decided instances."""
EPSILONS = (Fraction(1, 10), Fraction(1, 10**3), Fraction(1, 10**9), Fraction(1, 10**30))
"""How close to 0 the boundary families take a probability."""
LARGE_RATIO = Fraction(1, 10**9)
"""A likelihood this small beside a likelihood of 1: ratio 1e9."""
MINIMISER_STARTS = 6
MINIMISER_ITERATIONS = 400
ROUNDING_DENOMINATORS = (10, 1000, 10**6, 10**12)


@dataclass(frozen=True)
class Instance:
    """Exact parameter values of the discrete family (q None when an assumption fixes it)."""

    prior: tuple[Fraction, ...]
    likelihood: tuple[Fraction, ...]
    q: tuple[Fraction, ...] | None
    source: str

    def values(self, model: DiscreteModel) -> dict[Symbol, Fraction]:
        out = dict(zip(model.prior, self.prior))
        out.update(zip(model.likelihood, self.likelihood))
        if model.q_assumed is None:
            if self.q is None:
                raise ValueError("the instance has no q")
            out.update(zip(model.q_symbols, self.q))
        return out

    def point(self, model: DiscreteModel) -> tuple[float, ...]:
        values = self.values(model)
        return tuple(float(values[s]) for s in model.parameters)

    def q_values(self, model: DiscreteModel) -> tuple[Fraction, ...]:
        """q at this instance (computed from the assumption when q is fixed)."""
        if model.q_assumed is None:
            return self.q
        from elbo_sym.numbers.evaluate import exact

        values = self.values(model)
        return tuple(exact(v, values).rational for v in model.q)


def seed_for(*parts: object) -> int:
    """A reproducible seed from the step's content."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big")


def posterior(prior, likelihood) -> tuple[Fraction, ...]:
    evidence = sum(a * b for a, b in zip(prior, likelihood))
    return tuple(a * b / evidence for a, b in zip(prior, likelihood))


# --------------------------------------------------------------------------- exact candidates


def _random_distribution(rng: random.Random, K: int, top: int) -> tuple[Fraction, ...]:
    weights = [rng.randint(1, top) for _ in range(K)]
    total = sum(weights)
    return tuple(Fraction(w, total) for w in weights)


def _random_likelihood(rng: random.Random, K: int, top: int) -> tuple[Fraction, ...]:
    return tuple(Fraction(rng.randint(1, top), top) for _ in range(K))


def exact_candidates(model: DiscreteModel, examples=(), seed: int = 0) -> list[Instance]:
    """Instances every unproved step is decided on exactly: examples, special q, random fractions."""
    rng = random.Random(seed)
    K = model.K
    out = [Instance(e.prior, e.likelihood, e.q, f"example {e.index}") for e in examples]
    for n in range(RANDOM_INSTANCES):
        top = 9 if n % 2 == 0 else 10**4
        prior = _random_distribution(rng, K, top)
        likelihood = _random_likelihood(rng, K, top if top > 9 else 10)
        if n == 0:
            q, source = posterior(prior, likelihood), "tight case q = p(z | x)"
        elif n == 1:
            q, source = prior, "q = p(z)"
        else:
            q, source = _random_distribution(rng, K, top), "random instance"
        out.append(Instance(prior, likelihood, q, source))
    return out


# --------------------------------------------------------------------------- boundary families


def _simplex_corners(K: int, eps: Fraction) -> list[tuple[tuple[Fraction, ...], str]]:
    """Distributions with some coordinates at eps (the rest share what is left)."""
    out = [(tuple(Fraction(1, K) for _ in range(K)), "uniform")]
    if K <= 3:
        subsets = [s for r in range(1, K) for s in itertools.combinations(range(K), r)]
    else:
        singles = [(k,) for k in range(K)][:4] + [(K - 1,)]
        dominant = [tuple(j for j in range(K) if j != k) for k in (0, K - 1)]
        subsets = list(dict.fromkeys(singles + dominant))
    for tiny in subsets:
        rest = (1 - eps * len(tiny)) / (K - len(tiny))
        out.append((tuple(eps if k in tiny else rest for k in range(K)), f"p -> 0 at {list(tiny)}"))
    return out


def _likelihood_corners(K: int, eps: Fraction) -> list[tuple[Fraction, ...]]:
    levels = (eps, Fraction(1, 2), Fraction(1))
    if K <= 3:
        return [tuple(c) for c in itertools.product(levels, repeat=K)]
    out = [tuple(Fraction(1) for _ in range(K)), tuple(Fraction(1, 2) for _ in range(K))]
    for k in (0, K - 1):
        out.append(tuple(eps if j == k else Fraction(1) for j in range(K)))
        out.append(tuple(Fraction(1) if j == k else eps for j in range(K)))
    return out


def boundary_instances(model: DiscreteModel) -> Iterator[Instance]:
    """The boundary families (see the module docstring), nearest-to-typical first."""
    K = model.K
    ratio = tuple(Fraction(1) if k == 0 else LARGE_RATIO for k in range(K))
    for eps in EPSILONS:
        simplex = _simplex_corners(K, eps)
        likelihoods = _likelihood_corners(K, eps) + [ratio]
        for (prior, prior_name), likelihood in itertools.product(simplex, likelihoods):
            checkpoint()
            if model.q_assumed is not None:
                yield Instance(prior, likelihood, None, f"boundary eps = {eps}")
                continue
            qs = [q for q, _ in simplex] + [prior, posterior(prior, likelihood)]
            for q in dict.fromkeys(qs):
                yield Instance(prior, likelihood, q, f"boundary eps = {eps}")


# --------------------------------------------------------------------------- minimisation


def minimise(objective: Callable[[tuple[float, ...]], float], model: DiscreteModel,
             starts: list[Instance], seed: int) -> Iterator[Instance]:
    """Rational instances near local minima of `objective` (a float function of the parameters).

    Nelder-Mead in unconstrained coordinates (softmax for each simplex, a logistic map for
    each likelihood), from the given starts and a few random ones.  Each result is then
    decided exactly by the caller; a float minimum is only a nomination.
    """
    try:
        import numpy as np
        from scipy.optimize import minimize
    except ImportError:  # pragma: no cover - scipy is a dependency; without it, no minimisation
        return
    K = model.K
    rng = random.Random(seed)
    n_simplices = 1 if model.q_assumed is not None else 2

    def to_point(u) -> tuple[float, ...]:
        blocks = []
        prior = _softmax(u[:K])
        likelihood = [1.0 / (1.0 + math.exp(-max(min(t, 700.0), -700.0))) for t in u[K:2 * K]]
        blocks = list(prior) + likelihood
        if n_simplices == 2:
            blocks += list(_softmax(u[2 * K:3 * K]))
        return tuple(blocks)

    def wrapped(u) -> float:
        checkpoint()
        value = objective(to_point(u))
        return value if math.isfinite(value) else 1e300

    initial = [_unconstrained(s.point(model), K, n_simplices) for s in starts]
    while len(initial) < MINIMISER_STARTS:
        initial.append([rng.gauss(0, 3) for _ in range((1 + n_simplices) * K)])
    for u0 in initial[:MINIMISER_STARTS]:
        result = minimize(wrapped, np.array(u0, dtype=float), method="Nelder-Mead",
                          options={"maxiter": MINIMISER_ITERATIONS, "xatol": 1e-10, "fatol": 1e-14})
        point = to_point(result.x)
        for instance in _rationals_near(point, model):
            yield instance


def _softmax(u) -> list[float]:
    top = max(u)
    weights = [math.exp(t - top) for t in u]
    total = sum(weights)
    return [w / total for w in weights]


def _unconstrained(point: tuple[float, ...], K: int, n_simplices: int) -> list[float]:
    prior, likelihood = point[:K], point[K:2 * K]
    u = [math.log(max(p, 1e-300)) for p in prior]
    u += [math.log(max(l, 1e-300)) - math.log(max(1 - l, 1e-300)) if l < 1 else 40.0 for l in likelihood]
    if n_simplices == 2:
        u += [math.log(max(p, 1e-300)) for p in point[2 * K:3 * K]]
    return u


def _rational_simplex(values, denominator: int) -> tuple[Fraction, ...] | None:
    rounded = [Fraction(v).limit_denominator(denominator) for v in values]
    rounded = [r if r > 0 else Fraction(1, denominator * 10) for r in rounded]
    total = sum(rounded)
    return tuple(r / total for r in rounded)


def _rationals_near(point: tuple[float, ...], model: DiscreteModel) -> Iterator[Instance]:
    K = model.K
    for denominator in ROUNDING_DENOMINATORS:
        prior = _rational_simplex(point[:K], denominator)
        likelihood = tuple(min(Fraction(1), max(Fraction(v).limit_denominator(denominator),
                                                Fraction(1, denominator * 10))) for v in point[K:2 * K])
        q = _rational_simplex(point[2 * K:3 * K], denominator) if model.q_assumed is None else None
        yield Instance(prior, likelihood, q, f"numeric minimisation (rounded to 1/{denominator})")


__all__ = ["Instance", "exact_candidates", "boundary_instances", "minimise", "seed_for", "posterior",
           "MIN_DECIDED", "RANDOM_INSTANCES"]

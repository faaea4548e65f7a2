"""The discrete family's reference evaluator: an independent judge of derivation steps.

The second opinion on every ``proved`` step (:mod:`elbo_sym.engine.reference`, run by
``check_step``) and the soundness fuzzer's judge (tests/test_fuzz_soundness.py) are this one
code.  It evaluates parsed notation (the objects :mod:`elbo_sym.engine.parse` builds) directly on
concrete instances of the discrete model and decides a relation there.  It shares *no*
code with the engine: it never imports ``elbo_sym.engine.models.discrete``, ``canonical``, ``rules`` or
``check``.  Its only inputs from the package are the notation classes themselves.

Arithmetic: a value stays an exact rational (:mod:`.rationals` chooses the type: GMP's ``mpq``, else
``fractions.Fraction``) as long as it is rational (so "log of a value <= 0" and "division by 0" are
decided exactly for rational arguments);
past a ``log``/``exp`` it becomes an interval at 60 digits (PREC bits), outward rounded, made by the
backend of :mod:`.intervals`: FLINT's arb balls where python-flint imports, else mpmath's own
interval primitives (``mpmath.libmp.libmpi``, the arithmetic behind ``mpmath.iv``, called directly).
Neither shares a precision setting with the engine.
An interval that contains 0 where a positive (log) or non-zero (divisor) value is needed
counts as undefined: the value is 0 to 60 digits.

Relations: exact values are compared exactly.  Otherwise this judge (and the chain's, on the
same arithmetic) decides on the outward-rounded difference interval itself (EXACT, no
tolerance): ``=`` holds when the interval contains 0, ``>=`` when its upper end is >= 0, a
strict ``<``/``>`` when it lies wholly on that side (else re-decided at RETRY_PRECISIONS).  A
true identity's interval always contains 0; a false one off by exp(-100) (3.7e-44) is
separated at 210 bits (a width about 1e-60 times the sides).  The Gaussian judges' quadrature
nodes come from Newton's method, not from enclosures: they pass QUADRATURE_TOLERANCE, a
difference within ``QUADRATURE_TOLERANCE * (1 + max(|lhs|, |rhs|))`` counting as 0.

The model (DESIGN.md; K states, one observation x): prior p(z=k) = pi_k, likelihood
p(x | z=k) = l_k in (0, 1], q(z=k) = q_k; p(x, z) = pi_k l_k, p(x) = sum_k pi_k l_k,
p(z | x) = pi_k l_k / p(x).  An expression with a free z is a claim for every z.

Several observations (``data = ["x1", "x2"]``) share the prior and have their own
likelihood p(x1 | z) and q(z | x1); ``ELBO(q(z | x1), x1)`` uses the joint p(x1, z).
Parameters (``[params] beta = ">= 1"``) are exact numbers inside their interval: the judge
reads the condition text itself and samples its closed bounds, points 1e-30 and 1e-9 inside
each bound, interior points and (unbounded) huge values; ``landmarks`` adds the values
where the step's own numbers put a zero (beta = 1/3 for beta - 1/3), and ``sign_change``
finds a divisor that changes sign between two samples (a zero no rational sample hits,
like beta**2 - 2).  ``K = "any"`` is judged on the instances for K = 2, 3 and 5
(``instances_any``).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cache, cached_property
from typing import Any

import sympy
from mpmath.libmp import (
    fone,
    from_rational,
    fzero,
    mpf_add,
    mpf_ge,
    mpf_le,
    mpf_neg,
    round_ceiling,
    round_floor,
    to_str,
)
from mpmath.libmp.libmpi import mpi_abs, mpi_add, mpi_mul

from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    Draw,
    Entropy,
    Expectation,
    Index,
    LatentSum,
    Limit,
    is_real_power,
    to_text,
    x,
    z,
)
from elbo_sym.engine.reference import intervals
from elbo_sym.engine.reference.rationals import (
    IN_TURN,
    KEYED_BY_ITSELF,
    Rational,
    exact_product,
    exact_sum,
    named_rationals,
    parts,
    rational,
    rationals,
    value_key,
)
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import REFERENCE_EXTREME_EPSILON_DIGITS, REFERENCE_INTEGER_OFFSETS

ZERO, ONE, TWO, MINUS_ONE, MINUS_HALF = Rational(0), Rational(1), Rational(2), Rational(-1), Rational(-1, 2)
"""Exact constants of the evaluators, made once (an exact rational is immutable; making a Fraction cost a
gcd and a call of its __new__, and the judges' sums and log-densities used them at every point)."""
DIGITS = 60
TOLERANCE = Rational(1, 10**40)
"""The default of `relation_holds` for callers that compare values of no judge (and the sum-to-1
test of a derived distribution)."""
EXACT = ZERO
"""The discrete and chain judges' tolerance: their intervals are enclosures, so 0 is decisive."""
QUADRATURE_TOLERANCE = Rational(1, 10**50)
"""The Gaussian judges' tolerance (relative, as 1 + max|side|): their Hermite nodes and weights are
Newton's points at 250 bits, not enclosures; the largest |lhs - rhs| / (1 + max|side|) of a true
step measured on the tree and the second opinion's corpus is far below it (docs/02)."""

Value = Rational | Any  # a Rational, or an interval of the backend (`intervals`: an arb ball, or (lo, hi) mpfs)


class Undefined(ArithmeticError):
    """The expression has no real value at this instance (log of <= 0, division by 0).

    `near_zero`: decided from an interval that contains 0 (not from an exact value): the
    judge re-evaluates at higher precision before it believes it."""

    def __init__(self, message: str, near_zero: bool = False):
        super().__init__(message)
        self.near_zero = near_zero


class JudgeError(ValueError):
    """The judge cannot interpret the expression (outside the vocabulary, free z misuse)."""


# ----------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class Instance:
    """Concrete parameters: prior, likelihood and q of the first observation (q None until an
    assumption fixes it); `more`: (likelihood, q) of each further observation; `params`:
    (name, value) of each [params] parameter."""

    name: str
    prior: tuple[Rational, ...]
    likelihood: tuple[Rational, ...]
    q: tuple | None
    observations: tuple[str, ...] = ("x",)
    more: tuple = ()
    params: tuple[tuple[str, Rational], ...] = ()
    data_weights: tuple[Rational, ...] = ()
    """p_data(o) of each observation, in order (empty: the file does not use the data distribution)."""
    extra: tuple = ()
    """(label, kind, signature, values) of each further table: a second distribution r(z | o)
    ("simplex"), the prior p(z | theta) ("simplex") and likelihood p(o | z; theta) ("unit") of a
    parameterised model; its joint, evidence and posterior follow from them (`tables`)."""
    fixes: tuple = ()
    """(observation, expression) of each q an assumption fixed (`with_assumptions`): a limit over a
    parameter that an expression names moves that q with it (`_eval_limit`)."""

    def __post_init__(self) -> None:
        """Numbers from outside (a caller's or a test's Fractions) as the judges' exact type (`rationals`)."""
        for name in ("prior", "likelihood", "q", "data_weights"):
            values = getattr(self, name)
            if values is not None and not all(type(v) is Rational for v in values):
                object.__setattr__(self, name, rationals(values))
        if not all(type(v) is Rational for pair in self.more for values in pair if values is not None for v in values):
            object.__setattr__(self, "more", tuple((rationals(lik), rationals(q)) for lik, q in self.more))
        object.__setattr__(self, "params", named_rationals(self.params))

    @property
    def K(self) -> int:
        return len(self.prior)

    def likelihood_of(self, o: str) -> tuple[Rational, ...]:
        i = self.observations.index(o)
        return self.likelihood if i == 0 else self.more[i - 1][0]

    def q_of(self, o: str):
        i = self.observations.index(o)
        return self.q if i == 0 else self.more[i - 1][1]

    def with_q(self, o: str, q) -> Instance:
        i = self.observations.index(o)
        if i == 0:
            return replace(self, q=q)
        more = list(self.more)
        more[i - 1] = (more[i - 1][0], q)
        return replace(self, more=tuple(more))

    def with_params(self, params, name: str | None = None) -> Instance:
        return replace(self, name=name or self.name, params=tuple(params))

    def with_data_weights(self, weights, name: str | None = None) -> Instance:
        return replace(self, name=name or self.name, data_weights=tuple(weights))

    @cached_property
    def evidence(self) -> Rational:
        return self.evidence_of(self.observations[0])

    def evidence_of(self, o: str) -> Rational:
        return sum((a * b for a, b in zip(self.prior, self.likelihood_of(o))), ZERO)

    def posterior(self, o: str | None = None) -> tuple[Rational, ...]:
        o = o or self.observations[0]
        e = self.evidence_of(o)
        return tuple(a * b / e for a, b in zip(self.prior, self.likelihood_of(o)))

    @cached_property
    def binders(self) -> dict:
        """KL, H and ELBO of the distributions of z at this instance (a handful, computed once)."""
        return {}

    @cached_property
    def values(self) -> dict:
        """The parameters' values by name."""
        return dict(self.params)

    @cached_property
    def scalars(self) -> dict:
        """p(o) of each observation (and p(o | theta) of a parameterised model), and its weight
        p_data(o) when given, by signature."""
        out: dict[tuple, Rational] = {("p", (_symbol(o),), ()): self.evidence_of(o) for o in self.observations}
        out.update({("p_data", (_symbol(o),), ()): w for o, w in zip(self.observations, self.data_weights)})
        for (_, variables, given), values in self._indexed_joints.items():
            out[("p", variables[:1], given)] = sum(values, ZERO)
        return out

    @cached_property
    def _indexed_joints(self) -> dict:
        """p(o, z | theta) = p(z | theta) p(o | z; theta), by signature."""
        given = {sig: values for _, kind, sig, values in self.extra}
        out = {}
        for (name, variables, cond), values in given.items():
            if name == "p" and len(variables) == 1 and variables[0] != z and len(cond) == 2:  # p(o | z; theta)
                prior = given[("p", (z,), cond[1:])]
                out[("p", (variables[0], z), cond[1:])] = tuple(a * b for a, b in zip(prior, values))
        return out

    @cached_property
    def tables(self) -> dict:
        """Each density of z at every k (exact fractions; q as given), by signature."""
        out: dict[tuple, tuple] = {_P_Z: self.prior}
        for o in self.observations:
            s = _symbol(o)
            likelihood = self.likelihood_of(o)
            joint = tuple(a * b for a, b in zip(self.prior, likelihood))
            e = self.evidence_of(o)
            out[("p", (s, z), ())] = joint
            out[("p", (s,), (z,))] = likelihood
            out[("p", (z,), (s,))] = tuple(j / e for j in joint)
            q = self.q_of(o)
            if q is not None:
                out[("q", (z,), (s,))] = q
                if len(self.observations) == 1:
                    out[_Q_Z] = q
        for _, _, signature, values in self.extra:
            out[signature] = values
            name, variables, given = signature
            if name != "p" and len(self.observations) == 1:  # r(z) is r(z | x) with one observation
                out[(name, variables, ())] = values
        for (_, variables, given), joint in self._indexed_joints.items():
            evidence = sum(joint, ZERO)
            out[("p", variables, given)] = joint
            out[("p", (z,), (variables[0],) + given)] = tuple(j / evidence for j in joint)
        return out

    def describe(self) -> str:
        indexed = any(sig[0] == "p" for _, _, sig, _ in self.extra)  # a parameterised model: its own tables
        parts = [] if indexed else [f"prior = ({', '.join(map(str, self.prior))})"]
        for o in self.observations:
            given = "" if len(self.observations) == 1 else f"[{o}]"
            if not indexed:
                parts.append(f"likelihood{given} = ({', '.join(map(str, self.likelihood_of(o)))})")
            q = self.q_of(o)
            if q is not None:
                parts.append(f"q{given} = ({', '.join(show(v) for v in q)})")
        parts += [f"{label} = ({', '.join(show(v) for v in values)})" for label, _, _, values in self.extra]
        parts += [f"{n} = {show(v)}" for n, v in self.params]
        if self.data_weights:
            parts.append(f"p_data = ({', '.join(map(str, self.data_weights))})")
        return f"[{self.name}] " + ", ".join(parts)

    def toml(self, with_q: bool = True) -> str:
        """The instance as an [[example]] table (leave q out when an assumption fixes it)."""
        def vector(values) -> str:
            return "[" + ", ".join(f'"{v}"' for v in values) + "]"

        def per(get) -> str:
            if len(self.observations) == 1:
                return vector(get(self.observations[0]))
            return "{ " + ", ".join(f"{o} = {vector(get(o))}" for o in self.observations) + " }"

        lines = ["[[example]]", f"prior = {vector(self.prior)}", f"likelihood = {per(self.likelihood_of)}"]
        qs = [self.q_of(o) for o in self.observations]
        if with_q and all(q is not None and all(isinstance(v, Rational) for v in q) for q in qs):
            lines.append(f"q = {per(self.q_of)}")
        if self.params:
            lines.append("params = { " + ", ".join(f'{n} = "{v}"' for n, v in self.params) + " }")
        if self.data_weights:
            lines.append(f"p_data = {vector(self.data_weights)}")
        return "\n".join(lines)


def _symbol(o: str):
    return x if o == "x" else sympy.Symbol(o)


def _normalise(weights) -> tuple[Rational, ...]:
    weights = tuple(weights)
    if all(type(w) is int for w in weights):  # the random instances' weights: one gcd each, no rational arithmetic
        whole = sum(weights)
        return tuple(Rational(w, whole) for w in weights)
    total = sum(weights, ZERO)
    return tuple(rational(w) / total for w in weights)


def _with_coordinate(base: tuple[Rational, ...], j: int, value: Rational) -> tuple[Rational, ...]:
    """`base` with coordinate j set to `value` and the rest rescaled to sum to 1 - value."""
    rest = sum(v for i, v in enumerate(base) if i != j)
    return tuple(value if i == j else v * (1 - value) / rest for i, v in enumerate(base))


BOUNDARY = (Rational(1, 10**3), Rational(1, 10**9), Rational(1, 10**30))


def instances(K: int, seed: int = 0, observations: tuple[str, ...] = ("x",),
              params: tuple[tuple[str, str], ...] = ()) -> list[Instance]:
    """The judge's instances for K states: lesson-like, random, tight, q = prior, boundary;
    with several observations (their own likelihoods and q's, crossed posteriors, ...) and
    with every parameter sampled in its interval (`params`: (name, condition text))."""
    out = _one_observation(K, seed)
    if tuple(observations) != ("x",):
        out = _several_observations(out, tuple(observations), seed)
    if params:
        out = _with_params(out, tuple(params))
    return out


ANY_K = (2, 3, 5)
"""A `K = "any"` statement is judged on the explicit models with these K."""


def instances_any(seed: int = 0, observations: tuple[str, ...] = ("x",),
                  params: tuple[tuple[str, str], ...] = ()) -> list[Instance]:
    """The instances for every K in ANY_K (a claim for every latent space)."""
    return [inst for K in ANY_K for inst in instances(K, seed, observations, params)]


def _one_observation(K: int, seed: int) -> list[Instance]:
    rng = random.Random(f"soundness-judge-{K}-{seed}")

    def dist() -> tuple[Rational, ...]:
        return _normalise([rng.randint(1, 97) for _ in range(K)])

    def lik() -> tuple[Rational, ...]:
        return tuple(Rational(rng.randint(1, 100), 100) for _ in range(K))

    lesson = _one_observation_lesson(K)
    uniform = tuple(Rational(1, K) for _ in range(K))
    out: list[Instance] = []

    def add(name, prior, likelihood, q):
        out.append(Instance(name, tuple(prior), tuple(likelihood), tuple(q)))

    def post(prior, likelihood):
        return Instance("", tuple(prior), tuple(likelihood), None).posterior()

    prior, likelihood, q = lesson
    add("lesson", prior, likelihood, q)
    add("lesson, q = posterior (tight)", prior, likelihood, post(prior, likelihood))
    add("lesson, q = prior", prior, likelihood, prior)
    for n in range(4):
        add(f"random {n}", dist(), lik(), dist())
    p0, l0 = dist(), lik()
    add("random, q = posterior (tight)", p0, l0, post(p0, l0))
    add("random, q = prior", p0, l0, p0)
    add("uniform", uniform, tuple(Rational(1, 2) for _ in range(K)), uniform)
    add("all l = 1", p0, tuple(ONE for _ in range(K)), dist())
    add("all l = 1, q = posterior = prior", p0, tuple(ONE for _ in range(K)), p0)
    for eps in BOUNDARY:
        for j in range(K):
            pb = _with_coordinate(dist(), j, eps)
            add(f"prior[{j}] = {eps}", pb, lik(), dist())
            add(f"q[{j}] = {eps}", dist(), lik(), _with_coordinate(dist(), j, eps))
        pb, lb = _with_coordinate(dist(), 0, eps), lik()
        add(f"prior[0] = q[0] = {eps}", pb, lb, pb)
        add(f"prior[0] = {eps}, q = posterior", pb, lb, post(pb, lb))
        qb = _with_coordinate(dist(), K - 1, eps)
        add(f"q[{K - 1}] = {eps}, prior[0] = {eps}", _with_coordinate(dist(), 0, eps), lik(), qb)
    tiny = Rational(1, 10**9)
    for j in (0, K - 1):
        edge = list(lik())
        edge[j] = tiny
        add(f"l[{j}] = 1e-9", dist(), edge, dist())
        edge = list(lik())
        edge[j] = ONE
        add(f"l[{j}] = 1", dist(), edge, dist())
    ratio = [ONE, tiny] + [Rational(1, 2)] * (K - 2)
    p1 = dist()
    add("likelihood ratio 1e9", p1, ratio, dist())
    add("likelihood ratio 1e9, q = posterior", p1, ratio, post(p1, ratio))
    add("likelihood ratio 1e9, q = prior", p1, ratio, p1)
    add("uniform prior, l = 1", uniform, tuple(ONE for _ in range(K)), dist())
    return out


def product_instances(K: int, count: int, seed: int = 0, observations: tuple[str, ...] = ("x",),
                      params: tuple[tuple[str, str], ...] = (), offset: int = 0) -> list[Instance]:
    """At most `count` instances for the product path's second opinion (a few ms per step, any K
    up to 2000): the lesson-like one, its tight case, q = prior, random ones, probabilities 1e-6
    and likelihoods 1 and 1e-6 -- each further observation with its own likelihood and q (tight
    where the first is), each parameter cycling through its samples (bounds included).  `offset`
    starts further down that list (so that several K together visit all of it)."""
    rng = random.Random(f"reference-{K}-{seed}-{len(observations)}")
    tiny = Rational(1, 10**6)

    def dist() -> tuple[Rational, ...]:
        return _normalise([rng.randint(1, 97) for _ in range(K)])

    def lik() -> tuple[Rational, ...]:
        return tuple(Rational(rng.randint(1, 100), 100) for _ in range(K))

    def post(prior, likelihood):
        return Instance("", tuple(prior), tuple(likelihood), None).posterior()

    lesson = _one_observation_lesson(K)
    prior, likelihood, _ = lesson
    edge = list(lik())
    edge[0], edge[-1] = tiny, ONE
    ones = tuple(ONE for _ in range(K))
    p0, l0 = dist(), lik()
    plans = [("lesson", prior, likelihood, "q", lesson[2]), ("lesson, q = posterior (tight)", prior, likelihood,
                                                            "tight", None),
             ("random, q = prior", p0, l0, "prior", None), ("random", dist(), lik(), "q", dist()),
             (f"prior[0] = {tiny}", _with_coordinate(dist(), 0, tiny), lik(), "q", dist()),
             (f"q[{K - 1}] = {tiny}", dist(), lik(), "q", _with_coordinate(dist(), K - 1, tiny)),
             (f"l[0] = {tiny}, l[{K - 1}] = 1, q = posterior", p0, tuple(edge), "tight", None),
             ("all l = 1", dist(), ones, "q", dist()), ("random, q = posterior (tight)", p0, l0, "tight", None),
             ("random 2", dist(), lik(), "q", dist())]
    out = []
    chosen = [plans[(offset + i) % len(plans)] for i in range(min(max(1, count), len(plans)))]
    for name, pr, li, how, q in chosen:
        likelihoods = [li] + [lik() for _ in observations[1:]]
        if how == "tight":
            qs = [post(pr, one) for one in likelihoods]
        elif how == "prior":
            qs = [pr] * len(observations)
        else:
            qs = [q] + [dist() for _ in observations[1:]]
        out.append(Instance(name, tuple(pr), tuple(likelihoods[0]), tuple(qs[0]), tuple(observations),
                            tuple((tuple(a), tuple(b)) for a, b in zip(likelihoods[1:], qs[1:]))))
    if params:
        samples = [(name, parameter_samples(condition)) for name, condition in params]
        cycled = _with_cycled_params(out, samples)
        for name, values in samples:  # the lesson at every sample of each parameter
            others = [(n, v[0]) for n, v in samples if n != name]
            cycled += [out[0].with_params(others + [(name, v)], f"lesson; {name} = {v}") for v in values]
        out = cycled
    return out


def cycled_params(count: int, samples: list) -> list[list[tuple[str, Rational]]]:
    """The parameters of each of `count` instances: every parameter at one of its samples, cycling at its
    own pace so that the instances meet many combinations (bounds included); the one rule for both
    families' second opinions (this module's and reference.chain's).  `samples`: (name,
    parameter_samples) of each parameter."""
    return [[(name, values[(i * (j + 1)) % len(values)]) for j, (name, values) in enumerate(samples)]
            for i in range(count)]


def _with_cycled_params(base: list[Instance], samples: list) -> list[Instance]:
    """Each instance with every parameter at one of its samples (`cycled_params`)."""
    return [inst.with_params(params) for inst, params in zip(base, cycled_params(len(base), samples))]


def near_vertex(K: int, j: int, eps: Rational) -> tuple[Rational, ...]:
    """A distribution over K states with 1 - eps at state j and eps split evenly over the others."""
    return tuple(1 - eps if k == j else eps / (K - 1) for k in range(K))


def extreme_instances(K: int, observations: tuple[str, ...] = ("x",), params: tuple[tuple[str, str], ...] = (),
                      uniform_q: bool = False) -> list[Instance]:
    """The second opinion's instances at a distribution's extremes (red team rt16: steps false only
    there were agreed on): the prior near one vertex and each q(z | o) near another, in both
    directions, the observations' q's near different vertices (nearly disjoint), each likelihood 1
    at its q's vertex and eps elsewhere.  With `uniform_q`, instead the one instance for a larger K:
    every q uniform (the largest entropy) against a prior near a vertex.  eps =
    10**-REFERENCE_EXTREME_EPSILON_DIGITS, never 0, so every log a step takes stays defined;
    deterministic (no random draw)."""
    eps = Rational(1, 10**REFERENCE_EXTREME_EPSILON_DIGITS)
    out = []
    if uniform_q:
        uniform = tuple(Rational(1, K) for _ in range(K))
        likelihood = tuple(Rational(1 + k, K) for k in range(K))
        out.append(Instance(f"q uniform, prior near z = 0 (extremes, eps = 1e-{REFERENCE_EXTREME_EPSILON_DIGITS})",
                            near_vertex(K, 0, eps), likelihood, uniform, tuple(observations),
                            tuple((likelihood, uniform) for _ in observations[1:])))
    for prior_at, first_q in (() if uniform_q else ((0, 1), (K - 1, 0))):
        at = [(first_q + i) % K for i in range(len(observations))]
        qs = [near_vertex(K, j, eps) for j in at]
        likelihoods = [tuple(ONE if k == j else eps for k in range(K)) for j in at]
        out.append(Instance(f"prior near z = {prior_at}, q(z | {observations[0]}) near z = {first_q} "
                            f"(extremes, eps = 1e-{REFERENCE_EXTREME_EPSILON_DIGITS})",
                            near_vertex(K, prior_at, eps), likelihoods[0], qs[0], tuple(observations),
                            tuple(zip(likelihoods[1:], qs[1:]))))
    if params:
        out = _with_cycled_params(out, [(name, parameter_samples(condition)) for name, condition in params])
    return out


def _one_observation_lesson(K: int) -> tuple[tuple[Rational, ...], ...]:
    """The lesson's prior, likelihood and q (K = 2), or a lesson-like K-state one."""
    if K == 2:
        return (Rational(3, 4), Rational(1, 4)), (Rational(1, 5), Rational(3, 5)), (Rational(1, 3), Rational(2, 3))
    return (_normalise([Rational(3, 4), Rational(1, 8)] + [Rational(1, 8 * (K - 2))] * (K - 2)),
            tuple(Rational(1 + (2 * k) % 9, 10) for k in range(K)), _normalise(range(1, K + 1)))


def _several_observations(base: list[Instance], observations: tuple[str, ...], seed: int) -> list[Instance]:
    """The one-observation instances, the further observations given their own likelihood and
    q (tight where the first is tight, the prior where it is the prior); then the cases only
    several observations have: q(z | x1) = p(z | x2) crossed, equal likelihoods (equal
    posteriors), one observation tight only, p(x2) = 1, and boundary values in x2's blocks."""
    K = base[0].K
    rng = random.Random(f"soundness-judge-data-{K}-{seed}-{len(observations)}")

    def dist() -> tuple[Rational, ...]:
        return _normalise([rng.randint(1, 97) for _ in range(K)])

    def lik() -> tuple[Rational, ...]:
        return tuple(Rational(rng.randint(1, 100), 100) for _ in range(K))

    def make(name, prior, likelihoods, qs):
        return Instance(name, tuple(prior), tuple(likelihoods[0]), tuple(qs[0]), observations,
                        tuple((tuple(l), tuple(q)) for l, q in zip(likelihoods[1:], qs[1:])))

    def post(prior, likelihood):
        return Instance("", tuple(prior), tuple(likelihood), None).posterior()

    out = []
    n = len(observations)
    for inst in base:
        likelihoods = [inst.likelihood] + [lik() for _ in range(n - 1)]
        if inst.q == inst.posterior():
            qs = [post(inst.prior, l) for l in likelihoods]
        elif inst.q == inst.prior:
            qs = [inst.prior] * n
        else:
            qs = [inst.q] + [dist() for _ in range(n - 1)]
        out.append(make(inst.name, inst.prior, likelihoods, qs))
    for inst in base[:6]:  # lesson-like and random ones
        likelihoods = [inst.likelihood] + [lik() for _ in range(n - 1)]
        posts = [post(inst.prior, l) for l in likelihoods]
        out.append(make(f"{inst.name}; q(z | x_i) = p(z | x_i+1) crossed", inst.prior, likelihoods,
                        posts[1:] + posts[:1]))
        out.append(make(f"{inst.name}; equal likelihoods", inst.prior, [inst.likelihood] * n, [inst.q] * n))
        out.append(make(f"{inst.name}; last observation tight only", inst.prior, likelihoods,
                        [inst.q] * (n - 1) + [posts[-1]]))
        out.append(make(f"{inst.name}; p(last observation) = 1", inst.prior,
                        likelihoods[:-1] + [tuple(ONE for _ in range(K))], [dist() for _ in range(n)]))
    for eps in BOUNDARY:
        for j in range(K):
            likelihoods = [lik() for _ in range(n)]
            likelihoods[-1] = tuple(eps if k == j else v for k, v in enumerate(likelihoods[-1]))
            out.append(make(f"l[last][{j}] = {eps}", dist(), likelihoods, [dist() for _ in range(n)]))
            qs = [dist() for _ in range(n)]
            qs[-1] = _with_coordinate(qs[-1], j, eps)
            out.append(make(f"q[last][{j}] = {eps}", dist(), [lik() for _ in range(n)], qs))
    return out


_ONE_SIDED = re.compile(r"\s*(>=|<=|>|<)\s*([+-]?\d+(?:/\d+)?)\s*")
_INTEGER = re.compile(r"\s*integer\s*>=\s*([+-]?\d+)(?:\s*and\s*<=\s*([+-]?\d+))?\s*")
"""A whole number's condition: ``integer >= 1``, or ``integer >= 35 and <= 40`` (premises bound it above)."""
"""A whole-number parameter (IWAE's samples k): "integer >= 1"."""
_TWO_SIDED = re.compile(r"\s*in\s*([\[(])\s*([+-]?\d+(?:/\d+)?)\s*,\s*([+-]?\d+(?:/\d+)?)\s*([\])])\s*")
PARAM_OFFSETS = (Rational(1, 10**30), Rational(1, 10**9), Rational(1, 2), ONE, Rational(3), Rational(10**6))
"""How far inside an unbounded interval's bound the samples lie (the bound itself when closed)."""


def parameter_samples(condition: str) -> tuple[Rational, ...]:
    """Values of a parameter inside its interval, read from the condition text (">= 1",
    "> 0", "< 0", "in (0, 1)", "in [1/2, 2]", "real"): closed bounds, 1e-30 and 1e-9
    inside each bound, interior points, huge values when unbounded."""
    text = condition.strip()
    whole = _INTEGER.fullmatch(text)
    if whole:
        low, most = int(whole.group(1)), whole.group(2)
        return tuple(low + Rational(d) for d in REFERENCE_INTEGER_OFFSETS  # K**k draws stay few
                     if most is None or low + d <= int(most))
    if text == "real":
        return tuple(sorted({sign * v for v in (ZERO,) + PARAM_OFFSETS[1:] for sign in (1, -1)}))
    one = _ONE_SIDED.fullmatch(text)
    if one:
        op, b = one.group(1), rational(one.group(2))
        sign = 1 if op in (">=", ">") else -1
        return tuple(([b] if op in (">=", "<=") else []) + [b + sign * d for d in PARAM_OFFSETS])
    two = _TWO_SIDED.fullmatch(text)
    if two:
        lo, hi = rational(two.group(2)), rational(two.group(3))
        if not lo < hi:
            raise JudgeError(f"empty interval {condition!r}")
        w = hi - lo
        inner = [lo + w * t for t in (Rational(1, 10**30), Rational(1, 10**9), Rational(1, 4), Rational(1, 2),
                                      Rational(3, 4))]
        inner += [hi - w * Rational(1, 10**9), hi - w * Rational(1, 10**30)]
        return tuple(([lo] if two.group(1) == "[" else []) + inner + ([hi] if two.group(4) == "]" else []))
    raise JudgeError(f"the judge cannot read the condition {condition!r}")


def parameter_contains(condition: str, v: Rational) -> bool:
    """v lies in the interval the condition text describes."""
    text, v = condition.strip(), rational(v)
    whole = _INTEGER.fullmatch(text)
    if whole:
        return v.denominator == 1 and v >= int(whole.group(1)) and (
            whole.group(2) is None or v <= int(whole.group(2)))
    if text == "real":
        return True
    one = _ONE_SIDED.fullmatch(text)
    if one:
        b = rational(one.group(2))
        return {">=": v >= b, ">": v > b, "<=": v <= b, "<": v < b}[one.group(1)]
    two = _TWO_SIDED.fullmatch(text)
    if two:
        lo, hi = rational(two.group(2)), rational(two.group(3))
        return (lo <= v if two.group(1) == "[" else lo < v) and (v <= hi if two.group(4) == "]" else v < hi)
    raise JudgeError(f"the judge cannot read the condition {condition!r}")


CORE = 6
"""Instances (the first ones: the lesson's, its tight case, q = prior, three random ones)
judged with every combination of parameter values; the rest take the combinations in turn."""


def landmarks(*exprs) -> tuple[Rational, ...]:
    """Parameter values where the expressions' own numbers put a zero: +-c and +-c1/c2 for
    the rational constants c of the expressions (and 0, 1).  beta - 1/3 vanishes at 1/3,
    2 beta - 3 at 3/2: values a fixed grid of samples misses."""
    constants = {ZERO, ONE}
    for e in exprs:
        for node in sympy.preorder_traversal(e):
            if isinstance(node, sympy.Rational) and abs(int(node.p)) <= 10**6 and int(node.q) <= 10**6:
                constants.add(abs(Rational(int(node.p), int(node.q))))
    values = {a / b for a in constants for b in constants if b}
    return tuple(sorted(values | {-v for v in values}))


LANDMARK_CORE = 4
"""Instances (lesson, lesson tight, lesson q = prior, random) that visit the landmarks."""


def with_landmarks(base: list[Instance], params: tuple[tuple[str, str], ...], values) -> list[Instance]:
    """Extra instances: each parameter at each landmark value inside its interval (and not
    already a sample), the others at their first sample, on the first LANDMARK_CORE instances."""
    samples = {name: parameter_samples(condition) for name, condition in params}
    core, seen = [], set()
    for inst in base:
        key = _model_key(inst)
        if key not in seen:
            seen.add(key)
            core.append(inst)
        if len(core) == LANDMARK_CORE:
            break
    out = []
    for name, condition in params:
        for v in values:
            if v in samples[name] or not parameter_contains(condition, v):
                continue
            chosen = [(n, v if n == name else samples[n][0]) for n, _ in params]
            out += [inst.with_params(chosen, f"{inst.name}; {name} = {v} (a landmark)") for inst in core]
    return out


def _model_key(inst: Instance) -> tuple:
    """The instance's tables without its parameters, as a hashable key (a q an assumption fixed may hold
    intervals: arb balls are unhashable, so each goes by the backend's key)."""
    def table(values) -> tuple | None:
        return None if values is None else tuple(v if type(v) is Rational else _ops.key(v) for v in values)
    return inst.prior, inst.likelihood, table(inst.q), tuple((l, table(q)) for l, q in inst.more)


def _with_params(base: list[Instance], params: tuple[tuple[str, str], ...]) -> list[Instance]:
    names = [name for name, _ in params]
    combos = list(itertools.product(*(parameter_samples(condition) for _, condition in params)))
    core = max(2, CORE // max(1, len(params) ** 2))
    out = []
    for i, inst in enumerate(base):
        chosen = combos if i < core else [combos[i % len(combos)]]
        for values in chosen:
            out.append(inst.with_params(zip(names, values)))
    return out


def assumed(base: list[Instance], q_expr) -> list[Instance]:
    """The instances with q fixed by assumptions: `q_expr` fixes q(z) (of the first
    observation), or is a list of (observation, expression) pairs, q(z | o) = expression.
    Distinct (prior, likelihoods, parameters) only."""
    fixes = list(q_expr) if isinstance(q_expr, (list, tuple)) else [(None, q_expr)]
    seen, out = set(), []
    for inst in base:
        key = (inst.prior, inst.likelihood, tuple(l for l, _ in inst.more), inst.params)
        if key in seen:
            continue
        seen.add(key)
        free = inst
        for o, _ in fixes:
            free = free.with_q(o or inst.observations[0], None)
        fixed = free
        for o, expr in fixes:
            q = tuple(evaluate(expr, free, k) for k in range(inst.K))
            if not all(_positive(v) for v in q) or not _is_one(_sum(q)):
                raise JudgeError(f"the assumption q = {expr} is not a distribution at {free.describe()}")
            fixed = fixed.with_q(o or inst.observations[0], q)
        out.append(replace(fixed, fixes=tuple((o or inst.observations[0], expr) for o, expr in fixes)))
    return out


def with_model_names(cases: list[Instance], variationals: tuple[str, ...] = (), indices: tuple[str, ...] = (),
                     seed: int = 0) -> list[Instance]:
    """The instances with a table for each distribution beside q (r, q_star: each observation's own)
    and each parameter of a parameterised model (its prior and likelihoods), drawn independently
    of q.  The first parameter's model is the instance's own (so its tight and q = prior cases
    carry over); a later one is random, equal to the first's, at a boundary, or one that explains
    the data perfectly (p(x | z) = 1, the prior the first model's posterior) in turn; r is
    random, equal to q, or the posterior of a model in turn."""
    if not variationals and not indices:
        return cases
    rng = random.Random(f"reference-names-{seed}-{variationals}-{indices}")
    out = []
    for i, inst in enumerate(cases):
        K = inst.K

        def dist(K: int = K) -> tuple[Rational, ...]:
            return _normalise([rng.randint(1, 97) for _ in range(K)])

        extra: list = []
        models: list[tuple[tuple, dict]] = []  # (prior, likelihood per observation) of each parameter
        pick = (i + K) % 4  # a few instances per K: every kind of model comes up across K = 2, 3, 7
        for n, t in enumerate(indices):
            if n == 0 or pick == 1:
                prior, likelihoods = inst.prior, {o: inst.likelihood_of(o) for o in inst.observations}
            elif pick == 3:  # a model that explains the data perfectly (an M-step's ideal): p(x | z) = 1,
                # the prior the first model's posterior -- its bound beats the first model's
                prior = inst.posterior(inst.observations[0])
                likelihoods = {o: tuple(ONE for _ in range(K)) for o in inst.observations}
            elif pick == 2:
                prior = _with_coordinate(dist(), 0, Rational(1, 10**6))
                likelihoods = {o: tuple(Rational(1, 10**6) if j == K - 1 else Rational(rng.randint(1, 100), 100)
                                        for j in range(K)) for o in inst.observations}
            else:
                prior = dist()
                likelihoods = {o: tuple(Rational(rng.randint(1, 100), 100) for _ in range(K))
                               for o in inst.observations}
            models.append((prior, likelihoods))
            theta = Index(t)
            extra.append((f"p(z | {t})", "simplex", ("p", (z,), (theta,)), tuple(prior)))
            for o in inst.observations:
                extra.append((f"p({o} | z; {t})", "unit", ("p", (_symbol(o),), (z, theta)), tuple(likelihoods[o])))
        for name in variationals:
            for o in inst.observations:
                pick = (i + K + variationals.index(name)) % 4
                if pick == 0 and inst.q_of(o) is not None:
                    table = tuple(inst.q_of(o))
                elif pick == 1:
                    prior, likelihoods = models[-1] if models else (inst.prior, {o: inst.likelihood_of(o)})
                    joint = [a * b for a, b in zip(prior, likelihoods[o])]
                    table = tuple(j / sum(joint) for j in joint)
                elif pick == 2:
                    table = _with_coordinate(dist(), K - 1, Rational(1, 10**6))
                else:
                    table = dist()
                label = f"{name}(z)" if len(inst.observations) == 1 else f"{name}(z | {o})"
                extra.append((label, "simplex", (name, (z,), (_symbol(o),)), table))
        out.append(replace(inst, extra=tuple(extra)))
    return out


def is_simplex(values) -> bool:
    """Every entry > 0 and the entries sum to 1 (exactly, or within TOLERANCE for intervals)."""
    return bool(values) and all(_positive(v) for v in values) and _is_one(_sum(values))


def is_valid(inst: Instance, params: tuple[tuple[str, str], ...] = ()) -> bool:
    """The instance is a model of the family: p(z) and each q(z | o) distributions, each
    likelihood in (0, 1], each parameter inside its interval."""
    if not is_simplex(inst.prior):
        return False
    for o in inst.observations:
        q = inst.q_of(o)
        if q is None or len(q) != inst.K or not is_simplex(q):
            return False
        likelihood = inst.likelihood_of(o)
        if len(likelihood) != inst.K or not all(0 < v <= 1 for v in likelihood):
            return False
    if inst.data_weights and (len(inst.data_weights) != len(inst.observations) or not is_simplex(inst.data_weights)):
        return False
    for _, kind, _, table in inst.extra:  # r(z | o), p(z | theta): distributions; p(o | z; theta) in (0, 1]
        if len(table) != inst.K or not (is_simplex(table) if kind == "simplex" else all(0 < v <= 1 for v in table)):
            return False
    values = dict(inst.params)
    return all(name in values and parameter_contains(condition, values[name]) for name, condition in params)


def _indexed_likelihoods(inst: Instance) -> dict:
    """The positions in `inst.extra` of each parameter's likelihood tables p(o | z; theta), by
    the parameter's condition (z, theta), in the order of the observations."""
    out: dict[tuple, list[int]] = {}
    for i, (_, _, (name, variables, given), _) in enumerate(inst.extra):
        if name == "p" and len(variables) == 1 and variables[0] != z and len(given) == 2:
            out.setdefault(given, []).append(i)
    return out


def normalised(inst: Instance) -> bool:
    """p(x | z) sums to 1 over the instance's observations at every z (a finite data space), and
    so does each parameter's p(x | z; theta)."""
    tables = [[inst.likelihood_of(o) for o in inst.observations]]
    tables += [[inst.extra[i][3] for i in places] for places in _indexed_likelihoods(inst).values()]
    return all(_is_one(_sum([row[k] for row in rows])) for rows in tables for k in range(inst.K))


def _columns_normalised(rows: list[tuple[Rational, ...]]) -> list[tuple[Rational, ...]]:
    """Likelihood rows (one per observation) with each column (one z) divided by its sum."""
    totals = [sum((row[k] for row in rows), ZERO) for k in range(len(rows[0]))]
    return [tuple(v / t for v, t in zip(row, totals)) for row in rows]


def _bayes(prior: tuple[Rational, ...], likelihood: tuple[Rational, ...]) -> tuple[Rational, ...]:
    joint = [p * l for p, l in zip(prior, likelihood)]
    evidence = sum(joint, ZERO)
    return tuple(j / evidence for j in joint)


def with_data_space(cases: list[Instance]) -> list[Instance]:
    """The instances over a finite data space (the observations are every value of x): each
    likelihood column divided by its sum -- the instance's own and each parameter's p(. | z; theta)
    -- so that p(. | z) is a distribution over x at every z; a q, r or q_star that was a posterior
    stays that posterior of the new model, and every other table is kept.  Applied before the
    assumptions, which then read the new model."""
    out = []
    for inst in cases:
        rows = _columns_normalised([inst.likelihood_of(o) for o in inst.observations])
        moved = {inst.posterior(o): _bayes(inst.prior, row) for o, row in zip(inst.observations, rows)}
        extra = list(inst.extra)
        priors = {sig[2]: values for _, _, sig, values in inst.extra if sig[0] == "p" and sig[1] == (z,)}
        for given, places in _indexed_likelihoods(inst).items():
            prior = priors[given[1:]]
            new = _columns_normalised([extra[i][3] for i in places])
            for i, row in zip(places, new):
                moved.setdefault(_bayes(prior, extra[i][3]), _bayes(prior, row))
                extra[i] = extra[i][:3] + (row,)
        for i, (label, kind, sig, values) in enumerate(extra):
            if sig[0] != "p" and values in moved:  # r = a posterior: the new model's
                extra[i] = (label, kind, sig, moved[values])
        qs = [moved.get(q, q) if q is not None else None for q in (inst.q_of(o) for o in inst.observations)]
        out.append(replace(inst, name=f"{inst.name}; likelihood normalised over x", likelihood=rows[0], q=qs[0],
                           more=tuple(zip(rows[1:], qs[1:])), extra=tuple(extra)))
    return out


def with_data_weights(cases: list[Instance], seed: int = 0) -> list[Instance]:
    """The instances with the data distribution p_data over their observations: each one with
    weights in turn uniform, random, lesson-like (1/3, 2/3, ...) and with a weight at 1e-30 at
    either end; the first instance also at every one of those weights."""
    if not cases:
        return []
    n = len(cases[0].observations)
    rng = random.Random(f"soundness-judge-weights-{n}-{seed}")
    plans: list[tuple[str, tuple[Rational, ...]]] = [
        ("uniform", tuple(Rational(1, n) for _ in range(n))),
        ("random", _normalise([rng.randint(1, 97) for _ in range(n)])),
        ("lesson-like", _normalise(range(1, n + 1))),
    ]
    plans += [(f"p_data[{j}] = {eps}", _with_coordinate(_normalise(range(1, n + 1)), j, eps))
              for eps in BOUNDARY for j in (0, n - 1)]
    out = [inst.with_data_weights(plans[i % len(plans)][1], f"{inst.name}; p_data {plans[i % len(plans)][0]}")
           for i, inst in enumerate(cases)]
    out += [cases[0].with_data_weights(w, f"{cases[0].name}; p_data {name}") for name, w in plans]
    return out


def with_assumptions(cases: list[Instance], fixes) -> tuple[list[Instance], int]:
    """(the instances with each q fixed by its assumption, how many were skipped because an
    assumption is not a distribution there).  `fixes`: (observation, expression) pairs,
    evaluated by this judge (never by the engine's unfolding)."""
    out, skipped = [], 0
    for inst in cases:
        try:
            out.append(_fixed(replace(inst, fixes=tuple(fixes))))
        except Undefined:
            skipped += 1
    return out, skipped


def _fixed(inst: Instance) -> Instance:
    """The instance with each q its assumption (`inst.fixes`) gives at the instance's parameters;
    Undefined where one is not a distribution."""
    fixed = inst
    for o, _ in inst.fixes:
        fixed = fixed.with_q(o, None)
    for o, expr in inst.fixes:
        q = tuple(evaluate(expr, fixed, k) for k in range(inst.K))
        if not all(_positive(v) for v in q) or not _is_one(_sum(q)):
            raise Undefined(f"q(z | {o}) = {expr} is not a distribution")
        fixed = fixed.with_q(o, q)
    return fixed


# ----------------------------------------------------------------------------- arithmetic
#
# Intervals are the backend's (`intervals`): arb balls (python-flint) or pairs (lo, hi) of raw
# mpmath floats, outward rounded at PREC bits either way.  Only this section and `intervals` look
# at what an interval is; the judges ask the backend (`_ops`) for arithmetic, signs and ends.

PREC = 210  # bits; 60 decimal digits need 203
_ops = intervals.chosen()
_ops.set_precision(PREC)
_OPERATORS = _ops.operators
"""`_ops.operators`: the sums and products use the intervals' own + and * (see `_sum`)."""
RETRY_PRECISIONS = (700, 2300)
"""Bits for re-deciding "0 to 60 digits": a genuinely tiny positive value (1 - exp(-1e-90))
separates from 0 there, a genuine 0 does not."""


@contextmanager
def _precision(bits: int):
    global PREC, _CONVERTED_NOW
    saved, PREC = PREC, bits
    _CONVERTED_NOW = _converted_at(bits)
    _ops.set_precision(bits)
    try:
        yield
    finally:
        PREC = saved
        _CONVERTED_NOW = _converted_at(saved)
        _ops.set_precision(saved)


def backend() -> intervals.Backend:
    """The interval backend the judges use now."""
    return _ops


def set_backend(chosen: intervals.Backend) -> None:
    """Judge with `chosen` from now on, forgetting every interval this module remembers (the other
    memos of values: `reference.use_backend`, which calls this)."""
    global _ops, _OPERATORS, _CONVERTED_NOW
    _ops, _OPERATORS = chosen, chosen.operators
    for memo in (_CONVERTED, _LOGS, _SHOWN, _ONE_BY_PRECISION):
        memo.clear()
    _CONVERTED_NOW = _converted_at(PREC)
    _ops.set_precision(PREC)


def _digits() -> int:
    return int(PREC * 0.30103)


_TOL = (from_rational(1, 10**40, PREC, round_floor), from_rational(1, 10**40, PREC, round_ceiling))
_ONE = (fone, fone)
"""1 as an interval of raw mpfs (comparisons on `ends`); the backend's 1 is `_one()`."""
_ONE_BY_PRECISION: dict = {}


def _one():
    """1 as an interval of the backend (exact at every precision)."""
    known = _ONE_BY_PRECISION.get(PREC)
    if known is None:
        known = _ONE_BY_PRECISION[PREC] = _ops.from_fraction(1, 1, PREC)
    return known


_CONVERTED: dict = {}
"""The backend's interval of an exact value: precision -> {`value_key` -> interval}."""


def _converted_at(bits: int) -> dict:
    """`_CONVERTED`'s table of the precision `bits` (made empty the first time)."""
    return _CONVERTED.setdefault(bits, {})


_CONVERTED_NOW = _converted_at(PREC)
"""The table of the current precision, switched with PREC (`_precision`, `set_backend`): a look-up is then
one hash of the value, no (value, precision) tuple made and hashed for each of the ~100,000 conversions."""


def _iv(v):
    if type(v) is Rational:
        key = v if KEYED_BY_ITSELF else value_key(v)  # value_key(v), without a call
        known = _CONVERTED_NOW.get(key)
        if known is None:
            if len(_CONVERTED_NOW) > 100_000:
                _CONVERTED_NOW.clear()
            known = _CONVERTED_NOW[key] = _ops.from_fraction(*parts(v), PREC)  # ints: arb takes no mpz
        return known
    return v


class _Counter:
    """Arithmetic operations done under the innermost work budget of one thread."""

    __slots__ = ("spent", "limit", "what")

    def __init__(self) -> None:
        self.spent = 0
        self.limit: float = math.inf
        self.what = ""


class _Work(threading.local):
    """Each thread's counter: read as ``_work.counter``, one look-up of the thread's values, then plain
    attributes (the hot paths read and write them several times a call: on a subclass of
    threading.local each access costs six times a plain one)."""

    def __init__(self) -> None:
        self.counter = _Counter()


_work = _Work()


@contextmanager
def work_limit(operations: int, what: str):
    """Run the block under a budget of `operations` arithmetic operations (each operand of a sum
    or product, each power, log and exp counts one): past it the next operation raises
    BudgetExceeded(`what`).  Counting work, not seconds, the same evaluation ends at the same
    point on an idle and on a busy machine.  Budgets nest (the inner one counts from zero)."""
    work = _work.counter
    saved = (work.spent, work.limit, work.what)
    work.spent, work.limit, work.what = 0, operations, what
    try:
        yield
    finally:
        work.spent, work.limit, work.what = saved


def work_spent() -> int:
    """Operations counted so far under the innermost work budget."""
    return _work.counter.spent


def _spend(operations: int) -> None:
    work = _work.counter
    work.spent += operations
    if work.spent > work.limit:
        raise BudgetExceeded(work.what)


def _sum(values) -> Value:
    if type(values) is not list and type(values) is not tuple:
        values = list(values)
    work = _work.counter  # _spend(len(values)), written out: the hottest call of the evaluators
    work.spent += len(values)
    if work.spent > work.limit:
        raise BudgetExceeded(work.what)
    for v in values:
        if type(v) is not Rational:  # `type is`: Rational's isinstance goes through ABCMeta
            break
    else:
        return exact_sum(values)
    if _OPERATORS:  # ops.rounded and ops.add, written out: the same operations in the same order
        total = None
        for v in values:
            if type(v) is Rational:  # _iv(v), its look-up written out
                known = _CONVERTED_NOW.get(v if KEYED_BY_ITSELF else value_key(v))
                v = known if known is not None else _iv(v)
            total = +v if total is None else total + v
        return total
    ops, prec = _ops, PREC
    rest = iter(values)
    total = ops.rounded(_iv(next(rest)), prec)  # what adding it to 0 gives
    add = ops.add
    for v in rest:
        total = add(total, _iv(v), prec)
    return total


def _product(values) -> Value:
    if type(values) is not list and type(values) is not tuple:
        values = list(values)
    work = _work.counter  # _spend(len(values)), written out: the hottest call of the evaluators
    work.spent += len(values)
    if work.spent > work.limit:
        raise BudgetExceeded(work.what)
    exact = True
    for v in values:
        if type(v) is Rational:
            if not v:
                return _EXACT_ZERO  # 0 times a (defined, finite) value is exactly 0
        else:
            exact = False
    if exact:
        return exact_product(values)
    if _OPERATORS:  # ops.rounded and ops.mul, written out: the same operations in the same order
        total = None
        for v in values:
            if type(v) is Rational:  # _iv(v), its look-up written out
                known = _CONVERTED_NOW.get(v if KEYED_BY_ITSELF else value_key(v))
                v = known if known is not None else _iv(v)
            total = +v if total is None else total * v
        return total
    ops, prec = _ops, PREC
    rest = iter(values)
    total = ops.rounded(_iv(next(rest)), prec)  # what multiplying it by 1 gives
    mul = ops.mul
    for v in rest:
        total = mul(total, _iv(v), prec)
    return total


def _sum2(a: Value, b: Value) -> Value:
    """`_sum((a, b))` (the same value, the same work counted), written out for two operands: most sums of
    the judges' hot paths have two, and the general loop's bookkeeping cost more than the arithmetic."""
    if not _OPERATORS:
        return _sum((a, b))
    work = _work.counter
    work.spent += 2
    if work.spent > work.limit:
        raise BudgetExceeded(work.what)
    exact_a, exact_b = type(a) is Rational, type(b) is Rational
    if exact_a and exact_b:
        return a + b if IN_TURN else exact_sum((a, b))
    if exact_a:
        known = _CONVERTED_NOW.get(a if KEYED_BY_ITSELF else value_key(a))
        a = known if known is not None else _iv(a)
    elif exact_b:
        known = _CONVERTED_NOW.get(b if KEYED_BY_ITSELF else value_key(b))
        b = known if known is not None else _iv(b)
    return +a + b  # the first operand rounded, then added: `_sum`'s operations


def _product2(a: Value, b: Value) -> Value:
    """`_product((a, b))` (the same value, the same work counted, 0 times a value exactly 0), written out
    for two operands, as `_sum2` is."""
    if not _OPERATORS:
        return _product((a, b))
    work = _work.counter
    work.spent += 2
    if work.spent > work.limit:
        raise BudgetExceeded(work.what)
    exact_a, exact_b = type(a) is Rational, type(b) is Rational
    if (exact_a and not a) or (exact_b and not b):
        return _EXACT_ZERO
    if exact_a and exact_b:
        return a * b if IN_TURN else exact_product((a, b))
    if exact_a:
        known = _CONVERTED_NOW.get(a if KEYED_BY_ITSELF else value_key(a))
        a = known if known is not None else _iv(a)
    elif exact_b:
        known = _CONVERTED_NOW.get(b if KEYED_BY_ITSELF else value_key(b))
        b = known if known is not None else _iv(b)
    return +a * b


_EXACT_ZERO = ZERO


def _contains_zero(v) -> bool:
    return not (_ops.lower_positive(v) or _ops.upper_negative(v))


def _positive(v) -> bool:
    return v.numerator > 0 if type(v) is Rational else _ops.lower_positive(v)  # a Rational's denominator is > 0


def _within(v, tol) -> bool:
    """Some point of interval v lies in [-tol, tol]."""
    return mpf_le(v[0], tol) and mpf_ge(v[1], mpf_neg(tol))


def _is_one(v) -> bool:
    if type(v) is Rational:
        return v == 1
    return _within(_ops.ends(_ops.sub(v, _one(), PREC)), _TOL[1])


MEMO_ENTRIES = 100_000
"""A value-keyed memo of the reference past this many entries starts afresh (bounded memory)."""


def remembered(memo: dict, key, make):
    """memo[key], made by make() the first time; a pure function of the key, so a memo shared by the
    files of one process saves time only (the reference's own helper: it imports none of the engine's)."""
    known = memo.get(key)
    if known is None:
        if len(memo) > MEMO_ENTRIES:
            memo.clear()
        known = memo[key] = make()
    return known


def remembered_by_identity(memo: dict, obj, make):
    """make(obj), remembered under id(obj) with `obj` pinned beside the answer (so its id stays unique
    while the entry lives): for a pure function of an expression asked again and again, where hashing
    the expression or comparing it with == would cost more than the answer saves.  An error `make`
    raises is not remembered (raised again, each time).  The work it counts is not remembered either:
    use it only for answers whose making counts none (types, signatures, free variables)."""
    known = memo.get(id(obj))
    if known is not None and known[0] is obj:
        return known[1]
    answer = make(obj)
    if len(memo) > MEMO_ENTRIES:
        memo.clear()
    memo[id(obj)] = (obj, answer)
    return answer


def remembered_with_work(memo: dict, key, compute, entries: int = MEMO_ENTRIES):
    """compute()'s value (or the Undefined it raised, raised again), remembered under `key` with the work
    that evaluation counted: a repeat charges that work again.  So a value found costs what it cost when
    made, and the counted work of a step -- and where a work budget stops it -- is the same whether an
    equal value was made before (an earlier step, an equal subtree) or not.  `key` must determine the
    value and its count (with the precision, PREC, in it when it matters); past `entries` the memo
    starts afresh."""
    known = memo.get(key)
    if known is None:
        before = _work.counter.spent
        try:
            value = compute()
        except Undefined as error:
            value = error
        if len(memo) > entries:
            memo.clear()
        known = memo[key] = (value, _work.counter.spent - before)
    elif known[1]:  # _spend(known[1]), written out: a hit is the commonest path
        work = _work.counter
        work.spent += known[1]
        if work.spent > work.limit:
            raise BudgetExceeded(work.what)
    if isinstance(known[0], Undefined):
        raise known[0]
    return known[0]


def arithmetic_function(e, of_part):
    """For a sum, product or power of `e`: a function of (instance, point) that computes it from its parts'
    functions (``of_part(a)``, made now) in the same order as the judges' evaluation; None for any other
    expression.  Shared by the Gaussian judges, which turn an expression into a function once."""
    kind = type(e)
    if kind is sympy.Add or kind is sympy.Mul:
        return combined_at(_sum if kind is sympy.Add else _product, tuple(of_part(a) for a in e.args))
    if kind is sympy.Pow:
        base, exponent = e.args
        if not isinstance(exponent, sympy.Integer):
            def refused(inst, at):
                raise JudgeError(f"non-integer exponent in {e}")
            return refused
        of_base, n = of_part(base), int(exponent)
        return lambda inst, at: _power(of_base(inst, at), n)
    return None


def combined_at(combine: Callable[[list], Value], parts: tuple) -> Callable[..., Value]:
    """A function of (instance, point): combine (`_sum` or `_product`) of the parts' values at them, computed
    in order (two and three parts written out, without a list comprehension's call: most have them).  The
    point defaults to None, so that it serves the Gaussian judge's functions of the instance alone too."""
    if len(parts) == 2:
        first, second = parts
        two = _sum2 if combine is _sum else _product2
        return lambda inst, at=None: two(first(inst, at), second(inst, at))
    if len(parts) == 3:
        first, second, third = parts
        return lambda inst, at=None: combine([first(inst, at), second(inst, at), third(inst, at)])
    return lambda inst, at=None: combine([part(inst, at) for part in parts])


_SHOWN: dict = {}
"""show() by (type, value, precision): a step's right side is the next step's left side, at the same
instances (3,820 values shown, 825 distinct, on the tree's discrete and chain steps)."""


def show(v) -> str:
    """A value for humans: the exact fraction (short ones) or 25 significant digits."""
    key = (type(v), value_key(v) if type(v) is Rational else _ops.key(v), PREC)  # the type too: ONE == 1 == 1.0
    try:
        known = _SHOWN.get(key)
    except TypeError as raised:  # unhashable: shown afresh
        reraise_callers(raised)
        return _show(v)
    return known if known is not None else remembered(_SHOWN, key, lambda: _show(v))


def _show(v, ops: intervals.Backend | None = None, bits: int | None = None) -> str:
    """:func:`show` unremembered, in the backend `ops` at `bits` (default: the current ones)."""
    ops, bits = ops or _ops, bits or PREC
    if type(v) is Rational:
        text = str(v)
        if len(text) <= 40:
            return text
        v = _iv(v) if ops is _ops and bits == PREC else ops.from_fraction(*parts(v), bits)
    return to_str(ops.mid(v, bits), 25)


def _power(base: Value, n: int) -> Value:
    _spend(1)
    if type(base) is Rational:
        if base == 0 and n < 0:
            raise Undefined("division by zero")
        return base**n
    if n < 0 and _contains_zero(base):
        raise Undefined(f"division by a value that is 0 to {_digits()} digits ({show(base)})", True)
    if n == 0:
        return ONE
    if n < 0:
        return _ops.div(_one(), _ops.pow_int(base, -n, PREC), PREC)
    return _ops.pow_int(base, n, PREC)


_LOGS: dict = {}
"""The interval log of an exact fraction at a precision, by (`value_key`, bits): the steps
of a file take the logs of the same probabilities again and again (621 logs of 123 values on the
lesson).  A pure function of the key; the work budget still counts every log taken."""


def _log(v: Value) -> Value:
    _spend(1)
    if isinstance(v, Rational):
        if v <= 0:
            raise Undefined(f"log of {v}")
        if v == 1:
            return ZERO
        key = (v if KEYED_BY_ITSELF else value_key(v), PREC)  # (value_key(v), PREC), without a call
        known = _LOGS.get(key)
        if known is None:
            if len(_LOGS) > 100_000:
                _LOGS.clear()
            known = _LOGS[key] = _ops.log(_iv(v), PREC)
        return known
    if _ops.upper_nonpositive(v):
        raise Undefined(f"log of a negative value ({show(v)})")
    if not _ops.lower_positive(v):
        raise Undefined(f"log of a value that is 0 to {_digits()} digits ({show(v)})", True)
    return _ops.log(v, PREC)


def _exp(v: Value) -> Value:
    _spend(1)
    if type(v) is Rational and v == 0:
        return ONE
    return _ops.exp(_iv(v), PREC)


# ----------------------------------------------------------------------------- evaluation

_P_Z = ("p", (z,), ())
_Q_Z = ("q", (z,), ())


_SIGNATURES: dict = {}


def _signature(d: Density) -> tuple:
    if not isinstance(d, Density):  # a derived distribution (a mixture): the expression is its key
        return ("derived", d)
    known = _SIGNATURES.get(id(d))  # remembered_by_identity's look-up, written out: asked at every density
    if known is not None and known[0] is d:
        return known[1]
    return remembered_by_identity(_SIGNATURES, d, _signature_of)


def _signature_of(d: Density) -> tuple:
    variables, given = tuple(d.variables), tuple(d.given)
    if d.name == "p" and len(variables) == 2 and z in variables and not given:
        variables = (variables[0] if variables[1] == z else variables[1], z)  # p(z, x) is p(x, z)
    return (d.name, variables, given)


def has_free_z(e) -> bool:
    """z occurs outside every binder (Sum, E, KL, H, ELBO bind it): a claim for every z.

    Remembered by identity (a pure function of the expression, asked at every instance)."""
    return remembered_by_identity(_FREE, e, _has_free_z)


def _has_free_z(e) -> bool:
    if isinstance(e, LatentSum) and isinstance(e.args[1], Draw):  # binds its draw only, never z
        return has_free_z(e.args[0])
    if isinstance(e, (LatentSum, Expectation, KL, Entropy, ELBO, IWAE)):
        return False
    if isinstance(e, Density):
        return z in e.variables or z in e.given
    return any(has_free_z(a) for a in e.args)


def _density(d: Density, inst: Instance, k: int | None) -> Value:
    sig = _signature(d)
    scalar = inst.scalars.get(sig)
    if scalar is not None:
        return scalar
    if z not in sig[1] + sig[2]:
        raise JudgeError(f"unknown density {d}")
    if k is None:
        raise JudgeError(f"{d} with z unbound")
    table = inst.tables.get(sig)
    if table is None:
        raise JudgeError(f"{d} is not given at this instance (unknown observation, or q not given)")
    return table[k]


def _distribution(d, inst: Instance) -> tuple[Value, ...]:
    if isinstance(d, Density):
        if tuple(d.variables) != (z,):
            raise JudgeError(f"{d} is not a distribution over z")
        return tuple(_density(d, inst, j) for j in range(inst.K))
    return _derived(d, inst)


_BINDERS = (Expectation, KL, Entropy, ELBO, IWAE)


def _derived(d, inst: Instance) -> tuple[Value, ...]:
    """A derived distribution argument (a mixture (q(z | x1) + q(z | x2)) / 2, a normalised
    exp(f) / Sum(exp(f), z)): its value at each z, which must make a distribution at this
    instance -- every value > 0 and their sum 1 -- or the expression using it is undefined."""
    if not isinstance(d, sympy.Expr) or d.has(*_BINDERS) or not has_free_z(d):
        raise JudgeError(f"{to_text(d)} is not a distribution over z")
    memo: dict = {}
    values = tuple(evaluate(d, inst, j, memo) for j in range(inst.K))
    for j, v in enumerate(values):
        if not _positive(v):
            raise Undefined(f"{to_text(d)} is not a distribution: its value at z = {j} is {show(v)}",
                            not isinstance(v, Rational))
    total = _sum(values)
    if not _is_one(total):
        raise Undefined(f"{to_text(d)} is not a distribution: it sums to {show(total)}, not 1")
    return values


_FREE: dict = {}
"""has_free_z by identity: id(e) -> (e, answer)."""
_REPRESENTATIVES: dict = {}
"""Each expression seen, by equality: the first object equal to it (see `representative`)."""


def representative(e):
    """The first object seen equal to `e` (SymPy's ==: the same tree, so the same value and the same
    work at every instance): a memo keyed by its identity finds the value of a subtree whenever an
    equal one, another object, was evaluated -- the steps of a file repeat their parts as separate
    objects (on the tree, 24,000 of the discrete judge's 62,000 evaluations were of such a part).
    Past MEMO_ENTRIES the table starts afresh (a later equal object then has its own representative:
    a memo misses, never answers wrongly; a memo entry pins the representative it is keyed by)."""
    known = _REPRESENTATIVES.get(e)
    if known is None:
        if len(_REPRESENTATIVES) > MEMO_ENTRIES:
            _REPRESENTATIVES.clear()
        known = _REPRESENTATIVES[e] = e
    return known


_NUMBERS: dict = {}
_NUMBERED = itertools.count()


def expression_number(e) -> int:
    """A number for the expression, the same for equal expressions (SymPy's ==): a memo key that hashes
    at once, where an expression's own hash is a Python call.  Numbers are never given twice, so after
    the table starts afresh (past MEMO_ENTRIES) an expression gets a new number: a memo misses, never
    answers for another expression."""
    known = _NUMBERS.get(e)
    if known is None:
        if len(_NUMBERS) > MEMO_ENTRIES:
            _NUMBERS.clear()
        known = _NUMBERS[e] = next(_NUMBERED)
    return known


_NUMBERS_BY_IDENTITY: dict = {}
"""id(e) -> (e, expression_number(e)): `expression_key`'s look-up by identity, e pinned."""


def expression_key(e) -> int:
    """`expression_number(e)`, looked up first by the identity of `e`: a memo keyed by the expression
    itself compares an equal object of another step (the steps of a file parse their parts afresh)
    with SymPy's ==, a walk of both trees, at every hit -- on the tree's Gaussian files 16,000 such
    walks a run, asked at every quadrature point.  Equal expressions get equal keys, so a memo under it
    finds what it found under the expression (after `expression_number`'s table starts afresh a later
    equal object may get another: a memo misses, never answers for another expression)."""
    known = _NUMBERS_BY_IDENTITY.get(id(e))  # remembered_by_identity's look-up, written out: a hot path
    if known is not None and known[0] is e:
        return known[1]
    return remembered_by_identity(_NUMBERS_BY_IDENTITY, e, expression_number)


def evaluate(e, inst: Instance, k: int | None = None, memo: dict | None = None) -> Value:
    """The value of `e` at the instance, with z bound to k (None: z unbound).

    Raises Undefined where the expression (or any part of it) has no real value.  `memo` remembers
    each compound part's value (or Undefined) by the identity of the part's `representative` and z,
    with the work its evaluation counted: a repeat charges that work again, so what a step counts does
    not depend on which equal subtrees are one object, nor on what an earlier step sharing the memo
    evaluated.  The expression is walked once, into a function (`_compiled`), which does the walk's
    operations in the walk's order at every instance."""
    memo = {} if memo is None else memo
    known = _COMPILED.get(id(e))  # remembered_by_identity's look-up, written out: the hottest path
    if known is not None and known[0] is e:
        return known[1](inst, k, memo)
    return remembered_by_identity(_COMPILED, e, _compiled_part)(inst, k, memo)


Compiled = Callable[[Instance, int | None, dict], Value]
"""An expression made a function of (instance, z, memo): `evaluate` without the walk."""
_COMPILED: dict = {}
"""id(e) -> (e, the function of e's representative): `evaluate`'s look-up, e pinned."""
_BY_REPRESENTATIVE: dict = {}
"""id(r) -> (r, the function made of r), r a `representative`: one function for equal expressions, so that
its memo key (the representative's identity) is the one every equal part finds."""


def _compiled_part(e) -> Compiled:
    """The function of `e`'s representative (made once per representative)."""
    same = representative(e)
    known = _BY_REPRESENTATIVE.get(id(same))
    if known is not None and known[0] is same:
        return known[1]
    return remembered_by_identity(_BY_REPRESENTATIVE, same, _compile)


def _compile(e) -> Compiled:
    """`e` (a representative) as a function of (instance, z, memo) that does what walking it did: a number,
    a parameter's name or a density read at once (no work counted, nothing to remember); a sum, product,
    integer power, log or exp computed from its parts' functions (made now) in the same order; any other
    kind by its handler (which evaluates its own parts).  Every part but those leaves is remembered in the
    memo with its work (`_remembered`).  An expression the judge cannot evaluate (an unknown kind, a
    non-integer exponent, a log with a base) raises its JudgeError when evaluated, as the walk did, never
    here: a part evaluated before it may be undefined first."""
    handler = _HANDLERS.get(type(e))
    if handler is None:
        try:
            handler = _handler(e)
        except JudgeError:
            def unknown(inst, k, memo):
                return _handler(e)  # raises the same JudgeError
            return unknown
    if handler is _eval_rational:
        number = Rational(int(e.p), int(e.q))
        return lambda inst, k, memo: number
    if handler is _eval_symbol:
        name = e.name

        def parameter(inst, k, memo):
            value = inst.values.get(name)
            if value is None:
                raise JudgeError(f"no value for the name {name}")
            return value
        return parameter
    if handler is _eval_density:
        return _density_reader(e)
    compute: Compiled
    if handler is _eval_add or handler is _eval_mul:
        compute = _combined(_sum if handler is _eval_add else _product, tuple(_compiled_part(a) for a in e.args))
    elif handler is _eval_pow and isinstance(e.args[1], sympy.Integer):
        base, n = _compiled_part(e.args[0]), int(e.args[1])

        def compute(inst, k, memo):
            return _power(base(inst, k, memo), n)
    elif handler is _eval_log and len(e.args) == 1:
        argument = _compiled_part(e.args[0])

        def compute(inst, k, memo):
            return _log(argument(inst, k, memo))
    elif handler is _eval_exp:
        argument = _compiled_part(e.args[0])

        def compute(inst, k, memo):
            return _exp(argument(inst, k, memo))
    elif handler is _eval_sum and not isinstance(e.args[1], Draw) and e.args[1] == z:
        body = _compiled_part(e.args[0])

        def compute(inst, k, memo):  # _eval_sum over z
            return _sum([body(inst, j, memo) for j in range(inst.K)])
    elif handler is _eval_expectation:
        distribution, body = e.args[0], _compiled_part(e.args[1])

        def compute(inst, k, memo):  # _eval_expectation
            weights = _distribution(distribution, inst)
            return _sum([_product2(w, body(inst, j, memo)) for j, w in enumerate(weights)])
    else:  # a binder, a limit, or a power or log the handler refuses
        def compute(inst, k, memo):
            return handler(e, inst, k, memo)
    return _remembered(e, has_free_z(e), compute)


def _density_reader(d: Density) -> Compiled:
    """`_eval_density(d, ...)` with what it reads off `d` (its draws, its signature) read now: a density
    without a draw is its instance's scalar, or its table's entry at z (`_density`, the same errors)."""
    draws, _ = _density_form(d)
    if draws:  # q(w) inside Sum(f, w): the state of the draw is in the memo
        return lambda inst, k, memo: _eval_density(d, inst, k, memo)
    sig = _signature(d)
    with_z = z in sig[1] + sig[2]
    # (the instance read last, its scalar, its table or _UNREAD): the judges read one instance at every z in
    # turn, and hashing the signature (its SymPy symbols) at every read cost more than the read
    last: list[tuple[Any, Any, Any]] = [(None, None, _UNREAD)]

    def density(inst, k, memo):
        seen = last[0]
        if seen[0] is inst:
            scalar, table = seen[1], seen[2]
        else:
            scalar, table = inst.scalars.get(sig), _UNREAD
            last[0] = (inst, scalar, table)
        if scalar is not None:
            return scalar
        if not with_z:
            raise JudgeError(f"unknown density {d}")
        if k is None:
            raise JudgeError(f"{d} with z unbound")
        if table is _UNREAD:
            table = inst.tables.get(sig)
            last[0] = (inst, scalar, table)
        if table is None:
            raise JudgeError(f"{d} is not given at this instance (unknown observation, or q not given)")
        return table[k]
    return density


_UNREAD = object()
"""A table not read yet (`_density_reader`)."""


def _combined(combine: Callable[[list], Value], parts: tuple) -> Compiled:
    """combine (`_sum` or `_product`) of the parts' values, computed in order (two and three parts written
    out: most sums and products have them)."""
    if len(parts) == 2:
        first, second = parts
        two = _sum2 if combine is _sum else _product2
        return lambda inst, k, memo: two(first(inst, k, memo), second(inst, k, memo))
    if len(parts) == 3:
        first, second, third = parts
        return lambda inst, k, memo: combine([first(inst, k, memo), second(inst, k, memo), third(inst, k, memo)])
    return lambda inst, k, memo: combine([part(inst, k, memo) for part in parts])


def _remembered(same, free: bool, compute: Compiled) -> Compiled:
    """compute, remembered in the memo under (id(same), z if z is free in it, else None) with the work it
    counted (a hit charges that work again; an Undefined is remembered and raised again; a JudgeError is
    not remembered), `same` pinned in the entry so that its id stays its own while the entry lives."""
    ident = id(same)
    unbound = (ident, None)

    def remembered_part(inst, k, memo):
        key = (ident, k) if free else unbound
        hit = memo.get(key)
        if hit is not None:
            value, cost, _ = hit
            if cost:  # _spend(cost), written out: a hit is the commonest path
                work = _work.counter
                work.spent += cost
                if work.spent > work.limit:
                    raise BudgetExceeded(work.what)
            if isinstance(value, Undefined):
                raise value
            return value
        work = _work.counter
        before = work.spent
        try:
            value = compute(inst, k, memo)
        except Undefined as error:
            memo[key] = (error, work.spent - before, same)
            raise
        memo[key] = (value, work.spent - before, same)
        return value
    return remembered_part


def _eval_density(e, inst, k, memo):
    form = _DENSITY_FORMS.get(id(e))  # remembered_by_identity's look-up, written out: a hot path
    draws, at_z = form[1] if form is not None and form[0] is e else remembered_by_identity(
        _DENSITY_FORMS, e, _density_form)
    if draws:  # q(w) inside Sum(f, w): the same density at the draw's state
        at = memo.get(_DRAWS, {})
        if len(draws) != 1 or draws[0] not in at or at_z is None:
            raise JudgeError(f"{to_text(e)} outside the Sum over its draw")
        return _density(at_z, inst, at[draws[0]])
    return _density(e, inst, k)


_DENSITY_FORMS: dict = {}
"""id(d) -> (d, (the draws d names, d with its one draw replaced by z (None: two draws, or z too)))."""


def _density_form(d: Density) -> tuple:
    """What `_eval_density` reads off a density, made once per density (a pure function of it)."""
    draws = tuple(v for v in (*d.variables, *d.given) if isinstance(v, Draw))
    at_z = None
    if len(draws) == 1 and z not in d.variables and z not in d.given:
        at_z = d.xreplace({draws[0]: z})
    return draws, at_z


_DRAWS = ("draws",)
"""The memo's entry for the states of the draws bound around the expression (Sum(f, w))."""


def _eval_sum(e, inst, k, memo):
    if isinstance(e.args[1], Draw):  # another draw of z: a fresh memo per state (values depend on it)
        draw, outer = e.args[1], memo.get(_DRAWS, {})
        return _sum([evaluate(e.args[0], inst, k, {_DRAWS: {**outer, draw: j}}) for j in range(inst.K)])
    if e.args[1] != z:
        raise JudgeError("Sum over something other than z")
    body = e.args[0]
    return _sum([evaluate(body, inst, j, memo) for j in range(inst.K)])


def _eval_expectation(e, inst, k, memo):
    weights = _distribution(e.args[0], inst)
    body = e.args[1]
    return _sum([_product2(w, evaluate(body, inst, j, memo)) for j, w in enumerate(weights)])


def _cached(inst: Instance, key, compute):
    """KL, H, ELBO or IWAE at the instance, made once per precision (a repeat counts its work again)."""
    return remembered_with_work(inst.binders, key + (PREC,), compute)


def _eval_kl(e, inst, k, memo):
    def compute():
        a, b = (_distribution(d, inst) for d in e.args)
        return _sum([_product2(a[j], _log(_product2(a[j], _power(b[j], -1)))) for j in range(inst.K)])
    return _cached(inst, ("KL",) + tuple(_signature(d) for d in e.args), compute)


def _eval_entropy(e, inst, k, memo):
    def compute():
        a = _distribution(e.args[0], inst)
        return _product2(MINUS_ONE, _sum([_product2(a[j], _log(a[j])) for j in range(inst.K)]))
    return _cached(inst, ("H", _signature(e.args[0])), compute)


def _eval_elbo(e, inst, k, memo):
    observation = e.args[1]
    given = tuple(e.args[2:])  # (theta,): L(q, theta) uses the joint p(x, z | theta)

    def compute():
        a = _distribution(e.args[0], inst)
        joint = inst.tables.get(("p", (observation, z), given))
        if joint is None:
            raise JudgeError(f"ELBO about an unknown observation {observation} (or parameter)")
        return _sum([_product2(a[j], _log(_product2(joint[j], _power(a[j], -1)))) for j in range(inst.K)])
    return _cached(inst, ("ELBO", _signature(e.args[0]), observation) + given, compute)


MAX_IWAE_DRAWS = 20_000
"""IWAE(q, k) is enumerated over its draws up to this many multisets of k states; beyond, the judge cannot say."""


def _eval_iwae(e, inst, k, memo):
    """E over z_1..z_k drawn independently from q of log((1/k) sum_i p(x, z_i) / q(z_i)), by
    enumerating the draws grouped by how often each state occurs (the average and its log only
    depend on the counts c_j; such a draw has probability k! / prod c_j! * prod q_j**c_j)."""
    samples, observation = e.args[1], e.args[2]
    count = evaluate(samples, inst, k, memo)  # k + 1 with the instance's whole number k
    if not isinstance(count, Rational) or count.denominator != 1 or count < 1:
        raise JudgeError(f"IWAE needs a whole number of samples >= 1, not {samples} = {count}")
    draws = int(count)
    if math.comb(draws + inst.K - 1, inst.K - 1) > MAX_IWAE_DRAWS:
        raise JudgeError(f"IWAE with k = {draws} draws from K = {inst.K} states (more than {MAX_IWAE_DRAWS} "
                         f"multisets)")

    def compute():
        a = _distribution(e.args[0], inst)
        joint = inst.tables.get(("p", (observation, z), ()))
        if joint is None:
            raise JudgeError(f"IWAE about an unknown observation {observation}")
        ratios = [_product2(joint[j], _power(a[j], -1)) for j in range(inst.K)]
        exact = all(type(v) is Rational for v in (*a, *ratios))
        scaled = _common_denominator([v for v in ratios if type(v) is Rational]) if exact else ([], 1)
        terms = []
        for draw in itertools.combinations_with_replacement(range(inst.K), draws):
            counts = [draw.count(j) for j in range(inst.K)]
            ways = math.factorial(draws)
            for c in counts:
                ways //= math.factorial(c)
            weight: Value
            mean: Value
            if exact:  # the same exact fractions, reduced once instead of after every product
                weight, mean = _exact_draw(ways, counts, a, scaled, draws)
            else:
                weight = _product([Rational(ways)] + [_power(a[j], c) for j, c in enumerate(counts) if c])
                mean = _product2(_sum([_product2(Rational(c), ratios[j]) for j, c in enumerate(counts) if c]),
                                 Rational(1, draws))
            terms.append(_product2(weight, _log(mean)))
        return _sum(terms)
    return _cached(inst, ("IWAE", _signature(e.args[0]), draws, observation), compute)


def _common_denominator(ratios: list[Rational]) -> tuple[list[int], int]:
    """The fractions as integers over one denominator: ([r_j * d for each j], d), d the least
    common multiple of their denominators (so that a sum of multiples of them is one division)."""
    d = math.lcm(*(r.denominator for r in ratios))
    return [r.numerator * (d // r.denominator) for r in ratios], d


def _exact_draw(ways: int, counts: list[int], q: tuple, scaled: tuple[list[int], int],
                draws: int) -> tuple[Rational, Rational]:
    """(probability, mean weight) of one multiset of IWAE draws when q and the ratios are exact:
    ways * prod q_j**c_j and sum_j c_j ratio_j / draws, in integers (`scaled`: the ratios over
    their common denominator, `_common_denominator`), each reduced once, with the operations the
    general path does counted against the work budget."""
    used = [(j, c) for j, c in enumerate(counts) if c]
    _spend(5 * len(used) + 3)  # as the general path: a product of 1 + n, n powers, n products of 2, a sum of n, 2
    numerator, denominator = ways, 1
    for j, c in used:
        numerator *= q[j].numerator ** c
        denominator *= q[j].denominator ** c
    over, common = scaled
    return Rational(numerator, denominator), Rational(sum(c * over[j] for j, c in used), common * draws)


def _names(e) -> set[str]:
    """The names of the symbols free in `e` (a parameter is known by its name)."""
    return {s.name for s in e.free_symbols}


LIMIT_STEP = Rational(1, 10**60)
"""A limit at a real point is the expression's value there when defined (every expression of
the notation is continuous where it is defined), else its value LIMIT_STEP away, at 700 bits
(a removable singularity such as Renyi's at alpha = 1: the error is about LIMIT_STEP times a
derivative, (log w)**2 / 2 for Renyi's), widened by LIMIT_WIDTH (still far below TOLERANCE)."""
LIMIT_WIDTH = Rational(1, 10**50)
IWAE_LIMIT_MULTISETS = 60
"""The largest IWAE(q, n) the judge enumerates to confirm a limit at k -> oo."""


def _eval_limit(e, inst, k, memo):
    """limit(f, alpha, a): evaluated, not recognised (see LIMIT_STEP).  limit(IWAE(q, k), k, oo):
    log p(x) by Burda et al.'s Theorem 1(b) (finite K, q > 0: bounded weights), confirmed here
    at the largest n enumerable: 0 <= log p(x) - IWAE(q, n) <= Var_q(w) / (2 n m**2), m the
    least weight (log's second-order Taylor bound on [m, max w]); unconfirmed, the judge answers
    IWAE(q, n) itself, which no true identity with log p(x) survives."""
    body, variable, point = e.args
    if point is sympy.oo:
        return _iwae_limit(body, variable, inst, k, memo)
    if not point.is_Rational:
        raise JudgeError(f"a limit at {point}")
    at = Rational(int(point.p), int(point.q))
    values = dict(inst.params)
    if variable.name not in values:
        raise JudgeError(f"limit over {variable.name}, which is not a parameter of this instance")

    moves_q = any(variable.name in _names(expr) for _, expr in inst.fixes)

    def value_at(v: Rational):
        moved = inst.with_params(tuple((n, v if n == variable.name else w) for n, w in inst.params))
        moved = _fixed(moved) if moves_q else moved  # q(z) = alpha*p(z) + ...: q moves with alpha too
        return evaluate(body, moved, k, {_DRAWS: memo[_DRAWS]} if _DRAWS in memo else {})
    try:
        return value_at(at)
    except Undefined:
        pass
    with _precision(RETRY_PRECISIONS[0]):
        for near in (at - LIMIT_STEP, at + LIMIT_STEP):
            try:
                v = _iv(value_at(near))
            except Undefined:
                continue
            return intervals.widened(_ops, v, _iv(LIMIT_WIDTH), PREC)
    raise Undefined(f"{to_text(e)}: undefined on both sides of {at}")


def _iwae_limit(body, variable, inst, k, memo):
    if not (isinstance(body, IWAE) and body.args[1] == variable):
        raise JudgeError(f"a limit at oo of {to_text(body)}")
    if variable.name in _names(body.args[0]) or any(variable.name in _names(expr) for _, expr in inst.fixes):
        raise JudgeError(f"q moves with {variable.name}: no value at {variable.name} = oo to judge by")
    observation = body.args[2]
    a = _distribution(body.args[0], inst)
    joint = inst.tables.get(("p", (observation, z), ()))
    if joint is None:
        raise JudgeError(f"IWAE about an unknown observation {observation}")
    exact = [v for v in (*a, *joint) if isinstance(v, Rational)]
    if len(exact) != 2 * inst.K:
        raise JudgeError("the IWAE limit needs exact q and p(x, z)")
    weights, joints = exact[:inst.K], exact[inst.K:]
    ratios = [joints[j] / weights[j] for j in range(inst.K)]
    evidence = sum(joints, ZERO)
    n = 1
    while math.comb(n + 1 + inst.K - 1, inst.K - 1) <= IWAE_LIMIT_MULTISETS:
        n += 1
    qs, ws, p = [float(v) for v in weights], [float(r) for r in ratios], float(evidence)
    at_n = 0.0  # IWAE(q, n) in floats, by the multinomial counts of the n draws
    for draw in itertools.combinations_with_replacement(range(inst.K), n):
        counts = [draw.count(j) for j in range(inst.K)]
        weight = math.exp(math.lgamma(n + 1) - sum(math.lgamma(c + 1) for c in counts)
                          + sum(c * math.log(qs[j]) for j, c in enumerate(counts) if c))
        at_n += weight * math.log(sum(c * ws[j] for j, c in enumerate(counts)) / n)
    variance = sum(qj * (wj - p) ** 2 for qj, wj in zip(qs, ws))
    gap, bound = math.log(p) - at_n, variance / (2 * n * min(ws) ** 2)
    if -1e-9 <= gap <= bound * (1 + 1e-9) + 1e-9:
        return _log(evidence)
    return Rational(at_n)


def _eval_rational(e, inst, k, memo):
    return Rational(int(e.p), int(e.q))


def _eval_symbol(e, inst, k, memo):
    value = inst.values.get(e.name)
    if value is None:
        raise JudgeError(f"no value for the name {e.name}")
    return value


def _eval_add(e, inst, k, memo):
    return _sum([evaluate(a, inst, k, memo) for a in e.args])


def _eval_mul(e, inst, k, memo):
    return _product([evaluate(a, inst, k, memo) for a in e.args])


def _eval_pow(e, inst, k, memo):
    base, exponent = e.args
    if not isinstance(exponent, sympy.Integer):
        raise JudgeError(f"non-integer exponent in {e}")
    return _power(evaluate(base, inst, k, memo), int(exponent))


def _eval_log(e, inst, k, memo):
    if len(e.args) != 1:
        raise JudgeError("log with a base")
    return _log(evaluate(e.args[0], inst, k, memo))


def _eval_exp(e, inst, k, memo):
    return _exp(evaluate(e.args[0], inst, k, memo))


_KINDS = ((Density, _eval_density), (LatentSum, _eval_sum), (Expectation, _eval_expectation), (KL, _eval_kl),
          (Entropy, _eval_entropy), (ELBO, _eval_elbo), (IWAE, _eval_iwae), (Limit, _eval_limit),
          (sympy.Rational, _eval_rational),  # Integer, Rational, Zero, One, Half, NegativeOne
          (sympy.Symbol, _eval_symbol),  # a parameter
          (sympy.Add, _eval_add), (sympy.Mul, _eval_mul), (sympy.Pow, _eval_pow), (sympy.log, _eval_log),
          (sympy.exp, _eval_exp))
_HANDLERS: dict = {}


def _handler(e):
    for kind, handler in _KINDS:
        if isinstance(e, kind):
            _HANDLERS[type(e)] = handler
            return handler
    raise JudgeError(f"the judge does not know {type(e).__name__}: {e}")


# ----------------------------------------------------------------------------- relations


@dataclass(frozen=True)
class Outcome:
    """One instance (and one z when the claim is pointwise): both sides and whether it held.

    `shown`: the two sides, each its text or, where the outcome holds, its value, shown (`show`) when
    `lhs` or `rhs` is first asked for: most outcomes hold and are never shown (showing both sides of
    every instance was a twentieth of the second opinion's time).  `made_in`: the interval backend and
    precision the values were computed in, so that they are shown in those after the judge has moved on
    (red team rt14: described after a ``use_backend`` block, a value of one backend met the other's)."""

    instance: Instance
    k: int | None
    shown: tuple
    holds: bool
    reason: str = ""
    made_in: tuple[intervals.Backend, int] | None = field(default=None, compare=False, repr=False)

    @property
    def lhs(self) -> str:
        return _text(self.shown[0], self.made_in)

    @property
    def rhs(self) -> str:
        return _text(self.shown[1], self.made_in)

    def describe(self) -> str:
        at = f" at z = {self.k}" if self.k is not None else ""
        verdict = "holds" if self.holds else f"FAILS: {self.reason}"
        return f"{self.instance.describe()}{at}: lhs = {self.lhs}, rhs = {self.rhs}: {verdict}"


def outcome_of(inst: Any, at: Any, lhs: sympy.Expr, rel: str, rhs: sympy.Expr,
               evaluate: Callable[..., Value], *args: Any, refine: bool = False,
               memo_at: int | None = None, tolerance: Rational = QUADRATURE_TOLERANCE) -> Outcome:
    """Both sides evaluated by the family's ``evaluate(side, *args)`` at one instance and point,
    and compared: one Outcome for every family's judge (undefined on either side fails it).
    `refine` (families whose values are outward-rounded intervals): a strict relation the
    tolerance cannot confirm is re-evaluated at RETRY_PRECISIONS (`strict_refined`); `memo_at`:
    the position in `args` of a memo of values at the current precision, emptied for that;
    `tolerance`: EXACT for the families whose values are enclosures (see `relation_holds`)."""
    values, texts, undefined = [], [], []
    for side in (lhs, rhs):
        try:
            v = evaluate(side, *args)
            values.append(v)
            texts.append(v)
        except Undefined as error:
            texts.append(f"undefined ({error})")
            undefined.append(str(error))
    if undefined:
        return Outcome(inst, at, (_text(texts[0]), _text(texts[1])), False, "undefined: " + "; ".join(undefined))
    try:
        ok, why = relation_holds(rel, values[0], values[1], tolerance)
    except JudgeError:  # an enclosure too wide to decide: narrower at higher precision, else undecided
        if not refine:
            raise
        ok, why = decided_at_higher_precision(rel, lhs, rhs, evaluate, args, memo_at, tolerance)
    if not ok and refine and rel in ("<", ">"):
        ok, why = strict_refined(rel, lhs, rhs, evaluate, args, why, memo_at)
    if not ok:
        return Outcome(inst, at, (show(values[0]), show(values[1])), ok, why)
    return Outcome(inst, at, tuple(values), ok, why, (_ops, PREC))


def _text(shown, made_in: tuple[intervals.Backend, int] | None = None) -> str:
    """A side of an Outcome as text: its text, or its value shown -- in the backend and precision it was
    made in (`made_in`; None: the current ones)."""
    if type(shown) is str:
        return shown
    if made_in is None or (made_in[0] is _ops and made_in[1] == PREC):
        return show(shown)
    return _show(shown, *made_in)


def decided_at_higher_precision(rel: str, lhs: sympy.Expr, rhs: sympy.Expr, evaluate: Callable[..., Value],
                                args: tuple, memo_at: int | None, tolerance: Rational) -> tuple[bool, str]:
    """`lhs rel rhs` whose difference enclosure was too wide to decide (`_decisive`), decided again
    at each of RETRY_PRECISIONS; still too wide at the last one: JudgeError (undecided)."""
    wide = JudgeError("no precision to retry at")
    for bits in RETRY_PRECISIONS:
        try:
            return _decided_at(bits, rel, (lhs, rhs), evaluate, args, memo_at, tolerance)
        except JudgeError as error:
            wide = error
    raise wide


def _decided_at(bits: int, rel: str, sides: tuple, evaluate: Callable[..., Value], args: tuple,
                memo_at: int | None, tolerance: Rational) -> tuple[bool, str]:
    """`relation_holds` with both sides evaluated afresh at `bits` (a memo in `args` replaced)."""
    with _precision(bits):
        if memo_at is not None:
            args = (*args[:memo_at], {}, *args[memo_at + 1:])
        try:
            values = [evaluate(side, *args) for side in sides]
        except Undefined as error:
            return False, f"undefined at {bits} bits: {error}"
        return relation_holds(rel, values[0], values[1], tolerance)


def strict_refined(rel: str, lhs: sympy.Expr, rhs: sympy.Expr, evaluate: Callable[..., Value], args: tuple,
                   why: str, memo_at: int | None = None) -> tuple[bool, str]:
    """A strict `lhs rel rhs` whose difference is within the tolerance of 0 (a KL of 5.6e-62 at
    w = 1e-30): decided by the sign of the difference *interval* at higher precision.  The
    intervals are outward-rounded enclosures, so a lower end > 0 proves the difference positive;
    sides that are exactly equal give an interval containing 0 at every precision, and a sign
    not resolved at the last precision stays a failure -- never agreement with a false claim."""
    for bits in RETRY_PRECISIONS:
        with _precision(bits):
            fresh = args if memo_at is None else (*args[:memo_at], {}, *args[memo_at + 1:])  # lower precision
            try:
                a, b = evaluate(lhs, *fresh), evaluate(rhs, *fresh)
            except Undefined as error:
                return False, f"undefined at {bits} bits: {error}"
            if isinstance(a, Rational) and isinstance(b, Rational):
                d = a - b
                ok = d > 0 if rel == ">" else d < 0
                return ok, "" if ok else f"lhs - rhs = {show(d)} (exact)"
            d = _ops.sub(_iv(a), _iv(b), PREC)
            if _ops.lower_positive(d) or _ops.upper_negative(d):  # the sign is resolved
                ok = _ops.lower_positive(d) if rel == ">" else _ops.upper_negative(d)
                return ok, "" if ok else f"lhs - rhs = {show(d)} (at {int(bits * 0.30103)} digits)"
    return False, f"{why}; the sign of lhs - rhs is not resolved at {int(RETRY_PRECISIONS[-1] * 0.30103)} digits"


_EXACT_TESTS: dict[str, Callable[[Rational], bool]] = {
    "=": lambda d: d == 0, ">=": lambda d: d >= 0, "<=": lambda d: d <= 0, ">": lambda d: d > 0, "<": lambda d: d < 0}
"""Whether an exact difference lhs - rhs satisfies the relation (only the relation asked is tested)."""
_INTERVAL_TESTS: dict[str, Callable[[tuple, tuple], bool]] = {
    "=": lambda d, tol: _within(d, tol), ">=": lambda d, tol: mpf_ge(d[1], mpf_neg(tol)),
    "<=": lambda d, tol: mpf_le(d[0], tol), ">": lambda d, tol: not mpf_le(d[0], tol),
    "<": lambda d, tol: not mpf_ge(d[1], mpf_neg(tol))}
"""Whether a difference interval satisfies the relation within the tolerance `tol`."""


def _own(v: Value) -> Value:
    """A caller's number (an int, a Fraction) as the judges' exact type; a judge's value as it is."""
    return v if type(v) is Rational or not isinstance(v, (int, Fraction)) else rational(v)


def relation_holds(rel: str, a: Value, b: Value, tolerance: Rational = TOLERANCE) -> tuple[bool, str]:
    """Decide `a rel b`: exactly for two fractions; for intervals, a difference within `tolerance` of 0
    counts as 0 (EXACT: the interval itself decides).  The tolerance is absolute: it is scaled by the
    interval 1 + [0, max|side|] and that product's lower end taken, so large sides never loosen it (sides
    near 1e42 are then decided at the retry precisions; docs/05)."""
    a, b = _own(a), _own(b)
    if isinstance(a, Rational) and isinstance(b, Rational):
        d = a - b
        ok = _EXACT_TESTS[rel](d)
        return ok, "" if ok else f"lhs - rhs = {show(d)} (exact)"
    A, B = _iv(a), _iv(b)
    difference = _ops.sub(A, B, PREC)
    if _clearly_holds(rel, difference, tolerance):
        return True, ""
    return _decided_from_ends(rel, A, B, difference, tolerance)


def _decided_from_ends(rel: str, A, B, difference, tolerance: Rational) -> tuple[bool, str]:
    """`relation_holds` for two intervals and their difference, from their ends as raw mpfs (the long
    way: every relation, its tolerance scaled by the sides, `_decisive`)."""
    span = _ops.ends(difference)  # (lo, hi) raw mpfs, rounded outward: the tests below read them
    big_a, big_b = mpi_abs(_ops.ends(A), PREC)[1], mpi_abs(_ops.ends(B), PREC)[1]
    scale = mpi_add(_ONE, (fzero, big_a if mpf_ge(big_a, big_b) else big_b), PREC)
    if tolerance == 0:
        ok = _INTERVAL_TESTS[rel](span, fzero)
        _decisive(rel, span, fzero, mpi_mul(_tolerance_interval(TOLERANCE, PREC), scale, PREC)[0], ok)
        return ok, "" if ok else f"lhs - rhs = {show(difference)} (an enclosure at {_digits()} digits)"
    tol = mpi_mul(_tolerance_interval(tolerance, PREC), scale, PREC)[0]  # the lower end: never looser
    ok = _INTERVAL_TESTS[rel](span, tol)
    _decisive(rel, span, tol, tol, ok)
    return ok, "" if ok else f"lhs - rhs = {show(difference)} (tolerance {show(_ops.from_ends(tol, tol))})"


CLEARLY_SMALL = -170
"""A difference all of whose points lie within 2**CLEARLY_SMALL (6.7e-52) of 0 is within every tolerance
of `relation_holds` (EXACT's resolution, 1e-40 times its scale, and QUADRATURE_TOLERANCE, 1e-50 times
its scale, the scale being >= 1) and is decisive there."""
_CLEARLY_SMALL_TOLERANCE = Rational(1, 2**169)
"""Tolerances below it (twice 2**CLEARLY_SMALL) are decided the long way only."""


def _clearly_holds(rel: str, difference, tolerance: Rational) -> bool:
    """True only where `relation_holds` says (True, "") from the difference interval: the relation holds,
    and decisively, by a sign test or a bound on the interval the backend reads at once (no ends
    converted, no scale or tolerance formed: those cost about 50 us a comparison, and most comparisons
    of true steps are clear-cut).  False means: decide the long way (the same answer either way)."""
    if tolerance and tolerance < _CLEARLY_SMALL_TOLERANCE:
        return False
    ops = _ops
    if rel == "=":  # EXACT: the interval must contain 0; a tolerance: within it is enough
        return ops.small(difference, CLEARLY_SMALL) and (bool(tolerance) or _contains_zero(difference))
    if rel == ">=":
        return ops.lower_nonnegative(difference)
    if rel == "<=":
        return ops.upper_nonpositive(difference)
    if tolerance:  # a strict relation under a tolerance: beyond it, which needs its scale
        return False
    return ops.lower_positive(difference) if rel == ">" else rel == "<" and ops.upper_negative(difference)


def _decisive(rel: str, d: tuple, tol, resolution, ok: bool) -> None:
    """A relation that holds only because the difference interval `d` overlaps where it holds must
    not reach far into where it fails: `=` needs all of d within `tol` + `resolution` of 0, `>=`
    (`<=`) its lower (upper) end no further below (above) -`tol` than `resolution`.  Otherwise the
    enclosure is too wide to tell (red team rt7: [-3.8e81, 5.7e81] around a true value 0.64, "=" to
    1e60 accepted): JudgeError, undecided, never agreement."""
    if not ok or rel in ("<", ">"):
        return
    reach = mpf_add(tol, resolution, PREC)
    low_ok = mpf_ge(d[0], mpf_neg(reach))
    high_ok = mpf_le(d[1], reach)
    if (rel == "=" and low_ok and high_ok) or (rel == ">=" and low_ok) or (rel == "<=" and high_ok):
        return
    low, high = (show(_ops.from_ends(end, end)) for end in d)  # the ends, not a midpoint read as a disagreement
    raise JudgeError(f"lhs - rhs lies somewhere in [{low}, {high}]: an enclosure too wide to decide {rel!r} "
                     f"at {_digits()} digits")


@cache
def _tolerance_interval(tolerance: Rational, bits: int) -> tuple:
    return (from_rational(*parts(tolerance), bits, round_floor),
            from_rational(*parts(tolerance), bits, round_ceiling))


def _evaluate_carefully(e, inst: Instance, k: int | None, memo: dict) -> Value:
    """evaluate(), re-deciding an interval "0 to 60 digits" at higher precision."""
    try:
        return evaluate(e, inst, k, memo)
    except Undefined as error:
        if not error.near_zero:
            raise
        last = error
    for bits in RETRY_PRECISIONS:
        with _precision(bits):
            try:
                return evaluate(e, inst, k, {})
            except Undefined as error:
                if not error.near_zero:
                    raise
                last = error
    raise last


def sign_of_difference(a: Value, b: Value) -> int | None:
    """1, 0 or -1 for a - b: exact for two fractions, beyond the tolerance otherwise (None: within
    the tolerance of equal, not decided)."""
    a, b = _own(a), _own(b)
    if isinstance(a, Rational) and isinstance(b, Rational):
        return (a > b) - (a < b)
    if relation_holds(">", a, b)[0]:
        return 1
    if relation_holds("<", a, b)[0]:
        return -1
    return None


def signs_verdict(rel: str, signs: list[int | None]) -> bool | None:
    """A premise `lhs rel rhs` from the signs of lhs - rhs at each of its points: ``!=`` holds when
    some sign is shown non-zero, an inequality when every sign is one it allows; False when one is
    shown to break it, None when a sign is not decided."""
    if rel == "!=":
        if any(s not in (None, 0) for s in signs):
            return True
        return False if all(s == 0 for s in signs) else None
    ok = {">=": (0, 1), ">": (1,), "<=": (0, -1), "<": (-1,)}[rel]
    if any(s is not None and s not in ok for s in signs):
        return False
    return None if any(s is None for s in signs) else True


def premise_holds(lhs, rel: str, rhs, inst: Instance, memo: dict | None = None) -> bool | None:
    """Whether the premise `lhs rel rhs` holds at the instance: True when shown (exactly, or
    beyond the tolerance), False when shown to fail or undefined, None when not decided.
    ``a != b``: the sides differ at some z (two distributions are different distributions);
    an inequality with a free z: at every z."""
    memo = {} if memo is None else memo
    pointwise = has_free_z(lhs) or has_free_z(rhs)
    signs: list[int | None] = []
    for k in (range(inst.K) if pointwise else (None,)):
        try:
            a = _evaluate_carefully(lhs, inst, k, memo)
            b = _evaluate_carefully(rhs, inst, k, memo)
        except Undefined:
            return False
        signs.append(sign_of_difference(a, b))
    return signs_verdict(rel, signs)


@dataclass
class Judgement:
    """The outcomes of one relation at the instances judged so far."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.holds]

    @property
    def holds(self) -> bool:
        return not self.failures


def judge(lhs, rel: str, rhs, cases: list[Instance], stop_at_first: bool = True,
          memos: dict | None = None) -> Judgement:
    """Evaluate `lhs rel rhs` on every instance (every z, when a side has a free z).

    `memos` (instance index -> memo) may be shared between the steps of one chain: the
    right side of a step is the left side of the next."""
    memos = {} if memos is None else memos
    if rel not in ("=", "<=", ">=", "<", ">"):
        raise JudgeError(f"unknown relation {rel!r}")
    pointwise = has_free_z(lhs) or has_free_z(rhs)
    result = Judgement()
    for index, inst in enumerate(cases):
        memo = memos.setdefault(index, {})
        for k in (range(inst.K) if pointwise else (None,)):
            outcome = outcome_of(inst, k, lhs, rel, rhs, _evaluate_carefully, inst, k, memo, refine=True, memo_at=2,
                                 tolerance=EXACT)
            result.outcomes.append(outcome)
            if stop_at_first and not outcome.holds:
                return result
    return result


def _parameter_conditions(e, names: set[str], out: list) -> list:
    """(what, subterm) for every divisor, log argument and base of a power with a parameter exponent
    (``b**a``, exp(a*log(b)): named as the power the author wrote, rt43 F5) of e that mentions a parameter."""
    if isinstance(e, Density) or not isinstance(e, sympy.Basic):
        return out
    term = None
    inside = e.args
    if isinstance(e, sympy.Pow) and isinstance(e.exp, sympy.Integer) and e.exp < 0:
        term = ("divisor", e.base)
    elif is_real_power(e) and (parts := e.parts) is not None:
        term, inside = ("base of the power", parts[0]), parts
    elif isinstance(e, sympy.log):
        term = ("log argument", e.args[0])
    if term and any(isinstance(a, sympy.Symbol) and a.name in names for a in sympy.preorder_traversal(term[1])):
        out.append(term)
    for a in inside:
        _parameter_conditions(a, names, out)
    return out


def _sign(v) -> int | None:
    if isinstance(v, Rational):
        return (v > 0) - (v < 0)
    if _ops.lower_positive(v):
        return 1
    if _ops.upper_negative(v):
        return -1
    return None  # contains 0 to the working precision: no claim


def sign_change(lhs, rhs, cases: list[Instance], params: tuple[tuple[str, str], ...]) -> Outcome | None:
    """A divisor (or log argument) with a parameter in it that has opposite signs at two
    samples of the parameter, the model and the other parameters unchanged: it is 0 (or
    undefined) somewhere in between, inside the interval -- the step is undefined there.
    This finds the zeros no rational sample hits (beta**2 - 2 at sqrt(2)); every subterm
    of the vocabulary is continuous where it is defined."""
    names = [name for name, _ in params]
    terms = list(dict.fromkeys(_parameter_conditions(lhs, set(names), []) + _parameter_conditions(rhs, set(names), [])))
    if not terms:
        return None
    for name in names:
        groups: dict = {}
        for inst in cases:
            others = tuple((n, v) for n, v in inst.params if n != name)
            groups.setdefault((_model_key(inst), others), []).append(inst)
        for group in groups.values():
            if len(group) < 2:
                continue
            group = sorted(group, key=lambda i: i.values[name])
            for what, term in terms:
                for k in (range(group[0].K) if has_free_z(term) else (None,)):
                    previous = None
                    for inst in group:
                        try:
                            sign = _sign(evaluate(term, inst, k, {}))
                        except Undefined:
                            sign = None
                        if sign and previous and previous[0] == -sign:
                            a, b = previous[1].values[name], inst.values[name]
                            reason = (f"undefined: the {what} {term} changes sign between {name} = {show(a)} "
                                      f"and {name} = {show(b)}, so it is 0 (or undefined) in between")
                            return Outcome(inst, k, ("-", "-"), False, reason)
                        previous = (sign, inst) if sign else None
    return None


def value_table(e, cases: list[Instance]) -> list[tuple[Instance, int | None, str]]:
    """Per instance (and z): the value of `e`, or "undefined (reason)"."""
    out = []
    for inst in cases:
        for k in (range(inst.K) if has_free_z(e) else (None,)):
            try:
                out.append((inst, k, show(_evaluate_carefully(e, inst, k, {}))))
            except Undefined as error:
                out.append((inst, k, f"undefined ({error})"))
    return out


__all__ = ["product_instances", "with_assumptions", "MAX_IWAE_DRAWS",
           "Instance", "Undefined", "JudgeError", "Judgement", "Outcome", "instances", "instances_any", "assumed",
           "landmarks", "with_landmarks", "sign_change",
           "parameter_samples", "parameter_contains", "ANY_K",
           "evaluate", "judge", "relation_holds", "sign_of_difference", "signs_verdict",
           "value_table", "has_free_z", "show", "TOLERANCE", "EXACT", "QUADRATURE_TOLERANCE", "DIGITS"]

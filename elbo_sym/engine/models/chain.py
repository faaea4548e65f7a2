"""Two latent layers (``latents = ["z1", "z2"]``, ``model = "chain"``): a Markov chain
z2 -> z1 -> x with K states per layer, and a variational chain x -> z1 -> z2.

The model is p(z2) p(z1 | z2) p(x | z1); the variational family is q(z1 | x) q(z2 | z1)
(q is always conditioned on x, written or not: q(z2 | z1) = q(z2 | z1, x)).  One positive
symbol per probability, in blocks:

====================  ==========================  ==========
block                 symbols                     kind
====================  ==========================  ==========
``prior``             ``pi_k``  = p(z2 = k)        simplex
``transition[k]``     ``t_k_j`` = p(z1 = j | z2 = k)  simplex (one per k)
``likelihood``        ``l_j``   = p(x | z1 = j)    in (0, 1]
``q``                 ``q_j``   = q(z1 = j | x)    simplex
``q2[j]``             ``r_j_k`` = q(z2 = k | z1 = j)  simplex (one per j)
====================  ==========================  ==========

Every other density is what Bayes' rule and marginalisation make of these: ``p(A | B) =
P(A, B) / P(B)`` where ``P(S)`` sums the joint over the latent variables not in S (and
leaves out p(x | z1) when x is not in S).  So ``q(z2 | x) = sum_j q_j r_j_k``, the reverse
posterior ``q(z1 | z2, x) = q(z1 | x) q(z2 | z1) / q(z2 | x)``, ``p(z1, z2 | x) = p(x, z1,
z2) / p(x)``.  Each divisor is a sum of products of positive symbols; it is also handed to
the definedness check (``divisors``) like every other divisor.

Binders: ``Sum(f, z1)``, ``Sum(f, z2)`` bind one layer; ``E(d, f)``, ``KL(d, e)``,
``H(d)`` and ``ELBO(d)`` bind the variables of ``d`` (``E(q(z1, z2 | x), f)`` both,
``E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))`` z2 outside and z1 inside).  A point of
the model is a full assignment (z1, z2); the engine's sums over ``points`` are sums over
the joint latent space (``LatentSum(f, z)``, which a file cannot write here, means that).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from sympy import Add, Expr, Mul, Pow, Rational, S, Symbol, log

from elbo_sym.engine.models.base import (
    PARAMETER,
    SIMPLEX,
    UNIT,
    Block,
    BlockInstances,
    Distribution,
    Instance,
    ModelSpec,
)
from elbo_sym.engine.models.discrete import UnfoldError, _log, free_latents
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    Entropy,
    Expectation,
    LatentSum,
    distribution_variables,
    is_derived,
    to_text,
    z,
    z1,
    z2,
)

LAYERS = (z1, z2)
"""The latent layers, in the order of an assignment (z1, z2)."""
Point = tuple  # (index of z1 or None, index of z2 or None)
_UNBOUND: Point = (None, None)


@dataclass(frozen=True, init=False)
class ChainModel(BlockInstances):
    """The two-layer chain with K states per layer (``ChainModel(2)``, or from a file's spec)."""

    K: int
    spec: ModelSpec

    def __init__(self, K: int = 2, spec: ModelSpec | None = None) -> None:
        if not isinstance(K, int) or isinstance(K, bool) or K < 2:
            raise ValueError(f"the two-layer chain needs an explicit K >= 2 states per layer, got {K!r}")
        spec = spec if spec is not None else ModelSpec("chain", K)
        if len(spec.data) != 1:
            raise ValueError("the two-layer chain has one observation")
        if spec.assumptions:
            raise ValueError("the two-layer chain takes no assumption (q is the free chain q(z1 | x) q(z2 | z1))")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "spec", spec)

    # -- symbols --------------------------------------------------------------------

    @property
    def observations(self) -> tuple[str, ...]:
        return self.spec.data

    @cached_property
    def observation(self) -> Symbol:
        name = self.spec.data[0]
        return Symbol(name)

    @cached_property
    def prior(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"pi_{k}", positive=True) for k in range(self.K))

    @cached_property
    def transition(self) -> tuple[tuple[Symbol, ...], ...]:
        """transition[k][j] = p(z1 = j | z2 = k)."""
        return tuple(tuple(Symbol(f"t_{k}_{j}", positive=True) for j in range(self.K)) for k in range(self.K))

    @cached_property
    def likelihood(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"l_{j}", positive=True) for j in range(self.K))

    @cached_property
    def q_symbols(self) -> tuple[Symbol, ...]:
        """q(z1 = j | x)."""
        return tuple(Symbol(f"q_{j}", positive=True) for j in range(self.K))

    @cached_property
    def reverse(self) -> tuple[tuple[Symbol, ...], ...]:
        """reverse[j][k] = q(z2 = k | z1 = j)."""
        return tuple(tuple(Symbol(f"r_{j}_{k}", positive=True) for k in range(self.K)) for j in range(self.K))

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """No assumption fixes q here (the loader refuses one)."""
        return {}

    def variational(self, observation: str) -> Density:
        """q over both layers, given x: q(z1, z2 | x)."""
        return Density("q", LAYERS, (self.observation,))

    def distributions(self) -> tuple[Distribution, ...]:
        """Every layer of both chains and the derived marginals p(z1), q(z2 | x) (over one layer:
        their values at the points with the other layer 0)."""
        K, x = range(self.K), self.spec.data[0]
        out = [Distribution("p(z2)", self.prior)]
        out += [Distribution(f"p(z1 | z2 = {k})", self.transition[k]) for k in K]
        out.append(Distribution(f"q(z1 | {x})", self.q_symbols))
        out += [Distribution(f"q(z2 | z1 = {j})", self.reverse[j]) for j in K]
        out += [Distribution("p(z1)", self._p_z1), Distribution(f"q(z2 | {x})", self._q_z2)]
        return tuple(out)


    # -- the Model interface ----------------------------------------------------------

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        x = self.spec.data[0]
        out = [Block("prior", "p(z2)", SIMPLEX, self.prior)]
        out += [Block(f"transition[{k}]", f"p(z1 | z2 = {k})", SIMPLEX, self.transition[k]) for k in range(self.K)]
        out.append(Block("likelihood", f"p({x} | z1)", UNIT, self.likelihood))
        out.append(Block("q", f"q(z1 | {x})", SIMPLEX, self.q_symbols))
        out += [Block(f"q2[{j}]", f"q(z2 | z1 = {j})", SIMPLEX, self.reverse[j]) for j in range(self.K)]
        for p in self.spec.params:
            out.append(Block(p.name, p.name, PARAMETER, (self.params[p.name],), p.interval))
        return tuple(out)






    @cached_property
    def points(self) -> tuple[Point, ...]:
        """Every assignment (z1, z2) of the two layers."""
        return tuple(itertools.product(range(self.K), repeat=2))

    def latent_sum(self, values) -> Expr:
        """Sum over the joint latent space of one value per point."""
        return Add(*values)

    def describe(self) -> str:
        return f"every two-layer chain with {self.K} states per layer"

    def domain_text(self) -> str:
        x = self.spec.data[0]
        parts = [f"two latent layers z1, z2 with K = {self.K} states each", "p(z2) > 0 with sum 1",
                 "p(z1 | z2 = k) > 0 with sum 1 for each k", f"p({x} | z1) in (0, 1]", f"q(z1 | {x}) > 0 with sum 1",
                 "q(z2 | z1 = j) > 0 with sum 1 for each j"]
        return "; ".join(parts + [p.describe() for p in self.spec.params])

    def explicit(self, K: int) -> ChainModel:
        if K != self.K:
            raise UnfoldError(f"an instance with {K} states in a chain with K = {self.K}")
        return self




    def special_instances(self, base: Instance) -> list[Instance]:
        """The tight case (q is the exact posterior: q(z1 | x) = p(z1 | x), q(z2 | z1) = p(z2 | z1),
        which is p(z2 | z1, x) in a Markov chain) and q = the prior's own chain."""
        K = self.K
        prior = base["prior"]
        transition = [base[f"transition[{k}]"] for k in range(K)]
        likelihood = base["likelihood"]
        marginal = [sum((prior[k] * transition[k][j] for k in range(K)), Fraction(0)) for j in range(K)]
        evidence = sum((marginal[j] * likelihood[j] for j in range(K)), Fraction(0))
        backward = [[prior[k] * transition[k][j] / marginal[j] for k in range(K)] for j in range(K)]
        out = []
        for q1, source in (([marginal[j] * likelihood[j] / evidence for j in range(K)], "tight case q = p(z1, z2 | x)"),
                           (marginal, "q = p(z1) p(z2 | z1)")):
            instance = base.with_block("q", q1)
            for j in range(K):
                instance = instance.with_block(f"q2[{j}]", backward[j])
            out.append(Instance(instance.blocks, source))
        return out

    # -- densities ----------------------------------------------------------------------

    def _split(self, d: Density) -> tuple[frozenset, frozenset]:
        known = {*LAYERS, self.observation}
        for v in d.variables + d.given:
            if v not in known:
                raise UnfoldError(f"'{v}' is not a variable of the two-layer chain (z1, z2, "
                                  f"{self.observation})")
        return frozenset(d.variables), frozenset(d.given)

    @staticmethod
    def _index(point: Point | None, layer: Symbol, d: Density) -> int:
        j = None if point is None else point[LAYERS.index(layer)]
        if j is None:
            raise UnfoldError(f"{d.name}(...) mentions {layer} outside a Sum, E, KL, H or ELBO that binds it")
        return j

    def _joint_p(self, over: frozenset, point: Point | None, d: Density) -> Expr:
        """P(S): the model's joint over S (x, z1, z2), the other latent variables summed out."""
        K, pi, t, ell = self.K, self.prior, self.transition, self.likelihood
        has_x = self.observation in over
        if z1 in over:
            j = self._index(point, z1, d)
            if z2 in over:
                core = pi[self._index(point, z2, d)] * t[self._index(point, z2, d)][j]
            else:
                core = self._p_z1[j]
            return core * ell[j] if has_x else core
        if not has_x:  # z1 and x summed out: each conditional sums to 1
            return pi[self._index(point, z2, d)] if z2 in over else S.One
        if z2 in over:
            k = self._index(point, z2, d)
            return pi[k] * Add(*(t[k][j] * ell[j] for j in range(K)))
        return self.evidence

    def _joint_q(self, over: frozenset, point: Point | None, d: Density) -> Expr:
        """Q(S): the variational chain's joint over the latent variables in S (given x)."""
        if z2 not in over:
            return self.q_symbols[self._index(point, z1, d)] if z1 in over else S.One
        k = self._index(point, z2, d)
        if z1 in over:
            j = self._index(point, z1, d)
            return self.q_symbols[j] * self.reverse[j][k]
        return self._q_z2[k]

    @cached_property
    def _p_z1(self) -> tuple[Expr, ...]:
        """p(z1 = j) = sum_k p(z2 = k) p(z1 = j | z2 = k)."""
        return tuple(Add(*(self.prior[k] * self.transition[k][j] for k in range(self.K))) for j in range(self.K))

    @cached_property
    def _q_z2(self) -> tuple[Expr, ...]:
        """q(z2 = k | x) = sum_j q(z1 = j | x) q(z2 = k | z1 = j)."""
        return tuple(Add(*(self.q_symbols[j] * self.reverse[j][k] for j in range(self.K))) for k in range(self.K))

    @cached_property
    def evidence(self) -> Expr:
        """p(x) = sum over z1, z2 of p(z2) p(z1 | z2) p(x | z1)."""
        K = self.K
        return Add(*(self.prior[k] * self.transition[k][j] * self.likelihood[j] for k in range(K) for j in range(K)))

    def _parts(self, d: Density, point: Point | None) -> tuple[Expr, Expr]:
        """(numerator, divisor) of a density: P(A, B) and P(B)."""
        if d.name not in ("p", "q"):
            raise UnfoldError(f"no density named {d.name} in the two-layer chain")
        variables, given = self._split(d)
        if not variables:
            raise UnfoldError(f"{d.name}(...) needs a variable before the bar")
        x = self.observation
        if d.name == "q":
            if x in variables:
                raise UnfoldError("q is a distribution over the latent variables")
            variables, given = variables, given - {x}
            joint = self._joint_q
        else:
            joint = self._joint_p
        # the chain's own factors (Markov: the parent alone decides)
        if d.name == "p" and variables == {x} and z1 in given:
            return self.likelihood[self._index(point, z1, d)], S.One
        if d.name == "p" and variables == {z1} and given == {z2}:
            return self.transition[self._index(point, z2, d)][self._index(point, z1, d)], S.One
        if d.name == "q" and variables == {z2} and z1 in given:
            return self.reverse[self._index(point, z1, d)][self._index(point, z2, d)], S.One
        return joint(variables | given, point, d), joint(given, point, d)

    def density(self, d: Density, point: Point | None) -> Expr:
        numerator, divisor = self._parts(d, point)
        return numerator if divisor == 1 else Mul(numerator, Pow(divisor, -1))

    def divisors(self, d: Density, point: Point | None) -> tuple[Expr, ...]:
        """The divisors a density's value has (definedness obligations: each != 0)."""
        _, divisor = self._parts(d, point)
        return () if divisor.is_Number else (divisor,)

    # -- unfolding -------------------------------------------------------------------------

    def _assignments(self, bound: tuple[Symbol, ...], point: Point | None):
        """Every point that extends `point` by values of the variables `bound`."""
        base = list(point if point is not None else _UNBOUND)
        slots = [LAYERS.index(v) for v in dict.fromkeys(bound)]
        for values in itertools.product(range(self.K), repeat=len(slots)):
            for slot, value in zip(slots, values):
                base[slot] = value
            yield tuple(base)

    def weight(self, d: Expr, point: Point | None) -> Expr:
        """The value at `point` of a distribution argument of E, KL, H, ELBO: a density, or a
        derived distribution (a mean-field product q(z1 | x) * q(z2 | x), a mixture) unfolded."""
        return self.density(d, point) if isinstance(d, Density) else self.unfold(d, point)

    def _bound(self, d: Expr) -> tuple[Symbol, ...]:
        if is_derived(d):
            bound = tuple(v for v in distribution_variables(d) if v in LAYERS)
            if not bound or len(bound) != len(distribution_variables(d)):
                raise UnfoldError(f"{to_text(d)} is not a distribution over latent variables (z1, z2)")
            return bound
        if not isinstance(d, Density):
            raise UnfoldError("expected a distribution over latent variables")
        bound = tuple(v for v in d.variables if v in LAYERS)
        if not bound or len(bound) != len(d.variables):
            raise UnfoldError(f"{d.name}(...) is not a distribution over latent variables (z1, z2)")
        return bound

    def unfold(self, e: Expr, point: Point | None = None) -> Expr:
        """Replace notation by its definition in the model's parameters (free layers bound by `point`)."""
        free = free_latents(e)
        if point is None or not free:
            key_point: Point = _UNBOUND
        else:
            key_point = tuple(v if layer in free else None for layer, v in zip(LAYERS, point))
        key = (e, key_point)
        known = self._unfold_memo.get(key)
        if known is None:
            known = self._unfold_memo[key] = self._unfold(e, key_point)
        return known

    @cached_property
    def _unfold_memo(self) -> dict:
        return {}

    def _unfold(self, e: Expr, point: Point) -> Expr:
        if isinstance(e, Density):
            return self.density(e, point)
        if isinstance(e, LatentSum):
            variable = e.args[1]
            bound = LAYERS if variable == z else (variable,)  # Sum(f, z): over the joint space (rules)
            if variable != z and variable not in LAYERS:
                raise UnfoldError(f"Sum over {variable}: the chain's latent variables are z1 and z2")
            return Add(*(self.unfold(e.body, p) for p in self._assignments(bound, point)))
        if isinstance(e, Expectation):
            bound = self._bound(e.distribution)
            return Add(*(self.weight(e.distribution, p) * self.unfold(e.body, p)
                         for p in self._assignments(bound, point)))
        if isinstance(e, KL):
            a, b = e.args
            bound = self._bound(a)
            return Add(*(self.weight(a, p) * _log(self.weight(a, p) / self.weight(b, p))
                         for p in self._assignments(bound, point)))
        if isinstance(e, Entropy):
            (a,) = e.args
            bound = self._bound(a)
            return -Add(*(self.weight(a, p) * _log(self.weight(a, p)) for p in self._assignments(bound, point)))
        if isinstance(e, ELBO):
            a = e.distribution
            bound = self._bound(a)
            joint = e.joint
            return Add(*(self.weight(a, p) * _log(self.density(joint, p) / self.weight(a, p))
                         for p in self._assignments(bound, point)))
        if isinstance(e, IWAE):
            raise UnfoldError("IWAE is not defined for the two-layer chain")
        if isinstance(e, log):
            return _log(self.unfold(e.args[0], point))
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        if e.is_Symbol and e in LAYERS:
            raise UnfoldError(f"'{e}' may only appear inside p(...) or q(...)")
        if e.args:
            return e.func(*(self.unfold(arg, point) for arg in e.args))
        return e

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """One unfolded expression per assignment (z1, z2) when a layer is free, else one."""
        if free_latents(e):
            return tuple(self.unfold(e, p) for p in self.points)
        return (self.unfold(e),)

    # -- instances ---------------------------------------------------------------------------

    def instance(self, prior, transition, likelihood, q, q2) -> Instance:
        """An exact instance from vectors (transition[k] = p(z1 | z2 = k), q2[j] = q(z2 | z1 = j)),
        validated."""
        blocks: dict = {"prior": prior}
        blocks.update({f"transition[{k}]": row for k, row in enumerate(transition)})
        blocks["likelihood"] = likelihood
        blocks["q"] = q
        blocks.update({f"q2[{j}]": row for j, row in enumerate(q2)})
        made = Instance.of("instance", **blocks)
        self.validate(made)
        return made

    def sympy_values(self, instance: Instance) -> dict[Symbol, Rational]:
        return {s: Rational(v.numerator, v.denominator) for s, v in self.values(instance).items()}


__all__ = ["ChainModel", "LAYERS"]

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

T layers (``latents = ["z1", "z2", "z3"]``, up to z5; ``spec.layers``): the model p(zT)
prod_t p(z_{t-1} | z_t) p(x | z1) and the forward chain q(z1 | x) prod_t q(z_t | z_{t-1}),
one more pair of blocks per step t = 3..T (``transition3[k]`` with symbols ``t3_k_j`` =
p(z2 = j | z3 = k), ``q3[j]`` with ``r3_j_k`` = q(z3 = k | z2 = j)); the same ratio of
marginals for every other density (the forward posterior q(z1 | z2, x) of DDPM, p(z1 | x)).
A chain factor is read off its block only when the Markov property makes it the density
written: p(z_{t-1} | z_t, anything above), q(z_t | z_{t-1}, anything below, x).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from sympy import Add, Expr, Mul, Pow, Rational, S, Symbol, log

from elbo_sym.engine.models.base import (
    LOG_ATOMS,
    PARAMETER,
    SIMPLEX,
    UNIT,
    Block,
    BlockInstances,
    ChainLayers,
    Distribution,
    Instance,
    ModelSpec,
    Unfolding,
)
from elbo_sym.engine.models.discrete import UnfoldError, _log, free_latents
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    LAYER_SYMBOLS,
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
"""The latent layers of the two-layer chain, in the order of an assignment (z1, z2)."""
Point = tuple  # (index of z1 or None, index of z2 or None, ...): one entry per layer


def transition_block(t: int, k: int) -> str:
    """The block of p(z_{t-1} | z_t = k) (``transition[k]`` for the two-layer chain's one step)."""
    return f"transition[{k}]" if t == 2 else f"transition{t}[{k}]"


def forward_block(t: int, j: int) -> str:
    """The block of q(z_t | z_{t-1} = j) (``q2[j]`` for the two-layer chain's one step)."""
    return f"q{t}[{j}]"


@dataclass(frozen=True, init=False)
class ChainModel(ChainLayers, BlockInstances):
    """The chain with K states per layer and T = spec.layers layers (``ChainModel(2)``: two layers)."""

    K: int
    spec: ModelSpec

    def __init__(self, K: int = 2, spec: ModelSpec | None = None) -> None:
        if not isinstance(K, int) or isinstance(K, bool) or K < 2:
            raise ValueError(f"the chain needs an explicit K >= 2 states per layer, got {K!r}")
        spec = spec if spec is not None else ModelSpec("chain", K)
        if len(spec.data) != 1:
            raise ValueError("the chain has one observation")
        if spec.assumptions:
            raise ValueError("the chain takes no assumption (q is the free chain q(z1 | x) q(z2 | z1) ...)")
        if not 2 <= spec.layers <= len(LAYER_SYMBOLS):
            raise ValueError(f"a chain has 2 to {len(LAYER_SYMBOLS)} layers, got {spec.layers}")
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
        """p(zT = k)."""
        return tuple(Symbol(f"pi_{k}", positive=True) for k in range(self.K))

    @cached_property
    def transitions(self) -> dict[int, tuple[tuple[Symbol, ...], ...]]:
        """transitions[t][k][j] = p(z_{t-1} = j | z_t = k), t = 2..T."""
        def stem(t: int) -> str:
            return "t" if t == 2 else f"t{t}"
        return {t: tuple(tuple(Symbol(f"{stem(t)}_{k}_{j}", positive=True) for j in range(self.K))
                         for k in range(self.K)) for t in range(2, self.T + 1)}

    @property
    def transition(self) -> tuple[tuple[Symbol, ...], ...]:
        """transition[k][j] = p(z1 = j | z2 = k)."""
        return self.transitions[2]

    @cached_property
    def likelihood(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"l_{j}", positive=True) for j in range(self.K))

    @cached_property
    def q_symbols(self) -> tuple[Symbol, ...]:
        """q(z1 = j | x)."""
        return tuple(Symbol(f"q_{j}", positive=True) for j in range(self.K))

    @cached_property
    def forwards(self) -> dict[int, tuple[tuple[Symbol, ...], ...]]:
        """forwards[t][j][k] = q(z_t = k | z_{t-1} = j), t = 2..T."""
        def stem(t: int) -> str:
            return "r" if t == 2 else f"r{t}"
        return {t: tuple(tuple(Symbol(f"{stem(t)}_{j}_{k}", positive=True) for k in range(self.K))
                         for j in range(self.K)) for t in range(2, self.T + 1)}

    @property
    def reverse(self) -> tuple[tuple[Symbol, ...], ...]:
        """reverse[j][k] = q(z2 = k | z1 = j)."""
        return self.forwards[2]

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """No assumption fixes q here (the loader refuses one)."""
        return {}

    def variational(self, observation: str) -> Density:
        """q over every layer, given x: q(z1, ..., zT | x)."""
        return Density("q", self.layers, (self.observation,))

    def distributions(self) -> tuple[Distribution, ...]:
        """Every layer of both chains and the derived marginals p(z1), q(z2 | x) of the first step
        (over one layer: their values at the points with the other layers 0)."""
        K, x, T = range(self.K), self.spec.data[0], self.T
        out = [Distribution(f"p(z{T})", self.prior)]
        for t in range(2, T + 1):
            out += [Distribution(f"p(z{t - 1} | z{t} = {k})", self.transitions[t][k]) for k in K]
        out.append(Distribution(f"q(z1 | {x})", self.q_symbols))
        for t in range(2, T + 1):
            out += [Distribution(f"q(z{t} | z{t - 1} = {j})", self.forwards[t][j]) for j in K]
        out += [Distribution("p(z1)", self._p_z1), Distribution(f"q(z2 | {x})", self._q_z2)]
        return tuple(out)

    # -- the Model interface ----------------------------------------------------------

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        x, T = self.spec.data[0], self.T
        out = [Block("prior", f"p(z{T})", SIMPLEX, self.prior)]
        for t in range(2, T + 1):
            out += [Block(transition_block(t, k), f"p(z{t - 1} | z{t} = {k})", SIMPLEX, self.transitions[t][k])
                    for k in range(self.K)]
        out.append(Block("likelihood", f"p({x} | z1)", UNIT, self.likelihood))
        out.append(Block("q", f"q(z1 | {x})", SIMPLEX, self.q_symbols))
        for t in range(2, T + 1):
            out += [Block(forward_block(t, j), f"q(z{t} | z{t - 1} = {j})", SIMPLEX, self.forwards[t][j])
                    for j in range(self.K)]
        for p in self.spec.params:
            out.append(Block(p.name, p.name, PARAMETER, (self.params[p.name],), p.interval))
        return tuple(out)

    @cached_property
    def points(self) -> tuple[Point, ...]:
        """Every assignment (z1, ..., zT) of the layers."""
        return tuple(itertools.product(range(self.K), repeat=self.T))

    def point_text(self, k: int) -> str:
        return ", ".join(f"{layer} = {v}" for layer, v in zip(self.layers, self.points[k]))

    def latent_sum(self, values) -> Expr:
        """Sum over the joint latent space of one value per point."""
        return Add(*values)

    def describe(self) -> str:
        if self.T == 2:
            return f"every two-layer chain with {self.K} states per layer"
        return f"every {self.T}-layer chain with {self.K} states per layer"

    def describe_unfolding(self) -> Unfolding:
        """Each layer's table in the file's notation; the last state of every simplex eliminated."""
        x, last, top = self.spec.data[0], self.K - 1, self.T
        fixed = bool(self.assumed)
        deeper = (f"; for each further step t = 3..{top}: tt_k_j = p(z(t-1)=j | zt=k), rt_j_k = q(zt=k | z(t-1)=j)"
                  if top > 2 else "")
        eliminated = f"pi_{last} = 1 - the other pi, t_k_{last} = 1 - the other t_k_j"
        if not fixed:
            eliminated += f", q_{last} = 1 - the other q, r_j_{last} = 1 - the other r_j_k"
        return Unfolding(f"unfolded into the model (K = {self.K} per layer; pi_k = p(z{top}=k), "
                         f"t_k_j = p(z1=j | z2=k), l_j = p({x} | z1=j), q_j = q(z1=j | {x}), "
                         f"r_j_k = q(z2=k | z1=j){deeper}{', q fixed by the assumption' if fixed else ''}):",
                         f"canonical forms ({eliminated}; {LOG_ATOMS}):")

    def domain_text(self) -> str:
        x, T = self.spec.data[0], self.T
        names = ", ".join(str(v) for v in self.layers)
        count = "two" if T == 2 else str(T)
        parts = [f"{count} latent layers {names} with K = {self.K} states each", f"p(z{T}) > 0 with sum 1"]
        parts += [f"p(z{t - 1} | z{t} = k) > 0 with sum 1 for each k" for t in range(2, T + 1)]
        parts += [f"p({x} | z1) in (0, 1]", f"q(z1 | {x}) > 0 with sum 1"]
        parts += [f"q(z{t} | z{t - 1} = j) > 0 with sum 1 for each j" for t in range(2, T + 1)]
        return "; ".join(parts + [p.describe() for p in self.spec.params])

    def explicit(self, K: int) -> ChainModel:
        if K != self.K:
            raise UnfoldError(f"an instance with {K} states in a chain with K = {self.K}")
        return self

    def special_instances(self, base: Instance) -> list[Instance]:
        """The tight case (q is the exact posterior chain: q(z1 | x) = p(z1 | x) and each
        q(z_t | z_{t-1}) = p(z_t | z_{t-1}), which is p(z_t | z_{t-1}, x) in a Markov chain) and
        q = the prior's own chain read upwards."""
        K, T = self.K, self.T
        marginal = {T: list(base["prior"])}
        for t in range(T, 1, -1):
            rows = base[transition_block(t, 0)], *(base[transition_block(t, k)] for k in range(1, K))
            marginal[t - 1] = [sum((marginal[t][k] * rows[k][j] for k in range(K)), Fraction(0)) for j in range(K)]
        likelihood = base["likelihood"]
        evidence = sum((marginal[1][j] * likelihood[j] for j in range(K)), Fraction(0))
        backward = {t: [[marginal[t][k] * base[transition_block(t, k)][j] / marginal[t - 1][j] for k in range(K)]
                        for j in range(K)] for t in range(2, T + 1)}
        out = []
        for q1, source in (([marginal[1][j] * likelihood[j] / evidence for j in range(K)],
                            "tight case q = p(z1, z2 | x)" if T == 2 else "tight case q = posterior chain"),
                           (marginal[1], "q = p(z1) p(z2 | z1)" if T == 2 else "q = the prior chain")):
            instance = base.with_block("q", q1)
            for t in range(2, T + 1):
                for j in range(K):
                    instance = instance.with_block(forward_block(t, j), backward[t][j])
            out.append(Instance(instance.blocks, source))
        return out

    # -- densities ----------------------------------------------------------------------

    def _split(self, d: Density) -> tuple[frozenset, frozenset]:
        known = {*self.layers, self.observation}
        for v in d.variables + d.given:
            if v not in known:
                names = ", ".join(str(u) for u in self.layers)
                raise UnfoldError(f"'{v}' is not a variable of the chain ({names}, {self.observation})")
        return frozenset(d.variables), frozenset(d.given)

    def _index(self, point: Point | None, layer: Symbol, d: Density) -> int:
        j = None if point is None else point[self.layers.index(layer)]
        if j is None:
            raise UnfoldError(f"{d.name}(...) mentions {layer} outside a Sum, E, KL, H or ELBO that binds it")
        return j

    def _fill(self, over: frozenset, span: range, point: Point | None, d: Density):
        """Every assignment of the layers at positions `span`: those in `over` at `point`, the
        others summed over."""
        fixed = {i: self._index(point, self.layers[i], d) for i in span if self.layers[i] in over}
        free = [i for i in span if i not in fixed]
        for values in itertools.product(range(self.K), repeat=len(free)):
            full = dict(fixed)
            full.update(zip(free, values))
            yield full

    def _joint_p(self, over: frozenset, point: Point | None, d: Density) -> Expr:
        """P(S): the model's joint over S (x and some layers), the other layers summed out (the
        layers below the lowest one in S sum to 1 when x is not in S)."""
        has_x = self.observation in over
        positions = [i for i, v in enumerate(self.layers) if v in over]
        if not has_x and not positions:
            return S.One
        if has_x and not positions and point is None:
            return self.evidence
        low = 0 if has_x else min(positions)
        T = self.T
        terms = []
        for a in self._fill(over, range(low, T), point, d):
            factors = [self.prior[a[T - 1]]]
            factors += [self.transitions[t][a[t - 1]][a[t - 2]] for t in range(low + 2, T + 1)]
            if has_x:
                factors.append(self.likelihood[a[0]])
            terms.append(Mul(*factors))
        return Add(*terms)

    def _joint_q(self, over: frozenset, point: Point | None, d: Density) -> Expr:
        """Q(S): the variational chain's joint over the layers in S (given x), the layers above
        the highest one in S summed out (they sum to 1)."""
        positions = [i for i, v in enumerate(self.layers) if v in over]
        if not positions:
            return S.One
        high = max(positions)
        terms = []
        for a in self._fill(over, range(0, high + 1), point, d):
            factors = [self.q_symbols[a[0]]]
            factors += [self.forwards[t][a[t - 2]][a[t - 1]] for t in range(2, high + 2)]
            terms.append(Mul(*factors))
        return Add(*terms)

    @cached_property
    def _p_z1(self) -> tuple[Expr, ...]:
        """p(z1 = j), by the chain's marginal."""
        d = Density("p", (z1,))
        return tuple(self._joint_p(frozenset({z1}), (j,) + (None,) * (self.T - 1), d) for j in range(self.K))

    @cached_property
    def _q_z2(self) -> tuple[Expr, ...]:
        """q(z2 = k | x) = sum_j q(z1 = j | x) q(z2 = k | z1 = j)."""
        d = Density("q", (z2,))
        return tuple(self._joint_q(frozenset({z2}), (None, k) + (None,) * (self.T - 2), d) for k in range(self.K))

    @cached_property
    def evidence(self) -> Expr:
        """p(x) = the joint summed over every layer."""
        return self._joint_p(frozenset({self.observation}), (None,) * self.T, Density("p", (self.observation,)))

    def _parts(self, d: Density, point: Point | None) -> tuple[Expr, Expr]:
        """(numerator, divisor) of a density: P(A, B) and P(B)."""
        if d.name not in ("p", "q"):
            raise UnfoldError(f"no density named {d.name} in the chain")
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
        # the chain's own factors (Markov: the parent alone decides, given nothing on the far side)
        layers = self.layers
        if d.name == "p" and variables == {x} and z1 in given:
            return self.likelihood[self._index(point, z1, d)], S.One
        if d.name == "p" and len(variables) == 1 and not variables & {x}:
            (child,) = variables
            i = layers.index(child)
            if i + 1 < len(layers) and layers[i + 1] in given and given <= set(layers[i + 1:]):
                parent = layers[i + 1]
                return self.transitions[i + 2][self._index(point, parent, d)][self._index(point, child, d)], S.One
        if d.name == "q" and len(variables) == 1:
            (child,) = variables
            i = layers.index(child)
            if i >= 1 and layers[i - 1] in given and given <= set(layers[:i]):
                parent = layers[i - 1]
                return self.forwards[i + 1][self._index(point, parent, d)][self._index(point, child, d)], S.One
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
        base = list(point if point is not None else (None,) * self.T)
        slots = [self.layers.index(v) for v in dict.fromkeys(bound)]
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
            bound = tuple(v for v in distribution_variables(d) if v in self.layers)
            if not bound or len(bound) != len(distribution_variables(d)):
                raise UnfoldError(f"{to_text(d)} is not a distribution over latent variables (z1, z2)")
            return bound
        if not isinstance(d, Density):
            raise UnfoldError("expected a distribution over latent variables")
        bound = tuple(v for v in d.variables if v in self.layers)
        if not bound or len(bound) != len(d.variables):
            raise UnfoldError(f"{d.name}(...) is not a distribution over latent variables (z1, z2)")
        return bound

    def unfold(self, e: Expr, point: Point | None = None) -> Expr:
        """Replace notation by its definition in the model's parameters (free layers bound by `point`)."""
        free = free_latents(e)
        if point is None or not free:
            key_point: Point = (None,) * self.T
        else:
            key_point = tuple(v if layer in free else None for layer, v in zip(self.layers, point))
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
            bound = self.layers if variable == z else (variable,)  # Sum(f, z): over the joint space (rules)
            if variable != z and variable not in self.layers:
                names = ", ".join(str(v) for v in self.layers)
                raise UnfoldError(f"Sum over {variable}: the chain's latent variables are {names}")
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
        if e.is_Symbol and e in self.layers:
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

    def instance(self, prior, transition, likelihood, q, q2, deeper=()) -> Instance:
        """An exact instance from vectors (transition[k] = p(z1 | z2 = k), q2[j] = q(z2 | z1 = j);
        `deeper`: one (transition, forward) pair of tables per further step t = 3..T), validated."""
        blocks: dict = {"prior": prior}
        for t, (rows, _) in enumerate(((transition, q2), *deeper), start=2):
            blocks.update({transition_block(t, k): row for k, row in enumerate(rows)})
        blocks["likelihood"] = likelihood
        blocks["q"] = q
        for t, (_, rows) in enumerate(((transition, q2), *deeper), start=2):
            blocks.update({forward_block(t, j): row for j, row in enumerate(rows)})
        made = Instance.of("instance", **blocks)
        self.validate(made)
        return made

    def sympy_values(self, instance: Instance) -> dict[Symbol, Rational]:
        return {s: Rational(v.numerator, v.denominator) for s, v in self.values(instance).items()}


__all__ = ["ChainModel", "LAYERS", "transition_block", "forward_block"]

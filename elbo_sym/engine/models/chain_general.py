"""The two-layer chain with ``K = "any"``: one proof for every pair of latent spaces.

Like `general.GeneralModel` for one latent variable, each layer is one *generic point*
and every probability of the chain is one positive symbol at it:

================  ===================  ==============================
symbol            stands for           law (sum over the named layer)
================  ===================  ==============================
``pi_z2``         p(z2)                sum over z2 is 1
``t_z1_z2``       p(z1 | z2)           sum over z1 is 1
``l_z1``          p(x | z1)            --
``q_z1``          q(z1 | x)            sum over z1 is 1
``r_z2_z1``       q(z2 | z1)           sum over z2 is 1
``m_z1``          p(z1)                = sum over z2 of pi t; sums to 1
``u_z2``          p(x | z2)            = sum over z1 of t l
``s_z2``          q(z2 | x)            = sum over z1 of q r; sums to 1
``p_x``           p(x)                 = sum over z1 of m l = sum over z2 of pi u
================  ===================  ==============================

A sum over a set of layers (nested binders are merged first: Fubini, which holds for finite
sums and for integrals of integrable densities alike) is expanded into products; a layer
whose factors in a product are exactly one of the left columns' groups is summed out by the
law (the other factors do not depend on it).  What is left is an opaque atom ``Sum[...]``,
positive when its body is.  Each law is a true equation for every finite K and for
densities, so two sides whose forms agree as polynomials in the symbols and atoms agree on
every chain.  A sum over a layer with no density of it (``Sum(1, z2)``) has no meaning for
densities and is refused.  Counterexamples are sought in the explicit chains K = 2, 3, 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sympy import Add, Expr, Integer, Mul, Pow, S, Symbol, log

from elbo_sym.engine.models.base import Distribution, ModelDefaults, ModelSpec
from elbo_sym.engine.models.chain import LAYERS, ChainModel
from elbo_sym.engine.models.discrete import UnfoldError, free_latents
from elbo_sym.engine.notation import ELBO, IWAE, KL, Density, Entropy, Expectation, LatentSum, z, z1, z2

GENERIC = "z1, z2"
"""The one point of the general chain: both layers at their generic values."""
SEARCH_K = (2, 3, 5)
"""Explicit chains a general claim is searched for counterexamples in."""
MAX_TERMS = 20_000
_ALL = frozenset(LAYERS)


@dataclass(frozen=True)
class GeneralChainModel(ModelDefaults):
    """The two-layer chain for every latent space per layer (``K = "any"``)."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("chain", "any"))

    K = "any"

    def __post_init__(self) -> None:
        if len(self.spec.data) != 1:
            raise ValueError("the two-layer chain has one observation")
        if self.spec.assumptions:
            raise ValueError("the two-layer chain takes no assumption (q is the free chain q(z1 | x) q(z2 | z1))")

    # -- symbols ---------------------------------------------------------------------

    @property
    def observations(self) -> tuple[str, ...]:
        return self.spec.data

    @cached_property
    def observation(self) -> Symbol:
        return Symbol(self.spec.data[0])

    @cached_property
    def symbols(self) -> dict[str, Symbol]:
        names = ("pi_z2", "t_z1_z2", "l_z1", "q_z1", "r_z2_z1", "m_z1", "u_z2", "s_z2", "p_x")
        return {n: Symbol(n, positive=True) for n in names}

    @cached_property
    def _depends(self) -> dict[Symbol, frozenset]:
        """The layers each symbol (and each atom made so far) depends on."""
        s = self.symbols
        layers = {"pi_z2": {z2}, "t_z1_z2": {z1, z2}, "l_z1": {z1}, "q_z1": {z1}, "r_z2_z1": {z1, z2},
                  "m_z1": {z1}, "u_z2": {z2}, "s_z2": {z2}, "p_x": set()}
        return {s[n]: frozenset(v) for n, v in layers.items()}

    @cached_property
    def _laws(self) -> dict[tuple[Symbol, frozenset], Expr]:
        """(layer, the factors depending on it) -> their sum over that layer."""
        s = self.symbols
        return {
            (z2, frozenset({s["pi_z2"]})): S.One,
            (z2, frozenset({s["r_z2_z1"]})): S.One,
            (z2, frozenset({s["s_z2"]})): S.One,
            (z2, frozenset({s["pi_z2"], s["t_z1_z2"]})): s["m_z1"],
            (z2, frozenset({s["pi_z2"], s["u_z2"]})): s["p_x"],
            (z1, frozenset({s["q_z1"]})): S.One,
            (z1, frozenset({s["t_z1_z2"]})): S.One,
            (z1, frozenset({s["m_z1"]})): S.One,
            (z1, frozenset({s["q_z1"], s["r_z2_z1"]})): s["s_z2"],
            (z1, frozenset({s["t_z1_z2"], s["l_z1"]})): s["u_z2"],
            (z1, frozenset({s["m_z1"], s["l_z1"]})): s["p_x"],
        }

    @cached_property
    def _atoms(self) -> dict[Symbol, tuple[Expr, frozenset]]:
        """Each atom Sum[...] made so far: (body, the layers it sums over)."""
        return {}

    @cached_property
    def _positive_atoms(self) -> set:
        return set()

    @cached_property
    def params(self) -> dict[str, Symbol]:
        return {p.name: p.symbol for p in self.spec.params}

    @cached_property
    def parameter_bounds(self) -> dict:
        return {p.symbol: p.interval for p in self.spec.params}

    @property
    def positive_symbols(self) -> frozenset[Symbol]:
        positive_params = {p.symbol for p in self.spec.params if p.interval.positive}
        return frozenset(self.symbols.values()) | positive_params | self._positive_atoms

    @property
    def parameters(self) -> tuple[Symbol, ...]:
        return (*self.symbols.values(), *self.params.values())

    simplices: tuple = ()
    """No constraint certificates: only structural signs hold for every latent space."""

    @cached_property
    def elimination(self) -> dict:
        return {}

    @cached_property
    def sign_memo(self) -> dict:
        return {}

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        return {}

    @property
    def points(self) -> tuple[str, ...]:
        return (GENERIC,)

    def variational(self, observation: str) -> Density:
        return Density("q", LAYERS, (self.observation,))

    def describe(self) -> str:
        return "every two-layer chain (any latent space per layer: any finite K, or densities)"

    def domain_text(self) -> str:
        x = self.spec.data[0]
        parts = ["two latent layers z1, z2, each any latent space (any finite K, or densities)",
                 "p(z2), p(z1 | z2), q(" + f"z1 | {x}), q(z2 | z1) positive distributions", f"p({x} | z1) > 0"]
        return "; ".join(parts + [p.describe() for p in self.spec.params])

    def distributions(self) -> tuple[Distribution, ...]:
        """Every layer of both chains and the derived marginals, each summed over its own layer."""
        s, x = self.symbols, self.spec.data[0]
        out = []
        for label, value, layer in (("p(z2)", s["pi_z2"], z2), ("p(z1 | z2)", s["t_z1_z2"], z1),
                                    (f"q(z1 | {x})", s["q_z1"], z1), ("q(z2 | z1)", s["r_z2_z1"], z2),
                                    ("p(z1)", s["m_z1"], z1), (f"q(z2 | {x})", s["s_z2"], z2)):
            out.append(Distribution(label, (value,), total=self.sum_over(value, frozenset({layer}))))
        return tuple(out)

    def search_models(self) -> tuple:
        return tuple(self.explicit(K) for K in SEARCH_K)

    def explicit(self, K: int) -> ChainModel:
        return ChainModel(K, ModelSpec("chain", K, self.spec.data, self.spec.params))

    # -- densities ---------------------------------------------------------------------

    def _parts(self, d: Density) -> tuple[Expr, Expr]:
        """(numerator, divisor) of a density at the generic point: P(A, B) and P(B)."""
        if d.name not in ("p", "q"):
            raise UnfoldError(f"no density named {d.name} in the two-layer chain")
        known = {*LAYERS, self.observation}
        for v in d.variables + d.given:
            if v not in known:
                raise UnfoldError(f"'{v}' is not a variable of the two-layer chain (z1, z2, {self.observation})")
        variables, given = frozenset(d.variables), frozenset(d.given)
        if not variables:
            raise UnfoldError(f"{d.name}(...) needs a variable before the bar")
        s, x = self.symbols, self.observation
        if d.name == "q":
            if x in variables:
                raise UnfoldError("q is a distribution over the latent variables")
            given = given - {x}
            if variables == {z2} and z1 in given:
                return s["r_z2_z1"], S.One
            return self._joint_q(variables | given), self._joint_q(given)
        if variables == {x} and z1 in given:
            return s["l_z1"], S.One
        if variables == {z1} and given == {z2}:
            return s["t_z1_z2"], S.One
        return self._joint_p(variables | given), self._joint_p(given)

    def _joint_p(self, over: frozenset) -> Expr:
        s = self.symbols
        has_x = self.observation in over
        if z1 in over:
            core = s["pi_z2"] * s["t_z1_z2"] if z2 in over else s["m_z1"]
            return core * s["l_z1"] if has_x else core
        if z2 in over:
            return s["pi_z2"] * s["u_z2"] if has_x else s["pi_z2"]
        return s["p_x"] if has_x else S.One

    def _joint_q(self, over: frozenset) -> Expr:
        s = self.symbols
        if z2 in over:
            return s["q_z1"] * s["r_z2_z1"] if z1 in over else s["s_z2"]
        return s["q_z1"] if z1 in over else S.One

    def density(self, d: Density, point=None) -> Expr:
        numerator, divisor = self._parts(d)
        return numerator if divisor == 1 else Mul(numerator, Pow(divisor, -1))

    def divisors(self, d: Density, point=None) -> tuple[Expr, ...]:
        _, divisor = self._parts(d)
        return () if divisor.is_Number else (divisor,)

    # -- sums over layers -----------------------------------------------------------------

    def depends(self, e: Expr) -> frozenset:
        out: frozenset = frozenset()
        for symbol in e.free_symbols:
            known = self._depends.get(symbol)
            if known is None:
                atom = self._atoms.get(symbol)
                known = self._atom_depends(symbol) if atom is not None else frozenset()
            out |= known
        return out

    def _atom_depends(self, atom: Symbol) -> frozenset:
        body, over = self._atoms[atom]
        return self.depends(body) - over

    def latent_sum(self, values) -> Expr:
        """The sum over both layers (the joint latent space) of the value at the generic point."""
        (value,) = values
        return self.sum_over(value, _ALL, meaningful_only=False)

    def sum_over(self, value: Expr, over: frozenset, meaningful_only: bool = True) -> Expr:
        """Sum over the layers `over` of `value`: linearity, nested sums merged, the laws, atoms.

        A layer with no density of it in a term refuses the sum (UnfoldError), unless
        `meaningful_only` is False: then the sum is an opaque real atom, equal to nothing else
        (the rules ask whether the values of p(z1) sum to 1 over both layers: they do not)."""
        from elbo_sym.engine.canonical import bounded_expand
        from elbo_sym.engine.models.general import _split_logs

        terms = Add.make_args(bounded_expand(_split_logs(value, self)))  # type: ignore[arg-type]
        if len(terms) > MAX_TERMS:
            raise UnfoldError("the sum has too many terms to check")
        return Add(*(self._sum_term(term, over, meaningful_only) for term in terms))

    def _sum_term(self, term: Expr, over: frozenset, meaningful_only: bool) -> Expr:
        free: list[Expr] = []
        dependent: list[Expr] = []
        for factor in Mul.make_args(term):
            (dependent if self.depends(factor) & over else free).append(factor)
        # a nested sum (an atom depending on the layers summed here) is merged into this sum when
        # the layers it binds are bound nowhere else and free in no other factor (no capture:
        # E(q(z1 | x), E(q(z2 | z1), KL(q(z1 | z2, x), ...))) keeps the outer z1 apart)
        layers = set(over)
        merged: list[Expr] = []
        kept: list[Expr] = []
        for i, factor in enumerate(dependent):
            inner = self._atoms[factor][1] if factor in self._atoms else None
            others = frozenset().union(*(self.depends(f) for j, f in enumerate(dependent) if j != i))
            if inner is not None and not inner & layers and not inner & others:
                layers |= inner
                merged.extend(Mul.make_args(self._atoms[factor][0]))
            else:
                kept.append(factor)
        return Mul(*free) * self._reduce(Mul(*kept, *merged), frozenset(layers), meaningful_only)

    def _reduce(self, body: Expr, over: frozenset, meaningful_only: bool) -> Expr:
        """Sum out each layer the laws can; an atom for what is left."""
        changed = True
        while over and changed:
            changed = False
            for layer in sorted(over, key=LAYERS.index):
                factors = Mul.make_args(body)
                mine = [f for f in factors if layer in self.depends(f)]
                if not mine and not meaningful_only:
                    return Symbol("Sum[" + ", ".join(map(str, over)) + "; " + str(body) + "] (no density)", real=True)
                if not mine:
                    raise UnfoldError(f"a sum over {layer} of something without a density of {layer} has no "
                                      f"meaning for every latent space (it is K for finite K and infinite for "
                                      f"densities)")
                law = self._laws.get((layer, frozenset(mine))) if len(set(mine)) == len(mine) else None
                if law is not None:
                    body = Mul(*(f for f in factors if f not in mine)) * law
                    over = over - {layer}
                    changed = True
                    break
        if not over:
            return body
        name = "Sum[" + ", ".join(str(v) for v in sorted(over, key=LAYERS.index)) + "; " + str(body) + "]"
        from elbo_sym.engine.definedness import strict_sign

        positive = strict_sign(body, self) == 1
        atom = Symbol(name, positive=True) if positive else Symbol(name, real=True)
        if atom not in self._atoms:
            self._atoms[atom] = (body, over)
            if positive:
                self._positive_atoms.add(atom)
        return atom

    # -- unfolding --------------------------------------------------------------------------

    def _bound(self, d: Expr) -> frozenset:
        if not isinstance(d, Density):
            raise UnfoldError("expected a distribution over latent variables")
        bound = frozenset(v for v in d.variables if v in LAYERS)
        if not bound or len(bound) != len(d.variables):
            raise UnfoldError(f"{d.name}(...) is not a distribution over latent variables (z1, z2)")
        return bound

    def unfold(self, e: Expr, point=None) -> Expr:
        if point is None and free_latents(e) - {z}:
            raise UnfoldError("a latent layer is mentioned outside a Sum, E, KL, H or ELBO that binds it")
        known = self._memo.get(e)
        if known is None:
            known = self._memo[e] = self._unfold(e)
        return known

    @cached_property
    def _memo(self) -> dict:
        return {}

    def _unfold(self, e: Expr) -> Expr:
        if isinstance(e, Density):
            return self.density(e)
        if isinstance(e, LatentSum):
            variable = e.args[1]
            if variable != z and variable not in LAYERS:
                raise UnfoldError(f"Sum over {variable}: the chain's latent variables are z1 and z2")
            over = _ALL if variable == z else frozenset({variable})
            return self.sum_over(self._unfold(e.body), over)
        if isinstance(e, Expectation):
            return self.sum_over(self.density(e.distribution) * self._unfold(e.body), self._bound(e.distribution))
        if isinstance(e, KL):
            a, b = e.args
            va, vb = self.density(a), self.density(b)
            return self.sum_over(va * log(va / vb, evaluate=False), self._bound(a))
        if isinstance(e, Entropy):
            (a,) = e.args
            va = self.density(a)
            return -self.sum_over(va * log(va, evaluate=False), self._bound(a))
        if isinstance(e, ELBO):
            a = e.distribution
            va = self.density(a)
            return self.sum_over(va * log(self.density(e.joint) / va, evaluate=False), self._bound(a))
        if isinstance(e, IWAE):
            raise UnfoldError("IWAE is not defined for the two-layer chain")
        if isinstance(e, log):
            return log(self._unfold(e.args[0]), evaluate=False)
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        if e.is_Symbol and e in LAYERS:
            raise UnfoldError(f"'{e}' may only appear inside p(...) or q(...)")
        if e.args:
            return e.func(*(self._unfold(arg) for arg in e.args))
        return e

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """A claim with a free layer is a claim at the generic point (so for every value)."""
        return (self.unfold(e, GENERIC),)


__all__ = ["GeneralChainModel", "SEARCH_K", "Integer"]

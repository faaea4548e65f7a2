"""The chain with ``K = "any"``: one proof for every latent space per layer (T = 2..5 layers).

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
densities and is refused.  A nested sum is merged only when the layers it binds are free in no
other factor (no capture of an outer layer of the same name); otherwise it stays an atom.

With T layers (``latents = ["z1", "z2", "z3"]``) the table grows by one step per layer:
``pi_zT`` = p(zT) at the top, ``t_zA_zB`` = p(zA | zB) and ``r_zB_zA`` = q(zB | zA) for each
step A = B - 1, the marginals ``m_zt`` = p(zt), ``u_zt`` = p(x | zt), ``s_zt`` = q(zt | x), and
the same laws per step (a conditional sums to 1 over its child; summing out a parent or a child
gives the next marginal).  Every density that is no chain factor is a ratio of marginals, each
marginal the chain's product summed over the other layers by these laws.  Counterexamples are
sought in the explicit chains K = 2, 3, 5 with K**T at most SEARCH_MAX_POINTS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from sympy import Add, Expr, Mul, Pow, S, Symbol, log

from elbo_sym.engine.models.base import (
    LOG_ATOMS,
    ChainLayers,
    Distribution,
    ModelDefaults,
    ModelSpec,
    Unfolding,
    remembered,
)
from elbo_sym.engine.models.chain import ChainModel
from elbo_sym.engine.models.discrete import UnfoldError, free_latents
from elbo_sym.engine.models.general import refusal_message
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    LAYER_SYMBOLS,
    Density,
    Entropy,
    Expectation,
    LatentSum,
    is_derived,
    to_text,
    z,
)
from elbo_sym.failures import reraise_callers

GENERIC = "z1, z2, ..."
"""The one point of the general chain: every layer at its generic value."""
SEARCH_K = (2, 3, 5)
"""Explicit chains a general claim is searched for counterexamples in (those with K**T points at most
SEARCH_MAX_POINTS: K = 2, 3, 5 for two layers, 2 and 3 for three or four, 2 for five)."""
SEARCH_MAX_POINTS = 100
MAX_TERMS = 20_000


@dataclass(frozen=True)
class GeneralChainModel(ChainLayers, ModelDefaults):
    """The chain for every latent space per layer (``K = "any"``; spec.layers layers)."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("chain", "any"))

    K = "any"

    def __post_init__(self) -> None:
        if len(self.spec.data) != 1:
            raise ValueError("the chain has one observation")
        if self.spec.assumptions:
            raise ValueError("the chain takes no assumption (q is the free chain q(z1 | x) q(z2 | z1) ...)")
        if not 2 <= self.spec.layers <= len(LAYER_SYMBOLS):
            raise ValueError(f"a chain has 2 to {len(LAYER_SYMBOLS)} layers, got {self.spec.layers}")

    # -- symbols ---------------------------------------------------------------------

    @property
    def observations(self) -> tuple[str, ...]:
        return self.spec.data

    @cached_property
    def observation(self) -> Symbol:
        return Symbol(self.spec.data[0])

    @cached_property
    def _table(self) -> dict[str, tuple[Symbol, frozenset]]:
        """Every generic symbol by name, with the layers it depends on (see the module docstring;
        with T layers: t_zA_zB = p(zA | zB), r_zB_zA = q(zB | zA), m_zt = p(zt), u_zt = p(x | zt),
        s_zt = q(zt | x))."""
        Z, T = self.layers, self.T
        out: dict[str, frozenset] = {f"pi_{Z[T - 1]}": frozenset({Z[T - 1]}), "l_z1": frozenset({Z[0]}),
                                     "q_z1": frozenset({Z[0]}), "p_x": frozenset()}
        for t in range(2, T + 1):
            child, parent = Z[t - 2], Z[t - 1]
            out[f"t_{child}_{parent}"] = frozenset({child, parent})
            out[f"r_{parent}_{child}"] = frozenset({child, parent})
            out[f"u_{parent}"] = frozenset({parent})
            out[f"s_{parent}"] = frozenset({parent})
        for t in range(1, T):
            out[f"m_{Z[t - 1]}"] = frozenset({Z[t - 1]})
        return {name: (Symbol(name, positive=True), layers) for name, layers in out.items()}

    @cached_property
    def symbols(self) -> dict[str, Symbol]:
        return {name: symbol for name, (symbol, _) in self._table.items()}

    @cached_property
    def _depends(self) -> dict[Symbol, frozenset]:
        """The layers each symbol depends on (atoms: `_atom_depends`)."""
        return {symbol: layers for symbol, layers in self._table.values()}

    def _marginal_p(self, t: int) -> Symbol:
        """p(z_t): the prior at the top, m_zt below it."""
        return self.symbols[f"pi_z{t}" if t == self.T else f"m_z{t}"]

    def _evidence_given(self, t: int) -> Symbol:
        """p(x | z_t): the likelihood at z1, u_zt above it."""
        return self.symbols["l_z1" if t == 1 else f"u_z{t}"]

    def _marginal_q(self, t: int) -> Symbol:
        """q(z_t | x): q at z1, s_zt above it."""
        return self.symbols["q_z1" if t == 1 else f"s_z{t}"]

    @cached_property
    def _laws(self) -> dict[tuple[Symbol, frozenset], Expr]:
        """(layer, the factors depending on it) -> their sum over that layer: each conditional and
        each marginal sums to 1 over its own layer; summing out a parent or a child gives the
        chain's marginals (p(z_(t-1)), q(z_t | x), p(x | z_t), p(x))."""
        s, Z, T = self.symbols, self.layers, self.T
        laws: dict[tuple[Symbol, frozenset], Expr] = {}
        for t in range(1, T + 1):
            laws[(Z[t - 1], frozenset({self._marginal_p(t)}))] = S.One
            laws[(Z[t - 1], frozenset({self._marginal_q(t)}))] = S.One
            laws[(Z[t - 1], frozenset({self._marginal_p(t), self._evidence_given(t)}))] = s["p_x"]
        for t in range(2, T + 1):
            child, parent = Z[t - 2], Z[t - 1]
            down, up = s[f"t_{child}_{parent}"], s[f"r_{parent}_{child}"]
            laws[(child, frozenset({down}))] = S.One
            laws[(parent, frozenset({up}))] = S.One
            laws[(parent, frozenset({self._marginal_p(t), down}))] = self._marginal_p(t - 1)
            laws[(child, frozenset({self._marginal_q(t - 1), up}))] = self._marginal_q(t)
            laws[(child, frozenset({down, self._evidence_given(t - 1)}))] = self._evidence_given(t)
        return laws

    @cached_property
    def _atoms(self) -> dict[Symbol, tuple[Expr, frozenset]]:
        """Each atom Sum[...] made so far: (body, the layers it sums over)."""
        return {}

    @cached_property
    def _positive_atoms(self) -> set:
        return set()

    @property
    def positive_symbols(self) -> frozenset[Symbol]:
        positive_params = {p.symbol for p in self.spec.params if p.interval.positive}
        return frozenset(self.symbols.values()) | positive_params | self._positive_atoms

    @property
    def parameters(self) -> tuple[Symbol, ...]:
        return (*self.symbols.values(), *self.params.values())

    @property
    def points(self) -> tuple[str, ...]:
        return (GENERIC,)

    def variational(self, observation: str) -> Density:
        return Density("q", self.layers, (self.observation,))

    def describe(self) -> str:
        count = "two" if self.T == 2 else str(self.T)
        return f"every {count}-layer chain (any latent space per layer: any finite K, or densities)"

    def describe_unfolding(self) -> Unfolding:
        """One generic point per layer, the chain's marginals as atoms, a layer summed out by the chain's laws."""
        x, names = self.spec.data[0], ", ".join(map(str, self.layers))
        highest = self.layers[-1]
        deeper = "" if self.T == 2 else f", up to {highest} (pi_{highest} = p({highest}) at the top)"
        return Unfolding(f"unfolded at generic points {names}, for every latent space per layer (pi_z2 = p(z2), "
                         f"t_z1_z2 = p(z1 | z2), l_z1 = p({x} | z1), q_z1 = q(z1 | {x}), r_z2_z1 = q(z2 | z1); "
                         f"m_z1 = p(z1), u_z2 = p({x} | z2), s_z2 = q(z2 | {x}), p_x = p({x}){deeper}; a sum over "
                         f"layers becomes an atom Sum[layers; ...]):",
                         "canonical forms (nested sums merged; a layer summed out by the chain's laws: each "
                         "conditional sums to 1, sum over z2 of pi t = m, over z1 of q r = s, of t l = u, "
                         f"of m l = p_x; {LOG_ATOMS}):")

    def convention_text(self) -> str:
        from elbo_sym.engine.models.general import INTEGRABILITY_CONVENTION

        return INTEGRABILITY_CONVENTION

    def domain_text(self) -> str:
        x, T = self.spec.data[0], self.T
        names = ", ".join(map(str, self.layers))
        blocks = [f"p(z{T})"] + [f"p(z{t - 1} | z{t})" for t in range(2, T + 1)] + [f"q(z1 | {x})"] + \
            [f"q(z{t} | z{t - 1})" for t in range(2, T + 1)]
        parts = [f"latent layers {names}, each any latent space (any finite K, or densities)",
                 ", ".join(blocks) + " positive distributions", f"p({x} | z1) > 0"]
        return "; ".join(parts + [p.describe() for p in self.spec.params])

    def distributions(self) -> tuple[Distribution, ...]:
        """Every layer of both chains and the derived marginals, each summed over its own layer."""
        s, x, Z, T = self.symbols, self.spec.data[0], self.layers, self.T
        rows = [(f"p(z{T})", self._marginal_p(T), Z[T - 1]), (f"q(z1 | {x})", s["q_z1"], Z[0])]
        for t in range(2, T + 1):
            child, parent = Z[t - 2], Z[t - 1]
            rows += [(f"p({child} | {parent})", s[f"t_{child}_{parent}"], child),
                     (f"q({parent} | {child})", s[f"r_{parent}_{child}"], parent),
                     (f"p({child})", self._marginal_p(t - 1), child),
                     (f"q({parent} | {x})", self._marginal_q(t), parent)]
        return tuple(Distribution(label, (value,), total=self.sum_over(value, frozenset({layer})))
                     for label, value, layer in rows)

    def search_models(self) -> tuple:
        """The explicit chains K = 2, 3, 5 (K**T points at most SEARCH_MAX_POINTS), then the Gaussian
        layers when the chain has such a counterpart: a layer may be a density (domain_text), and a
        statement false only for densities (H(q(z1 | x)) >= 0: red team rt37) must meet one."""
        densities = self.density_model()
        return tuple(self.explicit(K) for K in SEARCH_K if K ** self.T <= SEARCH_MAX_POINTS) + \
            ((densities,) if densities is not None else ())

    def density_model(self):
        """The Gaussian chain with the same observation, layers and parameters (DDPM's linear-Gaussian
        chain: every layer a density, q(z_t | z_{t-1}) and p(z_{t-1} | z_t) as this family's blocks);
        None when there is none (more layers than it has, an assumption or premise, a parameter
        named like its own)."""
        from elbo_sym.engine.models.gaussian_chain import GaussianChainModel

        if self._gaussian_refused() is not None:
            return None
        try:
            return GaussianChainModel(ModelSpec("gaussian", 2, self.spec.data, self.spec.params, layers=self.T,
                                                layered=True))
        except ValueError as raised:
            reraise_callers(raised)
            return None

    def no_densities(self) -> str:
        """Why no Gaussian chain is searched: its layers, or the file's premise or assumption (a chain of
        Gaussian layers fixed by its family takes neither), else the family's words (Model.no_densities)."""
        refused = self._gaussian_refused()
        return refused if refused is not None else super().no_densities()

    def _gaussian_refused(self) -> str | None:
        """Why this chain has no Gaussian counterpart before one is built (None: try to build it):
        the one place of the conditions that :meth:`density_model` and :meth:`no_densities` share."""
        from elbo_sym.engine.models.gaussian_chain import MAX_GAUSSIAN_LAYERS

        if self.T > MAX_GAUSSIAN_LAYERS:
            return f"the Gaussian chain has at most {MAX_GAUSSIAN_LAYERS} layers, and this file has {self.T}"
        for kind, given in (("premise", self.spec.premises), ("assumption", self.spec.assumptions)):
            if given:
                first = given[0]  # an engine.derivation.Relation, as the file wrote it
                return (f"the file's {kind} {first.lhs.text} {first.rel} {first.rhs.text} rules the Gaussian chain "
                        f"out: its layers are fixed by its family, so it takes no {kind}")
        return None

    def explicit(self, K: int) -> ChainModel:
        """The explicit chain with K states per layer, one per K and spec (`_explicit`), so what it
        unfolded for one step is still known at the next."""
        return _explicit(K, self.spec)

    # -- densities ---------------------------------------------------------------------

    def _parts(self, d: Density) -> tuple[Expr, Expr]:
        """(numerator, divisor) of a density at the generic point: P(A, B) and P(B); a chain
        factor is read off its symbol only where the Markov property makes it the density written."""
        _only_densities(d)
        if d.name not in ("p", "q"):
            raise UnfoldError(f"no density named {d.name} in the chain")
        Z, x = self.layers, self.observation
        for v in d.variables + d.given:
            if v not in Z and v != x:
                names = ", ".join(map(str, Z))
                raise UnfoldError(f"'{v}' is not a variable of the chain ({names}, {x})")
        variables, given = frozenset(d.variables), frozenset(d.given)
        if not variables:
            raise UnfoldError(f"{d.name}(...) needs a variable before the bar")
        s = self.symbols
        if d.name == "q":
            if x in variables:
                raise UnfoldError("q is a distribution over the latent variables")
            given = given - {x}
            if len(variables) == 1:
                (child,) = variables
                i = Z.index(child)
                if i >= 1 and Z[i - 1] in given and given <= set(Z[:i]):
                    return s[f"r_{child}_{Z[i - 1]}"], S.One
            return self._joint_q(variables | given), self._joint_q(given)
        if variables == {x} and Z[0] in given:
            return s["l_z1"], S.One
        if len(variables) == 1 and x not in variables:
            (child,) = variables
            i = Z.index(child)
            if i + 1 < len(Z) and Z[i + 1] in given and given <= set(Z[i + 1:]):
                return s[f"t_{child}_{Z[i + 1]}"], S.One
        return self._joint_p(variables | given), self._joint_p(given)

    def _joint_p(self, over: frozenset) -> Expr:
        """P(S): the model's joint over S, the other layers summed out by the laws."""
        known = self._joints.get(("p", over))
        if known is not None:
            return known
        Z, T, s = self.layers, self.T, self.symbols
        has_x = self.observation in over
        positions = [i for i, v in enumerate(Z) if v in over]
        if not has_x and not positions:
            value: Expr = S.One
        else:
            low = 0 if has_x else min(positions)
            factors = [self._marginal_p(T)] + [s[f"t_{Z[t - 2]}_{Z[t - 1]}"] for t in range(low + 2, T + 1)]
            if has_x:
                factors.append(s["l_z1"])
            summed = frozenset(Z[i] for i in range(low, T) if Z[i] not in over)
            value = Mul(*factors) if not summed else self.sum_over(Mul(*factors), summed)
        self._joints[("p", over)] = value
        return value

    def _joint_q(self, over: frozenset) -> Expr:
        """Q(S): the variational chain's joint over the layers in S, the others summed out by the laws."""
        known = self._joints.get(("q", over))
        if known is not None:
            return known
        Z, s = self.layers, self.symbols
        positions = [i for i, v in enumerate(Z) if v in over]
        if not positions:
            value: Expr = S.One
        else:
            high = max(positions)
            factors = [s["q_z1"]] + [s[f"r_{Z[t - 1]}_{Z[t - 2]}"] for t in range(2, high + 2)]
            summed = frozenset(Z[i] for i in range(0, high + 1) if Z[i] not in over)
            value = Mul(*factors) if not summed else self.sum_over(Mul(*factors), summed)
        self._joints[("q", over)] = value
        return value

    @cached_property
    def _joints(self) -> dict:
        return {}

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
        """The sum over every layer (the joint latent space) of the value at the generic point."""
        (value,) = values
        return self.sum_over(value, frozenset(self.layers), meaningful_only=False)

    def sum_over(self, value: Expr, over: frozenset, meaningful_only: bool = True) -> Expr:
        """Sum over the layers `over` of `value`: linearity, nested sums merged, the laws, atoms.

        A layer with no density of it in a term refuses the sum (UnfoldError), unless
        `meaningful_only` is False: then the sum is an opaque real atom, equal to nothing else
        (the rules ask whether the values of p(z1) sum to 1 over both layers: they do not).

        Remembered per model (89 calls, 36 distinct on the literature); a refusal is not."""
        return remembered(self._sums, (value, over, meaningful_only),
                          lambda: self._sum_over(value, over, meaningful_only))

    @cached_property
    def _sums(self) -> dict:
        return {}

    def _sum_over(self, value: Expr, over: frozenset, meaningful_only: bool) -> Expr:
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
        if meaningful_only:
            for layer in sorted(over, key=LAYER_SYMBOLS.index):
                refusal = self._sum_refusal(body, layer)
                if refusal is not None:
                    raise UnfoldError(refusal_message(f"a sum over {layer}", str(layer), refusal))
        changed = True
        while over and changed:
            changed = False
            for layer in sorted(over, key=LAYER_SYMBOLS.index):
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
        name = "Sum[" + ", ".join(str(v) for v in sorted(over, key=LAYER_SYMBOLS.index)) + "; " + str(body) + "]"
        from elbo_sym.engine.definedness import strict_sign

        positive = strict_sign(body, self) == 1
        atom = Symbol(name, positive=True) if positive else Symbol(name, real=True)
        if atom not in self._atoms:
            self._atoms[atom] = (body, over)
            if positive:
                self._positive_atoms.add(atom)
        return atom

    @cached_property
    def _density_of(self) -> dict[Symbol, Symbol]:
        """Each symbol that is a density of a layer, with that layer: p(zT), q(z1 | x), p(zA | zB) and
        q(zB | zA) of their first layer, the marginals m_zt and s_zt (p(x | .) is no density of a layer)."""
        out = {}
        for name, (symbol, _) in self._table.items():
            stem, *layers = name.split("_")
            if stem in ("pi", "q", "t", "r", "m", "s"):
                out[symbol] = Symbol(layers[0])
        return out

    @cached_property
    def _p_densities(self) -> frozenset[Symbol]:
        """The model's own densities of a layer (p(zT), p(zA | zB), the marginals p(zt)), not q's:
        the numerators an importance ratio may have (see general.sum_refusal)."""
        return frozenset(symbol for name, (symbol, _) in self._table.items() if name.split("_")[0] in ("pi", "t", "m"))

    def _sum_refusal(self, body: Expr, layer: Symbol) -> str | None:
        """Why a summand over `layer` is refused for every latent space, or None (the shapes of
        `general.sum_refusal` in the densities of that layer); a nested sum counts as its body.
        With a nested sum only the degree is judged: its body's powers of this layer's densities
        sit inside an integral over another layer (q(z1 | z2, x) = q(z1 | x) q(z2 | z1) / q(z2 | x)
        under a sum over z1 is a conditional average, not a square of q(z2 | z1))."""
        from elbo_sym.engine.models.general import NOT_INTEGRABLE, sum_refusal

        nested = False
        for _ in range(len(LAYER_SYMBOLS) + 1):  # nested atoms that depend on the layer: their bodies
            inner = {a: self._atoms[a][0] for a in body.free_symbols if a in self._atoms and layer in self.depends(a)}
            if not inner:
                break
            body, nested = body.xreplace(inner), True
        densities = frozenset(d for d, of in self._density_of.items() if of == layer)
        pointwise = frozenset(v for v in body.free_symbols if layer in self.depends(v))
        refusal = sum_refusal(body, densities, pointwise, self, densities & self._p_densities, self._bayes_ratios)
        return None if nested and refusal == NOT_INTEGRABLE else refusal

    @cached_property
    def _bayes_ratios(self) -> tuple[tuple[Symbol, Symbol], ...]:
        """(conditional, marginal) of one layer whose ratio is a density of another layer over its
        marginal: p(zA | zB) / p(zA) = p(zB | zA) / p(zB), q(zB | zA) / q(zB | x) = q(zA | zB, x) /
        q(zA | x) -- as a function of this layer, a likelihood."""
        Z, out = self.layers, []
        for t in range(2, self.T + 1):
            child, parent = Z[t - 2], Z[t - 1]
            out.append((self.symbols[f"t_{child}_{parent}"], self.symbols[f"m_{child}"]))
            out.append((self.symbols[f"r_{parent}_{child}"], self.symbols[f"s_{parent}"]))
        return tuple(out)

    # -- unfolding --------------------------------------------------------------------------

    def _weight(self, d: Expr) -> Expr:
        """The value at the generic point of a distribution argument of E, KL, H, ELBO: a density,
        or a derived distribution (a mean-field product, a mixture) unfolded from its densities.
        A derived one carries the obligation to be a distribution (engine.wellformed)."""
        if isinstance(d, Density):
            return self.density(d)
        self._bound(d)
        return self._unfold(d)

    def _bound(self, d: Expr) -> frozenset:
        if is_derived(d):
            return self._derived_bound(d)
        _only_densities(d)
        bound = frozenset(v for v in d.variables if v in self.layers)
        if not bound or len(bound) != len(d.variables):
            names = ", ".join(map(str, self.layers))
            raise UnfoldError(f"{d.name}(...) is not a distribution over latent variables ({names})")
        return bound

    def _derived_bound(self, d: Expr) -> frozenset:
        """The layers a derived distribution is over: those of its densities' own variables.  A
        layer it is only conditioned on (q(z2 | z1) * q(z3 | z2) given z1) would be bound by it
        as well as by an enclosing E: such a product is refused here (an explicit K reads it)."""
        densities = d.atoms(Density)
        if not densities or d.has(KL, Entropy, ELBO, IWAE, Expectation, LatentSum):
            raise UnfoldError(f"{to_text(d)} is not a distribution built from densities of the chain")
        _only_densities_inside(densities)
        own = frozenset(v for dens in densities for v in dens.variables)
        given = frozenset(v for dens in densities for v in dens.given if v in self.layers)
        bound = own & frozenset(self.layers)
        names = ", ".join(map(str, self.layers))
        if not bound or bound != own:
            raise UnfoldError(f"{to_text(d)} is not a distribution over latent variables ({names})")
        if given - own:
            layer = sorted(given - own, key=str)[0]
            raise UnfoldError(f"{to_text(d)} is conditioned on {layer} as a distribution with K = \"any\": "
                              f"{_conditioned_remedy(d, densities, own, layer)}")
        return bound

    def unfold(self, e: Expr, point=None) -> Expr:
        if point is None and free_latents(e) - {z}:
            raise UnfoldError("a latent layer is mentioned outside a Sum, E, KL, H or ELBO that binds it")
        return remembered(self._memo, e, lambda: self._unfold(e))

    @cached_property
    def _memo(self) -> dict:
        return {}

    def _unfold(self, e: Expr) -> Expr:
        if isinstance(e, Density):
            return self.density(e)
        if isinstance(e, LatentSum):
            variable = e.args[1]
            if variable != z and variable not in self.layers:
                names = ", ".join(map(str, self.layers))
                raise UnfoldError(f"Sum over {variable}: the chain's latent variables are {names}")
            over = frozenset(self.layers) if variable == z else frozenset({variable})
            return self.sum_over(self._unfold(e.body), over)
        if isinstance(e, Expectation):
            return self.sum_over(self._weight(e.distribution) * self._unfold(e.body), self._bound(e.distribution))
        if isinstance(e, KL):
            a, b = e.args
            va, vb = self._weight(a), self._weight(b)
            if is_derived(a) or is_derived(b):  # both over the same layers, or KL has no meaning
                if self._bound(a) != self._bound(b):
                    raise UnfoldError(f"KL's arguments {to_text(a)} and {to_text(b)} are not over the same layers")
            return self.sum_over(va * log(va / vb, evaluate=False), self._bound(a))
        if isinstance(e, Entropy):
            (a,) = e.args
            va = self._weight(a)
            return -self.sum_over(va * log(va, evaluate=False), self._bound(a))
        if isinstance(e, ELBO):
            a = e.distribution
            va = self._weight(a)
            return self.sum_over(va * log(self.density(e.joint) / va, evaluate=False), self._bound(a))
        if isinstance(e, IWAE):
            raise UnfoldError("IWAE is not defined for the two-layer chain")
        if isinstance(e, log):
            return log(self._unfold(e.args[0]), evaluate=False)
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        if e.is_Symbol and e in self.layers:
            raise UnfoldError(f"'{e}' may only appear inside p(...) or q(...)")
        if e.args:
            return e.func(*(self._unfold(arg) for arg in e.args))
        return e

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """A claim with a free layer is a claim at the generic point (so for every value)."""
        return (self.unfold(e, GENERIC),)


@lru_cache(maxsize=16)
def _explicit(K: int, spec: ModelSpec) -> ChainModel:
    """A pure function of K and the general chain's spec (its observations, parameters and layers)."""
    return ChainModel(K, ModelSpec("chain", K, spec.data, spec.params, layers=spec.layers))


def _only_densities_inside(densities) -> None:
    """Every density of a derived distribution is p or q (no r, no data weights)."""
    for d in densities:
        if d.name not in ("p", "q"):
            raise UnfoldError(f"no density named {d.name} in the chain")


def _conditioned_remedy(d: Expr, densities, own: frozenset, layer) -> str:
    """What the author can write instead of a derived distribution conditioned on `layer`: a
    product of one distribution's densities is its joint density (q(z2 | z1) * q(z3 | z2) is
    q(z2, z3 | z1)); anything else (a mixture) is read per value of `layer` with an explicit K."""
    names = {dens.name for dens in densities}
    if isinstance(d, Mul) and len(names) == 1 and len(own) > 1 and all(
            isinstance(f, Density) for f in d.args):
        joint = f"{next(iter(names))}({', '.join(map(str, sorted(own, key=str)))} | {layer})"
        return f"write the joint density {joint} for the product, or give an explicit K (K = 2, say)"
    return f"give an explicit K (K = 2, say), where it is read for each value of {layer}"


def _only_densities(d: Expr) -> None:
    """The general chain unfolds densities only: a derived distribution (a product, a mixture,
    a softmax) has no value here yet, so it is refused, never guessed."""
    if not isinstance(d, Density):
        raise UnfoldError(f"a product or mixture as a distribution ({to_text(d)}) needs an explicit K in the chain "
                          "family: write K = 2 (or 3, ...)")


__all__ = ["GeneralChainModel", "GENERIC", "SEARCH_K", "SEARCH_MAX_POINTS"]

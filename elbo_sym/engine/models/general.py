"""`K = "any"`: one proof for every latent space (any finite K, or densities).

Instead of K symbols per distribution, z is one *generic point* with positive symbols
``pi_z``, ``l_z``, ``q_z`` and the evidence ``p(x)`` is one positive symbol.  A sum (or an
integral) over z becomes an opaque atom ``Sum[body]`` after the laws that hold for sums
over any finite support *and* for integrals over densities (wherever they exist):

* linearity: ``Sum(a + b) = Sum(a) + Sum(b)``, ``Sum(c f) = c Sum(f)`` for z-free c;
* normalisation: ``Sum(q_z) = 1``, ``Sum(pi_z) = 1``, and ``Sum(pi_z l_z) = p(x)``;
* logs of positive products split: ``log(pi_z l_z / p(x)) = log pi_z + log l_z - log p(x)``
  (only for arguments whose factors are positive by structure).

Two sides whose forms agree as polynomials in these atoms agree for every latent space:
each law is a true equation there, and an identity that holds when the atoms are
independent holds a fortiori for their actual values.  A sum with no density in it
(``Sum(1, z)``) has no meaning for densities and is refused.  Only structural sign
certificates apply here (``1 - q(z) > 0`` is true for finite K but not for densities).
Counterexamples are searched where the claim is about: explicit models with K = 2, 3, 5,
8, densities (the Gaussian family's models, when the statement has a Gaussian meaning),
then K = 13, 34, 89, 233, the same plan on every run (see `search_models`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from sympy import Add, Expr, Integer, Mul, Pow, Rational, Symbol, exp, log, preorder_traversal

from elbo_sym.engine.models.base import (
    LOG_ATOMS,
    Distribution,
    ModelDefaults,
    ModelSpec,
    Unfolding,
    assumption_observation,
    limit_moves,
    q_label,
    remembered,
    symbol_legend,
)
from elbo_sym.engine.models.discrete import DiscreteModel, UnfoldError, has_free_latent, pin_densities
from elbo_sym.engine.notation import (
    DATA_DENSITY,
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
    distribution_variables,
    is_derived,
    limit_value,
    to_text,
    z,
)
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import GENERAL_SEARCH_LARGER_K

GENERIC = "z"
"""The one point of a general model: z itself."""
SEARCH_K = (2, 3, 5, 8)
"""Explicit models a general claim is always searched for counterexamples in (8: a claim
such as H(q) <= log(5) first fails at K = 6)."""
MAX_TERMS = 20_000
INTEGRABILITY_CONVENTION = ("for densities, a proved step holds in every model where each integral over the latent "
                            "variables in it (and in each of its terms) is finite, as textbooks state these "
                            "identities; for finite K every sum is finite")
"""What `proved` means for densities (docs/vocabulary.md, "Integrability"): an identity such as
Sum(a - b) = Sum(a) - Sum(b) or KL = cross-entropy - entropy is only meaningful where the sums
are finite.  `sum_refusal` keeps the convention from reaching shapes that are infinite for
many densities."""


@dataclass(frozen=True)
class GeneralModel(ModelDefaults):
    """Every latent space at once (``K = "any"``), for the observations and parameters of a spec."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("discrete", "any"))

    K = "any"

    # -- symbols ------------------------------------------------------------------

    @property
    def observations(self) -> tuple[str, ...]:
        return self.spec.data

    def _generic(self, stem: str, observation: str) -> Symbol:
        middle = "" if observation == "x" else f"{observation}_"
        return Symbol(f"{stem}_{middle}z", positive=True)

    @cached_property
    def prior_z(self) -> Symbol:
        return Symbol("pi_z", positive=True)

    @cached_property
    def likelihood_z(self) -> dict[str, Symbol]:
        return {o: self._generic("l", o) for o in self.observations}

    @cached_property
    def q_z(self) -> dict[str, Symbol]:
        return {o: self._generic("q", o) for o in self.observations}

    @cached_property
    def evidence(self) -> dict[str, Symbol]:
        """p(x) for each observation: one positive atom (it stands for Sum(pi_z l_z))."""
        return {o: Symbol("p_x" if o == "x" else f"p_{o}", positive=True) for o in self.observations}

    @cached_property
    def variational_z(self) -> dict[tuple[str, str], Symbol]:
        """(name, observation) -> r(z | o), q_star(z | o) at the generic point (free, beside q)."""
        return {(name, o): self._generic(name.replace("_", ""), o) for name in self.spec.variationals
                for o in self.observations}

    @cached_property
    def indexed_prior_z(self) -> dict[str, Symbol]:
        """p(z | theta) at the generic point, one symbol per parameter."""
        return {t: Symbol(f"pi@{t}_z", positive=True) for t in self.spec.indices}  # "@": in no name

    @cached_property
    def indexed_likelihood_z(self) -> dict[tuple[str, str], Symbol]:
        return {(o, t): Symbol(f"l{'' if o == 'x' else '_' + o}@{t}_z", positive=True) for o in self.observations
                for t in self.spec.indices}

    @cached_property
    def _densities_of_z(self) -> frozenset[Symbol]:
        """The symbols of the distributions over z at the generic point: the prior (of each
        parameter's model), q, r and q_star -- what a sum over z must be of degree 1 in."""
        return frozenset({self.prior_z, *self.q_z.values(), *self.variational_z.values(),
                          *self.indexed_prior_z.values()})

    @cached_property
    def indexed_evidence(self) -> dict[tuple[str, str], Symbol]:
        """p(o | theta): one positive atom per (observation, parameter), standing for its sum."""
        return {(o, t): Symbol(f"p_{o}@{t}", positive=True) for o in self.observations for t in self.spec.indices}

    @cached_property
    def pointwise_symbols(self) -> frozenset[Symbol]:
        return frozenset({self.prior_z, *self.likelihood_z.values(), *self.q_z.values(), *self.variational_z.values(),
                          *self.indexed_prior_z.values(), *self.indexed_likelihood_z.values()})

    @property
    def positive_symbols(self) -> frozenset[Symbol]:
        """The generic point's probabilities, each p(x), positive parameters, and every sum
        atom of a positive function."""
        positive_params = {p.symbol for p in self.spec.params if p.interval.positive}
        return (self.pointwise_symbols | set(self.evidence.values()) | set(self.indexed_evidence.values())
                | positive_params | self._positive_integrals | self.data_constants | self._draw_symbols)

    @cached_property
    def _positive_integrals(self) -> set:
        return set()

    @property
    def parameters(self) -> tuple[Symbol, ...]:
        return (self.prior_z, *self.likelihood_z.values(), *self.q_z.values(), *self.evidence.values(),
                *self.data_weights.values(), *self.variational_z.values(), *self.indexed_prior_z.values(),
                *self.indexed_likelihood_z.values(), *self.indexed_evidence.values(), *self.params.values())

    @cached_property
    def simplices(self) -> tuple:
        """No constraint certificates over z (only structural signs hold for every latent space);
        the data distribution's weights are a simplex over the observations whatever the latent
        space, and over a data space (a normalised likelihood) so are p(. | z) at the generic z
        and the evidences p(x1), ..., p(xn)."""
        return tuple(group for group in self._data_groups if group)

    @cached_property
    def _data_groups(self) -> tuple[tuple[Symbol, ...], ...]:
        weights = tuple(self.data_weights.values())
        if not self.spec.data_space:
            return (weights,)
        evidences = tuple(tuple(self.indexed_evidence[(o, t)] for o in self.spec.data) for t in self.spec.indices)
        return (weights, tuple(self.likelihood_z.values()), tuple(self.evidence.values()),
                *self._indexed_decoders, *evidences)

    @cached_property
    def _indexed_decoders(self) -> tuple[tuple[Symbol, ...], ...]:
        """Per parameter theta, p(x1 | z; theta), ..., p(xn | z; theta): over a data space, a
        distribution over the observations at every z."""
        return tuple(tuple(self.indexed_likelihood_z[(o, t)] for o in self.spec.data) for t in self.spec.indices)

    @cached_property
    def elimination(self) -> dict:
        """Only the constraints over the data points: the last of each group is 1 minus the others."""
        return {group[-1]: 1 - Add(*group[:-1]) for group in self._data_groups if group}

    @cached_property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """q at z of each observation an assumption fixes (one value: at the generic point)."""
        if not self.spec.assumptions:
            return {}
        free = GeneralModel(replace(self.spec, assumptions=()))
        return {assumption_observation(r): (free.unfold(r.rhs.expr, GENERIC),) for r in self.spec.assumptions}

    def q_of(self, observation: str) -> Expr:
        """q(z | observation) at the generic point: the assumed value, or the free symbol."""
        fixed = self.assumed.get(observation)
        return fixed[0] if fixed is not None else self.q_z[observation]

    def distributions(self) -> tuple[Distribution, ...]:
        """p(z), each observation's q (free or assumed) and posterior, at the generic point."""
        texts = {assumption_observation(r): f"{r.lhs.text} = {r.rhs.text}" for r in self.spec.assumptions}
        def at_z(label: str, value: Expr, assumption: str | None = None) -> Distribution:
            return Distribution(label, (value,), assumption=assumption, total=self.latent_sum((value,)))

        out = [] if self.spec.indices else [at_z("p(z)", self.prior_z)]
        for t in self.spec.indices:
            out.append(at_z(f"p(z | {t})", self.indexed_prior_z[t]))
            for o in self.observations:
                out.append(at_z(f"p(z | {o}; {t})", self.indexed_prior_z[t] * self.indexed_likelihood_z[(o, t)]
                                / self.indexed_evidence[(o, t)]))
        for o in self.observations:
            out.append(at_z(q_label(o, self.observations), self.q_of(o), texts.get(o)))
            if not self.spec.indices:
                out.append(at_z(f"p(z | {o})", self.prior_z * self.likelihood_z[o] / self.evidence[o]))
        for (name, o), symbol in self.variational_z.items():
            out.append(at_z(q_label(o, self.observations).replace("q(", f"{name}(", 1), symbol))
        return tuple(out)

    @property
    def points(self) -> tuple[str, ...]:
        return (GENERIC,)

    def describe(self) -> str:
        return "every latent space (any finite K, or densities)"

    def describe_unfolding(self) -> Unfolding:
        """One generic point z and the atoms a sum over z becomes, summed out by the laws of every latent space."""
        fixed = ", q fixed by the assumption" if self.assumed else ""
        legend = symbol_legend(self.observations, "z", "z", evidence=True)
        return Unfolding(f"unfolded at a generic point z, for every latent space (pi_z = p(z), {legend}; "
                         f"a sum over z becomes an atom Sum[...]{fixed}):",
                         "canonical forms (sums split by linearity; Sum[q_z] = Sum[pi_z] = 1, Sum[pi_z l_z] = p_x; "
                         f"{LOG_ATOMS}):")

    def convention_text(self) -> str:
        return INTEGRABILITY_CONVENTION

    def search_models(self) -> tuple:
        """Explicit models where a counterexample to a general claim is sought, in order: K = 2,
        3, 5, 8, the densities (a Gaussian model, when this model has one), K = 13, 34, ...

        ``K = "any"`` is a claim about densities too, so a statement false for a density
        (H(q) >= 0, p(z | x) <= 1) must meet one.  The models after SEARCH_K get a quick pass
        each, and the rest of the search only at some (`elbo_sym.engine.check`)."""
        densities = self.density_model()
        return (tuple(self.explicit(K) for K in SEARCH_K) + ((densities,) if densities is not None else ())
                + tuple(self.explicit(K) for K in GENERAL_SEARCH_LARGER_K))

    def density_model(self):
        """The Gaussian family's model with the same observation, parameters and assumption:
        every linear-Gaussian model is a latent space with densities.  None when there is
        none (several observations, a parameter named like the Gaussian family's own, an
        assumption that is not a Gaussian)."""
        from elbo_sym.engine.models.gaussian import GaussianModel

        if self.spec.variationals or self.spec.indices:  # the Gaussian family has neither r nor theta
            return None
        try:
            model = GaussianModel(ModelSpec("gaussian", 2, self.spec.data, self.spec.params, self.spec.assumptions))
            _ = model.assumed_q  # an assumption must give a Gaussian q (UnfoldError otherwise)
        except (ValueError, UnfoldError, TypeError) as raised:
            reraise_callers(raised)
            return None
        return model

    def explicit(self, K: int) -> DiscreteModel:
        """The K-state model with the same observations, parameters and assumptions (shared)."""
        return _explicit(K, self.spec)

    # -- unfolding ------------------------------------------------------------------

    def density(self, d: Density, k) -> Expr:
        if d.name == DATA_DENSITY:
            (o,) = d.variables
            if not self.data_weights:
                raise UnfoldError("p_data(...) needs a model with the data distribution")
            return self.data_weights[self._observation(o)]
        if z in d.variables or z in d.given:
            if k is None:
                raise UnfoldError(f"{d.name}(...) mentions z outside a Sum, E, KL, H or ELBO")
        name, variables, given = d.name, d.variables, d.given
        indices = [g for g in given if isinstance(g, Index)]
        if indices:
            return self._indexed_density(d, indices[0].name)
        if name == "p" and self.spec.indices:
            raise UnfoldError(f"{to_text(d)}: say which parameter, as in p(x | z; {self.spec.indices[0]}) (the "
                              f"model depends on {', '.join(self.spec.indices)})")
        if name in ("r", "q_star"):
            if name not in self.spec.variationals:
                raise UnfoldError(f"{name} is not a distribution of this model")
            if not given and len(self.observations) > 1:
                raise UnfoldError(f"with several observations say which {name}: {name}(z | x1)")
            return self.variational_z[(name, self._observation(given[0]) if given else self.observations[0])]
        if name == "p" and variables == (z,) and not given:
            return self.prior_z
        if name == "q" and variables == (z,):
            if not given:
                if len(self.observations) > 1:
                    raise UnfoldError("with several observations say which q: q(z | x1)")
                return self.q_of(self.observations[0])
            return self.q_of(self._observation(given[0]))
        if name == "p":
            observed = [v for v in variables + given if v != z]
            if len(observed) == 1:
                o = self._observation(observed[0])
                if variables == (observed[0],) and not given:
                    return self.evidence[o]
                if variables in ((observed[0], z), (z, observed[0])) and not given:
                    return self.prior_z * self.likelihood_z[o]
                if variables == (observed[0],) and given == (z,):
                    return self.likelihood_z[o]
                if variables == (z,) and given == (observed[0],):
                    return self.prior_z * self.likelihood_z[o] / self.evidence[o]
        raise UnfoldError(f"no value for {to_text(d)} in the general model")

    def weight(self, d: Expr, k) -> Expr:
        """The value at the generic point of a distribution argument of E, KL, H, ELBO: a
        density, or a derived distribution over z (a mixture, a softmax) unfolded there."""
        if isinstance(d, Density):
            return self.density(d, k)
        if not is_derived(d) or distribution_variables(d) != (z,):
            raise UnfoldError(f"{to_text(d)} is not a distribution over z of this model")
        return self.unfold(d, k)

    def _observation(self, symbol: Symbol) -> str:
        if symbol.name not in self.observations:
            raise UnfoldError(f"'{symbol.name}' is not an observation of this model "
                              f"(data = {list(self.observations)})")
        return symbol.name

    def _indexed_density(self, d: Density, t: str) -> Expr:
        """A density of the model with parameter t at the generic point (or p(x | theta))."""
        if t not in self.spec.indices:
            raise UnfoldError(f"'{t}' does not index this model")
        variables, given = d.variables, tuple(g for g in d.given if not isinstance(g, Index))
        if variables == (z,) and not given:
            return self.indexed_prior_z[t]
        observed = [v for v in variables + given if v != z]
        if len(observed) == 1:
            o = self._observation(observed[0])
            prior, likelihood = self.indexed_prior_z[t], self.indexed_likelihood_z[(o, t)]
            if variables == (observed[0],) and not given:
                return self.indexed_evidence[(o, t)]
            if variables in ((observed[0], z), (z, observed[0])) and not given:
                return prior * likelihood
            if variables == (observed[0],) and given == (z,):
                return likelihood
            if variables == (z,) and given == (observed[0],):
                return prior * likelihood / self.indexed_evidence[(o, t)]
        raise UnfoldError(f"no value for {to_text(d)} in the general model")

    def unfold(self, e: Expr, k=None) -> Expr:
        key = (e, k if k is not None and has_free_latent(e) else None)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = self._unfold(e, key[1])
        return known

    @cached_property
    def _memo(self) -> dict:
        return {}

    def _unfold(self, e: Expr, k) -> Expr:
        if isinstance(e, Density):
            return self.density(e, k)
        if isinstance(e, Limit):
            return self.unfold(self.limit_of(e), k)
        if isinstance(e, LatentSum) and isinstance(e.args[1], Draw):
            return self.draw_sum(e)
        if isinstance(e, LatentSum):
            return self.latent_sum((self.unfold(e.body, GENERIC),), e)
        if isinstance(e, Expectation):
            return self.latent_sum((self.weight(e.distribution, GENERIC) * self.unfold(e.body, GENERIC),), e)
        if isinstance(e, KL):
            a, b = (self.weight(d, GENERIC) for d in e.args)
            return self.latent_sum((a * log(a / b, evaluate=False),), e)
        if isinstance(e, Entropy):
            a = self.weight(e.args[0], GENERIC)
            return -self.latent_sum((a * log(a, evaluate=False),), e)
        if isinstance(e, ELBO):
            a = self.weight(e.distribution, GENERIC)
            joint = self.density(e.joint, GENERIC)
            return self.latent_sum((a * log(joint / a, evaluate=False),), e)
        if isinstance(e, IWAE) and e.symbolic:
            raise UnfoldError(f"{to_text(e)} for every k has no unfolding: only the rules iwae-bound and "
                              f"iwae-monotone reason about it (log(p(x)) >= IWAE(q, k) and IWAE(q, k + 1) >= "
                              f"IWAE(q, k), for every k and every latent space)")
        if isinstance(e, IWAE):
            raise UnfoldError(f"{to_text(e)} has no unfolding for every latent space: with K = \"any\" only the "
                              f"rules iwae-bound and iwae-monotone reason about it; other rules need K = 2 (or 3, ...)")
        if isinstance(e, log):
            return log(self.unfold(e.args[0], k), evaluate=False)
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        if e.args:
            return e.func(*(self.unfold(a, k) for a in e.args))
        return e

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """A claim with a free z is a claim at the generic point z (so for every z)."""
        return (self.unfold(e, GENERIC if has_free_latent(e) else None),)

    # -- sums over other draws of z ---------------------------------------------------

    def limit_of(self, e: Limit) -> Expr:
        """The value of a limit a theorem gives here (notation.limit_value); UnfoldError otherwise."""
        moving = limit_moves(e, self.spec)
        if moving is not None:
            raise UnfoldError(f"{to_text(e)} has no certified value: {moving}")
        interval = {s.name: iv for s, iv in self.parameter_bounds.items()}.get(e.variable.name)
        value = limit_value(e, interval, explicit=False)
        if value is None:
            raise UnfoldError(f"{to_text(e)} has no certified value for every latent space: the Renyi bound's limit "
                              f"as alpha -> 1 or 0 needs alpha's domain inside [0, 1) for densities, and IWAE(q, k) -> "
                              f"log p(x) as k -> oo needs bounded weights p(x, z) / q(z): an explicit K")
        return value

    def pin_draw(self, body: Expr, draw: Draw, point) -> Expr:
        """`body` with the draw at its own generic point: q(w), p(x, w) become positive symbols
        of their own (q_w', pi_w', ...), independent of z's -- the draws are independent."""
        return pin_densities(body, draw, lambda d: self.density(d, GENERIC).xreplace(self._draw_point(draw)))

    def _draw_point(self, draw: Draw) -> dict:
        """z's pointwise symbols -> the draw's (named with a quote: no file can write one)."""
        known = self._draw_points.get(draw.name)
        if known is None:
            known = {s: Symbol(s.name[:-1] + draw.name + "'", positive=True) for s in self.pointwise_symbols}
            self._draw_points[draw.name] = known
            self._draw_symbols.update(known.values())
        return known

    @cached_property
    def _draw_points(self) -> dict:
        return {}

    @cached_property
    def _draw_symbols(self) -> set:
        return set()

    def draw_sum(self, e: LatentSum) -> Expr:
        """A sum over other draws of z, with K = "any": one opaque atom for the whole sum over
        every draw bound in it (no law of sums is used across draws; an atom stands for the
        integral of its pinned, unfolded body, so equal atoms are equal integrals).  It must be
        closed (no free z: write the draws' sums outside the sum over z) and, for densities,
        of degree >= 1 in each draw's densities (Sum(log(q(w)), w) has no meaning)."""
        if has_free_latent(e):
            raise UnfoldError(f"{to_text(e)} depends on z: with K = \"any\" write the sums over the other draws "
                              f"outside the sum over z, as in Sum(Sum(f, z), w)")
        draws = sorted({node.args[1] for node in preorder_traversal(e)
                        if isinstance(node, LatentSum) and isinstance(node.args[1], Draw)}, key=lambda d: d.name)
        body = e.replace(lambda n: isinstance(n, LatentSum) and isinstance(n.args[1], Draw), lambda n: n.body)
        for draw in draws:
            body = self.pin_draw(body, draw, GENERIC)
        value = _expand(_split_logs(self.unfold(body), self))
        for draw in draws:
            point = self._draw_point(draw)
            densities = frozenset(point[s] for s in self._densities_of_z)
            for term in Add.make_args(value):
                if not at_least_one(_density_degree(term, densities, frozenset(point.values()))):
                    raise UnfoldError(f"{to_text(e)} has no meaning for every latent space: a term of it is not a "
                                      f"density of {draw.name} times a function; give an explicit K")
        from elbo_sym.engine.definedness import strict_sign

        name = f"Sum[{', '.join(d.name for d in draws)}: {value}]"
        positive = strict_sign(value, self) == 1
        atom = Symbol(name, positive=True) if positive else Symbol(name, real=True)
        if positive:
            self._positive_integrals.add(atom)
        return atom

    # -- sums over z ------------------------------------------------------------------

    def latent_sum(self, values, source: Expr | None = None) -> Expr:
        """Sum over z of the value at the generic point: linearity, normalisation, atoms.
        `source` (the Sum, E, KL, H or ELBO as written) names the sum when it has no meaning.
        Remembered per value (the rules sum the same values again: 296 calls, 155 distinct on the
        74 files); a refusal is not remembered, so it is raised again, naming its own source."""
        key = tuple(values)
        return remembered(self._latent_sums, key, lambda: self._latent_sum(key, source))

    @cached_property
    def _latent_sums(self) -> dict:
        return {}

    def _latent_sum(self, values, source: Expr | None) -> Expr:
        (value,) = values
        terms = Add.make_args(_expand(_split_logs(value, self)))
        if len(terms) > MAX_TERMS:
            raise UnfoldError("the sum has too many terms to check")
        if self.spec.data_space:
            terms = self._sum_rule(terms)
        out = []
        for term in terms:
            free, pointwise = _separate(term, self.pointwise_symbols)
            refusal = sum_refusal(pointwise, self._densities_of_z, self.pointwise_symbols, self,
                                  frozenset({self.prior_z, *self.indexed_prior_z.values()}))
            if refusal is not None:
                written = source is not None and not source.free_symbols & self._draw_symbols  # no pinned draw
                what = to_text(source) if written else "a sum over z"
                raise UnfoldError(refusal_message(what, "z", refusal))
            out.append(free * self._integral(pointwise))
        return Add(*out)

    def _sum_rule(self, terms: tuple[Expr, ...]) -> tuple[Expr, ...]:
        """Over a data space the decoder is a distribution at every z: terms c * g(z) * p(x_i | z)
        with the same c and g for every observation x_i add up to c * g(z)."""
        for likelihoods in (tuple(self.likelihood_z.values()), *self._indexed_decoders):
            terms = self._sum_rule_of(terms, likelihoods)
        return terms

    def _sum_rule_of(self, terms: tuple[Expr, ...], likelihoods: tuple[Symbol, ...]) -> tuple[Expr, ...]:
        """The sum rule for one decoder, p(. | z) or p(. | z; theta)."""
        found: dict[tuple[Expr, Expr], dict[Symbol, Expr]] = {}
        for term in terms:
            free, pointwise = _separate(term, self.pointwise_symbols)
            for l in likelihoods:
                if l in Mul.make_args(pointwise):  # p(x_i | z) to the first power
                    found.setdefault((free, pointwise / l), {})[l] = term
        whole = [(free, rest, group) for (free, rest), group in found.items() if len(group) == len(likelihoods)]
        if not whole:
            return terms
        dropped = {term for _, _, group in whole for term in group.values()}
        if len(dropped) != len(likelihoods) * len(whole):  # a term in two groups: leave the sum as written
            return terms
        return tuple(t for t in terms if t not in dropped) + tuple(free * rest for free, rest, _ in whole)


    def density_witness(self, expr: Expr, kind: str) -> str | None:
        """Values of the densities at z under which a definedness obligation (`expr` > 0 for
        "positive", != 0 for "nonzero") fails, in the author's names ("q(z) = 2"), or None.

        Only for an obligation in the densities at the generic point alone (no sum, no
        parameter): each such value is taken by some density on a set of positive probability
        (q(z) = 2 on an interval of length 1/4), with p(x | z) = p(x) = c constant (so the
        evidence is consistent).  log(-log(q(z))) is defined for every finite K and for no
        density above 1 -- what a search over finite K never shows (and spends its budget on)."""
        densities = {self.prior_z: "p(z)", **{s: q_label(o, self.observations) for o, s in self.q_z.items()},
                     **{s: q_label(o, self.observations).replace("q(", f"{n}(", 1)
                        for (n, o), s in self.variational_z.items()}}
        constants = [*self.likelihood_z.values(), *self.evidence.values()]
        if not expr.free_symbols <= set(densities) | set(constants) or not expr.free_symbols & set(densities):
            return None

        def fails(v: Expr, c: Expr) -> bool:
            value = expr.xreplace({**{s: v for s in densities}, **{s: c for s in constants}})
            return bool(value.is_positive is False) if kind == "positive" else bool(value.is_zero is True)

        constant_values = (Integer(1), Rational(1, 2))
        if any(fails(v, c) for v in (Rational(1, 2), Rational(1, 10), Rational(9, 10)) for c in constant_values):
            return None  # fails at probabilities below 1 too: the search refutes it with a finite K
        for c in constant_values:
            for v in (Integer(2), Integer(1)):
                if fails(v, c):
                    shown = [f"{densities[s]} = {v}" for s in densities if s in expr.free_symbols]
                    shown += [f"p(x | z) = p(x) = {c}"] if expr.free_symbols & set(constants) else []
                    return ", ".join(shown)
        return None

    def _integral(self, body: Expr) -> Expr:
        normal = {self.prior_z: Integer(1)}
        for o in self.observations:
            normal[self.q_z[o]] = Integer(1)
            normal[self.prior_z * self.likelihood_z[o]] = self.evidence[o]
            for t in self.spec.indices:
                normal[self.indexed_prior_z[t] * self.indexed_likelihood_z[(o, t)]] = self.indexed_evidence[(o, t)]
        for symbol in (*self.variational_z.values(), *self.indexed_prior_z.values()):
            normal[symbol] = Integer(1)
        if body in normal:
            return normal[body]
        known = self._integrals.get(body)
        if known is None:
            from elbo_sym.engine.definedness import strict_sign

            positive = strict_sign(body, self) == 1
            known = Symbol(f"Sum[{body}]", positive=True) if positive else Symbol(f"Sum[{body}]", real=True)
            self._integrals[body] = known
            if positive:  # a sum (or integral) of a positive function is positive
                self._positive_integrals.add(known)
        return known

    @cached_property
    def _integrals(self) -> dict:
        return {}


@lru_cache(maxsize=32)
def _explicit(K: int, spec: ModelSpec) -> DiscreteModel:
    return DiscreteModel(K, replace(spec, K=K))


@lru_cache(maxsize=4096)
def _expand(e: Expr) -> Expr:
    """`bounded_expand(e)`, remembered (a pure function of e): the sums' exponents and terms are
    asked about again and again (5,813 calls, 98 distinct expressions on the 74 files).  A
    refusal (TooLarge) is not remembered."""
    from elbo_sym.engine.canonical import bounded_expand

    return bounded_expand(e)


def at_least_one(degree: Expr | None) -> bool:
    """A degree (of `_density_degree`) that is a number >= 1, or 1 whatever the parameters
    (1 - a + a): a density of z to the first power times a function of degree >= 0."""
    if degree is None:
        return False
    excess = _expand(degree - 1)
    return bool(excess.is_Rational and excess >= 0)


def _density_degree(e: Expr, densities: frozenset, pointwise: frozenset) -> Expr | None:
    """The degree of `e` in the densities of z (how it scales when every density does), or
    None when `e` is not homogeneous in them (exp(q(z)), 1 + q(z))."""
    exponents = _exponents(e, densities, pointwise)
    if exponents is None:
        return None
    return Add(*(a for base, a in exponents.items() if base in densities or isinstance(base, Add)))


NOT_A_DENSITY = "not a density"
NOT_INTEGRABLE = "not integrable"
NEGATIVE_POWER = "negative power"


_SUM_REFUSALS = ("sum refusals",)
"""The key, in a model's sign memo, of its memo of `sum_refusal`'s answers."""


def sum_refusal(body: Expr, densities: frozenset, pointwise: frozenset, model, priors: frozenset,
                ratios: tuple[tuple[Symbol, Symbol], ...] = ()) -> str | None:
    """`_sum_refusal`, remembered per model (a pure function of its arguments: the same
    summands recur in every step and rule that sums them; 1,182 calls, 135 distinct)."""
    memo = model.sign_memo.setdefault(_SUM_REFUSALS, {})
    key = (body, densities, pointwise, priors, ratios)
    if key not in memo:
        memo[key] = _sum_refusal(body, densities, pointwise, model, priors, ratios)
    return memo[key]


def _sum_refusal(body: Expr, densities: frozenset, pointwise: frozenset, model, priors: frozenset,
                 ratios: tuple[tuple[Symbol, Symbol], ...] = ()) -> str | None:
    """Why a summand over z is refused for every latent space (None: admitted).

    K = "any" means densities too, and a proved step holds wherever its integrals are finite
    (the convention of `INTEGRABILITY_CONVENTION`).  So that the convention is not stretched to
    integrals that are infinite for ordinary densities, a summand's densities must form one of
    two shapes (logs, z-free factors and p(x | z) to a power >= 0 aside):

    * a weighted geometric mean  d1**a1 * ... * dn**an  with every ai in [0, 1] and a1 + ... +
      an = 1 (q(z), q(z) log q(z), sqrt(q(z) p(z))): finite for *every* densities by Hoelder's
      inequality (the integral is at most (Sum d1)**a1 ... (Sum dn)**an = 1);
    * such a mean times a power s != 0 of an importance ratio  (p(z) p(x | z) / m(z))**s  of the
      joint over one of the densities (Renyi's (p(x, z) / q(z))**(1 - alpha) for alpha in (0, 1)
      and above 1, the chi-square bound's (p(x, z) / q(z))**2): the literature's bounds, stated
      where they are finite.

    NOT_A_DENSITY: no density of z to the first power at all (Sum(1, z), exp(q(z))); NOT_INTEGRABLE:
    densities in another shape (q(z)**2, q(z)**2 / p(z), q(z)**t with t != 1), infinite for many
    densities and needed by no derivation; NEGATIVE_POWER: a geometric mean times p(x | z) (or
    another pointwise symbol that is no density of z) to a power not shown >= 0 on the whole
    parameter domain (p(z) / p(x | z), p(z) exp(t log p(x | z)) for t real): infinite for Gaussian
    models (rt3 F6).  Powers in [0, 1] are finite by Hoelder, larger ones where p(x | z) is bounded.

    `priors`: the densities of z that times p(x | z) are the joint p(x, z) (the model's prior): the
    only ones an importance ratio's numerator may be (q(z) p(x | z) / p(z) is no ratio of the joint,
    and its negative powers are infinite for Gaussian models: red team rt5).

    `ratios`: pairs (conditional, marginal) of one variable whose ratio is a function of another
    variable's density (the chain's p(z1 | z2) / p(z1) = p(z2 | z1) / p(z2)): such a ratio to a
    power counts as p(x | z) does, not as densities of this layer."""
    exponents = _exponents(body, densities, pointwise)
    if exponents is None:
        return NOT_A_DENSITY
    own = {b: a for b, a in exponents.items() if b in densities or isinstance(b, Add)}
    if not at_least_one(Add(*own.values())):
        return NOT_A_DENSITY
    for conditional, marginal in ratios:  # (conditional / marginal)**e: a likelihood-like factor
        e = -_expand(own.get(marginal, Integer(0)))
        if e.is_Rational and e > 0 and _expand(own.get(conditional, Integer(0)) - e).is_nonnegative:
            own[conditional], own[marginal] = own[conditional] - e, Integer(0)
    others = {_expand(a) for b, a in exponents.items() if b not in own}
    if _geometric_mean(own, model):
        return None if all(_nonnegative(a, model) for a in others) else NEGATIVE_POWER
    if len(others) == 1:
        (s,) = others
        if _positive(s, model) or _positive(_expand(-s), model):
            for joint in own.keys() & priors:
                for m in own:
                    shifted = dict(own)
                    shifted[joint] = shifted[joint] - s
                    shifted[m] = shifted[m] + s
                    if _geometric_mean(shifted, model):
                        return None
    return NOT_INTEGRABLE


def refusal_message(what: str, layer: str, refusal: str) -> str:
    """The one-line reason a sum over `layer` is refused with K = "any" (no internal forms)."""
    if refusal == NOT_A_DENSITY:
        return (f"{what} has no meaning for every latent space: a term of it is not a density of {layer} times a "
                f"function (like Sum(1, {layer}), infinite for densities); give an explicit K")
    if refusal == NEGATIVE_POWER:
        return (f"{what} is not admitted for every latent space: a term of it has p(x | {layer}) (or another "
                f"function of {layer} that is no density of it) to a power not shown >= 0 on the whole parameter "
                f"domain, and its integral is infinite for densities such as Gaussian ones (like "
                f"Sum(p({layer}) / p(x | {layer}), {layer}), or p(x | {layer})**t for t < 0); give an explicit K, "
                f"or a domain of the exponent's parameters where it is >= 0")
    return (f"{what} is not admitted for every latent space: a term of it has its densities of {layer} in a shape "
            f"whose integral is infinite for many densities (like Sum(q({layer})**2 / p({layer}), {layer}) or "
            f"Sum(q({layer})**2, {layer})); with K = \"any\" a summand must be a density (or a weighted geometric "
            f"mean of densities) times logs and p(x | {layer}), or a power of the importance ratio p(x, {layer}) / "
            f"q({layer}) under q; give an explicit K")


def _geometric_mean(exponents: dict, model=None) -> bool:
    """Every exponent in [0, 1] (a number, or with the model: a parameter's expression shown in
    (0, 1) on its domain, as t and 1 - t for t in (0, 1)), the exponents summing to exactly 1."""
    values = [_expand(a) for a in exponents.values()]
    if _expand(Add(*values)) != 1:
        return False
    return all(v.is_Rational and 0 <= v <= 1 or model is not None and _positive(v, model)
               and _positive(_expand(1 - v), model) for v in values)


def _nonnegative(s: Expr, model) -> bool:
    """`s` >= 0 on the whole parameter domain, with a certificate (a number, or with the model: t
    with t in (0, 1))."""
    if s.is_Rational or model is None:
        return bool(s.is_Rational and s >= 0)
    from elbo_sym.engine.definedness import nonnegative

    return nonnegative(s, model)


def _positive(s: Expr, model) -> bool:
    if s.is_Rational:
        return bool(s > 0)
    from elbo_sym.engine.definedness import strict_sign

    return strict_sign(s, model) == 1


def _exponents(e: Expr, densities: frozenset, pointwise: frozenset) -> dict | None:
    """`e` as a product of powers: {base: exponent} over the densities of z, the other pointwise
    symbols (p(x | z)) and mixtures of densities (an Add, one base); logs and z-free factors
    count nothing, and so does another function of p(x | z) alone with no log and no power below
    0 in it (exp(p(x | z))).  None when `e` is not such a product (exp(q(z)), 1 + q(z),
    exp(1 / p(x | z)))."""
    found = _powers(e, densities, pointwise)
    if found is None and not e.free_symbols & densities and _no_log_or_negative_power(e, pointwise):
        return {}
    return found


def _no_log_or_negative_power(e: Expr, pointwise: frozenset) -> bool:
    """No log of, and no power other than a number >= 0 of, anything that depends on z in `e`."""
    for node in preorder_traversal(e):
        if isinstance(node, log) and node.free_symbols & pointwise:
            return False
        if isinstance(node, Pow) and node.base.free_symbols & pointwise and not (
                node.exp.is_Rational and node.exp >= 0):
            return False
    return True


def _powers(e: Expr, densities: frozenset, pointwise: frozenset) -> dict | None:
    """`_exponents` without its fallback for functions of p(x | z) alone."""
    if not e.free_symbols & (densities | pointwise):  # z-free
        return {}
    if e in densities or e in pointwise:
        return {e: Integer(1)}
    if isinstance(e, log):  # a log counts 0 (as in H(q) for densities)
        return {}
    if isinstance(e, exp):  # exp(sum of c * log(f)) = prod f**c, z-free c
        total: dict = {}
        for term in Add.make_args(_expand(e.args[0])):
            coefficient, dependent = _separate(term, pointwise)
            if dependent == 1:
                continue
            if not isinstance(dependent, log):
                return None
            inner = _exponents(dependent.args[0], densities, pointwise)
            if inner is None:
                return None
            _merge(total, inner, coefficient)
        return total
    if isinstance(e, Pow):
        base = _exponents(e.base, densities, pointwise)
        if base is None or e.exp.free_symbols & pointwise:
            return None
        return {b: a * e.exp for b, a in base.items()}
    if isinstance(e, Mul):
        product: dict = {}
        for factor in e.args:
            found = _exponents(factor, densities, pointwise)
            if found is None:
                return None
            _merge(product, found, Integer(1))
        return product
    if isinstance(e, Add):  # a mixture of densities (weights z-free) is a density; logs count 0
        owns = []
        for term in e.args:
            inner = _exponents(_separate(term, pointwise)[1], densities, pointwise)
            if inner is None:
                return None
            if not all(_nonnegative(_expand(a), None) for a in inner.values()):
                return None  # 1 + 1/p(x | z): a negative power (or a parameter's) inside a sum
            owns.append({b: a for b, a in inner.items() if b in densities or isinstance(b, Add)})
        if not any(owns):  # log(q(z)) + log(p(z)): a function of degree 0
            return {}
        if all(_geometric_mean(own) for own in owns):
            return {e: Integer(1)}
        return None  # 1 + q(z), q(z) + q(z)**2: no mixture
    return None


def _merge(total: dict, more: dict, scale: Expr) -> None:
    for base, a in more.items():
        total[base] = total.get(base, Integer(0)) + scale * a


def _separate(term: Expr, pointwise: frozenset) -> tuple[Expr, Expr]:
    """(z-free factor, z-dependent factor) of a product."""
    free: list[Expr] = []
    dependent: list[Expr] = []
    for factor in Mul.make_args(term):
        (dependent if factor.free_symbols & pointwise else free).append(factor)
    return Mul(*free), Mul(*dependent)


_SPLIT_LOGS = ("split logs",)
"""The key, in a model's sign memo, of its memo of `_split_logs`' answers."""


def _split_logs(e: Expr, model: GeneralModel) -> Expr:
    """log of a structurally positive product -> sum of logs of its factors (recursively).
    Remembered per model (a pure function of the two: each sum splits the logs of the same
    unfolded densities again; 2,982 calls, 656 distinct on the 74 files)."""
    if not e.args:  # an atom: nothing to split
        return e
    return remembered(model.sign_memo.setdefault(_SPLIT_LOGS, {}), e, lambda: _split_logs_once(e, model))


def _split_logs_once(e: Expr, model: GeneralModel) -> Expr:
    from elbo_sym.engine.definedness import strict_sign

    if isinstance(e, log):
        argument = _split_logs(e.args[0], model)
        if strict_sign(argument, model) != 1:
            return log(argument, evaluate=False)
        parts = []
        for factor in Mul.make_args(argument):
            base, power = (factor.base, factor.exp) if factor.is_Pow and factor.exp.is_Integer else (factor, 1)
            if base.is_Rational:
                parts.append(power * log(Rational(base), evaluate=False))
            elif isinstance(base, exp):
                parts.append(power * base.args[0])
            else:
                parts.append(power * log(base, evaluate=False))
        return Add(*parts)
    if not e.args or e.is_Atom:
        return e
    if isinstance(e, Pow):
        return Pow(_split_logs(e.base, model), e.exp)
    return e.func(*(_split_logs(a, model) for a in e.args))


__all__ = ["GeneralModel", "GENERIC", "SEARCH_K", "INTEGRABILITY_CONVENTION"]

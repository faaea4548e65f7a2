"""The discrete family: K latent states, one or several observations, optional parameters.

One positive symbol per probability: prior ``pi_k``, likelihood ``l_k = p(x | z=k)`` and
variational ``q_k`` (for several observations ``l_x1_k``, ``q_x1_k``, ...), with the
linear constraints sum(pi) = 1 and sum(q) = 1 for each observation.  Keeping every
probability its own positive symbol (instead of writing 1 - pi_0) is what makes
log-expansion sound: SymPy only splits log(a*b) when it knows a and b are positive.
Parameters declared in ``[params]`` are real symbols with their intervals.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property, lru_cache

from sympy import Add, Expr, Mul, Rational, Symbol, exp, log, preorder_traversal
from sympy.core.cache import cacheit

from elbo_sym import limits
from elbo_sym.engine.models.base import (
    DATA_BLOCK,
    LOG_ATOMS,
    PARAMETER,
    SIMPLEX,
    UNIT,
    Block,
    BlockInstances,
    Distribution,
    Instance,
    ModelSpec,
    Unfolding,
    assumption_observation,
    indexed_likelihood_block,
    likelihood_block,
    likelihood_column_block,
    limit_moves,
    prior_block,
    q_block,
    q_label,
    symbol_legend,
    validate_blocks,
    variational_block,
)
from elbo_sym.engine.notation import (
    DATA_DENSITY,
    ELBO,
    IWAE,
    KL,
    LATENTS,
    Density,
    Draw,
    Entropy,
    Expectation,
    Index,
    LatentSum,
    Limit,
    Normal,
    distribution_variables,
    is_derived,
    limit_value,
    to_text,
    z,
)


class UnfoldError(ValueError):
    """An expression that has no meaning in the model (e.g. a free z outside a sum)."""


class TooManyTerms(UnfoldError):
    """An unfolding of more than limits.MAX_IWAE_TERMS terms: the model is too large for the expression
    (not the expression wrong), so a K = "any" search stops at that K and an explicit K is told
    the largest it may be."""

    def __init__(self, what: str, K: int, power: int):
        terms = K ** power
        largest = next(n for n in range(K, 0, -1) if n ** power <= limits.MAX_IWAE_TERMS)
        super().__init__(f"{what} has K**{power} = {terms} terms at K = {K}, more than the {limits.MAX_IWAE_TERMS} "
                         f"that are unfolded: write K = {largest} or smaller")
        self.K, self.terms = K, terms


_POSTERIORS: dict[tuple, tuple[Fraction, ...]] = {}
MAX_REMEMBERED_POSTERIORS = 4096


def bayes(prior: tuple[Fraction, ...], likelihood: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
    """p(z | o) from p(z) and p(o | z) by Bayes' rule, exactly.  Remembered (a pure function of the
    values, keyed by their numerators and denominators: hashing Fractions costs almost what Bayes'
    rule does): the search's boundary instances share a few hundred posteriors among tens of
    thousands of tight cases (26,688 of 144 distinct at K = 2 for rt9's four-point data space)."""
    key = (len(prior), *[(v.numerator, v.denominator) for v in (*prior, *likelihood)])
    known = _POSTERIORS.get(key)
    if known is None:
        joint = [p * v for p, v in zip(prior, likelihood)]
        total = sum(joint)
        known = tuple(j / total for j in joint)
        if len(_POSTERIORS) >= MAX_REMEMBERED_POSTERIORS:
            _POSTERIORS.clear()
        _POSTERIORS[key] = known
    return known


@dataclass(frozen=True, init=False)
class DiscreteModel(BlockInstances):
    """K latent states (``DiscreteModel(3)``, or from a file's ``ModelSpec``)."""

    K: int
    spec: ModelSpec

    def __init__(self, K: int = 2, spec: ModelSpec | None = None) -> None:
        # written out (init=False) so that `spec` is a ModelSpec once built, never None
        if not isinstance(K, int) or isinstance(K, bool) or K < 2:
            raise ValueError(f"K must be an integer >= 2, got {K!r}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "spec", spec if spec is not None else ModelSpec("discrete", K))

    # -- observations and parameters ---------------------------------------------------

    @property
    def observations(self) -> tuple[str, ...]:
        return self.spec.data

    def _names(self, stem: str, observation: str) -> tuple[Symbol, ...]:
        middle = "" if observation == "x" else f"{observation}_"
        return tuple(Symbol(f"{stem}_{middle}{k}", positive=True) for k in range(self.K))

    @cached_property
    def prior(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"pi_{k}", positive=True) for k in range(self.K))

    @cached_property
    def likelihoods(self) -> dict[str, tuple[Symbol, ...]]:
        return {o: self._names("l", o) for o in self.observations}

    @cached_property
    def q_symbols_of(self) -> dict[str, tuple[Symbol, ...]]:
        return {o: self._names("q", o) for o in self.observations}

    @cached_property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """q of each observation an assumption fixes, as an expression per state (unfolded in
        the model where every q is free; the loader refuses an assumption that names a q
        another assumption fixes, so nothing is read before it is defined)."""
        if not self.spec.assumptions:
            return {}
        free = DiscreteModel(self.K, replace(self.spec, assumptions=()))
        return {assumption_observation(r): tuple(free.unfold(r.rhs.expr, k) for k in range(self.K))
                for r in self.spec.assumptions}

    @cached_property
    def variational_symbols(self) -> dict[tuple[str, str], tuple[Symbol, ...]]:
        """(name, observation) -> the free values of r(z | o), q_star(z | o) (beside q)."""
        return {(name, o): self._names(name.replace("_", ""), o) for name in self.spec.variationals
                for o in self.observations}

    @cached_property
    def indexed_prior(self) -> dict[str, tuple[Symbol, ...]]:
        """p(z | theta) per parameter: its own positive symbols (an arbitrary table for each value)."""
        return {t: tuple(Symbol(f"pi@{t}_{k}", positive=True) for k in range(self.K)) for t in self.spec.indices}

    @cached_property
    def indexed_likelihoods(self) -> dict[tuple[str, str], tuple[Symbol, ...]]:
        """p(o | z; theta) per (observation, parameter)."""
        # "@" never occurs in a name: l@theta_0 and l_x1@theta_0 can never meet another table's symbol
        return {(o, t): tuple(Symbol(f"l{'' if o == 'x' else '_' + o}@{t}_{k}", positive=True) for k in range(self.K))
                for o in self.observations for t in self.spec.indices}

    @cached_property
    def indexed_evidences(self) -> dict[tuple[str, str], Expr]:
        return {(o, t): Add(*(pi * l for pi, l in zip(self.indexed_prior[t], self.indexed_likelihoods[(o, t)])))
                for o in self.observations for t in self.spec.indices}

    @cached_property
    def _inverse_indexed_evidence(self) -> dict[tuple[str, str], Expr]:
        return {key: 1 / e for key, e in self.indexed_evidences.items()}

    def q_of(self, observation: str) -> tuple[Expr, ...]:
        """q(z = k | observation) for each k: the assumed values, or the free symbols."""
        return self.assumed.get(observation, self.q_symbols_of[observation])

    # single-observation names, for code (and tests) about a model with one x; with several
    # observations there is no "the" q or likelihood: ask for one observation's
    @property
    def likelihood(self) -> tuple[Symbol, ...]:
        return self.likelihoods[self._only_observation()]

    @property
    def q_symbols(self) -> tuple[Symbol, ...]:
        return self.q_symbols_of[self._only_observation()]

    def _only_observation(self) -> str:
        if len(self.observations) != 1:
            raise ValueError(f"the model has {len(self.observations)} observations: say which one")
        return self.observations[0]

    @cached_property
    def evidences(self) -> dict[str, Expr]:
        """p(x) = sum_k pi_k l_k for each observation: the marginal the lesson calls intractable."""
        return {o: Add(*(pi * l for pi, l in zip(self.prior, self.likelihoods[o]))) for o in self.observations}

    @cached_property
    def _inverse_evidence(self) -> dict[str, Expr]:
        # one shared object per observation: SymPy caches assumptions per object, and asking them
        # of a fresh 1/p(x) for each of K posteriors costs O(K) each
        return {o: 1 / e for o, e in self.evidences.items()}

    def posterior(self, k: int, observation: str) -> Expr:
        o = observation
        return Mul(self.prior[k], self.likelihoods[o][k], self._inverse_evidence[o])

    # -- the Model interface -------------------------------------------------------------

    @property
    def points(self) -> range:
        """The values z takes when the notation is unfolded."""
        return range(self.K)

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        if self.spec.indices:  # a parameterised model: tables per parameter, none without one
            out = []
            for t in self.spec.indices:
                out.append(Block(prior_block(t), f"p(z | {t})", SIMPLEX, self.indexed_prior[t]))
                if self.spec.data_space:  # each parameter's p(. | z; theta) a distribution over x at every z
                    space = ", ".join(self.observations)
                    out += [Block(likelihood_column_block(k, t), f"p(x | z = {k}; {t}) over x = {space}",
                                  SIMPLEX, tuple(self.indexed_likelihoods[(o, t)][k] for o in self.observations))
                            for k in range(self.K)]
                    continue
                for o in self.observations:
                    out.append(Block(indexed_likelihood_block(o, t), f"p({o} | z; {t})", UNIT,
                                     self.indexed_likelihoods[(o, t)]))
        else:
            out = [Block("prior", "p(z)", SIMPLEX, self.prior)]
            if self.spec.data_space:  # normalised over the data space: for each z, a distribution over x
                space = ", ".join(self.observations)
                out += [Block(likelihood_column_block(k), f"p(x | z = {k}) over x = {space}", SIMPLEX,
                              tuple(self.likelihoods[o][k] for o in self.observations)) for k in range(self.K)]
            for o in self.observations if not self.spec.data_space else ():
                given = f"{o} | z"
                out.append(Block(likelihood_block(o), f"p({given})", UNIT, self.likelihoods[o]))
        fixed = {assumption_observation(r) for r in self.spec.assumptions}  # no unfolding needed here
        for o in self.observations:
            if o not in fixed:
                out.append(Block(q_block(o), q_label(o, self.observations), SIMPLEX, self.q_symbols_of[o]))
        if self.data_weights:
            out.append(Block(DATA_BLOCK, "p_data(x)", SIMPLEX, tuple(self.data_weights.values())))
        for (name, o), symbols in self.variational_symbols.items():
            out.append(Block(variational_block(name, o), q_label(o, self.observations).replace("q(", f"{name}(", 1),
                             SIMPLEX, symbols))
        for p in self.spec.params:
            out.append(Block(p.name, p.name, PARAMETER, (self.params[p.name],), p.interval))
        return tuple(out)

    def distributions(self) -> tuple[Distribution, ...]:
        """p(z), each observation's q (free or assumed) and posterior p(z | x)."""
        texts = {assumption_observation(r): f"{r.lhs.text} = {r.rhs.text}" for r in self.spec.assumptions}
        out = [] if self.spec.indices else [Distribution("p(z)", self.prior)]
        for t in self.spec.indices:
            out.append(Distribution(f"p(z | {t})", self.indexed_prior[t]))
            for o in self.observations:
                out.append(Distribution(f"p(z | {o}; {t})", tuple(self.indexed_posterior(k, o, t)
                                                                   for k in range(self.K))))
        for o in self.observations:
            out.append(Distribution(q_label(o, self.observations), self.q_of(o), assumption=texts.get(o)))
            if not self.spec.indices:
                out.append(Distribution(f"p(z | {o})", tuple(self.posterior(k, o) for k in range(self.K))))
        for (name, o), symbols in self.variational_symbols.items():
            out.append(Distribution(q_label(o, self.observations).replace("q(", f"{name}(", 1), symbols))
        return tuple(out)

    def indexed_posterior(self, k: int, observation: str, index: str) -> Expr:
        """p(z = k | o; theta) by Bayes' rule in the model of parameter `index`."""
        key = (observation, index)
        return Mul(self.indexed_prior[index][k], self.indexed_likelihoods[key][k], self._inverse_indexed_evidence[key])






    def latent_sum(self, values) -> Expr:
        """Sum over z of one value per point."""
        return Add(*values)

    def describe(self) -> str:
        """What `proved` covers, in words."""
        return "every binary model" if self.K == 2 else f"every model with {self.K} latent states"

    def describe_unfolding(self) -> Unfolding:
        """Each state's prior, likelihood and q; the last state's prior (and q, unless an assumption fixes
        it) eliminated by the simplex."""
        fixed = bool(self.assumed)  # some observation's q is fixed by an assumption
        last = self.K - 1
        eliminated = f"pi_{last} = 1 - the other pi" + ("" if fixed else f", q_{last} = 1 - the other q")
        legend = symbol_legend(self.observations, "k", "z=k", evidence=False)
        return Unfolding(f"unfolded into the model (K = {self.K}; pi_k = p(z=k), {legend}"
                         f"{', q fixed by the assumption' if fixed else ''}):",
                         f"canonical forms ({eliminated}; {LOG_ATOMS}):")

    def explicit(self, K: int) -> DiscreteModel:
        """The K-state model of this family (examples of a general derivation choose their K)."""
        if K != self.K:
            raise UnfoldError(f"an instance with {K} states in a model with K = {self.K}")
        return self




    def special_instances(self, base: Instance) -> list[Instance]:
        """Where the lesson's claims are tight or trivial: q = p(z | x) and q = p(z)."""
        if self.spec.indices or self.spec.variationals:
            return self._special_indexed(base)
        out = []
        free = [o for o in self.observations if o not in self.assumed]
        if free:
            tight, prior = base, base
            for o in free:
                tight = tight.with_block(q_block(o), self._posterior_at(base, o))
                prior = prior.with_block(q_block(o), base.prior)
            out += [Instance(tight.blocks, "tight case q = p(z | x)"), Instance(prior.blocks, "q = p(z)")]
        return out

    def _likelihood_tables(self) -> list:
        """The likelihood blocks of a parameterised model, each as a function of the parameter:
        one per observation, or one per z over the data space."""
        if self.spec.data_space:
            return [lambda t, k=k: likelihood_column_block(k, t) for k in range(self.K)]
        return [lambda t, o=o: indexed_likelihood_block(o, t) for o in self.observations]

    def _likelihood_row(self, instance: Instance, o: str, index: str | None = None) -> tuple:
        """p(o | z) (or p(o | z; index)) at every z of an instance: a row block, or read across
        the columns over the data space."""
        if not self.spec.data_space:
            return instance[likelihood_block(o) if index is None else indexed_likelihood_block(o, index)]
        i = self.observations.index(o)
        return tuple(instance[likelihood_column_block(k, index)][i] for k in range(self.K))

    def _posterior_at(self, instance: Instance, o: str, index: str | None = None) -> tuple:
        """p(z | o) (or p(z | o; index)) at an instance by Bayes' rule, exactly."""
        prior = instance["prior"] if index is None else instance[prior_block(index)]
        return bayes(prior, self._likelihood_row(instance, o, index))

    def _special_indexed(self, base: Instance) -> list[Instance]:
        """With r or a parameterised model: every q, r, q_star set to each parameter's posterior
        (the E-step's tight case) or prior, to each other, and each parameter's tables made equal
        to the first's (theta_new = theta_old)."""
        indices = self.spec.indices or (None,)
        free = [o for o in self.observations if o not in self.assumed]
        names = ["q"] * bool(free) + list(self.spec.variationals)

        def block(name: str, o: str) -> str:
            return q_block(o) if name == "q" else variational_block(name, o)

        out: list[Instance] = []
        for t in indices:
            groups = [[chosen] for chosen in names] + ([names] if len(names) > 1 else [])
            for group in groups:  # one distribution tight at a time, and all of them at once
                tight = {block(name, o): self._posterior_at(base, o, t)
                         for name in group for o in (free if name == "q" else self.observations)}
                out.append(base.with_blocks(tight, f"{', '.join(group)} = p(z | x{'; ' + t if t else ''})"))
            if names:  # every distribution the prior (of that model): q = p(z)
                prior = base[prior_block(t)] if t is not None else base["prior"]
                out.append(base.with_blocks({block(name, o): prior for name in names
                                             for o in (free if name == "q" else self.observations)},
                                            f"{', '.join(names)} = p(z{' | ' + t if t else ''})"))
        for a in names:  # two distributions equal: r = q
            for b in names:
                if a < b:
                    inst = base
                    for o in self.observations:
                        if (a == "q" and o not in free) or (b == "q" and o not in free):
                            continue
                        inst = inst.with_block(block(b, o), base[block(a, o)])
                    out.append(Instance(inst.blocks, f"{b} = {a}"))
        for t in self.spec.indices[1:]:  # the parameters' models equal: theta_new = theta_old
            first = self.spec.indices[0]
            inst = base.with_block(prior_block(t), base[prior_block(first)])
            for table_of in self._likelihood_tables():
                inst = inst.with_block(table_of(t), base[table_of(first)])
            out.append(Instance(inst.blocks, f"the model of {t} = the model of {first}"))
        return out

    # -- unfolding ------------------------------------------------------------------------

    def indexed_density(self, d: Density, k: int | None, index: str) -> Expr:
        """A density of the model with parameter `index` (p(x | z; theta), ...) at z = k."""
        if index not in self.spec.indices:
            raise UnfoldError(f"'{index}' does not index this model")
        variables, given = d.variables, tuple(g for g in d.given if not isinstance(g, Index))
        if z not in variables and z not in given:
            if len(variables) == 1 and not given and variables[0] != z:
                o = self._observation(variables[0])
                return self.indexed_evidences[(o, index)]
            raise UnfoldError(f"no value for {to_text(d)} in the discrete model")
        if k is None:
            raise UnfoldError(f"{d.name}(...) mentions z outside a Sum, E, KL, H or ELBO")
        if variables == (z,) and not given:
            return self.indexed_prior[index][k]
        observed = [v for v in variables + given if v != z]
        if len(observed) == 1:
            o = self._observation(observed[0])
            if variables in ((observed[0], z), (z, observed[0])) and not given:
                return self.indexed_prior[index][k] * self.indexed_likelihoods[(o, index)][k]
            if variables == (observed[0],) and given == (z,):
                return self.indexed_likelihoods[(o, index)][k]
            if variables == (z,) and given == (observed[0],):
                return self.indexed_posterior(k, o, index)
        raise UnfoldError(f"no value for {to_text(d)} in the discrete model")

    def density(self, d: Density, k: int | None) -> Expr:
        """The value of a density at z = k (k is None where z is not bound)."""
        name, variables, given = d.name, d.variables, d.given
        if name == DATA_DENSITY:
            return self.data_weight(d)
        indices = [g for g in given if isinstance(g, Index)]
        if indices:
            return self.indexed_density(d, k, indices[0].name)
        if name == "p" and self.spec.indices:
            raise UnfoldError(f"{to_text(d)}: say which parameter, as in p(x | z; {self.spec.indices[0]}) (the "
                              f"model depends on {', '.join(self.spec.indices)})")
        if name in ("r", "q_star"):
            if name not in self.spec.variationals:
                raise UnfoldError(f"{name} is not a distribution of this model")
            if k is None:
                raise UnfoldError(f"{name}(...) mentions z outside a Sum, E, KL, H or ELBO")
            if not given and len(self.observations) > 1:
                raise UnfoldError(f"with several observations say which {name}: {name}(z | x1)")
            o = self._observation(given[0]) if given else self.observations[0]
            return self.variational_symbols[(name, o)][k]
        if z not in variables and z not in given:  # only p(x) has a value without z
            bare = variables + given
            if name == "p" and len(bare) == 1:
                o = self._observation(bare[0])
                if variables == bare:
                    return self.evidences[o]
            raise UnfoldError(f"no value for {to_text(d)} in the discrete model")
        if k is None:
            raise UnfoldError(f"{d.name}(...) mentions z outside a Sum, E, KL, H or ELBO")
        if name == "p" and variables == (z,) and not given:
            return self.prior[k]
        if name == "q" and variables == (z,):
            if not given:
                if len(self.observations) > 1:
                    raise UnfoldError("with several observations say which q: q(z | x1)")
                return self.q_of(self.observations[0])[k]
            return self.q_of(self._observation(given[0]))[k]
        if name == "p":
            observed = [v for v in variables + given if v != z]
            if len(observed) == 1:
                o = self._observation(observed[0])
                if variables in ((observed[0], z), (z, observed[0])) and not given:
                    return self.prior[k] * self.likelihoods[o][k]
                if variables == (observed[0],) and given == (z,):
                    return self.likelihoods[o][k]
                if variables == (z,) and given == (observed[0],):
                    return self.posterior(k, o)
        raise UnfoldError(f"no value for {to_text(d)} in the discrete model")

    def _observation(self, symbol: Symbol) -> str:
        if symbol.name not in self.observations:
            raise UnfoldError(f"'{symbol.name}' is not an observation of this model "
                              f"(data = {list(self.observations)})")
        return symbol.name

    def weight(self, d: Expr, k: int) -> Expr:
        """The value at z = k of a distribution argument of E, KL, H, ELBO: a density, or a
        derived distribution over z (a mixture, a softmax) unfolded at k."""
        if isinstance(d, Density):
            return self.density(d, k)
        if not is_derived(d) or distribution_variables(d) != (z,):
            raise UnfoldError(f"{to_text(d)} is not a distribution over z of the discrete model")
        return self.unfold(d, k)
    def data_weight(self, d: Density) -> Symbol:
        """p_data(o): the data distribution's weight of observation o."""
        (o,) = d.variables
        if not self.data_weights:
            raise UnfoldError("p_data(...) needs a model with the data distribution")
        return self.data_weights[self._observation(o)]

    def unfold(self, e: Expr, k: int | None = None) -> Expr:
        """Replace notation by its definition in the model's parameters (z bound to k)."""
        # Memoized: a z-free subexpression such as log(p(x)) inside Sum(q(z) * log(p(x)), z)
        # unfolds to the same value for every k; building it (and letting SymPy evaluate
        # log of a K-term sum) K times made unfolding quadratic in K.
        key = (e, k if k is not None and self._free(e) else None)
        known = self._unfold_memo.get(key)
        if known is None:
            known = self._unfold_memo[key] = self._unfold(e, key[1])
        return known

    @cached_property
    def _unfold_memo(self) -> dict:
        return {}

    @cached_property
    def _free_memo(self) -> dict:
        return {}

    def _free(self, e: Expr) -> bool:
        """has_free_latent(e), memoized per subtree."""
        known = self._free_memo.get(e)
        if known is None:
            known = self._free_memo[e] = has_free_latent(e)
        return known

    def _unfold(self, e: Expr, k: int | None) -> Expr:
        if isinstance(e, Density):
            return self.density(e, k)
        if isinstance(e, Limit):
            return self.unfold(self.limit_of(e), k)
        if isinstance(e, LatentSum) and isinstance(e.args[1], Draw):  # z keeps its own point k
            nested = sum(1 for node in preorder_traversal(e) if isinstance(node, LatentSum))
            if self.K ** nested > limits.MAX_IWAE_TERMS:
                raise TooManyTerms(f"a sum over {nested} draws of the latent variable", self.K, nested)
            return Add(*(self.unfold(self.pin_draw(e.body, e.args[1], j), k) for j in range(self.K)))
        if isinstance(e, LatentSum):
            return Add(*(self.unfold(e.body, j) for j in range(self.K)))
        if isinstance(e, Expectation):
            return Add(*(self.weight(e.distribution, j) * self.unfold(e.body, j) for j in range(self.K)))
        if isinstance(e, KL):
            a, b = e.args
            return Add(*(self.weight(a, j) * _log(self.weight(a, j) / self.weight(b, j))
                         for j in range(self.K)))
        if isinstance(e, Entropy):
            (a,) = e.args
            return -Add(*(self.weight(a, j) * _log(self.weight(a, j)) for j in range(self.K)))
        if isinstance(e, ELBO):
            a, joint = e.distribution, e.joint
            return Add(*(self.weight(a, j) * _log(self.density(joint, j) / self.weight(a, j))
                         for j in range(self.K)))
        if isinstance(e, IWAE):
            return Add(*(w * _log(Add(*ratios) / e.samples) for w, ratios in self.iwae_terms(e)))
        if isinstance(e, log):
            return _log(self.unfold(e.args[0], k))
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        if e.args:
            return e.func(*(self.unfold(arg, k) for arg in e.args))
        return e

    def limit_of(self, e: Limit) -> Expr:
        """The value of a limit a theorem gives here (notation.limit_value); UnfoldError otherwise."""
        moving = limit_moves(e, self.spec)
        if moving is not None:
            raise UnfoldError(f"{to_text(e)} has no certified value: {moving}")
        interval = {s.name: iv for s, iv in self.parameter_bounds.items()}.get(e.variable.name)
        value = limit_value(e, interval, explicit=True)
        if value is None:
            raise UnfoldError(f"{to_text(e)} has no certified value: a theorem gives the Renyi bound's limit as "
                              f"alpha -> 1 or 0 (inside alpha's domain) and IWAE(q, k) -> log p(x) as k -> oo")
        return value

    def pin_draw(self, body: Expr, draw: Draw, point: int) -> Expr:
        """`body` with the draw at state `point`: each density at the draw (q(w), p(x, w)) is
        replaced by its value there, the density at z of the same name at z = point."""
        return pin_densities(body, draw, lambda d: self.density(d, point))

    def iwae_terms(self, e: IWAE) -> list[tuple[Expr, tuple[Expr, ...]]]:
        """IWAE(q, k) as a weighted sum over the K**k tuples (z_1, ..., z_k) of latent states:
        per tuple its probability q(z_1)...q(z_k) and the k weights p(x, z_i) / q(z_i)."""
        if e.symbolic:
            raise UnfoldError(f"IWAE({to_text(e.distribution)}, {to_text(e.count)}) with a symbolic number of "
                              f"samples has no finite unfolding: only the rules iwae-bound and iwae-monotone "
                              f"reason about it (log(p(x)) >= IWAE(q, k) and IWAE(q, k + 1) >= IWAE(q, k), "
                              f"for every k)")
        K, k = self.K, e.samples
        if K ** k > limits.MAX_IWAE_TERMS:
            raise TooManyTerms(f"IWAE with k = {k} samples", K, k)
        a, joint = e.distribution, e.joint
        q_values = [self.weight(a, j) for j in range(K)]
        ratios = [self.density(joint, j) / q_values[j] for j in range(K)]
        return [(Mul(*(q_values[j] for j in t)), tuple(ratios[j] for j in t))
                for t in itertools.product(range(K), repeat=k)]

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """One unfolded expression per value of z when z is free (a claim 'for all z'), else one."""
        if has_free_latent(e):
            return tuple(self.unfold(e, k) for k in range(self.K))
        return (self.unfold(e),)

    # -- instances (the lesson's own vocabulary) ---------------------------------------------

    def instance(self, prior, likelihood, q=None) -> dict[Symbol, Rational]:
        """SymPy values for an example with one observation (validated: probabilities in (0, 1], sums 1)."""
        observation = self._only_observation()
        blocks = {"prior": prior, "likelihood": likelihood}
        if observation not in self.assumed:
            if q is None:
                raise ValueError("the example needs q (no assumption fixes it)")
            blocks["q"] = q
        instance = Instance.of("example", **blocks)
        self.validate(instance)
        return {s: Rational(v.numerator, v.denominator) for s, v in self.values(instance).items()}


def pin_densities(body: Expr, draw: Draw, value) -> Expr:
    """`body` with every density at `draw` replaced by ``value(the same density at z)``: a
    density mentions one latent point (the parser says so), so renaming the draw to z is exact."""
    return body.xreplace({d: value(d.xreplace({draw: z})) for d in _densities_at(body, draw)})


@cacheit
def _densities_at(body: Expr, draw: Draw) -> frozenset:
    """The densities in `body` that mention `draw`: one walk of the body, remembered in SymPy's
    cache (a sum over K states pins the same body at each state; sampled, the walks were about 1.5 %
    of the tree's CPU)."""
    return frozenset(d for d in preorder_traversal(body) if isinstance(d, Density) and draw in d.variables + d.given)


def observation_of(density: Expr) -> str:
    """The observation a q(z | x1) density is about ("x" for q(z))."""
    if isinstance(density, Density) and density.given:
        return density.given[0].name
    return "x"


def _log(argument: Expr) -> Expr:
    """log, unevaluated: SymPy's automatic evaluation of log(pi_k l_k / p(x)) inspects the
    K-term sum p(x) each time (quadratic in K), and canonical forms split logs themselves."""
    if isinstance(argument, exp):  # keep SymPy's log(exp(a)) = a for real a (rare, cheap)
        return log(argument)
    return log(argument, evaluate=False)


def has_free_latent(e: Expr) -> bool:
    """True when a latent variable occurs outside every binder that binds it (Sum, E, KL, H,
    ELBO bind z; with two layers, E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2))) binds z1 in
    the KL and z2 in the E)."""
    return bool(free_latents(e))


@lru_cache(maxsize=1 << 14)
def free_latents(e: Expr) -> frozenset:
    """The latent variables (z, z1, z2) free in `e` (memoized: the definedness walk asks
    it of every subtree)."""
    if isinstance(e, (ELBO, IWAE)):
        return frozenset()
    if isinstance(e, Density):
        return frozenset(v for v in e.variables + e.given if v in LATENTS or isinstance(v, Draw))
    if isinstance(e, Normal):  # N(m, v) is a distribution over z; m and v never contain z
        return frozenset()
    if isinstance(e, LatentSum):
        return free_latents(e.body) - {e.args[1]}
    if isinstance(e, Expectation):
        bound = set(distribution_variables(e.distribution))
        return (free_latents(e.distribution) | free_latents(e.body)) - bound
    if isinstance(e, (KL, Entropy)):
        first = e.args[0]
        inner = frozenset().union(*(free_latents(a) for a in e.args))
        return inner - set(first.variables) if isinstance(first, Density) else \
            inner - set(distribution_variables(first)) if is_derived(first) else inner
    if not e.args:
        return frozenset()
    return frozenset().union(*(free_latents(a) for a in e.args))


def validate_vectors(K: int, prior, likelihood, q=None, q_fixed: bool = False) -> None:
    """ValueError unless the vectors are an instance of the K-state family (no unfolding:
    cheap enough to run while a file loads, outside every budget)."""
    blocks = [Block("prior", "prior", SIMPLEX, (None,) * K), Block("likelihood", "likelihood", UNIT, (None,) * K)]
    values = {"prior": prior, "likelihood": likelihood}
    if not q_fixed:
        if q is None:
            raise ValueError("the example needs q (no assumption fixes it)")
        blocks.append(Block("q", "q", SIMPLEX, (None,) * K))
        values["q"] = q
    validate_blocks(blocks, Instance.of("example", **values))


__all__ = ["DiscreteModel", "UnfoldError", "has_free_latent", "free_latents", "validate_vectors", "observation_of"]

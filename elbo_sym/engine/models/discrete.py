"""The latent-variable model family, and `unfold`: notation -> model parameters.

The discrete family with K latent states has one positive symbol per probability:
prior ``pi_k``, likelihood ``l_k = p(x | z=k)`` and variational ``q_k``, with the linear
constraints sum(pi) = 1 and sum(q) = 1.  Keeping every probability its own positive
symbol (instead of writing 1 - pi_0) is what makes log-expansion sound: SymPy only splits
log(a*b) when it knows a and b are positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from sympy import Add, Expr, Mul, Rational, Symbol, exp, log

from elbo_sym.engine.notation import ELBO, KL, Density, Entropy, Expectation, LatentSum, x, z


class UnfoldError(ValueError):
    """An expression that has no meaning in the model (e.g. a free z outside a sum)."""


@dataclass(frozen=True)
class DiscreteModel:
    """K latent states; optionally q fixed to an expression per state (an assumption)."""

    K: int = 2
    q_assumed: tuple[Expr, ...] | None = field(default=None, compare=True)

    def __post_init__(self) -> None:
        if not isinstance(self.K, int) or self.K < 2:
            raise ValueError(f"K must be an integer >= 2, got {self.K!r}")

    # -- parameters ---------------------------------------------------------------

    @cached_property
    def prior(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"pi_{k}", positive=True) for k in range(self.K))

    @cached_property
    def likelihood(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"l_{k}", positive=True) for k in range(self.K))

    @cached_property
    def q_symbols(self) -> tuple[Symbol, ...]:
        return tuple(Symbol(f"q_{k}", positive=True) for k in range(self.K))

    @cached_property
    def q(self) -> tuple[Expr, ...]:
        return self.q_assumed if self.q_assumed is not None else self.q_symbols

    @cached_property
    def evidence(self) -> Expr:
        """p(x) = sum_k pi_k l_k: the marginal the lesson calls intractable in general."""
        return Add(*(pi * l for pi, l in zip(self.prior, self.likelihood)))

    def posterior(self, k: int) -> Expr:
        return Mul(self.prior[k], self.likelihood[k], self._inverse_evidence)

    @cached_property
    def _inverse_evidence(self) -> Expr:
        # one shared object: SymPy caches assumptions (is_zero, is_positive, ...) per object,
        # and asking them of a fresh 1/p(x) for each of K posteriors costs O(K) each
        return 1 / self.evidence

    @cached_property
    def elimination(self) -> dict[Symbol, Expr]:
        """The linear constraints as substitutions: the last probability = 1 - the others."""
        rules = {self.prior[-1]: 1 - Add(*self.prior[:-1])}
        if self.q_assumed is None:
            rules[self.q_symbols[-1]] = 1 - Add(*self.q_symbols[:-1])
        return rules

    @cached_property
    def parameters(self) -> tuple[Symbol, ...]:
        q = self.q_symbols if self.q_assumed is None else ()
        return self.prior + self.likelihood + q

    @property
    def points(self) -> range:
        """The values z takes when the notation is unfolded."""
        return range(self.K)

    def latent_sum(self, values) -> Expr:
        """Sum over z of one value per point."""
        return Add(*values)

    def describe(self) -> str:
        """What `proved` covers, in words."""
        return "every binary model" if self.K == 2 else f"every model with {self.K} latent states"

    def explicit(self, K: int) -> "DiscreteModel":
        """The K-state model of this family (examples of a general derivation choose their K)."""
        if K != self.K:
            raise UnfoldError(f"an instance with {K} states in a model with K = {self.K}")
        return self

    def search_models(self) -> tuple["DiscreteModel", ...]:
        """Explicit models where counterexamples are sought (this one)."""
        return (self,)

    @cached_property
    def positive_symbols(self) -> frozenset[Symbol]:
        """The parameters, each > 0 on the domain."""
        return frozenset(self.parameters)

    @cached_property
    def simplices(self) -> tuple[tuple[Symbol, ...], ...]:
        """Groups of parameters that sum to 1 (the sign certificates homogenise each)."""
        return (self.prior,) if self.q_assumed is not None else (self.prior, self.q_symbols)

    @cached_property
    def sign_memo(self) -> dict:
        """Certified signs per expression (elbo_sym.engine.definedness), shared by every step."""
        return {}

    # -- unfolding ------------------------------------------------------------------

    def density(self, d: Density, k: int | None) -> Expr:
        """The value of a density at z = k (k is None where z is not bound)."""
        if z in d.variables or z in d.given:
            if k is None:
                raise UnfoldError(f"{d.name}(...) mentions z outside a Sum, E, KL, H or ELBO")
        signature = (d.name, d.variables, d.given)
        if signature == ("p", (x,), ()):
            return self.evidence
        if signature == ("p", (z,), ()):
            return self.prior[k]
        if signature == ("p", (x, z), ()):
            return self.prior[k] * self.likelihood[k]
        if signature == ("p", (x,), (z,)):
            return self.likelihood[k]
        if signature == ("p", (z,), (x,)):
            return self.posterior(k)
        if signature == ("q", (z,), ()):
            return self.q[k]
        raise UnfoldError(f"no value for {d.name}{d.variables}|{d.given} in the discrete model")

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
        if isinstance(e, LatentSum):
            return Add(*(self.unfold(e.body, j) for j in range(self.K)))
        if isinstance(e, Expectation):
            return Add(*(self.density(e.distribution, j) * self.unfold(e.body, j) for j in range(self.K)))
        if isinstance(e, KL):
            a, b = e.args
            return Add(*(self.density(a, j) * _log(self.density(a, j) / self.density(b, j))
                         for j in range(self.K)))
        if isinstance(e, Entropy):
            (a,) = e.args
            return -Add(*(self.density(a, j) * _log(self.density(a, j)) for j in range(self.K)))
        if isinstance(e, ELBO):
            (a,) = e.args
            joint = Density("p", (x, z))
            return Add(*(self.density(a, j) * _log(self.density(joint, j) / self.density(a, j))
                         for j in range(self.K)))
        if isinstance(e, log):
            return _log(self.unfold(e.args[0], k))
        if e.args:
            return e.func(*(self.unfold(arg, k) for arg in e.args))
        return e

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        """One unfolded expression per value of z when z is free (a claim 'for all z'), else one."""
        if has_free_latent(e):
            return tuple(self.unfold(e, k) for k in range(self.K))
        return (self.unfold(e),)

    # -- instances ------------------------------------------------------------------

    def instance(self, prior, likelihood, q=None) -> dict[Symbol, Rational]:
        """Exact parameter values for an example (validated: probabilities in (0, 1], sums 1)."""
        values: dict[Symbol, Rational] = {}
        _check_distribution("prior", prior, self.K)
        _check_likelihood(likelihood, self.K)
        values.update({s: _rational(v) for s, v in zip(self.prior, prior)})
        values.update({s: _rational(v) for s, v in zip(self.likelihood, likelihood)})
        if self.q_assumed is None:
            if q is None:
                raise ValueError("the example needs q (no assumption fixes it)")
            _check_distribution("q", q, self.K)
            values.update({s: _rational(v) for s, v in zip(self.q_symbols, q)})
        return values


def validate_vectors(K: int, prior, likelihood, q=None, q_fixed: bool = False) -> None:
    """ValueError unless the vectors are an instance of the K-state family (no unfolding:
    cheap enough to run while a file loads, outside every budget)."""
    _check_distribution("prior", prior, K)
    _check_likelihood(likelihood, K)
    if not q_fixed:
        if q is None:
            raise ValueError("the example needs q (no assumption fixes it)")
        _check_distribution("q", q, K)


def _log(argument: Expr) -> Expr:
    """log, unevaluated: SymPy's automatic evaluation of log(pi_k l_k / p(x)) inspects the
    K-term sum p(x) each time (quadratic in K), and canonical forms split logs themselves."""
    if isinstance(argument, exp):  # keep SymPy's log(exp(a)) = a for real a (rare, cheap)
        return log(argument)
    return log(argument, evaluate=False)


def has_free_latent(e: Expr) -> bool:
    """True when z occurs outside every binder (Sum, E, KL, H, ELBO bind it)."""
    if isinstance(e, (LatentSum, Expectation, KL, Entropy, ELBO)):
        return False
    if isinstance(e, Density):
        return z in e.variables or z in e.given
    return any(has_free_latent(a) for a in e.args)


def _rational(v) -> Rational:
    f = Fraction(v)
    return Rational(f.numerator, f.denominator)


def _check_distribution(name: str, values, K: int) -> None:
    if len(values) != K:
        raise ValueError(f"{name} has {len(values)} values; the model has K = {K} states")
    fractions = [Fraction(v) for v in values]
    if any(f <= 0 for f in fractions):
        raise ValueError(f"{name} has a probability <= 0: {', '.join(map(str, fractions))}")
    total = sum(fractions)
    if total != 1:
        raise ValueError(f"{name} sums to {total}, not 1")


def _check_likelihood(values, K: int) -> None:
    if len(values) != K:
        raise ValueError(f"likelihood has {len(values)} values; the model has K = {K} states")
    fractions = [Fraction(v) for v in values]
    if any(f <= 0 or f > 1 for f in fractions):
        raise ValueError("likelihood values p(x|z=k) must lie in (0, 1]")


__all__ = ["DiscreteModel", "UnfoldError", "has_free_latent", "validate_vectors"]

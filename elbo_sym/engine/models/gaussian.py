"""The Gaussian family: the VAE's one-dimensional building block, exactly.

Real z. Prior p(z) = N(0, 1); variational q(z) = N(mu, sigma**2); likelihood
p(x | z) = N(x; w*z + b, s**2). Built-in parameters: mu, w, b and the observation x
(real), sigma and s (> 0). Then p(x) = N(x; b, w**2 + s**2) and the posterior is
p(z | x) = N(w*(x - b) / (w**2 + s**2), s**2 / (w**2 + s**2)).

Unfolding is exact and symbolic, with no numeric integration:

* a log of Gaussian densities is a quadratic in z (``log N(v; m, var) =
  -log(2*pi*var)/2 - (v - m)**2 / (2*var)``);
* an expectation of a polynomial in z under N(m, v) is a polynomial in m and v (the
  moments E[z] = m, E[z**2] = m**2 + v, ...);
* KL(N(m1, v1), N(m2, v2)) and H(N(m, v)) have their closed forms.

So every identity reduces to rational functions of the parameters plus logs (of sigma,
s, w**2 + s**2, pi, 2) -- the discrete family's canonical forms. What has no exact form
here (an expectation of a density itself, of exp(z), a sum over z) is refused with an
UnfoldError, never approximated. A claim with a free z ("for every z") is checked with z
as one more real parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from math import comb

from sympy import Add, Expr, Integer, Poly, S, Symbol, log, pi
from sympy.polys.polyerrors import PolynomialError

from elbo_sym.engine.models.base import (
    PARAMETER,
    Block,
    BlockInstances,
    Distribution,
    Instance,
    Interval,
    ModelSpec,
)
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    Entropy,
    Exp,
    Expectation,
    LatentSum,
    Normal,
    to_text,
    x,
    z,
)

BUILTIN: tuple[tuple[str, Interval], ...] = (
    ("mu", Interval()),
    ("sigma", Interval(lower=Fraction(0), lower_open=True)),
    ("w", Interval()),
    ("b", Interval()),
    ("s", Interval(lower=Fraction(0), lower_open=True)),
)
"""The family's own parameters (besides the observation x): what a file may name."""
BUILTIN_NAMES = tuple(name for name, _ in BUILTIN)
MAX_MOMENT = 12
MAX_D = 8
"""Most dimensions of the diagonal version (``D = 3``)."""


def builtin(D: int = 1) -> tuple[tuple[str, Interval], ...]:
    """The family's parameters: mu, sigma, w, b, s for D = 1; mu1, sigma1, ..., muD, sigmaD for
    the diagonal Gaussian q over D dimensions against the prior N(0, I)."""
    if D == 1:
        return BUILTIN
    positive = Interval(lower=Fraction(0), lower_open=True)
    return tuple(item for j in range(1, D + 1) for item in ((f"mu{j}", Interval()), (f"sigma{j}", positive)))


def builtin_names(D: int = 1) -> tuple[str, ...]:
    return tuple(name for name, _ in builtin(D))
"""Highest power of z whose expectation is taken (bounds the work)."""


def _symbol(name: str, interval: Interval) -> Symbol:
    return Symbol(name, positive=True) if interval.positive else Symbol(name, real=True)


def log_normal(value: Expr, mean: Expr, variance: Expr) -> Expr:
    """log N(value; mean, variance), written out."""
    return -log(2 * pi * variance, evaluate=False) / 2 - (value - mean) ** 2 / (2 * variance)


def moment(n: int, mean: Expr, variance: Expr) -> Expr:
    """E[z**n] for z ~ N(mean, variance): sum over even k of C(n, k) mean**(n-k) variance**(k/2) (k-1)!!."""
    total: Expr = Integer(0)
    for k in range(0, n + 1, 2):
        double_factorial = 1
        for j in range(k - 1, 0, -2):
            double_factorial *= j
        total += comb(n, k) * double_factorial * mean ** (n - k) * variance ** (k // 2)
    return total


@dataclass(frozen=True)
class GaussianModel(BlockInstances):
    """The linear-Gaussian model of one real latent z and one real observation x."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("gaussian"))

    def __post_init__(self) -> None:
        if tuple(self.spec.data) != ("x",):
            raise ValueError("the Gaussian family has one observation, x")
        if not 1 <= self.spec.D <= MAX_D:
            raise ValueError(f"D must be from 1 to {MAX_D}")
        clash = [p.name for p in self.spec.params if p.name in builtin_names(self.spec.D) or p.name == "z"]
        if clash:
            raise ValueError(f"'{clash[0]}' is a parameter of the Gaussian family already")

    # -- parameters --------------------------------------------------------------------------

    @property
    def K(self) -> int:
        return 1  # not a number of states: z is real (reports use describe())

    @property
    def observations(self) -> tuple[str, ...]:
        return ("x",)

    @property
    def D(self) -> int:
        return self.spec.D

    @cached_property
    def builtin(self) -> dict[str, Symbol]:
        return {name: _symbol(name, interval) for name, interval in builtin(self.D)}

    @cached_property
    def params(self) -> dict[str, Symbol]:
        """Every named parameter: the family's own and the file's [params]."""
        return {**self.builtin, **{p.name: p.symbol for p in self.spec.params}}

    @cached_property
    def assumed_q(self) -> tuple[Expr, Expr] | None:
        """q's (mean, variance) when an assumption fixes it (q(z) = p(z | x), = Normal(m, v))."""
        if not self.spec.assumptions:
            return None
        free = GaussianModel(ModelSpec("gaussian", self.spec.K, self.spec.data, self.spec.params))
        (relation,) = self.spec.assumptions
        return free.normal_of(relation.rhs.expr)

    @property
    def assumed(self) -> dict[str, tuple[Expr, ...]]:
        """q as the assumption fixes it: its mean and variance (shown with counterexamples)."""
        return {"x": self.assumed_q} if self.assumed_q is not None else {}

    def assumed_label(self, observation: str) -> str:
        return "q(z) mean, variance"

    @property
    def q(self) -> tuple[Expr, Expr]:
        """q(z)'s (mean, variance) with D = 1 (one observation: this family's q is the only one)."""
        return self.assumed_q or (self.builtin["mu"], self.builtin["sigma"] ** 2)

    @property
    def q_symbols(self) -> tuple[Symbol, ...]:
        """q's own parameters (an assumption may not define q through them)."""
        return tuple(self.builtin[name] for name in builtin_names(self.D) if name.startswith(("mu", "sigma")))

    def distributions(self) -> tuple[Distribution, ...]:
        """Each Gaussian's variance: q(z) (free or assumed), p(z), p(x | z), p(z | x); with D > 1
        q's variance in each dimension."""
        if self.D > 1:
            return tuple(Distribution(f"q(z), dimension {j}", variance=self.builtin[f"sigma{j}"] ** 2)
                         for j in range(1, self.D + 1))
        assumption = self.spec.assumptions[0] if self.spec.assumptions else None
        text = f"{assumption.lhs.text} = {assumption.rhs.text}" if assumption is not None else None
        return (Distribution("q(z)", variance=self.q[1], assumption=text),
                Distribution("p(z)", variance=Integer(1)),
                Distribution("p(x | z)", variance=self.builtin["s"] ** 2),
                Distribution("p(z | x)", variance=self.posterior()[1]))

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        if self.D > 1:  # the diagonal version: q's means and scales, the file's own parameters
            return tuple(Block(name, name, PARAMETER, (self.builtin[name],), interval)
                         for name, interval in builtin(self.D)) + \
                tuple(Block(p.name, p.name, PARAMETER, (p.symbol,), p.interval) for p in self.spec.params)
        out = []
        for name, interval in BUILTIN:  # mu, sigma stay even when q is fixed: a step may still name them
            out.append(Block(name, name, PARAMETER, (self.builtin[name],), interval))
        out.append(Block("x", "x", PARAMETER, (x,), Interval()))
        for p in self.spec.params:
            out.append(Block(p.name, p.name, PARAMETER, (p.symbol,), p.interval))
        out.append(Block("z", "z", PARAMETER, (z,), Interval()))  # only claims "for every z" use it
        return tuple(out)





    @cached_property
    def parameter_bounds(self) -> dict[Symbol, Interval]:
        return {b.symbols[0]: b.interval for b in self.blocks if b.interval is not None}


    @property
    def points(self) -> tuple[Symbol, ...]:
        """One point: z itself (a real symbol); sums over z do not exist here."""
        return (z,)

    def latent_sum(self, values) -> Expr:
        raise UnfoldError("z is real in the Gaussian family: there is no sum over z (use E(q, f))")

    def describe(self) -> str:
        if self.D > 1:
            return f"every diagonal Gaussian q over {self.D} dimensions (any means, scales > 0) and the prior N(0, I)"
        return "every linear-Gaussian model (real z, any mu, w, b, x and sigma, s > 0)"

    def domain_text(self) -> str:
        if self.D > 1:
            return (f"z in R^{self.D}; p(z) = N(0, I); q(z) = N(mu, diag(sigma**2)) with "
                    f"mu1, ..., mu{self.D} real and sigma1, ..., sigma{self.D} > 0")
        q = "q(z) = N(mu, sigma**2), sigma > 0" if self.assumed_q is None else \
            f"{self.spec.assumptions[0].lhs.text} = {self.spec.assumptions[0].rhs.text} (assumed)"
        parts = ["z real", "p(z) = N(0, 1)", "p(x | z) = N(w*z + b, s**2), s > 0", q]
        parts += [p.describe() for p in self.spec.params]
        return "; ".join(parts)

    def explicit(self, K: int) -> GaussianModel:
        return self




    def special_instances(self, base: Instance) -> list[Instance]:
        """The tight case q = p(z | x) where it is rational: w = 3/4, s = 1 give the posterior
        variance 16/25 (sigma = 4/5) and mean 12 (x - b) / 25."""
        if self.D > 1:  # q = the prior: every KL term vanishes
            prior = base
            for j in range(1, self.D + 1):
                prior = prior.with_block(f"mu{j}", (Fraction(0),)).with_block(f"sigma{j}", (Fraction(1),))
            return [Instance(prior.blocks, "q = p(z)")]
        if self.assumed_q is not None:
            return []
        xv, bv = base["x"][0], base["b"][0]
        tight = base.with_block("w", (Fraction(3, 4),)).with_block("s", (Fraction(1),))
        tight = tight.with_block("sigma", (Fraction(4, 5),)).with_block("mu", (Fraction(12, 25) * (xv - bv),))
        prior = base.with_block("mu", (Fraction(0),)).with_block("sigma", (Fraction(1),))
        return [Instance(tight.blocks, "tight case q = p(z | x)"), Instance(prior.blocks, "q = p(z)")]

    def assumption_problem(self) -> str | None:
        """An assumed q may not be defined through q's own parameters (mu, sigma); whether it is
        a Gaussian with a variance > 0 is the well-formedness check's (distributions())."""
        if self.assumed_q is None:
            return None
        mean, variance = self.assumed_q
        named = sorted((mean.free_symbols | variance.free_symbols) & set(self.q_symbols), key=str)
        if named:
            return (f"the assumption defines q in terms of q itself: it names {', '.join(map(str, named))}, "
                    f"q's own parameters")
        return None

    def distribution_shown(self, d: Expr) -> bool:
        """d is a distribution over z: a Gaussian whose variance is shown > 0."""
        from elbo_sym.engine.definedness import is_positive

        if self.D > 1:  # q(z) (scales > 0) or p(z) = N(0, I)
            return isinstance(d, Density) and d.variables == (z,) and not d.given and d.name in ("p", "q")
        try:
            _, variance = self.normal_of(d)
        except UnfoldError:
            return False
        return is_positive(variance, self)

    # -- the densities ------------------------------------------------------------------------

    def posterior(self) -> tuple[Expr, Expr]:
        w, b, s = self.builtin["w"], self.builtin["b"], self.builtin["s"]
        return w * (x - b) / (w ** 2 + s ** 2), s ** 2 / (w ** 2 + s ** 2)

    def normal_of(self, d: Expr) -> tuple[Expr, Expr]:
        """(mean, variance) of a distribution over z."""
        if isinstance(d, Normal):
            return self.unfold(d.mean), self.unfold(d.variance)
        if isinstance(d, Density) and d.variables == (z,):
            if d.name == "q":
                if d.given and d.given != (x,):
                    raise UnfoldError("q is a distribution over z given x: q(z) or q(z | x)")
                return self.q[0], self.q[1]
            if d.name == "p" and not d.given:
                return Integer(0), Integer(1)
            if d.name == "p" and d.given == (x,):
                return self.posterior()
        raise UnfoldError(f"{to_text(d)} is not a distribution over z in the Gaussian family")

    def log_density(self, d: Density) -> Expr:
        """log of a density at the symbol z (a quadratic in z)."""
        w, b, s = self.builtin["w"], self.builtin["b"], self.builtin["s"]
        if d.variables == (z,) and (d.name == "q" or not d.given or d.given == (x,)):
            mean, variance = self.normal_of(d)
            return log_normal(z, mean, variance)
        if d.name == "p" and d.variables == (x,) and d.given == (z,):
            return log_normal(x, w * z + b, s ** 2)
        if d.name == "p" and set(d.variables) == {x, z} and not d.given:
            return log_normal(z, 0, 1) + log_normal(x, w * z + b, s ** 2)
        if d.name == "p" and d.variables == (x,) and not d.given:
            return log_normal(x, b, w ** 2 + s ** 2)
        raise UnfoldError(f"no density {to_text(d)} in the Gaussian family")

    def density(self, d: Expr, k=None) -> Expr:
        """A density's value at z: exp of its log-density (one positive atom)."""
        if self.D > 1:  # only its sign is ever asked (definedness): its value at its mean, > 0
            if not (isinstance(d, Density) and d.variables == (z,) and not d.given and d.name in ("p", "q")):
                raise UnfoldError(f"with D = {self.D} the distributions are q(z) and p(z) = N(0, I), not {to_text(d)}")
            _, variances = self.coordinates(d)
            return Exp(Add(*(log_normal(Integer(0), Integer(0), v) for v in variances)))
        if isinstance(d, Normal):
            mean, variance = self.normal_of(d)
            return Exp(log_normal(z, mean, variance))
        if not isinstance(d, Density):
            raise UnfoldError(f"{to_text(d)} is not a density")
        return Exp(self.log_density(d))

    # -- unfolding ----------------------------------------------------------------------------

    def unfold(self, e: Expr, point=None) -> Expr:
        known = self._memo.get(e)
        if known is None:
            known = self._memo[e] = self._unfold(e)
        return known

    @cached_property
    def _memo(self) -> dict:
        return {}

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        return (self.unfold(e),)

    def expectation(self, d: Expr, body: Expr) -> Expr:
        """E_d[body] exactly: body must unfold to a polynomial in z."""
        mean, variance = self.normal_of(d)
        f = self.unfold(body)
        if not f.has(z):
            return f
        try:
            poly = Poly(f, z)
        except PolynomialError:
            from elbo_sym.engine.notation import to_text  # the author's body, never the unfolded form

            raise UnfoldError("E(q, f) is exact here for polynomials in z and logs of Gaussian densities "
                              f"only, not {to_text(body)}") from None
        if poly.degree() > MAX_MOMENT:
            raise UnfoldError(f"E(q, f) of a polynomial of degree {poly.degree()} in z (at most {MAX_MOMENT})")
        return Add(*(c * moment(n, mean, variance) for (n,), c in poly.terms()))

    def _unfold_diagonal(self, e: Expr) -> Expr:
        """The diagonal version: the closed forms that need no integral over R^D."""
        if isinstance(e, KL) and all(isinstance(a, Density) and a.variables == (z,) and a.name in ("p", "q")
                                     and not a.given for a in e.args):
            (m1, v1), (m2, v2) = (self.coordinates(a) for a in e.args)
            return Add(*((log(b / a, evaluate=False) + (a + (m - n) ** 2) / b - 1) / 2
                         for m, a, n, b in zip(m1, v1, m2, v2)))
        if isinstance(e, Entropy) and isinstance(e.args[0], Density):
            _, variances = self.coordinates(e.args[0])
            return Add(*((log(2 * pi * v, evaluate=False) + 1) / 2 for v in variances))
        if e == z:
            raise UnfoldError(f"with D = {self.D} z is a vector: the closed forms KL(q(z), p(z)) and H(q) are about it")
        if isinstance(e, (Density, Normal, Expectation, ELBO, LatentSum, IWAE)) or \
                (isinstance(e, log) and e.args[0].has(Density)):
            raise UnfoldError(f"with D = {self.D} the Gaussian family has the closed forms KL(q(z), p(z)), "
                              f"KL(p(z), q(z)) and H(q) (a diagonal q against N(0, I)), not {to_text(e)}")
        return self._unfold_parts(e)

    def coordinates(self, d: Density) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
        """Means and variances of q(z) (diagonal) or p(z) = N(0, I), one per dimension."""
        D = range(1, self.D + 1)
        if d.name == "q":
            return (tuple(self.builtin[f"mu{j}"] for j in D), tuple(self.builtin[f"sigma{j}"] ** 2 for j in D))
        return tuple(Integer(0) for _ in D), tuple(Integer(1) for _ in D)

    def _unfold(self, e: Expr) -> Expr:
        if self.D > 1:
            return self._unfold_diagonal(e)
        if isinstance(e, (Density, Normal)):
            return self.density(e)
        if isinstance(e, LatentSum):
            return self.latent_sum(())
        if isinstance(e, IWAE):
            raise UnfoldError("IWAE(q, k) is defined for the discrete family (explicit K) only")
        if isinstance(e, Expectation):
            return self.expectation(e.distribution, e.body)
        if isinstance(e, KL):
            (m1, v1), (m2, v2) = (self.normal_of(a) for a in e.args)
            return (log(v2 / v1, evaluate=False) + (v1 + (m1 - m2) ** 2) / v2 - 1) / 2
        if isinstance(e, Entropy):
            _, v = self.normal_of(e.args[0])
            return (log(2 * pi * v, evaluate=False) + 1) / 2
        if isinstance(e, ELBO):
            if e.observation != x:
                raise UnfoldError("the Gaussian family has one observation, x")
            d = e.distribution
            return self.expectation(d, log(e.joint) - log(d))
        if isinstance(e, log):
            return self._log(e.args[0])
        return self._unfold_parts(e)

    def _unfold_parts(self, e: Expr) -> Expr:
        """Anything else: a named parameter is the model's symbol; an operation unfolds its parts."""
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        return e.func(*(self.unfold(a) for a in e.args)) if e.args else e

    def _log(self, argument: Expr) -> Expr:
        """log of a product, quotient or integer power of densities and positive numbers as a
        sum of log-densities (each factor is > 0); anything else stays one log."""
        if self._splits(argument):
            return self._split_log(argument)
        inner = self.unfold(argument)
        if isinstance(inner, Exp):
            return inner.args[0]
        return log(inner, evaluate=False)

    def _splits(self, e: Expr) -> bool:
        if isinstance(e, (Density, Normal)):
            return True
        if e.is_Rational:
            return e > 0
        if e is S.Pi:
            return True
        if e.is_Mul:
            return all(self._splits(a) for a in e.args)
        if e.is_Pow and e.exp.is_Integer:
            return self._splits(e.base)
        return False

    def _split_log(self, e: Expr) -> Expr:
        if isinstance(e, Normal):
            mean, variance = self.normal_of(e)
            return log_normal(z, mean, variance)
        if isinstance(e, Density):
            return self.log_density(e)
        if e.is_Rational or e is S.Pi:
            return log(e)
        if e.is_Mul:
            return Add(*(self._split_log(a) for a in e.args))
        assert e.is_Pow
        return e.exp * self._split_log(e.base)


__all__ = ["GaussianModel", "BUILTIN", "BUILTIN_NAMES", "MAX_D", "builtin", "builtin_names", "log_normal", "moment"]

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

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from math import comb

from sympy import Add, Expr, Integer, Mul, Poly, S, Symbol, expand_mul, expand_multinomial, log, pi
from sympy.polys.polyerrors import PolynomialError

from elbo_sym.engine.models.base import (
    LOG_ATOMS,
    PARAMETER,
    Block,
    BlockInstances,
    Distribution,
    Instance,
    Interval,
    ModelDefaults,
    ModelSpec,
    Unfolding,
    remembered,
)
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.notation import (
    ELBO,
    IWAE,
    KL,
    Density,
    DimensionSum,
    Entropy,
    Exp,
    Expectation,
    LatentSum,
    Normal,
    to_text,
    x,
    z,
)
from elbo_sym.limits import (
    GAUSSIAN_ANY_D,
    GAUSSIAN_NEAR_TIGHT,
    GAUSSIAN_TIGHT_TRIPLES,
    MAX_DIMENSION_SUM_TERMS,
    MAX_SEARCH_D,
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
"""Highest power of z whose expectation is taken (bounds the work)."""
MAX_D = 8
"""Most dimensions of the diagonal version (``D = 3``)."""
ANY_D = "any"
"""``D = "any"``: one proof for every number of dimensions (sums ``Sum(f, (d, 1, D))``)."""
PER_DIMENSION = ("mu_d", "sigma_d", "w_d")
"""Dimension d's parameters under ``D = "any"``: q's mean and scale, the decoder's weight."""
_POSITIVE = Interval(lower=Fraction(0), lower_open=True)


def builtin(D: int | str = 1, diagonal: bool = False) -> tuple[tuple[str, Interval], ...]:
    """The family's parameters: mu, sigma, w, b, s for D = 1; for the diagonal Gaussian q over D
    dimensions against the prior N(0, I) with the linear decoder p(x | z) = N(x; w1 z1 + ... + wD zD
    + b, s**2): mu1, sigma1, ..., muD, sigmaD, w1, ..., wD, b, s; with D = "any" mu_d, sigma_d, w_d
    (dimension d's), b, s and D itself."""
    if D == ANY_D:
        return (("mu_d", Interval()), ("sigma_d", _POSITIVE), ("w_d", Interval()), ("b", Interval()),
                ("s", _POSITIVE), ("D", Interval(lower=Fraction(1))))
    if D == 1 and not diagonal:
        return BUILTIN
    assert isinstance(D, int)
    q = tuple(item for j in range(1, D + 1) for item in ((f"mu{j}", Interval()), (f"sigma{j}", _POSITIVE)))
    return q + tuple((f"w{j}", Interval()) for j in range(1, D + 1)) + (("b", Interval()), ("s", _POSITIVE))


def builtin_names(D: int | str = 1, diagonal: bool = False) -> tuple[str, ...]:
    return tuple(name for name, _ in builtin(D, diagonal))


DECODER_DEFAULTS = {"b": Fraction(0), "s": Fraction(1), "x": Fraction(0)}
"""An example of the diagonal version may leave the decoder out: b = 0, s = 1, x = 0, each w = 0."""


GENERIC: dict[str, Expr] = {"mu_d": Symbol("mu_d", real=True), "sigma_d": Symbol("sigma_d", positive=True),
                            "w_d": Symbol("w_d", real=True)}
"""Dimension d's parameters as the D = "any" model reads them (one generic dimension)."""
Z_D = Symbol("z_d", real=True)
"""Coordinate d of z (internal: a sum's body as a function of z; never shown)."""


def _listed(stem: str, D: int, power: str = "") -> str:
    """stem1, ..., stemD (every one for D <= 3), as the unfolding's words name the coordinates."""
    names = [f"{stem}{j}{power}" for j in range(1, D + 1)]
    return ", ".join(names if D <= 3 else [names[0], "...", names[-1]])


def at_dimension(body: Expr, j: int) -> Expr:
    """A sum's body in dimension j: mu_d, sigma_d, w_d (as parsed) become mu{j}, sigma{j}, w{j}."""
    return body.xreplace({Symbol(name, real=True): Symbol(f"{name[:-2]}{j}", real=True) for name in PER_DIMENSION})


def _symbol(name: str, interval: Interval) -> Symbol:
    return Symbol(name, positive=True) if interval.positive else Symbol(name, real=True)


@lru_cache(maxsize=1024)
def log_normal(value: Expr, mean: Expr, variance: Expr) -> Expr:
    """log N(value; mean, variance), written out; remembered per process (a pure function of the three,
    SymPy's equality being structural: the tree's files ask 437 times for 36 distinct log-densities)."""
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


def density_of(log_density: Expr) -> Expr:
    """exp of a log-density, the same Exp its evaluation gives.  Exp rewrites only an argument that
    is 0 or c * log(f); a sum is never c * log(f), and a log-density (-log(2 pi v)/2 - (z - m)**2 /
    (2 v) and sums of such) is not 0, so a sum is built without asking SymPy's assumptions whether
    it is 0 (the costly part of Exp on these sums; as the Gaussian chain builds its densities)."""
    return Exp(log_density, evaluate=False) if log_density.is_Add else Exp(log_density)


GAUSSIAN_BODIES = "polynomials in z and logs of Gaussian densities"


def _expandable_power(e: Expr) -> bool:
    return bool(e.is_Pow and e.exp.is_positive and e.exp.is_Integer and e.base.is_Add)


def expanded_terms(f: Expr, generators: tuple[Expr, ...]) -> tuple[tuple[tuple[int, ...], Expr], ...] | None:
    """``Poly(f, *generators).terms()`` read off f's expansion, without Poly's search for a domain
    of its coefficients.  f is expanded as Poly expands it; each term's factors free of the
    generators make its coefficient and the coefficients of one monomial are added, as in Poly's
    first step.  Poly then looks for a ring or field over the coefficients' symbols, expanding
    every coefficient's numerator and denominator again, and on a Gaussian's log-density settles
    on the expression domain (log(sigma) and sigma are related): its terms are then these same
    coefficients, in the same (lex) order, except that it also leaves out a coefficient SymPy's
    assumptions show to be 0 where this leaves out a literal 0 only (one kept is 0 all the same).
    Over another domain Poly writes a
    coefficient in its own way (a fraction in lowest terms): the same value, which is what
    canonical forms compare (tests/test_gaussian_speed.py).  None when a factor holds a generator
    other than as a positive integer power (in a denominator, a log, a root): Poly words that."""
    if not f.is_commutative:
        return None
    e = f.expand()
    while any(_expandable_power(t) or t.is_Mul and any(_expandable_power(a) for a in t.args) for t in Add.make_args(e)):
        e = expand_multinomial(e)
    while any(t.is_Mul and any(a.is_Add for a in t.args) for t in Add.make_args(e)):
        e = expand_mul(e)
    place = {g: i for i, g in enumerate(generators)}
    coefficients: dict[tuple[int, ...], Expr] = {}
    for term in Add.make_args(e):
        factors, powers = [], [0] * len(generators)
        for factor in Mul.make_args(term):
            if not factor.has_free(*generators):
                factors.append(factor)
            elif factor in place:
                powers[place[factor]] = 1
            elif factor.is_Pow and factor.base in place and factor.exp.is_Integer and factor.exp > 0:
                powers[place[factor.base]] = int(factor.exp)
            else:
                return None
        monomial = tuple(powers)
        coefficients[monomial] = coefficients[monomial] + Mul(*factors) if monomial in coefficients else Mul(*factors)
    terms = tuple((m, c) for m, c in sorted(coefficients.items(), reverse=True) if c != 0)
    return terms or (((0,) * len(generators), S.Zero),)


def moment_terms(f: Expr, generators: tuple[Expr, ...], named: str, what: str,
                 body: Expr) -> tuple[tuple[tuple[int, ...], Expr], ...]:
    """f's terms (powers of `generators`, coefficient) as a polynomial in `generators` (`named` in
    messages) of total degree at most MAX_MOMENT (whose Normal moments are exact), else an
    UnfoldError naming the author's body (never the unfolded form); `what` says which bodies the
    family integrates.  Read by `expanded_terms`; Poly where that refuses or the degree is too high
    (Poly drops a leading coefficient SymPy shows to be 0, and words the refusals)."""
    terms = expanded_terms(f, generators)
    if terms is not None and max(sum(m) for m, _ in terms) <= MAX_MOMENT:
        return terms
    try:
        poly = Poly(f, *generators)
    except PolynomialError:
        raise UnfoldError(f"E(q, f) is exact here for {what} only, not {to_text(body)}") from None
    if poly.total_degree() > MAX_MOMENT:
        raise UnfoldError(f"E(q, f) of a polynomial of degree {poly.total_degree()} in {named} (at most {MAX_MOMENT})")
    return tuple(poly.terms())


def by_definition(e: Expr, density: Callable[[Density], Expr], expectation: Callable[[Expr, Expr], Expr],
                  kl_arguments: Callable[[Expr, Expr], object], family: str) -> Expr | None:
    """A density, E(d, f), KL(a, b), H(a) and ELBO(q) unfolded by a family's exact `density` and
    `expectation`, the last three by the expectations that define them (E_a[log a - log b],
    -E_a[log a], E_q[log p(x, z) - log q]); `kl_arguments` refuses a KL the family cannot
    integrate (it raises UnfoldError).  None for any other expression."""
    if isinstance(e, Density):
        return density(e)
    if isinstance(e, Expectation):
        return expectation(e.distribution, e.body)
    if isinstance(e, KL):
        a, b = e.args
        kl_arguments(a, b)
        return expectation(a, log(a, evaluate=False) - log(b, evaluate=False))
    if isinstance(e, Entropy):
        (a,) = e.args
        return -expectation(a, log(a, evaluate=False))
    if isinstance(e, ELBO):
        if e.observation != x:
            raise UnfoldError(f"the {family} has one observation, x")
        return expectation(e.distribution, log(e.joint, evaluate=False) - log(e.distribution, evaluate=False))
    return None


@dataclass(frozen=True)
class GaussianModel(BlockInstances):
    """The linear-Gaussian model of one real latent z and one real observation x."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("gaussian"))
    diagonal_one: bool = False
    """D = 1 in the diagonal version's names (mu1, sigma1, w1): how ``D = "any"`` is searched at D = 1."""

    def __post_init__(self) -> None:
        if tuple(self.spec.data) != ("x",):
            raise ValueError("the Gaussian family has one observation, x")
        if not isinstance(self.spec.D, int) or not 1 <= self.spec.D <= MAX_SEARCH_D:  # a file's D: at most MAX_D
            raise ValueError(f"D must be from 1 to {MAX_D}")
        clash = [p.name for p in self.spec.params if p.name in self.names or p.name == "z"]
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
        assert isinstance(self.spec.D, int)
        return self.spec.D

    @property
    def diagonal(self) -> bool:
        """The diagonal version: z in R^D, q = N(mu, diag(sigma**2)), p(z) = N(0, I), a linear decoder."""
        return self.D > 1 or self.diagonal_one

    @property
    def names(self) -> tuple[str, ...]:
        return builtin_names(self.D, self.diagonal_one)

    @cached_property
    def builtin(self) -> dict[str, Symbol]:
        return {name: _symbol(name, interval) for name, interval in builtin(self.D, self.diagonal_one)}

    @cached_property
    def params(self) -> dict[str, Expr]:
        """Every named parameter: the family's own and the file's [params] (searching D = "any", D
        is this model's number)."""
        generic = {"D": Integer(self.D)} if self.diagonal else {}
        return {**generic, **self.builtin, **{p.name: p.symbol for p in self.spec.params}}

    def dimension_bodies(self, e) -> tuple[Expr, ...]:
        """Sum(f, (d, 1, D)) at D dimensions: f at d = 1, ..., D."""
        return tuple(at_dimension(e.body, j) for j in range(1, self.D + 1))

    @cached_property
    def coordinates_z(self) -> tuple[Symbol, ...]:
        """z's coordinates (the diagonal version; internal names, never shown)."""
        return tuple(Symbol(f"z[{j}]", real=True) for j in range(1, self.D + 1))

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
        if self.diagonal:
            return tuple(Distribution(f"q(z), dimension {j}", variance=self.builtin[f"sigma{j}"] ** 2)
                         for j in range(1, self.D + 1)) + (Distribution("p(x | z)", variance=self.builtin["s"] ** 2),)
        assumption = self.spec.assumptions[0] if self.spec.assumptions else None
        text = f"{assumption.lhs.text} = {assumption.rhs.text}" if assumption is not None else None
        return (Distribution("q(z)", variance=self.q[1], assumption=text),
                Distribution("p(z)", variance=Integer(1)),
                Distribution("p(x | z)", variance=self.builtin["s"] ** 2),
                Distribution("p(z | x)", variance=self.posterior()[1]))

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        if self.diagonal:  # q's means and scales, the decoder, x, the file's own parameters
            return tuple(Block(name, name, PARAMETER, (self.builtin[name],), interval)
                         for name, interval in builtin(self.D, self.diagonal_one)) + \
                (Block("x", "x", PARAMETER, (x,), Interval()),) + \
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
        if self.diagonal:
            return (f"every diagonal Gaussian q over {self.D} dimension{'s' * (self.D > 1)} (any means, scales > 0), "
                    f"the prior N(0, I) and every linear Gaussian decoder (any weights, offset, noise scale s > 0)")
        return "every linear-Gaussian model (real z, any mu, w, b, x and sigma, s > 0)"

    def describe_unfolding(self) -> Unfolding:
        """The textbook densities in the family's parameters; every E, KL, H in closed form."""
        if self.diagonal:
            coordinates = " + ".join(f"w{j}*z{j}" for j in range(1, self.D + 1))
            model = (f"z = ({_listed('z', self.D)}) real; p(z) = N(0, I), p(x | z) = N({coordinates} + b, s**2)")
            q = f"q(z) = N(({_listed('mu', self.D)}), diag({_listed('sigma', self.D, '**2')}))"
        else:
            model = "z real; p(z) = N(0, 1), p(x | z) = N(w*z + b, s**2)"
            q = "q(z) = N(mu, sigma**2)"
        if self.assumed:
            assumption = self.spec.assumptions[0]
            q = f"{assumption.lhs.text} = {assumption.rhs.text} (assumed)"
        return Unfolding(f"unfolded into the model ({model}, {q}; every E, KL, H in closed form):",
                         f"canonical forms ({LOG_ATOMS}):")

    def domain_text(self) -> str:
        if self.diagonal:
            return (f"z in R^{self.D}; p(z) = N(0, I); q(z) = N(mu, diag(sigma**2)) with "
                    f"mu1, ..., mu{self.D} real and sigma1, ..., sigma{self.D} > 0; p(x | z) = "
                    f"N(x; w1*z1 + ... + w{self.D}*z{self.D} + b, s**2), s > 0")
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
        if self.diagonal:  # q = the prior: every KL term vanishes
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

    def planned_instances(self, base: Instance) -> list[Instance]:
        """The posterior made narrow or wide with a rational scale (limits.GAUSSIAN_TIGHT_TRIPLES:
        w = a/c, s = b/c give the posterior sd b/c; x = b_offset its mean 0), q at it and near it.
        With D > 1 only w1 is nonzero, so the posterior is diagonal (dimension 1 as above, the others
        the prior); with an assumed q only w and s move (q is what the assumption makes it)."""
        out = []
        base = base.with_block("x", base["b"])  # x = b: the posterior mean is 0 (short counterexamples)
        for a, b, c in GAUSSIAN_TIGHT_TRIPLES:
            mean, sd = Fraction(0), Fraction(b, c)
            near = (mean + GAUSSIAN_NEAR_TIGHT * sd, sd * (1 + GAUSSIAN_NEAR_TIGHT))
            label = f"posterior sd {sd}"
            if self.diagonal:
                decoder = base.with_block("w1", (Fraction(a, c),)).with_block("s", (sd,))
                for j in range(2, self.D + 1):
                    decoder = decoder.with_block(f"w{j}", (Fraction(0),)).with_block(f"mu{j}", (Fraction(0),))
                    decoder = decoder.with_block(f"sigma{j}", (Fraction(1),))
                names = ("mu1", "sigma1")
            else:
                decoder = base.with_block("w", (Fraction(a, c),)).with_block("s", (sd,))
                names = ("mu", "sigma")
            if self.assumed_q is not None:
                out.append(Instance(decoder.blocks, f"{label} (w = {a}/{c}, s = {sd})"))
                continue
            for (m, v), where in (((mean, sd), "tight case q = p(z | x)"), (near, "near the tight case")):
                at = decoder.with_block(names[0], (m,)).with_block(names[1], (v,))
                out.append(Instance(at.blocks, f"{where}, {label}"))
        return out

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

        if self.diagonal:  # q(z) (scales > 0), p(z) = N(0, I) or the posterior p(z | x)
            return isinstance(d, Density) and d.variables == (z,) and d.given in ((), (x,))
        try:
            _, variance = self.normal_of(d)
        except UnfoldError:
            return False
        return is_positive(variance, self)

    def distribution_parameters(self, d: Expr) -> tuple[Expr, ...] | None:
        """(mean, variance) in one dimension: two normal distributions are the same distribution
        exactly when both agree (as densities they then agree at every z)."""
        if self.diagonal:
            return None
        try:
            return self.normal_of(d)
        except UnfoldError:
            return None

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
        if self.diagonal:  # a function of z's coordinates, exp of its log-density (> 0)
            if not isinstance(d, Density):
                raise UnfoldError(f"with D = {self.D} z is a vector: {to_text(d)} is a distribution over a real "
                                  f"number (write q(z) or p(z))")
            return density_of(self.vector_log_density(d))
        if isinstance(d, Normal):
            mean, variance = self.normal_of(d)
            return density_of(log_normal(z, mean, variance))
        if not isinstance(d, Density):
            raise UnfoldError(f"{to_text(d)} is not a density")
        return density_of(self.log_density(d))

    # -- unfolding ----------------------------------------------------------------------------

    def unfold(self, e: Expr, point=None) -> Expr:
        known = self._open(e)
        if self.diagonal and point is None and e not in self._closed:  # at a point z: a function of z
            if known.free_symbols & set(self.coordinates_z):
                raise UnfoldError(f"with D = {self.D} z is a vector: {to_text(e)} is a function of z; write it "
                                  f"inside E(q, f), KL or H")
            self._closed.add(e)
        return known

    def _open(self, e: Expr) -> Expr:
        """The unfolded form, a function of z's coordinates where e is one (inside an expectation)."""
        return remembered(self._memo, e, lambda: self._unfold(e))

    @cached_property
    def _memo(self) -> dict:
        return {}

    @cached_property
    def _closed(self) -> set:
        """Expressions whose unfolded form is shown free of z's coordinates."""
        return set()

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        return (self.unfold(e),)

    def expectation(self, d: Expr, body: Expr) -> Expr:
        """E_d[body] exactly: body must unfold to a polynomial in z."""
        mean, variance = self.normal_of(d)
        f = self.unfold(body)
        if not f.has(z):
            return f
        terms = moment_terms(f, (z,), "z", GAUSSIAN_BODIES, body)
        return Add(*(c * moment(n, mean, variance) for (n,), c in terms))

    # -- the diagonal version: z in R^D ------------------------------------------------------

    def diagonal_of(self, d: Expr) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
        """Means and variances per coordinate of q(z) (diagonal) or p(z) = N(0, I): the
        distributions an expectation over the vector z is taken under."""
        if isinstance(d, Density) and d.variables == (z,) and d.name == "q" and d.given in ((), (x,)):
            D = range(1, self.D + 1)
            return tuple(self.builtin[f"mu{j}"] for j in D), tuple(self.builtin[f"sigma{j}"] ** 2 for j in D)
        if isinstance(d, Density) and d.variables == (z,) and d.name == "p" and not d.given:
            return tuple(Integer(0) for _ in range(self.D)), tuple(Integer(1) for _ in range(self.D))
        raise UnfoldError(f"with D = {self.D} expectations, KL divergences and entropies are taken under q(z) or "
                          f"p(z) = N(0, I) (diagonal Gaussians), not {to_text(d)}")

    def vector_log_density(self, d: Density) -> Expr:
        """log of a density at the vector z, a quadratic in z's coordinates: q and p(z) are products
        over the coordinates, p(x | z) = N(x; w.z + b, s**2), p(x) = N(x; b, |w|**2 + s**2) and
        p(z | x) = p(x, z) / p(x) (a Gaussian with a full covariance)."""
        c, D = self.coordinates_z, range(self.D)
        w = tuple(self.builtin[f"w{j}"] for j in range(1, self.D + 1))
        b, s = self.builtin["b"], self.builtin["s"]
        prior = Add(*(log_normal(c[j], Integer(0), Integer(1)) for j in D))
        likelihood = log_normal(x, Add(*(w[j] * c[j] for j in D)) + b, s ** 2)
        evidence = log_normal(x, b, Add(*(w[j] ** 2 for j in D)) + s ** 2)
        if d.name == "q" and d.variables == (z,) and d.given in ((), (x,)):
            means, variances = self.diagonal_of(d)
            return Add(*(log_normal(c[j], means[j], variances[j]) for j in D))
        if d.name == "p" and d.variables == (z,) and not d.given:
            return prior
        if d.name == "p" and d.variables == (x,) and d.given == (z,):
            return likelihood
        if d.name == "p" and set(d.variables) == {x, z} and not d.given:
            return prior + likelihood
        if d.name == "p" and d.variables == (x,) and not d.given:
            return evidence
        if d.name == "p" and d.variables == (z,) and d.given == (x,):
            return prior + likelihood - evidence
        raise UnfoldError(f"no density {to_text(d)} in the Gaussian family")

    def vector_expectation(self, d: Expr, body: Expr) -> Expr:
        """E_d[body] over z in R^D with independent coordinates: body unfolds to a polynomial in the
        coordinates, each monomial's expectation the product of one-dimensional moments."""
        means, variances = self.diagonal_of(d)
        f = self._open(body)
        coordinates = [c for c in self.coordinates_z if f.has(c)]
        if not coordinates:
            return f
        terms = moment_terms(f, tuple(coordinates), "z", GAUSSIAN_BODIES, body)
        index = {c: self.coordinates_z.index(c) for c in coordinates}
        out = []
        for powers, coefficient in terms:
            factors = [moment(n, means[index[c]], variances[index[c]]) for c, n in zip(coordinates, powers) if n]
            out.append(coefficient * Mul(*factors))
        return Add(*out)

    def _unfold_diagonal(self, e: Expr) -> Expr:
        """The diagonal version: every KL, entropy and ELBO is an expectation under a diagonal
        Gaussian of log-densities (quadratics in z's coordinates)."""
        if isinstance(e, DimensionSum):
            return Add(*(self._open(at_dimension(e.body, j)) for j in range(1, self.D + 1)))
        defined = by_definition(e, self.density, self.vector_expectation, self._diagonal_kl_arguments,
                                "Gaussian family")
        if defined is not None:
            return defined
        if e == z:
            raise UnfoldError(f"with D = {self.D} z is a vector: write its densities (log(q(z)), log(p(z)), "
                              f"log(p(x | z))) inside E(q, f), KL or H")
        if isinstance(e, Normal):
            raise UnfoldError(f"with D = {self.D} z is a vector: Normal(m, v) is a distribution over a real "
                              f"number (write q(z) or p(z))")
        if isinstance(e, (LatentSum, IWAE)):
            what = "IWAE" if isinstance(e, IWAE) else "sum over z"
            raise UnfoldError(f"with D = {self.D} the Gaussian family has no {what}")
        if isinstance(e, log):
            return self._log(e.args[0])
        return self._unfold_parts(e)

    def _diagonal_kl_arguments(self, a: Expr, b: Expr) -> None:
        """KL(a, b) under a diagonal Gaussian a, against a distribution over z of the family."""
        self.diagonal_of(a)
        if not (isinstance(b, Density) and self.distribution_shown(b)):
            raise UnfoldError(f"{to_text(b)} is not a distribution over z in the Gaussian family")

    def _unfold(self, e: Expr) -> Expr:
        if self.diagonal:
            return self._unfold_diagonal(e)
        if isinstance(e, (Density, Normal)):
            return self.density(e)
        if isinstance(e, LatentSum):
            return self.latent_sum(())
        if isinstance(e, IWAE):
            raise UnfoldError("IWAE(q, k) is defined for the discrete family only")
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
        return e.func(*(self._open(a) for a in e.args)) if e.args else e

    def _log(self, argument: Expr) -> Expr:
        """log of a product, quotient or integer power of densities and positive numbers as a
        sum of log-densities (each factor is > 0); anything else stays one log."""
        if self._splits(argument):
            return self._split_log(argument)
        inner = self._open(argument)
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
        if self.diagonal and isinstance(e, Density):
            return self.vector_log_density(e)
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


# --------------------------------------------------------------------------- D = "any"


@dataclass(frozen=True)
class GaussianAnyD(ModelDefaults):
    """The diagonal version for every number of dimensions D >= 1 at once (``D = "any"``).

    z's dimensions are one *generic* dimension d with parameters mu_d, sigma_d > 0, w_d, and a
    sum over d = 1..D becomes an opaque atom ``Sum(body, (d, 1, D))`` after the laws that hold for every D:
    linearity (``Sum(a + b) = Sum(a) + Sum(b)``, ``Sum(c f) = c Sum(f)`` for a c free of d) and
    ``Sum(c) = D c``; a log of a product of positive factors splits first.  q(z) and p(z) are
    products over the dimensions, so ``log q(z) = Sum(log N(z_d; mu_d, sigma_d**2))``, and an
    expectation under them of a polynomial of degree <= 2 in such sums is exact by independence:
    ``E[Sum(g)] = Sum(E g)`` and ``E[Sum(g) Sum(h)] = Sum(E g) Sum(E h) - Sum(E g E h) + Sum(E[g h])``
    (the d != e terms factor).  Each law is a theorem for every D, so two sides whose forms agree
    as polynomials in the atoms agree for every D: the identity of one dimension, proved once,
    then summed.  Counterexamples are searched at each D of GAUSSIAN_ANY_D (`search_models`), and a
    residual in D alone is decided exactly (engine.dimensions).
    """

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("gaussian", D=ANY_D))

    K = "any"  # not a number of states (z is real): one proof for every D, searched lightly at each

    def __post_init__(self) -> None:
        if tuple(self.spec.data) != ("x",):
            raise ValueError("the Gaussian family has one observation, x")
        if self.spec.assumptions:
            raise ValueError("with D = \"any\" q is the free diagonal Gaussian (no assume)")
        clash = [p.name for p in self.spec.params if p.name in builtin_names(ANY_D) or p.name in ("z", "d")]
        if clash:
            raise ValueError(f"'{clash[0]}' is a parameter of the Gaussian family already")

    @property
    def observations(self) -> tuple[str, ...]:
        return ("x",)

    @cached_property
    def params(self) -> dict[str, Expr]:
        own = {name: GENERIC.get(name) or _symbol(name, interval) for name, interval in builtin(ANY_D)}
        return {**own, **{p.name: p.symbol for p in self.spec.params}}

    @cached_property
    def parameter_bounds(self) -> dict:
        bounds = {self.params[name]: interval for name, interval in builtin(ANY_D)}
        return {**bounds, x: Interval(), **{p.symbol: p.interval for p in self.spec.params}}

    @property
    def positive_symbols(self) -> frozenset[Symbol]:
        """sigma_d, s, D, positive [params] and every sum atom of a positive body."""
        return frozenset(s for s, i in self.parameter_bounds.items() if i.positive) | self._positive_atoms

    @cached_property
    def _positive_atoms(self) -> set:
        return set()

    @property
    def parameters(self) -> tuple[Symbol, ...]:
        return tuple(self.parameter_bounds)

    @property
    def points(self) -> tuple[Symbol, ...]:
        return (z,)

    def describe(self) -> str:
        return ("every number of dimensions D: every diagonal Gaussian q (any means, scales > 0), the prior "
                "N(0, I) and every linear Gaussian decoder (any weights, offset, noise scale s > 0)")

    def describe_unfolding(self) -> Unfolding:
        """One generic dimension d; a sum over the dimensions stays a sum."""
        return Unfolding("unfolded into the model for every number of dimensions D (z real in each dimension d; "
                         "p(z) = N(0, I), p(x | z) = N(Sum(w_d*z_d, (d, 1, D)) + b, s**2), q(z) = N(mu_d, sigma_d**2) "
                         "in dimension d; every E, KL, H in closed form, as a Sum over d = 1..D):",
                         f"canonical forms ({LOG_ATOMS}):")

    def domain_text(self) -> str:
        parts = ["D = any (every number of dimensions)", "z in R^D", "p(z) = N(0, I)",
                 "q(z) = N(mu, diag(sigma**2)) with mu_d real and sigma_d > 0",
                 "p(x | z) = N(x; w_1*z_1 + ... + w_D*z_D + b, s**2), s > 0"]
        return "; ".join(parts + [p.describe() for p in self.spec.params])

    def distributions(self) -> tuple[Distribution, ...]:
        return (Distribution("q(z), dimension d", variance=self.params["sigma_d"] ** 2),
                Distribution("p(x | z)", variance=self.params["s"] ** 2))

    def distribution_shown(self, d: Expr) -> bool:
        return isinstance(d, Density) and d.variables == (z,) and d.given in ((), (x,))

    def search_models(self) -> tuple:
        """The diagonal models with each D of limits.GAUSSIAN_ANY_D (D = 1 in the diagonal names mu1, sigma1, w1)."""
        return tuple(self.explicit(D) for D in GAUSSIAN_ANY_D)

    @property
    def dimension(self) -> Symbol:
        return self.params["D"]

    def explicit(self, K: int) -> GaussianModel:
        """The diagonal model with D = K dimensions."""
        return _explicit_d(K, self.spec)

    def sum_body(self, atom: Symbol) -> Expr | None:
        return self._bodies.get(atom)

    def latent_sum(self, values) -> Expr:
        raise UnfoldError("z is real in the Gaussian family: there is no sum over z (use E(q, f))")

    # -- sums over the dimensions ---------------------------------------------------------------

    @cached_property
    def _atoms(self) -> dict:
        """body -> its atom Sum(body, (d, 1, D)); and back (`_bodies`)."""
        return {}

    @cached_property
    def _bodies(self) -> dict:
        return {}

    @cached_property
    def per_dimension(self) -> frozenset[Symbol]:
        return frozenset({*(self.params[n] for n in PER_DIMENSION), Z_D})

    def dimension_sum(self, body: Expr) -> Expr:
        """Sum over d = 1..D of a body in the generic dimension: linearity, Sum(c) = D c, atoms."""
        from elbo_sym.engine.canonical import bounded_expand

        terms = Add.make_args(bounded_expand(self._split_logs(body)))
        if len(terms) > MAX_DIMENSION_SUM_TERMS:
            raise UnfoldError("the sum over the dimensions has too many terms to check")
        out = []
        for term in terms:
            free: list[Expr] = []
            dependent: list[Expr] = []
            for factor in Mul.make_args(term):
                (dependent if factor.free_symbols & self.per_dimension else free).append(factor)
            out.append(Mul(*free) * (self._atom(Mul(*dependent)) if dependent else self.params["D"]))
        return Add(*out)

    def _atom(self, body: Expr) -> Symbol:
        known = self._atoms.get(body)
        if known is None:
            from elbo_sym.engine.definedness import strict_sign

            positive = not body.has(Z_D) and strict_sign(body, self) == 1
            name = f"Sum({to_text(body)}, (d, 1, D))"  # how the author writes it (explain shows it)
            known = Symbol(name, positive=True) if positive else Symbol(name, real=True)
            self._atoms[body] = known
            self._bodies[known] = body
            if positive:  # a sum of positive terms (D >= 1 of them) is positive
                self._positive_atoms.add(known)
        return known

    def _split_logs(self, e: Expr) -> Expr:
        """log of a product of positive factors (sigma_d, positive numbers, pi) as a sum of logs."""
        if isinstance(e, log):
            argument = self._split_logs(e.args[0])
            parts = []
            for factor in Mul.make_args(argument):
                base, power = (factor.base, factor.exp) if factor.is_Pow and factor.exp.is_Integer else (factor, 1)
                if not (base in self.positive_symbols or base is S.Pi or (base.is_Rational and base > 0)):
                    return log(argument, evaluate=False)
                parts.append((base, power))
            return Add(*(power * log(base, evaluate=False) for base, power in parts if base != 1))
        if not e.args or e.is_Atom:
            return e
        return e.func(*(self._split_logs(a) for a in e.args))

    # -- densities and expectations ---------------------------------------------------------------

    def per_dimension_of(self, d: Expr) -> tuple[Expr, Expr]:
        """Dimension d's mean and variance under q(z) or p(z) = N(0, I)."""
        if isinstance(d, Density) and d.variables == (z,) and d.name == "q" and d.given in ((), (x,)):
            return self.params["mu_d"], self.params["sigma_d"] ** 2
        if isinstance(d, Density) and d.variables == (z,) and d.name == "p" and not d.given:
            return Integer(0), Integer(1)
        raise UnfoldError("with D = \"any\" expectations, KL divergences and entropies are taken under q(z) or "
                          f"p(z) = N(0, I) (diagonal Gaussians), not {to_text(d)}")

    def log_density(self, d: Expr) -> Expr:
        """log of a density at the vector z, in sums over the dimensions."""
        if not isinstance(d, Density):
            raise UnfoldError(f"with D = \"any\" z is a vector: {to_text(d)} is a distribution over a real number "
                              f"(write q(z) or p(z))")
        w, b, s = self.params["w_d"], self.params["b"], self.params["s"]
        prior = self.dimension_sum(log_normal(Z_D, Integer(0), Integer(1)))
        likelihood = log_normal(x, self.dimension_sum(w * Z_D) + b, s ** 2)
        evidence = log_normal(x, b, self.dimension_sum(w ** 2) + s ** 2)
        if d.name == "q" and d.variables == (z,) and d.given in ((), (x,)):
            mean, variance = self.per_dimension_of(d)
            return self.dimension_sum(log_normal(Z_D, mean, variance))
        if d.name == "p" and d.variables == (z,) and not d.given:
            return prior
        if d.name == "p" and d.variables == (x,) and d.given == (z,):
            return likelihood
        if d.name == "p" and set(d.variables) == {x, z} and not d.given:
            return prior + likelihood
        if d.name == "p" and d.variables == (x,) and not d.given:
            return evidence
        if d.name == "p" and d.variables == (z,) and d.given == (x,):
            return prior + likelihood - evidence
        raise UnfoldError(f"no density {to_text(d)} in the Gaussian family")

    def density(self, d: Expr, k=None) -> Expr:
        return density_of(self.log_density(d))

    def expectation(self, d: Expr, body: Expr) -> Expr:
        """E_d[body] for d = q(z) or p(z): body a polynomial of degree <= 2 in the sums over the
        dimensions that involve z (each coordinate's moments; independent coordinates)."""
        from elbo_sym.engine.canonical import bounded_expand

        mean, variance = self.per_dimension_of(d)
        f = bounded_expand(self._open(body))
        random_atoms = {a for a in f.free_symbols if a in self._bodies and self._bodies[a].has(Z_D)}
        if not random_atoms:
            return f

        def one(g: Expr) -> Expr:  # E over z_d ~ N(mean, variance) of a polynomial in z_d
            try:
                poly = Poly(bounded_expand(g), Z_D)
            except PolynomialError:
                raise UnfoldError(f"E(q, f) with D = \"any\" is exact for log-densities and polynomials "
                                  f"only, not {to_text(body)}") from None
            if poly.degree() > MAX_MOMENT:
                raise UnfoldError(f"E(q, f) of a polynomial of degree {poly.degree()} in z (at most {MAX_MOMENT})")
            return Add(*(c * moment(n, mean, variance) for (n,), c in poly.terms()))

        out = []
        for term in Add.make_args(f):
            rest, sums = [], []
            for factor in Mul.make_args(term):
                base, power = (factor.base, factor.exp) if factor.is_Pow and factor.exp.is_Integer else (factor, 1)
                if base not in random_atoms and factor.free_symbols & random_atoms:
                    raise UnfoldError(f"E(q, f) with D = \"any\" is exact for polynomials in log-densities only, "
                                      f"not {to_text(body)}")
                if base in random_atoms:
                    if power < 0:
                        raise UnfoldError(f"E(q, f) with D = \"any\": f divides by a function of z ({to_text(body)})")
                    sums += [self._bodies[base]] * int(power)
                else:
                    rest.append(factor)
            if len(sums) > 2:
                raise UnfoldError(f"E(q, f) with D = \"any\" is exact for products of at most two sums over the "
                                  f"dimensions (log-densities and their squares' cross terms), not {to_text(body)}")
            if len(sums) == 1:
                value = self.dimension_sum(one(sums[0]))
            elif len(sums) == 2:
                g, h = sums
                value = (self.dimension_sum(one(g)) * self.dimension_sum(one(h))
                         - self.dimension_sum(one(g) * one(h)) + self.dimension_sum(one(g * h)))
            else:
                value = Integer(1)
            out.append(Mul(*rest) * value)
        return Add(*out)

    # -- unfolding ------------------------------------------------------------------------------

    @cached_property
    def _memo(self) -> dict:
        return {}

    def unfold(self, e: Expr, point=None) -> Expr:
        known = self._open(e)
        if point is None and e not in self._closed:  # at a point z (definedness): a function of z
            if Z_D in known.free_symbols or any(self._bodies[a].has(Z_D) for a in known.free_symbols
                                                if a in self._bodies):
                raise UnfoldError(f"with D = \"any\" z is a vector: {to_text(e)} is a function of z; write it "
                                  f"inside E(q, f), KL or H")
            self._closed.add(e)
        return known

    def _open(self, e: Expr) -> Expr:
        """The unfolded form, a function of z where e is one (inside an expectation)."""
        return remembered(self._memo, e, lambda: self._unfold(e))

    @cached_property
    def _closed(self) -> set:
        return set()

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        return (self.unfold(e),)

    def _unfold(self, e: Expr) -> Expr:
        if isinstance(e, DimensionSum):
            return self.dimension_sum(self._open(e.body))
        defined = by_definition(e, self.density, self.expectation, lambda a, b: self.per_dimension_of(a),
                                "Gaussian family")
        if defined is not None:
            return defined
        if e == z:
            raise UnfoldError("with D = \"any\" z is a vector: write its densities (log(q(z)), log(p(z)), "
                              "log(p(x | z))) inside E(q, f), KL or H")
        if isinstance(e, Normal):
            raise UnfoldError("with D = \"any\" z is a vector: Normal(m, v) is a distribution over a real number "
                              "(write q(z) or p(z))")
        if isinstance(e, (LatentSum, IWAE)):
            raise UnfoldError(f"with D = \"any\" the Gaussian family has no "
                              f"{'IWAE' if isinstance(e, IWAE) else 'sum over z'}")
        if isinstance(e, log):
            return self._log(e.args[0])
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        return e.func(*(self._open(a) for a in e.args)) if e.args else e

    def _log(self, argument: Expr) -> Expr:
        """log of a product, quotient or integer power of densities and positive numbers: a sum of
        log-densities; anything else stays one log."""
        factors = []
        for factor in Mul.make_args(argument):
            base, power = (factor.base, factor.exp) if factor.is_Pow and factor.exp.is_Integer else (factor, 1)
            if isinstance(base, Density):
                factors.append(power * self.log_density(base))
            elif base is S.Pi or (base.is_Rational and base > 0):
                factors.append(power * log(base, evaluate=False))
            else:
                inner = self._open(argument)
                return inner.args[0] if isinstance(inner, Exp) else log(inner, evaluate=False)
        return Add(*factors)



@lru_cache(maxsize=16)
def _explicit_d(D: int, spec: ModelSpec) -> GaussianModel:
    return GaussianModel(ModelSpec("gaussian", spec.K, spec.data, spec.params, (), D), diagonal_one=D == 1)


__all__ = ["GaussianModel", "GaussianAnyD", "ANY_D", "PER_DIMENSION", "at_dimension",
            "BUILTIN", "BUILTIN_NAMES", "MAX_D", "builtin", "builtin_names", "log_normal", "moment"]

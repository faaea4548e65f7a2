"""Gaussian layers (``model = "gaussian"``, ``latents = ["z1", "z2"]`` or three): the linear-Gaussian
chain of a diffusion model with T = 2 or 3 real latent layers, exactly.

The reverse (generative) chain zT -> ... -> z1 -> x and the forward (variational) chain
x -> z1 -> ... -> zT, every step a Normal whose mean is linear in its parent:

* p(zT) = N(0, 1); p(z_{t-1} | z_t) = N(a_t z_t + b_t, v_t) for t = 2..T; p(x | z1) = N(a1 z1 + b1, v1)
  (a_t, b_t real, variances v_t > 0);
* q(z1 | x) = N(c1 x, 1 - c1**2) and q(z_t | z_{t-1}) = N(c_t z_{t-1}, 1 - c_t**2), c_t in (0, 1):
  DDPM's forward process q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, 1 - alpha_t) with c_t = sqrt(alpha_t)
  (x plays x_0, z_t plays x_t).  q is always given x: q(z2 | z1) = q(z2 | z1, x).

Every other density is a Markov-chain marginal or conditional of these, in closed form: a
variable given its nearest fixed neighbours u (before it on the chain) and w (after it) is
Normal with precision 1/V1 + A2**2/V2 and mean (its precision-weighted average), where u -> it
is N(A1 u + B1, V1) and it -> w is N(A2 it + B2, V2), each composed from the steps in between
(``N(a (A u + B) + b, a**2 V + v)``).  So q(z2 | x) = N(c1 c2 x, 1 - c1**2 c2**2), the forward
posterior q(z1 | z2, x) is DDPM's eq. 7, p(x) = N(b1 + a1 b2, a1**2 (a2**2 + v2) + v1) (T = 2).
A density over several variables is the product of its chain-rule conditionals, each a Normal
in one variable given the others (and the given ones).

Unfolding is exact and symbolic: log of a density is a sum of ``log N(v; m, s) = -log(2 pi s)/2
- (v - m)**2 / (2 s)``, quadratic in the variables; an expectation E(d, f) of a polynomial in
the layers integrates d's variables one at a time, innermost last, with the Normal moments
(E[z**n] under N(m, s) is a polynomial in m and s); KL(a, b) = E(a, log a - log b) and
H(a) = -E(a, log a).  Anything else under E (a density itself, exp) is refused, never
approximated.  A claim with a free layer ("for every z1") is proved with it as a real number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from sympy import QQ, Add, Expr, Integer, Mul, Poly, S, Symbol, log

from elbo_sym.engine.models.base import (
    LOG_ATOMS,
    PARAMETER,
    Block,
    BlockInstances,
    ChainLayers,
    Distribution,
    Instance,
    Interval,
    ModelSpec,
    Unfolding,
    remembered,
)
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.models.gaussian import MAX_MOMENT, by_definition, log_normal, moment, moment_terms
from elbo_sym.engine.notation import (
    IWAE,
    Density,
    Exp,
    LatentSum,
    Normal,
    to_text,
    x,
)
from elbo_sym.engine.sparse import TooLarge, terms_in
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import GAUSSIAN_TIGHT_TRIPLES

MAX_GAUSSIAN_LAYERS = 3
"""Most Gaussian layers (z1, z2, z3): DDPM's Appendix A for T = 2 and 3."""
CHAIN_BODIES = "polynomials in the layers and logs of the chain's densities"
NEAR_TIGHT_COEFFICIENTS = (Fraction(1, 10**3), Fraction(1, 10**6))
"""Forward coefficients of the search's near-tight instances (gap ~ c**2 / 2: 5e-7 and 5e-13)."""
_UNIT = Interval(lower=Fraction(0), upper=Fraction(1), lower_open=True, upper_open=True)
_POSITIVE = Interval(lower=Fraction(0), lower_open=True)


def chain_parameters(T: int) -> tuple[tuple[str, Interval], ...]:
    """The family's parameters for T layers: forward coefficients c1..cT in (0, 1), the reverse
    steps' weights a1..aT and offsets b1..bT (real) and variances v1..vT (> 0); index 1 is the
    step into x (q(z1 | x), p(x | z1)), index t the step between z_{t-1} and z_t."""
    out: list[tuple[str, Interval]] = []
    for t in range(1, T + 1):
        out += [(f"c{t}", _UNIT), (f"a{t}", Interval()), (f"b{t}", Interval()), (f"v{t}", _POSITIVE)]
    return tuple(out)


def chain_names(T: int) -> tuple[str, ...]:
    return tuple(name for name, _ in chain_parameters(T))


def narrows(inner: Interval, outer: Interval) -> bool:
    """Every value of `inner` lies in `outer`: a file's [params] entry for a built-in name (``v2 = ">= 1"``,
    ``c1 = "in (0, 1/2]"``) may restrict its range, never widen it."""
    if outer.lower is not None:
        if inner.lower is None or inner.lower < outer.lower or (
                inner.lower == outer.lower and outer.lower_open and not inner.lower_open):
            return False
    if outer.upper is not None:
        if inner.upper is None or inner.upper > outer.upper or (
                inner.upper == outer.upper and outer.upper_open and not inner.upper_open):
            return False
    return not inner.integer


@dataclass(frozen=True)
class Step:
    """One linear-Gaussian step: child = A * parent + B + noise of variance V (composed steps too)."""

    A: Expr
    B: Expr
    V: Expr

    def then(self, other: Step) -> Step:
        """This step followed by `other`: N(a (A u + B) + b, a**2 V + v)."""
        return Step(other.A * self.A, other.A * self.B + other.B, other.A ** 2 * self.V + other.V)


IDENTITY = Step(Integer(1), Integer(0), Integer(0))


def _composed(steps) -> Step:
    """Steps one after the other (at least one)."""
    out = steps[0]
    for step in steps[1:]:
        out = out.then(step)
    return out


def _in(field, step: Step) -> Step:
    """A step with its coefficients in a field of rational functions."""
    return Step(field.from_sympy(step.A), field.from_sympy(step.B), field.from_sympy(step.V))


@dataclass(frozen=True)
class GaussianChainModel(ChainLayers, BlockInstances):
    """The chain of T = 2 or 3 Gaussian layers (module docstring), every parameter value at once."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("gaussian", layers=2, layered=True))

    def __post_init__(self) -> None:
        if tuple(self.spec.data) != ("x",):
            raise ValueError("the Gaussian chain has one observation, x")
        if not 2 <= self.spec.layers <= MAX_GAUSSIAN_LAYERS:
            raise ValueError(f"the Gaussian chain has 2 to {MAX_GAUSSIAN_LAYERS} layers")
        if self.spec.assumptions or self.spec.premises:
            raise ValueError("the Gaussian chain takes no assumption (its layers are fixed by the family)")
        defaults = dict(chain_parameters(self.T))
        clash = [p.name for p in self.spec.params if p.name in self.layer_names or p.name == "x" or (
            p.name in defaults and not narrows(p.interval, defaults[p.name]))]
        if clash:
            raise ValueError(f"'{clash[0]}' is a parameter of the Gaussian chain already (its range may only be "
                             f"narrowed)")

    K = 1  # not a number of states: the layers are real (reports use describe())

    # -- parameters ------------------------------------------------------------------------

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(str(v) for v in self.layers)

    @property
    def observations(self) -> tuple[str, ...]:
        return ("x",)

    @cached_property
    def intervals(self) -> dict[str, Interval]:
        """Each built-in parameter's range: the family's, or the narrower one a file's [params] gives it."""
        given = {p.name: p.interval for p in self.spec.params}
        return {name: given.get(name, interval) for name, interval in chain_parameters(self.T)}

    @cached_property
    def builtin(self) -> dict[str, Symbol]:
        return {name: Symbol(name, positive=True) if interval.positive else Symbol(name, real=True)
                for name, interval in self.intervals.items()}

    @cached_property
    def params(self) -> dict[str, Expr]:
        return {**{p.name: p.symbol for p in self.spec.params}, **self.builtin}

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        out = [Block(name, name, PARAMETER, (self.builtin[name],), interval)
               for name, interval in self.intervals.items()]
        out.append(Block("x", "x", PARAMETER, (x,), Interval()))
        out += [Block(p.name, p.name, PARAMETER, (p.symbol,), p.interval) for p in self.spec.params
                if p.name not in self.intervals]
        out += [Block(name, name, PARAMETER, (v,), Interval()) for name, v in zip(self.layer_names, self.layers)]
        return tuple(out)  # the layers' blocks: only claims "for every z1" use them

    @cached_property
    def parameter_bounds(self) -> dict[Symbol, Interval]:
        return {b.symbols[0]: b.bounds for b in self.blocks}

    def variational(self, observation: str) -> Density:
        """q over every layer, given x: q(z1, ..., zT | x)."""
        return Density("q", self.layers, (x,))

    @property
    def points(self) -> tuple:
        """One point: the layers are real symbols (no sum over them exists)."""
        return (None,)

    def point_text(self, k: int) -> str:
        return ", ".join(f"{name} real" for name in self.layer_names)

    def latent_sum(self, values) -> Expr:
        raise UnfoldError("the Gaussian layers are real: there is no sum over them (use E(q(z1 | x), f))")

    def explicit(self, K: int) -> GaussianChainModel:
        return self

    def special_instances(self, base: Instance) -> list[Instance]:
        """Near the tight case: the reverse chain equal to the forward chain read backwards is not
        rational in general, but with every forward coefficient c_t tiny the forward process barely
        moves x, and the reverse process of a standard normal at every layer (a_t = b_t = 0,
        v_t = 1) at x = 0 leaves a gap log p(x) - ELBO of about c**2 / 2 -- where a false
        "gap >= small constant" fails (the samples and corners never put all of them there at once).
        Only values inside the intervals the file gives the parameters."""
        out = []
        for c in NEAR_TIGHT_COEFFICIENTS:
            per_layer = {"c": c, "a": Fraction(0), "b": Fraction(0), "v": Fraction(1)}
            values = {f"{name}{t}": v for t in range(1, self.T + 1) for name, v in per_layer.items()}
            values["x"] = Fraction(0)
            if all(self.intervals[name].contains(v) for name, v in values.items() if name in self.intervals):
                near = base
                for name, v in values.items():
                    near = near.with_block(name, (v,))
                out.append(Instance(near.blocks, f"near the tight case (c = {c})"))
        return out

    def planned_instances(self, base: Instance) -> list[Instance]:
        """The tight case exactly, at narrow and wide posteriors: the reverse chain a_t = c_t, b_t = 0,
        v_t = 1 - c_t**2 is the forward chain read backwards (both are the stationary chain with N(0, 1)
        marginals), so p(z1, ..., zT | x) = q(z1, ..., zT | x), rational for rational c_t.  With c_t =
        a/c of limits.GAUSSIAN_TIGHT_TRIPLES each layer's sd is b/c (narrow: negative entropies, rt37).
        Only values inside the intervals the file gives the parameters."""
        out = []
        for a, _, c in GAUSSIAN_TIGHT_TRIPLES:
            coefficient = Fraction(a, c)
            per_layer = {"c": coefficient, "a": coefficient, "b": Fraction(0), "v": 1 - coefficient ** 2}
            values = {f"{name}{t}": v for t in range(1, self.T + 1) for name, v in per_layer.items()}
            values["x"] = Fraction(0)
            if all(self.intervals[name].contains(v) for name, v in values.items() if name in self.intervals):
                tight = base.with_blocks({name: (v,) for name, v in values.items()})
                out.append(Instance(tight.blocks, f"tight case q = p(z | x), every c = {coefficient}"))
        return out

    def describe(self) -> str:
        return (f"every chain of {self.T} Gaussian layers: a linear-Gaussian reverse process (any weights and "
                f"offsets, variances > 0) and DDPM's forward process with any coefficients in (0, 1)")

    def describe_unfolding(self) -> Unfolding:
        """Real x and layers, each step's coefficients by name; every E, KL, H in closed form."""
        return Unfolding(f"unfolded into the model (x, {', '.join(self.layer_names)} real; c_t the forward "
                         f"coefficients, a_t, b_t, v_t the reverse steps' weights, offsets and variances; every E, KL, "
                         f"H in closed form):", f"canonical forms ({LOG_ATOMS}):")

    def domain_text(self) -> str:
        T = self.T
        parts = [f"x, {', '.join(self.layer_names)} real", f"p(z{T}) = N(0, 1)"]
        parts += [f"p(z{t - 1} | z{t}) = N(a{t}*z{t} + b{t}, v{t})" for t in range(T, 1, -1)]
        parts += ["p(x | z1) = N(a1*z1 + b1, v1)", "a_t, b_t real, v_t > 0", "q(z1 | x) = N(c1*x, 1 - c1**2)"]
        parts += [f"q(z{t} | z{t - 1}) = N(c{t}*z{t - 1}, 1 - c{t}**2)" for t in range(2, T + 1)]
        parts.append("c_t in (0, 1)")
        return "; ".join(parts + [p.describe() for p in self.spec.params])  # a narrowed built-in range too

    # -- the two chains ---------------------------------------------------------------------

    def _reverse_step(self, t: int) -> Step:
        """The step into the (t-1)-th variable of the reverse chain (t = 1: into x)."""
        b = self.builtin
        return Step(b[f"a{t}"], b[f"b{t}"], b[f"v{t}"])

    def _forward_step(self, t: int) -> Step:
        c = self.builtin[f"c{t}"]
        return Step(c, Integer(0), 1 - c ** 2)

    @cached_property
    def reverse_chain(self) -> tuple[tuple[Symbol, ...], Step, tuple[Step, ...]]:
        """(variables zT, ..., z1, x; the top's marginal N(0, 1) as a step from nothing; the steps
        into z_{T-1}, ..., z1, x)."""
        order = (*reversed(self.layers), x)
        return order, Step(Integer(0), Integer(0), Integer(1)), tuple(self._reverse_step(t)
                                                                      for t in range(self.T, 0, -1))

    @cached_property
    def forward_chain(self) -> tuple[tuple[Symbol, ...], Step, tuple[Step, ...]]:
        """(variables x, z1, ..., zT; x fixed: q is always given x; the steps into z1, ..., zT)."""
        return (x, *self.layers), IDENTITY, tuple(self._forward_step(t) for t in range(1, self.T + 1))

    def conditional(self, chain, variable: Symbol, fixed: frozenset) -> tuple[dict[Symbol, object], object, object]:
        """Of `variable` given the `fixed` variables of a chain (Markov: only its nearest fixed
        neighbours on either side matter; the others are integrated out): its mean as the
        coefficient of each such neighbour and a constant, and its variance, all in the chain's
        arithmetic (`in_field`: the rational functions `field`, each value in lowest terms)."""
        order, top, steps = chain
        i = order.index(variable)
        before = [j for j in range(i) if order[j] in fixed]
        after = [j for j in range(i + 1, len(order)) if order[j] in fixed]
        if before:  # from the nearest fixed variable u before it: N(A1 u + B1, V1)
            u = before[-1]
            into = _composed(steps[u:i])
            coefficients, constant, variance = {order[u]: into.A}, into.B, into.V
        else:  # its marginal: the top's distribution carried down
            into = _composed((top, *steps[:i]))
            coefficients, constant, variance = {}, into.B, into.V
        if not after:
            return coefficients, constant, variance
        w = after[0]
        out = _composed(steps[i:w])  # it -> w: N(A2 it + B2, V2)
        posterior = (1 / variance + out.A ** 2 / out.V) ** -1  # the precision's inverse, written as SymPy's
        # conversion of 1 / precision writes it (its numerator and denominator swapped, signs as they were)
        coefficients = {v: posterior * c / variance for v, c in coefficients.items()}
        coefficients[order[w]] = posterior * out.A / out.V
        return coefficients, posterior * (constant / variance - out.A * out.B / out.V), posterior

    @cached_property
    def in_field(self) -> dict[str, tuple]:
        """The two chains with their steps' coefficients in `field` (exact rational functions in lowest
        terms: composing and conditioning there needs no expansion of nested fractions)."""
        def converted(chain):
            order, top, steps = chain
            return order, _in(self.field, top), tuple(_in(self.field, step) for step in steps)

        return {"p": converted(self.reverse_chain), "q": converted(self.forward_chain)}

    def _chain_of(self, d: Density):
        """Which chain a density belongs to, its variables and given ones (q always given x)."""
        known = {*self.layers, x}
        for v in d.variables + d.given:
            if v not in known:
                raise UnfoldError(f"'{v}' is not a variable of the Gaussian chain ({', '.join(self.layer_names)}, x)")
        if d.name == "q":
            if x in d.variables:
                raise UnfoldError("q is a distribution over the latent layers (given x)")
            return self.forward_chain, d.variables, frozenset(d.given) | {x}
        if d.name == "p":
            return self.reverse_chain, d.variables, frozenset(d.given)
        raise UnfoldError(f"no density named {d.name} in the Gaussian chain")

    def _factors(self, d: Density) -> tuple[tuple[Symbol, Expr, Expr], ...]:
        if not d.variables:
            raise UnfoldError(f"{d.name}(...) needs a variable before the bar")
        chain, variables, given = self._chain_of(d)
        if set(variables) & given:
            raise UnfoldError(f"{to_text(d)} names a variable on both sides of the bar")
        order = chain[0]
        out, fixed = [], given
        upwards = d.name == "p" and x in given  # from the given x outwards: each factor given a near neighbour
        gens = (*self.layers, x)
        for v in sorted(set(variables), key=order.index, reverse=upwards):
            coefficients, constant, variance = self.conditional(self.in_field[d.name], v, fixed)
            monomials = {tuple(int(g == u) for g in gens): c for u, c in coefficients.items()}
            monomials[(0,) * len(gens)] = constant
            mean = Poly.from_dict(monomials, *gens, domain=self.field).as_expr()
            out.append((v, mean, self.field.to_sympy(variance)))
            fixed = fixed | {v}
        return tuple(out)

    def factors(self, d: Density) -> tuple[tuple[Symbol, Expr, Expr], ...]:
        """d as a product of Normals in one variable each: (variable, mean, variance) in the chain's
        order, each given the earlier ones and d's given variables (means and variances in lowest terms)."""
        return remembered(self._factors_memo, d, lambda: self._factors(d))

    @cached_property
    def _factors_memo(self) -> dict:
        return {}

    @cached_property
    def field(self):
        """Rational functions of the parameters: the coefficients of every polynomial in the layers."""
        return QQ.frac_field(*sorted(self.parameter_bounds.keys() - {*self.layers, x}, key=str))

    def log_density(self, d: Density) -> Expr:
        """log of a density at its (symbolic) variables, by Bayes' rule log P(A, B) - log P(B): each
        marginal P(S) a product of steps down the chain (each variable given the nearest one of S
        before it), so the quadratics keep the chain's own coefficients."""
        if not d.variables:
            raise UnfoldError(f"{d.name}(...) needs a variable before the bar")
        chain, variables, given = self._chain_of(d)
        if set(variables) & given:
            raise UnfoldError(f"{to_text(d)} names a variable on both sides of the bar")
        return self._log_marginal(chain, given | set(variables)) - self._log_marginal(chain, given)

    def _log_marginal(self, chain, kept: frozenset) -> Expr:
        """log of the chain's marginal density of the variables in `kept` (the forward chain's root
        x is always given: q is a density given x)."""
        order, top, steps = chain
        forward = order[0] == x and chain is self.forward_chain
        into, previous, out = (IDENTITY, x, []) if forward else (top, None, [])
        for i, v in enumerate(order):
            if i == 0 and forward:
                continue
            if i > 0:
                into = into.then(steps[i - 1])
            if v in kept:
                mean = into.B if previous is None else into.A * previous + into.B
                out.append(log_normal(v, mean, into.V))
                into, previous = IDENTITY, v
        return Add(*out)

    def density(self, d: Density, k=None) -> Expr:
        if not isinstance(d, Density):
            raise UnfoldError(f"{to_text(d)} is not a density of the Gaussian chain")
        exponent = self.log_density(d)
        # a sum of log-Normal terms in distinct variables is never 0 nor c * log(f): Exp.eval would only
        # ask SymPy's assumptions whether it is 0 (costly on the long sums of three layers)
        return Exp(exponent, evaluate=False) if exponent.is_Add else Exp(exponent)

    def divisors(self, d: Density, point) -> tuple[Expr, ...]:
        """A density is exp of a quadratic (> 0); its variances are the family's and shown > 0 by
        distributions()."""
        return ()

    def distributions(self) -> tuple[Distribution, ...]:
        """The variance of every step of both chains and of every conditional the files use (marginals
        and the forward posteriors): each must be > 0 on the whole domain."""
        out = [Distribution(f"p(z{self.T})", variance=Integer(1))]
        seen = set()
        for d in self._named_densities():
            for v, _, variance in self.factors(d):
                key = (d.name, v, variance)
                if key not in seen:
                    seen.add(key)
                    out.append(Distribution(f"{to_text(d)}, its factor in {v}", variance=variance))
        return tuple(out)

    def _named_densities(self) -> tuple[Density, ...]:
        T, z = self.T, self.layers
        out = [Density("p", (x,), (z[0],)), Density("p", (x,)), Density("q", (z[0],), (x,))]
        for t in range(2, T + 1):
            out += [Density("p", (z[t - 2],), (z[t - 1],)), Density("q", (z[t - 1],), (z[t - 2],)),
                    Density("q", (z[t - 1],), (x,)), Density("q", (z[t - 2],), (z[t - 1], x)),
                    Density("p", (z[t - 2],))]
        out += [Density("p", self.layers, (x,)), Density("q", self.layers, (x,))]
        return tuple(out)

    def distribution_shown(self, d: Expr) -> bool:
        """Every density of the chain over latent layers is a (product of) Normal(s) with variance > 0."""
        if not isinstance(d, Density) or not d.variables or x in d.variables:
            return False
        try:
            self.factors(d)
        except UnfoldError:
            return False
        return True

    # -- unfolding ---------------------------------------------------------------------------

    @cached_property
    def _memo(self) -> dict:
        return {}

    def unfold(self, e: Expr, point=None) -> Expr:
        return remembered(self._memo, e, lambda: self._unfold(e))

    def unfold_pointwise(self, e: Expr) -> tuple[Expr, ...]:
        return (self.unfold(e),)

    def _bound(self, d: Expr) -> Density:
        if not isinstance(d, Density):
            raise UnfoldError(f"{to_text(d)}: expectations in the Gaussian chain are under one of its densities")
        if not d.variables or not set(d.variables) <= set(self.layers):
            raise UnfoldError(f"{to_text(d)} is not a distribution over latent layers ({', '.join(self.layer_names)})")
        return d

    def expectation(self, d: Expr, body: Expr) -> Expr:
        """E_d[body] exactly: body unfolds to a polynomial in the layers (coefficients rational in the
        parameters, logs of constants as further generators); d's variables are integrated one at a
        time, the last factor first (its mean depends on the earlier ones), by the Normal moments."""
        factors = self.factors(self._bound(d))
        out = []
        for term in Add.make_args(self.unfold(body)):  # the same log-density terms recur from step to step
            key = (d, term)
            known = self._term_memo.get(key)
            if known is None:
                known = self._term_memo[key] = self._expect_term(factors, term, body)
            out.append(known)
        return Add(*out)

    @cached_property
    def _term_memo(self) -> dict:
        return {}

    def _expect_term(self, factors, f: Expr, body: Expr) -> Expr:
        """E of one term of the unfolded body (term by term: small polynomials keep the coefficients
        small; the canonical form adds them up).  The factors the layers do not appear in (logs of
        variances, numbers) stay outside; the rest is a polynomial in the layers whose powers v**n
        become the Normal moments of v given the earlier variables, the last variable first."""
        variables = [v for v, _, _ in factors]
        if not f.has(*variables):
            return f
        outside: list[Expr] = []
        inside: list[Expr] = []
        for factor in Mul.make_args(f):
            (inside if factor.has(*self.layers) else outside).append(factor)
        g = Mul(*inside)
        for v, mean, variance in reversed(factors):
            if not g.has(v):
                continue
            terms = _moment_terms(g, v, body)
            if any(c.has(v) or c.has(Exp) or (c.has(log) and c.has(*self.layers)) for _, c in terms):
                raise UnfoldError(f"E(q, f) is exact here for {CHAIN_BODIES} only, not {to_text(body)}")
            g = Add(*(c * moment(n, mean, variance) for n, c in terms))
        if g.has(*variables):
            raise UnfoldError(f"E(q, f): the layers are not integrated out of {to_text(body)}")
        return Mul(*outside) * g

    def _kl_arguments(self, a: Expr, b: Expr) -> None:
        """KL(a, b): both distributions of the chain over the same layers."""
        self._bound(a)
        if not isinstance(b, Density) or set(b.variables) != set(a.variables):
            raise UnfoldError(f"KL({to_text(a)}, {to_text(b)}): both must be distributions over the same layers")

    def _unfold(self, e: Expr) -> Expr:
        defined = by_definition(e, self.density, self.expectation, self._kl_arguments, "Gaussian chain")
        if defined is not None:
            return defined
        if isinstance(e, (LatentSum, IWAE, Normal)):
            what = "IWAE" if isinstance(e, IWAE) else "Normal(m, v)" if isinstance(e, Normal) else "a sum over z"
            raise UnfoldError(f"the Gaussian chain has no {what}: its layers are real (use its densities)")
        if isinstance(e, log):
            return self._log(e.args[0])
        if e.is_Symbol and e.name in self.params:
            return self.params[e.name]
        return e.func(*(self.unfold(a) for a in e.args)) if e.args else e

    def _log(self, argument: Expr) -> Expr:
        """log of a product, quotient or integer power of densities and positive numbers: a sum of
        log-densities (each factor > 0); anything else stays one log."""
        if _splits(argument):
            return self._split_log(argument)
        inner = self.unfold(argument)
        return inner.args[0] if isinstance(inner, Exp) else log(inner, evaluate=False)

    def _split_log(self, e: Expr) -> Expr:
        if isinstance(e, Density):
            return self.log_density(e)
        if e.is_Rational or e is S.Pi:
            return log(e, evaluate=False)
        if e.is_Mul:
            return Add(*(self._split_log(a) for a in e.args))
        return e.exp * self._split_log(e.base)


def _moment_terms(g: Expr, v: Symbol, body: Expr) -> tuple[tuple[int, Expr], ...]:
    """g's (power of v, coefficient) pairs, as moment_terms(g, (v,)) gives them: in sparse arithmetic
    when g is a polynomial in v of degree <= MAX_MOMENT with rational-function coefficients, by Poly
    otherwise (which also words the refusals)."""
    try:
        terms = terms_in(g, v)
    except (TooLarge, ValueError, ZeroDivisionError) as raised:
        reraise_callers(raised)
        terms = None
    if terms is None or terms[0][0] > MAX_MOMENT:
        return tuple((n, c) for (n,), c in moment_terms(g, (v,), str(v), CHAIN_BODIES, body))
    return terms


def _splits(e: Expr) -> bool:
    """e is a product, quotient or integer power of densities and positive numbers (and pi)."""
    if isinstance(e, Density) or e is S.Pi:
        return True
    if e.is_Rational:
        return bool(e > 0)
    if e.is_Mul:
        return all(_splits(a) for a in e.args)
    if e.is_Pow and e.exp.is_Integer:
        return _splits(e.base)
    return False


__all__ = ["GaussianChainModel", "MAX_GAUSSIAN_LAYERS", "chain_parameters", "chain_names", "narrows", "Step"]

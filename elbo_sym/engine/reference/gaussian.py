"""The Gaussian family's reference evaluator: densities from their textbook formulas and every
expectation by Gauss-Hermite quadrature at 60 digits -- no unfolding, no moments, no closed-form KL.

The model (D = 1): p(z) = N(0, 1), p(x | z) = N(x; w z + b, s**2), q(z) = N(mu, sigma**2), so
p(x, z) = p(z) p(x | z), p(x) = N(x; b, w**2 + s**2) (the textbook marginal of a linear
Gaussian) and p(z | x) = p(x, z) / p(x), a Gaussian with mean w (x - b) / (w**2 + s**2) and
variance s**2 / (w**2 + s**2).  ``E(d, f)``, ``KL``, ``H`` and ``ELBO`` are integrals against a
Gaussian d = N(m, v): with the probabilists' Hermite nodes t_i and weights a_i of n points,
E_d[f] = sum_i a_i f(m + sqrt(v) t_i), exact for a polynomial f of degree < 2n; a log-density
is a quadratic in z, so the integrands of the vocabulary are polynomials.  An integrand that
is not one (a density itself, exp(z)) is outside what the quadrature decides: undecided.

D = 2..8 (the diagonal version): q(z) = N(mu, diag(sigma**2)) against p(z) = N(0, I); a KL or
entropy of a product of independent coordinates is the sum of the coordinates' ones, each a
one-dimensional quadrature.  A claim with a free z (D = 1) is judged at sampled values of z.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache

import sympy
from mpmath.libmp.libmpi import mpi_pi, mpi_sqrt

from elbo_sym.engine.notation import ELBO, IWAE, KL, Density, Entropy, Expectation, LatentSum, Normal, x, z
from elbo_sym.engine.reference import discrete as arith
from elbo_sym.engine.reference.discrete import JudgeError, Judgement, Undefined, outcome_of, show

NODES = 10
"""Gauss-Hermite points: exact for integrands of degree < 20 (the engine's moments stop at 12)."""
_PARAMETERS_1 = ("mu", "sigma", "w", "b", "s")


@dataclass(frozen=True)
class GaussianInstance:
    """Values of the family's parameters (and the file's [params], x, a value for a free z);
    `q`: (mean, variance) when an assumption fixes q."""

    name: str
    values: tuple[tuple[str, Fraction], ...]
    D: int = 1
    q: tuple | None = None
    binders: dict = field(default_factory=dict, compare=False, hash=False)

    def value(self, name: str) -> Fraction:
        for key, v in self.values:
            if key == name:
                return v
        raise JudgeError(f"no value for the name {name}")

    def with_q(self, q) -> GaussianInstance:
        return GaussianInstance(self.name, self.values, self.D, q)

    def describe(self) -> str:
        parts = [f"{n} = {show(v)}" for n, v in self.values]
        if self.q is not None:
            parts.append(f"q = N({show(self.q[0])}, {show(self.q[1])})")
        return f"[{self.name}] " + ", ".join(parts)


# ----------------------------------------------------------------------------- quadrature


@cache
def hermite_rule(n: int, prec: int) -> tuple[tuple[tuple, tuple], ...]:
    """(node, weight) intervals of the n-point rule for E[f(t)], t ~ N(0, 1): the roots of the
    probabilists' Hermite polynomial He_n (Newton from a low-precision start) and weights
    n! / (n He_{n-1}(t_i))**2, which sum to 1."""
    import mpmath

    ctx = mpmath.MPContext()
    ctx.prec = prec + 40
    # He_n by its recurrence He_{k+1} = t He_k - k He_{k-1}, coefficients highest first
    low, high = [1], [1, 0]
    for k in range(1, n):
        low, high = high, [a - k * b for a, b in zip(high + [0], [0, 0] + low)]
    coefficients = high

    def he(k: int, t):
        a, b = ctx.mpf(1), t
        if k == 0:
            return a
        for j in range(1, k):
            a, b = b, t * b - j * a
        return b

    start = mpmath.MPContext()  # double precision is enough to start Newton near each root
    roots = start.polyroots(coefficients, maxsteps=100, extraprec=60)
    rule = []
    factorial = ctx.factorial(n)
    for root in sorted(start.re(r) for r in roots):
        t = ctx.mpf(root)
        for _ in range(8):  # Newton: He_n' = n He_{n-1}
            t = t - he(n, t) / (n * he(n - 1, t))
        weight = factorial / (n * he(n - 1, t)) ** 2
        tv, wv = t._mpf_, weight._mpf_
        rule.append(((tv, tv), (wv, wv)))
    return tuple(rule)


def _expect(inst: GaussianInstance, mean, variance, body) -> object:
    """E[body(z)], z ~ N(mean, variance), by the Hermite rule (body: a function of z's value)."""
    if not arith._positive(variance):
        raise Undefined(f"a Gaussian with variance {show(variance)} <= 0")
    scale = mpi_sqrt(arith._iv(variance), arith.PREC)
    terms = []
    for node, weight in hermite_rule(NODES, arith.PREC):
        point = arith._sum((mean, arith._product((scale, node))))
        terms.append(arith._product((weight, body(point))))
    return arith._sum(terms)


# ----------------------------------------------------------------------------- densities


def _pi():
    return mpi_pi(arith.PREC)


_LOG_2PI_V: dict = {}


def log_normal(v, mean, variance):
    """log N(v; mean, variance) = -log(2 pi variance) / 2 - (v - mean)**2 / (2 variance)."""
    if not arith._positive(variance):
        raise Undefined(f"a Gaussian with variance {show(variance)} <= 0")
    key = (variance, arith.PREC)
    constant = _LOG_2PI_V.get(key)
    if constant is None:
        if len(_LOG_2PI_V) > 10_000:
            _LOG_2PI_V.clear()
        constant = _LOG_2PI_V[key] = arith._product(
            (Fraction(-1, 2), arith._log(arith._product((Fraction(2), _pi(), variance)))))
    d = arith._sum((v, arith._product((Fraction(-1), mean))))
    return arith._sum((constant, arith._product((Fraction(-1, 2), arith._power(d, 2), arith._power(variance, -1)))))


def _distribution(d, inst: GaussianInstance) -> tuple:
    """(mean, variance) of a distribution over z (D = 1)."""
    if inst.D > 1:
        raise JudgeError("with D > 1 only the coordinates of q(z) and p(z) are distributions")
    if isinstance(d, Normal):
        return evaluate(d.mean, inst, None), evaluate(d.variance, inst, None)
    if isinstance(d, Density) and tuple(d.variables) == (z,):
        if d.name == "q" and tuple(d.given) in ((), (x,)):
            if inst.q is not None:
                return inst.q
            sigma = inst.value("sigma")
            return inst.value("mu"), sigma * sigma
        if d.name == "p" and not d.given:
            return Fraction(0), Fraction(1)
        if d.name == "p" and tuple(d.given) == (x,):
            w, b, s, xv = (inst.value(n) for n in ("w", "b", "s", "x"))
            return w * (xv - b) / (w * w + s * s), s * s / (w * w + s * s)
    raise JudgeError(f"{d} is not a distribution over z in the Gaussian family")


def _log_density(d, inst: GaussianInstance, at):
    """log of a density at z = `at` (None when z is not needed)."""
    if isinstance(d, Normal) or (isinstance(d, Density) and tuple(d.variables) == (z,)):
        if at is None:
            raise JudgeError(f"{d} with z unbound")
        mean, variance = _distribution(d, inst)
        return log_normal(at, mean, variance)
    if not isinstance(d, Density) or d.name != "p":
        raise JudgeError(f"no density {d} in the Gaussian family")
    w, b, s, xv = (inst.value(n) for n in ("w", "b", "s", "x"))
    variables, given = set(d.variables), tuple(d.given)
    if variables == {x} and given == (z,):
        if at is None:
            raise JudgeError(f"{d} with z unbound")
        return log_normal(xv, arith._sum((arith._product((w, at)), b)), s * s)
    if variables == {x, z} and not given:
        if at is None:
            raise JudgeError(f"{d} with z unbound")
        return arith._sum((log_normal(at, Fraction(0), Fraction(1)),
                           log_normal(xv, arith._sum((arith._product((w, at)), b)), s * s)))
    if variables == {x} and not given:
        return log_normal(xv, b, w * w + s * s)
    raise JudgeError(f"no density {d} in the Gaussian family")


def _coordinates(d, inst: GaussianInstance) -> list[tuple]:
    """(mean, variance) per coordinate of q(z) or p(z) = N(0, I) (the diagonal version)."""
    if isinstance(d, Density) and tuple(d.variables) == (z,) and not d.given and d.name in ("p", "q"):
        if d.name == "p":
            return [(Fraction(0), Fraction(1))] * inst.D
        out = []
        for j in range(1, inst.D + 1):
            sigma = inst.value(f"sigma{j}")
            out.append((inst.value(f"mu{j}"), sigma * sigma))
        return out
    raise JudgeError(f"with D = {inst.D} the distributions are q(z) and p(z), not {d}")


def _kl_1(a, b, inst):
    (m1, v1), (m2, v2) = a, b
    return _expect(inst, m1, v1, lambda t: arith._sum((log_normal(t, m1, v1),
                                                        arith._product((Fraction(-1), log_normal(t, m2, v2))))))


def _entropy_1(a, inst):
    m, v = a
    return arith._product((Fraction(-1), _expect(inst, m, v, lambda t: log_normal(t, m, v))))


# ----------------------------------------------------------------------------- evaluation


def _cached(inst: GaussianInstance, key, compute):
    key = key + (arith.PREC,)
    if key not in inst.binders:
        try:
            inst.binders[key] = compute()
        except Undefined as error:
            inst.binders[key] = error
    known = inst.binders[key]
    if isinstance(known, Undefined):
        raise known
    return known


def _degree(e) -> int | None:
    """A bound on the degree in z of e's value as a function of z (a log-density counts 2), or
    None when it is not a polynomial in z (then the quadrature is not exact: undecided)."""
    if not has_free_z(e):
        return 0
    if e == z:
        return 1
    if isinstance(e, sympy.log):
        return _log_degree(e.args[0])
    if isinstance(e, (sympy.Add, sympy.Mul)):
        parts = [_degree(a) for a in e.args]
        known = [p for p in parts if p is not None]
        if len(known) < len(parts):
            return None
        return max(known) if isinstance(e, sympy.Add) else sum(known)
    if isinstance(e, sympy.Pow) and isinstance(e.exp, sympy.Integer) and int(e.exp) >= 0:
        inner = _degree(e.base)
        return None if inner is None else inner * int(e.exp)
    return None


def _log_degree(arg) -> int | None:
    """log of a product, quotient or power of densities and positive constants is a quadratic."""
    if not has_free_z(arg):
        return 0
    if isinstance(arg, (Density, Normal)):
        return 2
    if isinstance(arg, sympy.Mul):
        parts = [_log_degree(a) for a in arg.args]
        known = [p for p in parts if p is not None]
        return None if len(known) < len(parts) else max(known)
    if isinstance(arg, sympy.Pow) and isinstance(arg.exp, sympy.Integer):
        return _log_degree(arg.base)
    return None


_FREE: dict = {}


def has_free_z(e) -> bool:
    """z occurs outside every binder (E, KL, H, ELBO bind it): a function of z."""
    known = _FREE.get(e)
    if known is None:
        if len(_FREE) > 100_000:
            _FREE.clear()
        known = _FREE[e] = _has_free_z(e)
    return known


def _has_free_z(e) -> bool:
    if isinstance(e, (Expectation, KL, Entropy, ELBO, IWAE, LatentSum)):
        return False
    if isinstance(e, Normal):
        return True
    if isinstance(e, Density):
        return z in e.variables or z in e.given
    if e == z:
        return True
    return any(has_free_z(a) for a in e.args)


def _integrand(body, inst: GaussianInstance):
    degree = _degree(body)
    if degree is None or degree >= 2 * NODES:
        raise JudgeError(f"E(d, {body}): not a polynomial in z of degree < {2 * NODES} (the quadrature is "
                         f"not exact for it)")
    return lambda t: evaluate(body, inst, t)


def evaluate(e, inst: GaussianInstance, at=None):
    """The value of `e` at the instance, z bound to the value `at` (None: unbound)."""
    if at is not None and not has_free_z(e):
        at = None  # the same value at every z: computed once per instance
    if at is None and not isinstance(e, (sympy.Rational, sympy.Symbol)):
        return _cached(inst, ("value", e), lambda: _evaluate(e, inst, None))
    return _evaluate(e, inst, at)


def _evaluate(e, inst: GaussianInstance, at=None):
    if isinstance(e, (Density, Normal)):
        if inst.D > 1:
            raise JudgeError(f"with D = {inst.D} a density of the vector z has no value in this vocabulary")
        return arith._exp(_log_density(e, inst, at))
    if isinstance(e, LatentSum):
        raise JudgeError("z is real in the Gaussian family: no sum over z")
    if isinstance(e, IWAE):
        raise JudgeError("IWAE is defined for the discrete family only")
    if isinstance(e, Expectation):
        mean, variance = _distribution(e.distribution, inst)
        return _expect(inst, mean, variance, _integrand(e.body, inst))
    if isinstance(e, KL):
        a, b = e.args
        if inst.D > 1:
            return _cached(inst, ("KL", a, b), lambda: arith._sum(
                [_kl_1(ca, cb, inst) for ca, cb in zip(_coordinates(a, inst), _coordinates(b, inst))]))
        return _cached(inst, ("KL", a, b), lambda: _kl_1(_distribution(a, inst), _distribution(b, inst), inst))
    if isinstance(e, Entropy):
        (a,) = e.args
        if inst.D > 1:
            return _cached(inst, ("H", a), lambda: arith._sum([_entropy_1(c, inst) for c in _coordinates(a, inst)]))
        return _cached(inst, ("H", a), lambda: _entropy_1(_distribution(a, inst), inst))
    if isinstance(e, ELBO):
        if inst.D > 1:
            raise JudgeError("with D > 1 the ELBO has no value in this vocabulary")
        if e.observation != x:
            raise JudgeError("the Gaussian family has one observation, x")
        a = e.distribution
        mean, variance = _distribution(a, inst)
        joint = Density("p", (x, z))
        return _cached(inst, ("ELBO", a), lambda: _expect(inst, mean, variance, lambda t: arith._sum(
            (_log_density(joint, inst, t), arith._product((Fraction(-1), _log_density(a, inst, t)))))))
    if e is sympy.pi:
        return _pi()
    if isinstance(e, sympy.Rational):
        return Fraction(int(e.p), int(e.q))
    if isinstance(e, sympy.Symbol):
        if e == z:
            if at is None:
                raise JudgeError("z unbound")
            return at
        return inst.value(e.name)
    if isinstance(e, sympy.Add):
        return arith._sum([evaluate(a, inst, at) for a in e.args])
    if isinstance(e, sympy.Mul):
        return arith._product([evaluate(a, inst, at) for a in e.args])
    if isinstance(e, sympy.Pow):
        base, exponent = e.args
        if not isinstance(exponent, sympy.Integer):
            raise JudgeError(f"non-integer exponent in {e}")
        return arith._power(evaluate(base, inst, at), int(exponent))
    if isinstance(e, sympy.log):
        if len(e.args) != 1:
            raise JudgeError("log with a base")
        if isinstance(e.args[0], (Density, Normal)) and inst.D == 1:
            return _log_density(e.args[0], inst, at)  # the same value, without exp then log
        return arith._log(evaluate(e.args[0], inst, at))
    if isinstance(e, sympy.exp):
        return arith._exp(evaluate(e.args[0], inst, at))
    raise JudgeError(f"the Gaussian judge does not know {type(e).__name__}: {e}")


# ----------------------------------------------------------------------------- instances


def _rational(rng: random.Random, low: int, high: int, denominator: int = 8) -> Fraction:
    return Fraction(rng.randint(low * denominator, high * denominator), denominator)


def instances(D: int, count: int, seed: int = 0, params: tuple[tuple[str, str], ...] = ()) -> list[GaussianInstance]:
    """`count` valid instances: q = the posterior (tight, rational: w = 3/4, s = 1), q = the
    prior, random ones, a narrow q (sigma = 1/1000), a far x, w = 0; for D > 1 random means and
    scales, q = the prior, one coordinate narrow.  Parameters cycle through their samples."""
    rng = random.Random(f"reference-gaussian-{D}-{seed}")
    out: list[tuple[str, dict]] = []
    if D == 1:
        def draw() -> dict:
            return {"mu": _rational(rng, -3, 3), "sigma": Fraction(rng.randint(1, 24), 8), "w": _rational(rng, -2, 2),
                    "b": _rational(rng, -2, 2), "s": Fraction(rng.randint(1, 16), 8), "x": _rational(rng, -3, 3),
                    "z": _rational(rng, -3, 3)}
        tight = draw()
        tight.update(w=Fraction(3, 4), s=Fraction(1), sigma=Fraction(4, 5))
        tight["mu"] = Fraction(12, 25) * (tight["x"] - tight["b"])
        out.append(("tight case q = p(z | x)", tight))
        out.append(("q = p(z)", {**draw(), "mu": Fraction(0), "sigma": Fraction(1)}))
        out += [(f"random {i}", draw()) for i in range(3)]
        out.append(("narrow q: sigma = 1/1000", {**draw(), "sigma": Fraction(1, 1000)}))
        out.append(("far x = 1000, z = -50", {**draw(), "x": Fraction(1000), "z": Fraction(-50)}))
        out.append(("w = 0 (x says nothing)", {**draw(), "w": Fraction(0)}))
        out.append(("small s = 1/100", {**draw(), "s": Fraction(1, 100)}))
        out.append(("random 3", draw()))
    else:
        def draw_d() -> dict:
            values: dict = {}
            for j in range(1, D + 1):
                values[f"mu{j}"] = _rational(rng, -3, 3)
                values[f"sigma{j}"] = Fraction(rng.randint(1, 24), 8)
            return values
        out.append(("q = p(z)", {k: Fraction(int(k.startswith("sigma"))) for k in draw_d()}))
        out += [(f"random {i}", draw_d()) for i in range(3)]
        out.append(("sigma1 = 1/1000", {**draw_d(), "sigma1": Fraction(1, 1000)}))
        out.append((f"mu{D} = 1000", {**draw_d(), f"mu{D}": Fraction(1000)}))
        out.append(("random 3", draw_d()))
    out = out[:max(1, count)]
    samples = [(name, arith.parameter_samples(condition)) for name, condition in params]
    result = []
    for i, (name, values) in enumerate(out):
        chosen = {n: v[(i * (j + 1)) % len(v)] for j, (n, v) in enumerate(samples)}
        result.append(GaussianInstance(name, tuple({**values, **chosen}.items()), D))
    for pname, v in samples:  # the first instance at every sample of each parameter
        for value in v:
            values = {**out[0][1], **{n: vs[0] for n, vs in samples}, pname: value}
            result.append(GaussianInstance(f"{out[0][0]}; {pname} = {value}", tuple(values.items()), D))
    return result


def with_assumptions(cases: list[GaussianInstance], fixes) -> tuple[list[GaussianInstance], int]:
    """q fixed by the assumption q(z) = d (a Normal or a density of the family), read by this
    judge; an instance where d's variance is not > 0 is skipped (counted)."""
    out, skipped = [], 0
    for inst in cases:
        fixed = inst
        try:
            for _, expr in fixes:
                mean, variance = _distribution(expr, inst)
                if not arith._positive(variance):
                    raise Undefined("variance <= 0")
                fixed = fixed.with_q((mean, variance))
        except Undefined:
            skipped += 1
            continue
        out.append(fixed)
    return out, skipped


def is_valid(inst: GaussianInstance, params: tuple[tuple[str, str], ...] = ()) -> bool:
    """Every scale and variance > 0 (sigma, s or sigma1..sigmaD; an assumed q's variance), each
    parameter inside its interval."""
    values = dict(inst.values)
    scales = ("sigma", "s") if inst.D == 1 else tuple(f"sigma{j}" for j in range(1, inst.D + 1))
    if not all(name in values and values[name] > 0 for name in scales):
        return False
    if inst.q is not None and not arith._positive(inst.q[1]):
        return False
    return all(name in values and arith.parameter_contains(condition, values[name]) for name, condition in params)


def judge(lhs, rel: str, rhs, cases: list[GaussianInstance], stop_at_first: bool = True) -> Judgement:
    """`lhs rel rhs` at every instance (a free z at the instance's value of z)."""
    result = Judgement()
    for inst in cases:
        at = None
        if has_free_z(lhs) or has_free_z(rhs):
            if inst.D > 1:
                raise JudgeError("with D > 1 z is a vector: no claim for every z")
            at = inst.value("z")
        outcome = outcome_of(inst, None, lhs, rel, rhs, evaluate, inst, at)
        result.outcomes.append(outcome)
        if stop_at_first and not outcome.holds:
            break
    return result


__all__ = ["GaussianInstance", "instances", "with_assumptions", "judge", "evaluate", "hermite_rule", "log_normal",
           "NODES"]

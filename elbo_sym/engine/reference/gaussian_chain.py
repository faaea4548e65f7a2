"""The reference evaluator of Gaussian layers (``model = "gaussian"``, ``latents = ["z1", "z2"]``):
joint Gaussians from their covariance matrices, conditionals by the Schur complement, every
expectation by nested Gauss-Hermite quadrature -- none of the engine's neighbour formulas,
moments, unfolding or canonical forms.

Each chain is written as x_i = A_i parent + B_i + e_i with independent e_i ~ N(0, V_i): the
reverse chain zT -> ... -> z1 -> x (zT ~ N(0, 1), p(z_{t-1} | z_t) = N(a_t z_t + b_t, v_t),
p(x | z1) = N(a1 z1 + b1, v1)) and the forward chain x -> z1 -> ... -> zT (q(z_t | z_{t-1}) =
N(c_t z_{t-1}, 1 - c_t**2), z0 = x, x fixed).  Their means and covariances are exact fractions
(cov(child, u) = A cov(parent, u), var(child) = A**2 var(parent) + V).  A density d(A | B) is
the Gaussian of A given B: mean mu_A + S_AB S_BB^-1 (b - mu_B), covariance S_AA - S_AB S_BB^-1 S_BA
(exact fractions), its log -|A| log(2 pi)/2 - log det C / 2 - (a - m)' C^-1 (a - m) / 2.
E(d, f) integrates d's variables one at a time with the n-point Hermite rule (exact for the
polynomial integrands of the vocabulary); KL, H and ELBO are such expectations.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import sympy

from elbo_sym.engine.notation import ELBO, IWAE, KL, LAYER_SYMBOLS, Density, Entropy, Expectation, LatentSum, Normal, x
from elbo_sym.engine.reference import discrete as arith
from elbo_sym.engine.reference.discrete import JudgeError, Judgement, Undefined, Value, outcome_of, show
from elbo_sym.engine.reference.gaussian import _key, _pi, arithmetic, hermite_intervals
from elbo_sym.engine.reference.rationals import Rational, named_rationals
from elbo_sym.failures import reraise_callers

NODES = 7
"""Most Hermite points per variable: exact for integrands of degree < 14 in each (log-densities are
quadratic: 2 points; a higher degree is refused, undecided)."""


@dataclass(frozen=True)
class ChainInstance:
    """Values of the chain's parameters (c_t, a_t, b_t, v_t), x, the file's [params] and a value per layer
    (for claims with a free layer)."""

    name: str
    values: tuple[tuple[str, Rational], ...]
    T: int = 2
    binders: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Numbers from outside (a caller's or a test's Fractions) as the judges' exact type (`rationals`)."""
        object.__setattr__(self, "values", named_rationals(self.values))

    def value(self, name: str) -> Rational:
        for key, v in self.values:
            if key == name:
                return v
        raise JudgeError(f"no value for the name {name}")

    def describe(self) -> str:
        return f"[{self.name}] " + ", ".join(f"{n} = {show(v)}" for n, v in self.values)


# ----------------------------------------------------------------------------- exact Gaussians


def _joint(names: list[str], steps: list[tuple[Rational, Rational, Rational]], start_mean: Rational,
           start_var: Rational) -> tuple[dict, dict]:
    """Means and covariances of a chain names[0] -> names[1] -> ..., each x_i = A x_{i-1} + B + e (var V)."""
    mean = {names[0]: start_mean}
    cov = {(names[0], names[0]): start_var}
    for i in range(1, len(names)):
        A, B, V = steps[i - 1]
        child, parent = names[i], names[i - 1]
        mean[child] = A * mean[parent] + B
        for u in names[:i]:
            cov[(child, u)] = cov[(u, child)] = A * cov[(parent, u)]
        cov[(child, child)] = A * A * cov[(parent, parent)] + V
    return mean, cov


def _chains(inst: ChainInstance) -> dict:
    known = inst.binders.get("chains")
    if known is None:
        T = inst.T
        v = inst.value
        reverse_names = [f"z{t}" for t in range(T, 0, -1)] + ["x"]
        reverse = [(v(f"a{t}"), v(f"b{t}"), v(f"v{t}")) for t in range(T, 0, -1)]
        forward_names = [f"z{t}" for t in range(1, T + 1)]
        forward = [(v(f"c{t}"), arith.ZERO, 1 - v(f"c{t}") ** 2) for t in range(2, T + 1)]
        c1 = v("c1")
        known = inst.binders["chains"] = {"p": _joint(reverse_names, reverse, arith.ZERO, arith.ONE),
                                          "q": _joint(forward_names, forward, c1 * v("x"), 1 - c1 ** 2)}
    return known


def _solve(matrix: list[list[Rational]], columns: list[list[Rational]]) -> list[list[Rational]]:
    """matrix^-1 columns by Gauss-Jordan elimination over the fractions."""
    n = len(matrix)
    rows = [list(matrix[i]) + [c[i] for c in columns] for i in range(n)]
    for i in range(n):
        pivot = next((r for r in range(i, n) if rows[r][i] != 0), None)
        if pivot is None:
            raise Undefined("a singular covariance")
        rows[i], rows[pivot] = rows[pivot], rows[i]
        p = rows[i][i]
        rows[i] = [e / p for e in rows[i]]
        for r in range(n):
            if r != i and rows[r][i] != 0:
                f = rows[r][i]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[i])]
    return [[rows[i][n + j] for i in range(n)] for j in range(len(columns))]


def _det(matrix: list[list[Rational]]) -> Rational:
    n, m, det = len(matrix), [list(r) for r in matrix], arith.ONE
    for i in range(n):
        pivot = next((r for r in range(i, n) if m[r][i] != 0), None)
        if pivot is None:
            return arith.ZERO
        if pivot != i:
            m[i], m[pivot] = m[pivot], m[i]
            det = -det
        det *= m[i][i]
        for r in range(i + 1, n):
            f = m[r][i] / m[i][i]
            m[r] = [a - f * b for a, b in zip(m[r], m[i])]
    return det


def conditional(inst: ChainInstance, chain: str, wanted: tuple[str, ...], given: tuple[str, ...]):
    """(mu_A, gain K with mean = mu_A + K (b - mu_B), covariance C) of `wanted` given `given`, exact."""
    key = ("conditional", chain, wanted, given)
    known = inst.binders.get(key)
    if known is None:
        mean, cov = _chains(inst)[chain]
        S_AB = [[cov[(a, b)] for b in given] for a in wanted]
        if given:
            S_BB = [[cov[(b, c)] for c in given] for b in given]
            # K = S_AB S_BB^-1, row by row: K_a = S_BB^-1 S_Ba (S_BB symmetric)
            gain = _solve(S_BB, [row for row in S_AB])
            C = [[cov[(a, b)] - sum(gain[i][k] * cov[(given[k], b)] for k in range(len(given)))
                  for b in wanted] for i, a in enumerate(wanted)]
        else:
            gain = [[] for _ in wanted]
            C = [[cov[(a, b)] for b in wanted] for a in wanted]
        known = inst.binders[key] = ([mean[a] for a in wanted], gain, C, [mean[b] for b in given])
    return known


def _names(d: Density, inst: ChainInstance) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    return _names_in(d, inst.T)


@lru_cache(maxsize=1024)
def _names_in(d: Density, T: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(chain, variables, given) of a density by name, once per density (asked at every quadrature point)."""
    layers = {f"z{t}" for t in range(1, T + 1)}
    variables = tuple(str(v) for v in d.variables)
    given = tuple(str(v) for v in d.given)
    if not set(variables) | set(given) <= layers | {"x"} or not variables:
        raise JudgeError(f"{d} is not a density of the Gaussian chain")
    if d.name == "q":
        if "x" in variables:
            raise JudgeError("q is over the layers")
        return "q", variables, tuple(g for g in given if g != "x")
    if d.name == "p":
        return "p", variables, given
    raise JudgeError(f"no density {d.name}")


@lru_cache(maxsize=1024)
def _argument_names(d: Density) -> tuple[str, ...]:
    """The names of d's variables and given ones, in order (printed once, not at every quadrature point)."""
    return tuple(str(v) for v in d.variables + d.given)


@lru_cache(maxsize=1024)
def _variable_names(d: Density) -> frozenset[str]:
    """The names of the variables d is a density over (what E(d, f) integrates), not the given ones."""
    return frozenset(str(v) for v in d.variables)


def _mean_at(mu, gain_row, mu_given, values) -> Value:
    return arith._sum([mu] + [arith._product2(k, arith._sum2(v, -m)) for k, v, m in zip(gain_row, values, mu_given)])


def log_density(d: Density, inst: ChainInstance, at: dict) -> Value:
    """log d at the values `at` of its variables (cached per instance, density, values and precision;
    a repeat counts its work again)."""
    try:
        key = ("log", arith.expression_key(d), tuple(_key(at[name]) for name in _argument_names(d)), arith.PREC)
    except KeyError as error:
        reraise_callers(error)
        raise JudgeError(f"{error.args[0]} is free where {d} is evaluated") from None
    return arith.remembered_with_work(inst.binders, key, lambda: _log_density(d, inst, at))


def _log_density(d: Density, inst: ChainInstance, at: dict) -> Value:
    chain, wanted, given = _names(d, inst)
    mu, gain, C, mu_given = conditional(inst, chain, wanted, given)
    inverse, constant = arith.remembered_with_work(inst.binders, ("precision", chain, wanted, given, arith.PREC),
                                                   lambda: _precision_matrix(C))
    try:
        values = [at[g] for g in given]
        point = [at[a] for a in wanted]
    except KeyError as error:
        reraise_callers(error)
        raise JudgeError(f"{error.args[0]} is free where {d} is evaluated") from None
    diff = [arith._sum2(p, arith._product2(arith.MINUS_ONE, _mean_at(mu[i], gain[i], mu_given, values)))
            for i, p in enumerate(point)]
    quadratic = arith._sum([arith._product((inverse[i][j], diff[i], diff[j]))
                            for i in range(len(diff)) for j in range(len(diff))])
    return arith._product2(arith.MINUS_HALF, arith._sum2(constant, quadratic))


def _precision_matrix(C: list[list[Rational]]) -> tuple:
    """(C^-1, log((2 pi)**n det C)) of a covariance C, Undefined unless it is positive definite."""
    det = _det(C)
    if det <= 0:
        raise Undefined("a covariance that is not positive definite")
    inverse = _solve(C, [[Rational(int(i == j)) for i in range(len(C))] for j in range(len(C))])
    return inverse, arith._log(arith._product2(det, arith._power(arith._product2(arith.TWO, _pi()), len(C))))


def expect(d: Density, inst: ChainInstance, at: dict, body, degree: int = 2) -> Value:
    """E over d's variables, one at a time (each given the earlier ones and d's given variables), by
    the Hermite rule of degree // 2 + 1 points (exact for a polynomial of that degree in each)."""
    nodes = hermite_intervals(degree // 2 + 1)
    chain, wanted, given = _names(d, inst)
    if chain == "p" and "x" in wanted:
        raise JudgeError("expectations are over the latent layers")

    def level(i: int, point: dict) -> Value:
        if i == len(wanted):
            return body(point)
        name = wanted[i]
        before = tuple(given) + tuple(wanted[:i])
        mu, gain, C, mu_given = conditional(inst, chain, (name,), before)
        variance = C[0][0]
        if variance <= 0:
            raise Undefined(f"a Gaussian with variance {show(variance)} <= 0")
        mean = _mean_at(mu[0], gain[0], mu_given, [point[b] for b in before])
        scale = arith.backend().sqrt(arith._iv(variance), arith.PREC)
        terms = []
        for node, weight in nodes:
            value = arith._sum2(mean, arith._product2(scale, node))
            terms.append(arith._product2(weight, level(i + 1, {**point, name: value})))
        return arith._sum(terms)

    return level(0, dict(at))


# ----------------------------------------------------------------------------- evaluation


def _difference(a, b) -> Value:
    return arith._sum2(a, arith._product2(arith.MINUS_ONE, b))


def _of_densities(e) -> bool:
    """A product, quotient or integer power of densities and numbers (its log is a sum of log-densities)."""
    if isinstance(e, Density) or isinstance(e, sympy.Rational) or e is sympy.pi:
        return True
    if isinstance(e, sympy.Mul):
        return all(_of_densities(a) for a in e.args)
    return isinstance(e, sympy.Pow) and isinstance(e.args[1], sympy.Integer) and _of_densities(e.args[0])


def _log_of_densities(e, inst: ChainInstance, at: dict) -> Value:
    if isinstance(e, Density):
        return log_density(e, inst, at)
    if isinstance(e, sympy.Mul):
        return arith._sum([_log_of_densities(a, inst, at) for a in e.args])
    if isinstance(e, sympy.Pow):
        return arith._product2(Rational(int(e.args[1])), _log_of_densities(e.args[0], inst, at))
    return arith._log(evaluate(e, inst, at))  # a positive number (or pi): Undefined when it is not positive


@lru_cache(maxsize=4096)
def degree(e, integrated: frozenset[str] = frozenset()) -> int:
    """A bound on the degree of `e` in the layers (a log-density or a KL: 2); JudgeError when `e` is no
    polynomial in them (the quadrature would not be exact).  `integrated`: the layers an enclosing E
    integrates over; a density of none of them (p(x), q(z2 | x) under E over z1), or a log or exp of
    anything free of them, is a constant there, degree 0, and a density of any of them is refused (exp
    of a quadratic: no polynomial).  Remembered by (e, integrated): an E asks it at every point of an
    enclosing E; a refusal is raised again each time."""
    if isinstance(e, (KL, Entropy, ELBO)):
        return 2
    if isinstance(e, Expectation):
        return degree(e.body, integrated | _variable_names(e.distribution))
    if isinstance(e, Density):
        if not _free_of(e, integrated):
            raise JudgeError("a density of an integrated layer under E is no polynomial in the layers")
        return 0
    if isinstance(e, sympy.Symbol):
        return 1 if e.name.startswith("z") or e.name == "x" else 0
    if isinstance(e, sympy.Add):
        return max(degree(a, integrated) for a in e.args)
    if isinstance(e, sympy.Mul):
        return sum(degree(a, integrated) for a in e.args)
    if isinstance(e, sympy.Pow):
        n = e.args[1]
        d = degree(e.args[0], integrated)
        if d and not (isinstance(n, sympy.Integer) and n >= 0):
            raise JudgeError("a negative or fractional power of a layer under E")
        return d * int(n) if d else 0
    if isinstance(e, (sympy.log, sympy.exp)):
        if isinstance(e, sympy.log) and _of_densities(e.args[0]):
            return 2
        if _free_of(e.args[0], integrated):  # exp(log(p(x))) under E over z1: a constant there
            return 0
        if degree(e.args[0], integrated):
            raise JudgeError("log or exp of a function of the layers under E")
        return 0
    return 0


def _free_of(e, integrated: frozenset[str]) -> bool:
    """`e` depends on none of the `integrated` layers: a constant for the E that integrates them (an
    expectation, KL, H, ELBO, sum or IWAE inside is not looked into: not shown free)."""
    if isinstance(e, Density):
        return not integrated & set(_argument_names(e))
    if isinstance(e, sympy.Symbol):
        return e.name not in integrated
    if isinstance(e, (Expectation, KL, Entropy, ELBO, LatentSum, IWAE, Normal)):
        return False
    return all(_free_of(a, integrated) for a in e.args)


def evaluate(e, inst: ChainInstance, at: dict) -> Value:
    """The value of `e` at the instance, the layers (and x) at the values `at` gives them."""
    return _evaluation(e)(inst, at)


Evaluation = Callable[[ChainInstance, dict], Value]
_EVALUATIONS: dict = {}


def _evaluation(e) -> Evaluation:
    """`_plain_evaluate(e, inst, at)` as a function of (inst, at), made once per expression: an expectation
    evaluates its body at every point of every instance, and walking the expression each time (the type
    tests of every part) was about a tenth of the judge's time.  The function does the same operations in
    the same order (the same values bit for bit, the same work counted, the same errors): a sum, product
    or integer power of its parts' functions, a number, a name, log and exp; any other expression by
    `_plain_evaluate` itself."""
    return arith.remembered(_EVALUATIONS, e, lambda: _evaluation_of(e))


def _evaluation_of(e) -> Evaluation:
    arithmetic = arith.arithmetic_function(e, _evaluation)
    if arithmetic is not None:
        return arithmetic
    kind = type(e)
    if isinstance(e, sympy.Rational):
        number = Rational(int(e.p), int(e.q))
        return lambda inst, at: number
    if kind is sympy.Symbol:
        name = e.name
        return lambda inst, at: at[name] if name in at else inst.value(name)
    if kind is sympy.exp:
        of_argument = _evaluation(e.args[0])
        return lambda inst, at: arith._exp(of_argument(inst, at))
    if kind is sympy.log and not _of_densities(e.args[0]):
        of_argument = _evaluation(e.args[0])
        return lambda inst, at: arith._log(of_argument(inst, at))
    return lambda inst, at: _plain_evaluate(e, inst, at)


def _plain_evaluate(e, inst: ChainInstance, at: dict) -> Value:
    """`evaluate` as it is defined, without `_evaluation`'s functions (the tests compare the two)."""
    if isinstance(e, Density):
        return arith._exp(log_density(e, inst, at))
    if isinstance(e, (LatentSum, IWAE, Normal)):
        raise JudgeError("the Gaussian chain has no sum over z, IWAE or Normal(m, v)")
    if isinstance(e, Expectation):
        n = degree(e.body, _variable_names(e.distribution))
        if n >= 2 * NODES:
            raise JudgeError(f"E(d, f) of a polynomial of degree >= {2 * NODES} in the layers: the quadrature "
                             f"is not exact for it")
        return expect(e.distribution, inst, at, lambda point: evaluate(e.body, inst, point), n)
    if isinstance(e, KL):
        a, b = e.args
        return expect(a, inst, at, lambda point: _difference(log_density(a, inst, point), log_density(b, inst, point)))
    if isinstance(e, Entropy):
        (a,) = e.args
        return arith._product2(arith.MINUS_ONE, expect(a, inst, at, lambda point: log_density(a, inst, point)))
    if isinstance(e, ELBO):
        if e.observation != x:
            raise JudgeError("one observation, x")
        a, joint = e.distribution, e.joint
        return expect(a, inst, at, lambda point: _difference(log_density(joint, inst, point),
                                                             log_density(a, inst, point)))
    if isinstance(e, sympy.Symbol):
        if e.name in at:
            return at[e.name]
        return inst.value(e.name)
    number = arithmetic(e, lambda part: evaluate(part, inst, at))
    if number is not None:
        return number
    if isinstance(e, sympy.log):
        if _of_densities(e.args[0]):  # a sum of log-densities: no exp then log
            return _log_of_densities(e.args[0], inst, at)
        return arith._log(evaluate(e.args[0], inst, at))
    if isinstance(e, sympy.exp):
        return arith._exp(evaluate(e.args[0], inst, at))
    raise JudgeError(f"the Gaussian chain's judge does not know {type(e).__name__}: {e}")


# ----------------------------------------------------------------------------- instances


def _rational(rng: random.Random, low: int, high: int, denominator: int = 8) -> Rational:
    return Rational(rng.randint(low * denominator, high * denominator), denominator)


def instances(T: int, count: int, seed: int = 0, params: tuple[tuple[str, str], ...] = ()) -> list[ChainInstance]:
    """`count` valid instances: random chains, coefficients near 0 and near 1, a far x, tiny and large
    reverse variances, zero weights; layer values for claims with a free layer."""
    rng = random.Random(f"reference-gaussian-chain-{T}-{seed}")

    def draw() -> dict:
        values: dict = {}
        for t in range(1, T + 1):
            values[f"c{t}"] = Rational(rng.randint(1, 15), 16)
            values[f"a{t}"] = _rational(rng, -2, 2)
            values[f"b{t}"] = _rational(rng, -2, 2)
            values[f"v{t}"] = Rational(rng.randint(1, 24), 8)
        values["x"] = _rational(rng, -3, 3)
        for t in range(1, T + 1):
            values[f"z{t}"] = _rational(rng, -3, 3)
        return values

    out = [("random 0", draw())]  # the boundary cases early: the product path judges the first few only
    out.append(("c_t = 1/1000", {**draw(), **{f"c{t}": Rational(1, 1000) for t in range(1, T + 1)}}))
    out.append(("c_t = 999/1000", {**draw(), **{f"c{t}": Rational(999, 1000) for t in range(1, T + 1)}}))
    out.append(("v_t = 1/100, a_t = 0", {**draw(), **{f"v{t}": Rational(1, 100) for t in range(1, T + 1)},
                                         **{f"a{t}": arith.ZERO for t in range(1, T + 1)}}))
    out.append(("far x = 1000", {**draw(), "x": Rational(1000)}))
    out += [(f"random {i}", draw()) for i in range(1, 4)]
    out = out[:max(1, count)]
    samples = [(name, arith.parameter_samples(condition)) for name, condition in params]
    result = []
    for i, (name, values) in enumerate(out):
        chosen = {n: v[(i * (j + 1)) % len(v)] for j, (n, v) in enumerate(samples)}
        result.append(ChainInstance(name, tuple({**values, **chosen}.items()), T))
    return result


def is_valid(inst: ChainInstance, params: tuple[tuple[str, str], ...] = ()) -> bool:
    """Forward coefficients in (0, 1), reverse variances > 0, each [params] value in its interval."""
    values = dict(inst.values)
    for t in range(1, inst.T + 1):
        if not (0 < values.get(f"c{t}", arith.ZERO) < 1 and values.get(f"v{t}", arith.ZERO) > 0):
            return False
    return all(name in values and arith.parameter_contains(condition, values[name]) for name, condition in params)


def _side_value(e, inst: ChainInstance, at: dict) -> Value:
    """evaluate(e, inst, at), once per instance, point and precision: a step's right-hand side is the next
    step's left-hand side, evaluated at the same instances; a repeat counts its work again)."""
    point = tuple(sorted((name, _key(v)) for name, v in at.items()))  # names are distinct: keys never compared
    return arith.remembered_with_work(inst.binders, ("side", arith.expression_key(e), point, arith.PREC),
                                      lambda: evaluate(e, inst, at))


def judge(lhs, rel: str, rhs, cases: list[ChainInstance], stop_at_first: bool = True) -> Judgement:
    """`lhs rel rhs` at every instance (a free layer at the instance's value of it)."""
    result = Judgement()
    for inst in cases:
        at = {"x": inst.value("x"), **{f"z{t}": inst.value(f"z{t}") for t in range(1, inst.T + 1)}}
        outcome = outcome_of(inst, None, lhs, rel, rhs, _side_value, inst, at, refine=True)
        result.outcomes.append(outcome)
        if stop_at_first and not outcome.holds:
            break
    return result


__all__ = ["ChainInstance", "instances", "is_valid", "judge", "evaluate", "log_density", "conditional", "NODES",
           "LAYER_SYMBOLS"]

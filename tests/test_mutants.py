"""Mutation testing of the checker: wrong variants of the lesson derivations are never
`proved` or `checked`.

Mutants are generated programmatically from the text of ``derivations/*.toml`` and
``derivations/variants/*.toml`` (and of a few longer versions of the variants written
here, so that an intermediate step such as ``(beta - 1) * KL(...)`` and exact examples
with parameters are mutated too): mutation operators rewrite one step's ``expr`` or
``rel`` (or the ``start``, ``claim`` or ``assume`` line), a parameter's interval in
``[params]``, one number of an ``[[example]]``, or one ``[example.expect]`` value.
Each mutant is then judged by an *independent oracle* -- a small mpmath evaluator of the
derivation vocabulary written here from the lesson's definitions, sharing no code with
``elbo_sym`` -- and only mutants the oracle shows to be really wrong are kept (a mutation
that happens to keep the math true, like replacing both q(z) in q(z) * f / q(z), is
dropped).  For every kept mutant the test asserts that the engine does not accept it:
the mutated step is ``refuted`` or ``error`` (and so is the step after it when it starts
from the mutated expression and the oracle finds it wrong too), or the claim is not
established, or the example's expectation fails, or loading raises ``DerivationError``.
The engine's verdicts are computed once per mutant, in a pool of WORKERS forked processes.

``K = "any"`` (one proof for every latent space) is judged by the oracle on explicit
models with K = 2, 3 and 5 and on the file's examples (each with its own K, the length of
its vectors).  Parameters (``[params] beta = ">= 1"``) are sampled inside their interval,
the closed bounds included; several observations (``data = ["x1", "x2"]``) get their own
likelihoods and q's, including q(z | x1) = p(z | x2).
"""

from __future__ import annotations

import ast
import gc
import itertools
import multiprocessing
import os
import random
import re
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soundness_judge import _ONE_SIDED, _TWO_SIDED, parameter_contains  # noqa: E402
from suite_sizes import FULL_CAMPAIGNS, sized_int  # noqa: E402

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.repair import check_with_suggestions

# the campaigns here are sized (tests/suite_sizes.py): small in make test, full size in make test-full
pytestmark = pytest.mark.sized

ROOT = Path(__file__).resolve().parent.parent / "derivations"
DERIVATIONS = sorted(ROOT.glob("*.toml")) + sorted(p for p in (ROOT / "variants").glob("*.toml")
                                                   if not p.name.startswith(("hierarchical-", "gaussian-")))
"""The oracle below knows the discrete family with one latent variable z; the two-layer chain
(hierarchical-*.toml) and the Gaussian family (gaussian-*.toml) have their own independent
judges: scipy/mpmath cross-checks and wrong variants in tests/test_hierarchical.py and
tests/test_gaussian.py."""
MIN_MUTANTS = 50
_CORES = (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
WORKERS = int(os.environ.get("ELBO_SYM_MUTANT_WORKERS", str(max(1, min(2, _CORES)))))
"""Processes sharing the checking of the mutants (the verdicts are computed once, in a pool): at most two, and
no more than the cores this pytest process has to itself (pytest-xdist's workers already share them)."""
ORACLE_K = (2, 3, 5)
"""Explicit latent spaces on which the oracle judges a `K = "any"` statement."""

# =========================================================================== the oracle
# An evaluator of the derivation vocabulary straight from the lesson's definitions,
# on Python's own AST and mpmath at 50 digits.  It knows nothing of elbo_sym.

DPS = 50
TOLERANCE = mpmath.mpf(10) ** -30
"""Two sides closer than this (at 50 digits) count as equal: the lesson's values are O(1)."""


class OracleUndefined(ArithmeticError):
    """log of a non-positive value, or division by zero: the expression has no real value."""


@dataclass(frozen=True)
class World:
    """One instance of the discrete model (mpf values): the prior, and per observation a
    likelihood vector and a q; the parameters' values by name."""

    prior: tuple
    likelihood: dict
    q: dict
    params: dict = field(default_factory=dict)

    @property
    def K(self) -> int:
        return len(self.prior)

    @property
    def observations(self) -> tuple[str, ...]:
        return tuple(self.likelihood)

    def evidence(self, o: str):
        key = (o, mpmath.mp.dps)  # p(o), asked for by every density conditioned on o: summed once
        known = _EVIDENCE.get((id(self), key))
        if known is None:
            value = mpmath.fsum(a * b for a, b in zip(self.prior, self.likelihood[o]))
            known = _EVIDENCE[id(self), key] = (self, value)
        return known[1]


_EVIDENCE: dict = {}
"""p(o) per world (by identity; the world kept alive in the entry so its id is never reused)."""


def _density(call: ast.Call, w: World, k: int | None):
    """p(o), p(z), p(o, z), p(o | z), p(z | o), q(z), q(z | o) at z = k."""
    name = call.func.id
    variables, given = [], []
    for arg in call.args:
        if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr):
            variables.append(arg.left.id)
            given.append(arg.right.id)
        else:
            (given if given else variables).append(arg.id)
    observed = [v for v in variables + given if v != "z"]
    if len(observed) > 1 or any(o not in w.observations for o in observed):
        raise KeyError(f"unknown density {name}{variables}|{given}")
    o = observed[0] if observed else None
    if name == "p" and variables == [o] and not given:
        return w.evidence(o)
    if k is None:
        raise KeyError("free z")
    if name == "q" and variables == ["z"]:
        if not given:
            if len(w.observations) != 1:
                raise KeyError("q(z) with several observations")
            return w.q[w.observations[0]][k]
        if given == [o]:
            return w.q[o][k]
    if name == "p":
        if variables == ["z"] and not given:
            return w.prior[k]
        if sorted(variables) == sorted([o, "z"]) and not given:
            return w.prior[k] * w.likelihood[o][k]
        if variables == [o] and given == ["z"]:
            return w.likelihood[o][k]
        if variables == ["z"] and given == [o]:
            return w.prior[k] * w.likelihood[o][k] / w.evidence(o)
    raise KeyError(f"unknown density {name}{variables}|{given}")


def _weights(node: ast.AST, w: World) -> list:
    if isinstance(node, ast.Name) and node.id == "q":
        if len(w.observations) != 1:
            raise KeyError("q alone with several observations")
        return list(w.q[w.observations[0]])
    return [_density(node, w, k) for k in range(w.K)]


def _log(v):
    if v <= 0:
        raise OracleUndefined("log of a non-positive value")
    return mpmath.log(v)


def evaluate(node: ast.AST, w: World, k: int | None = None):
    """The value of an expression (an `ast` node) in world `w`, with z bound to k."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, w, k)
    if isinstance(node, ast.Constant):
        return mpmath.mpf(node.value)
    if isinstance(node, ast.Name):  # a parameter
        return w.params[node.id]
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, w, k)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = evaluate(node.left, w, k), evaluate(node.right, w, k)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise OracleUndefined("division by zero")
            return a / b
        if isinstance(node.op, ast.Pow):
            if b < 0 and a == 0:
                raise OracleUndefined("division by zero")
            return a ** b
    if isinstance(node, ast.Call):
        name, args = node.func.id, node.args
        if name in ("p", "q"):
            return _density(node, w, k)
        if name == "log":
            return _log(evaluate(args[0], w, k))
        if name == "exp":
            return mpmath.exp(evaluate(args[0], w, k))
        if name == "Sum":
            return mpmath.fsum(evaluate(args[0], w, j) for j in range(w.K))
        if name == "E":
            weights = _weights(args[0], w)
            return mpmath.fsum(weights[j] * evaluate(args[1], w, j) for j in range(w.K))
        if name == "KL":
            a, b = _weights(args[0], w), _weights(args[1], w)
            return mpmath.fsum(a[j] * _log(a[j] / b[j]) for j in range(w.K))
        if name == "H":
            a = _weights(args[0], w)
            return -mpmath.fsum(a[j] * _log(a[j]) for j in range(w.K))
        if name == "ELBO":
            a = _weights(args[0], w)
            if len(args) == 2:
                o = args[1].id
            elif len(w.observations) == 1:
                o = w.observations[0]
            else:
                raise KeyError("ELBO without its observation")
            if o not in w.observations:
                raise KeyError(o)
            return mpmath.fsum(a[j] * _log(w.prior[j] * w.likelihood[o][j] / a[j]) for j in range(w.K))
        if name == "IWAE":  # E over k independent draws from a of log((1/k) sum_i p(x, z_i) / a(z_i))
            a, k = _weights(args[0], w), args[1].value
            o = args[2].id if len(args) == 3 else w.observations[0]
            if o not in w.observations:
                raise KeyError(o)
            r = [w.prior[j] * w.likelihood[o][j] / a[j] for j in range(w.K)]
            return mpmath.fsum(mpmath.fprod(a[j] for j in t) * _log(mpmath.fsum(r[j] for j in t) / k)
                               for t in itertools.product(range(w.K), repeat=k))
    raise ValueError(f"the oracle cannot evaluate {ast.dump(node)[:80]}")


_FREE_Z: dict = {}


def _has_free_z(text: str, node: ast.AST) -> bool:
    """_free_z of an expression's text, found once per text."""
    known = _FREE_Z.get(text)
    if known is None:
        known = _FREE_Z[text] = _free_z(node)
    return known


def _free_z(node: ast.AST) -> bool:
    """z occurs outside Sum/E/KL/H/ELBO (a claim for every value of z)."""
    if isinstance(node, ast.Call) and node.func.id in ("Sum", "E", "KL", "H", "ELBO", "IWAE"):
        return False
    if isinstance(node, ast.Name) and node.id == "z":
        return True
    return any(_free_z(child) for child in ast.iter_child_nodes(node))


_PARSED: dict = {}


def _parse(text: str) -> ast.Expression:
    tree = _PARSED.get(text)
    if tree is None:
        tree = _PARSED[text] = ast.parse(text, mode="eval")
    return tree


_VALUES: dict = {}
"""The value (or OracleUndefined) of an expression's text in a world at z = k: a mutant of step i
leaves the step's other side as it was, and the same worlds judge every mutant of a file, so
each side is evaluated once (collection judges ~800 mutants in every pytest process). Keyed by
the world's identity, the world kept alive in the entry so its id is never reused."""


def _value(text: str, node: ast.AST, w: World, k: int | None):
    key = (text, id(w), k, mpmath.mp.dps)
    known = _VALUES.get(key)
    if known is None:
        try:
            known = (w, evaluate(node, w, k), None)
        except OracleUndefined as error:
            known = (w, None, error)
        _VALUES[key] = known
    if known[2] is not None:
        raise known[2]
    return known[1]


def relation_fails(lhs: str, rel: str, rhs: str, w: World) -> bool:
    """True when `lhs rel rhs` is false in world w (for some value of a free z)."""
    left, right = _parse(lhs), _parse(rhs)
    ks = range(w.K) if (_has_free_z(lhs, left) or _has_free_z(rhs, right)) else [None]
    with mpmath.workdps(DPS):
        for k in ks:
            try:
                d = _value(lhs, left, w, k) - _value(rhs, right, w, k)
            except OracleUndefined:
                return True  # not even defined here: the step cannot hold as written
            ok = {"=": abs(d) <= TOLERANCE, ">=": d >= -TOLERANCE, "<=": d <= TOLERANCE,
                  ">": d > TOLERANCE, "<": d < -TOLERANCE}[rel]
            if not ok:
                return True
    return False


# --------------------------------------------------------------------------- parameters
# The oracle reads a parameter's condition itself (">= 1", "> 1/2", "in (0, 1)", "real").

NEAR = Fraction(1, 10**6)


def interval_samples(condition: str) -> tuple[Fraction, ...]:
    """Values inside the interval: its closed bounds, just inside an open bound, the middle, far out."""
    text = condition.strip()
    if text == "real":
        return tuple(Fraction(v) for v in (-3, -1, Fraction(-1, 2), 0, Fraction(1, 2), 1, 3))
    one = _ONE_SIDED.fullmatch(text)
    if one:
        op, b = one.group(1), Fraction(one.group(2))
        sign = 1 if op in (">=", ">") else -1
        out = [] if op in (">", "<") else [b]
        return tuple(out + [b + sign * d for d in (NEAR, Fraction(1, 2), Fraction(1), Fraction(3), Fraction(100))])
    two = _TWO_SIDED.fullmatch(text)
    if two:
        lo, hi = Fraction(two.group(2)), Fraction(two.group(3))
        width = hi - lo
        out = [lo + width * t for t in (NEAR, Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1 - NEAR)]
        if two.group(1) == "[":
            out.insert(0, lo)
        if two.group(4) == "]":
            out.append(hi)
        return tuple(out)
    raise ValueError(f"the oracle cannot read the condition {condition!r}")


interval_contains = parameter_contains  # the fuzz judge's reading of a [params] condition (no engine code)


# --------------------------------------------------------------------------- worlds


def _fractions(values) -> tuple[Fraction, ...]:
    return tuple(Fraction(str(v)) for v in values)


def _valid_distribution(values: tuple[Fraction, ...], K: int) -> bool:
    return len(values) == K and all(v > 0 for v in values) and sum(values) == 1


def _valid_likelihood(values: tuple[Fraction, ...], K: int) -> bool:
    return len(values) == K and all(0 < v <= 1 for v in values)


def observations_of(data: dict) -> tuple[str, ...]:
    return tuple(data.get("data", ["x"]))


def _assumptions(data: dict) -> list[tuple[str, str]]:
    """[(observation, q expression)] for `assume` ("q(z) = ..." or "q(z | x1) = ...", or a list)."""
    items = data.get("assume", [])
    items = [items] if isinstance(items, str) else items
    out = []
    for item in items:
        lhs, rhs = item.split("=", 1)
        match = re.fullmatch(r"\s*q\(\s*z\s*(?:\|\s*(\w+)\s*)?\)\s*", lhs)
        out.append((match.group(1) or observations_of(data)[0], rhs.strip()))
    return out


def _per_observation(value, observations) -> dict:
    if isinstance(value, dict):
        return {o: _fractions(value[o]) for o in observations}
    return {observations[0]: _fractions(value)}


def _world(data: dict, prior, likelihood: dict, q: dict | None, params: dict) -> World:
    """A World from exact vectors, with q fixed by the file's assumptions."""
    K = len(prior)
    mp = lambda v: mpmath.mpf(v.numerator) / v.denominator  # noqa: E731
    with mpmath.workdps(DPS):
        q = dict(q or {})
        for o in likelihood:
            q.setdefault(o, tuple(Fraction(1, K) for _ in range(K)))  # replaced by the assumption below
        w = World(tuple(map(mp, prior)), {o: tuple(map(mp, v)) for o, v in likelihood.items()},
                  {o: tuple(map(mp, v)) for o, v in q.items()}, {n: mp(v) for n, v in params.items()})
        for o, body in _assumptions(data):
            tree = _parse(body)
            fixed = tuple(evaluate(tree, w, k) for k in range(K))
            w = World(w.prior, w.likelihood, {**w.q, o: fixed}, w.params)
    return w


def example_worlds(data: dict) -> list[World]:
    """One world per [[example]] (its K is the length of its vectors)."""
    observations = observations_of(data)
    out = []
    for e in data.get("example", []):
        prior = _fractions(e["prior"])
        likelihood = _per_observation(e["likelihood"], observations)
        q = _per_observation(e["q"], observations) if "q" in e else None
        params = {n: Fraction(str(v)) for n, v in e.get("params", {}).items()}
        out.append(_world(data, prior, likelihood, q, params))
    return out


def _param_grid(data: dict) -> list[dict]:
    """Every combination of the parameters' sample values ([{}] without parameters)."""
    params = data.get("params", {})
    names = sorted(params)
    return [dict(zip(names, values)) for values in itertools.product(*(interval_samples(params[n]) for n in names))]


_WORLDS: dict = {}


def worlds(data: dict, seed: int = 1, count: int = 8, skewed: bool = True) -> list[World]:
    """The file's examples, then, for each K the statement is about (K = 2, 3, 5 for "any"),
    seeded random instances incl. q = posterior (tight), q = prior and (several observations)
    q(z | x1) = p(z | x2); skewed ones; each with every sample of the parameters."""
    key = repr((data.get("K", 2), data.get("data"), data.get("params"), data.get("assume"), seed, count, skewed))
    known = _WORLDS.get(key)
    if known is None:
        known = _WORLDS[key] = _random_worlds(data, seed, count, skewed)
    return example_worlds(data) + known


def _random_worlds(data: dict, seed: int, count: int, skewed: bool) -> list[World]:
    K = data.get("K", 2)
    observations = observations_of(data)
    out = []
    grid = _param_grid(data)
    for K in (ORACLE_K if K == "any" else (K,)):  # noqa: B020 - K: the file's, then each explicit one
        rng = random.Random(f"{seed}-{K}")
        raw = []
        for n in range(count):
            prior = _simplex(rng, K)
            likelihood = {o: tuple(Fraction(rng.randint(1, 19), 20) for _ in range(K)) for o in observations}
            post = {o: _posterior(prior, likelihood[o]) for o in observations}
            if n == 0:
                q = post
            elif n == 1:
                q = {o: prior for o in observations}
            elif n == 2 and len(observations) > 1:  # each q is another observation's posterior
                q = {o: post[observations[(i + 1) % len(observations)]] for i, o in enumerate(observations)}
            else:
                q = {o: _simplex(rng, K) for o in observations}
            raw.append((prior, likelihood, q))
        # skewed worlds: a nearly degenerate q or prior, likelihoods near 0 and 1 (inequalities
        # that hold "on average" break here)
        uniform = tuple(Fraction(1, K) for _ in range(K))
        high = tuple(Fraction(19, 20) for _ in range(K))
        spread = tuple(Fraction(1, 50) if k % 2 == 0 else Fraction(1) for k in range(K))
        for j in ((0, K - 1) if skewed else ()):
            raw.append((uniform, {o: high for o in observations}, {o: _skewed(K, j) for o in observations}))
            raw.append((_skewed(K, j), {o: spread if i % 2 == 0 else spread[::-1] for i, o in enumerate(observations)},
                        {o: uniform for o in observations}))
        for prior, likelihood, q in raw:
            for params in grid:
                out.append(_world(data, prior, likelihood, q, params))
    return out


def _posterior(prior, likelihood) -> tuple[Fraction, ...]:
    evidence = sum(a * b for a, b in zip(prior, likelihood))
    return tuple(a * b / evidence for a, b in zip(prior, likelihood))


def _skewed(K: int, j: int) -> tuple[Fraction, ...]:
    tiny = Fraction(1, 50 * K)
    return tuple(1 - tiny * (K - 1) if k == j else tiny for k in range(K))


def _simplex(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    weights = [rng.randint(1, 9) for _ in range(K)]
    return tuple(Fraction(v, sum(weights)) for v in weights)


def split_relation(text: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"(.*?)\s*(<=|>=|=|<|>)\s*(.*)", text)
    assert match, text
    return match.group(1), match.group(2), match.group(3)


# =========================================================================== the file as text


@dataclass(frozen=True)
class Slot:
    """One mutable value in the file: the line it sits on and which table it belongs to."""

    line: int  # 0-based
    table: str | None  # None, "params", "step", "example", "example.expect"
    index: int  # which [[step]] / [[example]] (0-based)
    key: str
    value: str


def slots(text: str) -> list[Slot]:
    """Every `key = "string"` / `key = [...]` / `key = { ... }` line, with its table and table index."""
    out, table, counts = [], None, Counter()
    for number, line in enumerate(text.splitlines()):
        header = re.match(r"\s*\[\[\s*(\w+)\s*\]\]", line) or re.match(r"\s*\[\s*([\w.]+)\s*\]", line)
        if header:
            table = header.group(1)
            if line.lstrip().startswith("[["):
                counts[table] += 1
            continue
        match = re.match(r'\s*("[^"]*"|\w+)\s*=\s*(.*)$', line)
        if match:
            key = match.group(1).strip('"')
            index = counts[table.split(".")[0]] - 1 if table else 0
            out.append(Slot(number, table, index, key, match.group(2)))
    return out


def replace_line(text: str, slot: Slot, new_value: str) -> str:
    lines = text.splitlines()
    old = lines[slot.line]
    head = old[: old.index("=") + 1] if slot.table != "example.expect" else old[: old.rindex("= ") + 1]
    lines[slot.line] = f"{head} {new_value}"
    return "\n".join(lines) + "\n"


def quoted(expr: str) -> str:
    assert '"' not in expr and "\\" not in expr, expr
    return f'"{expr}"'


def toml_value(value) -> str:
    """A list of fraction strings, or an inline table of them (one list per observation)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(quoted(str(v)) for v in value) + "]"
    return quoted(str(value))


# =========================================================================== mutation operators
# Each operator maps an expression string (and the file's context: its observations and
# parameters) to mutated strings.


@dataclass(frozen=True)
class Context:
    observations: tuple[str, ...] = ("x",)
    params: tuple[str, ...] = ()

    @classmethod
    def of(cls, data: dict) -> Context:
        return cls(observations_of(data), tuple(data.get("params", {})))


def _nodes(tree: ast.AST):
    return [n for n in ast.walk(tree)]


def _variants(expr: str, predicate, rewrite):
    """Apply `rewrite` to the i-th node matching `predicate`, for each i (one mutant each)."""
    tree = ast.parse(expr, mode="eval")
    count = sum(1 for n in _nodes(tree) if predicate(n))
    for i in range(count):
        copy = ast.parse(expr, mode="eval")
        target = [n for n in _nodes(copy) if predicate(n)][i]
        replacement = rewrite(target)
        if replacement is target:
            yield ast.unparse(copy)
            continue
        _replace_node(copy, target, replacement)
        yield ast.unparse(copy)


def _replace_node(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    if tree.body is old:
        tree.body = new
        return
    for parent in ast.walk(tree):
        for field_name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field_name, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[i for i, v in enumerate(value) if v is old][0]] = new
                return
    raise AssertionError("node not found")


def _call_named(*names):
    return lambda n: isinstance(n, ast.Call) and getattr(n.func, "id", "") in names


def op_flip_sign(expr: str, ctx: Context):
    """+ <-> - at one binary node; a leading minus removed; the whole side negated."""
    def flip(n):
        n.op = ast.Sub() if isinstance(n.op, ast.Add) else ast.Add()
        return n
    yield from _variants(expr, lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)), flip)
    yield from _variants(expr, lambda n: isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub),
                         lambda n: n.operand)
    yield f"-({expr})"


def op_swap_q_p(expr: str, ctx: Context):
    """Swap the arguments of KL; swap q <-> p(z) (each occurrence, then all at once)."""
    yield from _variants(expr, _call_named("KL"), lambda n: ast.Call(n.func, [n.args[1], n.args[0]], []))
    if len(ctx.observations) == 1:
        pairs = [("q(z)", "p(z)"), ("p(z)", "q(z)")]
    else:
        pairs = [(f"q(z | {o})", "p(z)") for o in ctx.observations] + [("p(z)", f"q(z | {ctx.observations[0]})")]
    for old, new in pairs:
        positions = [m.start() for m in re.finditer(re.escape(old), expr)]
        for pos in positions:
            yield expr[:pos] + new + expr[pos + len(old):]
        if len(positions) > 1:
            yield expr.replace(old, new)


def op_posterior_to_prior(expr: str, ctx: Context):
    """p(z | x) -> p(z) at each occurrence (of each observation)."""
    for o in ctx.observations:
        for m in re.finditer(re.escape(f"p(z | {o})"), expr):
            yield expr[: m.start()] + "p(z)" + expr[m.end():]


def op_drop_term(expr: str, ctx: Context):
    """A + B / A - B -> A, or -> B: drop one term of a sum."""
    def is_sum(n):
        return isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub))
    yield from _variants(expr, is_sum, lambda n: n.left)
    yield from _variants(expr, is_sum, lambda n: n.right)


def op_drop_factor(expr: str, ctx: Context):
    """A * B -> A or B, A / B -> A: drop one factor or divisor of a product."""
    def is_product(n):
        return isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div))
    yield from _variants(expr, is_product, lambda n: n.left)
    yield from _variants(expr, lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult),
                         lambda n: n.right)


def op_invert_ratio(expr: str, ctx: Context):
    """log(a / b) -> log(b / a)."""
    def is_log_ratio(n):
        return (isinstance(n, ast.Call) and getattr(n.func, "id", "") == "log"
                and isinstance(n.args[0], ast.BinOp) and isinstance(n.args[0].op, ast.Div))
    yield from _variants(expr, is_log_ratio,
                         lambda n: ast.Call(n.func, [ast.BinOp(n.args[0].right, ast.Div(), n.args[0].left)], []))


def op_swap_observation(expr: str, ctx: Context):
    """Several observations: one mention of x1 -> x2 (e.g. q(z | x1) against p(z | x2)), and
    one term (a KL, ELBO, E, H or log) about the other observation entirely."""
    if len(ctx.observations) < 2:
        return
    others = {o: ctx.observations[(i + 1) % len(ctx.observations)] for i, o in enumerate(ctx.observations)}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, ctx.observations)) + r")\b")
    for m in pattern.finditer(expr):
        yield expr[: m.start()] + others[m.group(1)] + expr[m.end():]

    def rename(n):
        for inner in ast.walk(n):
            if isinstance(inner, ast.Name) and inner.id in others:
                inner.id = others[inner.id]
        return n
    yield from _variants(expr, _call_named("KL", "ELBO", "E", "H", "log"), rename)


def op_param(expr: str, ctx: Context):
    """A parameter's coefficient changed (beta -> beta / 2, beta - 1, 1 / beta, -beta) and
    (beta - 1) -> (1 - beta)."""
    def is_param(n):
        return isinstance(n, ast.Name) and n.id in ctx.params
    for template in ("{} / 2", "{} - 1", "1 / {}", "-{}"):
        yield from _variants(expr, is_param, lambda n, t=template: ast.parse(t.format(n.id), mode="eval").body)

    def is_shifted(n):
        return (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub)
                and (is_param(n.left) or is_param(n.right)))
    yield from _variants(expr, is_shifted, lambda n: ast.BinOp(n.right, ast.Sub(), n.left))


EXPR_OPERATORS = {
    "flip-sign": op_flip_sign,
    "swap-q-p": op_swap_q_p,
    "posterior-to-prior": op_posterior_to_prior,
    "drop-term": op_drop_term,
    "drop-factor": op_drop_factor,
    "invert-ratio": op_invert_ratio,
    "swap-observation": op_swap_observation,
    "param": op_param,
}

REL_MUTATIONS = {
    "=": ("<", ">"),  # an identity made strict: false everywhere
    ">=": ("<=", "=", ">", "<"),  # reversed, equality where only >= holds, strict (false when tight)
    "<=": (">=", "=", "<", ">"),
}

INTERVAL_MUTATIONS = ("in (0, 1)", "> 1/2", "> 0", ">= 1/2", "real", "in [1/2, 2]", "<= 1")
"""A parameter's condition widened or moved (beta >= 1 -> beta in (0, 1), ...)."""


def op_number(value: str):
    """One integer literal of an expression or fraction changed (n -> n + 1)."""
    for m in re.finditer(r"\d+", value):
        n = int(m.group())
        yield value[: m.start()] + str(n + 1) + value[m.end():]


# =========================================================================== mutants


@dataclass(frozen=True)
class Mutant:
    name: str  # file:operator:where
    operator: str
    source: str  # derivation file name
    text: str
    kind: str  # "step", "claim", "example", "load"
    step: int | None = None  # 1-based step that must not be accepted (kind == "step")
    example: int | None = None  # 0-based example whose expectations must fail
    also: tuple[int, ...] = ()  # later steps the mutation made wrong too (the next step sees the new expr)


def _chain(data: dict) -> list[tuple[str, str]]:
    """[(rel, expr)] with the start as element 0 (rel None)."""
    return [(None, data["start"])] + [(s["rel"], s["expr"]) for s in data["step"]]


def _step_is_wrong(data: dict, chain: list, i: int, world_list: list[World]) -> bool:
    """Step i (1-based) of the chain fails in some world."""
    rel, expr = chain[i]
    return any(relation_fails(chain[i - 1][1], rel, expr, w) for w in world_list)


def _claim_is_wrong(data: dict, world_list: list[World]) -> bool:
    lhs, rel, rhs = split_relation(data["claim"])
    return any(relation_fails(lhs, rel, rhs, w) for w in world_list)


def _examples_valid(data: dict) -> bool:
    """Every example is an instance of the file's model (its K: the file's, or its own for "any")."""
    observations = observations_of(data)
    params = data.get("params", {})
    fixed = {o for o, _ in _assumptions(data)}
    for e in data.get("example", []):
        try:
            prior = _fractions(e["prior"])
            K = data.get("K", 2) if data.get("K", 2) != "any" else len(prior)
            for key in ("likelihood", "q"):  # one list, or one list per observation
                value = e.get(key, [])
                if isinstance(value, dict) and set(value) != set(observations) or \
                        not isinstance(value, dict) and len(observations) > 1 and key in e:
                    return False
            likelihood = _per_observation(e["likelihood"], observations)
            needs_q = any(o not in fixed for o in observations)
            if ("q" in e) != needs_q:
                return False
            q = _per_observation(e["q"], observations) if "q" in e else {}
            values = {n: Fraction(str(v)) for n, v in e.get("params", {}).items()}
        except (ValueError, ZeroDivisionError, KeyError, TypeError):
            return False
        if K < 2 or not _valid_distribution(prior, K):
            return False
        if not all(_valid_likelihood(v, K) for v in likelihood.values()):
            return False
        if not all(_valid_distribution(v, K) for v in q.values()):
            return False
        if set(values) != set(params) or not all(interval_contains(params[n], v) for n, v in values.items()):
            return False
    return True


def _failing_expectation(data: dict) -> int | None:
    """Index of an example whose [example.expect] does not hold (oracle), else None."""
    for index, w in enumerate(example_worlds(data)):
        for lhs, rhs in data["example"][index].get("expect", {}).items():
            if relation_fails(lhs, "=", rhs, w):
                return index
    return None


def _judge(original: str, text: str, source: str, operator: str, where: str,
           target_step: int | None, next_step: bool = False) -> Mutant | None:
    """Keep the mutant only if it differs from the original and the oracle finds it wrong.

    `target_step`: the step whose expression or relation changed (`next_step`: the step
    after it starts from the new expression, so it is judged too).  None: every step is
    judged (a parameter's interval changed), else the claim, else an example's expectation."""
    if text == original:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    name = f"{source}:{operator}:{where}"
    if not _examples_valid(data):
        return Mutant(name, operator, source, text, "load")
    try:
        world_list = worlds(data) if target_step is not None or not operator.startswith(("example", "expect")) \
            else []
        chain = _chain(data)
        affected = []
        if target_step is not None:
            affected = [target_step] + ([target_step + 1] if next_step and target_step + 1 < len(chain) else [])
        elif operator.startswith("interval"):
            affected = list(range(1, len(chain)))
        # an expression that no longer parses as the vocabulary is not a meaningful mutant (ValueError)
        wrong = [i for i in affected if _step_is_wrong(data, chain, i, world_list)]
        if wrong:
            return Mutant(name, operator, source, text, "step", step=wrong[0], also=tuple(wrong[1:]))
        if target_step is not None:
            return None
        if "claim" in data and operator.startswith(("claim", "interval")) and _claim_is_wrong(data, world_list):
            return Mutant(name, operator, source, text, "claim")
        failing = _failing_expectation(data)
    except (ValueError, KeyError, AttributeError, TypeError, SyntaxError):
        return None
    if failing is not None:
        return Mutant(name, operator, source, text, "example", example=failing)
    return None


# =========================================================================== the sources
# The files themselves, and longer versions of the variants written here: an intermediate
# step with (beta - 1), exact examples with a parameter (at K = 2 and K = 3), expectations.

BETA_STEPS = '''
[[step]]
rel = "="
expr = "log(p(x)) - KL(q(z), p(z | x)) - (beta - 1) * KL(q(z), p(z))"
rule = "algebra"
why = "the gap identity, and beta = 1 + (beta - 1)"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
why = "both KL divergences are >= 0 and beta - 1 >= 0"

[[example]]
prior = ["3/4", "1/4"]
likelihood = ["1/5", "3/5"]
q = ["1/3", "2/3"]
params = { beta = "2" }

[example.expect]
"beta * KL(q(z), p(z))" = "2/3 * log(4/9) + 4/3 * log(8/3)"

[[example]]
prior = ["1/2", "1/4", "1/4"]
likelihood = ["1/2", "1/4", "1"]
q = ["1/4", "1/4", "1/2"]
params = { beta = "1" }

[example.expect]
"beta * KL(q(z), p(z))" = "1/4 * log(1/2) + 1/2 * log(2)"
'''

DATASET_EXPECT = '''
[example.expect]
"log(p(x1)) + log(p(x2))" = "log(3/25)"
"KL(q(z | x2), p(z | x2))" = "1/2 * log(8/15) + 1/2 * log(8)"
'''

EM_STEPS = '''
[[step]]
rel = "="
expr = "E(q, log(p(x, z))) + H(q) + KL(q(z), p(z | x))"
rule = "algebra"
why = "expected complete-data log-likelihood, plus entropy, plus the gap"

[[step]]
rel = ">="
expr = "E(q, log(p(x, z))) + H(q)"
rule = "kl-nonneg"
why = "the gap is >= 0: the E-step lower bound"

[[example]]
prior = ["3/4", "1/4"]
likelihood = ["1/5", "3/5"]
q = ["1/3", "2/3"]

[example.expect]
"H(q)" = "-1/3 * log(1/3) - 2/3 * log(2/3)"
"E(q, log(p(x, z)))" = "1/3 * log(3/20) + 2/3 * log(3/20)"
'''


def _head(text: str) -> str:
    return text.split("[[step]]")[0].rstrip() + "\n"


def _sources() -> dict[str, str]:
    """Name -> text of every derivation that is mutated."""
    out = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in DERIVATIONS}
    beta, dataset, em = (out.get(f"variants/{n}.toml") for n in ("beta-elbo", "dataset", "em"))
    if beta is not None:
        out["variants/beta-elbo.toml+steps"] = _head(beta) + BETA_STEPS
    if dataset is not None:
        out["variants/dataset.toml+expect"] = dataset.rstrip() + "\n" + DATASET_EXPECT
    if em is not None:
        head = re.sub(r'(?m)^claim = .*$', 'claim = "log(p(x)) >= E(q, log(p(x, z))) + H(q)"', _head(em))
        out["variants/em.toml+steps"] = head + EM_STEPS
    return out


SOURCES = _sources()


# =========================================================================== generation


def _list_mutations(values: list):
    """(label, new list): one number changed, set to 0, negated; the list reversed."""
    for i in range(len(values)):
        for n, new in enumerate(op_number(values[i])):
            yield "example-number", f"[{i}]#{n}", values[:i] + [new] + values[i + 1:]
        yield "example-nonpositive", f"[{i}]=0", values[:i] + ["0"] + values[i + 1:]
        yield "example-nonpositive", f"[{i}]<0", values[:i] + ["-" + values[i]] + values[i + 1:]
    yield "example-swap", " reversed", values[::-1]


def _value_mutations(value):
    """Mutations of an example's vector, or of its per-observation vectors (and their order)."""
    if isinstance(value, list):
        yield from _list_mutations(value)
        return
    keys = list(value)
    for key in keys:
        for operator, where, new in _list_mutations(value[key]):
            yield operator, f".{key}{where}", {**value, key: new}
    if len(keys) > 1:
        rotated = dict(zip(keys, [value[k] for k in keys[1:] + keys[:1]]))
        yield "example-swap-observations", " observations swapped", rotated


def _fit_example_params(text: str, condition: str, name: str) -> str:
    """After a parameter's interval changed: example values outside it moved inside."""
    inside = interval_samples(condition)
    for slot in slots(text):
        if slot.table == "example" and slot.key == "params":
            value = tomllib.loads(f"v = {slot.value}")["v"]
            if name in value and not interval_contains(condition, Fraction(str(value[name]))):
                value[name] = str(inside[len(inside) // 2])
                text = replace_line(text, slot, toml_value(value))
    return text


def generate_mutants() -> tuple[list[Mutant], Counter]:
    """All kept mutants of all sources, and how many each operator produced before filtering."""
    mutants: list[Mutant] = []
    tried: Counter = Counter()
    seen: set[str] = set()
    for source, original in SOURCES.items():
        ctx = Context.of(tomllib.loads(original))

        def keep(text, operator, where, target, next_step=False, original=original, source=source):
            tried[operator] += 1
            if text in seen:
                return
            mutant = _judge(original, text, source, operator, where, target, next_step)
            if mutant is not None:
                seen.add(text)
                mutants.append(mutant)

        for slot in slots(original):
            if source.endswith("+expect") and slot.table not in ("example", "example.expect"):
                continue  # the steps are the file's own: mutated there
            value = tomllib.loads(f"v = {slot.value}")["v"]
            target = None
            at = f"example{slot.index + 1}." if slot.table in ("example", "example.expect") else ""
            if slot.table == "step" and slot.key == "expr":
                target = slot.index + 1
            elif slot.table is None and slot.key == "start":
                target = 1
            if target is not None:
                for operator, mutate in EXPR_OPERATORS.items():
                    for n, new in enumerate(dict.fromkeys(mutate(value, ctx))):
                        keep(replace_line(original, slot, quoted(new)), operator, f"{slot.key}{target}#{n}", target,
                             next_step=slot.key == "expr")
            elif slot.table == "step" and slot.key == "rel":
                for new in REL_MUTATIONS[value]:
                    keep(replace_line(original, slot, quoted(new)), f"rel {value}->{new}",
                         f"step{slot.index + 1}", slot.index + 1)
            elif slot.table == "params":
                for new in INTERVAL_MUTATIONS:
                    text = _fit_example_params(replace_line(original, slot, quoted(new)), new, slot.key)
                    keep(text, f"interval {value}->{new}", f"params.{slot.key}", None)
            elif slot.table is None and slot.key in ("claim", "assume"):
                lhs, rel, rhs = split_relation(value)
                if slot.key == "claim":
                    for new in REL_MUTATIONS[rel]:
                        keep(replace_line(original, slot, quoted(f"{lhs} {new} {rhs}")), f"claim-rel {rel}->{new}",
                             "claim", None)
                    for operator in ("flip-sign", "swap-q-p", "posterior-to-prior", "drop-term", "swap-observation",
                                     "param"):
                        for n, new in enumerate(EXPR_OPERATORS[operator](rhs, ctx)):
                            keep(replace_line(original, slot, quoted(f"{lhs} {rel} {new}")), f"claim-{operator}",
                                 f"claim#{n}", None)
                else:
                    # a different assumption: the assumption step (whichever uses it) must fail
                    for n, new in enumerate(op_posterior_to_prior(rhs, ctx)):
                        text = replace_line(original, slot, quoted(f"{lhs} {rel} {new}"))
                        rules = [s["rule"] for s in tomllib.loads(text)["step"]]
                        keep(text, "assume posterior-to-prior", f"assume#{n}", rules.index("assumption") + 1)
            elif slot.table == "example" and slot.key in ("prior", "likelihood", "q"):
                for operator, where, new in _value_mutations(value):
                    keep(replace_line(original, slot, toml_value(new)), operator, f"{at}{slot.key}{where}", None)
            elif slot.table == "example" and slot.key == "params":
                for name, v in value.items():
                    for new in list(op_number(str(v))) + ["0", f"-{v}"]:
                        keep(replace_line(original, slot, toml_value({**value, name: new})), "example-param",
                             f"{at}params.{name}={new}", None)
            elif slot.table == "example.expect":
                for n, new in enumerate(op_number(value)):
                    keep(replace_line(original, slot, quoted(new)), "expect-number", f"{at}{slot.key}#{n}", None)
                for operator in ("flip-sign", "invert-ratio", "drop-term", "swap-observation"):
                    for n, new in enumerate(EXPR_OPERATORS[operator](value, ctx)):
                        keep(replace_line(original, slot, quoted(new)), f"expect-{operator}", f"{at}{slot.key}#{n}",
                             None)
    return mutants, tried


MUTANTS, TRIED = generate_mutants()


def _operator_family(operator: str) -> str:
    return operator.split(" ")[0]


# =========================================================================== the tests


@pytest.mark.full
def test_originals_are_proved():
    """The baseline: every derivation mutated here is fully proved (else mutants prove nothing)."""
    for source, text in SOURCES.items():
        result = check_derivation(loads(text, source))
        assert result.fully_proved, (source, [(r.verdict, r.reason) for r in result.steps], result.claim_reason,
                                     [e.failures for e in result.examples])


def test_oracle_accepts_the_originals():
    """The oracle agrees that the unmutated derivations hold (so it is a fair judge)."""
    for source, text in SOURCES.items():
        data = tomllib.loads(text)
        chain, world_list = _chain(data), worlds(data)
        for i in range(1, len(chain)):
            assert not _step_is_wrong(data, chain, i, world_list), (source, i)
        if "claim" in data:
            assert not _claim_is_wrong(data, world_list), source
        assert _failing_expectation(data) is None, source
        assert _examples_valid(data), source


def test_oracle_judges_every_latent_space_and_the_whole_interval():
    """K = "any": worlds at K = 2, 3 and 5 plus the examples' own K; parameters at their
    closed bounds and just inside open ones; several observations incl. q(z | x1) = p(z | x2)."""
    beta = tomllib.loads(SOURCES["variants/beta-elbo.toml+steps"])
    world_list = worlds(beta)
    assert {w.K for w in world_list} == {2, 3, 5}
    betas = {float(w.params["beta"]) for w in world_list}
    assert {1.0, 2.0, float(1 + NEAR)} <= betas and min(betas) == 1.0
    assert interval_samples("in (0, 1)")[0] == NEAR and 0 not in interval_samples("in (0, 1)")
    assert interval_samples("in [1/2, 2]")[0] == Fraction(1, 2) and interval_samples("in [1/2, 2]")[-1] == 2
    # a K-dependent statement is wrong for "any" (holds at K = 2 only)
    k2 = {"K": "any", "start": "Sum(log(1 - q(z)), z)", "step": [{"rel": "=", "expr": "Sum(log(q(z)), z)"}]}
    assert _step_is_wrong(k2, _chain(k2), 1, worlds(k2))
    assert not _step_is_wrong({**k2, "K": 2}, _chain(k2), 1, worlds({**k2, "K": 2}))
    # beta below 1 breaks the beta-ELBO bound, beta at its bound 1 does not
    for condition, wrong in ((">= 1", False), ("> 1/2", True), ("in (0, 1)", True)):
        data = {**beta, "params": {"beta": condition}, "example": []}
        assert _step_is_wrong(data, _chain(data), 2, worlds(data)) is wrong, condition
    dataset = tomllib.loads(SOURCES["variants/dataset.toml"])
    with mpmath.workdps(DPS):
        crossed = [w for w in worlds(dataset) if w.K == 3 and abs(w.q["x1"][0] - w.q["x2"][0]) > 1e-9
                   and all(abs(v - a * b / w.evidence("x2")) < 1e-40
                           for v, a, b in zip(w.q["x1"], w.prior, w.likelihood["x2"]))]
    assert crossed
    swapped = {**dataset, "step": [{"rel": "=", "expr": "KL(q(z | x1), p(z | x2)) + KL(q(z | x2), p(z | x2))"}]}
    assert _step_is_wrong(swapped, _chain(swapped), 1, worlds(swapped))


def test_enough_mutants_of_every_kind():
    assert len(MUTANTS) >= MIN_MUTANTS, len(MUTANTS)
    families = Counter(_operator_family(m.operator) for m in MUTANTS)
    for family in ("flip-sign", "swap-q-p", "posterior-to-prior", "drop-term", "rel", "claim-rel",
                   "example-number", "example-nonpositive", "expect-number", "swap-observation", "param",
                   "interval", "example-param"):
        assert families[family] > 0, family
    # every source is mutated
    assert {m.source for m in MUTANTS} == set(SOURCES)
    # every mutant is a different text with its own name, and none is an original
    assert len({m.text for m in MUTANTS}) == len({m.name for m in MUTANTS}) == len(MUTANTS)
    assert not set(SOURCES.values()) & {m.text for m in MUTANTS}


def _has(source: str, *fragments: str, kind: str | None = None) -> bool:
    return any(m.source == source and all(f in m.text for f in fragments) and (kind is None or m.kind == kind)
               for m in MUTANTS)


def test_the_variants_classic_mistakes_are_mutants():
    beta, steps = "variants/beta-elbo.toml", "variants/beta-elbo.toml+steps"
    for source in (beta, steps):
        assert _has(source, 'beta = "in (0, 1)"', kind="step")
        assert _has(source, 'beta = "> 1/2"', kind="step")
        assert _has(source, "beta / 2 * KL(q(z), p(z))")  # the coefficient of KL changed
    assert _has(steps, "(1 - beta) * KL(q(z), p(z))")  # (beta - 1) flipped
    assert _has(steps, "(beta + 1) * KL(q(z), p(z))")
    dataset = "variants/dataset.toml"
    assert _has(dataset, 'expr = "KL(q(z | x1), p(z | x1))"', kind="step")  # one KL dropped
    assert _has(dataset, 'expr = "KL(q(z | x2), p(z | x2)) + KL(q(z | x2), p(z | x2))"')  # a term about x2
    assert _has(dataset, 'expr = "KL(q(z | x1), p(z | x2)) + KL(q(z | x2), p(z | x2))"')  # q(z | x1) vs p(z | x2)
    assert _has(dataset, "ELBO(q(z | x1), x2)")
    em = "variants/em.toml"
    assert _has(em, 'expr = "E(q, log(p(x, z))) - H(q) + KL(q(z), p(z | x))"', kind="step")  # entropy sign
    assert _has(em, 'expr = "E(q, log(p(x, z))) + H(q) + KL(p(z | x), q(z))"', kind="step")  # KL direction


def test_filter_drops_mutants_that_keep_the_math_true():
    """Some generated mutants are harmless (e.g. rel = -> >= weakens; q -> p in q*f/q): they are dropped."""
    assert sum(TRIED.values()) > len(MUTANTS)
    kept = {m.text for m in MUTANTS}
    original = SOURCES["jensen.toml"]
    harmless = original.replace('expr = "log(Sum(q(z) * p(x, z) / q(z), z))"',
                                'expr = "log(Sum(p(z) * p(x, z) / p(z), z))"')
    assert harmless != original and harmless not in kept
    stricter = SOURCES["variants/beta-elbo.toml"].replace('beta = ">= 1"', 'beta = ">= 2"')
    assert _judge(SOURCES["variants/beta-elbo.toml"], stricter, "b", "interval", "x", None) is None


@dataclass(frozen=True)
class Outcome:
    """What the engine said about a mutant, as plain data (crosses process boundaries)."""

    refused: str | None  # the DerivationError, when loading refused the text
    ok: bool = False
    established: bool = False
    verdicts: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    examples_hold: tuple[bool, ...] = ()
    counterexamples: tuple = ()  # per step: None or (values, z)
    seconds: float = 0.0


def outcome(mutant: Mutant) -> Outcome:
    """check_derivation(loads(text)) for one mutant (without repair suggestions: they never
    change a verdict, test_suggestions_do_not_change_verdicts), summarised."""
    started = time.perf_counter()
    try:
        derivation = loads(mutant.text, mutant.source)
    except DerivationError as error:
        return Outcome(str(error))
    result = check_derivation(derivation)
    return Outcome(None, result.ok, result.established, tuple(r.verdict.value for r in result.steps),
                   tuple(r.reason for r in result.steps), tuple(e.holds for e in result.examples),
                   tuple((r.counterexample.values, r.counterexample.z) if r.counterexample else None
                         for r in result.steps), time.perf_counter() - started)


def outcomes_of(mutants: list[Mutant], workers: int = WORKERS) -> dict[str, Outcome]:
    """The outcome of every mutant, computed by `workers` forked processes (longest files first)."""
    mutants = sorted(mutants, key=lambda m: (-len(m.text), m.name))
    if workers <= 1 or len(mutants) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {m.name: outcome(m) for m in mutants}
    gc.freeze()  # forked children would otherwise copy every page the collector touches
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return dict(zip((m.name for m in mutants), pool.imap(outcome, mutants, chunksize=1)))
    finally:
        gc.unfreeze()


@pytest.fixture(scope="module")
def outcomes(request) -> dict[str, Outcome]:
    """The engine's outcome for every mutant this session runs (all of them, unless -k selects some)."""
    names = {item.callspec.params["mutant"].name for item in request.session.items
             if getattr(item, "originalname", "") == "test_mutant_is_not_accepted" and hasattr(item, "callspec")}
    return outcomes_of([m for m in MUTANTS if m.name in names or m in REFUTATION_SAMPLE])


def assert_not_accepted(mutant: Mutant, got: Outcome) -> None:
    """The engine did not accept the mutant (AssertionError otherwise)."""
    if mutant.kind == "load":
        assert got.refused is not None, (mutant.name, "loaded", got.verdicts)
        assert mutant.source in got.refused
        return
    if got.refused is not None:
        return  # refused as input: not accepted either
    assert not got.ok, mutant.name
    if mutant.kind == "step":
        for index in (mutant.step,) + mutant.also:
            verdict = got.verdicts[index - 1]
            assert verdict in (Verdict.refuted.value, Verdict.error.value), \
                (mutant.name, f"step {index}", verdict, got.reasons[index - 1])
        assert not got.established
    elif mutant.kind == "claim":
        assert not got.established, mutant.name
    elif mutant.kind == "example":
        assert not got.examples_hold[mutant.example], mutant.name
    else:  # pragma: no cover
        raise AssertionError(mutant.kind)


def _first_of_each_kind(mutants: list[Mutant]) -> list[Mutant]:
    """The first mutant of each (source, operator family, kind), in generation order."""
    seen, kept = set(), []
    for m in mutants:
        key = (m.source, _operator_family(m.operator), m.kind)
        if key not in seen:
            seen.add(key)
            kept.append(m)
    return kept


if FULL_CAMPAIGNS:
    REFUTATION_SAMPLE = [m for m in MUTANTS if m.kind == "step"][::7] + \
        [m for m in MUTANTS if m.kind == "step" and m.source.startswith("variants/")][1::5]
else:
    REFUTATION_SAMPLE = [m for m in _first_of_each_kind(MUTANTS) if m.kind == "step"]
"""The step mutants whose counterexamples and repair suggestions are checked: a spread of every
seventh (and every fifth of the variants') in the full campaigns; in `make test` the step mutants
it runs anyway (the first of each source and operator family), so the sample adds no verdicts --
the spread's extra mutants include the slowest to refute (seconds each: a drop-factor of the
beta-ELBO's steps and of Jensen's third step), which stay in `make test-full`."""


def _fast_slice(mutants: list[Mutant]) -> list[Mutant]:
    """`make test`'s mutants: the first of each (source, operator family, kind), in generation
    order, and every mutant of REFUTATION_SAMPLE (their verdicts are computed anyway)."""
    sample = {m.name for m in REFUTATION_SAMPLE}
    first = {m.name for m in _first_of_each_kind(mutants)}
    return [m for m in mutants if m.name in first or m.name in sample]


MUTANTS_RUN = MUTANTS if FULL_CAMPAIGNS else _fast_slice(MUTANTS)
"""The mutants whose verdicts are asserted: all of them in the full campaigns (`make soundness`, CI);
in `make test` about a fifth -- every source with every operator family and kind it has."""


@pytest.mark.parametrize("mutant", MUTANTS_RUN, ids=[m.name for m in MUTANTS_RUN])
def test_mutant_is_not_accepted(mutant: Mutant, outcomes):
    assert_not_accepted(mutant, outcomes[mutant.name])


@pytest.mark.full
def test_an_engine_that_accepts_everything_fails_every_mutant():
    """Sanity: had the engine proved every step, established every claim and confirmed every
    example, each kept mutant's assertion would fail (measured on the real engine too: with
    check_step forced to `proved`, every step mutant fails)."""
    for mutant in MUTANTS:
        steps = len(tomllib.loads(mutant.text)["step"])
        examples = len(tomllib.loads(mutant.text).get("example", []))
        accepted = Outcome(None, True, True, ("proved",) * steps, ("forced",) * steps, (True,) * examples,
                           (None,) * steps)
        with pytest.raises(AssertionError):
            assert_not_accepted(mutant, accepted)


def test_refutations_carry_a_counterexample(outcomes):
    """A refuted mutated step shows exact values where it fails, and the oracle agrees they fail."""
    checked = 0
    for mutant in REFUTATION_SAMPLE:
        got = outcomes[mutant.name]
        if got.refused is not None or got.verdicts[mutant.step - 1] != Verdict.refuted.value:
            continue
        c = got.counterexamples[mutant.step - 1]
        assert c is not None
        values, z_value = c
        data = tomllib.loads(mutant.text)
        if "assume" in data:
            continue  # q in the counterexample is already the assumed distribution
        w = world_from(values, data)
        chain = _chain(data)
        rel, expr = chain[mutant.step]
        if z_value is None:
            assert relation_fails(chain[mutant.step - 1][1], rel, expr, w), (mutant.name, values)
        checked += 1
    assert checked >= 10


_DISTINCT_REFUTATIONS = sorted({m.name: m for m in REFUTATION_SAMPLE}.values(), key=lambda m: m.name)
"""REFUTATION_SAMPLE once per mutant (the full tier's sample holds a few mutants twice)."""
SUGGESTION_SAMPLE = random.Random(1).sample(_DISTINCT_REFUTATIONS, min(sized_int(15, 40), len(_DISTINCT_REFUTATIONS)))
"""The mutants checked again with repair suggestions: a seeded choice of a fixed size from
REFUTATION_SAMPLE, the same cases every run whatever the machine's load (chosen by name, not by
how fast they ran). `make test`'s 15 take about 3 s on one core of a 2-core machine (the slowest
of the sample, 5 s with suggestions, is not among them); `make test-full` checks 40 of its wider
sample in about 23 s."""


def test_the_suggestion_sample_is_fixed_and_spread():
    again = random.Random(1).sample(_DISTINCT_REFUTATIONS, len(SUGGESTION_SAMPLE))
    assert [m.name for m in again] == [m.name for m in SUGGESTION_SAMPLE]
    assert len(SUGGESTION_SAMPLE) == (40 if FULL_CAMPAIGNS else 15) == len({m.name for m in SUGGESTION_SAMPLE})
    assert len({m.source for m in SUGGESTION_SAMPLE}) >= 5  # several files, not one file's mutants


def test_suggestions_do_not_change_verdicts(outcomes):
    """With repair suggestions on, a sample of mutants gets the same verdicts."""
    for mutant in SUGGESTION_SAMPLE:
        plain = outcomes[mutant.name]
        full = check_with_suggestions(loads(mutant.text, mutant.source))
        assert [r.verdict.value for r in full.steps] == list(plain.verdicts), mutant.name
        assert full.ok is plain.ok is False


def world_from(blocks, data: dict) -> World:
    """The oracle's world for an engine counterexample's values (blocks named as the report prints them)."""
    observations = observations_of(data)
    prior, likelihood, q, params = None, {}, {}, {}
    for label, values in blocks:
        values = _fractions(values)
        lik = re.fullmatch(r"p\((\w+) \| z\)", label)
        qo = re.fullmatch(r"q\(z(?: \| (\w+))?\)", label)
        if label == "p(z)":
            prior = values
        elif lik:
            likelihood[lik.group(1)] = values
        elif qo:
            q[qo.group(1) or observations[0]] = values
        else:
            (params[label],) = values
    return _world(data, prior, likelihood, q, params)


def mutant_breakdown() -> dict[str, int]:
    """Operator -> number of kept mutants (printed by `python tests/test_mutants.py`)."""
    return dict(sorted(Counter(_operator_family(m.operator) for m in MUTANTS).items()))


if __name__ == "__main__":  # pragma: no cover
    print(f"{len(MUTANTS)} mutants kept of {sum(TRIED.values())} generated")
    for family, n in mutant_breakdown().items():
        print(f"  {family:28} {n}")
    for kind, n in Counter(m.kind for m in MUTANTS).items():
        print(f"  kind {kind:23} {n}")
    for source, n in Counter(m.source for m in MUTANTS).items():
        print(f"  {source:33} {n}")

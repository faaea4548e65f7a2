"""Mutation testing of the checker: wrong variants of the lesson derivations are never
`proved` or `checked`.

Mutants are generated programmatically from the text of ``derivations/*.toml``: mutation
operators rewrite one step's ``expr`` or ``rel`` (or the ``start``, ``claim`` or
``assume`` line), one number of an ``[[example]]``, or one ``[example.expect]`` value.
Each mutant is then judged by an *independent oracle* -- a small mpmath evaluator of the
derivation vocabulary written here from the lesson's definitions, sharing no code with
``elbo_sym`` -- and only mutants the oracle shows to be really wrong are kept (a mutation
that happens to keep the math true, like replacing both q(z) in q(z) * f / q(z), is
dropped).  For every kept mutant the test asserts that the engine does not accept it:
the mutated step is ``refuted`` or ``error``, or the claim is not established, or the
example's expectation fails, or loading raises ``DerivationError``.
"""

from __future__ import annotations

import ast
import random
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.authoring.repair import check_with_suggestions

DERIVATIONS = sorted((Path(__file__).resolve().parent.parent / "derivations").glob("*.toml"))
MIN_MUTANTS = 50

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
    """One instance of the discrete model: prior, likelihood, q (mpf vectors)."""

    prior: tuple
    likelihood: tuple
    q: tuple

    @property
    def K(self) -> int:
        return len(self.prior)

    @property
    def evidence(self):
        return mpmath.fsum(a * b for a, b in zip(self.prior, self.likelihood))


def _density(call: ast.Call, w: World, k: int | None):
    name = call.func.id
    parts = []
    for arg in call.args:
        if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr):
            parts.append((arg.left.id, "|", arg.right.id))
        else:
            parts.append(arg.id)
    if name == "q" and parts == ["z"]:
        key = "q"
    else:
        key = {("x",): "px", ("z",): "pz", ("x", "z"): "pxz", ("z", "x"): "pxz",
               (("x", "|", "z"),): "px|z", (("z", "|", "x"),): "pz|x"}[tuple(parts)]
    if key == "px":
        return w.evidence
    if k is None:
        raise KeyError("free z")
    return {
        "q": lambda: w.q[k],
        "pz": lambda: w.prior[k],
        "pxz": lambda: w.prior[k] * w.likelihood[k],
        "px|z": lambda: w.likelihood[k],
        "pz|x": lambda: w.prior[k] * w.likelihood[k] / w.evidence,
    }[key]()


def _weights(node: ast.AST, w: World) -> list:
    if isinstance(node, ast.Name) and node.id == "q":
        return list(w.q)
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
            return mpmath.fsum(a[j] * _log(w.prior[j] * w.likelihood[j] / a[j]) for j in range(w.K))
    raise ValueError(f"the oracle cannot evaluate {ast.dump(node)[:80]}")


def _free_z(node: ast.AST) -> bool:
    """z occurs outside Sum/E/KL/H/ELBO (a claim for every value of z)."""
    if isinstance(node, ast.Call) and node.func.id in ("Sum", "E", "KL", "H", "ELBO"):
        return False
    if isinstance(node, ast.Name) and node.id == "z":
        return True
    return any(_free_z(child) for child in ast.iter_child_nodes(node))


def relation_fails(lhs: str, rel: str, rhs: str, w: World) -> bool:
    """True when `lhs rel rhs` is false in world w (for some value of a free z)."""
    left, right = ast.parse(lhs, mode="eval"), ast.parse(rhs, mode="eval")
    ks = range(w.K) if (_free_z(left) or _free_z(right)) else [None]
    with mpmath.workdps(DPS):
        for k in ks:
            try:
                d = evaluate(left, w, k) - evaluate(right, w, k)
            except OracleUndefined:
                return True  # not even defined here: the step cannot hold as written
            ok = {"=": abs(d) <= TOLERANCE, ">=": d >= -TOLERANCE, "<=": d <= TOLERANCE,
                  ">": d > TOLERANCE, "<": d < -TOLERANCE}[rel]
            if not ok:
                return True
    return False


def _fractions(values) -> tuple[Fraction, ...]:
    return tuple(Fraction(str(v)) for v in values)


def _valid_distribution(values: tuple[Fraction, ...], K: int) -> bool:
    return len(values) == K and all(v > 0 for v in values) and sum(values) == 1


def _valid_likelihood(values: tuple[Fraction, ...], K: int) -> bool:
    return len(values) == K and all(0 < v <= 1 for v in values)


def worlds(data: dict, seed: int = 1, count: int = 8, skewed: bool = True) -> list[World]:
    """The file's examples, then seeded random instances incl. q = posterior (tight) and q = prior."""
    K = data.get("K", 2)
    if K == "any":  # a claim for every latent space: judge it at K = 2 and K = 3
        return worlds({**data, "K": 2}, seed, count, skewed) + worlds(
            {**data, "K": 3, "example": []}, seed + 1, count, skewed)
    assume = data.get("assume")
    rng = random.Random(seed)
    raw = [(_fractions(e["prior"]), _fractions(e["likelihood"]), _fractions(e.get("q", [1] * K)))
           for e in data.get("example", [])]
    for n in range(count):
        prior = _simplex(rng, K)
        likelihood = tuple(Fraction(rng.randint(1, 19), 20) for _ in range(K))
        evidence = sum(a * b for a, b in zip(prior, likelihood))
        posterior = tuple(a * b / evidence for a, b in zip(prior, likelihood))
        raw.append((prior, likelihood, posterior if n == 0 else prior if n == 1 else _simplex(rng, K)))
    # skewed worlds: a nearly degenerate q or prior, likelihoods near 0 and 1 (inequalities
    # that hold "on average" break here)
    uniform = tuple(Fraction(1, K) for _ in range(K))
    high = tuple(Fraction(19, 20) for _ in range(K))
    spread = tuple(Fraction(1, 50) if k % 2 == 0 else Fraction(1) for k in range(K))
    for j in ((0, K - 1) if skewed else ()):
        raw.append((uniform, high, _skewed(K, j)))
        raw.append((_skewed(K, j), spread, uniform))
    out = []
    with mpmath.workdps(DPS):
        for prior, likelihood, q in raw:
            w = World(*(tuple(mpmath.mpf(v.numerator) / v.denominator for v in vec)
                        for vec in (prior, likelihood, q)))
            if assume is not None:  # "q(z) = <expression>": q is that distribution
                body = ast.parse(assume.split("=", 1)[1].strip(), mode="eval")
                w = World(w.prior, w.likelihood, tuple(evaluate(body, w, k) for k in range(K)))
            out.append(w)
    return out


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
    table: str | None  # None, "step", "example", "example.expect"
    index: int  # which [[step]] / [[example]] (0-based)
    key: str
    value: str


def slots(text: str) -> list[Slot]:
    """Every `key = "string"` / `key = [...]` line, with its table and table index."""
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


# =========================================================================== mutation operators
# Each operator maps an expression string to (label, mutated string) pairs.


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
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[i for i, v in enumerate(value) if v is old][0]] = new
                return
    raise AssertionError("node not found")


def op_flip_sign(expr: str):
    """+ <-> - at one binary node; a leading minus removed; the whole side negated."""
    def flip(n):
        n.op = ast.Sub() if isinstance(n.op, ast.Add) else ast.Add()
        return n
    yield from _variants(expr, lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)), flip)
    yield from _variants(expr, lambda n: isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub),
                         lambda n: n.operand)
    yield f"-({expr})"


def op_swap_q_p(expr: str):
    """Swap the arguments of KL; swap q(z) <-> p(z) (each occurrence, then all at once)."""
    yield from _variants(expr, lambda n: isinstance(n, ast.Call) and getattr(n.func, "id", "") == "KL",
                         lambda n: ast.Call(n.func, [n.args[1], n.args[0]], []))
    for old, new in (("q(z)", "p(z)"), ("p(z)", "q(z)")):
        positions = [m.start() for m in re.finditer(re.escape(old), expr)]
        for pos in positions:
            yield expr[:pos] + new + expr[pos + len(old):]
        if len(positions) > 1:
            yield expr.replace(old, new)


def op_posterior_to_prior(expr: str):
    """p(z | x) -> p(z) at each occurrence."""
    for m in re.finditer(re.escape("p(z | x)"), expr):
        yield expr[: m.start()] + "p(z)" + expr[m.end():]


def op_drop_term(expr: str):
    """A + B / A - B -> A, or -> B: drop one term of a sum."""
    def is_sum(n):
        return isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub))
    yield from _variants(expr, is_sum, lambda n: n.left)
    yield from _variants(expr, is_sum, lambda n: n.right)


def op_drop_factor(expr: str):
    """A * B -> A or B, A / B -> A: drop one factor or divisor of a product."""
    def is_product(n):
        return isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div))
    yield from _variants(expr, is_product, lambda n: n.left)
    yield from _variants(expr, lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult),
                         lambda n: n.right)


def op_invert_ratio(expr: str):
    """log(a / b) -> log(b / a)."""
    def is_log_ratio(n):
        return (isinstance(n, ast.Call) and getattr(n.func, "id", "") == "log"
                and isinstance(n.args[0], ast.BinOp) and isinstance(n.args[0].op, ast.Div))
    yield from _variants(expr, is_log_ratio,
                         lambda n: ast.Call(n.func, [ast.BinOp(n.args[0].right, ast.Div(), n.args[0].left)], []))


EXPR_OPERATORS = {
    "flip-sign": op_flip_sign,
    "swap-q-p": op_swap_q_p,
    "posterior-to-prior": op_posterior_to_prior,
    "drop-term": op_drop_term,
    "drop-factor": op_drop_factor,
    "invert-ratio": op_invert_ratio,
}

REL_MUTATIONS = {
    "=": ("<", ">"),  # an identity made strict: false everywhere
    ">=": ("<=", "=", ">", "<"),  # reversed, equality where only >= holds, strict (false when tight)
    "<=": (">=", "=", "<", ">"),
}


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
    K = data.get("K", 2)
    for e in data.get("example", []):
        try:
            prior, likelihood = _fractions(e["prior"]), _fractions(e["likelihood"])
            q = _fractions(e["q"]) if "q" in e else None
        except (ValueError, ZeroDivisionError):
            return False
        if not (_valid_distribution(prior, K) and _valid_likelihood(likelihood, K)):
            return False
        if q is not None and not _valid_distribution(q, K):
            return False
    return True


def _failing_expectation(data: dict) -> int | None:
    """Index of an example whose [example.expect] does not hold (oracle), else None."""
    for index, w in enumerate(worlds(data, count=0, skewed=False)):
        for lhs, rhs in data["example"][index].get("expect", {}).items():
            if relation_fails(lhs, "=", rhs, w):
                return index
    return None


def _judge(original: str, text: str, source: str, operator: str, where: str,
           target_step: int | None) -> Mutant | None:
    """Keep the mutant only if it differs from the original and the oracle finds it wrong."""
    if text == original:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    name = f"{source}:{operator}:{where}"
    if not _examples_valid(data):
        return Mutant(name, operator, source, text, "load")
    world_list = worlds(data)
    if target_step is not None:
        # an expression that no longer parses as the vocabulary is not a meaningful mutant
        try:
            if _step_is_wrong(data, _chain(data), target_step, world_list):
                return Mutant(name, operator, source, text, "step", step=target_step)
        except (ValueError, KeyError, AttributeError):
            return None
        return None
    if "claim" in data and operator.startswith("claim") and _claim_is_wrong(data, world_list):
        return Mutant(name, operator, source, text, "claim")
    failing = _failing_expectation(data)
    if failing is not None:
        return Mutant(name, operator, source, text, "example", example=failing)
    return None


def generate_mutants() -> tuple[list[Mutant], Counter]:
    """All kept mutants of all lesson derivations, and how many each operator produced before filtering."""
    mutants: list[Mutant] = []
    tried: Counter = Counter()
    seen: set[str] = set()
    for path in DERIVATIONS:
        original = path.read_text(encoding="utf-8")
        source = path.name

        def keep(text, operator, where, target):
            tried[operator] += 1
            if text in seen:
                return
            mutant = _judge(original, text, source, operator, where, target)
            if mutant is not None:
                seen.add(text)
                mutants.append(mutant)

        for slot in slots(original):
            value = tomllib.loads(f"v = {slot.value}")["v"]
            target = None
            if slot.table == "step" and slot.key == "expr":
                target = slot.index + 1
            elif slot.table is None and slot.key == "start":
                target = 1
            if target is not None:
                for operator, mutate in EXPR_OPERATORS.items():
                    for n, new in enumerate(dict.fromkeys(mutate(value))):
                        keep(replace_line(original, slot, quoted(new)), operator, f"{slot.key}{target}#{n}", target)
            elif slot.table == "step" and slot.key == "rel":
                for new in REL_MUTATIONS[value]:
                    keep(replace_line(original, slot, quoted(new)), f"rel {value}->{new}",
                         f"step{slot.index + 1}", slot.index + 1)
            elif slot.table is None and slot.key in ("claim", "assume"):
                lhs, rel, rhs = split_relation(value)
                if slot.key == "claim":
                    for new in REL_MUTATIONS[rel]:
                        keep(replace_line(original, slot, quoted(f"{lhs} {new} {rhs}")), f"claim-rel {rel}->{new}",
                             "claim", None)
                    for operator in ("flip-sign", "swap-q-p", "posterior-to-prior", "drop-term"):
                        for n, new in enumerate(EXPR_OPERATORS[operator](rhs)):
                            keep(replace_line(original, slot, quoted(f"{lhs} {rel} {new}")), f"claim-{operator}",
                                 f"claim#{n}", None)
                else:
                    # a different assumption: the assumption step (whichever uses it) must fail
                    for n, new in enumerate(op_posterior_to_prior(rhs)):
                        text = replace_line(original, slot, quoted(f"{lhs} {rel} {new}"))
                        rules = [s["rule"] for s in tomllib.loads(text)["step"]]
                        keep(text, "assume posterior-to-prior", f"assume#{n}", rules.index("assumption") + 1)
            elif slot.table == "example" and slot.key in ("prior", "likelihood", "q"):
                values = tomllib.loads(f"v = {slot.value}")["v"]
                for i in range(len(values)):
                    for new in op_number(values[i]):
                        changed = list(values)
                        changed[i] = new
                        keep(replace_line(original, slot, _toml_list(changed)), "example-number",
                             f"{slot.key}[{i}]", None)
                    changed = list(values)
                    changed[i] = "0"
                    keep(replace_line(original, slot, _toml_list(changed)), "example-nonpositive",
                         f"{slot.key}[{i}]=0", None)
                    changed = list(values)
                    changed[i] = "-" + values[i]
                    keep(replace_line(original, slot, _toml_list(changed)), "example-nonpositive",
                         f"{slot.key}[{i}]<0", None)
                keep(replace_line(original, slot, _toml_list(values[::-1])), "example-swap", f"{slot.key} reversed", None)
            elif slot.table == "example.expect":
                for n, new in enumerate(op_number(value)):
                    keep(replace_line(original, slot, quoted(new)), "expect-number", f"{slot.key}#{n}", None)
                for operator in ("flip-sign", "invert-ratio", "drop-term"):
                    for n, new in enumerate(EXPR_OPERATORS[operator](value)):
                        keep(replace_line(original, slot, quoted(new)), f"expect-{operator}", f"{slot.key}#{n}", None)
    return mutants, tried


def _toml_list(values) -> str:
    return "[" + ", ".join(quoted(str(v)) for v in values) + "]"


MUTANTS, TRIED = generate_mutants()


def _operator_family(operator: str) -> str:
    return operator.split(" ")[0]


# =========================================================================== the tests



def check_text(text: str, source: str):
    """check_derivation(loads(text)), without repair suggestions (they never change a verdict:
    test_suggestions_do_not_change_verdicts)."""
    return check_derivation(loads(text, source))



def test_originals_are_proved():
    """The baseline: every lesson derivation is fully proved (else mutants prove nothing)."""
    for path in DERIVATIONS:
        result = check_derivation(loads(path.read_text(encoding="utf-8"), str(path)))
        assert result.fully_proved, path


def test_oracle_accepts_the_originals():
    """The oracle agrees that the unmutated derivations hold (so it is a fair judge)."""
    for path in DERIVATIONS:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        chain, world_list = _chain(data), worlds(data)
        for i in range(1, len(chain)):
            assert not _step_is_wrong(data, chain, i, world_list), (path.name, i)
        assert not _claim_is_wrong(data, world_list), path.name
        assert _failing_expectation(data) is None
        assert _examples_valid(data)


def test_enough_mutants_of_every_kind():
    assert len(MUTANTS) >= MIN_MUTANTS, len(MUTANTS)
    families = Counter(_operator_family(m.operator) for m in MUTANTS)
    for family in ("flip-sign", "swap-q-p", "posterior-to-prior", "drop-term", "rel", "claim-rel",
                   "example-number", "example-nonpositive", "expect-number"):
        assert families[family] > 0, family
    # every lesson file is mutated
    assert {m.source for m in MUTANTS} == {p.name for p in DERIVATIONS}
    # every mutant is a different text, and none is an original
    originals = {p.read_text(encoding="utf-8") for p in DERIVATIONS}
    assert len({m.text for m in MUTANTS}) == len(MUTANTS)
    assert not originals & {m.text for m in MUTANTS}


def test_filter_drops_mutants_that_keep_the_math_true():
    """Some generated mutants are harmless (e.g. rel = -> >= weakens; q -> p in q*f/q): they are dropped."""
    assert sum(TRIED.values()) > len(MUTANTS)
    kept = {m.text for m in MUTANTS}
    original = (DERIVATIONS[0].parent / "jensen.toml").read_text(encoding="utf-8")
    harmless = original.replace('expr = "log(Sum(q(z) * p(x, z) / q(z), z))"',
                                'expr = "log(Sum(p(z) * p(x, z) / p(z), z))"')
    assert harmless != original and harmless not in kept


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_not_accepted(mutant: Mutant):
    if mutant.kind == "load":
        with pytest.raises(DerivationError) as info:
            loads(mutant.text, mutant.source)
        assert mutant.source in str(info.value)
        return
    result = check_text(mutant.text, mutant.source)
    assert not result.ok, mutant.name
    if mutant.kind == "step":
        verdict = result.steps[mutant.step - 1].verdict
        assert verdict in (Verdict.refuted, Verdict.error), (mutant.name, verdict, result.steps[mutant.step - 1].reason)
        assert not result.established
    elif mutant.kind == "claim":
        assert not result.established, mutant.name
    elif mutant.kind == "example":
        assert not result.examples[mutant.example].holds, mutant.name
    else:  # pragma: no cover
        raise AssertionError(mutant.kind)


def test_refutations_carry_a_counterexample():
    """A refuted mutated step shows exact values where it fails, and the oracle agrees they fail."""
    checked = 0
    for mutant in [m for m in MUTANTS if m.kind == "step"][::7]:
        result = check_text(mutant.text, mutant.source)
        step = result.steps[mutant.step - 1]
        if step.verdict is not Verdict.refuted:
            continue
        c = step.counterexample
        assert c is not None
        data = tomllib.loads(mutant.text)
        w = _world_from(c)
        if "assume" in data:
            continue  # q in the counterexample is already the assumed distribution
        chain = _chain(data)
        rel, expr = chain[mutant.step]
        if c.z is None:
            assert relation_fails(chain[mutant.step - 1][1], rel, expr, w), mutant.name
        checked += 1
    assert checked >= 3


def test_suggestions_do_not_change_verdicts():
    """With repair suggestions on, a sample of mutants gets the same verdicts."""
    sample = [m for m in MUTANTS if m.kind == "step"][::10]
    assert len(sample) >= 5
    for mutant in sample:
        plain = check_text(mutant.text, mutant.source)
        full = check_with_suggestions(loads(mutant.text, mutant.source))
        assert [r.verdict for r in full.steps] == [r.verdict for r in plain.steps], mutant.name
        assert full.ok is plain.ok is False


def _world_from(c) -> World:
    with mpmath.workdps(DPS):
        return World(*(tuple(mpmath.mpf(Fraction(v).numerator) / Fraction(v).denominator for v in vec)
                       for vec in (c.prior, c.likelihood, c.q)))


def mutant_breakdown() -> dict[str, int]:
    """Operator -> number of kept mutants (printed by `python tests/test_mutants.py`)."""
    return dict(sorted(Counter(_operator_family(m.operator) for m in MUTANTS).items()))


if __name__ == "__main__":  # pragma: no cover
    print(f"{len(MUTANTS)} mutants kept of {sum(TRIED.values())} generated")
    for family, n in mutant_breakdown().items():
        print(f"  {family:28} {n}")
    for kind, n in Counter(m.kind for m in MUTANTS).items():
        print(f"  kind {kind:23} {n}")

"""Safe parser: expression text from a derivation file -> notation objects.

Derivation files are untrusted.  The text is parsed by Python's :mod:`ast` (which builds
a tree and runs nothing), every node is checked against a whitelist, and the SymPy
objects are built unevaluated, so ``10**10**10`` is never computed.  Budgets bound the
length, the nesting and the polynomial degree an expression can ask for.
"""

from __future__ import annotations

import ast
import string
import unicodedata
import warnings
from dataclasses import dataclass

from sympy import Add, Expr, Integer, Mul, Pow, Rational, S, Symbol, exp, log

from elbo_sym.limits import MAX_EXPONENT
from elbo_sym.engine.notation import Exp, ELBO, KL, Density, Entropy, Expectation, LatentSum, x, z

MAX_LENGTH = 2000
"""Characters in one expression; the lesson's longest is under 100."""
MAX_DEPTH = 40
"""Nesting depth of the expression tree."""
MAX_INTEGER = 10**6
"""Largest integer literal; probabilities are small fractions."""
MAX_DEGREE = 48
"""Largest polynomial degree an expression may reach (bounds expansion work)."""
MAX_NUMBER_BITS = 2048
"""Largest exact number nested powers may build: ((2**12)**12)**12... passes every per-node bound."""


@dataclass(frozen=True)
class ParseError(Exception):
    """A refused expression: what is wrong, and where (0-based column in the text)."""

    message: str
    column: int = 0
    token: str = ""

    def __str__(self) -> str:
        return self.message


_DENSITY_NAMES = {"p", "q"}
RESERVED = frozenset({"p", "q", "z", "Sum", "E", "KL", "H", "ELBO", "log", "exp", "pi", "Normal", "IWAE"})
"""Names a file may not use for an observation or a parameter."""


@dataclass(frozen=True)
class Vocabulary:
    """The names a file declares: observations (``data``, default ``x``) and ``[params]``."""

    data: tuple[str, ...] = ("x",)
    params: tuple[str, ...] = ()

    @property
    def variables(self) -> dict[str, Symbol]:
        out = {name: (x if name == "x" else Symbol(name)) for name in self.data}
        out["z"] = z
        return out

    @property
    def single(self) -> bool:
        return len(self.data) == 1


DEFAULT_VOCABULARY = Vocabulary()


def parse_expression(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Expr:
    """Parse one expression of the derivation vocabulary (see DESIGN.md)."""
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ParseError("empty expression")
    _refuse_hazards(text)
    try:
        with warnings.catch_warnings():  # "1if 1else 2": no SyntaxWarning on stderr, the error is ours
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        # offset 0 means "at the end" (e.g. a dangling operator): point after the last character
        position = error.offset - 1 if error.offset else len(text.strip())
        column = max(position, 0) + len(text) - len(text.lstrip())
        raise ParseError(f"syntax error: {error.msg}", column) from None
    except (RecursionError, MemoryError, ValueError) as error:
        raise ParseError(f"expression too deeply nested ({type(error).__name__})") from None
    offset = len(text) - len(text.lstrip())
    result = _Builder(text.strip(), offset, vocabulary).build(tree.body, depth=0)
    _refuse_outside_whitelist(text)  # defence in depth: the tree was whitelisted node by node
    return result


ALLOWED_CHARACTERS = frozenset(string.ascii_letters + string.digits + " \t\n\r" + "_+-*/(),|.")
"""Every character an expression may contain (relations are split off before parsing)."""

_ASCII_FOR = {
    "\u2265": ">=", "\u2264": "<=", "\u2260": "a relation in rel", "\u2212": "-", "\u2013": "-", "\u00d7": "*",
    "\u00b7": "*", "\u22c5": "*", "\u2211": "Sum(f, z)", "\u03a3": "Sum(f, z)", "\u2223": "|",
    "\u2016": "a comma, as in KL(q(z), p(z | x))", "\u2225": "a comma, as in KL(q(z), p(z | x))",
    "\u00a0": "a plain space", "\u2009": "a plain space", "\u202f": "a plain space",
}
"""Plain-ASCII spellings of characters that NFKC does not map to what the author meant."""


def _ascii_hint(text: str, i: int) -> str:
    """A plain-ASCII spelling of what the author meant at text[i] ('log' for full-width ｌｏｇ)."""
    ch = text[i]
    if ch in _ASCII_FOR:
        return _ASCII_FOR[ch]
    if ch.isalnum() or ch == "_":
        start, end = i, i + 1
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        word = unicodedata.normalize("NFKC", text[start:end])
        if word.isascii() and word.strip():
            return word
    folded = unicodedata.normalize("NFKC", ch)
    if folded.isascii() and folded.strip():
        return folded
    return ""


def _refuse_hazards(text: str) -> None:
    """Characters Python's tokenizer would quietly reinterpret, refused before parsing.

    `#` starts a comment (the rest of the expression would be dropped), non-ASCII
    identifiers are NFKC-normalised (full-width ｌｏｇ would be read as log), a backslash
    joins lines (and is LaTeX), and control characters are invisible.
    """
    for i, ch in enumerate(text):
        if ch in ALLOWED_CHARACTERS:
            continue
        if ch == "#":
            raise ParseError("'#' is not allowed in an expression (Python would read the rest as a comment "
                             "and drop it)", i)
        if ch == "\\":
            raise ParseError("LaTeX is not accepted in expressions: write a / b, not \\frac{a}{b}", i)
        if not ch.isascii():
            name = unicodedata.name(ch, "")
            shown = f"'{ch}' " if ch.isprintable() and not ch.isspace() else ""
            described = f"{shown}(U+{ord(ch):04X}{' ' + name if name and not shown else ''})"
            hint = _ascii_hint(text, i)
            advice = f"write plain ASCII such as {hint}" if hint else "write plain ASCII"
            raise ParseError(f"non-ASCII character {described} is not allowed in an expression; {advice}", i)
        if not ch.isprintable():
            raise ParseError(f"control character U+{ord(ch):04X} is not allowed in an expression", i)


def _refuse_outside_whitelist(text: str) -> None:
    for i, ch in enumerate(text):
        if ch not in ALLOWED_CHARACTERS:
            raise ParseError(f"character {ch!r} is not allowed in an expression (allowed: letters, digits, "
                             f"spaces and _ + - * / ( ) , | .)", i, ch)


class _Builder:
    """Walks the whitelisted AST and builds unevaluated SymPy notation."""

    def __init__(self, text: str, offset: int, vocabulary: Vocabulary = DEFAULT_VOCABULARY):
        self.text = text
        self.offset = offset
        self.vocabulary = vocabulary
        self.variables = vocabulary.variables

    # -- errors -------------------------------------------------------------------

    def fail(self, node: ast.AST, message: str) -> ParseError:
        start = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", start) or start
        raw = self.text.encode("utf-8")
        column = len(raw[:start].decode("utf-8", "replace"))
        token = raw[start:end].decode("utf-8", "replace")
        return ParseError(message, column + self.offset, token)

    # -- dispatch -----------------------------------------------------------------

    def build(self, node: ast.AST, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        result = method(node, depth + 1)
        if _degree(result) > MAX_DEGREE:
            raise self.fail(node, f"expression degree exceeds {MAX_DEGREE} (too much expansion work)")
        return result

    def visit_Constant(self, node: ast.Constant, depth: int) -> Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (write fractions like 3/4)" if isinstance(value, float) else ""
            raise self.fail(node, f"only integer literals are allowed, not {value!r}{hint}")
        if value > MAX_INTEGER:
            raise self.fail(node, f"integer {value} exceeds the limit {MAX_INTEGER}")
        source = ast.get_source_segment(self.text, node) or ""
        if not source.isdigit():  # 0x1F, 0b11, 1_000 are Python integers, not the lesson's numbers
            raise self.fail(node, f"write integers in plain decimal digits, not {source!r}")
        return Integer(value)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Expr:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.USub):
            if operand.is_Number:
                return -operand
            return Mul(S.NegativeOne, operand, evaluate=False)
        raise self.fail(node, f"operator '{_describe(node)}' is not allowed")

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> Expr:
        op = node.op
        if isinstance(op, ast.Pow):
            return self.power(node, depth)
        if isinstance(op, ast.BitOr):
            raise self.fail(node, "'|' is only allowed inside p(...), as in p(x | z)")
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        if isinstance(op, ast.Add):
            return Add(left, right, evaluate=False)
        if isinstance(op, ast.Sub):
            negated = -right if right.is_Number else Mul(S.NegativeOne, right, evaluate=False)
            return Add(left, negated, evaluate=False)
        if isinstance(op, ast.Mult):
            return Mul(left, right, evaluate=False)
        if isinstance(op, ast.Div):
            if right.is_zero:
                raise self.fail(node, "division by zero")
            if left.is_Integer and right.is_Integer:
                return Rational(left, right)
            return Mul(left, Pow(right, -1, evaluate=False), evaluate=False)
        raise self.fail(node, f"operator '{_describe(node)}' is not allowed")

    def power(self, node: ast.BinOp, depth: int) -> Expr:
        exponent = _literal_int(node.right)
        if exponent is None:
            raise self.fail(node.right, "an exponent must be an integer literal, like ** 2")
        if abs(exponent) > MAX_EXPONENT:
            raise self.fail(node.right, f"exponent {exponent} exceeds the limit {MAX_EXPONENT}")
        base = self.build(node.left, depth)
        if base.is_zero and exponent < 0:
            raise self.fail(node, "division by zero")
        result = Pow(base, exponent, evaluate=False)
        if _number_bits(result) > MAX_NUMBER_BITS:
            raise self.fail(node, f"nested powers build a number of over {MAX_NUMBER_BITS} bits")
        return result

    def visit_Name(self, node: ast.Name, depth: int) -> Expr:
        if node.id in self.vocabulary.params:
            return Symbol(node.id, real=True)
        if node.id in self.variables:
            raise self.fail(node, f"'{node.id}' may only appear inside p(...) or q(...)")
        if node.id in _DENSITY_NAMES:
            raise self.fail(node, f"'{node.id}' must be applied, as in {node.id}(z)")
        hint = " (declare parameters in a [params] table, e.g. beta = \">= 1\")" if node.id.isidentifier() else ""
        raise self.fail(node, f"unknown name '{node.id}'{hint}")

    def visit_Call(self, node: ast.Call, depth: int) -> Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, f"'{_describe(node.func)}' is not a function of the vocabulary")
        if node.keywords:
            raise self.fail(node.keywords[0].value, "keyword arguments are not allowed")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "starred arguments are not allowed")
        name = node.func.id
        handler = getattr(self, "call_" + name, None)
        if handler is None:
            raise self.fail(node.func, f"unknown function '{name}'")
        return handler(node, node.args, depth)

    # -- vocabulary -----------------------------------------------------------------

    def arity(self, node: ast.Call, args: list, n: int) -> None:
        if len(args) != n:
            name = node.func.id
            raise self.fail(node, f"{name}(...) takes {n} argument{'s' * (n != 1)}, got {len(args)}")

    def call_p(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("p", node, args)

    def call_q(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("q", node, args)

    def density(self, name: str, node: ast.Call, args: list) -> Density:
        variables, given, seen_bar = [], [], False
        for i, arg in enumerate(args):
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr):
                if seen_bar or i != len(args) - 1:
                    raise self.fail(arg, "only one '|' is allowed, as in p(x | z)")
                variables.append(self.variable(arg.left))
                given.append(self.variable(arg.right))
                seen_bar = True
            else:
                target = given if seen_bar else variables
                target.append(self.variable(arg))
        observed = [v for v in variables + given if v != z]
        o = observed[0].name if len(observed) == 1 else "x"
        signature = (tuple("x" if v != z else "z" for v in variables), tuple("x" if g != z else "z" for g in given))
        allowed = _ALLOWED_DENSITIES[name]
        if len(observed) > 1 or signature not in allowed or (name == "q" and not given and not
                                                                     self.vocabulary.single):
            shown = [name + "(" + _signature_text(s).replace("x", o) + ")" for s in allowed]
            if name == "q" and not self.vocabulary.single:
                shown = [f"q(z | {d})" for d in self.vocabulary.data]
            written = _signature_text((tuple(v.name for v in variables), tuple(g.name for g in given)))
            raise self.fail(node, f"{name}({written}) is not a density of the lesson; use one of {', '.join(shown)}")
        if signature == (("z", "x"), ()):
            variables = [variables[1], z]
        return Density(name, tuple(variables), tuple(given))

    def variable(self, node: ast.AST):
        if isinstance(node, ast.Name) and node.id in self.variables:
            return self.variables[node.id]
        names = ", ".join(self.vocabulary.data)
        raise self.fail(node, f"density arguments must be the latent variable z or an observation ({names})")

    def distribution(self, node: ast.AST, depth: int) -> Density:
        """The argument of E, KL, H, ELBO: `q` alone, or a density over z."""
        if isinstance(node, ast.Name) and node.id == "q":
            if not self.vocabulary.single:
                raise self.fail(node, f"with several observations say which q: "
                                      f"{' or '.join(f'q(z | {d})' for d in self.vocabulary.data)}")
            return Density("q", (z,))
        value = self.build(node, depth)
        if isinstance(value, Density) and value.is_over_z:
            return value
        raise self.fail(node, "expected a distribution over z, such as q, q(z), p(z) or p(z | x)")

    def call_Sum(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 2)
        if not (isinstance(args[1], ast.Name) and args[1].id == "z"):
            raise self.fail(args[1], "Sum(f, z) sums over the latent variable z only")
        return LatentSum(self.build(args[0], depth), z)

    def call_E(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 2)
        return Expectation(self.distribution(args[0], depth), self.build(args[1], depth))

    def call_KL(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 2)
        return KL(self.distribution(args[0], depth), self.distribution(args[1], depth))

    def call_H(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        return Entropy(self.distribution(args[0], depth))

    def call_ELBO(self, node: ast.Call, args: list, depth: int) -> Expr:
        if self.vocabulary.single and len(args) == 1:
            return ELBO(self.distribution(args[0], depth))
        if len(args) != 2:
            example = f"ELBO(q(z | {self.vocabulary.data[0]}), {self.vocabulary.data[0]})"
            raise self.fail(node, f"ELBO(...) takes the distribution and the observation, as in {example}"
                            if not self.vocabulary.single else "ELBO(...) takes 1 argument (or 2: ELBO(q, x))")
        observation = self.variable(args[1])
        if observation == z:
            raise self.fail(args[1], "the second argument of ELBO is an observation, not z")
        return ELBO(self.distribution(args[0], depth), observation)

    def call_log(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        argument = self.build(args[0], depth)
        if argument.is_Number and not argument.is_positive:
            raise self.fail(args[0], "log of a non-positive number")
        return log(argument, evaluate=False)

    def call_exp(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        argument = self.build(args[0], depth)
        if argument.has(exp):
            # exp(exp(10**6)) has a 434,294-digit exponent: no budget can evaluate it.
            raise self.fail(node, "exp inside exp is not allowed (the values would be astronomically large)")
        return Exp(argument, evaluate=False)


_ALLOWED_DENSITIES = {
    "p": [(("x",), ()), (("z",), ()), (("x", "z"), ()), (("z", "x"), ()),
          (("x",), ("z",)), (("z",), ("x",))],
    "q": [(("z",), ()), (("z",), ("x",))],
}


def _signature_text(signature: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    variables, given = signature
    text = ", ".join(variables)
    return text + (" | " + ", ".join(given) if given else "")


def _literal_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal_int(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _degree(e: Expr) -> int:
    """An upper bound on the polynomial degree expansion could produce (logs count as atoms)."""
    if e.is_Add:
        return max(_degree(a) for a in e.args)
    if e.is_Mul:
        return sum(_degree(a) for a in e.args)
    if e.is_Pow:
        return _degree(e.base) * abs(int(e.exp))
    if e.is_Number:
        return 0
    return 1


def _number_bits(e: Expr) -> int:
    """An upper bound on the bits of the exact numbers evaluating `e`'s arithmetic could build
    (arguments of functions and notation were bounded when they were built)."""
    if e.is_Rational:
        return max(abs(int(e.p)).bit_length(), int(e.q).bit_length())
    if e.is_Add or e.is_Mul:
        return sum(_number_bits(a) for a in e.args)
    if e.is_Pow:
        return _number_bits(e.base) * abs(int(e.exp))
    return 0


def _describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:40]
    except Exception:  # unparse of exotic nodes; the type name is enough then
        return type(node).__name__

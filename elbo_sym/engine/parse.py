"""Safe parser: expression text from a derivation file -> notation objects.

Derivation files are untrusted.  The text is parsed by Python's :mod:`ast` (which builds
a tree and runs nothing), every node is checked against a whitelist, and the SymPy
objects are built unevaluated, so ``10**10**10`` is never computed.  Budgets bound the
length, the nesting and the polynomial degree an expression can ask for.

Errors speak the author's notation, never Python's: when Python's parser refuses the text,
:class:`_Scan` reads it again with a small scanner of its own and names the construct
(``missing `*` between `2` and `q(z)`?``); each :class:`ParseError` carries the column of
the offending character, under which the derivation reader puts its caret.
"""

from __future__ import annotations

import ast
import keyword
import re
import string
import unicodedata
import warnings
from dataclasses import dataclass

from sympy import Add, Expr, Integer, Mul, Pow, Rational, S, Symbol, exp, log, preorder_traversal

from elbo_sym.budget import alarm_held
from elbo_sym.engine.notation import (
    DATA_DENSITY,
    ELBO,
    IWAE,
    KL,
    LAYER_SYMBOLS,
    Density,
    DimensionSum,
    Draw,
    Entropy,
    Exp,
    Expectation,
    Index,
    LatentSum,
    Limit,
    Normal,
    RealPower,
    distribution_variables,
    x,
    z,
)
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import (
    MAX_DEGREE,
    MAX_EXPONENT,
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_INTEGER_LITERAL,
    MAX_IWAE_SAMPLES,
    MAX_NUMBER_BITS,
)


class ParseError(Exception):
    """A refused expression: what is wrong, and where (0-based column in the text).

    `token` is the offending source text when the message does not already show it. `name` is
    what the author wrote that the notation does not know, for a caller that advises in its own
    terms (a course title has no [params]): an unknown name (``beta``), or a LaTeX command that
    has no plain spelling (``\\beta``, with its backslash); empty for every other error.  An
    ordinary exception class (not a frozen dataclass): Python sets ``__traceback__`` on it."""

    def __init__(self, message: str, column: int = 0, token: str = "", *, name: str = ""):
        super().__init__(message)
        self.message = message
        self.column = column
        self.token = token
        self.name = name

    def __str__(self) -> str:
        return self.message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParseError) and (self.message, self.column, self.token) == \
            (other.message, other.column, other.token)

    def __hash__(self) -> int:
        return hash((self.message, self.column, self.token))


_DENSITY_NAMES = {"p", "q", "r", "q_star"}
_DRAW_NAME = r"[a-z][0-9]?"
"""A name a Sum may bind as another draw of z (w, v, w2): short, so it never prints as a macro."""
CONSTANT_NAMES = ("e", "pi", "I", "oo", "zoo", "nan")
"""SymPy's names of constants: a parameter named e would print as Euler's number, I as the
imaginary unit, and oo is infinity inside limit(...)."""
RESERVED = frozenset({"p", "q", "r", "q_star", "z", "z1", "z2", "z3", "z4", "z5", "Sum", "E", "KL", "H", "ELBO", "log",
                      "exp", "Normal", "IWAE", DATA_DENSITY, *CONSTANT_NAMES})
"""Names a file may not use for an observation or a parameter."""

NO_LIMITS = ("limit(...) belongs to the one-layer discrete family (model = \"discrete\"), where a theorem decides "
             "the Renyi bound as alpha -> 1 or 0 and IWAE(q, k) as k -> oo; state the bounds that hold for every "
             "value instead, e.g. log(p(x)) >= IWAE(q, k) >= ELBO(q)")
"""Why ``limit`` is refused (issue 17, item 4): trusting SymPy's limit would be an unchecked step."""
_CALL_EXAMPLES = {"p": "p(x)", "q": "q(z)", "r": "r(z)", "q_star": "q_star(z)", "Sum": "Sum(f, z)", "E": "E(q, f)",
                  "KL": "KL(q(z), p(z))",
                  "H": "H(q)", "ELBO": "ELBO(q)", "IWAE": "IWAE(q, 2)", "Normal": "Normal(m, v)", "log": "log(...)",
                  "exp": "exp(...)", DATA_DENSITY: "p_data(x1)", "limit": "limit(f, alpha, 1)"}
"""The functions of the notation, each with how it is written."""


@dataclass(frozen=True)
class Vocabulary:
    """The names a file declares: observations (``data``, default ``x``) and ``[params]``."""

    data: tuple[str, ...] = ("x",)
    params: tuple[str, ...] = ()
    latents: tuple[str, ...] = ("z",)
    """The latent variables: ("z",), or ("z1", "z2") for two layers (elbo_sym.engine.models.chain)."""
    real: bool = False
    """The Gaussian family: x and z are real numbers, usable bare ((x - b)**2, E(q, z**2)), and
    Normal(m, v) is a distribution over z."""
    dimensions: bool = False
    """The Gaussian family with ``D = "any"``: ``Sum(f, (d, 1, D))`` sums over the dimensions, and
    the parameters named ``..._d`` (mu_d, sigma_d, w_d) are dimension d's, usable inside it only."""
    counts: tuple[tuple[str, int], ...] = ()
    """Whole-number parameters (``k = "integer >= 1"``) with their least value: usable only as
    IWAE's number of samples (``IWAE(q, k)``, ``IWAE(q, k + 1)``)."""

    @property
    def variables(self) -> dict[str, Symbol]:
        out = {name: (x if name == "x" else Symbol(name)) for name in self.data}
        out.update({name: _LATENT_SYMBOLS[name] for name in self.latents})
        return out

    @property
    def layered(self) -> bool:
        """Several latent layers (z1, z2): densities over any of them, sums over each."""
        return self.latents != ("z",)

    @property
    def single(self) -> bool:
        return len(self.data) == 1


DEFAULT_VOCABULARY = Vocabulary()
_LATENT_SYMBOLS = {"z": z, **{str(v): v for v in LAYER_SYMBOLS}}


def parse_expression(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Expr:
    """Parse one expression of the derivation vocabulary (see DESIGN.md)."""
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}")
    if not text.strip():
        raise ParseError("empty expression: write a formula such as `log(p(x))`")
    text = _semicolons(text)
    _refuse_hazards(text)
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    try:
        with warnings.catch_warnings(), alarm_held():  # "1if 1else 2": no SyntaxWarning on stderr, the
            warnings.simplefilter("ignore")                # error is ours; no budget's alarm inside the C parser
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as error:
        # Python's wording ("invalid syntax", "unexpected EOF") never reaches the author: the
        # scanner names the construct; failing that, a plain message at Python's position.
        scan = _Scan(stripped, offset)
        diagnosis = scan.diagnose()
        if diagnosis is not None:
            raise diagnosis from None
        if error.offset and error.lineno:
            position = _index(stripped, error.lineno, error.offset - 1)
        else:  # no position: "at the end" (e.g. a dangling operator)
            position = len(stripped)
        raise scan.unreadable(position) from None
    except (RecursionError, MemoryError, ValueError) as raised:
        reraise_callers(raised)
        raise ParseError(f"expression too deeply nested (at most {MAX_EXPRESSION_DEPTH} levels)") from None
    result = _Builder(stripped, offset, vocabulary).build(tree.body, depth=0)
    _refuse_outside_whitelist(text)  # defence in depth: the tree was whitelisted node by node
    return result


ALLOWED_CHARACTERS = frozenset(string.ascii_letters + string.digits + " \t\n\r" + "_+-*/(),|.")
"""Every character an expression may contain (relations are split off before parsing)."""

_RELATION_HINT = " (a relation goes in `rel`, not in `expr`)"
_ASCII_FOR = {
    "\u2265": ">=" + _RELATION_HINT, "\u2264": "<=" + _RELATION_HINT, "\u2260": "a relation in `rel`",
    "\u2212": "-", "\u2013": "-", "\u2010": "-", "\u2011": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u2217": "*", "\u2219": "*", "\u00f7": "/", "\u2044": "/", "\u2215": "/",
    "\u2211": "Sum(f, z)", "\u03a3": "Sum(f, z)", "\u2223": "|",
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


_LATEX_FOR = {
    "log": "`log(...)`", "ln": "`log(...)`", "exp": "`exp(...)`", "sum": "`Sum(f, z)`", "Sigma": "`Sum(f, z)`",
    "mathbb": "`E(q, f)`", "E": "`E(q, f)`", "KL": "`KL(q(z), p(z))`", "D": "`KL(q(z), p(z))`", "H": "`H(q)`",
    "mathbf": "plain letters", "mathrm": "plain letters", "operatorname": "plain letters", "text": "plain letters",
    "mathcal": "plain letters", "cdot": "`*`", "times": "`*`", "ast": "`*`", "div": "`/`", "mid": "`|`",
    "vert": "`|`", "Vert": "a comma, as in `KL(q(z), p(z))`", "|": "a comma, as in `KL(q(z), p(z))`",
    "parallel": "a comma, as in `KL(q(z), p(z))`", "left": "plain parentheses", "right": "plain parentheses",
    "big": "plain parentheses", "Big": "plain parentheses", "bigl": "plain parentheses",
    "bigr": "plain parentheses", "{": "plain parentheses", "}": "plain parentheses",
    "le": "`<=` in `rel`", "leq": "`<=` in `rel`", "ge": "`>=` in `rel`", "geq": "`>=` in `rel`",
    "neq": "a relation in `rel`", "approx": "a relation in `rel`", ",": "a plain space", ";": "a plain space",
    "quad": "a plain space", "qquad": "a plain space",
}
"""What to write instead of a LaTeX command (keyed by its name, without the backslash)."""
_LATEX_ARGUMENT = r"\s*(?:\{[^{}\\]{0,20}\}|[A-Za-z](?![A-Za-z]))"
"""The argument shown with a font command: the E of \\mathbb E or \\mathbb{E}."""


def _latex_error(text: str, i: int) -> ParseError:
    """The author typed LaTeX: name the command and its plain spelling (text[i] is a backslash)."""
    end = i
    while end < len(text) and text[end] == "\\":
        end += 1
    name_end = end
    while name_end < len(text) and text[name_end].isascii() and text[name_end].isalpha():
        name_end += 1
    if name_end == end and end < len(text) and text[end].isascii() and text[end].isprintable():
        name_end = end + 1  # a one-symbol command: \, \{ \|
    name = text[end:name_end]
    command = "\\" + name
    if name in ("frac", "dfrac", "tfrac"):
        return ParseError("LaTeX is not accepted in expressions: write `a / b`, not \\frac{a}{b}", i)
    plain = _LATEX_FOR.get(name)
    if name in ("mathbb", "mathrm", "mathbf", "mathcal", "operatorname", "text"):
        argument = re.match(_LATEX_ARGUMENT, text[name_end:])
        command += argument.group() if argument else ""
        if name == "mathbb" and "E" not in command[len(name) + 1:]:
            plain = "plain letters"  # \mathbb{R}: not an expectation
    advice = f"write {plain}, not {command}" if plain else f"remove {command}"
    # The general rule too, so that every LaTeX message shows how the notation is spelled.
    return ParseError(f"LaTeX is not accepted in expressions: {advice} (plain text throughout, as in "
                      f"`a / b`, not \\frac{{a}}{{b}})", i, name="" if plain else command)


def _semicolons(text: str) -> str:
    """`p(x | z; theta)`: the `;` before a model's parameter, read as a comma (same column, so
    every later message points at the author's text); a `;` anywhere else is refused.  One pass:
    per open parenthesis, whether it is p's and whether a `|` or a nested `(` came in it."""
    if ";" not in text:
        return text
    out = list(text)
    frames: list[list] = []  # [is p(...), seen a bar, seen a nested parenthesis, seen a `;`]
    for i, ch in enumerate(text):
        if ch == "(":
            if frames:
                frames[-1][2] = True
            head = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[max(0, i - 40):i])
            frames.append([head is not None and head.group(1) == "p", False, False, False])
        elif ch == ")":
            if frames:
                frames.pop()
        elif ch == "|" and frames:
            frames[-1][1] = True
        elif ch == ";":
            if not frames or frames[-1] != [True, True, False, False]:
                raise ParseError("`;` is not part of the notation here: it only separates a model's parameter in a "
                                 "density, as in `p(x | z; theta)`", i)
            frames[-1][3] = True  # one `;` per density: p(x | z;; theta) is refused here
            out[i] = ","
    return "".join(out)


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
            raise _latex_error(text, i)
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


# ---------------------------------------------------------------- the author's-eye scanner

_NUMBER = (r"0[xX][0-9a-fA-F_]*|0[bB][01_]*|0[oO][0-7_]*"
           r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9][0-9_]*)?[jJ]?")
"""A number as Python reads it (so that `2q` is `2` then `q`, and `1e3` stays one number)."""
_PAIRS = ("**", "||", "==", "<=", ">=", "!=", "//", "&&", "->", ":=")
_RELATIONS = ("=", "==", "<=", ">=", "<", ">", "!=")
_OPERATORS = ("+", "-", "*", "/", "**", "|")
_BINARY_ONLY = ("*", "/", "**", "|", "||", "//")
_SHOWN_LIMIT = 32
"""Operands longer than this are abbreviated in messages: `Sum(...)`."""


@dataclass(frozen=True)
class _Token:
    """A number, name or sign of an expression as the author wrote it (:class:`_Scan`, for messages)."""

    kind: str  # "number", "name" or "op" (any other character, or one of _PAIRS)
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and text[i + 1:i + 2].isdigit()):
            number = re.match(_NUMBER, text[i:])
            assert number is not None  # _NUMBER matches whatever starts with a digit or `.digit`
            end = i + number.end()
            out.append(_Token("number", text[i:end], i, end))
        elif ch.isalpha() or ch == "_":
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            out.append(_Token("name", text[i:end], i, end))
        else:
            end = i + 2 if text[i:i + 2] in _PAIRS else i + 1
            out.append(_Token("op", text[i:end], i, end))
        i = end
    return out


def _index(text: str, lineno: int, col: int) -> int:
    """The position in `text` of (1-based line, 0-based column), lines split as Python splits them."""
    start = 0
    if lineno > 1:
        breaks = [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
        start = breaks[min(lineno - 2, len(breaks) - 1)] if breaks else 0
    return max(0, min(start + col, len(text)))


def _is_keyword(t: _Token) -> bool:
    return t.kind == "name" and keyword.iskeyword(t.text)


def _ends_operand(t: _Token) -> bool:
    return t.kind == "number" or (t.kind == "name" and not keyword.iskeyword(t.text)) or t.text == ")"


def _starts_operand(t: _Token) -> bool:
    return t.kind == "number" or (t.kind == "name" and not keyword.iskeyword(t.text)) or t.text == "("


class _Scan:
    """The expression as the author sees it: numbers, names, operators and parentheses.

    `diagnose` finds the first mistake Python's parser stumbled on and says it in the
    notation's terms; the builder uses the same messages for mistakes Python accepts
    (``p(x)^2``, ``KL(q | p)``, ``q(z)(p(x))``).  Columns are in the caller's text (`offset`).
    """

    def __init__(self, text: str, offset: int = 0):
        self.text, self.offset = text, offset
        self.tokens = _tokens(text)
        self.partner: dict[int, int] = {}  # "(" <-> ")" (matched pairs only)
        stack = []
        for i, t in enumerate(self.tokens):
            if t.text == "(":
                stack.append(i)
            elif t.text == ")" and stack:
                j = stack.pop()
                self.partner[i], self.partner[j] = j, i

    # -- positions ----------------------------------------------------------------

    def error(self, i: int, message: str) -> ParseError:
        position = self.tokens[i].start if i < len(self.tokens) else len(self.text)
        return ParseError(message, self.offset + position)

    def find(self, text: str, start: int, end: int | None = None) -> int | None:
        """The first token spelled `text` between text positions start and end."""
        for i, t in enumerate(self.tokens):
            if t.start >= start and (end is None or t.end <= end) and t.text == text:
                return i
        return None

    def enclosing(self, i: int) -> int | None:
        """The innermost "(" that token i sits in."""
        depth = 0
        for j in range(i - 1, -1, -1):
            if self.tokens[j].text == ")":
                depth += 1
            elif self.tokens[j].text == "(":
                if depth == 0:
                    return j
                depth -= 1
        return None

    def function(self, opener: int | None) -> str | None:
        """The name called by the "(" at `opener` (None for a plain grouping parenthesis)."""
        if opener is None or opener == 0 or self.tokens[opener - 1].kind != "name":
            return None
        return self.tokens[opener - 1].text

    def called(self, i: int) -> int | None:
        """The innermost function call (its "(") that token i sits in, past grouping parentheses."""
        opener = self.enclosing(i)
        while opener is not None and self.function(opener) is None:
            opener = self.enclosing(opener)
        return opener

    def close(self, opener: int) -> int:
        """The ")" of the "(" at `opener` (the last token when it is never closed)."""
        return self.partner.get(opener, len(self.tokens) - 1)

    def commas(self, opener: int) -> int:
        """Commas directly inside the parentheses opened at `opener`."""
        depth, count = 0, 0
        for t in self.tokens[opener + 1:self.close(opener) + 1]:
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                if depth == 0:
                    break
                depth -= 1
            elif t.text == "," and depth == 0:
                count += 1
        return count

    def operand_before(self, i: int) -> tuple[int, int]:
        """The atom ending at token i: `2`, `z`, `q(z)`, `(a + b)`."""
        if self.tokens[i].text == ")" and i in self.partner:
            first = self.partner[i]
            if first > 0 and self.tokens[first - 1].kind == "name":
                first -= 1
            return first, i
        return i, i

    def operand_after(self, i: int) -> tuple[int, int]:
        """The atom starting at token i."""
        if self.tokens[i].kind == "name" and self.tokens[i + 1:i + 2] and self.tokens[i + 1].text == "(":
            return i, self.close(i + 1)
        if self.tokens[i].text == "(":
            return i, self.close(i)
        return i, i

    def source(self, first: int, last: int) -> str:
        return " ".join(self.text[self.tokens[first].start:self.tokens[last].end].split())

    def show(self, first: int, last: int) -> str:
        """The author's text of tokens first..last, abbreviated when long."""
        shown = self.source(first, last)
        if len(shown) <= _SHOWN_LIMIT:
            return shown
        if self.tokens[first].kind == "name" and first < last and self.tokens[first + 1].text == "(":
            return self.tokens[first].text + "(...)"
        return "(...)" if self.tokens[first].text == "(" else shown[:_SHOWN_LIMIT - 3] + "..."

    # -- what Python would not read ---------------------------------------------------

    def diagnose(self) -> ParseError | None:
        """The first mistake, in the notation's terms (None: nothing the scanner recognises)."""
        tokens, too_deep = self.tokens, None
        stack: list[int] = []
        for i, t in enumerate(tokens):
            prev = tokens[i - 1] if i else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if prev is not None and not stack and re.search(r"[\r\n]", self.text[prev.end:t.start]):
                return self.error(i, "a line break is only allowed inside parentheses: keep the expression "
                                     "on one line")
            if t.kind == "op":
                problem = self.operator(i, prev, after, stack)
                if problem is not None:
                    return problem
                if t.text == "(":
                    stack.append(i)
                    if len(stack) > MAX_EXPRESSION_DEPTH and too_deep is None:
                        too_deep = i
                elif t.text == ")":
                    stack.pop()
            elif _is_keyword(t):
                return self.error(i, f"`{t.text}` is not part of the notation")
            elif t.kind == "number" and re.fullmatch(r"0+[0-9]+", t.text):
                return self.error(i, f"write `{t.text.lstrip('0') or '0'}`, not `{t.text}`: a number cannot start "
                                     f"with 0")
            elif t.kind == "number" and not t.text.isdigit():  # 0x, 1__0, 1e (1e3, 0.5: refused later)
                return self.error(i, f"write numbers in plain decimal digits, or fractions like `3/4`, "
                                     f"not `{t.text}`")
            if prev is not None and _ends_operand(prev) and _starts_operand(t) and not (
                    prev.kind == "name" and t.text == "("):
                return self.juxtaposition(i)
        if stack:
            opener = stack[-1]
            name = self.function(opener)
            what = f"`{name}(`" if name else "this `(`"
            return self.error(opener, f"missing `)`: {what} is never closed")
        if too_deep is not None:
            return self.error(too_deep, "too many nested parentheses (an expression nests at most "
                                        f"{MAX_EXPRESSION_DEPTH} levels deep)")
        return None

    def operator(self, i: int, prev: _Token | None, after: _Token | None, stack: list) -> ParseError | None:
        """A mistake at the operator or punctuation token i."""
        t = self.tokens[i]
        op = t.text
        if op == ")" and not stack:
            return self.error(i, "unmatched `)`: there is no `(` for it to close")
        if op == "^":
            return self.power(i)
        if op in ("|", "||") and (op == "||" or self.function(self.called(i)) not in _DENSITY_NAMES):
            return self.bar(i)
        if op in _RELATIONS:
            return self.relation(i)
        if op in ("[", "]", "{", "}"):
            return self.bracket(i)
        if op == "," and not stack:
            return self.error(i, "a comma only separates the arguments of a function, as in "
                                 "`KL(q(z), p(z))`")
        if op in _BINARY_ONLY or op == ",":
            if prev is None:
                return self.error(i, f"the expression starts with `{op}`: a term is missing before it")
            if prev.text in ("(", ","):
                return self.error(i, f"{'an argument' if op == ',' else 'a term'} is missing before `{op}`")
            if prev.kind == "op" and prev.text != ")":
                return self.error(i, f"a term is missing between `{prev.text}` and `{op}`")
        if op in _OPERATORS:
            if after is None:
                return self.error(i, f"the expression ends with `{op}`: a term is missing after it")
            if after.text in (")", ","):
                return self.error(i, f"a term is missing after `{op}`")
        if op in ("(", ")", ",") or op in _OPERATORS:
            return None
        if op == "//":
            return self.error(i, "`//` is not part of the notation: write `/` for division")
        if op in ("'", '"'):
            return self.error(i, "quotes are not allowed in an expression")
        if op == ".":
            return self.error(i, "`.` is not allowed here: numbers are whole, or fractions like `3/4`")
        if op == "`":
            return self.error(i, "the backquote character is not allowed in an expression")
        return self.error(i, f"`{op}` is not part of the notation (write with letters, digits and "
                             f"+ - * / ** ( ) , |)")

    # -- messages shared with the builder ----------------------------------------------

    def juxtaposition(self, i: int) -> ParseError:
        """Two terms side by side (token i starts the second): a missing `*`, or `,`."""
        prev = self.tokens[i - 1]
        a0, a1 = self.operand_before(i - 1)
        b0, b1 = self.operand_after(i)
        left, right = self.show(a0, a1), self.show(b0, b1)
        opener = self.enclosing(a0)
        name = self.function(opener)
        # KL(q(z) p(z)), E(q log(p(x))) (a function's name implies its opener)
        if name in ("KL", "E", "Sum") and opener is not None and self.commas(opener) == 0:
            return self.error(i, f"missing `,` between `{left}` and `{right}`? "
                                 f"`{name}` takes two arguments, as in `{_CALL_EXAMPLES[name]}`")
        if name in _DENSITY_NAMES and a0 == a1 and b0 == b1:  # p(x z)
            return self.error(i, f"missing `,` or `|` between `{left}` and `{right}`?")
        if prev.kind == "name" and prev.text in _CALL_EXAMPLES:  # log p(x)
            return self.error(i, f"`{prev.text}` needs parentheses: write `{prev.text}({right})`")
        return self.error(i, f"missing `*` between `{left}` and `{right}`?")

    def power(self, i: int) -> ParseError:
        """`^` (token i) for a power."""
        a = self.operand_before(i - 1) if i and _ends_operand(self.tokens[i - 1]) else None
        j = i + 1
        while j < len(self.tokens) and self.tokens[j].text in ("-", "+"):
            j += 1
        b = self.operand_after(j) if j < len(self.tokens) and _starts_operand(self.tokens[j]) else None
        if a and b:
            written = self.source(a[0], b[1])
            if len(written) <= _SHOWN_LIMIT:
                cut = self.tokens[i].start - self.tokens[a[0]].start
                fixed = self.text[self.tokens[a[0]].start:self.tokens[b[1]].end]
                fixed = " ".join((fixed[:cut] + "**" + fixed[cut + 1:]).split())
                return self.error(i, f"write `{fixed}` for a power, not `{written}`")
        return self.error(i, "write `a ** b` for a power, not `a ^ b`")

    def bar(self, i: int) -> ParseError:
        """`|` or `||` (token i) outside p(...) and q(...): KL(q || p) or a stray bar."""
        op = self.tokens[i].text
        opener = self.called(i)
        name = self.function(opener)
        if name == "KL" and opener is not None and self.commas(opener) == 0:
            shut = self.close(opener)
            a = self.source(opener + 1, i - 1) if i - 1 > opener else ""
            b = self.source(i + 1, shut - 1) if shut - 1 > i and self.tokens[shut].text == ")" else ""
            if a and b and len(a) + len(b) <= 2 * _SHOWN_LIMIT:
                plain = {"q": "q(z)", "p": "p(z)"}
                return self.error(i, f"write `KL({plain.get(a, a)}, {plain.get(b, b)})`, not "
                                     f"`KL({a} {op} {b})`: a comma separates the two distributions")
            return self.error(i, f"write `KL(q(z), p(z))`, not `KL(q {op} p)`: a comma separates the two "
                                 f"distributions")
        if op == "||" and name in _DENSITY_NAMES:
            return self.error(i, "write a single `|`, as in `p(x | z)`")
        if op == "||":
            return self.error(i, "`||` is not part of the notation: a divergence is written `KL(q(z), p(z))`")
        return self.error(i, "`|` is only allowed inside p(...) or q(...), as in `p(x | z)`")

    def relation(self, i: int) -> ParseError:
        """A relation (token i) inside an expression."""
        op = self.tokens[i].text
        before = self.tokens[i - 1] if i else None
        if op == "=" and before is not None and before.kind == "name" and i > 1 and \
                self.tokens[i - 2].text in ("(", ","):
            return self.error(i, "keyword arguments are not allowed: write the argument alone, as in `p(x)`")
        spelled = {"==": " (written `=`)", "!=": " (and `!=` is not one of the lesson's relations: "
                                                   "use =, <=, >=, <, >)"}.get(op, "")
        return self.error(i, f"`{op}` is a relation: a relation goes in `rel`, not in `expr`{spelled}")

    def bracket(self, i: int) -> ParseError:
        """Square brackets or braces (token i): E[f], E_q[f], \\frac-style {a}."""
        op = self.tokens[i].text
        before = self.tokens[i - 1] if i else None
        if op == "[" and before is not None and before.kind == "name" and before.text[:1] == "E":
            depth = 0
            for j in range(i, len(self.tokens)):
                depth += {"[": 1, "]": -1}.get(self.tokens[j].text, 0)
                if depth == 0:
                    inner = self.source(i + 1, j - 1) if j > i + 1 else ""
                    if inner and len(inner) <= _SHOWN_LIMIT:
                        # E[q, f] names its distribution already: E(q, f), never E(q, q, f) (rt32)
                        arguments = inner if _top_level_comma(inner) else f"q, {inner}"
                        return self.error(i, f"write `E({arguments})`, not `{before.text}[{inner}]`: the "
                                             f"distribution is the first argument")
                    break
            return self.error(i, f"write an expectation as `E(q, f)`, not `{before.text}[f]`: the "
                                 f"distribution is the first argument")
        what = "square brackets" if op in "[]" else "braces"
        return self.error(i, f"{what} are not allowed in an expression: group with parentheses `( )`")

    def unreadable(self, position: int) -> ParseError:
        """Python's parser stopped at `position` for a reason the scanner has no name for."""
        for i, t in enumerate(self.tokens):
            if t.end > position:
                return self.error(i, f"cannot read the expression at `{t.text}`")
        return ParseError("the expression stops too early: is something missing at the end?",
                          self.offset + len(self.text))


def _top_level_comma(text: str) -> bool:
    """Whether `text` has a comma outside every bracket: `q, f` does, `log(p(x, z))` does not."""
    depth = 0
    for c in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c, 0)
        if c == "," and depth == 0:
            return True
    return False


# ---------------------------------------------------------------- near misses

_SYNONYMS = {"ln": "log", "log2": "log", "log10": "log", "lg": "log", "summation": "Sum", "sigma": "Sum",
             "entropy": "H", "expectation": "E", "expect": "E", "expected": "E", "mean": "E", "avg": "E",
             "kl": "KL", "dkl": "KL", "kld": "KL", "elbo": "ELBO", "e": "E"}
"""Other spellings of the notation's functions (keys in lower case)."""
_NOTES = {"log2": "`log` is the natural logarithm; for base 2 write `log(a) / log(2)`",
          "log10": "`log` is the natural logarithm; for base 10 write `log(a) / log(10)`",
          "ln": "`log` is the natural logarithm"}


def _near(name: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    """The candidate the author probably meant by `name`: same letters in another case, another
    spelling of the same function, a subscripted form (E_q, p_theta), or a typo."""
    lower = {c.lower(): c for c in candidates}
    if name.lower() in lower:
        return lower[name.lower()]
    synonym = _SYNONYMS.get(name.lower())
    if synonym in candidates:
        return synonym
    head = name.split("_")[0]
    if "_" in name.strip("_") and head and head.lower() in lower:
        return lower[head.lower()]
    if len(name) >= 3:
        import difflib  # only for a message (a misspelt name): not at import

        close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
        if close:
            return lower[close[0]]
    return None


def _did_you_mean(name: str, suggestion: str) -> str:
    note = _NOTES.get(name.lower(), "")
    if suggestion == "E" and name != "E" and name[:1] in "Ee" and "_" in name:
        note = "the distribution is the first argument: `E(q, f)`"
    return f"did you mean `{suggestion}`?" + (f" ({note})" if note else "")


class _Builder:
    """Walks the whitelisted AST and builds unevaluated SymPy notation."""

    def __init__(self, text: str, offset: int, vocabulary: Vocabulary = DEFAULT_VOCABULARY):
        self.text = text
        self.offset = offset
        self.vocabulary = vocabulary
        self.variables = vocabulary.variables
        self._scan: _Scan | None = None
        self.in_dimension_sum = False
        self.draws: dict[str, Draw] = {}
        """The draw names bound by the Sums around the node being built (IWAE's draws written out)."""
        self.draw_hits: list[str] | None = None
        """While a density is built inside such a Sum: the draws its arguments named."""
        self.degrees: dict[Expr, int] = {}
        """_degree's answers for the subexpressions built so far."""
        self.calls: dict[str, tuple[Expr, int]] = {}
        """Each call built so far outside any binder (a Sum over draws or dimensions), by its text:
        its result and how many levels it nests.  A formula that repeats KL(m, p(z | x)) forty
        times builds it once (the build is a function of the text and the vocabulary)."""
        self.deepest = 0
        """The deepest level reached so far (a remembered call must still fit MAX_EXPRESSION_DEPTH)."""

    # -- errors -------------------------------------------------------------------

    @property
    def scan(self) -> _Scan:
        if self._scan is None:
            self._scan = _Scan(self.text, self.offset)
        return self._scan

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Where `node` is in the text (the text is ASCII: ast's byte columns are characters)."""
        line: int = getattr(node, "lineno", 1)  # not every ast.AST has a position
        col: int = getattr(node, "col_offset", 0)
        start = _index(self.text, line, col)
        end = _index(self.text, getattr(node, "end_lineno", None) or line, getattr(node, "end_col_offset", None) or col)
        return start, max(start, end)

    def fail(self, node: ast.AST, message: str, name: str = "") -> ParseError:
        start, end = self.span(node)
        return ParseError(message, start + self.offset, self.text[start:end], name=name)

    def token_between(self, spelled: tuple[str, ...], left: ast.AST, right: ast.AST) -> int | None:
        """The first scanner token spelled one of `spelled` between two nodes (an operator's
        position); with left == right, the first one inside that node."""
        start, end = (self.span(left)[1], self.span(right)[0]) if left is not right else self.span(left)
        for i, t in enumerate(self.scan.tokens):
            if t.start >= start and t.end <= end and t.text in spelled:
                return i
        return None

    # -- dispatch -----------------------------------------------------------------

    def build(self, node: ast.AST, depth: int) -> Expr:
        if depth > MAX_EXPRESSION_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels (each term of a sum or "
                                  f"factor of a product is one level: group a long sum in parentheses, "
                                  f"(a + b + ...) + (c + d + ...))")
        key = None
        if isinstance(node, ast.Call) and not self.draws and self.draw_hits is None and not self.in_dimension_sum:
            start, end = self.span(node)
            key = self.text[start:end]
            known = self.calls.get(key)
            if known is not None and depth + known[1] <= MAX_EXPRESSION_DEPTH:
                self.deepest = max(self.deepest, depth + known[1])
                return known[0]
        outer, self.deepest = self.deepest, depth
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        result = method(node, depth + 1)
        if _degree(result, self.degrees) > MAX_DEGREE:
            raise self.fail(node, f"expression degree exceeds {MAX_DEGREE} (too much expansion work)")
        if key is not None:
            self.calls[key] = (result, self.deepest - depth)
        self.deepest = max(outer, self.deepest)
        return result

    def visit_Constant(self, node: ast.Constant, depth: int) -> Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (write fractions like 3/4)" if isinstance(value, float) else ""
            raise self.fail(node, f"only integer literals are allowed, not {value!r}{hint}")
        if value > MAX_INTEGER_LITERAL:
            raise self.fail(node, f"integer {value} exceeds the limit {MAX_INTEGER_LITERAL}")
        if node.lineno == node.end_lineno == 1:  # ASCII text (_refuse_hazards): columns are characters
            source = self.text[node.col_offset:node.end_col_offset]
        else:  # ast's own slicing (it splits the text into lines first: too slow for every literal)
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
        if isinstance(op, ast.BitXor):  # p(x)^2: the first ^ (none is allowed anywhere)
            i = self.token_between(("^",), node, node)
            if i is not None:
                raise self.scan.power(i)
        if isinstance(op, ast.BitOr):  # KL(q | p), log(p(x) | z)
            i = self.token_between(("|",), node.left, node.right)
            if i is not None:
                raise self.scan.bar(i)
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
        if exponent is None and self.in_parameters(node.right):
            return self.real_power(node, depth)
        if exponent is None:
            raise self.fail(node.right, "an exponent must be an integer literal, like ** 2, or an expression in "
                                        "[params], like ** (1 - alpha)")
        if abs(exponent) > MAX_EXPONENT:
            raise self.fail(node.right, f"exponent {exponent} exceeds the limit {MAX_EXPONENT}")
        base = self.build(node.left, depth)
        if exponent < 0 and base.is_zero:  # the sign first: asking SymPy whether a sum is zero is slow
            raise self.fail(node, "division by zero")
        result = Pow(base, exponent, evaluate=False)
        if _number_bits(result) > MAX_NUMBER_BITS:
            raise self.fail(node, f"nested powers build a number of over {MAX_NUMBER_BITS} bits")
        return result

    def visit_Name(self, node: ast.Name, depth: int) -> Expr:
        if self.vocabulary.dimensions and node.id.endswith("_d") and node.id in self.vocabulary.params \
                and not self.in_dimension_sum:
            raise self.fail(node, f"'{node.id}' is the value in dimension d: use it inside Sum(..., (d, 1, D))")
        if self.vocabulary.dimensions and node.id == "d":
            raise self.fail(node, "d is the index of Sum(f, (d, 1, D)): it has no value outside the sum "
                                  "(write mu_d, sigma_d, w_d inside it)")
        if node.id in self.draws:
            raise self.fail(node, f"'{node.id}' is a draw of z bound by its Sum: it may only appear inside p(...) "
                                  f"or q(...), as in q({node.id})")
        if node.id in dict(self.vocabulary.counts):
            raise self.fail(node, f"'{node.id}' is a whole number of samples: use it as IWAE's second argument "
                                  f"only, as in IWAE(q, {node.id}) or IWAE(q, {node.id} + 1)")
        if node.id in self.vocabulary.params:
            return Symbol(node.id, real=True)
        if node.id == "pi" and self.vocabulary.real:  # the Gaussian family's constant
            return S.Pi
        if self.vocabulary.real and node.id in self.variables:
            return self.variables[node.id]
        if node.id in self.variables:
            raise self.fail(node, f"'{node.id}' may only appear inside p(...) or q(...)")
        if node.id in _DENSITY_NAMES:
            raise self.fail(node, f"'{node.id}' must be applied, as in {node.id}(z)")
        if node.id in _CALL_EXAMPLES:
            raise ParseError(f"`{node.id}` is a function: write `{_CALL_EXAMPLES[node.id]}`",
                             self.span(node)[0] + self.offset)
        if node.id == "e":
            raise ParseError("unknown name 'e': did you mean `exp(1)`?", self.span(node)[0] + self.offset, name="e")
        known = [*self.vocabulary.params, *self.variables, *_CALL_EXAMPLES]
        suggestion = _near(node.id, known)
        if suggestion is not None:  # Beta -> beta; sum -> Sum(f, z)
            shown = _CALL_EXAMPLES.get(suggestion, suggestion) if suggestion not in self.variables else suggestion
            raise ParseError(f"unknown name '{node.id}': {_did_you_mean(node.id, shown)}",
                             self.span(node)[0] + self.offset, name=node.id)
        hint = " (declare parameters in a [params] table, e.g. beta = \">= 1\")" if node.id.isidentifier() else ""
        raise self.fail(node, f"unknown name '{node.id}'{hint}", name=node.id)

    def visit_Call(self, node: ast.Call, depth: int) -> Expr:
        if isinstance(node.func, (ast.Call, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Subscript)):
            # q(z)(p(x)), 2(q(z)), (a + b)(c): two terms side by side
            i = self.scan.find("(", self.span(node.func)[1])
            if i is not None and i > 0 and _ends_operand(self.scan.tokens[i - 1]):
                raise self.scan.juxtaposition(i)
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, f"'{_describe(node.func)}' is not a function of the vocabulary")
        if node.keywords:
            raise self.fail(node.keywords[0].value, "keyword arguments are not allowed")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "starred arguments are not allowed")
        name = node.func.id
        handler = getattr(self, "call_" + name, None) if name in _CALL_EXAMPLES else None
        if handler is None and name == "limit":
            return self.limit(node, node.args, depth)
        if handler is None:
            suggestion = _near(name, tuple(_CALL_EXAMPLES))
            if suggestion is not None:
                raise ParseError(f"unknown function '{name}': {_did_you_mean(name, suggestion)}",
                                 self.span(node.func)[0] + self.offset)
            raise self.fail(node.func, f"unknown function '{name}'")
        return handler(node, node.args, depth)

    def visit_Compare(self, node: ast.Compare, depth: int) -> Expr:
        i = self.token_between(_RELATIONS, node.left, node.comparators[0])
        if i is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        raise self.scan.relation(i)

    def visit_Tuple(self, node: ast.Tuple, depth: int) -> Expr:
        i = self.scan.find(",", self.span(node.elts[0])[1]) if node.elts else None
        if i is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        raise self.scan.error(i, "a comma only separates the arguments of a function, as in `KL(q(z), p(z))`")

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> Expr:
        i = self.scan.find("[", self.span(node.value)[1])
        if i is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        raise self.scan.bracket(i)

    def visit_List(self, node: ast.AST, depth: int) -> Expr:  # [1, 2], {1}, {1: 2}
        i = self.scan.find("[" if isinstance(node, ast.List) else "{", self.span(node)[0])
        if i is None:
            raise self.fail(node, f"'{_describe(node)}' is not allowed in an expression")
        raise self.scan.bracket(i)

    visit_Set = visit_Dict = visit_List

    # -- vocabulary -----------------------------------------------------------------

    def arity(self, node: ast.Call, args: list, n: int) -> None:
        if len(args) != n:
            assert isinstance(node.func, ast.Name)  # handlers are only called for a Name (visit_Call)
            name = node.func.id
            raise self.fail(node, f"{name}(...) takes {n} argument{'s' * (n != 1)}, got {len(args)}")

    def call_p(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("p", node, args)

    def call_q(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("q", node, args)

    def call_p_data(self, node: ast.Call, args: list, depth: int) -> Density:
        """``p_data(x1)``: the data distribution's weight of one data point (issue 17.8), in the
        discrete family with several observations (``data = ["x1", "x2"]``)."""
        if self.vocabulary.real or self.vocabulary.layered or self.vocabulary.single:
            raise self.fail(node, "p_data(x1) is the data distribution over the observations: it needs the "
                                  "discrete family with several, data = [\"x1\", \"x2\"]")
        self.arity(node, args, 1)
        (arg,) = args
        if not (isinstance(arg, ast.Name) and arg.id in self.vocabulary.data):
            raise self.fail(arg, f"p_data(...) takes one observation ({', '.join(self.vocabulary.data)})")
        return Density(DATA_DENSITY, (self.variables[arg.id],))
    def call_r(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("r", node, args)

    def call_q_star(self, node: ast.Call, args: list, depth: int) -> Density:
        return self.density("q_star", node, args)

    def refuse_outside_discrete(self, node: ast.AST, what: str) -> None:
        """r, q_star and parameterised models belong to the one-layer discrete family (for now)."""
        if self.vocabulary.layered or self.vocabulary.real:
            family = "two-layer chain" if self.vocabulary.layered else "Gaussian family"
            raise self.fail(node, f"{what} belongs to the discrete family (model = \"discrete\"), not the {family}")

    def is_parameter(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in self.vocabulary.params

    def split_index(self, name: str, node: ast.Call, args: list) -> tuple[list, Index | None]:
        """A model's parameter at the end of a density: p(x | z; theta), p(z | x; theta) (the `;`
        read as a comma), p(x | theta), p(x, z | theta), p(z | theta). (args without it, it)"""
        if len(args) >= 2 and self.is_parameter(args[-1]) and any(
                isinstance(a, ast.BinOp) and isinstance(a.op, ast.BitOr) for a in args[:-1]):
            where, args = args[-1], list(args[:-1])
        elif args and isinstance(args[-1], ast.BinOp) and isinstance(args[-1].op, ast.BitOr) and \
                self.is_parameter(args[-1].right):
            where, args = args[-1].right, list(args[:-1]) + [args[-1].left]
        else:
            last = args[-1].right if args and isinstance(args[-1], ast.BinOp) and \
                isinstance(args[-1].op, ast.BitOr) else (args[-1] if len(args) >= 2 else None)
            if isinstance(last, ast.Name) and last.id not in self.variables and last.id not in self.draws \
                    and name == "p":
                raise self.fail(last, f"unknown name '{last.id}': a model's parameter is declared in [params], "
                                      f"e.g. {last.id} = \"real\"", name=last.id)
            return args, None
        self.refuse_outside_discrete(where, "a model's parameter in a density")
        assert isinstance(where, ast.Name)  # is_parameter
        if name != "p":
            raise self.fail(where, f"only the model's densities p(...) depend on a parameter; {name}(z) is a free "
                                   f"distribution, as in {name}(z) or {name}(z | x)")
        return args, Index(where.id)

    def density(self, name: str, node: ast.Call, args: list) -> Density:
        if self.draws and self.draw_hits is None:
            return self.density_at_draw(name, node, args)
        if name in ("r", "q_star"):
            self.refuse_outside_discrete(node, f"a second variational distribution {name}(z)")
        if self.vocabulary.layered:
            return self.layered_density(name, node, args)
        args, index = self.split_index(name, node, args)
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
        # the forms suggested are written in the file's own observation (rt37 F2: p(x1, x2) suggested
        # p(x), which a file with data = ["x1", "x2", "x3"] refuses)
        o = observed[0].name if len(observed) == 1 else self.vocabulary.data[0]
        signature = (tuple("x" if v != z else "z" for v in variables), tuple("x" if g != z else "z" for g in given))
        allowed = _ALLOWED_DENSITIES[name]
        if index is not None and signature not in _INDEXED_DENSITIES:
            written = _signature_text((tuple(v.name for v in variables), tuple(g.name for g in given)))
            forms = ", ".join("p(" + _signature_text(s).replace("x", o) + (" | " if not s[1] else "; ") + index.name
                              + ")" for s in _INDEXED_DENSITIES)
            raise self.fail(node, f"p({written}) with the parameter {index.name} is not a density of the lesson; "
                                  f"use one of {forms}")
        if len(observed) > 1 or signature not in allowed or (name != "p" and not given and not
                                                                     self.vocabulary.single):
            shown = [name + "(" + _signature_text(s).replace("x", o) + ")" for s in allowed]
            if name != "p" and not self.vocabulary.single:
                shown = [f"{name}(z | {d})" for d in self.vocabulary.data]
            written = _signature_text((tuple(v.name for v in variables), tuple(g.name for g in given)))
            one = " (one observation per density)" if len(observed) > 1 else ""
            others = [d for d in self.vocabulary.data if d != o] if name == "p" else []
            likewise = f" (or the same with {', '.join(others)})" if others else ""
            raise self.fail(node, f"{name}({written}) is not a density of the lesson{one}; use one of "
                                  f"{', '.join(shown)}{likewise}")
        if signature == (("z", "x"), ()):
            variables = [variables[1], z]
        return Density(name, tuple(variables), tuple(given) + ((index,) if index is not None else ()))

    def variable(self, node: ast.AST):
        if isinstance(node, ast.Name) and node.id in self.draws and self.draw_hits is not None:
            self.draw_hits.append(node.id)  # another draw of z: built as z, moved by density_at_draw
            return z
        if isinstance(node, ast.Name) and node.id in self.variables:
            return self.variables[node.id]
        names = ", ".join(self.vocabulary.data)
        if self.vocabulary.layered:
            raise self.fail(node, f"density arguments must be a latent variable ({', '.join(self.vocabulary.latents)})"
                                  f" or an observation ({names})")
        raise self.fail(node, f"density arguments must be the latent variable z or an observation ({names})")

    def layered_density(self, name: str, node: ast.Call, args: list) -> Density:
        """p(...) or q(...) over latent layers: any variables given any others, each named once;
        q is over latent variables (it is always conditioned on x, written or not)."""
        variables: list = []
        given: list = []
        for arg in args:
            if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.BitOr):
                if given or (isinstance(arg.left, ast.BinOp) and isinstance(arg.left.op, ast.BitOr)):
                    raise self.fail(arg, "only one '|' is allowed, as in p(z1 | z2)")
                variables.append(self.variable(arg.left))
                given.append(self.variable(arg.right))
            else:
                (given if given else variables).append(self.variable(arg))
        named = variables + given
        if len(set(named)) != len(named):
            raise self.fail(node, f"each variable appears once in {name}(...), as in p(z1 | z2)")
        observations = [v for v in named if v.name not in self.vocabulary.latents]
        if len(observations) > 1:
            raise self.fail(node, f"{name}(...) mentions one observation at most")
        if name == "q" and any(v.name not in self.vocabulary.latents for v in variables):
            raise self.fail(node, "q is a distribution over the latent variables, as in q(z1 | x), q(z2 | z1) "
                                  "or q(z1, z2 | x)")
        return Density(name, tuple(variables), tuple(given))

    def distribution(self, node: ast.AST, depth: int) -> Density:
        """The argument of E, KL, H, ELBO: `q` alone, or a density over z."""
        if self.vocabulary.layered:
            return self.layered_distribution(node, depth)
        if isinstance(node, ast.Name) and node.id in ("q", "r", "q_star"):
            name = node.id
            if name != "q":
                self.refuse_outside_discrete(node, f"a second variational distribution {name}(z)")
            if not self.vocabulary.single:
                raise self.fail(node, f"with several observations say which {name}: "
                                      f"{' or '.join(f'{name}(z | {d})' for d in self.vocabulary.data)}")
            return Density(name, (z,))
        value = self.build(node, depth)
        if isinstance(value, Density) and value.is_over_z:
            return value
        if isinstance(value, Normal):
            return value  # a distribution over z of the Gaussian family
        if not isinstance(value, Density) and self.derived(node, value):
            return value
        raise self.fail(node, "expected a distribution over z, such as q, q(z), p(z), p(z | x) or a mixture "
                              "(q(z | x1) + q(z | x2)) / 2")

    def derived(self, node: ast.AST, value: Expr) -> bool:
        """Whether `value` is a derived distribution argument: an expression of the latent
        variables built from densities, numbers, parameters, exp and Sum -- a mixture
        (q(z | x1) + q(z | x2)) / 2, a product q(z1 | x) * q(z2 | x), a normalised
        exp(f) / Sum(exp(f), z).  That it *is* a distribution (positive, summing to 1) is an
        obligation the checker proves (engine.wellformed); a mixture of the model's own
        distributions with number weights is decided here already (weights > 0, sum 1)."""
        variables = distribution_variables(value)
        if not variables:
            return False
        if self.vocabulary.layered:
            if not set(variables) <= {self.variables[n] for n in self.vocabulary.latents}:
                return False
        elif variables != (z,):
            return False
        if self.vocabulary.real:
            raise self.fail(node, "a mixture, product or normalised exp(...) as a distribution belongs to the "
                                  "discrete and chain families; the Gaussian family takes q, p(z), p(z | x) or "
                                  "Normal(m, v)")
        if value.has(KL, Entropy, ELBO, IWAE, Normal) or (value.has(Expectation) and not self.vocabulary.layered):
            inner = "E (over another layer), " if self.vocabulary.layered else ""
            raise self.fail(node, f"a mixture, product or normalised exp(...) as a distribution is built from "
                                  f"densities, numbers, parameters, {inner}exp and Sum only (no KL, H, ELBO or "
                                  f"Normal{'' if inner else ', E'})")
        weights = _mixture_weights(value, variables)
        if weights is not None:
            for weight in weights:
                if weight <= 0:
                    raise self.fail(node, f"a mixture's weights must be positive; {weight} is not")
            total = Add(*weights)
            if total != 1:
                raise self.fail(node, f"a mixture's weights must sum to 1; {' + '.join(map(str, weights))} = "
                                      f"{total}, so this is not a distribution")
        return True

    def call_Normal(self, node: ast.Call, args: list, depth: int) -> Expr:
        if not self.vocabulary.real:
            raise self.fail(node, "Normal(m, v) belongs to the Gaussian family: write model = \"gaussian\"")
        self.arity(node, args, 2)
        mean, variance = self.build(args[0], depth), self.build(args[1], depth)
        for arg, value in zip(args, (mean, variance)):
            if value.has(z):
                raise self.fail(arg, "the mean and variance of Normal(m, v) cannot depend on z")
        return Normal(mean, variance)

    def layered_distribution(self, node: ast.AST, depth: int) -> Density:
        """With latent layers: `q` alone is the whole chain q(z1, z2 | x); otherwise a density over
        latent variables, such as q(z2 | x) or q(z1 | z2, x)."""
        latents = tuple(self.variables[n] for n in self.vocabulary.latents)
        if isinstance(node, ast.Name) and node.id == "q":
            return Density("q", latents, (self.variables[self.vocabulary.data[0]],))
        value = self.build(node, depth)
        if isinstance(value, Density) and value.variables and all(v in latents for v in value.variables):
            return value
        if not isinstance(value, Density) and self.derived(node, value):
            return value
        raise self.fail(node, "expected a distribution over latent variables, such as q, q(z1 | x), "
                              "q(z1, z2 | x) or p(z2)")

    def call_Sum(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 2)
        if self.vocabulary.dimensions:
            return self.dimension_sum(node, args, depth)
        latents = self.vocabulary.latents
        if isinstance(args[1], ast.Name) and args[1].id not in latents and self.is_draw_name(args[1].id):
            return self.draw_sum(node, args, depth)
        if not (isinstance(args[1], ast.Name) and args[1].id in latents):
            if latents == ("z",):
                raise self.fail(args[1], "Sum(f, z) sums over the latent variable z only")
            raise self.fail(args[1], f"Sum(f, v) sums over a latent variable: {' or '.join(latents)}")
        return LatentSum(self.build(args[0], depth), self.variables[args[1].id])

    def limit(self, node: ast.Call, args: list, depth: int) -> Expr:
        """``limit(f, alpha, 1)`` (alpha a real parameter, the point an integer) or ``limit(f, k, oo)``
        (k a whole-number parameter): the limit within the parameter's domain, bound inside.  Only
        the discrete family's one-layer model has limits; a theorem decides the few it knows
        (rules renyi-limit and iwae-limit), every other limit stays undecided."""
        if self.vocabulary.real or self.vocabulary.layered or self.vocabulary.dimensions:
            raise self.fail(node.func, NO_LIMITS)
        if len(args) != 3:
            raise self.fail(node, f"limit(...) takes the expression, the parameter and the point, as in "
                                  f"limit(f, alpha, 1) or limit(IWAE(q, k), k, oo); got {len(args)} arguments")
        body, variable, point = args
        counts = dict(self.vocabulary.counts)
        if not (isinstance(variable, ast.Name) and variable.id in self.vocabulary.params):
            raise self.fail(variable, "the second argument of limit is a parameter declared in [params], as in "
                                      "alpha = \"in (0, 1)\" or k = \"integer >= 1\"")
        if variable.id in counts:
            if not (isinstance(point, ast.Name) and point.id == "oo"):
                raise self.fail(point, f"'{variable.id}' is a whole number of samples: its limit is at oo, as in "
                                       f"limit(IWAE(q, {variable.id}), {variable.id}, oo)")
            return Limit(self.build(body, depth), Symbol(variable.id, real=True), S.Infinity)
        value = _literal_int(point)
        if value is None:
            raise self.fail(point, "the point of a limit is an integer literal, as in limit(f, alpha, 1)")
        built = self.build(body, depth)
        symbol = Symbol(variable.id, real=True)
        if not built.has(symbol):
            raise self.fail(body, f"the expression does not depend on '{variable.id}': nothing tends to a limit")
        return Limit(built, symbol, Integer(value))

    def is_draw_name(self, name: str) -> bool:
        """A fresh name a Sum may bind as another draw of z: one lowercase letter and at most
        one digit (w, v, w2), declared nowhere and no name of the notation."""
        return bool(re.fullmatch(_DRAW_NAME, name)) and name not in RESERVED and name not in _CALL_EXAMPLES \
            and name not in self.variables and name not in self.vocabulary.params and name not in ("x", "d", "e")

    def draw_sum(self, node: ast.Call, args: list, depth: int) -> Expr:
        """``Sum(f, w)`` over a fresh name w: the sum over another draw of the latent variable
        (issue 17, item 4: IWAE's k draws as bound variables).  Inside f, ``q(w)``, ``p(x, w)``,
        ``p(x | w)``, ``p(w)`` are the model's distributions at the point w."""
        name = args[1].id
        if self.vocabulary.layered or self.vocabulary.real or self.vocabulary.dimensions:
            raise self.fail(args[1], f"Sum(f, {name}) over another draw of z belongs to the one-layer discrete "
                                     f"family (model = \"discrete\"); here a sum runs over "
                                     f"{' or '.join(self.vocabulary.latents)}")
        if name in self.draws:
            raise self.fail(args[1], f"'{name}' is already bound by an enclosing Sum: name each draw once")
        if len(self.draws) + 1 >= MAX_IWAE_SAMPLES:
            raise self.fail(node, f"at most {MAX_IWAE_SAMPLES - 1} draws besides z (IWAE has at most "
                                  f"{MAX_IWAE_SAMPLES} samples)")
        draw = self.draws[name] = Draw(name)
        try:
            body = self.build(args[0], depth)
        finally:
            del self.draws[name]
        if not any(isinstance(d, Density) and draw in d.variables + d.given for d in preorder_traversal(body)):
            raise self.fail(args[0], f"Sum(f, {name}) sums over a draw of z: f must mention it, as in q({name}) "
                                     f"or p(x, {name})")
        return LatentSum(body, draw)

    def density_at_draw(self, name: str, node: ast.Call, args: list) -> Density:
        """A density inside a Sum over draws: built as if each draw were z, then moved to its draw."""
        points = [n.id for a in args for n in ast.walk(a) if isinstance(n, ast.Name)
                  and (n.id in self.draws or n.id in self.vocabulary.latents)]
        if len(points) > 1 and set(points) & set(self.draws):
            raise self.fail(node, f"{name}(...) is at one point of the latent space, z or one draw: "
                                  f"{', '.join(points)} are {len(points)} points")
        self.draw_hits = []
        try:
            d = self.density(name, node, args)
            hits = self.draw_hits
        finally:
            self.draw_hits = None
        if not hits:
            return d
        named = d.variables + d.given
        if len(set(hits)) != 1 or named.count(z) != len(hits):
            example = f"p(x, {hits[0]})" if name == "p" else f"{name}({hits[0]})"
            raise self.fail(node, f"{name}(...) is at one point of the latent space: z or one draw, as in {example}")
        return d.xreplace({z: self.draws[hits[0]]})

    def dimension_sum(self, node: ast.Call, args: list, depth: int) -> Expr:
        """``Sum(f, (d, 1, D))``: the one sum of the Gaussian family with D = "any" (not nested)."""
        bounds = args[1]
        if not (isinstance(bounds, ast.Tuple) and len(bounds.elts) == 3
                and isinstance(bounds.elts[0], ast.Name) and bounds.elts[0].id == "d"
                and _literal_int(bounds.elts[1]) == 1
                and isinstance(bounds.elts[2], ast.Name) and bounds.elts[2].id == "D"):
            raise self.fail(bounds, "with D = \"any\" a sum runs over the dimensions: write Sum(f, (d, 1, D))")
        if self.in_dimension_sum:
            raise self.fail(node, "a sum over the dimensions inside another one: write one Sum(f, (d, 1, D))")
        self.in_dimension_sum = True
        try:
            body = self.build(args[0], depth)
        finally:
            self.in_dimension_sum = False
        if body.has(Density, Expectation, KL, Entropy, ELBO, Normal):
            raise self.fail(args[0], "Sum(f, (d, 1, D)) sums numbers of each dimension (mu_d, sigma_d, w_d), "
                                     "not densities or expectations")
        return DimensionSum(body)

    def call_E(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 2)
        return Expectation(self.distribution(args[0], depth), self.build(args[1], depth))

    def call_KL(self, node: ast.Call, args: list, depth: int) -> Expr:
        if len(args) == 1 and isinstance(args[0], ast.BinOp) and isinstance(args[0].op, ast.BitOr):
            i = self.token_between(("|",), args[0].left, args[0].right)  # KL(q | p)
            if i is not None:
                raise self.scan.bar(i)
        self.arity(node, args, 2)
        return KL(self.distribution(args[0], depth), self.distribution(args[1], depth))

    def call_H(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        return Entropy(self.distribution(args[0], depth))

    def call_ELBO(self, node: ast.Call, args: list, depth: int) -> Expr:
        if len(args) in (2, 3) and self.is_parameter(args[-1]) and (len(args) == 3 or self.vocabulary.single):
            where = args[-1]  # L(q, theta): the joint p(x, z | theta) of a parameterised model
            assert isinstance(where, ast.Name)
            self.refuse_outside_discrete(where, "a model's parameter in ELBO")
            observation = self.vocabulary.variables[self.vocabulary.data[0]] if len(args) == 2 else \
                self.variable(args[1])
            if observation == z:
                raise self.fail(args[1], "the second argument of ELBO is an observation, not z")
            return ELBO(self.distribution(args[0], depth), observation, Index(where.id))
        last = args[-1] if len(args) >= 2 else None
        if isinstance(last, ast.Name) and last.id not in self.variables and last.id not in self.vocabulary.params:
            raise self.fail(last, f"unknown name '{last.id}': ELBO(q, theta) takes a model's parameter declared in "
                                  f"[params] (e.g. {last.id} = \"real\"), or an observation", name=last.id)
        if self.vocabulary.single and len(args) == 1:  # the one observation, whatever its name
            return ELBO(self.distribution(args[0], depth), self.vocabulary.variables[self.vocabulary.data[0]])
        if len(args) != 2:
            example = f"ELBO(q(z | {self.vocabulary.data[0]}), {self.vocabulary.data[0]})"
            raise self.fail(node, f"ELBO(...) takes the distribution and the observation, as in {example}"
                            if not self.vocabulary.single else "ELBO(...) takes 1 argument (or 2: ELBO(q, x))")
        observation = self.variable(args[1])
        if observation == z:
            raise self.fail(args[1], "the second argument of ELBO is an observation, not z")
        return ELBO(self.distribution(args[0], depth), observation)

    def call_IWAE(self, node: ast.Call, args: list, depth: int) -> Expr:
        if self.vocabulary.real:
            raise self.fail(node, "IWAE needs the discrete family (K = 2, 3, ... or \"any\"): the Gaussian family "
                                  "has no IWAE(q, k)")
        several = not self.vocabulary.single
        if len(args) not in ((3,) if several else (2, 3)):
            example = (f"IWAE(q(z | {self.vocabulary.data[0]}), 2, {self.vocabulary.data[0]})" if several
                       else "IWAE(q, 2)")
            raise self.fail(node, f"IWAE(...) takes the distribution, the number of samples k"
                                  f"{' and the observation' if several else ''}, as in {example}")
        samples = args[1]
        count = self.sample_count(samples)
        if count is None and not (isinstance(samples, ast.Constant) and type(samples.value) is int
                                  and 1 <= samples.value <= MAX_IWAE_SAMPLES):
            raise self.fail(samples, f"the number of samples of IWAE is a whole number from 1 to {MAX_IWAE_SAMPLES}"
                                     f"{self.count_hint()}")
        observation = self.vocabulary.variables[self.vocabulary.data[0]]
        if len(args) == 3:
            observation = self.variable(args[2])
            if observation == z:
                raise self.fail(args[2], "the third argument of IWAE is an observation, not z")
        return IWAE(self.distribution(args[0], depth), samples.value if count is None else count, observation)

    def in_parameters(self, node: ast.AST) -> bool:
        """The node is arithmetic of declared (real) parameters and number literals, with one parameter at least."""
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
        allowed = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.expr_context)
        counts = dict(self.vocabulary.counts)
        return bool(names) and all(isinstance(n, allowed) for n in ast.walk(node)) and \
            all(n in self.vocabulary.params and n not in counts for n in names)

    def real_power(self, node: ast.BinOp, depth: int) -> Expr:
        """``b ** a`` with a written in parameters: exp(a * log(b)), b > 0 (RealPower)."""
        exponent = self.build(node.right, depth)
        base = self.build(node.left, depth)
        if base.is_Number and not base.is_positive:
            raise self.fail(node.left, "a power with an exponent in parameters needs a positive base")
        if base.has(exp):
            raise self.fail(node, "exp inside a power with a parameter exponent is not allowed")
        return RealPower(base, exponent)

    def sample_count(self, node: ast.AST) -> Expr | None:
        """``k``, ``k + n``, ``n + k`` or ``k - n`` for a whole-number parameter k (n a literal) that
        is >= 1 for every allowed k; None when the node is not of that shape."""
        counts = dict(self.vocabulary.counts)
        name, shift = None, 0
        if isinstance(node, ast.Name) and node.id in counts:
            name = node.id
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            left, right = node.left, node.right
            after, before = _literal_int(right), _literal_int(left)
            if isinstance(left, ast.Name) and left.id in counts and after is not None:
                name, shift = left.id, after * (1 if isinstance(node.op, ast.Add) else -1)
            elif isinstance(node.op, ast.Add) and isinstance(right, ast.Name) and right.id in counts \
                    and before is not None:
                name, shift = right.id, before
        if name is None:
            return None
        if abs(shift) > MAX_IWAE_SAMPLES:
            raise self.fail(node, f"the shift of the number of samples is at most {MAX_IWAE_SAMPLES}")
        if counts[name] + shift < 1:
            raise self.fail(node, f"the number of samples must be >= 1 for every {name} >= {counts[name]}: "
                                  f"{name} = {counts[name]} gives {counts[name] + shift}")
        return Add(Symbol(name, real=True), Integer(shift))

    def count_hint(self) -> str:
        if self.vocabulary.counts:
            names = ", ".join(name for name, _ in self.vocabulary.counts)
            return f", or {names} (+ or - a whole number)"
        return " (for every k: declare k = \"integer >= 1\" in [params] and write IWAE(q, k))"

    def call_log(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        argument = self.build(args[0], depth)
        value = _rational_value(argument)
        if value is not None and not value.is_positive:
            # log(-3/10) and log(-1*(3/10)) alike (the printer writes the tree -1*(3/10) so), log(1 - 1):
            # a number that is not positive has no log, whatever way the file writes it
            raise self.fail(args[0], "log of a non-positive number")
        return log(argument, evaluate=False)

    def call_exp(self, node: ast.Call, args: list, depth: int) -> Expr:
        self.arity(node, args, 1)
        argument = self.build(args[0], depth)
        if argument.has(exp):
            # exp(exp(10**6)) has a 434,294-digit exponent: no budget can evaluate it.
            raise self.fail(node, "exp inside exp is not allowed (the values would be astronomically large)")
        return Exp(argument, evaluate=False)


_Signature = tuple[tuple[str, ...], tuple[str, ...]]
"""A density's shape: (variables, given), each spelled "x" or "z"."""

_ALLOWED_DENSITIES: dict[str, list[_Signature]] = {
    "p": [(("x",), ()), (("z",), ()), (("x", "z"), ()), (("z", "x"), ()),
          (("x",), ("z",)), (("z",), ("x",))],
    "q": [(("z",), ()), (("z",), ("x",))],
    "r": [(("z",), ()), (("z",), ("x",))],
    "q_star": [(("z",), ()), (("z",), ("x",))],
}
_INDEXED_DENSITIES: list[_Signature] = [(("x",), ()), (("z",), ()), (("x", "z"), ()), (("z", "x"), ()),
                                        (("x",), ("z",)), (("z",), ("x",))]
"""The model's densities that may name a parameter: p(x | theta), p(z | theta), p(x, z | theta),
p(x | z; theta), p(z | x; theta)."""


def _signature_text(signature: _Signature) -> str:
    variables, given = signature
    text = ", ".join(variables)
    return text + (" | " + ", ".join(given) if given else "")


def _mixture_weights(value: Expr, variables: tuple) -> list | None:
    """The number weights of a mixture of the model's distributions over `variables` (each term
    a number times q(z | x1), p(z), p(z | x), ...), or None when `value` is not such a mixture
    (parameter weights, products, softmax: the checker's obligation decides those)."""
    from sympy import expand

    weights = []
    for term in Add.make_args(expand(value)):
        coefficient, rest = term.as_coeff_Mul()
        if not (isinstance(rest, Density) and rest.variables == variables and rest.name in _DENSITY_NAMES
                and all(g not in variables for g in rest.given)):
            return None
        weights.append(coefficient)
    return weights if len(weights) > 1 else None


def _literal_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal_int(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _degree(e: Expr, memo: dict[Expr, int]) -> int:
    """An upper bound on the polynomial degree expansion could produce (logs count as atoms).

    `memo`: the degrees found so far (the builder asks at every node, bottom up: without it each
    node's subtree would be walked again at every level above it)."""
    known = memo.get(e)
    if known is None:
        if e.is_Add:
            known = max(_degree(a, memo) for a in e.args)
        elif e.is_Mul:
            known = sum(_degree(a, memo) for a in e.args)
        elif e.is_Pow:
            known = _degree(e.base, memo) * abs(int(e.exp))
        elif e.is_Number:
            known = 0
        else:
            known = 1
        memo[e] = known
    return known


def _rational_value(e: Expr) -> Rational | None:
    """The exact value of `e` when it is written in numbers alone (+, -, *, / and whole-number
    powers: -1*(3/10), 1 - 2, (1/2)**3), else None (a name, a density, a log or exp of a number).
    The parser has refused every division by zero and bounded every power (`_number_bits`)."""
    if e.is_Rational:
        return e
    if e.is_Add or e.is_Mul or (e.is_Pow and e.exp.is_Integer):
        found = [_rational_value(a) for a in e.args]
        values = [v for v in found if v is not None]
        if len(values) < len(found):
            return None
        if e.is_Pow:
            base, exponent = values
            return None if base == 0 and exponent < 0 else base ** exponent
        return Add(*values) if e.is_Add else Mul(*values)
    return None


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

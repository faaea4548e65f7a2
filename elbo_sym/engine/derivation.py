"""Derivation files (TOML) -> frozen dataclasses, with file:line kept for every error.

The file format is a contract (DESIGN.md).  Everything read from a file is untrusted:
expressions go through :mod:`elbo_sym.engine.parse`, unknown keys are refused, and every error
names the file, the line and the step.
"""

from __future__ import annotations

import datetime
import json
import keyword
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sympy import Expr

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded
from elbo_sym.engine.models import Instance, Interval, Model, ModelSpec, Parameter, UnfoldError, build, families
from elbo_sym.engine.models.base import (
    DATA_BLOCK,
    PARAMETER,
    BlockValueError,
    indexed_likelihood_block,
    likelihood_block,
    likelihood_column_block,
    prior_block,
    q_block,
    remembered,
    variational_block,
)
from elbo_sym.engine.models.discrete import free_latents, observation_of
from elbo_sym.engine.notation import (
    DATA_DENSITY,
    ELBO,
    IWAE,
    KL,
    Density,
    Entropy,
    Expectation,
    Index,
    LatentSum,
    Normal,
    z,
)
from elbo_sym.engine.parse import CONSTANT_NAMES, RESERVED, ParseError, Vocabulary, parse_expression
from elbo_sym.engine.premises import PREMISE_FAMILIES
from elbo_sym.engine.rules import RULES
from elbo_sym.failures import reraise_callers
from elbo_sym.files import (  # noqa: F401  (discover: re-exported)
    PROJECT_KEYS,
    WHOLE_FILE,
    FileReadError,
    InputError,
    discover,
    location,
    read_regular_file,
)
from elbo_sym.limits import (
    MAX_CHAIN_LAYERS,
    MAX_EXAMPLES,
    MAX_EXPECT,
    MAX_FILE_BYTES,
    MAX_INTEGER_BOUND,
    MAX_K,
    MAX_K_TIMES_STEPS,
    MAX_PREMISES,
    MAX_SHOWN_VALUE_CHARS,
    MAX_STEPS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    MAX_WHY_CHARS,
    PARAMETER_NAME_RULE,
)
from elbo_sym.numbers.exact import EXACT_NUMBER
from elbo_sym.prose import ProseError, check_prose, inline, source_pointer, split_math, worded_relations

RELATIONS = ("=", "<=", ">=", "<", ">")
ANY_K = "any"
"""`K = "any"`: the derivation is proved for every latent space."""
# MAX_FILE_BYTES, MAX_K, MAX_STEPS are defined in elbo_sym.limits (imported above, and
# still importable from here).


class DerivationError(InputError):
    """Bad input: says where (file, line, column, step) and what is wrong.

    An ordinary exception class (not a frozen dataclass: Python sets ``__traceback__`` on
    exceptions it re-raises, e.g. through a context manager)."""

    def __init__(self, path: str, line: int, message: str, step: int | None = None, column: int | None = None,
                 source: str | None = None):
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message
        self.step, self.column, self.source = step, column, source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DerivationError) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.path, self.line, self.message, self.step, self.column, self.source)

    def __repr__(self) -> str:
        return f"DerivationError({str(self)!r})"

    def __str__(self) -> str:
        step = f" step {self.step}:" if self.step is not None else ""
        return f"{location(self.path, self.line, self.column)}:{step} {self.message}"

    def pointer(self) -> str:
        """The offending source line with a caret under the column (for terminals).

        At most POINTER_CONTEXT_CHARS characters around the column are shown ("..." marks
        the cut), control and formatting characters escaped.
        """
        if self.source is None or self.column is None:
            return ""
        return source_pointer(self.source, self.column)


@dataclass(frozen=True)
class Formula:
    """A parsed expression with the text it came from and where it sits in the file."""

    expr: Expr
    text: str
    line: int


@dataclass(frozen=True)
class ProseRelation:
    """A relation the prose states in words between two of its formulas, ``$A$ is $B$``
    (elbo_sym.prose.worded_relations): no step checks it, so `check` warns unless the checker proves
    it (elbo_sym.engine.prose_check) -- the loader's warning channel, read at its line and column."""

    lhs: Expr
    rel: str
    rhs: Expr
    text: str
    """As the prose says it: "$p(x, z) / p(x)$ is $p(z | x)$"."""
    what: str
    """The field: "summary", "why" (of a step: `step`)."""
    line: int
    column: int | None
    """1-based, as file:line:column prints it; None when the value's place in the line is unknown."""
    step: int | None = None


@dataclass(frozen=True)
class Relation:
    """`lhs rel rhs`: a claim or an assumption."""

    lhs: Formula
    rel: str
    rhs: Formula


@dataclass(frozen=True)
class Step:
    """One ``[[step]]`` of a file: relation, expression, rule and prose, with its line."""

    index: int
    line: int
    rel: str
    formula: Formula
    rule: str
    why: str
    accept: str | None = None
    """``"checked"``: the author accepts that this step is only checked on instances, not proved."""
    repair: Formula | None = None
    """A teaching file's intended correction of this (deliberately wrong) step: the expression
    the step should have; checked by elbo_sym.engine.repair and printed in the solution."""

    @property
    def expr(self) -> Expr:
        return self.formula.expr


@dataclass(frozen=True)
class Example:
    """An exact instance (prior, likelihoods, q unless an assumption fixes it, parameters)
    with the values the author states for it."""

    index: int
    line: int
    instance: Instance
    expect: tuple[Relation, ...] = ()
    filled: frozenset[str] = frozenset()
    """The blocks the loader gave a value the author did not (a Gaussian's z = 0, a fixed q's mu and
    sigma, a diagonal decoder's defaults): the report lists them only where a value depends on them."""

    @property
    def K(self) -> int:
        """Latent states of the example (1 in a family without a prior vector: real z)."""
        prior = self.instance.get("prior")
        if prior is None:  # a parameterised model: a prior per parameter, prior[theta]
            prior = next((values for name, values in self.instance.blocks if name.startswith("prior[")), None)
        return len(prior) if prior is not None else 1

    # the one-observation names the lesson's handouts use; with several observations there is
    # no "the" likelihood or q: read the instance's block of the observation you mean
    @property
    def prior(self) -> tuple[Fraction, ...]:
        return self.instance.prior

    @property
    def likelihood(self) -> tuple[Fraction, ...]:
        return self.instance[self._only("likelihood")]

    @property
    def q(self) -> tuple[Fraction, ...] | None:
        names = [name for name, _ in self.instance.blocks if name == "q" or name.startswith("q[")]
        return self.instance[self._only("q")] if names else None

    def _only(self, stem: str) -> str:
        names = [name for name, _ in self.instance.blocks if name == stem or name.startswith(stem + "[")]
        if len(names) != 1:
            raise ValueError(f"the example has {len(names)} {stem} blocks: read the one of an observation")
        return names[0]


@dataclass(frozen=True)
class Derivation:
    """A derivation file as loaded: every formula parsed, every name declared, every line known."""

    path: str
    title: str
    summary: str
    K: int | str
    """Latent states, or "any": one proof for every latent space (elbo_sym.engine.models.general)."""
    start: Formula
    steps: tuple[Step, ...]
    claim: Relation | None = None
    assumptions: tuple[Relation, ...] = ()
    examples: tuple[Example, ...] = ()
    family: str = "discrete"
    data: tuple[str, ...] = ("x",)
    params: tuple[Parameter, ...] = ()
    expect: str = "proved"
    """"proved", or "refuted": a teaching file ("find the mistake") whose mistakes must be refuted."""
    expect_refuted: tuple[int, ...] = ()
    """The steps a teaching file gets wrong on purpose (empty: any refuted step is the mistake)."""
    latents: tuple[str, ...] = ("z",)
    """The latent variables: ("z",), or ("z1", "z2") for two layers (``latents = ["z1", "z2"]``)."""
    D: int | str = 1
    """Dimensions of the Gaussian family's real latent z (``D = 3``: a diagonal Gaussian; ``D = "any"``:
    one proof for every number of dimensions, sums written ``Sum(f, (d, 1, D))``)."""
    premises: tuple[Relation, ...] = ()
    """The `assume` entries that are no q definition: relations (<=, >=, <, >, !=) that restrict
    the domain; every step is proved on the models satisfying all of them."""
    data_weights: bool = False
    """An expression of the file uses the data distribution ``p_data(x1)`` (see :func:`uses_data_weights`)."""
    data_space: bool = False
    """``data_space = ["x1", "x2"]``: the observations are all the values of x, so p(x | z) is normalised."""
    variationals: tuple[str, ...] = ()
    """Variational distributions beside q the file uses: "r", "q_star" (free, like q)."""
    indices: tuple[str, ...] = ()
    """[params] that index the model (p(x | z; theta)): no values, a model per parameter."""
    prose_math: tuple[tuple[str, Expr | tuple[Expr, str, Expr]], ...] = ()
    """The ``$...$`` formulas of its prose (title, summary, each step's why), parsed once at load:
    (formula text, expression) pairs, read by the renderers (elbo_sym.report.build.prose_parts)."""
    title_line: int = 0
    """The line of its ``title`` (0: unknown): a handout that cannot set the title names it (red team rt31)."""
    prose_relations: tuple[ProseRelation, ...] = ()
    """Relations its prose states in words (``$A$ is $B$``), for `check`'s warnings (elbo_sym.engine.prose_check)."""

    @property
    def spec(self) -> ModelSpec:
        layered = self.latents != ("z",)
        layers = len(self.latents) if self.family == "chain" or layered else 2
        params = tuple(p for p in self.params if p.name not in self.indices)  # an index has no value
        return ModelSpec(self.family, self.K, self.data, params, self.assumptions, self.D,
                         premises=self.premises, layers=layers, layered=layered, data_weights=self.data_weights,
                         data_space=self.data_space, variationals=self.variationals, indices=self.indices)

    @property
    def vocabulary(self) -> Vocabulary:
        """The names the file's expressions use (as its loader read them)."""
        return vocabulary_of(self.family, self.data, self.params, self.latents, self.D)

    def model(self) -> Model:
        """The model the steps are checked in (from the registry; q fixed by the assumptions).

        Shared between loading, checking and repair, so its unfolding cache is reused.
        """
        return _model(self.spec)

    @property
    def name(self) -> str:
        return Path(self.path).stem


def vocabulary_of(family: str, data: tuple[str, ...], params: tuple[Parameter, ...], latents: tuple[str, ...],
                  D: int | str = 1) -> Vocabulary:
    """The names a file's expressions may use: its observations, latents and [params] -- and
    in the Gaussian family its built-in parameters, with x and z real numbers."""
    names = tuple(p.name for p in params)
    if family == "gaussian" and latents != ("z",):  # Gaussian layers (elbo_sym.engine.models.gaussian_chain)
        from elbo_sym.engine.models.gaussian_chain import chain_names

        return Vocabulary(data, chain_names(len(latents)) + names, latents, real=True)
    if family == "gaussian":
        from elbo_sym.engine.models.gaussian import builtin_names

        return Vocabulary(data, builtin_names(D) + names, ("z",), real=True, dimensions=D == ANY_K)
    counts = tuple((p.name, int(p.interval.lower)) for p in params
                   if p.interval.integer and p.interval.lower is not None)
    return Vocabulary(data, names, latents, counts=counts)


def uses_data_weights(expressions, atoms_of: Callable[[Expr], set] = lambda e: e.atoms(Density)) -> bool:
    """Whether any expression mentions the data distribution ``p_data(x1)``: then the model has
    its block (a simplex over the observations) and every example gives ``p_data = [...]``.
    `atoms_of(e)`: e's densities (and maybe other atoms), e.g. from a walk the caller made already."""
    return any(isinstance(d, Density) and d.name == DATA_DENSITY for e in expressions for d in atoms_of(e))


@lru_cache(maxsize=64)
def _model(spec: ModelSpec) -> Model:
    return build(spec)


_TOP_KEYS = {"title", "summary", "model", "K", "data", "params", "claim", "start", "assume", "step", "example",
             "expect", "expect_refuted", "latents", "D", "data_space"}
LAYERED = ("z1", "z2")
"""`latents = ["z1", "z2"]`: the two-layer chain (elbo_sym.engine.models.chain)."""
MAX_CHAIN_K = 10
"""States per layer of the two-layer chain (its sums run over K**2 assignments)."""
_STEP_KEYS = {"rel", "expr", "rule", "why", "accept", "repair"}
_PROJECT_ONLY_KEYS = frozenset(PROJECT_KEYS) - _TOP_KEYS
"""Keys of a course's elbo-sym.toml that no derivation has: a file with one was given to check or
explain by mistake."""
_EXAMPLE_KEYS = {"prior", "likelihood", "q", "r", "q_star", "params", "expect", "p_data"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,19}")
TABLE_PREFIXES = ("pi_", "qstar_")
"""Beginnings of the models' own table symbols (pi_z, pi_0: the prior; qstar_z, qstar_0: q_star's table): no
parameter's name starts with one."""
_INDEXED_NAME = re.compile(rf"(?!{'|'.join(TABLE_PREFIXES)})[A-Za-z]{{2,12}}[0-9]{{0,3}}_[A-Za-z][A-Za-z0-9]{{0,9}}")
"""A parameter's name with one `_` (theta_old, theta_new): a word of two or more letters before it
and a letter after it, so it never looks like an internal table symbol (pi_0, l_x1_0, pi_z)."""
MAX_OBSERVATIONS = 8
MAX_NUMBER_CHARS = 19
"""Longest exact number in an example (3/4, 0.25): numerators and denominators stay small."""
_INTEGER_CONDITION = re.compile(r"\s*integer\s*>=\s*(\S+)\s*")
_CONDITION = re.compile(r"\s*(>=|<=|>|<)\s*(\S+)\s*|\s*in\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*")


_Read = TypeVar("_Read")


def load(path: str | Path, budget: float | None = None) -> Derivation:
    """Read and validate one derivation file (within `budget` seconds: see :func:`loads`)."""
    path = Path(path)
    return loads(read_user_file(path), str(path), budget)


def read_user_file(path: str | Path, patience: float | None = None) -> bytes:
    """A derivation or deck file's bytes (regular files only, size limit enforced while
    reading, within `patience` seconds: files.read_regular_file); DerivationError naming the file otherwise."""
    try:
        return read_regular_file(path, MAX_FILE_BYTES, patience)
    except FileReadError as error:
        if error.too_large:
            raise DerivationError(error.path, 1, error.reason) from None
        # error.path: the name as shown (a control character escaped)
        raise DerivationError(error.path, WHOLE_FILE, f"cannot read file: {error.reason}") from None


def loads(raw: bytes | str, path: str = "<string>", budget: float | None = None) -> Derivation:
    """Read and validate one derivation from its text.  `budget` (seconds, None: no limit of its
    own) bounds the reading: parsing a large file's formulas is work a file can ask for, so a
    file not read in time is a DerivationError naming it, as bad input is."""
    return read_within(path, budget, lambda: _read(raw, path))


def read_within(path: str, budget: float | None, read: Callable[[], _Read]) -> _Read:
    """`read()` -- reading the derivation or deck `path` -- within `budget` seconds (None: no limit
    of its own).  A file not read in time is bad input: a DerivationError naming it (line 0), the
    one error line every command prints for a file it cannot read."""
    if budget is None:
        return read()
    try:
        with budgets.limit(budget, budgets.exhausted_text("file", budget)):
            return read()
    except BudgetExceeded as exhausted:  # (or an enclosing budget's, with its own words)
        from sympy.core.cache import clear_cache  # an interrupted SymPy call can leave it half-filled

        clear_cache()
        raise DerivationError(path, WHOLE_FILE, f"{exhausted} while reading the file (its formulas take too long to "
                                       f"parse: split it, or give it a larger budget)") from None


def _read(raw: bytes | str, path: str) -> Derivation:
    text, data = read_toml(raw, path)
    return _Reader(path, text).derivation(data)


def read_toml(raw: bytes | str, path: str = "<string>") -> tuple[str, dict]:
    """The text and the TOML table of a file the user wrote (derivation, deck, project):
    UTF-8 (a BOM tolerated), size-limited, accents composed (NFC); DerivationError naming
    file:line(:column) else.  Text given as a str (the browser's checker, the Python API) is read as
    its UTF-8 bytes, so the limit and the BOM are the same as for a file (red team rt7)."""
    if isinstance(raw, str):
        given = raw
        try:
            raw = given.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: no file can hold it
            line = given[: error.start].count("\n") + 1
            raise DerivationError(path, line, f"not UTF-8 text (U+{ord(given[error.start]):04X})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise DerivationError(path, 1, f"file is {len(raw)} bytes, larger than the limit of {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DerivationError(path, line, f"not UTF-8 text (byte 0x{raw[error.start]:02x})") from None
    # composed accents (NFC): an editor or export that writes e + U+0301 means the same "é" the prose check accepts
    text = unicodedata.normalize("NFC", text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)(?:, column (\d+))?", str(error))
        line = int(match.group(1)) if match else 1
        column = int(match.group(2)) - 1 if match and match.group(2) else None
        if match is None and str(error).endswith("(at end of document)"):  # e.g. a string never closed:
            kept = text.rstrip("\r\n")  # the end of its last line that is not empty (red team rt25: no column)
            line, column = kept.count("\n") + 1, len(kept) - kept.rfind("\n") - 1
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(error))
        lines = toml_lines(text)
        source = lines[line - 1] if 0 < line <= len(lines) else None
        column = column if source is not None else None
        single = _single_bracket_header(lines, source)
        if single is not None:  # [step] then [[step]] (or the other way round): say which to fix
            at, name = single
            raise DerivationError(path, at, single_table_message(name), None, lines[at - 1].index("["),
                                  lines[at - 1]) from None
        raise DerivationError(path, line, f"malformed TOML: {message}", None, column, source) from None
    except RecursionError:  # tomllib recurses per nested array / inline table: [[[[...]]]]
        raise DerivationError(path, 1, "malformed TOML: arrays or tables nested too deeply") from None
    return text, data


def toml_lines(text: str) -> list[str]:
    """The text's lines as TOML numbers them (and tomllib's errors count them): broken at "\\n" only,
    a "\\r" before it part of the break.  str.splitlines also breaks at U+2028, U+2029 and U+0085,
    which TOML allows in strings and comments (every later line would be misnumbered), and at \\x0b,
    \\x0c, \\x1c-\\x1e, which it refuses there (the error at one showed its line cut short there)."""
    lines = text.split("\n")
    if lines[-1] == "":  # no empty line after a final newline (as splitlines)
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


@lru_cache(maxsize=1024)
def _sets_key(key: str) -> re.Pattern[str]:
    """A line that sets `key`: ``key = ...``, or a TOML dotted key under it (``key.expr = ...``, which
    makes `key` a table), so that an error about the key names its own line, not its table's header."""
    return re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*[=.]")


def _dotted_key(key: str, part: str) -> re.Pattern[str]:
    """A line that sets `part` of the table `key` by a TOML dotted key: ``likelihood.x2 = [...]``,
    ``params."beta" = "2"`` (red team rt53 class 3: its errors named the table's first line)."""
    return re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*\.\s*[\"']?{re.escape(part)}[\"']?\s*=")


def dotted_header(key: str, table: str | None = None) -> re.Pattern[str]:
    """A table header line that names `key` as a part of a dotted name: ``[key.sub]`` or ``[[key.sub]]``
    for a top-level key, ``[table.key]`` or ``[table.key.sub]`` for a key of `table` (rt41 F9: such a
    header's typo was reported at the file's first line, or at the table's)."""
    before = rf"\s*[\"']?{re.escape(table)}[\"']?\s*\." if table is not None else ""
    return re.compile(rf"\s*\[\[?{before}\s*[\"']?{re.escape(key)}[\"']?\s*[\].]")


def key_column(source: str, key: str, value: bool = False) -> int:
    """The column of `key` on the line `source` (of the value after its `=` when `value`: a string's
    first character), a top-level key, one of an inline table (``prior = { theta_new = [...] }``),
    a dotted key's part or a later part of a table header's dotted name (``[example.expected]``); the
    line's first character when `key` is "" or not written there (``[site]``, ``[foo.bar]``: the
    header).  Every TOML file the user writes (derivation, deck, elbo-sym.toml) names file:line:col
    with it."""
    match = re.search(rf"(?<![\w.\"'])[\"']?{re.escape(key)}[\"']?\s*=\s*", source) if key else None
    if match is None and key and source.lstrip().startswith("["):
        part = re.search(rf"(?<=\.)\s*[\"']?({re.escape(key)})[\"']?\s*[\].]", source)  # [a.key]; [key.b] at "["
        if part is not None:
            return part.start(1) - (1 if source[part.start(1) - 1] in "\"'" else 0)
    if match is None and key and not source.lstrip().startswith("["):  # a dotted key's last part: a.key = ...
        match = re.search(rf"(?<=\.)\s*[\"']?{re.escape(key)}[\"']?\s*=\s*", source)
        if match is not None and not value:
            return match.start() + len(match.group()) - len(match.group().lstrip())
    if match is None:
        return len(source) - len(source.lstrip())
    column = match.end() if value else match.start()
    if value and source[column:column + 1] in "\"'" and column + 1 < len(source):
        column += 1  # a string value: the caret under its first character
    return min(column, len(source))


def list_element(lines: list[str], line: int, column: int, position: int) -> tuple[int, int] | None:
    """Where element `position` (0-based) of the TOML array that opens at `line`:`column` (1-based line,
    0-based column, as key_column gives a value's) starts: its line and column -- a string's first character
    inside its quotes, as key_column places a string value's caret.  The array may run over several lines
    and hold comments; None when no array opens there or it has fewer elements."""
    if not 0 < line <= len(lines):
        return None
    if column > 0 and lines[line - 1][column - 1] in "\"'":
        column -= 1  # key_column steps inside a string value; an array is never one
    if lines[line - 1][column:column + 1] != "[":
        return None
    depth, element, seeking, quote = 0, 0, False, ""
    for number in range(line, len(lines) + 1):
        text = lines[number - 1]
        escaped = False
        for col in range(column if number == line else 0, len(text)):
            char = text[col]
            if quote:  # inside a string: only its end (an escaped quote is not one) matters
                if escaped:
                    escaped = False
                elif char == "\\" and quote == '"':
                    escaped = True
                elif char == quote:
                    quote = ""
                continue
            if char == "#":
                break  # a comment, to the end of the line
            if seeking and not char.isspace() and char not in "],":
                if element == position:
                    return number, col + (1 if char in "\"'" else 0)
                seeking = False
            if char in "\"'":
                quote = char
            elif char in "[{":
                depth += 1
                seeking = seeking or depth == 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return None
            elif char == "," and depth == 1:
                element, seeking = element + 1, True
    return None


_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z_]\w*)\s*\]")


def _single_bracket_header(lines: list[str], source: str | None) -> tuple[int, str] | None:
    """When TOML refused a table header (`source`) because the same name also has a header of
    the other kind, the line of its `[name]` header and the name; None otherwise."""
    match = _HEADER.match(source or "")
    if match is None:
        return None
    name = match.group(2)
    kinds: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        found = _HEADER.match(text)
        if found is not None and found.group(2) == name:
            kinds.setdefault(found.group(1), number)
    return (kinds["["], name) if len(kinds) == 2 else None


def single_table_message(name: str) -> str:
    return f"[{name}] must be written [[{name}]] (double brackets: each [[{name}]] adds one {name})"


class _Reader:
    """Turns the TOML dict into dataclasses, finding lines by scanning the text."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.lines = toml_lines(text)
        self.tables = self._table_headers()
        self.starts = sorted(n for numbers in self.tables.values() for n in numbers)
        """The first line of every [[table]], in order (where the top level and each table end)."""
        self.vocabulary = Vocabulary()
        self.prose_math: dict[str, Expr | tuple[Expr, str, Expr]] = {}
        """Every prose formula read so far, parsed (:attr:`Derivation.prose_math`)."""
        self.prose_relations: list[ProseRelation] = []
        """Every relation in words between two prose formulas read so far (:attr:`Derivation.prose_relations`)."""
        self.parsed: dict[tuple[str, Vocabulary], Expr] = {}
        """Each formula text of this file parsed once: a claim repeats the start and the last step,
        a file its `log(p(x))` (parse_expression is a pure function of text and vocabulary; a
        ParseError is raised, never remembered)."""
        self.atoms: dict[Expr, set] = {}
        """names_in's answers."""

    # -- positions ------------------------------------------------------------------

    def _table_headers(self) -> dict[str, list[int]]:
        headers: dict[str, list[int]] = {}
        for number, line in enumerate(self.lines, 1):
            match = re.match(r"\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
            if match:
                headers.setdefault(match.group(1), []).append(number)
        return headers

    def _table_span(self, table: str | None, index: int) -> tuple[int, int]:
        """Lines [first, last] of the index-th [[table]] (or the top level when table is None)."""
        starts = self.starts
        if table is None:
            return 1, (starts[0] - 1 if starts else len(self.lines))
        numbers = self.tables.get(table, [])
        if index >= len(numbers):
            return 1, len(self.lines)
        first = numbers[index]
        later = [n for n in starts if n > first]
        return first, (later[0] - 1 if later else len(self.lines))

    def line_of(self, key: str, table: str | None = None, index: int = 0) -> int:
        """The line that sets `key` in the index-th [[table]] (the top level when None): ``key =``, a
        dotted ``key.sub =``, or a header naming it, ``[table.key]`` (a sub-table of that [[table]],
        whose span it lies in) or ``[key.sub]`` at the top level; the table's first line otherwise."""
        first, last = self._table_span(table, index)
        sets_key = _sets_key(key)
        for number in range(first, last + 1):
            if sets_key.match(self.lines[number - 1]):
                return number
        header = dotted_header(key, table)
        span = range(first, last + 1) if table is not None else range(1, len(self.lines) + 1)
        return next((number for number in span if header.match(self.lines[number - 1])), first)

    def _top_line(self, key: str) -> int:
        """The line of a top-level `key`: its ``[key]`` / ``[[key]]`` header when it is a table
        (rt32: an unknown [extra] was reported at 1:1; rt41: nor ``[extra.x]``), else the line
        that sets it."""
        header = re.compile(rf"\s*\[\[?\s*[\"']?{re.escape(key)}[\"']?\s*[\].]")
        for number, text in enumerate(self.lines, 1):
            if header.match(text):
                return number
        return self.line_of(key)

    def error(self, line: int, message: str, step: int | None = None) -> DerivationError:
        """Every error names file:line:column and shows the line with a caret (README): at the
        line's first character where no caller points at a key or its value (:meth:`_key_at`) --
        an unknown key, a missing ``expr`` at its [[step]] header (rt26: file:line only)."""
        if not 0 < line <= len(self.lines):
            return DerivationError(self.path, line, message, step)
        return self._key_at(line, "", message, step)

    def prose(self, value, limit: int, what: str, line: int, step: int | None = None,
              paragraphs: bool = False, claims: bool = False) -> str:
        """A prose field (title, summary, why) as text that LaTeX and a terminal can print
        (elbo_sym.prose), its ``$...$`` formulas parsed with the file's vocabulary; blank
        lines kept as paragraph breaks only where `paragraphs`; `claims` (a card's text):
        ``$a <= b$`` is a claim (parsed here, checked by the deck's check); DerivationError
        at file:line(:column) otherwise."""
        if not isinstance(value, str):
            raise self._key_at(line, what, f"{what} must be a string", step, value=True)
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        try:
            text = check_prose(value, limit, what, claims)
            spans = split_math(value, claims)
            for span in spans:
                if span.kind == "math":
                    try:
                        if claims and split_relation(span.text) is not None:
                            self.prose_math[span.text] = prose_claim(span.text, self.vocabulary)
                        else:
                            self.prose_math[span.text] = prose_formula(span.text, self.vocabulary)
                    except ParseError as error:
                        raise ProseError(f"{what}: formula ${span.text}$: {error.message}",
                                         span.position + (error.column or 0)) from None
        except ProseError as error:
            at, column, source = (self._value_at(line, value, error.position) if error.position is not None
                                  else (line, None, None))
            raise DerivationError(self.path, at, error.message, step, column, source) from None
        if not claims:
            self.worded(value, spans, what, line, step)
        return text if paragraphs else inline(text)

    def worded(self, value: str, spans, what: str, line: int, step: int | None) -> None:
        """Remember each relation the prose states in words between two of its formulas (both parsed
        above, neither a claim): `check` warns about those no step checks."""
        for found in worded_relations(spans):
            lhs, rhs = self.prose_math.get(found.left), self.prose_math.get(found.right)
            if not isinstance(lhs, Expr) or not isinstance(rhs, Expr):
                continue
            at, column, _ = self._value_at(line, value, found.position)
            self.prose_relations.append(ProseRelation(
                lhs, found.rel, rhs, f"${found.left}$ {found.words} ${found.right}$", what, at,
                column + 1 if column is not None else None, step))

    # -- parsing --------------------------------------------------------------------

    def formula(self, value, line: int, what: str, step: int | None = None) -> Formula:
        if not isinstance(value, str):
            raise self._key_at(line, what, f"{what} must be a string expression", step, value=True)
        budgets.checkpoint()  # the reading's budget, also where no alarm can interrupt (the browser)
        try:
            vocabulary = self.vocabulary
            expr = remembered(self.parsed, (value, vocabulary), lambda: parse_expression(value, vocabulary))
        except ParseError as error:
            at, column, source = self._value_at(line, value, error.column)
            detail = f" at '{error.token}'" if error.token and f"'{error.token}'" not in error.message \
                and f"`{error.token}`" not in error.message else ""
            raise DerivationError(self.path, at, f"{what}: {error.message}{detail}", step, column, source) \
                from None
        return Formula(expr, value, line)

    def relation(self, value, line: int, what: str) -> Relation:
        if not isinstance(value, str):
            raise self._key_at(line, what, f"{what} must be a string like \"a >= b\"", value=True)
        parts = split_relation(value)
        misspelt = misspelt_relation(value) if parts is None else None
        if misspelt is not None:
            raise self._at(line, value, misspelt[0], f"{what}: {misspelt[1]}")
        if parts is None:
            raise self._key_at(line, what, f"{what} needs exactly one relation (=, <=, >=, <, >): {value!r}",
                               value=True)
        left, rel, right = parts
        return Relation(self.formula(left, line, what), rel, self.formula(right, line, what))

    def _params_header(self) -> int | None:
        """The line of the `[params]` header; None when there is none (`params = { ... }` inline)."""
        return next((n for n, line in enumerate(self.lines, 1) if re.match(r"\s*\[\s*params\s*\]", line)), None)

    def param_line(self, name: str) -> int:
        """The line of the entry `name = ...` of [params] wherever the table is written (after the
        [[step]] tables too: rt3 F4); the table's line when the entry is not found there."""
        header = self._params_header()
        if header is None:
            return self.line_of("params")
        sets_name = re.compile(rf"\s*[\"']?{re.escape(name)}[\"']?\s*=")
        for number in range(header + 1, len(self.lines) + 1):
            text = self.lines[number - 1]
            if text.lstrip().startswith("["):
                break
            if sets_name.match(text):
                return number
        return header

    def misplaced(self, data: dict) -> None:
        """A top-level key written after a table header belongs to that table in TOML (`start`
        after [params] is a parameter named start): say so, before anything reports it missing."""
        params_header = self._params_header() or 1
        tables: list[tuple[str, object, set[str], int]] = [("[params]", data.get("params"), set(), params_header)]
        for name, allowed in (("step", _STEP_KEYS), ("example", _EXAMPLE_KEYS)):
            entries = data.get(name)
            for i, table in enumerate(entries if isinstance(entries, list) else ()):
                header = self._table_span(name, i)[0]
                tables.append((f"[[{name}]] number {i + 1}", table, allowed, header))
                expect = table.get("expect") if isinstance(table, dict) and name == "example" else None
                tables.append((f"[example.expect] of example {i + 1}", expect, set(), header))
        for where, table, allowed, header in tables:
            if not isinstance(table, dict):
                continue
            for key, value in table.items():
                if key not in _TOP_KEYS or key in allowed:
                    continue
                if where == "[params]" and isinstance(value, str) and (value.strip() == "real"
                                                                       or _CONDITION.fullmatch(value)):
                    continue  # a parameter that happens to share a top-level key's name
                if isinstance(value, dict) and where.startswith(f"[[{key}]]"):  # step.expr = "..." in a step
                    inner = next(iter(value), "expr")
                    raise self.error(self._line_after(header, key),
                                     f"`{key}.{inner}` inside {where}: the [[{key}]] header already starts the "
                                     f"{key}, write `{inner} = ...`")
                raise self.error(self._line_after(header, key), f"`{key}` is inside {where} (in TOML every key after "
                                                           f"a table header belongs to that table); move it above "
                                                           f"the first table")

    def _line_after(self, header: int, key: str) -> int:
        """The first line at or after `header` that sets `key` (the header's own line if none)."""
        for number in range(header, len(self.lines) + 1):
            if _sets_key(key).match(self.lines[number - 1]):
                return number
        return header

    def derivation(self, data: dict) -> Derivation:
        self.misplaced(data)
        unknown = set(data) - _TOP_KEYS
        if "card" in unknown:  # `check .` in a course folder meets its decks too
            raise self.error(self.line_of("card"), f"{Path(self.path).name} is a deck ([[card]] tables), not a "
                                                   f"derivation: check it with elbo-sym cards {self.path} --check")
        if unknown:
            key = min(unknown, key=lambda k: (self._top_line(k), k))  # the first in the file
            hint = (f"; '{key}' is a step's key: start each step with a [[step]] header line"
                    if key in _STEP_KEYS and key not in _TOP_KEYS else "")  # rt26: a step without its header
            if unknown & _PROJECT_ONLY_KEYS:  # rt32: the course's settings file given to check or explain
                key = min(unknown & _PROJECT_ONLY_KEYS, key=lambda k: (self._top_line(k), k))
                raise self.error(self._top_line(key), f"{Path(self.path).name} is a course's settings file "
                                                      f"(elbo-sym.toml: it has '{key}'), not a derivation: run "
                                                      "elbo-sym check in its folder, without naming the file")
            raise self._key_at(self._top_line(key), key,
                               f"unknown key '{key}' (allowed: {', '.join(sorted(_TOP_KEYS))}){hint}")
        for key in ("title", "start"):
            if key not in data:
                raise self.error(1, f"missing required key '{key}'")
        family, latents, observations, params, D = self.model_keys_of(data)
        self.vocabulary = vocabulary_of(family, observations, params, latents, D)
        title = self.prose(data["title"], MAX_TITLE_CHARS, "title", self.line_of("title"))
        summary = self.prose(data.get("summary", ""), MAX_SUMMARY_CHARS, "summary", self.line_of("summary"),
                             paragraphs=True)
        K = data.get("K", 2)
        if K != ANY_K and (isinstance(K, bool) or not isinstance(K, int) or not 2 <= K <= MAX_K):
            raise self._key_at(self.line_of("K"), "K", f"K must be an integer from 2 to {MAX_K}, or \"{ANY_K}\" "
                                                     f"(one proof for every latent space), got {_toml_value(K)}",
                                 value=True)
        count = len(data["step"]) if isinstance(data.get("step"), list) else 0
        if K != ANY_K and count <= MAX_STEPS and K * (count + 1) > MAX_K_TIMES_STEPS:
            raise self.error(self.line_of("K"), f"K = {K} with {count} steps is too much work: "
                                                f"K x (steps + 1) may be at most {MAX_K_TIMES_STEPS}")
        start = self.formula(data["start"], self.line_of("start"), "start")
        claim = self.relation(data["claim"], self.line_of("claim"), "claim") if "claim" in data else None
        definitions, premises = self.premises(data.get("assume", []), family, D)
        assumptions = self.assumptions(definitions)
        if family == "gaussian":
            self.check_gaussian_assumptions(definitions, assumptions, params)
        steps = self.steps(data.get("step", []))
        if family == "chain":  # Gaussian layers are real numbers: a free one is a claim for every value
            self.check_free_layers(start, steps, claim)
        weights = uses_data_weights([start.expr, *(s.expr for s in steps),  # a premise's too (red team rt47 F6)
                                     *(side for r in (claim, *assumptions, *premises) if r is not None
                                       for side in (r.lhs.expr, r.rhs.expr))],
                                    self.names_in)
        formulas = [start, *(f for r in (claim, *assumptions, *premises) if r is not None for f in (r.lhs, r.rhs)),
                    *(f for step in steps for f in (step.formula, step.repair) if f is not None)]
        variationals, indices = self.model_names(formulas, params)
        derivation = Derivation(self.path, title, summary, K, start, steps, claim, assumptions, (), family,
                                observations, params, latents=latents, D=D, premises=premises,
                                data_weights=weights, data_space=self.data_space(data, family, latents, observations),
                                variationals=variationals, indices=indices,
                                prose_math=tuple(self.prose_math.items()), title_line=self.line_of("title"),
                                prose_relations=tuple(self.prose_relations))
        examples = self.examples(data.get("example", []), derivation)
        expect, expect_refuted = self.expectation(data, len(steps))
        if expect == "refuted":
            self.check_teaching_steps(steps)
        self.check_repairs(steps, expect, expect_refuted)
        return replace(derivation, examples=examples, expect=expect, expect_refuted=expect_refuted)

    def model_names(self, formulas: list[Formula], params: tuple[Parameter, ...]) -> tuple[tuple[str, ...],
                                                                                         tuple[str, ...]]:
        """(the variational distributions beside q, the parameters indexing the model) the file's
        formulas use; a parameter that indexes the model has no value, so it never appears bare."""
        names: set[str] = set()
        indexed: set[str] = set()
        for formula in formulas:
            found = self.names_in(formula.expr)
            names.update(d.name for d in found if isinstance(d, Density) and d.name in ("r", "q_star"))
            indexed.update(i.name for i in found if isinstance(i, Index))
        for formula in formulas if indexed else ():  # no index: no symbol can be named like one
            for symbol in formula.expr.free_symbols:
                if symbol.name in indexed and not isinstance(symbol, Index):
                    raise self.error(formula.line, f"{symbol.name} indexes the model (as in p(x | z; {symbol.name})): "
                                                   f"it names which model, and has no value in an expression")
        if indexed:
            self.refuse_iwae_of_indexed_model(formulas, sorted(indexed)[0])
        return (tuple(n for n in ("r", "q_star") if n in names),
                tuple(p.name for p in params if p.name in indexed))

    def names_in(self, expr: Expr) -> set:
        """The densities and model indices in `expr` (one walk per formula, remembered: the
        data weights and model_names ask about the same formulas)."""
        known = self.atoms.get(expr)
        if known is None:  # the union over its arguments: a sub-expression repeated within a formula
            known = {expr} if isinstance(expr, (Density, Index)) else set()  # or across steps is walked once
            for arg in expr.args:
                known |= self.names_in(arg)
            self.atoms[expr] = known
        return known

    def refuse_iwae_of_indexed_model(self, formulas: list[Formula], index: str) -> None:
        """IWAE(q, k) averages p(x, z) / q(z) over k draws; in a model indexed by a parameter
        (p(x | z; theta)) there is no p(x, z) without saying which parameter, and IWAE takes
        none: refused at the IWAE's line and column (bad input), not left to fail as a step."""
        for formula in formulas:
            if formula.expr.has(IWAE):
                source = self.lines[formula.line - 1] if 0 < formula.line <= len(self.lines) else None
                found = source.find("IWAE(") if source is not None else -1
                raise DerivationError(
                    self.path, formula.line,
                    f"IWAE(...) in a model indexed by {index} (p(x | z; {index})) has no meaning here: its joint "
                    f"p(x, z) would need the parameter, and IWAE takes none (IWAE(q, k, {index}) is not part of the "
                    f"notation); write the IWAE bound for a model without {index}, or use ELBO(q, {index})",
                    None, found if found >= 0 else None, source)

    def model_keys_of(self, data: dict) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple, int | str]:
        """The model a file (or a deck) names: family, latents, observations, parameters and D,
        each validated at its line."""
        family = data.get("model", "discrete")
        if family not in families():
            raise self._key_at(self.line_of("model"), "model",
                               f"unknown model {_toml_value(family)} (available: {', '.join(families())})",
                               value=True)
        family, latents = self.layers(data, family)
        observations = self.observations(data.get("data", ["x"]))
        params = self.params(data.get("params", {}), observations)
        D = self.dimensions(data, family)
        if family == "gaussian":
            self.check_gaussian(data, observations, params, D, latents)
        return family, latents, observations, params, D

    def data_space(self, data: dict, family: str, latents: tuple[str, ...], observations: tuple[str, ...]) -> bool:
        """``data_space = ["x1", "x2"]``: the observations are every value x takes (a finite data
        space), so the likelihood is normalised over them; it must list the observations of
        ``data``, in order (the discrete family, one latent variable, two or more points)."""
        if "data_space" not in data:
            return False
        line, value = self.line_of("data_space"), data["data_space"]
        if family != "discrete" or latents != ("z",):
            raise self._key_at(line, "data_space", "data_space belongs to the discrete family with one latent "
                                                   "variable z")
        if not isinstance(value, list) or tuple(value) != observations or len(observations) < 2:
            raise self._key_at(line, "data_space", "data_space lists every value x takes: write the observations of "
                               "data = [...] again, in the same order (two or more), e.g. data_space = [\"x1\", "
                               "\"x2\"]", value=True)
        return True

    def check_repairs(self, steps: tuple[Step, ...], expect: str, expect_refuted: tuple[int, ...]) -> None:
        """``repair = "..."`` belongs on the deliberate mistake of a teaching file only."""
        for i, step in enumerate(steps):
            if step.repair is None:
                continue
            if expect != "refuted" or (expect_refuted and step.index not in expect_refuted):
                raise self._key_at(self.line_of("repair", "step", i), "repair",
                                   "repair is the intended correction of a teaching file's deliberate mistake: "
                                   "only a step listed in expect_refuted may have one", step.index)

    def dimensions(self, data: dict, family: str) -> int | str:
        """``D = 3``: the Gaussian family's diagonal version over 3 real dimensions; ``D = "any"``:
        every number of dimensions at once."""
        if "D" not in data:
            return 1
        from elbo_sym.engine.models.gaussian import MAX_D  # here: a discrete file need not import the family

        D = data["D"]
        if family != "gaussian":
            raise self.error(self.line_of("D"), "D is the dimension of the Gaussian family's z (model = \"gaussian\")")
        if D == ANY_K:
            if "assume" in data:
                raise self._key_at(self.line_of("assume"), "assume",
                                   "with D = \"any\" q is the free diagonal Gaussian (no assume)")
            return D
        if isinstance(D, bool) or not isinstance(D, int) or not 1 <= D <= MAX_D:
            raise self._key_at(self.line_of("D"), "D", f"D must be an integer from 1 to {MAX_D}, or \"{ANY_K}\" "
                               f"(every number of dimensions), got {_toml_value(D)}", value=True)
        if D > 1 and "assume" in data:
            raise self._key_at(self.line_of("assume"), "assume",
                               "with D > 1 q is the free diagonal Gaussian (no assume)")
        return D

    def check_gaussian(self, data: dict, observations: tuple[str, ...], params, D: int | str,
                       latents: tuple[str, ...] = ("z",)) -> None:
        """The Gaussian family: one real observation x, real z, the family's parameters
        (mu, sigma, w, b, s; with D > 1 mu1, sigma1, ..., muD, sigmaD) besides any in [params]."""
        from elbo_sym.engine.models.gaussian import builtin_names
        from elbo_sym.engine.models.gaussian_chain import chain_names

        BUILTIN_NAMES = builtin_names(D) if latents == ("z",) else chain_names(len(latents))

        if observations != ("x",):
            raise self.error(self.line_of("data"), "the Gaussian family has one observation, x (leave data out)")
        if "K" in data:
            raise self.error(self.line_of("K"), "K is the number of latent states of the discrete family; in the "
                                                "Gaussian family z is real (leave K out)")
        if latents != ("z",):  # Gaussian layers: [params] may narrow a built-in range (v2 = ">= 1")
            from elbo_sym.engine.models.gaussian_chain import chain_parameters, narrows

            defaults = dict(chain_parameters(len(latents)))
            for p in params:
                if p.name in latents or (p.name in defaults and not narrows(p.interval, defaults[p.name])):
                    raise self._key_at(self.param_line(p.name), p.name, f"'{p.name}' is a parameter of the "
                                       f"Gaussian family already: [params] may only narrow its range (c_t in "
                                       f"(0, 1), a_t and b_t real, v_t > 0; x and the layers are the "
                                       f"variables)", value=p.name not in latents)
            return
        for p in params:
            if p.name in BUILTIN_NAMES or p.name == "z":
                raise self._key_at(self.param_line(p.name), p.name, f"'{p.name}' is a parameter of the Gaussian "
                                   f"family already (mu, sigma > 0, w, b, s > 0; x is the observation)")
            block = re.fullmatch(r"(mu|sigma|w)[1-9][0-9]*", p.name) if D == "any" else None
            if block is not None:  # red team rt19: the explicit model at each D names its blocks so
                raise self._key_at(self.param_line(p.name), p.name, f"'{p.name}' clashes with the Gaussian "
                                   f"family's {block.group(1)}_d in dimension {p.name[len(block.group(1)):]} (with "
                                   f"D = \"any\" the search names dimension d's parameters mu1, sigma1, w1, ...): "
                                   "choose another name")


    def check_gaussian_assumptions(self, value, assumptions: tuple[Relation, ...], params) -> None:
        """The Gaussian family's q is a normal distribution: an assumption fixes it to one
        (``Normal(m, v)``, ``p(z | x)``, ``p(z)``), never to another expression."""
        from elbo_sym.engine.models.gaussian import GaussianModel

        free = GaussianModel(ModelSpec("gaussian", 2, ("x",), params))
        items = [value] if isinstance(value, str) else value
        for item, relation in zip(items, assumptions):
            try:
                mean, variance = free.normal_of(relation.rhs.expr)
            except (UnfoldError, ValueError, TypeError) as raised:
                reraise_callers(raised)
                raise self._at(self.line_of("assume"), item, item.find("=") + 1,
                               f"the assumption {relation.lhs.text} = {relation.rhs.text} does not give q a normal "
                               f"distribution: in the Gaussian family write q(z) = Normal(mean, variance), "
                               f"q(z) = p(z | x) or q(z) = p(z)") from None
            named = sorted({str(s) for s in (mean.free_symbols | variance.free_symbols) & set(free.q_symbols)})
            if named:  # q through its own mean or scale: a definition of q by itself (red team rt24 F2)
                right = item.find("=") + 1
                found = [m.start() for m in (re.search(rf"\b{re.escape(n)}\b", item[right:]) for n in named) if m]
                raise self._at(self.line_of("assume"), item, right + min(found, default=0),
                               f"the assumption {relation.lhs.text} = {relation.rhs.text} defines q in terms of q "
                               f"itself: it names {', '.join(named)}, q's own parameters: write q in terms of the "
                               f"model's (w, b, s, x, the file's [params]), e.g. q(z) = p(z | x)")

    def check_teaching_steps(self, steps: tuple[Step, ...]) -> None:
        """A teaching file's steps are proved or deliberately refuted: a step that is only
        accepted as checked would hide a second mistake among the "correct" ones."""
        for step in steps:
            if step.accept is not None:
                i = step.index - 1
                raise self._at(self.line_of("accept", "step", i), step.accept, 0,
                               "accept is not allowed in a teaching file (expect = \"refuted\"): every step other "
                               "than the deliberate mistakes must be proved, so that a student's \"correct\" "
                               "steps are correct", step.index)

    def layers(self, data: dict, family: str) -> tuple[str, tuple[str, ...]]:
        """(family, latents) from ``latents`` and ``model``: ``latents = ["z1", "z2"]`` is the two-layer
        chain (``model = "chain"``, which it implies); ``["z"]`` or nothing is one latent variable."""
        line = self.line_of("latents")
        value = data.get("latents", list(LAYERED) if family == "chain" else ["z"])
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(line, "latents must be a list of latent variable names: [\"z1\", \"z2\"] for two "
                                   "layers (or [\"z\"], one latent variable)")
        if value == ["z"]:
            if family == "chain":
                raise self.error(line, "model = \"chain\" has two latent layers: latents = [\"z1\", \"z2\"]")
            return family, ("z",)
        if len(value) > MAX_CHAIN_LAYERS:
            raise self.error(line, f"at most {MAX_CHAIN_LAYERS} latent layers are supported (latents = [\"z1\", "
                                   f"\"z2\", ..., \"z{MAX_CHAIN_LAYERS}\"]), got {len(value)}")
        layered = tuple(f"z{t}" for t in range(1, len(value) + 1))
        if len(value) < 2 or tuple(value) != layered:
            raise self.error(line, f"latents = {_toml_list(value)} is not supported: the layers are named "
                                   f"\"z1\" (next to x), \"z2\", ... up to the top, latents = [\"z1\", \"z2\"] "
                                   f"or [\"z1\", \"z2\", \"z3\"]")
        if family == "gaussian":  # Gaussian layers (elbo_sym.engine.models.gaussian_chain)
            return family, self.gaussian_layers(data, layered)
        if "model" in data and family != "chain":
            raise self.error(self.line_of("model"), f"latents = [\"z1\", \"z2\"] is the two-layer family: write "
                                                    f"model = \"chain\" (or leave model out), not {family!r}")
        K = data.get("K", 2)
        if isinstance(K, int) and not isinstance(K, bool) and K ** len(layered) > MAX_CHAIN_K ** 2:
            largest = max(k for k in range(2, MAX_CHAIN_K + 1) if k ** len(layered) <= MAX_CHAIN_K ** 2)
            raise self.error(self.line_of("K"), f"the chain needs K, the states per layer, with K**layers at most "
                                                f"{MAX_CHAIN_K ** 2} (with {len(layered)} layers K from 2 to {largest})"
                                                f", or K = \"{ANY_K}\" (every latent space, up to "
                                                f"{MAX_CHAIN_LAYERS} layers); got K = {K}")
        for key, why in (("assume", "q is the free chain q(z1 | x) q(z2 | z1)"),
                         ("example", "its examples would need p(z1 | z2) and q(z2 | z1) tables"),
                         ("data", "it has one observation, x")):
            if key == "assume" and key in data and self._only_premises(data[key]):
                continue  # premises restrict the domain (q stays the free chain)
            if key in data and not (key == "data" and data["data"] == ["x"]):
                where = self._table_span("example", 0)[0] if key == "example" else self.line_of(key)
                raise self._key_at(where, key, f"'{key}' is not supported with two latent layers ({why})")
        return "chain", layered

    def gaussian_layers(self, data: dict, layered: tuple[str, ...]) -> tuple[str, ...]:
        """``model = "gaussian"`` with ``latents = ["z1", "z2"]``: the chain of Gaussian layers, two
        or three of them, its layers fixed by the family (no assume, examples, data or D)."""
        from elbo_sym.engine.models.gaussian_chain import MAX_GAUSSIAN_LAYERS

        if len(layered) > MAX_GAUSSIAN_LAYERS:
            raise self.error(self.line_of("latents"), f"the Gaussian chain has 2 to {MAX_GAUSSIAN_LAYERS} layers "
                                                      f"(latents = [\"z1\", \"z2\"] or [\"z1\", \"z2\", \"z3\"])")
        for key in ("assume", "example", "data", "D", "K"):
            if key in data and not (key == "data" and data["data"] == ["x"]):
                where = self._table_span("example", 0)[0] if key == "example" else self.line_of(key)
                raise self._key_at(where, key, f"'{key}' is not supported with Gaussian layers (the family fixes "
                                   f"each layer: x and z1, z2, ... are real, q and p are linear-Gaussian chains)")
        return layered
    @staticmethod
    def _only_premises(value) -> bool:
        """`assume` holds premises only (relations other than =): the chain family's kind."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            return False
        parts = [split_premise(item) if isinstance(item, str) else None for item in items]
        return all(p is not None and p[1] != "=" for p in parts)

    def check_free_layers(self, start: Formula, steps: tuple[Step, ...], claim: Relation | None) -> None:
        """A chain's expressions are all numbers, or all claims for every value of their free
        layers (``p(z1 | z2, z3) = p(z1 | z2)``): one with a layer free outside every binder
        beside one without would compare a value per layer value with one number (a binder
        forgotten: ``E(q(z1 | x), KL(q(z1 | z2, x), p(z1 | z2)))`` leaves z2 free)."""
        parts = [("start", start, None), *((f"step {s.index}", s.formula, s.index) for s in steps)]
        if claim is not None:
            parts += [("claim", claim.lhs, None), ("claim", claim.rhs, None)]
        free = [(name, formula, index, free_latents(formula.expr)) for name, formula, index in parts]
        closed = next((name for name, _, _, layers in free if not layers), None)
        if closed is None:
            return
        for name, formula, index, layers in free:
            if layers:
                names = sorted(str(v) for v in layers)
                shown = " and ".join(names)
                verb = "is" if len(names) == 1 else "are"
                where = "" if index else f" in {name}"
                def frees(e: Expr, chosen: frozenset = layers) -> bool:
                    return bool(free_latents(e) & chosen)

                column = _free_column(formula.text, frees, self.vocabulary)
                raise self._at(formula.line, formula.text, column,
                               f"{shown} {verb} free{where} (not bound by a Sum, E, KL or H) while {closed} "
                               f"has no free layer: bind {names[0]}, e.g. E(q({names[0]} | x), ...) or "
                               f"Sum(..., {names[0]}) around the part that mentions it", index)

    def expectation(self, data: dict, steps: int) -> tuple[str, tuple[int, ...]]:
        """``expect = "refuted"`` and/or ``expect_refuted = [2, ...]``: a teaching file."""
        expect = data.get("expect", "proved")
        if expect not in ("proved", "refuted"):
            raise self.error(self.line_of("expect"), f"expect must be \"proved\" or \"refuted\" (a teaching file "
                                                     f"with deliberate mistakes), not {_toml_value(expect)}")
        chosen = data.get("expect_refuted", [])
        line = self.line_of("expect_refuted")
        if (not isinstance(chosen, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in chosen)
                or len(set(chosen)) != len(chosen)):
            raise self._key_at(line, "expect_refuted", "expect_refuted must be a list of step numbers, like [2] or "
                                                       "[2, 4]", value=True)
        for n in chosen:
            if not 1 <= n <= steps:
                raise self.error(line, f"expect_refuted: there is no step {n} (steps are numbered 1 to {steps})")
        if chosen and expect == "proved" and "expect" in data:
            raise self.error(self.line_of("expect"), "expect = \"proved\" contradicts expect_refuted")
        if chosen:
            expect = "refuted"
        return expect, tuple(sorted(chosen))

    def observations(self, value) -> tuple[str, ...]:
        line = self.line_of("data")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(line, "data must be a list of observation names, like [\"x1\", \"x2\"]")
        if len(value) > MAX_OBSERVATIONS:
            raise self.error(line, f"at most {MAX_OBSERVATIONS} observations, got {len(value)}")
        for name in value:
            if name in CONSTANT_NAMES:
                raise self.error(line, constant_name_message(name, "an observation"))
            if not _NAME.fullmatch(name) or name in RESERVED:
                raise self.error(line, f"{name!r} cannot name an observation (use letters and digits, "
                                       f"not one of {', '.join(sorted(RESERVED))})")
        if len(set(value)) != len(value):
            twice = next(name for i, name in enumerate(value) if name in value[:i])
            raise self._second_entry(line, twice, f"each observation is named once: {twice} is named twice")
        return tuple(value)

    def _second_entry(self, line: int, item: str, message: str) -> DerivationError:
        """An error at the second string `item` of the list on `line` (or on the lines after it: an array
        may span lines) -- a name given twice (red team rt47 F3: the caret was under the key)."""
        seen = 0
        for number in range(line, min(len(self.lines), line + MAX_OBSERVATIONS + 4) + 1):
            source = self.lines[number - 1]
            for text, places in _string_literals(source):
                seen += text == item
                if seen == 2:
                    return DerivationError(self.path, number, message, None, places[0], source)
        return self.error(line, message)

    def params(self, value, observations: tuple[str, ...]) -> tuple[Parameter, ...]:
        line = self.line_of("params")
        if not isinstance(value, dict):
            raise self.error(line, "params must be a table, like [params] beta = \">= 1\"")
        out = []
        for name, condition in value.items():
            here = self.param_line(name)
            if name in CONSTANT_NAMES:
                raise self.error(here, constant_name_message(name, "a parameter"))
            if name in observations or name in RESERVED:
                why = "it names an observation" if name in observations else \
                    f"the notation uses it (reserved: {', '.join(sorted(RESERVED))})"
                raise self.error(here, f"{_toml_value(name)} cannot name a parameter: {why}")
            if name.startswith(TABLE_PREFIXES):  # the shape fits, the prefix does not (rt43 F4): say which rule
                raise self.error(here, f"{_toml_value(name)} cannot name a parameter: {reserved_prefix_rule()}")
            if not (_NAME.fullmatch(name) or _INDEXED_NAME.fullmatch(name)):
                raise self.error(here, f"{_toml_value(name)} cannot name a parameter: {PARAMETER_NAME_RULE}")
            if keyword.iskeyword(name):  # rt32: accepted here, then "not part of the notation" in every expression
                instead = "lam" if name == "lambda" else f"{name.lower()}1"
                raise self.error(here, f"{_toml_value(name)} cannot name a parameter: it is a Python keyword, "
                                       f"which no expression can use as a name; call it {instead}, say")
            if not isinstance(condition, str):
                raise self._key_at(here, name, f"{name}: the condition must be a string such as \">= 1\" or "
                                               f"\"in (0, 1)\"", value=True)
            out.append(Parameter(name, self.interval(condition, name, here)))
        return tuple(out)

    def interval(self, text: str, name: str, line: int) -> Interval:
        """'>= 1', '> 0', '<= 2', '< 0', 'in (a, b)', 'in [a, b]', 'real' (rationals only);
        DerivationError at file:line:col otherwise."""
        if text.strip() == "real":
            return Interval()
        if text.strip().startswith("integer"):
            return self.integer_interval(text, name, line)
        match = _CONDITION.fullmatch(text)
        hint = "write \">= 1\", \"> 0\", \"<= 2\", \"< 0\", \"in (0, 1)\", \"in [1/2, 2]\" or \"real\""
        if not match:
            raise self._at(line, text, 0, f"{name}: cannot read the condition {text!r}; {hint}")
        groups = (2,) if match.group(1) else (4, 5)
        bounds = []
        for group in groups:
            try:
                bounds.append(self.number(match.group(group)))
            except ValueError:
                raise self._at(line, text, match.start(group),
                               f"{name}: bounds must be exact numbers like 1/2 (at most 9 digits above and below "
                               f"the bar, never over 0), not {match.group(group).strip()!r}; {hint}") from None
        if match.group(1):
            bound, op = bounds[0], match.group(1)
            if op in (">=", ">"):
                return Interval(lower=bound, lower_open=op == ">")
            return Interval(upper=bound, upper_open=op == "<")
        low, high = bounds
        if low == high and match.group(3) == "[" and match.group(6) == "]":
            raise self._at(line, text, match.start(4), f"{name}: [{low}, {high}] is the single value {low}, not an "
                                                       f"interval: write {low} in place of {name} in the formulas")
        if not low < high:
            raise self._at(line, text, match.start(4), f"{name}: the interval is empty ({low} is not below {high})")
        return Interval(low, high, match.group(3) == "(", match.group(6) == ")")

    def integer_interval(self, text: str, name: str, line: int) -> Interval:
        """'integer >= n' (n a whole number): a parameter that counts, like IWAE's samples k."""
        match = _INTEGER_CONDITION.fullmatch(text)
        if not match or not match.group(1).lstrip("+-").isdigit() or abs(int(match.group(1))) > MAX_INTEGER_BOUND:
            raise self._at(line, text, 0, f"{name}: a whole-number parameter is written \"integer >= n\" with n a "
                                          f"whole number of at most {MAX_INTEGER_BOUND}, like \"integer >= 1\"")
        return Interval(lower=Fraction(int(match.group(1))), integer=True)

    @staticmethod
    def number(text: str) -> Fraction:
        """An exact bound: an integer or a fraction of at most 9 digits each, never over 0
        (ValueError otherwise, which the caller reports at file:line)."""
        if not re.fullmatch(r"[+-]?[0-9]{1,9}(/[0-9]{1,9})?", text.strip()):
            raise ValueError(text)
        try:
            return Fraction(text.strip())
        except ZeroDivisionError:
            raise ValueError(text) from None

    def premises(self, value, family: str, D=1, line: int | None = None) -> tuple[object, tuple[Relation, ...]]:
        """`assume` (one string or a list of strings) split into its q definitions
        (``q(z) = ...``, each read by `assumptions`: the value to give it) and its premises:
        relations ``a <= b``, ``a >= b``, ``a < b``, ``a > b`` or ``a != b`` between expressions of
        the vocabulary, each parsed where it is written (file:line:col). `line`: where the key
        is written (default: the file's top-level `assume`; a deck's card passes its own)."""
        line = self.line_of("assume") if line is None else line
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self._key_at(line, "assume", "assume must be a string like \"q(z) = p(z | x)\" or a list of them",
                               value=True)
        definitions: list = []
        premises: list[Relation] = []
        for item in items:
            if not isinstance(item, str):
                raise self.error(line, f"each assumption must be a string like \"q(z) = p(z | x)\" or "
                                       f"\"ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)\", not {item!r}")
            parts = split_premise(item)
            misspelt = misspelt_relation(item) if parts is None else None
            if misspelt is not None:
                raise self._at(self._item_line(line, item), item, misspelt[0], f"assume: {misspelt[1]}")
            if parts is None:  # at the entry, not the key (red team rt52 F7)
                raise self._at(self._item_line(line, item), item, 0, f"assume needs exactly one relation "
                               f"(=, <=, >=, <, >, !=) in each entry: {item!r}")
            left, rel, right = parts
            if rel == "=":
                definitions.append(item)
                continue
            at = self._item_line(line, item)
            if family not in PREMISE_FAMILIES:
                raise self._at(at, item, len(left), f"a premise ({rel}) is only supported in the discrete, "
                               f"gaussian and chain families for now; in the {family} family assume fixes q: "
                               f"\"q(z) = ...\"")
            if family == "gaussian" and D not in (1, None):
                raise self._at(at, item, len(left), f"a premise ({rel}) is only supported for the Gaussian family "
                               f"with one dimension (D = 1) for now; here assume fixes q: \"q(z) = ...\"")
            premise = Relation(self.formula(left, at, "assume"), rel, self.formula(right, at, "assume"))
            if family == "gaussian":
                self.check_gaussian_premise(premise, item, at)
            premises.append(premise)
            if len(premises) > MAX_PREMISES:
                raise self.error(at, f"too many premises (the limit is {MAX_PREMISES})")
        return (definitions[0] if isinstance(value, str) and definitions else definitions), tuple(premises)

    def check_gaussian_premise(self, premise: Relation, item: str, line: int) -> None:
        """A premise with a free z holds for every z (vocabulary section 1), but the Gaussian family
        decides it at one z, where z is a number like mu: refused, unless it is ``a != b`` between
        two distributions of z (compared by their means and variances)."""
        sides = (premise.lhs, premise.rhs)
        if premise.rel == "!=" and all(_distribution_of_z(side.expr) for side in sides):
            return
        for side, offset in zip(sides, (0, item.rindex(premise.rhs.text))):
            if _gaussian_free_z(side.expr):
                column = offset + _free_column(side.text, _gaussian_free_z, self.vocabulary)
                raise self._at(line, item, column, "a premise with a free z would hold for every z, which the "
                               "Gaussian family cannot decide (it judges one z): bind z (E(q(z), ...), KL, H) or "
                               "state the premise about the parameters (mu > 1, ELBO(q) >= log(p(x)))")

    def _item_line(self, line: int, item: str) -> int:
        """The line of a list entry `item` of the key on `line` (an array may span lines)."""
        for number in range(line, min(len(self.lines), line + 4 * MAX_PREMISES + 8) + 1):
            if any(text == item for text, _ in _string_literals(self.lines[number - 1])):
                return number
        return line

    def assumptions(self, value, line: int | None = None) -> tuple[Relation, ...]:
        line = self.line_of("assume") if line is None else line
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > len(self.vocabulary.data):
            raise self._key_at(line, "assume", "assume must be a string like \"q(z) = p(z | x)\" (or one per "
                                               "observation)", value=True)
        out, fixed = [], set()
        for item in items:
            at = self._item_line(line, item) if isinstance(item, str) else line
            relation = self.relation(item, at, "assume")
            lhs = relation.lhs.expr
            if relation.rel != "=" or not (isinstance(lhs, Density) and lhs.name == "q"):  # at the entry (rt47 F3)
                fixes = _fixable_q(lhs, self.vocabulary.data)
                raise self._at(at, item, 0, f"{relation.lhs.text} cannot be fixed: the only supported assumption "
                               f"with = fixes q: \"{fixes} = <distribution over z>\" (other assumptions are "
                               "premises: <=, >=, <, > or !=)")
            observation = observation_of(lhs)
            if observation in fixed:
                raise self._at(at, item, 0, f"q of {observation} is fixed twice")
            fixed.add(observation)
            out.append(relation)
        for item, relation in zip(items, out):  # each q is defined by the model's p, never by a q being fixed
            for density in relation.rhs.expr.atoms(Density):
                if density.name == "q" and observation_of(density) in fixed:
                    own = observation_of(density) == observation_of(relation.lhs.expr)
                    why = ("defines q in terms of q itself" if own else
                           f"uses {_q_text(density, self.vocabulary.data)}, "
                           f"which another assumption fixes")
                    at = self._item_line(line, item)
                    raise self._at(at, item, _q_column(item), f"the assumption {relation.lhs.text} = "
                                   f"{relation.rhs.text} {why}: write q in terms of p (the model's own "
                                   f"distributions), e.g. {relation.lhs.text} = p(z | "
                                   f"{observation_of(relation.lhs.expr)})")
        return tuple(out)

    def _key_at(self, line: int, key: str, message: str, step: int | None = None,
                value: bool = False) -> DerivationError:
        """An error at the column of `key` on `line` (or of the value after its `=` when
        `value`), a top-level key or one of an inline table (``prior = { theta_new = [...] }``);
        the line's first character when `key` is not written there (file:line:col)."""
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        if source is None:
            return self.error(line, message, step)
        return DerivationError(self.path, line, message, step, key_column(source, key, value), source)

    def _param_line(self, index: int, name: str) -> int:
        """The line that gives example `index`'s parameter `name`: its own line in an [example.params]
        table, else the ``params = { ... }`` line (an inline table), else the [[example]] header (rt37 F1:
        both forms' errors were at the header)."""
        own = self.line_of(name, "example", index)
        return own if own != self._table_span("example", index)[0] else self._part_line(index, "params", name)

    def _part_line(self, index: int, key: str, part: str) -> int:
        """The line that sets `part` of example `index`'s table `key`: a dotted ``key.part = ...``, or
        ``part = ...`` under an ``[example.key]`` header; else the line of `key` (``key = { part = ... }``)."""
        first, last = self._table_span("example", index)
        dotted = _dotted_key(key, part)
        found = next((n for n in range(first, last + 1) if dotted.match(self.lines[n - 1])), None)
        return found if found is not None else self._under_header(self.line_of(key, "example", index), part, index)

    def _block_at(self, index: int, line: int, error: Exception, names) -> DerivationError:
        """An example's error about one of its tables (``prior[theta_new] sums to 5/6``): at the
        table's key (its parameter or observation inside), the [[example]] header otherwise; at the value
        itself when the error names one of its list (a BlockValueError's ``position``: ``"3/2"`` in
        ``x2 = ["1/2", "3/2"]``, red team rt47 err/e4) and the file writes that list there."""
        message = str(error)
        for name in sorted(names, key=len, reverse=True):
            if not message.startswith(f"{name} ") and not message.startswith(f"{name}:"):
                continue
            key, _, inner = name.partition("[")
            at = self._param_line(index, key)
            sub = inner.rstrip("]").split(";")[-1].strip()
            named = sub if at != line and sub and re.match(r"[A-Za-z_]\w*$", sub) else key
            if named != key:
                at = self._part_line(index, key, named)
            found = self._key_at(at, named, f"example {index + 1}: {message}", value=True)
            position = error.position if isinstance(error, BlockValueError) else None
            element = (list_element(self.lines, at, found.column, position)
                       if position is not None and found.column is not None and (named != key or not inner) else None)
            if element is None:
                return found
            return DerivationError(self.path, element[0], found.message, None, element[1], self.lines[element[0] - 1])
        return self._key_at(line, "", f"example {index + 1}: {message}")

    def _under_header(self, line: int, key: str, index: int) -> int:
        """The line that sets `key` in the sub-table whose header is on `line` (``x2 = [...]`` under
        ``[example.likelihood]``), up to the next header and within example `index`; `line` itself when
        it is no header or the table does not set `key` there."""
        if not self.lines[line - 1].lstrip().startswith("["):
            return line
        sets_key = _sets_key(key)
        for number in range(line + 1, self._table_span("example", index)[1] + 1):
            if self.lines[number - 1].lstrip().startswith("["):
                break
            if sets_key.match(self.lines[number - 1]):
                return number
        return line

    def _at(self, line: int, value: str, position: int, message: str, step: int | None = None) -> DerivationError:
        """An error at the column of `position` in the string `value` on `line` (file:line:col)."""
        at, column, source = self._value_at(line, value, position)
        return DerivationError(self.path, at, message, step, column, source)

    def _value_at(self, line: int, value: str, position: int) -> tuple[int, int | None, str | None]:
        """Where character `position` of the string `value` (or of a string holding it) written on `line`
        is: its line, its column and that line's text, in a one-line string on `line` or in a multi-line
        string (``\"\"\"`` or ``'''``) opened there (red team rt8: a formula on a string's third line had
        no column); no column (nor text) when neither holds it."""
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        column = _source_column(source, value, position) if source is not None else None
        if column is not None:
            return line, column, source
        string = _multiline_string(self.lines, line)
        if string is None or value not in string[0]:
            return line, None, None
        text, places = string
        at, column = places[min(text.index(value) + position, len(places) - 1)]
        return at, column, self.lines[at - 1]

    def single_table(self, name: str) -> DerivationError:
        """`[step]` written for `[[step]]`: TOML reads one table, not an array of them -- the
        error names the header's line and says how to write it."""
        header = re.compile(rf"\s*\[\s*{re.escape(name)}\s*\]")
        line = next((n for n, text in enumerate(self.lines, 1) if header.match(text)), None)
        message = single_table_message(name)
        if line is None:  # no [step] header: a dotted key, step.expr = "...", made the table
            line = self.line_of(name)
            keys = " (expr = ..., rel = ..., why = ...)" if name == "step" else ""
            message = (f"a dotted key `{name}.<key> = ...` makes one [{name}] table: start each {name} with a "
                       f"[[{name}]] header line and write its keys under it{keys}")
            written = self.lines[line - 1].split("#")[0].strip()[:60] if 0 < line <= len(self.lines) else ""
            if written.startswith("["):  # a header, [example.expect], made it (rt42 F2): not a dotted key
                message = (f"`{written}` comes before any [[{name}]], so it makes one [{name}] table: start each "
                           f"{name} with a [[{name}]] header line and write `{written}` under it")
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        column = len(source) - len(source.lstrip()) if source is not None else None
        return DerivationError(self.path, line, message, None, column, source)

    def steps(self, value) -> tuple[Step, ...]:
        if isinstance(value, dict):
            raise self.single_table("step")
        if not isinstance(value, list) or not value:
            raise self.error(1, "a derivation needs at least one [[step]]")
        if len(value) > MAX_STEPS:
            raise self.error(1, f"too many steps ({len(value)}; the limit is {MAX_STEPS})")
        steps = []
        for i, table in enumerate(value):
            number = i + 1
            header = self._table_span("step", i)[0]
            if not isinstance(table, dict):
                raise self.error(header, "each step must be a table", number)
            unknown = set(table) - _STEP_KEYS
            if unknown:
                key = sorted(unknown)[0]
                raise self._key_at(self.line_of(key, "step", i), key,
                                   f"unknown key '{key}' (allowed: {', '.join(sorted(_STEP_KEYS))})", number)
            for key in ("rel", "expr", "rule"):
                if key not in table:
                    raise self.error(header, f"missing '{key}'", number)
            rel, rule, why = table["rel"], table["rule"], table.get("why", "")
            if rel not in RELATIONS:
                raise self._key_at(self.line_of("rel", "step", i), "rel",
                                   f"unknown relation {_toml_value(rel)} (use one of {' '.join(RELATIONS)})", number,
                                   value=True)
            if not isinstance(rule, str) or rule not in RULES:  # a list or table is no rule's name (rt3 F2)
                what = f"unknown rule {rule!r}" if isinstance(rule, str) else "rule must be a string naming a rule"
                raise self._key_at(self.line_of("rule", "step", i), "rule",
                                   f"{what} (known: {', '.join(sorted(RULES))})", number, value=True)
            why = self.prose(why, MAX_WHY_CHARS, "why", self.line_of("why", "step", i), number)
            accept = table.get("accept")
            if accept is not None and accept != "checked":
                raise self.error(self.line_of("accept", "step", i),
                                 f"accept must be \"checked\" (print a step that is only checked on exact "
                                 f"instances, labelled as not proved), not {_toml_value(accept)}", number)
            line = self.line_of("expr", "step", i)
            formula = self.formula(table["expr"], line, "expr", number)
            repair = None
            if "repair" in table:  # a teaching file's intended correction (checked at check time)
                repair = self.formula(table["repair"], self.line_of("repair", "step", i), "repair", number)
            steps.append(Step(number, line, rel, formula, rule, why, accept, repair))
        return tuple(steps)

    def examples(self, value, derivation: Derivation) -> tuple[Example, ...]:
        if isinstance(value, dict):
            raise self.single_table("example")
        if not isinstance(value, list):
            raise self.error(self.line_of("example"), "example must be an array of tables ([[example]])")
        if len(value) > MAX_EXAMPLES:
            raise self.error(self.line_of("example"), f"too many examples ({len(value)}; the limit is {MAX_EXAMPLES})")
        fixed = {observation_of(r.lhs.expr) for r in derivation.assumptions}
        if value and derivation.indices and derivation.data_space:
            raise self.error(self._table_span("example", 0)[0], "[[example]] tables are not supported yet with a "
                                                                 "parameterised model over a data space")
        out = []
        for i, table in enumerate(value):
            line = self._table_span("example", i)[0]
            if not isinstance(table, dict):
                raise self.error(line, "each example must be a table")
            unknown = set(table) - _EXAMPLE_KEYS
            if unknown:
                key = sorted(unknown)[0]
                raise self._key_at(self.line_of(key, "example", i), key,
                                   f"unknown key '{key}' in example (allowed: {', '.join(sorted(_EXAMPLE_KEYS))})")
            if derivation.family == "gaussian":
                out.append(self.gaussian_example(table, i, line, derivation))
                continue
            if "prior" not in table:
                raise self.error(line, f"example {i + 1} is missing 'prior'")
            if derivation.indices:  # p(z | theta), p(x | z; theta): one table per parameter
                blocks = self.indexed_tables(table, i, line, derivation.indices, derivation.data)
                first = blocks[prior_block(derivation.indices[0])]
            else:
                blocks = {"prior": self.fractions(table["prior"], self.line_of("prior", "example", i), "prior")}
                first = blocks["prior"]
            K = derivation.K if isinstance(derivation.K, int) else len(first)  # an int or ANY_K
            try:  # the family's explicit model says which blocks an example gives (building it is cheap)
                params = tuple(p for p in derivation.params if p.name not in derivation.indices)  # no values
                explicit = build(ModelSpec(derivation.family, K, derivation.data, params,
                                           derivation.assumptions, data_weights=derivation.data_weights,
                                           data_space=derivation.data_space, variationals=derivation.variationals,
                                           indices=derivation.indices)).explicit(K)  # r's block too
            except (ValueError, UnfoldError) as error:
                reraise_callers(error)
                raise self.error(line, f"example {i + 1}: {error}") from None
            names = {b.name for b in explicit.blocks}
            needs = [key for key in ("likelihood", "q") if any(n == key or n.startswith(key + "[") for n in names)]
            rows = derivation.data_space  # the file gives rows p(x1 | z), ...; the model reads columns
            for key in needs:
                if key not in table:
                    raise self.error(line, f"example {i + 1} is missing '{key}'")
            if "q" in table and "q" not in needs:
                raise self._key_at(self.line_of("q", "example", i), "q", "q is fixed by the assumption; leave it out")
            for key in ("r", "q_star"):  # a distribution beside q: given in the example exactly when used
                if key in table and key not in derivation.variationals:
                    raise self.error(self.line_of(key, "example", i), f"{key} is not used in this derivation; "
                                                                      f"leave it out")
                if key in derivation.variationals:
                    if key not in table:
                        raise self.error(line, f"example {i + 1} is missing '{key}'")
                    per = self.per_observation(table[key], key, i, derivation.data)
                    for observation, values in per.items():
                        blocks[variational_block(key, observation)] = values
            for key, block_of in (("likelihood", likelihood_block), ("q", q_block)):
                if key not in table or (key == "likelihood" and derivation.indices):  # read per parameter
                    continue
                value = table[key]
                if key == "q" and isinstance(value, dict):
                    for observation in value:
                        if observation in fixed:
                            raise self._key_at(self.line_of(key, "example", i), observation,  # rt47 F3
                                               f"q of {observation} is fixed by the assumption; leave it out")
                wanted = derivation.data if key == "likelihood" else \
                    tuple(o for o in derivation.data if o not in fixed)  # q of the observations no assumption fixes
                per = self.per_observation(value, key, i, wanted)
                if key == "likelihood" and rows:  # over the data space: for each z, p(. | z) over x
                    if any(len(v) != K for v in per.values()):
                        raise self.error(self.line_of(key, "example", i),
                                         f"example {i + 1}: each likelihood list needs K = {K} values")
                    for k in range(K):
                        column = tuple(per[o][k] for o in derivation.data)
                        if sum(column) != 1:
                            raise self.error(self.line_of(key, "example", i),
                                             f"example {i + 1}: over the data space p(x | z) sums to 1 at every "
                                             f"z: {' + '.join(f'p({o} | z)' for o in derivation.data)} is "
                                             f"{sum(column)} at z = {k + 1}")
                        blocks[likelihood_column_block(k)] = column
                    continue
                for observation, values in per.items():
                    blocks[block_of(observation)] = values
            if any(b.name == DATA_BLOCK for b in explicit.blocks):
                if DATA_BLOCK not in table:
                    raise self.error(line, f"example {i + 1} is missing 'p_data' (the data distribution: one "
                                           f"weight per observation, {', '.join(derivation.data)}, summing to 1)")
                # one weight per observation, in the order of data = [...]
                blocks[DATA_BLOCK] = self.fractions(table[DATA_BLOCK], self.line_of(DATA_BLOCK, "example", i),
                                                    DATA_BLOCK)
            elif DATA_BLOCK in table:
                raise self.error(self.line_of(DATA_BLOCK, "example", i),
                                 "p_data is for a file whose steps use p_data(x1); leave it out")
            wanted = tuple(b.name for b in explicit.blocks if b.kind == PARAMETER)
            blocks.update(self.example_params(table.get("params", {}), i, wanted))
            instance = Instance(tuple(blocks.items()), f"example {i + 1}")
            try:
                explicit.validate(instance)
            except (ValueError, UnfoldError) as error:
                raise self._block_at(i, line, error, [b.name for b in explicit.blocks]) from None
            expect = self.expectations(table.get("expect", {}), i)
            out.append(Example(i + 1, line, instance, expect))
        return tuple(out)

    def gaussian_example(self, table: dict, i: int, line: int, derivation: Derivation) -> Example:
        """An example of the Gaussian family: params = { mu = "1/2", sigma = "1", w = "2", b = "0",
        x = "1", s = "1" } (rationals; z only for claims about every z, 0 if left out)."""
        for key in ("prior", "likelihood", "q"):
            if key in table:
                raise self.error(self.line_of(key, "example", i), f"'{key}' is for the discrete family; a Gaussian "
                                                                 f"example gives params = {{ mu = \"...\", ... }}")
        if derivation.D == ANY_K:
            raise self.error(line, f"example {i + 1}: with D = \"any\" an example would need a number of "
                                   f"dimensions; leave examples out (every step is searched at D = 1 to 8 and 12)")
        try:
            explicit = derivation.model().explicit(1)
        except (ValueError, UnfoldError) as error:
            reraise_callers(error)
            raise self.error(line, f"example {i + 1}: {error}") from None
        given = dict(table.get("params", {})) if isinstance(table.get("params", {}), dict) else table.get("params")
        filled = {"z"} if not isinstance(given, dict) or "z" not in given else set()
        z_value = given.pop("z", "0") if isinstance(given, dict) else "0"
        if derivation.D != 1 and isinstance(given, dict):  # the diagonal version's decoder may be left out
            from elbo_sym.engine.models.gaussian import DECODER_DEFAULTS

            own = set(DECODER_DEFAULTS) | {f"w{j}" for j in range(1, int(derivation.D) + 1)}
            decoder = {b.name for b in explicit.blocks if b.name in own}  # never a file's own [params] (no clash)
            for name in sorted(decoder - set(given)):
                given[name] = str(DECODER_DEFAULTS.get(name, 0))
                filled.add(name)
        fixed = ("mu", "sigma") if derivation.assumptions else ()  # q is fixed: its own parameters are unused
        wanted = tuple(b.name for b in explicit.blocks if b.kind == PARAMETER and b.name not in ("z",) + fixed)
        blocks = self.example_params(given, i, wanted)
        if fixed:
            blocks.update({"mu": (Fraction(0),), "sigma": (Fraction(1),)})
            filled.update(fixed)
        if any(b.name == "z" for b in explicit.blocks):
            blocks["z"] = self.fractions([z_value], self._param_line(i, "z"), "params.z")
        instance = Instance(tuple(blocks.items()), f"example {i + 1}")
        try:
            explicit.validate(instance)
        except (ValueError, UnfoldError) as error:
            raise self._block_at(i, line, error, [b.name for b in explicit.blocks]) from None
        return Example(i + 1, line, instance, self.expectations(table.get("expect", {}), i), frozenset(filled))

    def indexed_tables(self, table: dict, index: int, line: int, indices: tuple[str, ...],
                       data: tuple[str, ...]) -> dict:
        """The prior and the likelihood of a parameterised model, one table per parameter:
        ``prior = { theta_old = [...], theta_new = [...] }`` and ``likelihood = { theta_old = [...],
        theta_new = [...] }`` (with several observations each a table per observation)."""
        out: dict = {}
        for key in ("prior", "likelihood"):
            if key not in table:
                raise self.error(line, f"example {index + 1} is missing '{key}'")
            at = self.line_of(key, "example", index)
            value = table[key]
            if not isinstance(value, dict) or set(value) != set(indices):
                shown = ", ".join(f"{t} = [...]" for t in indices)
                raise self._key_at(at, key, f"example {index + 1}: with a parameterised model {key} gives one "
                                   f"list per parameter: {key} = {{ {shown} }}", value=True)
            for t in indices:
                if key == "prior":
                    out[prior_block(t)] = self.fractions(value[t], self._part_line(index, key, t), f"{key}.{t}")
                    continue
                for observation, values in self.per_observation(value[t], key, index, data).items():
                    out[indexed_likelihood_block(observation, t)] = values
        return out

    def per_observation(self, value, key: str, index: int, data: tuple[str, ...]) -> dict:
        """`likelihood = [...]` (one observation) or `likelihood = { x1 = [...], x2 = [...] }`."""
        line = self.line_of(key, "example", index)
        if isinstance(value, dict):
            if set(value) != set(data):
                extra = sorted(set(value) - set(data), key=str)
                at, named = (self._part_line(index, key, extra[0]), extra[0]) if extra else (line, key)
                raise self._key_at(at, named, f"{key} needs one list per observation: {', '.join(data)}",
                                   value=not extra)
            return {o: self.fractions(value[o], self._part_line(index, key, o), f"{key}.{o}") for o in data}
        if len(data) > 1:
            raise self.error(line, f"{key} needs one list per observation, like {key} = "
                                   f"{{ {data[0]} = [\"1/2\", \"1/2\"], ... }}")
        return {data[0]: self.fractions(value, line, key)}

    def example_params(self, value, index: int, wanted: tuple[str, ...]) -> dict:
        """`params = { beta = "2" }`: a value for each parameter of the model (declared or the family's)."""
        line = self.line_of("params", "example", index)
        names = set(wanted)
        if isinstance(value, dict) and set(value) - names:  # rt37 F1: named, not "needs params = { k }"
            extra = sorted(set(value) - names, key=str)[0]
            given = f"exactly {', '.join(sorted(names))}" if names else "none: this model has no parameters"
            raise self._key_at(self._param_line(index, extra), extra, f"example {index + 1}: {extra} is not a "
                               f"parameter here (an example gives {given})")
        if not isinstance(value, dict) or set(value) != names:
            if names or not isinstance(value, dict) or value:  # `params = 0` too (rt3 F3)
                shown = ", ".join(f'{n} = "..."' for n in sorted(names))
                raise self._key_at(line, "params", f"the example needs params = {{ {shown} }}" if names
                                   else "this model has no parameters to give (declare them in [params])",
                                   value=True)
        out = {}
        for name, v in value.items():
            (fraction,) = self.fractions([v], self._param_line(index, name), f"params.{name}")
            out[name] = (fraction,)
        return out

    def fractions(self, value, line: int, key: str) -> tuple[Fraction, ...]:
        if not isinstance(value, list) or not value:
            raise self._key_at(line, key.rsplit(".", 1)[-1], f"{key} must be a list of fractions like [\"3/4\", "
                               f"\"1/4\"]", value=True)
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise self.error(line, f"{key}: {item!r} is not exact (write \"3/4\" or \"0.75\" in quotes, "
                                       f"not the TOML number 0.75)")
            text = str(item).strip()
            written = item if isinstance(item, str) else text  # the caret goes under the quoted value
            if len(text) > MAX_NUMBER_CHARS:  # quoted cut, with "...": as cut it may read as a fine number (rt30)
                raise self._at(line, written, 0, f"{key}: {text[:MAX_NUMBER_CHARS] + '...'!r} is too long ({len(text)} "
                                                 f"characters; an exact number in an example has at most "
                                                 f"{MAX_NUMBER_CHARS}, so that exact arithmetic stays small)")
            if not EXACT_NUMBER.fullmatch(text):
                raise self._at(line, written, 0, f"{key}: {text!r} is not a number like 3/4 or 0.25")
            try:
                out.append(Fraction(text))
            except ZeroDivisionError:
                raise self._at(line, written, text.find("/") + 1, f"{key}: {text!r} divides by zero") from None
        return tuple(out)

    def expectations(self, value, index: int) -> tuple[Relation, ...]:
        line = self.line_of("expect", "example", index)
        if not isinstance(value, dict):
            raise self.error(line, "expect must be a table of \"expression\" = \"exact value\"")
        if len(value) > MAX_EXPECT:
            raise self.error(line, f"too many expected values ({len(value)}; the limit is {MAX_EXPECT})")
        out = []
        for key, expected in value.items():
            if isinstance(expected, dict):  # [example.expect.x]: a sub-table, not a "formula" = "value" entry (rt41)
                first, last = self._table_span("example", index)
                header = dotted_header(key, "example.expect")
                at = next((n for n in range(first, last + 1) if header.match(self.lines[n - 1])), line)
                raise self._key_at(at, key, f"expect: [{'example.expect.' + key[:40]}] is a table; expect holds "
                                            f"entries \"formula\" = \"value\" under one [example.expect] header")
            key_line = self.line_of(key, "example", index) if key else line
            if key_line == self._table_span("example", index)[0]:  # expect."formula" = ..., or under [example.expect]
                key_line = self._part_line(index, "expect", key)
                key_line = self._expect_line(key, line) if key_line == line else key_line
            for text in (key, expected):
                self._no_relation_in_expect(text, key_line)
            out.append(Relation(self.formula(key, key_line, "expect"), "=",
                                self.formula(expected, key_line, "expect")))
        return tuple(out)

    def _no_relation_in_expect(self, text, line: int) -> None:
        """An expect entry's formula or value holds no relation: said so at the relation, `=<` named as
        the other readers name it (rt42 F1: it was told a relation goes in `rel`, a key expect has not)."""
        if not isinstance(text, str):
            return  # formula() says what the value must be
        misspelt = misspelt_relation(text)
        if misspelt is not None:
            wrong = text[misspelt[0]:misspelt[0] + 2]
            raise self._at(line, text, misspelt[0], f"expect: `{wrong}` is not a relation ({MISSPELT_RELATIONS[wrong]} "
                                                    f"is), and {EXPECT_HOLDS}")
        parts = split_relation(text)
        if parts is not None:  # the relation as written (`==`, `!=` too): the run of its characters
            start = text.find(parts[0]) + len(parts[0])
            start += len(text[start:]) - len(text[start:].lstrip())  # the relation, after the left side
            if start > 0 and text[start - 1] == "!":
                start -= 1
            end = start
            while end < len(text) and text[end] in "<>=!":
                end += 1
            raise self._at(line, text, start, f"expect: `{text[start:end]}` is a relation, and {EXPECT_HOLDS}")

    def _expect_line(self, key: str, fallback: int) -> int:
        for number, line in enumerate(self.lines, 1):
            if line.lstrip().startswith((f'"{key}"', f"'{key}'")):
                return number
        return fallback


def _toml_list(values: list) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _toml_value(value: object) -> str:
    """A value as the TOML file writes it (true, 1979-05-27, "all", [1, 2]), for messages: never
    a Python repr (True, datetime.date(1979, 5, 27), 'all'); a long one is cut short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (datetime.date, datetime.time)):  # a datetime is a date
        text = value.isoformat()
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    elif isinstance(value, list):
        text = "[" + ", ".join(_toml_value(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    else:
        text = str(value)
    return text if len(text) <= MAX_SHOWN_VALUE_CHARS else text[:MAX_SHOWN_VALUE_CHARS] + "..."


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", "r": "\r", "e": "\x1b", '"': '"', "\\": "\\"}


def _string_literals(line: str) -> list[tuple[str, list[int]]]:
    """The one-line TOML strings on a line: (decoded text, source column of each character + end).

    Basic strings ("...", with escapes) and literal strings ('...') are decoded so that a
    position in the *value* maps back to the column in the *file*; a multi-line string stops
    the scan (:func:`_multiline_string` reads it, over the lines it spans).
    """
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "#":
            break
        if c in "\"'" and line.startswith(c * 3, i):
            break
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                break
            out.append((line[i + 1:end], list(range(i + 1, end + 1))))
            i = end + 1
        elif c == '"':
            chars, columns = [], []
            i += 1
            while i < len(line) and line[i] != '"':
                start = i
                if line[i] == "\\" and i + 1 < len(line):
                    escape = line[i + 1]
                    if escape in "uU":
                        width = 4 if escape == "u" else 8
                        try:
                            chars.append(chr(int(line[i + 2:i + 2 + width], 16)))
                        except ValueError:
                            chars.append("?")
                        i += 2 + width
                    else:
                        chars.append(_ESCAPES.get(escape, escape))
                        i += 2
                else:
                    chars.append(line[i])
                    i += 1
                columns.append(start)
            out.append(("".join(chars), columns + [i]))
            i += 1
        else:
            i += 1
    return out


_MULTILINE_OPENING = re.compile(r"""=\s*(\"\"\"|''')""")


def _multiline_string(lines: list[str], line: int) -> tuple[str, list[tuple[int, int]]] | None:
    """The multi-line TOML string whose ``\"\"\"`` or ``'''`` follows the ``=`` on `line` (1-based): its
    text as TOML reads it and, for each character and then its end, the (line, column) in the file;
    None when no such string opens there.  A newline right after the opening is not part of the text,
    a backslash ending a line (basic strings) drops the line break and the blanks after it."""
    match = _MULTILINE_OPENING.search(lines[line - 1]) if 0 < line <= len(lines) else None
    if match is None:
        return None
    quote = match.group(1)
    number, i = line, match.end()
    if not lines[number - 1][i:].strip():  # the newline after the opening delimiter is trimmed
        number, i = number + 1, 0
    chars: list[str] = []
    places: list[tuple[int, int]] = []
    while number <= len(lines):
        source = lines[number - 1]
        if source.startswith(quote, i):
            run = len(source[i:]) - len(source[i:].lstrip(quote[0]))
            chars += [quote[0]] * min(run - 3, 2)  # up to two quotes just before the closing are text
            places += [(number, i + k) for k in range(min(run - 3, 2))]
            return "".join(chars), [*places, (number, i + min(run - 3, 2))]
        if i >= len(source):
            chars.append("\n")
            places.append((number, i))
            number, i = number + 1, 0
        elif quote == '"""' and source[i] == "\\" and not source[i + 1:].strip():
            number, i = number + 1, 0  # a line-ending backslash: skip the break and the blanks that follow
            while number <= len(lines) and not lines[number - 1][i:].strip():
                number += 1
            if number <= len(lines):
                i = len(lines[number - 1]) - len(lines[number - 1].lstrip())
        elif quote == '"""' and source[i] == "\\":
            escape = source[i + 1]
            width = {"u": 4, "U": 8}.get(escape, 0)
            try:
                decoded = chr(int(source[i + 2:i + 2 + width], 16)) if width else _ESCAPES.get(escape, escape)
            except ValueError:
                decoded = "?"
            chars.append(decoded)
            places.append((number, i))
            i += 2 + width
        else:
            chars.append(source[i])
            places.append((number, i))
            i += 1
    return None


def _q_text(density: Density, data: tuple[str, ...]) -> str:
    observation = observation_of(density)
    return "q(z)" if len(data) == 1 else f"q(z | {observation})"


def _fixable_q(lhs: Expr, data: tuple[str, ...]) -> str:
    """The q an assumption with = may fix, in the file's spelling: q(z), or q(z | x2) for `lhs` about x2
    (r(z | x2), say) when the file has several observations -- its first one otherwise (red team rt47 F3:
    the hint said q(z), which such a file refuses)."""
    given = [s.name for s in lhs.given] if isinstance(lhs, Density) else []
    observation = given[0] if given and given[0] in data else data[0]
    return "q(z)" if len(data) == 1 else f"q(z | {observation})"


def _q_column(text: str) -> int:
    """Where the right side of an assumption names q (0 when it cannot be found)."""
    right = text.find("=") + 1
    match = re.compile(r"\bq\s*\(").search(text, right)
    return match.start() if match else 0


def _distribution_of_z(e: Expr) -> bool:
    """A density of z alone (q(z), p(z | x)) or a normal distribution N(m, v)."""
    return isinstance(e, Normal) or (isinstance(e, Density) and e.variables == (z,))


def _gaussian_free_z(e: Expr) -> bool:
    """z occurs in `e` outside every binder (E, KL, H, ELBO bind the one z of the Gaussian family):
    bare (z - mu) or in a density (q(z), p(x | z))."""
    if e == z:
        return True
    if isinstance(e, Density):
        return z in e.variables + e.given
    if isinstance(e, (Expectation, LatentSum, KL, Entropy, ELBO, IWAE, Normal)):
        return False
    return any(_gaussian_free_z(a) for a in e.args)


def _free_column(text: str, is_free: Callable[[Expr], bool], vocabulary: Vocabulary) -> int:
    """Where in `text` the first top-level term for which `is_free` holds starts (0 if none
    parses on its own)."""
    depth, start, bounds = 0, 0, []
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if depth == 0 and ch in "+-" and text[:i].strip():
            bounds.append((start, i))
            start = i + 1
    bounds.append((start, len(text)))
    for a, b in bounds:
        piece = text[a:b]
        try:
            expr = parse_expression(piece.strip(), vocabulary)
        except ParseError:
            continue
        if is_free(expr):
            return a + len(piece) - len(piece.lstrip())
    return 0


def _source_column(source: str, value: str, column: int) -> int | None:
    """The file column of position `column` of `value`, a (part of a) string on this line."""
    literals = _string_literals(source)
    for exact in (True, False):
        for text, columns in literals:
            if (text == value) if exact else (value in text):
                position = text.index(value) + column
                return columns[min(position, len(columns) - 1)]
    return None


def string_position(lines: list[str], line: int, value: str, position: int = 0) -> tuple[int, int] | None:
    """Where character `position` of the string `value` is in the file `lines`: (line, column) of a
    one-line string written on `line` or on one of the few lines after it (a list spanning lines);
    None when no such string is there.  The readers of elbo-sym.toml and of decks point their
    carets with it, as the derivation reader does (:meth:`_Reader._value_at`); in a multi-line string
    (three quotes) opened on `line`, on the line of that character (rt42 F6: a title's was put
    on its first line)."""
    string = _multiline_string(lines, line)
    if string is not None and value in string[0]:
        text, places = string
        return places[min(text.index(value) + position, len(places) - 1)]
    for number in range(line, min(len(lines), line + 8) + 1):
        column = _source_column(lines[number - 1], value, position)
        if column is not None:
            return number, column
    return None


def prose_formula(text: str, vocabulary: Vocabulary) -> Expr:
    """A ``$...$`` formula of prose: an expression of the vocabulary (ParseError, with the
    column in `text`, otherwise). A relation is refused: printed in prose it would be a
    statement nobody checked -- it belongs in the claim or a step."""
    parts = split_relation(text)
    if parts is not None:
        column = len(parts[0]) + (len(text) - len(text.lstrip()))
        raise ParseError(f"a relation ({parts[1]}) in prose would be printed unchecked: state it as the claim "
                         "or a step, or write it in words", column, parts[1])
    return parse_expression(text, vocabulary)


def prose_claim(text: str, vocabulary: Vocabulary) -> tuple[Expr, str, Expr]:
    """A claim ``a <= b`` written as a ``$...$`` formula of a card's text: both sides parsed
    (ParseError with the column in `text`); the caller checks it (elbo_sym.lesson.practice)."""
    parts = split_relation(text)
    if parts is None:
        raise ParseError("a claim needs exactly one relation (=, <=, >=, <, >)", 0)
    left, rel, right = parts
    right_at = len(text.rstrip()) - len(right)
    sides = []
    for side, at in ((left, len(text) - len(text.lstrip())), (right, right_at)):
        try:
            sides.append(parse_expression(side, vocabulary))
        except ParseError as error:
            raise ParseError(error.message, at + (error.column or 0), error.token) from None
    return sides[0], rel, sides[1]


def constant_name_message(name: str, what: str) -> str:
    """Why a SymPy constant's name cannot name an observation or a parameter."""
    return (f"{name!r} cannot name {what}: SymPy reads it as a constant ({', '.join(CONSTANT_NAMES)}: Euler's "
            f"number, pi, the imaginary unit, infinity, complex infinity, not a number), so it would print or mean "
            f"something else; choose another name")


def reserved_prefix_rule() -> str:
    """Why a name starting with a :data:`TABLE_PREFIXES` entry (pi_z, qstar_old) cannot name a parameter:
    the models' tables use such names for their own symbols, so the name would mean one of them."""
    starts = " or ".join(TABLE_PREFIXES)
    return (f"names starting with {starts} are reserved: they are the model tables' own symbols (pi_z, pi_0 for "
            f"the prior p(z); qstar_z, qstar_0 for q_star(z)), so the name would mean one of them; choose another "
            f"(prior_z, weight_old)")


EXPECT_HOLDS = 'an expect entry holds none: "formula" = "exact value", one exact value per formula'
"""How an example's expect entry is written, for the message about a relation inside one."""
MISSPELT_RELATIONS = {"=<": "<=", "=>": ">="}
"""Relations written the other way round, and how they are written (a step's `rel` says so too)."""


def misspelt_relation(text: str) -> tuple[int, str] | None:
    """The position of the first top-level ``=<`` or ``=>`` in `text` and the message that names its
    spelling (rt41 F10: a claim with one misspelt relation was told it "needs exactly one relation",
    with the caret at the formula's start); None when there is none."""
    depth = 0
    for i, c in enumerate(text):
        depth += (c in "([") - (c in ")]")
        wrong = text[i:i + 2]
        if depth == 0 and wrong in MISSPELT_RELATIONS:
            return i, f"`{wrong}` is not a relation: write {MISSPELT_RELATIONS[wrong]}"
    return None


def split_premise(text: str) -> tuple[str, str, str] | None:
    """Split an assumption at its one top-level relation, `!=` included (a relation of
    `split_relation` otherwise); None when there is not exactly one."""
    depth, found = 0, []
    for i, c in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if depth == 0 and text.startswith("!=", i):
            found.append(i)
    if not found:
        return split_relation(text)
    if len(found) != 1 or split_relation(text[:found[0]] + text[found[0] + 2:]) is not None:
        return None
    return text[:found[0]].strip(), "!=", text[found[0] + 2:].strip()


def split_relation(text: str) -> tuple[str, str, str] | None:
    """Split 'a >= b' at its one top-level relation; None when there is not exactly one."""
    depth, found = 0, []
    i = 0
    while i < len(text):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c in "<>=":
            two = text[i:i + 2]
            if two in ("<=", ">=", "=="):
                found.append((i, two if two != "==" else "="))
                i += 2
                continue
            found.append((i, c))
        i += 1
    if len(found) != 1:
        return None
    position, rel = found[0]
    width = 1 if len(rel) == 1 and text[position:position + 2] != "==" else 2
    return text[:position].strip(), rel, text[position + width:].strip()

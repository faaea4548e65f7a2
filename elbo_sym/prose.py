"""Author prose -- titles, summaries, step notes, card texts: what may be printed, and how.

Prose from a file reaches two printers: pdflatex (T1 fonts, utf8 input) and the terminal.
Neither may be handed something it cannot print or that acts on it, so prose is checked
when the file is loaded (:func:`check_prose`), where the error can name file and line:

* printable ASCII, tab and line breaks pass (TeX specials are escaped later, when printed);
* what pdflatex sets in text mode passes: Latin-1 letters and punctuation (no-break space
  included), Latin Extended-A (but nine letters T1 lacks), the Romanian Ș ș Ț ț, dashes, curly quotes,
  the ellipsis ... (:data:`TEXT_CHARACTERS`);
* Greek letters that LaTeX has (alpha ... Omega), the script l and common symbols
  (<= >= != ~ infinity -> x ...) are typeset as math (:data:`MATH_CHARACTERS`);
* everything else is refused with its code point: control characters (C0, DEL, C1),
  invisible formatting characters (bidi overrides, zero-width characters, the soft hyphen,
  the byte order mark), line and paragraph separators, emoji and other symbols.

Prose is inline text: a line break (and any run of spaces around it) becomes one space. A
blank line is a paragraph break where a field may have paragraphs (a summary, a card's
back); inline fields (a title, a step's note) print it as a space, so a blank line can
never end a paragraph inside a formula block.

Math in prose: ``$...$`` spans hold expressions of the derivation vocabulary
(``$KL(q(z), p(z | x))$``); :func:`split_math` finds them, the loader parses each with the
same safe parser and the handouts print them with the one printer. ``\\$`` is a dollar
sign. Outside the spans everything is text, escaped when printed: raw LaTeX is impossible,
and plain prose is never turned into math (``log p(x) = q(z) - 1`` prints as those words).
Each field has a length limit and no word may be longer than ``MAX_WORD_CHARS`` (TeX cannot
break it).

Only checked math is typeset, so a relation may not sit in or beside a formula: a relation
sign (:func:`is_relation`: any Unicode relation, ``= < > ~ ≤ ≥ ≠ ≡ ≈ ∝ ∼ ⇔ → ∈ ...``) inside
``$...$`` or anywhere in the text of a field (a title, a summary, a note) that holds a
formula is refused with its position -- ``$log(p(x))$ ≡ $ELBO(q) + 1$`` would look like a
checked statement.  A relation in a field without formulas is text (``x = 1``, as written).
Flashcard and self-check texts (``claims=True``) go further: there a relation is either a
formula ``$a <= b$`` (ASCII = <= >= < >), which the deck loader parses and checks as a claim
of the card, or refused -- a card's text never states a relation nobody checked.  A relation
spelled without its sign counts as the sign wherever the sign is refused
(:func:`spelled_relation`: an HTML character reference such as ``&gt;`` or ``&#8804;``, a TeX
command such as ``\\leq``, ``\\ge``, ``\\neq``, ``\\lt``): a page that decodes entities or a
MathJax that reads TeX would print it.  Fields that nothing checks and every card shows (a
card's topic, a deck's title and summary) hold no relation in any form (:func:`first_relation`).

:func:`terminal_safe` escapes what must not reach a terminal raw (control and formatting
characters, lone surrogates from undecodable file names) as ``\\uXXXX``.

A test builds one PDF holding every allowed non-ASCII character (tests/test_prose.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from elbo_sym.limits import MAX_WORD_CHARS, POINTER_CONTEXT_CHARS

__all__ = ["MATH_CHARACTERS", "TEXT_CHARACTERS", "TEX_RELATIONS", "PARAGRAPH", "ProseError", "ProseSpan", "allowed",
           "AUTHOR_CLASSES", "TEX_SIGNS", "character_references", "check_prose", "first_relation", "html_text",
           "WordedRelation", "worded_relations",
           "inline", "is_relation", "make_safe", "relation_characters", "source_pointer",
           "spelled_relation", "split_math", "terminal_safe", "TerminalSafeStream", "counted",
           "sentence"]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number, for every printed count: "1 case", "3 cases" (rt4: "1 cases")."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def sentence(text: str) -> str:
    """``text`` as a sentence starting with a capital: after a bold run-in head ("**Integrability.** For
    densities, ..."; rt4 saw "for"), where the engine's words may start lowercase."""
    return text[:1].upper() + text[1:]

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "varepsilon", "ϵ": "epsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ϑ": "vartheta", "ι": "iota", "κ": "kappa", "λ": "lambda",
    "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ϖ": "varpi", "ρ": "rho", "ϱ": "varrho", "σ": "sigma",
    "ς": "varsigma", "τ": "tau", "υ": "upsilon", "φ": "varphi", "ϕ": "phi", "χ": "chi", "ψ": "psi",
    "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma",
    "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}

MATH_CHARACTERS: dict[str, str] = {
    "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "−": "-",
    "×": r"\times", "·": r"\cdot", "∞": r"\infty", "→": r"\to", "←": r"\leftarrow",
    "⇒": r"\Rightarrow", "⇔": r"\Leftrightarrow", "‖": r"\|", "∑": r"\sum",
    "∏": r"\prod", "∫": r"\int", "∈": r"\in", "∂": r"\partial", "∇": r"\nabla",
    "√": r"\surd", "±": r"\pm", "∝": r"\propto", "≡": r"\equiv", "∼": r"\sim", "ℓ": r"\ell",
    **{letter: "\\" + name for letter, name in _GREEK.items()},
}
"""Characters pdflatex cannot set in text but math can: printed as ``\\ensuremath{...}``."""

ROMANIAN_LETTERS = "ȘșȚț"
"""S and T with comma below (U+0218-U+021B, Latin Extended-B): T1 sets them (t1enc.dfu), and Romanian names
need them (rt44 F7: a roster refused "Ștefan")."""
_LATIN_EXTENDED_A_MISSING = {0x126, 0x127, 0x138, 0x13F, 0x140, 0x149, 0x166, 0x167, 0x17F}  # not in T1
TEXT_CHARACTERS: frozenset[str] = frozenset(
    [chr(c) for c in range(0xA0, 0x100) if c != 0xAD]  # Latin-1, without the soft hyphen
    + [chr(c) for c in range(0x100, 0x180) if c not in _LATIN_EXTENDED_A_MISSING]
    + list(ROMANIAN_LETTERS)
    + list("–—‘’‚“”„†‡•…‰‹›€™")
) - MATH_CHARACTERS.keys()
"""Non-ASCII characters pdflatex sets in text mode (T1/TS1 through utf8 input)."""

_WHITESPACE = " \t\r\n"
_LINE_BREAKS = re.compile(r"[ \t]*[\r\n][ \t\r\n]*")
_WORD = re.compile(r"[^ \t\r\n]+")
_ASCII_PROSE = re.compile(r"[\t\n\r\x20-\x7e]*")
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x0B: "VERTICAL TAB", 0x0C: "FORM FEED",
                  0x1B: "ESC", 0x7F: "DEL", 0x85: "NEXT LINE", 0x9B: "CONTROL SEQUENCE INTRODUCER"}


_ARROW_BLOCKS = ((0x2190, 0x21FF), (0x27F0, 0x27FF), (0x2900, 0x297F))
"""Arrows, Supplemental Arrows-A and -B: every character there is a relation (->, =>, <=>)."""
_RELATION_NAME = re.compile(
    r"EQUAL|EQUIVALENT|IDENTICAL|LESS|GREATER|TILDE|ALMOST|ASYMPTOTIC|APPROX|PROPORTION|PRECEDE|SUCCEED|"
    r"SUBSET|SUPERSET|ELEMENT OF|CONTAIN|MEMBER|DIVIDE|PARALLEL|PERPENDICULAR|BETWEEN|SIMILAR|CONGRUENT|"
    r"EQUIANGULAR|MEASURED BY|CORRESPONDS|ESTIMATES|TACK|TURNSTILE|TRUE|FORCE|PROVE|ASSERTION|MODELS|"
    r"NORMAL SUBGROUP|ARROW|HARPOON|RATIO|THEREFORE|BECAUSE|EXCESS|HOMOTHETIC|LAZY S|SINE WAVE|BOWTIE|"
    r"ORIGINAL OF|IMAGE OF|MULTIMAP|APPROACHES")
"""Words of the Unicode names of relation symbols (Sm) in Mathematical Operators (2200-22FF),
Supplemental Mathematical Operators (2A00-2AFF), Miscellaneous Mathematical Symbols and ASCII
(= < > ~): "LESS-THAN OR EQUAL TO", "IDENTICAL TO", "ALMOST EQUAL TO", "PROPORTIONAL TO",
"TILDE OPERATOR", "MUCH GREATER-THAN", "ELEMENT OF", "DOES NOT DIVIDE", "MODELS", ..."""


RELATION_LOOKALIKES = frozenset("‹›«»|‖¬")
"""Signs Unicode files as punctuation or symbols, not relations, that read as one between two
formulas: the angle quotes as < > << >>, the bars as "divides" and "parallel", ¬ as "not".
Refused beside a formula (outside it); inside one the parser decides (``p(z | x)``)."""


@functools.lru_cache(maxsize=4096)
def is_relation(ch: str) -> bool:
    """Whether `ch` is a relation sign, from Unicode data: a math symbol (category Sm) whose
    name says relation (:data:`_RELATION_NAME`), or any arrow (the arrow blocks; symbols of
    other blocks named ARROW or HARPOON)."""
    code = ord(ch)
    if any(low <= code <= high for low, high in _ARROW_BLOCKS):
        return True
    category = unicodedata.category(ch)
    name = unicodedata.name(ch, "")
    if category == "So":
        return "ARROW" in name or "HARPOON" in name
    return category == "Sm" and _RELATION_NAME.search(name) is not None


@functools.cache
def relation_characters() -> frozenset[str]:
    """Every relation sign of Unicode (:func:`is_relation`), for tests and documentation."""
    return frozenset(chr(c) for c in range(0x20, 0x30000) if is_relation(chr(c)))


TEX_RELATIONS = frozenset(
    "le leq leqq leqslant lt ge geq geqq geqslant gt ne neq eq equiv approx approxeq sim simeq cong doteq "
    "propto asymp ll gg lll ggg lesssim gtrsim lessgtr gtrless prec succ preceq succeq in notin ni owns "
    "subset subseteq supset supseteq sqsubset sqsubseteq sqsupset sqsupseteq models vdash dashv mid nmid "
    "parallel nparallel perp bowtie to gets iff implies impliedby mapsto longmapsto therefore because "
    "nless ngtr nleq ngeq nsim ncong neg lnot coloneqq eqqcolon triangleq".split())
"""TeX control words that typeset a relation (``\\leq``, ``\\ge``, ``\\neq``, ``\\lt``, ...; any
word with "arrow" or "harpoon" in it counts too): printed by a renderer that reads TeX (MathJax,
KaTeX) they would state a relation nobody checked."""
_SPELLED = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});?|\\([A-Za-z]+)")


def spelled_relation(text: str) -> tuple[int, str] | None:
    """The first relation written without its sign, and where: an HTML character reference
    that decodes to one (``&gt;``, ``&#8804;``, ``&le;``) or a TeX relation command
    (:data:`TEX_RELATIONS`); None when there is none.  Such a spelling is refused wherever the
    sign itself would be: a page that decodes entities or a MathJax that reads TeX would print
    the relation, unchecked."""
    import html

    for match in _SPELLED.finditer(text):
        word = match.group(1)
        if word is not None:
            lowered = word.lower()
            if word in TEX_RELATIONS or "arrow" in lowered or "harpoon" in lowered:
                return match.start(), match.group()
        elif any(is_relation(ch) for ch in html.unescape(match.group())):
            return match.start(), match.group()
    return None


def first_relation(text: str) -> tuple[int, str] | None:
    """The first relation in `text` in any form -- a sign (:func:`is_relation`, inside ``$...$``
    or not) or a spelling of one (:func:`spelled_relation`) -- and where; None when there is none.
    For fields that state nothing, a card's topic: printed on every card's front, never checked."""
    sign = next(((i, ch) for i, ch in enumerate(text) if is_relation(ch)), None)
    spelled = spelled_relation(text)
    found = [f for f in (sign, spelled) if f is not None]
    return min(found) if found else None


class ProseError(ValueError):
    """Prose that cannot be printed; ``position`` is the index of the offending character."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


def allowed(ch: str) -> bool:
    """Whether `ch` may appear in prose (printed as is, or through math)."""
    return ("\x20" <= ch <= "\x7e" or ch in _WHITESPACE or ch in TEXT_CHARACTERS or ch in MATH_CHARACTERS)


def describe(ch: str) -> str:
    """``U+001B (ESC)``: a character's code point and name."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "")
    if not name:
        category = unicodedata.category(ch)
        name = {"Cc": "a control character", "Cs": "a lone surrogate", "Co": "a private-use character",
                "Cn": "an unassigned code point"}.get(category, category)
    return f"U+{code:04X} ({name})"


def _refusal(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs"):
        return f"control character {describe(ch)} cannot be printed: remove it"
    if category == "Cf":
        return (f"invisible formatting character {describe(ch)} (it can reorder or hide text): "
                f"remove it")
    if category in ("Zl", "Zp"):
        return f"{describe(ch)} is not an ordinary line break: use a plain line break or a space"
    if category == "Zs":
        return f"space character {describe(ch)} cannot be typeset: use an ordinary space"
    return (f"character {describe(ch)} cannot be typeset in the handouts: write it in words "
            f"(Latin letters, Greek letters, and symbols such as ≤ ≥ ≠ ≈ ∞ → × · are fine)")


def check_prose(text: str, limit: int, what: str, claims: bool = False) -> str:
    """`text` as inline prose, or ProseError naming the problem (and its position in `text`).

    `limit`: most characters allowed; `what`: the field, for the message ("why", "title");
    `claims`: a card's text (:func:`split_math`).
    Line breaks (with the spaces around them) become one space; ends are stripped.
    """
    if len(text) > limit:
        raise ProseError(f"{what} is {len(text):,} characters long; the limit is {limit:,} (shorten it)", limit)
    if not _ASCII_PROSE.fullmatch(text):
        for position, ch in enumerate(text):
            if not allowed(ch):
                raise ProseError(f"{what}: {_refusal(ch)}", position)
    for word in _WORD.finditer(text):
        if len(word.group()) > MAX_WORD_CHARS:
            start = word.group()[:20]
            # spaces in a formula's source change nothing in how TeX sets it (red team rt31)
            helps = ("TeX breaks a formula only after a + or - and spaces in it change nothing: write it as "
                     "shorter formulas with words between them" if _in_formula(text, word.start(), word.end())
                     else "TeX cannot break it across lines: add spaces")
            raise ProseError(f"{what}: the word starting {start!r}... is {len(word.group()):,} characters long; "
                             f"the limit is {MAX_WORD_CHARS} ({helps})", word.start())
    try:
        split_math(text, claims)  # an unclosed $, a relation: an error here, where the file and line are known
    except ProseError as error:
        raise ProseError(f"{what}: {error.message}", error.position) from None
    return _PARAGRAPHS.sub(PARAGRAPH, _LINE_BREAKS.sub(_line_break, text).strip())


PARAGRAPH = "\n\n"
"""How a checked prose field keeps a paragraph break (a blank line in the file)."""
_PARAGRAPHS = re.compile(r"(?:\n\n)+")


def _line_break(match: re.Match) -> str:
    """A run of spaces and line breaks: a paragraph break if it holds a blank line, else a space."""
    return PARAGRAPH if len(re.split(r"\r\n|\r|\n", match.group())) >= 3 else " "


AUTHOR_CLASSES = "tex2jax_ignore mathjax_ignore"
"""The classes that keep MathJax out of author prose: ``mathjax_ignore`` is what MathJax 3 and 4 skip
by default (Anki's review screen runs MathJax 3.2 with that default, ts/mathjax/index.ts; Moodle's
filter MathJax 4), ``tex2jax_ignore`` what MathJax 2 skipped (the classic notebook)."""
TEX_SIGNS = re.compile(r"[{}$\\[]")
"""What no reader of author prose may take for markup: TeX's braces, dollars and backslashes (a MathJax
delimiter, a Moodle filter's braces) and ``[`` (Anki's own ``[latex]``, ``[$]``, ``[sound:...]``)."""


def character_references(escaped: str, signs: re.Pattern[str] = TEX_SIGNS) -> str:
    """HTML text with each of `signs` as a character reference (``&#36;`` for ``$``): shown as typed,
    never read as markup."""
    return signs.sub(lambda sign: f"&#{ord(sign.group(0))};", escaped)


def html_text(text: str) -> str:
    """Author prose as HTML that shows as typed wherever it goes (notebooks, Anki's fields, Moodle's
    questions): escaped, in a span of :data:`AUTHOR_CLASSES`, its :data:`TEX_SIGNS` as character
    references -- no MathJax delimiter (``\\(``, ``\\[``), no Moodle filter brace, and none of the tags
    Anki itself replaces in a field before MathJax runs (rslib latex.rs and text.rs: ``[latex]``,
    ``[$]`` and ``[$$]`` become LaTeX images, ``[sound:...]`` a player) can be read in it."""
    import html

    if not text:
        return ""
    return f'<span class="{AUTHOR_CLASSES}">{character_references(html.escape(text, quote=False))}</span>'


def inline(text: str) -> str:
    """Line breaks and the spaces around them as one space, ends stripped (never a paragraph break)."""
    return _LINE_BREAKS.sub(" ", text).strip()


@dataclass(frozen=True)
class ProseSpan:
    """A piece of prose: ``kind`` "text", "math" (an expression's source, without the $) or
    "paragraph"; ``position`` its index in the field (for error carets)."""

    kind: str
    text: str
    position: int


_MATH_SPAN = re.compile(r"\\\$|\$|(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)")
"""A literal dollar, a formula's dollar, or a blank line (also with spaces on it: what
:func:`check_prose` turns into a paragraph break)."""
_CLAIM_RELATIONS = frozenset("<=>")
"""Relations a card's claim may be written with inside ``$...$``: = <= >= < > (and ==)."""


def _in_formula(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is or touches a ``$...$`` formula: a ``$`` (not ``\\$``) in it, or an
    odd number of them before it."""
    dollars = [m.start() for m in re.finditer(r"(?<!\\)\$", text[:end])]
    return any(d >= start for d in dollars) or sum(d < start for d in dollars) % 2 == 1


def split_math(text: str, claims: bool = False) -> list[ProseSpan]:
    """`text` cut into text, ``$math$`` and paragraph spans; ProseError on an unclosed ``$``,
    an empty ``$$``, or a relation sign inside a formula or in the text of a field that
    holds one (module docstring). ``\\$`` is a literal dollar sign.  `claims` (card texts):
    ``= <= >= < >`` may stand inside a formula, which the caller checks as a claim, and a
    relation sign anywhere else in the text is refused."""
    spans: list[ProseSpan] = []
    buffer, start, math_at = [], 0, None
    position = 0
    for match in _MATH_SPAN.finditer(text):
        piece = text[position:match.start()]
        position = match.end()
        token = match.group()
        if math_at is None:
            buffer.append(piece)
            if token == "\\$":
                buffer.append("$")
                continue
            if "".join(buffer):
                spans.append(ProseSpan("text", "".join(buffer), start))
            buffer = []
            if token not in ("$", "\\$"):
                spans.append(ProseSpan("paragraph", "", match.start()))
                start = match.end()
            else:
                math_at = match.start()
        else:
            buffer.append(piece)
            if token != "$":
                raise ProseError("a $...$ formula must end on the same paragraph, with a $; write \\$ for a "
                                 "dollar sign", math_at)
            raw = "".join(buffer)
            source = raw.strip()
            if not source:
                raise ProseError("empty formula $$: put an expression between the dollar signs, or write \\$ "
                                 "for a dollar sign", math_at)
            spans.append(ProseSpan("math", source, math_at + 1 + len(raw) - len(raw.lstrip())))
            buffer, math_at, start = [], None, match.end()
    if math_at is not None:
        raise ProseError("unclosed $: a formula is written $KL(q(z), p(z))$; write \\$ for a dollar sign", math_at)
    buffer.append(text[position:])
    if "".join(buffer):
        spans.append(ProseSpan("text", "".join(buffer), start))
    _refuse_unchecked_relations(text, spans, claims)
    return spans


def _refuse_unchecked_relations(text: str, spans: list[ProseSpan], claims: bool) -> None:
    """ProseError at the first relation sign that would be printed unchecked (see split_math).
    The whole field counts, not one paragraph: a title or a note prints a blank line as a space."""
    has_formula = any(span.kind == "math" for span in spans)
    for span in spans:
        if span.kind == "math":
            for i, ch in enumerate(span.text):
                if is_relation(ch) and not (claims and ch in _CLAIM_RELATIONS):
                    sign, at = _as_written(span.text, i)
                    raise ProseError(_inside_message(sign, claims), span.position + at)
        elif span.kind == "text" and (has_formula or claims):
            for i, ch in enumerate(span.text):
                if is_relation(ch) or (has_formula and ch in RELATION_LOOKALIKES):
                    sign, at = _as_written(span.text, i) if is_relation(ch) else (ch, i)
                    raise ProseError(_beside_message(sign, claims), _text_position(text, span.position, at))
            spelled = spelled_relation(span.text)
            if spelled is not None:
                raise ProseError(_beside_message(spelled[1], claims), _text_position(text, span.position, spelled[0]))


_LEADING_ADVERBS = ("always", "therefore", "thus", "hence", "then")
"""Adverbs before the verb: "$A$ always equals $B$", "$A$ thus exceeds $B$"."""
_ADVERBS = ("always", "exactly", "then", "therefore", "thus", "hence")
"""Adverbs after "is" / "equals": "$A$ is always at least $B$"."""
_PHRASES = ("equal to", "the same as", "at least", "at most", "below", "above")
"""What follows "is" (or "equals"), besides a comparative: "$A$ is at most $B$"."""
_COMPARATIVES = ("greater", "less", "larger", "smaller", "bigger", "more")
"""Comparatives of "is [no] X than [or equal to]" and "is never X than"."""
_NEVER = ("below", "above", *(f"{word} than" for word in _COMPARATIVES))
"""What "is never" takes: "$A$ is never below $B$" (>=).  Not "is never" alone or "never equals" (!=)."""
_VERBS = ("is", "equals", "exceeds")


def _any_of(phrases: tuple[str, ...]) -> str:
    """A regex alternative of the phrases, any run of spaces between their words."""
    return "(?:" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases) + ")"


_RELATION_WORDS = re.compile(
    rf"(?:{_any_of(_LEADING_ADVERBS)}\s+)?"
    rf"(?:exceeds|is\s+never\s+{_any_of(_NEVER)}"
    rf"|(?:is|equals)(?:\s+{_any_of(_ADVERBS)})?"
    rf"(?:\s+(?:{_any_of(_PHRASES)}|(?:no\s+)?{_any_of(_COMPARATIVES)}\s+than(?:\s+or\s+equal\s+to)?))?)",
    re.IGNORECASE)
"""A relation in words, the whole text between two formulas: "is", "equals", "exceeds", "is equal to", "is at
least", "is no greater than", "always equals", "is never below", "is always less than or equal to" -- a short
list of shapes (a warning must not cry wolf; docs/03 lists exactly these)."""
_QUALIFIER_WORDS = ("for every", "for all", "for each", "for any", "in general", "always", "everywhere")
_QUALIFIERS = re.compile(rf"{_any_of(_QUALIFIER_WORDS)}\b", re.IGNORECASE)
"""What may follow ``$B$`` and still end the statement: "$A$ is at least $B$ for every q." (red team rt56 F1)."""
_BIGGER = frozenset({"greater", "larger", "more", "bigger", "above", "exceeds"})
_SMALLER = frozenset({"less", "smaller", "below"})
_NEGATED = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}


@dataclass(frozen=True)
class WordedRelation:
    """Prose that states a relation in words between two formulas, ``$A$ is $B$``: nothing checks it
    (a relation *sign* there is refused; words are the author's, so the loader only warns)."""

    left: str
    """The first formula's text (a key of the loader's parsed prose formulas)."""
    words: str
    right: str
    position: int
    """Where the words start in the field."""

    @property
    def rel(self) -> str:
        """The relation the words state: "=", ">=", "<=", ">" or "<" ("no" and "never" negate a comparison)."""
        words = self.words.lower().split()
        if "least" in words or "most" in words:
            rel = ">=" if "least" in words else "<="
        elif _BIGGER.intersection(words) or _SMALLER.intersection(words):
            rel = ">" if _BIGGER.intersection(words) else "<"
            if " or equal to" in " ".join(words):
                rel += "="
        else:
            return "="
        return _NEGATED[rel] if "no" in words or "never" in words else rel


def worded_relations(spans: list[ProseSpan]) -> list[WordedRelation]:
    """Each text span of `spans` (:func:`split_math`'s) that stands between two formulas and is nothing
    but a relation in words (:data:`_RELATION_WORDS`): ``$A$ is $B$``, ``$A$ equals $B$``.  Anything
    more between them (``$A$, which is $B$``, ``$A$ is written $B$``) is not matched: conservative."""
    found = []
    for i, (before, text, after) in enumerate(zip(spans, spans[1:], spans[2:])):
        if (before.kind, text.kind, after.kind) != ("math", "text", "math"):
            continue
        words = text.text.strip()
        preceding = spans[i - 1].text if i > 0 and spans[i - 1].kind == "text" else ""
        following = spans[i + 3].text if i + 3 < len(spans) and spans[i + 3].kind == "text" else ""
        if _RELATION_WORDS.fullmatch(words) and _subject(preceding) \
                and (_complete(following) or _another_relation(spans, i + 3)) \
                and _asserted(*_sentence(spans, i, i + 2)):
            found.append(WordedRelation(before.text, " ".join(words.split()), after.text,
                                        text.position + len(text.text) - len(text.text.lstrip())))
    return found


_PREPOSITIONS = frozenset({"of", "for", "in", "on", "to", "by", "over", "under", "with", "from", "at", "than", "as",
                           "inside", "within", "without", "into", "about"})


def _subject(preceding: str) -> bool:
    """The text before ``$A$`` leaves A the subject: "the q-average of $A$ is $B$" speaks of an average."""
    words = preceding.split()
    return not words or words[-1].lower() not in _PREPOSITIONS


_CONDITIONS = frozenset({"if", "iff", "when", "whenever", "where", "wherever", "whether", "unless", "until", "once",
                         "suppose", "supposing", "assume", "assuming", "provided", "given", "let"})
"""Words that make their sentence a condition or a hypothesis, wherever they stand in it: "the bound is tight
when $q(z)$ is $p(z | x)$", "Suppose $q(z)$ is $p(z | x)$", "If ..., then $a$ is $b$" (a consequent)."""
_CONDITION_PHRASES = (("such", "that"), ("so", "that"), ("in", "case"), ("as", "long", "as"))
"""Phrases that make a condition of their sentence, wherever they stand ("that" alone does not: "Note that
$a$ is $b$" asserts it)."""
_DOUBTS = frozenset({"not", "never", "nor", "false", "wrong", "incorrect", "untrue", "mistake", "mistaken",
                     "might", "may", "could", "would", "perhaps", "maybe", "think", "believe"})
"""Words that deny or doubt their sentence, wherever they stand: "it is wrong to think $a$ is $b$"."""
_DIRECTIVES = frozenset({"show", "prove", "verify", "check", "confirm", "derive", "explain", "exercise",
                         "question"})
"""Words that ask the reader to establish what follows (an exercise) when they open the sentence or a clause
of it before ``$A$`` -- first, after a colon, a comma or a parenthesis, or after a word of
:data:`_DIRECTIVE_LEADS` ("Show that ...", "Exercise: ...", "it remains to show ...").  After a subject they
report a result, which the sentence asserts: "We show that $a$ is $b$" is checked."""
_DIRECTIVE_LEADS = frozenset({"to", "now", "then", "also", "first", "next", "finally", "please", "and"})
_CLAUSE_MARKS = frozenset({":", ",", "("})
_TOKEN = re.compile(r"[A-Za-z]+|[:,(]")
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)[.;!?](?=\s|$)", re.IGNORECASE)
"""Where a sentence ends: ``.``, ``;``, ``!`` or ``?`` before a space or the end of its text span (not in
"e.g.", "i.e.", "cf." or "vs.")."""


def _sentence(spans: list[ProseSpan], first: int, last: int) -> tuple[str, str, str]:
    """The text of the sentence that holds ``spans[first:last + 1]`` (``$A$ is $B$``): its text before them,
    its text after them (formulas left out) and the mark that ends it ("" where the field or its
    paragraph ends first).  A paragraph break ends a sentence."""
    before: list[str] = []
    for span in reversed(spans[:first]):
        if span.kind == "paragraph":
            break
        if span.kind == "text":
            ends = list(_SENTENCE_END.finditer(span.text))
            before.append(span.text[ends[-1].end():] if ends else span.text)
            if ends:
                break
    after: list[str] = []
    for span in spans[last + 1:]:
        if span.kind == "paragraph":
            break
        if span.kind == "text":
            end = _SENTENCE_END.search(span.text)
            after.append(span.text[:end.start()] if end else span.text)
            if end:
                return " ".join(reversed(before)), " ".join(after), end.group()
    return " ".join(reversed(before)), " ".join(after), ""


def _asserted(before: str, after: str, end: str) -> bool:
    """Whether a sentence asserts the relation it holds, given its text `before` and `after` the relation and
    the mark that `end`s it: not a question ("?"), no word of :data:`_CONDITIONS` or :data:`_DOUBTS` and no
    phrase of :data:`_CONDITION_PHRASES` anywhere in it, and no word of :data:`_DIRECTIVES` opening it or a
    clause of it before the relation.  The rule reads the sentence only: a hypothesis ends with its sentence."""
    if end == "?":
        return False
    opening, closing = _TOKEN.findall(before.lower()), _TOKEN.findall(after.lower())
    for tokens in (opening, closing):
        if any(word in _CONDITIONS or word in _DOUBTS for word in tokens):
            return False
        if any(tuple(tokens[i:i + len(phrase)]) == phrase for phrase in _CONDITION_PHRASES
               for i in range(len(tokens))):
            return False
    return not any(word in _DIRECTIVES and (i == 0 or opening[i - 1] in _CLAUSE_MARKS
                                            or opening[i - 1] in _DIRECTIVE_LEADS)
                   for i, word in enumerate(opening))


def _complete(following: str) -> bool:
    """The text after ``$B$`` ends the statement (nothing, or punctuation): "$A$ is $B$ when ..."
    or "$A$ is $B$ times ..." states something else."""
    rest = following.lstrip()
    return not rest or rest[0] in ".,;:)!" or _QUALIFIERS.match(rest) is not None  # not "?": states nothing


def _another_relation(spans: list[ProseSpan], j: int) -> bool:
    """Span `j` (the text after ``$B$``) is "and", and a second relation in words follows it: "$A$ is $B$ and
    $C$ is $D$" states two (red team rt42 F3: the first was never warned); "$A$ is $B$ and $C$" alone may be
    a list, and stays unread."""
    kinds = tuple(s.kind for s in spans[j:j + 4])
    return kinds == ("text", "math", "text", "math") and spans[j].text.strip().lower() == "and" \
        and _RELATION_WORDS.fullmatch(spans[j + 2].text.strip()) is not None


_WRITTEN_RELATIONS = ("<=", ">=", "!=", "==", "=>", "=<", "<>", "->", "<-")
"""Relations typed as two ASCII characters: an error names them so (<=, not its first sign <)."""


def _as_written(text: str, i: int) -> tuple[str, int]:
    """The relation whose sign is `text[i]` as the author typed it, and where it starts: ``<=``
    at the ``<``, ``!=`` at the ``!`` (which is no relation sign alone); one sign otherwise."""
    if i > 0 and text[i - 1:i + 1] in _WRITTEN_RELATIONS:
        return text[i - 1:i + 1], i - 1
    if text[i:i + 2] in _WRITTEN_RELATIONS:
        return text[i:i + 2], i
    return text[i], i


def _inside_message(ch: str, claims: bool) -> str:
    if claims:
        return (f"a relation ({ch}) inside a formula: a card's claim is written with =, <=, >=, < or > "
                f"($ELBO(q) <= log(p(x))$) and checked; other relations cannot be checked: write them in words")
    return (f"a relation ({ch}) inside a formula would be printed unchecked: state it as the claim or a step, "
            f"or write it in words")


def _beside_message(ch: str, claims: bool) -> str:
    if claims:
        return (f"a relation ({ch}) in a card's text would be printed unchecked: write it as a formula "
                f"($a <= b$, checked as a claim of the card) or in words")
    return (f"a relation ({ch}) next to a formula would be printed unchecked: state it as the claim or a step, "
            f"or write it in words (a text with a $...$ formula holds no relation signs outside it)")


def _text_position(text: str, start: int, index: int) -> int:
    """Where the `index`-th character of a text span that starts at `start` is in `text`
    (a ``\\$`` is one character of the span, two of the text)."""
    position = start
    for _ in range(index):
        position += 2 if text.startswith("\\$", position) else 1
    return position


def make_safe(text: str, limit: int, word_chars: int | None = None) -> str:
    """`text` made acceptable to :func:`check_prose` (for prose made from names, e.g. a title
    from a file name): refused characters become spaces, words are cut to `word_chars` (None:
    MAX_WORD_CHARS, read at the call, as check_prose reads it) and the text to `limit` characters."""
    if word_chars is None:
        word_chars = MAX_WORD_CHARS
    kept = "".join(ch if allowed(ch) else " " for ch in text)
    words = [word[:word_chars] for word in inline(kept).split(" ") if word]
    return " ".join(words)[:limit].strip()


_TERMINAL_PLAIN = re.compile(r"[\t\n\x20-\x7e]*")
_TERMINAL_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def terminal_safe(text: str) -> str:
    """`text` with control and formatting characters (and lone surrogates) escaped as ``\\uXXXX``.

    Line breaks and tabs stay.  The escapes are also valid inside a JSON string.
    """
    if _TERMINAL_PLAIN.fullmatch(text):
        return text
    return _TERMINAL_OTHER.sub(_escape_if_unsafe, text)


def source_pointer(source: str, column: int) -> str:
    """An input error's line, indented, with a caret under `column` (0-based) on the line below, as
    every input error prints it: at most POINTER_CONTEXT_CHARS characters around the column are shown
    ("..." marks the cut), control and formatting characters escaped (terminal_safe)."""
    column = max(0, min(column, len(source)))
    start = max(0, min(column - POINTER_CONTEXT_CHARS // 2, len(source) - POINTER_CONTEXT_CHARS))
    end = min(len(source), start + POINTER_CONTEXT_CHARS)
    head = "..." if start > 0 else ""
    tail = "..." if end < len(source) else ""
    before = terminal_safe(source[start:column])
    shown = head + before + terminal_safe(source[column:end]) + tail
    pad = " " * len(head) + "".join(c if c == "\t" else " " for c in before)
    return f"    {shown}\n    {pad}^"


_TERMINAL_OTHER = re.compile(r"[^\t\n\x20-\x7e]")
"""A character outside printable ASCII, tab and newline: only these may need an escape (a report
is mostly ASCII; looking up every character's category made printing the tree's reports slow)."""


def _escape_if_unsafe(match: re.Match) -> str:
    ch = match.group()
    return _escape(ch) if unicodedata.category(ch) in _TERMINAL_UNSAFE else ch


class TerminalSafeStream:
    """A text stream that escapes control and formatting characters (:func:`terminal_safe`).

    File names, option values and anything quoted from a file reach stdout and stderr only
    through it: an escape sequence or a bidi override in a file name is shown as ``\\u001b``,
    never acted on by the terminal.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        safe = terminal_safe(text)
        if self._stream is None:  # the stream was closed before start (`>&-`): Python gives None
            return len(safe)
        try:
            return self._stream.write(safe)
        except UnicodeEncodeError:  # an ASCII terminal (PYTHONIOENCODING=ascii, LC_ALL=C): é as \xe9
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            return self._stream.write(safe.encode(encoding, "backslashreplace").decode(encoding))

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)

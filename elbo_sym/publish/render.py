"""Jinja2 environment, LaTeX escaping and safe, atomic PDF builds.

Trust model: templates and the math printer are trusted; every other string
(titles, "why" prose, file names from derivation files) is not. So every value a
template prints through ``\\VAR{...}`` is LaTeX-escaped by ``finalize`` unless it
is a :class:`LatexMarkup` -- which only the printer (or the ``|latex`` filter in a
template) creates. Escaping fails closed: concatenating a ``LatexMarkup`` with
anything gives a plain ``str`` again, which is escaped.

Jinja returns a macro's or ``caller()``'s output as a plain ``str``; its inner
``\\VAR{}`` values are already escaped, so print it with ``\\VAR{m()|latex}``.

Template syntax (LaTeX-friendly delimiters)::

    \\BLOCK{if x} ... \\BLOCK{endif}      \\VAR{title}      \\#{comment}
    %% for s in steps                  (line statement)
    %# line comment

TeX is run with shell escape off, ``openin_any=p``/``openout_any=p`` (no reading
``/etc/passwd``, no writing outside the build dir), no rc files, in a fresh temp
dir, in its own process group so a timeout kills pdflatex too.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from elbo_sym.files import replace_file
from elbo_sym.limits import BREAKABLE_WORD_CHARS, LAYOUT_TOLERANCE_POINTS
from elbo_sym.prose import MATH_CHARACTERS, TEXT_CHARACTERS, counted

__all__ = [
    "INSTALL_HINT",
    "BuildResult",
    "LatexMarkup",
    "OverfullBox",
    "RenderError",
    "build_pdf",
    "default_environment",
    "find_latexmk",
    "latex_available",
    "latex_escape",
    "make_environment",
    "overfull_boxes",
    "layout_defects",
    "layout_failure",
    "render_template",
    "render_with",
    "smart_punctuation",
    "template_dirs",
    "typeset_prose",
    "write_tex_only",
]

INSTALL_HINT = (
    "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "
    "--no-install-recommends texlive-latex-base texlive-latex-recommended "
    "texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils"
)


class RenderError(Exception):
    """A template could not be loaded or rendered; the message names template and line."""


class LatexMarkup(str):
    """A string that is already LaTeX and must be printed verbatim (trusted output).

    Any str operation (``+``, ``%``, ``.format``) returns a plain ``str``, which is
    escaped again when printed -- marking is never inherited by accident.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"LatexMarkup({str.__repr__(self)})"


# --------------------------------------------------------------------------- escaping

_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # brackets are harmless in text but become an optional argument after
    # \item, \\ or \section; braces keep them literal everywhere
    "[": "{[}",
    "]": "{]}",
    "\t": " ",
    # T1 sets a backquote as an opening quote and joins it into ligatures (?` is ¿, !` is ¡, `` is “)
    "`": r"\textasciigrave{}",
}
_LIGATURE_PAIRS = frozenset({("-", "-"), ("'", "'"), (",", ","), ("\u2018", "\u2018"), ("\u2019", "\u2019")})
"""Two characters the T1 fonts join into one glyph (-- is an en dash, --- an em dash, '' or ’’ a
closing, ‘‘ an opening and ,, a low double quote): an empty group between them keeps text as typed."""

_NEWLINES = re.compile(r"\r\n?")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
# control characters are "invalid characters" to TeX (a hard error)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _unicode_to_latex(ch: str) -> str:
    """A non-ASCII character as LaTeX: as is when pdflatex sets it in text, through math
    when math has it (the tables are in elbo_sym.prose), else dropped when it is invisible
    (controls, formatting characters) or shown as its code point ``[U+1F600]``.

    Prose from files is refused at load time when it holds anything of the last two kinds;
    this keeps everything else (file names, text built in Python) from failing a build.
    """
    if ch in TEXT_CHARACTERS:
        return ch
    if ch in MATH_CHARACTERS:
        return rf"\ensuremath{{{MATH_CHARACTERS[ch]}}}"
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf", "Cs"):
        return ""
    if category in ("Zs", "Zl", "Zp"):
        return " "
    return f"{{[}}U+{ord(ch):04X}{{]}}"


def latex_escape(text: str) -> str:
    """Escape untrusted text so LaTeX prints it literally (T1 or OT1 text mode).

    Every TeX special char becomes a literal glyph, so ``\\input{/etc/passwd}`` or
    ``\\write18{ls}`` is printed, not executed. A single newline stays a space, a
    blank line stays a paragraph break, other control characters are dropped; a
    character pdflatex cannot set is printed as its code point (``[U+1F600]``).  No two
    characters join into a ligature: ``--`` prints as two hyphens, ``?```` as ``?`` and a backquote.
    """
    text = _CONTROL.sub("", _NEWLINES.sub("\n", str(text)))
    out: list[str] = []
    for i, ch in enumerate(text):
        if i and (text[i - 1], ch) in _LIGATURE_PAIRS:
            out.append("{}")
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif ord(ch) > 0x7E:
            out.append(_unicode_to_latex(ch))
        else:
            out.append(ch)
    return _BLANK_LINES.sub("\n\n", "".join(out))


# --------------------------------------------------------------------------- prose typography
#
# An author's prose as a textbook sets it (the one place: typeset_prose, called by
# handouts.prose). Conservative: only the patterns below change; every other character is
# escaped exactly as latex_escape does. tests/test_typography.py pins each rule.

_OPENERS = frozenset(" \t\n([{\u2013\u2014/\u201c\u2018")
_MINUS = "\u2212"
_EN_DASH = "\u2013"
# what may follow a " - " that is a minus sign: a number, a bracket, a call, log, a lone x/z/q
_FORMULA_START = re.compile(r"(?:\d|\(|[A-Za-z]+\(|log\b|[xzq]\b)")
_LONE_VAR_END = re.compile(r"(?<![A-Za-z0-9_])(?:[xzq]\d?|beta|mu|sigma|pi)$")


def smart_punctuation(text: str, before: str = "") -> str:
    """Straight quotes as curly ones and a hyphen-minus as a minus sign or an en dash where it
    is one; every other character unchanged. ``before`` is the character printed just before
    ``text`` ("" at the start of a field; a formula counts as a letter).

    * ``"`` opens (“) at the start or after a space, a bracket or a dash, else closes (”);
      ``'`` opens (‘) there when a letter follows, else it is an apostrophe (’);
    * ``-`` before a digit at the start or after a space or bracket is a minus sign (−85);
    * ``-`` between digits is an en dash (1–3);
    * `` - `` between spaces is a minus sign after a formula-like end (a digit, ``)``, a lone
      x, z or q) when a formula-like start follows (a digit, ``(``, a call, ``log``, a lone
      x, z or q); else an en dash (a pause – like this). Hyphens inside words stay.
    """
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else before
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == '"':
            out.append("\u201c" if prev == "" or prev in _OPENERS else "\u201d")
        elif ch == "'":
            opening = (prev == "" or prev in _OPENERS) and nxt.isalpha()
            out.append("\u2018" if opening else "\u2019")
        elif ch == "-":
            out.append(_hyphen(text, i, prev, nxt))
        else:
            out.append(ch)
    return "".join(out)


def _hyphen(text: str, i: int, prev: str, nxt: str) -> str:
    if nxt.isdigit() and (prev == "" or prev in " \t\n([{="):
        return _MINUS  # -85, (-1)
    if prev.isdigit() and nxt.isdigit():
        return _EN_DASH  # 1-3
    if prev in " \t\n" and nxt in " \t\n":
        left = text[:i].rstrip()
        right = text[i + 1:].lstrip()
        formula_end = bool(left) and (left[-1] in ")]" or left[-1].isdigit() or bool(_LONE_VAR_END.search(left)))
        if formula_end and _FORMULA_START.match(right):
            return _MINUS
        return _EN_DASH
    return "-"


# --------------------------------------------------------------------------- the engine's own words
# "Proved for ..." is written by the engine (elbo_sym.engine.models: a family's describe() and the
# file's [params] intervals), never by an author, so its names and relations are typeset as math:
# "any mu and sigma > 0", "beta >= 1", "the prior N(0, I)" print as μ, σ > 0, β ≥ 1, 𝒩(0, I).
# Author prose never goes through this (typeset_prose): there only $...$ formulas are math.

# p(...), q(...) and KL(...) written as text, with single-letter arguments: typeset as math
_CALL_START = re.compile(r"(?<![A-Za-z0-9_\\])(?:(log) )?(p|q|KL|N)\(")
# x, z, q and the linear-Gaussian model's w, b, s ("any mu, w, b, x and sigma, s > 0": rt38 set w, b, s roman)
_LONE_VAR = re.compile(r"(?<![A-Za-z0-9_\-\u2019'.\\])([xzqwbs])(\d?)(?![A-Za-z0-9_(\u2019'])(?!\.[A-Za-z0-9])")
# Greek letters written out (beta, mu, sigma) and ASCII relations (>=) as their symbols
_GREEK_WORD = re.compile(r"(?<![A-Za-z0-9_\\])(alpha|beta|gamma|epsilon|theta|lambda|mu|sigma|pi|tau|phi)"
                         r"(?![A-Za-z0-9_])")
_ASCII_RELATIONS = ((">=", r"\geq"), ("<=", r"\leq"), ("!=", r"\neq"))
_TIMES = re.compile(r"\d\s*$")
_DIGIT_AFTER = re.compile(r"\s*\d")
_NESTED_CALL = re.compile(r"(p|q|KL)\(")
# one argument: a single letter, maybe with a digit (z1), optionally "= 1" or "= k"; or a number
_ARGUMENT = re.compile(r"([A-Za-z])(\d?)(?![A-Za-z0-9_])(?:\s*=\s*(\d+|[A-Za-z](?![A-Za-z0-9_])))?|(\d+)(?![A-Za-z_])")
_SEPARATORS = (("||", r" \,\|\, "), ("|", r" \mid "), (",", ", "))


def _parse_call(text: str, start: int, name: str) -> tuple[str, int] | None:
    """The LaTeX of a call whose ``(`` ends at ``start``, and where it ends; None unless every
    argument is a single letter (``z = 1`` allowed), a number or such a call."""
    i, n = start, len(text)
    parts: list[str] = []
    nested = False
    while True:
        while i < n and text[i] == " ":
            i += 1
        m = _NESTED_CALL.match(text, i)
        if m:
            inner = _parse_call(text, m.end(), m.group(1))
            if inner is None:
                return None
            parts.append(inner[0])
            i, nested = inner[1], True
        else:
            m = _ARGUMENT.match(text, i)
            if not m:
                return None
            if m.group(4) is not None:
                parts.append(m.group(4))
            else:
                index = f"_{{{m.group(2)}}}" if m.group(2) else ""
                parts.append(m.group(1) + index + (f" = {m.group(3)}" if m.group(3) else ""))
            i = m.end()
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == ")":
            break
        for sep, tex in _SEPARATORS:
            if text.startswith(sep, i):
                parts.append(tex)
                i += len(sep)
                break
        else:
            return None
    body = "".join(parts)
    if name == "KL":
        open_, close = (r"\big(", r"\big)") if nested else ("(", ")")
        return rf"\mathrm{{KL}}{open_}{body}{close}", i + 1
    if name == "N":
        return rf"\mathcal{{N}}({body})", i + 1
    return f"{name}({body})", i + 1


def _math_pieces(text: str) -> list[tuple[bool, str]]:
    """``text`` split into (is_math, piece): calls, lone x/z/q, ``||`` and ``|`` as LaTeX math."""
    pieces: list[tuple[bool, str]] = []
    plain: list[str] = []
    i, n = 0, len(text)

    def emit(tex: str) -> None:
        if plain:
            pieces.append((False, "".join(plain)))
            plain.clear()
        pieces.append((True, tex))

    while i < n:
        m = _CALL_START.match(text, i) if (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_\\")) else None
        if m:
            call = _parse_call(text, m.end(), m.group(2))
            if call is not None:
                emit((r"\log " if m.group(1) else "") + call[0])
                i = call[1]
                continue
        if text.startswith("||", i):
            emit(r"\|")
            i += 2
            continue
        relation = next((tex for ascii_, tex in _ASCII_RELATIONS if text.startswith(ascii_, i)), None)
        if relation is not None:
            emit(relation)
            i += 2
            continue
        if text[i] in "<>" and text[i - 1:i] == " " and text[i + 1:i + 2] == " ":  # "s > 0": a sign, as >= is
            emit(text[i])
            i += 1
            continue
        m = _GREEK_WORD.match(text, i) if i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_\\") else None
        if m:
            emit("\\" + m.group(1))
            i = m.end()
            continue
        if text[i] == "|":
            emit(r"\mid")
            i += 1
            continue
        m = _LONE_VAR.match(text, i)
        if m:
            before_ok = i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_-\u2019'.\\")
            times = m.group(1) == "x" and not m.group(2) and _TIMES.search(text[:i]) and _DIGIT_AFTER.match(text, i + 1)
            if before_ok and not times:
                emit(m.group(1) + (f"_{{{m.group(2)}}}" if m.group(2) else ""))
                i = m.end()
                continue
        plain.append(text[i])
        i += 1
    if plain:
        pieces.append((False, "".join(plain)))
    return pieces


def typeset_domain(text: str) -> str:
    """An engine-written domain description ("every linear-Gaussian model (real z, any mu, ...)")
    as LaTeX: Greek names, ``>=``, ``N(0, I)``, calls such as ``p(z | x)`` and lone x, z, q as math."""
    out = []
    for is_math, piece in _math_pieces(smart_punctuation(str(text))):
        out.append(rf"\({piece}\)" if is_math else latex_escape(piece))
    return "".join(out)


def typeset_prose(text: str, before: str = "") -> str:
    """Author prose (one text run, no ``$...$`` formulas) as LaTeX set like a textbook:
    escaped like :func:`latex_escape`, with curly quotes, minus signs and en dashes
    (:func:`smart_punctuation`).  Prose stays text: nothing in it is turned into math
    (``log p(x) = q(z) - 1`` is printed as those words, never typeset like a checked
    formula); only ``$...$`` formulas, parsed and printed by the one printer, are math.
    ``before``: the character printed just before (see :func:`smart_punctuation`).
    """
    return breakable_words(smart_punctuation(str(text), before))


_WORD = re.compile(r"\S+")


def breakable_words(text: str) -> str:
    """:func:`latex_escape`, with a break allowed (``\\allowbreak``, no hyphen) after every character
    of a word longer than BREAKABLE_WORD_CHARS: a long name or address in a narrow column (or a
    justified heading) wraps instead of running off the page; shorter words are escaped as before."""
    out: list[str] = []
    end = 0
    for word in _WORD.finditer(text):
        if len(word.group()) <= BREAKABLE_WORD_CHARS:
            continue
        out.append(latex_escape(text[end:word.start()]))
        out.append(r"\allowbreak{}".join(latex_escape(character) for character in word.group()))
        end = word.end()
    out.append(latex_escape(text[end:]))
    return "".join(out)


# --------------------------------------------------------------------------- jinja


def _finalize(value: Any) -> str:
    """Escape every printed value unless it is trusted LaTeX."""
    if isinstance(value, LatexMarkup):
        return value
    if value is None:
        raise TypeError("template printed None (a missing value?)")
    return latex_escape(str(value))


def _mark_latex(value: Any) -> LatexMarkup:
    """``|latex``: trust a string as LaTeX (printer output, macro output)."""
    return value if isinstance(value, LatexMarkup) else LatexMarkup(str(value))


def _escape_filter(value: Any) -> LatexMarkup:
    """``|e``: escape now and mark, so ``finalize`` does not escape twice."""
    return value if isinstance(value, LatexMarkup) else LatexMarkup(latex_escape(str(value)))


def _prose_filter(value: Any) -> LatexMarkup:
    """``|prose``: plain text set like a textbook (:func:`typeset_prose`), marked."""
    return value if isinstance(value, LatexMarkup) else LatexMarkup(typeset_prose(str(value)))


def template_dirs() -> list[Path]:
    """Where the shipped ``*.tex.j2`` live (package data, next to this module)."""
    return [Path(__file__).resolve().parent / "templates"]


def make_environment(extra_template_dirs: Iterable[str | os.PathLike[str]] = ()) -> jinja2.Environment:
    """A Jinja2 environment for LaTeX; ``extra_template_dirs`` are searched first."""
    search = [Path(d) for d in extra_template_dirs] + template_dirs()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search]),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
    )
    env.filters["latex"] = _mark_latex
    env.filters["e"] = env.filters["escape"] = _escape_filter
    env.filters["prose"] = _prose_filter
    env.filters["counted"] = counted
    env.filters["domain"] = lambda value: LatexMarkup(typeset_domain(value))
    return env


@functools.lru_cache(maxsize=1)
def default_environment() -> jinja2.Environment:
    """The shared environment over the shipped templates (built once)."""
    return make_environment()


def _template_position(exc: BaseException) -> str:
    """``name:line`` of the innermost template frame in a Jinja traceback."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or "<template>" in filename:
            where = f"{Path(filename).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def render_with(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render template ``name`` in ``env``; any failure becomes a :class:`RenderError`."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.name or exc.filename or name}:{exc.lineno}"
        raise RenderError(f"{where}: template syntax error: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        searched = getattr(env.loader, "searchpath", [])
        raise RenderError(f"template not found: {exc.name} (searched {searched})") from exc
    except Exception as exc:  # UndefinedError, TypeError from finalize, filter errors...
        where = _template_position(exc) or name
        raise RenderError(f"{where}: {type(exc).__name__}: {exc}") from exc


def render_template(name: str, /, **context: Any) -> str:
    """Render a shipped template with ``context``; plain strings are escaped."""
    return render_with(default_environment(), name, context)


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class OverfullBox:
    """Something TeX could not fit: how far it sticks out, the source line (0: unknown) and where
    that is in the handout (the section heading above it and the ``%@`` marker the templates put
    before each chain and table). ``what`` sticks out (a line, a page, a card's front) and which
    way (``wide``: past the right margin; ``high``: past the foot of its page or box)."""

    points: float
    line: int
    section: str
    part: str
    what: str = "a line"
    direction: str = "wide"

    def describe(self) -> str:
        where = ", ".join(w for w in (f"section {self.section!r}" if self.section else "", self.part) if w)
        at = f" at line {self.line}" if self.line else ""
        if not where:
            where = "before the first section" if self.line else "where TeX breaks the page"
        return f"{self.what} is {self.points:.1f}pt too {self.direction}{at} ({where})"


def layout_defects(boxes: Iterable[OverfullBox], *, strict: bool = False) -> tuple[OverfullBox, ...]:
    """The overfull boxes that fail a build: content cut at the paper's edge (more than
    LAYOUT_TOLERANCE_POINTS too wide or too high), or with ``strict`` (ELBO_SYM_STRICT_LAYOUT=1) every one."""
    return tuple(box for box in boxes if strict or box.points > LAYOUT_TOLERANCE_POINTS)


def layout_failure(defects: Sequence[OverfullBox]) -> str:
    """Why a handout with these layout defects was not built (the boxes are printed as warnings)."""
    if any(box.points <= LAYOUT_TOLERANCE_POINTS for box in defects):
        return f"{len(defects)} overfull box(es) and ELBO_SYM_STRICT_LAYOUT=1: the layout fails (see the warnings)"
    return (f"content cut at the paper's edge: {len(defects)} box(es) more than {LAYOUT_TOLERANCE_POINTS:g}pt "
            "too wide or too high (see the warnings)")


@dataclass(frozen=True)
class BuildResult:
    """Outcome of :func:`build_pdf`. On failure ``pdf`` is None and the old PDF is untouched."""

    ok: bool
    pdf: Path | None
    log_excerpt: str
    message: str
    overfull: int = 0
    underfull: int = 0
    seconds: float = 0.0
    overfull_boxes: tuple[OverfullBox, ...] = ()


def find_latexmk() -> str | None:
    """Path of ``latexmk`` on PATH, or None."""
    return shutil.which("latexmk")


def latex_available() -> bool:
    """True if ``latexmk`` and ``pdflatex`` are both on PATH."""
    return find_latexmk() is not None and shutil.which("pdflatex") is not None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same dir + ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, data, sync=True)


def write_tex_only(tex_source: str, out_tex: Path) -> Path:
    """Atomically write the ``.tex`` (used when no TeX engine is installed)."""
    out_tex = Path(out_tex)
    _atomic_write(out_tex, tex_source.encode("utf-8"))
    return out_tex


_ERROR_LINE = re.compile(r"^(?:!|\S+?:\d+: )")
_FILE_LINE = re.compile(r"^(\S+?):(\d+): (.*)")
# follow-up lines TeX prints after the real error
_NOISE = re.compile(r"Emergency stop|==> Fatal error occurred")


def _log_summary(log: str, source: str, max_lines: int = 20) -> tuple[str, str | None]:
    """The error lines of a TeX log (+ up to 3 context lines each) and the first error.

    For ``file:line:`` errors in our own document the offending source line is
    appended, since the temp dir is gone by the time anyone reads the message.
    """
    lines = log.splitlines()
    src_lines = source.splitlines()
    picked: list[str] = []
    first: str | None = None
    shown_src: set[int] = set()
    for i, line in enumerate(lines):
        if not _ERROR_LINE.match(line) or _NOISE.search(line):
            continue
        m = _FILE_LINE.match(line)
        ours = m is not None and m.group(1).endswith("doc.tex")
        if first is None:
            first = f"line {m.group(2)}: {m.group(3)}" if m and ours else line.lstrip("! ")
        picked.append(line)
        for ctx in lines[i + 1 : i + 4]:
            if _ERROR_LINE.match(ctx) or ctx.startswith("Here is how much"):
                break
            if ctx.strip():
                picked.append(ctx)
        if m and ours and 0 < (n := int(m.group(2))) <= len(src_lines) and n not in shown_src:
            shown_src.add(n)
            picked.append(f"[doc.tex line {n}] {src_lines[n - 1].strip()}")
    return "\n".join(picked[:max_lines]), first


_OVERFULL = re.compile(r"^Overfull \\([hv])box \((\d+(?:\.\d+)?)pt too (?:wide|high)\) "
                       r"(?:in paragraph at lines (\d+)--\d+|detected at line (\d+)|in alignment at lines (\d+)--\d+"
                       r"|has occurred while \\output is active)", re.M)
# what a template measured itself (base.tex.j2's \layoutoverflow): a box TeX sets without a warning
# (a TikZ node, a fixed-size card) reported in the log as "elbo-sym layout: WHAT is 12.0pt too high"
# (base.tex.j2's \layoutoverflowat adds the source line TeX was reading: "... too wide at line 212")
_TEMPLATE_OVERFLOW = re.compile(r"^elbo-sym layout: (.+?) is (\d+(?:\.\d+)?)pt too (wide|high)(?: at line (\d+))?"
                                r"(?: in step (\d+))?$", re.M)
_STEP_MARKER = re.compile(r"^%@step (\d+) (.*)")
"""A chain's row: "%@step N FILE:LINE" above it (_macros.tex.j2), named by a template's overflow "in step N"."""
_UNESCAPED = {latex: ch for ch, latex in _SPECIALS.items() if latex.startswith("\\")}
"""latex_escape's commands back to the characters typed (a heading's ``\\&`` is the title's ``&``: rt52 F4)."""
_SECTION = re.compile(r"\\(?:sub)*section\*?\{(.*)")
_MARKER = re.compile(r"^%@ (.*)")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?|[{}$]|\\.")


def _plain(tex: str) -> str:
    """A heading's LaTeX as rough plain text for a message (commands and braces dropped, but
    the names of log, exp and KL kept)."""
    tex = tex.split(r"\hfill", 1)[0].replace(r"\allowbreak{}", "")  # a long word's break points
    for latex, ch in _UNESCAPED.items():  # as typed, kept by the commands' pass below (a NUL never is in TeX)
        tex = tex.replace(latex, f"\0{ord(ch)}\0")
    kept = _TEX_COMMAND.sub(lambda m: m.group(0)[1:] + " " if m.group(0) in (r"\log", r"\exp", r"\KL") else " ",
                            re.sub(r"(?<![A-Za-z])\{\}", "", tex).replace("{[}", "[").replace("{]}", "]"))
    kept = re.sub(r"\0(\d+)\0", lambda m: chr(int(m.group(1))), kept)
    return re.sub(r"\s+", " ", kept).strip(" .").replace("( ", "(").replace(" )", ")")


def _whereabouts(lines: Sequence[str], line: int) -> tuple[str, str]:
    """(section, part) of a source line: the nearest heading and ``%@`` marker above it."""
    section = part = ""
    for number in range(line, 0, -1):
        text = lines[number - 1] if number <= len(lines) else ""
        if not part and (marker := _MARKER.match(text)):
            part = marker.group(1).strip()
        if heading := _SECTION.search(text):
            section = _plain(heading.group(1))
            # the heading itself is too wide: the "%@" line above it names its source (rt31)
            if number == line and number > 1 and (marker := _MARKER.match(lines[number - 2])):
                part = marker.group(1).strip()
            break
    return section, part


def _step_source(lines: Sequence[str], line: int, step: str) -> str:
    """"step N of the chain, FILE:LINE" from the nearest "%@step N" line above `line` ("" if none)."""
    for number in range(min(line, len(lines)), 0, -1):
        if (marker := _STEP_MARKER.match(lines[number - 1])) and marker.group(1) == step:
            return f"step {step} of the chain, {marker.group(2).strip()}"
        if _SECTION.search(lines[number - 1]):
            return ""
    return ""


def overfull_boxes(log: str, source: str) -> tuple[OverfullBox, ...]:
    """Everything of a TeX log that does not fit its place, mapped back to its section and chain or table:
    every overfull ``\\hbox`` (a line past the margin), every overfull ``\\vbox`` (a page or box
    whose content runs past its foot) and every overflow a template measured itself.

    TeX reports a paragraph's first line and a display's last line (``detected at line N``);
    the nearest heading and ``%@`` marker above that line say what it belongs to. A page that
    overflows while TeX outputs it has no source line.
    """
    lines = source.splitlines()
    boxes = []
    for m in _OVERFULL.finditer(log):
        line = int(next((g for g in m.groups()[2:] if g), "0"))
        section, part = _whereabouts(lines, line)
        horizontal = m.group(1) == "h"
        what = "a line" if horizontal else ("a box" if line else "a page's content")
        boxes.append(OverfullBox(float(m.group(2)), line, section, part, what, "wide" if horizontal else "high"))
    for m in _TEMPLATE_OVERFLOW.finditer(log):
        line = int(m.group(4) or 0)
        section, part = _whereabouts(lines, line) if line else ("", "")
        if line and m.group(5):  # the row being set: its "%@step" line, above the display's end
            part = _step_source(lines, line, m.group(5)) or part
        part = ", ".join(p for p in (part, "measured by the template") if p)
        boxes.append(OverfullBox(float(m.group(2)), line, section, part, m.group(1), m.group(3)))
    # amsmath sets a display twice (measuring, then printing): one box reported twice is one box
    return tuple(dict.fromkeys(boxes))


def _latexmk_command(latexmk: str) -> list[str]:
    return [
        latexmk,
        "-norc",  # rc files are Perl: never run them
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        "-no-shell-escape",
        "-pdflatex=pdflatex -no-shell-escape %O %S",
        "doc.tex",
    ]


def _tex_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        openin_any="p",  # no \input{/etc/passwd}, no dotfiles
        openout_any="p",  # no \openout outside the build dir
        shell_escape="f",  # belt and braces with -no-shell-escape
        max_print_line="10000",  # no wrapped log lines: excerpts stay readable
    )
    env.pop("TEXINPUTS", None)
    return env


def build_pdf(tex_source: str, out_pdf: Path, *, timeout: float = 120) -> BuildResult:
    """Compile ``tex_source`` with latexmk into ``out_pdf`` (+ the ``.tex`` beside it).

    Runs in a fresh temp dir with shell escape off and paranoid file access. On
    success both files are replaced atomically; on any failure nothing in the
    output directory changes and the result carries a short log excerpt.
    """
    out_pdf = Path(out_pdf)
    latexmk = find_latexmk()
    if latexmk is None:
        return BuildResult(False, None, "", f"latexmk not found on PATH; install TeX with: {INSTALL_HINT}")
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="elbo-sym-tex-"))
    try:
        (workdir / "doc.tex").write_text(tex_source, encoding="utf-8")
        proc = subprocess.Popen(
            _latexmk_command(latexmk),
            cwd=workdir,
            env=_tex_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: the timeout kills pdflatex too
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return BuildResult(
                False, None, _tail(_read(workdir / "doc.log"), 5),
                f"LaTeX build timed out after {timeout:g} s (killed; an infinite loop in the source?)",
                seconds=time.monotonic() - start,
            )
        log = _read(workdir / "doc.log")
        boxes = overfull_boxes(log, tex_source)
        overfull = len(boxes)
        underfull = log.count("\nUnderfull \\hbox")
        built = workdir / "doc.pdf"
        if proc.returncode != 0 or not built.is_file():
            excerpt, first = _log_summary(log, tex_source)
            cause = first or f"latexmk exited with status {proc.returncode}"
            return BuildResult(
                False, None, excerpt or _tail(log or output.decode("utf-8", "replace")),
                f"LaTeX build failed: {cause}", overfull, underfull, time.monotonic() - start,
            )
        _atomic_write(out_pdf.with_suffix(".tex"), tex_source.encode("utf-8"))
        _atomic_write(out_pdf, built.read_bytes())
        elapsed = time.monotonic() - start
        return BuildResult(True, out_pdf, "", f"wrote {out_pdf}", overfull, underfull, elapsed, boxes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill latexmk and every pdflatex it started, then reap latexmk."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _tail(text: str, n: int = 10) -> str:
    return "\n".join(text.splitlines()[-n:])

"""Course-website pages: the handouts as Markdown for an Astro Starlight site.

``elbo-sym web --out DIR`` writes one Markdown page per handout kind, ready for a Starlight
content folder (``src/content/docs/...``) with ``remark-math`` and ``rehype-katex`` in the
site's Markdown pipeline:

===========================  =================================================================
``derivations.md``           every checked derivation, one section each (chain, notes, result,
                             example values), as ``derivations.pdf``
``worked-example.md``        the worked binary example, every quantity exact, and the figure
``worked-example-elbo.svg``  the figure: ELBO(q) against log p(x) over q_1 (self-written SVG)
``exercises.md``             the seeded exercise sheet; each case's answer key collapsible
``tight-drill.md``           the tight-case drill and the near miss, answers collapsible
``selfcheck.md``             the six questions, answers collapsible
``flashcards.md``            the cards: front shown, back collapsible
``find-the-mistake.md``      teaching files (``expect = "refuted"``) when any are given
``from-the-literature.md``   the published identities (``--literature``), as ``derivations.md``
                             with each step's verdict and rule, when any are given
===========================  =================================================================

**One page for all derivations** (not one per derivation), like ``derivations.pdf``: each
derivation is a second-level heading, so Starlight's "On this page" list and its heading
anchors give every derivation its own link, and no page links to another (relative links
between Starlight pages depend on the site's trailing-slash setting).  Some pages come and go
with the input (``worked-example-2.md`` with a second example, ``find-the-mistake.md`` with a
teaching file, ``from-the-literature.md`` with ``--literature``): :data:`PAGES_MANIFEST` lists
what a run wrote, so the next one removes what it no longer writes (:func:`write_page_set`),
and nothing else.

**The course's title** (a project's ``title``) is the first line of every page
``web --out`` writes (:func:`course_titled_pages`), as it heads every handout; a site shows it
in its header instead.

**One printer.** Every formula is the LaTeX the PDF handouts print: the pages are built from
the same contexts (:func:`elbo_sym.publish.handouts.derivation_context`,
:func:`~elbo_sym.publish.handouts.worked_example_context`, ...), i.e. from the checked
reports of :func:`elbo_sym.report.build.check_file`, and only pass through
:func:`katex_tex`, the one place where LaTeX that KaTeX lacks is mapped. Prose (titles,
summaries, step notes, card texts) comes from the same reports as parts: text is escaped
for Markdown and MDX by :func:`md_text` (a ``<``, ``{``, ``*``, ``_``, ``$`` ... prints
literally, never as markup), and its ``$...$`` formulas are the printer's LaTeX.

**KaTeX.** The handouts' preamble (``templates/base.tex.j2``) defines notation the printer
may rely on (``\\KL``, ``\\ELBO``, ``\\E``, ``\\given``). :data:`KATEX_MACROS` reads those
definitions from that file, and :func:`katex_tex` expands them in every formula, so the pages
need no macro configuration in the site (``rehype-katex`` with its defaults renders them).

**Headings are plain text.** Astro lists a heading in "On this page" (and makes its anchor)
from all of its text, and a KaTeX formula holds its text three times (MathML, the TeX
annotation, HTML): a formula in a heading would read ``q(z)q(z)q(z)`` there. Headings are
therefore plain text (a formula in a derivation's title in the file syntax), recorded in
:attr:`Page.headings` for the tests, which compare them with what Starlight lists.

:mod:`elbo_sym.publish.site` puts these pages into a complete, buildable Starlight site
(``elbo-sym web --site DIR``).

Math is ``$...$`` inline and a ``$$`` fence on its own lines for display. Tables are GFM
tables (``remark-gfm``, on in Astro by default); a ``|`` in a formula inside a table is
written ``\\vert`` so it can never split a cell. Answers are ``<details>`` blocks with blank
lines around their Markdown content (CommonMark HTML blocks; JSX in MDX). Front matter is
YAML with ``title``, ``description`` (double-quoted, escaped by :func:`yaml_string`) and
``sidebar.order``.

Pages are deterministic: the same reports, seed and decks give byte-identical files.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.parse import Vocabulary
from elbo_sym.files import replace_file
from elbo_sym.limits import STEP_BUDGET_SECONDS
from elbo_sym.prose import counted, sentence
from elbo_sym.publish.outputs import plain_name, refuse_to_replace, remove_stale
from elbo_sym.publish.render import LatexMarkup, smart_punctuation
from elbo_sym.report.model import VERDICT_MARK, DerivationReport, Prose

if TYPE_CHECKING:  # for annotations only: the lesson's examples are imported where they are worked out
    from elbo_sym.lesson.examples import WorkedExample

__all__ = [
    "FIGURE_FILE",
    "KATEX_MACROS",
    "PAGES_MANIFEST",
    "Asset",
    "Formula",
    "Page",
    "WebError",
    "course_titled_pages",
    "derivations_page",
    "elbo_svg",
    "exercises_page",
    "flashcards_page",
    "katex_tex",
    "lesson_pages",
    "literature_page",
    "md_text",
    "mistakes_page",
    "our_words",
    "selfcheck_page",
    "tight_drill_page",
    "worked_example_page",
    "write_page_set",
    "write_pages",
    "yaml_string",
]

FIGURE_FILE = "worked-example-elbo.svg"
PAGES_MANIFEST = ".elbo-sym-pages.json"
"""The file in a ``web --out`` folder that lists the pages the last run wrote (elbo_sym.publish.outputs)."""


class WebError(Exception):
    """A page cannot be made (a formula that cannot be written as Markdown math)."""


# --------------------------------------------------------------------------- KaTeX: the one mapping

_BASE_TEMPLATE = Path(__file__).parent / "templates" / "base.tex.j2"
_PROVIDE = re.compile(r"^\\providecommand\{\\([A-Za-z]+)\}\{(.*)\}\s*$")

# LaTeX the printer or the handouts' preamble may use that KaTeX does not know, as KaTeX
# macros (added to the zero-argument definitions read from base.tex.j2). Empty today: every
# command the printer emits (\frac, \mathrm, \mathcal, \mathbb, \big/, \bigl(, \left[, \mid,
# \|, \, ...) is KaTeX's own; tests/test_web.py compiles every formula of every page.
_KATEX_EXTRA: dict[str, str] = {}


def _balanced(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "{}" and i and text[i - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@functools.cache
def _macros() -> dict[str, str]:
    macros: dict[str, str] = {}
    for line in _BASE_TEMPLATE.read_text(encoding="utf-8").splitlines():
        match = _PROVIDE.match(line.strip())
        if match and _balanced(match.group(2)):  # zero-argument definitions only
            macros["\\" + match.group(1)] = match.group(2)
    return {**macros, **_KATEX_EXTRA}


KATEX_MACROS: Mapping[str, str] = _macros()
"""The notation macros of the handouts' preamble, ``{"\\\\KL": "\\\\operatorname{KL}", ...}``
(read from ``templates/base.tex.j2``, the PDFs' definitions), in KaTeX's ``macros`` format."""

_CONTROL_SEQUENCE = re.compile(r"\\(?:[A-Za-z]+|.)", re.DOTALL)


def katex_tex(latex: str) -> str:
    """The printer's LaTeX as KaTeX compiles it without any site configuration: the preamble's
    macros (:data:`KATEX_MACROS`) expanded, a whole control word at a time (``\\E`` in
    ``\\Each`` is not touched), until none is left."""
    tex = str(latex)
    for _ in range(8):  # a definition may use another one
        expanded = _CONTROL_SEQUENCE.sub(lambda m: KATEX_MACROS.get(m.group(0), m.group(0)), tex)
        if expanded == tex:
            return tex
        tex = expanded
    raise WebError(f"macros do not expand to KaTeX's LaTeX (a loop?): {latex!r}")


# --------------------------------------------------------------------------- escaping

# CommonMark lets any ASCII punctuation be backslash-escaped (MDX too). These can start or
# close markup: emphasis, code, links and images, HTML and JSX tags, MDX expressions, math,
# tables, headings, lists, block quotes, entities, strikethrough, setext underlines ('='),
# and directives (':', remark-directive, which Starlight uses for asides). Not markup: a bare
# URL or e-mail address, which remark-gfm links in any text after escapes are resolved.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+\-!|$&~^=:])")
_SPACE = re.compile(r"\s+")


def md_text(text: str) -> str:
    """Plain text as Markdown/MDX inline content that prints exactly this text: markup
    characters backslash-escaped, whitespace runs (line breaks too) as one space, and a
    leading ``1. `` or ``1) `` kept from starting a list."""
    text = _SPACE.sub(" ", str(text))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"^(\d{1,9})([.)])(?=\s|$)", r"\1\\\2", text)


_APOSTROPHE = re.compile(r"(?<=\w)'")


def repair_markdown(doc: _Markdown, parts: Prose) -> str:
    """A solution's repair sentence (handouts.repair_parts): its words as elbo-sym's words, its
    formulas as math from the report's LaTeX (the printer's, never re-parsed from the sentence)."""
    out: list[str] = []
    for i, part in enumerate(parts):
        if part.kind == "math":
            out.append((" " if i and parts[i - 1].kind == "math" else "") + doc.m(part.latex))
        else:
            out.append(our_words(part.text))
    return "".join(out)


def our_words(text: str) -> str:
    """Text elbo-sym writes (the engine's scope and reasons, a task, a repair) as Markdown with the
    typographic characters the site's SmartyPants no longer adds (it is off, so that an author's
    ``--`` and ``...`` print as typed): an apostrophe as ``’``, ``...`` as ``…``."""
    return md_text(_APOSTROPHE.sub("’", str(text)).replace("...", "…"))


def yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (YAML 1.1 and 1.2): ``"`` and ``\\`` escaped,
    every control, format, line- or paragraph-separator character (and NEL, BOM) as an
    escape, so the value is one line and parses back to exactly ``text``; a lone surrogate
    (an undecodable file name) becomes U+FFFD."""
    out = ['"']
    for ch in str(text):
        code = ord(ch)
        category = unicodedata.category(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif category == "Cs":
            out.append("\ufffd")
        elif category in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or code == 0xFEFF:
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _plain(parts: Prose, fallback: str) -> str:
    """Prose as one line of plain text (front matter): formulas in the file syntax, without $."""
    if not parts:
        return _SPACE.sub(" ", fallback).strip()
    return _SPACE.sub(" ", "".join(p.text if p.kind in ("text", "math") else " " for p in parts)).strip()


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Formula:
    """One formula of a page, exactly as written between its ``$`` or ``$$`` delimiters."""

    tex: str
    display: bool


@dataclass(frozen=True)
class Page:
    """A Markdown page: ``path`` relative to the output folder (POSIX), its front matter and body."""

    path: str
    title: str
    description: str
    body: str
    order: int
    formulas: tuple[Formula, ...] = ()
    headings: tuple[str, ...] = ()
    """The plain text of each ``##`` heading: what Starlight's "On this page" lists."""
    warnings: tuple[str, ...] = ()
    """The warning lines of the deck it prints (handouts.deck_warning_lines): `web` prints them on stderr."""

    @property
    def front_matter(self) -> str:
        return (f"---\ntitle: {yaml_string(self.title)}\ndescription: {yaml_string(self.description)}\n"
                f"sidebar:\n  order: {self.order}\n---\n")

    @property
    def text(self) -> str:
        return self.front_matter + "\n" + self.body

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass(frozen=True)
class Asset:
    """A file a page refers to (the figure): ``path`` relative to the output folder."""

    path: str
    data: bytes


class _Markdown:
    """A page body under construction; records every formula it writes."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.formulas: list[Formula] = []
        self.headings: list[str] = []

    # -- math
    def m(self, latex: str, *, table: bool = False) -> str:
        """Inline math ``$...$`` of the printer's LaTeX."""
        tex = _SPACE.sub(" ", katex_tex(latex)).strip()
        if table:  # a bare | would end the table cell
            tex = re.sub(r"(?<!\\)\|", r"\\vert ", tex)
        if not tex or "$" in tex:
            raise WebError(f"cannot write {latex!r} as inline math")
        self.formulas.append(Formula(tex, False))
        return f"${tex}$"

    def display(self, latex: str) -> None:
        tex = katex_tex(latex).strip()
        if not tex or any(line.lstrip().startswith("$$") for line in tex.splitlines()):
            raise WebError(f"cannot write {latex!r} as display math")
        self.formulas.append(Formula(tex, True))
        self.blocks.append(f"$$\n{tex}\n$$")

    def aligned(self, rows: list[str]) -> None:
        """Display math: rows of an ``aligned`` environment (each with its ``&``)."""
        self.display("\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}")

    def prose(self, parts: Prose, fallback: str = "", *, paragraphs: bool = False) -> str:
        """An author's prose: text escaped and set as the handouts set it (curly quotes, minus signs:
        render.smart_punctuation; ``--`` and ``...`` as typed, the site's SmartyPants being off),
        ``$...$`` formulas through the printer; blank lines as paragraph breaks where allowed
        (``paragraphs``), else a space."""
        if not parts:
            return md_text(smart_punctuation(_SPACE.sub(" ", fallback).strip())).strip()
        out: list[str] = []
        last = ""
        before = ""  # what precedes a text run, as handouts.prose tracks it: "", " " or "x" (a formula)
        for part in parts:
            if part.kind == "math":
                if last == "math":  # "$a$$b$" would read as one formula "a$$b"
                    out.append(" ")
                out.append(self.m(part.latex))
                before = "x"
            elif part.kind == "paragraph":
                out.append("\n\n" if paragraphs else " ")
                before = " "
            else:
                text = _SPACE.sub(" ", part.text)
                out.append(md_text(smart_punctuation(text, before)))
                before = text[-1:] or before
            last = part.kind
        text = "".join(out)
        return "\n\n".join(p.strip() for p in text.split("\n\n") if p.strip())

    def value(self, value: Any, *, table: bool = False) -> str:
        """A context value: printer LaTeX (a LatexMarkup) as math, anything else as text."""
        if isinstance(value, LatexMarkup):
            return self.m(value, table=table)
        return md_text(str(value))

    # -- blocks
    def add(self, *lines: str) -> None:
        self.blocks.append("\n".join(lines))

    def heading(self, level: int, text: str) -> None:
        """A heading of plain text (escaped here), never math: Astro takes a heading's "On this
        page" entry and anchor from all its text, and a KaTeX formula holds its text three
        times (MathML, the TeX annotation, HTML), so ``q(z)`` would read ``q(z)q(z)q(z)``."""
        plain = _SPACE.sub(" ", text).strip()
        self.headings.append(plain)
        self.blocks.append("#" * level + " " + md_text(plain))

    @staticmethod
    def plain(parts: Prose, fallback: str) -> str:
        """An author's prose as plain text for a heading: its words set as :meth:`prose` sets them,
        formulas in the file syntax."""
        if not parts:
            return smart_punctuation(_SPACE.sub(" ", fallback).strip())
        typeset = []
        before = ""
        for part in parts:
            if part.kind == "text":
                typeset.append(replace(part, text=smart_punctuation(part.text, before)))
            else:
                typeset.append(part)
            before = part.text[-1:] if part.kind == "text" else "x" if part.kind == "math" else " "
        return _plain(tuple(typeset), fallback)

    def table(self, head: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None) -> None:
        align = align or "l" * len(head)
        rule = {"l": ":--", "r": "--:", "c": ":-:"}
        lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
        lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
        self.blocks.append("\n".join(lines))

    def details(self, summary: str = "Answer", mode: str = "separate") -> _Details:
        """An answer: collapsed (``separate``), open (``inline``, the teacher's page) or left
        out (``none``: whatever is added inside is dropped)."""
        return _Details(self, summary, mode)

    def text(self) -> str:
        return "\n\n".join(self.blocks) + "\n"

    def page(self, path: str, title: str, description: str, order: int) -> Page:
        return Page(path, title, description, self.text(), order, tuple(self.formulas), tuple(self.headings))


class _Details:
    """``<details><summary>Answer</summary> ... </details>`` around the blocks added inside."""

    def __init__(self, doc: _Markdown, summary: str, mode: str = "separate") -> None:
        if mode not in _SOLUTIONS:
            raise WebError(f"solutions must be one of {', '.join(_SOLUTIONS)}, not {mode!r}")
        self.doc, self.summary, self.mode = doc, summary, mode
        self.start, self.formulas = len(doc.blocks), len(doc.formulas)

    def __enter__(self) -> _Markdown:
        self.start, self.formulas = len(self.doc.blocks), len(self.doc.formulas)
        if self.mode != "none":
            opened = " open" if self.mode == "inline" else ""
            self.doc.blocks.append(f"<details{opened}>\n<summary>{self.summary}</summary>")
        return self.doc

    def __exit__(self, *exc: object) -> None:
        if self.mode == "none":
            del self.doc.blocks[self.start:]
            del self.doc.formulas[self.formulas:]
        else:
            self.doc.blocks.append("</details>")


_SOLUTIONS = ("none", "separate", "inline")
"""As the handouts' (elbo_sym.publish.handouts.SOLUTIONS): on a page, ``separate`` answers are
collapsed under their question, ``inline`` ones open and with the teacher's verdict marks,
rule names and file names, ``none`` leaves them out."""


def _mark(verdict: str) -> str:
    return VERDICT_MARK.get(verdict, "")


def _givens(doc: _Markdown, given: Sequence[Mapping[str, Any]], *, display: bool = False) -> None:
    """``p(z) = (...), p(x | z) = (...), q(z) = (...)``: one line of inline formulas, as the
    handouts' ``givens`` macro prints them, or (``display``) one display, as the worked example."""
    if display:
        doc.display(r",\qquad ".join(f"{g['symbol']} = {g['value']}" for g in given))
    else:
        doc.add(", ".join(doc.m(f"{g['symbol']} = {g['value']}") for g in given))


# --------------------------------------------------------------------------- derivations


def _chain(doc: _Markdown, start: str, steps: Sequence[Mapping[str, Any]]) -> None:
    """The chain as one aligned display, each row numbered ``(n)`` for its note."""
    rows = [f"{start if i == 0 else ''} &{{}}{s['rel']} {s['expr']} && ({s['index']})" for i, s in enumerate(steps)]
    doc.aligned(rows)


def _step_notes(doc: _Markdown, notes: Sequence[tuple[int, str]]) -> None:
    """The notes under a chain, each numbered as its row ``(n)``; a step without one has no item
    (ten empty items under a chain with no `why`: red team rt52 F1), and no notes, no list.
    CommonMark numbers a list from its first item on, so each run of consecutive steps is a list
    of its own: a blank line and the other delimiter (``.`` / ``)``) start the next one at its number."""
    runs: list[list[str]] = []
    last = None
    for index, note in notes:
        if not note.strip():
            continue
        if last is None or index != last + 1:
            runs.append([])
        runs[-1].append(f"{index}{')' if len(runs) % 2 == 0 else '.'} {note.strip()}")
        last = index
    for run in runs:
        doc.add("\n".join(run))


def _rule(rule: str) -> str:
    return f"`{rule}`" if re.fullmatch(r"[A-Za-z0-9 :,.()-]+", rule) else md_text(rule)


def derivations_page(reports: Sequence[DerivationReport], solutions: str = "separate",
                     check_links: Mapping[str, str] | None = None) -> Page:
    """``derivations.md``: every derivation that is not a teaching file, lesson order first;
    from :func:`handouts.derivation_context` (which refuses a derivation not fully checked).
    The teacher's page (``solutions="inline"``) has verdict marks, rule names and file names.
    `check_links` (a report's file -> a link to the site's checker with that file) puts a
    "check it in your browser" link under each derivation that has one."""
    from elbo_sym.publish.handouts import lesson_order, require_checked

    require_checked(reports)
    teacher = solutions == "inline"
    proved = [r for r in lesson_order(reports) if r.expect != "refuted"]
    doc = _Markdown()
    doc.add("Every step below was machine-checked by elbo-sym. ✓ marks a step proved for the models "
            "its section names; ∼ a step that only held on exact instances (checked, not proved)." if teacher
            else "Every step below was machine-checked by elbo-sym.")
    _derivation_sections(doc, proved, teacher, check_links)
    names = "; ".join(_plain(r.title_parts, r.title) for r in proved)
    return doc.page("derivations.md", "Derivations",
                    f"Derivations, every step machine-checked: {names}", 1)  # a course's own too (rt41)


LITERATURE_ORDER = 8
"""The literature page's place in the sidebar: after the lesson's pages and find-the-mistake."""


def literature_page(reports: Sequence[DerivationReport], check_links: Mapping[str, str] | None = None) -> Page | None:
    """``from-the-literature.md``: the published identities (``web --literature``, e.g.
    ``derivations/literature/``) in the order given, laid out as the derivations page with each
    step's verdict mark and rule, and a checker link per derivation (`check_links`, as
    :func:`derivations_page`); None when there are none. Like ``from-the-literature.pdf`` it
    prints proved derivations only (:func:`handouts.require_proved` refuses anything else)."""
    from elbo_sym.publish.handouts import require_proved

    require_proved(reports, "the literature page")
    if not reports:
        return None
    doc = _Markdown()
    doc.add("Identities from papers and textbooks, each restated as a chain of steps and cited under its "
            "title. ✓ marks a step proved for every model its section names; a file with any step not "
            "proved is not listed.")
    _derivation_sections(doc, reports, True, check_links)
    identities = counted(len(reports), "identity", "identities")
    return doc.page("from-the-literature.md", "From the literature",
                    f"{identities} from papers and textbooks, every step proved.", LITERATURE_ORDER)


def _assumptions(doc: _Markdown, conditions: Sequence[str]) -> None:
    """The claim's conditions (handouts.claim_conditions), one "Assume." line each, as the handouts print them."""
    if conditions:
        doc.add("  \n".join(f"**Assume.** {doc.m(a)}" for a in conditions))


def _heading(doc: _Markdown, number: int, report: DerivationReport) -> None:
    """A derivation's numbered heading and its summary, as the course pages and the
    find-the-mistake page open each section."""
    doc.heading(2, f"{number}. {doc.plain(report.title_parts, report.title)}")
    summary = doc.prose(report.summary_parts, report.summary, paragraphs=True)
    if summary:
        doc.add(summary)


def _derivation_sections(doc: _Markdown, reports: Sequence[DerivationReport], teacher: bool,
                         check_links: Mapping[str, str] | None) -> None:
    """One section per derivation (a plain heading, summary, claim, chain, notes, result,
    checker link, examples); `teacher`: with verdict marks, rule names and file names."""
    from elbo_sym.publish.handouts import derivation_context

    for number, report in enumerate(reports, 1):
        d = derivation_context(report)
        _heading(doc, number, report)
        doc.add(d["scope"].joined(lambda c: doc.m(c.latex), our_words, our_words)
                + (f" Source: {_code(d['file'])}." if teacher else ""))
        if d["convention"]:
            doc.add(f"**Integrability.** {our_words(sentence(d['convention']))}.")
        if d["claim"] is not None:  # displayed: a long claim scrolls in its own box, never the page
            doc.add("**Claim.**")
            doc.display(d["claim"])
        _assumptions(doc, d["assumptions"])
        _chain(doc, d["start"], d["steps"])
        _step_notes(doc, [
            (s["index"], f"{_mark(s['verdict'])} {doc.prose(step.why_parts, step.why) or ''} \\[{_rule(s['rule'])}\\]")
            if teacher or s["verdict"] == "checked"  # an accepted step says so on the students' page too
            else (s["index"], doc.prose(step.why_parts, step.why))
            for s, step in zip(d["steps"], report.steps)])
        under = d["under"] if d["assumptions"] else ""  # as the sheet says it: the conditions hold throughout
        if d["fully_proved"]:
            result = f"{d['all_proved']}, so{f', {under},' if under else ''} the chain establishes"
        else:
            result = f"{d['partly_proved']}; {f'{under}, ' if under else ''}the chain gives"
        doc.add(f"**Result.** {result}")
        doc.display(d["shown"])
        if d["claim"] is not None:
            doc.add("This is the claim.")
        if check_links and report.file in check_links:
            doc.add(f"[Check this derivation in your browser]({check_links[report.file]}): edit a step and see "
                    "whether it is still proved.")
        for ex in d["examples"]:
            givens = ", ".join(doc.m(f"{g['symbol']} = {g['value']}") for g in ex["given"])
            doc.add(f"**Example {ex['index']}.** {givens}")
            doc.table(["quantity", "exact value", "nats", "bits"], [  # a probability is no information
                [doc.m(r["symbol"], table=True),
                 doc.m(f"{r['exact']} {r['decimal']}" if r["probability"] else r["exact"], table=True),
                 "" if r["probability"] else doc.m(r["nats"], table=True),
                 "" if r["probability"] or r["bits"] is None else doc.m(r["bits"], table=True)]
                for r in ex["rows"]] + [[doc.m(u["symbol"], table=True), md_text(u["why"]), "", ""]
                                        for u in ex["unevaluated"]], "llrr")


def _code(text: str) -> str:
    """A code span of a file name, as typed: fenced by one backtick more than its longest run of them
    (CommonMark), spaced when it starts or ends with one (a backtick printed as ' misnamed the file:
    red team rt25); whitespace runs as one space (a name with a line break is never read)."""
    text = _SPACE.sub(" ", text).strip() or " "
    fence = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mistakes_page(reports: Sequence[DerivationReport], solutions: str = "separate") -> Page | None:
    """``find-the-mistake.md`` from the teaching files among `reports` (None if there are none):
    the chains without verdicts, each solution collapsible (:func:`handouts.mistake_context`)."""
    from elbo_sym.publish.handouts import mistake_context

    teaching = [r for r in reports if r.expect == "refuted"]
    if not teaching:
        return None
    doc = _Markdown()
    doc.add("Each derivation below contains deliberate mistakes: steps that do not hold for every model. "
            "Find them, and for each give a model (a prior, a likelihood and a " + doc.m(_q_symbol())
            + ") where the step fails.")
    for number, report in enumerate(teaching, 1):
        d = mistake_context(report)
        _heading(doc, number, report)
        if d["claim"] is not None:
            doc.add(f"**Claim.** {doc.m(d['claim'])}")
        _assumptions(doc, d["assumptions"])
        _chain(doc, d["start"], d["steps"])
        _step_notes(doc, [(s["index"], doc.prose(step.why_parts, step.why))
                          for s, step in zip(d["steps"], report.steps) if step.why])
        doc.add(f"**Task.** {our_words(d['task'])}")
        with doc.details("Solution", solutions):
            for mistake in d["mistakes"]:
                doc.add(f"**Step {mistake['index']} is wrong:**")
                doc.display(f"{mistake['lhs']} {mistake['rel']} {mistake['expr']}")
                doc.add(f"does not hold for every model ({our_words(mistake['reason'])}).")
                if mistake["where"]:
                    doc.add(f"A counterexample ({our_words(mistake['source'])}), exact:")
                    doc.add(", ".join(doc.m(v) for v in mistake["value_list"]))
                    if mistake["problem"]:
                        doc.add(our_words(mistake["problem"]))
                    else:
                        # one formula per side, the value as the PDF sets it (6.227 \times 10^{9}, not 6.227e+09)
                        left, right = (doc.m(rf"{mistake[side]} \approx {mistake[f'{side}_value_latex']}")
                                       for side in ("left", "right"))
                        # sides printed alike say what differs (red team rt57 F1: `<=` failing between equals)
                        apart = our_words(mistake["apart"])
                        if mistake["gap_latex"]:  # only then: doc.m records every formula it sets
                            apart = " ({})".format(doc.m(r"\text{left} - \text{right} \approx " + mistake["gap_latex"]))
                        doc.add(f"where the left side is {left} and the right side is {right}{apart}.")
                if mistake["repair_parts"]:
                    doc.add(f"**Repair.** {repair_markdown(doc, mistake['repair_parts'])}")
                if mistake["repair"]:
                    doc.display(f"{mistake['repair_lhs']} {mistake['repair_rel']} {mistake['repair']}")
                if mistake["carried"]:
                    doc.add(our_words(mistake["carried"]))
    names = "; ".join(_plain(r.title_parts, r.title) for r in teaching)
    solved = "" if solutions == "none" else ", solutions with exact counterexamples"
    return doc.page("find-the-mistake.md", "Find the mistake",
                    f"Derivations with deliberate mistakes{solved}: {names}", 7)


def _q_symbol() -> LatexMarkup:
    from elbo_sym.engine.notation import q, z
    from elbo_sym.publish.handouts import math

    return math(q(z))


# --------------------------------------------------------------------------- worked example + figure


def _figure_points(figure: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The curve's exact samples from :func:`handouts.elbo_curve` (its ``(q1,y)`` list)."""
    points = [(float(a), float(b.replace("\u2212", "-")))
              for a, b in re.findall(r"\(([^,()]+),([^,()]+)\)", str(figure["coordinates"]))]
    if len(points) < 2:
        raise WebError("the ELBO curve has fewer than two points")
    return points


def _svg_number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def elbo_svg(figure: Mapping[str, Any]) -> str:
    """The worked example's figure as a small self-written SVG, from :func:`handouts.elbo_curve`:
    the ELBO over q_1 (solid), log p(x) (dashed), the posterior where they touch (dot) and the
    gap at the example's q (segment). Labels are numbers only; the page's caption names the
    lines with the printer's math."""
    width, height = 640, 400
    left, right, top, bottom = 64, 20, 16, 44
    x0, x1 = 0.0, 1.0
    y0, y1 = float(figure["ymin"]), float(figure["ymax"])
    log_px = float(str(figure["log_px"]).replace("\u2212", "-"))
    post = float(figure["posterior_q1"])
    q1 = float(figure["q1"])
    elbo_q = float(str(figure["elbo_q"]).replace("\u2212", "-"))
    step = float(figure["ytick"])

    def sx(v: float) -> str:
        return f"{left + (v - x0) / (x1 - x0) * (width - left - right):.2f}"

    def sy(v: float) -> str:
        return f"{height - bottom - (v - y0) / (y1 - y0) * (height - top - bottom):.2f}"

    decimals = max(0, -int(f"{step:e}".split("e")[1]))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="elbo-title">',
        '<title id="elbo-title">The ELBO as a function of q1 stays below log p(x) and touches it at the '
        'posterior</title>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        '<g font-family="sans-serif" font-size="12" fill="#333333">',
    ]
    ticks = [i / 4 for i in range(5)]
    k = int(-(-y0 // step))
    yticks = []
    while k * step <= y1 + 1e-12:
        yticks.append(k * step)
        k += 1
    for t in ticks:
        out.append(f'<line x1="{sx(t)}" y1="{sy(y0)}" x2="{sx(t)}" y2="{sy(y1)}" stroke="#ebebeb"/>')
        out.append(f'<text x="{sx(t)}" y="{height - bottom + 18}" text-anchor="middle">'
                   f'{_svg_number(t, 2)}</text>')
    for t in yticks:
        out.append(f'<line x1="{sx(x0)}" y1="{sy(t)}" x2="{sx(x1)}" y2="{sy(t)}" stroke="#ebebeb"/>')
        out.append(f'<text x="{left - 8}" y="{float(sy(t)) + 4:.2f}" text-anchor="end">'
                   f'{_svg_number(t, decimals)}</text>')
    out += [
        f'<line x1="{sx(x0)}" y1="{sy(y0)}" x2="{sx(x1)}" y2="{sy(y0)}" stroke="#333333"/>',
        f'<line x1="{sx(x0)}" y1="{sy(y0)}" x2="{sx(x0)}" y2="{sy(y1)}" stroke="#333333"/>',
        f'<text x="{(left + width - right) / 2:.2f}" y="{height - 8}" text-anchor="middle" '
        f'font-style="italic">q1</text>',
        f'<text x="14" y="{(top + height - bottom) / 2:.2f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.2f})">nats</text>',
        f'<line x1="{sx(x0)}" y1="{sy(log_px)}" x2="{sx(x1)}" y2="{sy(log_px)}" stroke="#555555" '
        f'stroke-width="2" stroke-dasharray="7 5"/>',
        '<polyline fill="none" stroke="#1f5fa8" stroke-width="2.5" stroke-linejoin="round" points="'
        + " ".join(f"{sx(a)},{sy(b)}" for a, b in _figure_points(figure)) + '"/>',
    ]
    if not figure["tight"]:
        out.append(f'<line x1="{sx(q1)}" y1="{sy(elbo_q)}" x2="{sx(q1)}" y2="{sy(log_px)}" stroke="#b00020" '
                   f'stroke-width="2.5"/>')
        out.append(f'<circle cx="{sx(q1)}" cy="{sy(elbo_q)}" r="4.5" fill="#b00020"/>')
    out.append(f'<circle cx="{sx(post)}" cy="{sy(log_px)}" r="5.5" fill="#1b7f3b"/>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


def worked_example_page(example: Instance | WorkedExample | None = None, solutions: str = "separate",
                        number: int = 1) -> tuple[Page, Asset | None]:
    """``worked-example.md`` (and its figure) from :func:`handouts.worked_example_context`;
    the project's ``number``-th example (from 2 on) is ``worked-example-N.md``."""
    from elbo_sym.publish.handouts import LESSON_EXAMPLE, worked_example_context

    ex = worked_example_context(example if example is not None else LESSON_EXAMPLE)
    teacher = solutions == "inline"
    stem = "worked-example" if number == 1 else f"worked-example-{number}"
    figure_file = FIGURE_FILE if number == 1 else f"{stem}-elbo.svg"
    doc = _Markdown()
    states = "two states (0 and 1)" if ex["K"] == 2 else f"{ex['K']} states"
    doc.add(f"One observation {doc.m(ex['x'])}, a latent variable {doc.m(ex['z'])} with {states}, and a "
            f"variational distribution {doc.m(ex['q_symbol'])}:")
    _givens(doc, ex["given"], display=True)
    doc.heading(2, "State by state")
    doc.table([doc.m(ex["z"], table=True)] + [doc.m(h, table=True) for h in ex["heads"]],
              [[doc.m(s["z_tex"], table=True)] + [doc.m(c["value"], table=True) for c in s["cells"]]
               for s in ex["states"]], "c" * (len(ex["heads"]) + 1))
    doc.add(f"The evidence sums the joint over {doc.m(ex['z'])}; the posterior divides the joint by it. "
            f"The ELBO is the {doc.m(ex['q_symbol'])}-weighted sum of one term per state:")
    doc.table([doc.m(ex["z"], table=True), doc.m(ex["term_head"], table=True), "nats"],
              [[doc.m(s["z_tex"], table=True), doc.m(s["term_working"], table=True),
                doc.m(s["term_nats"], table=True)] for s in ex["states"]], "clr")
    doc.heading(2, "All quantities")
    doc.table(["quantity", "", "working", "exact value", "nats", "bits"], [
        [our_words(r["name"]), doc.m(r["symbol"], table=True), doc.m(r["working"], table=True),
         doc.m(r["exact"] if r["information"] else f"{r['exact']} {r['decimal']}", table=True),
         doc.m(r["nats"], table=True) if r["information"] else "",
         doc.m(r["bits"], table=True) if r["information"] and r["bits"] is not None else ""]
        for r in ex["quantities"]], "llllrr")
    doc.heading(2, "The lesson’s identities on this example")
    doc.add("Decided exactly, not by rounding: every value above is a rational plus rational multiples of "
            "logarithms of primes, and two such numbers are equal only when all their coefficients agree.")
    doc.table(["", "identity", "left", "right"], [
        [_mark(i["verdict"]) if teacher else "", doc.m(i["formula"], table=True), doc.m(i["lhs"], table=True),
         doc.m(i["rhs"], table=True)] for i in ex["identities"]], "clrr")
    if ex["engine_checked"]:
        model = "binary" if ex["K"] == 2 else f"{ex['K']}-state"
        doc.add(f"All {ex['engine_checked']} values above were recomputed independently by unfolding their "
                f"notation in the {model} model; they agree exactly.")
    asset = None
    f = ex["figure"]
    if f is not None:
        labels = f["labels"]
        doc.heading(2, "The bound as a function of q")
        if f["tight"]:
            doc.add(f"This {doc.m(ex['q_symbol'])} is the posterior "
                    f"{doc.m(ex['posterior_symbol'] + ' = ' + ex['posterior'])}, so the ELBO touches "
                    f"{doc.m(labels['log_px'])}: the gap is zero.")
        else:
            doc.add(f"Fix the model and vary {doc.m(labels['q1'])}, the probability that {doc.m(ex['q_symbol'])} "
                    f"gives to the state 1. The ELBO stays below {doc.m(labels['log_px'])} everywhere and touches "
                    f"it at exactly one point, the posterior "
                    f"{doc.m(ex['posterior_symbol'] + ' = ' + ex['posterior'])}. At this example’s "
                    f"{doc.m(ex['q_symbol'])} the vertical gap is the KL divergence from "
                    f"{doc.m(ex['q_symbol'])} to the posterior.")
        doc.add(f"![The ELBO as a function of q1: a concave curve below the dashed line log p(x), touching it "
                f"at the posterior](./{figure_file})")
        approx = r" \approx "  # the captions' numbers are rounded (red team rt18: never "=")
        caption = [f"Horizontal axis: {doc.m(labels['q1'])}; vertical: nats. Dashed: "
                   f"{doc.m(labels['log_px'] + approx + f['log_px_shown'])}. Blue curve: {doc.m(labels['elbo'])}. "
                   f"Green dot: the posterior, {doc.m(labels['q1'] + ' = ' + f['posterior_q1_exact'])}."]
        if not f["tight"]:
            gap = labels["kl"] + approx + f["gap"]
            caption.append(f"Red: the example’s {doc.m(labels['q1'] + ' = ' + f['q1_exact'])} with "
                           f"{doc.m(labels['elbo'] + approx + f['elbo_q_shown'])}, and the gap "
                           f"{doc.m(gap)}.")
        caption.append(f"The curve joins {f['points']} exact values of the ELBO (certified to six decimals), at "
                       f"equally spaced values of {doc.m(labels['q1'])} plus the posterior and the example’s "
                       f"{doc.m(ex['q_symbol'])}; at the two ends the state without mass contributes nothing.")
        doc.add(" ".join(caption))
        asset = Asset(figure_file, elbo_svg(f).encode("utf-8"))
    title = "A worked binary example" if ex["K"] == 2 else "A worked example"
    page = doc.page(f"{stem}.md", title if number == 1 else f"{title} ({number})",
                    "Every quantity of the lesson on one example, exact and in nats and bits, with the "
                    "identities decided exactly" + (" and the ELBO curve." if f is not None else "."), 2)
    return page, asset


# --------------------------------------------------------------------------- exercises, drill


def exercises_page(seed: int | None = None, count: int | None = None, K: int = 2,
                   parts: Sequence[str] | None = None, solutions: str = "separate") -> Page:
    """``exercises.md``: the sheet of :func:`handouts.exercises_context`, each case's key collapsible."""
    from elbo_sym.publish.handouts import DEFAULT_COUNT, DEFAULT_SEED, exercises_arguments, exercises_context

    sheet = exercises_context(DEFAULT_SEED if seed is None else seed, DEFAULT_COUNT if count is None else count,
                              K, parts)
    teacher = solutions == "inline"
    states = "two states, 0 and 1" if sheet["K"] == 2 else f"{sheet['K']} states, 0 to {sheet['K'] - 1}"
    doc = _Markdown()
    command = " ".join(["elbo-sym", *exercises_arguments(sheet["seed"], sheet["count"], sheet["K"], sheet["parts"])])
    doc.add(f"Seed {sheet['seed']}, {counted(sheet['count'], 'case')} (the same as `{command}` and the printed sheet "
            f"with these settings). In every case the latent variable has {states}. Compute exactly (fractions, and "
            "logarithms of fractions), and give the information quantities in nats:")
    doc.add("\n".join(f"- ({t['letter']}) {doc.m(t['symbol'])}: {our_words(t['name'])}" for t in sheet["tasks"]))
    for c in sheet["cases"]:
        doc.heading(2, f"Case {c['index']}")
        _givens(doc, c["given"])
        with doc.details(mode=solutions):
            doc.table(["", "", "exact", "decimal", "bits"], [
                [f"({a['letter']})", doc.m(a["symbol"], table=True), doc.m(a["working"], table=True),
                 doc.m(a["nats"], table=True), doc.m(a["bits"], table=True) if a["bits"] is not None else "—"]
                for a in c["answers"]], "lllrr")
            doc.add(f"{_mark(c['verdict']) + ' ' if teacher else ''}{doc.m(c['gap_is_kl'])}, decided exactly "
                    "on this case.")
    kind = "binary exercises" if sheet["K"] == 2 else f"exercises with {sheet['K']} latent states"
    answers = "" if solutions == "none" else " with exact answers"
    return doc.page("exercises.md", "Exercises",
                    f"Fresh {kind}{answers} (seed {sheet['seed']}, {counted(sheet['count'], 'case')}).", 3)


def tight_drill_page(seed: int | None = None, count: int | None = None, K: int = 2,
                     solutions: str = "separate") -> Page:
    """``tight-drill.md`` from :func:`handouts.drill_context`: q = posterior, then a near miss."""
    from elbo_sym.publish.handouts import DEFAULT_SEED, DRILL_COUNT, drill_context

    drill = drill_context(DEFAULT_SEED if seed is None else seed, DRILL_COUNT if count is None else count, K)
    teacher = solutions == "inline"
    s = drill["symbols"]
    doc = _Markdown()
    doc.add(f"The ELBO is a lower bound on {doc.m(s['log_px'])}, and the gap is {doc.m(s['kl'])}. It closes "
            f"exactly when {doc.m(s['q'])} is the posterior {doc.m(s['posterior'])}. In each case below, set "
            f"{doc.m(s['q'])} to the posterior, then compute {doc.m(s['log_px'])} and {doc.m(s['elbo'])} exactly "
            f"and show that the gap {doc.m(s['gap'])} is zero, not merely small.")
    doc.add(f"Seed {drill['seed']}, {counted(drill['count'], 'tight case')} and one near miss.")
    for c in drill["cases"]:
        doc.heading(2, f"Case {c['index']}")
        _givens(doc, c["given"])
        with doc.details(mode=solutions):
            doc.aligned([
                f"{s['q']} = {s['posterior']} &= {c['posterior']}",
                f"{s['log_px']} &= {c['log_px']} \\approx {c['log_px_nats']}",
                f"{s['elbo']} &= {c['elbo']} = {c['elbo_exact']}",
                f"{s['gap']} &= {c['gap_exact']}",
            ])
            mark = _mark(c["verdict"]) + " " if teacher else ""
            doc.add(f"{mark}The gap is exactly zero, decided exactly." if c["gap_zero"]
                    else f"{mark}The gap is not zero.")
    n = drill["near"]
    doc.heading(2, f"Case {n['index']}: a near miss")
    doc.add(f"The model of case 1 again, but with {doc.m(s['q'])} rounded off the posterior. Is the gap still "
            "zero? How large is it?")
    _givens(doc, n["given"])
    with doc.details(mode=solutions):
        doc.aligned([
            f"{s['posterior']} &= {n['posterior']}",
            f"{s['log_px']} &= {n['log_px']} \\approx {n['log_px_nats']}",
            f"{s['elbo']} &= {n['elbo']} \\approx {n['elbo_nats']}",
            f"{s['gap']} &= {s['kl']}",
            f"&= {n['kl_working']} \\approx {n['gap_nats']} {n['positive']}",
        ])
        doc.add(f"{_mark(n['verdict']) + ' ' if teacher else ''}A small change of {doc.m(s['q'])} opens a small "
                "gap: near its maximum "
                "the ELBO is flat, so the gap grows only quadratically in the distance from the posterior.")
    return doc.page("tight-drill.md", "Tight-case drill",
                    f"When the bound is an equality: q set to the posterior gives a gap of exactly zero "
                    f"(seed {drill['seed']}).", 4)


# --------------------------------------------------------------------------- self-check and flashcards


def _cards_prose(kind: str, path: str | Path | None, budget: float = STEP_BUDGET_SECONDS,
                 deck_budget: float | None = None) -> dict[int, tuple[Prose, Prose, str, str, Prose]]:
    """Each card's front and back as prose parts (the same parts the handouts' cards print),
    and its topic's (a heading: plain text, its formulas in the file syntax)."""
    from elbo_sym.report.build import load_deck_in_time, prose_parts

    deck = load_deck_in_time(kind, path, budget, deck_budget)
    names, parsed = deck.vocabulary, dict(deck.prose_math)  # the deck's own names ([params], data), its formulas
    return {c.index: (prose_parts(c.front, names, claims=True, parsed=parsed),
                      prose_parts(c.back, names, claims=True, parsed=parsed),
                      c.front, c.back, prose_parts(c.topic_label, names, parsed=parsed))
            for c in deck.cards}


def _card(doc: _Markdown, card: Mapping[str, Any], texts: tuple[Prose, Prose, str, str, Prose],
          heading: str, proved_for: str, solutions: str = "separate") -> None:
    front, back, front_text, back_text, topic = texts
    # "Card 3: model"; a card without a topic is "Card 3", as the handouts number it (it read
    # "Card 3:", a colon before nothing, in the page and its table of contents)
    named = f": {doc.plain(topic, card['topic_text'])}" if card["topic_text"].strip() else ""
    doc.heading(2, f"{heading} {card['index']}{named}")
    doc.add(doc.prose(front, front_text, paragraphs=True))
    with doc.details(mode=solutions):
        doc.add(doc.prose(back, back_text, paragraphs=True))
        shown = [card["formula"]] if card["formula"] is not None else []
        if card["conditions"] is not None:  # beside the formula, as on the printed card
            shown.append(f"\\text{{if }} {card['conditions']}")
        if shown:
            doc.display("\\qquad".join(shown))
            if card["verdict"] is not None and solutions == "inline":
                doc.add(f"{_mark(card['verdict'])} Proved by the checker for {our_words(proved_for)}.")


def selfcheck_page(path: str | Path | None = None, budget: float = STEP_BUDGET_SECONDS,
                   solutions: str = "separate", deck_budget: float | None = None) -> Page:
    """``selfcheck.md`` from :func:`handouts.selfcheck_context`: the questions, answers collapsible."""
    from elbo_sym.publish.handouts import selfcheck_context

    deck = selfcheck_context(path, budget, deck_budget)
    texts = _cards_prose("selfcheck", path, budget, deck_budget)
    doc = _Markdown()
    doc.add(doc.prose(deck["summary_parts"], deck["summary_text"]))  # an author's, as the handouts set it
    if deck["scope"]:  # a deck's model narrower than every latent space (rt44 F12), its parameters' domains (rt46 F10)
        doc.add(deck["scope"].joined(lambda d: doc.m(d.latex), our_words))
    for card in deck["questions"]:
        _card(doc, card, texts[card["index"]], "Question", deck["proved_for"], solutions)
    description = _SPACE.sub(" ", f"{deck['title_text']}. {deck['summary_text']}").strip()  # no summary: no space
    return replace(doc.page("selfcheck.md", "Self-check", description, 5), warnings=deck["warnings"])


def flashcards_page(path: str | Path | None = None, budget: float = STEP_BUDGET_SECONDS,
                    solutions: str = "separate", deck_budget: float | None = None) -> Page:
    """``flashcards.md`` from :func:`handouts.flashcards_context`: fronts shown, backs collapsible."""
    from elbo_sym.publish.handouts import flashcards_context

    deck = flashcards_context(path, budget, deck_budget)
    texts = _cards_prose("flashcards", path, budget, deck_budget)
    doc = _Markdown()
    if deck["summary_text"]:
        doc.add(doc.prose(deck["summary_parts"], deck["summary_text"]))  # an author's, as the handouts set it
    if deck["scope"]:  # a deck's model narrower than every latent space (rt44 F12), its parameters' domains (rt46 F10)
        doc.add(deck["scope"].joined(lambda d: doc.m(d.latex), our_words))
    for sheet in deck["sheets"]:
        for cell in sheet["fronts"]:
            card = cell["card"]
            _card(doc, card, texts[card["index"]], "Card", deck["proved_for"], solutions)
    cards = counted(deck["count"], "card")
    return replace(doc.page("flashcards.md", "Flashcards",
                            _SPACE.sub(" ", f"{deck['title_text']}: {cards}, the back of each one collapsible."), 6),
                   warnings=deck["warnings"])


# --------------------------------------------------------------------------- all pages, writing


def lesson_pages(reports: Sequence[DerivationReport], *, seed: int | None = None, count: int | None = None,
                 budget: float = STEP_BUDGET_SECONDS, example: Instance | None = None,
                 selfcheck: str | Path | None = None,
                 flashcards: str | Path | None = None, K: int = 2, drill_count: int | None = None,
                 drill_K: int | None = None, parts: Sequence[str] | None = None, solutions: str = "separate",
                 examples: Sequence[Instance | WorkedExample] = (), check_links: Mapping[str, str] | None = None,
                 literature: Sequence[DerivationReport] = (), deck_budget: float | None = None) -> list[Page | Asset]:
    """Every page of the lesson (and the figure), in sidebar order, with the handouts' settings
    (:func:`handouts.lesson_handouts`): `examples` (or the one `example`; default the lesson's)
    each on its page; the `literature` page when any are given (:func:`literature_page`).
    Raises :class:`handouts.HandoutError` when a derivation, an example or a deck is not fully
    checked, or a literature file is not proved."""
    from elbo_sym.publish.handouts import require_checked, require_proved

    require_checked(reports)
    require_proved(literature, "the literature page")  # before minutes of pages, as the lesson's
    if solutions not in _SOLUTIONS:
        raise WebError(f"solutions must be one of {', '.join(_SOLUTIONS)}, not {solutions!r}")
    out: list[Page | Asset] = [derivations_page(reports, solutions, check_links)]
    for number, instance in enumerate(tuple(examples) or (example,), 1):
        page, asset = worked_example_page(instance, solutions, number)
        out.append(page)
        if asset is not None:
            out.append(asset)
    out += [exercises_page(seed, count, K, parts, solutions),
            tight_drill_page(seed, drill_count, K if drill_K is None else drill_K, solutions),
            selfcheck_page(selfcheck, budget, solutions, deck_budget),
            flashcards_page(flashcards, budget, solutions, deck_budget)]
    mistakes = mistakes_page(reports, solutions)
    if mistakes is not None:
        out.append(mistakes)
    published = literature_page(literature, check_links)
    if published is not None:
        out.append(published)
    return out


def write_pages(items: Iterable[Page | Asset], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write every page and asset under `out_dir` (created if missing; its parent must exist),
    each file replaced atomically; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    written = []
    for item in items:
        relative = PurePosixPath(item.path)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise WebError(f"{item.path}: not a path inside the output folder")
        target = out.joinpath(*relative.parts)  # a symlink there is replaced, never followed
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(replace_file(target, item.data))
    return written


def write_page_set(items: Sequence[Page | Asset], out_dir: str | os.PathLike[str]) -> tuple[list[Path], list[Path]]:
    """`web --out`: write the pages (:func:`write_pages`), then remove each page an earlier run listed
    in :data:`PAGES_MANIFEST` that this one does not write (a removed example's page, the literature
    page without ``--literature``); never a file the manifest does not list, nor one outside the folder.
    Returns the written and the removed paths."""
    out = Path(out_dir)
    refuse_to_replace(out, PAGES_MANIFEST, [item.path for item in items])
    written = write_pages(items, out)
    return written, remove_stale(out, PAGES_MANIFEST, [item.path for item in items], plain_name)


def course_titled_pages(items: Iterable[Page | Asset], title: str) -> list[Page | Asset]:
    """The pages with the course's title (a project's checked ``title``; its formulas as math) as their
    first line, as it heads every handout; no title: the pages as they are."""
    if not title:
        return list(items)
    from elbo_sym.report.build import prose_parts

    doc = _Markdown()
    line = doc.prose(prose_parts(title, Vocabulary()), title)
    return [replace(item, body=f"*{line}*\n\n{item.body}", formulas=(*doc.formulas, *item.formulas))
            if isinstance(item, Page) else item for item in items]

"""Notebook display: a derivation or a check report as a LaTeX chain and a small HTML table.

`show(x)` wraps a loaded Derivation (the chain as written) or a DerivationReport (with a
verdict per step); Jupyter calls its ``_repr_latex_`` / ``_repr_html_``.  Every formula is
the one printer's LaTeX (stored in the report, or printed here for a derivation); the
HTML puts each in ``\\( ... \\)`` so MathJax typesets it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import groupby

from elbo_sym.engine.notation import RELATION_LATEX
from elbo_sym.prose import html_text
from elbo_sym.report.model import (
    VERDICT_MARK,
    CounterexampleReport,
    DerivationReport,
    Math,
    Prose,
    ProsePart,
    SuggestionReport,
)
from elbo_sym.report.text import warning_lines

_VERDICT_COLOR = {"proved": "#1a7f37", "checked": "#9a6700", "refuted": "#cf222e", "error": "#cf222e"}


@dataclass(frozen=True)
class _Row:
    """One step as the notebook display's table shows it."""

    index: int
    rel: str
    expr: Math
    rule: str
    why: str
    """HTML (text that MathJax leaves alone, formulas from the printer)."""
    verdict: str | None = None
    reason: str = ""
    notes: tuple[str, ...] = ()
    """HTML: the counterexample (its values typeset from the report's pieces) and the suggestion."""


@dataclass(frozen=True)
class _View:
    """One derivation (or its report) as the notebook display shows it."""

    title: str
    """HTML, like `summary`."""
    summary: str
    file: str
    claim: str | None
    start: Math
    rows: tuple[_Row, ...]
    status: str | None = None
    problems: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    """What the claim and every step are checked under (LaTeX): the parameters' domains, the assumptions."""
    warnings: tuple[str, ...] = ()
    """``warning: FILE:LINE:COLUMN: ...`` as `check` prints them on stderr (report.text.warning_lines)."""


def _view(shown) -> _View:
    if hasattr(shown, "derivation") and hasattr(shown, "steps"):  # an engine result: its report
        from elbo_sym.report.build import report_of

        shown = report_of(shown)
    if isinstance(shown, DerivationReport):
        rows = []
        for s in shown.steps:
            notes = []
            if s.counterexample is not None:
                notes.append(_counterexample_html(s.counterexample))
            if s.suggestion is not None:
                notes.append(_suggestion_html(s.suggestion))
            rows.append(_Row(s.index, s.rel, s.expr, s.rule_shown, _prose(s.why_parts, s.why), s.verdict, s.reason,
                             tuple(notes)))
        status = status_line(shown)
        problems = tuple(f"✗ example {e.index}: {'; '.join(e.failures)}" for e in shown.examples if not e.holds)
        problems += tuple(f"problem: {p}" for p in shown.problems)
        return _View(_prose(shown.title_parts, shown.title), _prose(shown.summary_parts, shown.summary), shown.file,
                     shown.claim.latex if shown.claim else None, shown.start, tuple(rows), status, problems,
                     shown.conditions_latex, tuple(warning_lines([shown])))
    from elbo_sym.report.build import conditions_of, math, prose_parts, relation  # a loaded Derivation

    d, parsed = shown, dict(shown.prose_math)  # the prose formulas the loader parsed
    chain = tuple(_Row(s.index, s.rel, math(s.expr), s.rule,
                       _prose(prose_parts(s.why, d.vocabulary, parsed=parsed), s.why)) for s in d.steps)
    return _View(_prose(prose_parts(d.title, d.vocabulary, parsed=parsed), d.title),
                 _prose(prose_parts(d.summary, d.vocabulary, parsed=parsed), d.summary), d.path,
                 relation(d.claim).latex if d.claim else None, math(d.start.expr), chain,
                 conditions=tuple(c.latex for c in conditions_of(d))
                 + tuple(relation(a).latex for a in d.assumptions + d.premises))


def status_line(report: DerivationReport) -> str:
    """The one-line outcome: the claim for an ordinary file; for a teaching file whether
    exactly its deliberate mistakes were refuted (its claim is not meant to be established)."""
    mark = "✓" if report.ok else "✗"
    if report.expect != "refuted":
        return f"{mark} {'established' if report.established else 'NOT established'}: {report.claim_reason}"
    marked = [s for s in report.steps if s.expected_refuted]
    numbers = ", ".join(str(s.index) for s in marked)
    plural = "s" if len(marked) > 1 else ""
    if report.ok:
        return f"{mark} teaching file: step{plural} {numbers} refuted as expected"
    if not marked:
        return f"{mark} teaching file: exactly one step must be refuted, the others proved"
    return f"{mark} teaching file, NOT as expected: " + "; ".join(report.failure_reasons)


def _prose(parts: Prose, fallback: str) -> str:
    """An author's prose as HTML: text MathJax leaves alone, $...$ formulas from the printer."""
    if not parts:
        return html_text(fallback)
    return "".join(_math(p.latex) if p.kind == "math" else "<br>" if p.kind == "paragraph" else html_text(p.text)
                   for p in parts)


def _rule_text(rule: str) -> str:
    # Rule names are registry keys ([a-z-]), with ", exact" for the exact rule; keep \text{} safe anyway.
    return "".join(c for c in rule if c.isalnum() or c in "-, ")


def aligned(view: _View) -> str:
    """`\\begin{aligned} lhs &= rhs && \\text{(rule: verdict)} ... \\end{aligned}`."""
    rows = []
    for i, row in enumerate(view.rows):
        left = view.start.latex if i == 0 else ""
        note = _rule_text(row.rule) + (f": {row.verdict}" if row.verdict else "")
        rows.append(rf"{left} &{RELATION_LATEX[row.rel]} {row.expr.latex} && \text{{({note})}}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _math(latex: str) -> str:
    return html.escape(r"\(" + latex + r"\)")


def _counterexample_html(c: CounterexampleReport) -> str:
    """"counterexample: " and the values, each block typeset from the report's own pieces (the
    handouts' and the site's), then the point, the source and both sides as text."""
    values = ", ".join(_math(item.latex) for item in c.where_pieces) if c.where_pieces else html_text(c.where())
    return html_text("counterexample: ") + values + html_text(c.details())


def _suggestion_html(g: SuggestionReport) -> str:
    """The repair as the command line words it, its formulas typeset from the report's pieces (the
    checked expressions' LaTeX, never re-parsed from the sentence), what to type as text."""
    parts = (ProsePart("text", f"{g.label}: "), *g.pieces, ProsePart("text", g.edits))
    return "".join("".join(_math(p.latex) for p in run) if kind == "math" else html_text("".join(p.text for p in run))
                   for kind, run in groupby(parts, key=lambda p: p.kind))  # words run on as one text


def _table(view: _View) -> str:
    checked = view.status is not None
    head = ["", "", "expression", "rule", "why"] + (["verdict"] if checked else [])
    out = ["<table class=\"elbo-sym\">",
           "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    out.append(f"<tr><td>start</td><td></td><td>{_math(view.start.latex)}</td><td></td><td></td>"
               + ("<td></td>" if checked else "") + "</tr>")
    for row in view.rows:
        cells = (f"<tr><td>{row.index}</td><td>{_math(RELATION_LATEX[row.rel])}</td><td>{_math(row.expr.latex)}</td>"
                 f"<td><code>{html.escape(row.rule)}</code></td><td>{row.why}</td>")
        if checked and row.verdict is not None:  # a checked view has a verdict in every row
            cells += (f"<td style=\"color:{_VERDICT_COLOR[row.verdict]}\" title=\"{html.escape(row.reason)}\">"
                      f"{VERDICT_MARK[row.verdict]} {row.verdict}</td>")
        out.append(cells + "</tr>")
        if row.notes:
            out.append(f"<tr><td></td><td colspan=\"{len(head) - 1}\"><small>"
                       + "<br>".join(row.notes) + "</small></td></tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def to_html(shown) -> str:
    """Title, summary, claim, the steps as a table (with verdicts for a report)."""
    view = _view(shown)
    parts = [f"<div class=\"elbo-sym\"><strong>{view.title}</strong> "
             f"<code>{html.escape(view.file)}</code>"]
    if view.summary:
        parts.append(f"<p>{view.summary}</p>")
    if view.claim is not None:
        parts.append(f"<p>claim: {_math(view.claim)}</p>")
    parts += [f"<p>assume: {_math(c)}</p>" for c in view.conditions]
    if view.status is not None:
        parts.append(f"<p>{html_text(view.status)}</p>")
    parts.append(_table(view))
    parts += [f"<p>{html_text(p)}</p>" for p in view.problems]
    parts += [f"<p><small>{html_text(w)}</small></p>" for w in view.warnings]  # as `check` warns (rt38 F1)
    return "\n".join(parts) + "\n</div>"


def to_latex(shown) -> str:
    """`$$\\begin{aligned} ... \\end{aligned}$$` with each step's rule (and verdict)."""
    return f"$$\n{aligned(_view(shown))}\n$$"


class Shown:
    """What Jupyter displays for `show(x)`: the last line of a cell renders."""

    def __init__(self, shown) -> None:
        self.shown = shown

    def _repr_latex_(self) -> str:
        return to_latex(self.shown)

    def _repr_html_(self) -> str:
        return to_html(self.shown)


def show(shown) -> Shown:
    """Display a Derivation or a DerivationReport in a notebook (`show(check_file(path))`)."""
    return Shown(shown)


__all__ = ["show", "Shown", "to_html", "to_latex", "aligned", "status_line"]

"""Notebook display: derivations and check results as LaTeX chains and small HTML tables.

Jupyter calls ``Derivation._repr_latex_`` / ``_repr_html_`` (and the same on
``DerivationResult``), which delegate here.  Every formula comes from the one printer,
:func:`elbo_sym.engine.notation.to_latex`; nothing is typed by hand.  The HTML table puts each
formula in ``\\( ... \\)`` so MathJax (Jupyter, VS Code, GitHub's notebook viewer)
typesets it; the verdict column uses plain marks and words.
"""

from __future__ import annotations

import html

from elbo_sym.engine.notation import RELATION_LATEX, to_latex

_VERDICT_MARK = {"proved": "✓", "checked": "~", "refuted": "✗", "error": "!"}
_VERDICT_COLOR = {"proved": "#1a7f37", "checked": "#9a6700", "refuted": "#cf222e", "error": "#cf222e"}


def _rule_text(rule: str) -> str:
    # Rule names are registry keys ([a-z-]); keep \text{} safe anyway.
    return "".join(c for c in rule if c.isalnum() or c in "- ")


def chain_rows(derivation, verdicts=None) -> list[str]:
    """One aligned row per step: `lhs &= rhs` first, then `&\\geq rhs`, with the rule (and verdict)."""
    rows = []
    for i, step in enumerate(derivation.steps):
        left = to_latex(derivation.start.expr) if i == 0 else ""
        note = _rule_text(step.rule)
        if verdicts is not None:
            note += f": {verdicts[i]}"
        rows.append(rf"{left} &{RELATION_LATEX[step.rel]} {to_latex(step.expr)} && \text{{({note})}}")
    return rows


def aligned(derivation, verdicts=None) -> str:
    return "\\begin{aligned}\n" + " \\\\\n".join(chain_rows(derivation, verdicts)) + "\n\\end{aligned}"


def derivation_latex(derivation) -> str:
    """`$$\\begin{aligned} ... \\end{aligned}$$` for a Derivation (Jupyter's text/latex)."""
    return f"$$\n{aligned(derivation)}\n$$"


def result_latex(result) -> str:
    """The chain with each step's rule and verdict (Jupyter's text/latex)."""
    verdicts = [r.verdict.value for r in result.steps]
    return f"$$\n{aligned(result.derivation, verdicts)}\n$$"


def _math(expr) -> str:
    return html.escape(r"\(" + to_latex(expr) + r"\)")


def _table(derivation, results=None) -> str:
    head = ["", "", "expression", "rule", "why"] + (["verdict"] if results is not None else [])
    out = ["<table class=\"elbo-sym\">",
           "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    start = f"<tr><td>start</td><td></td><td>{_math(derivation.start.expr)}</td><td></td><td></td>"
    out.append(start + ("<td></td>" if results is not None else "") + "</tr>")
    for i, step in enumerate(derivation.steps):
        rel = html.escape(r"\(" + RELATION_LATEX[step.rel] + r"\)")
        row = (f"<tr><td>{step.index}</td><td>{rel}</td><td>{_math(step.expr)}</td>"
               f"<td><code>{html.escape(step.rule)}</code></td><td>{html.escape(step.why)}</td>")
        if results is not None:
            r = results[i]
            verdict = r.verdict.value
            row += (f"<td style=\"color:{_VERDICT_COLOR[verdict]}\" title=\"{html.escape(r.reason)}\">"
                    f"{_VERDICT_MARK[verdict]} {verdict}</td>")
        out.append(row + "</tr>")
        if results is not None:
            r = results[i]
            extra = []
            if r.counterexample is not None:
                extra.append("counterexample: " + html.escape(r.counterexample.describe()))
            if getattr(r, "suggestion", None) is not None:
                extra.append("suggestion: " + html.escape(r.suggestion.describe()))
            if extra:
                out.append(f"<tr><td></td><td colspan=\"{len(head) - 1}\"><small>"
                           + "<br>".join(extra) + "</small></td></tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def derivation_html(derivation) -> str:
    """Title, summary and the steps as a table (Jupyter's text/html)."""
    parts = [f"<div class=\"elbo-sym-derivation\"><strong>{html.escape(derivation.title)}</strong>"]
    if derivation.summary:
        parts.append(f"<p>{html.escape(derivation.summary)}</p>")
    if derivation.claim is not None:
        c = derivation.claim
        claim = rf"\({to_latex(c.lhs.expr)} {RELATION_LATEX[c.rel]} {to_latex(c.rhs.expr)}\)"
        parts.append(f"<p>claim: {html.escape(claim)}</p>")
    parts.append(_table(derivation))
    return "\n".join(parts) + "\n</div>"


def result_html(result) -> str:
    """The derivation's table with a verdict per step, counterexamples and suggestions."""
    d = result.derivation
    status = "established" if result.established else "NOT established"
    mark = "✓" if result.ok else "✗"
    parts = [f"<div class=\"elbo-sym-result\"><strong>{html.escape(d.title)}</strong> "
             f"<code>{html.escape(d.path)}</code>",
             f"<p>{mark} {status}: {html.escape(result.claim_reason)}</p>",
             _table(d, result.steps)]
    for e in result.examples:
        if not e.holds:
            parts.append(f"<p>✗ example {e.example.index}: {html.escape('; '.join(e.failures))}</p>")
    for problem in result.problems:
        parts.append(f"<p>problem: {html.escape(problem)}</p>")
    return "\n".join(parts) + "\n</div>"


__all__ = ["derivation_latex", "derivation_html", "result_latex", "result_html", "aligned"]


class Shown:
    """A derivation or a check result as Jupyter shows it: the last line of a cell renders
    an aligned LaTeX chain, or a table with MathJax formulas, rules and verdict marks."""

    def __init__(self, shown) -> None:
        self.shown = shown

    def _is_result(self) -> bool:
        return hasattr(self.shown, "steps") and hasattr(self.shown, "derivation")

    def _repr_latex_(self) -> str:
        return result_latex(self.shown) if self._is_result() else derivation_latex(self.shown)

    def _repr_html_(self) -> str:
        return result_html(self.shown) if self._is_result() else derivation_html(self.shown)


def show(shown) -> Shown:
    """Display a Derivation or a DerivationResult in a notebook (`show(check_file(path))`)."""
    return Shown(shown)

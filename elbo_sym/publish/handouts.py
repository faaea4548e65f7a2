"""The printable handouts: template contexts built only from checked objects, and their build.

Every formula a handout prints is :func:`elbo_sym.engine.notation.to_latex` applied to a SymPy
object that was checked (a derivation's steps, an exact example value, a generated
exercise) -- templates only add prose labels and layout. Every other string (titles,
"why" prose, file names) reaches the template as a plain ``str`` and is LaTeX-escaped by
the render environment's ``finalize``.

Handouts (one PDF each, written to the output directory):

=====================  ==============================================================
``derivations.pdf``    every derivation, one section each: claim, aligned chain with the
                       reason and verdict of each step, summary, example values
``worked-example.pdf`` the lesson's binary example: all quantities exactly and in
                       nats/bits, and the figure ELBO(q) vs. log p(x)
``exercises.pdf``      seeded fresh binary exercises (the seed is printed)
``answers.pdf``        their answer key (same seed, same case numbers)
``tight-drill.pdf``    the tight-case drill
``selfcheck.pdf``      the six-question self-check, answers on the last page
``flashcards.pdf``     cut-out cards: fronts, then backs mirrored for duplex printing
``find-the-mistake.pdf`` teaching files (``expect = "refuted"``): the chains without
                       verdicts, then solutions: the wrong steps, exact counterexamples, repairs
``from-the-literature.pdf`` the published identities (``--literature``, e.g.
                       ``derivations/literature/``): each file's title, summary with its
                       citation, and chain with the rule and verdict of every step
=====================  ==============================================================

A handout is never built from a derivation that is not fully checked:
:func:`require_checked` raises :class:`HandoutError` naming the file, the step and its
verdict.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sympy import Expr, Integer, Rational, Symbol, log

from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.notation import (
    ELBO,
    KL,
    RELATION_LATEX,
    bracketed_terms,
    latex_terms,
    p,
    q,
    to_latex,
    x,
    z,
)
from elbo_sym.engine.parse import Vocabulary
from elbo_sym.limits import (
    BREAKABLE_WORD_CHARS,
    DEFAULT_COUNT,
    DEFAULT_SEED,
    DRILL_COUNT,
    MAX_INLINE_REPAIR_CHARS,
    SOLUTIONS,
    STEP_BUDGET_SECONDS,
    VALUES_LISTED_INLINE,
)
from elbo_sym.numbers.exact import LogNumber, distinguishing_digits, log_of
from elbo_sym.prose import counted, inline, sentence
from elbo_sym.publish.render import (
    INSTALL_HINT,
    BuildResult,
    LatexMarkup,
    OverfullBox,
    RenderError,
    breakable_words,
    build_pdf,
    latex_available,
    latex_escape,
    layout_defects,
    layout_failure,
    render_template,
    typeset_domain,
    typeset_prose,
    write_tex_only,
)
from elbo_sym.report.build import (  # exact_form re-exported: the handouts' exact forms
    approx_latex,
    deck_report_of,
    exact_form,
    formula_breaks,
    load_deck_in_time,
    prose_parts,
)
from elbo_sym.report.model import (
    NUMBERED_LABEL,
    CounterexampleReport,
    DerivationReport,
    FactorBreak,
    FormulaBreaks,
    Prose,
    ProsePart,
    RelationReport,
    SuggestionReport,
    WhereItem,
    plain_text,
)

if TYPE_CHECKING:  # for annotations only: the lesson's examples are imported where they are worked out
    from elbo_sym.lesson.examples import WorkedExample

__all__ = [
    "DEFAULT_COUNT",
    "DEFAULT_SEED",
    "LESSON_EXAMPLE",
    "BuildReport",
    "build_outcome",
    "Handout",
    "HandoutError",
    "LESSON_ORDER",
    "checked_deck",
    "deck_warning_lines",
    "derivation_context",
    "derivations_handout",
    "gallery_handout",
    "drill_context",
    "elbo_curve",
    "exact_form",
    "exercises_context",
    "flashcards_context",
    "lesson_handouts",
    "lesson_order",
    "literature_handout",
    "math",
    "mistake_context",
    "mistakes_handout",
    "notation",
    "relation",
    "require_checked",
    "require_printable",
    "require_proved",
    "selfcheck_context",
    "worked_example_context",
    "worked_example_handout",
    "HANDOUTS_MANIFEST",
    "WrittenHandouts",
    "write_handout_set",
    "write_handouts",
]

DECIMALS = 4


class HandoutError(Exception):
    """A handout cannot be made (a derivation is not fully checked, a template failed).  `warnings`: the
    warning lines of the decks checked before the refusal, the refused one's among them, which a command
    prints on stderr before it (a deck's relations in words were lost with its refusal)."""

    def __init__(self, message: str, warnings: Sequence[str] = ()):
        super().__init__(message)
        self.warnings = tuple(warnings)


# --------------------------------------------------------------------------- printing helpers


def math(expr: Expr) -> LatexMarkup:
    """The printer's LaTeX for ``expr``, marked trusted (the only way math enters a template)."""
    return LatexMarkup(to_latex(expr))


def prose(parts: Prose, fallback: str = "", *, paragraphs: bool = False) -> LatexMarkup:
    """An author's prose for LaTeX: text escaped and set like a textbook (curly quotes, minus
    signs: :func:`render.typeset_prose`; never math), ``$...$`` formulas as the printer's math,
    blank lines as paragraph breaks where the field may have them (else a space)."""
    if not parts:
        return LatexMarkup(typeset_prose(inline(fallback)))
    out = []
    before = ""  # what precedes a text run: "" (start), " " (a paragraph break) or "x" (a formula)
    for part in parts:
        if part.kind == "math":
            out.append(rf"\({part.latex}\)")
            before = "x"
        elif part.kind == "paragraph":
            out.append("\\par " if paragraphs else " ")
            before = " "
        else:
            text = re.sub(r"[ \t\r\n]+", " ", part.text)  # spaces next to formulas kept
            out.append(typeset_prose(text, before))
            before = text[-1:] or before
    return LatexMarkup("".join(out).strip())


_FILE_NAME_BREAKS = re.compile(r"(?<=[_./-])")
"""Where a long file name may break: after each ``_``, ``-``, ``.`` and ``/`` (never before)."""


def file_name_latex(name: str) -> LatexMarkup:
    """A file's name for ``\\texttt``, as typed (T1 sets ``'`` as a closing quote: red team rt25,
    ``e"q'.toml`` printed as ``e"q’.toml``). A name longer than BREAKABLE_WORD_CHARS may break,
    without a hyphen, after each ``_ - . /``, and a run of more than BREAKABLE_WORD_CHARS characters
    without one after any character: a teacher's 46-character name ran past the paper's edge in a
    heading (red team rt41 F11)."""
    if len(name) <= BREAKABLE_WORD_CHARS:
        pieces = [latex_escape(name)]
    else:
        pieces = [breakable_words(run) for run in _FILE_NAME_BREAKS.split(name) if run]
    return LatexMarkup(r"\allowbreak{}".join(pieces).replace("'", r"\textquotesingle{}"))


def relation(rel: str) -> LatexMarkup:
    """The LaTeX relation symbol for ``=``, ``<=``, ``>=``, ``<``, ``>``."""
    return LatexMarkup(RELATION_LATEX[rel])


def notation(text: str) -> Expr:
    """An expression of the derivation vocabulary, parsed (unevaluated, so it prints as written)."""
    from elbo_sym.engine.parse import parse_expression

    return parse_expression(text)


def number(value: Fraction | int) -> LatexMarkup:
    """An exact rational through the printer (``\\frac{3}{4}``)."""
    f = Fraction(value)
    return math(Rational(f.numerator, f.denominator))


def vector(values: Sequence[Fraction]) -> LatexMarkup:
    """``\\left(\\frac{3}{4}, \\frac{1}{4}\\right)``: a distribution's values, each through the
    printer; the brackets grow with the fractions (display or text style)."""
    return LatexMarkup(r"\left(" + ",\\ ".join(number(v) for v in values) + r"\right)")


def breakable(latex: str, breaks: FormulaBreaks | None = None, *, lead: str = "", tail: str = "") -> LatexMarkup:
    """The printer's LaTeX of a sum as ``\\chainterm{op}{term}`` calls, so that the template's
    ``\\chainbreak`` can break a long line before a top-level ``+`` or ``-`` (where TeX measures
    that the next term would pass the line) -- the one splitter of every broken formula.  A term that is
    one bracketed sum, or ends in one, breaks between its own terms too; a product between its factors,
    each printed whole, and a factor wider than a line inside the bracketed sum it ends with.  `breaks`,
    where the formula `latex` may break between factors (a report's :meth:`~DerivationReport.breaks_of`,
    or :func:`formula_breaks` of its expression), come from its expression; without them only a product
    of brackets and nothing else breaks between factors.  `lead` stands before the first term and `tail`
    after the last, inside their boxes, so that no line breaks at them (a condition's "if", a comma)."""
    formula = breaks if breaks is not None and breaks.latex == latex else FormulaBreaks(latex)
    pieces = latex_terms(latex)
    calls = []
    for i, piece in enumerate(pieces):
        op, body = _signed(piece, i)
        calls.append(_term_call(lead + op if i == 0 else op, body, formula.factors_of(body),
                                tail if i == len(pieces) - 1 else ""))
    return LatexMarkup("".join(calls))


def _term_call(op: str, body: str, factors: Sequence[FactorBreak] | None, tail: str) -> str:
    """One top-level term as the template's call: a bracketed sum (K = 20's gap: log p(x) - 20 terms) or
    one after a factor (a sum's or an expectation's long body: rt41) breaks between its terms, a product
    between its factors (`factors`, else a product of brackets only), anything else is one term."""
    inside, ending = bracketed_terms(body), _ending_bracket(body)
    if inside is not None:
        return _bracket_call(op, body + tail, "", r"\left(", r"\right)" + tail, inside)
    if ending is not None:
        prefix, opener, closer, terms = ending
        return _bracket_call(op, body + tail, prefix, opener, closer + tail, terms)
    factors = factors or _bracket_factors(body)
    if factors is None:
        return rf"\chainterm{{{op}}}{{{body}{tail}}}"
    calls = []
    for k, f in enumerate(factors):
        end = tail if k == len(factors) - 1 else ""
        if k == 0:  # the first factor is a term of the line: its op, a bracketed sum breaking as one
            calls.append(_bracket_call(op, f.latex + end, f.prefix, r"\left(", r"\right)" + end, f.terms)
                         if f.terms else rf"\chainterm{{{op}}}{{{f.latex}{end}}}")
        elif f.terms:  # too wide for a line, a later factor opens its bracket and breaks inside (rt44 F4)
            calls.append(rf"\chainfactorbracketed{{{f.gap}}}{{{f.latex}{end}}}{{{f.prefix}}}{{\right){end}}}"
                         rf"{{{_term_calls(f.terms)}}}")
        else:
            calls.append(rf"\chainfactor{{{f.gap}}}{{{f.latex}{end}}}")
    return rf"\chainproduct{{{op}}}{{{body}{tail}}}{{{''.join(calls)}}}"


def _bracket_call(op: str, body: str, prefix: str, opener: str, closer: str, terms: Sequence[str]) -> str:
    """A term that is a bracketed sum (``\\chainbracket``) or ends in one after `prefix`
    (``\\chainbracketed``): one term when it fits the line, else broken between its `terms`."""
    if not prefix and (opener, closer) == (r"\left(", r"\right)"):
        return rf"\chainbracket{{{op}}}{{{body}}}{{{_term_calls(terms)}}}"
    return rf"\chainbracketed{{{op}}}{{{body}}}{{{prefix}}}{{{opener}}}{{{closer}}}{{{_term_calls(terms)}}}"


def expression_breakable(expr: Expr) -> LatexMarkup:
    """:func:`breakable` for an expression at hand (a deck's formula, a worked example's working): its
    printer's LaTeX, its products broken between factors (:func:`formula_breaks`)."""
    return breakable(to_latex(expr), formula_breaks(expr))


def _term_calls(terms: Sequence[str]) -> str:
    return "".join(r"\chainterm{{{}}}{{{}}}".format(*_signed(inner, j)) for j, inner in enumerate(terms))


_DELIMITER = re.compile(r"\\(left|right)(?![A-Za-z])")
_BRACKETS = ((r"\left(", r"\right)"), (r"\left[", r"\right]"))


def _bracket_factors(term: str) -> tuple[FactorBreak, ...] | None:
    """The factors of a term that is a product of two or more bracketed factors and nothing else,
    ``\\left(D - 1\\right) \\left(D - 2\\right)`` (each ``\\left( ... \\right)`` whole, after the
    printer's gap, a space); None otherwise.  For a formula whose expression is not at hand (a
    suggestion's repair): any other product is split from its expression, never from its text."""
    factors, depth, start = [], 0, 0
    for m in _DELIMITER.finditer(term):
        if depth == 0 and (term[start:m.start()].strip() or not term.startswith(r"\left(", m.start())):
            return None  # something between the factors, or not a round bracket
        depth += 1 if m.group(1) == "left" else -1
        if depth == 0:
            end = m.end() + 1  # \right and its delimiter
            if term[m.end():end] != ")":
                return None
            factors.append(term[start:end].strip())
            start = end
    if len(factors) < 2 or depth != 0 or term[start:].strip():
        return None
    return tuple(FactorBreak(" " if i else "", f, tuple(bracketed_terms(f) or ())) for i, f in enumerate(factors))


def _ending_bracket(term: str) -> tuple[str, str, str, list[str]] | None:
    """(prefix, opener, closer, terms) of a term that ends in one ``\\left( ... \\right)`` or
    ``\\left[ ... \\right]`` holding a sum after something else -- ``\\sum_{z} q(z) \\left(a + b\\right)``,
    ``\\mathbb{E}_{q(z)}\\left[a - b\\right]`` -- so that the template may break between the sum's
    terms; None for any other term, a product of brackets among them (the bracket's pair found by counting
    ``\\left``/``\\right``)."""
    for opener, closer in _BRACKETS:
        if not term.endswith(closer):
            continue
        depth = 0
        for m in reversed(list(_DELIMITER.finditer(term))):
            depth += 1 if m.group(1) == "right" else -1
            if depth == 0:
                prefix = term[:m.start()]
                if not term.startswith(opener, m.start()) or not prefix.strip() or r"\left" in prefix:
                    return None  # a product of brackets, (a + b)(c + d), stays one term
                terms = latex_terms(term[m.start() + len(opener):-len(closer)])
                return (prefix, opener, closer, terms) if len(terms) > 1 else None
    return None


def _signed(piece: str, index: int) -> tuple[str, str]:
    """A term of :func:`latex_terms` as (sign, body): a later term's + or -, the first's nothing."""
    return (piece[0], piece[2:]) if index and piece[:2] in ("+ ", "- ") else ("", piece)


def fitted_terms(latex: str) -> LatexMarkup:
    """A table cell's formula: its top-level terms as ``\\fitcell`` boxes, so that the line breaks
    between terms and a single term wider than the column is scaled to it.

    Each box is a math list of its own, so a later term starts with an empty atom, ``{}- b``: TeX
    then sets its sign as the binary operator of a difference, not as a unary minus ("log p(x) -L(q)",
    red team rt35). The boxes touch (``\\allowbreak``, not a space), so the gaps either side of the
    sign are the same thin math space as in an unbroken formula.
    """
    boxes = []
    for i, piece in enumerate(latex_terms(latex)):
        op, body = _signed(piece, i)
        boxes.append(rf"\fitcell{{{{}}{op} {body}}}" if op else rf"\fitcell{{{body}}}")
    return LatexMarkup(r"\allowbreak".join(boxes))


def breakable_relation(r: RelationReport | None, report: DerivationReport | None = None) -> LatexMarkup | None:
    """A claim or a chain's result for the template's ``\\fitclaim``: in the running text when
    it fits the line, else displayed with both sides broken like a chain's lines (``\\showclaim``:
    always displayed, for fractions, which would shrink to text size in the line).  `report`: the
    derivation's, whose formulas' breaks (:meth:`~DerivationReport.breaks_of`) break products between factors."""
    if r is None:
        return None
    macro = "showclaim" if r"\frac" in r.latex else "fitclaim"
    return LatexMarkup(rf"\{macro}{{{r.latex}}}{{{_report_breakable(r.lhs.latex, report)}}}"
                       rf"{{{relation(r.rel)}}}{{{_report_breakable(r.rhs.latex, report)}}}")


def shown_relation(lhs: str, rel: str, rhs: str, report: DerivationReport | None = None) -> LatexMarkup:
    """``lhs rel rhs`` displayed (``\\showclaim``), both sides broken like a chain's lines: a
    solution's wrong step or repair that is wider than the page (13 factors of D = 14's slip)."""
    return LatexMarkup(rf"\showclaim{{}}{{{_report_breakable(lhs, report)}}}{{{relation(rel)}}}"
                       rf"{{{_report_breakable(rhs, report)}}}{{}}{{}}")


def _report_breakable(latex: str, report: DerivationReport | None) -> LatexMarkup:
    """:func:`breakable` for a formula of a report, with the breaks the report carries for it."""
    return breakable(latex, report.breaks_of(latex) if report is not None else None)


def decimal(value: LogNumber, digits: int = DECIMALS, *, bits: bool = False) -> LatexMarkup:
    """A certified rounded value for math mode (LogNumber.shown: a tiny one as 4.52 x 10^-8)."""
    return shown_number(value.shown(digits, bits=bits))


def shown_number(text: str) -> LatexMarkup:
    """A rounded value LogNumber.shown wrote ('0.056633', '4.52e-08'), for math mode."""
    return LatexMarkup(approx_latex(text))


# --------------------------------------------------------------------------- checked derivations


def require_checked(reports: Iterable[DerivationReport]) -> None:
    """Raise :class:`HandoutError` unless every derivation passes: each step proved, or
    checked and explicitly accepted (``accept = "checked"``), claim established.

    The message lists every failure as ``file:line: step N: verdict (reason)``.
    """
    problems: list[str] = []
    for r in reports:
        for s in r.steps:
            if not s.passes:
                problem = f"{r.file}:{s.line}: step {s.index} is {s.verdict}: {s.reason}"
                if s.verdict == "checked" and not s.expected_refuted:  # a deliberate mistake wants refuted
                    problem += f" (not proved; {s.hint})"
                if s.counterexample is not None:
                    problem += f"\n    counterexample: {s.counterexample.describe()}"
                problems.append(problem)
        for e in r.examples:
            if not e.holds:
                problems.append(f"{r.file}:{e.line}: example {e.index} fails: " + "; ".join(e.failures))
        for problem in r.problems:
            problems.append(f"{r.file}: {problem}")
        if not r.established and r.expect != "refuted":
            problems.append(f"{r.file}: claim not established: {r.claim_reason}")
    if problems:
        raise HandoutError("only fully checked derivations are published (handouts, pages):\n  "
                           + "\n  ".join(problems))


def _example_context(example) -> dict[str, Any]:
    """An example of a report: its instance's values and the quantities computed exactly."""
    given = [{"symbol": LatexMarkup(g.symbol.latex), "value": LatexMarkup(g.latex)} for g in example.given]
    rows = [{"symbol": LatexMarkup(v.symbol.latex), "cell": fitted_terms(v.symbol.latex),
             "exact": LatexMarkup(v.exact.latex),
             "nats": shown_number(v.nats), "bits": shown_number(v.bits) if v.bits is not None else None,
             "role": v.role, "probability": v.bits is None,
             "decimal": decimal_relation(_rational_or_none(v.exact.text), v.nats)} for v in example.rows]
    # a quantity with no exact value here is named, with why, rather than left out (red team rt25)
    unevaluated = [{"symbol": LatexMarkup(u.symbol.latex), "cell": fitted_terms(u.symbol.latex),
                    "why": f"no exact value here: {u.why.split(' (')[0]}"} for u in example.unevaluated]
    return {"index": example.index, "given": given, "rows": rows, "unevaluated": unevaluated}


def _rational_or_none(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(" ", ""))
    except (ValueError, ZeroDivisionError):
        return None


def decimal_relation(exact: Fraction | None, decimal: str) -> LatexMarkup:
    """``= 0.3`` when the decimal is the exact value, else ``\\approx 0.613333``: how a
    probability's decimal is printed (beside its exact value, never under "nats")."""
    try:
        equal = exact is not None and Fraction(decimal) == exact
    except (ValueError, ZeroDivisionError):
        equal = False
    if equal and "." in decimal:  # 3/10 = 0.3, not 0.300000
        decimal = decimal.rstrip("0").rstrip(".")
    return LatexMarkup(("= " if equal else "\\approx ") + approx_latex(decimal))


UNDER_CONDITIONS = "under the conditions above"
"""How the result of a derivation with conditions refers to them (its "Assume." lines)."""


def claim_conditions(report: DerivationReport) -> list[LatexMarkup]:
    """What the claim was checked under, each printed as "Assume." beside it: the parameters'
    domains, then the assumptions and premises."""
    return [LatexMarkup(c) for c in report.conditions_latex]


def _result_phrases(steps: int, proved: int, checked: int) -> dict[str, str]:
    """How a derivation's result starts, on the sheet and the page: ``all_proved`` when every step is
    ("The step is proved", "Both steps are proved", "All 3 steps are proved"), else ``partly_proved``."""
    everyone = {1: "The step is proved", 2: "Both steps are proved"}.get(steps, f"All {steps} steps are proved")
    partly = (f"{proved} of {counted(steps, 'step')} {'is' if proved == 1 else 'are'} proved and {checked} only "
              "checked on exact instances") if proved else (  # never "0 of 1 step are proved" (rt38)
        "The step is not proved, only checked on exact instances" if steps == 1 else
        f"None of the {steps} steps is proved, {checked} only checked on exact instances")
    return {"all_proved": everyone, "partly_proved": partly}


def derivation_context(report: DerivationReport) -> dict[str, Any]:
    """Everything the derivation sheet prints about one checked derivation (from its report)."""
    require_checked([report])
    if report.chain is None:  # a teaching file may mix >= and <= (derivations_handout leaves those out)
        raise HandoutError(f"{report.file}: the chain mixes >= and <= steps, so it shows no relation to print")
    steps = [
        {
            "index": s.index,
            "rel": relation(s.rel),
            "expr": LatexMarkup(s.expr.latex),
            "terms": _report_breakable(s.expr.latex, report),
            "rule": (s.rule_shown if s.verdict == "proved"
                     else f"{s.rule}: held on {s.instances} exact instances, not proved"),
            "why": prose(s.why_parts, s.why),  # never a paragraph break inside the chain
            "verdict": s.verdict,
            "instances": s.instances,
            "at": source_marker(report.file, s.line),  # its "%@step" line: a layout warning names it (rt52 F4)
        }
        for s in report.steps
    ]
    return {
        "name": report.name,
        "file": Path(report.file).name,
        "file_tex": file_name_latex(Path(report.file).name),
        "title": prose(report.title_parts, report.title),
        "title_at": title_source(report),
        "file_at": source_marker(report.file),  # the chain's %@ line
        "summary": prose(report.summary_parts, report.summary, paragraphs=True),
        "K": report.K,
        "proved_for": report.model,
        "scope": report.scope,
        "scope_line": LatexMarkup(report.scope.joined(lambda c: rf"\({c.latex}\)", typeset_domain, latex_escape)),
        "convention": report.convention,
        "claim": LatexMarkup(report.claim.latex) if report.claim is not None else None,
        "assumptions": claim_conditions(report),
        "under": UNDER_CONDITIONS,
        "start": LatexMarkup(report.start.latex),
        "start_terms": _report_breakable(report.start.latex, report),
        "claim_display": breakable_relation(report.claim, report),
        "shown_display": breakable_relation(report.chain, report),
        "steps": steps,
        "proved": sum(s.verdict == "proved" for s in report.steps),
        "checked": sum(s.verdict == "checked" for s in report.steps),
        "fully_proved": report.fully_proved,
        **_result_phrases(len(report.steps), sum(s.verdict == "proved" for s in report.steps),
                          sum(s.verdict == "checked" for s in report.steps)),
        "shown": LatexMarkup(report.chain.latex),
        "examples": [_example_context(e) for e in report.examples],
    }


# --------------------------------------------------------------------------- handouts


@dataclass(frozen=True)
class Handout:
    """One printable handout: ``name`` (the PDF's stem), its template and context."""

    name: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each box a template measures itself comes from: its name in the log ("the back of
    card 1") -> the file:line that holds it, named in the layout warning (red team rt31)."""
    warnings: tuple[str, ...] = ()
    """The warning lines of the deck it prints (:func:`deck_warning_lines`): `build` prints them on stderr."""
    pages: int | None = None
    """How many pages its PDF must have (flashcards: a page of fronts and one of backs per sheet, for duplex
    printing), or None for any number: a PDF with another count fails its build (rt46 F8: a footer pushed onto
    a page of its own put every back on the wrong sheet, and the build said "wrote")."""

    def render(self) -> str:
        """The LaTeX source (raises :class:`RenderError` naming template and line)."""
        return render_template(self.template, **self.context)


LESSON_ORDER = ("jensen", "decomposition", "gap", "tight")
"""The lesson's derivations in teaching order; other files follow in the order given."""


HEAD_TITLE_CHARS = 60
"""The most characters of a course title (formulas counted as they read) the running head
prints; a longer title ends there in "…" (a 198-character title was scaled to ~3 pt to fit
one line, red team rt31). The title line of the first page keeps the whole title."""


def shortened(parts: Prose, most: int) -> Prose:
    """`parts` cut to at most `most` characters of their reading, between words and never
    inside a formula, ending in "…"; `parts` themselves when they fit."""
    if sum(len(part.text) for part in parts) <= most:
        return parts
    kept: list[ProsePart] = []
    used = 0
    for part in parts:
        if part.kind == "text" and used + len(part.text) > most:
            room = part.text[:most - used + 1]  # a space just after the limit: its last word is whole
            cut = room[:room.rfind(" ")] if " " in room[1:] else ("" if kept else room)
            if cut.strip():
                kept.append(ProsePart("text", cut))
            break
        if used + len(part.text) > most:
            break
        kept.append(part)
        used += len(part.text)
    while kept and kept[-1].kind == "text" and not kept[-1].text.rstrip(" ,;:-"):
        kept.pop()  # nothing but a space or a comma before the ellipsis
    if not kept:  # a formula first, longer than the head: the whole title, scaled to the line as before
        return parts
    if kept[-1].kind == "text":
        kept[-1] = ProsePart("text", kept[-1].text.rstrip(" ,;:-"))
    return (*kept, ProsePart("text", "\u2026"))


def source_marker(file: str, line: int | None = None) -> LatexMarkup:
    """FILE or FILE:LINE for a ``%@`` comment line of a template (render.overfull_boxes reads it back
    into a layout message), the same however the file was named on the command line: relative to
    the current folder (a project's, when built from it) with ``/`` between folders, absolute when
    outside it (``./derivations/gap.toml`` and its absolute path are both ``derivations/gap.toml``).
    Not escaped for TeX, which reads nothing after ``%`` on its line (a ``%`` or a letter such as
    ``é`` stays as it is, readable in the message); a character that would end the line (a
    newline, U+2028: str.splitlines counts it) or any other that does not print is ``?``."""
    where = os.path.relpath(os.path.abspath(file))
    if where == os.pardir or where.startswith(os.pardir + os.sep):
        where = os.path.abspath(file)
    where = Path(where).as_posix() + (f":{line}" if line else "")
    return LatexMarkup("".join(ch if ch.isprintable() else "?" for ch in where))


def title_source(report: DerivationReport) -> LatexMarkup:
    """FILE:LINE of a derivation's ``title`` for the ``%@`` line above its heading (the file alone
    when the line is unknown): a heading too wide for the page names it."""
    return source_marker(report.file, report.title_line)


def course_latex(title: str, most: int | None = None) -> LatexMarkup:
    """The course's title (a project's checked ``title``) as the handouts print it: like every
    author's prose; with `most`, :func:`shortened` to that many characters (the running head)."""
    parts = prose_parts(title, Vocabulary())
    return prose(parts if most is None else shortened(parts, most), title)


def course_context(title: str) -> dict[str, LatexMarkup]:
    """The templates' ``course`` (the whole title: the first page's title line, subtitles) and
    ``course_head`` (at most :data:`HEAD_TITLE_CHARS`: the running head) for a course title;
    none without one (the templates keep the lesson's name)."""
    if not title:
        return {}
    return {"course": course_latex(title), "course_head": course_latex(title, HEAD_TITLE_CHARS)}


def course_titled(handouts: Sequence[Handout], title: str) -> list[Handout]:
    """The handouts with the course's title (a project's checked ``title``, printed like every
    author's prose, :func:`course_context`): their running header and the lesson's name in
    subtitles. No title: the handouts as they are (the templates keep the lesson's name)."""
    course = course_context(title)
    return [replace(h, context={**h.context, **course}) for h in handouts]


def lesson_order(reports: Sequence[DerivationReport]) -> list[DerivationReport]:
    """Reports sorted into :data:`LESSON_ORDER` (stable for everything else)."""
    rank = {name: i for i, name in enumerate(LESSON_ORDER)}
    return sorted(reports, key=lambda r: rank.get(r.name, len(rank)))


# Where the answers go (SOLUTIONS, elbo_sym.limits): nowhere and ``separate`` (after all the questions,
# on a fresh sheet, or in answers.pdf) make student handouts -- no verdict marks, rule tags or file
# names; ``inline`` (each answer after its question) makes the teacher's, which keep them.


def _solutions(solutions: str) -> dict[str, Any]:
    """The template variables of a solutions mode: ``solutions`` and ``teacher``."""
    if solutions not in SOLUTIONS:
        raise HandoutError(f"solutions must be one of {', '.join(SOLUTIONS)}, not {solutions!r}")
    return {"solutions": solutions, "teacher": solutions == "inline"}


def derivations_handout(results: Sequence[DerivationReport], solutions: str = "separate") -> Handout:
    """``derivations.pdf``: every derivation, one section each (lesson order first);
    teaching files go to :func:`mistakes_handout` instead.  The teacher's version
    (``solutions="inline"``) carries verdict marks, rule tags and file names."""
    require_checked(results)
    proved = [r for r in lesson_order(results) if r.expect != "refuted"]
    return Handout("derivations", "derivations.tex.j2",
                   {"derivations": [derivation_context(r) for r in proved], **_solutions(solutions)})


def gallery_handout(results: Sequence[DerivationReport], solutions: str = "separate") -> Handout | None:
    """``beyond-the-lesson.pdf``: the variants gallery (IWAE, the Gaussian VAE, two latent
    layers, ...) in the derivation sheet's layout; None when there are no variants. Like the
    literature's, every step proved, or nothing is built (:func:`require_proved`; docs/03): its
    subtitle says every step is machine-checked (red team rt25 built it from an accepted step)."""
    require_proved(results, "the gallery (beyond-the-lesson.pdf)")
    if not results:
        return None
    return Handout("beyond-the-lesson", "beyond-the-lesson.tex.j2",
                   {"derivations": [derivation_context(r) for r in results], **_solutions(solutions)})


LITERATURE = "from-the-literature"
"""The literature handout's name (its PDF's stem) and the web page's."""


def require_proved(reports: Iterable[DerivationReport], what: str = "the literature handout") -> None:
    """Raise :class:`HandoutError` unless every derivation is *proved*: each step, the claim
    established, the examples holding. A published identity is printed as a theorem, so a step
    that is only ``checked`` (even with ``accept = "checked"``) or a teaching file (``expect =
    "refuted"``) stops the build; the message names every such file, line and step."""
    reports = list(reports)
    problems: list[str] = []
    for r in reports:
        if r.expect == "refuted":
            problems.append(f"{r.file}: a teaching file (expect = \"refuted\") is not a published identity")
            continue
        problems += [f"{r.file}:{s.line}: step {s.index} is {s.verdict} (accepted), not proved"
                     for s in r.steps if s.passes and s.verdict != "proved"]
    try:
        require_checked(reports)
    except HandoutError as error:
        problems.append(str(error).split(":\n  ", 1)[-1])
    if problems:
        raise HandoutError(f"{what} prints only proved derivations:\n  " + "\n  ".join(problems))


def literature_handout(results: Sequence[DerivationReport]) -> Handout | None:
    """``from-the-literature.pdf``: every published identity given (the files of
    ``derivations/literature/``, in the order given), in the derivation sheet's layout with
    each step's rule and verdict; None when there are none. Refuses (:func:`require_proved`)
    anything not proved."""
    require_proved(results)
    if not results:
        return None
    return Handout(LITERATURE, "from-the-literature.tex.j2",
                   {"derivations": [derivation_context(r) for r in results], "teacher": True,
                    "solutions": "inline"})


def mistake_context(report: DerivationReport) -> dict[str, Any]:
    """A teaching file ("find the mistake"): the chain without verdicts for the students, and
    per refuted step the exact counterexample and the suggested repair for the solution page."""
    require_checked([report])
    if report.expect != "refuted":
        raise HandoutError(f"{report.file}: not a teaching file (no expect = \"refuted\")")
    steps = [{"index": s.index, "rel": relation(s.rel), "expr": LatexMarkup(s.expr.latex),
              "terms": _report_breakable(s.expr.latex, report), "why": prose(s.why_parts, s.why)}
             for s in report.steps]
    mistakes = []
    for s in report.steps:
        if not s.expected_refuted:
            continue
        c, g = s.counterexample, s.suggestion
        following = report.steps[s.index] if s.index < len(report.steps) else None
        mistakes.append({
            "index": s.index, "lhs": LatexMarkup(s.lhs.latex), "rel": relation(s.rel),
            "expr": LatexMarkup(s.expr.latex),
            "reason": s.reason,
            "source": c.source if c is not None else "",
            "where": LatexMarkup(c.where_latex) if c is not None and c.where_latex else None,
            "value_list": value_pieces(c) if c is not None else (),
            "display": shown_relation(s.lhs.latex, s.rel, s.expr.latex, report),
            "problem": c.problem if c is not None else None,
            "left": _side(c.lhs, c.lhs_latex) if c is not None else "",
            "right": _side(c.rhs, c.rhs_latex) if c is not None else "",
            "left_value": c.lhs_value if c is not None else "", "right_value": c.rhs_value if c is not None else "",
            "left_value_latex": LatexMarkup(approx_latex(c.lhs_value)) if c is not None else "",
            "right_value_latex": LatexMarkup(approx_latex(c.rhs_value)) if c is not None else "",
            "apart": c.apart() if c is not None else "",
            # sides printed alike: left - right as math, set as the sides' values are (red team rt57 F1)
            "gap_latex": LatexMarkup(approx_latex(c.gap)) if c is not None and c.gap else "",
            **_repair_context(g, s.lhs.latex, report),
            "carried": carried_note(s.index, following.index)
            if following is not None and following.carried else "",
        })
    count = len(mistakes)
    task = (f"Exactly {'one step is' if count == 1 else f'{count} steps are'} wrong. Which, and why? "
            "Give a model where it fails, and correct it.")
    return {"name": report.name, "title": prose(report.title_parts, report.title), "title_at": title_source(report),
            "summary": prose(report.summary_parts, report.summary, paragraphs=True),
            "claim": LatexMarkup(report.claim.latex) if report.claim is not None else None,
            "assumptions": claim_conditions(report),
            "start": LatexMarkup(report.start.latex), "steps": steps, "mistakes": mistakes, "task": task,
            "start_terms": _report_breakable(report.start.latex, report),
            "claim_display": breakable_relation(report.claim, report)}


def carried_note(mistake: int, following: int) -> str:
    """The solution's word on a step that only carries the mistake before it (the same for the
    PDF and the site): it fails as written, and needs no edit."""
    return (f"Step {following} follows from step {mistake} as written, so it fails too; once step {mistake} "
            f"is corrected it holds: no edit is needed in step {following}.")


def value_pieces(c: CounterexampleReport) -> tuple[LatexMarkup, ...]:
    """A counterexample's values as short formulas to print joined by ", ", so that a long list
    (D = 14: mu_1..mu_14, sigma_1..sigma_14, w_1..w_14, b, s, x) breaks between values, on the page
    and on a phone. A numbered block (mu1, mu2, ...: one value each) is summarised: the values that
    differ from its most common one, then "mu_d = 0 for every other d <= 14". Every value stays in
    the report (its JSON, `check`); only the printed list is shorter. The pieces are the report's
    own (``c.where_pieces``), never split out of a joined text."""
    blocks = _numbered_blocks(c)
    pieces: list[str] = []
    done: set[str] = set()
    for (raw, _), item in zip(c.values, c.where_pieces):
        block = blocks.get(raw)
        if block is None:
            pieces += _tuple_pieces(item)
        elif block not in done:
            done.add(block)
            pieces += _summary_pieces([(other.label, other.values[0], vals[0])
                                       for (r, vals), other in zip(c.values, c.where_pieces) if blocks.get(r) == block])
    return tuple(LatexMarkup(p) for p in pieces)


def _numbered_blocks(c: CounterexampleReport) -> dict[str, str]:
    """label -> its block's name, for blocks of one-value labels name1, name2, ..., nameN (N >= 3,
    each index once, labels printed with that index as a subscript); other labels are in none."""
    members: dict[str, list[tuple[int, str, str]]] = {}
    for (raw, values), item in zip(c.values, c.where_pieces):
        numbered = NUMBERED_LABEL.fullmatch(raw)
        if numbered and len(values) == 1 and item.label.endswith(f"_{{{numbered[2]}}}"):
            members.setdefault(numbered[1], []).append((int(numbered[2]), raw, item.label))
    return {raw: name for name, found in members.items() if len(found) > VALUES_LISTED_INLINE
            and sorted(i for i, _, _ in found) == list(range(1, len(found) + 1)) for _, raw, _ in found}


def _summary_pieces(block: list[tuple[str, str, str]]) -> list[str]:
    """A numbered block's (label LaTeX, value LaTeX, value text) as its odd values, then the
    most common value for every other index ("for every d" when all are equal)."""
    texts = [text for _, _, text in block]
    common = max(texts, key=texts.count)  # the first of the most frequent, so the same every run
    if texts.count(common) < 2:
        return [f"{label} = {shown}" for label, shown, _ in block]
    odd = [f"{label} = {shown}" for label, shown, text in block if text != common]
    label, shown, _ = next(entry for entry in block if entry[2] == common)
    general = re.sub(r"_\{[0-9]+\}$", "_{d}", label)
    which = rf"\text{{for every other }} d \le {len(block)}" if odd else rf"\text{{for }} d = 1, \dots, {len(block)}"
    return [*odd, rf"{general} = {shown}\ {which}"]


def _tuple_pieces(item: WhereItem) -> list[str]:
    """One block's values: a short tuple whole, a long one value by value (the line may break
    after each comma)."""
    if len(item.values) <= VALUES_LISTED_INLINE:
        return [item.latex]
    return [f"{item.label} = ({item.values[0]}", *item.values[1:-1], f"{item.values[-1]})"]


def _side(text: str, latex: str) -> LatexMarkup:
    """A counterexample's side for inside math: the printer's LaTeX of its exact value, else
    (no value to typeset: "(not in closed form)") its text set upright as text, never as math."""
    return LatexMarkup(latex) if latex else LatexMarkup(r"\text{" + latex_escape(text) + "}")


_NO_REPAIR: dict[str, Any] = {"repair": None, "repair_rel": "", "repair_lhs": "", "repair_display": None,
                              "repair_parts": (), "repair_sentence": LatexMarkup("")}


def _repair_context(g: SuggestionReport | None, step_lhs: str,
                    report: DerivationReport | None = None) -> dict[str, Any]:
    """A mistake's repair as the sheet and the site show it (`step_lhs`: the step's left side, LaTeX).
    The repaired step's left side is taken once: the previous step as repaired when the repair was
    proved from it (``g.lhs_latex``), else the step's own.  The repaired step is displayed only when
    the repair edits this step (``g.changes``); the sentence says the repair either way."""
    if g is None:
        return dict(_NO_REPAIR)
    lhs = g.lhs_latex or step_lhs
    edited = bool(g.expr_latex and g.changes)
    parts = repair_parts(g)
    return {"repair": LatexMarkup(g.expr_latex) if edited else None, "repair_rel": relation(g.rel),
            "repair_lhs": LatexMarkup(lhs),
            "repair_display": shown_relation(lhs, g.rel, g.expr_latex, report) if edited else None,
            "repair_parts": parts, "repair_sentence": prose(parts)}


def repair_parts(g: SuggestionReport) -> Prose:
    """The solution's repair sentence as the report's pieces: what the repair does -- its formulas
    the checked expressions through the printer (``g.description_pieces``), never re-parsed from a
    sentence -- then that it was checked, and the rule. A formula longer than
    MAX_INLINE_REPAIR_CHARS has nowhere to break in the line and stays its text (the repaired step
    is displayed below it)."""
    if not g.changes:  # no edit of this step: it holds once an earlier one is repaired (rt26: printed nothing)
        words = list(g.pieces)
        if words and words[0].kind == "text":
            words[0] = ProsePart("text", sentence(words[0].text))
        return (*words, ProsePart("text", "."))
    if g.authored and g.description == "the intended correction":
        return (ProsePart("text", f"The intended correction (checked: the step and the chain hold with it); "
                                  f"rule: {g.rule}."),)
    parts = [ProsePart("text", p.text) if p.kind == "math" and len(p.text) > MAX_INLINE_REPAIR_CHARS else p
             for p in g.pieces]
    if parts[0].kind == "text":
        parts[0] = ProsePart("text", sentence(parts[0].text))
    # a teaching file is published only when its solution holds (engine.repair.solution_problem)
    checked = "the intended correction, checked" if g.authored else "checked: the step and the chain hold with it"
    return (*parts, ProsePart("text", f" ({checked}); rule: {g.rule}."))


def mistakes_handout(results: Sequence[DerivationReport], solutions: str = "separate") -> Handout | None:
    """``find-the-mistake.pdf`` from the teaching files among `results` (None if there are none);
    the solutions after all the derivations, after each, or (``none``) left out."""
    teaching = [r for r in results if r.expect == "refuted"]
    if not teaching:
        return None
    return Handout("find-the-mistake", "find-the-mistake.tex.j2",
                   {"derivations": [mistake_context(r) for r in teaching], **_solutions(solutions)})


# --------------------------------------------------------------------------- binary example + figure


LESSON_EXAMPLE = Instance.of("lesson", prior=(Fraction(3, 4), Fraction(1, 4)),
                             likelihood=(Fraction(1, 5), Fraction(3, 5)), q=(Fraction(1, 3), Fraction(2, 3)))
"""The lesson's worked example, a binary Instance (q = (1/2, 1/2) is exactly its posterior: the tight case)."""


def _binary_elbo(example: Instance, q1: Fraction) -> LogNumber:
    """ELBO at q = (1 - q1, q1) from its definition, sum_z q log(p(x,z)/q); 0 log 0 = 0."""
    total = LogNumber.of(0)
    for qk, a, b in zip((1 - q1, q1), example.prior, example.likelihood()):
        if qk:
            total = total + log_of(a * b / qk) * qk
    return total


def elbo_curve(example: Instance, points: int = 101) -> dict[str, Any]:
    """Exact samples of q1 -> ELBO(1 - q1, q1) of a binary Instance for a pgfplots ``coordinates`` list.

    ``points`` equally spaced q1 in [0, 1] (ends by 0 log 0 = 0) plus the posterior's and
    the example's q1; every y is a certified decimal of an exact :class:`LogNumber`.
    """
    grid = {Fraction(i, points - 1) for i in range(points)}
    post1, q1 = example.posterior()[1], example["q"][1]
    grid |= {post1, q1}
    coords = [(float(t), _binary_elbo(example, t).decimal(6)) for t in sorted(grid)]
    log_px = log_of(example.evidence())
    elbo_q = _binary_elbo(example, q1)
    gap = log_px - elbo_q
    ys = [float(y) for _, y in coords]
    shown = distinguishing_digits(log_px, elbo_q, LogNumber.shown)  # decimals
    top = float(log_px.decimal(6))
    span = top - min(ys)
    return {
        "coordinates": LatexMarkup(" ".join(f"({t:.6g},{y})" for t, y in coords)),
        "points": len(coords),
        "log_px": LatexMarkup(log_px.decimal(6)),
        "posterior_q1": LatexMarkup(f"{float(post1):.6g}"),
        "posterior_q1_exact": number(post1),
        "q1": LatexMarkup(f"{float(q1):.6g}"),
        "q1_exact": number(q1),
        "elbo_q": LatexMarkup(elbo_q.decimal(6)),
        # the captions' values: as many decimals as it takes for the two to differ when they do
        "log_px_shown": decimal(log_px, shown),
        "elbo_q_shown": decimal(elbo_q, shown),
        "gap": decimal(gap),
        "ytick": next(step for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 1e9) if span / step <= 6),
        "ymin": LatexMarkup(f"{min(ys) - 0.06 * span:.4f}"),
        "ymax": LatexMarkup(f"{top + 0.3 * span:.4f}"),
        # the gap's label sits above log p(x), beside the gap, away from the posterior
        "label_x": LatexMarkup(f"{float(q1) + (0.05 if q1 >= post1 else -0.05):.4f}"),
        "label_anchor": "west" if q1 >= post1 else "east",
        "label_y": LatexMarkup(f"{top + 0.16 * span:.4f}"),
        # the example's q1 under the curve: to the right of its dotted line, to the left near q1 = 1
        "q1_label_side": "above left" if q1 > Fraction(4, 5) else "above right",
        "tight": q1 == post1,
        "labels": {
            "q1": math(Symbol("q_1")),
            "log_px": math(log(p(x))),
            "elbo": math(ELBO(q(z))),
            "kl": math(KL(q(z), p(z, given=(x,)))),
            "q": math(q(z)),
            "posterior": math(p(z, given=(x,))),
        },
    }


# --------------------------------------------------------------------------- worked example

_QUANTITY_NAMES = {
    "evidence": "evidence",
    "log_evidence": "log-evidence",
    "elbo": "ELBO",
    "reconstruction": "reconstruction",
    "kl_prior": "KL to prior",
    "kl_posterior": "KL to posterior",
    "gap": "gap",
}


def _quantity_row(quantity) -> dict[str, Any]:
    """One table row of an :class:`elbo_sym.lesson.examples.Quantity` (all formulas through the printer)."""
    return {
        "key": quantity.key,
        "name": _QUANTITY_NAMES.get(quantity.key, quantity.key.replace("_", " ")),
        "symbol": math(quantity.symbol),
        "working": math(quantity.working),
        "working_terms": expression_breakable(quantity.working),
        "exact": math(exact_form(quantity.value)),
        "nats": shown_number(quantity.nats),
        "bits": shown_number(quantity.bits) if quantity.bits is not None else None,
        "information": quantity.is_information,
        "decimal": decimal_relation(None if quantity.value.logs else quantity.value.rational, quantity.nats),
    }


def _identity_row(identity) -> dict[str, Any]:
    return {
        "name": identity.name,
        "formula": LatexMarkup(identity.latex),
        "verdict": identity.verdict,
        "lhs": decimal(identity.lhs_value, 6),
        "rhs": decimal(identity.rhs_value, 6),
        "condition": identity.condition,
        "holds": identity.holds,
    }


def worked_example_context(example: Instance | WorkedExample) -> dict[str, Any]:
    """Context for a worked example (or one of an Instance): inputs, per-state table, quantities,
    identities, and the figure when it is binary.

    An Instance is worked out by :func:`elbo_sym.lesson.examples.example_of` (every value exact
    and re-derived by the engine); a project's examples come worked out already.  Refuses to
    print an example whose identities do not all hold.
    """
    from elbo_sym.lesson.examples import worked

    w = worked(example)
    if not w.all_proved:
        bad = ", ".join(i.name for i in w.identities if not i.holds)
        raise HandoutError(f"worked example {w.inputs_text}: identities not proved: {bad}")
    states = [
        {
            "z": r.z,
            "z_tex": math(Integer(r.z)),
            "cells": [{"key": c.key, "exact": math(c.exact),
                       "value": LatexMarkup(f"{to_latex(c.working)} = {to_latex(c.exact)}")
                       if c.key in ("joint", "posterior") else math(c.exact)} for c in r.cells[:5]],
            "term_working": math(r.elbo_term.working),
            "term_nats": shown_number(r.elbo_term.nats),
        }
        for r in w.rows
    ]
    heads = [math(c.symbol) for c in w.rows[0].cells]
    return {
        "K": w.K,
        "given": _givens(w.instance),
        "posterior": vector(w.posterior_values),
        "posterior_symbol": math(p(z, given=(x,))),
        "heads": heads[:5],
        "term_head": heads[5],
        "states": states,
        "quantities": [_quantity_row(quantity) for quantity in w.quantities],
        "identities": [_identity_row(i) for i in w.identities],
        "tight": w.tight,
        "engine_checked": w.engine_checked,
        "figure": elbo_curve(w.instance) if w.K == 2 else None,
        "q_symbol": math(q(z)),
        "x": math(x),
        "z": math(z),
    }


def worked_example_handout(example: Instance | WorkedExample | Sequence[Instance | WorkedExample] = LESSON_EXAMPLE,
                           solutions: str = "separate") -> Handout:
    """``worked-example.pdf``: the example (or each of several, one after the other), every
    quantity, and the figure of a binary one."""
    examples = list(example) if isinstance(example, Sequence) else [example]
    if not examples:
        raise HandoutError("no worked example given")
    contexts = [worked_example_context(e) for e in examples]
    return Handout("worked-example", "worked-example.tex.j2",
                   {"ex": contexts[0], "examples": contexts, **_solutions(solutions)})


# --------------------------------------------------------------------------- exercises and answers

_TASK_NAMES = {
    "evidence": "the evidence",
    "posterior": "the posterior, for each state of the latent variable",
    "elbo": "the ELBO, one term per state",
    "reconstruction": "the reconstruction term",
    "kl_prior": "the KL divergence from q to the prior",
    "kl_posterior": "the KL divergence from q to the posterior",
    "gap": "the gap, and check that it equals the KL divergence to the posterior",
}


_PROBABILITY_TASKS = ("evidence", "posterior")


def _givens(instance: Instance, with_q: bool = True) -> list[dict[str, Any]]:
    """The givens p(z), p(x | z) and (``with_q``) q(z) of an instance, through the printer."""
    out = [{"symbol": math(p(z)), "value": vector(instance.prior)},
           {"symbol": math(p(x, given=(z,))), "value": vector(instance.likelihood())}]
    if with_q:
        out.append({"symbol": math(q(z)), "value": vector(instance["q"])})
    return out


def _answer_rows(key, tasks) -> list[dict[str, Any]]:
    """The answer key of one case, one row per task (all through the printer, all exact)."""
    if not key.all_proved:
        raise HandoutError(f"answer key {key.inputs_text}: an identity is not proved")
    rows = []
    for letter, task in zip("abcdefghij", tasks):
        if task.key == "posterior":
            shown = [approx_latex(c.nats) for c in key.posterior]
            decimals = LatexMarkup(",\\ ".join(shown))
            breakable_decimals = ",\\ \\allowbreak ".join(shown)  # many states: may wrap
            rows.append({"letter": letter, "symbol": math(task.symbol), "working": vector(key.posterior_values),
                         "nats": decimals, "bits": None,
                         # more than two decimals do not fit the decimal column: after the fractions
                         "decimals_below": LatexMarkup(rf"\approx ({breakable_decimals})")
                         if len(key.posterior) > 2 else None})
            continue
        quantity = key.quantity(task.key)
        working = math(quantity.working)
        if quantity.is_information:  # the gap's bracket, log a - (...), may break between its terms when wrapped
            working = _breakable_parentheses(working)
        else:  # a probability: show the product-sum and its value
            working = LatexMarkup(f"{working} = {to_latex(quantity.exact)}")
        rows.append({"letter": letter, "symbol": math(quantity.symbol), "working": working,
                     "exact": math(exact_form(quantity.value)), "nats": shown_number(quantity.nats),
                     "bits": shown_number(quantity.bits) if quantity.bits is not None else None})
    return rows


def _breakable_parentheses(latex: str) -> LatexMarkup:
    """The printer's ``\\left( ... \\right)`` as ``\\bigl( ... \\bigr)``: the same parentheses at the
    size of a text-style fraction, but not one unbreakable box, so a wrapped answer cell breaks between the
    bracket's terms (K = 6: the gap's bracket ran up to 4.9pt past the column, red team rt25 F5)."""
    if latex.count(r"\left(") != latex.count(r"\right)"):
        return LatexMarkup(latex)
    return LatexMarkup(latex.replace(r"\left(", r"\bigl(").replace(r"\right)", r"\bigr)"))


def exercises_arguments(seed: int | str, count: int, K: int, parts: Sequence[str]) -> list[str]:
    """The `elbo-sym exercises` arguments that give one sheet (``parts``: the keys of the quantities
    asked, in order) with every setting named, so no elbo-sym.toml where it runs can change it."""
    return ["exercises", "--seed", str(seed), "--count", str(count), "--K", str(K), "--parts", ",".join(parts)]


def exercises_context(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT, K: int = 2,
                      parts: Sequence[str] | None = None) -> dict[str, Any]:
    """Context shared by ``exercises.pdf`` and ``answers.pdf``: the same seed gives the same cases;
    ``parts`` (names of elbo_sym.lesson.exercises.PARTS, None: all) are the quantities asked."""
    from elbo_sym.lesson.exercises import generate_exercises

    sheet = generate_exercises(seed, count, K, parts)
    gap_kl = sheet[0].key.identity("gap_is_kl") if sheet.count else None
    return {
        "seed": sheet.seed,
        "count": sheet.count,
        "K": sheet.K,
        "parts": [task.key for task in sheet.tasks],
        "tasks": [{"letter": letter, "symbol": math(task.symbol), "name": _TASK_NAMES.get(task.key, task.prompt),
                   "information": task.key not in _PROBABILITY_TASKS,
                   "states": sheet.K if task.key == "posterior" else 0}  # a blank per state
                  for letter, task in zip("abcdefghij", sheet.tasks)],
        "cases": [
            {
                "index": e.index,
                "given": _givens(e.instance),
                "answers": _answer_rows(e.key, sheet.tasks),
                "gap_is_kl": LatexMarkup(e.key.identity("gap_is_kl").latex),
                "verdict": e.key.identity("gap_is_kl").verdict,
            }
            for e in sheet
        ],
        "gap_is_kl": LatexMarkup(gap_kl.latex) if gap_kl else None,
    }


def exercise_handouts(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT, K: int = 2,
                      parts: Sequence[str] | None = None, solutions: str = "separate", **_: Any) -> list[Handout]:
    """``exercises.pdf`` and ``answers.pdf`` from one generated sheet (the seed is printed on both);
    ``solutions``: ``none`` the sheet alone, ``separate`` the sheet and answers.pdf, ``inline``
    one sheet with each case's key after it."""
    context = exercises_context(seed, count, K, parts)
    mode = _solutions(solutions)
    sheet = Handout("exercises", "exercises.tex.j2", {"sheet": context, **mode})
    if solutions != "separate":
        return [sheet]
    return [sheet, Handout("answers", "answers.tex.j2", {"sheet": context, **mode})]


# --------------------------------------------------------------------------- tight-case drill



def drill_context(seed: int = DEFAULT_SEED, count: int = DRILL_COUNT, K: int = 2) -> dict[str, Any]:
    """The tight-case drill: q = posterior (gap exactly 0), then a near miss (gap > 0, certified)."""
    from elbo_sym.lesson.exercises import tight_drill

    drill = tight_drill(seed, count, K)
    if not drill.ok:
        raise HandoutError(f"tight drill (seed {seed}): a tight case does not have gap exactly 0")

    def then(*pairs: tuple[str, str]) -> LatexMarkup:
        """More terms for a breakable line: ``= exact``, ``\\approx nats`` (may start a new line)."""
        return LatexMarkup("".join(rf"\chainterm{{{op}}}{{{body}}}" for op, body in pairs))

    def case(c) -> dict[str, Any]:
        k = c.key
        elbo_working = to_latex(k.elbo.working)
        kl_working = to_latex(k.kl_posterior.working)
        return {
            "index": c.index,
            "given": _givens(c.instance, with_q=c.near_miss),
            "posterior": vector(k.posterior_values),
            "log_px": math(k.log_evidence.working),
            "log_px_exact": math(exact_form(k.log_evidence.value)),
            "log_px_nats": shown_number(k.log_evidence.nats),
            "elbo": math(k.elbo.working),
            "elbo_exact": math(exact_form(k.elbo.value)),
            "elbo_nats": shown_number(k.elbo.nats),
            "gap_exact": math(exact_form(k.gap.value)),
            "kl_working": math(k.kl_posterior.working),
            "gap_nats": decimal(k.gap.value, 8),
            "gap_zero": c.gap_is_zero,
            "equal": c.elbo_equals_log_evidence,
            "verdict": "proved" if (c.gap_is_zero if not c.near_miss else c.gap_positive) else "refuted",
            "positive": LatexMarkup(f"{RELATION_LATEX['>']} {to_latex(Integer(0))}"),
            # the same lines as \chainterm calls, so that many states break them (K = 6)
            "elbo_line": LatexMarkup(breakable(elbo_working) + then(("=", to_latex(exact_form(k.elbo.value))))),
            "elbo_near_line": LatexMarkup(breakable(elbo_working) + then((r"\approx", approx_latex(k.elbo.nats)))),
            "kl_line": LatexMarkup(breakable(kl_working) + then((r"\approx", str(decimal(k.gap.value, 8))),
                                                               (RELATION_LATEX[">"], to_latex(Integer(0))))),
        }

    near = drill.near_miss
    return {
        "seed": drill.seed,
        "K": drill.K,
        "count": len(drill.cases),
        "cases": [case(c) for c in drill.cases],
        "near": case(near),
        "symbols": {
            "q": math(q(z)),
            "posterior": math(p(z, given=(x,))),
            "log_px": math(log(p(x))),
            "elbo": math(ELBO(q(z))),
            "gap": math(notation("log(p(x)) - ELBO(q)")),
            "kl": math(KL(q(z), p(z, given=(x,)))),
        },
    }


def drill_handouts(seed: int = DEFAULT_SEED, drill_count: int = DRILL_COUNT, drill_K: int = 2,
                   solutions: str = "separate", **_: Any) -> list[Handout]:
    return [Handout("tight-drill", "tight-drill.tex.j2",
                    {"drill": drill_context(seed, drill_count, drill_K), **_solutions(solutions)})]


# --------------------------------------------------------------------------- self-check and flashcards

_PRINTABLE_CARD_VERDICTS = ("proved", "well-formed", "none")


def checked_deck(kind: str, path: str | Path | None = None, *,
                 budget: float = STEP_BUDGET_SECONDS, total: float | None = None):
    """Load and check the self-check or the flashcards; refuse a deck with a failing formula.

    `budget` bounds each check of a card, `total` the whole deck (elbo_sym.lesson.practice.check_deck)
    and reading it (a deck not read in time is a DerivationError naming it).
    """
    from elbo_sym.lesson.practice import check_deck

    deck = load_deck_in_time(kind, path, budget, total)
    result = check_deck(deck, budget, total)
    require_printable(result)
    return deck, result


def deck_warning_lines(result) -> tuple[str, ...]:
    """``warning: FILE:LINE:COLUMN: ...`` for each relation a checked deck's cards (a DeckResult) state in
    words that nothing checks, as `check` prints a derivation's (report.text.warning_lines): every command
    that checks a deck passes them on, on stderr; no handout, page or package prints them."""
    from elbo_sym.report.text import warning_lines

    return tuple(warning_lines([deck_report_of(result)]))


def require_printable(result) -> None:
    """Refuse a checked deck (elbo_sym.lesson.practice.DeckResult) with a card that is not proved
    (or a well-formed expression): its cards are printed only with checked formulas."""
    bad = [v for v in result.verdicts if v.verdict not in _PRINTABLE_CARD_VERDICTS]
    if bad:
        raise HandoutError("a card is printed only with a formula proved for every instance (a student takes "
                           "a card as fact; decks have no accept = \"checked\"):\n  " + "\n  ".join(
            f"{result.deck.path}:{v.card.formula.line if v.card.formula else v.card.line}: card {v.card.index} "
            f"is {v.verdict}: {v.reason}" + (_ONLY_CHECKED if v.verdict == "checked" else "") for v in bad),
            deck_warning_lines(result))  # its relations in words, printed before the refusal


_ONLY_CHECKED = ("\n    (only checked: it held on every instance tried, but no rule proves it; write a formula a rule "
                 "proves, state it in a derivation instead (accept = \"checked\" prints a step labelled as not "
                 "proved), or drop the card's formula and keep its words)")
"""What to do about a card whose formula held on every instance but is not proved (red team rt38 F6)."""


def _deck_texts(deck) -> dict[str, Any]:
    """A deck's title and summary as every output prints them: prose whose ``$...$`` formulas go
    through the printer (rt26: a title "the $beta$-ELBO" was printed with its dollars in the
    flashcards' footer and the site's page lists).  ``title``/``summary`` are LaTeX, the ``*_parts``
    the parts the site sets, ``title_text``/``summary_text`` one line of plain text (a page's
    description), formulas in their text form, as the Anki deck name has them."""
    parsed = dict(deck.prose_math)
    title = prose_parts(deck.title, deck.vocabulary, parsed=parsed)
    summary = prose_parts(deck.summary, deck.vocabulary, parsed=parsed)
    return {"title": prose(title, deck.title), "summary": prose(summary, deck.summary),
            "title_parts": title, "summary_parts": summary,
            "title_text": plain_text(title, deck.title), "summary_text": plain_text(summary, deck.summary)}


def _card_context(card, verdict, vocabulary: Vocabulary | None = None,
                  parsed: Mapping[str, Any] | None = None, path: str = "") -> dict[str, Any]:
    f = card.formula
    names = vocabulary if vocabulary is not None else Vocabulary()  # the deck's ([params] beta, data x1 x2)
    return {
        "index": card.index,
        # each side's key, `back =` (not the [[card]] header) for a back too tall for its card: where to shorten it
        "side_where": {"front": f"{path}:{card.text_lines[0] or card.line}",
                       "back": f"{path}:{card.text_lines[1] or card.line}"},
        "card_at": source_marker(path, card.text_lines[0] or card.line),  # the %@ lines before each side
        "back_at": source_marker(path, card.text_lines[1] or card.line),
        "topic": prose(prose_parts(card.topic_label, names, parsed=parsed), card.topic_label),
        "topic_text": card.topic_label,
        "front": prose(prose_parts(card.front, names, claims=True, parsed=parsed), card.front, paragraphs=True),
        "back": prose(prose_parts(card.back, names, claims=True, parsed=parsed), card.back, paragraphs=True),
        "formula": LatexMarkup(f.latex) if f is not None else None,
        "formula_pieces": formula_pieces(f) if f is not None else None,
        "formula_at": source_marker(path, f.line if f is not None else card.line),  # a %@ line (render.overfull_boxes)
        "conditions": LatexMarkup(card.conditions_latex) if card.conditions_latex is not None else None,
        "condition_terms": condition_terms(card, f is not None),
        "verdict": verdict.verdict if verdict.verdict == "proved" else None,
    }


def condition_terms(card, after_formula: bool) -> LatexMarkup | None:
    """A card's conditions (``if a = b,\\quad c \\geq d``, after its formula when `after_formula`) as
    ``\\chainterm`` calls, for base.tex.j2's ``\\fitrelationwith``: a list too wide for the line breaks between
    conditions and, one condition too wide on its own, where its sides break (:func:`breakable`: before a
    top-level + or -, inside a long bracket) (rt44 F10: the list was one term, scaled below 70 % on
    selfcheck.pdf, and the build failed).  None: no conditions."""
    sides = card.conditions_sides
    if not sides:
        return None
    calls = []
    for i, (lhs, rel, rhs) in enumerate(sides):
        lead = (r"\qquad\text{if } " if after_formula else r"\text{if } ") if i == 0 else r"\quad "
        comma = "," if i < len(sides) - 1 else ""
        if rel is None:  # a parameter's domain
            calls.append(breakable(lhs, lead=lead, tail=comma))
        else:
            calls += [breakable(lhs, lead=lead), breakable(rhs, lead=f"{rel} ", tail=comma)]
    return LatexMarkup("".join(calls))


def formula_pieces(formula) -> dict[str, LatexMarkup]:
    """A card's formula (a lesson.practice.CardFormula) as base.tex.j2's ``\\fitrelation`` takes it:
    each side as ``\\chainterm`` calls (:func:`breakable`) and the relation between them, so that a
    formula wider than its card or page breaks as a claim does (red team rt41 F14, F15); a lone
    expression is a right side alone."""
    if formula.rel is None:
        return {"lhs": LatexMarkup(""), "rel": LatexMarkup(""), "rhs": expression_breakable(formula.lhs)}
    return {"lhs": expression_breakable(formula.lhs), "rel": relation(formula.rel),
            "rhs": expression_breakable(formula.rhs)}


def _scope(deck: Any) -> dict[str, Any]:
    """A deck's scope as data, ``scope`` (report.model.DeckScope; None: it has none), which another format
    prints through DeckScope.joined, and for the LaTeX templates ``scope_latex``: each parameter's domain as
    math through the printer, as the cards' conditions print it (``β ∈ [0, 1]``, not "beta in")."""
    from elbo_sym.report.build import deck_scope

    scope = deck_scope(deck)
    latex = scope.joined(lambda d: rf"\({d.latex}\)", typeset_domain) if scope is not None else None
    return {"scope": scope, "scope_latex": LatexMarkup(latex) if latex is not None else None}


def selfcheck_context(path=None, budget: float = STEP_BUDGET_SECONDS,
                      deck_budget: float | None = None) -> dict[str, Any]:
    deck, result = checked_deck("selfcheck", path, budget=budget, total=deck_budget)
    from elbo_sym.lesson.practice import proved_for_text

    return {**_deck_texts(deck), "proved_for": proved_for_text(deck), **_scope(deck),
            "warnings": deck_warning_lines(result),
            "questions": [_card_context(c, result.verdict_for(c), deck.vocabulary, dict(deck.prose_math), deck.path)
                          for c in deck.cards]}


def selfcheck_handouts(budget: float = STEP_BUDGET_SECONDS, selfcheck: str | Path | None = None,
                       solutions: str = "separate", deck_budget: float | None = None, **_: Any) -> list[Handout]:
    deck = selfcheck_context(selfcheck, budget, deck_budget)
    return [Handout("selfcheck", "selfcheck.tex.j2", {"deck": deck, **_solutions(solutions)},
                    warnings=deck["warnings"])]


CARDS_PER_SHEET = 8  # a 2 x 4 grid
CARD_COLUMNS = 2


def flashcards_context(path=None, budget: float = STEP_BUDGET_SECONDS,
                       deck_budget: float | None = None) -> dict[str, Any]:
    """Cards in sheets of 2 x 4: fronts, then backs mirrored left-right (duplex, long-edge flip)."""
    deck, result = checked_deck("flashcards", path, budget=budget, total=deck_budget)
    cards = [_card_context(c, result.verdict_for(c), deck.vocabulary, dict(deck.prose_math), deck.path)
             for c in deck.cards]
    rows = CARDS_PER_SHEET // CARD_COLUMNS
    sheets: list[dict[str, Any]] = []
    for start in range(0, len(cards), CARDS_PER_SHEET):
        chunk = cards[start:start + CARDS_PER_SHEET]
        fronts, backs = [], []
        for i, card in enumerate(chunk):
            row, col = divmod(i, CARD_COLUMNS)
            fronts.append({"card": card, "row": row, "col": col})
            backs.append({"card": card, "row": row, "col": CARD_COLUMNS - 1 - col})
        sheets.append({"number": len(sheets) + 1, "fronts": fronts, "backs": backs})
    from elbo_sym.lesson.practice import proved_for_text

    return {**_deck_texts(deck), "proved_for": proved_for_text(deck), **_scope(deck),
            "warnings": deck_warning_lines(result),
            "count": len(cards), "sheets": sheets,
            "rows": rows, "columns": CARD_COLUMNS}


def flashcards_handouts(budget: float = STEP_BUDGET_SECONDS, flashcards: str | Path | None = None,
                        solutions: str = "separate", deck_budget: float | None = None, **_: Any) -> list[Handout]:
    """``flashcards.pdf``: fronts, then the mirrored backs (``none``: the fronts only); a card
    too big for its card names its deck's file:line (:attr:`Handout.sources`)."""
    deck = flashcards_context(flashcards, budget, deck_budget)
    cards = [cell["card"] for sheet in deck["sheets"] for cell in sheet["fronts"]]
    sources = {f"the {side} of card {card['index']}": card["side_where"][side] for card in cards
               for side in ("front", "back")}
    sides = 1 if solutions == "none" else 2  # fronts only, or fronts and backs
    return [Handout("flashcards", "flashcards.tex.j2", {"deck": deck, **_solutions(solutions)}, sources,
                    deck["warnings"], pages=sides * len(deck["sheets"]))]


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class BuildReport:
    """What happened to one handout: the PDF (or only the .tex), timings, overfull boxes."""

    name: str
    tex: Path
    pdf: Path | None
    ok: bool
    message: str
    log_excerpt: str = ""
    overfull: int = 0
    seconds: float = 0.0
    overfull_boxes: tuple[OverfullBox, ...] = ()


HANDOUTS_MANIFEST = ".elbo-sym-handouts.json"
"""The file in a handouts folder that lists the handouts the last build wrote (elbo_sym.publish.outputs)."""


@dataclass(frozen=True)
class WrittenHandouts:
    """What :func:`write_handout_set` did: one report per handout, and the files of an earlier
    build it removed (handouts this set no longer has)."""

    reports: tuple[BuildReport, ...]
    removed: tuple[Path, ...] = ()
    stale: tuple[Path, ...] = ()
    """Without LaTeX: the PDFs an earlier build wrote (its manifest lists them) left beside the .tex
    sources just written, which they may no longer match (kept: nothing is lost; named, so nobody
    hands them out as rebuilt: rt41)."""


def write_handouts(handouts: Sequence[Handout], out_dir: str | os.PathLike[str], *,
                   latex: bool | None = None, timeout: float = 120,
                   jobs: int | None = None) -> list[BuildReport]:
    """:func:`write_handout_set` without removing anything: one report per handout."""
    return list(write_handout_set(handouts, out_dir, latex=latex, timeout=timeout, jobs=jobs).reports)


def write_handout_set(handouts: Sequence[Handout], out_dir: str | os.PathLike[str], *,
                      latex: bool | None = None, timeout: float = 120, jobs: int | None = None,
                      owned: Iterable[str] | None = None, strict_layout: bool = False) -> WrittenHandouts:
    """Render every handout first (any template error aborts before anything is written), then
    compile them in parallel with :func:`render.build_pdf` into a staging folder, and move them
    into `out_dir` only when every one was built: handouts that belong together (a sheet and its
    answers) are replaced together or not at all.  Without LaTeX only the ``.tex`` files are written.

    `owned`: the names of every handout of this set, also those not built now; a file an earlier
    build listed (:data:`HANDOUTS_MANIFEST`) whose handout is not among them is removed, e.g.
    ``answers.pdf`` once the solutions are ``none``.  None removes nothing (``build --only``: the
    other handouts in the folder stay, whichever build wrote them).

    A PDF with content cut at the paper's edge (render.layout_defects; with `strict_layout` any overfull
    box) counts as failed: the set is not moved in, and the previous PDFs stay.
    """
    from elbo_sym.publish.outputs import listed, move_in, refuse_foreign, refuse_unowned, staging_folder

    out = Path(out_dir)
    if (out.exists() or out.is_symlink()) and not out.is_dir():  # fail before minutes of LaTeX, not after
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(out))
    refuse_foreign(out, HANDOUTS_MANIFEST, [f"{h.name}{suffix}" for h in handouts for suffix in (".pdf", ".tex")])
    sources: list[tuple[Handout, str]] = []
    for h in handouts:
        try:
            sources.append((h, h.render()))
        except RenderError as error:
            raise HandoutError(f"{h.name}.pdf: {error}") from error
    if latex is None:
        latex = latex_available()
    if out.is_dir():  # a file of the user's is refused before minutes of LaTeX (move_in asks again)
        refuse_unowned(out, HANDOUTS_MANIFEST, [f"{h.name}{suffix}" for h in handouts
                                                for suffix in ((".pdf", ".tex") if latex else (".tex",))])
    names = {h.name for h in handouts}
    kept = names | set(owned) if owned is not None else None

    def keep(file: str) -> bool:
        return kept is None or Path(file).stem in kept

    earlier = set(listed(out, HANDOUTS_MANIFEST)) if out.is_dir() else set()  # what the last build wrote
    with staging_folder(out, ".elbo-sym-build-") as staging:
        if not latex:
            for h, src in sources:
                write_tex_only(src, staging / f"{h.name}.tex")
            removed = move_in(staging, out, [f"{h.name}.tex" for h, _ in sources], HANDOUTS_MANIFEST, keep)
            stale = tuple(out / f"{h.name}.pdf" for h, _ in sources
                          if f"{h.name}.pdf" in earlier and (out / f"{h.name}.pdf").is_file())
            return WrittenHandouts(tuple(
                BuildReport(h.name, out / f"{h.name}.tex", None, False,
                            f"wrote {out / f'{h.name}.tex'} (no LaTeX engine; install one with: {INSTALL_HINT})")
                for h, _ in sources), tuple(removed), stale)

        def build(item: tuple[Handout, str]) -> BuildReport:
            h, src = item
            started = time.monotonic()
            result: BuildResult = build_pdf(src, staging / f"{h.name}.pdf", timeout=timeout)
            pdf = out / f"{h.name}.pdf"  # where it goes once the whole set is built
            boxes = tuple(replace(box, part=f"{h.sources[box.what]}, {box.part}") if box.what in h.sources else box
                          for box in result.overfull_boxes)
            defects = layout_defects(boxes, strict=strict_layout)
            paging = _paging_failure(h, staging / f"{h.name}.pdf") if result.ok else None
            ok = result.ok and not defects and paging is None
            message = (result.message if not result.ok else layout_failure(defects) if defects
                       else paging if paging is not None else f"wrote {pdf}")
            return BuildReport(h.name, out / f"{h.name}.tex", pdf if ok else None, ok, message, result.log_excerpt,
                               result.overfull, time.monotonic() - started, boxes)

        workers = jobs or min(len(sources), os.cpu_count() or 1, 8) or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            reports = tuple(pool.map(build, sources))
        if not all(r.ok for r in reports):
            return WrittenHandouts(reports)  # nothing moved in: the folder keeps its previous set
        files = [f"{h.name}{suffix}" for h, _ in sources for suffix in (".pdf", ".tex")
                 if suffix == ".pdf" or (staging / f"{h.name}{suffix}").is_file()]  # the PDF, and its source beside it
        return WrittenHandouts(reports, tuple(move_in(staging, out, files, HANDOUTS_MANIFEST, keep)))


def _paging_failure(handout: Handout, pdf: Path) -> str | None:
    """Why `handout`'s built `pdf` fails its page count (:attr:`Handout.pages`), or None when it has it."""
    if handout.pages is None:
        return None
    from elbo_sym.publish.pdfpages import PdfPagesError, parse_pdf

    try:
        count = len(parse_pdf(pdf.read_bytes()).pages)
    except (OSError, PdfPagesError) as error:
        return f"its page count could not be read: {error}"
    if count == handout.pages:
        return None
    return (f"{count} page(s), not {handout.pages}: something spilled onto a page of its own and double-sided "
            "printing would put the backs behind the wrong fronts")


def lesson_handouts(results: Sequence[DerivationReport], *, seed: int = DEFAULT_SEED,
                    count: int = DEFAULT_COUNT, budget: float = STEP_BUDGET_SECONDS, K: int = 2,
                    drill_count: int = DRILL_COUNT, drill_K: int | None = None,
                    parts: Sequence[str] | None = None, solutions: str = "separate",
                    examples: Sequence[Instance | WorkedExample] = (), selfcheck: str | Path | None = None,
                    flashcards: str | Path | None = None, deck_budget: float | None = None) -> list[Handout]:
    """All handouts, in build order (`budget`: of each check of a card's formula; `deck_budget`: of
    reading and checking each deck, default cards x budget): from the given examples and decks (the
    lesson's when not given), with these sheet settings."""
    require_checked(results)
    _solutions(solutions)
    handouts = [derivations_handout(results, solutions)]
    mistakes = mistakes_handout(results, solutions)
    if mistakes is not None:
        handouts.append(mistakes)
    settings = {"seed": seed, "count": count, "budget": budget, "K": K, "drill_count": drill_count,
                "drill_K": K if drill_K is None else drill_K, "parts": parts, "solutions": solutions,
                "examples": tuple(examples) or (LESSON_EXAMPLE,), "selfcheck": selfcheck, "flashcards": flashcards,
                "deck_budget": deck_budget}
    for make in _LESSON_HANDOUTS:
        try:
            handouts.extend(make(**settings))
        except HandoutError as error:  # a refused deck: the warnings of the decks before it, and its own
            raise HandoutError(str(error), [*(line for h in handouts for line in h.warnings), *error.warnings]) \
                from None
    return handouts


_LESSON_HANDOUTS: list[Callable[..., list[Handout]]] = [
    lambda examples=(LESSON_EXAMPLE,), solutions="separate", **_: [worked_example_handout(examples, solutions)],
    exercise_handouts,
    drill_handouts,
    selfcheck_handouts,
    flashcards_handouts,
]


def build_outcome(reports: Sequence[BuildReport], *, latex: bool, out: str, seconds: float,
                  require_latex: bool = False, stale: Sequence[Path] = ()) -> tuple[list[tuple[bool, str]], bool]:
    """What `build` prints after writing the handouts -- (line, to stderr) pairs in order -- and
    whether the build succeeded: a failed PDF (a layout defect too: write_handout_set), or a missing
    LaTeX engine with `require_latex`, fail it.  `stale`: without LaTeX, the earlier build's PDFs left
    in the folder (:attr:`WrittenHandouts.stale`), named in the message."""
    lines: list[tuple[bool, str]] = []
    failed = [r for r in reports if not r.ok]
    for r in reports:
        if r.ok and latex and failed:
            lines.append((False, f"  built {r.name}.pdf, not written: the set is replaced only as a whole"))
        elif r.ok:
            boxes = f", {r.overfull} overfull box(es)" if r.overfull else ""
            lines.append((False, f"  wrote {r.pdf}  ({r.seconds:.1f} s{boxes})"))
            # loud: a line cut at the paper's edge is a defect
            lines += [(True, f"warning: {r.name}.pdf: {box.describe()}") for box in r.overfull_boxes]
        elif not latex:
            lines.append((False, f"  wrote {r.tex}"))
        else:
            lines.append((True, f"  FAILED {r.name}.pdf: {r.message}"))
            lines += [(True, f"    {line}") for line in r.log_excerpt.splitlines()]
            lines += [(True, f"warning: {r.name}.pdf: {box.describe()}") for box in r.overfull_boxes]
    if not latex:
        from elbo_sym.publish.render import INSTALL_HINT

        lines.append((True, f"no LaTeX engine (latexmk + pdflatex) found: wrote the .tex sources only. "
                            f"Install TeX Live with:\n  {INSTALL_HINT}"))
        if stale:
            names = ", ".join(path.name for path in stale)
            lines.append((True, f"warning: {len(stale)} PDF(s) in {os.path.normpath(out)}{os.sep} are from an "
                                f"earlier build, not this one, and may not match the new .tex sources: {names}"))
        return lines, not require_latex
    if failed:
        lines.append((True, f"{len(failed)} of {len(reports)} handout(s) failed; none was replaced "
                            f"(previous PDFs were left untouched)"))
        return lines, False
    lines.append((False, f"{len(reports)} handout(s) in {os.path.normpath(out)}{os.sep} ({seconds:.1f} s)"))
    return lines, True

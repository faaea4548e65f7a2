"""A repair suggestion carries the formulas it names as the checked expressions, printed once.

The engine keeps what a repair does as words and formulas (engine.repair.Named), each formula
parsed with the file's own names as the checker parses the step; the report stores every piece
with its text and LaTeX from the printer (SuggestionReport.description_pieces), and the handouts,
the site, the notebook display and the command line print from those pieces -- none re-parses a
sentence or guesses which names are observations (the old handouts.repair_pieces did: x1, x2 were
observations, every other bare name a parameter, so the files below had their repair set as text).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.derivation import loads
from elbo_sym.engine.notation import to_latex, to_text
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.engine.repair import Named, checked_pieces, plain
from elbo_sym.limits import MAX_INLINE_REPAIR_CHARS
from elbo_sym.publish.handouts import mistakes_handout, repair_parts, write_handouts
from elbo_sym.publish.web import katex_tex, mistakes_page
from elbo_sym.report.build import check_file
from elbo_sym.report.display import to_html
from elbo_sym.report.model import DerivationReport, ProsePart, SuggestionReport
from elbo_sym.report.text import derivation_text

X2_SLIP = """\
title = "A weighted bound, with one slip"
summary = "The beta-VAE bound with its weight named x2, like an observation: one step has the wrong sign."
K = "any"
expect_refuted = [4]
claim = "log(p(x)) >= E(q, log(p(x | z))) - x2 * KL(q(z), p(z))"
start = "log(p(x))"

[params]
x2 = ">= 1"

[[step]]
rel = "="
expr = "log(Sum(q(z) * p(x, z) / q(z), z))"
rule = "algebra"
why = "the evidence sums the joint"

[[step]]
rel = ">="
expr = "Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "jensen"
why = "Jensen's inequality for the concave log"

[[step]]
rel = "="
expr = "E(q, log(p(x | z))) - KL(q(z), p(z))"
rule = "algebra"
why = "reconstruction minus the KL term"

[[step]]
rel = ">="
expr = "E(q, log(p(x | z))) + x2 * KL(q(z), p(z))"
rule = "kl-nonneg"
why = "the difference is a multiple of a KL"
"""
"""A parameter named like an observation (the old guess made x2 an observation: no parse, text)."""

Y_SLIP = """\
title = "The gap for an observation y, with one slip"
summary = "The posterior and the likelihood confused."
K = "any"
data = ["y"]
expect_refuted = [3]
claim = "log(p(y)) - ELBO(q, y) = Sum(q(z) * log(q(z) / p(z | y)), z)"
start = "log(p(y)) - ELBO(q, y)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(p(y)), z) - Sum(q(z) * log(p(y, z) / q(z)), z)"
rule = "linearity"
why = "q sums to one; unfold the ELBO"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) * p(y) / p(y, z)), z)"
rule = "logarithm"
why = "collect the two sums under one logarithm"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) / p(y | z)), z)"
rule = "bayes"
why = "Bayes' rule"
"""
"""An observation not named xN (the old guess made y a parameter: p(y | z) did not parse, text)."""


@pytest.fixture(scope="module")
def reports() -> tuple[DerivationReport, DerivationReport]:
    return check_file(loads(X2_SLIP, "x2-slip.toml")), check_file(loads(Y_SLIP, "y-slip.toml"))


def _suggestion(report: DerivationReport) -> SuggestionReport:
    (step,) = [s for s in report.steps if s.expected_refuted]
    assert step.verdict == "refuted" and step.suggestion is not None
    return step.suggestion


def test_the_formulas_a_repair_names_are_the_files_expressions_through_the_printer(reports) -> None:
    x2, y = (_suggestion(r) for r in reports)
    assert all(r.ok for r in reports)
    assert [p.kind for p in x2.description_pieces] == ["text", "math"]
    term = parse_expression("x2 * KL(q(z), p(z))", Vocabulary(params=("x2",)))  # as the checker reads the file
    assert x2.description_pieces[1] == ProsePart("math", to_text(term), to_latex(term))
    assert x2.description == "flip the sign of the term x2*KL(q(z), p(z))"  # the printer's text
    assert x2.describe() == (  # what to type stays the author's text, edited
        'flip the sign of the term x2*KL(q(z), p(z)): expr = "E(q, log(p(x | z))) - x2 * KL(q(z), p(z))"')
    names = Vocabulary(data=("y",))
    assert [p.latex for p in y.description_pieces if p.kind == "math"] == [
        to_latex(parse_expression("p(z | y)", names)), to_latex(parse_expression("p(y | z)", names))]
    assert y.description == "write p(z | y) instead of p(y | z)"


def test_a_suggestions_pieces_survive_the_json_round_trip(reports) -> None:
    for report in reports:
        data = json.loads(json.dumps(report.to_dict()))
        back = DerivationReport.from_dict(data)
        assert back == report and _suggestion(back).description_pieces == _suggestion(report).description_pieces
    # pieces that do not spell the description are refused, never shown
    data = json.loads(json.dumps(reports[0].to_dict()))
    (step,) = [s for s in data["steps"] if s["suggestion"]]
    step["suggestion"]["description_pieces"][1]["text"] = "beta*KL(q(z), p(z))"
    with pytest.raises(ValueError, match="description_pieces"):
        DerivationReport.from_dict(data)
    # an older run's report (no pieces) still loads, its description one piece of text
    del step["suggestion"]["description_pieces"]
    step["suggestion"]["description"] = "reverse the inequality"
    old = DerivationReport.from_dict(data)
    assert _suggestion(old).pieces == (ProsePart("text", "reverse the inequality"),)


def test_the_site_and_the_sheet_typeset_the_formulas_from_the_report(reports) -> None:
    x2, y = (_suggestion(r) for r in reports)
    kl_term, (posterior, likelihood) = x2.description_pieces[1].latex, [
        p.latex for p in y.description_pieces if p.kind == "math"]
    page = mistakes_page(list(reports), "separate").body
    assert f"**Repair.** Flip the sign of the term ${katex_tex(kl_term)}$ (checked" in page
    assert f"**Repair.** Write ${katex_tex(posterior)}$ instead of ${katex_tex(likelihood)}$ (checked" in page
    handout = mistakes_handout(list(reports))
    assert handout is not None
    tex = handout.render()
    assert rf"\textbf{{Repair.}}\enspace Flip the sign of the term \({kl_term}\) (checked" in tex
    assert rf"\textbf{{Repair.}}\enspace Write \({posterior}\) instead of \({likelihood}\) (checked" in tex


def test_the_notebook_and_the_command_line_show_the_same_repair(reports) -> None:
    x2 = _suggestion(reports[0])
    html = to_html(reports[0])
    assert r"\(" + x2.description_pieces[1].latex.replace("&", "&amp;") + r"\)" in html
    assert '">suggestion: flip the sign of the term </span>' in html  # the words as text, then the formula
    assert ': expr = "E(q, log(p(x | z))) - x2 * KL(q(z), p(z))"</span>' in html
    assert f"      suggestion: {x2.describe()}" in derivation_text(reports[0]).splitlines()


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_pdf_prints_the_repairs_formula_as_math(reports, tmp_path: Path) -> None:
    handout = mistakes_handout(list(reports))
    assert handout is not None
    (report,) = write_handouts([handout], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    text = subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    (line,) = [line for line in text.splitlines() if "Flip the sign of the term" in line]
    assert "x2 KL q(z) ∥ p(z)" in line and "*" not in line  # as text it read "x2*KL(q(z), p(z))"


def test_a_formula_too_long_for_the_line_stays_its_text() -> None:
    product = "*".join(f"(D - {n})" for n in range(1, 14))
    assert len(product) > MAX_INLINE_REPAIR_CHARS
    g = SuggestionReport(f"drop the term {product}", "=", "0", "algebra", ("expr",),
                         description_pieces=(ProsePart("text", "drop the term "), ProsePart("math", product, "D")))
    assert [(p.kind, p.text) for p in repair_parts(g)] == [
        ("text", "Drop the term "), ("text", product), ("text", " (checked: the step and the chain hold with it); "
                                                             "rule: algebra.")]


def test_a_named_formula_that_does_not_parse_alone_stays_words() -> None:
    wording = ("drop the term ", Named("alpha*beta"), " or ", Named("p(y | z)"), "")
    pieces = checked_pieces(wording, Vocabulary(params=("alpha", "beta")))
    assert pieces[0] == "drop the term " and to_text(pieces[1]) == "alpha*beta"
    assert pieces[2:] == (" or p(y | z)",)  # y is no observation of this file: its text, joined to the words
    assert plain(wording) == "drop the term alpha*beta or p(y | z)"

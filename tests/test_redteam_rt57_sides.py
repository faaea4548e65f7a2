"""Red team rt57 F1 (session 22): far-end sides beyond float range printed alike though they differ.

`beta*exp(beta)*exp(-beta) + exp(beta) <= 10**12 + exp(beta)` is refuted at beta = 2**41 (left - right =
beta - 10**12 > 0), but both sides printed "≈ 1.43874e+955023665463" with nothing saying they differ, in
the check text, the JSON, find-the-mistake.pdf and the site page: a `<=` failing between two equal
numbers.  Now the engine certifies left - right where the two floats are one float (its canonical form,
so the exps cancel: 2**41 - 10**12), and every output adds "(left - right ≈ 1.19902e+12)" to sides
printed alike.  Each gap is re-computed here by hand from the counterexample's beta.
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.check import check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.publish.handouts import mistakes_handout, write_handouts
from elbo_sym.report.build import counterexample_report
from elbo_sym.report.model import CounterexampleReport

FAR_CANCELLING = Path(__file__).resolve().parent / "data" / "redteam" / "rt57_far_cancelling.toml"
FAR_TIMES = Path(__file__).resolve().parent / "data" / "redteam" / "rt57_far_times.toml"

BUDGET = 120.0
"""A backstop only: the machine running the suite may be shared."""


def _step(start: str, rel: str, expr: str):
    text = (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\nbeta = ">= 1"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\naccept = "checked"\n')
    (step,) = check_derivation(loads(text, "t.toml"), budget=BUDGET).steps
    assert step.counterexample is not None
    return step


def _beta(c) -> Fraction:
    (v,) = dict(c.values)["beta"]
    return Fraction(v)


def _gap_of(shown: CounterexampleReport) -> str:
    note = shown.apart()
    assert note.startswith(" (left - right ≈ ") and note.endswith(")"), (shown.lhs_value, shown.rhs_value, note)
    return note.removeprefix(" (left - right ≈ ").removesuffix(")")


def test_cancelling_sides_alike_in_the_column_say_their_difference():
    """left - right = beta - 10**12 exactly (the exps cancel): the note shows it to six figures."""
    step = _step("beta*exp(beta)*exp(-beta) + exp(beta)", "<=", "10**12 + exp(beta)")
    shown = counterexample_report(step.counterexample)
    assert shown is not None and shown.lhs_value == shown.rhs_value  # the ≈ column alone cannot tell them apart
    gap = _gap_of(shown)
    by_hand = _beta(step.counterexample) - 10**12
    assert by_hand > 0 and abs(Fraction(gap) / by_hand - 1) < Fraction(1, 10**5)
    assert any("left - right ≈" in line for line in shown.lines())
    assert "left - right ≈" in shown.describe()


def test_a_gap_itself_beyond_float_range_shows_its_sign_and_magnitude():
    """`beta exp(beta) <= 10**144 exp(beta)`, refuted at beta = 2**480: each side and left - right =
    (beta - 10**144) exp(beta) > 0 are some 10**(1.35576e+144); the note says it is positive, that large."""
    step = _step("beta*exp(beta)", "<=", "(10**12)**12*exp(beta)")
    shown = counterexample_report(step.counterexample)
    assert shown is not None and shown.lhs_value == shown.rhs_value
    gap = _gap_of(shown)
    beta = _beta(step.counterexample)
    assert beta > 10**144 and gap.startswith("10**(") and gap.endswith(")")
    with mpmath.workdps(200):
        by_hand = mpmath.log10(mpmath.mpf(beta.numerator - 10**144)) + mpmath.mpf(beta.numerator) / mpmath.log(10)
        assert abs(mpmath.mpf(gap.removeprefix("10**(").removesuffix(")")) / by_hand - 1) < mpmath.mpf(10) ** -5


def test_the_json_round_trip_keeps_the_note(checked_report):
    report = checked_report(FAR_CANCELLING)
    (step,) = report.steps
    c = step.counterexample
    assert step.verdict == "refuted" and c is not None and c.lhs_value == c.rhs_value
    read = type(report).from_dict(json.loads(json.dumps(report.to_dict())))
    assert read.steps[0].counterexample.apart() == c.apart() != ""


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_find_the_mistake_pdf_says_the_sides_differ(checked_report, tmp_path):
    """beta exp(beta) <= 10**144 exp(beta), refuted at beta = 2**480: both sides print 10^(1.35576 10^144),
    and the solution says left - right is positive, as large (the cancelling file's exact sides are too
    wide for the page: a separate, older layout matter)."""
    report = checked_report(FAR_TIMES)
    (step,) = report.steps
    assert step.counterexample is not None and step.counterexample.lhs_value == step.counterexample.rhs_value
    (built,) = write_handouts([mistakes_handout([report])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    solution = " ".join(text.rsplit("Solutions", 1)[1].split())
    assert "(left − right ≈ 10" in solution, solution


@pytest.mark.full  # a web build
def test_the_site_page_says_the_sides_differ(tmp_path):
    from elbo_sym.cli import main

    assert main(["web", "--out", str(tmp_path / "pages"), str(FAR_CANCELLING)]) == 0
    page = (tmp_path / "pages" / "find-the-mistake.md").read_text(encoding="utf-8")
    assert r"($\text{left} - \text{right} \approx 1.19902 \times 10^{12}$)" in page, page


def test_sides_alike_because_equal_have_no_note():
    """`... < beta + exp(beta)` with both sides equal everywhere (refuted: not strictly less): the sides
    print alike because they are one value, and no "left - right" is added (a 0 says nothing)."""
    step = _step("beta*exp(beta)*exp(-beta) + exp(beta)", "<", "beta + exp(beta)")
    shown = counterexample_report(step.counterexample)
    assert shown is not None and shown.lhs_value == shown.rhs_value
    assert step.counterexample.gap == "" and shown.apart() == ""

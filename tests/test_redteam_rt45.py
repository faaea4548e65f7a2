"""Red team rt45 (session 19): long numbers from the far end, a product over a negative number.

F1: the far end tries beta = 2**n up to 2**512, and find-the-mistake.pdf typeset a 145-digit beta whole
(348pt past the margin, build failed) while `check` exited 0.  The printer now sets an integer of more
than LONG_NUMBER_DIGITS digits as the power of 2 or 10 it is, else in groups of three a line may break
between; the text and JSON report keep every digit.  The far end's source is in words, not ``->`` and
``2**480``.  F2: ``sigma - P/(-2)`` broke as "σ − −½ (…)": a division by a negative number is no
coefficient that may lead a product.  F3: a long integer side was "(a fraction of 145 digits over
1 digits)".
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from sympy import Integer, Pow, Rational, Symbol

from elbo_sym.engine.check import _long_rational
from elbo_sym.engine.derivation import load
from elbo_sym.engine.notation import integer_latex, integer_power, product_breaks, to_latex
from elbo_sym.engine.parse import parse_expression
from elbo_sym.limits import LONG_NUMBER_DIGITS
from elbo_sym.publish.handouts import expression_breakable, mistakes_handout, write_handouts
from elbo_sym.report.model import WhereItem

DATA = Path(__file__).resolve().parent / "data" / "redteam"
FAR_SLIP = DATA / "rt45_far_slip.toml"
OVER_MINUS_TWO = DATA / "rt45_product_over_minus_two.toml"


def _digits(latex: str) -> str:
    return re.sub(r"\\,\\allowbreak ", "", latex)


@pytest.mark.parametrize("n, power", [(2**480, (2, 480)), (10**144, (10, 144)), (1024, (2, 10)), (100, (10, 2)),
                                      (3**300, None), (2**480 + 1, None), (2, None), (10, None), (1, None)])
def test_a_power_of_2_or_10_is_known(n, power):
    assert integer_power(n) == power


def test_a_long_integer_is_a_power_or_digit_groups_and_a_short_one_its_digits():
    assert integer_latex(2**480) == "2^{480}" and integer_latex(-(10**144)) == "-10^{144}"
    assert integer_latex(1024) == "1024" and integer_latex(10**LONG_NUMBER_DIGITS - 1) == "9" * LONG_NUMBER_DIGITS
    n = 3**300 + 12345
    grouped = integer_latex(-n)
    assert _digits(grouped) == str(-n)  # every digit, in order
    groups = grouped.lstrip("-").split(r"\,\allowbreak ")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3


def test_the_printer_sets_long_numbers_so_in_every_formula():
    beta = Symbol("beta")
    assert to_latex(Integer(2) ** 480 * beta) == r"2^{480} \beta"
    assert to_latex(Rational(3, 2**480)) == r"\frac{3}{2^{480}}"
    assert to_latex(Pow(Integer(3) ** 100, beta, evaluate=False)).startswith(r"\left(515\,\allowbreak 377")
    assert to_latex(Integer(2) ** 40) == str(2**40)  # 13 digits: as before


def _far_slip_report(checked_report):
    report = checked_report(FAR_SLIP)
    (step,) = [s for s in report.steps if s.expected_refuted]
    assert step.verdict == "refuted" and step.counterexample is not None
    return report, step


@pytest.mark.full  # 1.2 s of CPU (the far slip's check); long values' printing stays in `make test` (tests above)
def test_a_far_end_counterexample_keeps_every_digit_in_the_report(checked_report):
    """The report (text, JSON) has beta's digits; the printer's piece is the power; the source is words."""
    _, step = _far_slip_report(checked_report)
    c = step.counterexample
    (beta,) = dict(c.values)["beta"]
    n = int(beta)
    power = integer_power(n)
    assert power is not None and power[0] == 2 and len(beta) > LONG_NUMBER_DIGITS
    assert Fraction(n) / 10**144 > 1  # past the slip's root: the step fails there
    assert dict((i.label, i.values) for i in c.where_pieces)[r"\beta"] == (f"2^{{{power[1]}}}",)
    assert c.source.startswith("far end: beta growing without bound, past every root of the difference")
    assert f"beta = 2 to the power {power[1]}" in c.source and "->" not in c.source and "**" not in c.source


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_far_end_teaching_file_publishes(checked_report, tmp_path):
    """find-the-mistake.pdf of the far slip builds, no line past the margin, beta read back as 2^480."""
    report, step = _far_slip_report(checked_report)
    (built,) = write_handouts([mistakes_handout([report])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    assert built.overfull == 0, [b.describe() for b in built.overfull_boxes]
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    solution = " ".join(text.rsplit("Solutions", 1)[1].split())
    (beta,) = dict(step.counterexample.values)["beta"]
    assert "growing without bound" in solution and "->" not in solution and "**" not in solution
    assert f"2{int(beta).bit_length() - 1}" in solution.replace(" ", "")  # 2^{480}: the exponent raised
    assert beta[:20] not in solution.replace(" ", "")


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_long_value_that_is_no_power_breaks_between_digit_groups(checked_report, tmp_path):
    """A minimiser's value of 145 digits (not a power): the value list breaks inside it, every digit kept."""
    report, step = _far_slip_report(checked_report)
    n = 3**300 + 12345
    c = step.counterexample
    pieces = tuple(WhereItem(i.label, (integer_latex(n),)) if i.label == r"\beta" else i for i in c.where_pieces)
    values = tuple((label, (str(n),)) if label == "beta" else (label, v) for label, v in c.values)
    long_step = replace(step, counterexample=replace(c, where_pieces=pieces, values=values))
    long_report = replace(report, steps=tuple(long_step if s is step else s for s in report.steps))
    (built,) = write_handouts([mistakes_handout([long_report])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    assert built.overfull == 0, [b.describe() for b in built.overfull_boxes]
    text = subprocess.run(["pdftotext", "-layout", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout  # -layout: the value's lines one after the other
    assert str(n) in re.sub(r"\s", "", text.rsplit("Solutions", 1)[1])


@pytest.mark.full  # a web build, 1.1 s of CPU; the far value's printing stays in `make test` (the report test above)
def test_the_site_page_sets_the_far_value_as_a_power(checked_report, tmp_path):
    """The site's page (inline KaTeX, no break in a 145-digit number): beta as the power, the source in words."""
    from elbo_sym.cli import main

    _, step = _far_slip_report(checked_report)
    assert main(["web", "--out", str(tmp_path / "pages"), str(FAR_SLIP)]) == 0
    page = (tmp_path / "pages" / "find-the-mistake.md").read_text(encoding="utf-8")
    (beta,) = dict(step.counterexample.values)["beta"]
    assert rf"\beta = 2^{{{int(beta).bit_length() - 1}}}" in page and beta[:20] not in page
    assert "growing without bound" in page


@pytest.mark.parametrize("r, said", [
    (Fraction(10**144), "10**144"), (Fraction(-(2**480)), "-2**480"),
    (Fraction(3**300), f"(an integer of {len(str(3**300))} digits)"),
    (Fraction(3**300, 7), f"(a fraction of {len(str(3**300))} digits over 1 digit)"),
    (Fraction(7, 3**300), f"(a fraction of 1 digit over {len(str(3**300))} digits)"),
])
def test_a_long_rational_side_is_described_as_what_it_is(r, said):
    assert _long_rational(r) == said


def test_a_product_over_a_negative_number_is_not_led_by_a_signed_coefficient():
    """``sigma - P/(-2)``: P/(-2) stays the printer's one fraction (no break inside it), never
    "- -\\frac{1}{2} (...)"; ``P/2`` still breaks between its factors."""
    vocabulary = load(OVER_MINUS_TWO).vocabulary
    product = "(mu**2 + sigma**2 + w*b + 1)*(s**2 + w**2 + 3*b + 7)*(mu - b + 2*w - 5)"
    for written in (f"sigma - {product}/(-2)", f"sigma + {product}/(-2)"):
        e = parse_expression(written, vocabulary)
        assert product_breaks(e) == {}, written
        shown = expression_breakable(e)
        assert "chainproduct" not in shown and not re.search(r"-\s*\}?\s*\{?\s*-", shown), shown
    halved = parse_expression(f"sigma + {product}/2", vocabulary)
    assert product_breaks(halved), "a division by 2 still leads as 1/2"


@pytest.mark.full  # 1.2 s of CPU (a search); the description stays in `make test` (the long rational sides above)
def test_check_names_a_long_integer_side_exactly_when_it_is_a_power(tmp_path, capsys):
    """F3 through `check --json`: the right side 10**144 is said as the power it is."""
    from elbo_sym.cli import main

    path = tmp_path / "j1.toml"
    path.write_text('title = "j1"\nmodel = "gaussian"\nstart = "KL(q(z), Normal(0, 1)) - KL(q(z), Normal(0, 4))"\n\n'
                    '[[step]]\nrel = "<="\nexpr = "(10**12)**12"\nrule = "definition"\nwhy = "t"\n'
                    'accept = "checked"\n', encoding="utf-8")
    assert main(["check", "--json", "--no-cache", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    (derivation,) = report if isinstance(report, list) else report["derivations"]
    c = derivation["steps"][0]["counterexample"]
    assert c["rhs"] == "10**144", c


def test_a_whole_number_that_cancels_is_said_to_cancel_and_still_refused():
    """rt45's note (m1.toml): m cancels from left - right, decided exactly for every n; the step is still
    refused for m (it is written in m, tried at a few values only), and the refusal says that m cancels."""
    from elbo_sym.engine.check import Verdict, check_derivation
    from elbo_sym.engine.derivation import loads

    text = ('title = "m1"\nmodel = "gaussian"\nstart = "(n - 40)**2 + 1 + (m**2 + m)/(m*(m + 1))"\n\n'
            '[params]\nn = "integer >= 1"\nm = "integer >= 1"\n\n'
            '[[step]]\nrel = ">"\nexpr = "1"\nrule = "definition"\naccept = "checked"\n')
    step = check_derivation(loads(text, "m1.toml"), budget=120.0).steps[0]
    assert step.verdict is Verdict.error and not step.passes, step.reason
    assert "m is a whole number that cancels from left - right (decided exactly for every n)" in step.reason
    assert step.searched is not None and step.searched.covered == frozenset({"n"})

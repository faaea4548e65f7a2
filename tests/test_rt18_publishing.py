"""Red team rt18's publishing findings: what a handout, the site or `example` prints.

F1: a rounded value is never joined to exact math by "=", and a positive value never prints as 0.
F2: the exact form of a six-digit example's value is decided before any power is built.
F3/F4: author text and a claim's relation break (or stay whole) in the PDF as they should.
"""

from __future__ import annotations

import decimal
import re
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from sympy import log

from elbo_sym.cli import main
from elbo_sym.engine.derivation import load, loads
from elbo_sym.engine.models.base import Instance
from elbo_sym.lesson.examples import worked_example
from elbo_sym.limits import MAX_WORD_CHARS
from elbo_sym.numbers.exact import LogNumber, from_sympy, log_of
from elbo_sym.publish.handouts import (
    derivations_handout,
    mistakes_handout,
    worked_example_handout,
    write_handouts,
)
from elbo_sym.publish.render import overfull_boxes, typeset_prose
from elbo_sym.publish.web import mistakes_page, worked_example_page
from elbo_sym.report.build import check_file, exact_form

ROOT = Path(__file__).resolve().parent.parent

SIX_DIGITS = (["1/2", "1/2"], ["999999/1000000", "999998/1000000"], ["500001/1000000", "499999/1000000"])


def test_exact_form_of_six_digit_example_is_decided_from_the_exponents() -> None:
    example = worked_example(*SIX_DIGITS, cross_check=False)
    started = time.process_time()
    forms = [exact_form(quantity.value) for quantity in
             (example.elbo, example.reconstruction, example.kl_prior, example.kl_posterior, example.gap)]
    assert time.process_time() - started < 1.0  # on main: minutes (10**6-th powers of primes)
    for quantity, form in zip((example.elbo, example.reconstruction, example.kl_prior, example.kl_posterior,
                               example.gap), forms):
        assert from_sympy(form) == quantity.value  # still exact: the sum of logs of primes


def test_exact_form_still_joins_logs_when_the_argument_is_small() -> None:
    example = worked_example(["3/4", "1/4"], ["1/5", "3/5"], ["1/3", "2/3"], cross_check=False)
    form = exact_form(example.kl_posterior.value)
    assert from_sympy(form) == example.kl_posterior.value
    assert len(form.atoms(log)) == 1  # one log(N/D): N, D within MAX_COMPACT


# ----------------------------------------------------------------- F1: rounded values

TINY = (["1/2", "1/2"], ["999/1000", "998/1000"], ["5001/10000", "4999/10000"])
"""A q a hair off the posterior: gap = KL(q || p(z | x)) is about 4.52e-08 nats, not 0."""
TINY_INSTANCE = Instance.of("tiny", prior=(Fraction(1, 2),) * 2,
                            likelihood=(Fraction(999, 1000), Fraction(998, 1000)),
                            q=(Fraction(5001, 10000), Fraction(4999, 10000)))


def _ln(x: Fraction) -> decimal.Decimal:
    with decimal.localcontext() as context:
        context.prec = 60
        return decimal.Decimal(x.numerator).ln() - decimal.Decimal(x.denominator).ln()


def _tiny_gap() -> decimal.Decimal:
    """The example's gap from its definition, sum_z q log(q / posterior), with decimal's ln (not the code's)."""
    joint = [Fraction(1, 2) * Fraction(999, 1000), Fraction(1, 2) * Fraction(998, 1000)]
    q = [Fraction(5001, 10000), Fraction(4999, 10000)]
    with decimal.localcontext() as context:
        context.prec = 60
        return sum((decimal.Decimal(qk.numerator) / qk.denominator * _ln(qk * sum(joint) / j)
                    for qk, j in zip(q, joint)), decimal.Decimal(0))


def test_a_tiny_positive_value_is_shown_in_scientific_notation_never_as_zero() -> None:
    gap = _tiny_gap()
    assert Fraction(4, 10**8) < gap < Fraction(5, 10**8)
    value = log_of(Fraction(1997, 2000)) - worked_example(*TINY, cross_check=False).elbo.value
    assert value.decimal(6) == "0.000000"  # what main printed
    assert value.shown(6) == f"{float(gap):.2e}" == "4.52e-08"
    assert value.shown(4) == "4.52e-08"
    assert LogNumber.of(Fraction(-3, 10**9)).shown(6) == "-3.00e-09"
    assert LogNumber.of(0).shown(6) == "0.000000"  # exactly zero stays 0
    assert log_of(Fraction(3, 10)).shown(4) == "-1.2040"  # an ordinary value keeps its decimals
    assert LogNumber.of(Fraction(9996, 10**9)).scientific(3) == "1.00e-05"  # rounding carries into the exponent


def test_example_text_never_states_a_positive_gap_as_zero(capsys) -> None:
    assert main(["example", "--prior", ",".join(TINY[0]), "--likelihood", ",".join(TINY[1]),
                 "--q", ",".join(TINY[2])]) == 0
    text = capsys.readouterr().out
    assert "the gap is ≈ 4.52e-08 > 0 (certified)" in text
    assert "0.000000 > 0" not in text
    kl_rows = [line for line in text.splitlines() if line.lstrip().startswith("KL to")]
    assert len(kl_rows) == 2 and all(" 0.000000" not in row for row in kl_rows)


def test_web_caption_joins_rounded_values_with_approx_and_tells_them_apart() -> None:
    page, _ = worked_example_page(TINY_INSTANCE)
    (caption,) = [line for line in page.body.splitlines() if line.startswith("Horizontal axis")]
    assert r"\log p(x) \approx -0.0015011" in caption  # -0.00150113...
    assert r"\mathcal{L}(q) \approx -0.0015012" in caption  # -0.00150117...: not the same number
    assert r"\approx 4.52 \times 10^{-8}" in caption
    assert " = -0.0" not in caption


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_worked_example_pdf_labels_the_rounded_gap_with_approx(tmp_path: Path) -> None:
    (report,) = write_handouts([worked_example_handout(TINY_INSTANCE)], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    tex = report.tex.read_text()
    assert r"\mathrm{KL}\big(q(z) \,\|\, p(z \mid x)\big) \approx 4.52 \times 10^{-8}" in tex  # the figure
    assert "= 0.0000" not in tex
    text = subprocess.run(["pdftotext", "-layout", str(report.pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    kl_rows = [line for line in text.splitlines() if "KL to" in line]
    assert kl_rows and all("0.000000" not in row for row in kl_rows)
    assert text.count("4.52 × 10") >= 3  # the KL-to-posterior row, the gap row, the figure's label


# ----------------------------------------------------------------- F3: long words in author text


def _pdf_text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_longest_word_the_loader_allows_wraps_in_why_and_title(tmp_path: Path) -> None:
    word = "x" * MAX_WORD_CHARS  # no hyphenation point: TeX cannot break it by itself
    text = (ROOT / "derivations" / "jensen.toml").read_text()
    text = text.replace('title = "The ELBO in two lines"', f'title = "The gap {word}"')
    text = text.replace('why = "this is the evidence lower bound"', f'why = "see {word}"')
    result = check_file(loads(text, "long.toml"))
    assert result.ok
    (report,) = write_handouts([derivations_handout([result])], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    assert report.overfull == 0, [box.describe() for box in report.overfull_boxes]  # main: 110-145pt too wide
    printed = "".join(_pdf_text(report.pdf).split())
    assert printed.count(word) == 2  # every letter printed, none dropped, no hyphen added


def test_only_a_word_longer_than_any_english_one_gets_break_points() -> None:
    assert typeset_prose("the decomposition of an approximation") == "the decomposition of an approximation"
    broken = typeset_prose("see a_very_long_identifier_name here")
    assert broken.startswith("see a") and broken.endswith("e here")
    assert broken.count(r"\allowbreak{}") == len("a_very_long_identifier_name") - 1
    assert broken.replace(r"\allowbreak{}", "") == r"see a\_very\_long\_identifier\_name here"


def test_a_box_amsmath_reports_twice_is_warned_once() -> None:
    source = "\\section*{1.\\enspace Short}\n%@ the chain of long.toml\n" + "x\n" * 5
    line = "Overfull \\hbox (110.7pt too wide) detected at line 5\n"
    (box,) = overfull_boxes(line + "[]\n" + line, source)
    assert box.points == 110.7 and box.section == "1. Short" and box.part == "the chain of long.toml"
    other = "Overfull \\hbox (3.0pt too wide) detected at line 6\n"
    assert len(overfull_boxes(line + other, source)) == 2  # two boxes stay two


# ----------------------------------------------------------------- F4: the claim's condition


BETA_SLIP = """
title = "The beta-VAE slip"
expect_refuted = [4]
summary = "Higgins et al. (2017), eq. 4: the objective E_q[log p(x | z)] - beta KL(q(z | x), p(z)), for beta < 1."
K = "any"
claim = "log(p(x)) >= E(q, log(p(x | z))) - KL(q(z), p(z)) - (1 - beta)*KL(q(z), p(z))"
start = "log(p(x))"

[params]
beta = "in (0, 1)"

[[step]]
rel = "="
expr = "log(Sum(q(z) * p(x, z) / q(z), z))"
rule = "algebra"
why = "the evidence sums the joint; multiply and divide by q(z) > 0"

[[step]]
rel = ">="
expr = "Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "jensen"
why = "Jensen's inequality for the concave log"

[[step]]
rel = "="
expr = "E(q, log(p(x | z))) - KL(q(z), p(z))"
rule = "algebra"
why = "the ELBO is reconstruction minus the KL term"

[[step]]
rel = ">="
expr = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"
rule = "kl-nonneg"
repair = "E(q, log(p(x | z))) - KL(q(z), p(z)) - (1 - beta)*KL(q(z), p(z))"
why = "the difference is (beta - 1) KL(q(z), p(z)), and beta - 1 >= 0"
"""


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_claims_condition_is_never_split_at_its_relation(tmp_path: Path) -> None:
    result = check_file(loads(BETA_SLIP, "slip.toml"))
    handout = mistakes_handout([result])
    assert handout is not None
    (report,) = write_handouts([handout], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    assert report.overfull == 0, [box.describe() for box in report.overfull_boxes]
    lines = _pdf_text(report.pdf, "-layout").replace("\u2212", "-").splitlines()
    (assume,) = [line for line in lines if "Assume." in line]  # main: "Assume. β ∈" / "(0, 1)"
    assert "Assume. β ∈ (0, 1)" in assume


# ----------------------------------------------------------------- F5: a wrapped cell's lines


_WORD_BOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_wrapped_exact_values_keep_their_lines_apart(tmp_path: Path) -> None:
    """The six-digit example's exact values wrap (sums of logs of primes with fractions): a line's
    denominators and the next line's numerators must not touch."""
    example = Instance.of("six", prior=(Fraction(1, 2),) * 2,
                          likelihood=(Fraction(999999, 10**6), Fraction(999998, 10**6)),
                          q=(Fraction(500001, 10**6), Fraction(499999, 10**6)))
    (report,) = write_handouts([worked_example_handout(example)], tmp_path)
    assert report.ok, report.message + "\n" + report.log_excerpt
    html = _pdf_text(report.pdf, "-bbox", "-f", "2", "-l", "2")
    numbers = [(float(a), float(b), float(c), float(d)) for a, b, c, d, w in _WORD_BOX.findall(html) if w.isdigit()]
    gaps = [below[1] - above[3] for above in numbers for below in numbers  # a number's top under another's bottom
            if below[1] > above[1] + 1 and below[0] < above[2] and above[0] < below[2] and below[1] - above[3] < 10]
    assert gaps  # the rows wrap
    assert min(gaps) > 0.5  # without \wrappedcell's line spacing: -1.56 (the boxes overlap)


# ----------------------------------------------------------------- F5: the repair sentence's formulas


def test_the_solutions_print_the_repair_as_math_on_the_page_and_the_sheet() -> None:
    report = check_file(load(ROOT / "derivations" / "teaching" / "gap-slip.toml"))
    page = mistakes_page([report], "separate")
    assert r"**Repair.** Write $p(z \mid x)$ instead of $p(z)$ (the intended correction" in page.body
    handout = mistakes_handout([report])
    assert handout is not None
    assert r"\textbf{Repair.}\enspace Write \(p(z \mid x)\) instead of \(p(z)\) (the" in handout.render()

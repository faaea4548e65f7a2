"""A counterexample's side outside the exact class written as what it is (h-rt47's note).

A value with an exp of a rational (exp(1000) at a special instance, exp(2**41) at a parameter's far end) has no
exact value in the checker's class (rationals and logs), and its side was printed "(not in closed form) ≈ inf":
nothing said what it was.  Now the side at the point is written when it has no symbol left and is short,
and its value beyond float range by its certified digits or order of magnitude (session 22), never "≈ inf".
"""

from __future__ import annotations

import re

from sympy import Integer, exp

from elbo_sym.engine.check import Verdict, _beyond_float, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.report.build import _float_side, approx_latex, magnitude, report_of
from elbo_sym.report.model import CounterexampleReport
from elbo_sym.report.text import derivation_text

BUDGET = 120.0
"""A backstop on a shared machine."""


def test_an_exp_of_a_rational_is_printed_as_itself():
    text = ('title = "t"\nK = 2\nstart = "exp(beta)"\n\n[params]\nbeta = "> 0"\n\n'
            '[[step]]\nrel = "<"\nexpr = "beta**12"\nrule = "algebra"\naccept = "checked"\n')
    step = check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]
    assert step.verdict is Verdict.refuted, step.reason
    (beta,) = dict(step.counterexample.values)["beta"]
    assert step.counterexample.lhs == f"exp({beta})", step.counterexample.lhs
    latex = step.counterexample.lhs_latex  # typeset too (a handout's counterexample), not left blank
    assert latex.startswith(r"\exp") and beta in latex, latex


def _refuted_report(start: str, beta: str) -> str:
    """The text report of the one step `start` < beta**12 under beta's domain, refuted."""
    text = (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\nbeta = "{beta}"\n\n'
            '[[step]]\nrel = "<"\nexpr = "beta**12"\nrule = "algebra"\naccept = "checked"\n')
    result = check_derivation(loads(text, "t.toml"), budget=BUDGET)
    assert result.steps[0].verdict is Verdict.refuted, result.steps[0].reason
    return derivation_text(report_of(result))


def test_a_side_beyond_float_range_prints_its_magnitude_never_inf():
    """exp(1000) overflows a float: its ≈ column read "inf" (and exp(1000002000)'s too); now the engine's
    certified digits (numbers.evaluate.approx_text), in the text report and the handouts' LaTeX alike."""
    report = _refuted_report("exp(beta)", "> 0")
    assert "left = exp(1000) ≈ 1.97007e+434" in report, report
    assert "inf" not in report.replace("infinite", ""), report
    far = _refuted_report("exp(beta)", "> 2000")  # a special instance past 2000: exp(3000), exp(1000002000)
    assert re.search(r"left = exp\(\d{4,}\) ≈ \d(\.\d+)?e\+\d{4,}, right", far), far
    assert "inf" not in far.replace("infinite", ""), far


def test_a_power_of_ten_too_long_to_print_is_shown_as_an_order_of_magnitude():
    """exp(2**480) is 2.46714 times 10 to a 145-digit power: the ≈ column shows that power to six figures
    (as the report writes a long integer as the power it is), and the LaTeX sets it as a power of 10."""
    digits = _beyond_float(exp(Integer(2) ** 480), {}, float("inf"))
    assert digits.startswith("2.46714e+1355758169") and len(digits) > 100
    assert magnitude(digits) == "10**(1.35576e+144)"
    assert magnitude("-" + digits) == "-10**(1.35576e+144)"
    assert magnitude("1.43874e+955023665463") == "1.43874e+955023665463"  # exp(2**41): 12 digits print
    assert approx_latex(magnitude(digits)) == r"10^{1.35576 \times 10^{144}}"
    assert approx_latex("-1.97007e+434") == r"-1.97007 \times 10^{434}"


def test_a_side_whose_float_overflowed_without_digits_shows_no_value():
    """An overflowed side with no certified digits shows nothing after it, never "≈ inf"; a value that
    underflowed to 0 is shown by its digits (exp(-1000) is not 0)."""
    assert _float_side(float("inf"), "", 6) == _float_side(float("-inf"), "", 6) == ""
    assert _float_side(0.0, "5.07596e-435", 6) == "5.07596e-435"
    assert _beyond_float(exp(Integer(-1000)), {}, 0.0) == "5.07596e-435"
    assert _beyond_float(Integer(0), {}, 0.0) == "" and _beyond_float(Integer(3), {}, 3.0) == ""
    shown = CounterexampleReport((("beta", ("1000",)),), "(not in closed form)", "0", "", "0")
    assert shown.lines()[1:] == ["    left  = (not in closed form)", "    right = 0 ≈ 0"]
    assert "left = (not in closed form), right = 0 ≈ 0" in shown.describe()

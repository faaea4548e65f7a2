"""Red team rt10 (session 11): a Gaussian `D = "any"` difference that depends on D alone but is not a
polynomial in D with rational coefficients (a pi or log coefficient, log(D)) ended `checked` -- with
`accept = "checked"` exit 0 -- though false at a D the search never builds; and `log(D)` was taken for a
number independent of D, so the "first failing D" named a D where the difference is 0. Such a
difference is now an `error` unless the search refutes it; with other symbols the step may still end
`checked` (docs/02 says so)."""

from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
from sympy import Symbol, log

from elbo_sym.engine.derivation import loads
from elbo_sym.engine.dimensions import first_failure
from elbo_sym.report.build import check_file

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
D = Symbol("D", positive=True, integer=True)


@pytest.mark.full
@pytest.mark.parametrize(("name", "false_at"), [
    ("rt10_pi10.toml", 10),     # D**2 + 111 >= 21 D + 3 pi / 4: false at D = 10 and 11 only
    ("rt10_log2pi.toml", 14),   # D/2 log(2 pi) <= 12: false from D = 14 on
])
def test_a_difference_in_d_alone_that_the_exact_decision_cannot_read_is_an_error_never_checked(name, false_at):
    report = check_file(REDTEAM / name)
    step = report.steps[0]
    assert step.verdict == "error", (step.verdict, step.reason)
    assert "depends on D alone" in step.reason and "not decided for every D" in step.reason
    assert not report.ok
    # the step really is false at a D the search does not build (9, 10, 11, or above 12)
    margin = {"rt10_pi10.toml": lambda n: n**2 + 111 - (21 * n + 3 * mpmath.pi / 4),
              "rt10_log2pi.toml": lambda n: 12 - n / 2 * mpmath.log(2 * mpmath.pi),
              "rt10_logD1.toml": lambda n: -abs(mpmath.fprod([n - k for k in range(2, 14)]) * mpmath.log(n))}[name]
    assert margin(false_at) < 0 and all(margin(n) >= 0 for n in (1, 2, 3, 4, 5, 6, 7, 8, 12))


def test_log_of_d_is_not_a_number_independent_of_d():
    residual = (D - 2) * (D - 3) * log(D)
    assert first_failure(residual, D, "=") is None  # not a polynomial in D: not decided here
    assert first_failure((D - 2) * log(3), D, "=").D == 1  # a log of a number still is a coefficient


@pytest.mark.full
def test_a_log_of_d_times_factors_in_d_is_searched_where_they_change_sign_and_refuted():
    """(D-2)...(D-13) log(D) = 0, false from D = 14 on: an error until session 12, now searched at D = 13
    and 14 (where its factors in D alone change sign) and refuted at 14."""
    step = check_file(REDTEAM / "rt10_logD1.toml").steps[0]
    assert step.verdict == "refuted", step.reason
    assert "D = 14 (where a part of left - right in D alone vanishes or changes sign)" in step.counterexample.source


def test_with_two_sums_the_anchored_plan_refutes_it_at_d_14():
    """rt10 F3 (rt10_quad.toml) is decided exactly since session 12 (tests/test_exact_decisions.py); with
    two sums over the dimensions it ended checked until session 13, though false from D = 14 (mu = (4, 0,
    ...), w = 0): the anchored plan (red team rt19) holds Sum(w_d**2) at 0 and decides Sum(mu_d**2)."""
    text = (REDTEAM / "rt10_quad.toml").read_text().replace("+ 169", "+ 169 + Sum(w_d**2, (d, 1, D))")
    assert text.count("Sum(w_d**2") == 2
    step = check_file(loads(text, "two.toml"), 120.0).steps[0]  # a full search: no budget error under load
    assert step.verdict == "refuted", step.reason
    assert step.counterexample.source.startswith("D = 14, ")

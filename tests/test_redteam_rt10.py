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

from elbo_sym.engine.dimensions import first_failure
from elbo_sym.report.build import check_file

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
D = Symbol("D", positive=True, integer=True)


@pytest.mark.parametrize(("name", "false_at"), [
    ("rt10_pi10.toml", 10),     # D**2 + 111 >= 21 D + 3 pi / 4: false at D = 10 and 11 only
    ("rt10_log2pi.toml", 14),   # D/2 log(2 pi) <= 12: false from D = 14 on
    ("rt10_logD1.toml", 14),    # (D-2)...(D-13) log(D) = 0: false from D = 14 on
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


def test_with_other_symbols_the_search_may_only_check_and_says_where_it_looked():
    step = check_file(REDTEAM / "rt10_quad.toml").steps[0]
    assert step.verdict == "checked"  # false from D = 14 (mu = (4, 0, ...)): evidence, not a proof
    assert "D = 1, 2, 3, 4, 5, 6, 7, 8, 12" in step.reason

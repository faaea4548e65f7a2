"""Red team rt22 (session 13): ``Sum((mu_d - 1)**2, (d, 1, D)) + (D - 20)**2 > 0`` is false at D = 20 with
every mu_d = 1, but its canonical form holds two sums of one parameter (``Sum(mu_d**2)``,
``Sum(mu_d)``), which no exact decision read: `checked`, exit 0 with ``accept = "checked"``.
engine.exact's equal-dimensions plan sets every dimension's value to one v (each sum is then D times
its body at v) and decides D and v exactly: a rational failing point is refuted at an exact instance,
an irrational one is an error naming the failure; finding none leaves the usual plan (a true twin
stays `checked`)."""

from __future__ import annotations

import pytest
from sympy import Rational

from elbo_sym.engine.derivation import loads
from elbo_sym.report.build import check_file

D_REFUSAL = "D is a whole number the search tries only at a few values"  # check.whole_number_refusal


def _any_d(start: str, rel: str = ">", expr: str = "0") -> str:
    return (f'title = "rt22"\nmodel = "gaussian"\nD = "any"\nstart = "{start}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\nwhy = "x"\naccept = "checked"\n')


@pytest.mark.parametrize(("start", "name", "value"), [
    ("Sum((mu_d - 1)**2, (d, 1, D)) + (D - 20)**2", "mu", 1),
    ("Sum((sigma_d - 1)**2, (d, 1, D)) + (D - 20)**2", "sigma", 1),
    ("Sum((w_d + 3)**2, (d, 1, D)) + (D - 15)**2", "w", -3),
])
def test_two_sums_of_one_parameter_are_refuted_with_every_dimension_equal(start, name, value):
    report = check_file(loads(_any_d(start), "c7.toml"))
    step = report.steps[0]
    assert step.verdict == "refuted", step.reason  # before: checked, exit 0 with accept
    values = dict(step.counterexample.values)
    D = max(int(k[len("sigma"):]) for k in values if k.startswith("sigma"))
    assert D in (15, 20) and all(Rational(values[f"{name}{j}"][0]) == value for j in range(1, D + 1))
    assert not report.ok


@pytest.mark.full
def test_an_irrational_equal_value_is_an_error_naming_the_failure():
    report = check_file(loads(_any_d("Sum((mu_d**2 - 2)**2, (d, 1, D)) + (D - 9)**2"), "irr.toml"))
    step = report.steps[0]
    assert step.verdict == "error", step.reason  # never checked
    assert "fail at D = 9" in step.reason and "irrational" in step.reason


@pytest.mark.full
def test_a_true_twin_is_not_refuted():
    report = check_file(loads(_any_d("Sum((mu_d - 1)**2, (d, 1, D)) + (D - 20)**2 + 1"), "twin.toml"))
    step = report.steps[0]  # held, not refuted; accept is refused for the free D (red team rt47 F5)
    assert step.verdict == "proved" or step.verdict == "error" and D_REFUSAL in step.reason, step.reason


@pytest.mark.parametrize("start", [
    "(Sum(mu_d**4, (d, 1, D)) - D)**2 + (D - 20)**2",  # rt23: one sum whose body is not c*p or c*p**2
    "(Sum(sigma_d**3, (d, 1, D)) - D)**2 + (D - 20)**2",
])
def test_a_single_sum_of_a_higher_power_is_refuted_with_every_dimension_equal(start):
    step = check_file(loads(_any_d(start), "e04.toml")).steps[0]
    assert step.verdict == "refuted", step.reason  # before: checked, exit 0 with accept
    assert "sigma20" in dict(step.counterexample.values)


@pytest.mark.full
def test_too_large_to_decide_with_equal_values_is_an_error_never_checked():
    """rt23: past the exact decision's degree cap the plan gave up silently and the step was checked."""
    step = check_file(loads(_any_d("Sum((mu_d - 1)**10, (d, 1, D)) + (D - 20)**2"), "b01.toml")).steps[0]
    assert step.verdict == "error" and "not decided exactly with every mu_d equal" in step.reason


def test_a_failure_beyond_the_search_with_equal_values_lets_the_search_refute_first():
    """rt23: the D = 100 error was raised before the search, which refutes the step at D = 2."""
    start = "Sum((mu_d - 1)**2, (d, 1, D)) + (D - 100)**2 - D*Sum(mu_d**2, (d, 1, D)) + Sum(mu_d, (d, 1, D))**2"
    assert check_file(loads(_any_d(start), "f01.toml")).steps[0].verdict == "refuted"


@pytest.mark.full
def test_equal_values_that_cancel_the_sums_leave_the_usual_plan():
    """Cauchy-Schwarz: D*Sum(mu_d**2) - Sum(mu_d)**2 is 0 with equal values; a true step stays checked."""
    start = "D*Sum(mu_d**2, (d, 1, D)) - Sum(mu_d, (d, 1, D))**2 + (D - 5)**2 + 1"
    step = check_file(loads(_any_d(start), "a04.toml")).steps[0]  # held; accept refused for D (rt47 F5)
    assert step.verdict == "error" and "held on" in step.reason and D_REFUSAL in step.reason, step.reason

"""Red team rt13 (session 12) against h-exact's exact decisions in D and in whole numbers:

* X1: a D beyond 12 that the parts rule names got only the quick pass (no boundary instances, no
  minimiser), yet counted as searched: ``Sum(mu_d**2) + b**2 + (D-20)**2 > 0``, false at D = 20 where
  every variable is 0, ended `checked` (exit 0 with `accept`).  Such a D now gets the point where every
  variable is 0 as well, and does not count as searched: refuted there, or an `error` naming it.
* X2: the exact decision with one free parameter took its range from the parameter's interval and
  ignored the premises: under ``mu >= 1``, the true ``mu*((n-40)**2 + 1) >= 1`` ended `error` saying it
  "fails at n = 1, at mu = -1".  A premise bounding the variable alone now narrows its range; one that
  mentions it any other way leaves the step to the search.  The same for a whole-number parameter: a
  premise bounding it (``n <= 30``) narrows the values decided; one mentioning it otherwise makes the
  step an error unless the search refutes it.
* X3: ``(b - D)**2 + (b - 20)**2 + x**2 > 0`` (two parameters, no part in D alone changing sign) ended
  `checked`, false at D = 20, b = 20, x = 0.  A residual that is, one real parameter at a time, a
  quadratic with a positive leading coefficient has its least value over them as a polynomial in D
  (`dimensions.least_over`): decided exactly, refuted where it is reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Rational, Symbol, expand

from elbo_sym.engine.derivation import loads
from elbo_sym.engine.dimensions import least_over
from elbo_sym.report.build import check_file

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"


@pytest.mark.parametrize("name, right", [
    ("rt13_x1_pinned_D_quick_pass_checked_strict.toml", Rational(0)),   # mu_d = b = 0
    ("rt13_x1b_pinned_D_quick_pass_checked_ge.toml", Rational(1, 100)),
    ("rt13_x1c_two_sums.toml", Rational(0)),                            # mu_d = w_d = 0
])
def test_a_false_step_at_a_named_d_beyond_12_is_refuted_there_at_the_zero_point(name, right):
    report = check_file(REDTEAM / name)
    step = report.steps[0]
    assert step.verdict == "refuted", step.reason
    assert not report.ok
    found = step.counterexample
    assert found.source.startswith("D = 20, ")  # rt15: now the exact least value's point, else the zero point
    assert "(where left - right first fails, exactly)" in found.source \
        or "= 0 (where a part of left - right in D alone" in found.source
    values = dict(found.values)
    assert len([k for k in values if k.startswith("sigma")]) == 20  # an instance with 20 dimensions
    assert all(values[f"mu{j}"] == ("0",) for j in range(1, 21))
    # re-check by hand: left - right at that instance (D = 20: the square in D is 0), exactly
    claim = (REDTEAM / name).read_text()
    other = ["b"] if "b**2" in claim else [f"w{j}" for j in range(1, 21)]
    left = sum(Rational(values[k][0]) ** 2 for k in [f"mu{j}" for j in range(1, 21)] + other)
    assert left == 0 and left <= right

@pytest.mark.full
def test_a_true_step_with_a_named_d_beyond_12_is_an_error_not_checked():
    """Its D's beyond 12 (20, 21, ...) got less search than D = 1..12: never `checked` on that evidence."""
    text = (REDTEAM / "rt13_x1_pinned_D_quick_pass_checked_strict.toml").read_text().replace(
        "(D-20)**2", "(D-20)**2 * Sum(w_d**2, (d, 1, D))").replace('rel = ">"', 'rel = ">="')
    assert text.count("Sum(w_d**2") == 2
    report = check_file(loads(text, "x1_true.toml"))
    step = report.steps[0]
    assert step.verdict == "error", step.reason
    assert "at D = 20, beyond the dimensions the counterexample search builds in full" in step.reason
    assert not report.ok


X2 = "rt13_x2_premise_ignored_true_step_error.toml"


def test_a_premise_bounding_the_free_variable_narrows_its_range():
    report = check_file(REDTEAM / X2)  # mu >= 1: true for every n
    step = report.steps[0]
    assert step.verdict == "proved", step.reason  # the exact rule (session 13; checked before)
    assert "decided exactly: left - right = mu*n**2 - 80*mu*n + 1601*mu - 1 >= 0 for every whole number n >= 1 " \
           "and every mu >= 1 (as the premises narrow it)" in step.reason
    assert report.ok


@pytest.mark.parametrize("premises, right", [('"mu >= 1"', "2"), ('"1 - mu <= 0", "mu < 3/2"', "2")])
def test_under_the_premises_the_first_failure_is_named_inside_them(premises, right):
    """False at n = 40 for mu < 2: refuted at mu = 1, the least value the premises allow."""
    text = (REDTEAM / X2).read_text().replace('"mu >= 1"', premises).replace('expr = "1"', f'expr = "{right}"')
    step = check_file(loads(text, "x2_false.toml")).steps[0]
    assert step.verdict == "refuted", step.reason
    values = dict(step.counterexample.values)
    assert values["n"] == ("40",) and values["mu"] == ("1",)
    assert "n = 40, mu = 1 (where left - right first fails, exactly)" in step.counterexample.source


@pytest.mark.full
def test_a_premise_mentioning_the_variable_otherwise_leaves_the_step_to_the_search():
    text = (REDTEAM / X2).read_text().replace('"mu >= 1"', '"mu**2 >= 1", "mu >= 0"')
    step = check_file(loads(text, "x2_square.toml")).steps[0]
    assert "mu = -1" not in step.reason and "decided exactly" not in step.reason
    # the search decides the true step at the seeded instances inside mu >= 1: `checked` with enough of
    # them, else `error` saying so (about half of all seeds give 7 of the 8 needed) -- never refuted or proved
    assert step.verdict == "checked" or (step.verdict == "error" and "instance(s) decided" in step.reason), \
        step.reason


WHOLE = """title = "a premise on the whole number"
model = "gaussian"
assume = [PREMISES]
start = "LEFT"

[params]
n = "integer >= 1"

[[step]]
rel = ">="
expr = "1"
rule = "algebra"
accept = "checked"
"""


def _whole(premises: str, left: str):
    return check_file(loads(WHOLE.replace("PREMISES", premises).replace("LEFT", left), "whole.toml")).steps[0]


def test_a_premise_bounding_the_whole_number_narrows_the_values_decided():
    step = _whole('"n <= 30"', "(n - 40)**2")  # fails at n = 40 only, outside the premise
    assert step.verdict == "proved", step.reason  # before: error "fails at n = 40 (exactly)", then checked
    assert "n = 40" not in step.reason
    assert "for every whole number n >= 1 and <= 30" in step.reason
    step = _whole('"n >= 3"', "(n - 1)*(n - 2)")  # n**2 - 3 n + 1 >= 0 from n = 3 on
    assert step.verdict == "proved" and "for every whole number n >= 3 (the exact rule" in step.reason, step.reason


def test_inside_the_premises_the_whole_number_is_still_refuted_where_it_fails():
    step = _whole('"n >= 3"', "(n - 40)**2")
    assert step.verdict == "refuted", step.reason
    assert dict(step.counterexample.values)["n"] == ("40",)
    step = _whole('"n <= 45", "mu >= 1"', "mu*((n - 40)**2 + 1)")  # >= 1 holds; the test asks >= 1 at mu = 1: 1
    assert step.verdict == "proved", step.reason
    step = _whole('"n <= 45", "mu >= 1"', "mu*((n - 40)**2 + 1) - 1/2")
    assert step.verdict == "refuted", step.reason
    values = dict(step.counterexample.values)
    assert values["n"] == ("40",) and values["mu"] == ("1",)


@pytest.mark.full
def test_a_premise_mentioning_the_whole_number_otherwise_is_an_error_unless_refuted():
    step = _whole('"n*mu >= 0", "mu >= 1"', "(n - 40)**2 + mu")  # true: an error, never a value outside
    assert step.verdict == "error", step.reason
    assert "a premise restricts n otherwise than by a bound on n alone (or cannot be read)" in step.reason


X3 = "rt13_x3_two_params_no_D_part_checked_preexisting.toml"


def test_two_parameters_and_d_are_refuted_where_the_least_value_over_them_fails():
    report = check_file(REDTEAM / X3)
    step = report.steps[0]
    assert step.verdict == "refuted", step.reason  # before: checked, exit 0 with accept
    values = dict(step.counterexample.values)
    assert values["b"] == ("20",) and values["x"] == ("0",) and "sigma20" in values and "sigma21" not in values
    assert step.counterexample.source.startswith("D = 20, b = 20, x = 0 (where left - right first fails")
    assert not report.ok


@pytest.mark.full
@pytest.mark.parametrize("start, rel, verdict", [
    ("(b - D)**2 + (b - 20)**2 + x**2 + 1", ">", "proved"),    # least value (D - 20)**2/2 + 1 > 0
    ("-(b - D)**2 - (b - 30)**2 - x**2", "<", "refuted"),      # the greatest value, at D = 30
    ("(b - D)**2 + (b - 20)**2 + (x - log(2))**2", ">", "error"),  # reached at x = log(2): no exact instance
])
def test_the_least_value_decides_true_steps_and_upper_bounds(start, rel, verdict):
    text = (f'title = "least"\nmodel = "gaussian"\nD = "any"\nstart = "{start}"\n\n[[step]]\nrel = "{rel}"\n'
            'expr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = check_file(loads(text, "least.toml")).steps[0]
    assert step.verdict == verdict, step.reason
    if verdict == "proved":
        assert "for every whole number D >= 1 and every value of b and every value of x" in step.reason
    elif verdict == "error":
        assert "fail at D = 20 (exactly), at b = 20, x = log(2): no exact instance" in step.reason
    else:
        assert dict(step.counterexample.values)["b"] == ("30",)


def test_least_over_is_the_least_value_and_reached_where_it_says():
    D, b, x, y = (Symbol(n, real=True) for n in "Dbxy")
    residual = expand((b - D) ** 2 + (b - 20) ** 2 + (x - b + y) ** 2 + 3 * (y - D) ** 2 - 7)
    found = least_over(residual, D, (b, x, y))
    assert found is not None
    for n in (1, 5, 20, 33):
        at = dict(found.point(D, n))
        assert residual.xreplace({D: n, **at}) == found.value.xreplace({D: n})
        for db, dx, dy in ((1, 0, 0), (0, Rational(1, 3), 0), (0, 0, -2), (1, 1, 1)):  # nearby points: not less
            near = {D: n, b: at[b] + db, x: at[x] + dx, y: at[y] + dy}
            assert residual.xreplace(near) >= found.value.xreplace({D: n})
    assert least_over(expand((b - D) ** 4 + x ** 2), D, (b, x)) is None      # not a quadratic in b
    assert least_over(expand(-(b ** 2) + x ** 2), D, (b, x)) is None          # no least value in b
    assert least_over(expand(b ** 2 * x ** 2 + x ** 2), D, (b, x)) is None    # b's leading coefficient x**2

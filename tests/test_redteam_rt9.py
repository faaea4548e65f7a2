"""Red team rt9's findings (session 11), each pinned by its repro under tests/data/redteam/rt9_*.toml.

F1: a residual polynomial in D was scanned only up to D = 10,000: ``(D - 10001)**2 >= 1`` ended
`checked`; its real roots are now isolated exactly, so the first failing D is exact at any size.
F2: a residual with another symbol besides D skipped that decision: a factor (D-1)...(D-8)(D-12)
hid D = 9 (and a term (D-10)**2, D = 10); the D's where such a part in D alone vanishes or changes
sign are now searched too.
F3: a whole-number parameter (``n = "integer >= 1"``) was tried at n = 1, 2, 3, 5 only: a residual
polynomial in n failing at n = 6 ended `checked`; the same exact decision now makes it an error.
F4: messages -- a D = "any" search said "prior N(0, 1)"; the second opinion's "could not decide"
printed the midpoint of a difference enclosure; a bad D had a line but no column.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Poly, Rational, Symbol

from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.dimensions import factor_sign_changes, first_failure, sign_change_candidates
from elbo_sym.engine.reference import second_opinion
from elbo_sym.report.build import check_file

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
D = Symbol("D", positive=True)


# ------------------------------------------------------------------------- F1: exact for any size


@pytest.mark.parametrize("rel, residual, first", [
    (">=", (D - 10001)**2 - 1, 10001),
    (">=", (D - 20)**2 - 1, 20),
    ("<", D - 10**7 - Rational(1, 2), 10**7 + 1),  # its root 10**7 + 1/2 lies between two whole numbers
    (">", (D - 10**7 - Rational(1, 2)) * (D - 3), 3),
    (">", (D - 7)**2, 7),  # a double root: the sign does not change, the value vanishes
    ("<", D**2 + 1, 1),  # no real root
    (">=", -(D - 10**6)**2 * (D - 2 * 10**6) + 0, 2 * 10**6 + 1),
])
def test_the_first_failing_dimension_is_exact_however_large(rel, residual, first):
    assert first_failure(residual.expand(), D, rel).D == first


@pytest.mark.parametrize("rel, residual", [(">", D**2 + 1), (">=", (D - 7)**2), (">", (D - 10**7 - Rational(1, 2))**2)])
def test_a_residual_true_for_every_dimension_has_no_failure(rel, residual):
    assert first_failure(residual.expand(), D, rel).D is None


def test_the_candidates_hold_the_least_whole_number_of_every_sign_region():
    poly = Poly((D - 20) * (D - Rational(21, 2)) * (D + 3), D)
    assert sign_change_candidates(poly, 1) == (1, 10, 11, 20, 21)


@pytest.mark.full
def test_a_step_failing_at_d_10001_only_is_an_error_never_checked():
    report = check_file(REDTEAM / "rt9_d_any_fails_at_10001.toml")
    step = report.steps[0]
    assert step.verdict == "error" and "at D = 10001 (exactly)" in step.reason and not report.ok


# ------------------------------------------------------------------------- F2: a factor in D alone


def test_the_factors_in_d_alone_name_where_they_vanish_or_change_sign():
    mu = Symbol("mu", real=True)
    assert factor_sign_changes((mu**2 + 1) * (D - 9) * (D - 4)**2, D) == (1, 4, 5, 9, 10)
    assert factor_sign_changes(mu * D, D) == (1,)


@pytest.mark.full
def test_a_factor_hiding_d_9_is_searched_there_and_refuted():
    report = check_file(REDTEAM / "rt9_d_any_factor_fails_at_9.toml")
    step = report.steps[0]
    assert step.verdict == "refuted", step.reason
    assert "D = 9" in step.counterexample.source and not report.ok


def test_a_term_in_d_alone_vanishing_at_d_10_is_searched_there_and_refuted():
    step = check_file(REDTEAM / "rt9_d_any_term_fails_at_10.toml").steps[0]  # Sum(mu_d**2) + (D-10)**2 > 0
    assert step.verdict == "refuted", step.reason
    assert "D = 10" in step.counterexample.source


def test_the_coefficients_in_d_alone_name_where_they_change_sign():
    mu = Symbol("mu", real=True)
    assert factor_sign_changes(mu**2 + (D - 10)**2, D) == (1, 10, 11)
    assert factor_sign_changes((mu**2 * (D - 9) * (D - 4)).expand(), D) == (1, 4, 5, 9, 10)
    assert factor_sign_changes(2**D + mu - 5000, D) == ()  # not a polynomial: the usual D's only


@pytest.mark.full
def test_a_factor_changing_sign_beyond_the_searched_dimensions_is_an_error():
    """Beyond limits.MAX_SEARCH_D = 64 (session 12: a D up to 64 is searched; Sum(mu_d**2) * (D - 20)**2
    alone is decided exactly, tests/test_exact_decisions.py, so two sums keep it to the parts rule)."""
    text = (REDTEAM / "rt9_d_any_factor_fails_at_9.toml").read_text()
    text = text.replace("(D-1)*(D-2)*(D-3)*(D-4)*(D-5)*(D-6)*(D-7)*(D-8)*(D-12)",
                        "Sum(w_d**2, (d, 1, D)) * (D - 100)**2")
    assert text.count("(D - 100)**2") == 2
    report = check_file(loads(text, "beyond.toml"), 120.0)  # a full search first: no budget error under load
    step = report.steps[0]
    assert step.verdict == "error" and "at D = 100, beyond" in step.reason and not report.ok


# ------------------------------------------------------------------------- F3: whole-number parameters


N = Symbol("n", integer=True)


@pytest.mark.parametrize("rel, residual, least, first", [
    ("=", (N - 1) * (N - 2) * (N - 3) * (N - 4) * (N - 5), 1, 6),
    ("=", (N - 3) * (N - 4), 3, 5),
    (">=", (N - 3) * (N - 4), 3, None),  # two neighbouring roots: no whole number between them
    ("<=", -(N - 40)**2 + 1, 1, 40),  # positive only at n = 40
])
def test_a_residual_polynomial_in_a_whole_number_starts_at_its_least_value(rel, residual, least, first):
    assert first_failure(residual.expand(), N, rel, least).D == first


@pytest.mark.parametrize("factors, first", [("(n-1)*(n-2)*(n-3)*(n-4)*(n-5)", "6"), ("(n-1)*(n-2)*(n-3)*(n-5)", "4")])
def test_a_whole_number_parameter_failing_beyond_the_searched_values_is_never_checked(factors, first):
    """n = 6: an error naming it until session 12, now searched there and refuted."""
    text = (REDTEAM / "rt9_whole_number_fails_at_6.toml").read_text().replace("(n-1)*(n-2)*(n-3)*(n-4)*(n-5)", factors)
    report = check_file(loads(text, "n.toml"))
    step = report.steps[0]
    assert step.verdict == "refuted" and not report.ok
    assert ("n", (first,)) in step.counterexample.values


# ------------------------------------------------------------------------- F4: what the messages say


@pytest.mark.full
def test_the_search_summary_of_a_d_any_step_names_the_prior_n_0_i_and_the_dimensions():
    text = (REDTEAM / "rt10_quad.toml").read_text().replace("+ 169", "+ 169 * D**2")  # true: (S - D)**2 + 168 D**2
    text = text.replace('rule = "algebra"', 'rule = "definition"')  # searched: the exact rule proves only algebra
    step = check_file(loads(text, "twin.toml"), 120.0).steps[0]  # other symbols than D: the search's D's only
    assert step.verdict == "checked"
    assert "(prior N(0, I); D = 1, 2, 3, 4, 5, 6, 7, 8, 12)" in step.reason and "N(0, 1)" not in step.reason


def test_an_enclosure_too_wide_to_decide_is_printed_as_its_ends_not_a_midpoint():
    derivation = load(REDTEAM / "rt9_reference_too_wide.toml")
    model, step = derivation.model(), derivation.steps[0]
    opinion = second_opinion(derivation.start.expr, step.rel, step.expr, model.spec, model.K)
    text = opinion.describe()
    assert "could not decide" in text and "lies somewhere in [-" in text and "lhs - rhs = " not in text


@pytest.mark.parametrize("value", ["true", "1e400", "0"])
def test_a_bad_d_points_at_its_value(value):
    text = f'title = "b"\nmodel = "gaussian"\nD = {value}\nstart = "mu"\n'
    with pytest.raises(DerivationError) as caught:
        loads(text, "b.toml")
    assert caught.value.line == 3 and caught.value.column == 4

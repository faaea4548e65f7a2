"""Red team rt7's findings (session 11), each pinned by its repro under tests/data/redteam/rt7_*.toml.

F1: ``D = "any"`` searched only at D = 1, 2, 3, 5, so a wrong term (D-1)(D-2)(D-3)(D-5) ended
`checked`; a residual polynomial in D is now decided exactly and the search covers D = 1..8.
F2: the Gaussian judges did not re-evaluate a true strict step (a KL of 7.8e-61) at higher precision.
F3: a difference enclosure too wide to decide counted as agreement with a false identity.
F4: the second opinion sampled D and whole-number parameters at the same blind set {1, 2, 3, 5}.
F5: the browser's checker read text apart from `check` (a BOM, the size limit).
A teaching file whose marked step is only `checked` said "the mistake is not a mistake".
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from sympy import Symbol, log

from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.dimensions import first_failure
from elbo_sym.engine.reference import discrete as discrete_ref
from elbo_sym.engine.reference import gaussian as gaussian_ref
from elbo_sym.engine.reference import second_opinion
from elbo_sym.limits import MAX_FILE_BYTES
from elbo_sym.publish.browser import check_source
from elbo_sym.report.build import check_file
from elbo_sym.report.text import derivation_text

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
ROOT = Path(__file__).resolve().parent.parent
D = Symbol("D", positive=True)


def _opinion(path: Path, index: int = 0):
    derivation = load(path)
    model = derivation.model()
    step = derivation.steps[index]
    lhs = derivation.start.expr if index == 0 else derivation.steps[index - 1].expr
    return second_opinion(lhs, step.rel, step.expr, model.spec, model.K)


# ------------------------------------------------------------------------- F1: D = "any"


@pytest.mark.full
@pytest.mark.parametrize("name", ["rt7_d_any_false_identity", "rt7_d_any_false_accepted", "rt7_d_any_false_ge",
                                  "rt7_d_any_false_le", "rt7_d_any_false_kl_nonneg", "rt7_d_any_false_definition"])
def test_a_false_d_any_step_off_only_at_d_4_or_6_is_refuted(name):
    report = check_file(REDTEAM / f"{name}.toml")
    step = report.steps[0]
    assert step.verdict == "refuted", step.reason
    assert not report.ok  # accept = "checked" never rescues a refuted step
    shown = dict(step.counterexample.values)
    assert "sigma4" in shown  # a model of at least 4 dimensions: the blind set {1, 2, 3, 5} is gone


def test_the_identity_is_refuted_at_the_least_dimension_where_it_fails():
    step = check_file(REDTEAM / "rt7_d_any_false_identity.toml").steps[0]
    shown = dict(step.counterexample.values)
    assert "sigma4" in shown and "sigma5" not in shown
    assert "D = 4" in step.counterexample.source
    assert Fraction(step.counterexample.lhs_value) - Fraction(step.counterexample.rhs_value) == 6


@pytest.mark.parametrize("rel, residual, first", [
    ("=", -(D - 1) * (D - 2) * (D - 3) * (D - 5), 4),
    (">=", -(D - 1) * (D - 2) * (D - 3) * (D - 5), 6),  # -p(D) < 0 first at D = 6 (p(4) = -6)
    ("<=", -(D - 1) * (D - 2) * (D - 3) * (D - 5), 4),
    (">=", D**2 - 30 * D + 200, 11),  # negative between its roots 10 and 20
    (">", (D - 3)**2, 3),
    ("=", (D - 1) * log(2), 2),
    ("=", (D - 1) * (D - 2) * (log(3) - log(2)), 3),
])
def test_a_residual_polynomial_in_d_is_decided_at_its_first_failing_whole_number(rel, residual, first):
    assert first_failure(residual.expand(), D, rel).D == first


@pytest.mark.parametrize("rel, residual", [(">=", D**2 + 1), ("<", -D), ("<=", -(D - 1)**2), (">", D * log(2))])
def test_a_residual_that_holds_for_every_d_has_no_failure_or_is_left_to_the_search(rel, residual):
    found = first_failure(residual, D, rel)
    assert found is None or found.D is None


def test_a_residual_with_other_symbols_is_left_to_the_search():
    assert first_failure(D * Symbol("mu", real=True), D, "=") is None


def test_a_false_step_failing_beyond_the_searched_dimensions_is_never_checked():
    """First failing at D = 13: an error naming it until session 12, now searched there (up to
    limits.MAX_SEARCH_D = 64 dimensions) and refuted; beyond 64, an error (tests/test_exact_decisions.py)."""
    wrong = " * ".join(f"(D - {n})" for n in range(1, 13))
    text = (REDTEAM / "rt7_d_any_false_identity.toml").read_text()
    text = text.replace("(D - 1) * (D - 2) * (D - 3) * (D - 5)", wrong)
    report = check_file(loads(text, "wide.toml"))
    step = report.steps[0]
    assert step.verdict == "refuted" and not report.ok
    assert "D = 13 (where left - right first fails, exactly)" in step.counterexample.source


@pytest.mark.full
def test_a_wrong_factor_of_a_sum_vanishing_at_1_2_3_5_is_found_by_the_search():
    body = "Sum(1 + log(sigma_d**2) - mu_d**2 - sigma_d**2, (d, 1, D))"
    text = (REDTEAM / "rt7_d_any_false_identity.toml").read_text().replace(
        f'expr = "{body} / 2 + (D - 1) * (D - 2) * (D - 3) * (D - 5)"',
        f'expr = "(1 + (D - 1) * (D - 2) * (D - 3) * (D - 5)) * {body} / 2"')
    assert "(1 + (D - 1)" in text
    step = check_file(loads(text, "sum.toml")).steps[0]
    assert step.verdict == "refuted" and "D = 4" in step.counterexample.source


def test_a_teaching_file_whose_marked_step_is_only_checked_fails_and_says_so():
    report = check_file(REDTEAM / "rt7_teaching_only_checked.toml")  # its mistake is now shown: refuted at D = 4
    assert report.steps[0].verdict == "refuted" and report.ok
    true_but_checked = loads('title = "t"\nK = 2\nexpect_refuted = [1]\nstart = "log(3)"\n\n[[step]]\nrel = "<="\n'
                             'expr = "log(2) + 1/2"\nrule = "algebra"\n', "teach.toml")
    report = check_file(true_but_checked)
    assert report.steps[0].verdict == "checked" and not report.ok
    text = derivation_text(report)
    assert "could not be refuted: the mistake is only checked to hold on" in text
    assert "the teaching file's mistake is not a mistake" not in text


# ------------------------------------------------------------------------- F4: the reference's samples


def test_the_reference_judges_a_whole_number_parameter_at_4():
    assert 4 in discrete_ref.parameter_samples("integer >= 1")
    assert _opinion(REDTEAM / "rt7_whole_number_false.toml").disagrees


def test_the_reference_judges_d_any_at_4_and_disagrees_with_the_false_identity():
    assert _opinion(REDTEAM / "rt7_d_any_false_identity.toml").disagrees


# ------------------------------------------------------------------------- F2: strict, near the posterior


def test_a_true_strict_step_a_hair_from_equality_is_proved_and_agreed():
    report = check_file(REDTEAM / "rt7_near_posterior_strict.toml")
    assert [s.verdict for s in report.steps] == ["proved", "proved"] and report.ok
    assert "agrees" in report.steps[1].second_opinion


def test_an_assumed_q_is_named_as_assumed_not_as_the_tight_case():
    cases = gaussian_ref.instances(1, 2)
    fixed = [case.with_q((Fraction(1), Fraction(1))) for case in cases]
    assert cases[0].name.startswith("tight case")
    assert all(case.describe().startswith("[q as assumed") for case in fixed)


# ------------------------------------------------------------------------- F3: too wide to decide


def test_a_false_identity_with_an_uninformative_enclosure_is_never_agreed():
    """At 60 digits the left side's enclosure is [-3.8e81, 5.7e81] around 0.64: too wide, so it is
    decided again at 210 digits, where it is 0.64 against 1e60."""
    opinion = _opinion(REDTEAM / "rt7_wide_enclosure_false.toml")
    assert opinion.disagrees and "-1.0e+60" in opinion.detail


@pytest.mark.parametrize("tolerance", [discrete_ref.EXACT, discrete_ref.QUADRATURE_TOLERANCE])
def test_an_enclosure_wide_across_the_failing_side_is_undecided_for_every_judge(tolerance):
    wide = discrete_ref._iv(Fraction(0))
    with discrete_ref._precision(discrete_ref.PREC):
        wide = discrete_ref._ops.from_ends(  # an enclosure in the active interval backend (arb or mpmath)
            discrete_ref.from_rational(-10**6, 1, discrete_ref.PREC, discrete_ref.round_floor),
            discrete_ref.from_rational(10**6, 1, discrete_ref.PREC, discrete_ref.round_ceiling))
    for rel in ("=", ">=", "<="):
        with pytest.raises(discrete_ref.JudgeError, match="too wide"):
            discrete_ref.relation_holds(rel, wide, Fraction(0), tolerance)
    tight = discrete_ref._iv(Fraction(1, 3))
    assert discrete_ref.relation_holds("=", tight, Fraction(1, 3), tolerance)[0]
    assert not discrete_ref.relation_holds("=", tight, Fraction(1, 2), tolerance)[0]


# ------------------------------------------------------------------------- F5: one reading path


def test_the_browser_reads_a_bom_as_check_does():
    source = (ROOT / "derivations" / "gap.toml").read_text("utf-8")
    plain, bom = (json.loads(check_source(text, "gap.toml")) for text in (source, "\ufeff" + source))
    assert plain["status"] == bom["status"] == 0
    assert loads("\ufeff" + source, "gap.toml").title == loads(source.encode("utf-8-sig"), "gap.toml").title


def test_the_browser_refuses_a_file_over_the_size_limit_as_check_does():
    source = (ROOT / "derivations" / "gap.toml").read_text("utf-8")
    big = "# padding\n" * (MAX_FILE_BYTES // 10) + source
    answer = json.loads(check_source(big, "big.toml"))
    assert answer["status"] == 2 and "larger than the limit" in answer["text"]
    with pytest.raises(DerivationError, match="larger than the limit"):
        loads(big, "big.toml")
    with pytest.raises(DerivationError, match="not UTF-8"):
        loads('title = "\ud800"\n', "surrogate.toml")

"""Red team rt47's engine findings (session 20), each a file that failed on main 39a2582.

F5: with ``D = "any"`` (the Gaussian family for every number of dimensions) the search builds D = 1 to 8
and 12 in full, so ``accept = "checked"`` passed steps false from D = 13 or D = 149 once a second
variable kept the exact decision in D alone from deciding them.  D is now refused like a whole-number
parameter (check._free_dimension), written or not; an explicit D still accepts.
"""

from __future__ import annotations

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.report.build import report_of
from elbo_sym.report.text import closing_lines


def gaussian_step(start: str, rel: str, expr: str, D: str = '"any"') -> object:
    """The one step of a Gaussian file with accept = "checked" (algebra), checked."""
    text = (f'title = "t"\nmodel = "gaussian"\nD = {D}\nstart = "{start}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=120.0).steps[0]


@pytest.mark.parametrize(("start", "rel", "expr"), [
    ("log(D) * (1 + b**2)", "<=", "5 * (1 + b**2)"),            # false from D = 149 (log 149 = 5.004)
    ("2**D * (1 + b**2)", "<=", "5000 * (1 + b**2)"),           # false from D = 13 (8192 > 5000)
    ("E(q, log(p(z)))", ">=", "-35/2 - 100*KL(q(z), p(z))"),    # D unwritten: -D/2*(log(2*pi) + 1) at q = p(z)
])
@pytest.mark.full  # over the fast tier's 0.5 s of CPU
def test_a_step_false_beyond_the_searched_dimensions_never_passes(start: str, rel: str, expr: str) -> None:
    step = gaussian_step(start, rel, expr)
    assert not step.passes and step.verdict is not Verdict.proved, step.reason
    assert step.verdict is Verdict.error and "D is a whole number" in step.reason
    assert "write an explicit D" in step.reason


@pytest.mark.full  # 1.1 s of CPU; the refusal it complements (D = "any") stays in `make test`
def test_an_explicit_dimension_still_accepts() -> None:
    """The refusal is for D = "any" only: at D = 3 the search covers the file's one D."""
    step = gaussian_step("2**3 * (1 + b**2)", "<=", "5000 * (1 + b**2) + log(1 + mu1**2)", D="3")
    assert step.verdict is Verdict.checked and step.passes, step.reason


FAR_END_STEP = ('title = "t"\nK = 3\nstart = "beta * KL(q(z), p(z)) * {factor}"\n\n[params]\nbeta = ">= 1"\n\n'
                '[[step]]\nrel = "<="\nexpr = "10**12 * KL(q(z), p(z))"\nrule = "algebra"\naccept = "checked"\n')


@pytest.mark.full  # over the fast tier's 0.5 s of CPU
@pytest.mark.parametrize("factor", ["exp(beta) * exp(-beta)", "exp(beta - 1) * exp(1 - beta)"])
def test_the_far_end_sees_through_an_exp_that_cancels(factor: str) -> None:
    """F2: the factor is 1, so the step is beta * KL <= 10**12 * KL, false for every beta > 10**12 where
    KL > 0; the far end slices the canonical form (check._far_end_differences) and refutes it there."""
    step = check_derivation(loads(FAR_END_STEP.format(factor=factor), "t.toml"), budget=120.0).steps[0]
    assert step.verdict is Verdict.refuted, step.reason
    assert step.counterexample is not None and "far end: beta growing without bound" in str(step.counterexample)


GAUSSIAN_PREMISE = ('title = "t"\nmodel = "gaussian"\nassume = ["q(z) != Normal(mu, v**2)"]\n'
                    'start = "KL(q(z), Normal(mu, v))"\n\n[params]\nv = "> 0"\n\n'
                    '[[step]]\nrel = ">"\nexpr = "0"\nrule = "kl-nonneg"\naccept = "checked"\n')


@pytest.mark.full  # over the fast tier's 0.5 s of CPU
def test_a_premise_that_removes_the_random_equality_points_hides_no_failure() -> None:
    """F1: KL(N(mu, sigma**2), N(mu, v)) = 0 on the whole curve v = sigma**2 (sigma != 1 keeps the premise
    sigma != v); the minimiser's point near it, each coordinate rounded on its own, was off the curve and the
    step passed with accept.  Where the residual's logs (log(v)/2 - log(sigma)) vanish is solved for exactly
    (check._logs_vanish_where): refuted where both sides are 0 and the premise holds."""
    step = check_derivation(loads(GAUSSIAN_PREMISE, "t.toml"), budget=120.0).steps[0]
    assert not step.passes and step.verdict is Verdict.refuted, step.reason
    found = step.counterexample
    assert found is not None and "every premise holds there" in str(found)


TWO_OBSERVATIONS = 'title = "t"\nK = 2\ndata = ["x1", "x2"]\n'
ONE_STEP = 'start = "log(p(x1))"\n\n[[step]]\nrel = "<="\nexpr = "0"\nrule = "algebra"\n'


@pytest.mark.parametrize(("head", "line", "column", "fragment"), [
    # the second entry, on its own line: r cannot be fixed, and the hint names x2's q, not q(z)
    ('assume = [\n  "q(z | x1) = p(z | x1)",\n  "r(z | x2) = p(z | x2)",\n]\n', 6, 4,
     'r(z | x2) cannot be fixed: the only supported assumption with = fixes q: "q(z | x2) = <distribution'),
    ('assume = ["q(z | x1) = p(z | x1)", "q(z | x1) = p(z)"]\n', 4, 37, "q of x1 is fixed twice"),
])
def test_an_assume_entry_error_is_at_the_entry(head: str, line: int, column: int, fragment: str) -> None:
    """F3: these were at 4:1, the caret under `assume`, as no premise error is."""
    with pytest.raises(DerivationError) as info:
        loads(TWO_OBSERVATIONS + head + ONE_STEP, "a.toml")
    error = info.value
    assert fragment in error.message and (error.line, (error.column or 0) + 1) == (line, column), str(error)


def test_an_observation_named_twice_is_shown_at_the_second_name() -> None:
    with pytest.raises(DerivationError) as info:
        loads('title = "t"\nK = 2\ndata = ["x1", "x1"]\n' + ONE_STEP, "e.toml")
    assert "x1 is named twice" in info.value.message and (info.value.line, info.value.column) == (3, 15)


def test_an_example_q_for_an_assumed_observation_is_shown_at_its_key() -> None:
    text = (TWO_OBSERVATIONS + 'assume = ["q(z | x2) = p(z | x2)"]\n' + ONE_STEP + '\n[[example]]\n'
            'prior = ["1/2", "1/2"]\nlikelihood = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n'
            'q = { x1 = ["1/2", "1/2"], x2 = ["1/2", "1/2"] }\n')
    with pytest.raises(DerivationError) as info:
        loads(text, "e.toml")
    assert "q of x2 is fixed by the assumption" in info.value.message
    assert info.value.line == 15 and info.value.column == text.splitlines()[14].index("x2 =")


def test_an_example_outside_a_premise_names_it_and_claims_no_expected_value() -> None:
    """F4: the example gives q(z | x2) = x2's posterior (15/16, 1/16), which the premise excludes; it states
    no [example.expect], so "expected value FAILS ... it violates one" misread it."""
    text = ('title = "t"\nK = 2\ndata = ["x1", "x2"]\nassume = "q(z | x2) != p(z | x2)"\n'
            'start = "KL(q(z | x2), p(z | x2))"\n\n[[step]]\nrel = ">="\nexpr = "0"\nrule = "kl-nonneg"\n\n'
            '[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = { x1 = ["1/4", "3/4"], x2 = ["3/4", "1/20"] }\n'
            'q = { x1 = ["1/2", "1/2"], x2 = ["15/16", "1/16"] }\n')
    result = check_derivation(loads(text, "e.toml"), budget=120.0)
    (failure,) = result.examples[0].failures
    assert failure.endswith("it violates the premise q(z | x2) != p(z | x2)"), failure
    lines = closing_lines(report_of(result))
    assert any("example 1 FAILS: the example is not shown" in line for line in lines), lines
    assert not any("expected value" in line for line in lines), lines


PDATA_PREMISE = ('title = "t"\nK = 2\ndata = ["x1", "x2"]\nassume = "p_data(x1) >= 2/3"\n'
                 'start = "log(p(x1))"\n\n[[step]]\nrel = ">="\nexpr = "ELBO(q(z | x1), x1)"\nrule = "kl-nonneg"\n\n'
                 '[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = { x1 = ["1/5", "3/5"], x2 = ["1/2", "1/10"] }\n'
                 'q = { x1 = ["1/3", "2/3"], x2 = ["1/2", "1/2"] }\n')


def test_a_premise_on_p_data_puts_the_data_distribution_in_the_model() -> None:
    """F6: a premise was the only place naming p_data; the model had no data distribution (an engine error
    with no location), and the example's p_data that it asked for was refused ("leave it out")."""
    with pytest.raises(DerivationError) as info:
        loads(PDATA_PREMISE, "pd1.toml")  # the example must now give the weights, said at the example
    assert "example 1 is missing 'p_data'" in info.value.message and info.value.line == 12
    derivation = loads(PDATA_PREMISE + 'p_data = ["1/3", "2/3"]\n', "pd2.toml")
    assert derivation.data_weights
    result = check_derivation(derivation, budget=120.0)
    assert result.steps[0].verdict is Verdict.proved and not result.problems, result.problems
    (failure,) = result.examples[0].failures  # 1/3 < 2/3: outside the premise, decided
    assert failure.endswith("it violates the premise p_data(x1) >= 2/3"), failure


@pytest.mark.full  # over the fast tier's 0.5 s of CPU
def test_one_numbering_of_the_latent_states_in_a_data_space_report() -> None:
    """F7: the same line said "its value at z = 0" and "p(x | z = 1) over x = x1, x2" of the first state."""
    text = ('title = "t"\nK = 2\ndata = ["x1", "x2"]\ndata_space = ["x1", "x2"]\n'
            'assume = "q(z | x2) = 2 * p(z | x1) - p(z)"\nstart = "KL(q(z | x2), p(z))"\n\n'
            '[[step]]\nrel = ">="\nexpr = "0"\nrule = "kl-nonneg"\n')
    result = check_derivation(loads(text, "idx.toml"), budget=120.0)
    (problem,) = result.problems
    assert "p(x | z = 0) over x = x1, x2" in problem and "p(x | z = 1) over x = x1, x2" in problem, problem
    assert "p(x | z = 2)" not in problem


def test_the_any_k_domain_does_not_bound_the_likelihood_by_1() -> None:
    """F8: K = "any" holds densities, where a likelihood value may exceed 1 (log(p(x)) <= 0 is refuted by one);
    the domain said "p(x | z) in (0, 1]", on which that step would be true.  An explicit K keeps (0, 1]."""
    def domain(K: str) -> str:
        text = (f'title = "t"\nK = {K}\nstart = "log(p(x))"\n\n[[step]]\nrel = "<="\nexpr = "0"\n'
                'rule = "algebra"\n')
        return loads(text, "d.toml").model().domain_text()

    assert "p(x | z) > 0 (a probability in (0, 1] for a finite K, a density value otherwise)" in domain('"any"')
    assert "p(x | z) in (0, 1]" not in domain('"any"')
    assert "p(x | z) in (0, 1]" in domain("3")


def test_one_log_left_is_solved_where_it_vanishes_and_a_true_step_stays_checked() -> None:
    """`_logs_vanish_where` with a single log atom (log(sigma**2) = 2 log(sigma): sigma**2 = 1): the one point
    is sigma = 1, which the premise excludes, and the step is true -- checked and accepted, never refuted."""
    text = ('title = "t"\nmodel = "gaussian"\nassume = "sigma != 1"\nstart = "sigma**2 - 1 - log(sigma**2)"\n\n'
            '[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = check_derivation(loads(text, "t.toml"), budget=120.0).steps[0]
    assert step.verdict is Verdict.checked and step.accepted, step.reason


def far_end_differences(text: str, rel: str) -> tuple[int, int]:
    """(parts, differences the far end slices) of a one-step file, on its explicit model."""
    from elbo_sym.engine.check import _explicit, _far_end_differences, _Instances

    derivation = loads(text, "t.toml")
    model = derivation.model()
    explicit = _explicit(model, model.spec.K)
    judge = _Instances(derivation.start.expr, rel, derivation.steps[0].expr, explicit, [])
    return len(judge.parts), len(_far_end_differences(judge.parts, explicit)[0])


@pytest.mark.full  # over the fast tier's 0.5 s of CPU
def test_the_far_end_slices_a_canonical_form_only_where_it_frees_a_parameter() -> None:
    """F2's canonical slice frees beta from exp(beta) * exp(-beta); a Gaussian's logs of sigma_d stay logs in
    the canonical form, and slicing it cost a true D = 6 step its whole budget (red team rt49 F8)."""
    assert far_end_differences(FAR_END_STEP.format(factor="exp(beta) * exp(-beta)"), "<=") == (1, 2)
    gaussian = ('title = "t"\nmodel = "gaussian"\nD = 6\nstart = "(KL(q(z), p(z)) + 1)**2 + (ELBO(q) + 3)**2"\n\n'
                '[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    assert far_end_differences(gaussian, ">") == (1, 1)


def test_logs_vanishing_together_when_the_form_files_a_log_under_its_negated_argument() -> None:
    """Red team rt49 F10: log(2 - t) + log(2 + t) + 2 log(t) - log(4) < 0 is false at t = sqrt(2); the canonical
    form files log(2 - t) as log(t - 2), so the curve is t**2 (t - 2)(t + 2) = -4, the negative of the one
    written: both signs are solved for, and the step is refuted at the exact algebraic point."""
    text = ('title = "t"\nK = 2\nstart = "log(2 - t) + log(2 + t) + 2*log(t) - log(4)"\n\n[params]\n'
            't = "in (0, 2)"\n\n[[step]]\nrel = "<"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = check_derivation(loads(text, "t.toml"), budget=120.0).steps[0]
    assert step.verdict is Verdict.refuted, step.reason
    assert step.counterexample is not None and dict(step.counterexample.values)["t"] == ("sqrt(2)",)

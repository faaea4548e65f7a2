"""IWAE's k draws as bound variables (issue 17, item 4): ``Sum(f, w)`` over a fresh name w is a
sum over another draw of the latent variable, ``q(w)``, ``p(x, w)`` the model's distributions at
w; the rule ``iwae-draws`` (Burda et al. 2016, eq. 8) proves the written-out form equal to
IWAE(q, k) for explicit K and K = "any"; wrong variants are refuted, each counterexample
re-evaluated here from its printed values by plain float enumeration of the draws.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.models.base import ModelSpec
from elbo_sym.engine.models.discrete import DiscreteModel, UnfoldError
from elbo_sym.engine.models.general import GeneralModel
from elbo_sym.engine.notation import Draw, LatentSum, to_latex, to_text
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.engine.reference import discrete as judge
from elbo_sym.engine.reference import second_opinion

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
TWO = "Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w)"
THREE = "Sum(Sum(Sum(q(z) * q(w) * q(v) * log((p(x, z) / q(z) + p(x, w) / q(w) + p(x, v) / q(v)) / 3), z), w), v)"
EXAMPLE = '[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n'


def one_step(start: str, rel: str, expr: str, rule: str = "iwae-draws", K: str = "2", data: str = "") -> str:
    return (f'title = "t"\nK = {K}\n{data}start = "{start}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


def step_of(text: str, budget: float = 10.0):
    result = check_derivation(loads(text, "draws.toml"), budget=budget)
    (step,) = result.steps
    return step


def floats(counterexample, label: str) -> list[float]:
    return [float(Fraction(v)) for v in counterexample.value_of(label)]


def written_out(prior, likelihood, q, summand) -> float:
    """Sum over every pair of states (z, w) of summand(q_z, q_w, r_z, r_w), r the importance ratio."""
    ratios = [a * b / c for a, b, c in zip(prior, likelihood, q)]
    return sum(summand(q[i], q[j], ratios[i], ratios[j]) for i, j in itertools.product(range(len(q)), repeat=2))


def iwae(prior, likelihood, q, k: int) -> float:
    ratios = [a * b / c for a, b, c in zip(prior, likelihood, q)]
    return sum(math.prod(q[j] for j in t) * math.log(sum(ratios[j] for j in t) / k)
               for t in itertools.product(range(len(q)), repeat=k))


# ------------------------------------------------------------------ the notation


def test_a_sum_over_a_fresh_name_binds_a_draw_of_z():
    e = parse_expression(TWO)
    assert isinstance(e, LatentSum) and isinstance(e.args[1], Draw) and e.args[1].name == "w"
    assert to_text(parse_expression(to_text(e))) == to_text(e)  # printed as written, parsed back
    assert to_latex(e).startswith(r"\sum_{w} \sum_{z}")


@pytest.mark.parametrize("text, message", [
    ("Sum(w, w)", "'w' is a draw of z bound by its Sum"),
    ("q(w)", "density arguments must be"),
    ("Sum(Sum(q(w), w), w)", "already bound by an enclosing Sum"),
    ("Sum(q(z) * log(p(x, z)), w)", "f must mention it"),
    ("Sum(q(alpha), alpha)", "sums over the latent variable z only"),
    ("Sum(p(z | w), w)", "at one point of the latent space"),
])
def test_draw_names_are_bound_fresh_and_used_inside_densities(text, message):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert message in info.value.message


def test_draws_belong_to_the_one_layer_discrete_family():
    with pytest.raises(ParseError) as info:
        parse_expression("Sum(q(z1 | x), w)", Vocabulary(latents=("z1", "z2")))
    assert "one-layer discrete family" in info.value.message


def test_a_declared_parameter_is_no_draw():
    with pytest.raises(ParseError):
        parse_expression("Sum(q(w), w)", Vocabulary(params=("w",)))


def test_the_explicit_model_unfolds_draws_as_the_enumeration_of_pairs():
    model = DiscreteModel(3)
    values = {s: v for s, v in zip(model.parameters, [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6),
                                                      Fraction(1, 5), Fraction(3, 5), Fraction(1, 2),
                                                      Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)])}
    unfolded = float(model.unfold(parse_expression(TWO)).xreplace(values))
    expected = iwae([1 / 2, 1 / 3, 1 / 6], [1 / 5, 3 / 5, 1 / 2], [1 / 4, 1 / 4, 1 / 2], 2)
    assert math.isclose(unfolded, expected, rel_tol=1e-12)


def test_the_general_model_refuses_a_draw_sum_inside_the_sum_over_z():
    model = GeneralModel(ModelSpec("discrete", "any"))
    with pytest.raises(UnfoldError) as info:
        model.unfold(parse_expression("Sum(Sum(q(z) * q(w) * log(p(x, z) / q(z) + p(x, w) / q(w)), w), z)"))
    assert "depends on z" in str(info.value)
    with pytest.raises(UnfoldError) as info:  # an integral over w of no density of w
        model.unfold(parse_expression("Sum(Sum(q(z) * log(p(x, w) / q(w)), z), w)"))
    assert "no meaning for every latent space" in str(info.value)


# ------------------------------------------------------------------ the rule


@pytest.mark.parametrize("K", ["2", "3", '"any"'])
@pytest.mark.parametrize("start, k", [(TWO, 2), (THREE, 3)])
def test_the_draws_written_out_are_iwae(K, start, k):
    step = step_of(one_step(start, "=", f"IWAE(q, {k})", K=K))
    assert step.verdict is Verdict.proved, step.reason
    assert "eq. 8" in step.reason


@pytest.mark.parametrize("K", ["2", '"any"'])
def test_the_draws_in_another_order_and_with_other_names_are_iwae(K):
    start = "Sum(Sum(q(u) * q(v) * log(1/2 * (p(x, v) / q(v) + p(x, u) / q(u))), u), v)"
    assert step_of(one_step("IWAE(q, 2)", "=", start, K=K)).verdict is Verdict.proved


def test_the_draws_of_one_observation_among_several():
    start = "Sum(Sum(q(z | x1) * q(w | x1) * log((p(x1, z) / q(z | x1) + p(x1, w) / q(w | x1)) / 2), z), w)"
    text = one_step(start, "=", "IWAE(q(z | x1), 2, x1)", K='"any"', data='data = ["x1", "x2"]\n')
    assert step_of(text).verdict is Verdict.proved


def test_explicit_k_also_proves_it_by_algebra():
    assert step_of(one_step(TWO, "=", "IWAE(q, 2)", rule="algebra", K="3")).verdict is Verdict.proved


WRONG = [
    # a missing 1/2: log of the sum of the ratios, not of their average
    ("Sum(Sum(q(z) * q(w) * log(p(x, z) / q(z) + p(x, w) / q(w)), z), w)",
     lambda qa, qb, ra, rb: qa * qb * math.log(ra + rb)),
    # q(z) * q(z): the weight of the second draw at the wrong point
    ("Sum(Sum(q(z) * q(z) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w)",
     lambda qa, qb, ra, rb: qa * qa * math.log((ra + rb) / 2)),
    # wrong weights: p(x, w) in place of the second ratio's q(w)
    ("Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w)) / 2), z), w)",
     None),
]


@pytest.mark.parametrize("K", ["2", '"any"'])
@pytest.mark.parametrize("variant, summand", WRONG)
def test_wrong_draws_are_refuted_with_a_counterexample_recomputed_here(K, variant, summand):
    step = step_of(one_step(variant, "=", "IWAE(q, 2)", K=K) + "\n" + EXAMPLE)
    if K == '"any"' and "q(z) * q(z)" in variant:  # an integral over w of no density of w: refused, not refuted
        assert step.verdict is Verdict.error and "for every latent space" in step.reason
        assert "'" not in step.reason and "q_w" not in step.reason  # no internal (pinned) names
        return
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    prior, likelihood, q = floats(c, "p(z)"), floats(c, "p(x | z)"), floats(c, "q(z)")
    right = iwae(prior, likelihood, q, 2)
    if summand is None:  # the third: p(x, w) / 1 for the second ratio
        joint = [a * b for a, b in zip(prior, likelihood)]
        wrong = sum(q[i] * q[j] * math.log((joint[i] / q[i] + joint[j]) / 2)
                    for i, j in itertools.product(range(len(q)), repeat=2))
    else:
        wrong = written_out(prior, likelihood, q, summand)
    assert abs(wrong - right) > 1e-9


def test_the_rule_does_not_match_the_wrong_number_of_draws():
    step = step_of(one_step(TWO, "=", "IWAE(q, 3)", K='"any"') + "\n" + EXAMPLE)
    assert step.verdict is Verdict.refuted
    assert "iwae-draws" not in step.reason or "do not match" in step.outcome.reason


@pytest.mark.full
def test_the_rule_gives_no_inequality():
    step = step_of(one_step(TWO, ">=", "IWAE(q, 2)", K="2"))
    assert step.verdict is not Verdict.proved and "identity" in step.outcome.reason


# ------------------------------------------------------------------ second opinion, literature


def test_the_reference_evaluator_enumerates_the_draws():
    inst = judge.Instance("t", (Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)),
                          (Fraction(1, 5), Fraction(3, 5), Fraction(1, 2)),
                          (Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)))
    p, l, q = [1 / 2, 1 / 3, 1 / 6], [1 / 5, 3 / 5, 1 / 2], [1 / 4, 1 / 4, 1 / 2]
    for text, k in ((TWO, 2), (THREE, 3)):
        value = float(judge.show(judge.evaluate(parse_expression(text), inst)))
        assert math.isclose(value, iwae(p, l, q, k), rel_tol=1e-12)
    wrong = float(judge.show(judge.evaluate(parse_expression(WRONG[1][0]), inst)))
    assert math.isclose(wrong, written_out(p, l, q, WRONG[1][1]), rel_tol=1e-12)


@pytest.mark.parametrize("K", [2, 3])
def test_the_second_opinion_agrees_on_draws_and_disagrees_on_a_wrong_variant(K):
    spec = ModelSpec("discrete", K)
    right = second_opinion(parse_expression(TWO), "=", parse_expression("IWAE(q, 2)"), spec, K)
    assert right.status == "agrees" and right.decided >= 4, right.describe()
    wrong = second_opinion(parse_expression(WRONG[0][0]), "=", parse_expression("IWAE(q, 2)"), spec, K)
    assert wrong.disagrees, wrong.describe()


def test_the_literature_file_is_proved():
    result = check_derivation(loads((LITERATURE / "iwae-draws-as-sums.toml").read_text(), "iwae-draws-as-sums.toml"))
    assert all(s.verdict is Verdict.proved for s in result.steps) and result.established


def test_draws_of_a_parameterised_model_are_evaluated_and_a_wrong_bound_refuted():
    """p(x, w | theta): the model of the parameter theta at the draw w; L_2 >= log p(x | theta) is
    false (Jensen's gap), refuted at a counterexample recomputed here."""
    start = "Sum(Sum(q(z) * q(w) * log((p(x, z | theta) / q(z) + p(x, w | theta) / q(w)) / 2), z), w)"
    text = (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\ntheta = "real"\n\n'
            f'[[step]]\nrel = ">="\nexpr = "log(p(x | theta))"\nrule = "jensen"\n')
    step = step_of(text)
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    prior, likelihood, q = floats(c, "p(z | theta)"), floats(c, "p(x | z; theta)"), floats(c, "q(z)")
    assert iwae(prior, likelihood, q, 2) < math.log(sum(a * b for a, b in zip(prior, likelihood))) - 1e-9


DRAWS_ELBO = ('title = "t"\nK = {K}\nstart = "Sum(Sum(q(z) * q(w) * log(p(x, z) / q(z)), z), w)"\n\n'
              '[[step]]\nrel = "="\nexpr = "ELBO(q)"\nrule = "algebra"\n')


def test_too_many_terms_for_an_explicit_k_says_the_largest_k_that_fits():
    """Two draws at K = 89 have 89**2 terms, past the unfolding limit: the message gives the count
    and the largest K that fits (recomputed here), in the author's terms (red team round 7)."""
    from elbo_sym.limits import MAX_IWAE_TERMS

    step = step_of(DRAWS_ELBO.format(K=89))
    assert step.verdict is Verdict.error
    largest = max(n for n in range(1, 90) if n * n <= MAX_IWAE_TERMS)
    assert f"{89 * 89} terms at K = 89" in step.reason and f"write K = {largest} or smaller" in step.reason, \
        step.reason
    assert "89**2 terms;" not in step.reason


@pytest.mark.full
def test_a_k_any_search_stops_at_a_k_too_large_for_the_draws(fresh_memos, monkeypatch):
    """With K = "any" the search at a larger K that the draws cannot unfold ends there with a note
    (the step stays checked), never an error that depends on how far the budget reached."""
    from elbo_sym import limits

    monkeypatch.setattr(limits, "MAX_IWAE_TERMS", 100)  # 8**2 fits, 13**2 does not
    step = step_of(DRAWS_ELBO.format(K='"any"'), budget=120.0)
    assert step.verdict is Verdict.checked, step.reason
    assert f"stopped before K = 13: the step would have {13 * 13} terms there, more than 100" in step.reason


@pytest.mark.full
def test_a_k_any_search_that_cannot_unfold_a_larger_k_still_runs_the_rest_of_its_plan(fresh_memos, monkeypatch):
    """Two draws fit at K = 13 (169 terms) but not at K = 34 (1156, past a limit of 200): the larger
    K are skipped from there, and K = 13 still gets the rest of its search (boundary points,
    minimisation), as the fixed plan says -- the search used to end at K = 34's quick pass."""
    from elbo_sym import limits

    monkeypatch.setattr(limits, "MAX_IWAE_TERMS", 200)
    step = step_of(DRAWS_ELBO.format(K='"any"'), budget=120.0)
    assert step.verdict is Verdict.checked, step.reason
    assert step.searched.K == (2, 3, 5, 8, 13), step.searched
    assert f"stopped before K = 34: the step would have {34 * 34} terms there, more than 200" in step.reason
    assert "K = 89" not in step.reason and "K = 233" not in step.reason

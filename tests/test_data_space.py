"""The data distribution p_data (issue 17, item 8): ``p_data(x1)`` is the weight of the data point
x1, positive weights summing to 1 over the file's observations (a simplex block, like the
prior's), for dataset averages with any weights -- Alemi et al.'s data-averaged ELBO as minus
distortion minus rate (derivations/literature/alemi-distortion-rate.toml).

Its wrong variants are refuted, and every counterexample is recomputed here with plain floats
from its printed values; the reference evaluator judges p_data on its own instances.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.notation import to_latex, to_text
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.engine.reference import discrete as reference
from elbo_sym.engine.reference import second_opinion
from elbo_sym.engine.reference.rationals import Rational

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variant_checks import check_text  # noqa: E402
from variant_checks import refuted as refuted_variant  # noqa: E402

ALEMI = Path(__file__).resolve().parent.parent / "derivations" / "literature" / "alemi-distortion-rate.toml"
TWO = Vocabulary(("x1", "x2"))
HEAD = 'title = "t"\nK = {K}\ndata = ["x1", "x2"]\n'


def one_step(start: str, rel: str, expr: str, rule: str = "algebra", K="\"any\"") -> str:
    return HEAD.format(K=K) + f'start = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'


def floats(counterexample, label: str) -> list[float]:
    return [float(Fraction(v)) for v in counterexample.value_of(label)]


def kl(a, b) -> float:
    return sum(ai * math.log(ai / bi) for ai, bi in zip(a, b))


def refuted(text: str, index: int = 1):
    """The step's counterexample (variant_checks.refuted) gives the data distribution's weights."""
    c = refuted_variant(text, index)
    weights = floats(c, "p_data(x)")
    assert len(weights) == 2 and all(w > 0 for w in weights) and math.isclose(sum(weights), 1.0)
    return c


def parts(c):
    """prior, (likelihood, q) of x1 and x2, and the weights of a counterexample, as floats."""
    prior = floats(c, "p(z)")
    points = [(floats(c, f"p({o} | z)"), floats(c, f"q(z | {o})")) for o in ("x1", "x2")]
    return prior, points, floats(c, "p_data(x)")


def elbo(prior, likelihood, q) -> float:
    return sum(qk * math.log(pk * lk / qk) for pk, lk, qk in zip(prior, likelihood, q))


# ------------------------------------------------------------------ notation


def test_p_data_is_notation_that_prints_and_round_trips():
    e = parse_expression("p_data(x1) * log(p(x1)) + p_data(x2) * log(p(x2))", TWO)
    assert to_text(e) == "p_data(x1)*log(p(x1)) + p_data(x2)*log(p(x2))"
    assert parse_expression(to_text(e), TWO) == e
    latex = to_latex(parse_expression("p_data(x1)", TWO))
    assert latex == r"p_{\mathrm{data}}(x_{1})"  # never p_d ata, never an internal name


@pytest.mark.parametrize("text, vocabulary, message", [
    ("p_data(x)", Vocabulary(), "several"),                      # one observation: no data distribution
    ("p_data(z)", TWO, "one observation"),
    ("p_data(x1, x2)", TWO, "takes 1 argument"),
    ("p_data(x3)", TWO, r"one observation \(x1, x2\)"),
    ("p_data", TWO, "is a function"),
])
def test_p_data_is_refused_where_it_has_no_meaning(text, vocabulary, message):
    with pytest.raises(ParseError, match=message):
        parse_expression(text, vocabulary)


def test_p_data_is_a_reserved_name(tmp_path):
    with pytest.raises(DerivationError, match="p_data"):
        loads('title = "t"\nstart = "p_data"\n[params]\np_data = "> 0"\n'
              '[[step]]\nrel = "="\nexpr = "p_data"\nrule = "algebra"\n', "reserved.toml")


# ------------------------------------------------------------------ the simplex over the data points


@pytest.mark.full
@pytest.mark.parametrize("K", ["2", "3", '"any"'])
def test_the_weights_sum_to_1_and_are_positive(K):
    assert check_text(one_step("p_data(x1) + p_data(x2)", "=", "1", K=K)).fully_proved
    assert check_text(one_step("log(p_data(x1))", "<", "0", K=K)).steps[0].verdict is not Verdict.refuted


def test_three_data_points():
    text = ('title = "t"\nK = 2\ndata = ["x1", "x2", "x3"]\nstart = "p_data(x1) + p_data(x2) + p_data(x3)"\n'
            '[[step]]\nrel = "="\nexpr = "1"\nrule = "algebra"\n')
    assert check_text(text).fully_proved


def test_a_weight_is_not_a_fixed_number():
    c = refuted(one_step("p_data(x1)", "=", "1/2"))
    w1, _ = floats(c, "p_data(x)")
    assert w1 != 0.5 and math.isclose(c.lhs_value, w1) and math.isclose(c.rhs_value, 0.5)


def test_the_weights_are_not_equal_in_general():
    c = refuted(one_step("p_data(x1)", "=", "p_data(x2)", K="2"))
    w1, w2 = floats(c, "p_data(x)")
    assert w1 != w2


# ------------------------------------------------------------------ Alemi et al.: -ELBO = D + R


def test_alemi_is_proved_for_every_latent_space():
    derivation = load(ALEMI)
    assert derivation.K == "any" and derivation.data_weights
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    jensen = result.steps[1]
    assert "scaled by p_data(x1), 1 - p_data(x1) >= 0" in jensen.reason  # the weights, in the author's words
    assert "Alemi" in derivation.summary and "2018" in derivation.summary


def test_alemi_with_the_wrong_direction_is_refuted():
    c = refuted(ALEMI.read_text("utf-8").replace('rel = ">="', 'rel = "<="'), 2)
    prior, points, (w1, w2) = parts(c)
    evidence = [sum(p * l for p, l in zip(prior, like)) for like, _ in points]
    lhs = w1 * math.log(evidence[0]) + w2 * math.log(evidence[1])
    rhs = w1 * elbo(prior, *points[0]) + w2 * elbo(prior, *points[1])
    assert math.isclose(c.lhs_value, lhs, rel_tol=1e-9) and math.isclose(c.rhs_value, rhs, rel_tol=1e-9)
    assert lhs > rhs  # so <= fails: the gap is the weighted KL to the posteriors


def test_alemi_with_the_sign_of_a_kl_flipped_is_refuted():
    text = ALEMI.read_text("utf-8").replace("- KL(q(z | x1), p(z))) + p_data(x2)",
                                            "+ KL(q(z | x1), p(z))) + p_data(x2)", 1)
    c = refuted(text, 3)
    prior, (first, _), (w1, _) = parts(c)
    assert math.isclose(c.rhs_value - c.lhs_value, 2 * w1 * kl(first[1], prior), rel_tol=1e-6)
    assert kl(first[1], prior) > 0


def test_alemi_with_the_rate_of_x2_dropped_is_refuted():
    full = ('expr = "p_data(x1) * E(q(z | x1), log(p(x1 | z))) + p_data(x2) * E(q(z | x2), log(p(x2 | z))) - '
            'p_data(x1) * KL(q(z | x1), p(z)) - p_data(x2) * KL(q(z | x2), p(z))"')
    text = ALEMI.read_text("utf-8")
    assert text.count(full) == 1  # the last step (the claim is written the same way)
    c = refuted(text.replace(full, full.replace(" - p_data(x2) * KL(q(z | x2), p(z))", "")), 4)
    prior, (_, second), (_, w2) = parts(c)
    assert math.isclose(c.rhs_value - c.lhs_value, w2 * kl(second[1], prior), rel_tol=1e-6)


def test_alemi_with_weights_that_may_be_negative_is_refuted():
    """The wrong premise: a Jensen pair scaled by p_data(x1) - 1/2, which is negative for some data."""
    text = one_step("(p_data(x1) - 1/2) * log(p(x1))", ">=",
                    "(p_data(x1) - 1/2) * Sum(q(z | x1) * log(p(x1, z) / q(z | x1)), z)", "jensen")
    c = refuted(text)
    prior, (first, _), (w1, _) = parts(c)
    evidence = sum(p * l for p, l in zip(prior, first[0]))
    posterior = [p * l / evidence for p, l in zip(prior, first[0])]
    assert w1 < 0.5 and kl(first[1], posterior) > 0
    assert math.isclose(c.lhs_value - c.rhs_value, (w1 - 0.5) * kl(first[1], posterior), rel_tol=1e-6, abs_tol=1e-15)


# ------------------------------------------------------------------ examples


EXAMPLE = ('\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = { x1 = ["1/5", "3/5"], x2 = ["1/2", "1/10"] }\n'
           'q = { x1 = ["1/3", "2/3"], x2 = ["1/2", "1/2"] }\n')


def test_an_example_gives_the_weights():
    text = one_step("p_data(x1) + p_data(x2)", "=", "1", K="2") + EXAMPLE + 'p_data = ["1/3", "2/3"]\n'
    [example] = check_text(text).examples
    assert example.holds


@pytest.mark.parametrize("extra, message", [
    ("", "missing 'p_data'"),
    ('p_data = ["1/3", "1/3"]\n', "sums to 2/3"),
    ('p_data = ["1/3", "1/3", "1/3"]\n', "has 3 values"),
])
def test_an_example_without_valid_weights_is_an_input_error(tmp_path, capsys, extra, message):
    path = tmp_path / "weights.toml"
    path.write_text(one_step("p_data(x1) + p_data(x2)", "=", "1", K="2") + EXAMPLE + extra, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and message in err


def test_weights_in_a_file_that_does_not_use_them_are_refused(tmp_path, capsys):
    path = tmp_path / "unused.toml"
    path.write_text(one_step("log(p(x1))", "=", "log(p(x1))", K="2") + EXAMPLE + 'p_data = ["1/3", "2/3"]\n',
                    "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 2
    assert "leave it out" in capsys.readouterr().err


# ------------------------------------------------------------------ the reference evaluator


def test_the_reference_evaluator_judges_the_weights_on_its_own_instances():
    spec = load(ALEMI).spec
    one, two = (parse_expression(t, TWO) for t in ("p_data(x1) + p_data(x2)", "p_data(x1)"))
    agrees = second_opinion(one, "=", parse_expression("1", TWO), spec, 2)
    assert agrees.status == "agrees" and agrees.decided >= 8
    disagrees = second_opinion(two, "=", parse_expression("p_data(x2)", TWO), spec, 2)
    assert disagrees.disagrees and "p_data = (" in disagrees.detail
    # its instances: every weight vector a distribution, the boundary at 1e-30 included
    cases = reference.with_data_weights(reference.instances(2, 0, ("x1", "x2")))
    weights = {inst.data_weights for inst in cases}
    assert all(len(w) == 2 and sum(w) == 1 and min(w) > 0 for w in weights)
    assert any(min(w) == Rational(1, 10**30) for w in weights) and (Rational(1, 2), Rational(1, 2)) in weights
    assert all(reference.is_valid(inst) for inst in cases)
    broken = cases[0].with_data_weights((Rational(1, 2), Rational(1, 3)))
    assert not reference.is_valid(broken)  # weights that do not sum to 1 are no data distribution


# ------------------------------------------------------------------ a finite data space (a normalised likelihood)

DECODER = ALEMI.with_name("alemi-normalised-decoder.toml")
SPACE = 'title = "t"\nK = {K}\ndata = ["x1", "x2"]\ndata_space = ["x1", "x2"]\n'


def space_step(start: str, rel: str, expr: str, K="\"any\"") -> str:
    return SPACE.format(K=K) + f'start = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\n'


def rows(c) -> tuple[list[float], list[float], list[float]]:
    """prior and p(x1 | z), p(x2 | z) of a data-space counterexample (its blocks are p(. | z) per z)."""
    prior = floats(c, "p(z)")
    columns = [floats(c, f"p(x | z = {k}) over x = x1, x2") for k in range(len(prior))]
    return prior, [col[0] for col in columns], [col[1] for col in columns]


def test_the_normalised_decoder_file_is_proved_for_every_latent_space():
    derivation = load(DECODER)
    assert derivation.K == "any" and derivation.data_space and not derivation.data_weights
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    [example] = result.examples
    assert example.holds


def test_without_the_data_space_the_evidence_need_not_sum_to_1():
    """The wrong premise: the same chain for a likelihood that is not normalised over x."""
    text = DECODER.read_text("utf-8").replace('data_space = ["x1", "x2"]\n', "")
    result = check_text(text)
    step = next(s for s in result.steps if s.verdict is Verdict.refuted)
    assert not result.ok and step.step.index == 3
    c = step.counterexample
    prior, like1, like2 = floats(c, "p(z)"), floats(c, "p(x1 | z)"), floats(c, "p(x2 | z)")
    assert any(abs(a + b - 1) > 1e-9 for a, b in zip(like1, like2))
    assert math.isclose(c.lhs_value, sum(p * (a + b) for p, a, b in zip(prior, like1, like2)), rel_tol=1e-9)


@pytest.mark.parametrize("K", ["2", '"any"'])
def test_the_decoder_sums_to_1_at_every_z(K):
    assert check_text(space_step("p(x1 | z) + p(x2 | z)", "=", "1", K)).fully_proved
    assert check_text(space_step("p(x1)", "=", "1 - p(x2)", K)).fully_proved


@pytest.mark.parametrize("start, rel, expr", [
    ("p(x1) + p(x2)", "<", "1"),           # the wrong direction (strict)
    ("p(x1)", "=", "1"),                   # a dropped term
    ("p(x1 | z)", "=", "1/2"),             # not every decoder is uniform
])
def test_wrong_data_space_statements_are_refuted(start, rel, expr):
    result = check_text(space_step(start, rel, expr))
    step = result.steps[0]
    assert step.verdict is Verdict.refuted and not result.ok
    c = step.counterexample
    if c.values:  # the exact values given: each p(. | z) a distribution over x1, x2, the sides recomputed
        prior, like1, like2 = rows(c)
        assert all(math.isclose(a + b, 1.0) for a, b in zip(like1, like2))
        evidence1 = sum(p * a for p, a in zip(prior, like1))
        if start == "p(x1)":
            assert math.isclose(c.lhs_value, evidence1, rel_tol=1e-9) and evidence1 < 1


def test_a_data_space_example_must_be_normalised(tmp_path, capsys):
    path = tmp_path / "space.toml"
    path.write_text(DECODER.read_text("utf-8").replace('x2 = ["4/5", "2/5"]', 'x2 = ["3/5", "2/5"]'), "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "p(x1 | z) + p(x2 | z) is 4/5 at z = 1" in err and "likelihood[" not in err


@pytest.mark.parametrize("value, message", [
    ('["x2", "x1"]', "same order"),
    ('["x1"]', "same order"),
    ('"x1"', "same order"),
])
def test_data_space_must_list_the_observations(value, message):
    text = DECODER.read_text("utf-8").replace('data_space = ["x1", "x2"]', f"data_space = {value}")
    with pytest.raises(DerivationError, match=message):
        loads(text, "space.toml")


def test_data_space_is_for_the_discrete_family():
    with pytest.raises(DerivationError, match="discrete family"):
        loads('title = "t"\nmodel = "gaussian"\ndata_space = ["x"]\nstart = "H(q)"\n'
              '[[step]]\nrel = "="\nexpr = "H(q)"\nrule = "algebra"\n', "g.toml")


def test_the_reference_evaluator_normalises_its_instances():
    spec = load(DECODER).spec
    e = parse_expression
    assert second_opinion(e("p(x1 | z) + p(x2 | z)", TWO), "=", e("1", TWO), spec, 2).status == "agrees"
    assert second_opinion(e("p(x1)", TWO), "=", e("p(x2)", TWO), spec, 2).disagrees
    cases = reference.with_data_space(reference.instances(2, 0, ("x1", "x2")))
    assert cases and all(reference.normalised(inst) and reference.is_valid(inst) for inst in cases)
    plain = reference.instances(2, 0, ("x1", "x2"))
    assert not all(reference.normalised(inst) for inst in plain)  # the check can fail
    tight = [inst for inst in cases if inst.q_of("x1") == inst.posterior("x1")]
    assert tight  # a tight q stays the posterior of the normalised model

"""Alemi et al.'s H - D <= I (issue 17, item 8): derivations/literature/alemi-h-minus-d.toml.

The file is proved for every latent space; Jensen's inequality over the data points (weights
the data distribution p_data) and the decoder's sum rule inside a sum over z are the two new
pieces.  Each wrong variant is refuted, and its counterexample is recomputed here with plain
floats from the printed values, independently of the checker.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variant_checks import check_text, refuted  # noqa: E402

FILE = Path(__file__).resolve().parent.parent / "derivations" / "literature" / "alemi-h-minus-d.toml"
HEAD = 'title = "t"\nK = {K}\ndata = {data}\n{space}'
H = "-p_data(x1) * log(p_data(x1)) - p_data(x2) * log(p_data(x2)) + "


def one_step(start: str, rel: str, expr: str, rule: str, K: str = '"any"', data=("x1", "x2"), space=True) -> str:
    listed = "[" + ", ".join(f'"{o}"' for o in data) + "]"
    head = HEAD.format(K=K, data=listed, space=f"data_space = {listed}\n" if space else "")
    return head + f'start = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'


def floats(c, label: str) -> list[float]:
    return [float(Fraction(v)) for v in c.value_of(label)]


def model_of(c):
    """prior, decoder p(x_o | z), encoders q(z | x_o) and data weights of a counterexample."""
    prior = floats(c, "p(z)")
    names = [label for label, _ in c.values]
    if any(label.startswith("p(x | z = ") for label in names):  # a data space: p(. | z) per z
        columns = [floats(c, f"p(x | z = {k}) over x = x1, x2") for k in range(len(prior))]
        decoder = [[col[0] for col in columns], [col[1] for col in columns]]
    else:
        decoder = [floats(c, "p(x1 | z)"), floats(c, "p(x2 | z)")]
    encoders = [floats(c, "q(z | x1)"), floats(c, "q(z | x2)")]
    return prior, decoder, encoders, floats(c, "p_data(x)")


def quantities(c) -> dict[str, float]:
    """I, H, -D and the evidences m_o of the aggregate posterior, computed from the definitions."""
    _, decoder, encoders, w = model_of(c)
    K = len(encoders[0])
    aggregate = [sum(w[o] * encoders[o][k] for o in range(2)) for k in range(K)]
    info = sum(w[o] * sum(q * math.log(q / a) for q, a in zip(encoders[o], aggregate)) for o in range(2))
    entropy = -sum(wo * math.log(wo) for wo in w)
    minus_d = sum(w[o] * sum(q * math.log(lk) for q, lk in zip(encoders[o], decoder[o])) for o in range(2))
    m = [sum(a * lk for a, lk in zip(aggregate, decoder[o])) for o in range(2)]
    return {"I": info, "H": entropy, "-D": minus_d, "m1": m[0], "m2": m[1], "w1": w[0], "w2": w[1],
            "agg": sum(a * (l1 + l2) for a, l1, l2 in zip(aggregate, *decoder))}


# ------------------------------------------------------------------ the identity


def test_h_minus_d_at_most_i_is_proved_for_every_latent_space():
    derivation = load(FILE)
    assert derivation.K == "any" and derivation.data_space and derivation.data_weights
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert "over the data with weights p_data(x1), p_data(x2)" in result.steps[4].reason
    assert all("agrees" in s.second_opinion for s in result.steps)
    [example] = result.examples
    assert example.holds
    assert "Alemi" in derivation.summary and "2018" in derivation.summary and "eq." in derivation.summary


def test_the_example_satisfies_the_inequality_recomputed_with_fractions():
    """The file's own example, by the definitions: I >= H - D with a margin."""
    prior = [Fraction(3, 4), Fraction(1, 4)]
    decoder = [[Fraction(1, 5), Fraction(3, 5)], [Fraction(4, 5), Fraction(2, 5)]]
    assert all(a + b == 1 for a, b in zip(*decoder)) and sum(prior) == 1
    encoders = [[Fraction(1, 3), Fraction(2, 3)], [Fraction(1, 2), Fraction(1, 2)]]
    w = [Fraction(1, 3), Fraction(2, 3)]
    aggregate = [w[0] * encoders[0][k] + w[1] * encoders[1][k] for k in range(2)]
    info = sum(float(w[o] * q) * math.log(q / a) for o in range(2) for q, a in zip(encoders[o], aggregate))
    entropy = -sum(float(wo) * math.log(wo) for wo in w)
    minus_d = sum(float(w[o] * q) * math.log(lk) for o in range(2) for q, lk in zip(encoders[o], decoder[o]))
    assert info >= entropy + minus_d + 0.04 and info > 0


# ------------------------------------------------------------------ wrong variants


def test_jensen_over_the_data_in_the_wrong_direction_is_refuted():
    text = FILE.read_text("utf-8")
    first, second, third, rest = text.split('rel = ">="', 3)  # the third >= step is Jensen over the data
    c = refuted(first + 'rel = ">="' + second + 'rel = ">="' + third + 'rel = "<="' + rest, 5)
    v = quantities(c)
    lhs = v["H"] + v["-D"] - v["w1"] * math.log(v["m1"] / v["w1"]) - v["w2"] * math.log(v["m2"] / v["w2"])
    rhs = v["H"] + v["-D"] - math.log(v["m1"] + v["m2"])
    assert math.isclose(c.lhs_value, lhs, rel_tol=1e-9) and math.isclose(c.rhs_value, rhs, rel_tol=1e-9)
    assert lhs > rhs  # so <= fails: Gibbs' inequality over the data is strict here


def test_the_claim_in_the_wrong_direction_is_not_established():
    text = FILE.read_text("utf-8")
    claim = next(line for line in text.splitlines() if line.startswith("claim = "))
    result = check_text(text.replace(claim, claim.replace(" >= ", " <= ", 1)))
    assert all(s.verdict is Verdict.proved for s in result.steps) and not result.ok  # reversed: no


def test_the_entropy_dropped_is_refuted():
    text = FILE.read_text("utf-8")
    step1 = text.index("[[step]]")
    body = text[step1:]
    assert body.startswith('[[step]]\nrel = "="\nexpr = "' + H)
    c = refuted(text[:step1] + body.replace(H, "", 1), 1)
    v = quantities(c)
    assert math.isclose(c.lhs_value, v["I"], rel_tol=1e-9)
    assert math.isclose(c.lhs_value - c.rhs_value, v["H"], rel_tol=1e-6) and v["H"] > 0


def test_the_distortion_dropped_is_refuted():
    """I >= H fails: the information is at most the entropy, and below it here."""
    info = ("p_data(x1) * KL(q(z | x1), p_data(x1) * q(z | x1) + p_data(x2) * q(z | x2)) + "
            "p_data(x2) * KL(q(z | x2), p_data(x1) * q(z | x1) + p_data(x2) * q(z | x2))")
    c = refuted(one_step(info, ">=", H.removesuffix(" + "), "kl-nonneg"), 1)
    v = quantities(c)
    assert math.isclose(c.lhs_value, v["I"], rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(c.rhs_value, v["H"], rel_tol=1e-9) and v["I"] < v["H"]


@pytest.mark.full
def test_without_the_data_space_the_sum_rule_step_is_refuted():
    """The wrong premise: a decoder that is not a distribution over the data."""
    text = FILE.read_text("utf-8").replace('data_space = ["x1", "x2"]\n', "")
    text = text[:text.index("[[example]]")]
    c = refuted(text, 6)
    v = quantities(c)
    assert not math.isclose(v["agg"], 1.0)
    assert math.isclose(c.rhs_value - c.lhs_value, math.log(v["agg"]), rel_tol=1e-6)


# ------------------------------------------------------------------ Jensen over the data points

THREE = ("-p_data(x1) * log(p(x1) / p_data(x1)) - p_data(x2) * log(p(x2) / p_data(x2)) "
         "- p_data(x3) * log(p(x3) / p_data(x3))")


@pytest.mark.parametrize("K", ['"any"', "2"])
def test_jensen_over_three_data_points(K):
    text = one_step(THREE, ">=", "-log(p(x1) + p(x2) + p(x3))", "jensen", K, ("x1", "x2", "x3"), space=False)
    assert check_text(text).fully_proved


def test_jensen_over_three_data_points_the_wrong_way_is_refuted():
    text = one_step(THREE, "<=", "-log(p(x1) + p(x2) + p(x3))", "jensen", '"any"', ("x1", "x2", "x3"), space=False)
    c = refuted(text, 1)
    prior = floats(c, "p(z)")
    evidence = [sum(p * lk for p, lk in zip(prior, floats(c, f"p({o} | z)"))) for o in ("x1", "x2", "x3")]
    w = floats(c, "p_data(x)")
    lhs = -sum(wo * math.log(e / wo) for wo, e in zip(w, evidence))
    assert math.isclose(c.lhs_value, lhs, rel_tol=1e-9)
    assert math.isclose(c.rhs_value, -math.log(sum(evidence)), rel_tol=1e-9) and lhs > c.rhs_value


def test_weights_that_are_not_the_whole_data_distribution_are_no_jensen_pair():
    """Two of three weights sum to less than 1: log(p(x1) + p(x2)) is no upper bound of the pair."""
    start = "-p_data(x1) * log(p(x1) / p_data(x1)) - p_data(x2) * log(p(x2) / p_data(x2))"
    text = one_step(start, ">=", "-log(p(x1) + p(x2))", "jensen", '"any"', ("x1", "x2", "x3"), space=False)
    step = check_text(text).steps[0]
    assert step.verdict is not Verdict.proved
    assert step.verdict is Verdict.refuted


# ------------------------------------------------------------------ the sum rule inside a sum over z


def test_the_decoder_sums_to_1_inside_a_sum_over_z():
    text = one_step("Sum(q(z | x1) * (p(x1 | z) + p(x2 | z)), z)", "=", "1", "algebra")
    assert check_text(text).fully_proved


@pytest.mark.parametrize("expr", ["Sum(q(z | x1) * (p(x1 | z) + 2 * p(x2 | z)), z)",
                                  "Sum(q(z | x1) * p(x1 | z) + q(z | x2) * p(x2 | z), z)"])
def test_terms_that_are_not_the_whole_decoder_do_not_sum_to_1(expr):
    result = check_text(one_step(expr, "=", "1", "algebra"))
    assert result.steps[0].verdict is Verdict.refuted and not result.ok

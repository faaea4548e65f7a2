"""Derived distributions as arguments of E, KL, H, ELBO (issue 17, item 3).

A mixture such as the aggregate posterior (q(z | x1) + q(z | x2)) / 2 may stand where a
distribution over z does; it carries the obligation to be one (every value > 0, summing to
1), refused at parse time when its number weights say otherwise and proved by the checker
(engine.wellformed) otherwise.  The literature files that use them (ELBO surgery, Alemi's
rate, beta-VAE, the entropy of a mixture) are proved for every latent space; their wrong
variants are refuted, each counterexample recomputed here with plain floats.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
from sympy import Integer, Rational, Symbol

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.models import ModelSpec
from elbo_sym.engine.notation import KL, Density, distribution_variables, is_derived, to_text, z, z1, z2
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.engine.reference import second_opinion

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
MIXTURE_FILES = ("elbo-surgery.toml", "elbo-surgery-average-elbo.toml", "alemi-rate-aggregate.toml", "beta-vae.toml",
                 "mixture-entropy.toml")
TWO = Vocabulary(data=("x1", "x2"))
AGGREGATE = "(q(z | x1) + q(z | x2)) / 2"
LEAKS = re.compile(r"Density\(|Dummy|q_x\d|pi_\d|l_x")


def text_of(name: str) -> str:
    return (LITERATURE / name).read_text("utf-8")


def check_text(text: str, budget: float = 10.0):
    return check_derivation(loads(text, "variant.toml"), budget=budget)


def floats(counterexample, label: str) -> list[float]:
    return [float(Fraction(v)) for v in counterexample.value_of(label)]


def kl(a, b) -> float:
    return sum(ai * math.log(ai / bi) for ai, bi in zip(a, b))


def entropy(a) -> float:
    return -sum(ai * math.log(ai) for ai in a)


def mixture_file(start: str, rel: str, expr: str, rule: str = "algebra", params: str = "") -> str:
    return (f'title = "t"\nK = "any"\ndata = ["x1", "x2"]\nstart = "{start}"\n{params}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("text", [f"KL({AGGREGATE}, p(z))", f"E({AGGREGATE}, log(p(z)))", f"H({AGGREGATE})",
                                  "KL(q(z | x1) / 4 + 3 * q(z | x2) / 4, p(z))", f"KL(q(z | x1), {AGGREGATE})"])
def test_a_mixture_is_a_distribution_argument(text):
    e = parse_expression(text, TWO)
    derived = [a for a in e.args if is_derived(a) and not isinstance(a, Density)]
    assert derived and all(distribution_variables(d) == (z,) for d in derived)
    assert parse_expression(to_text(e), TWO) == e  # prints back in the file's notation


@pytest.mark.parametrize("text, weights", [("KL(q(z | x1) / 2 + q(z | x2) / 3, p(z))", "5/6"),
                                           ("H(q(z | x1) + q(z | x2))", "2"),
                                           ("E(3 * q(z | x1) / 4 + 3 * q(z | x2) / 4, log(p(z)))", "3/2")])
def test_number_weights_that_do_not_sum_to_1_are_refused_where_they_are_written(text, weights):
    with pytest.raises(ParseError) as info:
        parse_expression(text, TWO)
    assert "sum to 1" in info.value.message and f"= {weights}" in info.value.message
    assert info.value.column == text.index("(") + 1  # the argument's first character


def test_a_negative_weight_is_refused():
    with pytest.raises(ParseError) as info:
        parse_expression("KL(3 * q(z | x1) / 2 - q(z | x2) / 2, p(z))", TWO)
    assert "positive" in info.value.message and "-1/2" in info.value.message


def test_a_refused_mixture_in_a_file_is_exit_2_with_file_line_column(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(mixture_file("KL(q(z | x1) / 2 + q(z | x2) / 3, p(z))", ">=", "0", "kl-nonneg"), "utf-8")
    with pytest.raises(DerivationError):
        load(path)
    assert main(["check", "--no-cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"bad\.toml:4:\d+:", err) and "^" in err and "sum to 1" in err and "Traceback" not in err


@pytest.mark.parametrize("text", ["KL(q(z | x1) + E(q(z | x2), p(z)), p(z))", "KL(p(x1) * q(z | x1), p(z))"])
def test_only_densities_numbers_parameters_exp_and_sums_build_a_distribution(text):
    e = None
    try:
        e = parse_expression(text, TWO)
    except ParseError as error:
        assert "distribution" in error.message
    if e is not None:  # p(x1) * q(z | x1) parses; that it is no distribution is the checker's obligation
        result = check_text(mixture_file(text, ">=", "0", "kl-nonneg"))
        assert not result.ok and all(r.verdict is not Verdict.proved for r in result.steps)


def test_distribution_variables_of_a_product_are_both_layers():
    product = Density("q", (z1,), (Symbol("x"),)) * Density("q", (z2,), (Symbol("x"),))
    assert distribution_variables(product) == (z1, z2)
    assert distribution_variables(Density("q", (z,), (Symbol("x"),))) == (z,)


# ------------------------------------------------------------------ the obligation, at check time


def test_parameter_weights_shown_in_range_make_a_distribution():
    text = mixture_file("KL(w * q(z | x1) + (1 - w) * q(z | x2), p(z))", ">=", "0", "kl-nonneg",
                        '[params]\nw = "in (0, 1)"\n')
    result = check_text(text)
    assert result.ok and result.steps[0].verdict is Verdict.proved and not result.problems


@pytest.mark.full
def test_parameter_weights_that_can_leave_the_simplex_are_refused_with_an_instance(capsys, tmp_path):
    text = mixture_file("KL(w * q(z | x1) + (1 - w) * q(z | x2), p(z))", ">=", "0", "kl-nonneg",
                        '[params]\nw = "in (0, 2)"\n')
    result = check_text(text)
    assert not result.ok and result.steps[0].verdict is not Verdict.proved
    problem = next(p for p in result.problems if "is not a distribution" in p)
    # the instance it names makes the weight 1 - w negative: recompute the value it shows
    w = Fraction(re.search(r"w = (\d+/\d+)", problem).group(1))
    q1 = [Fraction(v) for v in re.search(r"q\(z \| x1\) = \(([^)]*)\)", problem).group(1).split(", ")]
    q2 = [Fraction(v) for v in re.search(r"q\(z \| x2\) = \(([^)]*)\)", problem).group(1).split(", ")]
    values = [w * a + (1 - w) * b for a, b in zip(q1, q2)]
    shown = Fraction(re.search(r"its value at z = \d+ is (-?\d+/\d+)", problem).group(1))
    assert shown in values and shown <= 0 and w > 1
    path = tmp_path / "w.toml"
    path.write_text(text, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 1
    assert not LEAKS.search(capsys.readouterr().out)


@pytest.mark.full
def test_a_positive_mixture_that_does_not_sum_to_1_never_proves_a_step():
    text = mixture_file("KL(w * q(z | x1) + w * q(z | x2), p(z))", "=", "KL(w * q(z | x1) + w * q(z | x2), p(z)) + 0",
                        params='[params]\nw = "in (0, 1)"\n')
    result = check_text(text)
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    problem = next(p for p in result.problems if "is not a distribution" in p)
    w = Fraction(re.search(r"w = (\d+/\d+)", problem).group(1))
    total = Fraction(re.search(r"it sums to (\d+/\d+), not 1", problem).group(1))
    assert total == 2 * w != 1  # each q sums to 1, so the mixture sums to 2w


def test_kl_nonneg_with_a_mixture_that_is_no_distribution_is_not_proved():
    # KL(m, p) of a positive m summing to 2w < 1 can be negative: never "proved >= 0"
    text = mixture_file("KL(w * q(z | x1) + w * q(z | x2), p(z))", ">=", "0", "kl-nonneg",
                        '[params]\nw = "in (0, 1/2)"\n')
    result = check_text(text)
    assert result.steps[0].verdict is not Verdict.proved and not result.ok


# ------------------------------------------------------------------ the reference evaluator


def test_the_reference_evaluator_evaluates_a_mixture_independently():
    spec = ModelSpec("discrete", "any", ("x1", "x2"))
    surgery = load(LITERATURE / "elbo-surgery.toml")
    opinion = second_opinion(surgery.start.expr, "=", surgery.steps[-1].expr, spec, "any")
    assert opinion.status == "agrees" and opinion.decided >= 3
    wrong = parse_expression(f"KL({AGGREGATE}, p(z)) / 2", TWO)  # half the last term: not the identity
    assert second_opinion(surgery.start.expr, "=", surgery.steps[-1].expr.args[0] + wrong, spec, "any").disagrees


def test_the_reference_evaluator_refuses_a_mixture_that_is_no_distribution():
    spec = ModelSpec("discrete", 2, ("x1", "x2"))
    q1, q2 = (Density("q", (z,), (Symbol(o),)) for o in ("x1", "x2"))
    not_one = KL(q1 * Rational(1, 2) + q2 * Rational(1, 3), Density("p", (z,)))
    opinion = second_opinion(not_one, ">=", Integer(0), spec, 2)
    assert opinion.disagrees and "sums to 5/6, not 1" in opinion.detail and not LEAKS.search(opinion.detail)


# ------------------------------------------------------------------ the literature files


@pytest.mark.parametrize("name", MIXTURE_FILES)
def test_the_mixture_files_are_proved_for_every_latent_space(name):
    derivation = load(LITERATURE / name)
    result = check_derivation(derivation)
    assert derivation.K == "any" and result.fully_proved and result.ok, \
        [(r.step.index, r.verdict, r.reason) for r in result.steps]
    assert all("agrees" in r.second_opinion for r in result.steps)


def refuted(text: str, index: int):
    result = check_text(text)
    step = result.steps[index - 1]
    assert step.verdict is Verdict.refuted and not result.ok, (step.verdict, step.reason)
    assert step.counterexample is not None
    return step.counterexample


def test_elbo_surgery_with_the_wrong_sign_of_the_information_term_is_refuted():
    text = text_of("elbo-surgery.toml")
    last = ('expr = "(KL(q(z | x1), (q(z | x1) + q(z | x2)) / 2) + KL(q(z | x2), (q(z | x1) + q(z | x2)) / 2)) / 2 '
            '+ KL((q(z | x1) + q(z | x2)) / 2, p(z))"')
    assert last in text
    text = text.replace(last, last.replace('expr = "(KL', 'expr = "-(KL'))
    c = refuted(text, 3)
    prior, q1, q2 = floats(c, "p(z)"), floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    information = (kl(q1, m) + kl(q2, m)) / 2
    assert math.isclose(c.lhs_value, (kl(q1, prior) + kl(q2, prior)) / 2, rel_tol=1e-9)
    assert math.isclose(c.rhs_value, -information + kl(m, prior), rel_tol=1e-9) and information > 0


def test_the_average_elbo_with_the_information_term_added_is_refuted():
    text = text_of("elbo-surgery-average-elbo.toml")
    wrong = text.replace("/ 2 - (KL(q(z | x1), (q(z | x1)", "/ 2 + (KL(q(z | x1), (q(z | x1)")
    assert wrong.count("/ 2 + (KL(q(z | x1), (q(z | x1)") == 2  # the claim and step 2
    c = refuted(wrong, 2)
    prior, q1, q2 = floats(c, "p(z)"), floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    like1, like2 = floats(c, "p(x1 | z)"), floats(c, "p(x2 | z)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    information = (kl(q1, m) + kl(q2, m)) / 2
    reconstruction = sum(sum(w * math.log(v) for w, v in zip(q, like)) for q, like in ((q1, like1), (q2, like2))) / 2
    assert math.isclose(c.rhs_value, reconstruction + information - kl(m, prior), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(c.rhs_value - c.lhs_value, 2 * information, rel_tol=1e-9) and information > 0


def test_elbo_surgery_with_wrong_mixture_weights_is_refused():
    text = text_of("elbo-surgery.toml").replace("(q(z | x1) + q(z | x2)) / 2", "(q(z | x1) + q(z | x2)) / 3")
    with pytest.raises(DerivationError) as info:
        loads(text, "surgery.toml")
    assert "sum to 1" in info.value.message and info.value.line is not None


def test_elbo_surgery_with_a_dropped_term_is_refuted():
    text = text_of("elbo-surgery.toml").replace(" + KL((q(z | x1) + q(z | x2)) / 2, p(z))\"", "\"")
    c = refuted(text, 3)
    prior, q1, q2 = floats(c, "p(z)"), floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    assert math.isclose(c.lhs_value - c.rhs_value, kl(m, prior), rel_tol=1e-9) and kl(m, prior) > 0


def test_the_rate_below_the_information_is_refuted():
    text = text_of("alemi-rate-aggregate.toml").replace('rel = ">="', 'rel = "<="')
    c = refuted(text, 2)
    prior, q1, q2 = floats(c, "p(z)"), floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    assert math.isclose(c.rhs_value, (kl(q1, m) + kl(q2, m)) / 2, rel_tol=1e-9)
    assert c.lhs_value > c.rhs_value and kl(m, prior) > 0


def test_the_rate_bound_with_a_mixture_that_reweights_the_data_is_not_the_information():
    # a KL to (q1 + 3 q2) / 4 instead of the aggregate posterior: step 1 is no identity
    text = text_of("alemi-rate-aggregate.toml")
    text = text.replace("KL((q(z | x1) + q(z | x2)) / 2, p(z))", "KL(q(z | x1) / 4 + 3 * q(z | x2) / 4, p(z))")
    c = refuted(text, 1)
    prior, q1, q2 = floats(c, "p(z)"), floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    r = [(a + 3 * b) / 4 for a, b in zip(q1, q2)]
    assert math.isclose(c.rhs_value, (kl(q1, m) + kl(q2, m)) / 2 + kl(r, prior), rel_tol=1e-9)
    assert not math.isclose(c.lhs_value, c.rhs_value, rel_tol=1e-9)


def test_beta_below_1_is_not_a_lower_bound():
    text = text_of("beta-vae.toml").replace('beta = ">= 1"', 'beta = "in (0, 1)"').replace('beta = "4"', 'beta = "1/2"')
    c = refuted(text, 4)
    prior, like, q = floats(c, "p(z)"), floats(c, "p(x | z)"), floats(c, "q(z)")
    beta = float(Fraction(c.value_of("beta")[0]))
    reconstruction = sum(w * math.log(v) for w, v in zip(q, like))
    assert beta < 1 and math.isclose(c.rhs_value, reconstruction - beta * kl(q, prior), rel_tol=1e-9)
    assert c.lhs_value < c.rhs_value  # the beta-objective exceeds the ELBO


def test_beta_vae_with_the_kl_term_dropped_is_refuted():
    text = text_of("beta-vae.toml").replace('expr = "E(q, log(p(x | z))) - KL(q(z), p(z))"',
                                            'expr = "E(q, log(p(x | z)))"')
    c = refuted(text, 3)
    prior, like, q = floats(c, "p(z)"), floats(c, "p(x | z)"), floats(c, "q(z)")
    assert math.isclose(c.rhs_value, sum(w * math.log(v) for w, v in zip(q, like)), rel_tol=1e-9)
    assert math.isclose(c.rhs_value - c.lhs_value, kl(q, prior), rel_tol=1e-9)


def test_the_mixture_entropy_bound_the_wrong_way_is_refuted():
    text = text_of("mixture-entropy.toml").replace('rel = ">="', 'rel = "<="')
    c = refuted(text, 2)
    q1, q2 = floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    m = [(a + b) / 2 for a, b in zip(q1, q2)]
    assert math.isclose(c.lhs_value, entropy(m), rel_tol=1e-9)
    assert math.isclose(c.rhs_value, (entropy(q1) + entropy(q2)) / 2, rel_tol=1e-9) and c.lhs_value > c.rhs_value


# ------------------------------------------------------------------ products (a mean-field q) in the chain


CHAIN = 'title = "t"\nlatents = ["z1", "z2"]\nK = 2\n'
PRODUCT = "q(z1 | x) * q(z2 | x)"


def chain_step(start: str, rel: str, expr: str, rule: str):
    text = CHAIN + f'start = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'
    return check_text(text)


@pytest.mark.parametrize("start, rel, expr, rule", [
    (f"H({PRODUCT})", "=", "H(q(z1 | x)) + H(q(z2 | x))", "algebra"),
    (f"KL({PRODUCT}, p(z1, z2 | x))", ">=", "0", "kl-nonneg"),
    (f"log(p(x)) - ELBO({PRODUCT})", "=", f"KL({PRODUCT}, p(z1, z2 | x))", "bayes"),
])
def test_a_product_of_the_two_marginals_is_a_distribution_over_both_layers(start, rel, expr, rule):
    result = chain_step(start, rel, expr, rule)
    assert result.ok and result.steps[0].verdict is Verdict.proved and "agrees" in result.steps[0].second_opinion


@pytest.mark.full
def test_a_product_that_is_no_distribution_never_proves_a_step():
    # q(z1 | x) p(z1 | z2) sums over (z1, z2) to sum_j q(z1 = j) sum_k p(z1 = j | z2 = k), not 1
    product = "q(z1 | x) * p(z1 | z2)"
    result = chain_step(f"E({product}, log(p(x, z1, z2)))", "=", f"E({product}, log(p(x, z1, z2))) + 0", "algebra")
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    problem = next(p for p in result.problems if "is not a distribution" in p)
    total = Fraction(re.search(r"it sums to (\d+/\d+), not 1", problem).group(1))
    prior = [Fraction(v) for v in re.search(r"p\(z2\) = \(([^)]*)\)", problem).group(1).split(", ")]
    assert total != 1 and len(prior) == 2 and not LEAKS.search(problem)


def test_kl_of_a_product_that_is_no_distribution_is_refuted_where_it_is_negative():
    # (q(z1 | x) * p(z1 | z2) alone is over z1 with z2 free: a product is over what its densities are over)
    result = chain_step("KL(q(z1 | x) * p(z1 | z2) * p(z2), p(z1, z2 | x))", ">=", "0", "kl-nonneg")
    step = result.steps[0]
    assert step.verdict is Verdict.refuted and step.counterexample is not None
    assert step.counterexample.lhs_value < step.counterexample.rhs_value == 0


def test_the_mean_field_file_without_an_entropy_is_refuted():
    text = (LITERATURE / "mean-field-product.toml").read_text("utf-8")
    text = text.replace('expr = "E(q(z1 | x) * q(z2 | x), log(p(x, z1, z2))) + H(q(z1 | x)) + H(q(z2 | x))"',
                        'expr = "E(q(z1 | x) * q(z2 | x), log(p(x, z1, z2))) + H(q(z1 | x))"')
    c = refuted(text, 4)
    q1 = floats(c, "q(z1 | x)")
    q2 = [sum(q1[j] * float(Fraction(c.value_of(f"q(z2 | z1 = {j})")[k])) for j in range(2)) for k in range(2)]
    assert math.isclose(c.lhs_value - c.rhs_value, entropy(q2), rel_tol=1e-9) and entropy(q2) > 0


def test_the_mean_field_file_is_proved_for_every_two_layer_chain():
    result = check_derivation(load(LITERATURE / "mean-field-product.toml"))
    assert result.fully_proved and result.ok and "every two-layer chain" in load(
        LITERATURE / "mean-field-product.toml").model().describe()


# ------------------------------------------------------------------ normalised exp (softmax)


SOFTMAX = "exp(log(p(x, z))) / Sum(exp(log(p(x, z))), z)"
TEMPERED = "exp(t * log(p(x | z))) * p(z) / Sum(exp(t * log(p(x | z))) * p(z), z)"


@pytest.mark.parametrize("name", ["softmax-posterior.toml", "tempered-posterior.toml"])
def test_the_softmax_files_are_proved_for_every_latent_space(name):
    derivation = load(LITERATURE / name)
    result = check_derivation(derivation)
    assert derivation.K == "any" and result.fully_proved and result.ok
    assert all("agrees" in r.second_opinion for r in result.steps)


def test_a_softmax_that_is_not_normalised_is_no_distribution():
    text = 'title = "t"\nK = "any"\nstart = "KL(exp(log(p(x, z))), p(z | x))"\n[[step]]\nrel = ">="\nexpr = "0"\n' \
           'rule = "kl-nonneg"\n'
    result = check_text(text)
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    problem = next(p for p in result.problems if "is not a distribution" in p)
    # exp(log p(x, z)) = p(x, z) sums to p(x) = sum_z p(z) p(x | z): recompute it from the instance shown
    prior = [Fraction(v) for v in re.search(r"p\(z\) = \(([^)]*)\)", problem).group(1).split(", ")]
    like = [Fraction(v) for v in re.search(r"p\(x \| z\) = \(([^)]*)\)", problem).group(1).split(", ")]
    total = Fraction(re.search(r"it sums to (\d+/\d+), not 1", problem).group(1))
    assert total == sum(a * b for a, b in zip(prior, like)) != 1


def test_the_softmax_file_with_the_prior_instead_of_the_posterior_is_refuted():
    text = (LITERATURE / "softmax-posterior.toml").read_text("utf-8").replace("z), p(z | x))", "z), p(z))")
    c = refuted(text, 1)
    prior, like = floats(c, "p(z)"), floats(c, "p(x | z)")
    evidence = sum(a * b for a, b in zip(prior, like))
    posterior = [a * b / evidence for a, b in zip(prior, like)]
    assert math.isclose(c.rhs_value, math.log(evidence) - kl(posterior, prior), rel_tol=1e-9)
    assert math.isclose(c.lhs_value, math.log(evidence), rel_tol=1e-9)


@pytest.mark.parametrize("domain, proved", [(">= 0", True), ("in (0, 1)", True), ("real", False), ("< 0", False)])
def test_a_tempered_posterior_is_a_distribution_only_for_a_temperature_shown_nonnegative(domain, proved):
    """exp(t log l) p(z) / normaliser: for a finite K a distribution at every real t, but for
    densities the normaliser is infinite at some t < 0 (Gaussian: 1/N(x; wz + b, s**2) grows like
    exp(z**2)): with K = "any" the step is proved only where t >= 0 on t's whole domain (rt3 F6)."""
    text = (f'title = "t"\nK = "any"\nstart = "KL({TEMPERED}, p(z))"\n[[step]]\nrel = ">="\nexpr = "0"\n'
            f'rule = "kl-nonneg"\n[params]\nt = "{domain}"\n')
    result = check_text(text)
    assert (result.ok and result.steps[0].verdict is Verdict.proved) is proved
    if not proved:
        assert result.steps[0].verdict is Verdict.error and "power not shown >= 0" in result.steps[0].reason
        assert check_text(text.replace('K = "any"', "K = 3")).steps[0].verdict is Verdict.proved


@pytest.mark.parametrize("start, expr, rule, sum_text", [
    ("E(q(z)**t / Sum(q(z)**t, z), 1)", "1", "algebra", "Sum(q(z)**t, z)"),  # Sum(1, z) at t = 0
    ("KL(q(z)**t / Sum(q(z)**t, z), p(z))", "0", "kl-nonneg", "Sum(q(z)**t, z)"),
    ("KL(exp(t * q(z)) / Sum(exp(t * q(z)), z), p(z))", "0", "kl-nonneg", "Sum(exp(t*q(z)), z)"),
    ("KL(exp(t * log(q(z))) / Sum(exp(t * log(q(z))), z), p(z))", "0", "kl-nonneg", "Sum(exp(t*log(q(z))), z)"),
    ("H(exp(q(z)) / Sum(exp(q(z)), z))", "log(Sum(exp(q(z)), z)) - E(exp(q(z)) / Sum(exp(q(z)), z), q(z))",
     "algebra", "Sum(exp(q(z)), z)"),  # >= Sum(1, z): infinite for every density
    ("Sum(p(x | z), z)", "Sum(p(x | z), z)", "algebra", "Sum(p(x | z), z)"),  # no density of z in it
    ("Sum(log(q(z)), z)", "Sum(log(q(z)), z)", "algebra", "Sum(log(q(z)), z)"),  # -infinite for densities
])
def test_a_sum_with_no_density_of_z_in_a_term_is_never_proved_for_every_latent_space(start, expr, rule, sum_text):
    rel = ">=" if rule == "kl-nonneg" else "="
    text = f'title = "t"\nK = "any"\nstart = "{start}"\n[params]\nt = "real"\n[[step]]\nrel = "{rel}"\n' \
           f'expr = "{expr}"\nrule = "{rule}"\n'
    result = check_text(text)
    assert result.steps[0].verdict is Verdict.error and not result.ok
    message = result.steps[0].reason
    assert f"{sum_text} has no meaning for every latent space" in message and not LEAKS.search(message)
    assert "_z" not in message
    explicit = check_text(text.replace('K = "any"', "K = 3"))  # for an explicit K the sum has a meaning
    assert explicit.steps[0].verdict is not Verdict.error


# q(z)**(1 - t) * p(z)**t for real t and q(z)**2 * p(x | z) are refused now (tests/test_integrability.py)
@pytest.mark.parametrize("summand", ["p(x, z)**2 / q(z)", "exp(t * log(p(x | z))) * p(z)",
                                     "exp(log(p(x, z)))", "q(z) * log(q(z)) + p(z | x)"])
def test_a_sum_of_degree_at_least_1_in_the_densities_of_z_is_meaningful(summand):
    # t >= 0: a tempered likelihood is admitted only to a power shown >= 0 (rt3 F6)
    text = f'title = "t"\nK = "any"\nstart = "Sum({summand}, z)"\n[params]\nt = ">= 0"\n[[step]]\nrel = "="\n' \
           f'expr = "Sum({summand}, z) + 0"\nrule = "algebra"\n'
    assert check_text(text).steps[0].verdict is Verdict.proved


# ------------------------------------------------------------------ the mean-field update (Bishop eq. 10.9)


UPDATE = "exp(E(q(z2 | x), log(p(x, z1, z2)))) / Sum(exp(E(q(z2 | x), log(p(x, z1, z2)))), z1)"


@pytest.mark.full
def test_the_mean_field_update_is_proved_and_the_reference_agrees():
    derivation = load(LITERATURE / "mean-field-update.toml")
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok
    assert all("agrees" in r.second_opinion for r in result.steps)


@pytest.mark.full
def test_the_mean_field_update_the_wrong_way_is_refuted():
    text = (LITERATURE / "mean-field-update.toml").read_text("utf-8").replace('rel = "<="', 'rel = ">="')
    c = refuted(text, 2)
    assert c.lhs_value < c.rhs_value  # minus a KL divergence > 0 at the instance


@pytest.mark.full
def test_the_mean_field_update_with_the_entropy_of_q2_dropped_is_refuted():
    text = (LITERATURE / "mean-field-update.toml").read_text("utf-8")
    step = '- KL(q(z1 | x), ' + UPDATE + ') + H(q(z2 | x))"'
    assert step in text
    c = refuted(text.replace(step, '- KL(q(z1 | x), ' + UPDATE + ')"'), 1)
    q1 = floats(c, "q(z1 | x)")
    q2 = [sum(q1[j] * float(Fraction(c.value_of(f"q(z2 | z1 = {j})")[k])) for j in range(2)) for k in range(2)]
    assert math.isclose(c.lhs_value - c.rhs_value, entropy(q2), rel_tol=1e-9) and entropy(q2) > 0


@pytest.mark.full
def test_an_update_without_its_normaliser_is_no_distribution():
    unnormalised = "exp(E(q(z2 | x), log(p(x, z1, z2))))"
    result = chain_step(f"KL(q(z1 | x), {unnormalised})", ">=", "0", "kl-nonneg")
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    assert any("is not a distribution" in p for p in result.problems)


def test_other_binders_inside_a_derived_distribution_are_refused():
    with pytest.raises(ParseError) as info:
        parse_expression("KL(q(z1 | x) * exp(KL(q(z2 | x), p(z2))), p(z1))", Vocabulary(latents=("z1", "z2")))
    assert "no KL, H, ELBO" in info.value.message
    with pytest.raises(ParseError):  # one latent: E inside a derived distribution has nothing to leave free
        parse_expression(f"KL({AGGREGATE} * exp(E(q(z | x1), log(p(z)))), p(z))", TWO)


# ------------------------------------------------------------------ IWAE with a mixture as its q


@pytest.mark.parametrize("start, rel, expr, rule, proved", [
    ("log(p(x1))", ">=", f"IWAE({AGGREGATE}, 2, x1)", "jensen", True),
    (f"IWAE({AGGREGATE}, 2, x1)", ">=", f"ELBO({AGGREGATE}, x1)", "jensen", True),
    (f"IWAE({AGGREGATE}, 2, x1)", "<=", f"ELBO({AGGREGATE}, x1)", "jensen", False),
])
def test_iwae_draws_from_a_mixture(start, rel, expr, rule, proved):
    text = f'title = "t"\nK = 2\ndata = ["x1", "x2"]\nstart = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\n' \
           f'rule = "{rule}"\n'
    step = check_text(text).steps[0]
    assert (step.verdict is Verdict.proved) is proved
    if proved:
        assert "agrees" in step.second_opinion
    else:  # the ELBO is below the IWAE bound: an instance where it is strictly below
        assert step.verdict is Verdict.refuted and step.counterexample.lhs_value > step.counterexample.rhs_value

"""Deeper chains (issue 17, item 6): the two-layer chain for every latent space per layer
(``K = "any"``, elbo_sym.engine.models.chain_general), DDPM's Appendix A split.

Every proved file is also judged by the chain's reference evaluator (tables at several K);
every wrong variant is refuted, and its counterexample is re-evaluated here with plain floats
from the printed tables, independently of the checker.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from sympy import Symbol

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import load, loads
from elbo_sym.engine.models import GeneralChainModel, ModelSpec, build
from elbo_sym.engine.models.chain import ChainModel
from elbo_sym.engine.notation import z1, z2
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.engine.reference import second_opinion

ROOT = Path(__file__).resolve().parent.parent / "derivations"
VARIANTS = ROOT / "variants"
LITERATURE = ROOT / "literature"
LAYERED = Vocabulary(latents=("z1", "z2"))
HIERARCHICAL = ("hierarchical-bound.toml", "hierarchical-decomposition.toml", "hierarchical-gap.toml")
APPENDIX_A_2 = LITERATURE / "ddpm-appendix-a-two-layers.toml"


def any_k(text: str) -> str:
    return text.replace("\nK = 2\n", '\nK = "any"\n')


def check_text(text: str, name: str = "chain.toml"):
    return check_derivation(loads(text, name), budget=20.0)


# ------------------------------------------------------------------ floats, from a counterexample


class Tables:
    """A two-layer chain's tables as floats, read from a counterexample's printed values."""

    def __init__(self, c) -> None:
        def floats(label):
            return [float(Fraction(v)) for v in c.value_of(label)]
        self.prior = floats("p(z2)")
        self.K = len(self.prior)
        self.t = [floats(f"p(z1 | z2 = {k})") for k in range(self.K)]  # t[k][j]
        self.lik = floats("p(x | z1)")
        self.q1 = floats("q(z1 | x)")
        self.q2 = [floats(f"q(z2 | z1 = {j})") for j in range(self.K)]  # q2[j][k]

    def pairs(self):
        return [(j, k) for j in range(self.K) for k in range(self.K)]

    def q(self, j, k):
        return self.q1[j] * self.q2[j][k]

    def q_top(self, k):
        return sum(self.q(j, k) for j in range(self.K))

    def elbo(self):
        return sum(self.q(j, k) * math.log(self.prior[k] * self.t[k][j] * self.lik[j] / self.q(j, k))
                   for j, k in self.pairs())

    def reconstruction(self):
        return sum(self.q1[j] * math.log(self.lik[j]) for j in range(self.K))

    def prior_matching(self):
        return sum(self.q_top(k) * math.log(self.q_top(k) / self.prior[k]) for k in range(self.K))

    def denoising(self):
        return sum(self.q(j, k) * math.log(self.q(j, k) / self.q_top(k) / self.t[k][j]) for j, k in self.pairs())


# ------------------------------------------------------------------ the general chain


def test_k_any_builds_the_general_chain_and_says_what_it_proves():
    model = build(ModelSpec("chain", "any"))
    assert isinstance(model, GeneralChainModel)
    assert model.describe().startswith("every two-layer chain (any latent space per layer")
    assert all(isinstance(m, ChainModel) for m in model.search_models())
    assert [m.K for m in model.search_models()] == [2, 3, 5]


@pytest.mark.parametrize("text, expected", [
    ("Sum(Sum(p(x, z1, z2), z1), z2)", "p_x"),
    ("Sum(Sum(p(x, z1, z2), z2), z1)", "p_x"),
    ("Sum(p(z2) * p(z1 | z2), z2)", "m_z1"),
    ("Sum(q(z1 | x) * q(z2 | z1), z1)", "s_z2"),
    ("Sum(p(z1 | z2) * p(x | z1), z1)", "u_z2"),
    ("E(q(z1, z2 | x), 1)", "1"),
    ("E(q(z2 | x), E(q(z1 | z2, x), 1))", "1"),
])
def test_the_laws_of_sums_over_a_layer(text, expected):
    model = GeneralChainModel(ModelSpec("chain", "any"))
    e = parse_expression(text, LAYERED)
    point = "z1, z2" if e.free_symbols & {z1, z2} and not text.startswith(("E", "Sum(Sum")) else None
    value = model.unfold(e, point)
    assert value == (Symbol(expected, positive=True) if expected != "1" else 1)


def test_a_nested_expectation_is_the_same_sum_as_over_both_layers():
    model = GeneralChainModel(ModelSpec("chain", "any"))
    nested = parse_expression("E(q(z2 | x), E(q(z1 | z2, x), log(p(z1 | z2))))", LAYERED)
    joint = parse_expression("E(q(z1, z2 | x), log(p(z1 | z2)))", LAYERED)
    assert model.unfold(nested) == model.unfold(joint)
    assert model.unfold(nested).name.startswith("Sum[z1, z2; ")


def test_a_sum_over_a_layer_without_its_density_is_refused_for_every_latent_space():
    text = ('title = "t"\nlatents = ["z1", "z2"]\nK = "any"\nstart = "Sum(q(z1 | x), z2)"\n\n[[step]]\nrel = "="\n'
            'expr = "Sum(q(z1 | x), z2)"\nrule = "algebra"\n')
    (step,) = check_text(text).steps
    assert step.verdict is Verdict.error and "no meaning for every latent space" in step.reason


@pytest.mark.parametrize("name", HIERARCHICAL)
def test_the_hierarchical_variants_hold_for_every_latent_space(name):
    result = check_text(any_k((VARIANTS / name).read_text("utf-8")), name)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert all("agrees" in s.second_opinion for s in result.steps), [s.second_opinion for s in result.steps]


@pytest.mark.parametrize("path", sorted(LITERATURE.glob("ddpm-*.toml")), ids=lambda p: p.name)
def test_every_ddpm_file_is_proved_for_every_latent_space(path):
    derivation = load(path)
    result = check_derivation(derivation)
    assert derivation.K == "any" or derivation.model().describe().startswith("every")
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert "Ho, Jain and Abbeel" in derivation.summary and "(2020)" in derivation.summary


def test_the_reference_evaluator_judges_a_general_chain_at_several_k():
    spec = ModelSpec("chain", "any")
    lhs = parse_expression("-ELBO(q)", LAYERED)
    rhs = parse_expression("KL(q(z2 | x), p(z2)) + E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2))) "
                           "- E(q(z1 | x), log(p(x | z1)))", LAYERED)
    good = second_opinion(lhs, "=", rhs, spec, "any")
    assert good.status == "agrees" and good.decided >= 6
    bad = second_opinion(lhs, "=", rhs + parse_expression("1/10**9", LAYERED), spec, "any")
    assert bad.status == "disagrees"


# ------------------------------------------------------------------ wrong variants of Appendix A


APPENDIX_CLAIM = ("KL(q(z2 | x), p(z2)) + E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2))) "
                  "- E(q(z1 | x), log(p(x | z1)))")


def last_step_variant(expr: str, rel: str = "=") -> str:
    """Appendix A for two steps with its last step (and claim) replaced."""
    text = APPENDIX_A_2.read_text("utf-8").replace(f'claim = "-ELBO(q) = {APPENDIX_CLAIM}"\n', "")
    head, _, _ = text.rpartition("[[step]]")
    return head + f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "bayes"\nwhy = "wrong"\n'


def test_appendix_a_with_the_denoising_term_s_sign_flipped_is_refuted():
    wrong = APPENDIX_CLAIM.replace("+ E(q(z2 | x), KL", "- E(q(z2 | x), KL")
    result = check_text(last_step_variant(wrong))
    step = result.steps[-1]
    assert step.verdict is Verdict.refuted and not result.ok
    c = Tables(step.counterexample)
    assert math.isclose(c.elbo(), -step.counterexample.lhs_value, rel_tol=1e-9)
    wrong_value = c.prior_matching() - c.denoising() - c.reconstruction()
    assert math.isclose(step.counterexample.rhs_value, wrong_value, rel_tol=1e-9, abs_tol=1e-12)
    assert not math.isclose(-c.elbo(), wrong_value, rel_tol=1e-9)  # the denoising KL is > 0 there


def test_appendix_a_with_the_reconstruction_term_dropped_is_refuted():
    wrong = APPENDIX_CLAIM.replace(" - E(q(z1 | x), log(p(x | z1)))", "")
    step = check_text(last_step_variant(wrong)).steps[-1]
    assert step.verdict is Verdict.refuted
    c = Tables(step.counterexample)
    # what was dropped is -E_q(z1 | x)[log p(x | z1)]: the sides differ by exactly that
    assert math.isclose(step.counterexample.lhs_value - step.counterexample.rhs_value, -c.reconstruction(),
                        rel_tol=1e-9)
    assert c.reconstruction() < 0


def test_appendix_a_as_an_inequality_in_the_wrong_direction_is_refuted():
    text = ('title = "t"\nlatents = ["z1", "z2"]\nK = "any"\nstart = "-log(p(x))"\n\n[[step]]\nrel = ">="\n'
            f'expr = "{APPENDIX_CLAIM}"\nrule = "jensen"\n')
    step = check_text(text).steps[-1]
    assert step.verdict is Verdict.refuted
    c = Tables(step.counterexample)
    evidence = sum(c.prior[k] * c.t[k][j] * c.lik[j] for j, k in c.pairs())
    assert math.isclose(step.counterexample.lhs_value, -math.log(evidence), rel_tol=1e-9)
    assert step.counterexample.lhs_value < step.counterexample.rhs_value  # the bound is an upper bound
    assert math.isclose(step.counterexample.rhs_value, -c.elbo(), rel_tol=1e-9)


def test_a_kl_against_a_marginal_of_the_other_layer_is_no_kl_and_is_refuted():
    """The wrong premise: p(z1) is no distribution over the pairs (z1, z2), so this 'KL' can be < 0."""
    text = ('title = "t"\nlatents = ["z1", "z2"]\nK = "any"\nstart = "KL(q(z1, z2 | x), p(z1))"\n\n[[step]]\n'
            'rel = ">="\nexpr = "0"\nrule = "kl-nonneg"\n')
    step = check_text(text).steps[-1]
    assert step.verdict is Verdict.refuted
    c = Tables(step.counterexample)
    marginal = [sum(c.prior[k] * c.t[k][j] for k in range(c.K)) for j in range(c.K)]
    value = sum(c.q(j, k) * math.log(c.q(j, k) / marginal[j]) for j, k in c.pairs())
    assert value < 0 and math.isclose(step.counterexample.lhs_value, value, rel_tol=1e-9)

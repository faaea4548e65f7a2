"""Derived distributions in the general chain (K = "any", issue 17 item 3): mean-field products
and mixtures as arguments of E, KL, H and ELBO, each with its obligation to be a distribution
(positive, summing to 1 over its own layers), proved once for every latent space per layer.

Wrong variants are refuted in the explicit chains the general one is searched in, and each
counterexample is recomputed here from its printed values with plain floats.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
MEAN_FIELD = LITERATURE / "mean-field-product.toml"
HEAD = 'title = "t"\nlatents = ["z1", "z2"]\nK = "any"\n'


def check_text(text: str):
    return check_derivation(loads(text, "variant.toml"), budget=10.0)


def one_step(start: str, rel: str, expr: str, rule: str) -> str:
    return HEAD + f'start = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'


def rows(c) -> dict[str, list[list[float]]]:
    """The printed blocks of a two-layer counterexample: label -> rows of floats."""
    out: dict[str, list[list[float]]] = {}
    for label, values in c.values:
        name = re.sub(r" = \d+\)", ")", label)
        out.setdefault(name, []).append([float(Fraction(v)) for v in values])
    return out


def test_the_mean_field_product_file_is_proved_for_every_latent_space():
    text = MEAN_FIELD.read_text("utf-8")
    assert 'K = "any"' in text
    result = check_text(text)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert all("agrees" in s.second_opinion for s in result.steps)
    assert "q(z1 | x)*q(z2 | x)" in result.steps[1].reason  # the product is Jensen's weights


def test_the_mean_field_elbo_with_an_entropy_dropped_is_refuted():
    text = MEAN_FIELD.read_text("utf-8").replace("claim =", "# claim =")
    full = 'expr = "E(q(z1 | x) * q(z2 | x), log(p(x, z1, z2))) + H(q(z1 | x)) + H(q(z2 | x))"'
    assert text.count(full) == 1
    result = check_text(text.replace(full, full.replace(" + H(q(z2 | x))", "")))
    step = result.steps[3]
    assert step.verdict is Verdict.refuted and not result.ok
    c = step.counterexample
    r = rows(c)
    q1 = r["q(z1 | x)"][0]
    q2_given = r["q(z2 | z1)"]  # q(z2 | z1 = 0), q(z2 | z1 = 1)
    q2 = [sum(q1[i] * q2_given[i][j] for i in range(2)) for j in range(2)]  # the marginal q(z2 | x)
    entropy = -sum(v * math.log(v) for v in q2)
    assert entropy > 0 and math.isclose(c.lhs_value - c.rhs_value, entropy, rel_tol=1e-6)


@pytest.mark.parametrize("mixture", ["(q(z1 | x) + p(z1)) / 2", "q(z1 | x) / 3 + 2 * p(z1) / 3"])
def test_a_mixture_over_one_layer_is_a_distribution_for_every_latent_space(mixture):
    result = check_text(one_step(f"KL({mixture}, p(z1))", ">=", "0", "kl-nonneg"))
    assert result.fully_proved and result.ok, result.steps[0].reason
    result = check_text(one_step(f"E({mixture}, 1)", "=", "1", "algebra"))
    assert result.fully_proved


@pytest.mark.full
@pytest.mark.parametrize("derived, params", [
    ("w * q(z1 | x) + (1 - w) * p(z1)", '\n[params]\nw = "in (0, 2)"\n'),  # 1 - w < 0 for some w
    ("q(z1 | x) * p(z1)", ""),  # positive, but does not sum to 1 over z1
])
def test_an_argument_that_is_no_distribution_is_not_proved(derived, params):
    result = check_text(one_step(f"KL({derived}, p(z1))", ">=", "0", "kl-nonneg") + params)
    assert not result.ok and result.steps[0].verdict is not Verdict.proved
    assert "is not" in " ".join(result.problems + (result.steps[0].reason,))


@pytest.mark.full
def test_the_entropy_of_a_product_is_the_sum_of_the_entropies():
    text = one_step("H(q(z1 | x) * q(z2 | x))", "=", "H(q(z1 | x)) + H(q(z2 | x))", "algebra")
    assert check_text(text).fully_proved
    wrong = check_text(one_step("H(q(z1 | x) * q(z2 | x))", "=", "H(q(z1 | x))", "algebra"))
    assert wrong.steps[0].verdict is Verdict.refuted


def test_a_product_conditioned_on_an_outer_layer_is_refused_with_k_any():
    """q(z2 | z1) * q(z3 | z2) is over z2, z3 given z1: read as a distribution with K = "any" it
    would bind z1 again inside E(q(z1 | x), ...); it is refused, never guessed."""
    text = ('title = "t"\nlatents = ["z1", "z2", "z3"]\nK = "any"\n'
            'start = "E(q(z1 | x), H(q(z2 | z1) * q(z3 | z2)))"\n[[step]]\nrel = "="\n'
            'expr = "E(q(z1 | x), H(q(z2, z3 | z1)))"\nrule = "algebra"\n')
    result = check_text(text)
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    assert "conditioned on z1" in " ".join(result.problems + (result.steps[0].reason,))


@pytest.mark.full
def test_a_mixture_conditioned_on_an_outer_layer_is_told_to_take_an_explicit_k():
    """The refusal of a mixture given z1 (red team round 7) suggests what the author can do: an
    explicit K (which reads it per value of z1), never "the joint density q(z2 | z1)", the very
    density the mixture already has; a product of q's is told its joint density, which then checks."""
    mixture = ('title = "t"\nlatents = ["z1", "z2"]\nK = "any"\n'
               'start = "E(q(z1 | x), KL(w * q(z2 | z1) + (1 - w) * p(z2 | z1), p(z2 | z1)))"\n'
               '[params]\nw = "in (0, 1)"\n[[step]]\nrel = ">="\nexpr = "0"\nrule = "kl-nonneg"\n')
    result = check_text(mixture)
    said = " ".join(result.problems + (result.steps[0].reason,))
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    assert "give an explicit K" in said and "joint density" not in said, said
    explicit = check_text(mixture.replace('K = "any"', "K = 2"))
    assert "conditioned on z1" not in " ".join(explicit.problems + (explicit.steps[0].reason,))
    product = ('title = "t"\nlatents = ["z1", "z2", "z3"]\nK = "any"\n'
               'start = "E(q(z1 | x), KL(q(z2 | z1) * q(z3 | z2), p(z2 | z1) * p(z3 | z2)))"\n[[step]]\n'
               'rel = ">="\nexpr = "0"\nrule = "kl-nonneg"\n')
    said = " ".join(check_text(product).problems)
    assert "write the joint density q(z2, z3 | z1)" in said, said
    joint = product.replace("q(z2 | z1) * q(z3 | z2), p(z2 | z1) * p(z3 | z2)", "q(z2, z3 | z1), q(z2, z3 | z1)")
    assert check_text(joint.replace('rel = ">="\nexpr = "0"\nrule = "kl-nonneg"',
                                    'rel = "="\nexpr = "0"\nrule = "algebra"')).fully_proved

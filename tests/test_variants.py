"""Beyond the lesson: K = "any", [params] and several observations (derivations/variants/).

Every variant file is proved for every latent space; the wrong versions an author might
write are refuted with exact counterexamples that name the parameter values.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.report.build import counterexample_report

VARIANTS = Path(__file__).resolve().parent.parent / "derivations" / "variants"
LESSON = VARIANTS.parent


@pytest.mark.parametrize("path", sorted(VARIANTS.glob("*.toml")) + sorted(LESSON.glob("*.toml")),
                         ids=lambda p: p.name)
def test_every_variant_and_lesson_file_is_proved_for_every_latent_space(path):
    derivation = load(path)
    result = check_derivation(derivation)
    assert result.fully_proved, [(r.step.index, r.verdict, r.reason) for r in result.steps]
    if path.name.startswith("iwae-"):  # k draws of z: unfolded over the K**k tuples of an explicit K
        assert isinstance(derivation.K, int)
        return
    if derivation.family != "discrete":  # other families say what `proved` covers themselves
        assert "every" in derivation.model().describe()
        return
    if path.name.startswith("hierarchical-"):  # two latent layers: an explicit K states per layer
        assert isinstance(derivation.K, int) and derivation.family == "chain"
        return
    assert derivation.K == "any"
    assert derivation.model().describe() == "every latent space (any finite K, or densities)"


@pytest.mark.full
def test_the_variants_folder_exits_0(capsys):
    assert main(["check", "--no-cache", str(VARIANTS)]) == 0
    assert "0 refuted" in capsys.readouterr().out


BETA = (VARIANTS / "beta-elbo.toml").read_text("utf-8")


@pytest.mark.full
@pytest.mark.parametrize("condition", ["in (0, 1)", "> 1/2", "real", "<= 1"])
def test_the_beta_bound_below_1_is_refuted_naming_beta(condition):
    result = check_derivation(loads(BETA.replace('">= 1"', f'"{condition}"'), "beta.toml"))
    (step,) = result.steps
    assert step.verdict is Verdict.refuted
    beta = Fraction(step.counterexample.value_of("beta")[0])
    assert beta < 1  # the bound fails exactly where beta < 1
    assert f"beta = {beta}" in counterexample_report(step.counterexample).describe()


def test_the_beta_bound_is_proved_through_a_combination_of_kl_terms():
    (step,) = check_derivation(loads(BETA, "beta.toml")).steps
    assert step.verdict is Verdict.proved
    assert "(-1 + beta) * KL(q(z), p(z))" in step.reason and "KL(q(z), p(z | x))" in step.reason


DATASET = (VARIANTS / "dataset.toml").read_text("utf-8")


def test_the_dataset_gap_with_one_kl_missing_is_refuted():
    text = DATASET.replace('expr = "KL(q(z | x1), p(z | x1)) + KL(q(z | x2), p(z | x2))"',
                           'expr = "KL(q(z | x1), p(z | x1))"')
    result = check_derivation(loads(text, "dataset.toml"))
    assert result.steps[0].verdict is Verdict.refuted and not result.ok
    assert result.steps[0].counterexample.value_of("p(x2 | z)") is not None


def test_the_dataset_gap_against_the_wrong_posterior_is_refuted():
    text = DATASET.replace("KL(q(z | x2), p(z | x2))", "KL(q(z | x2), p(z | x1))")
    assert check_derivation(loads(text, "dataset.toml")).steps[0].verdict is Verdict.refuted


def test_a_statement_true_only_for_two_states_is_refuted_under_K_any():
    text = ('title = "t"\nK = "any"\nstart = "H(q)"\n[[step]]\nrel = "<="\nexpr = "log(2)"\nrule = "algebra"\n')
    (step,) = check_derivation(loads(text, "t.toml")).steps
    assert step.verdict is Verdict.refuted
    assert len(step.counterexample.q) > 2 and "K = " in step.counterexample.source
    binary = text.replace('K = "any"', "K = 2")
    assert check_derivation(loads(binary, "t.toml")).steps[0].verdict is Verdict.checked


def test_laws_that_hold_only_for_finite_K_are_not_proved_for_every_latent_space():
    # 1 - q(z) > 0 needs K >= 2 finite (a density can exceed 1): not proved, never refuted
    text = ('title = "t"\nK = "any"\nstart = "Sum(q(z) * log(1 - q(z)), z)"\n'
            '[[step]]\nrel = "="\nexpr = "Sum(q(z) * log(1 - q(z)), z)"\nrule = "algebra"\n')
    (step,) = check_derivation(loads(text, "t.toml")).steps
    assert step.verdict is Verdict.error and "1 - q(z) > 0" in step.reason
    # Sum(1, z) is K for finite K and infinite for densities: no meaning for every latent space
    (step,) = check_derivation(loads(text.replace("Sum(q(z) * log(1 - q(z)), z)", "Sum(1, z)"), "t.toml")).steps
    assert step.verdict is Verdict.error and "every latent space" in step.reason


@pytest.mark.parametrize("text, message", [
    ('data = ["x1", "x2"]\nstart = "ELBO(q)"', "ELBO(...) takes the distribution and the observation"),
    ('data = ["x1", "x2"]\nstart = "KL(q(z), p(z))"', "q(z | x1), q(z | x2)"),
    ('data = ["x1", "x1"]\nstart = "p(x1)"', "named once"),
    ('data = ["log"]\nstart = "p(log)"', "cannot name an observation"),
    ('[params]\nbeta = "between 1 and 2"\n', "cannot read the condition"),
    ('[params]\nbeta = "in (2, 1)"\n', "interval is empty"),
    ('[params]\nq = ">= 1"\n', "cannot name a parameter"),
    ('start = "gamma * p(x)"', "declare parameters in a [params] table"),
    ('K = "many"', 'or "any"'),
])
def test_authoring_mistakes_in_the_new_keys_are_input_errors(text, message):
    base = {"start": 'start = "log(p(x))"', "step": '[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'}
    lines = [line for line in text.splitlines()]
    head = "\n".join(line for line in lines if not line.startswith("start"))
    start = next((line for line in lines if line.startswith("start")), base["start"])
    if "[params]" in head:
        document = f'title = "t"\n{start}\n{head}\n{base["step"]}'
    else:
        document = f'title = "t"\n{head}\n{start}\n{base["step"]}'
    with pytest.raises(DerivationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        loads(document, "t.toml")


def test_examples_with_params_and_several_observations():
    text = BETA + '\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n' \
                  'params = { beta = "2" }\n[example.expect]\n' \
                  '"beta * KL(q(z), p(z))" = "2/3 * log(4/9) + 4/3 * log(8/3)"\n'
    result = check_derivation(loads(text, "beta.toml"))
    assert result.ok and result.examples[0].holds
    outside = text.replace('params = { beta = "2" }', 'params = { beta = "1/2" }')
    with pytest.raises(DerivationError, match="beta = 1/2 is outside beta >= 1"):
        loads(outside, "beta.toml")

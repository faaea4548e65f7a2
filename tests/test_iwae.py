"""The importance-weighted bound IWAE(q, k): notation, unfolding, the Jensen proofs, the
refutation of wrong bounds, and a numeric cross-check against scipy's logsumexp.
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction
from pathlib import Path

import pytest
from scipy.special import logsumexp
from sympy import Rational

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models import DiscreteModel
from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.notation import IWAE, to_latex, to_text
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.report.build import check_file

VARIANTS = Path(__file__).resolve().parent.parent / "derivations" / "variants"


def one_step(claim: str, rel: str, K: int = 2, rule: str = "jensen") -> str:
    left, right = claim.split(f" {rel} ")
    return (f'title = "t"\nK = {K}\nclaim = "{claim}"\nstart = "{left}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{right}"\nrule = "{rule}"\n')


def verdict_of(claim: str, rel: str, K: int = 2, rule: str = "jensen"):
    result = check_derivation(loads(one_step(claim, rel, K, rule), "iwae.toml"))
    (step,) = result.steps
    return result, step


# ---------------------------------------------------------------------------- notation


def test_iwae_parses_prints_and_round_trips():
    e = parse_expression("IWAE(q, 3)")
    assert isinstance(e, IWAE) and e.samples == 3
    assert to_text(e) == "IWAE(q, 3)" and parse_expression(to_text(e)) == e
    assert to_latex(e) == r"\mathcal{L}^{\mathrm{IWAE}}_{3}(q)"
    several = parse_expression("IWAE(q(z | x1), 2, x1)", Vocabulary(("x1", "x2")))
    assert several.observation.name == "x1" and r"q(z \mid x_{1});\, x_{1}" in to_latex(several)


@pytest.mark.parametrize("text, fragment", [
    ("IWAE(q)", "number of samples"),
    ("IWAE(q, 0)", "whole number from 1 to"),
    ("IWAE(q, 9)", "whole number from 1 to"),
    ("IWAE(q, 2.5)", "whole number"),
    ("IWAE(q, k)", "whole number"),
    ("IWAE(q, 2, z)", "observation, not z"),
])
def test_malformed_iwae_is_a_clear_parse_error(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert fragment in info.value.message


@pytest.mark.full
def test_iwae_for_every_latent_space_is_proved_by_the_theorem_not_by_unfolding():
    """K = "any" has no K**k tuples to unfold: Jensen over the draws does not prove the bound
    (the search only finds it holding at K = 2, 3, 5, 8); Burda et al.'s theorem does."""
    text = one_step("log(p(x)) >= IWAE(q, 2)", ">=").replace("K = 2", 'K = "any"')
    result = check_derivation(loads(text, "any.toml"))
    assert result.steps[0].verdict is not Verdict.proved and not result.ok
    theorem = check_derivation(loads(text.replace('rule = "jensen"', 'rule = "iwae-bound"'), "any.toml"))
    assert theorem.steps[0].verdict is Verdict.proved and theorem.ok, theorem.steps[0].reason


# ---------------------------------------------------------------------------- proofs


@pytest.mark.parametrize("K, k", [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_evidence_bounds_iwae(K, k):
    result, step = verdict_of(f"log(p(x)) >= IWAE(q, {k})", ">=", K)
    assert step.verdict is Verdict.proved, step.reason
    assert result.ok and "draws from q" in step.reason


@pytest.mark.parametrize("K, k", [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_iwae_bounds_the_elbo(K, k):
    result, step = verdict_of(f"IWAE(q, {k}) >= ELBO(q)", ">=", K)
    assert step.verdict is Verdict.proved, step.reason
    assert result.ok


@pytest.mark.parametrize("K", [2, 3])
def test_one_sample_is_the_elbo(K):
    result, step = verdict_of("IWAE(q, 1) = ELBO(q)", "=", K, rule="definition")
    assert step.verdict is Verdict.proved and result.ok


@pytest.mark.parametrize("claim, rel", [
    ("IWAE(q, 2) <= ELBO(q)", "<="),            # the bound the wrong way
    ("log(p(x)) <= IWAE(q, 2)", "<="),
    ("IWAE(q, 2) = ELBO(q)", "="),
    ("IWAE(q, 2) = log(p(x))", "="),
    ("IWAE(q, 3) <= IWAE(q, 2)", "<="),          # more samples never loosen the bound
])
def test_wrong_iwae_bounds_are_refuted_with_an_exact_counterexample(claim, rel):
    result, step = verdict_of(claim, rel, rule="jensen" if rel != "=" else "definition")
    assert step.verdict is Verdict.refuted, (claim, step.verdict, step.reason)
    assert not result.ok and step.counterexample is not None
    assert step.counterexample.value_of("q(z)") is not None


def test_jensen_is_not_fooled_by_a_shifted_iwae():
    """A bound off by a constant is not proved by the IWAE pattern."""
    _, step = verdict_of("log(p(x)) >= IWAE(q, 2) + 1/1000000", ">=")
    assert step.verdict is not Verdict.proved
    _, step = verdict_of("IWAE(q, 2) >= ELBO(q) + 1/1000000", ">=")
    assert step.verdict is not Verdict.proved


@pytest.mark.parametrize("name", ["iwae-bound.toml", "iwae-elbo.toml", "iwae-one.toml"])
def test_variant_files_are_proved(name):
    report = check_file(VARIANTS / name)
    assert report.ok and report.fully_proved


def test_the_variant_text_in_a_file_is_refused_at_k_too_large():
    text = one_step("log(p(x)) >= IWAE(q, 8)", ">=", K=9)
    result = check_derivation(loads(text, "big.toml"))
    assert result.steps[0].verdict is Verdict.error and "terms" in result.steps[0].reason


def test_bad_iwae_in_a_file_names_line_and_column():
    text = one_step("log(p(x)) >= IWAE(q, 0)", ">=")
    with pytest.raises(DerivationError) as info:
        loads(text, "bad.toml")
    assert info.value.column is not None and "samples" in info.value.message


# ---------------------------------------------------------------------------- numeric cross-check


def _iwae_numeric(prior, likelihood, q, k) -> float:
    """IWAE_k by scipy: sum over k-tuples of q(z_1..z_k) * logsumexp(log r_i) - log k."""
    log_r = [math.log(float(p * l / w)) for p, l, w in zip(prior, likelihood, q)]
    total = 0.0
    for t in itertools.product(range(len(q)), repeat=k):
        weight = math.prod(float(q[j]) for j in t)
        total += weight * (logsumexp([log_r[j] for j in t]) - math.log(k))
    return total


def _simplex(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    raw = [rng.randint(1, 50) for _ in range(K)]
    return tuple(Fraction(v, sum(raw)) for v in raw)


@pytest.mark.parametrize("seed", range(8))
def test_exact_iwae_agrees_with_scipy_logsumexp(seed):
    rng = random.Random(seed)
    K, k = rng.choice([2, 3]), rng.choice([1, 2, 3])
    prior, q = _simplex(rng, K), _simplex(rng, K)
    likelihood = tuple(Fraction(rng.randint(1, 99), 100) for _ in range(K))
    model = DiscreteModel(K)
    values = {s: Rational(v.numerator, v.denominator)
              for s, v in model.values(Instance.of(prior=prior, likelihood=likelihood, q=q)).items()}
    exact = float(model.unfold(parse_expression(f"IWAE(q, {k})")).xreplace(values).evalf(40))
    numeric = _iwae_numeric(prior, likelihood, q, k)
    assert math.isclose(exact, numeric, rel_tol=1e-9, abs_tol=1e-12), (exact, numeric)
    evidence = math.log(sum(float(p * l) for p, l in zip(prior, likelihood)))
    elbo = _iwae_numeric(prior, likelihood, q, 1)
    assert elbo - 1e-12 <= numeric <= evidence + 1e-12  # the sandwich the proofs establish

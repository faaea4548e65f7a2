"""The K-state family: the lesson's derivations with an explicit K (3 and 10, and a
larger one) are proved; wrong variants are refuted with K-value counterexamples that
really violate them (recomputed with mpmath)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from sympy import Add

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models.discrete import DiscreteModel
from elbo_sym.engine.notation import ELBO, KL, LatentSum, p, q, x, z

DERIVATIONS = Path(__file__).resolve().parent.parent / "derivations"
mp = mpmath.mp


def example_block(K: int) -> str:
    """An exact K-state example: distinct, valid fractions."""
    total = K * (K + 1) // 2
    prior = [f"{k + 1}/{total}" for k in range(K)]
    likelihood = [f"{k + 1}/{K + 1}" for k in range(K)]
    q = [f"{K - k}/{total}" for k in range(K)]
    fmt = lambda values: "[" + ", ".join(f'"{v}"' for v in values) + "]"  # noqa: E731
    return f"\n[[example]]\nprior = {fmt(prior)}\nlikelihood = {fmt(likelihood)}\nq = {fmt(q)}\n"


def with_K(name: str, K: int) -> str:
    """The lesson file `name` with `K = K` and its binary example replaced by a K-state one."""
    text = (DERIVATIONS / name).read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^K = (\d+|"any")$', f"K = {K}", text)
    assert n == 1
    head = text.split("[[example]]")[0].rstrip() + "\n"
    return head + example_block(K)


def check(text: str, name: str):
    return check_derivation(loads(text, name))


@pytest.mark.full
@pytest.mark.parametrize("K", [3, 10, 60])
@pytest.mark.parametrize("name", ["gap.toml", "jensen.toml", "decomposition.toml"])
def test_lesson_derivations_are_proved_for_explicit_K(name, K):
    result = check(with_K(name, K), name)
    assert result.derivation.K == K
    assert [r.verdict for r in result.steps] == [Verdict.proved] * len(result.steps), \
        [(r.verdict, r.reason) for r in result.steps]
    assert result.established and result.fully_proved
    assert all(e.holds for e in result.examples)


@pytest.mark.parametrize("K", [3, 10])
def test_tight_case_for_explicit_K(K):
    text = (DERIVATIONS / "tight.toml").read_text(encoding="utf-8")
    text = text.replace("K = 2", f"K = {K}").split("[[example]]")[0]
    result = check(text, "tight.toml")
    assert result.fully_proved


@pytest.mark.parametrize("K", [3, 10])
def test_gap_with_the_prior_for_the_posterior_is_refuted(K):
    text = with_K("gap.toml", K)
    wrong = text.replace('expr = "Sum(q(z) * log(q(z) / p(z | x)), z)"', 'expr = "Sum(q(z) * log(q(z) / p(z)), z)"')
    assert wrong != text
    result = check(wrong, "gap.toml")
    step = result.steps[2]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    assert len(c.prior) == len(c.likelihood) == len(c.q) == K
    pi, l, w = ([Fraction(v) for v in vec] for vec in (c.prior, c.likelihood, c.q))
    assert sum(pi) == 1 and sum(w) == 1
    with mp.workdps(50):
        f = lambda v: mp.mpf(v.numerator) / v.denominator  # noqa: E731
        evidence = mp.fsum(f(a) * f(b) for a, b in zip(pi, l))
        # step 2 (unchanged) = sum q log(q p(x) / p(x, z)); the wrong step 3 = sum q log(q / p(z))
        before = mp.fsum(f(v) * mp.log(f(v) * evidence / (f(a) * f(b))) for v, a, b in zip(w, pi, l))
        after = mp.fsum(f(v) * mp.log(f(v) / f(a)) for v, a in zip(w, pi))
        assert abs(before - after) > mp.mpf("1e-6")
    assert not result.established


@pytest.mark.parametrize("K", [3, 10])
def test_jensen_strict_or_reversed_is_refuted(K):
    text = with_K("jensen.toml", K)
    for rel in (">", "<=", "="):
        result = check(text.replace('rel = ">="', f'rel = "{rel}"'), "jensen.toml")
        step = next(r for r in result.steps if r.step.rule == "jensen")
        assert step.verdict is Verdict.refuted, (rel, step.verdict, step.reason)
        assert len(step.counterexample.q) == K
        if rel == ">":
            assert "tight" in step.counterexample.source


def test_wrong_decomposition_sign_is_refuted_for_K_3():
    text = with_K("decomposition.toml", 3)
    wrong = text.replace('expr = "E(q, log(p(x | z))) - KL(q(z), p(z))"',
                         'expr = "E(q, log(p(x | z))) + KL(q(z), p(z))"')
    assert wrong != text
    result = check(wrong, "decomposition.toml")
    assert result.steps[-1].verdict is Verdict.refuted
    assert not result.established


def test_examples_must_have_K_values():
    text = with_K("gap.toml", 3).replace("K = 3", "K = 4")
    with pytest.raises(DerivationError, match="K = 4"):
        loads(text, "gap.toml")


@pytest.mark.parametrize("K", [0, 1, -3, 2001, "K", 2.5, True])
def test_bad_K_is_an_input_error(K):
    value = f'"{K}"' if isinstance(K, str) else str(K).lower()
    text = (DERIVATIONS / "gap.toml").read_text(encoding="utf-8").replace('K = "any"', f"K = {value}")
    with pytest.raises(DerivationError, match="K must be"):
        loads(text, "gap.toml")


# ------------------------------------------------------------------ the model itself


@pytest.mark.parametrize("K", [2, 3, 10])
def test_model_parameters_and_constraints(K):
    m = DiscreteModel(K)
    assert len(m.prior) == len(m.likelihood) == len(m.q_symbols) == K
    assert all(s.is_positive for s in m.parameters)
    # the constraints: the last probability is 1 - the others
    assert m.elimination[m.prior[-1]] == 1 - Add(*m.prior[:-1])
    assert m.elimination[m.q_symbols[-1]] == 1 - Add(*m.q_symbols[:-1])
    assert m.unfold(p(x)) == Add(*(a * b for a, b in zip(m.prior, m.likelihood)))
    assert len(m.unfold(LatentSum(q(z))).args) == K


@pytest.mark.parametrize("K", [3, 10])
def test_unfolded_gap_identity_at_an_exact_instance(K):
    """log p(x) - ELBO = KL(q || posterior), evaluated through the model at rational values."""
    m = DiscreteModel(K)
    ex = loads(with_K("gap.toml", K), "gap.toml").examples[0]
    values = m.instance(ex.prior, ex.likelihood, ex.q)
    gap = (m.unfold(p(x)).xreplace(values), m.unfold(ELBO(q(z))).xreplace(values),
           m.unfold(KL(q(z), p(z, given=(x,)))).xreplace(values))
    with mp.workdps(40):
        lhs = mp.log(mp.mpf(gap[0].p) / gap[0].q) - mp.mpf(str(gap[1].evalf(45)))
        assert abs(lhs - mp.mpf(str(gap[2].evalf(45)))) < mp.mpf("1e-35")


def test_model_rejects_K_below_2():
    with pytest.raises(ValueError):
        DiscreteModel(1)


@pytest.mark.parametrize("bad, message", [
    ((["1/2", "1/3", "1/6"], ["1/2"] * 3, ["1/2", "1/4", "1/8"]), "q sums to"),
    ((["1/2", "1/2", "0"], ["1/2"] * 3, ["1/3"] * 3), "<= 0"),
    ((["1/3"] * 3, ["1/2", "3/2", "1/2"], ["1/3"] * 3), "likelihood"),
    ((["1/2", "1/2"], ["1/2"] * 3, ["1/3"] * 3), "K = 3"),
])
def test_instance_validation(bad, message):
    prior, likelihood, q_values = ([Fraction(v) for v in vec] for vec in bad)
    with pytest.raises(ValueError, match=message):
        DiscreteModel(3).instance(prior, likelihood, q_values)

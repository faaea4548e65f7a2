"""Premises outside the discrete family (issue 17, item 1): the Gaussian family (D = 1).

``q(z) != p(z | x)`` between two normal distributions means their means or variances differ
(as for densities in general: different distributions); an inequality premise between numbers
(``mu > 1``, ``ELBO(q) >= log(p(x))``) restricts the domain.  The search, the example re-check
and the reference evaluator use only instances shown to satisfy every premise.  Every
counterexample is recomputed here from its printed values with fractions and floats, by the
closed forms of the linear-Gaussian model (independently of the checker).
"""

from __future__ import annotations

import math
import re
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.reference import gaussian as reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variant_checks import check_text, refuted  # noqa: E402

FILE = Path(__file__).resolve().parent.parent / "derivations" / "literature" / "gaussian-tight-only-if.toml"
HEAD = 'title = "t"\nmodel = "gaussian"\n'


def one_step(assume: str, start: str, rel: str, expr: str, rule: str = "algebra") -> str:
    return HEAD + f'assume = "{assume}"\nstart = "{start}"\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'


def values(c) -> dict[str, Fraction]:
    return {name: Fraction(v[0]) for name, v in c.values}


def posterior(v: dict[str, Fraction]) -> tuple[Fraction, Fraction]:
    """Mean and variance of p(z | x) for z ~ N(0, 1), x | z ~ N(w z + b, s^2)."""
    w, b, s, x = v["w"], v["b"], v["s"], v["x"]
    return w * (x - b) / (w * w + s * s), s * s / (w * w + s * s)


def kl_normal(m1, v1, m2, v2) -> float:
    return 0.5 * (math.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


def log_evidence(v) -> float:
    variance = float(v["w"] ** 2 + v["s"] ** 2)
    return -0.5 * math.log(2 * math.pi * variance) - float(v["x"] - v["b"]) ** 2 / (2 * variance)


def elbo(v) -> float:
    m, var = posterior(v)
    return log_evidence(v) - kl_normal(float(v["mu"]), float(v["sigma"] ** 2), float(m), float(var))


# ------------------------------------------------------------------ the literature file


def test_the_gaussian_only_if_is_proved_and_judged_inside_its_premise():
    derivation = load(FILE)
    assert derivation.family == "gaussian" and [p.rel for p in derivation.premises] == ["!="]
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert "different distributions (premise)" in result.steps[1].reason
    assert all("agrees" in s.second_opinion for s in result.steps)
    assert "Kingma" in derivation.summary and "2014" in derivation.summary


def test_the_wrong_direction_is_refuted_where_q_differs_from_the_posterior():
    c = refuted(FILE.read_text("utf-8").replace('rel = ">"', 'rel = "<"').replace("claim =", "# claim ="), 2)
    v = values(c)
    assert (v["mu"], v["sigma"] ** 2) != posterior(v)  # the premise holds there
    assert math.isclose(c.lhs_value, log_evidence(v), rel_tol=1e-9)
    assert math.isclose(c.rhs_value, elbo(v), rel_tol=1e-9) and c.lhs_value > c.rhs_value


def test_without_the_premise_the_strict_bound_is_refuted_at_the_posterior():
    text = FILE.read_text("utf-8").replace('assume = "q(z) != p(z | x)"\n', "").replace("claim =", "# claim =")
    c = refuted(text, 2)
    v = values(c)
    assert (v["mu"], v["sigma"] ** 2) == posterior(v)  # q is the posterior, exactly
    assert math.isclose(c.lhs_value, log_evidence(v), rel_tol=1e-9) and math.isclose(c.lhs_value, c.rhs_value)


def test_the_wrong_premise_is_no_premise_about_the_kls_arguments():
    """q differs from the prior: it may still be the posterior, where the gap is 0."""
    text = FILE.read_text("utf-8").replace('"q(z) != p(z | x)"', '"q(z) != p(z)"').replace("claim =", "# claim =")
    c = refuted(text, 2)
    v = values(c)
    assert (v["mu"], v["sigma"] ** 2) != (0, 1)  # inside the stated premise
    assert (v["mu"], v["sigma"] ** 2) == posterior(v)
    assert math.isclose(c.lhs_value, c.rhs_value, rel_tol=1e-12)


def test_an_example_at_the_posterior_is_outside_the_premise():
    text = FILE.read_text("utf-8").replace('mu = "1/2", sigma = "3/4", w = "2", b = "0", x = "1", s = "1"',
                                           'mu = "0", sigma = "4/5", w = "3/4", b = "1/2", x = "1/2", s = "1"')
    assert posterior({"w": Fraction(3, 4), "b": Fraction(1, 2), "x": Fraction(1, 2), "s": Fraction(1)}) == \
        (0, Fraction(16, 25))
    result = check_text(text)
    assert not result.ok
    assert any("not shown to satisfy every premise" in f for e in result.examples for f in e.failures)


# ------------------------------------------------------------------ premises between numbers


def test_a_premise_on_mu_restricts_the_search():
    c = refuted(one_step("mu > 1", "mu", ">", "2"))
    v = values(c)
    assert 1 < v["mu"] <= 2 and "every premise holds there" in c.source


@pytest.mark.full
def test_a_step_true_inside_the_premise_is_never_refuted():
    result = check_text(one_step("mu > 1", "mu**2", ">", "1"))
    assert result.steps[0].verdict is not Verdict.refuted
    assert not result.ok  # no rule proves it; still only evidence


def test_an_elbo_premise_is_used_by_the_assumption_rule():
    result = check_text(one_step("ELBO(q) >= log(p(x))", "ELBO(q)", ">=", "log(p(x))", "assumption"))
    assert result.fully_proved and result.ok


@pytest.mark.full
def test_premises_no_model_satisfies_fail_the_file():
    text = HEAD + 'assume = ["mu > 1", "mu < 0"]\nstart = "mu"\n[[step]]\nrel = ">"\nexpr = "5"\nrule = "algebra"\n'
    result = check_text(text)
    assert not result.ok and result.steps[0].verdict is not Verdict.proved
    # the bounds on mu alone leave it no value: said so, with each premise at its line (rt33 F1)
    assert any(p.startswith("the premises mu > 1 (variant.toml:") and "leave no value of mu" in p
               for p in result.problems), result.problems


def test_a_premise_is_refused_for_the_diagonal_gaussian():
    with pytest.raises(DerivationError, match="D > 1"):
        loads(HEAD + 'D = 2\nassume = "mu1 > 0"\nstart = "mu1"\n[[step]]\nrel = "="\nexpr = "mu1"\n'
              'rule = "algebra"\n', "d.toml")


# ------------------------------------------------------------------ the reference evaluator

def instance(**given) -> reference.GaussianInstance:
    base = {"mu": Fraction(1, 2), "sigma": Fraction(3, 4), "w": Fraction(2), "b": Fraction(0), "s": Fraction(1),
            "x": Fraction(1)}
    base.update({k: Fraction(v) for k, v in given.items()})
    return reference.GaussianInstance("t", tuple(base.items()))


def premise(text: str):
    derivation = loads(HEAD + f'assume = "{text}"\nstart = "mu"\n[[step]]\nrel = "="\nexpr = "mu"\n'
                       'rule = "algebra"\n', "p.toml")
    (p,) = derivation.premises
    return p.lhs.expr, p.rel, p.rhs.expr


def test_the_reference_decides_distribution_premises_by_mean_and_variance():
    differ = premise("q(z) != p(z | x)")
    assert reference.premise_holds(*differ, instance()) is True
    tight = instance(mu="0", sigma="4/5", w="3/4", b="1/2", x="1/2")  # q = p(z | x) exactly
    assert reference.premise_holds(*differ, tight) is False
    assert reference.premise_holds(*premise("q(z) != p(z)"), tight) is True  # sigma^2 = 16/25, not 1
    assert reference.premise_holds(*premise("q(z) != p(z)"), instance(mu="0", sigma="1")) is False


@pytest.mark.parametrize("text, mu, holds", [("mu > 1", "2", True), ("mu > 1", "1", False), ("mu >= 1", "1", True),
                                              ("ELBO(q) <= log(p(x))", "3", True)])
def test_the_reference_decides_number_premises(text, mu, holds):
    assert reference.premise_holds(*premise(text), instance(mu=mu)) is holds



# ------------------------------------------------------------------ the chain family (two layers)

CHAIN = FILE.with_name("chain-tight-only-if.toml")


def chain_rows(c) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    for label, vals in c.values:
        name = re.sub(r" = \d+\)", ")", label)  # p(z1 | z2 = 0) -> the rows of p(z1 | z2)
        out.setdefault(name, []).append([float(Fraction(v)) for v in vals])
    return out


def chain_values(c) -> tuple[float, float, list[list[float]], list[list[float]]]:
    """log p(x), ELBO(q) and the joints q(z1, z2 | x), p(z1, z2 | x) of a counterexample."""
    r = chain_rows(c)
    prior, trans, like = r["p(z2)"][0], r["p(z1 | z2)"], r["p(x | z1)"][0]
    q1, q2 = r["q(z1 | x)"][0], r["q(z2 | z1)"]
    K = len(prior)
    joint = [[prior[k] * trans[k][j] * like[j] for k in range(K)] for j in range(K)]  # p(x, z1 = j, z2 = k)
    evidence = sum(map(sum, joint))
    q = [[q1[j] * q2[j][k] for k in range(K)] for j in range(K)]
    elbo_value = sum(q[j][k] * math.log(joint[j][k] / q[j][k]) for j in range(K) for k in range(K))
    posterior_joint = [[joint[j][k] / evidence for k in range(K)] for j in range(K)]
    return math.log(evidence), elbo_value, q, posterior_joint


def test_the_chain_only_if_is_proved_for_every_latent_space_inside_its_premise():
    derivation = load(CHAIN)
    assert derivation.family == "chain" and derivation.K == "any" and len(derivation.premises) == 1
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(s.step.index, s.verdict, s.reason) for s in result.steps]
    assert all("agrees" in s.second_opinion for s in result.steps)


def test_the_chain_only_if_in_the_wrong_direction_is_refuted_inside_the_premise():
    c = refuted(CHAIN.read_text("utf-8").replace('rel = ">"', 'rel = "<"').replace("claim =", "# claim ="), 2)
    log_px, elbo_value, q, post = chain_values(c)
    assert any(abs(a - b) > 1e-9 for qa, pa in zip(q, post) for a, b in zip(qa, pa))  # the premise holds
    assert math.isclose(c.lhs_value, log_px, rel_tol=1e-9) and math.isclose(c.rhs_value, elbo_value, rel_tol=1e-9)
    assert log_px > elbo_value


def test_the_chain_only_if_without_its_premise_is_refuted_at_the_joint_posterior():
    text = CHAIN.read_text("utf-8").replace('assume = "q(z1, z2 | x) != p(z1, z2 | x)"\n', "")
    c = refuted(text.replace("claim =", "# claim ="), 2)
    log_px, elbo_value, q, post = chain_values(c)
    assert all(math.isclose(a, b, rel_tol=1e-12) for qa, pa in zip(q, post) for a, b in zip(qa, pa))
    assert math.isclose(c.lhs_value, c.rhs_value) and math.isclose(elbo_value, log_px, rel_tol=1e-9)


def test_chain_premises_are_premises_only():
    text = CHAIN.read_text("utf-8").replace('assume = "q(z1, z2 | x) != p(z1, z2 | x)"',
                                            'assume = ["q(z1 | x) = p(z1 | x)"]')
    with pytest.raises(DerivationError, match="not supported with two latent layers"):
        loads(text, "c.toml")


def test_the_chain_reference_decides_premises_per_layer_value():
    from elbo_sym.engine.reference import chain as chain_reference

    derivation = load(CHAIN)
    (p,) = derivation.premises
    cases = chain_reference.instances(2, 6, 0, "x", (), 2)
    decided = [chain_reference.premise_holds(p.lhs.expr, p.rel, p.rhs.expr, case) for case in cases]
    assert True in decided and False in decided  # the tight instances are outside, the others inside

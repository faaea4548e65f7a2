"""Gaussian layers (issue 17, item 6): ``model = "gaussian"`` with ``latents = ["z1", "z2"]`` (and z3),
elbo_sym.engine.models.gaussian_chain, and DDPM's Appendix A with Gaussian layers as one derivation.

Every proved file is judged by the reference evaluator (exact covariances and quadrature); every
wrong variant is refuted, and its counterexample is re-evaluated here with mpmath from the printed
parameter values, through textbook formulas written in this file (the linear-Gaussian marginal of
x, the Gaussian KL, the forward posterior by completing the square) -- not through the engine.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.models import ModelSpec, build
from elbo_sym.engine.models.gaussian_chain import GaussianChainModel
from elbo_sym.engine.notation import KL, Density, x, z1, z2
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.engine.reference import gaussian_chain as judge
from elbo_sym.engine.reference import second_opinion

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
T2 = LITERATURE / "ddpm-appendix-a-gaussian-t2.toml"
T3 = LITERATURE / "ddpm-appendix-a-gaussian-t3.toml"
mpmath.mp.dps = 50


def model(T: int = 2) -> GaussianChainModel:
    made = build(ModelSpec("gaussian", layers=T, layered=True))
    assert isinstance(made, GaussianChainModel)
    return made


def expr(text: str, T: int = 2):
    layers = tuple(f"z{t}" for t in range(1, T + 1))
    from elbo_sym.engine.models.gaussian_chain import chain_names

    return parse_expression(text, Vocabulary(params=chain_names(T), latents=layers, real=True))


# ------------------------------------------------------------------ textbook values, from parameters


class Chain:
    """A two-layer Gaussian chain's terms from its parameter values (mpmath, 50 digits)."""

    def __init__(self, values: dict) -> None:
        self.v = {k: mpmath.mpf(Fraction(str(val)).numerator) / Fraction(str(val)).denominator  # text or number
                  for k, val in values.items()}

    def __getattr__(self, name: str):
        try:
            return self.__dict__["v"][name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def kl(m1, s1, m2, s2):
        """KL(N(m1, s1) || N(m2, s2)), variances s1, s2."""
        return (mpmath.log(s2 / s1) + (s1 + (m1 - m2) ** 2) / s2 - 1) / 2

    def evidence(self):
        """log p(x): x = a1 (a2 z2 + b2 + e2) + b1 + e1, so x ~ N(b1 + a1 b2, a1^2 (a2^2 + v2) + v1)."""
        mean = self.b1 + self.a1 * self.b2
        variance = self.a1 ** 2 * (self.a2 ** 2 + self.v2) + self.v1
        return -mpmath.log(2 * mpmath.pi * variance) / 2 - (self.x - mean) ** 2 / (2 * variance)

    def reconstruction(self):
        """E over q(z1 | x) = N(c1 x, 1 - c1^2) of log N(x; a1 z1 + b1, v1), by quadrature."""
        m, s = self.c1 * self.x, 1 - self.c1 ** 2
        return self._expect(m, s, lambda z: -mpmath.log(2 * mpmath.pi * self.v1) / 2
                            - (self.x - self.a1 * z - self.b1) ** 2 / (2 * self.v1))

    def prior_matching(self):
        g = self.c1 * self.c2
        return self.kl(g * self.x, 1 - g ** 2, 0, 1)

    def denoising(self):
        """E over q(z2 | x) of KL(q(z1 | z2, x) || p(z1 | z2)): the forward posterior by completing the
        square of q(z1 | x) q(z2 | z1) in z1 (precisions add)."""
        c1, c2, x_ = self.c1, self.c2, self.x
        precision = 1 / (1 - c1 ** 2) + c2 ** 2 / (1 - c2 ** 2)
        beta = 1 / precision

        def inner(z):
            mu = beta * (c1 * x_ / (1 - c1 ** 2) + c2 * z / (1 - c2 ** 2))
            return self.kl(mu, beta, self.a2 * z + self.b2, self.v2)
        return self._expect(c1 * c2 * x_, 1 - (c1 * c2) ** 2, inner)

    @staticmethod
    def _expect(mean, variance, f):
        """E f(z), z ~ N(mean, variance), f a polynomial of degree <= 2: by three moments."""
        sd = mpmath.sqrt(variance)
        nodes = (-mpmath.sqrt(3), 0, mpmath.sqrt(3))  # the 3-point Hermite rule (exact to degree 5)
        weights = (mpmath.mpf(1) / 6, mpmath.mpf(2) / 3, mpmath.mpf(1) / 6)
        return sum(w * f(mean + sd * t) for t, w in zip(nodes, weights))

    def elbo(self):
        return self.reconstruction() - self.prior_matching() - self.denoising()


def values_of(counterexample) -> dict:
    return {label: v[0] for label, v in counterexample.values}


def close(a, b) -> bool:
    return bool(abs(mpmath.mpf(a) - mpmath.mpf(b)) <= 1e-9 * (1 + abs(mpmath.mpf(b))))


# ------------------------------------------------------------------ the family


def test_latents_with_the_gaussian_family_build_the_gaussian_chain():
    two, three = model(2), model(3)
    assert two.layers == (z1, z2) and len(three.layers) == 3
    assert "2 Gaussian layers" in two.describe() and "3 Gaussian layers" in three.describe()
    assert "q(z1 | x) = N(c1*x, 1 - c1**2)" in two.domain_text()
    assert load(T2).model().T == 2 and load(T3).model().T == 3


@pytest.mark.parametrize("key, value", [("assume", '"q(z1 | x) = p(z1 | x)"'), ("D", "2"), ("K", "2"),
                                        ("latents", '["z1", "z2", "z3", "z4"]')])
def test_what_gaussian_layers_do_not_take_is_refused_at_its_line(key, value):
    text = (f'title = "t"\nmodel = "gaussian"\nlatents = ["z1", "z2"]\nstart = "log(p(x))"\n{key} = {value}\n'
            if key != "latents" else f'title = "t"\nmodel = "gaussian"\nlatents = {value}\nstart = "log(p(x))"\n')
    with pytest.raises(DerivationError) as error:
        loads(text, "bad.toml")
    assert "bad.toml:" in str(error.value) and "Gaussian" in str(error.value)


def test_a_builtin_name_in_params_is_refused():
    text = 'title = "t"\nmodel = "gaussian"\nlatents = ["z1", "z2"]\nstart = "log(p(x))"\n[params]\nc1 = "real"\n'
    with pytest.raises(DerivationError, match="parameter of the Gaussian family already"):
        loads(text, "bad.toml")


def test_the_forward_marginal_and_posterior_are_ddpm_s():
    """q(z2 | x) = N(c1 c2 x, 1 - c1^2 c2^2) (eq. 4) and q(z1 | z2, x) = N(mu_tilde, beta_tilde) (eq. 7)."""
    m = model(2)
    b = m.builtin
    c1, c2 = b["c1"], b["c2"]
    ((_, mean, variance),) = m.factors(Density("q", (z2,), (x,)))
    assert (mean - c1 * c2 * x).cancel() == 0 and (variance - (1 - c1 ** 2 * c2 ** 2)).cancel() == 0
    ((_, mean, variance),) = m.factors(Density("q", (z1,), (z2, x)))
    beta = (1 - c1 ** 2) * (1 - c2 ** 2) / (1 - c1 ** 2 * c2 ** 2)
    mu = (c1 * (1 - c2 ** 2) * x + c2 * (1 - c1 ** 2) * z2) / (1 - c1 ** 2 * c2 ** 2)
    assert (variance - beta).cancel() == 0 and (mean - mu).cancel() == 0


@pytest.mark.parametrize("text", ["log(p(x))", "ELBO(q)", "KL(q(z2 | x), p(z2))",
                                  "E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))", "E(q(z1 | x), log(p(x | z1)))"])
def test_each_term_agrees_with_the_textbook_formula(text):
    """The engine's closed form at an instance equals this file's mpmath formula."""
    m = model(2)
    values = {"c1": Fraction(3, 5), "c2": Fraction(4, 5), "a1": Fraction(-3, 2), "b1": Fraction(1, 3),
              "v1": Fraction(2), "a2": Fraction(1, 2), "b2": Fraction(-1), "v2": Fraction(3, 4), "x": Fraction(7, 5)}
    c = Chain(values)
    expected = {"log(p(x))": c.evidence(), "ELBO(q)": c.elbo(), "KL(q(z2 | x), p(z2))": c.prior_matching(),
                "E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))": c.denoising(),
                "E(q(z1 | x), log(p(x | z1)))": c.reconstruction()}[text]
    unfolded = m.unfold(expr(text))
    symbols = {**{m.builtin[k]: v for k, v in values.items() if k != "x"}, x: values["x"]}
    from sympy import Rational

    value = unfolded.xreplace({s: Rational(v.numerator, v.denominator) for s, v in symbols.items()})
    assert close(mpmath.mpf(str(value.evalf(40))), expected)


def test_a_density_under_e_and_a_sum_are_refused_not_approximated():
    from elbo_sym.engine.models.discrete import UnfoldError

    m = model(2)
    for text in ("E(q(z1 | x), p(x | z1))", "E(q(z1 | x), exp(z1))"):
        with pytest.raises(UnfoldError):
            m.unfold(expr(text))
    with pytest.raises(UnfoldError):
        m.unfold(KL(Density("q", (z1,), (x,)), Density("p", (z2,))))


# ------------------------------------------------------------------ DDPM Appendix A, T = 2 and 3


@pytest.mark.full
@pytest.mark.parametrize("path", [T2, T3], ids=["T=2", "T=3"])
def test_appendix_a_with_gaussian_layers_is_proved_and_the_reference_agrees(path):
    result = check_derivation(load(path), budget=60.0)
    assert result.ok, [(s.verdict, s.reason) for s in result.steps]
    assert all(s.verdict is Verdict.proved for s in result.steps)
    assert all("agrees on" in s.second_opinion for s in result.steps), [s.second_opinion for s in result.steps]
    assert result.steps[0].step.rule == "kl-nonneg" and result.steps[0].step.rel == ">="


def _variant(rel: str, text: str, rule: str = "bayes") -> str:
    head = T2.read_text("utf-8").split("[[step]]")[0]
    head = "\n".join(line for line in head.splitlines() if not line.startswith("claim")) + "\n"
    return head + f'[[step]]\nrel = "{rel}"\nexpr = "{text}"\nrule = "{rule}"\nwhy = "wrong"\n'


SPLIT = "E(q(z1 | x), log(p(x | z1))) - KL(q(z2 | x), p(z2)) - E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))"


def _refuted(text: str):
    result = check_derivation(loads(text, "variant.toml"), budget=60.0)
    step = result.steps[-1]
    assert step.verdict is Verdict.refuted and not result.ok, step.reason
    return step.counterexample, Chain(values_of(step.counterexample))


def test_the_bound_in_the_wrong_direction_is_refuted():
    ce, c = _refuted(_variant("<=", "ELBO(q)", "kl-nonneg"))
    assert close(ce.lhs_value, c.evidence()) and close(ce.rhs_value, c.elbo())
    assert c.evidence() > c.elbo()  # the gap is a KL > 0 there


@pytest.mark.full
def test_the_denoising_term_with_the_wrong_sign_is_refuted():
    ce, c = _refuted(_variant("=", SPLIT.replace("- E(q(z2 | x), KL", "+ E(q(z2 | x), KL")))
    assert close(ce.lhs_value, c.evidence())
    assert close(ce.rhs_value, c.reconstruction() - c.prior_matching() + c.denoising())
    assert c.denoising() > 0


@pytest.mark.full
def test_the_prior_matching_term_dropped_is_refuted():
    ce, c = _refuted(_variant("=", SPLIT.replace(" - KL(q(z2 | x), p(z2))", "")))
    assert close(ce.rhs_value, c.reconstruction() - c.denoising())
    assert not close(c.evidence(), c.reconstruction() - c.denoising())


def test_the_forward_step_s_variance_for_the_forward_posterior_is_refuted():
    """A wrong premise about the forward posterior: beta_tilde replaced by the step's 1 - c2^2."""
    text = T2.read_text("utf-8")
    steps = text.split("[[step]]")
    sixth = steps[6]
    wrong = sixth.replace("(log(v2 / ((1 - c1**2) * (1 - c2**2) / (1 - c1**2 * c2**2)))",
                          "(log(v2 / (1 - c2**2))").replace(
        "+ ((1 - c1**2) * (1 - c2**2) / (1 - c1**2 * c2**2) + (", "+ (1 - c2**2 + (")
    assert wrong != sixth
    head = "[[step]]".join(steps[:6]).replace(text.split("\n")[4] + "\n", "")
    ce, c = _refuted(head + "[[step]]" + wrong)
    c1, c2 = c.c1, c.c2
    beta = (1 - c1 ** 2) * (1 - c2 ** 2) / (1 - c1 ** 2 * c2 ** 2)
    # the two sides differ by the KL's variance terms only: E over z2 of what the wrong variance changes
    difference = (mpmath.log(1 - c2 ** 2) - mpmath.log(beta) + (beta - (1 - c2 ** 2)) / c.v2) / 2
    assert close(ce.lhs_value - ce.rhs_value, -difference)


def test_the_reference_evaluator_disagrees_with_a_wrong_identity():
    d = load(T2)
    opinion = second_opinion(expr("log(p(x))"), "=", expr("ELBO(q)"), d.model().spec, d.model().K)
    assert opinion.disagrees
    opinion = second_opinion(expr("log(p(x))"), ">=", expr("ELBO(q)"), d.model().spec, d.model().K)
    assert opinion.status == "agrees"


def test_the_reference_evaluator_reads_the_textbook_values():
    inst = judge.instances(2, 4, seed=3)[0]
    values = dict(inst.values)
    c = Chain(values)
    at = {"x": values["x"], "z1": values["z1"], "z2": values["z2"]}
    got = judge.evaluate(expr("ELBO(q)"), inst, at)
    mid = (mpmath.mpf(got[0]) + mpmath.mpf(got[1])) / 2 if isinstance(got, tuple) else mpmath.mpf(got)
    assert close(mid, c.elbo())


def test_explain_names_the_gaussian_layers_not_a_table_of_states(capsys):
    from elbo_sym.cli import main

    assert main(["explain", str(T2)]) == 0
    out = capsys.readouterr().out
    assert "x, z1, z2 real" in out and "pi_k = p(z=k)" not in out and "proved" in out


NARROWED = ('title = "t"\nmodel = "gaussian"\nlatents = ["z1", "z2"]\nstart = "KL(q(z2 | x), p(z2))"\n'
            '[[step]]\nrel = "="\nexpr = "{expr}"\nrule = "definition"\nwhy = "w"\n'
            '[params]\nc1 = "{c1}"\nv2 = ">= 1"\n')
PRIOR_MATCHING = "(c1**2 * c2**2 * (x**2 - 1) - log(1 - c1**2 * c2**2)) / 2"


def test_params_may_narrow_a_builtin_range_and_the_search_stays_inside_it():
    derivation = loads(NARROWED.format(expr=PRIOR_MATCHING, c1="in (0, 1/2]"), "narrow.toml")
    assert "c1 in (0, 1/2]" in derivation.model().domain_text()
    assert check_derivation(derivation).steps[0].verdict is Verdict.proved
    wrong = NARROWED.format(expr=PRIOR_MATCHING.replace("x**2 - 1", "x**2 + 1"), c1="in (0, 1/2]")
    ce, c = _refuted(wrong)
    assert 0 < Fraction(values_of(ce)["c1"]) <= Fraction(1, 2) and Fraction(values_of(ce)["v2"]) >= 1
    assert close(ce.lhs_value, c.prior_matching())  # the true value, recomputed; the wrong side is 2 g^2 x^2 off
    assert close(ce.rhs_value, c.prior_matching() + (c.c1 * c.c2) ** 2)


@pytest.mark.parametrize("c1", ["in (0, 2)", "real", ">= 0"])
def test_params_may_not_widen_a_builtin_range(c1):
    with pytest.raises(DerivationError, match="may only narrow its range"):
        loads(NARROWED.format(expr=PRIOR_MATCHING, c1=c1), "wide.toml")


def _denoising(c: Chain, g, step, a, b, v):
    """E over q(z_t | x) of KL(q(z_(t-1) | z_t, x) || p(z_(t-1) | z_t)) with q(z_(t-1) | x) = N(g x, 1 - g^2) and
    the forward step coefficient `step`: the posterior by completing the square, as in Chain.denoising."""
    precision = 1 / (1 - g ** 2) + step ** 2 / (1 - step ** 2)
    beta = 1 / precision

    def inner(z):
        mu = beta * (g * c.x / (1 - g ** 2) + step * z / (1 - step ** 2))
        return Chain.kl(mu, beta, a * z + b, v)
    return Chain._expect(g * step * c.x, 1 - (g * step) ** 2, inner)


@pytest.mark.full
def test_three_layers_with_the_top_denoising_term_dropped_is_refuted():
    text = T3.read_text("utf-8")
    head = text.split("[[step]]")[0]
    head = "\n".join(line for line in head.splitlines() if not line.startswith("claim")) + "\n"
    head = head.replace('start = "log(p(x))"', 'start = "ELBO(q)"')
    split = ("E(q(z1 | x), log(p(x | z1))) - KL(q(z3 | x), p(z3)) - E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))")
    ce, c = _refuted(head + f'[[step]]\nrel = "="\nexpr = "{split}"\nrule = "bayes"\nwhy = "wrong"\n')
    dropped = _denoising(c, c.c1 * c.c2, c.c3, c.a3, c.b3, c.v3)
    g = c.c1 * c.c2 * c.c3
    elbo = (c.reconstruction() - Chain.kl(g * c.x, 1 - g ** 2, 0, 1) - dropped
            - _denoising(c, c.c1, c.c2, c.a2, c.b2, c.v2))
    assert dropped > 0 and close(ce.lhs_value, elbo) and close(ce.rhs_value, elbo + dropped)


@pytest.mark.parametrize("margin", ["(1/10**6)**2", "1/10**8"])
def test_a_gap_bounded_below_by_a_small_constant_is_refuted_near_the_tight_case(margin):
    """log p(x) >= ELBO + m is false for every m > 0: with every forward coefficient tiny the gap is
    ~ c**2 / 2.  The search reaches that corner (red team round 9: it was `checked`, and with
    accept = "checked" the file passed); the counterexample is recomputed here in mpmath."""
    ce, c = _refuted(_variant(">=", f"ELBO(q) + {margin}", "kl-nonneg"))
    m = {"(1/10**6)**2": mpmath.mpf(10) ** -12, "1/10**8": mpmath.mpf(10) ** -8}[margin]
    assert close(ce.lhs_value, c.evidence()) and close(ce.rhs_value, c.elbo() + m)
    assert 0 <= c.evidence() - c.elbo() < m

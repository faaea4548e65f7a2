"""The Gaussian family (model = "gaussian"): exact closed forms proved, wrong ones refuted
with exact parameter values, definedness enforced, and the values cross-checked against
numeric integration (scipy.integrate.quad).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import pytest
from scipy import integrate
from sympy import Rational

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models.base import Instance
from elbo_sym.engine.models.gaussian import GaussianModel, moment
from elbo_sym.engine.notation import to_latex
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.report.build import check_file

VARIANTS = Path(__file__).resolve().parent.parent / "derivations" / "variants"
GAUSSIAN_FILES = sorted(VARIANTS.glob("gaussian-*.toml"))
VOCABULARY = Vocabulary(("x",), ("mu", "sigma", "w", "b", "s"), real=True)


def one_step(claim: str, rel: str = "=", rule: str = "algebra", extra: str = "") -> str:
    left, right = claim.split(f" {rel} ", 1)
    return (f'title = "t"\nmodel = "gaussian"\n{extra}claim = "{claim}"\nstart = "{left}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{right}"\nrule = "{rule}"\n')


def step_of(claim: str, rel: str = "=", rule: str = "algebra", extra: str = ""):
    result = check_derivation(loads(one_step(claim, rel, rule, extra), "g.toml"))
    (step,) = result.steps
    return result, step


# ---------------------------------------------------------------------------- the files


@pytest.mark.parametrize("path", GAUSSIAN_FILES, ids=lambda p: p.name)
def test_gaussian_variant_files_are_proved(path):
    report = check_file(path)
    assert report.ok and report.fully_proved, [(s.index, s.verdict, s.reason) for s in report.steps]
    assert "Gaussian" in report.model


def test_the_gallery_has_the_issue_s_identities():
    names = {p.stem for p in GAUSSIAN_FILES}
    assert {"gaussian-kl", "gaussian-elbo", "gaussian-bayes", "gaussian-gap", "gaussian-tight",
            "gaussian-bound"} <= names


# ---------------------------------------------------------------------------- refutations


@pytest.mark.parametrize("claim", [
    "KL(q(z), Normal(0, 1)) = (mu**2 + sigma**2 - log(sigma**2)) / 2",          # the -1 dropped
    "KL(q(z), Normal(0, 1)) = (mu**2 + sigma**2 - 1 - log(sigma)) / 2",         # log sigma for log sigma**2
    "KL(q(z), Normal(0, 1)) = (mu**2 + sigma - 1 - log(sigma**2)) / 2",         # sigma for sigma**2
    "KL(Normal(0, 1), q(z)) = (mu**2 + sigma**2 - 1 - log(sigma**2)) / 2",      # the wrong direction
    "log(p(x)) = -log(2 * pi * (w**2 + s**2)) / 2 - (x - b)**2 / (2 * s**2)",   # the prior's variance forgotten
    "E(q, z**2) = mu**2",
    "log(p(x)) - ELBO(q) = KL(p(z | x), q(z))",
])
def test_wrong_closed_forms_are_refuted_naming_the_parameters(claim):
    result, step = step_of(claim)
    assert step.verdict is Verdict.refuted, (claim, step.verdict, step.reason)
    values = dict(step.counterexample.values)
    assert {"w", "b", "x", "s"} <= set(values)
    assert all(Fraction(v[0]) > 0 for name, v in values.items() if name in ("sigma", "s"))
    assert not result.ok


def test_the_elbo_is_not_an_upper_bound():
    _, step = step_of("ELBO(q) >= log(p(x))", ">=", "kl-nonneg")
    assert step.verdict is Verdict.refuted


def test_the_tight_case_is_found_by_the_search():
    """ELBO(q) = log p(x) holds exactly at q = the posterior: refuted elsewhere, and the
    special instance w = 3/4, s = 1, sigma = 4/5 makes both sides equal."""
    model = GaussianModel()
    base = Instance.of(mu=(0,), sigma=(1,), w=(1,), b=(Fraction(1, 2),), s=(1,), x=(2,), z=(0,))
    tight = model.special_instances(base)[0]
    values = {k: Rational(v.numerator, v.denominator) for k, v in model.values(tight).items()}
    gap = model.unfold(parse_expression("log(p(x)) - ELBO(q)", VOCABULARY)).xreplace(values)
    assert abs(float(gap.evalf(50))) < 1e-40


# ---------------------------------------------------------------------------- definedness and refusals


@pytest.mark.parametrize("claim", [
    "KL(q(z), Normal(0, -1)) = 0",                    # a negative variance is no distribution
    "KL(q(z), Normal(0, w)) = KL(q(z), Normal(0, w))",  # w may be <= 0
    "H(Normal(mu, b)) = H(Normal(mu, b))",
])
def test_a_normal_needs_a_variance_shown_positive(claim):
    result, step = step_of(claim)
    assert step.verdict is not Verdict.proved and not result.ok


@pytest.mark.parametrize("text, fragment", [
    ("E(q, p(x | z)) = 0", "polynomials in z"),     # the expectation of a density has no exact form here
    ("Sum(q(z), z) = 1", "no sum over z"),
])
def test_what_has_no_exact_form_is_an_error_not_a_pass(text, fragment):
    result, step = step_of(text)
    assert step.verdict is Verdict.error and fragment in step.reason and not result.ok


def test_normal_outside_the_gaussian_family_is_refused():
    with pytest.raises(DerivationError, match="Gaussian family"):
        loads('title = "t"\nK = 2\nstart = "KL(q(z), Normal(0, 1))"\n[[step]]\nrel = "="\n'
              'expr = "KL(q(z), Normal(0, 1))"\nrule = "algebra"\n', "d.toml")


@pytest.mark.parametrize("extra, fragment", [
    ('K = 3\n', "z is real"),
    ('data = ["x1", "x2"]\n', "one observation, x"),
    ('[params]\nsigma = "> 0"\n', "parameter of the Gaussian family already"),
])
def test_gaussian_files_refuse_discrete_keys(extra, fragment):
    text = one_step("E(q, z) = mu")
    head, _, rest = text.partition("[[step]]")
    with pytest.raises(DerivationError, match=fragment):
        loads(head + extra + "\n[[step]]" + rest, "g.toml")  # top-level keys, then tables


def test_gaussian_examples_give_every_parameter():
    text = one_step("E(q, z) = mu") + '\n[[example]]\nparams = { mu = "1", sigma = "2" }\n'
    with pytest.raises(DerivationError, match="params = "):
        loads(text, "g.toml")
    text = one_step("E(q, z) = mu") + '\n[[example]]\nprior = ["1/2", "1/2"]\n'
    with pytest.raises(DerivationError, match="discrete family"):
        loads(text, "g.toml")


def test_the_printer_typesets_the_gaussian_notation():
    latex = to_latex(parse_expression("Normal(mu, sigma**2)", VOCABULARY))
    assert latex == r"\mathcal{N}(\mu,\, \sigma^{2})"
    # brackets as tall as a fraction inside (\mathcal{N}\left( grew for a square, taller than KL's \big()
    assert to_latex(parse_expression("Normal(mu / 2, 1)", VOCABULARY)) == r"\mathcal{N}\left(\frac{\mu}{2},\, 1\right)"


# ---------------------------------------------------------------------------- numeric cross-checks


def _random_parameters(rng: random.Random) -> dict[str, Fraction]:
    def r(lo: int, hi: int) -> Fraction:
        return Fraction(rng.randint(lo, hi), rng.randint(1, 8))

    return {"mu": r(-8, 8), "sigma": r(1, 12), "w": r(-8, 8), "b": r(-8, 8), "x": r(-8, 8), "s": r(1, 12),
            "z": Fraction(0)}


def _exact(model: GaussianModel, text: str, params: dict[str, Fraction]) -> float:
    values = {k: Rational(v.numerator, v.denominator)
              for k, v in model.values(Instance.of(**{n: (v,) for n, v in params.items()})).items()}
    return float(model.unfold(parse_expression(text, VOCABULARY)).xreplace(values).evalf(40))


def _normal_logpdf(v: float, mean: float, variance: float) -> float:
    return -0.5 * math.log(2 * math.pi * variance) - (v - mean) ** 2 / (2 * variance)


@pytest.mark.parametrize("seed", range(6))
def test_kl_and_elbo_agree_with_numeric_integration(seed):
    p = _random_parameters(random.Random(seed))
    mu, sigma, w, b, x, s = (float(p[k]) for k in ("mu", "sigma", "w", "b", "x", "s"))
    model = GaussianModel()

    def q_pdf(v):
        return math.exp(_normal_logpdf(v, mu, sigma ** 2))

    lo, hi = mu - 40 * sigma, mu + 40 * sigma
    kl, _ = integrate.quad(lambda v: q_pdf(v) * (_normal_logpdf(v, mu, sigma ** 2) - _normal_logpdf(v, 0, 1)),
                           lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    elbo, _ = integrate.quad(lambda v: q_pdf(v) * (_normal_logpdf(v, 0, 1) + _normal_logpdf(x, w * v + b, s ** 2)
                                                   - _normal_logpdf(v, mu, sigma ** 2)),
                             lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    assert math.isclose(_exact(model, "KL(q(z), p(z))", p), kl, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(_exact(model, "ELBO(q)", p), elbo, rel_tol=1e-9, abs_tol=1e-9)
    evidence = _normal_logpdf(x, b, w ** 2 + s ** 2)
    assert math.isclose(_exact(model, "log(p(x))", p), evidence, rel_tol=1e-12, abs_tol=1e-12)
    assert elbo <= evidence + 1e-9


@pytest.mark.parametrize("n", range(7))
def test_moments_agree_with_numeric_integration(n):
    mean, variance = 0.7, 1.9
    numeric, _ = integrate.quad(lambda v: v ** n * math.exp(_normal_logpdf(v, mean, variance)), -60, 60,
                                epsabs=1e-12, epsrel=1e-12, limit=200)
    exact = float(moment(n, Rational(7, 10), Rational(19, 10)))
    assert math.isclose(exact, numeric, rel_tol=1e-9, abs_tol=1e-9)


# ---------------------------------------------------------------------------- the diagonal version (D > 1)


def diagonal(claim: str, D: int = 2, rel: str = "=", rule: str = "definition"):
    left, right = claim.split(f" {rel} ", 1)
    text = (f'title = "t"\nmodel = "gaussian"\nD = {D}\nclaim = "{claim}"\nstart = "{left}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{right}"\nrule = "{rule}"\n')
    result = check_derivation(loads(text, "d.toml"))
    return result, result.steps[0]


def test_the_vae_kl_term_is_a_sum_over_dimensions():
    result, step = diagonal("KL(q(z), p(z)) = (mu1**2 + sigma1**2 - 1 - log(sigma1**2)) / 2 "
                            "+ (mu2**2 + sigma2**2 - 1 - log(sigma2**2)) / 2")
    assert step.verdict is Verdict.proved and result.ok
    result, step = diagonal("KL(q(z), p(z)) >= 0", rel=">=", rule="kl-nonneg")
    assert step.verdict is Verdict.proved and result.ok


def test_a_dropped_dimension_is_refuted_naming_its_parameters():
    _, step = diagonal("KL(q(z), p(z)) = (mu1**2 + sigma1**2 - 1 - log(sigma1**2)) / 2", D=2)
    assert step.verdict is Verdict.refuted
    assert {"mu1", "sigma1", "mu2", "sigma2"} <= set(dict(step.counterexample.values))


def test_the_diagonal_version_refuses_what_it_cannot_do_exactly():
    # z is a vector (no bare z), and no expectation under the full-covariance posterior
    for claim in ("E(q, z) = 0", "KL(p(z | x), q(z)) = 0", "E(q, p(x | z)) = 0"):
        result, step = diagonal(claim)
        assert step.verdict is Verdict.error and not result.ok, claim
        assert "z[" not in step.reason and "Dummy" not in step.reason, step.reason
    # what it can do (issue 17.7): E(q, log(q(z))) is exact now, so a wrong value is refuted
    result, step = diagonal("E(q, log(q(z))) = 0")
    assert step.verdict is Verdict.refuted and not result.ok


@pytest.mark.parametrize("head, fragment", [
    ('title = "t"\nmodel = "gaussian"\nD = 0\n', "D must be an integer from 1 to"),
    ('title = "t"\nmodel = "gaussian"\nD = 9\n', "D must be an integer from 1 to"),
    ('title = "t"\nK = 2\nD = 2\n', "Gaussian family"),
    ('title = "t"\nmodel = "gaussian"\nD = 2\nassume = "q(z) = p(z)"\n', "no assume"),
])
def test_bad_dimensions_are_clear_errors(head, fragment):
    text = head + 'start = "KL(q(z), p(z))"\n[[step]]\nrel = "="\nexpr = "KL(q(z), p(z))"\nrule = "algebra"\n'
    with pytest.raises(DerivationError, match=fragment):
        loads(text, "d.toml")


def test_the_diagonal_kl_agrees_with_a_sum_of_numeric_integrals():
    rng = random.Random(7)
    params = {}
    for j in (1, 2, 3):
        params[f"mu{j}"] = Fraction(rng.randint(-9, 9), rng.randint(1, 5))
        params[f"sigma{j}"] = Fraction(rng.randint(1, 9), rng.randint(1, 5))
    from elbo_sym.engine.models.base import ModelSpec

    model = GaussianModel(ModelSpec("gaussian", D=3))
    decoder = {"w1": (0,), "w2": (0,), "w3": (0,), "b": (0,), "s": (1,), "x": (0,)}  # KL does not use them
    values = {k: Rational(v.numerator, v.denominator)
              for k, v in model.values(Instance.of(**{n: (v,) for n, v in params.items()}, **decoder)).items()}
    vocabulary = Vocabulary(("x",), tuple(params), real=True)
    exact = float(model.unfold(parse_expression("KL(q(z), p(z))", vocabulary)).xreplace(values).evalf(40))
    numeric = 0.0
    for j in (1, 2, 3):
        m, sd = float(params[f"mu{j}"]), float(params[f"sigma{j}"])
        part, _ = integrate.quad(lambda v, m=m, sd=sd: math.exp(_normal_logpdf(v, m, sd ** 2))
                                 * (_normal_logpdf(v, m, sd ** 2) - _normal_logpdf(v, 0, 1)),
                                 m - 40 * sd, m + 40 * sd, epsabs=1e-13, epsrel=1e-12, limit=200)
        numeric += part
    assert math.isclose(exact, numeric, rel_tol=1e-9, abs_tol=1e-9)


# ---------------------------------------------------------------------------- red-team regressions


@pytest.mark.parametrize("claim", [
    "E(Normal(0, 1), z**2) = 1",                                                      # crashed (no .variables)
    "ELBO(Normal(w * (x - b) / (w**2 + s**2), s**2 / (w**2 + s**2))) = log(p(x))",   # the tight case, as a Normal
    "log(2 * pi) = log(2) + log(pi)",                                                # pi is positive
])
def test_true_statements_about_normals_and_pi_are_proved(claim):
    result, step = step_of(claim, rule="definition")
    assert step.verdict is Verdict.proved and result.ok, step.reason


def test_a_step_may_name_sigma_when_an_assumption_fixes_q():
    text = one_step("log(sigma**2) = 2 * log(sigma)", extra='assume = "q(z) = Normal(0, 1)"\n')
    result = check_derivation(loads(text, "g.toml"))
    assert result.steps[0].verdict is Verdict.proved and result.ok


@pytest.mark.parametrize("assume, first", [("Normal(0, sigma**2)", "sigma"), ("Normal(mu, w**2)", "mu"),
                                           ("Normal(b, (sigma**2 - 2)**2 + mu)", "sigma")])
def test_an_assumption_in_terms_of_q_itself_is_refused_at_load_with_its_column(assume, first):
    """docs/02: exit 2 at the offending column, like a q defined through another observation's q
    (red team rt24 F2: it was a file problem, exit 1, with no file:line:column)."""
    text = one_step("KL(q(z), p(z)) >= 0", ">=", "kl-nonneg", extra=f'assume = "q(z) = {assume}"\n')
    with pytest.raises(DerivationError) as info:
        loads(text, "g.toml")
    assert "q itself" in info.value.message and info.value.column is not None
    line = text.splitlines()[info.value.line - 1]
    assert line.startswith("assume") and line[info.value.column:].startswith(first)  # 0-based column


@pytest.mark.full
def test_the_diagonal_version_refuses_a_bare_z_and_refutes_wrong_kl_multiples():
    result, step = diagonal("z**2 >= 0", rel=">=", rule="algebra")
    assert step.verdict is Verdict.error and "vector" in step.reason and not result.ok
    result, step = diagonal("KL(q(z), p(z)) >= 2 * KL(q(z), p(z))", rel=">=", rule="kl-nonneg")
    assert step.verdict is Verdict.refuted


@pytest.mark.full
def test_a_counterexample_lists_z_only_where_it_is_free():
    """rt17 gn2: E(Normal(0, v), z**2) = v binds z, and the counterexample listed "z = 10/9"."""
    text = one_step("E(Normal(0, v), z**2) = v") + '\n[params]\nv = ">= 0"\n'
    (step,) = check_derivation(loads(text, "g.toml")).steps
    assert step.verdict is Verdict.refuted and step.counterexample.value_of("v") is not None
    assert step.counterexample.value_of("z") is None
    _, free = step_of("z**2 >= z", rel=">=")
    assert free.verdict is Verdict.refuted and free.counterexample.value_of("z") is not None


def test_a_step_with_no_q_is_never_labelled_with_a_q():
    """rt17 gn1: KL(Normal(0, a), Normal(0, 1)) >= 0 has no q; its counterexample (a = 0) was
    labelled "[tight case q = p(z | x)]"."""
    text = one_step("KL(Normal(0, a), Normal(0, 1)) >= 0", rel=">=", rule="kl-nonneg") + '\n[params]\na = "real"\n'
    (step,) = check_derivation(loads(text, "g.toml")).steps
    assert step.verdict is Verdict.refuted
    (a,) = step.counterexample.value_of("a")
    assert Fraction(a) <= 0  # for a > 0 the KL is (a - 1 - log a) / 2 >= 0: it fails only where N(0, a) is none
    assert "q = " not in step.counterexample.source and step.counterexample.value_of("z") is None

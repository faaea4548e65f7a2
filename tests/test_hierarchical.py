"""Two latent layers (``latents = ["z1", "z2"]``, the chain family): the hierarchical bound,
the diffusion-style decomposition with the reverse posterior, its gap identity, wrong
decompositions refuted with exact counterexamples, a numeric cross-check against
scipy/mpmath, and clear file:line errors for malformed files.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from scipy.special import logsumexp, rel_entr

from elbo_sym.engine.check import Verdict, check_derivation, domain_text
from elbo_sym.engine.definedness import obligations
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models import ChainModel, build, families
from elbo_sym.engine.models.base import Instance, ModelSpec
from elbo_sym.engine.models.discrete import free_latents
from elbo_sym.engine.notation import to_latex, to_text, z1, z2
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.report.build import check_file

VARIANTS = Path(__file__).resolve().parent.parent / "derivations" / "variants"
FILES = ("hierarchical-bound.toml", "hierarchical-decomposition.toml", "hierarchical-gap.toml")
LAYERED = Vocabulary(latents=("z1", "z2"))

RECONSTRUCTION = "E(q(z1 | x), log(p(x | z1)))"
DENOISING = "E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))"
PRIOR_MATCHING = "KL(q(z2 | x), p(z2))"
DECOMPOSITION = f"{RECONSTRUCTION} - {DENOISING} - {PRIOR_MATCHING}"
HIERARCHICAL_ELBO = "E(q(z1, z2 | x), log(p(x, z1, z2) / q(z1, z2 | x)))"


def one_step(start: str, rel: str, expr: str, rule: str = "definition", K: int = 2, head: str = "") -> str:
    return (f'title = "t"\nlatents = ["z1", "z2"]\nK = {K}\n{head}claim = "{start} {rel} {expr}"\n'
            f'start = "{start}"\n\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


def verdict_of(start: str, rel: str, expr: str, rule: str = "definition", K: int = 2):
    result = check_derivation(loads(one_step(start, rel, expr, rule, K), "chain.toml"))
    (step,) = result.steps
    return result, step


# ---------------------------------------------------------------------------- notation


def test_the_chain_is_a_registered_family():
    assert "chain" in families()
    model = build(ModelSpec("chain", 2))
    assert isinstance(model, ChainModel) and model.describe() == "every two-layer chain with 2 states per layer"
    assert "two latent layers z1, z2" in domain_text(model)


def test_layer_notation_parses_prints_in_latex_and_round_trips():
    e = parse_expression(DECOMPOSITION, LAYERED)
    assert parse_expression(to_text(e), LAYERED) == e
    latex = to_latex(e)
    assert r"\mathbb{E}_{q(z_{1} \mid x)}\left[\log p(x \mid z_{1})\right]" in latex
    assert r"\mathrm{KL}\big(q(z_{1} \mid z_{2}, x) \,\|\, p(z_{1} \mid z_{2})\big)" in latex
    assert r"\mathrm{KL}\big(q(z_{2} \mid x) \,\|\, p(z_{2})\big)" in latex
    assert to_latex(parse_expression("Sum(Sum(p(x, z1, z2), z1), z2)", LAYERED)) == \
        r"\sum_{z_{2}} \sum_{z_{1}} p(x, z_{1}, z_{2})"
    assert to_latex(parse_expression("ELBO(q)", LAYERED)) == r"\mathcal{L}\big(q(z_{1}, z_{2} \mid x)\big)"


def test_binders_bind_the_variables_of_their_distribution():
    assert free_latents(parse_expression(DENOISING, LAYERED)) == frozenset()
    inner = parse_expression("KL(q(z1 | z2, x), p(z1 | z2))", LAYERED)
    assert free_latents(inner) == {z2}
    assert free_latents(parse_expression("Sum(p(x, z1, z2), z1)", LAYERED)) == {z2}
    assert free_latents(parse_expression("log(p(x | z1))", LAYERED)) == {z1}


@pytest.mark.parametrize("text, fragment", [
    ("p(z)", "latent variable (z1, z2)"),
    ("p(z3)", "latent variable (z1, z2)"),
    ("Sum(p(x, z1, z2), z)", "sums over a latent variable: z1 or z2"),
    ("q(x | z1)", "q is a distribution over the latent variables"),
    ("p(z1, z1)", "each variable appears once"),
    ("p(z1 | z2 | x)", "only one '|'"),
    ("log(z1)", "'z1' may only appear inside p(...) or q(...)"),
    ("E(p(x | z1), log(p(z1)))", "expected a distribution over latent variables"),
])
def test_malformed_layer_notation_is_a_clear_parse_error(text, fragment):
    with pytest.raises(ParseError) as info:
        parse_expression(text, LAYERED)
    assert fragment in info.value.message


def test_one_latent_vocabulary_is_unchanged():
    with pytest.raises(ParseError):
        parse_expression("p(z1)")
    assert to_text(parse_expression("E(q, log(p(x, z)))")) == "E(q, log(p(x, z)))"


# ---------------------------------------------------------------------------- proofs


@pytest.mark.parametrize("name", FILES)
def test_variant_files_are_proved(name):
    report = check_file(VARIANTS / name)
    assert report.ok and report.fully_proved


@pytest.mark.full
def test_the_hierarchical_bound_is_proved_by_jensen_over_both_layers():
    result, step = verdict_of("log(p(x))", ">=", HIERARCHICAL_ELBO.replace("E(", "log(E(", 1).replace(
        "log(E(", "E(", 1), rule="jensen")
    assert step.verdict is not Verdict.proved  # the same expression: a >= needs the log of an average
    start = "log(E(q(z1, z2 | x), p(x, z1, z2) / q(z1, z2 | x)))"
    result, step = verdict_of(start, ">=", HIERARCHICAL_ELBO, rule="jensen")
    assert step.verdict is Verdict.proved and "weights q(z1, z2 | x)" in step.reason
    assert result.ok


@pytest.mark.parametrize("K", [2, pytest.param(3, marks=pytest.mark.full)])  # K = 3: 0.8 s of CPU
def test_decomposition_and_gap_identity(K):
    _, step = verdict_of("ELBO(q)", "=", DECOMPOSITION, K=K)
    assert step.verdict is Verdict.proved, step.reason
    _, step = verdict_of("log(p(x)) - ELBO(q)", "=", "KL(q(z1, z2 | x), p(z1, z2 | x))", K=K)
    assert step.verdict is Verdict.proved, step.reason
    _, step = verdict_of("log(p(x))", "=", f"{DECOMPOSITION} + KL(q(z1, z2 | x), p(z1, z2 | x))", K=K)
    assert step.verdict is Verdict.proved, step.reason


def test_reverse_posterior_is_bayes_rule():
    _, step = verdict_of("q(z1 | x) * q(z2 | z1)", "=", "q(z2 | x) * q(z1 | z2, x)", rule="bayes")
    assert step.verdict is Verdict.proved, step.reason
    # and the evidence is the hierarchical bound at the exact posterior chain
    _, step = verdict_of("ELBO(q)", "=", "log(p(x)) - KL(q(z1, z2 | x), p(z1, z2 | x))")
    assert step.verdict is Verdict.proved


def test_reverse_posterior_divisor_is_a_definedness_obligation():
    model = ChainModel(2)
    found = obligations(parse_expression("E(q(z2 | x), KL(q(z1 | z2, x), p(z1 | z2)))", LAYERED), model)
    divisors = {o.expr for o in found if o.kind == "nonzero"}
    assert set(model._q_z2) <= divisors  # q(z2 | x) = sum_j q(z1 = j | x) q(z2 | z1 = j), each z2


# ---------------------------------------------------------------------------- refutations


def _exact_gap(counterexample, lhs: str, rhs: str) -> mpmath.mpf:
    """Both sides at the counterexample's named values, recomputed independently with mpmath."""
    model = ChainModel(2)
    named = dict(counterexample.values)
    blocks = {"prior": named["p(z2)"], "likelihood": named["p(x | z1)"], "q": named["q(z1 | x)"]}
    blocks.update({f"transition[{k}]": named[f"p(z1 | z2 = {k})"] for k in range(2)})
    blocks.update({f"q2[{j}]": named[f"q(z2 | z1 = {j})"] for j in range(2)})
    instance = Instance.of("counterexample", **{k: [Fraction(v) for v in vs] for k, vs in blocks.items()})
    sides = [_numeric_terms(instance)[name] for name in (lhs, rhs)]
    model.validate(instance)
    return sides[0] - sides[1]


@pytest.mark.parametrize("wrong, name", [
    (f"{RECONSTRUCTION} - {DENOISING} - KL(p(z2), q(z2 | x))", "prior matching reversed"),
    (f"{RECONSTRUCTION} - E(q(z2 | x), KL(p(z1 | z2), q(z1 | z2, x))) - {PRIOR_MATCHING}", "denoising reversed"),
])
def test_a_kl_term_in_the_wrong_direction_is_refuted_with_an_exact_counterexample(wrong, name):
    result, step = verdict_of("ELBO(q)", "=", wrong)
    assert step.verdict is Verdict.refuted, (name, step.verdict, step.reason)
    assert not result.ok
    c = step.counterexample
    assert c is not None and c.problem is None
    for label in ("p(z2)", "p(z1 | z2 = 0)", "p(z1 | z2 = 1)", "p(x | z1)", "q(z1 | x)", "q(z2 | z1 = 0)",
                  "q(z2 | z1 = 1)"):
        values = c.value_of(label)
        assert values is not None and all(Fraction(v) > 0 for v in values), label
    assert c.lhs_value != pytest.approx(c.rhs_value, rel=1e-12)
    # the printed values really break the step (independent mpmath evaluation of both sides)
    wrong_key = "prior-reversed" if name == "prior matching reversed" else "denoising-reversed"
    assert abs(_exact_gap(c, "elbo", wrong_key)) > mpmath.mpf(10) ** -30


@pytest.mark.parametrize("start, rel, expr, rule", [
    ("log(p(x))", "<=", HIERARCHICAL_ELBO, "jensen"),                        # the bound the wrong way
    ("ELBO(q)", "=", f"{RECONSTRUCTION} - {PRIOR_MATCHING}", "definition"),    # a layer's KL dropped
    ("ELBO(q)", "=", f"{RECONSTRUCTION} - {DENOISING} - KL(q(z2 | x), p(z2 | x))", "definition"),
    ("ELBO(q)", "=", f"{DECOMPOSITION} + 1/1000000", "algebra"),
    ("log(p(x)) - ELBO(q)", "=", "KL(p(z1, z2 | x), q(z1, z2 | x))", "definition"),
])
def test_wrong_two_layer_steps_are_refuted(start, rel, expr, rule):
    _, step = verdict_of(start, rel, expr, rule)
    assert step.verdict is Verdict.refuted, (expr, step.verdict, step.reason)
    assert step.counterexample is not None and step.counterexample.value_of("q(z2 | z1 = 0)") is not None


# ---------------------------------------------------------------------------- numeric cross-check


def _simplex(rng: random.Random, K: int) -> tuple[Fraction, ...]:
    raw = [rng.randint(1, 60) for _ in range(K)]
    return tuple(Fraction(v, sum(raw)) for v in raw)


def _random_instance(rng: random.Random, K: int) -> Instance:
    model = ChainModel(K)
    return model.instance(_simplex(rng, K), [_simplex(rng, K) for _ in range(K)],
                          [Fraction(rng.randint(1, 99), 100) for _ in range(K)], _simplex(rng, K),
                          [_simplex(rng, K) for _ in range(K)])


def _numeric_terms(instance: Instance) -> dict[str, float]:
    """The two-layer quantities computed directly from the tables with numpy/scipy (logsumexp for
    the evidence, rel_entr for the KL terms) -- no elbo-sym code involved."""
    K = len(instance["prior"])
    pi = [float(v) for v in instance["prior"]]
    t = [[float(v) for v in instance[f"transition[{k}]"]] for k in range(K)]
    ell = [float(v) for v in instance["likelihood"]]
    q1 = [float(v) for v in instance["q"]]
    r = [[float(v) for v in instance[f"q2[{j}]"]] for j in range(K)]
    log_joint = {(j, k): math.log(pi[k]) + math.log(t[k][j]) + math.log(ell[j]) for j in range(K) for k in range(K)}
    evidence = float(logsumexp(list(log_joint.values())))
    qj = {(j, k): q1[j] * r[j][k] for j in range(K) for k in range(K)}
    elbo = sum(w * (log_joint[jk] - math.log(w)) for jk, w in qj.items())
    q2 = [sum(qj[j, k] for j in range(K)) for k in range(K)]
    reverse = [[qj[j, k] / q2[k] for j in range(K)] for k in range(K)]       # q(z1 = j | z2 = k, x)
    posterior = {jk: math.exp(v - evidence) for jk, v in log_joint.items()}
    recon = sum(q1[j] * math.log(ell[j]) for j in range(K))
    denoise = sum(q2[k] * float(sum(rel_entr(reverse[k], [t[k][j] for j in range(K)]))) for k in range(K))
    prior_matching = float(sum(rel_entr(q2, pi)))
    return {
        "evidence": evidence, "elbo": elbo, "recon": recon, "denoise": denoise, "prior": prior_matching,
        "gap": float(sum(rel_entr([qj[jk] for jk in qj], [posterior[jk] for jk in qj]))),
        "prior-reversed": recon - denoise - float(sum(rel_entr(pi, q2))),
        "denoising-reversed": recon - prior_matching - sum(
            q2[k] * float(sum(rel_entr([t[k][j] for j in range(K)], reverse[k]))) for k in range(K)),
    }


def _exact(expr: str, model: ChainModel, instance: Instance) -> mpmath.mpf:
    values = model.sympy_values(instance)
    with mpmath.workdps(40):
        return mpmath.mpf(str(model.unfold(parse_expression(expr, LAYERED)).xreplace(values).evalf(40)))


@pytest.mark.parametrize("seed", range(8))
def test_exact_two_layer_elbo_and_evidence_agree_with_scipy(seed):
    rng = random.Random(seed)
    K = rng.choice([2, 3])
    model = ChainModel(K)
    instance = _random_instance(rng, K)
    numeric = _numeric_terms(instance)
    checks = {"log(p(x))": "evidence", "ELBO(q)": "elbo", RECONSTRUCTION: "recon", DENOISING: "denoise",
              PRIOR_MATCHING: "prior", "KL(q(z1, z2 | x), p(z1, z2 | x))": "gap"}
    for expr, key in checks.items():
        exact = float(_exact(expr, model, instance))
        assert math.isclose(exact, numeric[key], rel_tol=1e-9, abs_tol=1e-12), (expr, exact, numeric[key])
    # what the proofs establish, seen numerically
    assert numeric["elbo"] <= numeric["evidence"] + 1e-12
    assert math.isclose(numeric["elbo"], numeric["recon"] - numeric["denoise"] - numeric["prior"], rel_tol=1e-9,
                        abs_tol=1e-12)
    assert math.isclose(numeric["evidence"] - numeric["elbo"], numeric["gap"], rel_tol=1e-9, abs_tol=1e-12)


def test_tight_case_instance_is_the_exact_posterior():
    rng = random.Random(7)
    model = ChainModel(2)
    (tight, _) = model.special_instances(_random_instance(rng, 2))
    assert tight.source.startswith("tight case")
    assert abs(_exact("log(p(x)) - ELBO(q)", model, tight)) < mpmath.mpf(10) ** -30


# ---------------------------------------------------------------------------- malformed files


BASE = 'title = "t"\nK = 2\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'


@pytest.mark.parametrize("head, line, fragment", [
    ('latents = "z1"\n', 1, "latents must be a list of latent variable names"),
    ("latents = []\n", 1, "latents must be a list"),
    ("latents = [1, 2]\n", 1, "latents must be a list"),
    ('latents = ["z1", "z2", "z3", "z4", "z5", "z6"]\n', 1, "at most 5 latent layers"),  # 3..5: test_chain_deep
    ('latents = ["z1", "z3"]\n', 1, "is not supported"),
    ('latents = ["a", "b"]\n', 1, 'latents = ["a", "b"] is not supported: the layers are named "z1"'),
    ('latents = ["z2", "z1"]\n', 1, "is not supported"),
    ('model = "chain"\nlatents = ["z"]\n', 2, "two latent layers"),
    ('model = "discrete"\nlatents = ["z1", "z2"]\n', 1, 'write model = "chain"'),
    ('latents = ["z1", "z2"]\nassume = "q(z1 | x) = p(z1 | x)"\n', 2, "'assume' is not supported"),
    ('latents = ["z1", "z2"]\ndata = ["x1"]\n', 2, "'data' is not supported"),
])
def test_malformed_latents_keys_give_file_line_errors(head, line, fragment):
    with pytest.raises(DerivationError) as info:
        loads(head + BASE, "bad.toml")
    assert info.value.line == line and fragment in str(info.value)
    assert str(info.value).startswith(f"bad.toml:{line}:")


@pytest.mark.parametrize("K", ["11", "1000"])
def test_the_chain_needs_a_small_k_or_any(K):  # K = "any": tests/test_chain_deep.py
    text = 'latents = ["z1", "z2"]\n' + BASE.replace("K = 2", f"K = {K}")
    with pytest.raises(DerivationError) as info:
        loads(text, "bad.toml")
    assert info.value.line == 3 and "states per layer" in info.value.message


def test_examples_are_refused_with_their_line():
    text = 'latents = ["z1", "z2"]\n' + BASE + '\n[[example]]\nprior = ["1/2", "1/2"]\n'
    with pytest.raises(DerivationError) as info:
        loads(text, "bad.toml")
    assert info.value.line == 11 and "'example' is not supported" in info.value.message


def test_a_bad_layer_expression_in_a_file_names_line_and_column():
    text = one_step("log(p(x))", "=", "log(Sum(p(x, z1, z2), z))").replace('claim = "', '#claim = "')
    with pytest.raises(DerivationError) as info:
        loads(text, "bad.toml")
    assert info.value.line == 9 and info.value.column is not None and "z1 or z2" in info.value.message


def test_layer_names_cannot_name_observations_or_parameters():
    with pytest.raises(DerivationError) as info:
        loads('data = ["z1"]\n' + BASE, "bad.toml")
    assert info.value.line == 1 and "cannot name an observation" in info.value.message
    with pytest.raises(DerivationError) as info:
        loads(BASE + '\n[params]\nz2 = "> 0"\n', "bad.toml")
    assert "cannot name a parameter" in info.value.message


REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"


@pytest.mark.parametrize("name", ["c01_jensen_partial_sum.toml", "c02_jensen_partial_E.toml",
                                  "c07_jensen_partial_z2.toml"])
def test_jensen_over_one_layer_against_weights_over_both_is_never_proved(name):
    """Red team: log(Sum(p(x, z1), z1)) >= E(q(z1, z2 | x), log(p(x, z1) / q(z1, z2 | x))) is false
    (the right side carries the entropy of q(z2 | z1)); the Jensen rule once proved it because it
    never checked that the log's argument was the weighted sum over the same points."""
    from elbo_sym.engine.check import Verdict, check_derivation
    from elbo_sym.engine.derivation import load

    result = check_derivation(load(REDTEAM / name))
    assert not result.ok
    jensen = [r for r in result.steps if r.step.rule == "jensen"]
    assert jensen and all(r.verdict is not Verdict.proved for r in jensen)


@pytest.mark.parametrize("head, start, expr, rel, line, column, fragment", [
    # red team (rt17 ch6): z2 free in the middle term of the decomposition
    ('K = "any"\n', "-ELBO(q)", f"{PRIOR_MATCHING} + E(q(z1 | x), KL(q(z1 | z2, x), p(z1 | z2))) - {RECONSTRUCTION}",
     "=", 8, 32, "step 1: z2 is free (not bound by a Sum, E, KL or H) while start has no free layer: bind z2"),
    # ch1 and ch2 (they ended in a budget error): the start has z2 free, the step none
    ('K = "any"\n', "KL(q(z1 | z2, x), p(z1 | z2))", "0", ">=", 4, 10, "z2 is free in start"),
    ('K = "any"\n', "E(q(z1 | x), KL(q(z1 | z2, x), p(z1 | z2)))", "0", ">=", 4, 10, "z2 is free in start"),
    # three layers (t3b): z3 free in the second term
    ('latents = ["z1", "z2", "z3"]\n', "-ELBO(q)",
     "KL(q(z3 | x), p(z3)) + E(q(z2 | x), KL(q(z2 | z3, x), p(z2 | z3))) - E(q(z1 | x), log(p(x | z1)))",
     "=", 7, 32, "step 1: z3 is free"),
])
def test_a_layer_free_beside_a_closed_expression_is_refused_at_load_time(tmp_path, head, start, expr, rel, line,
                                                                          column, fragment):
    """A binder forgotten: the chain would compare a value for each z2 with one number, and the
    refutation named "z = 0" (a point of the model, not a value of a layer)."""
    from click.testing import CliRunner

    from elbo_sym import cli

    text = (f'title = "t"\nlatents = ["z1", "z2"]\n{head}start = "{start}"\n\n[[step]]\nrel = "{rel}"\n'
            f'expr = "{expr}"\nrule = "algebra"\n')
    if head.startswith("latents"):
        text = text.replace('latents = ["z1", "z2"]\n', "")
    path = tmp_path / "free.toml"
    path.write_text(text)
    with pytest.raises(DerivationError) as info:
        loads(text, str(path))
    assert info.value.line == line and fragment in str(info.value)
    result = CliRunner().invoke(cli.cli, ["check", "--no-cache", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"free.toml:{line}:{column}: " in result.output and "bind" in result.output


@pytest.mark.full
def test_pointwise_chains_stay_claims_for_every_value_of_their_free_layers():
    """Every expression with a free layer: the Markov property holds for each (z1, z2), and a
    counterexample names the layers' values, never the model's "z = n"."""
    assert verdict_of("p(z1 | z2, x)", "=", "p(x | z1) * p(z1 | z2) / Sum(p(x | z1) * p(z1 | z2), z1)")[1].verdict \
        is Verdict.proved
    _, step = verdict_of("log(p(x, z1, z2))", "=", "log(p(z2)) + 2 * log(p(z1 | z2)) + log(p(x | z1))")
    assert step.verdict is Verdict.refuted
    report = check_file(loads(one_step("log(p(x, z1, z2))", "=", "log(p(z2)) + 2 * log(p(z1 | z2)) + log(p(x | z1))"),
                              "chain.toml"))
    c = report.steps[0].counterexample
    assert c is not None and " at z1 = " in c.describe() and ", z2 = " in c.describe()
    assert " at z = " not in c.describe() and " at z = " not in "\n".join(c.lines())

"""Limits (issue 17, item 4): ``limit(f, alpha, a)`` and ``limit(IWAE(q, k), k, oo)``, decided only
by the rules that name their theorem -- ``renyi-limit`` (Li & Turner 2016: the Renyi bound tends
to ELBO(q) as alpha -> 1 and to log p(x) as alpha -> 0) and ``iwae-limit`` (Burda et al. 2016,
Theorem 1(b): IWAE(q, k) -> log p(x) for bounded weights, an explicit K).  Wrong variants are
refuted with counterexamples re-evaluated here by plain float arithmetic (the limits' values from
their definitions: the Renyi bound at alpha = 1 -/+ 1e-7, IWAE(q, n) for growing n), or refused
(not matched, or not decided): each test says which.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine import rules as rules_module
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.models.base import ModelSpec
from elbo_sym.engine.notation import Limit, to_latex, to_text
from elbo_sym.engine.parse import ParseError, Vocabulary, parse_expression
from elbo_sym.engine.reference import discrete as judge
from elbo_sym.engine.reference import second_opinion
from elbo_sym.engine.rules import RuleOutcome

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
RENYI = "1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))"
ALPHA = Vocabulary(params=("alpha",))
COUNT = Vocabulary(params=("k",), counts=(("k", 1),))


def one_step(start: str, rel: str, expr: str, rule: str, K: str = "2", params: str = 'alpha = "in (0, 1)"') -> str:
    return (f'title = "t"\nK = {K}\nstart = "{start}"\n\n[params]\n{params}\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


def step_of(text: str, budget: float = 10.0, search: bool = True):
    result = check_derivation(loads(text, "limit.toml"), budget=budget, search=search)
    (step,) = result.steps
    return step


# ------------------------------------------------------------------ independent arithmetic


def vectors(c) -> tuple[list[float], list[float], list[float]]:
    return tuple([float(Fraction(v)) for v in c.value_of(label)] for label in ("p(z)", "p(x | z)", "q(z)"))


def renyi(prior, likelihood, q, alpha: float) -> float:
    s = 1 - alpha
    return math.log(sum(b * (a * l / b) ** s for a, l, b in zip(prior, likelihood, q))) / s


def elbo(prior, likelihood, q) -> float:
    return sum(b * math.log(a * l / b) for a, l, b in zip(prior, likelihood, q))


def evidence(prior, likelihood) -> float:
    return sum(a * l for a, l in zip(prior, likelihood))


def iwae(prior, likelihood, q, n: int) -> float:
    """IWAE(q, n) by the multinomial counts of n draws (floats)."""
    ratios = [a * l / b for a, l, b in zip(prior, likelihood, q)]
    total = 0.0
    for draw in itertools.combinations_with_replacement(range(len(q)), n):
        counts = [draw.count(j) for j in range(len(q))]
        ways = math.factorial(n) / math.prod(math.factorial(c) for c in counts)
        total += ways * math.prod(q[j] ** c for j, c in enumerate(counts)) * \
            math.log(sum(c * ratios[j] for j, c in enumerate(counts)) / n)
    return total


def test_the_independent_arithmetic_shows_the_limits_it_checks():
    prior, likelihood, q = [3 / 4, 1 / 4], [1 / 5, 3 / 5], [1 / 3, 2 / 3]
    assert abs(renyi(prior, likelihood, q, 1 - 1e-7) - elbo(prior, likelihood, q)) < 1e-6
    assert abs(renyi(prior, likelihood, q, 1e-9) - math.log(evidence(prior, likelihood))) < 1e-8
    gaps = [math.log(evidence(prior, likelihood)) - iwae(prior, likelihood, q, n) for n in (1, 10, 100, 400)]
    assert all(a > b > 0 for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-3


# ------------------------------------------------------------------ the notation


def test_a_limit_is_parsed_printed_and_typeset():
    e = parse_expression(f"limit({RENYI}, alpha, 1)", ALPHA)
    assert isinstance(e, Limit) and e.point == 1 and e.variable.name == "alpha"
    assert to_text(parse_expression(to_text(e), ALPHA)) == to_text(e)
    assert to_latex(e).startswith(r"\lim_{\alpha \to 1}")
    assert not e.free_symbols & {e.variable}  # alpha is bound inside
    k = parse_expression("limit(IWAE(q, k), k, oo)", COUNT)
    assert to_latex(k).startswith(r"\lim_{k \to \infty}")


@pytest.mark.parametrize("text, vocabulary, message", [
    (f"limit({RENYI}, alpha)", ALPHA, "takes the expression, the parameter and the point"),
    (f"limit({RENYI}, beta, 1)", ALPHA, "a parameter declared in [params]"),
    (f"limit({RENYI}, alpha, 1/2)", ALPHA, "an integer literal"),
    ("limit(IWAE(q, k), k, 1)", COUNT, "its limit is at oo"),
    ("limit(log(p(x)), alpha, 1)", ALPHA, "does not depend on 'alpha'"),
])
def test_malformed_limits_are_refused_where_they_are_written(text, vocabulary, message):
    with pytest.raises(ParseError) as info:
        parse_expression(text, vocabulary)
    assert message in info.value.message


def test_a_limit_over_the_wrong_variable_is_refused_at_load_with_exit_2(tmp_path, capsys):
    """A refusal, not a refutation: limit over beta of an expression in alpha has no meaning."""
    path = tmp_path / "wrong-variable.toml"
    path.write_text(one_step(f"limit({RENYI}, beta, 1)", "=", "ELBO(q)", "renyi-limit",
                             params='alpha = "in (0, 1)"\nbeta = "in (0, 1)"'))
    assert main(["check", "--no-cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert "wrong-variable.toml:3:" in err and "does not depend on 'beta'" in err


def test_the_gaussian_family_has_no_limits():
    with pytest.raises(DerivationError) as info:
        loads('title = "t"\nmodel = "gaussian"\nstart = "limit(log(t), t, 1)"\n[params]\nt = "> 0"\n'
              '[[step]]\nrel = "="\nexpr = "0"\nrule = "algebra"\n', "g.toml")
    assert "one-layer discrete family" in str(info.value)


# ------------------------------------------------------------------ the rules prove


@pytest.mark.parametrize("K", ["2", "3", '"any"'])
def test_the_renyi_bound_tends_to_the_elbo_as_alpha_tends_to_1(K):
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit", K=K))
    assert step.verdict is Verdict.proved, step.reason
    assert "derivative" in step.reason


@pytest.mark.parametrize("K", ["2", '"any"'])
def test_the_renyi_bound_tends_to_the_evidence_as_alpha_tends_to_0(K):
    step = step_of(one_step("log(p(x))", "=", f"limit({RENYI}, alpha, 0)", "renyi-limit", K=K))
    assert step.verdict is Verdict.proved, step.reason


def test_for_an_explicit_k_the_limit_at_1_may_come_from_above():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit", params='alpha = "> 1"'))
    assert step.verdict is Verdict.proved, step.reason


def test_with_densities_alpha_above_1_is_not_decided():
    """A refusal: for densities E_q[w**s] with s < 0 may be infinite; not proved, never refuted."""
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit", K='"any"',
                            params='alpha = "> 1"'), search=False)
    assert step.verdict is not Verdict.proved and step.verdict is not Verdict.refuted, step.reason
    text = one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit", K='"any"', params='alpha = "> 1"')
    outcome = rules_module.renyi_limit(parse_expression(f"limit({RENYI}, alpha, 1)", ALPHA), "=",
                                       parse_expression("ELBO(q)"), loads(text, "t.toml").model())
    assert not outcome.proved and any("[0, 1)" in text and not held for text, held in outcome.conditions)


def test_a_limit_at_a_point_outside_the_domain_is_not_decided():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit",
                            params='alpha = "in (0, 1/2)"'))
    # 1 is not a limit point of (0, 1/2): the limit has no value, so no rule is even asked
    assert step.verdict is Verdict.error and "has no certified value" in step.reason, step.reason


@pytest.mark.parametrize("K", ["2", "3"])
def test_iwae_tends_to_the_evidence_for_an_explicit_k(K):
    step = step_of(one_step("limit(IWAE(q, k), k, oo)", "=", "log(p(x))", "iwae-limit", K=K,
                            params='k = "integer >= 1"'))
    assert step.verdict is Verdict.proved, step.reason
    assert "Theorem 1(b)" in step.reason


def test_iwae_limit_is_refused_for_densities():
    """A refusal, not a refutation: with densities the weights need not be bounded (at most
    `checked` on the explicit K the search visits, which fails the run)."""
    step = step_of(one_step("limit(IWAE(q, k), k, oo)", "=", "log(p(x))", "iwae-limit", K='"any"',
                            params='k = "integer >= 1"'), search=False)
    assert step.verdict in (Verdict.checked, Verdict.error), step.reason
    text = one_step("limit(IWAE(q, k), k, oo)", "=", "log(p(x))", "iwae-limit", K='"any"', params='k = "integer >= 1"')
    outcome = rules_module.iwae_limit(parse_expression("limit(IWAE(q, k), k, oo)", COUNT), "=",
                                      parse_expression("log(p(x))"), loads(text, "t.toml").model())
    assert not outcome.proved and any("bounded" in text and not held for text, held in outcome.conditions)


def test_algebra_does_not_take_limits():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "algebra"), search=False)
    assert step.verdict is not Verdict.proved
    text = one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "algebra")
    outcome = rules_module.equality(parse_expression(f"limit({RENYI}, alpha, 1)", ALPHA), "=",
                                    parse_expression("ELBO(q)"), loads(text, "t.toml").model())
    assert not outcome.proved and "renyi-limit or iwae-limit" in outcome.reason


def test_an_unknown_limit_is_not_decided():
    """A refusal: no theorem gives limit(alpha * log(p(x)), alpha, 1) its value here."""
    step = step_of(one_step("limit(alpha * ELBO(q), alpha, 1)", "=", "ELBO(q)", "renyi-limit"))
    assert step.verdict is Verdict.error and "has no certified value" in step.reason, step.reason


# ------------------------------------------------------------------ wrong variants are refuted


EXAMPLE = ('\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n'
           'params = { alpha = "1/2" }\n')


def test_the_renyi_limit_at_1_to_the_evidence_is_refuted():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "log(p(x))", "renyi-limit"))
    assert step.verdict is Verdict.refuted, step.reason
    prior, likelihood, q = vectors(step.counterexample)
    near = renyi(prior, likelihood, q, 1 - 1e-7)  # the limit from its definition
    assert abs(near - elbo(prior, likelihood, q)) < 1e-5
    assert abs(near - math.log(evidence(prior, likelihood))) > 1e-4


def test_the_renyi_limit_at_0_to_the_elbo_is_refuted():
    """alpha -> 0 gives log p(x), not the ELBO (the two ends of the family swapped)."""
    step = step_of(one_step(f"limit({RENYI}, alpha, 0)", "=", "ELBO(q)", "renyi-limit", K='"any"'))
    assert step.verdict is Verdict.refuted, step.reason
    prior, likelihood, q = vectors(step.counterexample)
    near = renyi(prior, likelihood, q, 1e-9)
    assert abs(near - math.log(evidence(prior, likelihood))) < 1e-6
    assert abs(near - elbo(prior, likelihood, q)) > 1e-4


def test_the_renyi_limit_with_the_sign_of_the_gap_dropped_is_refuted():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "log(p(x)) + KL(q(z), p(z | x))", "renyi-limit"))
    assert step.verdict is Verdict.refuted, step.reason
    prior, likelihood, q = vectors(step.counterexample)
    joint = [a * l for a, l in zip(prior, likelihood)]
    posterior = [j / sum(joint) for j in joint]
    kl = sum(b * math.log(b / p) for b, p in zip(q, posterior))
    assert abs(renyi(prior, likelihood, q, 1 - 1e-7) - (math.log(sum(joint)) + kl)) > 1e-4


@pytest.mark.parametrize("K", ["2", "3"])
def test_iwae_limit_to_the_elbo_is_refuted(K):
    step = step_of(one_step("limit(IWAE(q, k), k, oo)", "=", "ELBO(q)", "iwae-limit", K=K,
                            params='k = "integer >= 1"'))
    assert step.verdict is Verdict.refuted, step.reason
    prior, likelihood, q = vectors(step.counterexample)
    log_evidence = math.log(evidence(prior, likelihood))
    far = iwae(prior, likelihood, q, 60)
    assert 0 <= log_evidence - far < 0.1 * (log_evidence - elbo(prior, likelihood, q))  # tends to log p(x)
    assert log_evidence - elbo(prior, likelihood, q) > 1e-6


def test_a_limit_with_a_wrong_direction_is_not_proved():
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", ">", "ELBO(q)", "renyi-limit") + EXAMPLE)
    assert step.verdict is not Verdict.proved


# ------------------------------------------------------------------ second opinion


def instance(**params):
    return judge.Instance("t", (Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)),
                          (Fraction(1, 5), Fraction(3, 5), Fraction(1, 2)),
                          (Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)),
                          params=tuple((n, Fraction(v)) for n, v in params.items()))


def test_the_reference_evaluator_takes_limits_by_evaluating_near_the_point():
    prior, likelihood, q = [1 / 2, 1 / 3, 1 / 6], [1 / 5, 3 / 5, 1 / 2], [1 / 4, 1 / 4, 1 / 2]
    inst = instance(alpha=Fraction(1, 3))
    at_1 = float(judge.show(judge.evaluate(parse_expression(f"limit({RENYI}, alpha, 1)", ALPHA), inst)))
    at_0 = float(judge.show(judge.evaluate(parse_expression(f"limit({RENYI}, alpha, 0)", ALPHA), inst)))
    assert math.isclose(at_1, elbo(prior, likelihood, q), rel_tol=1e-12)
    assert math.isclose(at_0, math.log(evidence(prior, likelihood)), rel_tol=1e-12)
    at_oo = judge.evaluate(parse_expression("limit(IWAE(q, k), k, oo)", COUNT), instance(k=2))
    assert math.isclose(float(judge.show(at_oo)), math.log(evidence(prior, likelihood)), rel_tol=1e-12)


def test_the_second_opinion_disagrees_with_a_wrong_limit():
    spec = ModelSpec("discrete", 2, params=loads(one_step("log(p(x))", "=", "log(p(x))", "algebra"),
                                                 "p.toml").model().spec.params)
    limit = parse_expression(f"limit({RENYI}, alpha, 1)", ALPHA)
    right = second_opinion(limit, "=", parse_expression("ELBO(q)"), spec, 2)
    assert right.status == "agrees", right.describe()
    wrong = second_opinion(limit, "=", parse_expression("log(p(x))"), spec, 2)
    assert wrong.disagrees, wrong.describe()


def test_a_limit_rule_that_proves_too_much_is_caught(monkeypatch):
    """A broken renyi-limit (always 'proved') must not make alpha -> 1 give log p(x)."""
    def reckless(prev, rel, new, model):
        return RuleOutcome(True, "reckless")

    from elbo_sym.engine import check as check_module
    monkeypatch.setitem(rules_module.RULES, "renyi-limit", reckless)
    monkeypatch.setitem(check_module.RULES, "renyi-limit", reckless)
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "log(p(x))", "renyi-limit", K='"any"'))
    assert step.verdict is not Verdict.proved, step.reason


# ------------------------------------------------------------------ literature


@pytest.mark.parametrize("name", ["renyi-limit.toml", "iwae-limit.toml"])
def test_the_literature_files_are_proved(name):
    result = check_derivation(loads((LITERATURE / name).read_text(), name))
    assert all(s.verdict is Verdict.proved for s in result.steps) and result.established


# ------------------------------------------------------------------ red team round 7

INFINITE = "limit(1 / (1 - alpha), alpha, 1)"  # +oo over alpha in (0, 1): no value, never an opaque term


@pytest.mark.parametrize("start, rel, expr, rule, K, params", [
    # oo > oo: a premise beta > 1 and the same uncertified limit on both sides
    (f"{INFINITE} + beta", ">", f"{INFINITE} + 1", "assumption", "2", 'alpha = "in (0, 1)"\nbeta = "real"'),
    # oo - oo: the limit cancels against itself inside a KL step
    ("0", ">=", f"{INFINITE} - {INFINITE} - KL(q(z), p(z | x))", "kl-nonneg", "2", 'alpha = "in (0, 1)"'),
    (f"{INFINITE} + log(p(x))", ">=", f"{INFINITE} + ELBO(q)", "kl-nonneg", '"any"', 'alpha = "in (0, 1)"'),
    # 0 is not a limit point of (1/2, 1): the Renyi limit there has no meaning
    (f"limit({RENYI}, alpha, 0) + log(p(x))", ">=", f"limit({RENYI}, alpha, 0) + ELBO(q)", "kl-nonneg", "2",
     'alpha = "in (1/2, 1)"'),
])
def test_a_limit_without_a_certified_value_never_cancels_into_a_proof(start, rel, expr, rule, K, params):
    text = one_step(start, rel, expr, rule, K, params)
    if rule == "assumption":
        text = text.replace('K = 2\n', 'K = 2\nassume = ["beta > 1"]\n', 1)
    step = step_of(text)
    assert step.verdict is Verdict.error and "has no certified value" in step.reason, (step.verdict, step.reason)


def test_a_claim_with_an_uncertified_limit_is_not_established():
    text = one_step("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))", "bayes")
    text = text.replace('start =', f'claim = "log(p(x)) - ELBO(q) + {INFINITE} - {INFINITE} = KL(q(z), p(z | x))"'
                                   f'\nstart =', 1)
    result = check_derivation(loads(text, "limit.toml"), budget=10.0)
    assert result.steps[0].verdict is Verdict.proved and not result.established and not result.ok


@pytest.mark.parametrize("domain", ['"in (0, 1]"', '"in [1/2, 1]"'])
def test_the_renyi_limit_at_1_is_proved_when_1_is_in_alphas_domain(domain):
    # the limit's expression need not be defined at alpha = 1 itself, only near it (a wrong refutation
    # "division by zero: 1 - alpha is 0" before); the value is recomputed in the tests above
    step = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "ELBO(q)", "renyi-limit", params=f"alpha = {domain}"))
    assert step.verdict is Verdict.proved, step.reason


@pytest.mark.parametrize("K", ["2", '"any"'])
def test_a_counterexample_gives_no_value_to_a_parameter_bound_inside_the_limit(K):
    """alpha is bound by limit(..., alpha, 1): the refutation holds whatever alpha is, so the
    counterexample shows no "alpha = 3/8" (red team round 7); alpha also free in the step is shown."""
    bound = step_of(one_step(f"limit({RENYI}, alpha, 1)", "=", "log(p(x))", "renyi-limit", K=K))
    assert bound.verdict is Verdict.refuted, bound.reason
    labels = [label for label, _ in bound.counterexample.values]
    assert "alpha" not in labels and {"p(z)", "p(x | z)", "q(z)"} <= set(labels), labels
    prior, likelihood, q = vectors(bound.counterexample)  # the shown values alone refute it
    assert abs(renyi(prior, likelihood, q, 1 - 1e-7) - math.log(evidence(prior, likelihood))) > 1e-4
    free = step_of(one_step(f"limit({RENYI}, alpha, 1) + alpha", "=", "log(p(x)) + alpha", "renyi-limit", K=K))
    assert free.verdict is Verdict.refuted, free.reason
    assert free.counterexample.value_of("alpha") is not None

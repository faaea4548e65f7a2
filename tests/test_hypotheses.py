"""Hypotheses beyond ``q(...) = ...`` (issue 17, item 1): `assume` as a list, relational and
``!=`` premises that restrict the domain, ``rule = "assumption"`` using a premise in a chain,
and the strict ``kl-nonneg`` (Gibbs: KL > 0 for two different distributions).

Every counterexample is re-evaluated here with plain floats (or fractions) from its printed
values, independently of the checker: it must violate the step *and satisfy every premise*.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from suite_sizes import sized

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads, split_premise

# the campaigns here are sized (tests/suite_sizes.py): small in make test, full size in make test-full
pytestmark = pytest.mark.sized

HEAD = 'title = "t"\nK = "any"\n'
TWO = 'title = "t"\nK = "any"\ndata = ["x1", "x2"]\n'


def check_text(text: str, budget: float = 30.0):
    return check_derivation(loads(text, "premises.toml"), budget=budget)


def floats(counterexample, label: str) -> list[float]:
    return [float(Fraction(v)) for v in counterexample.value_of(label)]


def elbo(prior, likelihood, q) -> float:
    return sum(qk * math.log(pk * lk / qk) for pk, lk, qk in zip(prior, likelihood, q))


def posterior(prior, likelihood) -> list[float]:
    joint = [p * lik for p, lik in zip(prior, likelihood)]
    return [j / sum(joint) for j in joint]


# ------------------------------------------------------------------ reading assume


def test_assume_is_a_list_of_definitions_and_premises():
    d = loads(TWO + 'assume = [\n  "q(z | x2) = p(z | x2)",\n  "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)",\n'
                    '  "q(z | x1) != p(z | x1)",\n]\nstart = "log(p(x1))"\n\n[[step]]\nrel = "="\n'
                    'expr = "log(p(x1))"\nrule = "algebra"\n', "a.toml")
    assert [a.lhs.text for a in d.assumptions] == ["q(z | x2)"]
    assert [(p.lhs.text, p.rel, p.rhs.text) for p in d.premises] == [
        ("ELBO(q(z | x1), x2)", ">=", "ELBO(q(z | x1), x1)"), ("q(z | x1)", "!=", "p(z | x1)")]
    assert [p.lhs.line for p in d.premises] == [6, 7]  # each premise where it is written
    assert d.spec.premises == d.premises and d.model().spec.premises == d.premises


def test_a_single_string_premise_and_a_single_definition_still_read():
    d = loads(HEAD + 'assume = "q(z) != p(z | x)"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\n'
                     'expr = "log(p(x))"\nrule = "algebra"\n', "b.toml")
    assert d.assumptions == () and d.premises[0].rel == "!="
    d = loads(HEAD + 'assume = "q(z) = p(z | x)"\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\n'
                     'expr = "log(p(x))"\nrule = "algebra"\n', "c.toml")
    assert d.premises == () and d.assumptions[0].rhs.text == "p(z | x)"


@pytest.mark.parametrize("text, expected", [
    ("q(z) != p(z | x)", ("q(z)", "!=", "p(z | x)")),
    ("ELBO(q) >= log(p(x)) - 1", ("ELBO(q)", ">=", "log(p(x)) - 1")),
    ("a != b != c", None),
    ("a != b >= c", None),
    ("a <= b", ("a", "<=", "b")),
])
def test_split_premise(text, expected):
    assert split_premise(text) == expected


STEP = 'start = "log(p(x))"\n\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n'


@pytest.mark.parametrize("assume, line, column, fragment", [
    ('assume = [\n  "q(z) != p(z | x)",\n  "ELBO(q) >= foo(z)",\n]\n', 5, 15, "unknown function 'foo'"),
    ('assume = ["q(z) >= p(z) >= p(x)"]\n', 3, None, "exactly one relation"),
    ('assume = ["q(z) != p(z | x)", 3]\n', 3, None, "each assumption must be a string"),
    ('assume = "p(x) = 1/2"\n', 3, None, "only supported assumption with = fixes q"),
    ('assume = 3\n', 3, None, "a list of them"),
    ('assume = [' + ", ".join(['"ELBO(q) <= log(p(x))"'] * 9) + ']\n', 3, None, "too many premises"),
])
def test_bad_assumptions_name_file_line_and_column(assume, line, column, fragment):
    with pytest.raises(DerivationError) as info:
        loads(HEAD + assume + STEP, "bad.toml")
    error = info.value
    assert fragment in error.message and error.line == line, str(error)
    if column is not None:
        assert error.column is not None and error.column + 1 == column, str(error)
    assert str(error).startswith(f"bad.toml:{line}")


@pytest.mark.parametrize("model, fragment", [
    ('model = "gaussian"\nD = 2\n', "with D > 1 q is the free diagonal Gaussian (no assume)"),
])
def test_premises_outside_the_premise_families_are_refused_at_their_line(model, fragment):
    text = 'title = "t"\n' + model + 'assume = "ELBO(q) <= log(p(x))"\n' + STEP
    with pytest.raises(DerivationError) as info:
        loads(text, "g.toml")
    assert fragment in info.value.message and info.value.line == model.count("\n") + 2


# ------------------------------------------------------------------ premises restrict the search

EM_PREMISE = 'assume = "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)"\n'


def _em_step(rel: str, rule: str = "algebra", premise: str = EM_PREMISE, K: str = "3") -> str:
    return (TWO.replace('"any"', K) + premise + f'start = "ELBO(q(z | x1), x2)"\n\n[[step]]\nrel = "{rel}"\n'
            f'expr = "ELBO(q(z | x1), x1)"\nrule = "{rule}"\n')


@pytest.mark.full
def test_an_instance_violating_a_premise_is_no_counterexample():
    """ELBO(q1, x2) >= ELBO(q1, x1) is no identity: without the premise it is refuted, with it
    every instance searched satisfies it (it is the premise), so it is at most checked."""
    plain = check_text(_em_step(">=", premise="")).steps[0]
    assert plain.verdict is Verdict.refuted
    premised = check_text(_em_step(">=")).steps[0]
    assert premised.verdict is Verdict.checked, premised.reason
    assert "outside the premises left out" in premised.reason


def test_a_wrong_direction_is_refuted_at_an_instance_that_satisfies_the_premise():
    result = check_text(_em_step("<")).steps[0]
    assert result.verdict is Verdict.refuted
    c = result.counterexample
    prior = floats(c, "p(z)")
    l1, l2, q1 = floats(c, "p(x1 | z)"), floats(c, "p(x2 | z)"), floats(c, "q(z | x1)")
    at_x2, at_x1 = elbo(prior, l2, q1), elbo(prior, l1, q1)
    assert at_x2 >= at_x1  # the premise holds at the counterexample ...
    assert not at_x2 < at_x1  # ... and the step fails there


PREMISE_SEARCH_BUDGET = sized(10.0, 30.0)
"""A true step with K = "any" is searched up the K ladder until half its budget is used, and the
test waits that out: K = 2, 3, 5, 8 and the Gaussian densities, where the premise is undecided,
are searched whatever the budget (under 2 s on the loaded 2-core machine), so `make test` waits
5 s and `make soundness` the original 15 s."""


@pytest.mark.full
def test_the_search_report_counts_the_premise_undecided_instances():
    """A premise the exact arithmetic cannot decide at a Gaussian density is left out and said."""
    result = check_text(HEAD + 'assume = "q(z) != p(z | x)"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">="\n'
                               'expr = "ELBO(q) + 0 * p(x)"\nrule = "algebra"\n', budget=PREMISE_SEARCH_BUDGET).steps[0]
    assert result.verdict is Verdict.checked
    assert result.searched is not None and any("premise" in note for note in result.searched.notes)


def test_premises_no_model_satisfies_fail_the_file():
    text = HEAD + 'assume = ["ELBO(q) > log(p(x))"]\nstart = "log(p(x))"\n\n[[step]]\nrel = "="\n' \
                  'expr = "log(p(x))"\nrule = "algebra"\n'
    result = check_text(text)
    assert not result.ok and any("no instance was shown to satisfy every premise" in p for p in result.problems)
    assert result.steps[0].verdict is Verdict.error


def test_an_undefined_premise_fails_the_file():
    text = HEAD + 'assume = ["log(p(x) - 1/2) <= 0"]\n' + STEP
    result = check_text(text)
    assert not result.ok and any("not shown to be defined" in p for p in result.problems)


# ------------------------------------------------------------------ the literature files and their wrong variants

LITERATURE = Path(__file__).resolve().parent.parent / "derivations" / "literature"
MINE = ("tight-only-if.toml", "free-energy-lemma.toml", "em-monotone-premise.toml", "cremer-gap-split.toml",
        "elbo-order-is-kl-order.toml")


def literature(name: str) -> str:
    return (LITERATURE / name).read_text("utf-8")


@pytest.mark.parametrize("name", MINE)
def test_the_premise_files_are_proved_for_every_latent_space(name):
    derivation = loads(literature(name), name)
    assert derivation.K == "any" and derivation.premises
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok, [(r.step.index, r.verdict, r.reason) for r in result.steps]
    for step in result.steps:  # the reference evaluator judged each step inside the premises
        assert "reference evaluator agrees" in step.second_opinion, step.second_opinion


def fractions_of(counterexample, label: str) -> list[Fraction]:
    return [Fraction(v) for v in counterexample.value_of(label)]


def exact_posterior(prior, likelihood) -> list[Fraction]:
    joint = [p * lik for p, lik in zip(prior, likelihood)]
    return [j / sum(joint) for j in joint]


def test_tight_only_if_without_its_premise_is_refuted_at_the_posterior():
    text = literature("tight-only-if.toml").replace('assume = "q(z) != p(z | x)"\n', "")
    text = text[:text.index("[[example]]")]
    step = check_text(text).steps[1]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    prior, likelihood, q = fractions_of(c, "p(z)"), fractions_of(c, "p(x | z)"), fractions_of(c, "q(z)")
    assert q == exact_posterior(prior, likelihood)  # q is the posterior: the gap is exactly 0
    evidence = sum(p * lik for p, lik in zip(prior, likelihood))
    assert math.isclose(elbo([float(v) for v in prior], [float(v) for v in likelihood], [float(v) for v in q]),
                        math.log(evidence), rel_tol=0, abs_tol=1e-12)


def test_tight_only_if_with_the_wrong_premise_is_refuted_inside_that_premise():
    """q != p(z) says nothing about the posterior: the counterexample has q = posterior != prior."""
    text = literature("tight-only-if.toml").replace('"q(z) != p(z | x)"', '"q(z) != p(z)"')
    text = text[:text.index("[[example]]")]
    step = check_text(text).steps[1]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    prior, likelihood, q = fractions_of(c, "p(z)"), fractions_of(c, "p(x | z)"), fractions_of(c, "q(z)")
    assert q != prior and "every premise holds there" in c.source  # the (wrong) premise holds there
    assert q == exact_posterior(prior, likelihood)  # and the strict step fails


def test_tight_only_if_holds_for_the_premise_written_the_other_way_round_and_not_in_the_wrong_direction():
    swapped = literature("tight-only-if.toml").replace('"q(z) != p(z | x)"', '"p(z | x) != q(z)"')
    assert check_text(swapped).fully_proved
    wrong = literature("tight-only-if.toml").replace('rel = ">"', 'rel = "<"')
    assert check_text(wrong).steps[1].verdict is Verdict.refuted


def test_a_strict_bound_needs_the_premise_about_the_kls_own_arguments():
    """The premise q != p(z | x) does not make KL(q, p(z)) strictly positive (q may be the prior)."""
    text = (HEAD + 'assume = "q(z) != p(z | x)"\nstart = "E(q, log(p(x | z))) - KL(q(z), p(z))"\n\n'
            '[[step]]\nrel = "<"\nexpr = "E(q, log(p(x | z)))"\nrule = "kl-nonneg"\n')
    step = check_text(text).steps[0]
    assert step.verdict is Verdict.refuted and "needs the premise" in step.outcome.reason
    c = step.counterexample
    prior, likelihood, q = fractions_of(c, "p(z)"), fractions_of(c, "p(x | z)"), fractions_of(c, "q(z)")
    assert q == prior and q != exact_posterior(prior, likelihood)


def test_free_energy_strict_without_the_premise_is_refuted():
    text = literature("free-energy-lemma.toml").replace('assume = "q(z) != p(z | x)"\n', "")
    step = check_text(text).steps[2]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    assert fractions_of(c, "q(z)") == exact_posterior(fractions_of(c, "p(z)"), fractions_of(c, "p(x | z)"))


def test_free_energy_in_the_wrong_direction_is_refuted_inside_the_premise():
    text = literature("free-energy-lemma.toml").replace('rel = "<"', 'rel = ">"')
    step = check_text(text).steps[2]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    prior, likelihood, q = floats(c, "p(z)"), floats(c, "p(x | z)"), floats(c, "q(z)")
    assert max(abs(a - b) for a, b in zip(q, posterior(prior, likelihood))) > 0  # q differs from the posterior
    assert elbo(prior, likelihood, q) < math.log(sum(p * lik for p, lik in zip(prior, likelihood)))


def _em_values(c):
    prior = fractions_of(c, "p(z)")
    l1, l2 = fractions_of(c, "p(x1 | z)"), fractions_of(c, "p(x2 | z)")
    q1 = fractions_of(c, "q(z | x1)")
    assert q1 == exact_posterior(prior, l1)  # the E-step's definition holds at every instance
    fl = [float(v) for v in prior]
    return elbo(fl, [float(v) for v in l2], [float(v) for v in q1]), elbo(fl, [float(v) for v in l1],
                                                                           [float(v) for v in q1])


def test_em_without_the_m_step_premise_is_refuted_and_the_evidence_can_fall():
    text = literature("em-monotone-premise.toml").replace('  "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)",\n', "")
    result = check_text(text)
    step = result.steps[2]
    assert step.verdict is Verdict.refuted and not result.ok
    new_bound, old_bound = _em_values(step.counterexample)
    assert new_bound < old_bound


def test_em_with_the_premise_in_the_wrong_direction_is_refuted_inside_it():
    text = literature("em-monotone-premise.toml").replace(
        '"ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)"', '"ELBO(q(z | x1), x2) <= ELBO(q(z | x1), x1)"')
    step = check_text(text).steps[2]
    assert step.verdict is Verdict.refuted
    new_bound, old_bound = _em_values(step.counterexample)
    assert new_bound <= old_bound and not new_bound >= old_bound  # premise holds, step fails


def test_cremer_without_the_premise_is_refuted_where_the_encoder_beats_q_star():
    text = literature("cremer-gap-split.toml").replace(
        'assume = "ELBO(q(z | x2), x1) >= ELBO(q(z | x1), x1)"\n', "")
    step = check_text(text).steps[1]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    prior, l1 = [float(v) for v in fractions_of(c, "p(z)")], [float(v) for v in fractions_of(c, "p(x1 | z)")]
    q1, q2 = ([float(v) for v in fractions_of(c, label)] for label in ("q(z | x1)", "q(z | x2)"))
    assert elbo(prior, l1, q2) < elbo(prior, l1, q1)  # a negative amortization gap


def test_cremer_with_a_dropped_term_is_refuted():
    text = literature("cremer-gap-split.toml").replace(
        'expr = "log(p(x1)) - ELBO(q(z | x2), x1)"', 'expr = "log(p(x1)) - ELBO(q(z | x1), x2)"')
    assert check_text(text).steps[1].verdict is not Verdict.proved


# ------------------------------------------------------------------ the assumption rule is a theorem on an exact form

PREMISED = TWO.replace('"any"', "3") + EM_PREMISE


@pytest.mark.parametrize("start, rel, expr", [
    ("ELBO(q(z | x1), x2) + 1", ">", "ELBO(q(z | x1), x1) + 1"),  # >= does not give >
    ("2 * ELBO(q(z | x1), x2)", ">=", "2 * ELBO(q(z | x1), x1)"),  # scaling is another theorem
    ("ELBO(q(z | x1), x2) + log(p(x1))", ">=", "ELBO(q(z | x1), x1) + log(p(x2))"),  # different terms added
    ("ELBO(q(z | x1), x2)", "=", "ELBO(q(z | x1), x1)"),  # an inequality gives no equation
])
def test_the_assumption_rule_refuses_what_the_premise_does_not_say(start, rel, expr):
    from elbo_sym.engine.rules import RULES

    d = loads(PREMISED + f'start = "{start}"\n\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "assumption"\n',
              "a.toml")
    outcome = RULES["assumption"](d.start.expr, rel, d.steps[0].expr, d.model())
    assert not outcome.proved, outcome.reason


@pytest.mark.parametrize("start, rel, expr", [
    ("ELBO(q(z | x1), x2) + log(p(x1))", ">=", "ELBO(q(z | x1), x1) + log(p(x1))"),  # same term added
    ("ELBO(q(z | x1), x1) - 3", "<=", "ELBO(q(z | x1), x2) - 3"),  # written the other way round
    ("log(p(x2)) - KL(q(z | x1), p(z | x2))", ">=", "ELBO(q(z | x1), x1)"),  # a side rewritten by an identity
])
def test_the_assumption_rule_proves_the_premise_up_to_identities(start, rel, expr):
    result = check_text(PREMISED + f'start = "{start}"\n\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\n'
                                   f'rule = "assumption"\n')
    assert result.steps[0].verdict is Verdict.proved, result.steps[0].reason


def test_an_example_outside_the_premises_fails_the_file():
    text = literature("tight-only-if.toml").replace('q = ["1/2", "1/2"]', 'q = ["1/4", "3/4"]')
    text = text[:text.index("[example.expect]")]
    result = check_text(text)
    assert not result.ok and not result.examples[0].holds
    assert "not shown to satisfy every premise" in result.examples[0].failures[0]


# ------------------------------------------------------------------ the reference evaluator decides premises itself


def _reference_instance(prior, likelihood, q):
    from elbo_sym.engine.reference.discrete import Instance

    return Instance("test", tuple(map(Fraction, prior)), tuple(map(Fraction, likelihood)), tuple(map(Fraction, q)))


def _parsed(text: str):
    from elbo_sym.engine.parse import Vocabulary, parse_expression

    return parse_expression(text, Vocabulary(("x",), (), ("z",)))


@pytest.mark.parametrize("q, rel, expected", [
    (("1/4", "3/4"), "!=", False),  # q is the posterior (1/4, 3/4): equal at every z
    (("1/3", "2/3"), "!=", True),  # differ at both z
    (("1/4", "3/4"), ">=", None),  # both sides are log(1/2): intervals cannot certify >=, so not used
    (("1/4", "3/4"), ">", None),  # ... nor > (undecided: such an instance is never used)
    (("1/3", "2/3"), ">", True),
    (("1/3", "2/3"), "<", False),
])
def test_premise_holds_in_the_reference_evaluator(q, rel, expected):
    from elbo_sym.engine.reference.discrete import premise_holds

    inst = _reference_instance(("1/2", "1/2"), ("1/4", "3/4"), q)
    lhs, rhs = ("q(z)", "p(z | x)") if rel == "!=" else ("log(p(x))", "ELBO(q)")
    assert premise_holds(_parsed(lhs), rel, _parsed(rhs), inst) is expected


def test_the_second_opinion_judges_a_step_only_inside_the_premises():
    from elbo_sym.engine.reference import second_opinion

    premised = loads(_em_step(">="), "em.toml")
    plain = loads(_em_step(">=", premise=""), "em.toml")
    lhs, step = premised.start.expr, premised.steps[0]
    inside = second_opinion(lhs, step.rel, step.expr, premised.spec, premised.K)
    assert inside.status == "agrees" and inside.outside > 0 and "outside the premises" in inside.describe()
    outside = second_opinion(lhs, step.rel, step.expr, plain.spec, plain.K)
    assert outside.status == "disagrees"


def test_the_second_opinion_is_undecided_when_no_instance_satisfies_the_premises():
    from elbo_sym.engine.reference import second_opinion

    d = loads(HEAD.replace('"any"', "2") + 'assume = "ELBO(q) > log(p(x))"\nstart = "log(p(x))"\n\n[[step]]\n'
                                         'rel = "<"\nexpr = "ELBO(q)"\nrule = "assumption"\n', "no.toml")
    opinion = second_opinion(d.start.expr, "<", d.steps[0].expr, d.spec, d.K)
    assert opinion.status == "undecided" and "no instance was shown to satisfy every premise" in opinion.detail


# ------------------------------------------------------------------ premises for every z, on numbers; the domain


def test_a_premise_with_a_free_z_holds_for_every_z():
    """KL(q, p(z)) <= log 2 follows from q(z) <= 2 p(z) at every z; without it it is refuted."""
    body = 'start = "KL(q(z), p(z))"\n\n[[step]]\nrel = "<="\nexpr = "log(2)"\nrule = "algebra"\n'
    premised = check_text(HEAD.replace('"any"', "2") + 'assume = ["q(z) <= 2 * p(z)", "p(x) != 1/2"]\n' + body,
                          budget=30.0)
    step = premised.steps[0]
    assert step.verdict is Verdict.checked, step.reason
    plain = check_text(HEAD.replace('"any"', "2") + body, budget=30.0).steps[0]
    assert plain.verdict is Verdict.refuted
    prior, q = floats(plain.counterexample, "p(z)"), floats(plain.counterexample, "q(z)")
    assert sum(qk * math.log(qk / pk) for qk, pk in zip(q, prior)) > math.log(2)
    assert any(qk > 2 * pk for qk, pk in zip(q, prior))  # it violates the premise


def test_the_report_names_the_premises_in_the_domain():
    from elbo_sym.report.build import report_of

    report = report_of(check_derivation(loads(literature("em-monotone-premise.toml"), "em.toml")))
    assert report.domain.endswith("; where ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)")
    assert [a.text for a in report.assume] == ["q(z | x1) = p(z | x1)", "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)"]
    tight = report_of(check_derivation(loads(literature("tight-only-if.toml"), "t.toml")))
    assert tight.assume[0].latex == r"q(z) \neq p(z \mid x)"


def test_a_bad_definition_in_a_list_is_reported_on_its_own_line():
    text = (TWO + 'assume = [\n  "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)",\n  "q(z | x2) = p(z | x7)",\n]\n'
            + STEP.replace("p(x)", "p(x1)"))
    with pytest.raises(DerivationError) as info:
        loads(text, "d.toml")
    assert info.value.line == 6 and info.value.column is not None, str(info.value)


def _kl(a, b) -> float:
    return sum(ai * math.log(ai / bi) for ai, bi in zip(a, b))


@pytest.mark.parametrize("premise", ["", 'assume = "ELBO(q(z | x2), x1) <= ELBO(q(z | x1), x1)"\n'])
def test_the_kl_order_without_its_premise_or_with_it_reversed_is_refuted(premise):
    text = literature("elbo-order-is-kl-order.toml").replace(
        'assume = "ELBO(q(z | x2), x1) >= ELBO(q(z | x1), x1)"\n', premise)
    step = check_text(text).steps[1]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    prior, l1 = floats(c, "p(z)"), floats(c, "p(x1 | z)")
    q1, q2 = floats(c, "q(z | x1)"), floats(c, "q(z | x2)")
    post = posterior(prior, l1)
    assert _kl(q2, post) > _kl(q1, post)  # the step fails there
    if premise:
        assert elbo(prior, l1, q2) <= elbo(prior, l1, q1)  # inside the reversed premise


def test_a_strict_premise_gives_a_strict_kl_order():
    text = literature("elbo-order-is-kl-order.toml").replace(">= ELBO(q(z | x1), x1)\"", "> ELBO(q(z | x1), x1)\"")
    text = text.replace('rel = "<="', 'rel = "<"').replace('claim = "KL(q(z | x2), p(z | x1)) <=',
                                                           'claim = "KL(q(z | x2), p(z | x1)) <')
    assert check_text(text).fully_proved


@pytest.mark.parametrize("premise", ['"q(z) >= p(z | x)"', '"KL(q(z), p(z | x)) >= 0"', '"q(z) != p(z)"'])
def test_the_strict_rule_fires_only_with_a_premise_that_its_kl_arguments_differ(premise):
    """Only `a != b` about KL(a, b)'s own arguments makes KL(a, b) > 0; other premises satisfied at
    q = p(z | x) leave the strict step refuted there."""
    from elbo_sym.engine.rules import RULES

    text = HEAD + f'assume = {premise}\nstart = "log(p(x))"\n\n[[step]]\nrel = ">"\nexpr = "ELBO(q)"\n' \
                  f'rule = "kl-nonneg"\n'
    d = loads(text, "s.toml")
    assert not RULES["kl-nonneg"](d.start.expr, ">", d.steps[0].expr, d.model()).proved
    step = check_text(text.replace('K = "any"', "K = 2")).steps[0]
    assert step.verdict is Verdict.refuted
    c = step.counterexample
    assert fractions_of(c, "q(z)") == exact_posterior(fractions_of(c, "p(z)"), fractions_of(c, "p(x | z)"))


def test_a_bad_premise_exits_2_with_file_line_and_column(tmp_path, capsys):
    from elbo_sym.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(HEAD + 'assume = [\n  "q(z) != p(z | x)",\n  "ELBO(q) >= foo(z)",\n]\n' + STEP, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"{path}:5:15" in captured.out + captured.err and "Traceback" not in captured.err


def test_the_premise_files_exit_0(capsys):
    from elbo_sym.cli import main

    assert main(["check", "--no-cache", *(str(LITERATURE / name) for name in MINE)]) == 0
    assert f"{len(MINE)}/{len(MINE)} file(s) pass" in capsys.readouterr().out


def test_different_distributions_is_what_the_strict_rule_states_for_densities():
    """Red team (round 5): for densities, two densities that differ at one z are the same
    distribution (KL 0).  The strict rule is sound for K = "any" only because `!=` between
    distributions means *different distributions* (for densities: on a set of positive
    probability); the proof's reason and the module's definition must say so, not "differ at
    some z"."""
    import elbo_sym.engine.premises as premises_module

    text = HEAD + 'assume = "q(z) != p(z | x)"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">"\nexpr = "ELBO(q)"\n' \
                  'rule = "kl-nonneg"\n'
    step = check_text(text).steps[0]
    assert step.verdict is Verdict.proved
    assert "different distributions" in step.reason
    assert "positive probability" in (premises_module.__doc__ or "")

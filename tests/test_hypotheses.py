"""Hypotheses beyond ``q(...) = ...`` (issue 17, item 1): `assume` as a list, relational and
``!=`` premises that restrict the domain, ``rule = "assumption"`` using a premise in a chain,
and the strict ``kl-nonneg`` (Gibbs: KL > 0 when the two distributions differ).

Every counterexample is re-evaluated here with plain floats (or fractions) from its printed
values, independently of the checker: it must violate the step *and satisfy every premise*.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, loads, split_premise

HEAD = 'title = "t"\nK = "any"\n'
TWO = 'title = "t"\nK = "any"\ndata = ["x1", "x2"]\n'


def check_text(text: str, budget: float = 10.0):
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


def test_premises_outside_the_discrete_family_are_refused_at_their_column():
    text = 'title = "t"\nmodel = "gaussian"\nassume = "ELBO(q) <= log(p(x))"\n' + STEP
    with pytest.raises(DerivationError) as info:
        loads(text, "g.toml")
    assert "only supported in the discrete family" in info.value.message and info.value.line == 3


# ------------------------------------------------------------------ premises restrict the search

EM_PREMISE = 'assume = "ELBO(q(z | x1), x2) >= ELBO(q(z | x1), x1)"\n'


def _em_step(rel: str, rule: str = "algebra", premise: str = EM_PREMISE, K: str = "3") -> str:
    return (TWO.replace('"any"', K) + premise + f'start = "ELBO(q(z | x1), x2)"\n\n[[step]]\nrel = "{rel}"\n'
            f'expr = "ELBO(q(z | x1), x1)"\nrule = "{rule}"\n')


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


def test_the_search_report_counts_the_premise_undecided_instances():
    """A premise the exact arithmetic cannot decide at a Gaussian density is left out and said."""
    result = check_text(HEAD + 'assume = "q(z) != p(z | x)"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">="\n'
                               'expr = "ELBO(q) + 0 * p(x)"\nrule = "algebra"\n').steps[0]
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

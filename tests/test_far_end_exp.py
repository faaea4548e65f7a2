"""The far end with a parameter inside an exp (session 22, h-fe12).

`beta*exp(beta)*exp(-beta) + exp(beta) <= 10**12 + exp(beta)` under `beta = ">= 1"` passed with
`accept = "checked"` (31 instances held, 35 undecided), false for every beta > 10**12: its difference is
beta - 10**12.  The far end sliced that canonical difference and nominated beta = 2**41, ..., but decided
each instance on the two sides, each some e**(2**41): undecided, so not counted, and the step passed.
`beta*exp(beta) <= 10**12*exp(beta)` was never sliced: its canonical difference keeps beta inside exp.

Now (check._far_end_differences) the canonical difference is divided by its exp factors (positive) and an
instance the sides leave undecided is decided on it -- only to refute; and a far-end instance left
undecided is one the search built on purpose, so the step is `error`, never `checked` (the mutants below).
Each counterexample is re-read here: beta past 10**12 (or below -10**12), where the difference worked out
by hand in each case's comment fails the relation.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import elbo_sym.engine.check as check
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop only: the machine running the suite may be shared."""


def toml(start: str, rel: str, expr: str, params: str = 'beta = ">= 1"') -> str:
    return (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\n{params}\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\naccept = "checked"\n')


def step_of(text: str):
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def only_far_end(monkeypatch) -> None:
    """The boundary families and the minimiser switched off: what refutes is the far end (or nothing)."""
    monkeypatch.setattr(check, "boundary_instances", lambda *args, **kwargs: iter(()))
    monkeypatch.setattr(check, "minimise", lambda *args, **kwargs: iter(()))


def value(step, label: str) -> Fraction:
    (v,) = dict(step.counterexample.values)[label]
    return Fraction(v)


CANCELLING = toml("beta*exp(beta)*exp(-beta) + exp(beta)", "<=", "10**12 + exp(beta)")
"""The reproducer: left - right = beta - 10**12."""

TIMES = toml("beta*exp(beta)", "<=", "10**12*exp(beta)")
"""left - right = (beta - 10**12) exp(beta): beta stays inside the exp of the canonical difference."""

FALSE_SIBLINGS = [  # (file, parameter, a test of the counterexample's value where the step is false)
    pytest.param(CANCELLING, "beta", lambda b: b > 10**12, id="cancelling-exps"),
    pytest.param(TIMES, "beta", lambda b: b > 10**12, id="exp-times-both-sides"),
    # left - right = beta - 10**12 again (exp(-beta) on both sides)
    pytest.param(toml("beta*exp(beta)*exp(-beta) + exp(-beta)", "<=", "10**12 + exp(-beta)"), "beta",
                 lambda b: b > 10**12, id="exp-minus-beta-added"),
    # beta <= -1: left - right = beta + 10**12, negative for beta < -10**12, so ">=" fails there
    pytest.param(toml("beta*exp(-beta)*exp(beta) + exp(-beta)", ">=", "-10**12 + exp(-beta)",
                      'beta = "<= -1"'), "beta", lambda b: b < -10**12, id="falling-with-exp-minus-beta"),
    # two parameters, gamma fixed at the base: left - right = beta - 10**12
    pytest.param(toml("beta*exp(beta)*exp(-beta) + exp(gamma) + exp(beta)", "<=",
                      "10**12 + exp(beta) + exp(gamma)", 'beta = ">= 1"\ngamma = ">= 1"'), "beta",
                 lambda b: b > 10**12, id="two-parameters"),
    # `+ log(beta)` on both sides: SymPy cancels it as the difference is formed (beta - 10**12)
    pytest.param(toml("beta + log(beta)", "<=", "10**12 + log(beta)"), "beta", lambda b: b > 10**12,
                 id="log-on-both-sides"),
]


@pytest.mark.parametrize("text, label, false_at", FALSE_SIBLINGS)
def test_a_false_step_with_the_parameter_inside_exp_is_refuted_at_the_far_end(monkeypatch, text, label, false_at):
    only_far_end(monkeypatch)
    step = step_of(text)
    assert step.verdict is Verdict.refuted and not step.passes, step.reason
    assert step.counterexample.source.startswith(f"far end: {label} "), step.counterexample.source
    assert false_at(value(step, label))


@pytest.mark.parametrize("text", [
    toml("beta*exp(beta)*exp(-beta) + exp(beta)", "<=", "2*beta + exp(beta)"),  # left - right = -beta
    toml("beta*exp(beta)", "<=", "2*beta*exp(beta)"),  # -beta exp(beta)
    toml("beta*exp(-beta)*exp(beta) + exp(-beta)", "<=", "exp(-beta)", 'beta = "<= -1"'),  # beta
])
def test_true_siblings_stay_checked(monkeypatch, text):
    only_far_end(monkeypatch)
    step = step_of(text)
    assert step.verdict is Verdict.checked and step.passes, step.reason


def test_without_the_same_sign_decision_an_undecided_far_end_is_an_error(monkeypatch):
    """Mutant 1: the far end's instances decided on the sides only (each undecided, e**(2**41) on both): the
    step is `error` naming the far end, not `checked` -- what the on-purpose guard keeps."""
    only_far_end(monkeypatch)
    monkeypatch.setattr(check, "_decided_by_sign", lambda *args: None)
    step = step_of(CANCELLING)
    assert step.verdict is Verdict.error and not step.passes, step.reason
    assert "could not decide the far end: beta growing without bound" in step.reason


def test_without_dividing_out_the_exp_the_far_end_is_blind_and_the_step_passes(monkeypatch):
    """Mutant 2: the canonical difference kept whole, (beta - 10**12) exp(beta) is never sliced and the
    false step passes with accept again (what `_without_exp_factors` guards)."""
    only_far_end(monkeypatch)
    monkeypatch.setattr(check, "_without_exp_factors", lambda e: e)
    step = step_of(TIMES)
    assert step.verdict is Verdict.checked, step.reason


def test_exp_factors_are_divided_out_only_where_they_are_factors():
    from sympy import Symbol, exp

    beta = Symbol("beta", positive=True)
    assert check._without_exp_factors((beta - 10**12) * exp(beta)) == beta - 10**12
    assert check._without_exp_factors(-3 * exp(2 * beta) * (beta - 1)) == -3 * (beta - 1)
    kept = beta - 10**12 + exp(beta)  # a sum: no common factor, kept as it is
    assert check._without_exp_factors(kept) == kept

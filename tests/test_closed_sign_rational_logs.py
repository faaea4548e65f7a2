"""A log whose argument is exactly rational at an algebraic point (red team rt49 v3, lv3; session 22, h-eng12).

At r = CRootOf(t**3 - t - 1, 0), log(r**3 - r) is log(1) = 0: certified intervals never show 0, so the
premise ``log(t**3 - t) >= 0`` was undecided at r, and ``(t**3 - t - 1)**2 > 0``, false there, an `error`
(main once refuted it through an unsound rule, since gone).  `closed_sign` now writes each log whose argument
exact algebra shows rational (numbers.algebraic.in_root's reduced form a constant, or radicals that expand to
one) as the log of that rational, and decides again -- only where it was undecided.
"""

from __future__ import annotations

import pytest
from sympy import CRootOf, Rational, Symbol, exp, log, sqrt

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.numbers import evaluate
from elbo_sym.numbers.evaluate import Undefined, closed_sign

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
x = Symbol("x")
R = CRootOf(x**3 - x - 1, 0)
"""The real root of t**3 - t - 1, about 1.32472: R**3 - R is exactly 1."""
C = CRootOf(x**3 - 2, 0)
"""The cube root of 2: C**3 is exactly 2."""


@pytest.mark.parametrize("e, expected", [
    (log(R**3 - R), 0),
    (log(R**3 - R) ** 2 + exp(R) * log(R**3 - R), 0),
    (log(C**3) - log(2), 0),
    (log(R**3 - R) - log(2), -1),
    (log(R**3 - R + Rational(1, 10**30)), 1),                   # 1 + 1e-30: rational, not 1
    (log(2 - sqrt(2)) + log(2 + sqrt(2)) - log(2), None),      # 0, but no single log's argument is rational
])
def test_a_log_of_an_exactly_rational_argument_is_decided(e, expected):
    assert closed_sign(e) == expected


def test_an_argument_near_1_but_not_rational_is_never_0():
    assert closed_sign(log(R**3 - R + R / 10**300)) in (1, None)


def test_an_argument_exactly_negative_is_undefined():
    """(SymPy writes log(R - R**3) as log(R**3 - R) + I*pi itself, which is undecided, never 0.)"""
    with pytest.raises(Undefined):
        evaluate._rational_logs(log(R - R**3, evaluate=False))  # exactly -1
    assert closed_sign(log(R - R**3)) is None


def test_without_the_rewrite_the_log_is_undecided(monkeypatch):
    """The mutant: no log rewritten -- rt49 v3's point stays undecided (as on main)."""
    monkeypatch.setattr(evaluate, "_rational_logs", lambda e: e)
    assert closed_sign(log(R**3 - R)) is None


def step_of(start: str, assume: str):
    text = (f'title = "t"\nK = 2\nassume = "{assume}"\nstart = "{start}"\n\n[params]\nt = "> 1"\n\n'
            f'[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


@pytest.mark.full
@pytest.mark.parametrize("assume", ["log(t**3 - t) >= 0", "log(t**3 - t) <= 0"])
def test_a_step_false_at_the_root_under_a_log_premise_is_refuted_there(assume):
    step = step_of("(t**3 - t - 1)**2", assume)
    assert step.verdict is Verdict.refuted, step.reason
    assert dict(step.counterexample.values)["t"] == ("CRootOf(t**3 - t - 1, 0)",)


@pytest.mark.full
@pytest.mark.parametrize("assume", ["log(t**3 - t) > 0", "log(t**3 - t) < 0"])
def test_the_strict_premise_excludes_the_root_and_the_step_is_checked(assume):
    """True: the step fails only at the root, where the strict premise fails (main: an `error`)."""
    step = step_of("(t**3 - t - 1)**2", assume)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_a_premise_zero_only_as_a_sum_of_logs_is_still_undecided_and_an_error():
    """log(2 - t) + log(2 + t) - log(2) is 0 at t = sqrt(2), but neither argument is rational: undecided,
    so the step is an `error` there -- never `checked`, never refuted on a guess (docs/02)."""
    text = ('title = "t"\nK = 2\nassume = "log(2 - t) + log(2 + t) >= log(2)"\nstart = "(t**2 - 2)**2"\n\n'
            '[params]\nt = "in (1, 2)"\n\n[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]
    assert step.verdict is Verdict.error and "premises could not be decided" in step.reason, step.reason

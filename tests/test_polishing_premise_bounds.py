"""Premise bounds are closed ends of the bound rule (red team rt54 f18, f19; session 22, h-eng12).

`polishing._on_a_closed_bound` sets a coordinate the polishing froze (one entering linearly) on a closed end
of its: before, only a [params] interval's ends and a likelihood's 1.  With ``beta = "real"`` and the premise
``beta >= 0``, ``(log(s) - 1)**2 + beta > 0`` is false at s = e, beta = 0 -- and passed with accept: the
float minimiser, which only weighs a premise, left beta 1e-17 inside it, the polishing froze it there, and
the gap never fell.  Now a premise ``symbol >= c`` or ``symbol <= c`` (c rational) is a closed end too
(`_premise_ends`), and the polishing polishes a face with the coordinate fixed on it where the minimiser left
the coordinate within BOUND_NEAR of it, or past it (`_on_face`; the start itself is never moved: red team
rt57 F2-F4, tests/test_redteam_rt57.py).  True siblings (``+ (beta + 1)``, a premise ``beta >= 0`` over
``beta > 0``) stay `checked`.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from sympy import Integer, Rational, Symbol

from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""


def step_of(head: str, start: str, params: str, assume: tuple[str, ...]):
    premises = ", ".join(f'"{a}"' for a in assume)
    text = (f'title = "t"\n{head}\nassume = [{premises}]\nstart = "{start}"\n\n[params]\n{params}\n\n'
            f'[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


FALSE_STEPS = [  # (head, start, params, premises, where): each `start > 0` fails on the premises' closed bounds
    ("K = 2", "(log(s) - 1)**2 + beta", 's = "> 0"\nbeta = "real"', ("beta >= 0",), "beta at its closed bound 0"),
    ("K = 2", "(log(s) - 1)**2 + beta", 's = "> 0"\nbeta = "real"', ("0 <= beta",), "beta at its closed bound 0"),
    ("K = 2", "(log(s) - 1)**2 + (2 - beta)", 's = "> 0"\nbeta = "real"', ("beta <= 2",),
     "beta at its closed bound 2"),
    ("K = 2", "(log(s) - 1)**2 + beta + gamma", 's = "> 0"\nbeta = "real"\ngamma = "real"',
     ("beta >= 0", "gamma >= 0"), "beta at its closed bound 0 and gamma at its closed bound 0"),
    ("K = 2", "(log(s) - 1)**2 + beta + (1 - gamma)", 's = "> 0"\nbeta = "real"\ngamma = "real"',
     ("beta >= 0", "gamma <= 1"), "beta at its closed bound 0 and gamma at its closed bound 1"),
    ('model = "gaussian"', "(log(sigma) - 1)**2 + beta", 'beta = "real"', ("beta >= 0",),
     "beta at its closed bound 0"),
]
TRUE_STEPS = [  # (head, start, params, premises): each `start > 0` holds on the whole domain and the premises
    ("K = 2", "(log(s) - 1)**2 + (beta + 1)", 's = "> 0"\nbeta = "real"', ("beta >= 0",)),
    ("K = 2", "(log(s) - 1)**2 + (3 - beta)", 's = "> 0"\nbeta = "real"', ("beta <= 2",)),
    ("K = 2", "(log(s) - 1)**2 + beta + gamma + 1/10**12", 's = "> 0"\nbeta = "real"\ngamma = "real"',
     ("beta >= 0", "gamma >= 0")),
    ('model = "gaussian"', "(log(sigma) - 1)**2 + beta + (1/10**10)**3", 'beta = "real"', ("beta >= 0",)),
    ("K = 2", "(log(s) - 1)**2 + beta", 's = "> 0"\nbeta = "> 0"', ("beta >= 0",)),  # the open end is tighter
    # rt54 F2's premise form: zero only just outside a premise bound (gamma = -1e-50), never met inside it
    ("K = 2", "(log(s) - 1)**2 + beta + (gamma + (1/10**10)**5)**2", 's = "> 0"\nbeta = "real"\ngamma = "real"',
     ("beta >= 0", "gamma >= 0")),
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params, assume, where", FALSE_STEPS)
def test_a_meeting_on_a_premise_bound_is_an_error(head, start, params, assume, where):
    step = step_of(head, start, params, assume)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    assert where in step.reason, step.reason


@pytest.mark.full
@pytest.mark.parametrize("head, start, params, assume", TRUE_STEPS)
def test_a_true_sibling_stays_checked(head, start, params, assume):
    step = step_of(head, start, params, assume)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
@pytest.mark.parametrize("mutant", ["no premise ends", "no face on the end"])
def test_the_mutants_let_the_false_step_pass(monkeypatch, mutant):
    """Each half of the rule is needed: without the premises' ends nothing is set on beta = 0; without
    the face on it the polishing freezes beta where the minimiser left it (1e-17), and no meeting is
    polished at all.  Either way rt54's f18 passes with accept, as it did."""
    if mutant == "no premise ends":
        monkeypatch.setattr(polishing, "_premise_ends", lambda premises: {})
    else:
        monkeypatch.setattr(polishing, "_on_face", lambda site: None)
        monkeypatch.setattr(polishing, "_other_faces", lambda site: [])
    step = step_of(*FALSE_STEPS[0][:4])
    assert step.verdict is Verdict.checked and step.passes, step.reason


def test_premise_ends_read_the_simple_bounds_only():
    beta, gamma = Symbol("beta"), Symbol("gamma")
    premises = ((">=", ((beta, Integer(0)),)), (">=", ((beta, Rational(1, 2)),)), ("<=", ((Integer(3), gamma),)),
                (">", ((gamma, Integer(5)),)), (">=", ((beta * gamma, Integer(1)),)),
                (">=", ((beta, Integer(7)), (gamma, Integer(7)))))
    assert polishing._premise_ends(premises) == {beta: (Fraction(1, 2), None), gamma: (Fraction(3), None)}


def test_the_tightest_end_is_closed_only_when_no_open_end_is_as_tight():
    assert polishing._tightest([(Fraction(0), False), (Fraction(0), True)], max) is None
    assert polishing._tightest([(Fraction(0), False), (Fraction(1), True)], max) == 1
    assert polishing._tightest([(Fraction(2), False), (Fraction(1), True)], max) is None
    assert polishing._tightest([(Fraction(2), True), (Fraction(1), False)], min) is None
    assert polishing._tightest([], min) is None

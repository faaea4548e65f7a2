"""Red team rt50: true strict steps the polished minimum (engine.polishing) turned into errors.

* F1: ``log(1 + exp(-t)) > 0`` rounds to a gap of exactly 0 at t = 1000 at 60 and at 120 digits (it is
  5e-435): "0 falls to 0" counted as a meeting.  A gap of exactly 0 now has nothing to fall from.
* F2: ``(1 - beta) * KL(q(z), p(z)) + exp(-t) > 0``: the float minimiser walks t out to where exp(-t)
  vanishes (t = 1020) while the KL part meets 0; the gap fell with the precision, but it was the KL's.
  A meeting's point has no exp whose argument is beyond the floats' range.

Every step below is true (its infimum, 0, is approached as t -> infinity and never attained), was accepted
by main (39a2582) with accept = "checked", and must stay so; the mutants show each guard is what keeps it.
"""

from __future__ import annotations

import pytest

from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""

TRUE_AT_INFINITY = [  # (head, start, params): each step is `start > 0` (softplus: `start > t`)
    ("K = 2", "log(1 + exp(-t))", 't = "> 0"'),                                      # F1
    ('model = "gaussian"', "log(1 + exp(-mu**2))", ""),                               # F1, Gaussian
    ("K = 2", "(1 - beta) * KL(q(z), p(z)) + exp(-t)", 'beta = "in (0, 1)"\nt = "> 0"'),  # F2
    ("K = 3", "ELBO(q) + log(1 + exp(-t)) - ELBO(q)", 't = "> 0"'),                    # F1 beside the lesson
]


def step_of(head: str, start: str, params: str, rhs: str = "0"):
    block = f"\n[params]\n{params}\n" if params else ""
    text = (f'title = "t"\n{head}\nstart = "{start}"\n{block}\n'
            f'[[step]]\nrel = ">"\nexpr = "{rhs}"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", TRUE_AT_INFINITY)
def test_a_true_step_whose_infimum_lies_at_infinity_stays_checked(head, start, params):
    step = step_of(head, start, params)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_softplus_above_the_identity_stays_checked():
    """log(1 + exp(t)) > t for every real t: a course's softplus, accepted on main."""
    step = step_of("K = 2", "log(1 + exp(t))", 't = "real"', rhs="t")
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_the_exact_zero_guard_the_first_is_an_error(monkeypatch):
    """The mutant: 0 'falls' to 0 again -- log(1 + exp(-t)) > 0 is an error (what rt50 F1 saw)."""
    def old_gap_falls(first, second):
        return bool(abs(second) <= polishing.MEETING_FALL * abs(first))
    monkeypatch.setattr(polishing, "_gap_falls", old_gap_falls)
    monkeypatch.setattr(polishing, "_beyond_float_range", lambda *a: False)
    step = step_of(*TRUE_AT_INFINITY[0])
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


@pytest.mark.full
def test_without_the_float_range_guard_the_kl_part_meets(monkeypatch):
    """The mutant: no float-range guard -- (1 - beta) KL + exp(-t) > 0 'meets' at t ~ 1000 (rt50 F2)."""
    monkeypatch.setattr(polishing, "_beyond_float_range", lambda *a: False)
    monkeypatch.setattr(polishing, "_confirmed", lambda *a: True)  # rt51's third precision catches it too,
    monkeypatch.setattr(polishing, "_inside", lambda site: True)  # and rt51's inside-first picks another minimum
    step = step_of(*TRUE_AT_INFINITY[2])
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason

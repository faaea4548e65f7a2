"""The exact plan's named failure wins over a polished meeting (session 22, h-eng12).

A Gaussian `D = "any"` step false only at an irrational point is an `error` either way: the exact plan
names the point ("fail at D = 7 (exactly), at w_1 = sqrt(2)"), and since session 21 the polishing also
reaches its 7 coordinates and names a meeting (SIDES_MEET, "w7 ≈ -0.494175").  The exact one is the more
useful, so `check._search_everywhere` sets a meeting aside when the plan names a failure (`exact.unreached`)
and runs its plan on: a rational counterexample still refutes, and otherwise the plan's failure is the
error.  Without a named failure a meeting ends the step at once, as before -- never `checked`.
"""

from __future__ import annotations

import pytest

from elbo_sym.engine import check as check_module
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.exact import ExactPlan
from elbo_sym.engine.models.discrete import UnfoldError

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
IRRATIONAL = "(D*Sum(w_d**2, (d, 1, D)) - Sum(w_d, (d, 1, D))**2 - 2*(D - 1))**2 + (D - 7)**2"
"""False (> 0) only at D = 7 with w_1 = sqrt(2), every other w_d = 0 (tests/test_exact_configured.py)."""


def _step(head: str, start: str, rel: str = ">", rhs: str = "0"):
    text = (f'title = "t"\n{head}\nstart = "{start}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def _recording_meetings(monkeypatch) -> list[str]:
    """Wrap `check._search_one` so that every meeting it raises is recorded (and still raised)."""
    seen: list[str] = []
    original = check_module._search_one

    def recording(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except check_module._SidesMeet as meeting:
            seen.append(str(meeting))
            raise
    monkeypatch.setattr(check_module, "_search_one", recording)
    return seen


@pytest.mark.full
def test_the_plans_named_failure_wins_over_the_polished_meeting(monkeypatch):
    meetings = _recording_meetings(monkeypatch)
    step = _step('model = "gaussian"\nD = "any"', IRRATIONAL)
    assert step.verdict is Verdict.error, step.reason
    assert "fail at D = 7" in step.reason and "w_1 = sqrt(2)" in step.reason, step.reason
    assert SIDES_MEET not in step.reason, step.reason
    # the guard matters: the polishing did meet the sides here (without the set-aside, its text was the error)
    assert meetings and all(m.startswith(SIDES_MEET) for m in meetings), meetings


def test_a_meeting_without_a_named_failure_still_ends_the_step(monkeypatch):
    """A forged meeting in the first model of a true step (K = 2, no exact plan names a failure): the
    step is the meeting's error.  The mutant that sets every meeting aside would let it pass `checked`."""
    head, start, rhs = "K = 2", "E(q, q(z))", "1"
    assert _step(head, start, "<=", rhs).verdict is Verdict.checked  # the honest verdict, without the forgery
    original = check_module._search_one
    calls: list[int] = []

    def forged(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise check_module._SidesMeet(f"{SIDES_MEET} (forged)")
        return original(*args, **kwargs)
    monkeypatch.setattr(check_module, "_search_one", forged)
    step = _step(head, start, "<=", rhs)
    assert step.verdict is Verdict.error and step.reason == f"{SIDES_MEET} (forged)", step.reason


def test_a_budget_stop_after_a_meeting_set_aside_names_the_plans_failure():
    """The search's budget running out after a meeting was set aside: the plan's failure, not the budget."""
    plan = ExactPlan(unreached="left - right = w makes the relation fail at w = sqrt(2)")
    with pytest.raises(UnfoldError, match="sqrt"):
        check_module._named_failure_first([check_module._SidesMeet(SIDES_MEET)], plan)
    check_module._named_failure_first([], plan)  # no meeting set aside: the budget's own error (returns)
    check_module._named_failure_first([check_module._SidesMeet(SIDES_MEET)], ExactPlan())  # no named failure

"""The wall-clock budget (elbo_sym.budget): nested blocks restore the stack whatever happens."""

from __future__ import annotations

import signal
import time

import pytest

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded


def test_an_inner_budget_that_runs_out_leaves_the_outer_one_intact():
    with budgets.limit(30.0, "outer"):
        with pytest.raises(BudgetExceeded, match="inner"):
            with budgets.limit(0.05, "inner"):
                while True:
                    budgets.checkpoint()
                    time.sleep(0.001)
        assert budgets.remaining() > 20.0
    assert budgets.remaining() == float("inf") or not budgets._stack.deadlines


@pytest.mark.skipif(not budgets.ALARM, reason="no SIGALRM on this platform")
def test_an_alarm_while_the_block_is_left_does_not_leave_its_entry_behind(monkeypatch):
    """The alarm re-fires every 50 ms once expired, so it may fire while a block is being left
    (here: as the timer is disarmed); the block's entry must come off the stack all the same, or
    the enclosing budget would look spent."""
    real = signal.setitimer
    fired = []

    def alarm_on_disarm(which, seconds, *rest):
        if seconds == 0 and not fired:
            fired.append(True)
            raise BudgetExceeded("inner")  # what the handler raises when it fires just here
        return real(which, seconds, *rest)

    with budgets.limit(30.0, "outer"):
        depth = len(budgets._stack.deadlines)
        monkeypatch.setattr(budgets.signal, "setitimer", alarm_on_disarm)
        with pytest.raises(BudgetExceeded, match="inner"):
            with budgets.limit(5.0, "inner"):
                pass
        monkeypatch.setattr(budgets.signal, "setitimer", real)
        assert fired and len(budgets._stack.deadlines) == depth
        assert budgets.remaining() > 20.0

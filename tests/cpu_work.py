"""Work that spends CPU time, for tests of the budgets (elbo_sym.budget runs on CPU time).

A `time.sleep` inside a budget spends no CPU time, so a budget no longer ends it: a test that
stands in for slow computation must compute."""

from __future__ import annotations

import time


def burn(seconds: float) -> None:
    """Compute for `seconds` of this process's CPU time (a budget's alarm interrupts it, as it
    interrupts SymPy)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(range(200))

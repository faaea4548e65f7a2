"""Work that spends CPU time, for tests of the budgets (elbo_sym.budget runs on CPU time), and the
bounds tests put on how long something took.

A `time.sleep` inside a budget spends no CPU time, so a budget no longer ends it: a test that
stands in for slow computation must compute.  And a test that bounds how long something took bounds
its CPU time (`cpu_bounded`): a loaded CI machine (2 cores, several test workers) stretches wall time
several-fold, so a wall-clock bound is only a generous guard against a hang (HANG_GUARD_SECONDS)."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

HANG_GUARD_SECONDS = 120.0
"""Wall time that only a hang (a blocking read, a loop that never ends) takes, however loaded the machine."""


def burn(seconds: float) -> None:
    """Compute for `seconds` of this process's CPU time (a budget's alarm interrupts it, as it
    interrupts SymPy)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(range(200))


def cpu_seconds() -> float:
    """CPU seconds of this process and of the child processes it waited for (the budgets' own clock:
    what the work cost, whatever else the machine was doing)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def cpu_bounded(seconds: float, what: str = "", hang_guard: float = HANG_GUARD_SECONDS) -> Iterator[None]:
    """Assert that the block (`what`, named in the failure) took less than `seconds` of CPU time
    (cpu_seconds) and, as a guard against a hang only, less than `hang_guard` seconds of wall time."""
    wall, cpu = time.monotonic(), cpu_seconds()
    yield
    used, waited = cpu_seconds() - cpu, time.monotonic() - wall
    assert used < seconds, f"{what or 'it'} took {used:.2f} CPU seconds, the bound is {seconds}"
    assert waited < hang_guard, f"{what or 'it'} took {waited:.0f} s of wall time: a hang?"

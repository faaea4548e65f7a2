"""CPU-time budgets that really bound the work: nested deadlines, an alarm and checkpoints.

A budget is a deadline on :func:`clock`, this thread's CPU time (``time.thread_time``), not
the wall clock: a busy machine stretches a check's wall time two to four times but not its CPU
time, so whether a step ends in time -- its verdict, its evidence, a repair suggestion -- no
longer depends on the machine's load (red team rt13: a step `checked` on an idle machine ran
out of its budget on a loaded one).  A budget bounds computation, not waiting: the engine never
blocks under one (files are read non-blocking, see elbo_sym.files); a hang that waits is the
worker watchdog's (report.parallel).  Budgets nest (a file's budget contains its steps'
budgets, a step's contains the repair search's): the innermost deadline that is earliest wins,
and leaving an inner budget re-arms the outer one.  Two mechanisms enforce a deadline:

* in the main thread, ``SIGPROF`` (``ITIMER_PROF``) interrupts any pure-Python computation
  (SymPy's factoring, expansion) when the deadline passes.  ITIMER_PROF counts the whole
  process's CPU time, never less than the thread's, so it fires no later than the deadline; fired
  early (another thread was busy), its handler re-arms for what is left.  A caller's own
  ITIMER_PROF timer and SIGPROF handler (a sampling profiler) are put back when the outermost
  budget ends, the timer with what remained of it;
* everywhere (also in other threads, where no signal can be used), loops of the engine
  call :func:`checkpoint`, which raises once the deadline has passed.

SymPy's caches can be left half-filled by an interruption; callers that catch
:class:`BudgetExceeded` clear them (``sympy.core.cache.clear_cache``).

A CPU-time deadline still ends work sooner on a slower CPU.  Where the plan of a search is fixed
(the counterexample search of every step -- a ``K = "any"`` step's, an explicit model's, the definedness
search's -- and the premise check's instances), the work itself is counted as well (:class:`WorkCount`,
limits in :mod:`elbo_sym.limits`): it stops at the same point on every machine, and the deadline stays
only the backstop.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ALARM = hasattr(signal, "setitimer")
"""Whether this Python can interrupt running code with a CPU-time alarm, SIGPROF (not under
WebAssembly, where the browser's checker runs: there checkpoints bound the work and the page can
stop its worker)."""


def _cpu_clock() -> Callable[[], float]:
    """``time.thread_time`` (the checking thread's own CPU time: a caller's background thread -- a
    notebook's BLAS, a data loader -- does not spend the check's budget, red team rt15) where this
    Python has it, else ``time.process_time``, else the monotonic clock.  Pyodide answers the
    CPU-time clocks with the page's clock, so in the browser -- one thread, the page's worker -- a
    budget runs on wall time, as it did."""
    for candidate in (getattr(time, "thread_time", None), time.process_time):
        if candidate is None:
            continue
        try:
            candidate()
        except OSError:
            continue
        return candidate
    return time.monotonic


clock = _cpu_clock()
"""The one clock of every budget (and of everything that shares one out: the repair search, the
time reading a file took): the CPU time of the thread that reads it, in seconds."""


class BudgetExceeded(Exception):
    """The time budget ran out; the message says which budget."""


@dataclass
class WorkCount:
    """Work counted against a fixed limit: `spend` raises BudgetExceeded(`what`) once more than
    `limit` units are spent.  The same work counts the same on every machine, whatever its load."""

    limit: float
    what: str
    spent: int = 0

    def spend(self, units: int) -> None:
        self.spent += units
        if self.spent > self.limit:
            raise BudgetExceeded(self.what)

    @property
    def exhausted(self) -> bool:
        """The limit was passed: a BudgetExceeded met meanwhile is this count's, not a deadline's."""
        return self.spent > self.limit

    @classmethod
    def uncounted(cls) -> WorkCount:
        """A count with no limit: work that only its time budget bounds."""
        return cls(math.inf, "")


def exhausted_text(kind: str, seconds: float) -> str:
    """What a user reads when a budget is spent ("file budget of 10 CPU seconds exhausted"): one
    wording for every budget, saying which clock it ran on."""
    return f"{kind} budget of {seconds:g} CPU seconds exhausted"


class _Stack(threading.local):
    def __init__(self) -> None:
        self.deadlines: list[tuple[float, str]] = []
        self.held = 0  # inside alarm_held blocks: an alarm does nothing, the block's end checks


_stack = _Stack()


def remaining() -> float:
    """CPU seconds left under the innermost budget (inf when none is active)."""
    if not _stack.deadlines:
        return float("inf")
    return _stack.deadlines[-1][0] - clock()


def checkpoint() -> None:
    """Raise BudgetExceeded when the active deadline has passed (cheap: call it in loops)."""
    if _stack.deadlines:
        deadline, what = _stack.deadlines[-1]
        if clock() >= deadline:
            raise BudgetExceeded(what)


def _arm() -> None:
    """Point the alarm at the innermost deadline (main thread only)."""
    if not _stack.deadlines:
        signal.setitimer(signal.ITIMER_PROF, 0)
        return
    left = _stack.deadlines[-1][0] - clock()
    signal.setitimer(signal.ITIMER_PROF, max(left, 1e-4))


@dataclass(frozen=True)
class _CallersTimer:
    """The ITIMER_PROF timer a caller had armed (a sampling profiler's, a caller's own CPU limit)
    when the outermost budget began: budgets borrow the timer, and give back what remains of it."""

    left: float
    interval: float
    process_cpu: float  # time.process_time() when saved: ITIMER_PROF counts the process's CPU time

    @classmethod
    def save(cls) -> _CallersTimer | None:
        left, interval = signal.getitimer(signal.ITIMER_PROF)
        return cls(left, interval, time.process_time()) if left > 0 else None

    def restore(self) -> None:
        """Re-arm the timer for what remains (soon, when it fell due meanwhile), interval too."""
        rest = self.left - (time.process_time() - self.process_cpu)
        signal.setitimer(signal.ITIMER_PROF, max(rest, 1e-4), self.interval)


def _quiet_alarms(callers_hook: Callable) -> Callable:
    """An unraisable-exception hook that drops a budget's alarm that landed in a finaliser or a GC
    callback (Python ignores an exception raised there and prints "Exception ignored in ..." with a
    traceback; `expire`'s retry timer raises it again where it counts) and hands everything else to
    the caller's hook."""
    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, BudgetExceeded):
            callers_hook(unraisable)
    return hook


@contextmanager
def limit(seconds: float, what: str | None = None) -> Iterator[None]:
    """Run the block under a budget of `seconds` of CPU time (never beyond an enclosing budget)."""
    message = what or f"time budget of {seconds:g} CPU seconds exceeded"
    if not seconds > 0:  # no time left (callers validate user-given budgets before this)
        raise BudgetExceeded(message)
    deadline = clock() + seconds
    if _stack.deadlines and _stack.deadlines[-1][0] <= deadline:
        deadline, message = _stack.deadlines[-1]  # the enclosing budget ends first
    in_main = ALARM and threading.current_thread() is threading.main_thread()
    previous = None
    callers_timer = None
    callers_hook = None
    leaving = False
    if in_main:
        def expire(signum, frame):  # noqa: ARG001 - signal handler signature
            if leaving or _stack.held:
                # an alarm due while this block is being left: its `finally` clears the alarm
                # and re-arms the enclosing budget; raising or re-arming here would leave a
                # live alarm behind the restored handler -- SIG_DFL ends the process.  Inside
                # alarm_held, the held block's end re-arms and checks the deadline.
                return
            if _stack.deadlines and clock() >= _stack.deadlines[-1][0]:
                # Python ignores an exception raised while it runs a finaliser or a GC
                # callback: fire again soon, so a swallowed alarm is retried
                signal.setitimer(signal.ITIMER_PROF, 0.05)
                checkpoint()
            # the alarm fired a little early (timer granularity): re-arm for the rest
            _arm()

        if not _stack.deadlines:  # the outermost budget: keep the caller's own timer, if any
            callers_timer = _CallersTimer.save()
            callers_hook = sys.unraisablehook
            sys.unraisablehook = _quiet_alarms(callers_hook)
        previous = signal.signal(signal.SIGPROF, expire)
    entry = (deadline, message)
    _stack.deadlines.append(entry)
    try:
        if in_main:
            _arm()
        checkpoint()
        yield
    finally:
        # The stack is restored whatever an alarm raises meanwhile (the handler re-fires every
        # 50 ms once expired): an entry left behind would make every enclosing budget look
        # spent, so a search stopped at its share of the budget would end the whole step.
        leaving = True
        try:
            if in_main:
                signal.setitimer(signal.ITIMER_PROF, 0)
        finally:
            _remove(entry)
            if in_main:
                signal.signal(signal.SIGPROF, previous)
                # the enclosing budget's alarm, or none at all: an alarm still armed behind a
                # restored SIG_DFL would end the process (a pytest worker died of it)
                _arm()
                if callers_timer is not None:
                    callers_timer.restore()
                if callers_hook is not None:
                    sys.unraisablehook = callers_hook


@contextmanager
def alarm_held() -> Iterator[None]:
    """Hold a budget's alarm back while C code that an exception must not interrupt runs: an alarm
    meanwhile does nothing, and the block's end points the alarm at the deadline again and raises
    the budget's exception if it has passed -- the budget still holds, a block later.

    CPython's parser builds a formula's syntax tree in C and may run Python code meanwhile (a
    garbage-collector callback, where the alarm's exception lands): it then reports its own state
    broken ("SystemError: AST constructor recursion depth mismatch") instead of the budget's words
    (a loading test met it in CI).  (Blocking the signal is not enough: another thread -- pytest-xdist
    has some -- takes it, and the handler still runs in the main thread.)"""
    if not (ALARM and threading.current_thread() is threading.main_thread()):
        yield
        return
    _stack.held += 1
    try:
        yield
    finally:
        _stack.held -= 1
    if _stack.deadlines and not _stack.held:
        _arm()
        checkpoint()


def _remove(entry: tuple[float, str]) -> None:
    """Take this block's own entry off the stack (by identity: nested blocks may hold equal ones)."""
    for i in range(len(_stack.deadlines) - 1, -1, -1):
        if _stack.deadlines[i] is entry:
            del _stack.deadlines[i]
            return


__all__ = ["BudgetExceeded", "limit", "checkpoint", "remaining", "alarm_held", "clock", "exhausted_text",
           "WorkCount"]

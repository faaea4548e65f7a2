"""The CPU-time budget (elbo_sym.budget): nested blocks restore the stack whatever happens, a
budget ends computation at its CPU time and is not shortened by waiting (a busy machine)."""

from __future__ import annotations

import signal
import time

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from cpu_work import burn

from elbo_sym import budget as budgets
from elbo_sym.budget import BudgetExceeded


def test_an_inner_budget_that_runs_out_leaves_the_outer_one_intact():
    with budgets.limit(30.0, "outer"):
        with pytest.raises(BudgetExceeded, match="inner"):
            with budgets.limit(0.05, "inner"):
                while True:
                    budgets.checkpoint()
                    sum(range(200))
        assert budgets.remaining() > 20.0
    assert budgets.remaining() == float("inf") or not budgets._stack.deadlines


@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
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


@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_an_alarm_due_as_the_outermost_block_is_left_leaves_no_alarm_behind(monkeypatch):
    """An alarm Python runs just after the block disarms the timer (it was due a moment before)
    must neither raise nor re-arm: the block then restores the previous handler -- SIG_DFL,
    outside any budget -- and an alarm left armed behind it would end the process 50 ms later
    (this killed a pytest worker in CI)."""
    real = signal.setitimer
    previous = signal.getsignal(signal.SIGPROF)
    ran = []

    def due_on_disarm(which, seconds, *rest):
        result = real(which, seconds, *rest)
        if seconds == 0 and not ran:
            ran.append(True)
            signal.getsignal(signal.SIGPROF)(signal.SIGPROF, None)  # the due alarm, run right here
        return result

    monkeypatch.setattr(budgets.signal, "setitimer", due_on_disarm)
    try:
        with pytest.raises(BudgetExceeded, match="outer"):
            with budgets.limit(0.01, "outer"):
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:  # the real alarm ends this loop
                    sum(range(20))
        left = real(signal.ITIMER_PROF, 0)[0]  # read and disarm at once: a failure must not kill pytest
    finally:
        real(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    assert ran, "the block never disarmed the timer"
    assert left == 0, f"an alarm is still armed ({left:.3f} s) after every budget was left"
    assert signal.getsignal(signal.SIGPROF) == previous and not budgets._stack.deadlines


_RACE = """
import random, signal, sys, time
from elbo_sym import budget
random.seed(1)
armed = 0
for _ in range(int(sys.argv[1])):
    pause = random.uniform(0, 200e-6)  # work between the inner block's end and the outer's
    try:
        with budget.limit(0.001, "outer"):
            try:
                with budget.limit(5, "inner"):
                    while True:
                        sum(range(20))
            except budget.BudgetExceeded:
                end = time.perf_counter() + pause
                while time.perf_counter() < end:
                    pass
    except budget.BudgetExceeded:
        pass
    if signal.setitimer(signal.ITIMER_PROF, 0)[0] > 0:  # read and disarm: count, do not die
        armed += 1
print(armed)
"""


@pytest.mark.full  # 2.5 s; the deterministic test above is in make test
@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_nested_budgets_that_run_out_together_leave_no_alarm_behind():
    """The same race with real alarms: 2,000 nested budgets whose outer one runs out as the inner
    one is left (before the fix about 1 in 300 left an alarm armed behind SIG_DFL)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _RACE, "2000"], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)  # 16 s of CPU: minutes of wall time on a loaded machine
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"]


def test_an_alarm_held_back_is_delivered_when_the_block_ends():
    """`alarm_held`: a deadline that passes inside the block interrupts nothing there (the computation,
    standing for C code such as the parser, runs to its end), and the budget's exception follows at
    once when the block ends."""
    finished = []
    started = time.process_time()
    with pytest.raises(BudgetExceeded, match="held back"):
        with budgets.limit(0.01, "held back"):
            with budgets.alarm_held():
                burn(0.06)  # an alarm would end it at 0.01 s of CPU time
                finished.append(time.process_time() - started)
            finished.append("after")  # never reached: the alarm is delivered as the block ends
    assert finished and finished[0] >= 0.06 and "after" not in finished


def test_the_parser_runs_with_the_alarm_held(monkeypatch):
    """The C parser never sees a budget's alarm: one due while it runs is raised after it returns."""
    import ast

    from elbo_sym.engine import parse

    real_parse, parsed = ast.parse, []

    def slow_parse(*args, **kwargs):
        burn(0.06)
        tree = real_parse(*args, **kwargs)
        parsed.append(tree)
        return tree

    monkeypatch.setattr(parse.ast, "parse", slow_parse)
    with pytest.raises(BudgetExceeded):
        with budgets.limit(0.01):
            parse.parse_expression("log(p(x))")
    assert len(parsed) == 1  # the parse ran to its end; the alarm came after it


# ------------------------------------------------------------------ the CPU clock


def test_a_computation_under_a_budget_ends_at_the_budgets_cpu_time():
    """A busy loop with no checkpoint of its own is interrupted by the CPU-time alarm once it has
    computed for the budget: not before, and not much after (rt13: the budget must bound the work)."""
    started = time.process_time()
    with pytest.raises(BudgetExceeded, match="cpu loop"):
        with budgets.limit(0.3, "cpu loop"):
            burn(30)
    used = time.process_time() - started
    assert 0.3 <= used < 1.5, used


def test_waiting_does_not_spend_a_budget():
    """A budget counts this process's CPU time, not the wall clock: a block that waits (as a check
    does while other processes have the cores) keeps its budget; on the wall clock 0.3 s of
    sleep would have spent a budget of 0.2 s."""
    with budgets.limit(0.2, "cpu"):
        time.sleep(0.3)
        budgets.checkpoint()  # would raise on the wall clock
        assert budgets.remaining() > 0.1
    assert budgets.clock is time.thread_time


@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_no_cpu_alarm_is_left_armed_after_a_block_and_nested_blocks_rearm_the_outer_one():
    """SIGPROF is armed for the innermost deadline, pointed back at the outer one when an inner block
    ends, and disarmed (its handler restored) once the outermost ends -- whether it ran out or not."""
    previous = signal.getsignal(signal.SIGPROF)
    with budgets.limit(30.0, "outer"):
        with budgets.limit(5.0, "inner"):
            assert 0 < signal.getitimer(signal.ITIMER_PROF)[0] <= 5.1  # (the kernel rounds up to its tick)
        assert 5.1 < signal.getitimer(signal.ITIMER_PROF)[0] <= 30.1  # the outer deadline again
        with pytest.raises(BudgetExceeded, match="inner"):
            with budgets.limit(0.05, "inner"):
                burn(30)
        assert 20.0 < signal.getitimer(signal.ITIMER_PROF)[0] <= 30.1
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGPROF) == previous
    with pytest.raises(BudgetExceeded, match="outer"):
        with budgets.limit(0.1, "outer"):
            with budgets.limit(5.0, "inner"):  # the enclosing budget ends first: its words
                burn(30)
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGPROF) == previous and not budgets._stack.deadlines


@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_a_budget_leaves_sigalrm_to_others():
    """The budgets no longer use SIGALRM or the real-time timer: a caller's own wall-clock watchdog
    (tests/test_cli_hostile.py's `deadline`) keeps its handler and its timer inside a budget, and
    still fires there."""
    class Watchdog(Exception):
        pass

    def expire(signum, frame):
        raise Watchdog

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(Watchdog):
            with budgets.limit(30.0, "cpu"):
                assert signal.getsignal(signal.SIGALRM) is expire
                time.sleep(5)  # only the watchdog ends this: it spends no CPU time
        assert not budgets._stack.deadlines and signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_without_an_alarm_checkpoints_end_the_work_at_the_cpu_budget(monkeypatch):
    """The browser's configuration (no setitimer: ALARM = False): the engine's checkpoints alone end
    the work, on the same CPU clock, and no timer is touched."""
    monkeypatch.setattr(budgets, "ALARM", False)
    started = time.process_time()
    with pytest.raises(BudgetExceeded, match="checkpoints"):
        with budgets.limit(0.2, "checkpoints"):
            assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
            while True:
                budgets.checkpoint()
                sum(range(200))
    assert 0.2 <= time.process_time() - started < 1.5


def test_where_no_cpu_clock_works_budgets_fall_back_to_the_monotonic_clock(monkeypatch):
    def broken() -> float:
        raise OSError("no CPU-time clock")

    assert budgets._cpu_clock() is time.thread_time
    monkeypatch.setattr(budgets.time, "thread_time", broken)
    assert budgets._cpu_clock() is time.process_time  # no thread clock: the process's
    monkeypatch.setattr(budgets.time, "process_time", broken)
    assert budgets._cpu_clock() is time.monotonic


@pytest.mark.full
def test_a_callers_busy_thread_does_not_spend_the_budget():
    """The budget counts the checking thread's CPU time (rt15): under a budget of 1 CPU second, at most
    0.9 s of its own work finishes while a thread of the caller's (a notebook's BLAS, here hashlib
    without the GIL) spends the process's CPU time too -- 1.3 s in all, beyond the budget on the
    process's clock."""
    import hashlib
    import threading

    stop = threading.Event()

    def background() -> None:
        data = b"x" * (8 << 20)
        while not stop.is_set():
            hashlib.sha256(data).digest()

    helper = threading.Thread(target=background, daemon=True)
    helper.start()
    try:
        process_before, thread_before = time.process_time(), time.thread_time()
        with budgets.limit(1.0, "thread budget"):  # work until the process spent 1.3 s (< 0.95 s of ours)
            while time.process_time() - process_before < 1.3 and time.thread_time() - thread_before < 0.95:
                sum(range(200))
        process_spent = time.process_time() - process_before
    finally:
        stop.set()
        helper.join()
    # more than the budget, spent by the process meanwhile, and not counted (on a loaded machine the
    # helper thread may get less than the 0.4 s asked of it; 1.05 s still exceeds the budget)
    assert process_spent > 1.05
    assert not budgets._stack.deadlines


@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_a_callers_own_cpu_timer_and_handler_are_given_back():
    """A sampling profiler's periodic ITIMER_PROF timer (rt15): a budget borrows it, and when the
    outermost budget ends the caller's handler is back and its timer runs again with its interval;
    a caller's pending one-shot keeps what remained of it."""
    samples = []

    def sample(signum, frame):
        samples.append(1)

    previous = signal.signal(signal.SIGPROF, sample)
    try:
        signal.setitimer(signal.ITIMER_PROF, 0.01, 0.01)
        with budgets.limit(5.0, "outer"):
            with budgets.limit(2.0, "inner"):
                burn(0.05)
        assert signal.getsignal(signal.SIGPROF) is sample
        left, interval = signal.getitimer(signal.ITIMER_PROF)
        assert 0 < left <= 0.011 and interval == pytest.approx(0.01)
        before = len(samples)
        burn(0.2)
        assert len(samples) - before >= 5  # the profiler samples again
        signal.setitimer(signal.ITIMER_PROF, 1.0)
        with pytest.raises(BudgetExceeded, match="short"):
            with budgets.limit(0.1, "short"):
                burn(5)
        left, interval = signal.getitimer(signal.ITIMER_PROF)
        assert 0.5 < left < 0.95 and interval == 0.0
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def test_a_spent_budget_says_it_counted_cpu_seconds():
    assert budgets.exhausted_text("file", 10.0) == "file budget of 10 CPU seconds exhausted"
    assert budgets.exhausted_text("step", 0.5) == "step budget of 0.5 CPU seconds exhausted"


_THROTTLED = """
import time
from elbo_sym import budget
wall, cpu = time.monotonic(), time.process_time()
with budget.limit(1.0, "one CPU second"):
    end = time.process_time() + 0.6
    while time.process_time() < end:  # 0.6 s of work: within the budget however long it waits
        sum(range(200))
print(time.monotonic() - wall, time.process_time() - cpu)
"""


@pytest.mark.full  # about 3 s of waiting for the throttled process
@pytest.mark.skipif(not budgets.ALARM, reason="no CPU-time alarm (SIGPROF) on this platform")
def test_a_process_given_a_quarter_of_a_core_still_finishes_within_its_budget():
    """A loaded machine, made reproducible: the process is stopped three quarters of the time
    (SIGSTOP/SIGCONT), so 0.6 s of work takes over 1 s of wall time.  Its budget of 1 CPU second
    holds; on the wall clock (before rt13's fix) it ran out -- the same work, another verdict."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _THROTTLED], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        while child.poll() is None:
            time.sleep(0.02)
            child.send_signal(signal.SIGSTOP)
            time.sleep(0.06)
            child.send_signal(signal.SIGCONT)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
        out, err = child.communicate(timeout=CHILD_TIMEOUT_SECONDS)
    assert child.returncode == 0, err
    wall, cpu = map(float, out.split())
    assert wall > 1.0 > cpu >= 0.6, (wall, cpu)  # the wall clock would have ended it; the CPU clock did not


def test_a_tests_bound_on_time_counts_cpu_time_not_the_machines_load() -> None:
    """tests/cpu_work.cpu_bounded, what the tests bound time with: waiting (as on a loaded CI machine,
    where wall time stretches) spends no CPU time and passes; computing past the bound fails."""
    from cpu_work import cpu_bounded

    with cpu_bounded(0.2):
        time.sleep(0.3)
    with pytest.raises(AssertionError, match="took .* CPU seconds, the bound is 0.05"), cpu_bounded(0.05):
        burn(0.2)


def test_an_alarm_swallowed_in_a_gc_callback_prints_no_traceback_and_others_still_do():
    """A budget's alarm that lands in a weakref callback is ignored by Python, which printed "Exception
    ignored in ..." with a traceback (a fresh-clone run's plugin test met it); the budget's retry raises
    it again where it counts. Only BudgetExceeded is dropped, and the caller's hook comes back after."""
    import gc
    import sys
    import weakref

    from elbo_sym import budget as budgets
    from elbo_sym.budget import BudgetExceeded

    seen: list[str] = []

    def callers_hook(unraisable) -> None:
        seen.append(type(unraisable.exc_value).__name__)

    def raise_budget(_) -> None:
        raise BudgetExceeded("an alarm")

    def raise_value(_) -> None:
        raise ValueError("a real bug")

    class Held:
        pass

    saved = sys.unraisablehook
    sys.unraisablehook = callers_hook
    try:
        with budgets.limit(60):
            for callback in (raise_budget, raise_value):
                held = Held()
                ref = weakref.ref(held, callback)
                del held
                gc.collect()
                del ref
        assert seen == ["ValueError"]
        assert sys.unraisablehook is callers_hook
    finally:
        sys.unraisablehook = saved

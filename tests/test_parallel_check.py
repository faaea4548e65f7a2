"""Files checked in worker processes (elbo_sym.report.parallel) print exactly what a serial run
prints; a worker that dies is that file's error, never a pass; Ctrl-C stops every worker.

The pool forks only in a process of one thread, and a pytest process has more (the faulthandler
watchdog of `faulthandler_timeout`, pytest-xdist's reader): the tests that need the pool run it
in a process forked from the test (`alone`), where only the forking thread lives on.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from cpu_work import HANG_GUARD_SECONDS

import elbo_sym.report.build
from elbo_sym.cli import main
from elbo_sym.limits import loading_budget
from elbo_sym.report import parallel
from elbo_sym.report.parallel import WorkerLost, map_in_workers, schedule, schedule_groups

REPO = Path(__file__).resolve().parents[1]
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
REFUTED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
assert REFUTED != GAP

TEST_PROCESS = os.getpid()
POOL_PARENT = [TEST_PROCESS]
"""The process that runs the pool: the one `alone` forked (a worker's parent, never a worker)."""


def alone(body: Callable[[], Any]) -> Any:
    """``body()`` in a process forked from this one, where only the forking thread lives on, so
    the pool may fork there; its value comes back pickled, an exception is raised again here."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # never returns
        status = 1
        try:
            os.close(read)
            POOL_PARENT[0] = os.getpid()
            try:
                outcome: tuple[str, Any] = ("value", body())
            except BaseException as error:  # an assertion, pytest.raises' failure: raised in the test
                outcome = ("raise", error)
            try:
                data = pickle.dumps(outcome)
            except Exception:
                data = pickle.dumps(("raise", AssertionError(repr(outcome[1])[:4000])))
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    data, deadline = b"", time.monotonic() + CHILD_TIMEOUT_SECONDS
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"the body did not end within {CHILD_TIMEOUT_SECONDS:g} s")
            chunk = os.read(read, 1 << 20)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert data, "the process running the body ended without an answer"
    kind, value = pickle.loads(data)
    if kind == "raise":
        raise value
    return value


def die(how: str) -> None:
    """End this worker process -- never the test process nor the pool's (that would lose the answer)."""
    assert os.getpid() not in (TEST_PROCESS, POOL_PARENT[0]), "the pool ran in the process that called it"
    if how == "SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


def os_threads() -> int:
    """This process's threads as the kernel lists them (Linux), counted here apart from the pool."""
    return sum(1 for entry in Path(f"/proc/{os.getpid()}/task").iterdir() if entry.name.isdigit())


def test_a_process_of_one_thread_can_fork():
    """The tests below exercise the pool only where forking is allowed (one thread)."""
    assert alone(parallel._can_fork)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="the kernel lists threads in /proc (Linux)")
def test_a_thread_threading_does_not_know_stops_the_fork():
    """A thread started by `_thread` (as a C library starts one) is not in threading's count, but a
    fork while it holds a lock would leave the child's copy locked: the pool runs in this process
    then; once the thread has ended, in workers."""
    import _thread
    import threading

    def body() -> None:
        release, ended = _thread.allocate_lock(), _thread.allocate_lock()
        release.acquire()
        ended.acquire()

        def hold() -> None:
            release.acquire()
            ended.release()

        _thread.start_new_thread(hold, ())
        try:
            assert threading.active_count() == 1 and os_threads() == 2  # threading does not see it
            assert not parallel._can_fork()
            assert map_in_workers(lambda i: os.getpid(), 3, 2, weight=lambda i: 0) == [os.getpid()] * 3
        finally:
            release.release()
        assert ended.acquire(timeout=30)
        deadline = time.monotonic() + 30
        while os_threads() > 1 and time.monotonic() < deadline:  # the OS thread ends just after its last line
            time.sleep(0.01)
        assert os_threads() == 1 and parallel._can_fork()
        assert os.getpid() not in map_in_workers(lambda i: os.getpid(), 3, 2, weight=lambda i: 0)

    alone(body)


# ---------------------------------------------------------------------------- the pool itself


def test_items_run_in_workers_and_come_back_in_order():
    parent, results = alone(lambda: (os.getpid(), map_in_workers(lambda i: (i * i, os.getpid()), 7, 3,
                                                                  weight=lambda i: i % 3)))
    assert [value for value, _ in results] == [i * i for i in range(7)]
    workers = {pid for _, pid in results}
    assert parent not in workers and TEST_PROCESS not in workers and 1 <= len(workers) <= 3


@pytest.mark.parametrize("count, jobs", [(1, 4), (5, 1)])
def test_one_item_or_one_job_runs_here(count, jobs):
    assert map_in_workers(lambda i: os.getpid(), count, jobs, weight=lambda i: 0) == [os.getpid()] * count


def test_heaviest_first_ties_in_order():
    sizes = [3, 9, 3, 1, 9]
    assert schedule(len(sizes), lambda i: sizes[i]) == [1, 4, 0, 2, 3]


def test_groups_in_the_order_of_their_heaviest_item_each_in_schedule_order():
    sizes = [3, 9, 3, 1, 9, 4]
    model = ["a", "b", "a", "c", "a", "c"]
    assert schedule_groups(len(sizes), lambda i: sizes[i], lambda i: model[i]) == [[1], [4, 0, 2], [5, 3]]
    assert schedule_groups(len(sizes), lambda i: sizes[i]) == [[i] for i in schedule(len(sizes), lambda i: sizes[i])]


def test_a_worker_keeps_to_its_group_then_takes_a_free_one_then_helps():
    pending = parallel._Pending([[4, 0, 2], [1], [5, 3]])
    assert pending.take(None, set()) == (0, 4)  # the first worker: the first group
    assert pending.take(None, {0}) == (1, 1)  # the second: the first group no one holds
    assert pending.take(0, {1}) == (0, 0)  # the first keeps to its group
    assert pending.take(1, {0}) == (2, 5)  # the second's group is done: the next free one
    assert pending.take(2, {0}) == (2, 3)
    assert pending.take(2, {0}) == (0, 2)  # no free group left: it helps with the first's
    assert not pending


def test_workers_start_on_different_groups_and_return_every_item_in_order():
    model = [0, 0, 0, 1, 1, 1]

    def work(i: int) -> tuple[int, int]:
        time.sleep(0.02)
        return i * 10, os.getpid()

    results = alone(lambda: map_in_workers(work, 6, 2, weight=lambda i: 1, group=lambda i: model[i]))
    assert [value for value, _ in results] == [i * 10 for i in range(6)]
    assert results[0][1] != results[3][1]  # each worker began with the first item of its own group


def test_a_worker_that_dies_loses_its_item_only():
    def work(i: int) -> int:
        if i == 2:
            die("SIGKILL")
        return i + 100

    results = alone(lambda: map_in_workers(work, 6, 2, weight=lambda i: 0))
    assert isinstance(results[2], WorkerLost) and "signal 9" in results[2].message
    assert [r for i, r in enumerate(results) if i != 2] == [100, 101, 103, 104, 105]  # a fresh worker went on


def test_a_worker_that_exits_is_lost_too():
    results = alone(lambda: map_in_workers(lambda i: die("exit 3") if i == 0 else i, 3, 2, weight=lambda i: -i))
    assert isinstance(results[0], WorkerLost) and "exited with status 3" in results[0].message
    assert results[1:] == [1, 2]


@pytest.mark.full  # waits out a hung worker (1.6 s); the dying worker above stays in make test
def test_a_worker_that_hangs_is_stopped_and_its_item_lost():
    """A worker that neither answers nor ends (its pipe stays open) does not hold the caller for
    ever: after `patience` seconds it is killed, its item is a WorkerLost, a fresh worker goes on."""
    def work(i: int) -> int:
        if i == 1:
            time.sleep(120)  # far beyond the patience below
        return i + 100

    def body() -> tuple[list, float, set[int]]:
        started = time.monotonic()
        results = map_in_workers(work, 5, 2, weight=lambda i: -i, patience=1.5)
        return results, time.monotonic() - started, _children()

    results, seconds, left = alone(body)
    assert isinstance(results[1], WorkerLost)
    assert "did not answer within 1.5 s (wall clock) and was stopped" in results[1].message
    assert [r for i, r in enumerate(results) if i != 1] == [100, 102, 103, 104]
    assert 1.5 <= seconds < HANG_GUARD_SECONDS and left == set()  # stopped at the patience, and reaped


def test_patience_exceeds_every_budget_that_bounds_a_healthy_check():
    """The bound is the file's own budget -- CPU seconds -- times limits.WORKER_WALL_PER_CPU_SECOND
    (the wall time a loaded machine may stretch it to), plus limits.WORKER_MARGIN_SECONDS: the
    wall-clock watchdog cannot fire before the CPU budgets stop a check, also when the worker gets
    an eighth of a core (a file's default budget grows with its steps, up to MAX_STEPS)."""
    from elbo_sym.limits import MAX_STEPS, WORKER_MARGIN_SECONDS, WORKER_WALL_PER_CPU_SECOND, file_budget

    assert WORKER_WALL_PER_CPU_SECOND >= 4  # rt13 measured wall time 2-4x the CPU time on 2 loaded cores
    for budget in (0.5, 1.0, 10.0, 60.0, 3600.0):
        for steps in (1, 12, MAX_STEPS):
            assert parallel.worker_patience(budget) >= (file_budget(steps, budget) * WORKER_WALL_PER_CPU_SECOND
                                                        + WORKER_MARGIN_SECONDS)
        assert parallel.worker_patience(budget, total=7.0) == 7.0 * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS
    # a caller that does not say: the largest budget an option may ask
    assert map_in_workers.__defaults__ == (None, None)  # read at the call (tests/test_limits_at_call_time.py)
    assert parallel._Pool(lambda i: i, 1).patience(0) == 3600.0 * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS


def test_build_gives_each_files_worker_the_patience_of_its_own_budget(folder, monkeypatch):
    """check_all (`build`, `web`) waits for each file's worker as long as that file's budget allows
    (rt15 F5): its steps x --budget capped, or --file-budget -- not the largest file's 1260 s."""
    from elbo_sym.limits import WORKER_MARGIN_SECONDS, WORKER_WALL_PER_CPU_SECOND

    build = elbo_sym.report.build
    small = build.load_in_time(str(folder / "a-gap.toml"), 5.0)
    steps = len(small.derivation.steps)
    assert build.check_patience(small, 5.0) == steps * 5.0 * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS
    assert build.check_patience(small, 5.0, total=7.0) == 7.0 * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS
    assert build.check_patience(small, 100.0) == 120.0 * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS  # capped
    assert build.check_patience(small, 5.0) < parallel.worker_patience(5.0)  # sooner than the largest file's
    seen = {}

    def capture(work, count, jobs, weight, patience, group=None):
        seen.update({n: patience(n) for n in range(count)})
        return [work(n) for n in range(count)]

    monkeypatch.setattr(parallel, "map_in_workers", capture)
    files = [str(folder / "a-gap.toml"), str(REPO / "derivations" / "tight.toml")]
    build.check_all(files, 5.0, jobs=2)
    tight = build.load_in_time(files[1], 5.0)
    assert len(tight.derivation.steps) != steps  # (3 steps against 4)
    assert seen == {0: build.check_patience(small, 5.0), 1: build.check_patience(tight, 5.0)}


def test_a_pool_stops_each_item_at_its_own_patience():
    """`patience` per item: the hung item with the short patience is stopped at it, while the item
    with the long one finishes."""
    def work(i: int) -> int:
        if i == 1:
            time.sleep(120)
        return i

    results = alone(lambda: map_in_workers(work, 3, 2, weight=lambda i: -i, patience=lambda i: 1.0 + 60 * (i != 1)))
    assert isinstance(results[1], WorkerLost) and "within 1 s (wall clock)" in results[1].message
    assert results[0] == 0 and results[2] == 2


@pytest.mark.full
def test_the_watchdog_rereads_a_patience_a_worker_shortens_while_it_waits():
    """rt20 F3: the worker writes its file's shorter patience once the file is read, and nothing
    wakes the watchdog then (the other item's result came before): it must read the patience
    again, and end the hung item at that patience, not at the reading's (30 s here)."""
    import mmap

    patience = elbo_sym.report.build.FilePatience(mmap.mmap(-1, 2 * 16), 30.0)

    def work(i: int) -> int:
        if i == 1:
            time.sleep(0.5)  # item 0's result is back before this file is "read"
            patience.read(1, 0.25, 1.0)  # read in under a second; its check may take 1 s more
            time.sleep(120)
        return i

    started = time.monotonic()
    results = alone(lambda: map_in_workers(work, 2, 2, weight=lambda i: -i, patience=patience))
    waited = time.monotonic() - started
    assert results[0] == 0 and isinstance(results[1], WorkerLost)
    assert "within 2 s (wall clock)" in results[1].message  # the wait given: reading (1 s) + 1 s
    assert waited < HANG_GUARD_SECONDS, waited  # stopped, not left waiting (the patience is wall time)


def test_an_exception_is_raised_here_as_a_serial_run_raises_it():
    def work(i: int) -> int:
        if i == 1:
            raise ValueError(f"no good: {i}")
        return i

    with pytest.raises(ValueError, match="no good: 1"):
        alone(lambda: map_in_workers(work, 4, 2, weight=lambda i: 0))


def test_large_results_pass_through_the_pipe():
    results = alone(lambda: map_in_workers(lambda i: "x" * (300_000 + i), 3, 2, weight=lambda i: 0))
    assert [len(r) for r in results] == [300_000, 300_001, 300_002]


def test_no_worker_outlives_the_call():
    def body() -> None:
        assert _children() == set()
        assert map_in_workers(lambda i: os.getpid(), 4, 2, weight=lambda i: 0)[0] != os.getpid()
        assert _children() == set()
        with pytest.raises(ValueError):
            map_in_workers(lambda i: int("x") if i == 0 else time.sleep(30), 3, 3, weight=lambda i: 0)
        assert _children() == set()

    alone(body)


def _children() -> set[int]:
    """Pids of this process's children (Linux /proc), zombies included."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.add(int(entry.name))
    return found


# ---------------------------------------------------------------------------- `check`, `build`, `web`


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Files that pass, a refuted one, a teaching file, one that does not parse, one that is not readable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    (tmp_path / "a-gap.toml").write_text(GAP, "utf-8")
    (tmp_path / "b-refuted.toml").write_text(REFUTED, "utf-8")
    teaching = sorted((REPO / "derivations" / "teaching").glob("*.toml"))[0]
    for source in (REPO / "derivations" / "jensen.toml", REPO / "derivations" / "decomposition.toml", teaching):
        (tmp_path / f"c-{source.name}").write_text(source.read_text("utf-8"), "utf-8")
    (tmp_path / "d-broken.toml").write_text(GAP.replace('rule = "', 'rule = "no-such-rule', 1), "utf-8")
    (tmp_path / "e-folder.toml").mkdir()
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.full
@pytest.mark.parametrize("json", [False, True])
def test_check_in_parallel_prints_what_a_serial_run_prints(folder, capsys, json):
    options = ["--json"] if json else []
    serial = run(capsys, "check", "--jobs", "1", *options, ".")
    parallel_run = alone(lambda: run(capsys, "check", "--jobs", "3", *options, "."))
    assert parallel_run == serial
    assert serial[0] == 2  # the input errors
    assert "d-broken.toml" in serial[1 if json else 2] and "refuted" in serial[1]


@pytest.mark.full
def test_a_file_whose_worker_dies_is_an_error_not_a_pass(folder, capsys, monkeypatch):
    real = elbo_sym.report.build.check_file

    def dying(source, *args, **kwargs):
        if "refuted" not in str(getattr(source, "path", source)):
            return real(source, *args, **kwargs)
        die("SIGKILL")

    monkeypatch.setattr(elbo_sym.report.build, "check_file", dying)
    (folder / "d-broken.toml").unlink()
    (folder / "e-folder.toml").rmdir()
    code, out, err = alone(lambda: run(capsys, "check", "--jobs", "2", "."))
    assert code != 0
    assert "b-refuted.toml: cannot check file: the worker process checking it was killed by signal 9" in err
    assert "a-gap.toml — " in out and "b-refuted.toml — " not in out
    with pytest.raises(elbo_sym.files.InputError, match="b-refuted.toml: cannot check file"):
        alone(lambda: elbo_sym.report.build.check_all([str(folder / "a-gap.toml"), str(folder / "b-refuted.toml")],
                                                      5.0, jobs=2))


@pytest.mark.full  # waits out a hung worker per command (5 s); the dying worker above stays in make test
@pytest.mark.parametrize("through", ["check", "build"])
def test_a_file_whose_worker_hangs_is_an_error_not_a_pass(folder, capsys, monkeypatch, through):
    """`check` (and `build`/`web`, through check_all) bound each worker by the file's budget (times
    the wall seconds allowed per CPU second) plus the margin: a check stuck beyond it is that file's
    error, named, and the run goes on."""
    real = elbo_sym.report.build.check_file

    def stuck(source, *args, **kwargs):
        if "refuted" in str(getattr(source, "path", source)):
            time.sleep(120)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(elbo_sym.report.build, "check_file", stuck)
    monkeypatch.setattr(parallel, "WORKER_MARGIN_SECONDS", 2.0)
    monkeypatch.setattr(parallel, "WORKER_WALL_PER_CPU_SECOND", 1.0)  # (8 in use: wall seconds per CPU second)
    (folder / "d-broken.toml").unlink()
    (folder / "e-folder.toml").rmdir()
    if through == "check":
        code, out, err = alone(lambda: run(capsys, "check", "--jobs", "2", "--file-budget", "1", "."))
        assert code != 0 and "a-gap.toml — " in out and "b-refuted.toml — " not in out
        # 1 s x 1 + 2 s, and its reading's wall seconds (rounded up: `check` reads each file in its worker)
        assert re.search(r"b-refuted.toml: cannot check file: the worker process checking it did not answer "
                         r"within [4-9] s", err), err
    else:
        with pytest.raises(elbo_sym.files.InputError, match="b-refuted.toml: cannot check file: .* within 2.0"):
            alone(lambda: elbo_sym.report.build.check_all([str(folder / "a-gap.toml"), str(folder / "b-refuted.toml")],
                                                          0.0001, jobs=2))


@pytest.mark.full  # waits out a hung worker (about 4 s)
def test_check_ends_a_hung_file_at_its_own_budget_not_the_largest_files(folder, capsys, monkeypatch):
    """`check` reads each file in its worker (the steps are known only then), yet a hung check is
    ended at that file's own budget (its 4 steps x --budget) plus its reading's time, not at the
    patience of the largest file (200 steps: 102 s here, 1,260 s by default)."""
    real = elbo_sym.report.build.check_file

    def stuck(source, *args, **kwargs):
        if "refuted" in str(getattr(source, "path", source)):
            time.sleep(120)  # without CPU
        return real(source, *args, **kwargs)

    monkeypatch.setattr(elbo_sym.report.build, "check_file", stuck)
    monkeypatch.setattr(parallel, "WORKER_MARGIN_SECONDS", 2.0)
    monkeypatch.setattr(parallel, "WORKER_WALL_PER_CPU_SECOND", 1.0)
    (folder / "d-broken.toml").unlink()
    (folder / "e-folder.toml").rmdir()
    started = time.monotonic()
    code, out, err = alone(lambda: run(capsys, "check", "--jobs", "2", "--budget", "0.5", "."))
    waited = time.monotonic() - started
    found = re.search(r"b-refuted.toml: cannot check file: the worker process checking it "
                      r"did not answer within ([0-9.]+) s", err)
    assert found, err
    own = 4 * 0.5 * 1.0 + 2.0  # steps x budget x wall seconds per CPU second + margin
    assert float(found[1]) - own in (1, 2, 3, 4, 5)  # plus its reading's wall seconds, rounded up
    assert code != 0 and "a-gap.toml — " in out and "b-refuted.toml — " not in out
    assert waited < HANG_GUARD_SECONDS


def test_a_files_patience_in_check_is_its_readings_then_its_own_budgets():
    """FilePatience: while a file is read, the reading's budget (the largest default, or --file-budget);
    once the worker says it is read, what the reading took plus its own check's patience."""
    patience = elbo_sym.report.build.FilePatience.for_files(2, 0.5, None)
    reading = parallel.worker_patience(0.5, loading_budget(0.5))
    assert patience(0) == patience(1) == reading
    patience.read(1, 0.25, 9.0)
    assert (patience(0), patience(1)) == (reading, 10.0)  # the reading's seconds rounded up
    assert elbo_sym.report.build.FilePatience.for_files(1, 0.5, 7.0)(0) == parallel.worker_patience(0.5, 7.0)
    child = os.fork()
    if child == 0:  # what a worker writes, its parent reads (memory shared across the fork)
        try:
            patience.read(0, 2.0, 4.0)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert patience(0) == 6.0


@pytest.mark.full
def test_build_and_web_check_in_parallel_alike(folder):
    files = [str(folder / "a-gap.toml"), str(folder / "b-refuted.toml"), str(folder / "c-jensen.toml")]
    serial = elbo_sym.report.build.check_all(files, 5.0, jobs=1)
    assert alone(lambda: elbo_sym.report.build.check_all(files, 5.0, jobs=3)) == serial
    assert [r.ok for r in serial[0]] == [True, False, True]


@pytest.mark.parametrize("value", ["0", "-1", "x", "257"])
def test_bad_jobs_is_one_line_and_exit_2(folder, capsys, value):
    code, out, err = run(capsys, "check", "--jobs", value, "a-gap.toml")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "--jobs" in err


def busy_check(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    """`check --jobs 2` of three files in a process of its own session, once both workers are busy
    (each checks for a minute); the workers' pids."""
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.toml").write_text(GAP, "utf-8")
    script = textwrap.dedent("""
        import os, signal, sys, time
        # as started from a terminal: a shell's background job (`nohup ... &`) ignores SIGINT and
        # SIGHUP, and an ignored signal stays ignored in the processes it starts
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        import elbo_sym.report.build as build
        from elbo_sym.cli import main
        def slow(*args, **kwargs):
            busy = os.open("busy", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(busy, (str(os.getpid()) + "\\n").encode())  # one write: lines do not interleave
            os.close(busy)
            time.sleep(60)
        build.check_file = slow
        sys.exit(main(["check", "--no-cache", "--jobs", "2", "a.toml", "b.toml", "c.toml"]))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    busy, deadline = tmp_path / "busy", time.monotonic() + CHILD_TIMEOUT_SECONDS
    while not (busy.is_file() and len(busy.read_text().splitlines()) == 2):  # a file: waiting on it is bounded
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"the workers never got busy: {process.communicate(timeout=30)}")
        time.sleep(0.05)
    return process, [int(line) for line in busy.read_text().splitlines()]


@pytest.mark.full
def test_a_real_check_forks_its_workers(tmp_path):
    """The command's process has one thread when it forks (nothing imported before the fork starts
    one, as importing NumPy starts OpenBLAS's): `check --jobs 2` really checks in workers."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(GAP, "utf-8")
    script = textwrap.dedent("""
        import json, os, sys
        from elbo_sym.report import parallel
        from elbo_sym.cli import main
        pools, real = [], parallel._Pool.run
        def spy(self, order, count):
            pools.append(parallel._threads())
            return real(self, order, count)
        parallel._Pool.run = spy
        code = main(["check", "--no-cache", "--jobs", "2", "a.toml", "b.toml"])
        print(json.dumps([code, pools]))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, [1]]


@pytest.mark.full  # a real process tree and a signal (2 s)
def test_ctrl_c_stops_every_worker(tmp_path):
    """A check interrupted while its workers are busy exits 130, with no traceback and no worker left."""
    process, _ = busy_check(tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # as the terminal does: the whole group
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in err
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nobody is left in the group


@pytest.mark.full  # three real process trees killed (1.5 s)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_workers_end_when_only_the_parent_is_killed(tmp_path, signal_number):
    """`kill PID` of the parent alone (no handler runs for SIGKILL): its workers do not check on as
    orphans -- the kernel ends them with the parent (they are dead, at most not yet reaped)."""
    process, workers = busy_check(tmp_path)
    os.kill(process.pid, signal_number)  # the parent only
    process.communicate(timeout=30)

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)


@pytest.mark.full
@pytest.mark.parametrize("files", [1, 4, 6, 12])
def test_without_jobs_a_few_files_are_checked_in_this_process(tmp_path, monkeypatch, files):
    """Each worker pays SymPy's first-use costs once: the four lesson files are quicker in one
    process, so the default starts a worker per core only for every FILES_PER_WORKER files."""
    from elbo_sym.authoring.cache import check_paths
    from elbo_sym.limits import FILES_PER_WORKER

    for n in range(files):
        (tmp_path / f"f{n:02}.toml").write_text(GAP, "utf-8")
    pools = []
    real_run = parallel._Pool.run

    def spy(self, order, count):
        pools.append(self.jobs)
        return real_run(self, order, count)

    monkeypatch.setattr(parallel._Pool, "run", spy)
    pools, (reports, errors) = alone(lambda: (pools, check_paths([str(tmp_path)], 10.0, use_cache=False)))
    assert len(reports) == files and not errors and all(r.ok for r in reports)
    wanted = min(parallel.available_cores(), files // FILES_PER_WORKER)
    assert pools == ([wanted] if wanted >= 2 else [])


def test_files_of_one_model_share_a_group_and_other_models_do_not():
    from elbo_sym.authoring.cache import model_of

    def key(name: str) -> tuple[bytes, ...]:
        return model_of((REPO / "derivations" / name).read_bytes())

    assert key("gap.toml") == key("tight.toml") == (b'K = "any"',)
    assert key("variants/gaussian-kl.toml") == key("variants/gaussian-elbo.toml") != key("gap.toml")
    assert key("variants/hierarchical-gap.toml") != key("variants/iwae-bound.toml")  # K = 2, with or without z1, z2
    assert model_of(b'K = 3\n[[step]]\nK = 2\n') == (b"K = 3",)  # a table's keys are not the file's

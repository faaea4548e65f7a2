"""Check several files at once: forked worker processes, one per core, results in file order.

`check`, `build` and `web` check every file independently; on a machine with several cores
the files are shared among worker processes forked from the process that runs the command,
after it has imported the engine (so no worker imports SymPy again).  A worker takes the
next file, largest first (the slowest usually, so the last to finish is a short one), checks
it and sends the report back pickled through a pipe.  Files of one model (the caller's `group`)
go to one worker while it lasts (:func:`schedule_groups`): the engine's memos are per model
(canonical forms, unfoldings, sums: docs/06's memo rules), so a second worker would build them
again.  The caller puts the reports back in file order, so what is printed is what a serial
run prints.  Each file keeps its own budgets (the engine's deadlines run inside the worker).

A worker that dies without sending a report (killed, out of memory, a crash in a library), or
holds one file longer than the file's budget allows (:func:`worker_patience`: a hang the budgets
did not stop; it is killed), becomes :class:`WorkerLost` for the file it held -- never a pass --,
and a fresh worker takes the remaining files.  An exception raised by the check is raised again
here, as a serial run raises it.  Ctrl-C stops the workers (they ignore SIGINT; the caller kills them) and raises
KeyboardInterrupt here.  One file, one job, a platform without ``fork``, or a process with
another thread (any OS thread, also one a C library started): serial, in this process.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from elbo_sym.limits import (
    FILES_PER_WORKER,
    MAX_BUDGET_SECONDS,
    MAX_STEPS,
    STEP_BUDGET_SECONDS,
    WATCHDOG_POLL_SECONDS,
    WORKER_MARGIN_SECONDS,
    WORKER_WALL_PER_CPU_SECOND,
    file_budget,
)

__all__ = ["WorkerLost", "available_cores", "default_jobs", "map_in_workers", "schedule", "schedule_groups",
           "worker_patience"]

_LENGTH = 8
"""Bytes of the length that precedes each pickled result on a worker's pipe."""


@dataclass(frozen=True)
class WorkerLost:
    """The file's worker process gave no report: `how` says why (a signal, an exit status, no
    answer in time)."""

    how: str

    @property
    def message(self) -> str:
        return (f"cannot check file: the worker process checking it {self.how} "
                f"(`elbo-sym check --jobs 1 FILE` checks it in one process)")


def worker_patience(budget: float = STEP_BUDGET_SECONDS, total: float | None = None) -> float:
    """Wall seconds a worker may hold one file checked with these budgets: the file's budget (`total`,
    else the default of the largest file, at most MAX_STEPS steps) in CPU seconds, times
    limits.WORKER_WALL_PER_CPU_SECOND (a loaded machine gives the worker a fraction of a core), plus
    limits.WORKER_MARGIN_SECONDS.  The CPU budgets stop a healthy check before that, however busy the
    machine; a worker still busy then is hung (waiting, or stuck in C code no alarm interrupts)."""
    cpu = file_budget(MAX_STEPS, budget) if total is None else total
    return cpu * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS


def _patience_for_any_budget() -> float:
    """The patience of a caller that does not say: enough for the largest budget an option may ask
    (from the limits as they are at the call, not at import)."""
    return MAX_BUDGET_SECONDS * WORKER_WALL_PER_CPU_SECOND + WORKER_MARGIN_SECONDS


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_jobs(count: int) -> int:
    """Workers for `count` files when the user did not say (`--jobs`): one per core, but at most
    one per limits.FILES_PER_WORKER files (1: the files are checked in this process)."""
    return max(1, min(available_cores(), count // FILES_PER_WORKER))


def _can_fork() -> bool:
    """Fork only where it is safe: a platform with fork, and no other thread in this process
    (a thread holding a lock at the fork would leave the child's copy locked forever)."""
    return hasattr(os, "fork") and sys.platform != "win32" and _threads() == 1


def _threads() -> int:
    """The threads of this process: every OS thread where the platform lists them (Linux's
    /proc/self/task also sees threads started by a C library or `_thread`, which `threading`
    does not know), else the threads `threading` knows."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def map_in_workers(work: Callable[[int], Any], count: int, jobs: int, weight: Callable[[int], float],
                   patience: float | Callable[[int], float] | None = None,
                   group: Callable[[int], Hashable] | None = None) -> list[Any]:
    """``[work(0), ..., work(count - 1)]``, each computed in a worker process (``jobs`` of them at
    most, heaviest `weight` first, the items of one `group` key kept on one worker while it can:
    :func:`schedule_groups`), or serially in this process when ``jobs`` or ``count`` is 1
    or fork is unavailable.  An item whose worker died, or held it more than `patience` seconds
    (one number, or each item's own: `patience(i)`, a small file's hang is stopped sooner; None: enough
    for the largest budget an option may ask)
    (then it is killed), is a :class:`WorkerLost`."""
    if count <= 1 or jobs <= 1 or not _can_fork():
        return [work(i) for i in range(count)]
    return _Pool(work, min(jobs, count), patience).run(schedule_groups(count, weight, group), count)


def schedule(count: int, weight: Callable[[int], float]) -> list[int]:
    """The order in which items are handed out: heaviest first (ties: in order), so that the
    last item to finish is a light one."""
    return sorted(range(count), key=lambda i: (-weight(i), i))


def schedule_groups(count: int, weight: Callable[[int], float],
                    group: Callable[[int], Hashable] | None = None) -> list[list[int]]:
    """The items in the groups a worker keeps to: those with one `group` key together, each group
    in :func:`schedule`'s order, the group of the heaviest item first (so the heaviest items still
    start early and the last to finish is a light one).  Without `group` every item is a group."""
    groups: dict[Hashable, list[int]] = {}
    for i in schedule(count, weight):
        groups.setdefault(i if group is None else group(i), []).append(i)
    return list(groups.values())


class _Pending:
    """The items not handed out yet, in :func:`schedule_groups`' groups."""

    def __init__(self, groups: list[list[int]]):
        self.groups = [deque(items) for items in groups]

    def __bool__(self) -> bool:
        return any(self.groups)

    def take(self, group: int | None, held: set[int]) -> tuple[int, int]:
        """(group, item) for a worker that worked on `group` (None: none yet): the next item of its
        group; else the first group no other worker `held`; else (the end: no group is free) the
        first group with items left, helping the worker that holds it."""
        if group is None or not self.groups[group]:
            left = [g for g, items in enumerate(self.groups) if items]
            group = next((g for g in left if g not in held), left[0])
        return group, self.groups[group].popleft()


@dataclass
class _Worker:
    """A worker process, its two pipes and the item it holds (None: idle)."""

    pid: int
    tasks: int  # write end: the parent sends item numbers
    results: int  # read end: the worker sends length-prefixed pickles
    item: int | None = None
    group: int | None = None  # the group of its last item (schedule_groups)
    since: float = 0.0  # when it was given its item (time.monotonic)
    buffer: bytearray = field(default_factory=bytearray)


class _Pool:
    def __init__(self, work: Callable[[int], Any], jobs: int,
                 patience: float | Callable[[int], float] | None = None):
        import selectors  # here, as pickle below: a serial check does without them

        self.work, self.jobs = work, jobs
        seconds = _patience_for_any_budget() if patience is None else patience
        self.patience: Callable[[int], float] = seconds if callable(seconds) else (lambda _item: seconds)
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()
        self.readable = selectors.EVENT_READ

    def run(self, groups: list[list[int]], count: int) -> list[Any]:
        results: list[Any] = [None] * count
        pending = _Pending(groups)
        try:
            for _ in range(self.jobs):
                self._start()
            for worker in list(self.workers):
                self._assign(worker, pending)
            while any(worker.item is not None for worker in self.workers):
                for key, _ in self.selector.select(self._time_left()):
                    self._read(key.data, pending, results)
                self._stop_the_hung(pending, results)
        finally:
            self._stop()
        return results

    def _start(self) -> _Worker:
        for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            status = 1
            try:
                _die_with(parent)
                os.close(task_write)
                os.close(result_read)
                for other in self.workers:  # else a worker would never see its siblings' end of work
                    for fd in (other.tasks, other.results):
                        if fd >= 0:
                            os.close(fd)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers on Ctrl-C
                _serve(self.work, task_read, result_write)
                status = 0
            finally:
                os._exit(status)
        os.close(task_read)
        os.close(result_write)
        worker = _Worker(pid, task_write, result_read)
        self.workers.append(worker)
        self.selector.register(result_read, self.readable, worker)
        return worker

    def _time_left(self) -> float:
        """Seconds until the first busy worker runs out of patience (0: one has), at most
        limits.WATCHDOG_POLL_SECONDS: a worker may shorten its patience meanwhile (rt20 F3: a small
        file's hang was ended at the reading's patience, 14 s instead of 6)."""
        first = min(worker.since + self.patience(worker.item) for worker in self.workers if worker.item is not None)
        return min(WATCHDOG_POLL_SECONDS, max(0.0, first - time.monotonic()))

    def _stop_the_hung(self, pending: _Pending, results: list[Any]) -> None:
        """Kill every worker that held its item longer than the patience: the item is lost."""
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.item is not None and worker.pid and now - worker.since >= self.patience(worker.item):
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                waited = self.patience(worker.item)
                self._lose(worker, f"did not answer within {waited:g} s (wall clock) and was stopped",
                           pending, results)

    def _lose(self, worker: _Worker, how: str | None, pending: _Pending, results: list[Any]) -> None:
        """The worker is gone (or killed): reap it; its item, if any, is a WorkerLost saying `how`
        (None: how it ended), and a fresh worker takes the remaining items."""
        lost = worker.item
        self._retire(worker)
        self.selector.unregister(worker.results)
        os.close(worker.results)
        worker.results = -1
        ended = _how_it_ended(worker.pid)
        worker.pid, worker.item = 0, None
        if lost is not None:
            results[lost] = WorkerLost(how or f"{ended} without a report")
            if pending:
                self._assign(self._start(), pending)

    def _assign(self, worker: _Worker, pending: _Pending) -> None:
        if pending:
            held = {other.group for other in self.workers
                    if other is not worker and other.item is not None and other.group is not None}
            worker.group, worker.item = pending.take(worker.group, held)
            worker.since = time.monotonic()
            try:
                _write_all(worker.tasks, worker.item.to_bytes(_LENGTH, "big"))
            except OSError:
                pass  # the worker is gone: its pipe's end says so next, and the item is lost
        else:
            worker.item = None
            self._retire(worker)

    def _read(self, worker: _Worker, pending: _Pending, results: list[Any]) -> None:
        chunk = os.read(worker.results, 1 << 20)
        if not chunk:  # the worker is gone
            self._lose(worker, None, pending, results)
            return
        worker.buffer += chunk
        while len(worker.buffer) >= _LENGTH:
            size = int.from_bytes(worker.buffer[:_LENGTH], "big")
            if len(worker.buffer) < _LENGTH + size:
                return
            import pickle

            kind, value = pickle.loads(bytes(worker.buffer[_LENGTH:_LENGTH + size]))
            del worker.buffer[:_LENGTH + size]
            if kind == "raise":
                raise value
            assert worker.item is not None
            results[worker.item] = value
            self._assign(worker, pending)

    def _retire(self, worker: _Worker) -> None:
        """Tell `worker` there is no more work: its task pipe is closed, so its next read ends it."""
        if worker.tasks >= 0:
            os.close(worker.tasks)
            worker.tasks = -1

    def _stop(self) -> None:
        """Every worker gone: those still working are killed (an error or Ctrl-C here), all reaped."""
        for worker in self.workers:
            if worker.item is not None and worker.pid:
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._retire(worker)
        for worker in self.workers:
            if worker.results >= 0:
                self.selector.unregister(worker.results)
                os.close(worker.results)
                worker.results = -1
            if worker.pid:
                try:
                    os.waitpid(worker.pid, 0)
                except ChildProcessError:
                    pass
                worker.pid = 0
        self.selector.close()
        self.workers = []


def _die_with(parent: int) -> None:
    """Have the kernel end this worker when its parent ends, however the parent ends (SIGTERM,
    SIGHUP, SIGKILL: no handler runs then), where the platform can (Linux's PR_SET_PDEATHSIG);
    a parent already gone ends the worker at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def _how_it_ended(pid: int) -> str:
    """Reap `pid` and say how it ended ("was killed by signal 9 (SIGKILL)", "exited with status 3")."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "ended"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = f" ({signal.Signals(number).name})"
        except ValueError:
            name = ""
        return f"was killed by signal {number}{name}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _serve(work: Callable[[int], Any], tasks: int, results: int) -> None:
    """The worker's loop: read an item number, send ("value", work(item)) or ("raise", exception)."""
    import pickle

    while True:
        header = _read_exact(tasks, _LENGTH)
        if header is None:
            return
        try:
            outcome: tuple[str, Any] = ("value", work(int.from_bytes(header, "big")))
        except Exception as error:  # raised again by the parent, as a serial run raises it
            outcome = ("raise", error)
        try:
            data = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an exception that does not pickle: its description
            data = pickle.dumps(("raise", RuntimeError(f"{type(outcome[1]).__name__}: {error}")))
        _write_all(results, len(data).to_bytes(_LENGTH, "big") + data)


def _read_exact(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

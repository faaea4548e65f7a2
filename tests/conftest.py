"""Shared test helpers: LaTeX-dependent tests skip without TeX, except in CI; the suite's speed-ups
(xdist grouping of shared fixtures, one check of each repository file per process)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from latex_tools import require_latex

if TYPE_CHECKING:  # imported where used: the conftest stays light for tests of what is imported
    from elbo_sym.report.model import DerivationReport

# The suite checks the engine, not the result cache: a cached verdict would hide a change.
os.environ.setdefault("ELBO_SYM_NO_CACHE", "1")

try:  # Reproducible property tests in CI; a wider random search locally.
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.register_profile("dev", deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass


@pytest.fixture
def requires_latex() -> None:
    """Skip if TeX/poppler is missing; fail instead when ELBO_SYM_REQUIRE_LATEX=1 (CI): tests/latex_tools.py."""
    require_latex()


# --------------------------------------------------------------------------- speed (issue 19 item 6)
# `make test` runs the suite on every core with pytest-xdist (`-n auto --dist loadgroup`). Two
# things keep that as cheap as one process: a test that shares a module- or session-scoped fixture
# of its own file (a handout build, a site build, the mutants' verdicts) runs on the same worker
# as the file's other users of it, so each such fixture is built once; and a derivation file of the
# repository that several files check (the lesson, the variants, the literature) is checked once
# per worker and the frozen report shared (`checked_report`). The mutants' and the fuzzer's own
# process pools shrink to the cores a worker has to itself (PYTEST_XDIST_WORKER_COUNT).

SHARED_SCOPES = ("module", "package", "session")


def _own_shared_fixtures(item: pytest.Item) -> frozenset[str]:
    """The shared-scope fixtures defined in the item's own test file that it uses (directly or
    through other fixtures): each is built once per process, so its users belong on one worker."""
    info = getattr(item, "_fixtureinfo", None)
    module = getattr(item, "module", None)
    if info is None or module is None:
        return frozenset()
    return frozenset(name for name, definitions in info.name2fixturedefs.items()
                     if definitions[-1].scope in SHARED_SCOPES
                     and getattr(definitions[-1].func, "__module__", None) == module.__name__)


def pytest_configure(config: pytest.Config) -> None:
    """xdist_group is pytest-xdist's mark; registered here too, so a run without xdist knows it.
    Under --dist loadgroup the work units go out in the order pytest_collection_modifyitems gives
    (longest first), not pytest-xdist's default of the units with the most tests first."""
    config.addinivalue_line("markers", "xdist_group(name): run on the worker that runs the group's other tests")
    config.addinivalue_line("markers", f"{REAL_LATEX_MARK}: each LaTeX build runs latexmk (no earlier build replayed)")
    # SymPy's deprecations fail the test that meets them (red team rt34: a Str reached Add unnoticed).
    # Here, not in pyproject.toml: naming SymPy's class there would make every pytest run in the
    # repository import SymPy while reading its settings, before elbo_sym sizes SymPy's cache (the
    # plugin's entry in tests/test_loop_speed.py runs pytest there).
    config.addinivalue_line("filterwarnings", "error::sympy.utilities.exceptions.SymPyDeprecationWarning")
    if getattr(config.option, "dist", "no") == "loadgroup":  # the controller, which schedules
        config.option.loadscopereorder = False
    if getattr(config.option, "loadgroup", False):  # a worker, which collects
        config.pluginmanager.register(_LongestFirst(), "elbo-sym-longest-first")


SHARED_ACROSS_FILES = {
    "tests/test_handouts_literature.py::reports": ("checked_report", "the literature"),
    "tests/test_web.py::literature_reports": ("checked_report", "the literature"),
    "tests/test_second_opinion_corpus.py::opinions": ("checked_report", "the literature"),
    "tests/test_literature.py::test_every_literature_file_is_proved_for_every_latent_space_and_cites_its_source":
        ("checked_report", "the literature"),
}
"""Module fixtures (file::fixture) and tests (file::test) of different files that ask
`checked_report` for the same files (here the 53 literature files, a full check each; the second
opinion's corpus checks them among the rest of the tree): one group,
so the worker that runs them checks each file once and the others read the memo."""


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the users of a file's own shared fixtures with one xdist_group per set of fixtures that
    tests use together (honoured by --dist loadgroup, a no-op otherwise): a file's independent
    fixtures (e.g. the two fuzz campaigns) can run on different workers. A test's own xdist_group
    mark is kept."""
    _record_collection(config, items)
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(key: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    users = []
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        file = item.nodeid.split("::")[0]
        keys = sorted(SHARED_ACROSS_FILES.get(f"{file}::{name}", (file, name)) for name in _own_shared_fixtures(item))
        shared = SHARED_ACROSS_FILES.get(item.nodeid.split("[", 1)[0])  # a test that asks checked_report itself
        if shared is not None:
            keys = sorted({*keys, shared})
        if keys:
            users.append((item, keys[0]))
            for key in keys[1:]:
                parent[root(key)] = root(keys[0])
    loadgroup = getattr(config.option, "loadgroup", False)
    for item, key in users:
        file, name = root(key)
        group = f"{file}::{name}"
        item.add_marker(pytest.mark.xdist_group(group))
        if loadgroup and hasattr(item, "_id"):
            # pytest >= 9.1 keeps the node id in `_id`: pytest-xdist 3.8 still writes the group
            # suffix to `_nodeid`, which no longer changes the id its scheduler reads. Done here.
            from _pytest.nodeid import coerce_node_id

            item._id = coerce_node_id(f"{item.nodeid}@{group}")


# --------------------------------------------------------------------------- the two tiers
# `make test` selects `-m "not full"`, `make test-full` `-m "full or sized"` (Makefile). The
# collection is recorded before any -m/-k deselection, so tests/test_suite_sizes.py can prove that
# every collected test is in one of the two tiers (in this process, or in a `--collect-only`
# subprocess that writes the record to ELBO_SYM_WRITE_COLLECTION when only part was collected).

COLLECTED = pytest.StashKey[list[tuple[str, tuple[pytest.Mark, ...]]]]()
"""Every collected test's node id (without its xdist group) and marks, before deselection."""


def _record_collection(config: pytest.Config, items: list[pytest.Item]) -> None:
    record = [(duration_key(item.nodeid), tuple(item.iter_markers())) for item in items]
    config.stash[COLLECTED] = record
    out = os.environ.get("ELBO_SYM_WRITE_COLLECTION")
    if out:
        import json

        def plain(mark: pytest.Mark) -> dict[str, object]:
            kwargs = {k: v for k, v in mark.kwargs.items() if isinstance(v, str | int | bool) or v is None}
            return {"name": mark.name, "kwargs": kwargs}

        Path(out).write_text(json.dumps([[nodeid, [plain(m) for m in marks]] for nodeid, marks in record]), "utf-8")


# --------------------------------------------------------------------------- scheduling
# With --dist loadgroup, pytest-xdist hands out work units (a group, or a single test) in the
# order it is given; each worker asks for the next one when it is nearly idle. Handing out the
# longest first (a site build, a LaTeX build, a search that waits out its budget) keeps the last
# minute from being one worker alone with one long unit. The order only decides who runs what
# when: a stale or missing figure costs time, never a result.

DURATIONS = Path(__file__).with_name("durations.json")
"""Seconds (setup + call + teardown) of each test that takes >= 0.5 s, by node id without its
group, from a measured run (`bench/suite_durations.py` writes it: wall seconds of a `--durations=0`
output, or CPU seconds of a CPU record, ELBO_SYM_CPU_TIMES below); any other test counts 0."""


def _load_durations() -> dict[str, float]:
    import json

    try:
        table = json.loads(DURATIONS.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in table.items()} if isinstance(table, dict) else {}


def duration_key(nodeid: str) -> str:
    """`tests/test_x.py::test_y[param]` of `tests/test_x.py::test_y[param]@group`: DURATIONS' key."""
    return nodeid[: nodeid.rfind("@")] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


def work_unit(nodeid: str) -> str:
    """The unit pytest-xdist's loadgroup scheduler hands out: the group after `@`, else the test."""
    return nodeid.rsplit("@", 1)[-1] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


class _LongestFirst:
    """Orders a worker's collection last, after pytest's own reordering by scoped parameters."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items[:] = heaviest_first(items, _load_durations())


def heaviest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """The items with their work units in order of expected time, longest first (stable: a unit's
    tests keep their order and stay together, units of equal weight keep the collection's order)."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(work_unit(item.nodeid), []).append(item)
    weight = {unit: sum(seconds.get(duration_key(i.nodeid), 0.0) for i in members)
              for unit, members in units.items()}
    order = sorted(units, key=lambda unit: -weight[unit])  # sorted() is stable
    return [item for unit in order for item in units[unit]]


ENGINE_MEMO_TABLES = {
    "elbo_sym.engine.check": ("_DERIVED_MEMO",),
    "elbo_sym.engine.models.discrete": ("_POSTERIORS",),
    "elbo_sym.engine.notation": ("_TEXT_PRINTED", "_LATEX_PRINTED"),
    "elbo_sym.engine.exact": ("_MEMOS_AT",),
}
"""The engine's module-level dicts that are memos of results (each bounded: its own code empties it when
full, so emptying it is always allowed); the functools caches are found by themselves, and the second
opinion's tables are emptied by reference.forget (tests/test_memo_fixture.py keeps this list whole)."""

NOT_ENGINE_MEMOS = {
    "elbo_sym.engine.models.base": ("_FAMILIES",),  # the registry of model families, not a memo
    # one positive symbol per exp argument, its name unique: emptied, a new argument could get an old name
    "elbo_sym.engine.canonical": ("_EXP_SYMBOLS", "_EXP_ARGUMENTS", "_EXP_NAMES"),
}
"""Module-level tables of the engine (outside the second opinion) that fresh_memos leaves alone, and why."""

_INSIDE_FRESH_MEMOS: list[str] = []
"""The test running under fresh_memos (checked_report refuses to serve it: its reports are shared)."""


def clear_engine_memos() -> list[str]:
    """Empty every memo elbo_sym keeps between checks, in every module imported so far: each functools
    cache (lru_cache, cache) -- among them the models built once per spec (derivation._model, the
    general families' explicit models) and so every unfolded form, sign and canonical form those
    models remember --, the tables of ENGINE_MEMO_TABLES and the second opinion's values
    (reference.forget).  Returns the names emptied (for the test that keeps the lists whole)."""
    import functools
    import sys

    emptied = []
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("elbo_sym") or module is None:
            continue
        for attribute, value in sorted(vars(module).items()):  # (lru_cache and cache make one type)
            if isinstance(value, functools._lru_cache_wrapper) and getattr(value, "__module__", None) == name:
                value.cache_clear()
                emptied.append(f"{name}.{attribute}")
        for attribute in ENGINE_MEMO_TABLES.get(name, ()):
            getattr(module, attribute).clear()
            emptied.append(f"{name}.{attribute}")
    reference = sys.modules.get("elbo_sym.engine.reference")
    if reference is not None:
        reference.forget()
        emptied.append("elbo_sym.engine.reference.forget()")
    return emptied


@pytest.fixture
def fresh_memos(request: pytest.FixtureRequest):
    """For a test that changes a limit of elbo_sym/limits.py (monkeypatch) the engine reads while it
    builds something it remembers (MAX_IWAE_TERMS: the models of a K = "any" search unfold their draws
    under it): every memo is emptied before the test -- so it meets nothing made under the usual
    limit, whichever test ran before on its worker -- and again after it, so nothing made under its
    limit is left for the next (emptying builds nothing, so it does not matter whether monkeypatch's
    undoing comes before or after)."""
    clear_engine_memos()
    _INSIDE_FRESH_MEMOS.append(request.node.nodeid)
    try:
        yield
    finally:
        _INSIDE_FRESH_MEMOS.pop()
        clear_engine_memos()


@pytest.fixture(scope="session")
def checked_report() -> Callable[[str | Path], DerivationReport]:
    """`check_file(path)` of a file that several test files check (the lesson, the variants, the
    literature), computed once per process and shared: the report is a frozen dataclass, and the key
    is the path as written and the file's bytes (so the report names the file the same way)."""
    from elbo_sym.report.build import check_file

    memo: dict[tuple[str, bytes], DerivationReport] = {}

    def check(path: str | Path) -> DerivationReport:
        assert not _INSIDE_FRESH_MEMOS, f"{_INSIDE_FRESH_MEMOS[0]} changes a limit: call check_file, not shared reports"
        key = (str(path), Path(path).read_bytes())
        if key not in memo:
            memo[key] = check_file(path)
        return memo[key]

    return check


# --------------------------------------------------------------------------- LaTeX runs replayed
# A LaTeX build is latexmk running pdflatex twice (about 1.7 s of CPU) on the doc.tex that
# elbo_sym.publish.render.build_pdf writes; what comes out (doc.pdf, doc.log) depends on that text
# and on SOURCE_DATE_EPOCH / FORCE_SOURCE_DATE only. Many tests build the same text (the lesson's
# handouts through the command, the library and the docs' pages): within one run, the first build of
# a text runs latexmk and keeps its doc.pdf and doc.log; a later build of the same text copies them
# in instead. build_pdf itself runs whole either way (its temp dir, the log's overfull boxes, the
# atomic writes); a failed build is never kept, so every failure is a real LaTeX run.

LATEX_REPLAY = r"""
key=$( { cat doc.tex; printf '\0%s\0%s' "${SOURCE_DATE_EPOCH-}" "${FORCE_SOURCE_DATE-}"; } | sha256sum | cut -c1-64 )
kept="$0/$key"
if [ -f "$kept.pdf" ]; then cp "$kept.log" doc.log && cp "$kept.pdf" doc.pdf && exit 0; fi
"$@"; status=$?
if [ "$status" = 0 ] && [ -f doc.pdf ] && [ -f doc.log ]; then
  cp doc.log "$kept.log.$$" && mv "$kept.log.$$" "$kept.log" &&
    cp doc.pdf "$kept.pdf.$$" && mv "$kept.pdf.$$" "$kept.pdf"
fi
exit $status
"""
"""`sh -c LATEX_REPLAY FOLDER LATEXMK-COMMAND...` in build_pdf's temp dir: the kept outputs of this
doc.tex (and date variables) from FOLDER, else latexmk's run, kept when it succeeded (the log before
the PDF, each renamed into place: a PDF there means both are whole, whichever worker wrote them)."""

REAL_LATEX_MARK = "real_latex"
"""A test so marked runs every LaTeX build for real: one that compares the bytes of two builds (a
replay would make them equal), or times or counts the runs themselves."""


@pytest.fixture(scope="session", autouse=True)
def _latex_replay(tmp_path_factory: pytest.TempPathFactory):
    """Builds of a text already built in this run copy its outputs (LATEX_REPLAY), in one folder for
    the run (under xdist the basetemp's parent, which all workers share). Nothing is imported for it:
    when no test module imported elbo_sym's renderer, no test builds a PDF."""
    import sys

    render, shell = sys.modules.get("elbo_sym.publish.render"), shutil.which("sh")
    if render is None or shell is None:
        yield
        return
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "latex-replay"
    folder.mkdir(exist_ok=True)
    latexmk_command = render._latexmk_command
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "_latexmk_command",
                      lambda latexmk: [shell, "-c", LATEX_REPLAY, str(folder), *latexmk_command(latexmk)])
        _REAL_LATEX_COMMAND.append(latexmk_command)
        yield
        _REAL_LATEX_COMMAND.clear()


_REAL_LATEX_COMMAND: list[Callable[[str], list[str]]] = []
"""render._latexmk_command itself while _latex_replay stands in for it."""


def real_latex(patch: pytest.MonkeyPatch) -> None:
    """While `patch` is in force, every LaTeX build runs latexmk (for a fixture of a wider scope than a
    test's, e.g. builds whose bytes a test compares: a replay would copy one into the other)."""
    if _REAL_LATEX_COMMAND:
        import sys

        patch.setattr(sys.modules["elbo_sym.publish.render"], "_latexmk_command", _REAL_LATEX_COMMAND[0])


@pytest.fixture(autouse=True)
def _real_latex(request: pytest.FixtureRequest) -> None:
    """A test marked real_latex runs latexmk itself for every build."""
    if _REAL_LATEX_COMMAND and request.node.get_closest_marker(REAL_LATEX_MARK) is not None:
        real_latex(request.getfixturevalue("monkeypatch"))


@pytest.fixture
def short_tmp():
    """A fresh folder with a short path (/tmp/es-XXXXXXXX), for a test that writes a path into a text
    with a length limit (a title, a word of prose): tmp_path's length grows with pytest's run counter
    (/tmp/pytest-of-root/pytest-1002/popen-gw0/...), and a word past 80 characters is refused."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="es-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- CPU per test
# Wall time on a shared 2-core machine says more about the other agents than about a test; the CPU a
# test spends (its process and the children it waited for: LaTeX, node, Chromium, `python -m
# elbo_sym`, process pools) does not. With ELBO_SYM_CPU_TIMES=DIR each process (each xdist worker)
# writes DIR/cpu-<worker>.json, {node id: [CPU s, wall s]}; bench/suite_cpu.py sums and compares them.

CPU_TIMES_DIR = os.environ.get("ELBO_SYM_CPU_TIMES")
"""Where to write the CPU record (unset: nothing is measured)."""

START_UP = "(start-up and collection)"
"""The record's entry for what the process spent before its first test: Python, pytest and the
plugins starting, and the collection (every test module imported, its parameters generated); under
xdist each worker pays it, so a cost here is paid once per worker."""

_CPU_RECORD: dict[str, list[float]] = {}
_LOADED = time.monotonic()

# --------------------------------------------------------------------------- budget margins
# With ELBO_SYM_BUDGET_MARGINS=DIR every CPU budget a test's checks enter in this process is recorded
# (tests/budget_margins.py; bench/budget_margins.py lists the tests nearest a budget's end).

BUDGET_MARGINS_DIR = os.environ.get("ELBO_SYM_BUDGET_MARGINS")
"""Where to write the budget record (unset: budgets are not wrapped)."""


def pytest_collection_finish(session: pytest.Session) -> None:
    """Records START_UP (ELBO_SYM_CPU_TIMES): the CPU seconds of this process so far, and the wall
    seconds since this file was loaded (pytest's own start before it, a fraction of a second, is not timed)."""
    if CPU_TIMES_DIR:
        from cpu_work import cpu_seconds

        _CPU_RECORD[START_UP] = [round(cpu_seconds(), 3), round(time.monotonic() - _LOADED, 3)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Records the CPU and wall seconds of the item's setup, call and teardown (ELBO_SYM_CPU_TIMES)."""
    if BUDGET_MARGINS_DIR:
        import budget_margins

        budget_margins.install()
        budget_margins.take()
    if not CPU_TIMES_DIR:
        yield
    else:
        from cpu_work import cpu_seconds

        cpu, wall = cpu_seconds(), time.monotonic()
        yield
        _CPU_RECORD[duration_key(item.nodeid)] = [round(cpu_seconds() - cpu, 3), round(time.monotonic() - wall, 3)]
    if BUDGET_MARGINS_DIR:
        budget_margins.append(BUDGET_MARGINS_DIR, os.environ.get("PYTEST_XDIST_WORKER", "main"),
                              duration_key(item.nodeid), budget_margins.take())


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Writes this process's CPU record (ELBO_SYM_CPU_TIMES); the xdist controller runs no test."""
    if CPU_TIMES_DIR and _CPU_RECORD:
        import json

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        folder = Path(CPU_TIMES_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"cpu-{worker}.json").write_text(json.dumps(_CPU_RECORD, indent=0, sort_keys=True) + "\n", "utf-8")

"""The suite's two tiers (issue 19 item 6): `make test` is the author's fast loop -- every test
not marked `full`, the long campaigns at a smaller size; `make test-full` runs the tests marked
`full` and every sized test (tests/suite_sizes.py) at full size; `make check` (CI, .ci/run) runs
both. Nothing may fall between the two: every collected test is selected by one of the Makefile's
marker expressions, and every sized test by the full tier's, which sets ELBO_SYM_FULL_CAMPAIGNS=1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import suite_sizes
from _pytest.mark import MarkMatcher
from _pytest.mark.expression import Expression
from child_processes import CHILD_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SELECTING = re.compile(r"(^|\s)(-m|-k|--deselect|--ignore\S*|--lf|--last-failed|--sw|tests/\S*)(\s|=|$)")
"""Options that choose tests: only the tiers' own `-m` may appear in a recipe that runs pytest."""


def _makefile() -> str:
    return (ROOT / "Makefile").read_text("utf-8")


def _variable(name: str) -> str:
    match = re.search(rf"^{name}\s*:=\s*(.+)$", _makefile(), re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1).strip()


def _rule(target: str) -> tuple[str, list[str]]:
    """A Makefile target's prerequisites and its recipe's lines."""
    match = re.search(rf"^{re.escape(target)}:([^=\n]*)\n((?:\t.*\n)*)", _makefile(), re.MULTILINE)
    assert match, f"Makefile has no target {target}"
    return match.group(1).strip(), [line[1:] for line in match.group(2).splitlines()]


def _tiers() -> tuple[str, str]:
    """The marker expressions `make test` and `make test-full` give pytest."""
    return _variable("FAST_TESTS"), _variable("FULL_TESTS")


def _selected(expression: str, marks) -> bool:
    """pytest's own `-m` test: its expression language over the item's marks."""
    return Expression.compile(expression).evaluate(MarkMatcher.from_markers(marks))


def _dropped(collected: dict[str, tuple], fast: str, full: str) -> list[str]:
    return [nodeid for nodeid, marks in collected.items() if not _selected(fast, marks) and not _selected(full, marks)]


def _collection(config: pytest.Config, tmp_path: Path) -> dict[str, tuple]:
    """Every test of tests/ with its marks, as pytest collects it: this session's record (conftest,
    before any deselection) when it holds every test file, else a `--collect-only` run's."""
    import conftest

    files = {f"tests/{path.name}" for path in TESTS.glob("test_*.py")}
    recorded = config.stash.get(conftest.COLLECTED, [])
    if {nodeid.split("::")[0] for nodeid, _ in recorded} == files:
        return dict(recorded)
    out = tmp_path / "collected.json"
    env = {**os.environ, "ELBO_SYM_WRITE_COLLECTION": str(out)}
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    marks = {nodeid: tuple(pytest.Mark(m["name"], (), m["kwargs"], _ispytest=True) for m in plain)
             for nodeid, plain in json.loads(out.read_text("utf-8"))}
    assert {nodeid.split("::")[0] for nodeid in marks} == files
    return marks


def test_every_collected_test_is_in_make_test_or_make_test_full(request, tmp_path):
    fast, full = _tiers()
    collected = _collection(request.config, tmp_path)
    assert len(collected) >= 3000
    assert _dropped(collected, fast, full) == []
    in_fast = [n for n, marks in collected.items() if _selected(fast, marks)]
    in_full = [n for n, marks in collected.items() if _selected(full, marks)]
    assert len(in_fast) >= 3000 and len(in_full) >= 100  # neither tier is empty or swallowed the other
    assert "tests/test_docs.py" in {n.split("::")[0] for n in in_fast}  # the docs test is in make test (issue 19)


def test_a_marker_expression_that_drops_tests_is_seen():
    """The check above can fail: a narrower fast tier loses what neither tier selects."""
    full_mark, sized_mark, slow_mark = (pytest.Mark(name, (), {}, _ispytest=True) for name in ("full", "sized", "slow"))
    collected = {"a": (full_mark,), "b": (sized_mark,), "c": (), "d": (slow_mark,), "e": (sized_mark, full_mark)}
    assert _dropped(collected, "not full", "full or sized") == []
    assert _dropped(collected, "not full and not slow", "full or sized") == ["d"]
    assert _dropped(collected, "not full", "full") == []  # b runs in the fast tier, but not at full size:
    assert not _selected("full", collected["b"])  # which the next test forbids


def test_every_sized_test_runs_at_full_size_in_make_test_full(request, tmp_path):
    """A file that uses tests/suite_sizes.py marks all its tests `sized`; the full tier selects
    every one of them and runs with ELBO_SYM_FULL_CAMPAIGNS=1."""
    _, full = _tiers()
    sized_files = {f"tests/{path.name}" for path in TESTS.glob("*.py")
                   if path.name not in ("test_suite_sizes.py", "suite_sizes.py", "conftest.py")
                   and "suite_sizes" in path.read_text("utf-8")}
    assert sized_files, "no test file is sized: then make test-full has nothing to add"
    collected = _collection(request.config, tmp_path)
    marked_files = {n.split("::")[0] for n, marks in collected.items() if any(m.name == "sized" for m in marks)}
    assert marked_files == sized_files
    for nodeid, marks in collected.items():
        if nodeid.split("::")[0] in sized_files:
            assert any(m.name == "sized" for m in marks), nodeid
            assert _selected(full, marks), nodeid
    _, recipe = _rule("test-full")
    assert recipe == ['ELBO_SYM_FULL_CAMPAIGNS=1 $(PYTEST) -m "$(FULL_TESTS)"']


def test_the_makefile_and_ci_run_both_tiers_as_the_docs_say():
    _, recipe = _rule("test")
    assert recipe == ['$(PYTEST) -m "$(FAST_TESTS)"']
    assert not SELECTING.search(_variable("PYTEST").replace("$(BIN)/python -m pytest", ""))
    assert "--max-worker-restart 0" in _variable("PYTEST")  # a crashed worker ends the run (xdist 3.8 hangs)
    addopts = re.search(r'^addopts\s*=\s*"(.*)"', (ROOT / "pyproject.toml").read_text("utf-8"), re.MULTILINE)
    assert addopts and not SELECTING.search(addopts.group(1)) and "--strict-markers" in addopts.group(1)
    assert _rule("check")[1] == ["$(MAKE) test", "$(MAKE) test-full"]
    assert _rule("soundness")[0] == "test-full"  # the old name of the full tier
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "make check" in lines
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "make check" in readme and "make test" in readme
    guide = (ROOT / "docs" / "06-architecture.md").read_text("utf-8")
    assert all(f"make {target}" in guide for target in ("test", "test-full", "check"))


def _slow_in_the_fast_tier(collected: dict[str, tuple], seconds: dict[str, float], fast: str) -> list[str]:
    """The tests the fast tier selects whose figure is FAST_TEST_CHECKED_SECONDS or more and that are not
    named representatives (by their test function: every parameter of a named test is kept)."""
    bound = suite_sizes.FAST_TEST_CHECKED_SECONDS
    return sorted(nodeid for nodeid, marks in collected.items()
                  if seconds.get(nodeid, 0.0) >= bound and _selected(fast, marks)
                  and nodeid.split("[", 1)[0] not in suite_sizes.FAST_REPRESENTATIVES)


def test_the_fast_tier_keeps_only_quick_tests_and_the_named_representatives(request, tmp_path):
    """The fast tier's rule (tests/suite_sizes.py): a test that tests/durations.json (CPU seconds) says is
    slow is marked `full` or named in FAST_REPRESENTATIVES; each name there is a test of `make test`."""
    import conftest

    fast, _ = _tiers()
    collected = _collection(request.config, tmp_path)
    slow = _slow_in_the_fast_tier(collected, conftest._load_durations(), fast)
    assert slow == [], ("mark these `full` (or name them in suite_sizes.FAST_REPRESENTATIVES, with why): "
                        + ", ".join(slow))
    functions = {nodeid.split("[", 1)[0] for nodeid, marks in collected.items() if _selected(fast, marks)}
    assert set(suite_sizes.FAST_REPRESENTATIVES) <= functions, set(suite_sizes.FAST_REPRESENTATIVES) - functions
    assert 0 < suite_sizes.FAST_TEST_CPU_SECONDS <= suite_sizes.FAST_TEST_CHECKED_SECONDS


def test_a_slow_test_left_in_the_fast_tier_is_seen():
    """The check above can fail: a slow test without `full` that is not named is reported, a named one
    (any parameter of it) or one marked `full` is not."""
    full_mark = pytest.Mark("full", (), {}, _ispytest=True)
    kept = next(iter(suite_sizes.FAST_REPRESENTATIVES))
    collected = {"tests/test_a.py::test_slow": (), "tests/test_a.py::test_moved": (full_mark,),
                 "tests/test_a.py::test_quick": (), f"{kept}[x]": ()}
    slow = suite_sizes.FAST_TEST_CHECKED_SECONDS
    seconds = {"tests/test_a.py::test_slow": slow, "tests/test_a.py::test_moved": 9.0,
               "tests/test_a.py::test_quick": slow / 4, f"{kept}[x]": 9.0}
    assert _slow_in_the_fast_tier(collected, seconds, "not full") == ["tests/test_a.py::test_slow"]


def test_the_sizes_follow_the_environment(monkeypatch):
    """sized() picks the full size only when ELBO_SYM_FULL_CAMPAIGNS=1 was set at import."""
    assert suite_sizes.sized(1, 2) == (2 if suite_sizes.FULL_CAMPAIGNS else 1)
    monkeypatch.setattr(suite_sizes, "FULL_CAMPAIGNS", True)
    assert suite_sizes.sized_int(350, 1300) == 1300 and suite_sizes.sized(30.0, 120.0) == 120.0
    monkeypatch.setattr(suite_sizes, "FULL_CAMPAIGNS", False)
    assert suite_sizes.sized_int(350, 1300) == 350 and suite_sizes.sized(30.0, 120.0) == 30.0


# --------------------------------------------------------------------------- scheduling (conftest.py)


class _Item:
    """What heaviest_first reads of a pytest item: its node id."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid


def test_the_longest_work_units_go_first_and_each_unit_stays_together():
    import conftest

    ids = ["tests/test_a.py::test_fast", "tests/test_a.py::test_x[1]@tests/test_a.py::built",
           "tests/test_b.py::test_slow[a@b]", "tests/test_a.py::test_x[2]@tests/test_a.py::built",
           "tests/test_c.py::test_unknown"]
    seconds = {"tests/test_a.py::test_fast": 0.6, "tests/test_a.py::test_x[1]": 3.0,
               "tests/test_a.py::test_x[2]": 0.5, "tests/test_b.py::test_slow[a@b]": 2.0}
    order = [i.nodeid for i in conftest.heaviest_first([_Item(n) for n in ids], seconds)]
    assert order == [ids[1], ids[3], ids[2], ids[0], ids[4]]  # the group (3.5 s), 2 s, 0.6 s, unknown
    assert conftest.work_unit(ids[1]) == "tests/test_a.py::built" and conftest.work_unit(ids[2]) == ids[2]
    assert conftest.duration_key(ids[3]) == "tests/test_a.py::test_x[2]" and conftest.duration_key(ids[2]) == ids[2]


def test_the_durations_table_names_tests_of_this_suite():
    """A stale figure only costs time; a table naming nothing here would order nothing."""
    import conftest

    table = conftest._load_durations()
    assert len(table) >= 50 and all(v >= 0.5 for v in table.values())
    files = {key.split("::")[0] for key in table}
    assert all((ROOT / f).is_file() for f in files), sorted(f for f in files if not (ROOT / f).is_file())


def test_the_groups_shared_across_files_name_fixtures_and_tests_that_exist():
    """A renamed fixture would leave its file out of the shared group: each pass over the
    literature would again be checked on whichever worker runs it."""
    import conftest

    assert conftest.SHARED_ACROSS_FILES
    for key in conftest.SHARED_ACROSS_FILES:
        file, name = key.split("::")
        assert re.search(rf"^def {re.escape(name)}\(", (ROOT / file).read_text("utf-8"), re.MULTILINE), key


def _bench_module(name: str):
    """bench/NAME.py, imported from its path (bench/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _suite_durations():
    return _bench_module("suite_durations")


def _suite_cpu():
    return _bench_module("suite_cpu")


def test_the_durations_of_both_tiers_keep_each_tests_longer_figure():
    """bench/suite_durations.py reads a `make test` and a `make test-full` run: a sized test runs in
    both (two sizes), and the table keeps its longer figure, the phases of one run summed."""
    module = _suite_durations()
    fast = module.durations(["2.00s setup    tests/test_a.py::test_x[1]@tests/test_a.py::built",
                             "1.50s call     tests/test_a.py::test_x[1]@tests/test_a.py::built",
                             "0.80s call     tests/test_b.py::test_y", "0.10s call     tests/test_c.py::test_z"])
    full = module.durations(["3.00s call     tests/test_a.py::test_x[1]", "0.60s call     tests/test_b.py::test_y",
                             "9.00s call     tests/test_d.py::test_site"])
    assert fast == {"tests/test_a.py::test_x[1]": 3.5, "tests/test_b.py::test_y": 0.8}
    assert module.merged([fast, full]) == {"tests/test_a.py::test_x[1]": 3.5, "tests/test_b.py::test_y": 0.8,
                                           "tests/test_d.py::test_site": 9.0}


def test_the_durations_table_can_be_refreshed_from_a_cpu_record(tmp_path):
    """A CPU record (ELBO_SYM_CPU_TIMES, conftest.py) is read per test, every worker's file, the short
    tests left out; merged with the table it keeps each test's longer figure (bench/suite_durations.py)."""
    from conftest import START_UP

    module = _suite_durations()
    record = tmp_path / "cpu"
    record.mkdir()
    (record / "cpu-gw0.json").write_text(json.dumps({"tests/test_a.py::test_x[1]": [4.0, 9.0],
                                                     "tests/test_b.py::test_y": [0.1, 0.3], START_UP: [9.5, 20.0]}))
    (record / "cpu-gw1.json").write_text(json.dumps({"tests/test_c.py::test_z": [0.7, 2.0], START_UP: [9.0, 19.0]}))
    table = tmp_path / "durations.json"
    table.write_text(json.dumps({"tests/test_a.py::test_x[1]": 5.0, "tests/test_d.py::test_site": 9.0}))
    assert module.table_of(record) == {"tests/test_a.py::test_x[1]": 4.0, "tests/test_c.py::test_z": 0.7}
    assert _suite_cpu().per_test(record)[START_UP] == 18.5  # the workers' start-ups summed, not a test's figure
    assert module.merged([module.table_of(table), module.table_of(record)]) == {
        "tests/test_a.py::test_x[1]": 5.0, "tests/test_c.py::test_z": 0.7, "tests/test_d.py::test_site": 9.0}


@pytest.mark.full
def test_the_cpu_record_is_written_per_worker_when_asked(tmp_path):
    """ELBO_SYM_CPU_TIMES=DIR: the run writes DIR/cpu-<worker>.json with each test's CPU and wall seconds
    (the CPU of the children it waited for included: here a child computes for 0.5 s while the test waits)."""
    from conftest import START_UP

    test = tmp_path / "test_cpu.py"
    burn = "import time; end = time.process_time() + 0.5\\nwhile time.process_time() < end: pass"
    test.write_text("import subprocess, sys\n\n\ndef test_child():\n"
                    f"    subprocess.run([sys.executable, '-c', '{burn}'], check=True, timeout=120)\n", "utf-8")
    env = {**os.environ, "ELBO_SYM_CPU_TIMES": str(tmp_path / "cpu")}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "--confcutdir", str(TESTS), "-c", os.devnull,
                          "-p", "conftest", str(test)],
                         cwd=TESTS, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    record = json.loads((tmp_path / "cpu" / "cpu-main.json").read_text("utf-8"))
    start_up = record.pop(START_UP)  # the process's own CPU before its first test: Python and pytest starting
    ((nodeid, (cpu, wall)),) = record.items()
    assert nodeid.endswith("test_cpu.py::test_child") and cpu >= 0.5 and wall > 0
    assert start_up[0] > 0 and start_up[1] > 0

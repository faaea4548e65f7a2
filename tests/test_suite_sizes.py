"""`make test` runs the long campaigns at a smaller size; `make soundness` (CI, after `make test`)
runs the same tests at full size. Nothing may fall between the two: every test file sized by
tests/suite_sizes.py is one `make soundness` runs, and CI runs both targets."""

from __future__ import annotations

import re
from pathlib import Path

import suite_sizes

ROOT = Path(__file__).resolve().parent.parent


def _soundness_tests() -> set[str]:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    match = re.search(r"^SOUNDNESS_TESTS\s*:=\s*(.+)$", makefile, re.MULTILINE)
    assert match, "Makefile has no SOUNDNESS_TESTS"
    return set(match.group(1).split())


def test_every_sized_test_file_runs_at_full_size_in_make_soundness():
    sized = {f"tests/{path.name}" for path in (ROOT / "tests").glob("*.py")
             if path.name != "test_suite_sizes.py" and "suite_sizes" in path.read_text("utf-8")}
    assert sized, "no test file is sized: then make soundness has nothing to add"
    assert sized == _soundness_tests()
    for name in _soundness_tests():
        assert (ROOT / name).is_file(), name


def test_ci_runs_make_soundness_after_make_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in lines and "make soundness" in lines
    assert lines.index("make test") < lines.index("make soundness")
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert re.search(r"^soundness:.*\n\t.*ELBO_SYM_FULL_CAMPAIGNS=1 .*\$\(SOUNDNESS_TESTS\)", makefile, re.MULTILINE)


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

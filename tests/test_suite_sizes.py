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

"""Every process a test starts is waited for with a bound (tests/child_processes.py): a child that
hangs fails its test instead of stopping the run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

TESTS = Path(__file__).resolve().parent
RUNNERS = {"run", "call", "check_call", "check_output"}
"""subprocess's functions that wait for the child (Popen does not: its communicate or wait does)."""


def unbounded_waits(source: str) -> list[int]:
    """Lines of calls that wait for a child without a timeout: subprocess.run & co., and any
    ``.communicate()`` or ``.wait()`` (a Popen's) -- unless ``**options`` may carry one."""
    tree = ast.parse(source)
    imported = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "subprocess"
                for alias in node.names if alias.name in RUNNERS}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function, given = node.func, {keyword.arg for keyword in node.keywords}
        if "timeout" in given or None in given:
            continue
        if isinstance(function, ast.Attribute):
            waits = ((isinstance(function.value, ast.Name) and function.value.id == "subprocess"
                      and function.attr in RUNNERS)
                     or (function.attr == "communicate" and len(node.args) < 2)
                     or (function.attr == "wait" and not node.args))
        else:
            waits = isinstance(function, ast.Name) and function.id in imported
        if waits:
            found.append(node.lineno)
    return found


@pytest.mark.full
def test_every_child_a_test_starts_has_a_timeout():
    missing = [f"{path.name}:{line}" for path in sorted(TESTS.glob("*.py"))
               for line in unbounded_waits(path.read_text("utf-8"))]
    assert missing == [], f"give these calls timeout=CHILD_TIMEOUT_SECONDS (tests/child_processes.py): {missing}"


def test_the_finder_sees_each_unbounded_form():
    source = (
        "import subprocess\n"
        "from subprocess import check_output as out\n"
        "subprocess.run(['a'], capture_output=True)\n"              # 3
        "subprocess.check_output(['a'])\n"                          # 4
        "out(['a'])\n"                                              # 5
        "p = subprocess.Popen(['a'])\n"
        "p.communicate()\n"                                         # 7
        "p.wait()\n"                                                # 8
        "subprocess.run(['a'], timeout=T)\n"
        "subprocess.run(['a'], **options)\n"
        "p.communicate(None, 5)\n"
        "p.wait(5)\n"
        "p.communicate(timeout=5)\n"
    )
    assert unbounded_waits(source) == [3, 4, 5, 7, 8]


def test_a_hang_fails_its_test_before_the_watchdog_ends_the_run():
    """The bound is below pytest's faulthandler_timeout (which ends the whole pytest worker)."""
    pyproject = (TESTS.parent / "pyproject.toml").read_text("utf-8")
    watchdog = float(re.search(r"^faulthandler_timeout = (\d+)", pyproject, re.M)[1])  # type: ignore[index]
    assert 60 <= CHILD_TIMEOUT_SECONDS < watchdog


SHORT_ON_PURPOSE = {
    "test_parallel_check.py": "waits of 30 s for a process already signalled or killed to end, and for a thread's "
                              "lock: each ends in well under a second of CPU",
    "test_render_build.py": "build_pdf's own timeout, tested: a LaTeX loop must end at its 2 s",
}
"""Test files with a wait shorter than CHILD_TIMEOUT_SECONDS, and why it is no bound on a healthy child's speed."""


def short_timeouts(source: str) -> list[int]:
    """Lines of calls given a `timeout=` of fewer seconds than CHILD_TIMEOUT_SECONDS, written as a number: a child
    that takes 5 s of CPU idle can take minutes of wall time on a loaded CI machine (session 22: load 13 on 2 cores)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for keyword in node.keywords if keyword.arg == "timeout" and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, int | float) and keyword.value.value < CHILD_TIMEOUT_SECONDS]


@pytest.mark.full  # reads every test file, as the test above
def test_a_child_is_waited_for_as_long_as_a_loaded_machine_needs():
    """A timeout guards against a hang only: a child's time, its margin over a loaded machine, is never the bound."""
    short = {path.name for path in sorted(TESTS.glob("*.py")) if short_timeouts(path.read_text("utf-8"))}
    extra = sorted(short - set(SHORT_ON_PURPOSE))
    assert short == set(SHORT_ON_PURPOSE), f"give these waits timeout=CHILD_TIMEOUT_SECONDS: {extra}"
    assert short_timeouts("subprocess.run(['a'], timeout=60)\nsubprocess.run(['a'], timeout=CHILD_TIMEOUT_SECONDS)\n"
                          "p.wait(timeout=900)\n") == [1]

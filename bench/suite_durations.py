"""Write tests/durations.json from a `pytest --durations=0` run: the seconds (setup + call +
teardown) of each test that takes at least MIN_SECONDS, by node id without its xdist group.

tests/conftest.py reads it to hand pytest-xdist the longest work units first (`make test`); the
figures only order the work, so a stale file costs time, never a result. Refresh it after a run:

    CI=1 .venv/bin/python -m pytest -q -n auto --dist loadgroup -m "not full" --durations=0 > /tmp/fast.txt
    CI=1 ELBO_SYM_FULL_CAMPAIGNS=1 .venv/bin/python -m pytest -q -n auto --dist loadgroup -m "full or sized" \
        --durations=0 > /tmp/full.txt
    .venv/bin/python bench/suite_durations.py /tmp/fast.txt /tmp/full.txt

(the two tiers, `make test` and `make test-full`; a test in both keeps its longer figure).

An argument that is a folder is a CPU record (ELBO_SYM_CPU_TIMES=DIR, tests/conftest.py): each test's
CPU seconds, its own and its children's. On a machine shared with other work, CPU is the better
guess of a test's time on a quiet one; so the table can be refreshed from a loaded run:

    CI=1 ELBO_SYM_CPU_TIMES=/tmp/cpu-fast .venv/bin/python -m pytest -q -n auto --dist loadgroup -m "not full"
    .venv/bin/python bench/suite_durations.py tests/durations.json /tmp/cpu-fast

(the table given first keeps the figures of the tests the record does not have: here the full tier's).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

MIN_SECONDS = 0.5
"""Below this a test's place in the order hardly matters; leaving it out keeps the file short."""

TESTS = Path(__file__).resolve().parent.parent / "tests"
OUT = TESTS / "durations.json"
LINE = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(tests/\S.*)$")


def durations(lines: list[str]) -> dict[str, float]:
    """Seconds per test, summed over its phases, of the tests at or above MIN_SECONDS."""
    sys.path.insert(0, str(TESTS))
    from conftest import duration_key  # the key conftest reads the table by: the node id without its `@group`

    total: dict[str, float] = defaultdict(float)
    for line in lines:
        match = LINE.match(line.rstrip("\n"))
        if match:
            total[duration_key(match.group(2))] += float(match.group(1))
    return {k: round(v, 2) for k, v in sorted(total.items()) if v >= MIN_SECONDS}


def cpu_record(folder: Path) -> dict[str, float]:
    """The CPU seconds of each test at or above MIN_SECONDS in a CPU record (bench/suite_cpu.py reads it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(TESTS))
    from conftest import START_UP  # each worker's start-up and collection: not a test to order
    from suite_cpu import per_test

    return {k: round(v, 2) for k, v in sorted(per_test(folder).items()) if v >= MIN_SECONDS and k != START_UP}


def table_of(path: Path) -> dict[str, float]:
    """The figures of one argument: a CPU record (a folder), a table (a .json such as durations.json),
    or a `pytest --durations=0` output."""
    if path.is_dir():
        return cpu_record(path)
    if path.suffix == ".json":
        return {str(k): float(v) for k, v in json.loads(path.read_text("utf-8")).items()}
    return durations(path.read_text("utf-8").splitlines())


def merged(runs: list[dict[str, float]]) -> dict[str, float]:
    """One table of several runs (the two tiers): each test's longest figure (a sized test runs in
    both, at two sizes; the order of each tier only needs its long units first)."""
    table: dict[str, float] = {}
    for run in runs:
        for key, seconds in run.items():
            table[key] = max(seconds, table.get(key, 0.0))
    return dict(sorted(table.items()))


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: suite_durations.py (PYTEST_DURATIONS_OUTPUT | TABLE.json | CPU_RECORD_DIR)...", file=sys.stderr)
        return 2
    table = merged([table_of(Path(arg)) for arg in argv])
    OUT.write_text(json.dumps(table, indent=0, ensure_ascii=False) + "\n", "utf-8")
    print(f"{OUT}: {len(table)} tests, {sum(table.values()):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

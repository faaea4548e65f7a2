"""Sum and compare the CPU a test run spent, per file and in all (issue 19 item 6).

A run with ELBO_SYM_CPU_TIMES=DIR (tests/conftest.py) writes DIR/cpu-<worker>.json, each test's CPU
seconds (its process and the children it waited for) and wall seconds, and each worker's start-up
and collection (conftest.START_UP, listed as a file of its own: summed over the workers). CPU is what a test costs
whatever else the machine does; wall time on a shared machine is mostly the others' work.

    CI=1 ELBO_SYM_CPU_TIMES=/tmp/cpu-a .venv/bin/python -m pytest -q -n 2 --dist loadgroup -m "not full"
    .venv/bin/python bench/suite_cpu.py /tmp/cpu-a            # the files by CPU, and the total
    .venv/bin/python bench/suite_cpu.py /tmp/cpu-a /tmp/cpu-b # before and after, per file
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import START_UP  # noqa: E402  (the record's entry for each worker's start-up and collection)

SHOWN = 30
"""The files listed, most CPU first (the rest are summed in the total)."""


def per_test(folder: Path) -> dict[str, float]:
    """Each test's CPU seconds in the run recorded in `folder` (all workers' files together; an entry
    in several workers' files, their start-up, is summed: a test runs on one worker only)."""
    table: dict[str, float] = defaultdict(float)
    for record in sorted(folder.glob("cpu-*.json")):
        for nodeid, (cpu, _wall) in json.loads(record.read_text("utf-8")).items():
            table[nodeid] += float(cpu)
    if not table:
        raise SystemExit(f"{folder}: no cpu-*.json (run pytest with ELBO_SYM_CPU_TIMES={folder})")
    return dict(table)


def per_file(tests: dict[str, float]) -> dict[str, float]:
    """CPU seconds summed over each test file."""
    files: dict[str, float] = defaultdict(float)
    for nodeid, cpu in tests.items():
        files[nodeid.split("::", 1)[0]] += cpu
    return files


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    runs = [per_test(Path(arg)) for arg in argv]
    files = [per_file(run) for run in runs]
    names = sorted(set().union(*files), key=lambda f: -max(run.get(f, 0.0) for run in files))
    for name in names[:SHOWN]:
        print("  ".join(f"{run.get(name, 0.0):8.1f}" for run in files), name)
    totals = [sum(run.values()) for run in runs]
    tests = [len(run) - (START_UP in run) for run in runs]
    print("  ".join(f"{t:8.1f}" for t in totals), f"in all ({', '.join(map(str, tests))} tests and the start-ups)")
    if len(totals) == 2 and totals[0]:
        print(f"change: {100 * (totals[1] - totals[0]) / totals[0]:+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

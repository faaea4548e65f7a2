"""List the tests whose checks came nearest the end of a CPU budget (tests/budget_margins.py).

A run with ELBO_SYM_BUDGET_MARGINS=DIR (tests/conftest.py) writes DIR/budgets-<worker>.jsonl: for each
test (a line as it ends), every budget it entered that it spent at least a quarter of -- what the budget was (the
engine's words), the CPU seconds it was granted, the seconds spent, whether it ran out.

    ELBO_SYM_BUDGET_MARGINS=/tmp/margins .venv/bin/python -m pytest -q -n 2 --dist loadgroup
    .venv/bin/python bench/budget_margins.py /tmp/margins

Listed: the tests in which a budget ran out (a test of running out should give one far below the
work), then the tests that finished with more than MARGIN_SHARE of a budget spent (a finding: on a
loaded machine the same check may run out).  CPU time is measured on whatever machine ran the tests:
measure a finding again on an idle one before believing its number.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from budget_margins import MARGIN_SHARE  # noqa: E402  (the rule's one constant)


def read(folder: Path) -> dict[str, list[list[object]]]:
    """Every worker's record in `folder`, by test."""
    table: dict[str, list[list[object]]] = {}
    for record in sorted(folder.glob("budgets-*.jsonl")):
        for line in record.read_text("utf-8").splitlines():
            nodeid, entries = json.loads(line)
            table.setdefault(nodeid, []).extend(entries)
    return table


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    table = read(Path(argv[0]))
    ran_out = {t: [e for e in es if e[3]] for t, es in table.items()}
    near = {t: [e for e in es if not e[3] and float(e[2]) > MARGIN_SHARE * float(e[1])] for t, es in table.items()}
    print("# a budget ran out (granted s, spent s, what)")
    for test, entries in sorted(ran_out.items()):
        if entries:
            widest = max(entries, key=lambda e: float(e[1]))
            print(f"{test}\n    {len(entries)} ran out; widest: {widest[1]} s, spent {widest[2]} s: {widest[0]}")
    print(f"\n# finished with more than {MARGIN_SHARE:.0%} of a budget spent (share, granted s, spent s, what)")
    rows = sorted(((float(e[2]) / float(e[1]), t, e) for t, es in near.items() for e in es), reverse=True)
    seen = set()
    for share, test, entry in rows:
        if test not in seen:
            seen.add(test)
            print(f"{share:5.2f} {entry[1]:>7} {entry[2]:>7}  {test}\n      {entry[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

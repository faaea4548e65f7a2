"""Outcomes of `elbo-sym check` on every derivation file, to show a speed-up changed none.

A performance change (lazy imports, memoisation, a cheaper second opinion) may only save
time.  This records the full JSON report (`check --no-cache --json`: verdicts, reasons,
counterexamples, conditions, the second opinion's text) of every *.toml under
``derivations/`` and its subfolders, with the exit status, and compares two records.
Fields that are timings (any key naming seconds or time) are dropped before comparing.

Two ways of running, because a memo shared between files could make one file's report depend
on the files checked before it:

* ``--tree`` (default): the whole tree in one process, in the order `discover` gives;
* ``--per-file``: one process per file (slower: a process start each).

    python bench/outcome_diff.py record /tmp/before.json [--per-file]
    python bench/outcome_diff.py compare /tmp/before.json /tmp/after.json

`compare` exits 0 when the records are identical, 1 (printing the first differences) otherwise.
The second opinion runs under a work budget (limits.REFERENCE_WORK_OPERATIONS, counted
operations: the same on a busy machine) with a time backstop (limits.REFERENCE_BUDGET_SECONDS):
only past the backstop, on a very loaded machine, may it agree on fewer instances than usual.
Such differences ("agrees on N instance(s)" on both sides) are marked as budgeted; re-record to
see whether they persist.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMING_WORDS = ("seconds", "time", "elapsed")
BUDGETED = re.compile(r"the reference evaluator agrees on \d+ instance\(s\)")


def folders(root: Path) -> list[Path]:
    """`root` and every folder below it that holds a *.toml, sorted (the tree of derivations)."""
    found = {p.parent for p in root.rglob("*.toml")}
    return sorted(found)


def without_timings(value):
    """`value` with every key that names a timing removed (recursively)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items()
                if not any(word in k.lower() for word in TIMING_WORDS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def run_check(paths: list[str]) -> dict:
    """Exit status and per-file reports of one `check --no-cache --json` process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "--json", *paths],
                          cwd=REPO, env=env, capture_output=True, text=True)
    try:
        reports = json.loads(done.stdout)
    except ValueError:
        reports = {"unparsed stdout": done.stdout, "stderr": done.stderr}
    return {"exit": done.returncode, "reports": without_timings(reports)}


def record(per_file: bool) -> dict:
    tree = [str(p.relative_to(REPO)) for p in folders(REPO / "derivations")]
    if not per_file:
        return {"mode": "tree", "folders": tree, "result": run_check(tree)}
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "derivations").rglob("*.toml"))
    return {"mode": "per-file", "files": {f: run_check([f]) for f in files}}


def differences(before, after, where: str = "") -> list[str]:
    """Paths at which two JSON values differ (first few), with both values."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in before or key not in after:
                out.append(f"{where}/{key}: only in {'after' if key in after else 'before'}")
            else:
                out += differences(before[key], after[key], f"{where}/{key}")
        return out
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{where}: {len(before)} items before, {len(after)} after"]
        out = []
        for i, (b, a) in enumerate(zip(before, after)):
            out += differences(b, a, f"{where}[{i}]")
        return out
    if before == after:
        return []
    budgeted = all(isinstance(v, str) and BUDGETED.fullmatch(v) for v in (before, after))
    return [f"{where}: {before!r} -> {after!r}" + (" (budgeted: the instance count depends on the load)"
                                                   if budgeted else "")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="check the tree and write its outcomes")
    rec.add_argument("out", type=Path)
    rec.add_argument("--per-file", action="store_true", help="one process per file")
    cmp_ = sub.add_parser("compare", help="compare two records")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        data = record(args.per_file)
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
        return 0
    found = differences(json.loads(args.before.read_text("utf-8")), json.loads(args.after.read_text("utf-8")))
    for line in found[:40]:
        print(line)
    print(f"{len(found)} difference(s)" if found else "identical")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

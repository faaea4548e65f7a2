"""Benchmark: the author's loop, `elbo-sym check derivations/`, as a whole process.

Measured in the same run, each the best of N runs (default 7; the commands take turns in
every round so they share the machine's load), wall clock, same Python:

* baseline: ``python -c "import sympy"`` (the floor for anything that uses SymPy);
* cold:     ``python -m elbo_sym check --no-cache derivations/`` (every step proved from
            scratch, repair search and all);
* warm:     ``python -m elbo_sym check derivations/`` with a filled result cache (no file
            changed since the last check: SymPy is not imported at all);
* one edit: the same, after one derivation file changed (that file is re-checked, the
            others come from the cache) -- the typical edit-check loop.

The goal is <= 1.5x the baseline.  Output is a Markdown table (also written to
``--markdown FILE``).

    python bench/bench_loop.py [--runs 7] [--markdown /tmp/readme_loop_bench.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict, cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def interleaved_best(runs: int, cases: dict, env: dict, cwd: Path) -> dict:
    """Best time per case; the cases take turns in every round, so they share the machine's load."""
    best = {name: float("inf") for name in cases}
    for _ in range(runs):
        for name, (command, before) in cases.items():
            before()
            best[name] = min(best[name], timed(command, env, cwd))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement; the best counts (default 7)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    python = sys.executable  # the interpreter itself, not a shim script
    with tempfile.TemporaryDirectory(prefix="elbo-sym-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "derivations", work / "derivations")
        files = sorted((work / "derivations").glob("*.toml"))
        env = dict(os.environ, PYTHONPATH=str(REPO), ELBO_SYM_CACHE_DIR=str(work / "cache"),
                   PYTHONDONTWRITEBYTECODE="")
        check = [python, "-m", "elbo_sym", "check", "derivations"]
        # Byte-compile once so no measurement pays for it.
        subprocess.run([python, "-m", "compileall", "-q", str(REPO / "elbo_sym")], check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(check + ["--no-cache"], env=env, cwd=work, stdout=subprocess.DEVNULL, check=False)

        subprocess.run(check, env=env, cwd=work, stdout=subprocess.DEVNULL, check=False)   # fill the cache
        edited = files[0]
        original = edited.read_text("utf-8")
        counter = iter(range(10**6))

        def nothing() -> None:
            pass

        def restore() -> None:  # the cache holds the original file: a warm hit
            edited.write_text(original, "utf-8")

        def touch_one_file() -> None:  # a new edit every time: a miss for this file only
            edited.write_text(original + f"\n# edit {next(counter)}\n", "utf-8")

        best = interleaved_best(args.runs, {
            "baseline": ([python, "-c", "import sympy"], nothing),
            "cold": (check + ["--no-cache"], nothing),
            "warm": (check, restore),
            "one_edit": (check, touch_one_file),
        }, env, work)
        baseline, cold, warm, one_edit = best["baseline"], best["cold"], best["warm"], best["one_edit"]

    rows = [
        ("`python -c \"import sympy\"` (baseline)", baseline),
        ("`elbo-sym check --no-cache derivations/` (cold: every step proved)", cold),
        ("`elbo-sym check derivations/`, cache warm (nothing changed)", warm),
        (f"`elbo-sym check derivations/`, one of {len(files)} files edited", one_edit),
    ]
    lines = [
        f"Best of {args.runs} runs each, wall clock, same run; Python {platform.python_version()}, "
        f"{platform.machine()}, {len(files)} derivation files (`bench/bench_loop.py`).",
        "",
        "| command | seconds | × baseline |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {seconds:.3f} | {seconds / baseline:.2f} |" for name, seconds in rows]
    goal = 1.5
    lines += ["", f"Goal: ≤ {goal}× the baseline. Cold: {cold / baseline:.2f}× "
                  f"({'met' if cold / baseline <= goal else 'not met'}); "
                  f"warm: {warm / baseline:.2f}×; one file edited: {one_edit / baseline:.2f}× "
                  f"({'met' if one_edit / baseline <= goal else 'not met'})."]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

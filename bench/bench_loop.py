"""Benchmark: the author's loop, `elbo-sym check`, as whole processes against `import sympy`.

Issue 19 item 3 sets goals, each a ratio to ``python -c "import sympy"`` (the floor for
anything that uses SymPy), measured in paired runs:

* cold lesson:  ``python -m elbo_sym check --no-cache derivations/`` -- the lesson (the *.toml
                directly in derivations/, `K = "any"`), every step proved from scratch:  <= 1.5x;
* warm:         ``python -m elbo_sym check derivations/`` with a filled result cache (nothing
                changed since the last check: SymPy is not imported at all):  <= 0.2x;
* tree cold:    ``python -m elbo_sym check --no-cache`` over the whole ``derivations/`` tree as
                it is (the lesson, variants/, teaching/ and literature/, every file):  <= 3x;
* issue tree:   the same over the tree as the issue measured it (lesson, variants/, teaching/:
                the 21 files before literature/ was added; "the whole tree" when the goal was set):  <= 3x.

Also shown, without a goal: one edit (the lesson after one file changed: that file is
re-checked, the others come from the cache -- the typical edit-check loop).

Paired runs: in every round each command runs once, in turn, so a round's commands share the
machine's load; a case's ratio is the median over rounds of (case / baseline of that round).
Raw medians and bests (seconds, wall clock) are printed beside it.  Output is a Markdown table
(also written to ``--markdown FILE``).

`check` shares the files among worker processes, one per core; ``--jobs N`` passes
``--jobs N`` to every check (``--jobs 1``: one process, to see what the workers save).

    python bench/bench_loop.py [--runs 5] [--no-tree] [--jobs N] [--markdown /tmp/loop_bench.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LESSON = ["derivations"]
ISSUE_TREE = ["derivations", "derivations/variants", "derivations/teaching"]


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    command: list[str]
    before: Callable[[], None]
    goal: float | None  # the ratio to the baseline the issue asks for (None: shown only)


def tree_folders(root: Path) -> list[str]:
    """Every folder of the derivations tree that holds a *.toml, relative to root's parent."""
    return sorted({str(p.parent.relative_to(root.parent)) for p in root.rglob("*.toml")})


def timed(command: list[str], env: dict, cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def paired_runs(runs: int, baseline: list[str], cases: list[Case], env: dict, cwd: Path) -> dict[str, list[float]]:
    """Seconds per round for the baseline and every case; each round runs all of them in turn."""
    times: dict[str, list[float]] = {"baseline": [], **{case.name: [] for case in cases}}
    for _ in range(runs):
        times["baseline"].append(timed(baseline, env, cwd))
        for case in cases:
            case.before()
            times[case.name].append(timed(case.command, env, cwd))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of paired runs (default 5)")
    parser.add_argument("--no-tree", action="store_true", help="skip the two tree cases (the slow ones)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    parser.add_argument("--jobs", type=int, default=None, help="pass --jobs N to every check (default: not given)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]  # the other jobs' load (the runs add their own)
    python = sys.executable  # the interpreter itself, not a shim script
    with tempfile.TemporaryDirectory(prefix="elbo-sym-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "derivations", work / "derivations")
        tree = tree_folders(work / "derivations")
        tree_files = sorted((work / "derivations").rglob("*.toml"))
        issue_files = [f for folder in ISSUE_TREE for f in sorted((work / folder).glob("*.toml"))]
        lesson_files = sorted((work / "derivations").glob("*.toml"))
        env = dict(os.environ, PYTHONPATH=str(REPO), ELBO_SYM_CACHE_DIR=str(work / "cache"),
                   PYTHONDONTWRITEBYTECODE="")
        env.pop("ELBO_SYM_NO_CACHE", None)
        check = [python, "-m", "elbo_sym", "check"] + ([] if args.jobs is None else ["--jobs", str(args.jobs)])
        # Byte-compile once so no measurement pays for it; fill the cache for the warm case.
        subprocess.run([python, "-m", "compileall", "-q", str(REPO / "elbo_sym")], check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(check + LESSON, env=env, cwd=work, stdout=subprocess.DEVNULL, check=False)

        edited = lesson_files[0]
        original = edited.read_text("utf-8")
        counter = iter(range(10**6))

        def restore() -> None:  # the cache holds the original file: a warm hit
            edited.write_text(original, "utf-8")

        def touch_one_file() -> None:  # a new edit every time: a miss for this file only
            edited.write_text(original + f"\n# edit {next(counter)}\n", "utf-8")

        cases = [
            Case("cold", f"`elbo-sym check --no-cache derivations/` (cold lesson: {len(lesson_files)} files, "
                 "every step proved)", check + ["--no-cache"] + LESSON, restore, 1.5),
            Case("warm", "`elbo-sym check derivations/`, cache warm (nothing changed)", check + LESSON, restore, 0.2),
            Case("one_edit", f"`elbo-sym check derivations/`, one of {len(lesson_files)} files edited",
                 check + LESSON, touch_one_file, None),
        ]
        if not args.no_tree:
            cases += [
                Case("tree", f"`elbo-sym check --no-cache` over the whole `derivations/` tree as it is "
                     f"({len(tree_files)} files: {', '.join(f + '/' for f in tree)})",
                     check + ["--no-cache"] + tree, restore, 3.0),
                Case("issue_tree", f"the same over the tree the issue measured ({len(issue_files)} files: "
                     f"{', '.join(f + '/' for f in ISSUE_TREE)})", check + ["--no-cache"] + ISSUE_TREE, restore,
                     3.0),
            ]
        times = paired_runs(args.runs, [python, "-c", "import sympy"], cases, env, work)
        restore()

    base = times["baseline"]
    lines = [
        f"{args.runs} rounds of paired runs, wall clock; Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before the runs, "
        f"`--jobs {args.jobs if args.jobs is not None else 'default (one per core)'}` "
        f"(`bench/bench_loop.py`). Ratio: the median over rounds of the command's time / "
        f"`import sympy`'s time in the same round.",
        "",
        "| command | median s | best s | × baseline (paired median) | goal |",
        "|---|---:|---:|---:|---|",
        f"| `python -c \"import sympy\"` (baseline) | {statistics.median(base):.3f} | {min(base):.3f} | 1.00 | |",
    ]
    verdicts = []
    for case in cases:
        seconds = times[case.name]
        ratio = statistics.median(s / b for s, b in zip(seconds, base))
        goal = ""
        if case.goal is not None:
            met = ratio <= case.goal
            goal = f"≤ {case.goal:g}× ({'met' if met else 'not met'})"
            verdicts.append(f"{case.name} {ratio:.2f}× (goal ≤ {case.goal:g}×: {'met' if met else 'not met'})")
        lines.append(f"| {case.label} | {statistics.median(seconds):.3f} | {min(seconds):.3f} | {ratio:.2f} | {goal} |")
    lines += ["", "Goals (issue 19 item 3): " + "; ".join(verdicts) + "."]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

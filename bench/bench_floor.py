"""Benchmark: the floor under the whole-tree goal -- what a cold check of the tree costs at the least.

Issue 19 item 3 asks ``elbo-sym check --no-cache`` over the whole ``derivations/`` tree for at most
3x ``python -c "import sympy"`` (bench/bench_loop.py measures it).  This benchmark splits that
check into the parts no speed-up of the engine can remove, so the goal can be set against them:

* **startup**: what a check that misses the cache imports before it forks its workers
  (``authoring.cache.ENGINE_MODULES`` and ``BEFORE_THE_FORK``, SymPy with them);
* **second opinion**: the CPU time of the reference evaluator's opinions on the tree's proved
  steps (``engine.check._second_opinion``), at the evidence it gives today (its instances, its 60
  digits, its counted work budget), measured in one process that checks every file in turn
  (``bench/profile_opinion.py`` splits it by family, phase and file);
* **the rest**: everything else the check does (parsing, the rules, canonical forms, the
  definedness certificates, examples, reports), CPU time.

Two floors are printed as ratios to ``import sympy``, each assuming the workers split the CPU time
perfectly over the machine's cores (``os.cpu_count()``, at most one worker per
``limits.FILES_PER_WORKER`` files, as ``check`` does):

* ``startup + second opinion / cores``: the tree's cost if the engine itself cost nothing;
* ``startup + the rest / cores``: its cost if the second opinion cost nothing.

Every figure is CPU time (user + system), so a busy machine hardly moves it; on an idle machine the
baseline's and the startup's wall time are their CPU time (one thread each).  Each is the median
over ``--runs`` fresh processes (memos cold in each, as in a real run).

    python bench/bench_floor.py [--runs 5] [--markdown /tmp/floor.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# One process: import what `check` imports, then check every file of the tree in turn, timing the
# second opinion apart from the rest.  Prints one JSON line.
_PROBE = r"""
import json, sys, time
from elbo_sym.authoring.cache import BEFORE_THE_FORK, ENGINE_MODULES, discover, import_quietly
import_quietly(ENGINE_MODULES)
import_quietly(BEFORE_THE_FORK)
import elbo_sym.engine.check as check
from elbo_sym.engine.derivation import loads
from elbo_sym.files import read_regular_file
from elbo_sym.limits import MAX_FILE_BYTES
from elbo_sym.report.build import check_file

spent = [0.0]
opinion = check._second_opinion
def timed_opinion(*args, **kwargs):
    started = time.process_time()
    try:
        return opinion(*args, **kwargs)
    finally:
        spent[0] += time.process_time() - started
check._second_opinion = timed_opinion

started = time.process_time()
steps = 0
files = discover(sys.argv[1:])
for path in files:
    report = check_file(loads(read_regular_file(path, MAX_FILE_BYTES), str(path)), 10.0, None)
    steps += len(report.steps)
total = time.process_time() - started
print(json.dumps({"files": len(files), "steps": steps, "total": total, "opinion": spent[0]}))
"""

_STARTUP = ("from elbo_sym.authoring.cache import BEFORE_THE_FORK, ENGINE_MODULES, import_quietly; "
            "import_quietly(ENGINE_MODULES); import_quietly(BEFORE_THE_FORK)")


def cpu(command: list[str], env: dict) -> float:
    """The CPU seconds (user + system) of one run of `command`: unlike wall time, the other jobs on
    a shared machine hardly change it, and on an idle machine a one-thread import's wall time is it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (default 5)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from elbo_sym.limits import FILES_PER_WORKER

    python = sys.executable
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="")
    env.pop("ELBO_SYM_NO_CACHE", None)
    subprocess.run([python, "-m", "compileall", "-q", str(REPO / "elbo_sym")], check=False, stdout=subprocess.DEVNULL)
    tree = sorted({str(p.parent.relative_to(REPO)) for p in (REPO / "derivations").rglob("*.toml")})
    load_before = os.getloadavg()[0]

    sympy_s, startup_s, probes = [], [], []
    for _ in range(args.runs):  # paired: each round runs all three in turn
        sympy_s.append(cpu([python, "-c", "import sympy"], env))
        startup_s.append(cpu([python, "-c", _STARTUP], env))
        out = subprocess.run([python, "-c", _PROBE, *tree], env=env, cwd=REPO, check=True,
                             capture_output=True, text=True)
        probes.append(json.loads(out.stdout.strip().splitlines()[-1]))

    files, steps = probes[0]["files"], probes[0]["steps"]
    cores = max(1, min(os.cpu_count() or 1, files // FILES_PER_WORKER))
    baseline = statistics.median(sympy_s)
    startup = statistics.median(startup_s)
    opinion = statistics.median(p["opinion"] for p in probes)
    rest = statistics.median(p["total"] - p["opinion"] for p in probes)
    total = statistics.median(p["total"] for p in probes)

    def ratio(seconds: float) -> str:
        return f"{seconds / baseline:.2f}"

    lines = [
        f"{args.runs} fresh processes per figure; Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before the runs (`bench/bench_floor.py`). "
        f"The tree: {files} files, {steps} steps; {cores} worker(s).",
        "",
        "| part | seconds (median) | × `import sympy` |",
        "|---|---:|---:|",
        f"| `python -c \"import sympy\"` (baseline) | {baseline:.3f} | 1.00 |",
        f"| startup: what `check` imports before it forks | {startup:.3f} | {ratio(startup)} |",
        f"| the whole check, one process (CPU) | {total:.3f} | {ratio(total)} |",
        f"| of which the second opinion (CPU) | {opinion:.3f} | {ratio(opinion)} |",
        f"| of which the rest (CPU) | {rest:.3f} | {ratio(rest)} |",
        f"| **floor if the engine cost nothing**: startup + second opinion / {cores} | "
        f"{startup + opinion / cores:.3f} | **{ratio(startup + opinion / cores)}** |",
        f"| floor if the second opinion cost nothing: startup + rest / {cores} | "
        f"{startup + rest / cores:.3f} | {ratio(startup + rest / cores)} |",
        f"| both, perfectly split: startup + whole / {cores} | {startup + total / cores:.3f} | "
        f"{ratio(startup + total / cores)} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

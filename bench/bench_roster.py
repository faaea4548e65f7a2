"""Per-student sheets: wall time for a 300-student roster beside one single-sheet latexmk run.

    python bench/bench_roster.py [--students 300] [--count 6] [--jobs N]

Both are measured in the same run on the same machine:

* baseline: ``exercises.pdf`` for one seed, built the way ``elbo-sym build`` builds it
  (``exercises_context`` + the template + ``render.build_pdf``, i.e. one latexmk run);
* roster: ``elbo.publish.roster.build_roster`` for a synthetic roster of N students
  (``elbo-sym exercises --roster students.csv --out DIR``): N sheets + the teacher key.

The roster is built twice into two folders, and the bench checks that the PDFs are
byte-identical (the second build is not timed separately from the first: both are shown).
Goal (issue 11): 300 students in at most 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elbo_sym.publish.handouts import DEFAULT_SEED, exercises_context  # noqa: E402
from elbo_sym.publish.render import build_pdf, latex_available, render_template  # noqa: E402
from elbo_sym.publish.roster import Student, build_roster  # noqa: E402

GOAL_SECONDS = 60.0


def cpu_seconds() -> float:
    """CPU time of this process and of every finished child (workers, latexmk, pdflatex)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(run):
    cpu = cpu_seconds()
    result = run()
    return result, cpu_seconds() - cpu


def single_sheet(out: Path, count: int) -> tuple[float, int]:
    started = time.monotonic()
    source = render_template("exercises.tex.j2", sheet=exercises_context(seed=DEFAULT_SEED, count=count))
    result = build_pdf(source, out / "exercises.pdf")
    if not result.ok:
        raise SystemExit(f"single sheet failed: {result.message}")
    return time.monotonic() - started, 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    if not latex_available():
        print("LaTeX (latexmk, pdflatex) is not installed: nothing to measure (run `make latex`)")
        return 1
    students = [Student(f"s{i:04d}", f"Student {i:04d}") for i in range(1, args.students + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (base_s, _), base_cpu = timed(lambda: single_sheet(root, args.count))
        first, first_cpu = timed(lambda: build_roster(students, root / "a", seed=DEFAULT_SEED, count=args.count,
                                                      jobs=args.jobs))
        second, second_cpu = timed(lambda: build_roster(students, root / "b", seed=DEFAULT_SEED, count=args.count,
                                                        jobs=args.jobs))
        names = [p.name for p in first.sheets] + [first.key.name]
        _, mismatch, errors = filecmp.cmpfiles(root / "a", root / "b", names, shallow=False)
        size = sum(p.stat().st_size for p in first.sheets) / len(first.sheets)
    cores = os.cpu_count()
    print(f"# per-student sheets (Python {platform.python_version()}, {platform.machine()}, {cores} cores, "
          f"load average {os.getloadavg()[0]:.2f})")
    print(f"{'what':<42}{'wall s':>8}{'cpu s':>8}{'sheets':>8}{'pages':>7}{'wall s/sheet':>14}")
    print(f"{'one sheet: exercises.pdf via latexmk':<42}{base_s:>8.2f}{base_cpu:>8.2f}{1:>8}{'':>7}{base_s:>14.2f}")
    for label, r, cpu in (("roster, first build", first, first_cpu), ("roster, second build", second, second_cpu)):
        print(f"{label + f' ({len(r.sheets)} + key)':<42}{r.seconds:>8.2f}{cpu:>8.2f}{len(r.sheets):>8}"
              f"{r.pages:>7}{r.seconds / len(r.sheets):>14.3f}")
    best = min(first.seconds, second.seconds)
    print(f"# {len(students)} students: {best:.1f} s wall = {best / base_s:.1f} single-sheet runs "
          f"(goal <= {GOAL_SECONDS:.0f} s: {'met' if best <= GOAL_SECONDS else 'NOT met'}); "
          f"cpu {min(first_cpu, second_cpu):.1f} s, i.e. >= {min(first_cpu, second_cpu) / (cores or 1):.1f} s "
          f"wall on {cores} idle cores; mean sheet {size / 1024:.0f} KiB")
    same = not mismatch and not errors
    print(f"# two builds byte-identical: {'yes' if same else 'NO: ' + ', '.join(mismatch + errors)}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

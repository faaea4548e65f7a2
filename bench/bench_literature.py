"""Checking time of each derivation from the literature (derivations/literature/).

Each file is checked with `check_derivation` after import, on a fresh model (no unfolding
cache reused), best of --repeat runs.  Goal (issue 17): every file under 1 s on the 2-core
test machine.

    python bench/bench_literature.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from elbo_sym.engine import derivation as derivation_module  # noqa: E402
from elbo_sym.engine import reference  # noqa: E402
from elbo_sym.engine.check import check_derivation  # noqa: E402
from elbo_sym.engine.derivation import loads  # noqa: E402
from elbo_sym.engine.models import general  # noqa: E402

GOAL_SECONDS = 1.0
LITERATURE = ROOT / "derivations" / "literature"


def timed(path: Path, repeat: int) -> tuple[float, float, bool]:
    """Best wall time and best CPU time of checking the file, and whether every run proved it (the CPU
    time of this process says less about the other jobs on a shared machine than the wall time)."""
    text = path.read_text("utf-8")
    best, best_cpu, ok = float("inf"), float("inf"), True
    for _ in range(repeat):
        derivation_module._model.cache_clear()  # a fresh model: no unfolding cache carried over
        general._explicit.cache_clear()
        reference.forget()  # and the second opinion's values (a check keeps them from file to file)
        clear_cache()
        derivation = loads(text, path.name)
        started, started_cpu = time.perf_counter(), time.process_time()
        result = check_derivation(derivation)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
        ok = ok and result.fully_proved and result.ok
    return best, best_cpu, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"# check_derivation, best of {args.repeat} (Python {platform.python_version()}, "
          f"SymPy {sympy.__version__}, {platform.machine()})")
    print(f"# {'file':<36} {'seconds':>9} {'cpu':>8}   proved")
    worst = worst_cpu = 0.0
    for path in sorted(LITERATURE.glob("*.toml")):
        seconds, cpu, ok = timed(path, args.repeat)
        worst, worst_cpu = max(worst, seconds), max(worst_cpu, cpu)
        print(f"  {path.name:<36} {seconds:>8.3f}s {cpu:>7.3f}s   {ok}")
    verdict = "meets" if worst < GOAL_SECONDS else "MISSES"
    print(f"# slowest: {worst:.3f} s ({verdict} the {GOAL_SECONDS} s goal); most CPU time: {worst_cpu:.3f} s")
    print(f"# load average while it ran: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checking time of each variant file (derivations/variants/) beside the lesson's derivation
files (derivations/*.toml), in the same run, with each file's verdict counts.

Every module is imported once before timing (the warm-up import).  Then, in each of
--repeat rounds, every file is loaded with ``elbo_sym.engine.derivation.load`` and checked
cold with ``elbo_sym.engine.check.check_derivation``: all of elbo-sym's memo caches and
SymPy's cache are cleared before each check, so nothing is reused between files or rounds.
The files take turns in every round (they share the machine's load); the table shows the
best round of each file (the check only; loading the file is not timed).  Prints a Markdown
table.  Exit 0 when every file is proved and established, else 1.

    python bench/bench_variants.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sympy  # noqa: E402  (the warm-up import)
from sympy.core.cache import clear_cache  # noqa: E402

from elbo_sym.engine import reference  # noqa: E402
from elbo_sym.engine.check import Verdict, check_derivation  # noqa: E402
from elbo_sym.engine.derivation import load  # noqa: E402

VERDICTS = tuple(Verdict)


def clear_caches() -> None:
    """Forget everything memoized: SymPy's cache, every functools cache in elbo_sym and the second
    opinion's values (a check keeps them from file to file)."""
    clear_cache()
    reference.forget()
    for name, module in list(sys.modules.items()):
        if not (name == "elbo_sym" or name.startswith("elbo_sym.")) or module is None:
            continue
        for obj in list(vars(module).values()):
            if callable(getattr(obj, "cache_clear", None)) and getattr(obj, "__module__", None) == name:
                obj.cache_clear()


def model_text(derivation) -> str:
    if derivation.family == "gaussian":
        return "gaussian" + (f", D = {derivation.D}" if derivation.D != 1 else "")
    layers = ", z1 z2" if len(derivation.latents) > 1 else ""
    return f"{derivation.family}, K = {derivation.K}{layers}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is shown (default 3)")
    args = parser.parse_args()

    lesson = sorted((ROOT / "derivations").glob("*.toml"))
    variants = sorted((ROOT / "derivations" / "variants").glob("*.toml"))
    files = lesson + variants
    best = {path: float("inf") for path in files}
    results: dict = {}
    for _ in range(args.repeat):
        for path in files:
            clear_caches()
            derivation = load(path)
            started = time.perf_counter()
            result = check_derivation(derivation)
            best[path] = min(best[path], time.perf_counter() - started)
            results[path] = (derivation, result)

    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Cold `check_derivation` per file, best of {args.repeat} rounds, all files in one run "
          f"(Python {platform.python_version()}, SymPy {sympy.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load_average:.1f} at the end).")
    print()
    print("| file | model | steps | check s | " + " | ".join(v.value for v in VERDICTS) + " | established |")
    print("|---|---|---:|---:|" + "---:|" * len(VERDICTS) + "---|")
    failed = []
    groups = {"lesson": lesson, "variants": variants}
    for path in files:
        derivation, result = results[path]
        counts = Counter(step.verdict for step in result.steps)
        ok = result.fully_proved
        if not ok:
            failed.append(path)
        name = str(path.relative_to(ROOT / "derivations"))
        print(f"| {name} | {model_text(derivation)} | {len(result.steps)} | {best[path]:.3f} | "
              + " | ".join(str(counts.get(v, 0)) for v in VERDICTS) + f" | {'yes' if ok else '**NO**'} |")
    print()
    for group, paths in groups.items():
        if not paths:
            continue
        times = [best[p] for p in paths]
        steps = sum(len(results[p][1].steps) for p in paths)
        slowest = max(paths, key=best.__getitem__)
        print(f"* {group}: {len(paths)} files, {steps} steps, total {sum(times):.3f} s, "
              f"slowest {slowest.name} {best[slowest]:.3f} s")
    if failed:
        print(f"* NOT fully proved: {', '.join(str(p.relative_to(ROOT)) for p in failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Checking time of each derivation: one proof for every latent space (K = "any") beside
the explicit binary model (K = 2), in the same run.

For each file in derivations/ and derivations/variants/, the derivation is loaded with
`K = "any"` (as written) and with `K = 2`, and `check_derivation` is timed after import
(best of --repeat runs, each on a fresh model so no cache is reused).  Goal: each lesson
derivation under 0.2 s with K = "any".

    python bench/bench_any.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import re
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

GOAL_SECONDS = 0.2


def timed(text: str, path: str, repeat: int) -> tuple[float, bool]:
    best, ok = float("inf"), True
    for _ in range(repeat):
        derivation_module._model.cache_clear()  # a fresh model: no unfolding cache carried over
        general._explicit.cache_clear()
        reference.forget()  # and the second opinion's values (a check keeps them from file to file)
        clear_cache()
        derivation = loads(text, path)
        started = time.perf_counter()
        result = check_derivation(derivation)
        best = min(best, time.perf_counter() - started)
        ok = ok and result.fully_proved
    return best, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"# check_derivation, best of {args.repeat} (Python {platform.python_version()}, "
          f"SymPy {sympy.__version__}, {platform.machine()})")
    print(f"# {'file':<28} {'K = any':>10} {'K = 2':>10}   proved (any / 2)")
    worst = 0.0
    files = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "derivations" / "variants").glob("*.toml"))
    for path in files:
        text = path.read_text("utf-8")
        any_seconds, any_ok = timed(text, path.name, args.repeat)
        binary = re.sub(r'(?m)^K = "any"$', "K = 2", text)
        two_seconds, two_ok = timed(binary, path.name, args.repeat)
        name = str(path.relative_to(ROOT / "derivations"))
        print(f"  {name:<28} {any_seconds:>9.3f}s {two_seconds:>9.3f}s   {any_ok} / {two_ok}")
        if path.parent.name == "derivations":
            worst = max(worst, any_seconds)
    verdict = "meets" if worst < GOAL_SECONDS else "MISSES"
    print(f"# slowest lesson derivation with K = \"any\": {worst:.3f} s ({verdict} the {GOAL_SECONDS} s goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

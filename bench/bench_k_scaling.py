"""How checking the gap identity scales with the number of latent states K.

For each K, the gap-identity derivation (derivations/gap.toml with `K = <K>` and a K-state
exact example) is loaded and checked with `check_derivation`; beside it, in the same run,
the baseline: plain `sympy.simplify` on the unfolded identity

    log p(x) - ELBO(q) - KL(q || p(z | x))

with positive symbols and q_{K-1} = 1 - (q_0 + ... + q_{K-2}) substituted.  The baseline
runs in a child process with a per-K timeout and is not attempted again after its first
timeout.  Finally the slope of log(seconds) against log(K) is fitted for elbo-sym.

    python bench/bench_k_scaling.py [--timeout 60] [--K 2 5 10 ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_K = (2, 5, 10, 20, 50, 100, 200, 500, 1000)


def gap_text(K: int) -> str:
    """derivations/gap.toml with K states and a K-state exact example."""
    text = (ROOT / "derivations" / "gap.toml").read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^K = (\d+|"any")$', f"K = {K}", text)
    assert n == 1, "gap.toml has no `K = ...` line"
    total = K * (K + 1) // 2
    fmt = lambda values: "[" + ", ".join(f'"{v}"' for v in values) + "]"  # noqa: E731
    example = (f"[[example]]\nprior = {fmt(f'{k + 1}/{total}' for k in range(K))}\n"
               f"likelihood = {fmt(f'{k + 1}/{K + 1}' for k in range(K))}\n"
               f"q = {fmt(f'{K - k}/{total}' for k in range(K))}\n")
    return text.split("[[example]]")[0] + example


def time_elbo_sym(K: int, repeat: int) -> tuple[float, float, str]:
    """Best wall and CPU time of loading + checking the K-state gap derivation (SymPy cache cleared)."""
    from sympy.core.cache import clear_cache

    from elbo_sym.engine.check import check_derivation
    from elbo_sym.engine.derivation import loads

    text = gap_text(K)
    best, best_cpu, verdict = math.inf, math.inf, ""
    for _ in range(repeat):
        clear_cache()
        started, started_cpu = time.perf_counter(), time.process_time()
        result = check_derivation(loads(text, f"gap-K{K}.toml"))
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
        verdict = "proved" if result.fully_proved else "NOT PROVED: " + "; ".join(
            f"step {r.step.index} {r.verdict.value}" for r in result.steps)
    return best, best_cpu, verdict


def _baseline_child(K: int, queue) -> None:
    import sympy
    from sympy import Add, Symbol, log

    pi = [Symbol(f"pi_{k}", positive=True) for k in range(K)]
    l = [Symbol(f"l_{k}", positive=True) for k in range(K)]
    q = [Symbol(f"q_{k}", positive=True) for k in range(K)]
    evidence = Add(*(a * b for a, b in zip(pi, l)))
    elbo = Add(*(qk * log(a * b / qk) for qk, a, b in zip(q, pi, l)))
    kl = Add(*(qk * log(qk / (a * b / evidence)) for qk, a, b in zip(q, pi, l)))
    expr = (log(evidence) - elbo - kl).subs(q[-1], 1 - Add(*q[:-1]))
    started = time.perf_counter()
    result = sympy.simplify(expr)
    queue.put((time.perf_counter() - started, result == 0, sympy.count_ops(result)))


def time_baseline(K: int, timeout: float) -> tuple[float | None, str]:
    """(seconds, outcome) of sympy.simplify in a child process; (None, 'timeout') past the timeout."""
    ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_baseline_child, args=(K, queue), daemon=True)
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None, f"timeout (> {timeout:g} s)"
    if queue.empty():
        return None, f"failed (exit {child.exitcode})"
    seconds, zero, ops = queue.get()
    return seconds, "reaches 0" if zero else f"does NOT reach 0 ({ops} operations left)"


def fit_slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(seconds) against log(K)."""
    xs = [math.log(k) for k, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--K", type=int, nargs="+", default=list(DEFAULT_K))
    parser.add_argument("--timeout", type=float, default=60.0, help="per-K timeout of the baseline (s)")
    parser.add_argument("--repeat", type=int, default=3, help="elbo-sym runs per K for K <= 100 (best kept)")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    import sympy

    print(f"# gap identity, K states: elbo-sym check vs sympy.simplify "
          f"(Python {platform.python_version()}, SymPy {sympy.__version__}, {platform.machine()})")
    print(f"{'K':>6} {'elbo-sym s':>11} {'(cpu s)':>8}  {'verdict':<8} {'simplify s':>11}  baseline outcome")
    ours: list[tuple[int, float]] = []
    ours_cpu: list[tuple[int, float]] = []
    baseline_alive = not args.no_baseline
    for K in args.K:
        seconds, cpu, verdict = time_elbo_sym(K, args.repeat if K <= 100 else 1)
        ours.append((K, seconds))
        ours_cpu.append((K, cpu))
        if baseline_alive:
            base, outcome = time_baseline(K, args.timeout)
            if base is None:
                baseline_alive = False
            base_text = f"{base:11.3f}" if base is not None else f"{'—':>11}"
        else:
            base_text, outcome = f"{'—':>11}", "not run (an earlier K timed out)" if not args.no_baseline else "skipped"
        print(f"{K:>6} {seconds:11.3f} {cpu:8.3f}  {verdict:<8} {base_text}  {outcome}", flush=True)
    if len(ours) >= 2:
        for label, points in (("wall", ours), ("cpu", ours_cpu)):
            large = [(k, s) for k, s in points if k >= 20]
            tail = f"; K >= 20: {fit_slope(large):.2f}" if len(large) >= 2 else ""
            print(f"fitted slope of log(seconds) vs log(K), elbo-sym {label} time, all K: "
                  f"{fit_slope(points):.2f}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

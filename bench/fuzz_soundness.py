"""Soundness fuzzing campaign for every family: the generators of tests/test_fuzz_soundness.py
and tests/fuzz_families.py, for minutes.

Every step the engine proves is judged by the family's reference evaluator
(elbo_sym.engine.reference: mpmath, 60 digits, exact fractions, boundary instances; no engine
code) at more instances than the product path's second opinion uses.  The discrete families:
an explicit K, K = "any" (judged at K = 2, 3 and 5), a parameter with an interval ([params],
sampled inside it, bounds included) and several observations (data = ["x1", "x2"]); then IWAE,
the Gaussian family (D = 1, with [params] and the tight assumption), its diagonal version
(D = 2..8), the two-layer chain (with mean-field products and updates) and derived
distributions as arguments (mixtures, softmax; tests/fuzz_families.py's "mixture" family).
Per family it prints generated steps per minute (of that family's own checking time), proved
steps, disagreements (proved, but the judge finds the step false) and steps the product path's
second opinion caught (proved by a rule, turned into error by the reference evaluator); both
must be 0.  Prints steps per minute, how many steps were proved, and every disagreement as a
one-step TOML file that reproduces it (run ``elbo-sym check`` on it) with the judge's failing
instance.  Crashes of ``check_derivation`` (an exception instead of a verdict) are listed too.

Exit status: 0 when there is no disagreement and no crash, 1 otherwise.

    python bench/fuzz_soundness.py --minutes 10 --seed 1 [--workers 2] [--chunk 200]

The same --seed (and --chunk) generates the same derivations: chunk i runs Hypothesis with
a seed made of (seed, i); the workers split the checking of each chunk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.append(str(REPO))  # after PYTHONPATH: another engine can be fuzzed with PYTHONPATH=

os.environ.setdefault("ELBO_SYM_NO_CACHE", "1")

import fuzz_families  # noqa: E402
import test_fuzz_soundness as fuzz  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to fuzz (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    parser.add_argument("--chunk", type=int, default=200, help="derivations per Hypothesis run (default 200)")
    parser.add_argument("--family-chunk", type=int, default=40,
                        help="cases per family (IWAE, Gaussian, Gaussian D, chain, mixture) per chunk (default 40)")
    parser.add_argument("--show", type=int, default=0,
                        help="print at most this many disagreements (default 0: all of them)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.chunk <= 0 or args.workers <= 0:
        parser.error("--minutes, --chunk and --workers must be positive")

    deadline = time.perf_counter() + 60 * args.minutes
    started = time.perf_counter()
    total = fuzz.Campaign()
    families = fuzz_families.FamilyCampaign()
    chunk = 0
    while time.perf_counter() < deadline:
        part = fuzz.campaign_run(args.chunk, args.workers, derandomize=False, seed=args.seed * 1_000_003 + chunk)
        total.merge(part)
        families.merge(fuzz_families.run_families(args.family_chunk, seed=args.seed * 1_000_003 + chunk))
        chunk += 1
        minutes = (time.perf_counter() - started) / 60
        print(f"chunk {chunk}: {total.steps} steps, {total.steps / minutes:.0f} steps/min, {total.proved} proved, "
              f"{len(total.disagreements)} disagreements, {len(total.crashes)} crashes", flush=True)
        print(f"    by kind: {total.by_kind()}", flush=True)
        print(f"    other families: {sum(families.steps.values())} steps, {sum(families.proved.values())} proved, "
              f"{len(families.disagreements)} disagreements, {len(families.caught)} caught, "
              f"{len(families.crashes)} crashes", flush=True)

    minutes = (time.perf_counter() - started) / 60
    print()
    print(f"seed {args.seed}, {chunk} chunks of {args.chunk}, {args.workers} workers, {minutes:.2f} min")
    print(f"steps per minute: {total.steps / minutes:.0f}")
    print(f"steps: {total.steps}, proved: {total.proved} ({total.proved / max(total.steps, 1):.1%})")
    print("proved by kind:")
    for kind in fuzz.KINDS:
        steps, proved = total.steps_by_kind[kind], total.proved_by_kind[kind]
        print(f"  {kind:11} {proved:6} of {steps:6} steps proved ({proved / max(steps, 1):.1%}); "
              f"{total.refused_by_kind[kind]} derivations refused by the loader")
    print("per family (steps per minute of the family's own checking time; disagreements must be 0):")
    dis_by_kind = Counter(d.kind for d in total.disagreements)
    for kind in fuzz.KINDS:
        steps, seconds = total.steps_by_kind[kind], total.seconds_by_kind[kind]
        rate = steps / (seconds / 60) if seconds else 0.0
        print(f"  {kind:11} {steps:6} steps, {rate:6.0f} steps/min, {total.proved_by_kind[kind]} proved, "
              f"{dis_by_kind[kind]} disagreements, {total.caught_by_kind[kind]} caught by the second opinion")
    print(families.report())
    print(f"summary: {total.summary()}")

    unique: dict[str, fuzz.Disagreement] = {}
    for dis in total.disagreements:
        unique.setdefault(dis.toml, dis)
    kinds: dict[str, int] = {}
    for dis in unique.values():
        key = f"{dis.kind} ({dis.case_kind})"
        kinds[key] = kinds.get(key, 0) + 1
    print(f"disagreements: {len(total.disagreements)} ({len(unique)} distinct files) {kinds}")
    shown = sorted(unique.values(), key=lambda d: len(d.toml))
    for dis in shown[: args.show or None]:
        print()
        print(dis.report(), end="")
    if total.crashes:
        print(f"\nengine crashes: {len(total.crashes)}")
        for crash in sorted(total.crashes, key=lambda c: len(c.toml))[: args.show or None]:
            print()
            print(crash.report(), end="")
    for toml, reason in (families.disagreements + families.caught + families.crashes + total.caught)[
            : args.show or None]:
        print()
        print(f"{toml}# {reason}")
    findings = (total.disagreements or total.crashes or total.caught or families.disagreements or families.caught
                or families.crashes)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: deciding the gap identity exactly vs. sympy.simplify, same cases, same run.

For random binary instances (prior, likelihood, q with denominators up to 20) the identity

    log p(x) - ELBO(q) - KL(q || p(z | x)) = 0

is decided two ways:

* exact:    elbo_sym.lesson.examples.gap_identity_holds -- LogNumber arithmetic (rationals and
            logs of primes, canonical form, so == decides the equality);
* simplify: sympy.simplify on the same expression built from SymPy Rationals, then == 0.

simplify is run on a subset (default 100 cases; about 20 ms each) because it is slow; both
rates are per case, so the ratio is fair. Also reported: building a full WorkedExample
(every quantity, three identities, engine cross-check) per case.

    python bench/bench_exact.py [--cases 1000] [--simplify-cases 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy  # noqa: E402

from elbo_sym.lesson.examples import gap_identity_holds, worked_example  # noqa: E402
from elbo_sym.numbers import exact  # noqa: E402


def random_cases(n: int, seed: int) -> list[tuple[tuple[Fraction, ...], ...]]:
    rng = random.Random(seed)

    def prob() -> Fraction:
        d = rng.randint(2, 20)
        return Fraction(rng.randint(1, d - 1), d)

    cases = []
    for _ in range(n):
        p0, q0 = prob(), prob()
        cases.append(((p0, 1 - p0), (prob(), prob()), (q0, 1 - q0)))
    return cases


def sympy_gap_expression(prior, likelihood, q) -> sympy.Expr:
    R = lambda f: sympy.Rational(f.numerator, f.denominator)  # noqa: E731
    pi, l, w = [R(v) for v in prior], [R(v) for v in likelihood], [R(v) for v in q]
    joint = [a * b for a, b in zip(pi, l)]
    evidence = sum(joint)
    posterior = [j / evidence for j in joint]
    elbo = sum(wk * sympy.log(jk / wk) for wk, jk in zip(w, joint))
    kl_post = sum(wk * sympy.log(wk / pk) for wk, pk in zip(w, posterior))
    return sympy.log(evidence) - elbo - kl_post


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--simplify-cases", type=int, default=100)
    parser.add_argument("--examples", type=int, default=200, help="full worked examples to build")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cases = random_cases(args.cases, args.seed)

    exact._factor.cache_clear()  # start cold: factorisations are cached within the run
    exact._log_terms.cache_clear()
    started = time.perf_counter()
    proved = sum(gap_identity_holds(*case) for case in cases)
    exact_seconds = time.perf_counter() - started

    subset = cases[: args.simplify_cases]
    expressions = [sympy_gap_expression(*case) for case in subset]  # construction not timed
    started = time.perf_counter()
    reached_zero = sum(sympy.simplify(e) == 0 for e in expressions)
    simplify_seconds = time.perf_counter() - started

    started = time.perf_counter()
    built = [worked_example(*case) for case in cases[: args.examples]]
    example_seconds = time.perf_counter() - started
    all_proved = sum(e.all_proved for e in built)

    exact_rate = len(cases) / exact_seconds
    simplify_rate = len(subset) / simplify_seconds if subset else float("nan")
    example_rate = len(built) / example_seconds if built else float("nan")
    print(f"bench_exact: log p(x) - ELBO - KL(q || p(z|x)) = 0 on random binary cases (seed {args.seed})")
    print(f"  exact (LogNumber)   {len(cases):5d} cases  {exact_seconds:8.3f} s  {exact_rate:9.0f} cases/s"
          f"  {proved}/{len(cases)} decided equal")
    print(f"  sympy.simplify      {len(subset):5d} cases  {simplify_seconds:8.3f} s  {simplify_rate:9.1f} cases/s"
          f"  {reached_zero}/{len(subset)} reached 0")
    print(f"  ratio exact/simplify: {exact_rate / simplify_rate:.0f}x  (goal >= 100x)")
    print(f"  full worked example {len(built):5d} cases  {example_seconds:8.3f} s  {example_rate:9.0f} cases/s"
          f"  (all quantities, 3 identities, engine cross-check; {all_proved}/{len(built)} all proved)")
    ok = proved == len(cases) and all_proved == len(built)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

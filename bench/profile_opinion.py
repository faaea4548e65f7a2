"""Where the second opinion's CPU goes on a cold check of the tree, and how much of it repeats.

bench/bench_floor.py times the second opinion (``engine.check._second_opinion``) as one figure; this
splits it.  One process imports the engine as `check` does and checks every file of the tree in turn
(memos shared, as in a real run), adding up the CPU time of

* each family's opinions (discrete, gaussian, chain; "gaussian" includes the Gaussian layers), per
  step and per instance judged, and the files that cost most;
* inside them: making a model's instances (``reference._made_cases``, once per model and K), the
  premises (``reference._satisfies``), and the re-evaluations at a higher precision
  (``discrete._precision``: a comparison or a value that 60 digits could not decide, retried at
  ``RETRY_PRECISIONS``; the outermost only), and the garbage collector's passes (``gc.callbacks``);

and it counts the steps whose second opinion was asked before in the run: the same step (both sides,
the relation) under the same model, which a memo of whole opinions per process would answer, and the
CPU time such a memo would save.

``--replay N`` then judges every opinion of the run again, N rounds, each after ``reference.forget()`` (the
instances stay, their values go; the expressions' compiled functions stay), and prints each round's CPU
seconds: the opinions alone, without the rest of the check between them, so that the best of several
rounds compares two versions on a loaded machine better than one check's figure does.
``--record OUT.json`` writes every opinion (the file, both sides, the relation, the Opinion's fields) with
the work it counted (``reference.second_opinion_and_work``), and ``--compare A B`` says whether two records
are identical: a change to the judges must leave both the same.  ``--repo PATH`` imports elbo_sym from
another checkout (a base: ``git worktree add --detach /tmp/base main``), the files checked still this one's.

Figures are CPU seconds of one process: the machine's other jobs hardly move them, but runs still
differ by a few per cent (more on a loaded machine); compare medians.  ``--cprofile OUT`` also
writes cProfile's statistics of the opinions alone (its overhead inflates small calls).

    python bench/profile_opinion.py [--top 12] [--cprofile OUT.prof] [--record OUT.json] [--repo PATH] [PATHS...]
    python bench/profile_opinion.py --compare A.json B.json
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


OPINION = "the second opinion"
"""The Clock's label of the opinions themselves (timed by `main`, which adds them up by family)."""


class Clock:
    """CPU seconds added up by label, each label counted at its outermost call only."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self.depth: Counter = Counter()

    def wrap(self, label: str, function):
        def timed(*args, **kwargs):
            if self.depth[label]:
                return function(*args, **kwargs)
            self.depth[label] += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.process_time() - started
                self.depth[label] -= 1
        return timed

    def wrap_context(self, label: str, manager):
        @contextmanager
        def timed(*args, **kwargs):
            with manager(*args, **kwargs):
                if self.depth[label]:
                    yield
                    return
                self.depth[label] += 1
                started = time.process_time()
                try:
                    yield
                finally:
                    self.seconds[label] += time.process_time() - started
                    self.depth[label] -= 1
        return timed


class _CollectorClock:
    """The garbage collector's passes that run inside a second opinion, by generation (gc.callbacks)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if not self.clock.depth[OPINION]:
            return
        if phase == "start":
            self.started = time.process_time()
        else:
            self.clock.seconds[f"garbage collection (generation {info['generation']})"] += \
                time.process_time() - self.started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: every folder of derivations/)")
    parser.add_argument("--top", type=int, default=12, help="files listed (default 12)")
    parser.add_argument("--cprofile", type=Path, help="also write cProfile's statistics of the opinions here")
    parser.add_argument("--record", type=Path, help="also write every opinion and the work it counted here (JSON)")
    parser.add_argument("--replay", type=int, default=0, metavar="N",
                        help="judge every opinion again N times after the check, printing each round's CPU")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="import elbo_sym from this checkout (default: this one)")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"),
                        help="compare two records; exit 1 if they differ")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)

    sys.path.insert(0, str(args.repo.resolve()))
    from elbo_sym.authoring.cache import BEFORE_THE_FORK, ENGINE_MODULES, discover, import_quietly

    import_quietly(ENGINE_MODULES)
    import_quietly(BEFORE_THE_FORK)
    import sympy

    import elbo_sym.engine.check as check
    import elbo_sym.engine.reference as reference
    from elbo_sym.engine.derivation import loads
    from elbo_sym.engine.reference import discrete
    from elbo_sym.files import read_regular_file
    from elbo_sym.limits import MAX_FILE_BYTES
    from elbo_sym.report.build import check_file

    clock = Clock()
    collector = _CollectorClock(clock)
    gc.callbacks.append(collector)
    reference._made_cases = clock.wrap("making the instances", reference._made_cases)
    reference._satisfies = clock.wrap("the premises", reference._satisfies)
    discrete._precision = clock.wrap_context("re-evaluated at a higher precision", discrete._precision)

    profile = None
    if args.cprofile:
        import cProfile

        profile = cProfile.Profile()
    by_family: Counter = Counter()
    steps: Counter = Counter()
    instances: Counter = Counter()
    by_file: Counter = Counter()
    seen: dict = {}
    repeats, repeat_seconds = 0, 0.0
    current = [""]
    opinion = check._second_opinion

    def timed_opinion(lhs, step, model):
        clock.depth[OPINION] += 1
        started = time.process_time()
        if profile is not None:
            profile.enable()
        try:
            found = opinion(lhs, step, model)
        finally:
            if profile is not None:
                profile.disable()
            clock.depth[OPINION] -= 1
        spent = time.process_time() - started
        family = model.spec.family
        by_family[family] += spent
        steps[family] += 1
        instances[family] += found.decided + found.undecided
        by_file[current[0]] += spent
        key = (sympy.srepr(lhs), step.rel, sympy.srepr(step.expr), model.spec, model.K)
        nonlocal repeats, repeat_seconds
        if key in seen:
            repeats += 1
            repeat_seconds += spent
        seen[key] = found
        return found

    check._second_opinion = timed_opinion
    record: list = []
    asked: list = []
    with_work = reference.second_opinion_and_work

    def recorded(lhs, rel, rhs, spec, K, seed=0):
        opinion, work = with_work(lhs, rel, rhs, spec, K, seed)
        asked.append((lhs, rel, rhs, spec, K, seed))
        if not args.record:
            return opinion, work
        if profile is not None:  # the record's own work (srepr) is not the opinion's
            profile.disable()
        record.append({"file": current[0], "lhs": sympy.srepr(lhs), "rel": rel, "rhs": sympy.srepr(rhs),
                       "opinion": dataclasses.asdict(opinion), "work": work})
        if profile is not None:
            profile.enable()
        return opinion, work

    if args.record or args.replay:
        reference.second_opinion_and_work = recorded
    files = discover(args.paths or sorted({str(p.parent) for p in (REPO / "derivations").rglob("*.toml")}))
    started = time.process_time()
    for path in files:
        current[0] = str(Path(path).resolve().relative_to(REPO))
        check_file(loads(read_regular_file(path, MAX_FILE_BYTES), str(path)), 10.0, None)
    whole = time.process_time() - started
    total = sum(by_family.values())

    def share(seconds: float) -> str:
        return f"{seconds:.3f} s ({100 * seconds / total:.0f} %)" if total else f"{seconds:.3f} s"

    print(f"{len(files)} files checked in {whole:.2f} s CPU, of which the second opinion {total:.3f} s "
          f"({sum(steps.values())} opinions)")
    for family, seconds in by_family.most_common():
        per_instance = seconds / instances[family] * 1e3 if instances[family] else 0.0
        print(f"  {family:9s} {share(seconds):>18s}  {steps[family]:4d} steps, {seconds / steps[family] * 1e3:5.1f} ms "
              f"a step, {instances[family]:5d} instances judged, {per_instance:.2f} ms an instance")
    print("inside it:")
    for label, seconds in clock.seconds.most_common():
        print(f"  {label:38s} {share(seconds)}")
    print(f"opinions asked before in the run (same step, same model): {repeats}, {share(repeat_seconds)}")
    print(f"the {args.top} dearest files:")
    for name, seconds in by_file.most_common(args.top):
        print(f"  {share(seconds):>18s}  {name}")
    if profile is not None:
        profile.dump_stats(str(args.cprofile))
    for round_ in range(args.replay):
        reference.forget()
        started = time.process_time()
        for asking in asked:
            with_work(*asking)
        print(f"replay {round_ + 1}: {len(asked)} opinions in {time.process_time() - started:.3f} s CPU")
    if args.record:
        args.record.write_text(json.dumps(record, indent=0))
        print(f"{len(record)} opinions and their counted work written to {args.record}")
    return 0


def compare(before: Path, after: Path) -> int:
    """0 when the two records (`--record`) hold the same opinions and counted work, in the same order."""
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    differing = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(a) == len(b) and not differing:
        print(f"identical: {len(a)} opinions, {sum(r['work'] for r in a)} operations counted")
        return 0
    print(f"DIFFERENT: {len(a)} and {len(b)} opinions, {len(differing)} differing")
    for i in differing[:5]:
        print(f"  {a[i]['file']}: {a[i]['opinion']} work {a[i]['work']}\n  {' ' * len(a[i]['file'])}  "
              f"{b[i]['opinion']} work {b[i]['work']}")
    return 1


if __name__ == "__main__":
    sys.exit(main())

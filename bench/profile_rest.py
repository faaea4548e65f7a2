"""Where a cold check of the tree spends its CPU, phase by phase and file by file.

bench/bench_floor.py splits a cold check of the whole ``derivations/`` tree into the startup, the
second opinion and "the rest" (issue 19 item 3).  This splits the rest: one process imports the
engine as `check` does and checks every file in turn (memos shared, as in a real run), with each
phase's function wrapped to add up its CPU time (the outermost call only, so nothing counts twice):

* reading and parsing (`derivation.loads`), the definedness obligations of each side (where a
  side is unfolded the first time), the rules (canonical forms), the examples re-decided on a
  proved step, the file's derived distributions, premises and claim, the search, the repair
  suggestions, the report (the one printer), the second opinion (not the engine's: h-arb's part);
* "other": the rest of the files' CPU (budgets, the model's blocks, the wrappers themselves);

and the garbage collector's passes (`gc.callbacks`), which run inside the phases.

It also lists the files that cost most.  Figures are CPU seconds of one process (the machine's other
jobs hardly move them, but each run still differs by a few per cent: compare medians of runs).

The phases above count each call's whole time where it is first entered: "the rules" holds the
unfoldings and canonical forms a rule asks for first.  `--sample` also samples the rest's CPU time
(a CPU-time timer signal, ITIMER_VIRTUAL: the budgets' own alarm is ITIMER_PROF; samples inside
the second opinion left out) and charges each sample three ways: to every group of the engine on its
stack (`GROUPS`: the canonical forms and the unfoldings wherever they are asked for), to the
innermost function of elbo_sym (what the engine itself does, SymPy's work below it included), and
to the innermost function of all (SymPy's).

`--whole` samples the whole check, the second opinion included, and charges each sample to exactly one
part (`PHASE_PARTS`, then `WORK_PARTS`: the first that matches): the phase that asked for the work (the
second opinion, the search with its far end and polishing, reading and parsing, the report), else the kind
of engine work innermost on the stack (printing, canonical forms, unfoldings, definedness, rules, ...).
The shares add up to 100 % of the check's CPU: the table docs/05 gives for a cold check of the tree.
Profile with bytecode written (where PYTHONDONTWRITEBYTECODE is set, `env -u PYTHONDONTWRITEBYTECODE`, or
`python -m compileall elbo_sym` first): else every module imported lazily during the check is compiled
there and charged to whichever part imported it.

    python bench/profile_rest.py [--top 12] [--cprofile OUT.prof] [--sample | --whole] [PATHS...]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASES = (
    ("reading and parsing", "elbo_sym.engine.derivation", "loads"),
    ("definedness (first unfolding of each side)", "elbo_sym.engine.check", "_definedness"),
    ("the rules (canonical forms)", "elbo_sym.engine.check", "_outcome"),
    ("examples re-decided on proved steps", "elbo_sym.engine.check", "_examples_agree"),
    ("derived distributions", "elbo_sym.engine.check", "_derived_problem"),
    ("derived distributions", "elbo_sym.engine.check", "_with_derived_distributions"),
    ("premises", "elbo_sym.engine.check", "_premise_problem"),
    ("the claim", "elbo_sym.engine.check", "_claim"),
    ("the examples' expectations", "elbo_sym.engine.check", "_check_example"),
    ("the search", "elbo_sym.engine.check", "_search_everywhere"),
    ("the search", "elbo_sym.engine.check", "_definedness_search"),
    ("repair suggestions", "elbo_sym.engine.repair", "attach_suggestions"),
    ("the report (printing)", "elbo_sym.report.build", "report_of"),
    ("the second opinion", "elbo_sym.engine.check", "_second_opinion"),
)
"""(phase, module, function): the functions whose CPU time each phase adds up."""
GROUPS = (
    ("canonical forms", r"engine/canonical\.py:_canonical$"),
    ("unfoldings (the models' unfold, latent sums, expectations)",
     r"engine/models/\w+\.py:(unfold|unfold_pointwise|latent_sum|expectation)$"),
    ("definedness obligations", r"engine/check\.py:_obligations_of$"),
    ("reading and parsing", r"engine/derivation\.py:loads$"),
    ("examples re-decided on proved steps", r"engine/check\.py:_examples_agree$"),
    ("the report (printing)", r"report/build\.py:report_of$"),
    ("expanding (`bounded_expand`, the Gaussian moments' `expanded_terms`)",
     r"engine/(canonical\.py:bounded_expand|models/gaussian\.py:expanded_terms)$"),
    ("sparse polynomials (`engine.sparse`)", r"engine/sparse\.py:"),
    ("the one printer (`to_text`, `to_latex`)", r"engine/notation\.py:to_(text|latex)$"),
)
"""(group, pattern): `--sample` charges a sample to each group whose pattern matches a function of elbo_sym
on its stack ("path under elbo_sym/:function"); groups overlap (an expansion inside a canonical form)."""
PHASE_PARTS = (
    ("the second opinion (reference evaluator)", r"engine/check\.py:_second_opinion$"),
    ("the search (far end and polishing included)",
     r"engine/check\.py:(_search_everywhere|_definedness_search)$|engine/(search|polishing)\.py:|numbers/polish\.py:"),
    ("reading and parsing (`derivation.loads`)", r"engine/derivation\.py:loads$"),
    ("report building (`report_of`, its printing included)", r"report/build\.py:report_of$"),
    ("repair suggestions", r"engine/repair\.py:attach_suggestions$"),
)
"""`--whole`: a sample whose stack holds one of these (the first that matches) is that phase's."""
WORK_PARTS = (
    ("printing (`to_text`, `to_latex`) inside the check", r"engine/notation\.py:to_(text|latex)$"),
    ("canonical forms (`engine.canonical`)", r"engine/canonical\.py:"),
    ("sparse polynomials (`engine.sparse`)", r"engine/sparse\.py:"),
    ("unfoldings (`engine.models`)", r"engine/models/"),
    ("definedness obligations and certificates",
     r"engine/(definedness\.py:|check\.py:(_obligations_of|_definedness)$)"),
    ("the rules (`engine.rules`, less the forms they ask for)", r"engine/rules\.py:"),
    ("exact values (`numbers`, `engine.exact`)", r"numbers/|engine/exact\.py:"),
    ("well-formedness and premises", r"engine/(wellformed|premises)\.py:"),
)
"""`--whole`: any other sample is the first of these that matches its innermost function of elbo_sym,
then the next one out (so SymPy's work is charged to the engine's part that asked for it), else "other"."""
SAMPLE_SECONDS = 0.001
"""The sampler's interval in CPU seconds (the kernel may deliver its signal less often: counts are shares)."""


def _wrapped(function, phase: str, spent: dict[str, float], depth: list[int]):
    def timed(*args, **kwargs):
        if depth[0]:  # inside another phase: counted there
            return function(*args, **kwargs)
        depth[0] += 1
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[phase] = spent.get(phase, 0.0) + time.process_time() - started
            depth[0] -= 1
    return timed


class _Sampler:
    """Counts CPU-time samples of the checking thread by group, innermost elbo_sym function and innermost
    function; samples whose stack holds the second opinion are not the rest's and are dropped."""

    def __init__(self, whole: bool = False) -> None:
        import re

        self.groups = [(name, re.compile(pattern)) for name, pattern in GROUPS]
        self.whole = whole
        self.phases = [(name, re.compile(pattern)) for name, pattern in PHASE_PARTS]
        self.works = [(name, re.compile(pattern)) for name, pattern in WORK_PARTS]
        self.by_part: Counter = Counter()
        self.by_group: Counter = Counter()
        self.engine: Counter = Counter()
        self.leaf: Counter = Counter()
        self.samples = 0

    def part(self, stack: list[str]) -> str:
        """The one part of `--whole` a sample is charged to (`stack`: elbo_sym's frames, innermost first)."""
        for name, pattern in self.phases:
            if any(pattern.search(frame) for frame in stack):
                return name
        for frame in stack:
            for name, pattern in self.works:
                if pattern.search(frame):
                    return name
        return "other (the steps' and files' own code, budgets, models' blocks)"

    def __call__(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        leaf = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
        stack = []
        while frame is not None:
            path = frame.f_code.co_filename.replace("\\", "/")
            if "/elbo_sym/" in path:
                stack.append(f"{path.rsplit('/elbo_sym/', 1)[1]}:{frame.f_code.co_name}")
            frame = frame.f_back
        if self.whole:
            self.by_part[self.part(stack)] += 1
        elif any(name == "engine/check.py:_second_opinion" for name in stack):
            return
        self.samples += 1
        self.leaf[leaf] += 1
        self.engine[stack[0] if stack else "(outside elbo_sym)"] += 1
        for group, pattern in self.groups:
            if any(pattern.search(name) for name in stack):
                self.by_group[group] += 1

    def print(self, top: int) -> None:
        n = max(1, self.samples)
        if self.whole:
            print(f"\n{self.samples} samples of the whole check, each charged to one part:")
            for part, count in self.by_part.most_common():
                print(f"{100 * count / n:6.1f}%  {part}")
            return
        print(f"\n{self.samples} samples of the rest (the second opinion's left out); a sample counts in every "
              f"group on its stack:")
        for group, count in self.by_group.most_common():
            print(f"{100 * count / n:6.1f}%  {group}")
        for title, counts in (("innermost function of elbo_sym", self.engine), ("innermost function", self.leaf)):
            print(f"\nby {title} (the top {top}):")
            for name, count in counts.most_common(top):
                print(f"{100 * count / n:6.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: every folder of derivations/)")
    parser.add_argument("--top", type=int, default=12, help="files listed (default 12)")
    parser.add_argument("--cprofile", type=Path, help="also write a cProfile of the loop here (slower)")
    parser.add_argument("--sample", action="store_true",
                        help="also sample the rest's CPU time by group and function (ITIMER_VIRTUAL)")
    parser.add_argument("--whole", action="store_true",
                        help="sample the whole check instead, each sample charged to one part "
                             "(PHASE_PARTS, then WORK_PARTS)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from importlib import import_module

    from elbo_sym.authoring.cache import BEFORE_THE_FORK, ENGINE_MODULES, discover, import_quietly

    import_quietly(ENGINE_MODULES)
    import_quietly(BEFORE_THE_FORK)
    from elbo_sym.engine import derivation
    from elbo_sym.files import read_regular_file
    from elbo_sym.limits import MAX_FILE_BYTES, STEP_BUDGET_SECONDS
    from elbo_sym.report.build import check_file

    spent: dict[str, float] = {}
    depth = [0]
    for phase, module, name in PHASES:
        owner = import_module(module)
        setattr(owner, name, _wrapped(getattr(owner, name), phase, spent, depth))
    collecting = [0.0]

    def collector(stage: str, info: dict) -> None:
        collecting[0] += time.process_time() if stage == "stop" else -time.process_time()

    paths = args.paths or sorted({str(p.parent.relative_to(REPO)) for p in (REPO / "derivations").rglob("*.toml")})
    files = discover(paths)
    profile = None
    if args.cprofile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    sampler = None
    if args.sample or args.whole:
        import signal

        sampler = _Sampler(whole=args.whole)
        signal.signal(signal.SIGVTALRM, sampler)
        signal.setitimer(signal.ITIMER_VIRTUAL, SAMPLE_SECONDS, SAMPLE_SECONDS)
    gc.callbacks.append(collector)
    per_file = []
    started = time.process_time()
    for path in files:
        file_started = time.process_time()
        loaded = derivation.loads(read_regular_file(path, MAX_FILE_BYTES), str(path))
        check_file(loaded, STEP_BUDGET_SECONDS, None)
        per_file.append((time.process_time() - file_started, str(path)))
    total = time.process_time() - started
    gc.callbacks.remove(collector)
    if sampler is not None:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.cprofile)

    opinion = spent.get("the second opinion", 0.0)
    rows = [(phase, seconds) for phase, seconds in spent.items() if phase != "the second opinion"]
    rows.append(("other", total - opinion - sum(seconds for _, seconds in rows)))
    rest = total - opinion
    print(f"{len(files)} files: {total:.3f} s CPU in one process; the second opinion {opinion:.3f} s, "
          f"the rest {rest:.3f} s; the garbage collector's passes, inside all of these, {collecting[0]:.3f} s")
    print(f"{'phase':46} {'CPU s':>7} {'of the rest':>11}")
    for phase, seconds in sorted(rows, key=lambda row: -row[1]):
        print(f"{phase:46} {seconds:7.3f} {100 * seconds / rest:10.1f}%")
    if args.top > 0:
        print(f"\nthe {args.top} files that cost most (CPU s, second opinion included):")
        for seconds, name in sorted(per_file, reverse=True)[:args.top]:
            print(f"{seconds:7.3f}  {name}")
    if sampler is not None:
        sampler.print(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

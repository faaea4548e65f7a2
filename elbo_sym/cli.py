"""`elbo-sym`: a thin shell over the library.

Exit codes: 0 everything holds; 1 something is refuted, unproved or unestablished;
2 usage or input errors (a file that cannot be read, parsed or validated).

Heavy modules (SymPy) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


class InputError(Exception):
    """A user-facing input problem: printed as one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elbo-sym",
        description="Machine-check the ELBO lesson's derivations and print them as handouts.",
        epilog="Exit status: 0 all good, 1 something refuted/unestablished, 2 bad input or usage.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="check derivation files (default: derivations/)",
                                description="Prove or refute every step of each derivation file.")
    check.add_argument("paths", nargs="*", default=["derivations"], help="files or folders of *.toml")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--budget", type=float, default=10.0, metavar="SECONDS",
                       help="time budget per step (default 10)")
    check.set_defaults(run=cmd_check)

    for register in _EXTENSIONS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        print(f"elbo-sym: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


# --------------------------------------------------------------------------- check


def load_all(paths: list[str]):
    """Load every derivation named; return (derivations, input errors)."""
    from elbo_sym.derivation import DerivationError, discover, load

    files = discover(paths)
    if not files:
        raise InputError(f"no derivation files found in {' '.join(paths)}")
    loaded, errors = [], []
    for path in files:
        if not path.exists():
            errors.append(DerivationError(str(path), 0, "no such file"))
            continue
        try:
            loaded.append(load(path))
        except DerivationError as error:
            errors.append(error)
    return loaded, errors


def cmd_check(args) -> int:
    from elbo_sym.check import check_derivation

    derivations, errors = load_all(args.paths)
    results = [check_derivation(d, budget=args.budget) for d in derivations]
    if args.json:
        payload = [r.as_dict() for r in results] + [
            {"file": e.path, "error": str(e), "line": e.line, "step": e.step} for e in errors]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(format_result(result))
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
            if error.pointer():
                print(error.pointer(), file=sys.stderr)
        print(format_summary(results, errors))
    if errors:
        return EXIT_INPUT
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


_MARK = {"proved": "✓", "checked": "~", "refuted": "✗", "error": "!"}


def format_result(result) -> str:
    """A readable per-step report of one derivation."""
    d = result.derivation
    lines = [f"{d.path} — {d.title}"]
    if d.claim is not None:
        lines.append(f"  claim: {d.claim.lhs.text} {d.claim.rel} {d.claim.rhs.text}")
    for a in d.assumptions:
        lines.append(f"  assume: {a.lhs.text} {a.rel} {a.rhs.text}")
    lines.append(f"  {d.path}:{d.start.line}  start   {d.start.text}")
    for r in result.steps:
        s = r.step
        verdict = r.verdict.value
        lines.append(f"  {d.path}:{s.line}  step {s.index}  {s.rel:>2} {s.formula.text}")
        lines.append(f"      {_MARK[verdict]} {verdict:<8} [{s.rule}] {r.reason}")
        if r.counterexample is not None:
            lines.append(f"      counterexample: {r.counterexample.describe()}")
    for e in result.examples:
        status = "holds" if e.holds else "FAILS: " + "; ".join(e.failures)
        lines.append(f"  {d.path}:{e.example.line}  example {e.example.index}: {status}")
    for problem in result.problems:
        lines.append(f"  problem: {problem}")
    lines.append(f"  {'established' if result.established else 'NOT established'}: {result.claim_reason}")
    return "\n".join(lines) + "\n"


def format_summary(results, errors=()) -> str:
    counts = {v: 0 for v in _MARK}
    for result in results:
        for r in result.steps:
            counts[r.verdict.value] += 1
    steps = sum(counts.values())
    established = sum(r.established for r in results)
    text = (f"{len(results)} derivation(s), {steps} step(s): {counts['proved']} proved, "
            f"{counts['checked']} checked, {counts['refuted']} refuted, {counts['error']} error; "
            f"{established}/{len(results)} claims established")
    if errors:
        text += f"; {len(errors)} file(s) with input errors"
    return text


_EXTENSIONS: list = []
"""Functions `register(subparsers)` adding further commands (filled below, one per feature)."""


def command(register):
    """Decorator: add a `register(subparsers)` function to the CLI."""
    _EXTENSIONS.append(register)
    return register


# --- commands: examples and exercises (issue 3) ---

# --- commands: handouts, build, flashcards (issue 4) ---

# --- commands: authoring: new, explain (issue 5) ---


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "command", "InputError", "format_result", "format_summary", "load_all"]

"""`elbo-sym`: a thin shell over the library.

Exit codes: 0 everything holds; 1 something is refuted, unproved or unestablished;
2 usage or input errors (a file that cannot be read, parsed or validated).

Heavy modules (SymPy) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from elbo_sym.files import FileReadError, describe_os_error
from elbo_sym.limits import (
    DECK_BUDGET_CAP_SECONDS,
    FILE_BUDGET_CAP_SECONDS,
    STEP_BUDGET_SECONDS,
    BudgetError,
    validate_budget,
)
from elbo_sym.prose import terminal_safe

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

LATEX_TIMEOUT_SECONDS = 120.0
"""Default time limit of one LaTeX build (`build --timeout`)."""

_SECONDS_OPTIONS = {"budget": "--budget", "file_budget": "--file-budget", "timeout": "--timeout"}
"""Options holding a number of seconds: validated for every command that has them."""


class InputError(Exception):
    """A user-facing input problem: printed as one line, exit 2."""


class _TerminalSafe:
    """A text stream that escapes control and formatting characters (elbo_sym.prose.terminal_safe).

    File names, option values and anything quoted from a file reach stdout and stderr only
    through it: an escape sequence or a bidi override in a file name is shown as ``\\u001b``,
    never acted on by the terminal.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


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
    check.add_argument("--budget", default=STEP_BUDGET_SECONDS, metavar="SECONDS",
                       help=f"time budget per step (default {STEP_BUDGET_SECONDS:g})")
    check.add_argument("--file-budget", default=None, metavar="SECONDS",
                       help=f"time budget of a whole file (default: steps x --budget, at most "
                            f"{FILE_BUDGET_CAP_SECONDS:g}); later steps are errors once it is spent")
    check.add_argument("--no-cache", action="store_true",
                       help="re-check every file: neither read nor write the result cache "
                            "(~/.cache/elbo-sym, or $ELBO_SYM_CACHE_DIR)")
    check.set_defaults(run=cmd_check)

    for register in _EXTENSIONS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0 ok, 1 failed, 2 bad input or usage).

    Bad input never ends in a traceback: input errors, unreadable files, bad budgets and
    any OSError (an unwritable output, a file name too long, ...) are one line on stderr,
    `elbo-sym: error: ...`, and exit status 2.
    """
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _TerminalSafe(stdout), _TerminalSafe(stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors (argparse printed them) and --help
        return exit_.code if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_INPUT)
    try:
        _validate_seconds(args)
        return args.run(args)
    except InputError as error:
        return _input_error(str(error))
    except FileReadError as error:
        return _input_error(str(error))
    except BudgetError as error:
        return _input_error(str(error))
    except BrokenPipeError:  # `elbo-sym ... | head`: stop quietly (no flush error at exit either)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAILED
    except OSError as error:
        return _input_error(describe_os_error(error))
    except KeyboardInterrupt:
        return 130


def _input_error(message: str) -> int:
    print(f"elbo-sym: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_INPUT


def _validate_seconds(args) -> None:
    """Every --budget / --timeout: finite, > 0 and at most MAX_BUDGET_SECONDS (else exit 2)."""
    for dest, option in _SECONDS_OPTIONS.items():
        if getattr(args, dest, None) is not None:  # None: the default derived from the others
            setattr(args, dest, validate_budget(getattr(args, dest), option))


def _output_folder(text: str, option: str) -> Path:
    """A folder to write into: an existing writable folder, or a new one in an existing folder."""
    if "\0" in text:
        raise InputError(f"{option}: the name contains a NUL byte")
    out = Path(text)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(f"{option} {text}: not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise InputError(f"{option} {text}: the folder is not writable")
        return out
    parent = out.parent
    if not parent.is_dir():
        raise InputError(f"{option} {text}: folder {parent} does not exist (it is not created)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {text}: folder {parent} is not writable")
    return out


def _output_file(text: str, option: str) -> Path:
    """A file to (re)place: not a folder or a device, in an existing writable folder."""
    if "\0" in text:
        raise InputError(f"{option}: the name contains a NUL byte")
    path = Path(text)
    if path.is_dir():
        raise InputError(f"{option} {text}: is a folder; give a file name, e.g. {path / 'deck.apkg'}")
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise InputError(f"{option} {text}: exists and is not a regular file")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{option} {text}: folder {parent} does not exist (it is not created)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {text}: folder {parent} is not writable")
    return path


# --------------------------------------------------------------------------- check


def load_all(paths: list[str]):
    """Load every derivation named; return (derivations, input errors)."""
    from elbo_sym.engine.derivation import DerivationError, discover, load

    files = discover(paths)
    if not files:
        raise InputError(f"no derivation files found in {' '.join(paths)}")
    loaded, errors = [], []
    for path in files:
        try:
            loaded.append(load(path))
        except DerivationError as error:
            errors.append(error)
    return loaded, errors


def cmd_check(args) -> int:
    # Reports come from elbo_sym.authoring.cache: unchanged files that passed are not re-checked
    # (and SymPy is not imported when every file hits); --no-cache checks everything.
    from elbo_sym.authoring.cache import check_paths
    from elbo_sym.report.text import derivation_text, error_text, summary_text

    try:
        reports, errors = check_paths(args.paths, budget=args.budget, use_cache=not args.no_cache,
                                      total=args.file_budget)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    if args.json:
        payload = [r.to_dict() for r in reports] + [e.to_dict() for e in errors]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print(derivation_text(report))
        for error in errors:
            print(error_text(error), file=sys.stderr)
        print(summary_text(reports, errors))
    if errors:
        return EXIT_INPUT
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


_EXTENSIONS: list = []
"""Functions `register(subparsers)` adding further commands (filled below, one per feature)."""


def command(register):
    """Decorator: add a `register(subparsers)` function to the CLI."""
    _EXTENSIONS.append(register)
    return register


# --- commands: examples and exercises (issue 3) ---


def _int_option(text: str, name: str) -> int:
    """An integer option, validated here so a bad value is one line and exit 2."""
    text = text.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise InputError(f"{name} must be an integer, not {text[:40]!r}")
    return int(text)


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


@command
def _register_example(commands) -> None:
    p = commands.add_parser(
        "example", help="a worked example: every quantity of the lesson, exact, with the identities",
        description="Compute p(x), p(z|x), the ELBO term by term, E_q[log p(x|z)], both KL divergences and "
                    "the gap exactly for one instance, decide the three identities, and cross-check every "
                    "value against the engine. Probabilities are fractions like 3/4 (or decimals like 0.25), "
                    "comma-separated, one per state of z.")
    p.add_argument("--prior", required=True, metavar="P0,P1,...", help="p(z = k), summing to 1")
    p.add_argument("--likelihood", required=True, metavar="L0,L1,...", help="p(x | z = k), each in (0, 1]")
    p.add_argument("--q", required=True, metavar="Q0,Q1,...", help="q(z = k), summing to 1")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the table")
    p.set_defaults(run=cmd_example)


def cmd_example(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError, format_example, worked_example

    try:
        example = worked_example(args.prior, args.likelihood, args.q)
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(example.as_dict())
    else:
        print(format_example(example), end="")
    return EXIT_OK if example.all_proved else EXIT_FAILED


@command
def _register_exercises(commands) -> None:
    p = commands.add_parser(
        "exercises", help="a fresh, seeded exercise sheet with answer keys",
        description="Draw COUNT distinct cases with nice fractions from SEED (same seed, same sheet, on "
                    "every machine) and print the sheet followed by the exact answer keys.")
    p.add_argument("--seed", default="0", help="random seed, an integer from 0 to 2**63-1 (default 0)")
    p.add_argument("--count", default="5", help="number of cases, 1 to 100 (default 5)")
    p.add_argument("--K", default="2", help="latent states per case, 2 to 6 (default 2: binary)")
    p.add_argument("--json", action="store_true", help="print {seed, K, count, cases: [...]} as JSON")
    p.set_defaults(run=cmd_exercises)


def cmd_exercises(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.lesson.exercises import format_sheet, generate_exercises

    seed, count, K = (_int_option(args.seed, "--seed"), _int_option(args.count, "--count"),
                      _int_option(args.K, "--K"))
    try:
        sheet = generate_exercises(seed, count, K)
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(sheet.as_dict())
    else:
        print(format_sheet(sheet), end="")
    return EXIT_OK if all(e.key.all_proved for e in sheet) else EXIT_FAILED


@command
def _register_drill(commands) -> None:
    p = commands.add_parser(
        "drill", help="tight-case drill: q = posterior gives gap 0 exactly, plus a near miss",
        description="COUNT seeded cases with q set to the posterior (the key shows the gap is exactly 0 "
                    "and ELBO = log p(x)), and one near miss with q close to the posterior (gap > 0, certified).")
    p.add_argument("--seed", default="0", help="random seed (default 0)")
    p.add_argument("--count", default="3", help="number of tight cases, 1 to 100 (default 3)")
    p.add_argument("--json", action="store_true", help="print the drill as JSON")
    p.set_defaults(run=cmd_drill)


def cmd_drill(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.lesson.exercises import format_drill, tight_drill

    seed, count = _int_option(args.seed, "--seed"), _int_option(args.count, "--count")
    try:
        drill = tight_drill(seed, count)
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(drill.as_dict())
    else:
        print(format_drill(drill), end="")
    return EXIT_OK if drill.ok else EXIT_FAILED


@command
def _register_cards(commands) -> None:
    p = commands.add_parser(
        "cards", help="the self-check and flashcards (lesson/*.toml); --check verifies their formulas",
        description="Print the lesson's self-check and flashcard deck, or with --check prove or refute "
                    "every card's formula with the engine (exit 1 if one fails).")
    p.add_argument("paths", nargs="*", help="deck files (default: lesson/selfcheck.toml lesson/flashcards.toml)")
    p.add_argument("--check", action="store_true", help="check every formula with the engine")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_deck_budgets(p)
    p.set_defaults(run=cmd_cards)


def _add_deck_budgets(p) -> None:
    """--budget (each check of a card) and --file-budget (a whole deck)."""
    p.add_argument("--budget", default=STEP_BUDGET_SECONDS, metavar="SECONDS",
                   help=f"time budget of each check of a card's formula (default {STEP_BUDGET_SECONDS:g})")
    p.add_argument("--file-budget", default=None, metavar="SECONDS",
                   help=f"time budget of a whole deck (default: cards x --budget, at most "
                        f"{DECK_BUDGET_CAP_SECONDS:g}); later cards are errors once it is spent")


def cmd_cards(args) -> int:
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import check_deck, format_deck, format_deck_result, load_deck, load_flashcards, \
        load_selfcheck

    try:
        decks = [load_deck(p) for p in args.paths] if args.paths else [load_selfcheck(), load_flashcards()]
    except DerivationError as error:
        raise InputError(str(error)) from None
    if not args.check:
        if args.json:
            _print_json([{"file": d.path, "kind": d.kind, "title": d.title, "cards": [
                {"index": c.index, "line": c.line, "front": c.front, "back": c.back, "topic": c.topic,
                 "formula": c.formula.text if c.formula else None} for c in d.cards]} for d in decks])
        else:
            print("\n".join(format_deck(d) for d in decks), end="")
        return EXIT_OK
    results = [check_deck(d, args.budget, args.file_budget) for d in decks]
    if args.json:
        _print_json([r.as_dict() for r in results])
    else:
        print("\n".join(format_deck_result(r) for r in results), end="")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED

# --- commands: handouts, build, flashcards (issue 4) ---


_HANDOUT_LIST = (
    ("derivations", "every derivation, one section each: claim, aligned chain with reasons and verdicts, "
                    "summary, example values"),
    ("worked-example", "the lesson's binary example: all quantities exact and in nats/bits, and the figure"),
    ("exercises", "seeded fresh binary exercises (seed printed)"),
    ("answers", "the answer key of exercises.pdf (same seed, same case numbers)"),
    ("tight-drill", "q = posterior gives gap exactly 0; a near miss; answers at the end"),
    ("selfcheck", "six questions; answers with their checked formulas on the last page"),
    ("flashcards", "2 x 4 cut-out cards per sheet, backs mirrored for duplex printing"),
)


@command
def _register_handouts(commands) -> None:
    p = commands.add_parser("handouts", help="list the printable handouts that `build` makes",
                            description="List the handouts `elbo-sym build` writes (one PDF each).")
    p.set_defaults(run=cmd_handouts)


def cmd_handouts(args) -> int:
    for name, what in _HANDOUT_LIST:
        print(f"{name + '.pdf':<20} {what}")
    return EXIT_OK


@command
def _register_build(commands) -> None:
    p = commands.add_parser(
        "build", help="check every derivation, then build the PDF handouts (default: derivations/ -> handouts/)",
        description="Check every derivation first (a handout is never built from a derivation that is not "
                    "fully proved/checked), then render the LaTeX handouts and compile them with latexmk "
                    "(no shell escape, time limit). Output files are replaced atomically: a failed build "
                    "leaves the previous PDF untouched. Without a LaTeX engine only the .tex files are "
                    "written (exit 0, unless ELBO_SYM_REQUIRE_LATEX=1).")
    p.add_argument("paths", nargs="*", default=["derivations"], help="derivation files or folders of *.toml")
    p.add_argument("--out", default="handouts", metavar="DIR", help="output folder (default handouts/)")
    p.add_argument("--seed", default="2026", help="seed of the exercise sheet and the drill (default 2026)")
    p.add_argument("--count", default="6", help="number of exercise cases, 1 to 100 (default 6)")
    p.add_argument("--only", action="append", metavar="NAME", choices=[n for n, _ in _HANDOUT_LIST],
                   help="build only this handout (repeatable): " + ", ".join(n for n, _ in _HANDOUT_LIST))
    p.add_argument("--timeout", default=LATEX_TIMEOUT_SECONDS, metavar="SECONDS",
                   help=f"time limit of one LaTeX build (default {LATEX_TIMEOUT_SECONDS:g})")
    p.add_argument("--budget", default=STEP_BUDGET_SECONDS, metavar="SECONDS",
                   help=f"time budget per derivation step (default {STEP_BUDGET_SECONDS:g})")
    p.set_defaults(run=cmd_build)


def cmd_build(args) -> int:
    import os
    import time

    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.publish import render
    from elbo_sym.report.build import check_file
    from elbo_sym.publish.handouts import HandoutError, lesson_handouts, require_checked, write_handouts

    from elbo_sym.lesson.exercises import _check_arguments

    seed, count = _int_option(args.seed, "--seed"), _int_option(args.count, "--count")
    try:
        _check_arguments(seed, count, 2)  # before minutes of checking and LaTeX, not after
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    out = _output_folder(args.out, "--out")  # refused before any work, and nothing is created yet
    started = time.monotonic()
    derivations, errors = load_all(args.paths)
    for error in errors:
        print(f"elbo-sym build: error: {error}", file=sys.stderr)
        if error.pointer():
            print(error.pointer(), file=sys.stderr)
    if errors:
        return EXIT_INPUT
    results = [check_file(d, budget=args.budget) for d in derivations]
    try:
        require_checked(results)
        handouts = lesson_handouts(results, seed=seed, count=count, budget=args.budget)
    except HandoutError as error:
        print(f"elbo-sym build: no handouts built: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (DerivationError, ExampleInputError) as error:
        raise InputError(str(error)) from None
    if args.only:
        handouts = [h for h in handouts if h.name in set(args.only)]
    latex = render.latex_available()
    try:
        reports = write_handouts(handouts, out, latex=latex, timeout=args.timeout)
    except HandoutError as error:
        print(f"elbo-sym build: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"checked {len(results)} derivation(s): every step proved or accepted")
    failed = [r for r in reports if latex and not r.ok]
    for r in reports:
        if r.ok:
            boxes = f", {r.overfull} overfull box(es)" if r.overfull else ""
            print(f"  wrote {r.pdf}  ({r.seconds:.1f} s{boxes})")
        elif not latex:
            print(f"  wrote {r.tex}")
        else:
            print(f"  FAILED {r.name}.pdf: {r.message}", file=sys.stderr)
            for line in r.log_excerpt.splitlines():
                print(f"    {line}", file=sys.stderr)
    if not latex:
        print(f"no LaTeX engine (latexmk + pdflatex) found: wrote the .tex sources only. "
              f"Install TeX Live with:\n  {render.INSTALL_HINT}", file=sys.stderr)
        return EXIT_FAILED if os.environ.get("ELBO_SYM_REQUIRE_LATEX") == "1" else EXIT_OK
    if failed:
        print(f"{len(failed)} of {len(reports)} handout(s) failed; previous PDFs were left untouched",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(reports)} handout(s) in {os.path.normpath(args.out)}{os.sep} ({time.monotonic() - started:.1f} s)")
    return EXIT_OK


@command
def _register_flashcards(commands) -> None:
    p = commands.add_parser(
        "flashcards", help="check the flashcards; export them as an Anki deck (--anki deck.apkg)",
        description="Check every flashcard formula, then print the deck or (with --anki) write it as an "
                    "Anki package: formulas in MathJax (\\( ... \\)), stable deck/model ids and note guids, "
                    "so re-importing updates the notes.")
    p.add_argument("file", nargs="?", default=None, help="flashcard file (default lesson/flashcards.toml)")
    p.add_argument("--anki", metavar="DECK.apkg", help="write an Anki package here")
    _add_deck_budgets(p)
    p.set_defaults(run=cmd_flashcards)


def cmd_flashcards(args) -> int:
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.publish.handouts import HandoutError, checked_deck
    from elbo_sym.lesson.practice import format_deck

    target = _output_file(args.anki, "--anki") if args.anki else None  # refused before checking anything
    try:
        deck, _ = checked_deck("flashcards", args.file, budget=args.budget, total=args.file_budget)
    except HandoutError as error:
        print(f"elbo-sym flashcards: {error}", file=sys.stderr)
        return EXIT_FAILED
    except DerivationError as error:
        raise InputError(str(error)) from None
    if not args.anki:
        print(format_deck(deck), end="")
        return EXIT_OK
    from elbo_sym.publish.anki import DECK_NAME, AnkiError, write_apkg

    try:
        path = write_apkg(deck.cards, target)
    except AnkiError as error:
        raise InputError(str(error)) from None
    print(f"wrote {path} ({len(deck.cards)} notes, Anki deck \"{DECK_NAME}\")")
    return EXIT_OK

# --- commands: authoring: new, explain (issue 5) ---


@command
def _register_authoring(commands) -> None:
    new = commands.add_parser(
        "new", help="write a commented starter derivation NAME.toml",
        description="Write NAME.toml: a short, commented derivation (the gap identity) that checks "
                    "green, explaining every key, the vocabulary, the rules and the relations. "
                    "Never overwrites an existing file (exit 2).")
    new.add_argument("name", metavar="NAME", help="file to create (.toml is added unless present)")
    new.set_defaults(run=cmd_new)

    explain = commands.add_parser(
        "explain", help="show how one step was decided",
        description="Show how a step was decided: both sides unfolded into the model's parameters, "
                    "the canonical forms they reach and the residual, the rule's conditions, the "
                    "verdict, the counterexample and a repair suggestion.")
    explain.add_argument("file", metavar="FILE", help="a derivation file")
    explain.add_argument("--step", type=int, default=None, metavar="N",
                         help="step number, from 1 (default: the first step that is not proved)")
    explain.add_argument("--budget", default=STEP_BUDGET_SECONDS, metavar="SECONDS",
                         help=f"time budget per step (default {STEP_BUDGET_SECONDS:g})")
    explain.set_defaults(run=cmd_explain)


def cmd_new(args) -> int:
    from elbo_sym.authoring.new import NewFileError, new_derivation

    try:
        path = new_derivation(args.name)
    except NewFileError as error:
        raise InputError(str(error)) from None
    print(f"wrote {path}: a starter derivation that checks green")
    print(f"  check it:    elbo-sym check {path}")
    print(f"  explain:     elbo-sym explain {path} --step 2")
    return EXIT_OK


def cmd_explain(args) -> int:
    from elbo_sym.engine.derivation import DerivationError, load
    from elbo_sym.authoring.explain import explain, format_explanation

    try:
        derivation = load(args.file)
    except DerivationError as error:
        print(f"error: {error}", file=sys.stderr)
        if error.pointer():
            print(error.pointer(), file=sys.stderr)
        return EXIT_INPUT
    if args.step is not None and not 1 <= args.step <= len(derivation.steps):
        raise InputError(f"--step {args.step}: {derivation.path} has steps 1 to {len(derivation.steps)}")
    explanation = explain(derivation, args.step, budget=args.budget)
    print(format_explanation(explanation), end="")
    return EXIT_OK if explanation.ok else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "command", "InputError", "load_all"]

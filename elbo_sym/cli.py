"""`elbo-sym`: a thin shell over the library, on click.

Exit codes: 0 everything holds; 1 something is refuted, unproved or unestablished;
2 usage or input errors (a bad option, a file that cannot be read, parsed or validated).

One error path for every command (:meth:`_Cli.main` and :func:`_run`): a usage error
(click's: an unknown option, a value out of range, a missing argument) and an input
error (:class:`InputError`, an unreadable file, a bad budget, any OSError) are each one
line on stderr, ``elbo-sym: error: ...``, and exit status 2 -- never a traceback.  A
derivation file that does not load is ``error: FILE:LINE:COLUMN: ...`` with a caret line
under the offending token, as `check` prints it.  JSON goes through :func:`_print_json`.

Options are typed (:class:`Integer`, an ASCII-digits ``IntRange``; :class:`Seconds`, a
validated time budget), so a bad value is refused before any work.  The seed and the
number of cases have one default each, the same for the text sheets (`exercises`,
`drill`) and the PDF handouts (`build`): :data:`DEFAULT_SEED`, :data:`DEFAULT_COUNT`,
:data:`DRILL_COUNT`.

Heavy modules (SymPy) are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import click

from elbo_sym.files import FileReadError, describe_os_error
from elbo_sym.limits import (
    DECK_BUDGET_CAP_SECONDS,
    FILE_BUDGET_CAP_SECONDS,
    MAX_TITLE_CHARS,
    STEP_BUDGET_SECONDS,
    BudgetError,
    validate_budget,
)
from elbo_sym.prose import terminal_safe

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130

DEFAULT_SEED = 2026
"""Seed of every generated sheet, text or PDF: `exercises`, `drill` and `build`."""
DEFAULT_COUNT = 6
"""Exercise cases of `exercises` and of `build`'s exercises.pdf / answers.pdf."""
DRILL_COUNT = 4
"""Tight cases of `drill`: as many as `build`'s tight-drill.pdf (elbo_sym.publish.handouts.DRILL_COUNT)."""

MAX_SEED = 2**63 - 1
MAX_COUNT = 100
MAX_EXERCISE_K = 6
"""The limits of elbo_sym.lesson.exercises (which checks them again), here so that parsing
the options does not import SymPy."""
PARTS = ("evidence", "posterior", "elbo", "reconstruction", "kl_prior", "kl_posterior", "gap")
"""The quantities a sheet may ask for (elbo_sym.lesson.exercises.PARTS, here for the same reason)."""
SOLUTIONS = ("none", "separate", "inline")
"""Where the answers go (elbo_sym.publish.handouts.SOLUTIONS)."""
PROJECT_FILE = "elbo-sym.toml"
"""A project's handout configuration (elbo_sym.publish.project.PROJECT_FILE)."""

DEFAULT_FOLDER = "derivations"
"""What `check` and `build` read when no path is given."""

LATEX_TIMEOUT_SECONDS = 120.0
"""Default time limit of one LaTeX build (`build --timeout`)."""


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


# --------------------------------------------------------------------------- option types


class _Refused(click.BadParameter):
    """A bad option value whose message already names the option: printed as it is."""

    def format_message(self) -> str:
        return self.message


class Integer(click.IntRange):
    """An integer written in ASCII digits, within [min, max] (max None: no upper bound).

    Python's int() also reads "١٢" (Arabic-Indic digits), "1_000" and 4,000-digit numbers;
    an option takes none of these.
    """

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            text = value.strip()
            digits = text[1:] if text.startswith("-") else text
            if not (text.isascii() and digits.isdigit()):
                self.fail(f"{value[:40]!r} is not an integer", param, ctx)
            if len(digits) > 20:
                self.fail(f"{text[:12]}... ({len(digits)} digits) is not in the range {self._describe_range()}",
                          param, ctx)
        return super().convert(value, param, ctx)

    def _describe_range(self) -> str:  # click's help and error text: "1 to 100", not "1<=x<=100"
        high = "2**63-1" if self.max == MAX_SEED else self.max
        return f"{self.min} to {high}" if self.max is not None else f"at least {self.min}"


class Seconds(click.ParamType):
    """A number of seconds: finite, > 0, at most MAX_BUDGET_SECONDS (elbo_sym.limits.validate_budget)."""

    name = "seconds"

    def convert(self, value, param, ctx):
        option = param.opts[0] if param is not None and param.opts else "budget"
        try:
            return validate_budget(value, option)
        except BudgetError as error:
            raise _Refused(str(error), ctx, param) from None


SECONDS = Seconds()


class Parts(click.ParamType):
    """A comma-separated list of sheet parts (:data:`PARTS`), e.g. ``evidence,posterior,elbo``."""

    name = "parts"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        names = tuple(part.strip() for part in str(value).split(",") if part.strip())
        unknown = [name for name in names if name not in PARTS]
        if unknown or not names:
            shown = f"unknown part {unknown[0][:40]!r}" if unknown else "no parts given"
            self.fail(f"{shown} (parts: {','.join(PARTS)})", param, ctx)
        return names


def _sheet_options(*, K: bool = True, count: str | None = None, parts: bool = True):
    """--project, --seed, --count, --K, --parts and --solutions of `build`, `web` and the sheet
    commands; a value not given is the project's (elbo-sym.toml), else the default shown."""
    def decorate(f):
        f = click.option("--solutions", type=click.Choice(SOLUTIONS), default=None,
                         help="none: no answers (students); separate: answers after all the questions, on a "
                              "fresh sheet or in answers.pdf (default); inline: each answer after its question, "
                              "with verdict marks, rule names and file names (the teacher's copy)")(f)
        if parts:
            f = click.option("--parts", type=Parts(), default=None, metavar="A,B,...",
                             help="the quantities to ask for, in the lesson's order (default: all): "
                                  + ",".join(PARTS))(f)
        if K:
            f = click.option("--K", "K", type=Integer(2, MAX_EXERCISE_K), default=None, metavar="K",
                             help="latent states per generated case (default 2: binary)")(f)
        if count is not None:
            f = click.option("--count", type=Integer(1, MAX_COUNT), default=None, metavar="N",
                             help=f"number of {count}")(f)
        return click.option("--project", default=None, metavar="PATH",
                            help=f"the project's {PROJECT_FILE}, or its folder (default: ./{PROJECT_FILE} "
                                 "if there is one): which derivations, examples, decks and settings to use")(f)
    return decorate


def _project(args, **options):
    """The project (elbo_sym.publish.project) with the command line's options over its settings."""
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.publish.project import find_project

    try:
        return find_project(args.project).with_options(**options)
    except DerivationError as error:
        raise InputError(str(error)) from None
    except ExampleInputError as error:
        raise InputError(str(error)) from None


def _budget_options(what: str, total: str, cap: float):
    """--budget (each check) and --file-budget (the whole file or deck)."""
    def decorate(f):
        f = click.option("--file-budget", type=SECONDS, default=None, metavar="SECONDS",
                         help=f"time budget of {total} (default: {what}s x --budget, at most {cap:g}); "
                              f"later {what}s are errors once it is spent")(f)
        return click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True,
                            metavar="SECONDS", help=f"time budget of each {what}'s check")(f)
    return decorate


def _json_option(help: str = "print the result as JSON"):
    return click.option("--json", is_flag=True, help=help)


# --------------------------------------------------------------------------- the one error path


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Cli(click.Group):
    """The `elbo-sym` group: every run, in-process or from the shell, ends in one exit status.

    `main(args, standalone_mode=False)` returns the status instead of exiting (what
    :func:`main` and the tests use); usage errors become one line here, input errors in
    :func:`_run`.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _TerminalSafe(stdout), _TerminalSafe(stderr)
        try:
            code = self._status(args, prog_name or "elbo-sym", complete_var, extra)
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        if standalone_mode:
            sys.exit(code)
        return code

    def _status(self, args, prog_name, complete_var, extra) -> int:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            return _usage_error(error)
        except click.ClickException as error:
            return _input_error(error.format_message())
        except click.Abort:  # ^C or end of input while click was parsing
            return EXIT_INTERRUPTED
        except SystemExit as exit_:  # click's exit on a broken pipe while printing help
            return exit_.code if isinstance(exit_.code, int) else EXIT_FAILED
        return code if isinstance(code, int) else EXIT_OK


def _usage_error(error: click.UsageError) -> int:
    message = error.format_message().rstrip(".")
    where = error.ctx.command_path if error.ctx is not None else "elbo-sym"
    return _input_error(f"{message}; see `{where} --help`")


def _input_error(message: str) -> int:
    print(f"elbo-sym: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_INPUT


def _run(command: str, params: dict) -> int:
    """Run `cmd_<command>(args)`; every input problem is one line and exit 2."""
    run = globals()[f"cmd_{command}"]  # looked up on each call (a test may replace one)
    try:
        return run(SimpleNamespace(**params))
    except (InputError, FileReadError, BudgetError) as error:
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
        return EXIT_INTERRUPTED


def _status(ok: bool) -> int:
    return EXIT_OK if ok else EXIT_FAILED


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def _print_derivation_error(error) -> None:
    """`error: FILE:LINE:COLUMN: message` and the caret line under it (as `check` prints them)."""
    print(f"error: {error}", file=sys.stderr)
    if error.pointer():
        print(error.pointer(), file=sys.stderr)


@click.group("elbo-sym", cls=_Cli, context_settings=CONTEXT, invoke_without_command=False, no_args_is_help=False,
             epilog="""\b
Examples:
  elbo-sym check                          prove or refute every file in derivations/
  elbo-sym explain derivations/gap.toml   how the first unproved step was decided
  elbo-sym build --out handouts           check everything, then print the handouts

Run `elbo-sym COMMAND --help` for a command's options and examples.""")
def cli() -> None:
    """Machine-check the ELBO lesson's derivations and print them as handouts.

    Exit status: 0 all good, 1 something refuted or unestablished, 2 bad input or usage.
    """


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0 ok, 1 failed, 2 bad input or usage).

    Bad input never ends in a traceback: usage errors, input errors, unreadable files, bad
    budgets and any OSError (an unwritable output, a file name too long, ...) are one line
    on stderr, `elbo-sym: error: ...`, and exit status 2.
    """
    return cli.main(argv, prog_name="elbo-sym", standalone_mode=False)


def _paths(paths, command: str) -> list[str]:
    """The paths given, or derivations/ -- which must then exist here."""
    if paths:
        return list(paths)
    if not os.path.isdir(DEFAULT_FOLDER):
        raise InputError(f"no {DEFAULT_FOLDER}/ folder here; run `elbo-sym {command} FILE.toml ...` on your "
                         f"files, or run it from your project folder")
    return [DEFAULT_FOLDER]


def _project_paths(project, paths, command: str) -> list[str]:
    """The derivations of `build` and `web`: PATHS, else the project's, else derivations/ here."""
    if paths or project.file is None:
        return _paths(paths, command)
    found = project.derivation_paths()
    if not found:
        raise InputError(f"{project.file}: no derivations = [...] and no derivations/ folder beside it")
    return found


def _output_folder(text: str, option: str) -> Path:
    """A folder to write into: an existing writable folder, or a new one (missing parent folders
    are created, like ``mkdir -p``, once the nearest existing one is a writable folder)."""
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
    existing = next(p for p in (parent, *parent.parents) if p.exists() or p.is_symlink() or p == Path(p.anchor))
    if not existing.is_dir():
        raise InputError(f"{option} {text}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {text}: folder {existing} is not writable")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{option} {text}: cannot create folder {parent}: {error.strerror}") from None
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


@cli.command("check", short_help="check derivation files (default: derivations/)", epilog="""\b
Examples:
  elbo-sym check
  elbo-sym check derivations/gap.toml --json
  elbo-sym check my-variant.toml --budget 30 --no-cache""")
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@_json_option("print the report as JSON")
@click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True, metavar="SECONDS",
              help="time budget per step")
@click.option("--file-budget", type=SECONDS, default=None, metavar="SECONDS",
              help=f"time budget of a whole file (default: steps x --budget, at most "
                   f"{FILE_BUDGET_CAP_SECONDS:g}); later steps are errors once it is spent")
@click.option("--no-cache", is_flag=True,
              help="re-check every file: neither read nor write the result cache "
                   "(~/.cache/elbo-sym, or $ELBO_SYM_CACHE_DIR)")
def _check(**params) -> int:
    """Prove or refute every step of each derivation file.

    PATHS are *.toml files or folders of them (default: the derivations of ./elbo-sym.toml, with
    their subfolders, when there is one; else derivations/ in the current folder).
    """
    return _run("check", params)


def _checked(paths: list[str], budget: float) -> list | None:
    """Reports of every derivation named (checked through the facade); None, after one clean
    line per bad file, when any does not load."""
    from elbo_sym.report.build import check_file

    derivations, errors = load_all(paths)
    for error in errors:
        _print_derivation_error(error)
    return None if errors else [check_file(d, budget=budget) for d in derivations]


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

    if not args.paths and (os.path.exists(PROJECT_FILE) or os.path.islink(PROJECT_FILE)):
        paths = _project_paths(_project(SimpleNamespace(project=None)), (), "check")  # a course folder
    else:
        paths = _paths(args.paths, "check")
    try:
        reports, errors = check_paths(paths, budget=args.budget, use_cache=not args.no_cache,
                                      total=args.file_budget)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json([r.to_dict() for r in reports] + [e.to_dict() for e in errors])
    else:
        for report in reports:
            print(derivation_text(report))
        for problem in errors:
            print(error_text(problem), file=sys.stderr)
        print(summary_text(reports, errors))
    if errors:
        return EXIT_INPUT
    return _status(all(r.ok for r in reports))


# --------------------------------------------------------------------------- example, exercises, drill, cards


@cli.command("example", short_help="a worked example: every quantity of the lesson, exact", epilog="""\b
Examples:
  elbo-sym example --prior 3/4,1/4 --likelihood 1/5,3/5 --q 1/3,2/3
  elbo-sym example --prior 3/4,1/4 --likelihood 1/5,3/5 --q 1/2,1/2 --json""")
@click.option("--prior", default=None, metavar="P0,P1,...", help="p(z = k), summing to 1")
@click.option("--likelihood", default=None, metavar="L0,L1,...", help="p(x | z = k), each in (0, 1]")
@click.option("--q", default=None, metavar="Q0,Q1,...", help="q(z = k), summing to 1")
@click.option("--project", default=None, metavar="PATH",
              help=f"without --prior/--likelihood/--q: the worked examples of this project's {PROJECT_FILE} "
                   f"(or its folder; default: ./{PROJECT_FILE} if there is one, else the lesson's example)")
@_json_option("print a JSON object instead of the table (a list of them for several examples)")
def _example(**params) -> int:
    """Compute p(x), p(z|x), the ELBO term by term, E_q[log p(x|z)], both KL divergences and
    the gap exactly for one instance, decide the three identities, and cross-check every
    value against the engine.

    Probabilities are fractions like 3/4 (or decimals like 0.25), comma-separated, one per
    state of z.  Without them: the worked example(s) of worked-example.pdf -- the project's
    [[example]] tables, else the lesson's.
    """
    return _run("example", params)


def cmd_example(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError, example_of, format_example, worked_example

    given = [args.prior, args.likelihood, args.q]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise click.UsageError("give all of --prior, --likelihood and --q (or none: the project's examples)",
                               click.get_current_context(silent=True))
    if args.prior is not None and args.project is not None:
        raise InputError("--project goes without --prior, --likelihood and --q")
    try:
        if args.prior is not None:
            examples = [worked_example(args.prior, args.likelihood, args.q)]
        else:
            from elbo_sym.publish.handouts import LESSON_EXAMPLE

            project = _project(args)
            examples = [example_of(e) for e in project.examples or (LESSON_EXAMPLE,)]
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(examples[0].as_dict() if len(examples) == 1 else [e.as_dict() for e in examples])
    else:
        print("\n".join(format_example(e, None if len(examples) == 1 else f"Worked example {i} (K = {e.K})")
                        for i, e in enumerate(examples, 1)), end="")
    return _status(all(e.all_proved for e in examples))


def _seed_option(what: str):
    return click.option("--seed", type=Integer(0, MAX_SEED), default=None, metavar="SEED",
                        help=f"random seed of {what}: same seed, same cases, on every machine "
                             f"(default: {DEFAULT_SEED}, or the project's)")


@cli.command("exercises", short_help="a fresh, seeded exercise sheet with answer keys", epilog=f"""\b
Examples:
  elbo-sym exercises                      the sheet of exercises.pdf (seed {DEFAULT_SEED}, {DEFAULT_COUNT} cases)
  elbo-sym exercises --K 3 --parts evidence,posterior,gap --solutions inline
  elbo-sym exercises --roster students.csv --out sheets
                                          a PDF per student (CSV columns id,name) + teacher-key.pdf
                                          (--moodle quiz.xml: the sheet as a Moodle quiz)""")
@_seed_option("the sheet")
@_sheet_options(count=f"cases (default: {DEFAULT_COUNT}, or the project's)")
@_json_option("print {seed, K, count, cases: [...]} as JSON")
@click.option("--moodle", default=None, metavar="QUIZ.xml",
              help="write the sheet as a Moodle XML quiz: a cloze question per case, numerical answers")
@click.option("--roster", default=None, metavar="STUDENTS.csv",
              help="one PDF sheet per student (UTF-8 CSV, columns id,name; each seed from SEED and the id) "
                   "and teacher-key.pdf, into --out")
@click.option("--out", default=None, metavar="DIR", help="folder of the --roster PDFs")
def _exercises(**params) -> int:
    """Draw COUNT distinct cases with nice fractions from SEED and print the sheet followed by
    the exact answer keys.  The defaults are those of `build` (exercises.pdf, answers.pdf).
    With --moodle or --roster, write those files instead: the same seed, count, K and parts
    as exercises.pdf (the project's, or the options').
    """
    return _run("exercises", params)


def _exercise_files(args) -> int:
    """`exercises --moodle FILE` and `exercises --roster CSV --out DIR` (elbo_sym.publish.moodle, .roster)."""
    if args.roster is None and args.out is not None:
        raise InputError("--out goes with --roster (the folder of the students' PDFs)")
    if args.roster is not None and args.out is None:
        raise InputError("--roster needs --out DIR (the folder of the students' PDFs)")
    if args.json:
        raise InputError("--json prints the sheet; it does not go with --moodle or --roster")
    if args.solutions is not None:
        raise InputError("--solutions does not go with --moodle or --roster (the quiz has its feedback, the "
                         "roster's key is teacher-key.pdf)")
    settings = _project(args, seed=args.seed, count=args.count, K=args.K, parts=args.parts).settings
    seed, count, K, parts = settings.seed, settings.count, settings.K, settings.parts
    quiz = _output_file(args.moodle, "--moodle") if args.moodle is not None else None
    out = _output_folder(args.out, "--out") if args.roster is not None else None
    from elbo_sym.publish.roster import RosterError, read_roster, source_date_epoch

    try:
        students = read_roster(args.roster) if args.roster is not None else None
        source_date_epoch()
    except RosterError as error:
        raise InputError(str(error)) from None
    if quiz is not None:
        from elbo_sym.publish.moodle import MoodleError, write_moodle_quiz

        try:
            path = write_moodle_quiz(quiz, seed, count, K, parts)
        except MoodleError as error:
            raise InputError(str(error)) from None
        print(f"wrote {path} ({count} cloze question(s), seed {seed}, K = {K}; import it in Moodle as "
              f"\"Moodle XML format\")")
    if students is not None and out is not None:
        from elbo_sym.publish.roster import build_roster

        try:
            result = build_roster(students, out, seed=seed, count=count, K=K, parts=parts)
        except RosterError as error:
            print(f"elbo-sym exercises: no sheets written: {error}", file=sys.stderr)
            return EXIT_FAILED
        print(f"wrote {len(result.sheets)} student sheet(s) (K = {K}) and {result.key.name} to "
              f"{os.path.normpath(args.out)}{os.sep} ({result.seconds:.1f} s)")
    return EXIT_OK


def cmd_exercises(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.lesson.exercises import format_sheet, generate_exercises

    if args.moodle is not None or args.roster is not None or args.out is not None:
        return _exercise_files(args)
    s = _project(args, seed=args.seed, count=args.count, K=args.K, parts=args.parts,
                 solutions=args.solutions).settings
    try:
        sheet = generate_exercises(s.seed, s.count, s.K, s.parts)
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(sheet.as_dict())
    else:
        print(format_sheet(sheet, s.solutions), end="")
    return _status(all(e.key.all_proved for e in sheet))


@cli.command("drill", short_help="tight-case drill: q = posterior gives gap 0 exactly, plus a near miss",
             epilog=f"""\b
Examples:
  elbo-sym drill                          the drill of tight-drill.pdf (seed {DEFAULT_SEED}, {DRILL_COUNT} cases)
  elbo-sym drill --seed 1 --count 2
  elbo-sym drill --json""")
@_seed_option("the drill")
@_sheet_options(count=f"tight cases (default: {DRILL_COUNT}, or the project's)", parts=False)
@_json_option("print the drill as JSON")
def _drill(**params) -> int:
    """COUNT seeded cases with q set to the posterior (the key shows the gap is exactly 0 and
    ELBO = log p(x)), and one near miss with q close to the posterior (gap > 0, certified).
    The defaults are those of `build` (tight-drill.pdf).
    """
    return _run("drill", params)


def cmd_drill(args) -> int:
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.lesson.exercises import format_drill, tight_drill

    s = _project(args, seed=args.seed, drill_count=args.count, drill_K=args.K, solutions=args.solutions).settings
    try:
        drill = tight_drill(s.seed, s.drill_count, s.drill_states)
    except ExampleInputError as error:
        raise InputError(str(error)) from None
    if args.json:
        _print_json(drill.as_dict())
    else:
        print(format_drill(drill, s.solutions), end="")
    return _status(drill.ok)


@cli.command("cards", short_help="the self-check and flashcards; --check verifies their formulas", epilog="""\b
Examples:
  elbo-sym cards
  elbo-sym cards --check
  elbo-sym cards --check --json lesson/flashcards.toml""")
@click.argument("paths", nargs=-1, metavar="[DECKS]...")
@click.option("--check", is_flag=True, help="check every formula with the engine")
@_json_option()
@_budget_options("card", "a whole deck", DECK_BUDGET_CAP_SECONDS)
@_sheet_options(K=False, parts=False)
def _cards(**params) -> int:
    """Print the lesson's self-check and flashcard deck, or with --check prove or refute every
    card's formula with the engine (exit 1 if one fails).

    DECKS default to the project's decks, else lesson/selfcheck.toml and lesson/flashcards.toml.
    --solutions: the answers (backs) after all the questions (separate), after each (inline), or none.
    """
    return _run("cards", params)


def cmd_cards(args) -> int:
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import check_deck, format_deck, load_deck, load_flashcards, load_selfcheck
    from elbo_sym.report.build import deck_report_of
    from elbo_sym.report.text import deck_text

    if args.paths and args.project is not None:
        raise InputError("--project goes without DECKS (it names the decks)")
    project = _project(args, solutions=args.solutions)
    try:
        decks = [load_deck(p) for p in args.paths] if args.paths else [load_selfcheck(project.selfcheck),
                                                                        load_flashcards(project.flashcards)]
    except DerivationError as error:
        raise InputError(str(error)) from None
    if not args.check:
        if args.json:
            _print_json([{"file": d.path, "kind": d.kind, "title": d.title, "cards": [
                {"index": c.index, "line": c.line, "front": c.front, "back": c.back, "topic": c.topic,
                 "formula": c.formula.text if c.formula else None} for c in d.cards]} for d in decks])
        else:
            print("\n".join(format_deck(d, project.settings.solutions) for d in decks), end="")
        return EXIT_OK
    results = [deck_report_of(check_deck(d, args.budget, args.file_budget)) for d in decks]
    if args.json:
        _print_json([r.to_dict() for r in results])
    else:
        print("\n".join(deck_text(r) for r in results), end="")
    return _status(all(r.ok for r in results))


# --------------------------------------------------------------------------- handouts, build, flashcards


_HANDOUT_LIST = (
    ("derivations", "every derivation, one section each: claim, aligned chain with reasons and verdicts, "
                    "summary, example values"),
    ("beyond-the-lesson", "the variants gallery given with --gallery (IWAE, Gaussian VAE, two latent layers...), "
                          "in the derivation sheet's layout"),
    ("find-the-mistake", "teaching files (expect = \"refuted\"), if any: the chains to correct, then the "
                         "solutions with counterexamples"),
    ("from-the-literature", "the published identities given with --literature (derivations/literature/): "
                            "title, summary with its citation, every step with its rule; proved only"),
    ("worked-example", "the project's worked example(s), else the lesson's binary one: all quantities exact "
                       "and in nats/bits, and the figure of a binary one"),
    ("exercises", "seeded fresh exercises (seed printed; --K, --parts; --solutions inline: keys under the cases)"),
    ("answers", "the answer key of exercises.pdf (same seed, same case numbers)"),
    ("tight-drill", "q = posterior gives gap exactly 0; a near miss; answers on a fresh sheet at the end"),
    ("selfcheck", "the questions (the lesson: six); answers with their checked formulas on a fresh sheet"),
    ("flashcards", "2 x 4 cut-out cards per sheet, backs mirrored for duplex printing"),
)


@cli.command("handouts", short_help="list the printable handouts that `build` makes", epilog="""\b
Example:
  elbo-sym handouts""")
def _handouts(**params) -> int:
    """List the handouts `elbo-sym build` writes (one PDF each)."""
    return _run("handouts", params)


def cmd_handouts(args) -> int:
    for name, what in _HANDOUT_LIST:
        print(f"{name + '.pdf':<22} {what}")
    return EXIT_OK


@cli.command("build", short_help="check every derivation, then build the PDF handouts", epilog=f"""\b
Examples:
  elbo-sym build                          derivations/ -> handouts/ (seed {DEFAULT_SEED}, {DEFAULT_COUNT} exercises)
  elbo-sym build derivations/ derivations/teaching/ --out handouts
  elbo-sym build --only exercises --only answers --seed 7""")
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option("--out", default="handouts", show_default=True, metavar="DIR", help="output folder")
@click.option("--gallery", multiple=True, metavar="PATH",
              help="derivation files or folders for beyond-the-lesson.pdf, the variants gallery (repeatable)")
@click.option("--literature", multiple=True, metavar="PATH",
              help="derivation files or folders for from-the-literature.pdf (repeatable); every step must be proved")
@_seed_option("the exercise sheet and the drill")
@_sheet_options(count=f"exercise cases (default: {DEFAULT_COUNT}, or the project's)")
@click.option("--only", multiple=True, metavar="NAME", type=click.Choice([n for n, _ in _HANDOUT_LIST]),
              help="build only this handout (repeatable): " + ", ".join(n for n, _ in _HANDOUT_LIST))
@click.option("--timeout", type=SECONDS, default=LATEX_TIMEOUT_SECONDS, show_default=True, metavar="SECONDS",
              help="time limit of one LaTeX build")
@click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True, metavar="SECONDS",
              help="time budget per derivation step")
def _build(**params) -> int:
    """Check every derivation first (a handout is never built from a derivation that is not
    fully proved/checked), then render the LaTeX handouts and compile them with latexmk (no
    shell escape, time limit).

    Output files are replaced atomically: a failed build leaves the previous PDF untouched.
    Without a LaTeX engine only the .tex files are written (exit 0, unless
    ELBO_SYM_REQUIRE_LATEX=1).  PATHS default to the project's derivations (elbo-sym.toml),
    else derivations/ in the current folder; the worked examples, decks and sheet settings are
    the project's too (options override them).
    """
    return _run("build", params)


def cmd_build(args) -> int:
    import time

    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.publish import render
    from elbo_sym.publish.handouts import (
        HandoutError,
        gallery_handout,
        literature_handout,
        require_checked,
        write_handouts,
    )
    from elbo_sym.publish.project import project_handouts

    out = _output_folder(args.out, "--out")  # refused before any work; only missing parents are created
    project = _project(args, seed=args.seed, count=args.count, K=args.K, parts=args.parts, solutions=args.solutions)
    if args.only and "answers" in args.only and project.settings.solutions != "separate":
        raise InputError(f"--only answers: answers.pdf is built with --solutions separate only "
                         f"(here: {project.settings.solutions})")
    paths = _project_paths(project, args.paths, "build")
    started = time.monotonic()
    results = _checked(paths, args.budget)
    gallery_results = _checked(list(args.gallery), args.budget) if args.gallery else []
    literature_results = _checked(list(args.literature), args.budget) if args.literature else []
    if results is None or gallery_results is None or literature_results is None:
        return EXIT_INPUT
    try:
        require_checked(results + gallery_results)
        literature = literature_handout(literature_results)  # proved only: refused before anything is built
        handouts = project_handouts(results, project, budget=args.budget)
        extra = gallery_handout(gallery_results, project.settings.solutions) if gallery_results else None
        if extra is not None:
            handouts.insert(1, extra)
        if literature is not None:
            handouts.insert(1 + (extra is not None), literature)
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
    print(f"checked {len(results) + len(gallery_results) + len(literature_results)} derivation(s): "
          "every step proved or accepted")
    failed = [r for r in reports if latex and not r.ok]
    for r in reports:
        if r.ok:
            boxes = f", {r.overfull} overfull box(es)" if r.overfull else ""
            print(f"  wrote {r.pdf}  ({r.seconds:.1f} s{boxes})")
            for box in r.overfull_boxes:  # loud: a line cut at the paper's edge is a defect
                print(f"warning: {r.name}.pdf: a line is {box.describe()}", file=sys.stderr)
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
    overfull = sum(r.overfull for r in reports)
    if overfull and os.environ.get("ELBO_SYM_STRICT_LAYOUT") == "1":
        print(f"{overfull} overfull box(es) and ELBO_SYM_STRICT_LAYOUT=1: the layout fails "
              f"(the PDFs were written; see the warnings above)", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(reports)} handout(s) in {os.path.normpath(args.out)}{os.sep} ({time.monotonic() - started:.1f} s)")
    return EXIT_OK


@cli.command("flashcards", short_help="check the flashcards; export them as an Anki deck (--anki deck.apkg)",
             epilog="""\b
Examples:
  elbo-sym flashcards
  elbo-sym flashcards --anki elbo.apkg""")
@click.argument("file", required=False, default=None, metavar="[FILE]")
@click.option("--anki", default=None, metavar="DECK.apkg", help="write an Anki package here")
@click.option("--project", default=None, metavar="PATH",
              help=f"the project's {PROJECT_FILE}, or its folder (default: ./{PROJECT_FILE} if there is one): "
                   "its flashcards, and its title as the Anki deck's name")
@_budget_options("card", "the whole deck", DECK_BUDGET_CAP_SECONDS)
def _flashcards(**params) -> int:
    """Check every flashcard formula, then print the deck or (with --anki) write it as an Anki
    package: formulas in MathJax, stable deck/model ids and note guids, so re-importing
    updates the notes.

    FILE defaults to the project's flashcards (elbo-sym.toml), else lesson/flashcards.toml.
    The Anki deck is named after the course: the project's title, else the deck file's
    title; its ids come from that name, so two courses' decks never merge.
    """
    return _run("flashcards", params)


def cmd_flashcards(args) -> int:
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import format_deck
    from elbo_sym.publish.handouts import HandoutError, checked_deck

    target = _output_file(args.anki, "--anki") if args.anki is not None else None  # before checking anything
    if args.file is not None and args.project is not None:
        raise InputError("--project goes without FILE (it names the flashcards)")
    project = _project(args)
    path = args.file if args.file is not None else project.flashcards
    try:
        deck, _ = checked_deck("flashcards", path, budget=args.budget, total=args.file_budget)
    except HandoutError as error:
        print(f"elbo-sym flashcards: {error}", file=sys.stderr)
        return EXIT_FAILED
    except DerivationError as error:
        raise InputError(str(error)) from None
    if target is None:
        print(format_deck(deck), end="")
        return EXIT_OK
    from elbo_sym.publish.anki import DECK_NAME, AnkiError, anki_identity, write_apkg

    if project.title:
        name = project.title
    elif path is None:
        name = DECK_NAME  # the lesson's own deck keeps its ids
    elif deck.title:
        name = deck.title
    else:
        raise InputError(f"{deck.path}: give the deck a title (title = \"...\"), or the course one in "
                         f"{PROJECT_FILE}: the Anki deck is named and identified by it")
    try:
        identity = anki_identity(name)
        written = write_apkg(deck.cards, target, identity.name, vocabulary=deck.vocabulary)
    except AnkiError as error:
        raise InputError(str(error)) from None
    print(f"wrote {written} ({len(deck.cards)} notes, Anki deck \"{identity.name}\", id {identity.deck_id})")
    return EXIT_OK


# --------------------------------------------------------------------------- authoring: new, explain


class LatentSize(Integer):
    """``any`` or an :class:`Integer` K from 2 to ``high``."""

    name = "any|integer"

    def __init__(self, high: int):
        super().__init__(2, high)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip() == "any":
            return "any"
        return super().convert(value, param, ctx)


NEW_MAX_K = 20
"""The largest integer K of `new` (elbo_sym.authoring.new.MAX_NEW_K, here so that --help imports nothing)."""


@cli.command("new", short_help="write a commented starter derivation NAME.toml", epilog="""\b
Examples:
  elbo-sym new my-variant                 writes my-variant.toml (the gap identity, K = 2)
  elbo-sym new 'beta elbo' --params --K any   the beta-ELBO bound ([params]), one proof for every K
  elbo-sym new slip --teaching --K 3      a find-the-mistake file with a 3-state example""")
@click.argument("name", metavar="NAME")
@click.option("--K", "K", type=LatentSize(NEW_MAX_K), default=2, show_default=True, metavar="any|N",
              help=f"latent states: an integer from 2 to {NEW_MAX_K} (the example has that many), or \"any\" "
                   "(one proof for every K)")
@click.option("--params", is_flag=True, help="the beta-ELBO bound: a [params] table (beta >= 1)")
@click.option("--data", is_flag=True, help="a dataset: two observations x1, x2 (data = [...])")
@click.option("--teaching", is_flag=True,
              help="a teaching file (find the mistake): one step wrong on purpose, expect_refuted = [2]")
def _new(**params) -> int:
    """Write NAME.toml (.toml is added unless present): a short, commented derivation that
    checks green (`elbo-sym check` exit 0), explaining every key, the vocabulary, the rules and
    the relations: the gap identity, or with --params, --data or --teaching (one of them) the
    beta-ELBO bound, a dataset, or a teaching file.  Never overwrites an existing file (exit 2).
    """
    return _run("new", params)


def cmd_new(args) -> int:
    from elbo_sym.authoring.new import NewFileError, new_derivation, shell_word

    kinds = [kind for kind in ("params", "data", "teaching") if getattr(args, kind)]
    if len(kinds) > 1:
        raise InputError(f"--{kinds[0]} and --{kinds[1]}: choose one kind of starter (--params, --data or "
                         f"--teaching)")
    kind = kinds[0] if kinds else "gap"
    try:
        path = new_derivation(args.name, kind, args.K)
    except NewFileError as error:
        raise InputError(str(error)) from None
    word = shell_word(str(path))  # the commands printed are safe to paste: 'my variant.toml'
    what = "a teaching file whose step 2 is refuted as intended" if kind == "teaching" else "a starter derivation"
    print(f"wrote {path}: {what}; it checks green")
    print(f"  check it:    elbo-sym check {word}")
    print(f"  explain:     elbo-sym explain {word} --step 2")
    return EXIT_OK


@cli.command("explain", short_help="show how one step was decided", epilog="""\b
Examples:
  elbo-sym explain derivations/jensen.toml              the first step that is not proved
  elbo-sym explain derivations/jensen.toml --step 3""")
@click.argument("file", metavar="FILE")
@click.option("--step", type=Integer(1, None), default=None, metavar="N",
              help="step number, from 1 (default: the first step that is not proved)")
@click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True, metavar="SECONDS",
              help="time budget per step")
def _explain(**params) -> int:
    """Show how a step of FILE was decided: both sides unfolded into the model's parameters,
    the canonical forms they reach and the residual, the rule's conditions, the verdict, the
    counterexample and a repair suggestion.  Exit status as `check` gives for the whole file.
    """
    return _run("explain", params)


def cmd_explain(args) -> int:
    from elbo_sym.authoring.explain import explain, format_explanation
    from elbo_sym.engine.derivation import DerivationError, load

    try:
        derivation = load(args.file)
    except DerivationError as error:
        _print_derivation_error(error)
        return EXIT_INPUT
    if args.step is not None and not 1 <= args.step <= len(derivation.steps):
        raise InputError(f"--step {args.step}: {derivation.path} has steps 1 to {len(derivation.steps)}")
    explanation = explain(derivation, args.step, budget=args.budget)
    print(format_explanation(explanation), end="")
    return _status(explanation.ok)


# --------------------------------------------------------------------------- web


@cli.command("web", short_help="check everything, then write the course-website pages (Markdown, KaTeX math)",
             epilog="""\b
Examples:
  elbo-sym web                            derivations/ -> pages/
  elbo-sym web --site site/ && cd site && npm ci && npm run build
  elbo-sym web derivations/ derivations/teaching/ --seed 7""")
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option("--out", default=None, metavar="DIR",
              help="output folder for the pages, e.g. a Starlight content folder  [default: pages]")
@click.option("--site", default=None, metavar="DIR",
              help="write a complete Starlight site instead (package.json with its lock, astro.config.mjs, "
                   "src/content.config.ts, styles, the pages in src/content/docs/): build it with "
                   "`npm ci && npm run build` in DIR")
@click.option("--title", default=None, metavar="TEXT", help="the site's title (with --site)")
@click.option("--literature", multiple=True, metavar="PATH",
              help="derivation files or folders for the page From the literature (repeatable); every step must "
                   "be proved")
@_seed_option("the exercise page and the drill")
@_sheet_options(count=f"exercise cases (default: {DEFAULT_COUNT}, or the project's)")
@click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True, metavar="SECONDS",
              help="time budget per derivation step")
def _web(**params) -> int:
    """Check every derivation first, then write the lesson as Markdown pages for an Astro
    Starlight site (remark-math + rehype-katex): derivations, the worked example with its
    figure (SVG), exercises, the tight drill, the self-check and the flashcards, each answer
    collapsible. Every formula is typeset by the printer of the PDF handouts.

    The same input gives byte-identical pages.  PATHS, the examples, decks and settings as for
    `build` (the project's elbo-sym.toml, else derivations/ and the lesson's files).  On a page,
    --solutions separate collapses each answer under its question, inline shows it open with the
    teacher's marks, none leaves the answers out.

    --site DIR writes a complete site around the pages (Astro 5 + Starlight 0.37 with a lock,
    for Node 20 or newer): `npm ci && npm run build` in DIR builds it; a re-run rewrites it.
    """
    return _run("web", params)


def cmd_web(args) -> int:
    from elbo_sym.engine.derivation import DerivationError, read_user_file
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.publish.browser import check_link, checker_items
    from elbo_sym.publish.handouts import HandoutError, require_checked
    from elbo_sym.publish.project import project_pages
    from elbo_sym.publish.site import DEFAULT_SITE_TITLE, foreign_site, site_items, write_site
    from elbo_sym.publish.web import Page, WebError, write_pages

    if args.site is not None and args.out is not None:
        raise InputError("--out and --site: give one (--site DIR writes the pages into DIR/src/content/docs)")
    if args.title is not None and args.site is None:
        raise InputError("--title is the site's title: it needs --site")
    if args.title is not None and (not args.title.strip() or len(args.title) > MAX_TITLE_CHARS
                                   or any(unicodedata.category(c).startswith("C") for c in args.title)):
        raise InputError(f"--title: give a one-line title of 1 to {MAX_TITLE_CHARS} printable characters")
    # refused before any work, and nothing is created yet
    out = (_output_folder(args.site, "--site") if args.site is not None
           else _output_folder(args.out or "pages", "--out"))
    if args.site is not None and (foreign := foreign_site(out)):
        raise InputError(f"--site {args.site}: {foreign}; to add the pages to your own site use "
                         f"--out {Path(args.site) / 'src' / 'content' / 'docs'}, or give an empty folder")
    project = _project(args, seed=args.seed, count=args.count, K=args.K, parts=args.parts, solutions=args.solutions)
    results = _checked(_project_paths(project, args.paths, "web"), args.budget)
    literature = _checked(list(args.literature), args.budget) if args.literature else []
    if results is None or literature is None:
        return EXIT_INPUT
    # the site's checker page offers the derivations it was built from, each linked from its page
    sources = ({r.file: read_user_file(r.file).decode("utf-8") for r in [*results, *literature]}
               if args.site is not None else {})
    try:
        require_checked(results)
        items = project_pages(results, project, budget=args.budget, literature=literature,
                              check_links={file: "../" + check_link(text, "check/") for file, text in sources.items()})
    except (HandoutError, WebError) as error:
        print(f"elbo-sym web: no pages written: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (DerivationError, ExampleInputError) as error:
        raise InputError(str(error)) from None
    removed: list[Path] = []
    if args.site is not None:
        items = site_items([*items, *checker_items(sources)], DEFAULT_SITE_TITLE if args.title is None else args.title)
        written, removed = write_site(items, out)
    else:
        written = write_pages(items, out)
    print(f"checked {len(results) + len(literature)} derivation(s): every step proved or accepted")
    for path, item in zip(written, items):
        print(f"  wrote {path}" + (f"  ({len(item.formulas)} formulas)" if isinstance(item, Page) else ""))
    for path in removed:
        print(f"  removed {path} (no longer written)")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "cli", "InputError", "load_all", "Integer", "Seconds", "DEFAULT_SEED",
           "DEFAULT_COUNT", "DRILL_COUNT"]

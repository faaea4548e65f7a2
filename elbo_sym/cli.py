"""`elbo-sym`: a thin shell over the library, on click -- option parsing, one error path, printing.

Exit codes: 0 everything holds; 1 something is refuted or unestablished; 2 usage or input errors: one
line on stderr (``elbo-sym: error: ...``, or ``error: FILE:LINE:COLUMN: ...`` and a caret line for a
derivation), never a traceback (:class:`_Cli`).  SymPy is imported inside the commands: `--help` is instant.
"""

from __future__ import annotations

import json
import os
import sys

import click

from elbo_sym.authoring.command import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    check_command,
    guarded,
    safe_streams,
)
from elbo_sym.authoring.command import input_error as _input_error
from elbo_sym.files import (
    PROJECT_FILE,
    InputError,
    not_an_input,
    output_file,
    output_folder,
    paths_or_default,
)
from elbo_sym.limits import (  # noqa: F401  (DEFAULT_SEED, DEFAULT_COUNT, DRILL_COUNT: re-exported)
    DECK_BUDGET_CAP_SECONDS,
    DEFAULT_COUNT,
    DEFAULT_SEED,
    DRILL_COUNT,
    FILE_BUDGET_CAP_SECONDS,
    FILES_PER_WORKER,
    LATEX_TIMEOUT_SECONDS,
    MAX_COUNT,
    MAX_EXERCISE_K,
    MAX_JOBS,
    MAX_NEW_K,
    MAX_SEED,
    PARTS,
    SOLUTIONS,
    STEP_BUDGET_SECONDS,
    BudgetError,
    integer_range,
    loading_budget,
    parse_integer,
    parse_parts,
    validate_budget,
)
from elbo_sym.publish import HANDOUTS, ONLY_NAMES

# ------------------------------------------------------------------ option types (click glue), shared options


class Integer(click.IntRange):
    """An integer option within [min, max] (max None: no bound), parsed by elbo_sym.limits.parse_integer."""

    name = "integer"

    def __init__(self, low: int, high: int | None):
        super().__init__(low, high)
        self.low, self.high = low, high

    def convert(self, value, param, ctx):
        try:
            return parse_integer(value, self.low, self.high) if isinstance(value, str) else value
        except ValueError as error:
            self.fail(str(error), param, ctx)

    def _describe_range(self) -> str:  # click's help: "1 to 100", not "1<=x<=100"
        return integer_range(self.low, self.high)


class LatentSize(Integer):
    """``any`` or an :class:`Integer` K (`new --K`)."""

    name = "any|integer"

    def convert(self, value, param, ctx):
        return "any" if isinstance(value, str) and value.strip() == "any" else super().convert(value, param, ctx)


class _Refused(click.BadParameter):
    """A bad option value whose message already names the option: printed as it is."""

    def format_message(self) -> str:
        return self.message


class Seconds(click.ParamType):
    """A number of seconds, parsed by elbo_sym.limits.validate_budget."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            return validate_budget(value, param.opts[0] if param is not None and param.opts else "budget")
        except BudgetError as error:
            raise _Refused(str(error), ctx, param) from None


class Parts(click.ParamType):
    """Comma-separated sheet parts, parsed by elbo_sym.limits.parse_parts."""

    name = "parts"

    def convert(self, value, param, ctx):
        try:
            return value if isinstance(value, tuple) else parse_parts(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


SECONDS = Seconds()
_PROJECT = click.option("--project", default=None, metavar="PATH",
                        help=f"the project's {PROJECT_FILE} or its folder (default: ./{PROJECT_FILE})")
_JSON = click.option("--json", is_flag=True, help="print the result as JSON")
_PATHS = click.argument("paths", nargs=-1, metavar="[PATHS]...")
_LITERATURE = click.option("--literature", multiple=True, metavar="PATH",
                           help="derivations for the literature handout/page (repeatable; all proved)")


def _sheet_options(*, seed: bool = True, K: bool = True, count: str | None = None, parts: bool = True):
    """--project, --seed, --count, --K, --parts and --solutions of `build`, `web` and the sheet commands;
    a value not given is the project's (elbo-sym.toml), else the default shown."""
    def decorate(f):
        f = click.option("--solutions", type=click.Choice(SOLUTIONS), default=None,
                         help="answers: none (students), separate (default) or inline (teacher)")(f)
        if parts:
            f = click.option("--parts", type=Parts(), default=None, metavar="A,B,...",
                             help="quantities to ask for (default: all): " + ", ".join(PARTS))(f)
        if K:
            f = click.option("--K", "K", type=Integer(2, MAX_EXERCISE_K), default=None, metavar="K",
                             help="latent states per case (default: 2, or the project's)")(f)
        if count is not None:
            f = click.option("--count", type=Integer(1, MAX_COUNT), default=None, metavar="N",
                             help=f"number of {count}")(f)
        if seed:
            f = click.option("--seed", type=Integer(0, MAX_SEED), default=None, metavar="SEED",
                             help=f"random seed of the cases (default: {DEFAULT_SEED}, or the project's)")(f)
        return _PROJECT(f)
    return decorate


def _budget_options(what: str, cap: float | None):
    """--budget (each step's or card's check) and, unless cap is None, --file-budget (the whole file or deck)."""
    def decorate(f):
        if cap is not None:
            f = click.option("--file-budget", type=SECONDS, default=None, metavar="SECONDS",
                             help=f"CPU-time budget of one file, reading it included "
                                  f"(default: {what}s x --budget, at most {cap:g})")(f)
        return click.option("--budget", type=SECONDS, default=STEP_BUDGET_SECONDS, show_default=True,
                            metavar="SECONDS", help=f"CPU-time budget per {what} (a busy machine takes none)")(f)
    return decorate


# --------------------------------------------------------------------------- the one error path


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Cli(click.Group):
    """The `elbo-sym` group: every run ends in one exit status (returned with standalone_mode=False);
    usage errors become one line in :meth:`main`, input errors in :meth:`invoke`."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        code = safe_streams(lambda: self._status(args, prog_name or "elbo-sym", complete_var, extra))
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

    def invoke(self, ctx):
        """Run the command; every input problem is one line and exit 2 (authoring.command.guarded)."""
        invoke = super().invoke
        return guarded(lambda: invoke(ctx))


class _Checks(click.Command):
    """A command that checks or computes with SymPy: once its options are parsed (so `--help` stays
    instant) it imports the engine as `check` does (elbo_sym.authoring.cache.import_engine)."""

    def invoke(self, ctx):
        from elbo_sym.authoring.cache import import_engine

        import_engine()
        return super().invoke(ctx)


def _usage_error(error: click.UsageError) -> int:
    message = error.format_message().rstrip(".")
    where = error.ctx.command_path if error.ctx is not None else "elbo-sym"
    return _input_error(f"{message}; see `{where} --help`")


def _status(ok: bool) -> int:
    return EXIT_OK if ok else EXIT_FAILED


def _print_outcome(outcome) -> int:
    """Print what a publishing command (elbo_sym.publish.commands) says, in order; its exit status."""
    for to_stderr, line in outcome.lines:
        print(line, file=sys.stderr if to_stderr else sys.stdout)
    return EXIT_INPUT if outcome.bad_input else _status(outcome.ok)


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def _print_derivation_error(error) -> None:
    """`error: FILE:LINE:COLUMN: message` and the caret line under it (as `check` prints them)."""
    print(f"error: {error}", file=sys.stderr)
    if error.pointer():
        print(error.pointer(), file=sys.stderr)


def _project(where: str | None, **options):
    """The project (elbo_sym.publish.project) with the command line's options over its settings."""
    from elbo_sym.publish.project import find_project, title_warning_lines

    project = find_project(where)
    for line in title_warning_lines(project):  # its relations in words, as a deck's title's (not a refusal)
        print(line, file=sys.stderr)
    return project.with_options(**options)


@click.group("elbo-sym", cls=_Cli, context_settings=CONTEXT, no_args_is_help=False, epilog="""\b
Examples:
  elbo-sym check                          prove or refute every file in derivations/
  elbo-sym explain derivations/gap.toml   how the first unproved step was decided
  elbo-sym build --out handouts           check everything, then print the handouts

Run `elbo-sym COMMAND --help` for a command's options. The guide: README.md, then docs/01-06.""")
def cli() -> None:
    """Machine-check the ELBO lesson's derivations and print them as handouts.

    Exit status: 0 all good, 1 something refuted or unestablished, 2 bad input or usage.
    """


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0 ok, 1 failed, 2 bad input or usage: one line)."""
    return cli.main(argv, prog_name="elbo-sym", standalone_mode=False)


# --------------------------------------------------------------------------- the commands


@cli.command("check", short_help="check derivation files (default: derivations/)", epilog="""\b
Examples:
  elbo-sym check derivations/gap.toml --json
  elbo-sym check my-variant.toml --budget 30 --no-cache
Guide: docs/02-what-checked-means.md""")
@_PATHS
@_JSON
@_budget_options("step", FILE_BUDGET_CAP_SECONDS)
@click.option("--no-cache", is_flag=True, help="re-check every file (no result cache)")
@click.option("--jobs", type=Integer(1, MAX_JOBS), metavar="N",
              help=f"worker processes (default: one per core, at most one per {FILES_PER_WORKER} files)")
def _check(paths, json, budget, file_budget, no_cache, jobs) -> int:
    """Prove or refute every step of each derivation file.

    PATHS: *.toml files or folders (default: the project's derivations, else derivations/).
    """
    if not paths and (os.path.exists(PROJECT_FILE) or os.path.islink(PROJECT_FILE)):
        from elbo_sym.publish.project import command_paths

        paths = command_paths(_project(None), (), "check")  # a course folder
    else:
        paths = paths_or_default(paths, "check")  # a plain `check` also runs without click: elbo_sym.__main__
    return check_command(paths, json, budget, file_budget, no_cache, jobs)


@cli.command("explain", cls=_Checks, short_help="show how one step was decided", epilog="""\b
Examples:
  elbo-sym explain derivations/jensen.toml --step 3
Guide: docs/02-what-checked-means.md#explain-one-step""")
@click.argument("file", metavar="FILE")
@click.option("--step", type=Integer(1, None), default=None, metavar="N",
              help="step number (default: the first step that is not proved)")
@_budget_options("step", FILE_BUDGET_CAP_SECONDS)
def _explain(file, step, budget, file_budget) -> int:
    """Show how a step of FILE was decided: unfolded sides, canonical forms, residual, the rule's
    conditions, the verdict, a counterexample and a repair.  Exit status as `check` gives for FILE.
    """
    from elbo_sym.authoring.explain import explain, format_explanation
    from elbo_sym.engine.derivation import DerivationError, load

    try:
        derivation = load(file, loading_budget(budget, file_budget))  # reading is bounded as `check` bounds it
    except DerivationError as error:
        _print_derivation_error(error)
        return EXIT_INPUT
    if step is not None and not 1 <= step <= len(derivation.steps):
        raise InputError(f"--step {step}: {derivation.path} has steps 1 to {len(derivation.steps)}")
    explanation = explain(derivation, step, budget=budget)
    print(format_explanation(explanation), end="")
    return _status(explanation.ok)


@cli.command("new", short_help="write a commented starter derivation NAME.toml", epilog="""\b
Examples:
  elbo-sym new my-variant                 writes my-variant.toml (the gap identity, K = 2)
  elbo-sym new 'beta elbo' --params --K any
Guide: docs/01-writing-derivations.md#start-from-a-file-that-works""")
@click.argument("name", metavar="NAME")
@click.option("--K", "K", type=LatentSize(2, MAX_NEW_K), default=2, show_default=True, metavar="any|N",
              help=f"latent states: 2 to {MAX_NEW_K}, or \"any\" (one proof for every K)")
@click.option("--params", is_flag=True, help="the beta-ELBO bound (a [params] table)")
@click.option("--data", is_flag=True, help="a dataset of two observations")
@click.option("--teaching", is_flag=True, help="a find-the-mistake file (step 2 wrong on purpose)")
def _new(name, K, **kinds) -> int:
    """Write NAME.toml, a commented derivation that checks green (never overwrites a file)."""
    from elbo_sym.authoring.new import new_derivation, written_message

    chosen = [kind for kind in ("params", "data", "teaching") if kinds[kind]]
    if len(chosen) > 1:
        raise InputError(f"--{chosen[0]} and --{chosen[1]}: choose one kind of starter (--params, --data or "
                         f"--teaching)")
    kind = chosen[0] if chosen else "gap"
    print(written_message(new_derivation(name, kind, K), kind))
    return EXIT_OK


@cli.command("example", cls=_Checks, short_help="a worked example: every quantity of the lesson, exact", epilog="""\b
Examples:
  elbo-sym example --prior 3/4,1/4 --likelihood 1/5,3/5 --q 1/3,2/3
Guide: docs/03-publishing.md#a-worked-example""")
@click.option("--prior", default=None, metavar="P0,P1,...", help="p(z = k), summing to 1")
@click.option("--likelihood", default=None, metavar="L0,L1,...", help="p(x | z = k), each in (0, 1]")
@click.option("--q", default=None, metavar="Q0,Q1,...", help="q(z = k), summing to 1")
@_PROJECT
@click.option("--json", is_flag=True, help="print it as JSON (a list when the project has several [[example]] tables)")
def _example(prior, likelihood, q, project, json) -> int:
    """p(x), p(z|x), the ELBO, both KLs and the gap of one instance, exactly, cross-checked.

    Without the three vectors: the project's worked examples, else the lesson's.
    """
    from elbo_sym.lesson.examples import format_example, worked_example
    from elbo_sym.publish.commands import course_examples

    given = [prior, likelihood, q]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise click.UsageError("give all of --prior, --likelihood and --q (or none: the project's examples)",
                               click.get_current_context(silent=True))
    if prior is not None and project is not None:
        raise InputError("--project goes without --prior, --likelihood and --q")
    examples = [worked_example(prior, likelihood, q)] if prior is not None else course_examples(_project(project))
    if json:
        _print_json(examples[0].as_dict() if len(examples) == 1 else [e.as_dict() for e in examples])
    else:
        print("\n".join(format_example(e, None if len(examples) == 1 else f"Worked example {i} (K = {e.K})")
                        for i, e in enumerate(examples, 1)), end="")
    return _status(all(e.all_proved for e in examples))


@cli.command("exercises", cls=_Checks, short_help="a fresh, seeded exercise sheet with answer keys", epilog="""\b
Examples:
  elbo-sym exercises --K 3 --parts evidence,posterior,gap --solutions inline
  elbo-sym exercises --roster students.csv --out sheets
Guide: docs/03-publishing.md#a-fresh-exercise-sheet-with-answer-keys""")
@_sheet_options(count=f"cases (default: {DEFAULT_COUNT}, or the project's)")
@_JSON
@click.option("--moodle", default=None, metavar="QUIZ.xml", help="write the sheet as a Moodle XML quiz")
@click.option("--roster", default=None, metavar="STUDENTS.csv",
              help="one PDF per student (CSV columns id,name) and teacher-key.pdf, into --out")
@click.option("--out", default=None, metavar="DIR", help="folder of the --roster PDFs")
def _exercises(seed, project, count, K, parts, solutions, json, moodle, roster, out) -> int:
    """COUNT distinct seeded cases and their exact answer keys: the sheet of exercises.pdf.

    With --moodle or --roster: that sheet as a quiz, or one sheet per student.
    """
    if moodle is not None or roster is not None or out is not None:
        if roster is None and out is not None:
            raise InputError("--out goes with --roster (the folder of the students' PDFs)")
        if roster is not None and out is None:
            raise InputError("--roster needs --out DIR (the folder of the students' PDFs)")
        if json:
            raise InputError("--json prints the sheet; it does not go with --moodle or --roster")
        if solutions is not None:
            raise InputError("--solutions does not go with --moodle or --roster (the quiz has its feedback, "
                             "the roster's key is teacher-key.pdf)")
        course = _project(project, seed=seed, count=count, K=K, parts=parts)
        quiz = output_file(moodle, "--moodle", "quiz.xml") if moodle is not None else None
        folder = output_folder(out, "--out") if roster is not None else None
        from elbo_sym.publish.commands import exercise_files

        return _print_outcome(exercise_files(course.settings, quiz=quiz, roster=roster, folder=folder, out=out,
                                             title=course.title))
    from elbo_sym.lesson.exercises import format_sheet, generate_exercises

    s = _project(project, seed=seed, count=count, K=K, parts=parts, solutions=solutions).settings
    sheet = generate_exercises(s.seed, s.count, s.K, s.parts)
    if json:
        _print_json(sheet.as_dict())
    else:
        print(format_sheet(sheet, s.solutions), end="")
    return _status(all(e.key.all_proved for e in sheet))


@cli.command("drill", cls=_Checks, short_help="tight-case drill: q = posterior gives gap 0 exactly, plus a near miss",
             epilog="""\b
Examples:
  elbo-sym drill --seed 1 --count 2
Guide: docs/03-publishing.md#the-tight-case-drill""")
@_sheet_options(count=f"tight cases (default: {DRILL_COUNT}, or the project's)", parts=False)
@_JSON
def _drill(seed, project, count, K, solutions, json) -> int:
    """COUNT seeded cases with q = the posterior (gap exactly 0) and a near miss: tight-drill.pdf."""
    from elbo_sym.lesson.exercises import format_drill, tight_drill

    s = _project(project, seed=seed, drill_count=count, drill_K=K, solutions=solutions).settings
    drill = tight_drill(s.seed, s.drill_count, s.drill_states)
    if json:
        _print_json(drill.as_dict())
    else:
        print(format_drill(drill, s.solutions), end="")
    return _status(drill.ok)


@cli.command("cards", cls=_Checks, short_help="the self-check and flashcards; --check verifies their formulas",
             epilog="""\b
Examples:
  elbo-sym cards --check                  prove or refute every card's formula
  elbo-sym cards quiz.toml --check --json
  elbo-sym cards --moodle cards.xml       check, then write the decks as a Moodle quiz
Guide: docs/03-publishing.md#self-check-and-flashcards""")
@click.argument("paths", nargs=-1, metavar="[DECKS]...")
@click.option("--check", is_flag=True, help="check every formula with the engine")
@click.option("--moodle", default=None, metavar="QUIZ.xml", help="check, then write the decks as a Moodle XML quiz")
@_JSON
@_budget_options("card", DECK_BUDGET_CAP_SECONDS)
@_sheet_options(seed=False, K=False, parts=False)
def _cards(paths, check, moodle, json, budget, file_budget, project, solutions) -> int:
    """Print the decks once every card holds, or each card's verdict (--check).

    DECKS: default the project's decks, else the lesson's (elbo_sym/lesson/data/selfcheck.toml and
    flashcards.toml).
    """
    from elbo_sym.publish.commands import cards_checked, cards_printed

    if paths and project is not None:
        raise InputError("--project goes without DECKS (it names the decks)")
    if moodle is not None:
        from elbo_sym.publish.commands import cards_moodle

        target = not_an_input(output_file(moodle, "--moodle", "quiz.xml"), paths, "--moodle", "quiz.xml")
        if json:
            raise InputError("--json prints the decks; it does not go with --moodle")
        return _print_outcome(cards_moodle(_project(project), paths, target, budget=budget, file_budget=file_budget))
    course = _project(project, solutions=solutions)
    if not check:  # printed only when every card holds, as `flashcards` prints them (docs/03)
        return _print_outcome(cards_printed(course, paths, budget=budget, file_budget=file_budget, json=json))
    return _print_outcome(cards_checked(course, paths, budget=budget, file_budget=file_budget, json=json))


@cli.command("handouts", short_help="list the printable handouts that `build` makes", epilog="""\b
Example:
  elbo-sym handouts
Guide: docs/03-publishing.md#printable-handouts""")
def _handouts() -> int:
    """List the handouts `elbo-sym build` writes (one PDF each), the descriptions in one column
    two spaces right of the longest name (a fixed width left from-the-literature.pdf one off: rt35)."""
    files = [(f"{name}.pdf", what) for name, what in HANDOUTS]
    width = max(len(file) for file, _ in files) + 2
    for file, what in files:
        print(f"{file:<{width}}{what}")
    return EXIT_OK


@cli.command("build", cls=_Checks, short_help="check every derivation, then build the PDF handouts", epilog="""\b
Examples:
  elbo-sym build derivations/ derivations/teaching/ --out handouts
  elbo-sym build --only exercises --only answers --seed 7
Guide: docs/03-publishing.md#printable-handouts""")
@_PATHS
@click.option("--out", default="handouts", show_default=True, metavar="DIR", help="output folder")
@click.option("--gallery", multiple=True, metavar="PATH",
              help="derivations for beyond-the-lesson.pdf (repeatable)")
@_LITERATURE
@_sheet_options(count=f"exercise cases (default: {DEFAULT_COUNT}, or the project's)")
@click.option("--only", multiple=True, metavar="NAME", type=click.Choice(ONLY_NAMES),
              help="build only this handout, NAME or NAME.pdf (repeatable; `elbo-sym handouts` lists them)")
@click.option("--timeout", type=SECONDS, default=LATEX_TIMEOUT_SECONDS, show_default=True, metavar="SECONDS",
              help="time limit of one LaTeX build")
@_budget_options("derivation step", FILE_BUDGET_CAP_SECONDS)
def _build(paths, out, gallery, literature, seed, project, count, K, parts, solutions, only, timeout,
           budget, file_budget) -> int:
    """Check every derivation, then build the handouts with LaTeX (none from a derivation that fails).

    PATHS, examples, decks and settings: the project's (elbo-sym.toml), else the lesson's.
    """
    from elbo_sym.publish.commands import build_course

    folder = output_folder(out, "--out")  # refused before any work; only missing parents are created
    only = tuple(dict.fromkeys(name.removesuffix(".pdf") for name in only))  # as `handouts` lists them (rt36 M1)
    course = _project(project, seed=seed, count=count, K=K, parts=parts, solutions=solutions)
    if only and "answers" in only and course.settings.solutions != "separate":
        raise InputError(f"--only answers: answers.pdf is built with --solutions separate only "
                         f"(here: {course.settings.solutions})")
    return _print_outcome(build_course(course, paths, folder, out=out, gallery=gallery, literature=literature,
                                       only=only, timeout=timeout, budget=budget, file_budget=file_budget))


@cli.command("flashcards", cls=_Checks,
             short_help="check the flashcards; export them as an Anki deck (--anki deck.apkg)",
             epilog="""\b
Examples:
  elbo-sym flashcards --anki elbo.apkg
Guide: docs/03-publishing.md#anki""")
@click.argument("file", required=False, default=None, metavar="[FILE]")
@click.option("--anki", default=None, metavar="DECK.apkg", help="write an Anki package here")
@_PROJECT
@_budget_options("card", DECK_BUDGET_CAP_SECONDS)
def _flashcards(file, anki, project, budget, file_budget) -> int:
    """Check every flashcard's formula, then print the deck or write it as an Anki package.

    FILE: default the project's flashcards, else the lesson's (elbo_sym/lesson/data/flashcards.toml).
    """
    from elbo_sym.publish.commands import flashcards_course

    target = not_an_input(output_file(anki, "--anki", "deck.apkg"), (file,) if file else (), "--anki", "deck.apkg") \
        if anki is not None else None  # before checking anything
    if file is not None and project is not None:
        raise InputError("--project goes without FILE (it names the flashcards)")
    return _print_outcome(flashcards_course(_project(project), file, target, budget=budget, file_budget=file_budget))


@cli.command("web", cls=_Checks,
             short_help="check everything, then write the course-website pages (Markdown, KaTeX math)",
             epilog="""\b
Examples:
  elbo-sym web --site site/ && cd site && npm ci && npm run build
  elbo-sym web derivations/ derivations/teaching/ --seed 7
Guide: docs/03-publishing.md#course-website-lms-quizzes-and-per-student-sheets""")
@_PATHS
@click.option("--out", default=None, metavar="DIR", help="folder of the pages  [default: pages]")
@click.option("--site", default=None, metavar="DIR", help="write a whole Starlight site instead")
@click.option("--title", default=None, metavar="TEXT", help="the site's title (with --site)")
@_LITERATURE
@_sheet_options(count=f"exercise cases (default: {DEFAULT_COUNT}, or the project's)")
@_budget_options("derivation step", FILE_BUDGET_CAP_SECONDS)
def _web(paths, out, site, title, literature, seed, project, count, K, parts, solutions, budget,
         file_budget) -> int:
    """Check every derivation, then write the lesson as Markdown pages for a Starlight site.

    PATHS, examples, decks and settings as for `build`.
    """
    from pathlib import Path

    from elbo_sym.publish.commands import web_course
    from elbo_sym.publish.site import foreign_site, site_title

    if site is not None and out is not None:
        raise InputError("--out and --site: give one (--site DIR writes the pages into DIR/src/content/docs)")
    if title is not None and site is None:
        raise InputError("--title is the site's title: it needs --site")
    site_title(title)  # a bad --title is refused before the project is read
    # refused before any work, and nothing is created yet
    folder = (output_folder(site, "--site") if site is not None
              else output_folder("pages" if out is None else out, "--out"))  # --out '': refused, not pages/
    if site is not None and (foreign := foreign_site(folder)):
        raise InputError(f"--site {site}: {foreign}; to add the pages to your own site use "
                         f"--out {Path(site) / 'src' / 'content' / 'docs'}, or give an empty folder")
    course = _project(project, seed=seed, count=count, K=K, parts=parts, solutions=solutions)
    title = site_title(title, course.title)  # without --title: the course's, else the default
    return _print_outcome(web_course(course, paths, folder, site_title=None if site is None else title,
                                     literature=literature, budget=budget, file_budget=file_budget))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "cli", "InputError", "Integer", "Seconds", "DEFAULT_SEED", "DEFAULT_COUNT", "DRILL_COUNT"]

"""The click CLI: one error path, typed options, one set of defaults, `--help` with examples.

Every command runs through click's CliRunner (the same `_Cli.main` the console script
uses), and a few through `elbo_sym.cli.main(argv)`, which must agree with it.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from elbo_sym import cli
from elbo_sym.cli import main

ROOT = Path(__file__).resolve().parent.parent
GAP = ROOT / "derivations" / "gap.toml"
GENERATING = ("exercises", "drill", "build")
"""The commands that draw seeded cases: the text sheets and the PDF handouts."""


def runner() -> CliRunner:
    try:  # click 8.1 mixes stderr into stdout unless told not to; 8.2+ keeps both apart
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(*args: str):
    return runner().invoke(cli.cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """A scratch working folder (no derivations/ in it) and no result cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)


def one_error_line(result) -> str:
    """Exit 2, nothing on stdout, one line on stderr: `elbo-sym: error: ...`, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("elbo-sym: error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def param(command: str, name: str) -> click.Parameter:
    (found,) = [p for p in cli.cli.commands[command].params if p.name == name]
    return found


# ------------------------------------------------------------------ check outside a project


@pytest.mark.parametrize("command", ["check", "build"])
def test_check_and_build_outside_a_project_say_what_to_do(tmp_path, command):
    """It said `error: derivations:0: no such file`; now it names the missing folder and the fix."""
    line = one_error_line(invoke(command))
    assert "no derivations/ folder here" in line
    assert f"elbo-sym {command} FILE.toml" in line and "from your project folder" in line
    assert "derivations:0" not in line
    assert list(tmp_path.iterdir()) == []  # build created no handouts/ folder


@pytest.mark.parametrize("args", [("check", "nofile.toml"), ("explain", "nofile.toml", "--step", "1"),
                                  ("check", "--json", "nofile.toml")])
def test_a_missing_file_is_named_without_a_line_it_does_not_have(args):
    """red team rt35's F1: it said `nofile.toml:0: cannot read file` -- a file has no line 0."""
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    shown = result.stdout + result.stderr
    assert "nofile.toml: cannot read file: no such file" in shown and "nofile.toml:0" not in shown, shown


def test_a_project_path_without_its_file_is_named_without_a_line(tmp_path):
    (tmp_path / "course").mkdir()
    line = one_error_line(invoke("build", "--project", "course", "--out", "out"))
    assert line.endswith("course/elbo-sym.toml: no elbo-sym.toml in the folder course"), line


def test_check_without_paths_still_reads_derivations_here(tmp_path):
    (tmp_path / "derivations").mkdir()
    shutil.copy(GAP, tmp_path / "derivations" / "gap.toml")
    result = invoke("check")
    assert result.exit_code == 0, result.stderr
    assert "derivations/gap.toml — " in result.stdout and "1/1 claims established" in result.stdout


def test_an_empty_derivations_folder_is_still_its_own_error(tmp_path):
    (tmp_path / "derivations").mkdir()
    line = one_error_line(invoke("check"))
    assert "no derivation files found in derivations" in line


# ------------------------------------------------------------------ new: commands safe to paste


@pytest.mark.parametrize("argv, filename, word", [
    (["new", "my variant"], "my variant.toml", "'my variant.toml'"),
    (["new", "it's"], "it's.toml", "'it'\"'\"'s.toml'"),
    (["new", "--", "-x"], "-x.toml", "./-x.toml"),     # never read as an option
    (["new", "plain"], "plain.toml", "plain.toml"),
])
def test_new_prints_quoted_commands(tmp_path, argv, filename, word):
    """`elbo-sym new 'my variant'` printed `elbo-sym check my variant.toml` (two arguments)."""
    result = invoke(*argv)
    assert result.exit_code == 0, result.stderr
    commands = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if "elbo-sym " in line]
    assert commands == [f"elbo-sym check {word}", f"elbo-sym explain {word} --step 2"]
    for command in commands:
        assert Path(shlex.split(command)[2]).resolve() == (tmp_path / filename).resolve()
    # the starter's own comments quote it the same way
    text = (tmp_path / filename).read_text("utf-8")
    assert f"#   elbo-sym check {word} " in text and f"#   pytest {word} " in text


def test_the_printed_check_command_runs_and_passes(tmp_path):
    result = invoke("new", "my variant")
    (command,) = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if "elbo-sym check" in line]
    checked = invoke(*shlex.split(command)[1:])
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "my variant.toml — " in checked.stdout


# ------------------------------------------------------------------ explain on a proved file


def test_explain_a_fully_proved_file_says_which_step_it_shows():
    result = invoke("explain", str(GAP))
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("note: every step is proved; showing step 1 of 4") and "--step N" in first
    assert f"{GAP}:" in result.stdout and "step 1 of 4" in result.stdout and "verdict: proved" in result.stdout
    asked = invoke("explain", str(GAP), "--step", "2")
    assert asked.exit_code == 0 and "note:" not in asked.stdout and "step 2 of 4" in asked.stdout


def test_explain_a_file_with_an_unproved_step_shows_it_without_the_notice(tmp_path):
    jensen = (ROOT / "derivations" / "jensen.toml").read_text("utf-8")
    assert jensen.count('rel = ">="') == 1
    path = tmp_path / "jensen.toml"
    path.write_text(jensen.replace('rel = ">="', 'rel = "<="'), "utf-8")
    result = invoke("explain", str(path))
    assert result.exit_code == 1
    assert "note:" not in result.stdout and "verdict: refuted" in result.stdout


# ------------------------------------------------------------------ one seed and count default


def test_text_and_pdf_share_one_seed_and_count_default():
    from elbo_sym.publish import handouts
    from elbo_sym.publish.project import Settings

    for command in GENERATING:  # not given: the project's setting (elbo-sym.toml), else the one default
        assert param(command, "seed").default is None and param(command, "count").default is None, command
    defaults = Settings()
    assert (defaults.seed, defaults.count, defaults.drill_count) == (cli.DEFAULT_SEED, cli.DEFAULT_COUNT,
                                                                     cli.DRILL_COUNT)
    # the PDFs are built from the library's defaults: the same numbers
    assert (cli.DEFAULT_SEED, cli.DEFAULT_COUNT, cli.DRILL_COUNT) == \
        (handouts.DEFAULT_SEED, handouts.DEFAULT_COUNT, handouts.DRILL_COUNT)


@pytest.mark.parametrize("command", GENERATING)
def test_help_shows_the_shared_defaults(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--seed SEED random seed of" in text and f"(default: {cli.DEFAULT_SEED}, or the project's)" in text
    count = cli.DRILL_COUNT if command == "drill" else cli.DEFAULT_COUNT
    assert re.search(rf"--count N .*?\(default: {count}, or the project's\) \[1 to 100\]", text)


def test_exercises_and_drill_without_options_print_what_the_pdfs_show():
    sheet = invoke("exercises")
    assert sheet.exit_code == 0
    assert sheet.stdout.startswith(f"Exercise sheet: seed {cli.DEFAULT_SEED}, {cli.DEFAULT_COUNT} case(s), K = 2")
    drill = invoke("drill")
    assert drill.exit_code == 0
    assert drill.stdout.startswith(f"Tight-case drill: seed {cli.DEFAULT_SEED}, {cli.DRILL_COUNT} case(s)")


def test_the_option_limits_are_the_library_limits():
    from elbo_sym.lesson import exercises

    assert (cli.MAX_SEED, cli.MAX_COUNT, cli.MAX_EXERCISE_K) == \
        (exercises.MAX_SEED, exercises.MAX_COUNT, exercises.MAX_EXERCISE_K)
    assert (param("exercises", "seed").type.min, param("exercises", "seed").type.max) == (0, exercises.MAX_SEED)
    assert (param("exercises", "K").type.min, param("exercises", "K").type.max) == (2, exercises.MAX_EXERCISE_K)
    for command in GENERATING:
        assert (param(command, "count").type.min, param(command, "count").type.max) == (1, exercises.MAX_COUNT)


# ------------------------------------------------------------------ typed options, one error path

INTEGER_OPTIONS = {"seed", "count", "K", "step"}
SECONDS_OPTIONS = {"budget", "file_budget", "timeout"}


def test_every_number_option_is_typed():
    seen = set()
    for name, command in cli.cli.commands.items():
        for p in command.params:
            if p.name in INTEGER_OPTIONS:
                assert isinstance(p.type, cli.Integer), (name, p.name)
            elif p.name in SECONDS_OPTIONS:
                assert isinstance(p.type, cli.Seconds), (name, p.name)
            else:
                continue
            seen.add(p.name)
    assert seen == INTEGER_OPTIONS | SECONDS_OPTIONS


@pytest.mark.parametrize("argv, fragment", [
    (["exercises", "--count", "1000"], "'--count': 1000 is not in the range 1 to 100"),
    (["exercises", "--count", "1.5"], "'1.5' is not an integer"),
    (["exercises", "--seed", "١٢"], "'١٢' is not an integer"),          # int() reads Arabic-Indic digits
    (["exercises", "--seed", "1_000"], "'1_000' is not an integer"),    # ... and underscores
    (["drill", "--seed", "-1"], "-1 is not in the range 0 to 2**63-1"),
    (["build", "--count", "9" * 4000], "(4000 digits) is not in the range 1 to 100"),
    (["explain", str(GAP), "--step", "0"], "0 is below the smallest allowed, 1"),
    (["check", "--budget", "nan"], "elbo-sym: error: --budget must be a finite number of seconds > 0"),
    (["build", "--timeout", "0"], "elbo-sym: error: --timeout must be a finite number of seconds > 0"),
    (["cards", "--file-budget", "1e9"], "elbo-sym: error: --file-budget must be at most"),
    (["example", "--prior", "3/4,1/4"], "give all of --prior, --likelihood and --q"),
    (["build", "--only", "nope"], "'nope' is not one of 'derivations'"),
    (["build", "--only", "nope.pdf"], "'nope.pdf' is not one of 'derivations', 'derivations.pdf'"),
    (["drill", "--no-such-option"], "No such option"),
    (["no-such-command"], "No such command"),
    ([], "Missing command"),
])
def test_usage_errors_are_one_line_naming_the_help(argv, fragment):
    line = one_error_line(invoke(*argv))
    assert fragment in line
    where = " ".join(["elbo-sym", *argv[:1]]) if argv and argv[0] in cli.cli.commands else "elbo-sym"
    assert line.endswith(f"see `{where} --help`")


def test_build_only_takes_every_handout_as_listed(tmp_path, monkeypatch):
    """red team rt36's M1: `elbo-sym handouts` lists derivations.pdf, and `build --only derivations.pdf`
    was refused; each listed file and its bare name select the same handout, once."""
    from elbo_sym.publish import commands

    class Built(Exception):
        pass

    def build_course(*args, only, **kwargs):
        raise Built(only)

    monkeypatch.setattr(commands, "build_course", build_course)
    listed = [line.split()[0] for line in invoke("handouts").stdout.splitlines()]
    assert listed and all(file.endswith(".pdf") for file in listed), listed
    for file in listed:
        name = file.removesuffix(".pdf")
        with pytest.raises(Built) as built:
            main(["build", "--only", file, "--only", name, "--solutions", "separate", "--out", str(tmp_path)])
        assert built.value.args == ((name,),), file


def test_input_errors_take_the_same_path():
    line = one_error_line(invoke("example", "--prior", "1,0", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"))
    assert "prior" in line and "--help" not in line  # a bad value, not a bad command line


def test_the_handouts_descriptions_start_in_one_column():
    """red team rt35's F3: names padded to 22 characters left from-the-literature.pdf's (23) one off."""
    result = invoke("handouts")
    assert result.exit_code == 0
    rows = [re.fullmatch(r"(\S+\.pdf)( {2,})(\S.*)", line) for line in result.stdout.splitlines()]
    assert len(rows) >= 10 and all(rows), result.stdout           # every name, then at least two spaces
    assert len({len(m[1] + m[2]) for m in rows if m}) == 1, result.stdout   # every description in one column
    assert "from-the-literature.pdf" in result.stdout


def test_main_and_the_runner_agree(capsys):
    for argv in (["handouts"], ["exercises", "--count", "0"], ["drill", "--seed", "3", "--count", "1"]):
        result = invoke(*argv)
        code = main(argv)
        out, err = capsys.readouterr()
        assert (code, out, err) == (result.exit_code, result.stdout, result.stderr), argv
    assert main(["handouts"]) == 0 and "find-the-mistake.pdf" in capsys.readouterr().out


def test_help_exits_0_everywhere_and_user_text_is_escaped_on_the_terminal(tmp_path):
    assert invoke("--help").exit_code == 0 and invoke("-h").exit_code == 0
    result = invoke("check", str(tmp_path / "\x1b[31mred.toml"))
    assert result.exit_code == 2 and "\x1b" not in result.stderr and "\\u001b" in result.stderr


# ------------------------------------------------------------------ --help with examples


@pytest.mark.parametrize("name", sorted(cli.cli.commands))
def test_every_help_shows_one_to_three_examples_that_parse(name):
    command = cli.cli.commands[name]
    result = invoke(name, "--help")
    assert result.exit_code == 0 and result.stderr == ""
    shown = [line.strip() for line in result.stdout.splitlines()]
    examples = [line.strip() for line in (command.epilog or "").splitlines() if line.strip().startswith("elbo-sym ")]
    assert 1 <= len(examples) <= 3, examples
    for example in examples:
        assert example in shown, example  # printed as written, one per line (\b: not re-wrapped)
        words = shlex.split(re.split(r"\s{2,}", example)[0])
        assert words[:2] == ["elbo-sym", name]
        command.make_context(name, words[2:])  # every example is a valid command line
    assert shown[0].startswith(f"Usage: elbo-sym {name} ")


def test_the_group_help_lists_every_command_and_examples():
    result = invoke("--help")
    for name in cli.cli.commands:
        assert re.search(rf"^  {name}\s+\S", result.stdout, re.M), name
    assert "Examples:" in result.stdout and "elbo-sym COMMAND --help" in result.stdout
    assert "Exit status: 0 all good, 1 something refuted or unestablished, 2 bad input or usage" in \
        " ".join(result.stdout.split())


def test_a_folder_of_ten_with_one_typo_gives_one_clean_error_and_nine_reports(tmp_path, capsys):
    """The issue's acceptance case, through the CLI (the pytest plugin has its own)."""
    from elbo_sym.cli import main

    gap = (Path(__file__).resolve().parent.parent / "derivations" / "gap.toml").read_text("utf-8")
    for i in range(9):
        (tmp_path / f"d{i}.toml").write_text(gap, "utf-8")
    (tmp_path / "typo.toml").write_text(gap.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z) p(z | x))"'),
                                        "utf-8")
    code = main(["check", "--no-cache", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2  # an input error wins over the nine that pass
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "typo.toml:" in errors[0] and "missing `,`" in errors[0]
    assert "Traceback" not in captured.err + captured.out
    assert captured.out.count("established: claim proved") == 9
    assert "9 derivation(s)" in captured.out and "1 file(s) with input errors" in captured.out


# ------------------------------------------------------------------ the library under the thin CLI


@pytest.mark.parametrize("error", ["derivation", "example", "new", "anki", "moodle", "plain"])
def test_every_library_input_error_takes_the_one_error_path(monkeypatch, error):
    """A command raises; `_Cli.invoke` prints one line and exits 2 for every InputError kind."""
    from elbo_sym.authoring.new import NewFileError
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.files import InputError
    from elbo_sym.lesson.examples import ExampleInputError
    from elbo_sym.publish.anki import AnkiError
    from elbo_sym.publish.moodle import MoodleError

    raised = {"derivation": DerivationError("d.toml", 3, "bad \x1b[31mthing"),
              "example": ExampleInputError("bad prior"), "new": NewFileError("exists"),
              "anki": AnkiError("no title"), "moodle": MoodleError("no quiz"),
              "plain": InputError("--out x: not a folder")}[error]

    def fail():
        raise raised

    monkeypatch.setattr(cli.cli.commands["handouts"], "callback", fail)
    result = invoke("handouts")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"elbo-sym: error: {' '.join(str(raised).split())}\n".replace("\x1b", "\\u001b")


def test_an_error_that_is_no_input_error_is_not_hidden(monkeypatch):
    def fail():
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli.cli.commands["handouts"], "callback", fail)
    with pytest.raises(ZeroDivisionError):
        invoke("handouts")


def test_replace_file_leaves_the_old_file_when_writing_fails(tmp_path):
    from elbo_sym.files import replace_file

    target = tmp_path / "quiz.xml"
    target.write_bytes(b"old")

    def broken(name: str) -> None:
        Path(name).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_file(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["quiz.xml"]
    assert replace_file(target, b"new") == target and target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_build_outcome_fails_on_a_failed_pdf_and_a_required_engine(tmp_path):
    from elbo_sym.publish.handouts import BuildReport, build_outcome

    good = BuildReport("exercises", tmp_path / "e.tex", tmp_path / "e.pdf", True, "", overfull=1)
    bad = BuildReport("answers", tmp_path / "a.tex", None, False, "LaTeX error", log_excerpt="! Undefined\nl.3")
    lines, ok = build_outcome([good, bad], latex=True, out="h", seconds=1.0)
    assert not ok and (True, "  FAILED answers.pdf: LaTeX error") in lines and (True, "    l.3") in lines
    assert lines[-1] == (True, "1 of 2 handout(s) failed; none was replaced (previous PDFs were left untouched)")
    assert (False, "  built exercises.pdf, not written: the set is replaced only as a whole") in lines
    lines, ok = build_outcome([good], latex=True, out="h", seconds=1.25)
    assert ok and lines[-1] == (False, f"1 handout(s) in h{'/'} (1.2 s)")
    tex_only = BuildReport("exercises", tmp_path / "e.tex", None, False, "")
    lines, ok = build_outcome([tex_only], latex=False, out="h", seconds=1.0)
    assert ok and lines[0] == (False, f"  wrote {tmp_path / 'e.tex'}") and "TeX Live" in lines[-1][1]
    assert not build_outcome([tex_only], latex=False, out="h", seconds=1.0, require_latex=True)[1]


def test_an_untitled_deck_outside_a_course_is_refused_an_anki_name(tmp_path):
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish.anki import DECK_NAME, AnkiError, course_deck_name

    path = tmp_path / "cards.toml"
    path.write_text('[[card]]\nfront = "f"\nback = "b"\n', "utf-8")
    deck = load_deck(path)
    assert course_deck_name("My course", deck, lesson_deck=False) == "My course"
    assert course_deck_name(None, deck, lesson_deck=True) == DECK_NAME
    with pytest.raises(AnkiError, match="give the deck a title"):
        course_deck_name(None, deck, lesson_deck=False)


# ------------------------------------------------------------------ a thin CLI: short help, parsers in the library


def test_the_option_parsers_are_the_librarys():
    from elbo_sym.lesson.exercises import PARTS
    from elbo_sym.limits import MAX_SEED, parse_integer, parse_parts

    assert parse_integer(" 42 ", 1, 100) == 42 and parse_integer("-3", -5, None) == -3
    for text, message in [("١٢", "is not an integer"), ("1_000", "is not an integer"), ("--1", "is not an integer"),
                          ("", "is not an integer"), ("101", "101 is not in the range 1 to 100."),
                          ("9" * 30, "(30 digits) is not in the range 1 to 100")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_integer(text, 1, 100)
    with pytest.raises(ValueError, match=re.escape("-1 is not in the range 0 to 2**63-1")):
        parse_integer("-1", 0, MAX_SEED)
    assert parse_parts(" gap, evidence ,") == ("gap", "evidence")
    for text, message in [("elbow", "unknown part 'elbow'"), (" , ", "no parts given")]:
        with pytest.raises(ValueError, match=message):
            parse_parts(text)
    assert cli.PARTS == PARTS  # the import-free copy is the lesson's list


def test_the_site_title_is_checked_by_the_library():
    from elbo_sym.files import InputError
    from elbo_sym.limits import MAX_TITLE_CHARS
    from elbo_sym.publish.site import DEFAULT_SITE_TITLE, site_title

    assert site_title(None) == DEFAULT_SITE_TITLE and site_title("ELBO, week 5") == "ELBO, week 5"
    for bad in ("", "  ", "two\nlines", "x" * (MAX_TITLE_CHARS + 1)):
        with pytest.raises(InputError, match="one-line title"):
            site_title(bad)


@pytest.mark.parametrize("name", sorted(cli.cli.commands))
def test_every_help_is_short_and_names_a_page_of_the_guide_that_exists(name):
    command = cli.cli.commands[name]
    assert len((command.help or "").strip().splitlines()) <= 4, name
    for p in command.params:
        assert len(getattr(p, "help", None) or "") <= 120, (name, p.name)
    guides = re.findall(r"Guide: (docs/[\w.-]+\.md)(?:#([\w-]+))?", command.epilog or "")
    assert len(guides) == 1, name
    page, anchor = guides[0]
    text = (ROOT / page).read_text("utf-8")
    headings = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.*)$", text, re.M)}
    assert not anchor or anchor in headings, (name, page, anchor)


def test_the_cli_module_stays_thin():
    assert len((ROOT / "elbo_sym" / "cli.py").read_text("utf-8").splitlines()) <= 600


@pytest.mark.parametrize("value", ["abc", "-1", "1e9", "99999999999999999999", "1700000000 "])
def test_a_bad_source_date_epoch_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, value):
    """`build` (whose LaTeX reads SOURCE_DATE_EPOCH too) and the roster say what is wrong in one line,
    exit 2, and write nothing."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    students = tmp_path / "students.csv"
    students.write_text("id,name\nada,Ada\n", encoding="utf-8")
    for args in (["build", str(ROOT / "derivations" / "jensen.toml"), "--only", "derivations"],
                 ["exercises", "--roster", str(students)]):
        assert main([*args, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("elbo-sym: error: SOURCE_DATE_EPOCH must be a whole number of seconds") and \
            err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_derivation_with_decomposed_accents_checks_as_the_composed_one(tmp_path):
    """An editor that saves "é" as e + U+0301 (NFD) writes the same title the prose check accepts composed."""
    import unicodedata

    from elbo_sym.report.build import check_file

    text = (ROOT / "derivations" / "jensen.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^title = ".*"$', 'title = "Café: the ELBO by Jensen"', text, count=1)
    path = tmp_path / "cafe.toml"
    path.write_bytes(unicodedata.normalize("NFD", text).encode("utf-8"))
    assert "e\u0301" in path.read_text(encoding="utf-8")
    report = check_file(str(path))
    assert report.ok and report.title == "Café: the ELBO by Jensen"

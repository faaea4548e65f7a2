"""The pytest plugin: derivation files as test items, readable failures, clean collection errors."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from cpu_work import cpu_bounded

import elbo_sym.authoring.explain
import elbo_sym.engine.check
import elbo_sym.engine.repair

# Imported here so in-process pytester runs keep SymPy loaded (they drop modules they import).
_KEEP_LOADED = (elbo_sym.engine.check, elbo_sym.authoring.explain, elbo_sym.engine.repair)

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
JENSEN = (REPO / "derivations" / "jensen.toml").read_text("utf-8")
KL_FLIPPED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
assert KL_FLIPPED != GAP


@pytest.fixture(scope="module", autouse=True)
def _warm_sympy() -> None:
    """Do SymPy's lazy imports once out here: in-process pytester runs drop modules they import."""
    from elbo_sym.authoring.testing import check_file

    check_file(REPO / "derivations" / "jensen.toml")


def _plugin_args() -> list[str]:
    """`-p elbo_sym.authoring.pytest_plugin` unless the package is installed (then the pytest11
    entry point loads it)."""
    if any(ep.name == "elbo_sym" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "elbo_sym.authoring.pytest_plugin"]


# Inner runs skip plugins that are slow to load and irrelevant here (hypothesis's imports
# its whole package at the end of every session, and pytester drops it again after each run).
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*_plugin_args(), *QUIET, *args)


def write(pytester: pytest.Pytester, relative: str, text: str) -> Path:
    path = pytester.path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_passing_file_gives_a_passing_item_named_by_stem_and_title(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", GAP)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*derivations/gap.toml::gap: The gap is a KL divergence PASSED*"])


def test_wrong_step_fails_with_counterexample_and_suggestion(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", KL_FLIPPED)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    line = KL_FLIPPED.splitlines().index('expr = "KL(p(z | x), q(z))"') + 1
    assert f"derivations/gap.toml:{line}: step 4 is refuted" in out
    assert "=  KL(p(z | x), q(z))" in out                       # the relation and the new side
    assert "Sum(q(z)*log(q(z)/p(z | x)), z)" in out             # the previous side, as printed
    assert "rule:     definition" in out
    assert "verdict:  refuted" in out
    assert "counterexample (example 1): p(z) = (3/4, 1/4), p(x | z) = (1/5, 3/5), q(z) = (1/3, 2/3)" in out
    assert "left  = " in out and "right = " in out
    assert 'suggestion: swap the two arguments of KL: expr = "KL(q(z), p(z | x))"' in out
    assert "Traceback" not in out and "elbo_sym/" not in out


def test_malformed_file_is_one_failing_item_with_file_line_and_caret(pytester: pytest.Pytester) -> None:
    """Not a collection error (that would stop the run before the good file is checked)."""
    write(pytester, "derivations/gap.toml", GAP)
    bad = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z), p(z | x)) + foo(z)"')
    write(pytester, "derivations/bad.toml", bad)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    line = bad.splitlines().index('expr = "KL(q(z), p(z | x)) + foo(z)"') + 1
    assert f"FAILED derivations/bad.toml::bad - derivations/bad.toml:{line}:" in out
    assert f"derivations/bad.toml:{line}:" in out and "unknown function 'foo'" in out
    source = 'expr = "KL(q(z), p(z | x)) + foo(z)"'
    caret_line = next(text for text in out.splitlines() if text.strip() == "^")
    assert source[caret_line.index("^") - 4:].startswith("foo")
    assert "Traceback" not in out and "elbo_sym/" not in out and "DerivationError" not in out


def test_malformed_toml_is_a_failing_item(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/broken.toml", 'title = "t"\nstart = log(p(x))\n')
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "derivations/broken.toml:2:" in out and "malformed TOML" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("content", [
    "x = " + "[" * 50_000 + "]" * 50_000 + "\n",       # tomllib recurses: RecursionError
    'title = "t"\nstart = "log(p(x))\n',               # malformed TOML
    "title = \"\xff\"\n",                            # not UTF-8 (written as latin-1 below)
])
def test_an_explicit_file_that_does_not_parse_is_a_clean_failure(pytester: pytest.Pytester,
                                                                  content: str) -> None:
    """Named on the command line, a .toml that tomllib cannot read is collected and reported
    (file and line), never a traceback or an internal error (exit status 1, not 3)."""
    (pytester.path / "deep.toml").write_bytes(content.encode("latin-1"))
    result = run(pytester, "deep.toml")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str() + result.stderr.str()
    assert "FAILED deep.toml::deep - deep.toml:" in out
    assert "Traceback" not in out and "RecursionError" not in out and "INTERNALERROR" not in out


def test_k_selects_by_title_words_or_file_name(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/two_lines.toml", JENSEN)
    by_title = run(pytester, "-k", "divergence", "--collect-only", "-q")
    by_title.stdout.fnmatch_lines(["derivations/gap.toml::gap: The gap is a KL divergence"])
    assert "two_lines" not in by_title.stdout.str()
    by_file = run(pytester, "-k", "two_lines", "-v")
    by_file.assert_outcomes(passed=1)
    assert "two_lines.toml::two_lines: The ELBO in two lines PASSED" in by_file.stdout.str()


@pytest.mark.full
def test_project_test_run_does_not_collect_derivations(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", KL_FLIPPED)     # would fail if collected
    write(pytester, "tests/data/sample.toml", GAP)           # not under the patterns
    write(pytester, "tests/test_one.py", "def test_one():\n    assert True\n")
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    run(pytester).assert_outcomes(passed=1)                   # testpaths: no derivation collected
    run(pytester, "derivations/").assert_outcomes(failed=1)   # asked for: collected
    # A folder named on the command line collects the derivations below it, also under tests/ ...
    run(pytester, "tests/").assert_outcomes(passed=2)
    # ... unless elbo_sym_folder_files narrows what a named folder collects.
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                                      'elbo_sym_folder_files = ["derivations/**/*.toml"]\n')
    run(pytester, "tests/").assert_outcomes(passed=1)
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.full
def test_ini_patterns_and_explicit_files(pytester: pytest.Pytester) -> None:
    write(pytester, "pyproject.toml",
          '[tool.pytest.ini_options]\nelbo_sym_files = ["variants/**/*.toml"]\n')
    write(pytester, "variants/a/deep/gap.toml", GAP)
    write(pytester, "variants/jensen.toml", JENSEN)
    write(pytester, "derivations/wrong.toml", KL_FLIPPED)   # no longer a default pattern
    write(pytester, "elsewhere/other.toml", GAP)
    write(pytester, "elsewhere/settings.toml", 'name = "not a derivation"\n')
    run(pytester).assert_outcomes(passed=2)
    # A derivation named on the command line is collected; other TOML files are not.
    run(pytester, "elsewhere/other.toml").assert_outcomes(passed=1)
    for not_a_derivation in ("elsewhere/settings.toml", "pyproject.toml"):
        result = run(pytester, not_a_derivation)
        assert result.ret == pytest.ExitCode.USAGE_ERROR          # pytest: "not found", nothing collected
        assert "no match" in result.stderr.str()


@pytest.mark.full
def test_assert_derivation_and_fixture_from_python_tests(pytester: pytest.Pytester) -> None:
    write(pytester, "data/good.toml", GAP)
    write(pytester, "data/wrong.toml", KL_FLIPPED)
    write(pytester, "test_api.py", """
from elbo_sym import assert_derivation
from elbo_sym.authoring.testing import assert_derivation as same


def test_good():
    assert assert_derivation("data/good.toml").ok
    assert same is assert_derivation


def test_wrong():
    assert_derivation("data/wrong.toml")


def test_fixture(elbo_check):
    assert elbo_check("data/good.toml").fully_proved
""")
    result = run(pytester, "test_api.py")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    line = KL_FLIPPED.splitlines().index('expr = "KL(p(z | x), q(z))"') + 1
    section = out[out.index("_ test_wrong _"):]
    # The report comes first, right under the test's header; then where it was called.
    assert section.splitlines()[1].startswith(f"data/wrong.toml:{line}: step 4 is refuted")
    assert "counterexample (example 1)" in section
    assert "suggestion: swap the two arguments of KL" in section
    assert "(assert_derivation called at test_api.py:12)" in section
    assert "Traceback" not in out and "elbo_sym/" not in out
    assert f"FAILED test_api.py::test_wrong - data/wrong.toml:{line}: step 4" in out


TYPO = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z) p(z | x))"')
TYPO_SOURCE = 'expr = "KL(q(z) p(z | x))"'


def _typo_error(shown: str) -> tuple[str, int]:
    """The loader's own one-line error for TYPO read as `shown` (its wording is the loader's
    business), and the 1-based column it points at."""
    from elbo_sym.engine.derivation import DerivationError, loads
    from elbo_sym.report.model import InputErrorReport

    with pytest.raises(DerivationError) as caught:
        loads(TYPO, shown)
    assert caught.value.column is not None and caught.value.line == TYPO.splitlines().index(TYPO_SOURCE) + 1
    text = InputErrorReport.from_error(caught.value).text
    assert text.startswith(f"{shown}:{caught.value.line}:{caught.value.column + 1}: step 4: expr: ")
    return text, caught.value.column + 1


def _assert_caret_under(out: str, column: int) -> None:
    lines = out.splitlines()
    source = next(i for i, text in enumerate(lines) if text.strip() == TYPO_SOURCE)
    caret = lines[source + 1]
    assert caret.strip() == "^"
    assert caret.index("^") - lines[source].index("expr") == column - 1


def test_malformed_file_through_assert_derivation_and_fixture_shows_the_error_first(pytester: pytest.Pytester) -> None:
    """Used to end in `FrozenInstanceError: cannot assign to field '__traceback__'`, the real
    message 40 lines up: now the one-line file:line:column error and its caret come first."""
    write(pytester, "bad/typo.toml", TYPO)
    write(pytester, "test_typo.py", """
from elbo_sym import assert_derivation


def test_api():
    assert_derivation("bad/typo.toml")


def test_fixture(elbo_check):
    elbo_check("bad/typo.toml")
""")
    result = run(pytester, "test_typo.py")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    one_line, column = _typo_error("bad/typo.toml")
    for test, function, at in (("test_api", "assert_derivation", 6), ("test_fixture", "elbo_check", 10)):
        section = out[out.index(f"_ {test} _"):]
        assert section.splitlines()[1] == one_line, section[:300]
        _assert_caret_under(section, column)
        assert f"({function} called at test_typo.py:{at})" in section
        assert f"FAILED test_typo.py::{test} - {one_line[:30]}" in out
    for internal in ("Traceback", "FrozenInstanceError", "elbo_sym/", "derivation.py", "__traceback__"):
        assert internal not in out, internal


def test_full_trace_still_shows_the_traceback(pytester: pytest.Pytester) -> None:
    write(pytester, "bad/typo.toml", TYPO)
    write(pytester, "test_typo.py", "from elbo_sym import assert_derivation\n\n\n"
                                    "def test_api():\n    assert_derivation('bad/typo.toml')\n")
    out = run(pytester, "test_typo.py", "--full-trace").stdout.str()
    assert "DerivationInputFailed" in out and "elbo_sym/authoring/testing.py" in out


def test_relative_paths_are_read_next_to_the_test_file_wherever_pytest_runs(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, "project/tests/data/gap.toml", GAP)
    write(pytester, "project/tests/data/jensen.toml", JENSEN)
    write(pytester, "project/data/jensen.toml", KL_FLIPPED)   # the same name from the cwd: not used
    write(pytester, "project/tests/test_rel.py", """
from elbo_sym import assert_derivation


def test_api():
    assert assert_derivation("data/gap.toml").ok


def test_test_folder_wins_over_cwd():
    assert assert_derivation("data/jensen.toml").ok


def test_fixture(elbo_check):
    assert elbo_check("data/gap.toml").ok


def test_missing():
    assert_derivation("data/missing.toml")
""")
    elsewhere = pytester.path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (elsewhere, pytester.path / "project"):
        monkeypatch.chdir(cwd)
        result = run(pytester, str(pytester.path / "project" / "tests" / "test_rel.py"))
        result.assert_outcomes(passed=3, failed=1)
        out = result.stdout.str()
        tests_folder = pytester.path / "project" / "tests"
        assert f"no such file (a relative path is looked up in {tests_folder}, then {cwd})" in out
        assert "Traceback" not in out


@pytest.mark.full
def test_a_folder_on_the_command_line_collects_its_derivations(pytester: pytest.Pytester) -> None:
    """`pytest variants/` used to collect 0 items (exit 5) without an ini option.  Ten files,
    one with a typo: one clean failure line for the typo, results for the other nine."""
    write(pytester, "pyproject.toml", "[tool.pytest.ini_options]\n")
    for n in range(1, 10):
        write(pytester, f"variants/{'deep/' if n > 6 else ''}v{n}.toml", GAP if n % 2 else JENSEN)
    write(pytester, "variants/typo.toml", TYPO)
    write(pytester, "variants/settings.toml", 'name = "not a derivation"\n')          # no start, no step
    write(pytester, "variants/notes.toml", "this is not [ toml\n")                   # nor a derivation
    write(pytester, "variants/pyproject.toml", GAP)                                  # never, by its name
    result = run(pytester, "variants/", "-rf")
    result.assert_outcomes(passed=9, failed=1)
    out = result.stdout.str()
    one_line, column = _typo_error("variants/typo.toml")
    failures = [text for text in out.splitlines() if text.startswith("FAILED ")]
    assert len(failures) == 1 and failures[0].startswith(f"FAILED variants/typo.toml::typo - {one_line[:30]}")
    section = out[out.index("_ typo _"):]
    assert section.splitlines()[1] == one_line
    _assert_caret_under(section, column)
    assert "settings.toml" not in out and "notes.toml" not in out and "variants/pyproject.toml" not in out
    assert "Traceback" not in out and "error" not in out.lower().split("short test summary")[-1]


def test_a_typo_that_breaks_the_toml_is_still_collected_from_a_folder(pytester: pytest.Pytester) -> None:
    write(pytester, "pyproject.toml", "[tool.pytest.ini_options]\n")
    write(pytester, "variants/gap.toml", GAP)
    write(pytester, "variants/unclosed.toml", GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z), p(z | x))'))
    result = run(pytester, "variants")
    result.assert_outcomes(passed=1, failed=1)
    assert "variants/unclosed.toml:" in result.stdout.str() and "malformed TOML" in result.stdout.str()


@pytest.mark.full
def test_folder_collection_can_be_narrowed_or_switched_off(pytester: pytest.Pytester) -> None:
    write(pytester, "variants/keep/gap.toml", GAP)
    write(pytester, "variants/drafts/wrong.toml", KL_FLIPPED)
    write(pytester, "derivations/jensen.toml", JENSEN)
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\nelbo_sym_folder_files = ["variants/keep/*.toml"]\n')
    narrowed = run(pytester, "variants/", "-v")
    narrowed.assert_outcomes(passed=1)
    assert "keep/gap.toml::gap" in narrowed.stdout.str()
    write(pytester, "pyproject.toml", "[tool.pytest.ini_options]\nelbo_sym_collect_folders = false\n")
    off = run(pytester, "variants/")
    assert off.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    run(pytester, "derivations/").assert_outcomes(passed=1)              # elbo_sym_files still apply
    run(pytester, "variants/drafts/wrong.toml").assert_outcomes(failed=1)  # and files named explicitly
    write(pytester, "pyproject.toml", "[tool.pytest.ini_options]\n")
    run(pytester, "variants/").assert_outcomes(passed=1, failed=1)       # the default: all of them


def test_assert_refuted_from_python_tests(pytester: pytest.Pytester) -> None:
    write(pytester, "data/good.toml", GAP)
    write(pytester, "data/wrong.toml", KL_FLIPPED)
    write(pytester, "test_refuted.py", """
from elbo_sym.authoring.testing import assert_refuted


def test_step_refuted():
    step = assert_refuted("data/wrong.toml", step=4)
    assert step.counterexample is not None


def test_somewhere():
    assert assert_refuted("data/wrong.toml").steps[3].verdict == "refuted"


def test_not_refuted():
    assert_refuted("data/good.toml", step=2)
""")
    result = run(pytester, "test_refuted.py")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    section = out[out.index("_ test_not_refuted _"):]
    assert section.splitlines()[1].startswith("data/good.toml:")
    assert "step 2 is proved, not refuted" in section.splitlines()[1]
    assert "(assert_refuted called at test_refuted.py:15)" in section
    assert "Traceback" not in out


@pytest.mark.full
def test_repository_derivations_pass(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*_plugin_args(), *QUIET, "--rootdir", str(REPO),
                                "-c", str(REPO / "pyproject.toml"), str(REPO / "derivations"), "-q")
    files = sorted((REPO / "derivations").rglob("*.toml"))   # a named folder: every derivation below it
    assert len(files) > len(list((REPO / "derivations").glob("*.toml")))
    result.assert_outcomes(passed=len(files))


def test_matches_pattern() -> None:
    from elbo_sym.authoring.pytest_plugin import matches_pattern

    assert matches_pattern("derivations/gap.toml", "derivations/*.toml")
    assert not matches_pattern("derivations/sub/gap.toml", "derivations/*.toml")
    assert not matches_pattern("tests/derivations/gap.toml", "derivations/*.toml")
    assert matches_pattern("variants/a/b/x.toml", "variants/**/*.toml")
    assert matches_pattern("variants/x.toml", "variants/**/*.toml")
    assert matches_pattern("./derivations/gap.toml", "derivations/*.toml")


def test_a_file_not_read_within_elbo_sym_file_budget_is_a_clean_failing_item(pytester: pytest.Pytester) -> None:
    """Collection reads each file within its file budget: a file slow to read (about 2 s here, and
    minutes to check) is one failing item naming it, soon -- not a hang; the others still pass."""

    from slow_input import slow_derivation

    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\nelbo_sym_file_budget = "0.2"\n')
    write(pytester, "variants/gap.toml", GAP)
    write(pytester, "variants/slow.toml", slow_derivation(140))
    with cpu_bounded(15.0):  # the good file's check included
        result = run(pytester, "variants", "-rf")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "variants/slow.toml: file budget of 0.2 CPU seconds exhausted while reading the file" in out
    assert "Traceback" not in out


def test_a_bad_elbo_sym_file_budget_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\nelbo_sym_file_budget = "-1"\n')
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "elbo_sym_file_budget must be a finite number of seconds > 0" in result.stderr.str()


RULE_LIST = ('title = "a rule given as a list"\nstart = "log(p(x))"\n\n'
             '[[step]]\nrel = ">="\nexpr = "ELBO(q)"\nrule = []\n')


def test_a_rule_that_is_a_list_fails_its_item_and_the_other_files_still_run(pytester: pytest.Pytester) -> None:
    """rt3 F2: `rule = []` was a collection error that stopped the session."""
    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/rule_list.toml", RULE_LIST)
    result = run(pytester, "derivations")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "derivations/rule_list.toml:7:8: step 1: rule must be a string naming a rule" in out
    assert "Traceback" not in out and "error" not in out.splitlines()[-1]


@pytest.mark.full
def test_a_reader_bug_fails_that_file_only(pytester: pytest.Pytester) -> None:
    """An exception that is not an input error (a bug) fails its file's item with the traceback;
    the other files are still checked."""
    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/crash.toml", GAP)
    pytester.makeconftest("""
import elbo_sym.report.build as build

real = build.load_in_time

def crashing(path, *args, **kwargs):
    if str(path).endswith("crash.toml"):
        raise TypeError("a bug of the reader")
    return real(path, *args, **kwargs)

build.load_in_time = crashing
""")
    result = run(pytester, "derivations")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "FAILED derivations/crash.toml::crash - TypeError: a bug of the reader" in out
    assert "errors" not in out.splitlines()[-1]


GAUSSIAN_SLIP = ('title = "A wrong Gaussian step"\nmodel = "gaussian"\nstart = "log(1 - q(z))"\n\n'
                 '[[step]]\nrel = "="\nexpr = "log(1 - q(z))"\nrule = "algebra"\n')


@pytest.mark.full
def test_a_counterexample_at_a_density_point_names_the_values_not_z_equals_z(pytester: pytest.Pytester) -> None:
    """rt3 F1: the failure printed "at z = z" (the model's symbol); the values are the point."""
    write(pytester, "derivations/slip.toml", GAUSSIAN_SLIP)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "z = z" not in out
    line = next(text for text in out.splitlines() if "counterexample (" in text)
    assert re.search(r", z = -?\d+(/\d+)?$", line), line


@pytest.mark.full
def test_a_course_folder_collects_what_its_settings_list(pytester: pytest.Pytester) -> None:
    """The README's course (red team rt26: a plain `pytest` there collected nothing): a plain run
    reads elbo-sym.toml as `elbo-sym check` does, so bound.toml beside it is a test; named, too."""
    write(pytester, "bound.toml", GAP)
    write(pytester, "elbo-sym.toml", 'title = "Week 5"\nderivations = ["bound.toml"]\n')
    run(pytester, "-v").stdout.fnmatch_lines(["*bound.toml::bound: The gap is a KL divergence PASSED*"])
    run(pytester, "bound.toml").assert_outcomes(passed=1)


@pytest.mark.full
def test_a_plain_run_fails_where_check_fails(pytester: pytest.Pytester, capsys) -> None:
    """A course whose settings list no derivations: `check` reads derivations/ with its subfolders,
    and so must a plain run (the default elbo_sym_files, derivations/*.toml, misses teaching/)."""
    from elbo_sym.cli import main

    write(pytester, "elbo-sym.toml", 'title = "Week 5"\n')
    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/teaching/slip.toml", KL_FLIPPED)  # a slip not marked as one
    assert main(["check", "--no-cache"]) == 1
    assert "slip.toml" in capsys.readouterr().out
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert "derivations/teaching/slip.toml:" in result.stdout.str() and "is refuted" in result.stdout.str()
    run(pytester, "-k", "slip").assert_outcomes(failed=1)       # selected like any other item
    run(pytester, "derivations/gap.toml").assert_outcomes(passed=1)  # paths named: no project (as check PATHS)
    write(pytester, "pyproject.toml", "[tool.pytest.ini_options]\nelbo_sym_project = false\n")
    run(pytester).assert_outcomes(passed=1)


DECK = 'title = "Flashcards"\n\n[[card]]\nfront = "Above?"\nback = "No."\nformula = "ELBO(q) >= log(p(x))"\n'


def test_a_deck_among_the_derivations_is_skipped_with_checks_note(pytester: pytest.Pytester, capsys) -> None:
    """red team rt36's M3: the default elbo_sym_files (derivations/*.toml) met derivations/cards.toml,
    a deck, and failed it as a derivation, where `check derivations/` skips it with a note."""
    from elbo_sym.cli import main

    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/cards.toml", DECK)
    assert main(["check", str(pytester.path / "derivations"), "--no-cache"]) == 0
    assert "skipped " in capsys.readouterr().err
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert ("\nelbo-sym: skipped derivations/cards.toml: a deck ([[card]] or [[question]] tables), not a "
            "derivation; check it with elbo-sym cards derivations/cards.toml --check\n") in result.stdout.str()
    run(pytester, "derivations/").assert_outcomes(passed=1)  # a named folder, as before: no deck collected


@pytest.mark.full
def test_the_deck_note_is_said_under_xdist(pytester: pytest.Pytester) -> None:
    """Under `-n 2` the workers collect and the controller prints the summary: the workers send the
    decks they skipped (workeroutput) and the controller says each once (it said nothing before)."""
    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "derivations/cards.toml", DECK)
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=1)
    assert result.stdout.str().count("elbo-sym: skipped derivations/cards.toml: a deck ") == 1


def test_the_project_is_read_beyond_testpaths(pytester: pytest.Pytester) -> None:
    """testpaths keep pytest's walk in tests/; the project's derivations are still checked."""
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    write(pytester, "tests/test_nothing.py", "def test_nothing():\n    pass\n")
    write(pytester, "elbo-sym.toml", 'derivations = ["extra/bound.toml"]\n')
    write(pytester, "extra/bound.toml", KL_FLIPPED)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert "extra/bound.toml:" in result.stdout.str()


def test_a_malformed_project_file_is_one_failing_item(pytester: pytest.Pytester, capsys) -> None:
    from elbo_sym.cli import main

    write(pytester, "derivations/gap.toml", GAP)
    write(pytester, "elbo-sym.toml", 'title = "Week 5"\nflashcards = "missing.toml"\n')
    assert main(["check", "--no-cache"]) == 2
    refusal = capsys.readouterr().err
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)  # derivations/gap.toml still runs
    out = result.stdout.str()
    assert "elbo-sym.toml:2:" in refusal and "elbo-sym.toml:2:" in out and "missing.toml" in out
    assert "Traceback" not in out
    write(pytester, "elbo-sym.toml", 'title = "Week 5"\nderivations = []\n')
    run(pytester).assert_outcomes(failed=1, passed=1)

def test_project_files_are_what_check_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from elbo_sym import project_files
    from elbo_sym.engine.derivation import DerivationError

    write_to = tmp_path / "course"
    (write_to / "derivations" / "teaching").mkdir(parents=True)
    (write_to / "derivations" / "gap.toml").write_text(GAP, "utf-8")
    (write_to / "derivations" / "teaching" / "slip.toml").write_text(KL_FLIPPED, "utf-8")
    assert project_files(write_to) is None                        # no elbo-sym.toml: nothing read
    (write_to / "elbo-sym.toml").write_text('title = "Week 5"\n', "utf-8")
    monkeypatch.chdir(write_to)
    assert project_files() == [Path("derivations/gap.toml"), Path("derivations/teaching/slip.toml")]
    (write_to / "elbo-sym.toml").write_text('derivations = ["derivations/gap.toml"]\n', "utf-8")
    assert project_files(write_to) == [Path("derivations/gap.toml")]
    (write_to / "elbo-sym.toml").write_text('derivations = "nowhere.toml"\n', "utf-8")
    with pytest.raises(DerivationError) as error:
        project_files(write_to)
    assert isinstance(error.value, AssertionError) and str(error.value).startswith("elbo-sym.toml:1:")

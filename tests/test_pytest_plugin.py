"""The pytest plugin: derivation files as test items, readable failures, clean collection errors."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

import elbo_sym.engine.check  # noqa: F401  (imported here so in-process pytester runs keep SymPy loaded)
import elbo_sym.authoring.explain  # noqa: F401
import elbo_sym.engine.repair  # noqa: F401

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
    """`-p elbo_sym.authoring.pytest_plugin` unless the package is installed (then the pytest11 entry point loads it)."""
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


def test_malformed_file_is_a_collection_error_with_file_line_and_caret(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", GAP)
    bad = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z), p(z | x)) + foo(z)"')
    write(pytester, "derivations/bad.toml", bad)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    line = bad.splitlines().index('expr = "KL(q(z), p(z | x)) + foo(z)"') + 1
    assert "ERROR collecting derivations/bad.toml" in out
    assert f"derivations/bad.toml:{line}:" in out and "unknown function 'foo'" in out
    source = 'expr = "KL(q(z), p(z | x)) + foo(z)"'
    caret_line = next(text for text in out.splitlines() if text.strip() == "^")
    assert source[caret_line.index("^") - 4:].startswith("foo")
    assert "Traceback" not in out and "elbo_sym/" not in out and "DerivationError" not in out


def test_malformed_toml_is_a_collection_error(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/broken.toml", 'title = "t"\nstart = log(p(x))\n')
    result = run(pytester)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "derivations/broken.toml:2:" in out and "malformed TOML" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("content", [
    "x = " + "[" * 50_000 + "]" * 50_000 + "\n",       # tomllib recurses: RecursionError
    'title = "t"\nstart = "log(p(x))\n',               # malformed TOML
    "title = \"\xff\"\n",                            # not UTF-8 (written as latin-1 below)
])
def test_an_explicit_file_that_does_not_parse_is_a_clean_collection_error(pytester: pytest.Pytester,
                                                                          content: str) -> None:
    """Named on the command line, a .toml that tomllib cannot read is collected and reported
    (file and line), never a traceback or an internal error (exit status 4 or 3)."""
    (pytester.path / "deep.toml").write_bytes(content.encode("latin-1"))
    result = run(pytester, "deep.toml")
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str() + result.stderr.str()
    assert "ERROR collecting deep.toml" in out and "deep.toml:" in out
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


def test_project_test_run_does_not_collect_derivations(pytester: pytest.Pytester) -> None:
    write(pytester, "derivations/gap.toml", KL_FLIPPED)     # would fail if collected
    write(pytester, "tests/data/sample.toml", GAP)           # not under the patterns
    write(pytester, "tests/test_one.py", "def test_one():\n    assert True\n")
    write(pytester, "pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    run(pytester).assert_outcomes(passed=1)
    run(pytester, "tests/").assert_outcomes(passed=1)
    run(pytester, "derivations/").assert_outcomes(failed=1)   # asked for: collected


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
    assert "DerivationFailed: data/wrong.toml:" in out or "AssertionError" in out
    assert "counterexample (example 1)" in out
    assert "suggestion: swap the two arguments of KL" in out


def test_repository_derivations_pass(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*_plugin_args(), *QUIET, "--rootdir", str(REPO),
                                "-c", str(REPO / "pyproject.toml"), str(REPO / "derivations"), "-q")
    files = sorted((REPO / "derivations").glob("*.toml"))
    result.assert_outcomes(passed=len(files))


def test_matches_pattern() -> None:
    from elbo_sym.authoring.pytest_plugin import matches_pattern

    assert matches_pattern("derivations/gap.toml", "derivations/*.toml")
    assert not matches_pattern("derivations/sub/gap.toml", "derivations/*.toml")
    assert not matches_pattern("tests/derivations/gap.toml", "derivations/*.toml")
    assert matches_pattern("variants/a/b/x.toml", "variants/**/*.toml")
    assert matches_pattern("variants/x.toml", "variants/**/*.toml")
    assert matches_pattern("./derivations/gap.toml", "derivations/*.toml")

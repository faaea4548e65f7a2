"""Red team rt41's authoring and publishing findings (session 18): where an author's mistake is
reported (file:line:col and caret at the culprit) and what the advice says."""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError
from elbo_sym.publish.project import PROJECT_FILE, load_project


def _error(path: Path) -> DerivationError:
    with pytest.raises(DerivationError) as caught:
        load_project(path)
    return caught.value


def _pointed(error: DerivationError) -> str:
    """The text from the error's column on its line."""
    assert error.source is not None and error.column is not None, str(error)
    return error.source[error.column:]


# --------------------------------------------------------------------------- F2, F3: elbo-sym.toml


@pytest.mark.parametrize("listed", ['"elbo-sym.toml"', '"./elbo-sym.toml"'])
def test_the_settings_file_named_in_derivations_is_refused_at_its_entry(tmp_path, listed):
    """F2: `derivations = ["bound.toml", "elbo-sym.toml"]` was read as a derivation and refused with
    advice for the command line ("run check in its folder, without naming the file"), at 1:1."""
    (tmp_path / "bound.toml").write_text("", "utf-8")
    (tmp_path / PROJECT_FILE).write_text(f'derivations = ["bound.toml", {listed}]\n', "utf-8")
    error = _error(tmp_path / PROJECT_FILE)
    assert error.line == 1 and _pointed(error).startswith(listed[1:]), str(error)
    assert "settings file" in error.message and "remove it from the list" in error.message


def test_the_settings_file_named_in_derivations_is_refused_by_check(tmp_path, monkeypatch, capsys):
    (tmp_path / PROJECT_FILE).write_text('derivations = ["elbo-sym.toml"]\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("elbo-sym: error: elbo-sym.toml:1:17: derivations:"), err
    assert err[2].index("^") == err[1].index('elbo-sym.toml"'), err  # the caret under the entry


@pytest.mark.parametrize(("title", "culprit"), [
    ("Week five, a long course title with a $ sign", "$ sign"),
    ("Week five: $1 + beta$ and more", "beta"),
    ("Week five \\u2028 line", "\\u2028"),
])
def test_a_title_error_points_at_its_culprit(tmp_path, title, culprit):
    """F3: a course title's error named the string's first column; a deck's and a derivation's
    name the culprit's."""
    (tmp_path / PROJECT_FILE).write_text(f'derivations = "."\ntitle = "{title}"\n', "utf-8")
    error = _error(tmp_path / PROJECT_FILE)
    assert error.line == 2 and _pointed(error).startswith(culprit), str(error)
    assert str(error).startswith(f"{tmp_path / PROJECT_FILE}:2:{error.column + 1}: "), str(error)


def test_a_project_error_shows_its_line_and_caret_on_the_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / PROJECT_FILE).write_text('title = "A $ sign"\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["example"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("elbo-sym: error: elbo-sym.toml:1:12: title: unclosed $"), err
    assert err[1].strip() == 'title = "A $ sign"' and err[2].index("^") == err[1].index("$"), err

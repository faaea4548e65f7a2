"""Error positions count lines as TOML does: a file breaks at "\n" (and "\r\n") only.  A line
separator (U+2028, U+2029) or NEL (U+0085) is allowed in a TOML string or comment and is no line
break there, but str.splitlines breaks at it, so every error after such a line named the wrong
line (the derivation loader, the deck loader and the project file all read positions this way)."""

from __future__ import annotations

import tomllib

import pytest

from elbo_sym.engine.derivation import DerivationError, loads, toml_lines
from elbo_sym.files import PROJECT_FILE
from elbo_sym.lesson.practice import load_deck
from elbo_sym.publish.project import load_project

NOT_TOML_BREAKS = ["\u2028", "\u2029", "\x85"]  # the characters splitlines breaks at that TOML allows in text
STEP = 'title = "t"\nK = 2\nstart = "log(p(x)) - ELBO(q)"\n\n[[step]]\nrel = "="\n'


def position(text: str, fragment: str) -> tuple[int, int]:
    """(line, 0-based column) of `fragment`, counting lines at "\n" as TOML does."""
    before = text[: text.index(fragment)]
    return before.count("\n") + 1, len(before) - before.rfind("\n") - 1


@pytest.mark.parametrize("separator", NOT_TOML_BREAKS)
def test_a_formula_error_after_a_line_holding_a_separator_names_its_line_and_column(separator):
    text = f'# a note{separator}that goes on\n{STEP}expr = "KL(q(z), p(z | x)) + foo(1)"\nrule = "definition"\n'
    with pytest.raises(DerivationError) as info:
        loads(text, "f.toml")
    line, column = position(text, "foo(")
    assert (info.value.line, info.value.column) == (line, column) == (8, 29), str(info.value)
    assert str(info.value).startswith(f"f.toml:8:{column + 1}: step 1: expr: unknown function 'foo'")
    assert info.value.source == 'expr = "KL(q(z), p(z | x)) + foo(1)"'


@pytest.mark.parametrize("separator", NOT_TOML_BREAKS)
def test_a_toml_error_after_a_string_holding_a_separator_shows_its_own_line(separator):
    text = f'title = "t{separator}u"\nK = 2\nstart = = "ELBO(q)"\n'
    with pytest.raises(DerivationError, match="malformed TOML") as info:
        loads(text, "f.toml")
    assert (info.value.line, info.value.source) == (3, 'start = = "ELBO(q)"'), str(info.value)


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_a_control_character_toml_refuses_is_shown_in_its_whole_line(control):
    """TOML refuses these (splitlines breaks at them): the error shows the line they are on, whole."""
    with pytest.raises(DerivationError, match="invalid character") as info:
        loads(f'title = "t"\n# a{control}b\nK = 2\n', "f.toml")
    assert (info.value.line, info.value.column, info.value.source) == (2, 3, f"# a{control}b"), str(info.value)


@pytest.mark.parametrize("separator", NOT_TOML_BREAKS)
def test_a_deck_error_after_a_line_holding_a_separator_names_its_line(tmp_path, separator):
    text = (f'# cards{separator}for week 5\ntitle = "t"\n\n[[card]]\nfront = "f"\nback = "b"\n'
            'formula = "log(p(x)) >= ELBO(q"\n')
    path = tmp_path / "deck.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DerivationError, match="formula") as info:
        load_deck(path)
    assert info.value.line == 7 and info.value.source == 'formula = "log(p(x)) >= ELBO(q"', str(info.value)


@pytest.mark.parametrize("separator", NOT_TOML_BREAKS)
def test_a_project_file_error_after_a_line_holding_a_separator_names_its_line(tmp_path, separator):
    path = tmp_path / PROJECT_FILE
    path.write_text(f'# week 5{separator}notes\ntitle = "Week 5"\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(DerivationError, match="unknown key 'colour'") as info:
        load_project(path)
    assert info.value.line == 3, str(info.value)


@pytest.mark.parametrize("text", ["", "a\n", "a", "a\r\nb\r\n", "a\n\nb", "a\u2028b\x85c\u2029\nd\n", "a\rb\n",
                                  "\n", "a\n\n"])
def test_toml_lines_are_the_lines_tomllib_numbers(text):
    """Line n of toml_lines holds what lies between the (n-1)-th and the n-th "\n" (tomllib's count),
    without the break; as splitlines, no empty line after a final newline."""
    lines = toml_lines(text)
    pieces = text.split("\n")
    assert len(lines) == len(pieces) - (pieces[-1] == "")
    assert all(line == piece.removesuffix("\r") for line, piece in zip(lines, pieces))


def test_tomllib_counts_lines_at_newlines_only():
    """The premise: tomllib's error line does not count a line separator."""
    with pytest.raises(tomllib.TOMLDecodeError, match="line 2"):
        tomllib.loads('a = "x\u2028y"\nb = = 1\n')

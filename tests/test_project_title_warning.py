"""The course's own title stating a relation in words warns, as a deck's and a derivation's title do.

``title = "Why $KL(q(z), p(z | x))$ is $0$"`` in elbo-sym.toml is printed on every handout's header and
page, checked by nothing: every command that reads the project prints a warning on stderr (file:line:column,
what the checker found), and nothing is refused (session 18's note).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.publish.project import load_project, title_warning_lines

FALSE_TITLE = 'title = "Why $KL(q(z), p(z | x))$ is $0$"\n'


@pytest.fixture
def course(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "elbo-sym.toml"


def test_a_false_relation_in_the_title_warns_on_stderr_and_refuses_nothing(course: Path, capsys) -> None:
    course.write_text("# the course\n" + FALSE_TITLE, "utf-8")
    assert main(["drill", "--count", "1"]) == 0
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert line.startswith("warning: elbo-sym.toml:2:35: title: \"$KL(q(z), p(z | x))$ is $0$\" states a relation "
                           "in words that nothing checks (checked on its own it is refuted)"), line
    assert out and "warning" not in out  # the sheet, printed as ever


def test_a_title_the_checker_proves_or_that_states_nothing_does_not_warn(course: Path) -> None:
    for title in ("Week 5: why $KL(q(z), p(z))$ is at least $0$", "Week 5: the ELBO and $KL(q(z), p(z))$",
                  "Why KL is always positive"):
        course.write_text(f'title = "{title}"\n', "utf-8")
        assert title_warning_lines(load_project(course)) == (), title


def test_the_relation_is_found_where_the_derivation_reader_finds_a_titles(course: Path) -> None:
    course.write_text(FALSE_TITLE, "utf-8")
    (found,) = load_project(course).title_relations
    assert (found.rel, found.text, found.what, found.line) == ("=", "$KL(q(z), p(z | x))$ is $0$", "title", 1)
    assert found.column == 35  # as a deck's and a derivation's title's relation is placed (tests/test_deck_wording.py)

"""Red team rt52 (a newcomer and a teacher, end to end): the publishing findings.

* F1: the site's derivation page wrote one numbered item per step, so a chain without any `why` had
  ten empty items under it; now only a step with a note (or, on the teacher's page, its mark and rule)
  has one, each numbered as its row ``(n)`` also when the steps with notes are not consecutive.
* F2: `check` in a course folder read only what elbo-sym.toml lists, and said nothing of a derivation
  file beside it that it does not list; now one note on stderr names it (exit status unchanged).
* F3 (the roster's file:line:col and caret): tests/test_roster.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_web import _chromium, _render, requires_chromium  # noqa: F401  (a fixture)

from elbo_sym.cli import main
from elbo_sym.publish import web
from elbo_sym.report.build import check_file

STEPS = [  # three true steps of the lesson's gap, each (relation, expression, rule)
    ("=", "Sum(q(z) * (log(p(x)) - log(p(x, z) / q(z))), z)", "linearity"),
    ("=", "-(ELBO(q) - log(p(x)))", "algebra"),
    ("=", "-(Sum(q(z) * log(p(x, z)), z) + H(q)) + log(p(x))", "definition"),
]


def derivation(title: str, whys: dict[int, str] | None = None) -> str:
    """A derivation of STEPS whose step n has the note `whys[n]` (none by default)."""
    steps = "".join(f'\n[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n'
                    + (f'why = "{(whys or {})[n]}"\n' if n in (whys or {}) else "")
                    for n, (rel, expr, rule) in enumerate(STEPS, 1))
    return f'title = "{title}"\nmodel = "discrete"\nK = "any"\nstart = "log(p(x)) - ELBO(q)"\n{steps}'


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rt52")
    texts = {"bare.toml": derivation("No notes"),
             "sparse.toml": derivation("Two notes", {1: "expand it", 3: "regroup"})}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [check_file(folder / name) for name in texts]


def section(body: str, number: int) -> str:
    """The Markdown of the page's `number`-th derivation (its heading "## 1\\. No notes" on)."""
    return re.split(r"(?m)^(?=## )", body)[number]


def test_f1_no_empty_items_when_no_step_has_a_why(reports):
    body = web.derivations_page(reports).body
    bare = section(body, 1)
    assert not re.search(r"(?m)^\d+[.)]", bare), bare  # main: "1. ", "2. ", "3. " with nothing after
    sparse = section(body, 2)
    assert re.findall(r"(?m)^\d+[.)].*$", sparse) == ["1. expand it", "3) regroup"], sparse


def test_f1_the_teachers_page_keeps_every_steps_mark_and_rule(reports):
    body = web.derivations_page(reports, solutions="inline").body
    items = re.findall(r"(?m)^\d+\. .*$", section(body, 1))
    assert [item.split()[0] for item in items] == ["1.", "2.", "3."]
    assert all("`" in item for item in items), items  # each with its rule


@pytest.mark.full
def test_f1_the_rendered_page_numbers_each_note_as_its_row(reports, tmp_path, request):
    """In headless Chromium: no list under the chain without notes, and the notes of steps 1 and 3 as
    items 1 and 3 (CommonMark numbers a list from its first item: one list would show 1 and 2)."""
    browser = request.getfixturevalue("requires_chromium")  # test_web's: node, KaTeX and chromium
    html = _render(tmp_path, web.derivations_page(reports))
    dom = _chromium(browser, tmp_path, "--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    bare, sparse = re.split(r"<h2[^>]*>", dom.stdout)[1:3]
    assert "<ol" not in bare and "<li" not in bare, bare
    lists = re.findall(r"<ol( start=\"(\d+)\")?>\s*(.*?)</ol>", sparse, re.S)
    assert [(start or "1", re.findall(r"<li>(.*?)</li>", items, re.S)) for _, start, items in lists] == [
        ("1", ["expand it"]), ("3", ["regroup"])], sparse
    assert not re.search(r"<li>\s*</li>", dom.stdout)


# --------------------------------------------------------------------------- F2


def course(folder: Path, project: str) -> Path:
    folder.mkdir()
    (folder / "elbo-sym.toml").write_text(project, encoding="utf-8")
    (folder / "bound.toml").write_text(derivation("Listed"), encoding="utf-8")
    (folder / "gap2.toml").write_text(derivation("Not listed"), encoding="utf-8")
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")  # no derivation
    (folder / "cards.toml").write_text('title = "c"\n[[card]]\nfront = "a"\nback = "b"\nformula = "H(q) >= 0"\n',
                                       encoding="utf-8")  # a deck, not a derivation
    return folder


@pytest.mark.full
def test_f2_check_names_a_derivation_file_the_project_does_not_list(tmp_path, monkeypatch, capsys):
    project = 'title = "w"\nderivations = ["bound.toml"]\nflashcards = "cards.toml"\n'
    monkeypatch.chdir(course(tmp_path / "week5", project))
    assert main(["check"]) == 0  # the exit status is bound.toml's: the note changes nothing
    out, err = capsys.readouterr()
    assert "1/1 file(s) pass" in out and "Not listed" not in out
    assert err.splitlines() == ["elbo-sym: note: gap2.toml not checked: elbo-sym.toml is the course's list and its "
                                "derivations = [...] does not list it; list it there or pass it as a path"], err


def test_f2_no_note_when_the_project_lists_every_derivation_beside_it(tmp_path, monkeypatch):
    from elbo_sym.publish.project import find_project, unlisted_notes

    monkeypatch.chdir(course(tmp_path / "week5", 'title = "w"\nderivations = ["bound.toml", "gap2.toml"]\n'))
    project = find_project(None)
    assert unlisted_notes(project, project.derivation_paths()) == []
    (tmp_path / "week5" / "elbo-sym.toml").write_text('title = "w"\nderivations = ["."]\n', encoding="utf-8")
    project = find_project(None)
    assert unlisted_notes(project, project.derivation_paths()) == []
    (tmp_path / "week5" / "elbo-sym.toml").write_text('title = "w"\nderivations = ["bound.toml"]\n', encoding="utf-8")
    project = find_project(None)
    assert unlisted_notes(project, project.derivation_paths()) == [
        "note: gap2.toml not checked: elbo-sym.toml is the course's list and its derivations = [...] does not "
        "list it; list it there or pass it as a path"]

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
from child_processes import CHILD_TIMEOUT_SECONDS
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


# --------------------------------------------------------------------------- F4

WIDE_TITLE = "Two faces of the ELBO & the 100% rule #3"
WIDE = (f'title = "{WIDE_TITLE}"\nmodel = "discrete"\nK = "any"\nstart = "ELBO(q)"\n\n'
        '[[step]]\nrel = "="\nexpr = "ELBO(q) + (' + " + ".join(["KL(q(z), p(z | x))"] * 10)
        + ') / 10 - KL(q(z), p(z | x))"\nrule = "algebra"\n\n'
        '[[step]]\nrel = "="\nexpr = "ELBO(q)"\nrule = "algebra"\n')
"""rt52's /tmp/rt52/errs/e8/elbo-terms.toml, shortened: step 1's one term (a sum of ten KLs over 10) is too
wide at 70 % of its size, so the build fails and names it; its expr is on line 8."""


def test_f4_a_heading_is_named_as_typed():
    from elbo_sym.publish.render import latex_escape, overfull_boxes

    source = f"\\section*{{1.\\enspace {latex_escape(WIDE_TITLE + ' a--b ~x ^y [z] {w} $5 a_b')}}}\nx\n"
    log = "Overfull \\hbox (12.0pt too wide) in paragraph at lines 2--2\n"
    [box] = overfull_boxes(log, source)
    assert box.section == f"1. {WIDE_TITLE} a--b ~x ^y [z] {{w}} $5 a_b"  # main: "... ELBO the 100 rule 3 ..."


def test_f4_a_template_overflow_names_the_step_it_was_setting():
    from elbo_sym.publish.render import overfull_boxes

    source = "\n".join(["\\section*{1.\\enspace Gap}", "%@ the chain of gap.toml", "\\begin{align*}",
                        "%@step 1 gap.toml:9", "a &= \\chainstepat{1}\\chainbreak{b}\\\\",
                        "%@step 2 gap.toml:14", "&= \\chainstepat{2}\\chainbreak{c}", "\\end{align*}"])
    log = ("elbo-sym layout: a term scaled below 70 percent of its size is 30.0pt too wide at line 8 in step 1\n"
           "elbo-sym layout: a term scaled below 70 percent of its size is 20.0pt too wide at line 8\n")
    first, second = overfull_boxes(log, source)
    assert first.describe() == ("a term scaled below 70 percent of its size is 30.0pt too wide at line 8 (section "
                                "'1. Gap', step 1 of the chain, gap.toml:9, measured by the template)")
    assert second.part == "the chain of gap.toml, measured by the template"  # no step: the marker above


@pytest.mark.full
def test_f4_the_build_names_the_title_as_typed_and_the_steps_line(tmp_path, monkeypatch, capsys, requires_latex):
    monkeypatch.chdir(tmp_path)
    Path("wide.toml").write_text(WIDE, encoding="utf-8")
    assert main(["build", "wide.toml", "--out", "h", "--only", "derivations"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"warning: derivations\.pdf: a term scaled below 70 percent of its size is [\d.]+pt too wide at "
                     rf"line \d+ \(section '1\. {re.escape(WIDE_TITLE)}', step 1 of the chain, wide\.toml:8, "
                     r"measured by the template\)", err), err
    assert not Path("h/derivations.pdf").exists()


# --------------------------------------------------------------------------- F5

ROOT = Path(__file__).resolve().parents[1]


def handouts_build_line() -> str:
    """The `elbo-sym build` line of the Makefile's handouts recipe."""
    recipe = ROOT.joinpath("Makefile").read_text(encoding="utf-8").split("\nhandouts:", 1)[1].split("\n\n", 1)[0]
    [line] = [line.strip() for line in recipe.splitlines() if "elbo-sym build" in line]
    return line


@pytest.mark.full
def test_f5_make_handouts_fails_without_tex(tmp_path):
    """The recipe's settings, without TeX on PATH: exit 1, no PDF, the install hint -- as the README says
    (main: exit 0 with derivations.tex only, the README saying it fails)."""
    import os
    import subprocess
    import sys

    line = handouts_build_line()
    settings = dict(word.split("=", 1) for word in line.split("$(BIN)/elbo-sym build", 1)[0].split())
    assert settings.get("ELBO_SYM_REQUIRE_LATEX") == "1", line
    (tmp_path / "gap.toml").write_text(derivation("Gap"), encoding="utf-8")
    bare = tmp_path / "bin"  # a PATH without latexmk and pdflatex
    bare.mkdir()
    env = {**os.environ, **settings, "PATH": str(bare)}
    run = subprocess.run([sys.executable, "-m", "elbo_sym", "build", "gap.toml", "--out", "h", "--only",
                          "derivations"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Install TeX Live with:" in run.stderr
    assert not list((tmp_path / "h").glob("*.pdf"))
    readme = " ".join(ROOT.joinpath("README.md").read_text(encoding="utf-8").split())
    assert "and when TeX is missing and cannot be installed" in readme


# --------------------------------------------------------------------------- F6


SHORT = ('title = "Gap"\nmodel = "discrete"\nK = "any"\nstart = "log(p(x)) - ELBO(q)"\n\n'
         '[[step]]\nrel = "="\nexpr = "-(ELBO(q) - log(p(x)))"\nrule = "algebra"\n')
"""One step: a derivation the F6 test builds twice, quickly."""


def pdf_text(path: Path) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


@pytest.mark.full
def test_f6_only_exercises_without_solutions_removes_the_old_key(tmp_path, monkeypatch, capsys, requires_latex):
    """A sheet of seed 8 never stands beside the key of seed 7: `--only exercises --solutions none` removes
    the answers.pdf (and .tex) an earlier build wrote, with a note, as a whole build does; the other
    handouts stay (`--only` removes nothing else)."""
    monkeypatch.chdir(tmp_path)
    Path("gap.toml").write_text(SHORT, encoding="utf-8")
    assert main(["build", "gap.toml", "--out", "h", "--only", "derivations"]) == 0
    assert main(["build", "gap.toml", "--out", "h", "--seed", "7", "--only", "exercises"]) == 0
    assert "seed 7" in pdf_text(Path("h/answers.pdf"))
    capsys.readouterr()
    assert main(["build", "gap.toml", "--out", "h", "--seed", "8", "--solutions", "none", "--only", "exercises"]) == 0
    out = capsys.readouterr().out
    assert "  removed h/answers.pdf (this build has no such handout)" in out.splitlines(), out
    assert "  removed h/answers.tex (this build has no such handout)" in out.splitlines(), out
    assert sorted(p.name for p in Path("h").iterdir() if not p.name.startswith(".")) == [
        "derivations.pdf", "derivations.tex", "exercises.pdf", "exercises.tex"]
    assert "seed 8" in pdf_text(Path("h/exercises.pdf"))


@pytest.mark.full
def test_a_result_nearly_a_line_wide_starts_a_line_of_its_own(tmp_path, monkeypatch, requires_latex):
    """derivation()'s three-step result, `log p(x) - L(q) = -(sum_z q(z) log p(x, z) + H[q(z)]) + log p(x)`,
    fits a line but not the rest of "the chain establishes"'s line: \\fitclaim lets it start the next line
    (before: no feasible break, a line 24pt too wide, the build failed)."""
    monkeypatch.chdir(tmp_path)
    Path("gap.toml").write_text(derivation("Gap"), encoding="utf-8")
    assert main(["build", "gap.toml", "--out", "h", "--only", "derivations"]) == 0
    lines = [" ".join(line.split()) for line in pdf_text(Path("h/derivations.pdf")).splitlines()]
    [result] = [line for line in lines if line.startswith("Result.")]
    assert "log" not in result, lines  # the text's line ends before the formula
    assert any(line.startswith("log p(x) − L(q) = −") for line in lines), lines  # which starts a line


# --------------------------------------------------------------------------- F7


def test_f7_an_assume_entry_without_one_relation_is_named_at_the_entry(tmp_path):
    from elbo_sym.engine.derivation import DerivationError, load

    text = ('title = "t"\nmodel = "discrete"\nK = "any"\nassume = ["q(z) = p(z | x)", "KL(q(z), p(z)) >> 0"]\n'
            'start = "ELBO(q)"\n\n[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "assumption"\n')
    (tmp_path / "asm.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DerivationError) as error:
        load(tmp_path / "asm.toml")
    line = text.splitlines()[3]
    assert (error.value.line, error.value.column) == (4, line.index("KL(q(z), p(z)) >>"))  # main: column 0, `assume`
    assert error.value.message.startswith("assume needs exactly one relation")


def test_f7_a_cards_assume_error_names_the_card(tmp_path):
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import load_deck

    text = ('title = "d"\nK = 2\n\n[[card]]\nfront = "a"\nback = "b"\nformula = "H(q) >= 0"\n\n'
            '[[card]]\nfront = "c"\nback = "d"\nformula = "H(q) >= 0"\nassume = ["KL(q(z), p(z)) >> 0"]\n')
    (tmp_path / "cards.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DerivationError) as error:
        load_deck(tmp_path / "cards.toml")
    assert error.value.message.startswith("card 2: assume needs exactly one relation"), error.value.message
    assert (error.value.line, error.value.column) == (13, text.splitlines()[12].index("KL"))

"""Red team rt41's authoring and publishing findings (session 18): where an author's mistake is
reported (file:line:col and caret at the culprit) and what the advice says."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, load
from elbo_sym.files import InputError
from elbo_sym.lesson.practice import load_deck
from elbo_sym.publish.outputs import NotOursError, claim_file
from elbo_sym.publish.project import PROJECT_FILE, load_project

REPO = Path(__file__).resolve().parents[1]


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


# --------------------------------------------------------------------------- F4: "delete it once"


def _anki_like(path: Path, member: str) -> None:
    with zipfile.ZipFile(path, "w") as package:
        package.writestr(member, b"SQLite format 3\0")
        package.writestr("media", b"{}")


@pytest.mark.parametrize(("name", "content", "ours"), [
    ("students.csv", "id,name\nann,Ann\n", False),         # the roster given to --anki by a slip
    ("bound.toml", 'title = "A bound"\n', False),           # a derivation
    ("cards.xml", '<?xml version="1.0"?>\n<quiz/>\n', False),  # Moodle XML elbo-sym did not write
    ("quiz.xml", '<?xml version="1.0"?>\n<!-- elbo-sym cards: Moodle XML, 1 deck(s) -->\n<quiz/>\n', True),
    ("deck.apkg", None, True),                              # an Anki package
    ("other.zip", "zip", False),                            # a zip without an Anki collection
])
def test_only_a_file_that_looks_like_ours_is_told_to_be_deleted_once(tmp_path, name, content, ours):
    """F4: `flashcards --anki students.csv` was refused (good) with advice to delete the roster once,
    the hint meant for a quiz or deck an older elbo-sym wrote before it listed its files."""
    target = tmp_path / name
    if content is None:
        _anki_like(target, "collection.anki2")
    elif content == "zip":
        _anki_like(target, "word/document.xml")
    else:
        target.write_text(content, "utf-8")
    with pytest.raises(NotOursError, match="elbo-sym did not write it") as refused:
        claim_file(target)
    assert ("delete it once" in str(refused.value)) is ours, str(refused.value)


def test_flashcards_onto_the_roster_gives_no_advice_to_delete_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "students.csv").write_text("id,name\nann,Ann\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["flashcards", "--anki", "students.csv"]) == 2
    err = capsys.readouterr().err
    assert "students.csv: elbo-sym did not write it" in err and "delete it once" not in err, err
    assert (tmp_path / "students.csv").read_text("utf-8") == "id,name\nann,Ann\n"


# --------------------------------------------------------------------------- F5, F6: decks given to `cards`

DECK = '''title = "Conditions"
[[card]]
front = "When q is not the posterior?"
back = "The gap is positive."
formula = "log(p(x)) > ELBO(q)"
assume = "q(z) != p(z | x)"
'''


def test_a_deck_named_twice_to_cards_is_read_once(tmp_path, monkeypatch, capsys):
    """F5: `cards deck.toml ./deck.toml --moodle` was told to give the decks different titles, and
    `--check` printed the deck twice; `check` reads a file named twice once."""
    (tmp_path / "deck.toml").write_text(DECK, "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["cards", "deck.toml", "./deck.toml", "--check"]) == 0
    assert capsys.readouterr().out.count("deck.toml — Conditions") == 1
    assert main(["cards", "deck.toml", "./deck.toml", "--moodle", "c.xml"]) == 0, capsys.readouterr().err
    assert (tmp_path / "c.xml").read_text("utf-8").count("<category>") == 1


def test_a_deck_with_both_kinds_of_table_is_told_so_at_the_second_kind(tmp_path):
    """F6: one [[card]] and one [[question]] was told "expected [[question]] ... or [[card]] tables"
    at 1:1, as if it had neither."""
    path = tmp_path / "both.toml"
    path.write_text('title = "Both"\n\n[[card]]\nfront = "f"\nback = "b"\n\n[[question]]\nquestion = "q"\n'
                    'answer = "a"\n', "utf-8")
    with pytest.raises(DerivationError) as caught:
        load_deck(path)
    assert caught.value.line == 7 and "not both" in caught.value.message, str(caught.value)


def test_a_derivation_given_to_cards_is_called_a_derivation(tmp_path):
    text = (REPO / "derivations" / "gap.toml").read_text("utf-8")
    path = tmp_path / "gap.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(DerivationError) as caught:
        load_deck(path)
    start = 1 + next(n for n, line in enumerate(text.splitlines()) if line.startswith("start"))
    assert caught.value.line == start, str(caught.value)
    assert "gap.toml is a derivation" in caught.value.message and "elbo-sym check" in caught.value.message


# --------------------------------------------------------------------------- F9: dotted table headers

STARTER = (REPO / "derivations" / "gap.toml").read_text("utf-8")


def _with_example_table(header: str) -> str:
    """gap.toml with one [[example]] and, under it, the table `header` holding an expected value."""
    return (STARTER + '\n[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n\n'
            + header + '\n"log(p(x))" = "log(3/10)"\n')


@pytest.mark.parametrize(("header", "pointed", "part"), [
    ("[examples.expect]", "[examples.expect]", "unknown key 'examples'"),
    ("[example.expected]", "expected]", "unknown key 'expected' in example"),
    ("[example.expect.deep]", "deep]", "[example.expect.deep] is a table"),
    ("[foo.bar]", "[foo.bar]", "unknown key 'foo'"),
])
def test_a_dotted_header_typo_in_a_derivation_is_reported_at_its_header(tmp_path, header, pointed, part):
    """F9: `[examples.expect]` was reported at 1:1, `[example.expected]` at the [[example]] line,
    `[example.expect.deep]` as an unknown name 'deep' there."""
    path = tmp_path / "typo.toml"
    text = _with_example_table(header.replace("deep]", "deep]\nx = 1") if "deep" in header else header)
    path.write_text(text, "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    line = 1 + text.splitlines().index(header)
    assert caught.value.line == line and part in caught.value.message, str(caught.value)
    assert _pointed(caught.value).startswith(pointed), str(caught.value)


@pytest.mark.parametrize(("config", "line", "pointed", "part"), [
    ('title = "x"\n\n[foo.bar]\nx = 1\n', 3, "[foo.bar]", "unknown key 'foo'"),
    ('[exercises]\nseed = 1\n[exercises.sub]\nx = 1\n', 3, "sub]", "[exercises] unknown key 'sub'"),
    ('title = "x"\n[drill.deep]\nx = 1\n', 2, "deep]", "[drill] unknown key 'deep'"),
])
def test_a_dotted_header_typo_in_elbo_sym_toml_is_reported_at_its_header(tmp_path, config, line, pointed, part):
    (tmp_path / PROJECT_FILE).write_text(config, "utf-8")
    error = _error(tmp_path / PROJECT_FILE)
    assert error.line == line and part in error.message and _pointed(error).startswith(pointed), str(error)


@pytest.mark.parametrize(("deck", "line", "pointed", "part"), [
    ('title = "t"\n[foo.bar]\nx = 1\n[[card]]\nfront = "f"\nback = "b"\n', 2, "[foo.bar]", "unknown key 'foo'"),
    ('title = "t"\n[[card]]\nfront = "f"\nback = "b"\n[card.extra]\nx = 1\n', 5, "extra]", "unknown key 'extra'"),
])
def test_a_dotted_header_typo_in_a_deck_is_reported_at_its_header(tmp_path, deck, line, pointed, part):
    path = tmp_path / "deck.toml"
    path.write_text(deck, "utf-8")
    with pytest.raises(DerivationError) as caught:
        load_deck(path)
    error = caught.value
    assert error.line == line and part in error.message and _pointed(error).startswith(pointed), str(error)


# --------------------------------------------------------------------------- F10: =< and =>


@pytest.mark.parametrize(("claim", "wrong", "right"), [
    ("log(p(x)) - ELBO(q) =< KL(q(z), p(z | x))", "=<", "<="),
    ("log(p(x)) - ELBO(q) => 0", "=>", ">="),
])
def test_a_claim_with_a_relation_written_backwards_says_how_to_write_it(tmp_path, claim, wrong, right):
    """F10: the claim was told it "needs exactly one relation", with the caret at its start; a
    step's `rel = "=<"` is told the right spelling at its column."""
    text = re.sub(r'(?m)^claim = ".*"$', f'claim = "{claim}"', STARTER)
    assert text != STARTER
    path = tmp_path / "claim.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    error = caught.value
    assert f"`{wrong}` is not a relation: write {right}" in error.message, str(error)
    assert _pointed(error).startswith(wrong), str(error)


def test_a_card_formula_with_a_relation_written_backwards_says_how_to_write_it(tmp_path):
    path = tmp_path / "deck.toml"
    path.write_text('title = "t"\n[[card]]\nfront = "f"\nback = "b"\nformula = "ELBO(q) =< log(p(x))"\n', "utf-8")
    with pytest.raises(DerivationError) as caught:
        load_deck(path)
    error = caught.value
    assert error.line == 5 and "card 1: formula: `=<` is not a relation: write <=" in error.message, str(error)
    assert _pointed(error).startswith("=< log"), str(error)


def test_an_assumption_with_a_relation_written_backwards_says_how_to_write_it(tmp_path):
    text = re.sub(r'(?m)^title = ', 'assume = "ELBO(q) => 0"\ntitle = ', STARTER, count=1)
    path = tmp_path / "assume.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(DerivationError) as caught:
        load(path)
    assert "assume: `=>` is not a relation: write >=" in caught.value.message, str(caught.value)
    assert _pointed(caught.value).startswith("=> 0"), str(caught.value)


# --------------------------------------------------------------------------- F8: small wording


def test_the_derivations_page_does_not_call_a_courses_own_derivations_the_lessons(tmp_path):
    """F8: a course's derivations page was described as "The lesson's derivations" (the search snippet
    and social card of a course site)."""
    from elbo_sym import check_file
    from elbo_sym.publish.web import derivations_page

    own = tmp_path / "week5.toml"
    own.write_text(STARTER.replace('title = "The gap is a KL divergence"', 'title = "Week five: the gap"'), "utf-8")
    page = derivations_page([check_file(own)])  # the DerivationReport
    assert page.description.startswith("Derivations, every step machine-checked: Week five"), page.description
    assert "lesson" not in page.description


def test_an_out_folder_that_cannot_be_made_is_named_as_the_out_folder(tmp_path):
    """F8: `--out /proc/x` said "/proc/x: no such file or directory", not that it is --out's folder."""
    from elbo_sym.files import InputError, output_folder

    with pytest.raises(InputError, match=r"^--out /proc/x: cannot create a file in folder /proc: the folder exists"):
        output_folder("/proc/x", "--out")
    assert output_folder(str(tmp_path / "new" / "out"), "--out") == tmp_path / "new" / "out"


# --------------------------------------------------------------------------- F7: a build without TeX


def test_a_build_without_latex_names_the_pdfs_an_earlier_build_left(tmp_path, monkeypatch, capsys):
    """F7: without TeX the new .tex sources were written beside the previous build's PDFs, exit 0, and
    nothing said the PDFs were not rebuilt.  They are kept (nothing lost) and named as stale; a PDF no
    build of elbo-sym listed is not called ours."""
    from elbo_sym.publish import render
    from elbo_sym.publish.handouts import HANDOUTS_MANIFEST
    from elbo_sym.publish.outputs import write_manifest

    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    out = tmp_path / "handouts"
    out.mkdir()
    (out / "derivations.pdf").write_bytes(b"%PDF-1.5 an earlier build\n")
    write_manifest(out, HANDOUTS_MANIFEST, ["derivations.pdf"])  # as the earlier build with TeX listed it
    gap = str(REPO / "derivations" / "gap.toml")
    assert main(["build", gap, "--out", str(out), "--only", "derivations"]) == 0
    err = capsys.readouterr().err
    assert "no LaTeX engine" in err, err
    assert "warning: 1 PDF(s) in" in err and "from an earlier build, not this one" in err, err
    assert "derivations.pdf" in err.split("earlier build")[1], err
    assert (out / "derivations.pdf").read_bytes() == b"%PDF-1.5 an earlier build\n"  # kept
    assert (out / "derivations.tex").is_file()
    (out / HANDOUTS_MANIFEST).unlink()  # the same PDF, listed by no build: not named as ours
    write_manifest(out, HANDOUTS_MANIFEST, ["derivations.tex"])
    assert main(["build", gap, "--out", str(out), "--only", "derivations"]) == 0
    assert "earlier build" not in capsys.readouterr().err


# --------------------------------------------------------------------------- F11: a long file name in a heading

LONG_NAME = "week5_gap_identity_with_kl_divergence_v2.toml"


def test_a_file_name_in_a_heading_may_break_after_underscores_and_dots(tmp_path):
    """F11: the file-name tag of the teacher's derivation sheet had no break point: `\\texttt` with
    `\\_` only, so a 46-character name overflowed the heading and the PDF failed."""
    from elbo_sym import check_file
    from elbo_sym.publish.handouts import derivation_context

    path = tmp_path / LONG_NAME
    path.write_text(STARTER, "utf-8")
    tex = str(derivation_context(check_file(path))["file_tex"])
    assert tex == r"week5\_\allowbreak{}gap\_\allowbreak{}identity\_\allowbreak{}with\_\allowbreak{}kl\_\allowbreak{}" \
                  r"divergence\_\allowbreak{}v2.\allowbreak{}toml", tex


@pytest.mark.full
def test_the_teachers_derivation_sheet_builds_for_a_long_file_name(tmp_path, monkeypatch, capsys):
    """F11 end to end (LaTeX): 46 characters failed by 3.5pt; 155 characters by 547pt."""
    for name in (LONG_NAME, "very_long_derivation_file_name_" * 5 + ".toml"):
        (tmp_path / name).write_text(STARTER, "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["build", ".", "--out", "ho", "--only", "derivations", "--solutions", "inline"]) == 0, \
        capsys.readouterr().err
    assert (tmp_path / "ho" / "derivations.pdf").is_file()


# --------------------------------------------------------------------------- F13: example --json's shape


def test_example_json_is_a_list_for_several_examples_as_the_docs_and_help_say(tmp_path, monkeypatch, capsys):
    """F13: docs/03 said `--json` prints one object; a project with two [[example]] tables prints a list."""
    (tmp_path / PROJECT_FILE).write_text(
        '[[example]]\nprior = ["3/4", "1/4"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/3", "2/3"]\n\n'
        '[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\nq = ["1/2", "1/2"]\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["example", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert isinstance(printed, list) and [e["prior"][0] for e in printed] == ["3/4", "1/2"]
    page = " ".join((REPO / "docs" / "03-publishing.md").read_text("utf-8").split())
    assert "`--json` prints one object (a list of such objects, in the file's order, when the project's" in page
    assert main(["example", "--help"]) == 0
    assert "JSON (a list when the project has several [[example]] tables)" in " ".join(capsys.readouterr().out.split())


# --------------------------------------------------------------------------- F12: a reproducible Anki package


def test_the_anki_package_is_dated_from_source_date_epoch(tmp_path, monkeypatch):
    """F12: the collection inside was identical, but the zip's entries carried the wall-clock date, so
    two runs with one SOURCE_DATE_EPOCH gave two different packages."""
    from elbo_sym.lesson.practice import load_flashcards
    from elbo_sym.publish.anki import write_apkg

    cards = load_flashcards().cards
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000000000")  # 2001-09-09 01:46:40 UTC
    one = write_apkg(cards, tmp_path / "one.apkg")
    two = write_apkg(cards, tmp_path / "two.apkg")
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as package:
        assert {info.date_time for info in package.infolist()} == {(2001, 9, 9, 1, 46, 40)}
        assert sorted(package.namelist()) == ["collection.anki2", "media"]


# --------------------------------------------------------------------------- F14, F15: a long card formula

SIX_TERMS = "E(q, log(p(x | z))) - KL(q(z), p(z)) + KL(q(z), p(z | x)) - log(p(x)) + ELBO(q) + H(q)"
LONG_QUESTION = f'title = "Q"\n[[question]]\nquestion = "Six terms, twice?"\nanswer = "Both sides."\n' \
                f'formula = "{SIX_TERMS} = {SIX_TERMS}"\n'
LONG_CARD = f'title = "C"\n[[card]]\nfront = "Six terms, twice."\nback = "Both sides."\n' \
            f'formula = "{SIX_TERMS} = {SIX_TERMS}"\n'


def test_a_long_card_formula_is_given_to_the_template_as_breakable_sides(tmp_path):
    """F14, F15: the self-check set a card's formula in one `\\[...\\]` (cut at the paper's edge) and the
    flashcards scaled it as one box (3pt type); both now have the sides as terms to break between."""
    from elbo_sym.publish.handouts import flashcards_handouts, selfcheck_handouts

    (tmp_path / "quiz.toml").write_text(LONG_QUESTION, "utf-8")
    (tmp_path / "deck.toml").write_text(LONG_CARD, "utf-8")
    quiz = selfcheck_handouts(selfcheck=tmp_path / "quiz.toml", solutions="inline")[0].render()
    cards = flashcards_handouts(flashcards=tmp_path / "deck.toml", solutions="inline")[0].render()
    for tex in (quiz, cards):
        call = tex[tex.index(r"\fitrelation", tex.index(r"\begin{document}")):]
        call = call[:call.index(r"\end{")]
        assert call.count(r"\chainterm{+}{\mathrm{KL}") == 2, call[:400]  # one per side, a break before each


@pytest.mark.full
def test_the_self_check_builds_with_a_long_answer_formula_and_a_card_too_long_fails_loudly(tmp_path, monkeypatch,
                                                                                           capsys):
    """F15 (LaTeX): the self-check failed ("content cut at the paper's edge"); it is broken over lines.
    F14: the flashcard scaled it to 3pt type with exit 0; broken over lines it fits the card at a readable
    size (tests/test_rt41_layout.py measures it; a card too tall to fit fails the build naming the card)."""
    (tmp_path / "quiz.toml").write_text(LONG_QUESTION, "utf-8")
    (tmp_path / "deck.toml").write_text(LONG_CARD, "utf-8")
    (tmp_path / PROJECT_FILE).write_text('derivations = "gap.toml"\nselfcheck = "quiz.toml"\n'
                                         'flashcards = "deck.toml"\n', "utf-8")
    (tmp_path / "gap.toml").write_text(STARTER, "utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--out", "ho", "--only", "selfcheck", "--solutions", "inline"]) == 0, capsys.readouterr().err
    assert (tmp_path / "ho" / "selfcheck.pdf").is_file()
    assert main(["build", "--out", "ho", "--only", "flashcards", "--solutions", "inline"]) == 0, \
        capsys.readouterr().err
    assert (tmp_path / "ho" / "flashcards.pdf").is_file()


def test_a_roster_id_with_an_accented_letter_is_told_to_use_ascii_letters():
    """Smaller note: `josé` was told to "use letters", and é is a letter."""
    from elbo_sym.publish.roster import RosterError, parse_roster

    with pytest.raises(RosterError, match=r"\('é'\): use ASCII letters \(a-z, A-Z\), digits"):
        parse_roster("id,name\njosé,José\n")


def test_a_quiz_is_not_written_through_a_symbolic_link(tmp_path):
    """F4's note: `--moodle /dev/stdout` with stdout redirected to a file (a link to a regular file) was
    told "elbo-sym did not write it ... delete or move that file"; --anki says it is a link."""
    out = tmp_path / "out.xml"
    out.write_text("<quiz/>", "utf-8")
    link = tmp_path / "stdout"
    link.symlink_to(out)
    with pytest.raises(InputError, match="a symbolic link; nothing was written; give the path of a regular file"):
        claim_file(link)
    assert out.read_text("utf-8") == "<quiz/>"

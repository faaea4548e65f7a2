"""Red team rt46's publishing findings on the decks' scope line ("Every formula of this deck is proved for
K = 3 latent states only ..."), built and read back as a reader gets them.

* F5: the scope was attached only under a card's formula in the Anki deck and the Moodle questions, so a K = 3
  card whose back held only a claim ("$Sum(1, z) = 3$") or decided words ("$Sum(1, z)$ is $3$") read as general.
* F8: flashcards.pdf's footer (title, how to print, the scope) had no height budget: a 60-character title pushed
  it onto a page of its own, a one-sheet deck had 3 or 4 pages and duplex printing put the backs on the wrong
  sheet, exit 0.  The footer now fits a fixed box, and a flashcards.pdf of another page count fails its build.
"""

from __future__ import annotations

import sqlite3
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.cli import main
from elbo_sym.publish.handouts import flashcards_handouts, selfcheck_handouts, write_handouts

SCOPE = "Every formula of this deck is proved for K = 3 latent states only (the deck's model), not in general."
CARD = '\n[[card]]\nfront = "How many terms has the sum?"\nback = '
CLAIM = 'title = "k3 claim"\nK = 3\n' + CARD + '"Three: $Sum(1, z) = 3$."\n'
WORDS = 'title = "k3 words"\nK = 3\n' + CARD + '"The sum $Sum(1, z)$ is $3$."\n'


def _apkg_fields(path: Path, tmp: Path) -> list[list[str]]:
    """Each note's fields as Anki stores them (the collection inside the package)."""
    with zipfile.ZipFile(path) as package:
        package.extract("collection.anki2", tmp)
    db = sqlite3.connect(tmp / "collection.anki2")
    try:
        return [row[0].split("\x1f") for row in db.execute("select flds from notes")]
    finally:
        db.close()


@pytest.mark.parametrize("text", [CLAIM, WORDS], ids=["claim", "words"])
def test_a_narrow_decks_card_without_a_formula_states_the_scope_in_anki_and_moodle(tmp_path: Path, text: str) -> None:
    """F5: the claim or the words of a K = 3 card were checked for K = 3 only; they are published with the scope."""
    deck = tmp_path / "k3.toml"
    deck.write_text(text, "utf-8")
    assert main(["flashcards", str(deck), "--anki", str(tmp_path / "k3.apkg")]) == 0
    ((front, back, formula, _topic),) = _apkg_fields(tmp_path / "k3.apkg", tmp_path)
    assert "sum" in back and SCOPE in formula, formula
    assert main(["cards", str(deck), "--moodle", str(tmp_path / "k3.xml")]) == 0
    xml = (tmp_path / "k3.xml").read_text("utf-8")
    feedback = xml.split("<generalfeedback")[1].split("</generalfeedback>")[0]
    assert "proved for K = 3 latent states only" in feedback, feedback


def test_a_deck_of_any_K_without_a_formula_adds_nothing(tmp_path: Path) -> None:
    """The scope is the narrow model's: a deck of every latent space prints no line, not an empty one."""
    deck = tmp_path / "any.toml"
    deck.write_text(WORDS.replace("K = 3\n", "").replace("is $3$", "a sum"), "utf-8")
    assert main(["flashcards", str(deck), "--anki", str(tmp_path / "any.apkg")]) == 0
    ((_front, _back, formula, _topic),) = _apkg_fields(tmp_path / "any.apkg", tmp_path)
    assert formula == ""


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


LONG_TITLES = {
    "k2-59": ('K = 2', "Flashcards on the evidence lower bound for week five of the"),
    "k2-99": ('K = 2', "Flashcards on the evidence lower bound for week five of the course "
              "Flashcards on the evidence lower"),
    "gauss-136": ('model = "gaussian"', "Flashcards for week 5 of Probabilistic Machine Learning: latent variables, "
                  "the evidence lower bound, the gap identity and the tight case"),
    "gauss-199": ('model = "gaussian"', " ".join(["W" + "w" * 51] * 3 + ["W" + "w" * 39])),
}


@pytest.mark.full
@pytest.mark.parametrize("name", list(LONG_TITLES))
def test_a_long_titled_narrow_decks_flashcards_are_two_pages_a_sheet(tmp_path: Path, name: str) -> None:
    """F8: rt46's titles (59 to 199 characters, the limit 200) gave 3 or 4 pages for one sheet; now two,
    with the title and the scope both on the page (the footer is shrunk to fit its box, never spilled)."""
    require_latex()
    model, title = LONG_TITLES[name]
    assert len(title) == int(name.split("-")[1])
    deck = tmp_path / "cards.toml"
    formula = "KL(q(z), p(z)) >= 0" if "gaussian" in model else "Sum(1, z) = 2"
    deck.write_text(f'title = "{title}"\n{model}\n\n[[card]]\nfront = "Count?"\nback = "This."\n'
                    f'formula = "{formula}"\n', "utf-8")
    (report,) = write_handouts(flashcards_handouts(flashcards=deck), tmp_path / "out")
    assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    assert _pages(report.pdf) == 2
    for page in ("1", "2"):
        text = subprocess.run(["pdftotext", "-f", page, "-l", page, str(report.pdf), "-"], capture_output=True,
                              text=True, check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
        flat = " ".join(text.split())
        assert title.split()[0] in flat and "proved for" in flat and "not in general." in flat, flat


@pytest.mark.full
def test_a_flashcards_pdf_of_another_page_count_fails_its_build(tmp_path: Path) -> None:
    """The page count is checked, not trusted: a handout that must have 3 pages and has 2 is not written."""
    require_latex()
    deck = tmp_path / "cards.toml"
    deck.write_text('title = "t"\nK = 2\n\n[[card]]\nfront = "F"\nback = "B"\n', "utf-8")
    (handout,) = flashcards_handouts(flashcards=deck)
    assert handout.pages == 2 and flashcards_handouts(flashcards=deck, solutions="none")[0].pages == 1
    (report,) = write_handouts([replace(handout, pages=3)], tmp_path / "out")
    assert not report.ok and report.pdf is None and not (tmp_path / "out" / "flashcards.pdf").exists()
    assert report.message.startswith("2 page(s), not 3"), report.message


@pytest.mark.full
def test_the_self_checks_answers_page_states_the_scope(tmp_path: Path) -> None:
    """F8 (minor): the separate answers sheet, which may be handed out alone, carries the scope too."""
    require_latex()
    quiz = tmp_path / "quiz.toml"
    quiz.write_text(CLAIM.replace("[[card]]", "[[question]]").replace("front", "question").replace("back", "answer"),
                    "utf-8")
    (report,) = write_handouts(selfcheck_handouts(selfcheck=quiz), tmp_path / "out")
    assert report.ok, report.message
    text = " ".join(subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True,
                                   timeout=CHILD_TIMEOUT_SECONDS).stdout.split())
    answers = text[text.index("Answers 1"):] if "Answers 1" in text else text[text.rindex("Answers"):]
    assert SCOPE.replace("'", "’") in answers, answers

"""A deck's title and summary are prose: their ``$...$`` formulas are typeset wherever they are
printed (red team rt26: a title "Flashcards: the $beta$-ELBO" passed `cards --check` but was
printed with its dollars in the flashcards' footer, the site's page list and the pages'
description meta).  The PDF sets the formula as math; the site's description, plain text, has
its text form, as the Anki deck name does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.lesson.practice import load_deck
from elbo_sym.publish import anki, web
from elbo_sym.publish.handouts import flashcards_handouts, write_handouts

DECK = '''title = "Flashcards: the $beta$-ELBO"
summary = "Why the $beta$-ELBO is below $log(p(x))$."
[params]
beta = ">= 1"

[[card]]
front = "Is the $beta$-ELBO a lower bound on $log(p(x))$?"
back = "Yes, for every $beta$ of at least 1."
formula = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
rule = "kl-nonneg"
'''


QUESTIONS = DECK.replace("[[card]]", "[[question]]").replace("front =", "question =").replace(
    "back =", "answer =").replace('rule = "kl-nonneg"\n', "")


@pytest.fixture(scope="module")
def deck_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("title") / "deck.toml"
    path.write_text(DECK)
    return path


@pytest.fixture(scope="module")
def questions_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("title") / "questions.toml"
    path.write_text(QUESTIONS)
    return path


@pytest.mark.parametrize("page, deck", [(web.flashcards_page, "deck_file"), (web.selfcheck_page, "questions_file")])
def test_the_site_prints_the_title_and_summary_formulas(page, deck, request):
    built = page(request.getfixturevalue(deck))
    assert "$" not in built.description  # plain text: the formula's text form
    assert "the beta-ELBO" in built.description
    assert "$beta$" not in built.body
    assert "Why the $\\beta$\\-ELBO is below $\\log p(x)$." in built.body  # the summary: the printer's math


def test_a_description_without_a_summary_ends_with_the_title(tmp_path):
    path = tmp_path / "questions.toml"
    path.write_text("\n".join(line for line in QUESTIONS.splitlines() if not line.startswith("summary")))
    assert web.selfcheck_page(path).description == "Flashcards: the beta-ELBO."


def test_the_description_matches_the_anki_deck_name(deck_file):
    deck = load_deck(deck_file)
    assert anki.deck_name(deck.title, deck.vocabulary) == "Flashcards: the beta-ELBO"
    assert web.flashcards_page(deck_file).description.startswith("Flashcards: the beta-ELBO: 1 card")


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_pdf_footer_typesets_the_title(deck_file, tmp_path):
    (built,) = write_handouts(flashcards_handouts(flashcards=deck_file), tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert "Flashcards: the β-ELBO • sheet 1 of 1" in text
    assert "$beta$" not in text and "$" not in text

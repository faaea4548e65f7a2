"""A card's topic prints its ``$...$`` formulas as written (red team rt4, /tmp/rt4/topic): every
``-`` of a topic became a space before its formula was parsed, so ``$-ELBO(q)$`` lost its sign
in Anki, ``$log(p(x)) - ELBO(q)$`` ended ``flashcards --anki`` with a traceback, and the PDF and
the web page printed the formula as raw text.  Only a tag-like topic reads as words
("vae-vs-autoregressive" as "vae vs autoregressive"); prose prints as typed (rt44 F3: "Kullback-Leibler"
was printed "Kullback Leibler", "β-VAE" "β VAE").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.notation import to_latex
from elbo_sym.engine.parse import parse_expression
from elbo_sym.lesson.practice import load_deck, topic_label
from elbo_sym.publish import anki, web
from elbo_sym.publish.handouts import flashcards_context

TOPICS = {"free-energy $-ELBO(q)$": "-ELBO(q)", "the gap $log(p(x)) - ELBO(q)$": "log(p(x)) - ELBO(q)"}


@pytest.mark.parametrize("topic, label", [
    ("vae-vs-autoregressive", "vae vs autoregressive"),
    ("the-gap-identity", "the gap identity"),
    ("elbo-2", "elbo-2"),  # rt46 F9: a hyphenated term or a range keeps its hyphens
    ("12-15", "12-15"),
    ("x-1", "x-1"),
    ("k-means", "k-means"),
    ("e-step", "e-step"),
    ("t-sne", "t-sne"),
    ("log-sum-exp", "log-sum-exp"),
    ("free-energy $-ELBO(q)$", "free-energy $-ELBO(q)$"),
    ("the gap $log(p(x)) - ELBO(q)$ - again", "the gap $log(p(x)) - ELBO(q)$ - again"),
    (r"a \$-sign, $-H(q)$-word", r"a \$-sign, $-H(q)$-word"),
    ("the Kullback-Leibler divergence", "the Kullback-Leibler divergence"),
    ("pages 12-15", "pages 12-15"),
    ("β-VAE", "β-VAE"),
    ("Kullback-Leibler", "Kullback-Leibler"),
    ("-1 to 1", "-1 to 1"),
])
def test_only_a_tag_like_topic_reads_as_words(topic, label):
    assert topic_label(topic) == label


@pytest.fixture(scope="module")
def deck_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("topics") / "cards.toml"
    cards = "".join(f'\n[[card]]\nfront = "Card {i}?"\nback = "An answer."\ntopic = "{topic}"\n'
                    for i, topic in enumerate(TOPICS, start=1))
    path.write_text('title = "Topics"\n' + cards)
    return path


def _latex(formula: str) -> str:
    return to_latex(parse_expression(formula))


def test_the_anki_field_keeps_the_sign(deck_file):
    deck = load_deck(deck_file)
    for card, formula in zip(deck.cards, TOPICS.values()):
        assert anki.note_fields(card, deck.vocabulary)[3].endswith(anki.mathjax(_latex(formula)))
    assert _latex("-ELBO(q)") == r"- \mathcal{L}(q)"


def test_flashcards_anki_writes_the_deck(deck_file, tmp_path):
    assert main(["flashcards", str(deck_file), "--anki", str(tmp_path / "d.apkg")]) == 0
    assert (tmp_path / "d.apkg").stat().st_size > 0


def test_the_pdf_context_typesets_the_topic(deck_file):
    cards = [cell["card"] for sheet in flashcards_context(deck_file)["sheets"] for cell in sheet["fronts"]]
    assert [c["topic"] for c in cards] == [rf"free-energy \({_latex('-ELBO(q)')}\)",
                                           rf"the gap \({_latex('log(p(x)) - ELBO(q)')}\)"]


def test_the_web_heading_keeps_the_formula(deck_file):
    body = web.flashcards_page(deck_file).body
    assert r"## Card 1\: free\-energy \-ELBO(q)" in body  # Markdown-escaped hyphen, printed as typed
    assert r"## Card 2\: the gap log(p(x)) \- ELBO(q)" in body


@pytest.mark.parametrize(("kind", "table", "front", "back", "heading"), [
    ("flashcards", "card", "front", "back", "Card"), ("selfcheck", "question", "question", "answer", "Question")])
def test_a_card_without_a_topic_is_headed_by_its_kind_and_number(tmp_path, kind, table, front, back, heading):
    """A card with no topic was headed "Card 1:" (a colon before nothing) on the site and in its
    table of contents; it reads "Card 1" ("Question 1"), as the handouts number it."""
    path = tmp_path / f"{kind}.toml"
    path.write_text(f'title = "Topics"\n\n[[{table}]]\n{front} = "What is the evidence?"\n{back} = "p(x)."\n'
                    f'\n[[{table}]]\n{front} = "Another?"\n{back} = "Yes."\ntopic = "bound"\n')
    page = web.flashcards_page(path) if kind == "flashcards" else web.selfcheck_page(path)
    headings = [line for line in page.body.splitlines() if line.startswith("## ")]
    assert headings == [f"## {heading} 1", rf"## {heading} 2\: bound"], headings

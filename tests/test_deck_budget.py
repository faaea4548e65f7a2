"""A deck's reading and checking share its one deck budget, as a file's do (tests/test_reading_budget.py).

Before, `check_deck` got the whole deck budget after the deck was read, so a deck slow to read and
slower to check took about reading + budget (near 2x the budget); `practice.check_lesson_cards`
(the API) read its two decks without any bound.  Now the reader records what reading took
(`Deck.read_seconds`, `practice.load_deck_within`) and `check_deck` gets the rest."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slow_input import slow_deck

import elbo_sym.publish.commands  # noqa: F401  (imported up front: the timings below are the commands')
import elbo_sym.publish.handouts  # noqa: F401
from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError
from elbo_sym.lesson import practice

ONE_CARD = 'title = "one card"\n\n[[card]]\nfront = "Q?"\nback = "B"\nformula = "KL(q(z), q(z)) = 0"\n'
MARGIN = 0.5
"""Seconds past the deck budget a command may take (what it does after the budget: print the report)."""


@pytest.fixture(scope="module")
def one_card(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("one") / "one.toml"
    path.write_text(ONE_CARD, "utf-8")
    return path


def test_reading_records_its_seconds_and_a_deck_is_still_equal_to_itself(one_card) -> None:
    deck = practice.load_deck_within(None, one_card)
    assert deck.read_seconds > 0 and deck == practice.load_deck(one_card)  # not part of what the deck is
    assert practice.load_deck_within("selfcheck", None).kind == "selfcheck"  # the lesson's


def test_the_check_gets_what_reading_left_of_the_deck_budget(one_card) -> None:
    """All of a 5 s deck budget spent reading: the card is `error` with the deck budget's words, at
    once; none spent, it proves under the same budget."""
    from dataclasses import replace

    deck = practice.load_deck(one_card)
    started = time.process_time()
    result = practice.check_deck(replace(deck, read_seconds=5.0), 10.0, total=5.0)
    assert time.process_time() - started < 1.0
    assert [(v.verdict, v.reason) for v in result.verdicts] == [("error", "deck budget of 5 CPU seconds exhausted")]
    assert [v.verdict for v in practice.check_deck(deck, 10.0, total=5.0).verdicts] == ["proved"]


def test_the_api_reads_the_lesson_decks_within_the_deck_budget(tmp_path) -> None:
    """`check_lesson_cards` bounds its reading (before: read without a bound, then checked)."""
    questions = tmp_path / "selfcheck.toml"
    questions.write_text(slow_deck(20, "selfcheck"), "utf-8")  # about 0.7 s to read on a quiet machine
    started = time.process_time()
    with pytest.raises(DerivationError, match=f"{questions}: file budget of 0.05 CPU seconds exhausted while"):
        practice.check_lesson_cards(questions, None, total=0.05)
    assert time.process_time() - started < 2.0
    with pytest.raises(ValueError, match="deck budget"):
        practice.check_lesson_cards(questions, None, total=0)


# -- a deck slow to read and slower to check: each command ends within its budget ------------------

DECK_BUDGET = 5.0


@pytest.fixture(scope="module")
def slow_cards(tmp_path_factory) -> Path:
    """100 long formulas: about 1 s to read on a quiet machine once read before (caches warm), more the
    first time; minutes to check."""
    path = tmp_path_factory.mktemp("slow") / "cards.toml"
    path.write_text(slow_deck(100), "utf-8")
    return path


def _reading_takes(path: Path) -> float:  # CPU seconds, as budgets count
    started = time.process_time()
    practice.load_deck(path)
    return time.process_time() - started


def _command(name: str, deck: Path, folder: Path) -> list[str]:
    budget = ["--file-budget", f"{DECK_BUDGET:g}"]
    if name == "cards":
        return ["cards", "--check", str(deck), *budget]
    if name == "flashcards":
        return ["flashcards", str(deck), *budget]
    (folder / "one.toml").write_text(ONE_STEP, "utf-8")
    (folder / "elbo-sym.toml").write_text(f'derivations = ["one.toml"]\nflashcards = "{deck}"\n', "utf-8")
    return ["build", "--project", str(folder), "--only", "flashcards", "--out", str(folder / "out"), *budget]


ONE_STEP = 'title = "t"\nK = 2\nstart = "KL(q(z), q(z))"\n\n[[step]]\nrel = "="\nexpr = "0"\nrule = "definition"\n'


def _deck_span(monkeypatch, path: Path) -> list[float]:
    """[when reading the deck at `path` started, when checking it ended], whichever command does it."""
    span: list[float] = []
    load, check = practice.load_deck_within, practice.check_deck

    def timed_load(kind, where, *args, **kwargs):
        if where is not None and Path(where) == path:
            span.append(time.process_time())
        return load(kind, where, *args, **kwargs)

    def timed_check(deck, *args, **kwargs):
        try:
            return check(deck, *args, **kwargs)
        finally:
            if Path(deck.path) == path:
                span.append(time.process_time())

    monkeypatch.setattr(practice, "load_deck_within", timed_load)
    monkeypatch.setattr(practice, "check_deck", timed_check)
    return span


@pytest.mark.full  # waits out a deck budget of 5 s, three times
@pytest.mark.parametrize("name", ["cards", "flashcards", "build"])
def test_reading_and_checking_a_deck_stay_within_its_deck_budget_together(name, slow_cards, tmp_path, capsys,
                                                                          monkeypatch):
    """Reading and checking the deck, in each command, end within the deck budget plus a small margin
    (before: reading + the budget); the cards it could not check are `error` (exit 1), or, on a very
    loaded machine, the deck is not even read in time (exit 2, the one error line)."""
    reading = _reading_takes(slow_cards)
    assert reading > MARGIN  # what the old way added on top of the budget
    span = _deck_span(monkeypatch, slow_cards)
    command = _command(name, slow_cards, tmp_path)
    started = time.process_time()
    code = main(command)
    seconds = time.process_time() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 2:
        assert "exhausted while reading the file" in err, err
        return
    assert code == 1 and f"deck budget of {DECK_BUDGET:g} CPU seconds exhausted" in out + err, (out, err)
    assert len(span) == 2 and span[1] - span[0] < DECK_BUDGET + MARGIN, (span, reading)
    if name != "build":  # build checks its derivation and the lesson's self-check too
        assert seconds < DECK_BUDGET + 2 * MARGIN, (seconds, reading)
    assert not (tmp_path / "out" / "flashcards.pdf").exists()

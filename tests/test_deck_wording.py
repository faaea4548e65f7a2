"""What decks print follows their cards: the deck's outcome words (report.text.deck_outcome) and
the warnings on relations stated in words that no card checks (engine.prose_check)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from elbo_sym.lesson import practice
from elbo_sym.report.build import deck_report_of
from elbo_sym.report.text import DECK_OUTCOME_WHY, deck_outcome, deck_text

CARD = 'title = "one card"\n\n[[card]]\nfront = "Q?"\nback = "B"\nformula = "{formula}"\n'


def _last_line(tmp_path: Path, formula: str, spent: float = 0.0) -> str:
    """The deck's totals line as `cards --check` prints it; `spent` of a 5 s deck budget gone reading."""
    path = tmp_path / "deck.toml"
    path.write_text(CARD.format(formula=formula), "utf-8")
    deck = replace(practice.load_deck(path), read_seconds=spent)
    return deck_text(deck_report_of(practice.check_deck(deck, 10.0, total=5.0))).splitlines()[-1]


def test_a_deck_whose_card_is_in_error_is_not_proved_and_says_undecided_not_checked(tmp_path):
    line = _last_line(tmp_path, "KL(q(z), q(z)) = 0", spent=5.0)  # the deck budget is gone: the card is error
    assert "1 error; NOT all proved" in line and DECK_OUTCOME_WHY["error"] in line
    assert "checked on instances" not in line and "NOT all hold" not in line


def test_a_deck_whose_card_is_refuted_does_not_hold_and_says_why(tmp_path):
    line = _last_line(tmp_path, "KL(q(z), q(z)) = 1")
    assert "1 refuted; NOT all hold" in line and DECK_OUTCOME_WHY["refuted"] in line
    assert "checked on instances" not in line and "undecided" not in line


def test_a_proved_deck_holds(tmp_path):
    assert _last_line(tmp_path, "KL(q(z), q(z)) = 0").endswith("1 proved; all hold")


@pytest.mark.parametrize("verdicts", [("checked",), ("error",), ("checked", "error"), ("refuted", "checked"),
                                      ("refuted", "error", "checked")])
def test_the_outcome_names_exactly_the_failing_verdicts_the_deck_has(verdicts):
    outcome = deck_outcome({v: 1 for v in verdicts} | {"proved": 2})
    assert outcome.startswith("NOT all hold" if "refuted" in verdicts else "NOT all proved")
    assert [v for v, why in DECK_OUTCOME_WHY.items() if why in outcome] == \
        [v for v in DECK_OUTCOME_WHY if v in verdicts]

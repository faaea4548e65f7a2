"""A deck's scope is report data (report.model.DeckScope): its model, its parameters' domains through the
printer, and its words in one place (DeckScope.joined), which every output reads -- the LaTeX templates,
the site's pages, Anki, Moodle, `cards` and its JSON -- with a JSON round trip in `cards --check --json`;
and no template context holds a callable (the handouts passed ``scope_printed``, a function, to Jinja)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from elbo_sym.cli import main
from elbo_sym.lesson.practice import check_deck, load_deck
from elbo_sym.publish.handouts import flashcards_handouts, selfcheck_handouts
from elbo_sym.report.build import deck_report_of, deck_scope
from elbo_sym.report.model import DeckReport, DeckScope, Math
from elbo_sym.report.text import deck_as_dict, format_deck

CARD = '[[card]]\nfront = "Compare?"\nback = "Yes."\nformula = "KL(q(z), p(z)) >= 0"\n'
DECKS = {
    # name: (the deck's head, its scope as text, None for none)
    "every latent space": ('title = "t"\n[params]\nbeta = ">= 1"\n', "Throughout this deck beta >= 1: every formula "
                           "of it is proved under this only, not in general."),
    "K = 3 and two domains": ('title = "t"\nK = 3\n[params]\nbeta = "in (1, 2)"\nalpha = ">= 2"\n',
                              "Throughout this deck beta in (1, 2), alpha >= 2: every formula of it is proved for "
                              "K = 3 latent states only (the deck's model) and under these, not in general."),
    "K = 2 alone": ('title = "t"\nK = 2\n[params]\nbeta = "real"\n', "Every formula of this deck is proved for "
                    "K = 2 latent states only (the deck's model), not in general."),
    "nothing more": ('title = "t"\n[params]\nbeta = "real"\n', None),
}


def _deck(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "deck.toml"
    path.write_text(DECKS[name][0] + "\n" + CARD, "utf-8")
    return path


@pytest.mark.parametrize("name", sorted(DECKS))
def test_the_scope_is_data_with_a_json_round_trip_and_every_listing_reads_it(tmp_path: Path, capsys,
                                                                            name: str) -> None:
    path = _deck(tmp_path, name)
    deck = load_deck(path)
    scope, text = deck_scope(deck), DECKS[name][1]
    assert (scope.text if scope is not None else None) == text
    report = deck_report_of(check_deck(deck))
    assert report.ok and report.scope == scope
    assert DeckReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert deck_as_dict(deck)["scope"] == text
    assert format_deck(deck).splitlines()[1] == (f"  {text}" if text else "  1. Front: Compare?")
    assert main(["cards", "--check", "--json", str(path)]) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    assert printed["scope"] == report.to_dict()["scope"]
    if scope is not None:
        assert DeckScope(**{"model": scope.model, "domains": scope.domains}) == scope


def test_a_scope_states_something_and_a_reports_json_without_one_still_reads() -> None:
    with pytest.raises(ValueError, match="states its model or its parameters' domains"):
        DeckScope()
    assert DeckScope(domains=(Math("beta >= 1", r"\beta \geq 1"),)).joined(lambda d: f"<{d.latex}>", str.upper) \
        == r"THROUGHOUT THIS DECK <\beta \geq 1>: EVERY FORMULA OF IT IS PROVED UNDER THIS ONLY, NOT IN GENERAL."
    data = {"file": "d.toml", "kind": "flashcards", "title": "t", "cards": []}  # a report from before the scope
    assert DeckReport.from_dict(data).scope is None


def _callables(value: Any, where: str) -> list[str]:
    """Where a template context holds a function (a lambda, a bound method), walking mappings and sequences."""
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in _callables(item, f"{where}.{key}")]
    if isinstance(value, (list, tuple)):
        return [found for i, item in enumerate(value) for found in _callables(item, f"{where}[{i}]")]
    return [where] if callable(value) and not isinstance(value, type) else []


def test_the_deck_handouts_contexts_hold_data_only(tmp_path: Path) -> None:
    path = _deck(tmp_path, "K = 3 and two domains")
    quiz = tmp_path / "quiz.toml"
    quiz.write_text(path.read_text("utf-8").replace("[[card]]", "[[question]]").replace("front", "question")
                    .replace("back", "answer"), "utf-8")
    handouts = flashcards_handouts(flashcards=path) + selfcheck_handouts(selfcheck=quiz)
    for handout in handouts:
        assert _callables(handout.context, handout.name) == []
        assert handout.context["deck"]["scope"] == deck_scope(load_deck(path))

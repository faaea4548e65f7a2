"""A card is proved without the counterexample search; the search runs only for a card no rule proves.

A card without its own `rule` is tried with several (algebra, then kl-nonneg or jensen for a bound).
The search for a counterexample runs until its budget on a true relation, so running it after each
rule that does not prove the card cost seconds per card (red team rt4: forty copies of
`ELBO(q) <= log(p(x))` ran out of the 120 s deck budget at half the deck).  The verdicts must be
those of checking every rule with the search: a proof never depends on it, a refutation comes from it.
"""

from __future__ import annotations

import pytest
from budget_margins import ROOM_SECONDS

import elbo_sym.engine.check as check
from elbo_sym.lesson.practice import check_deck, load_deck


def _deck(tmp_path, *formulas: str):
    cards = "\n".join(f'[[card]]\nfront = "card {i}"\nback = "answer {i}"\nformula = "{f}"\n'
                      for i, f in enumerate(formulas))
    path = tmp_path / "deck.toml"
    path.write_text(f'title = "Cards"\n{cards}', "utf-8")
    return load_deck(path)


@pytest.fixture
def searches(monkeypatch) -> list[bool]:
    """The `search` argument of every check_derivation the cards make."""
    seen: list[bool] = []
    original = check.check_derivation

    def counting(derivation, *args, search: bool = True, **kwargs):
        seen.append(search)
        return original(derivation, *args, search=search, **kwargs)

    monkeypatch.setattr(check, "check_derivation", counting)
    return seen


def test_a_bound_proved_by_its_second_rule_runs_no_search(tmp_path, searches):
    result = check_deck(_deck(tmp_path, *["ELBO(q) <= log(p(x))"] * 3))
    assert [v.verdict for v in result.verdicts] == ["proved"] * 3
    assert "kl-nonneg" in result.verdicts[0].reason  # algebra did not prove it: a second rule did
    assert len(searches) >= 6 and not any(searches)


def test_a_false_card_is_refuted_with_a_counterexample_by_one_search(tmp_path, searches):
    (verdict,) = check_deck(_deck(tmp_path, "ELBO(q) < log(p(x))")).verdicts
    assert verdict.verdict == "refuted" and verdict.counterexample is not None
    assert searches.count(True) == 1  # the search decides the relation whatever the rule: once


MIXED = ("ELBO(q) >= log(p(x))", "KL(q(z), p(z)) >= 0", "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))",
         "ELBO(q) < log(p(x))", "H(q) >= 0", "E(q, log(q(z))) <= 0", "ELBO(q) <= log(p(x)) + 1",
         "KL(q(z), p(z | x)) = 0")


def _every_rule_with_the_search(card, deck) -> str:
    """The verdict as it was before: each rule checked with the search, the best kept."""
    from elbo_sym.lesson.practice import _check_ks, _one_step, _rank, _rules_for

    verdicts = []
    for K in _check_ks(deck):
        best = None
        for rule in _rules_for(card.formula):
            result = check.check_derivation(_one_step(str(deck.path), card, card.formula, K, rule, deck),
                                            budget=ROOM_SECONDS)
            verdict = "error" if result.problems else result.steps[0].verdict.value
            if best is None or _rank(verdict) < _rank(best):
                best = verdict
            if verdict == "proved":
                break
        verdicts.append(best)
    return max(verdicts, key=_rank)


@pytest.mark.full  # the old way runs a search after each rule that does not prove a card: ~40 s
def test_the_verdicts_are_those_of_searching_after_every_rule(tmp_path):
    deck = _deck(tmp_path, *MIXED)
    # both ways' verdicts of finished searches: one took 5.3 s of CPU of the default 10 s (loaded, session 22)
    got = [v.verdict for v in check_deck(deck, budget=ROOM_SECONDS).verdicts]
    assert got == [_every_rule_with_the_search(card, deck) for card in deck.cards]
    assert {"proved", "refuted"} <= set(got)

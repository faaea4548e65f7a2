"""Self-check and flashcards (elbo_sym.lesson.practice): loading, engine checks, errors, `elbo-sym cards`."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError
from elbo_sym.engine.notation import KL, Density, to_latex, x, z
from elbo_sym.lesson.practice import (
    CHECK_K,
    check_card,
    check_deck,
    check_lesson_cards,
    load_deck,
    load_flashcards,
    load_selfcheck,
)
from elbo_sym.report.text import format_deck

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "deck.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CARD = '''
[[card]]
front = "f{n}"
back = "b{n}"
formula = "{formula}"
'''


def deck_with(tmp_path: Path, *formulas: str) -> Path:
    body = 'title = "t"\n' + "".join(CARD.format(n=i, formula=f) for i, f in enumerate(formulas))
    return write(tmp_path, body)


# ------------------------------------------------------------------ the lesson's files


def test_selfcheck_has_six_checked_questions():
    deck = load_selfcheck()
    assert deck.kind == "selfcheck" and len(deck.questions) == 6 and deck.title
    for card in deck.cards:
        assert card.question == card.front and card.answer == card.back and card.front and card.back
    gap = deck.cards[3].formula
    assert gap.rel == "=" and gap.rhs == KL(Density("q", (z,)), Density("p", (z,), (x,)))
    assert gap.latex == f"{to_latex(gap.lhs)} = {to_latex(gap.rhs)}"
    tight = deck.cards[4]
    assert tight.conditions_text == ("q(z) = p(z | x)",) and tight.formula.conditions == tight.conditions
    assert tight.conditions_latex == f"{to_latex(Density('q', (z,)))} = {to_latex(Density('p', (z,), (x,)))}"


def test_flashcards_cover_the_lesson():
    deck = load_flashcards()
    assert deck.kind == "flashcards" and 12 <= len(deck) <= 16
    topics = {card.topic for card in deck}
    assert {"model", "jensen", "terms", "gap", "tight", "vae-vs-autoregressive"} <= topics
    text = " ".join(card.front + " " + card.back for card in deck).lower()
    for needle in ("intractable", "jensen", "reconstruction", "kl", "gap", "autoregressive", "bound"):
        assert needle in text
    for card in deck:
        if card.formula is not None:
            assert isinstance(card.formula.lhs, sympy.Expr) and card.formula.line > card.line


def test_every_lesson_formula_is_proved():
    selfcheck, flashcards = check_lesson_cards()
    for result in (selfcheck, flashcards):
        assert result.ok
        for verdict in result.verdicts:
            assert verdict.verdict in ("proved", "none"), (verdict.card.front, verdict.reason)
            if verdict.verdict == "proved":
                assert verdict.K == CHECK_K
    from elbo_sym.report.build import deck_report_of
    from elbo_sym.report.model import DeckReport
    from elbo_sym.report.text import deck_text

    report = deck_report_of(selfcheck)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] and len(d["cards"]) == 6 and d["cards"][0]["verdict"] == "proved"
    assert DeckReport.from_dict(d) == report
    assert "6 proved" in deck_text(report)


# ------------------------------------------------------------------ a wrong formula fails


@pytest.mark.parametrize("formula", [
    "ELBO(q) = E(q, log(p(x | z))) + KL(q(z), p(z))",     # wrong sign of the KL term
    "log(p(x)) - ELBO(q) = KL(p(z | x), q(z))",           # KL the wrong way round
    "log(p(x)) <= ELBO(q)",                               # the bound reversed
    "ELBO(q) = log(p(x))",                                # tight only when q is the posterior
    "p(z | x) = p(x, z) / p(z)",                          # Bayes with the wrong normaliser
    "KL(q(z), p(z)) > 0",                                 # 0 at q = p(z): not strictly positive
])
def test_wrong_formula_is_refuted(tmp_path, formula):
    result = check_deck(load_deck(deck_with(tmp_path, formula)))
    (verdict,) = result.verdicts
    assert verdict.verdict == "refuted" and not verdict.ok and not result.ok
    assert verdict.counterexample is not None


@pytest.mark.full
def test_right_formula_with_a_weak_rule_is_not_proved_not_refuted_and_not_printable(tmp_path):
    path = write(tmp_path, 'title = "t"\n[[card]]\nfront = "f"\nback = "b"\n'
                           'formula = "log(p(x)) >= ELBO(q)"\nrule = "jensen"\n')
    (verdict,) = check_deck(load_deck(path)).verdicts
    # held on every instance, but no rule proves it: checked is evidence, not a pass
    assert verdict.verdict == "checked" and not verdict.ok
    assert "held on" in verdict.reason


def test_expression_and_no_formula(tmp_path):
    path = write(tmp_path, 'title = "t"\n[[card]]\nfront = "f"\nback = "b"\nformula = "KL(q(z), p(z | x))"\n'
                           '[[card]]\nfront = "g"\nback = "c"\n')
    deck = load_deck(path)
    a, b = check_deck(deck).verdicts
    assert a.verdict == "well-formed" and a.ok and not deck.cards[0].formula.is_relation
    assert b.verdict == "none" and b.ok
    assert check_card(deck.cards[1]).verdict == "none"
    assert "formula: KL(q(z), p(z | x))" in format_deck(deck)


# ------------------------------------------------------------------ errors name file and line


@pytest.mark.parametrize("body, line, message", [
    ('title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nformula = "ELBO(q) = foo(z)"\n', 6, "unknown function 'foo'"),
    ('title = "t"\n\n[[card]]\nfront = "f"\nbak = "b"\n', 5, "unknown key 'bak'"),
    ('title = "t"\n\n[[card]]\nfront = "f"\n', 3, "missing 'back'"),
    ('title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nformula = "ELBO(q) = 1"\nrule = "magic"\n', 7,
     "unknown rule 'magic'"),
    ('title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nrule = "jensen"\n', 6, "needs a formula"),
    ('title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nformula = "a = b = c"\n', 6, "exactly one relation"),
    ('title = "t"\n\n[[card]]\nfront = "f"\nback = "b"\nformula = "ELBO(q) = 0"\nassume = "p(z) = q(z)"\n', 7,
     "only supported assumption"),
    ('title = "t"\ncolour = "red"\n[[card]]\nfront = "f"\nback = "b"\n', 2, "unknown key 'colour'"),
    ('title = "t"\n[[card]\nfront = "f"\n', 2, "malformed TOML"),
    ('title = "t"\n', 1, "expected [[question]] tables"),
    ('title = "t"\n\n[card]\nfront = "f"\nback = "b"\n', 3, "[card] must be written [[card]]"),
])
def test_errors_name_file_and_line(tmp_path, body, line, message):
    path = write(tmp_path, body)
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    error = info.value
    assert error.path == str(path) and error.line == line
    assert message in error.message
    assert str(error).startswith(f"{path}:{line}")


_STRICT_CARD = '[[card]]\nfront = "f"\nback = "b"\nformula = "log(p(x)) > ELBO(q)"\nrule = "kl-nonneg"\n'


def test_the_lesson_has_a_card_under_a_premise_and_it_is_proved():
    """The lesson's flashcards hold a card whose formula holds only under its premise: the
    premise is its condition, and the card is proved under it."""
    deck = load_flashcards()
    (strict,) = [c for c in deck.cards if any(r.rel != "=" for r in c.conditions)]
    assert strict.conditions_text == ("q(z) != p(z | x)",) and strict.formula.rel == ">"
    assert r"\neq" in strict.conditions_latex
    verdict = check_card(strict, deck=deck)
    assert verdict.verdict == "proved" and "premise" in verdict.reason


@pytest.mark.parametrize("where", ["deck", "card", "card-list"])
def test_a_card_is_proved_under_its_premise_wherever_it_is_stated(tmp_path, where):
    """A premise in the deck's or the card's `assume` (a string or a list, as in a derivation)
    is the card's condition: its formula is checked under it, and printed with it."""
    premise = '"q(z) != p(z | x)"'
    body = {"deck": f'title = "t"\nassume = {premise}\n' + _STRICT_CARD,
            "card": 'title = "t"\n' + _STRICT_CARD + f"assume = {premise}\n",
            "card-list": 'title = "t"\n' + _STRICT_CARD + f"assume = [{premise}]\n"}[where]
    deck = load_deck(write(tmp_path, body))
    (card,) = deck.cards
    assert card.conditions_text == ("q(z) != p(z | x)",)
    assert card.formula.premises == card.conditions and card.formula.assumptions == ()
    result = check_deck(deck)
    (verdict,) = result.verdicts
    assert verdict.verdict == "proved" and result.ok, verdict.reason
    assert "formula: log(p(x)) > ELBO(q)   (assuming q(z) != p(z | x))" in format_deck(deck)


def test_a_card_that_needs_an_unstated_premise_is_refuted(tmp_path, capsys):
    """The strict bound without the premise q != p(z | x): refuted at the tight case, exit 1."""
    path = write(tmp_path, 'title = "t"\n' + _STRICT_CARD)
    (verdict,) = check_deck(load_deck(path)).verdicts
    assert verdict.verdict == "refuted" and verdict.counterexample is not None
    assert "premise" in verdict.reason
    assert main(["cards", str(path), "--check"]) == 1
    assert "✗ refuted" in capsys.readouterr().out


def test_a_premise_that_does_not_hold_where_the_card_fails_does_not_rescue_it(tmp_path):
    """A premise is a condition, not a licence: `q(z) != p(z)` does not make the tight case's
    identity hold, so the card stays refuted."""
    path = write(tmp_path, 'title = "t"\nassume = "q(z) != p(z)"\n[[card]]\nfront = "f"\nback = "b"\n'
                           'formula = "ELBO(q) = log(p(x))"\n')
    (verdict,) = check_deck(load_deck(path)).verdicts
    assert verdict.verdict == "refuted" and verdict.counterexample is not None


def test_conditions_merge_the_decks_and_the_cards(tmp_path):
    """A card inherits its deck's conditions; its own q definition replaces the deck's, its own
    premises add to the deck's. A card whose conditions no model satisfies is not proved."""
    text = ('title = "t"\nassume = ["q(z) = p(z)", "q(z) != p(z | x)"]\n' + _STRICT_CARD
            + '[[card]]\nfront = "g"\nback = "c"\nformula = "ELBO(q) = log(p(x))"\nassume = "q(z) = p(z | x)"\n')
    deck = load_deck(write(tmp_path, text))
    first, second = deck.cards
    assert first.conditions_text == ("q(z) = p(z)", "q(z) != p(z | x)")
    assert second.conditions_text == ("q(z) != p(z | x)", "q(z) = p(z | x)")
    a, b = check_deck(deck).verdicts
    assert a.verdict == "proved", a.reason
    assert b.verdict == "error" and "no instance was shown to satisfy every premise" in b.reason


def test_a_claim_in_a_cards_text_is_checked_under_the_decks_premise(tmp_path):
    """A card without formula whose back claims the strict bound: checked under the deck's
    premise, and the condition is printed with the card (there is no formula to print it beside)."""
    body = 'title = "t"\nassume = "q(z) != p(z | x)"\n[[card]]\nfront = "f"\nback = "So $log(p(x)) > ELBO(q)$."\n'
    deck = load_deck(write(tmp_path, body))
    (card,) = deck.cards
    assert card.formula is None and card.conditions_text == ("q(z) != p(z | x)",)
    assert check_deck(deck).verdicts[0].verdict == "proved"
    assert "(assuming q(z) != p(z | x))" in format_deck(deck)
    unstated = load_deck(write(tmp_path, body.replace('assume = "q(z) != p(z | x)"\n', ""), "plain.toml"))
    assert unstated.cards[0].conditions == ()
    assert check_deck(unstated).verdicts[0].verdict == "refuted"


def test_a_deck_whose_cards_state_nothing_prints_no_conditions(tmp_path):
    deck = load_deck(write(tmp_path, 'title = "t"\nassume = "q(z) != p(z | x)"\n[[card]]\nfront = "f"\nback = "b"\n'))
    assert deck.cards[0].conditions == () and len(deck.premises) == 1
    assert "assuming" not in format_deck(deck)


@pytest.mark.parametrize("body, line, column, message", [
    ('title = "t"\n' + _STRICT_CARD + 'assume = "q(z) != foo(z)"\n', 7, None, "unknown function 'foo'"),
    ('title = "t"\nassume = ["q(z) != p(z | x)", 3]\n' + _STRICT_CARD, 2, None, "each assumption must be a string"),
    ('title = "t"\n' + _STRICT_CARD + 'assume = "p(z) = q(z)"\n', 7, None, "only supported assumption"),
    ('title = "t"\nmodel = "gaussian"\nD = 2\n' + _STRICT_CARD + 'assume = "q(z) != p(z | x)"\n', 9, 15,
     "only supported for the Gaussian family with one dimension"),
])
def test_a_bad_premise_names_its_line_as_in_a_derivation(tmp_path, body, line, column, message):
    """A card's `assume` is read by the derivation reader: its errors name the card's line (and
    the column, where a derivation's would)."""
    path = write(tmp_path, body)
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    error = info.value
    assert error.line == line and message in error.message, str(error)
    if column is not None:
        assert str(error).startswith(f"{path}:{line}:{column}: ")


def test_conditions_in_the_cards_reports(tmp_path, capsys):
    """`cards`, `cards --json`, `cards --check` and its JSON print each card's conditions."""
    path = write(tmp_path, 'title = "t"\n' + _STRICT_CARD + 'assume = "q(z) != p(z | x)"\n')
    assert main(["cards", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "1. log(p(x)) > ELBO(q)   (assuming q(z) != p(z | x))\n" in out and "1 proved" in out
    assert main(["cards", str(path), "--check", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["cards"][0]["conditions"] == ["q(z) != p(z | x)"] and report["ok"]
    assert main(["cards", str(path), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["cards"][0]["conditions"] == ["q(z) != p(z | x)"]


def _questions(n: int) -> str:
    return 'title = "t"\n' + "".join(f'[[question]]\nquestion = "q{i}"\nanswer = "a{i}"\n' for i in range(n))


@pytest.mark.parametrize("n", [1, 3, 5, 20])
def test_a_selfcheck_has_any_number_of_questions_from_1_to_20(tmp_path, n):
    deck = load_selfcheck(write(tmp_path, _questions(n)))
    assert [c.question for c in deck] == [f"q{i}" for i in range(n)]
    with pytest.raises(DerivationError, match=r"expected \[\[card\]\]"):
        load_flashcards(write(tmp_path, _questions(n), "other.toml"))


def test_a_selfcheck_of_21_questions_is_refused_at_the_21st(tmp_path):
    with pytest.raises(DerivationError, match="1 to 20") as info:
        load_selfcheck(write(tmp_path, _questions(21)))
    assert info.value.line == 1 + 3 * 20 + 1  # the header of question 21
    with pytest.raises(DerivationError, match=r"\[\[question\]\]"):
        load_selfcheck(write(tmp_path, 'title = "t"\n', "empty.toml"))


def test_missing_file(tmp_path):
    with pytest.raises(DerivationError, match="cannot read file"):
        load_deck(tmp_path / "nope.toml")


# ------------------------------------------------------------------ CLI


def test_cli_cards_check(capsys):
    assert main(["cards", "--check"]) == 0
    out = capsys.readouterr().out
    assert "selfcheck.toml" in out and "flashcards.toml" in out and "all hold" in out


def test_cli_cards_list_and_json(capsys):
    assert main(["cards"]) == 0
    assert "Q: " in capsys.readouterr().out
    assert main(["cards", "--json"]) == 0
    decks = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in decks] == ["selfcheck", "flashcards"] and len(decks[0]["cards"]) == 6


def test_cli_cards_wrong_formula_exit_1(tmp_path, capsys):
    path = deck_with(tmp_path, "log(p(x)) <= ELBO(q)")
    assert main(["cards", "--check", str(path)]) == 1
    assert "refuted" in capsys.readouterr().out
    assert main(["cards", "--check", "--json", str(path)]) == 1
    assert json.loads(capsys.readouterr().out)[0]["cards"][0]["counterexample"] is not None


def test_cli_cards_bad_file_exit_2(tmp_path, capsys):
    path = write(tmp_path, 'title = "t"\n\n[[card]]\nfront = "f"\nbak = "b"\n')
    assert main(["cards", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert f"{path}:5:1: " in err[0] and err[1:] == ['    bak = "b"', "    ^"], err  # line and caret (rt41)


# ------------------------------------------------------------------ the deck's total budget


def _slow_check_card(seconds: float):
    """A stand-in for check_card that computes for `seconds` of CPU time (the alarm interrupts it)."""
    from cpu_work import burn

    from elbo_sym.lesson.practice import CardVerdict

    def check(card, deck_path="<cards>", budget=10.0, deck=None):
        burn(seconds)
        return CardVerdict(card, "proved", "stand-in", None, CHECK_K)

    return check


@pytest.mark.full
def test_deck_budget_bounds_the_whole_deck(tmp_path, monkeypatch):
    import time

    from elbo_sym.lesson import practice

    deck = load_deck(deck_with(tmp_path, *["log(p(x)) >= ELBO(q)"] * 10))
    monkeypatch.setattr(practice, "check_card", _slow_check_card(0.4))
    started = time.process_time()  # the budgets' clock: a busy machine stretches only the wall time
    result = check_deck(deck, budget=5, total=1.0)
    assert time.process_time() - started < 2.0
    verdicts = [v.verdict for v in result.verdicts]
    assert 1 <= verdicts.count("proved") <= 3 and verdicts[-1] == "error" and not result.ok
    assert verdicts == sorted(verdicts, key=lambda v: v != "proved")  # proved ones first, then errors
    for v in result.verdicts:
        if v.verdict == "error":
            assert v.reason == "deck budget of 1 CPU seconds exhausted"


@pytest.mark.full
def test_default_deck_budget_is_cards_times_budget(tmp_path, monkeypatch):
    import time

    from elbo_sym.lesson import practice
    from elbo_sym.limits import DECK_BUDGET_CAP_SECONDS, deck_budget

    assert deck_budget(3, 0.2) == pytest.approx(0.6)
    assert deck_budget(200, 10) == DECK_BUDGET_CAP_SECONDS  # 200 cards are not 2000 s
    deck = load_deck(deck_with(tmp_path, *["log(p(x)) >= ELBO(q)"] * 3))
    monkeypatch.setattr(practice, "check_card", _slow_check_card(100))  # a card that never ends
    started = time.process_time()
    result = check_deck(deck, budget=0.2)
    assert time.process_time() - started < 3.0
    assert [v.reason for v in result.verdicts] == ["deck budget of 0.6 CPU seconds exhausted"] * 3


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_deck_budget_must_be_positive_and_finite(tmp_path, bad):
    from elbo_sym.limits import BudgetError

    deck = load_deck(deck_with(tmp_path, "log(p(x)) >= ELBO(q)"))
    with pytest.raises(BudgetError):
        check_deck(deck, total=bad)


@pytest.mark.full
def test_cli_cards_and_flashcards_take_the_deck_budget(tmp_path, monkeypatch, capsys):
    from elbo_sym.lesson import practice

    path = deck_with(tmp_path, *["log(p(x)) >= ELBO(q)"] * 4)
    monkeypatch.setattr(practice, "check_card", _slow_check_card(100))
    assert main(["cards", "--check", "--budget", "5", "--file-budget", "0.5", str(path)]) == 1
    assert capsys.readouterr().out.count("deck budget of 0.5 CPU seconds exhausted") == 4
    assert main(["flashcards", str(path), "--file-budget", "0.5"]) == 1
    assert "deck budget of 0.5 CPU seconds exhausted" in capsys.readouterr().err
    for option in ("--budget", "--file-budget"):
        assert main(["cards", "--check", option, "0", str(path)]) == 2
        assert f"{option} must be a finite number of seconds > 0" in capsys.readouterr().err


def test_lesson_decks_pass_within_their_default_budget():
    selfcheck, flashcards = check_lesson_cards(total=60)
    assert selfcheck.ok and flashcards.ok


# ------------------------------------------------------------------ the deck's own model ([params], K, model, ...)

BETA_DECK = '''title = "Cards about the beta-ELBO"
[params]
beta = "@DOMAIN@"

[[card]]
front = "Is the $beta$-ELBO a lower bound?"
back = "Yes, for $beta$ of at least 1."
formula = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
rule = "kl-nonneg"
'''


def test_a_card_about_beta_is_proved_in_the_decks_parameter_domain(tmp_path):
    deck = load_deck(write(tmp_path, BETA_DECK.replace("@DOMAIN@", ">= 1")))
    assert [p.name for p in deck.params] == ["beta"] and deck.check_K == "any"
    result = check_deck(deck)
    assert [v.verdict for v in result.verdicts] == ["proved"]
    assert "beta" in deck.cards[0].formula.text and "\\beta" in deck.cards[0].formula.latex


def test_the_same_card_is_refuted_when_the_domain_lets_beta_below_1(tmp_path):
    deck = load_deck(write(tmp_path, BETA_DECK.replace("@DOMAIN@", ">= 0")))
    verdict = check_deck(deck).verdicts[0]
    assert verdict.verdict == "refuted" and verdict.counterexample is not None
    values = dict(verdict.counterexample.values)
    assert Fraction(values["beta"][0]) < 1  # the counterexample lies where the deck lets beta below 1


def test_without_params_beta_is_not_a_name(tmp_path):
    text = BETA_DECK.replace('[params]\nbeta = "@DOMAIN@"\n', "")
    with pytest.raises(DerivationError) as info:
        load_deck(write(tmp_path, text))
    assert "beta" in info.value.message


def test_deck_keys_set_the_model_its_cards_are_checked_in(tmp_path):
    text = '''title = "Three states"
K = 3
assume = "q(z) = p(z | x)"

[[card]]
front = "The gap in the tight case?"
back = "Zero."
formula = "log(p(x)) - ELBO(q) = 0"

[[card]]
front = "And with q fixed to the prior instead?"
back = "The KL divergence to the posterior, which is not zero in general."
formula = "log(p(x)) - ELBO(q) = 0"
assume = "q(z) = p(z)"
'''
    deck = load_deck(write(tmp_path, text))
    assert deck.check_K == 3 and len(deck.assumptions) == 1
    verdicts = check_deck(deck).verdicts
    assert verdicts[0].verdict == "proved" and "K = 3" in verdicts[0].reason  # the deck's assumption
    assert verdicts[1].verdict == "refuted"  # the card's own assumption replaces the deck's
    data = load_deck(write(tmp_path, '''title = "Two observations"
data = ["x1", "x2"]
[[card]]
front = "Is the first observation's gap a KL divergence?"
back = "Yes."
formula = "log(p(x1)) - ELBO(q(z | x1), x1) = KL(q(z | x1), p(z | x1))"
''', "data.toml"))
    assert data.data == ("x1", "x2") and check_deck(data).verdicts[0].verdict == "proved"


@pytest.mark.parametrize(("body", "line", "message"), [
    ('K = 1\n[[card]]\nfront = "f"\nback = "b"\n', 1, "K must be"),
    ('model = "nope"\n[[card]]\nfront = "f"\nback = "b"\n', 1, "unknown model"),
    ('title = "t"\nclaim = "p(x) = p(x)"\n[[card]]\nfront = "f"\nback = "b"\n', 2, "unknown key 'claim'"),
    ('title = "t"\n[params]\nbeta = "sometimes"\n[[card]]\nfront = "f"\nback = "b"\n', 3, "beta"),
])
def test_bad_deck_keys_name_file_and_line(tmp_path, body, line, message):
    with pytest.raises(DerivationError) as info:
        load_deck(write(tmp_path, body))
    assert info.value.line == line and message in info.value.message


def test_a_premise_about_another_variational_distribution(tmp_path):
    """Cremer's premise that q_star's bound is at least q's: the deck's model gains q_star (as a
    derivation's would), the card that follows from the premise is proved and its reverse refuted
    at an instance where the premise holds."""
    card = '[[card]]\nfront = "f"\nback = "b"\nformula = "{}"\nrule = "assumption"\n'
    text = ('title = "t"\nassume = "ELBO(q_star) >= ELBO(q)"\n'
            + card.format("log(p(x)) - ELBO(q) >= log(p(x)) - ELBO(q_star)")
            + card.format("log(p(x)) - ELBO(q_star) >= log(p(x)) - ELBO(q)"))
    deck = load_deck(write(tmp_path, text))
    assert deck.variationals == ("q_star",) and deck.premises[0].rel == ">="
    follows, reverse = check_deck(deck).verdicts
    assert follows.verdict == "proved", follows.reason
    assert reverse.verdict == "refuted" and reverse.counterexample is not None


@pytest.mark.parametrize("assume", ['assume = "q(z) != p(z | x)"\n', 'assume = "q(z) = p(z | x)"\n'])
def test_a_relation_in_the_front_of_a_card_with_conditions_is_refused(tmp_path, assume):
    """The front is printed alone (the conditions go with the answer), so a relation there would
    be shown without the conditions it was checked under: refused at the front's line. Without
    conditions the same front is a claim, checked."""
    front = 'front = "Why is $log(p(x)) >= ELBO(q)$?"\n'
    body = 'title = "t"\n' + assume + '[[card]]\n' + front + 'back = "b"\nformula = "log(p(x)) >= ELBO(q)"\n'
    with pytest.raises(DerivationError) as info:
        load_deck(write(tmp_path, body))
    assert info.value.line == 4 and "printed without them" in info.value.message
    plain = load_deck(write(tmp_path, body.replace(assume, ""), "plain.toml"))
    assert [c.text for c in plain.cards[0].claims] == ["log(p(x)) >= ELBO(q)"]


_LONG_STRINGS = [
    'back = """\nThe gap is \\"a\\" \\\\ KL:\n  the $KL(q(z), p(z | x)$ here."""',  # escapes, newline after the opening
    "back = '''Literal \\n text\nthen $p(x$ and more'''",  # a literal string: no escapes
    'back = """one \\\n\n     two $p(x$ three"""',  # a line-ending backslash drops the break and the blanks
    'back = """caf\\u00e9 \\U000000E9 $p(x$\n"""',  # unicode escapes on the formula's own line
    'back = """tail $p(x$ ""\"\""',  # a quote just before the closing is text
]


@pytest.mark.parametrize("written", _LONG_STRINGS)
def test_an_error_inside_a_multiline_string_names_its_own_line_and_column(tmp_path, written):
    """Red team rt8: a deck error inside a ``\"\"\"`` string named the key's line and no column.  Now the
    line and column of the offending character itself: the ``(`` that is never closed."""
    text = f'title = "t"\n\n[[card]]\nfront = "f"\n{written}\n'
    path = write(tmp_path, text)
    with pytest.raises(DerivationError, match="is never closed") as info:
        load_deck(path)
    lines = text.splitlines()
    line = next(n for n, source in enumerate(lines, 1) if "(x$" in source or "| x)$" in source)
    column = lines[line - 1].index("KL(" if "KL(" in lines[line - 1] else "p(") + (3 if "KL(" in lines[line - 1] else 2)
    assert (info.value.line, info.value.column) == (line, column - 1), str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:{column}: card 1: 'back': formula $")
    assert info.value.pointer().splitlines()[1].index("^") - 4 == column - 1


def test_a_formula_in_a_multiline_string_names_its_own_line_and_column(tmp_path):
    path = write(tmp_path, 'title = "t"\n[[card]]\nfront = "f"\nback = "b"\nformula = """\n'
                           '  log(p(x)) >= ELBO(q"""\n')
    with pytest.raises(DerivationError, match="formula: missing") as info:
        load_deck(path)
    assert str(info.value).startswith(f"{path}:6:20: ")


@pytest.mark.parametrize("written", [*_LONG_STRINGS, "back = '''\nno escapes \\\\ here\n'''",
                                     'back = """a ""\nb ""\\"\n"""', 'back = """\\ta\\tb\\\n   \n  c\\f"""'])
def test_a_multiline_strings_text_is_what_toml_reads(written):
    """The positions come from decoding the string as TOML does: the same text as tomllib's."""
    import tomllib

    from elbo_sym.engine.derivation import _multiline_string

    lines = written.splitlines()
    text, places = _multiline_string(lines, 1)
    assert text == tomllib.loads(written)["back"] and len(places) == len(text) + 1
    for char, (line, column) in zip(text, places, strict=False):
        assert char == "\n" or lines[line - 1][column] in (char, "\\")

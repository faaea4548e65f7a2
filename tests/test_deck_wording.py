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


# -- relations a card's text states in words: warned of, on stderr, by every command that checks a deck ----------

WORDED = '''title = "words"

[[card]]
front = "What is the gap when q is the posterior?"
back = "Note that $KL(q(z), p(z | x))$ is $0$."

[[card]]
front = "The bound"
back = "Note that $ELBO(q)$ is at most $log(p(x))$."
formula = "ELBO(q) <= log(p(x))"

[[card]]
front = "Not negative"
back = "Note that $KL(q(z), p(z))$ is at least $0$."
'''
WARNING = ("warning: {path}:5:40: card 1: 'back': \"$KL(q(z), p(z | x))$ is $0$\" states a relation in words that "
           "the card does not check (checked on its own it is refuted)")


@pytest.fixture
def worded(tmp_path: Path) -> Path:
    path = tmp_path / "words.toml"
    path.write_text(WORDED, "utf-8")
    return path


def test_a_relation_in_words_warns_unless_the_card_or_the_checker_checks_it(worded):
    """Card 1's words are false (warned: refuted); card 2's are its formula (no warning); card 3's the
    checker proves on its own (kl-nonneg: no warning).  The verdicts stay: the deck still holds."""
    result = practice.check_deck(practice.load_deck(worded))
    assert [v.verdict for v in result.verdicts] == ["none", "proved", "none"] and result.ok
    assert [(w.line, w.column) for w in result.warnings] == [(5, 40)]
    assert "write it as a formula in the card's text" in result.warnings[0].message


def test_cards_check_prints_the_warnings_on_stderr_and_keeps_its_exit_status(worded, capsys, monkeypatch, tmp_path):
    from elbo_sym.cli import main

    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["cards", str(worded), "--check"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(WARNING.format(path=worded)) and err.count("warning: ") == 1 and "warning" not in out
    assert main(["cards", str(worded), "--check", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(WARNING.format(path=worded)) and '"warnings"' in out


def test_flashcards_anki_and_moodle_pass_the_warnings_on(worded, capsys, monkeypatch, tmp_path):
    from elbo_sym.cli import main

    monkeypatch.chdir(tmp_path)
    for argv in (["flashcards", str(worded)], ["flashcards", str(worded), "--anki", "d.apkg"],
                 ["cards", str(worded)], ["cards", str(worded), "--moodle", "q.xml"]):
        assert main(argv) == 0, argv
        out, err = capsys.readouterr()
        assert err.startswith(WARNING.format(path=worded)) and err.count("warning: ") == 1, argv
        assert "warning" not in out, argv
    assert "warning" not in (tmp_path / "q.xml").read_text("utf-8")


def test_the_handout_and_the_page_of_a_deck_carry_its_warnings_for_build_and_web(worded):
    from elbo_sym.publish.handouts import flashcards_handouts
    from elbo_sym.publish.web import flashcards_page

    (handout,) = flashcards_handouts(flashcards=worded)
    page = flashcards_page(worded)
    for warnings in (handout.warnings, page.warnings):
        assert len(warnings) == 1 and warnings[0].startswith(WARNING.format(path=worded))
    assert "warning" not in page.body and "states a relation" not in handout.render()


@pytest.mark.full  # two commands over a project, 2.1 s of CPU; cards --check's stderr stays in `make test`
def test_build_and_web_print_the_decks_warnings_on_stderr(worded, capsys, tmp_path):
    """The commands that publish a project's decks pass the warnings on as they pass on check's."""
    from elbo_sym.cli import main

    (tmp_path / "one.toml").write_text('title = "one"\nstart = "KL(q(z), q(z))"\n[[step]]\nrel = "="\nexpr = "0"\n'
                                       'rule = "algebra"\n', "utf-8")
    (tmp_path / "elbo-sym.toml").write_text(f'derivations = ["one.toml"]\nflashcards = "{worded.name}"\n', "utf-8")
    for argv in (["web", "--out", str(tmp_path / "pages")],
                 ["build", "--only", "flashcards", "--out", str(tmp_path / "out")]):
        assert main([*argv, "--project", str(tmp_path)]) == 0, argv
        out, err = capsys.readouterr()
        assert err.count("warning: ") == 1 and WARNING.format(path=worded) in err and "warning" not in out, argv


# -- words are decided under only the conditions printed with them (rt44 F6, F11) -------------------------------

CONDITIONED = '''title = "{title}"
summary = "{summary}"
{deck_assume}

[[card]]
front = "Note that $ELBO(q)$ is $log(p(x))$. Why?"
back = "Here $ELBO(q)$ equals $log(p(x))$."
formula = "ELBO(q) = log(p(x))"
assume = "q(z) = p(z | x)"
'''


def _warned(tmp_path: Path, text: str) -> list[tuple[int, str]]:
    path = tmp_path / "deck.toml"
    path.write_text(text, "utf-8")
    result = practice.check_deck(practice.load_deck(path))
    assert result.ok  # a warning never changes a verdict
    return [(w.line, w.message.split(":")[0]) for w in result.warnings]


def test_a_front_is_decided_without_its_cards_conditions_and_a_back_under_them(tmp_path):
    """The front is printed alone: ELBO(q) = log p(x) is false for a general q (warned); the back is printed
    with 'if q(z) = p(z | x)' and the formula checks it (no warning)."""
    text = CONDITIONED.format(title="t", summary="s", deck_assume="")
    assert _warned(tmp_path, text) == [(6, "card 1")]


def test_a_deck_title_and_summary_are_decided_without_the_decks_conditions(tmp_path):
    """Title and summary are printed with no condition near them (Anki's deck name, Moodle's category)."""
    text = CONDITIONED.format(title="$ELBO(q)$ is $log(p(x))$", summary="Here $ELBO(q)$ equals $log(p(x))$.",
                              deck_assume='assume = "q(z) = p(z | x)"')
    assert _warned(tmp_path, text) == [(6, "card 1"), (1, "title"), (2, "summary")]


def test_a_formulaless_back_is_not_decided_under_its_decks_assume(tmp_path):
    """A card with no formula prints no condition, so its deck's assume does not make its words hold."""
    text = ('title = "t"\nassume = "q(z) = p(z | x)"\n\n[[card]]\nfront = "Tight?"\n'
            'back = "Yes: $ELBO(q)$ equals $log(p(x))$."\n')
    assert _warned(tmp_path, text) == [(6, "card 1")]
    with_formula = text + 'formula = "ELBO(q) = log(p(x))"\n'  # now printed beside "if q(z) = p(z | x)"
    assert _warned(tmp_path, with_formula) == []

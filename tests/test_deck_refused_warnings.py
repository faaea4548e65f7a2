"""A refused deck still warns, and a card's layout warning names its side's line (session 18's notes).

* A deck with a card that is not proved is refused by every command that prints it; the warnings on its
  relations in words were printed only when it was not refused. They are printed before the refusal.
* A flashcard's text too tall for its card named the ``[[card]]`` line; it names its side's key
  (``front =``, ``back =``), where the text to shorten is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.publish.handouts import flashcards_handouts
from elbo_sym.publish.render import overfull_boxes

WORDED_AND_REFUTED = '''title = "Words"

[[card]]
front = "What is the gap when q is the posterior?"
back = "Note that $KL(q(z), p(z | x))$ is $0$."

[[card]]
front = "The bound, reversed"
back = "Not so."
formula = "log(p(x)) <= ELBO(q)"
'''
WARNING = "warning: {path}:5:40: card 1: 'back': \"$KL(q(z), p(z | x))$ is $0$\" states a relation in words"


@pytest.fixture
def refused(tmp_path: Path) -> Path:
    path = tmp_path / "words.toml"
    path.write_text(WORDED_AND_REFUTED, "utf-8")
    return path


def test_every_command_that_refuses_a_deck_prints_its_warnings_first(refused, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "one.toml").write_text('title = "one"\nstart = "KL(q(z), q(z))"\n[[step]]\nrel = "="\nexpr = "0"\n'
                                       'rule = "algebra"\n', "utf-8")
    (tmp_path / "elbo-sym.toml").write_text(f'derivations = ["one.toml"]\nflashcards = "{refused.name}"\n', "utf-8")
    for argv in (["flashcards", str(refused)], ["flashcards", str(refused), "--anki", "d.apkg"],
                 ["cards", str(refused)], ["cards", str(refused), "--moodle", "q.xml"],
                 ["build", "--only", "flashcards", "--out", "out"], ["web", "--out", "pages"]):
        assert main(argv) == 1, argv
        out, err = capsys.readouterr()
        lines = err.splitlines()
        warned = [i for i, line in enumerate(lines) if line.startswith(WARNING.format(path=refused.name))
                  or line.startswith(WARNING.format(path=refused))]
        refusal = [i for i, line in enumerate(lines) if "card 2 is refuted" in line]
        assert len(warned) == 1 and refusal and warned[0] < refusal[0], (argv, err)
        assert "warning" not in out, argv
    assert not (tmp_path / "d.apkg").exists() and not (tmp_path / "q.xml").exists()


def test_a_cards_layout_warning_names_its_sides_key(tmp_path: Path) -> None:
    """The %@ line before each side names the line of its key: a back too tall for its card is blamed
    on ``back =`` (line 5), a front on ``front =`` (line 4), not on the ``[[card]]`` header (line 3)."""
    deck = tmp_path / "fc.toml"
    deck.write_text('title = "Tall"\n\n[[card]]\nfront = "Short"\nback = "Long enough."\n', "utf-8")
    source = flashcards_handouts(flashcards=deck, solutions="separate")[0].render()
    markers = [line for line in source.splitlines() if line.startswith("%@ the ")]
    assert [m.rsplit(":", 1)[1] for m in markers] == ["4", "5"], markers
    assert markers[0].startswith("%@ the front of card 1, ") and markers[1].startswith("%@ the back of card 1, ")
    at = source.splitlines().index(markers[1]) + 2  # the back's \node, under its marker
    (box,) = overfull_boxes(f"elbo-sym layout: the back of card 1 is 196.4pt too high at line {at}\n", source)
    assert box.part == f"the back of card 1, {deck}:5, measured by the template", box.part

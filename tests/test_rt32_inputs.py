"""A new author's inputs (red team rt32): `check .` in a course folder with its deck, error
positions of unknown tables and of example expectations, the hint for `E[q, f]`, a parameter
named after a Python keyword."""

from __future__ import annotations

from pathlib import Path

from elbo_sym.cli import main

REPO = Path(__file__).resolve().parent.parent
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
DECK = '''title = "Week 5"

[[card]]
front = "What does the ELBO bound?"
back = "The log-evidence."
formula = "ELBO(q) <= log(p(x))"
'''


def test_check_of_a_folder_skips_its_deck_and_says_so(tmp_path: Path, capsys) -> None:
    (tmp_path / "gap.toml").write_text(GAP, "utf-8")
    (tmp_path / "cards.toml").write_text(DECK, "utf-8")
    assert main(["check", "--no-cache", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "1 derivation(s)" in captured.out
    assert f"skipped {tmp_path / 'cards.toml'}: a deck" in captured.err
    assert "elbo-sym cards" in captured.err


def test_a_deck_named_as_a_file_is_still_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "cards.toml").write_text(DECK, "utf-8")
    assert main(["check", "--no-cache", str(tmp_path / "cards.toml")]) == 2
    assert "is a deck" in capsys.readouterr().err


def test_a_derivation_with_a_stray_card_is_read_as_a_derivation(tmp_path: Path, capsys) -> None:
    (tmp_path / "gap.toml").write_text(GAP + "\n[[card]]\nfront = \"x\"\n", "utf-8")
    assert main(["check", "--no-cache", str(tmp_path)]) == 2  # not skipped: its error is shown
    assert "is a deck" in capsys.readouterr().err

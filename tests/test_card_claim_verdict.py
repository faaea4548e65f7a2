"""`cards --check` shows the verdict on the claims of a card without a formula (red team rt26: a
refuted ``$a >= b$`` in a card's back printed "2. (no formula)" and a counterexample, with no
✗ refuted mark and nothing saying which claim failed)."""

from __future__ import annotations

from elbo_sym.cli import main

DECK = '''title = "Facts"

[[card]]
front = "Is the ELBO below log p(x)?"
back = "Yes: $ELBO(q) <= log(p(x))$."

[[card]]
front = "And above?"
back = "Also $ELBO(q) >= log(p(x))$."
'''


def test_a_claim_of_a_cards_text_has_its_mark_and_text(tmp_path, capsys):
    path = tmp_path / "deck.toml"
    path.write_text(DECK)
    assert main(["cards", str(path), "--check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    first = lines.index(f"  {path}:3   1. (no formula; the claims of its text)")
    assert lines[first + 1].startswith("      ✓ proved ")
    second = lines.index(f"  {path}:7   2. (no formula; the claims of its text)")
    assert lines[second + 1].startswith("      ✗ refuted ")
    assert "the card's text claims $ELBO(q) >= log(p(x))$ (line 9)" in lines[second + 1]
    assert lines[second + 2].startswith("      counterexample: ")

"""`cards --check` shows the verdict on the claims of a card without a formula (red team rt26: a
refuted ``$a >= b$`` in a card's back printed "2. (no formula)" and a counterexample, with no
✗ refuted mark and nothing saying which claim failed)."""

from __future__ import annotations

from elbo_sym.cli import main


def deck(title: str, *cards: dict[str, str]) -> str:
    """A deck's TOML: its title, then each card's keys as given (one copy of the layout the tests'
    line numbers count on: the title on line 1, each card's table after a blank line)."""
    lines = [f'title = "{title}"']
    for card in cards:
        lines += ["", "[[card]]", *(f'{key} = "{value}"' for key, value in card.items())]
    return "\n".join(lines) + "\n"


def checked(tmp_path, capsys, text: str):
    """`cards DECK --check` on the deck `text` (one card is refuted: exit 1); its path and output lines."""
    path = tmp_path / "deck.toml"
    path.write_text(text)
    assert main(["cards", str(path), "--check"]) == 1
    return path, capsys.readouterr().out.splitlines()


DECK = deck("Facts", {"front": "Is the ELBO below log p(x)?", "back": "Yes: $ELBO(q) <= log(p(x))$."},
            {"front": "And above?", "back": "Also $ELBO(q) >= log(p(x))$."})


def test_a_claim_of_a_cards_text_has_its_mark_and_text(tmp_path, capsys):
    path, lines = checked(tmp_path, capsys, DECK)
    first = lines.index(f"  {path}:3   1. (no formula; the claims of its text)")
    assert lines[first + 1].startswith("      ✓ proved ")
    second = lines.index(f"  {path}:7   2. (no formula; the claims of its text)")
    assert lines[second + 1].startswith("      ✗ refuted ")
    assert "the card's text claims $ELBO(q) >= log(p(x))$ (line 9, column 15)" in lines[second + 1]
    assert lines[second + 2].startswith("      counterexample: ")


FALSE_CARDS = deck("False",
                   {"front": "What does the ELBO bound?", "back": "It is below: $ELBO(q) >= log(p(x))$ always.",
                    "formula": "ELBO(q) <= log(p(x))"},
                   {"front": "Its formula, the wrong way round", "back": "The ELBO is at least the evidence.",
                    "formula": "ELBO(q) >= log(p(x))"},
                   {"front": "With a rule named", "back": "The ELBO is at least the evidence.",
                    "formula": "ELBO(q) >= log(p(x))", "rule": "jensen"})


def test_a_false_card_is_refuted_as_false_not_for_a_rule_it_never_used(tmp_path, capsys):
    """red team rt35's F2: a card is no step, so its refusal says the relation is false (with the
    counterexample), not "rule jensen: no log of a sum/expectation matched" for a rule only inferred
    from its `>=`; what a rule the card names says comes after that."""
    _, lines = checked(tmp_path, capsys, FALSE_CARDS)
    refusals = [i for i, line in enumerate(lines) if line.startswith("      ✗ refuted ")]
    assert len(refusals) == 3, lines
    for i in refusals[:2]:                                    # no rule on the card: none in the reason
        assert lines[i].endswith("K = any: false, it fails at the counterexample"), lines[i]
        assert "rule" not in lines[i] and "matched" not in lines[i]
    assert "K = any: false, it fails at the counterexample; rule jensen: " in lines[refusals[2]]
    for i in refusals:
        assert lines[i + 1].startswith("      counterexample: ") and " left = " in lines[i + 1]
    assert "the card's text claims $ELBO(q) >= log(p(x))$ (line 5, column 23)" in lines[refusals[0]]


FREE_LATENT_CARDS = deck("Latent",
                         {"front": "The evidence as a ratio?", "back": "No: z is left free.",
                          "formula": "log(p(x)) = log(p(x, z) / q(z))"},
                         {"front": "And undefined where z is free?", "back": "No.",
                          "formula": "log(p(x, z) - 1) <= log(p(x))"})


def test_a_cards_free_latent_is_said_in_the_cards_words(tmp_path, capsys):
    """red team rt36's F3: a card has no previous expression and is no step, so the note on a latent
    free on one side names the card's two sides, false or undefined at the counterexample."""
    _, lines = checked(tmp_path, capsys, FREE_LATENT_CARDS)
    refusals = [line for line in lines if line.startswith("      ✗ refuted ")]
    assert len(refusals) == 2, lines
    assert "z is free in the card's right side (not bound by a Sum, E, KL or H) while the card's left side " \
           "has none, so the card claims the relation for every value of z: bind z" in refusals[0]
    assert "z is free in the card's left side" in refusals[1] and "the card claims" in refusals[1]
    for line in refusals:
        assert "step" not in line and "previous expression" not in line, line

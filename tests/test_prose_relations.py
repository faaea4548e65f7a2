"""Only checked math is typeset (issue 15, part 5).

* Every Unicode relation sign (derived from Unicode data: elbo_sym.prose.is_relation) written
  inside a ``$...$`` formula or in the text of a field that holds one is refused with
  file:line:col, in titles, summaries and step notes (exit 2); the whole field counts.  The red team's statements:
  ``$log(p(x))$ ≡ $ELBO(q) + 1$``, ``≈``, ``∝``, ``∼``, ``⇔``.
* Plain prose that looks like math (``log p(x) = q(z) - 1``) stays text in the .tex and in the
  web page's Markdown: it is never typeset like a checked formula.
* Flashcard and self-check texts: a relation is a ``$a <= b$`` claim of the card, checked with
  it -- a back that contradicts the card's own proved formula fails ``cards --check`` (exit 1) --
  or it is refused when the deck is loaded (exit 2).
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.lesson.practice import check_deck, load_deck
from elbo_sym.prose import (
    RELATION_LOOKALIKES,
    ProseError,
    allowed,
    check_prose,
    is_relation,
    relation_characters,
    split_math,
)

ROOT = Path(__file__).resolve().parent.parent
GAP = (ROOT / "derivations" / "gap.toml").read_text("utf-8")


@functools.cache
def relations() -> list[str]:
    """Every relation sign of Unicode, sorted: found when a test asks (a scan of 0x30000 code points,
    about half a second, which every xdist worker would pay while collecting)."""
    return sorted(relation_characters())


def printable_relations() -> list[str]:
    """relations() that may be printed (the others are refused as unprintable anyway)."""
    return [ch for ch in relations() if allowed(ch)]


BRIEF = "= ≠ < > ≤ ≥ ≡ ≈ ≅ ∝ ∼ ≃ ⇔ ⇒ → ≪ ≫ ← ↔ ⟹ ⟺ ∈ ∉ ⊂ ⊆ ≺ ≻ ∣ ∥ ⊥ ⊢ ⊨ ~ ≐ ≙ ≜ ⩽ ⩾ ⪅ ⪆"


def gap_with(title: str | None = None, summary: str | None = None, why: str | None = None) -> str:
    """gap.toml with one prose field replaced by a TOML string (written as given)."""
    text = GAP
    for key, value in (("title", title), ("summary", summary)):
        if value is not None:
            start = text.index(f"{key} = ")
            text = text[:start] + f"{key} = {value}" + text[text.index("\n", start):]
    if why is not None:
        text = text.replace('why = "the KL divergence from q to the posterior"', f"why = {why}")
    return text


# ---------------------------------------------------------------------------- the set, from Unicode data


def test_the_relation_set_is_derived_from_unicode_data():
    for ch in BRIEF.split():
        assert is_relation(ch), f"{ch} U+{ord(ch):04X} {unicodedata.name(ch)}"
    for ch in "+-*/^|()[]{},.;:!?'\"#$%&@_0aZ −±×·÷∑∏∫∞√∂∇∀∃∧∨∩∪∘αβ‖…–—":
        assert not is_relation(ch), f"{ch} U+{ord(ch):04X}"
    assert len(relations()) > 700  # whole blocks: arrows (2190-21FF, 27F0-27FF, 2900-297F) and operators
    assert all(unicodedata.category(ch) in ("Sm", "So") for ch in relations())
    assert set("<=>~≤≥≠≈≡∝∼→←⇒⇔∈") <= set(printable_relations())


@pytest.mark.parametrize("pattern", ["$a$ {} $b$", "$a${}$b$", "$a$ {} 0", "0 {} $b$", "$a {} b$", "$a$ is {} 1",
                                     "($a$) ({}) x", "first $a$; later, y {} 2"])
def test_every_relation_sign_inside_or_beside_a_formula_is_refused_at_its_position(pattern):
    for ch in relations():
        text = pattern.format(ch).replace("$a$", "$KL(q(z), p(z))$").replace("$b$", "$H(q)$")
        with pytest.raises(ProseError) as info:
            check_prose(text, 1000, "why")
        assert info.value.position == text.index(ch, 1 if text.startswith(ch) else 0) or text[
            info.value.position] == ch, (ch, text, info.value.message)


def test_a_relation_in_a_text_without_formulas_is_text():
    text = "log p(x) = q(z) - 1, and x ≤ 2 → fine\n\nstill no formula: a < b"
    assert [s.kind for s in split_math(text)] == ["text", "paragraph", "text"]
    # the positive controls: a formula anywhere in the field, even paragraphs away (a title or a
    # note prints a blank line as a space)
    for ch, text in (("≤", "the gap $KL(q(z), p(z))$ in words, and x ≤ 2"),
                     ("<", "the gap $KL(q(z), p(z))$ in words\n\nand later a < b"),
                     ("≥", "x ≥\n\n$H(q)$")):
        with pytest.raises(ProseError) as info:
            split_math(text)
        assert text[info.value.position] == ch


def _column_of(text: str, ch: str, line: int) -> int:
    return text.splitlines()[line - 1].index(ch) + 1


@pytest.mark.full
@pytest.mark.parametrize("field", ["title", "summary", "why"])
@pytest.mark.parametrize("placement", ["$log(p(x))$ {} $ELBO(q) + 1$", "$log(p(x))$ {} 1",
                                       "the evidence $log(p(x))$ is {} the ELBO", "$log(p(x)) {} ELBO(q)$"])
def test_each_printable_relation_sign_in_each_field_is_refused_with_a_caret(field, placement):
    for ch in printable_relations() + ["≅", "≪", "≃"]:
        value = placement.format(ch)
        text = gap_with(**{field: f'"{value}"'})
        with pytest.raises(DerivationError) as info:
            loads(text, "gap.toml")
        error = info.value
        assert error.line is not None and error.column is not None, (ch, str(error))
        assert text.splitlines()[error.line - 1][error.column] == ch, (ch, field, str(error))
        assert "unchecked" in error.message or "cannot be typeset" in error.message, error.message


@pytest.mark.parametrize("statement", ["$log(p(x))$ ≡ $ELBO(q) + 1$", "$log(p(x))$ ≈ $ELBO(q)$",
                                       "$p(z | x)$ ∝ $p(x, z)$", "$q(z)$ ∼ $p(z)$", "$KL(q(z), p(z))$ ⇔ $H(q)$"])
def test_the_red_teams_statements_exit_2_with_file_line_and_column(statement, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("claims.toml").write_text(gap_with(summary=f'"{statement}"'), "utf-8")
    code = main(["check", "--no-cache", "claims.toml"])
    err = capsys.readouterr().err
    assert code == 2
    glyph = next(ch for ch in statement if is_relation(ch))
    column = _column_of(Path("claims.toml").read_text("utf-8"), glyph, 2)
    assert f"claims.toml:2:{column}:" in err, err
    assert "^" in err and "unchecked" in err


# ---------------------------------------------------------------------------- plain prose stays text

PLAIN = "log p(x) = q(z) - 1"


@pytest.fixture(scope="module")
def plain_report():
    from elbo_sym.report.build import check_file

    report = check_file(loads(gap_with(why=f'"{PLAIN}"', summary=f'"so {PLAIN} and x ~ z"'), "plain.toml"))
    assert report.ok
    return report


def test_plain_prose_stays_text_in_the_tex(plain_report):
    from elbo_sym.publish.handouts import derivations_handout

    tex = derivations_handout([plain_report]).render()
    assert r"log p(x) = q(z) \ensuremath{-} 1" in tex  # the words, escaped; a minus sign is typography
    assert r"so log p(x) = q(z) \ensuremath{-} 1 and x \textasciitilde{} z" in tex
    for math in (r"\(p(x)\)", r"\(q(z)\)", r"\(\log p(x)\)", r"\(x\)", r"\(z\)"):
        assert math not in tex, math


def test_plain_prose_stays_text_in_the_web_markdown(plain_report):
    from elbo_sym.publish import web
    from elbo_sym.publish.render import smart_punctuation

    page = web.derivations_page([plain_report])
    # set as the PDFs set author prose (the site's SmartyPants is off): `q(z) - 1` with a minus sign
    assert web.md_text(smart_punctuation(PLAIN)) in page.body
    assert "q(z) \u2212 1" in page.body
    assert web.md_text(smart_punctuation(f"so {PLAIN} and x ~ z")) in page.body
    assert not any(f.tex in ("p(x)", "q(z)", r"\log p(x)", "x", "z") for f in page.formulas)


@pytest.mark.full
def test_plain_prose_stays_text_in_the_pdf(plain_report, tmp_path, requires_latex):
    import subprocess

    from elbo_sym.publish.handouts import derivations_handout, write_handouts

    (built,) = write_handouts([derivations_handout([plain_report])], tmp_path)
    assert built.ok, built.message
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert "log p(x) = q(z) \u2212 1" in " ".join(text.split())


# ---------------------------------------------------------------------------- cards and the self-check

DECK = '''title = "t"

[[card]]
front = "Where does the ELBO sit?"
back = {back}
formula = "ELBO(q) <= log(p(x))"
rule = "kl-nonneg"
'''


def deck(tmp_path: Path, back: str, kind: str = "card") -> Path:
    path = tmp_path / "deck.toml"
    text = DECK.format(back=back)
    if kind == "question":
        text = text.replace("[[card]]", "[[question]]").replace("front =", "question =").replace("back =", "answer =")
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("kind", ["card", "question"])
def test_a_back_that_contradicts_its_proved_formula_fails_cards_check(tmp_path, capsys, kind):
    path = deck(tmp_path, '"Above it: $ELBO(q) > log(p(x))$ for every q."', kind)
    (card,) = load_deck(path).cards
    assert [c.text for c in card.claims] == ["ELBO(q) > log(p(x))"]
    (verdict,) = check_deck(load_deck(path)).verdicts
    assert verdict.verdict == "refuted" and "ELBO(q) > log(p(x))" in verdict.reason and not verdict.ok
    assert main(["cards", "--check", str(path)]) == 1
    assert "refuted" in capsys.readouterr().out


def test_a_back_that_states_its_formula_is_proved_and_printed(tmp_path, capsys):
    from elbo_sym.publish.handouts import _card_context
    from elbo_sym.publish.web import _cards_prose

    path = deck(tmp_path, '"Below it: $ELBO(q) <= log(p(x))$, the gap being a KL divergence."')
    result = check_deck(load_deck(path))
    assert [v.verdict for v in result.verdicts] == ["proved"]
    assert main(["cards", "--check", str(path)]) == 0
    (card,) = result.deck.cards
    back = _card_context(card, result.verdicts[0])["back"]
    assert r"\(\mathcal{L}(q) \leq \log p(x)\)" in back
    assert any(part.kind == "math" and r"\leq" in part.latex for part in _cards_prose("flashcards", path)[1][1])


def test_a_false_claim_without_a_formula_fails_too(tmp_path):
    path = tmp_path / "deck.toml"
    path.write_text('title = "t"\n[[card]]\nfront = "f"\nback = "$H(q) < 0$"\n', "utf-8")
    (verdict,) = check_deck(load_deck(path)).verdicts
    assert verdict.verdict in ("refuted", "error", "checked") and not verdict.ok


@pytest.mark.parametrize("back", ['"Above it: ELBO(q) > log p(x)."', '"$ELBO(q)$ ≡ $log(p(x)) + 1$"',
                                  '"$ELBO(q) ≥ log(p(x))$"', '"$ELBO(q)$ is at most $log(p(x))$, ~ equal"',
                                  '"q → p"'])
def test_an_unchecked_relation_in_a_card_is_refused_at_load(tmp_path, capsys, back):
    path = deck(tmp_path, back)
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    error = info.value
    assert error.line == 5 and error.column is not None
    assert is_relation(path.read_text("utf-8").splitlines()[4][error.column])
    assert main(["cards", "--check", str(path)]) == 2
    assert "deck.toml:5:" in capsys.readouterr().err


def test_every_relation_sign_in_a_card_text_is_refused():
    for ch in relations():
        for text in (f"a {ch} b", f"$H(q)$ {ch} 0", f"$H(q) {ch}{ch} 0$"):
            if ch in "<=>" and text.startswith("$H(q) "):
                continue  # "$H(q) << 0$", "$H(q) == 0$": a claim's relation, parsed by the loader
            with pytest.raises(ProseError):
                check_prose(text, 1000, "back", claims=True)


def test_the_lesson_decks_state_only_checked_relations():
    from elbo_sym.lesson.practice import load_flashcards, load_selfcheck

    for loaded in (load_selfcheck(), load_flashcards()):
        for card in loaded.cards:
            for text in (card.front, card.back):
                assert not any(is_relation(ch) for span in split_math(text, claims=True) if span.kind == "text"
                               for ch in span.text)


@pytest.mark.parametrize("sign", sorted(RELATION_LOOKALIKES))
def test_a_sign_that_reads_as_a_relation_beside_a_formula_is_refused(sign):
    """The red team's third round: ‹ « | ‖ ¬ are punctuation or symbols to Unicode, but between
    two typeset formulas they read as <, <<, "divides", "parallel", "not"."""
    text = f"we show $log(p(x))$ {sign} $ELBO(q)$"
    with pytest.raises(ProseError) as refused:
        split_math(text)
    assert refused.value.position == text.index(sign, text.index("$", 5) + 1)
    assert split_math(f"the posterior $p(z | x)$ and {'a' if sign != '|' else 'b'} word")  # inside: the parser's
    assert split_math(f"plain words {sign} without formulas")  # no formula: the sign is text

"""Prose states no relation nobody checked, in any form (elbo_sym.prose, the deck loader).

The red team's /tmp/rt1/F1 and /tmp/rt1/cards: a card's ``topic = "$ELBO(q) > log(p(x))$"``
passed ``cards --check`` (a topic's ``$a > b$`` was read as a claim, and nobody checked it) and
was printed on every Anki card's front as MathJax, in the self-check's headings, on the site and
in the flashcards PDF.  A topic and a deck's title and summary are checked by nothing: no
relation in any form.  A card's front and back (and a derivation's fields beside a formula)
refuse a relation spelled as an HTML character reference or a TeX command as they refuse its sign.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.lesson.practice import load_deck
from elbo_sym.prose import ProseError, check_prose, first_relation, spelled_relation
from elbo_sym.publish.anki import note_fields

ROOT = Path(__file__).resolve().parents[1]
# a relation in every form the red team and the brief name: in $...$, in \(...\), as an HTML
# character reference (named, decimal, hexadecimal), as a Unicode sign, as a TeX command
RELATIONS = ["$ELBO(q) > log(p(x))$", "$KL(q(z), p(z | x)) < 0$", "\\\\(a > b\\\\)", "ELBO &gt; log p",
             "a &lt; b", "a &#8804; b", "a &#x2265; b", "a &le; b", "a \u2264 b", "a \u2260 b", "a > b",
             "a \\\\leq b", "a \\\\ge b", "a \\\\neq b", "a \\\\lt b", "a \\\\gt b", "a \\\\Rightarrow b",
             "a \\\\approx b"]
CARD = 'title = "Week 5"\n\n[[{table}]]\n{front} = "Which way does the bound go?"\n{back} = "Up."\n' \
       'topic = "{topic}"\nformula = "ELBO(q) <= log(p(x))"\n'


def _deck(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deck.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("table, front, back", [("card", "front", "back"), ("question", "question", "answer")])
@pytest.mark.parametrize("topic", RELATIONS)
def test_a_topic_with_a_relation_in_any_form_is_refused(tmp_path, table, front, back, topic):
    path = _deck(tmp_path, CARD.format(table=table, front=front, back=back, topic=topic))
    with pytest.raises(DerivationError) as info:
        load_deck(path)
    assert info.value.line == 6 and "'topic': a relation" in info.value.message
    assert "printed unchecked" in info.value.message


@pytest.mark.parametrize("key", ["title", "summary"])
@pytest.mark.parametrize("text", RELATIONS[:5])
def test_a_decks_title_and_summary_state_no_relation(tmp_path, key, text):
    body = CARD.format(table="card", front="front", back="back", topic="jensen").replace(
        'title = "Week 5"\n', 'title = "Week 5"\n' if key == "summary" else "")
    path = _deck(tmp_path, f'{key} = "{text}"\n' + body)
    with pytest.raises(DerivationError, match=rf"{key}: a relation .* in a deck's {key} would be printed unchecked"):
        load_deck(path)


def test_the_red_teams_decks_fail_the_check_as_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    for table, front, back, topic in [("card", "front", "back", "$ELBO(q) > log(p(x))$"),
                                      ("question", "question", "answer", "$KL(q(z), p(z | x)) < 0$")]:
        path = _deck(tmp_path, CARD.format(table=table, front=front, back=back, topic=topic))
        assert main(["cards", "--check", str(path)]) == 2
        assert "topic': a relation" in capsys.readouterr().err


def test_a_topic_may_hold_an_expression_and_words(tmp_path):
    path = _deck(tmp_path, CARD.format(table="card", front="front", back="back",
                                       topic="the gap $KL(q(z), p(z | x))$ and Jensen's inequality"))
    (card,) = load_deck(path).cards
    assert card.topic == "the gap $KL(q(z), p(z | x))$ and Jensen's inequality"


@pytest.mark.parametrize("spelled", ["&gt;", "&#62;", "&#x3E;", "&ge;", "\\\\leq", "\\\\ge", "\\\\neq", "\\\\lt",
                                     "\\\\to", "\\\\longrightarrow"])
def test_a_cards_text_refuses_a_spelled_relation(tmp_path, spelled):
    text = CARD.format(table="card", front="front", back="back", topic="jensen").replace(
        '"Up."', f'"ELBO(q) {spelled} log p(x)"')
    with pytest.raises(DerivationError, match=r"'back': a relation .* in a card's text would be printed unchecked"):
        load_deck(_deck(tmp_path, text))


def test_spellings_that_are_not_relations_pass():
    for text in ("&amp; &quot; \\log \\alpha \\infty \\sum &le no semicolon", "log p(x) + 1", "K-L"):
        assert spelled_relation(text) is None and first_relation(text) is None, text
    assert check_prose("KL &amp; ELBO $KL(q(z), p(z))$", 200, "why") == "KL &amp; ELBO $KL(q(z), p(z))$"


def test_a_spelled_relation_beside_a_formula_is_refused_in_any_prose():
    for text in ("$ELBO(q)$ &gt; $log(p(x))$", "$ELBO(q)$ \\leq $log(p(x))$", "$H(q)$ &#8805; 0"):
        with pytest.raises(ProseError, match="next to a formula would be printed unchecked"):
            check_prose(text, 200, "why")
    assert check_prose("x = 1 and a &gt; b", 200, "why") == "x = 1 and a &gt; b"  # no formula: text, as written
    gap = (ROOT / "derivations" / "gap.toml").read_text(encoding="utf-8")
    bad = gap.replace('why = "the KL divergence from q to the posterior"',
                      'why = "the KL divergence $KL(q(z), p(z | x))$ \\\\geq 0"')
    assert bad != gap
    with pytest.raises(DerivationError, match=r"why: a relation \(\\geq\) next to a formula"):
        loads(bad, "gap.toml")


def test_every_anki_field_keeps_typed_prose_away_from_mathjax(tmp_path):
    """Front, back and topic: text only inside spans MathJax 2, 3 and 4 ignore, its backslashes as character
    references; MathJax only from the printer."""
    path = _deck(tmp_path, 'title = "t"\n[[card]]\nfront = "Typed \\\\(a + b\\\\) and $KL(q(z), p(z))$"\n'
                           'back = "\\\\[x\\\\] $H(q)$"\ntopic = "the \\\\(gap\\\\) $ELBO(q)$"\n')
    (card,) = load_deck(path).cards
    front, back, formula, topic = note_fields(card)
    assert formula == ""
    for field, typed in ((front, "&#92;(a + b&#92;)"), (back, "&#91;x&#92;]"), (topic, "&#92;(gap&#92;)")):
        assert '<span class="tex2jax_ignore mathjax_ignore">' in field and typed in field
        outside = re.sub(r'<span class="tex2jax_ignore mathjax_ignore">[^<]*</span>', "", field)
        assert "&#" not in outside and outside.count(r"\(") == 1  # the one printed $...$ formula

"""Anki export: MathJax formulas, stable ids and guids, a valid package."""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest

genanki = pytest.importorskip("genanki")

from elbo_sym.cli import main  # noqa: E402
from elbo_sym.engine.notation import to_latex  # noqa: E402
from elbo_sym.files import InputError  # noqa: E402
from elbo_sym.lesson.practice import load_flashcards  # noqa: E402
from elbo_sym.prose import AUTHOR_CLASSES  # noqa: E402
from elbo_sym.publish import anki  # noqa: E402


def read_apkg(path: Path, tmp: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        z.extract("collection.anki2", tmp)
    db = sqlite3.connect(tmp / "collection.anki2")
    try:
        notes = db.execute("select guid, mid, flds, tags from notes order by guid").fetchall()
        models, decks = db.execute("select models, decks from col").fetchone()
    finally:
        db.close()
    return {"notes": notes, "models": json.loads(models), "decks": json.loads(decks)}


@pytest.fixture(scope="module")
def deck():
    return load_flashcards()


def test_mathjax_wraps_and_escapes() -> None:
    assert anki.mathjax(r"\log p(x) \geq \mathcal{L}(q)") == r"\(\log p(x) \geq \mathcal{L}(q)\)"
    assert anki.mathjax("a < b") == r"\(a &lt; b\)"
    assert "{{" not in anki.mathjax(r"\frac{{a}}{b}")  # never an Anki field tag


def test_fields_use_the_printer_and_escape_prose(deck) -> None:
    card = next(c for c in deck.cards if c.formula is not None and c.formula.is_relation)
    front, back, formula, topic = anki.note_fields(card)
    f = card.formula
    assert formula.startswith(r"\(" + to_latex(f.lhs)) and formula.endswith(r"\)")
    plain = back.replace(f'<span class="{AUTHOR_CLASSES}">', "").replace("</span>", "")
    assert "<" not in plain.replace("&lt;", "")  # prose is HTML-escaped, in spans MathJax ignores
    assert front == f'<span class="{AUTHOR_CLASSES}">{" ".join(card.front.split())}</span>'
    tight = next(c for c in deck.cards if c.conditions_text == ("q(z) = p(z | x)",))
    assert anki.note_fields(tight)[2] == (anki.mathjax(tight.formula.latex) + " &nbsp; if "
                                          + anki.mathjax(tight.conditions_latex))


def test_ids_and_guids_are_stable(tmp_path: Path, deck) -> None:
    a = anki.write_apkg(deck.cards, tmp_path / "a.apkg", timestamp=1_700_000_000)
    b = anki.write_apkg(deck.cards, tmp_path / "b.apkg")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first, second = read_apkg(a, tmp_path / "x"), read_apkg(b, tmp_path / "y")
    assert first["notes"] == second["notes"]
    assert len(first["notes"]) == len(deck.cards)
    assert {n[1] for n in first["notes"]} == {anki.MODEL_ID}
    assert str(anki.MODEL_ID) in first["models"] and str(anki.DECK_ID) in first["decks"]
    assert first["decks"][str(anki.DECK_ID)]["name"] == anki.DECK_NAME
    expected = sorted(genanki.guid_for(anki.GUID_NAMESPACE, " ".join(c.front.split())) for c in deck.cards)
    assert [n[0] for n in first["notes"]] == expected
    assert anki.MODEL_ID == anki.ID_BASE + 1 and anki.DECK_ID == anki.ID_BASE + 2  # fixed, not random
    assert sum(r"\(" in n[2] for n in first["notes"]) == sum(c.formula is not None for c in deck.cards)


def test_cli_writes_the_deck(tmp_path: Path, capsys) -> None:
    out = tmp_path / "deck.apkg"
    assert main(["flashcards", "--anki", str(out)]) == 0
    assert zipfile.is_zipfile(out)
    assert f"wrote {out}" in capsys.readouterr().out
    # no temp file left; the manifest that lets a re-run replace the deck (rt14)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".elbo-sym-files.json", "deck.apkg"]


def test_cli_refuses_a_card_with_a_wrong_formula(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "cards.toml"
    bad.write_text('title = "t"\nsummary = "s"\n\n[[card]]\nfront = "f"\nback = "b"\n'
                   'formula = "log(p(x)) <= ELBO(q)"\nrule = "jensen"\n')
    assert main(["flashcards", str(bad), "--anki", str(tmp_path / "deck.apkg")]) == 1
    assert "card 1 is refuted" in capsys.readouterr().err
    assert not (tmp_path / "deck.apkg").exists()


@pytest.mark.parametrize("value, expected", [("1700000000", 1700000000.0), ("", None)])
def test_source_date_epoch_is_whole_seconds(monkeypatch, value, expected):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert anki._timestamp() == expected


@pytest.mark.parametrize("value", ["²", "١٢", "-5", "abc", "1e9", "99999999999999999999", "  ", "1700000000 "])
def test_a_bad_source_date_epoch_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)  # "²" is a digit to str.isdigit, but float("²") raises
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        anki._timestamp()
    assert main(["flashcards", "--anki", str(tmp_path / "deck.apkg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("elbo-sym: error: SOURCE_DATE_EPOCH must be") and err.count("\n") == 1
    assert not (tmp_path / "deck.apkg").exists()


def test_a_courses_ids_come_from_its_name_and_the_lessons_stay_fixed() -> None:
    lesson = anki.anki_identity()
    assert (lesson.deck_id, lesson.model_id, lesson.guid_namespace) == (anki.DECK_ID, anki.MODEL_ID,
                                                                         anki.GUID_NAMESPACE)
    a, b = anki.anki_identity("Course A"), anki.anki_identity("Course B")
    assert a == anki.anki_identity("  Course   A ")  # the same name (spaces normalised), the same ids
    assert len({a.deck_id, a.model_id, b.deck_id, b.model_id, anki.DECK_ID, anki.MODEL_ID}) == 6
    assert a.guid_namespace != b.guid_namespace != anki.GUID_NAMESPACE
    for ident in (a, b):
        assert 2**40 <= ident.deck_id < 2**52 and 2**40 <= ident.model_id < 2**52
    with pytest.raises(anki.AnkiError):
        anki.anki_identity("   ")


def test_two_courses_with_the_same_card_get_two_notes(tmp_path: Path, deck) -> None:
    card = deck.cards[:1]
    one = read_apkg(anki.write_apkg(card, tmp_path / "a.apkg", "Course A"), tmp_path / "a")
    two = read_apkg(anki.write_apkg(card, tmp_path / "b.apkg", "Course B"), tmp_path / "b")
    assert one["notes"][0][0] != two["notes"][0][0]  # guids differ: Anki keeps both notes
    assert one["notes"][0][2] == two["notes"][0][2]  # the same fields
    assert {d["name"] for d in one["decks"].values()} - {"Default"} == {"Course A"}
    assert set(one["models"]) != set(two["models"])


def test_anki_imports_the_premise_beside_the_cards_formula(tmp_path: Path) -> None:
    """Anki's own importer (the `anki` package) reads the lesson's deck: the card whose formula
    holds only under a premise shows the premise, through the printer, in its Formula field."""
    if os.environ.get("CI"):  # the `anki` package is in the test extras (pyproject.toml): never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    deck = load_flashcards()
    (card,) = [c for c in deck.cards if any(r.rel != "=" for r in c.conditions)]
    assert main(["flashcards", "--anki", str(tmp_path / "lesson.apkg")]) == 0
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "lesson.apkg"), options=ImportAnkiPackageOptions(with_scheduling=False)))
        notes = [col.get_note(n) for n in col.find_notes(f'deck:"{anki.DECK_NAME}"')]
        assert len(notes) == len(deck.cards)
        formulas = {" ".join(n.fields[0].split()): n.fields[2] for n in notes}
    finally:
        col.close()
    shown = next(f for front, f in formulas.items() if " ".join(card.front.split()) in front)
    premise = html.escape(to_latex(card.conditions[0].lhs.expr) + r" \neq " + to_latex(card.conditions[0].rhs.expr),
                          quote=False)
    assert shown == anki.mathjax(card.formula.latex) + r" &nbsp; if \(" + premise + r"\)"
    assert sum(" if \\(" in f for f in formulas.values()) == sum(bool(c.conditions) for c in deck.cards)


DUPLICATE_FRONTS = """title = "ML::Week 5: $ELBO(q)$ costs \\\\$5"

[[card]]
front = "What is the ELBO?"
back = "{first}"
formula = "ELBO(q) <= log(p(x))"

[[card]]
front = "What is the ELBO?"
back = "The reconstruction term minus the KL to the prior."
formula = "ELBO(q) = E(q, log(p(x | z))) - KL(q(z), p(z))"

[[card]]
front = "What is  the   ELBO?"
back = "{third}"
"""


def test_cards_with_the_same_front_are_notes_of_their_own(tmp_path: Path) -> None:
    """Fronts equal up to spacing still get one guid each (Anki would merge notes that share one), and
    a card keeps its guid when the back is edited; a front without a repeat keeps its old guid."""
    path = tmp_path / "cards.toml"
    path.write_text(DUPLICATE_FRONTS.format(first="A lower bound.", third="Spacing differs."))
    cards = load_flashcards(path).cards
    guids = anki.note_guids(cards, "ns")
    assert len(set(guids)) == 3
    assert guids[0] == anki.note_guid(cards[0], "ns")  # the first of a front: the guid decks always had
    path.write_text(DUPLICATE_FRONTS.format(first="A lower bound (edited).", third="Spacing differs (edited)."))
    assert anki.note_guids(load_flashcards(path).cards, "ns") == guids


def test_a_front_that_spells_another_cards_repeat_gets_a_guid_of_its_own() -> None:
    """genanki.guid_for joins its parts with "__", so the second "What?" (guid_for(ns, "What?", 1))
    and a card whose front is "What?__1" hashed alike (red team rt5): one note to Anki."""
    from types import SimpleNamespace

    cards = [SimpleNamespace(front=f) for f in ("What?", "What?__1", "What?", "What?__1")]
    guids = anki.note_guids(cards, "ns")
    assert len(set(guids)) == 4
    assert anki.note_guid(cards[2], "ns", 1) == anki.note_guid(cards[1], "ns")  # the collision itself


def test_anki_updates_every_edited_card_and_names_the_deck_in_plain_text(tmp_path: Path, monkeypatch) -> None:
    """Anki's own importer: a deck exported, edited (two cards with one front, up to spacing) and exported
    again updates all three notes; a title with `::`, a formula and `\\$` names one deck, in plain text."""
    if os.environ.get("CI"):  # the `anki` package is in the test extras (pyproject.toml): never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    monkeypatch.chdir(tmp_path)
    deck_file = tmp_path / "cards.toml"
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        for epoch, edit in ((1_700_000_000, ""), (1_700_000_100, " (edited)")):
            deck_file.write_text(DUPLICATE_FRONTS.format(first=f"A lower bound{edit}.",
                                                         third=f"Spacing differs{edit}."))
            monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))  # the edited deck is the newer one
            assert main(["flashcards", str(deck_file), "--anki", f"deck{epoch}.apkg"]) == 0
            col.import_anki_package(ImportAnkiPackageRequest(
                package_path=str(tmp_path / f"deck{epoch}.apkg"),
                options=ImportAnkiPackageOptions(with_scheduling=False)))
        backs = sorted(re.sub(r"<[^>]*>", "", col.get_note(n).fields[1]) for n in col.find_notes(""))
        names = {d.name for d in col.decks.all_names_and_ids()} - {"Default"}
    finally:
        col.close()
    assert backs == ["A lower bound (edited).", "Spacing differs (edited).",
                     "The reconstruction term minus the KL to the prior."]
    assert names == {"ML: Week 5: ELBO(q) costs $5"}


def test_a_deck_name_is_plain_text_without_nesting() -> None:
    assert anki.deck_name("ML :: Week 5") == "ML: Week 5"
    assert anki.deck_name("Bound on $KL(q(z), p(z | x))$ costs \\$5") == "Bound on KL(q(z), p(z | x)) costs $5"
    assert anki.deck_name("Costs $5") == "Costs $5"  # not a formula: shown as written
    assert anki.deck_name("Ratio 3:2") == "Ratio 3:2"


AUTHOR_TYPED = ("Typed \\\\(x\\\\) and \\\\[y\\\\], [\\\\$]z[/\\\\$], [\\\\$\\\\$]w[/\\\\$\\\\$] and [latex]v[/latex], "
                "[sound:a.mp3] {{c1::u}} costs \\\\$5, {b} back\\\\slash")
AUTHOR_SPAN = re.compile(r'<span class="([^"]*)">([^<]*)</span>')


def _mathjax_skips(classes: str) -> bool:
    """Whether MathJax 3.2's default (options.ignoreHtmlClass 'mathjax_ignore', which Anki's
    ts/mathjax/index.ts keeps) skips an element of these classes: its pattern, a whole class name."""
    return re.search(r"(?:^| )(?:mathjax_ignore)(?: |$)", classes) is not None


def test_authors_tex_and_ankis_own_tags_stay_text_on_the_rendered_card(tmp_path: Path) -> None:
    """Anki renders a field's [latex], [$], [$$] as LaTeX images and [sound:] as a player before its
    MathJax (3.2, which skips class mathjax_ignore, not tex2jax_ignore) typesets \\( \\): an author's
    typed text was turned into all of them.  Rendered by Anki's own library now, the card shows the
    author's text as typed, in spans MathJax skips; the checked formula is still MathJax."""
    if os.environ.get("CI"):  # the `anki` package is in the test extras (pyproject.toml): never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    deck_file = tmp_path / "cards.toml"
    deck_file.write_text(f'title = "t"\n[[card]]\nfront = "{AUTHOR_TYPED}"\nback = "{AUTHOR_TYPED}"\n'
                         'formula = "ELBO(q) <= log(p(x))"\n', encoding="utf-8")
    assert main(["flashcards", str(deck_file), "--anki", str(tmp_path / "deck.apkg")]) == 0
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "deck.apkg"), options=ImportAnkiPackageOptions(with_scheduling=False)))
        (card_id,) = col.find_cards("")
        card = col.get_card(card_id)
        question, answer = card.question(), card.answer()
    finally:
        col.close()
    typed = load_flashcards(deck_file).cards[0].front.replace("\\$", "$")  # the prose escape \$ shows as $
    for shown in (question, answer):
        assert "<img" not in shown and "[anki:" not in shown  # no LaTeX image, no player
        spans = AUTHOR_SPAN.findall(shown)
        assert spans and all(_mathjax_skips(classes) for classes, _ in spans)
        assert not any(re.search(r"[\\{}$\\[]", text) for _, text in spans)  # no delimiter, brace or Anki tag
        assert typed in [html.unescape(text) for _, text in spans]  # as typed, once unescaped
    assert answer.count(r"\(") == 1 and r"\(\mathcal{L}(q) \leq \log p(x)\)" in answer  # the formula: MathJax

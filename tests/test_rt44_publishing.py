"""Red team rt44's publishing findings, each built with LaTeX where it is about a page.

* F2: a card's topic was an unmeasured TikZ node: past about 45 characters it ran over its "front N" label,
  the neighbouring card and the paper's edge, exit 0. It now wraps beside the label, shrinks to \\tiny, and
  a topic too long for the label strip is reported (a failed build with ELBO_SYM_STRICT_LAYOUT=1).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.publish.handouts import flashcards_handouts, write_handout_set, write_handouts

ROOT = Path(__file__).resolve().parent.parent


def _words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """Each word of one page with its box (xMin, yMin, xMax, yMax) in points (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    return [(float(m[1]), float(m[2]), float(m[3]), float(m[4]), m[5]) for m in re.finditer(
        r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', out)]


TOPICS = ("the evidence lower bound versus the Kullback-Leibler divergence",  # rt44's 63 and 71 characters
          "variational inference: the evidence lower bound and its gap, in detail",
          " ".join(["a very long topic"] * 8) + " ends here")  # 150 characters: three lines of \tiny


def _deck(folder: Path, topics: tuple[str, ...]) -> Path:
    path = folder / "cards.toml"
    path.write_text('title = "Topics"\n' + "".join(
        f'\n[[card]]\nfront = "Question {i}"\nback = "Answer {i}."\ntopic = "{topic}"\n'
        for i, topic in enumerate(topics, 1)), "utf-8")
    return path


STRIP = 6.5 * 72 / 25.4 + 2  # the label strip's room for a topic (flashcards.tex.j2's \topicroom), in points


@pytest.mark.full
def test_a_long_topic_wraps_on_its_own_card_beside_its_label(tmp_path: Path) -> None:
    """In each row of cards, every word in the label strip lies on its own card, left of its "front N" /
    "back N" label (and right of its neighbour's), within the strip, on the fronts and on the mirrored
    backs; the hyphen of Kullback-Leibler is kept (F3)."""
    require_latex()
    (report,) = write_handouts(flashcards_handouts(flashcards=_deck(tmp_path, TOPICS), solutions="separate"),
                               tmp_path / "out")
    assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    for page, side in ((1, "front"), (2, "back")):
        words = _words(report.pdf, page)
        rows: dict[float, list] = {}
        for word in words:
            if word[4] == side and word[1] < 700:  # not the footer's "backs, mirrored so that each back ..."
                rows.setdefault(word[1], []).append(word)
        assert len(rows) == 2, rows  # three cards: two rows
        for top, labels in rows.items():
            labels.sort()
            numbers = [next(w for w in words if w[1] == top and w[0] > label[2] and w[0] - label[2] < 6)
                       for label in labels]
            strip = [w for w in words if top - 1 <= w[1] and w[1] < top + STRIP and w not in labels + numbers]
            for word in strip:
                if len(labels) == 2:
                    assert word[2] < labels[0][0] or numbers[0][2] < word[0] and word[2] < labels[1][0], (side, word)
                else:
                    assert word[2] < labels[0][0], (side, word)
            assert strip and all(w[3] < top + STRIP for w in strip), (side, strip)
        assert "Kullback-Leibler" in {w[4] for w in words}, words


@pytest.mark.full
def test_a_topic_too_long_for_the_label_strip_is_reported(tmp_path: Path) -> None:
    """A 200-character topic (the reader's limit) needs four lines of \tiny: reported by name, and with
    ELBO_SYM_STRICT_LAYOUT=1 the build fails and writes nothing."""
    require_latex()
    handouts = flashcards_handouts(flashcards=_deck(tmp_path, ("word " * 40,)), solutions="separate")
    written = write_handout_set(handouts, tmp_path / "out", strict_layout=True)
    (report,) = written.reports
    assert {b.what for b in report.overfull_boxes} == {"the topic of card 1"} and not report.ok
    assert not (tmp_path / "out" / "flashcards.pdf").exists()


# ----------------------------------------------------------------- F7: Romanian names on a roster


@pytest.mark.full
def test_a_romanian_name_is_printed_on_its_sheet_with_commas_below(tmp_path: Path) -> None:
    """Ș and Ț (U+0218, U+021A) were refused as unprintable; T1 sets them as S and T with a comma accent
    below (pdftotext reads the accent as its own ","): the comma lies under its letter, below the line."""
    require_latex()
    from elbo_sym.cli import main

    roster = tmp_path / "ro.csv"
    roster.write_text("id,name\ns1,Ștefan Țară\n", "utf-8")
    assert main(["exercises", "--roster", str(roster), "--out", str(tmp_path / "sheets"), "--count", "1"]) == 0
    words = _words(tmp_path / "sheets" / "s1.pdf", 1)
    at = next(i for i, w in enumerate(words) if w[4] == "Name:")
    letter, comma, rest = words[at + 1:at + 4]
    assert (letter[4], comma[4], rest[4]) == ("S", ",", "tefan"), words[at:at + 8]
    assert letter[0] < comma[0] < comma[2] < letter[2] and comma[3] > letter[3]  # under the S, below its foot


def test_a_rosters_refusal_names_the_letters_the_sheets_print(tmp_path: Path) -> None:
    from elbo_sym.prose import allowed
    from elbo_sym.publish.roster import RosterError, read_roster

    assert all(allowed(ch) for ch in "ȘșȚț") and not allowed("ǎ")
    roster = tmp_path / "ro.csv"
    roster.write_text("id,name\ns1,Ǎda\n", "utf-8")
    with pytest.raises(RosterError) as error:
        read_roster(roster)
    assert str(error.value) == (f"{roster}:2:4: the name has U+01CD (LATIN CAPITAL LETTER A WITH CARON), which the "
                                "sheets cannot print (they print the letters of Latin-1 and Latin Extended-A but "
                                "Ħ ħ ĸ Ŀ ŀ ŉ Ŧ ŧ ſ, and Ș ș Ț ț; write other letters and scripts in those)")


# ----------------------------------------------------------------- F8: one way to typeset p_data


def test_p_data_is_typeset_one_way_in_the_chain_and_in_the_examples_givens() -> None:
    """from-the-literature.pdf printed ``p_{\\mathit{data}}`` in Example 1's givens (notation.name_latex read
    "data" as an index word) and ``p_{\\mathrm{data}}(x_1)`` in the chain above it."""
    from elbo_sym.engine.notation import DATA_DENSITY_LATEX, name_latex
    from elbo_sym.publish.handouts import derivations_handout
    from elbo_sym.report.build import check_file

    report = check_file(ROOT / "derivations" / "literature" / "alemi-distortion-rate.toml")
    assert [g.symbol.latex for g in report.examples[0].given][-1] == DATA_DENSITY_LATEX == name_latex("p_data")
    source = derivations_handout([report]).render()
    assert r"\mathit{data}" not in source
    assert source.count(DATA_DENSITY_LATEX + "(") >= 2 and source.count(DATA_DENSITY_LATEX + " = ") >= 1


# ----------------------------------------------------------------- F5: a list's entry, not its `[`


@pytest.mark.parametrize(("settings", "where", "message"), [
    ('derivations = ["bound.toml",\n  "missing.toml"]\n', (3, 3), "derivations: missing.toml does not exist"),
    ('derivations = ["bound.toml", "sub/bound.toml"]\n', (2, 30), "derivations: sub/bound.toml does not exist"),
    ('derivations = ["bound.toml"]\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/10",\n "0"]\n'
     'q = ["1/2", "1/2"]\n', (6, 2), "example 1: likelihood: a probability of 0 is not allowed"),
    ('derivations = ["bound.toml"]\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/10", "x"]\n'
     'q = ["1/2", "1/2"]\n', (5, 23), "example 1: likelihood: 'x' is not a number"),
    ('derivations = ["bound.toml"]\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/2", "1/2"]\n'
     'q = ["1/2", "1/3"]\n', (6, 4), "example 1: q sums to 5/6"),  # about the whole list: at its `[`
])
def test_an_error_about_one_entry_of_a_list_points_at_the_entry(tmp_path: Path, settings: str,
                                                                where: tuple[int, int], message: str) -> None:
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.publish.project import find_project

    (tmp_path / "bound.toml").write_text('title = "b"\nstart = "KL(q(z), q(z))"\n[[step]]\nrel = "="\nexpr = "0"\n'
                                         'rule = "algebra"\n', "utf-8")
    (tmp_path / "elbo-sym.toml").write_text('title = "T"\n' + settings, "utf-8")
    with pytest.raises(DerivationError) as error:
        find_project(str(tmp_path))
    # the column counts from 0 (file:line:col prints it + 1)
    assert (error.value.line, error.value.column) == where and error.value.message.startswith(message), error.value


# ----------------------------------------------------------------- F10: a self-check answer's long conditions

LONG = "KL(q(z), p(z)) + KL(q(z), p(z | x)) + H(q) + E(q, log(p(x | z)))"
CONDITIONED = f'''title = "Conditions"
assume = "q(z) != p(z | x)"

[params]
beta = ">= 1"
alpha = ">= 2"
gamma = ">= 3"

[[question]]
question = "Long conditions?"
answer = "Yes."
formula = "E(q, log(p(x | z))) - beta * alpha * gamma * KL(q(z), p(z)) <= log(p(x))"
assume = "{LONG} >= {LONG} - 1"

[[question]]
question = "And without a formula?"
answer = "Still: $KL(q(z), p(z | x)) >= 0$."
'''


@pytest.mark.full
def test_a_self_check_answers_long_conditions_break_between_conditions_and_terms(tmp_path: Path) -> None:
    """rt44's q.toml failed selfcheck.pdf (its conditions one term, scaled below 70 %); now it builds with
    nothing past an edge, every condition printed, the list on more than one line; a question with its
    deck's condition and no formula (a claim in its answer) builds too."""
    require_latex()
    from elbo_sym.publish.handouts import selfcheck_handouts

    deck = tmp_path / "q.toml"
    deck.write_text(CONDITIONED, "utf-8")
    (report,) = write_handouts(selfcheck_handouts(selfcheck=deck), tmp_path / "out")
    assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    text = subprocess.run(["pdftotext", "-f", "3", str(report.pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    for shown in ("if β ≥ 1,", "α ≥ 2,", "γ ≥ 3,", "q(z) ̸= p(z | x),", "− 1"):
        assert shown in text, (shown, text)
    lines = [line for line in text.splitlines() if "KL" in line]
    assert len(lines) >= 3, lines  # the long condition's sides broke over lines


# ----------------------------------------------------------------- F12: a deck's model printed with its cards

BINARY = '''title = "Binary deck"
K = 2

[[card]]
front = "How many states?"
back = "Two."
formula = "Sum(1, z) = 2"
'''
SCOPE = "Every formula of this deck is proved for K = 2 latent states only (the deck's model), not in general."


def _binary(tmp_path: Path, text: str = BINARY) -> Path:
    path = tmp_path / "k2.toml"
    path.write_text(text, "utf-8")
    return path


def test_a_decks_model_is_stated_on_its_page_its_anki_notes_and_its_moodle_questions(tmp_path: Path) -> None:
    """rt44's "Σ_z 1 = 2" read as general everywhere; a deck of every latent space states nothing more."""
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish import anki, moodle, web
    from elbo_sym.publish.handouts import checked_deck
    from elbo_sym.report.build import deck_scope

    deck = load_deck(_binary(tmp_path))
    assert deck_scope(deck).text == SCOPE
    assert "Every formula of this deck is proved for K \\= 2 latent states only" in web.flashcards_page(deck.path).body
    formula = anki.note_fields(deck.cards[0], deck.vocabulary, anki.scope_html(deck_scope(deck)))[2]
    assert formula.startswith(r"\(\sum_{z} 1 = 2\)<br><small>") and formula.endswith(SCOPE + "</span></small>")
    assert "proved for K = 2 latent states only" in moodle.cards_quiz([checked_deck("flashcards", deck.path)[1]])
    general = load_deck(_binary(tmp_path, BINARY.replace("K = 2\n", "").replace("Sum(1, z) = 2", "KL(q(z), q(z)) = 0")))
    assert deck_scope(general) is None and "only (the deck" not in web.flashcards_page(general.path).body


@pytest.mark.full
def test_a_decks_model_is_printed_on_its_flashcards_and_self_check(tmp_path: Path) -> None:
    require_latex()
    from elbo_sym.publish.handouts import selfcheck_handouts

    deck = _binary(tmp_path)
    quiz = tmp_path / "quiz.toml"
    quiz.write_text(BINARY.replace("[[card]]", "[[question]]").replace("front", "question").replace("back", "answer"),
                    "utf-8")
    written = write_handouts(flashcards_handouts(flashcards=deck) + selfcheck_handouts(selfcheck=quiz),
                             tmp_path / "out")
    for report in written:
        assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
        text = subprocess.run(["pdftotext", str(report.pdf), "-"], capture_output=True, text=True, check=True,
                              timeout=CHILD_TIMEOUT_SECONDS).stdout
        assert " ".join(text.split()).count(SCOPE.replace("'", "’")) >= 1, (report.name, text)


# ----------------------------------------------------------------- rt44's smaller notes


def test_a_deck_with_nothing_to_check_says_so_and_a_card_formulas_error_names_its_card(tmp_path: Path) -> None:
    """"17 card(s): 17 none; all hold" said of cards nothing checked; a formula's syntax error named no card."""
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import check_deck, load_deck
    from elbo_sym.report.build import deck_report_of
    from elbo_sym.report.text import deck_text

    path = tmp_path / "words.toml"
    path.write_text('title = "w"\n[[card]]\nfront = "F"\nback = "B"\n[[card]]\nfront = "G"\nback = "C"\n', "utf-8")
    last = deck_text(deck_report_of(check_deck(load_deck(path)))).splitlines()[-1]
    assert last == "  2 card(s): 2 without a formula or claim; nothing to check"
    path.write_text('title = "w"\n[[card]]\nfront = "F"\nback = "B"\nformula = "ELBO(q) <= log(p(x)"\n', "utf-8")
    with pytest.raises(DerivationError) as error:
        load_deck(path)
    assert error.value.message.startswith("card 1: formula: missing `)`") and error.value.line == 5

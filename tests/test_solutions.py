"""Student and teacher versions: --solutions none|separate|inline on the handouts, the text
sheets and the web pages.

* none: no answers anywhere (a student sheet);
* separate: answers only after all the questions -- answers.pdf, or a fresh sheet at the end
  (never on the back of the questions' last page);
* inline: each answer after its question, with verdict marks, rule names and file names (the
  teacher's copy).  Student sheets carry none of these.

The PDFs are read back with pdftotext; expected numbers are recomputed with math.log.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.derivation import discover
from elbo_sym.lesson.exercises import format_drill, format_sheet, generate_exercises, tight_drill
from elbo_sym.lesson.practice import load_flashcards, load_selfcheck
from elbo_sym.publish import web
from elbo_sym.publish.handouts import DEFAULT_SEED, DRILL_COUNT, lesson_handouts, write_handouts

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("derivations", "find-the-mistake", "exercises", "answers", "tight-drill", "selfcheck", "flashcards")
COUNT = 3


def pdf_text(pdf: Path, *args: str) -> str:
    out = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    return out.replace("\u2212", "-").replace("\u2019", "'")


def pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    return pdf_text(pdf).split("\f")[:-1]


def squash(text: str) -> str:
    """Without spaces and hyphens (pdftotext keeps a hyphen where a word was broken)."""
    return "".join(text.split()).replace("-", "")


def values(prior, likelihood, q) -> list[str]:
    joint = [a * b for a, b in zip(prior, likelihood)]
    evidence = sum(joint)
    elbo = sum(float(w) * math.log(j / w) for w, j in zip(q, joint))
    return [f"{float(evidence):.6f}", f"{math.log(evidence) - elbo:.6f}"]


@pytest.fixture(scope="module")
def results(checked_report):
    return [checked_report(f) for f in discover([ROOT / "derivations", ROOT / "derivations" / "teaching"])]


@pytest.fixture(scope="module")
def built(results, tmp_path_factory):
    """{mode: {name: pdf}} for the three modes, each built once (tests using it require LaTeX)."""
    out = {}
    for mode in ("none", "separate", "inline"):
        folder = tmp_path_factory.mktemp(mode)
        handouts = [h for h in lesson_handouts(results, count=COUNT, solutions=mode) if h.name in NAMES]
        reports = write_handouts(handouts, folder)
        for r in reports:
            assert r.ok, f"{mode} {r.name}: {r.message}\n{r.log_excerpt}"
        out[mode] = {r.name: r.pdf for r in reports}
    return out


SHEET = generate_exercises(DEFAULT_SEED, COUNT)
DRILL = tight_drill(DEFAULT_SEED, DRILL_COUNT)


def drill_numbers() -> list[str]:
    return [f"{math.log(sum(a * b for a, b in zip(c.prior, c.likelihood))):.6f}" for c in DRILL.cases]


# --------------------------------------------------------------------------- PDFs


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_none_has_no_answers_anywhere(built):
    pdfs = built["none"]
    assert "answers" not in pdfs  # no answers.pdf
    sheet = pdf_text(pdfs["exercises"])
    for e in SHEET:
        assert f"Case {e.index}" in sheet
        for number in values(e.prior, e.likelihood, e.q):
            assert number not in sheet
    assert "answers.pdf" not in sheet and "answer key" not in sheet.lower()
    drill = pdf_text(pdfs["tight-drill"])
    assert "Answers" not in drill and "near miss" in drill
    assert not any(number in drill for number in drill_numbers())
    selfcheck = squash(pdf_text(pdfs["selfcheck"]))
    for card in load_selfcheck().cards:
        assert squash(card.front)[:40] in selfcheck and squash(card.back)[:40] not in selfcheck
    deck = load_flashcards()
    assert len(pages(pdfs["flashcards"])) == math.ceil(len(deck.cards) / 8)  # fronts only
    assert "back 1" not in pdf_text(pdfs["flashcards"])
    mistakes = pdf_text(pdfs["find-the-mistake"])
    assert "Solutions" not in mistakes and not re.search(r"Step \d+ is wrong", mistakes)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_separate_puts_the_answers_after_all_the_questions_on_a_fresh_sheet(built):
    pdfs = built["separate"]
    sheet, key = pdf_text(pdfs["exercises"]), pdf_text(pdfs["answers"])
    for e in SHEET:
        for number in values(e.prior, e.likelihood, e.q):
            assert number in key and number not in sheet
    for name in ("tight-drill", "selfcheck", "find-the-mistake"):
        texts = pages(pdfs[name])
        heading = "Solutions" if name == "find-the-mistake" else "Answers"
        first = next(i for i, t in enumerate(texts) if re.search(rf"(?m)^{heading}$", t))
        assert first % 2 == 0, f"{name}: the answers start on page {first + 1}, the back of a sheet"
    drill = pages(pdfs["tight-drill"])
    start = next(i for i, t in enumerate(drill) if re.search(r"(?m)^Answers$", t))
    questions, answers = "".join(drill[:start]), "".join(drill[start:])
    for number in drill_numbers():
        assert number in answers and number not in questions
    selfcheck = pages(pdfs["selfcheck"])
    start = next(i for i, t in enumerate(selfcheck) if re.search(r"(?m)^Answers$", t))
    assert start >= 2  # never page 2, the back of the questions
    questions, answers = squash("".join(selfcheck[:start])), squash("".join(selfcheck[start:]))
    for card in load_selfcheck().cards:
        assert squash(card.front)[:40] in questions and squash(card.back)[:40] in answers
        assert squash(card.back)[:40] not in questions


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_student_sheets_carry_no_marks_rule_names_or_file_names(built):
    for mode in ("none", "separate"):
        for name, pdf in built[mode].items():
            text = pdf_text(pdf)
            assert "\u2713" not in text, (mode, name)  # no verdict mark
            assert ".toml" not in text and ".pdf" not in text, (mode, name)
            assert not re.search(r"\[(definition|jensen|linearity|logarithm|bayes|kl-nonneg|algebra)\]", text), \
                (mode, name)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_inline_is_the_teachers_copy(built):
    pdfs = built["inline"]
    assert "answers" not in pdfs
    derivations = pdf_text(pdfs["derivations"])
    assert "\u2713" in derivations and "[jensen]" in derivations and "jensen.toml" in derivations
    sheet = pdf_text(pdfs["exercises"])
    for e in SHEET:  # each case's answers right after it, before the next case
        start = sheet.index(f"Case {e.index}")
        end = sheet.index(f"Case {e.index + 1}") if e.index < COUNT else len(sheet)
        for number in values(e.prior, e.likelihood, e.q):
            assert number in sheet[start:end], (e.index, number)
    drill = pdf_text(pdfs["tight-drill"])
    assert "\u2713" in drill
    for c, number in zip(DRILL.cases, drill_numbers()):
        start = drill.index(f"Case {c.index}")
        assert number in drill[start:drill.index(f"Case {c.index + 1}")]
    selfcheck = squash(pdf_text(pdfs["selfcheck"]))
    for card in load_selfcheck().cards:  # the answer follows its question
        assert selfcheck.index(squash(card.front)[:40]) < selfcheck.index(squash(card.back)[:40])
    mistakes = pdf_text(pdfs["find-the-mistake"])
    assert "Solution" in mistakes and re.search(r"Step \d+ is wrong", mistakes)


# --------------------------------------------------------------------------- text and web


@pytest.mark.full
def test_text_sheets_follow_solutions(capsys):
    sheet = generate_exercises(7, 2)
    none, separate, inline = (format_sheet(sheet, m) for m in ("none", "separate", "inline"))
    key = sheet[0].key.gap.nats
    assert key not in none and "Answer key" not in none
    assert separate.index("Answer key") < separate.index(key)
    assert separate.index("Case 2:") < separate.index(key)  # after all the questions
    assert inline.index(key) < inline.index("Case 2:")  # right after case 1
    drill = tight_drill(2, 2)
    assert "equal exactly" not in format_drill(drill, "none")
    text = format_drill(drill, "separate")
    assert text.index("Near miss") < text.index("Answers") < text.index("equal exactly")
    for args, absent in ((["exercises", "--solutions", "none"], "Answer key"),
                         (["drill", "--solutions", "none"], "equal exactly"),
                         (["cards", "--solutions", "none"], "A: ")):
        assert main(args) == 0
        assert absent not in capsys.readouterr().out, args
    assert main(["cards", "--solutions", "separate"]) == 0
    out = capsys.readouterr().out
    assert out.index("6. Q:") < out.index("Answers") < out.index("A: ")
    assert main(["build", "--solutions", "none", "--only", "answers", "--out", "handouts-none"]) == 2
    assert "answers.pdf is built with --solutions separate only" in capsys.readouterr().err


@pytest.mark.full
def test_web_pages_follow_solutions(results):
    def body(mode: str, name: str) -> str:
        items = web.lesson_pages(results, count=2, solutions=mode)
        return next(i for i in items if isinstance(i, web.Page) and i.path == name).body

    for name in ("exercises.md", "tight-drill.md", "selfcheck.md", "flashcards.md", "find-the-mistake.md"):
        assert "<details" not in body("none", name), name
        assert "<details>\n" in body("separate", name) and "<details open>" not in body("separate", name)
        assert "<details open>" in body("inline", name), name
    student, teacher = body("separate", "derivations.md"), body("inline", "derivations.md")
    assert "Source:" not in student and "\u2713" not in student and "`jensen`" not in student
    assert "Source: `jensen.toml`" in teacher and "\u2713" in teacher and "`jensen`" in teacher

"""A K = 3 course folder, as a new author sets one up (issue 16): its own derivations (one in
a teaching/ subfolder), worked example, decks (a 3-question self-check, a card about beta),
sheet settings and a roster of 40 students.  Everything runs through the CLI from inside the
folder, and the outputs are read back: the PDFs with pdftotext, the quiz as XML against the
exact key recomputed here, the Anki packages with Anki's own importer.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.lesson.exercises import generate_exercises
from elbo_sym.numbers.exact import LogNumber, log_of
from elbo_sym.publish.anki import DECK_ID, DECK_NAME, MODEL_ID
from elbo_sym.publish.project import find_project
from elbo_sym.publish.roster import student_seed

SEED, COUNT, K = 7, 4, 3
PARTS = ("evidence", "posterior", "elbo", "gap")
STUDENTS = 40
TITLE = "Three-state course"

PROJECT = f"""\
title = "{TITLE}"
derivations = ["derivations"]
selfcheck = "cards/selfcheck.toml"
flashcards = "cards/flashcards.toml"

[exercises]
seed = {SEED}
count = {COUNT}
K = {K}
parts = {list(PARTS)!r}

[drill]
count = 2

[[example]]
prior = ["1/2", "1/3", "1/6"]
likelihood = ["1/5", "3/5", "1/2"]
q = ["1/3", "1/3", "1/3"]
""".replace("'", '"')

DERIVATION = """\
title = "The gap is a KL divergence, three states"
K = 3
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) * p(x) / p(x, z)), z)"
rule = "logarithm"
why = "unfold the ELBO; collect the two sums under one logarithm"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "bayes"
why = "Bayes' rule: p(x, z) / p(x) = p(z | x)"

[[example]]
prior = ["1/2", "1/3", "1/6"]
likelihood = ["1/5", "3/5", "1/2"]
q = ["1/3", "1/3", "1/3"]
"""

TEACHING = """\
title = "The gap, with one slip (three states)"
summary = "One step confuses the posterior with the prior. Which one?"
K = 3
expect_refuted = [2]
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(q(z) * p(x) / p(x, z)), z)"
rule = "logarithm"
why = "unfold the ELBO; collect the two sums under one logarithm"

[[step]]
rel = "="
expr = "KL(q(z), p(z))"
rule = "bayes"
why = "Bayes' rule"
repair = "KL(q(z), p(z | x))"
"""

SELFCHECK = """\
title = "Self-check: three states"
summary = "Three questions."

[params]
beta = ">= 1"

[[question]]
question = "What is the evidence?"
answer = "The joint summed over the three states."
formula = "p(x) = Sum(p(x, z), z)"

[[question]]
question = "Is the $beta$-ELBO a lower bound?"
answer = "Yes, for every $beta$ of at least 1: the bound only loses more."
formula = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
rule = "kl-nonneg"

[[question]]
question = "How big is the gap?"
answer = "The KL divergence from q to the posterior."
formula = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
"""

FLASHCARDS = """\
title = "Flashcards: three states"

[params]
beta = ">= 1"

[[card]]
topic = "model"
front = "What is the evidence (marginal likelihood)?"
back = "The joint summed over the states."
formula = "p(x) = Sum(p(x, z), z)"

[[card]]
topic = "beta"
front = "What does $beta$ weigh in the $beta$-ELBO?"
back = "The KL term to the prior."
formula = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"
"""


def make_course(root: Path, title: str = TITLE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {"elbo-sym.toml": PROJECT.replace(TITLE, title), "derivations/gap3.toml": DERIVATION,
             "derivations/teaching/slip.toml": TEACHING, "cards/selfcheck.toml": SELFCHECK,
             "cards/flashcards.toml": FLASHCARDS,
             "roster.csv": "id,name\n" + "".join(f"s{i:03d},Student {i}\n" for i in range(STUDENTS))}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def run(folder: Path, *argv: str) -> int:
    """`elbo-sym ARGV` run in `folder` (the course folder: no --project)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        return main(list(argv))


def pdf_text(pdf: Path, *args: str) -> str:
    out = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    return out.replace("\u2212", "-")


def decimal6(value: Fraction | LogNumber) -> str:
    return (value if isinstance(value, LogNumber) else LogNumber.of(value)).decimal(6)


def independent_key(prior, likelihood, q) -> dict[str, list[str]]:
    """The parts' decimals from the definitions (exact log-prime arithmetic), not the answer-key code."""
    evidence = sum((a * b for a, b in zip(prior, likelihood)), Fraction(0))
    elbo = LogNumber.of(0)
    for a, b, w in zip(prior, likelihood, q):
        elbo = elbo + log_of(a * b / w) * w
    posterior = [decimal6(a * b / evidence) for a, b in zip(prior, likelihood)]
    return {"evidence": [decimal6(evidence)], "posterior": posterior, "elbo": [decimal6(elbo)],
            "gap": [decimal6(log_of(evidence) - elbo)]}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("course") / "three-states")


@pytest.fixture(scope="module")
def built(course):
    """`build` and `exercises --roster` run once in the course folder (None without LaTeX)."""
    import shutil

    if any(shutil.which(t) is None for t in ("latexmk", "pdflatex", "pdftotext")):
        return None
    return {"build": run(course, "build", "--out", "handouts"),
            "roster": run(course, "exercises", "--roster", "roster.csv", "--out", "sheets")}


@pytest.fixture
def pdfs(requires_latex, built, course) -> Path:
    assert built == {"build": 0, "roster": 0}
    return course


# ----------------------------------------------------------------- the project


def test_the_project_folder_includes_its_teaching_subfolder(course):
    project = find_project(str(course))
    assert project.title == TITLE
    paths = [Path(p) for p in project.derivation_paths()]
    assert paths == [course / "derivations", course / "derivations" / "teaching"]


def test_check_in_the_course_folder_reads_the_projects_derivations_with_subfolders(course, capsys):
    capsys.readouterr()
    assert run(course, "check", "--no-cache") == 0
    out = capsys.readouterr().out
    assert "gap3.toml" in out and "slip.toml" in out and "2/2 file(s) pass" in out


# ----------------------------------------------------------------- build


@pytest.mark.full
def test_build_follows_the_course(pdfs):
    handouts = pdfs / "handouts"
    assert (handouts / "find-the-mistake.pdf").is_file()  # the teaching/ subfolder was read
    assert "one slip (three states)" in pdf_text(handouts / "find-the-mistake.pdf")
    exercises = pdf_text(handouts / "exercises.pdf", "-raw")
    assert f"Seed {SEED}, {COUNT} cases" in exercises and f"{K} states" in exercises
    sheet = generate_exercises(SEED, COUNT, K, PARTS)
    for e in sheet:  # each case's givens, in the order they are typeset
        segment = exercises[exercises.index(f"Case {e.index}\n"):]
        numbers = [int(n) for n in re.findall(r"\d+", segment[len(f"Case {e.index}\n"):segment.index("(a)")])]
        assert numbers == [n for f in (*e.prior, *e.likelihood, *e.q) for n in (f.numerator, f.denominator)]
    assert "(e)" not in exercises  # four parts asked, not seven
    selfcheck = pdf_text(handouts / "selfcheck.pdf")
    questions = selfcheck.split("\f")[0]  # page 1: the questions (the answers start on a fresh sheet)
    assert [int(n) for n in re.findall(r"^(\d+)\.$", questions, re.M)] == [1, 2, 3]
    assert "Is the β-ELBO a lower bound?" in selfcheck
    assert "What does β weigh in the β-ELBO?" in pdf_text(handouts / "flashcards.pdf")
    assert "1/6" in pdf_text(handouts / "worked-example.pdf", "-raw").replace("\n", "/")  # the course's example


def test_web_pages_get_the_courses_decks_and_sheets(course, capsys):
    assert run(course, "web", "--out", "pages") == 0
    pages = course / "pages"
    selfcheck = (pages / "selfcheck.md").read_text("utf-8")
    assert re.findall(r"^## Question (\d+)", selfcheck, re.M) == ["1", "2", "3"]
    assert "Is the $\\beta$" in selfcheck  # the deck's [params]: beta is a name, typeset
    assert "What does $\\beta$ weigh" in (pages / "flashcards.md").read_text("utf-8")
    exercises = (pages / "exercises.md").read_text("utf-8")
    assert f"Seed {SEED}, {COUNT} cases" in exercises and f"{K} states" in exercises
    assert (pages / "find-the-mistake.md").is_file()  # derivations/teaching/


# ----------------------------------------------------------------- roster and teacher key


@pytest.mark.full
def test_roster_sheets_are_three_state_sheets_of_the_students_seeds(pdfs):
    folder = pdfs / "sheets"
    assert sorted(p.name for p in folder.glob("*.pdf")) == sorted([f"s{i:03d}.pdf" for i in range(STUDENTS)]
                                                                  + ["teacher-key.pdf"])
    for student in ("s000", "s017", "s039"):
        seed = student_seed(SEED, student)
        text = pdf_text(folder / f"{student}.pdf", "-raw")
        assert f"seed {seed}, {COUNT} cases" in text and f"{K} states" in text
        for e in generate_exercises(seed, COUNT, K, PARTS):
            segment = text[text.index(f"Case {e.index}\n") + len(f"Case {e.index}\n"):]
            numbers = [int(n) for n in re.findall(r"\d+", segment[:segment.index("(a)")])]
            assert numbers == [n for f in (*e.prior, *e.likelihood, *e.q) for n in (f.numerator, f.denominator)]
            assert len(e.prior) == K


def _reproduced(course: Path, command: list[str], capsys) -> list[list[str]]:
    """Run the key's command in the course folder; per case, the parts' decimals it prints."""
    capsys.readouterr()
    assert run(course, *command) == 0
    out = capsys.readouterr().out
    rows = []
    for block in re.split(r"\nCase \d+: ", out)[1:]:
        lines = block.splitlines()
        row = []
        for formula in ("p(x)", "p(z | x)", "ELBO(q)", "log(p(x)) - ELBO(q)"):
            line = next(ln for ln in lines if ln.strip().startswith(formula + " ") and "=" in ln)
            if formula == "p(z | x)":
                values = re.search(r"= \((.*)\)", line).group(1).split(", ")
                row += [decimal6(Fraction(v)) for v in values]
            else:
                row.append(re.search(r"≈ (-?[0-9.]+)", line).group(1))
        rows.append(row)
    return rows


@pytest.mark.full
def test_the_keys_reproduce_command_gives_the_students_numbers_in_the_course_folder(pdfs, capsys):
    key = pdf_text(pdfs / "sheets" / "teacher-key.pdf")
    found = re.search(r"elbo-sym (exercises .*?--solutions inline)", " ".join(key.split()))
    assert found is not None
    words = [w for w in found.group(1).split() if w != "\\"]  # a backslash at a line's end: the line goes on
    assert words[words.index("--K") + 1] == str(K) and words[words.index("--count") + 1] == str(COUNT)
    assert words[words.index("--parts") + 1] == ",".join(PARTS)
    layout = pdf_text(pdfs / "sheets" / "teacher-key.pdf", "-layout")
    for student in ("s000", "s023", "s039"):
        seed = student_seed(SEED, student)
        reproduced = _reproduced(pdfs, [w.replace("SEED", str(seed)) for w in words], capsys)
        block = layout[layout.index(f"ID {student} • seed {seed}"):]
        sheet = generate_exercises(seed, COUNT, K, PARTS)
        for index, (row, e) in enumerate(zip(reproduced, sheet), start=1):
            line = next(ln for ln in block.splitlines() if re.match(rf"\s*{index}\s+\d", ln))
            assert [v.rstrip(",") for v in line.split()[1:]] == row, (student, index)  # the key = the command
            expected = independent_key(e.prior, e.likelihood, e.q)
            assert row == [v for part in PARTS for v in expected[part]]  # and both are the exact key


# ----------------------------------------------------------------- Moodle


def test_the_moodle_quiz_follows_the_course_and_its_numbers_are_the_exact_key(course):
    assert run(course, "exercises", "--moodle", "quiz.xml") == 0
    root = ET.fromstring((course / "quiz.xml").read_bytes())
    cloze = [q for q in root if q.get("type") == "cloze"]
    assert len(cloze) == COUNT
    for q, e in zip(cloze, generate_exercises(SEED, COUNT, K, PARTS)):
        text = html.unescape(q.findtext("questiontext/text"))
        assert f"seed {SEED}, case {e.index} of {COUNT}" in text and f"has {K} states" in text
        answers = re.findall(r"\{1:NUMERICAL:=(-?[0-9.]+):0\.0005\}", text)
        expected = independent_key(e.prior, e.likelihood, e.q)
        assert answers == [v for part in PARTS for v in expected[part]]
        assert len(answers) == 3 + K


# ----------------------------------------------------------------- Anki


def _apkg_collection(path: Path, folder: Path) -> sqlite3.Connection:
    with zipfile.ZipFile(path) as package:
        package.extract("collection.anki2", folder)
    return sqlite3.connect(folder / "collection.anki2")


def test_two_courses_decks_have_their_own_names_and_ids(course, tmp_path, capsys):
    import json

    other = make_course(tmp_path / "other", "Another course")
    assert run(course, "flashcards", "--anki", "mine.apkg") == 0
    assert f'Anki deck "{TITLE}"' in capsys.readouterr().out
    assert run(other, "flashcards", "--anki", "theirs.apkg") == 0
    assert run(tmp_path, "flashcards", "--anki", "lesson.apkg") == 0  # no project: the lesson's deck
    seen = {}
    for name, apkg in (("mine", course / "mine.apkg"), ("theirs", other / "theirs.apkg"),
                       ("lesson", tmp_path / "lesson.apkg")):
        db = _apkg_collection(apkg, tmp_path / name)
        decks = {int(k): v["name"] for k, v in json.loads(db.execute("select decks from col").fetchone()[0]).items()}
        decks.pop(1, None)  # Anki's "Default"
        models = [int(k) for k in json.loads(db.execute("select models from col").fetchone()[0])]
        guids = {row[0] for row in db.execute("select guid from notes")}
        deck_ids = {row[0] for row in db.execute("select did from cards")}
        seen[name] = (decks, models, guids, deck_ids)
    assert seen["mine"][0] == {next(iter(seen["mine"][3])): TITLE}
    assert list(seen["theirs"][0].values()) == ["Another course"]
    assert seen["lesson"][0] == {DECK_ID: DECK_NAME} and seen["lesson"][1] == [MODEL_ID]
    ids = [set(seen[n][0]) for n in seen]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert not set(seen["mine"][1]) & set(seen["theirs"][1])
    assert not seen["mine"][2] & seen["theirs"][2]  # the same fronts, yet other notes


def test_anki_imports_the_two_courses_as_two_decks(course, tmp_path):
    if os.environ.get("CI"):  # the `anki` package is in the test extras (pyproject.toml): never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    other = make_course(tmp_path / "other", "Another course")
    assert run(course, "flashcards", "--anki", "mine.apkg") == 0
    assert run(other, "flashcards", "--anki", "theirs.apkg") == 0
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        for apkg in (course / "mine.apkg", other / "theirs.apkg"):
            col.import_anki_package(ImportAnkiPackageRequest(
                package_path=str(apkg), options=ImportAnkiPackageOptions(with_scheduling=False)))
        names = sorted(d.name for d in col.decks.all_names_and_ids() if d.name != "Default")
        assert names == sorted([TITLE, "Another course"])
        for name in names:
            notes = col.find_notes(f'deck:"{name}"')
            assert len(notes) == 2  # nothing merged into the other course's deck
            fronts = sorted(col.get_note(n).fields[0] for n in notes)
            assert any("weigh" in f and "\\beta" in f for f in fronts)  # the card about beta, typeset
        assert col.note_count() == 4
    finally:
        col.close()

"""Per-student sheets from a roster: validation (file:line errors), the documented seed, the
PDFs read back with pdftotext, the teacher key against each student's exact key (recomputed
here from the definitions), and byte-identical rebuilds."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import unicodedata
from fractions import Fraction
from pathlib import Path

import pikepdf
import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from conftest import real_latex
from latex_tools import latex_tools_missing

from elbo_sym.cli import main
from elbo_sym.files import InputError
from elbo_sym.lesson.exercises import generate_exercises
from elbo_sym.limits import MAX_SOURCE_DATE_EPOCH, POINTER_CONTEXT_CHARS
from elbo_sym.numbers.exact import LogNumber, log_of
from elbo_sym.prose import source_pointer, terminal_safe
from elbo_sym.publish import roster
from elbo_sym.publish.pdfpages import PdfPagesError, parse_pdf
from elbo_sym.publish.render import BuildResult, build_pdf
from elbo_sym.publish.roster import (
    DEFAULT_EPOCH,
    RosterError,
    Student,
    build_roster,
    parse_roster,
    read_roster,
    student_seed,
)

SPECIAL_NAME = "O'Brien & Søn, 100% {x}_1 ^ ~ \\ $ # [a] <b>"
ROSTER = f'id,name\ns001,Ada Lovelace\ns-002,"{SPECIAL_NAME}"\nS.3,Zoë Ünal\n'
COURSE_SEED = 2026
COUNT = 3


def pdf_text(pdf: Path, *args: str) -> str:
    out = subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    return out.replace("\u2212", "-").replace("\u2019", "'")


def documented_seed(course_seed: int, student_id: str) -> int:
    """The seed as the module docstring defines it, written out again here."""
    digest = hashlib.sha256(b"elbo-sym roster seed v1\0" + str(course_seed).encode() + b"\0"
                            + student_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def key_decimals(seed: int, count: int) -> list[list[str]]:
    """Per case, the 8 decimals of the key (posterior per state), from the definitions."""
    rows = []
    for e in generate_exercises(seed, count):
        prior, lik, q = e.prior, e.likelihood, e.q
        ev = sum((a * b for a, b in zip(prior, lik)), Fraction(0))
        post = [a * b / ev for a, b in zip(prior, lik)]

        def total(terms) -> LogNumber:
            out = LogNumber.of(0)
            for t in terms:
                out = out + t
            return out

        elbo = total(log_of(a * b / w) * w for a, b, w in zip(prior, lik, q))
        values = [LogNumber.of(ev), *(LogNumber.of(r) for r in post), elbo,
                  total(log_of(b) * w for b, w in zip(lik, q)), total(log_of(w / a) * w for a, w in zip(prior, q)),
                  total(log_of(w / r) * w for r, w in zip(post, q)), log_of(ev) - elbo]
        rows.append([v.decimal(6) for v in values])
    return rows


def write(tmp_path: Path, text: str | bytes, name: str = "students.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# ----------------------------------------------------------------- reading the roster


def test_a_good_roster_reads_in_order_with_lines():
    students = parse_roster(ROSTER, "students.csv")
    assert [(s.id, s.name, s.line) for s in students] == [
        ("s001", "Ada Lovelace", 2), ("s-002", SPECIAL_NAME, 3), ("S.3", "Zoë Ünal", 4)]


def test_header_columns_in_any_order_and_case_extra_columns_ignored(tmp_path):
    text = "\ufeffEmail, Name ,ID\r\na@x.org,Ada  Lovelace,a1\r\n\r\nb@x.org,\"Hopper, Grace\",b2\r\n"
    students = read_roster(write(tmp_path, text))
    assert [(s.id, s.name) for s in students] == [("a1", "Ada Lovelace"), ("b2", "Hopper, Grace")]


@pytest.mark.parametrize(("text", "line", "column", "message"), [  # column: of the offending character (rt52 F3)
    ("s1,Ada\ns2,Bob\n", 1, 1, "header"),
    ("id,fullname\ns1,Ada\n", 1, 1, "missing: name"),
    ("id,name,id\ns1,Ada,s1\n", 1, 9, "twice"),
    ("id,name\ns1,Ada\nS1,Bob\n", 3, 1, "duplicate id 'S1' (first on line 2"),
    ("id,name\n../etc,Ada\n", 2, 3, "not safe as a file name"),
    ("id,name\na/b,Ada\n", 2, 2, "not safe as a file name"),
    ("id,name\n.hidden,Ada\n", 2, 1, "not safe as a file name"),
    ("id,name\na b,Ada\n", 2, 2, "not safe as a file name"),
    ("id,name\nsé,Ada\n", 2, 2, "not safe as a file name"),
    ("id,name\n" + "x" * 65 + ",Ada\n", 2, 1, "limit is 64"),
    ("id,name\nteacher-key,Ada\n", 2, 1, "reserved"),
    ("id,name\nCON,Ada\n", 2, 1, "reserved"),
    ("id,name\ns1,Ada\ns2,\n", 3, 4, "name is empty"),
    ("id,name\n,Ada\n", 2, 1, "id is empty"),
    ("id,name\ns1,Ada,extra\n", 2, 8, "3 field(s), but the header has 2"),
    ("id,name\ns1,Ada \u202eevil\n", 2, 8, "U+202E"),
    ("id,name\ns1,Ada \u4e2d\n", 2, 8, "cannot print"),
    ("id,name\ns1,\"" + "a" * 101 + "\"\n", 2, 5, "limit is 100"),
    ("id,name\ns1,\"Ada\ns2,Bob\n", 2, 1, "not valid CSV: unexpected end of data (a quote opened here is never"),
    ("id,name\ns1,\"Ada\nLovelace\"\ns1,Bob\n", 4, 1, "duplicate id 's1' (first on line 2"),
    ("id,name\n", 0, None, "no students"),
    ("", 0, None, "empty"),
])
def test_bad_rosters_name_file_and_line(tmp_path, text, line, column, message):
    """file:line:col of the offending character, and the line echoed with a caret under it (rt52 F3)."""
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as error:
        read_roster(path)
    where = f"{path}:{line}:{column}: " if line else f"{path}: "
    assert str(error.value).startswith(where), str(error.value)
    assert message in str(error.value)
    if line:
        typed = text.split("\n")[line - 1]
        shown = f"    {terminal_safe(typed)}\n    {' ' * (column - 1)}^"
        assert error.value.pointer() == (shown if len(typed) <= POINTER_CONTEXT_CHARS  # a long line: cut around it
                                         else source_pointer(typed, column - 1))
    else:
        assert error.value.pointer() == ""


def test_bytes_that_are_not_utf8_or_text_are_refused(tmp_path):
    with pytest.raises(RosterError, match=r"students.csv:3:7: not UTF-8 \(byte 0xe9\)"):
        read_roster(write(tmp_path, b"id,name\ns1,Ada\ns2,Ren\xe9\n"))
    with pytest.raises(RosterError, match=r"students.csv:2:5: a NUL byte"):
        read_roster(write(tmp_path, b"id,name\ns1,A\x00da\n"))
    with pytest.raises(RosterError, match="not a regular file"):
        read_roster(tmp_path)
    with pytest.raises(RosterError, match="no such file"):
        read_roster(tmp_path / "missing.csv")


def test_size_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(roster, "MAX_STUDENTS", 2)
    with pytest.raises(RosterError, match=r"students.csv:4:1: more than 2 students"):
        read_roster(write(tmp_path, "id,name\na,A\nb,B\nc,C\n"))
    monkeypatch.setattr(roster, "MAX_ROSTER_BYTES", 20)
    with pytest.raises(RosterError, match="larger than the limit of 20 bytes"):
        read_roster(write(tmp_path, "id,name\na,Ada Lovelace\n"))


def test_the_seed_is_the_documented_hash_of_course_seed_and_id():
    for course_seed, sid in [(2026, "s001"), (0, "a"), (2**63 - 1, "Z.9_x-y")]:
        seed = student_seed(course_seed, sid)
        assert seed == documented_seed(course_seed, sid)
        assert 0 <= seed <= 2**63 - 1
    assert student_seed(2026, "s001") != student_seed(2027, "s001")
    assert student_seed(2026, "s001") != student_seed(2026, "s002")
    assert len({student_seed(2026, f"s{i}") for i in range(1000)}) == 1000


def test_source_date_epoch_must_be_whole_seconds(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert roster.source_date_epoch() == DEFAULT_EPOCH
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000000000")
    assert roster.source_date_epoch() == 1_000_000_000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(MAX_SOURCE_DATE_EPOCH))
    assert roster.source_date_epoch() == MAX_SOURCE_DATE_EPOCH
    for bad in ("-5", "1e9", "yesterday", "١٢", str(MAX_SOURCE_DATE_EPOCH + 1), "9" * 20):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
            roster.source_date_epoch()


def test_a_failed_build_leaves_the_output_folder_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "s001.pdf").write_bytes(b"old sheet")
    from elbo_sym.publish.outputs import write_manifest  # as the last run listed it (rt12: else not ours)

    write_manifest(out, roster.ROSTER_MANIFEST, ["s001.pdf"])
    monkeypatch.setattr(roster, "latex_available", lambda: True)
    monkeypatch.setattr(roster, "build_pdf", lambda *a, **k: BuildResult(False, None, "! Undefined control sequence.",
                                                                          "LaTeX build failed: line 9"))
    with pytest.raises(RosterError, match="batch-1: LaTeX build failed: line 9"):
        build_roster([Student("s001", "Ada"), Student("s002", "Bob")], out, seed=1, count=1, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == [roster.ROSTER_MANIFEST, "s001.pdf"]
    assert (out / "s001.pdf").read_bytes() == b"old sheet"


def test_a_roster_refuses_a_sheet_that_builds_handout_is_before_any_tex(tmp_path, monkeypatch):
    """Red team rt8: a student id ``answers`` replaced build's answers.pdf, and the next build (with
    --solutions none) removed the student's sheet.  The roster refuses, before any TeX runs."""
    from elbo_sym.publish.outputs import OwnedElsewhereError

    out = tmp_path / "out"
    out.mkdir()
    (out / "answers.pdf").write_bytes(b"build's key")
    (out / ".elbo-sym-handouts.json").write_text(json.dumps({"files": ["answers.pdf"]}), encoding="utf-8")
    monkeypatch.setattr(roster, "latex_available", lambda: True)
    monkeypatch.setattr(roster, "build_pdf", lambda *a, **k: pytest.fail("TeX ran before the refusal"))
    with pytest.raises(OwnedElsewhereError, match=r"Answers.pdf: written by another command"):
        build_roster([Student("Answers", "Ada"), Student("s002", "Bob")], out, seed=1, count=1, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == [".elbo-sym-handouts.json", "answers.pdf"]
    assert (out / "answers.pdf").read_bytes() == b"build's key"


def test_cli_reports_a_bad_roster_as_one_line(tmp_path, capsys):
    """One line, file:line:col, then the line and a caret, as a derivation's error (rt52 F3)."""
    path = write(tmp_path, "id,name\ns1,Ada\nx1,\"Bob \u738b\"\n")
    assert main(["exercises", "--roster", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"elbo-sym: error: {path}:3:9: the name has U+738B (CJK UNIFIED IDEOGRAPH-738B), which the "
                   f"sheets cannot print ({roster.PRINTED_LETTERS}; write other letters and scripts in those)\n"
                   "    x1,\"Bob \u738b\"\n"
                   "            ^\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--roster", "{csv}"], ["--out", "{tmp}/out"],
                                  ["--roster", "{csv}", "--out", "{tmp}/out", "--json"],
                                  ["--roster", "{csv}", "--out", "{tmp}/out", "--K", "7"],
                                  ["--roster", "{csv}", "--out", "{tmp}/out", "--solutions", "none"]])
def test_cli_refuses_incomplete_or_conflicting_roster_options(tmp_path, capsys, args):
    path = write(tmp_path, ROSTER)
    assert main(["exercises", *[a.format(csv=path, tmp=tmp_path) for a in args]]) == 2
    assert capsys.readouterr().err.startswith("elbo-sym: error: ")


# ----------------------------------------------------------------- the PDFs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The roster built through the CLI, then again with 2 batches on 2 workers, and with another date."""
    if latex_tools_missing():
        return None
    root = tmp_path_factory.mktemp("roster")
    csv = root / "students.csv"
    csv.write_text(ROSTER, encoding="utf-8")
    mp = pytest.MonkeyPatch()
    try:
        real_latex(mp)  # the rebuilds' bytes are compared: each is a real LaTeX run
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)
        code = main(["exercises", "--roster", str(csv), "--out", str(root / "a"), "--seed", str(COURSE_SEED),
                     "--count", str(COUNT)])
        assert code == 0
        mp.setattr(roster, "BATCH_STUDENTS", 2)  # forces 2 batches (and bytes that differ only in font subsets)
        students = read_roster(csv)
        b1 = build_roster(students, root / "b1", seed=COURSE_SEED, count=COUNT, jobs=1)
        b2 = build_roster(students, root / "b2", seed=COURSE_SEED, count=COUNT, jobs=2)
        mp.setenv("SOURCE_DATE_EPOCH", "1000000000")
        c = build_roster(students, root / "c", seed=COURSE_SEED, count=COUNT, jobs=1)
    finally:
        mp.undo()
    return {"root": root, "students": students, "b1": b1, "b2": b2, "c": c}


@pytest.fixture
def pdfs(requires_latex, built):
    assert built is not None
    return built


@pytest.mark.full
def test_one_pdf_per_student_and_a_teacher_key(pdfs):
    names = sorted(p.name for p in (pdfs["root"] / "a").iterdir())
    assert names == sorted([roster.ROSTER_MANIFEST, "s001.pdf", "s-002.pdf", "S.3.pdf", "teacher-key.pdf"])
    manifest = json.loads((pdfs["root"] / "a" / roster.ROSTER_MANIFEST).read_text())
    assert manifest["files"] == sorted(n for n in names if n.endswith(".pdf"))  # what the next run may remove
    assert set(manifest["sha256"]) == set(manifest["files"])  # removed later only while unchanged
    for path in (pdfs["root"] / "a").glob("*.pdf"):
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
        assert info.returncode == 0 and info.stderr == "", info.stderr  # poppler reads it without complaint
        assert int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1)) >= 1


@pytest.mark.full
def test_each_sheet_shows_its_student_and_only_its_student(pdfs):
    folder = pdfs["root"] / "a"
    for student in pdfs["students"]:
        text = pdf_text(folder / f"{student.id}.pdf")
        seed = documented_seed(COURSE_SEED, student.id)
        assert f"Name: {student.name}" in text
        assert f"ID: {student.id}" in text
        assert f"seed {seed}, {COUNT} cases" in text
        for other in pdfs["students"]:
            if other is not student:
                assert other.name not in text and f"ID: {other.id}" not in text
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
            ["pdfinfo", str(folder / f"{student.id}.pdf")], capture_output=True, text=True,
            timeout=CHILD_TIMEOUT_SECONDS).stdout).group(1))
        assert text.count("\f") == pages
        if pages > 1:  # later pages carry the name and id in the running header
            assert f"{student.name} • {student.id}" in pdf_text(folder / f"{student.id}.pdf", "-f", "2", "-l", "2")


@pytest.mark.full
def test_latex_specials_in_a_name_print_literally(pdfs):
    text = pdf_text(pdfs["root"] / "a" / "s-002.pdf")
    assert f"Name: {SPECIAL_NAME}" in text
    assert SPECIAL_NAME in pdf_text(pdfs["root"] / "a" / "teacher-key.pdf")


@pytest.mark.full
def test_the_sheet_shows_the_cases_of_the_students_seed(pdfs):
    for student in pdfs["students"]:
        text = pdf_text(pdfs["root"] / "a" / f"{student.id}.pdf", "-raw")
        assert text.count("Case ") == COUNT
        for e in generate_exercises(documented_seed(COURSE_SEED, student.id), COUNT):
            # the givens' fractions in the order they are typeset (-raw): numerator, denominator, ...
            segment = text[text.index(f"Case {e.index}\n") + len(f"Case {e.index}\n"):]
            segment = segment[:segment.index("(a)")]
            fractions = [*e.prior, *e.likelihood, *e.q]
            expected = [n for f in fractions for n in (f.numerator, f.denominator)]
            assert [int(n) for n in re.findall(r"\d+", segment)] == expected, (student.id, e.index)


@pytest.mark.full
def test_the_key_has_every_students_exact_answers(pdfs):
    text = pdf_text(pdfs["root"] / "a" / "teacher-key.pdf", "-layout")
    assert f"{len(pdfs['students'])} students" in text and f"course seed {COURSE_SEED}" in text
    for student in pdfs["students"]:
        seed = documented_seed(COURSE_SEED, student.id)
        block = text[text.index(f"ID {student.id}"):]
        assert block.startswith(f"ID {student.id} • seed {seed}")
        for index, row in enumerate(key_decimals(seed, COUNT), start=1):
            line = next(ln for ln in block.splitlines() if re.match(rf"\s*{index}\s+\d", ln))
            assert line.split()[1:] == [row[0], row[1] + ",", *row[2:]], (student.id, index)


@pytest.mark.full
@pytest.mark.real_latex
def test_rebuilds_are_byte_identical_whatever_the_number_of_workers(pdfs):
    b1, b2 = pdfs["b1"], pdfs["b2"]
    for x, y in zip((*b1.sheets, b1.key), (*b2.sheets, b2.key)):
        assert x.name == y.name and x.read_bytes() == y.read_bytes()
    again = pdfs["root"] / "a2"
    assert main(["exercises", "--roster", str(pdfs["root"] / "students.csv"), "--out", str(again),
                 "--seed", str(COURSE_SEED), "--count", str(COUNT)]) == 0
    for path in (pdfs["root"] / "a").iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.full
def test_source_date_epoch_sets_the_dates_and_nothing_else(pdfs):
    for a, c in zip(pdfs["b1"].sheets, pdfs["c"].sheets):
        assert b"/CreationDate (D:20260101000000Z)" in a.read_bytes()
        assert b"/CreationDate (D:20010909014640Z)" in c.read_bytes()
        assert pdf_text(a) == pdf_text(c)


@pytest.mark.full
def test_split_pdfs_hold_only_their_pages_and_shared_objects_once(pdfs):
    for sheet in pdfs["b1"].sheets:
        parsed = parse_pdf(sheet.read_bytes())
        assert b"/ElboSymSheet" not in sheet.read_bytes()
        fonts = [str(o.get("/FontName")) for o in parsed.pdf.objects
                 if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == "/FontDescriptor"]
        assert fonts and len(fonts) == len(set(fonts))  # each embedded font once, not once per page
        assert sheet.stat().st_size < 400_000


def test_pdfpages_reads_any_pdftex_output_and_refuses_what_is_not_a_pdf(requires_latex, tmp_path):
    result = build_pdf("\\documentclass{article}\\begin{document}Hi\\end{document}\n", tmp_path / "x.pdf")
    assert result.ok  # compressed object streams (pdfTeX's default) are read too
    assert len(parse_pdf((tmp_path / "x.pdf").read_bytes()).pages) == 1
    for data in (b"not a pdf", b"%PDF-1.5\n" + b"x" * 100):
        with pytest.raises(PdfPagesError, match="not a PDF"):
            parse_pdf(data)


def test_a_name_with_a_decomposed_accent_reads_as_the_composed_one(tmp_path):
    """macOS exports "é" as e + U+0301 (NFD): the same name as the composed (NFC) one, accepted and printed alike."""
    composed = "José García"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed and len(decomposed) == len(composed) + 2
    (student,) = read_roster(write(tmp_path, f"id,name\njose,{decomposed}\n"))
    assert student.name == composed


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_student_dropped_from_the_roster_loses_the_old_sheet(tmp_path, capsys):
    """The folder holds the sheets of the roster it was last built from: a dropped student's sheet is
    removed (and said so), a file the roster never wrote stays."""
    out = tmp_path / "sheets"
    both = write(tmp_path, "id,name\nada,Ada\nbob,Bob\n")
    assert main(["exercises", "--roster", str(both), "--out", str(out), "--count", "1"]) == 0
    (out / "notes.txt").write_text("the teacher's own file")
    assert sorted(p.name for p in out.glob("*.pdf")) == ["ada.pdf", "bob.pdf", "teacher-key.pdf"]
    capsys.readouterr()
    one = tmp_path / "one.csv"
    one.write_text("id,name\nada,Ada\n", encoding="utf-8")
    assert main(["exercises", "--roster", str(one), "--out", str(out), "--count", "1"]) == 0
    assert f"removed {out / 'bob.pdf'} (no longer on the roster)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [roster.ROSTER_MANIFEST, "ada.pdf", "notes.txt", "teacher-key.pdf"]
    key = pdf_text(out / "teacher-key.pdf")
    assert "ada" in key and "bob" not in key


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_course_title_heads_every_sheet_and_the_key_and_one_of_each_is_singular(tmp_path, monkeypatch):
    """A project's title is in the running header of each student's sheet (before the name) and
    above the title of the sheet's and the key's first page (which have no running header), printed
    as typed (no ligature: `--` stays two hyphens) with its formula as math; one student reads
    "1 student", never "1 students". Without a title the header is as before."""
    (tmp_path / "elbo-sym.toml").write_text("title = 'Week 5 -- the bound $ELBO(q)$'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    students = write(tmp_path, "id,name\nada,Ada Lovelace\n")
    assert main(["exercises", "--roster", str(students), "--out", "sheets", "--count", "2"]) == 0
    pages = pdf_text(tmp_path / "sheets" / "ada.pdf", "-layout").split("\f")
    assert pages[0].strip().startswith("Week 5 -- the bound L(q)\n")
    headers = [page.strip().splitlines()[0] for page in pages[1:] if page.strip()]
    assert headers and all(h.startswith("Week 5 -- the bound L(q) • Ada Lovelace • ada ") for h in headers), headers
    key = " ".join(pdf_text(tmp_path / "sheets" / "teacher-key.pdf").split())
    assert key.startswith("Week 5 -- the bound L(q) Teacher key 1 student • course seed ")
    assert "Every student's sheet has 2 cases with 2 latent states" in key
    (tmp_path / "elbo-sym.toml").unlink()
    assert main(["exercises", "--roster", str(students), "--out", "plain", "--count", "2"]) == 0
    plain = pdf_text(tmp_path / "plain" / "ada.pdf", "-layout").split("\f")
    assert [page.strip().splitlines()[0] for page in plain[1:] if page.strip()][0].startswith("Ada Lovelace • ada ")
    assert " ".join(pdf_text(tmp_path / "plain" / "teacher-key.pdf").split()).startswith("Teacher key 1 student • ")

"""Per-student exercise sheets from a class roster, and the teacher's key.

``elbo-sym exercises --roster students.csv --out DIR`` writes ``DIR/<id>.pdf`` for every
student -- the exercise sheet (``exercises.tex.j2``, the same template as
``exercises.pdf``) with the student's name and id in its header -- and
``DIR/teacher-key.pdf``: every student's seed and answers.

The roster (:func:`read_roster`)
    A UTF-8 CSV file (a BOM is allowed) whose header row names the columns ``id`` and
    ``name`` (any order, any case; other columns are ignored). Each id is 1 to
    :data:`MAX_ID_CHARS` characters from ``A-Z a-z 0-9 . _ -`` starting with a letter or
    digit (it becomes a file name), unique ignoring case, and neither ``teacher-key`` nor a
    Windows device name (``CON``, ``NUL``, ``COM1``, ...). A name is 1 to
    :data:`MAX_NAME_CHARS` characters that the handouts can typeset; it is printed
    literally (``\\``, ``$``, ``&``, ``%``, ... are escaped by :func:`render.latex_escape`).
    At most :data:`~elbo_sym.limits.MAX_STUDENTS` students and
    :data:`~elbo_sym.limits.MAX_ROSTER_BYTES` bytes. Every problem is a :class:`RosterError`
    naming ``file:line:col``, with the line and a caret under the character.

The seed of a student (:func:`student_seed`)
    The first 8 bytes of ``SHA-256("elbo-sym roster seed v1" NUL course-seed NUL id)`` (the
    course seed in decimal, the id in UTF-8) as a big-endian integer, top bit cleared: a
    seed in 0 .. 2**63 - 1 that depends only on the course seed and the id, so a student
    keeps the same sheet when the roster is reordered or grows. Anyone can recompute a
    sheet with the command the key prints (:func:`reproduce_arguments`: ``elbo-sym
    exercises --seed SEED --count N --K K --parts ... --solutions inline``), which names
    every setting, so it gives the student's sheet in any folder, also a course folder
    whose ``elbo-sym.toml`` sets other defaults. The seed is printed on the sheet and in
    the key.

Latent size and parts
    The sheets follow ``K`` (2 to 6 states) and ``parts`` (the quantities asked) of the
    project, like ``exercises.pdf``; the key's columns are the parts asked.

Reproducible bytes
    Same roster, seed and count give byte-identical PDFs: the sheets are typeset in
    batches of :data:`BATCH_STUDENTS` consecutive students (a fixed number, whatever the
    number of cores), one pdfTeX run per batch, and cut into one PDF per student by
    :mod:`elbo_sym.publish.pdfpages` (pikepdf), which writes a content-hash ``/ID`` and dates from
    ``SOURCE_DATE_EPOCH`` (or :data:`DEFAULT_EPOCH` when it is not set). A student's PDF
    carries the fonts of its batch (glyph subsets, no text of other sheets).

Speed
    The exact keys are computed in worker processes (one per core), and each batch is
    typeset as soon as its keys are ready, while the next batches are computed: 300
    students take well under a minute on 2 cores (``bench/bench_roster.py``).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elbo_sym import files
from elbo_sym.files import FileReadError, InputError, read_regular_file
from elbo_sym.limits import MAX_ROSTER_BYTES, MAX_SEED, MAX_STUDENTS, PRINTED_COMMAND_LINE_CHARS
from elbo_sym.prose import ROMANIAN_LETTERS, TEXT_CHARACTERS, allowed, counted, describe, source_pointer
from elbo_sym.publish.handouts import HandoutError, course_context, exercises_arguments, exercises_context
from elbo_sym.publish.outputs import move_in, refuse_to_replace
from elbo_sym.publish.pdfpages import GROUP_KEY, PdfPagesError, parse_pdf, split_by_group, write_pages
from elbo_sym.publish.render import (
    INSTALL_HINT,
    LatexMarkup,
    OverfullBox,
    RenderError,
    build_pdf,
    latex_available,
    latex_escape,
    layout_defects,
    layout_failure,
    render_template,
)

__all__ = [
    "BATCH_STUDENTS",
    "DEFAULT_EPOCH",
    "KEY_NAME",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "ROSTER_MANIFEST",
    "RosterError",
    "RosterInputError",
    "RosterResult",
    "Student",
    "build_roster",
    "parse_roster",
    "read_roster",
    "reproduce_arguments",
    "source_date_epoch",
    "student_seed",
]

MAX_ID_CHARS = 64
MAX_NAME_CHARS = 100
ROSTER_MANIFEST = ".elbo-sym-roster.json"
"""The file in the sheets' folder that lists the PDFs the last run wrote (elbo_sym.publish.outputs)."""
KEY_NAME = "teacher-key"
"""The key's file stem (``teacher-key.pdf``); no student may have this id."""
BATCH_STUDENTS = 25
"""Sheets per pdfTeX run. Fixed (not the number of cores), so the PDFs' bytes never depend on the machine."""
DEFAULT_EPOCH = 1_767_225_600
"""2026-01-01T00:00:00Z: the PDFs' date when ``SOURCE_DATE_EPOCH`` is not set."""
SEED_DOMAIN = b"elbo-sym roster seed v1"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_TEX_PREFIX = "\\pdfobjcompresslevel=0\n\\nofiles\n"
"""Before ``\\documentclass``: plain objects (pdfpages re-packs them anyway), no .aux (one pdfTeX run)."""


class RosterError(Exception):
    """A bad roster (:class:`RosterInputError`) or a failed build of the sheets."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self._pointer = pointer

    def pointer(self) -> str:
        """The roster's line and a caret under the character (:func:`located`), or ""; the command line
        prints it under the one-line message, as a derivation's error (authoring.command.guarded)."""
        return self._pointer


class RosterInputError(RosterError, InputError):
    """A roster that does not read: an input error (exit 2) naming file:line:col where it can."""


@dataclass(frozen=True)
class Student:
    """One row of the roster: ``id`` (a safe file stem), ``name`` (printed literally), its ``line``."""

    id: str
    name: str
    line: int = 0


@dataclass(frozen=True)
class RosterResult:
    """What :func:`build_roster` wrote: one PDF per student (roster order) and the key."""

    sheets: tuple[Path, ...]
    key: Path
    seeds: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    seconds: float = 0.0
    overfull: tuple[tuple[str, OverfullBox], ...] = ()
    """What does not fit its page: (which PDF -- the key or a batch of sheets --, the box)."""
    removed: tuple[Path, ...] = ()
    """The sheets of an earlier run of students no longer on the roster, removed."""


# --------------------------------------------------------------------------- the roster


def located(source: str, lines: Sequence[str], line: int, offset: int, message: str) -> RosterInputError:
    """A roster error at character `offset` of the record that starts on line `line` (1-based) of
    `lines` (the roster's lines, ends kept, as the CSV reader counts them): ``source:LINE:COL: message``
    and that line with a caret under the character, as every other input error says it (rt52 F3)."""
    index = max(0, min(line - 1, len(lines) - 1))
    while offset >= len(lines[index]) and index + 1 < len(lines):  # a quoted name may span lines
        offset -= len(lines[index])
        index += 1
    shown = lines[index].rstrip("\r\n") if lines else ""
    return RosterInputError(f"{files.location(source, index + 1, offset)}: {message}", source_pointer(shown, offset))


def _field_offsets(record: str) -> list[list[int]]:
    """Each field of one CSV record (its raw text, maybe several lines) as the offsets in `record` of
    its value's characters and one past them: a quoted field's quotes are not in its value, and ``""``
    is one quote, so an error names the character the user typed."""
    fields: list[list[int]] = [[]]
    quoted, i = False, 0
    while i < len(record):
        ch = record[i]
        if ch == '"' and quoted and record[i + 1:i + 2] == '"':
            fields[-1].append(i)
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            fields[-1].append(i)
            fields.append([])
        elif quoted or ch not in "\r\n":
            fields[-1].append(i)
        i += 1
    fields[-1].append(len(record.rstrip("\r\n")))
    return fields


@dataclass(frozen=True)
class _Record:
    """One CSV record of a roster as typed: where its errors point (:meth:`at`)."""

    source: str
    lines: Sequence[str]
    line: int
    fields: list[list[int]]

    def at(self, field: int, i: int, message: str) -> RosterInputError:
        """The error at the `i`-th character of field `field`'s value (past its end: just after it;
        a field the record lacks: its end)."""
        where = self.fields[min(field, len(self.fields) - 1)]
        return located(self.source, self.lines, self.line,
                       where[min(i, len(where) - 1)] if field < len(self.fields) else where[-1], message)


def student_seed(course_seed: int, student_id: str) -> int:
    """The exercise seed of one student: see the module's docstring (SHA-256, 63 bits)."""
    message = SEED_DOMAIN + b"\0" + str(int(course_seed)).encode("ascii") + b"\0" + student_id.encode("utf-8")
    return int.from_bytes(hashlib.sha256(message).digest()[:8], "big") & MAX_SEED


def _check_id(value: str, where: Callable[[int, str], RosterInputError], seen: dict[str, int], line: int) -> str:
    """The id of a row (`where(i, message)`: the error at the field's i-th character)."""
    text = value.strip()
    first = len(value) - len(value.lstrip())
    if not text:
        raise where(0, "the id is empty")
    if len(text) > MAX_ID_CHARS:
        raise where(first, f"the id is {len(text)} characters long; the limit is {MAX_ID_CHARS}")
    if not _ID.fullmatch(text):
        bad = next((i for i, ch in enumerate(text) if not (ch.isascii() and (ch.isalnum() or ch in "._-"))), 0)
        shown = repr(text[bad]) if text[bad].isprintable() else describe(text[bad])
        raise where(first + bad, f"id {text!r} is not safe as a file name ({shown}): use ASCII letters "
                                 f"(a-z, A-Z), digits, '.', '_' and '-', starting with a letter or digit")
    folded = text.lower()
    if folded == KEY_NAME or folded.split(".")[0] in _WINDOWS_DEVICES:
        what = "the key" if folded == KEY_NAME else "a device"
        raise where(first, f"id {text!r} is reserved (it would name {what})")
    if folded in seen:
        raise where(first, f"duplicate id {text!r} (first on line {seen[folded]}; ids are compared ignoring case)")
    seen[folded] = line
    return text


_UNPRINTED_LATIN = " ".join(ch for ch in map(chr, range(0xC0, 0x180)) if ch.isalpha() and ch not in TEXT_CHARACTERS)
"""The letters of Latin-1 and Latin Extended-A that pdflatex's T1 fonts lack (Ħ ħ ĸ Ŀ ŀ ŉ Ŧ ŧ ſ):
the roster's message names them (red team rt31: it said "Latin letters with accents are fine")."""
PRINTED_LETTERS = (f"they print the letters of Latin-1 and Latin Extended-A but {_UNPRINTED_LATIN}, "
                   f"and {' '.join(ROMANIAN_LETTERS)}")
"""The rule a name's letters follow, as the roster's message states it (rt44 F7: it said "Latin letters with
accents are fine" and refused the Romanian Ș, one of them)."""


def _printed_as_text(ch: str) -> bool:
    """Whether `ch` belongs in a name on the sheets: ASCII, Latin-1 (its × · ± are set through math and look
    as in text; the Catalan l·l) and the letters pdflatex sets as text -- never Greek or the signs prose sets as
    math, ≤ ∑ ∞ (red team rt48 F2: "Σωκρτης" came out in math italic with math spacing)."""
    return ("\x20" <= ch <= "\xff" and allowed(ch)) or ch in TEXT_CHARACTERS


def _check_name(value: str, where: Callable[[int, str], RosterInputError]) -> str:
    """The name of a row, its whitespace runs as one space (`where` as :func:`_check_id`'s)."""
    text = " ".join(value.split())
    first = len(value) - len(value.lstrip())
    if not text:
        raise where(0, "the name is empty")
    if len(text) > MAX_NAME_CHARS:
        raise where(first, f"the name is {len(text)} characters long; the limit is {MAX_NAME_CHARS}")
    for i, ch in enumerate(value):
        if not ch.isspace() and not _printed_as_text(ch):
            raise where(i, f"the name has {describe(ch)}, which the sheets cannot print "
                           f"({PRINTED_LETTERS}; write other letters and scripts in those)")
    return text


def parse_roster(text: str, source: str = "roster") -> list[Student]:
    """The students of a roster's text (see the module docstring); errors name ``source:line:col``."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines = io.StringIO(text, newline="").readlines()  # as the reader counts them (its line_num)
    header: list[str] | None = None
    students: list[Student] = []
    seen: dict[str, int] = {}
    columns = (0, 0)
    line = 1
    try:
        while True:
            line = reader.line_num + 1  # where the record starts (a quoted name may span lines)
            row = next(reader, None)
            if row is None:
                break
            at = _Record(source, lines, line, _field_offsets("".join(lines[line - 1:reader.line_num]))).at
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines are fine
            if header is None:
                header = [cell.strip().lower() for cell in row]
                missing = [c for c in ("id", "name") if c not in header]
                if missing:
                    raise at(0, 0, f"the first row must be a header naming the columns id and name (found "
                                   f"{', '.join(repr(c) for c in row[:4])}); missing: {', '.join(missing)}")
                for c in ("id", "name"):
                    if header.count(c) > 1:
                        raise at(len(header) - 1 - header[::-1].index(c), 0,
                                 f"the header names the column {c!r} twice")
                columns = (header.index("id"), header.index("name"))
                continue
            if len(row) != len(header):
                raise at(min(len(row), len(header)), 0,
                         f"{len(row)} field(s), but the header has {len(header)} "
                         f"(quote a name that holds a comma: \"Lovelace, Ada\")")
            if len(students) >= MAX_STUDENTS:
                raise at(0, 0, f"more than {MAX_STUDENTS} students (split the roster)")
            student_id = _check_id(row[columns[0]], functools.partial(at, columns[0]), seen, line)
            students.append(Student(student_id, _check_name(row[columns[1]], functools.partial(at, columns[1])),
                                    line))
    except csv.Error as error:
        hint = " (a quote opened here is never closed)" if "end of data" in str(error) else ""
        raise located(source, lines, line, 0, f"not valid CSV: {error}{hint}") from None
    if header is None:
        raise RosterInputError(f"{source}: the roster is empty (expected a header row id,name and one row per student)")
    if not students:
        raise RosterInputError(f"{source}: no students (only the header row)")
    return students


def read_roster(path: str | os.PathLike[str]) -> list[Student]:
    """Read and validate a roster file (regular file, at most MAX_ROSTER_BYTES, UTF-8)."""
    try:
        data = read_regular_file(path, MAX_ROSTER_BYTES)
    except FileReadError as error:
        raise RosterInputError(str(error)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = data.rfind(b"\n", 0, error.start) + 1
        lines = [""] * data.count(b"\n", 0, start) + [data[start:].split(b"\n")[0].decode("utf-8", "replace")]
        raise located(os.fspath(path), lines, len(lines), len(data[start:error.start].decode("utf-8", "replace")),
                      f"not UTF-8 (byte 0x{data[error.start]:02x}); save the roster as UTF-8 CSV") from None
    text = unicodedata.normalize("NFC", text)  # a spreadsheet's export may write e + U+0301 for the "é" printed
    if "\0" in text:
        lines = io.StringIO(text, newline="").readlines()
        nul = text.index("\0")
        raise located(os.fspath(path), lines, 1, nul, "a NUL byte (is this a spreadsheet, not a CSV file?)")
    return parse_roster(text, os.fspath(path))


def source_date_epoch() -> int:
    """The sheets' date: ``SOURCE_DATE_EPOCH`` (:func:`elbo_sym.files.source_date_epoch`, which
    refuses a bad value) if set, else :data:`DEFAULT_EPOCH`."""
    epoch = files.source_date_epoch()
    return DEFAULT_EPOCH if epoch is None else epoch


# --------------------------------------------------------------------------- typesetting


def _part_names(parts: Sequence[str] | None) -> tuple[str, ...]:
    """The parts asked, in the lesson's order (None: all of them)."""
    from elbo_sym.lesson.exercises import select_tasks

    return tuple(t.key for t in select_tasks(parts))


def reproduce_arguments(count: int, K: int = 2, parts: Sequence[str] | None = None,
                        seed: str | int = "SEED") -> list[str]:
    """The `elbo-sym` arguments that print one student's sheet with its full key.

    Every setting is named (seed, count, K, parts, solutions), so no elbo-sym.toml of the
    folder it runs in can change the sheet; the key prints them with SEED as a placeholder.
    """
    return [*exercises_arguments(seed, count, K, _part_names(parts)), "--solutions", "inline"]


def _command_lines(words: Sequence[str], width: int | None = None) -> list[str]:
    """``elbo-sym WORDS`` as shell lines of at most ``width`` characters (None:
    PRINTED_COMMAND_LINE_CHARS, read at the call; a longer argument alone), each option with its
    value, every line but the last ending in `` \\``: copied from the PDF, it still runs as one command."""
    if width is None:
        width = PRINTED_COMMAND_LINE_CHARS
    groups: list[str] = []
    for word in ("elbo-sym", *words):
        if groups and groups[-1].startswith("--") and " " not in groups[-1] and not word.startswith("--"):
            groups[-1] += " " + word  # an option and its value stay together
        else:
            groups.append(word)
    lines = [groups[0]]
    for group in groups[1:]:
        if len(lines[-1]) + 1 + len(group) + 2 > width:
            lines.append("  " + group)
        else:
            lines[-1] += " " + group
    return [line + " \\" for line in lines[:-1]] + lines[-1:]


def _command_latex(words: Sequence[str]) -> LatexMarkup:
    """``elbo-sym WORDS`` for a typewriter block: one unbreakable box per shell line (no break inside an
    argument or between an option and its value), ``--`` kept as two hyphens (latex_escape breaks the ligature)."""
    boxes = (r"\mbox{" + latex_escape(line).replace(" ", "~") + "}"
             for line in _command_lines(words))
    return LatexMarkup("\\\\\n".join(boxes))


def _split_document(tex: str) -> tuple[str, str]:
    """(preamble, body) of a rendered handout."""
    preamble, marker, rest = tex.partition("\\begin{document}")
    body, end, _ = rest.rpartition("\\end{document}")
    if not marker or not end:
        raise RosterError("the exercises template did not render a whole LaTeX document")
    return preamble, body


def _course(title: str) -> dict[str, LatexMarkup]:
    """The templates' ``course`` and ``course_head`` (handouts.course_context); none without a title."""
    return course_context(title)


def _batch_sources(batch: Sequence[tuple[int, Student, int]], count: int, K: int = 2,
                   parts: Sequence[str] | None = None, course: str = "") -> tuple[str, list[dict[str, Any]], Any]:
    """Worker: the LaTeX of one batch of sheets, each student's key entry, and the tasks.

    ``batch`` holds (position in the batch, student, seed); ``course``: the course's title. Runs in a worker process.
    """
    preamble: str | None = None
    bodies: list[str] = []
    entries: list[dict[str, Any]] = []
    tasks: Any = None
    for group, student, seed in batch:
        sheet = exercises_context(seed=seed, count=count, K=K, parts=parts)
        tasks = sheet["tasks"]
        tex = render_template("exercises.tex.j2", sheet=sheet, student={"id": student.id, "name": student.name},
                              **_course(course))
        head, body = _split_document(tex)
        if preamble is None:
            preamble = head
        elif head != preamble:
            raise RosterError("the exercises template's preamble differs between students "
                              "(student data must go into the document body)")
        # a new page, page 1, and this sheet's group on every page it ships (pdfpages cuts there)
        bodies.append(f"\\clearpage\\setcounter{{page}}{{1}}%\n\\global\\pdfpageattr=\\expandafter"
                     f"{{\\the\\elbosymattr {GROUP_KEY.decode()} {group}}}%\n{body}")
        entries.append({"id": student.id, "name": student.name, "seed": seed,
                        "cases": [{"index": c["index"], "answers": [{"letter": a["letter"], "nats": a["nats"]}
                                                                    for a in c["answers"]]}
                                  for c in sheet["cases"]]})
    assert preamble is not None
    source = (_TEX_PREFIX + preamble + "\\begin{document}\n\\newtoks\\elbosymattr "
              "\\elbosymattr=\\expandafter{\\the\\pdfpageattr}%\n" + "".join(bodies) + "\\clearpage\n\\end{document}\n")
    return source, entries, tasks


def _compile(source: str, workdir: Path, name: str, timeout: float) -> tuple[bytes, tuple[OverfullBox, ...]]:
    """The PDF of ``source`` and what does not fit its page (render.overfull_boxes)."""
    result = build_pdf(source, workdir / f"{name}.pdf", timeout=timeout)
    if not result.ok or result.pdf is None:
        excerpt = f"\n{result.log_excerpt}" if result.log_excerpt else ""
        raise RosterError(f"{name}: {result.message}{excerpt}")
    return result.pdf.read_bytes(), result.overfull_boxes


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o644)


def build_roster(students: Sequence[Student], out_dir: str | os.PathLike[str], *, seed: int, count: int,
                 K: int = 2, parts: Sequence[str] | None = None, jobs: int | None = None, timeout: float = 300,
                 progress: Callable[[str], None] | None = None, course: str = "",
                 strict_layout: bool = False) -> RosterResult:
    """Write ``<id>.pdf`` per student and ``teacher-key.pdf`` into ``out_dir`` (created if missing).

    ``K`` and ``parts`` are the sheets' latent size and quantities asked (as for exercises.pdf);
    ``course``: the course's title (a project's checked ``title``), in every sheet's and the key's header.

    Nothing in ``out_dir`` changes unless everything was built: the PDFs are written to a
    staging folder inside it first and then moved into place, and the sheets an earlier run
    wrote (listed in :data:`ROSTER_MANIFEST`) of students no longer on the roster are removed.
    ``jobs``: worker processes for the exact keys (default: the number of cores); it never
    changes the output. Content cut at the paper's edge (render.layout_defects; with ``strict_layout``
    any overfull box) is a RosterError naming each box, and nothing is moved in.
    """
    if not students:
        raise RosterError("no students")
    ids = [s.id.lower() for s in students]
    if len(set(ids)) != len(ids):
        raise RosterError("student ids must be unique (ignoring case)")
    try:
        parts = _part_names(parts)
    except ValueError as error:  # ExampleInputError: an unknown part
        raise RosterError(str(error)) from None
    if not latex_available():
        raise RosterError(f"the sheets need LaTeX (latexmk and pdflatex); install it with: {INSTALL_HINT}")
    epoch = source_date_epoch()
    started = time.monotonic()
    seeds = {s.id: student_seed(seed, s.id) for s in students}
    if len(set(seeds.values())) != len(seeds):  # 2**-63 per pair: never seen, but never silently shared
        raise RosterError("two students got the same seed; change the course seed")
    batches = [[(i, s, seeds[s.id]) for i, s in enumerate(students[start:start + BATCH_STUDENTS])]
               for start in range(0, len(students), BATCH_STUDENTS)]
    out = Path(out_dir)
    refuse_to_replace(out, ROSTER_MANIFEST, [*(f"{s.id}.pdf" for s in students), f"{KEY_NAME}.pdf"])  # before the TeX
    out.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".elbo-sym-roster-", dir=out))
    workdir = Path(tempfile.mkdtemp(prefix="elbo-sym-roster-tex-"))
    note = progress or (lambda _message: None)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(batches)))
    try:
        overfull: list[tuple[str, OverfullBox]] = []

        def typeset(index: int, source: str, batch) -> int:
            data, boxes = _compile(source, workdir, f"batch-{index + 1}", timeout)
            overfull.extend((f"the sheets of {', '.join(student.id for _, student, _ in batch)}", box) for box in boxes)
            pdf = parse_pdf(data)
            titles = {group: f"Exercises, {student.id}, seed {s_seed}" for group, student, s_seed in batch}
            try:
                pieces = split_by_group(pdf, titles=titles, epoch=epoch)
            except PdfPagesError as error:
                raise RosterError(f"batch {index + 1}: cannot cut the sheets apart: {error}") from None
            for group, student, _ in batch:
                _write(staging / f"{student.id}.pdf", pieces[group])
            note(f"typeset batch {index + 1} of {len(batches)} ({counted(len(batch), 'sheet')})")
            return len(pdf.pages)

        entries: list[list[dict[str, Any]]] = [[] for _ in batches]
        tasks: Any = None
        pages = 0
        with ThreadPoolExecutor(max_workers=workers + 1) as tex_pool:
            compiles: list[Future[int]] = []
            if workers == 1:
                for index, batch in enumerate(batches):
                    source, entries[index], tasks = _batch_sources(batch, count, K, parts, course)
                    compiles.append(tex_pool.submit(typeset, index, source, batch))
            else:
                # fork the workers before any thread of ours exists (ProcessPoolExecutor forks at the first submit)
                with ProcessPoolExecutor(max_workers=workers) as key_pool:
                    pending = {key_pool.submit(_batch_sources, batch, count, K, parts, course): index
                               for index, batch in enumerate(batches)}
                    try:
                        for future in as_completed(pending):
                            index = pending[future]
                            source, entries[index], tasks = future.result()
                            compiles.append(tex_pool.submit(typeset, index, source, batches[index]))
                    except BaseException:
                        key_pool.shutdown(wait=False, cancel_futures=True)
                        raise
            key_source = _TEX_PREFIX + render_template(
                "roster-key.tex.j2", key={"seed": seed, "count": count, "K": K, "tasks": tasks,
                                          "command": _command_latex(reproduce_arguments(count, K, parts)),
                                          "students": [e for chunk in entries for e in chunk]},
                **_course(course))
            key_future = tex_pool.submit(_compile, key_source, workdir, KEY_NAME, timeout)
            for compiled in compiles:
                pages += compiled.result()
            key_data, key_boxes = key_future.result()
            key_pdf = parse_pdf(key_data)
            overfull.extend((f"{KEY_NAME}.pdf", box) for box in key_boxes)
        defects = layout_defects((box for _, box in overfull), strict=strict_layout)
        if defects:  # as `build`: the previous sheets stay
            shown = sorted(overfull, key=lambda item: (item[0], item[1].line))
            raise RosterError(layout_failure(defects) + "".join(f"\n  {where}: {box.describe()}"
                                                                for where, box in shown))
        key_bytes = write_pages(key_pdf, key_pdf.pages, title=f"Teacher key, course seed {seed}", epoch=epoch)
        _write(staging / f"{KEY_NAME}.pdf", key_bytes)
        names = [f"{student.id}.pdf" for student in students]
        removed = move_in(staging, out, [*names, f"{KEY_NAME}.pdf"], ROSTER_MANIFEST)
        return RosterResult(tuple(out / name for name in names), out / f"{KEY_NAME}.pdf", seeds,
                            pages + len(key_pdf.pages), time.monotonic() - started,
                            tuple(sorted(overfull, key=lambda item: (item[0], item[1].line))), tuple(removed))
    except PdfPagesError as error:
        raise RosterError(f"{KEY_NAME}: {error}") from None
    except (HandoutError, RenderError) as error:
        raise RosterError(str(error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


"""Split a pdfTeX PDF into several PDFs by page, reproducibly, without outside tools.

The roster (:mod:`elbo_sym.publish.roster`) typesets many students' sheets in one pdfTeX
run and cuts the result into one PDF per student here. poppler's ``pdfseparate`` +
``pdfunite`` would do the cutting too, but ``pdfunite`` writes a random ``/ID`` (two runs
differ) and repeats every font once per page (a 3-page sheet grows to ~0.5 MB); this
module writes each part with every shared object (fonts, encodings) once and a fixed
trailer, so the same input gives the same bytes.

Scope, checked rather than assumed: the input is what pdfTeX writes with
``\\pdfobjcompresslevel=0`` -- a classic cross-reference table (no object or xref
streams), generation-0 objects, stream ``/Length`` given directly or as a reference,
each page carrying its own ``/Resources`` and ``/MediaBox``. Anything else raises
:class:`PdfPagesError`. Page groups are read from a page attribute that the LaTeX source
sets with ``\\pdfpageattr`` (:data:`GROUP_KEY`, e.g. ``/ElboSymSheet 3``); it is removed
from the written pages.

Each part gets a fresh Info dictionary (``/Producer``, ``/Title``, and ``/CreationDate`` /
``/ModDate`` from the given epoch, e.g. ``SOURCE_DATE_EPOCH``) and an ``/ID`` that is the
MD5 of the part's own bytes: reproducible, and different parts have different IDs.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["GROUP_KEY", "PdfPagesError", "ParsedPdf", "parse_pdf", "write_pages", "split_by_group"]

GROUP_KEY = b"/ElboSymSheet"
"""The page attribute naming a page's group (set in LaTeX with ``\\pdfpageattr``)."""


class PdfPagesError(Exception):
    """The PDF is not of the simple kind this module splits (or a page group is missing)."""


_OBJ_HEADER = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R\b")
_STREAM_START = re.compile(rb">>\s*stream(\r\n|\n)")
_ENDOBJ = re.compile(rb"\bendobj\b")
_LENGTH = re.compile(rb"/Length\s+(\d+)(\s+(\d+)\s+R\b)?")
_PARENT = re.compile(rb"/Parent\s+\d+\s+\d+\s+R\b")
_GROUP = re.compile(re.escape(GROUP_KEY) + rb"\s+(\d+)")
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_TYPE = re.compile(rb"/Type\s*/(Pages|Page|Catalog)\b")


@dataclass(frozen=True)
class _Object:
    head: bytes  # the dictionary or value, between "N 0 obj" and "stream" / "endobj"
    stream: bytes | None  # the raw stream bytes (still encoded), or None


@dataclass(frozen=True)
class ParsedPdf:
    """The objects of a PDF (by number), its pages in order and its version line."""

    version: bytes
    objects: Mapping[int, _Object]
    pages: tuple[int, ...]

    def group_of(self, page: int) -> int | None:
        """The page's :data:`GROUP_KEY` value, or None."""
        match = _GROUP.search(_without_strings(self.objects[page].head))
        return int(match.group(1)) if match else None


def _without_strings(head: bytes) -> bytes:
    """``head`` with every literal string ``( ... )`` blanked (so a string never looks like a key or a reference)."""
    out = bytearray(head)
    i, n = 0, len(head)
    while i < n:
        if head[i] == 0x28:  # "("
            depth, j = 1, i + 1
            while j < n and depth:
                c = head[j]
                if c == 0x5C:  # backslash escapes the next byte
                    j += 2
                    continue
                depth += (c == 0x28) - (c == 0x29)
                j += 1
            for k in range(i + 1, min(j, n) - 1):
                out[k] = 0x20
            i = j
        else:
            i += 1
    return bytes(out)


def _refs(head: bytes) -> list[int]:
    """Object numbers referenced in a dictionary or array (strings skipped)."""
    return [int(m.group(1)) for m in _REF.finditer(_without_strings(head))]


def _renumber(head: bytes, mapping: Mapping[int, int]) -> bytes:
    """``head`` with every reference ``N 0 R`` renumbered (strings untouched)."""
    blanked = _without_strings(head)
    out, last = [], 0
    for m in _REF.finditer(blanked):
        out.append(head[last:m.start()])
        out.append(b"%d 0 R" % mapping[int(m.group(1))])
        last = m.end()
    out.append(head[last:])
    return b"".join(out)


def _xref_offsets(data: bytes) -> tuple[dict[int, int], bytes]:
    """Object offsets from the classic xref table, and the trailer dictionary."""
    tail = data[-1024:]
    found = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", tail)
    if found is None:
        raise PdfPagesError("no startxref at the end (not a complete PDF)")
    pos = int(found.group(1))
    if data[pos:pos + 4] != b"xref":
        raise PdfPagesError("no classic xref table (an xref stream? set \\pdfobjcompresslevel=0)")
    offsets: dict[int, int] = {}
    section = re.compile(rb"\s*(\d+)\s+(\d+)\s*?\r?\n")
    i = pos + 4
    while True:
        m = section.match(data, i)
        if m is None:
            break
        start, count = int(m.group(1)), int(m.group(2))
        i = m.end()
        for k in range(count):
            entry = data[i:i + 20]
            if len(entry) < 18:
                raise PdfPagesError("truncated xref table")
            offset, generation, kind = int(entry[0:10]), int(entry[11:16]), entry[17:18]
            if kind == b"n":
                if generation != 0:
                    raise PdfPagesError(f"object {start + k} has generation {generation} (only 0 is handled)")
                offsets[start + k] = offset
            i += 20
    trailer = re.compile(rb"\s*trailer\s*(<<.*?>>)\s*startxref", re.S).match(data, i)
    if trailer is None:
        raise PdfPagesError("no trailer after the xref table")
    return offsets, trailer.group(1)


def _read_object(data: bytes, number: int, offset: int, offsets: Mapping[int, int]) -> _Object:
    header = _OBJ_HEADER.match(data, offset)
    if header is None or int(header.group(1)) != number:
        raise PdfPagesError(f"object {number}: the xref offset {offset} does not point at it")
    start = header.end()
    end = _ENDOBJ.search(data, start)
    if end is None:
        raise PdfPagesError(f"object {number}: no endobj")
    stream = _STREAM_START.search(data, start, end.start())  # a stream's data may hold "endobj" too
    if stream is None:
        return _Object(data[start:end.start()].strip(), None)
    head = data[start:stream.start() + 2].strip()
    length = _LENGTH.search(_without_strings(head))
    if length is None:
        raise PdfPagesError(f"object {number}: a stream without /Length")
    if length.group(2):  # an indirect length: "N 0 obj 1234 endobj"
        ref = int(length.group(3))
        m = re.compile(rb"\d+\s+\d+\s+obj\s+(\d+)\s+endobj").match(data, offsets[ref])
        if m is None:
            raise PdfPagesError(f"object {number}: its /Length {ref} 0 R is not an integer object")
        size = int(m.group(1))
    else:
        size = int(length.group(1))
    body = stream.end()
    raw = data[body:body + size]
    if not re.match(rb"\s*endstream", data[body + size:body + size + 16]):
        raise PdfPagesError(f"object {number}: the stream is not {size} bytes long")
    return _Object(head, raw)


def parse_pdf(data: bytes) -> ParsedPdf:
    """Read every object of a classic-xref PDF and its pages in document order."""
    first_line = data.split(b"\n", 1)[0].strip()
    if not first_line.startswith(b"%PDF-"):
        raise PdfPagesError("not a PDF (no %PDF- header)")
    offsets, trailer = _xref_offsets(data)
    objects = {n: _read_object(data, n, off, offsets) for n, off in sorted(offsets.items())}
    root = re.search(rb"/Root\s+(\d+)\s+0\s+R", trailer)
    if root is None or int(root.group(1)) not in objects:
        raise PdfPagesError("the trailer has no /Root")
    catalog = objects[int(root.group(1))].head
    pages_ref = re.search(rb"/Pages\s+(\d+)\s+0\s+R", _without_strings(catalog))
    if pages_ref is None:
        raise PdfPagesError("the catalog has no /Pages")
    pages: list[int] = []

    def walk(number: int, depth: int) -> None:
        if depth > 64 or number not in objects:
            raise PdfPagesError(f"a broken page tree at object {number}")
        head = _without_strings(objects[number].head)
        kind = _TYPE.search(head)
        if kind is not None and kind.group(1) == b"Page":
            for key in (b"/Resources", b"/MediaBox"):
                if key not in head:
                    raise PdfPagesError(f"page object {number} has no {key.decode()} of its own")
            pages.append(number)
            return
        kids = _KIDS.search(head)
        if kind is None or kind.group(1) != b"Pages" or kids is None:
            raise PdfPagesError(f"object {number} in the page tree is neither /Page nor /Pages")
        for kid in _refs(kids.group(1)):
            walk(kid, depth + 1)

    walk(int(pages_ref.group(1)), 0)
    return ParsedPdf(first_line, objects, tuple(pages))


def _pdf_date(epoch: int) -> bytes:
    return time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime(epoch)).encode("ascii")


def _pdf_string(text: str) -> bytes:
    """An ASCII literal string for the Info dictionary (other characters become '?')."""
    raw = text.encode("ascii", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def write_pages(pdf: ParsedPdf, pages: Sequence[int], *, title: str, epoch: int,
                producer: str = "elbo-sym") -> bytes:
    """A new PDF holding ``pages`` (object numbers of ``pdf``, in this order) and only the
    objects they use; the :data:`GROUP_KEY` attribute is removed. Deterministic."""
    if not pages:
        raise PdfPagesError("no pages to write")
    wanted = set(pages)
    order: list[int] = []
    seen: set[int] = set()
    for page in pages:  # depth-first from each page, in page order: a fixed numbering
        stack = [page]
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            if number not in pdf.objects:
                raise PdfPagesError(f"object {number} is referenced but missing")
            head = pdf.objects[number].head
            if number not in wanted and _TYPE.search(_without_strings(head)):
                raise PdfPagesError(f"a page refers to object {number}, another page or the page tree")
            seen.add(number)
            order.append(number)
            if number in wanted:
                head = _PARENT.sub(b"", head)
            stack.extend(reversed(_refs(head)))
    mapping = {old: new for new, old in enumerate(order, start=1)}
    pages_node, catalog, info = len(order) + 1, len(order) + 2, len(order) + 3
    chunks: list[bytes] = [pdf.version + b"\n%\xe2\xe3\xcf\xd3\n"]
    offsets: list[int] = []
    size = len(chunks[0])

    def emit(number: int, head: bytes, stream: bytes | None = None) -> None:
        nonlocal size
        offsets.append(size)
        parts = [b"%d 0 obj\n" % number, head, b"\n"]
        if stream is not None:
            parts += [b"stream\n", stream, b"\nendstream\n"]
        parts.append(b"endobj\n")
        blob = b"".join(parts)
        chunks.append(blob)
        size += len(blob)

    for old in order:
        obj = pdf.objects[old]
        head = obj.head
        if old in wanted:  # the page's /Parent becomes the new page tree (after renumbering the rest)
            head = _GROUP.sub(b"", _PARENT.sub(b"/Parent @PARENT@", head))
        head = _renumber(head, mapping).replace(b"/Parent @PARENT@", b"/Parent %d 0 R" % pages_node)
        if obj.stream is not None:  # the length may have been an indirect object: make it direct
            head = _LENGTH.sub(b"/Length %d" % len(obj.stream), head, count=1)
        emit(mapping[old], head, obj.stream)
    kids = b" ".join(b"%d 0 R" % mapping[p] for p in pages)
    emit(pages_node, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(pages), kids))
    emit(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_node)
    date = _pdf_date(epoch)
    emit(info, b"<< /Producer %s /Title %s /CreationDate (%s) /ModDate (%s) >>"
         % (_pdf_string(producer), _pdf_string(title), date, date))
    body = b"".join(chunks)
    digest = hashlib.md5(body).hexdigest().upper().encode("ascii")
    xref = [b"xref\n0 %d\n" % (info + 1), b"0000000000 65535 f \n"]
    xref += [b"%010d 00000 n \n" % off for off in offsets]
    trailer = (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
               % (info + 1, catalog, info, digest, digest, len(body)))
    return body + b"".join(xref) + trailer


def split_by_group(data: bytes | ParsedPdf, *, titles: Mapping[int, str], epoch: int) -> dict[int, bytes]:
    """One PDF per :data:`GROUP_KEY` value in ``titles``: each page goes to its group.

    Every page must carry a group from ``titles`` and every group must have a page;
    otherwise :class:`PdfPagesError`.
    """
    pdf = data if isinstance(data, ParsedPdf) else parse_pdf(data)
    groups: dict[int, list[int]] = {}
    for page in pdf.pages:
        group = pdf.group_of(page)
        if group is None or group not in titles:
            raise PdfPagesError(f"page {pdf.pages.index(page) + 1} has no known {GROUP_KEY.decode()}")
        groups.setdefault(group, []).append(page)
    missing = sorted(set(titles) - set(groups))
    if missing:
        raise PdfPagesError(f"no page for group(s) {missing}")
    return {g: write_pages(pdf, groups[g], title=titles[g], epoch=epoch) for g in sorted(groups)}

"""Split a pdfTeX PDF into several PDFs by page, reproducibly, with pikepdf (qpdf).

The roster (:mod:`elbo_sym.publish.roster`) typesets many students' sheets in one pdfTeX
run and cuts the result into one PDF per student here.  poppler's ``pdfunite`` would do the
cutting too, but it writes a random ``/ID`` (two runs differ) and repeats every font once per
page; qpdf copies each shared object (fonts, encodings) once, and pikepdf's
``deterministic_id`` makes the ``/ID`` a hash of the part's own content: the same input gives
the same bytes (with the same pikepdf/qpdf version), and different parts have different IDs.

Page groups are read from a page attribute that the LaTeX source sets with ``\\pdfpageattr``
(:data:`GROUP_KEY`, e.g. ``/ElboSymSheet 3``); it is removed from the written pages.  Each
part gets a fresh Info dictionary (``/Producer``, ``/Title``, and ``/CreationDate`` /
``/ModDate`` from the given epoch, e.g. ``SOURCE_DATE_EPOCH``) and nothing else of the input's.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pikepdf

__all__ = ["GROUP_KEY", "PdfPagesError", "ParsedPdf", "parse_pdf", "write_pages", "split_by_group"]

GROUP_KEY = b"/ElboSymSheet"
"""The page attribute naming a page's group (set in LaTeX with ``\\pdfpageattr``)."""
_GROUP = pikepdf.Name(GROUP_KEY.decode("ascii"))


class PdfPagesError(Exception):
    """The bytes are not a PDF pikepdf reads (or a page group is missing)."""


@dataclass(frozen=True)
class ParsedPdf:
    """A PDF read by pikepdf; its pages are numbered from 0 in order."""

    pdf: pikepdf.Pdf

    @property
    def pages(self) -> tuple[int, ...]:
        return tuple(range(len(self.pdf.pages)))

    def group_of(self, page: int) -> int | None:
        """The page's :data:`GROUP_KEY` value, or None."""
        value = self.pdf.pages[page].obj.get(_GROUP)
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):  # not an integer
            return None


def parse_pdf(data: bytes) -> ParsedPdf:
    """Read a PDF (PdfPagesError when pikepdf cannot)."""
    if not data.startswith(b"%PDF-"):
        raise PdfPagesError("not a PDF (no %PDF- header)")
    try:
        return ParsedPdf(pikepdf.Pdf.open(io.BytesIO(data)))
    except pikepdf.PdfError as error:
        raise PdfPagesError(f"not a PDF pikepdf reads: {error}") from None


def _pdf_date(epoch: int) -> str:
    return time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime(epoch))


def write_pages(pdf: ParsedPdf, pages: Sequence[int], *, title: str, epoch: int,
                producer: str = "elbo-sym") -> bytes:
    """A new PDF holding ``pages`` (numbers of ``pdf``'s pages, in this order) and only the
    objects they use; the :data:`GROUP_KEY` attribute is removed. Deterministic."""
    if not pages:
        raise PdfPagesError("no pages to write")
    part = pikepdf.Pdf.new()
    for number in pages:
        part.pages.append(pdf.pdf.pages[number])
    for copied in part.pages:
        if _GROUP in copied.obj:
            del copied.obj[_GROUP]
    date = _pdf_date(epoch)
    ascii_only = {key: text.encode("ascii", "replace").decode("ascii")
                  for key, text in (("/Producer", producer), ("/Title", title))}
    part.trailer.Info = part.make_indirect(pikepdf.Dictionary(
        Producer=pikepdf.String(ascii_only["/Producer"]), Title=pikepdf.String(ascii_only["/Title"]),
        CreationDate=pikepdf.String(date), ModDate=pikepdf.String(date)))
    out = io.BytesIO()
    part.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.disable,
              compress_streams=True, linearize=False)
    return out.getvalue()


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
            raise PdfPagesError(f"page {page + 1} has no known {GROUP_KEY.decode()}")
        groups.setdefault(group, []).append(page)
    missing = sorted(set(titles) - set(groups))
    if missing:
        raise PdfPagesError(f"no page for group(s) {missing}")
    return {g: write_pages(pdf, groups[g], title=titles[g], epoch=epoch) for g in sorted(groups)}

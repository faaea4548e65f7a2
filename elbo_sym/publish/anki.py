"""Export the lesson's flashcards as an Anki deck (``.apkg``) with genanki.

Formulas are the checked ones (:mod:`elbo_sym.lesson.practice`), typeset by the one printer
(:func:`elbo_sym.engine.notation.to_latex`) and wrapped in Anki's MathJax delimiters ``\\( ... \\)``.
Prose is HTML-escaped. Identifiers are stable, so re-importing an updated deck updates the
notes instead of duplicating them:

* the note type (model) and the deck have fixed ids (:data:`MODEL_ID`, :data:`DECK_ID`,
  derived from the fixed number :data:`ID_BASE`, not drawn at random);
* each note's guid is ``genanki.guid_for(GUID_NAMESPACE, front)``: editing a card's back,
  formula or topic keeps its identity; rewording its front makes it a new note.

Timestamps inside the package come from ``SOURCE_DATE_EPOCH`` when set (reproducible
builds), else from the clock (so Anki sees edited notes as newer).
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elbo_sym.prose import html_text

__all__ = [
    "DECK_ID",
    "DECK_NAME",
    "GUID_NAMESPACE",
    "ID_BASE",
    "MODEL_ID",
    "AnkiError",
    "build_deck",
    "mathjax",
    "note_fields",
    "note_guid",
    "write_apkg",
]

ID_BASE = 1_402_026_000
"""The fixed number every id of the export derives from (Anki ids must stay below 2**63)."""
MODEL_ID = ID_BASE + 1
DECK_ID = ID_BASE + 2
DECK_NAME = "Latent variables and the ELBO"
MODEL_NAME = "elbo-sym flashcard"
GUID_NAMESPACE = "elbo-sym/flashcards"
FIELDS = ("Front", "Back", "Formula", "Topic")

_CSS = """.card { font-family: "Latin Modern Roman", Georgia, serif; font-size: 20px;
  text-align: center; color: #111; background: #fff; }
.back { text-align: left; max-width: 36em; margin: 0 auto; }
.formula { margin-top: 1em; font-size: 110%; }
.topic { font-size: 60%; color: #888; font-variant: small-caps; letter-spacing: .05em; }
"""
_FRONT = '<div class="topic">{{Topic}}</div>\n{{Front}}'
_BACK = ('{{FrontSide}}\n<hr id="answer">\n<div class="back">{{Back}}</div>\n'
         '{{#Formula}}<div class="formula">{{Formula}}</div>{{/Formula}}')


class AnkiError(Exception):
    """The deck cannot be exported (e.g. a card's formula is not checked)."""


def mathjax(latex: str) -> str:
    """Printer LaTeX as an inline MathJax formula for Anki: ``\\( ... \\)``, HTML-safe.

    ``{{`` is split to ``{ {`` (same TeX) so Anki's template syntax never sees a field tag.
    """
    body = latex.replace("{{", "{ {").replace("}}", "} }")
    return r"\(" + html.escape(body, quote=False) + r"\)"


def _prose(text: str) -> str:
    """Card prose as HTML: text escaped, ``$...$`` formulas through the printer as MathJax,
    blank lines as line breaks."""
    from elbo_sym.engine.parse import Vocabulary
    from elbo_sym.report.build import prose_parts

    out = []
    for part in prose_parts(text, Vocabulary(), claims=True):
        if part.kind == "math":
            out.append(mathjax(part.latex))
        elif part.kind == "paragraph":
            out.append("<br><br>")
        else:
            out.append(html_text(re.sub(r"\s+", " ", part.text)))
    return "".join(out).strip()


def note_fields(card: Any) -> list[str]:
    """The four fields (Front, Back, Formula, Topic) of one :class:`elbo_sym.lesson.practice.Card`."""
    formula = ""
    f = card.formula
    if f is not None:
        formula = mathjax(f.latex)
        if f.assume is not None:
            formula += " &nbsp; if " + mathjax(f.assume_latex)
    return [_prose(card.front), _prose(card.back), formula, _prose(card.topic.replace("-", " "))]


def note_guid(card: Any) -> str:
    """Stable guid of a card's note: a hash of the namespace and the card's front."""
    import genanki

    return genanki.guid_for(GUID_NAMESPACE, " ".join(card.front.split()))


def _model():
    import genanki

    return genanki.Model(
        MODEL_ID,
        MODEL_NAME,
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": "Card 1", "qfmt": _FRONT, "afmt": _BACK}],
        css=_CSS,
    )


def build_deck(cards: Sequence[Any], name: str = DECK_NAME):
    """A ``genanki.Deck`` of the given cards (their formulas must already be checked)."""
    import genanki

    model = _model()
    deck = genanki.Deck(DECK_ID, name)
    for card in cards:
        tags = [card.topic.replace(" ", "-")] if card.topic else []
        deck.add_note(genanki.Note(model=model, fields=note_fields(card), guid=note_guid(card), tags=tags))
    return deck


def _timestamp() -> float | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return float(value) if value.isascii() and value.isdigit() else None  # "١٢" and "²" are digits too


def write_apkg(cards: Sequence[Any], path: str | os.PathLike[str], name: str = DECK_NAME,
               timestamp: float | None = None) -> Path:
    """Write the cards as an Anki package at ``path``, atomically (temp file + rename).

    The folder must exist (it is not created); a folder, FIFO or device at ``path`` is
    refused (AnkiError), an existing regular file is replaced.
    """
    import genanki

    path = Path(path)
    if path.is_symlink():  # replacing the link would write where it points from now on (/dev/stdout...)
        raise AnkiError(f"{path} is a symbolic link; give the path of a regular file")
    if path.is_dir():
        raise AnkiError(f"{path} is a folder; give a file name such as {path / 'deck.apkg'}")
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise AnkiError(f"{path} exists and is not a regular file")
    if not path.parent.is_dir():
        raise AnkiError(f"folder {path.parent} does not exist (it is not created)")
    package = genanki.Package(build_deck(cards, name))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        package.write_to_file(tmp, timestamp=timestamp if timestamp is not None else _timestamp())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

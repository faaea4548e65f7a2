"""Export a course's flashcards as an Anki deck (``.apkg``) with genanki.

Formulas are the checked ones (:mod:`elbo_sym.lesson.practice`), typeset by the one printer
(:func:`elbo_sym.engine.notation.to_latex`) and wrapped in Anki's MathJax delimiters ``\\( ... \\)``.
Prose is HTML-escaped and kept from every reader of the card's HTML (:func:`elbo_sym.prose.html_text`).
Identifiers are stable, so re-importing an updated deck updates the notes instead of duplicating
them, and they belong to one course, so two courses' decks never merge (:func:`anki_identity`):

* a deck is named by its course (the project's ``title``, else the deck file's title); the
  lesson's own deck keeps its fixed ids (:data:`MODEL_ID`, :data:`DECK_ID`, from the fixed
  number :data:`ID_BASE`), every other name gets ids from SHA-256 of the name (the same
  name on every machine, whatever the folder; different names, different ids);
* each note's guid is ``genanki.guid_for(namespace, front)`` with the course's namespace:
  editing a card's back, formula or topic keeps its identity; rewording its front makes it
  a new note; the same front in another course is another note.

Timestamps inside the package come from ``SOURCE_DATE_EPOCH`` when set (reproducible
builds), else from the clock (so Anki sees edited notes as newer).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elbo_sym.files import PROJECT_FILE, InputError, replace_file, source_date_epoch
from elbo_sym.prose import html_text
from elbo_sym.publish.outputs import write_owned

if TYPE_CHECKING:
    from elbo_sym.report.model import DeckScope

__all__ = [
    "DECK_ID",
    "DECK_NAME",
    "GUID_NAMESPACE",
    "ID_BASE",
    "MODEL_ID",
    "AnkiError",
    "AnkiIdentity",
    "anki_identity",
    "course_deck_name",
    "deck_name",
    "build_deck",
    "formula_html",
    "mathjax",
    "prose_html",
    "note_fields",
    "note_guid",
    "note_guids",
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
ID_DOMAIN = b"elbo-sym anki ids v1"
ID_BITS = 52
"""Hashed ids are below 2**52 (exact in JavaScript and in Anki's JSON), and at least 2**40."""


@dataclass(frozen=True)
class AnkiIdentity:
    """What ties an exported deck to its course: the deck's name, its and its note type's ids,
    and the namespace of its notes' guids."""

    name: str
    deck_id: int
    model_id: int
    guid_namespace: str


def _hashed_id(name: str, what: bytes) -> int:
    digest = hashlib.sha256(ID_DOMAIN + b"\0" + what + b"\0" + name.encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - ID_BITS)) | (1 << 40)


def anki_identity(name: str = DECK_NAME) -> AnkiIdentity:
    """The ids of the deck called `name`: the lesson's fixed ones for :data:`DECK_NAME`, else
    ids and a guid namespace hashed from the name (see the module docstring)."""
    name = " ".join(name.split())
    if not name:
        raise AnkiError("an Anki deck needs a name (the course's title)")
    if name == DECK_NAME:
        return AnkiIdentity(name, DECK_ID, MODEL_ID, GUID_NAMESPACE)
    return AnkiIdentity(name, _hashed_id(name, b"deck"), _hashed_id(name, b"note type"),
                        f"{GUID_NAMESPACE}/{name}")

_CSS = """.card { font-family: "Latin Modern Roman", Georgia, serif; font-size: 20px;
  text-align: center; color: #111; background: #fff; }
.back { text-align: left; max-width: 36em; margin: 0 auto; }
.formula { margin-top: 1em; font-size: 110%; }
.topic { font-size: 60%; color: #888; font-variant: small-caps; letter-spacing: .05em; }
"""
_FRONT = '<div class="topic">{{Topic}}</div>\n{{Front}}'
_BACK = ('{{FrontSide}}\n<hr id="answer">\n<div class="back">{{Back}}</div>\n'
         '{{#Formula}}<div class="formula">{{Formula}}</div>{{/Formula}}')


class AnkiError(InputError):
    """The deck cannot be exported (e.g. a card's formula is not checked)."""


def mathjax(latex: str) -> str:
    """Printer LaTeX as an inline MathJax formula for Anki: ``\\( ... \\)``, HTML-safe.

    ``{{`` is split to ``{ {`` (same TeX) so Anki's template syntax never sees a field tag.
    """
    body = latex.replace("{{", "{ {").replace("}}", "} }")
    return r"\(" + html.escape(body, quote=False) + r"\)"


def prose_html(text: str, vocabulary: Any = None) -> str:
    """Card prose as HTML: text as :func:`elbo_sym.prose.html_text`, ``$...$`` formulas through the printer as MathJax
    (names from `vocabulary`, the deck's; None: the lesson's), blank lines as line breaks
    (Anki's fields; the Moodle quiz of a deck, elbo_sym.publish.moodle, too).  A ``[`` of the text is
    a character reference: Anki reads ``[sound:x.mp3]`` (and its other ``[...]`` media and TTS tags)
    anywhere in a field's HTML as media to play or to pack, never as the words typed (red team rt12)."""
    from elbo_sym.engine.parse import Vocabulary
    from elbo_sym.report.build import prose_parts

    out = []
    for part in prose_parts(text, vocabulary if vocabulary is not None else Vocabulary(), claims=True):
        if part.kind == "math":
            out.append(mathjax(part.latex))
        elif part.kind == "paragraph":
            out.append("<br><br>")
        else:
            out.append(html_text(re.sub(r"\s+", " ", part.text)))
    return "".join(out).strip()


def scope_html(scope: DeckScope | None) -> str | None:
    """A deck's scope (report.build.deck_scope) as HTML: its parameters' domains as MathJax through the
    printer, as a card's conditions are ("if β ≥ 1"), its words escaped; None when the deck has none."""
    return scope.joined(lambda d: mathjax(d.latex), html_text) if scope is not None else None


def formula_html(card: Any, scope: str | None = None) -> str:
    """A card's formula and, beside it, its conditions ("if ..."), as MathJax through the printer; under them,
    its deck's `scope` (HTML, :func:`scope_html`) when the deck's model is narrower than every latent space or
    its parameters have domains (a card is studied alone, rt44 F12).  The scope goes on every card of such a
    deck, not only under a formula: a back's claim or decided words ("$Sum(1, z)$ is $3$") were checked in that
    model too (rt46 F5).  Empty for a card with no formula and no conditions in a deck without a scope."""
    shown = [mathjax(card.formula.latex)] if card.formula is not None else []
    if card.conditions_latex is not None:
        shown.append("if " + mathjax(card.conditions_latex))
    line = " &nbsp; ".join(shown)
    if not scope:
        return line
    return (line + "<br>" if line else "") + f"<small>{scope}</small>"


def note_fields(card: Any, vocabulary: Any = None, scope: str | None = None) -> list[str]:
    """The four fields (Front, Back, Formula, Topic) of one :class:`elbo_sym.lesson.practice.Card`."""
    return [prose_html(card.front, vocabulary), prose_html(card.back, vocabulary), formula_html(card, scope),
            prose_html(card.topic_label, vocabulary)]


def note_guid(card: Any, namespace: str = GUID_NAMESPACE, repeat: int = 0) -> str:
    """Stable guid of a card's note: a hash of the course's namespace and the card's front (its
    words: spacing does not count); `repeat`: how many earlier cards of the deck have that front,
    so that each of them is a note of its own."""
    import genanki

    front = " ".join(card.front.split())
    return genanki.guid_for(namespace, front) if repeat == 0 else genanki.guid_for(namespace, front, repeat)


def note_guids(cards: Sequence[Any], namespace: str = GUID_NAMESPACE) -> list[str]:
    """The guids of a deck's notes (:func:`note_guid`), distinct: a card whose front repeats an
    earlier card's (up to spacing) is told apart by how many came before it.  Two notes sharing
    a guid would be one note to Anki, and re-importing the deck would keep one card's old text."""
    seen: dict[str, int] = {}
    guids: list[str] = []
    for card in cards:
        front = " ".join(card.front.split())
        repeat = seen.get(front, 0)
        guid = note_guid(card, namespace, repeat)
        while guid in guids:  # genanki joins the parts with "__": ("What?", 1) is the front "What?__1" (rt5)
            repeat += 1
            guid = note_guid(card, namespace, repeat)
        guids.append(guid)
        seen[front] = repeat + 1
    return guids


def _model(identity: AnkiIdentity):
    import genanki

    name = MODEL_NAME if identity.model_id == MODEL_ID else f"{MODEL_NAME} ({identity.name})"
    return genanki.Model(
        identity.model_id,
        name,
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": "Card 1", "qfmt": _FRONT, "afmt": _BACK}],
        css=_CSS,
    )


def build_deck(cards: Sequence[Any], name: str = DECK_NAME, vocabulary: Any = None, scope: str | None = None):
    """A ``genanki.Deck`` of the given cards (their formulas must already be checked), named
    `name` with that name's ids (:func:`anki_identity`); `vocabulary`: the deck's names; `scope`: its scope as
    HTML (:func:`scope_html`), on every card (:func:`formula_html`)."""
    import genanki

    identity = anki_identity(name)
    model = _model(identity)
    deck = genanki.Deck(identity.deck_id, identity.name)
    for card, guid in zip(cards, note_guids(cards, identity.guid_namespace)):
        tags = [card.topic.replace(" ", "-")] if card.topic else []
        deck.add_note(genanki.Note(model=model, fields=note_fields(card, vocabulary, scope), guid=guid, tags=tags))
    return deck


def _timestamp() -> float | None:
    """``SOURCE_DATE_EPOCH`` (:func:`elbo_sym.files.source_date_epoch`: InputError for a bad value), else None."""
    epoch = source_date_epoch()
    return None if epoch is None else float(epoch)


def write_apkg(cards: Sequence[Any], path: str | os.PathLike[str], name: str = DECK_NAME,
               timestamp: float | None = None, vocabulary: Any = None, scope: str | None = None) -> Path:
    """Write the cards as an Anki package at ``path``, atomically (temp file + rename).

    The folder must exist (it is not created); a folder, FIFO or device at ``path`` is
    refused (AnkiError), an existing regular file is replaced only where elbo-sym may replace it
    (publish.outputs.write_owned: NotOursError for the user's own file, nothing written).
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
    package = genanki.Package(build_deck(cards, name, vocabulary, scope))
    when = timestamp if timestamp is not None else _timestamp()

    def write_package(tmp: str) -> None:
        package.write_to_file(tmp, timestamp=when)
        if when is not None:
            _date_members(tmp, when)

    def write(target: Path) -> Path:
        return replace_file(target, write_package)

    return write_owned(path, write)


ZIP_EARLIEST: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0)
"""The earliest date a zip entry can carry (MS-DOS time)."""
ZIP_LATEST: tuple[int, int, int, int, int, int] = (2107, 12, 31, 23, 59, 58)
"""The latest date a zip entry can carry (MS-DOS time: years 1980 + 0..127, seconds in steps of two)."""


def _date_members(path: str, timestamp: float) -> None:
    """Rewrite the zip at `path` with every entry dated `timestamp` (UTC; clamped to the years 1980 to
    2107 that a zip entry can carry: a later SOURCE_DATE_EPOCH crashed, rt42 F9), mode 0644: genanki
    dates them with the wall clock, so two runs with one SOURCE_DATE_EPOCH differed although the
    collection inside was identical (red team rt41 F12)."""
    import time
    import zipfile

    t = time.gmtime(timestamp)
    date = min(ZIP_LATEST, max(ZIP_EARLIEST, (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)))
    with zipfile.ZipFile(path) as package:
        members = [(info, package.read(info)) for info in package.infolist()]
    with zipfile.ZipFile(path, "w") as package:
        for old, data in members:
            info = zipfile.ZipInfo(old.filename, date_time=date)
            info.compress_type, info.external_attr = old.compress_type, 0o644 << 16
            package.writestr(info, data)


def deck_name(title: str, vocabulary: Any = None) -> str:
    """A title as the name Anki shows: one line of plain text, ``$...$`` formulas as the printer
    writes them (``ELBO(q)``), ``\\$`` as ``$``, and ``::`` -- Anki's separator of nested decks --
    as ``: `` (the course's deck is one deck)."""
    from elbo_sym.engine.parse import ParseError, Vocabulary
    from elbo_sym.prose import ProseError
    from elbo_sym.report.build import prose_parts
    from elbo_sym.report.model import plain_text

    try:
        text = plain_text(prose_parts(title, vocabulary if vocabulary is not None else Vocabulary()), title)
    except (ProseError, ParseError):  # a title no check read: shown as written
        text = title.replace("\\$", "$")
    return re.sub(r"\s*:(?:\s*:)+\s*", ": ", " ".join(text.split())).strip()


def course_deck_name(course_title: str | None, deck: Any, lesson_deck: bool) -> str:
    """The name (and so the ids) of a course's Anki deck: the course's title, else the lesson's
    own name for the lesson's deck (its ids kept), else the deck file's title -- so two
    courses' decks never merge.  A deck with none of them is refused."""
    if course_title:
        return deck_name(course_title)
    if lesson_deck:
        return DECK_NAME
    if deck.title:
        return deck_name(str(deck.title), deck.vocabulary)
    raise AnkiError(f"{deck.path}: give the deck a title (title = \"...\"), or the course one in "
                    f"{PROJECT_FILE}: the Anki deck is named and identified by it")

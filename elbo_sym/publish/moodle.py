"""Export an exercise sheet as a Moodle quiz: Moodle XML, one cloze question per case.

``elbo-sym exercises --moodle quiz.xml [--seed S --count N --K K --parts A,B]`` writes the
cases of the sheet that ``exercises.pdf`` prints for the same seed, latent size K and parts
(the project's, in a course folder), in Moodle's XML question format
(Question bank > Import > Moodle XML format):

* first a ``<question type="category">`` (:func:`default_category`), so the questions
  land in a category of their own;
* then per case one ``<question type="cloze">`` (Moodle's "Embedded answers"). Its
  ``<name>`` holds the seed and the case number; its ``<questiontext format="html">`` the
  case's givens and tasks, every formula the printer's LaTeX (taken from
  :func:`elbo_sym.publish.handouts.exercises_context`, the PDFs' context) between
  ``\\(`` and ``\\)`` for Moodle's MathJax filter, and one sub-question per number to
  enter: ``{1:NUMERICAL:=0.613333:0.0005}`` -- the exact key's value correctly rounded
  to 6 decimals (``LogNumber.decimal``), accepted within ``tolerance`` (absolute);
  the posterior has one sub-question per state. ``<generalfeedback>`` shows the exact
  key (the answer key's workings).

``elbo-sym cards [DECKS] --moodle quiz.xml`` writes decks (the course's self-check and
flashcards, or DECKS) after checking every card (:func:`cards_quiz`): per deck a category, per
card an ``<question type="essay">`` whose question is the card's front (question) and whose
general feedback and grader information hold its back (answer), its formula and, beside it,
its conditions ("if q(z) != p(z | x)"), all as HTML with MathJax through the printer
(elbo_sym.publish.anki.prose_html and formula_html, as on the Anki cards).

HTML text goes into CDATA sections. Every character of text or LaTeX that reaches the
HTML is escaped (``& < >``), so the CDATA terminator ``]]>`` cannot occur inside one;
:func:`cdata` still splits any ``]]>`` (``]]]]><![CDATA[>``), so a section can never end
early whatever it is given. The output is deterministic: the same seed and count give the
same bytes. A text holds no line break: a PHP built with expat (not libxml2) reports each as a
piece of its own, which Moodle's XML reader drops (below).

What Moodle's own import code makes of it (``bench/moodle_check.py`` runs it; docs/03) set
three rules:

* Names and category paths are HTML to Moodle (it strips tags, shows entities decoded), and
  its XML reader (lib/xmlize.php, a SAX parser) drops any piece of text that is only white
  space -- the space in ``A &amp; &amp; B`` between two entity references. So a name is the
  plain name HTML-escaped, its braces, dollars and backslashes as character references (Moodle's
  filters run on names too), in a CDATA section like every text (:func:`_stored_name`), cut with
  an ellipsis to Moodle's 255 characters; a deck's title is shown as plain text (formulas as
  the printer writes them, ``\\$`` as ``$``). In a category path a ``/`` of the title is
  written ``//`` and a title that starts or ends with one gets a space there, as Moodle's
  ``assemble_category_path`` does (:func:`_category_path`).
* Moodle's MathJax filter loads MathJax 4, which ignores elements of class ``mathjax_ignore``
  (``tex2jax_ignore`` was MathJax 2's): a card's prose is marked with both, so a ``\\(`` an
  author typed stays text (:func:`elbo_sym.prose.html_text`, as on the Anki cards).
* That filter turns ``<`` and ``>`` inside any ``{...}`` of the HTML into text; a brace in an
  author's prose would pair with one after a formula and break the tags between. Prose
  braces, dollars, backslashes (and ``[``, for Anki's own tags) are written as character
  references, which no filter or MathJax delimiter search reads as TeX.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sympy import Eq, Integer

from elbo_sym.engine.notation import z
from elbo_sym.files import InputError, replace_file
from elbo_sym.lesson.exercises import PARTS
from elbo_sym.limits import MOODLE_NAME_CHARS
from elbo_sym.prose import character_references
from elbo_sym.publish.handouts import DEFAULT_COUNT, DEFAULT_SEED, exercises_context, math
from elbo_sym.publish.outputs import write_owned

__all__ = [
    "ANSWER_DIGITS",
    "TOLERANCE",
    "MoodleError",
    "cdata",
    "cloze_numerical",
    "cards_quiz",
    "default_category",
    "moodle_quiz",
    "require_distinct_categories",
    "write_moodle_quiz",
    "write_cards_quiz",
]

TOLERANCE = "0.0005"
"""Absolute tolerance of every numerical sub-question: answers to 4 decimals are accepted."""
ANSWER_DIGITS = 6
"""Decimals of the stored answers (the answer key's)."""
PENALTY = "0.3333333"

_NUMBER = re.compile(r"-?[0-9]+\.[0-9]+")


class MoodleError(InputError):
    """The quiz cannot be written (a value that is not a plain decimal, an unwritable file)."""


def cdata(text: str) -> str:
    """``text`` as CDATA section(s): ``]]>`` inside is split so no section ends early."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def cloze_numerical(value: str, tolerance: str = TOLERANCE) -> str:
    """A cloze NUMERICAL sub-question with one correct answer: ``{1:NUMERICAL:=value:tolerance}``."""
    for number in (value, tolerance):
        if not _NUMBER.fullmatch(number):
            raise MoodleError(f"not a plain decimal number: {number!r}")
    return f"{{1:NUMERICAL:={value}:{tolerance}}}"


def default_category(seed: int, K: int = 2, parts: Sequence[str] | None = None) -> str:
    """The quiz's own category: one per seed, latent size and parts asked (a K = 3 quiz never lands
    among K = 2 questions; a quiz asking fewer parts never among the whole sheet's questions).  Not
    per count: case i of a seed is the same case, with the same id number, whatever the count, so a
    longer quiz of the seed lands beside a shorter one (Moodle imports its repeated cases without the id)."""
    asked = _parts_asked(parts)
    return _category_path(f"ELBO exercises, seed {seed}" + (f", K = {K}" if K != 2 else "")
                          + (f", parts {', '.join(asked)}" if asked else ""))


def _parts_asked(parts: Sequence[str] | None) -> tuple[str, ...]:
    """The parts a quiz asks when it is not the whole sheet (), in the sheet's order: part of its
    questions' identity: Moodle's import silently strips a question's id number when its category
    already holds it (question/format.php), so two quizzes of one seed asking different parts must
    not collide."""
    asked = tuple(parts) if parts is not None else PARTS
    return () if asked == PARTS else asked


_NAME_SIGNS = re.compile(r"[{}$\\]")
"""The TeX signs a name holds as character references (not ``[``: no Anki reads a Moodle name)."""


def _tex_free(escaped: str) -> str:
    """HTML text with its braces, dollars and backslashes as character references: shown as typed,
    never read as TeX by Moodle's TeX and MathJax filters (which run on names too, with "filter all
    strings"; red team rt12: a deck titled ``$$\\href{javascript:...}{x}$$``)."""
    return character_references(escaped, _NAME_SIGNS)


def _stored_name(plain: str, suffix: str = "") -> str:
    """The name ``plain + suffix`` as Moodle stores it (HTML: escaped, no TeX sign raw: :func:`_tex_free`),
    within MOODLE_NAME_CHARS: ``plain`` is cut, with an ellipsis, when the whole would be longer (the
    suffix -- which card -- is kept)."""
    for end in range(len(plain), -1, -1):
        shown = plain if end == len(plain) else plain[:end].rstrip() + "\u2026"
        stored = _tex_free(html.escape(shown + suffix, quote=False))
        if len(stored) <= MOODLE_NAME_CHARS:
            return stored
    raise MoodleError(f"the name {suffix!r} alone is longer than Moodle's {MOODLE_NAME_CHARS} characters")


def _category_path(title: str) -> str:
    """The category named ``title`` (plain text) under the course's top category, as Moodle's
    question/format.php ``assemble_category_path`` writes a path (``split_category_path`` reads it)."""
    name = _stored_name(title).replace("/", "//")
    return "$course$/top/" + (" " if name.startswith("/") else "") + name + (" " if name.endswith("/") else "")


def _idnumber(seed: int, K: int, index: int, parts: Sequence[str] | None = None) -> str:
    """A question's id number, unique in its category and across the quizzes of one seed (the
    binary whole-sheet quiz keeps its old ids; case ``index`` is the same case whatever the count)."""
    asked = _parts_asked(parts)
    return (f"elbo-sym-{seed}" + (f"-K{K}" if K != 2 else "") + (f"-{'+'.join(asked)}" if asked else "")
            + f"-{index}")


def _states_text(K: int) -> str:
    """"two states, 0 and 1" / "3 states, 0, 1 and 2" (the states through the printer)."""
    states = [_math(math(Integer(k))) for k in range(K)]
    count = "two" if K == 2 else str(K)
    return f"{count} states, {', '.join(states[:-1])} and {states[-1]}"


def _math(latex: str) -> str:
    """Printer LaTeX as inline MathJax in HTML (escaped: ``<``, ``>`` and ``&`` never reach HTML raw)."""
    return r"\(" + html.escape(latex, quote=False) + r"\)"


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _key_values(seed: int, count: int, K: int = 2,
                parts: Sequence[str] | None = None) -> tuple[list[str], list[dict[str, list[str]]]]:
    """The task keys asked, and per case, per task key, the exact key's decimals (one per
    state for the posterior), recomputed from the generator (not read off the context)."""
    from elbo_sym.lesson.exercises import generate_exercises

    sheet = generate_exercises(seed, count, K, parts)
    cases = []
    for exercise in sheet:
        values: dict[str, list[str]] = {}
        for task in sheet.tasks:
            if task.key == "posterior":
                values[task.key] = [p.value.decimal(ANSWER_DIGITS) for p in exercise.key.posterior]
            else:
                values[task.key] = [exercise.key.quantity(task.key).value.decimal(ANSWER_DIGITS)]
        cases.append(values)
    return [t.key for t in sheet.tasks], cases


def _question(case: Mapping[str, Any], sheet: Mapping[str, Any], values: Mapping[str, Sequence[str]],
              keys: Sequence[str], tolerance: str) -> tuple[str, str, str]:
    """(name, question text HTML, general feedback HTML) of one case."""
    seed, count, index, K = sheet["seed"], sheet["count"], case["index"], sheet.get("K", 2)
    name = f"ELBO exercise, seed {seed}" + (f", K = {K}" if K != 2 else "") + f", case {index} of {count}"
    givens = ",&nbsp;&nbsp; ".join(_math(f"{g['symbol']} = {g['value']}") for g in case["given"])
    rows = []
    for task, answer, key in zip(sheet["tasks"], case["answers"], keys):
        expected = ",\\ ".join(values[key])
        if str(answer["nats"]) != expected:  # the text and the answers come from one key
            raise MoodleError(f"case {index} ({key}): the handout shows {answer['nats']}, the key has {expected}")
        numbers = values[key]
        if len(numbers) == 1:
            field = cloze_numerical(numbers[0], tolerance)
        else:
            field = "&nbsp;&nbsp; ".join(f"{_math(math(Eq(z, Integer(k), evaluate=False)))}: "
                                         f"{cloze_numerical(v, tolerance)}" for k, v in enumerate(numbers))
        unit = " nats" if task["information"] else ""
        rows.append(f"<tr><td>({_text(task['letter'])})</td><td>{_math(task['symbol'])}</td>"
                    f"<td>{_text(task['name'])}</td><td>{field}{unit}</td></tr>")
    text = (f"<p>Exercise sheet with seed {seed}, case {index} of {count}. The latent variable has "
            f"{_states_text(K)}.</p>"
            f"<p>{givens}</p>"
            f"<p>Compute each quantity and give it to 4 decimal places (information quantities in nats; "
            f"answers within &plusmn;{tolerance} are accepted).</p>"
            f"<table>" + "".join(rows) + "</table>")
    feedback_rows = []
    for answer, key in zip(case["answers"], keys):
        exact = answer.get("exact")
        working = f"{answer['symbol']} = {answer['working']}"
        if exact is not None and exact != answer["working"] and not str(answer["working"]).endswith(f"= {exact}"):
            working += f" = {exact}"
        feedback_rows.append(f"<li>({_text(answer['letter'])}) {_math(working)} &asymp; "
                             f"{_text(', '.join(values[key]))}</li>")
    feedback = ("<p>Answer key (exact; decimals correctly rounded, information quantities in nats):</p><ul>"
                + "".join(feedback_rows) + f"</ul><p>Check: {_math(case['gap_is_kl'])} ({_text(case['verdict'])} "
                f"exactly for this case).</p>")
    return name, text, feedback


def moodle_quiz(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT, K: int = 2,
                parts: Sequence[str] | None = None, *, tolerance: str = TOLERANCE,
                category: str | None = None, context: Mapping[str, Any] | None = None) -> str:
    """The Moodle XML of the exercise sheet ``seed``/``count``/``K``/``parts`` (see the module
    docstring): the same cases and numbers as ``exercises.pdf`` with these settings.

    ``context`` replaces ``exercises_context(seed, count, K, parts)`` (tests use it).
    """
    sheet = context if context is not None else exercises_context(seed, count, K, parts)
    K = int(sheet.get("K", K))
    keys, values = _key_values(sheet["seed"], sheet["count"], K, parts)
    if len(values) != len(sheet["cases"]):
        raise MoodleError("the sheet and its key have different numbers of cases")
    if len(keys) != len(sheet["tasks"]):
        raise MoodleError("the sheet and its key ask different parts")
    category = category if category is not None else default_category(sheet["seed"], K, sheet.get("parts"))
    shown_k = f", K = {K}" if K != 2 else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f"<!-- elbo-sym exercises, seed {sheet['seed']}{shown_k}, {sheet['count']} cases: Moodle XML, "
           f"one cloze question per case -->",
           "<quiz>",
           '  <question type="category">',
           f"    <category><text>{cdata(category)}</text></category>",
           '    <info format="html"><text></text></info>',
           "  </question>"]
    for case, case_values in zip(sheet["cases"], values):
        name, text, feedback = _question(case, sheet, case_values, keys, tolerance)
        out += ['  <question type="cloze">',
                f"    <name><text>{cdata(_stored_name(name))}</text></name>",
                f'    <questiontext format="html"><text>{cdata(text)}</text></questiontext>',
                f'    <generalfeedback format="html"><text>{cdata(feedback)}</text></generalfeedback>',
                f"    <penalty>{PENALTY}</penalty>",
                "    <hidden>0</hidden>",
                f"    <idnumber>{_idnumber(int(sheet['seed']), K, int(case['index']), sheet.get('parts'))}</idnumber>",
                "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"


def write_moodle_quiz(path: str | os.PathLike[str], seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT,
                      K: int = 2, parts: Sequence[str] | None = None, *, tolerance: str = TOLERANCE) -> Path:
    """Write :func:`moodle_quiz` to ``path`` atomically (temp file in the same folder + rename), only where
    elbo-sym may replace a file (publish.outputs.write_owned: NotOursError for the user's own file)."""
    data = moodle_quiz(seed, count, K, parts, tolerance=tolerance).encode("utf-8")
    return write_owned(Path(path), lambda target: replace_file(target, data))


# --------------------------------------------------------------------------- decks


def _card_question(card: Any, deck: Any, title: str, shown: str) -> list[str]:
    """One card as an essay question named "``title``, ``shown`` N": its front asked, its back,
    formula and conditions as the feedback."""
    from elbo_sym.publish.anki import formula_html, prose_html, scope_html
    from elbo_sym.report.build import deck_scope

    answer = f"<p>{prose_html(card.back, deck.vocabulary)}</p>"
    formula = formula_html(card, scope_html(deck_scope(deck)))
    if formula:
        answer += f"<p>{formula}</p>"
    question = f"<p>{prose_html(card.front, deck.vocabulary)}</p>"
    return ['  <question type="essay">',
            f"    <name><text>{cdata(_stored_name(title, f', {shown} {card.index}'))}</text></name>",
            f'    <questiontext format="html"><text>{cdata(question)}</text></questiontext>',
            f'    <generalfeedback format="html"><text>{cdata(answer)}</text></generalfeedback>',
            "    <defaultgrade>1</defaultgrade>",
            "    <penalty>0</penalty>",
            "    <hidden>0</hidden>",
            f"    <idnumber>elbo-sym-{deck.kind}-{card.index}</idnumber>",
            "    <responseformat>editor</responseformat>",
            "    <responserequired>1</responserequired>",
            "    <responsefieldlines>5</responsefieldlines>",
            "    <attachments>0</attachments>",
            f'    <graderinfo format="html"><text>{cdata(answer)}</text></graderinfo>',
            '    <responsetemplate format="html"><text></text></responsetemplate>',
            "  </question>"]


def _deck_title(deck: Any) -> str:
    """A deck's title as plain text (as Anki's deck name): its category's and questions' names."""
    from elbo_sym.publish.anki import deck_name

    return deck_name(deck.title or Path(deck.path).stem, deck.vocabulary)


def require_distinct_categories(decks: Sequence[Any]) -> None:
    """Refuse (MoodleError: exit 2) two decks of one export whose categories coincide -- equal titles,
    or titles equal up to Moodle's cut at 255 characters, or up to case: their questions would share
    a category and id numbers (``elbo-sym-{kind}-{index}``), and Moodle's import silently strips a
    question's id number when its category already holds it (question/format.php: "We cannot have
    duplicate idnumbers in a category. Just remove it."; red team rt8)."""
    first: dict[str, Any] = {}
    for deck in decks:
        key = _category_key(_category_path(_deck_title(deck)))
        if key in first:
            raise MoodleError(f"{deck.path}: the same Moodle category as {first[key].path} (deck title "
                              f"{_deck_title(deck)!r}); give the decks different titles")
        first[key] = deck


def _category_key(path: str) -> str:
    """What a Moodle database may take for one category name: Moodle finds a category by name
    (question/format.php ``create_category_path``), and MySQL's usual collations (utf8mb4_unicode_ci,
    _0900_ai_ci) ignore case *and* accents, fold compatibility forms (fullwidth letters) and may
    ignore zero-width characters (red team rt10: "Résumé" and "Resume" shared a category): compare
    decomposed, without combining marks and format characters, case-folded."""
    decomposed = unicodedata.normalize("NFKD", path)
    return "".join(c for c in decomposed if not unicodedata.combining(c)
                   and unicodedata.category(c) != "Cf").casefold()


def cards_quiz(results: Sequence[Any]) -> str:
    """The Moodle XML of checked decks (elbo_sym.lesson.practice.DeckResult, see the module
    docstring); a deck with a card that is not proved is refused (HandoutError), as by the handouts."""
    from elbo_sym.publish.handouts import require_printable

    require_distinct_categories([result.deck for result in results])
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f"<!-- elbo-sym cards: Moodle XML, {len(results)} deck(s), one essay question per card -->", "<quiz>"]
    for result in results:
        require_printable(result)
        deck = result.deck
        title = _deck_title(deck)
        out += ['  <question type="category">',
                f"    <category><text>{cdata(_category_path(title))}</text></category>",
                '    <info format="html"><text></text></info>',
                "  </question>"]
        shown = "question" if deck.kind == "selfcheck" else "card"
        for card in deck.cards:
            out += _card_question(card, deck, title, shown)
    out.append("</quiz>")
    return "\n".join(out) + "\n"


def write_cards_quiz(path: str | os.PathLike[str], results: Sequence[Any]) -> Path:
    """Write :func:`cards_quiz` to ``path`` atomically (temp file in the same folder + rename), only where
    elbo-sym may replace a file (publish.outputs.write_owned)."""
    data = cards_quiz(results).encode("utf-8")
    return write_owned(Path(path), lambda target: replace_file(target, data))

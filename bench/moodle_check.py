"""Check every kind of Moodle quiz elbo-sym writes with Moodle's own import code (dev-time).

    python bench/moodle_check.py MOODLE_DIR [--php PHP] [--keep DIR]

MOODLE_DIR is a Moodle checkout, or a folder holding just the five files that
``bench/moodle_import.php`` names (Moodle's XML importer, its base class, ``xmlize``, the cloze
parser and the numerical answer processor). The quizzes:

* the lesson's quiz (``exercises --moodle``: the default seed and count) and quizzes for other
  seeds, latent sizes K and parts;
* roster quizzes: the quiz of several students' seeds (``roster.student_seed``) of two courses;
* ``cards --moodle`` of the lesson's decks (a card with a premise, formulas, conditions);
* ``cards --moodle`` of hostile decks: titles and card texts with ``&``, slashes, braces,
  backslashes, ``\\(``, ``\\$\\$``, ``]]``, ``{#1}``, non-ASCII, and a title of 100 ``&``.

Each is written as elbo-sym writes it, imported by Moodle's ``qformat_xml::readquestions``
(through ``xmlize`` and, for cloze, ``qtype_multianswer_extract_question`` and
``qtype_multianswer_validate_question``), and what Moodle parsed is compared, field by field,
with what we meant:

* a question's and a category's name: what Moodle shows (its stored text is HTML, tags
  stripped) must read as the plain name we meant;
* question text, general feedback, grader information: the HTML we wrote, byte for byte (the
  cloze text with each sub-question replaced by Moodle's ``{#n}``);
* every cloze sub-question: NUMERICAL, weight 1, one answer worth 100 %, the exact key's
  decimal -- recomputed from the drawn fractions as tests/test_moodle.py does -- and the
  tolerance;
* essay settings, penalty, id number, text formats; no import error;
* MathJax in Moodle: author text is marked with a class MathJax 3 and 4 ignore (Moodle's
  filter loads MathJax 4 by default), and no ``{...}`` holds a tag that Moodle's MathJax
  filter would turn into text (filter_mathjaxloader's escape_html_tag_wrapper).

It prints one line per quiz and the differences, and exits 1 when anything differs. Not part
of ``make test``: it needs php-cli (``apt-get install php-cli php-xml php-mbstring``) and the
Moodle files, which are never committed (docs/03-publishing.md, "Moodle quiz").
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DRIVER = REPO / "bench" / "moodle_import.php"
sys.path.insert(0, str(REPO / "tests"))

FORMAT_HTML = 1
SUBQUESTION = re.compile(r"\{1:NUMERICAL:[^{}]*\}")
IGNORED_BY_MATHJAX = "mathjax_ignore"
AUTHOR_TEXT = "tex2jax_ignore"
HOSTILE_TITLES = ["A/B & C", "/lead and trail/", "x//y & & z", r"money \$\$ and \(x\) {b}",
                  "x $KL(q(z), p(z))$ &amp; caf\u00e9 \u03a9", " ".join(["&"] * 100),
                  r"Deck \$\$\href{javascript:alert(1)}{click}\$\$ and \(\unicode{x}\) @@PLUGINFILE@@"]
HOSTILE_TEXTS = [r"\(x\) and \[y\] and \$\$5", "a & & b {c} ]] {#1} back\\slash",
                 "set {a, $q(z)$ } and {1:NUMERICAL:\\}", "&amp; &copy; &#36;&#36; &#92;(x&#92;)"]


@dataclass
class Tally:
    """What was compared and what differed, per kind of quiz."""

    compared: Counter = field(default_factory=Counter)
    differences: list[str] = field(default_factory=list)

    def same(self, where: str, what: str, ours: object, moodles: object) -> None:
        self.compared[what] += 1
        if ours != moodles:
            self.differences.append(f"{where}: {what}: we meant {ours!r}, Moodle parsed {moodles!r}")


def moodle_import(php: str, moodle_dir: Path, quiz: Path) -> dict:
    """What Moodle's import code makes of `quiz` (bench/moodle_import.php's JSON)."""
    done = subprocess.run([php, str(DRIVER), str(moodle_dir), str(quiz)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"moodle_import.php failed on {quiz}:\n{done.stderr}")
    return json.loads(done.stdout)


def shown(text: str) -> str:
    """A name as Moodle shows it: its stored text is HTML (format_string)."""
    return html.unescape(text)


def check_name(tally: Tally, where: str, what: str, title: str, suffix: str, parsed: str) -> None:
    """Moodle's name reads as ``title + suffix``, or -- when that is over Moodle's limit -- as
    ``title`` cut with an ellipsis (our cut: Moodle's own would drop the suffix), within the limit."""
    from elbo_sym.limits import MOODLE_NAME_CHARS

    meant = title + suffix
    if len(re.sub(r"[{}$\\]", lambda sign: f"&#{ord(sign[0])};", html.escape(meant, quote=False))) > MOODLE_NAME_CHARS:
        head = shown(parsed).removesuffix(suffix)
        if head.endswith("\u2026") and title.startswith(head[:-1]):
            meant = head + suffix
    tally.same(where, what, meant, shown(parsed))
    tally.same(where, f"{what} within Moodle's limit", True, len(parsed) <= MOODLE_NAME_CHARS)
    # Moodle's TeX and MathJax filters run on names ("filter all strings"): no TeX sign may reach them raw
    tally.same(where, f"{what} without a raw TeX sign", None, re.search(r"[{}$\\]", parsed))


def written(quiz: str) -> list[ET.Element]:
    return list(ET.fromstring(quiz.encode("utf-8")))


class _Classes(HTMLParser):
    """Text of an HTML fragment with the classes of the elements around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[set[str]] = []
        self.author_text_not_ignored: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("br", "hr", "img", "input"):
            self.stack.append(set((dict(attrs).get("class") or "").split()))

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        classes = set().union(*self.stack) if self.stack else set()
        if AUTHOR_TEXT in classes and IGNORED_BY_MATHJAX not in classes:
            self.author_text_not_ignored.append(data)


def mathjax_problems(fragment: str) -> list[str]:
    """What Moodle's MathJax would do to `fragment` that we did not mean (see the module docstring)."""
    problems = [f"the MathJax filter turns the tags in {m.group(0)!r} into text"
                for m in re.finditer(r"\{([^}]+)\}", fragment) if "<" in m.group(1) or ">" in m.group(1)]
    parser = _Classes()
    parser.feed(fragment)
    problems += [f"author text {text!r} is not ignored by MathJax 3/4" for text in parser.author_text_not_ignored
                 if re.search(r"\\[(\[]|\$\$", text)]
    return problems


def check_html(tally: Tally, where: str, what: str, ours: str, moodles: dict | str | None, fmt: int | None) -> None:
    tally.same(where, what, ours, moodles)
    tally.same(where, f"{what} format", FORMAT_HTML, fmt)
    tally.compared[f"{what}: MathJax"] += 1
    tally.differences += [f"{where}: {what}: {problem}" for problem in mathjax_problems(ours)]


# --------------------------------------------------------------------------- exercise quizzes


def placeholders(text: str) -> str:
    """`text` with its n-th sub-question written ``{#n}``, as Moodle keeps a cloze question's text."""
    first, *rest = SUBQUESTION.split(text)
    return first + "".join(f"{{#{n}}}{part}" for n, part in enumerate(rest, start=1))


def check_exercises(tally: Tally, label: str, quiz: str, parsed: dict, seed: int, count: int, K: int,
                    parts: Sequence[str] | None) -> None:
    from test_moodle import independent_key

    from elbo_sym.lesson.exercises import TASKS, generate_exercises
    from elbo_sym.publish.moodle import PENALTY, TOLERANCE

    sheet = generate_exercises(seed, count, K, parts)
    asked = [t.key for t in TASKS if parts is None or t.key in parts]
    ours = written(quiz)
    questions = parsed["questions"]
    tally.same(label, "questions", len(ours), len(questions))
    shown_k = f", K = {K}" if K != 2 else ""
    category = questions[0].get("names", [])
    tally.same(label, "category path", ["$course$", "top"], category[:2])
    shown_parts = f", parts {', '.join(asked)}" if len(asked) < len(TASKS) else ""
    check_name(tally, label, "category", f"ELBO exercises, seed {seed}{shown_k}{shown_parts}", "",
               "/".join(category[2:]))
    for xml_question, question, exercise in zip(ours[1:], questions[1:], sheet):
        where = f"{label}, case {exercise.index}"
        tally.same(where, "type", "multianswer", question["qtype"])
        check_name(tally, where, "name", f"ELBO exercise, seed {seed}{shown_k}, case {exercise.index} of {count}", "",
                   question["name"])
        text = xml_question.findtext("questiontext/text") or ""
        check_html(tally, where, "question text", placeholders(text), question["questiontext"],
                   question["questiontextformat"])
        check_html(tally, where, "general feedback", xml_question.findtext("generalfeedback/text") or "",
                   question["generalfeedback"], question["generalfeedbackformat"])
        tally.same(where, "penalty", float(PENALTY), question["penalty"])
        tally.same(where, "id number", xml_question.findtext("idnumber"), question["idnumber"])
        keys = [(key, value) for key, value in independent_key(exercise.prior, exercise.likelihood, exercise.q)
                if key in asked]
        subquestions = question.get("subquestions", [])
        tally.same(where, "sub-questions", len(keys), len(subquestions))
        tally.same(where, "mark", len(keys), question["defaultmark"])
        for (key, value), sub in zip(keys, subquestions):
            tally.same(f"{where} ({key})", "sub-question", {
                "qtype": "numerical", "defaultmark": "1", "answer": [value.decimal(6)], "fraction": ["1"],
                "tolerance": [TOLERANCE], "valid": [True]}, {k: sub[k] for k in (
                    "qtype", "defaultmark", "answer", "fraction", "tolerance", "valid")})


# --------------------------------------------------------------------------- decks


def check_decks(tally: Tally, label: str, quiz: str, parsed: dict, decks: Sequence) -> None:
    from elbo_sym.publish.anki import deck_name

    ours = written(quiz)
    questions = parsed["questions"]
    tally.same(label, "questions", len(ours), len(questions))
    expected: list[tuple[str, str, str]] = []
    for deck in decks:
        title = deck_name(deck.title or Path(deck.path).stem, deck.vocabulary)
        shown_kind = "question" if deck.kind == "selfcheck" else "card"
        expected.append(("category", title, ""))
        expected += [("essay", title, f", {shown_kind} {card.index}") for card in deck.cards]
    for (kind, title, suffix), xml_question, question in zip(expected, ours, questions):
        where = f"{label}: {title[:40]}{suffix}"
        tally.same(where, "type", kind, question["qtype"])
        if kind == "category":
            names = question.get("names", [])
            tally.same(where, "category path", ["$course$", "top"], names[:2])
            check_name(tally, where, "category", title, "", "/".join(names[2:]))
            continue
        check_name(tally, where, "name", title, suffix, question["name"])
        for what, tag in (("question text", "questiontext"), ("general feedback", "generalfeedback")):
            check_html(tally, where, what, xml_question.findtext(f"{tag}/text") or "", question[tag],
                       question[f"{tag}format"])
        grader = question.get("graderinfo") or {}
        check_html(tally, where, "grader information", xml_question.findtext("graderinfo/text") or "",
                   grader.get("text"), grader.get("format"))
        tally.same(where, "essay settings",
                   {"responseformat": "editor", "responserequired": "1", "responsefieldlines": "5", "attachments": "0",
                    "responsetemplate": {"text": "", "format": FORMAT_HTML}, "defaultmark": "1", "penalty": "0",
                    "idnumber": xml_question.findtext("idnumber")},
                   {k: question.get(k) for k in ("responseformat", "responserequired", "responsefieldlines",
                                                 "attachments", "responsetemplate", "defaultmark", "penalty",
                                                 "idnumber")})


def hostile_decks(folder: Path) -> list[Path]:
    """Decks whose titles and texts hold what Moodle's parsing treats specially (module docstring)."""
    paths = []
    for number, title in enumerate(HOSTILE_TITLES):
        cards = "".join(f"[[card]]\nfront = '''{text}'''\nback = '''{text} $KL(q(z), p(z))$'''\n"
                        f"formula = \"log(p(x)) > ELBO(q)\"\n\n" for text in HOSTILE_TEXTS)
        path = folder / f"hostile-{number}.toml"
        path.write_text(f"title = '''{title}'''\nassume = \"q(z) != p(z | x)\"\n\n{cards}", encoding="utf-8")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- the run


def run(php: str, moodle_dir: Path, folder: Path) -> int:
    from elbo_sym.cli import main
    from elbo_sym.lesson.practice import load_deck, load_flashcards, load_selfcheck
    from elbo_sym.publish.handouts import DEFAULT_COUNT, DEFAULT_SEED
    from elbo_sym.publish.moodle import moodle_quiz
    from elbo_sym.publish.roster import student_seed

    exercises = [("the lesson's quiz", DEFAULT_SEED, DEFAULT_COUNT, 2, None), ("seed 7", 7, 12, 2, None),
                 ("seed 0", 0, 1, 2, None), ("K = 3", 2026, 4, 3, None),
                 ("K = 4, two parts", 11, 3, 4, ("posterior", "gap")),
                 ("K = 6, two parts", 5, 2, 6, ("evidence", "kl_prior"))]
    exercises += [(f"roster {course}/{student}", student_seed(course, student), DEFAULT_COUNT, 2, None)
                  for course in (DEFAULT_SEED, 7) for student in ("s001", "ada.lovelace", "Z-9_x")]
    runs: list[tuple[str, Path, Callable[[Tally, str, dict], None]]] = []
    for label, seed, count, K, parts in exercises:
        path = folder / f"exercises-{len(runs)}.xml"
        quiz = moodle_quiz(seed, count, K, parts)
        path.write_text(quiz, encoding="utf-8")
        runs.append((label, path, lambda tally, where, parsed, q=quiz, a=(seed, count, K, parts):
                     check_exercises(tally, where, q, parsed, *a)))
    deck_sets = [("cards --moodle (the lesson's decks)", [], [load_selfcheck(), load_flashcards()])]
    deck_sets += [(f"cards --moodle (hostile deck {n})", [str(p)], [load_deck(p)])
                  for n, p in enumerate(hostile_decks(folder))]
    for label, args, decks in deck_sets:
        path = folder / f"cards-{len(runs)}.xml"
        if main(["cards", *args, "--moodle", str(path)]) != 0:
            raise SystemExit(f"{label}: elbo-sym cards failed")
        quiz = path.read_text(encoding="utf-8")
        runs.append((label, path, lambda tally, where, parsed, q=quiz, d=decks:
                     check_decks(tally, where, q, parsed, d)))

    failed = 0
    for label, path, check in runs:
        tally = Tally()
        parsed = moodle_import(php, moodle_dir, path)
        tally.same(label, "import errors", (0, ""), (parsed["importerrors"], parsed["errors"]))
        check(tally, label, parsed)
        total = sum(tally.compared.values())
        print(f"{label}: {len(parsed['questions'])} question(s), {total} comparisons, "
              f"{total - len(tally.differences)} identical, {len(tally.differences)} different")
        for line in tally.differences[:20]:
            print(f"  {line}")
        failed += bool(tally.differences)
    print(f"{len(runs)} quizzes: {len(runs) - failed} parsed by Moodle as meant, {failed} with differences")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("moodle_dir", type=Path)
    parser.add_argument("--php", default="php")
    parser.add_argument("--keep", type=Path, default=None, help="write the quizzes here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.php, args.moodle_dir, args.keep)
    with tempfile.TemporaryDirectory() as folder:
        return run(args.php, args.moodle_dir, Path(folder))


if __name__ == "__main__":
    sys.exit(main())

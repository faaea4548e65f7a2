"""Moodle quiz export: the XML parses, follows Moodle's XML/cloze format, and every answer is the
exact key, recomputed here independently of the answer-key code (exact log-prime arithmetic
from elbo_sym.numbers.exact on the drawn fractions, and floats from math.log)."""

from __future__ import annotations

import html
import math
import random
import re
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest

from elbo_sym.cli import main
from elbo_sym.lesson.exercises import TASKS, generate_exercises
from elbo_sym.numbers.exact import LogNumber, log_of
from elbo_sym.publish.handouts import exercises_context
from elbo_sym.publish.moodle import (
    TOLERANCE,
    MoodleError,
    cdata,
    cloze_numerical,
    default_category,
    moodle_quiz,
    write_moodle_quiz,
)
from elbo_sym.publish.render import LatexMarkup

# Moodle's own cloze syntax, as question/type/multianswer/questiontype.php defines it (read in the
# search tool's index of moodle/moodle, file id 175412144: the version with the MULTIRESPONSE types
# and qtype_multianswer_validate_question), translated to Python's re: PCRE's lookbehind
# (?<!\\\\|&|&amp;) of three lengths is three lookbehinds here. bench/moodle_check.py runs the PHP.
ANSWER_TYPE_DEF = ("(NUMERICAL|NM)|(MULTICHOICE|MC)|(MULTICHOICE_V|MCV)|(MULTICHOICE_H|MCH)|"
                   "(SHORTANSWER|SA|MW)|(SHORTANSWER_C|SAC|MWC)|"
                   "(MULTICHOICE_S|MCS)|(MULTICHOICE_VS|MCVS)|(MULTICHOICE_HS|MCHS)|"
                   "(MULTIRESPONSE|MR)|(MULTIRESPONSE_H|MRH)|(MULTIRESPONSE_S|MRS)|(MULTIRESPONSE_HS|MRHS)")
ANSWER_START = re.compile(r"\{([0-9]*):(" + ANSWER_TYPE_DEF + "):")
ANSWER_ALTERNATIVE = (r"(=|%(-?[0-9]+(?:[.,][0-9]*)?)%)?"
                      r"(.+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$))"
                      r"(#(.*?(?<!\\)(?=[~}]|$)))?")
ANSWER = re.compile(ANSWER_START.pattern + "(" + ANSWER_ALTERNATIVE + "(~" + ANSWER_ALTERNATIVE + ")*)\\}", re.S)
ANSWER_NORM, ANSWER_TYPE_NUMERICAL, ANSWER_ALTERNATIVES = 1, 3, 16
NUMBER = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
NUMERICAL_ALTERNATIVE = re.compile(rf"^({NUMBER})(:{NUMBER})?$", re.S)
NUMERICAL_CORRECT_ANSWER, NUMERICAL_ABS_ERROR_MARGIN = 1, 6


def questions(xml: str) -> list[ET.Element]:
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "quiz"
    return list(root)


def cloze_questions(xml: str) -> list[ET.Element]:
    return [q for q in questions(xml) if q.get("type") == "cloze"]


def question_text(q: ET.Element) -> str:
    node = q.find("questiontext")
    assert node is not None and node.get("format") == "html"
    text = node.findtext("text")
    assert text
    return text


def moodle_subquestions(text: str) -> tuple[list[re.Match[str]], str]:
    """The sub-questions qtype_multianswer_extract_question finds in `text`, in order, and the text
    it keeps, with each replaced by {#n}: the first match of ANSWER, replaced, then again."""
    found = []
    while (match := ANSWER.search(text)) is not None:
        found.append(match)
        text = text.replace(match.group(0), f"{{#{len(found)}}}", 1)
    return found, text


def subanswers(text: str) -> list[tuple[float, float, str]]:
    """(answer, tolerance, answer text) of every sub-question, as Moodle's cloze parser reads them:
    each NUMERICAL, weight 1, one alternative that is correct (=) with an answer and a tolerance."""
    found, rest = moodle_subquestions(text)
    assert not ANSWER_START.search(rest), "a sub-question start that is not a complete sub-question"
    out = []
    for match in found:
        assert match.group(ANSWER_NORM) in ("", "1") and match.group(ANSWER_TYPE_NUMERICAL) == "NUMERICAL"
        alternative = match.group(ANSWER_ALTERNATIVES)
        assert alternative.startswith("=") and "~" not in alternative and "#" not in alternative, alternative
        number = NUMERICAL_ALTERNATIVE.match(alternative[1:])
        assert number, alternative
        value, tolerance = number.group(NUMERICAL_CORRECT_ANSWER), number.group(NUMERICAL_ABS_ERROR_MARGIN)
        out.append((float(value), float(tolerance), value))
    return out


def independent_key(prior, likelihood, q) -> list[tuple[str, LogNumber]]:
    """The sheet's quantities in task order, the posterior once per state, from the definitions."""
    evidence = sum((a * b for a, b in zip(prior, likelihood)), Fraction(0))
    posterior = [a * b / evidence for a, b in zip(prior, likelihood)]

    def total(terms) -> LogNumber:
        out = LogNumber.of(0)
        for t in terms:
            out = out + t
        return out

    elbo = total(log_of(a * b / w) * w for a, b, w in zip(prior, likelihood, q))
    values = {
        "evidence": [LogNumber.of(evidence)],
        "posterior": [LogNumber.of(r) for r in posterior],
        "elbo": [elbo],
        "reconstruction": [total(log_of(b) * w for b, w in zip(likelihood, q))],
        "kl_prior": [total(log_of(w / a) * w for a, w in zip(prior, q))],
        "kl_posterior": [total(log_of(w / r) * w for r, w in zip(posterior, q))],
        "gap": [log_of(evidence) - elbo],
    }
    return [(task.key, v) for task in TASKS for v in values[task.key]]


def float_key(prior, likelihood, q) -> list[float]:
    """The same numbers in plain floating point (a third, independent computation)."""
    p, l, w = ([float(v) for v in vec] for vec in (prior, likelihood, q))
    e = sum(a * b for a, b in zip(p, l))
    post = [a * b / e for a, b in zip(p, l)]
    elbo = sum(c * math.log(a * b / c) for a, b, c in zip(p, l, w))
    return [e, *post, elbo, sum(c * math.log(b) for b, c in zip(l, w)),
            sum(c * math.log(c / a) for a, c in zip(p, w)), sum(c * math.log(c / r) for r, c in zip(post, w)),
            math.log(e) - elbo]


# ----------------------------------------------------------------- structure


@pytest.fixture(scope="module")
def quiz() -> str:
    return moodle_quiz(2026, 6)


@pytest.mark.full
def test_quiz_has_a_category_then_one_cloze_question_per_case(quiz):
    items = questions(quiz)
    assert items[0].get("type") == "category"
    assert items[0].findtext("category/text") == "$course$/top/ELBO exercises, seed 2026"
    cloze = items[1:]
    assert [q.get("type") for q in cloze] == ["cloze"] * 6
    for index, q in enumerate(cloze, start=1):
        assert q.findtext("name/text") == f"ELBO exercise, seed 2026, case {index} of 6"
        assert q.findtext("idnumber") == f"elbo-sym-2026-{index}"
        assert q.find("generalfeedback").get("format") == "html"
        assert q.findtext("generalfeedback/text")
        assert float(q.findtext("penalty")) == pytest.approx(1 / 3, abs=1e-6)
        assert q.findtext("hidden") == "0"
        assert question_text(q).count("{1:NUMERICAL:") == 8  # 7 tasks, the posterior once per state


@pytest.mark.full
def test_every_subquestion_is_valid_cloze_and_nothing_else_looks_like_one(quiz):
    for q in cloze_questions(quiz):
        text = question_text(q)
        answers = subanswers(text)
        assert len(answers) == 8
        assert all(tolerance == float(TOLERANCE) for _, tolerance, _ in answers)
        assert len(ANSWER_START.findall(text)) == 8  # the printer's braces never start a sub-question
        feedback = q.findtext("generalfeedback/text")
        assert not ANSWER_START.search(feedback)


@pytest.mark.full
def test_question_text_carries_the_printers_math_for_the_case(quiz):
    context = exercises_context(seed=2026, count=6)
    for q, case in zip(cloze_questions(quiz), context["cases"]):
        text = html.unescape(question_text(q))
        for given in case["given"]:
            assert f"\\({given['symbol']} = {given['value']}\\)" in text
        for task in context["tasks"]:
            assert f"\\({task['symbol']}\\)" in text
        feedback = html.unescape(q.findtext("generalfeedback/text"))
        for answer in case["answers"]:
            assert str(answer["working"]) in feedback
        assert text.count("\\(") == text.count("\\)")


@pytest.mark.full
@pytest.mark.parametrize(("seed", "count"), [(2026, 6), (7, 12), (0, 1)])
def test_every_answer_is_the_exact_key_recomputed_independently(seed, count):
    quiz = moodle_quiz(seed, count)
    sheet = generate_exercises(seed, count)
    cloze = cloze_questions(quiz)
    assert len(cloze) == sheet.count == count
    checked = 0
    for q, exercise in zip(cloze, sheet):
        answers = subanswers(question_text(q))
        exact = independent_key(exercise.prior, exercise.likelihood, exercise.q)
        floats = float_key(exercise.prior, exercise.likelihood, exercise.q)
        assert len(answers) == len(exact) == len(floats)
        for (value, tolerance, text), (key, true), approx in zip(answers, exact, floats):
            assert text == true.decimal(6), (seed, exercise.index, key)  # correctly rounded, digit for digit
            assert abs(value - true.to_float()) <= 5e-7 + 1e-12
            assert abs(value - approx) <= 5e-7 + 1e-9
            assert abs(value - true.to_float()) <= tolerance
            checked += 1
    assert checked == 8 * count


@pytest.mark.full
def test_output_is_deterministic_and_written_atomically(tmp_path, quiz):
    assert moodle_quiz(2026, 6) == quiz
    assert moodle_quiz(2027, 6) != quiz
    target = write_moodle_quiz(tmp_path / "quiz.xml", 2026, 6)
    assert target.read_bytes() == quiz.encode("utf-8")
    # no temporary file left; the quiz listed as elbo-sym's (publish.outputs.write_owned)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".elbo-sym-files.json", "quiz.xml"]


# ----------------------------------------------------------------- hostile values


HOSTILE = ["]]>", "a]]>b]]>c", "]]]]>", "]]]>>", "]]", "]>", "</text></questiontext><evil/>",
           "<![CDATA[x", "&amp; & < > \" '", "\\(]]>\\)", "]" * 7 + ">" * 3]


@pytest.mark.parametrize("text", HOSTILE)
def test_cdata_section_never_ends_early(text):
    parsed = ET.fromstring(f"<t>{cdata(text)}</t>")
    assert parsed.text == text
    assert list(parsed) == []


def test_cdata_round_trips_random_bracket_soup():
    rng = random.Random(11)
    for _ in range(2000):
        text = "".join(rng.choice("]]>[<!CDATA&x ") for _ in range(rng.randint(0, 24)))
        assert (ET.fromstring(f"<t>{cdata(text)}</t>").text or "") == text


def test_hostile_text_in_the_context_cannot_escape_its_cdata_section():
    context = exercises_context(seed=2026, count=2)
    evil = "]]></text></questiontext><evil/><![CDATA[ & <b>"
    case = context["cases"][0]
    case["given"][0] = {**case["given"][0], "symbol": LatexMarkup(evil)}
    context["tasks"][0] = {**context["tasks"][0], "name": evil}
    case["answers"][0] = {**case["answers"][0], "working": LatexMarkup(evil)}
    quiz = moodle_quiz(2026, 2, category=evil, context=context)
    outside = re.sub(r"<!\[CDATA\[.*?\]\]>", "", quiz, flags=re.S)  # a section ends at its first "]]>"
    assert "]]>" not in outside and "<![CDATA[" not in outside  # "]]>" only ever closes a section
    root = ET.fromstring(quiz.encode("utf-8"))
    assert list(root.iter("evil")) == []
    first = cloze_questions(quiz)[0]
    assert evil in html.unescape(question_text(first))
    assert evil in html.unescape(first.findtext("generalfeedback/text"))
    assert root[0].findtext("category/text") == evil
    assert len(subanswers(question_text(first))) == 8


def test_a_context_that_does_not_match_its_key_is_refused():
    context = exercises_context(seed=2026, count=2)
    context["seed"] = 2027  # the text would show one sheet and the answers another
    with pytest.raises(MoodleError, match="the handout shows"):
        moodle_quiz(context=context)


@pytest.mark.parametrize("bad", ["1e-3", "0.5}", "0.1~=2", "", "nan", "−0.5"])
def test_only_plain_decimals_become_answers(bad):
    with pytest.raises(MoodleError):
        cloze_numerical(bad)
    assert cloze_numerical("-1.256841") == "{1:NUMERICAL:=-1.256841:0.0005}"


# ----------------------------------------------------------------- the command


def test_cli_writes_the_quiz(tmp_path, capsys):
    target = tmp_path / "quiz.xml"
    assert main(["exercises", "--moodle", str(target), "--seed", "7", "--count", "3"]) == 0
    assert target.read_text("utf-8") == moodle_quiz(7, 3)
    assert "quiz.xml" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["--moodle", "{tmp}/missing/quiz.xml"],
    ["--moodle", "{tmp}"],
    ["--moodle", "{tmp}/quiz.xml", "--K", "7"],
    ["--moodle", "{tmp}/quiz.xml", "--solutions", "inline"],
    ["--moodle", "{tmp}/quiz.xml", "--json"],
])
def test_cli_refuses_bad_moodle_targets(tmp_path, capsys, args):
    argv = ["exercises", *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("elbo-sym: error: ") and err.count("\n") == 1
    assert not (tmp_path / "quiz.xml").exists()


# ----------------------------------------------------------------- any K, any parts


def test_quizzes_of_one_seed_asking_different_parts_share_no_category_and_no_id_number():
    """Moodle's import silently strips a question's id number when its category already holds it
    (question/format.php), so a second quiz of the same seed asking other parts must land apart, with ids of its own."""
    quizzes = [moodle_quiz(7, 3, 2, parts) for parts in (None, ("evidence", "gap"), ("gap", "evidence"),
                                                          ("posterior",))]
    categories = [questions(quiz)[0].findtext("category/text") for quiz in quizzes]
    ids = [[q.findtext("idnumber") for q in cloze_questions(quiz)] for quiz in quizzes]
    assert ids[0] == [f"elbo-sym-7-{i}" for i in range(1, 4)]  # the whole sheet keeps its old ids
    assert quizzes[1] == quizzes[2]  # the same parts in another order: the same quiz
    assert len({categories[0], categories[1], categories[3]}) == 3
    assert not set(ids[0]) & set(ids[1]) and not set(ids[1]) & set(ids[3]) and not set(ids[0]) & set(ids[3])


def test_a_longer_quiz_of_one_seed_shares_the_shorter_ones_category_and_first_questions():
    """The category is the seed's, K's and the parts' (default_category takes no count): case i is
    the same case whatever the count, so a 5-case quiz lands beside the 2-case one, its first two
    questions with the same id numbers, and a K = 3 quiz apart."""
    short, long = moodle_quiz(7, 2, 2), moodle_quiz(7, 5, 2)
    assert questions(short)[0].findtext("category/text") == questions(long)[0].findtext("category/text")
    assert questions(short)[0].findtext("category/text") == default_category(7)
    assert default_category(7, 3) != default_category(7) and default_category(7, 2, ("gap",)) != default_category(7)
    ids = [[q.findtext("idnumber") for q in cloze_questions(quiz)] for quiz in (short, long)]
    assert ids[0] == ids[1][:2] and len(set(ids[1])) == 5


@pytest.mark.parametrize(("seed", "count", "K", "parts"), [
    (2026, 4, 3, None), (11, 3, 4, ("posterior", "gap")), (5, 2, 6, ("evidence", "kl_prior"))])
def test_a_quiz_for_any_K_and_parts_asks_the_sheets_cases_with_the_exact_key(seed, count, K, parts):
    quiz = moodle_quiz(seed, count, K, parts)
    sheet = generate_exercises(seed, count, K, parts)
    asked = [t.key for t in TASKS if parts is None or t.key in parts]
    cloze = cloze_questions(quiz)
    assert len(cloze) == count
    shown_parts = "" if parts is None else ", parts " + ", ".join(asked)
    assert questions(quiz)[0].findtext("category/text").endswith(f"seed {seed}, K = {K}{shown_parts}")
    id_parts = "" if parts is None else "-" + "+".join(asked)
    for q, exercise in zip(cloze, sheet):
        assert exercise.K == K
        assert q.findtext("idnumber") == f"elbo-sym-{seed}-K{K}{id_parts}-{exercise.index}"
        text = question_text(q)
        assert f"has {K} states, " in html.unescape(text)
        given = [v for vec in (exercise.prior, exercise.likelihood, exercise.q) for v in vec]
        shown = re.findall(r"\\frac\{(\d+)\}\{(\d+)\}", text.split("</p>")[1])
        assert [Fraction(int(a), int(b)) for a, b in shown] == given  # the sheet's givens, in order
        exact = [(key, v) for key, v in independent_key(exercise.prior, exercise.likelihood, exercise.q)
                 if key in asked]
        answers = subanswers(text)
        assert len(answers) == len(exact) == sum(K if k == "posterior" else 1 for k in asked)
        for (value, tolerance, text_value), (key, true) in zip(answers, exact):
            assert text_value == true.decimal(6), (seed, exercise.index, key)
            assert abs(value - true.to_float()) <= tolerance


def test_cli_quiz_follows_the_K_and_parts_options(tmp_path):
    target = tmp_path / "quiz.xml"
    assert main(["exercises", "--moodle", str(target), "--seed", "7", "--count", "2", "--K", "3",
                 "--parts", "evidence,gap"]) == 0
    assert target.read_text("utf-8") == moodle_quiz(7, 2, 3, ("evidence", "gap"))


# --------------------------------------------------------------------------- decks (cards --moodle)


def _essays(xml: str) -> list[ET.Element]:
    return [q for q in questions(xml) if q.get("type") == "essay"]


def _html(q: ET.Element, field: str) -> str:
    node = q.find(field)
    assert node is not None and node.get("format") == "html"
    return node.findtext("text") or ""


def test_cards_quiz_of_the_lesson_has_each_cards_conditions_beside_its_formula(tmp_path, capsys):
    """`cards --moodle` writes the lesson's decks: a category per deck, an essay question per card;
    the feedback (and the grader's information) of the card under a premise holds its formula and,
    beside it, "if" and the premise, through the printer, HTML-escaped."""
    from elbo_sym.engine.notation import to_latex
    from elbo_sym.lesson.practice import load_flashcards, load_selfcheck

    target = tmp_path / "cards.xml"
    assert main(["cards", "--moodle", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    xml = target.read_text(encoding="utf-8")
    selfcheck, flashcards = load_selfcheck(), load_flashcards()
    categories = [q.findtext("category/text") for q in questions(xml) if q.get("type") == "category"]
    assert categories == [f"$course$/top/{selfcheck.title}", f"$course$/top/{flashcards.title}"]
    essays = _essays(xml)
    assert len(essays) == len(selfcheck.cards) + len(flashcards.cards)
    by_name = {q.findtext("name/text"): q for q in essays}
    (card,) = [c for c in flashcards.cards if any(r.rel != "=" for r in c.conditions)]
    q = by_name[f"{flashcards.title}, card {card.index}"]
    assert " ".join(card.front.split()) in _html(q, "questiontext")
    premise = card.conditions[0]
    condition = html.escape(f"{to_latex(premise.lhs.expr)} \\neq {to_latex(premise.rhs.expr)}", quote=False)
    formula = html.escape(card.formula.latex, quote=False)
    expected = f"<p>\\({formula}\\) &nbsp; if \\({condition}\\)</p>"
    assert expected in _html(q, "generalfeedback") and expected in _html(q, "graderinfo")
    assert sum(" if \\(" in _html(q, "generalfeedback") for q in essays) == sum(
        bool(c.conditions) for c in (*selfcheck.cards, *flashcards.cards))


def test_cards_quiz_refuses_a_card_that_needs_an_unstated_premise(tmp_path, capsys):
    deck = tmp_path / "deck.toml"
    deck.write_text('title = "t"\n[[card]]\nfront = "f"\nback = "b"\nformula = "log(p(x)) > ELBO(q)"\n',
                    encoding="utf-8")
    target = tmp_path / "cards.xml"
    assert main(["cards", str(deck), "--moodle", str(target)]) == 1
    assert "no quiz written" in capsys.readouterr().err and not target.exists()
    deck.write_text(deck.read_text(encoding="utf-8").replace('title = "t"', 'title = "A/B & C"\n'
                                                            'assume = "q(z) != p(z | x)"'), encoding="utf-8")
    assert main(["cards", str(deck), "--moodle", str(target)]) == 0
    xml = target.read_text(encoding="utf-8")
    assert moodle_category(questions(xml)[0].findtext("category/text")) == ["$course$", "top", "A/B & C"]
    (essay,) = _essays(xml)
    assert "if \\(q(z) \\neq p(z \\mid x)\\)" in _html(essay, "generalfeedback")


# --------------------------------------------------------------------------- as Moodle reads it
# Ports of what Moodle's own import code does with a name, a category path and a text field
# (bench/moodle_check.py runs the PHP itself; docs/03-publishing.md names the files read):
#   lib/xmlize.php, core_xml_parser: a SAX parser fed 4096-byte chunks whose character-data
#     handler drops every piece that is only white space (PHP's trim set) unless it is "0";
#   question/format.php: clean_question_name and split_category_path, clean_param(PARAM_TEXT)
#     strips tags; a name is HTML to Moodle (format_string shows it with entities decoded);
#   filter/mathjaxloader/classes/text_filter.php: escape_html_tag_wrapper turns < and > inside
#     any {...} into text; its default MathJax (4.0.0) ignores elements of class mathjax_ignore.

PHP_WHITE_SPACE = " \t\n\r\0\x0b"


def moodle_texts(xml: str) -> list[str]:
    """Every <text> element's content in document order, as core_xml_parser reads it."""
    from xml.parsers import expat

    texts: list[str] = []
    open_elements: list[list[str]] = []
    parser = expat.ParserCreate("UTF-8")

    def end(name: str) -> None:
        pieces = open_elements.pop()
        if name == "text":
            texts.append("".join(pieces))

    def data(piece: str) -> None:
        if piece == "0" or piece.strip(PHP_WHITE_SPACE):
            open_elements[-1].append(piece)

    parser.StartElementHandler = lambda name, attrs: open_elements.append([])
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    raw = xml.strip().encode("utf-8")
    for start in range(0, len(raw), 4096):
        parser.Parse(raw[start:start + 4096], False)
    parser.Parse(b"", True)
    return texts


def written_texts(xml: str) -> list[str]:
    return [node.text or "" for node in ET.fromstring(xml.encode("utf-8")).iter("text")]


def strip_tags(text: str) -> str:
    return re.sub(r"<[^\s<>][^<>]*>", "", text)


def moodle_name(stored: str) -> str:
    """A question's name as Moodle shows it: clean_question_name (tags stripped, trimmed), then HTML."""
    return html.unescape(strip_tags(stored).strip(PHP_WHITE_SPACE))


def moodle_category(path: str) -> list[str]:
    """split_category_path: split at a / that is not part of //, // as /, trimmed, tags stripped,
    shown as HTML (the context and "top" are names too)."""
    return [html.unescape(strip_tags(name.replace("//", "/").strip(PHP_WHITE_SPACE)))
            for name in re.split(r"(?<!/)/(?!/)", path)]


HOSTILE_TITLES = ["A/B & C", "/lead and trail/", "x//y & & z", r"money \$\$ and {b}",
                  "x $KL(q(z), p(z))$ &amp; caf\u00e9"]


def _deck_quiz(tmp_path, title: str, fronts: list[str]) -> str:
    deck = tmp_path / "deck.toml"
    cards = "".join(f"[[card]]\nfront = '''{front}'''\nback = '''{front} $KL(q(z), p(z))$'''\n"
                    f'formula = "log(p(x)) > ELBO(q)"\n\n' for front in fronts)
    deck.write_text(f"title = '''{title}'''\nassume = \"q(z) != p(z | x)\"\n\n{cards}", encoding="utf-8")
    target = tmp_path / "cards.xml"
    assert main(["cards", str(deck), "--moodle", str(target)]) == 0
    return target.read_text(encoding="utf-8")


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_moodle_reads_every_text_and_name_as_written(tmp_path, capsys, title):
    """Moodle's SAX reader drops a piece of text that is only white space: written as plain XML text,
    "A &amp; &amp; B" reached Moodle as "A && B". In CDATA sections every text arrives whole."""
    xml = _deck_quiz(tmp_path, title, ["a & & b", "c"])
    assert moodle_texts(xml) == written_texts(xml)
    quiz = moodle_quiz(7, 3, 3)
    assert moodle_texts(quiz) == written_texts(quiz)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_decks_category_and_names_read_in_moodle_as_its_title_in_plain_text(tmp_path, capsys, title):
    """A / at either end of a title broke the path into other categories ("top//lead and trail/");
    an "&amp;" showed as "&", "\\$" as "\\$" and a formula with its dollars."""
    from elbo_sym.lesson.practice import load_deck
    from elbo_sym.publish.anki import deck_name

    xml = _deck_quiz(tmp_path, title, ["f"])
    plain = deck_name(load_deck(tmp_path / "deck.toml").title)
    _, essay = questions(xml)
    assert moodle_category(moodle_texts(xml)[0]) == ["$course$", "top", plain]
    assert moodle_name(moodle_texts(xml)[2]) == f"{plain}, card 1" == moodle_name(essay.findtext("name/text"))
    assert "\\" not in plain and "$KL" not in plain


def test_a_name_over_moodles_limit_is_cut_by_us_keeping_which_card(tmp_path, capsys):
    """Moodle cuts a question name over 255 characters (its stored HTML: an & is 5) and its database
    refuses a longer category name; the title is cut, with an ellipsis, and ", card N" stays."""
    from elbo_sym.limits import MOODLE_NAME_CHARS

    title = " ".join(["&"] * 100)
    xml = _deck_quiz(tmp_path, title, ["f", "g"])
    category, first, second = questions(xml)
    for essay, index in ((first, 1), (second, 2)):
        stored = essay.findtext("name/text")
        assert len(stored) <= MOODLE_NAME_CHARS
        head = moodle_name(stored).removesuffix(f", card {index}")
        assert head.endswith("\u2026") and len(head) > 40 and title.startswith(head[:-1])
    assert len(moodle_category(category.findtext("category/text"))[2]) <= MOODLE_NAME_CHARS


AUTHOR_TEXT_SPAN = re.compile(r'<span class="([^"]*)">([^<]*)</span>')


def test_an_authors_tex_stays_text_under_moodles_mathjax(tmp_path, capsys):
    """Moodle's filter loads MathJax 4, which ignores class mathjax_ignore (tex2jax_ignore is MathJax
    2's): a typed \\(x\\) was typeset. Its escape_html_tag_wrapper turned the tags between an
    author's { and } into text. Prose braces, dollars and backslashes are character references."""
    fronts = [r"\(x\) and \[y\] and \$\$5", "set {a, $q(z)$ } and {b}", r"back\slash {#1}"]
    xml = _deck_quiz(tmp_path, "t", fronts)
    essays = _essays(xml)
    assert len(essays) == len(fronts)
    for essay, front in zip(essays, fronts):
        for field in ("questiontext", "generalfeedback", "graderinfo"):
            fragment = _html(essay, field)
            assert not [m.group(0) for m in re.finditer(r"\{([^}]+)\}", fragment) if re.search("[<>]", m.group(1))]
            spans = AUTHOR_TEXT_SPAN.findall(fragment)
            assert spans and all(set(classes.split()) == {"tex2jax_ignore", "mathjax_ignore"} for classes, _ in spans)
            assert not any(re.search(r"[{}$\\]", text) for _, text in spans)
            words = re.sub(r"\$[^$]*\$", " ", front.replace("\\$", "&#36;")).replace("&#36;", "$").split()
            assert " ".join(words) in " ".join(html.unescape(" ".join(text for _, text in spans)).split())
        assert ANSWER_START.search(_html(essay, "questiontext")) is None

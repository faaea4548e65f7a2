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
from elbo_sym.publish.moodle import TOLERANCE, MoodleError, cdata, cloze_numerical, moodle_quiz, write_moodle_quiz
from elbo_sym.publish.render import LatexMarkup

# Moodle's own syntax (question/type/multianswer/questiontype.php): the start of any embedded
# sub-question, and the number syntax of a NUMERICAL one.
ANSWER_START = re.compile(r"\{([0-9]*):(NUMERICAL|NM|MULTICHOICE\w*|MC\w*|MR\w*|SHORTANSWER\w*|SA\w*|MW\w*):")
NUMBER = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
NUMERICAL_ALTERNATIVE = re.compile(rf"^({NUMBER})(:{NUMBER})?$")
SUBQUESTION = re.compile(r"\{([0-9]*):NUMERICAL:=([^{}~#]*)\}")


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


def subanswers(text: str) -> list[tuple[float, float, str]]:
    """(answer, tolerance, answer text) of every sub-question, checked against Moodle's regexes."""
    starts = ANSWER_START.findall(text)
    found = SUBQUESTION.findall(text)
    assert len(starts) == len(found), "a sub-question start that is not a complete NUMERICAL sub-question"
    out = []
    for weight, alternative in found:
        assert weight in ("", "1")
        match = NUMERICAL_ALTERNATIVE.match(alternative)
        assert match, alternative
        value, tolerance = alternative.split(":")
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


def test_every_subquestion_is_valid_cloze_and_nothing_else_looks_like_one(quiz):
    for q in cloze_questions(quiz):
        text = question_text(q)
        answers = subanswers(text)
        assert len(answers) == 8
        assert all(tolerance == float(TOLERANCE) for _, tolerance, _ in answers)
        assert len(ANSWER_START.findall(text)) == 8  # the printer's braces never start a sub-question
        feedback = q.findtext("generalfeedback/text")
        assert not ANSWER_START.search(feedback)


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


def test_output_is_deterministic_and_written_atomically(tmp_path, quiz):
    assert moodle_quiz(2026, 6) == quiz
    assert moodle_quiz(2027, 6) != quiz
    target = write_moodle_quiz(tmp_path / "quiz.xml", 2026, 6)
    assert target.read_bytes() == quiz.encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["quiz.xml"]


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
    assert quiz.count("]]>") == quiz.count("<![CDATA[")  # "]]>" only ever closes a section
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


@pytest.mark.parametrize(("seed", "count", "K", "parts"), [
    (2026, 4, 3, None), (11, 3, 4, ("posterior", "gap")), (5, 2, 6, ("evidence", "kl_prior"))])
def test_a_quiz_for_any_K_and_parts_asks_the_sheets_cases_with_the_exact_key(seed, count, K, parts):
    quiz = moodle_quiz(seed, count, K, parts)
    sheet = generate_exercises(seed, count, K, parts)
    asked = [t.key for t in TASKS if parts is None or t.key in parts]
    cloze = cloze_questions(quiz)
    assert len(cloze) == count
    assert questions(quiz)[0].findtext("category/text").endswith(f"seed {seed}, K = {K}")
    for q, exercise in zip(cloze, sheet):
        assert exercise.K == K
        assert q.findtext("idnumber") == f"elbo-sym-{seed}-K{K}-{exercise.index}"
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
    assert [q.findtext("category/text") for q in questions(xml)][0] == "$course$/top/A//B & C"
    (essay,) = _essays(xml)
    assert "if \\(q(z) \\neq p(z \\mid x)\\)" in _html(essay, "generalfeedback")

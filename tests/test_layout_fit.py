"""Nothing runs off the page silently (red team rt4's layout findings).

Each case that ran off the page on main is built here and read back: the layout check
(render.overfull_boxes: overfull hboxes, overfull vboxes, what a template measured itself) must
see what does not fit, and the templates must make the documented extremes fit -- the teacher key
at K = 6, the worked example at K = 20, a long flashcard, the figure's labels for q1 near 0 or 1,
a long roster name, a reproduce command that copies and pastes.
"""

from __future__ import annotations

import shlex
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.engine.models.base import Instance
from elbo_sym.limits import MAX_CARD_TEXT_CHARS, MAX_EXAMPLE_K, MAX_EXERCISE_K, PRINTED_COMMAND_LINE_CHARS
from elbo_sym.publish import commands, roster
from elbo_sym.publish.handouts import elbo_curve, flashcards_handouts, worked_example_handout, write_handouts
from elbo_sym.publish.project import Settings
from elbo_sym.publish.render import OverfullBox, overfull_boxes

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------- the layout check, without TeX

LOG = """\
Overfull \\vbox (142.95181pt too high) has occurred while \\output is active []
Overfull \\vbox (3.5pt too high) detected at line 4
Overfull \\hbox (6.2pt too wide) has occurred while \\output is active
elbo-sym layout: the front of card 3 is 196.40001pt too high
elbo-sym layout: something else is 1pt too wide now
"""
SOURCE = "a\n\\subsection*{All quantities}\nb\nc\n"


def _as_a_shell_reads_it(text: str) -> list[str]:
    """The words of a pasted command: a backslash before a newline continues the line (POSIX sh)."""
    return shlex.split(text.replace("\\\n", ""))


def test_pages_boxes_and_template_measurements_are_layout_problems() -> None:
    boxes = overfull_boxes(LOG, SOURCE)
    assert [(b.what, b.points, b.direction, b.line) for b in boxes] == [
        ("a page's content", 142.95181, "high", 0), ("a box", 3.5, "high", 4), ("a line", 6.2, "wide", 0),
        ("the front of card 3", 196.40001, "high", 0)]
    assert boxes[0].describe() == "a page's content is 143.0pt too high (where TeX breaks the page)"
    assert boxes[1].describe() == "a box is 3.5pt too high at line 4 (section 'All quantities')"
    assert boxes[3].describe() == "the front of card 3 is 196.4pt too high (measured by the template)"


def test_the_reproduce_command_breaks_only_between_arguments_and_pastes_as_one_command() -> None:
    words = roster.reproduce_arguments(2, MAX_EXERCISE_K, None)
    lines = roster._command_lines(words)
    assert len(lines) > 1, "the longest command needs more than one line"
    assert all(len(line) <= PRINTED_COMMAND_LINE_CHARS for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1]) and not lines[-1].endswith("\\")
    assert _as_a_shell_reads_it("\n".join(lines)) == ["elbo-sym", *words]  # what runs when it is pasted
    for option in ("--seed", "--count", "--K", "--parts", "--solutions"):  # an option with its value
        line = next(line for line in lines if option in line.split())
        assert line.split()[line.split().index(option) + 1][:1] not in ("", "\\", "-")
    latex = roster._command_latex(words)
    assert latex.count(r"\mbox{") == len(lines) and " " not in latex.replace("\\\\\n", "")


def test_a_bracketed_sum_breaks_between_its_own_terms() -> None:
    """A top-level term that is one bracketed sum is given whole and term by term, so that the
    template may break inside it when it is wider than a line (and so is a product of brackets, between
    its factors: tests/test_rt41_layout.py has a sum after a factor); any other term stays whole."""
    from elbo_sym.engine.notation import bracketed_terms
    from elbo_sym.publish.handouts import breakable

    assert breakable(r"\log a - \left(b + \frac{1}{2} c - d\right)") == (
        r"\chainterm{}{\log a}\chainbracket{-}{\left(b + \frac{1}{2} c - d\right)}"
        r"{\chainterm{}{b}\chainterm{+}{\frac{1}{2} c}\chainterm{-}{d}}")
    # a product of brackets is whole when it fits a line, else broken between its factors (D = 14's 13),
    # and a factor wider than a line inside its bracket (rt44 F4: tests/test_rt44_factor_breaks.py)
    assert breakable(r"a - \left(b + c\right) \left(d + e\right)") == (
        r"\chainterm{}{a}\chainproduct{-}{\left(b + c\right) \left(d + e\right)}"
        r"{\chainbracket{-}{\left(b + c\right)}{\chainterm{}{b}\chainterm{+}{c}}"
        r"\chainfactorbracketed{ }{\left(d + e\right)}{}{\right)}{\chainterm{}{d}\chainterm{+}{e}}}")
    assert breakable(r"a - 2 \left(b + c\right) \left(d + e\right)").count(r"\chainterm") == 2  # not brackets only
    assert bracketed_terms(r"\left(\left(a + b\right)\right)") is None  # one term inside
    assert bracketed_terms(r"\left(a\right) + \left(b\right)") is None


def test_exercises_roster_warns_about_overfull_boxes_and_passes_strict_layout_on(tmp_path: Path, monkeypatch) -> None:
    box = OverfullBox(2.5, 153, "Ada", "")
    result = roster.RosterResult((tmp_path / "ada.pdf",), tmp_path / "teacher-key.pdf",
                                 overfull=(("teacher-key.pdf", box),))
    strict: list[bool] = []

    def fake_build(*args, **kwargs) -> roster.RosterResult:
        strict.append(kwargs["strict_layout"])
        return result

    monkeypatch.setattr(roster, "build_roster", fake_build)
    monkeypatch.setattr(roster, "read_roster", lambda path: [roster.Student("ada", "Ada", 2)])
    settings = Settings(seed=1, count=1, K=6)
    monkeypatch.delenv("ELBO_SYM_STRICT_LAYOUT", raising=False)
    outcome = commands.exercise_files(settings, quiz=None, roster="s.csv", folder=tmp_path, out=str(tmp_path))
    assert outcome.ok
    assert (True, "warning: teacher-key.pdf: a line is 2.5pt too wide at line 153 (section 'Ada')") in outcome.lines
    monkeypatch.setenv("ELBO_SYM_STRICT_LAYOUT", "1")
    commands.exercise_files(settings, quiz=None, roster="s.csv", folder=tmp_path, out=str(tmp_path))
    assert strict == [False, True]  # build_roster decides, before anything is moved in


# ----------------------------------------------------------------- the extremes, built with TeX


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


def _built(handouts, out: Path):
    (report,) = write_handouts(handouts, out)
    assert report.ok, report.message
    return report


@pytest.mark.full
def test_the_teacher_key_at_the_largest_K_shows_every_column_and_long_names(tmp_path: Path) -> None:
    require_latex()
    students = [roster.Student("ada", "W" * 99, 2), roster.Student("c" * 60, "Short", 3)]
    result = roster.build_roster(students, tmp_path, seed=11, count=2, K=MAX_EXERCISE_K, jobs=1)
    assert result.overfull == (), [box.describe() for _, box in result.overfull]
    words = _text(result.key, "-bbox")
    # (g) in the legend and in each student's table: on main the last column was past the paper's edge
    assert words.count(">(g)<") == 1 + len(students)
    assert words.count(">" + "W" * 99 + "<") == 1 and words.count(">" + "c" * 60 + "<") == 1
    key = _text(result.key, "-layout")
    command = key[key.index("elbo-sym exercises"):].split("\n\n")[0]
    assert _as_a_shell_reads_it(command.replace("SEED", "7")) == \
        ["elbo-sym", *roster.reproduce_arguments(2, MAX_EXERCISE_K, None, seed=7)]


@pytest.mark.full
def test_a_roster_whose_layout_fails_replaces_no_sheet(tmp_path: Path, monkeypatch) -> None:
    """Content cut at the paper's edge (or, with strict layout, any overfull box) fails the roster before
    anything is moved in: the previous sheets and key stay, byte for byte (strict layout wrote them)."""
    require_latex()
    students = [roster.Student("ada", "Ada", 2)]
    first = roster.build_roster(students, tmp_path, seed=11, count=1, K=2, jobs=1)
    before = [path.read_bytes() for path in (*first.sheets, first.key)]
    compile_tex = roster._compile
    extra: list[OverfullBox] = []

    def with_box(source: str, workdir: Path, name: str, timeout: float):
        data, boxes = compile_tex(source, workdir, name, timeout)
        return data, boxes + tuple(extra)

    monkeypatch.setattr(roster, "_compile", with_box)
    for points, strict, why in ((12.5, False, "content cut at the paper's edge"),
                                (1.0, True, "ELBO_SYM_STRICT_LAYOUT=1: the layout fails")):
        extra[:] = [OverfullBox(points, 40, "Ada", "")]
        with pytest.raises(roster.RosterError, match=why):
            roster.build_roster(students, tmp_path, seed=12, count=1, K=2, jobs=1, strict_layout=strict)
        assert [path.read_bytes() for path in (*first.sheets, first.key)] == before


@pytest.fixture(scope="module")
def largest_worked_example(tmp_path_factory):
    """The worked example at the largest K, built once (its report)."""
    require_latex()
    K = MAX_EXAMPLE_K
    q = tuple(Fraction((1, 2, 3)[i % 3], 39) for i in range(K - 2)) + (Fraction(1, 39), Fraction(2, 39))
    big = Instance.of("k20", prior=(Fraction(1, K),) * K,
                      likelihood=tuple(Fraction(1 + i % 9, 10) for i in range(K)), q=q)
    assert sum(big["q"]) == 1
    return _built([worked_example_handout(big)], tmp_path_factory.mktemp("k20"))


@pytest.mark.full
def test_the_worked_example_at_the_largest_K_breaks_across_pages(largest_worked_example) -> None:
    report = largest_worked_example
    assert report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    # the gap's working was in the source but on no page (past the foot of page 3)
    assert "log p(x) − L(q) = log" in _text(report.pdf)


# red team rt25's K = 20 example (every value n/10**6, within the limits): the table of all quantities
# ran 872pt past the page's foot (its "KL to posterior" and "gap" rows in the .tex, on no page) and the
# state-by-state table 47pt past the margin, exit 0; in a derivation file, the givens' line ran 241.7pt past
RT25_PRIOR = (193631, 5496, 274654, 574, 13915, 10604, 33637, 4265, 50188, 28954, 27865, 16697, 158687, 12330,
              11454, 53630, 1905, 9311, 61309, 30894)
RT25_LIKELIHOOD = (165145, 653398, 15730, 872103, 554048, 66234, 62444, 37385, 199448, 922291, 253696, 628746, 31544,
                   815906, 486471, 342144, 461931, 619666, 883349, 204810)
RT25_Q = (43915, 51160, 3621, 49987, 46535, 122922, 97264, 52883, 6713, 89862, 59499, 21104, 19807, 16377, 4039,
          41435, 47687, 74164, 84658, 66368)


def _millionths(values: tuple[int, ...]) -> tuple[Fraction, ...]:
    return tuple(Fraction(v, 10**6) for v in values)


@pytest.mark.full
def test_a_worked_example_with_long_numbers_at_the_largest_K_keeps_every_row(tmp_path: Path) -> None:
    require_latex()
    assert sum(RT25_PRIOR) == sum(RT25_Q) == 10**6 and len(RT25_PRIOR) == MAX_EXAMPLE_K
    big = Instance.of("rt25", prior=_millionths(RT25_PRIOR), likelihood=_millionths(RT25_LIKELIHOOD),
                      q=_millionths(RT25_Q))
    report = _built([worked_example_handout(big)], tmp_path)
    assert report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    rows = [line.split(" ")[0:3] for line in _text(report.pdf).splitlines()]
    for row in (["ELBO"], ["reconstruction"], ["KL", "to", "prior"], ["KL", "to", "posterior"], ["gap"]):
        assert row in [r[:len(row)] for r in rows], row  # each quantity's row, its name at a line's start


@pytest.mark.full
def test_a_derivations_example_with_long_numbers_fits_the_page(tmp_path: Path) -> None:
    from elbo_sym.publish.handouts import derivations_handout
    from elbo_sym.report.build import check_file

    require_latex()
    vectors = {"prior": RT25_PRIOR, "likelihood": RT25_LIKELIHOOD, "q": RT25_Q}
    example = "\n".join(name + " = [" + ", ".join(f'"{v}/1000000"' for v in values) + "]"
                        for name, values in vectors.items())
    source = (ROOT / "derivations" / "jensen.toml").read_text("utf-8") + "\n[[example]]\n" + example + "\n"
    path = tmp_path / "jensen.toml"
    path.write_text(source, "utf-8")
    report = _built([derivations_handout([check_file(str(path))])], tmp_path / "out")
    assert report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    text = " ".join(_text(report.pdf).split())
    example = text[text.index("Example 2."):]  # the file's own example is example 1
    assert "q(z) =" in example and "log p(x)" in example and "L(q)" in example  # the givens and both rows


def _words(pdf: Path) -> list[tuple[int, float, float, str]]:
    """Every word of the PDF as (page, top, height, text), from pdftotext's boxes."""
    import html
    import re

    words, page = [], 0
    for line in _text(pdf, "-bbox").splitlines():
        if "<page " in line:
            page += 1
        found = re.search(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*)</word>', line)
        if found:
            top, bottom = float(found.group(1)), float(found.group(2))
            words.append((page, top, bottom - top, html.unescape(found.group(3))))
    return words


@pytest.mark.full
def test_the_largest_gap_breaks_inside_its_bracket_at_normal_size(largest_worked_example) -> None:
    """log p(x) - (20 terms of the ELBO): the bracket was one box scaled to the line, its
    numbers about a third of the text's height; it breaks between its terms, lines of
    normal-size terms, the bracket opened on the first and closed on the last."""
    words = _words(largest_worked_example.pdf)
    label = ["−", "L(q)", "=", "log"]  # log p(x) - L(q) = log 93/200 - (...), not an identity's row
    at = max(i for i, w in enumerate(words) if w[3] == "L(q)" and [v[3] for v in words[i - 1:i + 3]] == label)
    end = next(i for i in range(at, len(words)) if words[i][3] == "evidence" and words[i - 1][3] == "The")
    page, label_top, label_height, _ = words[at]
    gap = [w for w in words[at + 2:end - 1] if w[0] == page]
    logs = [w for w in gap if w[3] == "log"]
    assert len(logs) == 1 + MAX_EXAMPLE_K  # log 93/200 and one per state: every term on the page
    assert len({round(w[1]) for w in logs}) >= 2  # on two lines or more
    terms = [w for w in gap if w[3] in ("log", "+", "−") or w[3].isdigit()]  # not the bracket's pieces
    assert len(terms) > 3 * MAX_EXAMPLE_K
    assert min(w[2] for w in terms) >= 0.8 * label_height  # none of it scaled down


PROSE = "The evidence lower bound stays below the log evidence for every q, and the gap is a divergence. " * 20
MATH = "The bound $ELBO(q)$ stays below $log(p(x))$ for every $q(z)$; the gap is $KL(q(z), p(z | x))$. " * 20
FRACTIONS = "Each term $q(z)*log(p(x, z)/q(z))$ weighs the ratio $p(x, z)/q(z)$ by $q(z)$. " * 20


def _at_most(text: str, chars: int) -> str:
    """The longest start of `text` of at most `chars` characters that ends at a word and closes its $."""
    cut = text[:chars + 1].rsplit(" ", 1)[0]
    return (cut[:cut.rindex("$")] if cut.count("$") % 2 else cut).strip()


GAP = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"


def _deck(folder: Path, *cards: tuple[str, ...]) -> Path:
    """A deck of (front, back) or (front, back, formula) cards."""
    path = folder / "cards.toml"
    tables = [f'[[card]]\nfront = "{card[0]}"\nback = "{card[1]}"' + (f'\nformula = "{card[2]}"' if card[2:] else "")
              for card in cards]
    path.write_text('title = "Long cards"\n' + "\n".join(tables) + "\n", "utf-8")
    return path


@pytest.mark.full
def test_a_card_side_at_the_loaders_limit_fits_its_printed_card(tmp_path: Path) -> None:
    """MAX_CARD_TEXT_CHARS is what a printed card holds: prose or formulas at the limit on either
    side, and prose on the back beside the card's formula, fit (the layout check reports nothing);
    a back crowded with fractions beside a formula still does not, and the layout check says so."""
    require_latex()
    prose, math = _at_most(PROSE, MAX_CARD_TEXT_CHARS), _at_most(MATH, MAX_CARD_TEXT_CHARS)
    assert MAX_CARD_TEXT_CHARS - 100 < min(len(prose), len(math)) <= MAX_CARD_TEXT_CHARS
    deck = _deck(tmp_path, (prose, math), (math, prose, GAP))
    report = _built(flashcards_handouts(flashcards=deck), tmp_path / "fits")
    assert report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    text = " ".join(_text(report.pdf, "-f", "1", "-l", "1").split())
    assert prose.rsplit(" ", 1)[0] in text  # every word on the sheet, none over a cut line
    crowded = _at_most(FRACTIONS, MAX_CARD_TEXT_CHARS)
    (tmp_path / "crowded").mkdir()
    deck = _deck(tmp_path / "crowded", ("short", crowded, GAP))
    (report,) = write_handouts(flashcards_handouts(flashcards=deck), tmp_path / "crowded" / "out")
    assert [(b.what, b.direction) for b in report.overfull_boxes] == [("the back of card 1", "high")]
    assert not report.ok and "content cut at the paper's edge" in report.message  # and not built


def test_a_card_side_over_the_limit_is_refused_where_it_is(tmp_path: Path, capsys) -> None:
    """One character more than a printed card holds: refused when the deck is read, at its file,
    line and column, with the limit in the message (not only noticed by the layout check)."""
    from elbo_sym.engine.derivation import DerivationError
    from elbo_sym.lesson.practice import load_deck

    fits = _at_most(PROSE, MAX_CARD_TEXT_CHARS)
    too_long = fits + " " + "x" * (MAX_CARD_TEXT_CHARS - len(fits))
    assert len(too_long) == MAX_CARD_TEXT_CHARS + 1
    assert load_deck(_deck(tmp_path, ("short", fits))).cards[0].back == fits
    with pytest.raises(DerivationError) as refused:
        load_deck(_deck(tmp_path, ("short", too_long)))
    error = refused.value
    assert (error.line, error.column) == (4, len('back = "') + MAX_CARD_TEXT_CHARS)  # the first character over
    assert f"is {MAX_CARD_TEXT_CHARS + 1:,} characters long; the limit is {MAX_CARD_TEXT_CHARS:,}" in error.message
    from elbo_sym.cli import main

    assert main(["cards", str(tmp_path / "cards.toml")]) == 2
    column = error.column + 1  # the terminal counts from 1
    assert f"cards.toml:4:{column}: card 1: 'back' is" in capsys.readouterr().err


@pytest.mark.full
@pytest.mark.parametrize("q1", [Fraction(1, 100), Fraction(1, 10), Fraction(9, 10), Fraction(99, 100)])
def test_the_figures_labels_stay_on_the_paper_for_q1_near_0_and_1(tmp_path: Path, q1: Fraction) -> None:
    require_latex()
    example = Instance.of("edge", prior=(Fraction(3, 4), Fraction(1, 4)),
                          likelihood=(Fraction(1, 5), Fraction(3, 5)), q=(1 - q1, q1))
    report = _built([worked_example_handout(example)], tmp_path)
    assert report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
    # the gap's value is printed only in the label (the tables give six decimals): on the paper, inside it
    label = str(elbo_curve(example)["gap"])
    page = _text(report.pdf, "-bbox")
    width = float(page.split('<page width="', 1)[1].split('"', 1)[0])
    spots = [line for line in page.splitlines() if line.endswith(f">{label}</word>")]
    assert len(spots) == 1 and float(spots[0].split('xMax="', 1)[1].split('"', 1)[0]) < width

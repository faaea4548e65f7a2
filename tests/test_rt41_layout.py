"""Long names and long formulas in the PDFs (red team rt41's class-2 findings F11, F14, F15 and its
note on a long sum in a chain), each built with LaTeX and read back.

* F11: the teacher's derivation sheet put a file's name beside its heading, where a 46-character
  name had no break point: the build failed ("content cut at the paper's edge") and the warning
  blamed the title. The name now stands on the line under the title and breaks when long.
* F14: a flashcard's 12-term formula was one box scaled to ~3pt type, exit 0; F15: the same formula
  as a self-check answer was a plain display 299pt too wide. Both now break like a claim.
* A sum of 14 logs after a factor (``Sum(q(z) * (...), z)``) was one box at 45 % of its size: it now
  breaks inside its bracket, and a term that would need less than 70 % fails the build where it is.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from latex_tools import require_latex

from elbo_sym.publish.handouts import (
    derivations_handout,
    file_name_latex,
    flashcards_handouts,
    selfcheck_handouts,
    write_handouts,
)
from elbo_sym.publish.render import latex_escape, overfull_boxes
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parent.parent
NAME_46 = "week5_gap_identity_with_kl_divergence_v2.toml"  # rt41's reproducer
NAME_155 = "very_long_derivation_file_name_" * 5 + ".toml"
TWELVE = ("E(q, log(p(x | z))) - KL(q(z), p(z)) + KL(q(z), p(z | x)) - log(p(x)) + ELBO(q) + H(q)")
"""rt41's 12-term side: ``TWELVE = TWELVE`` is proved, about 180 characters."""


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


def _word_heights(pdf: Path, page: int) -> dict[str, list[float]]:
    """Each word of one page -> the heights of its boxes (pdftotext -bbox)."""
    heights: dict[str, list[float]] = {}
    for found in re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>',
                             _text(pdf, "-bbox", "-f", str(page), "-l", str(page))):
        heights.setdefault(html.unescape(found.group(3)), []).append(float(found.group(2)) - float(found.group(1)))
    return heights


def _copy_of_gap(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text((ROOT / "derivations" / "gap.toml").read_text("utf-8"), "utf-8")
    return path


# ----------------------------------------------------------------- F11: a file's name on the teacher's sheet


def test_a_long_file_name_breaks_after_its_separators_and_reads_as_typed() -> None:
    assert file_name_latex("gap.toml") == "gap.toml"  # a short one is one word, as before
    shown = file_name_latex(NAME_46)
    assert shown.replace(r"\allowbreak{}", "") == latex_escape(NAME_46)
    assert shown.count(r"\allowbreak{}") == NAME_46.count("_") + NAME_46.count(".")  # after each, never before
    assert r"\_\allowbreak{}gap" in shown and not shown.startswith(r"\allowbreak")
    long_run = "x" * 30 + ".toml"  # 30 characters with no separator: breakable after any of them (and the dot)
    assert file_name_latex(long_run).count(r"\allowbreak{}") == 31
    assert file_name_latex("it's_a_rather_long_name.toml").startswith(r"it\textquotesingle{}s")  # typed, not ’


def test_a_line_too_wide_under_a_title_names_the_file_line_not_the_title(tmp_path: Path) -> None:
    """A box past the margin on the line with the file's name is blamed on that line, not on the title."""
    path = _copy_of_gap(tmp_path, NAME_46)
    source = derivations_handout([check_file(str(path))], solutions="inline").render()
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if r"\hfill\filename{" in line)
    assert r"\section*" not in lines[at - 1]  # not in the heading
    (box,) = overfull_boxes(f"Overfull \\hbox (3.5pt too wide) in paragraph at lines {at}--{at}\n", source)
    assert box.part.startswith("the scope line and file name of ") and box.part.endswith(NAME_46), box.part
    assert box.section == "1. The gap is a KL divergence"


@pytest.mark.full
def test_the_teachers_derivation_sheet_builds_with_long_file_names(tmp_path: Path) -> None:
    """rt41 F11: 46 and 155 characters (the first failed 3.5pt past the edge, the second 546.9pt): the
    teacher's sheet builds with nothing past the margin, each name whole on the page."""
    require_latex()
    results = [check_file(str(_copy_of_gap(tmp_path, name))) for name in (NAME_46, NAME_155)]
    (report,) = write_handouts([derivations_handout(results, solutions="inline")], tmp_path / "out")
    assert report.ok, (report.message, [b.describe() for b in report.overfull_boxes])
    assert report.overfull_boxes == ()
    flat = "".join(_text(report.pdf).split())
    assert NAME_46 in flat and NAME_155 in flat


# ----------------------------------------------------------------- F14, F15: a deck's long formula


def _deck(folder: Path, kind: str, formula: str) -> Path:
    table, front, back = ("card", "front", "back") if kind == "card" else ("question", "question", "answer")
    path = folder / f"{kind}.toml"
    path.write_text(f'title = "Long"\n[[{table}]]\n{front} = "Six terms, twice."\n{back} = "Both sides."\n'
                    f'formula = "{formula}"\n', "utf-8")
    return path


def test_a_self_check_answer_too_wide_is_named_by_its_deck_and_line(tmp_path: Path) -> None:
    """rt41 F15's warning named neither: a box on the answer's display names the question and its line."""
    deck = _deck(tmp_path, "question", f"{TWELVE} = {TWELVE}")
    source = selfcheck_handouts(selfcheck=deck)[0].render()
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.startswith(r"\fitrelation{"))
    (box,) = overfull_boxes(f"Overfull \\hbox (299.1pt too wide) detected at line {at + 1}\n", source)
    assert box.part.startswith("the formula of question 1, ") and box.part.endswith("question.toml:5"), box.part


@pytest.mark.full
def test_a_long_card_formula_breaks_over_lines_at_a_readable_size(tmp_path: Path) -> None:
    """rt41 F14 and F15: the 12-term relation on a flashcard's back (was ~3pt type, exit 0) and as a
    self-check answer (was 299pt past the edge, exit 1): both build, nothing past an edge, every term
    on the page at no less than 70 % of the size of the answer's words; on the card it takes several lines."""
    require_latex()
    formula = f"{TWELVE} = {TWELVE}"
    (cards,) = write_handouts(flashcards_handouts(flashcards=_deck(tmp_path, "card", formula), solutions="separate"),
                              tmp_path / "cards")
    (quiz,) = write_handouts(selfcheck_handouts(selfcheck=_deck(tmp_path, "question", formula)), tmp_path / "quiz")
    for report, page in ((cards, 2), (quiz, 3)):
        assert report.ok and report.overfull_boxes == (), [b.describe() for b in report.overfull_boxes]
        heights = _word_heights(report.pdf, page)
        words = heights["Both"][0]  # "Both sides." beside the formula
        logs = [h for word, found in heights.items() if "log" in word for h in found]
        assert len(logs) >= 4, sorted(heights)  # log p(x | z) and log p(x), each side
        assert min(logs) >= 0.7 * words, (report.name, logs, words)
    text = _text(cards.pdf, "-f", "2", "-l", "2")
    assert len([line for line in text.splitlines() if "KL" in line]) >= 2  # broken, not one scaled line


# ----------------------------------------------------------------- a chain's long sum, and the last resort


def test_a_sum_after_a_factor_is_given_term_by_term() -> None:
    """Sum(q(z) * (a + b), z) and E_q[a - b]: the factor, then the bracket's terms, for the template to break
    between when the whole is wider than a line; a bracket around one term, or a product, is not such a sum."""
    from elbo_sym.publish.handouts import breakable

    assert breakable(r"c - \sum_{z} q(z) \left(\log a - \log b\right)") == (
        r"\chainterm{}{c}\chainbracketed{-}{\sum_{z} q(z) \left(\log a - \log b\right)}"
        r"{\sum_{z} q(z) }{\left(}{\right)}{\chainterm{}{\log a}\chainterm{-}{\log b}}")
    assert breakable(r"\mathbb{E}_{q(z)}\left[a + \log\left(b\right)\right]").startswith(
        r"\chainbracketed{}{\mathbb{E}_{q(z)}\left[a + \log\left(b\right)\right]}{\mathbb{E}_{q(z)}}{\left[}{\right]}")
    assert breakable(r"\mathbb{E}_{q(z)}\left[\log p(x \mid z)\right]") == (
        r"\chainterm{}{\mathbb{E}_{q(z)}\left[\log p(x \mid z)\right]}")


STEP = """title = "Chain wide term"
model = "discrete"
K = "any"
start = "{start}"

[[step]]
rel = "="
expr = "{expr}"
rule = "algebra"
why = "add zeros inside the sum"
"""
ZEROS = " + ".join(f"log({d}) - log({d})" for d in ("p(x, z)", "q(z)", "p(x)", "p(z)", "p(x | z)", "p(z | x)", "p(x)"))


@pytest.mark.full
def test_a_long_sum_after_a_factor_breaks_inside_its_bracket_and_a_hopeless_term_fails(tmp_path: Path) -> None:
    """rt41's note: ``Sum(q(z) * (14 logs), z)`` was one line at 45 % (4.5pt type), no warning. It breaks
    between the bracket's terms at full size; a term with nothing to break at that would need less than
    70 % (a 24-term numerator) fails the build, the chain named, nothing written."""
    require_latex()
    path = tmp_path / "sum.toml"
    path.write_text(STEP.format(start="ELBO(q)", expr=f"Sum(q(z) * (log(p(x, z)) - log(q(z)) + {ZEROS}), z)"), "utf-8")
    (report,) = write_handouts([derivations_handout([check_file(str(path))])], tmp_path / "sum")
    assert report.ok and report.overfull_boxes == (), (report.message, [b.describe() for b in report.overfull_boxes])
    heights = _word_heights(report.pdf, 1)
    assert len(heights["log"]) >= 16 and min(heights["log"]) >= 0.8 * heights["Result."][0], heights["log"]
    numerator = " + ".join(["p(x, z)"] * 24)
    path = tmp_path / "frac.toml"
    path.write_text(STEP.format(start="0", expr=f"log(({numerator}) / (24 * p(x, z)))"), "utf-8")
    result = check_file(str(path))
    assert result.fully_proved, [s.reason for s in result.steps]
    (report,) = write_handouts([derivations_handout([result])], tmp_path / "frac")
    assert not report.ok and "content cut at the paper's edge" in report.message
    boxes = report.overfull_boxes  # the step in the chain, and again in the result's relation
    assert {(b.what, b.direction) for b in boxes} == {("a term scaled below 70 percent of its size", "wide")}
    assert [b.part.split(",")[0] for b in boxes][:1] == ["step 1 of the chain"], [b.describe() for b in boxes]
    assert f"{path.name}:" in boxes[0].part, boxes[0].part  # the step's file:line (red team rt52 F4)
    assert not (tmp_path / "frac" / "derivations.pdf").exists()

"""A table cell's term has the chain's floor; an example's givens and a line of text do not (session 18's note).

``\\fitcell`` scaled a table cell's term to its column however small it came out; it now fails the build
below 70 % of its size, as a chain's term does, naming the table (its ``%@`` marker). The givens of an
example (``\\fitgiven``) and a roster's names (``\\fittext``) keep scaling with no floor: red team rt25's
K = 20 givens need about half their size (tests/test_layout_fit.py builds them), and a roster name of up to
100 characters is shrunk to the line (docs/03 says why).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from elbo_sym.publish.render import LatexMarkup, build_pdf, render_template

NAMES = " ".join(f"a_{{{i}}}" for i in range(1, 61))
"""One term of 60 factors, about 760pt wide: 19 % of its size in a 5cm column."""


def _cell(formula: str, width: str = "5cm") -> LatexMarkup:
    return LatexMarkup("%@ the table of example 1\n"
                       rf"\noindent\begin{{minipage}}{{{width}}}\fitcell{{{formula}}}\end{{minipage}}" + "\n")


@pytest.mark.full
def test_a_cell_term_below_the_floor_fails_and_one_above_is_scaled(tmp_path: Path) -> None:
    if shutil.which("latexmk") is None:
        pytest.fail("LaTeX tools missing (run `make latex`)")
    hopeless = build_pdf(render_template("_smoke.tex.j2", title="Cells", text=_cell(NAMES)), tmp_path / "a.pdf")
    (box,) = [b for b in hopeless.overfull_boxes if b.direction == "wide"]
    assert box.what == "a table cell's term scaled below 70 percent of its size", box
    assert box.part == "the table of example 1, measured by the template" and box.points > 250, box
    near = " ".join(f"a_{{{i}}}" for i in range(1, 14))  # about 165pt in 5cm (142pt): 86 %, scaled, no report
    scaled = build_pdf(render_template("_smoke.tex.j2", title="Cells", text=_cell(near)), tmp_path / "b.pdf")
    assert scaled.ok and scaled.overfull_boxes == (), scaled.overfull_boxes


@pytest.mark.full
def test_givens_and_text_lines_scale_with_no_floor(tmp_path: Path) -> None:
    if shutil.which("latexmk") is None:
        pytest.fail("LaTeX tools missing (run `make latex`)")
    text = LatexMarkup(rf"\noindent\begin{{minipage}}{{5cm}}\fitgiven{{{NAMES}}}\par"
                       rf"\fittext{{\linewidth}}{{{'W' * 100}}}\end{{minipage}}" + "\n")
    built = build_pdf(render_template("_smoke.tex.j2", title="Givens", text=text), tmp_path / "c.pdf")
    assert built.ok and built.overfull_boxes == (), built.overfull_boxes

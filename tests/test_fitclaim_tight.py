"""A result's formula in the running text is never squeezed to fit a line (\\fitclaim, base.tex.j2).

from-the-literature.pdf, page 6: "... the chain establishes p(x1)+p(x2) = 1," was set on one line of badness 48,
the space around its + (math glue, which shrinks to nothing) gone -- TeX chose that over the break before the
formula that \\fitclaim allows, at penalty 300.  At penalty 50 a line that tight costs more than the break.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main

ROOT = Path(__file__).resolve().parent.parent
NORMALISED_DECODER = ROOT / "derivations" / "literature" / "alemi-normalised-decoder.toml"
"""Its result, p(x1) + p(x2) = 1 after "All 4 steps are proved, so, under the conditions above, the chain
establishes", fits the line's rest only with its math spaces shrunk to nothing."""


def pdf_lines(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.mark.full  # a LaTeX build
def test_a_result_that_fits_only_squeezed_starts_a_line_of_its_own(tmp_path, monkeypatch, requires_latex):
    monkeypatch.chdir(tmp_path)
    Path("literature").mkdir()
    shutil.copy(NORMALISED_DECODER, Path("literature") / NORMALISED_DECODER.name)
    build = ["build", "literature", "--literature", "literature", "--only", "from-the-literature", "--out", "h"]
    assert main(build) == 0
    lines = pdf_lines(Path("h/from-the-literature.pdf"))
    [result] = [line for line in lines if line.startswith("Result.")]
    assert result.endswith("the chain establishes"), lines  # the formula is not squeezed onto this line
    assert "p(x1 ) + p(x2 ) = 1, which is the claim." in lines, lines  # its + keeps its spaces

"""The one place the tests ask whether LaTeX is installed: a test that builds a PDF skips without
TeX on an author's machine (`make latex` says how to install it) and fails instead where
ELBO_SYM_REQUIRE_LATEX=1 (CI, the Makefile sets it): a CI run never passes by skipping a build."""

from __future__ import annotations

import os
import shutil

import pytest

LATEX_TOOLS = ("latexmk", "pdflatex", "pdftotext", "pdfinfo")
"""What the PDF tests run: latexmk and pdflatex (TeX Live), pdftotext and pdfinfo (poppler-utils)."""

REQUIRE_LATEX = "ELBO_SYM_REQUIRE_LATEX"
"""Set to 1 (CI): a missing tool fails the test instead of skipping it."""


def latex_tools_missing() -> list[str]:
    """The tools of LATEX_TOOLS that are not on PATH."""
    return [tool for tool in LATEX_TOOLS if shutil.which(tool) is None]


def latex_required() -> bool:
    """True where a missing LaTeX must fail the run (ELBO_SYM_REQUIRE_LATEX=1)."""
    return os.environ.get(REQUIRE_LATEX) == "1"


def require_latex() -> None:
    """Return if every tool is there; else skip the test, or fail it when ELBO_SYM_REQUIRE_LATEX=1."""
    missing = latex_tools_missing()
    if not missing:
        return
    msg = f"LaTeX tools missing: {', '.join(missing)} (run `make latex`)"
    if latex_required():
        pytest.fail(msg + f"; {REQUIRE_LATEX}=1 forbids skipping")
    pytest.skip(msg)

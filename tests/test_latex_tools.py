"""tests/latex_tools.py, the one check whether LaTeX is installed: a skip on an author's machine, a
failure where ELBO_SYM_REQUIRE_LATEX=1 (CI) -- a CI run must never pass by skipping every PDF build."""

from __future__ import annotations

import latex_tools
import pytest


def _which_without(gone: set[str]):
    return lambda tool: None if tool in gone else f"/usr/bin/{tool}"


def test_every_tool_present_lets_the_test_run(monkeypatch) -> None:
    monkeypatch.setattr(latex_tools.shutil, "which", _which_without(set()))
    monkeypatch.setenv(latex_tools.REQUIRE_LATEX, "1")
    assert latex_tools.latex_tools_missing() == []
    latex_tools.require_latex()  # neither skips nor fails


def test_a_missing_tool_skips_locally_and_fails_in_ci(monkeypatch) -> None:
    monkeypatch.setattr(latex_tools.shutil, "which", _which_without({"pdfinfo"}))
    assert latex_tools.latex_tools_missing() == ["pdfinfo"]
    monkeypatch.delenv(latex_tools.REQUIRE_LATEX, raising=False)
    with pytest.raises(pytest.skip.Exception, match="pdfinfo"):
        latex_tools.require_latex()
    monkeypatch.setenv(latex_tools.REQUIRE_LATEX, "1")
    with pytest.raises(pytest.fail.Exception, match="pdfinfo.*forbids skipping"):
        latex_tools.require_latex()

"""The suite's replay of LaTeX builds (tests/conftest.py, LATEX_REPLAY): a text built before in the run
is not built again, its outputs are copied in; a failure, a new text or other dates are real builds."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.publish import render  # imported at collection: the run's replay stands in for its latexmk step

SMALL = "\\documentclass{article}\\begin{document}%s\\end{document}\n"


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _build(text: str, pdf: Path) -> tuple[render.BuildResult, float]:
    """build_pdf's result and the CPU seconds its child processes spent."""
    before = _children_cpu()
    result = render.build_pdf(text, pdf, timeout=CHILD_TIMEOUT_SECONDS)
    return result, _children_cpu() - before


def words(folder: Path) -> str:
    """The folder's name as plain words (an underscore is LaTeX's subscript): a text only this test builds."""
    return folder.name.replace("_", " ")


def _kept(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_text_built_again_is_replayed_and_a_failure_is_never_kept(tmp_path, monkeypatch) -> None:
    command = render._latexmk_command("latexmk")
    assert command[1:3] == ["-c", conftest_script()], "the run's replay is not in place"
    # the same script with a folder of this test's own: the run's folder is shared by the workers, whose
    # builds may land there between two looks at it
    folder = tmp_path / "kept"
    folder.mkdir()
    monkeypatch.setattr(render, "_latexmk_command", lambda latexmk: [*command[:3], str(folder), *command[4:]])
    text = SMALL % f"replayed {words(tmp_path)}"  # a text no other test builds
    first, real = _build(text, tmp_path / "a.pdf")
    assert first.ok and real > 0.05, first.message  # pdflatex ran (twice, under latexmk)
    kept = _kept(folder)
    second, replayed = _build(text, tmp_path / "b.pdf")
    assert second.ok and replayed < real / 2 and _kept(folder) == kept
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (second.overfull, second.underfull) == (first.overfull, first.underfull)

    broken = SMALL % f"\\undefinedmacro {words(tmp_path)}"
    for _ in range(2):  # each build of a failing text runs LaTeX and is refused the same way
        failed, spent = _build(broken, tmp_path / "c.pdf")
        assert not failed.ok and "Undefined control sequence" in failed.log_excerpt and spent > 0.05
        assert _kept(folder) == kept and not (tmp_path / "c.pdf").exists()


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_other_dates_are_another_build(tmp_path, monkeypatch) -> None:
    text = SMALL % f"dated {words(tmp_path)}"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    first, _ = _build(text, tmp_path / "a.pdf")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1798761600")
    second, spent = _build(text, tmp_path / "b.pdf")
    assert first.ok and second.ok and spent > 0.05
    assert b"/CreationDate (D:20260101" in (tmp_path / "a.pdf").read_bytes()
    assert b"/CreationDate (D:20270101" in (tmp_path / "b.pdf").read_bytes()


@pytest.mark.real_latex
@pytest.mark.usefixtures("requires_latex")
def test_a_test_marked_real_latex_runs_latexmk_itself(tmp_path) -> None:
    assert render._latexmk_command("latexmk")[0] == "latexmk"


def conftest_script() -> str:
    from conftest import LATEX_REPLAY

    return LATEX_REPLAY

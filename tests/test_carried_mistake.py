"""A teaching file's slip in a middle step (red team rt32's F3): the step after it is refuted
as written only because its left side is the wrong expression.  When it is proved with the
marked step corrected it *carries* the mistake -- the file passes with only the real slip
marked, the sheet says one step is wrong and the solution says the next step needs no edit.
A step still refuted with the correction in place stays a mistake of its own (soundness: a
teaching file never hides an unexpected wrong step)."""

from __future__ import annotations

import pytest
from beta_slip import slip_file

from elbo_sym.engine.derivation import loads
from elbo_sym.publish import web
from elbo_sym.publish.handouts import mistake_context
from elbo_sym.report.build import check_file
from elbo_sym.report.text import derivation_text

RIGHT = "log(p(x)) - KL(q(z), p(z | x)) - (beta - 1) * KL(q(z), p(z))"
"""Step 2 as it must read once step 1 is corrected: right, but refuted after the slip."""
WRONG = "log(p(x)) + KL(q(z), p(z | x)) - (beta - 1) * KL(q(z), p(z))"
"""A second slip of its own: refuted with step 1 corrected too."""


def report(expect: str, middle: str):
    text = slip_file(expect, {"rel": "=", "expr": middle, "rule": "definition"},
                     ("unfold the ELBO", "the gap of the ELBO is a KL", "drop two KL terms"),
                     "The beta-ELBO, with a slip in the middle")
    return check_file(loads(text, "middle-slip.toml"))


@pytest.fixture(scope="module")
def listed():
    return report("expect_refuted = [1]", RIGHT)


def test_a_step_that_only_carries_the_slip_is_not_a_mistake(listed):
    assert [s.verdict for s in listed.steps] == ["refuted", "refuted", "proved"]
    assert [s.expected_refuted for s in listed.steps] == [True, False, False]
    assert [s.carried for s in listed.steps] == [False, True, False]
    assert listed.ok, listed.failure_reasons
    text = derivation_text(listed)
    assert "carries step 1's deliberate mistake" in text
    assert "step 2 only carries step 1's mistake" in text


def test_the_sheet_counts_one_mistake_and_the_solution_says_no_edit(listed):
    context = mistake_context(listed)
    assert context["task"].startswith("Exactly one step is wrong")
    assert [m["index"] for m in context["mistakes"]] == [1]
    assert "no edit is needed in step 2" in context["mistakes"][0]["carried"]
    assert "no edit is needed in step 2" in web.mistakes_page([listed]).body


def test_the_expect_refuted_spelling_counts_the_same():
    alone = report('expect = "refuted"', RIGHT)
    assert alone.ok, alone.failure_reasons
    assert [s.expected_refuted for s in alone.steps] == [True, False, False]
    assert [s.carried for s in alone.steps] == [False, True, False]


@pytest.mark.parametrize("expect", ["expect_refuted = [1]", 'expect = "refuted"'])
def test_a_step_still_wrong_with_the_correction_is_a_mistake(expect):
    wrong = report(expect, WRONG)
    assert [s.verdict for s in wrong.steps][:2] == ["refuted", "refuted"]
    assert not wrong.steps[1].carried
    assert not wrong.ok
    assert any("step 2" in reason for reason in wrong.failure_reasons), wrong.failure_reasons


def test_a_report_round_trips_the_carried_step(listed):
    from elbo_sym.report.model import DerivationReport

    assert DerivationReport.from_dict(listed.to_dict()) == listed


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_pdf_sheet_counts_one_mistake_and_says_no_edit(listed, tmp_path):
    import subprocess

    from child_processes import CHILD_TIMEOUT_SECONDS

    from elbo_sym.publish.handouts import mistakes_handout, write_handouts

    (built,) = write_handouts([mistakes_handout([listed])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = " ".join(subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                                   timeout=CHILD_TIMEOUT_SECONDS).stdout.split())
    assert "Exactly one step is wrong" in text
    assert "Step 2 follows from step 1 as written, so it fails too; once step 1 is corrected it holds: no edit is " \
           "needed in step 2." in text

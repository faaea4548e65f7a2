"""A find-the-mistake solution says why a marked step needs no edit of its own (red team rt26:
"Step 2 is wrong:" and its counterexample, but not that step 2 holds once step 1 is repaired --
the suggestion's text was printed only when it edited the step; and a step's why below a chain
with a long start ran 13.8pt past the margin)."""

from __future__ import annotations

import subprocess

import pytest
from beta_slip import slip_file
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.derivation import loads
from elbo_sym.publish import web
from elbo_sym.publish.handouts import mistakes_handout, write_handouts
from elbo_sym.report.build import check_file

FILE = slip_file("expect_refuted = [1, 2]", whys=("unfold the ELBO", "drop a KL term", "the gap is a KL"))
"""Step 2 (the starter's: drop a KL term) is refuted only because step 1 is."""
NOTE = "No edit needed here: this step holds once step 1 is repaired as suggested."


@pytest.fixture(scope="module")
def report():
    checked = check_file(loads(FILE, "slip2.toml"))
    assert checked.ok and not checked.steps[1].suggestion.changes
    return checked


def test_the_site_solution_says_the_step_needs_no_edit(report):
    body = web.mistakes_page([report]).body
    after = body.split("Step 2 is wrong", 1)[1]
    assert "**Repair.** " + NOTE.replace(":", "\\:") in " ".join(after.split())  # Markdown-escaped colon


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_pdf_solution_says_the_step_needs_no_edit(report, tmp_path):
    (built,) = write_handouts([mistakes_handout([report])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    assert built.overfull == 0, [b.describe() for b in built.overfull_boxes]  # the long start's why fits
    text = subprocess.run(["pdftotext", str(built.pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout
    after = " ".join(text.split("Step 2 is wrong", 1)[1].split())
    assert "Repair. " + NOTE in after

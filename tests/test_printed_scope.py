"""What a printed derivation says it established: "Proved for ..." only when every step is
proved.  A step accepted as ``checked`` (docs/02) passes the run, and every output -- the
derivation sheet in each solutions mode, the site's and the web's Markdown -- says "Not proved
for ..." and labels the step "held on N exact instances, not proved", in the students' version
too (the red team's /tmp/rt1/acc2: ``p(z) <= 1`` accepted for K = "any" was printed under
"Proved for every latent space").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.engine.derivation import loads
from elbo_sym.publish import web
from elbo_sym.publish.handouts import SOLUTIONS, derivations_handout, write_handouts
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parent.parent
# H(q) <= log 2 for K = 2 is true, but no rule proves it: only checked, accepted here
ACCEPTED = ('title = "Entropy of two states"\nK = 2\nclaim = "H(q) <= log(2)"\nstart = "H(q)"\n\n'
            '[[step]]\nrel = "<="\nexpr = "log(2)"\nrule = "algebra"\naccept = "checked"\n')


@pytest.fixture(scope="module")
def accepted():
    report = check_file(loads(ACCEPTED, "entropy.toml"))
    assert report.ok and not report.fully_proved and report.steps[0].verdict == "checked"
    return report


@pytest.fixture(scope="module")
def proved(checked_report):
    report = checked_report(ROOT / "derivations" / "jensen.toml")
    assert report.fully_proved
    return report


def _held(report) -> str:
    return f"held on {report.steps[0].instances} exact instances, not proved"


@pytest.mark.full
def test_the_scope_says_proved_only_when_every_step_is(accepted, proved):
    assert proved.scope.text == f"Proved for {proved.model}."
    assert accepted.scope.lead == "Not proved for" and accepted.scope.model == accepted.model
    assert accepted.scope.text.startswith(f"Not proved for {accepted.model}: step 1 {_held(accepted)}")
    assert "checked instances only" in accepted.scope.text and "Proved for" not in accepted.scope.text


def test_a_refuted_step_never_says_the_result_holds_anywhere(checked_report):
    """A refuted step fails at a counterexample: the scope must not say the result holds on the
    checked instances (the checker page showed that for the teaching file's slip)."""
    slip = checked_report(ROOT / "derivations" / "teaching" / "gap-slip.toml")
    assert any(s.verdict == "refuted" for s in slip.steps)
    assert slip.scope.lead == "Not proved for" and "refuted" in slip.scope.text
    assert "holds on" not in slip.scope.text and "does not establish the result" in slip.scope.text


@pytest.mark.full
@pytest.mark.parametrize("solutions", SOLUTIONS)
def test_the_sheet_source_never_says_proved_for_an_accepted_step(accepted, solutions):
    source = derivations_handout([accepted], solutions).render()
    assert "Proved for" not in source and "Not proved for" in source
    assert re.search(r"step 1 held on \d+ exact instances, not proved", source)
    assert _held(accepted) in source  # the step's own note (the rule argument of \stepnote)


@pytest.mark.full
@pytest.mark.parametrize("solutions", web._SOLUTIONS)
def test_the_pages_never_say_proved_for_an_accepted_step(accepted, proved, solutions):
    body = web.derivations_page([accepted], solutions).body
    assert "Proved for" not in body and "Not proved for" in body
    step_notes = [line for line in body.splitlines() if line.startswith("1. ")]
    assert len(step_notes) == 1 and _held(accepted) in step_notes[0]  # students' page too
    assert f"Proved for {proved.model}" in web.derivations_page([proved], solutions).body.replace("\\", "")


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_the_students_pdf_labels_the_accepted_step(accepted, tmp_path):
    from test_handouts import pdf_text, squash

    (built,) = write_handouts([derivations_handout([accepted], "separate")], tmp_path)
    assert built.ok, built.message + "\n" + built.log_excerpt
    text = squash(pdf_text(built.pdf))
    assert "Proved for" not in pdf_text(built.pdf)
    assert squash("Not proved for") in text
    assert squash(f"algebra: {_held(accepted)}") in text  # the step's note in the students' copy

"""Why a file does not pass is said in the same words everywhere and is never empty (red team
rt26: `explain` ended "the whole file does not pass (exit 1): " with nothing after the colon on a
teaching file whose marked step holds, and on the one unexpectedly refuted step of a teaching
file; `check` said only "see the steps above" and never named that step, where the notebook did)."""

from __future__ import annotations

from pathlib import Path

import pytest
from beta_slip import slip_file

from elbo_sym.authoring.explain import explain, format_explanation
from elbo_sym.engine.derivation import load
from elbo_sym.report.build import check_file
from elbo_sym.report.display import status_line
from elbo_sym.report.text import derivation_text

HOLDS = '''title = "A slip that is not one"
K = "any"
expect_refuted = [1]
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "definition"
'''

UNEXPECTED = slip_file("expect_refuted = [1]", {"rel": "<=", "expr": "ELBO(q) - KL(q(z), p(z))", "rule": "kl-nonneg"})
"""Step 2 is wrong with step 1 repaired too (at beta = 1): a mistake of its own, not carried (rt32)."""

CASES = [(HOLDS, 1, "step 1 is proved (expected refuted)"),
         (UNEXPECTED, 2, "step 2 is refuted (not one of the expected mistakes)")]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "teaching.toml"
    path.write_text(text)
    return path


@pytest.mark.full
@pytest.mark.parametrize("text, step, reason", CASES)
def test_explain_names_why_the_file_does_not_pass(tmp_path, text, step, reason):
    out = format_explanation(explain(load(_write(tmp_path, text)), step))
    assert out.rstrip().splitlines()[-1] == f"the whole file does not pass (exit 1): {reason}"


@pytest.mark.full
@pytest.mark.parametrize("text, step, reason", CASES)
def test_check_and_the_notebook_say_the_same(tmp_path, text, step, reason):
    report = check_file(_write(tmp_path, text))
    assert not report.ok
    assert report.failure_reasons == (reason,)
    assert f"NOT as expected: {reason}" in derivation_text(report)
    assert status_line(report) == f"✗ teaching file, NOT as expected: {reason}"

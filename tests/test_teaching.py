"""Teaching files ("find the mistake"): `expect = "refuted"` / `expect_refuted = [N]`.

A teaching file passes `check` only when exactly the marked steps are refuted and every
other step passes; `build` prints it as a chain without verdicts with a solution page
(the wrong step, the exact counterexample, the repair), never on the derivation sheet.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.publish.handouts import derivations_handout, mistakes_handout, write_handouts
from elbo_sym.report.build import check_file
from elbo_sym.report.model import DerivationReport
from elbo_sym.report.text import derivation_text, summary_text

ROOT = Path(__file__).resolve().parent.parent
SLIP = ROOT / "derivations" / "teaching" / "gap-slip.toml"
GAP = ROOT / "derivations" / "gap.toml"
SLIP_STEP_1 = 'expr = "Sum(q(z) * log(p(x)), z) - Sum(q(z) * log(p(x, z) / q(z)), z)"'
SLIP_STEP_1_WRONG = 'expr = "Sum(q(z) * log(p(x)), z) + Sum(q(z) * log(p(x, z) / q(z)), z)"'
CARRIED_ON = (re.sub(r"(?m)^repair = .*\n", "", SLIP.read_text("utf-8"))
              .replace("KL(q(z), p(z | x))", "KL(q(z), p(z))")  # the claim: the wrong conclusion
              .replace('expr = "KL(q(z), p(z))"\nrule = "bayes"',
                       'expr = "Sum(q(z) * log(q(z) / p(z)), z)"\nrule = "bayes"')
              + '\n[[step]]\nrel = "="\nexpr = "KL(q(z), p(z))"\nrule = "definition"\n')
"""gap-slip.toml as it was until session 12: the slip of step 3 carried on to a false claim."""


def with_header(text: str, header: str) -> str:
    """The file with `header` lines put before its first [[step]] (top-level keys)."""
    head, _, rest = text.partition("[[step]]")
    return head + header + "\n\n[[step]]" + rest


def report_of(text: str, name: str = "teach.toml") -> DerivationReport:
    return check_file(loads(text, name))


@pytest.fixture(scope="module")
def slip() -> DerivationReport:
    return check_file(SLIP)


# ---------------------------------------------------------------------------- loading


@pytest.mark.parametrize("header, fragment", [
    ('expect = "wrong"', 'expect must be "proved" or "refuted"'),
    ("expect = 1", 'expect must be "proved" or "refuted"'),
    ("expect_refuted = [9]", "there is no step 9"),
    ("expect_refuted = [0]", "there is no step 0"),
    ('expect_refuted = ["3"]', "list of step numbers"),
    ("expect_refuted = [3, 3]", "list of step numbers"),
    ("expect_refuted = 3", "list of step numbers"),
    ("expect_refuted = [true]", "list of step numbers"),
    ('expect = "proved"\nexpect_refuted = [3]', "contradicts"),
])
def test_bad_expectations_are_clear_errors(header, fragment):
    text = with_header(GAP.read_text("utf-8"), header)
    with pytest.raises(DerivationError) as info:
        loads(text, "teach.toml")
    assert fragment in str(info.value)
    assert info.value.line > 1  # names the line of the key


def test_expect_refuted_implies_a_teaching_file():
    d = loads(SLIP.read_text("utf-8"), "slip.toml")
    assert d.expect == "refuted" and d.expect_refuted == (3,)
    plain = loads(GAP.read_text("utf-8"), "gap.toml")
    assert plain.expect == "proved" and plain.expect_refuted == ()


# ---------------------------------------------------------------------------- checking


def test_teaching_file_passes_when_exactly_the_marked_step_is_refuted(slip):
    assert slip.ok and not slip.established
    assert [s.index for s in slip.steps if s.expected_refuted] == [3]
    assert [s.verdict for s in slip.steps] == ["proved", "proved", "refuted"]
    wrong = slip.steps[2]
    assert wrong.counterexample is not None and wrong.suggestion is not None
    assert "p(z | x)" in wrong.suggestion.expr and "but then" not in wrong.suggestion.description


def test_marked_step_that_holds_fails_the_run():
    """expect_refuted names a correct step: the teaching file's mistake is not a mistake."""
    text = with_header(GAP.read_text("utf-8"), "expect_refuted = [2]")
    report = report_of(text)
    assert not report.ok
    assert report.steps[1].expected_refuted and report.steps[1].verdict == "proved"
    assert "NOT as expected" in derivation_text(report)


def test_unmarked_refuted_step_fails_the_run():
    """Only the marked steps may be wrong: another refuted step fails the teaching file."""
    report = report_of(SLIP.read_text("utf-8").replace(SLIP_STEP_1, SLIP_STEP_1_WRONG))
    assert report.steps[0].verdict == "refuted" and not report.steps[0].expected_refuted
    assert not report.ok


def test_expect_refuted_without_a_list_needs_some_refuted_step():
    proved = report_of(with_header(GAP.read_text("utf-8"), 'expect = "refuted"'))
    assert not proved.ok  # nothing to find: a teaching file without a mistake fails
    slip_any = SLIP.read_text("utf-8").replace("expect_refuted = [3]", 'expect = "refuted"')
    report = report_of(slip_any)
    assert report.ok and [s.index for s in report.steps if s.expected_refuted] == [3]


def test_cli_exit_status_follows_the_expectation(tmp_path, capsys):
    from elbo_sym.cli import main

    good = tmp_path / "slip.toml"
    good.write_text(SLIP.read_text("utf-8"), "utf-8")
    bad = tmp_path / "not-a-mistake.toml"
    bad.write_text(with_header(GAP.read_text("utf-8"), "expect_refuted = [2]"), "utf-8")
    assert main(["check", "--no-cache", str(good)]) == 0
    out = capsys.readouterr().out
    assert "as expected" in out and "0/1 claims established; 1/1 file(s) pass" in out
    assert main(["check", "--no-cache", str(bad)]) == 1


def test_report_round_trips_with_the_expectation(slip):
    back = DerivationReport.from_dict(json.loads(json.dumps(slip.to_dict())))
    assert back == slip and back.ok and back.expect == "refuted"


def test_summary_counts_files_that_pass_apart_from_claims(slip):
    text = summary_text([slip])
    assert "0/1 claims established" in text and "1/1 file(s) pass" in text


# ---------------------------------------------------------------------------- repairs keep the chain


def test_repair_that_breaks_the_next_step_says_so():
    """The slip of step 3 carried on to a wrong conclusion (session 11's gap-slip.toml):
    following the repair of step 3 makes step 4 (KL against the prior) wrong, so the
    suggestion says so -- and the file fails: its claim is false and no corrected chain
    shows it (red team rt12)."""
    report = report_of(CARRIED_ON)
    assert [s.verdict for s in report.steps] == ["proved", "proved", "refuted", "proved"]
    assert "step 4 no longer follows" in report.steps[2].suggestion.description
    assert not report.ok
    (problem,) = report.problems
    assert problem.startswith("the solution does not hold: with the suggested correction (step 3: ")
    assert "step 4 no longer follows" in problem and 'repair = "..." on step 3' in problem


def test_repair_of_a_middle_step_keeps_the_next_step_when_it_can():
    """The gap derivation with step 3 wrong but step 4 right: the repair must make step 4
    follow again (no 'but then')."""
    text = GAP.read_text("utf-8").replace('expr = "Sum(q(z) * log(q(z) / p(z | x)), z)"',
                                          'expr = "Sum(q(z) * log(q(z) / p(z)), z)"')
    report = report_of(text, "gap-wrong.toml")
    step = report.steps[2]
    assert step.verdict == "refuted" and step.suggestion is not None
    assert "but then" not in step.suggestion.description
    fixed = text.replace('expr = "Sum(q(z) * log(q(z) / p(z)), z)"', f'expr = "{step.suggestion.expr}"')
    assert report_of(fixed, "gap-fixed.toml").ok


# ---------------------------------------------------------------------------- the handout


def test_teaching_files_stay_off_the_derivation_sheet(slip):
    gap = check_file(GAP)
    sheet = derivations_handout([gap, slip])
    assert [d["name"] for d in sheet.context["derivations"]] == ["gap"]
    assert mistakes_handout([gap]) is None


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_find_the_mistake_sheet_with_its_solution_page(slip, tmp_path):
    handout = mistakes_handout([slip])
    (built,) = write_handouts([handout], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = subprocess.run(["pdftotext", "-layout", str(built.pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    parts = re.split(r"^Solutions\s*$", text, maxsplit=1, flags=re.M)  # the heading, not the pointer to it
    assert len(parts) == 2, "no solution page"
    questions, solutions = parts
    assert "The gap, with one slip" in questions and "Exactly one step is wrong" in questions
    for tell in ("refuted", "proved", "counterexample", "Step 3 is wrong"):
        assert tell not in questions  # the students' part has no verdicts
    assert "Step 3 is wrong" in solutions
    assert "example 1" in solutions  # where the counterexample comes from
    assert "0.383576" in solutions and "0.056633" in solutions  # both sides at the counterexample
    assert "p(z | x)" in solutions.replace("\n", " ") or "p(z |" in solutions  # the repair
    pages = subprocess.run(["pdfinfo", str(built.pdf)], capture_output=True, text=True,
                           timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert "Pages:" in pages and int(pages.split("Pages:")[1].split()[0]) >= 2  # solutions on their own page


def test_expect_refuted_without_a_list_means_exactly_one_mistake():
    """A file whose every step is wrong is not a "find the mistake" sheet."""
    text = SLIP.read_text("utf-8").replace("expect_refuted = [3]", 'expect = "refuted"')
    report = report_of(text.replace(SLIP_STEP_1, SLIP_STEP_1_WRONG))
    assert [s.verdict for s in report.steps].count("refuted") >= 2
    assert not report.ok and not any(s.expected_refuted for s in report.steps)
    assert "exactly one step must be refuted" in derivation_text(report)


def test_a_teaching_files_claim_must_be_defined():
    text = SLIP.read_text("utf-8").replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"',
                                           'claim = "log(p(x)) - ELBO(q) = log(p(z) - p(z))"')
    report = report_of(text)
    assert not report.ok and any("not shown to be defined" in p for p in report.problems)


def test_explain_exits_like_check_on_a_teaching_file(capsys):
    from elbo_sym.cli import main

    assert main(["explain", str(SLIP)]) == 0
    assert "teaching file" in capsys.readouterr().out

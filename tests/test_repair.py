"""Teaching repairs that teach (issue 16, part 5) and the notebook status line of teaching files.

For an `=` step a repair that keeps `=` (a sign, a swapped KL, a conditional turned round,
a term too many or too few) ranks before weakening the step to an inequality; a refuted
step shows the file's own example as its counterexample when that refutes it; a teaching
file's own `repair = "..."` is checked (the step and the chain must hold with it) and printed
in the find-the-mistake solution instead of the generated suggestion.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.engine.repair import (
    _with_authored_repairs,
    candidates,
    check_with_suggestions,
    plain,
    term_additions,
)
from elbo_sym.report.build import check_file
from elbo_sym.report.display import show, status_line
from elbo_sym.report.model import DerivationReport
from elbo_sym.report.text import derivation_text

EXAMPLE_PRIOR = ("1/2", "1/4", "1/4")

# A student's decomposition of the ELBO, K = 3, with a 3-state example; {claim}, {step3},
# {step4} and {extra} (more keys of step 4) are filled in by each test.
TEMPLATE = """title = "Reconstruction and KL"
summary = "A student's decomposition of the ELBO. One step is wrong."
K = {K}
expect_refuted = [{wrong}]
claim = "{claim}"
start = "ELBO(q)"

[[step]]
rel = "="
expr = "Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "definition"
why = "definition of the ELBO"

[[step]]
rel = "="
expr = "Sum(q(z) * log(p(x | z) * p(z) / q(z)), z)"
rule = "bayes"
why = "product rule"

[[step]]
rel = "="
expr = "{step3}"
rule = "logarithm"
why = "split the logarithm and the sum"

[[step]]
rel = "="
expr = "{step4}"
rule = "definition"
why = "an expectation and a KL divergence"
{extra}
[[example]]
prior = ["1/2", "1/4", "1/4"]
likelihood = ["1/5", "3/5", "1/2"]
q = ["1/3", "1/3", "1/3"]
"""
RIGHT_3 = "Sum(q(z) * log(p(x | z)), z) + Sum(q(z) * log(p(z) / q(z)), z)"
RIGHT_4 = "E(q, log(p(x | z))) - KL(q(z), p(z))"
RIGHT_CLAIM = "ELBO(q) = E(q, log(p(x | z))) - KL(q(z), p(z))"


def teaching(step4: str = RIGHT_4, step3: str = RIGHT_3, wrong: int = 4, claim: str = RIGHT_CLAIM,
             extra: str = "", K: str = "3") -> str:
    return TEMPLATE.format(step3=step3, step4=step4, wrong=wrong, claim=claim, extra=extra, K=K)


def wrong_step(text: str, name: str = "slip.toml"):
    result = check_with_suggestions(loads(text, name))
    (refuted,) = [r for r in result.steps if r.verdict is Verdict.refuted]
    return refuted


# ---------------------------------------------------------------------------- '=' repairs rank first


@pytest.mark.parametrize("K", ["3", '"any"'])
def test_sign_slip_keeps_equals_flips_the_sign_and_shows_the_files_example(K):
    """Reconstruction *plus* KL: the repair is the sign, not "the step is an inequality"
    (which is true of it too), and the counterexample is the file's own 3-state example --
    also for K = "any", where the search starts at K = 2."""
    step = wrong_step(teaching(step4="E(q, log(p(x | z))) + KL(q(z), p(z))", K=K))
    g = step.suggestion
    assert g.rel == "=" and g.changes == ("expr",)
    assert g.description == "flip the sign of the term KL(q(z), p(z))"
    assert g.expr == RIGHT_4
    c = step.counterexample
    assert c.source == "example 1" and c.prior == EXAMPLE_PRIOR
    # the weakening was on offer, and holds: the ranking is what put the sign first
    ranked = candidates(step.step)
    weakenings = [i for i, c in enumerate(ranked) if c.rel != "="]
    signs = [i for i, c in enumerate(ranked) if c.text == RIGHT_4]
    assert weakenings and signs and signs[0] < weakenings[0]


def test_sign_slip_carried_into_the_next_step_still_keeps_equals():
    """The issue's case: the slip in step 3, carried into step 4, so every '='-keeping repair
    of step 3 breaks step 4 while "rel = <=" by kl-nonneg keeps the chain. The sign still wins
    (and says what it breaks)."""
    step = wrong_step(teaching(step3="Sum(q(z) * log(p(x | z)), z) - Sum(q(z) * log(p(z) / q(z)), z)",
                               step4="E(q, log(p(x | z))) + KL(q(z), p(z))", wrong=3,
                               claim="ELBO(q) = E(q, log(p(x | z))) + KL(q(z), p(z))", K='"any"'))
    g = step.suggestion
    assert g.rel == "=" and g.rule == "logarithm" and g.changes == ("expr",)
    assert g.expr == RIGHT_3
    assert g.description.startswith("flip the sign of the term") and "step 4 no longer follows" in g.description
    assert step.counterexample.source == "example 1"


def test_swapped_kl_arguments_get_the_equals_keeping_repair():
    step = wrong_step(teaching(step4="E(q, log(p(x | z))) - KL(p(z), q(z))"))
    g = step.suggestion
    assert (g.description, g.rel, g.expr, g.changes) == ("swap the two arguments of KL", "=", RIGHT_4, ("expr",))
    assert step.counterexample.source == "example 1"


def test_dropped_term_is_added_back_rather_than_weakening_the_step():
    """ELBO(q) = E(q, log(p(x | z))) drops the KL term; ELBO(q) <= E(q, log(p(x | z))) by
    kl-nonneg holds, but the repair that teaches puts the term back."""
    step = wrong_step(teaching(step4="E(q, log(p(x | z)))"))
    g = step.suggestion
    assert g.rel == "=" and g.changes == ("expr",) and g.rule == "definition"
    assert g.expr == RIGHT_4 and g.description == "add the missing term -KL(q(z), p(z))"
    ranked = candidates(step.step, ("Sum(q(z) * log(p(x | z)), z)", "ELBO(q)", RIGHT_4))
    assert any(c.rel == "<=" and c.rule == "kl-nonneg" for c in ranked)  # the weakening ranks later


def test_extra_term_is_dropped():
    step = wrong_step(teaching(step4="E(q, log(p(x | z))) - KL(q(z), p(z)) + H(q)"))
    g = step.suggestion
    assert (g.description, g.rel, g.expr) == ("drop the term H(q)", "=", RIGHT_4)


def test_swapped_conditional_is_turned_round():
    """p(z | x) written for p(x | z) in the product rule: the conditional turned round."""
    text = teaching().replace('expr = "Sum(q(z) * log(p(x | z) * p(z) / q(z)), z)"',
                              'expr = "Sum(q(z) * log(p(z | x) * p(z) / q(z)), z)"')
    text = text.replace("expect_refuted = [4]\n", "")  # an ordinary file: steps 2 and 3 are refuted
    result = check_with_suggestions(loads(text, "cond.toml"))
    second, third = result.steps[1], result.steps[2]
    assert second.verdict is Verdict.refuted and second.suggestion.rel == "="
    assert second.suggestion.description == "write p(x | z) instead of p(z | x)"
    assert second.suggestion.expr == "Sum(q(z) * log(p(x | z) * p(z) / q(z)), z)"
    assert third.verdict is Verdict.refuted and "once step 2 is repaired" in third.suggestion.description


def test_missing_terms_come_from_the_neighbours_and_the_lessons_quantities():
    edits = {plain(wording): text for wording, text in term_additions("E(q, log(p(x | z)))", ("ELBO(q) - H(q)",))}
    assert edits["add the missing term H(q)"] == "E(q, log(p(x | z))) + H(q)"
    assert edits["add the missing term -KL(q(z), p(z | x))"] == "E(q, log(p(x | z))) - KL(q(z), p(z | x))"
    assert not any("E(q, log(p(x | z)))" in d for d in edits)  # a term it has is not added again


HOLLOW = """title = "t"
model = "gaussian"
assume = ["n >= 35", "n <= 40"]
start = "(n - 35)*(39 - n)"
[params]
n = "integer >= 1"
[[step]]
rel = ">="
expr = "0"
rule = "algebra"
"""


def test_no_term_is_added_to_zero(tmp_path, capsys):
    """red team rt36's M2: X >= 0, refuted, was "repaired" as expr = "0 + X": X >= X holds and says
    nothing. 0 has no missing term, with either sign; the refutation stays, with no suggestion."""
    for zero in ("0", " -0 "):
        assert term_additions(zero, ("(n - 35)*(39 - n)", "ELBO(q) - H(q)")) == []
    path = tmp_path / "hollow.toml"
    path.write_text(HOLLOW, encoding="utf-8")
    assert main(["check", str(path), "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "✗ refuted" in out and "n = 40" in out
    assert "0 + (n - 35)" not in out and "suggestion" not in out, out


# ---------------------------------------------------------------------------- the file's own repair

SIGN_SLIP = "E(q, log(p(x | z))) + KL(q(z), p(z))"


def with_repair(repair: str, **kwargs) -> str:
    return teaching(step4=SIGN_SLIP, extra=f'repair = "{repair}"\n', **kwargs)


def test_a_repair_is_named_like_the_generated_ones_or_as_the_intended_correction():
    dropped = check_file(loads(teaching(step4="E(q, log(p(x | z)))", extra=f'repair = "{RIGHT_4}"\n'), "d.toml"))
    assert dropped.ok and dropped.steps[3].suggestion.description == "add the missing term -KL(q(z), p(z))"
    # the same identity written another way: no generated edit, but proved and the claim shown
    other = "Sum(q(z) * log(p(x | z)), z) - KL(q(z), p(z))"
    report = check_file(loads(with_repair(other), "o.toml"))
    assert report.ok and report.steps[3].suggestion.authored
    assert report.steps[3].suggestion.description == "the intended correction"


def test_a_right_repair_passes_and_is_the_steps_repair(tmp_path, capsys):
    report = check_file(loads(with_repair(RIGHT_4), "fixed.toml"))
    assert report.ok
    step = report.steps[3]
    assert step.verdict == "refuted" and step.suggestion.authored and step.suggestion.expr == RIGHT_4
    assert step.suggestion.description == "flip the sign of the term KL(q(z), p(z))"  # named like a generated one
    assert "repair (the file's, checked): flip the sign" in derivation_text(report)
    back = DerivationReport.from_dict(json.loads(json.dumps(report.to_dict())))  # --json and the cache
    assert back == report and back.steps[3].suggestion.authored
    path = tmp_path / "fixed.toml"
    path.write_text(with_repair(RIGHT_4), "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 0


@pytest.mark.parametrize("repair, claim, message", [
    # the repaired step itself does not hold
    ("E(q, log(p(x | z))) - KL(p(z), q(z))", RIGHT_CLAIM, 'step 4: repair = "E(q, log(p(x | z))) - KL(p(z), q(z))" '
                                                          "is refuted, not proved"),
    # it holds, but the chain with it does not show the claim (the file states the wrong conclusion)
    (RIGHT_4, "ELBO(q) = " + SIGN_SLIP, "with the repairs the chain does not establish the claim"),
])
def test_a_wrong_repair_fails_the_file_with_a_message(tmp_path, capsys, repair, claim, message):
    text = with_repair(repair, claim=claim)
    report = check_file(loads(text, "wrong.toml"))
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems
    assert report.steps[3].suggestion is None or not report.steps[3].suggestion.authored  # never printed
    path = tmp_path / "wrong.toml"
    path.write_text(text, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 1
    assert message in capsys.readouterr().out


def test_a_repair_that_breaks_the_next_step_fails_the_file():
    """Step 3 repaired, but step 4 was written from the wrong step 3: the chain is not fixed."""
    text = teaching(step3="Sum(q(z) * log(p(x | z)), z) - Sum(q(z) * log(p(z) / q(z)), z)", step4=SIGN_SLIP,
                    wrong=3, claim="ELBO(q) = " + SIGN_SLIP)
    text = text.replace('rule = "logarithm"\n', f'rule = "logarithm"\nrepair = "{RIGHT_3}"\n')
    report = check_file(loads(text, "middle.toml"))
    assert not report.ok
    assert any("step 4 no longer follows" in p for p in report.problems), report.problems


def test_an_unchecked_repair_is_a_problem_never_printed():
    """Out of time before the repair was checked: the file fails, the repair is not shown."""
    derivation = loads(with_repair(RIGHT_4), "late.toml")
    from elbo_sym.engine.check import check_derivation

    result = _with_authored_repairs(check_derivation(derivation), derivation.model(), 10.0, 0.0)
    assert any("could not check the file's repairs" in p for p in result.problems)
    assert all(r.suggestion is None for r in result.steps)


@pytest.mark.parametrize("text, step", [
    # a repair on a file that is not a teaching file
    ('title = "t"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">="\nexpr = "ELBO(q)"\nrule = "jensen"\n'
     'repair = "ELBO(q)"\n', 1),
    # on a step of a teaching file that is not its mistake
    (teaching(step4=SIGN_SLIP).replace('rule = "bayes"\n', 'rule = "bayes"\nrepair = "ELBO(q)"\n'), 2),
])
def test_a_misplaced_repair_is_bad_input(text, step):
    with pytest.raises(DerivationError) as info:
        loads(text, "misplaced.toml")
    assert "only a step listed in expect_refuted" in str(info.value) and info.value.step == step
    assert text.splitlines()[info.value.line - 1] == 'repair = "ELBO(q)"'  # the line of the key


def test_a_repair_that_does_not_parse_names_file_line_and_column(tmp_path, capsys):
    text = with_repair("E(q, log(p(x | z))) - KL(q(z), p(w))")
    with pytest.raises(DerivationError) as info:
        loads(text, "typo.toml")
    error = info.value
    line = text.splitlines()[error.line - 1]
    assert line.startswith("repair = ") and error.step == 4 and "repair:" in error.message
    assert line[error.column] == "w"
    path = tmp_path / "typo.toml"
    path.write_text(text, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 2
    assert f"typo.toml:{error.line}:{error.column + 1}: step 4: repair:" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the solution, printed


@pytest.fixture(scope="module")
def repaired():
    return check_file(loads(with_repair(RIGHT_4), "decomposition-slip.toml"))


def test_web_solution_prints_the_files_repair(repaired):
    from elbo_sym.publish.web import mistakes_page

    page = mistakes_page([repaired], "separate")
    solution = page.body.split("Solution", 1)[1]
    assert "the intended correction, checked" in solution
    assert "**Repair.** Flip the sign of the term" in solution
    assert "example 1" in solution


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_solution_pdf_prints_the_files_repair_and_example(repaired, tmp_path):
    from elbo_sym.publish.handouts import mistakes_handout, write_handouts

    (built,) = write_handouts([mistakes_handout([repaired])], tmp_path)
    assert built.ok, built.message + built.log_excerpt
    text = subprocess.run(["pdftotext", "-layout", str(built.pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=CHILD_TIMEOUT_SECONDS).stdout
    questions, solutions = re.split(r"^Solutions\s*$", text, maxsplit=1, flags=re.M)
    assert "intended correction" not in questions and "Repair" not in questions
    flat = " ".join(solutions.split())
    assert "Step 4 is wrong" in flat
    assert "A counterexample (example 1)" in flat
    assert re.search(r"Repair\. Flip the sign of the term KL.{0,20}\(the intended correction, checked\); "
                     r"rule: definition\.", flat), flat
    assert flat.count("Eq(z) [log p(x | z)] − KL q(z) ∥ p(z)") == 1  # the repaired step, printed once
    assert "inequality" not in flat  # no weakening offered as the repair


# ---------------------------------------------------------------------------- the notebook status line


def test_notebook_shows_a_passing_teaching_file_as_passing(repaired):
    assert status_line(repaired) == "✓ teaching file: step 4 refuted as expected"
    html = show(repaired)._repr_html_()
    assert "✓ teaching file: step 4 refuted as expected" in html and "NOT established" not in html


def test_notebook_shows_a_failing_teaching_file_as_failing():
    report = check_file(loads(teaching(), "nothing-wrong.toml"))  # step 4 marked, but it is right
    line = status_line(report)
    assert line.startswith("✗ teaching file, NOT as expected") and "step 4 is proved (expected refuted)" in line

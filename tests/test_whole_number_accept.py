"""accept = "checked" and a whole-number parameter (session 19, h-eng9; red team rt42 F10's refusal).

The refusal is for a whole number the search tries at a few values only.  One the exact decision
covered at every value (a polynomial in it, decided for every n >= 1: `Searched.covered`) is not such a
number, so a step the exact decision found true for every n, under a rule other than `algebra`, passes
with accept; a step the exact decision could not cover stays refused.
"""

from __future__ import annotations

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads


def step_of(start: str):
    text = (f'title = "t"\nmodel = "gaussian"\nstart = "{start}"\n\n[params]\nn = "integer >= 1"\n\n'
            '[[step]]\nrel = ">"\nexpr = "0"\nrule = "definition"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=120.0).steps[0]


def test_a_whole_number_the_exact_decision_covered_is_accepted():
    step = step_of("(n - 40)**2 + 1")
    assert step.verdict is Verdict.checked and step.passes, step.reason
    assert "for every whole number n >= 1" in step.reason and "cannot vouch" not in step.reason
    assert step.searched is not None and "n" in step.searched.covered


def test_a_whole_number_no_decision_covered_is_still_refused():
    step = step_of("((n - 40)**2 + 1) * (mu**2 + log(sigma**2 + 1) + 1)")
    assert step.verdict is Verdict.error and not step.passes, step.reason
    assert "n is a whole number the search tries only at a few values" in step.reason
    assert step.searched is not None and "n" not in step.searched.covered

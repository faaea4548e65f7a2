"""A counterexample's side outside the exact class written as what it is (h-rt47's note).

A value with an exp of a rational (exp(1000) at a special instance, exp(2**41) at a parameter's far end) has no
exact value in the checker's class (rationals and logs), and its side was printed "(not in closed form) ≈ inf":
nothing said what it was.  Now the side at the point is written when it has no symbol left and is short.
"""

from __future__ import annotations

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine."""


def test_an_exp_of_a_rational_is_printed_as_itself():
    text = ('title = "t"\nK = 2\nstart = "exp(beta)"\n\n[params]\nbeta = "> 0"\n\n'
            '[[step]]\nrel = "<"\nexpr = "beta**12"\nrule = "algebra"\naccept = "checked"\n')
    step = check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]
    assert step.verdict is Verdict.refuted, step.reason
    (beta,) = dict(step.counterexample.values)["beta"]
    assert step.counterexample.lhs == f"exp({beta})", step.counterexample.lhs
    latex = step.counterexample.lhs_latex  # typeset too (a handout's counterexample), not left blank
    assert latex.startswith(r"\exp") and beta in latex, latex

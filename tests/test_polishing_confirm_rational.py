"""The 180-digit polishing's point is rounded and decided too (session 22, h-eng12).

``(log(t) - log(2)/2)**2 > ((1/10**12)**12)**2`` is false within 1e-144 of t = sqrt(2).  Its polished minimum
falls from 6e-142 (60 digits) to 6e-262 (120) as a meeting's would, then stays at -1e-288 at CONFIRM_DIGITS:
no meeting is confirmed, and the rationals 10**-60 and 10**-120 from the point miss the sliver by about
10**(-2 * digits) -- it passed with accept.  The 180-digit point's rational refutes it.  (The pass at up to
600 digits this replaces never ran: docs/02, red team rt51 F4.)
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest

from elbo_sym.engine import polishing
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
TINY = "((1/10**12)**12)**2"
"""10**-288, as the file writes it (exponents above 12 are refused)."""
SLIVER = "(log(t) - log(2)/2)**2"


def step_of(start: str, rel: str, rhs: str):
    text = (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\nt = "> 0"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


@pytest.mark.full
def test_a_failure_only_the_180_digit_rational_sees_is_refuted():
    step = step_of(SLIVER, ">", TINY)
    assert step.verdict is Verdict.refuted, step.reason
    assert "polished to 180 digits" in step.counterexample.source, step.counterexample.source
    t = dict(step.counterexample.values)["t"][0]
    with mpmath.mp.workdps(700):  # the test's own arithmetic: the point lies on the sliver
        value = Fraction(t)
        at = mpmath.mpf(value.numerator) / value.denominator
        assert (mpmath.log(at) - mpmath.log(2) / 2) ** 2 <= mpmath.mpf(10) ** -288


@pytest.mark.full
def test_the_true_sibling_stays_checked():
    step = step_of(f"{SLIVER} + {TINY}", ">", f"{TINY}/2")
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_the_180_digit_rational_the_false_step_passes(monkeypatch):
    """The mutant: the confirmation's point is not rounded (as before) -- the false step is `checked`."""
    rounded = polishing._rounded
    monkeypatch.setattr(polishing, "_rounded", lambda site, polished: iter(()) if polished is not None and
                        polished.digits == polishing.CONFIRM_DIGITS else rounded(site, polished))
    step = step_of(SLIVER, ">", TINY)
    assert step.verdict is Verdict.checked and step.passes, step.reason

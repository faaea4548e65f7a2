"""Red team rt51 F3: a TRUE strict step refuted at an algebraic point where its sides were never equal.

``log(p(x)) - ELBO(q) + p(x) > 0`` (Gaussian, D = 1) is KL(q, p(z | x)) + p(x) > 0. The search solved
where the difference's logs vanish (w = 0, sigma = 1: engine.check._logs_vanish_where), b = 700 and
s = 4.6e-10 there, so p(x) = exp(-1.2e24). Certified intervals of the whole difference (logs of size
1e24 that cancel) could not separate that from 0, and `_Instances.meets_at` took the undecided sign as
"equal": a false counterexample, "both sides are exactly equal there". Now the exact-class terms are
summed exactly and the rest enclosed alone (numbers.evaluate.closed_sign); where only the logs vanish,
left - right is the rest of the canonical form (p(x) here), which must be shown 0; and a sign still
undecided is never "equal": the step is an `error` there, not refuted (and not `checked`).

Every step in TRUE_STEPS is true; main (afd570c) refuted the first two.
"""

from __future__ import annotations

import pytest
from sympy import CRootOf, Rational, Symbol, exp, log, pi, sqrt, sympify
from test_redteam_rt50 import step_of  # `start > 0` with accept, checked at a 120 s backstop

from elbo_sym.engine import check
from elbo_sym.engine.check import SIDES_UNDECIDED, Verdict
from elbo_sym.numbers import evaluate
from elbo_sym.numbers.evaluate import closed_sign

GAUSSIAN = 'model = "gaussian"\nD = 1'

TRUE_STEPS = [  # (head, start, params): each step is `start > 0`
    (GAUSSIAN, "log(p(x)) - ELBO(q) + p(x)", ""),                                   # F3 (u2)
    (GAUSSIAN, "log(p(x)) - ELBO(q) + exp(-(x - b)**2 * 10**12 * 10**12)", ""),      # a sibling, refuted on main
    (GAUSSIAN, "log(p(x)) - ELBO(q) + p(x)**3", ""),
    (GAUSSIAN, "sigma**2 - 1 - 2*log(sigma) + p(x)", ""),
    ("K = 2", "s - 1 - log(s) + exp(-t**12 * 10**12)", 's = "> 0"\nt = "> 1"'),
    ("K = 2", "KL(q(z), p(z)) + exp(-t**12)", 't = "real"'),
]

THE_F3_POINT = sympify(  # left - right at the point main printed: logs that cancel exactly, beside p(x)
    "log(23/50000000000) + exp(-55413601751250000000000000000000/47927929 - log(529*pi/1250000000000000000000)/2)"
    " + log(2)/2 + log(pi)/2 - log(529*pi/1250000000000000000000)/2")


def test_the_f3_points_difference_is_positive():
    """exp(-1.2e24) beside logs that cancel exactly: positive, decided (main: None, taken as equal)."""
    assert closed_sign(THE_F3_POINT) == 1


@pytest.mark.parametrize("e, expected", [
    (log(2 * sqrt(2)) - Rational(3, 2) * log(2), 0),                   # exactly 0: exact algebra
    (log(sqrt(2)) - log(2) / 2 + exp(-10**20), 1),                     # 0 beside a term no interval reaches
    (log(sqrt(2)) - log(2) / 2 - exp(-10**20) * pi, -1),
    pytest.param(log(CRootOf(Symbol("x")**3 - 2, 0)**3) - log(2), 0,  # 0: the log's argument is exactly 2
                 marks=pytest.mark.full),                              # (session 22: closed_sign's _rational_logs)
])
def test_closed_sign_is_exact_or_undecided(e, expected):
    assert closed_sign(e) == expected


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", TRUE_STEPS)
def test_a_true_step_with_a_term_beyond_the_floats_is_never_refuted(head, start, params):
    step = step_of(head, start, params)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_an_undecided_difference_is_an_error_not_a_refutation(monkeypatch):
    """Every value with an exp in it undecided at an algebraic point (the whole difference, and the rest
    left where the logs vanish): the step is an `error` naming the point -- main's meets_at took the same
    None as "equal" and refuted the step."""
    def undecided_with_exp(e):
        return None if e.has(exp) else closed_sign(e)

    monkeypatch.setattr(check, "closed_sign", undecided_with_exp)
    step = step_of(*TRUE_STEPS[0])
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_UNDECIDED), step.reason
    assert "sigma = 1" in step.reason and "w = 0" in step.reason


@pytest.mark.full
def test_where_the_logs_vanish_the_rest_decides(monkeypatch):
    """The whole difference undecided (main's closed_sign, no exact-class split): the rest of the canonical
    form, p(x) there, is positive -- the step stays checked; rt49 F10's logs-only step is still refuted."""
    monkeypatch.setattr(evaluate, "_sign_beside_exact_terms", lambda *forms: None)
    assert closed_sign(THE_F3_POINT) is None
    step = step_of(*TRUE_STEPS[0])
    assert step.verdict is Verdict.checked and step.passes, step.reason

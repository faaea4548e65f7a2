"""A float minimum near 0 polished at high precision (numbers.polish, engine.polishing; red team rt46 F2, F3, F7).

* F2: a non-strict step false only on a sliver 10**-48 thin, with logs left (no polynomial to solve), passed
  with accept; now a rational 10**-60 from the polished minimum is decided exactly, and it fails there.
* F7: a strict step false only at an irrational point with no rational coordinate (two constraints met at
  once) passed with accept; now the polished minimum shows the sides meeting -- a genuine meeting (converged,
  |left - right| falling with the precision, well inside the domain and the premises) -- and the step is an
  `error` that names the point and says what the search could not do (F3: not "not an algebraic number").
* The true strict steps whose sides only come near each other -- the lesson's log(p(x)) > ELBO(q) under
  q(z) != p(z | x), a Gaussian density > 0 that underflows (rt46 F1, F4) -- stay `checked`: in
  tests/test_redteam_rt43.py, and here the mutants that show each guard is needed.

The oracles are the tests' own: the printed counterexample read back as fractions and the step's vanishing
part evaluated there in Fraction (or mpmath at 100 digits for a log).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from sympy import Rational, exp, log, symbols

from elbo_sym.cli import main
from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.numbers.evaluate import compile_mp
from elbo_sym.numbers.polish import polish

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
GAUSSIAN = 'model = "gaussian"'
SLIVER = "(1/10**12)**4"
"""10**-48, as rt46 wrote it."""


def derivation(head: str, start: str, rel: str, rhs: str, assume: str = "", params: str = "") -> str:
    premise = f'assume = "{assume}"\n' if assume else ""
    block = f"\n[params]\n{params}\n" if params else ""
    return (f'title = "t"\n{head}\n{premise}start = "{start}"\n{block}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\naccept = "checked"\n')


def step_of(text: str):
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def mpf(r: Fraction):
    return mpmath.mpf(r.numerator) / r.denominator


def fractions(step, label: str) -> list[Fraction]:
    return [Fraction(v) for v in dict(step.counterexample.values)[label]]


# --------------------------------------------------------------------------- numbers.polish (fast)

t, s = symbols("t s")


def polished(e, start, digits=60):
    names = (t, s)[:len(start)]
    return polish(lambda working: compile_mp(e, names, working), start, digits, lambda: None)


def test_a_square_root_is_polished_to_the_digits_asked():
    e = (t**2 + (1 - t) ** 2 - Rational(3, 5)) ** 2  # 0 at t = 1/2 - sqrt(5)/10
    result = polished(e, [0.2764])
    assert result is not None and result.converged
    with mpmath.mp.workdps(100):
        root = mpmath.mpf(1) / 2 - mpmath.sqrt(5) / 10
        assert abs(result.point[0] - root) < mpmath.mpf(10) ** -55
        assert abs(result.value) < mpmath.mpf(10) ** -110


def test_two_constraints_met_at_once_are_polished_together():
    e = (t**2 + s**2 - 3) ** 2 + (t * s - 1) ** 2  # the golden ratio and its inverse (rt46 b4)
    first = polished(e, [1.618, 0.618])
    second = polished(e, list(first.point), 120)
    assert first.converged and second.converged
    with mpmath.mp.workdps(30):
        assert abs(second.value) < abs(first.value) * mpmath.mpf(10) ** -100  # a genuine zero: falls


def test_a_curve_of_minima_is_reached_along_its_normal():
    e = (t**2 + (1 - t) ** 2 - Rational(3, 5)) ** 2 * log(s - 1) ** 2  # 0 on the line t = t0, any s (rt46 c2)
    result = polished(e, [0.2764, 1.5])
    assert result is not None and result.converged
    with mpmath.mp.workdps(30):
        assert abs(result.value) < mpmath.mpf(10) ** -100 and abs(result.point[1] - 1.5) < 1e-3


def test_a_tail_does_not_converge_and_a_positive_minimum_does_not_fall():
    tail = polished(exp(-t**2 / 2), [8.0])  # a density's tail: no minimum to converge to
    assert tail is not None and not tail.converged
    positive = (t**2 + (1 - t) ** 2 - Rational(3, 5)) ** 2 + Rational(1, 10**12)
    first = polished(positive, [0.2764])
    second = polished(positive, list(first.point), 120)
    with mpmath.mp.workdps(30):
        assert abs(second.value * 10**12 - 1) < mpmath.mpf(10) ** -25 and first.converged  # stays 10**-12


def test_no_number_at_the_start_is_no_minimum():
    assert polished(log(t - 1), [0.5]) is None


# --------------------------------------------------------------------------- F2: refuted at a rational


@pytest.mark.full
def test_a_sliver_with_logs_left_is_refuted_at_a_rational_beside_the_polished_minimum():
    step = step_of(derivation("K = 2", "(log(E(q, q(z))) - log(3/5))**2", ">=", SLIVER))  # rt46 g6
    assert step.verdict is Verdict.refuted, step.reason  # before: checked, accepted, exit 0
    assert "polished to" in step.counterexample.source
    q = fractions(step, "q(z)")
    assert sum(q) == 1 and all(v > 0 for v in q)
    with mpmath.mp.workdps(200):  # the test's own arithmetic: the left side is below 10**-48 there
        left = (mpmath.log(mpf(q[0] ** 2 + q[1] ** 2)) - mpmath.log(mpmath.mpf(3) / 5)) ** 2
        assert left < mpmath.mpf(10) ** -48


@pytest.mark.full
def test_a_gaussian_sliver_at_sigma_e_is_refuted(tmp_path: Path, capsys):
    path = tmp_path / "g1.toml"
    path.write_text(derivation(GAUSSIAN, "(log(sigma) - 1)**2", ">=", SLIVER), "utf-8")  # rt46 g1
    assert main(["check", str(path), "--no-cache"]) == 1
    assert "refuted" in capsys.readouterr().out
    (sigma,) = fractions(step_of(path.read_text("utf-8")), "sigma")
    with mpmath.mp.workdps(200):
        assert (mpmath.log(mpf(sigma)) - 1) ** 2 < mpmath.mpf(10) ** -48


# --------------------------------------------------------------------------- F7, F3: the sides meet


MEETINGS = [
    ("K = 3", "(E(q, q(z)) - 7/18)**2 + (E(q, q(z)**2) - 503/3000)**2", "", "q(z) ≈ (0.505704, 0.173026, 0.32127)"),
    (GAUSSIAN, "(mu**2 + sigma**2 - 3)**2 + (mu*sigma - 1)**2", "", "mu ≈ 1.61803, sigma ≈ 0.618034"),  # rt46 b4
    ("K = 2", "(log(E(q, q(z))) - log(3/5))**2", "", "q(z) ≈ (0.276393, 0.723607)"),  # rt46 g8, F3
    ("K = 2", "(E(q, q(z)) - 3/5)**2*log(beta - 1)**2", 'beta = "in (1, 2)"', "q(z) ≈ (0.276393, 0.723607)"),  # c2
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params, where", MEETINGS)
def test_a_strict_step_whose_sides_meet_at_no_exact_point_is_an_error(head, start, params, where):
    step = step_of(derivation(head, start, ">", "0", params=params))
    assert step.verdict is Verdict.error and not step.passes, step.reason  # before: checked, accepted, exit 0
    assert step.reason.startswith(SIDES_MEET) and where in step.reason, step.reason
    assert "algebraic number" not in step.reason  # rt46 F3: the point may well be algebraic


@pytest.mark.full
def test_the_meeting_fails_the_command(tmp_path: Path, capsys):
    path = tmp_path / "b3.toml"
    path.write_text(derivation("K = 3", MEETINGS[0][1], ">", "0"), "utf-8")
    assert main(["check", str(path), "--no-cache"]) == 1
    assert "meet at a point the search cannot give exactly" in capsys.readouterr().out


# --------------------------------------------------------------------------- the guards (mutants)


@pytest.mark.full
@pytest.mark.parametrize("head, start, rhs", [
    ("K = 2", "(E(q, q(z)) - 3/5)**2 + (1/10**12)**5", "0"),  # positive minimum 10**-60 inside the domain
    (GAUSSIAN, "exp(-KL(q(z), p(z)))", "0"),  # rt46 x2: underflows far out
])
def test_true_strict_steps_that_come_near_equality_stay_checked(head, start, rhs):
    step = step_of(derivation(head, start, ">", rhs))
    assert step.verdict is Verdict.checked and step.accepted, step.reason


@pytest.mark.full
def test_without_the_fall_with_precision_a_positive_minimum_is_taken_for_a_meeting(monkeypatch):
    """Mutant: a minimum that does not fall from 60 to 120 digits counted as a meeting -- a true step errs."""
    text = derivation("K = 2", "(E(q, q(z)) - 3/5)**2 + (1/10**12)**5", ">", "0")
    assert step_of(text).verdict is Verdict.checked
    monkeypatch.setattr(polishing, "_gap_falls", lambda first, second: True)
    monkeypatch.setattr(polishing, "_confirmed", lambda *a: True)  # rt51's third precision would catch it too
    step = step_of(text)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


@pytest.mark.full
def test_without_the_premise_margin_the_lessons_strict_step_errs(monkeypatch):
    """Mutant: a meeting on a premise's edge counted -- the lesson's log(p(x)) > ELBO(q) under q(z) != p(z | x)
    meets exactly where the premise excludes (rt46 F1), and would be an error."""
    text = derivation("K = 2", "log(p(x))", ">", "ELBO(q)", assume="q(z) != p(z | x)")
    assert step_of(text).verdict is Verdict.checked
    monkeypatch.setattr(polishing, "_holds_at_limit",  # a margin falling to 10**-120 counted as inside
                        lambda first, second, closed: bool(second >= 0 if closed else second > 0))
    step = step_of(text)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


@pytest.mark.full
def test_without_the_polishing_the_reproducers_pass(monkeypatch):
    """Mutant: no polished minimum -- rt46's g6 and b3 are checked and accepted again."""
    from elbo_sym.engine import check as check_module

    monkeypatch.setattr(check_module, "polished_instances", lambda *args, **kwargs: iter(()))
    for text in (derivation("K = 2", "(log(E(q, q(z))) - log(3/5))**2", ">=", SLIVER),
                 derivation("K = 3", MEETINGS[0][1], ">", "0")):
        step = step_of(text)
        assert step.verdict is Verdict.checked and step.accepted, step.reason

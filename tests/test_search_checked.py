"""A search worth the word "checked" (issue 15, item 3).

`accept = "checked"` lets a step pass on the evidence of a counterexample search, so the
search must look where the step's domain says it holds:

* ``K = "any"`` means every finite K *and* densities: statements false for densities
  (H(q) >= 0, log p(x) <= 0, p(z | x) <= 1) meet a Gaussian model; statements false from
  K = 6 on (H(q) <= log(5), Sum(q(z) * log(q(z)), z) >= -log(5); for an explicit K also
  Sum(q(z)**2, z) >= 1/5, which K = "any" refuses: docs/vocabulary.md section 16) meet K = 8;
* a strict inequality that fails only at an irrational point is refuted at an exact
  algebraic point (q = 1/2 + sqrt(5)/10), printed;
* the Gaussian tight case, with its log(pi) terms, is decided exactly, never skipped;
* true steps stay `checked`, and the report says which K and how many densities.

Each counterexample shown is re-checked here with the test's own arithmetic (Fractions,
mpmath, SymPy on the printed exact values), never with the engine's evaluators.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

import mpmath
import pytest
import sympy
from suite_sizes import sized

from elbo_sym.cli import main
from elbo_sym.engine.check import UNSEARCHED_DENSITIES, Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.models.general import SEARCH_K
from elbo_sym.limits import GENERAL_SEARCH_FULL_LARGER_K, GENERAL_SEARCH_LARGER_K
from elbo_sym.numbers import evaluate
from elbo_sym.numbers.evaluate import decide, sign_of
from elbo_sym.numbers.exact import PI_KEY, LogNumber, log_of
from elbo_sym.report.build import report_of
from elbo_sym.report.model import DerivationReport
from elbo_sym.report.text import derivation_text

# the campaigns here are sized (tests/suite_sizes.py): small in make test, full size in make test-full
pytestmark = pytest.mark.sized

BUDGET = 120.0
"""Generous: the machine running the suite may be shared.  A general claim's search runs a fixed
plan (limits.GENERAL_SEARCH_LARGER_K, GENERAL_SEARCH_FULL_LARGER_K: under 2 s CPU for a true step,
its work counted), so the budget is only a backstop: a larger one costs no time."""


def toml(start: str, rel: str, expr: str, K: int | str = 2, model: str = "discrete", accept: bool = True) -> str:
    k_line = "" if model == "gaussian" else (f'K = "{K}"' if K == "any" else f"K = {K}")
    return (f'title = "t"\nmodel = "{model}"\n{k_line}\nstart = "{start}"\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\n'
            + ('accept = "checked"\n' if accept else ""))


def step_of(text: str, budget: float = BUDGET):
    result = check_derivation(loads(text, "t.toml"), budget=budget)
    return result, result.steps[0]


def run_cli(tmp_path, capsys, text: str, budget: float = BUDGET) -> tuple[int, str]:
    path = tmp_path / "case.toml"
    path.write_text(text, "utf-8")
    code = main(["check", "--no-cache", "--budget", str(budget), str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def values(counterexample) -> dict[str, tuple[str, ...]]:
    return dict(counterexample.values)


def scalar(counterexample, name: str) -> mpmath.mpf:
    (text,) = values(counterexample)[name]
    f = Fraction(text)  # every coordinate of a Gaussian counterexample is an exact rational
    return mpmath.mpf(f.numerator) / f.denominator


def fractions(counterexample, label: str) -> tuple[Fraction, ...]:
    return tuple(Fraction(v) for v in values(counterexample)[label])


def normal_logpdf(v, mean, variance):
    return -mpmath.log(2 * mpmath.pi * variance) / 2 - (v - mean) ** 2 / (2 * variance)


# --------------------------------------------------------------------------- densities

def _entropy_negative(c) -> bool:
    sigma = scalar(c, "sigma")
    return (mpmath.log(2 * mpmath.pi * sigma ** 2) + 1) / 2 < 0


def _evidence_above_one(c) -> bool:
    w, b, s, x = (scalar(c, n) for n in ("w", "b", "s", "x"))
    return normal_logpdf(x, b, w ** 2 + s ** 2) > 0


def _posterior_density_above_one(c) -> bool:
    w, b, s, x, z = (scalar(c, n) for n in ("w", "b", "s", "x", "z"))
    mean, variance = w * (x - b) / (w ** 2 + s ** 2), s ** 2 / (w ** 2 + s ** 2)
    return normal_logpdf(z, mean, variance) > 0


FALSE_FOR_DENSITIES = [
    ("H(q)", ">=", "0", _entropy_negative),
    ("log(p(x))", "<=", "0", _evidence_above_one),
    ("p(z | x)", "<=", "1", _posterior_density_above_one),
]


@pytest.mark.full
@pytest.mark.parametrize("start, rel, expr, fails", FALSE_FOR_DENSITIES)
def test_false_for_densities_is_refuted_by_a_gaussian_density(tmp_path, capsys, start, rel, expr, fails):
    code, out = run_cli(tmp_path, capsys, toml(start, rel, expr, K="any"))
    assert code == 1, out
    _, step = step_of(toml(start, rel, expr, K="any"))
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    assert "Gaussian density" in c.source
    assert fails(c), c  # the test's own mpmath: the shown density really breaks the statement
    assert "refuted" in out and "Gaussian density" in out


@pytest.mark.full
@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("start, rel, expr, fails", FALSE_FOR_DENSITIES[:2])
def test_the_same_statements_hold_for_finite_K_and_stay_checked(K, start, rel, expr, fails):
    _, step = step_of(toml(start, rel, expr, K=K))
    assert step.verdict is Verdict.checked, step.reason  # true for every finite K: evidence, not proof
    assert step.searched is not None and step.searched.K == (K,) and step.searched.densities == 0
    assert f"(K = {K})" in step.reason


# --------------------------------------------------------------------------- K = 6 and beyond

def _sum_of_squares_small(c) -> bool:
    q = fractions(c, "q(z)")
    return sum(q) == 1 and all(v > 0 for v in q) and sum(v * v for v in q) < Fraction(1, 5)


def _entropy_above_log5(c) -> bool:
    q = fractions(c, "q(z)")
    assert sum(q) == 1 and all(v > 0 for v in q)
    return -sum(mpmath.mpf(v.numerator) / v.denominator * mpmath.log(mpmath.mpf(v.numerator) / v.denominator)
                for v in q) > mpmath.log(5)


FALSE_FROM_K6_EVERY_LATENT_SPACE = [
    ("H(q)", "<=", "log(5)", _entropy_above_log5),
    ("Sum(q(z) * log(q(z)), z)", ">=", "-log(5)", _entropy_above_log5),  # -H(q) >= -log(K) >= -log(5) for K <= 5
]
"""False from K = 6 on (uniform q), and in a shape K = "any" admits (a density times a log)."""
FALSE_FROM_K6 = [("Sum(q(z)**2, z)", ">=", "1/5", _sum_of_squares_small)] + FALSE_FROM_K6_EVERY_LATENT_SPACE
"""For an explicit K also the sum of squares, which K = "any" refuses (see REFUSED_FOR_EVERY_LATENT_SPACE)."""


@pytest.mark.full
@pytest.mark.parametrize("start, rel, expr, fails", FALSE_FROM_K6_EVERY_LATENT_SPACE)
def test_false_from_K6_is_refuted_at_a_larger_K(tmp_path, capsys, start, rel, expr, fails):
    code, out = run_cli(tmp_path, capsys, toml(start, rel, expr, K="any"))
    assert code == 1, out
    _, step = step_of(toml(start, rel, expr, K="any"))
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    assert len(values(c)["q(z)"]) > 5 and "K = " in c.source
    assert fails(c), c


@pytest.mark.full
@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("start, rel, expr, fails", FALSE_FROM_K6)
def test_false_from_K6_holds_at_small_K(K, start, rel, expr, fails):
    _, step = step_of(toml(start, rel, expr, K=K))
    assert step.verdict is Verdict.checked, step.reason


@pytest.mark.parametrize("start, rel, expr, fails", FALSE_FROM_K6)
def test_false_from_K6_is_refuted_at_an_explicit_K8(start, rel, expr, fails):
    _, step = step_of(toml(start, rel, expr, K=8))
    assert step.verdict is Verdict.refuted, step.reason
    assert fails(step.counterexample)


# --------------------------------------------------------------------------- shapes K = "any" refuses

REFUSED_FOR_EVERY_LATENT_SPACE = [
    ("Sum(q(z)**2, z)", ">=", "1/5", True),
    ("(Sum(q(z)**2, z) - 3/5)**2", ">", "0", True),
    ("1 / (Sum(q(z)**2, z) - 3/5)", "=", "1 / (Sum(q(z)**2, z) - 3/5)", False),
    ("Sum(q(z)**2, z)", "<=", "1", True),
]
"""The steps these tests once searched with K = "any": a sum of squared densities is infinite for
many densities, so it is refused (docs/vocabulary.md section 16); the searches above and below
use admitted shapes, and these same sums with an explicit K."""


@pytest.mark.parametrize("start, rel, expr, accept", REFUSED_FOR_EVERY_LATENT_SPACE)
def test_a_sum_of_squared_densities_is_refused_for_every_latent_space(tmp_path, capsys, start, rel, expr, accept):
    text = toml(start, rel, expr, K="any", accept=accept)
    code, out = run_cli(tmp_path, capsys, text)
    assert code == 1, out  # never passes
    _, step = step_of(text)
    assert step.verdict is Verdict.error, step.reason
    assert "Sum(q(z)**2, z) is not admitted for every latent space" in step.reason
    assert step.reason.endswith("give an explicit K") and "not admitted for every latent space" in out
    assert step.searched is None and step.counterexample is None  # refused, not searched: no "held on"


# --------------------------------------------------------------------------- irrational failures

IRRATIONAL = ("(Sum(q(z)**2, z) - 3/5)**2", ">", "0")
"""Zero only where the squares sum to 3/5 (K = 2: q = 1/2 +- sqrt(5)/10); an explicit K only."""
IRRATIONAL_AT_Z = ("(5*q(z)**2 - 5*q(z) + 1)**2", ">", "0")
"""Zero only where q(z) = 1/2 +- sqrt(5)/10 (the same roots), and no sum: admitted with K = "any"."""


def _algebraic_q(c) -> list[sympy.Expr]:
    return [sympy.parse_expr(v) for v in values(c)["q(z)"]]  # the test's own reading of the printed point


def _squares_sum_to_three_fifths(c) -> bool:
    return sympy.simplify(sum(v ** 2 for v in _algebraic_q(c)) - sympy.Rational(3, 5)) == 0


def _q_at_z_is_a_root(c) -> bool:
    v = _algebraic_q(c)[c.z]  # q at the point z the counterexample names
    return sympy.simplify(5 * v ** 2 - 5 * v + 1) == 0


IRRATIONAL_CASES = [
    pytest.param(IRRATIONAL, 2, _squares_sum_to_three_fifths, id="sum_of_squares-2"),
    pytest.param(IRRATIONAL, 3, _squares_sum_to_three_fifths, id="sum_of_squares-3"),
    pytest.param(IRRATIONAL_AT_Z, 2, _q_at_z_is_a_root, id="at_z-2"),
    pytest.param(IRRATIONAL_AT_Z, "any", _q_at_z_is_a_root, id="at_z-any"),
]


@pytest.mark.full
@pytest.mark.parametrize("step_text, K, zero_there", IRRATIONAL_CASES)
def test_a_strict_inequality_failing_at_an_irrational_point_is_refuted_there(tmp_path, capsys, step_text, K,
                                                                             zero_there):
    code, out = run_cli(tmp_path, capsys, toml(*step_text, K=K))
    assert code == 1, out
    assert "algebraic point" in out and "sqrt" in out  # the exact point is printed
    _, step = step_of(toml(*step_text, K=K))
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    assert "algebraic point" in c.source
    q = _algebraic_q(c)
    assert any(not v.is_rational for v in q)  # no rational point fails: the point is irrational
    assert sympy.simplify(sum(q) - 1) == 0 and all(v.is_positive for v in q)
    assert zero_there(c)  # so the squared side is 0 there, not > 0
    assert c.lhs == "0" and c.rhs == "0"


@pytest.mark.full
def test_at_K2_the_point_is_one_half_plus_or_minus_sqrt5_over_10():
    result, step = step_of(toml(*IRRATIONAL, K=2))
    q = _algebraic_q(step.counterexample)
    half, root = sympy.Rational(1, 2), sympy.sqrt(5) / 10
    assert {sympy.simplify(v - half) for v in q} == {root, -root}
    where = report_of(result).steps[0].counterexample.where_latex  # typeset, not "sqrt(5)/10" as text
    assert r"\sqrt{5}" in where and "sqrt(" not in where


@pytest.mark.full
@pytest.mark.parametrize("expr, K, zero_there", [
    pytest.param("1 / (Sum(q(z)**2, z) - 3/5)", 2, _squares_sum_to_three_fifths, id="sum_of_squares-2"),
    pytest.param("1 / (5*q(z)**2 - 5*q(z) + 1)", 2, _q_at_z_is_a_root, id="at_z-2"),
    pytest.param("1 / (5*q(z)**2 - 5*q(z) + 1)", "any", _q_at_z_is_a_root, id="at_z-any"),
])
def test_a_divisor_that_is_zero_only_at_an_irrational_point_is_refuted_there(expr, K, zero_there):
    _, step = step_of(toml(expr, "=", expr, K=K, accept=False))
    assert step.verdict is Verdict.refuted, step.reason  # before: "could not show that every expression is defined"
    c = step.counterexample
    assert "algebraic point" in c.source and "division by zero" in c.problem
    q = _algebraic_q(c)
    assert any(not v.is_rational for v in q)
    assert zero_there(c) and sympy.simplify(sum(q) - 1) == 0


def test_the_non_strict_version_is_not_refuted():
    _, step = step_of(toml("(Sum(q(z)**2, z) - 3/5)**2", ">=", "0", K=2))
    assert step.verdict is Verdict.checked, step.reason  # true: a square is >= 0


# --------------------------------------------------------------------------- the Gaussian tight case and pi

@pytest.mark.full
def test_the_gaussian_tight_case_is_decided_and_refutes_a_strict_bound(tmp_path, capsys):
    text = toml("log(p(x))", ">", "ELBO(q)", model="gaussian")
    code, out = run_cli(tmp_path, capsys, text)
    assert code == 1, out
    _, step = step_of(text)
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    assert "tight case" in c.source
    assert c.lhs == c.rhs and "log(pi)" in c.lhs  # decided exactly in the Q-span of 1, log primes, log(pi)
    w, s, sigma = (Fraction(values(c)[n][0]) for n in ("w", "s", "sigma"))
    assert sigma ** 2 == s ** 2 / (w ** 2 + s ** 2)  # the test's own check: q is the posterior there


def test_a_gap_of_exp_minus_3316_is_refuted_at_the_tight_case():
    _, step = step_of(toml("log(p(x))", ">=", "ELBO(q) + exp(-3316)", model="gaussian"))
    assert step.verdict is Verdict.refuted, step.reason
    assert "tight case" in step.counterexample.source


@pytest.mark.full  # a whole search over Gaussian densities (2.4 s)
def test_the_true_gaussian_bound_is_checked_with_its_densities_counted():
    _, step = step_of(toml("log(p(x))", ">=", "ELBO(q)", model="gaussian"))
    assert step.verdict is Verdict.checked, step.reason
    assert step.searched.densities >= 8 and "Gaussian densities" in step.reason


def _log_pi(c: int | Fraction) -> LogNumber:
    return LogNumber._raw(Fraction(0), ((PI_KEY, Fraction(c)),))


def test_log_pi_values_are_equal_only_when_every_coefficient_agrees():
    a = log_of(2) + _log_pi(Fraction(1, 2)) + Fraction(1, 3)
    assert (a - (log_of(2) + _log_pi(Fraction(1, 2)) + Fraction(1, 3))).is_zero
    assert (a - log_of(2) - Fraction(1, 3)).sign() == 1  # log(pi)/2 > 0
    assert str(_log_pi(-1) + log_of(3)) == "-log(pi) + log(3)"
    assert sympy.simplify(a.to_sympy() - (sympy.log(2) + sympy.log(sympy.pi) / 2 + sympy.Rational(1, 3))) == 0
    assert float(_log_pi(1)) == pytest.approx(float(mpmath.log(mpmath.pi)), rel=1e-15)


def test_decide_with_pi_exactly_and_by_intervals():
    x = sympy.Symbol("x", positive=True)
    left = -sympy.log(2 * sympy.pi * x, evaluate=False) / 2 + x
    right = -sympy.log(sympy.pi, evaluate=False) / 2 - sympy.log(2 * x, evaluate=False) / 2 + x
    values_ = {x: Fraction(3, 7)}
    assert decide(left, right, values_) == 0  # the coefficients agree: equal
    assert decide(left, right + sympy.exp(-3316), values_) == -1  # the exact parts cancel; the rest decides
    assert decide(sympy.log(sympy.pi), sympy.log(3), values_) == 1
    assert sign_of(sympy.log(sympy.pi) - sympy.Rational(114472, 100000), values_) == 1  # log(pi) = 1.1447298...
    assert sign_of(sympy.log(sympy.pi) - sympy.Rational(114473, 100000), values_) == -1
    with pytest.raises(evaluate.Inexact):  # callers that know only logs of primes never see log(pi)
        evaluate.exact(sympy.log(sympy.pi), values_)


@pytest.mark.full
def test_an_undecided_tight_case_makes_the_step_an_error_not_checked(monkeypatch):
    import elbo_sym.engine.check as check

    real = check.decide

    def undecided_at_the_tight_case(a, b, values_, memo=None):  # a planted blind spot
        sigma = [v for s, v in values_.items() if s.name == "sigma"]
        return None if sigma == [Fraction(4, 5)] else real(a, b, values_, memo)

    monkeypatch.setattr(check, "decide", undecided_at_the_tight_case)
    _, step = step_of(toml("log(p(x))", ">=", "ELBO(q)", model="gaussian"))
    assert step.verdict is Verdict.error, step.reason
    assert "tight case" in step.reason and "undecided" in step.reason


# --------------------------------------------------------------------------- true steps, and the report

GENERAL_BOUND = toml("log(p(x))", ">=", "ELBO(q)", K="any", accept=False)
"""Not accepted: accept = "checked" cannot pass a K = "any" step (tests/test_accept_without_densities.py)."""


@pytest.fixture(scope="module")
def general_bound():
    """The check of one true general step (its whole fixed plan): computed once for the tests
    below that read it."""
    return step_of(GENERAL_BOUND)


QUICK_ONLY = ": examples, special cases and random instances only"


@pytest.mark.full
def test_a_true_general_step_is_checked_on_many_K_and_densities(tmp_path, capsys, general_bound):
    text = GENERAL_BOUND
    _, step = general_bound
    assert step.verdict is Verdict.checked, step.reason
    searched = step.searched
    # the fixed plan, in full: K = 2, 3, 5, 8 and the densities, the quick pass at every larger K,
    # the rest of the search at K = 13 -- whatever the budget and the machine's load
    assert searched.K == SEARCH_K + GENERAL_SEARCH_FULL_LARGER_K and searched.densities >= 8
    assert searched.instances == step.instances >= 8 * len(SEARCH_K)
    quick = [k for k in GENERAL_SEARCH_LARGER_K if k not in GENERAL_SEARCH_FULL_LARGER_K]
    assert searched.notes == (f"K = {', '.join(map(str, quick))}{QUICK_ONLY}",)
    described = searched.describe()
    assert described.startswith("K = 2, 3, 5, 8, 13;") and "Gaussian densities" in described
    code, out = run_cli(tmp_path, capsys, text)
    assert code == 1, out  # only checked: the run fails, and says what "held" stands on
    assert "held on" in out and "K = 2, 3, 5, 8, 13" in out and "Gaussian densities" in out


@pytest.mark.full
def test_a_step_with_no_gaussian_meaning_says_densities_were_not_searched():
    # true for every finite K (q <= 1, so log(1 + q) <= log(2)), false for a density above 1 on its
    # support: a sum over z has no Gaussian form, so only the note keeps "checked" honest
    # (not accepted: accepted, it is an error, tests/test_accept_without_densities.py)
    _, step = step_of(toml("Sum(q(z) * log(1 + q(z)), z)", "<=", "log(2)", K="any", accept=False))
    assert step.verdict is Verdict.checked, step.reason
    assert step.searched.densities == 0 and any("no densities" in n for n in step.searched.notes)
    assert "no densities" in step.reason


class _Clock:
    """A stand-in for the checker's clock that a wrapped search can move forward."""

    def __init__(self) -> None:
        import time

        self.real, self.offset = time.perf_counter, 0.0

    def perf_counter(self) -> float:
        return self.real() + self.offset


@pytest.mark.full
def test_the_search_plan_does_not_read_the_clock(monkeypatch, general_bound):
    """As if K = 8 had used the whole budget by the checker's clock: the search still runs its
    whole plan and finds what it found on a quiet machine (it used to stop before K = 13)."""
    import elbo_sym.engine.check as check

    clock, real = _Clock(), check._search_one

    def slow_at_K8(lhs, step, model, explicit, *args):
        found = real(lhs, step, model, explicit, *args)
        if explicit.K == 8:
            clock.offset += BUDGET
        return found

    monkeypatch.setattr(check, "time", clock)
    monkeypatch.setattr(check, "_search_one", slow_at_K8)
    _, step = step_of(GENERAL_BOUND)
    _, quiet = general_bound
    assert step.verdict is Verdict.checked, step.reason
    assert step.searched == quiet.searched and step.reason == quiet.reason


def _entropy_at_most_log(n: int) -> str:
    """H(q) <= log(n), written so that it has no Gaussian form (a wide Gaussian's entropy is
    unbounded): true for every K <= n, false from K = n + 1 on (the uniform q's entropy is log K)."""
    return toml("Sum(q(z) * log(q(z)), z)", ">=", f"-log({n})", K="any")


@pytest.mark.full
@pytest.mark.parametrize("n, K", [(12, 34), pytest.param(33, 89, marks=pytest.mark.full),
                                  pytest.param(88, 233, marks=pytest.mark.full)])
def test_a_general_step_false_only_at_a_larger_K_is_refuted_there(n, K):
    """False only from K = n + 1 on (n = 12, 33, 88): refuted, on every run -- the larger K are part of
    the fixed plan, not reached while a clock allows (on a busy machine the step used to end `checked`).
    Each is found by a quick pass at a K above n: at the latest the tight case at K (34, 89, 233), or
    sooner a seeded instance at a K between (the seed decides which: a counterexample either way)."""
    _, step = step_of(_entropy_at_most_log(n))
    assert step.verdict is Verdict.refuted, step.reason
    found = step.counterexample
    q = fractions(found, "q(z)")
    assert found.source.endswith(f", K = {len(q)}") and n < len(q) <= K, found.source
    assert sum(q) == 1 and all(v > 0 for v in q)
    entropy = -sum(mpmath.mpf(v.numerator) / v.denominator * mpmath.log(mpmath.mpf(v.numerator) / v.denominator)
                   for v in q)
    assert entropy > mpmath.log(n)  # the test's own arithmetic: H(q) > log(n) there


@pytest.mark.full
def test_a_general_search_that_runs_out_of_its_budget_ends_in_error_saying_so(monkeypatch):
    """The step budget is a backstop only: running out in the middle of the plan is `error`
    naming where the search stopped, never `checked` on less evidence (it used to be `checked`,
    with a note)."""
    from cpu_work import burn

    import elbo_sym.engine.check as check

    # the search reaches K = 13 after about 0.6 s of CPU: 3 s leaves room on a loaded machine (8 s at full size)
    budget, real = sized(3.0, 8.0), check._search_one

    def stalled_at_K13(lhs, step, model, explicit, *args):
        if explicit.K == 13:
            burn(budget)  # the step's CPU-time alarm fires meanwhile
        return real(lhs, step, model, explicit, *args)

    monkeypatch.setattr(check, "_search_one", stalled_at_K13)
    _, step = step_of(_entropy_at_most_log(12), budget)
    assert step.verdict is Verdict.error, step.reason
    # (the file's budget, of one step, ends with the step's)
    assert re.match(rf"(step|file) budget of {budget:g} CPU seconds exhausted: the counterexample search "
                    r"ran out at K = ", step.reason), step.reason
    # K = 2, 3, 5, 8, the densities (which this sum over z has no form for), four quick passes, K = 13's rest
    # ... and, the step being accepted in a K = "any" file, that more budget would not let accept pass it
    ran_out, besides = step.reason.split("; besides, ")
    assert besides.startswith(UNSEARCHED_DENSITIES) and "this file's search reaches K = 2, 3, 5" in besides
    assert re.search(r"ran out at K = \d+( \(its quick pass\)| \(the rest of its search\))?, with \d+ of the 10 parts "
                     r"of its fixed plan done; nothing failed before$", ran_out), step.reason


@pytest.mark.full
def test_the_searched_domain_survives_the_report_and_its_json(general_bound):
    result, _ = general_bound
    report = report_of(result)
    step = report.steps[0]
    assert step.searched == result.steps[0].searched.describe() and step.searched.startswith("K = 2, 3, 5, 8")
    again = DerivationReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.steps[0].searched == step.searched
    text = derivation_text(again)
    assert f"held on {step.instances} exact instances ({step.searched})" in text


def test_proved_steps_never_search():
    _, step = step_of(toml("log(p(x)) - ELBO(q)", "=", "KL(q(z), p(z | x))", K="any", accept=False))
    assert step.verdict is Verdict.proved and step.searched is None


@pytest.mark.full
def test_the_lesson_and_its_variants_are_still_proved_without_a_search():
    from pathlib import Path

    from elbo_sym.engine.derivation import load

    root = Path(__file__).resolve().parent.parent / "derivations"
    files = sorted(root.glob("*.toml")) + sorted((root / "variants").glob("*.toml"))
    assert len(files) >= 8
    for path in files:
        result = check_derivation(load(path))
        assert result.fully_proved, (path, [s.reason for s in result.steps])
        assert all(s.searched is None for s in result.steps), path  # proved steps never search


@pytest.mark.parametrize("polynomial, low, high, expected", [
    ("t**3 - 2", Fraction(5, 4), Fraction(13, 10), sympy.cbrt(2)),
    ("5*t**2 - 5*t + 1", Fraction(7, 10), Fraction(3, 4), sympy.Rational(1, 2) + sympy.sqrt(5) / 10),
    ("5*t**2 - 5*t + 1", Fraction(1, 4), Fraction(3, 10), sympy.Rational(1, 2) - sympy.sqrt(5) / 10),
    ("-5*t**2 + 5*t - 1", Fraction(7, 10), Fraction(3, 4), sympy.Rational(1, 2) + sympy.sqrt(5) / 10),
])
def test_the_root_in_an_isolating_interval_is_chosen_exactly(polynomial, low, high, expected):
    from elbo_sym.engine.search import _root_expression

    t = sympy.Symbol("t")
    root = _root_expression(sympy.Poly(sympy.sympify(polynomial), t), low, high)
    assert sympy.simplify(root - expected) == 0

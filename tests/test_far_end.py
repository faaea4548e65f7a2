"""The far ends of a real parameter, looked at exactly (session 19, h-eng9).

`accept = "checked"` passed `beta * KL(q(z), p(z)) <= 10**12 * KL(q(z), p(z))` under `beta = ">= 1"`
(false for every beta above 10**12): the samples stop near 1e9 and the minimiser did not get there.  The
search now looks at each open end of a real parameter (-> infinity, -> an open bound) exactly: the
difference's leading sign there, then points past every root of it.  Each counterexample is re-checked
here with the test's own arithmetic (Fractions and mpmath on the printed values), and each refutation is
shown to come from the far end by switching the other stages off (or the far end off: then it passes).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
from sympy import Symbol, log

import elbo_sym.engine.check as check
from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.models.base import PARAMETER, Block, Interval
from elbo_sym.engine.search import FarEnd, _failing_end, far_ends

BUDGET = 120.0
"""A backstop only: the machine running the suite may be shared."""


def toml(start: str, rel: str, expr: str, params: str, head: str = "K = 2", accept: bool = True) -> str:
    return (f'title = "t"\n{head}\nstart = "{start}"\n\n[params]\n{params}\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\n'
            + ('accept = "checked"\n' if accept else ""))


BETA_KL = toml("beta * KL(q(z), p(z))", "<=", "10**12 * KL(q(z), p(z))", 'beta = ">= 1"')
"""The step that passed with accept (last session's note, docs/02)."""


def step_of(text: str):
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def run_cli(tmp_path, capsys, text: str) -> tuple[int, str]:
    path = tmp_path / "case.toml"
    path.write_text(text, "utf-8")
    code = main(["check", "--no-cache", "--budget", str(BUDGET), str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def fraction_of(counterexample, label: str) -> tuple[Fraction, ...]:
    return tuple(Fraction(v) for v in dict(counterexample.values)[label])


def kl(q: tuple[Fraction, ...], p: tuple[Fraction, ...]) -> mpmath.mpf:
    """KL(q, p) in mpmath at 60 digits, from the printed fractions."""
    with mpmath.workdps(60):
        return mpmath.fsum(mpmath.mpf(a.numerator) / a.denominator
                           * mpmath.log(mpmath.mpf(a.numerator * b.denominator) / (a.denominator * b.numerator))
                           for a, b in zip(q, p))


def only_far_end(monkeypatch) -> None:
    """The boundary families and the minimiser switched off: what refutes is the far end (or nothing)."""
    monkeypatch.setattr(check, "boundary_instances", lambda *args, **kwargs: iter(()))
    monkeypatch.setattr(check, "minimise", lambda *args, **kwargs: iter(()))


# The far end's reproducers through the command (1-2 s of CPU each) are `full`; the stage stays in `make test`
# with the cheap cases below that switch the other stages off (only_far_end) and with its mutant.
@pytest.mark.full
@pytest.mark.parametrize("accept", [True, False])
def test_the_beta_kl_step_is_refuted_past_10_to_the_12(tmp_path, capsys, accept):
    code, out = run_cli(tmp_path, capsys, toml("beta * KL(q(z), p(z))", "<=", "10**12 * KL(q(z), p(z))",
                                               'beta = ">= 1"', accept=accept))
    assert code == 1, out
    assert "refuted" in out and "far end: beta growing without bound" in out, out
    step = step_of(BETA_KL)
    assert step.verdict == Verdict.refuted
    (beta,) = fraction_of(step.counterexample, "beta")
    q, p = fraction_of(step.counterexample, "q(z)"), fraction_of(step.counterexample, "p(z)")
    assert beta > 10**12
    with mpmath.workdps(60):
        assert beta * kl(q, p) > 10**12 * kl(q, p) > 0  # the test's own arithmetic


def test_without_the_far_end_the_beta_kl_step_passes_with_accept(monkeypatch):
    """The mutant: the far-end stage removed, the step passes again (what the tests above guard)."""
    monkeypatch.setattr(check, "far_end_instances", lambda *args, **kwargs: iter(()))
    assert step_of(BETA_KL).verdict == Verdict.checked


@pytest.mark.full
def test_the_brief_reproducer_with_a_posterior_is_refuted(tmp_path, capsys):
    text = toml("beta * KL(q(z | x), p(z | x))", "<=", "10**12 * KL(q(z | x), p(z | x))", 'beta = "> 0"')
    code, out = run_cli(tmp_path, capsys, text)
    assert code == 1 and "refuted" in out, out


def test_an_open_bound_at_0_is_approached_from_above(monkeypatch):
    """false only for beta below 1e-40: the samples stop at 1e-9, the far end goes below."""
    only_far_end(monkeypatch)
    step = step_of(toml("KL(q(z), p(z))", "<=", "10**12 * 10**12 * 10**12 * 10**4 * beta * KL(q(z), p(z))",
                        'beta = "> 0"'))
    assert step.verdict == Verdict.refuted, step.reason
    assert step.counterexample.source.startswith("far end: beta falling to 0")
    (beta,) = fraction_of(step.counterexample, "beta")
    q, p = fraction_of(step.counterexample, "q(z)"), fraction_of(step.counterexample, "p(z)")
    assert 0 < beta < Fraction(1, 10**40)
    with mpmath.workdps(80):
        assert kl(q, p) > 10**40 * beta * kl(q, p) > 0


def test_several_parameters_each_end_with_the_others_fixed(monkeypatch):
    """gamma fixed at the random instance, beta -> infinity refutes; an unbounded-below parameter too."""
    only_far_end(monkeypatch)
    step = step_of(toml("beta * gamma**2 * KL(q(z), p(z))", "<=", "10**12 * (gamma**2 + 1) * KL(q(z), p(z))",
                        'beta = ">= 1"\ngamma = "real"', head="K = 3"))
    assert step.verdict == Verdict.refuted, step.reason
    assert "beta growing without bound" in step.counterexample.source
    (beta,), (gamma,) = fraction_of(step.counterexample, "beta"), fraction_of(step.counterexample, "gamma")
    q, p = fraction_of(step.counterexample, "q(z)"), fraction_of(step.counterexample, "p(z)")
    with mpmath.workdps(60):
        assert beta * gamma**2 * kl(q, p) > 10**12 * (gamma**2 + 1) * kl(q, p)
    below = step_of(toml("gamma**3 * KL(q(z), p(z))", ">=", "-10**12 * 10**12 * 10**8 * KL(q(z), p(z))",
                         'gamma = "<= 0"'))
    assert below.verdict == Verdict.refuted, below.reason
    assert "gamma falling without bound" in below.counterexample.source


def test_a_gaussian_mean_is_followed_to_infinity(monkeypatch):
    """The Gaussian family: with sigma, w, b, s, x fixed, the KL is quadratic in mu, the left side quartic."""
    only_far_end(monkeypatch)
    step = step_of(toml("mu**2 * KL(q(z), p(z))", "<=", "10**12 * 100 * (1 + KL(q(z), p(z)))",
                        'beta = "in (0, 1)"', head='model = "gaussian"'))
    assert step.verdict == Verdict.refuted, step.reason
    assert step.counterexample.source.startswith("far end: mu ")
    (mu,), (sigma,) = fraction_of(step.counterexample, "mu"), fraction_of(step.counterexample, "sigma")
    with mpmath.workdps(200):  # KL(N(mu, sigma^2), N(0, 1)), the test's own closed form
        m, s = mpmath.mpf(mu.numerator) / mu.denominator, mpmath.mpf(sigma.numerator) / sigma.denominator
        divergence = (m**2 + s**2 - 1 - mpmath.log(s**2)) / 2
        assert m**2 * divergence > 10**14 * (1 + divergence)


@pytest.mark.parametrize("start, rel, expr, params, head", [  # the discrete ones, about 1 s each, are `full`
    pytest.param("KL(q(z), p(z))", "<=", "10**12 * beta * KL(q(z), p(z))", 'beta = ">= 1"', "K = 2",
                 marks=pytest.mark.full),
    pytest.param("beta * KL(q(z), p(z))", "<=", "(beta**2 + 10**12) * KL(q(z), p(z))", 'beta = "real"', "K = 3",
                 marks=pytest.mark.full),
    ("(beta**2 + 10**12) * (mu**2 + 1)", ">=", "(mu**2 + 1) * 2 * 10**6 * beta", 'beta = "> 0"',
     'model = "gaussian"'),
    pytest.param("10**12 * beta * KL(q(z), p(z))", ">=", "beta * KL(q(z), p(z))", 'beta = "in (0, 1)"', "K = 2",
                 marks=pytest.mark.full),
])
def test_true_steps_with_large_constants_stay_checked(start, rel, expr, params, head):
    step = step_of(toml(start, rel, expr, params, head=head))
    assert step.verdict == Verdict.checked, (step.verdict, step.reason)


def test_a_coefficient_exactly_0_is_not_the_leading_one():
    """(log(6) - log(2) - log(3)) * beta**2 + beta: SymPy keeps the first coefficient, which is 0; the sign
    at infinity is the next one's (so "<=" fails there only when it is +beta)."""
    beta = Symbol("beta", positive=True)
    end = FarEnd(Block("beta", "beta", PARAMETER, (beta,), Interval(Fraction(1))), "+")
    zero = log(6) - log(2) - log(3)

    def fails(sign: int) -> bool:  # "<=" breaks where the difference is positive
        return sign > 0

    assert _failing_end(zero * beta**2 + beta, beta, end, {beta: Fraction(1)}, fails) is not None
    assert _failing_end(zero * beta**2 - beta, beta, end, {beta: Fraction(1)}, fails) is None
    assert _failing_end(log(beta) - 10**12, beta, end, {beta: Fraction(1)}, fails) is None  # not rational in beta


def test_the_ends_of_each_kind_of_interval():
    beta = Symbol("beta")

    def sides(interval: Interval) -> list[tuple[str, Fraction]]:
        return [(e.side, e.bound) for e in far_ends(Block("beta", "beta", PARAMETER, (beta,), interval))]

    assert sides(Interval()) == [("+", 0), ("-", 0)]
    assert sides(Interval(Fraction(0), None, lower_open=True)) == [("+", 0), ("above", 0)]
    assert sides(Interval(Fraction(1))) == [("+", 0)]
    assert sides(Interval(Fraction(0), Fraction(2), upper_open=True)) == [("below", 2)]
    assert sides(Interval(Fraction(0), Fraction(2))) == []
    assert sides(Interval(Fraction(1), integer=True)) == []  # a whole number: never a fraction past a bound


@pytest.mark.parametrize("interval, side, bound", [
    (Interval(Fraction(10**15)), "+", 0),
    (Interval(None, Fraction(-10**15)), "-", 0),
    (Interval(Fraction(0), Fraction(1, 10**15), lower_open=True), "above", 0),
    (Interval(Fraction(-1, 10**15), Fraction(0), upper_open=True), "below", 0),
    (Interval(Fraction(3), Fraction(7, 2), lower_open=True, upper_open=True), "above", 3),
])
def test_the_first_far_point_lies_inside_the_interval(interval, side, bound):
    """Past every root is not enough: the point tried must be in the parameter's interval (beta >= 10**15)."""
    end = FarEnd(Block("beta", "beta", PARAMETER, (Symbol("beta"),), interval), side, Fraction(bound))
    n = end.least_bits()
    assert interval.contains(Fraction(end.at(2**n))) and interval.contains(Fraction(end.at(2**(n + 5))))


@pytest.mark.parametrize("side, bound, written, value", [
    ("+", 0, "beta = 2 to the power 5", Fraction(32)), ("-", 0, "beta = minus 2 to the power 5", Fraction(-32)),
    ("above", 0, "beta = 1 over 2 to the power 5", Fraction(1, 32)),
    ("below", 0, "beta = minus 1 over 2 to the power 5", Fraction(-1, 32)),
    ("above", Fraction(1, 2), "beta = 1/2 plus 1 over 2 to the power 5", Fraction(17, 32)),
    ("below", 3, "beta = 3 minus 1 over 2 to the power 5", Fraction(95, 32)),
])
def test_a_far_point_is_written_as_the_power_of_2_it_is(side, bound, written, value):
    end = FarEnd(Block("beta", "beta", PARAMETER, (Symbol("beta"),), Interval()), side, Fraction(bound))
    assert end.written(5) == written and Fraction(end.at(2**5)) == value


def test_a_params_parameter_of_the_gaussian_family_is_followed_to_infinity(monkeypatch):
    only_far_end(monkeypatch)
    step = step_of(toml("beta * (mu**2 + 1)", "<=", "10**12 * (mu**2 + 1)", 'beta = ">= 1"', head='model = "gaussian"'))
    assert step.verdict == Verdict.refuted, step.reason
    assert step.counterexample.source.startswith("far end: beta growing without bound")
    (beta,) = fraction_of(step.counterexample, "beta")
    assert beta > 10**12  # the sides' common factor mu**2 + 1 is positive

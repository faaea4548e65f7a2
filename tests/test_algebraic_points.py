"""Premises decided at an algebraic point given as CRootOf (a root of degree 3 to 8 with no radicals).

Since session 16 a strict inequality under premises that fails only at an algebraic point is refuted
there when every premise is shown to hold there; a root with no radical form (CRootOf) left every
premise that needs its value undecided, so the step was an `error`.  Now a value rational in the
root is decided in the root's field (numbers.algebraic: 0 only as the zero polynomial, the sign by
exact refinement), and one with logs by certified intervals around the root's exact rational
interval.  Soundness first, so the tests show:

* a premise that fails at the root, or is exactly 0 there under a strict relation, never refutes;
* no "zero" comes from a small number: values 1e-30 to 1e-200 away from 0 get their true sign,
  and beyond every precision the answer is undecided (None), never 0;
* what stays undecided (a log that is exactly 0 there) keeps the step an `error`.

The oracle is the test's own: for g = t**3 - t - 1 (one real root r, g increasing past it),
r > a exactly when g(a) < 0, in Fractions; a counterexample's printed values are read back by SymPy
and its sides reduced modulo g with SymPy's polynomial remainder.  The second opinion (engine.reference)
judges proved steps at rational instances only, so it has no say on a refutation at a CRootOf point.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from elbo_sym.cli import main
from elbo_sym.engine.check import PREMISES_UNDECIDED, Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.notation import to_latex
from elbo_sym.numbers import algebraic
from elbo_sym.numbers.algebraic import in_root, root_interval, root_text
from elbo_sym.numbers.evaluate import INTERVAL_DIGITS, Undefined, approx_text, closed_sign

BUDGET = 120.0
"""Generous: a backstop on a shared machine (each search runs a fixed plan)."""

X = sympy.Symbol("x")
R = sympy.CRootOf(X**3 - X - 1, 0)
"""The plastic number 1.32471...: the only real root of t**3 - t - 1, no radical form SymPy gives."""


def g(a: Fraction) -> Fraction:
    return a**3 - a - 1


def below_r(a: Fraction) -> bool:
    """Whether a < r, by the test's own arithmetic: g has one real root and grows past it."""
    return g(a) < 0


def near_r(digits: int) -> Fraction:
    """A fraction within about 10**-digits of r, from SymPy's own digits (which side is unknown)."""
    return Fraction(str(sympy.N(R, digits + 20))).limit_denominator(10**digits)


# --------------------------------------------------------------------------- the field Q(r)

@pytest.mark.parametrize("digits", [5, 30, 60, 200, 900])
def test_near_misses_get_their_true_sign_never_zero(digits):
    a = near_r(digits)
    gap = R - sympy.Rational(a.numerator, a.denominator)
    expected = 1 if below_r(a) else -1
    assert closed_sign(gap) == expected
    assert closed_sign(-gap) == -expected
    # a premise's polynomial that is exactly 0 at r, shifted by the near miss: still not 0
    assert closed_sign((R**3 - R - 1) * (R**2 + 3) + gap) == expected


def test_beyond_every_precision_the_sign_is_undecided_not_zero():
    a = near_r(INTERVAL_DIGITS[-1] + 200)
    assert closed_sign(R - sympy.Rational(a.numerator, a.denominator)) is None


def test_zero_only_from_the_algebra():
    assert closed_sign((R**3 - R - 1) ** 2) == 0
    assert closed_sign(R**5 - R**4 - 1) == 0  # = (r**2 - r + 1)(r**3 - r - 1)
    assert closed_sign(1 / (R**2 + 1) - (4 + R - 2 * R**2) / 5) == 0  # (r**2 + 1)(4 + r - 2r**2) = 5 in Q(r)
    tiny = sympy.Rational(1, 10**30)
    assert closed_sign(R**3 - R - 1 + tiny) == 1
    assert closed_sign(R**3 - R - 1 - tiny) == -1
    assert closed_sign(R**5 - R**4 - 1 - tiny**6) == -1  # 1e-180 below 0


def test_a_denominator_exactly_zero_is_undefined():
    with pytest.raises(Undefined):
        closed_sign(1 / (R**3 - R - 1))


def test_logs_beside_the_root_by_intervals_and_an_exact_zero_of_a_log_by_its_rational_argument():
    assert closed_sign(sympy.log(R) - sympy.Rational(1, 4)) == 1  # log(1.3247) = 0.2812
    assert closed_sign(sympy.log(R) - sympy.Rational(3, 10)) == -1
    assert closed_sign(sympy.log(R**3 - R)) == 0  # log(1): its argument is 1 in Q(R) (session 22)
    assert closed_sign(sympy.log(R) + sympy.log(R**2 - 1)) is None  # also 0, but no argument is rational


def test_the_roots_interval_is_exact_and_refined():
    for digits in (0, 30, 240):
        low, high = root_interval(R, digits)
        a, b = Fraction(int(low.p), int(low.q)), Fraction(int(high.p), int(high.q))
        assert below_r(a) and not below_r(b)
        assert digits == 0 or b - a <= Fraction(1, 10**digits)


def test_each_real_root_gets_its_own_interval():
    cubic = X**3 - 3 * X - 1  # three real roots
    ends = []
    for index in range(3):
        low, high = root_interval(sympy.CRootOf(cubic, index), 30)
        value = sympy.CRootOf(cubic, index).evalf(60)
        assert low < value < high
        ends.append((low, high))
    assert ends[0][1] < ends[1][0] and ends[1][1] < ends[2][0]


def test_other_shapes_are_left_to_the_other_evaluators():
    assert in_root(sympy.sqrt(2) * R) is None
    assert in_root(sympy.log(2) * R) is None
    assert in_root(R + sympy.CRootOf(X**3 - 3 * X - 1, 0)) is None
    assert in_root(sympy.Rational(1, 3)) is None


def test_a_root_prints_as_its_polynomial_in_t():
    t = sympy.Dummy("t", real=True)
    root = sympy.CRootOf(t**5 - t - 1, 0)
    assert root_text(1 - root) == "1 - CRootOf(t**5 - t - 1, 0)"
    assert approx_text(root, {}) == "≈ 1.1673"  # 1.16730397826...


def test_the_one_printer_typesets_a_root_from_the_numbers_layers_data():
    """engine.notation's printer writes a CRootOf (numbers.algebraic hands it the polynomial in t and the
    index): the report has one LaTeX printer, not a second one in the numbers layer (session 17's note)."""
    x = sympy.Symbol("x")
    root = sympy.CRootOf(x**5 - x - 1, 0)  # SymPy keeps the generator x: printed in t, as the text says
    assert to_latex(1 - root) == r"1 - \mathrm{CRootOf}\left(t^{5} - t - 1, 0\right)"
    assert root_text(1 - root) == "1 - CRootOf(t**5 - t - 1, 0)"
    assert "LatexPrinter" not in Path(algebraic.__file__).read_text("utf-8")


# --------------------------------------------------------------------------- whole steps

def gaussian(start: str, assume: str) -> str:
    return (f'title = "t"\nmodel = "gaussian"\nassume = ["{assume}"]\nstart = "{start}"\n\n'
            f'[params]\nt = "real"\n\n'
            f'[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')


def step_of(text: str):
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def the_root(counterexample) -> sympy.Expr:
    """t as printed, read back by SymPy: a CRootOf of the polynomial the source names."""
    (text,) = dict(counterexample.values)["t"]
    assert "_t" not in text, text  # the placeholder's name, not SymPy's Dummy spelling
    root = sympy.parse_expr(text)
    assert isinstance(root, sympy.CRootOf), text
    return root


def vanishes_at(root: sympy.CRootOf, e: sympy.Expr) -> bool:
    """e(root) = 0 exactly: e's polynomial is divisible by root's (irreducible) polynomial."""
    t = sympy.Symbol("t")
    return sympy.rem(sympy.Poly(e, t), sympy.Poly(root.expr.xreplace({root.poly.gen: t}), t)).is_zero


CUBIC = "(t**3 - 3*t - 1)**2"
"""0 at three real roots, -1.532, -0.347 and 1.879, each a CRootOf."""


@pytest.mark.parametrize("assume, low, high", [("t >= 0", 0, None), ("t <= -1", None, -1)])
@pytest.mark.full
def test_a_premise_that_holds_at_a_crootof_refutes_there(tmp_path, capsys, assume, low, high):
    text = gaussian(CUBIC, assume)
    step = step_of(text)
    assert step.verdict is Verdict.refuted, step.reason  # before: an error, premises undecided
    c = step.counterexample
    assert "every premise holds there" in c.source, c.source
    root = the_root(c)
    t = sympy.Symbol("t")
    assert vanishes_at(root, (t**3 - 3 * t - 1) ** 2)  # the step's left side is exactly 0 there
    value = root.evalf(50)
    assert (low is None or value > low) and (high is None or value < high)  # inside the premise
    assert c.lhs == c.rhs == "0" and c.lhs_value == c.rhs_value == 0.0  # printed as its value, not 1e-163
    assert f"≈ {float(value):.6g}" in c.source, c.source
    path = tmp_path / "case.toml"
    path.write_text(text, "utf-8")
    assert main(["check", "--no-cache", "--budget", str(BUDGET), str(path)]) == 1
    capsys.readouterr()


@pytest.mark.parametrize("assume", [
    "t >= 2",  # above every root
    "t**3 - 3*t - 1 > 0",  # exactly 0 at every root: a strict premise fails there
])
@pytest.mark.full
def test_a_premise_failing_at_every_root_never_refutes(assume):
    step = step_of(gaussian(CUBIC, assume))
    assert step.verdict is Verdict.checked, step.reason  # true under the premise: never refuted


@pytest.mark.full  # 1 s of CPU; the premises at the root stay in `make test` with the undecided one below
def test_a_premise_exactly_zero_at_the_root_holds_when_not_strict():
    step = step_of(gaussian(CUBIC, "t**3 - 3*t - 1 >= 0"))
    assert step.verdict is Verdict.refuted, step.reason
    assert vanishes_at(the_root(step.counterexample), sympy.Symbol("t") ** 3 - 3 * sympy.Symbol("t") - 1)


@pytest.mark.parametrize("assume, verdict", [
    ("t**3 - t - 1 >= (1/1000000)**5", Verdict.checked),  # -1e-30 at the root: fails there
    ("t**3 - t - 1 + (1/1000000)**5 > 0", Verdict.refuted),  # 1e-30 at the root: holds there
])
@pytest.mark.full
def test_a_premise_1e_30_from_zero_at_the_root_is_judged_by_its_sign(assume, verdict):
    step = step_of(gaussian("(t**3 - t - 1)**2", assume))
    assert step.verdict is verdict, step.reason


def test_a_premise_undecided_at_the_root_keeps_the_step_an_error():
    # log(R) + log(R**2 - 1) = log(1) there, no argument rational (log(t**3 - t) >= 0 is decided since session 22:
    # tests/test_closed_sign_rational_logs.py)
    step = step_of(gaussian("(t**3 - t - 1)**2", "log(t) + log(t**2 - 1) >= 0"))
    assert step.verdict is Verdict.error, step.reason
    assert step.reason.startswith(PREMISES_UNDECIDED), step.reason
    assert "CRootOf(t**3 - t - 1, 0)" in step.reason


def test_a_discrete_q_at_a_crootof_refutes_under_differ():
    text = ('title = "t"\nK = 2\nassume = ["q(z) != p(z | x)"]\nstart = "(Sum(q(z)**4, z) - 1/5)**2"\n\n'
            '[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = step_of(text)
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    q = [sympy.parse_expr(v) for v in dict(c.values)["q(z)"]]
    assert any(v.has(sympy.CRootOf) for v in q) and sympy.simplify(sum(q) - 1) == 0
    assert all(v.evalf(50) > 0 for v in q)
    roots = {r for v in q for r in v.atoms(sympy.CRootOf)}
    assert len(roots) == 1
    (root,) = roots
    y = sympy.Symbol("y")
    total = sum(v.xreplace({root: y}) ** 4 for v in q) - sympy.Rational(1, 5)
    assert vanishes_at(root, sympy.expand(total).xreplace({y: sympy.Symbol("t")}))  # the left side is 0


@pytest.mark.full
def test_sides_equal_but_not_zero_print_in_the_roots_field():
    step = step_of(gaussian("(t**3 - t - 1)**2 + t", "t >= 0").replace('expr = "0"', 'expr = "t"'))
    assert step.verdict is Verdict.refuted, step.reason
    c = step.counterexample
    assert c.lhs == c.rhs == "CRootOf(t**3 - t - 1, 0)"  # (r**3 - r - 1)**2 + r reduced in Q(r): r
    assert f"{c.lhs_value:.6g}" == "1.32472" and c.lhs_value == c.rhs_value
    assert c.lhs_latex == c.rhs_latex == dict(c.values_latex)["t"][0]  # typeset as the point's value
    assert "t^{3} - t - 1" in c.lhs_latex

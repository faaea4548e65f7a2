"""The degree limit of an algebraic counterexample is the root's, not the numerator's (red team rt40 F2).

A strict inequality that fails only at an irrational point is refuted there (engine.search.algebraic_points)
when the point's root has degree at most MAX_ALGEBRAIC_DEGREE (8).  Session 17 applied that limit to the
whole numerator before factoring it, so a power hid the root: `(mu**3 - mu - 1)**4 > 0` (degree 12, root of
degree 3), `(mu**5 - mu - 1)**2 > 0` (degree 10) and `(E(q, q(z)) - 3/5)**6 > 0` (degree 12, roots of degree
2) ended `checked`, and with accept = "checked" the file passed (exit 0).  Now the limit holds for each
irreducible factor of the numerator's square-free part, whose degree is bounded too (the factoring's work).

The oracle is the test's own: the printed root read back by SymPy, the step's left side reduced modulo the
root's polynomial (0 there), and the root's value against the premise in SymPy's own digits.
"""

from __future__ import annotations

import pytest
import sympy

from elbo_sym.engine import search
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""Generous: a backstop on a shared machine (each search runs a fixed plan)."""

T = sympy.Symbol("t")


def gaussian(start: str, assume: str = "") -> str:
    premise = f'assume = ["{assume}"]\n' if assume else ""
    return (f'title = "t"\nmodel = "gaussian"\n{premise}start = "{start}"\n\n[params]\nt = "real"\n\n'
            '[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')


def step_of(text: str):
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def the_root(counterexample) -> sympy.Expr:
    (text,) = dict(counterexample.values)["t"]
    return sympy.parse_expr(text)


def vanishes_at(root: sympy.Expr, e: sympy.Expr) -> bool:
    """e(root) = 0 exactly: e's polynomial is divisible by the root's minimal polynomial."""
    minimal = sympy.minimal_polynomial(root, T)
    return sympy.rem(sympy.Poly(e, T), sympy.Poly(minimal, T)).is_zero


@pytest.mark.full
@pytest.mark.parametrize("start, factor, degree, assume", [
    ("(t**3 - t - 1)**4", T**3 - T - 1, 3, ""),  # numerator degree 12
    ("(t**5 - t - 1)**2", T**5 - T - 1, 5, ""),  # 10
    ("(t**7 - t - 1)**2", T**7 - T - 1, 7, ""),  # 14
    ("(t**5 - t - 1)**2*(t**3 - t - 1)**2", None, None, "t > 1"),  # 16, under a premise: either root
])
def test_a_power_of_a_factor_of_low_degree_is_refuted_at_its_root(start, factor, degree, assume):
    step = step_of(gaussian(start, assume))
    assert step.verdict is Verdict.refuted, step.reason  # before: checked, and accepted (exit 0)
    root = the_root(step.counterexample)
    assert isinstance(root, sympy.CRootOf)
    assert vanishes_at(root, sympy.parse_expr(start))  # the left side is 0 there
    if factor is not None:
        assert sympy.degree(sympy.minimal_polynomial(root, T), T) == degree and vanishes_at(root, factor)
    if assume:
        assert root.evalf(50) > 1 and "every premise holds there" in step.counterexample.source


@pytest.mark.full
def test_a_sixth_power_over_the_simplex_is_refuted_at_its_quadratic_root():
    text = ('title = "t"\nK = 2\nstart = "(E(q, q(z)) - 3/5)**6"\n\n'
            '[[step]]\nrel = ">"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')
    step = step_of(text)
    assert step.verdict is Verdict.refuted, step.reason  # before: checked on 36 instances, exit 0
    q = [sympy.parse_expr(v) for v in dict(step.counterexample.values)["q(z)"]]
    assert sympy.simplify(sum(q) - 1) == 0 and all(v.evalf(30) > 0 for v in q)
    assert sympy.simplify(sum(v**2 for v in q) - sympy.Rational(3, 5)) == 0  # E_q[q(z)] = 3/5 exactly


def test_the_factoring_is_bounded_by_the_square_free_degree(monkeypatch):
    """A numerator whose square-free part is above MAX_ALGEBRAIC_SQUARE_FREE_DEGREE is never factored
    (the work stays bounded); one below is, and a root of its low-degree factor is found."""
    factored: list[int] = []
    real = sympy.factor_list

    def counting(poly, *args, **kwargs):
        factored.append(sympy.Poly(poly).degree())
        return real(poly, *args, **kwargs)

    monkeypatch.setattr(sympy, "factor_list", counting)
    model = loads(gaussian("t"), "t.toml").model()
    (bi,) = [i for i, b in enumerate(model.blocks) if str(b.symbols[0]) == "t"]
    root = float(sympy.CRootOf(T**3 - T - 1, 0))
    values = [[root if i == bi else 0.5] * len(b.symbols) for i, b in enumerate(model.blocks)]
    t = model.blocks[bi].symbols[0]
    dummy = sympy.Dummy("t", real=True)

    wide = sympy.prod(t**3 - t - k for k in range(1, 10))  # square-free, degree 27
    assert sympy.degree(wide, t) > search.MAX_ALGEBRAIC_SQUARE_FREE_DEGREE
    assert search._solve_one(model, wide, values, bi, 0, dummy) is None and factored == []

    power = (t**3 - t - 1) ** 8  # degree 24: square-free part of degree 3
    found = search._solve_one(model, power, values, bi, 0, dummy)
    assert factored == [3] and found is not None and found.polynomial == "t**3 - t - 1"

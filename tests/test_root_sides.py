"""A side at an algebraic point with logs beside the root's powers, reduced in Q(r) (session 19, h-eng9).

`log(2) + (beta**3 - beta - 1)**2 * (beta**2 + 1) > log(2)` fails only at the real root r of t**3 - t - 1.
Its left side there is r's powers up to r**8 beside log(2): in_root takes no log, so it was printed
expanded and cut ("(an exact value of 194 characters)").  Each log's coefficient and the rest are now
reduced modulo r's polynomial: the left side is log(2).  Checked here with SymPy on the printed text
(degree below 3 in r, the value at 50 digits), never with the engine's evaluators.
"""

from __future__ import annotations

import pytest
import sympy
from sympy import CRootOf, Poly, Rational, Symbol, log

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.numbers.algebraic import in_root_with_logs

t = Symbol("t")
R = CRootOf(t**3 - t - 1, 0)


def step_at_the_root(start: str, expr: str):
    text = (f'title = "t"\nK = 2\nstart = "{start}"\n\n[params]\nbeta = "> 0"\n\n'
            f'[[step]]\nrel = ">"\nexpr = "{expr}"\nrule = "algebra"\n')
    step = check_derivation(loads(text, "t.toml"), budget=120.0).steps[0]
    assert step.verdict is Verdict.refuted, step.reason
    assert "algebraic point: beta is the root" in step.counterexample.source
    return step.counterexample


def parsed(side: str) -> sympy.Expr:
    return sympy.parse_expr(side, local_dict={"t": t, "CRootOf": CRootOf, "log": log})


def test_a_side_of_powers_of_the_root_beside_a_log_is_reduced():
    found = step_at_the_root("log(2) + (beta**3 - beta - 1)**2 * (beta**2 + 1)", "log(2)")
    assert found.lhs == found.rhs == "log(2)", (found.lhs, found.rhs)
    assert found.lhs_latex == found.rhs_latex == r"\log 2"  # the one printer's


def test_a_log_whose_coefficient_is_a_power_of_the_root_keeps_it_reduced():
    found = step_at_the_root("beta**4 * log(2) + (beta**3 - beta - 1)**2 * (beta**2 + 1)", "beta**4 * log(2)")
    assert found.lhs == found.rhs and "(an exact value" not in found.lhs, found.lhs
    left = parsed(found.lhs)
    (root,) = left.atoms(CRootOf)
    coefficient = sympy.expand(left).coeff(log(2))
    assert Poly(coefficient.xreplace({root: t}), t).degree() < 3  # reduced modulo t**3 - t - 1
    assert abs(sympy.N(left - R**4 * log(2), 50)) < 1e-45  # the same number as r**4 * log(2)


def test_in_root_with_logs_reduces_each_coefficient_and_refuses_other_shapes():
    assert in_root_with_logs(R**3 * log(3) + R**3 - R) == (R + 1) * log(3) + 1
    assert in_root_with_logs((R**3 - R - 1) * log(5) + Rational(1, 2)) == Rational(1, 2)  # 0 drops out
    assert in_root_with_logs(R**3 + 2) is None  # no log: in_root's case
    assert in_root_with_logs(log(2) * log(3) * R) is None  # a product of logs
    other = CRootOf(t**3 - 2 * t - 1 - t**2, 0)
    assert in_root_with_logs(R * log(2) + other) is None  # two roots
    assert in_root_with_logs(sympy.sqrt(2) * log(2) + R) is None  # a coefficient outside Q(r)


@pytest.mark.parametrize("argument", [R**4, 1 + R**3])
def test_a_log_of_a_power_of_the_root_is_reduced_inside(argument):
    reduced = in_root_with_logs(log(argument) + R)
    assert reduced is not None and abs(sympy.N(reduced - log(argument) - R, 50)) < 1e-45
    (inside,) = (a.args[0] for a in reduced.atoms(log))
    assert Poly(inside.xreplace({R: t}), t).degree() < 3

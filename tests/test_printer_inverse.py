"""Red team rt8: a power -1 standing alone printed as ``1/(q(z)/p(z))``, which parses back to
``1 * (q(z)/p(z))**-1``, another tree; to_text must print the tree it is given."""

from __future__ import annotations

import pytest
from sympy import Mul, Pow, srepr

from elbo_sym.engine.notation import to_latex, to_text
from elbo_sym.engine.parse import parse_expression


@pytest.mark.parametrize("text", ["(q(z)/p(z))**(-1)", "p(z)**(-1)", "(2*q(z))**(-1)", "log(p(z)**(-1))",
                                  "q(z) + p(z)**(-1)", "exp(q(z))**(-1)", "(-q(z))**(-1)",
                                  "-1/(-1 + q(z))", "-(q(z)/p(z))**(-1)", "1/p(z)", "q(z)/p(z)"])
def test_a_power_minus_one_prints_back_to_the_same_tree(text):
    tree = parse_expression(text)
    assert srepr(parse_expression(to_text(tree))) == srepr(tree)


def test_the_reported_tree_is_a_bare_power():
    quotient = parse_expression("q(z)/p(z)")
    tree = Pow(quotient, -1, evaluate=False)
    assert to_text(tree) == "(q(z)/p(z))**(-1)"
    assert srepr(parse_expression(to_text(tree))) == srepr(tree)


def test_a_halved_third_prints_as_written_in_latex():
    """(q(z)/2)/3 parses to (q(z) * 2**-1) * 3**-1 (the parser builds it unevaluated).  The LaTeX
    printer once gathered a product's numbers into one coefficient, \\frac{1}{6} q(z): now each
    division prints where it was written (red team rt31 F5: 2 * ELBO(q) / 2 printed as L(q))."""
    tree = parse_expression("(q(z)/2)/3")
    inner = next(arg for arg in tree.args if isinstance(arg, Mul))
    assert Pow(3, -1, evaluate=False) in tree.args and Pow(2, -1, evaluate=False) in inner.args
    assert to_latex(tree) == r"\frac{q(z) / 2}{3}"
    assert srepr(parse_expression(to_text(tree))) == srepr(tree)

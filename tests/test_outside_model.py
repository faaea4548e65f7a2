"""Where an assumption makes no model, a failing step has no counterexample (docs/02): the search
asks engine.check._outside_model, one check for an exact instance and for an algebraic point."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sympy import Rational

from elbo_sym.engine.check import _outside_model
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.search import AlgebraicPoint, Instance, exact_candidates

STEP = ('start = "log(p(x))"\n\n[[step]]\nrel = ">="\nexpr = "log(p(x)) - KL(q(z), p(z | x))"\n'
        'rule = "kl-nonneg"\n')
INSTANCE = Instance((("prior", (Fraction(1, 2), Fraction(1, 2))), ("likelihood", (Fraction(1, 10), Fraction(1, 2)))),
                    "an instance")


def _model(assume: str):
    head = 'title = "t"\nK = 2\n' + (f'assume = "{assume}"\n' if assume else "")
    return loads(head + STEP, "t.toml").model().explicit(2)


def _point(model, instance: Instance) -> AlgebraicPoint:
    """`instance` as an algebraic point (rational coordinates are algebraic numbers too)."""
    values = {symbol: Rational(value.numerator, value.denominator) for symbol, value in model.values(instance).items()}
    return AlgebraicPoint(values=values, shown=(), polynomial="", coordinate="")


def test_an_instance_and_an_algebraic_point_where_q_is_no_distribution_are_outside_the_model():
    model = _model("q(z) = p(x, z)")  # sums to p(x) = 3/10 at the instance
    outside: list[str] = []
    assert _outside_model(model, INSTANCE, outside)
    assert _outside_model(model, _point(model, INSTANCE), outside)
    assert outside[0] == "an instance: q(z) is not a distribution there (it sums to 3/10, not 1)"
    assert outside[1] == "an algebraic point: q(z) is not shown to be a distribution there"  # its own check's words
    assert len(outside) == 2


@pytest.mark.parametrize("assume", ["", "q(z) = p(z)"])
def test_a_model_with_a_distribution_for_q_is_a_model_at_both(assume):
    model = _model(assume)
    outside: list[str] = []
    for instance in list(exact_candidates(model, (), 0))[:5]:
        assert not _outside_model(model, instance, outside)
        assert not _outside_model(model, _point(model, instance), outside)
    assert outside == []

"""A density's variables and given variables are read off its Tuples without a copy (asked tens of
thousands of times per tree): the same tuples, of the same symbols, however the density was built
(parsed, rebuilt by xreplace or subs)."""

from __future__ import annotations

from sympy import Symbol, Tuple

from elbo_sym.engine.notation import Density, x, z
from elbo_sym.engine.parse import Vocabulary, parse_expression

Z1, Z2 = Symbol("z1"), Symbol("z2")


def test_variables_and_given_are_plain_tuples_of_the_written_symbols():
    cases = [(Density("q", (z,)), (z,), ()), (Density("p", (x, z)), (x, z), ()),
             (Density("p", (z,), (x,)), (z,), (x,)), (Density("q", [Z1, Z2], Tuple(x)), (Z1, Z2), (x,))]
    for d, variables, given in cases:
        rebuilt = d.xreplace({Symbol("unused"): x})
        renamed = d.func(*d.args)
        for e in (d, rebuilt, renamed):
            assert type(e.variables) is tuple and type(e.given) is tuple
            assert e.variables == variables and e.given == given
            assert e.variables == tuple(e.args[1]) and e.given == tuple(e.args[2])


def test_parsed_densities_have_the_same_fields():
    for text, variables, given in [("q(z)", ("z",), ()), ("p(x | z)", ("x",), ("z",)), ("p(x, z)", ("x", "z"), ())]:
        d = parse_expression(text, Vocabulary())
        assert isinstance(d, Density)
        assert tuple(map(str, d.variables)) == variables and tuple(map(str, d.given)) == given

"""The one printer remembers what it printed (elbo_sym.engine.notation.to_text / to_latex): what it
returns is what a fresh printer prints, for every formula of the tree, for 150 made-up formulas, and
for expressions that are equal as numbers but not as trees."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sympy import Add, Float, Integer, Mul, Rational, Symbol

from elbo_sym.engine.derivation import load
from elbo_sym.engine.notation import ElboLatexPrinter, ElboStrPrinter, to_latex, to_text
from elbo_sym.engine.parse import ParseError, parse_expression

# the fast way against the long way, test by test: in make test-full (and CI), not the author's
# fast loop (every test is in one of the two tiers)
pytestmark = pytest.mark.full

TREE = sorted(Path(__file__).resolve().parent.parent.joinpath("derivations").rglob("*.toml"))


def fresh_text(e) -> str:
    return ElboStrPrinter({"order": "none"}).doprint(e)


def fresh_latex(e) -> str:
    return ElboLatexPrinter().doprint(e)


def _same_twice(e) -> None:
    for _ in range(2):  # the first call prints, the second answers from the memo
        assert to_text(e) == fresh_text(e)
        assert to_latex(e) == fresh_latex(e)


def test_every_formula_of_the_tree_prints_as_a_fresh_printer_prints_it():
    assert len(TREE) >= 70
    count = 0
    for path in TREE:
        d = load(path)
        for e in [d.start.expr, *(s.expr for s in d.steps)]:
            _same_twice(e)
            count += 1
    assert count > 250


def test_random_formulas_print_as_a_fresh_printer_prints_them():
    rng = random.Random(7)
    leaves = ["p(x)", "q(z)", "log(p(x, z))", "KL(q(z), p(z | x))", "E(q, log(p(x | z)))", "3", "1/4", "H(q)"]

    def formula(depth: int) -> str:
        if depth == 0 or rng.random() < 0.25:
            return rng.choice(leaves)
        a, b = formula(depth - 1), formula(depth - 1)
        return f"({a}) {rng.choice('+-*/')} ({b})"

    printed = 0
    for _ in range(150):
        try:
            e = parse_expression(formula(4))
        except ParseError:
            continue
        _same_twice(e)
        printed += 1
    assert printed > 100


def test_equal_numbers_that_are_different_trees_print_differently():
    a, b = Symbol("a"), Symbol("b")
    ab, ba = Add(a, b, evaluate=False), Add(b, a, evaluate=False)
    assert to_text(ab) == "a + b" and to_text(ba) == "b + a"
    assert to_text(Mul(a, b, evaluate=False)) == "a*b" and to_text(Mul(b, a, evaluate=False)) == "b*a"
    assert to_text(Integer(1)) == "1" and to_text(Rational(1, 2)) == "1/2"
    assert to_text(Float("0.5", 15)) == fresh_text(Float("0.5", 15))
    assert to_text(Float("0.5", 30)) == fresh_text(Float("0.5", 30))
    assert to_text(Symbol("x", positive=True)) == to_text(Symbol("x")) == "x"


@pytest.mark.parametrize("value", [1, True, 0.5, "log(p(x))", (1, 2)])
def test_what_is_not_an_expression_is_printed_each_time(value):
    assert to_text(value) == fresh_text(value)
    assert to_latex(value) == fresh_latex(value)


def _terminal_safe_char_by_char(text: str) -> str:
    """terminal_safe as it was written first: every character's category looked up."""
    import unicodedata

    from elbo_sym.prose import _TERMINAL_UNSAFE, _escape

    return "".join(_escape(ch) if ch not in "\n\t" and unicodedata.category(ch) in _TERMINAL_UNSAFE else ch
                   for ch in text)


def test_terminal_safe_escapes_what_the_character_by_character_filter_escapes():
    from elbo_sym.prose import terminal_safe

    rng = random.Random(3)
    alphabet = ([chr(c) for c in range(0, 0x250)] + ["\u2028", "\u2029", "\u202e", "\u200b", "\ufeff", "\udcff",
                "\ud800", "\u2265", "\u2264", "\U000e0041", "\U0001f600", "\x85", "\x7f", "\r", "\t", "\n"])
    escaped = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert terminal_safe(text) == _terminal_safe_char_by_char(text), repr(text)
        escaped += terminal_safe(text) != text
    assert escaped > 1000

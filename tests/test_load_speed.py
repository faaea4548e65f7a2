"""The loader's shortcuts give what the long way gives (elbo_sym.engine.derivation, parse).

Loading a file parses each formula text once (a claim repeats the start and the last step),
walks each formula once for its densities and model indices, reads an integer literal's digits
by slicing the one-line text, and remembers the degree bound of each subexpression while the
builder climbs the tree.  Each test recomputes the same answers without the shortcut, on every
file of the tree and on made-up formulas.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest
from sympy import Expr

from elbo_sym.engine.derivation import load, loads
from elbo_sym.engine.notation import DATA_DENSITY, Density, Index
from elbo_sym.engine.parse import ParseError, _degree, parse_expression
from elbo_sym.limits import MAX_DEGREE

# the fast way against the long way, test by test: in make test-full (and CI), not the author's
# fast loop (every test is in one of the two tiers)
pytestmark = pytest.mark.full

TREE = sorted(Path(__file__).resolve().parent.parent.joinpath("derivations").rglob("*.toml"))


@cache
def _loaded(path: Path):
    """Each file loaded once for the tests below (loading is what they examine, not what they time)."""
    return load(path)


def _formulas(d):
    """(formula text, parsed expression) of every formula the loader parsed with `formula`."""
    pairs = [(d.start.text, d.start.expr)]
    for r in (d.claim, *d.assumptions, *d.premises):
        if r is not None:
            pairs += [(r.lhs.text, r.lhs.expr), (r.rhs.text, r.rhs.expr)]
    for s in d.steps:
        pairs.append((s.formula.text, s.formula.expr))
        if s.repair is not None:
            pairs.append((s.repair.text, s.repair.expr))
    return pairs


def test_the_tree_is_there():
    assert len(TREE) >= 70


@pytest.mark.parametrize("path", TREE, ids=lambda p: p.stem)
def test_every_formula_is_what_a_fresh_parse_gives(path):
    d = _loaded(path)
    vocabulary = d.vocabulary
    pairs = _formulas(d)
    assert len(pairs) >= 2
    for text, expr in pairs:
        assert expr == parse_expression(text, vocabulary), text


@pytest.mark.parametrize("path", TREE, ids=lambda p: p.stem)
def test_data_weights_and_model_names_as_separate_walks_find_them(path):
    d = _loaded(path)
    exprs = [e for _, e in _formulas(d)]
    weighted = [d.start.expr, *(s.formula.expr for s in d.steps),
                *(e for a in d.assumptions for e in (a.lhs.expr, a.rhs.expr)),
                *((d.claim.lhs.expr, d.claim.rhs.expr) if d.claim is not None else ())]
    assert d.data_weights == any(x.name == DATA_DENSITY for e in weighted for x in e.atoms(Density))
    names = {x.name for e in exprs for x in e.atoms(Density) if x.name in ("r", "q_star")}
    assert d.variationals == tuple(n for n in ("r", "q_star") if n in names)
    indexed = {i.name for e in exprs for i in e.atoms(Index)}
    assert d.indices == tuple(p.name for p in d.params if p.name in indexed)


def test_a_repeated_text_is_parsed_once_and_a_refusal_each_time(monkeypatch):
    import elbo_sym.engine.derivation as derivation

    seen: list[str] = []

    def counting(text, vocabulary):
        seen.append(text)
        return parse_expression(text, vocabulary)

    monkeypatch.setattr(derivation, "parse_expression", counting)
    source = ('title = "t"\nclaim = "log(p(x)) >= ELBO(q)"\nstart = "log(p(x))"\n'
              '[[step]]\nrel = ">="\nexpr = "ELBO(q)"\nrule = "jensen"\n')
    d = loads(source, "memo.toml")
    assert seen.count("log(p(x))") == 1 and seen.count("ELBO(q)") == 1
    assert d.claim is not None and d.claim.lhs.expr == d.start.expr and d.claim.rhs.expr == d.steps[0].expr
    bad = source.replace('start = "log(p(x))"', 'start = "log(p(x)) + 0x1F"')
    for _ in range(2):  # the same bad text refused again, at the same place
        with pytest.raises(derivation.DerivationError, match="plain decimal digits"):
            loads(bad, "memo.toml")


def _degree_long_way(e: Expr) -> int:
    if e.is_Add:
        return max(_degree_long_way(a) for a in e.args)
    if e.is_Mul:
        return sum(_degree_long_way(a) for a in e.args)
    if e.is_Pow:
        return _degree_long_way(e.base) * abs(int(e.exp))
    return 0 if e.is_Number else 1


def _random_polynomial(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(["p(x)", "q(z)", "log(p(x, z))", str(rng.randint(0, 99)), "p(z | x)"])
    a, b = _random_polynomial(rng, depth - 1), _random_polynomial(rng, depth - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return f"({a}) + ({b})"
    if kind == 1:
        return f"({a}) * ({b})"
    if kind == 2:
        return f"({a}) ** {rng.randint(1, 4)}"
    return f"({a}) / ({b})"


def test_the_remembered_degree_is_the_walked_degree():
    rng = random.Random(19)
    checked = refused = 0
    for _ in range(400):
        text = _random_polynomial(rng, 5)
        try:
            e = parse_expression(text)
        except ParseError as error:
            assert "degree exceeds" in error.message or "division by zero" in error.message, text
            refused += 1
            continue
        assert _degree(e, {}) == _degree_long_way(e) <= MAX_DEGREE
        checked += 1
    for path in TREE[:20]:
        for _, e in _formulas(_loaded(path)):
            assert _degree(e, {}) == _degree_long_way(e)
    assert checked > 100 and refused > 0


def test_a_degree_over_the_limit_is_refused_as_before():
    e = parse_expression("((p(x) * q(z)) ** 12) ** 2")
    assert _degree_long_way(e) == MAX_DEGREE == 48
    with pytest.raises(ParseError, match="degree exceeds"):
        parse_expression("((p(x) * q(z)) ** 12) ** 2 * p(x)")


@pytest.mark.parametrize("literal", ["0x1F", "1_000", "0b11", "0o17", "00"])
def test_integer_literals_not_in_plain_digits_are_refused_on_any_line(literal):
    for text in (f"log(p(x)) + 0 * {literal}", f"(log(p(x)) +\n 0 * {literal})", f"  1 + {literal}"):
        if literal == "00":  # Python reads 00 as zero: plain digits, accepted
            assert parse_expression(text) is not None
            continue
        with pytest.raises(ParseError, match="plain decimal digits"):
            parse_expression(text)


def test_digits_read_the_same_on_the_first_line_and_below_it():
    assert parse_expression("(log(p(x)) +\n 12 * q(z))") == parse_expression("(log(p(x)) + 12 * q(z))")
    assert parse_expression("(3 +\r\n 45)") == parse_expression("(3 + 45)")
    assert parse_expression("(3 +\r 45)") == parse_expression("(3 + 45)")  # a lone CR ends a line for Python too
    with pytest.raises(ParseError, match="plain decimal digits"):
        parse_expression("(3 +\r 4_5)")


@pytest.mark.parametrize("text", ["0 ** -1", "(1 - 1) ** -2", "log(p(x)) + (2 - 2) ** -3"])
def test_a_zero_base_to_a_negative_power_is_still_division_by_zero(text):
    with pytest.raises(ParseError, match="division by zero"):
        parse_expression(text)


@pytest.mark.parametrize("text", ["0 ** 2", "(1 - 1) ** 3", "(p(x) - p(x)) ** 2", "(p(x) + q(z)) ** -1"])
def test_a_power_the_zero_question_does_not_concern_is_built(text):
    e = parse_expression(text)
    assert e.is_Pow and int(e.exp) == int(text.rsplit("**", 1)[1])

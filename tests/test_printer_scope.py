"""The one printer never prints a formula that means something else than the checked tree
(red team rt4: ``Sum(q(z), z) * log(p(z))``, a proved identity, was typeset
``\\sum_{z} q(z) \\log p(z)``, the sum of the product -- a false one).

An operator whose scope runs to the right without a closing bracket (a sum, a limit, a
``\\log`` without brackets) is bracketed when a factor follows it; a term that still starts
with a minus after its sign is bracketed.  No LaTeX reader exists to test this against, so the
property is injectivity: every expression of a small grammar (each tree up to five nodes, and
random deeper ones) is printed, and two that print the same must be the same tree up to what
the printer may rewrite without changing the value (:func:`_meaning`).  The old printer gave
``\\sum_{z} q(z) \\log p(z)`` for two trees of that grammar, so the property can fail.
"""

from __future__ import annotations

import random
from functools import cache, lru_cache

import pytest
from sympy import Expr, Mul, Pow

from elbo_sym.engine.notation import DimensionSum, LatentSum, to_latex, to_text
from elbo_sym.engine.parse import DEFAULT_VOCABULARY, ParseError, Vocabulary, parse_expression

LIMITS = Vocabulary(params=("alpha",))


def latex(text: str, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> str:
    return to_latex(parse_expression(text, vocabulary))


@pytest.mark.parametrize("text, printed", [
    # a sum as a factor: the product is outside the sum
    ("Sum(q(z), z) * log(p(z))", r"\left(\sum_{z} q(z)\right) \log p(z)"),
    ("Sum(q(z) * log(p(z)), z)", r"\sum_{z} q(z) \log p(z)"),
    ("Sum(q(z), z) * Sum(p(z), z)", r"\left(\sum_{z} q(z)\right) \sum_{z} p(z)"),
    ("q(z) * Sum(p(z), z)", r"q(z) \sum_{z} p(z)"),
    ("-Sum(q(z), z) * log(p(z))", r"- \left(\sum_{z} q(z)\right) \log p(z)"),
    ("Sum(q(z), z)**2", r"\left(\sum_{z} q(z)\right)^{2}"),
    ("Sum(-q(z), z)", r"\sum_{z} \left(- q(z)\right)"),
    ("Sum(q(z), z) + log(p(x))", r"\sum_{z} q(z) + \log p(x)"),
    # a log without brackets as a factor: its argument ends where the log ends
    ("log(p(x)) * q(z)", r"\left(\log p(x)\right)\, q(z)"),
    ("q(z) * log(p(x))", r"q(z) \log p(x)"),
    ("log(p(x) * q(z))", r"\log\left(p(x)\, q(z)\right)"),
    ("log(p(x) / q(z)) * q(z)", r"\left(\log \frac{p(x)}{q(z)}\right)\, q(z)"),
    ("log(p(x)) * log(p(z))", r"\left(\log p(x)\right) \log p(z)"),
    ("log(2) * p(x)", r"\left(\log 2\right)\, p(x)"),
    ("2 * log(p(x)) * q(z)", r"2 \left(\log p(x)\right)\, q(z)"),
    ("log(p(x)) * log(p(x)) * log(p(z))", r"\left(\log p(x)\right) \left(\log p(x)\right) \log p(z)"),
    ("log(p(x))**2", r"\left(\log p(x)\right)^{2}"),
    # expectations close their bracket: nothing to add
    ("E(q, log(p(x, z))) * q(z)", r"\mathbb{E}_{q(z)}\left[\log p(x, z)\right] q(z)"),
    # signs
    ("log(p(x)) - -log(p(z))", r"\log p(x) - \left(- \log p(z)\right)"),
    ("-(-log(p(z)))", r"- \left(- \log p(z)\right)"),
    ("log(p(x)) + -log(p(z))", r"\log p(x) - \log p(z)"),
    ("log(p(x)) - (log(p(z)) - log(q(z)))", r"\log p(x) - \left(\log p(z) - \log q(z)\right)"),
    # quotients: one fraction for a quotient of a quotient
    ("p(x) / q(z) / p(z)", r"\frac{p(x)}{q(z)\, p(z)}"),
    # a quotient in a denominator is written with a slash (a \frac under a bar is set two sizes
    # smaller), as the tree has it -- never q(z) \frac{1}{p(z)}, never multiplied out
    ("p(x) / (q(z) / p(z))", r"\frac{p(x)}{q(z) / p(z)}"),
    ("1 / (q(z) / p(z))", r"\frac{1}{q(z) / p(z)}"),
    ("p(x) / (1 / q(z))", r"\frac{p(x)}{1 / q(z)}"),
    ("(p(x) / q(z)) / (p(z) / q(z))", r"\frac{p(x) / q(z)}{p(z) / q(z)}"),
    ("p(x) / ((q(z) + p(z)) / 2)", r"\frac{p(x)}{\left(q(z) + p(z)\right) / 2}"),
    ("p(x) / (log(p(z)) / q(z))", r"\frac{p(x)}{\left(\log p(z)\right) / q(z)}"),
    ("p(x) / (q(z) / (p(z) * p(x)))", r"\frac{p(x)}{q(z) / \left(p(z)\, p(x)\right)}"),
    ("p(x) / (q(z) / (p(z) / p(x)))", r"\frac{p(x)}{q(z) / \left(p(z) / p(x)\right)}"),
    ("p(x) / (p(z) * (q(z) / p(z)))", r"\frac{p(x)}{p(z)\, q(z) / p(z)}"),
    ("p(x) * q(z) / (p(z) * (q(z) / p(z)))", r"\frac{p(x)\, q(z)}{p(z)\, q(z) / p(z)}"),
    # a rational coefficient before a negative number or another number (rt5 F2: \frac{1}{2} -3 read 1/2 - 3)
    ("(1/2) * (-3)", r"\frac{1}{2} \cdot \left(-3\right)"),
    ("p(x) - (1/2) * (-3)", r"p(x) - \frac{1}{2} \cdot \left(-3\right)"),
    ("(-1/2) * (-3)", r"- \frac{1}{2} \cdot \left(-3\right)"),
    ("(1/2) * 3", r"\frac{1}{2} \cdot 3"),
    ("exp((1/2) * (-3))", r"\exp\left(\frac{1}{2} \cdot \left(-3\right)\right)"),
    ("(1/2) * (-p(x))", r"- \frac{1}{2} p(x)"),
])
def test_each_scope_prints_its_exact_brackets(text, printed):
    assert latex(text) == printed


def test_a_long_product_brackets_each_factor_once():
    """A product nested 38 deep: each log bracketed on its own, never brackets inside brackets
    (and printed once per factor: deciding the brackets of a factor prints it, which without the
    printer's memo took 2**38 prints)."""
    printed = latex(" * ".join(["log(p(x))"] * 39))
    assert printed == " ".join([r"\left(\log p(x)\right)"] * 38 + [r"\log p(x)"])


def test_a_limit_and_a_sum_over_dimensions_keep_their_scope():
    assert latex("limit(ELBO(q) * alpha, alpha, 1)", LIMITS) == r"\lim_{\alpha \to 1} \mathcal{L}(q) \alpha"
    assert latex("limit(ELBO(q) * alpha, alpha, 1) * alpha", LIMITS) == \
        r"\left(\lim_{\alpha \to 1}\, \mathcal{L}(q) \alpha\right) \alpha"
    assert latex("limit(ELBO(q) * alpha, alpha, 1)**2", LIMITS) == \
        r"\left(\lim_{\alpha \to 1} \mathcal{L}(q) \alpha\right)^{2}"
    inside, outside = parse_expression("q(z) * p(x)"), parse_expression("p(x)")
    assert to_latex(Mul(DimensionSum(parse_expression("q(z)")), outside, evaluate=False)) == \
        r"\left(\sum_{d=1}^{D} q(z)\right)\, p(x)"
    assert to_latex(DimensionSum(inside)) == r"\sum_{d=1}^{D} q(z)\, p(x)"
    assert to_latex(Mul(LatentSum(parse_expression("q(z)")), outside, evaluate=False)) != to_latex(LatentSum(inside))


def _flat(e: Expr, kind: str) -> list[Expr]:
    return [f for a in e.args for f in (_flat(a, kind) if getattr(a, kind) else [a])]


def _factors(e: Expr) -> list[Expr]:
    """The factors of a product, nested products and 1 / (a * b) = (1 / a) * (1 / b) opened."""
    out = []
    for f in _flat(e, "is_Mul"):
        if f.is_Pow and f.base.is_Mul and f.exp.is_Integer and f.exp < 0:
            out += [Pow(g, f.exp, evaluate=False) for g in _factors(f.base)]
        else:
            out.append(f)
    return out


def _meaning(e: Expr):
    """`e` up to what the printer may rewrite without changing the value: nested sums and
    products flattened (associativity), a product's factors in any order (commutativity: it
    prints ``q(z) \\frac{p(x)}{q(z)}`` for ``p(x) * (q(z) / q(z))``), its number factors
    multiplied into one coefficient (a 1 dropped).  A grouping is never forgotten: the
    argument of a log, the body of a sum, a quotient's denominator stay where they are."""
    if e.is_Add:
        return ("+", tuple(_meaning(t) for t in _flat(e, "is_Add")))
    if e.is_Mul:
        factors = _factors(e)
        numbers = [f for f in factors if f.is_number]  # 2, 1/2, 2**-1, (2**-1)**-1
        rest = tuple(sorted((_meaning(f) for f in factors if not any(f is n for n in numbers)), key=repr))
        coefficient = Mul(*(n.doit() for n in numbers))
        if coefficient == 1 and len(rest) == 1:
            return rest[0]
        return ("*", coefficient, rest) if rest else coefficient
    if e.args:
        return (type(e).__name__, tuple(_meaning(a) for a in e.args))
    return e


ATOMS = ("q(z)", "p(x)", "2")
UNARY = ("log({})", "Sum({}, z)", "E(q, {})", "-({})", "({})**2")
BINARY = ("({})*({})", "({})/({})", "({}) + ({})", "({}) - ({})")


@cache
def _texts(size: int) -> tuple[str, ...]:
    """Every expression of the grammar with `size` nodes (fully bracketed source text)."""
    if size == 1:
        return ATOMS
    out = [u.format(a) for u in UNARY for a in _texts(size - 1)]
    out += [b.format(left, right) for b in BINARY for i in range(1, size - 1)
            for left in _texts(i) for right in _texts(size - 1 - i)]
    return tuple(out)


@lru_cache(maxsize=4)
def _parsed(texts: tuple[str, ...]) -> tuple[Expr, ...]:
    """The texts that parse (log of a negative number does not), parsed once."""
    out = []
    for text in texts:
        try:
            out.append(parse_expression(text))
        except ParseError:
            pass
    return tuple(out)


def _collisions(trees) -> tuple[int, list[str]]:
    """How many trees, and the pairs of different meanings printed the same."""
    seen: dict[str, Expr] = {}
    parsed, clashes = 0, []
    for e in trees:
        parsed += 1
        printed = to_latex(e)
        other = seen.setdefault(printed, e)
        if _meaning(other) != _meaning(e):
            clashes.append(f"{printed}: {to_text(other)} and {to_text(e)}")
    return parsed, clashes


def test_the_grammar_holds_both_trees_of_the_red_teams_case():
    texts = set(_texts(5))
    assert "(Sum(q(z), z))*(log(p(x)))" in texts and "Sum((q(z))*(log(p(x))), z)" in texts


@pytest.fixture(scope="module")
def small_trees() -> tuple[Expr, ...]:
    """Every expression of the grammar with up to 5 nodes that parses (over 8,000), parsed once for the
    two tests that read them all (a module fixture: one worker runs both)."""
    return _parsed(tuple(t for size in range(1, 6) for t in _texts(size)))


@pytest.mark.full
def test_every_small_expression_prints_apart_from_every_other(small_trees):
    parsed, clashes = _collisions(small_trees)
    assert parsed > 8000
    assert clashes == []


def _random_text(rng: random.Random, depth: int) -> str:
    atoms = ("p(x)", "q(z)", "p(z)", "p(x, z)", "p(z | x)", "3", "1/2", "KL(q(z), p(z | x))", "H(q)", "ELBO(q)")
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(atoms)
    forms = UNARY + BINARY
    form = rng.choice(forms)
    return form.format(*(_random_text(rng, depth - 1) for _ in range(form.count("{}"))))


@pytest.mark.full
def test_random_deeper_expressions_print_apart():
    rng = random.Random(20261206)
    texts = [_random_text(rng, 4) for _ in range(600)]
    # each scope bug pairs a tree with its neighbour: add both sides of every such pair
    texts += [f"Sum(({t})*(p(x)), z)" for t in texts[:100]] + [f"(Sum({t}, z))*(p(x))" for t in texts[:100]]
    texts += [f"log(({t})*(q(z)))" for t in texts[:100]] + [f"(log({t}))*(q(z))" for t in texts[:100]]
    parsed, clashes = _collisions(_parsed(tuple(texts)))
    assert parsed > 800
    assert clashes == []


@pytest.mark.full
def test_the_file_syntax_parses_back_to_the_tree(small_trees):
    """to_text is what `check` prints and an author may paste back: every expression of the
    grammar (integers only) parses back to the very tree printed."""
    texts = ("-(-(q(z)))", "-((2)*(q(z)))", "(-(2))/(-(q(z)))", "(3)*((q(z))*(p(x)))", "(2)/((q(z))*(p(x)))")
    wrong, parsed = [], 0
    for e in small_trees + _parsed(texts):
        parsed += 1
        if parse_expression(to_text(e)) != e:
            wrong.append(f"{to_text(e)}: {e!r}")
    assert parsed > 8000
    assert wrong == []


@pytest.mark.full
def test_the_file_syntax_parses_back_to_the_tree_with_fractions():
    """The same with rational numbers and negative coefficients (deeper random trees): a rational
    coefficient prints as (1/2)*a, never a/2 (a * 2**-1, another tree); a + (-2)*b stays so,
    never a - 2*b (a - (2*b))."""
    rng = random.Random(20261207)
    texts = [_random_text(rng, 4) for _ in range(800)]
    texts += ["(p(x)) + ((-(3))*(q(z)))", "(p(x)) + ((-(1/2))*(q(z)))", "(p(x)) - ((1/2)*(q(z)))",
              "((p(x)) + ((-(3))*(q(z)))) - ((-(1/2))*(log(p(x))))", "(-(1/2))*(Sum(q(z), z))",
              "(1/2)*((1/3)*(q(z)))", "((1/2)*(q(z)))/(3)", "(1/2)*((q(z))/(p(x)))", "(1/2)*(-(1/3))"]
    wrong, parsed = [], 0
    for e in _parsed(tuple(texts)):
        parsed += 1
        if parse_expression(to_text(e)) != e:
            wrong.append(f"{to_text(e)}: {e!r}")
    assert parsed > 700
    assert wrong == []


def _repository_formulas():
    """Every formula the repository's files hold, with the vocabulary it was parsed in: the steps,
    claims, assumptions, premises, repairs and prose formulas of derivations/ and docs/examples/,
    and the formulas, claims and conditions of the lesson's decks."""
    from pathlib import Path

    from elbo_sym.engine.derivation import Formula, load
    from elbo_sym.lesson.practice import CardFormula, load_flashcards, load_selfcheck

    root = Path(__file__).resolve().parent.parent
    paths = sorted((root / "derivations").rglob("*.toml")) + sorted((root / "docs" / "examples").rglob("*.toml"))
    decks = [load_flashcards(), load_selfcheck()] + [load_deck_if(p) for p in paths]
    out = []

    def walk(value, vocabulary):
        if isinstance(value, Formula):
            out.append((value.text, value.expr, vocabulary))
        elif isinstance(value, CardFormula):
            out.extend((value.text, side, vocabulary) for side in (value.lhs, value.rhs) if side is not None)
            walk(value.conditions, vocabulary)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v, vocabulary)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                walk(getattr(value, name), vocabulary)

    for path in paths:
        if not is_deck(path):
            d = load(path)
            walk(d, d.vocabulary)
            out.extend((text, e, d.vocabulary) for text, e in d.prose_math if isinstance(e, Expr))
    for deck in filter(None, decks):
        walk(deck.cards, deck.vocabulary)
        out.extend((text, e, deck.vocabulary) for text, e in deck.prose_math if isinstance(e, Expr))
    return out


def is_deck(path) -> bool:
    text = path.read_text()
    return "[[card]]" in text or "[[question]]" in text


def load_deck_if(path):
    from elbo_sym.lesson.practice import load_deck

    return load_deck(path) if is_deck(path) else None


@pytest.mark.full
def test_every_formula_of_the_repository_prints_back_to_its_tree():
    """to_text of every formula an author wrote in the repository (derivations/, docs/examples/, the
    lesson's decks) parses back, in its file's vocabulary, to the very tree it was printed from."""
    formulas = _repository_formulas()
    wrong = [f"{text!r} printed {to_text(e)!r}" for text, e, vocabulary in formulas
             if parse_expression(to_text(e), vocabulary) != e]
    assert len(formulas) > 400
    assert any("/" in to_text(e) for _, e, _ in formulas)
    assert wrong == []


@pytest.mark.parametrize("text, printed", [
    ("-(-q(z))", "-(-q(z))"),
    ("-(2 * q(z))", "-(2*q(z))"),
    ("-2 * q(z)", "-2*q(z)"),
    ("(-2) / (-q(z))", "-2/(-q(z))"),  # Python reads -2/x as (-2)/x
    ("1/2 * p(x)", "(1/2)*p(x)"),  # not p(x)/2: p(x) * 2**-1 is another tree
    ("-1/2 * p(x)", "-(1/2)*p(x)"),
    ("p(x) + (-2) * q(z)", "p(x) + (-2)*q(z)"),  # not p(x) - 2*q(z): p(x) - (2*q(z)) is another tree
    ("p(x) - 2 * q(z)", "p(x) - 2*q(z)"),
    ("p(x) / 2", "p(x)/2"),
    ("3 * (q(z) * p(x))", "3*(q(z)*p(x))"),
    ("Sum(q(z), z) * log(p(z))", "Sum(q(z), z)*log(p(z))"),
])
def test_the_file_syntax_keeps_each_grouping(text, printed):
    assert to_text(parse_expression(text)) == printed

"""The memos of canonical forms (elbo_sym.engine.canonical) change nothing but the cost.

A model remembers each expression's canonical form, and the factorisations of log arguments
are remembered per process.  Both must give exactly what a fresh computation gives: every
step of files from each family is reduced through the memo (twice) and on a model built
afresh, and the forms must be equal term by term; a form that is refused is refused again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Add, Pow, Symbol, expand, factor_list, log

from elbo_sym.budget import limit
from elbo_sym.engine import canonical as canonical_module
from elbo_sym.engine.canonical import TooLarge, canonical
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models import build
from elbo_sym.engine.models.discrete import UnfoldError
from elbo_sym.engine.rules import difference

ROOT = Path(__file__).resolve().parent.parent / "derivations"
FILES = [  # one or two of each family: discrete K "any" and explicit K, two layers, Gaussian, Jensen's pairs
    "gap.toml", "jensen.toml", "literature/renyi-bound.toml", "variants/hierarchical-gap.toml",
    "literature/ddpm-eq3-two-layers.toml", "literature/kingma-welling-eq3.toml",
    "literature/softmax-posterior.toml", "literature/gibbs-inequality.toml",
]


def _unfolded_forms(path: Path):
    """(model, unfolded expression) for each side and each step's difference of the file."""
    derivation = load(path)
    model = derivation.model()
    previous = derivation.start.expr
    for step in derivation.steps:
        for e in (step.expr, difference(previous, step.expr)):
            try:
                for u in model.unfold_pointwise(e):
                    yield derivation, model, u
            except UnfoldError:
                continue
        previous = step.expr


@pytest.mark.parametrize("name", FILES)
def test_a_remembered_form_is_the_form_computed_afresh(name):
    checked = 0
    for derivation, model, u in _unfolded_forms(ROOT / name):
        first, again = canonical(u, model), canonical(u, model)
        fresh = canonical(u, build(derivation.spec))  # a new model: an empty memo
        assert first == again == fresh, name
        assert str(first.as_expr()) == str(fresh.as_expr())
        checked += 1
    assert checked >= 2


def test_a_refused_form_is_refused_again():
    """TooLarge is raised, never remembered as some form (the second call must refuse too)."""
    model = build(load(ROOT / "gap.toml").spec)
    symbols = [Symbol(f"a{i}", positive=True) for i in range(20)]
    e = Pow(Add(*symbols), 12, evaluate=False) * log(symbols[0])  # a coefficient with ~10**8 terms
    for _ in range(2):
        with limit(10, "canonical ran away"), pytest.raises(TooLarge):
            canonical(e, model)


def test_remembered_factorisations_equal_sympys():
    """The remembered factor_list is SymPy's, on polynomials that factor and that do not."""
    a, b, c = (Symbol(n, positive=True) for n in "abc")
    polynomials = [a**2 - b**2, expand((a + b) ** 3), a**2 + a * b + b**2, expand((a + 2 * b) * (a * c + 1)),
                   expand((a - b) ** 2 * (a + b + c)), a * b + c]
    for p in polynomials * 2:  # the second round is answered from the memo
        coefficient, pieces = canonical_module._factor_list(p)
        expected = factor_list(p)
        assert (coefficient, list(pieces)) == (expected[0], expected[1])


def test_the_forms_of_one_model_share_their_log_atoms(monkeypatch):
    """A log argument's factors are reduced once per model, not once per form (Jensen asks for several
    forms of one step's sides); the forms are those of a model that starts afresh (the test above)."""
    a, b = Symbol("a", positive=True), Symbol("b", positive=True)
    argument = a**2 + 3 * a * b + b
    made: list = []
    real = canonical_module._Builder._factor_atoms
    monkeypatch.setattr(canonical_module._Builder, "_factor_atoms", lambda self, f: made.append(f) or real(self, f))
    model = build(load(ROOT / "gap.toml").spec)
    first = canonical(a * log(argument) + log(a), model)
    assert argument in made
    made.clear()
    second = canonical(b * log(argument) - log(a), model)
    assert argument not in made and a not in made
    fresh = build(load(ROOT / "gap.toml").spec)
    assert second == canonical(b * log(argument) - log(a), fresh) and first != second

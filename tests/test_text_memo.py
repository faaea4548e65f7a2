"""`to_text` remembers what it printed (engine.notation): the same obligations, weights and sides
are printed into the conditions and reasons of step after step. The remembered text must be the
printer's text for that very expression: expressions that only look alike (another order of an
unevaluated sum, a symbol with other assumptions, a float's precision) are different keys."""

from __future__ import annotations

from pathlib import Path

from sympy import Add, Float, Mul, Rational, Symbol, preorder_traversal

from elbo_sym.engine.derivation import load
from elbo_sym.engine.notation import ElboStrPrinter, to_text

ROOT = Path(__file__).resolve().parent.parent


def _fresh(e) -> str:
    return ElboStrPrinter({"order": "none"}).doprint(e)


def test_remembered_text_is_the_printers_text_for_every_subexpression_of_some_files():
    printed = 0
    for name in ("decomposition.toml", "literature/alemi-h-minus-d.toml",
                 "literature/ddpm-appendix-a-gaussian-t2.toml", "literature/iwae-draws-as-sums.toml"):
        derivation = load(ROOT / "derivations" / name)
        for formula in (derivation.start, *derivation.steps):
            for node in preorder_traversal(formula.expr):
                for _ in range(2):  # the second time from the memo
                    assert to_text(node) == _fresh(node), node
                printed += 1
    assert printed > 200


def test_expressions_that_only_look_alike_keep_their_own_text():
    x, y = Symbol("x"), Symbol("y")
    pairs = [(Add(x, y, evaluate=False), Add(y, x, evaluate=False)),
             (Mul(x, y, evaluate=False), Mul(y, x, evaluate=False)),
             (Float("0.5", 3), Float("0.5", 30)), (Rational(1, 2), Float("0.5", 30)),
             (Symbol("s", positive=True) + 1, Symbol("s") + 1)]
    for a, b in pairs:
        for e in (a, b, a, b):
            assert to_text(e) == _fresh(e), e
    assert to_text(pairs[0][0]) != to_text(pairs[0][1])  # the test above could tell them apart
    assert to_text([x, y]) == _fresh([x, y])  # not an expression: printed, never remembered


def test_parts_remembered_from_formula_to_formula_print_as_a_fresh_printer_prints_them():
    """The printers with the default settings share what they printed between formulas (notation's
    _TEXT_PRINTED, _LATEX_PRINTED): a part first met inside a formula prints alone, and inside
    another formula, as a fresh printer prints it -- a float (written in full only at the top), a
    product of long names (LaTeX's thin space between them), a sum on the right of a product."""
    from elbo_sym.engine import notation
    from elbo_sym.engine.notation import ElboLatexPrinter, to_latex
    from elbo_sym.engine.parse import Vocabulary, parse_expression

    def fresh_latex(e) -> str:
        return ElboLatexPrinter({}).doprint(e)  # settings given: a printer with its own memo

    vocabulary = Vocabulary(params=("alpha", "beta", "gamma", "rate", "scale"))
    texts = ["alpha*beta + log(p(x))", "gamma*(alpha*beta + log(p(x)))", "alpha*beta", "1 - alpha*beta",
             "(alpha - beta)/(gamma*beta)", "E(q, log(p(x, z)/q(z)))*gamma", "log(p(x, z)/q(z))",
             "rate*(alpha*beta)", "alpha*beta*rate", "scale*(rate*(alpha*beta))"]
    half = Float("0.5", 30)
    formulas = [parse_expression(t, vocabulary) for t in texts] + [half, Mul(half, Symbol("a"), evaluate=False)]
    for e in formulas + formulas[::-1]:
        for node in preorder_traversal(e):
            assert to_text(node) == _fresh(node), node
            assert to_latex(node) == fresh_latex(node), node
    assert notation._TEXT_PRINTED and notation._LATEX_PRINTED  # shared: the test above compared the memo
    assert not any(isinstance(key, Float) for key in notation._TEXT_PRINTED)


def test_the_shared_memo_of_parts_is_bounded(monkeypatch):
    from elbo_sym.engine import notation

    monkeypatch.setattr(notation, "PRINTED_PARTS", 5)
    for n in range(40):
        e = Symbol(f"s{n}") + n
        notation.ElboStrPrinter().doprint(e)
        notation.ElboLatexPrinter().doprint(e)
        assert len(notation._TEXT_PRINTED) <= 5 + 3 and len(notation._LATEX_PRINTED) <= 5 + 3
        assert notation.ElboStrPrinter().doprint(e) == _fresh(e)

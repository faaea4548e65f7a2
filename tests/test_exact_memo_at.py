"""Exact values kept per point (elbo_sym.engine.exact.memo_at): a file's examples re-decided step
after step, and its report's start and end values, share one memo per point.  What a shared memo answers
must be what a fresh evaluation gives -- a value, or the same error -- and the memos stay bounded."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from sympy import Add, Mul, Pow, Symbol, log, preorder_traversal

from elbo_sym.engine import exact as exact_module
from elbo_sym.engine.check import check_derivation
from elbo_sym.engine.derivation import load
from elbo_sym.engine.exact import memo_at
from elbo_sym.numbers.evaluate import Inexact, Undefined, exact
from elbo_sym.report.build import report_of

ROOT = Path(__file__).resolve().parent.parent
a, b = Symbol("a"), Symbol("b")


def _fresh(e, values):
    try:
        return exact(e, values, pi=True)
    except (Undefined, Inexact) as error:
        return type(error), str(error)


def _shared(e, values):
    try:
        return exact(e, values, memo_at(values), pi=True)
    except (Undefined, Inexact) as error:
        return type(error), str(error)


def test_one_memo_per_point_and_each_answer_as_a_fresh_evaluation_gives_it():
    here, there = {a: Fraction(1, 2), b: Fraction(1, 3)}, {a: Fraction(1, 3), b: Fraction(1, 2)}
    assert memo_at(here) is memo_at(dict(here)) and memo_at(here) is not memo_at(there)
    gap = Add(a, Mul(-1, a, evaluate=False), evaluate=False)  # 0 at every point: log(gap) is undefined
    formulas = [log(a) - log(b), a * log(a / b), log(gap), Pow(gap, -1, evaluate=False), log(a + b) * (a - b),
                Pow(a - b, -1, evaluate=False)]
    for values in (here, there, here):
        for e in formulas + formulas[::-1]:
            for node in preorder_traversal(e):
                assert _shared(node, values) == _fresh(node, values), (node, values)
    assert isinstance(_shared(log(gap), here)[0], type) and _shared(log(gap), here)[0] is Undefined


def test_the_memos_are_bounded(monkeypatch):
    monkeypatch.setattr(exact_module, "EXACT_MEMOS_KEPT", 3)
    for n in range(1, 20):
        memo_at({a: Fraction(1, n + 1)})
        assert len(exact_module._MEMOS_AT) <= 3


@pytest.mark.parametrize("name", ["decomposition.toml", "gap.toml"])
def test_a_report_checked_with_the_memos_full_is_the_report_checked_without(name):
    path = ROOT / "derivations" / name
    exact_module._MEMOS_AT.clear()
    first = report_of(check_derivation(load(path)))
    assert exact_module._MEMOS_AT  # the examples' points were remembered
    second = report_of(check_derivation(load(path)))  # every exact value from the memos
    assert first == second

"""Exact arithmetic at a root with no radical form: SymPy's ``CRootOf``.

The counterexample search solves one coordinate of a point exactly (engine.search.algebraic_points);
a root of a polynomial of degree 3 to 8 is a ``CRootOf`` r.  A value rational in r (a premise's
two sides there, a step's side) is an element of the field Q(r) = Q[y] / (g), g the irreducible
polynomial of r, and has one form there: c(r), c of degree below g's (:func:`in_root`).  So:

* it is 0 exactly when c is the zero polynomial -- never because a number is small;
* otherwise its sign is c's sign on r's isolating interval (exact rational ends, refined by
  SymPy's exact real-root refinement), read once Sturm counts show that c has no root on the
  interval; past the finest precision asked for, it is undecided (None), never 0.

No float decides anything here.  :func:`root_interval` also gives the certified intervals that
numbers.evaluate's enclosures use for r beside logs and exps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sympy import Add, Dummy, Expr, Poly, Rational, Symbol
from sympy.polys.polyerrors import BasePolynomialError
from sympy.polys.rootoftools import ComplexRootOf
from sympy.printing.str import StrPrinter

from elbo_sym.failures import reraise_callers


@dataclass(frozen=True)
class InRoot:
    """A value in Q(r): ``reduced``(r), the polynomial reduced modulo r's ``minimal`` polynomial."""

    root: ComplexRootOf
    minimal: Poly
    """g: irreducible over Q, g(r) = 0 (in the placeholder y)."""
    reduced: Poly
    """c: degree below g's; c is 0 exactly when the value is."""

    @property
    def is_zero(self) -> bool:
        return self.reduced.is_zero

    def as_expr(self) -> Expr:
        """c(r) as a SymPy number: the value's one form (0 for a zero, however it was written)."""
        return self.reduced.as_expr().xreplace({self.reduced.gen: self.root})


_Y = Dummy("y")
"""The placeholder r is replaced by while a value is read as a rational function."""


def in_root(e: Expr) -> InRoot | None:
    """`e` as an element of Q(r), when it is a rational function with rational coefficients of one
    real CRootOf r whose polynomial is irreducible; None for any other shape (no CRootOf, two of them,
    a log, a square root).  Raises ZeroDivisionError when a denominator is exactly 0 at r."""
    roots = e.atoms(ComplexRootOf)
    if len(roots) != 1:
        return None
    (root,) = roots
    minimal = _minimal(root)
    if minimal is None:
        return None
    f = e.xreplace({root: _Y})
    if f.free_symbols - {_Y} or not f.is_rational_function(_Y):
        return None
    try:
        numerator, denominator = (Poly(part, _Y, domain="QQ") for part in f.together().as_numer_denom())
    except (BasePolynomialError, ValueError) as raised:  # a coefficient that is no rational (pi, E)
        reraise_callers(raised)
        return None
    below = denominator.rem(minimal)
    if below.is_zero:
        raise ZeroDivisionError("a denominator is exactly 0 at the root")
    return InRoot(root, minimal, (numerator.rem(minimal) * below.invert(minimal)).rem(minimal))


def in_root_with_logs(e: Expr) -> Expr | None:
    """`e` in one form when it is c0(r) + c1(r) log(A1) + ... + cn(r) log(An), one real CRootOf r: each
    coefficient c_j reduced in Q(r) (:func:`in_root`, degree below r's; a part that is 0 there drops out),
    and each log's argument where it is rational in r.  A side at an algebraic point is such a sum when
    logs beside the root's powers cancelled from the difference (r**8 - ... + log(2): ``1 + log(2)``);
    in_root takes no log.  None for any other shape (no CRootOf or two, no log, a product of logs, a
    coefficient that is no rational function of r).  Raises ZeroDivisionError as in_root does."""
    from sympy import S, collect, expand, log

    if len(e.atoms(ComplexRootOf)) != 1:
        return None
    expanded = expand(e)
    logs = sorted(expanded.atoms(log), key=str)
    if not logs:
        return None
    parts = collect(expanded, logs, evaluate=False)
    out = []
    for key, coefficient in parts.items():
        if (key is not S.One and key not in logs) or coefficient.has(log):
            return None  # a product of logs, or a log inside a coefficient
        reduced = _reduced(coefficient)
        if reduced is None:
            return None
        if key is not S.One:
            argument = _reduced(key.args[0])
            key = log(argument) if argument is not None else key
        out.append(reduced * key)
    return Add(*out)


def _reduced(e: Expr) -> Expr | None:
    """`e`'s one form in Q(r) (a rational stays as it is); None when it is neither."""
    if e.is_Rational:
        return e
    in_field = in_root(e)
    return in_field.as_expr() if in_field is not None else None


@lru_cache(maxsize=64)
def _minimal(root: ComplexRootOf) -> Poly | None:
    """r's polynomial in the placeholder y when r is real and it is irreducible (SymPy's CRootOf
    keeps the irreducible factor r is a root of; checked, not assumed), else None."""
    if not root.is_real:
        return None
    g = Poly(root.expr.xreplace({root.poly.gen: _Y}), _Y, domain="QQ")
    return g if g.degree() >= 2 and g.is_irreducible else None


def sign(v: InRoot, digits: tuple[int, ...]) -> int | None:
    """-1, 0 or 1: the value's sign, exactly.  0 when c is the zero polynomial; else the sign of c
    at an end of r's isolating interval, refined (the isolating interval first, then to 10**-d for
    each d of `digits`) until c has no root on it (a Sturm count).  None when even the finest
    interval holds a root of c: undecided, never 0."""
    c = v.reduced
    if c.is_zero:
        return 0
    if c.degree() <= 0:
        return _sign_of(c.LC())
    for d in (0, *digits):
        low, high = root_interval(v.root, d)
        if c.count_roots(low, high) == 0:
            return _sign_of(c.eval(low))
    return None


def _sign_of(q) -> int:
    p = Rational(q).p
    return int(p > 0) - int(p < 0)


@lru_cache(maxsize=256)
def root_interval(root: ComplexRootOf, digits: int) -> tuple[Rational, Rational]:
    """Rational ends low < r < high, exactly: r's isolating interval among the real roots of its
    polynomial (digits 0), refined until it is at most 10**-digits wide.  ValueError for a root
    that is not real."""
    if not root.is_real:
        raise ValueError("a complex root has no real interval")
    g = Poly(root.expr, root.poly.gen)
    (low, high), _ = sorted(g.intervals(), key=lambda i: i[0][0])[root.index]
    if digits > 0:
        low, high = g.refine_root(low, high, eps=Rational(1, 10 ** digits))
    return Rational(low), Rational(high)


_T = Symbol("t")
"""The name a root's polynomial is printed in: the search's placeholder t, whatever generator SymPy's
cache of CRootOf objects kept (a CRootOf equal to one made before is that one, generator and all)."""


def _in_t(root: ComplexRootOf) -> Expr:
    return root.expr.xreplace({root.poly.gen: _T})


class _Text(StrPrinter):
    def _print_ComplexRootOf(self, expr) -> str:
        return f"CRootOf({self._print_Add(_in_t(expr), order='lex')}, {expr.index})"


@dataclass(frozen=True)
class RootShown:
    """What a printer needs of a CRootOf r to write it: its polynomial in t (whatever generator SymPy
    kept) and which real root it is.  Handed to the one LaTeX printer (engine.notation), which this
    layer cannot import: so a point's values and a side's value at it are typeset by that printer."""

    polynomial: Expr
    index: int


def root_shown(root: ComplexRootOf) -> RootShown:
    """r's polynomial in t as a sum of its terms from the highest degree down (unevaluated: a printer
    that keeps a sum's order, as the one printer does, writes t**3 - t - 1), and r's index."""
    terms = Poly(_in_t(root), _T).terms()
    return RootShown(Add(*(c * _T ** m for (m,), c in terms), evaluate=False), int(root.index))


def root_text(e: Expr) -> str:
    """`e` as text, a CRootOf as ``CRootOf(t**3 - t - 1, 0)``; every other number as str() gives it."""
    return _Text().doprint(e)


__all__ = ["InRoot", "RootShown", "in_root", "in_root_with_logs", "sign", "root_interval", "root_shown", "root_text"]

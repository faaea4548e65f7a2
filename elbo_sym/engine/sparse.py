"""Exact rational functions as sparse integer polynomials: N / (q * prod F**k), never a gcd.

SymPy's `together` + `expand` and its fraction fields (every sum and product reduced by a
gcd) are slow on the long sums of nested fractions a chain of Gaussian layers gives.  Here a
sum takes a common multiple of the denominators and nothing is cancelled, so a value is
identically 0 exactly when its numerator N is the zero polynomial (canonical's zero test), and
its coefficients in one variable are read off N (the Gaussian chain's moments); each product
is refused before it could pass MAX_EXPANSION_TERMS terms.
"""

from __future__ import annotations

import math
from functools import lru_cache

from sympy import ZZ, Expr, S, Symbol
from sympy.polys.orderings import lex
from sympy.polys.polyutils import _sort_gens  # the order Poly gives its generators
from sympy.polys.rings import PolyRing

from elbo_sym.budget import checkpoint
from elbo_sym.limits import MAX_EXPANSION_TERMS


class TooLarge(ArithmeticError):
    """The expression would need more work than the budget allows."""


class Fractions:
    """Rational functions with rational coefficients as (N, q, {F: k}) = N / (q * prod F**k): N a sparse
    polynomial over the integers, q a positive integer, each F a primitive polynomial (positive leading
    coefficient) that is not the zero polynomial.  Sums take a common multiple of the denominators
    (the larger power of each F, not the least common multiple: no gcd is ever computed), so the
    value is exactly N / (q * prod F**k) with a non-zero denominator, and it is identically 0 exactly
    when N is the zero polynomial."""

    def __init__(self, symbols: list):
        self.ring = _ring(tuple(symbols))
        self.generators = dict(zip(symbols, self.ring.gens))
        self.memo: dict[Expr, tuple] = {}

    def numerator(self, e: Expr):
        return self.convert(e)[0]

    def convert(self, e: Expr) -> tuple:
        known = self.memo.get(e)
        if known is None:
            known = self.memo[e] = self._convert(e)
        return known

    def _convert(self, e: Expr) -> tuple:
        if e.is_Rational:
            return self.ring(int(e.p)), int(e.q), {}
        if e.is_Symbol:
            if e not in self.generators:
                raise ValueError(f"{e} is not a generator")
            return self.generators[e], 1, {}
        checkpoint()
        if e.is_Add:
            return self._sum([self.convert(a) for a in e.args])
        if e.is_Mul:
            numerator, scale, denominator = None, 1, dict[object, int]()
            for a in e.args:
                n, q, d = self.convert(a)
                numerator = n if numerator is None else _times(numerator, n)
                scale *= q
                for f, k in d.items():
                    denominator[f] = denominator.get(f, 0) + k
            return numerator if numerator is not None else self.ring.one, scale, denominator
        if e.is_Pow and e.exp.is_Integer:
            k = int(e.exp)
            n, q, d = self.convert(e.base)
            if k >= 0:
                return _power(n, k), q ** k, {f: m * k for f, m in d.items()}
            if not n:
                raise ZeroDivisionError("a power of 0 with a negative exponent")
            content, f = n.primitive()
            if f.LC < 0:
                content, f = -content, -f
            inverse = self.ring(q if content > 0 else -q)  # 1 / (n / (q prod d)) = q prod d / (content f)
            for g, m in d.items():
                inverse = _times(inverse, _power(g, m))
            return _power(inverse, -k), abs(content) ** -k, {f: -k}
        raise ValueError(f"not a rational function: {type(e).__name__}")

    def _sum(self, parts: list[tuple]) -> tuple:
        grouped: dict[frozenset, tuple] = {}  # terms over the same denominator are added first
        for n, q, d in parts:
            key = frozenset(d.items())
            if key in grouped:
                n0, q0, _ = grouped[key]
                common = q0 * q // math.gcd(q0, q)
                grouped[key] = (_bounded(_scaled(n0, common // q0) + _scaled(n, common // q)), common, d)
            else:
                grouped[key] = (n, q, d)
        scale, denominator = 1, dict[object, int]()
        for _, q, d in grouped.values():
            scale = scale * q // math.gcd(scale, q)
            for f, k in d.items():
                denominator[f] = max(denominator.get(f, 0), k)
        numerator = self.ring.zero
        for n, q, d in grouped.values():
            if not n:
                continue
            n = _scaled(n, scale // q)
            for f, k in denominator.items():
                if k > d.get(f, 0):
                    n = _times(n, _power(f, k - d.get(f, 0)))
            numerator = _bounded(numerator + n)
        return numerator, scale, denominator


def terms_in(e: Expr, v: Symbol) -> tuple[tuple[int, Expr], ...]:
    """`Poly(e, v).terms()` as (power, coefficient) pairs, the same expressions (tests compare them), without
    expanding `e` as an expression: the coefficient of v**n is read off the sparse numerator and reduced
    to lowest terms once, over the integers in SymPy's own order of the other symbols (which fixes the
    sign the denominator is written with).  ValueError when `e` is not a polynomial in v with
    rational-function coefficients (v in a denominator, a log, a float): the caller asks Poly then."""
    others = list(_sort_gens([s for s in e.free_symbols if s != v]))
    fractions = Fractions([*others, v])
    numerator, scale, denominator = fractions.convert(e)
    ring = fractions.ring
    place = len(others)
    if any(f.degree(ring.gens[place]) > 0 for f in denominator):
        raise ValueError(f"{v} in a denominator")
    common = ring(scale)
    for f, k in denominator.items():
        common = _times(common, _power(f, k))
    by_power: dict[int, dict] = {}
    for monomial, coefficient in numerator.terms():
        by_power.setdefault(monomial[place], {})[monomial[:place] + (0,)] = coefficient
    out = []
    for n in sorted(by_power, reverse=True):
        p, q = ring.from_dict(by_power[n]).cancel(common)
        out.append((n, p.as_expr() / q.as_expr()))
    return tuple(out) if out else ((0, S.Zero),)


@lru_cache(maxsize=256)
def _ring(symbols: tuple) -> PolyRing:
    """The ring of integer polynomials in `symbols` (lex order), made once per tuple of symbols:
    SymPy builds its generators and monomial functions anew for each PolyRing."""
    return PolyRing(symbols, ZZ, lex)


def _bounded(p):
    """A sparse polynomial within MAX_EXPANSION_TERMS terms (TooLarge otherwise)."""
    if len(p) > MAX_EXPANSION_TERMS:
        raise TooLarge(f"a numerator of more than {MAX_EXPANSION_TERMS} terms")
    return p


def _scaled(p, factor: int):
    """p * factor for a whole number factor; p itself for 1 (most sums share their denominators)."""
    return p if factor == 1 else p * factor


def _times(a, b):
    """a * b, refused before multiplying when the product could exceed MAX_EXPANSION_TERMS terms."""
    if len(a) * len(b) > MAX_EXPANSION_TERMS:
        raise TooLarge(f"a numerator of more than {MAX_EXPANSION_TERMS} terms")
    return a * b


def _power(a, k: int):
    """a ** k (k >= 0), refused before expanding when it could exceed MAX_EXPANSION_TERMS terms."""
    if k > 1 and math.comb(len(a) + k - 1, k) > MAX_EXPANSION_TERMS:
        raise TooLarge(f"a numerator of more than {MAX_EXPANSION_TERMS} terms")
    return a ** k


__all__ = ["Fractions", "TooLarge", "terms_in"]

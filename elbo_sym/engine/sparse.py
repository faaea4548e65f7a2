"""Exact rational functions as sparse integer polynomials: N / (q * prod F**k), never a gcd.

SymPy's `together` + `expand` and its fraction fields (every sum and product reduced by a
gcd) are slow on the long sums of nested fractions a chain of Gaussian layers gives.  Here a
sum takes a common multiple of the denominators and nothing is cancelled, so a value is
identically 0 exactly when its numerator N is the zero polynomial (canonical's zero test), and
its coefficients in one variable are read off N (the Gaussian chain's moments); each product
is refused before it could pass MAX_EXPANSION_TERMS terms.

The polynomials are FLINT's (python-flint's `fmpz_mpoly`, multiplied in C: the products of long
sums were most of this module's time) where python-flint has them, else SymPy's sparse ring (the
browser): the same polynomials, the same choices (every F primitive with a positive leading
coefficient in lex order), so N is the same polynomial either way (`tests/test_canonical_fractions.py`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import lru_cache

from sympy import ZZ, Add, Expr, Mul, Pow, Rational, S, Symbol
from sympy.polys.orderings import lex
from sympy.polys.polyutils import _sort_gens  # the order Poly gives its generators
from sympy.polys.rings import PolyRing

from elbo_sym.budget import checkpoint
from elbo_sym.failures import reraise_callers
from elbo_sym.limits import MAX_EXPANSION_TERMS


class TooLarge(ArithmeticError):
    """The expression would need more work than the budget allows."""


class _Polynomials(ABC):
    """Integer polynomials in n variables (lex order): what `Fractions` needs of them, each backend's own."""

    gens: tuple
    one: object
    zero: object

    @abstractmethod
    def constant(self, n: int): ...

    @staticmethod
    @abstractmethod
    def key(p):
        """A hashable value, equal for equal polynomials."""

    @staticmethod
    @abstractmethod
    def leading(p) -> int:
        """The leading coefficient (lex order)."""

    @abstractmethod
    def as_dict(self, p) -> dict:
        """{monomial (a tuple of exponents): int coefficient}."""

    @abstractmethod
    def from_dict(self, terms: dict): ...

    @staticmethod
    @abstractmethod
    def lowest_terms(p, q) -> tuple:
        """p / q in lowest terms, q's leading coefficient positive (SymPy's `cancel` over ZZ)."""

    def normalised(self, p) -> tuple[int, object]:
        """(c, f) with p = c * f, f primitive with a positive leading coefficient: one f for every
        multiple of it, so equal denominators are one factor."""
        content, f = p.primitive()
        return (-int(content), -f) if self.leading(f) < 0 else (int(content), f)


class _SympyPolynomials(_Polynomials):
    """Integer polynomials in n variables (lex order) as SymPy's sparse ring has them."""

    def __init__(self, symbols: tuple):
        self.ring = _ring(symbols)
        self.gens = tuple(self.ring.gens)
        self.one, self.zero = self.ring.one, self.ring.zero

    def constant(self, n: int):
        return self.ring(n)

    @staticmethod
    def key(p):
        """A hashable value equal for equal polynomials (a SymPy polynomial is one)."""
        return p

    @staticmethod
    def leading(p) -> int:
        return int(p.LC)

    def as_dict(self, p) -> dict:
        return {monomial: int(c) for monomial, c in p.terms()}

    def from_dict(self, terms: dict):
        return self.ring.from_dict(terms)

    @staticmethod
    def lowest_terms(p, q) -> tuple:
        return p.cancel(q)


class _FlintPolynomials(_Polynomials):
    """Integer polynomials in n variables (lex order) as FLINT's `fmpz_mpoly` (python-flint >= 0.7)."""

    def __init__(self, context):
        self.context = context
        self.gens = tuple(context.gens())
        self.one, self.zero = context.constant(1), context.constant(0)

    def constant(self, n: int):
        return self.context.constant(n)

    @staticmethod
    def key(p):
        """A hashable value equal for equal polynomials (an fmpz_mpoly is not hashable; its
        terms in the context's order are)."""
        return tuple(p.monoms()), tuple(p.coeffs())

    @staticmethod
    def leading(p) -> int:
        return int(p.leading_coefficient())

    @staticmethod
    def as_dict(p) -> dict:
        return {monomial: int(c) for monomial, c in zip(p.monoms(), p.coeffs())}

    def from_dict(self, terms: dict):
        return self.context.from_dict(terms)

    @staticmethod
    def lowest_terms(p, q) -> tuple:
        """p / q in lowest terms, q's leading coefficient positive: what SymPy's `cancel` over ZZ gives
        (the pair is unique: a gcd over the integers is one up to its sign, and q's sign is fixed)."""
        if not p:
            return p, q.context().constant(1)
        g = p.gcd(q)
        p, q = p / g, q / g  # exact divisions
        return (-p, -q) if q.leading_coefficient() < 0 else (p, q)


@lru_cache(maxsize=64)
def _flint_context(n: int):
    """FLINT's context of n integer variables in lex order (None without python-flint's mpoly)."""
    try:
        from flint import fmpz_mpoly_ctx
    except ImportError:  # no python-flint, or one without mpoly (Pyodide): SymPy's ring
        return None
    try:
        return fmpz_mpoly_ctx.get(("x", n), "lex")
    except (AttributeError, TypeError, ValueError) as error:  # an older python-flint's signature
        reraise_callers(error)
        return None


def _polynomials(symbols: tuple, flint: bool) -> _Polynomials:
    context = _flint_context(len(symbols)) if flint and symbols else None
    return _FlintPolynomials(context) if context is not None else _SympyPolynomials(symbols)


class Fractions:
    """Rational functions with rational coefficients as (N, q, {F: k}) = N / (q * prod F**k): N a sparse
    polynomial over the integers, q a positive integer, each F a primitive polynomial (positive leading
    coefficient) that is not the zero polynomial.  Sums take a common multiple of the denominators
    (the larger power of each F, not the least common multiple: no gcd is ever computed), so the
    value is exactly N / (q * prod F**k) with a non-zero denominator, and it is identically 0 exactly
    when N is the zero polynomial.  The F are keyed by `key(F)` (FLINT's polynomials are not
    hashable), each key's polynomial in `factors`.  `flint=False`: SymPy's ring even where FLINT's
    polynomials import (tests compare the two)."""

    def __init__(self, symbols: list, flint: bool = True):
        self.polynomials = _polynomials(tuple(symbols), flint)
        self.generators = dict(zip(symbols, self.polynomials.gens))
        self.factors: dict[object, object] = {}
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
            return self.polynomials.constant(int(e.p)), int(e.q), {}
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
            return numerator if numerator is not None else self.polynomials.one, scale, denominator
        if e.is_Pow and e.exp.is_Integer:
            k = int(e.exp)
            n, q, d = self.convert(e.base)
            if k >= 0:
                return _power(n, k), q ** k, {f: m * k for f, m in d.items()}
            if not n:
                raise ZeroDivisionError("a power of 0 with a negative exponent")
            content, f = self.polynomials.normalised(n)
            # 1 / (n / (q prod d)) = q prod d / (content f)
            inverse = self.polynomials.constant(q if content > 0 else -q)
            for g, m in d.items():
                inverse = _times(inverse, _power(self.factors[g], m))
            key = self.polynomials.key(f)
            self.factors.setdefault(key, f)
            return _power(inverse, -k), abs(content) ** -k, {key: -k}
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
        numerator = self.polynomials.zero
        for n, q, d in grouped.values():
            if not n:
                continue
            n = _scaled(n, scale // q)
            for f, k in denominator.items():
                if k > d.get(f, 0):
                    n = _times(n, _power(self.factors[f], k - d.get(f, 0)))
            numerator = _bounded(numerator + n)
        return numerator, scale, denominator


@lru_cache(maxsize=1024)
def terms_in(e: Expr, v: Symbol) -> tuple[tuple[int, Expr], ...]:
    """`Poly(e, v).terms()` as (power, coefficient) pairs, the same expressions (tests compare them), without
    expanding `e` as an expression: the coefficient of v**n is read off the sparse numerator and reduced
    to lowest terms once, over the integers in SymPy's own order of the other symbols (which fixes the
    sign the denominator is written with).  ValueError when `e` is not a polynomial in v with
    rational-function coefficients (v in a denominator, a log, a float): the caller asks Poly then.
    Remembered per process: a pure function of the two (SymPy's equality is structural), and the Gaussian
    chains' files ask for the same moments again (68 calls, 28 distinct on the tree); a refusal or an
    interrupted call raises and leaves nothing behind."""
    others = list(_sort_gens([s for s in e.free_symbols if s != v]))
    fractions = Fractions([*others, v])
    numerator, scale, denominator = fractions.convert(e)
    polynomials = fractions.polynomials
    place = len(others)
    if any(monomial[place] > 0 for f in denominator for monomial in polynomials.as_dict(fractions.factors[f])):
        raise ValueError(f"{v} in a denominator")
    common = polynomials.constant(scale)
    for f, k in denominator.items():
        common = _times(common, _power(fractions.factors[f], k))
    by_power: dict[int, dict] = {}
    for monomial, coefficient in polynomials.as_dict(numerator).items():
        by_power.setdefault(monomial[place], {})[monomial[:place] + (0,)] = coefficient
    ring = _ring(tuple([*others, v]))  # SymPy's: the coefficients are written as Poly writes them
    out = []
    for n in sorted(by_power, reverse=True):
        p, q = (ring.from_dict(polynomials.as_dict(part))
                for part in polynomials.lowest_terms(polynomials.from_dict(by_power[n]), common))
        out.append((n, p.as_expr() / q.as_expr()))
    return tuple(out) if out else ((0, S.Zero),)


def is_polynomial(e: Expr) -> bool:
    """e is built of commutative symbols and rational numbers by +, * and powers to whole numbers >= 0
    (what `expanded_polynomial` takes)."""
    if e.is_Rational:
        return True
    if e.is_Symbol:
        return bool(e.is_commutative)
    if e.is_Add or e.is_Mul:
        return all(is_polynomial(a) for a in e.args)
    return bool(e.is_Pow and e.exp.is_Integer and e.exp >= 0 and is_polynomial(e.base))


def expanded_polynomial(e: Expr) -> Expr:
    """`expand(e)` of a polynomial (`is_polynomial`), multiplied out in sparse integer arithmetic: its
    terms, each a rational coefficient times powers of the symbols, added as SymPy adds them (a sum
    of the same terms is the same expression, whatever the order: `expand` collects like terms
    too), without the intermediate expressions `expand` builds.  TooLarge as `Fractions` refuses."""
    symbols = list(e.free_symbols)
    fractions = Fractions(symbols)
    numerator, scale, denominator = fractions.convert(e)
    if denominator:  # not a polynomial: is_polynomial says so first
        raise ValueError("a denominator in a polynomial")
    return Add(*(Mul(Rational(c, scale), *(Pow(g, k) for g, k in zip(symbols, monomial) if k))
                 for monomial, c in fractions.polynomials.as_dict(numerator).items()))


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


__all__ = ["Fractions", "TooLarge", "expanded_polynomial", "is_polynomial", "terms_in"]

"""Where a ``D = "any"`` step first fails, when its residual is a polynomial in D alone.

The Gaussian family's ``D = "any"`` model proves a step when the canonical forms of its two sides
agree for every D.  When they differ, the residual left - right may be free of every parameter
but D (red team rt7: ``-30 - D**4 - 41*D**2 + 11*D**3 + 61*D``, zero at D = 1, 2, 3, 5 and -6 at
D = 4).  Such a residual is decided here exactly, over the whole numbers D >= 1, instead of at a
few sampled D:

* ``=``: a non-zero polynomial of degree n has at most n roots, so it is non-zero at one of
  D = 1, ..., n + 1; the first such D is where the step fails;
* an inequality: the residual's sign is constant between consecutive real roots, so isolating
  the roots exactly (rational intervals narrower than 1) names the least whole number of every
  region of constant sign: 1, an integer root, or floor(root) + 1 (red team rt9: a scan up to a
  fixed D missed ``(D - 10001)**2 >= 1``).

When the residual has other symbols too, its parts that are polynomials in D alone (factors, the
coefficients of its terms in the other symbols) name the D's where they vanish or change sign
(`factor_sign_changes`): the search tries those.  Any whole-number
symbol with a least value (``n = "integer >= 1"``) is decided the same way.

The answer only *nominates* a number of dimensions: the counterexample search still decides the
step at an exact instance of the explicit model with that D.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sympy import Expr, Poly, Rational, Symbol, log, pi
from sympy.polys.polyerrors import BasePolynomialError

_FAILS = {"=": lambda r: r != 0, ">=": lambda r: r < 0, "<=": lambda r: r > 0, ">": lambda r: r <= 0,
          "<": lambda r: r >= 0}
"""Whether a residual value r = left - right makes the relation fail."""


@dataclass(frozen=True)
class FirstFailure:
    """The least D (>= its least value) where a residual polynomial in D makes the relation fail
    (None: it holds at every one); `residual`: its text, for the report."""

    D: int | None
    residual: str


def first_failure(residual: Expr, D: Symbol, rel: str, least: int = 1) -> FirstFailure | None:
    """A whole number D >= `least` where `residual` (left - right, a polynomial in D with rational
    coefficients, and for ``=`` also in logs of numbers and pi) makes `rel` fail: the least one,
    exactly, however large; None when the residual is not of that kind (the search decides the step).
    `D` may be any whole-number symbol, `least` its least value (``n = "integer >= 3"``: 3)."""
    if not residual.free_symbols <= {D} or rel not in _FAILS:
        return None
    others = _number_atoms(residual) if rel == "=" else []
    try:
        poly = Poly(residual, D, *others, domain="QQ")
    except (BasePolynomialError, ValueError, TypeError):
        return None
    if rel == "=":
        return FirstFailure(_first_nonzero(poly, least), str(residual))
    coefficients = [Fraction(int(c.p), int(c.q)) for c in poly.all_coeffs()]  # highest degree first
    return FirstFailure(_first_failing(coefficients, _FAILS[rel], least), str(residual))


def _number_atoms(e: Expr) -> list[Expr]:
    """The logs of numbers and pi in `e`: further variables of the polynomial (a coefficient of
    each monomial in them must vanish for the residual to be 0 as the canonical form writes it).
    Only logs of *numbers*: ``log(D)`` is not a variable independent of D (red team rt10:
    ``(D-2)...(D-13)*log(D) = 0`` "failed" at D = 1, where log 1 = 0), so a residual with it is
    not a polynomial here."""
    return sorted((a for a in e.atoms(log) if not a.free_symbols), key=str) + ([pi] if e.has(pi) else [])


def _first_nonzero(poly: Poly, least: int) -> int | None:
    """The least D in least..least + degree where the polynomial (in D and independent atoms) is not 0."""
    degree = poly.degree(poly.gens[0])
    for n in range(least, least + degree + 1):
        if not poly.eval(poly.gens[0], n).is_zero:
            return n
    return None  # the zero polynomial (never reached: a zero residual is proved)


def _first_failing(coefficients: list[Fraction], fails, least: int) -> int | None:
    """The least D >= `least` where the rational polynomial's value fails, exactly, for any degree and
    size (red team rt9: ``(D - 10001)**2 >= 1`` fails at D = 10001 only): the sign is constant
    between consecutive real roots, so the least whole number of every region where it fails is
    among `sign_change_candidates`."""
    while coefficients and coefficients[0] == 0:
        coefficients = coefficients[1:]
    if not coefficients:
        return least if fails(Fraction(0)) else None

    def value(n: int) -> Fraction:
        total = Fraction(0)
        for c in coefficients:
            total = total * n + c
        return total

    D = Symbol("D")
    poly = Poly([Rational(c.numerator, c.denominator) for c in coefficients], D)
    return next((n for n in sign_change_candidates(poly, least) if fails(value(n))), None)


def sign_change_candidates(poly: Poly, least: int) -> tuple[int, ...]:
    """Whole numbers n >= `least` among which lies the least whole number of every region of
    constant sign of `poly` (one variable, rational coefficients) and every integer root: `least`
    itself and, for each real root r isolated exactly in an interval narrower than 1, the integers
    from floor(lower end) to floor(upper end) + 1 (r itself when whole, and floor(r) + 1)."""
    found = {least}
    if poly.degree() > 0:
        for (low, high), _ in poly.intervals(eps=Rational(1, 2)):
            found.update(range(max(_floor(low), least), max(_floor(high) + 2, least)))
    return tuple(sorted(found))


def factor_sign_changes(residual: Expr, D: Symbol, least: int = 1) -> tuple[int, ...]:
    """The whole numbers D >= `least` where a part of `residual` that is a polynomial in D alone (a
    factor, or the coefficient of a term in the other symbols, `_parts_in_d`) vanishes or starts a
    region of new sign (`sign_change_candidates`): the dimensions a search must try when the
    residual also has other symbols (red team rt9: ``Sum(mu_d**2, (d, 1, D)) * (D-1)...(D-8)*(D-12)
    >= 0`` fails at D = 9 only, ``Sum(mu_d**2, (d, 1, D)) + (D-10)**2 > 0`` at D = 10 only)."""
    found: set[int] = set()
    for part in _parts_in_d(residual, D):
        try:
            poly = Poly(part, D, domain="QQ")
        except (BasePolynomialError, ValueError, TypeError):
            continue
        found.update(sign_change_candidates(poly, least))
    return tuple(sorted(found))


def _parts_in_d(residual: Expr, D: Symbol) -> list[Expr]:
    """The parts of `residual` whose sign may switch the step's: its factors and, written as a
    polynomial in everything else it holds (sums over the dimensions, parameters, logs), the
    coefficient of each term -- those in D alone."""
    parts = list(residual.args) if residual.is_Mul else [residual]
    try:
        others = [g for g in Poly(residual).gens if g != D]
        parts += Poly(residual, *others).coeffs() if others else []
    except (BasePolynomialError, ValueError, TypeError):
        pass
    return [p for p in parts if p.free_symbols == {D}]


def _floor(x: Rational) -> int:
    return int(x.p // x.q)


__all__ = ["FirstFailure", "factor_sign_changes", "first_failure", "sign_change_candidates"]

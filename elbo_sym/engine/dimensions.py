"""Where a ``D = "any"`` step first fails, when its residual is a polynomial in D alone.

The Gaussian family's ``D = "any"`` model proves a step when the canonical forms of its two sides
agree for every D.  When they differ, the residual left - right may be free of every parameter
but D (red team rt7: ``-30 - D**4 - 41*D**2 + 11*D**3 + 61*D``, zero at D = 1, 2, 3, 5 and -6 at
D = 4).  Such a residual is decided here exactly, over the whole numbers D >= 1, instead of at a
few sampled D:

* ``=``: a non-zero polynomial of degree n has at most n roots, so it is non-zero at one of
  D = 1, ..., n + 1; the first such D is where the step fails;
* an inequality: the residual's sign is constant beyond Cauchy's root bound
  1 + max |a_i / a_n|, so the integers from 1 to just past it decide it.

The answer only *nominates* a number of dimensions: the counterexample search still decides the
step at an exact instance of the explicit model with that D.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from sympy import Expr, Poly, Symbol, log, pi
from sympy.polys.polyerrors import BasePolynomialError

from elbo_sym.limits import MAX_DIMENSION_SCAN

_FAILS = {"=": lambda r: r != 0, ">=": lambda r: r < 0, "<=": lambda r: r > 0, ">": lambda r: r <= 0,
          "<": lambda r: r >= 0}
"""Whether a residual value r = left - right makes the relation fail."""


@dataclass(frozen=True)
class FirstFailure:
    """The least D >= 1 where a residual polynomial in D makes the relation fail (None: none was
    found -- never a proof); `residual`: its text, for the report."""

    D: int | None
    residual: str


def first_failure(residual: Expr, D: Symbol, rel: str) -> FirstFailure | None:
    """A whole number D >= 1 where `residual` (left - right, a polynomial in D with rational
    coefficients, and for ``=`` also in logs of numbers and pi) makes `rel` fail: the least one, or
    for an inequality whose least failure lies past MAX_DIMENSION_SCAN the first D past Cauchy's
    bound; None when the residual is not of that kind (the search decides the step)."""
    if not residual.free_symbols <= {D} or rel not in _FAILS:
        return None
    others = _number_atoms(residual) if rel == "=" else []
    try:
        poly = Poly(residual, D, *others, domain="QQ")
    except (BasePolynomialError, ValueError, TypeError):
        return None
    if rel == "=":
        return FirstFailure(_first_nonzero(poly), str(residual))
    coefficients = [Fraction(int(c.p), int(c.q)) for c in poly.all_coeffs()]  # highest degree first
    return FirstFailure(_first_failing(coefficients, _FAILS[rel]), str(residual))


def _number_atoms(e: Expr) -> list[Expr]:
    """The logs of numbers and pi in `e`: further variables of the polynomial (a coefficient of
    each monomial in them must vanish for the residual to be 0 as the canonical form writes it)."""
    return sorted(e.atoms(log), key=str) + ([pi] if e.has(pi) else [])


def _first_nonzero(poly: Poly) -> int | None:
    """The least D in 1..degree + 1 where the polynomial (in D and independent atoms) is not 0."""
    degree = poly.degree(poly.gens[0])
    for n in range(1, degree + 2):
        if not poly.eval(poly.gens[0], n).is_zero:
            return n
    return None  # the zero polynomial (never reached: a zero residual is proved)


def _first_failing(coefficients: list[Fraction], fails) -> int | None:
    """The least D >= 1 where the rational polynomial's value fails; past Cauchy's bound the sign
    is the leading coefficient's, so the scan ends one past it (or at MAX_DIMENSION_SCAN, then the
    first D past the bound)."""
    while coefficients and coefficients[0] == 0:
        coefficients = coefficients[1:]
    if not coefficients:
        return 1 if fails(Fraction(0)) else None

    def value(n: int) -> Fraction:
        total = Fraction(0)
        for c in coefficients:
            total = total * n + c
        return total

    lead = coefficients[0]
    bound = 1 + max((abs(c / lead) for c in coefficients[1:]), default=Fraction(0))
    last = ceil(bound) + 1
    for n in range(1, min(last, MAX_DIMENSION_SCAN) + 1):
        if fails(value(n)):
            return n
    return last if last > MAX_DIMENSION_SCAN and fails(value(last)) else None


__all__ = ["FirstFailure", "first_failure"]

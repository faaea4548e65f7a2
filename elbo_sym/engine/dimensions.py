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

When the residual is a polynomial in D and *one* other variable t whose values are known for every D
(`Span`: a sum of squares ``Sum(mu_d**2, (d, 1, D))`` takes every value >= 0, written as v**2 for a
real v, at each D), it is decided exactly too (`decide_with_free`, red team rt10: ``Sum(mu_d**2)**2 +
169 >= 2*D*Sum(mu_d**2)`` fails from D = 14 on, no part in D alone changes sign there): for a fixed
D the residual is a polynomial in t, whose sign regions its isolated real roots delimit; and which of
them fail changes only at a D where the leading coefficient in t, the discriminant in t or the value
at the span's end vanishes (a cylindrical decomposition's projection), so the least whole number of
every region of constant sign of those polynomials in D is the only D to test.

The answer only *nominates* a number of dimensions (and a value of t): the counterexample search
still decides the step at an exact instance of the explicit model with that D.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sympy import Dummy, Expr, Integer, Poly, Rational, Symbol, discriminant, log, pi
from sympy.polys.polyerrors import BasePolynomialError

from elbo_sym.failures import reraise_callers
from elbo_sym.limits import MAX_EXACT_FREE_DEGREE

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
    except (BasePolynomialError, ValueError, TypeError) as raised:
        reraise_callers(raised)
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
    """The least D in least..least + degree where the polynomial (in D and independent atoms) is not 0;
    None for the zero polynomial (degree -oo), which holds at every D: a zero residual reaches here when
    the step's sides agree only where both are defined (red team rt19: ``(n**2 - 1)/(n - 1) = n + 1``,
    whose division by zero at n = 1 is the checker's definedness to report, not a crash here)."""
    if poly.is_zero:
        return None
    degree = poly.degree(poly.gens[0])
    for n in range(least, least + degree + 1):
        if not poly.eval(poly.gens[0], n).is_zero:
            return n
    return None


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
        except (BasePolynomialError, ValueError, TypeError) as raised:
            reraise_callers(raised)
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
    except (BasePolynomialError, ValueError, TypeError) as raised:
        reraise_callers(raised)
        pass
    return [p for p in parts if p.free_symbols == {D}]


@dataclass(frozen=True)
class Span:
    """The values a variable t takes at every D: all reals (`direction` 0), or ``start + direction * u``
    for every u >= 0 (`closed`) or u > 0, and (with a `length`) u <= length (`end_closed`) or u < length."""

    direction: int = 0
    start: Fraction = Fraction(0)
    closed: bool = True
    length: Fraction | None = None
    end_closed: bool = True

    def ends(self) -> tuple[Fraction, ...]:
        """The ends of u's interval (none for all reals)."""
        if not self.direction:
            return ()
        return (Fraction(0),) if self.length is None else (Fraction(0), self.length)

    def holds(self, u: Fraction) -> bool:
        """u is in the span."""
        if not self.direction:
            return True
        if u < 0 or (u == 0 and not self.closed):
            return False
        return self.length is None or u < self.length or (u == self.length and self.end_closed)


@dataclass(frozen=True)
class FreeDecision:
    """`decide_with_free`'s answer: the least whole number `D` where some t of its span makes the
    relation fail (None: no D and no t does), `t` a rational such t there (None: it fails only at an
    irrational t, a root of the residual); `residual`: its text, for the report."""

    D: int | None
    t: Fraction | None
    residual: str


def decide_with_free(residual: Expr, D: Symbol, t: Symbol, span: Span, rel: str, least: int = 1) -> FreeDecision | None:
    """Where `residual` (left - right, a polynomial in the whole number D >= `least` and in t, which
    takes every value of `span` at each D, rational coefficients) makes `rel` fail, exactly; None
    when it is not of that kind or the decision would be too large (the search decides the step)."""
    if t not in residual.free_symbols or not residual.free_symbols <= {D, t} or rel not in _FAILS:
        return None
    u = Dummy("u")
    shifted = residual.xreplace({t: span.start + span.direction * u}) if span.direction else residual.xreplace({t: u})
    try:
        poly = Poly(shifted, u, D, domain="QQ")
    except (BasePolynomialError, ValueError, TypeError) as raised:
        reraise_callers(raised)
        return None
    if not 1 <= poly.degree(u) <= MAX_EXACT_FREE_DEGREE or poly.degree(D) > MAX_EXACT_FREE_DEGREE:
        return None
    for n in _projection_candidates(poly, u, D, span.ends(), least):
        at_n = Poly(poly.as_expr().xreplace({D: n}), u, domain="QQ")
        status, failing = _failing_value(at_n, rel, span)
        if status == _UNDECIDED:
            return None
        if status == _FAILS_AT:
            value = failing if failing is None or not span.direction else span.start + span.direction * failing
            return FreeDecision(n, value, str(residual))
    return FreeDecision(None, None, str(residual))


def _projection_candidates(poly: Poly, u: Symbol, D: Symbol, ends: tuple[Fraction, ...], least: int
                           ) -> tuple[int, ...]:
    """The whole numbers D >= `least` to test: which u fail can change only where the (square-free)
    residual's leading coefficient in u, its discriminant in u or its value at an end of u's span
    vanishes, so the least whole number of each region of constant sign of those, and each whole root,
    is tested (`sign_change_candidates`)."""
    free = poly.sqf_part()
    in_u = Poly(free.as_expr(), u)
    parts = [in_u.LC(), discriminant(free.as_expr(), u)]
    for end in ends:
        at_end = free.as_expr().xreplace({u: end})
        if at_end == 0:  # u = end is a root for every D: the other roots' value there says when they cross it
            at_end = in_u.quo(Poly(u - end, u)).as_expr().xreplace({u: end})
        parts.append(at_end)
    found: set[int] = {least}
    for part in parts:
        in_d = Poly(part, D, domain="QQ")
        if not in_d.is_zero:
            found.update(sign_change_candidates(in_d, least))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Least:
    """`least_over`'s answer: the least value of a residual over its real variables, a polynomial in D
    alone (`value`), reached `at` each variable = an expression in D and the variables eliminated after
    it (in the order eliminated)."""

    value: Expr
    at: tuple[tuple[Symbol, Expr], ...]

    def point(self, D: Symbol, n: int) -> tuple[tuple[Symbol, Rational], ...]:
        """Where the least value is reached at D = `n`: each variable's exact value."""
        values: dict = {D: Integer(n)}
        for t, where in reversed(self.at):
            values[t] = where.xreplace(values)
        return tuple((t, values[t]) for t, _ in self.at)


def least_over(residual: Expr, D: Symbol, variables: tuple[Symbol, ...]) -> Least | None:
    """The least value of `residual` (a polynomial in D and `variables`, each taking every real value)
    over the variables, eliminating one at a time: at its turn each must be a quadratic with a positive
    rational leading coefficient a, whose least value c - b**2/(4a) is reached at -b/(2a) (red team rt13:
    ``(b - D)**2 + (b - 20)**2 + x**2 > 0``, least (D - 20)**2/2, fails at D = 20, b = 20, x = 0).  None
    for any other shape (the search decides)."""
    rest, at = residual, []
    for t in variables:
        try:
            poly = Poly(rest, t)
        except (BasePolynomialError, ValueError, TypeError) as raised:
            reraise_callers(raised)
            return None
        if poly.degree() == 0:  # its value does not matter: 0, so that every variable has one
            at.append((t, Integer(0)))
            continue
        if poly.degree() != 2:
            alone = _least_alone(poly, t)
            if alone is None:
                return None
            at.append((t, alone[0]))
            rest = (poly.all_coeffs()[-1] + alone[1]).expand()
            continue
        a, b, c = poly.all_coeffs()
        if not (a.is_Rational and a > 0):
            return None
        at.append((t, (-b / (2 * a)).expand()))
        rest = (c - b**2 / (4 * a)).expand()
    if not rest.free_symbols <= {D}:
        return None
    return Least(rest, tuple(at))


def _least_alone(poly: Poly, t: Symbol) -> tuple[Rational, Rational] | None:
    """(where, least value) of poly - its constant term when that is a polynomial in t alone, of even
    degree with a positive leading coefficient, whose turning points (roots of its derivative) are all
    rational: the least is at one of them (red team rt15: ``(b - 1)**4 + (x - 1)**4 + (D - 20)**2 > 0``,
    false at D = 20, b = x = 1).  None otherwise."""
    shape = Poly(poly.as_expr() - poly.all_coeffs()[-1], t)
    if shape.free_symbols != {t} or shape.degree() % 2 or not (shape.LC().is_Rational and shape.LC() > 0):
        return None
    try:
        turning = shape.diff(t).real_roots()
    except (BasePolynomialError, ValueError, TypeError, NotImplementedError) as raised:
        reraise_callers(raised)
        return None
    if not turning or not all(r.is_Rational for r in turning):
        return None
    return min(((r, shape.eval(r)) for r in set(turning)), key=lambda pair: pair[1])


_HOLDS, _FAILS_AT, _UNDECIDED = "holds", "fails", "undecided"


def _failing_value(p: Poly, rel: str, span: Span) -> tuple[str, Fraction | None]:
    """(_FAILS_AT, a rational u of the span where p(u) makes `rel` fail -- None when it fails only at
    an irrational root, for a strict relation), (_HOLDS, None) or (_UNDECIDED, None: the roots could
    not be isolated apart).  Each region of constant sign between consecutive real roots (and the
    span's ends) holds one of the points tried: the isolating intervals' ends and the span's, the
    midpoints between consecutive ones, one below and one above them all."""
    roots = _separated_roots(p, span.ends())
    if roots is None:
        return _UNDECIDED, None
    ends = sorted({end for interval in roots for end in interval} | set(span.ends()))
    points = [Fraction(0)]
    if ends:
        points = ends + [(a + b) / 2 for a, b in zip(ends, ends[1:])] + [ends[0] - 1, ends[-1] + 1]
    for v in sorted(v for v in set(points) if span.holds(v)):
        if _FAILS[rel](_value(p, v)):
            return _FAILS_AT, v
    if rel in (">", "<") and any(low != high and span.holds(low) and span.holds(high) for low, high in roots):
        return _FAILS_AT, None  # an irrational root in the span: left = right there, a strict relation fails
    return _HOLDS, None


def _separated_roots(p: Poly, cuts: tuple[Fraction, ...]) -> list[tuple[Fraction, Fraction]] | None:
    """The real roots of p as disjoint rational intervals [low, high] (low == high: a rational root,
    else the root lies strictly inside), none holding a cut (an end of the span) unless it is that
    cut alone; None if not reached."""
    if p.degree() <= 0:
        return []
    rational = _rational_roots(p)
    for eps in (Rational(1, 2), Rational(1, 2**20), Rational(1, 2**60)):
        found = []
        for (low, high), _ in p.intervals(eps=eps):
            low_, high_ = Fraction(int(low.p), int(low.q)), Fraction(int(high.p), int(high.q))
            for root in rational:
                if low_ != high_ and low_ <= root <= high_:  # the interval's one root is rational: it is that root
                    low_ = high_ = root
            found.append((low_, high_))
        found.sort()
        apart = all(a[1] < b[0] for a, b in zip(found, found[1:]))
        if apart and all(low == high or not low <= cut <= high for low, high in found for cut in cuts):
            return found
    return None


def _rational_roots(p: Poly) -> tuple[Fraction, ...]:
    """The rational roots of p (its linear factors over the rationals): an isolating interval holding one
    is that root, so a strict relation that fails only there fails at a rational point (``(20*b - 3)**2 > 0``
    at b = 3/20), not "only at an irrational one"."""
    roots = []
    for factor, _ in p.factor_list()[1]:
        if factor.degree() == 1:
            a, b = factor.all_coeffs()
            roots.append(-Fraction(int(b.p), int(b.q)) / Fraction(int(a.p), int(a.q)))
    return tuple(roots)


def _value(p: Poly, v: Fraction) -> Fraction:
    total = Fraction(0)
    for c in p.all_coeffs():
        total = total * v + Fraction(int(c.p), int(c.q))
    return total


def _floor(x: Rational) -> int:
    return int(x.p // x.q)


__all__ = ["FirstFailure", "FreeDecision", "Least", "Span", "decide_with_free", "factor_sign_changes", "first_failure",
           "least_over", "sign_change_candidates"]

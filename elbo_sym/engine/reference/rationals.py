"""The second opinion's exact numbers: the one place where their type is chosen.

A value of the reference evaluators stays an exact rational as long as it is rational (so "log of a
value <= 0" and "division by 0" are decided exactly).  Which type holds it is chosen here, once:

* GMP's ``mpq`` (gmpy2, a dependency of the package; in C) where gmpy2 imports;
* ``fractions.Fraction`` where it does not (the browser's checker runs in Pyodide from pure-Python
  wheels): the same values and decisions, only slower;
* FLINT's ``fmpq`` (python-flint) only when asked for by name, to compare: its arithmetic is in C too,
  but its hash makes a ``Fraction`` (about 200 times the cost of ``mpq``'s) and the judges key their
  memos by values, and it neither equals a ``Fraction`` of the same value nor computes with one.

Measured on this machine (loaded, so ratios only): a product of three rationals 1.5 µs with ``mpq``,
4.3 µs with ``fmpq``, 14 µs with ``Fraction``; a sum of three 0.8, 2.8 and 14 µs; a hash 0.13, 29 and
21 µs.  All three are exact and reduced, print ``p/q`` (``3`` for a whole number) and hash as the
same number does.  An ``mpq`` equals the ``Fraction`` of the same value and computes with one (the
result is an ``mpq``); still, every number that enters a judge from outside (an instance a test
builds, a value a caller compares) goes through `rational` first (the instances' constructors do so),
because the judges tell an exact value from an interval by ``type(v) is Rational``.  None shares code
with the engine's SymPy arithmetic.  ``ELBO_SYM_RATIONALS`` names the type ("mpq", "fraction",
"fmpq") where several are present (to compare them: bench/outcome_diff.py gives identical records
with each; an unknown or missing one is an input error, as a bad ``ELBO_SYM_INTERVALS`` is).
"""

from __future__ import annotations

import numbers
import os
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from elbo_sym.engine.reference.intervals import pick

RATIONALS_VARIABLE = "ELBO_SYM_RATIONALS"
"""The environment variable that picks the type by name ("mpq", "fmpq", "fraction"); unset: mpq if gmpy2
imports, else fraction."""


def available() -> dict[str, Any]:
    """The exact types that import here, by name (fraction always)."""
    out: dict[str, Any] = {"fraction": Fraction}
    try:
        from gmpy2 import mpq
    except ImportError:  # no gmpy2 (Pyodide): the standard library's fractions
        pass
    else:
        out["mpq"] = mpq
    try:
        from flint import fmpq
    except ImportError:
        pass
    else:
        out["fmpq"] = fmpq
    return out


def chosen(environ=os.environ) -> Any:
    """The type the judges use: $ELBO_SYM_RATIONALS when set (an unknown or missing one is an input error,
    as a bad $ELBO_SYM_INTERVALS is, never a silent substitute), else mpq where gmpy2 imports, else
    Fraction."""
    return pick(RATIONALS_VARIABLE, available(), ("mpq", "fraction"), environ)


if TYPE_CHECKING:  # the type checker reads every choice as Fraction: they share its operations
    from fractions import Fraction as Rational
else:
    Rational = chosen()

NAME = next(name for name, kind in available().items() if kind is Rational)
"""The chosen type's name (reports and tests)."""

EXACT_IN_INTEGERS = 32
"""With ``Fraction``, sums and products of at most this many are formed in integers and reduced once
(the same reduced fraction as adding or multiplying in turn, each step of which takes gcds and a
pure-Python constructor); longer ones in turn, so that no intermediate integer grows past what
reducing as it goes would keep.  ``mpq`` and ``fmpq`` add and multiply in C: in turn."""


def rational(v: Any) -> Any:
    """`v` (an int, a Fraction, a SymPy Rational, a decimal or ``p/q`` text, or already the chosen type)
    as the chosen type, exactly."""
    if type(v) is Rational:
        return v
    if hasattr(v, "p") and hasattr(v, "q"):  # a SymPy Rational, an fmpq
        return Rational(int(v.p), int(v.q))
    if isinstance(v, str):  # "0.75", "1e-3", "3/4", "+2": read as Fraction reads them
        v = Fraction(v)
    if isinstance(v, int):
        return Rational(v)
    return Rational(int(v.numerator), int(v.denominator))  # a Fraction, an mpq


def rationals(values) -> tuple | None:
    """A tuple of values (or None) with each value as the chosen type (`rational`); values that are not
    rational numbers (the judges' intervals) are kept as they are."""
    if values is None:
        return None
    if type(values) is tuple and all(type(v) is Rational for v in values):
        return values
    return tuple(v if type(v) is Rational or not _is_number(v) else rational(v) for v in values)


def named_rationals(pairs) -> tuple:
    """(name, value) pairs with each value as `rationals` leaves it."""
    if all(type(v) is Rational for _, v in pairs):
        return pairs if type(pairs) is tuple else tuple(pairs)
    return tuple((name, v) if type(v) is Rational or not _is_number(v) else (name, rational(v)) for name, v in pairs)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Rational) or (hasattr(v, "p") and hasattr(v, "q"))


def parts(v: Any) -> tuple[int, int]:
    """(numerator, denominator) of an exact value as Python ints (the denominator > 0): what arb's
    constructor takes (an mpq's parts are mpz, an fmpq's fmpz)."""
    return int(v.numerator), int(v.denominator)


def _by_parts(v: Any) -> tuple[int, int]:
    return v.numerator, v.denominator


def _itself(v: Any) -> Any:
    return v


value_key = _itself if NAME == "mpq" else _by_parts
"""An exact value as a memo key: the value itself where its hash is cheap (mpq: in C), its numerator and
denominator where it is not (a Fraction's hash takes a modular inverse in Python; lowest terms: equal
values, equal keys).  Never a tuple of tuples, so never an interval's key."""
IN_TURN = Rational is not Fraction
"""`exact_sum` and `exact_product` add and multiply in turn (mpq, fmpq: in C), so a sum or product of two is
`a + b` or `a * b` itself (the judges' two-operand paths use that without the call)."""
KEYED_BY_ITSELF = value_key is _itself
"""`value_key(v)` is `v` itself: the hot paths test this flag instead of calling `value_key` (a call per value)."""


def exact_sum(values) -> Any:
    """The exact sum of a list of the chosen type (0 for none)."""
    if not values:
        return Rational(0)
    if Rational is not Fraction or len(values) > EXACT_IN_INTEGERS:
        total = values[0]
        for v in values[1:]:
            total = total + v
        return total
    numerator, denominator = 0, 1
    for v in values:
        if v.denominator == denominator:
            numerator += v.numerator
        else:
            numerator, denominator = numerator * v.denominator + v.numerator * denominator, \
                denominator * v.denominator
    return Fraction(numerator, denominator)


def exact_product(values) -> Any:
    """The exact product of a list of the chosen type (1 for none)."""
    if not values:
        return Rational(1)
    if len(values) == 1:
        return values[0]
    if Rational is not Fraction or len(values) > EXACT_IN_INTEGERS:
        total = values[0]
        for v in values[1:]:
            total = total * v
        return total
    numerator = denominator = 1
    for v in values:
        numerator *= v.numerator
        denominator *= v.denominator
    return Fraction(numerator, denominator)


__all__ = ["NAME", "RATIONALS_VARIABLE", "Rational", "available", "chosen", "exact_product", "exact_sum",
           "named_rationals", "parts", "rational", "rationals", "value_key", "KEYED_BY_ITSELF", "IN_TURN"]

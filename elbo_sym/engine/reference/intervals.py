"""The second opinion's interval arithmetic: one small backend, two implementations.

Every value of the reference evaluators past a ``log``, ``exp``, ``sqrt`` or ``pi`` is an
enclosure of the true real number, made by outward-rounded operations at the judges' working
precision (``discrete.PREC`` bits).  Two implementations give the same kind of evidence:

* ``arb``: FLINT's ball arithmetic (python-flint's ``arb``, rigorous, in C): a ball is a midpoint
  of PREC bits and a radius; every operation returns a ball that contains every result of its
  operands' points.  Used when python-flint imports.
* ``mpmath``: mpmath's own interval primitives (``mpmath.libmp.libmpi``) on (lo, hi) pairs of raw
  mpf floats, both ends rounded outward at PREC bits.  Pure Python: the browser's checker runs the
  engine in Pyodide from pure-Python wheels, where python-flint is not available.

The evaluators never look inside an interval: they ask this backend for arithmetic, for the sign
questions a judge decides (``lower_positive``: every point > 0, ...) and, to print or compare with a
tolerance, for its ends as raw mpf floats (``ends``: a ball's lower and upper bounds, rounded outward,
so converting never loses rigour).  ``ELBO_SYM_INTERVALS=mpmath`` chooses the pure-Python one
where both are present (to compare them; the tests do so in-process with ``discrete.use_backend``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpmath.libmp import (
    from_man_exp,
    from_rational,
    fzero,
    mpf_add,
    mpf_lt,
    mpf_neg,
    mpf_sign,
    mpf_sub,
    round_ceiling,
    round_floor,
)
from mpmath.libmp.libmpi import (
    mpi_add,
    mpi_div,
    mpi_exp,
    mpi_log,
    mpi_mid,
    mpi_mul,
    mpi_pi,
    mpi_pow_int,
    mpi_sqrt,
    mpi_sub,
)

from elbo_sym.files import InputError

BACKEND_VARIABLE = "ELBO_SYM_INTERVALS"
"""The environment variable that picks the backend by name ("arb", "mpmath"); unset: arb if it imports."""


class BackendUnavailable(InputError, ImportError):
    """$ELBO_SYM_INTERVALS names a backend that does not import here: a setting of the user's, so
    one line and exit 2 on the command line (an InputError), never a verdict on a step."""


@dataclass(frozen=True)
class Backend:
    """The interval operations the reference evaluators use; `prec` is the working precision in bits
    (arb's take theirs from `set_precision`, which the judges call whenever PREC changes)."""

    name: str
    from_fraction: Callable[[int, int, int], Any]
    """The enclosure of numerator / denominator at `prec` bits."""
    from_ends: Callable[[tuple, tuple], Any]
    """An interval that contains [lo, hi] (two raw mpf floats)."""
    add: Callable[[Any, Any, int], Any]
    sub: Callable[[Any, Any, int], Any]
    mul: Callable[[Any, Any, int], Any]
    div: Callable[[Any, Any, int], Any]
    pow_int: Callable[[Any, int, int], Any]
    log: Callable[[Any, int], Any]
    exp: Callable[[Any, int], Any]
    sqrt: Callable[[Any, int], Any]
    pi: Callable[[int], Any]
    rounded: Callable[[Any, int], Any]
    """The interval rounded (outward) to `prec` bits: what a sum or product starts from."""
    lower_positive: Callable[[Any], bool]
    """Every point of the interval is > 0."""
    upper_negative: Callable[[Any], bool]
    upper_nonpositive: Callable[[Any], bool]
    lower_nonnegative: Callable[[Any], bool]
    small: Callable[[Any, int], bool]
    """small(v, e): every point of the interval lies strictly between -2**e and 2**e."""
    ends: Callable[[Any], tuple]
    """(lo, hi) raw mpf floats with lo <= every point <= hi (rounded outward: as rigorous as the interval)."""
    mid: Callable[[Any, int], tuple]
    """A raw mpf float near the middle, for printing."""
    key: Callable[[Any], Any]
    """A hashable key that determines the interval (memo keys)."""
    set_precision: Callable[[int], None]
    is_interval: Callable[[Any], bool]
    operators: bool = False
    """Its intervals' own ``+a``, ``a + b`` and ``a * b`` are exactly `rounded`, `add` and `mul` at the
    precision set (arb): the judges' sums and products, their hottest code, call them directly."""


# ----------------------------------------------------------------------------- mpmath (pure Python)

_MPI_ONE = (from_man_exp(1, 0), from_man_exp(1, 0))
_MPI_ZERO = (fzero, fzero)


def _mpi_rounded(v: tuple, prec: int) -> tuple:
    """v at prec bits: unchanged when both ends are non-zero floats of at most prec bits (adding it to
    0 would give it back), else v + 0 rounded (an mpf is (sign, mantissa, exponent, bit count))."""
    lo, hi = v
    if lo[1] != 0 and hi[1] != 0 and lo[3] <= prec and hi[3] <= prec:
        return v
    return mpi_add(_MPI_ZERO, v, prec)


MPMATH = Backend(
    name="mpmath",
    from_fraction=lambda n, d, prec: (from_rational(n, d, prec, round_floor), from_rational(n, d, prec, round_ceiling)),
    from_ends=lambda lo, hi: (lo, hi),
    add=mpi_add, sub=mpi_sub, mul=mpi_mul, div=mpi_div, pow_int=mpi_pow_int,
    log=mpi_log, exp=mpi_exp, sqrt=mpi_sqrt, pi=mpi_pi,
    rounded=_mpi_rounded,
    lower_positive=lambda v: mpf_sign(v[0]) > 0,
    upper_negative=lambda v: mpf_sign(v[1]) < 0,
    upper_nonpositive=lambda v: mpf_sign(v[1]) <= 0,
    lower_nonnegative=lambda v: mpf_sign(v[0]) >= 0,
    small=lambda v, e: mpf_lt(mpf_neg(from_man_exp(1, e)), v[0]) and mpf_lt(v[1], from_man_exp(1, e)),
    ends=lambda v: v,
    mid=mpi_mid,
    key=lambda v: v,
    set_precision=lambda bits: None,
    is_interval=lambda v: type(v) is tuple,
)


# ----------------------------------------------------------------------------- arb (FLINT, in C)


def _arb_backend() -> Backend:
    """The arb backend (ImportError without python-flint).  A ball's ends come from arb's own
    lower and upper bounds (arb_get_lbound_arf / ubound: rounded towards -inf / +inf), exact
    binary floats, so `ends` loses nothing."""
    from flint import arb, ctx, fmpq

    def to_mpf(point) -> tuple:
        man, exp = point.man_exp()  # an exact arb (a bound or a midpoint)
        return from_man_exp(int(man), int(exp))

    def from_mpf(v: tuple) -> arb:
        sign, man, exp, _ = v
        if not man:
            if v != fzero:
                raise ValueError(f"no ball for the mpf {v}")
            return arb(0)
        return arb((int(-man if sign else man), int(exp)))  # ints: mpmath's gmpy2 backend gives mpz, which arb refuses

    def from_ends(lo: tuple, hi: tuple) -> arb:
        if lo == hi:  # a point (a Hermite node): exact, with all its bits
            return from_mpf(lo)
        return from_mpf(lo).union(from_mpf(hi))

    def pow_int(a: arb, n: int, prec: int) -> arb:
        """a**n, n >= 1, by repeated squaring: python-flint's ``a ** n`` goes through arb_pow (exp(n log a)),
        which is nan for a ball that contains 0 -- a product of balls never is."""
        result = a
        for bit in bin(n)[3:]:  # the bits after the leading 1, from the most significant: square, times a
            result = result * result
            if bit == "1":
                result = result * a
        return +result  # rounded to the precision, as a product is (n = 1: a itself, rounded)

    def set_precision(bits: int) -> None:
        ctx.prec = bits

    return Backend(
        name="arb",
        from_fraction=lambda n, d, prec: arb(fmpq(n, d)),
        from_ends=from_ends,
        add=lambda a, b, prec: a + b, sub=lambda a, b, prec: a - b, mul=lambda a, b, prec: a * b,
        div=lambda a, b, prec: a / b, pow_int=pow_int,
        log=lambda a, prec: a.log(), exp=lambda a, prec: a.exp(), sqrt=lambda a, prec: a.sqrt(),
        pi=lambda prec: arb.pi(),
        rounded=lambda v, prec: +v,
        lower_positive=lambda v: v > 0,
        upper_negative=lambda v: v < 0,
        upper_nonpositive=lambda v: v <= 0,
        lower_nonnegative=lambda v: v >= 0,
        small=lambda v, e: abs(v) < arb((1, e)),
        ends=lambda v: (to_mpf(v.lower()), to_mpf(v.upper())),
        mid=lambda v, prec: to_mpf(v.mid()),
        key=lambda v: (v.mid().man_exp(), v.rad().man_exp()),
        set_precision=set_precision,
        is_interval=lambda v: type(v) is arb,
        operators=True,
    )


def available() -> dict[str, Backend]:
    """The backends that import here, by name (mpmath always)."""
    out = {"mpmath": MPMATH}
    try:
        out["arb"] = _arb_backend()
    except ImportError:  # no python-flint (Pyodide): the pure-Python intervals
        pass
    return out


def chosen(environ=os.environ) -> Backend:
    """The backend the judges use: $ELBO_SYM_INTERVALS when set (an unknown or missing one is an
    error, never a silent substitute), else arb when python-flint imports, else mpmath."""
    return pick(BACKEND_VARIABLE, available(), ("arb", "mpmath"), environ)


def pick(variable: str, found: dict[str, Any], preferred: tuple[str, ...], environ=os.environ) -> Any:
    """The implementation $`variable` names among those `found` (by name; an unknown or missing one is a
    BackendUnavailable, never a silent substitute), else the first of `preferred` found.  The second
    opinion's intervals and its exact numbers are chosen so (`rationals.chosen`)."""
    wanted = environ.get(variable, "")
    if wanted:
        if wanted not in found:
            raise BackendUnavailable(f"{variable}={wanted!r}: not available here (available: {', '.join(found)})")
        return found[wanted]
    return next(found[name] for name in preferred if name in found)


def widened(backend: Backend, v, width, prec: int):
    """An interval that contains v - width .. v + width (width >= 0 an interval; its upper end is used)."""
    (lo, hi), w = backend.ends(v), backend.ends(width)[1]
    return backend.from_ends(mpf_sub(lo, w, prec, round_floor), mpf_add(hi, w, prec, round_ceiling))


__all__ = ["Backend", "BackendUnavailable", "MPMATH", "available", "chosen", "pick", "widened", "BACKEND_VARIABLE"]

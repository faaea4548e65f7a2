"""Exact arithmetic for finite examples with rational probabilities.

Every quantity of the lesson on a finite model with rational parameters -- log p(x),
the ELBO, E_q[log p(x|z)], KL(q || p(z)), KL(q || p(z|x)), the gap -- has the form

    r0 + c_1 log p_1 + ... + c_n log p_n      (r0, c_i rational, p_i distinct primes).

The representation is canonical: a nonzero sum c_1 log p_1 + ... is (1/D) log of a
rational other than 1 (unique factorisation), hence transcendental (Lindemann), hence
never rational. So two such numbers are equal exactly when their rational parts and
coefficients agree. `LogNumber` keeps that canonical form, so `==` *decides*
equalities such as "log p(x) - ELBO == KL(q || p(z|x))" instead of approximating them.
Signs and decimals are certified with interval arithmetic (mpmath), never decided with
a plain float.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, TypeVar

from mpmath.ctx_iv import MPIntervalContext
from mpmath.libmp import to_rational

from elbo_sym.failures import reraise_callers
from elbo_sym.limits import SCIENTIFIC_FIGURES

__all__ = [
    "LogNumber",
    "distinguishing_digits",
    "significant",
    "RationalLike",
    "log_of",
    "log_ratio",
    "kl",
    "from_sympy",
    "MAX_INTEGER",
    "EXACT_NUMBER",
    "MAX_PRIME",
    "PI_KEY",
    "quick_factoring",
]

RationalLike = int | Fraction | str

MAX_INTEGER = 10**30
"""Largest part of a numerator/denominator *without prime factors below 1000* that `log_of`
factors further (keeps factorisation bounded; size alone is not difficulty: 10**36 =
2**36 * 5**36 splits by trial division at once)."""
MAX_SIZE = 10**1000
"""Largest numerator/denominator `log_of` looks at (trial division stays cheap up to here)."""
MAX_PRIME = 10**12
"""Largest prime factor `log_of` accepts."""
PI_KEY = 0
"""The key of the log(pi) term (no prime is 0).  The Gaussian family's values live in the
Q-span of 1, logs of primes and log(pi): equal when every coefficient agrees.  Whether
log(pi) is independent of 1 and the logs of primes is open (it would follow from e and pi
being algebraically independent), so a value with a log(pi) term and a non-zero rational
part is never declared non-zero by its form: its sign comes from certified intervals only
(`LogNumber.sign`).  Only `LogNumber._raw` and arithmetic build such terms (the constructor
refuses the base 0), i.e. only :mod:`elbo_sym.numbers.evaluate` when it evaluates a log of pi."""
PI_SIGN_DPS = 1600
"""Most digits the sign of a value with a log(pi) term and a rational part is refined to."""

_ZERO = Fraction(0)
_MAX_STR = 200  # longest numeric string accepted by LogNumber.of
EXACT_NUMBER = re.compile(r"[+-]?(\d+(/\d+)?|\d*\.\d+)", re.ASCII)
"""How every file writes an exact number: 3, 3/4, 0.25, .25 (ASCII digits only: Fraction
would also read other scripts' digits)."""
_RATIONAL_STR = EXACT_NUMBER
_FIRST_DPS = 50  # certified evaluation starts at 50 digits and doubles ...
_MAX_DPS = 50 * 2**10  # ... up to 51200 digits, then gives up with ArithmeticError


def _to_fraction(value: Any) -> Fraction:
    """Convert an exact rational input; floats are refused because they are not exact."""
    if type(value) is Fraction:
        return value
    if type(value) is int:
        return Fraction(value)
    if isinstance(value, bool):
        raise TypeError("a bool is not a probability; pass an int or a Fraction")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_STR or not _RATIONAL_STR.fullmatch(text):
            raise ValueError(f"not an exact rational: {value[:40]!r} (use forms like '3/4' or '0.25')")
        return Fraction(text)
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    raise TypeError(f"expected an int, a Fraction or a string like '3/4', not {type(value).__name__}")


# --------------------------------------------------------------------------- factoring

def _primes_below(n: int) -> tuple[int, ...]:
    sieve = bytearray([1]) * n
    sieve[:2] = b"\x00\x00"
    for i in range(2, math.isqrt(n) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, n, i)))
    return tuple(i for i, flag in enumerate(sieve) if flag)


_SMALL_PRIMES = _primes_below(1000)
_MR_BASES = _SMALL_PRIMES[:13]  # 2..41: deterministic Miller-Rabin below 3.3e24
_RHO_BUDGET = 1 << 22  # Pollard-Brent iterations before giving up (about a second)
SEARCH_RHO_BUDGET = 1 << 14
"""Pollard-Brent iterations while the counterexample search decides its own instances: a
boundary instance (1 - 2e-30 ...) can have a hard 30-digit numerator, and a second per
log would eat the step's budget.  Failing to factor there only means Inexact: the sign is
then decided by certified intervals, or the instance is undecided (never counted)."""
_rho_budget = [_RHO_BUDGET]


@contextmanager
def quick_factoring() -> Iterator[None]:
    """Factor with SEARCH_RHO_BUDGET iterations inside the block (then as before)."""
    saved = _rho_budget[0]
    _rho_budget[0] = min(saved, SEARCH_RHO_BUDGET)
    try:
        yield
    finally:
        _rho_budget[0] = saved


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with bases 2..41: exact for n < 3.3e24, which covers every n <= MAX_PRIME."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _pollard_brent(n: int) -> int | None:
    """A nontrivial factor of the composite n, or None when the iteration budget runs out."""
    steps = 0
    for c in range(1, 20):
        y, r, q, g, x, ys = 2, 1, 1, 1, 2, 2
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(128, r - k)):
                    y = (y * y + c) % n
                    q = q * abs(x - y) % n
                g = math.gcd(q, n)
                k += 128
            steps += 2 * r
            if g == 1 and steps > _rho_budget[0]:
                return None
            r *= 2
        if g == n:  # the batch overshot: redo it one step at a time
            g = 1
            while g == 1:
                ys = (ys * ys + c) % n
                g = math.gcd(abs(x - ys), n)
        if g != n:
            return g
    return None


def _split(n: int, original: int) -> list[int]:
    """Prime factors (with repetition) of n, which has no prime factor below 1000."""
    if n == 1:
        return []
    if _is_probable_prime(n):
        if n > MAX_PRIME:
            raise ValueError(f"{original} has a prime factor above 10**12; too large for exact logs")
        return [n]
    d = _pollard_brent(n)
    if d is None:
        raise ValueError(f"could not factor {original} within budget (prime factors above 10**12?)")
    return _split(d, original) + _split(n // d, original)


@lru_cache(maxsize=8192)
def _factor(n: int) -> tuple[tuple[int, int], ...]:
    """Prime factorisation of 1 <= n <= MAX_SIZE as ((prime, exponent), ...), sorted: trial
    division by the primes below 1000 first, then the rest (a prime, or at most MAX_INTEGER).

    Cached: the same small numerators and denominators recur across a whole example set.
    """
    if not 1 <= n <= MAX_SIZE:
        raise ValueError(f"a {len(str(n))}-digit number is outside 1..10**1000; too large for exact logs")
    powers: dict[int, int] = {}
    rest = n
    for p in _SMALL_PRIMES:
        if p * p > rest:
            break
        while rest % p == 0:
            rest //= p
            powers[p] = powers.get(p, 0) + 1
    if rest > 1:
        if rest < 1009 * 1009:  # no factor below 1000 left, so rest is prime
            powers[rest] = powers.get(rest, 0) + 1
        elif rest > MAX_INTEGER and not _is_probable_prime(rest):
            raise ValueError(f"a {len(str(rest))}-digit part without prime factors below 1000 is above 10**30; "
                             f"too large for exact logs")
        else:
            for p in _split(rest, n):
                powers[p] = powers.get(p, 0) + 1
    return tuple(sorted(powers.items()))


# --------------------------------------------------------------------------- intervals

_IV = MPIntervalContext()  # private context: other users of mpmath.iv keep their precision


@lru_cache(maxsize=1024)
def _iv_log(p: int, prec: int) -> Any:
    _IV.prec = prec
    return _IV.log(_IV.pi) if p == PI_KEY else _IV.log(_IV.mpf(p))


def _iv_rational(r: Fraction) -> Any:
    if r.denominator == 1:
        return _IV.mpf(r.numerator)
    return _IV.mpf(r.numerator) / _IV.mpf(r.denominator)


def _bits_for(dps: int) -> int:
    return int(dps * 3.33) + 16


def _round_half_even(x: Fraction) -> int:
    return round(x)  # Fraction.__round__ without ndigits rounds half to even


def _fixed(n: int, digits: int) -> str:
    """The integer n / 10**digits written with exactly `digits` decimals."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def _scientific(x: Fraction, figures: int) -> tuple[int, int]:
    """(m, e) with x ~ m * 10**(e - figures + 1), |m| of exactly `figures` digits (x != 0)."""
    magnitude = abs(x)
    e = len(str(magnitude.numerator)) - len(str(magnitude.denominator))
    if magnitude < Fraction(10) ** e:
        e -= 1
    m = _round_half_even(magnitude / Fraction(10) ** (e - figures + 1))
    if m == 10**figures:  # 9.996 to three figures is 1.00e+01
        m, e = m // 10, e + 1
    return (m if x > 0 else -m), e


def _scientific_text(m: int, e: int) -> str:
    digits = str(abs(m))
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if m < 0 else ''}{mantissa}e{e:+03d}"


# --------------------------------------------------------------------------- LogNumber

def _canonical(acc: dict[int, Fraction]) -> tuple[tuple[int, Fraction], ...]:
    return tuple(sorted((p, c) for p, c in acc.items() if c))


@dataclass(frozen=True, slots=True, eq=False)
class LogNumber:
    """r0 + sum_i c_i log(p_i): rational r0, c_i; distinct primes p_i sorted; no zero c_i.

    The form is canonical, so `==` and `hash` are exact. Build with `LogNumber.of`,
    `log_of`, arithmetic, or the constructor (which canonicalises any positive integer
    bases, e.g. LogNumber(0, ((4, 1),)) == 2*log(2)).
    """

    rational: Fraction
    logs: tuple[tuple[int, Fraction], ...] = ()

    def __post_init__(self) -> None:
        acc: dict[int, Fraction] = {}
        for base, coef in self.logs:
            if type(base) is not int or base < 1:
                raise ValueError(f"log base must be a positive int, not {base!r}")
            c = _to_fraction(coef)
            for p, e in _factor(base):
                acc[p] = acc.get(p, 0) + c * e
        object.__setattr__(self, "rational", _to_fraction(self.rational))
        object.__setattr__(self, "logs", _canonical(acc))

    @classmethod
    def _raw(cls, rational: Fraction, logs: tuple[tuple[int, Fraction], ...]) -> LogNumber:
        """Skip validation: for results that are canonical by construction (hot path)."""
        self = object.__new__(cls)
        object.__setattr__(self, "rational", rational)
        object.__setattr__(self, "logs", logs)
        return self

    @classmethod
    def of(cls, value: RationalLike) -> LogNumber:
        """The rational number `value` (int, Fraction, or a string like '3/4')."""
        return cls._raw(_to_fraction(value), ())

    # ---- predicates
    @property
    def is_zero(self) -> bool:
        return not self.logs and not self.rational

    @property
    def is_rational(self) -> bool:
        return not self.logs

    def __bool__(self) -> bool:
        return not self.is_zero

    # ---- exact equality (also against plain rationals)
    def __eq__(self, other: object) -> bool:
        if isinstance(other, LogNumber):
            return self.rational == other.rational and self.logs == other.logs
        if isinstance(other, (int, Fraction)):
            return not self.logs and self.rational == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.rational) if not self.logs else hash((self.rational, self.logs))

    # ---- arithmetic
    def _coerce(self, other: Any) -> LogNumber | None:
        if isinstance(other, LogNumber):
            return other
        if type(other) is int or type(other) is Fraction:
            return LogNumber._raw(Fraction(other), ())
        return None

    def __add__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        if not o.logs:
            logs = self.logs
        elif not self.logs:
            logs = o.logs
        else:
            acc = dict(self.logs)
            for p, c in o.logs:
                acc[p] = acc.get(p, 0) + c
            logs = _canonical(acc)
        return LogNumber._raw(self.rational + o.rational, logs)

    __radd__ = __add__

    def __neg__(self) -> LogNumber:
        return LogNumber._raw(-self.rational, tuple((p, -c) for p, c in self.logs))

    def __pos__(self) -> LogNumber:
        return self

    def __sub__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        return NotImplemented if o is None else self + (-o)

    def __rsub__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        return NotImplemented if o is None else o + (-self)

    def _scale(self, k: Fraction) -> LogNumber:
        if not k:
            return LogNumber._raw(_ZERO, ())
        return LogNumber._raw(self.rational * k, tuple((p, c * k) for p, c in self.logs))

    def __mul__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        if not o.logs:
            return self._scale(o.rational)
        if not self.logs:
            return o._scale(self.rational)
        raise TypeError("product of two logarithms is outside the exact class")

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        if o is None:
            return NotImplemented
        if o.logs:
            raise TypeError("quotient by a logarithm is outside the exact class")
        if not o.rational:
            raise ZeroDivisionError("LogNumber division by zero")
        return self._scale(1 / o.rational)

    def __rtruediv__(self, other: Any) -> LogNumber:
        o = self._coerce(other)
        return NotImplemented if o is None else o / self

    # ---- certified evaluation
    def _enclosure(self, dps: int, per_bit: bool = False) -> tuple[Fraction, Fraction]:
        """Exact rational bounds lo <= value (/ log 2 if per_bit) <= hi, from interval arithmetic."""
        prec = _bits_for(dps)
        _IV.prec = prec
        total = _iv_rational(self.rational)
        for p, c in self.logs:
            total = total + _iv_rational(c) * _iv_log(p, prec)
        if per_bit:
            total = total / _iv_log(2, prec)
        lo, hi = total._mpi_
        return Fraction(*to_rational(lo)), Fraction(*to_rational(hi))

    @property
    def has_pi(self) -> bool:
        """Has a log(pi) term (see PI_KEY)."""
        return bool(self.logs) and self.logs[0][0] == PI_KEY

    def _refine(self, decided: Any, per_bit: bool = False, start: int = _FIRST_DPS,
                most: int = _MAX_DPS) -> Any:
        """Evaluate at 50, 100, 200, ... digits until `decided(lo, hi)` returns non-None."""
        dps = start
        while dps <= most:
            answer = decided(*self._enclosure(dps, per_bit))
            if answer is not None:
                return answer
            dps *= 2
        raise ArithmeticError(f"could not certify {self} within {most} digits")

    def sign(self) -> int:
        """-1, 0 or 1, certified: 0 exactly when the number is zero, else by intervals excluding 0."""
        if not self.logs:
            return (self.rational > 0) - (self.rational < 0)

        def decided(lo: Fraction, hi: Fraction) -> int | None:
            return 1 if lo > 0 else -1 if hi < 0 else None

        if self.has_pi and self.rational:
            # non-zero is not known from the form (see PI_KEY): intervals, bounded
            return self._refine(decided, most=PI_SIGN_DPS)
        return self._refine(decided)  # nonzero (canonical form), so this terminates

    def __lt__(self, other: Any) -> bool:
        o = self._coerce(other)
        return NotImplemented if o is None else (self - o).sign() < 0

    def __le__(self, other: Any) -> bool:
        o = self._coerce(other)
        return NotImplemented if o is None else (self - o).sign() <= 0

    def __gt__(self, other: Any) -> bool:
        o = self._coerce(other)
        return NotImplemented if o is None else (self - o).sign() > 0

    def __ge__(self, other: Any) -> bool:
        o = self._coerce(other)
        return NotImplemented if o is None else (self - o).sign() >= 0

    def _exact_in_bits(self) -> Fraction | None:
        """value / log 2 when that is rational (only c*log(2) or 0), else None."""
        if not self.rational and all(p == 2 for p, _ in self.logs):
            return self.logs[0][1] if self.logs else Fraction(0)
        return None

    def to_float(self, *, bits: bool = False) -> float:
        """The nearest float (in nats, or in bits if `bits`), certified."""
        exact = self._exact_in_bits() if bits else (self.rational if not self.logs else None)
        if exact is not None:
            return float(exact)

        def decided(lo: Fraction, hi: Fraction) -> float | None:
            f = float(lo)
            return f if f == float(hi) else None  # rounding is monotone: value rounds to f too

        return self._refine(decided, per_bit=bits, start=20)

    def __float__(self) -> float:
        return self.to_float()

    def decimal(self, digits: int = 6, *, bits: bool = False) -> str:
        """The value (nats, or bits if `bits`) correctly rounded to `digits` decimals.

        Exact ties (only possible for rational values) round half to even; a value that
        rounds to zero prints without a sign.
        """
        if type(digits) is not int or digits < 0:
            raise ValueError("digits must be a non-negative int")
        scale = 10**digits
        exact = self._exact_in_bits() if bits else (self.rational if not self.logs else None)
        if exact is not None:
            return _fixed(_round_half_even(exact * scale), digits)

        def decided(lo: Fraction, hi: Fraction) -> int | None:
            a, b = _round_half_even(lo * scale), _round_half_even(hi * scale)
            return a if a == b else None

        return _fixed(self._refine(decided, per_bit=bits, start=max(_FIRST_DPS, digits + 10)), digits)

    def shown(self, digits: int, *, bits: bool = False) -> str:
        """How every output prints this value rounded: `digits` decimals (:meth:`decimal`), unless
        that leaves a non-zero value fewer than two significant digits -- then SCIENTIFIC_FIGURES
        significant figures, '4.52e-08' (:meth:`scientific`). A value that is not 0 never prints as 0."""
        fixed = self.decimal(digits, bits=bits)
        if self.is_zero or abs(Fraction(fixed)) >= Fraction(1, 10 ** (digits - 1)):
            return fixed
        return self.scientific(SCIENTIFIC_FIGURES, bits=bits)

    def scientific(self, figures: int, *, bits: bool = False) -> str:
        """The non-zero value (nats, or bits) correctly rounded to `figures` significant figures, in
        Python's notation: '4.52e-08', '-1.50e+00'."""
        if self.is_zero or type(figures) is not int or figures < 1:
            raise ValueError("scientific notation of a non-zero value, with at least one figure")
        exact = self._exact_in_bits() if bits else (self.rational if not self.logs else None)
        if exact is not None:
            return _scientific_text(*_scientific(exact, figures))

        def decided(lo: Fraction, hi: Fraction) -> tuple[int, int] | None:
            if lo * hi <= 0:
                return None
            low, high = _scientific(lo, figures), _scientific(hi, figures)
            return low if low == high else None

        return _scientific_text(*self._refine(decided, per_bit=bits))

    def bits(self, digits: int = 6) -> str:
        """The value divided by log 2 (information in bits), correctly rounded."""
        return self.decimal(digits, bits=True)

    # ---- SymPy and text
    def to_sympy(self) -> Any:
        """A SymPy expression Rational(r0) + sum Rational(c_i)*log(p_i)."""
        import sympy

        terms = [sympy.Rational(c.numerator, c.denominator) * sympy.log(sympy.pi if p == PI_KEY else sympy.Integer(p))
                 for p, c in self.logs]
        terms.append(sympy.Rational(self.rational.numerator, self.rational.denominator))
        return sympy.Add(*terms)

    def __str__(self) -> str:
        """SymPy-syntax text, e.g. 'log(3)/2 - log(5) + 1/2': terms by prime, rational last."""
        parts: list[tuple[bool, str]] = []
        for p, c in self.logs:
            num, den = abs(c.numerator), c.denominator
            atom = "log(pi)" if p == PI_KEY else f"log({p})"
            body = atom if num == 1 else f"{num}*{atom}"
            parts.append((c < 0, body if den == 1 else f"{body}/{den}"))
        if self.rational or not parts:
            parts.append((self.rational < 0, str(abs(self.rational))))
        text = ("-" if parts[0][0] else "") + parts[0][1]
        for negative, body in parts[1:]:
            text += (" - " if negative else " + ") + body
        return text

    def __repr__(self) -> str:
        return f"LogNumber({str(self)!r})"


# --------------------------------------------------------------------------- helpers

def log_of(value: RationalLike) -> LogNumber:
    """log(value) for a rational value > 0, as a canonical sum of logs of primes."""
    r = _to_fraction(value)
    if r <= 0:
        raise ValueError(f"log of a non-positive number: log({r})")
    num, den = r.numerator, r.denominator
    if num > MAX_SIZE or den > MAX_SIZE:
        raise ValueError("log of a number whose numerator or denominator is above 10**1000; too large for exact logs")
    if den == 1:
        logs = _log_terms(num, 1)
    elif num == 1:
        logs = _log_terms(den, -1)
    else:  # numerator and denominator are coprime, so their primes are disjoint
        logs = tuple(sorted(_log_terms(num, 1) + _log_terms(den, -1)))
    return LogNumber._raw(_ZERO, logs)


@lru_cache(maxsize=8192)
def _log_terms(n: int, sign: int) -> tuple[tuple[int, Fraction], ...]:
    """sign * log(n) as canonical terms; cached because Fraction construction dominates."""
    return tuple((p, Fraction(sign * e)) for p, e in _factor(n))


def log_ratio(a: RationalLike, b: RationalLike) -> LogNumber:
    """log(a / b) for rationals a, b > 0 (the log-density-ratio terms of KL and the ELBO)."""
    ra, rb = _to_fraction(a), _to_fraction(b)
    if ra <= 0 or rb <= 0:
        raise ValueError(f"log ratio needs positive arguments: log({ra}/{rb})")
    return log_of(ra / rb)


def kl(q: Sequence[RationalLike], p: Sequence[RationalLike]) -> LogNumber:
    """KL(q || p) = sum_i q_i log(q_i / p_i) with the convention 0 log 0 = 0.

    Raises ValueError when some q_i > 0 has p_i = 0 (KL is infinite, not in the class).
    """
    if len(q) != len(p):
        raise ValueError(f"KL needs distributions of equal length, got {len(q)} and {len(p)}")
    total = LogNumber._raw(_ZERO, ())
    for qi, pi in zip(q, p):
        qf, pf = _to_fraction(qi), _to_fraction(pi)
        if qf < 0 or pf < 0:
            raise ValueError("KL of negative weights")
        if qf == 0:
            continue
        if pf == 0:
            raise ValueError("KL(q || p) is infinite: q puts mass where p has none")
        total = total + log_of(qf / pf)._scale(qf)
    return total


def _sum(items: Iterable[LogNumber]) -> LogNumber:
    total = LogNumber._raw(_ZERO, ())
    for item in items:
        total = total + item
    return total


def from_sympy(expr: Any) -> LogNumber:
    """Convert a SymPy expression built from rationals, log(positive rational), +, * and
    integer powers of rationals. Anything else (floats, symbols, pi, log(-1), a product
    of two logs, ...) raises ValueError, so the conversion is never silently approximate.
    """
    import sympy

    def convert(e: Any) -> LogNumber:
        if isinstance(e, sympy.Rational):
            return LogNumber._raw(Fraction(int(e.p), int(e.q)), ())
        if isinstance(e, sympy.log) and len(e.args) == 1:
            arg = convert(e.args[0])
            if not arg.is_rational or arg.rational <= 0:
                raise ValueError(f"log of something other than a positive rational: {e}")
            return log_of(arg.rational)
        if isinstance(e, sympy.Add):
            return _sum(convert(a) for a in e.args)
        if isinstance(e, sympy.Mul):
            result = LogNumber._raw(Fraction(1), ())
            for a in e.args:
                try:
                    result = result * convert(a)
                except TypeError as exc:
                    reraise_callers(exc)
                    raise ValueError(f"{e}: {exc}") from None
            return result
        if isinstance(e, sympy.Pow):
            base, exponent = convert(e.args[0]), e.args[1]
            if not base.is_rational or not isinstance(exponent, sympy.Integer):
                raise ValueError(f"only integer powers of rationals are exact here: {e}")
            b, n = base.rational, int(exponent)
            size = max(b.numerator.bit_length(), b.denominator.bit_length())
            if size * abs(n) > 4096:
                raise ValueError(f"power too large for exact evaluation: {e}")
            if b == 0 and n < 0:
                raise ValueError(f"division by zero: {e}")
            return LogNumber._raw(b**n, ())
        raise ValueError(f"not in the exact class (rationals and logs of rationals): {e}")

    if not isinstance(expr, sympy.Basic):
        raise ValueError(f"expected a SymPy expression, not {type(expr).__name__}")
    try:
        return convert(expr)
    except RecursionError as raised:
        reraise_callers(raised)
        raise ValueError("expression nested too deeply") from None


_Shown = TypeVar("_Shown")


def significant(value: LogNumber, figures: int) -> str:
    """`value` correctly rounded to `figures` significant figures, written as Python writes a float
    with ``format(v, f".{figures}g")`` (``-0.117783``, ``6.22702e+09``): the ≈ column of a
    counterexample, whose two sides may differ beyond what a float holds (log(8/9) + 10**-24)."""
    if value.is_zero:
        return "0"
    mantissa, _, power = value.scientific(figures).partition("e")
    sign, exponent = ("-" if mantissa.startswith("-") else ""), int(power)
    digits = mantissa.lstrip("-").replace(".", "")
    if -4 <= exponent < figures:  # fixed point, as %g chooses: the point after the units digit
        if exponent >= 0:
            whole, fraction = digits[:exponent + 1], digits[exponent + 1:]
        else:
            whole, fraction = "0", "0" * (-exponent - 1) + digits
        fraction = fraction.rstrip("0")
        return f"{sign}{whole}{'.' + fraction if fraction else ''}"
    fraction = digits[1:].rstrip("0")
    return f"{sign}{digits[0]}{'.' + fraction if fraction else ''}e{exponent:+03d}"


def distinguishing_digits(a: _Shown, b: _Shown, shown: Callable[[_Shown, int], str], digits: int = 6,
                          most: int = 12) -> int:
    """The fewest digits from `digits` (at most `most`) at which two different values print
    differently by ``shown(value, digits)`` -- a caption's log p(x) and L(q) (red team rt18: both
    printed -0.001501), a counterexample's two sides (both printed -0.117783 when they differed at
    the ninth digit).  Equal values, and values alike to `most` digits, print with what is reached."""
    while digits < most and a != b and shown(a, digits) == shown(b, digits):
        digits += 1
    return digits

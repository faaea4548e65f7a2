"""Tests for elbo_sym.numbers.exact: canonical equality, certified signs and decimals, and the
lesson's identities decided exactly on random binary models (checked against mpmath)."""

from __future__ import annotations

import math
from fractions import Fraction as F

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_sym.numbers.exact import LogNumber, from_sympy, kl, log_of, log_ratio

mp = mpmath.mp


# ------------------------------------------------------------------ strategies / helpers

def small_fractions(max_den: int = 12) -> st.SearchStrategy[F]:
    """Fractions strictly inside (0, 1) with small denominators."""
    return st.integers(2, max_den).flatmap(lambda d: st.integers(1, d - 1).map(lambda n: F(n, d)))


small_rationals = st.fractions(min_value=-10, max_value=10, max_denominator=30)
small_primes = st.sampled_from([2, 3, 5, 7, 11, 13])


@st.composite
def log_numbers(draw: st.DrawFn) -> LogNumber:
    """r0 + sum c_p log p with small rational coefficients (often cancelling)."""
    total = LogNumber.of(draw(small_rationals))
    for _ in range(draw(st.integers(0, 4))):
        total = total + draw(small_rationals) * log_of(draw(small_primes))
    return total


def mp_value(x: LogNumber) -> mpmath.mpf:
    """Evaluate the representation directly with mpmath at the current precision."""
    value = mp.mpf(x.rational.numerator) / x.rational.denominator
    for p, c in x.logs:
        value += mp.mpf(c.numerator) / c.denominator * mp.log(p)
    return value


def mpq(r: F) -> mpmath.mpf:
    return mp.mpf(r.numerator) / r.denominator


def log_2_convergent(terms: int) -> F:
    """A continued-fraction convergent of log 2: a rational extremely close to log 2."""
    with mp.workdps(400):
        y, partial = mp.log(2), []
        for _ in range(terms):
            a = int(mp.floor(y))
            partial.append(a)
            y = 1 / (y - a)
    value = F(partial[-1])
    for a in reversed(partial[:-1]):
        value = a + 1 / value
    return value


# ------------------------------------------------------------------ canonical equality

def test_canonical_equalities() -> None:
    assert log_of(6) == log_of(2) + log_of(3)
    assert log_of(1) == 0 and log_of(1).is_zero
    assert log_of(8) == 3 * log_of(2)
    assert log_of(F(3, 4)) == log_of(3) - 2 * log_of(2)
    assert log_of("3/4") == log_ratio(3, 4) == log_of(3) - log_of(4)
    assert log_of(F(1, 1024)) == -10 * log_of(2)
    assert log_of(6) != log_of(5)
    assert log_of(2) + F(1, 2) != log_of(2)


def test_representation_is_canonical() -> None:
    x = log_of(F(45, 28)) / 3 + F(1, 2)
    assert x.rational == F(1, 2)
    assert x.logs == ((2, F(-2, 3)), (3, F(2, 3)), (5, F(1, 3)), (7, F(-1, 3)))
    assert all(c != 0 for _, c in (log_of(6) - log_of(3)).logs)
    # the public constructor canonicalises composite bases and zero coefficients
    assert LogNumber(0, ((4, 1),)) == 2 * log_of(2)
    assert LogNumber(0, ((2, 1), (2, -1))) == 0
    assert LogNumber("1/2") == F(1, 2) == LogNumber.of(F(1, 2))


def test_hash_agrees_with_equality() -> None:
    assert len({log_of(6), log_of(2) + log_of(3), log_of(12) - log_of(2)}) == 1
    assert hash(LogNumber.of(3)) == hash(3)
    assert hash(LogNumber.of(F(1, 3))) == hash(F(1, 3))


def test_arithmetic() -> None:
    a, b = log_of(3), log_of(5)
    assert (a + b) - b == a
    assert -(a - b) == b - a
    assert 1 - a == -(a - 1)
    assert (a * F(2, 3)) / F(2, 3) == a
    assert a * LogNumber.of(2) == 2 * a == LogNumber.of(2) * a
    assert a / LogNumber.of(2) == a / 2
    assert 0 * a == 0 and (0 * a).is_zero
    assert LogNumber.of(1) / LogNumber.of(4) == F(1, 4)
    assert (a + 1).is_rational is False and (a - a + 1).is_rational is True
    assert bool(a) and not bool(a - a)


def test_kl_helper() -> None:
    assert kl(["1/2", "1/2"], ["1/2", "1/2"]) == 0
    assert kl([1, 0], ["1/4", "3/4"]) == log_of(4)  # 0 log 0 = 0
    assert kl([F(1, 2), F(1, 2)], [F(3, 4), F(1, 4)]) == (log_ratio(F(1, 2), F(3, 4)) + log_of(2)) / 2
    with pytest.raises(ValueError, match="infinite"):
        kl([F(1, 2), F(1, 2)], [1, 0])


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("bad", [0, -1, F(-1, 2), "0", "-3/4"])
def test_log_of_non_positive_is_an_error(bad: object) -> None:
    with pytest.raises(ValueError):
        log_of(bad)  # type: ignore[arg-type]


def test_products_outside_the_class_are_errors() -> None:
    with pytest.raises(TypeError, match="product of two logarithms is outside the exact class"):
        log_of(2) * log_of(3)
    with pytest.raises(TypeError, match="outside the exact class"):
        log_of(2) / log_of(3)
    with pytest.raises(TypeError, match="outside the exact class"):
        1 / log_of(2)
    with pytest.raises(ZeroDivisionError):
        log_of(2) / 0


@pytest.mark.parametrize("bad", [0.5, True, None, [1]])
def test_inexact_inputs_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        LogNumber.of(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        log_of(2) + bad  # type: ignore[operator]


@pytest.mark.parametrize("bad", ["1e5", "abc", "1/0x3", "1" * 300, "nan", "inf"])
def test_bad_strings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        LogNumber.of(bad)


def test_hostile_sizes_are_refused_quickly() -> None:
    with pytest.raises(ValueError, match="10\\*\\*12"):
        log_of(10**12 + 39)  # a prime above the bound
    with pytest.raises(ValueError, match="10\\*\\*12"):
        log_of(F(1, 2 * (10**15 + 37)))
    with pytest.raises(ValueError, match="10\\*\\*30"):  # a composite above 10**30 without small factors
        log_of((10**15 + 37) * (10**16 + 61))
    # large but admissible numbers still factor exactly
    assert log_of(1000003 * 1000033) == log_of(1000003) + log_of(1000033)
    assert log_of(10**30) == 30 * log_of(10)
    assert log_of(10**36) == 36 * log_of(10)  # size is not difficulty: trial division splits it
    assert log_of(F(3 * 10**35, 7**40)) == log_of(3) + 35 * log_of(10) - 40 * log_of(7)


# ------------------------------------------------------------------ certified sign

@pytest.mark.full
@settings(max_examples=100, deadline=None)
@given(log_numbers())
def test_sign_agrees_with_mpmath(x: LogNumber) -> None:
    with mp.workdps(50):
        value = mp_value(x)
    assert (x.sign() == 0) == x.is_zero
    if abs(value) > mpmath.mpf(10) ** -40:
        assert x.sign() == (1 if value > 0 else -1)
    assert (-x).sign() == -x.sign()


@pytest.mark.full
@settings(max_examples=40, deadline=None)
@given(log_numbers(), log_numbers())
def test_comparisons_follow_sign(a: LogNumber, b: LogNumber) -> None:
    d = (a - b).sign()
    assert (a < b, a <= b, a > b, a >= b, a == b) == (d < 0, d <= 0, d > 0, d >= 0, d == 0)


def test_sign_of_tiny_differences_is_certified() -> None:
    tiny = log_of(2**10) - 10 * log_of(2) + F(1, 10**40)
    assert tiny.sign() == 1 and tiny > 0
    # log 2 minus a rational within ~1e-100 of it: needs more than 50 digits
    near = log_2_convergent(110)
    with mp.workdps(400):
        expected = int(mp.sign(mp.log(2) - mpq(near)))
        assert 0 < abs(mp.log(2) - mpq(near)) < mpmath.mpf(10) ** -90
    assert (log_of(2) - near).sign() == expected
    assert (near - log_of(2)).sign() == -expected
    assert (log_of(2) - near + expected * F(1, 10**300)).sign() == expected


def test_orderings() -> None:
    assert log_of(2) < 1 < log_of(3)
    assert log_of(2) <= log_of(2) and log_of(2) >= log_of(2)
    assert log_of(F(1, 3)) < log_of(F(1, 2)) < 0


# ------------------------------------------------------------------ decimals and floats

def test_decimal_rounding() -> None:
    assert log_of(2).decimal() == "0.693147"
    assert log_of(2).decimal(0) == "1"
    assert (-log_of(2)).decimal(3) == "-0.693"
    assert log_of(F(9, 10)).decimal(6) == "-0.105361"
    assert LogNumber.of("1/8").decimal(2) == "0.12"  # exact tie: half to even
    assert LogNumber.of("3/8").decimal(2) == "0.38"
    assert LogNumber.of(F(-1, 1000)).decimal(2) == "0.00"
    assert LogNumber.of(-7).decimal(1) == "-7.0"
    assert (log_of(2) - log_2_convergent(110)).decimal(6) in ("0.000000",)


def test_bits() -> None:
    assert log_of(2).bits() == "1.000000"
    assert log_of(8).bits(0) == "3"
    assert (log_of(2) / 2).bits(0) == "0"  # exact tie 0.5, half to even
    assert log_of(3).bits() == "1.584963"
    assert log_of(3).to_float(bits=True) == pytest.approx(math.log2(3), rel=1e-15)
    assert LogNumber.of(1).bits(4) == "1.4427"


@pytest.mark.full
@settings(max_examples=100, deadline=None)
@given(log_numbers(), st.integers(0, 30))
def test_decimal_is_correctly_rounded(x: LogNumber, digits: int) -> None:
    text = x.decimal(digits)
    assert len(text.partition(".")[2]) == digits
    with mp.workdps(80):
        error = abs(mp.mpf(text) - mp_value(x)) * mpmath.mpf(10) ** digits
        assert error <= mpmath.mpf(1) / 2


@pytest.mark.full
@settings(max_examples=60, deadline=None)
@given(log_numbers())
def test_to_float_is_the_nearest_float(x: LogNumber) -> None:
    with mp.workdps(60):
        assert x.to_float() == float(mp_value(x))
    assert float(log_of(2)) == math.log(2)


# ------------------------------------------------------------------ SymPy round trips

@pytest.mark.full
@settings(max_examples=40, deadline=None)
@given(log_numbers())
def test_sympy_round_trip_and_str(x: LogNumber) -> None:
    assert from_sympy(x.to_sympy()) == x
    assert from_sympy(sympy.sympify(str(x))) == x  # str is SymPy syntax


def test_str_and_sympy_form() -> None:
    x = log_of(3) / 2 - log_of(5)
    assert str(x) == "log(3)/2 - log(5)"
    assert x.to_sympy() == sympy.Rational(1, 2) * sympy.log(3) - sympy.log(5)
    assert str(log_of(F(3, 4)) * 3 + F(-1, 2)) == "-6*log(2) + 3*log(3) - 1/2"
    assert str(LogNumber.of(0)) == "0"


def test_from_sympy_accepts_the_exact_class() -> None:
    R, log = sympy.Rational, sympy.log
    assert from_sympy(R(3, 4)) == F(3, 4)
    assert from_sympy(log(R(3, 4))) == log_of(F(3, 4))
    assert from_sympy(2 * log(8) - R(1, 2)) == 6 * log_of(2) - F(1, 2)
    assert from_sympy(sympy.Pow(2, -3, evaluate=False)) == F(1, 8)
    assert from_sympy(log(sympy.Pow(2, 3, evaluate=False), evaluate=False)) == log_of(8)
    assert from_sympy(sympy.log(1)) == 0


@pytest.mark.parametrize(
    "expr",
    [
        sympy.Float(0.5),
        sympy.Symbol("x"),
        sympy.pi,
        sympy.log(2) * sympy.log(3),
        sympy.log(-1),
        sympy.log(sympy.Symbol("x")),
        sympy.sqrt(2),
        sympy.exp(1),
        sympy.nan,
        sympy.zoo,
        sympy.oo,
        sympy.I,
        sympy.Pow(sympy.Integer(9), sympy.Integer(10**6), evaluate=False),
    ],
)
def test_from_sympy_rejects_everything_else(expr: sympy.Basic) -> None:
    with pytest.raises(ValueError):
        from_sympy(expr)


# ------------------------------------------------------------------ the lesson's identities

def binary_quantities(prior: tuple[F, F], lik: tuple[F, F], q: tuple[F, F]) -> dict[str, LogNumber]:
    joint = [prior[z] * lik[z] for z in (0, 1)]
    px = sum(joint)
    post = [j / px for j in joint]
    return {
        "log_px": log_of(px),
        "elbo": q[0] * log_ratio(joint[0], q[0]) + q[1] * log_ratio(joint[1], q[1]),
        "recon": q[0] * log_of(lik[0]) + q[1] * log_of(lik[1]),
        "kl_prior": kl(q, prior),
        "kl_post": kl(q, post),
    }


def reference_quantities(prior: tuple[F, F], lik: tuple[F, F], q: tuple[F, F]) -> dict[str, mpmath.mpf]:
    """The same quantities with plain mpmath log formulas (independent of exact.py)."""
    pi, l, qq = [mpq(v) for v in prior], [mpq(v) for v in lik], [mpq(v) for v in q]
    joint = [pi[z] * l[z] for z in (0, 1)]
    px = joint[0] + joint[1]
    post = [j / px for j in joint]
    return {
        "log_px": mp.log(px),
        "elbo": sum(qq[z] * (mp.log(joint[z]) - mp.log(qq[z])) for z in (0, 1)),
        "recon": sum(qq[z] * mp.log(l[z]) for z in (0, 1)),
        "kl_prior": sum(qq[z] * mp.log(qq[z] / pi[z]) for z in (0, 1)),
        "kl_post": sum(qq[z] * mp.log(qq[z] / post[z]) for z in (0, 1)),
    }


def check_identities(prior: tuple[F, F], lik: tuple[F, F], q: tuple[F, F]) -> LogNumber:
    v = binary_quantities(prior, lik, q)
    gap = v["log_px"] - v["elbo"]
    assert gap == v["kl_post"]  # log p(x) - ELBO = KL(q || p(z|x)), exactly
    assert v["elbo"] == v["recon"] - v["kl_prior"]  # ELBO = reconstruction - KL(q || prior)
    assert gap.sign() >= 0 and v["log_px"] >= v["elbo"]
    joint = [prior[z] * lik[z] for z in (0, 1)]
    posterior = (joint[0] / sum(joint), joint[1] / sum(joint))
    assert (gap.sign() == 0) == (q == posterior)
    with mp.workdps(50):
        ref = reference_quantities(prior, lik, q)
        for name, value in v.items():
            assert abs(mp.mpf(value.decimal(45)) - ref[name]) < mpmath.mpf(10) ** -40, name
    return gap


@pytest.mark.full
@settings(max_examples=120, deadline=None)
@given(small_fractions(), small_fractions(), small_fractions(), small_fractions())
def test_binary_identities_hold_exactly(pi0: F, l0: F, l1: F, q0: F) -> None:
    check_identities((pi0, 1 - pi0), (l0, l1), (q0, 1 - q0))


@settings(max_examples=50, deadline=None)
@given(small_fractions(), small_fractions(), small_fractions())
def test_gap_is_exactly_zero_at_the_posterior(pi0: F, l0: F, l1: F) -> None:
    joint = (pi0 * l0, (1 - pi0) * l1)
    posterior = (joint[0] / sum(joint), joint[1] / sum(joint))
    assert check_identities((pi0, 1 - pi0), (l0, l1), posterior).is_zero


def test_lesson_example() -> None:
    prior, lik, q = (F(3, 4), F(1, 4)), (F(1, 5), F(3, 5)), (F(1, 2), F(1, 2))
    v = binary_quantities(prior, lik, q)
    assert v["log_px"] == log_of(F(3, 10))
    # here q is the posterior (p(x, z) = 3/20 for both z): the tight case, gap exactly 0
    assert v["kl_post"] == log_of(F(3, 10)) - v["elbo"] == 0
    assert v["elbo"] == log_of(F(3, 10)) and v["kl_prior"] > 0
    check_identities(prior, lik, q)

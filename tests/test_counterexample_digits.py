"""A counterexample's two sides print apart when they differ (session 15): `check` and `explain`
showed ``left = log(8/9) ≈ -0.117783, right = log(8/9) + 1/1000000000 ≈ -0.117783``, two equal
numbers for two different values.  They now print with as many significant digits as it takes
(the captions' rule, elbo_sym.numbers.exact.distinguishing_digits), each digit a correct rounding
of the exact value."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from sympy import Abs, Rational, log

from elbo_sym.cli import main
from elbo_sym.numbers.exact import LogNumber, distinguishing_digits, log_of, significant

STEP = '''title = "A billionth too much"
start = "log(p(x))"

[[step]]
rel = "="
expr = "log(p(x)) + {extra}"
rule = "algebra"
why = "wrong by {extra}"
'''

SIDES = re.compile(r"left\s*= (?P<lhs>.+?) ≈ (?P<lv>\S+?),?\s+right\s*= (?P<rhs>.+?) ≈ (?P<rv>\S+)"
                   r"(?: \(the two sides differ beyond \d+ significant figures\))?$")


def _sides(lines: list[str]) -> tuple[str, str, str, str]:
    """(left, its value shown, right, its value shown) from `check`'s one line or `explain`'s two."""
    text = " ".join(line.strip() for line in lines if "left" in line and "≈" in line or "right =" in line)
    found = SIDES.search(text)
    assert found, lines
    return found["lhs"], found["lv"], found["rhs"], found["rv"]


EXACT = re.compile(r"log\((?P<log>\d+(?:/\d+)?)\)(?: \+ (?P<plus>\d+/\d+))?")


def _exact(text: str):
    """The value of a side written log(r) or log(r) + a/b (what this step's sides are at any point),
    to 60 digits (the parser refuses the billion in 1/1000000000: no literal above a million)."""
    found = EXACT.fullmatch(text)
    assert found, text
    return (log(Rational(found["log"])) + Rational(found["plus"] or 0)).evalf(60)


def _rounds(shown: str, exact_text: str) -> bool:
    """`shown` is the exact value of `exact_text` rounded to the significant digits it has: within
    half a unit of its last digit."""
    exact = _exact(exact_text)
    mantissa = shown.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    unit = Rational(10) ** (int(f"{float(shown):e}".split("e")[1]) - len(mantissa) + 1)
    return bool(Abs(exact - Rational(shown)) <= unit / 2)


# a billionth; ten billionths; 10**-13 (alike to 12 digits: rt33 F5); 10**-24 (one float for both sides)
@pytest.mark.parametrize("extra", ["1/1000000 * 1/1000", "1/1000000 * 1/100000", "1/1000000 * 1/1000000 * 1/10",
                                   "1/1000000 * 1/1000000 * 1/1000000 * 1/1000000"])
@pytest.mark.parametrize("command", ["check", "explain"])
def test_two_sides_that_differ_print_apart(tmp_path: Path, capsys, command: str, extra: str) -> None:
    path = tmp_path / "billionth.toml"
    path.write_text(STEP.format(extra=extra))
    assert main([command, str(path), *(["--step", "1"] if command == "explain" else [])]) == 1
    lhs, left, rhs, right = _sides(capsys.readouterr().out.splitlines())
    assert lhs != rhs
    assert left != right, (left, right)  # 6 digits showed the same number
    assert _rounds(left, lhs) and _rounds(right, rhs), (lhs, left, rhs, right)


def test_the_captions_and_the_counterexample_share_the_rule() -> None:
    a, b = log_of(Rational(8, 9)), log_of(Rational(8, 9)) + LogNumber.of(Rational(1, 10**9))
    assert a.shown(6) == b.shown(6)
    digits = distinguishing_digits(a, b, LogNumber.shown)
    assert a.shown(digits) != b.shown(digits) and a.shown(digits - 1) == b.shown(digits - 1)
    assert distinguishing_digits(a, a, LogNumber.shown) == 6  # equal values: nothing to tell apart


def test_two_sides_alike_beyond_the_most_figures_are_said_to_differ(tmp_path: Path, capsys) -> None:
    """log(r) and log(r) + 10**-36 are alike to 30 significant figures: the ≈ column shows 30 (each a
    correct rounding) and says the two differ beyond them, never two equal numbers and nothing more."""
    path = tmp_path / "tiny.toml"
    path.write_text(STEP.format(extra=" * ".join(["1/1000000"] * 6)))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    lhs, left, rhs, right = _sides(out.splitlines())
    assert left == right and len(left.lstrip("-0.").replace(".", "")) >= 29, (left, right)
    assert re.search(r"≈ \S+ \(the two sides differ beyond 30 significant figures\)$", out, re.M), out
    assert _rounds(left, lhs)


@pytest.mark.parametrize("value", [Rational(-1532379, 200000000000), Rational(8, 9), Rational(6227020800),
                                   Rational(-3, 20000000), Rational(1, 10**4), Rational(12, 10**5), Rational(1)])
@pytest.mark.parametrize("figures", [1, 2, 6, 12])
def test_a_rational_sides_figures_are_written_as_python_writes_a_float(value, figures) -> None:
    """The ≈ column writes exact values as it wrote floats (``-0.117783``, ``6.22702e+09``), so the
    handouts' \\times 10^{...} and the line's numbers read as before; only exact ties round to even."""
    shown = significant(LogNumber.of(Fraction(int(value.p), int(value.q))), figures)
    as_float = f"{float(value):.{figures}g}"
    assert shown == as_float or Rational(shown) - value == value - Rational(as_float), (shown, as_float)
    assert Abs(Rational(shown) - value) <= Rational(10) ** (int(f"{float(value):e}".split("e")[1]) - figures + 1) / 2

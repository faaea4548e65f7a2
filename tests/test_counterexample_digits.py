"""A counterexample's two sides print apart when they differ (session 15): `check` and `explain`
showed ``left = log(8/9) ≈ -0.117783, right = log(8/9) + 1/1000000000 ≈ -0.117783``, two equal
numbers for two different values.  They now print with as many significant digits as it takes
(the captions' rule, elbo_sym.numbers.exact.distinguishing_digits), each digit a correct rounding
of the exact value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sympy import Abs, Rational, log

from elbo_sym.cli import main
from elbo_sym.numbers.exact import LogNumber, distinguishing_digits, log_of

STEP = '''title = "A billionth too much"
start = "log(p(x))"

[[step]]
rel = "="
expr = "log(p(x)) + {extra}"
rule = "algebra"
why = "wrong by {extra}"
'''

SIDES = re.compile(r"left\s*= (?P<lhs>.+?) ≈ (?P<lv>\S+?),?\s+right\s*= (?P<rhs>.+?) ≈ (?P<rv>\S+)$")


def _sides(lines: list[str]) -> tuple[str, str, str, str]:
    """(left, its value shown, right, its value shown) from `check`'s one line or `explain`'s two."""
    text = " ".join(line.strip() for line in lines if "left" in line and "≈" in line or "right =" in line)
    found = SIDES.search(text)
    assert found, lines
    return found["lhs"], found["lv"], found["rhs"], found["rv"]


EXACT = re.compile(r"log\((?P<log>\d+(?:/\d+)?)\)(?: \+ (?P<plus>\d+/\d+))?")


def _exact(text: str):
    """The value of a side written log(r) or log(r) + a/b (what this step's sides are at any point),
    to 40 digits (the parser refuses the billion in 1/1000000000: no literal above a million)."""
    found = EXACT.fullmatch(text)
    assert found, text
    return (log(Rational(found["log"])) + Rational(found["plus"] or 0)).evalf(40)


def _rounds(shown: str, exact_text: str) -> bool:
    """`shown` is the exact value of `exact_text` rounded to the significant digits it has: within
    half a unit of its last digit."""
    exact = _exact(exact_text)
    mantissa = shown.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    unit = Rational(10) ** (int(f"{float(shown):e}".split("e")[1]) - len(mantissa) + 1)
    return bool(Abs(exact - Rational(shown)) <= unit / 2)


@pytest.mark.parametrize("extra", ["1/1000000 * 1/1000", "1/1000000 * 1/100000"])
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

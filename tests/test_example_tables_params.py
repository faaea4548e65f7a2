"""An example that fixes a parameter gets values in its tables (red team rt55 F2): the tables and the
expect check evaluate the same way (engine.samples.at_example), so IWAE(q, k) at the example's k = 2 has
a value row -- and that value equals a brute-force sum over the K**k draws, computed here on its own."""

from __future__ import annotations

import itertools
import json
import tomllib
from fractions import Fraction as F
from pathlib import Path

import mpmath
import pytest

from elbo_sym.cli import main
from elbo_sym.engine.check import check_derivation
from elbo_sym.engine.derivation import load
from elbo_sym.report.build import report_of

ROOT = Path(__file__).resolve().parent.parent
FILES = ("docs/examples/iwae-bound.toml", "derivations/literature/iwae-bound-every-k.toml")


def _iwae_by_brute_force(prior, likelihood, q, k: int) -> mpmath.mpf:
    """IWAE(q, k) = E over k independent draws from q of log((1/k) sum_i p(x, z_i) / q(z_i)), summed over
    every K**k tuple of draws (mpmath at 50 digits, no engine code)."""
    mpmath.mp.dps = 50
    total = mpmath.mpf(0)
    for draws in itertools.product(range(len(q)), repeat=k):
        weight = F(1)
        average = F(0)
        for z in draws:
            weight *= q[z]
            average += prior[z] * likelihood[z] / q[z]
        average /= k
        total += mpmath.mpf(weight.numerator) / weight.denominator * mpmath.log(
            mpmath.mpf(average.numerator) / average.denominator)
    return total


def _given(path: str) -> tuple[tuple[F, ...], tuple[F, ...], tuple[F, ...], int]:
    """The example's p(z), p(x | z), q(z) and k as the file states them (read with tomllib, not the engine)."""
    (example,) = tomllib.loads((ROOT / path).read_text())["example"]
    prior, likelihood, q = (tuple(F(v) for v in example[name]) for name in ("prior", "likelihood", "q"))
    return prior, likelihood, q, int(example["params"]["k"])


@pytest.mark.parametrize("path", FILES)
def test_the_iwae_row_is_the_brute_force_sum(path):
    report = report_of(check_derivation(load(ROOT / path)))
    (shown,) = report.examples
    assert not shown.unevaluated, shown.unevaluated  # was: "a symbolic number of samples has no finite unfolding"
    (iwae,) = [row for row in shown.rows if row.symbol.text.startswith("IWAE")]
    prior, likelihood, q, k = _given(path)
    assert k == 2
    expected = _iwae_by_brute_force(prior, likelihood, q, k)
    assert _rounds(iwae.nats, expected)
    assert iwae.bits is not None and _rounds(iwae.bits, expected / mpmath.log(2))


def _rounds(printed: str, value: mpmath.mpf) -> bool:
    """`printed` ("-1.2344") is `value` correctly rounded to the decimals it shows."""
    decimals = len(printed.partition(".")[2])
    return bool(abs(mpmath.mpf(printed) - value) <= mpmath.mpf(10) ** -decimals / 2)


def test_check_json_has_no_unevaluated_iwae(capsys):
    code = main(["check", "--no-cache", "--json", str(ROOT / FILES[0])])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    text = json.dumps(out)
    assert "symbolic number of samples has no finite unfolding" not in text

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


RENYI = """title = "renyi"
K = 2
start = "log(p(x))"
[params]
alpha = "in (0, 1)"
[[step]]
rel = ">="
expr = "1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))"
rule = "renyi-bound"
[[example]]
prior = ["3/4", "1/4"]
likelihood = ["1/5", "3/5"]
q = ["1/3", "2/3"]
params = { alpha = "1/2" }
"""


def test_a_renyi_value_outside_the_exact_class_says_so_with_its_decimals():
    """alpha = 1/2 makes the Renyi bound a log of square roots: no exact row, but the table says why in words
    (not "exp of a non-zero number" alone) and prints the value as the expect check does, to 6 figures."""
    from elbo_sym.engine.derivation import loads

    report = report_of(check_derivation(loads(RENYI, "renyi.toml")))
    (shown,) = report.examples
    (row,) = shown.unevaluated
    assert "outside the exact class" in row.why
    mpmath.mp.dps = 30
    prior, likelihood, q, a = (F(3, 4), F(1, 4)), (F(1, 5), F(3, 5)), (F(1, 3), F(2, 3)), F(1, 2)
    average = sum(mpmath.mpf(qz.numerator) / qz.denominator
                  * mpmath.power(mpmath.mpf((pz * lz / qz).numerator) / (pz * lz / qz).denominator, 1 - a)
                  for pz, lz, qz in zip(prior, likelihood, q))
    expected = mpmath.log(average) / (1 - a)
    assert row.why.endswith(f"≈ {mpmath.nstr(expected, 6)}"), (row.why, expected)


def test_the_site_page_prints_the_iwae_value(tmp_path, monkeypatch, capsys):
    """The published page (`web --out`) shows the row, with the brute-force value to its decimals."""
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["web", str(ROOT / FILES[0]), "--out", str(tmp_path / "pages")]) == 0
    capsys.readouterr()
    page = (tmp_path / "pages" / "derivations.md").read_text("utf-8")
    assert "no exact value" not in page
    (row,) = [line for line in page.splitlines() if line.startswith(r"| $\mathcal{L}^{\mathrm{IWAE}}_{k}(q)$ |")]
    nats = row.split("|")[3].strip().strip("$")
    assert _rounds(nats, _iwae_by_brute_force(*_given(FILES[0])))

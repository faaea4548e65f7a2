"""rt3's minor findings about what bad or odd input prints: `new .`, a teaching file's slip in
`build`/`web`'s summary line, and an `[example.expect]` that is off by a tiny amount."""

from __future__ import annotations

from pathlib import Path

import pytest
from sympy import Rational, exp, log

from elbo_sym.cli import main
from elbo_sym.numbers.evaluate import approx_text
from elbo_sym.publish.commands import checked_line

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", [".", "..", "./", "sub/", ".toml", "..toml", "sub/..."])
def test_new_refuses_a_name_with_no_file_stem(tmp_path, monkeypatch, capsys, name) -> None:
    """`new .` wrote a file named `..toml`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert main(["new", name]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no file stem" in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub"]


def test_new_still_writes_a_dotted_name(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "week.5"]) == 0
    assert (tmp_path / "week.5.toml").is_file()


def test_the_build_summary_names_a_teaching_files_slip(checked_report) -> None:
    gap = checked_report(REPO / "derivations" / "gap.toml")
    slip = checked_report(REPO / "derivations" / "teaching" / "gap-slip.toml")
    assert checked_line([gap]) == "checked 1 derivation(s): every step proved or accepted"
    marked = sum(s.expected_refuted for s in slip.steps)
    assert slip.ok and marked >= 1
    assert checked_line([gap, slip]) == (f"checked 2 derivation(s): every step proved or accepted, except {marked} "
                                         "deliberate mistake(s) of teaching files, refuted as marked")


EXPECT_OFF = ('title = "expect off"\nstart = "log(p(x))"\n\n[[step]]\nrel = ">="\nexpr = "ELBO(q)"\n'
              'rule = "kl-nonneg"\n\n[[example]]\nprior = ["1/2", "1/2"]\nlikelihood = ["1/5", "3/5"]\n'
              'q = ["1/2", "1/2"]\n\n[example.expect]\n"log(p(x))" = "log(2/5) + OFF"\n')


@pytest.mark.parametrize(("off", "said"), [
    ("exp(-200)", "not log(2/5) + exp(-200) ≈ -0.916291 (they differ by ≈ -1.3839e-87)\n"),
    ("1/10", "not log(2/5) + 1/10 ≈ -0.816291\n"),  # visibly different: no difference added
])
def test_a_failing_expectation_shows_how_the_sides_differ(tmp_path, monkeypatch, capsys, off, said) -> None:
    """Off by exp(-200), both sides printed as the same 20-digit interval; now six digits each and,
    where those agree, the difference."""
    monkeypatch.setenv("ELBO_SYM_NO_CACHE", "1")
    path = tmp_path / "off.toml"
    path.write_text(EXPECT_OFF.replace("OFF", off), "utf-8")
    assert main(["check", str(path)]) == 1
    assert f"log(p(x)): is log(2/5) ≈ -0.916291, {said}" in capsys.readouterr().out


@pytest.mark.parametrize(("e", "shown"), [
    (log(Rational(2, 5)) + exp(-200), "≈ -0.916291"),
    (-exp(-200), "≈ -1.3839e-87"),
    (log(2) - log(5) - log(Rational(2, 5)) - exp(-200), "≈ -1.3839e-87"),  # SymPy cancels no log here
])
def test_an_approximate_value_is_a_number_with_six_certain_digits(e, shown) -> None:
    """Not an interval "[m, m]", and not the midpoint of an interval wider than the value."""
    assert approx_text(e, {}) == shown

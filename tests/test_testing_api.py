"""The Python testing API: assert_derivation's path rule, clean input errors, assert_refuted."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.authoring.testing import (
    DerivationFailed,
    DerivationNotRefuted,
    assert_derivation,
    assert_not_established,
    assert_refuted,
)
from elbo_sym.engine.derivation import DerivationError, loads
from elbo_sym.limits import BudgetError
from elbo_sym.report.model import InputErrorReport

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GAP_PATH = REPO / "derivations" / "gap.toml"
GAP = GAP_PATH.read_text("utf-8")
KL_FLIPPED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
TYPO = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(q(z) p(z | x))"')
SLIP = REPO / "derivations" / "teaching" / "gap-slip.toml"
assert KL_FLIPPED != GAP and TYPO != GAP


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


# ---------------------------------------------------------------------------- relative paths


def test_a_relative_path_is_read_next_to_the_calling_test_file(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)                     # nothing of the repository here
    report = assert_derivation("../derivations/gap.toml")
    assert report.ok
    assert report.file == str(GAP_PATH)             # not below the cwd: shown absolute


def test_the_current_folder_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not (HERE / "derivations" / "gap.toml").exists()
    monkeypatch.chdir(REPO)
    report = assert_derivation("derivations/gap.toml")
    assert report.ok and report.file == "derivations/gap.toml"   # shown relative to the cwd


def test_an_absolute_path_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrong = write(tmp_path, "wrong.toml", KL_FLIPPED)
    monkeypatch.chdir(HERE)
    with pytest.raises(DerivationFailed) as caught:
        assert_derivation(wrong)
    assert caught.value.report.file == str(wrong)


def test_a_missing_file_names_the_places_looked_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError) as caught:
        assert_derivation("no/such.toml")
    assert isinstance(caught.value, DerivationError)
    assert str(caught.value) == (f"{HERE / 'no' / 'such.toml'}: no such file (a relative path is looked up "
                                 f"in {HERE}, then {tmp_path})")


def test_a_bad_budget_is_refused_before_the_file_is_looked_for() -> None:
    with pytest.raises(BudgetError):
        assert_derivation("no/such.toml", budget=0)
    with pytest.raises(BudgetError):
        assert_refuted("no/such.toml", step=1, budget=float("nan"))


# ---------------------------------------------------------------------------- malformed files


def test_a_malformed_file_is_an_assertion_with_the_one_line_error_and_caret(tmp_path: Path) -> None:
    typo = write(tmp_path, "typo.toml", TYPO)
    with pytest.raises(DerivationError) as expected:
        loads(TYPO, str(typo))
    with pytest.raises(AssertionError) as caught:
        assert_derivation(typo)
    error = caught.value
    assert isinstance(error, DerivationError)          # `except DerivationError` keeps working
    assert (error.path, error.line, error.column, error.step) == \
        (str(typo), expected.value.line, expected.value.column, 4)
    lines = str(error).splitlines()
    assert lines[0] == InputErrorReport.from_error(expected.value).text
    assert lines[0].startswith(f"{typo}:{error.line}:{error.column + 1}: step 4: expr: ")
    assert "\n".join(lines[1:]) == expected.value.pointer() != ""
    assert lines[2].index("^") - lines[1].index("expr") == error.column
    assert error.__cause__ is None and error.__suppress_context__   # no chained internal traceback
    assert pickle.loads(pickle.dumps(error)) == error


def test_an_unreadable_file_has_no_line_zero(tmp_path: Path) -> None:
    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(AssertionError) as caught:
        assert_derivation(tmp_path / "folder.toml")
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'folder.toml'}: cannot read file") and ":0:" not in text


def test_the_testing_module_and_plugin_import_no_sympy() -> None:
    code = ("import sys, elbo_sym.authoring.pytest_plugin, elbo_sym.authoring.testing;"
            "print(sorted(m for m in sys.modules if m == 'sympy' or m.startswith('sympy.'))[:3])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=CHILD_TIMEOUT_SECONDS).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------- assert_refuted


def test_assert_refuted_with_a_step_returns_it_with_its_counterexample(tmp_path: Path) -> None:
    step = assert_refuted(write(tmp_path, "wrong.toml", KL_FLIPPED), step=4)
    assert step.index == 4 and step.verdict == "refuted"
    assert step.counterexample is not None and step.counterexample.values
    assert step.suggestion is not None and "swap" in step.suggestion.describe()


def test_a_teaching_file_passes_and_its_slip_is_refuted() -> None:
    assert assert_derivation(SLIP).ok
    step = assert_refuted(SLIP, step=3)
    assert step.expected_refuted and step.counterexample is not None
    with pytest.raises(DerivationNotRefuted):
        assert_refuted(SLIP, step=2)


def test_assert_refuted_fails_readably_on_a_step_that_holds() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_refuted(GAP_PATH, step=2)
    error = caught.value
    assert isinstance(error, DerivationNotRefuted) and error.report.steps[1].verdict == "proved"
    first = str(error).splitlines()[0]
    assert first.startswith(f"{GAP_PATH}:{error.report.steps[1].line}: step 2 is proved, not refuted")
    assert "step 4" in str(error)                     # the whole report follows


def test_assert_refuted_without_a_step(tmp_path: Path) -> None:
    report = assert_refuted(write(tmp_path, "wrong.toml", KL_FLIPPED))
    assert [s.verdict for s in report.steps].count("refuted") == 1
    # Every step holds, the chain does not show the claim, and the claim is false: refuted.
    false = GAP.replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"', 'claim = "log(p(x)) - ELBO(q) = H(q)"')
    assert false != GAP
    report = assert_refuted(write(tmp_path, "false.toml", false))
    assert not report.established and all(s.verdict == "proved" for s in report.steps)
    with pytest.raises(DerivationNotRefuted) as caught:
        assert_refuted(GAP_PATH)
    assert "nothing is refuted: every step holds and the claim is established" in str(caught.value)


def test_a_true_claim_the_chain_stops_short_of_is_not_refuted(tmp_path: Path) -> None:
    # red team rt32 F11: every step proved, the claim a theorem the chain does not reach
    short = write(tmp_path, "short.toml", GAP.replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"',
                                                        'claim = "log(p(x)) >= ELBO(q)"'))
    with pytest.raises(DerivationNotRefuted) as caught:
        assert_refuted(short)
    assert "the claim itself is proved, not refuted" in str(caught.value)
    assert "assert_not_established" in str(caught.value)
    report = assert_not_established(short)
    assert not report.established and all(s.verdict == "proved" for s in report.steps)
    with pytest.raises(DerivationNotRefuted, match="the claim is established"):
        assert_not_established(GAP_PATH)
    with pytest.raises(DerivationNotRefuted, match="step 4 is refuted"):
        assert_not_established(write(tmp_path, "wrong.toml", KL_FLIPPED))


def _claim_left_undecided(monkeypatch, how: str) -> None:
    """Make the engine leave every claim unestablished without deciding it: its budget spent before
    the comparison (the engine's own words for it), or the comparison failing."""
    from elbo_sym.engine import check

    if how == "budget":
        monkeypatch.setattr(check, "_claim", lambda derivation, relation, model, results, budget, message:
                            (False, message))
    else:
        def fails(a, b):
            from fractions import Fraction

            yield Fraction(1, 0)  # fails inside the standard library, as computing does

        monkeypatch.setattr(check, "_congruent_arguments", fails)


@pytest.mark.parametrize("how", ["budget", "comparison"])
def test_a_claim_left_undecided_is_no_refutation(monkeypatch, how: str) -> None:
    # red team rt17 F1: a true file whose claim ran out of budget passed assert_refuted
    _claim_left_undecided(monkeypatch, how)
    with pytest.raises(DerivationNotRefuted) as caught:
        assert_refuted(GAP_PATH)
    report = caught.value.report
    assert all(s.verdict == "proved" for s in report.steps) and not report.established
    assert "the claim is not established for a reason that decides nothing" in str(caught.value)
    assert report.claim_reason in str(caught.value).splitlines()[0]


def test_chain_misses_claim_reads_the_engines_words(tmp_path: Path) -> None:
    from elbo_sym.authoring.testing import chain_misses_claim

    weaker = GAP.replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"', 'claim = "log(p(x)) >= ELBO(q)"')
    other = GAP.replace('claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"',
                        'claim = "log(p(x)) - ELBO(q) = H(q)"')
    assert weaker != GAP and other != GAP
    for text in (weaker, other):
        report = assert_not_established(write(tmp_path, "mismatch.toml", text))
        assert chain_misses_claim(report.claim_reason), report.claim_reason
    for reason in ("file budget of 0.14 CPU seconds exhausted", "could not compare the claim with the chain: x",
                   "the claim is not shown to be defined: log(q(z)) > 0", "not every step holds",
                   "the chain shows a = b"):
        assert not chain_misses_claim(reason)


@pytest.mark.parametrize("step, error", [(0, ValueError), (5, ValueError), (True, TypeError), ("2", TypeError)])
def test_assert_refuted_refuses_a_step_the_file_does_not_have(step, error) -> None:
    with pytest.raises(error, match="step"):
        assert_refuted(GAP_PATH, step=step)


# ---------------------------------------------------------------------------- what the plugin collects


def test_looks_like_a_derivation(tmp_path: Path) -> None:
    from elbo_sym.authoring.pytest_plugin import _looks_like_derivation

    cases = {
        "gap.toml": (GAP, True, True),
        "settings.toml": ('name = "x"\n', False, False),
        "unclosed.toml": (GAP.replace('"KL(q(z), p(z | x))"', '"KL(q(z), p(z | x))'), True, True),
        "garbage.toml": ("this is [ not toml\n", False, True),     # collected only when named
        "steps-only.toml": ('[[step]]\nrel = "="\n', True, True),
    }
    for name, (text, in_folder, named) in cases.items():
        path = write(tmp_path, name, text)
        assert _looks_like_derivation(path, explicit=False) is in_folder, name
        assert _looks_like_derivation(path, explicit=True) is named, name
    os.mkfifo(tmp_path / "fifo.toml")
    assert _looks_like_derivation(tmp_path / "fifo.toml", explicit=False) is False   # never blocks

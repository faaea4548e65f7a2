"""Worked examples (elbo_sym.lesson.examples): exact values against an independent mpmath
computation, the identities as properties, the engine cross-check, input validation, and
the `elbo-sym example` command."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from fractions import Fraction as F
from pathlib import Path

import mpmath
import pytest
import sympy
from child_processes import CHILD_TIMEOUT_SECONDS
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_sym.cli import main
from elbo_sym.engine.models.discrete import DiscreteModel
from elbo_sym.engine.notation import to_latex
from elbo_sym.engine.parse import parse_expression
from elbo_sym.lesson import examples
from elbo_sym.lesson.examples import (
    IDENTITY_KEYS,
    QUANTITY_KEYS,
    ConsistencyError,
    ExampleInputError,
    format_example,
    parse_probabilities,
    worked_example,
)
from elbo_sym.numbers.exact import LogNumber, from_sympy, log_of

ROOT = Path(__file__).resolve().parent.parent
mp = mpmath.mp


# ------------------------------------------------------------------ helpers


def mp_of(x: LogNumber) -> mpmath.mpf:
    """The LogNumber's representation evaluated directly with mpmath (current precision)."""
    value = mp.mpf(x.rational.numerator) / x.rational.denominator
    for p, c in x.logs:
        value += mp.mpf(c.numerator) / c.denominator * mp.log(p)
    return value


def mpq(r: F) -> mpmath.mpf:
    return mp.mpf(r.numerator) / r.denominator


def fixed6(v: mpmath.mpf) -> str:
    """v correctly rounded to 6 decimals (v is irrational or far from a tie here)."""
    n = int(mp.nint(v * 10**6))
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**6)
    return f"{sign}{whole}.{frac:06d}"


def plain_formulas(prior, likelihood, q) -> dict[str, object]:
    """The lesson's quantities from the textbook formulas, in mpmath floats (independent code)."""
    pi, lk, w = [mpq(v) for v in prior], [mpq(v) for v in likelihood], [mpq(v) for v in q]
    joint = [a * b for a, b in zip(pi, lk)]
    px = sum(joint)
    post = [j / px for j in joint]
    elbo = sum(wk * mp.log(jk / wk) for wk, jk in zip(w, joint))
    return {
        "evidence": px,
        "log_evidence": mp.log(px),
        "elbo": elbo,
        "reconstruction": sum(wk * mp.log(lv) for wk, lv in zip(w, lk)),
        "kl_prior": sum(wk * mp.log(wk / a) for wk, a in zip(w, pi)),
        "kl_posterior": sum(wk * mp.log(wk / b) for wk, b in zip(w, post)),
        "gap": mp.log(px) - elbo,
        "posterior": post,
        "joint": joint,
        "elbo_terms": [wk * mp.log(jk / wk) for wk, jk in zip(w, joint)],
    }


def random_distribution(rng: random.Random, K: int, max_den: int = 30) -> tuple[F, ...]:
    weights = [rng.randint(1, max_den) for _ in range(K)]
    total = sum(weights)
    return tuple(F(v, total) for v in weights)


def random_case(rng: random.Random, K: int):
    likelihood = tuple(F(rng.randint(1, d), d) for d in (rng.randint(1, 25) for _ in range(K)))
    return random_distribution(rng, K), likelihood, random_distribution(rng, K)


@st.composite
def cases(draw, max_k: int = 4):
    """A valid instance; with probability about 1/4 q is exactly the posterior."""
    K = draw(st.integers(2, max_k))
    weights = st.integers(1, 12)
    prior_w = [draw(weights) for _ in range(K)]
    prior = tuple(F(v, sum(prior_w)) for v in prior_w)
    likelihood = tuple(draw(st.integers(1, 10).flatmap(lambda d: st.integers(1, d).map(lambda n: F(n, d))))
                       for _ in range(K))
    if draw(st.integers(0, 3)) == 0:
        joint = [a * b for a, b in zip(prior, likelihood)]
        q = tuple(j / sum(joint) for j in joint)
    else:
        q_w = [draw(weights) for _ in range(K)]
        q = tuple(F(v, sum(q_w)) for v in q_w)
    return prior, likelihood, q


# ------------------------------------------------------------------ the lesson's example


def test_lesson_example_values():
    ex = worked_example(["3/4", "1/4"], ["1/5", "3/5"], ["1/3", "2/3"])
    assert ex.K == 2 and ex.engine_checked > 0
    assert ex.evidence.value == F(3, 10)
    assert ex.evidence.exact == sympy.Rational(3, 10)
    assert ex.posterior_values == (F(1, 2), F(1, 2))
    assert [j.value for j in ex.joint] == [F(3, 20), F(3, 20)]
    assert ex.log_evidence.value == log_of(F(3, 10))
    # the expectations in derivations/decomposition.toml
    assert ex.reconstruction.value == F(1, 3) * log_of(F(1, 5)) + F(2, 3) * log_of(F(3, 5))
    assert ex.kl_prior.value == F(1, 3) * log_of(F(4, 9)) + F(2, 3) * log_of(F(8, 3))
    assert ex.kl_posterior.value == F(5, 3) * log_of(2) - log_of(3)
    assert ex.gap.value == ex.kl_posterior.value
    assert sum((t.value for t in ex.elbo_terms), LogNumber.of(0)) == ex.elbo.value
    assert all(i.verdict == "proved" for i in ex.identities)
    assert [i.key for i in ex.identities] == list(IDENTITY_KEYS)
    assert not ex.tight
    assert ex.gap.nats == "0.056633" and ex.gap.bits == "0.081704"
    assert ex.evidence.bits is None and ex.evidence.nats == "0.300000"


def test_tight_example_gap_is_exactly_zero():
    ex = worked_example("3/4,1/4", "1/5,3/5", "1/2,1/2")  # q is the posterior here
    assert ex.tight
    assert ex.gap.value.is_zero and ex.kl_posterior.value.is_zero
    assert ex.elbo.value == ex.log_evidence.value
    assert ex.identity("gap_nonnegative").detail.startswith("the gap is exactly 0")


def test_quantities_are_typed_for_templates():
    ex = worked_example("2/5,3/5", "1/4,1/2", "3/4,1/4")
    assert [q.key for q in ex.quantities] == list(QUANTITY_KEYS)
    for quantity in list(ex.quantities) + [c for r in ex.rows for c in r.cells]:
        assert isinstance(quantity.exact, sympy.Expr) and isinstance(quantity.working, sympy.Expr)
        assert from_sympy(quantity.exact) == quantity.value
        assert from_sympy(quantity.working) == quantity.value
        assert from_sympy(quantity.display) == quantity.value
        assert quantity.symbol == parse_expression(quantity.formula)
        assert quantity.latex and quantity.working_latex and quantity.symbol_latex
        assert sympy.sympify(quantity.exact_text) == quantity.exact  # SymPy string form
    assert ex.kl_posterior.symbol_latex == to_latex(parse_expression("KL(q(z), p(z | x))"))
    for identity in ex.identities:
        assert identity.latex.startswith(to_latex(identity.lhs))
    assert [r.z for r in ex.rows] == [0, 1]
    assert ex.rows[1].posterior.state == 1 and ex.elbo.state is None


def test_as_dict_shape():
    ex = worked_example("2/5,3/5", "1/4,1/2", "3/4,1/4")
    d = json.loads(json.dumps(ex.as_dict()))
    for key in ("log_evidence", "elbo", "reconstruction", "kl_prior", "kl_posterior", "gap", "evidence"):
        assert set(d[key]) >= {"exact", "value"}
        assert sympy.sympify(d[key]["exact"]) == ex.quantity(key).exact
        assert d[key]["value"] == float(ex.quantity(key).value)
    assert [p["exact"] for p in d["posterior"]] == ["1/4", "3/4"]
    assert len(d["elbo_terms"]) == 2 and "bits" in d["elbo_terms"][0] and "bits" not in d["posterior"][0]
    assert d["identities"] == {"gap_is_kl": "proved", "decomposition": "proved", "gap_nonnegative": "proved"}
    assert d["prior"] == ["2/5", "3/5"] and d["K"] == 2 and d["tight"] is False


# ------------------------------------------------------------------ independent computation


@pytest.mark.full
@pytest.mark.parametrize("K", [2, 3, 5])
def test_against_mpmath_50_digits(K):
    rng = random.Random(1000 + K)
    with mp.workdps(60):
        for _ in range(60 if K == 2 else 25):
            prior, likelihood, q = random_case(rng, K)
            ex = worked_example(prior, likelihood, q, cross_check=False)
            ref = plain_formulas(prior, likelihood, q)
            for key in QUANTITY_KEYS:
                assert abs(mp_of(ex.quantity(key).value) - ref[key]) < mpmath.mpf(10) ** -50, key
            for name in ("posterior", "joint", "elbo_terms"):
                for quantity, value in zip(getattr(ex, name), ref[name]):
                    assert abs(mp_of(quantity.value) - value) < mpmath.mpf(10) ** -50, name
            # certified decimals and floats agree with the 60-digit reference
            assert ex.gap.number == float(ref["gap"])
            assert ex.elbo.nats == fixed6(ref["elbo"])
            assert ex.kl_prior.bits == fixed6(ref["kl_prior"] / mp.log(2))
            assert ex.evidence.nats == fixed6(ref["evidence"])


def test_engine_cross_check_on_random_cases():
    rng = random.Random(7)
    for K in (2, 2, 2, 3, 4):
        prior, likelihood, q = random_case(rng, K)
        ex = worked_example(prior, likelihood, q, cross_check=False)
        assert ex.engine_check() == len(QUANTITY_KEYS) + 6 * K
        # and the engine's ELBO equals unfolding the lesson's own notation at the instance
        model = DiscreteModel(K)
        values = model.instance(prior, likelihood, q)
        assert from_sympy(model.unfold(parse_expression("ELBO(q)")).xreplace(values)) == ex.elbo.value
        assert from_sympy(model.unfold(parse_expression("log(p(x)) - ELBO(q)")).xreplace(values)) == ex.gap.value


def test_engine_cross_check_catches_a_wrong_value():
    ex = worked_example("2/5,3/5", "1/4,1/2", "3/4,1/4")
    wrong = dataclasses.replace(ex.kl_prior, value=ex.kl_prior.value + F(1, 1000))
    tampered = dataclasses.replace(ex, kl_prior=wrong)
    with pytest.raises(ConsistencyError, match=r"KL\(q\(z\), p\(z\)\)"):
        tampered.engine_check()


def test_identities_are_refuted_when_the_numbers_disagree():
    ex = worked_example("2/5,3/5", "1/4,1/2", "3/4,1/4")
    ids = examples._identities(ex.log_evidence.value, ex.elbo.value, ex.reconstruction.value,
                               ex.kl_prior.value + F(1, 10), ex.kl_posterior.value + log_of(2), ex.gap.value, False)
    assert [i.verdict for i in ids] == ["refuted", "refuted", "proved"]
    negative = examples._identities(ex.log_evidence.value, ex.elbo.value, ex.reconstruction.value,
                                    ex.kl_prior.value, ex.kl_posterior.value, -ex.gap.value, False)
    assert negative[2].verdict == "refuted"
    zero_not_tight = examples._identities(ex.log_evidence.value, ex.elbo.value, ex.reconstruction.value,
                                          ex.kl_prior.value, ex.kl_posterior.value, LogNumber.of(0), False)
    assert zero_not_tight[2].verdict == "refuted"


def test_gap_identity_holds_fast_path():
    rng = random.Random(3)
    for _ in range(200):
        prior, likelihood, q = random_case(rng, 2)
        assert examples.gap_identity_holds(prior, likelihood, q)


# ------------------------------------------------------------------ properties


@pytest.mark.full
@settings(max_examples=40, deadline=None)
@given(cases())
def test_identities_hold_exactly(case):
    prior, likelihood, q = case
    ex = worked_example(prior, likelihood, q, cross_check=False)
    assert ex.all_proved
    assert ex.log_evidence.value - ex.elbo.value == ex.kl_posterior.value
    assert ex.elbo.value == ex.reconstruction.value - ex.kl_prior.value


@pytest.mark.full
@settings(max_examples=40, deadline=None)
@given(cases())
def test_gap_nonnegative_and_zero_exactly_at_the_posterior(case):
    prior, likelihood, q = case
    ex = worked_example(prior, likelihood, q, cross_check=False)
    posterior = ex.posterior_values
    assert ex.gap.value.sign() >= 0
    assert ex.gap.value.is_zero == (tuple(q) == posterior) == ex.tight
    assert ex.kl_prior.value.sign() >= 0
    if ex.tight:
        assert ex.elbo.value == ex.log_evidence.value
    else:
        assert ex.gap.value > 0


@pytest.mark.full
@settings(max_examples=15, deadline=None)
@given(cases(max_k=3))
def test_engine_agrees_property(case):
    assert worked_example(*case).engine_checked > 0


# ------------------------------------------------------------------ input validation


@pytest.mark.parametrize("prior, likelihood, q, message", [
    ("3/4,1/3", "1/5,3/5", "1/2,1/2", "prior sums to 13/12, not 1"),
    ("3/4,1/4", "1/5,3/5,1", "1/2,1/2", "likelihood has 3 values"),
    ("3/4,1/4", "1/5,3/5", "1/3,1/3,1/3", "q has 3 values"),
    ("1,0", "1/5,3/5", "1/2,1/2", "probability of 0"),
    ("3/4,1/4", "0,3/5", "1/2,1/2", "probability of 0"),
    ("abc,1/4", "1/5,3/5", "1/2,1/2", "not a number"),
    ("3/4,1/4", "6/5,3/5", "1/2,1/2", "above 1"),
    ("3/4,1/4", "1/5,3/5", "1/2,1/0", "divides by zero"),
    ("-1/2,3/2", "1/5,3/5", "1/2,1/2", "negative"),
    ("1", "1/2", "1", "at least 2 states"),
    ("1e3,1/2", "1/5,3/5", "1/2,1/2", "not a number"),
    ("3/4,,1/4", "1/5,3/5", "1/2,1/2", "empty value"),
    ("99999999999/100000000000,1/100000000000", "1/5,3/5", "1/2,1/2", "too large"),
    ("1/2," + "9" * 60, "1/5,3/5", "1/2,1/2", "too long"),
    (",".join(["1/21"] * 21), "1/5,3/5", "1/2,1/2", "at most 20"),
])
def test_bad_input(prior, likelihood, q, message):
    with pytest.raises(ExampleInputError, match=message.replace("(", r"\(")) as info:
        worked_example(prior, likelihood, q)
    assert "\n" not in str(info.value)


def test_floats_are_refused_and_decimals_are_exact():
    with pytest.raises(ExampleInputError, match="not exact"):
        worked_example([0.25, 0.75], ["1/5", "3/5"], ["1/2", "1/2"])
    assert parse_probabilities("0.25, 0.75", "prior") == (F(1, 4), F(3, 4))
    assert worked_example("0.25,0.75", "0.2,0.6", "0.5,0.5").prior == (F(1, 4), F(3, 4))


def test_too_large_intermediates_are_input_errors():
    primes = [999983, 999979, 999961, 999959, 999953, 999931, 999917, 999907, 999883, 999863,
              999853, 999809, 999773, 999769, 999763, 999749, 999727, 999721, 999683, 999671]
    uniform = ",".join(["1/20"] * 20)
    with pytest.raises(ExampleInputError, match="too large for exact arithmetic") as info:
        worked_example(uniform, ",".join(f"1/{p}" for p in primes), uniform)
    assert len(str(info.value)) < 200


def test_format_example_is_readable():
    text = format_example(worked_example("3/4,1/4", "1/5,3/5", "1/3,2/3"))
    for needle in ("Worked example (K = 2)", "KL(q(z), p(z | x))", "5*log(2)/3 - log(3)", "0.056633",
                   "0.081704", "✓ proved", "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))", "engine: all"):
        assert needle in text


# ------------------------------------------------------------------ CLI


def test_cli_example_text(capsys):
    assert main(["example", "--prior", "3/4,1/4", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"]) == 0
    out = capsys.readouterr().out
    assert "the gap is exactly 0 and q(z) = p(z | x)" in out
    assert "-log(2) + log(3) - log(5)" in out and "-1.203973" in out and "-1.736966" in out


def test_cli_example_json(capsys):
    assert main(["example", "--prior", "3/4,1/4", "--likelihood", "1/5,3/5", "--q", "1/3,2/3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("log_evidence", "elbo", "reconstruction", "kl_prior", "kl_posterior", "gap"):
        assert set(d[key]) >= {"exact", "value"} and isinstance(d[key]["value"], float)
    assert isinstance(d["posterior"], list) and d["posterior"][0] == {"exact": "1/2", "value": 0.5}
    assert d["gap"]["exact"] == "5*log(2)/3 - log(3)"
    assert set(d["identities"].values()) == {"proved"}


@pytest.mark.parametrize("args", [
    ["--prior", "3/4,1/3", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"],
    ["--prior", "3/4,1/4", "--likelihood", "1/5,3/5", "--q", "1/2,1/2,0"],
    ["--prior", "3/4,x", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"],
    ["--prior", "3/4,1/4", "--likelihood", "7/5,3/5", "--q", "1/2,1/2"],
    ["--prior", "3/4,1/4", "--likelihood", "1/5", "--q", "1/2,1/2"],
    ["--prior=-1/4,5/4", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"],
    ["--prior", "1/" + "7" * 30 + ",1/2", "--likelihood", "1/5,3/5", "--q", "1/2,1/2"],
])
def test_cli_example_bad_input_exit_2(args, capsys):
    assert main(["example"] + args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("elbo-sym: error: ")


@pytest.mark.full
def test_cli_example_subprocess_exit_codes():
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "elbo_sym", "example", "--prior", "3/4,1/4", "--likelihood",
                         "1/5,3/5", "--q", "1/3,2/3", "--json"], capture_output=True, text=True, cwd=ROOT, env=env,
                        timeout=CHILD_TIMEOUT_SECONDS)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["identities"]["gap_is_kl"] == "proved"
    bad = subprocess.run([sys.executable, "-m", "elbo_sym", "example", "--prior", "1,0", "--likelihood",
                          "1/5,3/5", "--q", "1/2,1/2"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=CHILD_TIMEOUT_SECONDS)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ ASCII digits only

NON_ASCII_DIGITS = ["١/٢", "۱/۲", "१/२", "１/２", "1/２", "٠.٥"]  # Arabic-Indic, Persian, Devanagari, full-width
"""Python's Fraction (and float) read every Unicode decimal digit: "١/٢" is 1/2 to them."""


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
def test_fractions_from_text_take_ascii_digits_only(digits, capsys, tmp_path):
    with pytest.raises(ExampleInputError, match="not a number like 3/4"):
        parse_probabilities(f"{digits},1/2", "prior")
    assert main(["example", "--prior", f"{digits},{digits}", "--likelihood", "1/5,3/5", "--q", "1/3,2/3"]) == 2
    assert "prior:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not an exact rational"):
        LogNumber.of(digits)
    from elbo_sym.engine.derivation import DerivationError, loads

    gap = (Path(__file__).resolve().parent.parent / "derivations" / "gap.toml").read_text("utf-8")
    assert 'prior = ["3/4", "1/4"]' in gap
    with pytest.raises(DerivationError, match="is not a number like 3/4 or 0.25"):
        loads(gap.replace('prior = ["3/4", "1/4"]', f'prior = ["{digits}", "1/2"]'), "digits.toml")


def test_budgets_take_ascii_digits_only(capsys):
    from elbo_sym.limits import BudgetError, validate_budget

    with pytest.raises(BudgetError, match="ASCII digits"):
        validate_budget("١٠")
    assert validate_budget("10") == 10.0


def test_toml_examples_take_decimals_like_the_example_command(capsys):
    """`elbo-sym example --prior 0.75,0.25` worked while a file's prior = ["0.75", "0.25"]
    was refused: one syntax for exact numbers everywhere."""
    from fractions import Fraction

    from elbo_sym.engine.derivation import DerivationError, loads
    from elbo_sym.report.build import check_file

    gap = (Path(__file__).resolve().parent.parent / "derivations" / "gap.toml").read_text("utf-8")
    decimal = gap.replace('prior = ["3/4", "1/4"]', 'prior = ["0.75", ".25"]')
    d = loads(decimal, "decimal.toml")
    assert d.examples[0].prior == (Fraction(3, 4), Fraction(1, 4))
    assert check_file(d).ok
    assert main(["example", "--prior", "0.75,.25", "--likelihood", "1/5,3/5", "--q", "1/3,2/3"]) == 0
    capsys.readouterr()
    with pytest.raises(DerivationError, match='not the TOML number 0.75'):
        loads(gap.replace('prior = ["3/4", "1/4"]', 'prior = [0.75, 0.25]'), "float.toml")
    with pytest.raises(DerivationError, match="is not a number like 3/4 or 0.25"):
        loads(gap.replace('prior = ["3/4", "1/4"]', 'prior = ["0.75.1", "1/4"]'), "bad.toml")

"""The second opinion's exact numbers (elbo_sym/engine/reference/rationals.py): one type chosen in one
place (GMP's mpq where gmpy2 imports, else Fraction; FLINT's fmpq by name), every number from outside
converted exactly, and the same outcomes with each type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import flint
import gmpy2
import pytest
import sympy
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.engine.reference import chain, discrete, gaussian, rationals
from elbo_sym.engine.reference.intervals import BackendUnavailable
from elbo_sym.engine.reference.rationals import Rational

REPO = Path(__file__).resolve().parent.parent


def test_mpq_is_chosen_where_gmpy2_imports_and_a_bad_name_is_an_input_error():
    """gmpy2 is a dependency of the package: mpq is the type here (Fraction only in Pyodide)."""
    assert rationals.chosen({}) is gmpy2.mpq is Rational
    assert rationals.chosen({rationals.RATIONALS_VARIABLE: "fraction"}) is Fraction
    assert rationals.chosen({rationals.RATIONALS_VARIABLE: "fmpq"}) is flint.fmpq
    with pytest.raises(BackendUnavailable, match="ELBO_SYM_RATIONALS='decimal'"):
        rationals.chosen({rationals.RATIONALS_VARIABLE: "decimal"})


@pytest.mark.parametrize("given, expected", [
    (3, Fraction(3)), (-7, Fraction(-7)), (Fraction(-3, 4), Fraction(-3, 4)), (sympy.Rational(5, 12), Fraction(5, 12)),
    ("0.75", Fraction(3, 4)), ("1e-3", Fraction(1, 1000)), ("3/4", Fraction(3, 4)), ("-2", Fraction(-2)),
    (10**40 + 1, Fraction(10**40 + 1))])
def test_a_number_from_outside_becomes_the_chosen_type_exactly(given, expected):
    value = rationals.rational(given)
    assert type(value) is Rational
    assert rationals.parts(value) == (expected.numerator, expected.denominator)
    assert all(type(part) is int for part in rationals.parts(value))  # what mpmath's constructors take


def test_instances_built_from_fractions_are_the_instances_built_from_the_chosen_type():
    """A caller's (a test's) Fractions are converted by the instances' constructors: the instance, its
    derived tables and its judgements are those of the same numbers in the chosen type."""
    f = [Fraction(3, 4), Fraction(1, 4)], [Fraction(1, 5), Fraction(3, 5)], [Fraction(1, 3), Fraction(2, 3)]
    from_fractions = discrete.Instance("t", *map(tuple, f), params=(("beta", Fraction(1, 2)),))
    own = discrete.Instance("t", *(tuple(Rational(v.numerator, v.denominator) for v in row) for row in f),
                            params=(("beta", Rational(1, 2)),))
    assert from_fractions == own
    assert all(type(v) is Rational for v in (*from_fractions.prior, *from_fractions.q, from_fractions.params[0][1]))
    assert from_fractions.posterior() == own.posterior()
    g = gaussian.GaussianInstance("g", (("mu", Fraction(1, 3)), ("sigma", Fraction(2))))
    assert type(g.value("mu")) is Rational and g.value("mu") == Rational(1, 3)
    c = chain.ChainInstance("c", (Fraction(1, 2),) * 2, ((Fraction(1, 2),) * 2,) * 2, (Fraction(1, 3),) * 2,
                            (Fraction(1, 2),) * 2, ((Fraction(1, 2),) * 2,) * 2)
    assert all(type(v) is Rational for row in c.transition for v in row)


def test_a_callers_fraction_is_compared_exactly_never_as_an_interval():
    third = Rational(1, 3)
    assert discrete.relation_holds("=", third, Fraction(1, 3))[0]
    assert not discrete.relation_holds("=", third, Fraction(1, 3) + Fraction(1, 10**60))[0]
    assert discrete.relation_holds("<", third, 1)[0]
    assert discrete.sign_of_difference(Fraction(1, 2), third) == 1


def _record(environ: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "--json",
                          "derivations/decomposition.toml", "derivations/literature/iwae-draws-as-sums.toml"],
                         cwd=REPO, env={**os.environ, **environ}, capture_output=True, text=True, check=False,
                         timeout=CHILD_TIMEOUT_SECONDS)
    return {"status": out.returncode, "report": _without_timings(json.loads(out.stdout))}


def _without_timings(value):
    """The report without its timings (keys naming seconds or time: they differ from run to run)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k and "time" not in k}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.full
def test_the_same_outcomes_with_each_type():
    """Two files (the lesson's decomposition; IWAE's exact draws, the heaviest user of exact sums and
    products) give the same report, second opinions included, with mpq, Fraction and fmpq."""
    with_mpq = _record({rationals.RATIONALS_VARIABLE: "mpq"})
    assert with_mpq["status"] == 0
    assert _record({rationals.RATIONALS_VARIABLE: "fraction"}) == with_mpq
    assert _record({rationals.RATIONALS_VARIABLE: "fmpq"}) == with_mpq

"""Definedness for the Gaussian D = "any" is decided over the number of dimensions D (red team rt24 F3):
a log argument that is exactly 0 at some D <= 64 with parameter values the exact plan finds is refuted
there, one that is 0 only beyond the search is an error naming that D, and a refusal names D, not the
K of a latent space."""

from __future__ import annotations

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads


def identity(argument: str) -> str:
    return (f'title = "t"\nmodel = "gaussian"\nD = "any"\nstart = "log({argument})"\n\n'
            f'[[step]]\nrel = "="\nexpr = "log({argument})"\nrule = "algebra"\n')


def test_a_log_argument_zero_at_d_9_with_every_w_0_is_refuted_there():
    (step,) = check_derivation(loads(identity("(D - 9)**2 + Sum(w_d**2, (d, 1, D))"), "t.toml")).steps
    assert step.verdict is Verdict.refuted and step.counterexample is not None, step.reason
    shown = dict(step.counterexample.values)
    assert "mu9" in shown and "mu10" not in shown  # nine dimensions
    assert all(shown[f"w{j}"] == ("0",) for j in range(1, 10))


@pytest.mark.full
def test_a_log_argument_zero_only_beyond_the_search_is_an_error_naming_that_d():
    (step,) = check_derivation(loads(identity("(D - 70)**2"), "t.toml")).steps
    assert step.verdict is Verdict.error and "D = 70" in step.reason, step.reason


@pytest.mark.full
def test_a_refusal_names_d_not_k():
    (step,) = check_derivation(loads(identity("D**2 - 5*D + 7"), "t.toml")).steps
    assert step.verdict is Verdict.error, step.reason
    assert "every number of dimensions D" in step.reason and "K" not in step.reason, step.reason

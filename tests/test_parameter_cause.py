"""A step that cannot be unfolded names a parameter value where it divides by 0 (red team rt24 F5: a
Rényi bound with alpha = "in [0, 1]" was refused for an integral infinite for many densities, while the
real defect is 1/(1 - alpha) at alpha = 1)."""

from __future__ import annotations

import pytest

from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads

RENYI = "1 / (1 - alpha) * log(E(q, (p(x, z) / q(z))**(1 - alpha)))"


def renyi(domain: str) -> str:
    return (f'title = "t"\nK = "any"\nstart = "log(p(x))"\n\n[params]\nalpha = "{domain}"\n\n'
            f'[[step]]\nrel = ">="\nexpr = "{RENYI}"\nrule = "renyi-bound"\n')


@pytest.mark.parametrize("domain", ["in [0, 1]", "in (1/2, 3/2)", ">= 0"])
def test_a_domain_holding_alpha_1_names_the_division_by_0(domain):
    (step,) = check_derivation(loads(renyi(domain), "t.toml")).steps
    assert step.verdict is Verdict.error
    assert "1/(1 - alpha) divides by 0 at alpha = 1" in step.reason, step.reason


def test_without_alpha_1_the_bound_is_proved():
    """The cause named is the whole defect: leave alpha = 1 out and the step is proved."""
    (step,) = check_derivation(loads(renyi("in [0, 1)"), "t.toml")).steps
    assert step.verdict is Verdict.proved, step.reason

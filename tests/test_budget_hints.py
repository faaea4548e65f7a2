"""What a step's budget error and the K = "any" accept refusal tell a course author.

Red team rt56 F2: at K = 2000 the starter chain ran out of its step budget with no hint; the error now
names --budget and K = "any" (from limits.LARGE_K).  Red team rt55 F3 (jm2a): the K = "any" refusal named
red teams and "the density stage's prior N(0, 1)" to a data file, which has no density stage; it now says
what this file's search reaches."""

from __future__ import annotations

import re

from elbo_sym.engine.check import LARGE_K_HINT, UNSEARCHED_DENSITIES, Verdict, check_derivation, check_step
from elbo_sym.engine.derivation import loads
from elbo_sym.limits import LARGE_K

GAP = """title = "gap"
K = {K}
start = "log(p(x)) - ELBO(q)"
[[step]]
rel = "="
expr = "Sum(q(z) * log(p(x)), z) - Sum(q(z) * log(p(x, z) / q(z)), z)"
rule = "linearity"
"""


def _gap_step(K: int, budget: float):
    d = loads(GAP.format(K=K), "gap.toml")
    return check_step(d.start.expr, d.steps[0], d.model(), budget=budget)


def test_a_large_k_budget_error_names_budget_and_k_any_on_one_line():
    """At K = LARGE_K the step needs about 2 s; given 0.05 s it runs out, and says what helps."""
    step = _gap_step(LARGE_K, 0.05)
    assert step.verdict is Verdict.error and "step budget of 0.05 CPU seconds exhausted" in step.reason
    assert LARGE_K_HINT.format(K=LARGE_K) in step.reason and "\n" not in step.reason
    assert "--budget" in step.reason and 'K = "any"' in step.reason


def test_a_small_k_is_not_given_the_large_k_hint():
    """Below LARGE_K the same step is proved at the default budget: a budget error there has another cause."""
    step = _gap_step(LARGE_K - 1, 0.001)
    assert step.verdict is Verdict.error and "budget" in step.reason
    assert "--budget" not in step.reason


def test_the_k_any_hint_is_what_the_hint_promises():
    """The hint's K = "any" proves the same step for every K (and quickly: a rule's proof, no search)."""
    result = check_derivation(loads(GAP.format(K='"any"'), "gap.toml"))
    assert result.steps[0].verdict is Verdict.proved


DATA_ACCEPT = """title = "jm2"
K = "any"
data = ["x1", "x2"]
start = "p(z | x1) * p(x1) + (1 - p(z | x1)) * p(x2)"
[[step]]
rel = ">="
expr = "p(x1) * p(x2) / (p(x1) + p(x2))"
rule = "algebra"
accept = "checked"
"""

DENSITY_ACCEPT = """title = "h"
K = "any"
start = "H(p(z))"
[[step]]
rel = ">="
expr = "-100"
rule = "algebra"
accept = "checked"
"""


def _refusal(text: str, budget: float = 0.2) -> str:
    step = check_derivation(loads(text, "f.toml"), budget=budget).steps[0]
    assert step.verdict is Verdict.error and UNSEARCHED_DENSITIES in step.reason
    return step.reason


def test_the_refusal_speaks_to_a_course_author_and_names_what_this_family_reaches():
    data, densities = _refusal(DATA_ACCEPT), _refusal(DENSITY_ACCEPT)
    for reason in (data, densities):
        assert not re.search(r"\brt\d+", reason) and "red team" not in reason and "density stage" not in reason
        assert "this file's search reaches K = 2, 3, 5, 8, 13, 34, 89, 233" in reason
    assert "and no density)" in data and "N(0, 1)" not in data  # several observations: no density is searched
    assert "Gaussian densities whose prior is N(0, 1)" in densities

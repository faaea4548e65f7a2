"""`explain`'s legend names the symbols its unfolded sides use (red team rt26: a two-observation
file unfolded into q_x1_z, l_x1_z, p_x1, ... while the legend said q_z = q(z), p_x = p(x))."""

from __future__ import annotations

import re

import pytest

from elbo_sym.authoring.explain import explain, format_explanation
from elbo_sym.engine.derivation import loads

FILE = '''title = "Two observations: the summed ELBOs"
K = {K}
data = ["x1", "x2"]
start = "log(p(x1)) + log(p(x2)) - ELBO(q(z | x1), x1) - ELBO(q(z | x2), x2)"

[[step]]
rel = "="
expr = "KL(q(z | x1), p(z | x1)) + KL(q(z | x2), p(z | x2))"
rule = "bayes"
'''


@pytest.mark.parametrize("K, point", [('"any"', "z"), ("2", "k")])
def test_the_legend_names_every_unfolded_symbol(K, point):
    text = format_explanation(explain(loads(FILE.format(K=K), "two.toml"), 1))
    legend = next(line for line in text.splitlines() if line.startswith("unfolded "))
    sides = [line for line in text.splitlines() if line.lstrip().startswith(("left  =", "right ="))]
    used = {re.sub(r"_[0-9]+$", f"_{point}", name)  # a state's symbol (q_x1_0) by its family (q_x1_k)
            for line in sides for name in re.findall(r"\b(?:pi|[lqp])_[A-Za-z0-9_]+", line)}
    assert {f"q_x1_{point}", f"l_x2_{point}"} <= used
    for name in used:
        assert f"{name} = " in legend, (name, legend)
    assert f"q_{point} = " not in legend  # no symbol of a one-observation file

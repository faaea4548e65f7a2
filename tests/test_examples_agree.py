"""A proved step is decided again on the file's own examples (engine.check._examples_agree).

It takes the examples' instances directly: it used to build the whole candidate list of the
counterexample search (special instances and random fractions) and keep only its first entries,
which are the examples' instances. These tests pin that equivalence and that the check still
finds an example where a relation fails, with the example's own values in the counterexample.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from elbo_sym.engine.check import _examples_agree, _examples_for, _explicit
from elbo_sym.engine.derivation import load
from elbo_sym.engine.search import exact_candidates

ROOT = Path(__file__).resolve().parent.parent
FILES = ("decomposition.toml", "gap.toml", "jensen.toml", "literature/alemi-h-minus-d.toml",
         "literature/beta-vae.toml")


def test_the_examples_instances_are_the_first_exact_candidates():
    for name in FILES:
        derivation = load(ROOT / "derivations" / name)
        model = derivation.model()
        for K in dict.fromkeys(e.K for e in derivation.examples):
            explicit = _explicit(model, K)
            mine = _examples_for(explicit, derivation.examples)
            assert mine, name
            assert exact_candidates(explicit, mine, 0)[: len(mine)] == [e.instance for e in mine], name


def test_a_relation_that_fails_at_an_example_is_caught_there():
    derivation = load(ROOT / "derivations" / "decomposition.toml")
    model = derivation.model()
    (example,) = derivation.examples
    lhs, rhs = derivation.start.expr, derivation.steps[0].expr  # both sides of the first step: equal
    assert _examples_agree(lhs, "=", rhs, model, derivation.examples) is None
    found = _examples_agree(lhs, "<", rhs, model, derivation.examples)  # a strict inequality fails there
    assert found is not None
    shown = dict(found.values)
    assert tuple(Fraction(v) for v in shown[next(label for label in shown if "q" in label)]) == \
        tuple(Fraction(v) for v in example.instance["q"])

"""Three common slips that had no repair (red team rt32): a term dropped inside a bracket, an
expectation left out, an average written as a sum.

Each slip is made in a shipped derivation (or the teaching template of test_repair), and the
repair search must suggest the correction -- a suggestion the engine proved, so each test also
checks the suggested step again on its own.  Where no correction of the kind holds, none is offered.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from test_repair import RIGHT_4, teaching

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_step
from elbo_sym.engine.derivation import Formula, loads
from elbo_sym.engine.parse import parse_expression
from elbo_sym.engine.repair import (
    MAX_NESTED_ADDITIONS,
    candidates,
    check_with_suggestions,
    missing_averages,
    missing_expectations,
    nested_term_additions,
    plain,
)

REPO = Path(__file__).resolve().parent.parent


def slipped(path: str, right: str, wrong: str) -> str:
    """The shipped derivation at `path` with the expression `right` written as `wrong`."""
    text = (REPO / path).read_text("utf-8")
    assert text.count(f'expr = "{right}"') == 1, path
    return text.replace(f'expr = "{right}"', f'expr = "{wrong}"')


def refuted_steps(text: str, name: str = "slip.toml"):
    derivation = loads(text, name)
    result = check_with_suggestions(derivation)
    refuted = [r for r in result.steps if r.verdict is Verdict.refuted]
    for r in refuted:  # a suggestion is never unchecked: the step as suggested is proved on its own
        g = r.suggestion
        if g is not None and "expr" in g.changes:
            step = replace(r.step, rel=g.rel, rule=g.rule,
                           formula=Formula(parse_expression(g.expr, derivation.vocabulary), g.expr, r.step.line))
            assert check_step(g.lhs if g.lhs is not None else r.lhs, step, derivation.model(),
                              derivation.examples).verdict is Verdict.proved, g.describe()
    return refuted


# ---------------------------------------------------------------------------- a dropped term


def test_a_constant_dropped_inside_a_closed_form_is_put_back():
    """The Gaussian KL's closed form without its ``- 1``: the claim has it inside its bracket."""
    right, wrong = "(mu**2 + sigma**2 - 1 - log(sigma**2)) / 2", "(mu**2 + sigma**2 - log(sigma**2)) / 2"
    (step,) = refuted_steps(slipped("derivations/variants/gaussian-kl.toml", right, wrong))
    g = step.suggestion
    assert g is not None and g.rel == "=" and g.changes == ("expr",)
    assert g.expr == "(mu**2 + sigma**2 - log(sigma**2) - 1) / 2"
    assert g.description.startswith("add the missing term -1 inside")


def test_nested_additions_are_capped_and_never_add_a_term_the_expression_has():
    edits = nested_term_additions("(a + b) / 2", ("(a + b + c) / 2", "(a + d + e + f + g + h + i + j + k + l + m) / 3"))
    texts = [text for _, text in edits]
    assert "(a + b + c) / 2" in texts and "(a + b - c) / 2" in texts
    assert not any(plain(w).startswith("add the missing term a ") for w, _ in edits)
    assert len(edits) == MAX_NESTED_ADDITIONS  # 11 new terms, 2 signs: more than the cap
    assert nested_term_additions("a + b", ("a + b + c",)) == []  # no bracket: term_additions' case


# ---------------------------------------------------------------------------- a missing E


def test_a_missing_expectation_is_taken():
    """``log(p(x | z))`` where ``E(q, log(p(x | z)))`` is meant (a teaching file: it passes only
    when its solution is found and checked)."""
    (step,) = refuted_steps(teaching(step4="log(p(x | z)) - KL(q(z), p(z))"))
    g = step.suggestion
    assert g is not None and (g.rel, g.expr, g.changes) == ("=", RIGHT_4, ("expr",))
    assert g.description == "write the expectation E(q, log(p(x | z))) instead of log(p(x | z))"


def test_a_teaching_file_with_a_missing_expectation_passes(tmp_path, capsys):
    path = tmp_path / "missing-e.toml"
    path.write_text(teaching(step4="log(p(x | z)) - KL(q(z), p(z))"), "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 0
    assert "write the expectation" in capsys.readouterr().out


def test_an_expectation_of_the_whole_expression():
    """The Gaussian KL's definition written without its E: the whole difference of logs is random."""
    steps = refuted_steps(slipped("derivations/variants/gaussian-kl.toml", "E(q, log(q(z)) - log(p(z)))",
                                  "log(q(z)) - log(p(z))"))
    g = steps[0].suggestion
    assert g is not None and g.expr == "E(q, log(q(z)) - log(p(z)))"
    assert g.description == "take the expectation of the whole expression: E(q, log(q(z)) - log(p(z)))"
    assert all("once step 1 is repaired" in s.suggestion.description for s in steps[1:])


def test_expectations_wrap_only_terms_with_a_free_latent_over_the_contexts_distribution():
    edits = {text for _, text in missing_expectations("log(p(x | z)) - KL(q(z), p(z)) + log(p(x))",
                                                      ("E(q(z | x1), log(p(x1 | z)))",))}
    assert edits == {"E(q(z | x1), log(p(x | z))) - KL(q(z), p(z)) + log(p(x))"}
    assert missing_expectations("Sum(q(z) * log(p(x | z)), z) + log(p(x))") == []  # z is bound: nothing random
    assert {t for _, t in missing_expectations("log(p(x | z))")} == {"E(q, log(p(x | z)))"}


# ---------------------------------------------------------------------------- a missing 1/k


def test_a_datasets_sum_is_made_its_average():
    (step,) = refuted_steps(slipped("derivations/literature/dataset-average.toml",
                                    "(ELBO(q(z | x1), x1) + ELBO(q(z | x2), x2)) / 2",
                                    "ELBO(q(z | x1), x1) + ELBO(q(z | x2), x2)"))
    g = step.suggestion
    assert g is not None and g.expr == "(ELBO(q(z | x1), x1) + ELBO(q(z | x2), x2)) / 2"
    assert g.description == "an average, not a sum: divide ELBO(q(z | x1), x1) + ELBO(q(z | x2), x2) by 2"


def test_iwaes_importance_weights_are_averaged_inside_the_log():
    right = "Sum(Sum(q(z) * q(w) * log((p(x, z) / q(z) + p(x, w) / q(w)) / 2), z), w)"
    wrong = "Sum(Sum(q(z) * q(w) * log(p(x, z) / q(z) + p(x, w) / q(w)), z), w)"
    text = (REPO / "derivations/literature/iwae-draws-as-sums.toml").read_text("utf-8")
    text = text.replace(f'expr = "{right}"\nrule', f'expr = "{wrong}"\nrule')  # the last step, not the claim
    (step,) = refuted_steps(text)
    g = step.suggestion
    assert g is not None and g.expr == right and g.description.startswith("an average, not a sum: divide")


@pytest.mark.parametrize("text, expected", [
    ("log(p(x1)) + log(p(x2))", "(log(p(x1)) + log(p(x2))) / 2"),
    ("q(z) * (a + b + c)", "q(z) * ((a + b + c) / 3)"),
    ("Sum(f(d), (d, 1, D))", "Sum(f(d), (d, 1, D)) / D"),
    ("x ** Sum(f(d), (d, 2, D))", "x ** (Sum(f(d), (d, 2, D)) / (D - 2 + 1))"),
])
def test_an_average_divides_a_sum_of_alike_terms_by_their_number(text, expected):
    assert [t for _, t in missing_averages(text)] == [expected]


@pytest.mark.parametrize("text", [
    "E(q, log(p(x | z))) - KL(q(z), p(z))",  # unlike terms: no average
    "log(p(x1)) - log(p(x2))",  # a difference
    "(log(p(x1)) + log(p(x2))) / 2",  # divided already
    "log(p(x1)) + log(p(x2)) + KL(q(z), p(z))",  # its first two terms alone are not the sum
])
def test_no_average_where_the_sum_is_not_one(text):
    assert missing_averages(text) == []


def test_the_new_slips_rank_before_weakening_an_equality():
    step = loads(teaching(step4="log(p(x | z)) - KL(q(z), p(z))"), "rank.toml").steps[3]
    ranked = candidates(step)
    wrapped = [i for i, c in enumerate(ranked) if c.text == RIGHT_4]
    weakened = [i for i, c in enumerate(ranked) if c.rel != "="]
    assert wrapped and weakened and wrapped[0] < weakened[0]

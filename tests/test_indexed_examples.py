"""[[example]] tables for a parameterised model p(x | z; theta) (issue 17, item 2): one prior and
one likelihood list per parameter, checked exactly like any example (the premises included),
and printed in the model's notation, p(z | theta_old) and p(x | z; theta_old)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine.check import check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.notation import to_text
from elbo_sym.report.build import block_symbol, report_of

EM = Path(__file__).resolve().parent.parent / "derivations" / "literature" / "em-m-step.toml"
OLD = 'prior = { theta_old = ["1/2", "1/2"], theta_new = ["1/4", "3/4"] }'
LIKELIHOOD = 'likelihood = { theta_old = ["1/5", "3/5"], theta_new = ["1/5", "4/5"] }'


def em_text() -> str:
    text = EM.read_text("utf-8")
    assert OLD in text and LIKELIHOOD in text
    return text


def test_the_em_m_step_example_holds_exactly():
    derivation = load(EM)
    assert derivation.indices == ("theta_old", "theta_new") or set(derivation.indices) == {"theta_old", "theta_new"}
    result = check_derivation(derivation)
    assert result.fully_proved and result.ok
    [example] = result.examples
    assert example.holds and not example.failures


def test_the_expected_values_are_recomputed_independently():
    """q is the posterior at theta_old; p(x | theta) = sum_z p(z | theta) p(x | z; theta)."""
    prior = {"old": [Fraction(1, 2), Fraction(1, 2)], "new": [Fraction(1, 4), Fraction(3, 4)]}
    likelihood = {"old": [Fraction(1, 5), Fraction(3, 5)], "new": [Fraction(1, 5), Fraction(4, 5)]}
    evidence = {t: sum(a * b for a, b in zip(prior[t], likelihood[t])) for t in prior}
    assert evidence == {"old": Fraction(2, 5), "new": Fraction(13, 20)}
    text = em_text()
    assert '"log(p(x | theta_new))" = "log(13/20)"' in text and '"log(p(x | theta_old))" = "log(2/5)"' in text


def test_a_wrong_expected_value_fails_the_example():
    text = em_text().replace('"log(13/20)"', '"log(3/5)"')
    result = check_derivation(loads(text, "em.toml"))
    assert not result.ok and not result.examples[0].holds


def test_an_example_outside_the_m_step_premise_fails():
    """theta_new with a lower bound than theta_old: the premise ELBO(q, theta_new) >= ELBO(q, theta_old)
    fails there, so the example does not illustrate the file."""
    text = em_text().replace('theta_new = ["1/5", "4/5"]', 'theta_new = ["1/100", "1/100"]')
    text = text.replace('"log(13/20)"', '"log(1/100)"')
    result = check_derivation(loads(text, "em.toml"))
    assert not result.ok
    assert any("not shown to satisfy every premise" in f for f in result.examples[0].failures)


@pytest.mark.parametrize("old, new, message", [
    (OLD, 'prior = ["1/2", "1/2"]', "one list per parameter"),
    (OLD, 'prior = { theta_old = ["1/2", "1/2"] }', "one list per parameter"),
    (LIKELIHOOD, 'likelihood = ["1/5", "3/5"]', "one list per parameter"),
    (LIKELIHOOD + "\n", "", "missing 'likelihood'"),
    (OLD, 'prior = { theta_old = ["1/2", "1/3"], theta_new = ["1/4", "3/4"] }', "example 1"),
])
def test_bad_indexed_tables_are_input_errors_at_their_line(old, new, message):
    with pytest.raises(DerivationError, match=message) as info:
        loads(em_text().replace(old, new), "em.toml")
    assert info.value.line is not None and info.value.line > 1


def test_several_observations_give_a_table_per_observation_under_each_parameter():
    text = ('title = "t"\nK = "any"\ndata = ["x1", "x2"]\nstart = "log(p(x1 | theta)) + log(p(x2 | theta))"\n\n'
            '[params]\ntheta = "real"\n\n[[step]]\nrel = "="\nexpr = "log(p(x2 | theta)) + log(p(x1 | theta))"\n'
            'rule = "algebra"\n\n[[example]]\nprior = { theta = ["1/2", "1/2"] }\n'
            'likelihood = { theta = { x1 = ["1/5", "3/5"], x2 = ["1/2", "1/10"] } }\n'
            'q = { x1 = ["1/3", "2/3"], x2 = ["1/2", "1/2"] }\n\n[example.expect]\n'
            '"log(p(x1 | theta))" = "log(2/5)"\n"p(x2 | theta)" = "3/10"\n')
    result = check_derivation(loads(text, "two.toml"))
    assert result.ok and result.examples[0].holds
    wrong = check_derivation(loads(text.replace('"3/10"', '"1/3"'), "two.toml"))
    assert not wrong.ok


def test_the_report_names_the_tables_in_the_models_notation():
    report = report_of(check_derivation(load(EM)))
    texts = [row.symbol.text for row in report.examples[0].given]
    assert "p(z | theta_old)" in texts and "p(x | z; theta_new)" in texts
    assert not any("prior[" in t or "likelihood[" in t for t in texts)
    assert to_text(block_symbol("likelihood[x1; theta]", ("theta",))) == "p(x1 | z; theta)"
    assert to_text(block_symbol("likelihood[x1]")) == "p(x1 | z)"  # without indices: an observation


def test_the_report_counts_every_stated_value_even_without_a_value_row():
    """The text report counts the file's [example.expect] entries, not the value rows (which skip a
    quantity shown elsewhere, or one the model cannot evaluate pointwise, as with theta)."""
    from elbo_sym.report.text import closing_lines

    derivation = load(EM)
    report = report_of(check_derivation(derivation))
    stated = len(derivation.examples[0].expect)
    assert stated == 2
    assert f"example 1: its {stated} expected value(s) hold exactly" in "\n".join(closing_lines(report))


def test_a_stated_value_that_is_also_the_end_of_the_chain_is_counted():
    from elbo_sym.report.text import closing_lines

    starter = loads("""
title = "t"
summary = "s"
model = "discrete"
K = 2
start = "log(p(x)) - ELBO(q)"
[[step]]
rel = "="
expr = "KL(q(z), p(z | x))"
rule = "algebra"
[[example]]
prior = ["3/4", "1/4"]
likelihood = ["1/5", "3/5"]
q = ["1/3", "2/3"]
[example.expect]
"log(p(x))" = "log(3/10)"
"KL(q(z), p(z | x))" = "1/3 * log(2/3) + 2/3 * log(4/3)"
""", "starter.toml")
    report = report_of(check_derivation(starter))
    assert "example 1: its 2 expected value(s) hold exactly" in "\n".join(closing_lines(report))

"""Red team rt12: a teaching file's solution must hold.

F1: a teaching file whose claim is false (the beta-VAE objective below log p(x) for every beta
in [0, 1]) passed `check` and was printed as "find the mistake ... correct it". F2: the
generated suggestion ("reverse the inequality") was printed as the repair although the chain
with it (>= then <=) shows nothing. Now the solution is checked: with each deliberate mistake
corrected (the file's `repair`, else the generated suggestion) every step must be proved and
the chain must establish the claim, or the file fails and nothing is published. F3: a
counterexample's values went to the handout re-parsed from their text (the parser refuses
integers above 10**6: the text then went into $...$); now the engine prints them at the source.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.notation import to_latex
from elbo_sym.engine.parse import ParseError, parse_expression
from elbo_sym.engine.repair import expression_edits
from elbo_sym.numbers.evaluate import value_expr, value_text
from elbo_sym.numbers.exact import PI_KEY, LogNumber, log_of
from elbo_sym.publish.handouts import HandoutError, mistake_context, mistakes_handout
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parent.parent
BETA_SLIP = """\
title = "The beta-VAE bound, with one slip"
K = "any"
expect_refuted = [2]
claim = "E(q, log(p(x | z))) - beta * KL(q(z), p(z)) <= log(p(x))"
start = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"

[params]
beta = "in [0, 1]"

[[step]]
rel = "="
expr = "ELBO(q) + (1 - beta) * KL(q(z), p(z))"
rule = "definition"

[[step]]
rel = "<="
expr = "ELBO(q)"
rule = "kl-nonneg"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
"""

CLAIM_ALONE = """\
title = "The claim of BETA_SLIP, alone"
K = "any"
start = "E(q, log(p(x | z))) - beta * KL(q(z), p(z))"

[params]
beta = "in [0, 1]"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
"""

SLIP2 = """\
title = "The bound, with one slip"
K = "any"
expect_refuted = [1]
claim = "ELBO(q) <= log(p(x))"
start = "ELBO(q)"

[[step]]
rel = "<="
expr = "ELBO(q) - KL(q(z), p(z | x))"
rule = "kl-nonneg"

[[step]]
rel = "<="
expr = "log(p(x))"
rule = "kl-nonneg"
"""

GAP_SLIP_GENERATED = re.sub(r"(?m)^repair = .*\n", "", (ROOT / "derivations" / "teaching" / "gap-slip.toml").read_text(
    "utf-8"))
"""The repository's teaching file without its repair: the generated suggestion is its solution."""
GAP_WRONG_KL = ('title = "t"\nK = 2\nstart = "log(p(x)) - ELBO(q)"\n\n[[step]]\nrel = "="\n'
                'expr = "KL(p(z | x), q(z))"\nrule = "definition"\n')
UNDEFINED_START = ('title = "No correction can hold"\nK = "any"\nexpect_refuted = [1]\nstart = "log(2 - p(x | z))"\n\n'
                   '[[step]]\nrel = "="\nexpr = "log(2 - p(x | z))"\nrule = "algebra"\n')


@pytest.mark.full
def test_a_teaching_file_with_a_false_claim_fails_and_is_not_published(tmp_path, capsys):
    report = check_file(loads(BETA_SLIP, "beta-slip.toml"))
    assert [s.verdict for s in report.steps] == ["proved", "refuted", "proved"] and report.steps[1].expected_refuted
    assert not report.ok
    (problem,) = report.problems
    assert problem.startswith("the solution does not hold: with the suggested correction (step 2: ")
    assert 'write the intended correction as repair = "..." on step 2' in problem
    with pytest.raises(HandoutError, match="the solution does not hold"):
        mistakes_handout([report])
    path = tmp_path / "beta-slip.toml"
    path.write_text(BETA_SLIP, "utf-8")
    assert main(["check", "--no-cache", str(path)]) == 1
    assert "0/1 file(s) pass" in capsys.readouterr().out


def test_the_claim_it_printed_is_indeed_false():
    """Why no correction can save BETA_SLIP: its claim, as one step, is refuted."""
    report = check_file(loads(CLAIM_ALONE, "claim.toml"))
    assert report.steps[0].verdict == "refuted" and not report.ok


def test_a_suggestion_that_breaks_the_chain_is_not_printed_as_the_repair():
    """rt12 F2: SLIP2's suggestion "reverse the inequality" leaves >= then <= (no relation), and no
    other common slip is proved and keeps step 2: the file fails, nothing is printed."""
    report = check_file(loads(SLIP2, "slip2.toml"))
    assert report.steps[0].verdict == "refuted" and not report.ok
    (problem,) = report.problems
    assert problem.startswith("the solution does not hold: with the suggested correction (step 1: reverse the "
                              "inequality") and "mixes >= and <= steps" in problem
    with pytest.raises(HandoutError, match="the solution does not hold"):
        mistakes_handout([report])


def test_the_printed_repair_makes_the_chain_show_the_claim():
    """gap-slip.toml without its repair: the generated suggestion is the solution, so the file
    with the suggestion applied, as an ordinary file, establishes its claim."""
    report = check_file(loads(GAP_SLIP_GENERATED, "gap-slip.toml"))
    assert report.ok, report.problems
    g = report.steps[2].suggestion
    assert g is not None and not g.authored and "but then" not in g.description
    plain = GAP_SLIP_GENERATED.replace("expect_refuted = [3]\n", "")
    fixed = plain.replace('expr = "KL(q(z), p(z))"\nrule = "bayes"', f'expr = "{g.expr}"\nrule = "{g.rule}"')
    assert fixed != plain
    corrected = check_file(loads(fixed, "fixed.toml"))
    assert corrected.ok and corrected.established and all(s.verdict == "proved" for s in corrected.steps)


def test_a_divergence_of_a_density_with_itself_is_no_repair():
    """KL(p(z | x), p(z | x)) = 0 made SLIP2's step 1 true, but it is no correction to print."""
    edits = [text for _, text in expression_edits("ELBO(q) - KL(q(z), p(z | x))")]
    assert "ELBO(q) - KL(q(z), p(z))" in edits and "ELBO(q) - KL(p(z | x), p(z | x))" not in edits


def test_a_suggestion_that_mixes_the_chains_directions_says_so():
    """In an ordinary file too: reversing step 2 of BETA_SLIP's chain (= <= <=) would leave
    a chain that establishes nothing; the suggestion says so."""
    report = check_file(loads(BETA_SLIP.replace("expect_refuted = [2]\n", ""), "beta.toml"))
    g = report.steps[1].suggestion
    assert g is None or "rel" not in g.changes or "the chain mixes >= and <= steps" in g.description


@pytest.mark.full
def test_a_teaching_file_without_a_checked_correction_fails():
    report = check_file(loads(UNDEFINED_START, "undefined.toml"))
    assert report.steps[0].verdict == "refuted" and report.steps[0].expected_refuted
    assert not report.ok
    assert any(p.startswith("step 1: no correction of the deliberate mistake was found that is proved")
               for p in report.problems)


# ---------------------------------------------------------------------------- F3: what is printed is what was checked

BIG_VALUES = """\
title = "A counterexample whose value has integers above the parser's limit"
K = "any"
start = "ELBO(q)"

[[step]]
rel = "<="
expr = "ELBO(q) - KL(q(z), p(z | x))"
rule = "kl-nonneg"

[[example]]
prior = ["9/14", "5/14"]
likelihood = ["3/5", "1"]
q = ["9/14", "5/14"]
"""


def test_a_counterexample_is_typeset_from_its_values_not_from_reparsed_text():
    """rt12 F3: the right side, log(16209796869/200795254400)/7, was re-parsed for the handout;
    the parser refuses integers above 10**6, and the text went into $...$ (an italic 'log')."""
    (step,) = check_file(loads(BIG_VALUES, "big.toml")).steps
    c = step.counterexample
    assert step.verdict == "refuted" and c is not None and c.source == "example 1"
    assert c.rhs == "log(16209796869/200795254400)/7"
    assert c.rhs_latex == r"\frac{\log \frac{16209796869}{200795254400}}{7}"
    assert c.lhs_latex == to_latex(parse_expression(c.lhs))  # what the parser can read prints as before
    assert r"\frac{9}{14}" in c.where_latex and "log(" not in c.where_latex


@pytest.mark.full
def test_value_expr_is_the_tree_the_parser_makes_of_value_text():
    """The printer's form of a value (value_expr) and its text (value_text) say the same thing:
    wherever the parser can read the text, it builds exactly value_expr's tree."""
    rng = random.Random(12)
    compared = 0
    for _ in range(1500):
        v = LogNumber.of(Fraction(rng.randint(-5, 5), rng.randint(1, 4)))
        for _ in range(rng.randint(0, 3)):
            v = v + log_of(Fraction(rng.randint(1, 30), rng.randint(1, 30))) * Fraction(rng.randint(-4, 4),
                                                                                      rng.randint(1, 3))
        try:
            parsed = parse_expression(value_text(v))
        except ParseError:
            continue
        assert parsed == value_expr(v) and to_latex(parsed) == to_latex(value_expr(v)), value_text(v)
        compared += 1
    assert compared > 1000


def test_a_suggestion_is_typeset_from_the_expression_that_was_proved():
    """The suggestion's LaTeX comes with it from the repair search (the parsed, proved
    expression), the same as the printer makes of its text."""
    suggested = [step.suggestion for text in (GAP_SLIP_GENERATED, BIG_VALUES, GAP_WRONG_KL)
                 for step in check_file(loads(text, "f.toml")).steps if step.suggestion is not None]
    assert len(suggested) == 3
    for g in suggested:
        assert g.expr_latex and g.expr_latex == to_latex(parse_expression(g.expr)), g


def test_a_side_without_a_value_is_set_as_text_not_math():
    report = check_file(loads(GAP_SLIP_GENERATED, "gap-slip.toml"))
    step = report.steps[2]
    assert report.ok and step.counterexample is not None and step.counterexample.lhs_latex
    no_value = replace(step.counterexample, rhs="(not in closed form)", rhs_latex="")
    (mistake,) = mistake_context(replace(report, steps=(*report.steps[:2], replace(step, counterexample=no_value))))[
        "mistakes"]
    assert mistake["right"] == r"\text{(not in closed form)}" and mistake["left"] == step.counterexample.lhs_latex


def test_without_a_claim_the_corrected_chain_must_still_establish_a_relation():
    no_claim = SLIP2.replace('claim = "ELBO(q) <= log(p(x))"\n', "")
    report = check_file(loads(no_claim, "slip2.toml"))
    assert report.claim is None and not report.ok
    assert any("mixes >= and <= steps, so it establishes no relation" in p for p in report.problems)
    gap = check_file(loads(re.sub(r"(?m)^claim = .*\n", "", GAP_SLIP_GENERATED), "gap-slip.toml"))
    assert gap.claim is None and gap.ok, gap.problems


def test_the_solution_is_checked_with_the_expression_that_was_proved():
    """solution_problem checks the corrected chain with the suggestion's own expression (the one
    the repair search parsed and proved), never a re-parse of its text: a suggestion whose text
    no longer parses is still judged, and one carrying a wrong expression under a right text fails."""
    from elbo_sym.engine.repair import check_with_suggestions, solution_problem

    derivation = loads(GAP_SLIP_GENERATED, "gap-slip.toml")
    model = derivation.model()
    results = list(check_with_suggestions(derivation).steps)
    (i,) = [i for i, r in enumerate(results) if r.suggestion is not None]
    g = results[i].suggestion
    assert g is not None and "expr" in g.changes and not g.authored
    assert g.parsed == parse_expression(g.expr, derivation.vocabulary)  # what was proved is what the text says
    assert solution_problem(derivation, model, results) is None

    def with_suggestion(**changes) -> list:
        return [*results[:i], replace(results[i], suggestion=replace(g, **changes)), *results[i + 1:]]

    assert solution_problem(derivation, model, with_suggestion(expr="not a formula (")) is None
    wrong = with_suggestion(parsed=results[i].step.expr)  # the refuted step's own expression, under the right text
    problem = solution_problem(derivation, model, wrong)
    assert problem is not None and problem.startswith("the solution does not hold") and f"step {i + 1}" in problem


def test_one_short_form_is_written_as_text_and_as_the_parsers_tree():
    """short_form builds a value's form once; value_text and value_expr are its two writings.
    Without a shorter single log (log(pi), one prime, a product past the limit) the text is the
    value's own, a log per prime with the rational last."""
    from elbo_sym.numbers.evaluate import short_form

    rng = random.Random(13)
    for _ in range(400):
        v = LogNumber.of(Fraction(rng.randint(-5, 5), rng.randint(1, 4)))
        for _ in range(rng.randint(0, 3)):
            v = v + log_of(Fraction(rng.randint(1, 30), rng.randint(1, 30))) * Fraction(rng.randint(-4, 4),
                                                                                      rng.randint(1, 3))
        for limit in (10**12, 10):
            form = short_form(v, limit)
            assert (form.text, form.expr) == (value_text(v, limit), value_expr(v, limit))
            assert form.text == str(v) or len(form.terms) == 1 + bool(v.rational) < len(v.logs) + bool(v.rational)
    with_pi = LogNumber._raw(Fraction(1, 2), ((PI_KEY, Fraction(-1, 2)), (3, Fraction(2)), (5, Fraction(1))))
    assert short_form(with_pi).text == str(with_pi) == "-log(pi)/2 + 2*log(3) + log(5) + 1/2"
    expr = short_form(with_pi).expr  # the parser refuses log(pi): the tree is the value's own, pi included
    assert r"\pi" in to_latex(expr) and abs(float(expr.evalf(30)) - with_pi.to_float()) < 1e-12

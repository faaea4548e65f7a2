"""Red team rt6's findings (session 11), each pinned by its reproduction under data/redteam/rt6_*.

F1: over a data space (``data_space = ["x1", "x2"]``) a parameterised model's p(. | z; theta) is
a distribution over the observations at every z, in the engine (a simplex block per z and theta)
and in the reference evaluator; before, each p(o | z; theta) was a free number in (0, 1], so an
unsatisfiable premise was accepted (exit 0) and a true step refuted by a table that is no model.
F3: the reference evaluator normalises the likelihood before the file's assumptions read it, and
keeps r's and each parameter's tables, so true steps get agreement instead of a disagreement.
"""

from __future__ import annotations

import html
import math
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import DerivationError, load, loads
from elbo_sym.engine.parse import Vocabulary, parse_expression
from elbo_sym.engine.reference import cases, second_opinion
from elbo_sym.engine.reference import discrete as reference
from elbo_sym.publish import web
from elbo_sym.publish.handouts import derivations_handout
from elbo_sym.report.build import check_file, report_of
from elbo_sym.report.display import to_html
from elbo_sym.report.text import derivation_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variant_checks import check_text, refuted  # noqa: E402

REDTEAM = Path(__file__).resolve().parent / "data" / "redteam"
THETA_HEAD = 'title = "t"\nK = {K}\ndata = ["x1", "x2"]\ndata_space = ["x1", "x2"]\n'


def theta_step(start: str, rel: str, expr: str, K: str = '"any"') -> str:
    return (THETA_HEAD.format(K=K) + f'start = "{start}"\n[params]\ntheta = "real"\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "algebra"\n')


def verdicts(result) -> list:
    return [(s.step.index, s.verdict, s.reason) for s in result.steps]


def proved_with_agreement(path: Path) -> None:
    """Every step proved, and the reference evaluator agrees on each (never "could not decide")."""
    result = check_derivation(load(path))
    assert result.fully_proved and result.ok, verdicts(result)
    assert all(s.second_opinion.startswith("the reference evaluator agrees") for s in result.steps), \
        [s.second_opinion for s in result.steps]


# ------------------------------------------------------------------ F1: the engine


def test_an_unsatisfiable_premise_over_the_data_space_is_refused():
    """p(x1 | theta) + p(x2 | theta) = 1 over the data space: the premise "> 1" holds in no model."""
    result = check_derivation(load(REDTEAM / "rt6_f1_theta_empty_premise.toml"))
    assert not result.ok and not result.established
    assert all(s.verdict is not Verdict.proved for s in result.steps), verdicts(result)


@pytest.mark.parametrize("name", ["rt6_f1_theta_evidences_sum.toml", "rt6_f1_theta_decoder_sum.toml"])
def test_the_sum_rule_of_a_parameterised_decoder_is_proved_with_a_second_opinion(name):
    proved_with_agreement(REDTEAM / name)


def test_the_teaching_file_whose_mistake_is_true_fails():
    """Its "mistake" p(x1 | theta) + p(x2 | theta) = 1 holds over the data space: the file's
    expectation is wrong, and the run says so (it once passed on a counterexample that is no model)."""
    result = check_derivation(load(REDTEAM / "rt6_f1_theta_teaching.toml"))
    assert result.steps[0].verdict is Verdict.proved and not report_of(result).ok


@pytest.mark.parametrize("K", ["2", '"any"'])
def test_a_false_step_is_refuted_by_a_model_over_the_data_space(K):
    c = refuted(theta_step("p(x1 | theta)", "=", "1/2", K))
    prior = [float(Fraction(v)) for v in c.value_of("p(z | theta)")]
    columns = [[float(Fraction(v)) for v in c.value_of(f"p(x | z = {k}; theta) over x = x1, x2")]
               for k in range(len(prior))]
    assert all(math.isclose(sum(column), 1.0) and all(v > 0 for v in column) for column in columns)
    evidence1 = sum(p * column[0] for p, column in zip(prior, columns))
    assert math.isclose(c.lhs_value, evidence1, rel_tol=1e-9) and not math.isclose(evidence1, 0.5)


def test_without_the_data_space_the_parameterised_evidences_need_not_sum_to_1():
    text = theta_step("p(x1 | theta) + p(x2 | theta)", "=", "1").replace('data_space = ["x1", "x2"]\n', "")
    assert check_text(text).steps[0].verdict is Verdict.refuted


# ------------------------------------------------------------------ F1: the reference evaluator


def test_the_reference_normalises_each_parameters_decoder():
    derivation = load(REDTEAM / "rt6_f1_theta_evidences_sum.toml")
    spec, words = derivation.spec, derivation.vocabulary

    def e(text: str):
        return parse_expression(text, words)

    assert second_opinion(e("p(x1 | theta) + p(x2 | theta)"), "=", e("1"), spec, "any").status == "agrees"
    assert second_opinion(e("p(x1 | theta)"), "=", e("p(x2 | theta)"), spec, "any").disagrees
    _, found, _ = cases(spec, "any")
    indexed = [inst for inst in found if any(sig[2] for _, _, sig, _ in inst.extra)]
    assert indexed and all(reference.normalised(inst) for inst in found)


@pytest.mark.full
def test_normalised_looks_at_each_parameters_decoder():
    """The check can fail: an instance whose own likelihood is normalised and theta's is not."""
    spec = load(REDTEAM / "rt6_f1_theta_evidences_sum.toml").spec
    drawn = reference.with_model_names(reference.instances(2, 0, ("x1", "x2")), (), spec.indices)
    own_only = [reference.with_data_space([inst])[0] for inst in drawn]
    unnormalised = [replace(inst, extra=before.extra) for inst, before in zip(own_only, drawn)]
    assert not all(reference.normalised(inst) for inst in unnormalised)


# ------------------------------------------------------------------ F3: assumptions read the normalised model


@pytest.mark.parametrize("name", ["rt6_f3_cross_assumption.toml", "rt6_f3_mixture_assumption.toml",
                                  "rt6_f3_r_second_opinion.toml"])
def test_true_steps_over_the_data_space_get_the_second_opinions_agreement(name):
    proved_with_agreement(REDTEAM / name)


def test_a_false_step_under_an_assumption_over_the_data_space_gets_a_disagreement():
    """The reference still judges: q(z | x1) = p(z | x2) is not x1's posterior."""
    spec = load(REDTEAM / "rt6_f3_cross_assumption.toml").spec
    vocabulary = Vocabulary(("x1", "x2"))
    e = parse_expression
    assert second_opinion(e("ELBO(q(z | x1), x1)", vocabulary), "=", e("log(p(x1))", vocabulary),
                          spec, "any").disagrees


# ------------------------------------------------------------------ F2: Gaussian premises with a free z


GAUSS = 'title = "t"\nmodel = "gaussian"\n'


def gauss_premise(premise: str, start: str = "ELBO(q)", rel: str = "<=", expr: str = "log(p(x))",
                  rule: str = "jensen") -> str:
    return (GAUSS + f'assume = ["{premise}"]\nstart = "{start}"\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


@pytest.mark.parametrize("name, column", [("rt6_f2_gauss_free_z_premise.toml", 12),
                                          ("rt6_f2_gauss_q_above_prior.toml", 12)])
def test_a_gaussian_premise_with_a_free_z_is_refused_at_its_column(name, column, capsys):
    """"z > mu" or "q(z) > p(z)" for every z holds in no model; judged at one z, it was accepted
    and its claim proved (exit 0)."""
    path = REDTEAM / name
    assert main(["check", "--no-cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3:{column}: a premise with a free z" in err


def test_a_deck_card_with_a_gaussian_free_z_premise_is_refused(capsys):
    path = REDTEAM / "rt6_f2_gauss_free_z_deck.toml"
    assert main(["cards", "--check", str(path)]) == 2
    assert f"{path}:9:11: card 1: a premise with a free z" in capsys.readouterr().err  # card named (rt52 F7)


@pytest.mark.parametrize("premise, column", [
    ("p(x | z) > p(x)", 0), ("z**2 > 0", 0), ("mu < z", 5), ("mu != q(z)", 6), ("q(z) != 2 * p(z)", 0),
    ("mu + (z - mu) > 1", 5),
])
def test_each_side_and_term_with_a_free_z_is_pointed_at(premise, column):
    with pytest.raises(DerivationError) as info:
        loads(gauss_premise(premise), "g.toml")
    assert info.value.line == 3 and info.value.column == len('assume = ["') + column, info.value


@pytest.mark.parametrize("premise", ["q(z) != p(z | x)", "q(z) != Normal(0, 1)", "mu > 1",
                                     "E(q(z), z) > mu", "KL(q(z), p(z)) >= 1", "ELBO(q) >= log(p(x)) - 1"])
def test_gaussian_premises_without_a_free_z_are_kept(premise):
    derivation = loads(gauss_premise(premise), "g.toml")
    assert [f"{p.lhs.text} {p.rel} {p.rhs.text}" for p in derivation.premises] == [premise]


# ------------------------------------------------------------------ F4: the data space is printed as a condition

DECODER_TEXT = "p(x1 | z) + p(x2 | z) = 1"
DECODER_LATEX = r"p(x_{1} \mid z) + p(x_{2} \mid z) = 1"


@pytest.fixture(scope="module")
def evidences():
    report = check_file(REDTEAM / "rt6_f4_evidences_add_to_one.toml")
    assert report.fully_proved
    return report


def test_the_data_space_is_a_condition_of_the_scope_header_and_json(evidences):
    assert [(c.text, c.latex) for c in evidences.params] == [(DECODER_TEXT, DECODER_LATEX)]
    assert evidences.scope.text == f"Proved for {DECODER_TEXT} and {evidences.model}."
    assert derivation_text(evidences).splitlines()[2] == f"  conditions: {DECODER_TEXT}"
    data = evidences.to_dict()
    assert data["params"] == [{"text": DECODER_TEXT, "latex": DECODER_LATEX}]
    assert f"with {DECODER_TEXT} at every z (the data space)" in data["domain"]


def test_the_data_space_is_printed_on_the_sheet_the_page_and_the_notebook(evidences):
    source = derivations_handout([evidences]).render()
    assert rf"Proved for \({DECODER_LATEX}\) and" in source
    assert rf"\assumption{{{DECODER_LATEX}}}" in source
    body = web.derivations_page([evidences]).body
    assert f"Proved for ${DECODER_LATEX}$ and" in body and f"**Assume.** ${DECODER_LATEX}$" in body
    assumed = [line for line in to_html(load(REDTEAM / "rt6_f4_evidences_add_to_one.toml")).splitlines()
               if line.startswith("<p>assume: ")]
    assert assumed == [f"<p>assume: {html.escape(chr(92) + '(' + DECODER_LATEX + chr(92) + ')')}</p>"]


def test_each_parameter_of_a_parameterised_model_has_its_data_space_condition():
    text = theta_step("p(x1 | theta_old) + p(x2 | theta_old)", "=", "p(x1 | theta_new) + p(x2 | theta_new)")
    report = check_file(loads(text.replace('theta = "real"', 'theta_old = "real"\ntheta_new = "real"'), "t.toml"))
    assert report.fully_proved, [(s.verdict, s.reason) for s in report.steps]
    wanted = [f"p(x1 | z; {t}) + p(x2 | z; {t}) = 1" for t in ("theta_old", "theta_new")]
    assert [c.text for c in report.params] == wanted


def test_without_a_data_space_nothing_is_added():
    text = theta_step("p(x1 | theta) + p(x2 | theta)", "=", "p(x2 | theta) + p(x1 | theta)").replace(
        'data_space = ["x1", "x2"]\n', "")
    report = check_file(loads(text, "t.toml"))
    assert report.params == () and "data space" not in report.domain


# ------------------------------------------------------------------ F5: messages and names


@pytest.mark.parametrize("args, example, other", [(["cards", "--moodle"], "quiz.xml", "deck.apkg"),
                                                   (["flashcards", "--anki"], "deck.apkg", "quiz.xml")])
def test_a_folder_given_for_an_output_file_suggests_a_file_of_its_kind(tmp_path, capsys, args, example, other):
    assert main([*args, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"e.g. {tmp_path / example}" in err and other not in err


def interval_error(condition: str) -> DerivationError:
    text = theta_step("beta * p(x1)", "<=", "p(x1)").replace('theta = "real"', f'beta = "{condition}"')
    with pytest.raises(DerivationError) as info:
        loads(text.replace('data_space = ["x1", "x2"]\n', ""), "b.toml")
    return info.value


def test_a_point_interval_is_refused_as_a_single_value():
    error = interval_error("in [1, 1]")
    assert "[1, 1] is the single value 1, not an interval: write 1 in place of beta" in error.message
    assert "empty" not in error.message and error.column == len('beta = "in [')
    for empty in ("in (1, 1]", "in [1, 1)", "in [2, 1]"):  # truly empty: no value at all
        assert "the interval is empty" in interval_error(empty).message


@pytest.mark.parametrize("name", ["e", "pi", "I", "oo", "zoo", "nan"])
def test_sympys_constants_cannot_name_a_parameter_or_an_observation(name):
    for text, what in ((f'title = "t"\nK = 2\nstart = "log(p(x))"\n[params]\n{name} = "> 0"\n'
                        '[[step]]\nrel = "="\nexpr = "log(p(x))"\nrule = "algebra"\n', "a parameter"),
                       (f'title = "t"\nK = 2\ndata = ["{name}", "x2"]\nstart = "log(p(x2))"\n'
                        '[[step]]\nrel = "="\nexpr = "log(p(x2))"\nrule = "algebra"\n', "an observation")):
        with pytest.raises(DerivationError) as info:
            loads(text, "c.toml")
        assert f"'{name}' cannot name {what}: SymPy reads it as a constant" in info.value.message


@pytest.mark.parametrize("name, line", [("rt6_f5_param_named_e.toml", 6), ("rt6_f5_param_named_oo.toml", 6)])
def test_the_red_teams_constant_parameters_are_refused_at_their_line(name, line, capsys):
    path = REDTEAM / name
    assert main(["check", "--no-cache", str(path)]) == 2
    assert f"{path}:{line}:1: '" in capsys.readouterr().err  # file:line:col, the caret under the name

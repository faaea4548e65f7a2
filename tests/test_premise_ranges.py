"""Premises that narrow a parameter's range (red team rt30 F1).

A premise that bounds a parameter alone (``n >= 35``, ``t >= 5000``, ``beta > 1``) leaves a range the
search's own samples mostly miss.  The check that some instance satisfies every premise, and the
search, also try points inside that range (`engine.exact.premise_pins`), so satisfiable premises are
never called unsatisfiable, and a report never says "no instance satisfies every premise" next to a
counterexample where every premise holds.  Premises no model satisfies stay an error.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.engine import check, exact
from elbo_sym.engine.check import Verdict, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.engine.exact import empty_ranges, premise_pins
from elbo_sym.engine.reference import conditions
from elbo_sym.engine.reference import discrete as judge
from elbo_sym.engine.search import MIN_DECIDED

sys.path.insert(0, str(Path(__file__).resolve().parent))
from variant_checks import check_text  # noqa: E402

UNSATISFIED = "no instance was shown to satisfy every premise"


def gaussian(assume: list[str], param: str, start: str, rel: str, expr: str, rule: str = "algebra") -> str:
    """A one-step Gaussian file with [params] and premises."""
    premises = ", ".join(f'"{a}"' for a in assume)
    return (f'title = "t"\nmodel = "gaussian"\nassume = [{premises}]\nstart = "{start}"\n[params]\n{param}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{expr}"\nrule = "{rule}"\n')


def test_a_lower_bound_on_a_whole_number_above_its_samples_is_satisfiable():
    result = check_text(gaussian(["n >= 35"], 'n = "integer >= 1"', "n", ">=", "35", "assumption"))
    assert not any(UNSATISFIED in p for p in result.problems), result.problems
    assert result.steps[0].verdict is Verdict.proved and result.ok


def test_a_lower_bound_on_a_real_parameter_far_from_its_samples_is_satisfiable():
    result = check_text(gaussian(["t >= 5000"], 't = "real"', "t", ">=", "5000", "assumption"))
    assert not any(UNSATISFIED in p for p in result.problems), result.problems
    assert result.steps[0].verdict is Verdict.proved and result.ok


@pytest.mark.full
def test_a_two_sided_range_of_a_real_parameter_is_searched_inside():
    result = check_text(gaussian(["beta >= 1", "beta <= 3/2"], 'beta = "real"', "(beta - 2)*(beta - 1)", "<=", "0"))
    assert not result.problems, result.problems
    step = result.steps[0]
    assert step.verdict is Verdict.checked and step.instances >= MIN_DECIDED, step.reason


@pytest.mark.full
def test_a_parameter_narrowed_inside_its_interval_gets_enough_decided_instances():
    """docs/02: a narrowed parameter is searched at four points inside its range (it ended `error` with 5)."""
    result = check_text(gaussian(["beta > 1"], 'beta = "in (0, 2)"', "(beta - 2)*(beta - 1)", "<", "0"))
    step = result.steps[0]
    assert step.verdict is Verdict.checked and step.instances >= MIN_DECIDED, step.reason


def test_a_false_step_inside_a_narrow_range_is_refuted_there():
    """(t - 5001)**2 >= 1 fails only at t = 5001 among the whole points inside t >= 5000."""
    result = check_text(gaussian(["t >= 5000"], 't = "real"', "(t - 5001)**2", ">=", "1"))
    step = result.steps[0]
    assert step.verdict is Verdict.refuted and not result.problems, (step.reason, result.problems)
    t = dict(step.counterexample.values)["t"]
    assert Fraction(t[0]) >= 5000 and (Fraction(t[0]) - 5001) ** 2 < 1


def test_a_refuted_step_and_the_premise_problem_never_meet():
    """Red team rt30 (c/m1): the counterexample n = 36 satisfied every premise, and the same report said
    no instance did."""
    result = check_text(gaussian(["n >= 35", "n <= 40"], 'n = "integer >= 1"', "(n - 36)**2", ">=", "1"))
    assert result.steps[0].verdict is Verdict.refuted
    assert not any(UNSATISFIED in p for p in result.problems), result.problems


def test_a_counterexample_withdraws_a_premise_problem_that_missed(monkeypatch):
    """Should the premise check miss every instance inside the premises while the search finds one, the
    counterexample shows the premises satisfiable: the problem goes, and the steps it made errors get
    their own verdicts back (step 1 proved, step 2 refuted)."""
    text = (gaussian(["n >= 35", "n <= 40"], 'n = "integer >= 1"', "n", ">=", "35", "assumption")
            + '[[step]]\nrel = ">="\nexpr = "36"\nrule = "algebra"\n')
    monkeypatch.setattr(check, "_premise_problem", lambda *_: f"{UNSATISFIED} (missed on purpose)")
    result = check_derivation(loads(text, "m.toml"), budget=10.0)
    assert [s.verdict for s in result.steps] == [Verdict.proved, Verdict.refuted], [s.reason for s in result.steps]
    assert not result.problems and not result.ok


EMPTY_RANGES = (
    (["t >= 5000", "t <= 1"], 't = "real"', "the premises t >= 5000 (variant.toml:3) and t <= 1 (variant.toml:3) "
                                            "leave no value of t"),
    (["t > 1", "t < 1"], 't = "real"', "the premises t > 1 (variant.toml:3) and t < 1 (variant.toml:3) leave no "
                                       "value of t"),
    (["n >= 35", "n <= 34"], 'n = "integer >= 1"', "the premises n >= 35 (variant.toml:3) and n <= 34 "
                                                   "(variant.toml:3) leave no whole number n"),
    (["n > 3", "n < 4"], 'n = "integer >= 1"', "the premises n > 3 (variant.toml:3) and n < 4 (variant.toml:3) "
                                               "leave no whole number n"),
    (["beta > 3"], 'beta = "in (0, 2)"', "the premise beta > 3 (variant.toml:3) leaves no value of beta in its "
                                         "declared range (beta in (0, 2))"),
    (["n <= 0"], 'n = "integer >= 1"', "the premise n <= 0 (variant.toml:3) leaves no whole number n in its "
                                       "declared range"),
)
"""Premises whose bounds on one parameter leave it no admissible value, and what the file's problem says."""


@pytest.mark.full
@pytest.mark.parametrize("assume, param, said", EMPTY_RANGES)
def test_premises_no_value_satisfies_stay_an_error_naming_the_bounds(assume, param, said):
    """rt33 F1: bounds that leave no (whole) number are said to leave none, each premise named at its
    file:line -- not "no instance was shown to satisfy" (a search's failure) nor "a premise restricts n
    otherwise than by a bound on n alone" (untrue).  Every step stays an error, for a true step too."""
    name = param.split()[0]
    for start, rel, expr, rule in ((name, ">=", assume[0].split(" ")[-1], "assumption"),
                                   (f"({name} - 1)**2", ">=", "0", "algebra")):
        result = check_text(gaussian(assume, param, start, rel, expr, rule))
        (problem,) = result.problems
        assert problem.startswith(said), problem
        step = result.steps[0]
        assert step.verdict is Verdict.error and not result.ok, (assume, step.reason)
        assert "otherwise than by a bound" not in step.reason, step.reason


@pytest.mark.full
@pytest.mark.parametrize("assume, param", [(["n >= 35", "n <= 34"], 'n = "integer >= 1"'),
                                           (["n > 3", "n < 4"], 'n = "integer >= 1"')])
def test_a_step_in_an_empty_whole_number_range_says_the_bounds_leave_none(assume, param):
    """The exact decision in n (a step in n alone) names the bounds, at their lines, as what stops it."""
    result = check_text(gaussian(assume, param, "(n - 1)**2", ">=", "0"))
    step = result.steps[0]
    assert step.verdict is Verdict.error, step.reason
    assert f"the premises {assume[0]} (line 3) and {assume[1]} (line 3) leave no whole number n" in step.reason, \
        step.reason


def test_a_premise_that_narrows_the_range_without_emptying_it_is_no_empty_range():
    for assume, param in ((["n > 3", "n < 5"], 'n = "integer >= 1"'), (["t >= 1", "t <= 1"], 't = "real"'),
                          (["beta > 1"], 'beta = "in (0, 2)"')):
        model = loads(gaussian(assume, param, "mu", "=", "mu"), "e.toml").model()
        assert empty_ranges(model) == (), assume


@pytest.mark.full
def test_the_premise_pins_are_made_once_per_model(monkeypatch):
    """Every step's exact plan and the file's premise check ask for them: the premises are read once."""
    made = []
    real = exact._premise_pins
    monkeypatch.setattr(exact, "_premise_pins", lambda model: made.append(model) or real(model))
    text = gaussian(["t >= 4321/7"], 't = "real"', "t", ">=", "4321/7", "assumption")
    text += '[[step]]\nrel = ">="\nexpr = "4320/7"\nrule = "algebra"\n' * 2
    result = check_text(text)
    assert len(result.steps) == 3 and result.steps[0].verdict is Verdict.proved, result.steps[0].reason
    assert len(made) == 1 and premise_pins(made[0]) == real(made[0])


def test_the_pins_lie_inside_the_narrowed_ranges():
    model = loads(gaussian(["t > 5000", "n <= 3", "beta > 1"], 't = "real"\nn = "integer >= 1"\nbeta = "in (0, 2)"',
                           "t", ">=", "5000", "assumption"), "p.toml").model()
    pins = premise_pins(model)
    assert len(pins) == 4
    for pin in pins:
        values = {name: v for name, (v,) in pin.blocks}
        assert values["t"] > 5000 and 1 <= values["n"] <= 3 and 1 < values["beta"] < 2, pin


# ------------------------------------------------------------------ the second opinion inside the premises

@pytest.mark.parametrize("assume, param, start, rel, expr, rule", [
    (["n >= 35"], 'n = "integer >= 1"', "n", ">=", "35", "assumption"),
    (["n >= 35", "n <= 37"], 'n = "integer >= 1"', "(n - 36)**2", ">=", "0", "algebra"),
    (["t >= 5000"], 't = "real"', "t", ">=", "5000", "assumption"),
])
def test_a_step_proved_inside_narrowed_premises_gets_a_real_second_opinion(assume, param, start, rel, expr, rule):
    """rt33: the reference evaluator drew n from its declared range (1..5), none satisfied ``n >= 35``, and
    said "no instance was shown to satisfy every premise"; under ``t >= 5000`` it agreed on 1 instance.  It
    now reads the premises' bounds itself and draws inside them: every instance it judges is inside."""
    step = check_text(gaussian(assume, param, start, rel, expr, rule)).steps[0]
    assert step.verdict is Verdict.proved, step.reason
    assert step.second_opinion.startswith("the reference evaluator agrees on"), step.second_opinion
    assert int(step.second_opinion.split("agrees on ")[1].split()[0]) >= 5, step.second_opinion
    assert "outside the premises" not in step.second_opinion, step.second_opinion


def test_the_reference_reads_the_bounds_on_a_parameter_alone_itself():
    def spec(assume, param):
        return loads(gaussian(assume, param, "mu", "=", "mu"), "c.toml").model().spec

    assert conditions(spec(["n >= 35", "n < 38"], 'n = "integer >= 1"')) == (("n", "integer >= 35 and <= 37"),)
    assert conditions(spec(["n > 7/2"], 'n = "integer >= 1"')) == (("n", "integer >= 4"),)
    assert conditions(spec(["t > 1", "2*t < 4"], 't = "real"')) == (("t", "in (1, 2)"),)
    assert conditions(spec(["1 - t >= -4999"], 't = "real"')) == (("t", "<= 5000"),)
    assert conditions(spec(["beta > 1"], 'beta = "in (0, 2)"')) == (("beta", "in (1, 2)"),)
    # a bound on more than the parameter, or not of degree 1, narrows nothing; bounds that leave no value
    # leave the declared interval (the premise check then finds no instance inside)
    for assume, param, declared in ((["t**2 >= 4"], 't = "real"', "real"), (["t*mu >= 1"], 't = "real"', "real"),
                                    (["n >= 35", "n <= 34"], 'n = "integer >= 1"', "integer >= 1"),
                                    (["beta > 3"], 'beta = "in (0, 2)"', "in (0, 2)")):
        assert conditions(spec(assume, param)) == ((param.split()[0], declared),), assume
    assert judge.parameter_samples("integer >= 35 and <= 37") == (35, 36, 37)
    assert judge.parameter_contains("integer >= 35 and <= 37", Fraction(37))
    assert not judge.parameter_contains("integer >= 35 and <= 37", Fraction(38))


def test_a_premise_that_only_says_two_things_differ_is_not_read_for_ranges(monkeypatch):
    """``q(z) != p(z | x)`` bounds no parameter: empty_ranges and premise_pins answer () without putting it
    in canonical form (the Gaussian posterior's form was most of gaussian-tight-only-if's check)."""
    text = gaussian(["q(z) != p(z | x)"], 'n = "integer >= 1"', "mu", "=", "mu")
    model = loads(text, "d.toml").model()
    read = []
    real = exact.residuals
    monkeypatch.setattr(exact, "residuals", lambda e, m: read.append(e) or real(e, m))
    assert empty_ranges(model) == () and premise_pins(model) == ()
    assert read == []


def test_a_differ_premise_beside_a_bound_still_keeps_its_parameters_from_narrowing():
    """Beside a bound, the != premise is read as before: a parameter it mentions is left to the search
    (`_within_premises`), so only the bound's own parameter is pinned."""
    both = gaussian(["q(z) != p(z | x)", "t >= 5000"], 't = "real"', "t", ">=", "5000", "assumption")
    alone = gaussian(["t >= 5000"], 't = "real"', "t", ">=", "5000", "assumption")
    pins = premise_pins(loads(both, "b.toml").model())
    assert pins == premise_pins(loads(alone, "a.toml").model()) and pins
    mentions = gaussian(["mu != 1", "mu >= 3"], "", "mu", ">=", "3", "assumption")
    assert premise_pins(loads(mentions, "m.toml").model()) == ()
    assert premise_pins(loads(gaussian(["mu >= 3"], "", "mu", ">=", "3", "assumption"), "n.toml").model())

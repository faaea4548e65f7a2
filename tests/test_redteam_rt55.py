"""Red team rt55 F1: a false strict step passed with accept when a closed bound is one coordinate of the
meeting.

``(KL(q(z), p(z)) - 1)**2 + (beta - 1) > 0`` with beta >= 1 is false on a curve inside the simplex at beta = 1
(KL(q, p) = 1 there, e.g. p = (1/10, 9/10), q1 = 0.689217226544958..., checked with mpmath below).  The float
minimiser left beta at 1 + 3.9e-11; the polishing froze it there (beta enters linearly: no curvature), so the
60-digit gap was beta's distance from its bound and `_worth_more` dropped the site before the closed-bound
setting was tried; the other site was a decoy on the simplex's open edge.  Now a strict step's site within
BOUND_NEAR of a closed end (a parameter's ``>=``/``<=``/``[``/``]`` end, a likelihood's 1, a premise's end) is
polished on that face first, the coordinate fixed there (`polishing._on_face`); also where only the 60-digit
polishing takes it near the end (`_face_after`: ``(1 - beta)**3``); and a site at closed ends only is picked
before an open-edge decoy (`_on_closed_ends`: beta in [-1, 2]).  True steps with open ends, or a positive
constant added, stay `checked`.
"""

from __future__ import annotations

import mpmath
import pytest

from elbo_sym.cli import main
from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
KL = "KL(q(z), p(z))"


def text_of(head: str, start: str, params: str = "", rel: str = ">") -> str:
    block = f"\n[params]\n{params}\n" if params else ""
    return (f'title = "t"\n{head}\nstart = "{start}"\n{block}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "0"\nrule = "algebra"\naccept = "checked"\n')


def step_of(head: str, start: str, params: str = "", rel: str = ">"):
    return check_derivation(loads(text_of(head, start, params, rel), "t.toml"), budget=BUDGET).steps[0]


def assert_meets(step) -> None:
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    assert not step.passes


# (head, start, params, rel): each false at a point with a coordinate on a closed end (the red team's file name)
S0 = ("K = 2", f"({KL} - 1)**2 + (beta - 1)", 'beta = ">= 1"', ">")
S10 = ("K = 2", f"({KL} - 1)**2 + (1 - p(x | z))", "", ">")  # a likelihood's closed 1
FALSE_STEPS = {
    "s1": ("K = 2", f"({KL} - 1)**2 + (1 - beta)", 'beta = "<= 1"', ">"),
    "s2": ("K = 2", f"({KL} - 1)**2 + (1 - beta)", 'beta = "in [0, 1]"', ">"),
    "s3": ("K = 2", f"({KL} - 1)**2 + (beta + 1)*(2 - beta)", 'beta = "in [-1, 2]"', ">"),
    "s4": ("K = 2", f"({KL} - 1)**2 + (1 - beta)**3", 'beta = "in (0, 1]"', ">"),
    "s7": ("K = 2", f"({KL} - 1)**2 + beta", 'beta = ">= 0"', ">"),
    "s14": ("K = 2", "(E(q, log(p(x, z))) + 2)**2 + (1 - beta)", 'beta = "<= 1"', ">"),
    "s14k3": ("K = 3", "(E(q, log(p(x, z))) + 2)**2 + (1 - beta)", 'beta = "<= 1"', ">"),
    "s15": ("K = 2", f"-({KL} - 1)**2 - (beta - 1)", 'beta = ">= 1"', "<"),
    "s16": ("K = 2", f"({KL} - 1)**2 + log(beta)", 'beta = ">= 1"', ">"),  # log(beta) curves down: not frozen
    "gg3": ('K = 2\ndata = ["x1", "x2"]', "(KL(q(z | x1), p(z)) - 1)**2 + (beta - 1)", 'beta = ">= 1"', ">"),
    "gg4": ("K = 2", "(KL(p(z), q(z)) - 1)**2 + (beta - 1)", 'beta = ">= 1"', ">"),
    "gc2": ('model = "gaussian"\nlatents = ["z1", "z2"]', "(KL(q(z2 | x), p(z2)) - 1)**2 + (1/2 - c1)",
            'c1 = "in (0, 1/2]"', ">"),
}
TRUE_STEPS = {  # the same shapes, true on the whole domain: an open end, or 1e-60 (below MEETING_GAP) added
    "tt1": ("K = 2", f"({KL} - 1)**2 + beta", 'beta = "> 0"', ">"),
    "tt2": ("K = 2", f"({KL} - 1)**2 + (beta - 1)", 'beta = "> 1"', ">"),
    "tt3": ("K = 2", f"({KL} - 1)**2 + (1 - beta)*beta", 'beta = "in (0, 1)"', ">"),
    "tt4": ("K = 2", "(E(q, log(p(x, z))) + 2)**2 + beta*(1 - p(x | z)) + beta**3", 'beta = "> 0"', ">"),
    "plus": ("K = 2", f"({KL} - 1)**2 + (beta - 1) + (1/10**12)**5", 'beta = ">= 1"', ">"),
    "likelihood plus": ("K = 2", f"({KL} - 1)**2 + (1 - p(x | z)) + (1/10**12)**5", "", ">"),
    "cube plus": ("K = 2", f"({KL} - 1)**2 + (1 - beta)**3 + (1/10**12)**5", 'beta = "in (0, 1]"', ">"),
    "gaussian open": ('model = "gaussian"\nlatents = ["z1", "z2"]', "(KL(q(z2 | x), p(z2)) - 1)**2 + (1/2 - c1)",
                      'c1 = "in (0, 1/2)"', ">"),
}


def test_the_oracle_kl_meets_1_inside_the_simplex():
    """The reproducers' falsity: KL((a, 1 - a), (1/10, 9/10)) = 1 at an a inside (0, 1), so at beta = 1 (or a
    likelihood's 1) the strict step's left side is 0."""
    with mpmath.mp.workdps(60):
        p0 = mpmath.mpf(1) / 10

        def kl(a):
            return a * mpmath.log(a / p0) + (1 - a) * mpmath.log((1 - a) / (1 - p0))

        a = mpmath.findroot(lambda a: kl(a) - 1, 0.7)
        assert 0 < a < 1 and abs(kl(a) - 1) < mpmath.mpf(10) ** -50


@pytest.mark.parametrize("case", [S0, S10], ids=["s0", "s10"])
def test_f1_a_meeting_on_a_closed_end_is_an_error(case):
    step = step_of(*case)
    assert_meets(step)
    assert "at its closed bound 1" in step.reason, step.reason


@pytest.mark.full
def test_f1_the_command_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s0.toml").write_text(text_of(*S0), encoding="utf-8")
    assert main(["check", "--no-cache", "s0.toml"]) == 1
    assert "0/1 file(s) pass" in capsys.readouterr().out


def test_an_open_end_stays_checked():
    step = step_of(*TRUE_STEPS["tt2"])
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(FALSE_STEPS))
def test_f1_every_reproducer_is_an_error(name):
    assert_meets(step_of(*FALSE_STEPS[name]))


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(TRUE_STEPS))
def test_a_true_sibling_stays_checked(name):
    step = step_of(*TRUE_STEPS[name])
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
@pytest.mark.parametrize("mutant, case", [("no face", S0), ("no face after the polishing", FALSE_STEPS["s4"]),
                                          ("closed ends picked as open edges", FALSE_STEPS["s3"])])
def test_the_mutants_let_a_false_step_pass(monkeypatch, mutant, case):
    """Each part of the rule is needed: without the face the frozen beta keeps the gap from falling (s0);
    without the face from the 60-digit point beta stays 6.4e-8 from 1 (s4); with a site at a closed end
    ranked as an open-edge decoy, two decoys take both places (s3).  Each passes with accept, as on main."""
    if mutant == "no face":
        monkeypatch.setattr(polishing, "_on_face", lambda site: None)
    elif mutant == "no face after the polishing":
        monkeypatch.setattr(polishing, "_face_after", lambda site, first: None)
    else:
        monkeypatch.setattr(polishing, "_on_closed_ends", lambda site: False)
    step = step_of(*case)
    assert step.verdict is Verdict.checked and step.passes, step.reason

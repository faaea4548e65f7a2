"""Red team rt57 F2-F6 (and F5's non-strict sibling): closed ends from premises, polished besides the
minimiser's start.

h-eng12's premise ends (`polishing._premise_ends`) moved the polishing's start onto a premise end within
BOUND_NEAR of the minimiser's point.  That lost meetings: with ``beta >= 0`` in [params] and a premise
``beta <= 1/10**8`` the start jumped to 1e-8, off the end 0 the sides meet on (F3); with two premise ends
1e-8 apart the later replaced the earlier (F2); a redundant premise ``beta >= 0`` over ``beta > 0`` moved it
onto 0, where log(beta) is undefined, and the site was dropped (F4).  A closed end that is no binary float
(1/5) froze beta at float(1/5), 1.1e-17 above it, so a non-strict step's rational points all missed (F5); a
premise end the minimiser overshot by 7e-3 (``beta >= 100``) was never near enough (F6).  Each false step
passed with accept.  Now the start stays the minimiser's, and each genuinely closed end (`_closed_ends`'
tightest) the minimiser left a coordinate near -- or, for a premise, past -- is a face polished besides it,
the end exact (`_near_ends`, `_on_face`, `_other_faces`), for non-strict steps too.  Each false step below is
false by hand at s = e and beta on the end (left side 0, or (log(s) - 1)**2 ~ 1e-120 at a 60-digit rational s).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, check_derivation
from elbo_sym.engine.derivation import loads

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""
TINY = "(1/10**12)**4"


def step_from(head: str, start: str, params: str, assume: tuple[str, ...] = (), rel: str = ">",
              right: str = "0"):
    """The one step `start rel right` of a file with `head` (K, model), [params] `params` and premises `assume`."""
    premises = ", ".join(f'"{a}"' for a in assume)
    text = (f'title = "t"\n{head}\nassume = [{premises}]\nstart = "{start}"\n\n[params]\n{params}\n\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{right}"\nrule = "algebra"\naccept = "checked"\n')
    return check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]


def step_of(start: str, params: str, assume: tuple[str, ...] = (), rel: str = ">", right: str = "0"):
    """rt57's shape: K = 2 with s > 0 besides `params`."""
    return step_from("K = 2", start, f's = "> 0"\n{params}', assume, rel, right)


def assert_fails(step, strict: bool) -> None:
    if strict:
        assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    else:
        assert step.verdict is Verdict.refuted, step.reason
    assert not step.passes


# name: (start, params, premises, rel, right) -- the red team's file names
F2 = ("(log(s) - 1)**2 + beta", 'beta = "real"', ("beta >= 0", "beta <= 1/10**8"), ">", "0")
F3 = ("(log(s) - 1)**2 + beta", 'beta = ">= 0"', ("beta <= 1/10**8",), ">", "0")
F3C = ("(log(s) - 1)**2 + beta", 'beta = ">= 0"', ("beta <= 1/10**8",), ">=", TINY)
F4 = ("(log(s) - 1)**2 + (beta - 1/10**7)**2*(1 + log(beta)**2)", 'beta = "> 0"', ("beta >= 0",), ">", "0")
F5 = ("(log(s) - 1)**2 + (beta - 1/5)", 'beta = ">= 1/5"', (), ">=", TINY)
F6 = ("(log(s) - 1)**2 + (beta - 100)", 'beta = "real"', ("beta >= 100",), ">", "0")
FALSE_STEPS = {
    "f2_premise_pair": F2,
    "f3_params_end_and_premise": F3,
    "f3b_upper": ("(log(s) - 1)**2 + (1 - beta)", 'beta = "<= 1"', ("beta >= 1 - 1/10**8",), ">", "0"),
    "f3c_nonstrict": F3C,
    "f4_redundant_premise": F4,
    "f5_fifth": ("(log(s) - 1)**2 + (beta - 1/5)", 'beta = ">= 1/5"', (), ">", "0"),
    "f5_fifth_nonstrict": F5,
    "f5_fifth_premise": ("(log(s) - 1)**2 + (beta - 1/5)", 'beta = "real"', ("beta >= 1/5",), ">", "0"),
    "f6_premise_100": F6,
}
TRUE_STEPS = {  # the same shapes with the end excluded or a positive constant added: each holds everywhere
    "pair + 1/10**12": ("(log(s) - 1)**2 + beta + 1/10**12", 'beta = "real"', ("beta >= 0", "beta <= 1/10**8"),
                        ">", "0"),
    "open end, redundant premise": ("(log(s) - 1)**2 + beta", 'beta = "> 0"', ("beta >= 0",), ">", "0"),
    "fifth + 1/10**12": ("(log(s) - 1)**2 + (beta - 1/5) + 1/10**12", 'beta = ">= 1/5"', (), ">=", "0"),
    "premise 100 + 1/10**12": ("(log(s) - 1)**2 + (beta - 100) + 1/10**12", 'beta = "real"', ("beta >= 100",),
                               ">", "0"),
}
FAST = ("f2_premise_pair", "f4_redundant_premise")


@pytest.mark.parametrize("name", FAST)
def test_a_false_step_fails_fast(name):
    start, params, assume, rel, right = FALSE_STEPS[name]
    assert_fails(step_of(start, params, assume, rel, right), rel in (">", "<"))


@pytest.mark.full
@pytest.mark.parametrize("name", [n for n in FALSE_STEPS if n not in FAST])
def test_a_false_step_fails(name):
    start, params, assume, rel, right = FALSE_STEPS[name]
    assert_fails(step_of(start, params, assume, rel, right), rel in (">", "<"))


@pytest.mark.full
@pytest.mark.parametrize("name", TRUE_STEPS)
def test_a_true_sibling_stays_checked(name):
    step = step_of(*TRUE_STEPS[name])
    assert step.verdict is Verdict.checked and step.passes, step.reason


def _moved_start(with_ends):
    """h-eng12's first rule: the start moved onto every premise end within BOUND_NEAR (the later one last)."""
    def moved(site, bounded):
        site = with_ends(site, bounded)
        start = list(site.chart.start)
        for i, pair in enumerate(site.chart.premise_ends):
            for end in pair:
                if end is not None and abs(start[i] - float(end)) <= polishing.BOUND_NEAR * (1 + abs(float(end))):
                    start[i] = float(end)
        return replace(site, chart=replace(site.chart, start=tuple(start)))
    return moved


def _started_near_the_upper_end(with_ends):
    """The minimiser stopping 1e-10 below the premise end 1e-8 (nearer it than the end 0 the sides meet on)."""
    def near_upper(site, bounded):
        site = with_ends(site, bounded)
        start = list(site.chart.start)
        for i, (_, upper) in enumerate(site.chart.premise_ends):
            if upper is not None:
                start[i] = float(upper) - 1e-10
        return replace(site, chart=replace(site.chart, start=tuple(start)))
    return near_upper


@pytest.mark.full
@pytest.mark.parametrize("mutant, case", [("start moved onto the premise end", F4),
                                          ("start moved onto the premise end", F3),
                                          ("faces for strict steps only", F5),
                                          ("no face on an end the start is past", F6)])
def test_the_mutants_let_a_false_step_pass(monkeypatch, mutant, case):
    """Each guard is needed: a start moved onto a raw premise end drops F4's site (log(0)) and F3's meeting at
    the [params] end; without a non-strict step's face its rational points keep float(1/5); without a face on
    a premise end the minimiser overshot, F6's beta stays 7e-3 outside it.  Each passes with accept."""
    if mutant == "start moved onto the premise end":
        monkeypatch.setattr(polishing, "_with_premise_ends", _moved_start(polishing._with_premise_ends))
        monkeypatch.setattr(polishing, "_on_face", lambda site: None)  # the old rule had no face on a premise end
        monkeypatch.setattr(polishing, "_other_faces", lambda site: [])
    elif mutant == "faces for strict steps only":
        monkeypatch.setattr(polishing, "_on_face", lambda site: None)
        monkeypatch.setattr(polishing, "_other_faces", lambda site: [])
    else:
        near_ends = polishing._near_ends
        monkeypatch.setattr(polishing, "_near_ends", lambda chart_: {
            i: kept for i, ends in near_ends(chart_).items()
            if (kept := [e for e in ends if abs(chart_.start[i] - float(e)) <= polishing.BOUND_NEAR * (1 + abs(e))])})
    step = step_of(*case)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
@pytest.mark.parametrize("faces", ["both ends", "the nearest end only"])
def test_a_start_nearer_the_other_end_still_meets(monkeypatch, faces):
    """F2 with the minimiser stopping nearer the premise end 1e-8 than the end 0 the sides meet on: the face on
    the farther end (`_other_faces`) finds the meeting; without it the step passes with accept."""
    monkeypatch.setattr(polishing, "_with_premise_ends", _started_near_the_upper_end(polishing._with_premise_ends))
    if faces == "the nearest end only":
        monkeypatch.setattr(polishing, "_other_faces", lambda site: [])
    step = step_of(*F2)
    if faces == "both ends":
        assert_fails(step, strict=True)
        assert "beta at its closed bound 0" in step.reason, step.reason
    else:
        assert step.verdict is Verdict.checked and step.passes, step.reason


# Red team rt58 F5 (same code): a face's meeting found at 60 digits waited for the 120-digit stage behind the
# site's own 60-digit polishing, which spent the step's allowance -- so no meeting, and the false step passed.
# False at beta = 1 and q(z) = (a, b, b, c, c, c) (K = 6) with H(q) = 3/2, sum q**2 = 1/4 (rt58's findroot, 80
# digits); the K = 8 one at H(q) = 2, sum q**2 = 3/20, as tests/test_polishing_reach.py's step without beta.
RT58_F5 = {
    "r6a": ("K = 6", "(E(q, log(q(z))) + 3/2)**2 + (E(q, q(z)) - 1/4)**2 + (beta - 1)"),
    "r8": ("K = 8", "(E(q, log(q(z))) + 2)**2 + (E(q, q(z)) - 3/20)**2 + (beta - 1)"),
}


def rt58_step(name: str):
    return step_from(*RT58_F5[name], 'beta = ">= 1"')


@pytest.mark.full
@pytest.mark.parametrize("name", RT58_F5)
def test_a_face_meeting_is_judged_before_the_allowance_runs_out(name):
    assert_fails(rt58_step(name), strict=True)


@pytest.mark.full
def test_the_mutant_judging_the_face_last_lets_rt58_f5_pass(monkeypatch):
    """Without judging a face's meeting at once (`_judged_at_once`), the site's own 60-digit polishing spends
    the allowance first and r6a passes with accept, as it did."""
    monkeypatch.setattr(polishing, "_judged_at_once", lambda site, first_margins: False)
    step = rt58_step("r6a")
    assert step.verdict is Verdict.checked and step.passes, step.reason


# Red team rt58 F1 (same code): a face's 60-digit polishing took another coordinate near its closed end, and no
# face with both fixed was polished.  False at beta = 1, gamma = 1 on the curve KL(q, p) = 1 (e.g. p(z) =
# (1/10, 9/10), q1 = 0.689217226544958...: rt55's mpmath check).
RT58_F1 = ("K = 2", "(KL(q(z), p(z)) - 1)**2 + (beta - 1) + (1 - gamma)**3", 'beta = ">= 1"\ngamma = "<= 1"')


def rt58_f1_step():
    return step_from(*RT58_F1)


@pytest.mark.full
@pytest.mark.parametrize("mutant", [False, True])
def test_a_face_after_a_face_fixes_both_ends(monkeypatch, mutant):
    """With `_face_after` from a face's 60-digit point the sides meet with beta and gamma on their ends; the
    mutant (the rule before: a face after only from a site with no face at its start) lets the false step pass
    with accept."""
    if mutant:
        face_after = polishing._face_after
        monkeypatch.setattr(polishing, "_face_after", lambda site, first: (
            None if site.on_face or polishing._on_face(site) is not None else face_after(site, first)))
    step = rt58_f1_step()
    if mutant:
        assert step.verdict is Verdict.checked and step.passes, step.reason
    else:
        assert_fails(step, strict=True)
        assert "beta at its closed bound 1 and gamma at its closed bound 1" in step.reason, step.reason

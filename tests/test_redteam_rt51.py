"""Red team rt51: the polished minima (engine.polishing) -- a true step's plateau taken for a meeting, and
edge decoys that kept the meetings inside from being polished.

* F1: ``KL(q(z), p(z)) + exp(-t) > 0`` with t in (0, 500) "met" at t = 431.8: the t-direction's curvature
  (exp(-t) = 3e-188) is below the polishing's EIGENVALUE_FLOOR, so t never moved, and the gap "fell" from the
  KL's 1.4e-131 at 60 digits to exp(-t) = 3e-188 at 120 -- a positive plateau below the 60-digit residual.
  Every such step is true; it was an `error`.  A meeting is now confirmed at CONFIRM_DIGITS (180), where a
  genuine gap falls by another 10**-120 and a plateau stays where it is (or falls too little).
* F2: ``(KL(q(z), p(z)) - 1)**2 > 0`` is false on a curve inside the simplex, but both polished minima were
  decoys on its edge (KL -> 1 as q leaves the simplex; in c7 one minimum and its mirror image, the states
  swapped), so the step passed with accept.  Minima inside the domain are now picked before edge ones, and a
  mirror image under which the difference is unchanged is the same minimum.

Oracles: F1's steps are true for every t (KL >= 0, a square >= 0, exp(-t) > 0, t**24 > 0); F2's are false where
KL(q, p) = 1, e.g. p = (1/10, 9/10), q1 = 0.689217226544958... (mpmath, red team's v10.py), checked below.
"""

from __future__ import annotations

from dataclasses import replace

import mpmath
import pytest
from sympy import Rational, exp, log, symbols

from elbo_sym.engine import polishing
from elbo_sym.engine.check import SIDES_MEET, Verdict, _explicit, _Instances, check_derivation
from elbo_sym.engine.derivation import loads
from elbo_sym.numbers.evaluate import compile_mp
from elbo_sym.numbers.polish import POLISH_DIGITS, Polished, polish

BUDGET = 120.0
"""A backstop on a shared machine (each search runs a fixed, counted plan)."""


def text_of(head: str, start: str, params: str = "", rel: str = ">", rhs: str = "0") -> str:
    block = f"\n[params]\n{params}\n" if params else ""
    return (f'title = "t"\n{head}\nstart = "{start}"\n{block}\n'
            f'[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\naccept = "checked"\n')


def step_of(head: str, start: str, params: str = "", rel: str = ">", rhs: str = "0"):
    return check_derivation(loads(text_of(head, start, params, rel, rhs), "t.toml"), budget=BUDGET).steps[0]


# --------------------------------------------------------------------------- F1: a plateau is no meeting

x, t = symbols("x t")


def polished_at(e, start, digits):
    return polish(lambda working: compile_mp(e, (x, t), working), start, digits, lambda: None)


def three_polishings(e, start):
    first = polished_at(e, start, POLISH_DIGITS[0])
    second = polished_at(e, list(first.point), POLISH_DIGITS[1])
    third = polished_at(e, list(second.point), polishing.CONFIRM_DIGITS)
    return first, second, third


@pytest.mark.parametrize("where", [300.0, 431.8, 621.0, 699.0])
def test_a_plateau_below_the_60_digit_residual_is_not_confirmed(where):
    """The F1 shape in two coordinates: a KL meeting 0 in x plus exp(-t), whose t-curvature the
    polishing drops.  At t = 431.8 the gap 'falls' from 60 to 120 digits as rt51 saw (so the old test alone
    took it for a meeting); at every t up to the floats' range (exp(-699) = 2.6e-304) it stays at 180."""
    e = x * log(3 * x) + (1 - x) * log(3 * (1 - x) / 2) + exp(-t)  # KL((x, 1 - x), (1/3, 2/3)) + exp(-t)
    first, second, third = three_polishings(e, [0.3333333, where])
    with mpmath.mp.workdps(30):
        plateau = mpmath.exp(-mpmath.mpf(where))
        assert abs(third.value - plateau) < plateau * mpmath.mpf(10) ** -6  # t did not move
        if where > 300:  # under the 60-digit residual: the old fall test passes
            assert polishing._gap_falls(abs(first.value), abs(second.value))
    assert not polishing._confirmed(second, third, 1.0)


def test_a_genuine_meeting_is_confirmed_at_the_third_precision():
    """A KL meeting 0 where t meets 1/7 (no plateau): the gap falls by about 10**-120 from 120 to 180 digits."""
    e = x * log(3 * x) + (1 - x) * log(3 * (1 - x) / 2) + (t - Rational(1, 7)) ** 2
    first, second, third = three_polishings(e, [0.3333333, 0.142857])
    assert polishing._gap_falls(abs(first.value), abs(second.value))
    assert polishing._confirmed(second, third, 1.0)
    with mpmath.mp.workdps(30):
        assert abs(third.value) < abs(second.value) * mpmath.mpf(10) ** -110


def test_the_confirmation_rule():
    """The rule alone, on made-up gaps at 120 and 180 digits at one point: a fall by CONFIRM_FALL or a gap
    below the level confirms; a plateau -- at or below the 120-digit residual, up to exp(-700) -- does not."""
    def at(gap, digits):
        return Polished(digits, (mpmath.mpf("0.25"),), mpmath.mpf(gap), True)

    def confirmed(second, third):
        return polishing._confirmed(at(second, 120), at(third, 180), 1.0)

    assert confirmed("3e-251", "3e-371")  # m10's meeting
    assert confirmed("1e-215", "1e-335")  # a genuine gap with a large constant: above the level, yet it falls
    assert confirmed("0", "0") and confirmed("0", "1e-380")  # exactly 0 at 120 digits: the level
    assert not confirmed("3e-188", "3e-188")  # F1's e1: the plateau is the 120-digit gap
    assert not confirmed("1e-251", "2.6e-304")  # exp(-699) below the 120-digit residual: falls too little
    assert not confirmed("0", "1e-300")
    assert not polishing._confirmed(at("3e-251", 120), None, 1.0)
    assert not polishing._confirmed(at("3e-251", 120), Polished(180, (mpmath.mpf("0.25"),), mpmath.mpf(0), False), 1.0)
    moved = Polished(180, (mpmath.mpf("0.26"),), mpmath.mpf(0), True)
    assert not polishing._confirmed(at("3e-251", 120), moved, 1.0)  # another point


TRUE_PLATEAUS = [  # (head, start, params): each `start > 0` is true; each was a SIDES_MEET error at afd570c
    ("K = 2", "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 500)"'),                  # e1: t = 431.8
    ("K = 2", "(log(s) - 1)**2 + exp(-t)", 's = "> 0"\nt = "in (0, 450]"'),       # e4: t = 412.9
    ('model = "gaussian"\nD = 1', "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 500)"'),  # e7
    ('model = "gaussian"\nD = 2', "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 500)"'),  # x4: t = 499.9999998
    ("K = 2", "KL(q(z), p(z)) + t**12 * t**12", 't = "in (0, 1)"'),               # y1: no exp at all
    ("K = 2", "KL(q(z), p(z)) + t**12 * t**8", 't = "in (0, 1)"'),                # y2
    ("K = 2", "(log(s) - 1)**2 + t**12 * t**12", 's = "> 0"\nt = "> 0"'),         # y3
    # up to the floats' range (each an error at afd570c too): exp(-t) down to 1e-304
    ("K = 2", "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 640]"'),
    ("K = 2", "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 700)"'),
    ("K = 3", "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 600)"'),
    ('model = "gaussian"', "KL(q(z), p(z)) + exp(-t)", 't = "in (0, 690)"'),
    ("K = 2", "(log(s) - 1)**2 + exp(-t)", 's = "> 0"\nt = "in (0, 699]"'),
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", TRUE_PLATEAUS)
def test_a_true_step_with_a_plateau_stays_checked(head, start, params):
    step = step_of(head, start, params)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_the_third_precision_the_plateau_is_a_meeting(monkeypatch):
    """The mutant: every meeting confirmed -- e1 is the error rt51 saw."""
    monkeypatch.setattr(polishing, "_confirmed", lambda *a: True)
    step = step_of(*TRUE_PLATEAUS[0])
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    assert "3.0e-188" in step.reason


# --------------------------------------------------------------------------- F2: minima inside first

KL_CURVE = "(KL(q(z), p(z)) - 1)**2"

M10_MINIMA = [  # (value, (prior, likelihood, q)): the float minima rt51 saw for m10, the smallest first
    (3.081487911038252e-31, [(0.3678794411714425, 0.6321205588285574), (9.868841159713691e-31, 3.3e-33),
                             (1.0, 2.5731292341647286e-29)]),
    (1.4914401489334754e-30, [(0.6321205588285572, 0.3678794411714428), (9.8688411595245e-31, 3.3e-33),
                              (1.0953423071610381e-33, 1.0)]),
    (1.3973839704626227e-26, [(0.297530278033314, 0.7024697219666861), (0.41705497386681906, 0.928995473376069),
                              (0.9575204726410365, 0.04247952735896354)]),
]


def model_and_parts(start: str):
    derivation = loads(text_of("K = 2", start), "t.toml")
    model = derivation.model()
    explicit = _explicit(model, model.spec.K)
    return explicit, _Instances(derivation.start.expr, ">", derivation.steps[0].expr, explicit, []).parts


def picked(start: str, minima: list):
    return polishing._picked(*model_and_parts(start), 1, minima)


def test_the_minimum_inside_is_picked_before_the_edge_decoys():
    """F2 (m10): the two edge minima (q at 2.6e-29 of the simplex's edge) are the smallest; the smallest keeps
    the first place (rt53 F1: it may be a meeting on a closed bound), the curve's minimum inside takes the second
    before the other decoy."""
    sites = picked(KL_CURVE, M10_MINIMA)
    assert len(sites) == 2
    assert not polishing._inside(sites[0]) and polishing._inside(sites[1])
    assert sites[1].chart.start == pytest.approx((0.297530278033314, 0.04247952735896354))


def test_the_curve_is_false_where_the_inside_minimum_points():
    """The oracle for F2: KL(q, p) = 1 at p = (1/10, 9/10) for q1 in (0, 1) (Newton in mpmath at 50 digits)."""
    with mpmath.mp.workdps(50):
        def kl(q):
            return q * mpmath.log(q / mpmath.mpf("0.1")) + (1 - q) * mpmath.log((1 - q) / mpmath.mpf("0.9"))
        root = mpmath.findroot(lambda q: kl(q) - 1, mpmath.mpf("0.69"))
        assert abs(kl(root) - 1) < mpmath.mpf(10) ** -40 and 0 < root < 1
        assert abs(root - mpmath.mpf("0.68921722654495820736")) < mpmath.mpf(10) ** -18


def test_a_mirror_image_is_the_same_minimum():
    """c7: a minimum and its mirror image (every block's states swapped) have equal chart starts; the
    difference E(q, log(p(x, z))) is unchanged by the swap, so the second is no new place -- but a difference
    that the swap changes (one with q_0 added) keeps both."""
    mirror = [(8.666e-30, [(0.10941928529706553, 0.8905807147029345), (1.0, 1.0),
                           (0.8986171209457373, 0.1013828790542627)]),
              (8.666e-30, [(0.8905807147029345, 0.10941928529706553), (1.0, 1.0),
                           (0.1013828790542627, 0.8986171209457373)])]
    start = "(E(q, log(p(x, z))) + 2)**2"
    assert len(picked(start, mirror)) == 1
    model, parts = model_and_parts(start)
    one, other = (polishing._site(model, parts, 1, values) for _, values in mirror)
    assert one.chart.start == other.chart.start and one.chart.free != other.chart.free
    assert polishing._same(one, other)
    q_0 = model.blocks[2].symbols[0]
    lopsided = [replace(site, objective=site.objective + q_0) for site in (one, other)]
    assert not polishing._same(*lopsided)


@pytest.mark.full
@pytest.mark.parametrize("head, start", [
    ("K = 2", KL_CURVE),                                                   # m10
    ("K = 2", "(log(p(x)) - ELBO(q) - log(2))**2"),                        # m9
    ("K = 2", "(E(q, log(p(x, z))) + 2)**2"),                              # c7
    ("K = 3", "(KL(q(z), p(z | x)) - 1)**2"),                              # c6
    ('latents = ["z1", "z2"]\nK = 2', "(log(p(x)) - ELBO(q) - 1)**2"),      # m11: 8 coordinates (with h-eng11's reach)
    ("K = 3", "(log(p(x)) - IWAE(q, 5) - 1/2)**2"),                        # T2
])
def test_a_meeting_on_a_curve_inside_is_an_error(head, start):
    step = step_of(head, start)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    assert not step.passes


@pytest.mark.full
def test_the_sliver_beside_the_curve_is_refuted():
    """s1: false within about 1e-24 of the same curve -- refuted at a rational beside a polished minimum."""
    step = step_of("K = 2", KL_CURVE, rel=">=", rhs="(1/10**12)**4")
    assert step.verdict is Verdict.refuted and step.counterexample is not None, step.reason


@pytest.mark.full
def test_without_the_new_picks_the_curve_passes(monkeypatch):
    """The mutant: every minimum counted as inside, no mirror image merged -- m10's two edge decoys (each
    other's mirror image) take both places and the false step passes, as rt51 saw.  Either pick alone
    brings a minimum inside to be polished (with mirrors merged, the third-smallest minimum is inside)."""
    monkeypatch.setattr(polishing, "_inside", lambda site: True)
    monkeypatch.setattr(polishing, "_mirror", lambda mine, theirs: None)
    step = step_of("K = 2", KL_CURVE)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_the_inside_first_order_an_elbo_gap_curve_passes(monkeypatch):
    """The mutant: every minimum counted as inside (mirror images still merged) -- m9's edge decoys, which are
    not each other's mirror image, take both places and the false step passes: the order alone catches it."""
    start = "(log(p(x)) - ELBO(q) - log(2))**2"
    assert step_of("K = 2", start).verdict is Verdict.error
    monkeypatch.setattr(polishing, "_inside", lambda site: True)
    step = step_of("K = 2", start)
    assert step.verdict is Verdict.checked and step.passes, step.reason



# --------------------------------------------------------------------------- F5: an exp factor that underflows

EXP_FACTOR_MEETINGS = [  # (head, start, params): each `start > 0` is false on a line inside (exp(...) > 0 there)
    ('model = "gaussian"', "(log(sigma) - 1)**2 * exp(-mu**2)", ""),           # g4: sigma = e, any mu
    ('model = "gaussian"', "(sigma**2 - 2)**2 * exp(-mu**2)", ""),             # g7: sigma = sqrt(2)
    ("K = 2", "(KL(q(z), p(z)) - 1/2)**2 * exp(-t**2)", 't = "real"'),          # g8
    ("K = 3", "(KL(q(z), p(z)) - 1)**2 * exp(-t**2)", 't = "real"'),            # g5
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", EXP_FACTOR_MEETINGS)
def test_a_meeting_times_an_underflowing_exp_is_an_error(head, start, params):
    """F5: the float margin is exactly 0 wherever the exp underflows (mu = +-700), and those minima took both
    places; minima whose exps are within the floats' range are now picked first."""
    step = step_of(head, start, params)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


@pytest.mark.full
def test_without_the_float_range_in_the_order_the_exp_factor_passes(monkeypatch):
    """The mutant: `_inside` without its float-range part -- g4 passes with accept, as rt51 saw."""
    monkeypatch.setattr(polishing, "_inside", lambda site: all(
        abs(margin) > polishing.EDGE_NEAR for margin, _ in site.chart.edges(site.chart.start)))
    step = step_of(*EXP_FACTOR_MEETINGS[0])
    assert step.verdict is Verdict.checked and step.passes, step.reason


# --------------------------------------------------------------------------- rt53 F1: closed bounds

CLOSED_BOUND_MEETINGS = [  # each `start > 0` is false where the frozen coordinate is 0, which `>= 0` allows
    ("K = 2", "(log(s) - 1)**2 + beta", 's = "> 0"\nbeta = ">= 0"'),                  # e10: beta left at 4e-127
    ('model = "gaussian"', "(log(sigma) - 1)**2 + beta", 'beta = ">= 0"'),            # e9
    ("K = 2", "(log(s) - 1)**2 + t**12 * t**12", 's = "> 0"\nt = ">= 0"'),            # z9: t left at 1.2e-9
    ('model = "gaussian"', "(log(sigma) - 1)**2 + t**12 * t**12", 't = ">= 0"'),      # z12: t = 1e-301, an edge
    ("K = 3", "(KL(q(z), p(z)) - 1)**2 + t**12 * t**12", 't = ">= 0"'),               # z14
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", CLOSED_BOUND_MEETINGS)
def test_a_meeting_on_a_closed_bound_is_an_error(head, start, params):
    """Red team rt53 F1 (a regression of rt51's first fix): the plateau rule dropped these meetings, and the
    inside-first order demoted a minimum on a closed bound; both false steps passed with accept."""
    step = step_of(head, start, params)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


TWO_BOUND_MEETINGS = [  # rt54 F1: each `start > 0` is false only with BOTH frozen coordinates on their bounds
    ("K = 2", "(log(s) - 1)**2 + beta + gamma", 's = "> 0"\nbeta = ">= 0"\ngamma = ">= 0"'),             # f1
    ("K = 2", "(log(s) - 1)**2 + beta + (1 - gamma)", 's = "> 0"\nbeta = ">= 0"\ngamma = "<= 1"'),       # f4
    # 0 at s = e, beta = gamma = 0 (in the domain): listed below as true until red team rt55 F1's faces found it
    ("K = 2", "(log(s) - 1)**2 + beta + gamma*(1 + exp(-gamma))", 's = "> 0"\nbeta = ">= 0"\ngamma = ">= 0"'),
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", TWO_BOUND_MEETINGS)
def test_a_meeting_with_two_coordinates_on_closed_bounds_is_an_error(head, start, params):
    """Red team rt54 F1: setting one coordinate at a time to its bound leaves the other's plateau, so these
    passed with accept; the coordinates near a closed bound are now set there together first."""
    step = step_of(head, start, params)
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason
    assert "beta at its closed bound 0 and gamma at its closed bound" in step.reason, step.reason


@pytest.mark.full
def test_one_bound_at_a_time_misses_the_two_bound_meeting(monkeypatch):
    """The mutant: only the settings of one bound each, and no clamping (the polishing leaves beta and gamma a
    hair outside their bounds here, which clamping alone also sets on them; inside, only the joint setting
    does) -- f1 passes with accept, as rt54 saw."""
    monkeypatch.setattr(polishing, "_clamped", lambda chart, point: list(point))
    monkeypatch.setattr(polishing, "_on_face", lambda site: None)  # red team rt55 F1's face would set both
    settings = polishing._bound_settings
    monkeypatch.setattr(polishing, "_bound_settings",
                        lambda chart, point: [s for s in settings(chart, point) if len(s) == 1])
    step = step_of(*TWO_BOUND_MEETINGS[0])
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
@pytest.mark.parametrize("start", ["(log(s) - 1)**2 + beta + gamma + 1/10**12",
                                   "(log(s) - 1)**2 + beta + gamma*(1 + exp(-gamma)) + (1/10**12)**5"])
def test_true_steps_at_two_closed_bounds_stay_checked(start):
    """Positive at every point, the bounds included: no setting of the bounds makes the gap fall."""
    step = step_of("K = 2", start, 's = "> 0"\nbeta = ">= 0"\ngamma = ">= 0"')
    assert step.verdict is Verdict.checked and step.passes, step.reason


NEAR_BOUND_TRUE_STEPS = [  # rt54 F2: positive everywhere in the domain (>= 1e-100), zero just outside it
    ("K = 2", "(log(s) - 1)**2 + beta + (gamma + (1/10**10)**5)**2", 's = "> 0"\nbeta = ">= 0"\ngamma = ">= 0"'),
    ("K = 2", "(log(s) - 1)**2 + beta + (E(q, log(p(x | z))) - (1/10**10)**5)**2", 's = "> 0"\nbeta = ">= 0"'),
]


@pytest.mark.full
@pytest.mark.parametrize("head, start, params", NEAR_BOUND_TRUE_STEPS)
def test_a_meeting_just_outside_a_closed_bound_is_none(head, start, params):
    """Red team rt54 F2: the polishing left gamma at -1e-50 (a likelihood just above 1), outside; with beta set to
    its bound the gap fell there, and the closed margin's -1e-40 slack let the point count: a true step was a
    SIDES_MEET error. Every other coordinate past a closed bound is now set on it, and closed margins must be >= 0."""
    step = step_of(head, start, params)
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_clamping_the_true_step_near_a_bound_is_an_error(monkeypatch):
    """The mutant: no coordinate clamped, the old slack -- the first true step errs, as rt54 saw."""
    monkeypatch.setattr(polishing, "_clamped", lambda chart, point: list(point))
    monkeypatch.setattr(polishing, "_inside_on_bound", polishing._inside_by_far)
    step = step_of(*NEAR_BOUND_TRUE_STEPS[0])
    assert step.verdict is Verdict.error and step.reason.startswith(SIDES_MEET), step.reason


@pytest.mark.full
def test_a_premise_that_excludes_the_closed_bound_keeps_the_true_step_checked():
    """beta > 0 as a premise: the bound beta = 0 is outside it, so the plateau is no meeting."""
    text = text_of("K = 2", "(log(s) - 1)**2 + beta", 's = "> 0"\nbeta = ">= 0"').replace(
        'start =', 'assume = "beta > 0"\nstart =')
    step = check_derivation(loads(text, "t.toml"), budget=BUDGET).steps[0]
    assert step.verdict is Verdict.checked and step.passes, step.reason


@pytest.mark.full
def test_without_the_closed_bound_the_linear_plateau_passes(monkeypatch):
    """The mutant: no coordinate set to its closed bound -- e10 passes with accept, as rt53 saw."""
    monkeypatch.setattr(polishing, "_on_a_closed_bound", lambda *a: None)
    monkeypatch.setattr(polishing, "_on_face", lambda site: None)  # nor polished on the face (rt55 F1)
    step = step_of(*CLOSED_BOUND_MEETINGS[0])
    assert step.verdict is Verdict.checked and step.passes, step.reason

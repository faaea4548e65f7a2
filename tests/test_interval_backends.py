"""The second opinion's two interval backends (elbo_sym/engine/reference/intervals.py) judge alike.

arb (python-flint, in C) is what a check uses where it imports; mpmath's pure-Python libmpi is what
the browser's checker uses (Pyodide has no python-flint).  Both are rigorous enclosures at the same
precision, so every opinion -- its status, its counts, its text -- and the work it counts must be the
same under both: on the true steps of the second-opinion corpus, on the false twins and on the
steps off by exp(-100) in every family, and on one file of each family.  The pure-Python backend is
run explicitly here, so the browser's path cannot rot while the command line uses arb.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from test_reference import FAMILIES, TINY_FALSE_STEPS, _file
from test_second_opinion_corpus import CONSTANT_DENSITIES, GAUSSIAN_CHAIN, _text, variants

from elbo_sym.engine import reference
from elbo_sym.engine.derivation import load, loads
from elbo_sym.engine.reference import discrete, intervals
from elbo_sym.engine.reference.rationals import Rational

REPO = Path(__file__).resolve().parent.parent
ONE_FILE_PER_FAMILY = ("derivations/decomposition.toml", "derivations/literature/iwae-three-over-two.toml",
                       "derivations/variants/hierarchical-gap.toml", "derivations/variants/gaussian-tight.toml",
                       "derivations/literature/kingma-welling-appendix-b-2d.toml",
                       "derivations/literature/ddpm-appendix-a-gaussian-t2.toml",
                       "derivations/literature/beta-vae.toml")


def _step(header: str, lhs: str, rel: str, rhs: str) -> tuple:
    d = loads(f'title = "t"\n{header}\nstart = "{lhs}"\n[[step]]\nrel = "{rel}"\nexpr = "{rhs}"\nrule = "algebra"\n')
    model = d.model()
    return d.start.expr, rel, d.steps[0].expr, model.spec, model.K


def _corpus_steps() -> list[tuple]:
    out = []
    for header, params, start, rel, expr, rule in variants():
        d = loads(_text(header, params, start, rel, expr, rule))
        model = d.model()
        out.append((d.start.expr, rel, d.steps[0].expr, model.spec, model.K))
    return out


def _false_steps() -> list[tuple]:
    out = []
    for _, header, start, false, true in FAMILIES:
        for expr in (false, true):
            d = loads(_file(header, start, expr))
            model = d.model()
            out.append((d.start.expr, "=", d.steps[0].expr, model.spec, model.K))
    for start, true, twins in CONSTANT_DENSITIES:
        out += [_step(GAUSSIAN_CHAIN, start, "=", true)] + [_step(GAUSSIAN_CHAIN, start, "=", t) for t in twins]
    out += [_step(*case) for case in TINY_FALSE_STEPS]
    return out


def _file_steps() -> list[tuple]:
    out = []
    for name in ONE_FILE_PER_FAMILY:
        d = load(REPO / name)
        model = d.model()
        lhs = d.start.expr
        for step in d.steps:
            out.append((lhs, step.rel, step.expr, model.spec, model.K))
            lhs = step.expr
    return out


def _opinions(backend: str, steps: list[tuple]) -> list[tuple]:
    with reference.use_backend(backend):
        assert discrete.backend().name == backend
        return [reference.second_opinion_and_work(*step) for step in steps]


LONG_NUMBER = re.compile(r"-?\d+\.\d{15,}(?:e[+-]?\d+)?")


def _to_15_digits(text: str) -> str:
    """Every number shown with 25 significant digits, rounded to 15: two enclosures of one value differ
    past the digits their widths guarantee (a difference of 3.7e-44 between sides of about 1 is known to
    about 19 digits at 210 bits), and `show` prints the midpoint to 25."""
    return LONG_NUMBER.sub(lambda m: f"{float(m.group()):.14e}", text)


def _comparable(opinion_and_work: tuple) -> tuple:
    opinion, work = opinion_and_work
    return replace(opinion, detail=_to_15_digits(opinion.detail)), work


@pytest.mark.full
@pytest.mark.parametrize("steps", [_corpus_steps, _false_steps, _file_steps],
                         ids=["the corpus's true steps", "false twins and steps off by exp(-100)", "a file per family"])
def test_both_backends_give_the_same_opinions_texts_and_work(steps):
    chosen = steps()
    arb, mpmath = _opinions("arb", chosen), _opinions("mpmath", chosen)
    assert len(arb) == len(chosen) >= 10
    differ = [(step[0], step[1], step[2], a, m) for step, a, m in zip(chosen, arb, mpmath)
              if _comparable(a) != _comparable(m)]
    assert differ == []
    exactly = sum(a == m for a, m in zip(arb, mpmath))  # texts and all, where no digit past 19 is shown
    assert exactly >= len(chosen) - len(TINY_FALSE_STEPS), exactly
    statuses = {opinion.status for opinion, _ in arb}
    if steps is _false_steps:  # the twins are decided, not merely agreed with
        assert statuses == {"agrees", "disagrees"}
    else:
        assert statuses == {"agrees"}


def test_a_false_step_is_disagreed_with_by_both_backends_with_the_difference_shown():
    step = _step("K = 2", "log(p(x))", "=", "log(p(x)) + exp(-100)")
    for backend in ("arb", "mpmath"):
        (opinion, _), = _opinions(backend, [step])
        assert opinion.disagrees and "lhs - rhs = -3.72007597602083596" in opinion.detail, opinion.detail  # 18 digits


@pytest.mark.full
def test_the_backend_is_arb_here_and_mpmath_without_python_flint():
    """python-flint is a dependency: the venv has it and a check uses arb; a process where it does
    not import (the browser's Pyodide, simulated by blocking the module) judges with mpmath, and
    ELBO_SYM_INTERVALS picks one by name (an unknown name is an error, never a silent substitute)."""
    assert sorted(intervals.available()) == ["arb", "mpmath"]
    assert intervals.chosen({}).name == "arb"
    assert intervals.chosen({intervals.BACKEND_VARIABLE: "mpmath"}) is intervals.MPMATH
    with pytest.raises(ImportError, match="not available"):
        intervals.chosen({intervals.BACKEND_VARIABLE: "mpfr"})
    if os.environ.get(intervals.BACKEND_VARIABLE) is None:
        assert discrete.backend().name == "arb"
    probe = ("import sys; sys.modules['flint'] = None\n"
             "from elbo_sym.engine.reference import discrete, intervals\n"
             "print(sorted(intervals.available()), discrete.backend().name)")
    env = {k: v for k, v in os.environ.items() if k != intervals.BACKEND_VARIABLE}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env,
                         timeout=CHILD_TIMEOUT_SECONDS)
    assert out.stdout.split() == ["['mpmath']", "mpmath"]


def test_the_browser_wheels_do_not_include_python_flint():
    """The checker's page loads only the wheels browser.py lists (pure Python): python-flint must not be one."""
    from elbo_sym.publish import browser

    assert "python-flint" not in browser.WHEEL_DISTRIBUTIONS and "flint" not in browser.WHEEL_DISTRIBUTIONS


@pytest.mark.parametrize("backend", ["arb", "mpmath"])
def test_the_ends_of_an_interval_enclose_the_value_and_a_ball_stays_rigorous(backend):
    """Converting a value to the judge's (lo, hi) ends loses no rigour: 1/3, log(2), exp(-100) and a
    sum that cancels to about 0 lie inside their ends, which are no wider than a few ulps at PREC."""
    import mpmath

    with reference.use_backend(backend):
        third = discrete._iv(Rational(1, 3))
        log2 = discrete._log(Rational(2))
        tiny = discrete._exp(Rational(-100))
        zero = discrete._sum((log2, discrete._product((Rational(-1), discrete._log(Rational(2))))))
        ends = [discrete.backend().ends(v) for v in (third, log2, tiny, zero)]
    with mpmath.workprec(400):
        exact = [mpmath.mpf(1) / 3, mpmath.log(2), mpmath.exp(-100), mpmath.mpf(0)]
        for (lo, hi), value in zip(ends, exact):
            lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
            assert lo <= value <= hi
            assert hi - lo <= abs(value) * mpmath.mpf(2) ** -200 + mpmath.mpf(2) ** -200


@pytest.mark.parametrize("backend", ["arb", "mpmath"])
def test_instances_whose_q_an_assumption_made_intervals_group_by_their_tables(backend):
    """sign_change and with_landmarks group instances by their tables; a q fixed by an assumption past an
    exp holds intervals (unhashable arb balls): each goes by the backend's key, and both backends find
    the same sign change and the same landmark instances."""
    import sympy

    from elbo_sym.engine.parse import parse_expression

    params = (("beta", ">= 1"),)
    with reference.use_backend(backend):
        cases = discrete.assumed(discrete.instances(2, params=params), parse_expression("exp(log(p(z | x)))"))
        assert discrete.backend().is_interval(cases[0].q[0])
        landmarks = discrete.with_landmarks(cases, params, (Rational(5, 4),))
        change = discrete.sign_change(1 / (sympy.Symbol("beta") - 3), sympy.Integer(0), cases, params)
    assert len(landmarks) == 4 and {inst.values["beta"] for inst in landmarks} == {Rational(5, 4)}
    assert change is not None and "changes sign between beta = 2 and beta = 4" in change.reason

"""Seeded exercise sheets and the tight-case drill (elbo_sym.lesson.exercises), and their commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction as F
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.lesson.examples import ExampleInputError
from elbo_sym.lesson.exercises import (
    MIN_GAP,
    NICE_DENOMINATORS,
    TASKS,
    format_drill,
    format_sheet,
    generate_exercises,
    tight_drill,
)

ROOT = Path(__file__).resolve().parent.parent


def _posterior(prior, likelihood):
    joint = [a * b for a, b in zip(prior, likelihood)]
    return tuple(j / sum(joint) for j in joint)


# ------------------------------------------------------------------ exercises


@pytest.mark.full
def test_sheet_constraints():
    sheet = generate_exercises(7, 30)
    assert sheet.count == len(sheet) == 30 and sheet.K == 2 and sheet.seed == 7
    seen = set()
    assert len({e.prior for e in sheet}) == 30  # no two cases share a prior
    for e in sheet:
        for f in e.prior + e.likelihood + e.q:
            assert 0 < f < 1
            # nice denominators; more than 13 binary priors need some up to 20
            assert any(d % f.denominator == 0 for d in NICE_DENOMINATORS) or (f in e.prior and f.denominator <= 20), f
        assert sum(e.prior) == 1 and sum(e.q) == 1
        assert e.likelihood[0] != e.likelihood[1]
        assert e.q != _posterior(e.prior, e.likelihood)
        assert e.key.gap.value > MIN_GAP  # certified comparison
        assert e.key.all_proved and e.key.engine_checked > 0
        assert (e.key.prior, e.key.likelihood, e.key.q) == (e.prior, e.likelihood, e.q)
        relabel_free = tuple(sorted(zip(e.prior, e.likelihood, e.q)))
        assert relabel_free not in seen
        seen.add(relabel_free)
    assert [e.index for e in sheet] == list(range(1, 31))


@pytest.mark.full
def test_same_seed_same_sheet_other_seed_other_sheet():
    a, b = generate_exercises(11, 6), generate_exercises(11, 6)
    assert [(e.prior, e.likelihood, e.q) for e in a] == [(e.prior, e.likelihood, e.q) for e in b]
    assert format_sheet(a) == format_sheet(b)
    c = generate_exercises(12, 6)
    assert [(e.prior, e.likelihood, e.q) for e in a] != [(e.prior, e.likelihood, e.q) for e in c]
    # a shorter sheet from the same seed is a prefix of a longer one
    assert [e.prior for e in generate_exercises(11, 3)] == [e.prior for e in a][:3]


def test_known_sheet_is_stable():
    """Pins the generator: a change here changes every printed sheet (bump deliberately)."""
    sheet = generate_exercises(7, 2)
    assert [(e.prior, e.likelihood, e.q) for e in sheet] == [
        ((F(2, 5), F(3, 5)), (F(1, 4), F(1, 2)), (F(3, 4), F(1, 4))),
        ((F(1, 10), F(9, 10)), (F(1, 5), F(2, 3)), (F(1, 5), F(4, 5))),
    ]


def test_larger_K():
    sheet = generate_exercises(1, 4, K=3)
    for e in sheet:
        assert e.K == 3 and sum(e.prior) == 1 and all(0 < f < 1 for f in e.prior + e.q + e.likelihood)
        assert e.key.gap.value > MIN_GAP


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1, "count": 3}, "seed"),
    ({"seed": 1, "count": 0}, "count"),
    ({"seed": 1, "count": 101}, "count"),
    ({"seed": 1, "count": 2, "K": 1}, "K"),
    ({"seed": "1", "count": 2}, "seed must be an integer"),
    ({"seed": 1.0, "count": 2}, "seed must be an integer"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ExampleInputError, match=message):
        generate_exercises(**kwargs)


def test_sheet_json_and_tasks():
    sheet = generate_exercises(3, 2)
    d = json.loads(json.dumps(sheet.as_dict()))
    assert d["seed"] == 3 and d["count"] == 2 and len(d["cases"]) == 2
    for case in d["cases"]:
        assert {"index", "prior", "likelihood", "q", "log_evidence", "elbo", "reconstruction", "kl_prior",
                "kl_posterior", "gap", "posterior", "identities"} <= set(case)
    keys = {t.key for t in TASKS}
    assert keys <= {"posterior"} | set(sheet[0].key.as_dict())
    assert all(t.symbol is not None for t in TASKS)


# ------------------------------------------------------------------ drill


def test_tight_drill():
    drill = tight_drill(5, 6)
    assert drill.ok and len(drill.cases) == 6
    for c in drill.cases:
        assert c.q == _posterior(c.prior, c.likelihood) and c.key.tight
        assert c.gap_is_zero and c.key.gap.value.is_zero and c.key.gap.exact == 0
        assert c.elbo_equals_log_evidence and c.key.elbo.value == c.key.log_evidence.value
        assert c.prior != c.q  # x is informative: the posterior moved
    near = drill.near_miss
    first = drill.cases[0]
    assert near.near_miss and (near.prior, near.likelihood) == (first.prior, first.likelihood)
    assert near.q != first.q and sum(near.q) == 1 and all(0 < f < 1 for f in near.q)
    assert not near.gap_is_zero and near.gap_positive and near.key.gap.value > 0
    assert near.key.elbo.value < near.key.log_evidence.value
    assert all(f.denominator == 10 or 10 % f.denominator == 0 for f in near.q)  # rounded to tenths
    assert tight_drill(5, 6) == drill


def test_tight_drill_text_and_json():
    drill = tight_drill(2, 2)
    text = format_drill(drill)
    assert "equal exactly: yes" in text and "gap = 0" in text and "> 0 (certified)" in text
    d = json.loads(json.dumps(drill.as_dict()))
    assert d["ok"] is True and all(c["gap_is_zero"] for c in d["cases"])
    assert d["near_miss"]["near_miss"] is True and d["near_miss"]["gap"]["value"] > 0


def test_near_miss_for_a_posterior_on_the_tenths_grid():
    from elbo_sym.lesson.exercises import _near

    assert _near((F(3, 10), F(7, 10))) != (F(3, 10), F(7, 10))
    assert _near((F(1, 2), F(1, 2))) != (F(1, 2), F(1, 2))
    q = _near((F(1, 3), F(1, 3), F(1, 3)))
    assert sum(q) == 1 and q != (F(1, 3),) * 3


# ------------------------------------------------------------------ CLI


def test_cli_exercises_text(capsys):
    assert main(["exercises", "--seed", "7", "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Exercise sheet: seed 7, 3 case(s), K = 2")
    assert "Answer key" in out and out.count("Case 1:") == 2


def test_cli_exercises_json(capsys):
    assert main(["exercises", "--seed", "7", "--count", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["seed"] == 7 and [c["prior"] for c in d["cases"]] == [["2/5", "3/5"], ["1/10", "9/10"]]
    assert d["cases"][0]["identities"]["gap_is_kl"] == "proved"


@pytest.mark.parametrize("args", [
    ["exercises", "--seed", "x"],
    ["exercises", "--seed", "7", "--count", "0"],
    ["exercises", "--count", "1000"],
    ["exercises", "--count", "1.5"],
    ["exercises", "--K", "9"],
    ["exercises", "--seed", "9" * 40],
    ["drill", "--count", "-3"],
])
def test_cli_bad_arguments_exit_2(args, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1


def test_cli_drill(capsys):
    assert main(["drill", "--seed", "1", "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert "Near miss" in out and out.count("equal exactly: yes") == 2


def _run(args, hashseed: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=hashseed)
    return subprocess.run([sys.executable, "-m", "elbo_sym"] + args, capture_output=True, cwd=ROOT, env=env,
                          timeout=CHILD_TIMEOUT_SECONDS)


@pytest.mark.full
@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_same_output_under_different_hash_seeds(extra):
    args = ["exercises", "--seed", "7", "--count", "5"] + extra
    first, second = _run(args, "1"), _run(args, "4242")
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # byte for byte
    assert b"Case 5" in first.stdout or b'"index": 5' in first.stdout


@pytest.mark.full
def test_drill_same_output_under_different_hash_seeds():
    command = ["drill", "--seed", "3", "--count", "3"]
    first, second = _run(command, "0"), _run(command, "99")
    assert first.returncode == 0 and first.stdout == second.stdout


@pytest.mark.full
def test_drill_does_not_give_away_the_sheet_of_the_same_seed():
    for seed in range(4):
        models = {(e.prior, e.likelihood) for e in generate_exercises(seed, 5)}
        assert not models & {(c.prior, c.likelihood) for c in tight_drill(seed, 5).cases}

"""Every entry point that reads a derivation or a deck bounds the reading, and a file's reading and
checking share its one file budget (elbo_sym.report.build.check_file, limits.loading_budget).

A file crafted to be slow to read (tests/slow_input.py: 140 long formulas, about 2 s to read on a
quiet machine, and minutes to check) goes through each command and API entry point with a file
budget of 0.2 s: each ends soon after with the one error line naming the file (exit 2), never a
hang and never a check.  The bounds leave room for a loaded 2-core machine; without the bound,
each entry point reads for seconds and then checks for minutes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from slow_input import slow_deck, slow_derivation

import elbo_sym.publish.commands  # noqa: F401  (imported up front: the timings below are the commands')
import elbo_sym.publish.handouts  # noqa: F401
import elbo_sym.publish.web  # noqa: F401
import elbo_sym.report.build as build
from elbo_sym.authoring import testing
from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, load
from elbo_sym.engine.repair import check_with_suggestions
from elbo_sym.limits import FILE_BUDGET_CAP_SECONDS, file_budget, loading_budget

REPO = Path(__file__).resolve().parent.parent
GAP = REPO / "derivations" / "gap.toml"
SMALL = "0.2"
"""The file budget the slow files get: far less than reading them takes."""
ENDS_WITHIN = 5.0
"""Seconds a command given SMALL may take (imports warm): reading the slow file alone takes about 2 s
on a quiet machine, checking it minutes."""
EXHAUSTED = f"file budget of {SMALL} CPU seconds exhausted while reading the file"


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("slow") / "slow.toml"
    path.write_text(slow_derivation(140), "utf-8")
    return path


@pytest.fixture(scope="module")
def slow_cards(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cards") / "cards.toml"
    path.write_text(slow_deck(100), "utf-8")
    return path


def timed(call):  # CPU time: the clock budgets run on (a loaded machine stretches only the wall time)
    started = time.process_time()
    result = call()
    return result, time.process_time() - started


def one_error_line(err: str, path: Path) -> str:
    """The one line naming the file that was not read in time (no traceback)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert f"{path}: {EXHAUSTED}" in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ one file budget for reading and checking


def test_the_check_gets_what_reading_left_of_the_file_budget():
    """`spent` seconds of the file budget are gone before the check starts: all of it spent, every
    step is `error` with the file budget's own words, at once; none spent, the file proves."""
    derivation = load(GAP)
    (result, seconds) = timed(lambda: check_with_suggestions(derivation, 10.0, total=30.0, spent=30.0))
    assert seconds < 2.0
    assert [s.verdict.value for s in result.steps] == ["error"] * len(derivation.steps)
    assert {s.reason for s in result.steps} == {"file budget of 30 CPU seconds exhausted"}
    assert all(s.verdict.value == "proved" for s in check_with_suggestions(derivation, 10.0, total=30.0).steps)


@pytest.mark.full  # waits out a file budget of 3 s (about 4.4 s in all)
@dataclass(frozen=True)
class _Unprinted:
    """A result's steps, not printed (report_of skipped); check_file adds the file's warnings to it."""

    steps: tuple
    warnings: tuple = ()


@pytest.mark.full
def test_reading_and_checking_a_file_stay_within_its_file_budget_together(tmp_path, monkeypatch):
    """`check_file` of a file that takes a while to read and longer to check ends within its file
    budget plus a small margin -- before, reading and checking each had the whole budget (about
    2 x F).  (The report is printed afterwards, outside the budget; it is skipped here.)"""
    path = tmp_path / "long.toml"
    path.write_text(slow_derivation(140), "utf-8")
    _, reading = timed(lambda: load(path))
    assert reading > 0.5  # what the old way added on top of the budget (about 0.75 s of CPU)
    monkeypatch.setattr(build, "report_of", lambda result: _Unprinted(result.steps))
    total = 3.0
    started = time.process_time()
    try:
        result = build.check_file(path, 10.0, total)
    except DerivationError as error:  # a very loaded machine: not even read within the budget
        assert "file budget of 3 CPU seconds exhausted while reading the file" in str(error)
    else:
        assert "file budget of 3 CPU seconds exhausted" in {s.reason for s in result.steps}
    assert time.process_time() - started < total + 0.5


def test_a_step_budget_does_not_starve_the_reading():
    """Without --file-budget, reading is bounded by the cap on a file's default budget, not by
    steps x a step budget: a tiny step budget (the hung-worker test's 0.0001 s) still reads the
    file, and its steps are `error`, not the file."""
    assert loading_budget(0.0001) == FILE_BUDGET_CAP_SECONDS == loading_budget()
    assert loading_budget(0.0001, 0.5) == 0.5 and loading_budget(500.0) == 500.0
    assert loading_budget() >= file_budget(200)
    reports, errors = build.check_all([str(GAP)], 0.0001, jobs=1)
    assert errors == [] and not reports[0].ok


# ------------------------------------------------------------------ every command bounds the reading


@pytest.mark.parametrize("command", ["check", "explain", "build", "web"])
def test_a_derivation_not_read_in_time_is_one_line_and_exit_2(command, slow, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = {"check": ["--no-cache"], "explain": [], "build": ["--out", "handouts"], "web": ["--out", "pages"]}
    good = tmp_path / "handouts" / "derivations.pdf"
    good.parent.mkdir()
    good.write_bytes(b"%PDF a good handout from an earlier build")
    code, seconds = timed(lambda: main([command, str(slow), "--file-budget", SMALL, *extra[command]]))
    out, err = capsys.readouterr()
    assert code == 2 and seconds < ENDS_WITHIN, (code, seconds, out, err)
    if command == "check":
        assert "1 file(s) with input errors" in out
    else:
        assert out == ""
    one_error_line(err, slow)
    assert good.read_bytes() == b"%PDF a good handout from an earlier build"  # a failed build writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handouts"]


@pytest.mark.full
@pytest.mark.parametrize("command", [["cards"], ["cards", "--check"], ["cards", "--json"],
                                     ["flashcards", "--anki", "deck.apkg"]])
def test_a_deck_not_read_in_time_is_one_line_and_exit_2(command, slow_cards, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, seconds = timed(lambda: main([*command, str(slow_cards), "--file-budget", SMALL]))
    out, err = capsys.readouterr()
    assert code == 2 and seconds < ENDS_WITHIN and out == "", (code, seconds, out, err)
    assert one_error_line(err, slow_cards).startswith("elbo-sym: error: ")
    assert list(tmp_path.iterdir()) == []  # no Anki package written


@pytest.mark.full
def test_build_reads_the_decks_within_the_deck_budget(slow_cards):
    """`build` and `web` read the course's decks through the same bounded reader (the deck budget)."""
    with pytest.raises(DerivationError, match=f"{slow_cards}: {EXHAUSTED}"):
        build.load_deck_in_time("flashcards", slow_cards, total=float(SMALL))
    with pytest.raises(DerivationError, match=EXHAUSTED):
        build.load_deck_in_time(None, slow_cards, total=float(SMALL))
    assert build.load_deck_in_time("selfcheck", None).kind == "selfcheck"  # the lesson's, read in time


@pytest.mark.parametrize("make", ["handouts", "pages"])
def test_build_and_web_read_the_course_decks_within_file_budget(make, slow_cards, tmp_path):
    """`build --file-budget F` and `web --file-budget F` give F to each deck they print too
    (elbo_sym.publish.project.course_handouts/course_web): a course deck not read in time is the
    one error naming it, before anything is written."""
    from elbo_sym.publish.project import course_handouts, course_web, find_project

    questions = tmp_path / "selfcheck.toml"  # the first deck the handouts and pages read
    questions.write_text(slow_deck(20, "selfcheck"), "utf-8")
    (tmp_path / "elbo-sym.toml").write_text(f'selfcheck = "{questions}"\nflashcards = "{slow_cards}"\n', "utf-8")
    course = find_project(str(tmp_path))
    make_all = course_handouts if make == "handouts" else course_web
    started = time.process_time()
    with pytest.raises(DerivationError, match=f"{questions}: file budget of 0.05 CPU seconds exhausted while"):
        make_all([], course, budget=10.0, file_budget=0.05)  # 20 questions: read in 0.4 s, far more than 0.05 s
    assert time.process_time() - started < 2 * ENDS_WITHIN  # the sheets before the decks included


# ------------------------------------------------------------------ the Python API and the browser's checker


@pytest.mark.full
def test_the_api_raises_a_documented_input_error(slow):
    started = time.process_time()
    with pytest.raises(DerivationError, match=EXHAUSTED):
        testing.check_file(slow, file_budget=float(SMALL))
    with pytest.raises(testing.DerivationInputFailed, match=EXHAUSTED):
        testing.assert_derivation(slow, file_budget=float(SMALL))
    with pytest.raises(testing.DerivationInputFailed, match=EXHAUSTED):
        testing.assert_refuted(slow, file_budget=float(SMALL))
    assert time.process_time() - started < 3 * ENDS_WITHIN
    with pytest.raises(ValueError, match="file budget"):
        testing.check_file(GAP, file_budget=0)


def test_the_browser_checker_reads_within_the_file_budget(slow):
    from elbo_sym.publish.browser import check_source

    answer, seconds = timed(lambda: json.loads(check_source(slow.read_text("utf-8"), "slow.toml",
                                                            file_budget=float(SMALL))))
    assert seconds < ENDS_WITHIN and answer["status"] == 2
    assert answer["text"].startswith(f"error: slow.toml: {EXHAUSTED}")


def test_without_an_alarm_the_reader_stops_at_its_checkpoints(slow, monkeypatch):
    """Where no SIGALRM can interrupt (the browser's Pyodide), the reader checks the deadline
    before each formula: reading still ends soon after the budget, one formula later at most."""
    from elbo_sym import budget as budgets

    monkeypatch.setattr(budgets, "ALARM", False)
    started = time.process_time()
    with pytest.raises(DerivationError, match=EXHAUSTED):
        build.load_in_time(slow, total=float(SMALL))
    assert time.process_time() - started < ENDS_WITHIN


@pytest.mark.parametrize("total", [0, -1.0, float("nan"), float("inf")])
def test_a_file_budget_that_is_not_finite_and_positive_is_refused_before_reading(total):
    with pytest.raises(ValueError, match="file budget must be a finite number of seconds > 0"):
        build.load_in_time(GAP, total=total)
    with pytest.raises(ValueError, match="file budget must be a finite number of seconds > 0"):
        build.check_all([str(GAP)], 10.0, jobs=1, total=total)


def test_a_file_that_trickles_in_is_refused_when_its_file_budget_runs_out(tmp_path, monkeypatch, capsys):
    """Reading the bytes waits on the disk or the network, which CPU time does not count: a file that
    comes in a little at a time (a slow network filesystem, a writer still adding to it) had the whole
    reading patience whatever the file budget.  Now its wall time is bounded by the file budget and the
    error names the file and what ran out.  The clock is the test's: one second passes at each look."""
    import itertools

    from elbo_sym import files

    path = tmp_path / "trickle.toml"
    path.write_bytes(GAP.read_bytes())
    seconds = itertools.count(0.0, 1.0)
    monkeypatch.setattr(files, "_clock", lambda: next(seconds))
    monkeypatch.setattr(files, "_CHUNK", 64)  # a few bytes at each read: a second each
    ran_out = "file budget of 5 seconds ran out while reading the file's bytes"
    with pytest.raises(DerivationError) as caught:
        build.load_in_time(path, total=5.0)
    assert "trickle.toml" in str(caught.value) and ran_out in str(caught.value)
    assert main(["check", "--no-cache", "--jobs", "1", "--file-budget", "5", str(path)]) == 2
    err = capsys.readouterr().err
    assert "trickle.toml" in err and ran_out in err
    assert len(GAP.read_bytes()) > 64 * 6  # more reads than the budget has seconds
    monkeypatch.setattr(files, "_CHUNK", 65536)  # the same file in one read: within the budget
    assert build.load_in_time(path, total=5.0).derivation.title

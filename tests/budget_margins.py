"""How near each CPU budget a test's checks come: the margin of a verdict over the machine's speed.

A budget (elbo_sym.budget.limit) runs on CPU time, which load stretches far less than wall time --
but it does stretch it (caches and cores shared with other workers): a check that spends 7 s of its
10 s idle ran out in a loaded CI (session 21's stop, tests/test_accept_without_densities.py). The rule:

* a test whose assertion needs a check to finish spends at most MARGIN_SHARE of any budget on an idle
  machine; a check that needs more is given room, a budget passed explicitly (`budget=`, `total=`,
  `--budget`) with a comment saying why;
* a test of what happens when a budget runs out gives one far below the work (`budget=0.2`), so it
  runs out on any machine.

tests/test_budget_margins.py holds the suite to it where it can without timing anything: a test that
tests/durations.json says takes more than MARGIN_SHARE of the default step budget and checks at the
default budget (none passed anywhere in its function, the module's functions and fixtures it calls)
is listed in LONG_AT_THE_DEFAULT_BUDGET, with the CPU of its largest check as measured -- many short
checks, each far from its budget.  The product's default budget stays exercised: only the tests that
need room get it, every other check (the shipped tree through the command included) runs at the default.

With ELBO_SYM_BUDGET_MARGINS=DIR (tests/conftest.py) every budget a test enters is recorded: what
it was granted (after its enclosing budget's end), the CPU spent in it, whether it ran out; each
process writes DIR/budgets-<worker>.jsonl, and bench/budget_margins.py lists the tests nearest
their budgets (how the figures below were measured).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

MARGIN_SHARE = 0.5
"""Most of a budget a check a test relies on finishing may spend on an idle machine: a 2x margin."""

ROOM_SECONDS = 60.0
"""The budget a test gives a check whose finished verdict it judges when the default would leave less than the
margin (tests/test_accept_without_densities.py's ROOM, the lead's fix of session 21's stop): six times the default
step budget, far above the slowest such check measured (19 s of CPU on a loaded machine, test_iwae_symbolic's)."""

RECORDED_SHARE = 0.25
"""Budgets spent below this share are not written down (most are: a record of every step's budget
would be large, and says nothing about margins)."""

_ENTRIES: list[list[object]] = []
"""The budgets the running test entered that came near their end: [what, granted, spent, ran out]."""


def _recording(original: Callable[..., AbstractContextManager[None]]) -> Callable[..., AbstractContextManager[None]]:
    """elbo_sym.budget.limit that also writes down each budget it ran that came near its end."""
    from elbo_sym import budget

    @contextmanager
    def limit(seconds: float, what: str | None = None) -> Iterator[None]:
        start = budget.clock()
        granted = min(seconds, budget.remaining())
        try:
            with original(seconds, what):
                yield
        finally:
            spent = budget.clock() - start
            if granted > 0 and spent >= RECORDED_SHARE * granted:
                _ENTRIES.append([what or f"limit({seconds:g})", round(granted, 3), round(spent, 3), spent >= granted])

    limit._records_margins = True  # type: ignore[attr-defined]
    return limit


def install() -> None:
    """Record every budget from now on, in this process (every caller in elbo_sym reads elbo_sym.budget.limit
    off the module when it enters a budget)."""
    from elbo_sym import budget

    if not getattr(budget.limit, "_records_margins", False):
        budget.limit = _recording(budget.limit)  # type: ignore[assignment]


@contextmanager
def recording() -> Iterator[list[list[object]]]:
    """Record the budgets entered within the block only (the recorder's own test): the entries, as they come."""
    from elbo_sym import budget

    original = budget.limit
    saved = take()
    budget.limit = _recording(original)  # type: ignore[assignment]
    try:
        yield _ENTRIES
    finally:
        budget.limit = original  # type: ignore[assignment]
        _ENTRIES[:0] = saved


def take() -> list[list[object]]:
    """The entries recorded since the last call (the running test's)."""
    entries = list(_ENTRIES)
    _ENTRIES.clear()
    return entries


def append(folder: str, process: str, nodeid: str, entries: list[list[object]]) -> None:
    """One line of DIR/budgets-<process>.jsonl, [node id, [[what, granted, spent, ran out], ...]], written as
    each test ends (a run stopped half-way keeps what it measured)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / f"budgets-{process}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps([nodeid, entries]) + "\n")


LONG_AT_THE_DEFAULT_BUDGET: dict[str, str] = {
    # (measured in session 22 with bench/budget_margins.py on a loaded machine, load 9-13 on 2 cores: CPU time
    # stretches under load, so each figure is above its idle one; "none near" = no budget reached RECORDED_SHARE)
    "tests/test_budget.py::test_nested_budgets_that_run_out_together_leave_no_alarm_behind":
        "no check: a child process's 2,000 nested budgets of 1 ms (its own, run out on purpose)",
    "tests/test_course_anyk.py::test_build_follows_the_course": "builds; its checks: none near",
    "tests/test_exact_configured.py::test_the_configured_plan_names_failures_the_other_plans_missed":
        "many small residuals: none near",
    "tests/test_exact_configured.py::test_generated_residuals_never_prove_a_false_step_nor_name_a_failure_of_a_true_one":
        "a seed's many generated residuals, each small: none near",
    "tests/test_fuzz_soundness.py::test_family_fuzz_slice_is_not_vacuous":
        "the fuzzer's own budget (2 s a step), in forked workers: largest step seen 0.69 s (34 %)",
    "tests/test_fuzz_soundness.py::test_fuzz_run_is_large_enough_and_not_vacuous":
        "the fuzzer's own budget (0.5 s a step), in forked workers: largest step seen 0.14 s (28 %)",
    "tests/test_handouts.py::test_every_handout_builds_without_overfull_boxes":
        "LaTeX builds of the lesson, whose files check in 0.14 s of CPU at most",
    "tests/test_handouts.py::test_a_set_is_replaced_whole_and_stale_handouts_are_removed":
        "LaTeX builds of the lesson, whose files check in 0.14 s of CPU at most",
    "tests/test_layout.py::test_long_two_layer_chains_build_without_overfull_boxes": "LaTeX builds; none near",
    "tests/test_mixtures.py::test_parameter_weights_that_can_leave_the_simplex_are_refused_with_an_instance":
        "two checks of one file (the library, the command): none near",
    "tests/test_mutants.py::test_mutant_is_not_accepted":
        "largest mutant check 4.3 s (43 %); refuted and error alike pass it (a budget's error is not acceptance)",
    "tests/test_redteam_rt30.py::test_cards_prints_a_deck_by_the_rule_of_flashcards":
        "a deck of small cards: none near",
    "tests/test_second_opinion_corpus.py::test_every_proved_step_of_the_corpus_gets_agree":
        "the tree's files, each checked in under 0.5 s of CPU: none near",
    "tests/test_second_opinion_corpus.py::test_the_corpus_covers_every_family": "the tree's files: none near",
    "tests/test_solutions.py::test_none_has_no_answers_anywhere": "builds of the lesson: none near",
    "tests/test_typography.py::test_a_k3_example_is_not_called_binary": "builds: none near",
    "tests/test_web.py::test_site_every_formula_is_rendered": "the site's build (node, Astro): its checks none near",
    "tests/test_web.py::test_checker_gives_the_clis_verdicts_and_counterexamples":
        "the browser's checker, whose budgets run on wall time (Pyodide): its slowest file took 2.0 s of its "
        "10 s in the day's loaded runs (checker_drive.mjs's `seconds`; 5.1 s entries are the drive's own 5 s wait)",
}
"""Tests longer than MARGIN_SHARE of the default step budget (tests/durations.json) that check at the default
budget, by test function, with what was measured of their checks (bench/budget_margins.py) or why their length is
not one check's: the evidence that each keeps the margin.  tests/test_budget_margins.py keeps the list whole."""

"""The suite's two tiers, in one place: which tests the fast loop keeps, and the sizes of the long
campaigns (issue 19 item 6).

`make test` is the author's fast loop; `make test-full` runs what it leaves out, and CI runs both
(`make check`), so a test moved to the full tier loses no assertion in CI. The rule for the fast
tier, to apply to every new test:

* a test that takes FAST_TEST_CPU_SECONDS of CPU or more (its process and the children it waits
  for: LaTeX, node, `python -m elbo_sym`) is marked `full` -- on the test, its class or its module
  (`pytestmark`), or on a slow parameter (`pytest.param(..., marks=pytest.mark.full)`);
* except the representatives named in FAST_REPRESENTATIVES, one of each slow kind, each with why:
  one real LaTeX build of the lesson's handouts read back, the command as one process, each
  fuzzer and mutant campaign at its small size, the docs test, the tiers' own check.

A campaign that takes its size from `sized(fast, full)` (or `sized_int`, `one_per_family`) runs at
the small size in `make test` and at full size in `make test-full` (ELBO_SYM_FULL_CAMPAIGNS=1), each
still covering every kind and family and asserting its minimum. Nothing is skipped in either tier.
tests/test_suite_sizes.py checks the rule against tests/durations.json (each test's CPU seconds from
a CPU record, bench/suite_durations.py), with FAST_TEST_CHECKED_SECONDS as its bound.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

FULL_CAMPAIGNS = os.environ.get("ELBO_SYM_FULL_CAMPAIGNS") == "1"
"""True under `make soundness` (and so in CI after `make test`): the campaigns at full size."""


FAST_TEST_CPU_SECONDS = 0.5
"""A test of `make test` takes less CPU than this (else it is marked `full` or named below): the fast
tier's ~5,000 tests then cost about 200 s of CPU, under 150 s of wall time on two cores."""

FAST_TEST_CHECKED_SECONDS = 2 * FAST_TEST_CPU_SECONDS
"""The bound tests/test_suite_sizes.py holds tests/durations.json's figures to: twice the rule's, as a
test's CPU varies with the load and with what its worker ran before it (a model or a fixture built
once per process is charged to the first test that asks for it)."""

FAST_REPRESENTATIVES: dict[str, str] = {
    "tests/test_handouts.py::test_every_handout_builds_without_overfull_boxes":
        "the lesson's handouts built with LaTeX (the file's `built` fixture, which its other tests read back)",
    "tests/test_cache_fast_path.py::test_a_cold_process_without_click":
        "the command as a process (`python -m elbo_sym check`, exit 1 on a wrong step); "
        "the other commands' tests call elbo_sym.cli.main in-process",
    "tests/test_docs.py::test_every_command_on_the_page_prints_what_it_shows":
        "the docs test: every command README.md and docs/ show, run (issue 19: in `make test`)",
    "tests/test_fuzz_soundness.py::test_fuzz_run_is_large_enough_and_not_vacuous":
        "the expression fuzzer's campaign at its small size",
    "tests/test_fuzz_soundness.py::test_family_fuzz_slice_is_not_vacuous":
        "the family fuzzer's campaign at its small size (each family's slice)",
    "tests/test_mutants.py::test_mutant_is_not_accepted":
        "the mutants' campaign at its small size (their verdicts, a module fixture, charged to the first)",
    "tests/test_mutants.py::test_suggestions_do_not_change_verdicts":
        "the mutants' refutation sample with repair suggestions",
    "tests/test_exact_decisions.py::test_the_decision_agrees_with_a_brute_force_search_on_random_residuals":
        "the exact decision against brute force on random residuals, one span (the others are `full`)",
    "tests/test_exact_rule.py::test_every_step_the_rule_proves_holds_on_a_grid":
        "the exact rule against a grid, one campaign at its small size (the others are `full`)",
    "tests/test_parse.py::test_fuzz_token_soup_never_crashes": "the parser's fuzzer (token soup)",
    "tests/test_printer_round_trip.py::test_every_parsed_tree_prints_back_to_itself":
        "the printer's round trip over the grammar's trees",
    "tests/test_variants.py::test_every_variant_and_lesson_file_is_proved_for_every_latent_space":
        "every lesson and variant file checked",
    "tests/test_literature.py::test_every_literature_file_is_proved_for_every_latent_space_and_cites_its_source":
        "one literature file per model family checked (`one_per_family`)",
    "tests/test_accept_without_densities.py::test_rt40_a_searched_density_does_not_let_accept_pass_a_k_any_step":
        "accept = \"checked\" refused on K = \"any\" (rt37, rt40): its cheapest reproducer, 2 s (the rest are `full`)",
    "tests/test_suite_sizes.py::test_every_collected_test_is_in_make_test_or_make_test_full":
        "the tiers' own check, over the whole collection",
}
"""The slow tests `make test` keeps on purpose (test function, every parameter: why), one of each kind."""


def sized(fast: int | float, full: int | float) -> int | float:
    """`full` when the full campaigns are asked for, else `fast` (both chosen by the caller, with
    the reason next to them)."""
    return full if FULL_CAMPAIGNS else fast


def sized_int(fast: int, full: int) -> int:
    """`sized` for counts (typed as int)."""
    return full if FULL_CAMPAIGNS else fast


@functools.cache
def family(path: Path) -> str:
    """The model a derivation file is checked in, as the registry tells them apart: the discrete
    model with K = "any" is the general family; a chain with K = "any" the general chain; a Gaussian
    with D = "any", with D >= 2 and with 2 or 3 latent layers each its own model. Read once per
    file (the samples ask for every file's family, and for the sample's again in their assertion)."""
    from elbo_sym.engine.derivation import load

    derivation = load(path)
    if derivation.family == "discrete":
        return "general" if derivation.K == "any" else "discrete"
    if derivation.family == "chain":
        return "general chain" if derivation.K == "any" else f"chain ({len(derivation.latents)} layers)"
    if derivation.family == "gaussian" and len(derivation.latents) > 1:
        return f"gaussian layers ({len(derivation.latents)})"
    if derivation.family == "gaussian":
        return {"any": "gaussian, D any", 1: "gaussian"}.get(derivation.D, "gaussian, D >= 2")
    return derivation.family


def one_per_family(paths: list[Path]) -> list[Path]:
    """Every file at full size; else the first file of each family (in the given order), asserted
    to cover every family of `paths` (the web tests' samples of the lesson's and the literature's
    files: each family's pages and checks, not each file's)."""
    if FULL_CAMPAIGNS:
        return list(paths)
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(family(path), path)
    sample = list(first.values())
    assert {family(p) for p in sample} == {family(p) for p in paths} and len(sample) >= 2
    return sample

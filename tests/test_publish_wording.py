"""Counts, run-in heads and reproduce lines as the pages print them (red team rt4's cosmetic list):
"1 case", never "1 cases"; "The step is proved", never "All 1 steps"; a sentence after a bold
run-in head starts with a capital; the exercises page names every setting of its sheet."""

from __future__ import annotations

import re
import shlex

import pytest

from elbo_sym.prose import counted, sentence
from elbo_sym.publish import web
from elbo_sym.publish.handouts import derivation_context


@pytest.mark.parametrize(("n", "text"), [(0, "0 cases"), (1, "1 case"), (2, "2 cases"), (21, "21 cases")])
def test_a_count_and_its_noun_agree(n, text):
    assert counted(n, "case") == text


def test_a_one_case_exercises_page_says_so_and_its_command_gives_the_same_sheet():
    page = web.exercises_page(seed=77, count=1, K=3, parts=["elbo", "evidence"])
    assert "Seed 77, 1 case (" in page.body and "1 cases" not in page.body
    assert page.description.endswith("(seed 77, 1 case).")
    command = re.search(r"the same as `([^`]*)`", page.body).group(1)
    words = shlex.split(command)
    assert words[:2] == ["elbo-sym", "exercises"]
    options = dict(zip(words[2::2], words[3::2]))
    assert options == {"--seed": "77", "--count": "1", "--K": "3", "--parts": "evidence,elbo"}  # in the lesson's order
    again = web.exercises_page(seed=int(options["--seed"]), count=int(options["--count"]), K=int(options["--K"]),
                               parts=options["--parts"].split(","))
    assert again == page  # the command names every setting: the same sheet, whatever a folder's defaults


def test_a_one_step_derivation_is_not_all_1_steps_and_integrability_starts_a_sentence(checked_report):
    report = checked_report("derivations/variants/beta-elbo.toml")
    assert len(report.steps) == 1 and report.fully_proved and report.convention
    page = web.derivations_page([report])
    assert "**Result.** The step is proved, so" in page.body and "All 1 steps" not in page.body
    head = re.search(r"\*\*Integrability\.\*\* (\S)", page.body)
    assert head is not None and head.group(1).isupper(), page.body
    assert derivation_context(report)["all_proved"] == "The step is proved"


def test_sentence_capitalises_only_the_first_letter():
    assert sentence("for densities, KL(q, p)") == "For densities, KL(q, p)"
    assert sentence("") == ""


def test_one_tight_case_and_one_identity(checked_report):
    drill = web.tight_drill_page(seed=5, count=1)
    assert "Seed 5, 1 tight case and one near miss." in drill.body
    page = web.literature_page([checked_report("derivations/literature/iwae-bound-every-k.toml")])
    assert page is not None and page.description.startswith("1 identity from papers")

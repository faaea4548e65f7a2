"""Red team rt15's findings on the published files' manifests and on the budgets' wording (F7, F8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.authoring import pytest_plugin
from elbo_sym.cli import main
from elbo_sym.publish.outputs import FILES_MANIFEST, NotOursError, OwnedElsewhereError, claim_file, record_file

REPO = Path(__file__).resolve().parents[1]


def test_a_quiz_written_before_the_manifests_says_how_to_go_on(tmp_path):
    """F7: a quiz or deck an older elbo-sym wrote is not listed, so it is refused: the message says why
    it may be (an older elbo-sym) and what to do, once."""
    quiz = tmp_path / "quiz.xml"
    quiz.write_text('<?xml version="1.0"?>\n<!-- elbo-sym exercises, seed 7, 5 cases: Moodle XML -->\n<quiz/>',
                    "utf-8")  # as every quiz elbo-sym wrote starts (rt41 F4: only such a file gets the hint)
    with pytest.raises(NotOursError, match=r"quiz.xml: elbo-sym did not write it.*older elbo-sym.*delete it once"):
        claim_file(quiz)


def test_a_listed_file_edited_since_is_kept_without_the_older_version_hint(tmp_path):
    quiz = tmp_path / "quiz.xml"
    quiz.write_text("<quiz/>", "utf-8")
    record_file(quiz)
    quiz.write_text("<quiz>edited</quiz>", "utf-8")
    with pytest.raises(NotOursError, match="changed since elbo-sym wrote it") as refused:
        claim_file(quiz)
    assert "older elbo-sym" not in str(refused.value)


@pytest.mark.parametrize("name", [FILES_MANIFEST, ".elbo-sym-roster.json", ".ELBO-SYM-Handouts.json"])
def test_a_manifests_name_is_never_a_target(tmp_path, name):
    """F8: `exercises --moodle .elbo-sym-files.json` wrote the quiz over the folder's manifest."""
    with pytest.raises(OwnedElsewhereError, match=r"elbo-sym's own manifests are named \.elbo-sym-\*\.json"):
        claim_file(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_the_exercises_command_refuses_a_manifests_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["exercises", "--moodle", FILES_MANIFEST]) == 2
    assert "elbo-sym's own manifests are named" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_pytest_plugins_budgets_say_cpu_seconds():
    """The ini help of the budgets names their clock, as the command line's --budget does."""
    helps = {}

    class Parser:
        def addini(self, name, help, **kwargs):  # noqa: A002 - pytest's own keyword
            helps[name] = help

        def addoption(self, *args, **kwargs):
            pass

        def getgroup(self, *args, **kwargs):
            return self

    pytest_plugin.pytest_addoption(Parser())
    assert helps["elbo_sym_budget"].startswith("time budget in CPU seconds per derivation step")
    assert helps["elbo_sym_file_budget"].startswith("time budget in CPU seconds of one derivation file")


def test_docs_quote_the_narrowed_range_as_the_report_words_it():
    """docs/02 quoted "every value of mu the premises allow"; the report reads "every mu >= 1 (as the
    premises narrow it)" (tests/test_redteam_rt13.py pins the report's words)."""
    text = re.sub(r"\s+", " ", (REPO / "docs" / "02-what-checked-means.md").read_text("utf-8"))
    assert '"every mu >= 1 (as the premises narrow it)"' in text
    assert "every value of mu the premises allow" not in text

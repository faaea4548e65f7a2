"""Single files named alike but for case (red team rt20 F5): on a case-sensitive disk ``quiz.xml`` and
``Quiz.xml`` are two files, both listed in the folder's manifest, each re-writable; where one file has
both names (a case-insensitive disk; a hard link stands in for it here) one entry is kept.  A manifest
that is a folder is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.files import InputError
from elbo_sym.publish.moodle import write_moodle_quiz
from elbo_sym.publish.outputs import FILES_MANIFEST, NotOursError, claim_file, listed, record_file


def test_two_files_that_differ_in_case_are_both_listed_and_each_rewritable(tmp_path):
    lower, upper = tmp_path / "quiz.xml", tmp_path / "Quiz.xml"
    write_moodle_quiz(lower, seed=1, count=1)
    first = lower.read_bytes()
    write_moodle_quiz(upper, seed=2, count=1)
    assert lower.read_bytes() == first != upper.read_bytes()  # two files on this disk
    assert sorted(listed(tmp_path, FILES_MANIFEST)) == ["Quiz.xml", "quiz.xml"]
    assert write_moodle_quiz(lower, seed=1, count=1) == lower  # a re-run of the first: allowed
    assert write_moodle_quiz(upper, seed=2, count=1) == upper
    assert sorted(listed(tmp_path, FILES_MANIFEST)) == ["Quiz.xml", "quiz.xml"]
    lower.write_bytes(first + b"<!-- edited by hand -->")  # the other's hash never vouches for it
    with pytest.raises(NotOursError, match="quiz.xml: changed since elbo-sym wrote it"):
        write_moodle_quiz(lower, seed=1, count=1)


def test_one_file_under_two_spellings_is_listed_once(tmp_path):
    lower, upper = tmp_path / "quiz.xml", tmp_path / "Quiz.xml"
    write_moodle_quiz(lower, seed=1, count=1)
    os.link(lower, upper)  # one file, two names: what a case-insensitive disk makes of the two spellings
    assert claim_file(upper) == upper  # listed as quiz.xml, unchanged: ours to replace
    record_file(upper)
    assert listed(tmp_path, FILES_MANIFEST) == ["Quiz.xml"]


def test_a_manifest_that_is_a_folder_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    (tmp_path / FILES_MANIFEST).mkdir()
    with pytest.raises(InputError, match=f"{FILES_MANIFEST}: a folder where elbo-sym keeps"):
        write_moodle_quiz(tmp_path / "quiz.xml", seed=1, count=1)
    monkeypatch.chdir(tmp_path)
    assert main(["exercises", "--count", "1", "--seed", "1", "--moodle", "quiz.xml"]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and ".tmp" not in error and "nothing was written" in error
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == [FILES_MANIFEST]

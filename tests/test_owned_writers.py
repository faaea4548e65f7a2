"""The library's writers of single files own them as the commands do (publish.outputs.write_owned):
``write_apkg``, ``write_moodle_quiz`` and ``write_cards_quiz`` called from Python refuse to replace a
file elbo-sym did not write (or one changed since), with the commands' one-line error, and list what
they wrote, so a re-run replaces it.  A folder whose manifest another command keeps locked is one line,
exit 2, after MANIFEST_LOCK_WAIT_SECONDS, and nothing is written."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.files import InputError
from elbo_sym.lesson.practice import load_flashcards
from elbo_sym.publish import outputs
from elbo_sym.publish.anki import write_apkg
from elbo_sym.publish.moodle import write_cards_quiz, write_moodle_quiz
from elbo_sym.publish.outputs import FILES_MANIFEST, NotOursError, listed

WRITERS: dict[str, Callable[[Path], Path]] = {
    "write_apkg": lambda path: write_apkg(load_flashcards().cards, path, timestamp=1_700_000_000),
    "write_moodle_quiz": lambda path: write_moodle_quiz(path, 2026, 2),
    "write_cards_quiz": lambda path: write_cards_quiz(path, []),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_writer_called_from_python_refuses_the_users_own_file(tmp_path, writer):
    write = WRITERS[writer]
    mine = tmp_path / "mine.out"
    mine.write_bytes(b"the user's own work")
    with pytest.raises(NotOursError, match=r"mine.out: elbo-sym did not write it, and this command would replace "
                                           r"it: nothing was written"):
        write(mine)
    assert mine.read_bytes() == b"the user's own work"
    assert listed(tmp_path, FILES_MANIFEST) == []

    ours = tmp_path / "ours.out"
    assert write(ours) == ours and listed(tmp_path, FILES_MANIFEST) == ["ours.out"]
    assert write(ours) == ours and listed(tmp_path, FILES_MANIFEST) == ["ours.out"]  # a re-run replaces its own file
    # (not byte for byte: genanki stamps the zip's entries with the time of writing)
    ours.write_bytes(ours.read_bytes() + b"\nedited by hand")
    with pytest.raises(NotOursError, match="ours.out: changed since elbo-sym wrote it"):
        write(ours)
    assert ours.read_bytes().endswith(b"edited by hand")


def test_a_writer_refuses_a_file_another_commands_manifest_lists(tmp_path):
    (tmp_path / "answers.pdf").write_bytes(b"%PDF")
    outputs.remove_stale(tmp_path, ".elbo-sym-handouts.json", ["answers.pdf"], lambda _e: True)
    with pytest.raises(outputs.OwnedElsewhereError, match="answers.pdf: written by another command"):
        write_moodle_quiz(tmp_path / "answers.pdf", 2026, 2)
    assert (tmp_path / "answers.pdf").read_bytes() == b"%PDF"


def _held(folder: Path) -> int:
    """The folder's lock, held as another elbo-sym command writing its manifest holds it."""
    holder = os.open(folder, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    return holder


def test_a_writer_waits_for_the_lock_then_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "MANIFEST_LOCK_WAIT_SECONDS", 0.3)
    holder = _held(tmp_path)
    try:
        with pytest.raises(InputError, match="another elbo-sym command kept it locked for 0.3 s; nothing was written"):
            write_moodle_quiz(tmp_path / "quiz.xml", 2026, 2)
    finally:
        os.close(holder)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_flashcards_anki_while_another_command_holds_the_lock(tmp_path, monkeypatch, capsys):
    """A second ``flashcards --anki F`` while another command holds the folder's manifest: exit 2 with one
    line after the (here shortened) wait, and neither F nor the manifest changed; once the lock is free the
    same command writes F."""
    monkeypatch.setattr(outputs, "MANIFEST_LOCK_WAIT_SECONDS", 0.5)
    deck = tmp_path / "deck.apkg"
    holder = _held(tmp_path)
    try:
        started = time.monotonic()
        code = main(["flashcards", "--anki", str(deck)])
        waited = time.monotonic() - started
    finally:
        os.close(holder)
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and waited >= 0.5
    assert err.splitlines() == [f"elbo-sym: error: {tmp_path / FILES_MANIFEST}: another elbo-sym command kept it "
                                f"locked for 0.5 s; nothing was written, run this command again"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no deck, no manifest, no temporary file
    assert main(["flashcards", "--anki", str(deck)]) == 0
    assert deck.stat().st_size > 0 and listed(tmp_path, FILES_MANIFEST) == ["deck.apkg"]

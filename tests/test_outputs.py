"""publish/outputs.py: a set of files is moved in together or not at all, and the manifest lists it."""

from __future__ import annotations

import hashlib
import json

import pytest

from elbo_sym.publish.outputs import OwnedElsewhereError, listed, move_in, remove_stale, stale_file


def _staged(tmp_path, *names: str):
    staging, folder = tmp_path / "staging", tmp_path / "out"
    staging.mkdir(parents=True)
    folder.mkdir(exist_ok=True)
    for name in names:
        (staging / name).write_text(f"new {name}", "utf-8")
    return staging, folder


def test_a_folder_where_a_file_goes_replaces_nothing(tmp_path):
    """Red team rt5: the roster's second sheet was a folder; the first sheet was replaced, the key not."""
    staging, folder = _staged(tmp_path, "a.pdf", "b.pdf", "key.pdf")
    for name in ("a.pdf", "key.pdf"):
        (folder / name).write_text(f"old {name}", "utf-8")
    (folder / "b.pdf").mkdir()
    with pytest.raises(IsADirectoryError, match="b.pdf is a folder"):
        move_in(staging, folder, ["a.pdf", "b.pdf", "key.pdf"], ".manifest.json")
    assert (folder / "a.pdf").read_text("utf-8") == "old a.pdf"
    assert (folder / "key.pdf").read_text("utf-8") == "old key.pdf"


def test_the_set_moves_in_and_a_stale_file_of_the_last_run_goes(tmp_path):
    staging, folder = _staged(tmp_path, "a.pdf", "b.pdf")
    move_in(staging, folder, ["a.pdf", "b.pdf"], ".manifest.json")
    staging, _ = _staged(tmp_path / "second", "a.pdf")
    (folder / "mine.txt").write_text("the user's", "utf-8")
    removed = move_in(staging, folder, ["a.pdf"], ".manifest.json")
    assert removed == [folder / "b.pdf"] and not (folder / "b.pdf").exists()
    assert (folder / "a.pdf").read_text("utf-8") == "new a.pdf" and (folder / "mine.txt").exists()
    assert set(listed(folder, ".manifest.json")) == {"a.pdf"}


def test_a_tampered_manifest_removes_only_the_runs_own_files(tmp_path):
    """Never a file the tool did not write: an entry outside the folder (``..``, an absolute path),
    inside a linked folder, or a symlink (to a file outside, or to one of the folder's) stays."""
    staging, folder = _staged(tmp_path, "a.pdf")
    move_in(staging, folder, ["a.pdf"], ".manifest.json")
    outside = tmp_path / "outside.pdf"
    outside.write_text("keep", "utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.pdf").write_text("keep", "utf-8")
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    (folder / "link.pdf").symlink_to(outside)
    (folder / "old.pdf").write_text("the last run's", "utf-8")
    entries = ["../outside.pdf", str(outside), "linked/x.pdf", "link.pdf", "old.pdf", "a/../../outside.pdf"]
    digest = hashlib.sha256(b"the last run's").hexdigest()
    (folder / ".manifest.json").write_text(json.dumps({"files": ["a.pdf", *entries], "sha256": {"old.pdf": digest}}),
                                           "utf-8")
    assert [stale_file(folder, entry) for entry in entries] == [None, None, None, None, folder / "old.pdf", None]
    staging, _ = _staged(tmp_path / "second", "a.pdf")
    assert move_in(staging, folder, ["a.pdf"], ".manifest.json") == [folder / "old.pdf"]
    assert outside.read_text("utf-8") == "keep" and (folder / "link.pdf").is_symlink()
    assert (tmp_path / "elsewhere" / "x.pdf").read_text("utf-8") == "keep"


def test_a_file_written_now_is_never_removed_by_another_spelling(tmp_path):
    """Red team rt8: ``docs//index.md`` and ``docs/./index.md`` in the manifest name the page just
    written as ``docs/index.md``; before, they were removed as stale."""
    page = tmp_path / "docs" / "index.md"
    page.parent.mkdir()
    page.write_text("fresh", "utf-8")
    digest = hashlib.sha256(b"fresh").hexdigest()
    entries = ["docs//index.md", "docs/./index.md"]
    (tmp_path / ".m.json").write_text(json.dumps({"files": entries, "sha256": dict.fromkeys(entries, digest)}), "utf-8")
    assert remove_stale(tmp_path, ".m.json", ["docs/index.md"], lambda _entry: True) == []
    assert page.read_text("utf-8") == "fresh"


def test_a_case_folded_entry_is_the_file_written_now(tmp_path):
    """Run 1 listed ``Alice.pdf``, run 2 writes ``alice.pdf``: on a case-insensitive file system one
    file, which must survive.  Here (case-sensitive) the old ``Alice.pdf`` is another file: it is
    neither removed nor listed any more (forgotten, as the names compare equal), and the new one stays."""
    staging, folder = _staged(tmp_path, "Alice.pdf")
    move_in(staging, folder, ["Alice.pdf"], ".manifest.json")
    staging, _ = _staged(tmp_path / "second", "alice.pdf")
    assert move_in(staging, folder, ["alice.pdf"], ".manifest.json") == []
    assert (folder / "alice.pdf").read_text("utf-8") == "new alice.pdf"
    assert (folder / "Alice.pdf").read_text("utf-8") == "new Alice.pdf"
    assert listed(folder, ".manifest.json") == ["alice.pdf"]


def test_a_file_changed_since_it_was_written_is_kept(tmp_path, capsys):
    """Red team rt8: a page the user edited after run 1 was removed by run 2; and a manifest without
    hashes (older, or hand-written) removes nothing: its entries are kept and forgotten."""
    staging, folder = _staged(tmp_path, "a.pdf", "b.pdf", "c.pdf")
    move_in(staging, folder, ["a.pdf", "b.pdf", "c.pdf"], ".manifest.json")
    (folder / "b.pdf").write_text("edited by the user", "utf-8")
    staging, _ = _staged(tmp_path / "second", "a.pdf")
    assert move_in(staging, folder, ["a.pdf"], ".manifest.json") == [folder / "c.pdf"]
    assert (folder / "b.pdf").read_text("utf-8") == "edited by the user"
    assert f"kept {folder / 'b.pdf'}: changed since elbo-sym wrote it" in capsys.readouterr().err
    assert listed(folder, ".manifest.json") == ["a.pdf"]
    (folder / "mine.txt").write_text("the user's", "utf-8")
    (folder / ".manifest.json").write_text(json.dumps({"files": ["a.pdf", "mine.txt"]}), "utf-8")
    staging, _ = _staged(tmp_path / "third", "a.pdf")
    assert move_in(staging, folder, ["a.pdf"], ".manifest.json") == []
    assert (folder / "mine.txt").read_text("utf-8") == "the user's"


def test_a_manifest_that_is_a_symbolic_link_removes_nothing(tmp_path):
    """Red team rt10: F2's manifest linked to F1's, and a run in F2 removed F2's answers.pdf (the user's
    copy, never written there by elbo-sym) because F1's manifest listed it with those bytes."""
    staging, first = _staged(tmp_path, "exercises.pdf", "answers.pdf")
    move_in(staging, first, ["exercises.pdf", "answers.pdf"], ".manifest.json")
    second = tmp_path / "F2"
    second.mkdir()
    (second / "answers.pdf").write_bytes((first / "answers.pdf").read_bytes())  # the user's copy, same bytes
    (second / ".manifest.json").symlink_to(first / ".manifest.json")
    staging, _ = _staged(tmp_path / "run2", "exercises.pdf")
    assert move_in(staging, second, ["exercises.pdf"], ".manifest.json") == []
    assert (second / "answers.pdf").exists() and (first / "answers.pdf").exists()


def test_two_commands_never_share_a_file(tmp_path):
    """Red team rt8: a roster's student ``answers`` overwrote build's ``answers.pdf``, and the next
    build removed the student's sheet.  Now the second command refuses before writing anything."""
    staging, folder = _staged(tmp_path, "exercises.pdf", "answers.pdf")
    move_in(staging, folder, ["exercises.pdf", "answers.pdf"], ".elbo-sym-handouts.json")
    staging, _ = _staged(tmp_path / "roster", "Answers.pdf", "teacher-key.pdf")
    with pytest.raises(OwnedElsewhereError, match=r"Answers.pdf: written by another command \(listed in .*handouts"):
        move_in(staging, folder, ["Answers.pdf", "teacher-key.pdf"], ".elbo-sym-roster.json")
    assert (folder / "answers.pdf").read_text("utf-8") == "new answers.pdf"
    assert not (folder / "teacher-key.pdf").exists()
    staging, _ = _staged(tmp_path / "again", "exercises.pdf")
    assert move_in(staging, folder, ["exercises.pdf"], ".elbo-sym-handouts.json") == [folder / "answers.pdf"]

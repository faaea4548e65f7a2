"""publish/outputs.py: a set of files is moved in together or not at all, and the manifest lists it."""

from __future__ import annotations

import json

import pytest

from elbo_sym.publish.outputs import listed, move_in, stale_file


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
    (folder / ".manifest.json").write_text(json.dumps({"files": ["a.pdf", *entries]}), "utf-8")
    assert [stale_file(folder, entry) for entry in entries] == [None, None, None, None, folder / "old.pdf", None]
    staging, _ = _staged(tmp_path / "second", "a.pdf")
    assert move_in(staging, folder, ["a.pdf"], ".manifest.json") == [folder / "old.pdf"]
    assert outside.read_text("utf-8") == "keep" and (folder / "link.pdf").is_symlink()
    assert (tmp_path / "elsewhere" / "x.pdf").read_text("utf-8") == "keep"

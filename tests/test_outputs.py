"""publish/outputs.py: a set of files is moved in together or not at all, and the manifest lists it."""

from __future__ import annotations

import pytest

from elbo_sym.publish.outputs import listed, move_in


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

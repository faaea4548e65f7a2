"""publish/outputs.py: a set of files is moved in together or not at all, and the manifest lists it."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.publish.outputs import OwnedElsewhereError, listed, move_in, refuse_foreign, remove_stale, stale_file


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


def _folds_case(folder) -> bool:
    """Whether `folder`'s file system makes ``X`` and ``x`` one file (asked of the folder itself)."""
    probe = folder / ".Case-Probe"
    probe.write_text("probe", "utf-8")
    try:
        return (folder / ".case-probe").exists()
    finally:
        probe.unlink()


def test_a_renamed_case_is_a_stale_file_or_the_file_written_now(tmp_path):
    """Red team rt10: run 1 wrote ``alice.pdf``, run 2 (the id's capital fixed) ``Alice.pdf``, run 3
    (Alice dropped).  On a case-sensitive file system ``alice.pdf`` is another file: stale, removed by
    run 2 while unchanged (before, it was forgotten and never removed).  On one that folds case it is
    the file just written, which must survive.  The real folder's behaviour decides which."""
    staging, folder = _staged(tmp_path, "alice.pdf", "bob.pdf")
    move_in(staging, folder, ["alice.pdf", "bob.pdf"], ".manifest.json")
    staging, _ = _staged(tmp_path / "second", "Alice.pdf", "bob.pdf")
    removed = move_in(staging, folder, ["Alice.pdf", "bob.pdf"], ".manifest.json")
    assert (folder / "Alice.pdf").read_text("utf-8") == "new Alice.pdf"
    if _folds_case(folder):
        assert removed == []
    else:
        assert removed == [folder / "alice.pdf"] and not (folder / "alice.pdf").exists()
    assert sorted(listed(folder, ".manifest.json")) == ["Alice.pdf", "bob.pdf"]
    staging, _ = _staged(tmp_path / "third", "bob.pdf")
    assert move_in(staging, folder, ["bob.pdf"], ".manifest.json") == [folder / "Alice.pdf"]
    assert sorted(p.name for p in folder.iterdir()) == [".manifest.json", "bob.pdf"]


def test_an_old_spelling_of_the_file_written_now_survives(tmp_path):
    """What a case-folding file system does, on any: ``alice.pdf`` (listed by run 1) and ``Alice.pdf``
    (written by run 2) are one file, here two links to it.  Nothing just written is removed; the old
    spelling is forgotten, a changed one too."""
    staging, folder = _staged(tmp_path, "alice.pdf")
    move_in(staging, folder, ["alice.pdf"], ".manifest.json")
    staging, _ = _staged(tmp_path / "second", "Alice.pdf")
    os.link(staging / "Alice.pdf", folder / "alice.pdf.new")
    os.replace(folder / "alice.pdf.new", folder / "alice.pdf")  # one file, two names
    assert move_in(staging, folder, ["Alice.pdf"], ".manifest.json") == []
    assert (folder / "alice.pdf").read_text("utf-8") == (folder / "Alice.pdf").read_text("utf-8") == "new Alice.pdf"
    assert listed(folder, ".manifest.json") == ["Alice.pdf"]


@pytest.mark.full
def test_a_roster_of_thousands_costs_a_few_looks_per_file(tmp_path, monkeypatch):
    """The written files are looked up once per run, not once per stale entry: before, each stale
    entry was compared with every written file by samefile (2,000 x 2,000 pairs, two stats each)."""
    names = [f"s{i:04}.pdf" for i in range(2000)]
    staging, folder = _staged(tmp_path, *names)
    move_in(staging, folder, names, ".manifest.json")
    renamed = [f"t{i:04}.pdf" for i in range(2000)]
    staging, _ = _staged(tmp_path / "second", *renamed)
    looks = 0
    real_stat = os.stat

    def counted_stat(*args, **kwargs):
        nonlocal looks
        looks += 1
        if looks > 20 * len(names):
            raise AssertionError(f"more than {looks - 1} stat calls for {len(names)} files")
        return real_stat(*args, **kwargs)

    monkeypatch.setattr(os, "stat", counted_stat)
    try:
        removed = move_in(staging, folder, renamed, ".manifest.json")
    finally:
        monkeypatch.undo()  # pytest's own reporting stats files too
    assert len(removed) == 2000
    assert sorted(p.name for p in folder.iterdir()) == [".manifest.json", *renamed]


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


def test_a_pages_folder_inside_a_site_is_refused_both_ways(tmp_path):
    """Red team rt10: ``web --out S/src/content/docs`` inside a ``web --site S`` folder: the site's
    manifest lists its pages, the pages' manifest the same files; each run removed or overwrote the
    other's.  Now the second command refuses (either way round) and nothing changes."""
    site, docs = tmp_path / "S", tmp_path / "S" / "src" / "content" / "docs"
    docs.mkdir(parents=True)
    for name in ("a.md", "b.md"):
        (docs / name).write_text(f"site page {name}", "utf-8")
    remove_stale(site, ".elbo-sym-site.json", ["src/content/docs/a.md", "src/content/docs/b.md"], lambda _e: True)
    with pytest.raises(OwnedElsewhereError,
                       match=r"docs/a.md: written by another command \(listed in .*S/\.elbo-sym-site"):
        refuse_foreign(docs, ".elbo-sym-pages.json", ["a.md"])
    refuse_foreign(docs, ".elbo-sym-pages.json", ["c.md"])  # a page the site does not list is free
    other = tmp_path / "P" / "src" / "content" / "docs"
    other.mkdir(parents=True)
    (other / "a.md").write_text("pages", "utf-8")
    remove_stale(other, ".elbo-sym-pages.json", ["a.md"], lambda _e: True)
    with pytest.raises(OwnedElsewhereError, match=r"P/src/content/docs/a.md: written by another command "
                                                  r"\(listed in .*docs/\.elbo-sym-pages"):
        refuse_foreign(tmp_path / "P", ".elbo-sym-site.json", ["package.json", "src/content/docs/a.md"])
    assert (other / "a.md").read_text("utf-8") == "pages"


def test_a_folder_inside_another_commands_folder_is_refused_by_move_in(tmp_path):
    """The same for a set moved in: a manifest of an enclosing folder that lists ``sub/a.pdf`` (any
    command's, also the same command's run on the outer folder) refuses the run in ``sub``, before a
    file moves; a folder through a link counts as the folder it leads to."""
    staging, outer = _staged(tmp_path, "x.pdf")
    (outer / "sub").mkdir()
    (outer / "sub" / "a.pdf").write_text("outer's", "utf-8")
    digest = hashlib.sha256(b"outer's").hexdigest()
    manifest = {"files": ["sub/a.pdf"], "sha256": {"sub/a.pdf": digest}}
    (outer / ".elbo-sym-handouts.json").write_text(json.dumps(manifest), "utf-8")
    (tmp_path / "link").symlink_to(outer / "sub")
    for folder in (outer / "sub", tmp_path / "link"):
        staging, _ = _staged(tmp_path / f"run-{folder.name}", "A.pdf")
        with pytest.raises(OwnedElsewhereError, match="A.pdf: written by another command"):
            move_in(staging, folder, ["A.pdf"], ".elbo-sym-handouts.json")
    assert sorted(p.name for p in (outer / "sub").iterdir()) == ["a.pdf"]


_WRITER = """
import sys
from pathlib import Path
from elbo_sym.files import replace_file
from elbo_sym.publish.outputs import claim_file, record_file
folder, name = Path(sys.argv[1]), sys.argv[2]
for i in range(150):
    record_file(replace_file(claim_file(folder / f"{name}{i % 3}.xml"), f"{name} {i}".encode()))
"""


@pytest.mark.full
def test_two_commands_writing_into_one_folder_at_once_keep_every_entry(tmp_path):
    """Red team rt15: `record_file` read and rewrote the folder's manifest unlocked, so of two commands
    writing there at once one lost its entry (its next run was refused).  Two processes, 150 writes each."""
    import subprocess
    import sys

    from elbo_sym.publish.outputs import FILES_MANIFEST, claim_file

    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name]) for name in ("a", "b")]
    assert [writer.wait(timeout=CHILD_TIMEOUT_SECONDS) for writer in writers] == [0, 0]
    assert sorted(listed(tmp_path, FILES_MANIFEST)) == ["a0.xml", "a1.xml", "a2.xml", "b0.xml", "b1.xml", "b2.xml"]
    for name in ("a0.xml", "b2.xml"):
        assert claim_file(tmp_path / name) == tmp_path / name  # a re-run may replace each


def test_a_folder_locked_too_long_is_an_error_not_a_lost_entry(tmp_path, monkeypatch):
    import fcntl

    from elbo_sym.files import InputError
    from elbo_sym.publish import outputs

    (tmp_path / "quiz.xml").write_text("<quiz/>", "utf-8")
    monkeypatch.setattr(outputs, "MANIFEST_LOCK_WAIT_SECONDS", 0.2)
    holder = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another command, writing its entry
        with pytest.raises(InputError, match="another elbo-sym command kept it locked for 0.2 s"):
            outputs.record_file(tmp_path / "quiz.xml")
    finally:
        os.close(holder)
    assert outputs.record_file(tmp_path / "quiz.xml") == tmp_path / "quiz.xml"
    assert listed(tmp_path, outputs.FILES_MANIFEST) == ["quiz.xml"]

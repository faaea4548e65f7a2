"""`check FOLDER` reads the *.toml directly in FOLDER, not in its subfolders (the lesson's check and the
benchmarks count on it), while elbo-sym.toml's folders and the pytest plugin descend: `check` says so in
one note on stderr naming the subfolders it did not read (red team rt36's M4) -- same verdicts, same
exit status, from the full command line and from the warm answer of the cache alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from elbo_sym import __main__ as entry
from elbo_sym.authoring import cache as result_cache
from elbo_sym.cli import main
from elbo_sym.files import MAX_NOTE_FOLDERS, PROJECT_FILE, folder_notes

REPO = Path(__file__).resolve().parents[1]
GAP = (REPO / "derivations" / "gap.toml").read_text("utf-8")
REFUTED = GAP.replace('expr = "KL(q(z), p(z | x))"', 'expr = "KL(p(z | x), q(z))"')
DECK = (REPO / "elbo_sym" / "lesson" / "data" / "selfcheck.toml").read_text("utf-8")
assert REFUTED != GAP


def course(root: Path) -> Path:
    """A folder with one passing derivation, and below it: variants/ (a refuted one), deep/er/ (one
    more, two levels down), cards/ (a deck only), project/ (a project file only), .hidden/ (a
    derivation in a hidden folder, which no command reads)."""
    files = {"gap.toml": GAP, "variants/slip.toml": REFUTED, "deep/er/gap.toml": GAP, "cards/quiz.toml": DECK,
             f"project/{PROJECT_FILE}": 'title = "t"\n', ".hidden/gap.toml": GAP}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


NOTE = ("elbo-sym: note: {}/: 2 subfolders with .toml files not checked (variants/, deep/er/); "
        "pass them as paths or list them in elbo-sym.toml\n")


def test_a_folders_unread_subfolders_are_named_once_and_change_nothing(tmp_path, capsys):
    folder = course(tmp_path / "d")
    assert main(["check", "--no-cache", str(folder)]) == 0  # variants/slip.toml (refuted) is not read
    out, err = capsys.readouterr()
    assert err == NOTE.format(folder) and "1 derivation(s)" in out and "slip.toml" not in out
    assert main(["check", "--no-cache", f"{folder}/"]) == 0  # a trailing slash is not doubled
    assert capsys.readouterr().err == NOTE.format(folder)


def test_a_subfolder_given_as_a_path_is_not_named(tmp_path, capsys):
    folder = course(tmp_path / "d")
    assert main(["check", "--no-cache", str(folder), str(folder / "variants")]) == 1  # now it is read
    out, err = capsys.readouterr()
    assert err == (f"elbo-sym: note: {folder}/: 1 subfolder with .toml files not checked (deep/er/); "
                   "pass them as paths or list them in elbo-sym.toml\n")
    assert "slip.toml" in out
    assert main(["check", "--no-cache", str(folder), str(folder / "variants"), str(folder / "deep" / "er")]) == 1
    assert capsys.readouterr().err == ""


def test_files_and_plain_folders_get_no_note(tmp_path):
    folder = course(tmp_path / "d")
    assert folder_notes([str(folder / "gap.toml"), str(folder / "variants")]) == []
    assert folder_notes([str(folder / "missing")]) == []


def test_many_subfolders_are_counted_not_all_named(tmp_path):
    for n in range(MAX_NOTE_FOLDERS + 2):
        (tmp_path / f"s{n}").mkdir()
        (tmp_path / f"s{n}" / "g.toml").write_text(GAP, "utf-8")
    (note,) = folder_notes([str(tmp_path)])
    shown = ", ".join(f"s{n}/" for n in range(MAX_NOTE_FOLDERS))
    assert f": {MAX_NOTE_FOLDERS + 2} subfolders with .toml files not checked ({shown} and 2 more);" in note


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ELBO_SYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ELBO_SYM_NO_CACHE", raising=False)
    monkeypatch.delenv(result_cache._COMPLETION_VARIABLE, raising=False)


def test_the_warm_answer_says_the_note_as_the_full_command(tmp_path, capsys, cache_env, monkeypatch):
    """The cache's answer before click (elbo_sym.__main__) prints the same note on stderr: the lesson's
    warm `check derivations/` is answered there."""
    course(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "d"]) == 0  # fills the cache
    full = capsys.readouterr()
    assert entry._answer_warm_check(["check", "d"]) == 0
    warm = capsys.readouterr()
    assert (warm.out, warm.err) == (full.out, full.err) and warm.err == NOTE.format("d")


def test_a_large_tree_is_walked_only_so_far_and_the_note_says_so(tmp_path, monkeypatch):
    """`check .` in a folder holding a node_modules/ must not walk all of it: the note looks into
    MAX_NOTE_WALK folders and then says "at least"."""
    from elbo_sym import files

    for n in range(4):
        (tmp_path / f"s{n}" / "deeper").mkdir(parents=True)
        (tmp_path / f"s{n}" / "deeper" / "g.toml").write_text(GAP, "utf-8")
    assert folder_notes([str(tmp_path)])[0].startswith(f"note: {tmp_path}/: 4 subfolders with .toml files ")
    monkeypatch.setattr(files, "MAX_NOTE_WALK", 3)  # the folder, s0/ and s1/ looked into: s2/, s3/ not
    (note,) = folder_notes([str(tmp_path)])
    assert note.startswith(f"note: {tmp_path}/: at least 2 subfolders with .toml files not checked (s0/deeper/, "
                           "s1/deeper/);")


def test_a_subfolders_control_characters_are_shown_escaped(tmp_path):
    """rt39 F4: a folder named with a newline split the note over two lines."""
    from elbo_sym.files import folder_notes

    odd = tmp_path / "bad\nname"
    odd.mkdir()
    (odd / "x.toml").write_text('title = "x"\nstart = "log(p(x))"\n', "utf-8")
    (note,) = folder_notes([tmp_path])
    assert "bad\\nname/" in note and "\n" not in note

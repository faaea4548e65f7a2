"""Red team rt12's publishing findings: outputs never replace a file elbo-sym did not write, Moodle
names free of TeX, Anki media tags from author text, and the messages of two refused outputs."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from one_step_gap import gap_file

from elbo_sym.cli import main
from elbo_sym.publish.outputs import NotOursError, move_in, refuse_unowned, write_manifest
from elbo_sym.publish.web import PAGES_MANIFEST

BOUND = gap_file()


def course(folder: Path, title: str = "Week 5") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bound.toml").write_text(BOUND, encoding="utf-8")
    (folder / "elbo-sym.toml").write_text(f'title = "{title}"\nderivations = ["bound.toml"]\n', encoding="utf-8")
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ 1. files elbo-sym never wrote


def test_web_out_refuses_a_hand_written_page_and_writes_nothing(tmp_path, monkeypatch, capsys):
    folder = course(tmp_path / "c")
    (folder / "pages").mkdir()
    (folder / "pages" / "derivations.md").write_text("my page", encoding="utf-8")
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pages/derivations.md: elbo-sym did not write it" in err
    assert "delete or move that file, or write into another folder" in err
    assert contents(folder / "pages") == {"derivations.md": b"my page"}  # nothing else written either


@pytest.mark.full
def test_web_out_twice_and_after_a_manifest_without_hashes_runs(tmp_path, monkeypatch):
    """Legitimate re-runs: the same command twice; a folder whose manifest is from before hashes."""
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 0
    assert main(["web", "--out", "pages"]) == 0
    manifest = folder / "pages" / PAGES_MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({"files": data["files"]}), encoding="utf-8")  # an older manifest
    assert main(["web", "--out", "pages"]) == 0
    assert set(json.loads(manifest.read_text(encoding="utf-8"))["sha256"]) == set(data["files"])


@pytest.mark.full
def test_a_page_edited_by_hand_since_is_not_replaced(tmp_path, monkeypatch, capsys):
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 0
    (folder / "pages" / "exercises.md").write_text("my notes", encoding="utf-8")
    before = contents(folder / "pages")
    capsys.readouterr()
    assert main(["web", "--out", "pages"]) == 2
    assert "pages/exercises.md: changed since elbo-sym wrote it" in capsys.readouterr().err
    assert contents(folder / "pages") == before


@pytest.mark.full
def test_web_site_refuses_any_file_it_did_not_write(tmp_path, monkeypatch, capsys):
    """Not only a package.json: the landing page of the site's content folder too."""
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    docs = folder / "site" / "src" / "content" / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text("my landing page", encoding="utf-8")
    assert main(["web", "--site", "site"]) == 2
    assert "index.md: elbo-sym did not write it" in capsys.readouterr().err
    assert contents(folder / "site") == {"src/content/docs/index.md": b"my landing page"}


@pytest.mark.full
def test_build_refuses_a_hand_written_tex_before_any_latex(tmp_path, monkeypatch, capsys):
    """The repro: `build --out . --only exercises` beside a hand-written exercises.tex (refused before
    LaTeX runs: the check is on the names, whatever the engine)."""
    folder = course(tmp_path / "c")
    (folder / "exercises.tex").write_text("% hand-written", encoding="utf-8")
    monkeypatch.chdir(folder)
    before = contents(folder)
    assert main(["build", "--out", ".", "--only", "exercises"]) == 2
    assert "exercises.tex: elbo-sym did not write it" in capsys.readouterr().err
    assert contents(folder) == before


def test_an_empty_out_is_refused_not_taken_for_the_current_folder(tmp_path, monkeypatch, capsys):
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    before = contents(folder)
    for command in (["build", "--out", ""], ["web", "--out", ""], ["web", "--site", ""]):
        assert main(command) == 2
        assert "give a folder name" in capsys.readouterr().err
    assert contents(folder) == before


def _staged(root: Path, *names: str) -> tuple[Path, Path]:
    staging, folder = root / "staging", root / "out"
    staging.mkdir(parents=True)
    folder.mkdir(exist_ok=True)
    for name in names:
        (staging / name).write_text(f"new {name}", encoding="utf-8")
    return staging, folder


def test_move_in_refuses_the_users_file_and_moves_nothing(tmp_path):
    """The roster's and the handouts' last step: one of the set is the user's, none is moved in."""
    staging, folder = _staged(tmp_path, "a.pdf", "key.pdf")
    (folder / "key.pdf").write_text("the user's key", encoding="utf-8")
    with pytest.raises(NotOursError, match="key.pdf: elbo-sym did not write it"):
        move_in(staging, folder, ["a.pdf", "key.pdf"], ".m.json")
    assert contents(folder) == {"key.pdf": b"the user's key"}


def test_a_set_then_a_part_of_it_then_the_set_again(tmp_path):
    """`build` then `build --only X` then `build`: every file is the last run's, unchanged."""
    staging, folder = _staged(tmp_path / "1", "a.pdf", "b.pdf")
    move_in(staging, folder, ["a.pdf", "b.pdf"], ".m.json")
    staging, _ = _staged(tmp_path / "2", "a.pdf")
    (tmp_path / "2" / "out").rmdir()
    move_in(staging, folder, ["a.pdf"], ".m.json", keep=lambda name: name == "b.pdf")
    staging, _ = _staged(tmp_path / "3", "a.pdf", "b.pdf")
    move_in(staging, folder, ["a.pdf", "b.pdf"], ".m.json")
    assert contents(folder) == {".m.json": (folder / ".m.json").read_bytes(), "a.pdf": b"new a.pdf",
                                "b.pdf": b"new b.pdf"}


def test_a_link_and_a_case_variant_are_judged_as_files(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (tmp_path / "elsewhere.md").write_text("kept", encoding="utf-8")
    (folder / "a.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(NotOursError, match="a.md: elbo-sym did not write it"):
        refuse_unowned(folder, ".m.json", ["a.md"])
    (folder / "b.md").write_text("ours", encoding="utf-8")
    write_manifest(folder, ".m.json", ["b.md"])
    refuse_unowned(folder, ".m.json", ["./b.md", "missing.md", "sub/new.md"])  # ours (another spelling), or absent
    (folder / "b.md").write_text("edited", encoding="utf-8")
    with pytest.raises(NotOursError, match="changed since elbo-sym wrote it"):
        refuse_unowned(folder, ".m.json", ["b.md"])


# ------------------------------------------------------------------ 2. Moodle names, 3. Anki media tags

HOSTILE_TITLE = r"Deck \$\$\href{javascript:alert(1)}{click}\$\$ and \(\unicode{x}\) {b}"
PLAIN_TITLE = r"Deck $$\href{javascript:alert(1)}{click}$$ and \(\unicode{x}\) {b}"


def test_moodle_names_carry_no_tex_sign_raw_and_read_as_the_title(tmp_path, monkeypatch):
    """Moodle runs its TeX and MathJax filters on names too ("filter all strings"): a deck's title goes
    into the category and question names with its braces, dollars and backslashes as character
    references, so it shows as typed and is never typeset (bench/moodle_check.py: Moodle reads it so)."""
    import xml.etree.ElementTree as ET

    deck = tmp_path / "deck.toml"
    deck.write_text(f"title = '{HOSTILE_TITLE}'\n\n[[card]]\nfront = 'Why?'\nback = 'Because.'\n"
                    "formula = \"ELBO(q) <= log(p(x))\"\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["cards", str(deck), "--moodle", "quiz.xml"]) == 0
    root = ET.parse(tmp_path / "quiz.xml").getroot()
    category = root.find("question/category/text").text
    names = [q.find("name/text").text for q in root.findall("question[@type='essay']")]
    assert category.startswith("$course$/top/")
    stored = [category.removeprefix("$course$/top/"), *names]
    assert [re.findall(r"[{}$\\]", name) for name in stored] == [[], []]
    assert [html.unescape(name) for name in stored] == [PLAIN_TITLE, f"{PLAIN_TITLE}, card 1"]


MEDIA_DECK = """title = "Media"

[[card]]
front = "Play [sound:x.mp3] or [sound:z.wav]?"
back = "No: [sound:y.ogg] is text."
formula = "ELBO(q) <= log(p(x))"
"""


def test_anki_plays_no_media_tag_of_author_text(tmp_path, monkeypatch):
    """Anki's own library imports the deck: the card's sides hold no sound or TTS tag, and show the
    brackets as typed."""
    if os.environ.get("CI"):  # the `anki` package is in the test extras (pyproject.toml): never skipped in CI
        import anki.collection as collection_module
    else:
        collection_module = pytest.importorskip("anki.collection")
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    (tmp_path / "deck.toml").write_text(MEDIA_DECK, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["flashcards", "deck.toml", "--anki", "deck.apkg"]) == 0
    col = collection_module.Collection(str(tmp_path / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(tmp_path / "deck.apkg"), options=ImportAnkiPackageOptions(with_scheduling=False)))
        (card,) = [col.get_card(c) for c in col.find_cards("")]
        tags = [*card.question_av_tags(), *card.answer_av_tags()]
        front, back = (html.unescape(re.sub(r"<[^>]*>", "", field)) for field in card.note().fields[:2])
    finally:
        col.close()
    assert tags == []
    assert front == "Play [sound:x.mp3] or [sound:z.wav]?" and back == "No: [sound:y.ogg] is text."


# ------------------------------------------------------------------ 4. messages, and a course without derivations


def test_an_output_file_where_no_file_can_be_made_names_the_option(capsys):
    """/proc, where root's os.access says writable and no file can be made (rt12: ``--anki /proc/version``
    named a temporary file): the refusal names the option, before any card is checked."""
    for target in ("/proc/version", "/proc/elbo-sym-rt12.apkg"):
        assert main(["flashcards", "--anki", target]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"elbo-sym: error: --anki {target}: ") and ".tmp" not in err


@pytest.mark.parametrize("command", [["flashcards", "--anki", "bound.toml"], ["cards", "--moodle", "bound.toml"],
                                     ["exercises", "--moodle", "bound.toml"]])
def test_a_quiz_or_deck_never_replaces_a_file_of_another_kind(tmp_path, monkeypatch, capsys, command):
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    assert main(command) == 2
    assert "bound.toml: elbo-sym did not write it" in capsys.readouterr().err
    assert (folder / "bound.toml").read_text(encoding="utf-8") == BOUND


def test_a_quiz_and_a_deck_replace_their_own_kind_and_an_empty_file(tmp_path, monkeypatch):
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    Path("quiz.xml").touch()
    for _ in range(2):
        assert main(["exercises", "--moodle", "quiz.xml", "--count", "1"]) == 0
        assert main(["flashcards", "--anki", "deck.apkg"]) == 0
    assert Path("quiz.xml").read_bytes().startswith(b"<?xml") and Path("deck.apkg").read_bytes()[:2] == b"PK"


def test_a_course_without_derivations_says_what_check_build_and_web_need(tmp_path, monkeypatch, capsys):
    """README step 3: every key is optional except the derivations of check, build and web; the
    other commands take the lesson's files."""
    (tmp_path / "elbo-sym.toml").write_text('title = "No derivations"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for command in ("check", "build", "web"):
        assert main([command]) == 2
        err = capsys.readouterr().err
        assert f"`{command}` needs the course's own" in err and 'derivations = ["bound.toml"]' in err
    assert main(["cards", "--check"]) == 0  # the lesson's self-check and flashcards fill in
    assert main(["exercises", "--count", "1"]) == 0
    assert os.listdir(tmp_path) == ["elbo-sym.toml"]


def test_the_roster_limits_live_in_limits():
    from elbo_sym import limits
    from elbo_sym.publish import roster

    assert (roster.MAX_STUDENTS, roster.MAX_ROSTER_BYTES) == (limits.MAX_STUDENTS, limits.MAX_ROSTER_BYTES)
    source = Path(roster.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^MAX_(STUDENTS|ROSTER_BYTES)\s*=", source, re.M)


@pytest.mark.full
def test_build_then_build_only_then_build_again_runs(tmp_path, monkeypatch):
    """The legitimate re-runs of `build` (the .tex files alone, without LaTeX, to stay quick): the same
    build twice, one handout of the set, then the set again; and a hand edit since is then refused."""
    from elbo_sym.publish import render

    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    folder = course(tmp_path / "c")
    monkeypatch.chdir(folder)
    for command in (["build"], ["build"], ["build", "--only", "exercises"], ["build"]):
        assert main([*command, "--out", "h"]) == 0
    assert {"exercises.tex", "derivations.tex", ".elbo-sym-handouts.json"} <= set(os.listdir("h"))
    Path("h/answers.tex").write_text("% my own key", encoding="utf-8")
    assert main(["build", "--out", "h", "--only", "answers"]) == 2
    assert Path("h/answers.tex").read_text(encoding="utf-8") == "% my own key"

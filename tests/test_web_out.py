"""`web --out`: the course's title on every page, and a re-run that removes the pages an earlier run
wrote and this one does not (listed in web.PAGES_MANIFEST), never anything else."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.publish import web

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
TITLE = "Week 5 -- {x} & the bound $ELBO(q)$"


def project(folder: Path, title: str | None, derivations: str = '["derivations"]') -> Path:
    """A course folder with the lesson's derivations and an elbo-sym.toml (a title or none)."""
    shutil.copytree(ROOT / "derivations", folder / "derivations", ignore=shutil.ignore_patterns("variants",
                                                                                                 "literature"))
    head = f"title = {json.dumps(title)}\n" if title is not None else ""
    (folder / "elbo-sym.toml").write_text(f"{head}derivations = {derivations}\n", encoding="utf-8")
    return folder


def pages_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".md", ".svg")}


@pytest.mark.full
def test_the_course_title_is_the_first_line_of_every_page_and_only_that_changes(tmp_path, monkeypatch):
    titled = project(tmp_path / "titled", TITLE)
    plain = project(tmp_path / "plain", None)
    monkeypatch.chdir(titled)
    assert main(["web", "--out", "pages"]) == 0
    monkeypatch.chdir(plain)
    assert main(["web", "--out", "pages"]) == 0
    with_title, without = pages_of(titled / "pages"), pages_of(plain / "pages")
    assert with_title.keys() == without.keys() and "derivations.md" in with_title
    for name, data in with_title.items():
        if not name.endswith(".md"):
            assert data == without[name], name
            continue
        text = data.decode("utf-8")
        front, _, body = text.partition("\n---\n\n")
        first, _, rest = body.partition("\n\n")
        assert first == r"*Week 5 \-\- \{x\} \& the bound $\mathcal{L}(q)$*", (name, first)
        assert front + "\n---\n\n" + rest == without[name].decode("utf-8"), name  # nothing else differs


@pytest.mark.full
def test_the_title_line_renders_as_typed_with_its_formula_as_math(tmp_path, monkeypatch):
    if shutil.which("node") is None or not (WEB / "node_modules" / "rehype-katex" / "package.json").is_file():
        pytest.fail("needs node and web/node_modules (make web-deps)")
    folder = project(tmp_path, TITLE)
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 0
    out = tmp_path / "exercises.html"
    subprocess.run(["node", str(WEB / "render_page.mjs"), str(folder / "pages" / "exercises.md"), str(out)],
                   check=True, timeout=CHILD_TIMEOUT_SECONDS, cwd=WEB)
    first = re.search(r"<p><em>(.*?)</em></p>", out.read_text(encoding="utf-8"), re.S)
    assert first is not None
    assert html.unescape(first.group(1)).startswith("Week 5 -- {x} & the bound <span class=\"katex\">")
    assert "<annotation encoding=\"application/x-tex\">\\mathcal{L}(q)</annotation>" in first.group(1)


@pytest.mark.full
def test_a_rerun_removes_the_pages_it_no_longer_writes_and_nothing_else(tmp_path, monkeypatch):
    """A second worked example's page, then a course without it: its page and figure go, said so;
    the user's own file stays, and so does whatever a tampered manifest names outside the folder,
    through `..`, by an absolute path, inside a linked folder, or as a symlink."""
    folder = project(tmp_path / "course", None)
    with open(folder / "elbo-sym.toml", "a", encoding="utf-8") as toml:
        toml.write("[[example]]\nprior = [\"1/2\", \"1/2\"]\nlikelihood = [\"1/2\", \"1/4\"]\nq = [\"3/4\", \"1/4\"]\n"
                   "[[example]]\nprior = [\"1/4\", \"3/4\"]\nlikelihood = [\"1/2\", \"1/3\"]\nq = [\"1/2\", \"1/2\"]\n")
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 0
    pages = folder / "pages"
    assert (pages / "worked-example-2.md").is_file() and (pages / "worked-example-2-elbo.svg").is_file()
    (pages / "mine.md").write_text("the author's own page", encoding="utf-8")
    outside = tmp_path / "outside.md"
    outside.write_text("keep", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.md").write_text("keep", encoding="utf-8")
    (pages / "linked").symlink_to(tmp_path / "elsewhere")
    (pages / "link.md").symlink_to(outside)
    manifest = json.loads((pages / web.PAGES_MANIFEST).read_text(encoding="utf-8"))
    assert "worked-example-2.md" in manifest["files"] and "mine.md" not in manifest["files"]
    manifest["files"] += ["../outside.md", str(outside), "linked/x.md", "link.md", "sub/../../outside.md", 7]
    (pages / web.PAGES_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "elbo-sym.toml").write_text('derivations = ["derivations"]\n', encoding="utf-8")
    assert main(["web", "--out", "pages"]) == 0
    assert not (pages / "worked-example-2.md").exists() and not (pages / "worked-example-2-elbo.svg").exists()
    assert (pages / "mine.md").is_file() and (pages / "link.md").is_symlink()
    assert outside.read_text(encoding="utf-8") == "keep" and (tmp_path / "elsewhere" / "x.md").is_file()
    listed = json.loads((pages / web.PAGES_MANIFEST).read_text(encoding="utf-8"))["files"]
    assert sorted(listed) == sorted(pages_of(pages).keys() - {"mine.md", "link.md"})
    (pages / web.PAGES_MANIFEST).write_bytes(b"\xff not json")  # a broken manifest removes nothing, and
    before = {p.name: p.read_bytes() for p in pages.iterdir() if p.is_file()}  # vouches for nothing (rt12):
    assert main(["web", "--out", "pages"]) == 2  # the pages it no longer lists are not replaced
    assert {p.name: p.read_bytes() for p in pages.iterdir() if p.is_file()} == before


@pytest.mark.full
def test_the_command_says_what_it_removed(tmp_path, monkeypatch, capsys):
    folder = project(tmp_path, None)
    monkeypatch.chdir(folder)
    assert main(["web", "--out", "pages"]) == 0
    assert (folder / "pages" / "find-the-mistake.md").is_file()
    (folder / "elbo-sym.toml").write_text('derivations = ["derivations/jensen.toml"]\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["web", "--out", "pages"]) == 0
    assert f"removed {Path('pages') / 'find-the-mistake.md'} (no longer written)" in capsys.readouterr().out
    assert not (folder / "pages" / "find-the-mistake.md").exists()

"""README.md and docs/ cannot drift: every command they show with its output is run here.

The pages use three fenced-block forms (docs/06-architecture.md, "Docs that cannot drift"):

* ```console blocks: lines `$ elbo-sym ...` are run in-process (`elbo_sym.cli.main`), each
  followed by its expected output (stdout, then stderr). A line `...` matches any number of lines
  (none included); `...` inside a line matches any text (timings, sizes). A command that should
  fail ends with the shell comment `# exit N`; otherwise it must exit 0. `$ mkdir DIR` and `$ cd DIR`
  make and change the folder for the page's later commands. Nothing else may follow a `$`: a command the test cannot
  run goes in a ```sh block, which is shown, never run.
* A block just below `<!-- file: PATH -->` is a file the reader writes: it is written to PATH in
  the page's folder before the commands below it run.
* A block just below `<!-- example: PATH -->` is a repository file shown whole: it must equal
  that file byte for byte (docs/examples/ holds the vocabulary's examples, each also `proved`).

Each page runs in its own temporary folder holding copies of derivations/ and docs/examples/,
its blocks in page order, so a walkthrough's files exist for its later commands. A console
block below `<!-- docs-test: latex -->` builds PDFs: it needs TeX (skipped without it, failed
in CI). Every image the pages show must exist and be one that `make docs-images` makes.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from latex_tools import latex_required, latex_tools_missing

from elbo_sym.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.toml"))
COPIED = ("derivations", "docs/examples")  # what a page's commands may read, copied per page

FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!-- (?P<kind>file|example|docs-test): (?P<value>[^ ]+) -->")
EXIT = re.compile(r"\s+# exit (?P<status>\d)$")
IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>[^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """A fenced block of a page: its language, its text, its marker line (kind, value) and line."""

    lang: str
    body: str
    marker: tuple[str, str] | None
    line: int


@dataclass(frozen=True)
class Command:
    """One `$ ...` line of a console block, the output it must print and the status it must exit with."""

    argv: tuple[str, ...]
    expected: tuple[str, ...]
    status: int
    line: int


def blocks(text: str) -> list[Block]:
    """The page's fenced blocks in order, each with the marker comment just above it (if any)."""
    found = []
    for fence in FENCE.finditer(text):
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = MARKER.fullmatch(before)
        line = text.count("\n", 0, fence.start()) + 1
        found.append(Block(fence["lang"], fence["body"], (marker["kind"], marker["value"]) if marker else None, line))
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a console block with their expected output lines."""
    parsed: list[Command] = []
    lines = block.body.rstrip("\n").split("\n")
    assert lines and lines[0].startswith("$ "), f"line {block.line}: a console block starts with `$ `"
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        command = lines[start][2:]
        status = 0
        tail = EXIT.search(command)
        if tail:
            status, command = int(tail["status"]), command[: tail.start()]
        parsed.append(Command(tuple(shlex.split(command)), tuple(lines[start + 1:end]), status,
                              block.line + 1 + start))
    return parsed


def matches(expected: tuple[str, ...] | list[str], actual: list[str]) -> bool:
    """Line-by-line comparison with elisions: a line `...` matches any lines, `...` in a line any text."""
    if not expected:
        return not actual
    head, rest = expected[0], list(expected[1:])
    if head.strip() == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*?".join(re.escape(part) for part in head.rstrip().split("..."))
    return re.fullmatch(pattern, actual[0].rstrip()) is not None and matches(rest, actual[1:])


def _latex_ready() -> bool:
    if not latex_tools_missing():
        return True
    if latex_required():
        pytest.fail("LaTeX missing; ELBO_SYM_REQUIRE_LATEX=1 forbids skipping the docs' PDF commands")
    return False


def run_page(page: Path, folder: Path, monkeypatch, capsys) -> int:
    """Run every block of the page in `folder`; return how many commands ran."""
    for name in COPIED:
        shutil.copytree(ROOT / name, folder / name)
    monkeypatch.chdir(folder)
    ran = 0
    for block in blocks(page.read_text("utf-8")):
        where = f"{page.name}:{block.line}"
        if block.marker and block.marker[0] == "file":
            target = Path.cwd() / block.marker[1]
            assert target.resolve().is_relative_to(folder.resolve()), f"{where}: writes outside the page's folder"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, "utf-8")
            continue
        if block.marker and block.marker[0] == "example":
            assert block.body == (ROOT / block.marker[1]).read_text("utf-8"), \
                f"{where}: differs from {block.marker[1]}"
            continue
        if block.lang != "console":
            continue
        if block.marker == ("docs-test", "latex") and not _latex_ready():
            continue
        for command in commands(block):
            at = f"{page.name}:{command.line}"
            if command.argv[0] == "cd":
                monkeypatch.chdir(Path.cwd() / command.argv[1])
                continue
            if command.argv[0] == "mkdir":
                (Path.cwd() / command.argv[1]).mkdir(parents=True)
                continue
            assert command.argv[0] == "elbo-sym", \
                f"{at}: only `elbo-sym`, `cd` and `mkdir` run here; show other commands in ```sh"
            capsys.readouterr()
            status = main(list(command.argv[1:]))
            captured = capsys.readouterr()
            actual = (captured.out + captured.err).rstrip("\n").split("\n") if captured.out + captured.err else []
            shown = "\n".join(actual)
            assert matches(command.expected, actual), f"{at}: `{shlex.join(command.argv)}` printed\n{shown}"
            assert status == command.status, f"{at}: exit {status}, the page says {command.status}\n{shown}"
            ran += 1
    return ran


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_on_the_page_prints_what_it_shows(page, tmp_path, monkeypatch, capsys):
    run_page(page, tmp_path, monkeypatch, capsys)


def test_the_pages_run_commands():
    """The mechanism is in use: the README's walkthrough and every vocabulary example are run."""
    counts = {page.name: sum(len(commands(b)) for b in blocks(page.read_text("utf-8")) if b.lang == "console")
              for page in PAGES}
    assert counts["README.md"] >= 6
    for name in ("01-writing-derivations.md", "02-what-checked-means.md", "03-publishing.md", "vocabulary.md"):
        assert counts[name] >= 1, counts


def test_the_matcher_is_strict_where_it_should_be():
    assert matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert matches(("a", "...", "b"), ["a", "b"])
    assert matches(("took ... s",), ["took 1.25 s"])
    assert not matches(("a", "b"), ["a", "b", "c"])
    assert not matches(("a", "...", "d"), ["a", "b", "c"])
    assert not matches(("took ... s",), ["took 1.25 ms"])
    assert not matches(("✓ proved",), ["✗ refuted"])


def test_a_page_that_drifted_fails(tmp_path, monkeypatch, capsys):
    """Run on a page whose shown output, or exit status, is not what the command does: it fails."""
    good = "```console\n$ elbo-sym new starter\nwrote starter.toml: a starter derivation; ...\n...\n```\n"
    page = tmp_path / "page.md"
    page.write_text(good, "utf-8")
    assert run_page(page, tmp_path / "good", monkeypatch, capsys) == 1
    for drifted in (good.replace("a starter derivation", "a teaching file"),
                    good.replace("starter\n", "starter    # exit 1\n"),
                    good.replace("...\n```", "```")):
        page.write_text(drifted, "utf-8")
        with pytest.raises(AssertionError):
            run_page(page, tmp_path / str(hash(drifted)), monkeypatch, capsys)


# --------------------------------------------------------------------------- the vocabulary's examples


def test_every_example_file_is_shown_once_and_checked_by_a_command():
    """Each docs/examples/ file is shown whole once (compared above) and checked by a console block
    on its page, which must exit 0: every step proved (no example may `accept` a checked step)."""
    shown = [b.marker[1] for p in PAGES for b in blocks(p.read_text("utf-8")) if b.marker and b.marker[0] == "example"]
    assert sorted(shown) == sorted(str(p.relative_to(ROOT)) for p in EXAMPLES)
    checked = [c for p in PAGES for b in blocks(p.read_text("utf-8")) if b.lang == "console" for c in commands(b)
               if c.argv[1:2] == ("check",)]
    for path in EXAMPLES:
        name = str(path.relative_to(ROOT))
        assert any(name in c.argv and c.status == 0 for c in checked), \
            f"{name} is shown but no ```console block checks it (`$ elbo-sym check {name}`, then its output; " \
            "a line `...` skips lines of it)"
        assert "accept" not in path.read_text("utf-8"), name
    assert len(EXAMPLES) >= 14
    text = "".join(p.read_text("utf-8") for p in PAGES)
    assert "TODO" not in text and "To be written" not in text


# --------------------------------------------------------------------------- images and links


def _images() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in PAGES:
        for image in IMAGE.finditer(page.read_text("utf-8")):
            path = (page.parent / image["path"]).resolve().relative_to(ROOT)
            found.setdefault(str(path), []).append(page.name)
    return found


def test_every_image_shown_exists_and_make_docs_images_makes_it():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_images", ROOT / "bench" / "docs_images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = set(module.IMAGES)
    images = _images()
    assert "docs/images/site-390.png" in images and len(images) >= 3
    for path, pages in images.items():
        assert (ROOT / path).is_file(), f"{path} (shown in {pages}) does not exist"
        assert path in made, f"{path} (shown in {pages}) is not made by `make docs-images`"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of the page's headings (outside fenced blocks)."""
    found, fenced = set(), False
    for line in page.read_text("utf-8").split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#+ (.*)", line)):
            found.add(re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-"))
    return found


def test_every_relative_link_and_anchor_resolves():
    for page in PAGES:
        for link in re.finditer(r"\]\((?P<path>[^)#\s:]*)(?:#(?P<anchor>[^)\s]*))?\)", page.read_text("utf-8")):
            target = page.parent / link["path"] if link["path"] else page
            assert target.exists(), f"{page.name}: broken link {link[0]}"
            if link["anchor"] and target.suffix == ".md":
                assert link["anchor"] in _anchors(target), f"{page.name}: no heading for {link[0]}"


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text("utf-8").splitlines()) <= 300

"""docs/vocabulary.md cannot drift: every example it shows is a file under docs/examples/ that
`elbo-sym check` proves, and every ```toml block of the page is, byte for byte, the file named
by the `<!-- example: docs/examples/NAME.toml -->` line just above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_sym.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "vocabulary.md"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.toml"))

MARKER = re.compile(r"<!-- example: (?P<path>docs/examples/[A-Za-z0-9_.-]+\.toml) -->")
FENCE = re.compile(r"^```toml\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def toml_blocks(text: str) -> list[tuple[str | None, str]]:
    """(the example file named just above the block, or None; the block's text), in page order."""
    blocks = []
    for fence in FENCE.finditer(text):
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        blocks.append((marker["path"] if marker else None, fence["body"]))
    return blocks


def test_there_are_examples_and_blocks():
    assert len(EXAMPLES) >= 14
    assert len(toml_blocks(PAGE.read_text("utf-8"))) == len(EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_proved(path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = main(["check", "--no-cache", str(path.relative_to(ROOT))])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "0 checked, 0 refuted, 0 error" in out, out
    assert "claims established" in out and "0/1 claims" not in out, out


def test_every_toml_block_is_the_file_it_names():
    for named, body in toml_blocks(PAGE.read_text("utf-8")):
        assert named is not None, f"a ```toml block without an <!-- example: ... --> line above it:\n{body}"
        assert body == (ROOT / named).read_text("utf-8"), f"{named} differs from its block in docs/vocabulary.md"


def test_every_example_file_is_shown_once():
    named = [name for name, _ in toml_blocks(PAGE.read_text("utf-8"))]
    assert sorted(named) == sorted(str(p.relative_to(ROOT)) for p in EXAMPLES)


def test_every_construct_has_a_section_with_an_example():
    """Each construct's section shows one example file (none left as a placeholder)."""
    text = PAGE.read_text("utf-8")
    section = text.split("## A second variational distribution and parameterised models", 1)[1].split("\n## ", 1)[0]
    assert "<!-- example: docs/examples/em-m-step.toml -->" in section
    assert "TODO" not in text and "To be written" not in text


def test_the_readme_links_the_page():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "### From the literature: the vocabulary" in readme
    assert "(docs/vocabulary.md)" in readme

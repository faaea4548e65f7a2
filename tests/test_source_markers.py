"""The ``%@`` comment lines of a generated .tex name a derivation's file (render.overfull_boxes reads
them back into a layout message): the same line however the file was named on the command line, and
a line TeX skips whole whatever the name holds.

Before, the title's marker carried the path as typed (``./x.toml:3``, an absolute path: another .tex
for the same file) and the chain's the name escaped for TeX (``\\%``, ``\\'{e}`` in a message).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from elbo_sym.publish.handouts import derivations_handout, source_marker, write_handouts
from elbo_sym.publish.render import overfull_boxes
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parent.parent
JENSEN = ROOT / "derivations" / "jensen.toml"


def test_a_file_is_marked_alike_however_it_was_typed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    typed = ["d/x.toml", "./d/x.toml", "d//x.toml", "d/../d/x.toml", str(tmp_path / "d" / "x.toml")]
    assert {source_marker(path, 3) for path in typed} == {"d/x.toml:3"}
    assert source_marker("./x.toml") == "x.toml"
    outside = tmp_path.parent / "elsewhere" / "y.toml"  # outside the current folder: absolute, never ../
    assert source_marker(os.path.relpath(outside)) == outside.as_posix() == source_marker(str(outside))


@pytest.mark.parametrize("name", ["a\nb.toml", "a\rb.toml", "a\u2028b.toml", "a\x85b.toml", "a\u200eb.toml"])
def test_a_marker_is_one_line(name) -> None:
    """Names with these are refused when read (files.control_character); the marker holds none either."""
    marked = source_marker(name, 1)
    assert marked == name[0] + "?" + name[2:] + ":1" and len(marked.splitlines()) == 1


FOLDER, NAME = "dir %é", "gap 100%é'.toml"


def _handout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / FOLDER).mkdir()
    path = tmp_path / FOLDER / NAME
    path.write_text(JENSEN.read_text("utf-8"), "utf-8")
    return derivations_handout([check_file(f"./{FOLDER}/{NAME}")], "inline")


def test_the_markers_name_the_file_as_it_is_and_read_back(tmp_path, monkeypatch) -> None:
    tex = _handout(tmp_path, monkeypatch).render()
    markers = [line for line in tex.splitlines() if line.startswith("%@")]
    shown = f"{FOLDER}/{NAME}"
    assert f"%@ the chain of {shown}" in markers, markers
    assert any(re.fullmatch(rf"%@ the title of {re.escape(shown)}:\d+", line) for line in markers), markers
    # what a layout message says for a box on the chain's next line
    lines = tex.splitlines()
    at = lines.index(f"%@ the chain of {shown}") + 2
    log = f"Overfull \\hbox (20.0pt too wide) detected at line {at}\n"
    (box,) = overfull_boxes(log, tex)
    assert box.part == f"the chain of {shown}"


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_handout_of_a_file_named_with_percent_and_accents_builds(tmp_path, monkeypatch) -> None:
    handout = _handout(tmp_path, monkeypatch)
    (report,) = write_handouts([handout], tmp_path / "out")
    assert report.ok, report.message
    assert report.pdf is not None and report.pdf.read_bytes().startswith(b"%PDF")

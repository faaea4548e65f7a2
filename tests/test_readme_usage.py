"""The README's table of commands shows each option where the command accepts it (red team
rt26: `web ... [--site DIR | --out DIR] [--title T]` read as if --title went with --out, which
the command refuses: "--title is the site's title: it needs --site")."""

from __future__ import annotations

import re
from pathlib import Path

from elbo_sym.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def test_web_title_is_shown_inside_the_site_option(tmp_path, capsys):
    (row,) = [line for line in README.splitlines() if line.startswith("| `elbo-sym web ")]
    usage = row.split("`")[1]
    assert re.search(r"\[--site DIR \[--title T\] \\\| --out DIR\]", usage), usage
    assert usage.count("--title") == 1
    # and that is what the command does: --title with --out is a usage error
    assert main(["web", "--out", str(tmp_path / "pages"), "--title", "T"]) == 2
    assert "--title is the site's title: it needs --site" in capsys.readouterr().err

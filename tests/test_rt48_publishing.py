"""Red team rt48's findings (a newcomer and a teacher publishing), each reproduced as the teacher met it.

* F1: `build --only X` removed every handout an earlier build wrote outside this invocation's set (after
  `make handouts`, `build --only selfcheck` deleted the gallery, the literature and find-the-mistake PDFs).
* F2: docs/03 says a roster name in Greek is refused; unaccented Greek and the signs prose sets as math were
  accepted and printed in math italic ("Σωκρτης", "αβγ ∑ ≤ ∞ −").
* F3: a refuted claim inside a card's multi-line back was reported at the key's line ("(line 4)"), not its own.
* The lead's note: `build --only find-the-mistake --only selfcheck` without teaching files built selfcheck.pdf
  and exited 0; a named handout the build cannot make is now an error (exit 2) and nothing is written.
* The lead's note: `cards` and `cards --check` listed a formula written over two lines with its line break.
* F4: the site's title (a course title without `--title`) kept its formulas' `$...$`, shown as typed in the
  header, the tab and the index page, where an escaped `\\$5` read the same: it is plain text now, as Anki's.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from one_step_gap import gap_file
from test_web import CHROMIUM_FLAGS, SITE_DEPS, _run_group

from elbo_sym.cli import main
from elbo_sym.publish import render
from elbo_sym.publish.roster import RosterError, parse_roster

ROOT = Path(__file__).resolve().parents[1]
VARIANT = ROOT / "derivations" / "variants" / "beta-elbo.toml"
CITED = ROOT / "derivations" / "literature" / "alemi-h-minus-d.toml"


def _course(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "bound.toml").write_text(gap_file(), encoding="utf-8")
    (folder / "elbo-sym.toml").write_text('title = "Week 5"\nderivations = ["bound.toml"]\n', encoding="utf-8")
    return folder


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.full
def test_build_only_one_handout_removes_no_other(tmp_path: Path, monkeypatch, capsys) -> None:
    """F1, docs/03's own list of commands in order: the gallery, the literature, then one lesson sheet.  Each
    `--only` run keeps what the others wrote (the .tex files alone, without LaTeX: the same list and sweep as
    the PDFs); a full `build` still removes what its set no longer has."""
    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    monkeypatch.chdir(_course(tmp_path / "c"))
    for command in (["--gallery", str(VARIANT), "--only", "beyond-the-lesson"],
                    ["--literature", str(CITED), "--only", "from-the-literature"],
                    ["--only", "selfcheck"]):
        assert main(["build", *command, "--out", "h"]) == 0, capsys.readouterr().err
        assert "removed" not in capsys.readouterr().out, command
    sheets = {"beyond-the-lesson.tex", "from-the-literature.tex", "selfcheck.tex"}
    assert sheets <= _names(Path("h"))

    assert main(["build", "--out", "h"]) == 0  # the whole set without --gallery/--literature: those two go
    out = capsys.readouterr().out
    assert "removed h/beyond-the-lesson.tex (this build has no such handout)" in out, out
    assert "removed h/from-the-literature.tex" in out
    assert not {"beyond-the-lesson.tex", "from-the-literature.tex"} & _names(Path("h"))
    assert {"selfcheck.tex", "derivations.tex", "exercises.tex"} <= _names(Path("h"))


@pytest.mark.full
def test_a_named_handout_the_build_cannot_make_fails_the_build_and_writes_nothing(tmp_path: Path, monkeypatch,
                                                                                   capsys) -> None:
    """The lead's note on rt48's minor list: one of two handouts named with --only cannot be made (no teaching
    file) -- exit 2, one line naming why, and the folder as it was (the other named handout not replaced)."""
    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    monkeypatch.chdir(_course(tmp_path / "c"))
    assert main(["build", "--only", "selfcheck", "--out", "h"]) == 0
    before = {p.name: p.read_bytes() for p in Path("h").iterdir()}
    capsys.readouterr()
    assert main(["build", "--only", "find-the-mistake", "--only", "selfcheck", "--out", "h"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        'elbo-sym build: no find-the-mistake.pdf: no teaching file (expect = "refuted") among the derivations '
        "checked; nothing was built (drop that --only to build selfcheck.pdf)"), captured.err
    assert "wrote" not in captured.out
    assert {p.name: p.read_bytes() for p in Path("h").iterdir()} == before

@pytest.mark.parametrize(("name", "sign"), [("Σωκρτης", "U+03A3 (GREEK CAPITAL LETTER SIGMA)"),
                                            ("Ada ∑ ≤ ∞", "U+2211 (N-ARY SUMMATION)"),
                                            ("Ada −1", "U+2212 (MINUS SIGN)"), ("ℓ Ada", "U+2113 (SCRIPT SMALL L)")])
def test_a_roster_name_in_greek_or_math_signs_is_refused(tmp_path: Path, capsys, name: str, sign: str) -> None:
    """F2: the command refuses the name at its line, as docs/03 says, and writes nothing."""
    roster = tmp_path / "greek.csv"
    roster.write_text(f"id,name\nada,Ada Lovelace\nb,{name}\n", encoding="utf-8")
    assert main(["exercises", "--roster", str(roster), "--out", str(tmp_path / "sheets")]) == 2
    err = capsys.readouterr().err
    column = len("b,") + 1 + name.index(chr(int(sign[2:6], 16)))  # the sign's own column (rt52 F3)
    assert f"{roster}:3:{column}: the name has {sign}, which the sheets cannot print" in err, err
    assert not (tmp_path / "sheets").exists()


def test_a_roster_name_keeps_the_text_letters_and_signs() -> None:
    """F2's other side: what pdflatex sets as text stays allowed -- Latin-1 with its middle dot (Catalan l·l),
    Latin Extended-A, the Romanian comma-below letters, dashes, quotes, € and ™."""
    names = ["Ștefan Müller-Łukasiewicz", "Pere Gil·la", "Zoë “Z” O’Brien – € ™", "Ñandú Ørsted ×"]
    text = "id,name\n" + "".join(f"s{i},{name}\n" for i, name in enumerate(names))
    assert [s.name for s in parse_roster(text, "r.csv")] == names
    with pytest.raises(RosterError, match=r"U\+01CE"):
        parse_roster("id,name\ns1,Hǎn\n", "r.csv")


MULTI_LINE_BACK = r'''title = "x"
[[card]]
front = "a"
back = """c

and then
the gap $log(p(x)) - ELBO(q) >= 1$ here, \\$5 and $KL(q(z), p(z | x)) <= 0$"""
formula = "ELBO(q) <= log(p(x))"
'''


@pytest.mark.full  # two counterexample searches: the full tier's
def test_a_refuted_claim_in_a_multi_line_back_is_named_at_its_own_line_and_column(tmp_path: Path, capsys) -> None:
    """F3 (/tmp/rt48/walk/d/s9.toml): the claim on the back's fourth line (line 7 of the file) is refuted, and
    `cards --check` and its --json name that line and the claim's first column; the second claim, after an
    escaped dollar, has its own column too (the key is on line 4)."""
    deck = tmp_path / "s9.toml"
    deck.write_text(MULTI_LINE_BACK, encoding="utf-8")
    assert main(["cards", str(deck), "--check"]) == 1
    out = capsys.readouterr().out
    assert "the card's text claims $log(p(x)) - ELBO(q) >= 1$ (line 7, column 10): K = any: false" in out, out
    assert main(["cards", str(deck), "--check", "--json"]) == 1
    (card,) = json.loads(capsys.readouterr().out)[0]["cards"]
    assert card["reason"].startswith("the card's text claims $log(p(x)) - ELBO(q) >= 1$ (line 7, column 10): ")

    deck.write_text(MULTI_LINE_BACK.replace(">= 1$", ">= 0$"), encoding="utf-8")  # the first holds: the second
    assert main(["cards", str(deck), "--check"]) == 1
    column = MULTI_LINE_BACK.splitlines()[6].index("KL") + 1
    assert f"the card's text claims $KL(q(z), p(z | x)) <= 0$ (line 7, column {column}): " in capsys.readouterr().out



def test_a_multi_line_formula_is_listed_on_one_line(tmp_path: Path, capsys) -> None:
    """The lead's note on rt48's minor list: the listing's line for the card reads the formula on one line."""
    deck = tmp_path / "mlf.toml"
    deck.write_text('title = "x"\n[[card]]\nfront = "a"\nback = "b"\nformula = """ELBO(q)\n  <= log(p(x))"""\n',
                    encoding="utf-8")
    assert main(["cards", str(deck), "--check"]) == 0
    assert f"  {deck}:5   1. ELBO(q) <= log(p(x))" in capsys.readouterr().out.splitlines()
    assert main(["cards", str(deck), "--check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["cards"][0]["formula"] == "ELBO(q) <= log(p(x))"
    assert main(["cards", str(deck)]) == 0
    assert "     formula: ELBO(q) <= log(p(x))" in capsys.readouterr().out.splitlines()

COURSE_TITLE = r"Week 5: \$5 fee, the β-ELBO and $KL(q(z), p(z | x))$"
SITE_TITLE = "Week 5: $5 fee, the β-ELBO and KL(q(z), p(z | x))"


@pytest.mark.full
def test_the_sites_title_is_plain_text_in_the_built_site(tmp_path: Path, monkeypatch) -> None:
    """F4 as a reader meets it: `web --site` in a course titled with a formula and an escaped dollar, the site
    built by Astro (the packages `make web-deps` installed) and its index page opened in headless Chromium --
    the tab's title, the header and the page's heading read as the Anki deck's name, no `$` around the formula."""
    missing = [tool for tool in ("node", "chromium") if shutil.which(tool) is None]
    if not (SITE_DEPS / "node_modules" / "astro" / "package.json").is_file():
        missing.append("web/site/node_modules (make web-deps)")
    assert not missing, f"web tools missing: {', '.join(missing)} (run `make web-deps`)"
    course = _course(tmp_path / "c")
    (course / "elbo-sym.toml").write_text(f"title = '{COURSE_TITLE}'\nderivations = [\"bound.toml\"]\n",
                                          encoding="utf-8")
    monkeypatch.chdir(course)
    root = Path(tempfile.mkdtemp(prefix="test-site-", dir=SITE_DEPS))  # where node finds the site's packages
    try:
        root.rmdir()
        assert main(["web", "--site", str(root)]) == 0
        assert f"title: {json.dumps(SITE_TITLE)}," in (root / "astro.config.mjs").read_text("utf-8")  # ASCII-escaped
        build = _run_group(["node", str(SITE_DEPS / "node_modules" / "astro" / "astro.js"), "build"], timeout=900,
                           cwd=root, env={**os.environ, "ASTRO_TELEMETRY_DISABLED": "1"})
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        profile = tmp_path / "profile"
        profile.mkdir()
        dom = _run_group([str(shutil.which("chromium")), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                          "--virtual-time-budget=10000", "--dump-dom", (root / "dist" / "index.html").as_uri()],
                         timeout=CHILD_TIMEOUT_SECONDS).stdout
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def text(pattern: str) -> str:
        found = re.search(pattern, dom, re.DOTALL)
        assert found, pattern
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())

    assert text(r"<title>(.*?)</title>").startswith(SITE_TITLE)  # the tab: "TITLE | TITLE" on the index page
    assert text(r'<a [^>]*class="site-title[^"]*"[^>]*>(.*?)</a>') == SITE_TITLE  # the header
    assert text(r"<h1[^>]*>(.*?)</h1>") == SITE_TITLE  # the index page's heading
    assert "$KL" not in dom and "KL(q(z), p(z | x))$" not in dom


@pytest.mark.full
def test_only_exercises_rebuilds_its_answer_key_too(tmp_path: Path, monkeypatch, capsys) -> None:
    """h-rt48's noticed-and-left: with a new seed, `build --only exercises` left the old answers.pdf beside the
    new sheet (a key that does not match it).  A sheet and its key are built together (publish.TOGETHER)."""
    monkeypatch.setattr(render, "latex_available", lambda: False)
    monkeypatch.delenv("ELBO_SYM_REQUIRE_LATEX", raising=False)
    folder = _course(tmp_path / "c")
    monkeypatch.chdir(folder)
    project = folder / "elbo-sym.toml"
    project.write_text(project.read_text(encoding="utf-8") + '[exercises]\nseed = 7\n',
                       encoding="utf-8")
    assert main(["build", "--out", "h"]) == 0, capsys.readouterr().err
    assert "Exercises with seed 7" in Path("h/answers.tex").read_text(encoding="utf-8")
    project.write_text(project.read_text(encoding="utf-8").replace("seed = 7", "seed = 8"), encoding="utf-8")
    assert main(["build", "--only", "exercises", "--out", "h"]) == 0, capsys.readouterr().err
    for name in ("exercises", "answers"):
        text = Path(f"h/{name}.tex").read_text(encoding="utf-8")
        assert "seed 8" in text.lower() and "seed 7" not in text.lower(), name

"""Red team rt31's publishing findings that show in the PDFs and in elbo-sym.toml (the site's are
tests/test_site_served.py).

* F9: a 198-character course title was scaled to ~3 pt to fit every running head on one line;
  the head now prints at most ``HEAD_TITLE_CHARS`` of it, ending in "…", at the head's own size,
  and the first page's title line keeps the whole title.
* F8: ``site_url``'s path becomes Astro's ``base``; a path the site cannot be served under, a
  query or a fragment is refused at its line.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.cli import main
from elbo_sym.engine.derivation import DerivationError, load
from elbo_sym.engine.parse import Vocabulary
from elbo_sym.publish.handouts import (
    HEAD_TITLE_CHARS,
    course_titled,
    derivations_handout,
    shortened,
    write_handouts,
)
from elbo_sym.publish.project import load_project
from elbo_sym.publish.site import site_base, site_files
from elbo_sym.report.build import check_file, prose_parts
from elbo_sym.report.model import ProsePart

ROOT = Path(__file__).resolve().parents[1]
LONG_TITLE = ("Probabilistic Machine Learning and Variational Inference for Scientists, Engineers and Everyone "
              "Else: Week Five, Latent Variables, the Evidence Lower Bound, Jensen, KL Divergences and Friends (2026)")
SHORT_TITLE = "Probabilistic Machine Learning"
_WORD_BOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def _pdf_text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=CHILD_TIMEOUT_SECONDS).stdout


def _reading(parts) -> str:
    return "".join(part.text for part in parts)


def test_a_long_title_is_shortened_between_words_and_never_inside_a_formula():
    parts = prose_parts(LONG_TITLE, Vocabulary())
    head = _reading(shortened(parts, HEAD_TITLE_CHARS))
    assert head.endswith("\u2026") and len(head) <= HEAD_TITLE_CHARS + 1
    assert LONG_TITLE.startswith(head[:-1]) and LONG_TITLE[len(head) - 1] in " ,"  # cut at a word's end
    assert shortened(parts[:1], 10**6) == parts[:1]  # a title that fits is kept as it is
    formula = prose_parts("The bound " + "and more words " * 3 + "$KL(q(z), p(z | x))$ is tight", Vocabulary())
    cut = shortened(formula, 52)
    assert all(p.kind != "math" for p in cut)
    assert _reading(cut) == "The bound and more words and more words and more\u2026"
    kept = shortened(formula, 75)
    assert [p.kind for p in kept] == ["text", "math", "text"] and kept[1] == formula[1]
    assert kept[-1] == ProsePart("text", "\u2026")  # the formula whole, then the ellipsis
    only = prose_parts("$" + " + ".join(["KL(q(z), p(z | x))"] * 4) + "$ and more", Vocabulary())
    assert shortened(only, 20) == only  # nothing fits before the formula: the whole title (scaled to the line)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_long_course_title_is_shortened_in_the_running_head_not_shrunk(tmp_path):
    """Page 2's running head prints the long title's first words at the size a short title's
    head has (it was ~3 pt against ~12 pt); page 1's title line holds the whole title."""
    results = [check_file(load(ROOT / "derivations" / name)) for name in ("jensen.toml", "decomposition.toml",
                                                                           "gap.toml", "tight.toml")]
    handout = derivations_handout(results)
    [long_report] = write_handouts(course_titled([handout], LONG_TITLE), tmp_path / "long")
    [short_report] = write_handouts(course_titled([handout], SHORT_TITLE), tmp_path / "short")
    heights = {}
    for name, report in (("long", long_report), ("short", short_report)):
        assert report.ok and report.overfull == 0, report.message + "\n" + report.log_excerpt
        boxes = _WORD_BOX.findall(_pdf_text(report.pdf, "-bbox", "-f", "2", "-l", "2"))
        [head] = [b for b in boxes if b[4] == "Probabilistic"]
        heights[name] = float(head[3]) - float(head[1])
    assert heights["long"] >= 0.95 * heights["short"], heights
    page2 = _pdf_text(long_report.pdf, "-f", "2", "-l", "2").splitlines()
    [head_line] = [line for line in page2 if "Probabilistic" in line]
    assert re.search(r"Inference for(\u2026|\. \. \.)$", head_line.strip()), head_line  # T1 sets … as . . .
    page1 = "".join(_pdf_text(long_report.pdf, "-f", "1", "-l", "1").split()).lower()
    assert "".join(LONG_TITLE.split()).lower() in page1


# ----------------------------------------------------------------- F8: site_url's path is Astro's base

DERIVATION = 'title = "The gap"\nK = "any"\nstart = "log(p(x)) - ELBO(q)"\n\n[[step]]\nrel = "="\n' \
             'expr = "KL(q(z), p(z | x))"\nrule = "definition"\n'


def _config(url: str) -> str:
    (config,) = [f for f in site_files("T", url) if f.path == "astro.config.mjs"]
    return config.data.decode("utf-8")


@pytest.mark.parametrize(("url", "base"), [("https://example.edu/week5", "/week5"),
                                           ("https://example.edu/ml/week-5.x/", "/ml/week-5.x"),
                                           ("https://example.edu/", ""), ("http://localhost:4321", "")])
def test_the_addresss_path_is_astros_base(url, base):
    assert site_base(url) == base
    config = _config(url)
    assert f"site: {json.dumps(url)}," in config
    assert (f"base: {json.dumps(base)}," in config) == bool(base) and ("base:" in config) == bool(base)


@pytest.mark.parametrize("url", ["https://example.edu/week5?a=1&b=2", "https://example.edu/week5#top",
                                 "https://example.edu//evil.example/x", "https://example.edu/a/../b",
                                 "https://example.edu/%7Euser", "https://example.edu/a{b}"])
def test_an_address_a_site_cannot_be_served_under_is_refused_at_its_line(tmp_path, url):
    (tmp_path / "gap.toml").write_text(DERIVATION)
    (tmp_path / "elbo-sym.toml").write_text(f'title = "Week 5"\nsite_url = {json.dumps(url)}\n'
                                            'derivations = ["gap.toml"]\n')
    with pytest.raises(DerivationError) as info:
        load_project(tmp_path / "elbo-sym.toml")
    assert info.value.line == 2 and "site_url" in info.value.message, info.value.message
    assert site_base(url) is None
    with pytest.raises(ValueError):
        _config(url)


# ----------------------------------------------------------------- F2: a layout failure names its source

# red team rt31's files: a title whose one formula is wider than the page (every word of it under the
# loader's 80-character limit), and a flashcard whose back is taller than its card
WIDE_TITLE = ("$Sum(q(z) * log(p(x, z) / q(z)), z) - Sum(q(z) * log(q(z) / p(z | x)), z) + KL(q(z), p(z | x)) * "
              "log(p(x)) * E(q, log(p(x | z))) * KL(q(z), p(z)) / H(q)$")
TALL_BACK = " ".join(["$KL(q(z), p(z | x))$ and $E(q, log(p(x | z)))$ and $Sum(q(z) * log(p(x, z) / q(z)), z)$"] * 6)


def _course(tmp_path: Path, monkeypatch) -> None:
    text = (ROOT / "derivations" / "jensen.toml").read_text(encoding="utf-8")
    (tmp_path / "derivations").mkdir()
    (tmp_path / "derivations" / "jensen.toml").write_text(text, encoding="utf-8")
    wide = re.sub(r'(?m)^title = .*$', lambda _: f"\n\ntitle = {json.dumps(WIDE_TITLE)}", text, count=1)
    (tmp_path / "derivations" / "wide.toml").write_text(wide, encoding="utf-8")
    (tmp_path / "fc.toml").write_text(f'title = "Tall"\n\n[[card]]\nfront = "Short"\nback = {json.dumps(TALL_BACK)}\n'
                                      'formula = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"\n'
                                      'assume = ["q(z) != p(z | x)"]\n', encoding="utf-8")
    (tmp_path / "elbo-sym.toml").write_text('title = "T"\nderivations = ["derivations"]\nflashcards = "fc.toml"\n',
                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_title_too_wide_for_the_page_names_its_file_and_line(tmp_path, monkeypatch, capsys):
    """The build fails (the title cannot be set) and the warning names derivations/wide.toml:3, the
    title's line; it named only a line of the generated .tex before."""
    _course(tmp_path, monkeypatch)
    assert main(["build", "--out", "h", "--only", "derivations"]) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: derivations.pdf")]
    assert warnings and all("too wide" in line for line in warnings), warnings
    assert any(f"the title of {Path('derivations', 'wide.toml')}:3" in line for line in warnings), warnings


@pytest.mark.full
@pytest.mark.usefixtures("requires_latex")
def test_a_card_too_tall_names_its_deck_file_and_line(tmp_path, monkeypatch, capsys):
    """The flashcards fail (the back is taller than its card) and the warning names fc.toml:5, the
    back's line (it said "card 1" only, then the [[card]] line, fc.toml:3)."""
    _course(tmp_path, monkeypatch)
    assert main(["build", "--out", "h", "--only", "flashcards"]) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: flashcards.pdf")]
    assert any("the back of card 1 is" in line and "(fc.toml:5, measured by the template)" in line
               for line in warnings), warnings


def test_a_long_formula_word_is_told_what_helps(tmp_path):
    """The loader's advice for a formula with more than 80 characters between spaces is not "add spaces"
    (spaces in a formula change nothing in how TeX sets it)."""
    text = (ROOT / "derivations" / "jensen.toml").read_text(encoding="utf-8")
    formula = "$" + "*".join(["log(p(x))"] * 10) + "$"
    path = tmp_path / "word.toml"
    path.write_text(re.sub(r'(?m)^title = .*$', lambda _: f"title = {json.dumps('The bound ' + formula)}", text,
                           count=1), encoding="utf-8")
    with pytest.raises(DerivationError) as info:
        load(path)
    assert "shorter formulas with words between them" in info.value.message and "add spaces" not in info.value.message

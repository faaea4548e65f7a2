"""Course-website pages (elbo_sym.publish.web, `elbo-sym web`).

* Every formula on every page compiles with KaTeX (the pinned `katex` npm package,
  ``renderToString`` with ``throwOnError: true`` and no site macros), and the formulas a
  Starlight site's Markdown parser (remark-parse + remark-gfm + remark-math) finds on each page
  are exactly the ones the page meant to write: none lost, split or invented by prose.
* One page, rendered to HTML with rehype-katex and opened in headless Debian Chromium, has no
  ``katex-error`` element, one ``.katex`` element per formula, KaTeX's fonts and its figure.
* Front matter parses (a tiny strict YAML reader here, js-yaml as Astro uses it in node), and
  hostile titles stay text.

* The real site (`elbo-sym web --site`): built once with `astro build` from the lock it ships
  (installed in web/site/ by `make web-deps`), served on loopback and measured in headless
  Chromium at 1280 px and 390 px (web/site_check.mjs): every formula rendered, nothing wider
  than its column outside a scroll box, no sideways scrolling, "On this page" = the headings.

Tests that need node + web/node_modules, web/site/node_modules or chromium skip when they are
missing, and fail instead when ELBO_SYM_REQUIRE_WEB=1 (CI). Install them with `make web-deps`.
ELBO_SYM_SITE_SCREENSHOT=docs/images/site-390.png refreshes the README's screenshot
(ELBO_SYM_WEB_SCREENSHOT=PATH keeps the single page's).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from suite_sizes import one_per_family

from elbo_sym.cli import main
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models.base import Instance
from elbo_sym.publish import site, web
from elbo_sym.publish.browser import check_link, checker_items
from elbo_sym.publish.handouts import LESSON_EXAMPLE, HandoutError, elbo_curve
from elbo_sym.publish.outputs import NotOursError
from elbo_sym.report.build import check_file
from elbo_sym.report.model import DerivationReport

# the campaigns here are sized (tests/suite_sizes.py): small in make test, full size in make test-full
pytestmark = pytest.mark.sized

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
LESSON = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "derivations" / "teaching").glob("*.toml"))
PAGES = {"derivations.md", "worked-example.md", "exercises.md", "tight-drill.md", "selfcheck.md", "flashcards.md",
         "find-the-mistake.md"}
LITERATURE = sorted((ROOT / "derivations" / "literature").glob("*.toml"))
"""Every file of derivations/literature/ (found, never listed: more land from other branches)."""


# --------------------------------------------------------------------------- sizes (tests/suite_sizes.py)
# `make test` is the author's fast loop: there the real site is built with one literature file of
# each model family (a literature page with formulas, checker links and scroll boxes, built and
# measured like every page), `web --literature` lists such a folder, and the checker in the browser
# checks the lesson, one variant and one wrong file of each family, the teaching file, the stop
# case and the bad file. `make soundness` (CI, ELBO_SYM_FULL_CAMPAIGNS=1) runs the same tests with
# every file. The assertions are the same at both sizes; each sample asserts it covers every family
# of the full set where it is chosen.


@functools.cache
def site_literature() -> list[Path]:
    """The literature files built into the real site and listed by `web --literature` (sized)."""
    return one_per_family(LITERATURE)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# --------------------------------------------------------------------------- fixtures


def _missing_or_fail(missing: list[str]) -> None:
    if not missing:
        return
    msg = f"web tools missing: {', '.join(missing)} (run `make web-deps`)"
    if os.environ.get("ELBO_SYM_REQUIRE_WEB") == "1":
        pytest.fail(msg + "; ELBO_SYM_REQUIRE_WEB=1 forbids skipping")
    pytest.skip(msg)


def _node_missing() -> list[str]:
    missing = [] if shutil.which("node") else ["node"]
    for package in ("katex", "remark-math", "rehype-katex", "js-yaml"):
        if not (WEB / "node_modules" / package / "package.json").is_file():
            missing.append(f"web/node_modules/{package} (npm ci --prefix web)")
    return missing


@pytest.fixture
def requires_node() -> None:
    """Skip without node and web/node_modules; fail instead when ELBO_SYM_REQUIRE_WEB=1 (CI)."""
    _missing_or_fail(_node_missing())


@pytest.fixture
def requires_chromium() -> str:
    """Chromium as well as node (the path of the browser)."""
    browser = shutil.which("chromium")
    _missing_or_fail(_node_missing() + ([] if browser else ["chromium"]))
    assert browser is not None
    return browser


@pytest.fixture(scope="module")
def reports(checked_report):
    return [checked_report(path) for path in LESSON]


@pytest.fixture(scope="module")
def items(reports):
    return web.lesson_pages(reports)


@pytest.fixture(scope="module")
def pages(items) -> dict[str, web.Page]:
    return {item.path: item for item in items if isinstance(item, web.Page)}


# --------------------------------------------------------------------------- helpers


def node_check(payload: dict) -> dict:
    """Run web/katex_check.mjs on a JSON payload; its JSON answer."""
    run = subprocess.run(["node", str(WEB / "katex_check.mjs")], input=json.dumps(payload), capture_output=True,
                         text=True, timeout=CHILD_TIMEOUT_SECONDS, cwd=WEB)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


_YAML_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
                 "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
                 "L": "\u2028", "P": "\u2029"}


def yaml_scalar(text: str) -> str | int:
    """One value of the tiny YAML subset the pages use: a double-quoted string or an integer."""
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    match = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', text)
    assert match, f"not a double-quoted YAML scalar: {text!r}"
    out, body, i = [], match.group(1), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            assert ch >= " " and ch not in "\x7f\x85\u2028\u2029\ufeff", f"raw control character {ch!r} in {text!r}"
            out.append(ch)
            i += 1
            continue
        code = body[i + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width:
            digits = body[i + 2:i + 2 + width]
            assert re.fullmatch(f"[0-9A-Fa-f]{{{width}}}", digits), f"bad escape in {text!r}"
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            assert code in _YAML_ESCAPES, f"unknown escape \\{code} in {text!r}"
            out.append(_YAML_ESCAPES[code])
            i += 2
    return "".join(out)


def front_matter(text: str) -> tuple[dict, str]:
    """The front matter of a page (strict: only `key: scalar` and one nested mapping) and its body."""
    assert text.startswith("---\n"), text[:40]
    end = text.index("\n---\n", 3)
    data: dict = {}
    nested: dict | None = None
    for line in text[4:end].split("\n"):
        top = re.fullmatch(r"([a-z]+):(?: (.+))?", line)
        inner = re.fullmatch(r"  ([a-z]+): (.+)", line)
        if top and top.group(2) is None:
            nested = data[top.group(1)] = {}
        elif top:
            nested = None
            assert top.group(1) not in data, f"duplicate key {top.group(1)}"
            data[top.group(1)] = yaml_scalar(top.group(2))
        elif inner and nested is not None:
            nested[inner.group(1)] = yaml_scalar(inner.group(2))
        else:
            raise AssertionError(f"not in the front matter subset: {line!r}")
    return data, text[end + 5:]


def _write_derivation(path: Path, title: str, summary: str, why: str) -> Path:
    source = (ROOT / "derivations" / "jensen.toml").read_text(encoding="utf-8")
    source = re.sub(r'(?m)^title = .*$', lambda _: f"title = {json.dumps(title)}", source)
    source = re.sub(r'(?m)^summary = .*$', lambda _: f"summary = {json.dumps(summary)}", source)
    source = source.replace('why = "this is the evidence lower bound"', f"why = {json.dumps(why)}")
    path.write_text(source, encoding="utf-8")
    return path


# < > ~ are relation signs: beside a $...$ formula they are refused when the file is loaded
# (issue 15, tests/test_prose_relations.py), so the prose around the formulas uses entities
HOSTILE_TITLE = (r'&amp;lt;script&amp;gt; {x} *em* _u_ **s** [l](http://e.example) $KL(q(z), p(z | x))$ '
                 r'\$5: # "q" \ `c` &amp; www.e.example')
HOSTILE_MARKUP = r'<script>alert(1)</script> {x} *em* _u_ ~~s~~ [l](http://e.example) \$5: # "q" \ `c` &amp;'
# an entity that decodes to a relation (&lt;) next to a formula is refused (elbo_sym.prose.spelled_relation):
# the hostile texts beside formulas escape their markup twice, and it still prints as text
HOSTILE_WHY = "see &amp;lt;b&amp;gt;{x}&amp;lt;/b&amp;gt; &quot; and $ELBO(q)$$H(q)$, two formulas side by side"
HOSTILE_SUMMARY = "1. not a list\n\n- not a list either <b>{props}</b>\n\n> no quote | no table | ---"


# --------------------------------------------------------------------------- pages and the CLI


@pytest.mark.full
def test_web_writes_every_page_and_the_figure_deterministically(tmp_path, monkeypatch):
    """`elbo-sym web --out DIR` writes each page kind and the SVG; a second run is byte-identical."""
    first, second = tmp_path / "a", tmp_path / "b"
    args = ["derivations/", "derivations/teaching/"]
    monkeypatch.chdir(ROOT)
    assert main(["web", *args, "--out", str(first)]) == 0
    assert main(["web", *args, "--out", str(second)]) == 0
    names = {p.name for p in first.iterdir()}
    assert names == PAGES | {web.FIGURE_FILE, web.PAGES_MANIFEST}  # and the list of what it wrote
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert "](./worked-example-elbo.svg)" in (first / "worked-example.md").read_text(encoding="utf-8")


def test_web_refuses_a_derivation_that_is_not_checked(tmp_path, capsys):
    """A refuted step: exit 1, nothing written; --out naming a file: exit 2."""
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "derivations" / "jensen.toml").read_text(encoding="utf-8")
                   .replace('rel = ">="', 'rel = "<="'), encoding="utf-8")
    out = tmp_path / "site"
    assert main(["web", str(bad), "--out", str(out)]) == 1
    assert "bad.toml" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    assert main(["web", str(ROOT / "derivations" / "jensen.toml"), "--out", str(bad)]) == 2


@pytest.fixture(scope="module")
def literature_reports(checked_report):
    """The reports of the literature files the page tests list (`site_literature`: every file of
    derivations/literature/ at full size, one of each family in `make test`)."""
    assert len(LITERATURE) >= 8
    return [checked_report(path) for path in site_literature()]


@pytest.mark.full
def test_web_literature_page_lists_every_file(tmp_path, monkeypatch, literature_reports):
    """`web --literature derivations/literature/`: one more page, From the literature, with a
    plain heading per file (its title), its file name, a verdict mark and rule per step, each
    step's formula; without --site no checker links; byte-identical on a second run. (In `make
    test` the folder holds a copy of one file of each family: `site_literature`.)"""
    monkeypatch.chdir(ROOT)
    listed = site_literature()
    folder = "derivations/literature/"
    if listed != LITERATURE:
        folder = str(tmp_path / "literature")
        os.mkdir(folder)
        for path in listed:
            shutil.copyfile(path, Path(folder) / path.name)
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert main(["web", "derivations/", "--literature", folder, "--out", str(out)]) == 0
    names = {p.name for p in first.iterdir()}
    assert "from-the-literature.md" in names
    text = (first / "from-the-literature.md").read_text(encoding="utf-8")
    assert text == (second / "from-the-literature.md").read_text(encoding="utf-8")
    data, body = front_matter(text)
    assert data["title"] == "From the literature" and data["sidebar"]["order"] == web.LITERATURE_ORDER
    assert data["description"].startswith(f"{len(listed)} identities")
    page = web.literature_page(literature_reports)
    assert page is not None and page.text == text
    assert page.headings == tuple(f"{i}. {web._Markdown.plain(r.title_parts, r.title)}"  # set as the handouts do
                                  for i, r in enumerate(literature_reports, 1))
    sections = re.split(r"(?m)^## ", body)[1:]
    assert len(sections) == len(listed)
    for section, report in zip(sections, literature_reports, strict=True):
        assert f"`{Path(report.file).name}`" in section
        notes = re.findall(r"(?m)^(\d+)\. (✓) .* \\\[`([a-z-]+)`\\\]$", section)
        assert [(int(n), r) for n, _, r in notes] == [(s.index, s.rule) for s in report.steps], report.file
        for step in report.steps:  # each step's formula, as the printer sets it (through katex_tex)
            assert web.katex_tex(step.expr.latex) in section, (report.file, step.index)
        assert "check/#toml=" not in section


@pytest.mark.full
def test_web_literature_page_has_a_checker_link_per_file(literature_reports):
    links = {r.file: "../" + check_link(Path(r.file).read_text(encoding="utf-8"), "check/")
             for r in literature_reports}
    page = web.literature_page(literature_reports, links)
    assert page is not None
    for report in literature_reports:
        assert f"[Check this derivation in your browser]({links[report.file]})" in page.body
        # the link carries the file itself: decoded, it is the file's text
        encoded = links[report.file].split("#toml=", 1)[1]
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        assert decoded == Path(report.file).read_text(encoding="utf-8")
    assert web.literature_page([]) is None


@pytest.mark.full
def test_web_refuses_a_literature_file_not_proved(tmp_path, capsys):
    """An accepted `checked` step passes `web` for the lesson, never for the literature page."""
    lit = tmp_path / "literature"
    lit.mkdir()
    (lit / "entropy.toml").write_text('title = "Entropy of two states"\nK = 2\nstart = "H(q)"\n\n[[step]]\n'
                                      'rel = "<="\nexpr = "log(2)"\nrule = "algebra"\naccept = "checked"\n',
                                      encoding="utf-8")
    out = tmp_path / "pages"
    assert main(["web", str(ROOT / "derivations"), "--literature", str(lit), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no pages written" in err and "entropy.toml" in err and "checked (accepted), not proved" in err
    assert not out.exists() or not any(out.iterdir())
    assert main(["web", str(lit), "--out", str(out)]) == 0  # as a lesson file it is printed, labelled


@pytest.mark.full
def test_every_literature_formula_compiles_with_katex(literature_reports, requires_node):
    page = web.literature_page(literature_reports)
    assert page is not None and len(page.formulas) > 10 * len(literature_reports) // 2
    result = node_check({"macros": {}, "formulas": [{"tex": f.tex, "display": f.display} for f in page.formulas],
                         "pages": {page.path: page.text}})
    failed = [(f.tex, r["error"]) for f, r in zip(page.formulas, result["formulas"]) if not r["ok"]]
    assert not failed, failed[:5]
    parsed = result["pages"][page.path]
    assert Counter((m["tex"], m["display"]) for m in parsed["math"]) == Counter((f.tex, f.display)
                                                                                 for f in page.formulas)
    assert "html" not in parsed["types"] and parsed["headings"] == list(page.headings)


def test_answers_are_collapsible(pages):
    """Exercises, drill, self-check and flashcards: each answer in <details><summary>Answer</summary>
    with blank lines around its Markdown (so CommonMark and MDX parse the inside as Markdown)."""
    expected = {"exercises.md": 6, "tight-drill.md": 5, "selfcheck.md": 6}
    for name, count in expected.items():
        body = pages[name].body
        assert body.count("<details>\n<summary>Answer</summary>\n\n") == count, name
        assert body.count("\n\n</details>") == count, name
    cards = pages["flashcards.md"].body
    assert cards.count("<summary>Answer</summary>") == len(re.findall(r"(?m)^## Card \d+", cards)) >= 10
    # the question is outside the answer: the first question's text precedes the first <details>
    selfcheck = pages["selfcheck.md"].body
    assert selfcheck.index("marginal likelihood") < selfcheck.index("<details>") < selfcheck.index("cannot be computed")


# --------------------------------------------------------------------------- front matter and escaping


def test_front_matter_parses(pages):
    for name, page in pages.items():
        data, body = front_matter(page.text)
        assert set(data) == {"title", "description", "sidebar"}, name
        assert data["title"] == page.title and data["title"].strip(), name
        assert data["description"] == page.description and len(data["description"]) > 20, name
        assert isinstance(data["sidebar"]["order"], int), name
        assert body == "\n" + page.body and not page.body.startswith("# "), name  # Starlight prints the title as <h1>
    assert sorted(p.order for p in pages.values()) == list(range(1, len(pages) + 1))


@pytest.mark.parametrize("text", [
    'plain', 'a "quoted" \\ backslash', 'key: value # not a comment', "---", "- [list, {flow}]", "'single'",
    "tab\there", "line\nbreak", "\u2028\u2029\x85\ufeff\u200e", "emoji 😀 and é", "\x00\x1b\x7f", "null",
    "",
])
def test_yaml_string_round_trips(text):
    assert yaml_scalar(web.yaml_string(text)) == text
    assert "\n" not in web.yaml_string(text)


def test_yaml_string_replaces_lone_surrogates():
    assert yaml_scalar(web.yaml_string("file\udcff.toml")) == "file\ufffd.toml"


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_MARKUP, HOSTILE_SUMMARY, "1) x", "12. y", "2.", "a_b_c",
                                  "</details>"])
def test_md_text_escapes_every_markup_character(text):
    escaped = web.md_text(text)
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert unescaped == re.sub(r"\s+", " ", text)  # CommonMark's escapes give the text back
    bare = re.sub(r"\\.", "", escaped)  # what is left outside escapes has no markup character
    assert not set(bare) & set("\\`*_{}[]<>#+-!|$&~^=:"), bare
    assert not re.match(r"\d+[.)](\s|$)", bare)


def test_hostile_prose_in_front_matter_and_page(tmp_path):
    """A title with HTML, JSX/MDX braces, emphasis, a link, a formula and YAML syntax: the front
    matter gives the title back as text; the page's heading escapes it, its formula as plain
    text in the file syntax (a heading carries no math: see test_site_toc_entries_are_the_headings)."""
    report = check_file(load(_write_derivation(tmp_path / "hostile.toml", HOSTILE_TITLE, HOSTILE_SUMMARY,
                                               HOSTILE_WHY)))
    page = web.derivations_page([report])
    data, body = front_matter(page.text)
    assert data["title"] == "Derivations"
    assert HOSTILE_TITLE.replace("$", "").replace("\\", "")[:20] in data["description"]
    assert "KL(q(z), p(z | x))" in data["description"]  # the formula as the file syntax, without $
    heading = next(line for line in body.splitlines() if line.startswith("## "))[3:]
    plain = page.headings[0]
    assert plain.startswith("1. ") and plain.count("KL(q(z), p(z | x))") == 1 and "$5" in plain
    assert "&amp;lt;script&amp;gt;" in plain and "\\mathrm" not in plain
    assert re.sub(r"\\(.)", r"\1", heading) == plain  # CommonMark's escapes give the plain text back
    outside = re.sub(r"\\.", "", heading)  # what is left outside escapes: no markup, no math
    assert not set(outside) & set("<>{}*_$[]`~&|\\"), outside
    assert "\\&amp;lt;script\\&amp;gt;" in heading and "\\{x\\}" in heading and "\\$5" in heading
    assert "\n1\\. not a list" in body and "\n\\> no quote" in body
    assert "\n\u2013 not a list" in body  # a lone " - " is an en dash, as the handouts print it: no list either


@pytest.mark.full
def test_hostile_prose_parses_as_text(tmp_path, requires_node):
    """What a Starlight site's Markdown parser makes of the hostile page: no HTML, emphasis,
    strikethrough, quote, table or Markdown link from the prose (a bare URL is linked by GFM as
    in any text: the only links are such autolinks); its one formula is math; the front matter
    (js-yaml) gives the strings back."""
    report = check_file(load(_write_derivation(tmp_path / "hostile.toml", HOSTILE_TITLE, HOSTILE_SUMMARY,
                                               HOSTILE_WHY)))
    page = web.derivations_page([report])
    result = node_check({"pages": {"p.md": page.text}})["pages"]["p.md"]
    assert result["frontmatter"] == {"title": page.title, "description": page.description,
                                     "sidebar": {"order": page.order}}
    for kind in ("html", "emphasis", "delete", "blockquote", "thematicBreak"):
        assert kind not in result["types"], kind
    assert result["types"]["table"] == 1  # the example's values, not "| no table |"
    assert result["types"]["list"] == 1  # the step notes, not "1. not a list" or "- not a list either"
    assert all(link["text"] in link["url"] for link in result["links"]), result["links"]
    assert result["headings"] == list(page.headings)  # plain text: the formula in the file syntax, no math node
    assert "KL(q(z), p(z | x))" in page.headings[0]
    assert Counter(json.dumps(m, sort_keys=True) for m in result["math"]) == Counter(
        json.dumps({"tex": f.tex, "display": f.display}, sort_keys=True) for f in page.formulas)


@pytest.mark.full
def test_hostile_front_matter_parses_with_js_yaml(requires_node):
    nasty = 'a: "b" \\ c\n---\n# {x} \u2028 \x85 \ufeff \x1b 😀 \'q\' - [1] ~ null'
    page = web.Page("x.md", nasty, nasty[::-1], "text\n", 3)
    result = node_check({"pages": {"x.md": page.text}})["pages"]["x.md"]
    assert "frontmatterError" not in result
    assert result["frontmatter"] == {"title": nasty, "description": nasty[::-1], "sidebar": {"order": 3}}


# --------------------------------------------------------------------------- KaTeX


def test_katex_macros_come_from_the_handout_preamble():
    preamble = (ROOT / "elbo_sym" / "publish" / "templates" / "base.tex.j2").read_text(encoding="utf-8")
    for name in (r"\KL", r"\ELBO", r"\E", r"\given"):
        assert name in web.KATEX_MACROS
        assert f"\\providecommand{{{name}}}{{{web.KATEX_MACROS[name]}}}" in preamble
    assert r"\verdictmark" not in web.KATEX_MACROS  # takes an argument: not notation
    tex = web.katex_tex(r"\KL\big(q \,\|\, p(z \given x)\big) + \E_{q}[f] \Each")
    assert tex == r"\operatorname{KL}\big(q \,\|\, p(z \mid x)\big) + \mathbb{E}_{q}[f] \Each"


@pytest.mark.full
def test_every_formula_on_every_page_compiles_with_katex(pages, requires_node):
    """Each formula through katex.renderToString(throwOnError: true) with no macros, and the
    math a Starlight site parses from each page is exactly the list of formulas written."""
    formulas = [f for page in pages.values() for f in page.formulas]
    assert len(formulas) > 300
    result = node_check({"macros": {}, "formulas": [{"tex": f.tex, "display": f.display} for f in formulas],
                         "pages": {name: page.text for name, page in pages.items()}})
    assert result["katex"].startswith("0.16.")
    failed = [(f.tex, r["error"]) for f, r in zip(formulas, result["formulas"]) if not r["ok"]]
    assert not failed, failed[:5]
    assert len(result["formulas"]) == len(formulas)
    for name, page in pages.items():
        parsed = result["pages"][name]
        assert parsed["frontmatter"]["title"] == page.title, name
        written = Counter((f.tex, f.display) for f in page.formulas)
        found = Counter((m["tex"], m["display"]) for m in parsed["math"])
        assert found == written, (name, (found - written), (written - found))
        assert "html" not in parsed["types"] or name in {"exercises.md", "tight-drill.md", "selfcheck.md",
                                                         "flashcards.md", "find-the-mistake.md"}, name


@pytest.mark.full
def test_katex_check_rejects_what_katex_cannot_compile(requires_node):
    """The check can fail: broken LaTeX, and the preamble's macros when they are not expanded."""
    raw = r"\KL(q \given p)"
    result = node_check({"macros": {}, "formulas": [
        {"tex": r"\frac{1}{", "display": False}, {"tex": raw, "display": True},
        {"tex": web.katex_tex(raw), "display": True}, {"tex": raw, "display": False}]})
    ok = [r["ok"] for r in result["formulas"]]
    assert ok[:3] == [False, False, True]
    assert node_check({"macros": dict(web.KATEX_MACROS), "formulas": [{"tex": raw, "display": False}]}
                      )["formulas"][0]["ok"]


def test_a_bar_in_table_math_cannot_split_a_cell():
    doc = web._Markdown()
    assert doc.m(r"a | b \| c", table=True) == r"$a \vert  b \| c$"
    assert doc.m(r"a | b") == "$a | b$"


# --------------------------------------------------------------------------- the figure


def _svg(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def test_figure_is_the_worked_example_curve(items):
    asset = next(i for i in items if isinstance(i, web.Asset))
    assert asset.path == web.FIGURE_FILE
    svg = _svg(asset.data)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg" and svg.get("viewBox") == "0 0 640 400"
    figure = elbo_curve(LESSON_EXAMPLE)
    points = [tuple(map(float, p.split(","))) for p in svg.find(f".//{ns}polyline").get("points").split()]
    assert len(points) == figure["points"] == 102
    # the curve's highest point is the posterior (q1 = 1/2), on the dashed log p(x) line, where the green dot is
    dashed = next(line for line in svg.iter(f"{ns}line") if line.get("stroke-dasharray"))
    top = min(points, key=lambda p: p[1])
    dots = {c.get("fill"): (float(c.get("cx")), float(c.get("cy"))) for c in svg.iter(f"{ns}circle")}
    assert dots["#1b7f3b"] == pytest.approx((top[0], float(dashed.get("y1"))), abs=0.05)
    assert top[1] == pytest.approx(float(dashed.get("y1")), abs=0.05)
    # the gap segment stands at q1 = 2/3, from the curve up to the line
    red = next(line for line in svg.iter(f"{ns}line") if line.get("stroke") == "#b00020")
    x_half, x_one = dots["#1b7f3b"][0], float(svg.find(f".//{ns}polyline").get("points").split()[-1].split(",")[0])
    assert float(red.get("x1")) == pytest.approx(x_half + (x_one - x_half) / 3, abs=0.05)
    assert float(red.get("y2")) == pytest.approx(float(dashed.get("y1")))


def test_tight_example_has_no_gap_segment():
    tight = Instance.of("tight", prior=(Fraction(3, 4), Fraction(1, 4)), likelihood=(Fraction(1, 5), Fraction(3, 5)),
                        q=(Fraction(1, 2), Fraction(1, 2)))
    page, asset = web.worked_example_page(tight)
    assert asset is not None
    assert b"#b00020" not in asset.data and b"#1b7f3b" in asset.data
    assert "the gap is zero" in page.body


# --------------------------------------------------------------------------- headless Chromium


def _chromium(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                           *args], capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)


def _render(tmp_path: Path, page: web.Page, assets=()) -> Path:
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    web.write_pages([page, *assets], folder)
    html = folder / page.path.replace(".md", ".html")
    run = subprocess.run(["node", str(WEB / "render_page.mjs"), str(folder / page.path), str(html)],
                         capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stderr
    return html


def _body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:200]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))


@pytest.mark.full
def test_page_renders_in_chromium_without_katex_errors(pages, items, tmp_path, requires_chromium):
    """The worked example (tables, displays, the figure) as a Starlight site renders it, opened in
    headless Chromium: every formula typeset by KaTeX with its fonts, no error element, the
    figure loaded; a screenshot is taken."""
    page = pages["worked-example.md"]
    figure = [i for i in items if isinstance(i, web.Asset)]
    html = _render(tmp_path, page, figure)
    dom = _chromium(requires_chromium, tmp_path, "--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    data = _body_data(dom.stdout)
    assert data["katex-errors"] == "0"
    assert not re.search(r'class="[^"]*\bkatex-error\b', dom.stdout)
    assert int(data["katex-count"]) == len(page.formulas) == dom.stdout.count('<span class="katex">')
    assert "KaTeX_Main" in data["katex-font"]  # KaTeX's stylesheet was applied
    assert data["images"] == data["images-loaded"] == "1"
    shot = tmp_path / "web-page.png"
    run = _chromium(requires_chromium, tmp_path, "--hide-scrollbars", "--window-size=1100,2300",
                    f"--screenshot={shot}", html.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    target = os.environ.get("ELBO_SYM_WEB_SCREENSHOT")
    if target:
        shutil.copyfile(shot, ROOT / target)


@pytest.mark.full
def test_chromium_check_sees_a_katex_error(tmp_path, requires_chromium):
    """The browser check can fail: a page with a formula KaTeX cannot compile shows its error element."""
    page = web.Page("broken.md", "Broken", "A page with one broken formula.", "Fine $x$, broken $\\frac{1}{$.\n", 1)
    html = _render(tmp_path, page)
    dom = _chromium(requires_chromium, tmp_path, "--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _body_data(dom.stdout)["katex-errors"] == "1"
    assert re.search(r'class="[^"]*\bkatex-error\b', dom.stdout)


def test_pages_refuse_unchecked_cards(tmp_path):
    """A deck with a refuted formula is not published (the handouts' check_deck)."""
    deck = ROOT / "elbo_sym" / "lesson" / "data" / "selfcheck.toml"
    if not deck.is_file():
        pytest.skip("the lesson's self-check is not at elbo_sym/lesson/data/selfcheck.toml")
    text = deck.read_text(encoding="utf-8")
    broken = text.replace("p(x) = Sum(p(z) * p(x | z), z)", "p(x) = Sum(p(z) * p(z | x), z)", 1)
    assert broken != text
    bad = tmp_path / "selfcheck.toml"
    bad.write_text(broken, encoding="utf-8")
    with pytest.raises(HandoutError):
        web.selfcheck_page(bad)


def test_write_pages_stays_inside_the_output_folder(tmp_path):
    for path in ("../escape.md", "/etc/escape.md", ""):
        with pytest.raises(web.WebError):
            web.write_pages([web.Asset(path, b"x")], tmp_path / "out")
    assert not (tmp_path / "escape.md").exists()
    (tmp_path / "elsewhere.md").write_text("keep", encoding="utf-8")
    (tmp_path / "out" / "page.md").symlink_to(tmp_path / "elsewhere.md")  # replaced, not followed
    web.write_pages([web.Asset("page.md", b"new")], tmp_path / "out")
    assert (tmp_path / "elsewhere.md").read_text(encoding="utf-8") == "keep"
    assert (tmp_path / "out" / "page.md").read_bytes() == b"new" and not (tmp_path / "out" / "page.md").is_symlink()


def test_a_probability_is_never_given_in_nats_on_the_pages(pages):
    """p(x) = 3/10 is a probability: its row carries the decimal next to the exact value and
    leaves the nats and bits columns empty (as on the PDFs)."""
    body = pages["worked-example.md"].body
    rows = [line for line in body.splitlines() if line.startswith("|") and "p(x)" in line and "log" not in line]
    assert rows, "no p(x) row"
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[-1] == "" and cells[-2] == "", row
    assert "(a probability)" not in body


# --------------------------------------------------------------------------- the real site (--site)
#
# `elbo-sym web --site DIR` writes a complete Astro + Starlight site. One fixture builds the
# lesson's site with the real toolchain (the packages `make web-deps` installed in web/site/
# from the lock the site ships), serves it on loopback and opens it in Debian's Chromium at
# 1280 px and 390 px (web/site_check.mjs, puppeteer-core); the tests judge what the browser saw.

SITE_DEPS = WEB / "site"
SITE_WIDTHS = [1280, 390]
MATH_TITLE = "The gap {x} $KL(q(z), p(z | x))$ is a divergence"
NO_SCROLL_BOXES = (".sl-markdown-content .katex-display, .sl-markdown-content table "
                   "{ overflow: visible !important; max-width: none !important; }")
MATH_HEADING = web.Page("math-heading.md", "A heading with math", "What Starlight lists for a formula in a heading.",
                        "## The bound as a function of $q(z)$\n\nA page written by hand, not by elbo-sym.\n", 99,
                        (web.Formula("q(z)", False),), ("The bound as a function of q(z)",))
"""A page as an author might write it (math in a heading), built into the site to show what
the plain headings avoid; it is not one of the site's pages."""
TYPED_TITLE = "Typed -- two hyphens, three dots... and \"double\" and 'single' quotes"
TYPED_SUMMARY = "An author's -- and ... stay as typed; \"quotes\" curl as the handouts curl them."
TYPED_WHY = "a step -- as typed... ending 'here'"
"""Author prose that Astro's SmartyPants rewrote (-- as a dash, ... as an ellipsis): built into the site."""
ONE_LINE_TITLE = (".site-title { white-space: nowrap !important; font-size: var(--sl-text-h4) !important; "
                  "line-height: inherit !important; }")
"""Starlight's own title: one line at h4's size, clipped by the header when too long."""
NO_KATEX_CSS = (".katex .katex-mathml { position: static !important; clip: auto !important; "
                "width: auto !important; height: auto !important; }")


def _site_missing() -> list[str]:
    missing = _node_missing() + ([] if shutil.which("chromium") else ["chromium"])
    if not (WEB / "node_modules" / "puppeteer-core" / "package.json").is_file():
        missing.append("web/node_modules/puppeteer-core (npm ci --prefix web)")
    if not (SITE_DEPS / "node_modules" / "astro" / "package.json").is_file():
        missing.append("web/site/node_modules (make web-deps)")
    elif (SITE_DEPS / "package-lock.json").read_bytes() != (site.TEMPLATE / "package-lock.json").read_bytes():
        missing.append("web/site/node_modules from the site's current package-lock.json (make web-deps)")
    return missing


def _run_group(args: list[str], *, timeout: float, input: str | None = None, **options) -> subprocess.CompletedProcess:
    """Run a command in its own process group, killed as a whole on timeout (Chromium's and
    Vite's children would outlive a plain subprocess.run timeout)."""
    with subprocess.Popen(args, start_new_session=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **options) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=CHILD_TIMEOUT_SECONDS)
            raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 -- the base class's name
        pass


class BuiltSite:
    """The lesson's site, built by Astro and served on 127.0.0.1 while the tests run."""

    def __init__(self, root: Path, pages: dict[str, web.Page], base: str, profiles: Path) -> None:
        self.root, self.pages, self.base, self.profiles = root, pages, base, profiles
        self.measured: dict[tuple[str, int], dict] = {}

    @staticmethod
    def url(page: web.Page) -> str:
        return "/" if page.path == "index.md" else "/" + page.path.removesuffix(".md") + "/"

    def check(self, paths: list[str], widths: list[int], **options) -> dict[tuple[str, int], dict]:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=self.profiles))  # a fresh --user-data-dir
        request = {"chromium": shutil.which("chromium"), "profile": str(profile), "base": self.base,
                   "paths": paths, "widths": widths, **options}
        run = _run_group(["node", str(WEB / "site_check.mjs")], input=json.dumps(request),
                         timeout=CHILD_TIMEOUT_SECONDS, cwd=WEB)
        assert run.returncode == 0, run.stderr[-3000:]
        return {(m["path"], m["width"]): m for m in json.loads(run.stdout)["pages"]}


@pytest.fixture(scope="module")
def built_site(tmp_path_factory, checked_report):
    """Write the site (`site.site_items` over the lesson's pages, a derivation with a formula in
    its title and the literature page of `site_literature`), build it with `astro build`, serve
    dist/ on loopback, measure every page."""
    _missing_or_fail(_site_missing())
    tmp = tmp_path_factory.mktemp("site")
    paths = LESSON + [_write_derivation(tmp / "math-title.toml", MATH_TITLE, "A title with a formula.",
                                        "this is the evidence lower bound"),
                      _write_derivation(tmp / "typed.toml", TYPED_TITLE, TYPED_SUMMARY, TYPED_WHY)]
    literature = site_literature()
    links = {str(path): "../" + check_link(path.read_text(encoding="utf-8"), "check/") for path in paths + literature}
    items = web.lesson_pages([checked_report(path) for path in paths], check_links=links,
                             literature=[checked_report(path) for path in literature])
    pages = {item.path: item for item in items if isinstance(item, web.Page)}
    # Inside web/site/, so node finds the packages `make web-deps` installed there (Vite does not
    # build through a symlinked node_modules); the site's own lock is the one installed.
    root = Path(tempfile.mkdtemp(prefix="test-site-", dir=SITE_DEPS))
    try:
        # and the checker page (/check/), as `web --site` adds it: tested in Chromium below
        everything = site.site_items([*items, MATH_HEADING,
                                      *checker_items({p.name: p.read_text(encoding="utf-8")
                                                      for p in paths + literature})])
        web.write_pages(everything, root)
        assert (root / "package-lock.json").read_bytes() == (SITE_DEPS / "package-lock.json").read_bytes()
        env = {**os.environ, "ASTRO_TELEMETRY_DISABLED": "1"}
        build = _run_group(["node", str(SITE_DEPS / "node_modules" / "astro" / "astro.js"), "build"], cwd=root,
                           env=env, timeout=900)
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        _only_documented_notices(build.stdout + build.stderr)
        dist = root / "dist"
        pages["index.md"] = site.index_page(list(pages.values()))
        for page in pages.values():
            assert (dist / BuiltSite.url(page).lstrip("/") / "index.html").is_file(), page.path
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=dist))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            built = BuiltSite(root, pages, f"http://{host}:{port}", tmp)
            urls = [built.url(p) for p in [*pages.values(), MATH_HEADING]]
            shot = {"path": "/worked-example/", "width": 390, "height": 1100, "anchor": "state-by-state",
                    "file": str(tmp / "site-390.png")}
            built.measured = built.check(urls, SITE_WIDTHS, screenshot=shot)
            yield built
        finally:
            server.shutdown()
            server.server_close()
            # gone before the worker's next test: a live thread makes elbo_sym.report.parallel
            # check serially, and test_parallel_check's dying workers would then be this process
            thread.join()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _title_cut(m: dict) -> list[str]:
    """Where the header's site title is cut: its text outside the viewport or outside a box that
    clips it (Starlight clips a title too long for one line: rt18 saw "Latent variables and th")."""
    title = m["title"]
    cuts = [] if title["left"] >= 0 and title["right"] <= title["viewport"] + 0.5 else ["the viewport"]
    for box in title["clips"]:
        if not (box["left"] - 0.5 <= title["left"] and title["right"] <= box["right"] + 0.5
                and box["top"] - 0.5 <= title["top"] and title["bottom"] <= box["bottom"] + 0.5):
            cuts.append(f"{box['tag']}.{box['cls']}")
    return cuts


def _only_documented_notices(log: str) -> None:
    """Every warning or "not found" the site's build prints is one docs/03 lists as expected and
    harmless (red team rt26: Starlight's "Entry docs → 404 was not found." was not listed)."""
    documented = " ".join((ROOT / "docs" / "03-publishing.md").read_text(encoding="utf-8").split())
    for notice in re.findall(r"\[WARN\][^\n]*|Entry \w+ → \S+ was not found\.", re.sub(r"\x1b\[[0-9;]*m", "", log)):
        assert " ".join(notice.split()) in documented, notice


def _measured(built: BuiltSite):
    for name, page in built.pages.items():
        for width in SITE_WIDTHS:
            yield name, page, width, built.measured[built.url(page), width]


@pytest.mark.full
def test_site_every_formula_is_rendered(built_site):
    """Each page at 1280 px and 390 px: served, one .katex per formula the page wrote, no
    .katex-error, KaTeX's CSS applied (MathML copies hidden, KaTeX's fonts), the figure loaded."""
    assert len(built_site.pages) == len(PAGES) + 2  # and the literature page and the landing page
    literature = built_site.pages["from-the-literature.md"]
    assert literature.body.count("](../check/#toml=") == len(site_literature()) >= 2 and literature.formulas
    for name, page, width, m in _measured(built_site):
        where = (name, width)
        assert m["status"] in (200, 304) and m["found"], where  # 304: the second width, from the cache
        assert m["katexErrors"] == 0, where
        assert m["katex"] == len(page.formulas), (where, m["katex"], len(page.formulas))
        assert m["mathmlShown"] == 0, where
        if page.formulas:
            assert "KaTeX_Main" in m["katexFont"], where
        assert m["imagesLoaded"] == m["images"] == (1 if name == "worked-example.md" else 0), where
    assert sum(len(p.formulas) for p in built_site.pages.values()) > 300


@pytest.mark.full
def test_site_pages_load_everything_they_ask_for(built_site):
    """No page asks for what the site does not serve (rt4: Starlight links /favicon.svg, a 404
    on every page) and Chromium's console shows no error."""
    for name, _page, width, m in _measured(built_site):
        assert m["failed"] == [], (name, width)
        assert m["consoleErrors"] == [], (name, width)
    assert (built_site.root / "public" / "favicon.svg").is_file()


@pytest.mark.full
def test_site_never_scrolls_sideways(built_site):
    """No element wider than the content column unless it is inside its own scroll box, and the
    page itself never scrolls sideways; at 390 px the wide tables and chains are such boxes."""
    for name, _page, width, m in _measured(built_site):
        assert m["scrollWidth"] <= m["clientWidth"], (name, width, m["scrollWidth"], m["clientWidth"])
        assert m["overflowing"] == [], (name, width, m["overflowing"][:3])
        assert m["title"]["text"] == site.DEFAULT_SITE_TITLE and _title_cut(m) == [], (name, width, m["title"])
    boxes = {name: {b["tag"] for b in built_site.measured[built_site.url(p), 390]["scrollBoxes"]}
             for name, p in built_site.pages.items() if name != "index.md"}
    assert {"table", "span"} <= boxes["worked-example.md"]  # the tables of values and the givens display
    assert {"table", "span"} <= boxes["derivations.md"]  # the examples' tables and the chains (.katex-display)
    assert "table" in boxes["exercises.md"] and "span" in boxes["tight-drill.md"]  # inside the opened answers
    assert {"table", "span"} <= boxes["from-the-literature.md"]  # as the derivations page


@pytest.mark.full
def test_site_check_sees_what_the_stylesheet_prevents(built_site):
    """The browser check can fail: without the site's scroll boxes the 390 px pages scroll
    sideways and name the overflowing elements; without KaTeX's CSS the MathML copies show;
    with Starlight's one-line title the header cuts the course's title."""
    paths = ["/derivations/", "/worked-example/"]
    broken = built_site.check(paths, [390], extraCss=NO_SCROLL_BOXES + NO_KATEX_CSS)
    for path in paths:
        m = broken[path, 390]
        assert m["scrollWidth"] > m["clientWidth"], path
        assert m["overflowing"] and m["mathmlShown"] > 0, path
    # apart: a page wider than the phone is laid out wider (a mobile viewport zooms out), header and all
    cut = built_site.check(paths, [390], extraCss=ONE_LINE_TITLE)
    for path in paths:
        m = cut[path, 390]
        assert m["scrollWidth"] <= m["clientWidth"] and _title_cut(m), (path, m["title"])


@pytest.mark.full
def test_site_toc_entries_are_the_headings(built_site):
    """"On this page" (the desktop sidebar and the 390 px drop-down) lists exactly the pages'
    headings, each as its plain text, linked to the heading's anchor -- also for a title with a
    formula, whose entry reads the formula once (Astro would otherwise take MathML, annotation
    and HTML: "q(z)q(z)q(z)") and whose braces read as typed (Astro 5 lists "{x}" as "${x}";
    the site's src/route-data.ts gives it back)."""
    titled = built_site.pages["derivations.md"].headings
    [math_heading] = [h for h in titled if "KL(q(z), p(z | x))" in h]
    assert math_heading.endswith("The gap {x} KL(q(z), p(z | x)) is a divergence")  # Astro lists "${x}": rt4
    for name, page, width, m in _measured(built_site):
        headings = [h["text"] for h in m["headings"]]
        assert headings == list(page.headings), (name, width)  # as written: the site's SmartyPants is off
        for toc in (m["toc"], m["mobileToc"]):
            entries = [e for e in toc if e["href"] != "#_top"]
            assert [e["text"] for e in entries] == headings, (name, width)
            assert [e["href"] for e in entries] == ["#" + h["id"] for h in m["headings"]], (name, width)
    assert built_site.measured["/worked-example/", 390]["mobileToc"][-1]["text"] == "The bound as a function of q"


@pytest.mark.full
def test_site_prints_an_authors_text_as_the_handouts_do(built_site):
    """Astro's SmartyPants is off (the Starlight recipe): an author's ``--`` and ``...`` read as typed in
    Chromium, in a heading, a summary and a step's note, and the quotes are the ones the PDF handouts
    print (render.smart_punctuation); elbo-sym's own words keep their typographic apostrophe."""
    from elbo_sym.publish.render import smart_punctuation

    m = built_site.measured["/derivations/", 1280]
    heading = next(h["text"] for h in m["headings"] if "Typed" in h["text"])
    assert heading.endswith(smart_punctuation(TYPED_TITLE)) and "-- two hyphens, three dots... and" in heading
    assert "\u201cdouble\u201d and \u2018single\u2019 quotes" in heading
    text = " ".join(m["text"].split())
    for typed in (TYPED_SUMMARY, TYPED_WHY):
        assert smart_punctuation(typed) in text, typed
    assert "\u2013" not in heading and "\u2014" not in heading and "\u2026" not in heading
    worked = built_site.measured["/worked-example/", 1280]
    assert "The lesson\u2019s identities on this example" in [h["text"] for h in worked["headings"]]
    assert "the example\u2019s" in worked["text"]


@pytest.mark.full
def test_site_toc_check_sees_math_in_a_heading(built_site):
    """The ToC check can fail: a heading with a formula (written by hand) is listed with the
    formula's text three times, and its anchor has it too -- what plain headings avoid."""
    m = built_site.measured[built_site.url(MATH_HEADING), 1280]
    assert m["katex"] == 1 and m["katexErrors"] == 0
    [heading] = m["headings"]
    [entry] = [e for e in m["toc"] if e["href"] != "#_top"]
    assert entry["text"] != MATH_HEADING.headings[0] and "q(z)q(z)" in entry["text"].replace(" ", "")
    assert entry["href"] == "#" + heading["id"] and "qzqz" in heading["id"]


@pytest.mark.full
def test_site_screenshot_at_390_px(built_site):
    """The worked example on a phone, as the README shows it (ELBO_SYM_SITE_SCREENSHOT=PATH keeps it)."""
    shot = built_site.profiles / "site-390.png"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 390
    target = os.environ.get("ELBO_SYM_SITE_SCREENSHOT")
    if target:
        shutil.copyfile(shot, ROOT / target)


# --------------------------------------------------------------------------- the site's files (no node)


@pytest.mark.full
def test_web_site_writes_a_complete_site(tmp_path, monkeypatch):
    """`--site DIR`: the site's own files (pinned package.json with its lock, astro.config.mjs with
    remark-math/rehype-katex and KaTeX's CSS, the content config, the stylesheet) and the pages in
    the content folder; byte-identical on a second run; --out with --site, or --title alone: exit 2."""
    monkeypatch.chdir(ROOT)
    args = ["web", "derivations/", "derivations/teaching/"]
    first, second = tmp_path / "a", tmp_path / "b"
    assert main([*args, "--site", str(first), "--title", 'A "course" </script>']) == 0
    assert main([*args, "--site", str(second), "--title", 'A "course" </script>']) == 0
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    checker = [i.path for i in checker_items({}) if isinstance(i, web.Asset)]  # the /check/ page's files
    assert files == sorted(set(site.SITE_FILES) | {f"{site.CONTENT_DIR}/{n}" for n in PAGES | {web.FIGURE_FILE}}
                           | {f"{site.CONTENT_DIR}/index.md", f"{site.CONTENT_DIR}/check.md", site.MANIFEST}
                           | set(checker))
    assert any(name.startswith("public/check-engine/wheels/sympy-") for name in files)
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    package = json.loads((first / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((first / "package-lock.json").read_text(encoding="utf-8"))
    assert set(package["dependencies"]) == {"astro", "@astrojs/starlight", "katex", "remark-math", "rehype-katex",
                                            "pyodide"}
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)  # pinned, not a range
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert package["dependencies"]["astro"].startswith("5.") and "20" in package["engines"]["node"]
    config = (first / "astro.config.mjs").read_text(encoding="utf-8")
    assert "remarkPlugins: [remarkMath]" in config and "rehypePlugins: [rehypeKatex]" in config
    assert '"katex/dist/katex.min.css"' in config and '"./src/styles/elbo-sym.css"' in config
    assert 'title: "A \\"course\\" </script>",' in config and "__SITE_TITLE__" not in config
    assert "docsLoader()" in (first / "src" / "content.config.ts").read_text(encoding="utf-8")
    css = (first / "src" / "styles" / "elbo-sym.css").read_text(encoding="utf-8")
    assert ".katex-display" in css and "overflow-x: auto" in css
    index = (first / site.CONTENT_DIR / "index.md").read_text(encoding="utf-8")
    assert front_matter(index)[0]["title"] == 'A "course" </script>'
    assert "](./derivations/)" in index and "](./worked-example/)" in index
    assert main([*args, "--site", str(first), "--out", str(second)]) == 2
    assert main([*args, "--title", "x", "--out", str(second)]) == 2
    own = tmp_path / "own"  # someone's own Astro site: never overwritten
    own.mkdir()
    (own / "astro.config.mjs").write_text("export default {};\n", encoding="utf-8")
    assert main([*args, "--site", str(own)]) == 2
    assert [p.name for p in own.iterdir()] == ["astro.config.mjs"]


@pytest.mark.full
def test_web_out_still_writes_pages_only(tmp_path, monkeypatch):
    """`--out DIR` keeps writing just the pages (into an existing site's content folder)."""
    monkeypatch.chdir(ROOT)
    content = tmp_path / "src" / "content" / "docs"
    content.mkdir(parents=True)
    assert main(["web", "derivations/", "--out", str(content)]) == 0
    assert {p.name for p in content.iterdir()} == PAGES - {"find-the-mistake.md"} | {web.FIGURE_FILE,
                                                                                     web.PAGES_MANIFEST}
    assert not (tmp_path / "package.json").exists() and not (content / "index.md").exists()


@pytest.mark.full
def test_web_out_inside_an_elbo_sym_site_is_refused_either_way(tmp_path, monkeypatch, capsys):
    """Red team rt10: `web --out S/src/content/docs` inside a `web --site S` folder (or the site made
    around an --out folder) wrote the other's pages and the next run of either removed them.  Now the
    second command exits 2 with one line naming the file and the manifest, and changes nothing."""
    monkeypatch.chdir(ROOT)
    site_dir, pages_dir = tmp_path / "S", tmp_path / "P"
    assert main(["web", "derivations/gap.toml", "--site", str(site_dir)]) == 0
    content = site_dir / site.CONTENT_DIR
    before = {p: p.read_bytes() for p in site_dir.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["web", "derivations/gap.toml", "--out", str(content)]) == 2
    err = capsys.readouterr().err
    assert err == (f"elbo-sym: error: {content / 'derivations.md'}: written by another command (listed in "
                   f"{site_dir / site.MANIFEST}); write into another folder\n")
    assert {p: p.read_bytes() for p in site_dir.rglob("*") if p.is_file()} == before
    inner = pages_dir / site.CONTENT_DIR
    inner.mkdir(parents=True)
    assert main(["web", "derivations/gap.toml", "--out", str(inner)]) == 0
    before = {p: p.read_bytes() for p in pages_dir.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["web", "derivations/gap.toml", "--site", str(pages_dir)]) == 2
    assert f"(listed in {inner / web.PAGES_MANIFEST})" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in pages_dir.rglob("*") if p.is_file()} == before


def test_site_items_keep_public_files_and_escape_the_title():
    page = web.Page("extra.md", "Extra *page*", "An extra page.", "Text.\n", 9)
    items = site.site_items([page, web.Asset("public/check/worker.js", b"//"), web.Asset("fig.svg", b"<svg/>")],
                            title="T\u2028$")
    paths = [i.path for i in items]
    assert "public/check/worker.js" in paths and f"{site.CONTENT_DIR}/fig.svg" in paths
    assert f"{site.CONTENT_DIR}/extra.md" in paths
    config = next(i for i in items if i.path == "astro.config.mjs").data.decode()
    assert 'title: "T\\u2028$",' in config
    index = next(i for i in items if i.path.endswith("index.md"))
    assert "- [Extra \\*page\\*](./extra/): An extra page." in index.body


def test_site_rerun_removes_only_the_pages_it_no_longer_writes(tmp_path):
    """A page the last run wrote and this one does not is removed; the author's own files, and
    anything a tampered manifest names outside the content folder, stay."""
    out = tmp_path / "site"
    old = web.Page("worked-example-2.md", "Old", "An example since removed.", "Text.\n", 3)
    site.write_site(site.site_items([old, web.Asset("old.svg", b"<svg/>")]), out)
    content = out / site.CONTENT_DIR
    assert (content / "worked-example-2.md").is_file() and (content / "old.svg").is_file()
    (content / "mine.md").write_text("an author's page", encoding="utf-8")
    (tmp_path / "outside.md").write_text("keep", encoding="utf-8")
    manifest = json.loads((out / site.MANIFEST).read_text(encoding="utf-8"))
    manifest["files"] += ["../outside.md", "package.json", f"{site.CONTENT_DIR}/../../../outside.md", 7]
    (out / site.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    new = web.Page("derivations.md", "New", "The page that stays.", "Text.\n", 1)
    written, removed = site.write_site(site.site_items([new]), out)
    assert sorted(p.name for p in removed) == ["old.svg", "worked-example-2.md"]
    assert not (content / "worked-example-2.md").exists() and (content / "derivations.md").is_file()
    assert (content / "mine.md").is_file() and (tmp_path / "outside.md").read_text(encoding="utf-8") == "keep"
    assert (out / "package.json").is_file() and (out / site.MANIFEST) not in written
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.md").write_text("keep", encoding="utf-8")
    (content / "linked").symlink_to(tmp_path / "elsewhere")
    manifest = json.loads((out / site.MANIFEST).read_text(encoding="utf-8"))
    (out / site.MANIFEST).write_text(json.dumps({"files": [*manifest["files"], f"{site.CONTENT_DIR}/linked/x.md"]}),
                                     encoding="utf-8")
    assert site.write_site(site.site_items([new]), out)[1] == []
    assert (tmp_path / "elsewhere" / "x.md").is_file()
    (out / site.MANIFEST).write_bytes(b"\xff not json")  # a broken manifest removes nothing, and vouches for
    before = sorted(p.relative_to(out) for p in out.rglob("*"))  # nothing (rt12): the site's files are not replaced
    with pytest.raises(NotOursError, match="elbo-sym did not write it"):
        site.write_site(site.site_items([new]), out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


# --------------------------------------------------------------------------- the checker in the browser
# The site's /check/ page runs elbo-sym's own engine under Pyodide in a module Web Worker. One
# Chromium session (web/checker_drive.mjs, no host but 127.0.0.1 resolvable) opens the page by the
# first lesson file's shared link, then checks the lesson, the variants, 20 wrong files and a bad
# one by typing each into the editor and pressing Check (in `make test` one variant and one wrong
# file of each family: `one_per_family`), and stops a long check; the verdicts, counterexamples
# and the input error must be the CLI's.

WRONG = sorted((ROOT / "tests" / "data" / "wrong").glob("*.toml"))
VARIANTS = sorted((ROOT / "derivations" / "variants").glob("*.toml"))
BAD = 'title = "Bad"\nstart = "log(p(x)"\n'


@functools.cache
def checker_variants() -> list[Path]:
    """The variants the browser's checker checks (sized: every one, or one of each family)."""
    return one_per_family(VARIANTS)


@functools.cache
def checker_wrong() -> list[Path]:
    """The wrong files the browser's checker checks (sized: all 20, or one of each family)."""
    return one_per_family(WRONG)


@pytest.fixture(scope="module")
def browser_checks(built_site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checker")
    bad = tmp / "bad.toml"
    bad.write_text(BAD)
    files = [*LESSON, *checker_variants(), *checker_wrong(), bad]
    stop_text = (ROOT / "derivations" / "gap.toml").read_text().split("[[example]]")[0].replace('K = "any"', "K = 900")
    out = tmp / "drive.json"
    run = _run_group(["node", str(WEB / "checker_drive.mjs"), str(built_site.root / "dist"), str(out),
                      *map(str, files)], cwd=WEB, timeout=1800, env={**os.environ, "STOP_TEXT": stop_text})
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    cli = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "--json", *map(str, files)],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert cli.returncode == 2, cli.stderr  # the bad file
    printed = json.loads(cli.stdout)
    reports = {r["file"]: DerivationReport.from_dict(r) for r in printed if "steps" in r}
    (error,) = [r for r in printed if "steps" not in r]
    return json.loads(out.read_text()), reports, files, error


@pytest.mark.full
def test_checker_gives_the_clis_verdicts_and_counterexamples(browser_checks):
    seen, reports, files, _ = browser_checks
    for path in files[:-1]:
        page, cli = seen["files"][str(path)], reports[str(path)]
        assert page["verdicts"] == [s.verdict for s in cli.steps], path.name
        assert page["status"] == ("0" if cli.ok else "1"), path.name
        assert page["counterexamples"] == ["\n".join(s.counterexample.lines()) for s in cli.steps
                                           if s.counterexample is not None], path.name
        assert page["katexErrors"] == 0 and page["inputError"] is None and page["failure"] is None, path.name
        # the scope with the parameters' domains, the claim and every condition, as the handout prints them
        assert page["scopes"] == [cli.scope.text] and page["claims"] == (cli.claim is not None), path.name
        assert page["assumed"] == [c.latex for c in (*cli.params, *cli.assume)], path.name
    for path in [*LESSON, *checker_variants()]:
        wanted = {"proved", "refuted"} if "teaching" in path.parts else {"proved"}  # a mistake on purpose
        assert set(seen["files"][str(path)]["verdicts"]) == wanted, path.name
    for path in checker_wrong():
        assert "refuted" in seen["files"][str(path)]["verdicts"], path.name
    assert any(seen["files"][str(path)]["counterexamples"] for path in checker_wrong())  # one shown at least


@pytest.mark.full
def test_checker_shows_the_clis_one_line_error_with_its_caret(browser_checks):
    seen, _, files, error = browser_checks
    page = seen["files"][str(files[-1])]
    assert page["verdicts"] == [] and page["status"] == "2"
    first, *rest = page["inputError"].splitlines()
    assert first == "error: derivation.toml:2:13: start: missing `)`: `log(` is never closed"
    assert first.replace("derivation.toml", str(files[-1])) == f"error: {error['error']}"
    assert "\n".join(rest) == error["pointer"] and rest[-1].strip() == "^"


@pytest.mark.full
def test_checker_stays_on_the_site_links_back_and_stops(browser_checks, built_site):
    seen, *_ = browser_checks
    assert seen["outside"] == []  # no request left 127.0.0.1 (and no other host could be resolved)
    # the shared link #toml=<base64url> opens the page with the file and checks it on load; it is
    # the page's own share link for that file, and what `check_link` writes on the lesson's pages
    assert seen["link"]["editor"] == LESSON[0].read_text()
    assert seen["link"]["verdicts"] == seen["files"][str(LESSON[0])]["verdicts"] == ["proved"] * 4
    assert seen["link"]["share"] == seen["link"]["opened"] == "#" + check_link(LESSON[0].read_text()).split("#", 1)[1]
    # Stop: the running check ends at once, nothing decided, the page usable again
    stop = seen["stop"]
    assert stop["stopEnabledWhileRunning"] and stop["checkEnabledAfter"]
    assert stop["verdicts"] == [] and stop["failure"].startswith("Stopped.")
    # every derivation on the lesson's page links to the checker with its own text
    html = (built_site.root / "dist" / "derivations" / "index.html").read_text()
    links = re.findall(r'href="\.\./check/#toml=([A-Za-z0-9_-]+)"', html)
    proved = [p for p in LESSON if "teaching" not in p.parts]  # the page shows no teaching file
    assert len(links) == len(proved) + 2  # and the derivations with a formula and with typed -- ... in their title
    texts = {base64.urlsafe_b64decode(link + "=" * (-len(link) % 4)).decode() for link in links}
    assert {p.read_text() for p in proved} < texts
    print(f"checker: first verdict {seen['coldSeconds']:.1f} s after opening the page (cold), "
          f"re-check {seen['warmSeconds']:.2f} s")


def test_a_cards_conditions_are_displayed_beside_its_formula(pages):
    """flashcards.md shows the premise card's formula and, in the same display, "if" and its
    condition through the printer (KaTeX compiles it with every formula of the pages, above)."""
    from elbo_sym.lesson.practice import load_flashcards

    deck = load_flashcards()
    (card,) = [c for c in deck.cards if any(r.rel != "=" for r in c.conditions)]
    expected = web.katex_tex(f"{card.formula.latex}\\qquad\\text{{if }} {card.conditions_latex}").strip()
    page = pages["flashcards.md"]
    assert any(f.display and f.tex == expected for f in page.formulas), expected
    assert f"$$\n{expected}\n$$" in page.body
    assert r"\neq" in expected
    shown = [f.tex for f in page.formulas if f.display and r"\text{if }" in f.tex]
    assert len(shown) == sum(bool(c.conditions) for c in deck.cards)


def test_a_card_without_formula_shows_its_decks_premise(tmp_path):
    """A card whose text claims the strict bound under the deck's premise: the premise is
    displayed with its answer, as on the printed card."""
    path = tmp_path / "cards.toml"
    path.write_text('title = "t"\nassume = "q(z) != p(z | x)"\n[[card]]\nfront = "Strict?"\n'
                    'back = "Yes: $log(p(x)) > ELBO(q)$."\n', encoding="utf-8")
    page = web.flashcards_page(path)
    (display,) = [f.tex for f in page.formulas if f.display]
    assert display.startswith(r"\text{if } ") and r"\neq" in display

"""Course-website pages (elbo_sym.publish.web, `elbo-sym web`).

* Every formula on every page compiles with KaTeX (the pinned `katex` npm package,
  ``renderToString`` with ``throwOnError: true`` and no site macros), and the formulas a
  Starlight site's Markdown parser (remark-parse + remark-gfm + remark-math) finds on each page
  are exactly the ones the page meant to write: none lost, split or invented by prose.
* One page, rendered to HTML with rehype-katex and opened in headless Debian Chromium, has no
  ``katex-error`` element, one ``.katex`` element per formula, KaTeX's fonts and its figure.
* Front matter parses (a tiny strict YAML reader here, js-yaml as Astro uses it in node), and
  hostile titles stay text.

Tests that need node + web/node_modules or chromium skip when they are missing, and fail
instead when ELBO_SYM_REQUIRE_WEB=1 (CI). Install them with `make web-deps`.
ELBO_SYM_WEB_SCREENSHOT=docs/web-page.png refreshes the README's screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from elbo_sym.cli import main
from elbo_sym.engine.derivation import load
from elbo_sym.engine.models.base import Instance
from elbo_sym.publish import web
from elbo_sym.publish.handouts import LESSON_EXAMPLE, HandoutError, elbo_curve
from elbo_sym.report.build import check_file

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
LESSON = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "derivations" / "teaching").glob("*.toml"))
PAGES = {"derivations.md", "worked-example.md", "exercises.md", "tight-drill.md", "selfcheck.md", "flashcards.md",
         "find-the-mistake.md"}
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
def reports():
    return [check_file(path) for path in LESSON]


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
                         text=True, timeout=300, cwd=WEB)
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
HOSTILE_TITLE = (r'&lt;script&gt; {x} *em* _u_ **s** [l](http://e.example) $KL(q(z), p(z | x))$ '
                 r'\$5: # "q" \ `c` &amp; www.e.example')
HOSTILE_MARKUP = r'<script>alert(1)</script> {x} *em* _u_ ~~s~~ [l](http://e.example) \$5: # "q" \ `c` &amp;'
HOSTILE_WHY = "see &lt;b&gt;{x}&lt;/b&gt; and $ELBO(q)$$H(q)$, two formulas side by side"
HOSTILE_SUMMARY = "1. not a list\n\n- not a list either <b>{props}</b>\n\n> no quote | no table | ---"


# --------------------------------------------------------------------------- pages and the CLI


def test_web_writes_every_page_and_the_figure_deterministically(tmp_path, monkeypatch):
    """`elbo-sym web --out DIR` writes each page kind and the SVG; a second run is byte-identical."""
    first, second = tmp_path / "a", tmp_path / "b"
    args = ["derivations/", "derivations/teaching/"]
    monkeypatch.chdir(ROOT)
    assert main(["web", *args, "--out", str(first)]) == 0
    assert main(["web", *args, "--out", str(second)]) == 0
    names = {p.name for p in first.iterdir()}
    assert names == PAGES | {web.FIGURE_FILE}
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
    matter gives the title back as text; the page escapes it (the formula is math)."""
    report = check_file(load(_write_derivation(tmp_path / "hostile.toml", HOSTILE_TITLE, HOSTILE_SUMMARY,
                                               HOSTILE_WHY)))
    page = web.derivations_page([report])
    data, body = front_matter(page.text)
    assert data["title"] == "Derivations"
    assert HOSTILE_TITLE.replace("$", "").replace("\\", "")[:20] in data["description"]
    assert "KL(q(z), p(z | x))" in data["description"]  # the formula as the file syntax, without $
    heading = next(line for line in body.splitlines() if line.startswith("## "))
    formula = "$\\mathrm{KL}\\big(q(z) \\,\\|\\, p(z \\mid x)\\big)$"
    assert heading.count(formula) == 1
    outside = re.sub(r"\\.", "", heading.replace(formula, ""))  # the text outside escapes and the formula
    assert not set(outside) & set("<>{}*_$[]`~&\\"), outside
    assert "\\&lt;script\\&gt;" in heading and "\\{x\\}" in heading
    assert "\\$5" in heading
    assert "\n1\\. not a list" in body and "\n\\- not a list" in body and "\n\\> no quote" in body


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
    heading = result["headings"][0]
    expected = HOSTILE_TITLE.replace("\\$", "\0").replace("$KL(q(z), p(z | x))$",
                                                          "$\\mathrm{KL}\\big(q(z) \\,\\|\\, p(z \\mid x)\\big)$")
    assert heading == "1. " + expected.replace("\0", "$")
    assert Counter(json.dumps(m, sort_keys=True) for m in result["math"]) == Counter(
        json.dumps({"tex": f.tex, "display": f.display}, sort_keys=True) for f in page.formulas)


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
                           *args], capture_output=True, text=True, timeout=120)


def _render(tmp_path: Path, page: web.Page, assets=()) -> Path:
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    web.write_pages([page, *assets], folder)
    html = folder / page.path.replace(".md", ".html")
    run = subprocess.run(["node", str(WEB / "render_page.mjs"), str(folder / page.path), str(html)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return html


def _body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:200]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))


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

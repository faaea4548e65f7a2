"""A course site as a teacher publishes it (red team rt31): `elbo-sym web --site` on a course whose
elbo-sym.toml has a hostile, 200-character title and a ``site_url`` with a path, built by Astro
and served under that path, opened in Debian's Chromium at 1200 px and 390 px
(web/site_check.mjs).

* F1: Starlight writes ``<title>`` as HTML; the title ``</title><script>alert(1)</script><!--``
  ran script on every page and blanked it. Now no dialog opens, the page is not blank, and the
  tab's title is the course title as typed (every built page's ``<title>`` parses to it).
* F8: ``site_url = "https://example.edu/week5"`` gave no Astro ``base``: served under /week5/ every
  script, style and sidebar link was root-absolute (404s, links out of the course) and the
  canonical URLs dropped /week5. Now everything loads under /week5/ and the links stay there.
* F6: a long title wrapped onto four lines in the 56 px header on a phone and was clipped
  without an ellipsis on a desktop. Now it is clamped to one line (two on a phone) inside the
  header, ends in an ellipsis, and the whole title is the link's tooltip.

Skips like tests/test_web.py's site tests without node, chromium or web/site/node_modules
(fails instead when ELBO_SYM_REQUIRE_WEB=1).
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from test_web import SITE_DEPS, WEB, _missing_or_fail, _QuietHandler, _run_group, _site_missing

from elbo_sym.cli import main
from elbo_sym.limits import MAX_TITLE_CHARS

ROOT = Path(__file__).resolve().parents[1]
BASE = "/week5"
SITE_URL = "https://example.edu" + BASE
HOSTILE = "T </title><script>alert(1)</script><!-- R&amp;D & \"q\" 's' "
TITLE = (HOSTILE + "latent variables and the evidence lower bound " * 5)[:MAX_TITLE_CHARS].rstrip()
PATHS = [f"{BASE}/", f"{BASE}/derivations/", f"{BASE}/check/"]
WIDTHS = [1200, 390]


class _Elements(html.parser.HTMLParser):
    """The text of a page's ``<title>`` and ``<script>`` elements and its comments, as an HTML
    parser (a browser) reads them: the title's markup, were it not escaped, would be elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, list[str]] = {"title": [], "script": [], "comment": []}
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.texts:
            self._inside = tag
            self.texts[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.texts[self._inside][-1] += data

    def handle_comment(self, data: str) -> None:
        self.texts["comment"].append(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`web --site` on the course, `astro build`, dist/ served under /week5/; what Chromium saw."""
    _missing_or_fail(_site_missing())
    tmp = tmp_path_factory.mktemp("served")
    course = tmp / "course"
    course.mkdir()
    shutil.copyfile(ROOT / "derivations" / "jensen.toml", course / "jensen.toml")
    (course / "elbo-sym.toml").write_text(f"title = {json.dumps(TITLE)}\nsite_url = {json.dumps(SITE_URL)}\n"
                                          'derivations = ["jensen.toml"]\n', encoding="utf-8")
    # inside web/site/, so node finds the packages `make web-deps` installed there (as test_web's site)
    holder = Path(tempfile.mkdtemp(prefix="test-served-", dir=SITE_DEPS))
    try:
        root = holder / "site"
        cwd = os.getcwd()
        os.chdir(course)
        try:
            assert main(["web", "--site", str(root)]) == 0
        finally:
            os.chdir(cwd)
        env = {**os.environ, "ASTRO_TELEMETRY_DISABLED": "1"}
        build = _run_group(["node", str(SITE_DEPS / "node_modules" / "astro" / "astro.js"), "build"], cwd=root,
                           env=env, timeout=900)
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        serve = tmp / "serve"
        shutil.copytree(root / "dist", serve / BASE.strip("/"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=serve))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            profile = Path(tempfile.mkdtemp(prefix="profile-", dir=tmp))
            request = {"chromium": shutil.which("chromium"), "profile": str(profile), "base": f"http://{host}:{port}",
                       "paths": PATHS, "widths": WIDTHS}
            run = _run_group(["node", str(WEB / "site_check.mjs")], input=json.dumps(request),
                             timeout=CHILD_TIMEOUT_SECONDS, cwd=WEB)
            assert run.returncode == 0, run.stderr[-3000:]
            measured = {(m["path"], m["width"]): m for m in json.loads(run.stdout)["pages"]}
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
        yield root, serve / BASE.strip("/"), measured
    finally:
        shutil.rmtree(holder, ignore_errors=True)


@pytest.mark.full
def test_a_hostile_course_title_is_text_on_every_page(served):
    """F1: no dialog, no blank page, the tab shows "<page> | <course title>" as typed; every page
    Astro built (the 404 page too) has one <title> that an HTML parser reads as that text."""
    _root, dist, measured = served
    for (path, width), m in measured.items():
        assert m["dialogs"] == [] and m["bodyText"] > 0, (path, width, m["dialogs"])
        assert m["documentTitle"].endswith(" | " + TITLE), (path, width, m["documentTitle"])
    assert measured[f"{BASE}/", 1200]["documentTitle"] == f"{TITLE} | {TITLE}"  # the landing page is the course's
    pages = sorted(dist.rglob("*.html"))
    assert len(pages) >= 4 and any(p.name == "404.html" for p in pages)
    for page in pages:
        parser = _Elements()
        parser.feed(page.read_text(encoding="utf-8"))
        titles = parser.texts["title"]
        assert len(titles) == 1 and titles[0].endswith(" | " + TITLE), (page, titles)
        assert not any("alert(1)" in text for text in parser.texts["script"]), page  # the title's <script>
        assert not any("R&" in text for text in parser.texts["comment"]), page  # and its <!--


@pytest.mark.full
def test_a_site_served_under_its_path_loads_everything(served):
    """F8: under /week5/ every page, script, style, font and icon loads (the checker's too), the
    header's and the sidebar's links stay under /week5/, the canonical URL keeps the path."""
    root, dist, measured = served
    config = (root / "astro.config.mjs").read_text(encoding="utf-8")
    assert f"site: {json.dumps(SITE_URL)}," in config and f"base: {json.dumps(BASE)}," in config
    for (path, width), m in measured.items():
        assert m["status"] in (200, 304) and m["failed"] == [] and m["consoleErrors"] == [], (path, width, m)
        assert m["links"] and all(link.startswith(BASE + "/") for link in m["links"]), (path, width, m["links"])
        assert m["canonical"] == "https://example.edu" + path, (path, width, m["canonical"])
    assert measured[f"{BASE}/derivations/", 1200]["katex"] > 0
    sitemap = (dist / "sitemap-0.xml").read_text(encoding="utf-8")
    assert f"<loc>{SITE_URL}/derivations/</loc>" in sitemap and "<loc>https://example.edu/derivations/" not in sitemap


@pytest.mark.full
def test_a_long_course_title_fits_the_header(served):
    """F6: the 200-character title stays inside the header and the viewport, on one line at
    1200 px and two at 390 px, the rest behind an ellipsis (a line clamp hiding text), and the
    link's tooltip is the whole title."""
    _root, _dist, measured = served
    for (path, width), m in measured.items():
        title = m["title"]
        assert title["text"] == title["tooltip"] == TITLE, (path, width)
        shown, header = title["shown"], title["header"]
        assert header["top"] - 0.5 <= shown["top"] and shown["bottom"] <= header["bottom"] + 0.5, (path, width, title)
        assert 0 <= shown["left"] and shown["right"] <= title["viewport"] + 0.5, (path, width, title)
        assert title["clamp"] == ("1" if width >= 800 else "2") and title["hidden"], (path, width, title)
        assert m["scrollWidth"] <= m["clientWidth"], (path, width)

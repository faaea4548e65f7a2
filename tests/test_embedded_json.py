"""JSON embedded in an HTML ``<script>`` element (the checker page's files) is read back as
written: no ``< > &`` survives (elbo_sym.publish.browser.script_json), so neither ``</script>``
nor ``<!--`` followed by ``<script`` (HTML's double-escaped script state, which made the
element swallow the checker module: the red team's /tmp/rt1/esc3) can change where the
element ends.  The fast test reads the text; the ``full`` one lets headless Chromium parse it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS

from elbo_sym.publish.browser import check_body, script_json

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = {
    "d.toml": (ROOT / "derivations" / "gap.toml").read_text(encoding="utf-8")
    + "# Note for co-authors: <!-- keep in sync with the <script> in lecture.html\n",
    "e.toml": '# </script><script>alert(1)</script> &lt; & <\u2028>\n',  # no -->: it would end the state
}
OPEN = '<script type="application/json" id="elbo-checker-files">'


def _embedded(page: str) -> str:
    return page.split(OPEN, 1)[1].split("</script>", 1)[0]


def test_no_html_sensitive_character_survives_and_the_json_is_the_same():
    data = _embedded(check_body(HOSTILE))
    assert not set("<>&") & set(data) and data.isascii()
    assert json.loads(data) == HOSTILE
    assert json.loads(script_json({"a": "\\<"})) == {"a": "\\<"}  # a backslash before < stays a backslash


@pytest.mark.full
def test_chromium_reads_the_embedded_files_back_and_runs_the_next_script(tmp_path):
    """The page as a browser parses it: the element's text is the JSON embedded, and the script
    after it (the checker module's place) still runs."""
    browser = shutil.which("chromium")
    assert browser is not None, "chromium is needed (make web-deps)"
    body = check_body(HOSTILE).replace(
        '<script type="module" src="../check-engine/checker.mjs"></script>',
        "<script>document.body.setAttribute('data-files', "
        "document.getElementById('elbo-checker-files').textContent);"
        "document.body.setAttribute('data-scripts', document.scripts.length);</script>")
    assert "data-files" in body
    page = tmp_path / "check.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>",
                    encoding="utf-8")
    profile = tmp_path / "profile"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", f"--user-data-dir={profile}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<body[^>]*\bdata-files="([^"]*)"', run.stdout)
    assert found, run.stdout[:2000]
    assert html.unescape(found.group(1)) == _embedded(check_body(HOSTILE))
    assert json.loads(html.unescape(found.group(1))) == HOSTILE
    assert re.search(r'data-scripts="2"', run.stdout)  # the JSON element and the one after it

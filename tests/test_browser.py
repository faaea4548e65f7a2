"""The checker in the browser, its Python half: what the page's worker calls, what the site ships.

The real page is driven in headless Chromium by tests/test_browser_site.py; here: the worker's
entry gives exactly what ``elbo-sym check --json`` gives, the engine gives the same verdicts
in the browser's configuration (no SIGALRM, no SciPy, no NumPy) as on the command line, the
minimiser both use is SciPy's Nelder-Mead, and the wheels and the page are what the site needs.
"""

from __future__ import annotations

import base64
import functools
import html
import http.server
import json
import random
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from child_processes import CHILD_TIMEOUT_SECONDS
from suite_sizes import one_per_family

from elbo_sym.publish.browser import check_body, check_link, check_source, checker_items, installed_wheel, own_wheel

# the checker in Chromium (Pyodide): make test-full only, at full size (tests/suite_sizes.py)
pytestmark = [pytest.mark.sized, pytest.mark.full]

ROOT = Path(__file__).resolve().parents[1]
WRONG = sorted((ROOT / "tests" / "data" / "wrong").glob("*.toml"))
LESSON = sorted((ROOT / "derivations").glob("*.toml"))
VARIANTS = sorted((ROOT / "derivations" / "variants").glob("*.toml"))
TEACHING = sorted((ROOT / "derivations" / "teaching").glob("*.toml"))


def _cli_json(path: Path) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "--json", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode in (0, 1, 2), done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("path", [LESSON[0], WRONG[0], WRONG[13]], ids=lambda p: p.name)
def test_worker_entry_gives_what_check_json_prints(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    result = json.loads(check_source(path.read_text(), name))
    assert result["reports"] == _cli_json(Path(name))
    assert result["status"] == (0 if result["reports"][0]["ok"] else 1)
    view = result["views"][0]
    assert [s["verdict"] for s in view["steps"]] == [s["verdict"] for s in result["reports"][0]["steps"]]
    if path in WRONG:
        refuted = [s for s in view["steps"] if s["verdict"] == "refuted"]
        assert refuted and refuted[0]["counterexample"][0].startswith("counterexample (")


def test_bad_input_is_the_clis_one_line_error_with_its_caret(tmp_path: Path) -> None:
    text = 'title = "Bad"\nstart = "log(p(x)"\n'
    (tmp_path / "bad.toml").write_text(text)
    done = subprocess.run([sys.executable, "-m", "elbo_sym", "check", "--no-cache", "bad.toml"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=CHILD_TIMEOUT_SECONDS)
    result = json.loads(check_source(text, "bad.toml"))
    assert done.returncode == result["status"] == 2
    assert result["text"].splitlines()[0].startswith("error: bad.toml:2:13: ")
    assert result["text"] in done.stderr
    assert result["reports"] == [] and result["errors"][0]["line"] == 2


_BROWSER_CONFIGURATION = r"""
import json, sys
sys.modules["scipy"] = None          # Pyodide's core has neither
sys.modules["numpy"] = None
sys.modules["flint"] = None          # nor python-flint: the second opinion's intervals are mpmath's
import elbo_sym.budget
elbo_sym.budget.ALARM = False        # and no SIGALRM: budgets by checkpoints only
from elbo_sym.publish.browser import check_source
out = {}
for path in sys.argv[1:]:
    result = json.loads(check_source(open(path).read(), path))
    out[path] = [[s["verdict"] for s in r["steps"]] for r in result["reports"]]
print(json.dumps(out))
"""


def test_the_browsers_configuration_gives_the_same_verdicts() -> None:
    """The same corpus -- the lesson, the variants, the teaching file and 20 wrong files -- checked
    as on the command line and as in the browser (no SciPy, no NumPy, no alarm). Sized
    (tests/suite_sizes.py): in `make test` one variant and one wrong file of each family."""
    corpus = [*LESSON, *one_per_family(VARIANTS), *TEACHING, *one_per_family(WRONG)]
    paths = [str(p.relative_to(ROOT)) for p in corpus]
    done = subprocess.run([sys.executable, "-c", _BROWSER_CONFIGURATION, *paths], capture_output=True, text=True,
                          cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr
    browser = json.loads(done.stdout)
    command_line = {p: [[s["verdict"] for s in r["steps"]] for r in json.loads(check_source((ROOT / p).read_text(),
                                                                                            p))["reports"]]
                    for p in paths}
    assert browser == command_line
    wrong = [p for p in paths if "/wrong/" in p]
    assert len(WRONG) == 20 and len(wrong) == len(one_per_family(WRONG)) >= 2
    assert all("refuted" in browser[p][0] for p in wrong)
    assert all(set(browser[str(p.relative_to(ROOT))][0]) == {"proved"} for p in LESSON)


def test_the_minimiser_is_scipys_nelder_mead() -> None:
    """The port nominates what SciPy's Nelder-Mead would: the same minimum on random functions
    (to rounding: the centroid's sum is added in another order)."""
    np = pytest.importorskip("numpy")
    from scipy.optimize import minimize

    from elbo_sym.numbers.neldermead import minimise

    rng = random.Random(2026)
    for _ in range(60):
        n = rng.randint(1, 6)
        centre = [rng.gauss(0, 3) for _ in range(n)]
        weight = [rng.random() + 0.1 for _ in range(n)]

        def f(x, centre=centre, weight=weight):
            return sum(w * (a - c) ** 2 for w, a, c in zip(weight, x, centre)) + 0.3 * (x[0] - centre[0]) ** 4

        x0 = [rng.gauss(0, 2) if rng.random() < 0.8 else 0.0 for _ in range(n)]
        ours = minimise(f, x0, 300, xatol=1e-10, fatol=1e-14)
        theirs = minimize(lambda u, f=f: f(tuple(u)), np.array(x0), method="Nelder-Mead",
                          options={"maxiter": 300, "xatol": 1e-10, "fatol": 1e-14})
        assert abs(ours.fun - theirs.fun) <= 1e-12 * max(1.0, abs(theirs.fun))
        assert max(abs(a - b) for a, b in zip(ours.x, theirs.x)) < 1e-6
        assert abs(ours.iterations - theirs.nit) <= 0.1 * theirs.nit + 2


def test_the_minimiser_stops_after_its_iterations() -> None:
    from elbo_sym.numbers.neldermead import minimise

    calls = []
    result = minimise(lambda x: calls.append(x) or -x[0], [1.0], 25)
    assert result.iterations == 25 and len(calls) < 200 and result.x[0] > 1.0


def test_wheels_hold_the_packages_and_are_reproducible() -> None:
    first, second = own_wheel(), own_wheel()
    assert first == second
    names = zipfile.ZipFile(BytesIO(first.data)).namelist()
    assert "elbo_sym/engine/check.py" in names and "elbo_sym/publish/browser.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert any(n.endswith(".dist-info/RECORD") for n in names)
    sympy = installed_wheel("sympy")
    import sympy as installed

    assert sympy.name == f"sympy-{installed.__version__}-py3-none-any.whl"
    archive = zipfile.ZipFile(BytesIO(sympy.data))
    assert "sympy/core/add.py" in archive.namelist()
    record = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))).decode()
    assert "sympy/core/add.py,sha256=" in record


def test_checker_items_are_the_page_the_scripts_and_the_wheels() -> None:
    from elbo_sym.publish.web import Asset, Page

    items = checker_items({"jensen.toml": (ROOT / "derivations" / "jensen.toml").read_text()})
    (page,) = [i for i in items if isinstance(i, Page)]
    assets = {i.path: i.data for i in items if isinstance(i, Asset)}
    assert page.path == "check.md" and "elbo-checker-files" in page.body
    engine = "public/check-engine"
    assert {f"{engine}/{n}" for n in ("worker.mjs", "checker.mjs", "checker.css", "manifest.json")} <= set(assets)
    manifest = json.loads(assets[f"{engine}/manifest.json"])
    assert [w.split("-")[0] for w in manifest["wheels"]] == ["elbo_sym", "sympy", "mpmath"]
    for wheel in manifest["wheels"]:
        assert f"{engine}/wheels/{wheel}" in assets
    worker = assets[f"{engine}/worker.mjs"].decode()
    assert 'from "./pyodide/pyodide.mjs"' in worker and "http" not in worker  # only the site's own files
    assert checker_items({"jensen.toml": "x"})[1:] == items[1:]  # the same bytes again


def test_the_page_embeds_files_safely_and_links_decode() -> None:
    text = 'title = "</script><script>alert(1)</script>"\nstart = "log(p(x))"\n# é\n'
    page = check_body({"evil.toml": text})
    data = page.split('id="elbo-checker-files">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data.replace("<\\/", "</")) == {"evil.toml": text}
    assert "</script><script>" not in data
    for needle in ('id="elbo-source"', 'id="elbo-check"', 'id="elbo-stop"', 'id="elbo-report"',
                   'data-state="idle"', 'type="module" src="../check-engine/checker.mjs"'):
        assert needle in page
    link = check_link(text)
    assert link.startswith("/check/#toml=") and "=" not in link.split("#toml=")[1]
    encoded = link.split("#toml=")[1]
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == text


_NO_ALARM_BUDGET = r"""
import json, sys, time
import elbo_sym.budget
elbo_sym.budget.ALARM = False        # as in the browser: checkpoints only
from elbo_sym.publish.browser import check_source
text = open(sys.argv[1]).read().split("[[example]]")[0].replace('K = "any"', "K = 600")
started = time.process_time()  # CPU time, the budgets' clock: a loaded machine stretches wall time
result = json.loads(check_source(text, "gap-600.toml", budget=0.3))
print(json.dumps({"seconds": time.process_time() - started,
                  "steps": [[s["verdict"], s["reason"]] for s in result["reports"][0]["steps"]]}))
"""


def test_without_an_alarm_a_step_that_runs_out_of_budget_ends_as_error() -> None:
    """The browser has no SIGALRM: the engine's checkpoints alone end a step at its budget, as
    `error`, and the file's check returns (never hangs the page's worker)."""
    done = subprocess.run([sys.executable, "-c", _NO_ALARM_BUDGET, str(ROOT / "derivations" / "gap.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=CHILD_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    verdicts = [v for v, _ in result["steps"]]
    assert "error" in verdicts and "proved" not in verdicts
    assert all("budget" in reason for v, reason in result["steps"] if v == "error")
    assert result["seconds"] < 4 * 0.3 * len(verdicts) + 20


def test_the_editor_starts_with_the_jensen_derivation() -> None:
    files = {str(p.relative_to(ROOT)): p.read_text() for p in LESSON}
    data = check_body(files).split('id="elbo-checker-files">', 1)[1].split("</script>", 1)[0]
    embedded = json.loads(data.replace("<\\/", "</"))
    assert next(iter(embedded)) == "derivations/jensen.toml" and embedded == files
    assert next(iter(json.loads(check_body({"b.toml": "x", "a.toml": "y"}).split(
        'id="elbo-checker-files">', 1)[1].split("</script>", 1)[0]))) == "b.toml"  # else the first


# --------------------------------------------------------------------------- the repair, typeset

_STUB_WORKER = """// The engine's answer, computed beforehand by check_source (Python): the page's half under test.
const RESULT = %s;
self.onmessage = (event) => {
  if (event.data.type === "check") postMessage({ type: "result", id: event.data.id, result: RESULT, seconds: 0 });
};
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 -- the base class's name
        pass


class _Words(HTMLParser):
    """The text of an HTML fragment outside its ``span.elbo-math`` elements (KaTeX's output)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.words = 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth or (tag == "span" and ("class", "elbo-math") in attrs):
            self.depth += tag == "span"

    def handle_endtag(self, tag):
        if self.depth and tag == "span":
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.words.append(data)


def _outside_formulas(fragment: str) -> str:
    words = _Words()
    words.feed(fragment)
    return "".join(words.words)


_OPEN_AND_WAIT = """
// Opens the page at `url` (a #toml= link: the page checks the file on load) in headless `chromium`
// (all read from stdin as JSON), waits for the report, prints the inner HTML of each element `selector`
// picks as JSON.
import puppeteer from "puppeteer-core";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { url, chromium, selector } = JSON.parse(input);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
try {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector("#elbo-report")?.dataset.state === "done",
                             { timeout: 60000, polling: 100 });
  console.log(JSON.stringify(await page.$$eval(selector, (all) => all.map((e) => e.innerHTML))));
} finally {
  await browser.close();
}
"""


def _shown_in_chromium(tmp_path: Path, name: str, text: str, result: str, selector: str) -> list[str]:
    """The inner HTML of each element `selector` picks on the real checker page (checker.mjs and KaTeX in
    headless Chromium) once it shows `result`, what check_source answered for the file `text`: a stub worker
    answers with it, so no Pyodide runs."""
    browser = shutil.which("chromium")
    katex = ROOT / "web" / "node_modules" / "katex" / "dist" / "katex.mjs"
    assert browser is not None and katex.is_file(), "chromium and web/node_modules (npm ci --prefix web)"
    engine = tmp_path / "check-engine"
    engine.mkdir()
    for script in ("checker.mjs", "checker.css"):
        shutil.copyfile(ROOT / "elbo_sym" / "publish" / "checker" / script, engine / script)
    shutil.copyfile(katex, engine / "katex.mjs")
    (engine / "worker.mjs").write_text(_STUB_WORKER % json.dumps(result), "utf-8")
    (tmp_path / "check").mkdir()
    (tmp_path / "check" / "index.html").write_text(
        f"<!doctype html><meta charset=utf-8><body>{check_body({name: text})}</body>", "utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        url = f"http://{host}:{port}{check_link(text)}"
        request = json.dumps({"url": url, "chromium": browser, "selector": selector})
        run = subprocess.run(["node", "--input-type=module", "-e", _OPEN_AND_WAIT], input=request,
                             capture_output=True, text=True, cwd=ROOT / "web", timeout=CHILD_TIMEOUT_SECONDS)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("name", ["04-decomposition-plus.toml", "05-decomposition-prior.toml"])
def test_the_checker_typesets_a_suggestions_formulas_with_katex(tmp_path: Path, name: str) -> None:
    """The page showed a suggestion as its plain sentence ("write p(z) instead of p(z | x)"); it
    now sets the report's description_pieces as the site sets a repair: the words as text, each
    formula by KaTeX from the printer's LaTeX, then the edit in file syntax.  The real checker.mjs
    and KaTeX in headless Chromium; the worker answers with check_source's own result."""
    path = ROOT / "tests" / "data" / "wrong" / name
    result = check_source(path.read_text(), name)
    (step,) = [s for s in json.loads(result)["views"][0]["steps"] if s["repair"] is not None]
    pieces = step["repair"]["pieces"]
    assert any(p["kind"] == "math" for p in pieces)
    (shown,) = _shown_in_chromium(tmp_path, name, path.read_text(), result, "#elbo-report .elbo-suggestion")
    assert "katex-error" not in shown
    formulas = [p for p in pieces if p["kind"] == "math"]
    typeset = re.findall(r'<span class="elbo-math" data-tex="([^"]*)"><span class="katex">', shown)
    assert [html.unescape(t) for t in typeset] == [p["latex"] for p in formulas]
    assert _outside_formulas(shown).startswith(f"{step['repair']['label']}: ")
    for piece in pieces:  # the words as they are, each formula typeset only (not also as its file syntax)
        if piece["kind"] == "text":
            assert piece["text"] in _outside_formulas(shown)
        else:
            assert piece["text"] not in _outside_formulas(shown).replace(step["repair"]["edit"], "")
    edit = re.search(r'<code class="elbo-edit">(.*?)</code>', shown)
    assert edit and html.unescape(edit.group(1)) == step["repair"]["edit"]
    assert step["repair"]["edit"].startswith('expr = "')
    assert step["suggestion"] == "".join(p["text"] for p in pieces) + ": " + step["repair"]["edit"]  # the CLI's line


def test_the_checker_typesets_a_titles_formulas_and_shows_no_dollar(tmp_path: Path) -> None:
    """The page showed a title's ``$beta$`` as typed (browser.view_of gave prose_text, the author's
    ``$...$`` kept): it now sets the title's pieces as a repair's -- the words as text, each formula by
    KaTeX from the printer's LaTeX -- and its plain ``title`` has no ``$`` either.  The real page in
    headless Chromium, on the variants' beta-ELBO, whose title holds formulas."""
    path = ROOT / "derivations" / "variants" / "beta-elbo.toml"
    result = check_source(path.read_text(), path.name)
    (view,) = json.loads(result)["views"]
    formulas = [p for p in view["title_pieces"] if p["kind"] == "math"]
    assert formulas and "$" not in view["title"]
    assert view["title"] == " ".join("".join(p["text"] for p in view["title_pieces"]).split())
    (shown,) = _shown_in_chromium(tmp_path, path.name, path.read_text(), result, "#elbo-report .elbo-title")
    assert "katex-error" not in shown and "$" not in _outside_formulas(shown)
    typeset = re.findall(r'<span class="elbo-math" data-tex="([^"]*)"><span class="katex">', shown)
    assert [html.unescape(t) for t in typeset] == [p["latex"] for p in formulas]
    for piece in view["title_pieces"]:  # the words as they are; a formula typeset only, not as its file syntax
        if piece["kind"] == "text":
            assert html.unescape(piece["text"]).strip() in html.unescape(_outside_formulas(shown))

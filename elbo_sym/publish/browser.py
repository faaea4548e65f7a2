"""The checker in the browser: elbo-sym's own engine under Pyodide, served by the course site.

Two halves, both here so that what the page runs and what the site ships stay together:

* :func:`check_source` is what the page's Web Worker calls inside Pyodide: one derivation
  file's text in, the same report as ``elbo-sym check --json`` out (plus the lines
  ``elbo-sym check`` prints, so the page shows the CLI's words), or the CLI's one-line
  input error with its caret.  Nothing here is browser-specific: the engine's seams do the
  rest (budgets fall back to checkpoints where there is no CPU-time alarm, ``SIGPROF``; the search's
  minimiser runs without SciPy).
* :func:`checker_items` is what ``elbo-sym web --site`` adds to the site: the page
  (``/check/``), the worker and page scripts (``checker/*.mjs``) and pure-Python wheels of
  elbo-sym, SymPy and mpmath made from the installed distributions (the versions the command
  line checks with).  Pyodide's runtime and KaTeX's module build come from the site's own
  npm packages (its ``check-runtime.mjs``), so the page makes no request outside the site.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elbo_sym.engine.derivation import DerivationError
from elbo_sym.engine.notation import RELATION_LATEX
from elbo_sym.limits import STEP_BUDGET_SECONDS
from elbo_sym.report.build import check_file, load_in_time
from elbo_sym.report.model import DerivationReport, InputErrorReport, Prose, SuggestionReport, plain_text
from elbo_sym.report.text import closing_lines, derivation_text, error_text, step_notes, summary_text

if TYPE_CHECKING:  # the worker imports this module in the browser: no site or page writers there
    from elbo_sym.publish.web import Asset, Page

ENGINE_DIR = "check-engine"
"""The site's static folder (under ``public/``) that holds Pyodide, the wheels and the scripts."""
WHEEL_DISTRIBUTIONS = ("sympy", "mpmath")
"""Pure-Python packages the engine imports in the browser besides elbo-sym itself."""
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)
"""Zip entry time, so the same installation gives byte-identical wheels."""


# --------------------------------------------------------------------------- inside the browser


def check_source(text: str, name: str = "derivation.toml", budget: float = STEP_BUDGET_SECONDS,
                 file_budget: float | None = None) -> str:
    """Check one derivation file given as text, read and checked within `file_budget` (default as
    `check`'s); a JSON object for the page.

    ``reports`` and ``errors`` are exactly what ``elbo-sym check --json`` prints, ``text`` what
    ``elbo-sym check`` prints (the report, or ``error: FILE:LINE:COL: ...`` and the caret),
    ``status`` the CLI's exit status, and ``views`` the same report in the shape the page
    renders (every sentence written here, by the same renderers as the CLI's).
    """
    try:  # read within the file budget, as `check` reads it
        loaded = load_in_time(name, budget, file_budget, raw=text)
    except DerivationError as error:
        problem = InputErrorReport.from_error(error)
        return json.dumps({"reports": [], "errors": [problem.to_dict()], "views": [], "text": error_text(problem),
                           "status": 2, "outcome": "bad input (exit 2)"}, ensure_ascii=False)
    report = check_file(loaded, budget=budget, total=file_budget)
    summary = summary_text([report])
    return json.dumps({"reports": [report.to_dict()], "errors": [], "views": [view_of(report)],
                       "text": derivation_text(report) + summary, "status": 0 if report.ok else 1,
                       "outcome": summary.splitlines()[0]}, ensure_ascii=False)


def view_of(r: DerivationReport) -> dict:
    """A report as the page shows it: formulas as LaTeX, every sentence as the CLI writes it; the
    scope, the claim and every condition it was checked under (the parameters' domains, the
    assumptions and premises), as the handout prints them.  The title as pieces, its formulas by
    KaTeX from the printer's LaTeX, and as one line of plain text (``title``: no ``$...$``, which the page
    showed as typed, rt52's brief)."""
    steps = [{"index": s.index, "line": s.line, "verdict": s.verdict, "rule": s.rule_shown, "reason": s.reason,
              "rel_latex": RELATION_LATEX[s.rel], "expr": {"text": s.expr.text, "latex": s.expr.latex},
              "notes": step_notes(s),
              "counterexample": s.counterexample.lines() if s.counterexample is not None else [],
              "suggestion": s.suggestion.describe() if s.suggestion is not None else "",
              "repair": suggestion_view(s.suggestion)}
             for s in r.steps]
    return {"title": plain_text(r.title_parts, r.title), "title_pieces": pieces_view(r.title_parts),
            "model": r.model, "scope": r.scope.text,
            "claim_latex": r.claim.latex if r.claim is not None else "",
            "assume_latex": list(r.conditions_latex), "start_latex": r.start.latex,
            "steps": steps, "lines": closing_lines(r)}


def suggestion_view(g: SuggestionReport | None) -> dict | None:
    """A suggestion (or the file's checked repair) as the page typesets it, as the site typesets a
    repair sentence (web.repair_markdown): its label, the description's words and formulas --
    the checked expressions' LaTeX from the printer, never re-parsed from the sentence -- and the
    edit in file syntax (``expr = "..."``), to copy into the file; None for a step without one."""
    if g is None:
        return None
    return {"label": g.label, "pieces": pieces_view(g.pieces), "edit": g.edits.removeprefix(": ")}


def pieces_view(parts: Prose) -> list[dict[str, str]]:
    """Prose as the page sets it (checker.mjs's piecesHtml): each piece's kind, its text (words, or a
    formula's file syntax) and a formula's LaTeX from the printer; a paragraph break is a space there."""
    return [{"kind": p.kind, "text": p.text, "latex": p.latex} if p.kind != "paragraph"
            else {"kind": "text", "text": " ", "latex": ""} for p in parts]


# --------------------------------------------------------------------------- into the site


@dataclass(frozen=True)
class Wheel:
    """A wheel the page loads: its file name and bytes."""

    name: str
    data: bytes


LESSON_START = "jensen.toml"
"""The file the checker's editor starts with when the site has it: the ELBO in two lines."""
CHECK_PAGE = "check.md"
"""The checker's page, relative to the site's content folder (served at ``/check/``)."""
CHECK_ORDER = 90
"""The checker's place in the sidebar: after the lesson's pages."""


def checker_items(files: dict[str, str]) -> list[Page | Asset]:
    """The checker's page and static files for a site (`elbo_sym.publish.site.site_items`):
    ``check.md`` with `files` (name -> text) in its menu, and under ``public/check-engine/`` the
    worker and page scripts and the wheels of elbo-sym, SymPy and mpmath.  Pyodide's runtime and
    KaTeX's module come from the site's own npm packages (the site's ``check-runtime.mjs``)."""
    from elbo_sym.publish.site import PUBLIC_DIR
    from elbo_sym.publish.web import Asset, Page

    target = f"{PUBLIC_DIR}/{ENGINE_DIR}"
    items: list[Page | Asset] = [Page(CHECK_PAGE, "Check a derivation", "Prove or refute every step of a derivation "
                                      "file in your browser, with elbo-sym's own engine.", check_body(files),
                                      CHECK_ORDER)]
    scripts = resources.files("elbo_sym.publish") / "checker"
    for entry in sorted(scripts.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".mjs", ".css")):
            items.append(Asset(f"{target}/{entry.name}", entry.read_bytes()))
    wheels = [own_wheel(), *(installed_wheel(d) for d in WHEEL_DISTRIBUTIONS)]
    items += [Asset(f"{target}/wheels/{wheel.name}", wheel.data) for wheel in wheels]
    manifest = {"wheels": [w.name for w in wheels],
                "sha256": {w.name: hashlib.sha256(w.data).hexdigest() for w in wheels}}
    items.append(Asset(f"{target}/manifest.json", (json.dumps(manifest, indent=2) + "\n").encode()))
    return items


_HTML_SENSITIVE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(value: Any) -> str:
    """`value` as JSON that an HTML ``<script>`` element holds verbatim: ASCII, with ``< > &``
    written ``\\u003c \\u003e \\u0026`` (only strings hold them, so it is the same JSON).
    Rewriting ``</`` alone is not enough: ``<!--`` then ``<script`` anywhere in the text puts
    the HTML parser in its double-escaped state, and the element swallows the next script."""
    return json.dumps(value, ensure_ascii=True).translate(_HTML_SENSITIVE)


def check_body(files: dict[str, str], engine: str = f"../{ENGINE_DIR}/") -> str:
    """The checker page's Markdown (with its HTML): the editor starts with the lesson's Jensen
    derivation when it is among `files` (name -> file text), else with the first, and offers all
    of them in a menu. `engine` is relative to the page (``/check/``), so it holds under any
    Astro ``base`` (a site served under /week5/, red team rt31)."""
    first = sorted(files, key=lambda name: not name.endswith(LESSON_START))[:1]
    ordered = {**{name: files[name] for name in first}, **files}
    data = script_json(ordered)
    return f"""Edit a derivation file (or pick one of the course’s) and press **Check**: every step is proved for
every model of its family, or refuted with an exact counterexample, by elbo-sym’s own engine
running in this page. The first check loads the engine (Python and SymPy, about 20 MB, once);
nothing you type leaves your browser. **Link to this file** gives a link that opens this page
with your file and checks it.

<link rel="stylesheet" href="{engine}checker.css" />

<div id="elbo-checker" class="elbo-checker" data-state="idle">
<label for="elbo-files">Start from</label> <select id="elbo-files"></select>
<textarea id="elbo-source" spellcheck="false" autocomplete="off" aria-label="Derivation file (TOML)"></textarea>
<div class="elbo-buttons"><button id="elbo-check" type="button">Check</button>
<button id="elbo-stop" type="button" disabled>Stop</button>
<a id="elbo-share" href="#">Link to this file</a></div>
<div id="elbo-status" role="status" aria-live="polite"></div>
<div id="elbo-report" class="elbo-report" data-state="idle" aria-live="polite"></div>
</div>

<script type="application/json" id="elbo-checker-files">{data}</script>

<script type="module" src="{engine}checker.mjs"></script>
"""


def check_link(text: str, page: str = "/check/") -> str:
    """A link that opens the checker with `text` in its editor and checks it."""
    import base64

    return page + "#toml=" + base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def own_wheel() -> Wheel:
    """elbo-sym's modules as a wheel, from the source tree they are imported from (an editable
    install lists no package files in its metadata).  Only the Python modules: the browser
    checks, it does not build handouts (no templates, no site files)."""
    import elbo_sym

    root = Path(elbo_sym.__file__).parent
    version = elbo_sym.__version__
    files = {f"elbo_sym/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*.py"))
             if p.is_file() and "__pycache__" not in p.parts}
    info = f"elbo_sym-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: elbo-sym\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: elbo-sym\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return Wheel(f"elbo_sym-{version}-py3-none-any.whl", _zip(files, f"{info}/RECORD"))


def installed_wheel(distribution: str) -> Wheel:
    """A pure-Python distribution as installed here, packed back into a wheel (the same version
    the command line uses, so both check with the same SymPy)."""
    dist = metadata.distribution(distribution)
    files: dict[str, bytes] = {}
    record = None
    for f in dist.files or ():
        posix = f.as_posix()
        if "__pycache__" in f.parts or posix.endswith((".pyc", ".pyo")) or posix.startswith(".."):
            continue
        if posix.endswith(".dist-info/RECORD"):
            record = posix
            continue
        path = Path(str(dist.locate_file(f)))
        if path.is_file():
            files[posix] = path.read_bytes()
    name = dist.metadata["Name"].replace("-", "_")
    if record is None:
        record = f"{name}-{dist.version}.dist-info/RECORD"
    return Wheel(f"{name}-{dist.version}-py3-none-any.whl", _zip(files, record))


def _zip(files: dict[str, bytes], record: str) -> bytes:
    """A deterministic zip of `files` with a RECORD listing each file's hash."""
    import base64

    lines = []
    for name, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record},,")
    files = {**files, record: ("\n".join(lines) + "\n").encode()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            entry = zipfile.ZipInfo(name, _FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return buffer.getvalue()


__all__ = ["CHECK_PAGE", "ENGINE_DIR", "Wheel", "check_body", "check_link", "check_source", "checker_items",
           "installed_wheel", "own_wheel", "script_json", "view_of"]

"""Regenerate every page image that README.md and docs/ show (`make docs-images`).

Handout pages: the PDFs are built by the command line (as `make handouts`, plus a K = 3 sheet
and a K = 3 roster) and one page of each is rendered at 60 dpi with `pdftoppm -png -r 60`.
Site pages: `elbo-sym web --site` is built with `astro build` from the packages `make web-deps`
installed in web/site/, served on 127.0.0.1 and photographed in Debian's headless Chromium
(puppeteer-core from web/node_modules): the worked example at 390 px (web/site_check.mjs, as
tests/test_web.py measures the site) and the in-browser checker showing a refuted step
(bench/docs_images.mjs waits until the check is done).

    python bench/docs_images.py [--out DIR] [--only NAME ...] [--no-site]

tests/test_docs.py checks that every image the pages show is listed in IMAGES.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELBO_SYM = [sys.executable, "-m", "elbo_sym"]
DPI = "60"

# image -> (build, PDF, page); builds are below (BUILDS)
PAGE_IMAGES = {
    "docs/images/derivations.png": ("lesson", "derivations.pdf", 1),
    "docs/images/worked-example.png": ("lesson", "worked-example.pdf", 2),
    "docs/images/exercises.png": ("lesson", "exercises.pdf", 2),
    "docs/images/answers.png": ("lesson", "answers.pdf", 1),
    "docs/images/tight-drill.png": ("lesson", "tight-drill.pdf", 3),
    "docs/images/selfcheck.png": ("lesson", "selfcheck.pdf", 1),
    "docs/images/flashcards.png": ("lesson", "flashcards.pdf", 2),
    "docs/images/find-the-mistake.png": ("lesson", "find-the-mistake.pdf", 1),
    "docs/images/beyond-the-lesson.png": ("lesson", "beyond-the-lesson.pdf", "Two layers: the gap is a KL divergence"),
    "docs/images/exercises-k3.png": ("k3", "exercises.pdf", 2),
    "docs/images/roster-sheet.png": ("roster", "ada.pdf", 2),
}
SITE_IMAGES = ("docs/images/site-390.png", "docs/images/checker-refuted.png")
IMAGES = (*PAGE_IMAGES, *SITE_IMAGES)

# The checker's picture: a wrong file whose step 1 is refuted (KL's arguments swapped).
REFUTED_FILE = """\
title = "The gap, with a slip"
K = 2
claim = "log(p(x)) - ELBO(q) = KL(q(z), p(z | x))"
start = "log(p(x)) - ELBO(q)"

[[step]]
rel = "="
expr = "KL(p(z | x), q(z))"
rule = "definition"

[[example]]
prior = ["3/4", "1/4"]
likelihood = ["1/5", "3/5"]
q = ["1/3", "2/3"]
"""


def _run(command: list[str], **kwargs) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=kwargs.pop("cwd", ROOT), **kwargs)


def build(name: str, out: Path) -> Path:
    """One set of PDFs, in out/name/."""
    folder = out / name
    if folder.is_dir():
        return folder
    if name == "lesson":
        _run([*ELBO_SYM, "build", "derivations/", "derivations/teaching/", "--gallery", "derivations/variants/",
              "--out", str(folder)])
    elif name == "k3":
        _run([*ELBO_SYM, "build", "--K", "3", "--only", "exercises", "--out", str(folder)])
    elif name == "roster":
        roster = out / "students.csv"
        roster.write_text("id,name\nada,Ada Lovelace\n", encoding="utf-8")
        _run([*ELBO_SYM, "exercises", "--roster", str(roster), "--K", "3", "--count", "2", "--out", str(folder)])
    else:
        raise ValueError(name)
    return folder


def _page_with(pdf: Path, phrase: str) -> int:
    """The first page of the PDF whose text holds the phrase."""
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                           text=True).stdout.split("\f")
    for number, text in enumerate(pages, 1):
        if phrase in text:
            return number
    raise SystemExit(f"{pdf.name}: no page holds {phrase!r}")


def page_image(image: str, out: Path, target: Path) -> None:
    name, pdf_name, page = PAGE_IMAGES[image]
    pdf = build(name, out) / pdf_name
    number = page if isinstance(page, int) else _page_with(pdf, page)
    stem = out / Path(image).stem
    _run(["pdftoppm", "-png", "-r", DPI, "-f", str(number), "-l", str(number), "-singlefile", str(pdf), str(stem)])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stem.with_suffix(".png"), target)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def site_images(out: Path, targets: dict[str, Path]) -> None:
    """Build the lesson's site with its checker, serve it, photograph two pages."""
    deps = ROOT / "web" / "site"
    if not (deps / "node_modules" / "astro").is_dir() or not (ROOT / "web" / "node_modules").is_dir():
        raise SystemExit("the site's packages are missing: run `make web-deps` first")
    root = Path(tempfile.mkdtemp(prefix="docs-images-site-", dir=deps))  # node finds web/site/node_modules
    try:
        _run([*ELBO_SYM, "web", "derivations/", "derivations/teaching/", "--site", str(root)])
        env = {**os.environ, "ASTRO_TELEMETRY_DISABLED": "1"}
        _run(["node", str(deps / "node_modules" / "astro" / "astro.js"), "build"], cwd=root, env=env)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                 functools.partial(_Quiet, directory=str(root / "dist")))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            host, port = server.server_address[:2]
            base = f"http://{host}:{port}"
            chromium = shutil.which("chromium") or "chromium"
            shot = out / "site-390.png"
            request = {"chromium": chromium, "profile": tempfile.mkdtemp(prefix="docs-images-profile-"),
                       "base": base, "paths": [], "widths": [],
                       "screenshot": {"path": "/worked-example/", "width": 390, "height": 1100,
                                      "anchor": "state-by-state", "file": str(shot)}}
            if "docs/images/site-390.png" in targets:
                _run(["node", str(ROOT / "web" / "site_check.mjs")], input=json.dumps(request), text=True)
                shutil.copyfile(shot, targets["docs/images/site-390.png"])
            if "docs/images/checker-refuted.png" in targets:
                link = base64.urlsafe_b64encode(REFUTED_FILE.encode()).decode().rstrip("=")
                shot = out / "checker-refuted.png"
                request = {"chromium": chromium, "profile": tempfile.mkdtemp(prefix="docs-images-profile-"),
                           "web": str(ROOT / "web"), "url": f"{base}/check/#toml={link}", "width": 1100,
                           "height": 1500, "file": str(shot)}
                _run(["node", str(ROOT / "bench" / "docs_images.mjs")], input=json.dumps(request), text=True)
                shutil.copyfile(shot, targets["docs/images/checker-refuted.png"])
        finally:
            server.shutdown()
            server.server_close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT), help="write the images under this folder (default: the repo)")
    parser.add_argument("--only", action="append", default=None, help="an image's file name, e.g. answers.png")
    parser.add_argument("--no-site", action="store_true", help="only the handout pages (no node/Chromium)")
    args = parser.parse_args(argv)
    chosen = [i for i in IMAGES if args.only is None or Path(i).name in args.only]
    if args.no_site:
        chosen = [i for i in chosen if i in PAGE_IMAGES]
    with tempfile.TemporaryDirectory(prefix="docs-images-") as work:
        out = Path(work)
        for image in chosen:
            if image in PAGE_IMAGES:
                page_image(image, out, Path(args.out) / image)
        site = {i: Path(args.out) / i for i in chosen if i in SITE_IMAGES}
        for target in site.values():
            target.parent.mkdir(parents=True, exist_ok=True)
        if site:
            site_images(out, site)
    for image in chosen:
        print(f"wrote {Path(args.out) / image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A complete, buildable Starlight site around the course-website pages (``elbo-sym web --site``).

:func:`site_items` puts the pages of :func:`elbo_sym.publish.web.lesson_pages` into Starlight's
content folder (``src/content/docs/``), adds a landing page (``index.md``) and the site's own
files from ``site_template/``:

=============================  ==================================================================
``package.json``               Astro 5 + Starlight 0.37, remark-math, rehype-katex, katex: exact,
                               tested versions (Node 20, Debian's, or newer)
``package-lock.json``          the lock those versions were tested with (``npm ci``); the
                               Makefile's ``web-deps`` installs the same lock for the tests
``astro.config.mjs``           remark-math + rehype-katex as Astro 5 runs them
                               (``markdown.remarkPlugins``/``rehypePlugins``), KaTeX's CSS and
                               ours in Starlight's ``customCss``, the site's title, its address
                               (``site``) and the path it is served under (``base``)
``src/content.config.ts``      Starlight's ``docs`` collection (``docsLoader``, ``docsSchema``)
``src/styles/elbo-sym.css``    wide tables and display math scroll inside their own box
``src/route-data.ts``          "On this page" lists a heading's ``{`` as typed (Astro lists ``${``);
                               the ``<title>`` element's text is escaped (Starlight writes it as HTML)
``src/components/SiteTitle.astro``  the header's title: clamped to a line (two on a phone) with an
                               ellipsis, the whole title as its tooltip
``check-runtime.mjs``          copies Pyodide and KaTeX's module build from node_modules into
                               ``public/check-engine/`` when a build starts (the checker page)
``tsconfig.json``, ``.gitignore``  as Astro's starter has them
``public/favicon.svg``         the icon Starlight's pages link (``/favicon.svg``; a 404 without it)
=============================  ==================================================================

Why Astro 5 and not today's Astro 7: Astro 7 / Starlight 0.42 need Node >= 22.23.4 (Debian
ships 20). The npm package ``node`` can pin one (Node 24 built the site here), but its binary
comes from a preinstall script outside the lock, and is silently missing with
``--ignore-scripts``. Astro 5 + Starlight 0.37 build with Debian's Node and npm alone, every
package in the lock (README, "A course website").

A re-run replaces every file it writes and removes the pages and figures an earlier run wrote
that this one does not (a renamed example's ``worked-example-2.md``): the site's
``.elbo-sym-site.json`` lists what was written; nothing else in the folder is touched.

More pages and static files are more items: a page's ``path`` is relative to the content
folder, an :class:`~elbo_sym.publish.web.Asset` under :data:`PUBLIC_DIR` is served as it is
(``public/check/worker.js`` at ``/check/worker.js``).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from elbo_sym.engine.parse import Vocabulary
from elbo_sym.files import InputError
from elbo_sym.limits import MAX_TITLE_CHARS
from elbo_sym.publish.outputs import refuse_to_replace, remove_stale
from elbo_sym.publish.web import Asset, Page, md_text, write_pages
from elbo_sym.report.build import prose_parts
from elbo_sym.report.model import plain_text

__all__ = ["CONTENT_DIR", "DEFAULT_SITE_TITLE", "MANIFEST", "PUBLIC_DIR", "SITE_FILES", "foreign_site",
           "index_page", "site_base", "site_files", "site_items", "site_title", "write_site"]

TEMPLATE = Path(__file__).parent / "site_template"
CONTENT_DIR = "src/content/docs"
"""Starlight's content folder, relative to the site: where the pages go."""
PUBLIC_DIR = "public"
"""Files served as they are (no Markdown), relative to the site."""
DEFAULT_SITE_TITLE = "Latent variables and the ELBO"
MANIFEST = ".elbo-sym-site.json"
"""What the last run wrote (relative POSIX paths), so the next one can remove what it no longer writes."""

SITE_FILES: dict[str, str] = {
    "package.json": "package.json",
    "package-lock.json": "package-lock.json",
    "astro.config.mjs": "astro.config.mjs",
    "check-runtime.mjs": "check-runtime.mjs",
    "tsconfig.json": "tsconfig.json",
    "src/content.config.ts": "src/content.config.ts",
    "src/route-data.ts": "src/route-data.ts",
    "src/components/SiteTitle.astro": "src/components/SiteTitle.astro",
    "src/styles/elbo-sym.css": "src/styles/elbo-sym.css",
    ".gitignore": "gitignore",  # a dot file is not package data
    "public/favicon.svg": "favicon.svg",  # Starlight links /favicon.svg from every page: without it, a 404 each
}
"""The site's own files: path in the site -> path in ``site_template/``."""

_TITLE_SLOT = "__SITE_TITLE__"
_URL_SLOT = "__SITE_URL__"
_NO_URL = "// site: the address the site is served at -- set site_url in elbo-sym.toml (rewritten by `web --site`)"


_BASE_PATH = re.compile(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")
"""A path a site may be served under (Astro's ``base``): segments of letters, digits and ``. _ ~ -``,
none empty or only dots, so no ``//`` (a link to another host) and no ``..``."""


def site_base(url: str) -> str | None:
    """Astro's ``base`` for a site served at `url`: its path without the last ``/`` ("" at the
    root of the host: ``https://example.edu/week5/`` -> ``/week5``), None when the path is not
    one of :data:`_BASE_PATH` or the address has a query or fragment (Astro would drop them)."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url or not _BASE_PATH.fullmatch(parts.path):
        return None
    return parts.path.rstrip("/")


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal (JSON, ASCII only: no raw U+2028 or control)."""
    return json.dumps(str(text), ensure_ascii=True)


def site_files(title: str = DEFAULT_SITE_TITLE, url: str = "") -> list[Asset]:
    """The site's own files (not the pages), the title and the address (Astro's ``site``, from
    elbo-sym.toml's ``site_url``, and its path as Astro's ``base``: without it every script, style
    and link is root-absolute and a site served under /week5/ loads none, red team rt31; a
    comment saying where to set it when there is none) written into ``astro.config.mjs``, which
    every run rewrites: an address edited into it would make the next run refuse the folder (rt26)."""
    files = []
    for target, source in SITE_FILES.items():
        data = (TEMPLATE / source).read_bytes()
        if target == "astro.config.mjs":
            text = data.decode("utf-8")
            for slot in (_TITLE_SLOT, _URL_SLOT):
                if text.count(slot) != 1:
                    raise ValueError(f"{TEMPLATE / source}: expected one {slot}")
            site = _NO_URL
            if url:
                base = site_base(url)
                if base is None:
                    raise ValueError(f"site_url {url!r}: not an address a site can be served at (a path of "
                                     "letters, digits and . _ ~ -, no query)")
                site = f"site: {_js_string(url)}," + (f"\n  base: {_js_string(base)}," if base else "")
            data = text.replace(_TITLE_SLOT, _js_string(title)).replace(_URL_SLOT, site).encode("utf-8")
        files.append(Asset(target, data))
    return files


def index_page(pages: Sequence[Page], title: str = DEFAULT_SITE_TITLE) -> Page:
    """The landing page (``index.md``): one link per page, in sidebar order. The links are
    relative to the site's root page, so they hold under any ``base``."""
    lines = [f"- [{md_text(p.title)}](./{p.path.removesuffix('.md')}/): {md_text(p.description)}"
             for p in sorted(pages, key=lambda p: p.order)]
    body = ("Every derivation step, claim and card formula on these pages was machine-checked by elbo-sym "
            "before it was written; the prose around them, and what it says of the formulas it names, is the "
            "authors' and is not checked.\n\n"
            + "\n".join(lines) + "\n")
    return Page("index.md", title, f"{title}: derivations, worked examples, exercises and cards, machine-checked.",
                body, 0)


def site_items(items: Iterable[Page | Asset], title: str = DEFAULT_SITE_TITLE, url: str = "") -> list[Page | Asset]:
    """The whole site: its own files (`url`: its address, :func:`site_files`), the landing page
    and `items` (pages and the files they refer to) in the content folder; an item already
    under :data:`PUBLIC_DIR` stays there."""
    items = list(items)
    pages = [i for i in items if isinstance(i, Page)]
    out: list[Page | Asset] = list(site_files(title, url))
    out.append(replace(index_page(pages, title), path=f"{CONTENT_DIR}/index.md"))
    for item in items:
        inside = item.path.startswith(PUBLIC_DIR + "/")
        out.append(item if inside else replace(item, path=f"{CONTENT_DIR}/{item.path}"))
    return out


def foreign_site(out_dir: str | os.PathLike[str]) -> str | None:
    """Why `out_dir` must not be overwritten (None when it may): a site's files (package.json,
    an Astro config) that no earlier ``--site`` run wrote, i.e. someone's own site."""
    out = Path(out_dir)
    if not out.is_dir() or (out / MANIFEST).is_file():
        return None
    for name in ("package.json", "astro.config.mjs", "astro.config.ts", "astro.config.js"):
        if (out / name).exists() or (out / name).is_symlink():
            return f"{out} holds a {name} that elbo-sym did not write"
    return None


def _removable(path: str) -> bool:
    """Only a page or file elbo-sym puts in the content or public folder, never a site file
    (elbo_sym.publish.outputs.stale_file refuses the rest: ``..``, links, outside the site)."""
    return path.startswith(CONTENT_DIR + "/") or path.startswith(PUBLIC_DIR + "/")


def write_site(items: Sequence[Page | Asset], out_dir: str | os.PathLike[str]) -> tuple[list[Path], list[Path]]:
    """Write the site's `items` (:func:`site_items`) under `out_dir`, then remove the pages the
    previous run wrote and this one does not (listed in :data:`MANIFEST`); the written and the
    removed paths."""
    out = Path(out_dir)
    refuse_to_replace(out, MANIFEST, [item.path for item in items])
    written = write_pages(items, out)
    return written, remove_stale(out, MANIFEST, [item.path for item in items], _removable)


def site_title(title: str | None, course_title: str = "") -> str:
    """The site's title (`web --site --title`): the default, or a one-line printable title; InputError otherwise.
    Without ``--title``: the course's (a project's checked ``title``) as plain text, its formulas in file syntax
    without their ``$`` and ``\\$`` as ``$``, as the Anki deck's name; or the default."""
    if title is None:
        return plain_text(prose_parts(course_title, Vocabulary()), course_title) if course_title else DEFAULT_SITE_TITLE
    if not title.strip() or len(title) > MAX_TITLE_CHARS or any(unicodedata.category(c).startswith("C") for c in title):
        raise InputError(f"--title: give a one-line title of 1 to {MAX_TITLE_CHARS} printable characters")
    return title

"""A course project: which files and settings make its handouts (``elbo-sym.toml``).

A project folder may hold a small ``elbo-sym.toml``; every key is optional, and without
the file (or without a key) the lesson's own files and the commands' defaults are used::

    title = "Probabilistic ML, week 5"                 # the course: its handouts' headers, site title, Anki deck
    site_url = "https://example.edu/week5"           # where `web --site`'s site is served (Astro's `site` and `base`)
    derivations = ["derivations", "extra/bound.toml"]   # files or folders, with their subfolders
    selfcheck = "cards/selfcheck.toml"                 # default: the lesson's self-check
    flashcards = "cards/flashcards.toml"               # default: the lesson's flashcards
    solutions = "separate"                             # none | separate | inline

    [exercises]                  # exercises.pdf, answers.pdf (and the drill's seed)
    seed = 7
    count = 4
    K = 3
    parts = ["evidence", "posterior", "elbo", "gap"]

    [drill]                      # tight-drill.pdf
    count = 3
    K = 3                        # default: the exercises' K

    [[example]]                  # the worked example(s), in order (default: the lesson's)
    prior = ["1/2", "1/3", "1/6"]
    likelihood = ["1/5", "3/5", "1/2"]
    q = ["1/3", "1/3", "1/3"]

Paths are relative to the folder of ``elbo-sym.toml``; a folder in ``derivations`` stands for
every ``*.toml`` below it, in its subfolders too (``derivations/teaching/``), in sorted order
(:meth:`Project.derivation_paths`).  The file is read like every user
file (:func:`elbo_sym.files.read_regular_file`, at most :data:`MAX_PROJECT_BYTES`), parsed
with :mod:`tomllib`, and validated: an unknown key, a value of the wrong type or out of
range, a missing file, a bad probability is a
:class:`~elbo_sym.engine.derivation.DerivationError` naming ``file:line``.  Options on the
command line override the file's settings (:meth:`Project.with_options`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elbo_sym.engine.derivation import (
    DerivationError,
    ProseRelation,
    _string_literals,
    dotted_header,
    key_column,
    prose_formula,
    read_toml,
    string_position,
    toml_lines,
)
from elbo_sym.engine.parse import ParseError, Vocabulary
from elbo_sym.files import (
    MAX_NOTE_FOLDERS,
    PROJECT_FILE,
    PROJECT_KEYS,
    WHOLE_FILE,
    FileReadError,
    InputError,
    discover,
    looks_like_derivation,
    paths_or_default,
    read_regular_file,
    resolved_path,
    toml_folders_below,
)
from elbo_sym.lesson.examples import ExampleInputError, WorkedExample, example_instance, example_of
from elbo_sym.lesson.exercises import MAX_COUNT, MAX_EXERCISE_K, MAX_SEED, PARTS, SOLUTIONS, select_tasks
from elbo_sym.limits import MAX_SITE_URL_CHARS, MAX_TITLE_CHARS
from elbo_sym.prose import MATH_CHARACTERS, ProseError, check_prose, split_math, worded_relations
from elbo_sym.publish.handouts import DEFAULT_COUNT, DEFAULT_SEED, DRILL_COUNT, course_titled
from elbo_sym.publish.site import site_base

__all__ = ["PROJECT_FILE", "MAX_PROJECT_BYTES", "MAX_PROJECT_EXAMPLES", "Settings", "Project",
           "load_project", "find_project", "project_handouts", "project_pages", "command_paths",
           "checker_files", "course_handouts", "course_web", "title_warning_lines"]

MAX_PROJECT_BYTES = 64_000
MAX_PROJECT_EXAMPLES = 10
MAX_PROJECT_PATHS = 50
MAX_PROJECT_FOLDERS = 200
"""Folders a project's derivation folder may hold below it."""

DEFAULT_SOLUTIONS = "separate"

_EXERCISES = ("seed", "count", "K", "parts")
_DRILL = ("count", "K")
_EXAMPLE = ("prior", "likelihood", "q")


_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")
"""A host name as a URL names it: labels of letters, digits and inner hyphens, joined by dots."""


def _ip_address(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (urlsplit gives an IPv6 host without its brackets)."""
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Settings:
    """The sheets' settings: seed, cases, states, parts asked and where the solutions go."""

    seed: int = DEFAULT_SEED
    count: int = DEFAULT_COUNT
    K: int = 2
    drill_count: int = DRILL_COUNT
    drill_K: int | None = None
    parts: tuple[str, ...] | None = None
    solutions: str = DEFAULT_SOLUTIONS

    @property
    def drill_states(self) -> int:
        """The drill's K: its own, else the exercises'."""
        return self.drill_K if self.drill_K is not None else self.K


@dataclass(frozen=True)
class Project:
    """What makes the handouts: ``file`` is the elbo-sym.toml read (None: the lesson's defaults)."""

    file: Path | None = None
    root: Path = Path(".")
    derivations: tuple[str, ...] = ()
    examples: tuple[WorkedExample, ...] = ()
    """The ``[[example]]`` tables, each worked out once, when the file is read (its errors are the
    file's, at the example's line); every command that shows them takes these."""
    selfcheck: Path | None = None
    flashcards: Path | None = None
    settings: Settings = field(default_factory=Settings)
    title: str = ""
    """The course's name (``title = "..."``; empty: none given): the handouts' running header,
    the site's title (without ``--title``), its Anki deck's name and ids."""
    site_url: str = ""
    """The address the course site is served at (``site_url``; empty: none given), written into
    the site's ``astro.config.mjs`` as Astro's ``site`` (its sitemap, canonical links)."""
    title_relations: tuple[ProseRelation, ...] = ()
    """The relations the title states in words between two formulas (``$A$ is $B$``): printed on every
    handout's header and checked by nothing, so every command that reads the file warns
    (:func:`title_warning_lines`), as a derivation's or a deck's title does; never a refusal."""

    def with_options(self, **options: Any) -> Project:
        """The project with the command line's options (those not None) over its settings.

        ``K`` sets the exercises' and the drill's states (``drill_K`` only the drill's).
        """
        given = {k: v for k, v in options.items() if v is not None}
        if "K" in given and "drill_K" not in given:
            given["drill_K"] = given["K"]
        if "parts" in given:
            given["parts"] = tuple(t.key for t in select_tasks(given["parts"]))
        return replace(self, settings=replace(self.settings, **given))

    def derivation_paths(self, paths: tuple[str, ...] | list[str] = ()) -> list[str]:
        """The derivations to read: `paths` from the command line (as given), else the
        project's, else ``derivations/`` in the project folder (empty when there is none);
        a project's folder with the folders below it (:func:`folders_below`)."""
        if paths:
            return list(paths)
        default = self.root / "derivations"
        items = [Path(item) for item in self.derivations] or ([default] if default.is_dir() else [])
        decks = {resolved_path(deck) for deck in (self.selfcheck, self.flashcards) if deck is not None}
        found = []
        for path in (p for item in items for p in folders_below(item)):
            if any(os.path.dirname(deck) == resolved_path(path) for deck in decks):
                # the project's decks are never derivations, also in a folder it lists (derivations = ["."])
                found += [str(p) for p in discover([path]) if resolved_path(p) not in decks]
            else:
                found.append(str(path))
        return found


def folders_below(path: Path) -> list[Path]:
    """`path` and, when it is a folder, every folder below it that holds a ``*.toml`` file
    (sorted; files.toml_folders_below: at most limits.MAX_FOLDER_DEPTH deep, symbolic links to
    folders not followed, so a link loop cannot run forever). A file is itself."""
    if not path.is_dir():
        return [path]
    found = [path, *toml_folders_below(path)[0]]
    if len(found) > MAX_PROJECT_FOLDERS:
        raise DerivationError(str(path), WHOLE_FILE, f"more than {MAX_PROJECT_FOLDERS} folders of derivations below it")
    return sorted(found, key=lambda p: p.parts) if len(found) > 1 else found


# --------------------------------------------------------------------------- reading


def find_project(where: str | None = None) -> Project:
    """The project named by ``--project`` (an elbo-sym.toml, or a folder holding one), else
    ./elbo-sym.toml when present, else the lesson's defaults."""
    if where is None:
        here = Path(PROJECT_FILE)
        return load_project(here) if here.exists() or here.is_symlink() else Project()
    if "\0" in where:
        raise DerivationError(where.replace("\0", "\\0"), WHOLE_FILE, "the name contains a NUL byte")
    path = Path(where)
    if path.is_dir():
        path = path / PROJECT_FILE
        if not (path.exists() or path.is_symlink()):
            raise DerivationError(str(path), WHOLE_FILE, f"no {PROJECT_FILE} in the folder {where}")
    return load_project(path)


TITLE_REMEDY = "name the subject in words, or state the relation in a derivation (its claim or a step, checked)"
"""What a course title's warning advises: the title is printed on every handout and page, checked by nothing."""


def title_warning_lines(project: Project, seconds: float | None = None) -> tuple[str, ...]:
    """``warning: FILE:LINE:COLUMN: ...`` for each relation the project's title states in words that the
    checker does not prove on its own, decided in the lesson's model (any K) within `seconds` of CPU in
    all (default: as many as a derivation's prose may take), as a deck's title's are
    (lesson.practice.deck_warnings): every command that reads the project prints them on stderr
    (elbo_sym.cli); they refuse nothing and change no exit status."""
    if not project.title_relations:
        return ()
    from elbo_sym.engine.derivation import Derivation, Formula, Step
    from elbo_sym.engine.notation import to_text
    from elbo_sym.engine.prose_check import MAX_PROSE_RELATIONS, PROSE_RELATION_SECONDS, Wording, relation_warnings

    if seconds is None:
        seconds = PROSE_RELATION_SECONDS * MAX_PROSE_RELATIONS

    path = str(project.file)
    decided: list[tuple[ProseRelation, Derivation, frozenset]] = []
    for found in project.title_relations:  # each as a one-step derivation: lhs rel rhs, by algebra
        start = Formula(found.lhs, to_text(found.lhs), found.line)
        step = Step(1, found.line, found.rel, Formula(found.rhs, to_text(found.rhs), found.line), "algebra", "")
        decided.append((found, Derivation(path, project.title, "", "any", start, (step,)), frozenset()))
    return tuple(f"warning: {path}:{w.line}" + (f":{w.column}" if w.column is not None else "") + f": {w.message}"
                 for w in relation_warnings(decided, seconds, Wording("nothing checks", TITLE_REMEDY)))


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read and validate one elbo-sym.toml (see the module's docstring)."""
    path = Path(path)
    name = str(path)
    try:
        raw = read_regular_file(path, MAX_PROJECT_BYTES)
    except FileReadError as error:
        raise DerivationError(name, 1 if error.too_large else WHOLE_FILE, error.reason if error.too_large
                              else f"cannot read file: {error.reason}") from None
    text, data = read_toml(raw, name)
    return _ProjectReader(name, text, path.parent).project(data, path)


def _title_error(error: ParseError) -> str:
    """A course title's formula error, saying what to write instead (rt26: ``$beta$`` was told to
    declare a [params] table, which elbo-sym.toml does not have, and ``$\\beta$`` that LaTeX is
    refused): the title has no parameters, so a Greek letter is written as itself -- β, which the
    handouts typeset as math -- and any other name in words."""
    name = error.name.removeprefix("\\")
    latex = name != error.name
    letter = next((ch for ch, tex in MATH_CHARACTERS.items() if tex == "\\" + name), None) if name else None
    instead = f"write the letter itself, {letter}, outside $...$" if letter else "write the name in words"
    if name and not latex:
        return f"unknown name '{name}' in a formula: a course title has no [params]; {instead}"
    if latex and letter:
        return f"{error.message}; {instead}"
    return error.message


class _ProjectReader:
    """Validates the TOML dict; finds the line of a key by scanning the text."""

    def __init__(self, path: str, text: str, root: Path):
        self.path, self.root = path, root
        self.lines = toml_lines(text)

    # -- positions
    def _span(self, table: str | None, index: int = 0) -> tuple[int, int]:
        """Lines [first, last] of the top level, of [table] or of the index-th [[table]]."""
        headers = [(n, m.group(1) or m.group(2)) for n, line in enumerate(self.lines, 1)
                   if (m := re.match(r"\s*(?:\[\[\s*([A-Za-z_]+)\s*\]\]|\[\s*([A-Za-z_]+)\s*\])", line))]
        if table is None:
            return 1, headers[0][0] - 1 if headers else len(self.lines)
        mine = [n for n, t in headers if t == table]
        if index >= len(mine):
            return 1, len(self.lines)
        first = mine[index]
        later = [n for n, _ in headers if n > first]
        return first, later[0] - 1 if later else len(self.lines)

    def line(self, key: str | None, table: str | None = None, index: int = 0) -> int:
        first, last = self._span(table, index)
        if key is not None:
            for number in range(first, last + 1):
                if re.match(rf"\s*\"?{re.escape(key)}\"?\s*[=.]", self.lines[number - 1]):  # key = or key.sub =
                    return number
            # a key written as a table: [site], [[site]] or [site.x] at the top level, [exercises.x] in a table
            header = dotted_header(key, table)
            for number, text in enumerate(self.lines, 1):
                if header.match(text):
                    return number
        if table is not None:  # a key of an inline table or a dotted key: the table's line
            for number, text in enumerate(self.lines, 1):
                if re.match(rf"\s*\"?{re.escape(table)}\"?\s*[=.]", text):
                    return number
        return first

    def error(self, line: int, message: str, key: str = "", value: bool = False) -> DerivationError:
        """At file:line:col, as a derivation's errors: the column of `key` on the line (of its value
        when `value`), else the line's first character; the line shown under the message."""
        if not 0 < line <= len(self.lines):
            return DerivationError(self.path, line, message)
        source = self.lines[line - 1]
        return DerivationError(self.path, line, message, None, key_column(source, key, value), source)

    # -- values
    def keys(self, data: dict, allowed: tuple[str, ...], table: str | None, index: int = 0) -> None:
        where = f"[{table}] " if table else ""
        for key in data:
            if key not in allowed:
                raise self.error(self.line(key, table, index),
                                 f"{where}unknown key {key[:40]!r} (allowed: {', '.join(allowed)})", key)

    def integer(self, data: dict, key: str, low: int, high: int, table: str) -> int | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(self.line(key, table), f"[{table}] {key} must be an integer", key, value=True)
        if not low <= value <= high:
            raise self.error(self.line(key, table), f"[{table}] {key} = {value} is not in the range {low} to {high}",
                             key, value=True)
        return value

    def file(self, value: Any, key: str, line: int, *, folder_ok: bool) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.error(line, f"{key} must be a file name (a non-empty string)", key, value=True)
        if "\0" in value:
            raise self.error(line, f"{key}: the name contains a NUL byte", key, value=True)
        path = self.root / value
        if not path.exists():
            raise self.error(line, f"{key}: {value[:120]} does not exist (paths are relative to {self.path})", key,
                             value=True)
        if path.is_dir() and not folder_ok:
            raise self.error(line, f"{key}: {value[:120]} is a folder, not a file", key, value=True)
        return path

    def entry_at(self, line: int, items: Sequence[Any], entry: int, message: str, key: str) -> DerivationError:
        """An error at entry `entry` of the list `items` written from `line` on (a list may span lines):
        at that string, found by counting the strings after the ``=`` (rt44 F5: a list's errors pointed at
        its ``[``; a search for the text found "0" inside an earlier "1/10"); at the list when an entry
        before it is no string or the count does not find it."""
        if all(isinstance(item, str) for item in items[:entry + 1]):
            seen = 0
            for number in range(line, len(self.lines) + 1):
                source = self.lines[number - 1]
                start = source.find("=") + 1 if number == line else 0
                for text, columns in _string_literals(source[start:]):
                    if seen == entry:
                        if text != items[entry]:
                            return self.error(line, message, key, value=True)
                        return DerivationError(self.path, number, message, None, start + columns[0], source)
                    seen += 1
        return self.error(line, message, key, value=True)

    # -- the file
    def project(self, data: dict, file: Path) -> Project:
        self.keys(data, PROJECT_KEYS, None)
        title, title_relations = self.title(data.get("title"))
        derivations: tuple[str, ...] = ()
        if "derivations" in data:
            value, line = data["derivations"], self.line("derivations")
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or len(items) > MAX_PROJECT_PATHS:
                raise self.error(line, f"derivations must be a file or folder name, or a list of 1 to "
                                       f"{MAX_PROJECT_PATHS} of them")
            derivations = tuple(str(self.derivation(items, entry, line, file)) for entry in range(len(items)))
        decks = {}
        for key in ("selfcheck", "flashcards"):
            decks[key] = self.file(data[key], key, self.line(key), folder_ok=False) if key in data else None
        settings: dict[str, Any] = {}
        if "solutions" in data:
            if data["solutions"] not in SOLUTIONS:
                raise self.error(self.line("solutions"), f"solutions must be one of {', '.join(SOLUTIONS)}",
                                 "solutions", value=True)
            settings["solutions"] = data["solutions"]
        settings.update(self.exercises(data.get("exercises")))
        settings.update(self.drill(data.get("drill")))
        examples = self.examples(data.get("example"))
        return Project(file, self.root, derivations, examples, decks["selfcheck"], decks["flashcards"],
                       Settings(**settings), title, self.site_url(data.get("site_url")), title_relations)

    def derivation(self, items: list[Any], entry: int, line: int, file: Path) -> Path:
        """Entry `entry` of `derivations` (the list `items`, written from `line` on): a file or folder, never
        this settings file itself (rt41: it was read as a derivation and refused with advice for the command
        line); its errors point at the entry (rt44 F5)."""
        item = items[entry]
        try:
            path = self.file(item, "derivations", line, folder_ok=True)
        except DerivationError as error:
            raise self.entry_at(line, items, entry, error.message, "derivations") from None
        if resolved_path(path) == resolved_path(file):
            raise self.at(line, item, 0, f"derivations: {item[:120]} is this course's settings file, not a "
                                         f"derivation (it is never read as one): remove it from the list",
                          "derivations")
        return path

    def site_url(self, value: Any) -> str:
        """An http(s) address with a host, printable ASCII without spaces or quotes, at most
        MAX_SITE_URL_CHARS (it goes into astro.config.mjs as a JSON string literal all the same)."""
        if value is None:
            return ""
        line = self.line("site_url")
        rule = (f"site_url must be the site's address, like \"https://example.edu/week5\" (http or https, a host, "
                f"at most {MAX_SITE_URL_CHARS} printable ASCII characters without spaces or quotes)")
        if not isinstance(value, str) or not 0 < len(value) <= MAX_SITE_URL_CHARS:
            raise self.error(line, rule, "site_url", value=True)
        if not re.fullmatch(r"[!#-&(-~]+", value):  # printable ASCII but space, " and '
            raise self.error(line, rule, "site_url", value=True)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError:
            raise self.error(line, rule, "site_url", value=True) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or "\\" in value:
            raise self.error(line, rule, "site_url", value=True)
        if not (_HOST_NAME.fullmatch(parts.hostname) or _ip_address(parts.hostname)):
            # a host Python's urlsplit takes but Node's URL (Astro's check of `site`) refuses: exa^mple.com,
            # %zz, a|b (red team rt29) -- a name of letters, digits, - and dots, or an IP address
            raise self.error(line, rule, "site_url", value=True)
        if site_base(value) is None:  # its path becomes Astro's `base`; a query Astro would drop (rt31)
            raise self.error(line, "site_url's path must be folders of letters, digits and . _ ~ - (the site is "
                                   "served under it, like /week5), with no query (?) or fragment (#)",
                             "site_url", value=True)
        return value

    def title(self, value: Any) -> tuple[str, tuple[ProseRelation, ...]]:
        """The course's title, and the relations it states in words (:attr:`Project.title_relations`)."""
        if value is None:
            return "", ()
        line = self.line("title")
        if not isinstance(value, str) or not value.strip():
            raise self.error(line, "title must be the course's name (a non-empty string)", "title", value=True)
        parsed: dict[str, Any] = {}
        try:
            text = check_prose(value, MAX_TITLE_CHARS, "title")
            spans = split_math(value)
            for span in spans:  # its $...$ formulas parse here, not first in a build
                if span.kind == "math":
                    try:
                        parsed[span.text] = prose_formula(span.text, Vocabulary())
                    except ParseError as error:
                        raise ProseError(f"title: {_title_error(error)}", span.position + (error.column or 0)) \
                            from None
        except ProseError as error:
            raise self.at(line, value, error.position, error.message, "title") from None
        relations = []
        for found in worded_relations(spans):  # as the derivation reader records a title's (_Reader.worded)
            at, column = string_position(self.lines, line, value, found.position) or (line, None)
            relations.append(ProseRelation(parsed[found.left], found.rel, parsed[found.right],
                                           f"${found.left}$ {found.words} ${found.right}$", "title", at,
                                           column + 1 if column is not None else None))
        return text, tuple(relations)

    def at(self, line: int, value: str, position: int | None, message: str, key: str) -> DerivationError:
        """An error at character `position` of the string `value` of `key` on `line` (rt41: a title's
        errors pointed at the string's first character, a deck's and a derivation's at the culprit);
        at the value's start when the position is unknown or the string is not found on the line."""
        found = string_position(self.lines, line, value, position) if position is not None else None
        if found is None:
            return self.error(line, message, key, value=True)
        at, column = found
        return DerivationError(self.path, at, message, None, column, self.lines[at - 1])

    def table(self, value: Any, name: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(self.line(name), f"{name} must be a table: [{name}]")
        return value

    def exercises(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        data = self.table(value, "exercises")
        self.keys(data, _EXERCISES, "exercises")
        out: dict[str, Any] = {}
        for key, low, high in (("seed", 0, MAX_SEED), ("count", 1, MAX_COUNT), ("K", 2, MAX_EXERCISE_K)):
            number = self.integer(data, key, low, high, "exercises")
            if number is not None:
                out[key] = number
        if "parts" in data:
            parts, line = data["parts"], self.line("parts", "exercises")
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise self.error(line, f"[exercises] parts must be a list of names ({', '.join(PARTS)})")
            try:
                out["parts"] = tuple(t.key for t in select_tasks(parts))
            except ExampleInputError as error:
                raise self.error(line, f"[exercises] parts: {error}") from None
        return out

    def drill(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        data = self.table(value, "drill")
        self.keys(data, _DRILL, "drill")
        out: dict[str, Any] = {}
        count = self.integer(data, "count", 1, MAX_COUNT, "drill")
        if count is not None:
            out["drill_count"] = count
        K = self.integer(data, "K", 2, MAX_EXERCISE_K, "drill")
        if K is not None:
            out["drill_K"] = K
        return out

    def examples(self, value: Any) -> tuple[WorkedExample, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise self.error(self.line("example"), "example must be tables: [[example]] with prior, likelihood, q")
        if len(items) > MAX_PROJECT_EXAMPLES:
            raise self.error(self.line(None, "example", MAX_PROJECT_EXAMPLES),
                             f"too many examples ({len(items)}; at most {MAX_PROJECT_EXAMPLES})")
        out = []
        for index, item in enumerate(items):
            where = f"example {index + 1}"
            self.keys(item, _EXAMPLE, "example", index)
            for key in _EXAMPLE:
                if key not in item:
                    raise self.error(self.line(None, "example", index), f"{where} is missing {key!r}")
                if not isinstance(item[key], (list, str)):
                    raise self.error(self.line(key, "example", index),
                                     f"{where}: {key} must be a list of fractions, e.g. [\"3/4\", \"1/4\"]")
            try:
                # worked out now, once, for `build`, `web` and `example`: a value too large for exact
                # arithmetic is this file's error at this example, and `check` fails on it too (red team rt25)
                out.append(example_of(example_instance(item["prior"], item["likelihood"], item["q"])))
            except ExampleInputError as error:
                culprit = next((k for k in _EXAMPLE if str(error).startswith(k)), None)
                line = self.line(culprit, "example", index)
                values = item.get(culprit) if culprit else None
                if error.entry is not None and isinstance(values, list):  # at the value, not the `[` (rt44 F5)
                    raise self.entry_at(line, values, error.entry, f"{where}: {error}", culprit or "") from None
                raise self.error(line, f"{where}: {error}", culprit or "", value=True) from None
        return tuple(out)


# --------------------------------------------------------------------------- what it makes


def project_handouts(results, project: Project, *, budget: float, file_budget: float | None = None) -> list:
    """Every handout of the project (elbo_sym.publish.handouts.lesson_handouts with its files and settings;
    `file_budget`: each deck's, reading included)."""
    from elbo_sym.publish.handouts import lesson_handouts

    s = project.settings
    return lesson_handouts(results, seed=s.seed, count=s.count, budget=budget, K=s.K, drill_count=s.drill_count,
                           drill_K=s.drill_states, parts=s.parts, solutions=s.solutions, examples=project.examples,
                           selfcheck=project.selfcheck, flashcards=project.flashcards, deck_budget=file_budget)


def project_pages(results, project: Project, *, budget: float, check_links: dict[str, str] | None = None,
                  literature=(), file_budget: float | None = None) -> list:
    """Every website page of the project (elbo_sym.publish.web.lesson_pages with its files and settings;
    `literature`: the reports of the literature page)."""
    from elbo_sym.publish.web import lesson_pages

    s = project.settings
    return lesson_pages(results, seed=s.seed, count=s.count, budget=budget, K=s.K, drill_count=s.drill_count,
                        drill_K=s.drill_states, parts=s.parts, solutions=s.solutions, examples=project.examples,
                        selfcheck=project.selfcheck, flashcards=project.flashcards, check_links=check_links,
                        literature=literature, deck_budget=file_budget)


def command_paths(project: Project, paths: Sequence[str], command: str) -> list[str]:
    """The derivations a command reads: PATHS, else the project's, else derivations/ here."""
    if paths or project.file is None:
        return paths_or_default(paths, command)
    found = project.derivation_paths()
    if not found:
        raise InputError(f"{project.file}: no derivations = [...] and no derivations/ folder beside it: `{command}` "
                         f"needs the course's own (the lesson's are not installed); list them, e.g. "
                         f"derivations = [\"bound.toml\"], or give PATHS")
    for note in unlisted_notes(project, found):  # a file beside elbo-sym.toml it does not list: said (rt52 F2)
        print(f"elbo-sym: {note}", file=sys.stderr)
    return found


def unlisted_notes(project: Project, found: Sequence[str]) -> list[str]:
    """What a command says of the derivation files directly in the course folder that `found` (the
    project's derivations) leaves out: one note naming them, as `check FOLDER` names the subfolders
    it skips (files.folder_notes). A note changes no verdict and no exit status."""
    if project.file is None:
        return []
    listed: set[str] = set()
    for item in map(Path, found):
        listed.update(resolved_path(p) for p in (item.glob("*.toml") if item.is_dir() else [item]))
    try:
        beside = sorted(project.root.glob("*.toml"))
    except OSError:
        return []
    unread = [p for p in beside if p.name != PROJECT_FILE and resolved_path(p) not in listed
              and looks_like_derivation(p)]
    if not unread:
        return []
    shown = ", ".join(str(p) for p in unread[:MAX_NOTE_FOLDERS]) + (
        f" and {len(unread) - MAX_NOTE_FOLDERS} more" if len(unread) > MAX_NOTE_FOLDERS else "")
    one = "it" if len(unread) == 1 else "them"
    why = ("its derivations = [...] does not list " + one if project.derivations
           else "it has no derivations = [...], so derivations/ is read")
    return [f"note: {shown} not checked: {project.file} is the course's list and {why}; "
            f"list {one} there or pass {one} as {'a path' if len(unread) == 1 else 'paths'}"]


def course_handouts(results, project: Project, *, budget: float, gallery=(), literature=(),
                    file_budget: float | None = None) -> list:
    """Every handout of `build`: the project's, with the variants gallery and the literature after
    the first.  Raises HandoutError (before anything is built) unless every derivation is checked
    and every literature step proved."""
    from elbo_sym.publish.handouts import gallery_handout, literature_handout, require_checked

    require_checked([*results, *gallery])
    cited = literature_handout(literature)
    handouts = project_handouts(results, project, budget=budget, file_budget=file_budget)
    extra = gallery_handout(gallery, project.settings.solutions) if gallery else None
    handouts[1:1] = [h for h in (extra, cited) if h is not None]
    return course_titled(handouts, project.title)


def checker_files(results, literature, project: Project) -> list:
    """The reports whose files the site's checker offers: every derivation the site was built from,
    but without solutions (the students' site) not the teaching files: their expect_refuted lists
    the mistakes, and checking them shows each counterexample and its repair."""
    hide_answers = project.settings.solutions == "none"
    return [r for r in [*results, *literature] if not (hide_answers and r.expect == "refuted")]


def course_web(results, project: Project, *, budget: float, literature=(), site_title: str | None = None,
               file_budget: float | None = None) -> list:
    """The items of `web`: the project's pages, or (with `site_title`) a whole Starlight site
    whose checker page offers the derivations it was built from, each linked from its page.
    Raises HandoutError or WebError unless every derivation is checked."""
    from elbo_sym.engine.derivation import read_user_file
    from elbo_sym.publish.browser import check_link, checker_items
    from elbo_sym.publish.handouts import require_checked
    from elbo_sym.publish.site import site_items
    from elbo_sym.publish.web import course_titled_pages

    sources = ({r.file: read_user_file(r.file).decode("utf-8") for r in checker_files(results, literature, project)}
               if site_title is not None else {})
    require_checked(results)
    items = project_pages(results, project, budget=budget, literature=literature, file_budget=file_budget,
                          check_links={file: "../" + check_link(text, "check/") for file, text in sources.items()})
    if site_title is None:  # pages for the user's own site: each names the course, as a handout does
        return course_titled_pages(items, project.title)
    return site_items([*items, *checker_items(sources)], site_title, project.site_url)


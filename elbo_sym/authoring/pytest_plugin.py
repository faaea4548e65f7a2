"""pytest plugin: derivation files are tests (registered via the `pytest11` entry point).

What is collected (a ``.toml`` file is never collected when it is ``pyproject.toml``):

* a ``.toml`` derivation named on the command line (``pytest my-variant.toml``);
* in a **folder named on the command line** (``pytest variants/``), every derivation file
  below it: a ``*.toml`` that has a ``start`` or a ``[[step]]`` (a file that is not valid
  TOML counts when such a line is in it, so a typo is reported, not skipped).  Only
  folders given as arguments count: a plain ``pytest`` run (``testpaths`` or the current
  folder) does not collect these.  The ini option ``elbo_sym_folder_files`` narrows this
  (glob patterns relative to the rootdir, the folder pytest was started in, or the folder
  named; default ``**/*.toml``), and ``elbo_sym_collect_folders = false`` switches it off;
* wherever pytest looks (also a plain ``pytest`` run), files matching the ini option
  ``elbo_sym_files`` (glob patterns relative to the rootdir or to the folder pytest was
  started in; default ``derivations/*.toml``; ``**`` matches any number of folders), except a
  deck (``[[card]]`` or ``[[question]]`` tables: :func:`elbo_sym.files.is_deck`), which is
  skipped with the note ``elbo-sym check`` prints for it, at the end of the run (under
  pytest-xdist too: the workers send the controller what they skipped);
* in a plain ``pytest`` run (no paths named: ``testpaths`` or the current folder), when the
  folder pytest was started in (else the rootdir) holds an ``elbo-sym.toml``: every derivation
  ``elbo-sym check`` reads there without PATHS (:func:`elbo_sym.authoring.testing.project_files`:
  the file's ``derivations`` list, else its derivations/ folder with the folders below it),
  wherever they lie, so a plain run never passes where ``check`` fails.  A malformed
  elbo-sym.toml is one failing item naming it.  ``elbo_sym_project = false`` switches this off;
  paths named on the command line never read it (neither does ``elbo-sym check PATHS``).

One test item per derivation, named ``<file stem>: <title>``, so ``-k gap`` or
``-k divergence`` select by file name or title words.  A failing derivation is reported
like a good assertion: file:line, the step's relation with both sides, the rule, the
verdict, the counterexample and the repair suggestion.

A malformed or unreadable file is one **failing** item named by its stem, whose report is
the one-line ``file:line:column: message`` and a caret under the offending token -- no
traceback from inside elbo-sym.  (Not a collection error: that would stop pytest before
the other derivations ran.)

``assert_derivation(path)`` / ``assert_refuted(path, step=N)`` (from
:mod:`elbo_sym.authoring.testing`) and the ``elbo_check`` fixture check a derivation from
ordinary Python tests; their failures, too, are shown message first, without a traceback
(``--full-trace`` or ``--tb=native`` show it).

Configure in pyproject.toml::

    [tool.pytest.ini_options]
    elbo_sym_files = ["derivations/*.toml", "variants/**/*.toml"]
    elbo_sym_folder_files = ["derivations/**/*.toml"]   # named folders: only these
    elbo_sym_collect_folders = true                     # false: named folders collect only elbo_sym_files
    elbo_sym_project = true                             # false: a plain run does not read elbo-sym.toml
    elbo_sym_budget = "10"
    elbo_sym_file_budget = "120"                        # reading and checking one file (default: steps x budget)
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from pathlib import Path

import pytest

from elbo_sym.authoring.testing import (
    DerivationFailed,
    ElboSymFailure,
    _assert_derivation,
    _input_failed_class,
    assert_derivation,
    assert_refuted,
    format_failure,
    project_files,
)
from elbo_sym.files import PROJECT_FILE, FileReadError, deck_note, is_deck, read_regular_file
from elbo_sym.limits import FILE_BUDGET_CAP_SECONDS, STEP_BUDGET_SECONDS, BudgetError, loading_budget, validate_budget

DEFAULT_PATTERNS = ["derivations/*.toml"]
DEFAULT_FOLDER_PATTERNS = ["**/*.toml"]
_NAMED = pytest.StashKey["_Named"]()
_DECKS = pytest.StashKey[list[Path]]()
_DERIVATION_LINE = re.compile(r"^[ \t]*(?:start[ \t]*=|\[\[[ \t]*step[ \t]*\]\])", re.MULTILINE)
"""A `start = ...` or `[[step]]` line: how a file that is not valid TOML still shows it is a derivation."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("elbo_sym_files", "glob patterns (relative to rootdir) of derivation files to collect",
                  type="args", default=list(DEFAULT_PATTERNS))
    parser.addini("elbo_sym_collect_folders", "a folder named on the command line collects the derivation "
                  "files below it (default true)", type="bool", default=True)
    parser.addini("elbo_sym_folder_files", "glob patterns narrowing which derivation files a folder named on "
                  "the command line collects (default **/*.toml)", type="args",
                  default=list(DEFAULT_FOLDER_PATTERNS))
    parser.addini("elbo_sym_project", f"a plain pytest run also collects the derivations {PROJECT_FILE} lists, as "
                  "`elbo-sym check` without PATHS checks them (default true)", type="bool", default=True)
    parser.addini("elbo_sym_budget",
                  f"time budget in CPU seconds per derivation step (default {STEP_BUDGET_SECONDS:g})",
                  default=str(STEP_BUDGET_SECONDS))
    parser.addini("elbo_sym_file_budget", "time budget in CPU seconds of one derivation file, reading it included "
                  f"(default: steps x elbo_sym_budget, at most {FILE_BUDGET_CAP_SECONDS:g})", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "derivation: a derivation file checked by elbo-sym")
    _budget(config)  # a bad elbo_sym_budget is a usage error at startup, not a silent default
    _file_budget(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".toml" or file_path.name == "pyproject.toml":
        return None
    config = parent.config
    if _is_explicit_derivation(file_path, config) or _in_named_folder(file_path, config):
        return DerivationFile.from_parent(parent, path=file_path)
    if _matches(file_path, config.getini("elbo_sym_files") or [], _bases(config)):
        if is_deck(file_path):  # derivations/cards.toml: skipped with a note, as `check derivations/` does (rt36 M3)
            config.stash.setdefault(_DECKS, []).append(file_path)
            return None
        return DerivationFile.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The decks a pattern met and the run skipped, each said as `check` says it (files.deck_note);
    under pytest-xdist the workers collect, and the controller says what they sent (_WORKER_DECKS)."""
    skipped: list[Path] = config.stash[_DECKS] if _DECKS in config.stash else []
    for path in dict.fromkeys(skipped):
        terminalreporter.write_line(f"elbo-sym: {deck_note(_display_path(path, config))}")


_WORKER_DECKS = "elbo_sym_decks"
"""The key under which an xdist worker sends the decks it skipped to the controller (its workeroutput)."""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On a pytest-xdist worker: send the decks it skipped to the controller, which prints the summary."""
    config = session.config
    if hasattr(config, "workeroutput"):
        config.workeroutput[_WORKER_DECKS] = [str(p) for p in config.stash.get(_DECKS, [])]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: without xdist it is never called
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: the decks a worker skipped (every worker collects them all; said once)."""
    sent = getattr(node, "workeroutput", {}).get(_WORKER_DECKS, [])
    node.config.stash.setdefault(_DECKS, []).extend(Path(p) for p in sent)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: the project's items are selected like the others
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """A plain run in a course folder: the derivations its elbo-sym.toml gives `check` (project_files)
    that pytest's own walk did not collect, each a DerivationFile as if found there."""
    folder = _project_folder(config)
    if folder is None:
        return
    try:
        files = project_files(folder)
    except ElboSymFailure as error:  # a malformed elbo-sym.toml: `check` refuses it, so one item fails
        items.extend(session.genitems(ProjectFile.from_parent(session, path=folder / PROJECT_FILE, error=error)))
        return
    collected = {Path(item.path).resolve() for item in items}
    for path in files or ():
        absolute = Path(os.path.abspath(path))
        if absolute.resolve() not in collected:
            collected.add(absolute.resolve())
            items.extend(session.genitems(DerivationFile.from_parent(session, path=absolute)))


def _project_folder(config: pytest.Config) -> Path | None:
    """Where a plain run's elbo-sym.toml is: the folder pytest was started in (where `check`
    looks), else the rootdir; None when paths were named, elbo_sym_project is false, or neither has one."""
    if config.args_source == pytest.Config.ArgsSource.ARGS or not config.getini("elbo_sym_project"):
        return None
    for folder in (config.invocation_params.dir, config.rootpath):
        settings = folder / PROJECT_FILE
        if settings.exists() or settings.is_symlink():
            return folder
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """An assert_derivation / assert_refuted / elbo_check failure in a Python test: its message
    first (file:line:column and caret, or the step report), no traceback into elbo-sym."""
    report = yield
    excinfo = call.excinfo
    if (report.failed and excinfo is not None and isinstance(excinfo.value, ElboSymFailure)
            and not isinstance(item, (DerivationItem, MalformedDerivation))
            and not item.config.getoption("fulltrace", False)
            and item.config.getoption("tbstyle", "auto") in ("auto", "long", "short")):
        error = excinfo.value
        text = str(error)
        if error.called_from:
            text += f"\n\n({error.function or 'elbo-sym'} called at {error.called_from})"
        report.longrepr = text
    return report


# ---------------------------------------------------------------------------- selection


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    """Glob match segment by segment; `**` matches zero or more segments."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)


def matches_pattern(relative: str, pattern: str) -> bool:
    parts = [p for p in relative.replace(os.sep, "/").split("/") if p not in ("", ".")]
    wanted = [p for p in pattern.replace(os.sep, "/").split("/") if p not in ("", ".")]
    return _match_parts(parts, wanted)


def _bases(config: pytest.Config) -> tuple[Path, ...]:
    return tuple(dict.fromkeys((config.rootpath, config.invocation_params.dir)))


def _matches(file_path: Path, patterns: list[str], bases: tuple[Path, ...]) -> bool:
    """Does `file_path`, relative to one of `bases`, match a pattern (an absolute pattern: the path)?"""
    for base in bases:
        try:
            relative = file_path.relative_to(base).as_posix()
        except ValueError:
            continue
        if any(matches_pattern(relative, pattern) for pattern in patterns if not os.path.isabs(pattern)):
            return True
    return any(matches_pattern(file_path.as_posix(), pattern) for pattern in patterns if os.path.isabs(pattern))


class _Named:
    """The files and folders named on the command line (absolute; also resolved)."""

    def __init__(self, config: pytest.Config):
        files, folders = set(), set()
        from_args = config.args_source == pytest.Config.ArgsSource.ARGS
        for arg in config.args:
            path = Path(str(arg).split("::")[0])
            if not path.is_absolute():
                path = config.invocation_params.dir / path
            if path.suffix == ".toml" and path.is_file():
                files.add(path.resolve())
            elif from_args and path.is_dir():  # testpaths and the bare invocation folder do not count
                folders.add(Path(os.path.abspath(path)))
                folders.add(path.resolve())
        self.files = frozenset(files)
        self.folders = tuple(sorted(folders))


def _named(config: pytest.Config) -> _Named:
    if _NAMED not in config.stash:
        config.stash[_NAMED] = _Named(config)
    return config.stash[_NAMED]


def _looks_like_derivation(file_path: Path, *, explicit: bool) -> bool:
    """A cheap test: parses as TOML with a `start` or a `step` table.  A file that cannot be
    read or parsed counts when it was named explicitly (the collector then says why it does
    not load), or when a `start =` / `[[step]]` line shows it is a derivation with a typo."""
    try:
        raw = read_regular_file(file_path)
    except FileReadError:
        return explicit  # not a regular file, too large: report it only when asked for by name
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError, MemoryError):  # ValueError: bad UTF-8, bad TOML
        return explicit or bool(_DERIVATION_LINE.search(text))
    return "step" in data or "start" in data


def _is_explicit_derivation(file_path: Path, config: pytest.Config) -> bool:
    """A .toml named on the command line is collected unless it is clearly not a derivation."""
    if file_path.resolve() not in _named(config).files:
        return False
    return _looks_like_derivation(file_path, explicit=True)


def _in_named_folder(file_path: Path, config: pytest.Config) -> bool:
    """Below a folder named on the command line, matching elbo_sym_folder_files, and a derivation."""
    if not config.getini("elbo_sym_collect_folders"):
        return False
    absolute, resolved = Path(os.path.abspath(file_path)), file_path.resolve()
    folders = [f for f in _named(config).folders if absolute.is_relative_to(f) or resolved.is_relative_to(f)]
    if not folders:
        return False
    patterns = config.getini("elbo_sym_folder_files") or []
    if not any(_matches(path, patterns, (*_bases(config), *folders)) for path in {absolute, resolved}):
        return False
    return _looks_like_derivation(file_path, explicit=False)


def _display_path(path: Path, config: pytest.Config) -> str:
    for base in (config.invocation_params.dir, config.rootpath):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def _budget(config: pytest.Config) -> float:
    try:
        return validate_budget(config.getini("elbo_sym_budget"), "elbo_sym_budget")
    except BudgetError as error:
        raise pytest.UsageError(f"elbo-sym: {error}") from None


def _file_budget(config: pytest.Config) -> float | None:
    """elbo_sym_file_budget, None when not set (the default: steps x elbo_sym_budget, capped)."""
    value = config.getini("elbo_sym_file_budget")
    if value in ("", None):
        return None
    try:
        return validate_budget(value, "elbo_sym_file_budget")
    except BudgetError as error:
        raise pytest.UsageError(f"elbo-sym: {error}") from None


# ---------------------------------------------------------------------------- nodes


class DerivationFile(pytest.File):
    def collect(self):
        from elbo_sym.authoring.cache import import_engine

        import_engine()
        from elbo_sym.engine.derivation import DerivationError
        from elbo_sym.report.build import load_in_time

        shown = _display_path(self.path, self.config)
        budget, file_budget = _budget(self.config), _file_budget(self.config)  # a bad option stops the session
        try:  # read within the file's budget: a file not read in time is this item's failure, not a hang
            raw = read_regular_file(self.path, patience=loading_budget(budget, file_budget))
            loaded = load_in_time(shown, budget, file_budget, raw=raw)
        except DerivationError as error:
            yield MalformedDerivation.from_parent(self, name=self.path.stem,
                                                  error=_input_failed_class().from_error(error))
            return
        except FileReadError as error:
            line = 1 if error.too_large else 0
            yield MalformedDerivation.from_parent(self, name=self.path.stem,
                                                  error=_input_failed_class()(shown, line, error.reason))
            return
        except Exception as error:  # a bug of the reader: this file's item fails, the other files still run
            yield UnreadDerivation.from_parent(self, name=self.path.stem, error=error)
            return
        name = f"{self.path.stem}: {loaded.derivation.title}".replace("::", ": ").replace("\n", " ")
        yield DerivationItem.from_parent(self, name=name, loaded=loaded)


class ProjectFile(pytest.File):
    """A course's elbo-sym.toml that `check` would refuse: its one item fails with the error."""

    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def collect(self):
        yield MalformedDerivation.from_parent(self, name=self.path.name, error=self.error)


class DerivationItem(pytest.Item):
    def __init__(self, *, loaded, **kwargs):
        super().__init__(**kwargs)
        self.loaded = loaded  # the derivation and how long reading it took (deducted from its file budget)
        self.derivation = loaded.derivation
        self.result = None
        self.add_marker(pytest.mark.derivation)

    def runtest(self) -> None:
        self.result = assert_derivation(self.loaded, budget=_budget(self.config),
                                        file_budget=_file_budget(self.config))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, DerivationFailed):
            return format_failure(excinfo.value.report)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.derivation.start.line - 1, self.name


class MalformedDerivation(pytest.Item):
    """A derivation file that cannot be read or parsed: one failing item (file:line:column, caret)."""

    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error
        self.add_marker(pytest.mark.derivation)

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        if excinfo.value is self.error:
            return str(self.error)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, max(self.error.line - 1, 0), self.name


class UnreadDerivation(pytest.Item):
    """A derivation file whose reading raised something other than an input error (a bug of
    elbo-sym, rt3 F2): one failing item with the traceback, not a collection error that stops
    the session."""

    def __init__(self, *, error: Exception, **kwargs):
        super().__init__(**kwargs)
        self.error = error
        self.add_marker(pytest.mark.derivation)

    def runtest(self) -> None:
        raise self.error

    def reportinfo(self):
        return self.path, 0, f"{self.name} (elbo-sym could not read it)"


# ---------------------------------------------------------------------------- fixture


@pytest.fixture
def elbo_check(request: pytest.FixtureRequest):
    """`elbo_check(path)`: check a derivation; fail readably.  A relative path is looked up in
    the test file's folder, then the current directory, then the rootdir.

    Returns the DerivationReport when it holds; fails with the report otherwise.
    """
    folder = Path(request.path).parent
    root = request.config.rootpath

    def check(path, budget: float | None = None):
        __tracebackhide__ = True
        return _assert_derivation(path, _budget(request.config) if budget is None else budget, folder, (root,),
                                  "elbo_check", _file_budget(request.config))

    return check


__all__ = ["assert_derivation", "assert_refuted", "elbo_check", "DerivationFile", "DerivationItem",
           "MalformedDerivation", "matches_pattern"]

"""pytest plugin: derivation files are tests (registered via the `pytest11` entry point).

* Files matching the ini option ``elbo_sym_files`` (glob patterns relative to the rootdir
  or to the directory pytest was started in; default ``derivations/*.toml``; ``**``
  matches any number of folders) are collected, and so is a ``.toml`` derivation named
  explicitly on the command line (``pytest my-variant.toml``).
* One test item per derivation, named ``<file stem>: <title>``, so ``-k gap`` or
  ``-k divergence`` select by file name or title words.
* A failing derivation is reported like a good assertion: file:line, the step's relation
  with both sides, the rule, the verdict, the counterexample and the repair suggestion.
* A malformed file is a collection error naming file and line, with a caret under the
  offending token -- no traceback from inside elbo-sym.
* ``assert_derivation(path)`` (from :mod:`elbo_sym.authoring.testing`) and the ``elbo_check``
  fixture check a derivation from ordinary Python tests.

Configure in pyproject.toml::

    [tool.pytest.ini_options]
    elbo_sym_files = ["derivations/*.toml", "variants/**/*.toml"]
    elbo_sym_budget = "10"
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from pathlib import Path

import pytest

from elbo_sym.files import FileReadError, read_regular_file
from elbo_sym.limits import STEP_BUDGET_SECONDS, BudgetError, validate_budget
from elbo_sym.authoring.testing import DerivationFailed, assert_derivation, format_failure

DEFAULT_PATTERNS = ["derivations/*.toml"]
_EXPLICIT = pytest.StashKey[frozenset]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("elbo_sym_files", "glob patterns (relative to rootdir) of derivation files to collect",
                  type="args", default=list(DEFAULT_PATTERNS))
    parser.addini("elbo_sym_budget", f"time budget in seconds per derivation step (default {STEP_BUDGET_SECONDS:g})",
                  default=str(STEP_BUDGET_SECONDS))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "derivation: a derivation file checked by elbo-sym")
    _budget(config)  # a bad elbo_sym_budget is a usage error at startup, not a silent default


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".toml":
        return None
    config = parent.config
    if _matches(file_path, config) or _is_explicit_derivation(file_path, config):
        return DerivationFile.from_parent(parent, path=file_path)
    return None


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


def _matches(file_path: Path, config: pytest.Config) -> bool:
    patterns = config.getini("elbo_sym_files") or []
    bases = {config.rootpath, config.invocation_params.dir}
    for base in bases:
        try:
            relative = file_path.relative_to(base).as_posix()
        except ValueError:
            continue
        if any(matches_pattern(relative, pattern) for pattern in patterns if not os.path.isabs(pattern)):
            return True
    return any(matches_pattern(file_path.as_posix(), pattern) for pattern in patterns if os.path.isabs(pattern))


def _explicit_files(config: pytest.Config) -> frozenset:
    if _EXPLICIT not in config.stash:
        found = set()
        for arg in config.args:
            path = Path(str(arg).split("::")[0])
            if not path.is_absolute():
                path = config.invocation_params.dir / path
            if path.suffix == ".toml" and path.is_file():
                found.add(path.resolve())
        config.stash[_EXPLICIT] = frozenset(found)
    return config.stash[_EXPLICIT]


def _is_explicit_derivation(file_path: Path, config: pytest.Config) -> bool:
    """A .toml named on the command line is collected unless it is clearly not a derivation."""
    if file_path.resolve() not in _explicit_files(config):
        return False
    if file_path.name == "pyproject.toml":
        return False
    try:
        data = tomllib.loads(read_regular_file(file_path).decode("utf-8-sig"))
    except (FileReadError, ValueError, RecursionError, MemoryError):  # ValueError: bad UTF-8, bad TOML
        return True  # asked for by name: collect it, and the collector reports why it does not load
    return "step" in data or "start" in data


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


# ---------------------------------------------------------------------------- nodes


class DerivationFile(pytest.File):
    def collect(self):
        from elbo_sym.engine.derivation import DerivationError, loads

        shown = _display_path(self.path, self.config)
        try:
            derivation = loads(read_regular_file(self.path), shown)
        except DerivationError as error:
            message = str(error)
            if error.pointer():
                message += "\n" + error.pointer()
            raise self.CollectError(message) from None
        except FileReadError as error:
            raise self.CollectError(f"{shown}: {error.reason}") from None
        name = f"{self.path.stem}: {derivation.title}".replace("::", ": ").replace("\n", " ")
        yield DerivationItem.from_parent(self, name=name, derivation=derivation)


class DerivationItem(pytest.Item):
    def __init__(self, *, derivation, **kwargs):
        super().__init__(**kwargs)
        self.derivation = derivation
        self.result = None
        self.add_marker(pytest.mark.derivation)

    def runtest(self) -> None:
        self.result = assert_derivation(self.derivation, budget=_budget(self.config))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, DerivationFailed):
            return format_failure(excinfo.value.report)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.derivation.start.line - 1, self.name


# ---------------------------------------------------------------------------- fixture


@pytest.fixture
def elbo_check(request: pytest.FixtureRequest):
    """`elbo_check(path)`: check a derivation (relative paths also from the rootdir); fail readably.

    Returns the DerivationResult when it holds; raises AssertionError with the report otherwise.
    """
    root = request.config.rootpath

    def check(path, budget: float | None = None):
        candidate = Path(path) if not hasattr(path, "steps") else path
        if isinstance(candidate, Path) and not candidate.is_absolute() and not candidate.exists():
            candidate = root / candidate
        return assert_derivation(candidate, budget=_budget(request.config) if budget is None else budget)

    return check


__all__ = ["assert_derivation", "elbo_check", "DerivationFile", "DerivationItem", "matches_pattern"]

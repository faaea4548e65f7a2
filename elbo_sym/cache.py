"""A result cache for `elbo-sym check`, so the edit-check loop only re-checks what changed.

A report is stored under a key that hashes everything the report depends on:

* the file's bytes and the path as given (the report prints the path);
* elbo-sym's version and the source of *every* module of the package (any engine edit
  invalidates every entry);
* SymPy's and mpmath's versions, and the Python version;
* the options that change a report (the per-step time budget).

Only reports that cannot depend on timing are stored: derivations that hold (every step
proved or checked, examples hold, claim established).  A failing derivation involves time
budgets (the repair search, a step that ran out of time) and is always re-checked.
Entries are JSON (never pickle), written atomically, and verified against their key when
read; an unreadable or corrupt entry is a miss.  When every file hits, SymPy is not even
imported.

Location: $ELBO_SYM_CACHE_DIR, else $XDG_CACHE_HOME/elbo-sym, else ./.elbo-sym-cache.
`elbo-sym check --no-cache` (or the environment variable ELBO_SYM_NO_CACHE=1, e.g. for a
test suite that patches the engine in-process) neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from elbo_sym.files import discover

FORMAT = 1
"""Bumped when the entry layout changes."""
MAX_ENTRIES = 512
"""Oldest entries beyond this many are removed when a new one is written."""


def disabled_by_environment() -> bool:
    return os.environ.get("ELBO_SYM_NO_CACHE", "").strip() not in ("", "0")


def cache_dir() -> Path:
    explicit = os.environ.get("ELBO_SYM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "elbo-sym"
    return Path(".elbo-sym-cache")


_ENGINE: str | None = None


def engine_fingerprint() -> str:
    """A hash of elbo-sym's version and sources, and of the SymPy, mpmath and Python versions."""
    global _ENGINE
    if _ENGINE is None:
        import elbo_sym

        _ENGINE = fingerprint(Path(elbo_sym.__file__).parent, elbo_sym.__version__)
    return _ENGINE


def fingerprint(package: Path, version: str) -> str:
    """Hash of every *.py under `package` (names and bytes), `version`, and the dependencies' versions."""
    import importlib.util

    digest = hashlib.sha256()
    digest.update(f"format {FORMAT}\nelbo-sym {version}\npython {sys.version}\n".encode())
    for source in sorted(package.rglob("*.py")):
        digest.update(b"\0" + source.relative_to(package).as_posix().encode() + b"\0")
        digest.update(source.read_bytes())
    for name, version_file in (("sympy", "release.py"), ("mpmath", "__init__.py")):
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).parent / version_file if spec and spec.origin else None
        digest.update(f"\0{name}\0".encode())
        digest.update(origin.read_bytes() if origin and origin.is_file() else b"missing")
    return digest.hexdigest()


def entry_key(path: str, content: bytes, budget: float) -> str:
    digest = hashlib.sha256()
    for part in (engine_fingerprint().encode(), path.encode("utf-8", "surrogateescape"),
                 repr(float(budget)).encode(), content):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Verdict:
    value: str


@dataclass(frozen=True)
class _StepVerdict:
    verdict: _Verdict


@dataclass(frozen=True)
class Report:
    """One derivation's check as the CLI prints it: fresh, or read back from the cache."""

    path: str
    text: str
    data: dict
    verdicts: tuple[str, ...]
    established: bool
    ok: bool
    cached: bool = False

    @property
    def steps(self) -> tuple[_StepVerdict, ...]:
        """Per-step verdicts, shaped like DerivationResult.steps for `format_summary`."""
        return tuple(_StepVerdict(_Verdict(v)) for v in self.verdicts)

    def as_dict(self) -> dict:
        return self.data

    @classmethod
    def from_result(cls, result, text: str) -> "Report":
        return cls(result.derivation.path, text, result.as_dict(),
                   tuple(r.verdict.value for r in result.steps), result.established, result.ok)


class Cache:
    def __init__(self, directory: Path | None = None):
        self.directory = directory if directory is not None else cache_dir()

    def get(self, key: str) -> Report | None:
        try:
            entry = json.loads((self.directory / f"{key}.json").read_text("utf-8"))
            if entry.get("key") != key or entry.get("format") != FORMAT:
                return None
            return Report(entry["path"], entry["text"], entry["data"], tuple(entry["verdicts"]),
                          bool(entry["established"]), bool(entry["ok"]), cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, report: Report) -> None:
        if not report.ok:
            return
        entry = {"format": FORMAT, "key": key, "path": report.path, "text": report.text, "data": report.data,
                 "verdicts": list(report.verdicts), "established": report.established, "ok": report.ok}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / f"{key}.json"
            temporary = self.directory / f".{key}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps(entry, ensure_ascii=False), "utf-8")
            os.replace(temporary, target)
            self._prune()
        except OSError:
            pass  # a cache that cannot be written is only a slower check

    def _prune(self) -> None:
        entries = list(self.directory.glob("*.json"))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for old in entries[: len(entries) - MAX_ENTRIES]:
            try:
                old.unlink()
            except OSError:
                pass


def check_paths(paths: list[str], budget: float, formatter, use_cache: bool = True):
    """Check every derivation named by `paths`; return (reports in file order, input errors).

    `formatter(result) -> str` renders a fresh DerivationResult (the CLI's format_result).
    Raises FileNotFoundError when `paths` name no derivation file at all.
    """
    files = discover(paths)
    if not files:
        raise FileNotFoundError(f"no derivation files found in {' '.join(paths)}")
    cache = Cache() if use_cache and not disabled_by_environment() else None
    reports: list[Report | None] = [None] * len(files)
    misses = []
    for i, path in enumerate(files):
        try:
            content = path.read_bytes()
        except OSError as error:
            misses.append((i, path, None, error))
            continue
        key = entry_key(str(path), content, budget) if cache is not None else None
        hit = cache.get(key) if key is not None else None
        if hit is not None:
            reports[i] = hit
        else:
            misses.append((i, path, key, content))
    errors = []
    if misses:
        from elbo_sym.derivation import DerivationError, loads
        from elbo_sym.repair import check_with_suggestions
        for i, path, key, content in misses:
            if isinstance(content, OSError):
                message = "no such file" if not path.exists() else f"cannot read file: {content.strerror}"
                errors.append(DerivationError(str(path), 0, message))
                continue
            try:
                derivation = loads(content, str(path))
            except DerivationError as error:
                errors.append(error)
                continue
            result = check_with_suggestions(derivation, budget=budget)
            reports[i] = Report.from_result(result, formatter(result))
            if key is not None:
                cache.put(key, reports[i])
    return [r for r in reports if r is not None], errors


__all__ = ["Cache", "Report", "check_paths", "cache_dir", "engine_fingerprint", "fingerprint", "entry_key", "discover"]

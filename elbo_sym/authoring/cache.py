"""A result cache for `elbo-sym check`, so the edit-check loop only re-checks what changed.

The cache may only save time, never change an outcome.  A report is stored under a key that
hashes everything the report depends on:

* the file's bytes and the path as given (the report prints the path);
* elbo-sym's version and the source of *every* module of the package (any engine edit
  invalidates every entry);
* the installed versions of every package whose result can change a report (SymPy, mpmath,
  SciPy -- the counterexample search minimises with it --, NumPy, python-flint -- its presence
  picks the second opinion's interval arithmetic, and so its text --, gmpy2: :data:`DEPENDENCIES`),
  and the Python version;
* the settings that change a report (:data:`OUTCOME_VARIABLES`: ELBO_SYM_INTERVALS,
  ELBO_SYM_RATIONALS, SYMPY_GROUND_TYPES) and the machine's architecture (:func:`settings`);
* the options that change a report (the per-step and per-file time budgets).

That key is computed from public inputs, so anyone who can write the cache folder could
plant an entry under it.  Every entry is therefore authenticated: it carries an
HMAC-SHA256 of its slot (the key) and its payload under a per-user random secret, the
file ``key`` in the user's cache folder (32 random bytes, created atomically with mode
0600; a key file that is not a regular file owned by the current user with mode 0600 and
one link disables the cache: nothing is read or written).  An entry that is not
authentic, malformed, of the wrong types or inconsistent (another path, another slot, a
report that does not read back whole, a report that did not pass) is a miss, never an
error.  What is stored is the report data itself (elbo_sym.report.model: JSON round trip),
so a hit renders exactly as a fresh check would.

The threat model: the signature keeps out entries written by other users and cache folders
that arrive from elsewhere (checked in, copied, unpacked).  It does not keep out the user's own
processes: whatever runs as the user can read the key and sign an entry, as it could edit
elbo-sym's sources; `--no-cache` (CI) trusts nothing stored.

Only reports that cannot depend on timing are stored: derivations that pass (every step
proved or accepted, examples hold, claim established) and whose file took at most
limits.CACHED_PASS_BUDGET_SHARE of every budget bounding its work (:func:`far_from_every_budget`):
a pass that finished near a budget's end -- or only because memos a neighbouring file warmed made
it cheaper -- is not one a fresh run must give (red team rt17).  A failing derivation involves
time budgets (the repair search, a step that ran out of time) and is always re-checked.
Entries are JSON (never pickle) and written atomically.  When every file hits, SymPy is
not even imported.

Location (never the working tree, which a pull request can write): $ELBO_SYM_CACHE_DIR,
else $XDG_CACHE_HOME/elbo-sym, else ~/.cache/elbo-sym.  A folder inside a git work tree (a
checkout: some folder above it holds ``.git``) is refused whatever the variables say -- key
files and entries there may have come with a commit --: the run checks everything, with a
warning (:func:`inside_work_tree`).  `elbo-sym check --no-cache` (or the
environment variable ELBO_SYM_NO_CACHE=1, e.g. in CI or for a test suite that patches the
engine in-process) neither reads nor writes it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

from elbo_sym.files import (
    DEFAULT_FOLDER,
    PROJECT_FILE,
    WHOLE_FILE,
    FileReadError,
    InputError,
    deck_note,
    discover,
    folder_notes,
    read_regular_file,
)
from elbo_sym.limits import (
    CACHED_PASS_BUDGET_SHARE,
    GC_YOUNG_OBJECTS,
    MAX_FILE_BYTES,
    MAX_JOBS,
    REFERENCE_BUDGET_SECONDS,
    STEP_BUDGET_SECONDS,
    SYMPY_CACHE_ENTRIES,
    BudgetError,
    file_budget,
    loading_budget,
    parse_integer,
    validate_budget,
)
from elbo_sym.report.summary import VERDICTS, only_checked, summary_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name alike)
if TYPE_CHECKING:  # imported where used: a warm check (answer_from_cache) never loads the report model
    from collections.abc import Sequence

    from elbo_sym.report.model import DerivationReport, InputErrorReport

FORMAT = 6
"""Bumped when the entry layout changes (2: authenticated entries; 4: the rendered text and the
totals stored beside the report, for answer_from_cache; 5: the warnings' stderr lines too; 6: the
report's formula breaks, DerivationReport.breaks)."""
MAX_ENTRIES = 512
"""Oldest entries beyond this many are removed when a new one is written."""
MAX_ENTRY_BYTES = 4_000_000
"""A larger entry is never written, and a larger file is a miss without being read."""
KEY_FILE = "key"
KEY_BYTES = 32
_MAC_CONTEXT = b"elbo-sym result cache, format 2\0"
ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json", re.ASCII)
"""The names of the entries the cache writes (a SHA-256 in hex); nothing else is ever removed."""


DEPENDENCIES = ("sympy", "mpmath", "scipy", "numpy", "python-flint", "gmpy2")
"""The packages whose results can change a report: their versions ("missing" when not installed)
are part of every key.  python-flint's presence picks the second opinion's interval backend (arb,
else mpmath: its text differs); gmpy2's its exact numbers (mpq, else Fraction: the same values).
Each is a dependency of elbo-sym: its metadata is read without
importlib.metadata (a warm check must not import it)."""

OUTCOME_VARIABLES = ("ELBO_SYM_INTERVALS", "ELBO_SYM_RATIONALS", "SYMPY_GROUND_TYPES")
"""The environment variables that can change a report: the second opinion's interval backend
(elbo_sym.engine.reference.intervals.BACKEND_VARIABLE), its exact numbers' type
(elbo_sym.engine.reference.rationals.RATIONALS_VARIABLE: the same values by design, and a bad name must
reach the engine to be refused) and SymPy's integers.  Their values (unset
included) are part of every key: a report checked under one is never served under another."""


def disabled_by_environment() -> bool:
    return os.environ.get("ELBO_SYM_NO_CACHE", "").strip() not in ("", "0")


def cache_dir() -> Path | None:
    """The user's cache folder for elbo-sym (None when there is no home to put it in)."""
    explicit = os.environ.get("ELBO_SYM_CACHE_DIR")
    if explicit:
        return Path(os.path.abspath(explicit))  # relative: to the folder it was given in, fixed now
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        return Path(xdg) / "elbo-sym"
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):
        return None
    return home / ".cache" / "elbo-sym"


def inside_work_tree(directory: Path) -> Path | None:
    """The git work tree `directory` lies in (the folder holding ``.git``, a folder or a
    worktree's file), None when it is in none.  Symbolic links are resolved first."""
    here = Path(os.path.realpath(directory))
    for folder in (here, *here.parents):
        if os.path.lexists(folder / ".git"):
            return folder
    return None


_ENGINE: str | None = None


def engine_fingerprint() -> str:
    """A hash of elbo-sym's version and sources, and of Python's and the DEPENDENCIES' versions."""
    global _ENGINE
    if _ENGINE is None:
        import elbo_sym

        _ENGINE = fingerprint(Path(elbo_sym.__file__).parent, elbo_sym.__version__)
    return _ENGINE


def installed_version(name: str) -> str:
    """The installed distribution's version ("missing" when none), read from its metadata
    without importing the package (a cache hit must not pay for importing SymPy or SciPy).

    The common case (a plain ``*.dist-info`` folder on sys.path) is read directly, which is
    what importlib.metadata would find; anything else is left to importlib.metadata, whose
    import alone costs a warm check a fifth of its time."""
    version = _dist_info_version(name)
    if version is not None:
        return version
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def _dist_info_version(name: str) -> str | None:
    """`name`'s version as importlib.metadata.version reports it, when that is certain without
    it: the first sys.path folder holding metadata for `name` holds exactly one
    ``<name>-<version>.dist-info`` folder (no egg-info) whose METADATA has one Version field.
    None (ask importlib.metadata) in every other case: a zip on sys.path, egg metadata, two
    candidates, no metadata found, an unreadable file."""
    wanted = re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")  # importlib.metadata's normalisation
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):
                return None  # a zip (or anything else importlib.metadata might read)
            continue
        matches = [child for child in children if child.lower().endswith((".dist-info", ".egg-info"))
                   and re.sub(r"[-_.]+", "-", child.lower().rpartition(".")[0].partition("-")[0]).replace("-", "_")
                   == wanted]
        if os.path.basename(root).lower().endswith(".egg"):
            return None
        if not matches:
            continue
        if len(matches) != 1 or not matches[0].lower().endswith(".dist-info"):
            return None
        try:
            text = read_regular_file(Path(root, matches[0], "METADATA"), MAX_ENTRY_BYTES).decode("utf-8")
        except (FileReadError, OSError, UnicodeError):
            return None
        header = text.replace("\r\n", "\n").split("\n\n", 1)[0]
        versions = [line[len("Version:"):].strip() for line in header.split("\n") if line.startswith("Version:")]
        return versions[0] if len(versions) == 1 and versions[0] else None
    return None


def _python_sources(package: Path) -> list[tuple[str, ...]]:
    """The relative path parts of every *.py under `package`, in the order of
    ``sorted(package.rglob("*.py"))`` (paths compare part by part), found with os.walk: the
    same list as rglob's, which costs a warm check several times more on its first call."""
    found: list[tuple[str, ...]] = []
    for root, _folders, files in os.walk(package):
        relative = Path(root).relative_to(package).parts
        found += [(*relative, name) for name in files if name.endswith(".py")]
    return sorted(found)


def fingerprint(package: Path, version: str) -> str:
    """Hash of every *.py under `package` (names and bytes), `version`, and the DEPENDENCIES' versions."""
    import hashlib  # here, like hmac: `check --no-cache` hashes nothing (OpenSSL's module costs ~3 ms to load)

    digest = hashlib.sha256()
    digest.update(f"format {FORMAT}\nelbo-sym {version}\npython {sys.version}\n".encode())
    for parts in _python_sources(package):
        digest.update(b"\0" + "/".join(parts).encode() + b"\0")
        digest.update(package.joinpath(*parts).read_bytes())
    for name in DEPENDENCIES:
        digest.update(f"\0{name}\0{installed_version(name)}".encode())
    return digest.hexdigest()


def settings() -> bytes:
    """What this process's settings add to a key: the OUTCOME_VARIABLES' values and the machine's
    architecture (floating point and the libraries' builds), read at every check -- they are not
    sources, so engine_fingerprint's once-per-process hash does not hold them."""
    machine = os.uname().machine if hasattr(os, "uname") else sys.platform
    values = [f"{name}={os.environ.get(name)!r}" for name in OUTCOME_VARIABLES]
    return "\0".join([*values, f"machine={machine}"]).encode("utf-8", "surrogateescape")


def far_from_every_budget(cpu_seconds: float, steps: int, budget: float, total: float | None) -> bool:
    """Whether a check that took `cpu_seconds` stayed within CACHED_PASS_BUDGET_SHARE of every
    budget bounding its work (the step budget `budget`, the file budget `total` or its default,
    the second opinion's), so that its pass may be stored (see limits.CACHED_PASS_BUDGET_SHARE).
    The whole file's time bounds each step's, the claim's and each second opinion's."""
    whole = total if total is not None else file_budget(steps, budget)
    return cpu_seconds <= CACHED_PASS_BUDGET_SHARE * min(budget, whole, REFERENCE_BUDGET_SECONDS)


def entry_key(path: str, content: bytes, budget: float, total: float | None = None) -> str:
    """The public name of a report's slot: every input the report depends on, hashed."""
    import hashlib

    digest = hashlib.sha256()
    for part in (engine_fingerprint().encode(), settings(), path.encode("utf-8", "surrogateescape"),
                 repr(float(budget)).encode(), repr(None if total is None else float(total)).encode(), content):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _usable_key(fd: int) -> bool:
    """A key file we may trust: a regular file, ours, mode 0600, one link, KEY_BYTES long."""
    info = os.fstat(fd)
    return (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o600
            and info.st_nlink == 1 and info.st_size == KEY_BYTES)


def _read_key(path: Path) -> bytes | None:
    """The secret in `path`, None when it is missing; raise _Untrusted when it must not be used."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError:
        raise _Untrusted from None  # a symlink (ELOOP), a folder, unreadable ...
    try:
        if not _usable_key(fd):
            raise _Untrusted
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise _Untrusted
    return key


class _Untrusted(Exception):
    """The key file exists but must not be used: the cache is off for this run."""


def _create_key(directory: Path) -> bytes | None:
    """Write a fresh secret atomically (temp file with 0600, then link: never overwrites)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = os.urandom(KEY_BYTES)
    temporary = directory / f".{KEY_FILE}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, directory / KEY_FILE)
        except FileExistsError:  # another process won the race: use its key
            pass
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(directory / KEY_FILE)


def _mac(secret: bytes, key: str, payload: bytes) -> str:
    import hashlib
    import hmac

    message = _MAC_CONTEXT + key.encode("ascii") + b"\0" + payload
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _consistent_payload(payload: object, key: str, path: str) -> dict | None:
    """An authentic payload that agrees with its key and path and holds a report, the text it
    prints as and its totals (as :meth:`Cache.put` writes them); None otherwise."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("key") != key:
        return None
    if payload.get("path") != path or not isinstance(payload.get("report"), dict):
        return None
    if payload["report"].get("file") != path or not isinstance(payload.get("text"), str):
        return None
    if not isinstance(payload.get("warnings"), str):
        return None
    if type(payload.get("plain")) is not bool:
        return None
    tally = payload.get("tally")
    if not isinstance(tally, dict) or set(tally) != {*VERDICTS, "established"}:
        return None
    if not all(type(tally[v]) is int and tally[v] >= 0 for v in VERDICTS) or type(tally["established"]) is not bool:
        return None
    return payload


def _tally(report: DerivationReport) -> dict:
    """The report's share of the summary line: steps per verdict, whether its claim is established."""
    counts = {v: 0 for v in VERDICTS}
    for step in report.steps:
        counts[step.verdict] += 1
    return {**counts, "established": bool(report.established)}


def _report_from_payload(payload: dict, key: str, path: str) -> DerivationReport | None:
    """The report in an authentic payload, if it reads back whole and agrees with its key."""
    from elbo_sym.report.model import DerivationReport

    if _consistent_payload(payload, key, path) is None:
        return None
    report = DerivationReport.from_dict(payload["report"])
    if report.file != path or not report.ok:  # only reports that passed are ever stored
        return None
    return report


class Cache:
    """Authenticated result cache (see the module docstring); every failure is a miss."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory if directory is not None else cache_dir()
        self._secret: bytes | None = None
        self.warning: str | None = None
        """Why the cache is off for this run although it was asked for (None: it is not off)."""
        tree = inside_work_tree(self.directory) if self.directory is not None else None
        if tree is not None:
            self.warning = (f"the cache folder {self.directory} is inside the git work tree {tree}: a checkout "
                            f"can carry a key and entries, so the cache is off for this run (set "
                            f"ELBO_SYM_CACHE_DIR to a folder outside any repository)")
        self._usable = self.directory is not None and tree is None

    def _key(self, create: bool) -> bytes | None:
        directory = self.directory
        if not self._usable or directory is None:
            return None
        if self._secret is None:
            try:
                self._secret = _read_key(directory / KEY_FILE)
                if self._secret is None and create:
                    self._secret = _create_key(directory)
            except (_Untrusted, OSError):
                self._usable = False  # not our key, or no way to make one: no cache this run
                return None
        return self._secret

    def payload(self, key: str, path: str) -> dict | None:
        """The authentic, consistent payload stored under `key` for `path` (see
        _consistent_payload); None on any failure: a miss."""
        import hmac

        try:
            secret, directory = self._key(create=False), self.directory
            if secret is None or directory is None:  # a secret implies a folder
                return None
            entry = json.loads(read_regular_file(directory / f"{key}.json", MAX_ENTRY_BYTES))
            if not isinstance(entry, dict) or entry.get("format") != FORMAT:
                return None
            payload, mac = entry.get("payload"), entry.get("mac")
            if not isinstance(payload, str) or not isinstance(mac, str):
                return None
            raw = payload.encode("utf-8", "surrogatepass")
            if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, key, raw).encode("ascii")):
                return None
            return _consistent_payload(json.loads(payload), key, path)
        except (FileReadError, OSError, ValueError, TypeError, KeyError, RecursionError, MemoryError,
                UnicodeError):
            return None

    def get(self, key: str, path: str) -> DerivationReport | None:
        payload = self.payload(key, path)
        if payload is None:
            return None
        try:
            return _report_from_payload(payload, key, path)
        except (ValueError, TypeError, KeyError, RecursionError, MemoryError, UnicodeError):
            return None

    def put(self, key: str, report: DerivationReport) -> None:
        if not report.ok:
            return
        try:
            secret, directory = self._key(create=True), self.directory
            if secret is None or directory is None:  # a secret implies a folder
                return
            from elbo_sym.prose import terminal_safe
            from elbo_sym.report.text import derivation_text, warnings_text

            data, text, warned = report.to_dict(), derivation_text(report), warnings_text(report)
            shown = json.dumps(data, ensure_ascii=False)
            plain = all(terminal_safe(t) == t for t in (text, shown, warned))  # printed as it is
            payload = json.dumps({"format": FORMAT, "key": key, "path": report.file, "report": data,
                                  "text": text, "warnings": warned, "tally": _tally(report), "plain": plain},
                                 ensure_ascii=False)
            if _report_from_payload(json.loads(payload), key, report.file) != report:
                return  # would not be read back as the same report: do not store it
            entry = json.dumps({"format": FORMAT, "mac": _mac(secret, key, payload.encode("utf-8", "surrogatepass")),
                                "payload": payload}).encode("ascii")
            if len(entry) > MAX_ENTRY_BYTES:
                return
            target = directory / f"{key}.json"
            temporary = directory / f".{key[:16]}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(entry)
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            self._prune(directory)
        except (OSError, ValueError, TypeError):
            pass  # a cache that cannot be written is only a slower check

    def _prune(self, directory: Path) -> None:
        """Remove the oldest entries beyond MAX_ENTRIES from `directory` (the cache's): only
        regular files named like an entry (ENTRY_NAME), never anything else a shared or
        mistaken cache folder holds."""
        entries: list[tuple[float, str]] = []
        with os.scandir(directory) as listing:
            for item in listing:
                if not ENTRY_NAME.fullmatch(item.name):
                    continue
                try:
                    info = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    entries.append((info.st_mtime, item.name))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort()
        for _, name in entries[: len(entries) - MAX_ENTRIES]:
            try:
                os.unlink(directory / name)
            except OSError:
                pass


_FINAL_COLLECTION_SKIPPED = False


def skip_final_collection() -> None:
    """Leave the objects alive at interpreter exit out of the garbage collector's last passes
    (an atexit hook calls gc.freeze; registered once per process).

    After SymPy and a check, those passes walk every object the process holds once more:
    a sixth of a short `elbo-sym check --no-cache`.  Only the process's teardown changes:
    atexit hooks, the flushing of stdout and stderr and the exit status are as before;
    objects still alive at exit are left to the operating system (Python never promised
    to finalise them, see object.__del__), and every file the check writes (the cache's
    entries) is closed before it returns."""
    global _FINAL_COLLECTION_SKIPPED
    if not _FINAL_COLLECTION_SKIPPED:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _FINAL_COLLECTION_SKIPPED = True


ENGINE_MODULES = ("elbo_sym.engine.derivation", "elbo_sym.report.build", "elbo_sym.report.model",
                  "elbo_sym.report.parallel")
"""What a check that misses the cache imports first (SymPy with them)."""
BEFORE_THE_FORK = ("sympy.tensor.tensor", "elbo_sym.engine.reference", "elbo_sym.engine.reference.discrete")
"""What every worker would import on its own: SymPy imports sympy.tensor (and builds the groups of
sympy.combinatorics) at its first sum, the engine the second opinion at its first proved step."""


def _import_sympy_with_a_larger_cache() -> None:
    """Import SymPy with SYMPY_CACHE_ENTRIES entries per cached function (SymPy reads the size once,
    from its environment variable, when it is first imported); the variable is not left behind for
    child processes.  Nothing is done when SymPy is imported already or the user set the size.
    SymPy's cache holds pure functions of their arguments, so only the time changes
    (bench/outcome_diff.py: every record identical)."""
    if "sympy" in sys.modules or "SYMPY_CACHE_SIZE" in os.environ:
        return
    os.environ["SYMPY_CACHE_SIZE"] = str(SYMPY_CACHE_ENTRIES)
    try:
        import sympy.core.cache  # noqa: F401 - imports SymPy, which reads the size
    finally:
        del os.environ["SYMPY_CACHE_SIZE"]


def import_quietly(modules: Sequence[str]) -> None:
    """Import `modules` with the cyclic garbage collector paused, then freeze what the imports built
    (gc.freeze: later collections skip those objects; forked workers share their pages).

    Importing SymPy makes almost no cyclic garbage, yet the collector walked the growing heap
    again and again while it loaded: about 3 % of a cold lesson check's instructions.  Modules
    imported already (a test process, a second call) are left alone, and nothing is frozen then:
    freezing is for a process's one import of the engine.  Only the collector's timing changes
    (what is alive, and every result, is as before); the collector is on again afterwards if it
    was on before.  Its youngest generation is then collected every GC_YOUNG_OBJECTS new containers
    instead of Python's 700: checking the tree made SymPy's heap walked in three full and about 40
    middle collections, about 4 % of its CPU (0.18 s; 0.06 s in four young collections now)."""
    import gc
    from importlib import import_module

    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        _import_sympy_with_a_larger_cache()
        for name in missing:
            import_module(name)
    finally:
        gc.freeze()
        gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
        if enabled:
            gc.enable()


def import_engine() -> None:
    """The engine imported as every command that checks imports it -- `check` when the cache misses,
    `explain`, `build`, `web`, `cards` and the others (elbo_sym.cli), the pytest plugin and the Python
    API (elbo_sym.authoring.testing) --, so each gets SymPy's cache and the collector's thresholds
    of :func:`import_quietly` (when nothing imported SymPy before)."""
    import_quietly(ENGINE_MODULES)


_MODEL_LINE = re.compile(rb"^(?:model|K|data|params|latents|D|data_space)[ \t]*=.*$", re.MULTILINE)
"""A top-level line of a derivation file that chooses its model (elbo_sym.engine.derivation's spec)."""


def model_of(data: bytes) -> tuple[bytes, ...]:
    """The lines before a derivation file's first table that choose its model: files alike in
    them share the engine's per-model memos, so one worker checks them (report.parallel's groups).
    Only the order of the work depends on it, never a result."""
    return tuple(sorted(_MODEL_LINE.findall(data.split(b"\n[", 1)[0])))


def check_paths(paths: list[str], budget: float, use_cache: bool = True, total: float | None = None,
                jobs: int | None = None) -> tuple[list[DerivationReport], list[InputErrorReport]]:
    """Check every derivation named by `paths`: (reports in file order, input errors).

    The files the cache does not answer are checked in `jobs` worker processes (None: one per
    core, at most one per limits.FILES_PER_WORKER files; 1: in this process),
    elbo_sym.report.parallel: the same reports in the same order.
    `budget` bounds each step, `total` each file (None: the default, steps x budget, capped);
    both must be finite and > 0 (else BudgetError).  A cached report is the same data a
    fresh check would give (the report's JSON round trip); SymPy is not imported when
    every file hits.  Raises InputError (bad input) when `paths` name no derivation file at all.
    """
    budget = validate_budget(budget)
    total = validate_budget(total, "file budget") if total is not None else None
    decks: list[Path] = []
    files = discover(paths, decks)
    for deck in decks:  # a course folder's cards.toml: said, never read as a derivation (rt32)
        print(f"elbo-sym: {deck_note(deck)}", file=sys.stderr)
    for note in folder_notes(paths):  # `check FOLDER` reads no subfolder: said (rt36 M4)
        print(f"elbo-sym: {note}", file=sys.stderr)
    if not files:
        raise InputError(f"no derivation files found in {' '.join(paths)}")
    cache = Cache() if use_cache and not disabled_by_environment() else None
    if cache is not None and cache.warning is not None:
        print(f"elbo-sym: warning: {cache.warning}", file=sys.stderr)
    reports: list[DerivationReport | None] = [None] * len(files)
    misses: list[tuple[int, Path, str | None, bytes | FileReadError]] = []
    for i, path in enumerate(files):
        try:  # within the file's budget for reading (report.build.load_in_time reads the same way)
            content = read_regular_file(path, MAX_FILE_BYTES, loading_budget(budget, total))
        except FileReadError as error:
            misses.append((i, path, None, error))
            continue
        key = entry_key(str(path), content, budget, total) if cache is not None else None
        hit = cache.get(key, str(path)) if cache is not None and key is not None else None
        if hit is not None:
            reports[i] = hit
        else:
            misses.append((i, path, key, content))
    found: list[tuple[int, InputErrorReport]] = []  # (file number, error): reported in file order
    if misses:
        import_engine()
        from elbo_sym.budget import clock
        from elbo_sym.engine.derivation import DerivationError
        from elbo_sym.engine.reference.intervals import chosen
        from elbo_sym.report.build import FilePatience, check_file, check_patience, load_in_time
        from elbo_sym.report.model import InputErrorReport
        from elbo_sym.report.parallel import WorkerLost, default_jobs, map_in_workers

        skip_final_collection()
        chosen()  # a bad ELBO_SYM_INTERVALS: one input error (BackendUnavailable), not a failure per step
        readable = []
        for i, path, key, data in misses:
            if isinstance(data, FileReadError):
                line, prefix = (1, "") if data.too_large else (WHOLE_FILE, "cannot read file: ")
                found.append((i, InputErrorReport(data.path, line, prefix + data.reason)))  # the name as shown
                continue
            readable.append((i, path, key, data))

        patience = FilePatience.for_files(len(readable), budget, total)

        def load_and_check(n: int) -> tuple[DerivationReport | InputErrorReport, float]:
            """One file loaded and checked (in a worker: the workers share the parsing too), and the
            CPU seconds that took."""
            _, path, _, data = readable[n]
            started, cpu_started = time.monotonic(), clock()
            try:
                loaded = load_in_time(path, budget, total, raw=data)
            except DerivationError as error:
                return InputErrorReport.from_error(error), clock() - cpu_started
            patience.read(n, time.monotonic() - started, check_patience(loaded, budget, total))
            # reading and checking share the file budget
            return check_file(loaded, budget, total), clock() - cpu_started

        workers = default_jobs(len(readable)) if jobs is None else jobs
        if workers > 1 and len(readable) > 1:  # imported once here, not once in every worker
            import_quietly(BEFORE_THE_FORK)
        checked = map_in_workers(load_and_check, len(readable), workers, weight=lambda n: len(readable[n][3]),
                                 patience=patience, group=lambda n: model_of(readable[n][3]))
        for (i, path, key, _), result in zip(readable, checked):
            if isinstance(result, WorkerLost):
                found.append((i, InputErrorReport(str(path), WHOLE_FILE, result.message)))
                continue
            report, cpu_seconds = result
            if isinstance(report, InputErrorReport):
                found.append((i, report))
                continue
            reports[i] = report
            if cache is not None and key is not None and far_from_every_budget(cpu_seconds, len(report.steps),
                                                                               budget, total):
                cache.put(key, report)
    errors = [error for _, error in sorted(found, key=lambda pair: pair[0])]
    return [r for r in reports if r is not None], errors


_COMPLETION_VARIABLE = "_ELBO_SYM_COMPLETE"
"""Set by a shell asking click to complete the command line: never answered here."""


def plain_check_line(argv: list[str]) -> tuple[list[str], bool, float, float | None, bool, int | None] | None:
    """(paths, --json, budget, file budget, --no-cache, jobs) of a `check` command line that uses
    only plain paths, `--json`, `--no-cache`, `--budget S`, `--file-budget S` and `--jobs N`
    (also `--option=S`), each value given at most once and valid, as click reads them; None for
    anything else (left to the full command line, elbo_sym.cli, and its messages)."""
    if not argv or argv[0] != "check" or _COMPLETION_VARIABLE in os.environ:
        return None
    paths: list[str] = []
    as_json = no_cache = False
    budgets: dict[str, str] = {}
    words = iter(argv[1:])
    for word in words:
        if word == "--json":
            as_json = True
        elif word == "--no-cache":
            no_cache = True
        elif word.startswith(("--budget", "--file-budget", "--jobs")):
            name, equals, value = word.partition("=")
            if name not in ("--budget", "--file-budget", "--jobs") or name in budgets:
                return None
            if not equals:
                following = next(words, None)
                if following is None or following.startswith("-"):
                    return None  # click's own message for a missing value
                value = following
            budgets[name] = value
        elif word and not word.startswith("-") and "\0" not in word:
            paths.append(word)
        else:
            return None
    try:
        jobs = parse_integer(budgets["--jobs"], 1, MAX_JOBS) if "--jobs" in budgets else None
        budget = validate_budget(budgets.get("--budget", STEP_BUDGET_SECONDS), "--budget")
        given = budgets.get("--file-budget")
        total = None if given is None else validate_budget(given, "--file-budget")
    except (BudgetError, ValueError):
        return None
    return paths, as_json, budget, total, no_cache, jobs


def answer_from_cache(argv: list[str]) -> tuple[str, str, int] | None:
    """What `elbo-sym check ARGS` prints on stdout and on stderr (the notes on subfolders not read,
    files.folder_notes, then the files' warnings), and its exit status, when the cache can answer it
    whole: a plain command line (plain_check_line) without --no-cache, every file named hits, no
    folder skips a deck.  None in every other case -- the full command line then runs (and re-reads
    the cache).

    The answer is the text, the warnings' lines and the totals stored with each entry (Cache.put
    wrote them from the report), so neither click, the report model nor SymPy is imported: the
    same bytes as the full `check` prints for the same hits, on both streams
    (tests/test_cache_fast_path.py).  Only entries whose text, warnings and JSON hold no
    character the terminal filter (elbo_sym.prose.terminal_safe) would escape are used
    ("plain"), so the answer is printed as it is."""
    parsed = plain_check_line(argv)
    if parsed is None or parsed[4] or disabled_by_environment():
        return None
    paths, as_json, budget, total = parsed[:4]
    if not paths:
        if os.path.lexists(PROJECT_FILE) or not os.path.isdir(DEFAULT_FOLDER):
            return None  # a course folder (its project file names the files), or an input error
        paths = [DEFAULT_FOLDER]
    decks: list[Path] = []
    try:
        files = discover(paths, decks)
    except (OSError, ValueError):
        return None
    cache = Cache()
    if not files or decks or cache.warning is not None:  # a skipped deck is said by the full path
        return None
    payloads = []
    for path in files:
        try:
            content = read_regular_file(path, MAX_FILE_BYTES)
        except (FileReadError, OSError, ValueError):
            return None
        payload = cache.payload(entry_key(str(path), content, budget, total), str(path))
        if payload is None or not payload["plain"] or payload["report"].get("ok") is not True:
            return None  # (only passing reports are stored: an entry that says otherwise is not ours)
        payloads.append(payload)
    notes = "".join(f"elbo-sym: {note}\n" for note in folder_notes(paths))
    if not (notes.isascii() and notes.replace("\n", "").isprintable()):
        return None  # a folder's name the terminal filter would escape: the full path says it
    warned = notes + "".join(p["warnings"] for p in payloads)  # stderr, JSON or not, as the full command
    if as_json:
        return json.dumps([p["report"] for p in payloads], indent=2, ensure_ascii=False) + "\n", warned, 0
    counts = {v: sum(p["tally"][v] for p in payloads) for v in VERDICTS}
    established = sum(p["tally"]["established"] for p in payloads)
    checked_claims = sum(only_checked(p["tally"]["established"], p["tally"]["checked"]) for p in payloads)
    summary = summary_line(len(payloads), counts, established, len(payloads), checked_claims=checked_claims)
    return "".join(p["text"] + "\n" for p in payloads) + summary + "\n", warned, 0


__all__ = ["Cache", "DEPENDENCIES", "answer_from_cache", "check_paths", "plain_check_line", "cache_dir",
           "engine_fingerprint", "fingerprint", "entry_key", "discover", "inside_work_tree", "installed_version"]

"""Reading and finding user files: kept free of SymPy so a warm, cached check starts instantly.

Every file a user names is untrusted.  :func:`read_regular_file` is the one way elbo-sym
reads one: it never blocks on a FIFO (the file is opened non-blocking), refuses anything
that is not a regular file (a FIFO, a device such as a symlink to /dev/zero, a directory,
a socket) before reading a byte, and enforces the size limit *while* reading, so a huge or
endless file is never read into memory.  Problems raise :class:`FileReadError` with a plain
message ("no such file", "not a regular file (a FIFO)", ...).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from elbo_sym.limits import FILE_BUDGET_CAP_SECONDS, MAX_FILE_BYTES, MAX_FOLDER_DEPTH, MAX_SOURCE_DATE_EPOCH

__all__ = ["FileReadError", "InputError", "WHOLE_FILE", "location", "patience_text",
           "read_regular_file", "source_date_epoch", "discover", "toml_folders_below", "folder_notes",
           "looks_like_derivation",
           "MAX_NOTE_FOLDERS", "MAX_NOTE_WALK", "is_deck", "deck_note",
           "resolved_path", "describe_os_error",
           "DEFAULT_FOLDER", "PROJECT_FILE", "PROJECT_KEYS", "paths_or_default", "output_folder", "output_file",
           "not_an_input", "replace_file"]

_CHUNK = 65536
_clock = time.monotonic
"""Reading waits on the disk or the network, which CPU time does not count: its patience is wall time."""


class InputError(Exception):
    """A user-facing input problem (a bad option value, an unusable path, a file that does not
    load): the command line prints it as one line and exits 2.  The library's input errors
    (DerivationError, ExampleInputError, ...) derive from it, so there is one error path."""


WHOLE_FILE = 0
"""The line of an input error about a file as a whole (it cannot be read, its reading budget ran out,
its worker died): a file has no line 0, so :func:`location` shows none (red team rt35's F1)."""


def location(path: str, line: int, column: int | None = None) -> str:
    """Where an input error is, as editors and CI annotations read it: ``file:line:col`` (`column`
    0-based, as the errors keep it), ``file:line``, or ``file`` alone for :data:`WHOLE_FILE`."""
    if line == WHOLE_FILE:
        return path
    return f"{path}:{line}" + (f":{column + 1}" if column is not None else "")


class FileReadError(Exception):
    """A user file that cannot be read: `path` and a plain, one-line `reason`."""

    def __init__(self, path: str | os.PathLike[str], reason: str, *, too_large: bool = False):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason
        self.too_large = too_large


def patience_text(seconds: float) -> str:
    """How a reading that ran out of patience says so (the file's name comes with FileReadError)."""
    return (f"file budget of {seconds:g} seconds ran out while reading the file's bytes (they came in too "
            "slowly: a slow disk or network filesystem, or a file still being written)")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a file"


def _reason(error: OSError) -> str:
    fallback = f"cannot read file: {(error.strerror or str(error)).lower()}"
    if error.errno is None:
        return fallback
    return {
        errno.ENOENT: "no such file",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "no such file (a folder on the path is a file)",
        errno.ENAMETOOLONG: "file name too long",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EISDIR: "not a regular file (a directory)",
        errno.ENXIO: "not a regular file (no device behind it)",
    }.get(error.errno, fallback)


def describe_os_error(error: OSError) -> str:
    """An OSError as one line, 'PATH: reason' (the CLI's last line of defence)."""
    reason = error.strerror or str(error) or type(error).__name__
    reason = reason[:1].lower() + reason[1:]
    if error.filename is None:
        return reason
    shown = os.fsdecode(error.filename)
    if len(shown) > 120:
        shown = shown[:60] + "..." + shown[-40:]
    return f"{shown}: {reason}"


def control_character(text: str) -> str | None:
    """The first control or format character of `text` (a newline, a tab, U+200E...) as "U+000A", or None:
    a file name with one is refused when read, so that no output has to print it (docs/01)."""
    import unicodedata

    found = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf")), None)
    return None if found is None else f"U+{ord(found):04X}"


def shown_path(text: str) -> str:
    """`text` with each control or format character escaped as the terminal's are (``\\u000a``,
    ``\\u200e``; elbo_sym.prose.terminal_safe): one line, nothing a terminal acts on."""
    import unicodedata

    return "".join((f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
                   if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def read_regular_file(path: str | os.PathLike[str], limit: int | None = None, patience: float | None = None) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (None: MAX_FILE_BYTES, read at
    the call), within `patience` seconds of wall time (None: FILE_BUDGET_CAP_SECONDS), or FileReadError.

    Never blocks (O_NONBLOCK: a FIFO opens at once and is then refused), never opens a
    device (the path is stat'ed first, the open descriptor fstat'ed again), and reads at
    most limit + 1 bytes, so a file that grows while it is read is refused too.  A file that
    trickles in (a slow network filesystem, a writer adding a little at a time) is refused once
    `patience` has run out, between two reads: a derivation's reading is bounded by its file's budget.
    """
    if limit is None:
        limit = MAX_FILE_BYTES
    if patience is None:
        patience = FILE_BUDGET_CAP_SECONDS
    deadline = _clock() + patience
    if "\0" in os.fspath(path):
        raise FileReadError(os.fspath(path).replace("\0", "\\0"), "file name contains a NUL byte")
    control = control_character(os.fspath(path))
    if control is not None:  # a newline in a name left a TeX comment and was typeset (red team rt25)
        raise FileReadError(shown_path(os.fspath(path)), f"file name contains a control character ({control}); "
                                                         "rename the file")
    try:
        before = os.stat(path)
    except OSError as error:
        raise FileReadError(path, _reason(error)) from None
    if not stat.S_ISREG(before.st_mode):
        raise FileReadError(path, f"not a regular file ({_kind(before.st_mode)})")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise FileReadError(path, _reason(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced between stat and open
            raise FileReadError(path, f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise FileReadError(path, f"file is larger than the limit of {limit} bytes", too_large=True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except BlockingIOError:
                raise FileReadError(path, "not a regular file (reading would block)") from None
            except OSError as error:
                raise FileReadError(path, _reason(error)) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if _clock() > deadline:
                raise FileReadError(path, patience_text(patience))
        if total > limit:
            raise FileReadError(path, f"file is larger than the limit of {limit} bytes", too_large=True)
        return b"".join(chunks)
    finally:
        os.close(fd)


def discover(paths: Sequence[str | Path], skipped: list[Path] | None = None) -> list[Path]:
    """Derivation files named by the user: files as given, folders searched for *.toml.

    Everything named *.toml in a folder is returned, also a FIFO or a device: reading it
    (with :func:`read_regular_file`) then gives a one-line error for that file only -- except
    the project file (``derivations = ["."]``: it configures the course, it is no derivation)
    and the decks (:func:`is_deck`: ``check .`` in a course folder meets its cards.toml, red
    team rt32), each appended to `skipped` when given so the caller can say so.  A deck named
    as a file is returned (its reader says what it is).  A file named twice (``g.toml
    ./g.toml``, or a folder and a file in it) is returned once, as first named: one file, one report.
    """
    found: list[Path] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            try:
                named = sorted(f for f in p.glob("*.toml") if f.name != PROJECT_FILE)
            except OSError:  # an unreadable folder: report it as the path given
                named = [p]
            decks = [f for f in named if f != p and is_deck(f)]
            named = [f for f in named if f not in decks]
            if skipped is not None:
                skipped += [f for f in decks if resolved_path(f) not in {resolved_path(s) for s in skipped}]
        else:
            named = [p]
        for path in named:
            same = resolved_path(path)
            if same not in seen:
                seen.add(same)
                found.append(path)
    return found


def toml_folders_below(folder: Path, most: int | None = None) -> tuple[list[Path], bool]:
    """The folders below `folder` that hold a ``*.toml`` file, level by level (each level sorted), at
    most MAX_FOLDER_DEPTH deep, and whether every folder there was looked into (False: `most` folders
    were, and the walk stopped).  Hidden folders (.git, .venv) and symbolic links to folders are not
    entered, so a link loop cannot run forever; an unreadable folder is passed over (its files, when
    named, are reported by the loader).  What elbo-sym.toml's folders include (publish.project) and
    what `check FOLDER` leaves out (:func:`folder_notes`)."""
    found: list[Path] = []
    level, seen = [folder], 0
    for _ in range(MAX_FOLDER_DEPTH):
        below: list[Path] = []
        for parent in level:
            if most is not None and seen >= most:
                return found + [p for p in below if any(p.glob("*.toml"))], False
            seen += 1
            try:
                with os.scandir(parent) as entries:  # no stat per entry: a node_modules/ is walked quickly
                    below += sorted(parent / e.name for e in entries
                                    if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
            except OSError:
                continue
        found += [p for p in below if any(p.glob("*.toml"))]
        if not below:
            break
        level = below
    return found, True


def _holds_derivations(folder: Path) -> bool:
    """Whether `check FOLDER` would read a file in `folder`: a ``*.toml`` that is no project file and no
    deck (it skips those: a course's cards/ folder holds nothing it leaves unchecked)."""
    try:
        return any(f.name != PROJECT_FILE and not is_deck(f) for f in sorted(folder.glob("*.toml")))
    except OSError:
        return True  # unreadable: `check` would report it, so it is worth naming


MAX_NOTE_FOLDERS = 5
"""Subfolders a folder's note names; more are counted ("and 3 more")."""
MAX_NOTE_WALK = 400
"""Folders `check FOLDER` looks into below each folder given, for its note (`check .` in a folder
with a node_modules/ must not walk it all); beyond, the note says there may be more."""


def folder_notes(paths: Sequence[str | Path]) -> list[str]:
    """What `check` says of the folders it was given: it reads the ``*.toml`` directly in a folder,
    not in its subfolders (the lesson's check and the benchmarks count on that), while elbo-sym.toml's
    folders and the pytest plugin descend -- so a folder with subfolders holding ``*.toml`` files
    (not decks, not a project file) that are not given as paths themselves gets one note naming
    them (rt36 M4).  A note says what was not read; it changes no verdict and no exit status."""
    given = {resolved_path(p) for p in paths}
    named: set[str] = set()
    notes = []
    for text in dict.fromkeys(map(str, paths)):
        folder = Path(text)
        if not folder.is_dir():
            continue
        unread = []
        below, whole = toml_folders_below(folder, MAX_NOTE_WALK)
        for one in below:
            same = resolved_path(one)
            if same not in given and same not in named and _holds_derivations(one):
                named.add(same)
                name = one.relative_to(folder).as_posix()  # a name's control characters shown escaped (rt39 F4)
                unread.append("".join(c if c.isprintable() else repr(c)[1:-1] for c in name) + "/")
        if unread:
            shown = ", ".join(unread[:MAX_NOTE_FOLDERS]) + (
                f" and {len(unread) - MAX_NOTE_FOLDERS} more" if len(unread) > MAX_NOTE_FOLDERS else "")
            count = f"{'' if whole else 'at least '}{len(unread)} subfolder{'s' if len(unread) > 1 else ''}"
            where = text if text.endswith("/") else f"{text}/"
            notes.append(f"note: {where}: {count} with .toml files not checked "
                         f"({shown}); pass them as paths or list them in {PROJECT_FILE}")
    return notes


_DECK_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*(?:card|question)[ \t]*\]\]", re.MULTILINE)
_DERIVATION_LINE = re.compile(r"^[ \t]*(?:start[ \t]*=|\[\[[ \t]*step[ \t]*\]\])", re.MULTILINE)


def is_deck(path: str | Path) -> bool:
    """Whether `path` is a deck: a regular file with a ``[[card]]`` or ``[[question]]`` header
    line and no ``start =`` or ``[[step]]`` line (a derivation with a stray card stays a
    derivation, and its reader says what is wrong).  A file that cannot be read is no deck: its
    reading error is reported where it is read as a derivation."""
    try:
        text = read_regular_file(path).decode("utf-8-sig", errors="replace")
    except (FileReadError, OSError, ValueError):
        return False
    return bool(_DECK_HEADER.search(text)) and not _DERIVATION_LINE.search(text)


def looks_like_derivation(path: str | Path) -> bool:
    """Whether `path` is a regular file with a ``start =`` or ``[[step]]`` line (a course folder's
    pyproject.toml or a deck is not one); a file that cannot be read is not."""
    try:
        text = read_regular_file(path).decode("utf-8-sig", errors="replace")
    except (FileReadError, OSError, ValueError):
        return False
    return bool(_DERIVATION_LINE.search(text))


def deck_note(path: str | Path) -> str:
    """What a command says about a deck it skipped in a folder."""
    return (f"skipped {path}: a deck ([[card]] or [[question]] tables), not a derivation; check it with "
            f"elbo-sym cards {path} --check")


def resolved_path(path: str | Path) -> str:
    """The file `path` names (links and `..` followed), to tell two spellings of one file apart
    from two files; the path itself when it cannot be resolved (a NUL byte)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return str(path)


DEFAULT_FOLDER = "derivations"
"""What `check`, `build` and `web` read when no path is given."""
PROJECT_FILE = "elbo-sym.toml"
"""The name of a project's configuration (elbo_sym.publish.project), in the project folder."""
PROJECT_KEYS = ("title", "site_url", "derivations", "selfcheck", "flashcards", "solutions", "exercises", "drill",
                "example")
"""The top-level keys of a project's configuration: publish.project reads them, and the derivation
reader names a file with one that no derivation has as the course's settings file given by mistake."""


def paths_or_default(paths: Sequence[str], command: str) -> list[str]:
    """The paths given, or derivations/ -- which must then exist here."""
    if paths:
        return list(paths)
    if not os.path.isdir(DEFAULT_FOLDER):
        raise InputError(f"no {DEFAULT_FOLDER}/ folder here; run `elbo-sym {command} FILE.toml ...` on your "
                         f"files, or run it from your project folder")
    return [DEFAULT_FOLDER]


def output_folder(text: str, option: str) -> Path:
    """A folder to write into: an existing writable folder, or a new one (missing parent folders
    are created, like ``mkdir -p``, once the nearest existing one is a writable folder)."""
    if "\0" in text:
        raise InputError(f"{option}: the name contains a NUL byte")
    if not text:  # Path("") is the current folder: say so, not write there unasked (red team rt12)
        raise InputError(f"{option}: give a folder name ({option} . for the current folder)")
    out = Path(text)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(f"{option} {text}: not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise InputError(f"{option} {text}: the folder is not writable")
        _probe_writable(out, f"{option} {text}")  # rt42 F14: `--out /proc` was told of a temporary file's name
        return out
    parent = out.parent
    existing = next(p for p in (parent, *parent.parents) if p.exists() or p.is_symlink() or p == Path(p.anchor))
    if not existing.is_dir():
        raise InputError(f"{option} {text}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {text}: folder {existing} is not writable")
    _probe_writable(existing, f"{option} {text}")  # rt41: /proc says writable, then "no such file or directory"
    if ".." in out.parts[len(existing.parts) if existing != Path(".") else 0:]:
        # mkdir -p would make the new folder before the ".." and leave it empty (red team rt25)
        raise InputError(f"{option} {text}: '..' after a folder that does not exist yet; give the path without it")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{option} {text}: cannot create folder {parent}: {error.strerror}") from None
    return out


def output_file(text: str, option: str, example: str) -> Path:
    """A file to (re)place: not a folder or a device, in an existing writable folder.  `example`:
    a file name of the option's kind ("quiz.xml", "deck.apkg"), suggested when given a folder.
    Whether an existing file is elbo-sym's to replace is the publishing layer's question
    (elbo_sym.publish.outputs.claim_file: its folder's manifest, red team rt14)."""
    if "\0" in text:
        raise InputError(f"{option}: the name contains a NUL byte")
    if not text.strip():  # Path("") is "." (red team rt25: "--moodle : is a folder")
        raise InputError(f"{option}: the file name is empty; give one, e.g. {example}")
    path = Path(text)
    if path.is_dir():
        raise InputError(f"{option} {text}: is a folder; give a file name, e.g. {path / example}")
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise InputError(f"{option} {text}: exists and is not a regular file")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{option} {text}: folder {parent} does not exist (it is not created)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {text}: folder {parent} is not writable")
    _probe_writable(parent, f"{option} {text}")
    return path


def not_an_input(target: Path, inputs, option: str, example: str) -> Path:
    """`target` (an :func:`output_file`) unless it is one of the files the command reads (rt42 F7:
    `cards w2.toml --moodle w2.toml` was told to delete or move the deck): an InputError naming it,
    before anything is checked or written."""
    for given in inputs:
        source = Path(given)
        if source.is_file() and target.exists() and target.samefile(source):
            raise InputError(f"{option} {target}: is {given}, which this command reads; nothing was written: "
                             f"give another file name, e.g. {target.parent / example}")
    return target


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove the kind of temporary file :func:`replace_file` writes in `folder`: os.access
    says yes where no file can be made (/proc, some mounts), and the error came after the work, naming
    the temporary file (red team rt12: ``--anki /proc/version``).  The error says what failed -- creating
    a file -- and not /proc's "no such file or directory" of a folder that exists (red team rt56 F3)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".elbo-sym-probe.", suffix=".tmp")
    except OSError as error:
        why = (error.strerror or str(error)).lower()
        if error.errno == errno.ENOENT and folder.is_dir():  # /proc: "no such file" of a folder that exists
            why = "the folder exists, but the system lets no file be created in it"
        raise InputError(f"{what}: cannot create a file in folder {folder}: {why}") from None
    os.close(fd)
    os.unlink(probe)


def replace_file(path: Path, data: bytes | Callable[[str], None], *, sync: bool = False) -> Path:
    """Write `path` through a temporary file in its folder and ``os.replace``: readers never see
    half a file, and a failed write leaves the old one.  `data` is the bytes, or a function that
    writes the temporary file (given its name); `sync`: flushed to the disk before the rename."""
    import tempfile  # here: a warm `check` (elbo_sym.authoring.cache) never writes a file

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
        if callable(data):
            data(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH``, the date reproducible outputs carry (whole seconds since 1970, at most
    :data:`~elbo_sym.limits.MAX_SOURCE_DATE_EPOCH`), or None when it is not set or empty.  Any other
    value is an InputError: every command that writes a dated output (PDFs, whose LaTeX also reads it;
    the roster's sheets; the Anki package) reads it here, before any work, so a bad value is one line."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    text = value  # not stripped: pdflatex reads the variable as it is, and refuses "1700000000 " (rt5)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_SOURCE_DATE_EPOCH)) \
            or int(text) > MAX_SOURCE_DATE_EPOCH:
        shown = repr(value[:24]) + ("..." if len(value) > 24 else "")
        raise InputError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, from 0 to "
                         f"{MAX_SOURCE_DATE_EPOCH} (the year 9999), not {shown}")
    return int(text)

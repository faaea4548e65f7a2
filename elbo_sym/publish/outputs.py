"""A set of files a command owns in a folder (the handouts of `build`, the sheets of a roster).

Files that belong together are replaced together or not at all: they are built in a staging
folder inside the output folder (:func:`staging_folder`), and only once every one of them is
built are they moved in (:func:`move_in`, one rename each).  A manifest in the folder lists what
the last run wrote, so the next run removes what it no longer writes: the answer key of a build
that now has none, the sheet of a student dropped from the roster.  Files the manifest does not
list (the user's own, or a run before manifests existed) are never removed, nor is anything a
manifest entry names outside the folder, through a linked folder, or that is a symlink
(:func:`stale_file`): a manifest is a file in the user's folder, so it is read as untrusted.
Red team rt8: entries are compared by one spelling (``a//b`` = ``a/./b``) and by the file they
name (device and inode), so a file just written is never removed, also on a file system that folds
case; the manifest records each file's SHA-256, and a file changed since (or listed without a hash)
is kept.  Red team rt10: ``alice.pdf`` listed and ``Alice.pdf`` written now are two files on a
case-sensitive file system, so the old one stays a stale entry (removed while unchanged).  A command
refuses to write a file another command's manifest lists, in the folder, in a folder enclosing it
or in one between it and the file (:func:`refuse_foreign`: a ``web --out`` folder inside a site).
Red team rt12: nor does a command replace a file its own manifest does not list with the hash it
has now -- the user's own, or one edited since (:func:`refuse_unowned`): replacing it would lose
work as surely as removing it.  Red team rt14: the single files of ``--moodle FILE`` and ``--anki FILE``
are owned the same way, through one manifest in the file's folder (:func:`claim_file`, :func:`record_file`)
-- before, any XML file or zip (a ``pom.xml``, a ``.docx``, the user's own deck) was replaced.  The library's
writers of those files (``write_apkg``, ``write_moodle_quiz``, ``write_cards_quiz``) own them the same way
(:func:`write_owned`), so a call from Python refuses what the command refuses.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

from elbo_sym.files import FileReadError, InputError, read_regular_file, replace_file
from elbo_sym.limits import MANIFEST_LOCK_WAIT_SECONDS

__all__ = ["FILES_MANIFEST", "MANIFEST_BYTES", "NotOursError", "OwnedElsewhereError", "claim_file", "listed",
           "move_in", "plain_name", "record_file", "refuse_foreign", "refuse_to_replace", "refuse_unowned",
           "remove_stale", "stale_file", "staging_folder", "write_manifest", "write_owned"]

MANIFEST_BYTES = 1 << 20
"""The largest manifest read back; a larger (or unreadable, or malformed) one lists nothing."""

MANIFEST_GLOB = ".elbo-sym-*.json"
"""Every command's manifest is named ``.elbo-sym-<what>.json`` (handouts, roster, pages, site)."""


FILES_MANIFEST = ".elbo-sym-files.json"
"""The manifest of the single files elbo-sym writes where the user says (``cards --moodle``,
``exercises --moodle``, ``flashcards --anki``), in each such file's folder."""


class OwnedElsewhereError(InputError):
    """A file this command would write that another command's manifest in the folder lists: written,
    it would be overwritten by one and later removed by the other (red team rt8)."""


def _spelling(entry: str) -> str:
    """One spelling per path: ``a//b`` and ``a/./b`` are ``a/b``."""
    return "/".join(PurePosixPath(entry).parts)


def _key(entry: str) -> str:
    """One key per name that may be one file: :func:`_spelling` case-folded (a case-insensitive file
    system makes ``Alice.pdf`` and ``alice.pdf`` one file); for refusing, never for removing."""
    return _spelling(entry).casefold()


def _recorded(folder: Path, manifest: str) -> dict[str, str | None]:
    """Each path the last run listed in ``folder/manifest`` and the SHA-256 it recorded for it (None in a
    manifest from before hashes, or a hand-written one); an unreadable or malformed manifest lists none,
    and so does one that is a symbolic link (red team rt10: a folder's manifest linked to another
    folder's removed a file elbo-sym never wrote there)."""
    if (folder / manifest).is_symlink():
        return {}
    try:
        data = json.loads(read_regular_file(folder / manifest, MANIFEST_BYTES).decode("utf-8"))
    except (FileReadError, OSError, UnicodeDecodeError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    hashes = data.get("sha256") if isinstance(data, dict) else None
    hashes = hashes if isinstance(hashes, dict) else {}
    return {f: (hashes.get(f) if isinstance(hashes.get(f), str) else None)
            for f in files if isinstance(f, str)} if isinstance(files, list) else {}


def listed(folder: Path, manifest: str) -> list[str]:
    """The paths the last run listed in ``folder/manifest``; an unreadable or malformed one lists none."""
    return list(_recorded(folder, manifest))


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def write_manifest(folder: Path, manifest: str, names: Sequence[str],
                   kept: dict[str, str | None] | None = None) -> None:
    """List `names` in ``folder/manifest`` (replaced atomically) with the SHA-256 of each as it is now
    (so a later run removes it only while unchanged), and the `kept` entries with their recorded hash."""
    hashes = {name: _sha256(folder.joinpath(*PurePosixPath(name).parts)) for name in set(names)}
    hashes.update(kept or {})
    data = {"files": sorted(hashes), "sha256": {n: h for n, h in sorted(hashes.items()) if h is not None}}
    replace_file(folder / manifest, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def _manifests(folder: Path) -> list[Path]:
    """Every command's manifest in `folder` (none when it is not a folder or cannot be read)."""
    try:
        return sorted(folder.glob(MANIFEST_GLOB)) if folder.is_dir() else []
    except OSError:
        return []


def _real(path: Path, resolved: dict[Path, Path]) -> Path:
    """`path` with its folder's links resolved (remembered per folder in `resolved`): the file that a
    manifest entry in any enclosing folder would name."""
    if path.parent not in resolved:
        resolved[path.parent] = path.parent.resolve()
    return resolved[path.parent] / path.name


def refuse_foreign(folder: Path, manifest: str, names: Iterable[str]) -> None:
    """Raise OwnedElsewhereError when one of `names` is listed by another command's manifest: any
    other manifest in `folder` (say a roster's student ``answers`` and a build's ``answers.pdf``),
    or any manifest in a folder enclosing `folder` or lying between it and the file (red team rt10:
    a ``web --out`` folder inside a ``--site`` folder, where each run removed the other's pages).
    Each command removes only what its own manifest lists, so two commands must not share a file.
    Names are compared case-folded (one file on a case-insensitive file system); nothing is written."""
    resolved: dict[Path, Path] = {}
    mine = folder.resolve()
    ours: dict[Path, dict[str, Path]] = {}  # a folder that may hold a manifest -> key of the file there -> the file
    for name in names:
        target = _real(folder.joinpath(*PurePosixPath(name).parts), resolved)
        for holder in target.parents:
            ours.setdefault(holder, {})[_key(target.relative_to(holder).as_posix())] = folder / name
    for holder, files in ours.items():
        for other in _manifests(holder):
            if holder == mine and other.name == manifest:
                continue  # our own manifest
            for entry in listed(holder, other.name):
                if _key(entry) in files:
                    raise OwnedElsewhereError(f"{files[_key(entry)]}: written by another command (listed in "
                                              f"{other}); write into another folder")


class NotOursError(InputError):
    """A file this command would replace that its manifest does not list as elbo-sym's, unchanged: the
    user's own (red team rt12: ``web --out pages`` replaced a hand-written ``pages/derivations.md``)."""


def _same_file_entry(folder: Path, entry: str, name: str, identity: tuple[int, int] | None) -> bool:
    """Whether manifest `entry` is the file `name` (whose identity is `identity`) in `folder`: the same
    spelling, or the same case-folded one naming the same file (a case-insensitive file system).
    Red team rt20 F5: on a case-sensitive one ``Quiz.xml`` is another file than ``quiz.xml``."""
    if _spelling(entry) == _spelling(name):
        return True
    return _key(entry) == _key(name) and identity is not None and _identity(folder / _spelling(entry)) == identity


def _by_key(recorded: dict[str, str | None]) -> dict[str, list[tuple[str, str | None]]]:
    """`recorded`'s entries by case-folded key: each name's candidates found at once (a roster of thousands)."""
    keyed: dict[str, list[tuple[str, str | None]]] = {}
    for entry, digest in recorded.items():
        keyed.setdefault(_key(entry), []).append((entry, digest))
    return keyed


def _recorded_for(folder: Path, keyed: dict[str, list[tuple[str, str | None]]], name: str) -> list[str | None]:
    """The hashes recorded for the file `name` in `folder` (`keyed`: :func:`_by_key` of the manifest)."""
    candidates = keyed.get(_key(name), [])
    identity = _identity(folder.joinpath(*PurePosixPath(name).parts)) if candidates else None
    return [digest for entry, digest in candidates if _same_file_entry(folder, entry, name, identity)]


def refuse_unowned(folder: Path, manifest: str, names: Iterable[str]) -> None:
    """Raise NotOursError, before anything is written, when one of `names` exists in `folder` (a file or a
    link; a folder is refused where it is written) and ``folder/manifest`` does not list it with the
    SHA-256 it has now.  Listed without a hash (a manifest from before hashes) counts as ours, so an
    upgrade re-runs; listed with another hash was changed by hand since, and is kept."""
    keyed = _by_key(_recorded(folder, manifest))
    for name in names:
        target = folder.joinpath(*PurePosixPath(name).parts)
        if not (target.exists() or target.is_symlink()) or (target.is_dir() and not target.is_symlink()):
            continue
        digests = _recorded_for(folder, keyed, name)
        if digests and any(digest in (None, _sha256(target)) for digest in digests):
            continue
        why = "changed since elbo-sym wrote it" if digests else "elbo-sym did not write it"
        raise NotOursError(f"{target}: {why}, and this command would replace it: nothing was written; "
                           f"delete or move that file, or write into another folder")


def refuse_to_replace(folder: Path, manifest: str, names: Iterable[str]) -> None:
    """Both refusals a command asks before it writes `names` into `folder` under `manifest`: another
    command's file (:func:`refuse_foreign`), then one that is not its own, unchanged (:func:`refuse_unowned`)."""
    names = list(names)
    refuse_foreign(folder, manifest, names)
    refuse_unowned(folder, manifest, names)


def claim_file(path: Path) -> Path:
    """`path`, when a single-file command may (re)place it: missing, empty, or listed by the folder's
    :data:`FILES_MANIFEST` with the SHA-256 it has now (a re-run of the command that wrote it); else
    NotOursError (the user's own ``pom.xml`` or deck, or a quiz edited since) or OwnedElsewhereError
    (a file another command lists), before anything is written.  Called before the work and again
    just before writing."""
    folder, name = path.parent, path.name
    if path.is_symlink():  # rt41: replacing the link would not write where it points (--moodle /dev/stdout)
        raise InputError(f"{path}: a symbolic link; nothing was written; give the path of a regular file")
    if fnmatch.fnmatchcase(name.casefold(), MANIFEST_GLOB):  # rt15 F8: `--moodle .elbo-sym-files.json`
        raise OwnedElsewhereError(f"{path}: elbo-sym's own manifests are named {MANIFEST_GLOB}; "
                                  f"nothing was written; give the file another name")
    manifest = folder / FILES_MANIFEST
    if manifest.is_dir() and not manifest.is_symlink():  # rt20 F5: else written first, then an error naming a .tmp
        raise InputError(f"{manifest}: a folder where elbo-sym keeps the list of the files it wrote; "
                         f"nothing was written; remove or rename that folder")
    refuse_foreign(folder, FILES_MANIFEST, [name])
    try:
        empty = path.is_file() and not path.is_symlink() and path.stat().st_size == 0
    except OSError:
        empty = False
    if not empty:
        try:
            refuse_unowned(folder, FILES_MANIFEST, [name])
        except NotOursError as error:
            if _recorded_for(folder, _by_key(_recorded(folder, FILES_MANIFEST)), name):
                raise
            if not _looks_written_by_us(path):  # rt41 F4: the roster or a derivation given by a slip
                raise
            # rt15 F7: a quiz or deck written before these manifests is not listed
            raise NotOursError(f"{error} (written by an older elbo-sym, before it listed what it writes? "
                               f"delete it once)") from None
    return path


OUR_QUIZ_MARK = b"<!-- elbo-sym "
"""The comment every Moodle quiz elbo-sym has written opens with (publish/moodle.py), since the first."""
ANKI_COLLECTION = "collection.anki2"
"""The database an Anki package (a zip) holds: every .apkg elbo-sym writes has it."""
_SNIFF_BYTES = 4096


def _looks_written_by_us(path: Path) -> bool:
    """Whether an unlisted file looks like a quiz or deck an older elbo-sym wrote: Moodle XML carrying
    our comment near its start, or a zip holding an Anki collection.  Only such a file is told to be
    deleted once; the author's roster, derivation or deck named by a slip of the argument is not."""
    import zipfile

    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if OUR_QUIZ_MARK in head:
            return True
        if not head.startswith(b"PK"):
            return False
        with zipfile.ZipFile(path) as package:
            return ANKI_COLLECTION in package.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def record_file(path: Path) -> Path:
    """List the file just written at `path` in its folder's :data:`FILES_MANIFEST` with its SHA-256, keeping
    the other entries whose files are still there (so a re-run may replace it, and nothing else)."""
    with _folder_locked(path.parent, MANIFEST_LOCK_WAIT_SECONDS, "nothing was recorded"):
        _record_unlocked(path)  # two commands at once keep both entries (rt15)
    return path


def _record_unlocked(path: Path) -> None:
    folder = path.parent
    written = _identity(path)
    others = {entry: digest for entry, digest in _recorded(folder, FILES_MANIFEST).items()
              if stale_file(folder, entry) is not None and not _same_file_entry(folder, entry, path.name, written)}
    write_manifest(folder, FILES_MANIFEST, [path.name], others)


def write_owned(path: Path, write: Callable[[Path], Path]) -> Path:
    """The one way a single file is written where the user says (``--moodle FILE``, ``--anki FILE``, and
    the library's writers called from Python): `write(path)` only when :func:`claim_file` allows it -- else
    NotOursError or OwnedElsewhereError, nothing written --, then the file listed as elbo-sym's, so a
    later run may replace it and nothing else.  All three under the folder's lock: another command cannot
    write or record the file in between, and a lock held too long is an InputError before anything is written."""
    with _folder_locked(path.parent, MANIFEST_LOCK_WAIT_SECONDS, "nothing was written"):
        written = write(claim_file(path))
        _record_unlocked(written)
    return written


@contextmanager
def _folder_locked(folder: Path, wait: float, undone: str) -> Iterator[None]:
    """Hold an exclusive lock on `folder` itself (``flock`` on the folder: no lock file is left behind,
    and the manifest, replaced atomically, is a new file each time) while its manifest is read and
    rewritten; waits at most `wait` seconds, then InputError (saying `undone`: what was not done).
    Where there is no ``flock``, unlocked."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InputError(f"{folder / FILES_MANIFEST}: another elbo-sym command kept it locked for "
                                     f"{wait:g} s; {undone}, run this command again") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(handle)  # (closing releases the lock)


def stale_file(folder: Path, entry: str) -> Path | None:
    """The file a manifest ``entry`` names, when a run may remove it: a relative POSIX path without
    ``..`` or a backslash, whose folders all resolve inside ``folder`` (none is a link out of it),
    naming a regular file that is not a symlink; else None."""
    pure = PurePosixPath(entry)
    if (not entry or pure.is_absolute() or ".." in pure.parts or "\\" in entry or "\0" in entry
            or not pure.parts):
        return None
    target = folder.joinpath(*pure.parts)
    try:
        inside = target.parent.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a loop of links
        return None
    return target if inside and target.is_file() and not target.is_symlink() else None


def _identity(path: Path) -> tuple[int, int] | None:
    """The file `path` names (device, inode), as ``os.path.samefile`` compares them; None when missing."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _sweep(folder: Path, manifest: str, written: Sequence[str], may_remove: Callable[[str], bool],
           keep: Callable[[str], bool]) -> list[Path]:
    """Remove each file the previous run listed in ``folder/manifest`` that this run did not write,
    that `may_remove` accepts and `keep` does not claim, and whose content is still what elbo-sym
    wrote (its recorded SHA-256); then list `written` (and what `keep` claimed) as ours now.

    A file changed since it was written, or listed without a hash (an older manifest, a hand-written
    one), is kept and forgotten: "kept X: ..." on stderr.  Returns the removed paths."""
    now = {_spelling(name) for name in written}
    recorded = {entry: digest for entry, digest in _recorded(folder, manifest).items()
                if _spelling(entry) not in now and may_remove(entry)}
    # the files written now, once (a roster's thousands of sheets): an entry naming one by another
    # spelling, or another case on a file system that folds case, is never removed (red team rt8)
    written_files = {_identity(folder.joinpath(*PurePosixPath(name).parts)) for name in written} if recorded else set()
    kept: dict[str, str | None] = {}
    removed: list[Path] = []
    for entry, digest in recorded.items():
        target = stale_file(folder, entry)
        if target is None or _identity(target) in written_files:
            continue
        if keep(entry):
            kept[entry] = digest
        elif digest is not None and _sha256(target) == digest:
            target.unlink()
            removed.append(target)
        else:
            why = "changed since elbo-sym wrote it" if digest is not None else "listed without a hash (older manifest)"
            print(f"kept {target}: {why}", file=sys.stderr)
    write_manifest(folder, manifest, written, kept)
    return removed


def remove_stale(folder: Path, manifest: str, written: Iterable[str], allowed: Callable[[str], bool]) -> list[Path]:
    """Remove each file the previous run listed in ``folder/manifest`` that this run did not write
    (``written``) and that ``allowed`` accepts, where :func:`stale_file` permits and its content is
    unchanged (:func:`_sweep`); list ``written`` in the manifest now.  Returns the removed paths."""
    return _sweep(folder, manifest, sorted(set(written)), allowed, lambda _name: False)


@contextmanager
def staging_folder(folder: Path, prefix: str) -> Iterator[Path]:
    """A fresh hidden folder inside `folder`, removed with what is left in it on the way out: on the
    same file system, so moving a file in is one atomic rename.  A `folder` created for it is
    removed too when nothing was moved in (a failed build leaves no empty folder behind)."""
    created = not (folder.exists() or folder.is_symlink())
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with suppress(OSError):  # not empty: something was moved in
                folder.rmdir()


def plain_name(name: str) -> bool:
    """A plain file name in the folder itself: never a path, a hidden file or ``..``."""
    return bool(name) and "/" not in name and "\\" not in name and "\0" not in name and not name.startswith(".")


def move_in(staging: Path, folder: Path, names: Sequence[str], manifest: str,
            keep: Callable[[str], bool] = lambda _name: False) -> list[Path]:
    """Move the staged files `names` into `folder` (call it only once every one was built), then
    remove each file the previous run listed in `manifest` that this one did not write and `keep`
    does not claim, and list what is ours now; returns the removed paths.

    A target that is a folder cannot be replaced by a file: that is an IsADirectoryError before any
    file moves, so the set is replaced together or not at all (red team rt5: a roster's sheets were
    replaced and its key was not)."""
    refuse_foreign(folder, manifest, names)
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            raise IsADirectoryError(f"{target} is a folder, where this build writes a file: nothing was replaced")
    refuse_unowned(folder, manifest, names)
    for name in names:
        os.replace(staging / name, folder / name)
    return _sweep(folder, manifest, list(names), plain_name, keep)

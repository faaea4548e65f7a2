"""A set of files a command owns in a folder (the handouts of `build`, the sheets of a roster).

Files that belong together are replaced together or not at all: they are built in a staging
folder inside the output folder (:func:`staging_folder`), and only once every one of them is
built are they moved in (:func:`move_in`, one rename each).  A manifest in the folder lists what
the last run wrote, so the next run removes what it no longer writes: the answer key of a build
that now has none, the sheet of a student dropped from the roster.  Files the manifest does not
list (the user's own, or a run before manifests existed) are never removed, nor is anything a
manifest entry names outside the folder, through a linked folder, or that is a symlink
(:func:`stale_file`): a manifest is a file in the user's folder, so it is read as untrusted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

from elbo_sym.files import FileReadError, read_regular_file, replace_file

__all__ = ["MANIFEST_BYTES", "listed", "move_in", "plain_name", "remove_stale", "stale_file", "staging_folder",
           "write_manifest"]

MANIFEST_BYTES = 1 << 20
"""The largest manifest read back; a larger (or unreadable, or malformed) one lists nothing."""


def listed(folder: Path, manifest: str) -> list[str]:
    """The paths the last run listed in ``folder/manifest``; an unreadable or malformed one lists none."""
    try:
        data = json.loads(read_regular_file(folder / manifest, MANIFEST_BYTES).decode("utf-8"))
    except (FileReadError, OSError, UnicodeDecodeError, ValueError):
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def write_manifest(folder: Path, manifest: str, names: Sequence[str]) -> None:
    """List `names` in ``folder/manifest`` (replaced atomically)."""
    replace_file(folder / manifest, (json.dumps({"files": sorted(set(names))}, indent=1) + "\n").encode("utf-8"))


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


def remove_stale(folder: Path, manifest: str, written: Iterable[str], allowed: Callable[[str], bool]) -> list[Path]:
    """Remove each file the previous run listed in ``folder/manifest`` that this run did not write
    (``written``) and that ``allowed`` accepts, where :func:`stale_file` permits; list ``written``
    in the manifest now.  Returns the removed paths."""
    now = set(written)
    removed: list[Path] = []
    for entry in listed(folder, manifest):
        target = stale_file(folder, entry) if entry not in now and allowed(entry) else None
        if target is not None:
            target.unlink()
            removed.append(target)
    write_manifest(folder, manifest, sorted(now))
    return removed


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
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            raise IsADirectoryError(f"{target} is a folder, where this build writes a file: nothing was replaced")
    for name in names:
        os.replace(staging / name, folder / name)
    written = set(names)
    kept: list[str] = []
    removed: list[Path] = []
    for name in listed(folder, manifest):
        stale = stale_file(folder, name) if name not in written and plain_name(name) else None
        if stale is None:
            continue
        if keep(name):
            kept.append(name)
        else:
            stale.unlink()
            removed.append(stale)
    write_manifest(folder, manifest, [*written, *kept])
    return removed

"""The one path guard for everything under the data folder: nothing below it is followed
out of it.

The blob folder is resolved once, when the store opens (the data folder itself may be a
link: that is where the administrator put it). Below it, a shard folder or a blob file
that is a symbolic link is never followed: listing skips it (doctor reports it), reading
treats the blob as missing, writing and deleting refuse. Deletions open the shard folder
with O_NOFOLLOW and unlink relative to it, so a folder swapped for a link between the
check and the unlink cannot redirect the deletion either.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from storage.errors import StorageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class LinkRefused(StorageError):
    """A path under the data folder is a symbolic link (or leads out of the folder)."""

    def __init__(self, path: Path, root: Path):
        try:
            target = f" (to {os.readlink(path)})"
        except OSError:
            target = ""
        super().__init__(
            f"{path} is a symbolic link{target}; mtedit never follows links out of its data "
            f"folder {root}. Remove the link (the data it points to is not touched), then "
            "run `mtedit doctor`")
        self.path = path
        self.root = root


def is_link(path: Path) -> bool:
    """True for a symbolic link (to anything, or dangling); False for a missing path."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def check_inside(root: Path, path: Path) -> Path:
    """`path` (below `root`) when no part of it below `root` is a link and it stays inside
    `root`; LinkRefused otherwise. Parts that do not exist yet are fine."""
    root = Path(root)
    path = Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise LinkRefused(path, root) from None
    if ".." in rel.parts:
        raise LinkRefused(path, root)
    current = root
    for part in rel.parts:
        current = current / part
        if is_link(current):
            raise LinkRefused(current, root)
    return path


def real_children(folder: Path) -> tuple[list[Path], list[Path]]:
    """(entries of `folder` that are not links, entries that are links), sorted; both
    empty when the folder does not exist."""
    try:
        entries = sorted(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    links = [p for p in entries if is_link(p)]
    return [p for p in entries if p not in links], links


def real_files(folder: Path) -> Iterator[Path]:
    """Regular files directly in `folder` that are not links."""
    for path in real_children(folder)[0]:
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield path
        except OSError:
            continue


def unlink_inside(root: Path, folder_name: str, file_name: str) -> bool:
    """Delete root/folder_name/file_name without following a link in either name; False
    when it was not there (or was refused because the folder is a link)."""
    if "/" in folder_name or "/" in file_name or folder_name in ("", ".", ".."):
        raise LinkRefused(Path(root) / folder_name / file_name, Path(root))
    try:
        fd = os.open(Path(root) / folder_name, os.O_RDONLY | _NOFOLLOW | _DIRECTORY)
    except FileNotFoundError:
        return False
    except OSError:  # ELOOP / ENOTDIR: a link or not a folder: never followed
        return False
    try:
        info = os.stat(file_name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            return False
        os.unlink(file_name, dir_fd=fd)  # a link itself is removed, never its target
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)

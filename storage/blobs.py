"""Content-addressed blob files: <root>/ab/cdef... named by the sha256 of their bytes.

Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder),
so a reader sees a whole blob or none. Equal content is stored once. Reads verify the
hash: a damaged file raises BlobCorruptError instead of returning wrong bytes.
Nothing below the root is followed if it is a symbolic link (storage/paths.py): such a
blob reads as missing, is never written through, listed or deleted.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from storage.errors import BlobCorruptError, BlobLinkError, BlobMissingError
from storage.paths import (
    LinkRefused,
    check_inside,
    is_link,
    real_children,
    real_files,
    unlink_inside,
)
from storage.space import said_when_full

TMP_PREFIX = ".tmp-"
_HOST = socket.gethostname()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_hash(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _is_hash(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def _linked(self, sha256: str) -> bool:
        """The blob's shard folder or file is a symbolic link (never followed)."""
        final = self.path(sha256)
        return is_link(final.parent) or is_link(final)

    def put(self, data: bytes) -> str:
        """Store `data`; returns its sha256. Durable on disk when this returns.
        LinkRefused when its shard folder is a link; StorageFullError on a full disk."""
        digest = sha256_hex(data)
        final = self.path(digest)
        folder = final.parent
        check_inside(self.root, folder)  # a shard folder that is a link: refused
        if not is_link(final) and final.exists() and self._hash_file(final) == digest:
            os.utime(final)  # fresh mtime: doctor's grace period protects it
            return digest
        with said_when_full("the data folder", self.root.parent):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                _fsync_dir(self.root)  # the new shard folder's entry is durable too
            check_inside(self.root, folder)  # made by someone else meanwhile: checked again
            tmp = folder / f"{TMP_PREFIX}{_HOST}-{os.getpid()}-{os.urandom(4).hex()}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_NOFOLLOW", 0), 0o644)
                with open(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)  # replaces a link named like the blob, never follows it
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _fsync_dir(folder)
        return digest

    def get(self, sha256: str) -> bytes:
        """The bytes named `sha256`, verified; BlobMissingError (BlobLinkError for a link)
        or BlobCorruptError otherwise."""
        path = self.path(sha256)
        if self._linked(sha256):
            raise BlobLinkError(sha256, path)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise BlobMissingError(sha256, path) from None
        actual = sha256_hex(data)
        if actual != sha256:
            raise BlobCorruptError(sha256, actual, path)
        return data

    def exists(self, sha256: str) -> bool:
        return not self._linked(sha256) and self.path(sha256).is_file()

    def verify(self, sha256: str) -> str:
        """'ok', 'missing' (a link counts as missing) or 'corrupt'."""
        path = self.path(sha256)
        if not self.exists(sha256):
            return "missing"
        return "ok" if self._hash_file(path) == sha256 else "corrupt"

    def delete(self, sha256: str) -> None:
        """Remove the blob file; a shard folder that is a link is never entered."""
        unlink_inside(self.root, sha256[:2], self.path(sha256).name)

    def __iter__(self) -> Iterator[str]:
        """Hashes of all blob files present (not temp files, not links)."""
        for folder in real_children(self.root)[0]:
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for f in real_files(folder):
                name = folder.name + f.name
                if _is_hash(name):
                    yield name

    def links(self) -> list[Path]:
        """Symbolic links found among the shard folders and their files (not followed)."""
        folders, found = real_children(self.root)
        for folder in folders:
            if folder.is_dir():
                found.extend(real_children(folder)[1])
        return sorted(found)

    def temp_files(self) -> list[Path]:
        out = []
        for folder in real_children(self.root)[0]:
            if folder.is_dir():
                out.extend(f for f in real_files(folder) if f.name.startswith(TMP_PREFIX))
        return sorted(out)

    def remove_temp(self, path: Path) -> bool:
        """Delete a temp file found by temp_files() (never through a link)."""
        path = Path(path)
        if path.parent.parent != self.root or not path.name.startswith(TMP_PREFIX):
            raise LinkRefused(path, self.root)
        return unlink_inside(self.root, path.parent.name, path.name)

    def stale_temp(self, path: Path, older_than: float = 3600.0) -> bool:
        """A temp file whose writer is gone: a dead process on this host, or an old file."""
        parts = path.name[len(TMP_PREFIX):].rsplit("-", 2)
        if len(parts) == 3 and parts[0] == _HOST and parts[1].isdigit():
            try:
                os.kill(int(parts[1]), 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
        try:
            return time.time() - path.lstat().st_mtime > older_than
        except FileNotFoundError:
            return False

    def age(self, sha256: str) -> float:
        """Seconds since the blob was last written or re-put."""
        try:
            return time.time() - self.path(sha256).lstat().st_mtime
        except FileNotFoundError:
            return 0.0

    @staticmethod
    def _hash_file(path: Path) -> str:
        h = hashlib.sha256()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with open(fd, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

"""Content-addressed blob files: <root>/ab/cdef... named by the sha256 of their bytes.

Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder),
so a reader sees a whole blob or none. Equal content is stored once. Reads verify the
hash: a damaged file raises BlobCorruptError instead of returning wrong bytes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from storage.errors import BlobCorruptError, BlobMissingError

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

    def put(self, data: bytes) -> str:
        """Store `data`; returns its sha256. Durable on disk when this returns."""
        digest = sha256_hex(data)
        final = self.path(digest)
        if final.exists() and self._hash_file(final) == digest:
            os.utime(final)  # fresh mtime: doctor's grace period protects it
            return digest
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root)  # the new shard folder's entry is durable too
        tmp = folder / f"{TMP_PREFIX}{_HOST}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return digest

    def get(self, sha256: str) -> bytes:
        """The bytes named `sha256`, verified; BlobMissingError or BlobCorruptError otherwise."""
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissingError(sha256, path) from None
        actual = sha256_hex(data)
        if actual != sha256:
            raise BlobCorruptError(sha256, actual, path)
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def verify(self, sha256: str) -> str:
        """'ok', 'missing' or 'corrupt'."""
        path = self.path(sha256)
        if not path.is_file():
            return "missing"
        return "ok" if self._hash_file(path) == sha256 else "corrupt"

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def __iter__(self) -> Iterator[str]:
        """Hashes of all blob files present (not temp files)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for f in sorted(folder.iterdir()):
                name = folder.name + f.name
                if _is_hash(name) and f.is_file():
                    yield name

    def temp_files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob(f"*/{TMP_PREFIX}*"))

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
            return time.time() - path.stat().st_mtime > older_than
        except FileNotFoundError:
            return False

    def age(self, sha256: str) -> float:
        """Seconds since the blob was last written or re-put."""
        try:
            return time.time() - self.path(sha256).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    @staticmethod
    def _hash_file(path: Path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

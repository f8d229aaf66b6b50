"""A full or read-only disk, said in words: which folder or database and what to do.

Writers wrap their disk work in `said_when_full(what, where)`: an OSError of a full disk
or quota (ENOSPC, EDQUOT) and SQLite's "database or disk is full" become a
StorageFullError naming the place; a read-only file system (EROFS) or database file
("attempt to write a readonly database") a StorageReadOnlyError. Nothing half-written is kept: blobs are written to a
temp file renamed only when whole, and a failed transaction is rolled back.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from storage.errors import StorageFullError, StorageReadOnlyError

FULL_ERRNOS = frozenset(e for e in (getattr(errno, "ENOSPC", None), getattr(errno, "EDQUOT", None))
                        if e is not None)
_SQLITE_FULL = ("database or disk is full", "disk is full")


def is_full(exc: BaseException) -> bool:
    """True for the error of a full disk (an OSError, or the database driver's)."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    text = str(orig if orig is not None else exc).lower()
    return any(s in text for s in _SQLITE_FULL) or "no space left on device" in text


def is_read_only(exc: BaseException) -> bool:
    """True for the error of writing to a read-only file system or database file."""
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return True
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).lower()
    return "readonly database" in text or "read-only file system" in text


def read_only_message(what: str, where) -> str:
    return (f"{what} ({where}) is read-only, so nothing could be written. Nothing already "
            "stored was lost. Make it writable (or set MTEDIT_DATA_DIR to a folder that is), "
            "then try again")


def full_message(what: str, where) -> str:
    return (f"the disk holding {what} ({where}) is full, so nothing more could be written. "
            "Nothing already stored was lost. Free some space on that disk (or move the data "
            "folder elsewhere and set MTEDIT_DATA_DIR), then try again")


@contextmanager
def said_when_full(what: str, where) -> Iterator[None]:
    """Run the block; a full disk becomes StorageFullError naming `what` at `where`."""
    try:
        yield
    except (StorageFullError, StorageReadOnlyError):
        raise
    except Exception as exc:
        if is_full(exc):
            raise StorageFullError(full_message(what, where)) from None
        if is_read_only(exc):
            raise StorageReadOnlyError(read_only_message(what, where)) from None
        raise

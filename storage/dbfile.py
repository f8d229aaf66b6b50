"""A SQLite file that vanishes or is replaced under a running process is noticed.

SQLite keeps an unlinked file open: a process whose database file was deleted (with its
-wal and -shm) would go on writing into the deleted file, or open a fresh empty one at
the same path, and report success while the history is gone. So before every session
the store compares the file at its path with the one it opened (device and inode, one
stat call). A missing file is reported. A different file is read (read-only) for its
store id (table store_meta): the same store (a backup restored in place) is adopted,
the pool's connections to the old file are dropped; anything else is reported.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

from storage.errors import StorageError

log = logging.getLogger(__name__)


class DatabaseGone(StorageError):
    """The database file was deleted or replaced by another database while in use."""


def sqlite_path(engine) -> Path | None:
    """The file of a SQLite engine, or None (another database, or in memory)."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser().absolute()


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _store_id_of(path: Path) -> str | None:
    """The store id in the SQLite file at `path`, read-only; None when it has none."""
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = con.execute("SELECT value FROM store_meta WHERE key = 'store_id'").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


class FileWatch:
    """The identity of the SQLite file a store opened; check() before each session."""

    def __init__(self, store):
        self.store = store
        self.path = sqlite_path(store.engine)
        self.ident = _identity(self.path) if self.path is not None and self.path.exists() \
            else None
        self._lock = threading.Lock()

    def check(self) -> None:
        """DatabaseGone when the file at the path is not (any more) the store's."""
        if self.path is None or self.ident is None:
            return
        try:
            now = _identity(self.path)
        except FileNotFoundError:
            raise DatabaseGone(self._gone("was deleted")) from None
        except OSError:
            return  # an unreadable folder: SQLite will say so itself
        if now == self.ident:
            return
        with self._lock:
            if now == self.ident:
                return
            wanted = getattr(self.store, "store_id", None)
            found = _store_id_of(self.path)
            if wanted is None or found != wanted:
                what = (f"was replaced by another database (store {found})" if found
                        else "was replaced by a file that is not this store")
                raise DatabaseGone(self._gone(what))
            log.warning("the database file %s was replaced by a copy of the same store; "
                        "using the new file", self.path)
            self.store.engine.dispose()  # pooled connections still point at the old file
            self.ident = now

    def _gone(self, what: str) -> str:
        return (f"the database file {self.path} {what} while mtedit was using it, so nothing "
                "more was written (a new empty database would hide every conversation). "
                "Restore the file from a backup, or set MTEDIT_DATABASE_URL / MTEDIT_DATA_DIR "
                f"to the database you mean; the images are still in {self.store.blobs.root}")

"""Errors raised by the store. Every one names what is wrong and where."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the store raises."""


class NotFoundError(StorageError, LookupError):
    """A conversation, node, message, plan or job id that the database does not hold."""

    def __init__(self, kind: str, ident: str):
        super().__init__(f"no {kind} with id {ident!r}")
        self.kind = kind
        self.ident = ident


class InvalidImageError(StorageError, ValueError):
    """Bytes given as an image that are not a PNG."""


class BlobMissingError(StorageError):
    """A blob the database refers to is not on disk."""

    def __init__(self, sha256: str, path):
        super().__init__(f"blob {sha256} is missing (expected at {path}); run `mtedit doctor`")
        self.sha256 = sha256
        self.path = path


class BlobCorruptError(StorageError):
    """A blob whose content no longer hashes to its name: never returned as data."""

    def __init__(self, sha256: str, actual: str, path):
        super().__init__(
            f"blob {sha256} is corrupt: its content hashes to {actual} ({path}); "
            "run `mtedit doctor`"
        )
        self.sha256 = sha256
        self.actual = actual
        self.path = path


class ConversationBusy(StorageError):
    """The conversation already has an active job (one runs at a time, across processes)."""

    def __init__(self, job):
        super().__init__(f"conversation {job.conversation_id} already has an active job "
                         f"({job.id}, {job.status})")
        self.job = job


class StoreMismatchError(StorageError):
    """The blob folder given does not belong to the database (or the reverse)."""


class StorageFullError(StorageError):
    """The disk holding the data folder or the database is full: nothing was written."""


class StorageReadOnlyError(StorageError):
    """The data folder or the database file is read-only: nothing was written."""


class BlobLinkError(BlobMissingError):
    """A blob path under the data folder is a symbolic link: never followed, so the blob
    counts as missing."""

    def __init__(self, sha256: str, path):
        StorageError.__init__(
            self, f"blob {sha256} is a symbolic link ({path}), which mtedit does not follow "
            "out of its data folder; remove the link and run `mtedit doctor`")
        self.sha256 = sha256
        self.path = path

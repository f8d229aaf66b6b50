"""How a job's bookkeeping logs a failure: the store's own errors (a vanished database, a
full or read-only disk) already say what happened and what to do, so they are one line;
anything else keeps its traceback, for whoever has to fix it."""

from __future__ import annotations

import logging

from storage import StorageError


def log_failure(log: logging.Logger, what: str, *args, exc: BaseException) -> None:
    """log.warning(what % args) with the error's words, or with its traceback."""
    if isinstance(exc, StorageError):
        log.warning(f"{what}: %s", *args, exc)
    else:
        log.warning(what, *args, exc_info=exc)

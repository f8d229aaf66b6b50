"""How a job's bookkeeping logs a failure: the store's own errors (a vanished database, a
full or read-only disk) already say what happened and what to do, so they are one line;
anything else keeps its traceback, for whoever has to fix it."""

from __future__ import annotations

import logging

from storage import StorageError


def log_failure(log: logging.Logger, what: str, *args, exc: BaseException,
                level: int = logging.WARNING) -> None:
    """Log `what % args` at `level`: with the error's words when the store raised it, else
    with its traceback."""
    if isinstance(exc, StorageError):
        log.log(level, f"{what}: %s", *args, exc)
    else:
        log.log(level, what, *args, exc_info=exc)

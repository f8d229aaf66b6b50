"""How a job's bookkeeping logs a failure: the store's own errors (a vanished database, a
full or read-only disk) already say what happened and what to do, and a database that
does not answer (stopped, restarting) says so in its driver's first line: one line each;
anything else keeps its traceback, for whoever has to fix it."""

from __future__ import annotations

import logging

from storage import StorageError
from storage.retry import unreachable


def log_failure(log: logging.Logger, what: str, *args, exc: BaseException,
                level: int = logging.WARNING) -> None:
    """Log `what % args` at `level`: with the error's words when the store raised it, else
    with its traceback."""
    if isinstance(exc, StorageError):
        log.log(level, f"{what}: %s", *args, exc)
    elif unreachable(exc):
        said = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.log(level, f"{what}: the database does not answer (%s)", *args,
                (said[0] if said else "")[:200])
    else:
        log.log(level, what, *args, exc_info=exc)

"""Store calls wait out a database restart.

A PostgreSQL restart or fail-over drops every connection and refuses new ones for a few
seconds; a transaction open at that moment is rolled back by the server. A store call
that fails that way (the connection lost or refused, or the server rolled the transaction
back: a deadlock, a serialization failure) is run again, whole, until `reconnect_s` has
passed since the first failure. Running it again is safe because nothing of the failed
transaction was stored, and every call's other effects (blob files) are idempotent.

Two cases are not retried: SQLite (a local file: its errors are not passing), and a
connection lost during COMMIT itself, when the server may or may not have stored the
transaction (in doubt): that error reaches the caller as it is.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

RECONNECT_S = 30.0
IN_DOUBT = "_mtedit_commit_in_doubt"  # set on an error raised by COMMIT
_inside = threading.local()  # only the outermost store call retries


def transient(store, exc: BaseException) -> bool:
    """Would the same call succeed once the database is back?"""
    if store.engine.dialect.name == "sqlite" or getattr(exc, IN_DOUBT, False):
        return False
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retrying(fn):
    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        if getattr(_inside, "active", False):
            return fn(self, *args, **kwargs)
        _inside.active = True
        try:
            deadline, delay = None, 0.05
            while True:
                try:
                    return fn(self, *args, **kwargs)
                except Exception as exc:
                    if not transient(self, exc):
                        raise
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + getattr(self, "reconnect_s", RECONNECT_S)
                        log.warning("database unreachable during %s (%s); trying again for "
                                    "up to %.0f s", fn.__name__, type(exc.orig if isinstance(
                                        exc, DBAPIError) else exc).__name__,
                                    deadline - now)
                    if now >= deadline:
                        raise
                    time.sleep(delay)
                    delay = min(1.0, delay * 2)
        finally:
            _inside.active = False

    return call


NOT_RETRIED = frozenset({"open", "from_settings", "close", "reading", "transaction"})


def retry_disconnects(cls):
    """Class decorator: every public method of the store retries as described above."""
    for name in dir(cls):
        if name.startswith("_") or name in NOT_RETRIED:
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            setattr(cls, name, retrying(attr))
    return cls

"""Store calls wait out a database restart.

A PostgreSQL restart or fail-over drops every connection and refuses new ones for a few
seconds; a transaction open at that moment is rolled back by the server. A store call
that fails that way (the connection lost or refused, or the server rolled the transaction
back: a deadlock, a serialization failure) is run again, whole, until `reconnect_s` has
passed since the first failure. Running it again is safe because nothing of the failed
transaction was stored, and every call's other effects (blob files) are idempotent.

A connection lost during COMMIT itself leaves the outcome in doubt: on PostgreSQL every
write transaction notes its id first (txid_current()), and once the server answers again
txid_status() tells: committed (the block's work is stored: the call carries on as if
the COMMIT had answered) or aborted (run again, as above). When that cannot be learnt in
time, or on SQLite (a local file: its errors are not passing), the error reaches the
caller as it is.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import time
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

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


def unreachable(exc: BaseException) -> bool:
    """Is `exc` the database not answering (refused, lost, stopped), whatever the store?"""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def transaction_id(session) -> int | None:
    """The id of the session's transaction (PostgreSQL; None elsewhere)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT txid_current()")).scalar())


def committed_after_all(store, xid: int | None, exc: BaseException) -> bool:
    """After a failed COMMIT: did the server commit transaction `xid` anyway? Waits for
    the server (up to reconnect_s). False marks `exc` for retrying when the server says
    aborted, and as in doubt when it cannot tell."""
    if xid is not None and transient(store, exc):
        deadline = time.monotonic() + getattr(store, "reconnect_s", RECONNECT_S)
        while time.monotonic() < deadline:
            try:
                with store.engine.connect() as conn:
                    status = conn.execute(text("SELECT txid_status(:x)"), {"x": xid}).scalar()
            except DataError as err:  # "transaction ID ... is in the future": the restarted
                if "future" not in str(err):  # server never logged it, so never committed
                    break
                status = "aborted"
            except DBAPIError:
                time.sleep(0.2)
                continue
            if status == "committed":
                log.warning("the database connection was lost at a commit that was stored")
                return True
            if status == "aborted":  # never stored: safe to run again
                return False
            if status != "in progress":  # too old to know
                break
            time.sleep(0.2)  # its backend is still finishing it
    setattr(exc, IN_DOUBT, True)
    return False


_NO_RETRIES = threading.Event()


@contextlib.contextmanager
def no_retries() -> Iterator[None]:
    """Store calls made while this block runs (in any thread) fail at once instead of
    waiting out a lost database: for a process that is exiting, whose database may have
    stopped already."""
    already = _NO_RETRIES.is_set()
    _NO_RETRIES.set()
    try:
        yield
    finally:
        if not already:
            _NO_RETRIES.clear()


def retrying(fn):
    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        if getattr(_inside, "active", False) or _NO_RETRIES.is_set():
            return fn(self, *args, **kwargs)
        _inside.active = True
        try:
            deadline, delay = None, 0.05
            while True:
                try:
                    return fn(self, *args, **kwargs)
                except Exception as exc:
                    if not transient(self, exc) or _NO_RETRIES.is_set():
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

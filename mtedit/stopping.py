"""A polite stop: SIGTERM ends the program like Ctrl-C does, through its cleanup.

By default SIGTERM kills a Python process on the spot: no `finally`, no atexit, so a job
it was running stays "running" in the store until its heartbeat goes stale. With
`exit_on_sigterm()` the signal raises Terminated (a SystemExit with status 143) in the
main thread instead; cleanup runs (the executor marks its jobs interrupted at exit, see
agent/shutdown.py) and "continue" works at once. Installed only from the main thread
and only where nobody else handles SIGTERM (Streamlit and Celery install their own).
"""

from __future__ import annotations

import signal
import threading

EXIT_STATUS = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM


class Terminated(SystemExit):
    """SIGTERM arrived (a polite request to stop)."""


def _raise(signum, _frame) -> None:
    raise Terminated(EXIT_STATUS)


def exit_on_sigterm() -> bool:
    """Make SIGTERM raise Terminated in the main thread; False when not installed (not the
    main thread, or another handler is already there)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current not in (signal.SIG_DFL, None, _raise):
            return False
        signal.signal(signal.SIGTERM, _raise)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        return False
    return True

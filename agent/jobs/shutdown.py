"""A polite stop of a process that runs edits: its jobs are marked interrupted at once.

Without it, a job whose process stopped stays "running" until its heartbeat goes stale
(`MTEDIT_JOB_STALE_S`), and "continue" answers "An edit is still running" meanwhile.

- request(executor): stop between model calls; touches nothing but memory, so it is
  safe inside a signal handler (the worker's warm shutdown). The job's runner then marks
  it interrupted as it ends (Executor._finish calls finish_stopped).
- stop(executor): request, then mark every job the executor owns interrupted now and
  tell their conversations (what finished, how to "continue"). Run at exit for every
  executor of the process (`watch`), so SIGTERM (mtedit.stopping), Ctrl-C or the app
  server's own shutdown all leave the store right.
"""

from __future__ import annotations

import atexit
import logging
import time
import weakref

log = logging.getLogger(__name__)

EXIT_WAIT_S = 30.0  # at exit, how long the running job may take to reach its next model call
_WATCHED: weakref.WeakSet = weakref.WeakSet()
_REGISTERED: list[bool] = []


def watch(executor) -> None:
    """Stop `executor` politely when the process exits."""
    _WATCHED.add(executor)
    if not _REGISTERED:
        _REGISTERED.append(True)
        atexit.register(_at_exit)
        from mtedit.stopping import exit_on_sigterm

        exit_on_sigterm()  # in a plain script's main thread: SIGTERM runs the atexit hook


def request(executor) -> None:
    """Ask the executor's running and queued jobs to stop between model calls."""
    executor.stopping = True
    with executor._lock:
        states = [s for s in executor._jobs.values() if not s.finished.is_set()]
    for state in states:
        state.cancel.set()


def stop(executor, wait: float = 0.0) -> list:
    """request(), then mark the executor's jobs (and claims) interrupted in the store now;
    returns the jobs marked. wait: seconds to let the running job reach its next model
    call and end (a process must not exit while a model call runs in a thread)."""
    with executor._lock:
        running = [s for s in executor._jobs.values()
                   if s.status == "running" and not s.finished.is_set()]
    request(executor)
    jobs = interrupt(executor.store, executor._owned())
    deadline = time.monotonic() + wait
    for state in running:
        state.finished.wait(max(0.0, deadline - time.monotonic()))
    return jobs


def interrupt(store, job_ids) -> list:
    """Mark the given active jobs interrupted and report them in their conversations (each
    job once, whoever calls first)."""
    from agent.jobs.recovery import interrupt as interrupt_now

    return interrupt_now(store, job_ids)


def finish_stopped(executor, state) -> None:
    """The end of a job stopped by request() or stop(): interrupted, resumable."""
    from storage.jobs import INTERRUPTED

    state.status, state.error, state.stage = "failed", INTERRUPTED, ""
    try:
        interrupt(executor.store, [state.id])
    except Exception as exc:
        if not _EXITING:
            log.warning("could not mark job %s interrupted", state.id, exc_info=True)
        else:  # the database may have stopped first; _at_exit says it once
            log.debug("could not mark job %s interrupted at exit: %s", state.id, one_line(exc))


_EXITING: list[bool] = []


def one_line(exc: BaseException) -> str:
    """The first line of what the database driver (or the error) said."""
    said = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (said[0] if said else type(exc).__name__)[:200]


def _at_exit() -> None:
    """Best effort: mark the jobs this process runs interrupted, without waiting out a
    database that has stopped (no retries) and with one line, not a traceback, if not."""
    from storage.retry import no_retries

    _EXITING.append(True)
    for executor in list(_WATCHED):
        try:
            if executor._owned():
                with no_retries():
                    stop(executor, wait=EXIT_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - best effort at exit: said in one line
            log.warning("could not mark the running jobs interrupted at exit (%s); they "
                        "will read as interrupted once their heartbeat is stale", one_line(exc))

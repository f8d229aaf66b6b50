"""The process's executor for a store: the in-process worker thread, or the Celery queue
when MTEDIT_QUEUE_URL is set; one per store (and backend, or queue), shared by every
chat session of the process."""

from __future__ import annotations

import threading

from agent.jobs.celery_queue import QueueExecutor
from agent.jobs.executor import Executor
from mtedit.settings import Settings

_EXECUTORS: dict[tuple, Executor] = {}
_LOCK = threading.Lock()


def make_executor(store, settings: Settings, backend=None) -> Executor:
    """The process-wide executor for this store: Celery workers when settings.queue_url is
    set, else the in-process worker thread (on `backend`, when one is given)."""
    if settings.queue_url:
        key = (store.url, str(store.data_dir), settings.queue_url, settings.queue_name)
        make = lambda: QueueExecutor(store, settings)
    else:
        key = (store.url, str(store.data_dir), id(backend) if backend is not None else None)
        make = lambda: Executor(store, backend, settings=settings)
    with _LOCK:
        if key not in _EXECUTORS:
            _EXECUTORS[key] = make()
        return _EXECUTORS[key]

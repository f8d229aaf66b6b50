"""The heartbeat of the jobs a process owns: a thread refreshes them every HEARTBEAT_S
seconds (a job whose heartbeat stops belongs to nobody and is interrupted by its next
reader, agent/jobs/recovery.py) and passes on the cancels other processes asked for."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from agent.jobs.failures import log_failure
from storage.jobs import HEARTBEAT_S
from storage.records import JOB_ACTIVE

log = logging.getLogger(__name__)


class Heartbeat:
    """Beats for owned() (job ids) while there are any; beaten({job id: cancel asked}) gets
    each answer. Only jobs in one of `statuses` are beaten (a submitter beats for its
    jobs while they are queued, a runner while they run)."""

    def __init__(self, store, owned: Callable[[], list[str]],
                 beaten: Callable[[dict[str, bool]], None],
                 statuses: Sequence[str] = JOB_ACTIVE):
        self.store = store
        self.owned = owned
        self.beaten = beaten
        self.statuses = tuple(statuses)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Start the thread if it is not running (never call while holding a lock that
        owned() takes)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="mtedit-heartbeat",
                                                daemon=True)
                self._thread.start()

    def _beat(self) -> None:
        while True:
            ids = self.owned()
            if not ids:
                with self._lock:
                    if not self.owned():
                        self._thread = None
                        return
                continue
            try:
                alive = self.store.heartbeat(ids, statuses=self.statuses)
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log_failure(log, "heartbeat failed", exc=exc)
                alive = {}
            self.beaten(alive)
            time.sleep(HEARTBEAT_S)

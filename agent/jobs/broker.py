"""Handing job ids to the broker so that none is lost: a send never fails the page (Redis
may be restarting: the job stays recorded and is sent later), and each send notes which
Redis took it (its run id, new at every start), so a job sent to a Redis that restarted
without its data is sent again. A job sent twice runs once: a worker takes a job only
with an atomic queued -> running update (storage.start_job).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_CLIENTS: dict[str, object] = {}
_LOCK = threading.Lock()
TASK = "mtedit.run_job"
_APPS: dict[str, object] = {}


def celery_app(url: str):
    """The Celery application for a broker URL (one per process and URL)."""
    from celery import Celery

    with _LOCK:
        app = _APPS.get(url)
        if app is None:
            app = Celery("mtedit", broker=url, set_as_current=False)
            app.conf.update(
                task_serializer="json", accept_content=["json"], task_ignore_result=True,
                task_acks_late=True,  # the running job holds the worker's one slot
                task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                worker_disable_prefetch=True, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False, worker_send_task_events=False,
                broker_transport_options={"visibility_timeout": 3600},
            )
            _APPS[url] = app
        return app


def run_id(url: str) -> str | None:
    """The Redis server's run id (it changes whenever Redis starts); None when it cannot
    be reached."""
    import redis

    with _LOCK:
        client = _CLIENTS.get(url)
        if client is None:
            client = _CLIENTS[url] = redis.Redis.from_url(
                url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return str(client.info("server")["run_id"])
    except Exception:  # noqa: BLE001 - down or restarting: try again later
        return None


def deliver(store, settings, job_id: str) -> bool:
    """Send the job's id to the queue and record where it went; False (nothing raised)
    when the broker cannot be reached: whoever beats for the job sends it again."""
    broker = run_id(settings.queue_url)
    if broker is None:
        log.warning("the queue at %s cannot be reached; job %s is sent when it is back",
                    settings.queue_url, job_id)
        return False
    try:
        celery_app(settings.queue_url).send_task(TASK, args=[job_id], queue=settings.queue_name)
    except Exception:
        log.warning("could not send job %s to the queue; it is sent again later", job_id,
                    exc_info=True)
        return False
    try:
        store.mark_sent(job_id, broker)
    except Exception:
        log.warning("could not record that job %s was sent", job_id, exc_info=True)
    return True


def send_missing(store, settings, job_ids) -> None:
    """Send the given jobs (this process's queued ones) that the broker does not hold:
    never sent (the broker was down, or the runner of the job before them could not send
    them) or sent to a Redis that has restarted since."""
    broker = run_id(settings.queue_url)
    if broker is None:
        return
    try:
        jobs = store.jobs_to_send(job_ids, broker)
    except Exception:
        log.warning("could not read the jobs waiting for the queue", exc_info=True)
        return
    for job in jobs:
        deliver(store, settings, job.id)

"""`mtedit worker`: a Celery worker that runs edit jobs from the queue on one device.

    MTEDIT_QUEUE_URL=redis://host:6379/0 MTEDIT_DATABASE_URL=postgresql+psycopg://... \
    MTEDIT_DATA_DIR=/shared/mtedit mtedit worker --device cuda:1

The solo pool (CUDA does not survive a fork): one job at a time per process; start one
worker per GPU. The store is opened (and its blob folder checked against the database)
and the model loaded once, in worker_process_init, before the first job is taken.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys

from agent.jobs import shutdown
from mtedit.settings import Settings

log = logging.getLogger(__name__)

_STATE: dict[str, object] = {}


def _start(settings: Settings) -> None:
    """Open the store and load the model (once per worker process)."""
    if "executor" in _STATE:
        return
    from agent.jobs.backends import load_backend
    from agent.jobs.executor import Executor
    from agent.jobs.recovery import reap
    from storage import Store

    store = Store.from_settings(settings)
    backend = load_backend(settings)
    _STATE["store"] = store
    _STATE["executor"] = Executor(store, backend, settings=settings)
    reap(store)
    log.info("mtedit worker ready: model %s on %s, store %s", settings.model, settings.device,
             store)


def run_job(job_id: str) -> str:
    """The task: run one job, then send the job queued behind it (if any)."""
    from agent.jobs.celery_queue import send_ready
    from agent.jobs.recovery import reap

    settings: Settings = _STATE["settings"]
    _start(settings)
    store, executor = _STATE["store"], _STATE["executor"]
    reap(store)
    view = executor.run_job(job_id)
    for follower in store.followers(job_id):
        send_ready(store, settings, follower.id)
    return view.status if view is not None else "skipped"


def make_worker_app(settings: Settings):
    from celery import signals

    from agent.jobs.broker import TASK, celery_app

    app = celery_app(settings.queue_url)
    app.task(name=TASK)(run_job)
    _STATE["settings"] = settings

    @signals.worker_process_init.connect(weak=False)
    def _load(**_kw):
        _start(settings)

    @signals.worker_shutting_down.connect(weak=False)
    def _stop(**_kw):  # SIGTERM: the job stops at its next model call, marked interrupted
        if (executor := _STATE.get("executor")) is not None:
            shutdown.request(executor)

    return app


def cmd_worker(args) -> int:
    overrides = {"device": args.device} if args.device else {}
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        print(f"mtedit worker: {exc}", file=sys.stderr)
        return 2
    if args.queue:
        settings = dataclasses.replace(settings, queue_name=args.queue)
    if not settings.queue_url:
        print("mtedit worker: set MTEDIT_QUEUE_URL (e.g. redis://localhost:6379/0)",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, args.loglevel.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        _start(settings)  # fail loudly here (wrong blob folder, missing model), not per job
    except Exception as exc:  # noqa: BLE001 - a message, not a trace
        print(f"mtedit worker: {exc}", file=sys.stderr)
        return 1
    app = make_worker_app(settings)
    name = args.name or f"mtedit-{settings.device}-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(["worker", "--pool=solo", "--concurrency=1", "-Q", settings.queue_name,
                     "-n", name, "--without-gossip", "--without-mingle",
                     "-l", args.loglevel])
    return 0


def register(sub) -> None:
    p = sub.add_parser("worker", help="run edit jobs from the queue (MTEDIT_QUEUE_URL)",
                       description="A Celery worker (solo pool) that loads the model once and "
                                   "runs edit jobs submitted by the app; one per GPU.")
    p.add_argument("--device", help="device for this worker's model, e.g. cuda:1 "
                                    "(default: MTEDIT_DEVICE)")
    p.add_argument("--queue", help="queue to read (default: MTEDIT_QUEUE_NAME, 'mtedit')")
    p.add_argument("--name", help="worker name shown by Celery")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

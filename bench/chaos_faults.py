"""The seeded fault schedule of a chaos run and the thread that carries it out.

Kinds: kill_worker (SIGKILL a worker, start a new one), kill_app (SIGKILL an app server,
start it again), redis_aof (kill Redis, start it again from its append-only file: the
jobs waiting in it survive), redis_lost (kill Redis and delete that file: everything it
held is lost), pg_crash (stop PostgreSQL at once while a transaction is open, start it
again: open transactions roll back, every client loses its connections). Faults run one
after another; each waits for what it restarted to be up again.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass

from bench.chaos_cluster import Cluster

KINDS = ("kill_worker", "kill_app", "redis_aof", "redis_lost", "pg_crash")
WEIGHTS = (0.3, 0.2, 0.15, 0.15, 0.2)


@dataclass
class Fault:
    at: float  # seconds after the phase started
    kind: str
    down_s: float  # how long the thing stays down before it is started again
    target: int = 0  # which worker / app
    started: float | None = None  # wall clock, when it was done
    ended: float | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def schedule(seed: int, count: int, seconds: float, workers: int, apps: int) -> list[Fault]:
    """`count` faults at seeded times in the first 85 % of the phase; every kind at least
    once when count allows, the rest drawn by WEIGHTS."""
    rng = random.Random(f"faults:{seed}")
    kinds = list(KINDS)[:count]
    rng.shuffle(kinds)
    kinds += rng.choices(KINDS, WEIGHTS, k=max(0, count - len(kinds)))
    times = sorted(rng.uniform(0.05, 0.85) * seconds for _ in range(count))
    out = []
    for t, kind in zip(times, kinds, strict=True):
        down = {"kill_worker": rng.uniform(0.5, 3), "kill_app": rng.uniform(1, 3),
                "redis_aof": rng.uniform(0.2, 2), "redis_lost": rng.uniform(0.2, 2),
                "pg_crash": rng.uniform(0.5, 2)}[kind]
        target = rng.randrange(workers if kind == "kill_worker" else apps)
        out.append(Fault(round(t, 2), kind, round(down, 2), target))
    return out


class FaultRunner:
    """Carries out a schedule from `start()` on, in one thread."""

    def __init__(self, cluster: Cluster, faults: list[Fault], store=None):
        self.cluster, self.faults, self.store = cluster, faults, store
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="faults")
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.time()
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        for f in self.faults:
            delay = self._t0 + f.at - time.time()
            if delay > 0:
                time.sleep(delay)
            f.started = time.time()
            try:
                self._do(f)
            except Exception as exc:  # noqa: BLE001 - reported with the figures
                self.errors.append(f"{f.kind} at {f.at}: {exc}")
            f.ended = time.time()

    def _do(self, f: Fault) -> None:
        c = self.cluster
        if f.kind in ("kill_worker", "kill_app"):
            procs = c.workers if f.kind == "kill_worker" else c.apps
            p = procs[f.target % len(procs)]
            busy = self._wait_busy(p)
            c.kill(p)
            f.note = f"{p.name} " + ("in the middle of work" if busy else "idle")
            time.sleep(f.down_s)
            c.restart(p)
        elif f.kind in ("redis_aof", "redis_lost"):
            c.restart_redis(keep_data=f.kind == "redis_aof", down_s=f.down_s)
        elif f.kind == "pg_crash":  # while a transaction is open
            caught = c.restart_postgres(f.down_s)
            f.note = "a transaction was open" if caught else "no transaction was open"

    def _wait_busy(self, p, limit_s: float = 5.0) -> bool:
        """Wait (up to limit_s) until the app server is answering a request, or the
        worker is in the middle of a job (a model call done), so the kill hits work."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if p.kind == "app" and p.sending > 0:
                return True
            if p.kind == "worker" and self.store is not None and p.proc is not None:
                try:
                    running = self.store.list_jobs(status="running")
                except Exception:  # noqa: BLE001 - the database is restarting
                    running = []
                if any((j.worker or "").endswith(f":{p.proc.pid}") and j.done > 0
                       for j in running):
                    return True
            time.sleep(0.01 if p.kind == "app" else 0.05)
        return False

"""The processes of a chaos run: a private Redis (append-only file on) and PostgreSQL, app
servers (bench.chaos_app) and `mtedit worker`s on the bundled model, each of which can
be killed and started again; and the HTTP client the scripted users talk through."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mtedit.servers import RedisServer, free_port, private_postgres, stop

ROOT = Path(__file__).resolve().parents[1]


class AppDown(Exception):
    """The app server did not answer (killed, restarting): the page lost its server."""


class AppCrash(Exception):
    """The app server answered with an exception (a red error box in the browser)."""

    def __init__(self, body: dict):
        super().__init__(f"{body.get('exception')}: {body.get('text')}")
        self.body = body


@dataclass
class Proc:
    """One app server or worker: its command, and the process running it now."""

    kind: str  # "app" | "worker"
    name: str
    log: Path
    proc: subprocess.Popen | None = None
    port: int = 0
    starts: int = 0
    up: threading.Event = field(default_factory=threading.Event)
    sending: int = 0  # requests (/send) it is answering now
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.up.is_set()


class Cluster:
    """Starts, kills and restarts the servers and processes of one run."""

    def __init__(self, folder: Path, *, apps: int, workers: int, stale_s: float,
                 model: str | None = None):
        self.folder = folder
        self.stale_s = stale_s
        self.model = model
        self.redis = RedisServer(folder / "redis", appendonly=True)
        self._pg_cm = private_postgres()
        self.pg = None
        self.apps = [Proc("app", f"app{i}", folder / f"app{i}.log") for i in range(apps)]
        self.workers = [Proc("worker", f"w{i}", folder / f"w{i}.log") for i in range(workers)]
        self.env: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- whole cluster -------------------------------------------------------------------

    def start(self) -> None:
        self.redis.start()
        self.pg = self._pg_cm.__enter__()
        self.database_url = self.pg.create_database(f"chaos_{secrets.token_hex(4)}")
        self.data_dir = self.folder / "shared"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
        env.update(MTEDIT_QUEUE_URL=self.redis.url, MTEDIT_QUEUE_NAME="chaos",
                   MTEDIT_DATABASE_URL=self.database_url, MTEDIT_DATA_DIR=str(self.data_dir),
                   MTEDIT_DEVICE="cpu", MTEDIT_DTYPE="float32",
                   MTEDIT_JOB_STALE_S=str(self.stale_s), OMP_NUM_THREADS="1",
                   HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
                       os.pathsep))
        if self.model:
            env["MTEDIT_MODEL"] = self.model
        self.env = env
        from storage import Store

        Store.open(self.database_url, self.data_dir).close()  # migrated once, up front
        for p in self.workers + self.apps:
            self.spawn(p)
        for p in self.workers + self.apps:
            self.wait_up(p)

    def close(self) -> None:
        stop(*[p.proc for p in self.apps + self.workers if p.proc is not None], grace=15)
        self.redis.stop()
        self._pg_cm.__exit__(None, None, None)

    # -- processes -----------------------------------------------------------------------

    def spawn(self, p: Proc) -> None:
        p.up.clear()
        p.starts += 1
        log = open(p.log, "a")  # noqa: SIM115 - the child holds it
        log.write(f"\n--- start {p.starts} at {time.time():.3f}\n")
        log.flush()
        if p.kind == "app":
            p.port = free_port()
            cmd = [sys.executable, "-m", "bench.chaos_app", str(p.port)]
        else:
            cmd = [sys.executable, "-m", "mtedit", "worker", "--name",
                   f"{p.name}-{p.starts}@chaos", "--loglevel", "info"]
        p.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log,
                                  stderr=subprocess.STDOUT)
        log.close()

    def wait_up(self, p: Proc, timeout: float = 300) -> None:
        """Until the app listens / the worker has loaded its model and reached the broker
        (Celery's "ready.")."""
        deadline = time.monotonic() + timeout
        marker = "ready " if p.kind == "app" else "ready."
        proc = p.proc
        while True:
            text = p.log.read_text(errors="replace")
            last = text[text.rfind("--- start"):]
            if marker in last:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{p.name} exited: {last[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{p.name} did not start: {last[-3000:]}")
            time.sleep(0.1)
        p.up.set()

    def kill(self, p: Proc) -> None:
        p.up.clear()
        if p.proc is not None and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()

    def restart(self, p: Proc) -> None:
        self.spawn(p)
        self.wait_up(p)

    # -- servers -------------------------------------------------------------------------

    def restart_redis(self, keep_data: bool, down_s: float) -> None:
        self.redis.kill(keep_data=keep_data)
        time.sleep(down_s)
        self.redis.start()

    def pg_transactions(self) -> int:
        """Transactions open now on the run's database (other than this query's)."""
        import psycopg

        dbname = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg.port}/postgres",
                             autocommit=True, connect_timeout=3) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND xact_start "
                "IS NOT NULL AND pid <> pg_backend_pid()", (dbname,)).fetchone()[0]

    def restart_postgres(self, down_s: float, catch_s: float = 3.0) -> bool:
        """Crash PostgreSQL while a transaction is open (waits up to catch_s for one),
        then start it again; True when one was open at the crash."""
        caught = False
        deadline = time.monotonic() + catch_s
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the server is busy or restarting
                caught = self.pg_transactions() > 0
            if caught:
                break
            time.sleep(0.005)
        self.pg.crash()
        time.sleep(down_s)
        self.pg.start()
        return caught

    # -- the users' side -----------------------------------------------------------------

    def live_app(self, prefer: int) -> Proc | None:
        for i in range(len(self.apps)):
            p = self.apps[(prefer + i) % len(self.apps)]
            if p.alive:
                return p
        return None


def call(app: Proc, path: str, body: dict, timeout: float = 60.0) -> dict:
    """POST to an app server; AppDown when it is not there, AppCrash on an exception."""
    if not app.alive:
        raise AppDown(app.name)
    if path == "/send":
        with app.lock:
            app.sending += 1
    try:
        return _post(app, path, body, timeout)
    finally:
        if path == "/send":
            with app.lock:
                app.sending -= 1


def _post(app: Proc, path: str, body: dict, timeout: float) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{app.port}{path}",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 500:
            raise AppCrash(json.loads(exc.read() or b"{}")) from None
        raise AppDown(f"{app.name}: HTTP {exc.code}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        raise AppDown(f"{app.name}: {exc}") from None

"""Private Redis and PostgreSQL servers for tests and benchmarks: a temporary folder, a
free loopback port, started and stopped by the caller. Uses Debian's `redis-server` and
`postgresql` packages (`apt-get install -y redis-server postgresql`); PostgreSQL refuses
to run as root, so as root it runs as the `postgres` system user (runuser).

    with private_redis(tmp) as url: ...        # redis://127.0.0.1:PORT/0
    with private_postgres() as pg:            # pg.url(): postgresql+psycopg://...
        url = pg.create_database("t1")
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INSTALL_HINT = "install them with: sudo apt-get install -y redis-server postgresql"


class ServerMissing(RuntimeError):
    """The server's program is not installed on this machine."""


def stop(*procs: subprocess.Popen, grace: float = 10.0) -> None:
    """Ask processes to end (SIGTERM), then kill the ones still there after `grace` s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 30.0,
               log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} did not start on port {port}: {tail}")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def private_redis(folder: Path | str) -> Iterator[str]:
    """A redis-server on a free loopback port, no persistence; yields its URL."""
    exe = redis_binary()
    if exe is None:
        raise ServerMissing(f"redis-server is not installed; {INSTALL_HINT}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "redis.log"
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder), "--logfile", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc, "redis-server", log=log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


class PrivatePostgres:
    def __init__(self, port: int, folder: Path):
        self.port, self.folder = port, folder

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + pg_ctl start in a new temporary folder (under the system temp folder,
    which the postgres user can reach) on a free loopback port (trust auth, user
    postgres); stopped and removed on exit."""
    bindir = postgres_bindir()
    if bindir is None:
        raise ServerMissing(f"PostgreSQL (initdb) is not installed; {INSTALL_HINT}")
    folder = Path(tempfile.mkdtemp(prefix="mtedit-pg-"))
    data = folder / "pgdata"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = free_port()
    log = folder / "postgres.log"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    opts = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200")
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts,
                    "-l", str(log), "-w", "start"], check=True, capture_output=True)
    try:
        _wait_port(port, None, "PostgreSQL", log=log)
        yield PrivatePostgres(port, folder)
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

"""Private Redis and PostgreSQL servers for tests and benchmarks: a temporary folder, a
free loopback port, started and stopped by the caller. Uses Debian's `redis-server` and
`postgresql` packages (`apt-get install -y redis-server postgresql`); PostgreSQL refuses
to run as root, so as root it runs as the `postgres` system user (runuser).

    with private_redis(tmp) as url: ...        # redis://127.0.0.1:PORT/0
    with private_postgres() as pg:            # pg.url(): postgresql+psycopg://...
        url = pg.create_database("t1")

Both can be stopped hard and started again on the same port (fault injection):
`RedisServer.kill()` / `start()`, `PrivatePostgres.crash()` / `start()`.
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


class RedisServer:
    """A redis-server on a fixed loopback port and folder that can be killed and started
    again. appendonly=True keeps an append-only file (fsync on every write), so what it
    held survives a kill; `kill(keep_data=False)` also removes that file."""

    def __init__(self, folder: Path | str, *, appendonly: bool = False):
        exe = redis_binary()
        if exe is None:
            raise ServerMissing(f"redis-server is not installed; {INSTALL_HINT}")
        self.exe, self.folder, self.appendonly = exe, Path(folder), appendonly
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.folder / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = (["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly
               else ["--appendonly", "no"])
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof,
             "--dir", str(self.folder), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait_port(self.port, self.proc, "redis-server", log=self.log)

    def kill(self, keep_data: bool = True) -> None:
        """SIGKILL; keep_data=False also deletes the append-only file (all is lost)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not keep_data:
            shutil.rmtree(self.folder / "appendonlydir", ignore_errors=True)
            for name in ("appendonly.aof", "dump.rdb"):
                (self.folder / name).unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@contextmanager
def private_redis(folder: Path | str, *, appendonly: bool = False) -> Iterator[str]:
    """A redis-server on a free loopback port (no persistence unless appendonly); yields
    its URL."""
    server = RedisServer(folder, appendonly=appendonly)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


class PrivatePostgres:
    def __init__(self, port: int, folder: Path, bindir: Path | None = None,
                 as_user: list[str] | None = None):
        self.port, self.folder = port, folder
        self.bindir, self.as_user = bindir, list(as_user or [])

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D",
                        str(self.folder / "pgdata"), *args], check=check, capture_output=True)

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")
        self._ctl("-o", opts, "-l", str(self.folder / "postgres.log"), "-w", "start")
        _wait_port(self.port, None, "PostgreSQL", log=self.folder / "postgres.log")

    def crash(self) -> None:
        """Stop at once, as a power cut would: open transactions are lost (rolled back
        by the recovery at the next start), clients lose their connections."""
        self._ctl("-m", "immediate", "stop", check=False)


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
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    server = PrivatePostgres(free_port(), folder, bindir, as_user)
    server.start()
    try:
        yield server
    finally:
        server.crash()
        shutil.rmtree(folder, ignore_errors=True)

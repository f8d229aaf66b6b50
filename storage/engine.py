"""Engine creation and schema migration.

SQLite gets WAL mode (readers never block the writer), foreign keys, a 30 s busy
timeout, and BEGIN IMMEDIATE for write transactions, so two processes writing one
file queue for the lock instead of failing with "database is locked". Other URLs
(PostgreSQL for shared use) are used as they are.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from storage.errors import StorageError, StorageFullError, StorageReadOnlyError
from storage.space import (
    full_message,
    is_full,
    is_read_only,
    read_only_message,
    said_when_full,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
WRITE = {"sqlite_begin": "IMMEDIATE"}  # execution options of write transactions


def normalize_url(db: str | Path) -> str:
    """A SQLAlchemy URL, or a path to a SQLite file turned into one."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


class DatabaseUnavailable(StorageError):
    """The database cannot be opened: a bad URL, a missing driver, an unreachable server."""


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(url, pool_pre_ping=True)
    except ArgumentError as exc:
        raise DatabaseUnavailable(f"not a database URL: {exc}") from None
    except (NoSuchModuleError, ImportError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot use database {shown}: {exc} (is its driver "
                                  "installed?)") from None
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        with said_when_full("the database", folder):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if is_full(exc):
                    raise
                raise DatabaseUnavailable(f"cannot create the folder {folder} for the database "
                                          f"file: {exc.strerror or exc}") from None
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


@contextmanager
def opening(store) -> Iterator[None]:
    """Open `store` (connect, migrate, check its identity) with failures said in words: a
    full disk names the database, an unreachable or unusable database names its URL."""
    shown = make_url(store.url).render_as_string(hide_password=True)
    try:
        yield
    except StorageError:
        store.engine.dispose()
        raise
    except Exception as exc:
        store.engine.dispose()
        if is_full(exc):
            raise StorageFullError(full_message("the database", shown)) from None
        if is_read_only(exc):
            raise StorageReadOnlyError(read_only_message("the database", shown)) from None
        if isinstance(exc, (DBAPIError, sqlite3.Error)):
            orig = getattr(exc, "orig", None) or exc
            reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
            raise DatabaseUnavailable(f"cannot open the database {shown}: {reason}") from None
        raise


def setting_named(exc: Exception, database_url: str | None) -> str:
    """The error's text with the setting that chose the database."""
    if database_url:
        return f"{exc} (the database comes from the setting database_url, MTEDIT_DATABASE_URL)"
    return f"{exc} (the database file in the data folder, setting data_dir, MTEDIT_DATA_DIR)"


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN; _sqlite_begin does
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _wal(cur)
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _wal(cur) -> None:
    """Switch the file to WAL once. The switch needs an exclusive lock and SQLite may
    answer "database is locked" at once, without its busy handler, while another
    process creates or migrates the same new file: retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(conn) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(connection=None) -> Config:
    """Alembic configuration built in code: no alembic.ini needed in the working folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (no-op when already there), in one write transaction."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with engine.execution_options(**WRITE).begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def migration_sql(url: str, revision: str = "head") -> str:
    """The DDL that brings an empty database of `url`'s dialect to `revision`, as text
    (nothing is connected: for reviewing or applying by hand on a shared server)."""
    import contextlib
    import io

    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    out = io.StringIO()
    cfg.output_buffer = out
    with contextlib.redirect_stdout(out):
        command.upgrade(cfg, revision, sql=True)
    return out.getvalue()

"""Safe collection of orphan blobs, and the checks doctor makes of the database itself.

Blob collection lock: a writer that stores a node re-puts any of the node's blobs that
is missing *inside* its write transaction, holding this lock shared; doctor deletes
orphans inside a write transaction holding it exclusively, after re-reading which blobs
are referenced. So either the writer's node committed first (doctor sees it and keeps
the blob) or doctor's deletions come first (the writer sees the blob gone and writes it
again before committing). On SQLite, BEGIN IMMEDIATE already makes write transactions
exclusive; on PostgreSQL a transaction-scoped advisory lock does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.models import ImageNodeRow, MessageRow
from storage.walks import find_cycles

if TYPE_CHECKING:
    from storage.repository import Store

LOCK_KEY = 0x6D7465646974  # "mtedit": the advisory lock's number on PostgreSQL
MAX_LINES = 20


def hold_blobs(s: Session, exclusive: bool = False) -> None:
    """Take the blob collection lock for the rest of the transaction of `s`."""
    if s.get_bind().dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        s.execute(text(f"SELECT {fn}(:key)"), {"key": LOCK_KEY})


def collect_orphans(store: Store, candidates: list[str], grace: float) -> list[str]:
    """Delete those of `candidates` that no node references and that are at least `grace`
    seconds old; returns the hashes deleted."""
    removed = []
    with store.transaction() as s:
        hold_blobs(s, exclusive=True)
        referenced = set()
        for row in s.execute(select(ImageNodeRow.image_sha256, ImageNodeRow.latent_sha256,
                                    ImageNodeRow.mask_sha256)):
            referenced.update(row)  # image, latent and region mask
        for sha in candidates:
            if sha not in referenced and store.blobs.age(sha) >= grace:
                store.blobs.delete(sha)
                removed.append(sha)
    return removed


def database_problems(store: Store) -> list[str]:
    """SQLite's integrity_check and foreign_key_check, as lines; [] when both pass (and
    for other databases, which check themselves)."""
    if store.engine.dialect.name != "sqlite":
        return []
    out: list[str] = []
    try:
        with store.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if rows != ["ok"]:
                out.extend(f"integrity_check: {r}" for r in rows[:MAX_LINES])
            for table, rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
                if len(out) >= MAX_LINES:
                    break
                out.append(f"foreign_key_check: {table} row {rowid} refers to a missing "
                           f"{parent} row")
    except DBAPIError as exc:
        out.append(f"integrity_check: the database cannot be read ({exc.orig})")
    return out


def tree_problems(store: Store) -> list[str]:
    """Cycles and dangling parents in the image lineage and the message tree."""
    out: list[str] = []
    try:
        with store.reading() as s:
            nodes = s.execute(select(ImageNodeRow.id, ImageNodeRow.parent_id,
                                     ImageNodeRow.conversation_id)).all()
            messages = s.execute(select(MessageRow.id, MessageRow.parent_message_id,
                                        MessageRow.conversation_id)).all()
    except DBAPIError as exc:
        return [f"the trees cannot be read ({exc.orig})"]
    for what, rows in (("image node", nodes), ("message", messages)):
        conv_of = {r[0]: r[2] for r in rows}
        parents = {r[0]: r[1] for r in rows}
        for ident, parent, conv in rows:
            if parent is not None and parent not in conv_of:
                out.append(f"{what} {ident}: its parent {parent} does not exist")
            elif parent is not None and conv_of[parent] != conv:
                out.append(f"{what} {ident}: its parent {parent} is in another conversation")
        for cycle in find_cycles(parents):
            out.append(f"{what}s {' -> '.join(cycle)} form a cycle (each is the other's "
                       "ancestor)")
    return out[: MAX_LINES * 2]

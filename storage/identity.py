"""The store's identity: one id in the database (table store_meta) and the same id in a
marker file in the blob folder. Several processes and machines share a store (app
servers, workers): a process given a blob folder that is not the one the database's
blobs live in must fail at start, loudly, instead of writing blobs nobody else can read.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.errors import StoreMismatchError
from storage.models import ImageNodeRow, StoreMetaRow
from storage.paths import check_inside
from storage.space import said_when_full

if TYPE_CHECKING:
    from storage.repository import Store

MARKER = ".store-id"
KEY = "store_id"


def check_blob_folder(store: Store) -> str:
    """The store's id; writes it on first use. StoreMismatchError when the blob folder
    carries another store's id, or carries none while the database already holds images."""
    folder = store.blobs.root
    marker = check_inside(folder, folder / MARKER)  # a link is refused, never read
    on_disk = marker.read_text().strip() if marker.is_file() else None
    with store.reading() as s:
        in_db = s.scalar(select(StoreMetaRow.value).where(StoreMetaRow.key == KEY))
        some_blob = s.scalar(select(ImageNodeRow.image_sha256).limit(1))
    has_nodes = some_blob is not None
    shown = store.url.split("@")[-1]
    if in_db is None:
        if on_disk is not None and _has_blobs(folder):
            raise StoreMismatchError(
                f"the blob folder {folder} belongs to another store (id {on_disk}) and the "
                f"database {shown} has no id yet; point MTEDIT_DATA_DIR at this database's "
                "own data folder")
        new = on_disk or secrets.token_hex(8)
        try:
            with store.transaction() as s:
                s.add(StoreMetaRow(key=KEY, value=new))
        except IntegrityError:  # another process wrote it first
            pass
        with store.reading() as s:
            in_db = s.scalar(select(StoreMetaRow.value).where(StoreMetaRow.key == KEY))
    if on_disk is None:  # a new store, or one made before ids: adopted if its blobs are here
        if has_nodes and not store.blobs.exists(some_blob):
            raise StoreMismatchError(
                f"the blob folder {folder} is not this database's ({shown}, store id "
                f"{in_db}): it has no {MARKER} file while the database holds images. Point "
                "MTEDIT_DATA_DIR at the shared data folder the other processes use")
        _write_marker(folder, in_db)
    elif on_disk != in_db:
        raise StoreMismatchError(
            f"the blob folder {folder} belongs to store {on_disk}, but the database {shown} "
            f"is store {in_db}: point MTEDIT_DATA_DIR at the data folder this database's "
            "blobs live in (shared storage for several machines)")
    return in_db


def _has_blobs(folder) -> bool:
    return folder.is_dir() and any(p.name != MARKER for p in folder.iterdir())


def _write_marker(folder, store_id: str) -> None:
    with said_when_full("the data folder", folder.parent):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{MARKER}-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o644)
        try:
            with open(fd, "w") as f:
                f.write(store_id + "\n")
            os.replace(tmp, folder / MARKER)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

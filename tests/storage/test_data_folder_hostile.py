"""Hostile data folders: links out of it, a database file deleted or replaced under a
running process, a full disk, a bad database setting."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from storage import Store
from storage.cli import run as mtedit
from storage.doctor import check
from storage.errors import BlobMissingError, StorageError
from storage.testing import make_png
from storage.transfer import export_conversation, import_conversation


@pytest.fixture
def store(tmp_path):
    with Store.open(data_dir=tmp_path / "data") as s:
        yield s


def planted(tmp_path: Path, store: Store, shard: str = "ff") -> tuple[Path, Path]:
    """A shard folder that is a link to a folder outside, holding a file named like a
    blob (an orphan, as doctor would see it if it followed the link)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / ("f" * 62)
    victim.write_bytes(b"someone else's file")
    store.blobs.root.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, store.blobs.root / shard)
    return outside, victim


# -- links out of the data folder ------------------------------------------------------


def test_doctor_fix_never_deletes_through_a_linked_shard_folder(store, tmp_path, capsys):
    conv = store.create_conversation("c")
    store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    _, victim = planted(tmp_path, store)
    stale = victim.with_name(".tmp-somehost-1-abcd")
    stale.write_bytes(b"looks like a temp file")
    os.utime(stale, (0, 0))
    report = check(store, fix=True, grace=0)
    assert victim.read_bytes() == b"someone else's file"
    assert stale.exists()
    assert not report.removed_orphans and not report.removed_temp
    assert report.links == [store.blobs.root / "ff"] and not report.ok
    assert mtedit(["doctor", "--db", store.url, "--fix", "--grace", "0"]) == 1
    out = capsys.readouterr().out
    assert "never follows links" in out and "removed" not in out
    assert victim.exists() and stale.exists()


def test_a_blob_file_that_is_a_link_is_missing_not_followed(store, tmp_path):
    conv = store.create_conversation("c")
    node = store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    path = store.blobs.path(node.image_sha256)
    elsewhere = tmp_path / "copy.png"
    shutil.copy(path, elsewhere)
    path.unlink()
    os.symlink(elsewhere, path)
    with pytest.raises(BlobMissingError, match="symbolic link"):
        store.read_image(node)
    assert store.blobs.verify(node.image_sha256) == "missing"
    report = check(store, fix=True, grace=0)
    assert node.image_sha256 in report.missing and path in report.links
    assert elsewhere.exists()
    # storing the same image again replaces the link with a real file, never writes through it
    store.add_upload(conv.id, make_png(8, 8, "a"), "again")
    assert not path.is_symlink() and store.read_image(node) == elsewhere.read_bytes()


def test_writes_refuse_a_linked_shard_folder(store, tmp_path):
    conv = store.create_conversation("c")
    png = make_png(8, 8, "x")
    from storage.blobs import sha256_hex

    outside, _ = planted(tmp_path, store, shard=sha256_hex(png)[:2])
    before = sorted(outside.iterdir())
    with pytest.raises(StorageError, match="never follows links"):
        store.add_upload(conv.id, png, "x")
    assert sorted(outside.iterdir()) == before
    assert store.nodes(conv.id) == []


def test_import_and_export_never_follow_a_link(store, tmp_path):
    conv = store.create_conversation("c")
    node = store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    good = export_conversation(store, conv.id, tmp_path / "good.zip")
    with Store.open(data_dir=tmp_path / "other") as other:
        outside, _ = planted(tmp_path, other, shard=node.image_sha256[:2])
        with pytest.raises(StorageError, match="never follows links"):
            import_conversation(other, good)
        assert other.counts()["conversations"] == 0
        assert [p.name for p in outside.iterdir()] == ["f" * 62]
    path = store.blobs.path(node.image_sha256)
    target = tmp_path / "target.png"
    shutil.copy(path, target)
    path.unlink()
    os.symlink(target, path)
    with pytest.raises(StorageError, match="symbolic link"):
        export_conversation(store, conv.id, tmp_path / "leak.zip")
    assert not list(tmp_path.glob("leak.zip*"))


def test_a_blob_folder_that_is_a_link_is_refused_at_open(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", data / "blobs")
    with pytest.raises(StorageError, match="never follows links"):
        Store.open(data_dir=data)


def test_the_store_id_marker_is_never_read_through_a_link(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    marker = store.blobs.root / ".store-id"
    marker.unlink()
    os.symlink(secret, marker)
    store.close()
    with pytest.raises(StorageError) as err:
        Store.open(data_dir=store.data_dir)
    assert "top secret" not in str(err.value) and "never follows links" in str(err.value)


@pytest.mark.parametrize("grace", ["-5", "nan", "inf", "soon"])
def test_doctor_grace_must_be_a_number_of_seconds(store, grace, capsys):
    with pytest.raises(SystemExit) as exit_:
        mtedit(["doctor", "--db", store.url, "--fix", "--grace", grace])
    assert exit_.value.code == 2
    assert "not a number of seconds from 0" in capsys.readouterr().err


# -- the database file deleted or replaced under a running process ------------------------


def db_file(store: Store) -> Path:
    return Path(store.url.removeprefix("sqlite:///"))


def remove_database(store: Store) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file(store)}{suffix}").unlink(missing_ok=True)


def test_a_deleted_database_file_is_noticed_not_recreated(store):
    conv = store.create_conversation("c")
    store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    remove_database(store)
    for write in (lambda: store.create_conversation("after"),
                  lambda: store.add_message(conv.id, "user", "hello"),
                  lambda: store.add_upload(conv.id, make_png(8, 8, "b"), "b")):
        with pytest.raises(StorageError, match="was deleted while mtedit was using it"):
            write()
    with pytest.raises(StorageError, match="was deleted"):
        store.list_conversations()
    assert not db_file(store).exists()  # no fresh empty file hiding the history


def test_a_database_replaced_by_another_store_is_refused(store, tmp_path):
    store.create_conversation("mine")
    with Store.open(data_dir=tmp_path / "other") as other:
        other.create_conversation("theirs")
        theirs = db_file(other)
    remove_database(store)
    shutil.copy(theirs, db_file(store))
    with pytest.raises(StorageError, match="replaced by another database"):
        store.create_conversation("lost")
    con = sqlite3.connect(db_file(store))
    assert [r[0] for r in con.execute("SELECT title FROM conversations")] == ["theirs"]
    con.close()


def test_a_backup_of_the_same_store_restored_in_place_is_used(store, tmp_path):
    store.create_conversation("before the backup")
    backup = tmp_path / "backup.db"
    con = sqlite3.connect(db_file(store))
    con.execute(f"VACUUM INTO '{backup}'")
    con.close()
    store.create_conversation("after the backup")
    remove_database(store)
    shutil.copy(backup, db_file(store))
    store.create_conversation("after the restore")
    assert sorted(c.title for c in store.list_conversations()) == [
        "after the restore", "before the backup"]


# -- a full disk --------------------------------------------------------------------------


def full_database(monkeypatch, pages: int) -> None:
    """New SQLite connections may grow the file to `pages` pages only: SQLite then answers
    "database or disk is full" exactly as on a full disk."""
    from storage import engine

    real = engine._sqlite_connect

    def connect(dbapi_connection, record):
        real(dbapi_connection, record)
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(engine, "_sqlite_connect", connect)


def test_a_full_disk_at_start_is_said_in_words(tmp_path, monkeypatch, capsys):
    full_database(monkeypatch, 2)
    from storage.errors import StorageFullError

    with pytest.raises(StorageFullError, match="disk holding the database .* is full"):
        Store.open(data_dir=tmp_path / "data")
    assert mtedit(["import", "--db", str(tmp_path / "data" / "x.db"), __file__]) == 1
    err = capsys.readouterr().err
    assert "is full" in err and "Free some space" in err and "Traceback" not in err


def test_a_full_disk_during_writes_loses_nothing(store, monkeypatch):
    from storage.errors import StorageFullError

    conv = store.create_conversation("c")
    root = store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    from sqlalchemy import event

    pages = sqlite3.connect(db_file(store)).execute("PRAGMA page_count").fetchone()[0]

    def limit(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 4}")

    event.listen(store.engine, "connect", limit)
    store.engine.dispose()  # connections opened from now on see the full disk
    with pytest.raises(StorageFullError, match="the database"):
        for i in range(200):
            store.add_message(conv.id, "user", "x" * 4000 + str(i))
    event.remove(store.engine, "connect", limit)
    store.engine.dispose()
    kept = len(store.messages(conv.id))
    assert 0 < kept < 200  # what was committed before the disk filled is all there
    # blobs: the data folder is full
    real_open = os.open

    def no_space(path, flags, *args, **kw):
        if ".tmp-" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", no_space)
    with pytest.raises(StorageFullError, match=f"the data folder .*{store.data_dir.name}"):
        store.add_edit(root.id, make_png(8, 8, "b"), None, caption="b")
    monkeypatch.undo()
    assert [n.id for n in store.nodes(conv.id)] == [root.id]
    assert store.read_image(root) == make_png(8, 8, "a")
    assert list(store.blobs.temp_files()) == []
    assert check(store).ok


def test_a_bad_database_setting_is_named_and_makes_no_data_folder(tmp_path, monkeypatch,
                                                                   capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(data))
    monkeypatch.setenv("MTEDIT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert mtedit(["history"]) == 1
    err = capsys.readouterr().err
    assert "MTEDIT_DATABASE_URL" in err and "cannot open the database" in err
    assert "OperationalError" not in err and "sqlalche.me" not in err
    assert not data.exists()


# -- a read-only database --------------------------------------------------------------


def test_a_read_only_database_is_said_in_words_and_loses_nothing(store, capsys):
    """A database file that cannot be written (a read-only disk, a read-only mount):
    writes are refused with one plain sentence naming it; reads still work."""
    conv = store.create_conversation("kept")
    node = store.add_upload(conv.id, make_png(8, 8, "up"), "a cat")
    db = store.url.removeprefix("sqlite:///")
    ro = Store.open(f"sqlite:///file:{db}?mode=ro&uri=true", store.data_dir)
    try:
        assert ro.read_image(node.id) == store.read_image(node.id)
        with pytest.raises(StorageError, match="is read-only, so nothing could be written"):
            ro.create_conversation("refused")
    finally:
        ro.close()
    assert [c.title for c in store.list_conversations()] == ["kept"]
    assert mtedit(["doctor", "--fix", "--db", f"sqlite:///file:{db}?mode=ro&uri=true",
                   "--data-dir", str(store.data_dir)]) in (0, 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sqlite3." not in err and "OperationalError" not in err


def test_the_chat_checks_a_read_only_database_without_a_traceback(store, caplog,
                                                                    monkeypatch):
    from agent.jobs.recovery import reap
    from storage.errors import StorageReadOnlyError

    def refuse(*args, **kwargs):
        raise StorageReadOnlyError("the database (x.db) is read-only, so nothing could be "
                                   "written")

    monkeypatch.setattr(store, "interrupt_stale_jobs", refuse)
    assert reap(store) == []
    said = [r for r in caplog.records if "interrupted jobs" in r.getMessage()]
    assert said and all(r.exc_info is None for r in said)  # one line, no traceback
    assert "read-only" in said[0].getMessage()

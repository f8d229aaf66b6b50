"""Hostile cases for `mtedit doctor`: collection racing writers, a damaged database file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storage import Store
from storage.cli import run as mtedit
from storage.doctor import check
from storage.testing import make_png

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    with Store.open(data_dir=tmp_path / "data") as s:
        yield s


def missing_blobs(store: Store) -> list[str]:
    return [sha for sha in store.referenced_blobs() if not store.blobs.exists(sha)]


def test_fix_at_grace_0_never_takes_a_blob_a_committing_writer_uses(store):
    """The deadly moment: doctor has decided a blob is an orphan, a writer commits a node
    using it, then doctor deletes it. The writer must win or wait; the blob must stay."""
    conv = store.create_conversation("race")
    root = store.add_upload(conv.id, make_png(8, 8, "root"), "root")
    png, latent = make_png(8, 8, "edit"), os.urandom(4096)
    store.blobs.put(png)  # the writer has put its blobs; its node is not committed yet
    store.blobs.put(latent)
    writer_done = threading.Event()

    def writer():
        store.add_edit(root.id, png, latent, caption="edited", instruction="edit")
        writer_done.set()

    real_delete = store.blobs.delete
    started = []

    def delete(sha):
        if not started:  # doctor is about to delete: let the writer commit right now
            started.append(threading.Thread(target=writer))
            started[0].start()
            writer_done.wait(2.0)  # a correct doctor holds the writers off: this times out
        real_delete(sha)

    store.blobs.delete = delete
    report = check(store, fix=True, grace=0)
    started[0].join(60)
    assert writer_done.is_set()
    assert report.removed_orphans  # it did collect
    assert missing_blobs(store) == []
    assert check(store).ok


DOCTOR_LOOP = r"""
import sys, time
from pathlib import Path
from storage import Store
from storage.doctor import check
store = Store.open(data_dir=sys.argv[1])
stop, ready = Path(sys.argv[2]), Path(sys.argv[3])
runs = 0
while not stop.exists():
    check(store, fix=True, grace=0)
    runs += 1
    ready.touch()
print(runs)
"""


def test_fix_at_grace_0_beside_concurrent_writers_loses_nothing(store, tmp_path):
    """`doctor --fix --grace 0` in a loop in another process while two threads store
    edits whose blobs were left as orphans (same content, deduplicated)."""
    conv = store.create_conversation("busy")
    root = store.add_upload(conv.id, make_png(8, 8, "root"), "root")
    pngs = [make_png(8, 8, f"p{i}") for i in range(60)]
    for data in pngs:
        store.blobs.put(data)  # orphans now; the writers will use exactly these bytes
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTEDIT_")}
    doctor = subprocess.Popen([sys.executable, "-c", DOCTOR_LOOP, str(store.data_dir), str(stop),
                               str(ready)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)

    def write(part):
        for data in part:
            store.add_edit(root.id, data, os.urandom(1 << 18), caption="c", instruction="i",
                           set_head=False)
            for sha in (store.blobs.put(b"x" + data),):  # more orphans to sweep
                assert sha

    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        threads = [threading.Thread(target=write, args=(pngs[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
    finally:
        stop.touch()
        out, _ = doctor.communicate(timeout=120)
    assert int(out.strip()) > 1
    assert missing_blobs(store) == []


def damage_messages_page(db: Path) -> None:
    """Overwrite the b-tree header of the messages table's root page (as a flipped sector
    would); the row data the doctor reads for blobs stays readable."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='messages'").fetchone()[0]
    con.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size + 3)
        f.write(b"\xff\xf0")  # the number of cells on the page


def test_doctor_fails_on_a_damaged_database_file(store, tmp_path, capsys):
    conv = store.create_conversation("c")
    store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    for i in range(5):
        store.add_message(conv.id, "user", f"message {i}")
    db = Path(store.url.removeprefix("sqlite:///"))
    store.close()
    damage_messages_page(db)
    with Store.open(db) as again:
        report = check(again)
    assert report.damaged and report.database
    assert mtedit(["doctor", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "integrity_check" in out and "DAMAGED" in out


def test_doctor_fails_on_rows_whose_foreign_keys_point_nowhere(store, capsys):
    conv = store.create_conversation("c")
    node = store.add_upload(conv.id, make_png(8, 8, "a"), "a")
    db = Path(store.url.removeprefix("sqlite:///"))
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = OFF")
    con.execute("UPDATE image_nodes SET parent_id = 'ffffffffffffffff' WHERE id = ?", (node.id,))
    con.commit()
    con.close()
    report = check(store)
    assert report.damaged
    assert mtedit(["doctor", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "foreign_key_check" in out and "image_nodes" in out

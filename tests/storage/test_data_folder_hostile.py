"""Hostile data folders: links out of it, a database file deleted or replaced under a
running process, a full disk, a bad database setting."""

from __future__ import annotations

import os
import shutil
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

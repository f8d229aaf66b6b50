"""A node's region mask (the region its edit was limited to): a PNG blob of the node,
read back, never collected as an orphan, reported when missing, exported and imported
(checked as a PNG of the node's size); an older database gains the column."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from PIL import Image

from storage import Store
from storage.doctor import check
from storage.engine import current_revision, make_engine, upgrade
from storage.errors import InvalidImageError
from storage.limits import LimitError
from storage.manifest import ManifestError
from storage.testing import make_latent, make_png
from storage.transfer import export_conversation, import_conversation


def mask_png(width: int = 8, height: int = 8, box=(2, 2, 5, 6)) -> bytes:
    img = Image.new("L", (width, height), 0)
    img.paste(255, box)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _lineage(store, mask: bytes | None = None):
    conv = store.create_conversation("shapes")
    up = store.add_upload(conv.id, make_png(8, 8, "up"), "a red circle")
    edit = store.add_edit(up.id, make_png(8, 8, "e"), make_latent("e"), "a blue circle",
                          "make the circle blue", mask=mask or mask_png())
    return conv, up, edit


def test_the_mask_is_a_blob_of_the_node(store):
    _conv, up, edit = _lineage(store)
    assert up.mask_sha256 is None and store.read_mask(up) is None  # an upload has none
    assert edit.mask_sha256 and store.read_mask(edit.id) == mask_png()
    assert store.get_node(edit.id).mask_sha256 == edit.mask_sha256
    assert store.referenced_blobs()[edit.mask_sha256] == [edit.id]


def test_a_mask_that_is_not_a_png_of_the_image_size_is_refused(store):
    _conv, up, _ = _lineage(store)
    before = store.counts()["image_nodes"]
    for bad in (mask_png(16, 8), b"not a png at all"):
        with pytest.raises(InvalidImageError, match="mask"):
            store.add_edit(up.id, make_png(8, 8, "x"), None, "x", mask=bad)
    assert store.counts()["image_nodes"] == before


def test_doctor_keeps_a_mask_and_says_when_it_is_missing(store):
    _, _, edit = _lineage(store)
    report = check(store, fix=True, grace=0)
    assert report.ok and edit.mask_sha256 not in report.removed_orphans
    assert store.blobs.exists(edit.mask_sha256)
    store.blobs.path(edit.mask_sha256).unlink()
    report = check(store)
    assert report.missing == {edit.mask_sha256: [edit.id]} and report.damaged


def test_the_mask_travels_in_an_export(tmp_path, store):
    conv, _, edit = _lineage(store)
    path = export_conversation(store, conv.id, tmp_path / "shapes.zip")
    with zipfile.ZipFile(path) as zf:
        assert f"blobs/{edit.mask_sha256}" in zf.namelist()
    with Store.open(data_dir=tmp_path / "other") as other:
        copy = import_conversation(other, path)
        nodes = other.nodes(copy.id)
        assert nodes[1].mask_sha256 == edit.mask_sha256
        assert other.read_mask(nodes[1]) == mask_png()
        assert check(other, fix=True, grace=0).ok and other.read_mask(nodes[1])


def _with_mask_blob(path, tmp_path, data: bytes):
    """The export with the node's mask replaced by `data` (its hash and blob)."""
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    out = tmp_path / "changed.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        doc = json.loads(src.read("conversation.json"))
        old = doc["nodes"][1]["mask_sha256"]
        doc["nodes"][1]["mask_sha256"] = sha
        dst.writestr("conversation.json", json.dumps(doc))
        for name in src.namelist():
            if name not in ("conversation.json", f"blobs/{old}"):
                dst.writestr(name, src.read(name))
        dst.writestr(f"blobs/{sha}", data)
    return out


def test_an_imported_mask_is_checked_like_an_image(tmp_path, store):
    conv, _, _ = _lineage(store)
    path = export_conversation(store, conv.id, tmp_path / "shapes.zip")
    with Store.open(data_dir=tmp_path / "other") as other:
        before = other.counts()
        with pytest.raises(ManifestError, match="region mask is 16x8"):
            import_conversation(other, _with_mask_blob(path, tmp_path, mask_png(16, 8)))
        with pytest.raises(LimitError, match="not a PNG"):
            import_conversation(other, _with_mask_blob(path, tmp_path, make_latent("m")))
        assert other.counts() == before
        assert check(other).orphans == []  # a refused import leaves no blob behind


def test_a_database_of_revision_0007_gains_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'mtedit.db'}"
    engine = make_engine(url)
    upgrade(engine, "0007")
    assert "mask_sha256" not in {c["name"] for c in sa.inspect(engine).get_columns("image_nodes")}
    engine.dispose()
    with Store.open(url, tmp_path) as store:
        assert current_revision(store.engine) == "0008"
        _, up, edit = _lineage(store)
        assert store.get_node(up.id).mask_sha256 is None
        assert store.read_mask(edit) == mask_png()

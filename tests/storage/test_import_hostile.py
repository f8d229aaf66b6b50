"""Hostile imports and damaged trees: limits while streaming, blob kinds, cycles."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from storage import Store
from storage.cli import run as mtedit
from storage.doctor import check
from storage.errors import StorageError
from storage.testing import make_png
from storage.transfer import export_conversation, import_conversation


@pytest.fixture
def store(tmp_path):
    with Store.open(data_dir=tmp_path / "data") as s:
        yield s


@pytest.fixture
def export(store, tmp_path):
    """A three-node, three-message conversation exported to a zip."""
    conv = store.create_conversation("source")
    up = store.add_upload(conv.id, make_png(8, 8, "up"), "a cat")
    latent = fake_latent()
    a = store.add_edit(up.id, make_png(8, 8, "a"), latent, caption="a cat, hat",
                       instruction="add a hat")
    store.add_edit(a.id, make_png(8, 8, "b"), None, caption="a cat, hat, red",
                   instruction="make it red")
    m1 = store.add_message(conv.id, "user", "hello", node_ids=[up.id])
    m2 = store.add_message(conv.id, "assistant", "done", node_ids=[a.id])
    store.add_message(conv.id, "user", "thanks", parent_id=m2.id)
    assert m1.id
    return export_conversation(store, conv.id, tmp_path / "good.zip")


def fake_latent() -> bytes:
    """A real safetensors file (as editing_core.latent_to_bytes writes), built by hand."""
    body = os.urandom(4 * 16)
    header = json.dumps({"latent": {"dtype": "F32", "shape": [1, 1, 4, 4],
                                    "data_offsets": [0, len(body)]}}).encode()
    return len(header).to_bytes(8, "little") + header + body


def rewrite(src: Path, dst: Path, change=None, blobs: dict[str, bytes] | None = None) -> Path:
    """Copy an export, editing its manifest with change(doc) and adding/replacing blobs."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        doc = json.loads(zin.read("conversation.json"))
        if change:
            change(doc)
        zout.writestr("conversation.json", json.dumps(doc))
        for name in zin.namelist():
            if name.startswith("blobs/") and name.removeprefix("blobs/") not in (blobs or {}):
                zout.writestr(name, zin.read(name))
        for sha, data in (blobs or {}).items():
            zout.writestr(f"blobs/{sha}", data)
    return dst


def refused(store: Store, path: Path, match: str, **kw) -> None:
    before = store.counts()
    with pytest.raises(StorageError, match=match):
        import_conversation(store, path, **kw)
    assert store.counts() == before  # nothing stored


def test_a_good_export_still_imports(store, export):
    conv = import_conversation(store, export)
    nodes = store.nodes(conv.id)
    assert [n.depth for n in nodes] == [0, 1, 2]
    assert len(store.messages(conv.id)) == 3


def test_a_small_zip_that_unpacks_huge_is_stopped_while_streaming(store, export, tmp_path):
    zeros = bytes(80 * 2**20)  # 80 MiB of zeros: ~80 KB deflated
    sha = hashlib.sha256(zeros).hexdigest()

    def use_it(doc):
        doc["nodes"][1]["latent_sha256"] = sha

    bomb = rewrite(export, tmp_path / "bomb.zip", use_it, {sha: zeros})
    assert bomb.stat().st_size < 1_000_000
    refused(store, bomb, "unpacks to more than 64.0 MB")
    assert not store.blobs.exists(sha)


def test_the_archive_limit_is_a_setting(store, export, monkeypatch, capsys):
    refused(store, export, "import limit", max_bytes=2000)
    monkeypatch.setenv("MTEDIT_IMPORT_MAX_MB", "1")
    big = export.with_name("padded.zip")
    with zipfile.ZipFile(export) as zin, zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        junk = os.urandom(1_200_000)
        zout.writestr(f"blobs/{hashlib.sha256(junk).hexdigest()}", junk)
    refused(store, big, "import_max_mb")
    assert mtedit(["import", "--db", store.url, str(big)]) == 1
    assert "MTEDIT_IMPORT_MAX_MB" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["image", "latent"])
def test_a_blob_must_be_the_kind_its_row_says(store, export, tmp_path, kind):
    junk = b"#!/bin/sh\necho this is not a picture\n" * 10
    sha = hashlib.sha256(junk).hexdigest()

    def swap(doc):
        doc["nodes"][1]["image_sha256" if kind == "image" else "latent_sha256"] = sha

    refused(store, rewrite(export, tmp_path / "kind.zip", swap, {sha: junk}),
            f"should be the {kind} of a node")


def self_parent(doc):
    doc["nodes"][0]["parent_id"] = doc["nodes"][0]["id"]


def node_cycle(doc):
    doc["nodes"][0]["parent_id"] = doc["nodes"][2]["id"]


def message_self_parent(doc):
    doc["messages"][1]["parent_id"] = doc["messages"][1]["id"]


def dangling_node(doc):
    doc["nodes"][1]["parent_id"] = "0123456789abcdef"


def dangling_message(doc):
    doc["messages"][2]["parent_id"] = "0123456789abcdef"


@pytest.mark.parametrize(
    "change, match",
    [(self_parent, "cycle"), (node_cycle, "cycle"), (message_self_parent, "cycle"),
     (dangling_node, "not in the archive"), (dangling_message, "not in the archive")],
    ids=["node-own-parent", "node-cycle", "message-own-parent", "dangling-node",
         "dangling-message"],
)
def test_broken_trees_are_refused_at_import(store, export, tmp_path, change, match):
    refused(store, rewrite(export, tmp_path / "broken.zip", change), match)


def test_walks_over_a_damaged_database_stop_and_doctor_names_the_cycle(store, export, capsys):
    conv = import_conversation(store, export)
    nodes = store.nodes(conv.id)
    messages = store.messages(conv.id)
    db = Path(store.url.removeprefix("sqlite:///"))
    con = sqlite3.connect(db)
    con.execute("UPDATE image_nodes SET parent_id = ? WHERE id = ?", (nodes[2].id, nodes[0].id))
    con.execute("UPDATE messages SET parent_message_id = id WHERE id = ?", (messages[0].id,))
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="loop"):
        store.path(nodes[1].id)
    with pytest.raises(StorageError, match="loop"):
        store.message_path(messages[0].id)
    from agent.lineage import walks as lineage

    with pytest.raises(StorageError, match="loop"):
        lineage.path(store.nodes(conv.id), nodes[1].id)
    assert len(lineage.subtree(store.nodes(conv.id), nodes[0].id)) == 2  # finite
    report = check(store)
    assert report.damaged and any("cycle" in line for line in report.trees)
    assert mtedit(["doctor", "--db", str(db)]) == 1
    assert "form a cycle" in capsys.readouterr().out


# -- one schema for the whole document, checked before anything is written --------------


def evil_node(doc):
    doc["nodes"][1].update(width=-1, height=10**12, kind="evil")


def huge_node(doc):
    doc["nodes"][1].update(width=100_000, height=100_000)


def wrong_size(doc):
    doc["nodes"][1].update(width=16, height=16)  # its PNG is 8x8


def set_(key, value, where="doc"):
    def change(doc):
        target = {"doc": doc, "conv": doc["conversation"], "msg": doc["messages"][0],
                  "node": doc["nodes"][0]}[where]
        target[key] = value

    change.__name__ = f"{where}-{key}-{value!r}"[:40]
    return change


SCHEMA_CASES = [
    (evil_node, r"nodes\[1\]\.kind"),
    (huge_node, "width"),
    (wrong_size, "its image is 8x8"),
    (set_("conversation", [1, 2]), "conversation"),
    (set_("meta", [1, 2], "msg"), r"messages\[0\]\.meta"),
    (set_("version", True), "version must be a whole number"),
    (set_("version", -7), "version"),
    (set_("version", 3), "version"),
    (set_("role", "root", "msg"), "role"),
    (set_("kind", "shell", "msg"), r"messages\[0\]\.kind"),
    (set_("seed", -1, "node"), "seed"),
    (set_("seed", 1.5, "node"), "seed"),
    (set_("timings", {"total": "soon"}, "node"), "timings"),
    (set_("created_at", 12, "node"), "created_at"),
    (set_("head_node_id", "0123456789abcdef", "conv"), "head"),
    (set_("node_ids", ["0123456789abcdef"], "msg"), "not in the archive"),
    (set_("nodes", {"a": 1}), "nodes"),
    (set_("caption", 42, "node"), "caption"),
]


@pytest.mark.parametrize("change, match", SCHEMA_CASES,
                         ids=[change.__name__ for change, _ in SCHEMA_CASES])
def test_the_whole_document_is_checked_against_one_schema(store, export, tmp_path, change,
                                                          match):
    """Values of the wrong type or range, unknown kinds, a version that is a boolean:
    refused with the field named, no traceback, no row, no blob left behind."""
    other_dir = tmp_path / "fresh"
    with Store.open(data_dir=other_dir) as fresh:
        bad = rewrite(export, tmp_path / "bad.zip", change)
        refused(fresh, bad, match)
        assert list(fresh.blobs) == []  # nothing written, or everything taken back


def test_a_refused_import_takes_back_every_blob_it_wrote(store, export, tmp_path):
    """The archive's first blobs are good; the last is not what its row says: the good ones
    written meanwhile are removed again."""
    junk = b"not a latent at all" * 10
    sha = hashlib.sha256(junk).hexdigest()

    def swap(doc):
        doc["nodes"][-1]["latent_sha256"] = sha

    with Store.open(data_dir=tmp_path / "fresh") as fresh:
        refused(fresh, rewrite(export, tmp_path / "late.zip", swap, {sha: junk}),
                "should be the latent")
        assert list(fresh.blobs) == []
        assert check(fresh).ok


def test_text_from_an_archive_is_cleaned_of_control_characters(store, export, tmp_path):
    def escapes(doc):
        doc["conversation"]["title"] = "\x1b[2J\x1b[31mowned\u202e"
        doc["nodes"][0]["caption"] = "a cat\x1b]0;title\x07 on a mat\x00"
        doc["messages"][0]["text"] = "hello \x1b[1mthere\x1b[0m"

    conv = import_conversation(store, rewrite(export, tmp_path / "esc.zip", escapes))
    assert conv.title == "owned"
    assert store.nodes(conv.id)[0].caption == "a cat on a mat"
    assert store.messages(conv.id)[0].text == "hello there"


def test_an_export_with_a_missing_blob_refuses_clearly_and_leaves_nothing(store, tmp_path):
    conv = store.create_conversation("c")
    up = store.add_upload(conv.id, make_png(8, 8, "up"), "a cat")
    edit = store.add_edit(up.id, make_png(8, 8, "e"), fake_latent(), caption="c")
    store.blobs.path(edit.latent_sha256).unlink()
    out = tmp_path / "out"
    with pytest.raises(StorageError, match=f"latent of node {edit.id}.*missing.*mtedit doctor"):
        export_conversation(store, conv.id, out / "X.zip")
    assert list(out.iterdir()) == []  # no X.zip, no X.zip.part
    assert mtedit(["export", "--db", store.url, conv.id, "-o", str(out / "X.zip")]) == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("depth", [40, 200_000])
def test_a_manifest_nested_absurdly_deep_is_refused_in_words(store, export, tmp_path, depth,
                                                              capsys):
    with zipfile.ZipFile(export) as zin:
        doc = json.loads(zin.read("conversation.json"))
    doc["conversation"]["settings"] = {"x": "NESTED"}  # a field the schema leaves free
    deep = tmp_path / "deep.zip"
    with zipfile.ZipFile(export) as zin, zipfile.ZipFile(deep, "w", zipfile.ZIP_DEFLATED) as zout:
        nested = "[" * depth + "]" * depth
        zout.writestr("conversation.json", json.dumps(doc).replace('"NESTED"', nested))
        for name in zin.namelist():
            if name.startswith("blobs/"):
                zout.writestr(name, zin.read(name))
    refused(store, deep, "nested deeper than 32 levels")
    assert mtedit(["import", "--db", store.url, str(deep)]) == 1
    err = capsys.readouterr().err
    assert "nested deeper" in err and "Traceback" not in err


def test_a_field_of_the_wrong_shape_is_said_without_class_names(store, export, tmp_path):
    bad = rewrite(export, tmp_path / "shape.zip", lambda doc: doc.update(conversation=[1, 2]))
    with pytest.raises(StorageError) as refused:
        import_conversation(store, bad)
    said = str(refused.value)
    assert "conversation: Input should be a valid dictionary" in said
    assert "ConversationDoc" not in said and "instance of" not in said

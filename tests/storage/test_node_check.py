"""A node's check (what came back for it): stored after the node, read back, exported and
imported with it; an older database gains the column with nothing in it."""

from __future__ import annotations

import json
import zipfile

import pytest
import sqlalchemy as sa

from storage import Store
from storage.engine import current_revision, make_engine, upgrade
from storage.manifest import ManifestError
from storage.testing import make_latent, make_png
from storage.transfer import export_conversation, import_conversation

CHECK = {"verdict": "missed", "reader": "toyworld.reader",
         "asked": [{"what": "a small white triangle at the top", "met": False,
                    "seen": "nothing at the top"}],
         "change": {"inside": 0.31, "outside": None}}


def _lineage(store):
    conv = store.create_conversation("shapes")
    up = store.add_upload(conv.id, make_png(8, 8, "up"), "a red circle")
    edit = store.add_edit(up.id, make_png(8, 8, "e"), make_latent("e"), "a red circle and a "
                          "white triangle", "add a white triangle")
    return conv, up, edit


def test_a_check_is_stored_on_the_node_and_read_back(store):
    conv, _up, edit = _lineage(store)
    assert edit.check_result is None  # unchecked until the runner says what came back
    stored = store.set_check(edit.id, CHECK)
    assert stored.check_result == CHECK
    assert store.get_node(edit.id).check_result == CHECK
    assert [n.check_result for n in store.nodes(conv.id)] == [None, CHECK]
    with pytest.raises(TypeError):
        store.set_check(edit.id, {"not json": object()})
    assert store.get_node(edit.id).check_result == CHECK  # a refused write changes nothing


def test_the_check_travels_in_an_export(tmp_path, store):
    conv, _, edit = _lineage(store)
    store.set_check(edit.id, CHECK)
    path = export_conversation(store, conv.id, tmp_path / "shapes.zip")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("conversation.json"))
    assert doc["nodes"][1]["check_result"] == CHECK
    with Store.open(data_dir=tmp_path / "other") as other:
        copy = import_conversation(other, path)
        assert [n.check_result for n in other.nodes(copy.id)] == [None, CHECK]


def _rewritten(path, tmp_path, change) -> object:
    out = tmp_path / "changed.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "conversation.json":
                doc = json.loads(data)
                change(doc)
                data = json.dumps(doc).encode()
            dst.writestr(name, data)
    return out


def test_an_imported_check_is_cleaned_and_bounded(tmp_path, store):
    conv, _, _edit = _lineage(store)
    path = export_conversation(store, conv.id, tmp_path / "shapes.zip")

    def hostile(doc):
        doc["nodes"][1]["check_result"] = {"verdict": "hit\x1b[31m",
                                           "asked": [{"what": "a \u202eshape", "met": True}]}

    with Store.open(data_dir=tmp_path / "other") as other:
        copy = import_conversation(other, _rewritten(path, tmp_path, hostile))
        got = other.nodes(copy.id)[1].check_result
        assert got == {"verdict": "hit", "asked": [{"what": "a shape", "met": True}]}

        def huge(doc):
            doc["nodes"][1]["check_result"] = {"seen": "x" * 30_000}

        before = other.counts()
        with pytest.raises(ManifestError, match="check_result"):
            import_conversation(other, _rewritten(path, tmp_path, huge))
        assert other.counts() == before


def test_a_database_of_revision_0005_gains_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'mtedit.db'}"
    engine = make_engine(url)
    upgrade(engine, "0005")
    assert "check_result" not in {c["name"] for c in sa.inspect(engine).get_columns("image_nodes")}
    engine.dispose()
    with Store.open(url, tmp_path) as store:
        assert current_revision(store.engine) == "0008"
        _, up, edit = _lineage(store)
        assert store.get_node(up.id).check_result is None
        assert store.set_check(edit.id, CHECK).check_result == CHECK

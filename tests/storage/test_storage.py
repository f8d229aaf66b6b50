"""Lineage, rollback, messages, plans, jobs, export/import, delete and corrupt blobs."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

from storage import (
    BlobCorruptError,
    BlobMissingError,
    InvalidImageError,
    NotFoundError,
    StorageError,
    Store,
)
from storage.cli import run as mtedit
from storage.doctor import check
from storage.testing import make_latent, make_png
from storage.transfer import export_conversation, import_conversation


def edit(store, parent, instruction, caption=None, seed=None, **kw):
    """Add an edit with a unique image and latent."""
    seed = seed if seed is not None else f"{parent}-{instruction}"
    return store.add_edit(
        parent, make_png(8, 6, seed), make_latent(seed),
        caption=caption or f"a cat, {instruction}", instruction=instruction,
        target_prompt=caption or f"a cat, {instruction}", preset="mtc",
        params={"steps": 8, "eta": 0.9}, seed=7, model_id="tiny", timings={"edit": 1.5}, **kw,
    )


@pytest.fixture
def tree(store):
    """upload -> hat -> red hat ; upload -> winter -> snow ; hat -> scarf."""
    conv = store.create_conversation("cat")
    up = store.add_upload(conv.id, make_png(8, 6, "up"), "a cat on a sofa")
    hat = edit(store, up.id, "add a hat", "a cat with a hat on a sofa")
    red = edit(store, hat.id, "make the hat red", "a cat with a red hat on a sofa")
    winter = edit(store, up.id, "make it winter", "a cat on a sofa in winter")
    snow = edit(store, winter.id, "add snow", "a cat on a sofa in winter, snow falling")
    scarf = edit(store, hat.id, "add a scarf", "a cat with a hat and a scarf")
    return conv, {"up": up, "hat": hat, "red": red, "winter": winter, "snow": snow, "scarf": scarf}


def ids(nodes):
    return [n.id for n in nodes]


def test_lineage_queries_on_branched_tree(store, tree):
    conv, n = tree
    assert ids(store.path(n["red"].id)) == [n["up"].id, n["hat"].id, n["red"].id]
    assert ids(store.path(n["snow"].id)) == [n["up"].id, n["winter"].id, n["snow"].id]
    assert ids(store.children(n["up"].id)) == [n["hat"].id, n["winter"].id]
    assert ids(store.children(n["hat"].id)) == [n["red"].id, n["scarf"].id]
    assert {x.root_id for x in n.values()} == {n["up"].id}
    assert [n[k].depth for k in ("up", "hat", "red", "snow")] == [0, 1, 2, 2]
    assert store.get_conversation(conv.id).head_node_id == n["scarf"].id
    assert store.head(conv.id) == n["scarf"]
    node = store.get_node(n["red"].id)
    assert (node.kind, node.preset, node.params, node.seed) == ("edit", "mtc", {"steps": 8, "eta": 0.9}, 7)
    assert (node.width, node.height, node.timings) == (8, 6, {"edit": 1.5})
    assert store.read_image(node) == make_png(8, 6, f"{n['hat'].id}-make the hat red")
    assert store.read_latent(node.id) == make_latent(f"{n['hat'].id}-make the hat red")
    assert store.read_latent(n["up"]) is None


def test_find_nodes_most_recent_first_on_path_or_everywhere(store, tree):
    conv, n = tree
    # a phrase is split into words (every word must match), whole conversation,
    # most recent first; the store drops no words (the agent decides what matters)
    assert ids(store.find_nodes(conv.id, "hat")) == [n["scarf"].id, n["red"].id, n["hat"].id]
    assert ids(store.find_nodes(conv.id, "the hat")) == [n["red"].id]
    assert store.find_nodes(conv.id, "before the hat") == []
    # on the path of the head (scarf): red hat is on another branch
    assert ids(store.find_nodes(conv.id, ["hat"], within=n["scarf"].id)) == [
        n["scarf"].id, n["hat"].id
    ]
    assert ids(store.find_nodes(conv.id, ["hat"], within=n["snow"].id)) == []
    assert ids(store.find_nodes(conv.id, ["red", "hat"])) == [n["red"].id]
    assert ids(store.find_nodes(conv.id, ["red", "snow"], match="any")) == [n["snow"].id, n["red"].id]
    # whole words only: "hat" is not found inside "that"; plurals are found
    other = store.create_conversation()
    up = store.add_upload(other.id, make_png(seed="o"), "that sofa")
    assert store.find_nodes(other.id, "hat") == []
    hats = edit(store, up.id, "add two hats")
    assert ids(store.find_nodes(other.id, "hat")) == [hats.id]


def test_rollback_then_edit_creates_sibling_and_keeps_old_branch(store, tree):
    conv, n = tree
    before = {x.id for x in store.nodes(conv.id)}
    store.set_head(conv.id, n["hat"].id)  # "go back to when it had the hat"
    assert store.head(conv.id).id == n["hat"].id
    assert {x.id for x in store.nodes(conv.id)} == before  # nothing deleted
    glasses = edit(store, store.head(conv.id).id, "add glasses")
    assert glasses.parent_id == n["hat"].id and glasses.root_id == n["up"].id
    assert ids(store.children(n["hat"].id)) == [n["red"].id, n["scarf"].id, glasses.id]
    assert store.get_node(n["red"].id) == n["red"]  # the old branch is intact
    assert store.read_image(n["red"]) == make_png(8, 6, f"{n['hat'].id}-make the hat red")
    assert store.head(conv.id).id == glasses.id
    assert store.children(glasses.id) == [] and store.children(n["red"].id) == []
    with pytest.raises(StorageError):
        store.set_head(store.create_conversation().id, n["hat"].id)  # another conversation's node


def test_message_tree_branches_after_rollback(store, tree):
    conv, n = tree
    m1 = store.add_message(conv.id, "user", "add a hat")
    m2 = store.add_message(conv.id, "assistant", "done", node_ids=[n["hat"].id])
    m3 = store.add_message(conv.id, "user", "make the hat red")
    assert (m1.parent_id, m2.parent_id, m3.parent_id) == (None, m1.id, m2.id)
    m4 = store.add_message(conv.id, "user", "go back, make it winter instead", parent_id=m2.id)
    m5 = store.add_message(conv.id, "assistant", "ok", node_ids=[n["winter"].id])
    assert m5.parent_id == m4.id
    assert ids(store.message_path(m5.id)) == [m1.id, m2.id, m4.id, m5.id]
    assert ids(store.message_path(m3.id)) == [m1.id, m2.id, m3.id]
    assert [m.parent_id for m in (m3, m4)] == [m2.id, m2.id]  # two branches after m2
    assert store.get_message(m5.id).node_ids == (n["winter"].id,)
    assert len(store.messages(conv.id)) == 5 and store.latest_message(conv.id).id == m5.id
    plan = store.add_plan(m4.id, "make it winter", [{"instruction": "add snow"}], "offline")
    assert store.plans(conv.id, m4.id) == [plan] and store.get_plan(plan.id).steps[0]["instruction"] == "add snow"
    with pytest.raises(ValueError):
        store.add_message(conv.id, "robot", "x")


def test_message_kind_meta_settings_and_late_caption(store):
    """What the agent must remember is in columns: a message's kind and meta, the
    conversation's edit settings, a caption given after the upload."""
    conv = store.create_conversation("cat")
    up = store.add_upload(conv.id, make_png(seed="late"), "")
    user = store.add_message(conv.id, "user", "here is my cat")
    ask = store.add_message(conv.id, "assistant", "What does it show?", kind="ask",
                            meta={"caption_for": up.id, "instruction": "add a hat"})
    assert (user.kind, ask.kind, ask.meta["caption_for"]) == ("user", "ask", up.id)
    assert store.add_message(conv.id, "assistant", "hello").kind == "text"
    assert store.latest_message(conv.id, kind="ask") == ask
    assert store.latest_message(conv.id).text == "hello"
    assert store.messages(conv.id, kind="ask") == [ask]
    assert store.get_message(ask.id).meta == {"caption_for": up.id, "instruction": "add a hat"}
    with pytest.raises(TypeError):
        store.add_message(conv.id, "assistant", "x", meta={"bad": object()})

    assert store.set_caption(up.id, "a grey cat").caption == "a grey cat"
    assert store.get_node(up.id).caption == "a grey cat"
    with pytest.raises(NotFoundError):
        store.set_caption("nope", "x")

    assert store.get_conversation(conv.id).settings == {}
    store.set_settings(conv.id, {"steps": 3, "preset": "rf"})
    assert store.get_conversation(conv.id).settings == {"steps": 3, "preset": "rf"}
    with pytest.raises(TypeError):
        store.set_settings(conv.id, ["steps", 3])
    assert store.get_conversation(conv.id).settings == {"steps": 3, "preset": "rf"}


def test_conversations_create_list_rename_and_bad_input(store):
    a = store.create_conversation("first")
    b = store.create_conversation("second")
    assert ids(store.list_conversations()) == [b.id, a.id]
    store.rename_conversation(a.id, "renamed")
    assert store.list_conversations()[0].title == "renamed"
    assert store.latest_conversation().id == a.id
    with pytest.raises(NotFoundError):
        store.get_conversation("nope")
    with pytest.raises(NotFoundError):
        store.add_edit("nope", make_png(), None, "x")
    with pytest.raises(InvalidImageError):
        store.add_upload(a.id, b"GIF89a not a png at all....", "x")
    with pytest.raises(TypeError):
        store.add_upload(a.id, make_png(), "x", model_id=None, latent_bytes=object())
    assert store.nodes(a.id) == []


def test_jobs_survive_reopen_and_jobs_without_heartbeat_are_interrupted(tmp_path):
    data = tmp_path / "data"
    with Store.open(data_dir=data) as store:
        conv = store.create_conversation()
        job = store.create_job("edit", {"text": "add a hat"}, conv.id, total=12)
        store.update_job(job.id, status="running", done=5, stage="sample")
        done = store.create_job("edit", {"text": "x"}, conv.id)
        store.update_job(done.id, status="done", result_node_ids=["n1", "n2"])
    with Store.open(data_dir=data) as store:  # "page reload"
        active = store.list_jobs(conv.id, status=("queued", "running"))
        assert [(j.id, j.done, j.total, j.stage) for j in active] == [(job.id, 5, 12, "sample")]
        assert store.get_job(done.id).result_node_ids == ("n1", "n2")
        assert store.interrupt_stale_jobs() == []  # its heartbeat is recent
        with pytest.raises(ValueError):
            store.update_job(job.id, status="exploded")
        # nobody beats for it any more (a crash): reported failed, not running forever
        store.stale_s = 0.2
        time.sleep(0.3)
        assert [j.id for j in store.interrupt_stale_jobs()] == [job.id]
        failed = store.get_job(job.id)
        assert failed.status == "failed" and "interrupted" in failed.error and not failed.active


def test_export_import_round_trip(tmp_path, store, tree):
    conv, n = tree
    store.set_head(conv.id, n["winter"].id)
    m1 = store.add_message(conv.id, "user", "add a hat")
    m2 = store.add_message(conv.id, "assistant", "done", node_ids=[n["hat"].id, n["red"].id],
                           kind="edit", meta={"about": n["hat"].id, "count": 2})
    store.set_settings(conv.id, {"steps": 4})
    store.add_plan(m1.id, "add a hat", [{"instruction": "add a hat", "focus_words": ["hat"]}], "offline")
    zip_path = export_conversation(store, conv.id, tmp_path / "out" / "cat.zip")

    with Store.open(data_dir=tmp_path / "other") as other:
        copy = import_conversation(other, zip_path)
        assert copy.id != conv.id and copy.title == "cat"
        src, dst = store.nodes(conv.id), other.nodes(copy.id)
        remap = dict(zip(ids(src), ids(dst)))
        assert len(src) == len(dst) and not set(remap) & set(remap.values())
        for a, b in zip(src, dst):
            assert b.parent_id == (remap[a.parent_id] if a.parent_id else None)
            assert b.root_id == remap[a.root_id]
            skip = {"id", "parent_id", "root_id", "conversation_id"}
            assert {k: v for k, v in vars(a).items() if k not in skip} == {
                k: v for k, v in vars(b).items() if k not in skip
            }
            assert other.read_image(b) == store.read_image(a)
            assert other.read_latent(b) == store.read_latent(a)
        assert copy.head_node_id == remap[n["winter"].id]
        msgs = other.messages(copy.id)
        assert [(m.role, m.text) for m in msgs] == [("user", "add a hat"), ("assistant", "done")]
        assert msgs[1].parent_id == msgs[0].id
        assert msgs[1].node_ids == (remap[n["hat"].id], remap[m2.node_ids[1]])
        assert [m.kind for m in msgs] == ["user", "edit"]
        assert msgs[1].meta == {"about": remap[n["hat"].id], "count": 2}
        assert copy.settings == {"steps": 4}
        plans = other.plans(copy.id)
        assert plans[0].message_id == msgs[0].id and plans[0].steps[0]["focus_words"] == ["hat"]
        assert check(other).ok
        # importing twice gives two independent copies
        again = import_conversation(other, zip_path)
        assert again.id != copy.id and len(other.nodes(again.id)) == len(src)
        with pytest.raises(StorageError):
            import_conversation(other, tmp_path / "out" / "missing.zip")
        # a damaged archive is refused as a whole: nothing half-imported
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(zip_path) as src_zip, zipfile.ZipFile(bad, "w") as dst_zip:
            doc = json.loads(src_zip.read("conversation.json"))
            del doc["nodes"][-1]["image_sha256"]
            dst_zip.writestr("conversation.json", json.dumps(doc))
        counts = other.counts()
        with pytest.raises(StorageError, match="malformed"):
            import_conversation(other, bad)
        assert other.counts() == counts


def test_corrupt_and_missing_blobs_are_detected(tmp_path, store, tree):
    conv, n = tree
    path = store.blobs.path(n["red"].image_sha256)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BlobCorruptError, match=n["red"].image_sha256):
        store.read_image(n["red"])
    store.blobs.path(n["snow"].latent_sha256).unlink()
    with pytest.raises(BlobMissingError):
        store.read_latent(n["snow"])
    report = check(store)
    assert report.corrupt == {n["red"].image_sha256: [n["red"].id]}
    assert report.missing == {n["snow"].latent_sha256: [n["snow"].id]}
    assert not report.ok
    assert store.read_image(n["hat"]) == make_png(8, 6, f"{n['up'].id}-add a hat")
    assert mtedit(["doctor", "--db", store.url, "--data-dir", str(store.data_dir)]) == 1
    with pytest.raises(StorageError):
        export_conversation(store, conv.id, tmp_path / "x.zip")  # never exports damage


def test_delete_conversation_then_doctor_fix_removes_unshared_orphans(tmp_path, store, tree, capsys):
    conv, n = tree
    keep = store.create_conversation("keep")
    shared = store.add_upload(keep.id, make_png(8, 6, "up"), "the same photo")  # same bytes as up
    assert shared.image_sha256 == n["up"].image_sha256
    m = store.add_message(conv.id, "user", "hi")
    store.add_plan(m.id, "hi", [], "offline")
    store.create_job("edit", {}, conv.id)
    store.delete_conversation(conv.id)
    assert store.counts() == {"conversations": 1, "image_nodes": 1, "messages": 0, "plans": 0, "jobs": 0}
    with pytest.raises(NotFoundError):
        store.get_node(n["hat"].id)
    expected = {h for x in n.values() for h in (x.image_sha256, x.latent_sha256) if h}
    expected.discard(shared.image_sha256)
    assert set(check(store).orphans) == expected
    assert check(store, fix=True).removed_orphans == []  # younger than the grace period
    assert mtedit(["doctor", "--db", store.url, "--data-dir", str(store.data_dir), "--fix",
                   "--grace", "0"]) == 0
    assert set(store.blobs) == {shared.image_sha256}
    assert store.read_image(shared) == make_png(8, 6, "up")
    assert check(store).ok


def test_threads_share_one_store(store):
    conv = store.create_conversation()
    root = store.add_upload(conv.id, make_png(seed="r"), "root")
    errors = []

    def work(k):
        try:
            parent = root.id
            for i in range(8):
                parent = edit(store, parent, f"thread {k} step {i}", set_head=False).id
                store.add_message(conv.id, "user", f"{k}/{i}", root=True)
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.nodes(conv.id)) == 33 and len([x for x in store.nodes(conv.id) if not store.children(x.id)]) == 4
    assert store.head(conv.id).id == root.id


def test_history_command(tmp_path, store, tree, capsys):
    conv, n = tree
    older = store.create_conversation("older")
    store.set_head(conv.id, n["red"].id)  # conv becomes the most recent
    capsys.readouterr()
    db = ["--db", store.url, "--data-dir", str(store.data_dir)]
    if store.url.startswith("sqlite"):  # a SQLite file's path; its folder holds the blobs
        db = ["--db", str(Path(store.url.removeprefix("sqlite:///")))]
    assert mtedit(["history", *db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["conversation_id"] == conv.id and out["head"] == n["red"].id
    assert [x["id"] for x in out["nodes"]] == ids(store.nodes(conv.id))
    assert set(out["nodes"][1]) == {"id", "parent_id", "kind", "caption", "instruction", "created_at"}
    assert out["nodes"][1]["parent_id"] == n["up"].id and out["nodes"][1]["instruction"] == "add a hat"
    assert mtedit(["history", *db, conv.id[:6]]) == 0
    text = capsys.readouterr().out
    head_line = next(line for line in text.splitlines() if line.startswith("*"))
    assert n["red"].id in head_line and "make the hat red" in head_line and "turn 2" in head_line
    assert mtedit(["history", *db, older.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nodes"] == []
    assert mtedit(["history", "--db", str(tmp_path / "nothing.db")]) == 1
    assert "no database" in capsys.readouterr().err

"""Alembic migrations: a new database, and databases made by the first schema revision."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mtedit.settings import Settings
from storage import Store
from storage.blobs import BlobStore
from storage.doctor import check
from storage.engine import current_revision, head_revision, make_engine, migration_sql, upgrade
from storage.models import Base
from storage.testing import make_png


def schema_diff(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    return diff


def test_new_database_is_created_at_head_matching_the_models(tmp_path):
    with Store.open(data_dir=tmp_path) as store:
        assert current_revision(store.engine) == head_revision() == "0008"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        url = store.url
    assert schema_diff(url) == []


def test_empty_first_revision_database_is_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'mtedit.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "jobs" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    with Store.open(url, tmp_path) as store:
        assert current_revision(store.engine) == "0008"
        conv = store.create_conversation()
        assert store.get_job(store.create_job("edit", {}, conv.id).id).status == "queued"
    assert schema_diff(url) == []


def test_populated_first_revision_database_keeps_its_history(tmp_path):
    """Rows written with the first schema's columns survive the upgrade, blobs included."""
    url = f"sqlite:///{tmp_path / 'mtedit.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    blobs = BlobStore(tmp_path / "blobs")
    png0, png1 = make_png(seed="v1-root"), make_png(seed="v1-edit")
    sha0, sha1, lat1 = blobs.put(png0), blobs.put(png1), blobs.put(b"latent-v1")
    now = "2026-01-02 03:04:05.000000"
    node = (
        "INSERT INTO image_nodes (id, conversation_id, parent_id, root_id, depth, kind, caption,"
        " instruction, target_prompt, focus_words, preset, params, seed, model_id, image_sha256,"
        " latent_sha256, width, height, status, timings, created_at) VALUES (:id, 'c1', :parent,"
        " 'n0', :depth, :kind, :caption, :instruction, :caption, :focus, 'mtc', :params, 3, 'm',"
        " :image, :latent, 8, 8, 'ready', '{}', :now)"
    )
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO conversations (id, title, created_at, updated_at, head_node_id)"
            " VALUES ('c1', 'old chat', :now, :now, 'n1')"), {"now": now})
        conn.execute(sa.text(node), {
            "id": "n0", "parent": None, "depth": 0, "kind": "upload", "caption": "a dog",
            "instruction": None, "focus": "[]", "params": "{}", "image": sha0, "latent": None,
            "now": now,
        })
        conn.execute(sa.text(node), {
            "id": "n1", "parent": "n0", "depth": 1, "kind": "edit", "caption": "a dog in a hat",
            "instruction": "add a hat", "focus": '["hat"]', "params": json.dumps({"steps": 8}),
            "image": sha1, "latent": lat1, "now": now,
        })
        conn.execute(sa.text(
            "INSERT INTO messages (id, conversation_id, parent_message_id, role, text, node_ids,"
            " created_at) VALUES ('m1', 'c1', NULL, 'user', 'add a hat', '[\"n1\"]', :now)"),
            {"now": now})
        conn.execute(sa.text(
            "INSERT INTO plans (id, conversation_id, message_id, request, steps, planner,"
            " created_at) VALUES ('p1', 'c1', 'm1', 'add a hat', '[{\"instruction\": \"add a hat\"}]',"
            " 'offline', :now)"), {"now": now})
    engine.dispose()

    with Store.open(url, tmp_path) as store:
        assert current_revision(store.engine) == "0008"
        conv = store.get_conversation("c1")
        assert (conv.title, conv.head_node_id) == ("old chat", "n1")
        assert conv.created_at.isoformat() == "2026-01-02T03:04:05+00:00"
        assert [n.id for n in store.path("n1")] == ["n0", "n1"]
        edit = store.get_node("n1")
        assert (edit.focus_words, edit.params, edit.seed) == (("hat",), {"steps": 8}, 3)
        assert store.read_image(edit) == png1 and store.read_latent(edit) == b"latent-v1"
        assert store.messages("c1")[0].node_ids == ("n1",)
        assert store.plans("c1")[0].steps == [{"instruction": "add a hat"}]
        # the new revision's table works, and new edits continue the old lineage
        job = store.create_job("edit", {"text": "make it red"}, "c1")
        child = store.add_edit(
            "n1", make_png(seed="v2"), b"latent-v2", "a dog in a red hat", "make it red"
        )
        store.update_job(job.id, status="done", result_node_ids=[child.id])
        assert child.root_id == "n0" and child.depth == 2
        assert check(store).ok
    assert schema_diff(url) == []


def test_migrations_render_for_postgresql():
    """The same revisions produce PostgreSQL DDL (no SQLite-only SQL)."""
    sql = migration_sql("postgresql://user:secret@server/mtedit")
    for table in ("conversations", "image_nodes", "messages", "plans", "jobs"):
        assert f"CREATE TABLE {table} (" in sql
    assert "JSON NOT NULL" in sql and "TIMESTAMP WITHOUT TIME ZONE" in sql
    assert "UPDATE alembic_version SET version_num='0003'" in sql
    assert "PRAGMA" not in sql and "sqlite" not in sql.lower()


def test_store_follows_settings(tmp_path):
    """MTEDIT_DATA_DIR picks the folder; MTEDIT_DATABASE_URL another database."""
    settings = Settings.from_env(env={"MTEDIT_DATA_DIR": str(tmp_path / "d")})
    with Store.from_settings(settings) as store:
        assert store.url == f"sqlite:///{tmp_path / 'd' / 'mtedit.db'}"
        store.create_conversation("here")
    other = tmp_path / "elsewhere.db"
    settings = Settings.from_env(
        env={"MTEDIT_DATA_DIR": str(tmp_path / "d"), "MTEDIT_DATABASE_URL": f"sqlite:///{other}"}
    )
    with Store.from_settings(settings) as store:
        assert store.list_conversations() == [] and store.data_dir == tmp_path / "d"
    assert other.is_file()
    with Store.open(tmp_path / "d" / "mtedit.db") as store:  # a file path works as a URL
        assert [c.title for c in store.list_conversations()] == ["here"]
        assert store.data_dir == tmp_path / "d"


def test_hidden_notes_of_a_second_revision_database_move_into_columns(tmp_path):
    """A chat written before revision 0003 kept settings, a late caption and a pending
    caption request as hidden JSON "system" messages, and a reply's kind only in its
    wording. The upgrade moves them into columns and deletes the hidden messages; the
    visible chat keeps its order and its plans."""
    url = f"sqlite:///{tmp_path / 'mtedit.db'}"
    engine = make_engine(url)
    upgrade(engine, "0002")
    blobs = BlobStore(tmp_path / "blobs")
    sha0, sha1 = blobs.put(make_png(seed="r2-a")), blobs.put(make_png(seed="r2-b"))
    node = (
        "INSERT INTO image_nodes (id, conversation_id, parent_id, root_id, depth, kind, caption,"
        " instruction, target_prompt, focus_words, preset, params, seed, model_id, image_sha256,"
        " latent_sha256, width, height, status, timings, created_at) VALUES (:id, :c, NULL,"
        " :id, 0, 'upload', '', NULL, NULL, '[]', NULL, '{}', NULL, NULL, :sha, NULL, 8, 8,"
        " 'ready', '{}', :now)"
    )
    msg = (
        "INSERT INTO messages (id, conversation_id, parent_message_id, role, text, node_ids,"
        " created_at) VALUES (:id, :c, :parent, :role, :text, :nodes, :now)"
    )
    chat = [  # (id, parent, role, text, node_ids) in the order the old agent wrote them
        ("m1", None, "user", "here is my dog", '["n1"]'),
        ("s1", "m1", "system", json.dumps({"mtedit": "ask_caption", "node_id": "n1",
                                           "instruction": "add a hat"}), "[]"),
        ("m2", "s1", "assistant", "Stored the image. What does it show? Describe it.", '["n1"]'),
        ("m3", "m2", "user", "a dog on a beach", "[]"),
        ("s2", "m3", "system", json.dumps({"mtedit": "caption", "node_id": "n1",
                                           "caption": "a dog on a beach"}), "[]"),
        ("m4", "s2", "assistant", "Thanks: I'll describe it as \"a dog on a beach\".", '["n1"]'),
        ("s3", "m4", "system", json.dumps({"mtedit": "settings", "values": {"steps": 3}}), "[]"),
        ("s4", "s3", "system", json.dumps({"mtedit": "settings",
                                           "values": {"steps": 5, "preset": "rf"}}), "[]"),
        ("m5", "s4", "user", "use 5 steps", "[]"),
        ("m6", "m5", "assistant", "From now on: steps = 5.", "[]"),
        ("m7", "m6", "assistant", "Done: 1 step in 2.0 s; the last result is the new head.",
         "[]"),
        ("m8", "m7", "assistant", "Step 1 of 2 failed: out of memory", "[]"),
        ("m9", "m8", "assistant", "Back to the original: \"a dog\". Nothing was deleted.", "[]"),
        ("m10", "m9", "system", "not JSON: kept as a message", "[]"),
    ]
    with engine.begin() as conn:
        for cid in ("c1", "c2"):
            conn.execute(sa.text(
                "INSERT INTO conversations (id, title, created_at, updated_at, head_node_id)"
                " VALUES (:c, 'old', '2026-01-02 03:04:05', '2026-01-02 03:04:05', NULL)"),
                {"c": cid})
        conn.execute(sa.text(node), {"id": "n1", "c": "c1", "sha": sha0,
                                     "now": "2026-01-02 03:04:05"})
        conn.execute(sa.text(node), {"id": "n2", "c": "c2", "sha": sha1,
                                     "now": "2026-01-02 03:04:05"})
        for i, (mid, parent, role, text, nodes) in enumerate(chat):
            conn.execute(sa.text(msg), {"id": mid, "c": "c1", "parent": parent, "role": role,
                                        "text": text, "nodes": nodes,
                                        "now": f"2026-01-02 03:04:{i + 10:02d}"})
        conn.execute(sa.text(msg), {"id": "x1", "c": "c2", "parent": None, "role": "system",
                                    "text": json.dumps({"mtedit": "ask_caption", "node_id": "n2"}),
                                    "nodes": "[]", "now": "2026-01-02 03:05:00"})
        conn.execute(sa.text(
            "INSERT INTO plans (id, conversation_id, message_id, request, steps, planner,"
            " created_at) VALUES ('p1', 'c1', 's4', 'add a hat', '[]', 'offline',"
            " '2026-01-02 03:04:30')"))
    engine.dispose()

    with Store.open(url, tmp_path) as store:
        assert current_revision(store.engine) == "0008"
        messages = {m.id: m for m in store.messages("c1")}
        assert sorted(messages) == sorted(["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9",
                                           "m10"])
        assert store.messages("c2") == []
        kinds = {mid: m.kind for mid, m in messages.items()}
        assert kinds == {"m1": "user", "m2": "ask", "m3": "user", "m4": "upload", "m5": "user",
                         "m6": "settings", "m7": "edit", "m8": "error", "m9": "rollback",
                         "m10": "text"}
        # the hidden messages' children hang from the nearest visible ancestor
        assert [m.id for m in store.message_path("m10")] == [
            "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"]
        assert messages["m2"].meta == {"caption_for": "n1", "instruction": "add a hat"}
        assert messages["m4"].meta == {}
        assert store.get_node("n1").caption == "a dog on a beach"
        assert store.get_node("n2").caption == ""
        assert store.get_conversation("c1").settings == {"steps": 5, "preset": "rf"}
        assert store.get_conversation("c2").settings == {}
        assert store.plans("c1")[0].message_id == "m4"
        assert check(store).ok
    assert schema_diff(url) == []

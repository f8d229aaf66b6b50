"""Alembic migrations: a new database, and databases made by the first schema revision."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mtedit.settings import Settings
from storage import Store
from storage.blobs import BlobStore
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
        assert current_revision(store.engine) == head_revision() == "0002"
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
        assert current_revision(store.engine) == "0002"
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
        assert current_revision(store.engine) == "0002"
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
        assert store.check().ok
    assert schema_diff(url) == []


def test_migrations_render_for_postgresql():
    """The same revisions produce PostgreSQL DDL (no SQLite-only SQL)."""
    sql = migration_sql("postgresql://user:secret@server/mtedit")
    for table in ("conversations", "image_nodes", "messages", "plans", "jobs"):
        assert f"CREATE TABLE {table} (" in sql
    assert "JSON NOT NULL" in sql and "TIMESTAMP WITHOUT TIME ZONE" in sql
    assert "UPDATE alembic_version SET version_num='0002'" in sql
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

"""Hostile chat input and a hostile world under a running chat: nonsense numbers for exact
operations and for going back, text that is not English or not text, escape codes, a
damaged head image, a database deleted mid-edit, a full disk, a decompression bomb."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from agent import ChatSession
from agent.jobs.executor import Executor
from mtedit.settings import Settings
from storage import Store

ROOT = Path(__file__).resolve().parents[3]


def png(colour=(200, 40, 40), size=32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


class Backend:
    """Answers edits like FluxBackend with flat images; `before_edit(n)` runs before the
    n-th edit (to break the world mid-plan)."""

    model_id = "scripted"

    def __init__(self, before_edit=None):
        self.calls = 0
        self.before_edit = before_edit or (lambda n: None)

    def encode_image(self, img, max_side=None):
        return torch.zeros(1, 4, 2, 2)

    def edit(self, latent, source_prompt, target_prompt, *, seed, progress, cancel, **kw):
        self.calls += 1
        self.before_edit(self.calls)
        progress(1, 1, "sample")
        if cancel():
            from editing_core import EditCancelled

            raise EditCancelled("cancelled")
        return SimpleNamespace(image=Image.new("RGB", (32, 32), (self.calls * 40, 0, 0)),
                               latent=torch.full((1, 4, 2, 2), float(self.calls)),
                               params={"steps": 1}, seed=seed, timings={"edit": 0.01}, nfe=1)


def open_chat(tmp_path, backend=None) -> ChatSession:
    store = Store.open(data_dir=tmp_path / "data")
    # the scripted backend draws no regions: its edits may change everything
    settings = Settings(data_dir=store.data_dir, max_side=64, region="none")
    executor = Executor(store, backend, settings=settings) if backend is not None else None
    chat = ChatSession.open(settings, store=store, backend=backend, executor=executor)
    chat.new_conversation("hostile")
    chat.send("a red square", files=[("red.png", png())], wait=True)
    return chat


@pytest.fixture
def chat(tmp_path):
    chat = open_chat(tmp_path)
    yield chat
    chat.store.close()


def stored(chat) -> tuple:
    return chat.store.counts(), len(chat.store.messages(chat.conversation_id))


# -- exact operations with nonsense numbers ----------------------------------------------

OPS = [
    ("resize to 0x0", "from 16 to 4096"),
    ("resize to 100000x100000", "from 16 to 4096"),
    ("scale to 1e9%", "at most 800%"),
    ("scale to -50%", "more than 1%"),
    ("scale to 0%", "more than 1%"),
    ("rotate 1e308 degrees", "from -360 to 360"),
    ("rotate nan degrees", "from -360 to 360"),
    ("crop to 0:0", "whole numbers from 1 to 9999"),
    ("crop to 16:0", "whole numbers from 1 to 9999"),
]


@pytest.mark.parametrize("text, says", OPS, ids=[t for t, _ in OPS])
def test_an_exact_operation_with_a_nonsense_number_is_refused_with_the_range(
        chat, capfd, text, says):
    head = chat.head_id()
    replies = chat.send(text, wait=True)
    assert [r.kind for r in replies] == ["error"]
    assert says in replies[0].text and "Nothing was changed" in replies[0].text
    assert chat.head_id() == head and len(chat.lineage()) == 1  # no edit ran, no caption grew
    assert "Traceback" not in capfd.readouterr().err


def test_valid_exact_operations_still_run(chat):
    for text in ("rotate 90 degrees", "crop to 16:9", "resize to 64x48", "scale to 50%"):
        replies = chat.send(text, wait=True)
        assert replies[-1].kind == "edit", (text, replies)
    assert [n.kind for n in chat.lineage()] == ["upload", "op", "op", "op", "op"]


def test_the_planner_command_refuses_them_too(capfd):
    from mtedit.cli import main

    assert main(["plan", "rotate nan degrees", "--caption", "a red square"]) == 1
    err = capfd.readouterr().err
    assert "from -360 to 360" in err and "Traceback" not in err


# -- going back by a number that cannot be --------------------------------------------


@pytest.mark.parametrize("text, says", [
    ("undo the last 1e9 edits", "I can go back 1 to 2 edits"),
    ("back to turn -1", "turns 0 (the original) to 2"),
    ("go back to turn 2.5", "turns 0 (the original) to 2"),
    ("undo nan edits", "I can go back 1 to 2 edits"),
], ids=["undo-1e9", "turn-minus-1", "turn-2.5", "undo-nan"])
def test_a_count_or_turn_that_cannot_be_is_answered_with_the_range(chat, text, says):
    chat.send("flip it", wait=True)
    chat.send("make it black and white", wait=True)
    head, before = chat.head_id(), stored(chat)
    replies = chat.send(text, wait=True)
    assert [r.kind for r in replies] == ["error"]
    assert says in replies[0].text and "no version with" not in replies[0].text
    assert chat.head_id() == head and stored(chat) == before
    assert chat.send("back to turn 1", wait=True)[-1].kind == "rollback"  # plain ones work


# -- text that is not English, not text, or carries control characters ----------------

UNREADABLE = [
    ("اجعل الدائرة زرقاء", "English requests only"),
    ("\u202emake the circle blue", "control characters"),
    ("🎨", "it has no words"),
    ("\x1b[31mred\x1b[0m make it red", "control characters"),
    ("make it \x1b]0;pwned\x07blue", "control characters"),
]


@pytest.mark.parametrize("text, says", UNREADABLE,
                         ids=["arabic", "rtl-override", "emoji", "ansi-colour", "osc-title"])
@pytest.mark.parametrize("with_image", [True, False], ids=["edit", "no-image"])
def test_unreadable_text_is_not_understood_and_nothing_is_stored(tmp_path, text, says,
                                                                 with_image):
    store = Store.open(data_dir=tmp_path / "data")
    chat = ChatSession.open(Settings(data_dir=store.data_dir, max_side=64), store=store,
                            backend=None)
    chat.new_conversation("c")
    if with_image:
        chat.send("a red square", files=[("red.png", png())], wait=True)
    before = stored(chat)
    replies = chat.send(text, wait=True)
    assert [r.kind for r in replies] == ["error"]
    assert "did not understand" in replies[0].text and says in replies[0].text
    assert "\x1b" not in replies[0].text and "\u202e" not in replies[0].text
    assert stored(chat) == before  # no message, no node, no job
    store.close()


def test_stored_text_never_carries_control_characters(chat):
    store, cid = chat.store, chat.conversation_id
    store.add_message(cid, "user", "hi \x1b[2J\x1b[31mthere\u202e")
    store.rename_conversation(cid, "\x1b]0;title\x07ok")
    node = store.set_caption(chat.head_id(), "a red\x00 square\x1b[0m")
    assert store.messages(cid)[-1].text == "hi there"
    assert store.get_conversation(cid).title == "ok"
    assert node.caption == "a red square"
    assert "line one\nline two" == store.add_message(cid, "assistant", "line one\nline two").text


def test_the_cli_prints_no_escape_codes(tmp_path, capfd):
    from mtedit.cli import main

    db = tmp_path / "data" / "mtedit.db"
    with Store.open(db) as store:
        conv = store.create_conversation("ok")
        from sqlalchemy import text as sql

        with store.transaction() as s:  # as an older version or another tool could have
            s.execute(sql("UPDATE conversations SET title = :t"), {"t": "\x1b[2Jevil\u202e"})
        store.add_upload(conv.id, png(), "a square")
    assert main(["history", "--db", str(db), "--list"]) == 0
    out = capfd.readouterr().out
    assert "evil" in out and "\x1b" not in out and "\u202e" not in out


# -- the head image is gone ------------------------------------------------------------


def test_a_missing_head_image_is_said_not_edited_around(tmp_path):
    chat = open_chat(tmp_path, Backend())
    assert chat.send("make the square blue", wait=True)[-1].kind == "edit"
    head = chat.store.get_node(chat.head_id())
    assert head.latent_sha256 and chat.store.blobs.exists(head.latent_sha256)
    chat.store.blobs.path(head.image_sha256).unlink()
    nodes = len(chat.lineage())
    replies = chat.send("make the square green", wait=True)
    assert replies[-1].kind == "error"
    text = replies[-1].text
    assert "missing" in text and "mtedit doctor" in text and head.id in text
    assert len(chat.lineage()) == nodes  # nothing was edited from the latent alone
    chat.store.close()


# -- the database vanishes during a three-step edit --------------------------------------


def delete_database(store):
    db = Path(store.url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def test_a_database_deleted_mid_edit_is_reported_not_done(tmp_path):
    gone = []
    backend = Backend(lambda n: n == 2 and gone.append(delete_database(chat.store)))
    chat = open_chat(tmp_path, backend)
    try:
        replies = chat.send("make it more vintage", wait=True)
    except Exception as exc:  # noqa: BLE001 - the session may raise the store's error
        replies = [SimpleNamespace(kind="error", text=str(exc))]
    assert gone, "the plan had a second step"
    assert replies[-1].kind == "error"
    assert "Done" not in replies[-1].text
    assert "was deleted while mtedit was using it" in replies[-1].text
    assert not gone[0].exists()  # no fresh empty database in its place


def test_the_chat_command_says_the_database_vanished(tmp_path, monkeypatch, capfd):
    import agent.jobs.executor as executor_module
    from mtedit.cli import main

    db = tmp_path / "keep" / "mtedit.db"
    backend = Backend(lambda n: n == 2 and delete_database(SimpleNamespace(
        url=f"sqlite:///{db}")))
    monkeypatch.setattr(executor_module, "load_backend", lambda settings: backend)
    script = tmp_path / "three.yaml"
    image = tmp_path / "red.png"
    image.write_bytes(png())
    script.write_text(f"turns:\n  - text: a red square\n    images: [{image}]\n"
                      "  - make it more vintage\n  - make it brighter\n")
    rc = main(["chat", "--db", str(db), "--script", str(script)])
    out, err = capfd.readouterr()
    assert rc != 0
    assert "Done" not in out.split("make it more vintage")[-1]
    assert "was deleted while mtedit was using it" in out + err
    assert "Traceback" not in err and not db.exists()


# -- a full disk during an edit ----------------------------------------------------------


def test_a_full_disk_during_an_edit_says_what_is_full_and_loses_nothing(tmp_path,
                                                                       monkeypatch):
    real_open = os.open

    def full(n):
        if n == 2:
            def no_space(path, flags, *args, **kw):
                if ".tmp-" in str(path):
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
                return real_open(path, flags, *args, **kw)

            monkeypatch.setattr(os, "open", no_space)

    chat = open_chat(tmp_path, Backend(full))
    replies = chat.send("make it more vintage", wait=True)
    monkeypatch.undo()
    text = replies[-1].text
    assert replies[-1].kind == "error"
    assert "is full" in text and str(chat.store.data_dir) in text and "Free some space" in text
    assert "OSError" not in text and "Errno" not in text
    assert "continue" in text  # the finished step is kept; the rest can run later
    assert [n.kind for n in chat.lineage()] == ["upload", "edit"]
    replies = chat.send("continue", wait=True)
    assert replies[-1].kind == "edit"
    assert [n.kind for n in chat.lineage()] == ["upload", "edit", "edit"]
    chat.store.close()


# -- a decompression bomb ----------------------------------------------------------------


def bomb(width: int, height: int) -> bytes:
    """A PNG header claiming width x height pixels (no pixel data needed to be refused)."""
    import struct
    import zlib

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                                               2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [100_000, 10_000], ids=["100000-square", "10000-square"])
def test_a_huge_png_gets_the_megapixel_message(chat, side, capfd):
    from agent.reading.uploads import check_upload

    problem = check_upload("huge.png", bomb(side, side))
    assert "the limit is 64 megapixels" in problem
    assert "DecompressionBomb" not in problem
    replies = chat.send("a huge square", files=[("huge.png", bomb(side, side))], wait=True)
    assert replies[-1].kind == "error" and "the limit is 64 megapixels" in replies[-1].text
    assert "DecompressionBomb" not in capfd.readouterr().err
    from editing_core.images import ImageInputError, load_image

    with pytest.raises(ImageInputError, match="the limit is 64 megapixels"):
        load_image(bomb(side, side))


def test_a_full_disk_at_the_start_of_a_chat_is_said_in_words(tmp_path, monkeypatch, capfd):
    from mtedit.cli import main
    from storage import engine

    real = engine._sqlite_connect

    def full(dbapi_connection, record):  # SQLite's own "database or disk is full"
        real(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA max_page_count = 2")

    monkeypatch.setattr(engine, "_sqlite_connect", full)
    db = tmp_path / "data" / "mtedit.db"
    script = tmp_path / "one.yaml"
    script.write_text("turns:\n  - generate a red circle on a green background\n")
    assert main(["chat", "--db", str(db), "--script", str(script)]) == 1
    err = capfd.readouterr().err
    assert f"the disk holding the database (sqlite:///{db}) is full" in err
    assert "Free some space" in err and "Traceback" not in err and "OperationalError" not in err

    def no_space(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "tmp"))

    monkeypatch.setattr("tempfile.mkdtemp", no_space)
    assert main(["chat", "--script", str(script)]) == 1
    err = capfd.readouterr().err
    assert "is full; free some space" in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_damaged_head_is_not_offered_as_a_place_to_continue_from(tmp_path, how):
    chat = open_chat(tmp_path, Backend())
    assert chat.send("make the square blue", wait=True)[-1].kind == "edit"
    blob = chat.store.blobs.path(chat.store.get_node(chat.head_id()).image_sha256)
    if how == "deleted":
        blob.unlink()
    else:
        blob.write_bytes(png((1, 2, 3)))
    text = chat.send("make the square green", wait=True)[-1].text
    assert "cannot be read" in text and "undo" in text
    assert "continue" not in text.lower()
    chat.store.close()


def test_a_database_deleted_mid_edit_prints_no_traceback(tmp_path, capfd):
    import logging

    logging.getLogger("agent").addHandler(handler := logging.StreamHandler())
    try:
        backend = Backend(lambda n: n == 2 and delete_database(chat.store))
        chat = open_chat(tmp_path, backend)
        try:
            chat.send("make it more vintage", wait=True)
        except Exception:  # noqa: BLE001, S110 - the session may raise the store's error
            pass
    finally:
        logging.getLogger("agent").removeHandler(handler)
    err = capfd.readouterr().err
    assert "was deleted while mtedit was using it" in err  # said, once, in a line
    assert "Traceback" not in err

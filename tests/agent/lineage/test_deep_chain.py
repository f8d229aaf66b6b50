"""An imported conversation well over a thousand edits deep: every walk over it (history,
undo, redo, going back, the page's views, editing from its tip, export) works, none hits
Python's recursion limit."""

from __future__ import annotations

import io
import sys

import pytest

from agent import ChatSession
from agent.jobs.executor import Executor
from editing_core.testing import tiny_random_folder
from mtedit.settings import Settings
from storage import Store
from storage.doctor import check
from storage.testing import deep_chain_zip
from toyworld import world as W

DEPTH = sys.getrecursionlimit() + 500  # past the limit a recursive walk would hit
SCENE = W.Scene("white", (W.Obj("circle", "red", "small", 3),))


def deep_export(session: ChatSession, depth: int) -> bytes:
    buf = io.BytesIO()
    W.render(SCENE).save(buf, format="PNG")
    return deep_chain_zip(session.store, buf.getvalue(), W.caption(SCENE), depth)


@pytest.fixture(scope="module")
def model_dir():
    return tiny_random_folder()


@pytest.mark.slow
def test_a_chain_thousands_of_edits_deep_can_be_read_moved_in_and_edited(tmp_path, model_dir):
    settings = Settings(data_dir=tmp_path / "data", model=str(model_dir), max_side=64,
                        device="cpu", dtype="float32")
    store = Store.open(data_dir=tmp_path / "data")
    session = ChatSession.open(settings, store=store, executor=Executor(store, settings=settings))
    session.update_settings(preset="rf", steps=1)
    cid = session.import_zip(deep_export(session, DEPTH))
    session.switch(cid)
    assert len(session.lineage()) == DEPTH + 1
    assert session.messages()[-1].text == f"Done: edit {DEPTH}."

    [history] = session.send("show the history")
    assert history.kind == "history", history.text
    lines = history.text.splitlines()
    assert lines[2].endswith("#1 edit number 1") and lines[2].startswith("  ")
    assert lines[-1] == f"... and {DEPTH + 2 - 79} more"  # a title line, the original, edits

    [undo] = session.send("undo")
    assert undo.kind == "rollback" and f"turn #{DEPTH - 1}" in undo.text, undo.text
    [redo] = session.send("redo")
    assert redo.kind == "rollback" and f"turn #{DEPTH}" in redo.text, redo.text
    [back] = session.send("go back to the original")
    assert back.kind == "rollback" and "the original" in back.text, back.text
    tip = session.lineage()[-1]
    clicked = session.set_head(tip.id)
    assert clicked.kind == "rollback" and f"turn #{DEPTH}" in clicked.text, clicked.text

    [edit] = session.send("make the circle blue")  # anchored to the root, DEPTH turns up
    assert edit.kind == "edit", edit.text
    assert session.node(edit.node_ids[0]).depth == DEPTH + 1
    again = session.import_zip(session.export_zip())
    session.switch(again)
    assert len(session.lineage()) == DEPTH + 2
    assert check(session.store).ok

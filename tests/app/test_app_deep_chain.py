"""A conversation deeper than Python's recursion limit opens in the app: the lineage
column is drawn without recursion (chat_app.branches)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage import Store
from storage.testing import deep_chain_zip, make_png
from storage.transfer import import_conversation

APP = str(Path(__file__).resolve().parents[2] / "chat_app.py")
pytestmark = pytest.mark.slow


def test_a_chain_deeper_than_the_recursion_limit_opens_in_the_page(tmp_path, monkeypatch):
    data = tmp_path / "data"
    for key in ("MTEDIT_CONFIG", "MTEDIT_MAX_SIDE", "MTEDIT_MODEL", "MTEDIT_DEVICE",
                "MTEDIT_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(data))
    monkeypatch.setenv("MTEDIT_PLANNER", "offline")
    depth = sys.getrecursionlimit() + 100
    with Store.open(data_dir=data) as store:
        archive = tmp_path / "deep.zip"
        archive.write_bytes(deep_chain_zip(store, make_png(64, 64), "a green square", depth))
        conv = import_conversation(store, archive)
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["c"] = conv.id
    at.run()
    assert not at.exception, at.exception
    problems = " ".join(e.value for e in at.error)
    assert "Something went wrong" not in problems, problems
    assert f"Done: edit {depth}." in " ".join(m.value for m in at.markdown)

"""Hostile settings in the app: a clear message naming the setting, never train-toy."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "chat_app.py")
pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(tmp_path / "data"))
    for key in ("MTEDIT_CONFIG", "MTEDIT_MAX_SIDE", "MTEDIT_MODEL", "MTEDIT_DEVICE", "MTEDIT_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def shown(at: AppTest) -> str:
    return " ".join(w.value for w in [*at.error, *at.warning, *at.info])


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("MTEDIT_DEVICE", "banana", ["MTEDIT_DEVICE", "banana", "cuda:N"]),
        ("MTEDIT_DEVICE", "cuda", ["MTEDIT_DEVICE", "no CUDA device"]),
        ("MTEDIT_DATABASE_URL", "garbage", ["MTEDIT_DATABASE_URL", "garbage", "SQLAlchemy URL"]),
        ("settings.yaml", "max_side: abc\n", ["max_side", "abc", "from 32 to 8192"]),
        ("settings.yaml", "[1, 2\n", ["settings.yaml", "not valid YAML"]),
    ],
    ids=["device-banana", "cuda-without-cuda", "garbage-url", "max-side-abc", "bad-yaml"],
)
def test_a_wrong_setting_is_named_on_the_page(env, monkeypatch, key, value, says):
    import torch

    if value == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if key == "settings.yaml":
        (env / key).write_text(value)
    else:
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(env)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception
    text = shown(at)
    for word in says:
        assert word in text, text
    assert "train-toy" not in text and "Traceback" not in text
    assert "Something went wrong" not in text  # a setting to fix, not a crash
    assert not (env / "garbage").exists()


def test_a_corrupt_image_shows_a_placeholder_not_a_broken_page(env, monkeypatch):
    import io

    from PIL import Image

    from agent import ChatSession
    from mtedit.settings import Settings
    from storage import Store

    monkeypatch.setenv("MTEDIT_DEVICE", "cpu")
    monkeypatch.setenv("MTEDIT_MODEL", str(env / "no-model"))  # the page opens without one
    store = Store.open(data_dir=env)
    chat = ChatSession.open(Settings(data_dir=env, max_side=64), store=store, backend=None)
    cid = chat.new_conversation("damaged")
    nodes = []
    for colour in ((200, 0, 0), (0, 0, 200)):
        buf = io.BytesIO()
        Image.new("RGB", (48, 48), colour).save(buf, "PNG")
        nodes += chat.send("a square", files=[("s.png", buf.getvalue())])[-1].node_ids
    bad = store.get_node(nodes[0])
    path = store.blobs.path(bad.image_sha256)
    path.write_bytes(path.read_bytes()[:-30] + b"\0" * 30)
    store.close()
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(c=cid)
    at.run()
    assert not at.exception
    assert "Something went wrong" not in shown(at)
    from app.lineage_tree.testing import click, drawn

    picks = [n["id"] for n in drawn(at, "lineage-tree")["nodes"]]
    assert picks == nodes  # both nodes listed, the damaged one too
    click(at, nodes[0], key="lineage-tree")
    assert not at.exception
    text = shown(at)
    assert "cannot be shown" in text and "corrupt" in text and "mtedit doctor" in text


def test_a_database_deleted_under_the_page_is_said_without_a_traceback(env, monkeypatch,
                                                                      caplog):
    """The page's last resort shows what the store said; the server log gets that line,
    not a traceback (the store's own errors say what happened and what to do)."""
    monkeypatch.setenv("MTEDIT_DEVICE", "cpu")
    monkeypatch.setenv("MTEDIT_MODEL", str(env / "no-model"))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception
    for suffix in ("", "-wal", "-shm"):
        Path(f"{env / 'mtedit.db'}{suffix}").unlink(missing_ok=True)
    caplog.clear()
    at.run()
    assert not at.exception
    assert "was deleted while mtedit was using it" in shown(at)
    failed = [r for r in caplog.records if r.getMessage().startswith("the page failed")]
    assert failed and all(r.exc_info is None for r in failed)

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

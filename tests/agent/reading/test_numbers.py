"""Hostile numbers in chat and on the command line: a reply naming the allowed range,
nothing stored, and the next edit still works."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent import ChatSession
from mtedit.settings import Settings
from storage import Store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def session(tmp_path):
    store = Store.open(data_dir=tmp_path / "data")
    chat = ChatSession.open(Settings(data_dir=store.data_dir, max_side=64), store=store,
                            backend=None)
    chat.new_conversation("numbers")
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buf, "PNG")
    chat.send("a red square", files=[("red.png", buf.getvalue())], wait=True)
    yield chat
    store.close()


CASES = [
    ("use 100000 steps", "from 1 to 200"),
    ("guidance nan", "from 0 to 30"),
    ("guidance 1e309", "from 0 to 30"),
    ("-5 steps", "from 1 to 200"),
    ("seed 123456789012345678901234567890", "2^63 - 1"),
    ("make it blue with 5000 steps", "from 1 to 200"),
    ("x" * 3000, "at most 100 characters"),
    ("make the square " + "b" * 3000, "at most 100 characters"),
]


@pytest.mark.parametrize("text, says", CASES, ids=[
    "100000-steps", "guidance-nan", "guidance-1e309", "minus-5-steps", "seed-beyond-64-bits",
    "one-off-5000-steps", "3000-char-word", "3000-char-word-in-an-edit"])
def test_a_number_out_of_range_is_refused_and_nothing_is_stored(session, text, says):
    store, cid = session.store, session.conversation_id
    before = (store.counts(), session.edit_settings, len(store.messages(cid)))
    replies = session.send(text, wait=True)
    assert [r.kind for r in replies] == ["error"], replies
    assert says in replies[0].text and "Nothing was changed" in replies[0].text
    assert "pydantic" not in replies[0].text and "validation error" not in replies[0].text
    assert (store.counts(), session.edit_settings, len(store.messages(cid))) == before


def test_valid_numbers_still_change_the_settings(session):
    replies = session.send("use 15 steps", wait=True)
    assert replies[-1].kind == "settings"
    assert session.edit_settings.steps == 15
    session.send("seed 9223372036854775807", wait=True)
    assert session.edit_settings.seed == 2**63 - 1


def test_the_settings_panel_refuses_nan_and_huge_seeds(session):
    for kw in ({"guidance": float("nan")}, {"seed": 2**64}, {"steps": -5}, {"eta": float("inf")}):
        with pytest.raises(ValueError, match="allowed"):
            session.update_settings(**kw)


@pytest.mark.parametrize("args, says", [
    (["generate", "--prompt", "a ball", "--width", "-64", "-o", "x.png"], "from 16 to 8192"),
    (["generate", "--prompt", "a ball", "--height", "0", "-o", "x.png"], "from 16 to 8192"),
    (["edit", "in.png", "--target", "t", "--steps", "100000", "-o", "x.png"], "from 1 to 200"),
    (["edit", "in.png", "--target", "t", "--guidance", "nan", "-o", "x.png"], "from 0 to 30"),
    (["edit", "in.png", "--target", "t", "--seed", "1" + "0" * 25, "-o", "x.png"], "2^63 - 1"),
    (["edit", "in.png", "--target", "t", "--set", "steps=100000", "-o", "x.png"], "from 1 to 200"),
], ids=["width-negative", "height-zero", "steps-huge", "guidance-nan", "seed-huge", "set-steps"])
def test_cli_numbers_out_of_range_are_refused_before_loading(tmp_path, args, says):
    Image.new("RGB", (32, 32)).save(tmp_path / "in.png")
    proc = subprocess.run([sys.executable, "-m", "mtedit", *args], cwd=tmp_path, check=False,
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "MTEDIT_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
                               "MTEDIT_MODEL": str(tmp_path / "no-model")})
    assert proc.returncode != 0
    assert says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()

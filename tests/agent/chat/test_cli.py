"""`mtedit chat --script`: the transcript and its JSON, on a tiny FLUX and a fresh database."""

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from agent.chat.cli import load_script
from agent.reading.intents import parse_intent
from editing_core.testing import tiny_random_folder
from mtedit.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPT = """
title: cli test
settings: {preset: rf, steps: 1}
turns:
  - text: a small red circle on the left and a large blue square on the right, on a green background
    images: [scene.png]
  - make the circle blue and the square red
  - go back to before the square
  - text: show the history
"""


def test_chat_script_prints_the_transcript_and_writes_the_json(tmp_path, capsys):
    shutil.copy(EXAMPLES / "toy_scene.png", tmp_path / "scene.png")
    script = tmp_path / "turns.yaml"
    script.write_text(SCRIPT)
    out = tmp_path / "out.json"
    db = tmp_path / "kept" / "chat.db"
    db.parent.mkdir()
    code = main(["chat", "--script", str(script), "--db", str(db), "--json", str(out),
                 "--model", str(tiny_random_folder()), "--images", str(tmp_path / "png"),
                 "--strict"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "user: make the circle blue and the square red" in printed
    assert "plan:" in printed and "head:" in printed

    data = json.loads(out.read_text())
    assert set(data) == {"conversation_id", "turns"}
    turns = data["turns"]
    assert [t["user"] for t in turns][1] == "make the circle blue and the square red"
    for t in turns:
        assert {"user", "replies", "plan", "nodes_created", "head"} <= set(t)
        assert all({"kind", "text", "node_ids"} <= set(r) for r in t["replies"])
    upload, edit, back, history = turns
    assert upload["nodes_created"][0]["kind"] == "upload" and upload["plan"] is None
    assert len(edit["plan"]["steps"]) == 2 and len(edit["nodes_created"]) == 2
    first, second = edit["nodes_created"]
    assert second["parent_id"] == first["id"] and edit["head"] == second["id"]
    assert back["nodes_created"] == [] and back["head"] == first["id"]
    assert history["replies"][0]["kind"] == "history"
    assert len(list((tmp_path / "png").glob("*.png"))) == 3
    # --db keeps the database: the conversation is there to continue
    code = main(["chat", "--script", str(script), "--db", str(db), "--model",
                 str(tiny_random_folder()), "--conversation", data["conversation_id"]])
    assert code == 0


def test_bad_script_is_refused_with_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("turns:\n  - text: hi\n    images: [missing.png]\n")
    assert main(["chat", "--script", str(bad)]) == 2
    assert "no image at" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["toy_edits.yaml", "wishes.yaml"])
def test_shipped_examples_parse_into_the_intended_intents(name):
    turns, _settings, title = load_script(EXAMPLES / name)
    assert title and len(turns) >= 8
    kinds = [parse_intent(t["text"], len(t["images"]), has_image=i > 0).kind
             for i, t in enumerate(turns)]
    assert kinds[0] in ("upload", "generate")
    assert {"edit", "history"} <= set(kinds)
    assert {"undo", "redo", "goto", "branch"} & set(kinds)

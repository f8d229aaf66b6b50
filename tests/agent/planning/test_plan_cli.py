"""`mtedit plan`: the planner alone, as text or JSON, with no model loaded."""

import json
import subprocess
import sys

from mtedit.cli import main

PORTRAIT = "a photo of a woman with long brown hair standing in front of a brick wall"


def test_plan_json_has_the_documented_fields(capsys, monkeypatch):
    monkeypatch.delenv("MTEDIT_PLANNER", raising=False)
    code = main(["plan", "make her hair blonde and flip it", "--caption", PORTRAIT, "--json",
                 "--planner", "offline"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"steps", "summary", "notes"}
    first, second = out["steps"]
    assert set(first) == {"instruction", "target_prompt", "focus_words", "strength", "kind"}
    assert first["kind"] == "edit" and "long blonde hair" in first["target_prompt"]
    assert second["kind"] == "op" and second["op"] == "flip direction=horizontal"


def test_plan_text_shows_steps_and_notes(capsys):
    assert main(["plan", "remove the unicorn", "--caption", PORTRAIT, "--planner", "offline"]) == 0
    out = capsys.readouterr().out
    assert "1. Remove the unicorn" in out and "could not find" in out


def test_unplannable_words_exit_1_with_a_reason(capsys):
    assert main(["plan", "?!?", "--caption", PORTRAIT, "--planner", "offline", "--json"]) == 1
    captured = capsys.readouterr()
    assert "no words" in json.loads(captured.out)["error"]


def test_plan_loads_no_model():
    # the planner's own path: neither torch nor diffusers is even imported
    code = ("import argparse, sys; import agent.chat.cli as c; p = argparse.ArgumentParser(); "
            "c.register(p.add_subparsers()); "
            "a = p.parse_args(['plan', 'make it sepia', '--caption', 'a dog', '--planner', "
            "'offline']); a.func(a); print('torch' in sys.modules, 'diffusers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("False False")

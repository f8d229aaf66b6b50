"""A model folder's own measured edit defaults (its mtedit.json) become the chat's."""

from __future__ import annotations

import json
import shutil

from agent import ChatSession
from editing_core.model_defaults import model_edit_defaults
from mtedit.settings import BUNDLED_MODEL, Settings
from storage import Store


def session_for(model, tmp_path) -> ChatSession:
    settings = Settings(data_dir=tmp_path / "data", model=str(model))
    return ChatSession.open(settings, store=Store.open(settings.data_dir))


def test_the_bundled_model_edits_with_the_preset_that_won_its_benchmark(tmp_path):
    session = session_for(BUNDLED_MODEL, tmp_path)
    assert (session.edit_settings.preset, session.edit_settings.steps) == ("rf", 9)
    # the user's choice still wins, and "use mtc" gives the method
    [reply] = session.send("use mtc")
    assert reply.kind == "settings" and session.edit_settings.preset == "mtc"


def test_a_folder_without_the_file_or_with_a_broken_one_gets_the_method(tiny_flux_dir, tmp_path):
    assert model_edit_defaults(tiny_flux_dir) == {}
    assert session_for(tiny_flux_dir, tmp_path).edit_settings.preset == "mtc"
    broken = tmp_path / "broken"
    shutil.copytree(tiny_flux_dir, broken)
    (broken / "mtedit.json").write_text("{not json")
    assert session_for(broken, tmp_path / "b").edit_settings.preset == "mtc"
    (broken / "mtedit.json").write_text(json.dumps({"edit_defaults": {"preset": "nope"}}))
    assert session_for(broken, tmp_path / "c").edit_settings.preset == "mtc"
    (broken / "mtedit.json").write_text(json.dumps({"edit_defaults": {"preset": "fireflow",
                                                                       "steps": 4}}))
    settings = session_for(broken, tmp_path / "d").edit_settings
    assert (settings.preset, settings.steps) == ("fireflow", 4)

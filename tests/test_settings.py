from pathlib import Path

import pytest

from mtedit.settings import BUNDLED_MODEL, Settings


def test_defaults_need_no_gpu_no_network(tmp_path):
    s = Settings.from_env({"MTEDIT_DATA_DIR": str(tmp_path)})
    assert s.model == str(BUNDLED_MODEL)
    assert s.planner == "offline"
    assert s.db_url == f"sqlite:///{tmp_path / 'mtedit.db'}"


def test_environment_beats_file(tmp_path):
    (tmp_path / "settings.yaml").write_text("max_side: 512\nplanner: ollama\n")
    s = Settings.from_env({"MTEDIT_DATA_DIR": str(tmp_path), "MTEDIT_PLANNER": "openai"})
    assert s.max_side == 512
    assert s.planner == "openai"
    assert s.data_dir == Path(tmp_path)


def test_unknown_key_in_file_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("modle: /x\n")
    with pytest.raises(ValueError, match="modle"):
        Settings.from_env({"MTEDIT_CONFIG": str(cfg)})


def test_api_key_is_masked():
    s = Settings(planner_api_key="sk-secret")
    assert "sk-secret" not in str(s.as_dict())

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


# -- hostile settings: one clear line naming the key, the value and what is allowed ----

from mtedit.settings import SettingsError


@pytest.mark.parametrize(
    "text, says",
    [
        ("max_side: [1, 2\n", ["not valid YAML", "line"]),
        ("- max_side\n- 512\n", ["expected a mapping", "list"]),
        ("modle: /x\n", ["unknown setting", "modle", "known settings", "model"]),
        ("max_side: abc\n", ["max_side", "'abc'", "from 32 to 8192"]),
        ("max_side: 0\n", ["max_side", "0", "from 32 to 8192"]),
        ("planner_timeout: .nan\n", ["planner_timeout", "nan"]),
        ("dtype: float8\n", ["dtype", "float8", "bfloat16"]),
    ],
    ids=["invalid-yaml", "a-list", "unknown-key", "max-side-abc", "max-side-0", "timeout-nan",
         "dtype"],
)
def test_a_bad_settings_file_is_named_with_what_is_allowed(tmp_path, text, says):
    (tmp_path / "settings.yaml").write_text(text)
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"MTEDIT_DATA_DIR": str(tmp_path)})
    message = str(err.value)
    for word in says:
        assert word in message


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("MTEDIT_DEVICE", "banana", ["device", "'banana'", "MTEDIT_DEVICE", "cuda:N"]),
        ("MTEDIT_DEVICE", "cuda", ["device", "'cuda'", "no CUDA device"]),
        ("MTEDIT_DATABASE_URL", "garbage", ["database_url", "'garbage'", "SQLAlchemy URL"]),
        ("MTEDIT_DATABASE_URL", "nosuchdb://x/y", ["database_url", "nosuchdb"]),
        ("MTEDIT_MAX_SIDE", "-64", ["max_side", "'-64'", "MTEDIT_MAX_SIDE"]),
    ],
    ids=["device-banana", "cuda-without-cuda", "garbage-url", "unknown-dialect", "negative-side"],
)
def test_a_bad_environment_variable_is_named(tmp_path, key, value, says):
    import torch

    if value == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"MTEDIT_DATA_DIR": str(tmp_path), key: value})
    for word in says:
        assert word in str(err.value)
    assert not (Path.cwd() / "garbage").exists()


def test_valid_values_still_pass(tmp_path):
    s = Settings.from_env({"MTEDIT_DATA_DIR": str(tmp_path), "MTEDIT_DEVICE": "CPU",
                           "MTEDIT_MAX_SIDE": "512", "MTEDIT_PLANNER_TIMEOUT": "2.5",
                           "MTEDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert (s.device, s.max_side, s.planner_timeout) == ("cpu", 512, 2.5)


@pytest.mark.parametrize("command", [["doctor"], ["chat", "--script", "s.yaml"]])
def test_commands_print_one_line_not_a_traceback(tmp_path, command):
    import subprocess
    import sys

    (tmp_path / "settings.yaml").write_text("max_side: abc\n")
    (tmp_path / "s.yaml").write_text("turns: [show the history]\n")
    env = {"PATH": "/usr/bin:/bin", "MTEDIT_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "mtedit", *command], check=False, env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "max_side = 'abc'" in proc.stderr and "settings.yaml" in proc.stderr

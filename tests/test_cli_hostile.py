"""Hostile command lines: a settings file that is a folder, empty ids and captions, files
that are folders or missing, an output nobody can write; each answered in plain words
(no "[Errno N]", no traceback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mtedit.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "examples" / "toy_scene.png"
NOT_PLAIN = re.compile(r"Traceback|\[Errno \d+\]|\b[A-Z]\w*(Error|Exception)\b")


def run(capsys, *args) -> tuple[int, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    said = out + err
    assert not NOT_PLAIN.search(said), said
    return rc, said


def test_a_settings_file_setting_that_names_a_folder_is_refused(tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MTEDIT_CONFIG", str(tmp_path))
    rc, said = run(capsys, "doctor")
    assert rc == 2 and "MTEDIT_CONFIG" in said and "is not a file" in said


def test_plan_refuses_an_empty_caption(capsys):
    rc, said = run(capsys, "plan", "make it blue", "--caption", "  ")
    assert rc == 2 and "--caption is empty" in said


def test_an_empty_conversation_id_matches_nothing(tmp_path, capsys):
    from storage import Store

    with Store.open(data_dir=tmp_path / "data") as store:
        store.create_conversation("the only one")
        url = store.url
    rc, said = run(capsys, "export", "", "-o", str(tmp_path / "x.zip"), "--db", url)
    assert rc == 1 and "id is empty" in said
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("case", ["folder", "missing script", "unwritable output"])
def test_files_that_cannot_be_read_or_written_are_named_in_words(tmp_path, monkeypatch,
                                                                 capsys, case):
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(tmp_path / "data"))
    src = ["--source", "a small red circle", "--target", "a small blue circle",
           "--steps", "1"]
    if case == "folder":
        rc, said = run(capsys, "edit", str(tmp_path), *src, "-o", str(tmp_path / "o.png"))
        assert rc == 1 and "is a directory" in said
    elif case == "missing script":
        rc, said = run(capsys, "chat", "--script", str(tmp_path / "nope.yaml"))
        assert rc == 2 and "nope.yaml: no such file" in said
    else:
        out = tmp_path / "missing-folder" / "o.png"
        rc, said = run(capsys, "edit", str(SCENE), *src, "-o", str(out))
        assert rc == 1 and f"{out}: no such file or directory" in said

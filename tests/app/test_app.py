"""The chat app through Streamlit's AppTest, over a tiny random FLUX built in a temp folder.

Edits run on the agent's executor thread; the tests poll like the page does
(sleep, then rerun) until the job has finished.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.lineage_tree.testing import click, drawn

APP = str(Path(__file__).resolve().parents[2] / "chat_app.py")
TREE = "lineage-tree"  # the lineage tree's key on the page
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from editing_core.testing import build_tiny_flux

    return build_tiny_flux(tmp_path_factory.mktemp("model") / "flux")


@pytest.fixture
def env(tmp_path, tiny_model, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MTEDIT_MODEL", str(tiny_model))
    monkeypatch.setenv("MTEDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MTEDIT_DEVICE", "cpu")
    monkeypatch.setenv("MTEDIT_MAX_SIDE", "64")
    monkeypatch.setenv("MTEDIT_PLANNER", "offline")
    monkeypatch.delenv("MTEDIT_CONFIG", raising=False)
    return tmp_path / "data"


def png(color=(90, 160, 80), size=(64, 48)) -> bytes:
    img = Image.new("RGB", size, color)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def open_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest, text: str, files: list[tuple[str, bytes]] = ()) -> AppTest:
    box = at.chat_input[0].set_value(text)
    for name, data in files:
        box.upload(name, data, "image/png")
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def running(at: AppTest) -> bool:
    """The progress panel is on the page (an edit is queued, running or being saved)."""
    return len(at.get("progress")) > 0


def wait_idle(at: AppTest, timeout: float = 90) -> AppTest:
    deadline = time.monotonic() + timeout
    while running(at):
        assert time.monotonic() < deadline, "the edit did not finish"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def tree(at: AppTest) -> list[dict]:
    """The nodes the lineage tree drew (layer, lane, label, is_head ...); [] without one."""
    try:
        return drawn(at, TREE)["nodes"]
    except LookupError:
        return []


def node_keys(at: AppTest) -> list[str]:
    """The ids of the images in the lineage tree, oldest first."""
    return [n["id"] for n in tree(at)]


def drawn_node(at: AppTest, node_id: str) -> dict:
    return next(n for n in tree(at) if n["id"] == node_id)


def pick(at: AppTest, node_id: str) -> AppTest:
    """A click on the node's thumbnail in the tree: its actions open."""
    click(at, node_id, key=TREE)
    assert not at.exception, at.exception
    return at


def widget(widgets, prefix: str):
    """The sidebar's settings widgets are keyed "<name>-<conversation id>"."""
    return next(w for w in widgets if (w.key or "").startswith(prefix + "-"))


def conversation(at: AppTest) -> str:
    c = at.query_params["c"]
    return c[0] if isinstance(c, list) else c


def test_empty_page_offers_upload_or_text_prompt(env):
    at = open_app()
    assert "Upload a photo" in texts(at)
    assert "text prompt" in texts(at)
    assert "bundled" not in texts(at)  # a model of real photos: no toy-world talk
    assert at.chat_input[0] is not None
    assert not node_keys(at)
    # The starters are plain example prompts; one click generates.
    starters = [b for b in at.button if (b.key or "").startswith("starter-")]
    first = "generate a red vintage car on a coastal road at sunset"
    assert [b.label for b in starters][:1] == [first]
    assert len(starters) == 3
    button(at, "starter-0").click().run()
    wait_idle(at)
    assert "Generated" in texts(at) and len(node_keys(at)) == 1


def test_welcome_with_the_bundled_model_and_its_starters(env, monkeypatch):
    from mtedit.settings import BUNDLED_MODEL

    monkeypatch.setenv("MTEDIT_MODEL", str(BUNDLED_MODEL))
    monkeypatch.delenv("MTEDIT_MAX_SIDE")
    at = open_app()
    hello = texts(at)
    assert "bundled model" in hello and "circles, squares and triangles" in hello
    assert "MTEDIT_MODEL" in hello
    labels = [b.label for b in at.button if (b.key or "").startswith("starter-")]
    assert labels == ["Try an example scene", "make the circle blue",
                      "move the square to the top left", "make the background yellow"]

    # The example scene: a new conversation with the scene and its caption, then the
    # three edits are offered under it.
    button(at, "starter-0").click().run()
    assert len(node_keys(at)) == 1
    assert "a small red circle on the left and a large blue square on the right" in texts(at)
    assert "only draws its own world" not in texts(at)  # it is of that world: no warning
    offered = [b.label for b in at.button if (b.key or "").startswith("suggest-")]
    assert offered == labels[1:]
    button(at, "suggest-0").click().run()
    wait_idle(at)
    assert "Done:" in texts(at) and len(node_keys(at)) == 2
    assert "#1 · Make the circle blue" in texts(at)
    assert not [b for b in at.button if (b.key or "").startswith("suggest-")]

    # A photo in a new conversation: the reply says, before the edit runs, that this
    # model draws shapes and how to use real weights; a second photo is not told again.
    button(at, "new-conversation").click().run()
    send(at, "a dog on a beach", [("dog.png", png(size=(300, 200)))])
    reply = texts(at)
    assert reply.count("only draws its own world of shapes") == 1 and "MTEDIT_MODEL" in reply
    send(at, "another dog", [("dog2.png", png((10, 20, 30), size=(300, 200)))])
    assert texts(at).count("only draws its own world of shapes") == 1


def test_upload_edit_rollback_and_branch(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    assert at.chat_message[0].markdown[0].value == "a red ball on green grass"
    assert "Stored the image" in texts(at)
    assert len(node_keys(at)) == 1  # the upload is the lineage's root, and the head
    send(at, "use 2 steps")

    send(at, "make the ball blue")
    assert running(at), "the edit runs in the background while the page stays up"
    wait_idle(at)
    assert "Done:" in texts(at)
    captions = [c for img in at.image for c in img.captions]
    assert any("before (#0)" in c for c in captions) and any("after (#1)" in c for c in captions)
    assert "#1 · Make the ball blue" in texts(at)
    root, _edited = node_keys(at)

    # Roll back by clicking the root node, then make it the head.
    pick(at, root)
    button(at, "make-head").click().run()
    assert not at.exception
    assert drawn_node(at, root)["is_head"], "the clicked node is the head now"
    assert "Nothing was deleted" in texts(at)

    send(at, "make the ball yellow")
    wait_idle(at)
    keys = node_keys(at)
    assert len(keys) == 3
    # Two branches: the yellow edit forks from #0 on a line of its own, and is the head.
    first, second = drawn_node(at, keys[1]), drawn_node(at, keys[2])
    assert first["parent"] == second["parent"] == root and first["lane"] != second["lane"]
    assert second["is_head"] and not first["is_head"]

    # Compare the two edits of #0 side by side; each node can be downloaded.
    first_edit = next(k for k in node_keys(at) if k not in (root,) and k != keys[-1])
    pick(at, first_edit)
    assert [d.label for d in at.get("download_button") if d.key == "download-node"]
    blue, yellow = first_edit, keys[-1]
    at.selectbox(key=f"compare-{blue}").set_value(yellow).run()
    captions = [c for img in at.image for c in img.captions]
    # Each image has a label of its own: the second turn-1 image is "1b".
    assert "#1 Make the ball blue" in captions and "#1b Make the ball yellow" in captions
    labels = [n["label"] for n in tree(at)]
    assert sorted(labels) == ["0", "1", "1b"]

    # "Branch" on the blue edit: it becomes the head, and the page says what comes next.
    button(at, "fork-here").click().run()
    assert "it makes the next turn from #1" in " ".join(i.value for i in at.info)
    assert drawn_node(at, first_edit)["label"] == "1" and drawn_node(at, first_edit)["is_head"]


def test_several_uploads_and_picking_the_base(env):
    at = open_app()
    send(at, "a ball on grass", [("a.png", png()), ("b.png", png((200, 60, 60)))])
    assert "image 1 is the base" in texts(at)
    first, second = node_keys(at)
    assert "the base: edits start here" in [c.value for c in at.caption]
    base_buttons = [b for b in at.button if (b.key or "").startswith("base-")]
    assert len(base_buttons) == 1  # only the image that is not the base offers itself
    base_buttons[0].click().run()
    assert not at.exception
    # The head moved to the second image: it is the outlined one in the lineage.
    assert drawn_node(at, second)["is_head"] and not drawn_node(at, first)["is_head"]
    # Two trees, one per upload, each a root on a line of its own.
    one, two = drawn_node(at, first), drawn_node(at, second)
    assert one["parent"] is None and two["parent"] is None and one["lane"] != two["lane"]


def test_two_tabs_share_one_model(env):
    a, b = open_app(), open_app()
    chat_a, chat_b = a.session_state["chat"], b.session_state["chat"]
    assert chat_a is not chat_b
    assert chat_a.executor.backend() is chat_b.executor.backend()


def test_start_from_a_text_prompt(env):
    at = open_app()
    send(at, "use 2 steps")
    send(at, "generate a red ball on green grass")
    wait_idle(at)
    assert "Generated" in texts(at)
    assert len(node_keys(at)) == 1
    assert tree(at)[0]["label"] == "0" and tree(at)[0]["is_head"]
    assert at.chat_message[-1].image, "the generated image is shown in the chat"


def test_reload_finds_the_running_edit_and_its_result(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    send(at, "use 2 steps")
    send(at, "make the ball blue")
    conv = conversation(at)
    # A reload is a new browser session: nothing of the old session_state survives.
    again = open_app(c=conv)
    chat = again.session_state["chat"]
    assert running(again) or "Done:" in texts(again), (chat.active_job(), chat.messages())
    wait_idle(again)
    assert "Done:" in texts(again)
    assert len(node_keys(again)) == 2


def test_a_message_left_unanswered_by_a_stopped_server_says_so(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    chat = at.session_state["chat"]
    # What a server that died mid-edit leaves behind: the request, and no reply.
    chat.store.add_message(chat.conversation_id, "user", "make the ball blue")
    again = open_app(c=conversation(at))
    assert "got no answer" in " ".join(w.value for w in again.warning)


def test_cancel_stops_the_edit(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    send(at, "use 50 steps")
    send(at, "make the ball blue")
    assert running(at)
    deadline = time.monotonic() + 30
    while "step " not in (text := at.get("progress")[0].proto.text):  # the model is loading
        assert time.monotonic() < deadline, text
        time.sleep(0.5)
        at.run()
    assert re.match(r"edit 1 of 1: Make the ball blue · step \d+/\d+ · ", text), text
    assert text.endswith((" s left", " s so far")), text
    send(at, "another ball", [("b.png", png())])  # refused while an edit runs, and said so
    assert "still running" in " ".join(e.value for e in at.error)
    cancel = next(b for b in at.button if (b.key or "").startswith("cancel-"))
    cancel.click().run()
    wait_idle(at, timeout=60)
    assert "Cancelled" in texts(at)
    assert len(node_keys(at)) == 1  # nothing half-made was stored


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("notes.png", b"this is not an image at all", "not a readable image"),
        ("cut.png", png()[:60], "not a readable image"),
        ("huge.png", None, "megapixels"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(env, name, data, says):
    if data is None:  # 72 megapixels of one colour: a few kB of PNG, far too many pixels
        buf = io.BytesIO()
        Image.new("L", (9000, 8000)).save(buf, "PNG")
        data = buf.getvalue()
    at = open_app()
    send(at, "a photo", [(name, data)])
    errors = " ".join(e.value for e in at.error)
    assert says in errors and "Nothing was sent" in errors
    assert not node_keys(at)


def test_missing_model_says_which_variable_to_set(env, monkeypatch, tmp_path):
    monkeypatch.setenv("MTEDIT_MODEL", str(tmp_path / "no-such-model"))
    at = open_app()
    assert "MTEDIT_MODEL" in " ".join(w.value for w in at.warning)
    send(at, "a red ball on green grass", [("ball.png", png())])
    send(at, "make the ball blue")
    wait_idle(at)
    assert "MTEDIT_MODEL" in " ".join(e.value for e in at.error)
    assert not at.exception


def test_a_broken_database_url_gives_a_message_not_a_stack_trace(env, monkeypatch):
    monkeypatch.setenv("MTEDIT_DATABASE_URL", "nosuchdriver://nowhere/db")
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "MTEDIT_DATABASE_URL" in errors and "nosuchdriver" in errors


def test_settings_are_saved_for_the_user(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    widget(at.number_input, "set-steps").set_value(6)
    widget(at.number_input, "set-eta").set_value(0.8)
    widget(at.selectbox, "set-highlight").set_value(False)
    widget(at.text_input, "set-planner-model").set_value("qwen2.5")
    button(at, "save-settings").click().run()
    assert not at.exception
    saved = yaml.safe_load((env / "settings.yaml").read_text())
    assert saved["planner_model"] == "qwen2.5" and saved["device"] == "cpu"
    # A new tab (a reload) shows the same values.
    again = open_app(c=conversation(at))
    assert widget(again.number_input, "set-steps").value == 6
    assert widget(again.number_input, "set-eta").value == pytest.approx(0.8)
    assert widget(again.selectbox, "set-highlight").value is False
    assert widget(again.text_input, "set-planner-model").value == "qwen2.5"
    # A new conversation starts with the same edit settings.
    button(again, "new-conversation").click().run()
    assert widget(again.number_input, "set-steps").value == 6


def test_settings_are_saved_to_the_file_mtedit_config_names(env, monkeypatch, tmp_path):
    config = tmp_path / "elsewhere" / "mtedit.yaml"
    monkeypatch.setenv("MTEDIT_CONFIG", str(config))
    at = open_app()
    widget(at.text_input, "set-planner-model").set_value("llama3.2")
    button(at, "save-settings").click().run()
    assert not at.exception
    assert yaml.safe_load(config.read_text())["planner_model"] == "llama3.2"
    assert not (env / "settings.yaml").exists()  # not where it would never be read
    again = open_app(c=conversation(at))  # a reload reads it back
    assert widget(again.text_input, "set-planner-model").value == "llama3.2"


def test_a_wrong_model_folder_in_settings_is_explained(env, tmp_path):
    at = open_app()
    widget(at.text_input, "set-model").set_value(str(tmp_path / "missing"))
    button(at, "save-settings").click().run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "does not exist" in warning and "MTEDIT_MODEL" in warning


def test_conversations_new_rename_export_import_delete(env):
    at = open_app()
    send(at, "a red ball on green grass", [("ball.png", png())])
    first = conversation(at)
    at.text_input(key=f"title-{first}").set_value("Ball")
    button(at, "rename").click().run()
    assert button(at, f"conv-{first}").label == "Ball"

    data = at.session_state["chat"].export_zip()
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()

    button(at, "new-conversation").click().run()
    second = conversation(at)
    assert second != first and not node_keys(at)

    before = {b.key for b in at.button if (b.key or "").startswith("conv-")}
    at.get("file_uploader")[0].upload("ball.zip", data, "application/zip").run()
    button(at, "import").click().run()
    imported = conversation(at)
    assert f"conv-{imported}" not in before and imported not in (first, second)
    assert len(node_keys(at)) == 1  # the imported conversation's image

    garbage = at.get("file_uploader")[0]
    garbage.upload("notes.zip", b"not a zip", "application/zip").run()
    button(at, "import").click().run()
    assert "Could not import notes.zip" in " ".join(e.value for e in at.error)

    # Delete asks first; "Keep" keeps it.
    button(at, f"conv-{first}").click().run()
    button(at, "delete").click().run()
    assert "cannot be undone" in " ".join(w.value for w in at.warning)
    button(at, "delete-no").click().run()
    assert f"conv-{first}" in [b.key for b in at.button]
    button(at, "delete").click().run()
    button(at, "delete-yes").click().run()
    assert f"conv-{first}" not in [b.key for b in at.button]
    assert not at.exception

"""The mtedit chat app: a Streamlit page over agent.ChatSession.

    streamlit run chat_app.py        # or `make run`

The page only renders what the session reads back (messages, lineage, the running
job) and forwards what the user does; its parts are in app/ (the chat and job panel,
the lineage panel, the sidebar). Job state lives in the agent's executor and the store,
never in st.session_state, so a reload finds a running edit and its result.
session_state holds only UI things: the ChatSession object of this browser tab, the
selected lineage node, transient notices and refused text to give back to the chat box.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

try:
    from agent import explain_error, log_failure, welcome
    from app.chat_panel import (
        IMAGE_TYPES,
        INPUT,
        MAX_UPLOAD_MB,
        handle_input,
        render_chat,
        restore_input,
    )
    from app.lineage_panel import render_lineage
    from app.marking import render_marking
    from app.sidebar import render_conversations, render_settings
    from app.state import follow_url, session
    from mtedit.settings import SettingsError
except ImportError as exc:  # a broken install: say how to repair it, not a stack trace
    st.error(f"The app cannot start: {exc}. Reinstall with `make install` (or "
             "`.venv/bin/pip install -e '.[dev]'`) and reload.")
    st.stop()

log = logging.getLogger("mtedit.app")

FAVICON = Path(__file__).resolve().parent / "app" / "assets" / "favicon.png"  # served here
CSS = """
<style>
/* The lineage column stays in view while the chat scrolls. */
div[data-testid="stColumn"]:has(div.st-key-lineage) {
  position: sticky; top: 3.5rem; align-self: flex-start;
  max-height: calc(100vh - 9rem); overflow-y: auto;
}
div.st-key-lineage { padding: 5px; }
/* Turns an undo left after the head: still there, greyed. */
div[class*="st-key-left-behind-"] { opacity: 0.55; border-left: 3px dashed #bbb;
  padding-left: 0.6rem; }
</style>
"""


# -- the page ---------------------------------------------------------------------------


def main() -> None:
    # A path, not a ":material/..." name: that one the browser would fetch from a public
    # font server, and the page must need nothing from outside the machine.
    st.set_page_config(page_title="mtedit", page_icon=str(FAVICON), layout="wide")
    st.html(CSS)
    chat = session()
    follow_url(chat)
    restore_input()  # refused words go back into the box
    value = st.chat_input(
        "Describe an edit, or upload photos with +",
        accept_file="multiple", file_type=IMAGE_TYPES, max_upload_size=MAX_UPLOAD_MB,
        key=INPUT,
    )
    if value is not None:
        handle_input(chat, value)
    with st.sidebar:
        render_conversations(chat)
        render_settings(chat)
    problem = st.session_state.get("model_problem")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.title("mtedit", anchor=False)
        model = ("the bundled toy model" if welcome.is_bundled(chat.settings)
                 else f"`{chat.settings.model}`")
        st.caption(f"Model: {model} · device {chat.settings.device}")
        if problem:
            st.warning(problem, icon=":material/warning:")
        if note := getattr(chat, "planner_note", ""):  # e.g. an LLM planner that is not set up
            st.info(note, icon=":material/info:")
        nodes = render_chat(chat)
        render_marking(chat)
    with right, st.container(key="lineage"):
        render_lineage(chat, nodes)

def run() -> None:
    """main() with a readable message instead of a stack-trace page."""
    try:
        main()  # st.rerun / st.stop raise BaseException subclasses: they pass through
    except SettingsError as exc:  # a wrong setting: name it, do not call it a crash
        st.error(f"A setting needs fixing before the app can start. {exc}. Change it in "
                 "the environment or in settings.yaml, then reload the page.")
    except Exception as exc:  # noqa: BLE001 - the page must stay up (logged below)
        log_failure(log, "the page failed", exc=exc, level=logging.ERROR)
        st.error(
            f"Something went wrong ({explain_error(exc)}). Your conversations are "
            "stored; reload the page. If it persists, check the settings in the sidebar "
            "(model folder, device); the server log has the details."
        )


run()

"""The mtedit chat app: a Streamlit page over agent.ChatSession.

    streamlit run chat_app.py        # or `make run`

The page only renders what the session reads back (messages, lineage, the running
job) and forwards what the user does; its parts are in app/ (the chat and job panel,
the lineage panel, the sidebar). Job state lives in the agent's executor and the store,
never in st.session_state, so a reload finds a running edit and its result.
session_state holds only UI things: the ChatSession object of this browser tab, the
selected lineage node and transient notices.
"""

from __future__ import annotations

import logging

import streamlit as st

try:
    from agent import explain_error, welcome
    from app.chat_panel import IMAGE_TYPES, MAX_UPLOAD_MB, handle_input, render_chat
    from app.lineage_panel import render_lineage
    from app.sidebar import render_conversations, render_settings
    from app.state import follow_url, session
    from mtedit.settings import SettingsError
except ImportError as exc:  # a broken install: say how to repair it, not a stack trace
    st.error(f"The app cannot start: {exc}. Reinstall with `make install` (or "
             "`.venv/bin/pip install -e '.[dev]'`) and reload.")
    st.stop()

log = logging.getLogger("mtedit.app")

CSS = """
<style>
div[class*="st-key-node-"] { padding: 0.3rem; gap: 0.2rem; position: relative; }
div[class*="st-key-node-"] .mt-thumb { width: 100%; border-radius: 4px; display: block; }
div[class*="st-key-node-"] .mt-missing { aspect-ratio: 1; background: #eee; font-size: 0.7rem; }
div[class*="st-key-node-"]:hover { outline: 2px solid #999; outline-offset: 1px; border-radius: 8px; }
div.st-key-node-head, div.st-key-node-head:hover {
  outline: 3px solid #ff4b4b; outline-offset: 1px; border-radius: 8px;
}
/* The whole cell (thumbnail and label) is the node's button: the button lies over it. */
div[class*="st-key-pick-"] { position: absolute; inset: 0; z-index: 2; margin: 0; }
div[class*="st-key-pick-"] :is(.stButton, .stButton > div, .stTooltipIcon,
    .stTooltipHoverTarget, button) { width: 100% !important; height: 100% !important; }
div[class*="st-key-pick-"] button { background: transparent !important; border: none !important; }
div[class*="st-key-pick-"] button * { visibility: hidden; }
div[class*="st-key-node-"] p { font-size: 0.75rem; line-height: 1.15; margin: 0; }
div[class*="st-key-node-"] .stHtml { margin-bottom: 0; }
div[class*="st-key-node-"] .mt-what {
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
  color: #666;
}
/* The lineage column stays in view while the chat scrolls. */
div[data-testid="stColumn"]:has(div.st-key-lineage) {
  position: sticky; top: 3.5rem; align-self: flex-start;
  max-height: calc(100vh - 9rem); overflow-y: auto;
}
div.st-key-lineage { padding: 5px; }
</style>
"""


# -- the page ---------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="mtedit", page_icon=":material/auto_fix_high:", layout="wide")
    st.html(CSS)
    chat = session()
    follow_url(chat)
    value = st.chat_input(
        "Describe an edit, or upload photos with +",
        accept_file="multiple", file_type=IMAGE_TYPES, max_upload_size=MAX_UPLOAD_MB,
        key="chat-input",
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
    with right, st.container(key="lineage"):
        render_lineage(chat, nodes)

def run() -> None:
    """main() with a readable message instead of a stack-trace page."""
    try:
        main()  # st.rerun / st.stop raise BaseException subclasses: they pass through
    except SettingsError as exc:  # a wrong setting: name it, do not call it a crash
        st.error(f"A setting needs fixing before the app can start. {exc}. Change it in "
                 "the environment or in settings.yaml, then reload the page.")
    except Exception as exc:  # the page must stay up
        log.exception("the page failed")
        st.error(
            f"Something went wrong ({explain_error(exc)}). Your conversations are "
            "stored; reload the page. If it persists, check the settings in the sidebar "
            "(model folder, device); the server log has the details."
        )


run()

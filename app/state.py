"""The page's session state: this tab's ChatSession over the process's shared model, the
conversation in the URL, and transient notices. Job state is never kept here: it lives in
the agent's executor and the store, so a reload finds a running edit and its result."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from agent import ChatSession, explain_error, load_backend
from mtedit.settings import BUNDLED_MODEL, Settings


def app_settings(**overrides) -> Settings:
    """Settings.from_env plus this tab's sidebar choices (which win)."""
    return Settings.from_env(**overrides)

@st.cache_resource(show_spinner="Loading the model (once per process)…")
def shared_backend(model: str, device: str, dtype: str, offload: str, max_side: int):
    """The editing model, loaded once per process and shared by every tab and rerun."""
    settings = app_settings(model=model, device=device, dtype=dtype, offload=offload,
                            max_side=max_side)
    return load_backend(settings)

def backend_for(settings: Settings):
    """(backend, None), or (None, a message saying what to do) when it cannot be loaded."""
    try:
        backend = shared_backend(str(settings.model), settings.device, settings.dtype,
                                 settings.offload, settings.max_side)
    except Exception as exc:  # noqa: BLE001 - shown as a message; edits will say it again
        hint = ""
        if (Path(str(settings.model)) == BUNDLED_MODEL
                and not (BUNDLED_MODEL / "model_index.json").is_file()):
            hint = (" The bundled small model is not built yet: run `.venv/bin/mtedit "
                    "train-toy`, or point `MTEDIT_MODEL` at a FLUX.1 folder.")
        text = explain_error(exc)
        return None, f"{text[:1].upper()}{text[1:]}.{hint}"
    return backend, None

def session() -> ChatSession:
    """This tab's ChatSession (opened once per browser session over the shared model)."""
    chat = st.session_state.get("chat")
    if chat is None:
        settings = app_settings(**st.session_state.get("app_overrides", {}))
        backend, problem = backend_for(settings)
        chat = ChatSession.open(settings, backend=backend)
        st.session_state["chat"] = chat
        st.session_state["model_problem"] = problem
    return chat

def follow_url(chat: ChatSession) -> None:
    """Keep the current conversation in the URL (?c=...), so a reload returns to it."""
    wanted = st.query_params.get("c")
    if wanted and wanted != chat.conversation_id:
        before = chat.conversation_id
        try:
            chat.switch(wanted)
        except KeyError:
            del st.query_params["c"]
            notice("That conversation no longer exists.", kind="error")
        leave(chat, before)
    if chat.conversation_id is None:
        convs = chat.conversations()
        if convs:
            chat.switch(convs[0].id)
    if chat.conversation_id and st.query_params.get("c") != chat.conversation_id:
        st.query_params["c"] = chat.conversation_id


# -- transient notices (UI only: refused uploads, failed calls) -------------------------


def notice(text: str, kind: str = "error") -> None:
    st.session_state.setdefault("notices", []).append({"text": text, "kind": kind})

def clear_notices() -> None:
    st.session_state["notices"] = []

def leave(chat: ChatSession, before: str | None) -> None:
    """The user left the conversation `before` for the current one: an empty one is not
    kept (it would sit in the sidebar as a look-alike)."""
    if before and before != chat.conversation_id:
        chat.discard_if_empty(before)

def move_head(chat: ChatSession, node_id: str) -> bool:
    """Make node_id the head; False (and a notice) when the agent refuses, e.g. mid-edit."""
    reply = chat.set_head(node_id)
    if reply.kind == "error":
        notice(reply.text)
        return False
    return True

"""The sidebar: conversations (new, switch, rename, export, delete, import) and the
settings form (model, edit settings of the conversation, planner)."""

from __future__ import annotations

import re

import streamlit as st

from agent import PRESET_CHOICES, ChatSession, explain_error
from app.settings_file import save_user_settings
from app.state import app_settings, backend_for, clear_notices, leave

DEVICES = ["auto", "cpu", "cuda", "mps"]
PLANNERS = ["offline", "openai", "anthropic", "ollama"]
REGIONS = {"auto": "Only where it acts (automatic)", "none": "Edit everything"}


UNTITLED = "Untitled (empty)"  # how the list shows a conversation nothing was sent in yet


def render_conversations(chat: ChatSession) -> None:
    """The "New conversation" button, then the list: titles from each conversation's first
    request or upload, so the list never reads like the button. An empty conversation is
    reused rather than repeated, and let go once the user leaves it."""
    st.header("Conversations", anchor=False)
    if st.button("New conversation", icon=":material/add:", width="stretch",
                 key="new-conversation", type="secondary"):
        before = chat.conversation_id
        carried = {k: v for k, v in chat.edit_settings.as_dict().items() if v is not None}
        st.query_params["c"] = chat.start_fresh()
        defaults = chat.default_edit_settings.as_dict()
        if chat.conversation_id != before and carried != {
                k: v for k, v in defaults.items() if v is not None}:
            chat.update_settings(**carried)  # the edit settings carry over
        clear_notices()
        st.session_state.pop("selected", None)
        st.rerun()
    convs = chat.conversations()
    if convs:
        st.caption("Recent")
    for conv in convs[:50]:
        current = conv.id == chat.conversation_id
        if st.button(
            conv.title or UNTITLED, key=f"conv-{conv.id}", width="stretch",
            type="primary" if current else "tertiary", icon=":material/chat_bubble:",
        ) and not current:
            before = chat.conversation_id
            chat.switch(conv.id)
            leave(chat, before)
            st.query_params["c"] = conv.id
            clear_notices()
            st.session_state.pop("selected", None)
            st.rerun()
    if chat.conversation_id:
        render_conversation_actions(chat, {c.id: c for c in convs})
    render_import(chat)

def render_conversation_actions(chat: ChatSession, convs: dict) -> None:
    conv = convs.get(chat.conversation_id)
    title = conv.title if conv else ""
    with st.expander("This conversation"):
        new_title = st.text_input("Title", value=title, key=f"title-{chat.conversation_id}")
        if st.button("Rename", key="rename") and new_title.strip() and new_title != title:
            chat.rename(new_title.strip())
            st.rerun()
        st.download_button(
            "Export as zip", data=lambda: chat.export_zip(), key="export",
            file_name=f"mtedit-{re.sub(r'[^A-Za-z0-9._-]+', '_', title or 'chat')[:40]}.zip",
            mime="application/zip", on_click="ignore", icon=":material/download:",
        )
        if st.session_state.get("confirm_delete") != chat.conversation_id:
            if st.button("Delete…", key="delete", icon=":material/delete:"):
                st.session_state["confirm_delete"] = chat.conversation_id
                st.rerun()
        else:
            st.warning(f"Delete “{title}” with all its images? This cannot be undone.")
            yes, no = st.columns(2)
            if yes.button("Delete", key="delete-yes", type="primary"):
                chat.delete(chat.conversation_id)
                st.session_state.pop("confirm_delete", None)
                st.session_state.pop("selected", None)
                if "c" in st.query_params:
                    del st.query_params["c"]
                st.rerun()
            if no.button("Keep", key="delete-no"):
                st.session_state.pop("confirm_delete", None)
                st.rerun()

def render_import(chat: ChatSession) -> None:
    n = st.session_state.get("import_n", 0)
    upload = st.file_uploader("Import a conversation (.zip)", type=["zip"], key=f"import-{n}")
    if upload is not None and st.button("Import", key="import"):
        try:
            conv_id = chat.import_zip(upload.getvalue())
        except Exception as exc:  # noqa: BLE001 - a bad zip must not break the page
            st.error(f"Could not import {upload.name}: {explain_error(exc)}")
            return
        before = chat.conversation_id
        chat.switch(conv_id)
        leave(chat, before)
        st.query_params["c"] = conv_id
        st.session_state["import_n"] = n + 1
        st.rerun()

def render_settings(chat: ChatSession) -> None:
    """Model, edit and planner settings. Widget keys carry the conversation id, so that
    switching conversations shows that conversation's edit settings."""
    s, e = chat.settings, chat.edit_settings
    k = chat.conversation_id or "none"
    with st.expander("Settings", icon=":material/tune:"):
        with st.form(f"settings-{k}", border=False):
            st.caption("Model")
            model = st.text_input("Model folder or hub id", value=str(s.model), key=f"set-model-{k}")
            device = st.selectbox("Device", _with(DEVICES, s.device),
                                  index=_index(DEVICES, s.device), key=f"set-device-{k}")
            st.caption("Editing (empty: the preset's value)")
            preset = st.selectbox("Preset", _with(PRESET_CHOICES, e.preset),
                                  index=_index(PRESET_CHOICES, e.preset), key=f"set-preset-{k}")
            steps = st.number_input("Steps", 1, 200, value=e.steps, step=1, key=f"set-steps-{k}")
            guidance = st.number_input("Guidance", 0.0, 30.0, value=e.guidance, step=0.5,
                                       key=f"set-guidance-{k}")
            eta = st.number_input("LQR eta", 0.0, 1.0, value=e.eta, step=0.05, key=f"set-eta-{k}")
            lam = st.number_input("Lambda (previous vs original)", 0.0, 1.0, value=e.lam,
                                  step=0.05, key=f"set-lambda-{k}")
            stop = st.number_input("Control stop (share of steps)", 0.0, 1.0, value=e.stop,
                                   step=0.05, key=f"set-stop-{k}")
            hl_options = [None, True, False]
            highlight = st.selectbox(
                "Attention highlighting", hl_options, index=hl_options.index(e.highlight),
                format_func=lambda v: {None: "preset", True: "on", False: "off"}[v],
                key=f"set-highlight-{k}",
            )
            inject = st.number_input("Feature injection steps", 0, 10, value=e.inject, step=1,
                                     key=f"set-inject-{k}")
            seed = st.number_input("Seed", 0, 2**31 - 1, value=int(e.seed), step=1,
                                   key=f"set-seed-{k}")
            region = st.selectbox(
                "Where an edit may change the image", list(REGIONS),
                index=list(REGIONS).index(e.region) if e.region in REGIONS else 0,
                format_func=REGIONS.get, key=f"set-region-{k}",
                help="Automatic: a local edit changes only where it acts, every other pixel "
                     "stays exactly as it was (a box you drag on the image always counts). "
                     "Edit everything: the whole picture may change.")
            st.caption("Planner")
            planner = st.selectbox("Provider", _with(PLANNERS, s.planner),
                                   index=_index(PLANNERS, s.planner), key=f"set-planner-{k}")
            planner_model = st.text_input("Planner model", value=s.planner_model or "",
                                          key=f"set-planner-model-{k}")
            base_url = st.text_input("Base URL", value=s.planner_base_url or "",
                                     placeholder="http://localhost:8000/v1",
                                     key=f"set-base-url-{k}")
            saved = st.form_submit_button("Save settings", type="primary", key="save-settings")
        if saved:
            app = {
                "model": model.strip(), "device": device, "planner": planner,
                "planner_model": planner_model.strip() or None,
                "planner_base_url": base_url.strip() or None,
            }
            edit = {
                "preset": preset, "steps": steps, "guidance": guidance, "eta": eta, "lam": lam,
                "stop": stop, "highlight": highlight, "inject": inject, "seed": seed,
                "region": region,
            }
            save_settings(chat, app, edit)

def _with(options: list[str], value: str) -> list[str]:
    return options if value in options else [*options, value]

def _index(options: list[str], value: str) -> int:
    return _with(options, value).index(value)

def save_settings(chat: ChatSession, app: dict, edit: dict) -> None:
    """Apply the sidebar: edit settings on the conversation, app settings in settings.yaml."""
    try:
        app_settings(**{k: v for k, v in app.items() if v not in (None, "")})  # valid first
        if chat.conversation_id is None:
            st.query_params["c"] = chat.start_fresh()
        chat.update_settings(**edit, **{k: app[k] for k in app if k.startswith("planner")})
        path = save_user_settings(app)
    except (ValueError, OSError) as exc:
        st.error(f"Not saved: {exc}")
        return
    current = {k: getattr(chat.settings, k) for k in ("model", "device")}
    if any(str(current[k]) != str(app[k]) for k in current):
        overrides = {**st.session_state.get("app_overrides", {}), "model": app["model"],
                     "device": app["device"]}
        st.session_state["app_overrides"] = overrides
        conv = chat.conversation_id
        settings = app_settings(**overrides)
        backend, problem = backend_for(settings)
        st.session_state["chat"] = ChatSession.open(settings, conv, backend=backend)
        st.session_state["model_problem"] = problem
    st.toast(f"Settings saved ({path})")
    st.rerun()

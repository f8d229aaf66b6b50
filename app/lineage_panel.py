"""The lineage column: the conversation's images as one tree (app/lineage_tree: thumbnails
joined by branch lines, the head marked, undone turns faded); a click on a thumbnail opens
that image's actions in a dialog in the middle of the screen (make it the head, branch,
download, compare), where the user is looking, without scrolling the page."""

from __future__ import annotations

import streamlit as st

from agent import ChatSession, NodeView, check_text, node_labels
from app.lineage_tree import TreeNode, lineage_tree
from app.nodes import (
    image_or_placeholder,
    node_label,
    region_caption,
    region_image,
    tag,
    thumb,
    tree_image,
)
from app.state import move_head, notice

KEY = "lineage"  # the tree's key (its element is .st-key-lineage-tree on the page)
OPEN = "node_dialog"  # session_state: the node whose actions are open, if any


def tree_nodes(chat: ChatSession, nodes: list[NodeView], labels: dict[str, str]) -> list[TreeNode]:
    """What the tree draws: every image oldest first, labelled, with its thumbnail."""
    return [TreeNode(id=n.id, parent_id=n.parent_id, label=labels.get(n.id, str(n.depth)),
                     thumbnail=tree_image(chat, n.id, n.masked), caption=n.instruction or n.caption,
                     is_head=n.is_head, left_behind=n.left_behind)
            for n in sorted(nodes, key=lambda n: (n.created_at, n.id))]


def render_lineage(chat: ChatSession, nodes: list[NodeView]) -> None:
    st.subheader("Lineage", anchor=False)
    if not nodes:
        st.caption("Images appear here as a tree of turns. Click one to go back to it.")
        return
    labels = node_labels(nodes)
    click = lineage_tree(tree_nodes(chat, nodes, labels), key=f"{KEY}-tree",
                         selected=st.session_state.get("selected"))
    if click is not None:
        st.session_state["selected"] = st.session_state[OPEN] = click.node_id
    st.caption("Click an image for its actions: make it the head, branch, download, compare.")
    by_id = {n.id: n for n in nodes}
    if (node := by_id.get(st.session_state.get(OPEN) or "")) is not None:
        title = node_label(node, labels)
        st.dialog(title[:80], width="large", on_dismiss=close_actions)(node_actions)(
            chat, node, by_id, labels)


def close_actions() -> None:
    st.session_state.pop(OPEN, None)


def node_actions(chat: ChatSession, node: NodeView, nodes: dict[str, NodeView],
                 labels: dict[str, str]) -> None:
    """The clicked image's actions (the body of the dialog)."""
    head = chat.head_id()
    with st.container(key="node-panel"):
        where = " — the head: the next edit starts here" if node.id == head else ""
        if node.left_behind:
            where = " — left behind by an undo (\"redo\" or Make head brings it back)"
        st.markdown(f"**{node_label(node, labels)}**{where}")
        if said := check_text(node.check):
            st.caption(said)
        if node.masked and (b := region_image(chat, node.id, 512, dim=0.3)):
            st.image(b, caption=node.caption or None, width="stretch")
            st.caption(region_caption(node))
        elif b := thumb(chat, node.id, 512):
            st.image(b, caption=node.caption or None, width="stretch")
        if problem := chat.image_problem(node.id):
            st.warning(f"This image cannot be shown: {problem}.", icon=":material/broken_image:")
        actions = st.container(horizontal=True, wrap=True, gap="small")
        if actions.button("Make head", key="make-head", disabled=node.id == head,
                          icon=":material/undo:", type="primary",
                          help="Roll back: the next edit starts from this image"):
            close_actions()
            move_head(chat, node.id)
            st.rerun()
        if actions.button("Branch", key="fork-here", icon=":material/call_split:",
                          help="Edit this image again; later edits stay as their own branch"):
            close_actions()
            if node.id == head or move_head(chat, node.id):
                has_children = any(n.parent_id == node.id for n in nodes.values())
                made = "a new branch" if has_children else "the next turn"
                notice(f"Type the edit below: it makes {made} from {tag(node, labels)}.",
                       kind="info")
            st.rerun()
        actions.download_button(
            "Download", data=lambda: image_or_placeholder(chat, node.id),
            icon=":material/download:",
            file_name=f"mtedit-{labels.get(node.id, node.depth)}-{node.id[:8]}.png",
            mime="image/png", key="download-node", on_click="ignore",
        )
        compare(chat, node, nodes, labels)
        if node.params:
            with st.expander("Parameters"):
                st.json(node.params, expanded=False)


def compare(chat: ChatSession, node: NodeView, nodes: dict[str, NodeView],
            labels: dict[str, str]) -> None:
    others = [n for n in nodes.values() if n.id != node.id]
    if not others:
        return
    other = st.selectbox(
        "Compare with", [None] + [n.id for n in others], key=f"compare-{node.id}",
        format_func=lambda i: "—" if i is None else node_label(nodes[i], labels),
    )
    if other:
        left, right = st.columns(2)
        if b := thumb(chat, node.id, 384):
            left.image(b, caption=node_label(node, labels), width="stretch")
        if b := thumb(chat, other, 384):
            right.image(b, caption=node_label(nodes[other], labels), width="stretch")

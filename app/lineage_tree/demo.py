"""The lineage tree on its own, over a made-up lineage (for trying it, its browser test
and `python -m bench.lineage_page`).

    streamlit run app/lineage_tree/demo.py          # then open /?n=200&direction=down
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

import streamlit as st

from app.lineage_tree import lineage_tree
from app.lineage_tree.sample import synthetic_nodes

st.set_page_config(page_title="Lineage tree", page_icon="🌳", layout="wide")
nodes_n = max(1, min(int(st.query_params.get("n", "200")), 5000))
direction = "right" if st.query_params.get("direction") == "right" else "down"


@st.cache_data(show_spinner=False)
def lineage(n: int) -> list[dict]:
    return synthetic_nodes(n)


t0 = time.perf_counter()
nodes = lineage(nodes_n)
by_id = {n["id"]: n for n in nodes}
picked = st.session_state.get("picked")
left, right = st.columns([1, 2])
with right:
    st.subheader(f"Lineage · {nodes_n} images", anchor=False)
    click = lineage_tree(nodes, key="tree", selected=picked, direction=direction)
server_ms = (time.perf_counter() - t0) * 1000
if click:
    picked = st.session_state["picked"] = click.node_id
    st.session_state.setdefault("clicks", []).append(click.node_id)
with left:
    st.subheader("Clicked", anchor=False)
    with st.container(key="clicked"):
        if picked is None:
            st.markdown("Nothing yet: click a thumbnail.")
        else:
            node = by_id[picked]
            count = click.count if click else len(st.session_state.get("clicks", []))
            st.markdown(f"**{node['label']}** · `{picked}` · click {count}")
            st.caption(node["caption"])
    st.button("Rerun the page", key="rerun")
    st.html(f'<span class="lt-demo-ms" data-ms="{server_ms:.0f}"></span>')

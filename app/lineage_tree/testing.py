"""Clicking the tree in Streamlit's AppTest (no browser): what the browser sends on a
click, sent by hand. AppTest has no API for components.v2 events, so this uses two of
its private parts (`_tree.get_widget_states`, `_run`); tests/app/test_lineage_tree_data.py
checks it against streamlit's own behaviour, and the browser test checks the real click.

    at = AppTest.from_file("app.py").run()
    click(at, node_id, key="lineage")       # runs the script as after a real click
"""

from __future__ import annotations

import json
from typing import Any

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState


def tree_element(at: Any, key: str = "lineage-tree") -> Any:
    """The tree's element in an AppTest run (its .proto.json holds what was drawn)."""
    found = [e for e in at.get("bidi_component") if e.key == key]
    if not found:
        raise LookupError(f"no lineage tree with key {key!r} on the page")
    return found[0]


def drawn(at: Any, key: str = "lineage-tree") -> dict:
    """The data the tree was given in the last run (nodes with layer and lane)."""
    return json.loads(tree_element(at, key).proto.json)


def click(at: Any, node_id: str, key: str = "lineage-tree", timeout: float | None = None) -> Any:
    """Run the script as the browser does after a click on node_id's thumbnail."""
    element = tree_element(at, key)
    states = at._tree.get_widget_states()
    event = WidgetState(id=_make_trigger_id(element.proto.id, "events"))
    event.json_trigger_value = json.dumps([{"event": "click", "value": {"id": node_id}}])
    states.widgets.append(event)
    return at._run(states, timeout=timeout)

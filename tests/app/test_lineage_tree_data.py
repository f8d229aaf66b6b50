"""The lineage tree without a browser: its layout, the data it sends, and a click as
Streamlit delivers it (AppTest over the demo page)."""

from __future__ import annotations

import ast
import base64
import io
import sys
from pathlib import Path

import pytest
from PIL import Image

from app.lineage_tree import TreeNode, thumbnail_uri, tree_data
from app.lineage_tree.layout import place
from app.lineage_tree.sample import picture, synthetic_nodes

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "app" / "lineage_tree"


def _spots(pairs):
    ids = [i for i, _ in pairs]
    return {p.id: (p.layer, p.lane, p.parent) for p in place(ids, [p for _, p in pairs])}


def test_a_run_of_turns_stays_on_one_line_and_a_fork_opens_the_next_free_line():
    spots = _spots([("u", None), ("a", "u"), ("b", "a"), ("c", "b"),
                    ("b2", "a"),  # a second edit of a: a branch
                    ("c2", "b"),  # a second edit of b, made later
                    ("d2", "c2")])
    assert spots["u"] == (0, 0, None)
    assert [spots[k][:2] for k in ("a", "b", "c")] == [(1, 0), (2, 0), (3, 0)]
    # b's second child gets lane 1 (inside a's first subtree), a's second child lane 2:
    # lines of a subtree stay together and never cross.
    assert spots["c2"] == (3, 1, "b") and spots["d2"] == (4, 1, "c2")
    assert spots["b2"] == (2, 2, "a")


def test_several_uploads_missing_parents_and_cycles_become_roots():
    spots = _spots([("u1", None), ("x", "u1"), ("u2", None), ("y", "gone"),
                    ("p", "q"), ("q", "p"), ("self", "self")])
    roots = [k for k, (_, _, parent) in spots.items() if parent is None]
    assert roots == ["u1", "u2", "y", "p", "self"]
    assert spots["q"] == (1, spots["p"][1], "p")
    assert len({spots[r][1] for r in roots}) == len(roots), "each root on its own line"


def test_a_long_lineage_is_laid_out_without_recursion():
    n = 20_000
    ids = [str(i) for i in range(n)]
    placed = place(ids, [None] + ids[:-1])
    assert placed[-1].layer == n - 1 and {p.lane for p in placed} == {0}


def test_the_data_names_every_node_once_with_its_picture_and_hover_text():
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(png, "PNG")
    nodes = [
        {"id": "u", "parent_id": None, "label": "0", "thumbnail": png.getvalue(),
         "caption": "a red square"},
        TreeNode("e", "u", "1", picture(1), "make it " + "very " * 20 + "blue", is_head=True),
        {"id": "l", "parent_id": "e", "label": "2", "thumbnail": None, "caption": "undone",
         "left_behind": True},
    ]
    data = tree_data(nodes, selected="u")
    u, e, left = data["nodes"]
    assert u["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(u["src"].split(",", 1)[1]) == png.getvalue()
    assert e["src"].startswith("data:image/jpeg;base64,")
    assert left["src"] is None
    assert e["title"].startswith("1: make it very") and "head" in e["title"]
    assert e["title"].count("very") == 20 and len(e["sub"]) == 60 and e["sub"].endswith("…")
    assert "left behind" in left["title"]
    assert (u["parent"], e["parent"], left["parent"]) == (None, "u", "e")
    assert data["selected"] == "u" and data["direction"] == "down"


def test_large_pictures_are_shrunk_and_links_are_refused():
    big = io.BytesIO()
    Image.effect_noise((600, 400), 80).convert("RGB").save(big, "PNG")
    src = tree_data([{"id": "a", "parent_id": None, "label": "0",
                      "thumbnail": big.getvalue()}])["nodes"][0]["src"]
    assert src.startswith("data:image/jpeg;base64,")
    shrunk = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert max(shrunk.size) == 144 and len(src) < len(big.getvalue()) / 4
    assert thumbnail_uri(big.getvalue(), size=32).startswith("data:image/jpeg;base64,")
    with pytest.raises(ValueError, match="loads nothing from elsewhere"):
        tree_data([{"id": "a", "parent_id": None, "label": "0",
                    "thumbnail": "https://example.com/a.png"}])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="node 'a' twice"):
        tree_data([{"id": "a", "parent_id": None, "label": "0"},
                   {"id": "a", "parent_id": None, "label": "1"}])
    with pytest.raises(ValueError, match="unknown lineage node fields: colour"):
        tree_data([{"id": "a", "parent_id": None, "label": "0", "colour": "red"}])
    with pytest.raises(ValueError, match="direction"):
        tree_data([], direction="up")


def test_the_component_needs_only_streamlit_the_standard_library_and_pillow():
    allowed = {"streamlit", "PIL"} | set(sys.stdlib_module_names)
    for path in PACKAGE.glob("*.py"):
        if path.name == "demo.py":  # the demo page imports the component as `app...`
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
    for asset in ("tree.js", "tree.css"):
        text = (PACKAGE / asset).read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text and "@import" not in text and "url(" not in text


def test_the_synthetic_lineage_has_twenty_branches_a_head_and_three_undone_turns():
    nodes = synthetic_nodes(200)
    assert len({n["id"] for n in nodes}) == len({n["label"] for n in nodes}) == 200
    assert sum(n["parent_id"] == "node-0000" for n in nodes) == 20
    assert [n["id"] for n in nodes if n["is_head"]] == ["node-0196"]
    assert [n["id"] for n in nodes if n["left_behind"]] == ["node-0197", "node-0198",
                                                            "node-0199"]


# -- a click as Streamlit delivers it (AppTest) ------------------------------------------


@pytest.fixture
def demo():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PACKAGE / "demo.py"), default_timeout=60)
    at.query_params["n"] = "30"
    return at.run()


def _clicked(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_a_click_reaches_python_once_and_counts(demo):
    from app.lineage_tree.testing import click, drawn

    at = demo
    assert not at.exception
    assert len(at.get("bidi_component")) == 1
    sent = drawn(at, "tree")
    assert len(sent["nodes"]) == 30 and sent["selected"] is None
    assert "Nothing yet" in _clicked(at)

    click(at, "node-0012", key="tree")
    assert "`node-0012` · click 1" in _clicked(at)
    click(at, "node-0012", key="tree")
    assert "`node-0012` · click 2" in _clicked(at)
    assert drawn(at, "tree")["selected"] == "node-0012"
    # A run that no click caused reports no click: the count stays.
    at.button(key="rerun").click().run()
    assert "click 2" in _clicked(at) and "click 3" not in _clicked(at)
    click(at, "node-0003", key="tree")
    assert "`node-0003` · click 3" in _clicked(at)
    assert not at.exception

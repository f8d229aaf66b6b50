"""agent/lineage/walks.py: the walks behind undo, redo, "back to ...", branch switches and the
history; agent/lineage/navigation.py's resolution over them. Plain node records (no store, no
model)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent.lineage import walks as lineage
from agent.lineage.navigation import navigate
from agent.reading.references import Nav, Target
from agent.reading.words import content_words, forms

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class N:
    id: str
    parent_id: str | None
    depth: int
    instruction: str | None
    caption: str
    created_at: datetime
    kind: str = "edit"
    root_id: str = "up"
    focus_words: tuple = ()


def tree():
    """up -> hat -> red hat ; hat -> scarf (newest) ; up -> winter."""
    rows = [("up", None, 0, None, "a cat on a sofa"),
            ("hat", "up", 1, "add a hat", "a cat with a hat on a sofa"),
            ("red", "hat", 2, "make the hat red", "a cat with a red hat on a sofa"),
            ("winter", "up", 1, "make it winter", "a cat on a sofa in winter"),
            ("scarf", "hat", 2, "add a scarf", "a cat with a hat and a scarf on a sofa")]
    nodes = [N(i, p, d, ins, cap, T0 + timedelta(seconds=k), "upload" if p is None else "edit")
             for k, (i, p, d, ins, cap) in enumerate(rows)]
    return nodes, None


def test_path_children_leaves_and_the_current_branch():
    nodes, _ = tree()
    assert [x.id for x in lineage.path(nodes, "red")] == ["up", "hat", "red"]
    assert [x.id for x in lineage.children(nodes, "hat")] == ["red", "scarf"]
    assert {x.id for x in lineage.leaves(nodes)} == {"red", "winter", "scarf"}
    # the branch of the head runs to its most recent leaf: after an undo to "hat", the
    # current branch still ends at the newest edit below it
    assert lineage.branch_leaf(nodes, "hat").id == "scarf"
    assert [x.id for x in lineage.current_branch(nodes, "hat")] == ["up", "hat", "scarf"]
    assert lineage.branch_leaf(nodes, "winter").id == "winter"


def test_undo_and_redo():
    nodes, _ = tree()
    assert lineage.undo(nodes, "scarf")[0].id == "hat"
    assert lineage.undo(nodes, "scarf", count=5)[0].id == "up"  # never past the original
    node, why = lineage.undo(nodes, "up")
    assert node is None and "nothing to undo" in why
    assert lineage.redo(nodes, "hat")[0].id == "scarf"  # most recent child
    assert lineage.redo(nodes, "hat", hint_id="red")[0].id == "red"  # toward what was undone
    assert lineage.redo(nodes, "up", hint_id="red")[0].id == "hat"
    node, why = lineage.redo(nodes, "red")
    assert node is None and "nothing to redo" in why


def go(target, nodes, head, groups=()):
    out = navigate(Nav("goto", target), nodes, head, groups)
    return out.node, out.text


def test_resolve_turns_words_and_images():
    nodes, _ = tree()
    assert go(Target("original"), nodes, "scarf")[0].id == "up"
    assert go(Target("turn", number=1), nodes, "scarf")[0].id == "hat"
    assert go(Target("turn", number=-1), nodes, "hat")[0].id == "scarf"
    node, why = go(Target("turn", number=7), nodes, "scarf")
    assert node is None and "turns 0 (the original) to 2" in why
    assert go(Target("before", "the hat"), nodes, "scarf")[0].id == "up"
    assert go(Target("at", "the hat"), nodes, "scarf")[0].id == "hat"
    # on another branch: the red hat is not on the head's path, found all the same
    assert go(Target("before", "red"), nodes, "winter")[0].id == "hat"
    node, why = go(Target("before", "sofa"), nodes, "scarf")
    assert node is None and "already has" in why
    node, why = go(Target("before", "a dragon"), nodes, "scarf")
    assert node is None and "dragon" in why
    node, why = go(Target("before", "the"), nodes, "scarf")
    assert node is None and "could not tell" in why
    assert go(Target("image", number=1), nodes, "scarf")[0].id == "up"
    node, why = go(Target("image", number=2), nodes, "scarf")
    assert node is None and "image 2 does not exist" in why
    assert go(Target("original"), [], None)[0] is None


def test_resolve_a_whole_multi_step_request_by_its_words():
    nodes, _ = tree()
    groups = [("make it festive", ["hat", "scarf"])]
    assert go(Target("before", "festive"), nodes, "scarf", groups)[0].id == "up"
    assert go(Target("at", "festive"), nodes, "scarf", groups)[0].id == "scarf"


def test_switch_branch_and_history_text():
    nodes, _ = tree()

    def switch(head, words=""):
        out = navigate(Nav("branch", Target("at", words) if words else None), nodes, head)
        return out.node, out.text

    assert switch("scarf")[0].id == "winter"  # the most recent other
    assert switch("scarf", "red")[0].id == "red"
    node, why = switch("scarf", "dragon")
    assert node is None and "dragon" in why
    assert switch(None)[0] is None
    text = lineage.history_text(nodes, "hat")
    lines = text.splitlines()
    assert lines[1] == "#0 upload: \"a cat on a sofa\""
    assert "  #1 add a hat  <- head" in lines
    assert lines.index("    #2 make the hat red") < lines.index("    #2 add a scarf")
    assert lineage.history_text([], None) == "No images yet."
    assert "(no caption yet)" in lineage.history_text(nodes, "up", caption_of=lambda n: "")


def test_words_are_compared_by_their_forms():
    assert forms("hats") >= {"hat"} and "hat" not in forms("that")
    assert content_words("go back to before the hat") == ["hat"]

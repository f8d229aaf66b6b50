"""The language sets in bench/language/ keep their schema and their sizes.

Only the files are checked here: nothing runs the planner or the chat on them.
"""

import collections
import difflib
import re
from pathlib import Path

import pytest
import yaml

LANG = Path(__file__).resolve().parents[2] / "bench" / "language"
EDIT_EXPECT = {"edit", "ask", "refuse"}
EDIT_CATEGORIES = {
    "attribute",
    "replace",
    "remove",
    "add",
    "background",
    "style",
    "grade",
    "weather",
    "multi",
    "op",
    "vague",
    "ask",
    "refuse",
}
NAV_WORDS = {"ask", "none", "edit", "question"}
EDIT_SIZES = {"edits_heldout.yaml": 160, "edits_dev.yaml": 100, "edits_dev2.yaml": 220}
NAV_SIZES = {"navigation_heldout.yaml": 110, "navigation_dev.yaml": 70, "navigation_dev2.yaml": 110}


def load(name):
    with open(LANG / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


def has_word(text, phrase):
    return re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.IGNORECASE) is not None


def norm(text):
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def words_list(value):
    return isinstance(value, list) and all(isinstance(w, str) and w.strip() for w in value)


@pytest.mark.parametrize("name", sorted(EDIT_SIZES))
def test_edit_set_schema_and_counts(name):
    data = load(name)
    captions, cases = data["captions"], data["cases"]
    kinds = collections.Counter(key.split("_")[0] for key in captions)
    assert len(kinds) >= 4, kinds
    assert min(kinds.values()) >= 2, kinds
    assert all(isinstance(c, str) and c.strip() for c in captions.values())
    assert len(cases) >= EDIT_SIZES[name]

    seen = set()
    for case in cases:
        where = f"{name}: {case.get('request')!r}"
        assert set(case) <= {
            "caption",
            "request",
            "expect",
            "must",
            "must_not",
            "parts",
            "kind",
            "category",
            "note",
        }, where
        assert case["caption"] in captions, where
        assert isinstance(case["request"], str) and case["request"].strip(), where
        key = (case["caption"], norm(case["request"]))
        assert key not in seen, f"repeated: {where}"
        seen.add(key)
        expect = case.get("expect", "edit")
        assert expect in EDIT_EXPECT, where
        assert words_list(case["must"]) and words_list(case["must_not"]), where
        assert not {w.lower() for w in case["must"]} & {w.lower() for w in case["must_not"]}, where
        assert case.get("parts", 1) in (1, 2, 3), where
        assert case["category"] in EDIT_CATEGORIES, where
        if expect == "edit":
            assert case["must"], f"an edit needs must words: {where}"
        else:
            assert not case["must"] and case["category"] == expect, where
        if case["category"] == "multi":
            assert case["parts"] >= 2, where
        if case.get("kind") is not None:
            assert case["kind"] == "op" and case["category"] == "op", where
            for word in case["must"]:
                assert has_word(captions[case["caption"]], word), (
                    f"op must the caption's noun: {where}"
                )
        elif case["category"] == "op":
            pytest.fail(f"an op case needs kind: op: {where}")

    used = {case["caption"] for case in cases}
    assert used == set(captions), set(captions) - used
    per_kind = collections.Counter(case["caption"].split("_")[0] for case in cases)
    assert min(per_kind.values()) >= len(cases) // (2 * len(kinds)), per_kind
    categories = collections.Counter(case["category"] for case in cases)
    assert EDIT_CATEGORIES - {"refuse"} <= set(categories), categories
    assert categories["ask"] < 0.10 * len(cases), categories
    assert any(case["parts"] == 3 for case in cases)


def check_lineage(name, nodes):
    labels, children = [], collections.Counter()
    for i, node in enumerate(nodes):
        where = f"{name} node {i}"
        node_labels = str(node["label"]).split()
        assert node_labels and not set(node_labels) & set(labels), where
        if i == 0:
            assert node["parent"] is None and node["caption"].strip(), where
        else:
            assert node["parent"] in labels, f"{where}: parent must be made earlier"
            assert isinstance(node["request"], str) and node["request"].strip(), where
            steps = node["steps"]
            assert len(steps) == len(node_labels), where
            for step in steps:
                assert set(step) <= {"instruction", "focus", "caption", "kind"}, where
                assert step["instruction"].strip() and step["caption"].strip(), where
                assert isinstance(step["focus"], list), where
            children[node["parent"]] += 1
        labels.extend(node_labels)
    assert 6 <= len(labels) <= 12, (name, len(labels))
    assert sum(n - 1 for n in children.values() if n > 1) >= 2, f"{name}: needs 2 branches"
    assert any(len(str(node["label"]).split()) > 1 for node in nodes), (
        f"{name}: a multi-step request"
    )
    return set(labels)


@pytest.mark.parametrize("name", sorted(NAV_SIZES))
def test_navigation_set_schema_and_counts(name):
    data = load(name)
    lineages = data["lineages"]
    assert len(lineages) >= 2
    labels = {key: check_lineage(key, nodes) for key, nodes in lineages.items()}
    cases = data["cases"]
    assert len(cases) >= NAV_SIZES[name]
    seen = set()
    for case in cases:
        where = f"{name}: {case.get('say')!r}"
        assert set(case) <= {"lineage", "head", "before", "say", "expect", "category", "note"}, (
            where
        )
        assert case["lineage"] in lineages, where
        assert case["head"] in labels[case["lineage"]], where
        assert isinstance(case["say"], str) and case["say"].strip(), where
        assert isinstance(case.get("before", []), list), where
        assert all(isinstance(m, str) and m.strip() for m in case.get("before", [])), where
        expect = case["expect"]
        assert expect in NAV_WORDS or expect in labels[case["lineage"]], where
        key = (case["lineage"], case["head"], tuple(case.get("before", [])), norm(case["say"]))
        assert key not in seen, f"repeated: {where}"
        seen.add(key)
        if case["category"] == "answer":
            assert case.get("before"), f"an answer follows the question it answers: {where}"
    assert {case["lineage"] for case in cases} == set(lineages)
    controls = sum(case["expect"] in ("edit", "question") for case in cases)
    assert 0.10 * len(cases) <= controls <= 0.25 * len(cases), controls
    expects = collections.Counter(case["expect"] for case in cases)
    assert expects["ask"] and expects["none"] and expects["question"] and expects["edit"]


def test_dev_and_heldout_are_distinct():
    for kind, field in (("edits", "request"), ("navigation", "say")):
        dev = [norm(c[field]) for c in load(f"{kind}_dev.yaml")["cases"]]
        held = [norm(c[field]) for c in load(f"{kind}_heldout.yaml")["cases"]]
        for sentence in held:
            close = difflib.get_close_matches(sentence, dev, n=1, cutoff=0.9)
            assert not close, f"{kind}: {sentence!r} is a near copy of {close[0]!r}"
    dev_nav, held_nav = load("navigation_dev.yaml"), load("navigation_heldout.yaml")
    assert not set(dev_nav["lineages"]) & set(held_nav["lineages"])
    dev_caps, held_caps = load("edits_dev.yaml")["captions"], load("edits_heldout.yaml")["captions"]
    assert not set(dev_caps.values()) & set(held_caps.values())


def test_second_dev_sets_are_new_sentences_on_new_pictures():
    """The second dev sets share no near-copy sentence, caption or lineage with the others.

    A failure names the second dev set's sentence only, so that fixing it reads nothing
    of a held-out set.
    """
    hostile = [norm(hostile_text(entry)) for entry in load("hostile.yaml")["inputs"]]
    for kind, field in (("edits", "request"), ("navigation", "say")):
        others = hostile + [
            norm(c[field])
            for name in (f"{kind}_dev.yaml", f"{kind}_heldout.yaml")
            for c in load(name)["cases"]
        ]
        copies = [
            case[field]
            for case in load(f"{kind}_dev2.yaml")["cases"]
            if difflib.get_close_matches(norm(case[field]), others, n=1, cutoff=0.9)
        ]
        if copies:
            pytest.fail(f"{kind}_dev2: near copies of another set's sentences: {copies}")

    edits = load("edits_dev2.yaml")
    captions = edits["captions"]
    assert len(captions) >= 14
    assert len({key.split("_")[0] for key in captions}) >= 5
    for name in ("edits_dev.yaml", "edits_heldout.yaml"):
        old = {norm(c) for c in load(name)["captions"].values()}
        assert not {norm(c) for c in captions.values()} & old, name

    nav = load("navigation_dev2.yaml")
    assert len(nav["lineages"]) >= 3
    for key, nodes in nav["lineages"].items():
        assert 8 <= sum(len(str(node["label"]).split()) for node in nodes) <= 12, key
    for name in ("navigation_dev.yaml", "navigation_heldout.yaml"):
        other = load(name)["lineages"]
        assert not set(nav["lineages"]) & set(other), name
        old = {norm(nodes[0]["caption"]) for nodes in other.values()}
        new = {norm(nodes[0]["caption"]) for nodes in nav["lineages"].values()}
        assert not new & old, name


def hostile_text(entry):
    text = entry["text"]
    if isinstance(text, dict):
        assert set(text) == {"repeat", "times"} and isinstance(text["times"], int)
        return text["repeat"] * text["times"]
    assert isinstance(text, str)
    return text


def test_hostile_set_schema_and_counts():
    inputs = load("hostile.yaml")["inputs"]
    assert len(inputs) >= 30
    texts = []
    for entry in inputs:
        assert set(entry) == {"text", "note"} and entry["note"].strip()
        texts.append(hostile_text(entry))
    assert len(set(texts)) == len(texts)
    assert "" in texts and any(t and not t.strip() for t in texts)
    assert any(len(t) >= 6000 for t in texts)
    assert any("\x1b" in t for t in texts)
    assert any("\u202e" in t for t in texts) and any("\u200b" in t for t in texts)
    for script in (
        r"[\u0600-\u06ff]",
        r"[\u4e00-\u9fff]",
        r"[\u0400-\u04ff]",
        r"[\U0001F300-\U0001FAFF]",
    ):
        assert any(re.search(script, t) for t in texts), script

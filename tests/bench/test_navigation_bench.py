"""The navigation benchmark: its phrasings land where they must (>= 95 %), its controls
are not read as navigation, and a question's suggestions each find one version."""

from agent.lineage.navigation import navigate
from agent.reading.intents import parse_intent
from agent.reading.references import Nav
from bench import navigation as bench


def test_phrasings_land_where_they_must():
    r = bench.run()
    assert r["cases"] >= 80
    assert r["accuracy"] >= 0.95, r["failures"]
    assert r["controls_passed"] == r["controls"], r["control_failures"]


def test_the_question_names_phrases_that_each_find_one_version(tmp_path):
    from storage import Store

    store = Store.open(data_dir=tmp_path / "data")
    try:
        park = bench.build(store, bench.PARK)
        nodes, groups = store.nodes(park.cid), bench.groups(store, park.cid)
    finally:
        store.close()
    head = park.ids["C2"]
    for text in ("go back to before the hat", "the one with the hat", "the other version"):
        intent = parse_intent(text, 0, True)
        out = navigate(Nav(intent.kind, intent.target, intent.count), nodes, head, groups)
        assert out.kind == "ask" and head not in {c.id for c in out.candidates}
        said = [line.split(": say ", 1)[1] for line in out.text.splitlines() if ": say " in line]
        landed = set()
        for phrase in said:
            follow = parse_intent(phrase, 0, True)
            got = navigate(Nav(follow.kind, follow.target, follow.count), nodes, head, groups)
            assert got.kind == "move", (phrase, got.text)
            landed.add(got.node.id)
        assert len(landed) == len(said) == len(out.candidates)

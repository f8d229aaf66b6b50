"""Moves through scripted lineages scored through the real chat path (bench/planner_chat.py
says how a message is judged): each case gets its own conversation with the lineage built
in the store, the head where the case says, its `before` messages sent first, then the
message. The language sets (bench/language/navigation_*.yaml) and bench/navigation.py's
own cases and controls run the same way.
"""

from __future__ import annotations

from bench.planner_chat import Effect, Tally, chat_over_temp_store, half, load, png, send

CONTROL_REPLY = {"setting": "settings", "history": "history", "chat": "text",
                 "question": "text"}


def build_yaml(store, nodes: list[dict]) -> tuple[str, dict[str, str]]:
    """A lineage of bench/language/navigation_*.yaml in the store: (conversation id,
    {label: node id}); each request is one finished edit job, in the order listed."""
    cid = store.create_conversation("navigation bench").id
    ids: dict[str, str] = {}
    image = png()
    for node in nodes:
        if node["parent"] is None:
            ids[str(node["label"])] = store.add_upload(cid, image, node["caption"]).id
            continue
        job = store.create_job("edit", request={"request": node["request"]},
                               conversation_id=cid)
        made, prev = [], ids[node["parent"]]
        for label, step in zip(str(node["label"]).split(), node["steps"], strict=True):
            kind = step.get("kind", "edit")
            made_node = store.add_edit(prev, image, None, step["caption"], step["instruction"],
                                       step["caption"], step.get("focus") or [], kind=kind)
            ids[label] = prev = made_node.id
            made.append(made_node.id)
        store.update_job(job.id, status="done", result_node_ids=made)
    return cid, ids


def verdict(effect: Effect, expect: str, ids: dict[str, str],
            then: str | None = None) -> tuple[str, str]:
    """(verdict, why) for one navigation turn."""
    if effect.crashed:
        return "WRONG", f"crashed: {effect.crashed}"
    label_of = {v: k for k, v in ids.items()}
    first = effect.replies[0].text.splitlines()[0][:100] if effect.replies else ""
    where = label_of.get(effect.head_after, "a new image")
    changed = effect.head_after != effect.head_before
    if expect == "edit":
        if effect.ran and not effect.moved:
            return "right", ""
        if effect.ran or changed:
            return "WRONG", f"moved to {where}"
        return ("asked" if effect.asked else "declined"), first
    if expect in CONTROL_REPLY:
        if effect.ran or changed:
            return "WRONG", "edited" if effect.ran else f"moved to {where}"
        if effect.asked:
            return "asked", first
        kinds = set(effect.kinds)
        ok = CONTROL_REPLY[expect] in kinds if expect != "question" else bool(
            kinds & {"text", "history"})
        return ("right", "") if ok else ("declined", f"{sorted(kinds)}: {first}")
    if then:  # a move, then an edit from there
        base = effect.new_nodes[0].parent_id if effect.new_nodes else None
        if effect.moved and base == ids.get(expect):
            return "right", ""
        if effect.ran or changed:
            return "WRONG", f"edited from {label_of.get(base, base)}" if effect.ran else where
        return ("asked" if effect.asked else "declined"), first
    if effect.ran:
        return "WRONG", "ran an edit"
    if expect == "ask":
        if changed:
            return "WRONG", f"moved to {where}"
        return ("right", "") if effect.asked else ("declined", first)
    if expect == "none":
        if changed:
            return "WRONG", f"moved to {where}"
        return ("asked", first) if effect.asked else ("right", "")
    if effect.head_after == ids.get(expect):
        return "right", ""
    if changed:
        return "WRONG", f"moved to {where}"
    return ("asked" if effect.asked else "declined"), first


def run_cases(name: str, lineages: dict, cases: list[dict], *, planner=None,
              keep_misses: bool = True) -> Tally:
    """cases: {lineage, head, before, say, expect, then}; lineages: name -> YAML nodes or a
    callable (store) -> (cid, ids)."""
    tally = Tally(name)
    with chat_over_temp_store(planner) as chat:
        chat.send("hello")  # imports and word lists load once, untimed
        for case in cases:
            made = lineages[case["lineage"]]
            cid, ids = made(chat.store) if callable(made) else build_yaml(chat.store, made)
            chat.store.set_head(cid, ids[case["head"]])
            chat.switch(cid)
            chat._redo_hint.clear()
            for message in case.get("before") or []:
                send(chat, message)
            effect = send(chat, case["say"])
            got, why = verdict(effect, str(case["expect"]), ids, case.get("then"))
            tally.add(got, effect.secs, (f"[{case['lineage']} @{case['head']}] "
                                         f"{' / '.join(case.get('before') or [])}"
                                         f"{' / ' if case.get('before') else ''}"
                                         f"{case['say']!r}: want {case['expect']}, {why}")
                      if keep_misses else None, group=_group(str(case["expect"]), ids))
    return tally


def _group(expect: str, ids: dict[str, str]) -> str:
    if expect in ids:
        return "move"
    return expect if expect in ("ask", "none") else "control"


def run_language_set(file: str, *, planner=None, which: str | None = None) -> Tally:
    data = load(file)
    name = file.removesuffix(".yaml") + (f" ({which} half)" if which else "")
    return run_cases(name, data["lineages"], half(data["cases"], which),
                     planner=planner, keep_misses="heldout" not in file)


def run_existing(*, planner=None) -> Tally:
    """bench/navigation.py's cases and controls through the chat."""
    from bench import navigation_cases as nav

    def lineage(script):
        def made(store):
            b = nav.build(store, script)
            return b.cid, b.ids

        return made

    lineages = {"park": lineage(nav.PARK), "shapes": lineage(nav.SHAPES)}
    cases = [{"lineage": name, "head": head, "say": text, "expect": want, "then": then}
             for name, head, text, want, then in nav.CASES]
    for text, kinds in nav.CONTROLS:
        cases.append({"lineage": "park", "head": "C2", "say": text,
                      "expect": min(kinds)})
    return run_cases("navigation.py cases (existing)", lineages, cases, planner=planner)

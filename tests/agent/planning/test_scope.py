"""A step's scope: a change of the whole picture (a look, a grade, the time of day, the
weather or season, the lighting) is global and gets no region; a change of some things or
of a part is local. The offline planner sets it from its recipes and rules; the LLM's
schema carries it with a default."""

from __future__ import annotations

import pytest

from agent.planning.offline import OfflinePlanner
from agent.planning.plan import EditPlan, EditStep

CAPTION = "a photo of a woman with a red hat on a beach, a small blue circle on the left"


@pytest.mark.parametrize("request_", [
    "make it more vintage", "make it winter", "at night", "make it a watercolor",
    "brighter", "cinematic", "make it rainy", "golden hour", "studio lighting",
])
def test_looks_grades_time_weather_and_light_are_global(request_):
    plan = OfflinePlanner().plan(request_, CAPTION).plan
    assert [s.scope for s in plan.steps] == ["global"] * len(plan.steps), request_


@pytest.mark.parametrize("request_", [
    "make the circle blue", "make the background yellow", "remove the hat",
    "add a dog", "replace the hat with a scarf", "make her smile", "blur the background",
])
def test_changes_of_things_and_parts_are_local(request_):
    plan = OfflinePlanner().plan(request_, CAPTION).plan
    assert [s.scope for s in plan.steps] == ["local"] * len(plan.steps), request_


def test_an_exact_operation_is_global_and_a_mixed_request_keeps_each_scope():
    steps = OfflinePlanner().plan("make the circle blue, then flip it and make it sepia",
                                  CAPTION).plan.steps
    assert [(s.kind, s.scope) for s in steps][:2] == [("edit", "local"), ("op", "global")]
    assert steps[-1].scope == "global"


def test_the_schema_carries_scope_with_a_default():
    props = EditPlan.model_json_schema()["$defs"]["EditStep"]["properties"]
    assert props["scope"]["enum"] == ["global", "local"] and "whole picture" in \
        props["scope"]["description"]
    step = EditStep.model_validate({"instruction": "Make it blue", "target_prompt": "a blue x"})
    assert step.scope == "local"
    with pytest.raises(ValueError):
        EditStep.model_validate({"instruction": "x", "target_prompt": "y", "scope": "some"})

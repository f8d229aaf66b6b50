"""Requests as people say them, planned into captions that say what was asked (the
offline planner through plan_safely, as the chat plans): replacements replace, removals
remove, attributes change the named thing in place, styles are never inserted as objects,
and a part the planner does not understand is asked about."""

import pytest

from agent.planning.offline import OfflinePlanner
from agent.planning.safe import Unsure, plan_safely
from bench.planner import says

WOMAN = "a photo of a young woman in a yellow raincoat holding a black umbrella on a city sidewalk"
HORSE = "a photo of a brown horse grazing in a green meadow beside a wooden fence"
HEADPHONES = "a product photo of a pair of white headphones on a grey concrete floor"
BOX = "a photo of an old red phone box on a quiet village street beside a stone wall"

CASES = [
    (WOMAN, "her coat should be red", ["red raincoat"], ["yellow", "should"]),
    (WOMAN, "get rid of the umbrella pls", ["woman"], ["umbrella", "pls"]),
    (WOMAN, "make her umbrella transparent", ["transparent umbrella"], ["black"]),
    (HORSE, "a stone wall instead of the fence", ["stone wall"], ["fence", "instead"]),
    (HORSE, "lose the fence", ["horse"], ["fence", "lose"]),
    (HORSE, "make the horse gallop", ["galloping"], ["make"]),
    (HEADPHONES, "black headphones instead", ["black headphones"], ["white"]),
    (HEADPHONES, "pastel pink background", ["pink background"], ["concrete"]),
    (HEADPHONES, "i want a phone next to them", ["phone"], ["want"]),
    (BOX, "can we lose the phone box", ["village street"], ["phone box", "lose"]),
    (BOX, "brick wall instead of stone", ["brick wall"], ["stone"]),
    (BOX, "turn it into a low poly illustration", ["low poly illustration"], ["photo", "turn"]),
    (BOX, "the phone box should be a tardis", ["tardis"], ["phone box", "should"]),
]


@pytest.mark.parametrize("caption, request_, must, must_not", CASES,
                         ids=[c[1] for c in CASES])
def test_a_request_reads_as_a_caption(caption, request_, must, must_not):
    prompt = plan_safely(OfflinePlanner(), request_, caption).plan.final_prompt
    assert all(says(prompt, w) for w in must), prompt
    assert not any(says(prompt, w) for w in must_not), prompt


@pytest.mark.parametrize("request_", ["make her smile", "remove the road",
                                      "make him florp the wibble"])
def test_what_does_not_fit_the_picture_is_asked_about(request_):
    with pytest.raises(Unsure):
        plan_safely(OfflinePlanner(), request_, "a photo of a teenage boy on a skateboard ramp")

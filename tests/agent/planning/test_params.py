"""agent/planning/params.py: the edit settings a user changes in the chat; settings given for
one edit inside the request (agent/reading/intents.py)."""

from __future__ import annotations

import pytest

from agent.planning.params import EditSettings, core_overrides
from agent.reading.intents import one_off_settings


def test_settings_inside_a_request_apply_to_that_edit_only():
    assert one_off_settings("make the car red with 20 steps") == ("make the car red",
                                                                   {"steps": 20})
    assert one_off_settings("make the car red using rf_solver") == ("make the car red",
                                                                     {"preset": "rf_solver"})
    assert one_off_settings("add a hat with 12 steps and seed 5") == ("add a hat",
                                                                       {"steps": 12, "seed": 5})
    # words that only look like a setting stay in the request
    request = "make it look like it is in the steps of a temple"
    assert one_off_settings(request) == (request, {})


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 0}, "steps = 0 is not allowed: .* from 1 to 200"),
    ({"preset": None}, "preset cannot be unset"),
    ({"strength": 1.5}, "strength = 1.5 is not allowed: .* from 0 to 1"),
    ({"guidance": 40}, "guidance = 40 is not allowed: .* from 0 to 30"),
    ({"color": 1}, "unknown edit setting 'color'"),
])
def test_bad_settings_are_refused_with_a_reason(change, message):
    with pytest.raises(ValueError, match=message):
        EditSettings().updated(**change)


def test_aliases_coercion_and_the_core_names():
    settings = EditSettings().updated(highlight="on", solver="rf_solver", steps="12",
                                      **{"lambda": 0.4})
    assert (settings.preset, settings.steps, settings.highlight, settings.lam) == (
        "rf_solver", 12, True, 0.4)
    # unset knobs are left to the preset; preset, seed and strength are not core knobs
    assert core_overrides(EditSettings(preset="rf", steps=8, eta=0.9, strength=0.3)) == {
        "steps": 8, "eta": 0.9}
    assert core_overrides(EditSettings()) == {}

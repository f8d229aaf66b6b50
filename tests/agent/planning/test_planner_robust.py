"""The planner never crashes on words: random unicode, empty, very long, punctuation only,
or edit phrases with odd objects all get a plan or a polite PlanningError."""

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.ops import OpError
from agent.planning.offline import OfflinePlanner
from agent.planning.plan import EditPlan
from agent.planning.safe import MAX_REQUEST_CHARS, PlanningError, check_request, plan_safely

PORTRAIT = "a photo of a woman with long brown hair standing in front of a brick wall"
PLANNER = OfflinePlanner()

VERBS = ["make", "add", "remove", "replace", "turn", "put", "give", "change", "crop", "rotate",
         "flip", "resize", "move", "take", "paint", "swap", "without", "make her", "put her on",
         "make it", "replace the wall with", "crop to", "rotate by", "resize to", "give her",
         "turn her into", "she should be wearing", "crop the left", "make the", "dye her hair"]
WORDS = st.text(alphabet=string.ascii_letters + " '-,.&%:0123456789", max_size=40)
PHRASES = st.builds(lambda v, w: f"{v} {w}", st.sampled_from(VERBS), WORDS)
CAPTIONS = st.one_of(st.just(PORTRAIT), st.text(min_size=1, max_size=120),
                     st.builds(lambda w: f"a photo of {w}", WORDS))


def check(request: str, caption: str) -> None:
    try:
        check_request(request)
        # the offline planner itself, not the safety net: it may refuse, never crash
        result = PLANNER.plan(request, caption)
    except (PlanningError, OpError) as exc:
        msg = str(exc)
        assert msg and "Traceback" not in msg and len(msg) < 600
        return
    plan = EditPlan.model_validate(result.plan.model_dump())  # a valid plan, re-checked
    assert 1 <= len(plan.steps) <= 4
    for step in plan.steps:
        assert step.target_prompt.strip()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
@example("")
@example("   ")
@example("?!?!...,,,;;")
@example("💥🔥🙂")
@example("put her on the moon")
@example("make it")
@example("add")
@example("remove the")
@example("crop the left 0%")
@example("rotate by 99999999999999999999 degrees")
@example("resize to 99999x99999")
@example("and and and then then ; ; .")
def test_any_unicode_gets_a_plan_or_a_polite_reply(request):
    check(request, PORTRAIT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PHRASES, CAPTIONS)
@example("crop the left ", " ")  # an exact operation on an image with a blank caption
def test_edit_phrases_with_odd_words_and_captions_never_crash(request, caption):
    check(request, caption)


@pytest.mark.parametrize("request_", ["", "   ", "...", "!!!", "🙂🙂", "12345"])
def test_no_words_is_refused_politely(request_):
    with pytest.raises(PlanningError) as err:
        plan_safely(PLANNER, request_, PORTRAIT)
    assert "try" in str(err.value).lower()


def test_very_long_request_is_refused_with_the_limit():
    with pytest.raises(PlanningError) as err:
        plan_safely(PLANNER, "make it blue " * 100, PORTRAIT)
    assert str(MAX_REQUEST_CHARS) in str(err.value)


def test_a_planner_bug_becomes_a_reply_naming_the_request():
    class Broken:
        name = "broken"

        def plan(self, request, caption, history=()):
            raise IndexError("list index out of range")  # as "put her on the moon" once did

    with pytest.raises(PlanningError) as err:
        plan_safely(Broken(), "put her on the moon", PORTRAIT)
    assert "put her on the moon" in str(err.value)
    assert "IndexError" not in str(err.value)


def test_in_the_chat_a_planner_exception_is_a_polite_reply_and_nothing_is_stored(tmp_path):
    import io

    from PIL import Image

    from agent import ChatSession
    from mtedit.settings import Settings
    from storage import Store

    class Broken:
        name = "broken"

        def plan(self, request, caption, history=()):
            raise IndexError("list index out of range")

    store = Store.open(data_dir=tmp_path / "data")
    try:
        session = ChatSession.open(Settings(data_dir=store.data_dir, model="unused"),
                                   store=store, planner=Broken())
        session.new_conversation("t")
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), "red").save(buf, format="PNG")
        session.send("a red square", files=[("a.png", buf.getvalue())])
        cid = session.conversation_id
        nodes = len(session.lineage())
        replies = session.send("put her on the moon")
        assert [r.kind for r in replies] == ["error"]
        text = replies[0].text
        assert "put her on the moon" in text and "Try" in text
        assert "IndexError" not in text and "Traceback" not in text
        assert len(session.lineage()) == nodes
        assert store.plans(cid) == [] and store.list_jobs(cid) == []
    finally:
        store.close()

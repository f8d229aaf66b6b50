"""The LLM planner through the real langchain-openai client against a local
OpenAI-compatible server (a stub on 127.0.0.1 standing in for vLLM / llama.cpp)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("langchain_openai")

from agent.planning.llm import make_planner
from mtedit.settings import Settings

CAPTION = "a photo of a dog on a beach"
PLAN = {"summary": "A cat instead of the dog.", "steps": [
    {"instruction": "Replace the dog with a cat", "target_prompt": "a photo of a cat on a beach",
     "focus_words": ["cat"], "strength": 0.7}]}


class Stub(ThreadingHTTPServer):
    """Answers /v1/chat/completions with scripted plan texts; records the requests."""

    def __init__(self, answers, delay=0.0):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers, self.delay, self.requests = list(answers), delay, []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        time.sleep(self.server.delay)
        text = self.server.answers.pop(0) if self.server.answers else json.dumps(PLAN)
        if body.get("tools"):  # function calling
            name = body["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": name, "arguments": text}}]}
        else:  # response_format json_schema
            message = {"role": "assistant", "content": text}
        out = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


@pytest.fixture
def server(request):
    answers, delay = getattr(request, "param", ([], 0.0))
    srv = Stub(answers, delay)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def planner_for(server, timeout=10.0):
    return make_planner(Settings(planner="openai", planner_base_url=server.url,
                                 planner_model="stub-model", planner_timeout=timeout))


def test_plan_from_an_openai_compatible_server(server):
    result = planner_for(server).plan("replace the dog with a cat", CAPTION)
    assert result.planner == "openai:stub-model" and not result.notes
    assert result.plan.steps[0].target_prompt == "a photo of a cat on a beach"
    [req] = server.requests
    assert req["model"] == "stub-model"
    sent = json.dumps(req["messages"])
    assert "<request>replace the dog with a cat</request>" in sent and CAPTION in sent
    schema = json.dumps(req.get("response_format") or req.get("tools"))
    assert "target_prompt" in schema and "focus_words" in schema
    # keywords that OpenAI's strict mode refuses are not sent (pydantic still checks them)
    assert '"default"' not in schema and "minLength" not in schema


@pytest.mark.parametrize("server", [(["{\"steps\": [}", "not json at all"], 0.0)], indirect=True)
def test_broken_json_twice_falls_back_offline(server):
    result = planner_for(server).plan("replace the dog with a cat", CAPTION)
    assert len(server.requests) == 2  # the first answer was retried once
    assert "did not match" in json.dumps(server.requests[1]["messages"])
    assert result.planner == "offline" and "twice" in result.notes[0]
    assert result.plan.final_prompt == "a photo of a cat on a beach"


@pytest.mark.parametrize("server", [([], 3.0)], indirect=True)
def test_slow_server_times_out_into_the_offline_planner(server):
    start = time.perf_counter()
    result = planner_for(server, timeout=0.5).plan("make it winter", CAPTION)
    assert time.perf_counter() - start < 2.5
    assert result.planner == "offline" and "0.5 s" in result.notes[0]
    assert len(result.plan.steps) == 2


def test_session_planner_follows_the_settings(server, tmp_path, monkeypatch):
    from agent import ChatSession, LLMPlanner, OfflinePlanner

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = Settings(data_dir=tmp_path, planner="openai", planner_base_url=server.url,
                        planner_model="stub-model")
    session = ChatSession.open(settings)
    assert isinstance(session.planner, LLMPlanner) and not session.planner_note
    session.update_settings(planner="anthropic")  # no key: the app keeps working offline
    assert isinstance(session.planner, OfflinePlanner) and "API_KEY" in session.planner_note
    session.update_settings(planner="offline")
    assert isinstance(session.planner, OfflinePlanner) and not session.planner_note

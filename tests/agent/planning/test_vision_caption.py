"""Captions for uploads sent without words: a vision-capable LLM (here the local
OpenAI-compatible stub server, standing in for vLLM / Ollama's /v1 with a llava-style
model) writes the caption; without one the chat asks, as before."""

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

pytest.importorskip("langchain_openai")

from agent.planning.llm import make_planner
from agent.planning.offline import OfflinePlanner
from agent.planning.vision import can_see, clean_caption, describe_upload
from mtedit.settings import Settings


class Stub(ThreadingHTTPServer):
    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer, self.requests = answer, []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        out = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.server.answer}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def server(request):
    srv = Stub(getattr(request, "param", "The image shows a red square on a white background."))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def png(colour="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="PNG")
    return buf.getvalue()


def planner(server, model="llava-1.6-stub"):
    return make_planner(Settings(planner="openai", planner_base_url=server.url,
                                 planner_model=model, planner_timeout=10))


def test_a_vision_model_captions_the_image_it_is_sent(server):
    caption = describe_upload(planner(server), png())
    assert caption == "a red square on a white background"
    content = server.requests[0]["messages"][0]["content"]
    image = next(part for part in content if part["type"] == "image_url")
    data = image["image_url"]["url"].split(",", 1)[1]
    assert Image.open(io.BytesIO(base64.b64decode(data))).getpixel((5, 5))[0] > 200  # red
    assert any("ONE plain sentence" in part.get("text", "") for part in content)


def test_models_that_cannot_see_and_the_offline_planner_are_not_asked(server):
    assert describe_upload(planner(server, model="llama3.1"), png()) is None
    assert describe_upload(OfflinePlanner(), png()) is None
    assert server.requests == []


@pytest.mark.parametrize("server", ["I'm sorry, I cannot describe images."], indirect=True)
def test_a_refusal_means_the_chat_asks_instead(server):
    assert describe_upload(planner(server), png()) is None


def test_names_that_see():
    assert can_see("ollama", "llava:13b") and can_see("openai", "gpt-4o-mini")
    assert can_see("anthropic", "claude-sonnet-4-5") and can_see("openai", "Qwen2.5-VL-7B")
    assert not can_see("ollama", "llama3.1") and not can_see("offline", "llava")


def test_clean_caption_keeps_one_plain_sentence():
    assert clean_caption('"A dog on a beach. It is sunny."') == "a dog on a beach"
    assert clean_caption("Caption: a photo of a cat") == "a photo of a cat"
    assert clean_caption("") is None


def test_in_the_chat_an_upload_without_words_is_captioned_by_the_llm(server, tmp_path):
    from agent import ChatSession
    from storage import Store

    store = Store.open(data_dir=tmp_path / "data")
    try:
        settings = Settings(data_dir=store.data_dir, model="unused", planner="openai",
                            planner_base_url=server.url, planner_model="llava-stub",
                            planner_timeout=10)
        session = ChatSession.open(settings, store=store)
        session.new_conversation("v")
        replies = session.send("", files=[("a.png", png())])
        assert replies[-1].kind == "upload", replies[-1].text
        assert "a red square on a white background" in replies[-1].text
        head = session.store.get_node(session.head_id())
        assert session.caption_of(head) == "a red square on a white background"
    finally:
        store.close()

"""Redis faults under the queue executor: an edit sent while Redis is down is not an
error on the page and reaches the queue once Redis is back; a job waiting in a Redis that
restarts without its data is sent again."""

from __future__ import annotations

import io
import secrets
import time

import pytest
import redis

from agent import ChatSession
from mtedit.servers import RedisServer, ServerMissing
from mtedit.settings import Settings
from toyworld import world as W

SCENE = W.Scene("green", (W.Obj("circle", "red", "small", 3),))


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test alone (it is killed on purpose)."""
    try:
        server = RedisServer(tmp_path / "redis")
    except ServerMissing:
        pytest.skip("redis-server is not installed")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def session(own_redis, postgres_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "shared", database_url=postgres_url,
                        queue_url=own_redis.url, queue_name=f"q{secrets.token_hex(4)}",
                        device="cpu", dtype="float32")
    chat = ChatSession.open(settings)
    buf = io.BytesIO()
    W.render(SCENE).save(buf, format="PNG")
    chat.send(W.caption(SCENE), files=[("toy.png", buf.getvalue())])
    chat.update_settings(preset="rf", steps=2)
    return chat


def waiting_in_redis(server: RedisServer, queue: str) -> str:
    """The messages waiting in the queue, as one string."""
    return b" ".join(redis.Redis.from_url(server.url).lrange(queue, 0, -1)).decode()


def sent_again(session, job_id: str, server: RedisServer, timeout: float = 30) -> str:
    """Wait until the job is recorded as sent to the Redis running now; its run id."""
    run = redis.Redis.from_url(server.url).info("server")["run_id"]
    deadline = time.monotonic() + timeout
    while session.store.get_job(job_id).sent_to != run:
        assert time.monotonic() < deadline, "the job was not sent again"
        time.sleep(0.2)
    return run


def test_an_edit_sent_while_redis_is_down_reaches_the_queue_when_it_is_back(session,
                                                                            own_redis):
    own_redis.kill(keep_data=False)
    [reply] = session.send("make the circle blue", wait=False)
    assert reply.kind == "queued", reply.text  # no error on the page
    assert session.store.get_job(reply.job_id).sent_at is None
    assert session.job(reply.job_id).status == "queued"
    own_redis.start()
    sent_again(session, reply.job_id, own_redis)
    assert reply.job_id in waiting_in_redis(own_redis, session.settings.queue_name)


def test_a_job_waiting_in_a_redis_that_restarts_empty_is_sent_again(session, own_redis):
    [reply] = session.send("make the circle blue", wait=False)
    first = sent_again(session, reply.job_id, own_redis)
    assert reply.job_id in waiting_in_redis(own_redis, session.settings.queue_name)
    own_redis.kill(keep_data=False)  # no append-only file: what it held is gone
    own_redis.start()
    assert reply.job_id not in waiting_in_redis(own_redis, session.settings.queue_name)
    assert sent_again(session, reply.job_id, own_redis) != first
    assert reply.job_id in waiting_in_redis(own_redis, session.settings.queue_name)

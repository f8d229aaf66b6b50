"""A PostgreSQL restart in the middle of a store call: the call waits for the server and
runs again, whole; nothing is stored twice and the caller sees no error."""

from __future__ import annotations

import threading
import time

import pytest

from mtedit.servers import ServerMissing, private_postgres
from storage import Store
from storage.messages import MessageQueries


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test alone (it is crashed on purpose)."""
    try:
        with private_postgres() as pg:
            yield pg
    except ServerMissing:
        pytest.skip("PostgreSQL is not installed")


def test_a_crash_in_the_middle_of_a_transaction_is_waited_out(own_postgres, tmp_path,
                                                               monkeypatch):
    pg = own_postgres
    store = Store.open(pg.create_database("retry"), tmp_path / "data")
    conv = store.create_conversation("c")
    insert = MessageQueries._insert_message
    crashes = []

    def crash_once(self, s, *args, **kwargs):
        row = insert(self, s, *args, **kwargs)
        if not crashes:  # the first time, inside the open transaction: the server stops
            s.flush()
            crashes.append(time.monotonic())
            pg.crash()
            threading.Timer(1.5, pg.start).start()  # and is back 1.5 s later
        return row

    monkeypatch.setattr(MessageQueries, "_insert_message", crash_once)
    msg = store.add_message(conv.id, "user", "make it blue")  # no exception
    assert crashes and time.monotonic() - crashes[0] >= 1.5
    assert [m.id for m in store.messages(conv.id)] == [msg.id]  # stored once
    assert store.list_conversations()[0].id == conv.id  # the pool works again
    store.close()


def test_the_wait_has_an_end(own_postgres, tmp_path):
    store = Store.open(own_postgres.create_database("gone"), tmp_path / "data")
    store.reconnect_s = 1.0
    own_postgres.crash()
    t0 = time.monotonic()
    with pytest.raises(Exception, match="connect"):
        store.list_conversations()
    assert 1.0 <= time.monotonic() - t0 < 10
    store.close()


def test_a_commit_whose_answer_was_lost_is_not_run_twice(own_postgres, tmp_path, monkeypatch):
    """The server stored the transaction but its answer never came: the store asks the
    server (txid_status), learns it was committed and carries on; one message."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import SessionTransaction

    store = Store.open(own_postgres.create_database("lost"), tmp_path / "data")
    conv = store.create_conversation("c")
    real, lost = SessionTransaction.commit, []

    def commit_then_lose_the_answer(self, *args, **kwargs):
        real(self, *args, **kwargs)
        if not lost and self.parent is None:  # the COMMIT itself, not a flush's
            lost.append(1)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(SessionTransaction, "commit", commit_then_lose_the_answer)
    msg = store.add_message(conv.id, "user", "make it blue")
    assert lost and [m.id for m in store.messages(conv.id)] == [msg.id]
    store.close()

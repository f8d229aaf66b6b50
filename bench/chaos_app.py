"""One app server of the chaos run: ChatSessions over the shared store, as a Streamlit
server holds them (one per browser tab, all in one process, each request in a thread),
answering the scripted users over a small JSON-over-HTTP interface on loopback.

    python -m bench.chaos_app PORT        # settings from MTEDIT_* (queue mode)

POST /open {"conversation_id": id|null, "title": str} -> {"conversation_id"}
POST /send {"conversation_id", "text", "files": [[name, base64]]} -> {"replies": [...]}
POST /job {"conversation_id", "job_id", "wait_s"} -> the job's view
POST /settings {"conversation_id", ...edit settings} -> {}
POST /messages {"conversation_id"} -> {"messages": [...]}   (what a page reload shows)

A request that raises answers 500 with the exception's text: in the browser that is a
red error box, which the run counts as a crash (no request should end that way).
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sessions:
    """The open ChatSessions of this process, one per conversation (a browser tab each)."""

    def __init__(self):
        from agent import ChatSession
        from mtedit.settings import Settings

        self.settings = Settings.from_env()
        self._open = ChatSession.open
        self._by_conv: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, conversation_id: str | None, title: str = ""):
        with self._lock:
            if conversation_id is not None and conversation_id in self._by_conv:
                return self._by_conv[conversation_id]
        session = self._open(self.settings, conversation_id)
        if conversation_id is None:
            session.new_conversation(title or "chaos")
        with self._lock:
            return self._by_conv.setdefault(session.conversation_id, session)


def _reply(r) -> dict:
    return {"kind": r.kind, "text": r.text, "job_id": r.job_id, "node_ids": list(r.node_ids),
            "message_id": r.message_id}


def _job(view) -> dict:
    return {"id": view.id, "status": view.status, "error": view.error,
            "node_ids": list(view.node_ids), "done": view.done, "total": view.total}


def handle(sessions: Sessions, path: str, body: dict) -> dict:
    cid = body.get("conversation_id")
    if path == "/open":
        return {"conversation_id": sessions.get(cid, body.get("title", "")).conversation_id}
    session = sessions.get(cid)
    if path == "/send":
        files = [(name, base64.b64decode(data)) for name, data in body.get("files", [])]
        replies = session.send(body["text"], files=files, wait=False)
        return {"replies": [_reply(r) for r in replies]}
    if path == "/job":
        view = session.wait(body["job_id"], timeout=float(body.get("wait_s", 1.0)))
        return _job(view)
    if path == "/settings":
        session.update_settings(**body.get("settings", {}))
        return {}
    if path == "/messages":
        return {"messages": [{"role": m.role, "kind": m.kind, "text": m.text}
                             for m in session.messages()]}
    raise KeyError(path)


class Handler(BaseHTTPRequestHandler):
    sessions: Sessions

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            out, code = handle(self.sessions, self.path, body), 200
        except Exception as exc:  # noqa: BLE001 - reported to the client, counted as a crash
            out = {"exception": type(exc).__name__, "text": str(exc)[:2000],
                   "trace": traceback.format_exc()[-4000:]}
            code = 500
        data = json.dumps(out).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Handler.sessions = Sessions()
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[0])), Handler)
    server.daemon_threads = True
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The scripted users of a chaos run: each conversation is one person at a browser, sending
edits, moves and uploads at a bounded rate through whichever app server is up, following
each queued job to its end, and writing down every request with what it saw.

A request's record is the client's side of the ledger: its id, conversation, text, the
app server it went to, when it was sent and answered, the replies and the end of each job
it started. A request whose app server died before answering is marked `down`: the
checks then look in the store for what happened to it (the person reloads the page).
"""

from __future__ import annotations

import base64
import io
import random
import threading
import time
from dataclasses import asdict, dataclass, field

from bench.chaos_cluster import AppCrash, AppDown, Cluster, call

EDITS = ("make the circle blue", "make the circle red", "make the circle green",
         "make the square yellow", "make the square red", "make the background yellow",
         "make the background green", "move the square to the top left", "make it brighter",
         "make it more vintage")  # the last one is a plan of two steps
COLOURS = ("red", "blue", "green", "yellow")
SHAPES = ("circle", "square", "triangle")
ACTIVE = ("queued", "running")


def scene_png(rng: random.Random) -> tuple[bytes, str]:
    """A toy-world scene the bundled model knows, and its caption."""
    from toyworld import world as W

    objs = (W.Obj("circle", rng.choice(COLOURS), "small", rng.randrange(9)),
            W.Obj("square", rng.choice(COLOURS), "large", rng.randrange(9)))
    scene = W.Scene(rng.choice(("white", "green", "yellow", "blue")), objs)
    buf = io.BytesIO()
    W.render(scene).save(buf, format="PNG")
    return buf.getvalue(), W.caption(scene)


@dataclass
class Request:
    rid: str
    conv: int
    cid: str
    phase: str
    action: str  # setup | upload | edit | move | continue
    text: str
    app: str = ""
    t_sent: float = 0.0
    t_answer: float | None = None
    replies: list[dict] = field(default_factory=list)
    failure: str | None = None  # "down: ..." | "crash: ..."
    jobs: dict[str, dict] = field(default_factory=dict)  # job id -> its last view
    t_end: float | None = None  # when the person saw the request's outcome
    poll_crashes: list[str] = field(default_factory=list)  # exceptions shown while waiting

    def as_dict(self) -> dict:
        return asdict(self)


class Ledger:
    """Every request of the run, in the order they were sent (thread-safe)."""

    def __init__(self):
        self.requests: list[Request] = []
        self.errors: list[str] = []  # a user's script that could not go on
        self._lock = threading.Lock()

    def add(self, req: Request) -> Request:
        with self._lock:
            self.requests.append(req)
        return req


class User:
    """One conversation and the person typing in it."""

    def __init__(self, cluster: Cluster, ledger: Ledger, index: int, seed: int, *,
                 steps: int, interval_s: float, follow_s: float):
        self.cluster, self.ledger, self.index = cluster, ledger, index
        self.rng = random.Random(f"{seed}:{index}")
        self.steps, self.interval_s, self.follow_s = steps, interval_s, follow_s
        self.prefer = index % len(cluster.apps)
        self.cid = ""
        self.seq = 0
        self.last_sent = 0.0
        self.interrupted = False

    # -- talking to an app server ------------------------------------------------------

    def _call(self, path: str, body: dict, tries: float = 120.0) -> dict:
        """A call that is not a request of the ledger (opening a tab, reading a job):
        retried on another app server until one answers."""
        deadline = time.monotonic() + tries
        while True:
            app = self.cluster.live_app(self.prefer)
            try:
                if app is None:
                    raise AppDown("no app server is up")
                return call(app, path, body)
            except AppDown:
                if time.monotonic() > deadline:
                    raise
                self.prefer += 1  # the load balancer sends the reload elsewhere
                time.sleep(0.3)

    def setup(self, phase: str) -> None:
        self.cid = self._call("/open", {"conversation_id": None,
                                        "title": f"chaos {self.index}"})["conversation_id"]
        self._call("/settings", {"conversation_id": self.cid,
                                 "settings": {"preset": "rf", "steps": self.steps}})
        self.upload(phase)

    def send(self, phase: str, action: str, text: str, files=(), paced: bool = True) -> Request:
        """One request as the person makes it: sent once; when the page loses its server
        the request is left to the checks, and the person reloads (another server)."""
        wait = self.interval_s - (time.monotonic() - self.last_sent)
        if wait > 0 and paced:
            time.sleep(wait)  # at most one request per interval_s per conversation
        self.seq += 1
        req = self.ledger.add(Request(f"{self.index}.{self.seq}", self.index, self.cid, phase,
                                      action, text))
        app = self.cluster.live_app(self.prefer)
        while app is None:
            time.sleep(0.2)
            app = self.cluster.live_app(self.prefer)
        req.app, req.t_sent = app.name, time.time()
        self.last_sent = time.monotonic()
        body = {"conversation_id": self.cid, "text": text,
                "files": [[n, base64.b64encode(d).decode()] for n, d in files]}
        try:
            req.replies = call(app, "/send", body)["replies"]
        except AppDown as exc:
            req.failure = f"down: {exc}"
            self.prefer += 1
        except AppCrash as exc:
            req.failure = f"crash: {exc}"
        req.t_answer = time.time()
        for r in req.replies:
            if r.get("job_id") and r["kind"] == "queued":
                req.jobs[r["job_id"]] = {"status": "queued"}
        if not req.jobs:
            req.t_end = req.t_answer
        return req

    def follow(self, req: Request) -> None:
        """Poll the request's jobs (as the page does) until each ends."""
        deadline = time.monotonic() + self.follow_s
        for job_id in list(req.jobs):
            while req.jobs[job_id].get("status") in ACTIVE and time.monotonic() < deadline:
                try:
                    req.jobs[job_id] = self._call("/job", {"conversation_id": self.cid,
                                                           "job_id": job_id, "wait_s": 1.0})
                except AppCrash as exc:  # the page showed an exception while it waited
                    req.poll_crashes.append(str(exc)[:300])
                    time.sleep(0.5)
                except AppDown:
                    time.sleep(0.5)
        if all(j.get("status") not in ACTIVE for j in req.jobs.values()):
            req.t_end = time.time()
        self.interrupted = any(j.get("status") == "interrupted" for j in req.jobs.values())

    # -- what the person does ----------------------------------------------------------

    def upload(self, phase: str) -> Request:
        png, caption = scene_png(self.rng)
        req = self.send(phase, "upload" if self.seq else "setup", caption,
                        files=[("scene.png", png)])
        self.follow(req)
        return req

    def step(self, phase: str) -> None:
        """One turn of the script (seeded per conversation)."""
        rng = self.rng
        if self.interrupted:
            req = self.send(phase, "continue", "continue")
            self.follow(req)
            return
        roll = rng.random()
        if roll < 0.1:
            self.upload(phase)
        elif roll < 0.3:
            text = rng.choice(("undo", "go back to the original", "redo",
                               (f"go back to before the {rng.choice(SHAPES[:2])} was "
                                f"{rng.choice(COLOURS)}")))
            self.follow(self.send(phase, "move", text))
        else:
            first = self.send(phase, "edit", rng.choice(EDITS))
            batch = [first]
            if first.jobs and rng.random() < 0.25:  # typed again while it runs: queued behind
                batch.append(self.send(phase, "edit", rng.choice(EDITS)))
            for req in batch:
                self.follow(req)
        time.sleep(rng.uniform(0.0, 0.5))  # reading the answer

    def run(self, phase: str, until: float) -> None:
        while time.time() < until:
            try:
                self.step(phase)
            except Exception as exc:  # noqa: BLE001 - reported as a problem of the run
                self.ledger.errors.append(f"conversation {self.index} ({phase}): "
                                          f"{type(exc).__name__}: {exc}")
                time.sleep(1.0)


def run_users(users: list[User], phase: str, seconds: float) -> None:
    """Every user's script in its own thread for `seconds` (their last requests end)."""
    until = time.time() + seconds
    threads = [threading.Thread(target=u.run, args=(phase, until), daemon=True,
                                name=f"user-{u.index}") for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def fairness_probe(users: list[User], burst: int = 10) -> list[Request]:
    """One conversation sends `burst` edits at once (each queued behind the previous),
    then each of the others sends one; returns those requests (phase "fairness")."""
    heavy, light = users[0], users[1:]
    reqs = [heavy.send("fairness", "edit", EDITS[i % 8], paced=False) for i in range(burst)]
    for u in light:
        reqs.append(u.send("fairness", "edit", EDITS[(u.index + 3) % 8], paced=False))
    for req, u in zip(reqs, [heavy] * burst + light, strict=True):
        u.follow(req)
    return reqs

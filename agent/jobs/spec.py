"""The stored job contract: what a job runs (a JobSpec, kept as its jobs row's request),
the key each of its steps is stored under, and the reservation row of a claim."""

from __future__ import annotations

from dataclasses import dataclass, field

CLAIM_REQUEST = {"claim": True}  # the request of a conversation's reservation (jobs/claim.py)


def is_claim(job) -> bool:
    """A stored job that is a reservation, not (yet) a job to run."""
    return bool(job.request.get("claim"))


@dataclass
class JobSpec:
    """What to run. kind "edit": steps from base_node_id; kind "generate": a new root."""

    kind: str
    conversation_id: str
    steps: list[dict] = field(default_factory=list)  # EditStep dicts
    base_node_id: str | None = None
    after_job: str | None = None  # start from the last node of this job (queued behind it)
    base_caption: str = ""  # the base node's caption when the store's is empty (asked later)
    prompt: str = ""
    preset: str = "mtc"
    overrides: dict = field(default_factory=dict)  # editing_core parameter names
    strength: float | None = None  # replaces each step's strength when set
    seed: int = 0
    width: int | None = None
    height: int | None = None
    request: str = ""
    summary: str = ""  # the plan's one-sentence summary, told with the result
    notes: list[str] = field(default_factory=list)
    # where the edit may change the image (agent/jobs/regions.py): what the user marked
    # ({"source": "drawn", "mask": base64 PNG} or region words {"source": "words", ...}),
    # and for steps without it the conversation's region mode, "none" or "auto"
    region: dict | None = None
    region_mode: str = "none"
    # step k stores its node under step_key(job id, k): a step run again (a resumed plan,
    # a redelivered job) finds its node instead of adding a second one
    step_key_base: str = ""
    step_offset: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> JobSpec:
        """The spec stored in a job's request (unknown keys are ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{"kind": "edit", "conversation_id": "",
                      **{k: v for k, v in data.items() if k in names}})

    def step_key(self, job_id: str, k: int) -> str:
        """The unique key step k (0-based) of this job stores its node under: "J:k" for
        job J, or the first job's key and position for a resumed rest of a plan."""
        return f"{self.step_key_base or job_id}:{self.step_offset + k}"

    @property
    def ops_only(self) -> bool:
        """A plan of exact operations only: it needs no model."""
        finds = bool(self.region and self.region.get("things"))  # the model finds them
        return self.kind == "edit" and bool(self.steps) and not finds and all(
            s.get("kind") == "op" for s in self.steps)

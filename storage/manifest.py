"""The one schema of an export's conversation.json, checked before anything is written.

Every field has a type, a range and, where it names a kind, the known values; text is
cleaned (mtedit.text.clean) on the way in. `read_manifest(doc)` returns the validated
`Manifest` or raises ManifestError with one line per problem, each naming where it is
("nodes[1].width: ..."). References between rows (parents, the head, a plan's message,
a message's images) must point inside the archive.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from mtedit.text import clean
from storage.errors import StorageError
from storage.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from storage.messages import ROLES
from storage.records import MESSAGE_KINDS, NODE_KINDS
from storage.walks import find_cycles

FORMAT = "mtedit-conversation"
VERSIONS = (1, 2)  # 2: messages carry kind and meta, the conversation its settings
MAX_SEED = 2**63 - 1
MAX_ROWS = 100_000
MAX_TEXT = 100_000  # characters of one message or caption


class ManifestError(StorageError):
    """conversation.json does not match the schema; the text lists what and where."""


def _cleaned(limit: int):
    def check(value: str) -> str:
        value = clean(value)
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return AfterValidator(check)


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("not a date and time (ISO 8601 text)")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date and time (ISO 8601 text)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Sha = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[StrictStr, _cleaned(MAX_TEXT)]
Short = Annotated[StrictStr, _cleaned(200)]
Name = Annotated[StrictStr, _cleaned(64)]
When = Annotated[datetime | None, BeforeValidator(_when)]
Side = Annotated[StrictInt, Field(ge=1, le=MAX_IMAGE_SIDE)]
Seconds = Annotated[float, BeforeValidator(_finite), Field(strict=False, allow_inf_nan=False)]
JSONObject = dict[StrictStr, Any]
MAX_CHECK = 20_000  # characters of a node's check as JSON


def _check_doc(value: dict | None) -> dict | None:
    """A node's check: a small JSON object whose text is cleaned like every other."""
    if value is None:
        return None
    if len(json.dumps(value, default=str)) > MAX_CHECK:
        raise ValueError(f"longer than {MAX_CHECK} characters as JSON")

    def cleaned(v: Any) -> Any:
        if isinstance(v, str):
            return clean(v)
        if isinstance(v, dict):
            return {clean(str(k)): cleaned(x) for k, x in v.items()}
        if isinstance(v, list):
            return [cleaned(x) for x in v]
        return _finite(v)

    return cleaned(value)


Check = Annotated[JSONObject | None, AfterValidator(_check_doc)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConversationDoc(_Row):
    title: Short = ""
    created_at: When = None
    head_node_id: Id | None = None
    settings: JSONObject = Field(default_factory=dict)


class NodeDoc(_Row):
    id: Id
    parent_id: Id | None = None
    kind: Literal[NODE_KINDS]  # type: ignore[valid-type]
    caption: Text = ""
    instruction: Text | None = None
    target_prompt: Text | None = None
    focus_words: list[Short] = Field(default_factory=list, max_length=256)
    preset: Name | None = None
    params: JSONObject = Field(default_factory=dict)
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    model_id: Text | None = None
    image_sha256: Sha
    latent_sha256: Sha | None = None
    width: Side
    height: Side
    status: Literal["ready"] = "ready"
    timings: dict[StrictStr, Seconds] = Field(default_factory=dict)
    created_at: When = None
    check_result: Check = None  # what came back (revision 0007); older exports have none
    mask_sha256: Sha | None = None  # the region its edit was limited to (revision 0008)

    @model_validator(mode="after")
    def _shape(self) -> NodeDoc:
        if self.width * self.height > MAX_IMAGE_PIXELS:
            raise ValueError(f"an image of {self.width}x{self.height} pixels is larger than "
                             f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
        return self


class MessageDoc(_Row):
    id: Id
    parent_id: Id | None = None
    role: Literal[ROLES]  # type: ignore[valid-type]
    text: Text = ""
    kind: Literal[MESSAGE_KINDS] | None = None  # type: ignore[valid-type]
    meta: JSONObject = Field(default_factory=dict)
    node_ids: list[Id] = Field(default_factory=list, max_length=MAX_ROWS)
    created_at: When = None


class PlanDoc(_Row):
    message_id: Id | None = None
    request: Text = ""
    steps: list[JSONObject] = Field(default_factory=list, max_length=1000)
    planner: Name = ""
    created_at: When = None


class Manifest(_Row):
    format: Literal[FORMAT]  # type: ignore[valid-type]
    version: Literal[VERSIONS]  # type: ignore[valid-type]
    conversation: ConversationDoc
    nodes: list[NodeDoc] = Field(max_length=MAX_ROWS)
    messages: list[MessageDoc] = Field(default_factory=list, max_length=MAX_ROWS)
    plans: list[PlanDoc] = Field(default_factory=list, max_length=MAX_ROWS)

    @model_validator(mode="before")
    @classmethod
    def _version_is_a_number(cls, data: Any) -> Any:
        if isinstance(data, dict) and type(data.get("version")) is not int:
            raise ValueError(f"version must be a whole number, one of {list(VERSIONS)}")
        return data

    @model_validator(mode="after")
    def _references(self) -> Manifest:
        problems = []
        for what, rows in (("image node", self.nodes), ("message", self.messages)):
            parents: dict[str, str | None] = {}
            for row in rows:
                if row.id in parents:
                    problems.append(f"{what} id {row.id} is repeated")
                parents[row.id] = row.parent_id
            for ident, parent in parents.items():
                if parent is not None and parent not in parents:
                    problems.append(f"{what} {ident} has a parent {parent} that is not in the "
                                    "archive")
            cycles = [] if problems else find_cycles(parents)
            if cycles:
                problems.append(f"{what}s {' -> '.join(cycles[0])} form a cycle")
        for n in [] if problems else self.nodes:
            root = n.kind in ("upload", "generate")
            if root != (n.parent_id is None):
                problems.append(f"node {n.id} of kind {n.kind} "
                                + ("cannot have a parent" if root else "needs a parent"))
        node_ids = {n.id for n in self.nodes}
        message_ids = {m.id for m in self.messages}
        head = self.conversation.head_node_id
        if head is not None and head not in node_ids:
            problems.append(f"the head {head} is not a node in the archive")
        for m in self.messages:
            missing = [i for i in m.node_ids if i not in node_ids]
            if missing:
                problems.append(f"message {m.id} shows image {missing[0]}, not in the archive")
        for p in self.plans:
            if p.message_id is not None and p.message_id not in message_ids:
                problems.append(f"a plan belongs to message {p.message_id}, not in the archive")
        kinds: dict[str, str] = {}  # an image and a mask are both PNGs: one blob may be both
        for n in self.nodes:
            for sha, kind in ((n.image_sha256, "a PNG"), (n.mask_sha256, "a PNG"),
                              (n.latent_sha256, "a latent")):
                if sha is not None and kinds.setdefault(sha, kind) != kind:
                    problems.append(f"blob {sha} is used both as a PNG and a latent")
        if problems:
            raise ValueError("; ".join(dict.fromkeys(problems[:10])))
        return self

    def blobs(self) -> dict[str, str]:
        """{sha256: "image" | "mask" | "latent"} of every blob a node needs."""
        out: dict[str, str] = {}
        for n in self.nodes:
            if n.mask_sha256:
                out[n.mask_sha256] = "mask"
            out[n.image_sha256] = "image"  # a blob that is both is checked as an image too
            if n.latent_sha256:
                out[n.latent_sha256] = "latent"
        return out

    def depths(self, rows) -> dict[str, int]:
        """Each row's depth in its tree (parents first when sorted by it)."""
        parents = {r.id: r.parent_id for r in rows}
        depth: dict[str, int] = {}
        for ident in parents:  # no cycle (checked): each walk ends at a root or a known depth
            chain = [ident]
            while chain[-1] not in depth and parents[chain[-1]] is not None:
                chain.append(parents[chain[-1]])
            depth.setdefault(chain[-1], 0)
            for i, node in enumerate(reversed(chain[:-1]), 1):
                depth[node] = depth[chain[-1]] + i
        return depth


def read_manifest(doc: Any) -> Manifest:
    """The validated manifest; ManifestError listing the problems (at most ten)."""
    try:
        return Manifest.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:10]:
            where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"])
            where = where.replace(".[", "[")
            reason = err["msg"].removeprefix("Value error, ")
            reason = re.sub(r" or instance of \w+", "", reason)  # no class names in words
            lines.append(f"{where}: {reason}" if where else reason)
        raise ManifestError("; ".join(lines)) from None

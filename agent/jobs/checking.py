"""What came back: the runner checks each result right after its node is stored
(editing_core.checks: the model's reader, when its folder names one, and the share of
changed pixels inside and outside the step's region) and records it on the node. A check
never fails a job: a failing one leaves the node unchecked."""

from __future__ import annotations

import io
import logging

from PIL import Image

log = logging.getLogger(__name__)


def reader_of(backend):
    """The reader of the backend's model folder (editing_core.checks.model_reader)."""
    from editing_core.checks import model_reader

    try:
        return model_reader(getattr(backend, "model_id", None))
    except Exception:
        log.warning("could not look up the model's reader", exc_info=True)
        return None


def image_of(store, node) -> Image.Image | None:
    """The node's image, for comparing the next result with (None when unreadable)."""
    from agent.jobs import damage

    try:
        return Image.open(io.BytesIO(damage.read_image(store, node))).convert("RGB")
    except Exception:  # noqa: BLE001 - damage is said elsewhere; the check does without
        return None


def record(store, backend, node, after, prompt: str, *, before=None,
           source_prompt: str | None = None, region=None) -> dict | None:
    """Check one result and store the check on its node; None when it could not be made."""
    from editing_core.checks import check_result

    try:
        check = check_result(after, prompt, before=before, source_prompt=source_prompt,
                             region=region, reader=reader_of(backend))
        store.set_check(node.id, check)
    except Exception:
        log.warning("could not check the result %s", node.id, exc_info=True)
        return None
    return check

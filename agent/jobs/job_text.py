"""What the chat says about a job: its result (and what came back: each result's check,
agent/jobs/checking.py), a failure, an interruption, how to run the rest."""

from __future__ import annotations

import time

from agent.jobs import damage
from agent.jobs.damage import DamagedImage

NOT_RUN = "the edit queued before this one did not finish, so this one did not run"


def _numbered(steps: list[dict], start: int = 1) -> list[str]:
    return [f"{i}. {s['instruction']}" for i, s in enumerate(steps, start)]


def _finished(steps: list[dict], n_done: int) -> list[str]:
    """The steps that finished, and where that leaves the head."""
    return _numbered(steps[:n_done]) + [
        "The finished steps are kept and the head is the last of them."
        if n_done else "Nothing was changed; the head is where it was."]


def result_text(state) -> str:
    """The assistant's message when a job ends."""
    spec, n_done = state.spec, len(state.node_ids)
    secs = time.time() - state.started
    if spec.kind == "edit" and not spec.steps and state.status != "done":
        return (f"I could not plan that: {state.error}" if state.error
                else "Cancelled before the plan was ready; nothing was changed.")
    if spec.kind == "generate":
        if state.status == "done":
            said = [line for c in checks_of(state) if (line := check_text(c))]
            return "\n".join([f"Generated \"{spec.prompt}\" ({secs:.1f} s).", *said])
        what = "cancelled" if state.status == "cancelled" else f"failed: {state.error}"
        return f"The generation {what}. Nothing was stored."
    n = len(spec.steps)
    lines = []
    checks = checks_of(state)
    if state.status == "done" and not n_done:  # every step found nothing to change
        return "\n".join(["Nothing was changed; the head is where it was.", *spec.notes])
    if state.status == "done":
        steps_s = f"{n} step{'s' if n != 1 else ''}"
        if any(c and c.get("verdict") == "missed" for c in checks):
            lines.append(f"Missed: the result does not show what was asked ({steps_s} in "
                         f"{secs:.1f} s; it is the head for now).")
        else:
            lines.append(f"Done: {steps_s} in {secs:.1f} s; the last result is the new head.")
        if spec.summary:
            lines.append(spec.summary)
    elif state.status == "cancelled":
        lines.append(f"Cancelled after {n_done} of {n} steps.")
    else:
        lines.append(f"Step {n_done + 1} of {n} failed: {state.error}")
    if state.status == "done":
        lines += _numbered(spec.steps[:n_done])
        lines += [said for c in checks if (said := check_text(c))]
        if any(c and c.get("verdict") != "hit" for c in checks):
            lines.append(try_again_text(state))
    else:
        lines += _finished(spec.steps, n_done)
    if state.status == "failed" and n_done < n and state.error != NOT_RUN:
        lines.append(damaged_start_text(state) or resume_hint(spec.steps, n_done))
    lines += spec.notes
    return "\n".join(lines)


def damaged_start_text(state) -> str | None:
    """What to do instead of "continue" when the image it would continue from (the last
    finished step's, else the one the edit started from) is damaged; None when intact."""
    node_id = state.node_ids[-1] if state.node_ids else state.spec.base_node_id
    store = getattr(state, "store", None)
    if node_id is None or store is None:
        return None
    try:
        damage.read_image(store, store.get_node(node_id))
    except DamagedImage:
        return ("Its image cannot be read, so the edit cannot go on from it: go back to "
                "an earlier version (\"undo\" or \"back to turn N\"), or upload the image "
                "again, then send the request again.")
    except Exception:  # noqa: BLE001 - the node itself is gone: no advice beats a wrong one
        return None
    return None


def try_again_text(state) -> str:
    """The two ways on from a result that missed (or may have)."""
    try:
        depth = state.store.get_node(state.node_ids[0]).depth - 1
    except Exception:  # noqa: BLE001
        return "Try again (another seed), or go back to the image before it."
    return f"Try again (another seed), or go back to #{depth}, the image before it."


def checks_of(state) -> list[dict | None]:
    """The check recorded on each node the job made (None where there is none)."""
    out = []
    for node_id in state.node_ids:
        try:
            out.append(state.store.get_node(node_id).check_result)
        except Exception:  # noqa: BLE001 - a vanished node is said by the failure itself
            out.append(None)
    return out


def _share(x: float) -> str:
    pct = 100 * x
    return f"{pct:.0f} %" if pct >= 1 or pct == 0 else "under 1 %"


def changed_text(change: dict | None) -> str:
    """How much changed, in words ("" when unknown)."""
    if not change:
        return ""
    if change.get("region") is None:
        return f"{_share(change['inside'])} of the image changed"
    return (f"{_share(change['inside'])} of the region changed, "
            f"{_share(change.get('outside') or 0.0)} outside it")


def _asked(c: dict) -> str:
    if c.get("absent"):
        return f"{c['what']} to be gone, but I still see {c['seen']}"
    return f"{c['what']}, but I see {c['seen']}"


def _lost(c: dict) -> str:
    seen, what = str(c.get("seen", "")), str(c["what"])
    if what.startswith("nothing"):
        return f"{seen} appeared"
    the = "the " + what[2:] if what.startswith("a ") else what
    if seen.startswith("nothing"):
        return f"{the} is gone"
    return f"{the} now looks like {seen}"


def check_text(check: dict | None) -> str:
    """What came back for one result, in one or two sentences ("" when unchecked)."""
    if not check:
        return ""
    verdict = check.get("verdict")
    asked = [c for c in check.get("asked") or [] if isinstance(c, dict) and "what" in c]
    lost = [c for c in check.get("kept") or [] if isinstance(c, dict) and "what" in c
            and not c.get("met")]
    change = changed_text(check.get("change"))
    also = f"; {change}" if change else ""
    if verdict == "missed":
        missing = [c for c in asked if not c.get("met")]
        if not missing:
            return "It missed: the image hardly changed."
        text = "It missed: I looked for " + "; ".join(_asked(c) for c in missing) + "."
        if lost:
            text += " It also changed what should have stayed: " + "; ".join(
                _lost(c) for c in lost) + "."
        return text
    shows = ", ".join(c["what"] for c in asked if not c.get("absent"))
    gone = ", ".join(c["what"] for c in asked if c.get("absent"))
    what = " and ".join(p for p in (f"it shows {shows}" if shows else "",
                                    f"{gone} is gone" if gone else "") if p)
    if verdict == "hit":
        return f"Checked: {what}{also}." if what else (f"{change[:1].upper()}{change[1:]}."
                                                      if change else "")
    if verdict == "changed_more":
        more = "; ".join(_lost(c) for c in lost)
        if change and (check.get("change") or {}).get("region") is not None and not more:
            more = change
        start = f"It {what.removeprefix('it ')}, but" if what else "But"
        return f"{start} it changed more than asked: {more or change}."
    reader = "this model has no reader for its pictures" if not check.get("reader") else (
        "its reader cannot read this caption")
    return f"Not checked ({reader}){also}."


def resume_hint(steps: list[dict], n_done: int) -> str:
    """How to run the steps a job did not finish."""
    rest = "; ".join(_numbered(steps[n_done:], n_done + 1))
    what = "the remaining step" if len(steps) - n_done == 1 else "the remaining steps"
    return f"Say \"continue\" to run {what} ({rest}) from there."


def interrupted_text(job) -> str:
    """The assistant's message for a job whose process stopped (its heartbeat ended)."""
    steps = list(job.request.get("steps") or [])
    n, n_done = len(steps), len(job.result_node_ids)
    if job.kind == "generate":
        return ("The generation was interrupted (the process running it stopped). Nothing "
                "was stored; send it again.")
    lines = [(f"The edit was interrupted after step {n_done} of {n} (the process running it "
              "stopped).")]
    lines += _finished(steps, n_done)
    if n_done < n:
        lines.append(resume_hint(steps, n_done))
    return "\n".join(lines)


def explain_error(exc: BaseException) -> str:
    """A sentence a user can act on."""
    from editing_core import DeviceOutOfMemory, ImageInputError, ModelLoadError
    from storage import StorageError

    text = " ".join(str(exc).split())
    if isinstance(exc, DeviceOutOfMemory) or "out of memory" in text.lower():
        return (f"the GPU ran out of memory ({text[:200]}). Try fewer steps (\"use 8 steps\"), a "
                "smaller image (MTEDIT_MAX_SIDE=768) or CPU offload (MTEDIT_OFFLOAD=model).")
    if isinstance(exc, ModelLoadError):
        return f"the model could not be loaded: {text}"
    if isinstance(exc, DamagedImage):
        return f"{text[:1].upper()}{text[1:]}; edit another image, or roll back to one"
    if isinstance(exc, ImageInputError):
        return f"the image could not be used: {text}"
    if isinstance(exc, (ValueError, StorageError)):  # already a sentence
        return text
    if isinstance(exc, (MemoryError, OSError)) and not text:
        return "the machine ran out of memory" if isinstance(exc, MemoryError) else (
            "a file could not be read or written")
    return (f"an unexpected error: {text[:300]}" if text
            else "an unexpected error (the server log has the details)")

"""What the chat says about a job: its result, a failure, an interruption, how to run the
rest."""

from __future__ import annotations

import time

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
            return f"Generated \"{spec.prompt}\" ({secs:.1f} s)."
        what = "cancelled" if state.status == "cancelled" else f"failed: {state.error}"
        return f"The generation {what}. Nothing was stored."
    n = len(spec.steps)
    lines = []
    if state.status == "done":
        lines.append(f"Done: {n} step{'s' if n != 1 else ''} in {secs:.1f} s; "
                     f"the last result is the new head.")
        if spec.summary:
            lines.append(spec.summary)
    elif state.status == "cancelled":
        lines.append(f"Cancelled after {n_done} of {n} steps.")
    else:
        lines.append(f"Step {n_done + 1} of {n} failed: {state.error}")
    if state.status == "done":
        lines += _numbered(spec.steps[:n_done])
    else:
        lines += _finished(spec.steps, n_done)
    if state.status == "failed" and n_done < n and state.error != NOT_RUN:
        lines.append(resume_hint(spec.steps, n_done))
    lines += spec.notes
    return "\n".join(lines)


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

    name = type(exc).__name__
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
    return f"{name}: {text[:300]}"

"""Edits and generations: plan the request, store the user message and the plan, hand
one JobSpec to the executor, reply (at once, or when the job ends).

One path for every edit: from the head, or, while an edit of this conversation is
queued in this process, from the caption that edit will end with (the job then starts
from that edit's last node).
"""

from __future__ import annotations

from dataclasses import replace

from agent.chat.upload_flow import ask_meta
from agent.chat.views import Reply
from agent.jobs import timing
from agent.jobs.executor import JobSpec
from agent.planning.offline import OfflinePlanner
from agent.planning.params import core_overrides, one_off_settings, shift_strength
from agent.planning.plan import EditPlan
from agent.planning.safe import plan_in_worker, plan_safely
from agent.reading.intents import Intent


class Submit:
    """ChatSession's edit and generate calls."""

    def _generate(self, intent: Intent, text: str, wait: bool) -> list[Reply]:
        if (busy := self._busy()) is not None:
            return [busy]
        prompt = intent.caption.strip()
        if not prompt:
            return [self._say("Describe the image to generate, e.g. \"generate a red circle on "
                              "the left, on a green background\".", "error", user_text=text)]
        self.store.add_message(self._require(), "user", text)
        current = self.edit_settings
        spec = JobSpec("generate", self._cid, prompt=prompt, preset=current.preset,
                       overrides=core_overrides(current), seed=current.seed, request=text,
                       steps=[{"instruction": "generate", "target_prompt": prompt}])
        return [self._run(spec, None, wait, "generate")]

    def _edit(self, request: str, text: str | None, wait: bool) -> list[Reply]:
        """Plan the request and run it from the head (or, while an edit of this conversation
        runs in this process, queue it behind that edit). text None: no user message to store."""
        cid = self._require()
        after_job, base_node_id = None, None
        queued = self.executor.last_queued(cid)
        if queued is not None:
            after_job, prev = queued
            if prev.kind == "edit" and not prev.steps:  # its plan is not ready yet
                return [Reply(text="I am still planning the previous request; send this one "
                                   "when its plan shows.", kind="error", job_id=after_job)]
            caption = prev.steps[-1]["target_prompt"] if prev.steps else prev.prompt
            history = [s["instruction"] for s in prev.steps if prev.kind == "edit"][-6:]
        else:
            if (busy := self._busy()) is not None:
                return [busy]
            head = self.store.head(cid)
            if head is None:
                return [self._say("There is no image yet: upload one (with a sentence saying "
                                  "what it shows) or ask me to generate one, e.g. \"generate a "
                                  "red circle on a green background\".", "error",
                                  user_text=text)]
            caption = self.caption_of(head)
            if not caption:
                return [self._say("Before I edit: what does the image show? Describe it in one "
                                  "sentence (for example \"a dog on a beach\").", "ask",
                                  user_text=text, node_ids=[head.id],
                                  meta=ask_meta(head.id, request))]
            base_node_id = head.id
            history = [n.instruction for n in self.store.path(head.id) if n.instruction][-6:]
        request, once = one_off_settings(request)
        try:
            if not wait and not isinstance(self.planner, OfflinePlanner):  # never block the page
                return [plan_in_worker(self, request, text, caption, history, once,
                                       base_node_id, after_job)]
            result = plan_safely(self.planner, request, caption, history)
        except ValueError as exc:
            return [self._say(f"I could not plan that: {exc}", "error", user_text=text)]
        try:
            current = self.edit_settings.updated(**once)
        except ValueError as exc:
            return [self._say(f"I could not use that setting: {exc}", "error", user_text=text)]
        plan = shift_strength(result.plan, current.strength)
        steps = [s.model_dump() for s in plan.steps]
        user = (self.store.add_message(cid, "user", text) if text is not None
                else self.store.latest_message(cid))
        self.store.add_plan(user.id, request, steps, result.planner)
        spec = JobSpec("edit", cid, steps=steps, base_node_id=base_node_id, after_job=after_job,
                       base_caption=caption, preset=current.preset,
                       overrides=core_overrides(current), seed=current.seed, request=request,
                       summary=plan.summary, notes=list(result.notes))
        reply = self._run(spec, plan, wait, "edit")
        if after_job is not None and reply.kind == "queued":
            reply = replace(reply, text="Queued after the edit that is running:\n"
                                        + plan.describe())
        return [reply]

    def _run(self, spec: JobSpec, plan: EditPlan | None, wait: bool, kind: str) -> Reply:
        """Submit the job; with wait, block until it ends and reply with its result."""
        claim, self._claim = self._claim, None
        job_id = self.executor.submit(spec, job_id=claim)
        notes = tuple(spec.notes)
        if not wait:
            what = plan.describe() if plan is not None else f"Generating \"{spec.prompt}\"."
            if (view := self.executor.progress(job_id)) and (how_long := timing.plan_line(
                    view.total, view.estimate_s)):
                what += "\n" + how_long
            return Reply(text=f"Working on it:\n{what}" if plan else what, kind="queued",
                         plan=plan, job_id=job_id, notes=notes)
        view = self.executor.wait(job_id) or self.job(job_id)
        text = self.store.get_message(view.message_id).text if view.message_id else ""
        ok = view.status == "done"
        return Reply(text=text or view.error or view.status, kind=kind if ok else "error",
                     node_ids=view.node_ids, plan=plan, job_id=job_id,
                     message_id=view.message_id, notes=notes)

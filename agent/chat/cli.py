"""`mtedit chat`: scripted (or typed) conversations with the agent, printed as a transcript;
`mtedit plan`: the planner alone (no model, no database).

    mtedit chat --script examples/toy_edits.yaml --json out.json
    mtedit chat --db ~/mtedit.db          # type messages; "/image a.png b.png caption" uploads
    mtedit plan "make her hair blonde" --caption "a photo of a woman with brown hair" --json

A script is YAML: a list of turns, or a mapping with `turns` and optionally `title` and
`settings` (edit settings applied first, e.g. {steps: 4}). A turn is a string or a
mapping with `text` and optionally `images` (paths relative to the script).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from mtedit.text import error_text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "chat", help="run a scripted conversation (or type one) and print the transcript",
        description="Run a YAML list of user turns through the agent against a fresh or given "
        "database and print each reply, the plan, the nodes created and the head.")
    p.add_argument("--script", type=Path, metavar="FILE.yaml",
                   help="the turns to run (default: read messages from standard input)")
    p.add_argument("--db", metavar="URL", default=None,
                   help="SQLAlchemy URL or SQLite file (default: a fresh temporary database, "
                   "removed afterwards)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder for the image blobs (default: next to a SQLite --db)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the transcript as JSON")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="diffusers FLUX folder or hub id (default: MTEDIT_MODEL, else the "
                   "bundled toy model)")
    p.add_argument("--planner", default=None,
                   help="offline | openai | anthropic | ollama (default: MTEDIT_PLANNER)")
    p.add_argument("--conversation", default=None, metavar="ID",
                   help="continue this conversation instead of starting one")
    p.add_argument("--images", type=Path, metavar="DIR",
                   help="save every image the conversation creates here as <node id>.png")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 if any reply is an error")
    p.set_defaults(func=cmd_chat)

    q = subparsers.add_parser(
        "plan", help="plan one request on a caption and print the plan (no model is loaded)",
        description="Run the planner alone: the steps, target prompts, focus words and "
        "strengths it would hand to the editor for REQUEST on an image described by CAPTION. "
        "For scripted tests and for comparing planners; nothing is stored.")
    q.add_argument("request", help="what the user asks, e.g. \"make it night time\"")
    q.add_argument("--caption", required=True,
                   help="the description of the current image (the edit's source prompt)")
    q.add_argument("--planner", default=None,
                   help="offline | openai | anthropic | ollama (default: MTEDIT_PLANNER, else "
                   "offline; an LLM planner falls back to offline with a note)")
    q.add_argument("--history", action="append", default=[], metavar="INSTRUCTION",
                   help="an earlier edit instruction on this lineage (repeatable)")
    q.add_argument("--json", action="store_true",
                   help="print {\"steps\": [...], \"summary\", \"notes\"} as JSON")
    q.set_defaults(func=cmd_plan)


def plan_json(result) -> dict:
    """The plan as `mtedit plan --json` prints it."""
    steps = []
    for s in result.plan.steps:
        step = {"instruction": s.instruction, "target_prompt": s.target_prompt,
                "focus_words": list(s.focus_words), "strength": s.strength, "kind": s.kind}
        if s.kind == "op":
            step["op"] = s.op
        steps.append(step)
    return {"steps": steps, "summary": result.plan.summary, "notes": list(result.notes),
            "planner": result.planner}


def cmd_plan(args) -> int:
    from agent.planning.chat_model import PlannerConfigError
    from agent.planning.llm import make_planner
    from agent.planning.safe import PlanningError, Unsure, check_plan, plan_safely
    from mtedit.settings import Settings

    try:
        settings = Settings.from_env(planner=args.planner)
        planner = make_planner(settings)
    except (PlannerConfigError, KeyError, ValueError) as exc:
        print(f"mtedit plan: {exc}", file=sys.stderr)
        return 2
    if not args.caption.strip():
        print("mtedit plan: --caption is empty; give the sentence that describes the image, "
              "e.g. --caption \"a photo of a cat on a sofa\"", file=sys.stderr)
        return 2
    try:
        result = plan_safely(planner, args.request, args.caption, args.history, check=False)
    except PlanningError as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        print(f"mtedit plan: I could not plan that: {exc}", file=sys.stderr)
        return 1
    unsure = ""
    try:  # the chat asks before running a plan like this one
        check_plan(result, args.request, args.caption)
    except Unsure as exc:
        unsure = str(exc)
    if args.json:
        print(json.dumps({**plan_json(result), **({"unsure": unsure} if unsure else {})},
                         indent=2, ensure_ascii=False))
        return 0
    print(result.plan.describe())
    for i, s in enumerate(result.plan.steps, 1):
        what = f"op: {s.op}" if s.kind == "op" else "target"
        print(f"  {i}. {what} -> \"{s.target_prompt}\"")
    for note in result.notes:
        print(f"note: {note}")
    if unsure:
        print(f"unsure (the chat asks before running it): {unsure}")
    print(f"(planner: {result.planner})")
    return 0


def load_script(path: Path) -> tuple[list[dict], dict, str | None]:
    """(turns, edit settings, title); each turn {"text": str, "images": [Path]}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings, title = {}, None
    if isinstance(data, dict):
        settings, title = data.get("settings") or {}, data.get("title")
        data = data.get("turns")
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a list of turns (or a mapping with 'turns')")
    turns = []
    for i, turn in enumerate(data, 1):
        if isinstance(turn, str):
            turn = {"text": turn}
        if not isinstance(turn, dict) or not isinstance(turn.get("text", ""), str):
            raise ValueError(f"{path}: turn {i} must be a string or a mapping with 'text'")  # noqa: TRY004
        images = turn.get("images") or []
        if isinstance(images, str):
            images = [images]
        paths = [(path.parent / img).resolve() for img in images]
        for p in paths:
            if not p.is_file():
                raise ValueError(f"{path}: turn {i}: no image at {p}")
        turns.append({"text": turn.get("text", ""), "images": paths})
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: 'settings' must be a mapping")  # noqa: TRY004
    return turns, settings, title


def _reply_dict(r) -> dict:
    return {"kind": r.kind, "text": r.text, "node_ids": list(r.node_ids), "job_id": r.job_id,
            "notes": list(r.notes),
            "plan": r.plan.model_dump() if r.plan is not None else None}


def run_turn(session, text: str, images, out=None, save_dir: Path | None = None) -> dict:
    """Send one turn and print its part of the transcript; returns the JSON record."""
    out = out or sys.stdout
    before = {n.id for n in session.lineage()}
    replies = session.send(text, files=list(images))
    created = [n for n in session.lineage() if n.id not in before]
    plans = [r.plan for r in replies if r.plan is not None]
    attached = f"  (+ {', '.join(Path(p).name for p in images)})" if images else ""
    print(f"user: {text}{attached}", file=out)
    for r in replies:
        body = r.text.replace("\n", "\n    ")
        print(f"  assistant [{r.kind}]: {body}", file=out)
    if plans:
        print("  plan:", file=out)
        for i, s in enumerate(plans[-1].steps, 1):
            print(f"    {i}. {s.instruction} -> \"{s.target_prompt}\" (strength {s.strength:.2f}; "
                  f"focus: {', '.join(s.focus_words) or '-'})", file=out)
    for n in created:
        print(f"  node {n.id} ({n.kind}, #{n.depth}): \"{n.caption}\"", file=out)
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            (save_dir / f"{n.id}.png").write_bytes(session.image_bytes(n.id))
    head = session.head_id()
    print(f"  head: {head or '-'}\n", file=out)
    return {
        "user": text,
        "images": [str(p) for p in images],
        "replies": [_reply_dict(r) for r in replies],
        "plan": plans[-1].model_dump() if plans else None,
        "nodes_created": [{"id": n.id, "parent_id": n.parent_id, "kind": n.kind,
                           "caption": n.caption, "instruction": n.instruction}
                          for n in created],
        "head": head,
    }


def _interactive_turns():
    print("Type a message (\"/image a.png [b.png] text\" to upload, \"/quit\" to stop).",
          file=sys.stderr)
    for line in sys.stdin:
        line = line.strip()
        if line in ("/quit", "/exit"):
            return
        if not line:
            continue
        images = []
        if line.startswith("/image "):
            words = line.split()[1:]
            while words and Path(words[0]).expanduser().is_file():
                images.append(Path(words.pop(0)).expanduser())
            line = " ".join(words)
        yield {"text": line, "images": images}


def cmd_chat(args) -> int:
    from agent.chat.session import ChatSession
    from mtedit.settings import Settings
    from storage import StorageError

    try:
        turns, edit_settings, title = (load_script(args.script) if args.script
                                       else (None, {}, None))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"mtedit chat: {error_text(exc)}", file=sys.stderr)
        return 2
    tmp = None
    db, data_dir = args.db, args.data_dir
    if db is None and data_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="mtedit-chat-"))
        data_dir = tmp
    elif data_dir is None and "://" not in str(db):
        data_dir = Path(db).expanduser().resolve().parent
    try:
        from storage import Store

        settings = Settings.from_env(model=args.model, planner=args.planner,
                                     **({"data_dir": data_dir} if data_dir else {}))
        from agent.jobs.recovery import reap

        store = Store.open(db, data_dir)
        store.stale_s = settings.job_stale_s
        reap(store)
        session = ChatSession.open(settings, args.conversation, store=store)
        if session.planner_note:
            print(session.planner_note, file=sys.stderr)
        if session.conversation_id is None:
            session.new_conversation(title or (args.script.stem if args.script else "chat"))
        if edit_settings:
            session.update_settings(**edit_settings)
        records, errors = [], 0
        for turn in turns if turns is not None else _interactive_turns():
            rec = run_turn(session, turn["text"], turn["images"], save_dir=args.images)
            errors += sum(r["kind"] == "error" for r in rec["replies"])
            records.append(rec)
        result = {"conversation_id": session.conversation_id, "turns": records}
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        store.close()
        if tmp is not None:
            print(f"(a fresh database in {tmp} was used and removed; pass --db to keep one)",
                  file=sys.stderr)
        return 1 if args.strict and errors else 0
    except (KeyError, ValueError) as exc:
        print(f"mtedit chat: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # a full disk, a deleted database ...: said, not traced
        print(f"mtedit chat: {exc}", file=sys.stderr)
        return 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

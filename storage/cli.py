"""`mtedit history | doctor | export | import`: look after the stored conversations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="URL", default=None,
        help="SQLAlchemy URL or SQLite file (default: MTEDIT_DATABASE_URL, else "
        "mtedit.db in the data folder)",
    )
    common.add_argument(
        "--data-dir", type=Path, default=None,
        help="folder holding the blobs (default: MTEDIT_DATA_DIR; with --db FILE, its folder)",
    )

    p = subparsers.add_parser(
        "history", parents=[common], help="print the image lineage tree of a conversation"
    )
    p.add_argument("conversation_id", nargs="?", help="id or unique prefix (default: most recent)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    p.add_argument("--list", action="store_true", help="list the conversations instead")
    p.set_defaults(func=cmd_history)

    p = subparsers.add_parser(
        "doctor", parents=[common], help="check that every image and latent is present and intact"
    )
    p.add_argument("--fix", action="store_true", help="remove orphan blobs and stale temp files")
    p.add_argument(
        "--grace", type=seconds, default=60.0, metavar="SECONDS",
        help="keep orphans younger than this: a running writer may be about to use them "
        "(default: 60)",
    )
    p.set_defaults(func=cmd_doctor)

    p = subparsers.add_parser(
        "export", parents=[common], help="write a conversation and its images to a zip file"
    )
    p.add_argument("conversation_id", help="id or unique prefix")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.zip")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser(
        "import", parents=[common], help="add a conversation from an exported zip (new ids)"
    )
    p.add_argument("file", type=Path, metavar="FILE.zip")
    p.set_defaults(func=cmd_import)


class CommandError(Exception):
    pass


MAX_GRACE_S = 10 * 365 * 86400.0  # ten years: more is a typo


def seconds(text: str) -> float:
    """An argparse type: a number of seconds from 0 to ten years (no NaN, no infinity)."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_GRACE_S):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds from 0 to {MAX_GRACE_S:.0f}")
    return value


def _open(args, create: bool = False):
    from storage import Store
    from storage.engine import normalize_url

    if args.db is None:
        from mtedit.settings import Settings

        settings = Settings.from_env(data_dir=args.data_dir)
        url = settings.db_url
    else:
        url = normalize_url(args.db)
    if not create and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:" and not path.exists():
            raise CommandError(f"no database at {path}")
    if args.db is None:
        return Store.from_settings(settings)
    return Store.open(url, args.data_dir)


def _conversation(store, ident: str | None):
    if ident is None:
        conv = store.latest_conversation()
        if conv is None:
            raise CommandError("no conversations yet")
        return conv
    if not ident.strip():
        raise CommandError("the conversation id is empty; `mtedit history` lists them")
    matches = [c for c in store.list_conversations() if c.id.startswith(ident)]
    if len(matches) != 1:
        raise CommandError(
            f"no conversation with id {ident!r}" if not matches
            else f"{ident!r} matches {len(matches)} conversations; give more of the id"
        )
    return matches[0]


def _run(func):
    def wrapped(args) -> int:
        try:
            return func(args)
        except CommandError as exc:
            print(f"mtedit {args.command}: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # StorageError and friends: a clear line, not a traceback
            from sqlalchemy.exc import SQLAlchemyError

            from storage.errors import StorageError

            if not isinstance(exc, (StorageError, SQLAlchemyError)):
                raise
            print(f"mtedit {args.command}: {exc}", file=sys.stderr)
            return 1

    return wrapped


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@_run
def cmd_history(args) -> int:
    with _open(args) as store:
        if args.list:
            convs = store.list_conversations()
            if args.json:
                print(json.dumps([
                    {"id": c.id, "title": c.title, "head": c.head_node_id,
                     "updated_at": c.updated_at.isoformat()} for c in convs
                ], indent=2))
            for c in [] if args.json else convs:
                print(f"{c.id}  {c.updated_at:%Y-%m-%d %H:%M}  {_short(c.title, 50)}")
            return 0
        conv = _conversation(store, args.conversation_id)
        nodes = store.nodes(conv.id)
    if args.json:
        print(json.dumps({
            "conversation_id": conv.id,
            "head": conv.head_node_id,
            "nodes": [
                {"id": n.id, "parent_id": n.parent_id, "kind": n.kind, "caption": n.caption,
                 "instruction": n.instruction, "created_at": n.created_at.isoformat()}
                for n in nodes
            ],
        }, indent=2, ensure_ascii=False))
        return 0
    print(f"conversation {conv.id}  {_short(conv.title, 50)!r}  ({len(nodes)} images)")
    children: dict[str | None, list] = {}
    for n in nodes:
        children.setdefault(n.parent_id, []).append(n)
    stack = [(n, 0) for n in reversed(children.get(None, []))]
    while stack:
        n, indent = stack.pop()
        mark = "*" if n.id == conv.head_node_id else " "
        what = n.instruction if n.kind == "edit" else n.caption
        print(
            f"{mark} {'  ' * indent}{n.id}  turn {n.depth}  {n.kind:<8} "
            f"{(n.preset or '-'):<12} {_short(what)}"
        )
        stack.extend((c, indent + 1) for c in reversed(children.get(n.id, [])))
    if nodes:
        print("(* = head: the image the next edit starts from)")
    return 0


@_run
def cmd_doctor(args) -> int:
    from storage.doctor import check

    with _open(args) as store:
        report = check(store, fix=args.fix, grace=args.grace)
    for line in report.lines():
        print(line)
    left = set(report.orphans) - set(report.removed_orphans)
    if args.fix and left:
        print(f"{len(left)} orphan blobs younger than {args.grace:g} s kept (use --grace 0)")
    elif not args.fix and (report.orphans or report.temp_files):
        print("run `mtedit doctor --fix` to remove orphan blobs and stale temp files")
    return 1 if report.damaged or report.links else 0


@_run
def cmd_export(args) -> int:
    from storage.transfer import export_conversation

    with _open(args) as store:
        conv = _conversation(store, args.conversation_id)
        path = export_conversation(store, conv.id, args.output)
    print(f"exported conversation {conv.id} to {path}")
    return 0


@_run
def cmd_import(args) -> int:
    if not args.file.is_file():
        raise CommandError(f"no file {args.file}")
    from storage.transfer import import_conversation

    with _open(args, create=True) as store:
        conv = import_conversation(store, args.file)
        count = len(store.nodes(conv.id))
    print(f"imported conversation {conv.id} ({count} images) {conv.title!r}")
    return 0


def run(argv: list[str]) -> int:
    """Run one of these subcommands without the rest of the `mtedit` CLI (no model imports)."""
    parser = argparse.ArgumentParser(prog="mtedit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)

"""The `mtedit` command: one argparse parser, subcommands contributed by each room."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module has register(subparsers); a subcommand sets func=callable(args) -> int.
ROOM_CLIS = ("editing_core.cli", "storage.cli", "agent.chat.cli", "agent.jobs.worker",
             "toyworld.cli", "bench.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtedit", description="Chat-driven multi-turn consistent image editing on FLUX."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in ROOM_CLIS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from mtedit.settings import SettingsError

    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a wrong setting: one line naming it, not a traceback
        print(f"mtedit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `mtedit` command: one argparse parser, subcommands contributed by each room."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
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


class OneLine(logging.Handler):
    """Warnings a command logs without a logging setup of its own, as one line each (the
    command says what failed and what to do; a traceback helps nobody at the prompt)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                line += f" ({' '.join(str(record.exc_info[1]).split())[:300]})"
            sys.stderr.write(f"mtedit: {line}\n")
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from mtedit.settings import SettingsError
    from mtedit.stopping import EXIT_STATUS, Terminated, exit_on_sigterm
    from mtedit.text import CleanStream, error_text

    exit_on_sigterm()  # SIGTERM: the cleanup runs (jobs are marked interrupted), then exit
    out, err, last = sys.stdout, sys.stderr, logging.lastResort
    logging.lastResort = OneLine()
    # no escape codes printed (stderr keeps "\r": progress bars redraw their line)
    sys.stdout, sys.stderr = CleanStream(out), CleanStream(err, keep="\r")
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a wrong setting: one line naming it, not a traceback
        print(f"mtedit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("stopped (SIGTERM)", file=sys.stderr)
        return EXIT_STATUS
    except OSError as exc:  # a file the command could not read or write: said in words
        if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            print(f"mtedit {args.command}: {error_text(exc)}", file=sys.stderr)
            return 1
        where = f" holding {exc.filename}" if exc.filename else ""
        print(f"mtedit {args.command}: the disk{where} is full; free some space, then try "
              "again", file=sys.stderr)
        return 1
    finally:
        sys.stdout, sys.stderr, logging.lastResort = out, err, last


if __name__ == "__main__":
    sys.exit(main())

"""Which process owns an active job, and whether it is certainly gone.

A job records its owner as (machine, pid, start time). The machine is the host name, the
boot time and the PID namespace, so two containers that share a host name but not their
process ids are different machines. A reader on the same machine knows at once that the
owner stopped: no process has that id any more, it is a zombie, or the process with that
id started at another time (the id was reused). Anywhere else nothing is certain and the
heartbeat decides (storage/jobs.py).
"""

from __future__ import annotations

import functools
import os
import socket

import psutil

REUSED_S = 0.5  # start times further apart than this: another process with the same id


@functools.cache
def machine() -> str:
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}|{int(psutil.boot_time())}|{namespace}"[:200]


@functools.cache
def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def me() -> tuple[str, int, float | None]:
    """This process as an owner (the pid is read per call: a forked child is another)."""
    pid = os.getpid()
    return machine(), pid, _started(pid)


def gone(host: str | None, pid: int | None, started: float | None) -> bool:
    """True only when certain: the owner ran on this machine and runs no more."""
    if not host or not pid or host != machine():
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # not allowed to look: cannot tell
        return False
    return started is not None and abs(created - started) > REUSED_S

"""Scheduling priority for the group committer's thread (``serve --writer-priority N``).

On PostgreSQL a batch holds the batch lock, and its rows, for every round trip of its units
(``group_commit.py``), and on a machine whose cores the shop shares with the database and
the load, each round trip ends with the writer thread waiting for a core: measured with
``strace``, its sends to the database took 1 to 2.5 ms where they take microseconds, the
thread preempted by the processes it had just woken. Every other server process waits for
the lock meanwhile. Raising the writer thread's priority above the server's other threads
shortens those waits where the cores are contended: with 10 connections reading orders
beside 40 creating them on PostgreSQL, 187 to 215 orders a second against 130 to 138, their
p99 halved, for a quarter fewer reads; orders alone did not move (docs/architecture.md).

Linux only (a thread's nice value is its own there). Raising a priority needs
``CAP_SYS_NICE`` (root, or the capability given to the server): ``check`` says so before
the server starts, instead of each worker failing to.
"""

from __future__ import annotations

import os
import sys
import threading


class WriterPriorityError(RuntimeError):
    """The priority cannot be given here: not Linux, or not permitted."""


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "setpriority")


def raise_this_thread(levels: int) -> int:
    """Run the calling thread ``levels`` nice levels above the one it has; its new nice."""
    if levels == 0:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if supported() else 0
    if not supported():
        raise WriterPriorityError("--writer-priority needs Linux: threads have no priority "
                                  "of their own elsewhere")
    tid = threading.get_native_id()
    nice = max(-20, os.getpriority(os.PRIO_PROCESS, tid) - levels)
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except PermissionError:
        raise WriterPriorityError(
            f"--writer-priority {levels}: this process may not raise a thread's priority "
            "(it needs CAP_SYS_NICE, as root has, or a raised RLIMIT_NICE); leave it at 0"
        ) from None
    return nice


def check(levels: int) -> None:
    """Raise WriterPriorityError now if a writer thread could not be given ``levels``."""
    if levels == 0:
        return
    failure: list[WriterPriorityError] = []

    def probe() -> None:
        try:
            raise_this_thread(levels)
        except WriterPriorityError as exc:
            failure.append(exc)

    # A thread of its own, so that this one keeps its priority.
    thread = threading.Thread(target=probe, name="purchaseflow-priority-probe")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]

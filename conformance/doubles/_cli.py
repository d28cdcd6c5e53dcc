"""What both doubles' CLI commands share. Standard library only: every ``purchaseflow``
invocation imports each command module to build its parser, so they must import fast and
leave the servers' heavy imports to the moment they run."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 for an ephemeral one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {port}")
    return port


class StopSignals:
    """Catch SIGINT and SIGTERM while in the ``with`` block; ``wait()`` for one.

    The CLI runs its servers in background threads and waits here, so that both signals
    lead to the same clean shutdown and exit status 0 (uvicorn's own handling re-raises
    SIGTERM after shutdown, which would end the process with -15). The handlers go in
    before the server starts and announces itself, so that a signal sent as soon as the
    "listening" line appears is never a KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._done = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self._done.set()

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def wait(self, alive: Callable[[], bool]) -> int | None:
        """The first signal's number, or None as soon as ``alive()`` turns False."""
        while not self._done.wait(0.2):
            if not alive():
                return None
        return self.received[0]

"""A first-come-first-served queue in front of SQLite's single write lock.

SQLite lets one writer in at a time, and every unit of work here is a writer (BEGIN
IMMEDIATE). A connection that finds the lock taken sleeps in SQLite's busy handler and
polls again with growing pauses (1, 2, 5, ... 100 ms), so under 50 concurrent requests
some wait for seconds while luckier ones barge past. Queueing the units here instead,
FIFO among the threads of a process and with a kernel file lock between processes (each
waiter is woken the moment the lock is released), keeps the tail latency near the
transaction time times the queue length.
"""

from __future__ import annotations

import os
import threading
from collections import deque

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: threads queue, processes poll
    fcntl = None  # type: ignore[assignment]


class WriterLockTimeout(TimeoutError):
    """A unit waited longer than the busy timeout for its turn at the write lock."""


class WriterTurnstile:
    def __init__(self, lock_path: str, timeout: float) -> None:
        self._lock_path = lock_path
        self._timeout = timeout
        self._mutex = threading.Lock()
        self._busy = False
        self._waiters: deque[threading.Lock] = deque()
        self._fd: int | None = None
        self._fd_pid = 0

    def acquire(self) -> None:
        """Wait for our turn; WriterLockTimeout after ``timeout`` seconds in the process queue."""
        with self._mutex:
            if not self._busy:
                self._busy = True
                gate = None
            else:
                gate = threading.Lock()
                gate.acquire()
                self._waiters.append(gate)
        if gate is not None and not gate.acquire(timeout=self._timeout):
            with self._mutex:
                if gate in self._waiters:
                    self._waiters.remove(gate)
                    raise WriterLockTimeout("waited too long for the SQLite write lock")
            # Handed the turn just as the wait timed out: take it.
        try:
            self._lock_file()
        except BaseException:
            self._pass_on()
            raise

    def release(self) -> None:
        try:
            self._unlock_file()
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        with self._mutex:
            if self._waiters:
                # Straight to the longest waiter: nobody arriving now can barge in.
                self._waiters.popleft().release()
            else:
                self._busy = False

    def _lock_file(self) -> None:
        if fcntl is None:
            return
        if self._fd is None or self._fd_pid != os.getpid():
            # A forked child must not share its parent's open file: flock locks belong to
            # the open file, so parent and child would both hold it at once.
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            self._fd_pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def _unlock_file(self) -> None:
        if fcntl is not None and self._fd is not None and self._fd_pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

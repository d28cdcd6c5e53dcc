"""The SQLite writer turnstile: first come, first served, within and across processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from reference_impl.storage.turnstile import WriterTurnstile


def test_waiters_get_their_turn_in_arrival_order(tmp_path: Path) -> None:
    turnstile = WriterTurnstile(str(tmp_path / "db-lock"), timeout=10)
    order: list[int] = []
    turnstile.acquire()
    threads = []

    def take_turn(i: int) -> None:
        turnstile.acquire()
        order.append(i)
        turnstile.release()

    for i in range(5):
        thread = threading.Thread(target=take_turn, args=(i,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # let each one queue before the next arrives
    turnstile.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_two_processes_exclude_each_other_through_the_lock_file(tmp_path: Path) -> None:
    # Two turnstiles on one file stand for two server processes on one database.
    first = WriterTurnstile(str(tmp_path / "db-lock"), timeout=10)
    second = WriterTurnstile(str(tmp_path / "db-lock"), timeout=10)
    entered = threading.Event()

    def other_process() -> None:
        second.acquire()
        entered.set()
        second.release()

    first.acquire()
    thread = threading.Thread(target=other_process)
    thread.start()
    assert not entered.wait(0.2)
    first.release()
    thread.join(5)
    assert entered.is_set()


def test_a_waiter_gives_up_after_the_timeout_and_leaves_the_queue(tmp_path: Path) -> None:
    turnstile = WriterTurnstile(str(tmp_path / "db-lock"), timeout=0.05)
    turnstile.acquire()
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            turnstile.acquire()
        except TimeoutError as error:
            errors.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    thread.join(5)
    assert len(errors) == 1
    turnstile.release()
    # The queue is empty again and the turn free: the one that gave up took nothing.
    turnstile.acquire()
    turnstile.release()

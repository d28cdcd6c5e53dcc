"""Group commit on SQLite and PostgreSQL (storage/group_commit.py), and the threaded
runner's trace journal.

Batches are made deterministic by holding, from the test, what batches take turns on (the
SQLite writer turnstile, PostgreSQL's advisory batch lock): the committer takes the first
unit and waits for it, the next units queue behind it, and on release they run as one batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, text

from reference_impl.domain.catalog import Account
from reference_impl.domain.errors import NotFound
from reference_impl.domain.trace import Actor, Msg
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import StoredTraceRecorder, Trace, no_trace
from reference_impl.service.units import ThreadedUnitRunner
from reference_impl.storage import SqlUnitOfWork, group_commit
from reference_impl.storage.engine import writer_turnstile
from reference_impl.storage.group_commit import BATCH_LOCK_CLASS, GroupCommitter, batch_lock
from tests.storage.conftest import SQL_BACKENDS

Unit = Callable[[UnitOfWork], str]


@pytest.fixture(params=SQL_BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(_connection: object) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)  # the PostgreSQL engine outlives the test


@contextmanager
def batches_held(engine: Engine) -> Iterator[Callable[[], bool]]:
    """Hold what batches take turns on; yields whether a committer waits for it."""
    turnstile = writer_turnstile(engine)
    if turnstile is not None:
        turnstile.acquire()
        try:
            yield lambda: bool(turnstile._waiters)
        finally:
            turnstile.release()
        return
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid = :class AND objsubid = 2"
        " AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid"
    )
    with engine.connect() as holder, engine.connect() as observer:
        # Session-level (until unlocked), and no commit: the test counts the batches'.
        holder.execute(batch_lock(func.pg_advisory_lock))
        try:
            yield lambda: bool(observer.execute(waiting, {"class": BATCH_LOCK_CLASS}).scalar())
        finally:
            holder.execute(batch_lock(func.pg_advisory_unlock))


def add_account(user_id: str, then_raise: BaseException | None = None) -> Unit:
    def unit(uow: UnitOfWork) -> str:
        with uow:
            uow.accounts.upsert([Account(user_id, f"{user_id}@buyer.test")])
            if then_raise is not None:
                raise then_raise
            uow.commit()
        return user_id

    return unit


def stored_accounts(engine: Engine, *user_ids: str) -> set[str]:
    with SqlUnitOfWork(engine) as uow:
        return {u for u in user_ids if uow.accounts.get(u) is not None}


def within_time(committer_waits: Callable[[], bool]) -> Callable[[], bool]:
    """``committer_waits``, failing the test once the committer has had 10 s to wait."""
    deadline = time.monotonic() + 10

    def waits() -> bool:
        assert time.monotonic() < deadline, "the committer never waited for its turn"
        return committer_waits()

    return waits


def in_one_batch(engine: Engine, units: list[Unit], traces: list[Trace] | None = None
                 ) -> list[Future[str]]:
    """Submit ``units`` so that they run as one batch, after a first unit on its own."""
    committer = GroupCommitter(engine)
    with batches_held(engine) as committer_waits:
        first = committer.submit(add_account("gate"), no_trace())
        # Once the committer waits with "gate", the rest queue behind it.
        waits = within_time(committer_waits)
        while not waits():
            time.sleep(0.001)
        futures = [committer.submit(unit, trace)
                   for unit, trace in zip(units, traces or [no_trace()] * len(units),
                                          strict=True)]
    first.result(timeout=10)
    for future in futures:
        future.exception(timeout=10)  # wait for each, whatever its outcome
    committer.close()
    return futures


def test_waiting_units_share_one_commit(engine: Engine, commits: list[int]) -> None:
    futures = in_one_batch(engine, [add_account(f"buyer{i}") for i in range(4)])
    assert [f.result() for f in futures] == ["buyer0", "buyer1", "buyer2", "buyer3"]
    assert len(commits) == 2  # the gate's batch, then the four together
    assert stored_accounts(engine, "buyer0", "buyer1", "buyer2", "buyer3") == {
        "buyer0", "buyer1", "buyer2", "buyer3"}


def test_a_refused_unit_rolls_back_alone(engine: Engine, commits: list[int]) -> None:
    futures = in_one_batch(engine, [
        add_account("before"), add_account("refused", NotFound("no such cart")),
        add_account("after"),
    ])
    assert futures[0].result() == "before" and futures[2].result() == "after"
    with pytest.raises(NotFound):
        futures[1].result()
    assert len(commits) == 2  # the refusal did not break the batch
    assert stored_accounts(engine, "before", "refused", "after") == {"before", "after"}


def test_an_unexpected_error_reruns_the_batch_one_unit_at_a_time(
    engine: Engine, commits: list[int]
) -> None:
    futures = in_one_batch(engine, [
        add_account("first"), add_account("broken", RuntimeError("a bug")),
        add_account("last"),
    ])
    assert futures[0].result() == "first" and futures[2].result() == "last"
    with pytest.raises(RuntimeError, match="a bug"):
        futures[1].result()
    # gate, then the batch rolled back, then "first" and "last" alone ("broken" again fails)
    assert len(commits) == 3
    assert stored_accounts(engine, "first", "broken", "last") == {"first", "last"}


def test_a_batch_answers_its_event_loop_once(engine: Engine, commits: list[int]) -> None:
    """``run`` (the async endpoints' way in): one wake-up of the loop per batch, not one
    per unit, and each caller still gets its own result or refusal."""
    committer = GroupCommitter(engine)

    async def main() -> tuple[list[object], int]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        threadsafe = loop.call_soon_threadsafe

        def counted(*args: object, **kwargs: object) -> asyncio.Handle:
            nonlocal wakeups
            wakeups += 1
            return threadsafe(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        with batches_held(engine) as committer_waits:
            gate = asyncio.ensure_future(committer.run(add_account("gate"), no_trace()))
            waits = within_time(committer_waits)
            while not waits():
                await asyncio.sleep(0.001)
            units = [add_account("one"), add_account("refused", NotFound("no such cart")),
                     add_account("two"), add_account("three")]
            tasks = [asyncio.ensure_future(committer.run(u, no_trace())) for u in units]
            await asyncio.sleep(0.05)  # the tasks put their units in the queue
        await gate
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return results, wakeups

    results, wakeups = asyncio.run(main())
    committer.close()
    assert results[0] == "one" and results[2:] == ["two", "three"]
    assert isinstance(results[1], NotFound)
    assert len(commits) == 2 and wakeups == 2  # the gate's batch, then the four together
    assert stored_accounts(engine, "one", "refused", "two", "three") == {"one", "two", "three"}


def test_a_unit_whose_caller_gave_up_is_not_run(engine: Engine) -> None:
    """A request cancelled while its unit waited in the queue (its client went away, the
    server stopping): the unit is dropped, and the committer goes on serving."""
    committer = GroupCommitter(engine)

    async def main() -> None:
        with batches_held(engine) as committer_waits:
            gate = committer.submit(add_account("gate"), no_trace())
            waits = within_time(committer_waits)
            while not waits():
                await asyncio.sleep(0.001)
            given_up = committer.submit(add_account("gave-up-sync"), no_trace())
            task = asyncio.ensure_future(committer.run(add_account("gave-up-async"), no_trace()))
            await asyncio.sleep(0.01)
            assert given_up.cancel()
            task.cancel()
        gate.result(timeout=10)
        with pytest.raises(asyncio.CancelledError):
            await task
        later = committer.run(add_account("later"), no_trace())
        assert await asyncio.wait_for(later, 10) == "later"  # the committer still serves

    asyncio.run(main())
    committer.close()
    assert stored_accounts(engine, "gate", "gave-up-sync", "gave-up-async", "later") == {
        "gate", "later"}


def recording(user_id: str, trace: Trace) -> Unit:
    def unit(uow: UnitOfWork) -> str:
        trace.send(Actor.ORDERS, Actor.DATABASE, Msg.SAVE_ORDER)
        result = add_account(user_id)(uow)
        trace.reply(Actor.ORDERS, Actor.BUYER, Msg.CREATE_ORDER)  # after the unit's commit
        return result

    return unit


def test_the_trace_is_stored_with_the_batch(engine: Engine, commits: list[int]) -> None:
    traces = [Trace(StoredTraceRecorder(), f"cart-{i}", 1.0) for i in range(2)]
    futures = in_one_batch(engine, [recording(f"buyer{i}", t) for i, t in enumerate(traces)],
                           traces)
    assert [f.result() for f in futures] == ["buyer0", "buyer1"]
    assert len(commits) == 2
    with SqlUnitOfWork(engine) as uow:
        for trace in traces:
            stored = [(e.source, e.target, e.message) for e in uow.traces.list(
                trace.correlation_id)]
            assert stored == [("Orders", "Database", "save_order"),
                              ("Orders", "Buyer", "create_order")]
    assert all(t.recorder is not None and t.recorder.stored == 2 for t in traces)


def test_a_threaded_unit_stores_its_trace_in_its_own_commit(
    engine: Engine, commits: list[int]
) -> None:
    runner = ThreadedUnitRunner(lambda: SqlUnitOfWork(engine))
    trace = Trace(StoredTraceRecorder(), "cart-1", 1.0)

    def unit(uow: UnitOfWork) -> str:
        trace.send(Actor.ORDERS, Actor.DATABASE, Msg.SAVE_ORDER)
        return add_account("buyer")(uow)

    assert runner.submit(unit, trace).result(timeout=10) == "buyer"
    assert len(commits) == 1  # the event went in with the account
    trace.reply(Actor.ORDERS, Actor.BUYER, Msg.CREATE_ORDER)
    assert runner.submit(lambda uow: "nothing to write", trace).result(timeout=10)
    assert len(commits) == 2  # a unit that wrote nothing: its leftover event on its own
    runner.close()
    with SqlUnitOfWork(engine) as uow:
        assert [e.message for e in uow.traces.list("cart-1")] == ["save_order", "create_order"]


def test_a_unit_pays_one_round_trip_for_its_savepoint(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A committed unit's savepoint is released with the next unit's SAVEPOINT, in one
    round trip on PostgreSQL, and the last one by the batch's COMMIT; a refusal is undone
    in one round trip too. Which statements the batch sends, in order:"""
    sent: list[str] = []
    real = group_commit.execute

    def recording(connection: Connection, statement: Any, params: Any = None) -> Any:
        text_of = str(statement)
        if "SAVEPOINT" in text_of:
            sent.append(text_of)
        return real(connection, statement, params)

    monkeypatch.setattr(group_commit, "execute", recording)
    futures = in_one_batch(engine, [
        add_account("one"), add_account("refused", NotFound("no such cart")),
        add_account("two"),
    ])
    assert futures[0].result() == "one" and futures[2].result() == "two"
    save, release, undo = ("SAVEPOINT unit_of_work", "RELEASE SAVEPOINT unit_of_work",
                           "ROLLBACK TO SAVEPOINT unit_of_work")
    batch = sent[1:]  # after the gate's own batch
    if engine.dialect.name == "postgresql":
        assert batch == [save, f"{release}; {save}", f"{undo}; {release}", save]
    else:
        assert batch == [save, release, save, undo, release, save]
    assert stored_accounts(engine, "one", "refused", "two") == {"one", "two"}

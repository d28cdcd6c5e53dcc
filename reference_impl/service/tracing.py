"""Recording the actor-to-actor trace from the service layer (DESIGN.md section 7).

Handlers record into a ``TraceRecorder`` owned by the caller, not into the unit of work,
so that the messages of a request that failed (seed 002's "insufficient inventory" branch)
are kept even though its transaction rolled back. The caller persists them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from reference_impl.domain.errors import DomainError
from reference_impl.domain.trace import Actor, MessageKind, Msg, TraceEvent, TraceRecorder


class StoredTraceRecorder(TraceRecorder):
    """A request's recorder that knows how many of its events are already stored.

    A request that writes in several transactions stores each batch of new events inside
    the transaction that made them (``unstored``), instead of in a transaction of its own
    at the end: one commit fewer per request, and on SQLite one turn fewer at the writer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stored = 0

    def unstored(self) -> list[TraceEvent]:
        return self.events[self.stored :]


@dataclass(slots=True)
class Trace:
    recorder: TraceRecorder | None
    correlation_id: str
    now: float

    def send(self, source: Actor, target: Actor, message: Msg) -> None:
        if self.recorder is not None:
            self.recorder.record(source, target, message, self.correlation_id, self.now)

    def send_async(self, source: Actor, target: Actor, message: Msg) -> None:
        if self.recorder is not None:
            self.recorder.record(
                source, target, message, self.correlation_id, self.now, MessageKind.ASYNC
            )

    def reply(self, source: Actor, target: Actor, message: Msg) -> None:
        if self.recorder is not None:
            self.recorder.record(
                source, target, message, self.correlation_id, self.now, MessageKind.REPLY
            )

    # Database writes are recorded as sends without a reply: the seeds draw a database's
    # answer only some of the time (seed 001 draws none to "Update order status").

    def call(self, source: Actor, target: Actor, message: Msg) -> None:
        """A synchronous call and its reply (the reply is recorded as the same message)."""
        if self.recorder is not None:
            self.send(source, target, message)
            self.reply(target, source, message)

    # A trace without a recorder (the simulator's untraced runs, a server with tracing
    # off) skips the context manager's generator and ``bind``'s new trace: every handler
    # enters one, and in a simulated flash sale they were a quarter of an add to cart.

    def answering(
        self, source: Actor, target: Actor, message: Msg, *, reply: bool = True
    ) -> AbstractContextManager[Trace]:
        """Record ``source -> target: message``; then its reply, or the refusal.

        A refusal is recorded as a reply named after its error code (seed 001's 409
        ``items_unavailable``, seed 002's "Not enough inventory"), so that a trace tells a
        refused request from a served one. ``reply=False`` leaves the successful reply to
        the caller, for a request that goes on after this step (the payment session).
        """
        if self.recorder is None:
            return _SILENT
        return self._answering(source, target, message, reply)

    @contextmanager
    def _answering(
        self, source: Actor, target: Actor, message: Msg, reply: bool
    ) -> Iterator[Trace]:
        self.send(source, target, message)
        try:
            yield self
        except DomainError as exc:
            if self.recorder is not None:
                self.recorder.record(
                    target, source, exc.code, self.correlation_id, self.now, MessageKind.REPLY
                )
            raise
        if reply:
            self.reply(target, source, message)

    def bind(self, correlation_id: str) -> Trace:
        if self.recorder is None:
            return self  # it records nothing, so nothing reads its id
        return Trace(self.recorder, correlation_id, self.now)

    # A unit of work that lost an optimistic-concurrency race rolled back and is run again
    # (``retry_on_conflict``): the messages of the lost attempt are taken back, so that the
    # trace holds each message once, as committed, not once per attempt.

    def mark(self) -> int:
        return len(self.recorder.events) if self.recorder is not None else 0

    def rewind(self, mark: int) -> None:
        if self.recorder is not None:
            del self.recorder.events[mark:]


def no_trace(now: float = 0.0) -> Trace:
    return Trace(None, "", now)


class _Silent(AbstractContextManager[Trace]):
    """``answering`` without a recorder: records nothing, lets a refusal through. One for
    all (no object made per call); it hands out a trace that, like the caller's, records
    nothing."""

    __slots__ = ()

    def __enter__(self) -> Trace:
        return _NOTHING

    def __exit__(self, *exc_info: object) -> None:
        return None  # a refusal goes through


_NOTHING = no_trace()
_SILENT = _Silent()

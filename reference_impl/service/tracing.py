"""Recording the actor-to-actor trace from the service layer (DESIGN.md section 7).

Handlers record into a ``TraceRecorder`` owned by the caller, not into the unit of work,
so that the messages of a request that failed (seed 002's "insufficient inventory" branch)
are kept even though its transaction rolled back. The caller persists them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.domain.trace import Actor, MessageKind, Msg, TraceRecorder


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

    def call(self, source: Actor, target: Actor, message: Msg) -> None:
        """A synchronous call and its reply (the reply is recorded as the same message)."""
        self.send(source, target, message)
        self.reply(target, source, message)

    def bind(self, correlation_id: str) -> Trace:
        return Trace(self.recorder, correlation_id, self.now)


def no_trace(now: float = 0.0) -> Trace:
    return Trace(None, "", now)

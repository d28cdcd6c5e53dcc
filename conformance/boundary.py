"""What the harness sees of a shop, recorded as a trace (DESIGN.md section 7).

A black-box shop records no trace of its own. The harness records the messages it can see
at the shop's boundary, in the shop's trace format (``TraceEvent``), each from the side
that sees it:

    Buyer <-> Storefront     the harness's own calls and the shop's answers (BoundaryRecorder)
    Storefront <-> Gateway   the gateway double's event log: the sessions and charges the
                             shop asked for, the webhooks delivered and their answers
    Buyer <-> Gateway        the same log: the buyer completing the session
    Storefront -> Mail       the mail sink: every message it received

An event is stamped when its side saw it (all on loopback, one clock) and ``merge`` puts
the sources in time order. ``boundary_trace`` is checked with
``Scenario.check_trace(events, black_box=True)``. ``environment_trace`` is the part no shop
can record, the buyer paying at the gateway; the harness adds it to a reference
implementation's own full trace.

The buyer's calls carry ``X-Correlation-Id: <session id>``, so that a shop that records its
own trace files the steps taken before any cart exists (seed 003's browsing) under the
buyer's session; its later steps are filed under the cart id. ``shop_trace`` reads both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from itertools import chain
from typing import Any

from conformance.adapters.base import HttpCall, Outcome, ShopAdapter, Transport
from conformance.doubles.mailsink.store import MailMessage
from reference_impl.domain.trace import Actor, MessageKind, Msg, TraceEvent

CORRELATION_HEADER = "X-Correlation-Id"

SYNC, ASYNC, REPLY = MessageKind.SYNC, MessageKind.ASYNC, MessageKind.REPLY

#: The gateway double's calls that the shop makes, as the trace names them.
_SHOP_CALLS = {
    "session.created": Msg.CREATE_CHECKOUT_SESSION,
    "charge.created": Msg.CHARGE,
}
_FAULTED_CALLS = {"create_session": Msg.CREATE_CHECKOUT_SESSION, "create_charge": Msg.CHARGE}


class BoundaryRecorder:
    """A ``Transport`` that records the buyer's calls and the shop's answers.

    The request is ``Buyer -> Storefront: <op>`` when sent; the answer is
    ``Storefront -> Buyer: <op>``, or the refusal's error code (``items_unavailable``...),
    when received. The canonical adapter's operation names are the canonical message names.
    Harness calls (``admin ...``) are passed on unrecorded.
    """

    def __init__(self, inner: Transport, session_id: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        self.session_id = session_id
        self.clock = clock
        self.events: list[TraceEvent] = []

    def send(self, call: HttpCall) -> Outcome:
        if call.op.startswith("admin"):
            return self.inner.send(call)
        call = replace(call, headers={**call.headers, CORRELATION_HEADER: self.session_id})
        self._record(Actor.BUYER, Actor.STOREFRONT, call.op, SYNC)
        outcome = self.inner.send(call)
        answer = call.op if outcome.ok else (outcome.code or f"http_{outcome.status}")
        self._record(Actor.STOREFRONT, Actor.BUYER, answer, REPLY)
        return outcome

    def close(self) -> None:
        self.inner.close()

    def _record(self, source: str, target: str, message: str, kind: MessageKind) -> None:
        self.events.append(
            TraceEvent(source, target, message, self.session_id, self.clock(), kind)
        )


@contextmanager
def recording(adapter: ShopAdapter, session_id: str) -> Iterator[BoundaryRecorder]:
    """Record ``adapter``'s buyer calls while the block runs, as one buyer session."""
    recorder = BoundaryRecorder(adapter.transport, session_id)
    adapter.transport = recorder
    try:
        yield recorder
    finally:
        adapter.transport = recorder.inner


def gateway_trace(entries: Iterable[dict[str, Any]], correlation_id: str) -> list[TraceEvent]:
    """The gateway double's event log (``GatewayDouble.events``) as trace events.

    A call's answer is stamped with the gateway's time for the call (when it answered, as
    far as the log tells; a held "timeout" answer is stamped the same). A webhook is stamped
    when sent, its answer when the shop's response came back.
    """

    def event(source: str, target: str, message: str, at: float,
              kind: MessageKind) -> TraceEvent:
        return TraceEvent(source, target, message, correlation_id, float(at), kind)

    shop, gateway, buyer = Actor.STOREFRONT, Actor.GATEWAY, Actor.BUYER
    out: list[TraceEvent] = []
    for entry in entries:
        kind, at = entry["kind"], entry["at"]
        if kind in _SHOP_CALLS:
            message = _SHOP_CALLS[kind]
            out += [event(shop, gateway, message, at, SYNC),
                    event(gateway, shop, message, at, REPLY)]
        elif kind in ("fault.outage", "fault.server_error") and (
            entry.get("operation") in _FAULTED_CALLS
        ):
            message = _FAULTED_CALLS[entry["operation"]]
            out += [event(shop, gateway, message, at, SYNC),
                    event(gateway, shop, f"http_{entry.get('status', 503)}", at, REPLY)]
        elif kind == "session.completed":
            out += [event(buyer, gateway, Msg.COMPLETE_PAYMENT, at, SYNC),
                    event(gateway, buyer, Msg.COMPLETE_PAYMENT, at, REPLY)]
        elif kind == "delivery.attempt" and entry.get("outcome") != "dropped":
            sent = entry["sent_at"]
            out.append(event(gateway, shop, Msg.PAYMENT_WEBHOOK, sent, SYNC))
            status = entry.get("status")
            if status is not None:  # else no answer: connection error or timeout
                answer = Msg.PAYMENT_WEBHOOK if 200 <= status < 300 else f"http_{status}"
                out.append(event(shop, gateway, answer, sent + entry["duration"], REPLY))
    return out


def mail_trace(messages: Iterable[MailMessage], correlation_id: str) -> list[TraceEvent]:
    """Every message the mail sink received, as the shop's hand-off to its mail server."""
    return [
        TraceEvent(Actor.STOREFRONT, Actor.MAIL, Msg.SEND_CONFIRMATION, correlation_id,
                   m.received_at, ASYNC)
        for m in messages
    ]


def merge(*traces: Iterable[TraceEvent]) -> list[TraceEvent]:
    """One trace in time order; events stamped alike keep the order they were given in."""
    return sorted(chain(*traces), key=lambda e: e.at)


def boundary_trace(recorder: BoundaryRecorder, gateway_log: Iterable[dict[str, Any]],
                   mail: Iterable[MailMessage]) -> list[TraceEvent]:
    """Everything the harness saw of one buyer session, in time order."""
    session = recorder.session_id
    return merge(recorder.events, gateway_trace(gateway_log, session), mail_trace(mail, session))


def environment_trace(gateway_log: Iterable[dict[str, Any]],
                      correlation_id: str) -> list[TraceEvent]:
    """The messages between the buyer and the gateway: those no shop can record itself."""
    outside = {Actor.BUYER, Actor.GATEWAY}
    return [e for e in gateway_trace(gateway_log, correlation_id)
            if {e.source, e.target} <= outside]


def shop_trace(adapter: ShopAdapter, session_id: str, cart_id: str) -> list[TraceEvent]:
    """The shop's own trace of one buyer session: what it filed under the session (before
    the cart existed) and under the cart, in time order."""
    return merge(*(
        [TraceEvent.from_json(e) for e in adapter.trace(correlation_id)]
        for correlation_id in (session_id, cart_id)
    ))

"""The actor-to-actor trace (DESIGN.md section 7).

The reference implementation and the simulator both record one ``TraceEvent`` per message
one actor sends another, so that either can be checked against a seed's sequence diagram.
Actor names are the canonical ones below; each seed's mapping file maps its own
participants onto them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Actor(StrEnum):
    BUYER = "Buyer"
    STOREFRONT = "Storefront"  # the shop's HTTP API as a whole, as a black box sees it
    CART = "Cart"
    CATALOG = "Catalog"
    ACCOUNTS = "Accounts"
    ORDERS = "Orders"
    INVENTORY = "Inventory"
    PAYMENTS = "Payments"
    GATEWAY = "Gateway"
    DATABASE = "Database"
    MAIL = "Mail"


class MessageKind(StrEnum):
    SYNC = "sync"  # a call that waits for its reply
    ASYNC = "async"  # fire and forget (sequencediagram.org ``->>``)
    REPLY = "reply"  # the answer to a sync call (``-->``)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    source: str
    target: str
    message: str
    correlation_id: str
    at: float
    kind: MessageKind = MessageKind.SYNC

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceEvent:
        return cls(
            source=str(data["source"]),
            target=str(data["target"]),
            message=str(data["message"]),
            correlation_id=str(data["correlation_id"]),
            at=float(data["at"]),
            kind=MessageKind(data.get("kind", "sync")),
        )


class TraceRecorder:
    """Collects trace events in order. Callers pass the time; the recorder has no clock."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def record(
        self,
        source: str,
        target: str,
        message: str,
        correlation_id: str,
        at: float,
        kind: MessageKind = MessageKind.SYNC,
    ) -> None:
        self.events.append(TraceEvent(source, target, message, correlation_id, at, kind))

    def for_correlation(self, correlation_id: str) -> list[TraceEvent]:
        return [e for e in self.events if e.correlation_id == correlation_id]

    def clear(self) -> None:
        self.events.clear()

"""What the gateway double knows: sessions, charges, idempotency keys and the event log.

The event log is the double's testimony (``GET /v1/events``): every session, charge,
completion and webhook event, every delivery attempt with its time, HTTP status or error
and outcome, and every injected fault. Entries are plain JSON objects with ``seq``, ``at``
(unix seconds), ``kind`` and, when known, ``order_id``.

All of it lives in memory and is written through to the state store, which is a no-op
without ``--state``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.doubles.gateway.store import MemoryStore, Store

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    kind: str  # "session" or "charge"
    object_id: str


class Ledger:
    def __init__(self, store: Store | None = None, clock: Clock = time.time) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.clock = clock
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[str, IdempotencyRecord] = {}
        self._log: list[dict[str, Any]] = []
        self._load()

    def _load(self) -> None:
        self.sessions = {s["id"]: s for s in self.store.load("session")}
        self.charges = {c["id"]: c for c in self.store.load("charge")}
        self._idempotency = {
            r["key"]: IdempotencyRecord(r["fingerprint"], r["kind"], r["object_id"])
            for r in self.store.load("idempotency")
        }
        self._log = self.store.load_log()

    def objects(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.sessions if kind == "session" else self.charges

    def save(self, kind: str, obj: dict[str, Any]) -> None:
        self.objects(kind)[obj["id"]] = obj
        self.store.put(kind, obj["id"], obj)

    def idempotent(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self._idempotency.get(f"{scope} {key}")

    def remember(self, scope: str, key: str, record: IdempotencyRecord) -> None:
        full_key = f"{scope} {key}"
        self._idempotency[full_key] = record
        self.store.put(
            "idempotency",
            full_key,
            {
                "key": full_key,
                "fingerprint": record.fingerprint,
                "kind": record.kind,
                "object_id": record.object_id,
            },
        )

    def record(self, kind: str, order_id: str | None = None, **fields: Any) -> dict[str, Any]:
        seq = self._log[-1]["seq"] + 1 if self._log else 1
        entry = {"seq": seq, "at": self.clock(), "kind": kind, "order_id": order_id, **fields}
        self._log.append(entry)
        self.store.append_log(entry)
        return entry

    def entries(self, order_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Log entries, filtered by order id and by kind (``delivery`` matches
        ``delivery.attempt``, ``delivery.gave_up``...)."""
        return [
            e
            for e in self._log
            if (order_id is None or e.get("order_id") == order_id)
            and (kind is None or e["kind"] == kind or e["kind"].startswith(kind + "."))
        ]

    def clear(self) -> None:
        self.sessions.clear()
        self.charges.clear()
        self._idempotency.clear()
        self._log.clear()
        self.store.clear()

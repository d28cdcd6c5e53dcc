"""What the harness did to the SUT, step by step, for the report and the replay script.

A ``Step`` is one harness operation (``place_order`` with its arguments, carts and orders
named ``cart_1``, ``order_2``...) and the HTTP exchanges it caused. Exchanges the checker
makes to look at the SUT (reading stock, the orders) are marked as observations: they show
what the harness saw, and the replay script does not repeat them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from conformance.adapters.base import HttpCall, Outcome, Transport

#: Header values the report shows only in part (credentials).
_SECRET_HEADERS = ("authorization", "x-admin-token", "cookie")


def _redact(headers: dict[str, str]) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and len(value) > 16:
            value = f"{value[:12]}…"
        shown[name] = value
    return shown


@dataclass
class Exchange:
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    response_body: Any = None
    elapsed: float = 0.0
    error: str | None = None
    observation: bool = False

    @classmethod
    def of(cls, call: HttpCall, outcome: Outcome | None, error: str | None,
           observation: bool) -> Exchange:
        body: Any = call.json
        if call.content is not None:
            try:
                body = json.loads(call.content)
            except ValueError:
                body = call.content.decode(errors="replace")
        return cls(call.method, call.path + (f"?{_query(call.params)}" if call.params else ""),
                   _redact(dict(call.headers)), body,
                   outcome.status if outcome else None, outcome.body if outcome else None,
                   outcome.elapsed if outcome else 0.0, error, observation)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "request_headers": self.request_headers,
                "request_body": self.request_body, "status": self.status,
                "response_body": self.response_body, "elapsed": round(self.elapsed, 4),
                "error": self.error, "observation": self.observation}


def _query(params: dict[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


@dataclass
class Step:
    number: int
    operation: str
    #: JSON-able arguments; a cart, order or event is named (``"cart_1"``).
    args: dict[str, Any]
    #: The name this step gives to what it created (``"order_1"``), if any.
    result: str | None = None
    expected: str | None = None
    observed: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "operation": self.operation, "args": self.args,
                "result": self.result, "expected": self.expected, "observed": self.observed,
                "findings": self.findings, "exchanges": [e.to_json() for e in self.exchanges]}


class Recording:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def step(self, operation: str, args: dict[str, Any], result: str | None = None) -> Step:
        with self._lock:
            # Step 0 is the reset and set-up every example begins with.
            numbered = sum(1 for s in self.steps if s.number > 0)
            step = Step(numbered + 1, operation, args, result)
            self.steps.append(step)
            return step

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    @contextmanager
    def observing(self) -> Iterator[None]:
        """Exchanges made inside are the checker looking, not the operation acting."""
        before = getattr(self._local, "observing", False)
        self._local.observing = True
        try:
            yield
        finally:
            self._local.observing = before

    def add(self, call: HttpCall, outcome: Outcome | None, error: str | None = None) -> None:
        observation = getattr(self._local, "observing", False)
        with self._lock:
            if not self.steps:
                self.steps.append(Step(0, "setup", {}))
            self.steps[-1].exchanges.append(Exchange.of(call, outcome, error, observation))

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]


class RecordingTransport:
    """Wraps an adapter's transport; every exchange goes to the current ``recording``."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.recording: Recording | None = None

    def send(self, call: HttpCall) -> Outcome:
        recording = self.recording
        try:
            outcome = self.inner.send(call)
        except Exception as exc:
            if recording is not None:
                recording.add(call, None, f"{type(exc).__name__}: {exc}")
            raise
        if recording is not None:
            recording.add(call, outcome)
        return outcome

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # The schema checks reach an in-process app through ``transport.app``.
        return getattr(self.inner, name)

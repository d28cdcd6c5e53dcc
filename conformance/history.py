"""Jepsen-style histories of concurrent operations.

Every client operation is two entries: an ``invoke`` when it starts and, when it ends, its
completion: ``ok`` (it happened), ``fail`` (it certainly did not: the shop refused it), or
``info`` (unknown: a timeout, a dropped connection, a 5xx on an operation that may have
taken effect). As in Jepsen, an ``info`` operation may or may not have happened, at any
time after its invocation: a checker must accept both, so it bounds what it counts with
``ok`` below and ``ok + info`` above.

Times are nanoseconds since the history began (one monotonic clock for every client).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from conformance.adapters.base import AdapterError, Outcome

OpType = Literal["invoke", "ok", "fail", "info"]


@dataclass(frozen=True, slots=True)
class Op:
    index: int
    process: int
    type: OpType
    f: str
    value: Any
    time: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class History:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ops: list[Op] = []
        self._start = time.monotonic_ns()
        self._lock = threading.Lock()

    def _add(self, process: int, kind: OpType, f: str, value: Any) -> Op:
        with self._lock:
            op = Op(len(self.ops), process, kind, f, value, time.monotonic_ns() - self._start)
            self.ops.append(op)
            return op

    def invoke(self, process: int, f: str, value: Any = None) -> Op:
        return self._add(process, "invoke", f, value)

    def complete(self, invocation: Op, kind: OpType, value: Any = None) -> Op:
        return self._add(invocation.process, kind, invocation.f, value)

    def call(self, process: int, f: str, value: Any, action: Callable[[], Outcome],
             *, server_error_is: OpType = "info") -> Outcome | None:
        """Run ``action`` as one operation. A 4xx is ``fail``; a 5xx is ``server_error_is``
        (``info`` unless the contract says a 5xx changed nothing, as for webhooks); an
        exception (timeout, connection) is ``info``. Returns the outcome, or None."""
        invocation = self.invoke(process, f, value)
        try:
            outcome = action()
        except (AdapterError, OSError) as exc:
            self.complete(invocation, "info", {"error": f"{type(exc).__name__}: {exc}"})
            return None
        result = {"status": outcome.status, "code": outcome.code}
        if isinstance(outcome.body, dict):
            for key in ("order_id", "status", "verdict"):
                if key in outcome.body:
                    result[key] = outcome.body[key]
        if outcome.ok:
            self.complete(invocation, "ok", result)
        elif outcome.status >= 500:
            self.complete(invocation, server_error_is, result)
        else:
            self.complete(invocation, "fail", result)
        return outcome

    def completions(self, f: str | None = None) -> list[Op]:
        return [op for op in self.ops if op.type != "invoke" and (f is None or op.f == f)]

    def count(self, kind: OpType, f: str | None = None) -> int:
        return sum(1 for op in self.completions(f) if op.type == kind)

    def save(self, path: Path) -> None:
        """One JSON object per line, in the order the operations happened."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for op in self.ops:
                out.write(json.dumps(op.to_json(), default=str) + "\n")

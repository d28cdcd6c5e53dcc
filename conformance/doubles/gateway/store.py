"""The ``--state FILE`` of the gateway double: everything needed to resume after a restart.

SQLite (stdlib) rather than a JSON file rewritten on every change: the event log only grows,
and one small committed write per change keeps a long run linear. Objects are stored as
JSON text by kind (``session``, ``charge``, ``idempotency``, ``delivery``); the log is an
append-only table. Pending deliveries are written before they are attempted and deleted
only once delivered or abandoned, so a restart resends anything that was in flight
(at least once, never lost).

Without a state file, ``MemoryStore`` keeps nothing: the in-memory ledger is the state.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
"""


class StateError(Exception):
    """The state file cannot be opened or is not a gateway state file; one readable line."""


class Store(Protocol):
    def put(self, kind: str, key: str, obj: dict[str, Any]) -> None: ...
    def delete(self, kind: str, key: str) -> None: ...
    def load(self, kind: str) -> list[dict[str, Any]]: ...
    def append_log(self, entry: dict[str, Any]) -> None: ...
    def load_log(self) -> list[dict[str, Any]]: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    def put(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        pass

    def delete(self, kind: str, key: str) -> None:
        pass

    def load(self, kind: str) -> list[dict[str, Any]]:
        return []

    def append_log(self, entry: dict[str, Any]) -> None:
        pass

    def load_log(self) -> list[dict[str, Any]]:
        return []

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            # Opened in the caller's thread so that a bad file is reported at once; after
            # that only the server's event loop thread uses it, one call at a time.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot use state file {self.path}: {exc}") from None

    def put(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO objects (kind, id, body) VALUES (?, ?, ?)",
            (kind, key, json.dumps(obj)),
        )

    def delete(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, key))

    def load(self, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT body FROM objects WHERE kind = ? ORDER BY rowid", (kind,)
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def append_log(self, entry: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO log (seq, body) VALUES (?, ?)", (entry["seq"], json.dumps(entry))
        )

    def load_log(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM log ORDER BY seq").fetchall()
        return [json.loads(body) for (body,) in rows]

    def clear(self) -> None:
        self._db.execute("DELETE FROM objects")
        self._db.execute("DELETE FROM log")

    def close(self) -> None:
        self._db.close()

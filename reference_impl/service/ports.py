"""The storage ports the service layer needs (cosmicpython's repositories + unit of work).

Two adapters implement them: ``reference_impl.service.memory`` (the simulator and unit
tests) and ``reference_impl.storage`` (SQLite or PostgreSQL through SQLAlchemy Core).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.inventory import StockLevel, StockMove
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.trace import TraceEvent


class ConcurrentUpdate(Exception):
    """Another transaction changed the row first; the caller retries the whole unit."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: int
    kind: str
    order_id: str
    payload: dict[str, Any]
    created_at: float
    sent_at: float | None = None
    attempts: int = 0
    claimed_at: float | None = None


@dataclass(frozen=True, slots=True)
class RecordedPaymentEvent:
    event_id: str
    order_id: str
    outcome: str
    verdict: str
    received_at: float


class CatalogRepository(Protocol):
    def get_variant(self, variant_id: str) -> Variant | None: ...
    def get_product(self, product_id: str) -> Product | None: ...
    def list_products(self, offset: int, limit: int) -> tuple[list[Product], int]: ...
    def get_location(self, location_id: str) -> Location | None: ...
    def list_locations(self) -> list[Location]: ...
    def upsert_products(self, products: Iterable[Product]) -> None: ...
    def upsert_locations(self, locations: Iterable[Location]) -> None: ...


class AccountRepository(Protocol):
    def get(self, user_id: str) -> Account | None: ...
    def upsert(self, accounts: Iterable[Account]) -> None: ...


class StockRepository(Protocol):
    def get(self, variant_id: str, location_id: str) -> StockLevel | None: ...
    def list(self, variant_id: str | None = None) -> list[StockLevel]: ...
    def ensure(self, variant_id: str, location_id: str) -> None:
        """Create an empty level if none exists."""
        ...

    def apply(self, moves: Sequence[StockMove]) -> None:
        """Apply every move or none, raising InsufficientInventory.

        Each move is one guarded update; on a shortage the moves already made in this call
        are undone (a savepoint) while the rest of the unit of work stays usable, so that
        the caller can take another branch (on_payment's refund).
        """
        ...


class CartRepository(Protocol):
    def get(self, cart_id: str) -> Cart | None: ...
    def add(self, cart: Cart) -> None: ...
    def save(self, cart: Cart) -> None: ...


class OrderRepository(Protocol):
    def get(self, order_id: str) -> Order | None: ...
    def add(self, order: Order) -> None:
        """Insert; raises DuplicateIdempotencyKey when (owner, key) already exists."""
        ...

    def save(self, order: Order) -> None:
        """Write back an order read in this unit; ConcurrentUpdate if its version moved."""
        ...

    def adopt(self, order: Order) -> None:
        """Take ``order``, as read or written by an earlier unit, as if read in this one.

        ``save`` then writes only what changed since, and, as for any read, fails with
        ConcurrentUpdate if another unit changed the order in between: a request that
        wrote an order a moment ago need not read it again to update it.
        """
        ...

    def find_by_idempotency_key(self, owner_id: str, key: str) -> Order | None: ...
    def due_for_expiry(self, now: float, limit: int) -> list[Order]: ...
    def next_expiry(self) -> float | None: ...
    def list(self, status: OrderStatus | None = None) -> list[Order]: ...


class PaymentEventLog(Protocol):
    def record(self, event: RecordedPaymentEvent) -> bool:
        """Store an event id once; False when it was already there (I3, a unique key)."""
        ...

    def list(self, order_id: str | None = None) -> list[RecordedPaymentEvent]: ...


class Outbox(Protocol):
    def add(self, kind: str, order_id: str, payload: dict[str, Any], now: float) -> None: ...
    def pending(self, kind: str, limit: int) -> list[OutboxMessage]: ...
    def claim(self, message_id: int, now: float, lease: float) -> bool:
        """Take a message for sending unless another worker took it less than ``lease`` ago.

        One conditional update, so that two server processes never both send it.
        """
        ...

    def mark_sent(self, message_id: int, now: float) -> None: ...
    def mark_failed(self, message_id: int) -> None: ...
    def list(self, order_id: str | None = None) -> list[OutboxMessage]: ...


class TraceLog(Protocol):
    def record(self, event: TraceEvent) -> None: ...
    def list(self, correlation_id: str | None = None) -> list[TraceEvent]: ...


class DuplicateIdempotencyKey(Exception):
    """Two requests raced with one Idempotency-Key; the loser re-reads the winner's order."""


class UnitOfWork(Protocol):
    catalog: CatalogRepository
    accounts: AccountRepository
    stock: StockRepository
    carts: CartRepository
    orders: OrderRepository
    payment_events: PaymentEventLog
    outbox: Outbox
    traces: TraceLog

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def reset(self) -> None:
        """Delete everything (admin reset)."""
        ...

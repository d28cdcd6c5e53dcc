"""In-memory storage: the simulator's storage and the unit tests' fake unit of work.

Reads return copies, so that a handler that fails half-way leaves the store as it was;
writes are journalled, and ``rollback`` undoes them in reverse order.

The simulator runs millions of units of work through this store, so the queries a
background worker repeats are answered from indexes kept beside the tables (a heap of
reservation expiries, the unsent outbox messages by kind) instead of scanning every row.
The indexes see what goes through the repositories, not writes made to the dicts directly.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from types import TracebackType
from typing import Any

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.inventory import StockLevel, StockMove, apply_all
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.trace import TraceEvent
from reference_impl.service.ports import (
    AccountRepository,
    CartRepository,
    CatalogRepository,
    ConcurrentUpdate,
    DuplicateIdempotencyKey,
    OrderRepository,
    Outbox,
    OutboxMessage,
    PaymentEventLog,
    RecordedPaymentEvent,
    StockRepository,
    TraceLog,
)


@dataclass
class MemoryStore:
    products: dict[str, Product] = field(default_factory=dict)
    variants: dict[str, Variant] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    carts: dict[str, Cart] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    payment_events: dict[str, RecordedPaymentEvent] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    traces: list[TraceEvent] = field(default_factory=list)
    #: Set to False to skip trace recording (the simulator's fast path for huge runs).
    tracing: bool = True
    #: ``(expires_at, order_id)`` of orders written while pending with an expiry; an entry
    #: whose order has moved on is dropped when it reaches the top.
    expiry_heap: list[tuple[float, str]] = field(
        default_factory=list, repr=False, compare=False
    )
    #: The expiry each order id has a live heap entry for (no second entry for the same).
    expiry_indexed: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    #: Message ids of the outbox messages not sent yet, by kind.
    unsent: dict[str, set[int]] = field(default_factory=dict, repr=False, compare=False)


_MISSING: Any = object()  # the journal's "there was no row under this key"


# Copies call the constructors with every field, listed once here: several times faster
# than ``dataclasses.replace``, which inspects the fields on every call, and reads and writes
# of orders and carts are the store's commonest work. A field added to either class fails
# the check below instead of being left out of the copies.
_ORDER_FIELDS = (
    "order_id", "owner_id", "cart_id", "lines", "total", "created_at", "expires_at", "status",
    "history", "holds_stock", "payment_session_id", "payment_url", "idempotency_key",
    "request_fingerprint", "version",
)
_CART_FIELDS = ("cart_id", "owner_id", "created_at", "lines", "updated_at")
for _cls, _names in ((Order, _ORDER_FIELDS), (Cart, _CART_FIELDS)):
    if tuple(f.name for f in fields(_cls)) != _names:
        raise RuntimeError(f"memory.py copies {_cls.__name__} field by field: update its copy")


def _copy_order(o: Order) -> Order:
    return Order(
        o.order_id, o.owner_id, o.cart_id, o.lines, o.total, o.created_at, o.expires_at,
        o.status, list(o.history), o.holds_stock, o.payment_session_id, o.payment_url,
        o.idempotency_key, o.request_fingerprint, o.version,
    )


def _copy_cart(cart: Cart) -> Cart:
    return Cart(cart.cart_id, cart.owner_id, cart.created_at, dict(cart.lines), cart.updated_at)


def _copy_level(level: StockLevel) -> StockLevel:
    return StockLevel(
        level.variant_id, level.location_id, level.on_hand, level.reserved, level.sold,
        level.received,
    )


def _restore(mapping: dict[Any, Any], key: Any, old: Any) -> None:
    if old is _MISSING:
        mapping.pop(key, None)
    else:
        mapping[key] = old


class _Journal:
    """What ``rollback`` undoes, latest first: ``undo(*args)`` for each ``(undo, *args)``.

    Tuples rather than closures: one is written for every row a unit of work changes.
    """

    __slots__ = ("undo",)

    def __init__(self) -> None:
        self.undo: list[tuple[Any, ...]] = []

    def setitem(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        self.undo.append((_restore, mapping, key, mapping.get(key, _MISSING)))
        mapping[key] = value


class _Catalog:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get_variant(self, variant_id: str) -> Variant | None:
        return self._s.variants.get(variant_id)

    def get_product(self, product_id: str) -> Product | None:
        return self._s.products.get(product_id)

    def list_products(self, offset: int, limit: int) -> tuple[list[Product], int]:
        ids = sorted(self._s.products)
        return [self._s.products[i] for i in ids[offset : offset + limit]], len(ids)

    def get_location(self, location_id: str) -> Location | None:
        return self._s.locations.get(location_id)

    def list_locations(self) -> list[Location]:
        return [self._s.locations[k] for k in sorted(self._s.locations)]

    def upsert_products(self, products: Iterable[Product]) -> None:
        for product in products:
            self._j.setitem(self._s.products, product.product_id, product)
            for variant in product.variants:
                self._j.setitem(self._s.variants, variant.variant_id, variant)

    def upsert_locations(self, locations: Iterable[Location]) -> None:
        for location in locations:
            self._j.setitem(self._s.locations, location.location_id, location)


class _Accounts:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get(self, user_id: str) -> Account | None:
        return self._s.accounts.get(user_id)

    def upsert(self, accounts: Iterable[Account]) -> None:
        for account in accounts:
            self._j.setitem(self._s.accounts, account.user_id, account)


class _Stock:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get(self, variant_id: str, location_id: str) -> StockLevel | None:
        level = self._s.stock.get((variant_id, location_id))
        return _copy_level(level) if level else None

    def list(self, variant_id: str | None = None) -> list[StockLevel]:
        return [
            _copy_level(v)
            for k, v in sorted(self._s.stock.items())
            if variant_id is None or k[0] == variant_id
        ]

    def ensure(self, variant_id: str, location_id: str) -> None:
        key = (variant_id, location_id)
        if key not in self._s.stock:
            self._j.setitem(self._s.stock, key, StockLevel(variant_id, location_id))

    def apply(self, moves: Sequence[StockMove]) -> None:
        stock = self._s.stock
        before: dict[tuple[str, str], StockLevel] = {}
        for move in moves:
            key = (move.variant_id, move.location_id)
            if key not in before and key in stock:
                before[key] = _copy_level(stock[key])
        apply_all(stock, moves)
        undo = self._j.undo
        for key, old in before.items():
            undo.append((_restore, stock, key, old))


class _Carts:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get(self, cart_id: str) -> Cart | None:
        cart = self._s.carts.get(cart_id)
        return _copy_cart(cart) if cart else None

    def add(self, cart: Cart) -> None:
        self._j.setitem(self._s.carts, cart.cart_id, _copy_cart(cart))

    save = add


def _index_expiry(store: MemoryStore, order: Order) -> None:
    """Put a pending order's expiry on the heap, unless it is there already."""
    expires_at = order.expires_at
    if (
        expires_at is not None
        and order.status is OrderStatus.PENDING_PAYMENT
        and store.expiry_indexed.get(order.order_id) != expires_at
    ):
        heapq.heappush(store.expiry_heap, (expires_at, order.order_id))
        store.expiry_indexed[order.order_id] = expires_at


def _restore_order(store: MemoryStore, order_id: str, old: Any) -> None:
    _restore(store.orders, order_id, old)
    if old is not _MISSING:
        _index_expiry(store, old)  # pending again: due again


def _live_expiry(store: MemoryStore, entry: tuple[float, str]) -> bool:
    """Whether a heap entry still stands for a pending order due at that time."""
    expires_at, order_id = entry
    order = store.orders.get(order_id)
    return (
        order is not None
        and order.status is OrderStatus.PENDING_PAYMENT
        and order.expires_at == expires_at
    )


def _pop_expiry(store: MemoryStore) -> tuple[float, str]:
    entry = heapq.heappop(store.expiry_heap)
    if store.expiry_indexed.get(entry[1]) == entry[0]:
        del store.expiry_indexed[entry[1]]
    return entry


class _Orders:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def _write(self, order: Order) -> None:
        store = self._s
        order_id = order.order_id
        self._j.undo.append((_restore_order, store, order_id, store.orders.get(order_id, _MISSING)))
        store.orders[order_id] = copy = _copy_order(order)
        _index_expiry(store, copy)

    def get(self, order_id: str) -> Order | None:
        order = self._s.orders.get(order_id)
        return _copy_order(order) if order else None

    def add(self, order: Order) -> None:
        if order.idempotency_key:
            key = (order.owner_id, order.idempotency_key)
            if key in self._s.idempotency:
                raise DuplicateIdempotencyKey(order.idempotency_key)
            self._j.setitem(self._s.idempotency, key, order.order_id)
        self._write(order)

    def save(self, order: Order) -> None:
        current = self._s.orders.get(order.order_id)
        if current is None or current.version != order.version:
            raise ConcurrentUpdate(order.order_id)
        order.version += 1
        self._write(order)

    def adopt(self, order: Order) -> None:
        pass  # ``save`` writes a whole copy, checked by version alone

    def find_by_idempotency_key(self, owner_id: str, key: str) -> Order | None:
        order_id = self._s.idempotency.get((owner_id, key))
        return self.get(order_id) if order_id else None

    def due_for_expiry(self, now: float, limit: int) -> list[Order]:
        """Earliest first, ties by order id: the heap's own order. A query: the entries
        taken off to read them are put back."""
        store = self._s
        heap = store.expiry_heap
        due: list[tuple[float, str]] = []
        while heap and heap[0][0] <= now and len(due) < limit:
            entry = _pop_expiry(store)
            if _live_expiry(store, entry):
                due.append(entry)
        for entry in due:
            heapq.heappush(heap, entry)
            store.expiry_indexed[entry[1]] = entry[0]
        return [_copy_order(store.orders[order_id]) for _, order_id in due]

    def next_expiry(self) -> float | None:
        store = self._s
        heap = store.expiry_heap
        while heap and not _live_expiry(store, heap[0]):
            _pop_expiry(store)
        return heap[0][0] if heap else None

    def list(self, status: OrderStatus | None = None) -> list[Order]:
        return [
            _copy_order(o) for o in self._s.orders.values() if status is None or o.status is status
        ]


class _PaymentEvents:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def record(self, event: RecordedPaymentEvent) -> bool:
        if event.event_id in self._s.payment_events:
            return False
        self._j.setitem(self._s.payment_events, event.event_id, event)
        return True

    def list(self, order_id: str | None = None) -> list[RecordedPaymentEvent]:
        return [
            e for e in self._s.payment_events.values() if order_id is None or e.order_id == order_id
        ]


def _put_message(store: MemoryStore, message: OutboxMessage) -> None:
    """Write ``message`` in its place (or after the last) and keep ``unsent`` in step."""
    outbox, index = store.outbox, message.message_id - 1
    if index == len(outbox):
        outbox.append(message)
    else:
        outbox[index] = message
    unsent = store.unsent.setdefault(message.kind, set())
    if message.sent_at is None:
        unsent.add(message.message_id)
    else:
        unsent.discard(message.message_id)


def _unput_message(store: MemoryStore, old: OutboxMessage | None, new: OutboxMessage) -> None:
    if old is not None:
        _put_message(store, old)
        return
    del store.outbox[-1]  # the undo of an add: it was the last
    store.unsent.get(new.kind, set()).discard(new.message_id)


class _Outbox:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def add(self, kind: str, order_id: str, payload: dict[str, Any], now: float) -> None:
        message = OutboxMessage(len(self._s.outbox) + 1, kind, order_id, payload, now)
        _put_message(self._s, message)
        self._j.undo.append((_unput_message, self._s, None, message))

    def pending(self, kind: str, limit: int) -> list[OutboxMessage]:
        ids = self._s.unsent.get(kind)
        if not ids:
            return []
        outbox = self._s.outbox
        return [outbox[i - 1] for i in sorted(ids)[:limit]]

    def _replace(self, message_id: int, **changes: Any) -> None:
        old = self._s.outbox[message_id - 1]
        new = replace(old, **changes)
        _put_message(self._s, new)
        self._j.undo.append((_unput_message, self._s, old, new))

    def claim(self, message_id: int, now: float, lease: float) -> bool:
        message = self._s.outbox[message_id - 1]
        if message.sent_at is not None or (
            message.claimed_at is not None and message.claimed_at > now - lease
        ):
            return False
        self._replace(message_id, claimed_at=now)
        return True

    def mark_sent(self, message_id: int, now: float) -> None:
        old = self._s.outbox[message_id - 1]
        self._replace(message_id, sent_at=now, attempts=old.attempts + 1)

    def mark_failed(self, message_id: int) -> None:
        old = self._s.outbox[message_id - 1]
        self._replace(message_id, attempts=old.attempts + 1, claimed_at=None)

    def list(self, order_id: str | None = None) -> list[OutboxMessage]:
        return [m for m in self._s.outbox if order_id is None or m.order_id == order_id]


class _Traces:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def record(self, event: TraceEvent) -> None:
        if self._s.tracing:
            # Sorted by time: the simulator may record a message "sent" earlier than the
            # last one when a process resumes out of band.
            bisect.insort(self._s.traces, event, key=lambda e: e.at)

    def list(self, correlation_id: str | None = None) -> list[TraceEvent]:
        traces = self._s.traces
        return [e for e in traces if correlation_id in (None, e.correlation_id)]


class InMemoryUnitOfWork:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self._journal = _Journal()
        # Typed as the ports, so that this class satisfies the UnitOfWork protocol.
        self.catalog: CatalogRepository = _Catalog(self.store, self._journal)
        self.accounts: AccountRepository = _Accounts(self.store, self._journal)
        self.stock: StockRepository = _Stock(self.store, self._journal)
        self.carts: CartRepository = _Carts(self.store, self._journal)
        self.orders: OrderRepository = _Orders(self.store, self._journal)
        self.payment_events: PaymentEventLog = _PaymentEvents(self.store, self._journal)
        self.outbox: Outbox = _Outbox(self.store, self._journal)
        self.traces: TraceLog = _Traces(self.store, self._journal)
        self.committed = False

    def __enter__(self) -> InMemoryUnitOfWork:
        self._journal.undo.clear()
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._journal.undo.clear()
        self.committed = True

    def rollback(self) -> None:
        undo = self._journal.undo
        while undo:
            restore, *args = undo.pop()
            restore(*args)

    def reset(self) -> None:
        fresh = MemoryStore(tracing=self.store.tracing)
        for name in fresh.__dataclass_fields__:
            setattr(self.store, name, getattr(fresh, name))
        self._journal.undo.clear()

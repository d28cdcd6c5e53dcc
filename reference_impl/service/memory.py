"""In-memory storage: the simulator's storage and the unit tests' fake unit of work.

Reads return copies, so that a handler that fails half-way leaves the store as it was;
writes are journalled, and ``rollback`` undoes them in reverse order.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.inventory import StockLevel, StockMove, apply_all
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.settlement import next_wakeup
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


def _copy_order(order: Order) -> Order:
    return replace(order, history=list(order.history))


def _copy_cart(cart: Cart) -> Cart:
    return replace(cart, lines=dict(cart.lines))


def _copy_level(level: StockLevel) -> StockLevel:
    return StockLevel(
        level.variant_id, level.location_id, level.on_hand, level.reserved, level.sold,
        level.received,
    )


class _Journal:
    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []

    def setitem(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        if key in mapping:
            old = mapping[key]
            self.undo.append(lambda: mapping.__setitem__(key, old))
        else:
            self.undo.append(lambda: mapping.pop(key, None))
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
        keys = {(m.variant_id, m.location_id) for m in moves}
        before = {k: _copy_level(self._s.stock[k]) for k in keys if k in self._s.stock}
        apply_all(self._s.stock, moves)
        stock = self._s.stock
        for key, old in before.items():
            self._j.undo.append(functools.partial(stock.__setitem__, key, old))


class _Carts:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get(self, cart_id: str) -> Cart | None:
        cart = self._s.carts.get(cart_id)
        return _copy_cart(cart) if cart else None

    def add(self, cart: Cart) -> None:
        self._j.setitem(self._s.carts, cart.cart_id, _copy_cart(cart))

    save = add


class _Orders:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def get(self, order_id: str) -> Order | None:
        order = self._s.orders.get(order_id)
        return _copy_order(order) if order else None

    def add(self, order: Order) -> None:
        if order.idempotency_key:
            key = (order.owner_id, order.idempotency_key)
            if key in self._s.idempotency:
                raise DuplicateIdempotencyKey(order.idempotency_key)
            self._j.setitem(self._s.idempotency, key, order.order_id)
        self._j.setitem(self._s.orders, order.order_id, _copy_order(order))

    def save(self, order: Order) -> None:
        current = self._s.orders.get(order.order_id)
        if current is None or current.version != order.version:
            raise ConcurrentUpdate(order.order_id)
        order.version += 1
        self._j.setitem(self._s.orders, order.order_id, _copy_order(order))

    def find_by_idempotency_key(self, owner_id: str, key: str) -> Order | None:
        order_id = self._s.idempotency.get((owner_id, key))
        return self.get(order_id) if order_id else None

    def due_for_expiry(self, now: float, limit: int) -> list[Order]:
        due = [
            o for o in self._s.orders.values()
            if o.is_pending and o.expires_at is not None and o.expires_at <= now
        ]
        due.sort(key=lambda o: (o.expires_at or 0.0, o.order_id))
        return [_copy_order(o) for o in due[:limit]]

    def next_expiry(self) -> float | None:
        return next_wakeup([o.expires_at for o in self._s.orders.values() if o.is_pending])

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


class _Outbox:
    def __init__(self, store: MemoryStore, journal: _Journal) -> None:
        self._s, self._j = store, journal

    def add(self, kind: str, order_id: str, payload: dict[str, Any], now: float) -> None:
        outbox = self._s.outbox
        outbox.append(OutboxMessage(len(outbox) + 1, kind, order_id, payload, now))
        self._j.undo.append(lambda: outbox.__delitem__(-1))

    def pending(self, kind: str, limit: int) -> list[OutboxMessage]:
        return [m for m in self._s.outbox if m.sent_at is None and m.kind == kind][:limit]

    def _replace(self, message_id: int, **changes: Any) -> None:
        index = message_id - 1
        old = self._s.outbox[index]
        self._s.outbox[index] = replace(old, **changes)
        self._j.undo.append(lambda: self._s.outbox.__setitem__(index, old))

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
        while self._journal.undo:
            self._journal.undo.pop()()

    def reset(self) -> None:
        fresh = MemoryStore(tracing=self.store.tracing)
        for name in fresh.__dataclass_fields__:
            setattr(self.store, name, getattr(fresh, name))
        self._journal.undo.clear()

"""The simulator's storage: the service layer's ``InMemoryUnitOfWork``, set up from a scenario.

One addition: an index of order expiry times. The in-memory store answers "which orders are
due" and "when next" by scanning every order, which is quadratic over a run with many
orders; the index answers both from a heap, so the expiry worker can call the service's
``expire_due`` and ``next_wakeup`` unchanged, as the server's worker does.
"""

from __future__ import annotations

import heapq
from typing import Any

from reference_impl.domain.catalog import Account
from reference_impl.domain.order import Order
from reference_impl.service import admin
from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from scenarios.catalog_setup import account_email, shop_setup
from scenarios.schema import Scenario
from sim.streams import BufferedRandom


class ExpiryIndexedOrders:
    """The store's order repository, with a heap of ``(expires_at, order_id)`` beside it.

    Entries go stale when an order is paid or cancelled; they are dropped when they reach
    the top. Every other method is the wrapped repository's own.
    """

    def __init__(self, inner: Any, store: MemoryStore) -> None:
        self._inner = inner
        self._store = store
        self._heap: list[tuple[float, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add(self, order: Order) -> None:
        self._inner.add(order)
        if order.expires_at is not None:
            heapq.heappush(self._heap, (order.expires_at, order.order_id))

    def _drop_stale(self) -> None:
        heap, orders = self._heap, self._store.orders
        while heap:
            expires_at, order_id = heap[0]
            order = orders.get(order_id)
            if order is not None and order.is_pending and order.expires_at == expires_at:
                return
            heapq.heappop(heap)

    def due_for_expiry(self, now: float, limit: int) -> list[Order]:
        due: list[Order] = []
        self._drop_stale()
        while self._heap and self._heap[0][0] <= now and len(due) < limit:
            _, order_id = heapq.heappop(self._heap)
            order = self._inner.get(order_id)
            if order is not None and order.is_pending:
                due.append(order)
            self._drop_stale()
        return due

    def next_expiry(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None


def sim_unit_of_work(scenario: Scenario, accounts_rng: BufferedRandom) -> InMemoryUnitOfWork:
    """An in-memory shop holding the scenario's catalog, stock and buyer accounts."""
    # The trace goes to the simulator's own recorder, never into the store.
    store = MemoryStore(tracing=False)
    uow = InMemoryUnitOfWork(store)
    uow.orders = ExpiryIndexedOrders(uow.orders, store)
    setup = shop_setup(scenario)
    admin.load_catalog(uow, products=setup.products, locations=setup.locations)
    accounts = list(setup.accounts)
    if scenario.profile.policies.check_account:
        # Accounts are read only by the seed-000 account check; without it, building
        # thousands of them per replication would be wasted work.
        inactive = scenario.buyers.inactive_share
        accounts += [
            Account(user_id, account_email(user_id), accounts_rng.random() >= inactive)
            for user_id in (buyer_account(i) for i in range(scenario.buyers.population))
        ]
    admin.load_accounts(uow, accounts)
    admin.receive_stock(uow, setup.stock)
    return uow


def buyer_account(index: int) -> str:
    return f"b{index}"

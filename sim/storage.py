"""The simulator's storage: the service layer's ``InMemoryUnitOfWork``, set up from a scenario.

The expiry worker calls the service's ``expire_due`` and ``next_wakeup`` unchanged, as the
server's worker does; the in-memory store answers both from its expiry heap.
"""

from __future__ import annotations

from reference_impl.domain.catalog import Account
from reference_impl.service import admin
from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from scenarios.catalog_setup import account_email, shop_setup
from scenarios.schema import Scenario
from sim.streams import BufferedRandom


def sim_unit_of_work(scenario: Scenario, accounts_rng: BufferedRandom) -> InMemoryUnitOfWork:
    """An in-memory shop holding the scenario's catalog, stock and buyer accounts."""
    # The trace goes to the simulator's own recorder, never into the store.
    store = MemoryStore(tracing=False)
    uow = InMemoryUnitOfWork(store)
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

"""A scenario's catalog, accounts and stock as domain objects.

One translation, used wherever a shop is set up from a scenario: ``purchaseflow serve
--scenario FILE --load-catalog``, the simulator's in-memory store, and the harness
adapters that load a SUT through its admin API.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.money import Money
from scenarios.schema import Scenario


@dataclass(frozen=True, slots=True)
class ShopSetup:
    locations: tuple[Location, ...]
    products: tuple[Product, ...]
    accounts: tuple[Account, ...]
    #: ``(variant_id, location_id, quantity)`` received into stock.
    stock: tuple[tuple[str, str, int], ...]


def account_email(user_id: str) -> str:
    return f"{user_id}@buyer.test"


def shop_setup(scenario: Scenario) -> ShopSetup:
    catalog = scenario.catalog
    currency = scenario.profile.policies.currency
    return ShopSetup(
        locations=tuple(Location(loc.id, loc.name or loc.id) for loc in catalog.locations),
        products=tuple(
            Product(
                product_id=product.id,
                name=product.name,
                description="",
                variants=tuple(
                    Variant(
                        variant_id=v.id,
                        product_id=product.id,
                        sku=v.sku or v.id,
                        name=v.name or v.id,
                        price=Money(v.price, v.currency or currency),
                        deliverable=v.deliverable,
                    )
                    for v in product.variants
                ),
            )
            for product in catalog.products
        ),
        accounts=tuple(Account(u.id, account_email(u.id), u.active) for u in catalog.users),
        stock=tuple((s.variant, s.location, s.quantity) for s in catalog.stock),
    )

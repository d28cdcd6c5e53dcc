"""Catalog and accounts: what a buyer can browse (seed 003) and who may buy (seed 000)."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.domain.money import Money


@dataclass(frozen=True, slots=True)
class Variant:
    """A sellable unit. Seed 002 orders variants, not products, and may mark them undeliverable."""

    variant_id: str
    product_id: str
    sku: str
    name: str
    price: Money
    deliverable: bool = True


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    description: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True, slots=True)
class Location:
    """A stock location (seed 002: inventory is counted per location)."""

    location_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Account:
    """A buyer account. Seed 000: Account Management must "fetch if active" before checkout."""

    user_id: str
    email: str
    active: bool = True
    shop_id: str = "default"

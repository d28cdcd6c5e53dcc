"""Catalog (products, variants, locations) and accounts: read on every request, written by admin."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

from sqlalchemy import Row, func, select, update

from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.money import Money
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, upsert


def _variant_columns() -> tuple[Any, ...]:
    v = t.variants
    return (
        v.c.variant_id,
        v.c.product_id.label("variant_product_id"),
        v.c.sku,
        v.c.name.label("variant_name"),
        v.c.price_amount,
        v.c.price_currency,
        v.c.deliverable,
    )


def _variant(row: Row[Any]) -> Variant:
    return Variant(
        variant_id=row.variant_id,
        product_id=row.variant_product_id,
        sku=row.sku,
        name=row.variant_name,
        price=Money(row.price_amount, row.price_currency),
        deliverable=bool(row.deliverable),
    )


def _products_from_rows(rows: Iterable[Row[Any]]) -> list[Product]:
    """Fold ``products LEFT JOIN variants`` rows (ordered by product, position) into products."""
    products = []
    for _, group in groupby(rows, key=lambda row: row.product_id):
        members = list(group)
        head = members[0]
        variants = tuple(_variant(r) for r in members if r.variant_id is not None)
        products.append(Product(head.product_id, head.name, head.description, variants))
    return products


class SqlCatalog:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def get_variant(self, variant_id: str) -> Variant | None:
        row = self._slot.conn.execute(
            select(*_variant_columns()).where(t.variants.c.variant_id == variant_id)
        ).first()
        return _variant(row) if row else None

    def _products_query(self, products: Any) -> Any:
        v = t.variants
        return (
            select(
                products.c.product_id,
                products.c.name,
                products.c.description,
                *_variant_columns(),
            )
            .select_from(
                products.outerjoin(
                    v,
                    (v.c.product_id == products.c.product_id) & v.c.position.is_not(None),
                )
            )
            .order_by(products.c.product_id, v.c.position)
        )

    def get_product(self, product_id: str) -> Product | None:
        query = self._products_query(t.products).where(t.products.c.product_id == product_id)
        products = _products_from_rows(self._slot.conn.execute(query).all())
        return products[0] if products else None

    def list_products(self, offset: int, limit: int) -> tuple[list[Product], int]:
        conn = self._slot.conn
        total = conn.execute(select(func.count()).select_from(t.products)).scalar_one()
        page = (
            select(t.products)
            .order_by(t.products.c.product_id)
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        return _products_from_rows(conn.execute(self._products_query(page)).all()), total

    def get_location(self, location_id: str) -> Location | None:
        row = self._slot.conn.execute(
            select(t.locations).where(t.locations.c.location_id == location_id)
        ).first()
        return Location(row.location_id, row.name) if row else None

    def list_locations(self) -> list[Location]:
        rows = self._slot.conn.execute(select(t.locations).order_by(t.locations.c.location_id))
        return [Location(r.location_id, r.name) for r in rows]

    def upsert_products(self, products: Iterable[Product]) -> None:
        products = list(products)
        if not products:
            return
        upsert(
            self._slot.conn,
            t.products,
            [
                {"product_id": p.product_id, "name": p.name, "description": p.description}
                for p in products
            ],
        )
        # A product's variant list is replaced as a whole; variants left out stay readable
        # by id (the in-memory store keeps them too) but no longer belong to the list.
        self._slot.conn.execute(
            update(t.variants)
            .where(t.variants.c.product_id.in_([p.product_id for p in products]))
            .values(position=None)
        )
        upsert(
            self._slot.conn,
            t.variants,
            [
                {
                    "variant_id": v.variant_id,
                    "product_id": p.product_id,
                    "position": position,
                    "sku": v.sku,
                    "name": v.name,
                    "price_amount": v.price.amount,
                    "price_currency": v.price.currency,
                    "deliverable": v.deliverable,
                }
                for p in products
                for position, v in enumerate(p.variants)
            ],
        )

    def upsert_locations(self, locations: Iterable[Location]) -> None:
        upsert(
            self._slot.conn,
            t.locations,
            [{"location_id": loc.location_id, "name": loc.name} for loc in locations],
        )


class SqlAccounts:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def get(self, user_id: str) -> Account | None:
        row = self._slot.conn.execute(
            select(t.accounts).where(t.accounts.c.user_id == user_id)
        ).first()
        if row is None:
            return None
        return Account(row.user_id, row.email, bool(row.active), row.shop_id)

    def upsert(self, accounts: Iterable[Account]) -> None:
        upsert(
            self._slot.conn,
            t.accounts,
            [
                {"user_id": a.user_id, "email": a.email, "active": a.active, "shop_id": a.shop_id}
                for a in accounts
            ],
        )

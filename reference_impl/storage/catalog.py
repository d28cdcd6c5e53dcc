"""Catalog (products, variants, locations) and accounts: read on every request, written by admin."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import Row, Select, Update, bindparam, func, select, update

from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.money import Money
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ACCOUNT, NOT_READ, VARIANT, ConnectionSlot, upsert
from reference_impl.storage.driver import execute


def variant_columns() -> tuple[Any, ...]:
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


def variant_from(row: Row[Any]) -> Variant:
    return Variant(
        variant_id=row.variant_id,
        product_id=row.variant_product_id,
        sku=row.sku,
        name=row.variant_name,
        price=Money(row.price_amount, row.price_currency),
        deliverable=bool(row.deliverable),
    )


def _products_with_variants(products: Any) -> Select[Any]:
    """``products`` (a table or a page of it) joined with its listed variants, in order."""
    v = t.variants
    return (
        select(products.c.product_id, products.c.name, products.c.description,
               *variant_columns())
        .select_from(
            products.outerjoin(
                v, (v.c.product_id == products.c.product_id) & v.c.position.is_not(None)
            )
        )
        .order_by(products.c.product_id, v.c.position)
    )


def _products_from_rows(rows: Iterable[Row[Any]]) -> list[Product]:
    """Fold ``products LEFT JOIN variants`` rows (ordered by product, position) into products."""
    products = []
    for _, group in groupby(rows, key=lambda row: row.product_id):
        members = list(group)
        head = members[0]
        variants = tuple(variant_from(r) for r in members if r.variant_id is not None)
        products.append(Product(head.product_id, head.name, head.description, variants))
    return products


def account_from(row: Row[Any]) -> Account:
    return Account(row.user_id, row.email, bool(row.active), row.shop_id)


@cache
def _variant_by_id() -> Select[Any]:
    return select(*variant_columns()).where(t.variants.c.variant_id == bindparam("variant_id"))


@cache
def _product_by_id() -> Select[Any]:
    return _products_with_variants(t.products).where(
        t.products.c.product_id == bindparam("product_id")
    )


@cache
def _product_page() -> Select[Any]:
    page = (
        select(t.products)
        .order_by(t.products.c.product_id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery()
    )
    return _products_with_variants(page)


@cache
def _product_count() -> Select[Any]:
    # Labelled: an unnamed column has no row attribute, which sends the statement down
    # SQLAlchemy's slow path (driver.py) on every page of the catalog.
    return select(func.count().label("products")).select_from(t.products)


@cache
def _location_by_id() -> Select[Any]:
    return select(t.locations).where(t.locations.c.location_id == bindparam("location_id"))


@cache
def _locations() -> Select[Any]:
    return select(t.locations).order_by(t.locations.c.location_id)


@cache
def _unlist_variants() -> Update:
    # A product's variant list is replaced as a whole; variants left out stay readable by
    # id (the in-memory store keeps them too) but no longer belong to the list.
    return (
        update(t.variants)
        .where(t.variants.c.product_id.in_(bindparam("product_ids", expanding=True)))
        .values(position=None)
    )


@cache
def _account_by_id() -> Select[Any]:
    return select(t.accounts).where(t.accounts.c.user_id == bindparam("user_id"))


class SqlCatalog:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def get_variant(self, variant_id: str) -> Variant | None:
        known = self._slot.ahead.get((VARIANT, variant_id), NOT_READ)
        if known is not NOT_READ:
            return known  # type: ignore[no-any-return]  # a Variant or None, immutable
        row = execute(self._slot.conn, _variant_by_id(), {"variant_id": variant_id}).first()
        return variant_from(row) if row else None

    def get_product(self, product_id: str) -> Product | None:
        rows = execute(self._slot.conn, _product_by_id(), {"product_id": product_id})
        products = _products_from_rows(rows)
        return products[0] if products else None

    def list_products(self, offset: int, limit: int) -> tuple[list[Product], int]:
        conn = self._slot.conn
        total: int = execute(conn, _product_count()).scalar_one()
        rows = execute(conn, _product_page(), {"offset": offset, "limit": limit})
        return _products_from_rows(rows), total

    def get_location(self, location_id: str) -> Location | None:
        row = execute(self._slot.conn, _location_by_id(), {"location_id": location_id}).first()
        return Location(row.location_id, row.name) if row else None

    def list_locations(self) -> list[Location]:
        return [Location(r.location_id, r.name) for r in execute(self._slot.conn, _locations())]

    def upsert_products(self, products: Iterable[Product]) -> None:
        products = list(products)
        if not products:
            return
        conn = self._slot.conn
        self._slot.drop_ahead(VARIANT)
        upsert(
            conn,
            t.products,
            [
                {"product_id": p.product_id, "name": p.name, "description": p.description}
                for p in products
            ],
        )
        execute(conn, _unlist_variants(), {"product_ids": [p.product_id for p in products]})
        upsert(
            conn,
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
        known = self._slot.ahead.get((ACCOUNT, user_id), NOT_READ)
        if known is not NOT_READ:
            return known  # type: ignore[no-any-return]  # an Account or None, immutable
        row = execute(self._slot.conn, _account_by_id(), {"user_id": user_id}).first()
        return account_from(row) if row is not None else None

    def upsert(self, accounts: Iterable[Account]) -> None:
        self._slot.drop_ahead(ACCOUNT)
        upsert(
            self._slot.conn,
            t.accounts,
            [
                {"user_id": a.user_id, "email": a.email, "active": a.active, "shop_id": a.shop_id}
                for a in accounts
            ],
        )

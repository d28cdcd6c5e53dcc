"""Harness-only administration: load catalog, accounts and stock; reset."""

from __future__ import annotations

from collections.abc import Iterable

from reference_impl.domain.catalog import Account, Location, Product
from reference_impl.domain.errors import UnknownVariant, ValidationFailed
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.service.ports import UnitOfWork


def load_catalog(
    uow: UnitOfWork, *, products: Iterable[Product], locations: Iterable[Location]
) -> None:
    with uow:
        uow.catalog.upsert_locations(locations)
        uow.catalog.upsert_products(products)
        uow.commit()


def load_accounts(uow: UnitOfWork, accounts: Iterable[Account]) -> None:
    with uow:
        uow.accounts.upsert(accounts)
        uow.commit()


def receive_stock(uow: UnitOfWork, entries: Iterable[tuple[str, str, int]]) -> None:
    """Goods in: each ``(variant, location, quantity)`` adds to on_hand and to received."""
    with uow:
        moves = []
        for variant_id, location_id, quantity in entries:
            # Checked in the same unit as the moves: stock of nothing is refused, whole.
            if uow.catalog.get_variant(variant_id) is None:
                raise UnknownVariant(f"variant {variant_id} does not exist")
            if uow.catalog.get_location(location_id) is None:
                raise ValidationFailed(f"location {location_id} does not exist")
            uow.stock.ensure(variant_id, location_id)
            if quantity:
                moves.append(StockMove(MoveKind.RECEIVE, variant_id, location_id, quantity))
        uow.stock.apply(moves)
        uow.commit()


def reset(uow: UnitOfWork) -> None:
    with uow:
        uow.reset()
        uow.commit()

"""Read-ahead: a cart's read brings the rows that checkout and adding to a cart read next.

``SqlCarts.get`` joins each line's variant and stock level and the owner's account into
its one statement (``ConnectionSlot.ahead``). These tests hold it to two promises: the
reads it saves send no statement, and it never answers with a row older than a write of
the same unit, nor with anything from an earlier unit. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from reference_impl.domain.cart import Cart, CartLine
from reference_impl.domain.catalog import Account, Product, Variant
from reference_impl.domain.inventory import MoveKind, StockLevel, StockMove
from reference_impl.domain.money import Money
from reference_impl.storage import SqlUnitOfWork, carts, catalog, driver, stock

EUR = "EUR"


def mug(price: int = 1250) -> Product:
    return Product("p", "Mug", "", (Variant("mug", "p", "SKU-MUG", "Mug", Money(price, EUR)),))


@pytest.fixture
def shop(sql_engine: Engine) -> Engine:
    """A mug with 5 on hand at L1, alice's account, and her cart holding 2 mugs and a line
    of a variant that the catalog does not have (at a location without stock)."""
    with SqlUnitOfWork(sql_engine) as uow:
        uow.catalog.upsert_products([mug()])
        uow.accounts.upsert([Account("alice", "a@example.com")])
        uow.stock.ensure("mug", "L1")
        uow.stock.apply([StockMove(MoveKind.RECEIVE, "mug", "L1", 5)])
        cart = Cart("c1", "alice", 1.0, updated_at=1.0)
        cart.lines["mug"] = CartLine("mug", "L1", 2, Money(1250, EUR))
        cart.lines["gone"] = CartLine("gone", "L9", 1, Money(500, EUR))
        uow.carts.add(cart)
        uow.commit()
    return sql_engine


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL that the cart, catalog and stock repositories send, in order."""
    sent: list[str] = []
    for module in (carts, catalog, stock):
        real = driver.execute

        def recording(conn: Any, statement: Any, params: Any = None, *, _real: Any = real) -> Any:
            sent.append(str(statement).split()[0])
            return _real(conn, statement, params)

        monkeypatch.setattr(module, "execute", recording)
    yield sent


def test_checkouts_reads_after_the_cart_send_no_statement(
    shop: Engine, statements: list[str]
) -> None:
    with SqlUnitOfWork(shop) as uow:
        cart = uow.carts.get("c1")
        assert cart is not None and list(cart.lines) == ["mug", "gone"]
        assert statements == ["SELECT"]
        assert uow.accounts.get("alice") == Account("alice", "a@example.com")
        assert uow.catalog.get_variant("mug") == mug().variants[0]
        assert uow.stock.get("mug", "L1") == StockLevel("mug", "L1", 5, 0, 0, 5)
        # Rows the join found absent are known to be absent, not read again.
        assert uow.catalog.get_variant("gone") is None
        assert uow.stock.get("gone", "L9") is None
        assert statements == ["SELECT"]
        # What the cart's row did not bring is read as before.
        assert uow.accounts.get("bob") is None
        assert uow.stock.get("mug", "L2") is None
        assert len(statements) == 3


def test_the_joined_read_takes_the_drivers_fast_path(sql_engine: Engine) -> None:
    """Not SQLAlchemy's execution layer, which would cost more than the reads it saves (it
    takes only statements whose result names are unique)."""
    prepared = driver._prepare(carts._cart_with_lines(), sql_engine.dialect, ("cart_id",))
    assert prepared is not None


def test_a_level_read_ahead_is_handed_out_once(shop: Engine, statements: list[str]) -> None:
    """A level is mutable: a caller that changes the one it got does not change the next."""
    with SqlUnitOfWork(shop) as uow:
        uow.carts.get("c1")
        first = uow.stock.get("mug", "L1")
        assert first is not None
        first.apply(StockMove(MoveKind.SELL, "mug", "L1", 5))
        assert uow.stock.get("mug", "L1") == StockLevel("mug", "L1", 5, 0, 0, 5)
        assert statements == ["SELECT", "SELECT"]


def test_a_stock_move_drops_the_levels_read_ahead(shop: Engine) -> None:
    with SqlUnitOfWork(shop) as uow:
        uow.carts.get("c1")
        uow.stock.apply([StockMove(MoveKind.SELL, "mug", "L1", 2)])
        assert uow.stock.get("mug", "L1") == StockLevel("mug", "L1", 3, 0, 2, 5)
    with SqlUnitOfWork(shop) as uow:
        uow.carts.get("c1")
        uow.stock.ensure("mug", "L1")
        level = uow.stock.get("mug", "L1")
        assert level is not None and level.on_hand == 5  # the move above was rolled back


def test_writing_the_catalog_or_accounts_drops_what_was_read_ahead(shop: Engine) -> None:
    with SqlUnitOfWork(shop) as uow:
        uow.carts.get("c1")
        uow.catalog.upsert_products([mug(price=990)])
        uow.accounts.upsert([Account("alice", "new@example.com", active=False)])
        variant = uow.catalog.get_variant("mug")
        assert variant is not None and variant.price == Money(990, EUR)
        assert uow.accounts.get("alice") == Account("alice", "new@example.com", active=False)


def test_nothing_read_ahead_outlives_its_unit(shop: Engine) -> None:
    """Another unit's commit between two units of the same object is seen by the second."""
    uow = SqlUnitOfWork(shop)
    with uow:
        uow.carts.get("c1")
    with SqlUnitOfWork(shop) as other:
        other.stock.apply([StockMove(MoveKind.SELL, "mug", "L1", 4)])
        other.accounts.upsert([Account("alice", "moved@example.com")])
        other.commit()
    with uow:
        level = uow.stock.get("mug", "L1")
        account = uow.accounts.get("alice")
    assert level is not None and level.on_hand == 1
    assert account is not None and account.email == "moved@example.com"


def test_a_rollback_drops_what_was_read_ahead(shop: Engine, statements: list[str]) -> None:
    with SqlUnitOfWork(shop) as uow:
        uow.carts.get("c1")
        uow.rollback()
        assert uow.accounts.get("alice") is not None
        assert uow.catalog.get_variant("mug") is not None
        assert statements == ["SELECT", "SELECT", "SELECT"]  # both read again

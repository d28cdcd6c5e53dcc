"""Browse and view (seed 003: Get Products, Get Product; seed 000: Product detail)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from reference_impl.domain.catalog import Product
from reference_impl.domain.errors import NotFound
from reference_impl.domain.inventory import StockLevel
from reference_impl.domain.trace import Actor, Msg
from reference_impl.http.deps import RuntimeDep
from reference_impl.http.problems import responses
from reference_impl.http.schemas import Id, ProductOut, ProductPage, variant_out
from reference_impl.service.ports import UnitOfWork

router = APIRouter(tags=["catalog"])

#: Browsing happens before any cart exists; a client may name its session so that the
#: browse steps of seed 003 join the rest of its trace.
CorrelationHeader = Annotated[str | None, Header(alias="X-Correlation-Id", max_length=64)]


def _product_out(product: Product, levels: dict[str, list[StockLevel]]) -> ProductOut:
    return ProductOut(
        product_id=product.product_id,
        name=product.name,
        description=product.description,
        variants=[variant_out(v, levels.get(v.variant_id, [])) for v in product.variants],
    )


def _levels_by_variant(levels: list[StockLevel]) -> dict[str, list[StockLevel]]:
    grouped: dict[str, list[StockLevel]] = {}
    for level in levels:
        grouped.setdefault(level.variant_id, []).append(level)
    return grouped


@router.get("/products", response_model=ProductPage, responses=responses(422))
def list_products(
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    correlation_id: CorrelationHeader = None,
) -> ProductPage:
    trace = runtime.trace(runtime.clock()).bind(correlation_id or "catalog")
    trace.send(Actor.BUYER, Actor.CATALOG, Msg.LIST_PRODUCTS)

    def read(uow: UnitOfWork) -> tuple[list[Product], int, dict[str, list[StockLevel]]]:
        products, total = uow.catalog.list_products(offset, limit)
        levels = _levels_by_variant(uow.stock.list())
        trace.reply(Actor.CATALOG, Actor.BUYER, Msg.LIST_PRODUCTS)
        return products, total, levels

    products, total, levels = runtime.read(read, trace)
    return ProductPage(
        items=[_product_out(p, levels) for p in products], total=total, offset=offset,
        limit=limit,
    )


@router.get("/products/{product_id}", response_model=ProductOut, responses=responses(404, 422))
def view_product(
    runtime: RuntimeDep, product_id: Id, correlation_id: CorrelationHeader = None
) -> ProductOut:
    trace = runtime.trace(runtime.clock()).bind(correlation_id or "catalog")
    trace.send(Actor.BUYER, Actor.CATALOG, Msg.VIEW_PRODUCT)

    def read(uow: UnitOfWork) -> tuple[Product, dict[str, list[StockLevel]]]:
        product = uow.catalog.get_product(product_id)
        if product is None:
            raise NotFound(f"product {product_id} not found")
        levels = _levels_by_variant(
            [lvl for v in product.variants for lvl in uow.stock.list(v.variant_id)]
        )
        trace.reply(Actor.CATALOG, Actor.BUYER, Msg.VIEW_PRODUCT)
        return product, levels

    product, levels = runtime.read(read, trace)
    return _product_out(product, levels)

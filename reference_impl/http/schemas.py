"""Request and response bodies of the canonical HTTP contract (DESIGN.md section 3).

These models are the OpenAPI document: every field a SUT must speak is declared here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from reference_impl.domain.cart import MAX_LINE_QUANTITY, Cart
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.inventory import StockLevel
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus


def _integral(value: Any) -> Any:
    """JSON Schema counts ``2.0`` as an integer, so a schema-valid client may send it; take it
    as 2, while still refusing 2.5, "2" and true (strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A boolean as JSON Schema reads "boolean": 0 and "false" are not booleans.
Boolean = Annotated[bool, Field(strict=True)]

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Field before the validator: the other way round pydantic writes the bounds into the JSON
# Schema as "ge"/"le" instead of "minimum"/"maximum".
Quantity = Annotated[
    int, Field(ge=1, le=MAX_LINE_QUANTITY, strict=True), BeforeValidator(_integral)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyBody(Strict):
    amount: Annotated[int, Field(ge=0, le=10**12, strict=True), BeforeValidator(_integral)] = Field(
        description="Integer amount in minor units (cents)"
    )
    currency: Currency

    @classmethod
    def of(cls, money: Money) -> MoneyBody:
        return cls(amount=money.amount, currency=money.currency)

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


def iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


# --- catalog -----------------------------------------------------------------------------


class Availability(BaseModel):
    location_id: str
    available: int


class VariantOut(BaseModel):
    variant_id: str
    product_id: str
    sku: str
    name: str
    price: MoneyBody
    deliverable: bool
    availability: list[Availability]


class ProductOut(BaseModel):
    product_id: str
    name: str
    description: str
    variants: list[VariantOut]


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    offset: int
    limit: int


def variant_out(variant: Variant, levels: list[StockLevel]) -> VariantOut:
    return VariantOut(
        variant_id=variant.variant_id,
        product_id=variant.product_id,
        sku=variant.sku,
        name=variant.name,
        price=MoneyBody.of(variant.price),
        deliverable=variant.deliverable,
        availability=[Availability(location_id=s.location_id, available=s.on_hand) for s in levels],
    )


# --- carts -------------------------------------------------------------------------------


class CartLineIn(Strict):
    quantity: Quantity
    location_id: Id


class CartLineOut(BaseModel):
    variant_id: str
    location_id: str
    quantity: int
    unit_price: MoneyBody
    subtotal: MoneyBody


class CartOut(BaseModel):
    cart_id: str
    owner_id: str | None
    lines: list[CartLineOut]
    created_at: datetime
    updated_at: datetime


def cart_out(cart: Cart) -> CartOut:
    return CartOut(
        cart_id=cart.cart_id,
        owner_id=cart.owner_id,
        lines=[
            CartLineOut(
                variant_id=ln.variant_id,
                location_id=ln.location_id,
                quantity=ln.quantity,
                unit_price=MoneyBody.of(ln.unit_price),
                subtotal=MoneyBody.of(ln.unit_price.times(ln.quantity)),
            )
            for ln in cart.lines.values()
        ],
        created_at=iso(cart.created_at),
        updated_at=iso(cart.updated_at or cart.created_at),
    )


# --- orders ------------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Shipping(Strict):
    name: Text
    address: Text
    city: Text
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class OrderIn(Strict):
    cart_id: Id
    shipping: Shipping
    expected_total: MoneyBody | None = Field(
        default=None, description="Seed 001: refuse with price_changed if the total differs"
    )
    payment_method: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="For synchronous-payment profiles (seeds 002, 003)"
    )


class StatusChangeOut(BaseModel):
    status: OrderStatus
    label: str = Field(description="The profile's own word for this status")
    at: datetime
    reason: str


class OrderLineOut(BaseModel):
    variant_id: str
    location_id: str
    quantity: int
    unit_price: MoneyBody
    subtotal: MoneyBody


class PaymentOut(BaseModel):
    session_id: str | None
    url: str | None


class OrderOut(BaseModel):
    order_id: str
    cart_id: str
    owner_id: str
    status: OrderStatus
    status_label: str = Field(description="The profile's own word for the status")
    history: list[StatusChangeOut]
    lines: list[OrderLineOut]
    total: MoneyBody
    payment: PaymentOut
    created_at: datetime
    expires_at: datetime | None


def order_out(order: Order, labels: dict[str, str]) -> OrderOut:
    return OrderOut(
        order_id=order.order_id,
        cart_id=order.cart_id,
        owner_id=order.owner_id,
        status=order.status,
        status_label=labels.get(order.status.value, order.status.value),
        history=[
            StatusChangeOut(
                status=h.status, label=labels.get(h.status.value, h.status.value),
                at=iso(h.at), reason=h.reason,
            )
            for h in order.history
        ],
        lines=[
            OrderLineOut(
                variant_id=ln.variant_id,
                location_id=ln.location_id,
                quantity=ln.quantity,
                unit_price=MoneyBody.of(ln.unit_price),
                subtotal=MoneyBody.of(ln.subtotal),
            )
            for ln in order.lines
        ],
        total=MoneyBody.of(order.total),
        payment=PaymentOut(session_id=order.payment_session_id, url=order.payment_url),
        created_at=iso(order.created_at),
        expires_at=iso(order.expires_at) if order.expires_at else None,
    )


class WebhookAck(BaseModel):
    received: bool = True
    verdict: str = Field(description="What the event did: paid, duplicate, stale, ...")


# --- admin -------------------------------------------------------------------------------


class VariantIn(Strict):
    variant_id: Id
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Text
    price: MoneyBody
    deliverable: Boolean = True


class ProductIn(Strict):
    product_id: Id
    name: Text
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    variants: list[VariantIn] = Field(min_length=1)

    def to_domain(self) -> Product:
        return Product(
            product_id=self.product_id,
            name=self.name,
            description=self.description,
            variants=tuple(
                Variant(v.variant_id, self.product_id, v.sku, v.name, v.price.to_money(),
                        v.deliverable)
                for v in self.variants
            ),
        )


class LocationIn(Strict):
    location_id: Id
    name: Text

    def to_domain(self) -> Location:
        return Location(self.location_id, self.name)


class CatalogIn(Strict):
    locations: list[LocationIn] = Field(min_length=1)
    products: list[ProductIn]


class AccountIn(Strict):
    user_id: Id
    # \s differs between JSON Schema's regex dialect (ECMA-262) and the server's: U+0085 is
    # whitespace only to the server, U+FEFF only to ECMA-262; naming both makes them agree.
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s\u0085\ufeff]+@[^@\s\u0085\ufeff]+$",
                                            max_length=200)]
    active: Boolean = True

    def to_domain(self) -> Account:
        return Account(self.user_id, self.email, self.active)


class AccountsIn(Strict):
    accounts: list[AccountIn]


class StockEntryIn(Strict):
    variant_id: Id
    location_id: Id
    quantity: Annotated[int, Field(ge=0, le=10**9, strict=True), BeforeValidator(_integral)]


class StockIn(Strict):
    entries: list[StockEntryIn]


class StockOut(BaseModel):
    variant_id: str
    location_id: str
    on_hand: int
    reserved: int
    sold: int
    received: int


class OutboxOut(BaseModel):
    message_id: int
    kind: str
    order_id: str
    payload: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None
    attempts: int


class TraceOut(BaseModel):
    source: str
    target: str
    message: str
    correlation_id: str
    at: float
    kind: str


class TokenIn(Strict):
    user_id: Id
    ttl: Annotated[float, Field(gt=0, le=86400 * 30)] = 3600.0


class TokenOut(BaseModel):
    token: str
    token_type: str = "Bearer"


class OrderSummary(BaseModel):
    order_id: str
    owner_id: str
    #: The cart it was placed from: a load's audit finds two orders of one checkout by it.
    cart_id: str
    status: OrderStatus
    history: list[OrderStatus]
    total: MoneyBody
    lines: list[OrderLineOut]
    expires_at: float | None


class Ok(BaseModel):
    ok: bool = True


class Health(BaseModel):
    status: str = "ok"
    profile: str

"""The actor-to-actor trace (DESIGN.md section 7).

The reference implementation and the simulator both record one ``TraceEvent`` per message
one actor sends another, so that either can be checked against a seed's sequence diagram.
Actor names are the canonical ones below; each seed's mapping file maps its own
participants onto them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Actor(StrEnum):
    BUYER = "Buyer"
    STOREFRONT = "Storefront"  # the shop's HTTP API as a whole, as a black box sees it
    CART = "Cart"
    CATALOG = "Catalog"
    ACCOUNTS = "Accounts"
    ORDERS = "Orders"
    INVENTORY = "Inventory"
    PAYMENTS = "Payments"
    GATEWAY = "Gateway"
    DATABASE = "Database"
    MAIL = "Mail"


class Msg(StrEnum):
    """The canonical message names. Scenario files map each diagram label onto one."""

    # buyer-facing operations (what a black box shows at its boundary)
    LIST_PRODUCTS = "list_products"  # 003: Get Products
    VIEW_PRODUCT = "view_product"  # 003: Get Product
    CREATE_CART = "create_cart"
    ADD_TO_CART = "add_to_cart"  # 000, 002, 003
    REMOVE_FROM_CART = "remove_from_cart"
    VIEW_CART = "view_cart"
    CREATE_ORDER = "create_order"  # 000 Checkout, 001 POST /api/orders, 002 createOrder
    GET_PAYMENT_LINK = "get_payment_link"  # 000: Request checkout session link
    VIEW_ORDER = "view_order"
    COMPLETE_PAYMENT = "complete_payment"  # buyer -> gateway
    # inside the shop
    GET_VARIANT = "get_variant"  # 000: Product ID; 002: getProductVariant
    CHECK_INVENTORY = "check_inventory"  # 002: checkInventory
    GET_CART = "get_cart"  # 000: Request cart details
    CHECK_ACCOUNT = "check_account"  # 000: Request buyer and shop information
    SAVE_ORDER = "save_order"  # 001: Create order with status "Pending Payment"
    SAVE_PAYMENT_SESSION = "save_payment_session"  # 000: Payment Processing "save"s the link
    RESERVE_STOCK = "reserve_stock"
    SELL_STOCK = "sell_stock"  # 000: update stock; 001/002: decrement after payment
    COMMIT_STOCK = "commit_stock"
    RELEASE_STOCK = "release_stock"
    CREATE_CHECKOUT_SESSION = "create_checkout_session"  # 000, 001, 004
    CHARGE = "charge"  # 002: processPayment
    PAYMENT_WEBHOOK = "payment_webhook"  # 001: POST /webhook/payment-status; 004
    UPDATE_ORDER_STATUS = "update_order_status"
    CLEAR_CART = "clear_cart"  # 001
    SEND_CONFIRMATION = "send_confirmation"  # 001: EmailService
    REFUND = "refund"


class MessageKind(StrEnum):
    SYNC = "sync"  # a call that waits for its reply
    ASYNC = "async"  # fire and forget (sequencediagram.org ``->>``)
    REPLY = "reply"  # the answer to a sync call (``-->``)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    source: str
    target: str
    message: str
    correlation_id: str
    at: float
    kind: MessageKind = MessageKind.SYNC

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceEvent:
        return cls(
            source=str(data["source"]),
            target=str(data["target"]),
            message=str(data["message"]),
            correlation_id=str(data["correlation_id"]),
            at=float(data["at"]),
            kind=MessageKind(data.get("kind", "sync")),
        )


class TraceRecorder:
    """Collects trace events in order. Callers pass the time; the recorder has no clock."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def record(
        self,
        source: str,
        target: str,
        message: str,
        correlation_id: str,
        at: float,
        kind: MessageKind = MessageKind.SYNC,
    ) -> None:
        self.events.append(TraceEvent(source, target, message, correlation_id, at, kind))

    def for_correlation(self, correlation_id: str) -> list[TraceEvent]:
        return [e for e in self.events if e.correlation_id == correlation_id]

    def clear(self) -> None:
        self.events.clear()

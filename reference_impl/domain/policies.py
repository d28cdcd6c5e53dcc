"""Profile policies (DESIGN.md section 3). Each seed's scenario file picks its own."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reference_impl.domain.errors import ValidationFailed


class StockCommitPoint(StrEnum):
    AT_ORDER = "at_order"  # seed 000: "update stock" before the checkout session exists
    ON_PAYMENT = "on_payment"  # seeds 001, 002: decrement after payment; may oversell
    RESERVE = "reserve"  # reserve at order, release on failure or after the TTL


class PaymentMode(StrEnum):
    HOSTED_CHECKOUT = "hosted_checkout"  # seeds 000, 001, 004: session link + webhook
    SYNCHRONOUS = "synchronous"  # seeds 002, 003: processPayment answers in the request


class WebhookDialect(StrEnum):
    GENERIC = "generic"  # seed 001: POST /webhook/payment-status {orderId, status}
    STRIPE = "stripe"  # seed 004: checkout.session.completed / async_payment_failed


@dataclass(frozen=True, slots=True)
class Policies:
    stock_commit: StockCommitPoint = StockCommitPoint.RESERVE
    payment_mode: PaymentMode = PaymentMode.HOSTED_CHECKOUT
    webhook_dialect: WebhookDialect = WebhookDialect.GENERIC
    #: Seconds an order may stay ``pending_payment``; at expiry it is cancelled and any
    #: stock it holds is released. Required by ``reserve``; ``None`` means never.
    reservation_ttl: float | None = 900.0
    clear_cart_on_payment: bool = True  # seed 001: "Clear user's cart" after success
    send_confirmation_email: bool = True  # seed 001: EmailService after success
    check_account: bool = True  # seed 000: Account Management "fetch if active"
    webhook_tolerance: float = 300.0  # Stripe's default timestamp tolerance
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if self.stock_commit is StockCommitPoint.RESERVE and not self.reservation_ttl:
            raise ValidationFailed("the reserve policy needs a positive reservation_ttl")
        if self.reservation_ttl is not None and self.reservation_ttl <= 0:
            raise ValidationFailed("reservation_ttl must be positive or None")
        if self.webhook_tolerance <= 0:
            raise ValidationFailed("webhook_tolerance must be positive")

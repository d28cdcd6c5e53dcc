"""Side effects the core asks its caller to carry out, as data.

The core never sends mail or calls a gateway; it returns these and the service layer (HTTP
server or simulator) performs them, through the outbox where they must survive a crash.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendConfirmation:
    """Seed 001: "Request to send order confirmation email" after a successful payment."""

    order_id: str
    owner_id: str


@dataclass(frozen=True, slots=True)
class ClearCart:
    """Seed 001: "Clear user's cart", only after success (I7)."""

    cart_id: str


@dataclass(frozen=True, slots=True)
class RefundPayment:
    """Money was taken for an order that cannot have it: oversold, expired or failed first."""

    order_id: str
    reason: str


Effect = SendConfirmation | ClearCart | RefundPayment

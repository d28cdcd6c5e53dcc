"""The Order aggregate: lines priced at checkout, the status and its full history."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.domain.money import Money
from reference_impl.domain.order_status import (
    INITIAL_STATUS,
    OrderEvent,
    OrderStatus,
    next_status,
)


@dataclass(frozen=True, slots=True)
class OrderLine:
    variant_id: str
    location_id: str
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: OrderStatus
    at: float
    reason: str


@dataclass(slots=True)
class Order:
    order_id: str
    owner_id: str
    cart_id: str
    lines: tuple[OrderLine, ...]
    total: Money
    created_at: float
    #: When a still-pending order is cancelled and its stock released; None: never.
    expires_at: float | None = None
    status: OrderStatus = INITIAL_STATUS
    history: list[StatusChange] = field(default_factory=list)
    #: Whether the order currently takes stock out of on_hand (reserved or sold for it).
    holds_stock: bool = False
    payment_session_id: str | None = None
    payment_url: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    #: Optimistic-concurrency token: storage updates only the version it read.
    version: int = 0

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(StatusChange(self.status, self.created_at, "order created"))

    def apply(self, event: OrderEvent, now: float, reason: str) -> OrderStatus:
        """Move along the status table; an illegal event raises and changes nothing."""
        target = next_status(self.status, event)
        self.status = target
        self.history.append(StatusChange(target, now, reason))
        return target

    @property
    def is_pending(self) -> bool:
        return self.status is OrderStatus.PENDING_PAYMENT

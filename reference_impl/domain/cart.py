"""The Cart aggregate (seeds 000, 002, 003).

A line is keyed by variant and carries the location it ships from (seed 002) and the unit
price seen when it was added, so that checkout can tell a changed price (seed 001, I10).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.domain.catalog import Variant
from reference_impl.domain.errors import (
    InsufficientInventory,
    InvalidQuantity,
    ItemsUnavailable,
    NotFound,
)
from reference_impl.domain.money import Money

#: Largest quantity of one line; anything above is a typo or an attack, not an order.
MAX_LINE_QUANTITY = 999
MAX_LINES = 100


@dataclass(frozen=True, slots=True)
class CartLine:
    variant_id: str
    location_id: str
    quantity: int
    unit_price: Money


@dataclass(slots=True)
class Cart:
    cart_id: str
    owner_id: str | None
    created_at: float
    lines: dict[str, CartLine] = field(default_factory=dict)
    updated_at: float = 0.0

    def set_line(
        self, variant: Variant, location_id: str, quantity: int, available: int, now: float
    ) -> CartLine:
        """Add or replace the line for ``variant``.

        Seed 002: "checkInventory ... alt insufficient inventory -> Error: Not enough
        inventory"; the cart stays as it was.
        """
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidQuantity("quantity must be an integer")
        if not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise InvalidQuantity(f"quantity must be between 1 and {MAX_LINE_QUANTITY}")
        if not variant.deliverable:
            raise ItemsUnavailable(f"variant {variant.variant_id} is not deliverable")
        if quantity > available:
            raise InsufficientInventory(
                f"only {max(available, 0)} of {variant.variant_id} available at {location_id}"
            )
        if variant.variant_id not in self.lines and len(self.lines) >= MAX_LINES:
            raise InvalidQuantity(f"a cart holds at most {MAX_LINES} lines")
        line = CartLine(variant.variant_id, location_id, quantity, variant.price)
        self.lines[variant.variant_id] = line
        self.updated_at = now
        return line

    def remove_line(self, variant_id: str, now: float) -> None:
        if variant_id not in self.lines:
            raise NotFound(f"cart {self.cart_id} has no line for {variant_id}")
        del self.lines[variant_id]
        self.updated_at = now

    def clear(self, now: float) -> None:
        self.lines.clear()
        self.updated_at = now

    def visible_to(self, user_id: str | None) -> bool:
        """I8: an owned cart is its owner's alone; an anonymous cart's id is its key (seed 003)."""
        return self.owner_id is None or self.owner_id == user_id

"""The operation vocabulary every adapter implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from scenarios.catalog_setup import ShopSetup


class AdapterError(Exception):
    """The shop could not be reached or did not speak HTTP as the adapter expects.

    Not a business refusal: those come back as an ``Outcome`` with ``ok=False``.
    """


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one operation did, in the harness's own terms.

    ``ok`` is True when the shop did what was asked; otherwise ``code`` holds the refusal's
    stable error code (``items_unavailable``...). ``body`` is the decoded response, and
    ``request``/``response`` describe the HTTP exchange for reports and replay scripts.
    """

    ok: bool
    status: int
    code: str | None = None
    body: Any = None
    request: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0


class ShopAdapter(abc.ABC):
    """Operations on one shop. Buyers are named by id; the adapter handles their auth."""

    base_url: str

    # -- harness setup --------------------------------------------------------------------
    @abc.abstractmethod
    def reset(self) -> None: ...

    @abc.abstractmethod
    def set_up(self, setup: ShopSetup) -> None: ...

    # -- buyer operations -----------------------------------------------------------------
    @abc.abstractmethod
    def list_products(self, buyer: str | None = None) -> Outcome: ...

    @abc.abstractmethod
    def view_product(self, product_id: str, buyer: str | None = None) -> Outcome: ...

    @abc.abstractmethod
    def create_cart(self, buyer: str | None) -> Outcome:
        """On success ``body["cart_id"]`` names the cart for the calls below."""

    @abc.abstractmethod
    def read_cart(self, buyer: str | None, cart_id: str) -> Outcome: ...

    @abc.abstractmethod
    def set_line(
        self, buyer: str | None, cart_id: str, variant_id: str, location_id: str, quantity: int
    ) -> Outcome: ...

    @abc.abstractmethod
    def remove_line(self, buyer: str | None, cart_id: str, variant_id: str) -> Outcome: ...

    @abc.abstractmethod
    def place_order(
        self,
        buyer: str,
        cart_id: str,
        *,
        idempotency_key: str | None = None,
        expected_total: dict[str, Any] | None = None,
        payment_method: str | None = None,
    ) -> Outcome:
        """On success ``body`` is the order, with ``order_id``, ``status``, ``total``, and
        ``payment`` (``session_id``, ``url``) for hosted checkout."""

    @abc.abstractmethod
    def read_order(self, buyer: str, order_id: str) -> Outcome: ...

    @abc.abstractmethod
    def payment_link(self, buyer: str, order_id: str) -> Outcome: ...

    # -- inspection (harness only) --------------------------------------------------------
    @abc.abstractmethod
    def stock(self) -> list[dict[str, Any]]:
        """Every level: ``variant_id, location_id, on_hand, reserved, sold, received``."""

    @abc.abstractmethod
    def orders(self) -> list[dict[str, Any]]:
        """Every order: ``order_id, owner_id, status, history (statuses), total, lines``."""

    def trace(self, correlation_id: str | None = None) -> list[dict[str, Any]]:
        """The shop's own actor-to-actor trace, when it records one (else empty)."""
        return []

    def close(self) -> None:
        return None

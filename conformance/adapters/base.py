"""The operation vocabulary every adapter implements, and how its HTTP calls are sent.

An adapter turns each operation into an ``HttpCall`` (what to send) and hands it to a
``Transport`` (how to send it). The conformance suite sends with httpx; the Locust users
send the very same calls with their own client (the load test's fast path), so both speak
one vocabulary with no duplicated mapping.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reference_impl.domain.money import Money
from scenarios.catalog_setup import ShopSetup


class AdapterError(Exception):
    """The shop could not be reached or did not speak HTTP as the adapter expects.

    Not a business refusal: those come back as an ``Outcome`` with ``ok=False``.
    """


class NotSupported(AdapterError):
    """This shop (or its adapter) has no such operation; the suite skips what needs it and
    reports the invariants it could not exercise as not applicable."""


# HttpCall and Outcome write their __init__ out: a frozen dataclass's generated one sets
# each field through object.__setattr__, twice the instructions of filling the instance's
# __dict__ (13.5k against 6.5k for HttpCall, `perf stat`), and the load users build one of
# each per request.

@dataclass(frozen=True, init=False)
class HttpCall:
    """One request, described: ``op`` names the operation (and the Locust request name)."""

    op: str
    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    content: bytes | None = None

    def __init__(self, op: str, method: str, path: str, json: Any = None,
                 headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                 content: bytes | None = None) -> None:
        fields = self.__dict__
        fields["op"] = op
        fields["method"] = method
        fields["path"] = path
        fields["json"] = json
        fields["headers"] = {} if headers is None else headers
        fields["params"] = params
        fields["content"] = content

    def describe(self) -> dict[str, Any]:
        return {"op": self.op, "method": self.method, "path": self.path, "json": self.json,
                "headers": self.headers, "params": self.params}


@dataclass(frozen=True, init=False)
class Outcome:
    """What one operation did, in the harness's own terms.

    ``ok`` is True when the shop did what was asked; otherwise ``code`` holds the refusal's
    stable error code (``items_unavailable``...), or ``http_<status>`` when the shop gave
    none. ``body`` is the decoded response.
    """

    ok: bool
    status: int
    code: str | None = None
    body: Any = None
    call: HttpCall | None = None
    elapsed: float = 0.0
    #: Response headers, names in lower case (a session-cookie shop reads ``set-cookie``).
    headers: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, ok: bool, status: int, code: str | None = None, body: Any = None,
                 call: HttpCall | None = None, elapsed: float = 0.0,
                 headers: Mapping[str, str] | None = None) -> None:
        fields = self.__dict__
        fields["ok"] = ok
        fields["status"] = status
        fields["code"] = code
        fields["body"] = body
        fields["call"] = call
        fields["elapsed"] = elapsed
        fields["headers"] = {} if headers is None else headers


def interpret(call: HttpCall, status: int, body: Any, elapsed: float,
              headers: Mapping[str, str] | None = None) -> Outcome:
    """The Outcome of a response, the same for every transport."""
    ok = 200 <= status < 300
    code = None
    if not ok:
        code = body.get("code") if isinstance(body, dict) else None
        code = str(code) if code else f"http_{status}"
    return Outcome(ok, status, code, body, call, elapsed, dict(headers) if headers else None)


class Mailbox(Protocol):
    """Where the harness reads the emails a shop sent (the mail sink, in process or remote)."""

    def messages(self, order_id: str | None = None) -> Sequence[Any]: ...


class Transport(Protocol):
    def send(self, call: HttpCall) -> Outcome: ...

    def close(self) -> None: ...


class ShopAdapter(abc.ABC):
    """Operations on one shop. Buyers are named by id; the adapter handles their auth.

    Subclasses implement the ``*_call`` builders (pure: no I/O) and ``auth``; the
    operations themselves send the built call through ``self.transport``.
    """

    transport: Transport
    #: Where the gateway delivers payment webhooks on this shop (seed 001's
    #: ``/webhook/payment-status``, seed 004's ``/api/webhook``...).
    webhook_path: str = "/payments/webhook"
    #: The shop's own OpenAPI document, as a path on the shop, for the schema checks; None
    #: when it publishes none (the canonical document is then used for canonical shops).
    openapi_path: str | None = "/openapi.json"
    #: Where emails are read; the suite sets the mail sink here unless the adapter has one.
    mailbox: Mailbox | None = None
    #: True when the shop speaks the canonical contract itself (its problem+json errors,
    #: its order bodies): the schema checks then hold its responses to that contract too.
    canonical: bool = False

    def send(self, call: HttpCall) -> Outcome:
        return self.read(self.transport.send(call))

    def send_or_raise(self, call: HttpCall) -> Any:
        """``call``'s body, for the harness's own set-up calls: AdapterError if refused."""
        outcome = self.send(call)
        if not outcome.ok:
            raise AdapterError(
                f"{call.method} {call.path} refused: HTTP {outcome.status} {outcome.body}")
        return outcome.body

    def read(self, outcome: Outcome) -> Outcome:
        """Translate a raw outcome into the harness's terms; override when the shop's
        refusals carry their code elsewhere than ``body["code"]`` or under other names."""
        return outcome

    def close(self) -> None:
        self.transport.close()

    # -- harness setup --------------------------------------------------------------------
    @abc.abstractmethod
    def reset(self) -> None: ...

    @abc.abstractmethod
    def set_up(self, setup: ShopSetup) -> None: ...

    # -- how each operation is spelled on the wire ----------------------------------------
    @abc.abstractmethod
    def auth(self, buyer: str | None) -> dict[str, str]:
        """Headers that authenticate ``buyer`` (may call the shop once to get a token)."""

    # A shop without catalog pages raises NotImplementedError from these two: the load
    # users then skip their browse and view steps (the suite does not browse).
    @abc.abstractmethod
    def list_products_call(self, buyer: str | None) -> HttpCall: ...

    @abc.abstractmethod
    def view_product_call(self, buyer: str | None, product_id: str) -> HttpCall: ...

    @abc.abstractmethod
    def create_cart_call(self, buyer: str | None) -> HttpCall: ...

    @abc.abstractmethod
    def read_cart_call(self, buyer: str | None, cart_id: str) -> HttpCall: ...

    @abc.abstractmethod
    def set_line_call(self, buyer: str | None, cart_id: str, variant_id: str,
                      location_id: str, quantity: int) -> HttpCall: ...

    @abc.abstractmethod
    def remove_line_call(self, buyer: str | None, cart_id: str, variant_id: str) -> HttpCall: ...

    @abc.abstractmethod
    def place_order_call(self, buyer: str, cart_id: str, *, idempotency_key: str | None = None,
                         expected_total: dict[str, Any] | None = None,
                         payment_method: str | None = None) -> HttpCall: ...

    @abc.abstractmethod
    def read_order_call(self, buyer: str, order_id: str) -> HttpCall: ...

    @abc.abstractmethod
    def payment_link_call(self, buyer: str, order_id: str) -> HttpCall: ...

    def webhook_call(self, body: bytes, headers: Mapping[str, str]) -> HttpCall:
        """A payment webhook as the gateway sends it: the raw signed body, as is."""
        return HttpCall("payment_webhook", "POST", self.webhook_path,
                        headers={"Content-Type": "application/json", **headers}, content=body)

    def cancel_order_call(self, buyer: str, order_id: str) -> HttpCall:
        raise NotSupported("this adapter cannot cancel an order")

    # -- reading a response ---------------------------------------------------------------
    def cart_id(self, outcome: Outcome) -> str:
        return str(outcome.body["cart_id"])

    def order_of(self, outcome: Outcome) -> dict[str, Any]:
        """The order in the canonical shape: ``order_id, status, total, payment``..."""
        return dict(outcome.body)

    def cart_of(self, outcome: Outcome) -> dict[str, Any]:
        """The cart in the canonical shape: ``cart_id, owner_id, lines`` where each line has
        ``variant_id, location_id, quantity, unit_price {amount, currency}``."""
        return dict(outcome.body)

    def payment_link_of(self, outcome: Outcome) -> dict[str, Any]:
        """A ``payment_link`` answer in the canonical shape: ``session_id, url``."""
        return dict(outcome.body)

    # -- the operations ---------------------------------------------------------------------
    def list_products(self, buyer: str | None = None) -> Outcome:
        return self.send(self.list_products_call(buyer))

    def view_product(self, product_id: str, buyer: str | None = None) -> Outcome:
        return self.send(self.view_product_call(buyer, product_id))

    def create_cart(self, buyer: str | None) -> Outcome:
        return self.send(self.create_cart_call(buyer))

    def read_cart(self, buyer: str | None, cart_id: str) -> Outcome:
        return self.send(self.read_cart_call(buyer, cart_id))

    def set_line(self, buyer: str | None, cart_id: str, variant_id: str, location_id: str,
                 quantity: int) -> Outcome:
        return self.send(self.set_line_call(buyer, cart_id, variant_id, location_id, quantity))

    def remove_line(self, buyer: str | None, cart_id: str, variant_id: str) -> Outcome:
        return self.send(self.remove_line_call(buyer, cart_id, variant_id))

    def place_order(self, buyer: str, cart_id: str, *, idempotency_key: str | None = None,
                    expected_total: dict[str, Any] | None = None,
                    payment_method: str | None = None) -> Outcome:
        return self.send(self.place_order_call(
            buyer, cart_id, idempotency_key=idempotency_key, expected_total=expected_total,
            payment_method=payment_method))

    def read_order(self, buyer: str, order_id: str) -> Outcome:
        return self.send(self.read_order_call(buyer, order_id))

    def payment_link(self, buyer: str, order_id: str) -> Outcome:
        return self.send(self.payment_link_call(buyer, order_id))

    def cancel_order(self, buyer: str, order_id: str) -> Outcome:
        return self.send(self.cancel_order_call(buyer, order_id))

    def deliver_webhook(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        return self.send(self.webhook_call(body, headers))

    # -- harness administration beyond setup (optional) -----------------------------------
    def set_price(self, variant_id: str, price: Money) -> None:
        """Change a variant's price (I10: an order at a changed price is refused)."""
        raise NotSupported("this adapter cannot change a price")

    def schema_headers(self, buyer: str) -> dict[str, str]:
        """Headers the schema checks send with every generated request: enough to pass
        authentication as ``buyer`` (and as the harness on admin operations)."""
        return self.auth(buyer)

    def emails(self, order_id: str) -> list[Any]:
        """The confirmation emails the shop sent for ``order_id`` (read from the mail sink)."""
        if self.mailbox is None:
            raise NotSupported("no mailbox: start the mail sink or give --mail-url")
        return list(self.mailbox.messages(order_id))

    # -- inspection (harness only) --------------------------------------------------------
    @abc.abstractmethod
    def stock(self) -> list[dict[str, Any]]:
        """Every level: ``variant_id, location_id, on_hand, reserved, sold, received``."""

    @abc.abstractmethod
    def orders(self) -> list[dict[str, Any]]:
        """Every order: ``order_id, owner_id, status, history (statuses), total, lines``,
        and ``cart_id`` where the shop tells it (the load's audit checks I9 with it)."""

    def trace(self, correlation_id: str | None = None) -> list[dict[str, Any]]:
        """The shop's own actor-to-actor trace, when it records one (else empty)."""
        return []

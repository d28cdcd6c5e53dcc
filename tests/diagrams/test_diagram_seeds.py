"""The five seed diagrams: what each parses to, and the round trip through Mermaid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams import (
    Activation,
    FragmentKind,
    Message,
    Notation,
    Note,
    NotePlacement,
    ParticipantKind,
    SequenceDiagram,
    parse_text,
)

Seed = Callable[[str], SequenceDiagram]
SEED_NUMBERS = ["000", "001", "002", "003", "004"]
SHARED_SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def labelled(diagram: SequenceDiagram, text: str) -> list[Message]:
    return [m for m in diagram.messages() if m.text == text]


def test_the_five_seeds_are_kept_verbatim(seed_dir: Path) -> None:
    copies = sorted(seed_dir.glob("*.txt"))
    assert [p.name[:3] for p in copies] == SEED_NUMBERS
    if SHARED_SEEDS.is_dir():  # the spec the copies must not drift from
        for path in copies:
            assert path.read_bytes() == (SHARED_SEEDS / path.name).read_bytes(), path.name


@pytest.mark.parametrize("number", SEED_NUMBERS)
def test_seed_round_trips_through_mermaid(seed: Seed, number: str) -> None:
    diagram = seed(number)
    rendered = diagram.to_mermaid()
    again = parse_text(rendered)
    assert again.notation is Notation.MERMAID
    assert again == diagram
    assert again.to_mermaid() == rendered


@pytest.mark.parametrize(
    ("number", "notation"),
    [
        ("000", Notation.SEQUENCEDIAGRAM_ORG),
        ("001", Notation.MERMAID),
        ("002", Notation.MERMAID),
        ("003", Notation.ASCII),
        ("004", Notation.MERMAID),
    ],
)
def test_seed_notation_is_detected(seed: Seed, number: str, notation: Notation) -> None:
    assert seed(number).notation is notation


def test_seed_000_sequencediagram_org(seed: Seed) -> None:
    d = seed("000")
    assert d.title == "Buying products"
    assert d.participant_names == (
        "Buyer",
        "Shopping Cart",
        "Product",
        "Order Management",
        "Account Management",
        "Payment Processing",
        "Payment Gateway",
    )
    assert d.bottom_participants
    found = d.items[0]
    assert found == Message(None, "Buyer", "Authorized", MessageKind.SYNC)
    assert isinstance(found, Message) and found.line == 3

    (loop,) = d.fragments()
    assert loop.kind is FragmentKind.LOOP and loop.line == 5 and loop.guard == ""
    in_loop = [i for i in loop.branches[0].items if isinstance(i, Message)]
    # Five messages, four between two participants and one self-message.
    assert [m.text for m in in_loop] == [
        "Add to cart",
        "Product ID",
        "fetch if available",
        "Product detail",
        "Product added Cart details",
    ]
    assert [m.is_self for m in in_loop].count(True) == 1
    assert in_loop[-1].label == "Product added\nCart details"  # <align:center> dropped
    assert in_loop[-1].kind is MessageKind.REPLY

    (request_info,) = labelled(d, "Request buyer and shop information")
    assert (request_info.source, request_info.target) == ("Order Management", "Account Management")
    assert request_info.kind is MessageKind.ASYNC and request_info.line == 30
    (checkout,) = labelled(d, "Checkout")
    assert checkout.kind is MessageKind.SYNC
    activations = [i for i in d.items if isinstance(i, Activation)]
    assert activations[0] == Activation("Order Management", True)
    assert activations[0].colour == "lightgray"
    assert [m.text for m in d.messages()][-1] == "update Status: Confirmed"
    assert len(list(d.messages())) == 30


def test_seed_001_mermaid(seed: Seed) -> None:
    d = seed("001")
    assert d.participant_names == (
        "User",
        "Frontend",
        "Backend",
        "PaymentGateway",
        "Database",
        "EmailService",
    )
    assert d.participant("User").kind is ParticipantKind.ACTOR
    assert d.title == "Order Checkout Process with Payment and Stock Management"
    validation, payment = d.fragments()
    assert validation.kind is FragmentKind.ALT and len(validation.branches) == 2
    assert [b.guard for b in validation.branches] == [
        "Order Validation",
        "Items not available or price mismatch",
    ]
    assert (validation.line, validation.branches[1].line) == (27, 30)
    conflict = validation.branches[1].items[0]
    assert isinstance(conflict, Message)
    assert conflict.text.startswith("409 Conflict")
    assert conflict.kind is MessageKind.REPLY and conflict.activation == "-"
    assert [b.guard for b in payment.branches] == ["Payment Successful", "Payment Failed"]
    note = payment.branches[0].items[0]
    assert note == Note(NotePlacement.OVER, ("Backend", "Database"), "Continue DB Transaction")
    (post,) = labelled(d, labelled(d, "Validate JWT and identify user")[0].text)
    assert post.is_self
    (orders,) = [m for m in d.messages() if m.text.startswith("POST /api/orders")]
    assert orders.line == 22 and orders.activation == "+"
    assert "Bearer <JWT>" in orders.label
    (email,) = labelled(d, "Send email with order details")
    assert (email.source, email.target, email.activation) == ("EmailService", "User", "")


def test_seed_002_mermaid(seed: Seed) -> None:
    d = seed("002")
    assert d.participant_names == (
        "User",
        "Frontend",
        "CartService",
        "ProductService",
        "Inventory",
        "OrderService",
        "PaymentService",
        "Database",
    )
    inventory, payment = d.fragments()
    assert [b.guard for b in inventory.branches] == [
        "sufficient inventory",
        "insufficient inventory",
    ]
    assert [len(b.items) for b in inventory.branches] == [4, 2]
    assert [len(b.items) for b in payment.branches] == [6, 4]
    (pay,) = labelled(d, "processPayment(paymentDetails, orderDetails)")
    assert (pay.source, pay.target, pay.kind, pay.line) == (
        "OrderService",
        "PaymentService",
        MessageKind.SYNC,
        37,
    )
    assert len(list(d.messages())) == 31


def test_seed_003_ascii(seed: Seed) -> None:
    d = seed("003")
    assert d.participant_names == ("User", "Browser/Client", "Server", "Database")
    messages = list(d.messages())
    assert len(messages) == 21
    assert all(m.kind is MessageKind.SYNC for m in messages)
    # Seed 003 draws the database's arrows pointing at the server.
    (verify,) = labelled(d, "Verify Inventory & Payment Info")
    assert (verify.source, verify.target, verify.line) == ("Database", "Server", 41)
    (details,) = labelled(d, "Fetch Product Details")
    assert (details.source, details.target, details.line) == ("Database", "Server", 19)
    # Arrows that cross the Browser/Client lifeline.
    (proceed,) = labelled(d, "Proceed to Checkout")
    assert (proceed.source, proceed.target) == ("User", "Server")
    (enter,) = labelled(d, "Enter Payment Info")
    assert (enter.source, enter.target) == ("User", "Server")
    # The label whose last word sits on the arrow's own row.
    (confirmation,) = labelled(d, "Display Order Confirmation")
    assert (confirmation.source, confirmation.target, confirmation.line) == (
        "Browser/Client",
        "User",
        54,
    )
    assert [(m.source, m.target, m.text) for m in messages[:4]] == [
        ("User", "Browser/Client", "Browse Store"),
        ("Browser/Client", "Server", "Get Products"),
        ("Database", "Server", "Fetch Product"),
        ("Browser/Client", "User", "Display Products"),
    ]
    assert messages[-1].text == "Order Confirmed" and messages[-1].line == 57


def test_seed_004_mermaid(seed: Seed) -> None:
    d = seed("004")
    assert d.participant_names == (
        "User",
        "Frontend",
        "Backend",
        "StripeServer",
        "StripeAPI",
        "Database",
    )
    assert d.participant("Frontend").label == "Frontend\n(React)"
    assert d.participant("StripeServer").label == "Stripe Server\n(server.py)"
    assert d.participant("Database").label == "PostgreSQL"
    (payment,) = d.fragments()
    assert [b.guard for b in payment.branches] == ["Payment Success", "Payment Failed"]
    webhooks = labelled(d, "POST /api/webhook")
    assert [(m.source, m.target, m.line) for m in webhooks] == [
        ("StripeAPI", "StripeServer", 44),
        ("StripeAPI", "StripeServer", 61),
    ]
    notes = [i for i in payment.branches[0].items if isinstance(i, Note)]
    assert [n.text for n in notes] == ["Verify signature", "Handle checkout.session.completed"]
    assert Activation("StripeAPI", True) in d.items

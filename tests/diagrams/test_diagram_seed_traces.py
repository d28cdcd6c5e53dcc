"""Each seed's diagram against hand-built boundary traces: the happy path, the diagram's own
failure branch where it draws one, and a trace that breaks the flow, with the verdict's words.

Every mapping folds the harness's side (user, browser, frontend) into Buyer and the shop's
services into Storefront, so the diagram is checked at the black-box boundary: harness to
shop, shop to gateway, gateway to shop, shop to mail.
"""

from __future__ import annotations

from collections.abc import Callable

from scenarios.diagrams import ANY_LABEL, SequenceDiagram, TraceChecker
from tests.diagrams.traces import trace

Seed = Callable[[str], SequenceDiagram]


def test_seed_000_hosted_checkout_link_fetched_later(seed: Seed) -> None:
    shop = "Storefront"
    checker = TraceChecker(
        seed("000"),
        participant_map={
            "Buyer": "Buyer",
            "Shopping Cart": shop,
            "Product": shop,
            "Order Management": shop,
            "Account Management": shop,
            "Payment Processing": shop,
            "Payment Gateway": "Gateway",
        },
        message_map={
            "Add to cart": "add_to_cart",
            "Product added Cart details": "cart",
            "Checkout": "create_order",
            "Saved order Order details Status: Processing": "order:Processing",
            "Create Checkout Session": "create_session",
            "Checkout Session Link": "session",
            "Request checkout session link": "get_payment_link",
            "Checkout session link": "payment_link",
            "Complete checkout": "complete_session",
            "Checkout successful": "webhook:succeeded",
        },
    )
    adds = ["Buyer>Storefront:add_to_cart", "Storefront>Buyer:cart"] * 2
    ordered = [
        "Buyer>Storefront:create_order",
        "Storefront>Buyer:order:Processing",
        "Storefront>Gateway:create_session",
        "Gateway>Storefront:session",
    ]
    paid = [
        "Buyer>Storefront:get_payment_link",
        "Storefront>Buyer:payment_link",
        "Buyer>Gateway:complete_session",
        "Gateway>Storefront:webhook:succeeded",
    ]
    happy = checker.check(trace(*adds, *ordered, *paid))
    assert happy.ok, happy.reason
    assert len(happy.checked) == 12

    # The buyer pays without having fetched the link the diagram says they fetch first.
    skipped_link = checker.check(trace(*adds, *ordered, *paid[2:]))
    assert skipped_link.reason == (
        "after #8 Gateway -> Storefront: session, expected one of: "
        "Buyer -> Storefront: get_payment_link "
        "(line 61: Buyer -> Payment Processing: Request checkout session link), "
        "saw #9 Buyer -> Gateway: complete_session"
    )


def test_seed_001_webhook_success_and_failure(seed: Seed) -> None:
    checker = TraceChecker(
        seed("001"),
        observable={"User", "Frontend", "Backend", "PaymentGateway", "EmailService"},
        participant_map={
            "User": "Buyer",
            "Frontend": "Buyer",
            "Backend": "Storefront",
            "PaymentGateway": "Gateway",
            "EmailService": "Mail",
        },
        message_map={
            "line 22": "POST /orders",
            "line 31": "409",
            "line 40": "create_session",
            "line 41": "session",
            "line 43": "201",
            "line 46": "pay",
            "line 47": "receipt page",
            "line 49": "webhook",
            "line 61": "email",
            # The harness's SMTP sink is the end of the wire; the buyer's mailbox is not seen.
            "line 62": None,
            "line 64": "200",
            "line 68": "200",
        },
    )
    ordered = [
        "Buyer>Storefront:POST /orders",
        "Storefront>Gateway:create_session",
        "Gateway>Storefront:session",
        "Storefront>Buyer:201",
        "Buyer>Gateway:pay",
        "Gateway>Buyer:receipt page",
        "Gateway>Storefront:webhook",
    ]
    happy = checker.check(trace(*ordered, "Storefront>Mail:email", "Storefront>Gateway:200"))
    assert happy.ok, happy.reason
    failed = checker.check(trace(*ordered, "Storefront>Gateway:200"))
    assert failed.ok, failed.reason

    # A confirmation email for a failed payment comes after the acknowledgement.
    mail_after_failure = checker.check(
        trace(*ordered, "Storefront>Gateway:200", "Storefront>Mail:email")
    )
    assert mail_after_failure.reason == (
        "unexpected extra message #9 Storefront -> Mail: email "
        "after #8 Storefront -> Gateway: 200: the diagram ends there"
    )

    # The 409 branch: the diagram draws it as an alt after which the flow goes on, so a
    # trace that stops there is only a conforming prefix.
    conflict = trace("Buyer>Storefront:POST /orders", "Storefront>Buyer:409")
    assert checker.check(conflict, complete=False).ok
    assert checker.check(conflict).reason == (
        "trace ended early after #2 Storefront -> Buyer: 409, expected one of: "
        "Storefront -> Gateway: create_session "
        "(line 40: Backend -> PaymentGateway: Initiate payment (amount, orderId))"
    )


def test_seed_002_synchronous_payment(seed: Seed) -> None:
    shop = "Storefront"
    checker = TraceChecker(
        seed("002"),
        participant_map={
            "User": "Buyer",
            "Frontend": "Buyer",
            "CartService": shop,
            "ProductService": shop,
            "Inventory": shop,
            "OrderService": shop,
            "Database": shop,
            "PaymentService": "Gateway",
        },
        message_map={
            "addOrUpdateItem(cartId, variantId, quantity, locationId)": "PUT cart line",
            "Cart Updated": "200",
            "Error: Not enough inventory": "409 insufficient_inventory",
            "createOrder(cartId, shippingDetails, paymentDetails)": "POST /orders",
            "processPayment(paymentDetails, orderDetails)": "charge",
            "Payment Result (Success/Failure)": ANY_LABEL,
            "Order Confirmation": "201 paid",
            "Payment Failed Error": "201 payment_failed",
        },
    )
    cart = ["Buyer>Storefront:PUT cart line", "Storefront>Buyer:200"]
    order = ["Buyer>Storefront:POST /orders", "Storefront>Gateway:charge", "Gateway>Storefront:ok"]
    happy = checker.check(trace(*cart, *order, "Storefront>Buyer:201 paid"))
    assert happy.ok, happy.reason
    failed = checker.check(trace(*cart, *order, "Storefront>Buyer:201 payment_failed"))
    assert failed.ok, failed.reason
    no_stock = trace(
        "Buyer>Storefront:PUT cart line", "Storefront>Buyer:409 insufficient_inventory"
    )
    assert checker.check(no_stock, complete=False).ok

    # An order confirmed without the synchronous charge the diagram puts before it.
    unpaid = checker.check(
        trace(*cart, "Buyer>Storefront:POST /orders", "Storefront>Buyer:201 paid")
    )
    assert unpaid.reason == (
        "after #3 Buyer -> Storefront: POST /orders, expected one of: "
        "Storefront -> Gateway: charge "
        "(line 37: OrderService -> PaymentService: processPayment(paymentDetails, orderDetails)), "
        "saw #4 Storefront -> Buyer: 201 paid"
    )


def test_seed_003_browse_view_cart_checkout(seed: Seed) -> None:
    # Seed 003 draws no reply from the server: the browser's requests are the whole boundary.
    checker = TraceChecker(
        seed("003"),
        observable={"User", "Browser/Client", "Server"},
        participant_map={"User": "Buyer", "Browser/Client": "Buyer", "Server": "Storefront"},
        message_map={
            "Get Products": "GET /products",
            "Get Product": "GET /products/{id}",
            "Add to Cart": "POST /cart/lines",
            "Proceed to Checkout": "GET /checkout",
            "Checkout": "POST /orders",
            "Enter Payment Info": "payment form",
            "Process Payment": "POST /payments",
        },
    )
    steps = [
        "GET /products",
        "GET /products/{id}",
        "POST /cart/lines",
        "GET /checkout",
        "POST /orders",
        "payment form",
        "POST /payments",
    ]
    happy = checker.check(trace(*(f"Buyer>Storefront:{step}" for step in steps)))
    assert happy.ok, happy.reason
    # The database's messages and the browser's displays are not on the boundary.
    assert len(happy.checked) == 7

    skipped_view = checker.check(
        trace("Buyer>Storefront:GET /products", "Buyer>Storefront:POST /cart/lines")
    )
    assert skipped_view.reason == (
        "after #1 Buyer -> Storefront: GET /products, expected one of: "
        "Buyer -> Storefront: GET /products/{id} (line 16: Browser/Client -> Server: Get Product), "
        "saw #2 Buyer -> Storefront: POST /cart/lines"
    )


def test_seed_004_stripe_checkout_completed_and_failed(seed: Seed) -> None:
    checker = TraceChecker(
        seed("004"),
        observable={"User", "Frontend", "Backend", "StripeServer", "StripeAPI"},
        participant_map={
            "User": "Buyer",
            "Frontend": "Buyer",
            "Backend": "Storefront",
            "StripeServer": "Storefront",
            "StripeAPI": "Gateway",
        },
        message_map={
            "POST /api/stripe-checkout": "POST /api/stripe-checkout",
            "stripe.checkout.Session.create()": "create_session",
            "Checkout Session + URL": "session",
            "Return session URL": "session_url",
            "Redirect to checkout.stripe.com": "open_checkout",
            "Enter payment details": ANY_LABEL,
            "Confirm payment": "confirm",
            # One label, two events: the line tells them apart.
            "line 44": "checkout.session.completed",
            "line 61": "checkout.session.async_payment_failed",
            "Return 200 success": "200",
            "Redirect to success URL": "redirect:success",
            "Redirect to cancel URL": "redirect:cancel",
        },
    )
    checkout = [
        "Buyer>Storefront:POST /api/stripe-checkout",
        "Storefront>Gateway:create_session",
        "Gateway>Storefront:session",
        "Storefront>Buyer:session_url",
        "Buyer>Gateway:open_checkout",
        "Buyer>Gateway:card number",
        "Buyer>Gateway:confirm",
    ]
    completed = "Gateway>Storefront:checkout.session.completed"
    failed_event = "Gateway>Storefront:checkout.session.async_payment_failed"
    ack = "Storefront>Gateway:200"
    happy = checker.check(trace(*checkout, completed, ack, "Gateway>Buyer:redirect:success"))
    assert happy.ok, happy.reason
    failed = checker.check(trace(*checkout, failed_event, ack, "Gateway>Buyer:redirect:cancel"))
    assert failed.ok, failed.reason

    # A completed session must not send the buyer to the cancel page.
    wrong_redirect = checker.check(
        trace(*checkout, completed, ack, "Gateway>Buyer:redirect:cancel")
    )
    assert wrong_redirect.reason == (
        "after #9 Storefront -> Gateway: 200, expected one of: "
        "Gateway -> Buyer: redirect:success "
        "(line 56: StripeAPI -> Frontend: Redirect to success URL), "
        "saw #10 Gateway -> Buyer: redirect:cancel"
    )

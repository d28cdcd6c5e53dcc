"""The canonical message names of the actor-to-actor trace (DESIGN.md section 7).

A scenario's ``diagram.message_map`` maps each label of its seed diagram onto one of these
names, and the reference implementation and the simulator record exactly these names in
their ``TraceEvent.message``. The five seeds word the same step in five ways ("Checkout",
"POST /api/orders", "createOrder", ...); the trace checker compares names, not wording.

Replies are recorded under the name of the request they answer. A reply that refuses the
request is recorded under the error code it carries (DESIGN.md section 3, e.g.
``items_unavailable`` for seed 001's 409), so a refusal and a success are told apart.
"""

from __future__ import annotations

from enum import StrEnum

from reference_impl.domain.errors import ALL_ERRORS


class Message(StrEnum):
    # Browsing (seed 003; 000 and 002 read single products).
    LIST_PRODUCTS = "list_products"
    GET_PRODUCT = "get_product"
    # Cart (seeds 000, 002, 003, 004).
    ADD_TO_CART = "add_to_cart"
    CHECK_INVENTORY = "check_inventory"
    SAVE_CART = "save_cart"
    GET_CART = "get_cart"
    # Checkout (all seeds).
    CREATE_ORDER = "create_order"
    AUTHENTICATE = "authenticate"  # seed 001: validate the bearer JWT
    CHECK_ACCOUNT = "check_account"  # seed 000: Account Management "fetch if active"
    SAVE_ORDER = "save_order"
    COMMIT_STOCK = "commit_stock"
    # Payment, hosted (seeds 000, 001, 004) or synchronous (seeds 002, 003).
    CREATE_CHECKOUT_SESSION = "create_checkout_session"
    GET_CHECKOUT_LINK = "get_checkout_link"  # seed 000: the link is fetched later
    COMPLETE_PAYMENT = "complete_payment"
    CHARGE = "charge"
    SAVE_PAYMENT = "save_payment"  # seed 000: Payment Processing keeps its own record
    PAYMENT_WEBHOOK = "payment_webhook"
    # After the outcome.
    UPDATE_ORDER_STATUS = "update_order_status"
    CLEAR_CART = "clear_cart"  # seed 001
    SEND_CONFIRMATION = "send_confirmation"  # seed 001


#: Error codes a refusing reply is named after (DESIGN.md section 3).
ERROR_CODES: tuple[str, ...] = tuple(error.code for error in ALL_ERRORS)

#: Every name a ``message_map`` may use.
MESSAGE_NAMES: tuple[str, ...] = tuple(m.value for m in Message) + ERROR_CODES

"""What the suite checks: the invariants of DESIGN.md section 5 and the contract checks.

``I1``..``I11`` are the purchase-flow invariants; ``C1``..``C4`` are what the schema checks
(Schemathesis) hold any HTTP API to. A scenario's profile decides which invariants apply
(``Scenario.invariants_to_check``); this module says why the others do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reference_impl.domain.policies import PaymentMode
from scenarios import Scenario


@dataclass(frozen=True, slots=True)
class Invariant:
    id: str
    title: str
    statement: str


INVARIANTS: dict[str, Invariant] = {i.id: i for i in (
    Invariant("I1", "No oversell",
              "Per variant and location, units in paid orders never exceed stock received; "
              "no bucket is negative; received = on hand + reserved + sold."),
    Invariant("I2", "Status order",
              "Every observed history is a path in the transition table; terminal statuses "
              "never change (except paid -> refunded)."),
    Invariant("I3", "Webhook idempotency",
              "Re-delivering an event, one after another or concurrently, any number of "
              "times, changes nothing after the first."),
    Invariant("I4", "Order of delivery",
              "A stale or contradicting event never regresses a status (failed after paid)."),
    Invariant("I5", "Authenticity",
              "Unsigned, mis-signed or expired webhooks are refused (400) and have no effect."),
    Invariant("I6", "Money",
              "Order total = sum of quantity x unit price at checkout = the amount of the "
              "gateway session."),
    Invariant("I7", "Exactly-once effects",
              "One confirmation email per paid order, none otherwise; the cart is cleared "
              "only after success."),
    Invariant("I8", "Isolation",
              "A buyer never reads or changes another buyer's cart or order."),
    Invariant("I9", "Idempotent order creation",
              "Same key and body give the same order; same key and another body are refused."),
    Invariant("I10", "Availability",
              "Adding or ordering beyond availability, or at a changed price, is refused with "
              "the documented code and changes nothing."),
    Invariant("I11", "Liveness",
              "Every order leaves pending_payment within the reservation TTL plus the longest "
              "webhook delay."),
    Invariant("C1", "No server errors",
              "No request, valid or malformed, is answered with a 5xx."),
    Invariant("C2", "Responses follow the contract",
              "Status codes, content types, headers and bodies are the documented ones; "
              "errors are problem+json with a stable code."),
    Invariant("C3", "Input validation",
              "Schema-violating input is refused with a 4xx; schema-valid input is not "
              "refused as malformed."),
    Invariant("C4", "Authentication",
              "Operations that need credentials refuse requests without them."),
)}

FLOW_INVARIANTS: tuple[str, ...] = tuple(i for i in INVARIANTS if i.startswith("I"))
CONTRACT_CHECKS: tuple[str, ...] = tuple(i for i in INVARIANTS if i.startswith("C"))


def parse_only(text: str | None) -> tuple[str, ...] | None:
    """``--only I1,I3,C1`` -> ("I1", "I3", "C1"); ValueError naming an unknown id."""
    if not text:
        return None
    wanted = tuple(dict.fromkeys(part.strip().upper() for part in text.split(",") if part.strip()))
    unknown = [i for i in wanted if i not in INVARIANTS]
    if unknown:
        raise ValueError(f"unknown invariant(s) {', '.join(unknown)}; "
                         f"known: {', '.join(INVARIANTS)}")
    return wanted


def not_applicable(scenario: Scenario, only: Iterable[str] | None = None) -> dict[str, str]:
    """Invariant id -> why it does not apply to this profile (or to this run's ``--only``)."""
    policies = scenario.profile.policies
    checked = set(scenario.invariants_to_check()) | set(CONTRACT_CHECKS)
    reasons: dict[str, str] = {}
    for inv in INVARIANTS:
        if inv in checked:
            continue
        if inv in ("I3", "I4", "I5") and policies.payment_mode is PaymentMode.SYNCHRONOUS:
            reasons[inv] = "synchronous payment: the profile has no webhooks"
        elif inv == "I11" and policies.reservation_ttl is None:
            reasons[inv] = "no reservation TTL: nothing bounds how long an order may wait"
        elif inv == "I7":
            reasons[inv] = "the profile neither clears the cart nor sends a confirmation"
        else:
            reasons[inv] = "not in the scenario's invariants.check list"
    if only is not None:
        wanted = set(only)
        for inv in INVARIANTS:
            if inv not in wanted and inv not in reasons:
                reasons[inv] = "not selected (--only)"
    return reasons

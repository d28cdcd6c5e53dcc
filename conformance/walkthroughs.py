"""Directed walks through the state machine: the documented paths and their known hazards.

Before Hypothesis explores at random, each walk drives the same rules (the same checks, the
same recording) through one path of the seeds on purpose: the happy and the declined
payment, a duplicated, late, reordered and forged webhook, another buyer's cart and order,
an idempotency key replayed and misused, a price change, the last units. They are the
suite's "examples" phase: a shop that breaks one of these fails in a second, with a
sequence that is already short. What they cannot reach, the exploration does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.machine import GOOD_CARD, UNKNOWN_VARIANT
from conformance.model import DECLINED_CARD
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import PaymentMode

Machine = Any  # an instance of the class build_machine returns


@dataclass(frozen=True)
class Walk:
    name: str
    invariants: tuple[str, ...]
    hosted_only: bool
    run: Callable[[Machine], None]


def _after(machine: Machine, result: Any) -> Any:
    machine.agree()
    return result


def _stocked(machine: Machine) -> tuple[str, str]:
    """A deliverable variant and a location that holds it."""
    target = machine.driver.target
    deliverable = {v.variant_id for p in target.setup.products for v in p.variants
                   if v.deliverable}
    for variant_id, location_id, quantity in target.setup.stock:
        if variant_id in deliverable and quantity > 0:
            return variant_id, location_id
    raise LookupError("the scenario stocks no deliverable variant")


def _hosted(machine: Machine) -> bool:
    return bool(machine.driver.target.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT)


def _method(machine: Machine, declined: bool = False) -> str | None:
    if _hosted(machine):
        return None
    return DECLINED_CARD if declined else GOOD_CARD


def _buyer(machine: Machine, index: int = 0) -> str:
    return str(machine.driver.target.active_buyers[index])


def _ordered(machine: Machine, quantity: int = 1, buyer_index: int = 0,
             keyed: bool = False, declined: bool = False) -> Any:
    """A cart with ``quantity`` units of a stocked variant, ordered by its owner."""
    buyer = _buyer(machine, buyer_index)
    variant_id, location_id = _stocked(machine)
    cart = _after(machine, machine.create_cart(buyer, False))
    _after(machine, machine.do_set_line(cart, variant_id, location_id, quantity))
    return _after(machine, machine.do_place_order(cart, buyer, keyed, None,
                                                  _method(machine, declined)))


def _paid(machine: Machine, outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED) -> Any:
    order = _ordered(machine)
    assert order is not None, "the walk's order was refused"
    return _after(machine, machine.do_pay(order, outcome))


def happy_path(machine: Machine) -> None:
    if _hosted(machine):
        event = _paid(machine)
        _after(machine, machine.do_read_order(event.order, False))
    else:
        order = _ordered(machine)
        _after(machine, machine.do_read_order(order, False))


def declined_payment(machine: Machine) -> None:
    if _hosted(machine):
        event = _paid(machine, PaymentOutcome.FAILED)
        _after(machine, machine.do_read_order(event.order, False))
    else:
        order = _ordered(machine, declined=True)
        _after(machine, machine.do_read_order(order, False))


def duplicate_webhooks(machine: Machine) -> None:
    event = _paid(machine)
    _after(machine, machine.do_redeliver(event, 1))
    _after(machine, machine.do_redeliver(event, 3))
    failed = _paid(machine, PaymentOutcome.FAILED)
    _after(machine, machine.do_redeliver(failed, 2))


def late_and_reordered_events(machine: Machine) -> None:
    event = _paid(machine)
    _after(machine, machine.do_contradict(event, False))
    _after(machine, machine.do_contradict(event, True))
    failed = _paid(machine, PaymentOutcome.FAILED)
    _after(machine, machine.do_contradict(failed, False))


def forged_webhooks(machine: Machine) -> None:
    order = _ordered(machine)
    for forgery in ("unsigned", "wrong_secret", "stale", "tampered"):
        _after(machine, machine.do_forge(order, forgery))
    _after(machine, machine.do_pay(order, PaymentOutcome.SUCCEEDED))


def another_buyer(machine: Machine) -> None:
    order = _ordered(machine)
    cart = order.cart
    _after(machine, machine.do_read_order(order, True))
    for action in ("read", "set_line", "remove_line"):
        _after(machine, machine.do_touch_foreign_cart(cart, action))
    intruder = _buyer(machine, 1)
    _after(machine, machine.do_place_order(cart, intruder, False, None, _method(machine)))


def idempotency_keys(machine: Machine) -> None:
    order = _ordered(machine, keyed=True)
    _after(machine, machine.do_replay_order(order))
    _after(machine, machine.do_reuse_key(order))
    _after(machine, machine.do_replay_order(order))


def availability(machine: Machine) -> None:
    buyer = _buyer(machine)
    variant_id, location_id = _stocked(machine)
    units = machine.model.available(variant_id, location_id)
    cart = _after(machine, machine.create_cart(buyer, False))
    _after(machine, machine.do_set_line(cart, variant_id, location_id, units + 1))
    _after(machine, machine.do_set_line(cart, UNKNOWN_VARIANT, location_id, 1))
    _after(machine, machine.do_set_line(cart, variant_id, location_id, 1))
    total = machine.model.cart(cart.id).lines[variant_id].unit_price
    _after(machine, machine.do_place_order(
        cart, buyer, False, Money(total.amount + 1, total.currency), _method(machine)))
    _after(machine, machine.do_change_price(variant_id, 100))
    _after(machine, machine.do_place_order(cart, buyer, False, None, _method(machine)))
    _after(machine, machine.do_set_line(cart, variant_id, location_id, 1))
    _after(machine, machine.do_place_order(cart, buyer, False, None, _method(machine)))


def last_units(machine: Machine) -> None:
    buyer, other = _buyer(machine), _buyer(machine, 1)
    variant_id, location_id = _stocked(machine)
    units = machine.model.available(variant_id, location_id)
    first = _after(machine, machine.create_cart(buyer, False))
    second = _after(machine, machine.create_cart(other, False))
    _after(machine, machine.do_set_line(first, variant_id, location_id, units))
    _after(machine, machine.do_set_line(second, variant_id, location_id, units))
    one = _after(machine, machine.do_place_order(first, buyer, False, None, _method(machine)))
    two = _after(machine, machine.do_place_order(second, other, False, None, _method(machine)))
    if _hosted(machine):
        for order in (one, two):
            if order is not None and order.session_id:
                _after(machine, machine.do_pay(order, PaymentOutcome.SUCCEEDED))


def inactive_account(machine: Machine) -> None:
    target = machine.driver.target
    inactive = [a.user_id for a in target.setup.accounts if not a.active]
    if not inactive or not target.policies.check_account:
        return
    variant_id, location_id = _stocked(machine)
    cart = _after(machine, machine.create_cart(inactive[0], False))
    _after(machine, machine.do_set_line(cart, variant_id, location_id, 1))
    _after(machine, machine.do_place_order(cart, inactive[0], False, None, _method(machine)))


WALKS: tuple[Walk, ...] = (
    Walk("happy path", ("I1", "I2", "I6", "I7", "I11"), False, happy_path),
    Walk("declined payment", ("I1", "I2", "I7"), False, declined_payment),
    Walk("duplicate webhooks", ("I3",), True, duplicate_webhooks),
    Walk("late and reordered events", ("I4",), True, late_and_reordered_events),
    Walk("forged webhooks", ("I5",), True, forged_webhooks),
    Walk("another buyer", ("I8",), False, another_buyer),
    Walk("idempotency keys", ("I9",), False, idempotency_keys),
    Walk("availability and prices", ("I10",), False, availability),
    Walk("the last units", ("I1", "I10"), False, last_units),
    Walk("inactive account", ("I10",), False, inactive_account),
)

"""The sequential checks: a Hypothesis ``RuleBasedStateMachine`` whose model is the domain core.

Every rule performs one harness operation on the SUT (through the ``Driver``) and the same
operation on the ``ShopModel``, then compares the answers (done or refused, and with which
code) and the state the operation touched. After every rule, an ``@invariant`` compares the
stock and the emails; when an example ends, ``teardown`` compares every order, waits for the
confirmation emails (I7) and checks liveness (I11).

A difference raises ``violation(invariant)``: one exception class per invariant, so that
Hypothesis shrinks each failure without sliding from one invariant to another. Rules that
act on webhooks attribute every difference they cause to their own invariant: a
redelivery that moves stock is an I3 failure, not an I1 one.

Rules are synchronous (Hypothesis cannot run async rules); what a precondition needs is
kept in instance attributes, since preconditions cannot see bundles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import hypothesis.strategies as st
from hypothesis import reject
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from conformance.adapters.base import NotSupported, Outcome, ShopAdapter
from conformance.agreement import (
    check_history,
    check_money,
    check_sequence,
    compare_cart,
    compare_order,
    compare_stock,
)
from conformance.audit import Finding, audit_stock
from conformance.model import DECLINED_CARD, Expect, ShopModel
from conformance.payments import FORGERIES, Forgery
from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome
from reference_impl.domain.policies import PaymentMode

if TYPE_CHECKING:
    from conformance.sequential import SequentialRun

F = TypeVar("F", bound=Callable[..., Any])

#: A variant no shop has: adding it is refused with unknown_variant (I10).
UNKNOWN_VARIANT = "pf-no-such-variant"
#: The gateway double's card that succeeds (synchronous profiles).
GOOD_CARD = "pm_card_visa"
#: Seconds before an order's expiry when the machine stops paying it: the SUT may expire it
#: at any moment, and which came first is the concurrent checks' business.
EXPIRY_MARGIN = 2.0
CART_OPERATIONS = frozenset({"create_cart", "set_line", "remove_line", "touch_foreign_cart",
                             "change_price", "read_order"})


class InvariantViolation(AssertionError):
    invariant = ""


_VIOLATIONS: dict[str, type[InvariantViolation]] = {}


def violation(invariant_id: str) -> type[InvariantViolation]:
    """The exception class of one invariant (Hypothesis tells failures apart by type)."""
    if invariant_id not in _VIOLATIONS:
        _VIOLATIONS[invariant_id] = type(f"{invariant_id}Violation", (InvariantViolation,),
                                         {"invariant": invariant_id})
    return _VIOLATIONS[invariant_id]


@dataclass
class CartRef:
    name: str
    id: str
    owner: str | None  # None: anonymous (seed 003's session cart)
    holder: str  # the buyer who uses it (for an anonymous cart: without a token)

    def __repr__(self) -> str:
        return self.name


@dataclass
class OrderRef:
    name: str
    id: str
    buyer: str
    cart: CartRef
    key: str | None
    expected_total: Money | None
    payment_method: str | None
    session_id: str | None = None
    seen: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return self.name


@dataclass
class EventRef:
    name: str
    event: PaymentEvent
    order: OrderRef

    def __repr__(self) -> str:
        return self.name


def build_machine(run: SequentialRun) -> type[RuleBasedStateMachine]:
    """The state machine class for one run (its strategies come from the scenario)."""
    target = run.target
    setup = target.setup
    policies = target.policies
    profile = target.scenario.profile
    hosted = policies.payment_mode is PaymentMode.HOSTED_CHECKOUT
    variant_ids = [v.variant_id for p in setup.products for v in p.variants]
    locations = [loc.location_id for loc in setup.locations]
    stocked: dict[str, list[str]] = {}
    for variant_id, location_id, _ in setup.stock:
        stocked.setdefault(variant_id, []).append(location_id)
    buyers = list(target.buyers)
    active = list(target.active_buyers)
    anonymous_carts = profile.exposes.cart_in_session or not profile.requires_auth
    # Emails are read from the mail sink, or however the adapter reads them itself.
    readable = (target.adapter.mailbox is not None
                or type(target.adapter).emails is not ShopAdapter.emails)
    emails_matter = policies.send_confirmation_email and "I7" in run.checked and readable

    variants = st.sampled_from([*variant_ids, UNKNOWN_VARIANT])
    quantities = st.one_of(st.integers(1, 3), st.sampled_from(["all", "over"]))

    class PurchaseFlow(RuleBasedStateMachine):
        carts = Bundle("carts")
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            run.before_example()
            self.driver = run.driver
            self.recording = self.driver.restart()
            self.model = ShopModel(setup, policies)
            self.cart_refs: list[CartRef] = []
            self.order_refs: list[OrderRef] = []
            self.event_refs: list[EventRef] = []
            self.exercised: set[str] = set()
            self.attribution: str | None = None
            self.failed = False
            self.keys = 0
            self.price_changes = 0
            self.stock_may_change = True
            self.supports: dict[str, bool] = dict(run.supports)

        # -- bookkeeping ---------------------------------------------------------------------

        def _begin(self, operation: str, args: dict[str, Any], result: str | None = None,
                   attribution: str | None = None, budget: bool = True) -> None:
            if budget:
                run.check_budget()
            # Cart operations move no stock in any profile: the stock is compared after the
            # next step that may (and at the end), which still names I1 for a stray move.
            self.stock_may_change = self.stock_may_change or operation not in CART_OPERATIONS
            self.attribution = attribution
            self.step = self.recording.step(operation, args, result)

        def _outcome(self, step_expect: Expect, outcome: Outcome) -> None:
            self.step.expected = step_expect.describe()
            self.step.observed = "ok" if outcome.ok else f"refused {outcome.code}"

        def _check(self, findings: list[Finding], relabel: str | None = None) -> None:
            if relabel:
                findings = [Finding(relabel, f.subject, f.message) for f in findings]
            findings = [f for f in findings if f.invariant in run.checked]
            if not findings:
                return
            if self.recording.current is not None:
                self.recording.current.findings += [str(f) for f in findings]
            first = findings[0]
            self.failed = True
            run.record_failure(first.invariant, findings, self.recording)
            if first.invariant in run.silenced:
                # Already shown failing with a shorter sequence: look for other failures.
                reject()
            raise violation(first.invariant)(str(first))

        def _refusal_findings(self, invariant_id: str, expect: Expect, outcome: Outcome,
                              what: str) -> list[Finding]:
            if outcome.status >= 500:
                return [Finding("C1", what, f"HTTP {outcome.status}: {outcome.body!r:.200}")]
            if expect.ok and not outcome.ok:
                return [Finding(invariant_id, what, f"refused ({outcome.code}, HTTP "
                                                    f"{outcome.status}); the flow allows it")]
            if not expect.ok and outcome.ok:
                return [Finding(invariant_id, what, f"done; expected it refused with "
                                                    f"{expect.code}")]
            if not expect.ok and outcome.code != expect.code:
                return [Finding(invariant_id, what, f"refused with {outcome.code}; expected "
                                                    f"{expect.code}")]
            return []

        def _exercise(self, *invariant_ids: str) -> None:
            self.exercised.update(i for i in invariant_ids if i in run.checked)

        def _actor(self, cart: CartRef) -> str | None:
            return cart.owner

        def _other_buyer(self, buyer: str | None) -> str:
            others = [b for b in active if b != buyer]
            return others[0] if others else active[0]

        # -- looking at orders -----------------------------------------------------------------

        def _observe_order(self, order: OrderRef, status_invariant: str,
                           relabel: str | None = None) -> dict[str, Any] | None:
            outcome = self.driver.observe_order(order.buyer, order.id)
            if not outcome.ok:
                self._check([Finding(relabel or "I8", order.name,
                                     f"its buyer cannot read it: {outcome.code}")])
                return None
            sut = self.driver.adapter.order_of(outcome)
            self._reconcile_expiry(order, sut)
            model_order = self.model.order(order.id)
            assert model_order is not None
            status = str(sut.get("status"))
            if not order.seen or order.seen[-1] != status:
                order.seen.append(status)
            findings = check_sequence(order.seen, order.name)
            findings += check_money(sut, order.name)
            if status == OrderStatus.PENDING_PAYMENT and model_order.status is not (
                    OrderStatus.PENDING_PAYMENT):
                findings += compare_order(sut, model_order, order.name, "I11")
            else:
                findings += compare_order(sut, model_order, order.name, status_invariant)
            self._check(findings, relabel)
            return sut

        def _reconcile_expiry(self, order: OrderRef, sut: dict[str, Any]) -> None:
            """The SUT expires orders on its own clock: once one is past its TTL, the model
            expires it too when the SUT shows it did (I11 is judged at teardown)."""
            model_order = self.model.order(order.id)
            if (model_order is None or not model_order.is_pending
                    or str(sut.get("status")) != OrderStatus.CANCELLED
                    or model_order.expires_at is None):
                return
            if time.time() >= model_order.expires_at - EXPIRY_MARGIN:
                self.model.expire(order.id, max(time.time(), model_order.expires_at))

        def _near_expiry(self, order: OrderRef) -> bool:
            model_order = self.model.order(order.id)
            return bool(model_order and model_order.expires_at is not None
                        and model_order.expires_at - time.time() < EXPIRY_MARGIN)

        def _compare_cart(self, cart: CartRef, invariant_id: str,
                          relabel: str | None = None) -> None:
            outcome = self.driver.observe_cart(cart.owner, cart.id)
            if not outcome.ok:
                self._check([Finding(relabel or "I8", cart.name,
                                     f"its owner cannot read it: {outcome.code}")])
                return
            self._check(compare_cart(self.driver.adapter.cart_of(outcome),
                                     self.model.cart(cart.id), cart.name, invariant_id), relabel)

        def _paid_from(self, cart: CartRef) -> bool:
            return any(o.cart is cart and (m := self.model.order(o.id)) is not None
                       and not m.is_pending for o in self.order_refs)

        # -- carts -------------------------------------------------------------------------

        @rule(target=carts, buyer=st.sampled_from(buyers),
              anonymous=st.booleans() if anonymous_carts else st.just(False))
        def create_cart(self, buyer: str, anonymous: bool) -> CartRef:
            name = self.driver.names.new("cart")
            self._begin("create_cart", {"buyer": buyer, "anonymous": anonymous}, name)
            owner = None if anonymous else buyer
            outcome, cart_id = self.driver.create_cart(owner)
            expect = Expect(True)
            self._outcome(expect, outcome)
            self._check(self._refusal_findings("I10", expect, outcome, name))
            assert cart_id is not None
            self.model.create_cart(cart_id, owner, time.time())
            ref = CartRef(name, cart_id, owner, buyer)
            self.cart_refs.append(ref)
            return ref

        @rule(cart=carts, variant_id=variants, location=st.integers(0, 3), quantity=quantities)
        def set_line(self, cart: CartRef, variant_id: str, location: int,
                     quantity: int | str) -> None:
            places = stocked.get(variant_id, [])
            location_id = places[location] if location < len(places) else (
                locations[location % len(locations)])
            available = self.model.available(variant_id, location_id)
            amount = quantity if isinstance(quantity, int) else (
                max(available, 1) if quantity == "all" else available + 1)
            self.do_set_line(cart, variant_id, location_id, min(int(amount), 999))

        def do_set_line(self, cart: CartRef, variant_id: str, location_id: str,
                        quantity: int) -> None:
            self._begin("set_line", {"actor": cart.owner, "cart": cart.name,
                                     "variant_id": variant_id, "location_id": location_id,
                                     "quantity": quantity})
            actor = self._actor(cart)
            outcome = self.driver.set_line(actor, cart.id, variant_id, location_id, quantity)
            expect = self.model.set_line(cart.id, actor, variant_id, location_id, quantity,
                                         time.time())
            self._outcome(expect, outcome)
            self._exercise("I10")
            self._check(self._refusal_findings("I10", expect, outcome,
                                               f"{cart.name}: {quantity} x {variant_id}"))
            self._compare_cart(cart, "I7" if self._paid_from(cart) else "I10")

        @rule(cart=carts, variant_id=variants)
        def remove_line(self, cart: CartRef, variant_id: str) -> None:
            self._begin("remove_line", {"actor": cart.owner, "cart": cart.name,
                                        "variant_id": variant_id})
            outcome = self.driver.remove_line(cart.owner, cart.id, variant_id)
            expect = self.model.remove_line(cart.id, cart.owner, variant_id, time.time())
            self._outcome(expect, outcome)
            self._check(self._refusal_findings("I10", expect, outcome,
                                               f"{cart.name}: remove {variant_id}"))
            self._compare_cart(cart, "I7" if self._paid_from(cart) else "I10")

        @precondition(lambda self: any(c.owner for c in self.cart_refs))
        @rule(data=st.data(), action=st.sampled_from(["read", "set_line", "remove_line"]))
        def touch_foreign_cart(self, data: st.DataObject, action: str) -> None:
            cart = data.draw(st.sampled_from([c for c in self.cart_refs if c.owner]),
                             label="cart")
            self.do_touch_foreign_cart(cart, action)

        def do_touch_foreign_cart(self, cart: CartRef, action: str) -> None:
            """I8: another buyer reads or changes a cart that is not theirs: not found."""
            intruder = self._other_buyer(cart.owner)
            variant_id = variant_ids[0]
            location_id = (stocked.get(variant_id) or locations)[0]
            self._begin("touch_foreign_cart", {"actor": intruder, "cart": cart.name,
                                               "action": action, "variant_id": variant_id,
                                               "location_id": location_id}, attribution="I8")
            if action == "read":
                outcome = self.driver.read_cart(intruder, cart.id)
                expect = self.model.read_cart(cart.id, intruder)
            elif action == "set_line":
                outcome = self.driver.set_line(intruder, cart.id, variant_id, location_id, 1)
                expect = self.model.set_line(cart.id, intruder, variant_id, location_id, 1,
                                             time.time())
            else:
                outcome = self.driver.remove_line(intruder, cart.id, variant_id)
                expect = self.model.remove_line(cart.id, intruder, variant_id, time.time())
            self._outcome(expect, outcome)
            self._exercise("I8")
            findings = self._refusal_findings("I8", expect, outcome,
                                              f"{intruder} on {cart.name} ({action})")
            if outcome.ok and action == "read":
                findings.append(Finding("I8", cart.name, f"{intruder} read another buyer's "
                                                         "cart"))
            self._check(findings)
            self._compare_cart(cart, "I8", relabel="I8")

        # -- orders ------------------------------------------------------------------------

        @rule(target=orders, cart=carts, by_other=st.booleans(), keyed=st.booleans(),
              total=st.sampled_from(["none", "exact", "wrong"]), declined=st.booleans(),
              anonymous_buyer=st.sampled_from(active))
        def place_order(self, cart: CartRef, by_other: bool, keyed: bool, total: str,
                        declined: bool, anonymous_buyer: str) -> Any:
            buyer = cart.owner or anonymous_buyer
            if by_other and cart.owner:
                buyer = self._other_buyer(cart.owner)
            model_cart = self.model.cart(cart.id)
            expected = None
            if total != "none" and model_cart is not None and model_cart.lines:
                lines = list(model_cart.lines.values())
                exact = sum(ln.unit_price.amount * ln.quantity for ln in lines)
                expected = Money(exact + (1 if total == "wrong" else 0),
                                 lines[0].unit_price.currency)
            method = (DECLINED_CARD if declined else GOOD_CARD) if not hosted else None
            ref = self.do_place_order(cart, buyer, keyed, expected, method)
            return multiple() if ref is None else ref

        def do_place_order(self, cart: CartRef, buyer: str, keyed: bool,
                           expected_total: Money | None, method: str | None,
                           key: str | None = None) -> OrderRef | None:
            if keyed and key is None:
                self.keys += 1
                key = f"pf-key-{self.keys}"
            name = self.driver.names.new("order")
            self._begin("place_order", {
                "buyer": buyer, "cart": cart.name, "key": key,
                "expected_total": expected_total.to_json() if expected_total else None,
                "payment_method": method}, name)
            outcome = self.driver.place_order(buyer, cart.id, key=key,
                                              expected_total=expected_total,
                                              payment_method=method)
            order_id = str(self.driver.adapter.order_of(outcome)["order_id"]) if outcome.ok \
                else f"pf-refused-{name}"
            expect = self.model.place_order(order_id=order_id, cart_id=cart.id, buyer=buyer,
                                            key=key, expected_total=expected_total,
                                            payment_method=method, now=time.time())
            self._outcome(expect, outcome)
            invariant_id = "I10"
            if not expect.ok and expect.code == "not_found":
                invariant_id = "I8"
            # I11 for a synchronous profile: the order must leave pending_payment at once.
            self._exercise("I6", "I10", "I2", *(() if hosted else ("I11",)))
            if cart.owner and buyer != cart.owner:
                self._exercise("I8")
            if key:
                self._exercise("I9")
            self._check(self._refusal_findings(invariant_id, expect, outcome,
                                               f"{buyer} orders {cart.name}"))
            if not outcome.ok:
                return None
            placed = expect.value
            if not placed.created:
                self._check([Finding("I9", name, "a fresh key answered with an existing "
                                                 "order")])
            ref = OrderRef(name, order_id, buyer, cart, key, expected_total, method)
            sut = self.driver.adapter.order_of(outcome)
            if hosted:
                ref.session_id = self.driver.payment_session(buyer, sut)
                if ref.session_id:
                    self.model.attach_session(order_id, ref.session_id, "")
                    paid = self.driver.target.payments.session_amount(ref.session_id)
                    if paid is not None and paid != placed.order.total:
                        self._check([Finding("I6", name, f"gateway session for "
                                             f"{paid.amount} {paid.currency}, order total "
                                             f"{placed.order.total.amount}")])
            self.order_refs.append(ref)
            ref.seen.append(str(sut.get("status")))
            model_order = self.model.order(order_id)
            assert model_order is not None
            stuck = (str(sut.get("status")) == OrderStatus.PENDING_PAYMENT
                     and not model_order.is_pending)
            self._check(check_history(sut, name) + check_money(sut, name)
                        + compare_order(sut, model_order, name, "I11" if stuck else "I2"))
            if not hosted:
                self._compare_cart(cart, "I7")
            return ref

        @initialize(target=orders, buyer=st.sampled_from(active),
                    variant_id=st.sampled_from(sorted(stocked) or variant_ids),
                    quantity=st.integers(1, 2), keyed=st.booleans(), declined=st.booleans(),
                    paid=st.sampled_from([None, PaymentOutcome.SUCCEEDED,
                                          PaymentOutcome.FAILED]) if hosted else st.none())
        def first_order(self, buyer: str, variant_id: str, quantity: int, keyed: bool,
                        declined: bool, paid: PaymentOutcome | None) -> Any:
            """Every example starts with an order, often paid or declined already, so that
            the webhook rules have something to act on from the first step."""
            ref = self.quick_order(buyer, variant_id, quantity, keyed, declined)
            if paid is not None and isinstance(ref, OrderRef) and ref in self._payable():
                self.do_pay(ref, paid)
            return ref

        @rule(target=orders, buyer=st.sampled_from(active),
              variant_id=st.sampled_from(sorted(stocked) or variant_ids),
              quantity=st.integers(1, 2), keyed=st.booleans(), declined=st.booleans())
        def quick_order(self, buyer: str, variant_id: str, quantity: int, keyed: bool,
                        declined: bool) -> Any:
            """A fresh cart with one line, ordered at once: the path to payments, in one rule
            (recorded as its three operations)."""
            cart: CartRef = self.create_cart(buyer, False)  # type: ignore[assignment]
            location_id = (stocked.get(variant_id) or locations)[0]
            self.do_set_line(cart, variant_id, location_id, quantity)
            method = (DECLINED_CARD if declined else GOOD_CARD) if not hosted else None
            ref = self.do_place_order(cart, buyer, keyed, None, method)
            return multiple() if ref is None else ref

        @precondition(lambda self: any(o.key for o in self.order_refs))
        @rule(data=st.data())
        def replay_order(self, data: st.DataObject) -> None:
            order = data.draw(st.sampled_from([o for o in self.order_refs if o.key]),
                              label="order")
            self.do_replay_order(order)

        def do_replay_order(self, order: OrderRef) -> None:
            """I9: the same Idempotency-Key and body again: the same order, nothing new."""
            self._begin("replay_order", {"order": order.name, "buyer": order.buyer,
                                         "cart": order.cart.name, "key": order.key,
                                         "expected_total": order.expected_total.to_json()
                                         if order.expected_total else None,
                                         "payment_method": order.payment_method},
                        attribution="I9")
            outcome = self.driver.place_order(order.buyer, order.cart.id, key=order.key,
                                              expected_total=order.expected_total,
                                              payment_method=order.payment_method)
            expect = self.model.place_order(order_id=f"pf-replay-{order.name}",
                                            cart_id=order.cart.id, buyer=order.buyer,
                                            key=order.key, expected_total=order.expected_total,
                                            payment_method=order.payment_method,
                                            now=time.time())
            self._outcome(expect, outcome)
            self._exercise("I9")
            self._check(self._refusal_findings("I9", expect, outcome,
                                               f"replay of {order.name}"))
            if outcome.ok:
                got = str(self.driver.adapter.order_of(outcome).get("order_id"))
                if got != order.id:
                    self._check([Finding("I9", order.name, f"the same key and body created "
                                                           f"another order ({got})")])

        @precondition(lambda self: any(o.key for o in self.order_refs))
        @rule(data=st.data())
        def reuse_key(self, data: st.DataObject) -> None:
            order = data.draw(st.sampled_from([o for o in self.order_refs if o.key]),
                              label="order")
            self.do_reuse_key(order)

        def do_reuse_key(self, order: OrderRef) -> None:
            """I9: the same key with another body is refused (idempotency_key_reused)."""
            base = order.expected_total or Money(0, policies.currency)
            other = Money(base.amount + 7, base.currency)
            self._begin("reuse_key", {"order": order.name, "buyer": order.buyer,
                                      "cart": order.cart.name, "key": order.key,
                                      "expected_total": other.to_json(),
                                      "payment_method": order.payment_method},
                        attribution="I9")
            outcome = self.driver.place_order(order.buyer, order.cart.id, key=order.key,
                                              expected_total=other,
                                              payment_method=order.payment_method)
            expect = self.model.place_order(order_id=f"pf-reuse-{order.name}",
                                            cart_id=order.cart.id, buyer=order.buyer,
                                            key=order.key, expected_total=other,
                                            payment_method=order.payment_method,
                                            now=time.time())
            self._outcome(expect, outcome)
            self._exercise("I9")
            self._check(self._refusal_findings("I9", expect, outcome,
                                               f"{order.key} with another body"))

        @precondition(lambda self: bool(self.order_refs))
        @rule(data=st.data(), as_other=st.booleans())
        def read_order(self, data: st.DataObject, as_other: bool) -> None:
            order = data.draw(st.sampled_from(self.order_refs), label="order")
            self.do_read_order(order, as_other)

        def do_read_order(self, order: OrderRef, as_other: bool) -> None:
            actor = self._other_buyer(order.buyer) if as_other else order.buyer
            self._begin("read_order", {"actor": actor, "order": order.name},
                        attribution="I8" if as_other else None)
            if actor == order.buyer:
                self._exercise("I2", "I6")
                self._observe_order(order, "I2")
                return
            outcome = self.driver.read_order(actor, order.id)
            expect = Expect(False, "not_found")
            self._outcome(expect, outcome)
            self._exercise("I8")
            self._check(self._refusal_findings("I8", expect, outcome,
                                               f"{actor} reads {order.name}"))

        @precondition(lambda self: any(self._cancellable()))
        @rule(data=st.data())
        def cancel_order(self, data: st.DataObject) -> None:
            self.do_cancel_order(data.draw(st.sampled_from(self._cancellable()), label="order"))

        def _cancellable(self) -> list[OrderRef]:
            if not self.supports.get("cancel", True):
                return []
            return [o for o in self.order_refs if (m := self.model.order(o.id)) is not None
                    and m.is_pending and not self._near_expiry(o)]

        def do_cancel_order(self, order: OrderRef) -> None:
            self._begin("cancel_order", {"buyer": order.buyer, "order": order.name})
            try:
                outcome = self.driver.cancel_order(order.buyer, order.id)
            except NotSupported:
                self.supports["cancel"] = run.supports["cancel"] = False
                return
            expect = self.model.cancel_order(order.id, order.buyer, time.time())
            self._outcome(expect, outcome)
            self._exercise("I2", "I1")
            self._check(self._refusal_findings("I2", expect, outcome, f"cancel {order.name}"))
            self._observe_order(order, "I2")

        def _in_carts(self) -> list[str]:
            """Variants some cart holds: a price change matters only for those."""
            held = {v for c in self.cart_refs if (m := self.model.cart(c.id)) for v in m.lines}
            return sorted(held)

        @precondition(lambda self: self.supports.get("price", True)
                      and self.price_changes < 2 and bool(self._in_carts()))
        @rule(data=st.data(), delta=st.sampled_from([100, -50, 1]))
        def change_price(self, data: st.DataObject, delta: int) -> None:
            self.do_change_price(data.draw(st.sampled_from(self._in_carts()), label="variant"),
                                 delta)

        def do_change_price(self, variant_id: str, delta: int) -> None:
            """The harness changes a price; carts holding the old one must not check out at
            it (seed 001's 409 "prices changed", I10)."""
            old = self.model.price(variant_id)
            assert old is not None
            new = Money(max(1, old.amount + delta), old.currency)
            self.price_changes += 1
            self._begin("change_price", {"variant_id": variant_id, "amount": new.amount,
                                         "currency": new.currency})
            try:
                self.driver.set_price(variant_id, new)
            except NotSupported:
                self.supports["price"] = run.supports["price"] = False
                return
            self.model.set_price(variant_id, new)

        # -- payments ----------------------------------------------------------------------

        def _payable(self) -> list[OrderRef]:
            return [o for o in self.order_refs if o.session_id
                    and (m := self.model.order(o.id)) is not None and m.is_pending
                    and not self._near_expiry(o)]

        @precondition(lambda self: hosted and bool(self._payable()))
        @rule(data=st.data(), outcome=st.sampled_from([PaymentOutcome.SUCCEEDED,
                                                        PaymentOutcome.FAILED]))
        def pay(self, data: st.DataObject, outcome: PaymentOutcome) -> None:
            self.do_pay(data.draw(st.sampled_from(self._payable()), label="order"), outcome)

        def do_pay(self, order: OrderRef, outcome: PaymentOutcome) -> EventRef:
            """The buyer completes the hosted checkout; the gateway's webhook settles it."""
            name = self.driver.names.new("event")
            self._begin("pay", {"order": order.name, "outcome": outcome.value}, name)
            model_order = self.model.order(order.id)
            assert model_order is not None and order.session_id is not None
            delivered = self.driver.pay(order.id, order.session_id, outcome, model_order.total)
            self.driver.names.events[name] = delivered.event
            expect = self.model.apply_event(delivered.event, time.time())
            self.step.expected = f"acknowledged ({expect.value})"
            self.step.observed = f"HTTP {delivered.status}"
            self._exercise("I2", "I6", "I7", "I1", "I11")
            if delivered.status is not None and not 200 <= delivered.status < 300:
                invariant_id = "C1" if delivered.status >= 500 else "I5"
                self._check([Finding(invariant_id, name, f"a correctly signed webhook got "
                                                         f"HTTP {delivered.status}")])
            ref = EventRef(name, delivered.event, order)
            self.event_refs.append(ref)
            self._observe_order(order, "I2")
            self._compare_cart(order.cart, "I7")
            return ref

        @precondition(lambda self: bool(self.event_refs))
        @rule(data=st.data(), copies=st.sampled_from([1, 1, 3]))
        def redeliver(self, data: st.DataObject, copies: int) -> None:
            self.do_redeliver(data.draw(st.sampled_from(self.event_refs), label="event"), copies)

        def do_redeliver(self, ref: EventRef, copies: int = 1) -> None:
            """I3: the same event again (``copies`` > 1: that many at once)."""
            self._begin("redeliver", {"event": ref.name, "copies": copies}, attribution="I3")
            if copies == 1:
                answers: list[Outcome | None] = [self.driver.deliver(ref.event)]
            else:
                answers = self.driver.deliver_concurrently(ref.event, copies)
            expect = self.model.apply_event(ref.event, time.time())
            self.step.expected = f"acknowledged ({expect.value})"
            self.step.observed = ", ".join("no answer" if a is None else f"HTTP {a.status}"
                                           for a in answers)
            self._exercise("I3")
            findings = []
            for answer in answers:
                if answer is not None and not answer.ok:
                    findings.append(Finding("I3", ref.name, f"a redelivered event got HTTP "
                                                            f"{answer.status}, not 2xx"))
            self._check(findings)
            self._observe_order(ref.order, "I3", relabel="I3")
            if policies.clear_cart_on_payment:
                self._compare_cart(ref.order.cart, "I3", relabel="I3")

        def _settled_with_event(self) -> list[EventRef]:
            return [e for e in self.event_refs if (m := self.model.order(e.order.id)) is not None
                    and not m.is_pending]

        @precondition(lambda self: bool(self._settled_with_event()))
        @rule(data=st.data(), older=st.booleans())
        def contradict(self, data: st.DataObject, older: bool) -> None:
            ref = data.draw(st.sampled_from(self._settled_with_event()), label="event")
            self.do_contradict(ref, older)

        def do_contradict(self, ref: EventRef, older: bool) -> None:
            """I4: an event that contradicts the one applied (a failure after the success, or
            the reverse), fresh or created earlier and delivered late (reordered)."""
            outcome = (PaymentOutcome.FAILED if ref.event.outcome is PaymentOutcome.SUCCEEDED
                       else PaymentOutcome.SUCCEEDED)
            name = self.driver.names.new("event")
            self._begin("late_event", {"event": ref.name, "outcome": outcome.value,
                                       "older": older}, name, attribution="I4")
            late = self.driver.target.payments.later(ref.event, outcome, older=older)
            self.driver.names.events[name] = late
            answer = self.driver.deliver(late)
            expect = self.model.apply_event(late, time.time())
            self.step.expected = f"acknowledged ({expect.value})"
            self.step.observed = f"HTTP {answer.status}"
            self._exercise("I4")
            if not answer.ok:
                self._check([Finding("I4", name, f"a late authentic event got HTTP "
                                                 f"{answer.status}, not 2xx")])
            self._observe_order(ref.order, "I4", relabel="I4")
            if policies.clear_cart_on_payment:
                self._compare_cart(ref.order.cart, "I4", relabel="I4")

        @precondition(lambda self: hosted and any(o.session_id for o in self.order_refs))
        @rule(data=st.data(), forgery=st.sampled_from(FORGERIES))
        def forge(self, data: st.DataObject, forgery: Forgery) -> None:
            order = data.draw(st.sampled_from([o for o in self.order_refs if o.session_id]),
                              label="order")
            self.do_forge(order, forgery)

        def do_forge(self, order: OrderRef, forgery: Forgery) -> None:
            """I5: a success event for the order, unsigned, mis-signed, stale or tampered."""
            self._begin("forged_event", {"order": order.name, "outcome": "succeeded",
                                         "forgery": forgery}, attribution="I5")
            model_order = self.model.order(order.id)
            assert model_order is not None and order.session_id is not None
            event = self.driver.target.payments.signer.event(
                order_id=order.id, session_id=order.session_id,
                outcome=PaymentOutcome.SUCCEEDED, amount=model_order.total)
            answer = self.driver.deliver(event, forgery)
            self.step.expected = "refused invalid_signature (HTTP 400)"
            self.step.observed = f"HTTP {answer.status} {answer.code or ''}".strip()
            self._exercise("I5")
            if answer.ok:
                self._check([Finding("I5", order.name, f"a {forgery} webhook was accepted "
                                                       f"(HTTP {answer.status})")])
            elif answer.status >= 500:
                self._check([Finding("C1", order.name, f"a {forgery} webhook got HTTP "
                                                       f"{answer.status}")])
            self._observe_order(order, "I5", relabel="I5")
            if policies.clear_cart_on_payment:
                self._compare_cart(order.cart, "I5", relabel="I5")

        # -- after every step ----------------------------------------------------------------

        @invariant()
        def agree(self) -> None:
            """Stock as the core says (I1), and no email too many (I7)."""
            if self.failed:
                return
            findings: list[Finding] = []
            if self.stock_may_change:
                self.stock_may_change = False
                self._exercise("I1")
                levels = self.driver.stock()
                findings += compare_stock(levels, self.model.stock())
                findings += audit_stock(levels, [], target.received())
            if emails_matter:
                for order in self.order_refs:
                    model_order = self.model.order(order.id)
                    count = self.driver.emails(order.id)
                    allowed = 1 if model_order and model_order.status is OrderStatus.PAID else 0
                    if count > allowed:
                        findings.append(Finding("I7", order.name, f"{count} confirmation "
                                                f"emails for a {model_order and model_order.status}"
                                                f" order"))
            self._check(findings, self.attribution)

        def teardown(self) -> None:
            try:
                if not self.failed and not run.stopping:
                    self._final_checks()
            finally:
                self.driver.pause()
                run.after_example(self.exercised)

        def _final_checks(self) -> None:
            self._begin("final checks", {}, budget=False)
            self.agree()
            sut_orders = {str(o["order_id"]): o for o in self.driver.orders()}
            findings: list[Finding] = []
            for order in self.order_refs:
                sut = sut_orders.get(order.id)
                if sut is None:
                    findings.append(Finding("I10", order.name, "the shop no longer lists it"))
                    continue
                self._reconcile_expiry(order, sut)
            known = {o.id for o in self.order_refs}
            for order_id, sut in sut_orders.items():
                if order_id not in known:
                    findings.append(Finding("I9" if any(o.key for o in self.order_refs)
                                            else "I10", order_id,
                                            f"an order the harness was never given "
                                            f"({sut.get('status')})"))
            for order in self.order_refs:
                model_order = self.model.order(order.id)
                sut = sut_orders.get(order.id)
                if sut is None or model_order is None:
                    continue
                if (model_order.is_pending and model_order.expires_at is not None
                        and time.time() > model_order.expires_at + run.liveness_grace):
                    self._exercise("I11")
                    findings.append(Finding("I11", order.name, "still pending_payment "
                                            f"{time.time() - model_order.expires_at:.1f} s "
                                            "after its expiry"))
                findings += compare_order(sut, model_order, order.name, "I2")
            if emails_matter and not findings:
                paid = [o.id for o in self.order_refs
                        if (m := self.model.order(o.id)) and m.status is OrderStatus.PAID]
                counts = self.driver.wait_for_emails(paid, run.email_timeout)
                for order in self.order_refs:
                    model_order = self.model.order(order.id)
                    want = 1 if order.id in counts else 0
                    got = counts.get(order.id, self.driver.emails(order.id))
                    if got != want and model_order is not None:
                        findings.append(Finding("I7", order.name, f"{got} confirmation "
                                                f"emails for a {model_order.status.value} "
                                                f"order, expected {want}"))
                if paid:
                    self._exercise("I7")
            self._check(findings)

    PurchaseFlow.__name__ = PurchaseFlow.__qualname__ = "PurchaseFlow"
    return PurchaseFlow

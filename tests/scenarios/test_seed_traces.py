"""Each seed's reference implementation, as a real server, against the seed's own diagram.

Per seed, one shop process in the seed's profile (``serve --scenario``) with the gateway
double in its dialect and the mail sink (``conformance.demo.seed_harness``). A buyer walks
the happy path and the failure path (``conformance.demo.walk``), and two traces of each
must conform to the seed's diagram through the scenario file's mapping:

- the full trace: what the shop recorded itself (``GET /admin/trace``, the buyer's session
  and its cart), plus the buyer paying at the gateway, against the whole diagram;
- the boundary trace the harness recorded (its own calls, the gateway double's log, the mail
  sink), against the diagram projected onto its observable participants (black box).

The refusals the diagrams draw are checked as prefixes (seed 001's 409, seed 002's "Not
enough inventory"). Negative tests take recorded traces apart to show that the check fails,
and says where.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest

from conformance.boundary import boundary_trace, recording, shop_trace
from conformance.demo import SEEDS_DIR, PathResult, SeedHarness, seed_harness, walk
from reference_impl.domain.trace import Actor, MessageKind, TraceEvent
from scenarios import Scenario

pytestmark = pytest.mark.slow

SEEDS = sorted(SEEDS_DIR.glob("seed_*.yaml"))


@dataclass(frozen=True)
class Refusal:
    """A buyer session that a drawn alternative refuses (not paid, not declined)."""

    answer: str | None  # the refusal's error code; None if the shop did not refuse
    trace: list[TraceEvent]
    boundary: list[TraceEvent]


@dataclass
class Walked:
    scenario: Scenario
    happy: PathResult
    failure: PathResult
    refusal: Refusal | None = None
    extra: list[PathResult] = field(default_factory=list)

    @property
    def seed(self) -> str:
        return str(self.scenario.profile.seed)

    @property
    def paths(self) -> tuple[PathResult, PathResult]:
        return self.happy, self.failure


def _refused_add(harness: SeedHarness) -> Refusal:
    """Seed 002: "Error: Not enough inventory" on one more unit than the location holds."""
    adapter, scenario = harness.adapter, harness.scenario
    buyer = next(u.id for u in scenario.catalog.users if u.active)
    level = min((s for s in adapter.stock() if s["on_hand"] > 0), key=lambda s: s["on_hand"])
    session = f"session_{uuid.uuid4().hex[:16]}"
    with recording(adapter, session) as recorder:
        cart_id = str(adapter.create_cart(buyer).body["cart_id"])
        refused = adapter.set_line(buyer, cart_id, level["variant_id"], level["location_id"],
                                   level["on_hand"] + 1)
    return Refusal(refused.code, shop_trace(adapter, session, cart_id),
                   boundary_trace(recorder, [], []))


def _refused_checkout(harness: SeedHarness) -> tuple[Refusal, PathResult]:
    """Seed 001: the 409 when items are no longer available at checkout.

    The buyer puts every unit of a variant in the cart; another buyer pays for one meanwhile
    (stock after payment), so the checkout finds one unit short.
    """
    adapter = harness.adapter
    buyer = next(u.id for u in harness.scenario.catalog.users if u.active)
    level = max(adapter.stock(), key=lambda s: s["on_hand"])  # the variant ``walk`` buys
    session = f"session_{uuid.uuid4().hex[:16]}"
    with recording(adapter, session) as recorder:
        cart_id = str(adapter.create_cart(buyer).body["cart_id"])
        added = adapter.set_line(buyer, cart_id, level["variant_id"], level["location_id"],
                                 level["on_hand"])
        assert added.ok, added.body
    other = walk(harness, succeed=True)  # records its own session: not inside ours
    with recording(adapter, session) as again:
        refused = adapter.place_order(buyer, cart_id)
    recorder.events += again.events
    return (Refusal(refused.code, shop_trace(adapter, session, cart_id),
                    boundary_trace(recorder, [], [])), other)


@functools.cache
def walked_seed(number: str) -> Walked:
    """Seed ``number``'s shop, walked once per test session; the processes end with it."""
    (path,) = (p for p in SEEDS if p.name.startswith(f"seed_{number}_"))
    with seed_harness(path) as harness:
        result = Walked(harness.scenario, walk(harness, succeed=True),
                        walk(harness, succeed=False))
        if number == "002":
            result.refusal = _refused_add(harness)
        elif number == "001":
            result.refusal, other = _refused_checkout(harness)
            result.extra.append(other)
    return result


@pytest.fixture(params=[p.name[5:8] for p in SEEDS])
def walked(request: pytest.FixtureRequest) -> Walked:
    return walked_seed(request.param)


# -- the paths end as the profile says ------------------------------------------------------


def test_happy_path_pays_and_failure_path_is_declined(walked: Walked) -> None:
    for path in (*walked.paths, *walked.extra):
        assert path.problems == [], path.problems
        assert path.stock_ok
    assert (walked.happy.status, walked.failure.status) == ("paid", "payment_failed")


# -- both traces conform to the seed's diagram ---------------------------------------------


@pytest.mark.parametrize("name", ["happy", "failure"])
def test_full_trace_conforms_to_the_whole_diagram(walked: Walked, name: str) -> None:
    path = getattr(walked, name)
    verdict = walked.scenario.check_trace(path.trace)
    assert verdict.ok, f"{walked.seed} {name}: {verdict.reason}"
    assert any(e.message == "create_order" for e in verdict.checked)
    # The shop's own steps are checked, not only the buyer's requests: every full trace
    # has messages between two of the shop's actors, or between the shop and its database.
    inside = [e for e in verdict.checked if Actor.BUYER not in (e.source, e.target)]
    assert inside or walked.seed == "003", verdict.checked  # 003 draws only the requests


@pytest.mark.parametrize("name", ["happy", "failure"])
def test_boundary_trace_conforms_to_the_projected_diagram(walked: Walked, name: str) -> None:
    path = getattr(walked, name)
    verdict = walked.scenario.check_trace(path.boundary, black_box=True)
    assert verdict.ok, f"{walked.seed} {name}: {verdict.reason}"
    assert {e.correlation_id for e in path.boundary} == {path.boundary[0].correlation_id}


@pytest.mark.parametrize("name", ["happy", "failure"])
def test_the_shop_records_what_the_harness_saw(walked: Walked, name: str) -> None:
    # The shop's full trace seen as a black box and the harness's own recording are two
    # independent accounts of the boundary; the diagram checks the same messages in both
    # (seed 001's email may reach the sink after the webhook's answer: counted, not ordered).
    path = getattr(walked, name)
    scenario = walked.scenario
    from_shop = scenario.check_trace(path.trace, black_box=True)
    seen = scenario.check_trace(path.boundary, black_box=True)
    assert from_shop.ok, from_shop.reason

    def steps(events: tuple[TraceEvent, ...]) -> Counter[tuple[str, str, str]]:
        return Counter((e.source, e.target, e.message) for e in events)

    assert steps(from_shop.checked) == steps(seen.checked)


def test_browsing_joins_the_buyers_trace() -> None:
    # Seed 003 browses before any cart exists: those steps are filed under the session id
    # the harness sent (X-Correlation-Id), the rest under the cart, and read together.
    trace = walked_seed("003").happy.trace
    session, cart = trace[0].correlation_id, trace[-1].correlation_id
    assert session.startswith("session_") and cart.startswith("cart")
    assert [e.message for e in trace if e.correlation_id == session] == [
        "list_products", "list_products", "view_product", "view_product"
    ]


# -- the refusals a diagram draws ------------------------------------------------------------


def _refused_at_the_boundary(walked: Walked, answer: str) -> Refusal:
    refusal = walked.refusal
    assert refusal is not None and refusal.answer == answer
    scenario = walked.scenario
    boundary = scenario.check_trace(refusal.boundary, black_box=True, complete=False)
    assert boundary.ok, boundary.reason
    assert boundary.checked[-1].message == answer
    ended = scenario.check_trace(refusal.boundary, black_box=True)
    assert not ended.ok and ended.reason.startswith("trace ended early")
    return refusal


def test_seed_002_not_enough_inventory_is_a_conforming_prefix() -> None:
    walked = walked_seed("002")
    refusal = _refused_at_the_boundary(walked, "insufficient_inventory")
    full = walked.scenario.check_trace(refusal.trace, complete=False)
    assert full.ok, full.reason
    assert [e.message for e in full.checked] == [
        "add_to_cart", "get_variant", "get_variant", "check_inventory", "check_inventory",
        "insufficient_inventory",
    ]


def test_seed_001_conflict_conforms_at_the_boundary_only() -> None:
    walked = walked_seed("001")
    refusal = _refused_at_the_boundary(walked, "items_unavailable")
    # The documented deviation (line 35): the shop checks, then refuses; the diagram draws
    # the 409 instead of the check, so the full trace cannot take that branch.
    assert walked.scenario.check_trace(refusal.trace, complete=False).reason == (
        "after #3 Database -> Storefront: check_inventory, expected one of: "
        "Storefront -> Database: save_order (line 37: Backend -> Database: Create order "
        'with status "Pending Payment"), saw #4 Storefront -> Buyer: items_unavailable'
    )


# -- the check can fail, and says where --------------------------------------------------------


def _at(trace: list[TraceEvent], step: tuple[str, str, str]) -> int:
    return next(i for i, e in enumerate(trace) if (e.source, e.target, e.message) == step)


def _without(trace: list[TraceEvent], step: tuple[str, str, str]) -> list[TraceEvent]:
    index = _at(trace, step)
    return trace[:index] + trace[index + 1:]


def _twice(trace: list[TraceEvent], step: tuple[str, str, str]) -> list[TraceEvent]:
    index = _at(trace, step)
    return trace[:index + 1] + trace[index:]


#: Each hosted seed and the line where its diagram draws the gateway's callback.
@pytest.mark.parametrize(("number", "line"), [("000", 70), ("001", 49), ("004", 44)])
def test_a_missing_webhook_is_rejected_where_it_was_expected(number: str, line: int) -> None:
    walked = walked_seed(number)
    scenario, path = walked.scenario, walked.happy
    full = scenario.check_trace(_without(path.trace, ("Gateway", "Payments", "payment_webhook")))
    assert not full.ok
    assert "complete_payment, expected one of: Gateway -> " in full.reason
    assert f": payment_webhook (line {line}: " in full.reason
    boundary = scenario.check_trace(
        _without(path.boundary, ("Gateway", "Storefront", "payment_webhook")), black_box=True)
    assert not boundary.ok
    assert f"Gateway -> Storefront: payment_webhook (line {line}: " in boundary.reason


#: Per seed, one step said twice where the diagram says it once: (in the boundary trace?, step).
TWICE = {
    "000": (False, ("Gateway", "Payments", "payment_webhook")),  # the callback, redelivered
    "001": (False, ("Orders", "Mail", "send_confirmation")),  # two confirmation emails
    "002": (True, ("Storefront", "Buyer", "create_order")),  # "Order Confirmation" twice
    "003": (True, ("Buyer", "Storefront", "create_order")),  # checked out twice
    "004": (True, ("Gateway", "Storefront", "payment_webhook")),  # the webhook, redelivered
}


def test_a_step_said_twice_is_rejected_at_the_second(walked: Walked) -> None:
    black_box, step = TWICE[walked.seed]
    path = walked.happy
    doubled = _twice(path.boundary if black_box else path.trace, step)
    verdict = walked.scenario.check_trace(doubled, black_box=black_box)
    assert not verdict.ok
    assert verdict.position is not None and verdict.saw is not None
    first = verdict.checked[verdict.position - 1]
    assert (first.source, first.target, first.message) == (
        verdict.saw.source, verdict.saw.target, verdict.saw.message)
    assert step[2] == verdict.saw.message
    if walked.seed == "001":
        assert verdict.reason == (
            "after #16 Storefront -> Mail: send_confirmation, expected one of: "
            "Storefront -> Gateway: payment_webhook (line 64: Backend -> PaymentGateway: 200 OK)"
            ", saw #17 Storefront -> Mail: send_confirmation"
        )


def test_an_answer_before_its_drawn_place_is_rejected() -> None:
    # Seed 000's answer to the checkout is late on purpose (a late deviation): it may come
    # after the account check and the stock update, not before what is drawn ahead of it.
    walked = walked_seed("000")
    scenario, trace = walked.scenario, walked.happy.trace
    answer = trace[_at(trace, ("Orders", "Buyer", "create_order"))]
    rest = [e for e in trace if e is not answer]
    asked = _at(rest, ("Buyer", "Orders", "create_order"))
    early = [*rest[: asked + 1], answer, *rest[asked + 1:]]
    assert scenario.check_trace(early).reason == (
        "after #5 Buyer -> Orders: create_order, expected one of: "
        "Orders -> Cart: get_cart (line 23: Order Management -> Shopping Cart: Request cart "
        "details), saw #6 Orders -> Buyer: create_order"
    )


def test_stock_sold_for_a_declined_payment_is_rejected() -> None:
    # Seed 001 decrements the stock only in the success branch, with the cart cleared and the
    # email: a declined payment that sells the stock matches neither branch.
    walked = walked_seed("001")
    scenario, trace = walked.scenario, walked.failure.trace
    status = _at(trace, ("Orders", "Database", "update_order_status"))
    at, cart = trace[status].at, trace[status].correlation_id
    sold = [
        *trace[:status],
        TraceEvent("Orders", "Inventory", "sell_stock", cart, at),
        TraceEvent("Inventory", "Orders", "sell_stock", cart, at, MessageKind.REPLY),
        *trace[status:],
    ]
    reason = scenario.check_trace(sold).reason
    assert "expected one of: Storefront -> Database: clear_cart (line 57: " in reason
    assert reason.endswith("saw #14 Storefront -> Gateway: payment_webhook")

"""A buyer's session as a Locust ``MarkovTaskSet``: browse, view, add, check out, pay.

Each step is one state of the Markov chain ``load.plan.funnel_chain`` builds from the
scenario's funnel; from each the buyer goes on with the funnel's conditional probability
or leaves. A browsing session (TPC-W's browse interactions) walks the same chain up to
``view``. Requests are the adapter's ``HttpCall``s (the operation vocabulary shared with the
conformance suite), sent with the user's ``FastHttpUser`` client and read by ``interpret``:

* success: a 2xx;
* a refusal the flow documents (``EXPECTED_REFUSALS``): a success too, under its own
  request name, ``create_order [items_unavailable]``;
* anything else: a failure, named after the operation.

Payment completes at the gateway double (``POST /v1/checkout/sessions/{id}/complete``) as
the buyer would; the double then sends the shop its signed webhook. Seeds 002 and 003 pay
inside checkout (``synchronous``), so their chain has no ``pay`` state.

Imported only by the locustfiles.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import count
from typing import Any, ClassVar, NoReturn, Protocol, cast
from urllib.parse import urlencode

import gevent
import numpy as np
from locust.user.markov_taskset import MarkovTaskSet, MarkovTaskSetMeta

from conformance.adapters import HttpCall, Outcome, ShopAdapter, interpret
from load.config import LoadConfig
from load.metrics import RunMetrics
from load.plan import (
    LEAVE,
    draw_basket,
    expected_refusals,
    funnel_chain,
    funnel_steps,
    mix_weights,
    scenario_has_gateway_faults,
)
from reference_impl.domain.policies import PaymentMode
from scenarios.schema import Scenario

#: Where a buyer who leaves of their own accord got to, as a session end.
_LEFT_AFTER = {None: "bounced", "browse": "browsed", "view": "browsed", "add": "left_cart",
               "checkout": "ordered"}
_SHORT_OF_STOCK = frozenset({"items_unavailable", "insufficient_inventory"})


def _query(params: Mapping[str, Any]) -> str:
    """``params`` as a query string; the users send the same few over and over."""
    try:
        return _cached_query(tuple(params.items()))
    except TypeError:  # an unhashable value (a list): urlencode spells it all the same
        return urlencode(params)


@lru_cache(maxsize=256)
def _cached_query(items: tuple[tuple[str, Any], ...]) -> str:
    return urlencode(items)


class PrefetchedAuth:
    """``adapter.auth`` answering from headers minted before the run, so that no Locust
    process logs buyers in during the load; unknown buyers go to the adapter's own."""

    def __init__(self, headers: dict[str, dict[str, str]],
                 fallback: Callable[[str | None], dict[str, str]]) -> None:
        self._headers = headers
        self._fallback = fallback

    def __call__(self, buyer: str | None) -> dict[str, str]:
        found = self._headers.get(buyer) if buyer is not None else None
        # A copy: call builders add their own headers (Idempotency-Key) to it.
        return dict(found) if found is not None else dict(self._fallback(buyer))


class FlowContext:
    """What every session in one Locust process shares, decided once from the scenario."""

    def __init__(self, config: LoadConfig, scenario: Scenario, adapter: ShopAdapter,
                 metrics: RunMetrics) -> None:
        self.config = config
        self.adapter = adapter
        self.metrics = metrics
        if config.auth:
            # Instance attribute over the method: every *_call builder calls self.auth().
            adapter.auth = PrefetchedAuth(config.auth, adapter.auth)  # type: ignore[method-assign]
        buyers = scenario.buyers
        self.hosted = scenario.policies().payment_mode is PaymentMode.HOSTED_CHECKOUT
        self.link_later = scenario.profile.exposes.checkout_link == "fetched_later"
        self.expected = expected_refusals(scenario_has_gateway_faults(scenario))
        self.products = [p.id for p in scenario.catalog.products]
        self.stock = [(s.variant, s.location) for s in scenario.catalog.stock]
        self.lines, self.quantity = buyers.lines, buyers.quantity
        self.think = buyers.think_time if config.think_scale > 0 else None
        self.abandon = buyers.abandonment.probability
        self.patience = buyers.abandonment.patience
        self.buyers = list(config.buyers) or [u.id for u in scenario.catalog.users] or ["b0"]
        self.complete_url = f"{config.gateway_url.rstrip('/')}/v1/checkout/sessions/{{}}/complete"
        steps = funnel_steps(buyers.funnel, hosted=self.hosted)
        self.chains = {"browse": funnel_chain(steps, last="view"), "order": funnel_chain(steps)}
        self.mix = mix_weights(scenario, config.mix)
        #: The catalog pages the shop does not have: its adapter's builder raised
        #: NotImplementedError (the session-cookie shop of tests/conformance has none).
        self.pages_missing: set[str] = set()

    def page_call(self, build: Callable[..., HttpCall], *args: Any) -> HttpCall | None:
        """The call for a catalog page, or None where the shop has no such page: a buyer
        of that shop skips the step (browsing is optional; carts and orders are not)."""
        name = build.__name__
        if name in self.pages_missing:
            return None
        try:
            return build(*args)
        except NotImplementedError:
            self.pages_missing.add(name)
            return None

    def think_seconds(self, rng: np.random.Generator) -> float:
        return self.think.sample(rng) * self.config.think_scale if self.think else 0.0


class SessionUser(Protocol):
    """What a session needs from its user (``locustfile.Buyer``)."""

    rng: Any
    np_rng: np.random.Generator

    def before_session(self) -> None: ...


#: Idempotency keys unique across processes and machines: a token drawn at import (shared
#: by the children ``--processes`` forks, hence the pid), then a counter.
_KEY_PREFIX = f"load-{uuid.uuid4().hex[:12]}"
_idempotency = count()


class Session(MarkovTaskSet):
    """One buyer's visit; ``session_class`` makes a concrete chain of it."""

    abstract = True
    kind: ClassVar[str] = ""
    ctx: ClassVar[FlowContext]

    # -- the session's life ---------------------------------------------------------------

    def on_start(self) -> None:
        user: SessionUser = self.user  # type: ignore[assignment]
        user.before_session()
        self.rng = user.rng
        self.np_rng = user.np_rng
        ctx = self.ctx
        self.buyer = self.rng.choice(ctx.buyers) if self.kind == "order" else None
        impatient = ctx.patience is not None and self.rng.random() < ctx.abandon
        self.patience = ctx.patience.sample(self.np_rng) if impatient and ctx.patience else None
        self.reached: str | None = None
        self.think_next = False
        self.sent_in_step = False
        self.cart_id = ""
        self.order: dict[str, Any] = {}

    def on_stop(self) -> None:
        # A session refers to itself through bound methods: the chain's current state and
        # the next task already queued. Both dropped, a finished session is freed at once,
        # not left to the cyclic collector (which otherwise collects every session).
        self._task_queue.clear()
        self.__dict__.pop("current", None)

    def wait_time(self) -> float:
        # Think between two steps, not after the silent arrive state.
        return self.ctx.think_seconds(self.np_rng) if self.think_next else 0.0

    def step(self, name: str, do: Callable[[Session], None] | None) -> None:
        """Run one state of the chain, ``do`` its request(s) (the generated Markov tasks
        call this)."""
        self.think_next = False
        self.sent_in_step = False
        if do is None:
            if name == LEAVE:  # only when the session started with leaving (all bounce)
                self.end(_LEFT_AFTER.get(self.reached, "browsed"))
            return  # arrive
        if self.patience is None:
            do(self)
            self.reached = name
        else:
            started = time.monotonic()
            do(self)
            self.reached = name
            if time.monotonic() - started > self.patience:
                self.end("abandoned")
        # The next state is drawn before this one runs: leave now rather than after one
        # more round of Locust's scheduling.
        if getattr(self.current, "__name__", LEAVE) == LEAVE:
            self.end(_LEFT_AFTER.get(name, "browsed"))
        self.think_next = True

    def end(self, how: str) -> NoReturn:
        """Count how the session ended and leave it (the user then waits for the next)."""
        self.ctx.metrics.session_ended(self.kind, how)
        self.interrupt(reschedule=False)
        raise AssertionError("interrupt() returned")  # it raises InterruptTaskSet

    def refused(self, outcome: Outcome) -> NoReturn:
        if outcome.code in _SHORT_OF_STOCK:
            self.end("turned_away")
        op = outcome.call.op if outcome.call else ""
        self.end("refused" if outcome.code in self.ctx.expected.get(op, ()) else "error")

    # -- sending --------------------------------------------------------------------------

    def send(self, call: HttpCall, *, body: bool = False) -> Outcome:
        """Send ``call`` with the user's client; decode the body only when it is needed.

        The answer is read as ``ShopAdapter.send`` reads it (``interpret``, then the
        adapter's ``read``); its headers are kept only where the adapter may read them.
        """
        path = f"{call.path}?{_query(call.params)}" if call.params else call.path
        if self.sent_in_step:
            # One yield per request, as Locust's wait gives between steps: a step that sends
            # several (the cart's lines; payment, then the confirmation page) lets the other
            # users run in between. Sending again at once, the user more often finds no
            # answer yet and waits through the hub, which costs more (strace against the
            # benchmark's stub: 6% of first reads came back empty without it, 0.1% with).
            gevent.sleep(0)
        self.sent_in_step = True
        with self.client.request(call.method, path, name=call.op, catch_response=True,
                                 json=call.json, data=call.content,
                                 headers=call.headers) as response:
            status = response.status_code
            ok = 200 <= status < 300
            decoded: Any = None
            headers: dict[str, str] | None = None
            if body or not ok:
                if response.content:
                    try:
                        # From the bytes: Response.text would guess the encoding first.
                        decoded = json.loads(response.content)
                    except ValueError:
                        decoded = response.text
                if response.headers is not None:
                    headers = {k.lower(): v for k, v in response.headers.items()}
            outcome = self.ctx.adapter.read(interpret(
                call, status, decoded, response.request_meta["response_time"] / 1000, headers))
            if outcome.ok:
                response.success()
            elif outcome.code in self.ctx.expected.get(call.op, ()):
                response.request_meta["name"] = f"{call.op} [{outcome.code}]"
                response.success()
            else:
                error = getattr(response, "error", None)
                response.failure(f"HTTP {status} {outcome.code}" if status else repr(error))
        return outcome

    # -- the steps ------------------------------------------------------------------------

    def do_browse(self) -> None:
        call = self.ctx.page_call(self.ctx.adapter.list_products_call, self.buyer)
        if call is not None:
            self.send(call)

    def do_view(self) -> None:
        product = self.rng.choice(self.ctx.products)
        call = self.ctx.page_call(self.ctx.adapter.view_product_call, self.buyer, product)
        if call is not None:
            self.send(call)

    def do_add(self) -> None:
        ctx, adapter = self.ctx, self.ctx.adapter
        created = self.send(adapter.create_cart_call(self.buyer), body=True)
        if not created.ok:
            self.end("error")
        self.cart_id = adapter.cart_id(created)
        added = 0
        for variant, location, quantity in draw_basket(ctx.stock, ctx.lines, ctx.quantity,
                                                       self.rng):
            line = self.send(adapter.set_line_call(self.buyer, self.cart_id, variant, location,
                                                   quantity))
            added += line.ok
        if not added:
            self.end("turned_away")

    def do_checkout(self) -> None:
        adapter = self.ctx.adapter
        assert self.buyer is not None
        key = f"{_KEY_PREFIX}-{os.getpid()}-{next(_idempotency)}"
        placed = self.send(adapter.place_order_call(self.buyer, self.cart_id,
                                                    idempotency_key=key), body=True)
        if not placed.ok:
            self.refused(placed)
        self.order = adapter.order_of(placed)
        if not self.ctx.hosted:
            # Seeds 002 and 003: the charge happened inside checkout.
            status = self.order.get("status")
            self.end("paid" if status == "paid" else
                     "declined" if status == "payment_failed" else "ordered")

    def do_pay(self) -> None:
        ctx, adapter = self.ctx, self.ctx.adapter
        assert self.buyer is not None
        order_id = str(self.order["order_id"])
        session_id = (self.order.get("payment") or {}).get("session_id")
        if ctx.link_later or not session_id:
            # Seed 000 fetches the link later; elsewhere the gateway was down at checkout.
            link = self.send(adapter.payment_link_call(self.buyer, order_id), body=True)
            if not link.ok:
                self.refused(link)
            session_id = adapter.payment_link_of(link).get("session_id")
        if not session_id:
            self.end("ordered")  # still no session: the order waits for its expiry
        paid = self.send(HttpCall("complete_payment", "POST", ctx.complete_url.format(session_id),
                                  {"outcome": "succeeded"}), body=True)
        if not paid.ok:
            self.refused(paid)
        succeeded = isinstance(paid.body, dict) and paid.body.get("outcome") == "succeeded"
        # The buyer lands on the shop's confirmation page (seeds 001, 004).
        self.send(adapter.read_order_call(self.buyer, order_id))
        self.end("paid" if succeeded else "declined")


def _state(name: str, transitions: dict[str, int]) -> Any:
    do = getattr(Session, f"do_{name}", None)  # None for arrive and leave

    def run(self: Session) -> None:
        self.step(name, do)

    run.__name__ = run.__qualname__ = name
    run.transitions = dict(transitions)  # type: ignore[attr-defined]
    return run


def session_class(kind: str, ctx: FlowContext) -> type[Session]:
    """A concrete ``Session`` whose Markov states are ``ctx.chains[kind]``."""
    chain = ctx.chains[kind]
    # Locust starts the chain at its first state: arrive, or the first step.
    class_dict: dict[str, Any] = {"abstract": False, "kind": kind, "ctx": ctx,
                                  "__module__": __name__}
    class_dict |= {name: _state(name, transitions) for name, transitions in chain.items()}
    name = f"{kind.capitalize()}Session"
    return cast(type[Session], MarkovTaskSetMeta(name, (Session,), class_dict))


def session_tasks(ctx: FlowContext) -> dict[type[Session], int]:
    """The user's tasks: each session kind weighted by the mix."""
    return {session_class(kind, ctx): weight for kind, weight in ctx.mix.items()}


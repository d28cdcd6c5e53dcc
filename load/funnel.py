"""A buyer's sessions as a Locust ``MarkovTaskSet``: browse, view, add, check out, pay.

Each step is one state of the Markov chain ``load.plan.funnel_chain`` builds from the
scenario's funnel; from each the buyer goes on with the funnel's conditional probability
or leaves. A browsing session (TPC-W's browse interactions) walks the same chain up to
``view``. One task set runs all of a user's sessions: each kind's chain, joined where the
buyer leaves, whence the next session's kind is drawn with the mix's weights.

Requests are the adapter's ``HttpCall``s (the operation vocabulary shared with the
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
from load.retrying import is_transient, pause_before
from reference_impl.domain.policies import PaymentMode
from scenarios.baskets import LinePicker
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
        self.stock = LinePicker(scenario.catalog.stock)
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
    client: Any

    def before_session(self) -> None: ...

    def wait_time(self) -> float: ...


#: Idempotency keys unique across processes and machines: a token drawn at import (shared
#: by the children ``--processes`` forks, hence the pid), then a counter.
_KEY_PREFIX = f"load-{uuid.uuid4().hex[:12]}"
_idempotency = count()


class SessionEnded(Exception):
    """Raised by ``Session.end`` to leave the step that ended its session."""


class Session(MarkovTaskSet):
    """One buyer's sessions, one after another; ``session_class`` makes the concrete chain.

    Its states are every session kind's chain side by side (``browse_view``, ``order_view``,
    ``order_add``...), all joined at ``leave``, whose transitions are the mix. A session
    ends when the buyer leaves (or is turned away, refused...); the next starts, after the
    user's wait between sessions (think, or the next arrival), at the first state of a kind
    drawn with the mix's weights.

    One task set for the user's whole life rather than one per session, as a user's tasks
    would be: Locust builds a nested task set anew for each and leaves it through two
    exceptions (InterruptTaskSet, then RescheduleTask), some 45k instructions a session
    (``perf stat``), a quarter of what the flow itself cost per request.
    """

    abstract = True
    ctx: ClassVar[FlowContext]

    # -- the sessions' life ---------------------------------------------------------------

    def on_start(self) -> None:
        user: SessionUser = self.user  # type: ignore[assignment]
        self.rng = user.rng
        self.np_rng = user.np_rng
        # Looked up once: per request they were two property calls (TaskSet.client) and
        # three attribute lookups.
        self.http = user.client
        self.read = self.ctx.adapter.read
        #: The running session's kind; empty between two sessions.
        self.kind = ""
        self.next_visitor()  # the first session's first state

    def next_visitor(self) -> None:
        """Take the transition out of ``leave`` at once: the next session's first state."""
        self.current = getattr(self, LEAVE)
        self.get_next_task()

    def begin(self, kind: str) -> None:
        """A session of ``kind`` starts (its first state runs)."""
        user: SessionUser = self.user  # type: ignore[assignment]
        user.before_session()
        ctx = self.ctx
        self.kind = kind
        self.buyer = self.rng.choice(ctx.buyers) if kind == "order" else None
        impatient = ctx.patience is not None and self.rng.random() < ctx.abandon
        self.patience = ctx.patience.sample(self.np_rng) if impatient and ctx.patience else None
        self.reached: str | None = None
        self.cart_id = ""
        self.order: dict[str, Any] = {}

    def wait_time(self) -> float:
        if not self.kind:  # between two sessions: the user's (think, or the next arrival)
            return self.user.wait_time()
        # Think between two steps, not after the silent arrive state.
        return self.ctx.think_seconds(self.np_rng) if self.think_next else 0.0

    def step(self, kind: str, name: str, do: Callable[[Session], None] | None) -> None:
        """Run one state of ``kind``'s chain, ``do`` its request(s) (the generated Markov
        tasks call this)."""
        if not self.kind:
            self.begin(kind)
        self.think_next = False
        self.sent_in_step = False
        try:
            if do is not None:
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
                self.end(_LEFT_AFTER.get(self.reached, "browsed"))
        except SessionEnded:
            return
        self.think_next = do is not None

    def end(self, how: str) -> NoReturn:
        """Count how the session ended and leave it (the user then waits for the next)."""
        self.close(how)
        self.next_visitor()
        raise SessionEnded

    def close(self, how: str) -> None:
        self.ctx.metrics.session_ended(self.kind, how)
        self.kind = ""

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
        op = call.op
        with self.http.request(call.method, path, name=op, catch_response=True,
                               json=call.json, data=call.content,
                               headers=call.headers) as response:
            status = response.status_code
            decoded: Any = None
            headers: dict[str, str] | None = None
            if body or not 200 <= status < 300:
                content = response.content
                if content:
                    try:
                        # From the bytes: Response.text would guess the encoding first.
                        decoded = json.loads(content)
                    except ValueError:
                        decoded = response.text
                if response.headers is not None:
                    headers = {k.lower(): v for k, v in response.headers.items()}
            meta = response.request_meta
            outcome = self.read(interpret(call, status, decoded, meta["response_time"] / 1000,
                                          headers))
            if outcome.ok:
                response.success()
            elif outcome.code in self.ctx.expected.get(op, ()):
                meta["name"] = f"{op} [{outcome.code}]"
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
        ctx, adapter = self.ctx, self.ctx.adapter
        assert self.buyer is not None
        key = f"{_KEY_PREFIX}-{os.getpid()}-{next(_idempotency)}"
        call = adapter.place_order_call(self.buyer, self.cart_id, idempotency_key=key)
        placed = self.send(call, body=True)
        retry = 0
        while retry < ctx.config.retries and is_transient(placed.status):
            # The same call, so the same Idempotency-Key: the shop may have made the order.
            retry += 1
            ctx.metrics.retries["sent"] += 1
            gevent.sleep(pause_before(retry, ctx.config.retry_backoff,
                                      (placed.headers or {}).get("retry-after"),
                                      self.rng.random()))
            placed = self.send(call, body=True)
        if retry:
            # Recovered: a definite answer at last, the order or a refusal (the first try
            # may have failed before the order was made, and stock ran out meanwhile).
            ctx.metrics.retries["ran_out" if is_transient(placed.status) else "recovered"] += 1
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


def _state_name(kind: str, name: str) -> str:
    return name if name == LEAVE else f"{kind}_{name}"


def _state(kind: str, name: str, transitions: dict[str, int]) -> Any:
    do = getattr(Session, f"do_{name}", None)  # None for arrive

    def run(self: Session) -> None:
        self.step(kind, name, do)

    run.__name__ = run.__qualname__ = _state_name(kind, name)
    run.transitions = {  # type: ignore[attr-defined]
        _state_name(kind, to): weight for to, weight in transitions.items()}
    return run


def session_class(ctx: FlowContext) -> type[Session]:
    """The concrete ``Session``: the chain of each kind in ``ctx.mix`` (``ctx.chains``),
    ``leave`` going on to each kind's first state with the mix's weight."""
    def leave(self: Session) -> None:
        """Run only after a step raised (a user error) before its buyer could leave: the
        session ends here. Otherwise a step whose next state is leave ends its session at
        once, and takes the transition out of leave then (``Session.next_visitor``)."""
        if self.kind:
            self.close(_LEFT_AFTER.get(self.reached, "browsed"))

    transitions_out: dict[str, int] = {}
    leave.__name__ = leave.__qualname__ = LEAVE
    leave.transitions = transitions_out  # type: ignore[attr-defined]
    # leave first: Locust checks from the first state that every other is reachable.
    class_dict: dict[str, Any] = {"abstract": False, "ctx": ctx, "__module__": __name__,
                                  LEAVE: leave}
    for kind, weight in ctx.mix.items():
        chain = ctx.chains[kind]
        # Locust starts a chain at its first state: arrive, or the first step.
        transitions_out[_state_name(kind, next(iter(chain)))] = weight
        for name, transitions in chain.items():
            if name != LEAVE:
                state = _state(kind, name, transitions)
                class_dict[state.__name__] = state
    return cast(type[Session], MarkovTaskSetMeta("BuyerSessions", (Session,), class_dict))

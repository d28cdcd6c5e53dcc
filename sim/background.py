"""The shop's background workers: reservation expiry and the confirmation-email outbox.

Both are the reference implementation's ``Runtime.run_background_once`` in virtual time:

* expiry sleeps until the core says it next needs waking (``expiry.next_wakeup``, the
  aioquic ``get_timer`` idea) and then calls ``expiry.expire_due``; with nothing to expire
  it waits until an order with an expiry is placed, so an idle shop schedules no events;
* the mail worker is woken when a payment settles, spends one ``latency.mail`` on its SMTP
  session, and drains the outbox with ``notifications.deliver_outbox`` (at least once; the
  order id lets I7 count exactly-once).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from reference_impl.domain.trace import Actor, Msg
from reference_impl.service import expiry, notifications
from reference_impl.service.ports import OutboxMessage
from reference_impl.service.settle import CONFIRMATION_EMAIL
from scenarios.schema import Distribution
from sim.shop import Shop
from sim.streams import BufferedRandom

#: Outbox messages sent per wake-up; the simulated SMTP session has no batch limit to model.
MAIL_BATCH = 1_000_000


def expiry_worker(shop: Shop) -> Generator[simpy.Event, Any, None]:
    env, uow = shop.env, shop.uow
    while True:
        wake_at = expiry.next_wakeup(uow)
        if wake_at is None:
            shop.expiry_wakeup = env.event()
            yield shop.expiry_wakeup
            shop.expiry_wakeup = None
            continue
        if wake_at > env.now:
            yield env.timeout(wake_at - env.now)
            continue  # a payment may have settled it meanwhile: ask again
        yield from shop.database.serve()
        if not expiry.expire_due(uow, policies=shop.policies, now=env.now, trace=shop.trace()):
            due = expiry.next_wakeup(uow)
            if due is not None and due <= env.now:
                # The core says an order is due but will not expire it: waking again at
                # once would loop for ever at this instant.
                raise RuntimeError(f"expiry due at {due} but nothing expired at {env.now}")


def mail_worker(
    shop: Shop, latency: Distribution | None, rng: BufferedRandom
) -> Generator[simpy.Event, Any, None]:
    env, obs = shop.env, shop.obs

    def send(message: OutboxMessage) -> None:
        obs.emails[message.order_id] += 1
        cart_id = shop.cart_of_order.get(message.order_id, "")
        shop.trace(cart_id).send_async(Actor.MAIL, Actor.BUYER, Msg.SEND_CONFIRMATION)

    while True:
        shop.mail_wakeup = env.event()
        yield shop.mail_wakeup
        if latency is not None:
            yield env.timeout(latency.sample(rng))
        notifications.deliver_outbox(
            shop.uow, send, now=env.now, kind=CONFIRMATION_EMAIL, limit=MAIL_BATCH
        )

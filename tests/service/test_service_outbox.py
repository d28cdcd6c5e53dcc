"""Draining the outbox: a message is marked sent only after it was sent (I7, at least once)."""

from __future__ import annotations

import pytest

from reference_impl.service.memory import InMemoryUnitOfWork
from reference_impl.service.notifications import deliver_outbox
from reference_impl.service.ports import OutboxMessage
from reference_impl.service.settle import CONFIRMATION_EMAIL, REFUND
from tests.service.shop import PROFILES, Shop

LEASE = 30.0


class Mailer:
    def __init__(self, fail_for: set[str] | None = None) -> None:
        self.fail_for = fail_for or set()
        self.sent: list[str] = []

    def __call__(self, message: OutboxMessage) -> None:
        if message.order_id in self.fail_for:
            raise ConnectionError("SMTP sink unreachable")
        self.sent.append(message.order_id)


@pytest.fixture
def shop() -> Shop:
    """Two paid orders, so two confirmations waiting."""
    shop = Shop(PROFILES["001_on_payment_hosted"])
    for buyer in ("alice", "bob"):
        shop.pay(shop.checkout(("poster-a2", 1), buyer=buyer))
    return shop


def _deliver(shop: Shop, send: Mailer, kind: str = CONFIRMATION_EMAIL) -> int:
    return deliver_outbox(shop.uow, send, now=shop.now, kind=kind, lease=LEASE)


def test_sends_and_marks_each_message_once(shop: Shop) -> None:
    mailer = Mailer()
    shop.now += 1
    assert _deliver(shop, mailer) == 2
    assert mailer.sent == [m.order_id for m in shop.outbox(CONFIRMATION_EMAIL)]
    assert all(m.sent_at == shop.now and m.attempts == 1 for m in shop.outbox())
    assert _deliver(shop, mailer) == 0  # nothing pending any more
    assert len(mailer.sent) == 2


def test_a_failed_send_stays_pending_and_is_retried(shop: Shop) -> None:
    first = shop.outbox(CONFIRMATION_EMAIL)[0]
    flaky = Mailer(fail_for={first.order_id})
    assert _deliver(shop, flaky) == 1
    failed, sent = shop.outbox(CONFIRMATION_EMAIL)
    assert (failed.sent_at, failed.attempts) == (None, 1)
    assert sent.sent_at is not None

    shop.now += 60
    healthy = Mailer()
    assert _deliver(shop, healthy) == 1
    assert healthy.sent == [first.order_id]  # only the one that failed
    failed = shop.outbox(CONFIRMATION_EMAIL)[0]
    assert (failed.sent_at, failed.attempts) == (shop.now, 2)


def test_a_crash_after_sending_sends_again_once_the_lease_ran_out(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At least once: the receiver deduplicates by order id (I7).
    first, second = (m.order_id for m in shop.outbox(CONFIRMATION_EMAIL))
    mailer = Mailer()

    def crash(*_args: object) -> None:
        raise OSError("process killed")

    with monkeypatch.context() as patch:
        patch.setattr(shop.uow.outbox, "mark_sent", crash)
        with pytest.raises(OSError):
            _deliver(shop, mailer)
    assert all(m.sent_at is None for m in shop.outbox())
    assert mailer.sent == [first]

    shop.now += 10  # the crashed worker's claim still holds the first message
    assert _deliver(shop, mailer) == 1
    assert mailer.sent == [first, second]

    shop.now += LEASE
    assert _deliver(shop, mailer) == 1
    assert mailer.sent == [first, second, first]
    assert all(m.sent_at is not None for m in shop.outbox())


def test_a_message_claimed_by_another_worker_is_not_sent_twice(shop: Shop) -> None:
    first, second = (m.order_id for m in shop.outbox(CONFIRMATION_EMAIL))
    other_worker = Mailer()
    other_uow = InMemoryUnitOfWork(shop.store)

    class SlowMailer(Mailer):
        def __call__(self, message: OutboxMessage) -> None:
            # While this worker is sending, a second process drains the same outbox.
            if not self.sent:
                deliver_outbox(other_uow, other_worker, now=shop.now, kind=CONFIRMATION_EMAIL)
            super().__call__(message)

    mailer = SlowMailer()
    assert _deliver(shop, mailer) == 1
    assert mailer.sent == [first]
    assert other_worker.sent == [second]
    assert all(m.sent_at is not None for m in shop.outbox())


def test_only_the_requested_kind_is_delivered() -> None:
    shop = Shop(PROFILES["001_on_payment_hosted"], stock=(("mug-red", "wh-north", 1),))
    a, b = shop.checkout(("mug-red", 1)), shop.checkout(("mug-red", 1), buyer="bob")
    shop.pay(a)
    shop.pay(b)  # oversold: refunded
    mailer = Mailer()
    assert _deliver(shop, mailer) == 1
    assert mailer.sent == [a.order_id]
    (refund,) = shop.outbox(REFUND)
    assert refund.sent_at is None
    assert _deliver(shop, mailer, kind=REFUND) == 1
    assert mailer.sent == [a.order_id, b.order_id]


def test_limit(shop: Shop) -> None:
    mailer = Mailer()
    assert deliver_outbox(shop.uow, mailer, now=shop.now, kind=CONFIRMATION_EMAIL, limit=1) == 1
    assert len([m for m in shop.outbox() if m.sent_at is None]) == 1

"""Draining the outbox: confirmation emails (seed 001's EmailService), at least once."""

from __future__ import annotations

from collections.abc import Callable

from reference_impl.service.ports import OutboxMessage, UnitOfWork


def deliver_outbox(
    uow: UnitOfWork,
    send: Callable[[OutboxMessage], None],
    *,
    now: float,
    kind: str,
    limit: int = 50,
    lease: float = 30.0,
) -> int:
    """Send pending messages of ``kind``; a message is marked sent only after ``send`` returns.

    A crash between the two sends it again: at least once, which is why every message
    carries its order id for the receiver to deduplicate (I7).
    """
    with uow:
        batch = uow.outbox.pending(kind, limit)
    sent = 0
    for message in batch:
        with uow:
            claimed = uow.outbox.claim(message.message_id, now, lease)
            uow.commit()
        if not claimed:
            continue  # another server process is sending it
        try:
            send(message)
        except Exception:
            with uow:
                uow.outbox.mark_failed(message.message_id)
                uow.commit()
            continue
        with uow:
            uow.outbox.mark_sent(message.message_id, now)
            uow.commit()
        sent += 1
    return sent

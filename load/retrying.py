"""Trying a checkout again after a transient failure, with the same ``Idempotency-Key``.

What a careful client does (Stripe's SDKs among them): an answer that says nothing about
the order (no answer at all, a timeout, a 5xx, a 429) may hide an order the shop did
create, so the buyer's client sends the same request again, under the same key, and a
conforming shop answers with the order it already made (I9). A shop that makes a second
one instead shows in the audit, as a cart with two orders.

Pure: the users (``funnel.py``) call it; no Locust here.
"""

from __future__ import annotations

#: The longest pause before a retry, whatever the shop's ``Retry-After`` asks for: a run is
#: bounded in time, and a buyer does not wait longer.
MAX_PAUSE = 30.0


def is_transient(status: int) -> bool:
    """Whether an answer leaves the request's effect unknown: no answer (status 0: refused,
    reset or timed out), 429, or any 5xx ("not persisted, retry", DESIGN.md section 3)."""
    return status == 0 or status == 429 or status >= 500


def pause_before(retry: int, backoff: float, retry_after: str | None, u: float) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first).

    The shop's ``Retry-After`` in seconds when it gives one; otherwise ``backoff`` doubled
    at each retry, with jitter: between half of that and all of it (``u`` uniform on
    [0, 1)), so that buyers who failed together do not all come back at the same moment.
    At most ``MAX_PAUSE``.
    """
    if retry_after is not None:
        try:
            asked = float(retry_after)
        except ValueError:  # an HTTP date: rare from an API; fall back to the backoff
            pass
        else:
            if asked >= 0:
                return min(asked, MAX_PAUSE)
    return min(backoff * 2.0 ** (retry - 1) * (0.5 + u / 2), MAX_PAUSE)

"""Webhook signatures for both dialects (DESIGN.md section 3).

Both dialects sign ``"{t}.{raw body}"`` with HMAC-SHA256 and send ``t=<unix>,v1=<hex>``:

* ``stripe`` (seed 004) in the ``Stripe-Signature`` header, exactly Stripe's scheme, so the
  official ``stripe`` package verifies what the gateway double signs;
* ``generic`` (seed 001) in the ``X-Webhook-Signature`` header.

The timestamp is checked against the caller's ``now`` (no clock here) with a tolerance of
300 s by default, Stripe's own default.
"""

from __future__ import annotations

import hashlib
import hmac

from reference_impl.domain.errors import InvalidSignature
from reference_impl.domain.policies import WebhookDialect

DEFAULT_TOLERANCE_SECONDS = 300

SIGNATURE_HEADERS: dict[WebhookDialect, str] = {
    WebhookDialect.GENERIC: "X-Webhook-Signature",
    WebhookDialect.STRIPE: "Stripe-Signature",
}


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    # The one-shot hmac.digest (OpenSSL's HMAC, no Python object per call): the simulator
    # signs and verifies every webhook it delivers.
    return hmac.digest(secret.encode(), signed, hashlib.sha256).hex()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` signed at ``timestamp``."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` for ``body``; return its timestamp or raise InvalidSignature.

    Several ``v1`` entries are allowed (Stripe sends one per active secret during rotation).
    """
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("signature timestamp is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("signature header lacks t= or v1=")
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidSignature("signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"signature timestamp is outside the {tolerance:g} s tolerance")
    return timestamp

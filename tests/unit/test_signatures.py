"""Webhook signatures, ``t=<unix>,v1=<hex>`` over ``"{t}.{body}"`` (DESIGN.md section 3, I5)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from reference_impl.domain.errors import InvalidSignature
from reference_impl.domain.signatures import (
    DEFAULT_TOLERANCE_SECONDS,
    compute_signature,
    sign,
    verify,
)

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","status":"Success"}'
T = 1_700_000_000


def test_round_trip_returns_the_timestamp() -> None:
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T) == T


def test_header_format() -> None:
    assert sign(SECRET, T, BODY) == f"t={T},v1={compute_signature(SECRET, T, BODY)}"


def test_known_vector() -> None:
    # HMAC-SHA256 over "1700000000." + BODY, computed here independently of the module.
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, T, BODY) == expected


def test_wrong_secret() -> None:
    with pytest.raises(InvalidSignature):
        verify("another_secret", sign(SECRET, T, BODY), BODY, now=T)


@pytest.mark.parametrize(
    "tampered", [BODY + b" ", BODY.replace(b"Success", b"Failed"), b"", BODY[:-1]]
)
def test_tampered_body(tampered: bytes) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, sign(SECRET, T, BODY), tampered, now=T)


def test_tampered_timestamp() -> None:
    signature = compute_signature(SECRET, T, BODY)
    with pytest.raises(InvalidSignature):
        verify(SECRET, f"t={T + 1},v1={signature}", BODY, now=T)


@pytest.mark.parametrize("offset", [0, 1, DEFAULT_TOLERANCE_SECONDS, -DEFAULT_TOLERANCE_SECONDS])
def test_within_tolerance_is_accepted(offset: int) -> None:
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + offset) == T


@pytest.mark.parametrize("offset", [DEFAULT_TOLERANCE_SECONDS + 1, 10_000])
def test_stale_timestamp(offset: int) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + offset)


@pytest.mark.parametrize("offset", [DEFAULT_TOLERANCE_SECONDS + 1, 10_000])
def test_future_timestamp(offset: int) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, sign(SECRET, T, BODY), BODY, now=T - offset)


def test_custom_tolerance() -> None:
    header = sign(SECRET, T, BODY)
    assert verify(SECRET, header, BODY, now=T + 50, tolerance=60) == T
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=T + 61, tolerance=60)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        verify(SECRET, header, BODY, now=T)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t={T}",
        "v1=abc",
        f"v1={compute_signature(SECRET, T, BODY)}",
        f"t=soon,v1={compute_signature(SECRET, T, BODY)}",
        f"t={T},v0={compute_signature(SECRET, T, BODY)}",
        f"t={T};v1={compute_signature(SECRET, T, BODY)}",
        ",,,",
    ],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=T)


def test_spaces_after_commas_are_tolerated() -> None:
    header = f"t={T}, v1={compute_signature(SECRET, T, BODY)}"
    assert verify(SECRET, header, BODY, now=T) == T


@pytest.mark.parametrize("position", ["first", "last"])
def test_multiple_v1_entries_any_match_suffices(position: str) -> None:
    # Stripe sends one v1 per active secret while secrets are rotated.
    good = compute_signature(SECRET, T, BODY)
    bad = compute_signature("old_secret", T, BODY)
    entries = [good, bad] if position == "first" else [bad, good]
    header = f"t={T}," + ",".join(f"v1={e}" for e in entries)
    assert verify(SECRET, header, BODY, now=T) == T


def test_multiple_v1_entries_none_matching() -> None:
    header = (
        f"t={T},v1={compute_signature('a_secret', T, BODY)},"
        f"v1={compute_signature('b_secret', T, BODY)}"
    )
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=T)


def test_valid_signature_but_stale_is_still_refused() -> None:
    # The signature is right, yet a replay an hour later must not be accepted (I5).
    header = sign(SECRET, T, BODY)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(SECRET, header, BODY, now=T + 3600)


def test_stripe_sdk_accepts_what_we_sign() -> None:
    stripe = pytest.importorskip("stripe")
    now = int(time.time())
    header = sign(SECRET, now, BODY)
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)

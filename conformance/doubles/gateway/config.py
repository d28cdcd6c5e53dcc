"""Where the gateway double sends webhooks, and how hard it tries (DESIGN.md section 4)."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reference_impl.domain.policies import WebhookDialect

DEFAULT_SECRET = "whsec_purchaseflow_test"


def check_loopback_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL on a loopback host, else raise ValueError.

    The doubles run where traffic must stay on the machine, so a webhook target anywhere
    else is refused outright rather than attempted.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook URL must be an absolute http(s) URL, not {url!r}")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"webhook URL must be on loopback (127.0.0.1, ::1 or localhost), not {host!r}"
            )
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"webhook URL has an invalid port: {url!r}") from None
    return url


class WebhookTarget(BaseModel):
    """The SUT's webhook endpoint. It may be set after start (``PUT /_control/webhook``),
    since a SUT and the double usually each need the other's ephemeral port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    secret: Annotated[str, Field(min_length=1)] = DEFAULT_SECRET
    dialect: WebhookDialect = WebhookDialect.GENERIC

    @field_validator("url")
    @classmethod
    def _loopback(cls, url: str | None) -> str | None:
        return None if url is None else check_loopback_url(url)


class DeliveryPolicy(BaseModel):
    """At-least-once delivery: retry with exponential backoff and jitter until a 2xx."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: Annotated[int, Field(ge=1)] = 8
    initial_backoff: Annotated[float, Field(gt=0.0)] = 1.0
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0
    max_backoff: Annotated[float, Field(gt=0.0)] = 60.0
    #: Each backoff is scaled by a seeded factor in [1 - jitter, 1 + jitter], so that many
    #: failed deliveries do not all retry in the same instant.
    jitter: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2
    #: Per-attempt HTTP timeout; a timeout counts as a failed attempt.
    attempt_timeout: Annotated[float, Field(gt=0.0)] = 5.0
    #: Attempts in flight at once, across all deliveries.
    max_in_flight: Annotated[int, Field(ge=1)] = 32

    def backoff(self, attempts: int, jitter_factor: float) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempts - 1))
        return base * jitter_factor

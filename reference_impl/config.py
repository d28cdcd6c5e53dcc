"""Configuration of the reference implementation: CLI flags and ``PURCHASEFLOW_*`` variables.

``purchaseflow serve`` turns its flags into these variables, so that every uvicorn worker
process builds the same settings from its environment.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference_impl.domain.policies import (
    PaymentMode,
    Policies,
    StockCommitPoint,
    WebhookDialect,
)

DEFAULT_DATA_DIR = Path("purchaseflow-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PURCHASEFLOW_", extra="ignore", env_parse_none_str="null"
    )

    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'shop.db'}"
    #: The most database connections each server process opens (default: the engine's,
    #: 20 on PostgreSQL, 10 on SQLite); its request threads are capped to match.
    db_connections: int | None = Field(default=None, ge=3, le=1000)
    #: Nice levels the group committer's thread runs above the server's other threads
    #: (Linux, needs CAP_SYS_NICE; ``storage/writer_priority.py``). 0: the same.
    writer_priority: int = Field(default=0, ge=0, le=39)
    jwt_secret: str = Field(default="dev-jwt-secret-change-me-32-bytes-long", min_length=16)
    admin_token: str = Field(default="dev-admin-token", min_length=8)
    webhook_secret: str = Field(default="whsec_dev_secret", min_length=8)

    #: uvicorn's HTTP/1.1 parser and event loop, named rather than left to uvicorn's
    #: "auto", so that the server does not change with what else is installed. The defaults,
    #: pure Python, are what the test suite runs against; httptools and uvloop (C) cost
    #: less CPU per request (docs/performance.md).
    http_parser: Literal["h11", "httptools"] = "h11"
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"

    gateway_url: str = "http://127.0.0.1:8780"
    gateway_timeout: float = Field(default=5.0, gt=0)
    gateway_retries: int = Field(default=2, ge=0, le=10)
    public_url: str = "http://127.0.0.1:8000"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    mail_from: str = "shop@purchaseflow.test"
    #: Seconds between outbox and expiry sweeps when nothing wakes them earlier.
    worker_poll: float = Field(default=0.5, gt=0)

    stock_commit: StockCommitPoint = StockCommitPoint.RESERVE
    payment_mode: PaymentMode = PaymentMode.HOSTED_CHECKOUT
    webhook_dialect: WebhookDialect = WebhookDialect.GENERIC
    reservation_ttl: float | None = Field(default=900.0, gt=0)
    clear_cart_on_payment: bool = True
    send_confirmation_email: bool = True
    check_account: bool = True
    webhook_tolerance: float = Field(default=300.0, gt=0)
    currency: str = "EUR"
    #: Profile status vocabulary, e.g. ``{"paid": "Processing"}`` for seed 001.
    status_labels: dict[str, str] = Field(default_factory=dict)
    profile_name: str = "default"

    tracing: bool = True

    def policies(self) -> Policies:
        # The settings carry every policy under the domain's own field names.
        return Policies(**{f.name: getattr(self, f.name) for f in fields(Policies)})

"""Shops for the conformance tests: the reference implementation in this process.

``in_process_target`` builds the reference app for a scenario's profile (SQLite in a
temporary folder, the real gateway double and mail sink on loopback) and reaches it with
``InProcessTransport``: no socket and no server start, so a test pays only for its
requests. ``served_shop`` puts the same app on a loopback socket (uvicorn in a thread), for
tests that run ``purchaseflow check`` or pytest as subprocesses. ``build`` lets a test
swap in a broken variant (``broken_shops.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from conformance.adapters import CanonicalAdapter, InProcessTransport
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.target import Target
from reference_impl.config import Settings
from reference_impl.http.app import create_app
from scenarios import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "scenarios" / "seeds").glob("seed_*.yaml"))
ADMIN_TOKEN = "conformance-admin-token"
JWT_SECRET = "conformance-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_conformance_secret"

AppBuilder = Callable[[Settings], FastAPI]


def seed(prefix: str) -> Path:
    """``seed("001")`` -> the seed scenario file."""
    return next(p for p in SEEDS if p.name.startswith(f"seed_{prefix}"))


def settings_for(scenario: Scenario, database_url: str, gateway: GatewayDouble,
                 sink: MailSink, **overrides: Any) -> Settings:
    policies = scenario.policies()
    profile = scenario.profile
    values: dict[str, Any] = {
        "database_url": database_url, "admin_token": ADMIN_TOKEN, "jwt_secret": JWT_SECRET,
        "webhook_secret": WEBHOOK_SECRET, "gateway_url": gateway.url,
        "smtp_port": sink.smtp_port, "worker_poll": 0.05, "gateway_retries": 0,
        "stock_commit": policies.stock_commit, "payment_mode": policies.payment_mode,
        "webhook_dialect": policies.webhook_dialect,
        "reservation_ttl": policies.reservation_ttl,
        "clear_cart_on_payment": policies.clear_cart_on_payment,
        "send_confirmation_email": policies.send_confirmation_email,
        "check_account": policies.check_account,
        "webhook_tolerance": policies.webhook_tolerance, "currency": policies.currency,
        "profile_name": profile.name,
        "status_labels": {s: profile.status_label(s) for s in
                          ("pending_payment", "paid", "payment_failed", "cancelled", "refunded")},
        "tracing": False,
    }
    values.update(overrides)
    return Settings(**values)


def reference_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@contextmanager
def in_process_target(scenario_path: Path, tmp_path: Path, gateway: GatewayDouble,
                      sink: MailSink, *, build: AppBuilder = reference_app,
                      scenario: Scenario | None = None, **overrides: Any) -> Iterator[Target]:
    scenario = scenario or load_scenario(scenario_path)
    database = tmp_path / f"shop-{len(list(tmp_path.glob('shop-*.db')))}.db"
    settings = settings_for(scenario, f"sqlite:///{database}", gateway, sink, **overrides)
    gateway.configure_webhook(url=None, secret=WEBHOOK_SECRET,
                              dialect=settings.webhook_dialect)
    transport = InProcessTransport(build(settings))
    adapter = CanonicalAdapter(transport.base_url, admin_token=ADMIN_TOKEN,
                               transport=transport)
    target = Target(adapter, scenario, WEBHOOK_SECRET, gateway=gateway, mailbox=sink,
                    via_gateway=False, settle_timeout=5.0)
    try:
        yield target
    finally:
        adapter.close()


@contextmanager
def served_shop(scenario_path: Path, tmp_path: Path, *, build: AppBuilder = reference_app,
                **overrides: Any) -> Iterator[tuple[str, int, int]]:
    """An in-process shop on a real loopback socket (uvicorn in a thread), configured to call
    a gateway double and a mail sink on two free ports that nothing listens on yet: the
    command under test starts them there. Yields ``(url, gateway_port, smtp_port)``."""
    from conformance.doubles._serving import ServerThread
    from conformance.reference_shop import free_port

    gateway_port, smtp_port = free_port(), free_port()
    scenario = load_scenario(scenario_path)
    policies = scenario.policies()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'served.db'}", admin_token=ADMIN_TOKEN,
        jwt_secret=JWT_SECRET, webhook_secret=WEBHOOK_SECRET,
        gateway_url=f"http://127.0.0.1:{gateway_port}", smtp_port=smtp_port, worker_poll=0.05,
        gateway_retries=0, stock_commit=policies.stock_commit,
        payment_mode=policies.payment_mode, webhook_dialect=policies.webhook_dialect,
        reservation_ttl=policies.reservation_ttl,
        clear_cart_on_payment=policies.clear_cart_on_payment,
        send_confirmation_email=policies.send_confirmation_email,
        check_account=policies.check_account, currency=policies.currency,
        profile_name=scenario.profile.name, tracing=False, **overrides)
    server = ServerThread(build(settings), name="served-shop")
    server.start()
    try:
        yield server.url, gateway_port, smtp_port
    finally:
        server.stop()

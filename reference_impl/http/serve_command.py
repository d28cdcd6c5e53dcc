"""``purchaseflow serve``: the reference implementation on uvicorn.

Flags become ``PURCHASEFLOW_*`` variables so that every worker process (``--workers``)
builds identical settings through ``app_from_env``.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reference_impl.cli import CommandError
from reference_impl.config import Settings
from reference_impl.domain.policies import PaymentMode, StockCommitPoint, WebhookDialect

#: How often ``--parent-pid`` looks whether the parent is still there.
PARENT_POLL_SECONDS = 0.5

_FLAG_TO_SETTING = {
    "database_url": "database_url",
    "db_connections": "db_connections",
    "writer_priority": "writer_priority",
    "jwt_secret": "jwt_secret",
    "admin_token": "admin_token",
    "webhook_secret": "webhook_secret",
    "gateway_url": "gateway_url",
    "smtp_host": "smtp_host",
    "smtp_port": "smtp_port",
    "stock_commit": "stock_commit",
    "payment_mode": "payment_mode",
    "webhook_dialect": "webhook_dialect",
    "reservation_ttl": "reservation_ttl",
    "clear_cart": "clear_cart_on_payment",
    "email": "send_confirmation_email",
    "account_check": "check_account",
    "tracing": "tracing",
    "http": "http_parser",
    "loop": "event_loop",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the reference implementation (HTTP, SQLite or PostgreSQL)",
        description="Serve the canonical purchase-flow API.",
    )
    parser.add_argument("--scenario", metavar="FILE",
                        help="take the profile (policies, status words) from a scenario file; "
                             "flags given as well win")
    parser.add_argument("--load-catalog", action="store_true",
                        help="with --scenario: reset the database and load the scenario's "
                             "catalog, accounts and stock at start")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file)")
    parser.add_argument("--db-connections", type=int, metavar="N",
                        help="most database connections per worker process (default 20 "
                             "on PostgreSQL, 10 on SQLite; at least 3)")
    parser.add_argument("--writer-priority", type=int, metavar="N",
                        help="run each worker's database writer thread N nice levels above "
                             "its other threads (Linux, needs CAP_SYS_NICE; default 0): on a "
                             "machine shared with the database, fewer waits while a batch "
                             "holds its locks")
    parser.add_argument("--jwt-secret")
    parser.add_argument("--admin-token")
    parser.add_argument("--webhook-secret")
    parser.add_argument("--gateway-url", help="base URL of the payment gateway")
    parser.add_argument("--smtp-host")
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--stock-commit", choices=[p.value for p in StockCommitPoint])
    parser.add_argument("--payment-mode", choices=[p.value for p in PaymentMode])
    parser.add_argument("--webhook-dialect", choices=[p.value for p in WebhookDialect])
    parser.add_argument("--reservation-ttl", type=float, help="seconds; 0 for never")
    parser.add_argument("--clear-cart", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--email", action=argparse.BooleanOptionalAction, default=None,
                        help="send confirmation emails")
    parser.add_argument("--account-check", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--tracing", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--parent-pid", type=int, metavar="PID",
                        help="stop, as on SIGTERM, once process PID is no longer this "
                             "server's parent (a harness that died without stopping it)")
    parser.add_argument("--http", choices=["h11", "httptools"],
                        help="HTTP/1.1 parser (default h11, pure Python)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"],
                        help="event loop (default asyncio)")
    parser.add_argument("--log-level", default="warning",
                        choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(handler=run)


def settings_environment(args: argparse.Namespace) -> dict[str, str]:
    """The ``PURCHASEFLOW_*`` variables that the flags set."""
    env: dict[str, str] = {}
    for flag, setting in _FLAG_TO_SETTING.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag == "reservation_ttl" and value == 0:
            env["PURCHASEFLOW_RESERVATION_TTL"] = "null"
            continue
        env[f"PURCHASEFLOW_{setting.upper()}"] = (
            json.dumps(value) if isinstance(value, bool) else str(value)
        )
    return env


def scenario_environment(path: str) -> tuple[dict[str, str], Any]:
    """The ``PURCHASEFLOW_*`` variables of a scenario's profile, and the scenario."""
    from scenarios import ScenarioError, load_scenario

    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise CommandError(str(exc).splitlines()[0]) from None
    policies = scenario.policies()
    profile = scenario.profile
    env = {
        "PURCHASEFLOW_PROFILE_NAME": profile.name,
        "PURCHASEFLOW_STOCK_COMMIT": policies.stock_commit.value,
        "PURCHASEFLOW_PAYMENT_MODE": policies.payment_mode.value,
        "PURCHASEFLOW_WEBHOOK_DIALECT": policies.webhook_dialect.value,
        "PURCHASEFLOW_RESERVATION_TTL": json.dumps(policies.reservation_ttl),
        "PURCHASEFLOW_CLEAR_CART_ON_PAYMENT": json.dumps(policies.clear_cart_on_payment),
        "PURCHASEFLOW_SEND_CONFIRMATION_EMAIL": json.dumps(policies.send_confirmation_email),
        "PURCHASEFLOW_CHECK_ACCOUNT": json.dumps(policies.check_account),
        "PURCHASEFLOW_WEBHOOK_TOLERANCE": str(policies.webhook_tolerance),
        "PURCHASEFLOW_CURRENCY": policies.currency,
        "PURCHASEFLOW_GATEWAY_TIMEOUT": str(profile.gateway_client.timeout),
        "PURCHASEFLOW_GATEWAY_RETRIES": str(profile.gateway_client.retries),
        "PURCHASEFLOW_STATUS_LABELS": json.dumps(
            {status: profile.status_label(status) for status in
             ("pending_payment", "paid", "payment_failed", "cancelled", "refunded")}
        ),
    }
    return env, scenario


def load_scenario_data(settings: Settings, scenario: Any) -> None:
    """Reset the shop and load the scenario's catalog, accounts and stock."""
    from reference_impl.service import admin
    from reference_impl.storage import SqlUnitOfWork, make_engine
    from scenarios.catalog_setup import shop_setup

    setup = shop_setup(scenario)
    engine = make_engine(settings.database_url)
    try:
        admin.reset(SqlUnitOfWork(engine))
        admin.load_catalog(SqlUnitOfWork(engine), products=setup.products,
                           locations=setup.locations)
        admin.load_accounts(SqlUnitOfWork(engine), setup.accounts)
        admin.receive_stock(SqlUnitOfWork(engine), setup.stock)
    finally:
        engine.dispose()


def _stop_with_parent(pid: int) -> None:
    """SIGTERM this process, and so stop the server as a signal would, once ``pid`` is no
    longer its parent: the harness that started it ended without stopping it (killed, or
    crashed), and a server left behind would hold its port and database connections."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="purchaseflow-parent-watch", daemon=True).start()


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise CommandError(f"--host {host!r} is not an IP address") from None
    if not address.is_loopback:
        raise CommandError(f"--host {host} is not a loopback address; this harness binds only "
                           "to 127.0.0.0/8 or ::1")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    _check_loopback(args.host)
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is out of range")
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    scenario = None
    if args.scenario:
        profile_env, scenario = scenario_environment(args.scenario)
        # Like a configuration file: flags and PURCHASEFLOW_* variables win over it.
        for key, value in profile_env.items():
            os.environ.setdefault(key, value)
    elif args.load_catalog:
        raise CommandError("--load-catalog needs --scenario")
    os.environ.update(settings_environment(args))
    try:
        settings = Settings()
        settings.policies()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except Exception as exc:  # the domain's own policy check
        raise CommandError(str(exc)) from None
    from reference_impl.storage import writer_priority

    try:
        writer_priority.check(settings.writer_priority)
    except writer_priority.WriterPriorityError as exc:
        raise CommandError(str(exc)) from None
    for option, module in (("--http", settings.http_parser), ("--loop", settings.event_loop)):
        if module in ("httptools", "uvloop"):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise CommandError(f"{option} {module}: cannot import {module} ({exc})") from None
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    try:
        from reference_impl.storage import create_schema, make_engine

        # Created once here, so that workers starting together do not race on DDL.
        engine = make_engine(settings.database_url)
        create_schema(engine)
        engine.dispose()
    except Exception as exc:
        raise CommandError(f"cannot open the database {settings.database_url}: {exc}") from None
    if scenario is not None and args.load_catalog:
        load_scenario_data(settings, scenario)
    print(
        f"purchaseflow serve: http://{args.host}:{args.port} ({settings.profile_name}, "
        f"{args.workers} worker(s), "
        f"{settings.stock_commit.value}, {settings.payment_mode.value}, "
        f"{settings.webhook_dialect.value} webhooks)",
        flush=True,
    )
    config = uvicorn.Config(
        "reference_impl.http.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        http=settings.http_parser,
        loop=settings.event_loop,
    )
    if args.parent_pid is not None:
        _stop_with_parent(args.parent_pid)
    server = uvicorn.Server(config)
    if args.workers == 1:
        server.run()
        return 0
    from reference_impl.http import workers

    # A socket per worker where the system allows, so that the kernel spreads connections
    # evenly over the workers (workers.py); else uvicorn's supervisor and a shared socket.
    balanced = workers.reuse_port_supported()
    try:
        sockets = (workers.listeners(args.host, args.port, args.workers) if balanced
                   else [workers.tcp_listener(args.host, args.port)])
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    if balanced:
        return workers.Workers(config, sockets).run()
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=sockets).run()
    return 0

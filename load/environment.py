"""Everything around the load: the doubles, the shop under test, its data, the buyers' tokens.

``LoadEnvironment`` starts what it is not given and stops what it started:

* the gateway double (``--gateway-url`` to use a running one), with the scenario's faults
  and its webhooks aimed at the shop;
* the mail sink (``--mailsink-url`` to use a running one);
* with ``--reference``, the reference implementation in the scenario's profile, wired to
  both doubles (``ReferenceShop``).

``prepare_shop`` loads the scenario's catalog, stock and accounts (after a reset, unless
the data is kept), and ``mint_auth`` gets each buyer's headers once, before the load, so
that the Locust processes spend no time logging in and never call the admin API.
"""

from __future__ import annotations

import dataclasses
import random
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from conformance.adapters import ShopAdapter
from conformance.doubles.gateway import DeliveryPolicy, GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop
from load.plan import generated_buyer
from reference_impl.domain.catalog import Account
from scenarios.catalog_setup import account_email, shop_setup
from scenarios.schema import Scenario

WEBHOOK_PATH = "/payments/webhook"


def gateway_faults(scenario: Scenario) -> tuple[dict[str, Any], DeliveryPolicy]:
    """The scenario's faults in the gateway double's terms (docs/doubles.md gives the map)."""
    g = scenario.faults.gateway
    faults: dict[str, Any] = {
        "seed": scenario.run.seed,
        "decline_rate": g.decline_rate,
        "create": {"error_rate": g.create_error_rate, "timeout_rate": g.create_timeout_rate},
        "outages": [{"start": w.start, "end": w.end} for w in g.outages],
    }
    w = scenario.faults.webhook
    if w is None:
        return faults, DeliveryPolicy()
    webhook: dict[str, Any] = {"drop_first": w.drop_first,
                               "wrong_signature_rate": w.bad_signature_rate}
    if w.delay_rate and w.delay is not None:
        webhook |= {"delay_seconds": w.delay.mean, "delay_rate": w.delay_rate}
    if w.duplicate_rate:
        # The scenario counts extra copies, the double all copies.
        webhook["duplicates"] = {"copies": w.duplicates + 1, "rate": w.duplicate_rate}
    if w.stale_rate:
        stale = int(scenario.profile.policies.webhook_tolerance) + 60
        webhook |= {"stale_seconds": stale, "stale_rate": w.stale_rate}
    if w.reorder_rate:
        # No exact counterpart ("after the order's next event"): pairs sent in reverse.
        webhook["reorder"] = {"window": 2, "order": "reverse"}
    faults["webhook"] = webhook
    policy = DeliveryPolicy(max_attempts=w.retry.max_attempts,
                            initial_backoff=w.retry.initial_delay,
                            multiplier=w.retry.multiplier, max_backoff=w.retry.max_delay)
    return faults, policy


@dataclass(frozen=True, slots=True)
class Wiring:
    """Where things are: what the users call, and what the audit reads."""

    shop_url: str | None
    gateway_url: str
    mail_url: str | None
    #: True when this run started the gateway double (so it may configure and reset it).
    own_gateway: bool


class LoadEnvironment:
    def __init__(
        self,
        scenario: Scenario,
        *,
        shop_url: str | None,
        reference: bool,
        reference_workers: int = 1,
        reference_database_url: str | None = None,
        reference_writer_priority: int = 0,
        admin_token: str,
        webhook_secret: str,
        gateway_url: str | None,
        gateway_port: int,
        mail_url: str | None,
        smtp_port: int,
    ) -> None:
        self.scenario = scenario
        self._shop_url = shop_url
        self._reference = reference
        self._reference_workers = reference_workers
        self._reference_database_url = reference_database_url  # None: a new SQLite file
        self._reference_writer_priority = reference_writer_priority
        self._admin_token = admin_token
        self._webhook_secret = webhook_secret
        self._gateway_url = gateway_url
        self._gateway_port = gateway_port
        self._mail_url = mail_url
        self._smtp_port = smtp_port
        self._stack = ExitStack()
        self.gateway: GatewayDouble | None = None
        self.shop: ReferenceShop | None = None

    def start(self) -> Wiring:
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def _start(self) -> Wiring:
        if self._gateway_url is None:
            faults, delivery = gateway_faults(self.scenario)
            self.gateway = self._stack.enter_context(GatewayDouble(
                secret=self._webhook_secret,
                dialect=self.scenario.policies().webhook_dialect,
                faults=faults, delivery=delivery, port=self._gateway_port))
        gateway_url = self.gateway.url if self.gateway else str(self._gateway_url)
        mail_url = self._mail_url
        smtp_port = self._smtp_port
        if mail_url is None:
            sink = self._stack.enter_context(MailSink(smtp_port=self._smtp_port))
            mail_url, smtp_port = sink.http_url, sink.smtp_port
        shop_url = self._shop_url
        if self._reference:
            assert self.scenario.source is not None
            self.shop = self._stack.enter_context(ReferenceShop(
                workers=self._reference_workers, scenario=str(self.scenario.source),
                database_url=self._reference_database_url,
                admin_token=self._admin_token, webhook_secret=self._webhook_secret,
                gateway_url=gateway_url, smtp_port=smtp_port, worker_poll=0.1,
                writer_priority=self._reference_writer_priority))
            shop_url = self.shop.url
        if self.gateway is not None and shop_url is not None:
            self.gateway.configure_webhook(f"{shop_url.rstrip('/')}{WEBHOOK_PATH}")
        return Wiring(shop_url, gateway_url, mail_url, own_gateway=self.gateway is not None)

    def restart_gateway_clock(self) -> None:
        """Outage windows count from the double's start or reset: align them with the load."""
        if self.gateway is not None:
            self.gateway.reset()

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def buyer_pool(scenario: Scenario, size: int) -> list[str]:
    """The scenario's named users, then generated buyers up to ``size`` (at most the
    scenario's population)."""
    named = [u.id for u in scenario.catalog.users]
    generated = [generated_buyer(i) for i in range(min(size, scenario.buyers.population))]
    return named + generated


def prepare_shop(adapter: ShopAdapter, scenario: Scenario, buyers: list[str], *,
                 reset: bool, mail_url: str | None, seed: int) -> None:
    """Reset the shop and load the scenario's catalog, stock and accounts; empty the sink.

    Generated buyers get accounts, a seeded ``inactive_share`` of them inactive (seed 000
    refuses their orders with ``account_inactive``, an expected refusal).
    """
    if not reset:
        return
    adapter.reset()
    setup = shop_setup(scenario)
    named = {a.user_id for a in setup.accounts}
    rng = random.Random(seed)
    inactive = scenario.buyers.inactive_share
    generated = tuple(Account(b, account_email(b), rng.random() >= inactive)
                      for b in buyers if b not in named)
    adapter.set_up(dataclasses.replace(setup, accounts=setup.accounts + generated))
    if mail_url is not None:
        httpx.delete(f"{mail_url}/messages", timeout=10.0, trust_env=False).raise_for_status()


def mint_auth(adapter: ShopAdapter, buyers: list[str]) -> dict[str, dict[str, str]]:
    return {buyer: adapter.auth(buyer) for buyer in buyers}

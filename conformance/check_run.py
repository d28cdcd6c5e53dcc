"""``purchaseflow check`` and the pytest plugin share this: options, doubles, one run.

``OPTIONS`` is the one list of settings: the command spells them ``--url``, the pytest
plugin ``--purchaseflow-url``. ``run_check`` starts what is needed (the gateway double and
the mail sink on the ports the SUT was configured with, unless running ones are named),
runs the suite, and writes the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from conformance.adapters.base import Mailbox, ShopAdapter
from conformance.check_options import CheckConfig, HarnessError, preflight
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.remote_doubles import RemoteGateway, RemoteMailbox
from conformance.replay import load_adapter
from conformance.report import Report
from conformance.suite import run_suite
from scenarios import Scenario, ScenarioError, load_scenario

SEEDS_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "seeds"
LIBRARY_DIR = SEEDS_DIR.parent / "library"
PROFILE_ALIASES = {"default": "steady-mix"}


def find_scenario(config: CheckConfig) -> Scenario:
    """``--scenario``, else the scenario whose profile the shop's ``/healthz`` names."""
    if config.scenario:
        try:
            return load_scenario(config.scenario)
        except ScenarioError as exc:
            raise HarnessError(str(exc).splitlines()[0]) from None
    try:
        profile = httpx.get(f"{config.url.rstrip('/')}/healthz", timeout=10.0,
                            trust_env=False).json().get("profile")
    except (httpx.HTTPError, ValueError, AttributeError):
        profile = None
    # ``purchaseflow serve`` without --scenario runs the profile "default": reserve, hosted
    # checkout, generic webhooks, a 900 s TTL, cart cleared and email sent, as steady_mix.
    profile = PROFILE_ALIASES.get(str(profile), profile)
    for path in sorted(SEEDS_DIR.glob("*.yaml")) + sorted(LIBRARY_DIR.glob("*.yaml")):
        scenario = load_scenario(path)
        if profile and scenario.profile.name == profile:
            return scenario
    raise HarnessError("--scenario is needed: the shop's /healthz names no known profile "
                       f"({profile or 'no answer'}); e.g. --scenario {SEEDS_DIR}/"
                       "seed_001_order_checkout.yaml")


@contextmanager
def doubles(config: CheckConfig, scenario: Scenario) -> Iterator[tuple[GatewayDouble,
                                                                          Mailbox]]:
    """The gateway double and the mail sink: the running ones named, or started here."""
    policies = scenario.policies()
    with ExitStack() as stack:
        if config.gateway_url:
            gateway: GatewayDouble = RemoteGateway(config.gateway_url)
            try:
                gateway.start()
            except httpx.HTTPError as exc:
                raise HarnessError(f"no gateway double at {config.gateway_url}: {exc}") \
                    from None
            stack.callback(gateway.stop)
        else:
            # Quick retries: a run is seconds long, the double's defaults are for hours.
            gateway = GatewayDouble(secret=config.webhook_secret,
                                    dialect=policies.webhook_dialect, port=config.gateway_port,
                                    delivery={"initial_backoff": 0.05, "max_attempts": 4,
                                              "attempt_timeout": 5.0})
            try:
                stack.enter_context(gateway)
            except OSError as exc:
                raise HarnessError(f"cannot start the gateway double on port "
                                   f"{config.gateway_port}: {exc} (give --gateway-url of the "
                                   "one running there)") from None
        mailbox: Mailbox
        if config.mail_url:
            remote = RemoteMailbox(config.mail_url)
            stack.callback(remote.close)
            mailbox = remote
        else:
            sink = MailSink(smtp_port=config.smtp_port)
            try:
                stack.enter_context(sink)
            except OSError as exc:
                raise HarnessError(f"cannot start the mail sink on port {config.smtp_port}: "
                                   f"{exc} (give --mail-url of the one running there)") \
                    from None
            mailbox = sink
        yield gateway, mailbox


def run_check(config: CheckConfig, adapter: ShopAdapter | None = None) -> Report:
    only, phases = preflight(config)
    scenario = find_scenario(config)
    if adapter is None:
        try:
            adapter = load_adapter(config.adapter, config.url, config.admin_token)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            raise HarnessError(f"--adapter {config.adapter}: {exc}") from None
    with doubles(config, scenario) as (gateway, mailbox):
        via_gateway = config.deliver != "direct"
        if via_gateway:
            try:
                gateway.configure_webhook(url=config.url.rstrip("/") + adapter.webhook_path,
                                          secret=config.webhook_secret,
                                          dialect=scenario.policies().webhook_dialect)
            except (ValueError, httpx.HTTPError) as exc:
                if config.deliver == "gateway":
                    raise HarnessError(f"the gateway double cannot call the shop: {exc}") \
                        from None
                via_gateway = False  # e.g. a shop off loopback: the harness delivers
        try:
            return run_suite(
                adapter, scenario, webhook_secret=config.webhook_secret, gateway=gateway,
                mailbox=mailbox, via_gateway=via_gateway, budget=config.budget,
                max_examples=config.max_examples, seed=config.seed, only=only, phases=phases,
                fail_fast=config.fail_fast, report_dir=config.report_dir, junit=config.junit,
                target_name=config.url, adapter_spec=config.adapter,
                admin_token=config.admin_token, replay_doubles={
                    "gateway_url": config.gateway_url, "gateway_port": config.gateway_port,
                    "mail_url": config.mail_url, "smtp_port": config.smtp_port})
        finally:
            adapter.close()

"""A broken shop for the load tests: ``tests/conformance/broken_shops.py``'s duplicate
email (every confirmation sent twice: I7), served under ``/shop`` so that the run reaches it
through a user-supplied adapter (``prefixed_adapter.py``).

Everything else is the reference implementation, so the audit must name I7 and only it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from scenarios import Scenario
from tests.conformance.broken_shops import duplicate_email
from tests.conformance.shops import settings_for
from tests.load.prefixed_adapter import PREFIX


def broken_shop_app(scenario: Scenario, *, database: Path, gateway: GatewayDouble,
                    sink: MailSink) -> FastAPI:
    shop = duplicate_email(settings_for(scenario, f"sqlite:///{database}", gateway, sink))
    runtime = shop.state.runtime

    # A mounted app's lifespan does not run: the outer app runs the shop's outbox and
    # expiry worker instead.
    outer = FastAPI(lifespan=runtime.lifespan)
    outer.mount(PREFIX, shop)
    return outer

"""A broken shop for the load tests: the reference implementation, in process, under
``/shop``, sending every confirmation email twice (I7: exactly-once effects).

The bug is a realistic one (a confirmation sent from two places, or re-sent on retry);
everything else is the reference implementation, so the audit must name I7 and only it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from reference_impl.config import Settings
from reference_impl.http.app import create_app
from reference_impl.outbound.mailer import SmtpMailer
from scenarios import Scenario
from tests.load.prefixed_adapter import PREFIX


class TwiceMailer(SmtpMailer):
    def send_confirmation(self, *, order_id: str, to: str, total: str) -> None:
        super().send_confirmation(order_id=order_id, to=to, total=total)
        super().send_confirmation(order_id=order_id, to=to, total=total)


def broken_shop_app(scenario: Scenario, *, database: Path, gateway_url: str, smtp_port: int,
                    admin_token: str, webhook_secret: str) -> FastAPI:
    p = scenario.policies()
    settings = Settings(
        database_url=f"sqlite:///{database}", admin_token=admin_token,
        webhook_secret=webhook_secret, gateway_url=gateway_url, smtp_port=smtp_port,
        worker_poll=0.1, stock_commit=p.stock_commit, payment_mode=p.payment_mode,
        webhook_dialect=p.webhook_dialect, reservation_ttl=p.reservation_ttl,
        clear_cart_on_payment=p.clear_cart_on_payment,
        send_confirmation_email=p.send_confirmation_email, check_account=p.check_account,
        currency=p.currency)
    shop = create_app(settings, run_workers=False)
    runtime = shop.state.runtime
    runtime.mailer = TwiceMailer(settings.smtp_host, settings.smtp_port, settings.mail_from)

    # A mounted app's lifespan does not run: start the shop's outbox and expiry worker here.
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    outer = FastAPI(lifespan=lifespan)
    outer.mount(PREFIX, shop)
    return outer

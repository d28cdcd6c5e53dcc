"""A shop behind a link that loses answers, for the load's retries (``--retries``).

The reference implementation, behind ASGI middleware that lets the first ``POST /orders``
of each Idempotency-Key reach the shop and run to its end, then answers the buyer 503 in
place of the shop's answer: the order exists, and the buyer does not know it. With
``forget_keys`` the middleware also drops the Idempotency-Key header on the way in, which
makes the shop one that ignores the key (I9): the retry makes a second order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from load.lossy_link import answer_lost
from scenarios import Scenario
from tests.conformance.shops import reference_app, settings_for

Message = dict[str, Any]


class LoseFirstAnswers:
    def __init__(self, app: FastAPI, *, forget_keys: bool) -> None:
        self.app, self.forget_keys = app, forget_keys
        self.seen: set[bytes] = set()
        self.lost = 0

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/orders"):
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(b"idempotency-key")
        first = key is not None and key not in self.seen
        if key is not None:
            self.seen.add(key)
        if self.forget_keys:
            scope = {**scope, "headers": [(name, value) for name, value in scope["headers"]
                                          if name != b"idempotency-key"]}
        if not first:
            await self.app(scope, receive, send)
            return

        async def lose(_: Message) -> None:
            pass  # the shop's answer never reaches the buyer

        await self.app(scope, receive, lose)
        self.lost += 1
        await answer_lost(send)


def lossy_shop(scenario: Scenario, *, database: Path, gateway: GatewayDouble, sink: MailSink,
               forget_keys: bool = False) -> Any:
    """The reference shop in ``scenario``'s profile, its first answer per key lost."""
    app = reference_app(settings_for(scenario, f"sqlite:///{database}", gateway, sink))
    return LoseFirstAnswers(app, forget_keys=forget_keys)

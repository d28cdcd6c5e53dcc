"""The system under test as the suite sees it: an adapter, a profile, and the doubles.

``Target`` bundles what every check needs: the adapter (how to reach the shop), the
scenario (which flow it claims to implement), the webhook secret (to sign the harness's own
webhooks), and the gateway double and mail sink the SUT was configured to call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from conformance.adapters.base import Mailbox, ShopAdapter
from conformance.doubles.gateway import GatewayDouble
from conformance.payments import Payments, WebhookSigner
from reference_impl.domain.catalog import Account
from reference_impl.domain.policies import Policies
from scenarios import Scenario
from scenarios.catalog_setup import ShopSetup, account_email, shop_setup

#: Stock per level the suite loads: a few units, so that the last unit is reached often
#: (I1, I10) instead of once in a thousand steps as with a load test's stock.
CONFORMANCE_STOCK = 4
#: Buyers the suite adds when the scenario names fewer than two active ones (I8 needs two).
HARNESS_BUYERS = ("pf-buyer-a", "pf-buyer-b")


def conformance_setup(scenario: Scenario, stock_cap: int = CONFORMANCE_STOCK) -> ShopSetup:
    setup = shop_setup(scenario)
    accounts = list(setup.accounts)
    active = [a for a in accounts if a.active]
    for name in HARNESS_BUYERS[: max(0, 2 - len(active))]:
        accounts.append(Account(name, account_email(name), True))
    return replace(
        setup,
        accounts=tuple(accounts),
        stock=tuple((v, loc, min(q, stock_cap)) for v, loc, q in setup.stock),
    )


@dataclass
class Target:
    adapter: ShopAdapter
    scenario: Scenario
    webhook_secret: str
    #: The gateway the SUT calls, when it is the harness's double (sessions, events, I6).
    gateway: GatewayDouble | None = None
    mailbox: Mailbox | None = None
    #: True: real payments are completed at the double, which calls the SUT's webhook.
    #: False (a shop in this process, with no socket): the harness signs and delivers.
    via_gateway: bool = True
    #: How long to wait for asynchronous effects (webhook retries, emails).
    settle_timeout: float = 10.0
    stock_cap: int = CONFORMANCE_STOCK
    #: Reservation TTLs up to this many seconds are waited out (I11, the expiry race).
    expiry_window: float = 12.0

    def __post_init__(self) -> None:
        if self.mailbox is not None and self.adapter.mailbox is None:
            self.adapter.mailbox = self.mailbox

    @cached_property
    def policies(self) -> Policies:
        return self.scenario.policies()

    @cached_property
    def setup(self) -> ShopSetup:
        return conformance_setup(self.scenario, self.stock_cap)

    @cached_property
    def payments(self) -> Payments:
        signer = WebhookSigner(self.webhook_secret, self.policies.webhook_dialect,
                               self.policies.webhook_tolerance)
        return Payments(self.adapter, signer, self.gateway, via_gateway=self.via_gateway,
                        settle_timeout=self.settle_timeout)

    @property
    def buyers(self) -> tuple[str, ...]:
        """Accounts that may order; inactive ones too (seed 000 refuses them: I10)."""
        return tuple(a.user_id for a in self.setup.accounts)

    @property
    def active_buyers(self) -> tuple[str, ...]:
        return tuple(a.user_id for a in self.setup.accounts if a.active)

    def received(self) -> dict[tuple[str, str], int]:
        """Units the harness itself put into stock: I1 is judged against this, not against
        what the SUT says it received."""
        totals: dict[tuple[str, str], int] = {}
        for variant, location, quantity in self.setup.stock:
            totals[(variant, location)] = totals.get((variant, location), 0) + quantity
        return totals

    def reset(self) -> None:
        """A clean shop holding exactly the conformance setup; a clean gateway and mailbox."""
        self.adapter.reset()
        self.adapter.set_up(self.setup)
        if self.gateway is not None:
            self.gateway.reset()
        clear = getattr(self.mailbox, "clear", None)
        if clear is not None:
            clear()

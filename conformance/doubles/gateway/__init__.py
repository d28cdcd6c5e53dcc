"""The payment gateway double (DESIGN.md section 4): a Stripe-like subset on loopback.

    config.py    where webhooks go and the retry policy
    faults.py    the scriptable faults and their seeded dice
    ledger.py    sessions, charges, idempotency keys, the event log
    store.py     the --state file (SQLite)
    delivery.py  signed webhook delivery: at least once, backoff, webhook faults
    core.py      the API's behaviour, apart from HTTP
    app.py       the HTTP API (FastAPI)
    server.py    GatewayDouble: the double in process, for tests

``purchaseflow gateway`` is ``conformance/doubles/gateway_command.py``.
"""

from conformance.doubles.gateway.config import DEFAULT_SECRET, DeliveryPolicy, WebhookTarget
from conformance.doubles.gateway.faults import Faults, FaultsError, load_faults
from conformance.doubles.gateway.server import GatewayDouble
from conformance.doubles.gateway.store import StateError

__all__ = [
    "DEFAULT_SECRET",
    "DeliveryPolicy",
    "Faults",
    "FaultsError",
    "GatewayDouble",
    "StateError",
    "WebhookTarget",
    "load_faults",
]

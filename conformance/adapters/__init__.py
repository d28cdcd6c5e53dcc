"""Adapters: how the harness reaches a shop (DESIGN.md section 6).

The harness speaks in operations (set up, create a cart, add a line, order, read an order,
read stock...). An adapter spells each one as an ``HttpCall`` for one shop's HTTP API and
sends it through a ``Transport``. ``CanonicalAdapter`` speaks the canonical contract
(``conformance/openapi.json``); a shop shaped differently gets a small ``ShopAdapter``
subclass (``docs/adapters.md``). ``HttpxTransport`` sends over a real socket,
``InProcessTransport`` straight into an ASGI app in this process.
"""

from conformance.adapters.base import (
    AdapterError,
    HttpCall,
    Mailbox,
    NotSupported,
    Outcome,
    ShopAdapter,
    Transport,
    interpret,
)
from conformance.adapters.canonical import CanonicalAdapter
from conformance.adapters.httpx_transport import HttpxTransport, InProcessTransport

__all__ = [
    "AdapterError",
    "CanonicalAdapter",
    "HttpCall",
    "HttpxTransport",
    "InProcessTransport",
    "Mailbox",
    "NotSupported",
    "Outcome",
    "ShopAdapter",
    "Transport",
    "interpret",
]

"""Adapters: how the harness reaches a shop (DESIGN.md section 6).

The harness speaks in operations (set up, create a cart, add a line, order, read an order,
read stock...). An adapter maps them onto one shop's HTTP API. ``CanonicalAdapter`` speaks
the canonical contract (``conformance/openapi.json``); a shop shaped differently gets a
small subclass of ``ShopAdapter``.
"""

from conformance.adapters.base import AdapterError, Outcome, ShopAdapter
from conformance.adapters.canonical import CanonicalAdapter

__all__ = ["AdapterError", "CanonicalAdapter", "Outcome", "ShopAdapter"]

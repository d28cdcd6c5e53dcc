"""A user-supplied adapter, as ``--adapter tests.load.prefixed_adapter:ShopUnderPrefix``
loads it: the canonical contract, served under ``/shop`` (as ``broken_shop.py`` serves it).

Kept free of test imports: the Locust processes import it too.
"""

from __future__ import annotations

from typing import Any

from conformance.adapters import CanonicalAdapter

PREFIX = "/shop"


class ShopUnderPrefix(CanonicalAdapter):
    """Every call of the canonical adapter, under the shop's path prefix: the calls' paths
    are relative to ``base_url``, for the conformance transport and the Locust users alike."""

    def __init__(self, base_url: str, *, admin_token: str, **kwargs: Any) -> None:
        super().__init__(base_url.rstrip("/") + PREFIX, admin_token=admin_token, **kwargs)

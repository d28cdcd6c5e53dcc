"""Reaching the shop under test: the adapter named by ``--adapter module:Class``.

Adapters are built as ``Class(url, admin_token=...)``, as ``CanonicalAdapter`` is; the users
then send the adapter's ``HttpCall``s with Locust's client (``load/funnel.py``).
"""

from __future__ import annotations

import importlib

from conformance.adapters import ShopAdapter


def load_adapter_class(spec: str) -> type[ShopAdapter]:
    """``module:Class`` to a ``ShopAdapter`` subclass, or ValueError saying what is wrong."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"--adapter {spec!r}: expected module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--adapter {spec!r}: cannot import {module_name}: {exc}") from None
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, ShopAdapter)):
        raise ValueError(f"--adapter {spec!r}: {class_name} is not a ShopAdapter subclass "
                         f"in {module_name}")
    return found


def build_adapter(spec: str, url: str, admin_token: str) -> ShopAdapter:
    adapter_class = load_adapter_class(spec)
    return adapter_class(url, admin_token=admin_token)  # type: ignore[call-arg]

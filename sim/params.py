"""Sweep and comparison parameters: ``PARAM=v1,v2,...`` over a scenario's fields.

``PARAM`` is a dotted path into the scenario (``buyers.arrivals.bursts.0.buyers``) or one of
the short names below. Each value is read as YAML (``2``, ``0.5``, ``reserve``, ``null``,
``[{start: 300, end: 600}]``) and applied with ``Scenario.with_overrides``, which validates
the result as the loader would: an impossible value (a negative rate) is refused with the
field's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from scenarios.schema import Scenario
from sim.errors import SimulationError

ALIASES: dict[str, str] = {
    "rate": "buyers.arrivals.rate",
    "arrival_rate": "buyers.arrivals.rate",
    "population": "buyers.population",
    "burst_buyers": "buyers.arrivals.bursts.0.buyers",  # the (first) flash sale's size
    "stock_commit": "profile.policies.stock_commit",
    "payment_mode": "profile.policies.payment_mode",
    "webhook_dialect": "profile.policies.webhook_dialect",
    "reservation_ttl": "profile.policies.reservation_ttl",
    "decline_rate": "faults.gateway.decline_rate",
    "workers": "capacity.workers",
    "database_pool": "capacity.database_pool",
    "gateway_concurrency": "capacity.gateway_concurrency",
    "duration": "run.duration",
    "warmup": "run.warmup",
}


@dataclass(frozen=True, slots=True)
class Axis:
    """One swept parameter: its name as given, its scenario path, its values."""

    name: str
    path: str
    values: tuple[Any, ...]


def parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def split_values(text: str) -> list[str]:
    """Split on the commas that are not inside YAML brackets, braces or quotes, so that a
    value may itself be a list: ``outages=[],[{start: 300, end: 600}]``."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_axis(spec: str, option: str = "--sweep") -> Axis:
    name, sep, values = spec.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise SimulationError(f"{option} {spec!r}: expected PARAM=v1,v2,...")
    return make_axis(name, [parse_value(v.strip()) for v in split_values(values)],
                     f"{option} {spec!r}")


def make_axis(name: str, values: Sequence[Any], where: str) -> Axis:
    """An axis of ``name`` (a dotted path or a short name) over ``values``; ``where``
    names it in an error."""
    if len(set(map(repr, values))) != len(values):
        raise SimulationError(f"{where}: a value is given twice")
    return Axis(name, ALIASES.get(name, name), tuple(values))


def apply(scenario: Scenario, settings: dict[str, Any], option: str = "--sweep") -> Scenario:
    """``scenario`` with ``settings`` (path -> value) applied, or a one-line error."""
    try:
        return scenario.with_overrides(settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "scenario"
        given = ", ".join(f"{k}={v}" for k, v in settings.items())
        raise SimulationError(f"{option} {given}: {where}: {error['msg']}") from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        given = ", ".join(f"{k}={v}" for k, v in settings.items())
        raise SimulationError(f"{option} {given}: no such parameter ({exc})") from None


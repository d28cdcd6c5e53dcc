"""The gateway double's scriptable faults (DESIGN.md section 4), and the dice that roll them.

A fault configuration is one validated, immutable ``Faults`` value. It comes from a YAML or
JSON file (``--faults FILE``), from CLI flags layered over that file, or from
``PUT /_control/faults`` at run time; each replaces the whole value. Example file::

    seed: 42
    latency: {distribution: uniform, low: 0.01, high: 0.05}
    decline_rate: 0.1
    create: {error_rate: 0.05, timeout_rate: 0.01, timeout_seconds: 10}
    outages: [{start: 5, end: 8}]
    webhook:
      delay_seconds: 0.5
      delay_rate: 0.2                  # a share of events; 1 (every one) by default
      duplicates: {copies: 3, concurrent: true, rate: 0.1}
      reorder: {window: 3, order: reverse}
      drop_first: 2
      stale_seconds: 600
      wrong_signature_rate: 0.2

Every random choice comes from a ``random.Random`` stream of its own, seeded from ``seed``
and the fault's name, so that switching one fault on does not shift another fault's rolls:
the same seed and the same sequence of calls give the same faults.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixedLatency(_Frozen):
    distribution: Literal["fixed"] = "fixed"
    seconds: Seconds


class UniformLatency(_Frozen):
    distribution: Literal["uniform"] = "uniform"
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


class ExponentialLatency(_Frozen):
    distribution: Literal["exponential"] = "exponential"
    mean: Annotated[float, Field(gt=0.0)]
    #: The exponential distribution has no upper bound; a cap keeps one unlucky roll from
    #: stalling a run.
    cap: Seconds | None = None


Latency = Annotated[
    FixedLatency | UniformLatency | ExponentialLatency, Field(discriminator="distribution")
]


class Outage(_Frozen):
    """The merchant API answers 503 during [start, end), in seconds since start or reset."""

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.start >= self.end:
            raise ValueError("an outage must end after it starts")
        return self


class CreateFaults(_Frozen):
    """Faults of the two create calls, ``POST /v1/checkout/sessions`` and ``/v1/charges``."""

    #: Answer 5xx and create nothing.
    error_rate: Rate = 0.0
    error_status: Annotated[int, Field(ge=500, le=599)] = 500
    #: Create the object, then hold the response for ``timeout_seconds``: the client times
    #: out without knowing the object exists, and must retry with its Idempotency-Key.
    timeout_rate: Rate = 0.0
    timeout_seconds: Annotated[float, Field(gt=0.0)] = 30.0


class Duplicates(_Frozen):
    #: Copies of a duplicated event, each one retried on its own; 1 means no duplicates.
    copies: Annotated[int, Field(ge=1, le=100)] = 1
    #: Send the copies at the same moment over separate connections.
    concurrent: bool = False
    #: Share of events duplicated.
    rate: Rate = 1.0


class Reorder(_Frozen):
    """Hold events until ``window`` of them are waiting, then send them in another order."""

    window: Annotated[int, Field(ge=2, le=1000)]
    order: Literal["reverse", "shuffle"] = "reverse"
    #: Release a partial window after this long, so that every event still arrives (I11).
    max_hold_seconds: Annotated[float, Field(gt=0.0)] = 5.0


class WebhookFaults(_Frozen):
    """Delay and duplicates strike a share of events, decided when the event is created;
    stale timestamps and wrong signatures a share of attempts, decided when one is signed.
    """

    #: Hold a delayed event this long before its first attempt.
    delay_seconds: Seconds = 0.0
    delay_rate: Rate = 1.0
    duplicates: Duplicates = Duplicates()
    reorder: Reorder | None = None
    #: The first n attempts of every delivery fail as if the connection had failed.
    drop_first: Annotated[int, Field(ge=0)] = 0
    #: Sign with ``t = now - stale_seconds``; beyond the receiver's tolerance (300 s by
    #: default) the signature is rightly refused.
    stale_seconds: Annotated[int, Field(ge=0)] = 0
    stale_rate: Rate = 1.0
    #: Sign this share of attempts with a wrong secret.
    wrong_signature_rate: Rate = 0.0


class Faults(_Frozen):
    seed: int = 0
    latency: Latency | None = None
    decline_rate: Rate = 0.0
    create: CreateFaults = CreateFaults()
    outages: tuple[Outage, ...] = ()
    webhook: WebhookFaults = WebhookFaults()


class FaultsError(ValueError):
    """A fault configuration that does not validate; the message is one readable line."""


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one line: ``webhook.duplicates.copies: Input should be ...``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_faults(data: Any) -> Faults:
    """Validate a mapping (a parsed file or request body) into Faults, or raise FaultsError."""
    if data is None:
        data = {}
    if isinstance(data, Faults):
        return data
    if not isinstance(data, Mapping):
        raise FaultsError("the fault configuration must be a mapping")
    try:
        return Faults.model_validate(dict(data))
    except ValidationError as exc:
        raise FaultsError(describe_validation_error(exc)) from None


def read_faults_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML or JSON fault file (JSON is YAML), or raise FaultsError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise FaultsError(f"{path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FaultsError(f"{path}: the fault configuration must be a mapping")
    return data


def load_faults(
    path: str | Path | None, overrides: Mapping[str, Any] | None = None
) -> Faults:
    """Faults from a file (if any), with ``overrides`` (nested, as CLI flags give them)
    merged on top; raise FaultsError."""
    base = read_faults_file(path) if path is not None else {}
    return parse_faults(deep_merge(base, overrides or {}))


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


T = TypeVar("T")


class FaultDice:
    """The seeded random streams that decide, call by call, which faults strike."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        seed = faults.seed
        self._streams = {
            name: random.Random(f"purchaseflow-gateway/{seed}/{name}")
            for name in (
                "latency",
                "decline",
                "create_error",
                "create_timeout",
                "delay",
                "duplicate",
                "stale",
                "wrong_signature",
                "reorder",
                "jitter",
            )
        }

    def _hit(self, stream: str, rate: float) -> bool:
        # Roll even at rate 0 or 1, so that a stream's n-th roll belongs to the n-th call
        # whatever the rates were before a run-time change of faults.
        return self._streams[stream].random() < rate

    def latency(self) -> float:
        spec = self.faults.latency
        rng = self._streams["latency"]
        if spec is None:
            return 0.0
        if isinstance(spec, FixedLatency):
            return spec.seconds
        if isinstance(spec, UniformLatency):
            return rng.uniform(spec.low, spec.high)
        value = rng.expovariate(1.0 / spec.mean)
        return value if spec.cap is None else min(value, spec.cap)

    def declines(self) -> bool:
        return self._hit("decline", self.faults.decline_rate)

    def create_fails(self) -> bool:
        return self._hit("create_error", self.faults.create.error_rate)

    def create_times_out(self) -> bool:
        return self._hit("create_timeout", self.faults.create.timeout_rate)

    def webhook_delay(self) -> float:
        webhook = self.faults.webhook
        return webhook.delay_seconds if self._hit("delay", webhook.delay_rate) else 0.0

    def copies(self) -> int:
        duplicates = self.faults.webhook.duplicates
        return duplicates.copies if self._hit("duplicate", duplicates.rate) else 1

    def staleness(self) -> int:
        webhook = self.faults.webhook
        return webhook.stale_seconds if self._hit("stale", webhook.stale_rate) else 0

    def wrong_signature(self) -> bool:
        return self._hit("wrong_signature", self.faults.webhook.wrong_signature_rate)

    def reorder(self, items: Sequence[T]) -> list[T]:
        spec = self.faults.webhook.reorder
        ordered = list(items)
        if spec is None or spec.order == "reverse":
            ordered.reverse()
        else:
            self._streams["reorder"].shuffle(ordered)
        return ordered

    def jitter(self, fraction: float) -> float:
        """A factor in [1 - fraction, 1 + fraction] for a retry backoff."""
        return 1.0 + fraction * (2.0 * self._streams["jitter"].random() - 1.0)

    def in_outage(self, uptime: float) -> bool:
        return any(o.start <= uptime < o.end for o in self.faults.outages)

"""Hand-built traces for the checker's tests."""

from __future__ import annotations

from reference_impl.domain.trace import TraceEvent


def ev(source: str, target: str, message: str = "", correlation_id: str = "c1") -> TraceEvent:
    return TraceEvent(source, target, message, correlation_id, 0.0)


def trace(*specs: str, correlation_id: str = "c1") -> list[TraceEvent]:
    """``trace("Buyer>Storefront:create_order", "Storefront>Buyer")``: ends, then the message."""
    events = []
    for at, spec in enumerate(specs):
        ends, _, message = spec.partition(":")
        source, target = ends.split(">")
        events.append(TraceEvent(source, target, message, correlation_id, float(at)))
    return events

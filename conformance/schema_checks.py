"""The schema checks: Schemathesis against the SUT's OpenAPI document, every phase.

Schemathesis (examples, coverage, fuzzing and stateful phases) generates requests from the
document the SUT serves (or the canonical one shipped in ``conformance/openapi.json``) and
holds every answer to the contract (C1..C4). Three custom checks carry invariants that a
single response can show: a webhook request Schemathesis makes is never signed, so it must
be refused (I5); an order's total is the sum of its lines (I6); an order's history is a
legal path (I2). They act only inside this module's runs; registered globally by
Schemathesis, they do nothing elsewhere.

Which built-in check stands for which contract check:

    C1  not_a_server_error
    C2  status_code_conformance, content_type_conformance, response_schema_conformance,
        response_headers_conformance, allow_header_conformance, use_after_free,
        ensure_resource_availability, problem_details (custom)
    C3  negative_data_rejection, positive_data_acceptance, missing_required_header,
        unsupported_method
    C4  ignored_auth
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema

from conformance.agreement import check_history, check_money
from conformance.audit import Finding
from conformance.target import Target

CANONICAL_DOCUMENT = Path(__file__).with_name("openapi.json")
log = logging.getLogger("purchaseflow.conformance")

CHECK_INVARIANT: dict[str, str] = {
    "not_a_server_error": "C1",
    "status_code_conformance": "C2",
    "content_type_conformance": "C2",
    "response_schema_conformance": "C2",
    "response_headers_conformance": "C2",
    "allow_header_conformance": "C2",
    "use_after_free": "C2",
    "ensure_resource_availability": "C2",
    "problem_details": "C2",
    "negative_data_rejection": "C3",
    "positive_data_acceptance": "C3",
    "missing_required_header": "C3",
    "unsupported_method": "C3",
    "ignored_auth": "C4",
    "unsigned_webhook_refused": "I5",
    "order_money_adds_up": "I6",
    "order_history_is_legal": "I2",
}

#: DESIGN.md section 3's stable codes, and the generic ones of HTTP-level refusals.
DOCUMENTED_CODES = frozenset({
    "insufficient_inventory", "items_unavailable", "price_changed", "cart_empty",
    "unknown_variant", "invalid_quantity", "account_inactive", "unauthorized", "not_found",
    "invalid_signature", "idempotency_key_reused", "validation_error",
    "forbidden", "method_not_allowed", "conflict", "payload_too_large",
    "unsupported_media_type", "illegal_transition", "gateway_unavailable", "internal_error",
    "http_error",
})


@dataclass
class _Active:
    webhook_path: str
    canonical: bool


#: Set while ``run_schema_checks`` runs; the custom checks do nothing otherwise.
_ACTIVE: _Active | None = None


def _json(response: schemathesis.Response) -> Any:
    try:
        return response.json()
    except Exception:
        return None


@schemathesis.check
def unsigned_webhook_refused(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                             case: schemathesis.Case[Any]) -> bool | None:
    """I5: Schemathesis cannot sign, so a 2xx from the webhook means an unsigned or
    mis-signed event was accepted."""
    if _ACTIVE is None or case.path != _ACTIVE.webhook_path:
        return None
    if 200 <= response.status_code < 300:
        raise AssertionError(f"I5: an unsigned webhook was accepted (HTTP "
                             f"{response.status_code})")
    return None


def _check_order(response: schemathesis.Response,
                 check: Callable[[dict[str, Any], str], list[Finding]], *needs: str) -> None:
    """Run ``check`` on a canonical shop's order body; raise what it finds."""
    body = _json(response) if _ACTIVE is not None and _ACTIVE.canonical else None
    if isinstance(body, dict) and all(key in body for key in ("order_id", *needs)):
        findings = check(body, str(body["order_id"]))
        if findings:
            raise AssertionError("; ".join(str(f) for f in findings))


@schemathesis.check
def order_money_adds_up(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                        case: schemathesis.Case[Any]) -> bool | None:
    """I6: an order's total is the sum of quantity x unit price."""
    _check_order(response, check_money)
    return None


@schemathesis.check
def order_history_is_legal(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                           case: schemathesis.Case[Any]) -> bool | None:
    """I2: an order's history is a path through the transition table."""
    _check_order(response, check_history, "history")
    return None


@schemathesis.check
def problem_details(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                    case: schemathesis.Case[Any]) -> bool | None:
    """C2 (DESIGN.md section 3): a refusal is application/problem+json with a stable code."""
    if _ACTIVE is None or not _ACTIVE.canonical or response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    body = _json(response)
    if "problem+json" not in content_type or not isinstance(body, dict):
        raise AssertionError(f"HTTP {response.status_code} is not application/problem+json "
                             f"({content_type or 'no content type'})")
    code = body.get("code")
    if code not in DOCUMENTED_CODES:
        raise AssertionError(f"problem code {code!r} is not one of the documented codes")
    return None


@dataclass
class SchemaFinding:
    invariant: str
    check: str
    operation: str
    title: str
    message: str
    reproduce: str
    phase: str
    at: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class SchemaResult:
    document: str
    findings: list[SchemaFinding] = field(default_factory=list)
    #: Test cases each invariant's checks judged.
    examples: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    phases: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class AsServed:
    """The in-process app as a server would run it for Schemathesis.

    Without its lifespan (the transport that reaches it already ran it; a second start
    would start the shop's workers twice), and with what a server does when the app raises:
    uvicorn answers 500 if nothing was sent yet and logs the error. Starlette re-raises
    after answering 500, which Schemathesis would report as its own error, not the SUT's.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        started = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("the shop raised on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})


def _config(target: Target, *, seed: int, max_examples: int, budget: float,
            fail_fast: bool, base_url: str | None) -> schemathesis.Config:
    adapter = target.adapter
    buyer = target.active_buyers[0]
    data: dict[str, Any] = {
        "seed": seed,
        "max-time": max(1, int(budget)),
        "headers": adapter.schema_headers(buyer),
        "workers": 1,
        "generation": {"max-examples": max_examples, "database": "none"},
        "checks": {
            # A schema-valid request may still be refused for a business reason the schema
            # cannot express (an unknown cart, a location with no stock): those refusals
            # come with their documented 4xx codes (problem_details checks that).
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "401", "403", "404", "409", "422"]},
            # A stateful-only check that needs two identities configured; I8 is the
            # sequential checks' business.
            "object_level_authorization": {"enabled": False},
        },
        "operations": [
            # Seeds 001 and 004: the webhook must be signed, which a schema cannot say: an
            # unsigned one is refused with 400 (I5 is checked on it instead).
            {"include-path": adapter.webhook_path,
             "checks": {"positive_data_acceptance": {"expected-statuses": ["400"]}}},
            # Resetting mid-run would empty the shop under the stateful phase's feet.
            {"include-path-regex": r"/reset$", "enabled": False},
        ],
    }
    if base_url is not None:
        data["base-url"] = base_url
    if fail_fast:
        data["max-failures"] = 1
    return schemathesis.Config.from_dict(data)


class NoDocument(Exception):
    """The shop publishes no OpenAPI document, and does not speak the canonical contract."""


def load_schema(target: Target, config: schemathesis.Config) -> tuple[Any, str]:
    """The SUT's own document (in process, over HTTP), else the canonical one for a shop
    that speaks the canonical contract."""
    adapter = target.adapter
    app = getattr(adapter.transport, "app", None)
    path = adapter.openapi_path
    if app is not None and path:
        return schemathesis.openapi.from_asgi(path, AsServed(app), config=config), path
    base_url = str(getattr(adapter, "base_url", "")).rstrip("/")
    if path and base_url:
        try:
            return schemathesis.openapi.from_url(f"{base_url}{path}", config=config,
                                                 timeout=10), f"{base_url}{path}"
        except Exception as exc:
            problem = f"{base_url}{path}: {type(exc).__name__}"
    else:
        problem = "the adapter names no document (openapi_path is None)"
    if not adapter.canonical:
        raise NoDocument(problem)
    return schemathesis.openapi.from_path(CANONICAL_DOCUMENT, config=config), str(
        CANONICAL_DOCUMENT)


def run_schema_checks(target: Target, *, checked: set[str], seed: int = 0,
                      max_examples: int = 25, budget: float = 30.0,
                      fail_fast: bool = False) -> SchemaResult:
    global _ACTIVE
    started = time.monotonic()
    adapter = target.adapter
    base_url = None if getattr(adapter.transport, "app", None) is not None else (
        str(getattr(adapter, "base_url", "")) or None)
    config = _config(target, seed=seed, max_examples=max_examples, budget=budget,
                     fail_fast=fail_fast, base_url=base_url)
    schema, document = load_schema(target, config)
    result = SchemaResult(document)
    _ACTIVE = _Active(adapter.webhook_path, canonical=adapter.canonical)
    seen: set[tuple[str, str, str]] = set()
    try:
        stream = from_schema(schema).execute()
        for event in stream:
            if isinstance(event, events.ScenarioFinished):
                _collect(event, result, checked, seen)
                if fail_fast and result.findings:
                    stream.stop()  # the next event is the last
            elif isinstance(event, events.PhaseFinished):
                result.phases[event.phase.name.value] = event.status.value
            elif isinstance(event, events.NonFatalError):
                result.errors.append(f"{type(event.value).__name__}: {event.value}"[:500])
            elif isinstance(event, events.FatalError):
                result.errors.append(f"{type(event.exception).__name__}: {event.exception}")
    finally:
        _ACTIVE = None
    result.seconds = time.monotonic() - started
    return result


def _collect(event: events.ScenarioFinished, result: SchemaResult, checked: set[str],
             seen: set[tuple[str, str, str]]) -> None:
    recorder = event.recorder
    for case_id, nodes in recorder.checks.items():
        result.cases += 1
        judged = {CHECK_INVARIANT.get(node.name) for node in nodes} - {"I2", "I5", "I6"}
        case_node = recorder.cases.get(case_id)
        if _ACTIVE is not None and case_node is not None:
            # The custom checks judged this case only if it was about what they look at.
            if case_node.value.path == _ACTIVE.webhook_path:
                judged.add("I5")
            response = recorder.find_response(case_id=case_id)
            body = _json(response) if response is not None else None
            if isinstance(body, dict) and "order_id" in body:
                judged |= {"I2", "I6"}
        result.examples.update(i for i in judged if i in checked)
        for node in nodes:
            invariant = CHECK_INVARIANT.get(node.name)
            if node.failure_info is None or invariant not in checked:
                continue
            failure = node.failure_info.failure
            case = recorder.cases.get(case_id)
            operation = case.value.operation.label if case else "?"
            key = (node.name, operation, failure.title)
            if key in seen:
                continue
            seen.add(key)
            result.findings.append(SchemaFinding(
                invariant, node.name, operation, failure.title, failure.message,
                node.failure_info.code_sample, str(event.phase.value)))

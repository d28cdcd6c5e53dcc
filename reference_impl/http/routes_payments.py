"""The payment gateway's webhook (seed 001: POST /webhook/payment-status; seed 004: Stripe).

Authenticated first: a missing, wrong or stale signature answers 400 and has no effect (I5).
Once authenticated, every event is acknowledged with 200, even when it changes nothing, so
that the gateway stops retrying (DESIGN.md section 3). A 5xx only ever means "not
persisted, retry".
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reference_impl.domain import signatures
from reference_impl.domain.payment import decode_event
from reference_impl.http.deps import RuntimeDep
from reference_impl.http.problems import ApiError, responses
from reference_impl.http.schemas import WebhookAck
from reference_impl.service import payments

router = APIRouter(tags=["payments"])

MAX_WEBHOOK_BYTES = 64 * 1024


@router.post(
    "/payments/webhook",
    response_model=WebhookAck,
    responses=responses(400, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A signed event in the profile's dialect (generic or stripe)",
        }
    },
)
async def payment_webhook(request: Request, runtime: RuntimeDep) -> WebhookAck:
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, "payload_too_large", "webhook body too large")
    policies = runtime.policies
    header = request.headers.get(signatures.SIGNATURE_HEADERS[policies.webhook_dialect])
    now = runtime.clock()
    signatures.verify(
        runtime.settings.webhook_secret, header, body, now, policies.webhook_tolerance
    )
    event = decode_event(policies.webhook_dialect, body)
    if event is None:
        return WebhookAck(verdict="ignored")
    trace = runtime.trace(now)
    try:
        verdict = await run_in_threadpool(
            runtime.run_unit_here,
            lambda uow: payments.handle_payment_event(
                uow, event, policies=policies, now=now, trace=trace
            ),
            trace,
        )
    finally:
        runtime.wake_worker()
    return WebhookAck(verdict=verdict)

"""Errors as ``application/problem+json`` (RFC 9457) with a stable ``code`` (DESIGN.md §3).

Every failure the service can produce is mapped here, including FastAPI's own validation
errors and unknown routes, so that no bad input ever reaches the client as a bare 5xx.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from reference_impl.domain.errors import DomainError
from reference_impl.storage.availability import is_unavailable, one_line
from reference_impl.storage.turnstile import WriterLockTimeout

PROBLEM_JSON = "application/problem+json"
#: Seconds a client is asked to wait before it repeats a request the database could not
#: serve (``storage_unavailable``): long enough for a pool slot or a restart, not more.
STORAGE_RETRY_AFTER = 1
log = logging.getLogger("purchaseflow.http")

_STATUS_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class Problem(BaseModel):
    type: str = Field(default="about:blank", description="A URI reference for the problem type")
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str = ""
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field errors, for validation_error"
    )
    order_id: str | None = None


def problem_response(
    status: int, code: str, title: str, detail: str = "", **extra: Any
) -> JSONResponse:
    body = Problem(
        type=f"https://purchaseflow.dev/problems/{code}",
        title=title,
        status=status,
        code=code,
        detail=detail,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON
    )


class ApiError(Exception):
    """An HTTP-level failure that is not a domain rule (bad token, gateway down...)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.http_status, exc.code, _title(exc.code), exc.detail,
                                instance=request.url.path)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.code, _title(exc.code), exc.detail,
                                instance=request.url.path, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, "validation_error", "Validation error", detail,
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers 400 for a body it cannot decode (not UTF-8); the contract documents
        # bad input as 422 validation_error on every operation, so say that.
        status = 422 if exc.status_code == 400 else exc.status_code
        code = _STATUS_CODES.get(status, "http_error")
        response = problem_response(status, code, _title(code), str(exc.detail),
                                    instance=request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        if status == 405:
            # RFC 9110: Allow lists every method of the resource. Starlette names only the
            # methods of the first route whose path matched (one route per method here).
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    # The errors that storage raises, by class: a handler on ``Exception`` would run in
    # Starlette's outermost middleware, which re-raises after answering (a traceback per
    # request in the log, for what is an outage).
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(WriterLockTimeout)
    async def on_storage_error(request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):
            raise exc  # a defect: to on_unexpected, through Starlette's error middleware
        # The database refused or dropped us, or its lock stayed taken: the same request
        # may well succeed in a moment (see availability.py on why a retry is safe).
        log.warning("storage unavailable on %s %s: %s", request.method, request.url.path,
                    one_line(exc))
        response = problem_response(
            503, "storage_unavailable", "Storage unavailable",
            "the database cannot serve requests at the moment; retry",
            instance=request.url.path,
        )
        response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER)
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, never bad input: logged with its traceback, answered without it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "Internal error",
                                "an unexpected error occurred", instance=request.url.path)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for ``statuses``."""
    return {status: _documented(status) for status in statuses}


def _documented(status: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": Problem,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "description": _title(_STATUS_CODES.get(status, "error")),
    }
    if status == 503:
        entry["description"] = (
            "Service unavailable: storage_unavailable (the database could not serve the "
            "request; retry after Retry-After seconds, an order under the same "
            "Idempotency-Key), or gateway_unavailable where the operation calls the "
            "payment gateway"
        )
        entry["headers"] = {"Retry-After": {
            "description": "Seconds to wait before retrying (storage_unavailable)",
            "schema": {"type": "integer"},
        }}
    return entry


#: Every operation that reaches storage can answer this (``on_storage_error``).
STORAGE_RESPONSES = responses(503)

"""FastAPI dependencies: the runtime, the buyer behind a token, the admin guard.

The security schemes are declared for the OpenAPI document (so that schema-driven tools
know how to authenticate), but the headers are read and judged here, so that every bad
token answers the same 401 problem.

They are ``async def`` although they never wait: FastAPI runs a plain ``def`` dependency in
its thread pool, a thread hop per dependency per request for a few microseconds of work.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from reference_impl.domain.errors import Unauthorized
from reference_impl.http import auth
from reference_impl.http.runtime import Runtime

bearer_scheme = HTTPBearer(auto_error=False, bearerFormat="JWT",
                           description="A buyer's HS256 JWT; `sub` is the buyer id")
admin_scheme = APIKeyHeader(name="X-Admin-Token", auto_error=False,
                            description="The harness's admin token")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def buyer(request: Request, runtime: RuntimeDep, _: object = Security(bearer_scheme)) -> str:
    return auth.user_from_header(
        runtime.settings.jwt_secret, request.headers.get("Authorization")
    )


async def maybe_buyer(
    request: Request, runtime: RuntimeDep, _: object = Security(bearer_scheme)
) -> str | None:
    return auth.optional_user(runtime.settings.jwt_secret, request.headers.get("Authorization"))


async def admin(runtime: RuntimeDep, token: str | None = Security(admin_scheme)) -> None:
    if not token or not hmac.compare_digest(token, runtime.settings.admin_token):
        raise Unauthorized("admin endpoints need the X-Admin-Token header")


Buyer = Annotated[str, Depends(buyer)]
MaybeBuyer = Annotated[str | None, Depends(maybe_buyer)]

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

admin_scheme = APIKeyHeader(name="X-Admin-Token", auto_error=False,
                            description="The harness's admin token")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class BearerBuyer(HTTPBearer):
    """The buyer behind ``Authorization: Bearer <JWT>``, as one dependency.

    The scheme itself judges the token, so a route that needs the buyer has one dependency
    where a function depending on the runtime and on the scheme had three (FastAPI costs
    about 10 µs per dependency per request). The OpenAPI document is the same: the scheme
    keeps ``HTTPBearer``'s name.
    """

    def __init__(self, *, optional: bool) -> None:
        super().__init__(auto_error=False, bearerFormat="JWT", scheme_name="HTTPBearer",
                         description="A buyer's HS256 JWT; `sub` is the buyer id")
        self._optional = optional

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        secret = request.app.state.runtime.settings.jwt_secret
        header = request.headers.get("Authorization")
        if self._optional:
            return auth.optional_user(secret, header)
        return auth.user_from_header(secret, header)


async def admin(runtime: RuntimeDep, token: str | None = Security(admin_scheme)) -> None:
    if not token or not hmac.compare_digest(token, runtime.settings.admin_token):
        raise Unauthorized("admin endpoints need the X-Admin-Token header")


Buyer = Annotated[str, Security(BearerBuyer(optional=False))]
MaybeBuyer = Annotated[str | None, Security(BearerBuyer(optional=True))]

"""Bearer-token authentication, as a FastAPI dependency.

Every call under `/v1` needs `Authorization: Bearer <token>` except `GET /v1/time` (it tells nothing
but the clock, and offset estimation wants it cheap). The token is compared in constant time.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="the director's token ($JOULEBENCH_TOKEN or token_file)")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected: str = request.app.state.token
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this call needs the director's token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong token", headers={"WWW-Authenticate": "Bearer"}
        )

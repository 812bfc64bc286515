"""Who may look: the dashboard, its event stream and `/metrics` are read-only views of the director.

From a loopback peer (127.0.0.0/8, ::1) they need nothing: whoever is on the machine can already read
the data directory. From any other peer they need the director's token, as `Authorization: Bearer
<token>` (a Prometheus scrape job's `authorization` setting), or the cookie `POST /login` sets in
exchange for it (a browser). The cookie holds an HMAC of the token, not the token, and is HttpOnly
and SameSite=Strict. Behind a reverse proxy on the same machine every request looks loopback: put
the proxy's own authentication in front, or bind the director elsewhere. State-changing routes keep
requiring the token from everyone (`gate.RequestGate`, `auth.require_token`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from fastapi import HTTPException, Request, status

from power_director.peers import peer_address

COOKIE = "joulebench_view"
_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")


def is_loopback(host: str | None) -> bool:
    address = peer_address(host)
    if address is None:
        return False
    return address in _LOOPBACK_V4 if isinstance(address, ipaddress.IPv4Address) else address.is_loopback


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"joulebench dashboard view", hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    return secrets.compare_digest(given.encode(), token.encode())


def may_view(request: Request) -> bool:
    if is_loopback(request.client.host if request.client else None):
        return True
    token: str = request.app.state.token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials and token_matches(credentials.strip(), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), cookie_value(token).encode())


def require_viewer(request: Request) -> None:
    if not may_view(request):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "from this address the dashboard and /metrics need the director's token: "
            "'Authorization: Bearer <token>', or sign in at /login",
            headers={"WWW-Authenticate": "Bearer"},
        )

"""Same-site checks on the HTTP side: which `Host` names the server answers to, and which `Origin`s
may use the `identity` cookie.

- `Host` (against DNS rebinding, and so that the server never echoes a name it was not given:
  Convos' paging URLs are built from it): the bound host, `localhost`, `127.0.0.1`, `::1`, and
  the names given with `--allowed-hosts`; any port. A request without `Host` (HTTP/1.0) is let
  through: it names nothing to check or echo.
- `Origin` (against cross-site requests riding on the cookie; browsers send it on every
  WebSocket handshake and every POST): a request signed in with the cookie that changes
  something (any method but GET, HEAD, OPTIONS), and every WebSocket handshake signed in with
  it, must come from the server's own origin (the scheme and `Host` of the request) or one
  given with `--allow-origin`. Bearer tokens are not sent by browsers on their own, so
  requests that carry one are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from server.domain.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# host[:port]: a name or IPv4 address, or an IPv6 address in brackets; the port digits only.
_HOST = re.compile(r"(?P<name>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")


def host_names(bound: str, extra: Iterable[str]) -> frozenset[str]:
    """The names a server bound to `bound` answers to: that host, loopback, and `extra` (lowercase)."""
    names = {bound, *LOOPBACK_NAMES, *extra}
    return frozenset(n.strip().lower().removeprefix("[").removesuffix("]") for n in names if n.strip())


def host_name(header: str) -> str | None:
    """The name in a `Host` header (lowercase, IPv6 without brackets), or None when it is not host[:port]."""
    match = _HOST.fullmatch(header.strip())
    if match is None:
        return None
    return match["name"].lower().removeprefix("[").removesuffix("]")


def host_refusal(header: str | None, allowed: frozenset[str]) -> str | None:
    """Why a `Host` header is refused, or None when it is fine."""
    if header is None:
        return None
    name = host_name(header)
    if name is None:
        return "the Host header is not a host name with an optional port"
    if name not in allowed:
        return f"this server does not answer to the host name {name!r} (see --allowed-hosts)"
    return None


def normal_origin(origin: str) -> str:
    """An origin as compared: lowercase, without a trailing slash."""
    return origin.strip().lower().rstrip("/")


def own_origin(conn: HTTPConnection) -> str | None:
    """The origin the request was sent to: its scheme (http or https) and its Host header."""
    host = conn.headers.get("host")
    if not host:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
    return normal_origin(f"{scheme}://{host}")


def check_cookie_origin(conn: HTTPConnection, allowed: frozenset[str]) -> None:
    """Forbidden unless a request signed in with the cookie may be: it only reads (GET, HEAD, OPTIONS,
    but not a WebSocket handshake), or its Origin is the server's own or one of `allowed`."""
    if conn.scope["type"] == "http" and conn.scope["method"] in SAFE_METHODS:
        return
    origin = conn.headers.get("origin")
    if origin is not None and normal_origin(origin) in (allowed | {own_origin(conn)}):
        return
    sent = "no Origin header" if origin is None else f"the Origin {origin.strip()[:200]!r}"
    raise Forbidden(
        "ForeignOrigin",
        f"a request signed in with the identity cookie must come from this server's own pages; it came with {sent} "
        "(send a bearer token instead, or see --allow-origin)",
    )

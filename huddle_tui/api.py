"""The HTTP side of the server, for the client. No Textual here."""

from __future__ import annotations

import functools
import ssl
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ApiError(Exception):
    """The server refused a request (or answered nonsense); `message` is for people."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def unauthorized(self) -> bool:
        """The token is not (or no longer) valid."""
        return self.status == 401

    @property
    def sentence(self) -> str:
        """The message as a sentence: a capital first, a full stop last."""
        text = self.message.strip() or "The server refused"
        text = text[:1].upper() + text[1:]
        return text if text.endswith((".", "!", "?", "…")) else f"{text}."


class Offline(ApiError):
    """The server could not be reached (or is unavailable behind its proxy): try again later."""


class Unexpected(ApiError):
    """The server answered, but not as a Huddle server does: garbage, a proxy's page, a wrong shape."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"the server sent something unexpected ({detail})", status=status)
        self.detail = detail


Kinds = type | tuple[type, ...]
NUMBER = (int, float)
MAYBE_TEXT = (str, type(None))


NAMES: dict[type, str] = {
    bool: "true/false",
    int: "a number",
    float: "a number",
    str: "text",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _kind(value: Any) -> str:
    """A JSON value's kind, in words."""
    return NAMES.get(type(value), type(value).__name__)


def _is(value: Any, kinds: Kinds) -> bool:
    """Whether a JSON value is of these kinds (bool is an int to Python, never to JSON)."""
    return isinstance(value, kinds) and (
        type(value) is not bool or kinds is bool or (isinstance(kinds, tuple) and bool in kinds)
    )


def _check(value: Any, kinds: Kinds, where: str) -> None:
    if not _is(value, kinds):
        accepted = kinds if isinstance(kinds, tuple) else (kinds,)
        wanted = " or ".join(dict.fromkeys(NAMES.get(k, k.__name__) for k in accepted))
        raise Unexpected(f"{where} should be {wanted}, not {_kind(value)}")


def _fault(
    value: dict[str, Any], need: Mapping[str, Kinds], may: Mapping[str, Kinds] | None
) -> tuple[str, Kinds | None] | None:
    """The first field of an object that is missing (kinds None) or of another kind; None if it fits.
    Words are made only for a fault: for a snapshot of thousands they cost more than the checks (bench C1)."""
    for key, kinds in need.items():
        if key not in value:
            return key, None
        if not _is(value[key], kinds):
            return key, kinds
    for key, kinds in (may or {}).items():
        if key in value and not _is(value[key], kinds):
            return key, kinds
    return None


def record(value: Any, what: str, need: Mapping[str, Kinds], may: Mapping[str, Kinds] | None = None) -> dict[str, Any]:
    """`value` as a JSON object whose fields have these types; Unexpected (naming the field) if not."""
    _check(value, dict, what)
    fault = _fault(value, need, may)
    if fault is not None:
        key, kinds = fault
        if kinds is None:
            raise Unexpected(f"{what} has no {key}")
        _check(value[key], kinds, f"{what}.{key}")
    return value  # type: ignore[no-any-return]


def records(
    value: Any, what: str, need: Mapping[str, Kinds], may: Mapping[str, Kinds] | None = None
) -> list[dict[str, Any]]:
    """A JSON list of such objects."""
    _check(value, list, what)
    for i, item in enumerate(value):
        if not isinstance(item, dict) or _fault(item, need, may) is not None:
            record(item, f"{what}[{i}]", need, may)  # says what is wrong
    return value  # type: ignore[no-any-return]


# What the client reads of a boot snapshot (State.apply_boot and the contact list rely on it).
BOOT_USER: dict[str, Kinds] = {"id": str, "name": str}
BOOT_USER_MAY: dict[str, Kinds] = {
    "display_name": MAYBE_TEXT,
    "status": MAYBE_TEXT,
    "last_seen": MAYBE_TEXT,
    "team": MAYBE_TEXT,
    "ooo": (dict, type(None)),
}
MESSAGE: dict[str, Kinds] = {"id": str, "sender": str}
MESSAGE_MAY: dict[str, Kinds] = {
    "body": str,
    "to": MAYBE_TEXT,
    "channel": MAYBE_TEXT,
    "at": MAYBE_TEXT,
    "read_at": MAYBE_TEXT,
}


def check_boot(body: Any) -> dict[str, Any]:
    """A boot snapshot the client can use, or Unexpected."""
    boot = record(
        body,
        "boot",
        {"user": dict, "resume_point": int},
        {
            "heartbeat": NUMBER,
            "away_after": NUMBER,
            "ring_timeout": NUMBER,
            "boot_window": (int, type(None)),
            "unread": dict,
        },
    )
    record(boot["user"], "boot.user", {"name": str})
    records(boot.get("users", []), "boot.users", BOOT_USER, BOOT_USER_MAY)
    records(boot.get("channels", []), "boot.channels", {"id": str, "name": str})
    records(boot.get("messages", []), "boot.messages", MESSAGE, MESSAGE_MAY)
    for handle, count in boot.get("unread", {}).items():
        _check(count, int, f"boot.unread.{handle}")
    return boot


CALL: dict[str, Kinds] = {"call_id": str, "from": str, "to": str, "status": str}
CALL_MAY: dict[str, Kinds] = {
    "type": str,
    "started_at": MAYBE_TEXT,
    "ended_at": MAYBE_TEXT,
    "duration_seconds": (*NUMBER, type(None)),
}
HISTORY_ITEM: dict[str, Kinds] = {"message_id": str, "from": str, "body": str}
HISTORY_ITEM_MAY: dict[str, Kinds] = {"to": MAYBE_TEXT, "timestamp": MAYBE_TEXT, "read_at": MAYBE_TEXT}
UNAVAILABLE = (502, 503, 504)  # a proxy (or the server itself) says: not now


def _explain(response: httpx.Response, base_url: str) -> ApiError:
    """Turn an error answer of any dialect into a readable ApiError."""
    status = response.status_code
    code: str | None = None
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            error = body["error"]
            code = error.get("code") if isinstance(error.get("code"), str) else None
            message = str(error.get("message") or error.get("details") or "")
        elif "errorCode" in body:
            code = str(body["errorCode"])
            messages = body.get("errorMessages")
            message = "; ".join(str(m) for m in messages) if isinstance(messages, list) else ""
            message = message or code
    elif response.headers.get("content-type", "").startswith("text/plain"):
        message = response.text.strip()[:300]
    if status in UNAVAILABLE:
        return Offline(f"{base_url} is unavailable ({status} {response.reason_phrase})".strip(), status=status)
    if not message and body is None and response.content:
        # Refused all the same (a proxy's error page): not sent, unlike an unreadable success.
        message = f"the server answered {status} {response.reason_phrase} with {_describe(response)}"
    if not message:
        message = f"the server answered {status}"
    return ApiError(message, status=status, code=code)


def _describe(response: httpx.Response) -> str:
    """What a body that is not JSON looks like, in a few words."""
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if kind == "text/html" or response.content.lstrip()[:1] == b"<":
        return "a web page, not JSON: is this the address of a Huddle server?"
    return f"{len(response.content)} bytes that are not JSON"


def _transport_error(exc: httpx.HTTPError, base_url: str) -> ApiError:
    """A request that got no usable answer."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ApiError(f"{base_url or '(empty)'} is not a server address: it should start with http:// or https://")
    if isinstance(exc, httpx.TimeoutException):
        return Offline(f"{base_url} did not answer in time")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "disconnected" in text or "peer closed" in text:
            return Offline(f"the connection to {base_url} broke off")
        return Unexpected(f"an answer that is not HTTP: {text[:80]}")
    if isinstance(exc, httpx.TransportError):
        return Offline(f"cannot reach {base_url}")
    return Unexpected(f"{exc.__class__.__name__}: {str(exc)[:80]}")


@functools.cache
def _trusted() -> ssl.SSLContext:
    """httpx's default verification (system settings, certifi), built once per process."""
    return httpx.create_ssl_context()


def tls_for(base_url: str) -> ssl.SSLContext:
    """TLS for a server address: https verifies exactly as httpx does by default, loading the
    certificates once per process instead of once per client (~30 ms each, on the start-up
    path, bench C1). Plain http never negotiates TLS (no redirect is followed), so it gets a
    context that trusts nothing instead of loading certificates it cannot use."""
    if base_url.lower().startswith("https:"):
        return _trusted()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no certificate to accept


class Api:
    """One signed-in (or signing-in) session with a Huddle server."""

    def __init__(self, base_url: str, token: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=TIMEOUT, transport=transport, verify=tls_for(self.base_url)
        )

    async def close(self) -> None:
        """Close connections."""
        await self._client.aclose()

    def headers(self) -> dict[str, str]:
        """The auth header for this session."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; JSON answer, None for 204; Offline, Unexpected or ApiError otherwise."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.base_url) from exc
        except httpx.InvalidURL as exc:
            raise ApiError(f"{self.base_url} is not a server address ({exc})") from exc
        status = response.status_code
        if status >= 400:
            raise _explain(response, self.base_url)
        if 300 <= status < 400:
            where = response.headers.get("location", "elsewhere")
            raise Unexpected(f"a redirect to {where}: use that address as the server", status=status)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise Unexpected(_describe(response), status=status) from None

    # ---- session ------------------------------------------------------------------
    async def login(self, user: str, password: str) -> dict[str, Any]:
        """Sign in; keeps the token."""
        answer = await self.request("POST", "/api/v2/auth/login", json={"user": user, "password": password})
        body = record(answer, "the sign-in answer", {"token": str, "user": dict})
        record(body["user"], "the sign-in answer's user", {"user": str})
        self.token = body["token"]
        return body

    async def logout(self) -> None:
        """Revoke the token."""
        await self.request("POST", "/api/v2/auth/logout")
        self.token = None

    async def boot(self) -> dict[str, Any]:
        """Snapshot and resume point."""
        return check_boot(await self.request("GET", "/api/boot"))

    # ---- presence -----------------------------------------------------------------
    async def activity(self) -> None:
        """I am here."""
        await self.request("POST", "/api/v2/activity")

    async def patch_me(self, handle: str, **fields: Any) -> dict[str, Any]:
        """Change my status (dnd / None), display name or hide_last_seen."""
        body: dict[str, Any] = await self.request("PATCH", f"/api/v2/users/{handle}", json=fields)
        return body

    # ---- messages -----------------------------------------------------------------
    async def send(self, to: str, body: str, key: str | None = None) -> dict[str, Any]:
        """Send a DM; the idempotency key makes a retry safe."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        out = await self.request("POST", "/api/v2/messages", json={"to": to, "body": body}, headers=headers)
        return record(out, "the sent message", {"message_id": str})

    async def history(self, partner: str, before: str | None = None, limit: int = 50) -> dict[str, Any]:
        """A page of the DM with someone, older than `before`."""
        params: dict[str, Any] = {"with": partner, "limit": limit}
        if before:
            params["before"] = before
        page = record(
            await self.request("GET", "/api/v2/messages", params=params),
            "the history",
            {"messages": list},
            {"next_before": MAYBE_TEXT},
        )
        records(page["messages"], "the history's messages", HISTORY_ITEM, HISTORY_ITEM_MAY)
        return page

    async def channel_history(self, channel_id: str, before: str | None = None, limit: int = 50) -> dict[str, Any]:
        """A page of a channel, older than `before`."""
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        out: dict[str, Any] = await self.request("GET", f"/api/channels/{channel_id}/messages", params=params)
        return out

    async def mark_read(self, message_id: str) -> dict[str, Any]:
        """Mark a message (and everything before it from that sender) read."""
        out: dict[str, Any] = await self.request("POST", f"/api/v2/messages/{message_id}/read")
        return out

    async def send_channel(self, channel_id: str, body: str, key: str | None = None) -> dict[str, Any]:
        """Post to a public channel (pilcrow); the idempotency key makes a retry safe."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        out = await self.request("POST", f"/api/channels/{channel_id}", json={"body": body}, headers=headers)
        return record(out, "the posted message", {"id": str})

    # ---- calls --------------------------------------------------------------------
    async def call(self, to: str, call_type: str = "audio") -> dict[str, Any]:
        """Ring someone."""
        out = await self.request("POST", "/api/v2/calls", json={"to": to, "type": call_type})
        return record(out, "the call", CALL, CALL_MAY)

    async def call_action(self, call_id: str, action: str) -> dict[str, Any]:
        """answer | decline | end."""
        out: dict[str, Any] = await self.request("POST", f"/api/v2/calls/{call_id}/{action}")
        return out

    async def calls(self, *, missed: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """My calls, newest first."""
        params = {"limit": limit, **({"missed": "true"} if missed else {})}
        body = record(await self.request("GET", "/api/v2/calls", params=params), "the calls", {"calls": list})
        return records(body["calls"], "the calls", CALL, CALL_MAY)

    # ---- out of office ------------------------------------------------------------
    async def my_ooo(self, handle: str) -> list[dict[str, Any]]:
        """My OOO entries."""
        body = await self.request("GET", f"/presence/{handle}", params={"pagesize": 100})
        return list(body.get("presenceEntities", [])) if isinstance(body, dict) else []

    async def create_ooo(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A new OOO entry."""
        out: dict[str, Any] = await self.request("POST", "/presence/create", json=entry)
        return out

    async def update_ooo(self, handle: str, entry_id: int, entry: dict[str, Any]) -> dict[str, Any]:
        """Change an OOO entry."""
        out: dict[str, Any] = await self.request("PUT", f"/presence/{handle}/{entry_id}", json=entry)
        return out

    async def delete_ooo(self, handle: str, entry_id: int) -> None:
        """Remove an OOO entry."""
        await self.request("DELETE", f"/presence/{handle}/{entry_id}")

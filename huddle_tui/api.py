"""The HTTP side of the server, for the client: requests go out, records (records.py) come
back, errors are ApiError / Offline / Unexpected in words for people. No Textual here."""

from __future__ import annotations

import functools
import ssl
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from huddle_tui import wire
from huddle_tui.errors import ApiError, Offline, Unexpected
from huddle_tui.records import (
    Boot,
    CallAction,
    CallRecord,
    CallType,
    ChatKey,
    HistoryPage,
    OooDraft,
    OooEntry,
    Profile,
    SearchPage,
)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


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
    async def login(self, user: str, password: str) -> str:
        """Sign in; keeps the token; returns my handle."""
        answer = await self.request("POST", "/api/v2/auth/login", json={"user": user, "password": password})
        self.token, handle = wire.signed_in(answer)
        return handle

    async def logout(self) -> None:
        """Revoke the token."""
        await self.request("POST", "/api/v2/auth/logout")
        self.token = None

    async def boot(self) -> Boot:
        """Snapshot and resume point."""
        return wire.boot(await self.request("GET", "/api/boot"))

    # ---- presence -----------------------------------------------------------------
    async def activity(self) -> None:
        """I am here."""
        await self.request("POST", "/api/v2/activity")

    async def profile(self, handle: str) -> Profile:
        """My own settings."""
        return wire.profile(await self.request("GET", f"/api/v2/users/{handle}"))

    async def patch_me(self, handle: str, **fields: Any) -> Profile:
        """Change my status (dnd / None), display name or hide_last_seen."""
        return wire.profile(await self.request("PATCH", f"/api/v2/users/{handle}", json=fields))

    # ---- messages -----------------------------------------------------------------
    async def send(
        self, to: str, body: str, key: str | None = None, reply_to: str | None = None
    ) -> tuple[str, datetime | None]:
        """Send a DM (the idempotency key makes a retry safe); its id, and when the server took it."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        payload = {"to": to, "body": body} | ({"reply_to": reply_to} if reply_to else {})
        out = await self.request("POST", "/api/v2/messages", json=payload, headers=headers)
        sent = wire.record(out, "the sent message", {"message_id": str}, {"timestamp": wire.MAYBE_TEXT})
        return sent["message_id"], wire.parse_time(sent.get("timestamp"))

    async def send_channel(
        self, channel_id: str, body: str, key: str | None = None, reply_to: str | None = None
    ) -> tuple[str, datetime | None]:
        """Post to a public channel (the idempotency key makes a retry safe); its id and time."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        payload = {"body": body} | ({"reply_to": reply_to} if reply_to else {})
        out = await self.request("POST", f"/api/channels/{channel_id}", json=payload, headers=headers)
        sent = wire.record(out, "the posted message", {"id": str}, {"at": wire.MAYBE_TEXT})
        return sent["id"], wire.parse_time(sent.get("at"))

    async def history(self, partner: str, before: str | None = None, limit: int = 50) -> HistoryPage:
        """A page of the DM with someone, older than `before`."""
        params: dict[str, Any] = {"with": partner, "limit": limit}
        if before:
            params["before"] = before
        return wire.history(await self.request("GET", "/api/v2/messages", params=params))

    async def channel_history(self, channel_id: str, before: str | None = None, limit: int = 50) -> HistoryPage:
        """A page of a channel, older than `before`."""
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        return wire.channel_history(await self.request("GET", f"/api/channels/{channel_id}/messages", params=params))

    async def message_body(self, message_id: str) -> str:
        """The whole body of a message (boot sends only the start of long ones)."""
        return wire.whole_body(await self.request("GET", f"/api/v2/messages/{message_id}"))

    async def edit(self, message_id: str, body: str) -> None:
        """Change the body of my message."""
        await self.request("PATCH", f"/api/v2/messages/{message_id}", json={"body": body})

    async def delete(self, message_id: str) -> None:
        """Delete my message (an admin: any channel message)."""
        await self.request("DELETE", f"/api/v2/messages/{message_id}")

    async def react(self, message_id: str, emoji: str, *, add: bool) -> None:
        """Add or take back a reaction."""
        path = f"/api/v2/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        await self.request("PUT" if add else "DELETE", path)

    async def search(self, me: str, query: str, before: str | None = None, limit: int = 30) -> SearchPage:
        """Messages I (`me`) may see that match, newest first."""
        params: dict[str, Any] = {"q": query, "limit": limit} | ({"before": before} if before else {})
        return wire.search(await self.request("GET", "/api/v2/search", params=params), me)

    async def typing(self, chat: ChatKey) -> None:
        """Tell the other party (or the channel) I am typing."""
        await self.request("POST", "/api/v2/typing", json={"channel": chat.id} if chat.is_channel else {"to": chat.id})

    async def mark_read(self, message_id: str) -> None:
        """Mark a message (and everything before it from that sender) read."""
        await self.request("POST", f"/api/v2/messages/{message_id}/read")

    # ---- calls --------------------------------------------------------------------
    async def call(self, to: str, call_type: CallType = "audio") -> CallRecord:
        """Ring someone."""
        return wire.one_call(await self.request("POST", "/api/v2/calls", json={"to": to, "type": call_type}))

    async def call_action(self, call_id: str, action: CallAction) -> None:
        """answer | decline | end."""
        await self.request("POST", f"/api/v2/calls/{call_id}/{action}")

    async def calls(self, *, missed: bool = False, limit: int = 50) -> list[CallRecord]:
        """My calls, newest first."""
        params = {"limit": limit, **({"missed": "true"} if missed else {})}
        return wire.calls(await self.request("GET", "/api/v2/calls", params=params))

    # ---- out of office ------------------------------------------------------------
    async def my_ooo(self, handle: str) -> list[OooEntry]:
        """My OOO entries."""
        return wire.ooo_entries(await self.request("GET", f"/presence/{handle}", params={"pagesize": 100}))

    async def create_ooo(self, draft: OooDraft) -> None:
        """A new OOO entry."""
        await self.request("POST", "/presence/create", json=wire.ooo_body(draft))

    async def update_ooo(self, handle: str, entry_id: int, draft: OooDraft) -> None:
        """Change an OOO entry."""
        await self.request("PUT", f"/presence/{handle}/{entry_id}", json=wire.ooo_body(draft))

    async def delete_ooo(self, handle: str, entry_id: int) -> None:
        """Remove an OOO entry."""
        await self.request("DELETE", f"/presence/{handle}/{entry_id}")

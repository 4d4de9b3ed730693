"""The HTTP side of the server, for the client. No Textual here."""

from __future__ import annotations

import uuid
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


class Offline(ApiError):
    """The server could not be reached."""


def _explain(response: httpx.Response) -> ApiError:
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
            message = "; ".join(str(m) for m in body.get("errorMessages") or []) or code
    elif response.headers.get("content-type", "").startswith("text/plain"):
        message = response.text.strip()[:300]
    if not message:
        message = f"the server answered {status}"
    return ApiError(message, status=status, code=code)


class Api:
    """One signed-in (or signing-in) session with a Huddle server."""

    def __init__(self, base_url: str, token: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT, transport=transport)

    async def close(self) -> None:
        """Close connections."""
        await self._client.aclose()

    def headers(self) -> dict[str, str]:
        """The auth header for this session."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; JSON answer, None for 204; ApiError/Offline otherwise."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            raise _explain(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError("the server answered something that is not JSON", status=response.status_code) from None

    # ---- session ------------------------------------------------------------------
    async def login(self, user: str, password: str) -> dict[str, Any]:
        """Sign in; keeps the token."""
        body = await self.request("POST", "/api/v2/auth/login", json={"user": user, "password": password})
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            raise ApiError("the server's sign-in answer has no token")
        self.token = body["token"]
        return body

    async def logout(self) -> None:
        """Revoke the token."""
        await self.request("POST", "/api/v2/auth/logout")
        self.token = None

    async def boot(self) -> dict[str, Any]:
        """Snapshot and resume point."""
        body: dict[str, Any] = await self.request("GET", "/api/boot")
        return body

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
        out: dict[str, Any] = await self.request(
            "POST", "/api/v2/messages", json={"to": to, "body": body}, headers=headers
        )
        return out

    async def history(self, partner: str, before: str | None = None, limit: int = 50) -> dict[str, Any]:
        """A page of the DM with someone, older than `before`."""
        params: dict[str, Any] = {"with": partner, "limit": limit}
        if before:
            params["before"] = before
        out: dict[str, Any] = await self.request("GET", "/api/v2/messages", params=params)
        return out

    async def mark_read(self, message_id: str) -> dict[str, Any]:
        """Mark a message (and everything before it from that sender) read."""
        out: dict[str, Any] = await self.request("POST", f"/api/v2/messages/{message_id}/read")
        return out

    async def send_channel(self, channel_id: str, body: str, key: str | None = None) -> dict[str, Any]:
        """Post to a public channel (pilcrow); the idempotency key makes a retry safe."""
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        out: dict[str, Any] = await self.request(
            "POST", f"/api/channels/{channel_id}", json={"body": body}, headers=headers
        )
        return out

    # ---- calls --------------------------------------------------------------------
    async def call(self, to: str, call_type: str = "audio") -> dict[str, Any]:
        """Ring someone."""
        out: dict[str, Any] = await self.request("POST", "/api/v2/calls", json={"to": to, "type": call_type})
        return out

    async def call_action(self, call_id: str, action: str) -> dict[str, Any]:
        """answer | decline | end."""
        out: dict[str, Any] = await self.request("POST", f"/api/v2/calls/{call_id}/{action}")
        return out

    async def calls(self, *, missed: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """My calls, newest first."""
        params = {"limit": limit, **({"missed": "true"} if missed else {})}
        body = await self.request("GET", "/api/v2/calls", params=params)
        return list(body.get("calls", [])) if isinstance(body, dict) else []

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

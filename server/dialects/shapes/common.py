"""What the OpenAPI document (`/openapi.json`) says every dialect answers: the values shapes are made of,
and the `responses=` a route gives FastAPI (its success, its errors in its dialect's shape).

The shapes themselves are in one module per dialect. They are TypedDicts and they are what the
route builders return, so mypy checks every answer against its documented shape. Routes that
return one also say `response_model=Any`: FastAPI then serialises the dict as before and does not
merge an inferred schema into the documented one. Every object is closed (`additionalProperties:
false`), so a field the documentation does not name fails the schema checks, except the boot
snapshot's, whose shape is still growing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.model import Status, WorkspaceState

__all__ = ["Status", "WorkspaceState"]

Responses = dict[int | str, dict[str, Any]]
CLOSED = ConfigDict(extra="forbid")


def closed(typed_dict: type, doc: str) -> None:
    """Close a TypedDict made by the functional syntax (needed where keys are keywords: `from`)."""
    typed_dict.__doc__ = doc
    typed_dict.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]  # as pydantic.with_config does


# ---- values ---------------------------------------------------------------------------
_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
V2Time = Annotated[str, Field(pattern=_DATE + r"Z$", examples=["2024-03-15T09:14:22Z"])]
PreciseTime = Annotated[str, Field(pattern=_DATE + r"\.\d{6}Z$", examples=["2024-09-27T23:19:10.208147Z"])]
OffsetTime = Annotated[str, Field(pattern=_DATE + r"\+00:00$", examples=["2022-04-19T16:30:29+00:00"])]
PlainTime = Annotated[str, Field(pattern=_DATE + r"$", examples=["2015-06-15T10:04:33"])]
MillisTime = Annotated[str, Field(pattern=_DATE + r"\.\d{3}Z$", examples=["2024-09-27T23:19:10.208Z"])]
MessageId = Annotated[str, Field(pattern=r"^msg_[0-9a-f]{16}$", examples=["msg_8f2b07c1d2e3f405"])]
CallId = Annotated[str, Field(pattern=r"^call_[0-9a-f]{16}$", examples=["call_4c1d2e3f40506172"])]
Handle = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,64}$", examples=["jin.park"])]
Uuid = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


@with_config(CLOSED)
class V2Ooo(TypedDict):
    """The OOO entry active now (null when none, or when the caller may not see it)."""

    id: int
    message: str | None
    startDate: OffsetTime | None
    endDate: OffsetTime | None


EVENT_STREAM = {
    "description": "Server-Sent Events: `id:` the event id, `data:` one JSON object with `type` and `event`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

# ---- responses= builders --------------------------------------------------------------
WHY = {
    400: "Bad input: a body, query or path value of the wrong shape, or a value the rules refuse.",
    401: "No credentials, or a token that is unknown, revoked or expired (or a failed sign-in).",
    403: "Signed in, but not allowed to do this.",
    404: "No such thing, or the caller may not see it.",
    409: "The state does not allow it (a name in use, a call no longer ringing…).",
    410: "The resume point is older than the retained event log: boot again.",
    413: "The request body is over the size cap (`--max-body-bytes`).",
    422: "A body of the wrong shape.",
    429: "Rate limited (`--login-rate`, `--send-rate`, `--max-streams-per-user`); see Retry-After.",
    503: "This process cannot reach its database now: a load balancer sends the request to another.",
    "4XX": "Another client error (405, 413…) in this dialect's error shape (docs/API.md §3).",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}, "required": True}
}
# Headers a dialect puts on every answer: (status, the route's own headers) -> all of them.
AllHeaders = Callable[[int | str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Errors:
    """How a dialect's error answers look in the document: a JSON model, or other content, or no body."""

    model: Any = None
    content: dict[str, Any] | None = None
    # Headers on every answer of the dialect, errors and successes (Convos' result code).
    every_answer: AllHeaders | None = None


def header(description: str, *, required: bool = True, type_: str = "string", **schema: Any) -> dict[str, Any]:
    """A documented response header."""
    return {"description": description, "schema": {"type": type_, **schema}, "required": required}


def _error(errors: Errors, status: int | str) -> dict[str, Any]:
    """How one dialect answers one error status."""
    out: dict[str, Any] = {"description": WHY.get(status, "An error.")}
    if errors.model is not None:
        out["model"] = errors.model
    elif errors.content is not None:
        out["content"] = errors.content
    headers = RETRY_AFTER if status == 429 else {}
    if errors.every_answer is not None:
        headers = errors.every_answer(status, headers)
    if headers:
        out["headers"] = headers
    return out


def responses(
    errors: Errors,
    ok: Any = None,
    codes: Iterable[int] = (),
    *,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """`responses=` for a route: its success (`ok` the body's type, None for no body) and its errors.

    Every route also documents `4XX` in its dialect's error shape, for the statuses any route
    may answer (a body over the cap, a wrong method), which also stops FastAPI from listing a
    422 validation error that no dialect but pilcrow ever sends.
    """
    success: dict[str, Any] = {"description": description}
    if ok is not None:
        success["model"] = ok
    if errors.every_answer is not None:
        headers = errors.every_answer(status, headers or {})
    if headers:
        success["headers"] = headers
    out: Responses = {status: success}
    for code in codes:
        out[code] = _error(errors, code)
    out["4XX"] = _error(errors, "4XX")
    return out

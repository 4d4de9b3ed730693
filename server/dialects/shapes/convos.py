"""The Convos dialect's answers: bodies, and the `X-*` headers every answer carries."""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from server.dialects.shapes.common import CLOSED, Errors, MessageId, PlainTime, Responses, header, responses

RESULT_CODES = {200: [0], 201: [5], 204: [6], 400: [1], 401: [4], 404: [2, 3], 405: [1], 409: [1], 413: [1], 429: [1]}


@with_config(CLOSED)
class ConvosConvo(TypedDict):
    """A Convo; nulls are omitted."""

    Id: int
    Creator: int
    Participant: int
    Subject: NotRequired[str]
    DateCreated: PlainTime
    DateUpdated: NotRequired[PlainTime]
    DateOfLastMessage: NotRequired[PlainTime]
    NumMessages: int


@with_config(CLOSED)
class ConvosMessage(TypedDict):
    """A message of a Convo; `Parent` and `Thread` only on replies."""

    Id: MessageId
    ConvoId: int
    Sender: int
    Recipient: int
    Body: str
    IsRead: bool
    Parent: NotRequired[MessageId]
    Thread: NotRequired[MessageId]
    DateCreated: PlainTime


def convos_headers(status: int | str, more: dict[str, Any]) -> dict[str, Any]:
    """`X-Result-Code` and `X-Message`, sent on every Convos response, plus `more`."""
    codes = RESULT_CODES.get(status, [0, 1, 2, 3, 4, 5, 6]) if isinstance(status, int) else [1, 2, 3, 4]
    return {
        "X-Result-Code": header("The Convos result code.", enum=[str(c) for c in codes]),
        "X-Message": header("The result in words (Latin-1, at most 500 characters)."),
        **more,
    }


ERRORS = Errors(every_answer=convos_headers)


def convos(
    ok: Any = None,
    *errors: int,
    status: int = 200,
    description: str = "Done.",
    headers: dict[str, Any] | None = None,
) -> Responses:
    """A Convos route: no body on errors, `X-Result-Code` and `X-Message` on everything."""
    return responses(ERRORS, ok, errors, status=status, description=description, headers=headers)


CONVOS_PAGE = {
    "X-Total-Count": header("How many match, on every page.", type_="integer"),
    "X-Response-Count": header("How many are on this page.", type_="integer"),
    "X-Last-Modified": header("The newest change among them (Convos time).", required=False),
    "X-URI-Next-Page": header("The next page's URI, only when there is one.", required=False),
}
CONVOS_CREATED = {"X-URI-Reference": header("The new resource's URI.")}

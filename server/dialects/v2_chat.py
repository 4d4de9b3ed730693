"""The v2 dialect's chat basics: editing and deleting a message, reactions, search, typing.

Same prefix, errors and shapes as server.dialects.v2 (its routes are tried first); kept apart so
neither module outgrows a file.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import StrictStr
from starlette.responses import Response

from server.dialects import times
from server.dialects.common import domain_dep, signed_in
from server.dialects.shapes.v2 import V2Found, V2Message, V2Reactions, V2Search, v2
from server.dialects.v2 import V2, Strict, message_object
from server.domain.core import Domain
from server.domain.search import Hit

router = APIRouter(prefix="/api/v2", tags=["v2"])
DIALECT = V2(router)

Me = Annotated[int, Depends(signed_in)]
Dom = Annotated[Domain, Depends(domain_dep)]
REACTION = v2(V2Reactions, 400, 401, 404, 429)


class EditBody(Strict):
    body: StrictStr


class TypingBody(Strict):
    to: StrictStr | None = None
    channel: StrictStr | None = None


@router.patch("/messages/{message_id}", response_model=Any, responses=v2(V2Message, 400, 401, 403, 404, 429))
async def edit_message(message_id: str, body: EditBody, me: Me, domain: Dom) -> V2Message:
    """Change the body of my DM or channel message; `message updated` to whoever may see it."""
    return message_object(await domain.chat.edit(me, message_id, body.body))


@router.delete(
    "/messages/{message_id}",
    status_code=204,
    response_class=Response,
    responses=v2(None, 401, 403, 404, status=204, description="Deleted."),
)
async def delete_message(message_id: str, me: Me, domain: Dom) -> Response:
    """Delete a message (its sender; an admin, in a channel): its body leaves storage."""
    await domain.messages.delete(me, message_id)
    return Response(status_code=204)


@router.put("/messages/{message_id}/reactions/{emoji}", response_model=Any, responses=REACTION)
async def add_reaction(message_id: str, emoji: str, me: Me, domain: Dom) -> V2Reactions:
    """React to a message I may see with one emoji (percent-encoded)."""
    view = await domain.chat.react(me, message_id, emoji, add=True)
    return {"message_id": view.message.public_id, "reactions": view.reactions}


@router.delete("/messages/{message_id}/reactions/{emoji}", response_model=Any, responses=REACTION)
async def remove_reaction(message_id: str, emoji: str, me: Me, domain: Dom) -> V2Reactions:
    """Take back my reaction."""
    view = await domain.chat.react(me, message_id, emoji, add=False)
    return {"message_id": view.message.public_id, "reactions": view.reactions}


def found_object(hit: Hit) -> V2Found:
    """A message found, addressed like a v2 message object."""
    m, conv = hit.view.message, hit.view.conversation
    out: V2Found = {
        "message_id": m.public_id,
        "from": hit.view.sender,
        "timestamp": times.v2(m.created_at),
        "excerpt": hit.excerpt,
        "matches": [[a, b] for a, b in hit.matches],
    }
    if conv.kind == "channel":
        out["channel"] = conv.public_id or ""
    elif conv.kind == "stream":
        out["stream"] = conv.public_id or ""
    elif conv.kind == "convo":
        out["convo"] = conv.pk
        out["to"] = hit.view.recipient or ""
    else:
        out["to"] = hit.view.recipient or ""
    return out


@router.get("/search", response_model=Any, responses=v2(V2Search, 400, 401, 404))
async def search(
    me: Me,
    domain: Dom,
    q: Annotated[str, Query(description='1-200 characters: words, `word*` a prefix, `"a phrase"`')],
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> V2Search:
    """What I may see that matches `q`, newest first, with an excerpt."""
    found = await domain.search.find(me, q, before=before, limit=limit)
    return {"messages": [found_object(h) for h in found.hits], "total": found.total, "next_before": found.next_before}


@router.post("/typing", status_code=204, responses=v2(None, 400, 401, 404, status=204, description="Told."))
async def typing(body: TypingBody, me: Me, domain: Dom) -> Response:
    """I am typing to someone (`to`) or in a channel: an ephemeral `typing` event, at most one every 3 s."""
    await domain.chat.typing(me, to=body.to, channel=body.channel)
    return Response(status_code=204)

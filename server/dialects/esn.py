"""The ESN activity streams dialect (the ESN reference).

Where the reference is silent:
- ids are opaque strings: a message `_id` is its public id (`msg_…`, the same in every
  dialect); `creator` is the author's handle; a stream is its uuid. Wherever the reference
  puts an id, `urn:…:<id>` is accepted too (its last `:` segment is the id).
- reading by id serves any message the caller may see (a DM, convo or channel message too, with
  `target` naming where it lives); replies and shares need an activity-stream message.
- a message that exists but that the caller may not read is 403 when asked for by id (the
  reference names 403 for exactly this; in `?ids[]=` a 403 error descriptor); streams the
  caller may not read, and the parents of replies and shares, are 404; posting to a stream
  the caller may not write (unknown, not a member, archived or locked workspace, deleted
  team) is 403.
- the request body and its `object` refuse unknown keys (400), so a typo never silently
  drops data; targets, `resource`, `inReplyTo`, attachments and parsers ignore unknown keys
  (the reference's own share example misspells `objectType`).
- `object.objectType` must be `whatsup`; the text is `description` (or `content`; both must
  agree); it may be blank only when something is attached. `data` is kept as given (≤ 16 KiB,
  nested at most --esn-data-depth deep; deeper data stored earlier is left out of answers).
- several `targets`: the message lives in the first; each other target gets a copy, exactly
  as if it had been shared there (listed under the message's `shares`).
- a reply goes into its parent's stream: `targets`, if given, may only name that stream.
- a share copies text and metadata into each target; the copy's `creator` is who shared it,
  its `copyOf` names the source; `resource` is required and must be the source's stream.
- `POST /api/messages/email` wants `Content-Type: message/rfc822`; the Subject, a blank line
  and the text/plain body become the description; attachments are listed (name, type, size),
  their content is not kept.
- `GET /api/activitystreams/{uuid}`: newest first, `limit` 1-100 (default 20). `before=<id>`
  gives the messages just older than that message; `after=<id>` the `limit` messages just
  newer than it (the oldest of them first in time, so paging forward leaves no gap), still
  listed newest first; both together bound the range. `X-ESN-Items-Count` is the stream's size.
- `Idempotency-Key` on the three POSTs: a retry returns the first result and stores nothing.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.responses import JSONResponse, Response

from server.dialects import times
from server.dialects.base import Dialect, retry_headers
from server.dialects.common import domain_dep, signed_in
from server.dialects.esn_mail import MailReader
from server.dialects.shapes.common import header
from server.dialects.shapes.esn import (
    EsnActivity,
    EsnCopyOf,
    EsnCreated,
    EsnError,
    EsnMessage,
    EsnPlace,
    EsnShare,
    EsnStream,
    EsnStreamRef,
    esn,
)
from server.domain.core import Domain
from server.domain.errors import DomainError, Invalid
from server.domain.messaging import MAX_IDEMPOTENCY_KEY
from server.domain.streams import Draft, Post, check_data, check_text
from server.domain.views import MessageView
from server.model import Team, Workspace

router = APIRouter(tags=["esn"])


class Esn(Dialect):
    """Activity streams: `{"error": {"code", "status", "message", "details"}}`, code and status the HTTP status."""

    name = "esn"
    prefixes = ("/api/messages", "/api/activitystreams")

    def error(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
        """The reference's error object (`message` the status's phrase, `details` what went wrong)."""
        return JSONResponse(error_body(status, message), status, headers=retry_headers(retry_after))


def error_body(status: int, details: str) -> EsnError:
    """ESN's error object."""
    return {"error": {"code": status, "status": status, "message": HTTPStatus(status).phrase, "details": details}}


DIALECT = Esn(router)

MAX_DATA = 16 * 1024
MAX_ID = 300


Me = Annotated[int, Depends(signed_in)]
Dom = Annotated[Domain, Depends(domain_dep)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
CREATED = esn(
    EsnCreated,
    400,
    401,
    403,
    404,
    409,
    429,
    status=201,
    description="Created.",
    headers={"Location": header("The new message's URI.")},
)


# ---- request bodies -------------------------------------------------------------------
class Ref(BaseModel):
    """A target, resource or parent: `{"objectType", "id"}` (or `_id`)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    objectType: StrictStr | None = None
    id: StrictStr | None = Field(None, max_length=MAX_ID)
    underscore_id: StrictStr | None = Field(None, alias="_id", max_length=MAX_ID)

    def ref(self, what: str, object_type: str | None) -> str:
        """The bare id named (a urn's last segment); 400 when there is none or the type is wrong."""
        if object_type is not None and self.objectType is not None and self.objectType != object_type:
            raise Invalid("InvalidRequest", f"{what}.objectType must be {object_type!r}")
        raw = self.underscore_id if self.underscore_id is not None else self.id
        if raw is None or not bare(raw):
            raise Invalid("InvalidRequest", f"{what} needs an id")
        return bare(raw)


class Attachment(BaseModel):
    """Metadata of a file attached to a post (the file itself lives elsewhere)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    file_id: StrictStr = Field(alias="_id", min_length=1, max_length=MAX_ID)
    name: StrictStr = Field(min_length=1, max_length=255)
    contentType: StrictStr = Field("application/octet-stream", max_length=255)
    length: StrictInt | None = Field(None, ge=0, le=2**53)  # a size JavaScript counts exactly


class Parser(BaseModel):
    """A parser the client applies to the text (e.g. markdown)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    name: StrictStr = Field(min_length=1, max_length=64)


class EsnObject(BaseModel):
    """`object` of a post."""

    model_config = ConfigDict(extra="forbid", strict=True)
    objectType: Literal["whatsup"]
    description: StrictStr | None = None
    content: StrictStr | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    parsers: list[Parser] = Field(default_factory=list, max_length=10)
    data: dict[str, Any] | None = None

    def draft(self, max_data_depth: int) -> Draft:
        """The text and ESN metadata of the post (`data` nested at most max_data_depth deep)."""
        if self.description is not None and self.content is not None and self.description != self.content:
            raise Invalid("InvalidRequest", "object.description and object.content differ; send one of them")
        text = self.description if self.description is not None else self.content
        if text is None:
            raise Invalid("InvalidRequest", "object.description is required")
        attachments = [
            {"_id": a.file_id, "name": a.name, "contentType": a.contentType, "length": a.length}
            for a in self.attachments
        ]
        meta: dict[str, Any] = {
            "objectType": self.objectType,
            "attachments": attachments,
            "parsers": [{"name": p.name} for p in self.parsers],
        }
        if self.data is not None:
            check_data(self.data, max_data_depth)  # first: json.dumps recurses
            if len(json.dumps(self.data, ensure_ascii=False)) > MAX_DATA:
                raise Invalid("InvalidRequest", f"object.data is over {MAX_DATA // 1024} KiB as JSON")
            meta["data"] = self.data
        return Draft(check_text(text, has_attachments=bool(attachments)), meta)


class PostBody(BaseModel):
    """`POST /api/messages`: a post to targets, or a reply."""

    model_config = ConfigDict(extra="forbid", strict=True)
    esn_object: EsnObject = Field(alias="object")
    targets: list[Ref] | None = None
    inReplyTo: Ref | None = None


class ShareBody(BaseModel):
    """`POST /api/messages/{id}/shares`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    resource: Ref
    target: Ref | None = None
    targets: list[Ref] | None = None


def bare(value: str) -> str:
    """An id as given, or the last segment of a `urn:…:<id>`."""
    value = value.strip()
    return value.rsplit(":", 1)[-1].strip() if value.lower().startswith("urn:") else value


def stream_ids(refs: list[Ref] | None, what: str = "targets") -> list[str]:
    """The stream uuids of targets."""
    return [r.ref(what, "activitystream") for r in refs or []]


def checked_key(key: str | None) -> str | None:
    """An Idempotency-Key of 1-255 characters."""
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Invalid("InvalidIdempotencyKey", "Idempotency-Key must be 1-255 characters")
    return key


# ---- rendering ------------------------------------------------------------------------
def millis(us: int) -> int:
    """Microseconds to the milliseconds since the epoch ESN's timestamps use."""
    return us // 1000


def iso_millis(us: int) -> str:
    """`2024-09-27T23:19:10.208Z`, as a JavaScript Date serialises."""
    dt = times.to_dt(us - us % 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def stream_ref(stream_uuid: str) -> EsnStreamRef:
    """A stream as the reference names targets."""
    return {"objectType": "activitystream", "id": stream_uuid}


def copy_of(source_id: str, source_stream: str) -> dict[str, Any]:
    """What a copy (a share, or a post's copy in a further target) keeps of its source, as `copyOf` shows it."""
    note: EsnCopyOf = {"_id": source_id, "resource": stream_ref(source_stream)}
    return dict(note)


def where(post: Post) -> EsnPlace:
    """Where a message lives: its activity stream, or (read by id) its channel, convo or DM."""
    conv = post.view.conversation
    if conv.kind == "stream":
        return {"objectType": "activitystream", "id": post.stream}
    if conv.kind == "channel":
        return {"objectType": "channel", "id": conv.public_id or ""}
    if conv.kind == "convo":
        return {"objectType": "convo", "id": str(conv.pk)}
    return {"objectType": "user", "id": post.view.recipient or ""}


def message_object(post: Post) -> EsnMessage:
    """A message: the reference's fields, plus its stream, thread, files and shares."""
    m, meta, view = post.view.message, post.meta, post.view
    shares: list[EsnShare] = [{**stream_ref(s["stream"]), "_id": s["_id"]} for s in post.shares]
    out: EsnMessage
    if view.parent_id is None:
        out = {
            "objectType": meta.get("objectType", "whatsup"),
            "_id": m.public_id,
            "description": m.body,
            "creator": view.sender,
            "timestamps": {"creation": millis(m.created_at)},
            "target": [where(post)],
            "responses": post.responses,
            "attachments": meta.get("attachments", []),
            "parsers": meta.get("parsers", []),
            "shares": shares,
        }
    else:
        out = {
            "objectType": meta.get("objectType", "whatsup"),
            "_id": m.public_id,
            "description": m.body,
            "creator": view.sender,
            "timestamps": {"creation": millis(m.created_at)},
            "target": [where(post)],
            "inReplyTo": {"objectType": "whatsup", "_id": view.parent_id},
            "parentId": view.parent_id,
            "responses": post.responses,
            "attachments": meta.get("attachments", []),
            "parsers": meta.get("parsers", []),
            "shares": shares,
        }
    if "copyOf" in meta:
        out["copyOf"] = meta["copyOf"]
    if "data" in meta:
        out["data"] = meta["data"]
    if "email" in meta:
        out["email"] = meta["email"]
    return out


def timeline_entry(post: Post) -> EsnActivity:
    """One activity of a stream: who posted (or shared) what, where and when."""
    m = post.view.message
    out: EsnActivity = {
        "_id": m.public_id,
        "verb": "share" if "copyOf" in post.meta else "post",
        "published": iso_millis(m.created_at),
        "actor": {"objectType": "user", "_id": post.author.handle, "displayName": post.author.display_name},
        "object": message_object(post),
        "target": [{"objectType": "activitystream", "_id": post.stream}],
    }
    if post.view.parent_id is not None:
        out["inReplyTo"] = [{"objectType": "whatsup", "_id": post.view.parent_id}]
    return out


def missing(public_id: str, why: DomainError) -> EsnError:
    """The error descriptor standing in for a message that cannot be found (404) or read (403)."""
    status = DIALECT.status_of(why)
    if status == 404:
        return error_body(status, f"The message {public_id} can not be found")
    return error_body(status, f"You do not have the permission to read the message {public_id}")


def created(view: MessageView, *, reply: bool = False) -> JSONResponse:
    """201 with the new message's `_id` (and `parentId` for a reply)."""
    body: EsnCreated = {"_id": view.message.public_id}
    if reply and view.parent_id is not None:
        body["parentId"] = view.parent_id
    return JSONResponse(body, 201, headers={"Location": f"/api/messages/{view.message.public_id}"})


def stream_summary(owner: Team | Workspace) -> EsnStream:
    """A stream in the list: its uuid and the team or workspace owning it."""
    if isinstance(owner, Team):
        return {"uuid": owner.stream_uuid, "objectType": "team", "id": owner.pk, "name": owner.name}
    return {"uuid": owner.stream_uuid, "objectType": "workspace", "id": owner.pk, "name": owner.name}


# ---- messages -------------------------------------------------------------------------
@router.get("/api/messages", response_model=Any, responses=esn(list[EsnMessage | EsnError], 400, 401, 404))
async def get_messages(
    me: Me,
    domain: Dom,
    ids_brackets: Annotated[list[str] | None, Query(alias="ids[]")] = None,
    ids: Annotated[list[str] | None, Query()] = None,
) -> list[EsnMessage | EsnError]:
    """Messages by id (`ids[]=`, or `ids=`); an error descriptor for each one not found."""
    wanted = list(dict.fromkeys(bare(i) for i in [*(ids_brackets or []), *(ids or [])] if i.strip()))
    if not wanted:
        raise Invalid("MissingIds", "name the messages: ?ids[]=<id>&ids[]=<id>")
    found = await domain.streams.get_many(me, wanted)
    pairs = zip(wanted, found, strict=True)
    return [message_object(item) if isinstance(item, Post) else missing(i, item) for i, item in pairs]


@router.get("/api/messages/{message_id}", response_model=Any, responses=esn(EsnMessage, 401, 403, 404))
async def get_message(message_id: str, me: Me, domain: Dom) -> EsnMessage:
    """One message."""
    return message_object(await domain.streams.get(me, bare(message_id)))


@router.post("/api/messages", status_code=201, responses=CREATED)
async def post_message(body: PostBody, me: Me, domain: Dom, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """A new post to `targets`, or a reply to `inReplyTo`."""
    key = checked_key(idempotency_key)
    draft = body.esn_object.draft(domain.settings.esn_data_depth)
    targets = stream_ids(body.targets)
    if body.inReplyTo is not None:
        # Any objectType: the reference's own reply example calls the parent an "activitystream".
        parent = body.inReplyTo.ref("inReplyTo", None)
        return created(await domain.streams.reply(me, draft, parent, targets, key), reply=True)
    if not targets:
        raise Invalid("MissingTargets", "targets is required: the activity streams to post to")
    return created(await domain.streams.post(me, draft, targets, key, note=copy_of))


@router.post(
    "/api/messages/email",
    status_code=201,
    responses=CREATED,
    openapi_extra={"requestBody": {"required": True, "content": {"message/rfc822": {"schema": {"type": "string"}}}}},
)
async def post_email(
    request: Request,
    me: Me,
    domain: Dom,
    target_id: Annotated[str | None, Query(alias="id", max_length=MAX_ID)] = None,
    object_type: Annotated[str | None, Query(alias="objectType")] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A post made of an RFC 822 message, into the stream named by `id`."""
    key = checked_key(idempotency_key)
    if target_id is None or not bare(target_id):
        raise Invalid("MissingTarget", "id is required: the activity stream to post to")
    if object_type != "activitystream":
        raise Invalid("InvalidRequest", "objectType must be 'activitystream'")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "message/rfc822":
        raise Invalid("InvalidRequest", "send the message with Content-Type: message/rfc822")
    raw = await request.body()
    mail: MailReader = request.app.state.mail
    return created(await domain.streams.post_when_allowed(me, bare(target_id), lambda: mail.read(raw), key))


@router.post("/api/messages/{message_id}/shares", status_code=201, responses=CREATED)
async def share_message(
    message_id: str, body: ShareBody, me: Me, domain: Dom, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Copy a message into other streams."""
    key = checked_key(idempotency_key)
    resource = body.resource.ref("resource", "activitystream")
    targets = stream_ids([*([body.target] if body.target else []), *(body.targets or [])])
    if not targets:
        raise Invalid("MissingTargets", "target or targets is required: the activity streams to share to")
    return created(await domain.streams.share(me, bare(message_id), resource, targets, copy_of, key))


# ---- activity streams -----------------------------------------------------------------
@router.get("/api/activitystreams", response_model=Any, responses=esn(list[EsnStream], 401))
async def list_streams(me: Me, domain: Dom) -> list[EsnStream]:
    """The streams the caller may read."""
    return [stream_summary(owner) for owner in await domain.streams.streams(me)]


@router.get(
    "/api/activitystreams/{stream_id}",
    responses=esn(
        list[EsnActivity],
        400,
        401,
        404,
        headers={"X-ESN-Items-Count": header("How many messages the stream holds.", type_="integer")},
    ),
)
async def stream_timeline(
    stream_id: str,
    me: Me,
    domain: Dom,
    before: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    after: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    """A stream's activities, newest first."""
    posts, total = await domain.streams.timeline(
        me,
        bare(stream_id),
        before=bare(before) if before else None,
        after=bare(after) if after else None,
        limit=limit,
    )
    activities: list[EsnActivity] = [timeline_entry(p) for p in posts]
    return JSONResponse(activities, headers={"X-ESN-Items-Count": str(total)})

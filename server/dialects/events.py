"""How each domain event reads on the event stream (`GET /api/events`, and the event log that stores it).

The catalogue is the contract's (pilcrow's events, plus `message updated`, `reaction added|removed`
and the ephemeral `typing`): `{"type", "event", "at",
...}`, times in microseconds (`2024-09-27T23:19:10.208147Z`). `render` is given to the domain,
which renders each event once, when it is written with its change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.dialects.shapes.common import V2Ooo
from server.dialects.times import offset, precise
from server.domain.events import (
    CallChanged,
    ChannelChanged,
    ConvoChanged,
    Happened,
    MessageDeleted,
    MessageEdited,
    MessageRead,
    MessageSent,
    OooChanged,
    PresenceChanged,
    ReactionChanged,
    Typing,
    UserCreated,
)
from server.model import OooEntry

Data = dict[str, Any]


def ooo_object(entry: OooEntry | None) -> V2Ooo | None:
    """The `ooo` object of status objects (v2), boot users and presence events."""
    if entry is None:
        return None
    return {
        "id": entry.pk,
        "message": entry.message,
        "startDate": offset(entry.start_date),
        "endDate": offset(entry.end_date),
    }


def _user_created(e: UserCreated) -> Data:
    return {"type": "user", "event": "created", "at": precise(e.at), "id": e.handle, "name": e.handle}


def _channel(e: ChannelChanged) -> Data:
    return {"type": "channel", "event": e.change, "at": precise(e.at), "id": e.public_id, "name": e.name}


def _sent(e: MessageSent) -> Data:
    view = e.view
    m = view.message
    data: Data = {
        "type": "message",
        "event": "sent",
        "at": precise(m.created_at),
        "id": m.public_id,
        "sender": view.sender,
        "body": m.body,
        "parent": view.parent_id,
        "reply_to": view.parent_id,
    }
    conv = view.conversation
    if conv.kind == "dm":
        data["to"] = view.recipient
    elif conv.kind == "channel":
        data["channel"] = conv.public_id
    elif conv.kind == "convo":
        data["convo"] = conv.pk
    else:
        data["stream"] = conv.public_id
    return data


def _read(e: MessageRead) -> Data:
    at = precise(e.at)
    data: Data = {"type": "message", "event": "read", "at": at, "id": e.message_id, "reader": e.reader, "read_at": at}
    if e.channel is not None:
        data["channel"] = e.channel
    return data


def _deleted(e: MessageDeleted) -> Data:
    return {"type": "message", "event": "deleted", "at": precise(e.at), "id": e.message_id}


def _edited(e: MessageEdited) -> Data:
    at = precise(e.at)
    return {"type": "message", "event": "updated", "at": at, "id": e.message_id, "body": e.body, "edited_at": at}


def _reaction(e: ReactionChanged) -> Data:
    event = "added" if e.added else "removed"
    return {
        "type": "reaction",
        "event": event,
        "at": precise(e.at),
        "id": e.message_id,
        "emoji": e.emoji,
        "user": e.user,
    }


def _typing(e: Typing) -> Data:
    data: Data = {"type": "typing", "event": "started", "at": precise(e.at), "user": e.user}
    if e.channel is not None:
        data["channel"] = e.channel
    else:
        data["to"] = e.to
    return data


def _presence(e: PresenceChanged) -> Data:
    user = e.user
    return {
        "type": "presence",
        "event": "changed",
        "at": precise(e.at),
        "user": user.handle,
        "display_name": user.display_name,
        "status": user.status,
        "last_seen": precise(e.last_seen),
        "ooo": ooo_object(e.ooo),
    }


def _call(e: CallChanged) -> Data:
    c = e.view.call
    return {
        "type": "call",
        "event": c.status,
        "at": precise(e.at),
        "call_id": c.public_id,
        "from": e.view.caller,
        "to": e.view.callee,
        "call_type": c.type,
        "status": c.status,
        "started_at": precise(c.started_at),
        "ended_at": precise(c.ended_at),
        "duration_seconds": c.duration_seconds,
    }


def _ooo(e: OooChanged) -> Data:
    entry = e.entry
    return {
        "type": "ooo",
        "event": e.change,
        "at": precise(e.at),
        "user": e.owner,
        "id": entry.pk,
        "isActive": entry.is_active,
        "startDate": offset(entry.start_date),
        "endDate": offset(entry.end_date),
        "message": entry.message,
    }


def _convo(e: ConvoChanged) -> Data:
    return {
        "type": "convo",
        "event": e.change,
        "at": precise(e.at),
        "id": e.convo_pk,
        "creator": e.creator,
        "participant": e.participant,
        "subject": e.subject,
    }


_RENDERERS: dict[type, Callable[[Any], Data]] = {
    UserCreated: _user_created,
    ChannelChanged: _channel,
    MessageSent: _sent,
    MessageRead: _read,
    MessageDeleted: _deleted,
    MessageEdited: _edited,
    ReactionChanged: _reaction,
    Typing: _typing,
    PresenceChanged: _presence,
    CallChanged: _call,
    OooChanged: _ooo,
    ConvoChanged: _convo,
}


def render(happened: Happened) -> Data:
    """An event as the stream sends it."""
    return _RENDERERS[type(happened)](happened)

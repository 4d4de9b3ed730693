"""The server's answers and event frames, checked and turned into records (records.py).

Every wire dict stops here: a field missing or of the wrong kind is `Unexpected`, naming the
field (`boot.users[1].team should be text or null, not true/false`). No Textual here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from huddle_tui.errors import Unexpected
from huddle_tui.records import (
    CALL_STATUSES,
    Boot,
    CallChanged,
    CallRecord,
    Channel,
    ChannelCreated,
    ChannelDeleted,
    ChatKey,
    ChatMessage,
    Contact,
    Event,
    Found,
    HistoryPage,
    MessageDeleted,
    MessageRead,
    MessageSent,
    MessageUpdated,
    OooChanged,
    OooDraft,
    OooEntry,
    Other,
    PresenceChanged,
    Profile,
    ReactionChanged,
    SearchPage,
    Typing,
    UserCreated,
)

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
    """The first field of an object that is missing (kinds None) or of another kind; None if it
    fits. Words are made only for a fault: for a snapshot of thousands they cost more than the checks."""
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
    """`value` as a JSON object whose fields have these kinds; Unexpected (naming the field) if not."""
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


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time from the server (any of its formats) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


# ---- shapes ------------------------------------------------------------------------------
OOO: dict[str, Kinds] = {"id": int}
OOO_MAY: dict[str, Kinds] = {"message": MAYBE_TEXT, "startDate": MAYBE_TEXT, "endDate": MAYBE_TEXT, "isActive": bool}
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
    "truncated": bool,
    "edited_at": MAYBE_TEXT,
    "reply_to": MAYBE_TEXT,
    "reactions": dict,
}
CALL: dict[str, Kinds] = {"call_id": str, "from": str, "to": str, "status": str}
CALL_MAY: dict[str, Kinds] = {
    "type": MAYBE_TEXT,
    "call_type": MAYBE_TEXT,
    "started_at": MAYBE_TEXT,
    "ended_at": MAYBE_TEXT,
    "duration_seconds": (*NUMBER, type(None)),
    "at": MAYBE_TEXT,
}
HISTORY_ITEM: dict[str, Kinds] = {"message_id": str, "from": str, "body": str}
HISTORY_ITEM_MAY: dict[str, Kinds] = {
    "to": MAYBE_TEXT,
    "timestamp": MAYBE_TEXT,
    "read_at": MAYBE_TEXT,
    "edited_at": MAYBE_TEXT,
    "reply_to": MAYBE_TEXT,
    "reactions": dict,
}


def ooo(value: dict[str, Any] | None) -> OooEntry | None:
    """An OOO entry (the `ooo` of a user, or a Huddle presence entity), already checked."""
    if value is None:
        return None
    return OooEntry(
        id=value["id"],
        message=value.get("message") or "",
        start=parse_time(value.get("startDate")),
        end=parse_time(value.get("endDate")),
        active=value.get("isActive", True),
    )


def _user_ooo(value: Any, where: str) -> OooEntry | None:
    if value is None:
        return None
    return ooo(record(value, where, OOO, OOO_MAY))


def shown(message: dict[str, Any]) -> bool:
    """Whether a boot or event message belongs to a DM or a channel (convos and streams are not shown)."""
    return ("to" in message or "channel" in message) and "convo" not in message and "stream" not in message


def message(m: dict[str, Any]) -> ChatMessage:
    """A boot, event or channel-history message, already checked."""
    return ChatMessage(
        id=m["id"],
        sender=m["sender"],
        body=m.get("body", ""),
        at=parse_time(m.get("at")) or datetime.now(UTC),
        to=m.get("to"),
        channel=m.get("channel"),
        read_at=parse_time(m.get("read_at")),
        truncated=m.get("truncated", False),
        edited_at=parse_time(m.get("edited_at")),
        reply_to=m.get("reply_to"),
        reactions=_reactions(m.get("reactions")),
    )


def _reactions(value: Any) -> dict[str, list[str]]:
    """emoji -> handles; anything not of that shape is left out (reactions are decoration)."""
    if not isinstance(value, dict):
        return {}
    return {
        str(emoji): [h for h in handles if isinstance(h, str)]
        for emoji, handles in value.items()
        if isinstance(handles, list) and handles
    }


def call(d: dict[str, Any]) -> CallRecord:
    """A call from an event or a v2 call object, already checked."""
    status = d["status"]
    kind = d.get("call_type") or d.get("type") or "audio"
    return CallRecord(
        call_id=d["call_id"],
        caller=d["from"],
        callee=d["to"],
        type="video" if kind == "video" else "audio",
        status=status if status in CALL_STATUSES else "ended",
        started_at=parse_time(d.get("started_at")),
        ended_at=parse_time(d.get("ended_at")),
        duration=int(d.get("duration_seconds") or 0),
        answered_at=parse_time(d.get("at")) if status == "answered" else None,
    )


# ---- answers -----------------------------------------------------------------------------
def boot(body: Any) -> Boot:
    """A boot snapshot the client can use, or Unexpected."""
    raw = record(
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
    record(raw["user"], "boot.user", {"name": str})
    users = records(raw.get("users", []), "boot.users", BOOT_USER, BOOT_USER_MAY)
    channels = records(
        raw.get("channels", []), "boot.channels", {"id": str, "name": str}, {"unread": int, "mentions": int}
    )
    messages = records(raw.get("messages", []), "boot.messages", MESSAGE, MESSAGE_MAY)
    unread = raw.get("unread", {})
    for handle, count in unread.items():
        _check(count, int, f"boot.unread.{handle}")
    contacts = [
        Contact(
            handle=u["id"],
            display_name=u.get("display_name") or u["name"],
            status=u.get("status") or "away",
            last_seen=parse_time(u.get("last_seen")),
            team=u.get("team"),
            ooo=_user_ooo(u.get("ooo"), f"boot.users[{i}].ooo") if u.get("ooo") is not None else None,
        )
        for i, u in enumerate(users)
    ]
    return Boot(
        me=raw["user"]["name"],
        resume_point=raw["resume_point"],
        heartbeat=int(raw.get("heartbeat", 30)),
        away_after=int(raw.get("away_after", 300)),
        ring_timeout=int(raw.get("ring_timeout", 30)),
        boot_window=int(raw.get("boot_window") or 0),
        contacts=contacts,
        channels=[Channel(c["id"], c["name"]) for c in channels],
        messages=[message(m) for m in messages if shown(m)],
        unread=dict(unread),
        channel_unread={c["id"]: (c.get("unread", 0), c.get("mentions", 0)) for c in channels if c.get("unread")},
    )


def history(body: Any) -> HistoryPage:
    """A page of a DM (v2 items)."""
    page = record(body, "the history", {"messages": list}, {"next_before": MAYBE_TEXT})
    items = records(page["messages"], "the history's messages", HISTORY_ITEM, HISTORY_ITEM_MAY)
    messages = [
        ChatMessage(
            id=item["message_id"],
            sender=item["from"],
            body=item["body"],
            at=parse_time(item.get("timestamp")) or datetime.now(UTC),
            to=item.get("to"),
            read_at=parse_time(item.get("read_at")),
            edited_at=parse_time(item.get("edited_at")),
            reply_to=item.get("reply_to"),
            reactions=_reactions(item.get("reactions")),
        )
        for item in items
    ]
    return HistoryPage(messages, page.get("next_before"))


def channel_history(body: Any) -> HistoryPage:
    """A page of a channel (boot-shaped messages)."""
    page = record(body, "the channel history", {"messages": list}, {"next_before": MAYBE_TEXT})
    items = records(page["messages"], "the channel history's messages", MESSAGE, MESSAGE_MAY)
    return HistoryPage([message(m) for m in items], page.get("next_before"))


def calls(body: Any) -> list[CallRecord]:
    """The calls list."""
    listing = record(body, "the calls", {"calls": list})
    return [call(c) for c in records(listing["calls"], "the calls", CALL, CALL_MAY)]


def one_call(body: Any) -> CallRecord:
    """One call object."""
    return call(record(body, "the call", CALL, CALL_MAY))


def ooo_entries(body: Any) -> list[OooEntry]:
    """My OOO entries (a Huddle presence page)."""
    page = record(body, "the OOO entries", {}, {"presenceEntities": list})
    entries = records(page.get("presenceEntities", []), "the OOO entries", OOO, OOO_MAY)
    return [entry for entry in (ooo(e) for e in entries) if entry is not None]


def whole_body(body: Any) -> str:
    """The body of a v2 message object."""
    return str(record(body, "the message", {"body": str})["body"])


def profile(body: Any) -> Profile:
    """A v2 user object, for my own settings."""
    user = record(body, "the user", {"user": str}, {"display_name": MAYBE_TEXT, "hide_last_seen": bool})
    return Profile(user["user"], user.get("display_name") or user["user"], bool(user.get("hide_last_seen")))


FOUND: dict[str, Kinds] = {"message_id": str, "from": str, "timestamp": str, "excerpt": str}
FOUND_MAY: dict[str, Kinds] = {"to": MAYBE_TEXT, "channel": MAYBE_TEXT, "matches": list}


def search(body: Any, me: str) -> SearchPage:
    """A page of search results (`me`: whose DMs are `dm:<the other>`)."""
    page = record(body, "the search", {"messages": list, "total": int}, {"next_before": MAYBE_TEXT})
    found = []
    for item in records(page["messages"], "the search's messages", FOUND, FOUND_MAY):
        if item.get("channel"):
            chat: ChatKey | None = ChatKey.channel(item["channel"])
        elif item.get("to") and "convo" not in item:  # a convo's message names its `to` too
            chat = ChatKey.dm(item["to"] if item["from"] == me else item["from"])
        else:
            chat = None
        spans = tuple(
            (int(m[0]), int(m[1]))
            for m in item.get("matches", [])
            if isinstance(m, list) and len(m) == 2 and all(type(x) is int for x in m)
        )
        at = parse_time(item["timestamp"]) or datetime.now(UTC)
        found.append(Found(item["message_id"], chat, item["from"], at, item["excerpt"], spans))
    return SearchPage(found, page["total"], page.get("next_before"))


def ooo_body(draft: OooDraft) -> dict[str, Any]:
    """An OOO entry as the Huddle dialect takes it."""
    return {
        "isActive": draft.active,
        "startDate": draft.start.isoformat(timespec="seconds") if draft.start else None,
        "endDate": draft.end.isoformat(timespec="seconds") if draft.end else None,
        "message": draft.message or None,
    }


def signed_in(body: Any) -> tuple[str, str]:
    """(token, handle) of a sign-in answer."""
    answer = record(body, "the sign-in answer", {"token": str, "user": dict})
    user = record(answer["user"], "the sign-in answer's user", {"user": str})
    return answer["token"], user["user"]


# ---- events ------------------------------------------------------------------------------
PRESENCE_MAY: dict[str, Kinds] = {
    "display_name": MAYBE_TEXT,
    "status": MAYBE_TEXT,
    "last_seen": MAYBE_TEXT,
    "ooo": (dict, type(None)),
}


def event(data: dict[str, Any]) -> Event:
    """An event frame's data as a record; Unexpected when an event the client shows lacks a
    field it reads (or has one of the wrong kind). Kinds it does not show pass as `Other`."""
    kind, name = str(data.get("type")), str(data.get("event"))
    what = f"a {kind} {name} event"
    if kind == "presence" and name == "changed":
        d = record(data, what, {"user": str}, PRESENCE_MAY)
        return PresenceChanged(
            user=d["user"],
            status=d.get("status"),
            last_seen=parse_time(d.get("last_seen")),
            ooo=_user_ooo(d.get("ooo"), f"{what}'s ooo"),
            display_name=d.get("display_name"),
        )
    if kind == "user" and name == "created":
        d = record(data, what, {"id": str}, {"name": MAYBE_TEXT})
        return UserCreated(d["id"], d.get("name") or d["id"])
    if kind == "message" and name == "sent":
        d = record(data, what, MESSAGE, MESSAGE_MAY)
        return MessageSent(message(d)) if shown(d) else Other(kind, name)
    if kind == "message" and name == "read":
        d = record(data, what, {"id": str, "reader": str}, {"read_at": MAYBE_TEXT})
        return MessageRead(d["id"], d["reader"], parse_time(d.get("read_at")))
    if kind == "message" and name == "deleted":
        return MessageDeleted(record(data, what, {"id": str})["id"])
    if kind == "message" and name == "updated":
        d = record(data, what, {"id": str, "body": str}, {"edited_at": MAYBE_TEXT})
        return MessageUpdated(d["id"], d["body"], parse_time(d.get("edited_at")))
    if kind == "reaction" and name in ("added", "removed"):
        d = record(data, what, {"id": str, "emoji": str, "user": str})
        return ReactionChanged(d["id"], d["emoji"], d["user"], name == "added")
    if kind == "typing":
        d = record(data, what, {"user": str}, {"to": MAYBE_TEXT, "channel": MAYBE_TEXT})
        chat = ChatKey.channel(d["channel"]) if d.get("channel") else ChatKey.dm(d["user"])
        return Typing(d["user"], chat)
    if kind == "channel" and name == "created":
        d = record(data, what, {"id": str, "name": str})
        return ChannelCreated(Channel(d["id"], d["name"]))
    if kind == "channel" and name == "deleted":
        return ChannelDeleted(record(data, what, {"id": str})["id"])
    if kind == "call":
        return CallChanged(call(record(data, what, CALL, CALL_MAY)))
    if kind == "ooo":
        return OooChanged(record(data, what, {}, {"user": str}).get("user", ""))
    return Other(kind, name)


def frame(raw: str | bytes) -> tuple[int | None, Event] | None:
    """(event id, event) of a stream frame, None for a heartbeat; Unexpected for anything else."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise Unexpected(f"a {'binary' if isinstance(raw, bytes) else 'text'} frame that is not JSON") from None
    body = record(body, "an event frame", {}, {"id": int, "data": dict})
    if "id" in body:
        data = record(body.get("data"), f"event {body['id']}'s data", {})
        return body["id"], event(data)
    if body.get("type") == "heartbeat":
        return None
    return None, event(body)

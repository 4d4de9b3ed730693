"""The last snapshot, kept on disk so the client can start while the server is out of reach:
contacts as last known, the channels and the recent messages of each chat. No Textual here.

A file per server and user in the data directory, readable by the owner only (it holds
messages), written whole and atomically; anything wrong with it just means no cache."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from huddle_tui.config import user_file
from huddle_tui.records import Boot, Channel, ChatMessage, Contact, OooEntry
from huddle_tui.store import State

PER_CHAT = 50  # the newest messages of each chat kept
VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class Cache:
    """Where the last snapshot of this user on this server is kept."""

    def __init__(self, directory: Path, server: str, user: str) -> None:
        self.path = user_file(directory, server, user, "cache")

    def save(self, state: State, now: datetime) -> None:
        """Keep what the state holds now (best effort: a cache that cannot be written is none)."""
        if not state.me:
            return
        body = {
            "version": VERSION,
            "saved_at": now.isoformat(),
            "me": state.me,
            "contacts": [_contact(c) for c in state.contacts.values()],
            "channels": [asdict(c) for c in state.channels.values()],
            "messages": [
                _message(m) for chat in state.chats.values() for m in [m for m in chat if not m.pending][-PER_CHAT:]
            ],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh)
            os.replace(tmp, self.path)
        except OSError:
            pass

    def load(self) -> tuple[Boot, datetime] | None:
        """The snapshot kept last, and when it was kept; None if there is none (or it is unusable)."""
        try:
            body = json.loads(self.path.read_text("utf-8"))
            if body.get("version") != VERSION:
                return None
            boot = Boot(
                me=str(body["me"]),
                resume_point=0,
                contacts=[_contact_from(c) for c in body["contacts"]],
                channels=[Channel(str(c["id"]), str(c["name"])) for c in body["channels"]],
                messages=[_message_from(m) for m in body["messages"]],
            )
            saved_at = _parse(body["saved_at"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return (boot, saved_at) if saved_at is not None else None


def _contact(c: Contact) -> dict[str, Any]:
    ooo = None
    if c.ooo is not None:
        ooo = {"id": c.ooo.id, "message": c.ooo.message, "start": _time(c.ooo.start), "end": _time(c.ooo.end)}
    return {
        "handle": c.handle,
        "display_name": c.display_name,
        "status": c.status,
        "last_seen": _time(c.last_seen),
        "team": c.team,
        "ooo": ooo,
    }


def _contact_from(d: dict[str, Any]) -> Contact:
    ooo = d.get("ooo")
    entry = None
    if isinstance(ooo, dict):
        entry = OooEntry(
            int(ooo["id"]), str(ooo.get("message") or ""), _parse(ooo.get("start")), _parse(ooo.get("end"))
        )
    return Contact(
        handle=str(d["handle"]),
        display_name=str(d["display_name"]),
        status=str(d["status"]),
        last_seen=_parse(d.get("last_seen")),
        team=d.get("team") if isinstance(d.get("team"), str) else None,
        ooo=entry,
    )


def _message(m: ChatMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "sender": m.sender,
        "body": m.body,
        "at": _time(m.at),
        "to": m.to,
        "channel": m.channel,
        "read_at": _time(m.read_at),
        "truncated": m.truncated,
    }


def _message_from(d: dict[str, Any]) -> ChatMessage:
    at = _parse(d["at"])
    if at is None:
        raise ValueError("a message without a time")
    return ChatMessage(
        id=str(d["id"]),
        sender=str(d["sender"]),
        body=str(d["body"]),
        at=at,
        to=d.get("to"),
        channel=d.get("channel"),
        read_at=_parse(d.get("read_at")),
        truncated=d.get("truncated") is True,
    )

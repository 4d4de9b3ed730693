"""Client-side state: contacts, conversations, receipts, calls. No Textual here.

`State.apply_boot` loads a snapshot; `State.apply` folds one event in and says what changed,
so the UI can touch only the rows concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from huddle_tui import untrusted


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time from the server (any of its formats) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def shown(message: dict[str, Any]) -> bool:
    """Whether a boot or event message belongs to a DM or a channel (convos and streams are not shown)."""
    return ("to" in message or "channel" in message) and "convo" not in message and "stream" not in message


@dataclass
class Contact:
    """A teammate as this user sees them."""

    handle: str
    display_name: str
    status: str = "away"
    last_seen: datetime | None = None
    team: str | None = None
    ooo: dict[str, Any] | None = None
    unread: int = 0

    @property
    def name(self) -> str:
        """What to call them, fit to show (through the door for other people's text)."""
        return untrusted.name(self.display_name or self.handle)

    @property
    def shown_handle(self) -> str:
        """Their handle, fit to show."""
        return untrusted.name(self.handle)


@dataclass
class ChatMessage:
    """One message of a conversation."""

    id: str
    sender: str
    body: str
    at: datetime
    to: str | None = None
    channel: str | None = None
    read_at: datetime | None = None
    pending: bool = False  # typed offline, waiting in the outbox

    def chat_key(self, me: str) -> str:
        """The conversation it belongs to: the partner's handle, or `#<channel id>`."""
        if self.channel:
            return f"#{self.channel}"
        return self.to if self.sender == me else self.sender  # type: ignore[return-value]


@dataclass
class CallRecord:
    """A call this user took part in."""

    call_id: str
    caller: str
    callee: str
    type: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None = None
    duration: int = 0
    seen: bool = True

    def missed_by(self, me: str) -> bool:
        """Nobody answered a call to me."""
        return self.status == "no_answer" and self.callee == me

    def unanswered_for(self, me: str) -> bool:
        """Nobody answered my call."""
        return self.status == "no_answer" and self.caller == me


@dataclass
class Channel:
    """A public channel."""

    id: str
    name: str


@dataclass
class Change:
    """What an event changed, for the UI."""

    kind: str  # contact | names | message | receipt | call | channel | ooo | none
    key: str = ""  # a handle, a chat key or a call id
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class State:
    """Everything the client knows."""

    me: str = ""
    contacts: dict[str, Contact] = field(default_factory=dict)
    chats: dict[str, list[ChatMessage]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    resume_point: int = 0
    heartbeat: int = 30
    away_after: int = 300
    # How far back each chat's history is known to reach: None = to the start.
    history_cursor: dict[str, str | None] = field(default_factory=dict)
    # Unread DMs older than the boot window (the server counts them; the client never saw them).
    unread_beyond: dict[str, int] = field(default_factory=dict)
    # People whose name looks like someone else's: shown with their handle too.
    ambiguous: set[str] = field(default_factory=set)

    # ---- snapshot -----------------------------------------------------------------
    def apply_boot(self, boot: dict[str, Any]) -> None:
        """Replace everything with a boot snapshot."""
        self.me = boot["user"]["name"]
        self.resume_point = int(boot["resume_point"])
        self.heartbeat = int(boot.get("heartbeat", 30))
        self.away_after = int(boot.get("away_after", 300))
        self.contacts = {}
        for u in boot.get("users", []):
            self.contacts[u["id"]] = Contact(
                handle=u["id"],
                display_name=u.get("display_name") or u["name"],
                status=u.get("status") or "away",
                last_seen=parse_time(u.get("last_seen")),
                team=u.get("team"),
                ooo=u.get("ooo"),
            )
        self.channels = {c["id"]: Channel(c["id"], c["name"]) for c in boot.get("channels", [])}
        self.chats = {}
        for m in boot.get("messages", []):
            if shown(m):
                message = self._message(m)
                self.chats.setdefault(message.chat_key(self.me), []).append(message)
        # Boot carries the newest `boot_window` messages of each conversation: a chat that
        # filled it may have older ones (paged in on demand); one that did not is complete.
        window = int(boot.get("boot_window") or 0)
        self.history_cursor = {}
        if window > 0:
            self.history_cursor = {k: chat[0].id if len(chat) >= window else None for k, chat in self.chats.items()}
        self.unread_beyond = {}
        self.find_lookalikes()
        self.recount()
        for handle, count in (boot.get("unread") or {}).items():
            if handle in self.contacts and count > self.contacts[handle].unread:
                self.unread_beyond[handle] = count - self.contacts[handle].unread
                self.contacts[handle].unread = count

    def find_lookalikes(self) -> bool:
        """Who can pass for someone else on screen: the same likeness, or words that begin with
        another's (`Maya Chen (maya.chen)`). Returns whether that changed."""
        by_look: dict[tuple[str, ...], list[str]] = {}
        for contact in self.contacts.values():
            look = untrusted.likeness(contact.display_name or contact.handle)
            if look:
                by_look.setdefault(look, []).append(contact.handle)
        found: set[str] = set()
        for look, handles in by_look.items():
            if len(handles) > 1:
                found.update(handles)
            for end in range(1, len(look)):
                shorter = by_look.get(look[:end])
                if shorter:
                    found.update(shorter, handles)
        changed = found != self.ambiguous
        self.ambiguous = found
        return changed

    def name_of(self, handle: str) -> str:
        """What to call someone in a line of text, fit to show."""
        contact = self.contacts.get(handle)
        return contact.name if contact is not None else untrusted.name(handle)

    def recount(self) -> None:
        """Unread counts from the messages known: incoming DMs without read_at."""
        for key, contact in self.contacts.items():
            contact.unread = self.unread_in(key)

    def unread_in(self, key: str) -> int:
        """Incoming unread messages of a DM: those known plus those older than boot showed."""
        known = sum(1 for m in self.chats.get(key, []) if m.sender != self.me and m.read_at is None)
        return known + self.unread_beyond.get(key, 0)

    @staticmethod
    def _message(m: dict[str, Any]) -> ChatMessage:
        return ChatMessage(
            id=m["id"],
            sender=m["sender"],
            body=m.get("body", ""),
            at=parse_time(m.get("at")) or datetime.now(UTC),
            to=m.get("to"),
            channel=m.get("channel"),
            read_at=parse_time(m.get("read_at")),
        )

    # ---- events -------------------------------------------------------------------
    def apply(self, event_id: int | None, data: dict[str, Any]) -> Change:
        """Fold one event in; returns what changed."""
        if event_id is not None:
            self.resume_point = max(self.resume_point, event_id)
        kind = f"{data.get('type')} {data.get('event')}"
        handler = getattr(self, "_on_" + kind.replace(" ", "_"), None)
        if handler is None:
            return Change("none")
        change: Change = handler(data)
        return change

    def _on_presence_changed(self, d: dict[str, Any]) -> Change:
        contact = self.contacts.setdefault(d["user"], Contact(d["user"], d.get("display_name") or d["user"]))
        contact.status = d.get("status") or contact.status
        contact.last_seen = parse_time(d.get("last_seen"))
        contact.ooo = d.get("ooo")
        renamed = bool(d.get("display_name")) and d["display_name"] != contact.display_name
        if renamed:
            contact.display_name = d["display_name"]
        if renamed and self.find_lookalikes():
            return Change("names", contact.handle)
        return Change("contact", contact.handle)

    def _on_user_created(self, d: dict[str, Any]) -> Change:
        self.contacts.setdefault(d["id"], Contact(d["id"], d.get("name") or d["id"]))
        if self.find_lookalikes():
            return Change("names", d["id"])
        return Change("contact", d["id"])

    def _on_message_sent(self, d: dict[str, Any]) -> Change:
        if not shown(d):
            return Change("none")
        message = self._message(d)
        key = message.chat_key(self.me)
        chat = self.chats.setdefault(key, [])
        if any(m.id == message.id for m in chat):
            return Change("none")
        chat.append(message)
        chat.sort(key=lambda m: m.at)
        if message.sender != self.me and key in self.contacts:
            self.contacts[key].unread += 1
        return Change("message", key, {"id": message.id, "incoming": message.sender != self.me})

    def _on_message_read(self, d: dict[str, Any]) -> Change:
        reader = d["reader"]
        read_at = parse_time(d.get("read_at"))
        key = reader if reader != self.me else None
        # I read someone's messages: find the chat holding the message.
        if key is None:
            key = next((k for k, ms in self.chats.items() if any(m.id == d["id"] for m in ms)), None)
        if key is None or key not in self.chats:
            return Change("none")
        chat = self.chats[key]
        newest = next((m for m in chat if m.id == d["id"]), None)
        if newest is None:
            return Change("none")
        for m in chat:
            if m.at <= newest.at and m.sender != reader and m.read_at is None:
                m.read_at = read_at
        if reader == self.me:
            self.unread_beyond.pop(key, None)  # a read covers everything before it
        if key in self.contacts:
            self.contacts[key].unread = self.unread_in(key)
        return Change("receipt", key, {"reader": reader})

    def _on_message_deleted(self, d: dict[str, Any]) -> Change:
        for key, chat in self.chats.items():
            kept = [m for m in chat if m.id != d["id"]]
            if len(kept) != len(chat):
                chat[:] = kept
                self.recount()
                return Change("deleted", key)
        return Change("none")

    def _on_channel_created(self, d: dict[str, Any]) -> Change:
        self.channels[d["id"]] = Channel(d["id"], d["name"])
        return Change("channel", d["id"])

    def _on_channel_deleted(self, d: dict[str, Any]) -> Change:
        self.channels.pop(d["id"], None)
        return Change("channel", d["id"])

    def _on_call(self, d: dict[str, Any]) -> Change:
        record = self.call_from(d)
        known = self.calls.get(record.call_id)
        if known is not None:
            record.seen = known.seen
        # A missed or unanswered call waits in the calls list until seen.
        if record.status == "no_answer":
            record.seen = False
        self.calls[record.call_id] = record
        return Change("call", record.call_id, {"status": record.status})

    _on_call_ringing = _on_call
    _on_call_answered = _on_call
    _on_call_declined = _on_call
    _on_call_no_answer = _on_call
    _on_call_cancelled = _on_call
    _on_call_ended = _on_call

    def _on_ooo(self, d: dict[str, Any]) -> Change:
        return Change("ooo", d.get("user", ""))

    _on_ooo_created = _on_ooo
    _on_ooo_updated = _on_ooo
    _on_ooo_deleted = _on_ooo

    @staticmethod
    def call_from(d: dict[str, Any]) -> CallRecord:
        """A call from an event or a v2 call object."""
        return CallRecord(
            call_id=d["call_id"],
            caller=d["from"],
            callee=d["to"],
            type=d.get("call_type") or d.get("type") or "audio",
            status=d["status"],
            started_at=parse_time(d.get("started_at")),
            ended_at=parse_time(d.get("ended_at")),
            duration=int(d.get("duration_seconds") or 0),
        )

    # ---- queries ------------------------------------------------------------------
    def unseen_missed(self) -> list[CallRecord]:
        """Calls nobody answered (to me or from me) not yet looked at."""
        return [c for c in self.calls.values() if c.status == "no_answer" and not c.seen]

    def add_channel_history(self, key: str, items: list[dict[str, Any]], next_before: str | None) -> int:
        """Older channel messages from the server (boot-shaped); returns how many were new."""
        return self._add_older(key, [self._message(m) for m in items], next_before)

    def add_history(self, key: str, items: list[dict[str, Any]], next_before: str | None) -> int:
        """Older DM messages from the server (v2 items); returns how many were new."""
        messages = [
            ChatMessage(
                id=item["message_id"],
                sender=item["from"],
                body=item["body"],
                at=parse_time(item.get("timestamp")) or datetime.now(UTC),
                to=item.get("to"),
                read_at=parse_time(item.get("read_at")),
            )
            for item in items
        ]
        return self._add_older(key, messages, next_before)

    def _add_older(self, key: str, messages: list[ChatMessage], next_before: str | None) -> int:
        chat = self.chats.setdefault(key, [])
        known = {m.id for m in chat}
        fresh = [m for m in messages if m.id not in known]
        for m in fresh:
            if m.sender != self.me and m.read_at is None and self.unread_beyond.get(key):
                self.unread_beyond[key] -= 1  # counted by boot, now known
        chat.extend(fresh)
        chat.sort(key=lambda m: m.at)
        self.history_cursor[key] = next_before
        return len(fresh)

    def stale_unread_from_me(self, key: str) -> list[ChatMessage]:
        """My messages to this contact they have not read."""
        return [m for m in self.chats.get(key, []) if m.sender == self.me and m.read_at is None and not m.pending]

"""Client-side state: contacts, conversations, receipts, calls. No Textual here.

`State.apply_boot` loads a snapshot; `State.apply` folds one event in and says what changed,
so the UI can touch only the rows concerned. Both take records (wire.py made them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from huddle_tui import presence, untrusted
from huddle_tui.records import (
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
    HistoryPage,
    MessageDeleted,
    MessageRead,
    MessageSent,
    MessageUpdated,
    OooChanged,
    PresenceChanged,
    ReactionChanged,
    Typing,
    UserCreated,
)

ChangeKind = Literal[
    "none", "contact", "names", "message", "moved", "edited", "receipt", "call", "channel", "deleted", "ooo", "typing"
]


@dataclass(frozen=True, slots=True)
class Change:
    """What an event changed, for the UI: a contact (`handle`), a chat (`chat`), a call."""

    kind: ChangeKind
    handle: str = ""
    chat: ChatKey | None = None
    message_id: str = ""
    incoming: bool = False
    call_id: str = ""


NOTHING = Change("none")


# read_at of channel messages read before the snapshot (a channel keeps one marker, not times).
READ_BEFORE = datetime.min.replace(tzinfo=UTC)


def mention_spans(body: str, handle: str) -> list[tuple[int, int]]:
    """Where a body says `@handle` (not inside an address or a longer handle: the server's
    rule, server.domain.messaging.mentions), as (start, end) offsets."""
    spans, start, needle = [], 0, "@" + handle
    while (at := body.find(needle, start)) >= 0:
        start = at + 1
        before = body[at - 1] if at else " "
        after = body[at + len(needle) : at + len(needle) + 2]
        if before.isalnum() or before in "._-@":
            continue
        if after[:1] and (after[0].isalnum() or after[0] in "_-" or (after[0] == "." and after[1:2].isalnum())):
            continue
        spans.append((at, at + len(needle)))
    return spans


def mentions(body: str, handle: str) -> bool:
    """Whether a body says `@handle`."""
    return bool(mention_spans(body, handle))


def in_order(chat: list[ChatMessage]) -> None:
    """A chat in the server's order; messages still waiting to be sent come last, as typed."""
    chat.sort(key=lambda m: (m.pending, m.at))


def _started(call: CallRecord) -> datetime:
    return call.started_at or datetime.min.replace(tzinfo=UTC)


@dataclass
class State:
    """Everything the client knows."""

    me: str = ""
    contacts: dict[str, Contact] = field(default_factory=dict)
    chats: dict[ChatKey, list[ChatMessage]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    resume_point: int = 0
    heartbeat: int = 30
    away_after: int = 300
    ring_timeout: int = 30
    # How far back each chat's history is known to reach: None = to the start.
    history_cursor: dict[ChatKey, str | None] = field(default_factory=dict)
    # Unread messages (and mentions of me) older than the boot window: the server counts them,
    # the client never saw them.
    unread_beyond: dict[ChatKey, int] = field(default_factory=dict)
    mentions_beyond: dict[ChatKey, int] = field(default_factory=dict)
    # People whose name looks like someone else's: shown with their handle too.
    ambiguous: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # ids deleted while we watched (a reply's quote says so)
    # Since when the server has been out of reach (None: the stream is live); presence shown
    # from before then is only last known. `from_cache`: what is shown came from the disk.
    out_of_reach_since: datetime | None = None
    from_cache: bool = False

    # ---- snapshot -----------------------------------------------------------------
    def apply_boot(self, boot: Boot) -> None:
        """Replace everything with a boot snapshot (messages waiting to be sent stay)."""
        pending = [m for chat in self.chats.values() for m in chat if m.pending]
        self.from_cache = False
        self.me = boot.me
        self.resume_point = boot.resume_point
        self.heartbeat, self.away_after, self.ring_timeout = boot.heartbeat, boot.away_after, boot.ring_timeout
        self.contacts = {c.handle: c for c in boot.contacts}
        self.channels = {c.id: c for c in boot.channels}
        self.chats = {}
        for message in boot.messages:
            self.chats.setdefault(message.chat_key(self.me), []).append(message)
        # Boot carries the newest `boot_window` messages of each conversation: a chat that
        # filled it may have older ones (paged in on demand); one that did not is complete.
        window = boot.boot_window
        self.history_cursor = {}
        if window > 0:
            self.history_cursor = {k: chat[0].id if len(chat) >= window else None for k, chat in self.chats.items()}
        self.unread_beyond, self.mentions_beyond = {}, {}
        self._channel_marks(boot.channel_unread)
        self.find_lookalikes()
        self.recount()
        for handle, count in boot.unread.items():
            if handle in self.contacts and count > self.contacts[handle].unread:
                self.unread_beyond[ChatKey.dm(handle)] = count - self.contacts[handle].unread
                self.contacts[handle].unread = count
        for message in pending:
            self.chats.setdefault(message.chat_key(self.me), []).append(message)

    def _channel_marks(self, counts: dict[str, tuple[int, int]]) -> None:
        """Boot says how many messages of each channel are past my read marker: the newest that
        many from others are unread, the ones before them read; what the window does not hold
        is counted beyond it."""
        for channel_id in self.channels:
            key = ChatKey.channel(channel_id)
            unread, mentioned = counts.get(channel_id, (0, 0))
            incoming = [m for m in self.chats.get(key, []) if m.sender != self.me]
            for m in incoming[: max(0, len(incoming) - unread)]:
                m.read_at = READ_BEFORE
            known = incoming[max(0, len(incoming) - unread) :]
            if unread > len(known):
                self.unread_beyond[key] = unread - len(known)
            known_mentions = sum(1 for m in known if self.mentions_me(m))
            if mentioned > known_mentions:
                self.mentions_beyond[key] = mentioned - known_mentions

    def mentions_me(self, message: ChatMessage) -> bool:
        """Someone else's message says @me."""
        return message.sender != self.me and bool(self.me) and mentions(message.body, self.me)

    def unread_of(self, chat: ChatKey) -> int:
        """Unread messages of a chat (known, and counted beyond the window)."""
        known = sum(1 for m in self.chats.get(chat, []) if m.sender != self.me and m.read_at is None)
        return known + self.unread_beyond.get(chat, 0)

    def mentions_of(self, chat: ChatKey) -> int:
        """Unread messages of a chat that mention me."""
        known = sum(1 for m in self.chats.get(chat, []) if m.read_at is None and self.mentions_me(m))
        return known + self.mentions_beyond.get(chat, 0)

    def next_unread(self, after: ChatKey | None) -> ChatKey | None:
        """The chat to read next: mentions first, then DMs, then channels (the one open now last)."""
        chats = [ChatKey.dm(h) for h in sorted(self.contacts) if h != self.me]
        chats += [ChatKey.channel(c) for c in sorted(self.channels, key=lambda c: self.channels[c].name)]
        waiting = [c for c in chats if c != after and self.unread_of(c)]
        waiting.sort(key=lambda c: (not self.mentions_of(c), c.is_channel))
        return waiting[0] if waiting else None

    def presence_last_known(self, now: datetime) -> datetime | None:
        """When presence was last known to be current, if that is no longer now (the server out
        of reach for a while, or a start from the cache); None while it is current."""
        since = self.out_of_reach_since
        if since is None or (not self.from_cache and now - since < presence.STALE_AFTER):
            return None
        return since

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

    def chat_title(self, chat: ChatKey) -> str:
        """The name of a chat (`# general`, `Maya Chen`), fit to show."""
        if chat.is_channel:
            channel = self.channels.get(chat.id)
            return f"# {untrusted.name(channel.name if channel else chat.id)}"
        return self.name_of(chat.id)

    def contact_of(self, chat: ChatKey | None) -> Contact | None:
        """The person of a DM (None for a channel, or nobody known)."""
        return None if chat is None or chat.is_channel else self.contacts.get(chat.id)

    def recount(self) -> None:
        """Unread counts from the messages known: incoming DMs without read_at."""
        for handle, contact in self.contacts.items():
            contact.unread = self.unread_in(handle)

    def unread_in(self, handle: str) -> int:
        """Incoming unread messages of a DM: those known plus those older than boot showed."""
        return self.unread_of(ChatKey.dm(handle))

    # ---- events -------------------------------------------------------------------
    def apply(self, event_id: int | None, event: Event) -> Change:
        """Fold one event in; returns what changed."""
        if event_id is not None:
            self.resume_point = max(self.resume_point, event_id)
        match event:
            case PresenceChanged():
                return self._presence(event)
            case UserCreated():
                self.contacts.setdefault(event.handle, Contact(event.handle, event.name))
                return Change("names" if self.find_lookalikes() else "contact", handle=event.handle)
            case MessageSent():
                return self._message_sent(event.message)
            case MessageRead():
                return self._message_read(event)
            case MessageDeleted():
                return self._message_deleted(event.id)
            case MessageUpdated():
                return self._message_updated(event)
            case ReactionChanged():
                return self._reaction(event)
            case Typing():
                return Change("typing", handle=event.user, chat=event.chat)
            case ChannelCreated():
                self.channels[event.channel.id] = event.channel
                return Change("channel", chat=ChatKey.channel(event.channel.id))
            case ChannelDeleted():
                self.channels.pop(event.id, None)
                return Change("channel", chat=ChatKey.channel(event.id))
            case CallChanged():
                return self._call(event.call)
            case OooChanged():
                return Change("ooo", handle=event.user)
        return NOTHING

    def _presence(self, event: PresenceChanged) -> Change:
        contact = self.contacts.setdefault(event.user, Contact(event.user, event.display_name or event.user))
        contact.status = event.status or contact.status
        contact.last_seen = event.last_seen
        contact.ooo = event.ooo
        renamed = bool(event.display_name) and event.display_name != contact.display_name
        if renamed:
            contact.display_name = event.display_name or contact.display_name
        if renamed and self.find_lookalikes():
            return Change("names", handle=contact.handle)
        return Change("contact", handle=contact.handle)

    def _message_sent(self, message: ChatMessage) -> Change:
        key = message.chat_key(self.me)
        chat = self.chats.setdefault(key, [])
        known = next((m for m in chat if m.id == message.id), None)
        if known is not None:
            # My own message, acknowledged before its event came: the server's time is the
            # truth (the client's clock said when I pressed enter, not when it was sent).
            if known.at == message.at:
                return NOTHING
            known.at = message.at
            in_order(chat)
            return Change("moved", chat=key, message_id=message.id)
        chat.append(message)
        in_order(chat)
        incoming = message.sender != self.me
        if incoming and not key.is_channel and key.id in self.contacts:
            self.contacts[key.id].unread += 1
        return Change("message", chat=key, message_id=message.id, incoming=incoming)

    def _message_read(self, event: MessageRead) -> Change:
        reader = event.reader
        key: ChatKey | None = ChatKey.dm(reader) if reader != self.me else None
        # I read someone's messages: find the chat holding the message.
        if key is None:
            key = next((k for k, ms in self.chats.items() if any(m.id == event.id for m in ms)), None)
        if key is None or key not in self.chats:
            return NOTHING
        chat = self.chats[key]
        newest = next((m for m in chat if m.id == event.id), None)
        if newest is None:
            return NOTHING
        for m in chat:
            if m.at <= newest.at and m.sender != reader and m.read_at is None:
                m.read_at = event.read_at
        if reader == self.me:
            self.unread_beyond.pop(key, None)  # a read covers everything before it
            self.mentions_beyond.pop(key, None)
        if not key.is_channel and key.id in self.contacts:
            self.contacts[key.id].unread = self.unread_in(key.id)
        return Change("receipt", handle=reader, chat=key)

    def _message_deleted(self, message_id: str) -> Change:
        self.deleted.add(message_id)
        for key, chat in self.chats.items():
            kept = [m for m in chat if m.id != message_id]
            if len(kept) != len(chat):
                chat[:] = kept
                self.recount()
                return Change("deleted", chat=key, message_id=message_id)
        return NOTHING

    def find(self, message_id: str) -> tuple[ChatKey, ChatMessage] | None:
        """A message known by id, and its chat."""
        for key, chat in self.chats.items():
            for message in chat:
                if message.id == message_id:
                    return key, message
        return None

    def _message_updated(self, event: MessageUpdated) -> Change:
        found = self.find(event.id)
        if found is None:
            return NOTHING
        key, message = found
        message.body, message.edited_at, message.truncated = event.body, event.edited_at, False
        if not key.is_channel and key.id in self.contacts:
            self.contacts[key.id].unread = self.unread_in(key.id)
        return Change("edited", chat=key, message_id=event.id)

    def _reaction(self, event: ReactionChanged) -> Change:
        found = self.find(event.id)
        if found is None:
            return NOTHING
        key, message = found
        who = message.reactions.setdefault(event.emoji, [])
        if event.added and event.user not in who:
            who.append(event.user)
        elif not event.added and event.user in who:
            who.remove(event.user)
        if not who:
            del message.reactions[event.emoji]
        return Change("edited", chat=key, message_id=event.id)

    def _call(self, record: CallRecord) -> Change:
        known = self.calls.get(record.call_id)
        if known is not None:
            record.seen = known.seen
            record.answered_at = record.answered_at or known.answered_at
        # A missed or unanswered call waits in the calls list until seen.
        if record.status == "no_answer":
            record.seen = False
        self.calls[record.call_id] = record
        return Change("call", call_id=record.call_id)

    # ---- queries and local changes ------------------------------------------------
    def unseen_missed(self) -> list[CallRecord]:
        """Calls to me that nobody answered, not yet looked at (my own unanswered calls are not
        missed: I was there)."""
        return [c for c in self.calls.values() if c.status == "no_answer" and c.callee == self.me and not c.seen]

    def live_call(self) -> CallRecord | None:
        """The call I am in: one I placed that rings or was answered, or one I answered."""
        live = [
            c
            for c in self.calls.values()
            if (c.caller == self.me and c.status in ("ringing", "answered"))
            or (c.callee == self.me and c.status == "answered")
        ]
        return max(live, key=_started, default=None)

    def ringing_in(self) -> CallRecord | None:
        """A call to me that is ringing now (the newest, if several)."""
        ringing = [c for c in self.calls.values() if c.callee == self.me and c.status == "ringing"]
        return max(ringing, key=_started, default=None)

    def add_history(self, key: ChatKey, page: HistoryPage) -> int:
        """Older messages from the server; returns how many were new."""
        chat = self.chats.setdefault(key, [])
        known = {m.id for m in chat}
        fresh = [m for m in page.messages if m.id not in known]
        for m in fresh:
            if m.sender != self.me and m.read_at is None and self.unread_beyond.get(key):
                self.unread_beyond[key] -= 1  # counted by boot, now known
                if self.mentions_me(m) and self.mentions_beyond.get(key):
                    self.mentions_beyond[key] -= 1
        chat.extend(fresh)
        in_order(chat)
        self.history_cursor[key] = page.next_before
        return len(fresh)

    def stale_unread_from_me(self, handle: str) -> list[ChatMessage]:
        """My messages to this contact they have not read."""
        chat = self.chats.get(ChatKey.dm(handle), [])
        return [m for m in chat if m.sender == self.me and m.read_at is None and not m.pending]

"""The snapshot a client starts from, and the event it includes last."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from operator import attrgetter

from server.domain.access import readable_streams
from server.domain.actors import actor_of
from server.domain.messaging import decorated, mentions, preview, utf8_size
from server.domain.people import People
from server.domain.views import MessageView, UserView
from server.model import Conversation, Message, User
from server.store.base import ReadTx, Store

MENTION_SCAN = 2000  # unread channel bodies boot reads at most to count mentions


@dataclass(frozen=True, slots=True)
class Boot:
    """A snapshot for one viewer and the event id it includes."""

    user: User
    resume_point: int
    users: list[UserView]
    channels: list[Conversation]
    messages: list[MessageView]
    # Unread DMs per partner handle, counted over all of them (boot carries only a window).
    unread: dict[str, int]
    # Per channel pk: (unread messages, how many of them mention the viewer), over all of them.
    channel_unread: dict[int, tuple[int, int]]


class Snapshots:
    """Boot: what a viewer may see now, bounded whatever others post."""

    def __init__(self, store: Store, people: People, *, window: int, body_bytes: int, body_budget: int) -> None:
        self.store = store
        self.people = people
        self.window = window
        self.body_bytes = body_bytes
        self.body_budget = body_budget

    async def boot(self, viewer_pk: int) -> Boot:
        """The viewer's snapshot; resume_point is the last event it includes."""
        return await self.store.read(lambda repo: self._boot(repo, viewer_pk))

    def _boot(self, repo: ReadTx, viewer_pk: int) -> Boot:
        resume_point = repo.max_event_id()
        viewer = actor_of(repo, viewer_pk)
        users = repo.list_users()
        views = self.people.views(repo, viewer, users)
        channels = repo.list_channels()
        dms = repo.dm_conversations_of(viewer.pk)
        counts = repo.unread_dm_counts(viewer.pk)
        others = [*repo.convos_of(viewer.pk), *readable_streams(repo, viewer)]
        convs = {c.pk: c for c in (*channels, *dms, *others)}
        per = self.body_bytes
        # Read a few bytes more than `per`: a body cut there still has more than `per` bytes of
        # whole characters, so `preview` sees it is longer.
        messages = repo.messages_in(list(convs), self.window, body_bytes=per + 4 if per else 0)
        handles = {u.pk: u.handle for u in users}
        public = {m.pk: m.public_id for m in messages}
        cut = self._bounded_bodies(messages)
        out = [
            MessageView(
                cut.get(m.pk, m),
                handles[m.sender_pk],
                handles.get(m.recipient_pk) if m.recipient_pk else None,
                convs[m.conversation_pk],
                public.get(m.parent_pk) if m.parent_pk else None,
                truncated=m.pk in cut,
            )
            for m in messages
        ]
        partners = {c.pk: c.user_b if c.user_a == viewer.pk else c.user_a for c in dms}
        unread = {handles[p]: n for pk, n in counts.items() if (p := partners.get(pk)) is not None}
        # Reactions, and the ids of parents outside the window.
        out = decorated(repo, out)
        return Boot(viewer, resume_point, views, channels, out, unread, self._channel_unread(repo, viewer))

    def _bounded_bodies(self, messages: list[Message]) -> dict[int, Message]:
        """Boot's bounds on bodies, whatever others post: each at most `body_bytes` of UTF-8, and all
        together at most `body_budget`, spent on the newest first (older ones then carry no text).
        The messages cut, by pk; the whole body is a GET by id away."""
        left = self.body_budget or sys.maxsize
        cut: dict[int, Message] = {}
        for m in sorted(messages, key=attrgetter("pk"), reverse=True):
            limit = min(self.body_bytes or sys.maxsize, left)
            body, truncated = preview(m.body, limit)
            if truncated:
                cut[m.pk] = replace(m, body=body)
            left -= utf8_size(body)
        return cut

    @staticmethod
    def _channel_unread(repo: ReadTx, viewer: User) -> dict[int, tuple[int, int]]:
        """Unread messages and mentions of the viewer per channel (mentions looked for in at most
        MENTION_SCAN candidate bodies: boot's work stays bounded whatever others post)."""
        counts = repo.unread_channel_counts(viewer.pk)
        mentioned: dict[int, int] = {}
        for conv_pk, body in repo.unread_channel_bodies_with(viewer.pk, "@" + viewer.handle, MENTION_SCAN):
            if mentions(body, viewer.handle):
                mentioned[conv_pk] = mentioned.get(conv_pk, 0) + 1
        return {pk: (n, mentioned.get(pk, 0)) for pk, n in counts.items()}

"""Activity streams: posts, replies and shares in the stream of a team or a workspace.

Who may read and write a stream is server.domain.access's. A stream's conversation row (kind
"stream", public_id = the owner's stream uuid) is created the first time something is posted to
it: until then the stream is simply empty, and reads never write.

A post's metadata (the dialect's: its type, attachments, parsers, data, where it was shared from,
the mail it came from) is one record `{"kind": "esn", ...}` in `messages.attachments`, a list of
metadata records that other dialects may extend with records of their own kinds. The domain reads
only `shares` of it (where copies went, to show the ones a viewer may read) and `data` (bounded).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from server.domain.access import Stream, owners_readable, stream_of
from server.domain.actors import actor_of
from server.domain.clock import Clock
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.limits import SendLimit
from server.domain.messaging import MAX_BODY, Messaging
from server.domain.people import People
from server.domain.views import MessageView
from server.model import Conversation, Message, Team, User, Workspace
from server.store.base import ReadTx, Store, WriteTx

# What a copy records of its source (the dialect's words): (source message id, source stream uuid) -> record.
CopyNote = Callable[[str, str], dict[str, Any]]

META_KIND = "esn"
MAX_TARGETS = 20
MAX_IDS = 100


@dataclass(frozen=True, slots=True)
class Draft:
    """What a new post says: its text and ESN metadata (without `kind`)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Post:
    """A stream message as its viewer may see it: the message, its author and ESN links."""

    view: MessageView
    author: User
    meta: dict[str, Any]
    responses: list[str]
    shares: list[dict[str, str]]

    @property
    def stream(self) -> str:
        """The uuid of the stream holding it."""
        return self.view.conversation.public_id or ""


def esn_meta(message: Message) -> dict[str, Any]:
    """The ESN metadata record of a message ({} when it has none)."""
    for record in message.attachments or []:
        if isinstance(record, dict) and record.get("kind") == META_KIND:
            return {k: v for k, v in record.items() if k != "kind"}
    return {}


def with_meta(message: Message | None, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's metadata records with its ESN record replaced by `meta`."""
    others = [r for r in (message.attachments or []) if r.get("kind") != META_KIND] if message else []
    return [*others, {"kind": META_KIND, **meta}]


def check_text(text: Any, *, has_attachments: bool) -> str:
    """A post's text: a string of at most 64,000 characters, blank only when something is attached."""
    if not isinstance(text, str):
        raise Invalid("InvalidRequest", "the text must be a string")
    if len(text) > MAX_BODY:
        raise Invalid("BodyTooLong", f"the text is {len(text)} characters; the limit is {MAX_BODY}")
    if not text.strip() and not has_attachments:
        raise Invalid("EmptyBody", "the text must not be empty")
    return text


def nesting(value: Any, stop: int) -> int:
    """How deeply objects and lists nest in a JSON value (a scalar is 0; `{"a": [1]}` is 2),
    counted without recursion, giving up once past `stop`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > stop:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_data(data: Any, max_depth: int) -> None:
    """ESN `data` may nest at most max_depth objects and lists deep (so every answer can render it)."""
    if nesting(data, max_depth) > max_depth:
        raise Invalid("InvalidRequest", f"object.data is nested more than {max_depth} levels deep")


class Streams:
    """Posting to, replying in and sharing between streams; reading them."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        people: People,
        messages: Messaging,
        sends: SendLimit,
        *,
        data_depth: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.people = people
        self.messages = messages
        self.sends = sends
        self.data_depth = data_depth

    def _may_post(self, repo: ReadTx, actor: User, stream_uuid: str) -> Stream:
        """A stream the actor may post to; else 403."""
        stream = stream_of(repo, stream_uuid)
        if stream is None or not stream.may_read(actor):
            raise Forbidden("Forbidden", f"you may not post to activity stream {stream_uuid!r}")
        if not stream.writable:
            state = "deleted" if isinstance(stream.owner, Team) else stream.owner.state
            raise Forbidden("Forbidden", f"activity stream {stream_uuid!r} is read-only: its {stream.kind} is {state}")
        if not stream.may_write(actor):
            raise Forbidden("Forbidden", f"only members of {stream.kind} {stream.owner.name!r} may post to its stream")
        return stream

    def _writable(self, tx: WriteTx, actor: User, stream_uuid: str) -> tuple[Stream, Conversation]:
        """A stream the actor may post to, and its conversation (created on first use); else 403."""
        stream = self._may_post(tx, actor, stream_uuid)
        conv = tx.get_stream_conversation(stream.uuid)
        if conv is None:
            team_pk = stream.owner.pk if isinstance(stream.owner, Team) else None
            workspace_pk = stream.owner.pk if isinstance(stream.owner, Workspace) else None
            conv = tx.insert_stream_conversation(
                stream.uuid, team_pk=team_pk, workspace_pk=workspace_pk, at=self.clock.now()
            )
        return stream, conv

    def _visible(
        self, repo: ReadTx, viewer: User, public_id: str, *, streams_only: bool = True
    ) -> tuple[Message, Conversation]:
        """A message the viewer may read, else MessageNotFound.

        Reading by id serves any message the viewer may see (one model: a DM, a convo or a
        channel message reads here too); replying and sharing need a stream message.
        """
        message, conv = self.messages.visible(repo, viewer, public_id)
        if streams_only and conv.kind != "stream":
            raise NotFound("MessageNotFound", f"no message {public_id!r}")
        return message, conv

    # ---- reading --------------------------------------------------------------------
    async def streams(self, viewer_pk: int) -> list[Team | Workspace]:
        """The owners of the streams the viewer may read."""

        def run(repo: ReadTx) -> list[Team | Workspace]:
            return owners_readable(repo, actor_of(repo, viewer_pk))

        return await self.store.read(run)

    async def get(self, viewer_pk: int, public_id: str) -> Post:
        """One stream message the viewer may read."""

        def run(repo: ReadTx) -> Post:
            viewer = actor_of(repo, viewer_pk)
            return self._posts(repo, viewer, [self._readable(repo, viewer, public_id)])[0]

        return await self.store.read(run)

    def _readable(self, repo: ReadTx, viewer: User, public_id: str) -> tuple[Message, Conversation]:
        """A message the viewer may read by id; 403 for one that exists but is not theirs to read
        (the ESN reference names 403 for exactly this), 404 for one that does not exist (any more)."""
        try:
            return self._visible(repo, viewer, public_id, streams_only=False)
        except NotFound:
            message = repo.get_message(public_id) if isinstance(public_id, str) else None
            conv = repo.get_conversation(message.conversation_pk) if message else None
            if message is None or message.deleted or conv is None or conv.deleted:
                raise
            raise Forbidden("Forbidden", f"you do not have the permission to read message {public_id!r}") from None

    async def get_many(self, viewer_pk: int, public_ids: list[str]) -> list[Post | NotFound | Forbidden]:
        """Each id's message (at least one id), or why not (unknown: NotFound, not the viewer's to read:
        Forbidden); 404 when none can be read."""
        if len(public_ids) > MAX_IDS:
            raise Invalid("TooManyIds", f"at most {MAX_IDS} ids per request")

        def run(repo: ReadTx) -> list[Post | NotFound | Forbidden]:
            viewer = actor_of(repo, viewer_pk)
            found: dict[str, tuple[Message, Conversation]] = {}
            refused: dict[str, NotFound | Forbidden] = {}
            for public_id in public_ids:
                try:
                    found[public_id] = self._readable(repo, viewer, public_id)
                except (NotFound, Forbidden) as exc:
                    refused[public_id] = exc
            if not found:
                raise NotFound("MessageNotFound", "none of the messages can be found")
            posts = dict(zip(found, self._posts(repo, viewer, list(found.values())), strict=True))
            return [posts.get(public_id) or refused[public_id] for public_id in public_ids]

        return await self.store.read(run)

    async def timeline(
        self, viewer_pk: int, stream_uuid: str, *, before: str | None, after: str | None, limit: int
    ) -> tuple[list[Post], int]:
        """A stream's messages, newest first (see StreamQueries.stream_timeline), and how many it holds."""

        def run(repo: ReadTx) -> tuple[list[Post], int]:
            viewer = actor_of(repo, viewer_pk)
            stream = stream_of(repo, stream_uuid)
            if stream is None or not stream.may_read(viewer):
                raise NotFound("StreamNotFound", f"no activity stream {stream_uuid!r}")
            conv = repo.get_stream_conversation(stream.uuid)
            before_pk = self._anchor(repo, conv, before, "before")
            after_pk = self._anchor(repo, conv, after, "after")
            if conv is None:
                return [], 0
            messages = repo.stream_timeline(conv.pk, before_pk=before_pk, after_pk=after_pk, limit=limit)
            posts = self._posts(repo, viewer, [(m, conv) for m in messages])
            return posts, repo.count_stream_messages(conv.pk)

        return await self.store.read(run)

    @staticmethod
    def _anchor(repo: ReadTx, conv: Conversation | None, public_id: str | None, name: str) -> int | None:
        """The pk of a paging anchor: a message of this stream (deleted ones too)."""
        if public_id is None:
            return None
        message = repo.get_message(public_id)
        if conv is None or message is None or message.conversation_pk != conv.pk:
            raise Invalid("InvalidAnchor", f"{name} must be the id of a message of this activity stream")
        return message.pk

    def _posts(self, repo: ReadTx, viewer: User, items: list[tuple[Message, Conversation]]) -> list[Post]:
        """Posts with their authors, parents, replies and the copies the viewer may read."""
        messages = [m for m, _ in items]
        people = repo.users_by_pk(
            {m.sender_pk for m in messages} | {m.recipient_pk for m in messages if m.recipient_pk}
        )
        parents = repo.public_ids(m.parent_pk for m in messages if m.parent_pk)
        replies = repo.reply_ids([m.pk for m in messages])
        metas = [esn_meta(m) for m in messages]
        limit = self.data_depth
        for meta in metas:
            # Stored before the bound, or under a looser one: left out, so the message still reads.
            if "data" in meta and nesting(meta["data"], limit) > limit:
                del meta["data"]
        readable: set[str] | None = None
        out = []
        for (message, conv), meta in zip(items, metas, strict=True):
            shares = [s for s in meta.pop("shares", []) if isinstance(s, dict)]
            if shares and readable is None:
                readable = {o.stream_uuid for o in owners_readable(repo, viewer)}
            visible = [s for s in shares if readable is not None and s.get("stream") in readable]
            author = people[message.sender_pk]
            parent = parents.get(message.parent_pk) if message.parent_pk else None
            recipient = people[message.recipient_pk].handle if message.recipient_pk in people else None
            view = MessageView(message, author.handle, recipient, conv, parent)
            out.append(Post(view, author, meta, replies.get(message.pk, []), visible))
        return out

    # ---- writing --------------------------------------------------------------------
    def _insert(
        self, tx: WriteTx, actor: User, place: tuple[Stream, Conversation], draft: Draft, parent: Message | None
    ) -> MessageView:
        """Store one message in a stream and tell its readers."""
        _, conv = place
        return self.messages.post(
            tx, actor, conv, draft.text, self.clock.now(), parent=parent, attachments=with_meta(None, draft.meta)
        )

    def _copies(
        self,
        tx: WriteTx,
        actor: User,
        source: Message,
        source_uuid: str,
        places: list[tuple[Stream, Conversation]],
        note: CopyNote,
    ) -> list[MessageView]:
        """A copy of `source` in each place, noting where it came from; the source remembers where it was shared."""
        source_meta = esn_meta(source)
        shared = list(source_meta.pop("shares", []))
        copy_meta = {**source_meta, "copyOf": note(source.public_id, source_uuid)}
        views = []
        for place in places:
            view = self._insert(tx, actor, place, Draft(source.body, copy_meta), None)
            shared.append({"_id": view.message.public_id, "stream": place[0].uuid})
            views.append(view)
        tx.set_message_attachments(source.pk, with_meta(source, {**source_meta, "shares": shared}))
        return views

    def _places(self, tx: WriteTx, actor: User, targets: list[str]) -> list[tuple[Stream, Conversation]]:
        """Each target stream (duplicates dropped), all checked before anything is written."""
        if not targets:
            raise Invalid("MissingTargets", "name at least one target activity stream")
        if len(targets) > MAX_TARGETS:
            raise Invalid("TooManyTargets", f"at most {MAX_TARGETS} targets")
        return [self._writable(tx, actor, uuid) for uuid in dict.fromkeys(targets)]

    async def _write(
        self, actor_pk: int, key: str | None, act: Callable[[WriteTx, User], MessageView], *, counted: bool = False
    ) -> MessageView:
        """One stream write: a retry with the key returns the first answer; else act, remember, touch."""
        if not counted:
            self.sends.count(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            earlier = self.messages.replay(tx, actor_pk, key, "stream")
            if earlier is not None:
                return earlier
            actor = actor_of(tx, actor_pk)
            view = act(tx, actor)
            now = self.clock.now()
            self.messages.remember(tx, actor.pk, key, view.message.pk, now)
            self.people.touch(tx, actor.pk, now)
            return view

        return await self.store.write(run)

    async def post(
        self,
        actor_pk: int,
        draft: Draft,
        targets: list[str],
        key: str | None = None,
        *,
        note: CopyNote | None = None,
        counted: bool = False,
    ) -> MessageView:
        """A new post in the first target; each further target gets a copy, as if shared (noted by `note`)."""

        def act(tx: WriteTx, actor: User) -> MessageView:
            places = self._places(tx, actor, targets)
            view = self._insert(tx, actor, places[0], draft, None)
            if places[1:]:
                assert note is not None, "copies need a note of their source"
                self._copies(tx, actor, view.message, places[0][0].uuid, places[1:], note)
            return view

        return await self._write(actor_pk, key, act, counted=counted)

    async def post_when_allowed(
        self, actor_pk: int, target: str, draft: Callable[[], Awaitable[Draft]], key: str | None = None
    ) -> MessageView:
        """A post whose draft is costly to make (a mail to read): made only once the send rate and the
        stream allow the post, so refused posts cost nothing."""
        self.sends.count(actor_pk)  # counted before any work, like every send
        await self.store.read(lambda repo: self._may_post(repo, actor_of(repo, actor_pk), target))
        made = await draft()
        return await self.post(actor_pk, made, [target], key, counted=True)

    async def reply(
        self, actor_pk: int, draft: Draft, parent_id: str, targets: list[str], key: str | None = None
    ) -> MessageView:
        """A reply, in its parent's stream (targets, if given, may only name that stream)."""

        def act(tx: WriteTx, actor: User) -> MessageView:
            parent, conv = self._visible(tx, actor, parent_id)
            assert conv.public_id is not None
            if any(t != conv.public_id for t in targets):
                raise Invalid("InvalidTargets", "a reply goes into its parent's stream; leave out targets")
            return self._insert(tx, actor, self._writable(tx, actor, conv.public_id), draft, parent)

        return await self._write(actor_pk, key, act)

    async def share(
        self, actor_pk: int, public_id: str, resource: str, targets: list[str], note: CopyNote, key: str | None = None
    ) -> MessageView:
        """Copy a message the actor may read into streams they may write, noting the source with `note`;
        returns the first copy."""

        def act(tx: WriteTx, actor: User) -> MessageView:
            source, conv = self._visible(tx, actor, public_id)
            if resource != conv.public_id:
                raise NotFound("MessageNotFound", f"no message {public_id!r} in activity stream {resource!r}")
            if conv.public_id in targets:
                raise Invalid("InvalidTargets", f"the message is already in activity stream {conv.public_id!r}")
            return self._copies(tx, actor, source, resource, self._places(tx, actor, targets), note)[0]

        return await self._write(actor_pk, key, act)

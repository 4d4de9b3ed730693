"""ESN activity streams (seed 004): one per team and per workspace.

Who may do what:
- a team's stream: its members read and write it while the team is not deleted;
- a workspace's stream: its members read it unless the workspace is deleted, and write it only
  while the workspace is `active` (an `archived` or `locked` workspace keeps its history
  readable, read-only);
- admins read every stream, whatever its owner's state; they write only where they are members.

A stream's conversation row (kind "stream", public_id = the owner's stream uuid) is created the
first time something is posted to it: until then the stream is simply empty, and reads never write.

ESN metadata of a message (objectType, attachments, parsers, data, shared-from and shared-to,
the e-mail it came from) is one record `{"kind": "esn", ...}` in `messages.attachments`, a list
of metadata records that other dialects may extend with records of their own kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.messaging import MAX_BODY, MessageView
from server.model import Conversation, Message, Team, User, Workspace
from server.store.base import WriteTx
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain

META_KIND = "esn"
MAX_TARGETS = 20
MAX_IDS = 100


@dataclass(frozen=True, slots=True)
class Stream:
    """An activity stream: its owner, the owner's members, and the owner's state."""

    owner: Team | Workspace
    members: frozenset[int]

    @property
    def uuid(self) -> str:
        """The stream's uuid."""
        return self.owner.stream_uuid

    @property
    def kind(self) -> str:
        """`team` or `workspace`."""
        return "team" if isinstance(self.owner, Team) else "workspace"

    @property
    def live(self) -> bool:
        """Whether its members may read it (the owner is not deleted)."""
        if isinstance(self.owner, Team):
            return not self.owner.deleted
        return self.owner.state != "deleted"

    @property
    def writable(self) -> bool:
        """Whether its members may post to it (a live team, an active workspace)."""
        if isinstance(self.owner, Team):
            return not self.owner.deleted
        return self.owner.state == "active"

    def may_read(self, viewer: User) -> bool:
        """Members of a live owner, and admins."""
        return viewer.is_admin or (self.live and viewer.pk in self.members)

    def may_write(self, viewer: User) -> bool:
        """Members of a live team or an active workspace."""
        return self.writable and viewer.pk in self.members


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
    """Stream rules: members of the owning team or workspace read and write."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    # ---- who may read and write -----------------------------------------------------
    @staticmethod
    def stream_of(repo: Repo, stream_uuid: str) -> Stream | None:
        """The stream with this uuid and its owner's members, if any."""
        owner = repo.get_stream_owner(stream_uuid) if isinstance(stream_uuid, str) else None
        if owner is None:
            return None
        if isinstance(owner, Team):
            return Stream(owner, frozenset(repo.team_member_pks(owner.pk)))
        return Stream(owner, frozenset(repo.workspace_member_pks(owner.pk)))

    def can_read(self, repo: Repo, viewer: User, conversation: Conversation) -> bool:
        """Whether a viewer may read a stream."""
        if conversation.kind != "stream" or conversation.deleted or conversation.public_id is None:
            return False
        stream = self.stream_of(repo, conversation.public_id)
        return stream is not None and stream.may_read(viewer)

    @staticmethod
    def owners_readable(repo: Repo, viewer: User) -> list[Team | Workspace]:
        """The teams and workspaces whose streams the viewer may read: teams, then workspaces, by name."""
        if viewer.is_admin:
            return [*repo.list_teams(), *repo.list_workspaces()]
        teams = [t for t in repo.teams_of([viewer.pk]).get(viewer.pk, []) if not t.deleted]
        spaces = [w for w in repo.workspaces_of([viewer.pk]).get(viewer.pk, []) if w.state != "deleted"]
        return [*teams, *spaces]

    def readable(self, repo: Repo, viewer: User) -> list[Conversation]:
        """The stream conversations a user may read (their messages go into boot)."""
        if viewer.is_admin:
            return repo.stream_conversations(None)
        return repo.stream_conversations(o.stream_uuid for o in self.owners_readable(repo, viewer))

    def readers(self, repo: Repo, stream: Stream) -> frozenset[int]:
        """Who may read a stream now: its members (while live) and every admin."""
        members = stream.members if stream.live else frozenset()
        return members | frozenset(repo.admin_pks())

    def audience_of(self, repo: Repo, conversation: Conversation) -> frozenset[int]:
        """Who is told about a change to a stream conversation's messages (e.g. a deletion)."""
        stream = self.stream_of(repo, conversation.public_id or "")
        return self.readers(repo, stream) if stream is not None else frozenset(repo.admin_pks())

    def _may_post(self, repo: Repo, actor: User, stream_uuid: str) -> Stream:
        """A stream the actor may post to; else 403."""
        stream = self.stream_of(repo, stream_uuid)
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
                stream.uuid, team_pk=team_pk, workspace_pk=workspace_pk, at=self.d.clock.now()
            )
        return stream, conv

    def _visible(
        self, repo: Repo, viewer: User, public_id: str, *, streams_only: bool = True
    ) -> tuple[Message, Conversation]:
        """A message the viewer may read, else MessageNotFound.

        Reading by id serves any message the viewer may see (one model: a DM, a convo or a
        channel message reads here too); replying and sharing need a stream message.
        """
        message, conv = self.d.messages.visible(repo, viewer, public_id)
        if streams_only and conv.kind != "stream":
            raise NotFound("MessageNotFound", f"no message {public_id!r}")
        return message, conv

    # ---- reading --------------------------------------------------------------------
    async def streams(self, viewer_pk: int) -> list[Team | Workspace]:
        """The owners of the streams the viewer may read."""

        def run(repo: Repo) -> list[Team | Workspace]:
            return self.owners_readable(repo, self.d.actor(repo, viewer_pk))

        return await self.d.store.read(run)

    async def get(self, viewer_pk: int, public_id: str) -> Post:
        """One stream message the viewer may read."""

        def run(repo: Repo) -> Post:
            viewer = self.d.actor(repo, viewer_pk)
            return self._posts(repo, viewer, [self._readable(repo, viewer, public_id)])[0]

        return await self.d.store.read(run)

    def _readable(self, repo: Repo, viewer: User, public_id: str) -> tuple[Message, Conversation]:
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
        """Each id's message, or why not (unknown: NotFound, not the viewer's to read: Forbidden);
        404 when none can be read."""
        if not public_ids:
            raise Invalid("MissingIds", "name the messages: ?ids[]=<id>&ids[]=<id>")
        if len(public_ids) > MAX_IDS:
            raise Invalid("TooManyIds", f"at most {MAX_IDS} ids per request")

        def run(repo: Repo) -> list[Post | NotFound | Forbidden]:
            viewer = self.d.actor(repo, viewer_pk)
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

        return await self.d.store.read(run)

    async def timeline(
        self, viewer_pk: int, stream_uuid: str, *, before: str | None, after: str | None, limit: int
    ) -> tuple[list[Post], int]:
        """A stream's messages, newest first (see StreamQueries.stream_timeline), and how many it holds."""

        def run(repo: Repo) -> tuple[list[Post], int]:
            viewer = self.d.actor(repo, viewer_pk)
            stream = self.stream_of(repo, stream_uuid)
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

        return await self.d.store.read(run)

    @staticmethod
    def _anchor(repo: Repo, conv: Conversation | None, public_id: str | None, name: str) -> int | None:
        """The pk of a paging anchor: a message of this stream (deleted ones too)."""
        if public_id is None:
            return None
        message = repo.get_message(public_id)
        if conv is None or message is None or message.conversation_pk != conv.pk:
            raise Invalid("InvalidAnchor", f"{name} must be the id of a message of this activity stream")
        return message.pk

    def _posts(self, repo: Repo, viewer: User, items: list[tuple[Message, Conversation]]) -> list[Post]:
        """Posts with their authors, parents, replies and the copies the viewer may read."""
        messages = [m for m, _ in items]
        people = repo.users_by_pk(
            {m.sender_pk for m in messages} | {m.recipient_pk for m in messages if m.recipient_pk}
        )
        parents = repo.public_ids_of(m.parent_pk for m in messages if m.parent_pk)
        replies = repo.reply_ids([m.pk for m in messages])
        metas = [esn_meta(m) for m in messages]
        limit = self.d.settings.esn_data_depth
        for meta in metas:
            # Stored before the bound, or under a looser one: left out, so the message still reads.
            if "data" in meta and nesting(meta["data"], limit) > limit:
                del meta["data"]
        readable: set[str] | None = None
        out = []
        for (message, conv), meta in zip(items, metas, strict=True):
            shares = [s for s in meta.pop("shares", []) if isinstance(s, dict)]
            if shares and readable is None:
                readable = {o.stream_uuid for o in self.owners_readable(repo, viewer)}
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
        return self.d.messages.post(
            tx, actor, conv, draft.text, self.d.clock.now(), parent=parent, attachments=with_meta(None, draft.meta)
        )

    def _copies(
        self, tx: WriteTx, actor: User, source: Message, source_uuid: str, places: list[tuple[Stream, Conversation]]
    ) -> list[MessageView]:
        """A copy of `source` in each place; the source remembers where it was shared."""
        source_meta = esn_meta(source)
        shared = list(source_meta.pop("shares", []))
        resource = {"objectType": "activitystream", "id": source_uuid}
        copy_meta = {**source_meta, "copyOf": {"_id": source.public_id, "resource": resource}}
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
            self.d.auth.check_send(actor_pk)

        def run(tx: WriteTx) -> MessageView:
            earlier = self.d.messages.replay(tx, actor_pk, key, "stream")
            if earlier is not None:
                return earlier
            actor = self.d.actor(tx, actor_pk)
            view = act(tx, actor)
            now = self.d.clock.now()
            self.d.messages.remember(tx, actor.pk, key, view.message.pk, now)
            self.d.people.touch(tx, actor.pk, now)
            return view

        return await self.d.store.write(run)

    async def post(
        self, actor_pk: int, draft: Draft, targets: list[str], key: str | None = None, *, counted: bool = False
    ) -> MessageView:
        """A new post in the first target; each further target gets a copy, as if shared."""

        def act(tx: WriteTx, actor: User) -> MessageView:
            places = self._places(tx, actor, targets)
            view = self._insert(tx, actor, places[0], draft, None)
            if places[1:]:
                self._copies(tx, actor, view.message, places[0][0].uuid, places[1:])
            return view

        return await self._write(actor_pk, key, act, counted=counted)

    async def post_email(self, actor_pk: int, raw: bytes, target: str, key: str | None = None) -> MessageView:
        """A post made of an RFC 822 message, read only once the send rate and the stream allow it."""
        self.d.auth.check_send(actor_pk)  # counted before any work, like every send
        await self.d.store.read(lambda repo: self._may_post(repo, self.d.actor(repo, actor_pk), target))
        draft = await self.d.mail.read(raw)  # off the event loop, within the mail limits
        return await self.post(actor_pk, draft, [target], key, counted=True)

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
        self, actor_pk: int, public_id: str, resource: str, targets: list[str], key: str | None = None
    ) -> MessageView:
        """Copy a message the actor may read into streams they may write; returns the first copy."""

        def act(tx: WriteTx, actor: User) -> MessageView:
            source, conv = self._visible(tx, actor, public_id)
            if resource != conv.public_id:
                raise NotFound("MessageNotFound", f"no message {public_id!r} in activity stream {resource!r}")
            if conv.public_id in targets:
                raise Invalid("InvalidTargets", f"the message is already in activity stream {conv.public_id!r}")
            return self._copies(tx, actor, source, resource, self._places(tx, actor, targets))[0]

        return await self._write(actor_pk, key, act)

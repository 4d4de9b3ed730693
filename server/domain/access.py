"""Who may see a message, and who is told about it: one rule for every dialect.

A DM or a convo is seen by its two parties, a channel by everyone, an activity stream by its
readers (below); deleted messages and conversations by nobody. Activity streams, one per team and
per workspace:
- a team's stream: its members read and write it while the team is not deleted;
- a workspace's stream: its members read it unless the workspace is deleted, and write it only
  while the workspace is `active` (an `archived` or `locked` workspace keeps its history
  readable, read-only);
- admins read every stream, whatever its owner's state; they write only where they are members.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.membership import is_live, is_writable
from server.model import Conversation, Message, Team, User, Workspace
from server.store.base import ReadTx


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
        return is_live(self.owner)

    @property
    def writable(self) -> bool:
        """Whether its members may post to it (a live team, an active workspace)."""
        return is_writable(self.owner)

    def may_read(self, viewer: User) -> bool:
        """Members of a live owner, and admins."""
        return viewer.is_admin or (self.live and viewer.pk in self.members)

    def may_write(self, viewer: User) -> bool:
        """Members of a live team or an active workspace."""
        return self.writable and viewer.pk in self.members


def stream_of(repo: ReadTx, stream_uuid: str) -> Stream | None:
    """The stream with this uuid and its owner's members, if any."""
    owner = repo.get_stream_owner(stream_uuid) if isinstance(stream_uuid, str) else None
    if owner is None:
        return None
    if isinstance(owner, Team):
        return Stream(owner, frozenset(repo.team_member_pks(owner.pk)))
    return Stream(owner, frozenset(repo.workspace_member_pks(owner.pk)))


def can_read_stream(repo: ReadTx, viewer: User, conversation: Conversation) -> bool:
    """Whether a viewer may read a stream's conversation."""
    if conversation.kind != "stream" or conversation.deleted or conversation.public_id is None:
        return False
    stream = stream_of(repo, conversation.public_id)
    return stream is not None and stream.may_read(viewer)


def owners_readable(repo: ReadTx, viewer: User) -> list[Team | Workspace]:
    """The teams and workspaces whose streams the viewer may read: teams, then workspaces, by name."""
    if viewer.is_admin:
        return [*repo.list_teams(), *repo.list_workspaces()]
    teams = [t for t in repo.teams_of([viewer.pk]).get(viewer.pk, []) if is_live(t)]
    spaces = [w for w in repo.workspaces_of([viewer.pk]).get(viewer.pk, []) if is_live(w)]
    return [*teams, *spaces]


def readable_streams(repo: ReadTx, viewer: User) -> list[Conversation]:
    """The stream conversations a user may read."""
    if viewer.is_admin:
        return repo.stream_conversations(None)
    return repo.stream_conversations(o.stream_uuid for o in owners_readable(repo, viewer))


def stream_readers(repo: ReadTx, stream: Stream) -> frozenset[int]:
    """Who may read a stream now: its members (while live) and every admin."""
    members = stream.members if stream.live else frozenset()
    return members | frozenset(repo.admin_pks())


def can_see(repo: ReadTx, viewer: User, message: Message, conversation: Conversation) -> bool:
    """Whether a viewer may see a message."""
    if message.deleted or conversation.deleted:
        return False
    if conversation.kind in ("dm", "convo"):
        return viewer.pk in (conversation.user_a, conversation.user_b)
    if conversation.kind == "stream":
        return can_read_stream(repo, viewer, conversation)
    return conversation.kind == "channel"


def audience(repo: ReadTx, conversation: Conversation) -> frozenset[int] | None:
    """Who may see a conversation's messages now, so who is told about them (None: everyone)."""
    if conversation.kind == "channel":
        return None
    if conversation.kind == "stream":
        stream = stream_of(repo, conversation.public_id or "")
        return stream_readers(repo, stream) if stream is not None else frozenset(repo.admin_pks())
    return frozenset(p for p in (conversation.user_a, conversation.user_b) if p)

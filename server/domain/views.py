"""What the domain hands the dialects: records with the names a rendering needs, as one viewer may see them."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.model import Call, Conversation, Message, OooEntry, Team, User, Workspace


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message with the handles a dialect needs to render it."""

    message: Message
    sender: str
    recipient: str | None
    conversation: Conversation
    parent_id: str | None = None
    # The body is only the start of the message's (boot's bounds, see messaging.preview).
    truncated: bool = False
    # emoji -> the handles that reacted with it, in the order they did.
    reactions: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetBy:
    """Who set something (a handle), and when."""

    handle: str
    at: int


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as one viewer may see them."""

    user: User
    last_seen: int | None
    ooo: OooEntry | None
    team: str | None
    teams: tuple[Team, ...]
    workspaces: tuple[Workspace, ...]
    # Who set the sticky status, and when (while one is set).
    set_by: SetBy | None
    is_self: bool


@dataclass(frozen=True, slots=True)
class CallView:
    """A call with its parties' handles."""

    call: Call
    caller: str
    callee: str

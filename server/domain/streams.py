"""ESN activity streams (seed 004): one per team and per workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.model import Conversation, User
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain


class Streams:
    """Stream rules: members of the owning team or workspace read and write."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    def can_read(self, repo: Repo, viewer: User, conversation: Conversation) -> bool:
        """Whether a viewer may read a stream."""
        return False

    def readable(self, repo: Repo, viewer: User) -> list[Conversation]:
        """The stream conversations a user may read (their messages go into boot)."""
        return []

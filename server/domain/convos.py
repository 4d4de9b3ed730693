"""Convos (seed 002): two-person conversations with a subject."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.model import Conversation, User
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain


class Convos:
    """Convo rules."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain

    def conversations_of(self, repo: Repo, viewer: User) -> list[Conversation]:
        """The live convos a user takes part in (their messages go into boot)."""
        return []

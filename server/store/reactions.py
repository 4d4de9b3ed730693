"""Reactions to messages: who reacted with which emoji, in the order they did."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select

from server.store import schema as s
from server.store.rows import Queries

_R = s.reactions
SLICE = 10_000  # pks bound in one statement


class ReactionReads(Queries):
    """Reading reactions."""

    def reactions_of(self, message_pks: Iterable[int]) -> dict[int, list[tuple[str, int]]]:
        """Per message, its (emoji, user pk) in the order they were added."""
        wanted = sorted(set(message_pks))
        rows: list[Any] = []
        # In slices: a boot of every message (--boot-window 0) may name more than SQLite binds at once.
        for start in range(0, len(wanted), SLICE):
            part = wanted[start : start + SLICE]
            query = select(_R.c.pk, _R.c.message_pk, _R.c.emoji, _R.c.user_pk).where(_R.c.message_pk.in_(part))
            rows.extend(self.conn.execute(query).all())
        out: dict[int, list[tuple[str, int]]] = {}
        for _, message_pk, emoji, user_pk in sorted(rows):
            out.setdefault(int(message_pk), []).append((str(emoji), int(user_pk)))
        return out

    def has_reaction(self, message_pk: int, emoji: str, user_pk: int) -> bool:
        """Whether this user reacted to this message with this emoji."""
        where = (_R.c.message_pk == message_pk, _R.c.emoji == emoji, _R.c.user_pk == user_pk)
        return self.conn.execute(select(_R.c.pk).where(*where)).first() is not None

    def distinct_reactions(self, message_pk: int) -> int:
        """How many different emoji a message carries."""
        query = select(func.count(func.distinct(_R.c.emoji))).where(_R.c.message_pk == message_pk)
        return int(self.conn.execute(query).scalar_one())


class ReactionWrites(ReactionReads):
    """Changing reactions."""

    def add_reaction(self, message_pk: int, emoji: str, user_pk: int, at: int) -> None:
        """Add one reaction (the caller checked it is not there yet)."""
        self.conn.execute(insert(_R).values(message_pk=message_pk, emoji=emoji, user_pk=user_pk, at=at))

    def remove_reaction(self, message_pk: int, emoji: str, user_pk: int) -> None:
        """Take one reaction back."""
        self.conn.execute(delete(_R).where(_R.c.message_pk == message_pk, _R.c.emoji == emoji, _R.c.user_pk == user_pk))

    def clear_reactions(self, message_pk: int) -> None:
        """Drop every reaction of a message."""
        self.conn.execute(delete(_R).where(_R.c.message_pk == message_pk))

"""Who is acting: the signed-in user a request's token named, still there."""

from __future__ import annotations

from server.domain.errors import Unauthorized
from server.model import User
from server.store.base import ReadTx


def actor_of(repo: ReadTx, pk: int) -> User:
    """The signed-in user making a request (by the pk their token gave), or Unauthorized when gone."""
    return still_there(repo.get_user(pk))


def still_there(user: User | None) -> User:
    """The user an authenticated pk was looked up as, or Unauthorized when they are gone."""
    if user is None:
        raise Unauthorized("Unauthorized", "this token's user no longer exists")
    return user

"""Passwords, tokens and rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING

from server.domain.errors import RateLimited, Unauthorized
from server.model import User
from server.store.base import WriteTx
from server.store.repo import Repo

if TYPE_CHECKING:
    from server.domain.core import Domain

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# A token's last use is written at most this often (it only feeds the 30-day expiry).
_TOUCH_EVERY_US = 3600 * 1_000_000
# How long a validated token is trusted without asking the database again (a revocation
# made by another process, such as `huddle-server user passwd`, takes effect within this).
_CACHE_SECONDS = 5.0


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether a password matches a stored hash (constant time)."""
    if not stored or not stored.startswith("scrypt$"):
        # Spend the same time as a real check, so timing does not reveal unknown users.
        hashlib.scrypt(password.encode(), salt=b"0" * 16, dklen=32, **_SCRYPT)
        return False
    _, salt_b64, digest_b64 = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


class Window:
    """Counts events per key within a sliding window of `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """Seconds until the key may act again; 0 when it may now."""
        if self.limit <= 0:
            return 0
        now = time.monotonic()
        hits = self._hits.get(key)
        if not hits:
            return 0
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if len(hits) < self.limit:
            return 0
        return max(1, int(hits[0] + self.seconds - now) + 1)

    def hit(self, key: str) -> None:
        """Record one event."""
        if self.limit <= 0:
            return
        self._hits.setdefault(key, deque()).append(time.monotonic())
        if len(self._hits) > 100_000:  # forget idle keys
            cutoff = time.monotonic() - self.seconds
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > cutoff}

    def check(self, key: str, message: str) -> None:
        """Raise RateLimited when the key is over its limit."""
        wait = self.retry_after(key)
        if wait:
            raise RateLimited("RateLimited", message, retry_after=wait)


class Auth:
    """Sign-in, tokens, and the login and send limits."""

    def __init__(self, domain: Domain) -> None:
        self.d = domain
        self._cache: dict[str, tuple[int, float]] = {}
        self.login_failures = Window(domain.settings.login_rate, 60.0)
        self.sends = Window(domain.settings.send_rate, 60.0)

    def issue(self, tx: WriteTx, user_pk: int) -> str:
        """Create a token for a user inside a write; returns the token (stored only hashed)."""
        token = secrets.token_urlsafe(32)
        tx.insert_token(user_pk, token_hash(token), self.d.clock.now())
        return token

    def issue_sync(self, user_pk: int) -> str:
        """Create a token (for the command line)."""
        return self.d.store.write_sync(lambda tx: self.issue(tx, user_pk))

    async def login(self, handle: str, password: str, address: str) -> tuple[str, User]:
        """Check a password; returns a new token and the user."""
        for key in (f"handle:{handle}", f"addr:{address}"):
            self.login_failures.check(key, "too many failed sign-ins; wait and try again")
        user, stored = await self.d.store.read(
            lambda repo: (u := repo.get_user_by_handle(handle), repo.password_hash(u.pk) if u else None)
        )
        if user is None or not verify_password(password, stored):
            self.login_failures.hit(f"handle:{handle}")
            self.login_failures.hit(f"addr:{address}")
            raise Unauthorized("InvalidCredentials", "wrong user or password")

        def run(tx: WriteTx) -> str:
            token = self.issue(tx, user.pk)
            self.d.people.touch(tx, user.pk, self.d.clock.now())
            return token

        return await self.d.store.write(run), user

    async def authenticate(self, token: str | None) -> int:
        """The pk of the user a token belongs to, or Unauthorized."""
        if not token:
            raise Unauthorized("Unauthorized", "sign in first: send Authorization: Bearer <token>")
        digest = token_hash(token)
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached[1] < _CACHE_SECONDS:
            return cached[0]
        found = await self.d.store.read(lambda repo: repo.get_token(digest))
        now = self.d.clock.now()
        if found is None or found[2] is not None:
            raise Unauthorized("Unauthorized", "this token is not valid; sign in again")
        user_pk, last_used, _ = found
        if now - last_used > int(self.d.settings.token_ttl * 1_000_000):
            raise Unauthorized("Unauthorized", "this token expired; sign in again")
        if now - last_used > _TOUCH_EVERY_US:
            await self.d.store.write(lambda tx: tx.touch_token(digest, now))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[digest] = (user_pk, time.monotonic())
        return user_pk

    async def logout(self, token: str) -> None:
        """Revoke a token."""
        digest = token_hash(token)
        user_pk = await self.authenticate(token)
        self._cache.pop(digest, None)

        def run(tx: WriteTx) -> None:
            now = self.d.clock.now()
            tx.revoke_token(digest, now)
            self.d.people.touch(tx, user_pk, now)

        await self.d.store.write(run)

    def forget_user(self, user_pk: int) -> None:
        """Drop cached tokens of a user (after a password change)."""
        self._cache = {k: v for k, v in self._cache.items() if v[0] != user_pk}

    def check_send(self, user_pk: int) -> None:
        """Refuse a send over the per-user send rate; count it otherwise."""
        key = str(user_pk)
        self.sends.check(key, "sending too fast; slow down")
        self.sends.hit(key)

    @staticmethod
    def user_of(repo: Repo, pk: int) -> User:
        """The user of an authenticated pk."""
        return Auth.still_there(repo.get_user(pk))

    @staticmethod
    def still_there(user: User | None) -> User:
        """The user an authenticated pk was looked up as, or Unauthorized when they are gone."""
        if user is None:
            raise Unauthorized("Unauthorized", "this token's user no longer exists")
        return user

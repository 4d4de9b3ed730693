"""Passwords, tokens and rate limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from server.domain.clock import Clock
from server.domain.errors import NotFound, RateLimited, Unauthorized
from server.domain.limits import Recent, Window, address_key
from server.domain.people import People
from server.events import Hub
from server.model import User
from server.settings import Settings
from server.store.base import Store, WriteTx

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# Checked when there is no stored hash (an unknown user), so that takes as long as a wrong
# password: a hash of a random password nobody kept.
_DUMMY_HASH = "scrypt$AmoTXqZQPALOnLWUAV6EKQ==$6Bo4f7kR9Kg3cLGwYEkjXEwHD3GtDfwBjAvxpneR8FE="
# No handle is longer (people.valid_handle): a longer one is no one's, and is never looked up or kept.
MAX_HANDLE = 64
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
        # The same work as a real check (Auth.verify uses a dummy hash for this).
        hashlib.scrypt(password.encode(), salt=b"0" * 16, dklen=32, **_SCRYPT)
        return False
    _, salt_b64, digest_b64 = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """Sign-in, tokens, and the sign-in limits."""

    def __init__(self, store: Store, clock: Clock, settings: Settings, hub: Hub, people: People) -> None:
        self.store = store
        self.clock = clock
        self.hub = hub
        self.people = people
        self.token_ttl_us = int(settings.token_ttl * 1_000_000)
        s = settings
        self._cache: dict[str, tuple[int, float]] = {}
        keys = s.login_tracked_keys
        # Sign-in attempts per (account, address), per account, per address (see login()).
        self.login_pair = Window(s.login_rate, 60.0, max_keys=keys)
        self.login_account = Window(s.login_rate_account, 60.0, max_keys=keys)
        self.login_address = Window(s.login_rate_address, 60.0, max_keys=keys)
        # (account, address) pairs that signed in: the account-wide limit does not apply to them.
        self.known = Recent(keys)
        self._hasher = ThreadPoolExecutor(max_workers=max(1, s.hash_workers), thread_name_prefix="huddle-hash")

    def issue(self, tx: WriteTx, user_pk: int) -> str:
        """Create a token for a user inside a write; returns the token (stored only hashed)."""
        token = secrets.token_urlsafe(32)
        tx.insert_token(user_pk, token_hash(token), self.clock.now())
        return token

    def issue_for(self, handle: str) -> str:
        """A new token for the user with this handle, without a sign-in (the command line, the demo)."""

        def run(tx: WriteTx) -> str:
            user = tx.get_user_by_handle(handle)
            if user is None:
                raise NotFound("UserNotFound", f"no user {handle!r}")
            return self.issue(tx, user.pk)

        return self.store.write_sync(run)

    # ---- passwords, off the event loop ------------------------------------------------
    async def hash(self, password: str) -> str:
        """hash_password on the hashing threads (scrypt takes ~50 ms of CPU; the loop never runs it)."""
        return await asyncio.get_running_loop().run_in_executor(self._hasher, hash_password, password)

    async def verify(self, password: str, stored: str | None) -> bool:
        """verify_password on the hashing threads; no stored hash is checked against a dummy one,
        so an unknown user (or one without a password) takes as long as a wrong password."""
        return await asyncio.get_running_loop().run_in_executor(self._hasher, self._verify, password, stored)

    @staticmethod
    def _verify(password: str, stored: str | None) -> bool:
        if stored and stored.startswith("scrypt$"):
            return verify_password(password, stored)
        verify_password(password, _DUMMY_HASH)
        return False

    def close(self) -> None:
        """Stop the hashing threads."""
        self._hasher.shutdown(wait=False, cancel_futures=True)

    # ---- sign-in --------------------------------------------------------------------
    def _count_login(self, handle: str, address: str) -> list[tuple[Window, str]]:
        """Check every limit an attempt falls under, then count it in each: no await in between,
        so a concurrent burst cannot slip past the check; and all before any hashing.

        Limits: per (account, address) `login_rate`; per address `login_rate_address`, whatever
        the account (password spraying); per account `login_rate_account`, looser, whatever the
        address, except from addresses that signed in to that account before. One address can
        thus lock an account out only for itself; a handle too long to be anyone's counts
        against its address alone and is never kept.
        """
        addr = address_key(address)
        counted = [(self.login_address, addr)]
        if len(handle) <= MAX_HANDLE:
            pair = f"{handle}\0{addr}"
            counted.append((self.login_pair, pair))
            if pair not in self.known:
                counted.append((self.login_account, handle))
        wait = max(window.retry_after(key) for window, key in counted)
        if wait:
            raise RateLimited("RateLimited", "too many failed sign-ins; wait and try again", retry_after=wait)
        for window, key in counted:
            window.hit(key)
        return counted

    async def login(self, handle: str, password: str, address: str) -> tuple[str, User]:
        """Check a password; returns a new token and the user. An attempt is counted before the
        hash is computed; a successful one is taken back."""
        counted = self._count_login(handle, address)
        if len(handle) > MAX_HANDLE:
            raise Unauthorized("InvalidCredentials", "wrong user or password")
        user, stored = await self.store.read(
            lambda repo: (u := repo.get_user_by_handle(handle), repo.password_hash(u.pk) if u else None)
        )
        if not await self.verify(password, stored if user is not None else None) or user is None:
            raise Unauthorized("InvalidCredentials", "wrong user or password")
        for window, key in counted:
            window.unhit(key)
        self.known.add(f"{handle}\0{address_key(address)}")

        def run(tx: WriteTx) -> str:
            token = self.issue(tx, user.pk)
            self.people.touch(tx, user.pk, self.clock.now())
            return token

        return await self.store.write(run), user

    async def authenticate(self, token: str) -> int:
        """The pk of the user a token belongs to, or Unauthorized."""
        digest = token_hash(token)
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached[1] < _CACHE_SECONDS:
            return cached[0]
        found = await self.store.read(lambda repo: repo.get_token(digest))
        now = self.clock.now()
        if found is None or found[2] is not None:
            raise Unauthorized("Unauthorized", "this token is not valid; sign in again")
        user_pk, last_used, _ = found
        if now - last_used > self.token_ttl_us:
            raise Unauthorized("Unauthorized", "this token expired; sign in again")
        if now - last_used > _TOUCH_EVERY_US:
            await self.store.write(lambda tx: tx.touch_token(digest, now))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[digest] = (user_pk, time.monotonic())
        return user_pk

    async def logout(self, token: str) -> None:
        """Revoke a token, and close the event streams opened with it."""
        digest = token_hash(token)
        user_pk = await self.authenticate(token)
        self._cache.pop(digest, None)

        def run(tx: WriteTx) -> None:
            now = self.clock.now()
            tx.revoke_token(digest, now)
            self.people.touch(tx, user_pk, now)

        await self.store.write(run)
        self.hub.close_tokens({digest})

    async def end_revoked_streams(self) -> None:
        """Close the streams whose token was revoked (by any process: `huddle-server user passwd`
        writes to the same database) or expired since they opened. Run every tick."""
        open_with = {sub.token for sub in self.hub.subs if sub.token is not None}
        if not open_with:
            return
        used_since = self.clock.now() - self.token_ttl_us
        live = await self.store.read(lambda repo: repo.live_tokens(open_with, used_since))
        dead = open_with - live
        if dead:
            for digest in dead:
                self._cache.pop(digest, None)
            self.hub.close_tokens(dead)

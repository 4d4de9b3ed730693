"""Sliding-window rate limits in bounded memory."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict, deque

from server.domain.errors import RateLimited


def digest(key: str) -> bytes:
    """What a limiter keeps of a key: 16 bytes, whatever the key's length."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def address_key(address: str) -> str:
    """A client address as one limit counts it: IPv6 by its /64 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Window:
    """Counts hits per key within a sliding window of `seconds`, `limit` hits allowed (0 = off).

    Memory is bounded whatever the keys: a key is kept as a 16-byte digest, never as given (a
    900 KB handle costs 16 bytes); a key keeps at most `limit` hit times (whether `limit` of
    them fall within the window is all that matters); keys are ordered by their newest hit, so
    those that left the window are swept from the front as hits come in; past `max_keys` the
    key hit least recently is forgotten (it loses its count, nothing else).
    """

    def __init__(self, limit: int, seconds: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self._hits: OrderedDict[bytes, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def retry_after(self, key: str) -> int:
        """Seconds until the key may act again; 0 when it may now."""
        if self.limit <= 0:
            return 0
        hits = self._hits.get(digest(key))
        now = time.monotonic()
        if not hits or len(hits) < self.limit or hits[0] <= now - self.seconds:
            return 0
        return max(1, int(hits[0] + self.seconds - now) + 1)

    def hit(self, key: str) -> None:
        """Record one hit."""
        if self.limit <= 0:
            return
        now = time.monotonic()
        self.sweep(now)
        k = digest(key)
        hits = self._hits.get(k)
        if hits is None:
            while self.max_keys and len(self._hits) >= self.max_keys:
                self._hits.popitem(last=False)
            hits = self._hits[k] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(k)
        hits.append(now)

    def unhit(self, key: str) -> None:
        """Take back the newest hit of a key (an attempt that turned out not to count)."""
        k = digest(key)
        hits = self._hits.get(k)
        if hits:
            hits.pop()
            if not hits:
                del self._hits[k]

    def sweep(self, now: float | None = None) -> None:
        """Forget the keys whose newest hit has left the window (they are at the front)."""
        cutoff = (time.monotonic() if now is None else now) - self.seconds
        while self._hits:
            oldest = next(iter(self._hits.values()))
            if oldest and oldest[-1] > cutoff:
                return
            self._hits.popitem(last=False)

    def check(self, key: str, message: str) -> None:
        """Raise RateLimited when the key is over its limit."""
        wait = self.retry_after(key)
        if wait:
            raise RateLimited("RateLimited", message, retry_after=wait)


class Recent:
    """A bounded set of keys seen lately (digests, the least recently added forgotten first)."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[bytes, None] = OrderedDict()

    def add(self, key: str) -> None:
        """Remember a key (again)."""
        k = digest(key)
        self._keys[k] = None
        self._keys.move_to_end(k)
        while self.max_keys and len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and digest(key) in self._keys


class SendLimit:
    """The send rate: messages per user per minute, every dialect's sends counted together (0 = off)."""

    def __init__(self, per_minute: int, *, max_keys: int = 100_000) -> None:
        self.window = Window(per_minute, 60.0, max_keys=max_keys)

    def count(self, user_pk: int) -> None:
        """Refuse a send over the rate; count it otherwise."""
        key = str(user_pk)
        self.window.check(key, "sending too fast; slow down")
        self.window.hit(key)

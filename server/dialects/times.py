"""Times on the wire: each dialect's format of microseconds since the epoch, and parsing what clients send."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_dt(us: int) -> datetime:
    """Microseconds since the epoch to an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


def from_dt(dt: datetime) -> int:
    """An aware datetime to microseconds since the epoch."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=1024)
def _second(second: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a second since the epoch (strftime's %Y drops a small year's
    zeros). Remembered: a burst of sends, or a snapshot's rows, fall in few seconds (bench W4)."""
    dt = EPOCH + timedelta(seconds=second)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


@overload
def v2(us: int) -> str: ...
@overload
def v2(us: None) -> None: ...
@overload
def v2(us: int | None) -> str | None: ...
def v2(us: int | None) -> str | None:
    """`2024-03-15T09:14:22Z` (v2: no fraction)."""
    return None if us is None else f"{_second(us // 1_000_000)}Z"


@overload
def precise(us: int) -> str: ...
@overload
def precise(us: None) -> None: ...
@overload
def precise(us: int | None) -> str | None: ...
def precise(us: int | None) -> str | None:
    """`2024-09-27T23:19:10.208147Z` (pilcrow, boot and events)."""
    return None if us is None else f"{_second(us // 1_000_000)}.{us % 1_000_000:06d}Z"


@overload
def offset(us: int) -> str: ...
@overload
def offset(us: None) -> None: ...
@overload
def offset(us: int | None) -> str | None: ...
def offset(us: int | None) -> str | None:
    """`2022-04-19T16:30:29+00:00` (Huddle presence)."""
    return None if us is None else f"{_second(us // 1_000_000)}+00:00"


@overload
def plain(us: int) -> str: ...
@overload
def plain(us: None) -> None: ...
@overload
def plain(us: int | None) -> str | None: ...
def plain(us: int | None) -> str | None:
    """`2015-06-15T10:04:33` (Convos: UTC, no offset)."""
    return None if us is None else _second(us // 1_000_000)


def parse_rfc3339(text: str) -> int:
    """An RFC 3339 time with an offset to microseconds; ValueError when it is not one."""
    if not isinstance(text, str) or not _RFC3339.match(text.strip()):
        raise ValueError(f"not an RFC 3339 time with an offset: {text!r}")
    value = text.strip().replace("z", "Z").replace("t", "T")
    # Python accepts at most 6 fraction digits: cut longer fractions.
    match = re.match(r"^(.*?\.\d{6})\d+(.*)$", value)
    if match:
        value = match.group(1) + match.group(2)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.utcoffset() is None:
        raise ValueError(f"time without an offset: {text!r}")
    try:
        utc = dt.astimezone(UTC)  # year 1 at +01:00 is year 0 in UTC: out of range
    except OverflowError:
        raise ValueError(f"time out of range: {text!r}") from None
    if not (1 <= utc.year <= 9998):
        raise ValueError(f"time out of range: {text!r}")
    return from_dt(dt)


def parse_date_or_time(text: str) -> int:
    """A date (`2024-03-15`, midnight UTC) or an RFC 3339 time."""
    if isinstance(text, str) and _DATE.match(text.strip()):
        day = date.fromisoformat(text.strip())
        return from_dt(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return parse_rfc3339(text)

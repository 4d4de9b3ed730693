"""The dialects' time formats against datetime's own ISO 8601, across the whole range.

timefmt formats the date and time of a whole second once and remembers it (bench W4), and
splits microseconds into seconds and a fraction itself: before 1970 that split is where an
off-by-one second would hide.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from server.dialects import times as timefmt

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EDGES = [
    0,
    1,
    -1,
    999_999,
    1_000_000,
    -999_999,
    -1_000_000,
    -1_000_001,
    1_711_000_000_123_456,
    (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1),
    (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1),
]


def iso(us: int) -> str:
    """datetime's own `YYYY-MM-DDTHH:MM:SS.ffffff` for microseconds since the epoch."""
    return (EPOCH + timedelta(microseconds=us)).replace(tzinfo=None).isoformat(timespec="microseconds")


def test_every_format_agrees_with_isoformat() -> None:
    for us in EDGES + random.Random(7).sample(range(EDGES[-2], EDGES[-1]), 5_000):
        whole, fraction = iso(us).split(".")
        got = [timefmt.precise(us), timefmt.v2(us), timefmt.offset(us), timefmt.plain(us)]
        assert got == [f"{whole}.{fraction}Z", f"{whole}Z", f"{whole}+00:00", whole], us


def test_no_time_is_none_in_every_format() -> None:
    assert [timefmt.precise(None), timefmt.v2(None), timefmt.offset(None), timefmt.plain(None)] == [None] * 4


def test_a_time_past_year_9999_is_refused_not_wrapped() -> None:
    with pytest.raises(OverflowError):
        timefmt.precise(EDGES[-1] + 1)

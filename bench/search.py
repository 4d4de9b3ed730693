"""W8: search latency over many messages (`GET /api/v2/search`), for a few kinds of query.

The searcher sees five channels and their DMs with nine people; about 40 % of the messages are other
people's DMs, which the search must leave out. Bodies are 6-16 words drawn from a vocabulary of
5,000 made-up words with Zipf-like frequencies (a few words are in most messages, most words in
a handful), so the queries range from a word in a few dozen messages to one in most of them.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import start_huddle
from bench.workloads import TIMEOUT, ms
from server.dialects.events import render
from server.domain.core import Domain
from server.settings import Settings
from server.store.base import WriteTx
from server.store.sqlite import SqliteStore

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "do", "fi", "gu", "ha", "jo"]
VOCABULARY = 5000


def words() -> list[str]:
    """The made-up vocabulary, most frequent first."""
    rng = random.Random(8)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def fill(db: Path, messages: int) -> None:
    """`messages` messages: channels, the searcher's DMs, and DMs the searcher may not see."""
    vocab = words()
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    rng = random.Random(20)
    store = SqliteStore(db, synchronous="OFF")
    domain = Domain(store, Settings(db=db), render)
    users = store.read_sync(lambda r: sorted(r.list_users(), key=lambda u: u.handle))
    channels = store.read_sync(lambda r: [c.pk for c in r.list_channels()])
    me, mates, others = users[0], users[1:10], users[10:]

    def dms(tx: WriteTx) -> list[int]:
        pairs = [(me, m) for m in mates] + list(itertools.pairwise(others))
        return [domain.messages.dm(tx, a.pk, b.pk, 0).pk for a, b in pairs]

    dm_pks = store.write_sync(dms)
    mine, theirs = dm_pks[: len(mates)], dm_pks[len(mates) :]
    places = [(c, None) for c in channels] * 4 + [(c, users[1].pk) for c in mine] + [(c, users[11].pk) for c in theirs]

    def chunk(start: int, count: int) -> None:
        def run(tx: WriteTx) -> None:
            for i in range(start, start + count):
                conv, recipient = places[i % len(places)]
                body = " ".join(rng.choices(vocab, weights, k=rng.randint(6, 16)))
                tx.insert_message(
                    public_id=f"msg_{i:016x}",
                    conversation_pk=conv,
                    sender_pk=users[i % len(users)].pk,
                    recipient_pk=recipient,
                    body=body,
                    created_at=1_700_000_000_000_000 + i * 1_000_000,
                    deleted=False,
                )

        store.write_sync(run)

    for start in range(0, messages, 5000):
        chunk(start, min(5000, messages - start))
    store.close()


def queries() -> dict[str, str]:
    """The kinds of query timed: by how many messages they match."""
    vocab = words()
    return {
        "common": vocab[0],  # in most messages
        "medium": vocab[60],  # in a few percent
        "rare": vocab[3000],  # in a few dozen
        "two_words": f"{vocab[5]} {vocab[40]}",
        "prefix": vocab[1][:3] + "*",
        "phrase": f'"{vocab[0]} {vocab[1]}"',
    }


def index_size(db: Path) -> dict[str, Any]:
    """The search index's pages, and the whole database, in MiB."""
    conn = sqlite3.connect(db)
    try:
        index = conn.execute("SELECT sum(length(block)) FROM messages_fts_data").fetchone()[0] or 0
        pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return {"index_mib": round(index / 2**20, 1), "database_mib": round(pages / 2**20, 1)}


async def w8(root: Path, messages: int, rounds: int) -> dict[str, Any]:
    """W8: GET /api/v2/search?q=…&limit=30 over `messages` messages; p50/p99 for each kind of query."""
    t0 = time.perf_counter()
    server = start_huddle(root / "w8", users=30, channels=5, then=lambda db: fill(db, messages))
    seeded = round(time.perf_counter() - t0, 1)
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens['u0000']}"
            for kind, q in queries().items():
                times = []
                total = 0
                for _ in range(rounds + 1):  # the first is a warm-up, not counted
                    t = time.perf_counter()
                    r = await http.get("/api/v2/search", params={"q": q, "limit": 30})
                    times.append(time.perf_counter() - t)
                    r.raise_for_status()
                    total = r.json()["total"]
                out[kind] = {**ms(times[1:]), "total": total}
    finally:
        server.stop()
    return {"queries": out, "size": {"messages": messages, **index_size(root / "w8" / "bench.db"), "seed_s": seeded}}

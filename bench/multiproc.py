"""W7: several server processes on one PostgreSQL database, beside SQLite's one process, in one run.

- delivery: one sender's DMs one after another, latency until the recipient's WebSocket has each; the
  sender on the first process, the recipient on the last (so with 3 processes every DM crosses from one
  process to another through the database and its LISTEN/NOTIFY doorbell).
- W4: C concurrent senders for T seconds (wrk, as W4), spread over the processes; acknowledged sends a
  second, all processes together.

Each figure runs on a fresh database: `sqlite_1` (a file, one process), `pg_1` and `pg_3` (a throwaway
PostgreSQL cluster from Debian's binaries, scripts/pgcluster.py; fsync off there, as in the tests).
Without PostgreSQL the workload says so and measures nothing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.servers import Running, start_nodes
from bench.workloads import TIMEOUT, Listener, _timed, huddle_marker, huddle_ws
from scripts.pgcluster import Cluster, Missing
from server.store import schema
from server.store.open import open_store


async def w7(root: Path, n: int, senders: int, seconds: float) -> dict[str, Any]:
    """W7: delivery p50/p99 and W4 acked/s, SQLite 1 process beside PostgreSQL 1 and 3 processes."""
    try:
        cluster = Cluster()
    except Missing as exc:
        return {"skipped": str(exc)}
    try:
        setups: dict[str, tuple[Path | str, int]] = {
            "sqlite_1": (root / "w7-sqlite" / "bench.db", 1),
            "pg_1": (cluster.new_database(), 1),
            "pg_3": (cluster.new_database(), 3),
        }
        delivery = {name: await _delivery(db, count, n) for name, (db, count) in setups.items()}
        setups = {
            "sqlite_1": (root / "w7-sqlite-w4" / "bench.db", 1),
            "pg_1": (cluster.new_database(), 1),
            "pg_3": (cluster.new_database(), 3),
        }
        w4 = {name: await _w4(db, count, senders, seconds) for name, (db, count) in setups.items()}
    finally:
        cluster.stop()
    return {"delivery": delivery, f"W4_{senders}": w4}


def _prepare(db: Path | str) -> None:
    if isinstance(db, Path):
        db.parent.mkdir(parents=True, exist_ok=True)


def _stop(nodes: list[Running]) -> None:
    for node in nodes:
        node.stop()


async def _delivery(db: Path | str, count: int, n: int) -> dict[str, Any]:
    _prepare(db)
    nodes = start_nodes(db, count, users=2)
    try:
        sender, receiver = nodes[0], nodes[-1]
        async with httpx.AsyncClient(base_url=sender.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {sender.tokens['u0000']}"
            listener = Listener(await huddle_ws(receiver, "u0001"), huddle_marker)
            for i in range(3):  # warm-up: every process has connected and heard the doorbell
                await http.post("/api/v2/messages", json={"to": "u0001", "body": f"warm-up-{i}"})
                await listener.wait(f"warm-up-{i}")
            out = await _timed(
                lambda body: http.post("/api/v2/messages", json={"to": "u0001", "body": body}), listener, n, "w7"
            )
            await listener.close()
    finally:
        _stop(nodes)
    return out


async def _w4(db: Path | str, count: int, senders: int, seconds: float) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is not installed"}
    _prepare(db)
    nodes = start_nodes(db, count, users=2 * senders)
    try:
        handles = sorted(nodes[0].tokens)
        pairs = [(nodes[0].tokens[handles[2 * i]], handles[2 * i + 1]) for i in range(senders)]
        # Sender i on process i % count: 8 senders on 3 processes are 3, 3 and 2.
        runs = [_wrk(wrk, node.url, pairs[k::count], seconds) for k, node in enumerate(nodes) if pairs[k::count]]
        results = await asyncio.gather(*runs)
    finally:
        _stop(nodes)
    acked = sum(r["acked"] for r in results)
    duration = max(r["duration_s"] for r in results)
    return {
        "acked_per_s": round(acked / duration, 1),
        "acked": acked,
        "errors": sum(r["errors"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "stored": _stored(db),
    }


async def _wrk(wrk: str, url: str, pairs: list[tuple[str, str]], seconds: float) -> dict[str, Any]:
    script = Path(__file__).with_name("send.lua")
    args = [x for pair in pairs for x in pair]
    cmd = [wrk, "-t1", f"-c{len(pairs)}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script), url]
    proc = await asyncio.create_subprocess_exec(*cmd, "--", *args, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    stats = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "acked": stats["requests"] - stats["status"],
        "errors": sum(stats[k] for k in ("connect", "read", "write", "status", "timeout")),
        "duration_s": stats["duration_us"] / 1e6,
        "p50_ms": round(stats["p50_us"] / 1000, 2),
        "p99_ms": round(stats["p99_us"] / 1000, 2),
    }


def _stored(db: Path | str) -> int:
    """Messages in the database: every acknowledged one (a few more may have landed as the run ended)."""
    store = open_store(db, synchronous="NORMAL")
    try:
        return store.read_sync(
            lambda r: int(r.conn.execute(select(func.count()).select_from(schema.messages)).scalar_one())
        )
    finally:
        store.close()

"""Server workloads W1-W6, each against a fresh real server process (and the relay floor)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.servers import Running, start_huddle, start_relay

TIMEOUT = 30.0


def pct(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of samples, nearest rank."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms(samples: list[float]) -> dict[str, float]:
    """p50/p99 in milliseconds."""
    return {"p50_ms": round(pct(samples, 0.5) * 1000, 3), "p99_ms": round(pct(samples, 0.99) * 1000, 3)}


class Listener:
    """Reads a WebSocket and notes when each awaited marker arrives."""

    def __init__(self, conn: ClientConnection, key: Callable[[dict[str, Any]], str | None]) -> None:
        self.conn = conn
        self.key = key
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Event] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.conn:
                now = time.perf_counter()
                frame = json.loads(raw)
                marker = self.key(frame)
                if marker is not None:
                    self.arrived.setdefault(marker, now)
                    event = self.waiters.get(marker)
                    if event is not None:
                        event.set()

    async def wait(self, marker: str) -> float:
        """When the marker arrived (bounded wait)."""
        if marker not in self.arrived:
            event = self.waiters.setdefault(marker, asyncio.Event())
            await asyncio.wait_for(event.wait(), TIMEOUT)
        return self.arrived[marker]

    async def close(self) -> None:
        """Stop reading."""
        self.task.cancel()
        with contextlib.suppress(Exception):
            await self.conn.close()


def huddle_marker(frame: dict[str, Any]) -> str | None:
    """The body of a message sent, or `presence:<user>:<status>`."""
    data = frame.get("data") or {}
    if data.get("type") == "message" and data.get("event") == "sent":
        return str(data.get("body"))
    if data.get("type") == "presence":
        return f"presence:{data.get('user')}:{data.get('status')}"
    return None


def relay_marker(frame: Any) -> str | None:
    """The relay forwards the body as sent: we send {"body": ...}."""
    return str(frame.get("body")) if isinstance(frame, dict) else None


async def huddle_ws(server: Running, handle: str) -> ClientConnection:
    """A subscriber on the event stream (from now on)."""
    headers = {"Authorization": f"Bearer {server.tokens[handle]}"}
    return await connect(server.ws + "/api/events", additional_headers=headers, max_queue=None)


async def relay_ws(server: Running) -> ClientConnection:
    """A subscriber on the relay."""
    return await connect(server.ws + "/events", max_queue=None)


async def _timed(send: Callable[[str], Awaitable[Any]], listener: Listener, n: int, tag: str) -> dict[str, Any]:
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        marker = f"{tag}-{i}"
        t0 = time.perf_counter()
        await send(marker)
        latencies.append(await listener.wait(marker) - t0)
    elapsed = time.perf_counter() - start
    return {**ms(latencies), "per_s": round(n / elapsed, 1), "n": n}


async def w1(root: Path, n: int) -> dict[str, Any]:
    """W1: A sends N DMs one after another; latency until B's WebSocket has each."""
    server = start_huddle(root / "w1", users=2)
    relay = start_relay()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens['u0000']}"
            listener = Listener(await huddle_ws(server, "u0001"), huddle_marker)
            await http.post("/api/v2/messages", json={"to": "u0001", "body": "warm-up"})
            await listener.wait("warm-up")
            ours = await _timed(
                lambda body: http.post("/api/v2/messages", json={"to": "u0001", "body": body}), listener, n, "w1"
            )
            await listener.close()
        async with httpx.AsyncClient(base_url=relay.url, timeout=TIMEOUT) as http:
            listener = Listener(await relay_ws(relay), relay_marker)
            floor = await _timed(lambda body: http.post("/send", json={"body": body}), listener, n, "w1")
            await listener.close()
    finally:
        server.stop()
        relay.stop()
    return {"huddle": ours, "floor": floor, "ratio_p99": round(ours["p99_ms"] / floor["p99_ms"], 2)}


async def _fanout(
    subscribe: Callable[[], Awaitable[ClientConnection]],
    marker: Callable[[dict[str, Any]], str | None],
    send: Callable[[str], Awaitable[Any]],
    k: int,
    rounds: int,
    tag: str,
) -> dict[str, Any]:
    listeners = []
    for _ in range(k):
        listeners.append(Listener(await subscribe(), marker))

    async def one_round(body: str) -> float:
        t0 = time.perf_counter()
        await send(body)
        arrivals = await asyncio.gather(*(listener.wait(body) for listener in listeners))
        return max(arrivals) - t0

    try:
        await one_round(f"{tag}-warm-up")  # untimed, as W1's first message
        # This process holds K client sockets: its own collector, walking them every few rounds,
        # added up to 150 ms to a round (the same with the server's collector off). Paused while
        # timing, for the server and the floor alike.
        gc.collect()
        gc.disable()
        try:
            times = [await one_round(f"{tag}-{r}") for r in range(rounds)]
        finally:
            gc.enable()
        return {**ms(times), "k": k, "rounds": rounds}
    finally:
        await asyncio.gather(*(listener.close() for listener in listeners))


async def w2(root: Path, ks: list[int], rounds: int) -> dict[str, Any]:
    """W2: one channel message to K subscribers; time until all have it."""
    return {str(k): await _w2_one(root, k, rounds) for k in ks}


async def _w2_one(root: Path, k: int, rounds: int) -> dict[str, Any]:
    server = start_huddle(root / f"w2-{k}", users=k + 1)
    relay = start_relay()
    try:
        channel = server.channels[0]
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens['u0000']}"
            handles = iter(sorted(server.tokens)[1:])
            ours = await _fanout(
                lambda: huddle_ws(server, next(handles)),
                huddle_marker,
                lambda body: http.post(f"/api/channels/{channel}", json={"body": body}),
                k,
                rounds,
                "w2",
            )
        async with httpx.AsyncClient(base_url=relay.url, timeout=TIMEOUT) as http:
            floor = await _fanout(
                lambda: relay_ws(relay),
                relay_marker,
                lambda body: http.post("/send", json={"body": body}),
                k,
                rounds,
                "w2",
            )
    finally:
        server.stop()
        relay.stop()
    return {"huddle": ours, "floor": floor, "ratio_p99": round(ours["p99_ms"] / floor["p99_ms"], 2)}


async def w3(root: Path, n: int) -> dict[str, Any]:
    """W3: A's status change (dnd on/off) seen by B."""
    server = start_huddle(root / "w3", users=2)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens['u0000']}"
            listener = Listener(await huddle_ws(server, "u0001"), huddle_marker)
            latencies = []
            for i in range(n):
                status = "dnd" if i % 2 == 0 else None
                marker = f"presence:u0000:{status or 'active'}"
                listener.arrived.pop(marker, None)  # the event may come before the PATCH's answer
                listener.waiters.pop(marker, None)
                t0 = time.perf_counter()
                await http.patch("/api/v2/users/u0000", json={"status": status})
                latencies.append(await listener.wait(marker) - t0)
            await listener.close()
    finally:
        server.stop()
    return {"huddle": {**ms(latencies), "n": n}}


async def w4(root: Path, concurrency: list[int], seconds: float) -> dict[str, Any]:
    """W4: C concurrent senders for T seconds; acknowledged messages/s and errors."""
    return {str(c): await _w4_one(root, c, seconds) for c in concurrency}


async def _w4_one(root: Path, c: int, seconds: float) -> dict[str, Any]:
    server = start_huddle(root / f"w4-{c}", users=2 * c)
    try:
        wrk = shutil.which("wrk")
        if wrk is not None:
            out = {"generator": "wrk", **await _w4_wrk(wrk, server, c, seconds)}
        else:
            out = {"generator": "httpx", **await _w4_httpx(server, c, seconds)}
    finally:
        server.stop()
    # Every acknowledged message is in the database (a few more may have landed as the run ended).
    with contextlib.closing(sqlite3.connect(root / f"w4-{c}" / "bench.db")) as db:
        out["stored"] = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    return out


async def _w4_wrk(wrk: str, server: Running, c: int, seconds: float) -> dict[str, Any]:
    """wrk drives the senders (one httpx process tops out near 660 requests/s, below the server)."""
    handles = sorted(server.tokens)
    pairs = [x for i in range(c) for x in (server.tokens[handles[2 * i]], handles[2 * i + 1])]
    script = Path(__file__).with_name("send.lua")
    cmd = [wrk, "-t1", f"-c{c}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script), server.url]
    proc = await asyncio.create_subprocess_exec(*cmd, "--", *pairs, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
    stats = json.loads(out.decode().strip().splitlines()[-1])
    errors = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    acked = stats["requests"] - stats["status"]
    return {
        "acked_per_s": round(acked / (stats["duration_us"] / 1e6), 1),
        "acked": acked,
        "errors": errors,
        "p50_ms": round(stats["p50_us"] / 1000, 2),
        "p99_ms": round(stats["p99_us"] / 1000, 2),
    }


async def _w4_httpx(server: Running, c: int, seconds: float) -> dict[str, Any]:
    """The fallback generator when wrk is not installed: c httpx senders in this process."""
    handles = sorted(server.tokens)
    counts = {"acked": 0, "errors": 0}
    deadline = time.perf_counter() + seconds

    async def sender(i: int) -> None:
        me, to = handles[2 * i], handles[2 * i + 1]
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens[me]}"
            n = 0
            while time.perf_counter() < deadline:
                r = await http.post("/api/v2/messages", json={"to": to, "body": f"{me}-{n}"})
                n += 1
                counts["acked" if r.status_code == 200 else "errors"] += 1

    start = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(c)))
    elapsed = time.perf_counter() - start
    return {"acked_per_s": round(counts["acked"] / elapsed, 1), **counts}


async def w5(root: Path, users: int, channels: int, messages: int, rounds: int) -> dict[str, Any]:
    """W5: GET /api/boot for a user in a team of `users`, with `channels` and `messages`."""
    server = start_huddle(root / "w5", users=users, channels=channels, messages=messages)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {server.tokens['u0000']}"
            times = []
            size = 0
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = await http.get("/api/boot")
                times.append(time.perf_counter() - t0)
                size = len(r.content)
    finally:
        server.stop()
    return {"huddle": {**ms(times), "bytes": size, "users": users, "channels": channels, "messages": messages}}


async def _idle(
    running: Running, subscribe: Callable[[], Awaitable[ClientConnection]], n: int, seconds: float
) -> dict[str, Any]:
    before = running.rss_kib()
    conns = [await subscribe() for _ in range(n)]
    frames = [0] * n

    async def drain(i: int, conn: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for _ in conn:
                frames[i] += 1

    readers = [asyncio.create_task(drain(i, c)) for i, c in enumerate(conns)]
    await asyncio.sleep(seconds)
    after = running.rss_kib()
    alive = sum(1 for c in conns if c.state.name == "OPEN")
    for r in readers:
        r.cancel()
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return {
        "connections": n,
        "held_s": seconds,
        "kib_per_connection": round((after - before) / n, 1),
        "dropped": n - alive,
        "heartbeats_per_connection": round(sum(frames) / n, 1),
    }


async def w6(root: Path, n: int, seconds: float) -> dict[str, Any]:
    """W6: n idle WebSocket subscribers with heartbeats; memory per connection, none dropped."""
    server = start_huddle(root / "w6", users=n, extra=["--heartbeat", "10"])
    relay = start_relay()
    try:
        handles = iter(sorted(server.tokens))
        ours = await _idle(server, lambda: huddle_ws(server, next(handles)), n, seconds)
        floor = await _idle(relay, lambda: relay_ws(relay), n, seconds)
    finally:
        server.stop()
        relay.stop()
    ratio = round(ours["kib_per_connection"] / floor["kib_per_connection"], 2) if floor["kib_per_connection"] else None
    return {"huddle": ours, "floor": floor, "ratio": ratio}

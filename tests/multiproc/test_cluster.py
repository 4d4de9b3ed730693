"""Three `huddle-server serve` processes on one PostgreSQL database: events cross processes in commit
order with nothing skipped or doubled, timers run once, idempotency keys hold across processes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import load_team
from tests.support.nodes import Node, Observer, log_of, pks, start_nodes, stored_messages, tokens

pytestmark = pytest.mark.slow

HANDLES = ("alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin")
RING_TIMEOUT = 1.0
# Eight senders (sender, recipient), each on node i % 3.
PAIRS = [
    ("alex.kim", "jin.park"),
    ("jin.park", "maya.chen"),
    ("maya.chen", "sam.ortiz"),
    ("sam.ortiz", "alex.kim"),
    ("hr.admin", "alex.kim"),
    ("alex.kim", "maya.chen"),
    ("jin.park", "sam.ortiz"),
    ("maya.chen", "hr.admin"),
]
FLAGS = ("--send-rate", "0", "--ring-timeout", str(RING_TIMEOUT), "--max-streams-per-user", "0")


class Cluster:
    """The database, its nodes and a token per user."""

    def __init__(self, db: str, nodes: list[Node]) -> None:
        self.db = db
        self.nodes = nodes
        self.urls = [n.url for n in nodes]
        self.tokens = tokens(db, HANDLES)

    def auth(self, handle: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[handle]}"}


@pytest.fixture(scope="module")
def cluster(pg_cluster: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    db = pg_cluster.new_database()  # type: ignore[attr-defined]
    load_team(db)
    nodes = start_nodes(db, tmp_path_factory.mktemp("nodes"), 3, *FLAGS)
    try:
        yield Cluster(db, nodes)
    finally:
        for node in nodes:
            node.stop()


def viewer_ids(db: str, handle: str) -> list[int]:
    """The ids of the events in the log that reach this user."""
    pk = pks(db)[handle]
    return [e.id for e in log_of(db) if e.for_viewer(pk) is not None]


async def send(client: httpx.AsyncClient, to: str, body: str, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post("/api/v2/messages", json={"to": to, "body": body}, headers=headers)


async def test_a_dm_sent_on_one_process_reaches_sse_and_websocket_on_the_others(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.urls[0], headers=cluster.auth("alex.kim")) as alex:
        point = (await alex.get("/api/boot")).json()["resume_point"]
    ws_url = cluster.urls[1].replace("http", "ws") + f"/api/events?resume_point={point}"
    sse = Observer([cluster.urls[0]], cluster.tokens["alex.kim"], last=point)
    task = asyncio.create_task(sse.run())
    async with connect(ws_url, additional_headers=cluster.auth("alex.kim")) as ws:
        async with httpx.AsyncClient(base_url=cluster.urls[2], headers=cluster.auth("jin.park")) as jin:
            r = await send(jin, "alex.kim", "across processes")
            assert r.status_code == 200, r.text
        sent_id = r.json()["message_id"]
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("data", {}).get("id") == sent_id:
                break
        ws_event = frame["id"]
    await sse.until(ws_event, seconds=10)
    task.cancel()
    assert [d.get("id") for d in sse.data if d["type"] == "message"] == [sent_id]
    assert ws_event in sse.ids


async def test_typing_on_one_process_reaches_the_others_once(cluster: Cluster) -> None:
    """Typing is ephemeral (never in the log): it crosses to other processes by NOTIFY, once each."""
    streams = [
        connect(url.replace("http", "ws") + "/api/events", additional_headers=cluster.auth("maya.chen"))
        for url in cluster.urls[:2]
    ]
    async with streams[0] as first, streams[1] as second:
        await asyncio.sleep(0.2)  # both subscribed before the typing goes out
        async with httpx.AsyncClient(base_url=cluster.urls[2], headers=cluster.auth("alex.kim")) as alex:
            assert (await alex.post("/api/v2/typing", json={"to": "maya.chen"})).status_code == 204
            r = await send(alex, "maya.chen", "typed")  # a stored event after it, to know when to stop
            assert r.status_code == 200, r.text
        for ws in (first, second):
            seen: list[dict[str, object]] = []
            kinds = {"typing", "message"}
            while not kinds <= {d.get("type") for d in seen}:  # both, in whichever order they come
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                seen.append(frame.get("data", frame))
            with contextlib.suppress(TimeoutError):  # and nothing twice after them
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
                    seen.append(frame.get("data", frame))
            typing = [d for d in seen if d.get("type") == "typing"]
            assert [d["user"] for d in typing] == ["alex.kim"]


async def test_eight_senders_on_three_processes_each_observer_gets_its_log_in_order(cluster: Cluster) -> None:
    observers = [Observer([url], cluster.tokens[h]) for url, h in zip(cluster.urls, HANDLES, strict=False)]
    tasks = [asyncio.create_task(o.run()) for o in observers]
    acked: list[str] = []

    async def sender(i: int, handle: str, to: str, seconds: float) -> None:
        url = cluster.urls[i % 3]
        async with httpx.AsyncClient(base_url=url, headers=cluster.auth(handle), timeout=10) as client:
            deadline = asyncio.get_running_loop().time() + seconds
            for n in itertools.count():
                if asyncio.get_running_loop().time() > deadline:
                    return
                r = await send(client, to, f"{handle} {n}")
                assert r.status_code == 200, r.text
                acked.append(r.json()["message_id"])

    await asyncio.gather(*(sender(i, h, to, 3.0) for i, (h, to) in enumerate(PAIRS)))
    stored = {public_id for public_id, _ in stored_messages(cluster.db)}
    assert set(acked) <= stored
    for observer, handle in zip(observers, HANDLES, strict=False):
        expected = viewer_ids(cluster.db, handle)
        await observer.until(expected[-1])
        assert observer.ids == expected, handle  # every event for the viewer, in order, none twice
    for task in tasks:
        task.cancel()
    print(f"\n8 senders on 3 processes for 3 s: {len(acked)} acknowledged")


async def test_fifty_ringing_calls_end_no_answer_exactly_once(cluster: Cluster, tmp_path: Path) -> None:
    extra = [f"caller{i:02d}" for i in range(11)]  # 55 pairs
    load_team(cluster.db, "".join(f'[[users]]\nhandle = "{h}"\ndisplay_name = "{h}"\n\n' for h in extra))
    auth = tokens(cluster.db, extra)
    pairs = list(itertools.combinations(extra, 2))[:50]

    async def ring(i: int, caller: str, callee: str) -> str:
        headers = {"Authorization": f"Bearer {auth[caller]}"}
        async with httpx.AsyncClient(base_url=cluster.urls[i % 3], headers=headers, timeout=10) as client:
            r = await client.post("/api/v2/calls", json={"to": callee, "type": "audio"})
            assert r.status_code == 200, r.text
            return str(r.json()["call_id"])

    calls = await asyncio.gather(*(ring(i, a, b) for i, (a, b) in enumerate(pairs)))
    ended: Counter[str] = Counter()
    deadline = asyncio.get_running_loop().time() + RING_TIMEOUT + 10
    while len(ended) < len(calls) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        ended = Counter(
            e.variants[0].data["call_id"]
            for e in log_of(cluster.db)
            if e.variants[0].data.get("type") == "call" and e.variants[0].data.get("event") == "no_answer"
        )
    await asyncio.sleep(RING_TIMEOUT + 1)  # three processes' timers have had time to end them twice
    ended = Counter(
        e.variants[0].data["call_id"]
        for e in log_of(cluster.db)
        if e.variants[0].data.get("type") == "call" and e.variants[0].data.get("event") == "no_answer"
    )
    assert ended == Counter(calls)  # every call, once


async def test_the_same_key_sent_to_two_processes_at_once_makes_one_message(cluster: Cluster) -> None:
    keys = [f"same-{i}" for i in range(200)]
    before = len(stored_messages(cluster.db))
    clients = [
        httpx.AsyncClient(base_url=url, headers=cluster.auth("sam.ortiz"), timeout=30) for url in cluster.urls[:2]
    ]
    try:
        answers = await asyncio.gather(
            *(send(client, "jin.park", f"body {key}", key) for key in keys for client in clients)
        )
    finally:
        for client in clients:
            await client.aclose()
    assert [r.status_code for r in answers] == [200] * 400
    by_key = [(answers[2 * i].json(), answers[2 * i + 1].json()) for i in range(len(keys))]
    assert all(a == b for a, b in by_key)  # identical answers
    stored = stored_messages(cluster.db)
    assert len(stored) - before == len(keys)  # one message each
    assert sorted(a["message_id"] for a, _ in by_key) == sorted(
        p for p, body in stored if body.startswith("body same-")
    )


async def test_kill_9_of_one_process_under_load_loses_and_doubles_nothing(pg_cluster: object, tmp_path: Path) -> None:
    """Senders spread over three processes; the observers all on the first, which is killed with SIGKILL
    mid-load: senders retry the same key on another process, observers resume there from their last id."""
    db = pg_cluster.new_database()  # type: ignore[attr-defined]
    load_team(db)
    nodes = start_nodes(db, tmp_path, 3, *FLAGS)
    try:
        await _kill_under_load(Cluster(db, nodes))
    finally:
        for node in nodes:
            node.stop()


async def _kill_under_load(cluster: Cluster) -> None:
    dead: set[int] = set()
    observers = [Observer(cluster.urls, cluster.tokens[h]) for h in HANDLES[:3]]  # all start on node 0
    tasks = [asyncio.create_task(o.run()) for o in observers]
    acked: dict[str, tuple[str, str]] = {}  # key -> (sender, message id)
    attempts = 0

    async def sender(i: int, handle: str, to: str, seconds: float) -> None:
        nonlocal attempts
        clients = [httpx.AsyncClient(base_url=u, headers=cluster.auth(handle), timeout=5) for u in cluster.urls]
        node = i % 3
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            for n in itertools.count():
                if asyncio.get_running_loop().time() > deadline:
                    return
                key = f"k{i}-{n}"
                for _ in range(50):
                    attempts += 1
                    try:
                        r = await send(clients[node], to, key, key)
                        if r.status_code == 200:
                            acked[key] = (handle, r.json()["message_id"])
                            break
                        assert r.status_code >= 500, r.text
                    except httpx.TransportError:
                        pass
                    node = next(j for j in itertools.chain(range(node + 1, 3), range(node + 1)) if j not in dead)
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"{key} was never acknowledged")
        finally:
            for client in clients:
                await client.aclose()

    async def killer() -> None:
        await asyncio.sleep(1.0)
        dead.add(0)
        cluster.nodes[0].kill()

    await asyncio.gather(killer(), *(sender(i, h, to, 2.5) for i, (h, to) in enumerate(PAIRS)))
    stored = stored_messages(cluster.db)
    found = Counter(body for _, body in stored)
    ids = {body: public_id for public_id, body in stored}
    assert all(found[key] == 1 and ids[key] == mid for key, (_, mid) in acked.items())  # each stored once
    assert set(found) == set(acked)  # nothing stored that was not acknowledged in the end
    for observer, handle in zip(observers, HANDLES, strict=False):
        expected = viewer_ids(cluster.db, handle)
        await observer.until(expected[-1])
        assert observer.ids == expected, handle  # across the resume: nothing lost, nothing twice
        assert observer.resumes >= 1
    for task in tasks:
        task.cancel()
    doubled = sum(len(o.ids) - len(set(o.ids)) for o in observers)
    print(
        f"\nkill -9 under load: {attempts} sends tried, {len(acked)} acknowledged, {len(found)} found stored, "
        f"resumes {[o.resumes for o in observers]}, duplicates {doubled}"
    )

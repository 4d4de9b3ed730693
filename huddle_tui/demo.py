"""`huddle demo`: the bundled server on a free localhost port, a demo team that acts on its own,
and the client signed in as Alex Kim. Everything lives in a temporary directory and goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from huddle_tui.api import tls_for

ME = "alex.kim"
# Passwords are made new for each run (`{member}`, `{admin}`): a demo server listens on a real port,
# and a fixed password would let anyone on the machine sign in, as the admin too.
TEAM = """
[[users]]
handle = "alex.kim"
display_name = "Alex Kim"
password = "{member}"
team = "infrastructure"

[[users]]
handle = "maya.chen"
display_name = "Maya Chen"
password = "{member}"
team = "infrastructure"

[[users]]
handle = "jin.park"
display_name = "Jin Park"
password = "{member}"
team = "infrastructure"

[[users]]
handle = "sam.ortiz"
display_name = "Sam Ortiz"
password = "{member}"
team = "infrastructure"

[[users]]
handle = "priya.rao"
display_name = "Priya Rao"
password = "{member}"
team = "design"

[[users]]
handle = "hr.admin"
display_name = "HR Admin"
password = "{admin}"
admin = true

[[teams]]
name = "infrastructure"
members = ["alex.kim", "maya.chen", "jin.park", "sam.ortiz"]

[[workspaces]]
name = "platform"
members = ["alex.kim", "maya.chen", "jin.park", "sam.ortiz", "priya.rao"]

[[channels]]
name = "general"

[[channels]]
name = "random"
"""
REPLIES = {
    "maya.chen": [
        "on it 👍",
        "give me five minutes",
        "haven't heard from jin either. want me to try his phone?",
        "sounds good",
        "ha, yes",
    ],
    "sam.ortiz": ["yep", "can we talk after standup?", "👀"],
    "priya.rao": ["looks great!", "I'll take a look this afternoon"],
}
log = logging.getLogger("huddle.demo")


DEPLOY_NOTES = [
    "deploy notes for today: v2.3 goes out at 16:00, the rollback plan is in the runbook",
    "@alex.kim can you watch the dashboards during the rollout? jin is out",
]


def jin_ooo(now: datetime) -> dict[str, Any]:
    """Jin's out of office: since yesterday until three days from now, back the day after."""
    end = (now + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
    start = now - timedelta(days=1)
    back = (end + timedelta(days=1)).strftime("%A").lower()
    return {
        "isActive": True,
        "startDate": start.isoformat(timespec="seconds"),
        "endDate": end.isoformat(timespec="seconds"),
        "message": f"back {back}, ping maya for infra",
    }


class ShiftedClock:
    """The wall clock, set back by `offset_us` while the demo's past is made."""

    def __init__(self) -> None:
        self.offset_us = 0

    def now(self) -> int:
        """Current time in microseconds (shifted)."""
        return time.time_ns() // 1000 + self.offset_us


class DemoServer:
    """The real server app, embedded in a thread (server.embedded), on a free 127.0.0.1 port."""

    def __init__(self, root: Path, port: int = 0, *, ring_timeout: float = 20, away_after: float = 120) -> None:
        from server.cli import main as server_main
        from server.embedded import EmbeddedServer
        from server.settings import Settings

        db = root / "huddle.db"
        team = root / "team.toml"
        self.password = secrets.token_urlsafe(16)  # the members' (they sign in with it)
        team.write_text(TEAM.format(member=self.password, admin=secrets.token_urlsafe(16)), "utf-8")
        with contextlib.redirect_stderr(open(root / "load.log", "w")):
            if server_main(["load", "--db", str(db), str(team)]) != 0:
                raise RuntimeError("could not load the demo team")
        self.settings = Settings(db=db, ring_timeout=ring_timeout, away_after=away_after, heartbeat=15)
        self.clock = ShiftedClock()
        self.server = EmbeddedServer(self.settings, clock=self.clock, port=port, log_level="critical", access_log=False)
        self.url = self.server.url

    def start(self) -> DemoServer:
        """Start and wait until it answers."""
        try:
            self.server.start(timeout=20)
        except RuntimeError:
            raise RuntimeError("the demo server did not start") from None
        return self

    def token(self, handle: str) -> str:
        """A bearer token, as `huddle-server token` makes it (no sign-in: no activity)."""
        return self.server.domain.auth.issue_for(handle)

    def seed(self) -> None:
        """The state a demo starts from, made through the API as a person would: Jin was last
        active a little over three hours ago, when he set his out of office; the notes Maya
        will point Alex to are in #general. The clock is set back for Jin's part, then runs."""
        jin = httpx.Client(base_url=self.url, timeout=10, verify=tls_for(self.url))
        self.clock.offset_us = -(3 * 3600 + 600) * 1_000_000
        try:
            signed = jin.post("/api/v2/auth/login", json={"user": "jin.park", "password": self.password})
            jin.headers["Authorization"] = f"Bearer {signed.json()['token']}"
            jin.post("/presence/create", json=jin_ooo(datetime.now(UTC)))
        finally:
            self.clock.offset_us = 0
            jin.close()
        maya = httpx.Client(base_url=self.url, timeout=10, verify=tls_for(self.url))
        signed = maya.post("/api/v2/auth/login", json={"user": "maya.chen", "password": self.password})
        maya.headers["Authorization"] = f"Bearer {signed.json()['token']}"
        general = next(c["id"] for c in maya.get("/api/boot").json()["channels"] if c["name"] == "general")
        for note in DEPLOY_NOTES:
            maya.post(f"/api/channels/{general}", json={"body": note})
        maya.close()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop(timeout=10)


class Member:
    """One simulated teammate: signs in, listens to its events, and acts."""

    def __init__(self, url: str, handle: str, stop: asyncio.Event, password: str, token: str = "") -> None:
        self.url = url
        self.password = password
        self.token = token
        self.handle = handle
        self.stop = stop
        self.http = httpx.AsyncClient(base_url=url, timeout=10, verify=tls_for(url))
        self.reactions: set[asyncio.Task[None]] = set()

    async def sign_in(self) -> None:
        """Get a token (Jin's without signing in: he is not around)."""
        if self.token:
            self.http.headers["Authorization"] = f"Bearer {self.token}"
            return
        r = await self.http.post("/api/v2/auth/login", json={"user": self.handle, "password": self.password})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """A write; failures are logged, never raised (a demo never crashes the client)."""
        try:
            return await self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            log.warning("%s: %s failed: %r", self.handle, path, exc)
            return httpx.Response(599)

    async def say(self, to: str, body: str) -> None:
        """Send a DM."""
        await self.post("/api/v2/messages", {"to": to, "body": body})

    async def events(self) -> None:
        """React to what happens to this member."""
        ws_url = self.url.replace("http", "ws") + "/api/events"
        headers = {"Authorization": self.http.headers["Authorization"]}
        while not self.stop.is_set():
            try:
                async with connect(ws_url, additional_headers=headers) as ws:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if "data" in frame:
                            task = asyncio.create_task(self.react(frame["data"]))
                            self.reactions.add(task)
                            task.add_done_callback(self.reactions.discard)
            except Exception as exc:  # reconnect after a pause
                log.info("%s: stream dropped: %r", self.handle, exc)
                await asyncio.sleep(2)

    async def react(self, event: dict[str, Any]) -> None:
        """Read and reply to DMs, answer (or ignore) calls — each member in their own way."""
        kind = (event.get("type"), event.get("event"))
        if kind == ("message", "sent") and event.get("to") == self.handle:
            await self.on_message(event)
        elif kind == ("call", "ringing") and event.get("to") == self.handle:
            await self.on_call(event)

    async def on_message(self, event: dict[str, Any]) -> None:
        """Read after a moment, then maybe reply."""
        replies = REPLIES.get(self.handle)
        if self.handle == "jin.park" or replies is None:
            return  # jin never reads
        await asyncio.sleep(random.uniform(1.5, 4))
        await self.post(f"/api/v2/messages/{event['id']}/read")
        await asyncio.sleep(random.uniform(1.5, 5))
        await self.say(event["sender"], random.choice(replies))

    async def on_call(self, event: dict[str, Any]) -> None:
        """Sam answers and hangs up later; Jin never answers; the others decline when busy."""
        if self.handle == "jin.park":
            return
        await asyncio.sleep(3)
        if self.handle == "sam.ortiz":
            await self.post(f"/api/v2/calls/{event['call_id']}/answer")
            await asyncio.sleep(12)
            await self.post(f"/api/v2/calls/{event['call_id']}/end")
        else:
            await self.post(f"/api/v2/calls/{event['call_id']}/decline")
            await self.say(event["from"], "in a meeting, will call you back")

    async def stay_active(self, every: float) -> None:
        """Activity pings, as a real client sends while its user works."""
        while not self.stop.is_set():
            await self.post("/api/v2/activity")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), every)


async def simulate(url: str, stop: asyncio.Event, password: str, tokens: dict[str, str]) -> None:
    """The demo team's life: seeded history, then presence changes, replies and calls."""
    handles = ("maya.chen", "jin.park", "sam.ortiz", "priya.rao")
    members = {h: Member(url, h, stop, password, tokens.get(h, "")) for h in handles}
    for member in members.values():
        await member.sign_in()
    maya, sam, priya = (members[h] for h in ("maya.chen", "sam.ortiz", "priya.rao"))
    await maya.say(ME, "morning! standup in 10")
    await maya.say(ME, "also: the deploy notes are in #general, and jin is out till the end of the week")
    tasks = [asyncio.create_task(m.events()) for m in members.values()]
    tasks.append(asyncio.create_task(maya.stay_active(45)))
    tasks.append(asyncio.create_task(sam_day(sam, stop)))
    tasks.append(asyncio.create_task(priya_day(priya, stop)))
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def sam_day(sam: Member, stop: asyncio.Event) -> None:
    """Sam is around, goes dnd for a while, and calls once early on (a missed call if unanswered)."""
    await sam.post("/api/v2/activity")
    await asyncio.sleep(25)
    await sam.post("/api/v2/calls", {"to": ME, "type": "audio"})
    while not stop.is_set():
        await asyncio.sleep(60)
        sam.http.headers.setdefault("Content-Type", "application/json")
        await sam.http.patch(f"/api/v2/users/{sam.handle}", json={"status": "dnd"})
        await asyncio.sleep(60)
        await sam.http.patch(f"/api/v2/users/{sam.handle}", json={"status": None})
        await sam.post("/api/v2/activity")


async def priya_day(priya: Member, stop: asyncio.Event) -> None:
    """Priya comes and goes, and asks one question."""
    await asyncio.sleep(8)
    await priya.post("/api/v2/activity")
    await asyncio.sleep(12)
    await priya.say(ME, "did you see the new status page mockups?")
    while not stop.is_set():
        await asyncio.sleep(random.uniform(40, 90))
        await priya.post("/api/v2/activity")


class Simulation:
    """Runs `simulate` on its own thread and loop, so the client's loop is never touched."""

    def __init__(self, url: str, password: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.password = password
        self.tokens = tokens
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.stop_event = asyncio.Event()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(simulate(self.url, self.stop_event, self.password, self.tokens))

    def start(self) -> Simulation:
        """Start the team."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop the team."""
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=5)


def run_demo(port: int = 0) -> int:
    """Start everything, run the client, clean up."""
    from huddle_tui.app import make_app
    from huddle_tui.config import Config

    with tempfile.TemporaryDirectory(prefix="huddle-demo-") as tmp:
        root = Path(tmp)
        logging.basicConfig(filename=root / "demo.log", level=logging.INFO, force=True)
        server = DemoServer(root, port).start()
        server.seed()
        team = Simulation(server.url, server.password, {"jin.park": server.token("jin.park")}).start()
        try:
            config = Config(server=server.url, user=ME, token=server.token(ME))
            make_app(config, config_file=None, data=root / "client").run()
        finally:
            team.stop()
            server.stop()
    return 0

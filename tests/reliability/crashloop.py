"""Crash safety under load: senders against a real `huddle-server serve` killed with SIGKILL at random moments.

N sender threads send DMs (`POST /api/v2/messages`, one `Idempotency-Key` per logical message, the
body naming both) and now and then place calls (`POST /api/v2/calls`), for T seconds. Meanwhile
the server process is killed with SIGKILL at random moments (every other time right after a call
was answered `ringing`) and restarted on the same database, on a new port: the senders follow. A
sender retries a message with the same key on a connection error, a timeout, a 5xx or a 429 until
it is acknowledged (bounded in count and time), and now and then repeats an acknowledged key on
purpose. A live SSE subscriber follows one user's stream across the kills with `Last-Event-ID`.

Afterwards (`check`), from the stopped server's SQLite file and from the API of the last server:
every logical message acknowledged, stored exactly once, under the id it was acknowledged with;
nothing stored that was never sent; repeats answered with the same id; `GET /api/v2/messages?with=`
lists exactly the stored DMs; event ids strictly increasing; one `message sent` per stored message
and none for anything else, in the log and in every user's SSE replay from the start; the live
subscriber's events equal its user's replay (nothing delivered that a crash then lost); every call,
those left ringing at a kill too, `no_answer` at exactly `started_at + ring timeout`, with exactly
the events `ringing`, `no_answer`.

Servers are started by forking a parent that imported the server once (a restart takes ~0.05 s
instead of a second of imports); `--cold` starts each as a new `python -m server serve` process.

    python -m tests.reliability.crashloop --senders 8 --seconds 60 --kills 10 [--cold]

prints the figures; exit status 1 when a check fails. `--fault no-retry|new-key` breaks the
senders on purpose (give up after a failure; a fresh key on each retry) to see the checks fire.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")
START_TIMEOUT = 30.0
# A logical message is given up (a failure) after this long or this many attempts.
RETRY_SECONDS = 45.0
MAX_ATTEMPTS = 2000
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
BODY = re.compile(r"crashloop (?P<logical>s\d+/\d+) key=(?P<key>\S+)")

TEAM = """
[[users]]
handle = "alex.kim"
password = "alex-pass"
team = "infrastructure"

[[users]]
handle = "jin.park"
password = "jin-pass"
team = "infrastructure"

[[users]]
handle = "maya.chen"
password = "maya-pass"
team = "infrastructure"

[[users]]
handle = "sam.ortiz"
password = "sam-pass"
team = "design"

[[users]]
handle = "hr.admin"
password = "hr-pass"
admin = true

[[channels]]
name = "general"
"""
MARKER = "crashloop-end-"  # the channel created once the senders are done: every stream's last event
USERS = ["alex.kim", "jin.park", "maya.chen", "sam.ortiz", "hr.admin"]
SENDERS = USERS[:4]
# The controller rings this pair just before some kills; the senders never call hr.admin, so no
# sender call can be in the way (one live call per pair).
CONTROL_CALL = ("hr.admin", "sam.ortiz")
FOLLOWED = "jin.park"  # a live subscriber follows this user's stream across the kills


@dataclass
class Config:
    """What one run does."""

    senders: int = 4
    seconds: float = 8.0
    kills: int = 5
    ring_timeout: float = 1.0
    call_chance: float = 0.08  # per iteration of a sender
    repeat_chance: float = 0.05  # re-send an acknowledged message's key on purpose
    seed: int | None = None
    fault: str = "none"  # none | no-retry | new-key (to see the checks fire)
    synchronous: str = "FULL"  # the server's --synchronous (NORMAL also survives a process crash)
    fork: bool = True  # start servers by forking a parent that imported them once (fast), else cold


@dataclass
class Logical:
    """One logical message, however many attempts it took."""

    name: str  # "s3/17"
    sender: str
    to: str
    keys: list[str]
    attempts: int = 0
    failures: int = 0  # attempts that failed (connection, timeout, 5xx, 429)
    acked_id: str | None = None
    acked_attempt_started: int = 0  # wall clock, microseconds
    repeats: list[str] = field(default_factory=list)  # ids answered to deliberate repeats
    refused: str | None = None  # a 4xx other than 429: a bug

    def body(self, key: str) -> str:
        return f"crashloop {self.name} key={key}"


@dataclass
class PlacedCall:
    call_id: str
    caller: str
    callee: str
    started_at: str
    by_controller: bool = False


@dataclass
class Figures:
    senders: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0  # database, tokens, first server
    after_seconds: float = 0.0  # waiting for calls, reading back, checking
    kills: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    messages: int = 0  # logical messages started
    acknowledged: int = 0
    found: int = 0  # stored messages of this run
    attempts: int = 0
    retries: int = 0  # attempts beyond the first
    acked_after_failure: int = 0
    answered_by_replay: int = 0  # acknowledged by a retry although an earlier attempt had committed
    repeats: int = 0
    calls_tried: int = 0
    calls_placed: int = 0
    calls_conflict: int = 0
    calls_in_doubt: int = 0  # no answer: may or may not exist
    calls_ringing_at_kill: int = 0
    calls_resolved: int = 0  # stored calls that ended no_answer exactly on time
    events: int = 0
    replayed: int = 0  # events read back over SSE from the start, all users together
    followed: int = 0  # events a live SSE subscriber received across the kills
    follower_resumes: int = 0

    def report(self) -> str:
        restart = self.restart_seconds or [0.0]
        return "\n".join(
            [
                f"senders {self.senders}, {self.seconds:.1f} s, kills {self.kills} "
                f"(restart {min(restart):.2f}-{max(restart):.2f} s); setup {self.setup_seconds:.1f} s, "
                f"checks {self.after_seconds:.1f} s",
                f"messages: sent {self.messages}, acknowledged {self.acknowledged}, found {self.found}",
                f"attempts {self.attempts}, retries {self.retries}, acknowledged after a failed attempt "
                f"{self.acked_after_failure} (of which answered by replay of a committed attempt "
                f"{self.answered_by_replay}), deliberate repeats {self.repeats}",
                f"calls: tried {self.calls_tried}, placed {self.calls_placed}, 409 {self.calls_conflict}, "
                f"in doubt {self.calls_in_doubt}, ringing at a kill {self.calls_ringing_at_kill}, "
                f"resolved no_answer {self.calls_resolved}",
                f"events in the log {self.events}, replayed over SSE {self.replayed}; a live subscriber "
                f"followed {self.followed} across the kills with {self.follower_resumes} resumes",
            ]
        )


@dataclass
class Outcome:
    figures: Figures
    problems: list[str]


class Lines:
    """A child's stdout, line by line, with a timeout."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._stdout = proc.stdout
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for line in iter(self._stdout.readline, b""):
                self._queue.put(line)
        self._queue.put(b"")

    def next(self, what: str) -> str:
        try:
            line = self._queue.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"no {what} line within {START_TIMEOUT:.0f} s") from None
        return line.decode(errors="replace").rstrip("\r\n")


def listening(line: str) -> str:
    match = LISTENING.fullmatch(line)
    if match is None:
        raise RuntimeError(f"the server's first line is {line!r}, not 'listening on http://127.0.0.1:PORT'")
    return match.group(1)


def serve_flags(db: Path, cfg: Config) -> list[str]:
    return [
        *("serve", "--port", "0", "--db", str(db), "--ring-timeout", str(cfg.ring_timeout)),
        *("--send-rate", "0", "--max-streams-per-user", "0", "--synchronous", cfg.synchronous),
    ]


class Running:
    """One running server: its URL, and how to kill it (SIGKILL; returns the exit status)."""

    def __init__(self, url: str, kill: Callable[[], int]) -> None:
        self.url = url
        self.kill = kill


class ColdLauncher:
    """Each start is a new `python -m server serve` process (a second or so of imports each)."""

    def __init__(self, db: Path, cfg: Config, log: IO[bytes]) -> None:
        self.command = [sys.executable, "-m", "server", *serve_flags(db, cfg)]
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> Running:
        proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT)
        self.procs.append(proc)
        url = listening(Lines(proc).next("listening"))

        def kill() -> int:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            return proc.wait(timeout=15)

        return Running(url, kill)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=15)
            if proc.stdout is not None:
                proc.stdout.close()


# A parent that imports the server once, then forks one child per start; each child runs
# `huddle-server serve` (server.cli.main) in a process of its own, opening the database only then.
# It is the same process a cold start makes, less the second or more of imports per restart.
FORK_SERVER = """\
import os, signal, sys
import server.app, server.cli, uvicorn
print("ready", flush=True)
children = set()
for line in sys.stdin:
    word, _, arg = line.strip().partition(" ")
    if word == "start":
        pid = os.fork()
        if pid == 0:
            sys.stdin.close()
            os._exit(server.cli.main(sys.argv[1:]))
        children.add(pid)
        print(f"pid {pid}", flush=True)
    elif word == "kill" and int(arg) in children:
        children.discard(int(arg))
        os.kill(int(arg), signal.SIGKILL)
        print(f"status {os.waitstatus_to_exitcode(os.waitpid(int(arg), 0)[1])}", flush=True)
    else:
        break
for pid in children:  # the test went away (stdin closed): no server outlives it
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""


class ForkLauncher:
    """Each start is a child forked by a parent that has imported the server already."""

    def __init__(self, db: Path, cfg: Config, log: IO[bytes]) -> None:
        self.parent = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, *serve_flags(db, cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
        )
        self.lines = Lines(self.parent)
        self.children: set[int] = set()
        self.ready = False  # its imports run while the caller prepares the database

    def _say(self, text: str) -> None:
        assert self.parent.stdin is not None
        self.parent.stdin.write(f"{text}\n".encode())
        self.parent.stdin.flush()

    def start(self) -> Running:
        if not self.ready:
            if (line := self.lines.next("ready")) != "ready":
                raise RuntimeError(f"the fork server did not start: {line!r}")
            self.ready = True
        self._say("start")
        word, _, pid_text = self.lines.next("pid").partition(" ")
        if word != "pid":
            raise RuntimeError(f"the fork server said {word!r}")
        pid = int(pid_text)
        self.children.add(pid)
        url = listening(self.lines.next("listening"))

        def kill() -> int:
            if pid not in self.children:
                return -signal.SIGKILL
            self.children.discard(pid)
            self._say(f"kill {pid}")
            return int(self.lines.next("status").removeprefix("status "))

        return Running(url, kill)

    def close(self) -> None:
        """Kill every child still running, then the parent (closing its stdin ends it and its children)."""
        for pid in list(self.children):
            try:
                self._say(f"kill {pid}")
                self.lines.next("status")
            except (OSError, RuntimeError, ValueError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # the parent is gone: our child by its id
            self.children.discard(pid)
        if self.parent.poll() is None:
            self.parent.send_signal(signal.SIGKILL)
        self.parent.wait(timeout=15)
        for pipe in (self.parent.stdin, self.parent.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class Target:
    """Where the server is now; None while it is down."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._url: str | None = None

    def set(self, url: str | None) -> None:
        with self._cond:
            self._url = url
            self._cond.notify_all()

    def wait(self, timeout: float) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: self._url is not None, timeout=timeout)
            return self._url


def now_us() -> int:
    return time.time_ns() // 1000


def prepare(db: Path) -> dict[str, str]:
    """A fresh database with the team (the real `load`), and a token per user (the real `token`)."""
    from server.cli import main as server_main

    team = db.parent / "team.toml"
    team.write_text(TEAM)
    with contextlib.redirect_stderr(io.StringIO()):
        assert server_main(["load", "--db", str(db), str(team)]) == 0
    tokens = {}
    for handle in USERS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert server_main(["token", "--db", str(db), handle]) == 0
        tokens[handle] = out.getvalue().strip()
    return tokens


class Sender:
    """One thread: DMs with retries, occasional calls and deliberate repeats."""

    def __init__(
        self, index: int, cfg: Config, target: Target, tokens: dict[str, str], stop: threading.Event, seed: int
    ) -> None:
        self.index = index
        self.cfg = cfg
        self.target = target
        self.stop = stop
        self.rng = random.Random(seed)
        self.handle = SENDERS[index % len(SENDERS)]
        self.http = httpx.Client(headers={"Authorization": f"Bearer {tokens[self.handle]}"}, timeout=TIMEOUT)
        self.messages: list[Logical] = []
        self.calls: list[PlacedCall] = []
        self.calls_tried = 0
        self.calls_conflict = 0
        self.calls_in_doubt = 0
        self.problems: list[str] = []
        self.thread = threading.Thread(target=self._main, name=f"sender-{index}", daemon=True)

    def _main(self) -> None:
        try:
            self._loop()
        except Exception:
            self.problems.append(f"sender {self.index} crashed:\n{traceback.format_exc()}")
        finally:
            self.http.close()

    def _loop(self) -> None:
        seq = 0
        while not self.stop.is_set() and seq < 1_000_000:
            roll = self.rng.random()
            if roll < self.cfg.call_chance:
                self._call()
                continue
            acked = [m for m in self.messages if m.acked_id is not None]
            if acked and roll < self.cfg.call_chance + self.cfg.repeat_chance:
                self._repeat(self.rng.choice(acked))
                continue
            seq += 1
            to = self.rng.choice([u for u in USERS if u != self.handle])
            name = f"s{self.index}/{seq}"
            message = Logical(name, self.handle, to, [f"{name}-{self.rng.getrandbits(48):012x}"])
            self.messages.append(message)
            self._deliver(message)
            if message.acked_id is None:
                break  # given up: reported by the checks; stop so the figures stay readable

    def _post(self, message: Logical, key: str) -> httpx.Response | None:
        """One attempt; None when it failed in transit (or the server was down)."""
        url = self.target.wait(timeout=2.0)
        if url is None:
            return None
        try:
            return self.http.post(
                f"{url}/api/v2/messages",
                json={"to": message.to, "body": message.body(key)},
                headers={"Idempotency-Key": key},
            )
        except httpx.TransportError:
            return None

    def _deliver(self, message: Logical) -> None:
        """Send until acknowledged, the same key every time (bounded)."""
        deadline = time.monotonic() + RETRY_SECONDS
        key = message.keys[0]
        while message.attempts < MAX_ATTEMPTS and time.monotonic() < deadline:
            if message.failures and self.cfg.fault == "new-key":
                key = f"{message.name}-{self.rng.getrandbits(48):012x}"
                message.keys.append(key)
            started = now_us()
            message.attempts += 1
            r = self._post(message, key)
            if r is not None and r.status_code == 200:
                message.acked_id = r.json()["message_id"]
                message.acked_attempt_started = started
                return
            if r is not None and r.status_code < 500 and r.status_code != 429:
                message.refused = f"{r.status_code} {r.text[:200]}"
                return
            message.failures += 1
            if self.cfg.fault == "no-retry":
                return
            time.sleep(min(0.02 * 2 ** min(message.failures, 4), 0.3) * (0.5 + self.rng.random()))

    def _repeat(self, message: Logical) -> None:
        """Send an acknowledged message again with its key: the answer must name the same message."""
        deadline = time.monotonic() + RETRY_SECONDS
        for _ in range(MAX_ATTEMPTS):
            if time.monotonic() > deadline:
                self.problems.append(f"{message.name}: a deliberate repeat was never answered")
                return
            r = self._post(message, message.keys[-1])
            if r is not None and r.status_code == 200:
                message.repeats.append(r.json()["message_id"])
                return
            if r is not None and r.status_code < 500 and r.status_code != 429:
                self.problems.append(f"{message.name}: a deliberate repeat was refused: {r.status_code} {r.text}")
                return
            time.sleep(0.05)

    def _call(self) -> None:
        """One attempt (calls take no Idempotency-Key): ringing, 409, or in doubt."""
        callee = self.rng.choice([u for u in SENDERS if u != self.handle])
        url = self.target.wait(timeout=2.0)
        if url is None:
            return
        self.calls_tried += 1
        try:
            r = self.http.post(f"{url}/api/v2/calls", json={"to": callee, "type": "audio"})
        except httpx.TransportError:
            self.calls_in_doubt += 1
            return
        if r.status_code == 200:
            call = r.json()
            self.calls.append(PlacedCall(call["call_id"], self.handle, callee, call["started_at"]))
        elif r.status_code == 409:
            self.calls_conflict += 1
        elif r.status_code >= 500:
            self.calls_in_doubt += 1
        else:
            self.problems.append(f"call {self.handle} -> {callee} refused: {r.status_code} {r.text[:200]}")


class Follower:
    """A live SSE subscriber from the start of the log, following the server across kills with Last-Event-ID."""

    def __init__(self, handle: str, token: str, target: Target) -> None:
        self.handle = handle
        self.token = token
        self.target = target
        self.stop = threading.Event()
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.last_id = 0
        self.resumes = 0
        self.finished = False
        self.problems: list[str] = []
        self.thread = threading.Thread(target=self._main, name="follower", daemon=True)

    def _main(self) -> None:
        try:
            for connection in range(100_000):
                if self.stop.is_set() or self.finished:
                    return
                url = self.target.wait(timeout=1.0)
                if url is None:
                    continue
                self.resumes += connection > 0
                with contextlib.suppress(httpx.TransportError):
                    self._read(url)
                time.sleep(0.05)
        except Exception:
            self.problems.append(f"the live subscriber crashed:\n{traceback.format_exc()}")

    def _read(self, url: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Last-Event-ID": str(self.last_id)}
        with httpx.stream("GET", f"{url}/api/events", headers=headers, timeout=TIMEOUT) as r:
            if r.status_code != 200:
                self.problems.append(f"the live subscriber's resume from {self.last_id}: {r.status_code} {r.read()!r}")
                self.stop.set()
                return
            event_id: int | None = None
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event_id is not None:
                        self.received.append((event_id, data))
                        self.last_id = event_id
                        if (data["type"], data["event"]) == ("channel", "created") and data["name"].startswith(MARKER):
                            self.finished = True
                            return
                    event_id = None


def control_call(url: str, tokens: dict[str, str]) -> PlacedCall | None:
    """Ring the control pair (a few tries while an earlier control call still rings)."""
    caller, callee = CONTROL_CALL
    deadline = time.monotonic() + 3.0
    with httpx.Client(headers={"Authorization": f"Bearer {tokens[caller]}"}, timeout=TIMEOUT) as http:
        while time.monotonic() < deadline:
            try:
                r = http.post(f"{url}/api/v2/calls", json={"to": callee, "type": "video"})
            except httpx.TransportError:
                return None
            if r.status_code == 200:
                call = r.json()
                return PlacedCall(call["call_id"], caller, callee, call["started_at"], by_controller=True)
            time.sleep(0.1)
    return None


def run(cfg: Config, workdir: Path) -> Outcome:
    """One crash loop in workdir; every server process is killed before this returns."""
    rng = random.Random(cfg.seed)
    figures = Figures(senders=cfg.senders, kills=0)
    problems: list[str] = []
    setup = time.monotonic()
    db = workdir / "huddle.db"
    log = (workdir / "server.log").open("ab")
    launcher = ForkLauncher(db, cfg, log) if cfg.fork else ColdLauncher(db, cfg, log)
    try:
        tokens = prepare(db)
    except BaseException:
        launcher.close()
        log.close()
        raise
    target = Target()
    stop = threading.Event()
    senders = [Sender(i, cfg, target, tokens, stop, rng.getrandbits(32)) for i in range(cfg.senders)]
    follower = Follower(FOLLOWED, tokens[FOLLOWED], target)
    control_calls: list[PlacedCall] = []
    kill_times: list[int] = []
    began = time.monotonic()
    with log:
        try:
            running = launcher.start()
            began = time.monotonic()
            figures.setup_seconds = began - setup
            target.set(running.url)
            follower.thread.start()
            for sender in senders:
                sender.thread.start()
            # Kill k falls at a random moment of its slot of the run, 0.3 to 0.8 s after the start at least.
            slot = cfg.seconds / max(cfg.kills, 1)
            for k in range(cfg.kills):
                up_since = time.monotonic()
                time.sleep(rng.uniform(0.3, max(0.8, began + (k + 1) * slot - up_since)))
                if k % 2 == 0:  # every other kill lands right after a call was answered `ringing`
                    call = control_call(running.url, tokens)
                    if call is not None:
                        control_calls.append(call)
                target.set(None)
                kill_times.append(now_us())
                killed = time.monotonic()
                code = running.kill()
                if code != -signal.SIGKILL:
                    problems.append(f"the server exited with {code} before it was killed")
                figures.kills += 1
                running = launcher.start()
                target.set(running.url)
                figures.restart_seconds.append(time.monotonic() - killed)
            time.sleep(max(0.0, began + cfg.seconds - time.monotonic()))
            stop.set()
            for sender in senders:
                sender.thread.join(timeout=RETRY_SECONDS + 15)
                if sender.thread.is_alive():
                    problems.append(f"sender {sender.index} did not stop")
            figures.seconds = time.monotonic() - began
            # Let every ringing call run out (the server checks once a second).
            if not calls_over(running.url, tokens, deadline=time.monotonic() + cfg.ring_timeout + 10):
                problems.append(f"calls still ringing {cfg.ring_timeout + 10:.0f} s after the last restart")
            api_ids = list_dms(running.url, tokens)
            replayed = replay_all(running.url, tokens, problems)
            follower.thread.join(timeout=30)
            running.kill()
        finally:
            stop.set()
            follower.stop.set()
            target.set(None)
            launcher.close()
    for sender in senders:
        problems.extend(sender.problems)
    calls = [c for s in senders for c in s.calls] + control_calls
    figures.calls_tried = sum(s.calls_tried for s in senders) + len(control_calls)
    figures.calls_conflict = sum(s.calls_conflict for s in senders)
    figures.calls_in_doubt = sum(s.calls_in_doubt for s in senders)
    figures.calls_placed = len(calls)
    messages = [m for s in senders for m in s.messages]
    problems.extend(follower.problems)
    figures.followed, figures.follower_resumes = len(follower.received), follower.resumes
    if not follower.finished:
        problems.append(f"the live subscriber never saw the end marker (at {follower.last_id})")
    elif follower.received != replayed.get(FOLLOWED):
        got, want = [i for i, _ in follower.received], [i for i, _ in replayed.get(FOLLOWED, [])]
        problems.append(
            f"the live subscriber's events differ from the replay: missing {sorted(set(want) - set(got))[:10]}, "
            f"extra {sorted(set(got) - set(want))[:10]}, twice {len(got) - len(set(got))}"
        )
    check(cfg, db, messages, calls, kill_times, api_ids, replayed, figures, problems)
    figures.after_seconds = time.monotonic() - began - figures.seconds
    return Outcome(figures, problems)


def calls_over(url: str, tokens: dict[str, str], deadline: float) -> bool:
    """Wait until no call of anyone's is ringing (newest 200 each); False at the deadline."""
    for _ in range(10_000):
        ringing = False
        for handle in USERS:
            headers = {"Authorization": f"Bearer {tokens[handle]}"}
            r = httpx.get(f"{url}/api/v2/calls", params={"limit": 200}, headers=headers, timeout=TIMEOUT)
            r.raise_for_status()
            ringing = ringing or any(c["status"] == "ringing" for c in r.json()["calls"])
        if not ringing:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return False


def list_dms(url: str, tokens: dict[str, str]) -> dict[frozenset[str], set[str]]:
    """Every DM id per pair, as `GET /api/v2/messages?with=` pages them (as the first of the pair)."""
    out: dict[frozenset[str], set[str]] = {}
    for i, me in enumerate(USERS):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[me]}"}, timeout=TIMEOUT) as http:
            for other in USERS[i + 1 :]:
                ids: set[str] = set()
                before: str | None = None
                for _ in range(10_000):
                    params: dict[str, str | int] = {"with": other, "limit": 200}
                    if before:
                        params["before"] = before
                    page = http.get("/api/v2/messages", params=params)
                    page.raise_for_status()
                    body = page.json()
                    ids.update(m["message_id"] for m in body["messages"])
                    before = body["next_before"]
                    if before is None:
                        break
                out[frozenset((me, other))] = ids
    return out


def replay_all(url: str, tokens: dict[str, str], problems: list[str]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Each user's events from the start of the log, over SSE, up to a marker event sent to everyone."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['hr.admin']}"}, timeout=TIMEOUT) as h:
        r = h.post("/api/channels", json={"name": f"{MARKER}{time.time_ns()}"})
        r.raise_for_status()
        marker = r.json()["id"]
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for handle in USERS:
        seen: list[tuple[int, dict[str, Any]]] = []
        deadline = time.monotonic() + 60
        headers = {"Authorization": f"Bearer {tokens[handle]}"}
        with (
            httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT) as http,
            http.stream("GET", "/api/events", params={"resume_point": 0}) as stream,
        ):
            if stream.status_code != 200:
                problems.append(f"replay for {handle}: {stream.status_code}")
                continue
            event_id: int | None = None
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event_id is not None:
                        seen.append((event_id, data))
                    event_id = None
                    if data.get("type") == "channel" and data.get("id") == marker:
                        break
                if time.monotonic() > deadline:
                    problems.append(f"replay for {handle}: the marker never came")
                    break
        out[handle] = seen
    return out


def check(
    cfg: Config,
    db: Path,
    messages: list[Logical],
    calls: list[PlacedCall],
    kill_times: list[int],
    api_ids: dict[frozenset[str], set[str]],
    replayed: dict[str, list[tuple[int, dict[str, Any]]]],
    figures: Figures,
    problems: list[str],
) -> None:
    """Compare what the senders were told with what the stopped server's database holds."""
    conn = sqlite3.connect(db)
    try:
        handles = dict(conn.execute("SELECT pk, handle FROM users").fetchall())
        stored = conn.execute(
            "SELECT public_id, sender_pk, recipient_pk, body, created_at, deleted FROM messages ORDER BY pk"
        ).fetchall()
        events = [(i, json.loads(v)) for i, v in conn.execute("SELECT id, variants FROM events ORDER BY rowid")]
        stored_calls = conn.execute(
            "SELECT public_id, caller_pk, callee_pk, status, started_at, ended_at FROM calls"
        ).fetchall()
    finally:
        conn.close()

    # ---- messages -----------------------------------------------------------------------------
    by_name = {m.name: m for m in messages}
    figures.messages = len(messages)
    figures.acknowledged = sum(m.acked_id is not None for m in messages)
    figures.attempts = sum(m.attempts for m in messages)
    figures.retries = sum(max(0, m.attempts - 1) for m in messages)
    figures.acked_after_failure = sum(m.acked_id is not None and m.failures > 0 for m in messages)
    figures.repeats = sum(len(m.repeats) for m in messages)
    copies: dict[str, list[tuple[str, str, str, str, int]]] = defaultdict(list)
    for public_id, sender_pk, recipient_pk, body, created_at, deleted in stored:
        match = BODY.fullmatch(body)
        if match is None:
            problems.append(f"stored message {public_id} was never sent by anyone: {body!r}")
            continue
        if deleted:
            problems.append(f"stored message {public_id} is marked deleted")
        copies[match["logical"]].append(
            (public_id, handles.get(sender_pk, "?"), handles.get(recipient_pk, "?"), match["key"], created_at)
        )
    figures.found = sum(len(c) for c in copies.values())
    for name, found in copies.items():
        message = by_name.get(name)
        if message is None:
            problems.append(f"{name}: stored ({found[0][0]}) but never sent")
            continue
        if len(found) != 1:
            problems.append(f"{name}: stored {len(found)} times: {[f[0] for f in found]}")
        public_id, sender, to, key, created_at = found[0]
        if (sender, to) != (message.sender, message.to):
            problems.append(f"{name}: stored as {sender} -> {to}, sent as {message.sender} -> {message.to}")
        if key not in message.keys:
            problems.append(f"{name}: stored with key {key}, never used for it")
        if message.acked_id is not None and public_id != message.acked_id:
            problems.append(f"{name}: acknowledged as {message.acked_id}, stored as {public_id}")
        if message.acked_id is not None and message.failures and created_at < message.acked_attempt_started:
            figures.answered_by_replay += 1
    for message in messages:
        if message.refused is not None:
            problems.append(f"{message.name}: refused: {message.refused}")
        elif message.acked_id is None:
            problems.append(f"{message.name}: never acknowledged ({message.attempts} attempts)")
        elif message.name not in copies:
            problems.append(f"{message.name}: acknowledged as {message.acked_id} but not stored")
        for repeated in message.repeats:
            if repeated != message.acked_id:
                problems.append(f"{message.name}: a repeat of its key answered {repeated}, not {message.acked_id}")

    # ---- the event log ------------------------------------------------------------------------
    figures.events = len(events)
    ids = [i for i, _ in events]
    if any(b <= a for a, b in pairwise(ids)):
        problems.append("event ids are not strictly increasing")
    sent_events: Counter[str] = Counter()
    call_events: dict[str, list[str]] = defaultdict(list)
    for _, variants in events:
        data = variants[0][1]
        if (data["type"], data["event"]) == ("message", "sent"):
            sent_events[data["id"]] += 1
        elif data["type"] == "call":
            call_events[data["call_id"]].append(data["event"])
    stored_ids = {row[0] for row in stored}
    for public_id, n in sent_events.items():
        if public_id not in stored_ids:
            problems.append(f"`message sent` {public_id} has no stored message (an event for an uncommitted change)")
        if n != 1:
            problems.append(f"`message sent` {public_id} is in the log {n} times")
    for public_id in stored_ids - set(sent_events):
        problems.append(f"stored message {public_id} has no `message sent` event")

    # ---- what the API shows -------------------------------------------------------------------
    pairs: dict[frozenset[str], set[str]] = defaultdict(set)
    for found in copies.values():
        for public_id, sender, to, _, _ in found:
            pairs[frozenset((sender, to))].add(public_id)
    for pair in set(pairs) | set(api_ids):
        if api_ids.get(pair, set()) != pairs.get(pair, set()):
            missing = pairs.get(pair, set()) - api_ids.get(pair, set())
            extra = api_ids.get(pair, set()) - pairs.get(pair, set())
            problems.append(f"GET /api/v2/messages?with= for {sorted(pair)}: missing {missing}, extra {extra}")
    log_by_id = dict(events)
    replayed_ids: set[int] = set()
    for handle, seen in replayed.items():
        figures.replayed += len(seen)
        ids_seen = [i for i, _ in seen]
        if any(b <= a for a, b in pairwise(ids_seen)):
            problems.append(f"replay for {handle}: ids not strictly increasing")
        replayed_ids.update(ids_seen)
        for event_id, data in seen:
            variants = log_by_id.get(event_id)
            if variants is None:
                problems.append(f"replay for {handle}: event {event_id} is not in the log")
            elif data not in [v[1] for v in variants]:
                problems.append(f"replay for {handle}: event {event_id} differs from the log")
    replayed_sent = {d["id"] for h in replayed.values() for _, d in h if (d["type"], d["event"]) == ("message", "sent")}
    if replayed_sent != stored_ids:
        problems.append(
            f"`message sent` replayed over SSE != stored messages: missing {sorted(stored_ids - replayed_sent)[:5]}, "
            f"extra {sorted(replayed_sent - stored_ids)[:5]}"
        )

    # ---- calls --------------------------------------------------------------------------------
    timeout = int(cfg.ring_timeout * 1_000_000)
    by_call = {row[0]: row for row in stored_calls}
    for public_id, _, _, status, started_at, ended_at in stored_calls:
        if status != "no_answer" or ended_at != started_at + timeout:
            problems.append(f"call {public_id}: {status}, ended_at - started_at = {ended_at and ended_at - started_at}")
        else:
            figures.calls_resolved += 1
        if call_events.get(public_id) != ["ringing", "no_answer"]:
            problems.append(f"call {public_id}: events {call_events.get(public_id)}")
    for call_id in set(call_events) - set(by_call):
        problems.append(f"call events for {call_id}, which is not stored")
    for call in calls:
        row = by_call.get(call.call_id)
        if row is None:
            problems.append(f"call {call.call_id} was answered `ringing` but is not stored")
            continue
        if (handles.get(row[1]), handles.get(row[2])) != (call.caller, call.callee):
            problems.append(f"call {call.call_id}: stored between the wrong people")
        started_at = row[4]
        if any(started_at <= k < started_at + timeout for k in kill_times):
            figures.calls_ringing_at_kill += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crashloop", description=__doc__.split("\n")[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--ring-timeout", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fault", choices=("none", "no-retry", "new-key"), default="none")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument(
        "--cold", action="store_true", help="start each server as a new `python -m server serve` (slower restarts)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, server log)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    cfg = Config(args.senders, args.seconds, args.kills, args.ring_timeout, seed=seed)
    cfg.fault, cfg.synchronous, cfg.fork = args.fault, args.synchronous, not args.cold
    tmp = Path(tempfile.mkdtemp(prefix="crashloop-"))
    try:
        outcome = run(cfg, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"seed {seed}, work directory {tmp}{' (kept)' if args.keep else ' (removed)'}")
    return verdict(outcome.figures.report(), outcome.problems)


def verdict(report: str, problems: list[str]) -> int:
    """Print a run's figures and problems (the first 50); the exit status of the script."""
    print(report)
    if problems:
        print(f"\n{len(problems)} problems:")
        for problem in problems[:50]:
            print(" -", problem)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

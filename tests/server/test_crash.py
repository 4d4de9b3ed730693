"""A real `huddle-server serve` process: killed with SIGKILL and restarted, and the away flip in real time."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from server.dialects.times import parse_rfc3339
from tests.support import PASSWORDS, TEAM_TOML

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
POLL_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


class ServerProcess:
    """One `python -m server serve --port 0` child; its URL comes from its first stdout line."""

    def __init__(self, db: Path, log: Path, *flags: str) -> None:
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        command = [sys.executable, "-m", "server", "serve", "--port", "0", "--db", str(db), *flags]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT)
        self.url = self._read_url()

    def _read_url(self) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.kill()
            pytest.fail(f"the server printed no line within {START_TIMEOUT:.0f} s; stderr: {self.stderr()!r}")
        text = line.decode(errors="replace").rstrip("\r\n")
        match = LISTENING.fullmatch(text)
        if match is None:
            self.kill()
            pytest.fail(
                f"first stdout line is {text!r}, not 'listening on http://127.0.0.1:PORT'; stderr: {self.stderr()!r}"
            )
        return match.group(1)

    def stderr(self) -> str:
        """What the server logged so far (the tail)."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> int:
        """SIGKILL (no shutdown code runs) and reap; returns the exit status. Safe to call twice."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        return code


Spawn = Callable[..., ServerProcess]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with the test team, made by the real `load` command."""
    path = tmp_path / "db" / "huddle.db"
    path.parent.mkdir()
    team = tmp_path / "team.toml"
    team.write_text(TEAM_TOML)
    done = subprocess.run(
        [sys.executable, "-m", "server", "load", "--db", str(path), str(team)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start server processes; every one is killed at teardown, whatever happened."""
    started: list[ServerProcess] = []

    def start(db: Path, *flags: str) -> ServerProcess:
        process = ServerProcess(db, tmp_path / f"server{len(started)}.log", *flags)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def login(url: str, handle: str) -> tuple[str, dict[str, Any]]:
    """Sign in over v2; returns the token and the user object."""
    r = httpx.post(f"{url}/api/v2/auth/login", json={"user": handle, "password": PASSWORDS[handle]}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    return str(body["token"]), body["user"]


def client(url: str, token: str) -> httpx.Client:
    """A client sending a bearer token, with bounded timeouts."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def events_until(
    http: httpx.Client, resume_point: int, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Read the SSE stream after resume_point until done(events seen) holds (bounded)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + POLL_TIMEOUT
    with http.stream("GET", "/api/events", params={"resume_point": resume_point}, timeout=5) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                data = json.loads(line.removeprefix("data:"))
                if data.get("type") != "heartbeat":
                    seen.append(data)
                    if done(seen):
                        return seen
            assert time.monotonic() < deadline, f"the awaited events never came; saw {seen}"
    raise AssertionError(f"the event stream ended early; saw {seen}")


@pytest.mark.slow
def test_sigkill_keeps_the_message_and_the_restart_ends_the_ringing_call(db: Path, spawn: Spawn) -> None:
    """Data written before a SIGKILL survives it; a call left ringing becomes no_answer at started_at + 2 s."""
    first = spawn(db, "--ring-timeout", "2")
    token, _ = login(first.url, "alex.kim")
    with client(first.url, token) as alex:
        r = alex.post("/api/v2/messages", json={"to": "jin.park", "body": "still there after a crash?"})
        assert r.status_code == 200, r.text
        message_id = r.json()["message_id"]
        boot = alex.get("/api/boot").json()
        resume_before = boot["resume_point"]
        assert message_id in [m["id"] for m in boot["messages"]]
        r = alex.post("/api/v2/calls", json={"to": "jin.park", "type": "audio"})
        assert r.status_code == 200, r.text
        call = r.json()
        assert call["status"] == "ringing"
        rang = time.monotonic()
        code = first.kill()
    # Killed well inside the ring timeout: only the restarted server can end the call.
    assert time.monotonic() - rang < 2
    assert code == -signal.SIGKILL

    second = spawn(db, "--ring-timeout", "2")
    with client(second.url, token) as alex:  # tokens live in the database
        r = alex.get(f"/api/v2/messages/{message_id}")
        assert r.status_code == 200, r.text
        message = r.json()
        assert (message["message_id"], message["from"], message["to"], message["body"]) == (
            message_id,
            "alex.kim",
            "jin.park",
            "still there after a crash?",
        )

        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            r = alex.get(f"/api/v2/calls/{call['call_id']}")
            assert r.status_code == 200, r.text
            ended = r.json()
            if ended["status"] != "ringing" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert ended["status"] == "no_answer", f"still {ended['status']} {POLL_TIMEOUT:.0f} s after the restart"
        assert ended["duration_seconds"] == 0
        assert ended["started_at"] == call["started_at"]
        assert parse_rfc3339(ended["ended_at"]) - parse_rfc3339(ended["started_at"]) == 2_000_000

        boot = alex.get("/api/boot").json()
        # At least the call's ringing and no_answer events came after the snapshot taken before the kill.
        assert boot["resume_point"] >= resume_before + 2
        by_id = {m["id"]: m for m in boot["messages"]}
        assert by_id[message_id]["body"] == "still there after a crash?"
        assert by_id[message_id]["to"] == "jin.park"

        def both(events: list[dict[str, Any]]) -> bool:
            return {"ringing", "no_answer"} <= {
                e["event"] for e in events if e["type"] == "call" and e.get("call_id") == call["call_id"]
            }

        calls = [e for e in events_until(alex, resume_before, both) if e["type"] == "call"]
        assert [e["event"] for e in calls] == ["ringing", "no_answer"]


@pytest.mark.slow
def test_away_after_flips_an_idle_user_in_real_time(db: Path, spawn: Spawn) -> None:
    """With --away-after 1 an idle user turns away within seconds; last_seen stays at the sign-in."""
    process = spawn(db, "--away-after", "1")
    signed_in = time.monotonic()
    _, jin = login(process.url, "jin.park")
    assert jin["status"] == "active"
    assert jin["last_seen"] is not None
    token, _ = login(process.url, "alex.kim")
    with client(process.url, token) as alex:
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            r = alex.get("/api/v2/users/jin.park/status")
            assert r.status_code == 200, r.text
            status = r.json()
            if status["status"] == "away" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        flipped = time.monotonic()
    assert status["status"] == "away", f"jin is still {status['status']} after {POLL_TIMEOUT:.0f} s"
    assert status["last_seen"] == jin["last_seen"]
    # Not before away_after has passed.
    assert flipped - signed_in >= 0.9

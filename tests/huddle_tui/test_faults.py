"""Client faults (issue #7): a broken config file, a server that is down, answers garbage or is cut off.

Each fault must end in a clear message and a recovery, never a traceback. The faulty server is
`Faulty`, a few lines of asyncio in front of the real server: it answers what a broken server
or proxy would (garbage, a web page, a cut connection), or passes the bytes through.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from huddle_tui import cli
from huddle_tui.app import HuddleApp, make_app
from huddle_tui.config import Config, config_path
from huddle_tui.screens.login import LoginScreen
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, ready, rows, until
from tests.support import PASSWORDS, LiveServer

HUDDLE = Path(sys.executable).with_name("huddle")


def status(app: HuddleApp) -> str:
    return str(app.main.status_bar.render())


def toasts(app: HuddleApp) -> list[str]:
    """The notifications on screen (run_test(notifications=True))."""
    return [n.message for n in app._notifications]


def login_error(app: HuddleApp) -> str:
    return str(app.screen.query_one("#login-error", Static).render())


# ---- a broken config file -----------------------------------------------------------------
CORRUPT = {
    "garbage bytes": b"\x00\xff\xfe\x13\x8f garbage",
    "invalid TOML": b'server = "http://127.0.0.1:8080\nuser = [',
    "wrong types": b'server = 5\nuser = "alex.kim"\ntoken = "stale"\nstale_hours = "x"\n',
}


def write_config(content: bytes | None) -> Path:
    """The config file `huddle` reads, with `content`; None: a directory in its place."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name", list(CORRUPT))
def test_a_corrupt_config_is_moved_aside_and_what_can_be_kept_is_kept(name: str) -> None:
    path = write_config(CORRUPT[name])
    loaded = Config.recover(path)
    assert str(path) in loaded.problem
    assert "moved to config.toml.bad" in loaded.problem
    assert path.with_name("config.toml.bad").read_bytes() == CORRUPT[name]  # nothing is lost
    assert loaded.writable
    if name == "wrong types":
        # The user is kept; the server falls back to the default, so the token (issued by
        # another server) goes; what was wrong is named.
        assert (loaded.config.user, loaded.config.server, loaded.config.token) == ("alex.kim", Config.server, "")
        assert "server should be an address like http://127.0.0.1:8080, not 5" in loaded.problem
        assert "stale_hours should be a number of hours, not 'x'" in loaded.problem
        assert Config.load(path) == loaded.config  # the cleaned file is written at once
    else:
        assert loaded.config == Config()
        assert not path.exists()
    # A second broken file does not overwrite the first copy.
    path.write_bytes(b"[[[")
    assert "moved to config.toml.bad.2" in Config.recover(path).problem


def test_an_unreadable_config_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(b'user = "alex.kim"\n')
    if os.geteuid() == 0:  # root reads anything: the same error, made by hand
        real = Path.read_bytes

        def denied(self: Path) -> bytes:
            if self == path:
                raise PermissionError(13, "Permission denied")
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", denied)
    else:
        path.chmod(0)
    loaded = Config.recover(path)
    assert f"Huddle cannot read its settings file {path} (Permission denied)" in loaded.problem
    assert not loaded.writable
    assert loaded.config == Config()
    monkeypatch.undo()
    path.chmod(0o600)
    assert path.read_bytes() == b'user = "alex.kim"\n'  # never moved, never written over


def _screen_text(raw: bytes) -> str:
    """What the terminal shows, roughly: the output without its escape sequences."""
    text = raw.decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b[()=>][A-Z0-9]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)", "", text)


def run_huddle(tmp_path: Path, until_shown: str, *args: str) -> tuple[int, str, str]:
    """`huddle` in a subprocess without a terminal (Textual draws on stderr); ctrl+q once `until_shown`."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "COLUMNS": "160",
        "LINES": "48",
    }
    proc = subprocess.Popen(
        [str(HUDDLE), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    raw = b""
    deadline = time.monotonic() + 20
    try:
        while until_shown not in _screen_text(raw) and proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.1)[0]:
                raw += os.read(proc.stderr.fileno(), 65536)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(b"\x11")  # ctrl+q
            proc.stdin.flush()
        out, rest = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    raw += rest
    return proc.returncode, out.decode("utf-8", "replace"), raw.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("content", "said"),
    [(CORRUPT["garbage bytes"], "is not a text file"), (None, "(Is a directory)")],
    ids=["garbage bytes", "a directory"],  # the other kinds of damage take the same path (see above)
)
def test_huddle_starts_with_a_corrupt_config_and_says_so(tmp_path: Path, content: bytes | None, said: str) -> None:
    path = write_config(content)
    code, _, err = run_huddle(tmp_path, "Sign in to Huddle")
    assert "Traceback" not in err
    assert code == 0
    # Said before the screen opens (so it stays in the terminal afterwards) …
    assert f"huddle: Your settings file {path}" in err or f"huddle: Huddle cannot read its settings file {path}" in err
    # … and on the sign-in screen (wrapped: compared without the spaces).
    screen = "".join(_screen_text(err.encode()).split("Sign in to Huddle", 1)[1].split())
    assert "".join(said.split()) in screen
    if content is None:
        assert path.is_dir()  # left alone
    else:
        assert "Itwasmovedtoconfig.toml.bad." in screen


def test_huddle_refuses_a_server_that_is_not_an_address() -> None:
    done = subprocess.run([str(HUDDLE), "--server", "localhost:8080"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "'localhost:8080' is not a server address: it should start with http:// or https://" in done.stderr
    assert "Traceback" not in done.stderr


async def test_sign_in_after_a_corrupt_config(server: LiveServer) -> None:
    path = write_config(CORRUPT["wrong types"])
    app = cli.client()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="sign-in")
        error = login_error(app)
        assert "server should be an address like http://127.0.0.1:8080, not 5" in error
        assert "moved to config.toml.bad" in error
        assert app.screen.query_one("#user", Input).value == "alex.kim"  # kept
        app.screen.query_one("#server", Input).value = server.url
        app.screen.query_one("#password", Input).value = PASSWORDS["alex.kim"]
        await pilot.click("#sign-in")
        await ready(pilot, app)
        assert not any("Could not save" in t for t in toasts(app))
    assert Config.load(path).server == server.url  # a good file again


async def test_a_config_that_cannot_be_read_is_said_and_never_written_over() -> None:
    path = write_config(None)  # a directory
    app = cli.client()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), what="sign-in")
        error = login_error(app)
        assert f"Huddle cannot read its settings file {path} (Is a directory)" in error
        assert "will not save your settings until you fix or remove it" in error
        assert app.config_file is None


async def test_a_config_with_a_good_token_but_bad_settings_signs_in_and_says_so(server: LiveServer) -> None:
    token = server.token("alex.kim")
    text = f'server = "{server.url}"\nuser = "alex.kim"\ntoken = "{token}"\nnotify = 5\ntheme = "no-such-theme"\n'
    write_config(text.encode())
    app = cli.client()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, app)
        await until(pilot, lambda: any("notify should be one of osc" in t for t in toasts(app)), what="said")
        assert any("Unknown theme 'no-such-theme': using the default." in t for t in toasts(app))


# ---- a server that is down, or answers garbage ----------------------------------------------
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server-to-client WebSocket frame."""
    size = bytes([len(payload)]) if len(payload) < 126 else b"\x7e" + len(payload).to_bytes(2, "big")
    return bytes([0x80 | opcode]) + size + payload


def text_frame(text: str) -> bytes:
    return ws_frame(0x1, text.encode())


class Faulty:
    """Stands at a server address: answers HTTP with `http` (bytes) if set, else passes it to the
    real server; the event stream per `events`: "forward", "cut" (once, in the middle of the next
    frame), "handshake" (answer the upgrade with `handshake` bytes), or "frames" (a WebSocket that
    sends `frames`, then waits for `release`)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.http: bytes | None = None
        self.events = "forward"
        self.handshake = b""
        self.frames: list[bytes] = []
        self.release = asyncio.Event()
        self.cuts = 0
        self.event_connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Faulty:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        self.release.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"GET /api/events"):
                self.event_connections += 1
                await self._events(head, reader, writer)
            elif self.http is not None:
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))  # never reset a client still sending
                writer.write(self.http)
                await writer.drain()
            else:
                # One request per connection, so that a change of `http` applies to the next one.
                head = re.sub(rb"(?im)^connection:.*\r\n", b"", head)[:-2] + b"Connection: close\r\n\r\n"
                await self._forward(head, reader, writer, events=False)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # closing down: end quietly (a cancelled connection task is logged as an error)
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _events(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.events == "handshake":
            writer.write(self.handshake)
        elif self.events == "frames":
            match = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", head)
            assert match is not None
            accept = base64.b64encode(hashlib.sha1(match.group(1) + GUID).digest())
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + b"".join(self.frames)
            )
            await writer.drain()
            await self.release.wait()
        else:
            await self._forward(head, reader, writer, events=True)
        await writer.drain()

    async def _forward(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, events: bool
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        up_writer.write(head)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            handshake_passed = False
            while chunk := await src.read(65536):
                if down and handshake_passed and self.events == "cut" and len(chunk) >= 2:
                    self.events = "forward"  # once
                    self.cuts += 1
                    dst.write(chunk[: len(chunk) // 2])  # the middle of a frame, then nothing
                    await dst.drain()
                    return
                dst.write(chunk)
                await dst.drain()
                handshake_passed = handshake_passed or b"\r\n\r\n" in chunk

        pipes = [
            asyncio.create_task(pipe(reader, up_writer, False)),
            asyncio.create_task(pipe(up_reader, writer, events)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for p in pipes:
                p.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            up_writer.close()


def client_at(url: str, token: str, tmp_path: Path) -> HuddleApp:
    """Alex's client, for a server at `url` (the faulty one)."""
    cfg = Config(server=url, user="alex.kim", token=token)
    return make_app(cfg, config_file=tmp_path / "config.toml", data=tmp_path / "data")


def http(status: str, content_type: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


# (what the server answers, what the status line says, what the toast says)
GARBAGE = [
    (http("200 OK", "text/plain", b"hello"), "⚠ unexpected answer", "5 bytes that are not JSON"),
    (http("200 OK", "application/json", b"[]"), "⚠ unexpected answer", "boot should be an object, not a list"),
    (
        http("200 OK", "application/json", b'{"user": {"name": "alex.kim"}, "resume_point": 1, "users": 5}'),
        "⚠ unexpected answer",
        "boot.users should be a list, not a number",
    ),
    (
        http("200 OK", "application/json", b'{"user": {"name": "a"}, "resume_point": 1, "users": [{"id": 7}]}'),
        "⚠ unexpected answer",
        "boot.users[0].id should be text, not a number",
    ),
    (
        http("200 OK", "application/json", b'{"user": {"name": "a"}, "resume_point": true}'),
        "⚠ unexpected answer",
        "boot.resume_point should be a number, not true/false",
    ),
    (
        http(
            "200 OK",
            "application/json",
            b'{"user": {"name": "a"}, "resume_point": 1, "users": [{"id": "a", "name": "a"}, {"id": "b", "name": "b",'
            b' "team": false}]}',
        ),
        "⚠ unexpected answer",
        "boot.users[1].team should be text or null, not true/false",
    ),
    (
        http("200 OK", "text/html", b"<html><body>Welcome to nginx!</body></html>"),
        "⚠ unexpected answer",
        "a web page, not JSON: is this the address of a Huddle server?",
    ),
    (
        http("404 Not Found", "text/html", b"<html>[/oops] not here</html>"),
        "⚠ server error",
        "The server answered 404 Not Found with a web page",
    ),
    (
        http("502 Bad Gateway", "text/html", b"<html>Bad Gateway</html>"),
        "○ offline",
        "is unavailable (502 Bad Gateway)",
    ),
    (http("200 OK", "application/json", b'{"user": {', length=500), "○ offline", "broke off"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "⚠ unexpected answer", "an answer that is not HTTP"),
]


async def test_a_server_down_at_start_is_said_and_the_client_recovers_by_itself(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    app = client_for(server, "alex.kim", tmp_path)
    server.stop()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: "○ offline" in status(app), what="offline")
        await until(pilot, lambda: any(f"Cannot reach {server.url}. Retrying…" == t for t in toasts(app)))
        await pilot.pause(1.2)  # a retry or two: said once, not at every retry
        assert sum("Cannot reach" in t for t in toasts(app)) == 1
        server = server.restarted()
        try:
            await until(pilot, lambda: "● live" in status(app), within=8, what="live without a hand")
            await ready(pilot, app)
        finally:
            server.stop()


async def test_garbage_answers_are_said_and_the_client_recovers(server: LiveServer, tmp_path: Path) -> None:
    async with Faulty(server.port) as proxy:
        proxy.http = GARBAGE[0][0]
        app = client_at(proxy.url, server.token("alex.kim"), tmp_path)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            for answer, line, said in GARBAGE:
                proxy.http = answer
                app.reconnect()  # the Reconnect command: try again now
                await until(pilot, lambda s=said: any(s in t for t in toasts(app)), what=said)
                await until(pilot, lambda s=line: s in status(app), what=line)
                assert app.is_running
            proxy.http = None  # the server is sane again
            app.reconnect()
            await ready(pilot, app)


async def test_a_garbage_sign_in_answer_is_explained_on_the_sign_in_screen(server: LiveServer, tmp_path: Path) -> None:
    async with Faulty(server.port) as proxy:
        proxy.http = http("400 Bad Request", "text/plain", b"[/oops] refused [bold")
        app = client_at(proxy.url, "", tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, LoginScreen))
            app.screen.query_one("#password", Input).value = PASSWORDS["alex.kim"]
            await pilot.press("enter")  # in the password field
            await until(pilot, lambda: "[/oops] refused [bold." in login_error(app), what="shown as it is")
            proxy.http = http("200 OK", "text/html", b"<html>captive portal</html>")
            await pilot.press("enter")  # in the password field
            await until(pilot, lambda: "is this the address of a Huddle server?" in login_error(app), what="web page")
            app.screen.query_one("#server", Input).value = "127.0.0.1:8080"
            await pilot.press("enter")  # in the password field
            await until(pilot, lambda: "should start with http:// or https://" in login_error(app), what="address")
            app.screen.query_one("#server", Input).value = proxy.url
            proxy.http = None
            await pilot.press("enter")  # in the password field
            await ready(pilot, app)


GARBAGE_FRAMES = [
    text_frame("not json at all"),
    ws_frame(0x2, b"\x00\xff\xfe"),
    text_frame("[]"),
    text_frame('{"id": "seven", "data": {}}'),
    text_frame('{"id": 1000000000, "data": "x"}'),
    text_frame('{"id": 1000000001, "data": {"type": "presence", "event": "changed"}}'),
    text_frame('{"id": 1000000002, "data": {"type": "message", "event": "sent", "id": 5, "sender": "x"}}'),
    text_frame('{"id": 1000000003, "data": {"type": "call", "event": "ringing", "call_id": "c"}}'),
    text_frame(
        '{"id": 1000000004, "data": {"type": "presence", "event": "changed", "user": "jin.park",'
        ' "status": 5, "display_name": ["Jin"]}}'
    ),
    # A well-formed event after all that still arrives.
    text_frame(
        '{"type": "presence", "event": "changed", "user": "maya.chen", "display_name": "Maya Chen",'
        ' "status": "dnd", "last_seen": null, "ooo": null}'
    ),
]


async def test_a_garbage_event_stream_is_said_and_the_client_recovers(server: LiveServer, tmp_path: Path) -> None:
    async with Faulty(server.port) as proxy:
        app = client_at(proxy.url, server.token("alex.kim"), tmp_path)
        # The upgrade answered by a web page, then by bytes that are not HTTP at all.
        proxy.events, proxy.handshake = "handshake", http("200 OK", "text/html", b"<html>hi</html>")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await until(pilot, lambda: "maya.chen" in rows(app), what="booted")
            await until(pilot, lambda: "reconnecting" in status(app), what="refused upgrade")
            proxy.handshake = b"\x16\x03\x01garbage\r\n\r\n"
            seen = proxy.event_connections
            app.reconnect()
            await until(pilot, lambda: proxy.event_connections > seen, what="tried again")
            await until(pilot, lambda: "reconnecting" in status(app), what="garbage upgrade")
            refused = (
                "The server sent something unexpected on the event stream: 200 instead of a WebSocket"
                " (a proxy that does not pass WebSockets?); retrying."
            )
            assert [t for t in toasts(app) if "event stream" in t] == [refused]  # once, not at every retry
            # A WebSocket that sends garbage frames: skipped, said once, the good one still counts.
            proxy.events, proxy.frames = "frames", GARBAGE_FRAMES
            app.reconnect()
            await until(pilot, lambda: rows(app)["maya.chen"].startswith("⊘ Maya Chen"), what="good frame applied")
            assert "● live" in status(app)
            assert [t for t in toasts(app) if "event stream" in t] == [
                refused,
                "The server sent something unexpected on the event stream: a text frame that is not JSON; skipped it.",
            ]
            assert rows(app)["jin.park"].startswith("○ Jin Park")  # the wrong-typed event was not applied
            # A frame no WebSocket may send (a reserved opcode): the client drops the link.
            proxy.frames = [ws_frame(0x3, b"??")]
            proxy.release.set()
            await until(pilot, lambda: "reconnecting" in status(app), what="dropped")
            # The server is sane again: the client resumes and new events arrive.
            proxy.events = "forward"
            app.reconnect()
            await until(pilot, lambda: "● live" in status(app), what="live again")
            api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "sane again"})
            await until(pilot, lambda: rows(app)["maya.chen"].rstrip().endswith("1"), what="new message counted")
            assert app.is_running


async def test_a_stream_cut_mid_frame_reconnects_and_resumes(server: LiveServer, tmp_path: Path) -> None:
    maya = api(server, "maya.chen")
    async with Faulty(server.port) as proxy:
        app = client_at(proxy.url, server.token("alex.kim"), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await open_chat(pilot, app, "maya.chen")
            await ready(pilot, app)
            proxy.events = "cut"  # the next frame is cut in half, and the connection with it
            maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "cut in half"})
            await until(pilot, lambda: proxy.cuts == 1, what="cut")
            await until(pilot, lambda: proxy.event_connections >= 2, within=10, what="reconnected")
            await until(pilot, lambda: "● live" in status(app), what="live again")
            # The event lost in the cut is replayed from the resume point: shown once.
            await until(
                pilot, lambda: any("cut in half" in r for r in app.main.conversation.row_texts()), what="resumed"
            )
            maya.post("/api/v2/messages", json={"to": "alex.kim", "body": "after the cut"})
            await until(pilot, lambda: any("after the cut" in r for r in app.main.conversation.row_texts()))
            assert sum("cut in half" in r for r in app.main.conversation.row_texts()) == 1


async def test_a_garbage_answer_to_a_send_keeps_the_message_until_it_is_sent(
    server: LiveServer, tmp_path: Path
) -> None:
    maya = api(server, "maya.chen")
    async with Faulty(server.port) as proxy:
        app = client_at(proxy.url, server.token("alex.kim"), tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await open_chat(pilot, app, "maya.chen")
            await ready(pilot, app)
            proxy.http = http("200 OK", "text/html", b"<html>captive portal</html>")  # the event stream stays up
            await pilot.press(*"did this go?", "enter")
            await until(pilot, lambda: "⧗ 1 to send" in status(app), what="kept in the outbox")
            assert maya.get("/api/v2/messages", params={"from": "alex.kim"}).json()["messages"] == []
            proxy.http = None
            app.reconnect()  # back on line: what waited is sent
            await until(pilot, lambda: "to send" not in status(app), what="sent")
            sent = maya.get("/api/v2/messages", params={"from": "alex.kim"}).json()["messages"]
            assert [m["body"] for m in sent] == ["did this go?"]


async def test_text_that_looks_like_markup_is_shown_as_it_is(server: LiveServer, tmp_path: Path) -> None:
    app = client_for(server, "alex.kim", tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "jin.park")
        await ready(pilot, app)
        api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": "[/oops] hi [bold"})
        await until(pilot, lambda: ("message", "Maya Chen: [/oops] hi [bold") in app.alerts, what="alert")
        await until(pilot, lambda: any("[/oops] hi [bold" in str(t.render()) for t in app.screen.query("Toast")))
        await open_chat(pilot, app, "maya.chen")
        await until(
            pilot, lambda: any("[/oops] hi [bold" in r for r in app.main.conversation.row_texts()), what="shown"
        )
        assert app.is_running


async def test_a_data_directory_that_cannot_be_written_still_sends(server: LiveServer, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the data directory should be")
    cfg = Config(server=server.url, user="alex.kim", token=server.token("alex.kim"))
    app = make_app(cfg, config_file=tmp_path / "config.toml", data=blocked / "data")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await open_chat(pilot, app, "maya.chen")
        await pilot.press(*"still here", "enter")
        maya = api(server, "maya.chen")
        await until(
            pilot,
            lambda: (
                [m["body"] for m in maya.get("/api/v2/messages", params={"with": "alex.kim"}).json()["messages"]]
                == ["still here"]
            ),
            what="sent",
        )
        assert any("Cannot keep unsent messages" in t for t in toasts(app))
        await pilot.press(*"and again", "enter")
        await until(pilot, lambda: not any("⧗" in r for r in app.main.conversation.row_texts()), what="both sent")
        assert sum("Cannot keep unsent messages" in t for t in toasts(app)) == 1  # said once

"""`huddle-server serve` in a subprocess for tests about the process, and raw sockets to talk to it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.live import load_team


class Served:
    """`huddle-server serve` in a subprocess, on a free port."""

    def __init__(self, tmp: Path, *flags: str) -> None:
        db = tmp / "huddle.db"
        load_team(db)
        env = {"XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config"), "PATH": ""}
        command = [sys.executable, "-m", "server", "serve", "--db", str(db), "--port", "0", *flags]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + self.process.stderr.read()
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[-1])
        self.db = db
        self.tokens: dict[str, str] = {}

    def token(self, handle: str) -> str:
        """A token as the operator makes one (one per handle)."""
        if handle not in self.tokens:
            command = [sys.executable, "-m", "server", "token", "--db", str(self.db), handle]
            self.tokens[handle] = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        return self.tokens[handle]

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=10)


def connect(port: int) -> socket.socket:
    """A raw client connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    start, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - start

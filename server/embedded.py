"""The one way the app runs under uvicorn: `huddle-server serve` in the foreground, and an embedded
server in a thread on 127.0.0.1 for the demo, the tests and the benchmarks' in-process servers.

Both bind their socket with `bind` and run `server.app.Server` with `uvicorn_config(settings, …)`,
so an embedded server has `serve`'s request deadline, head cap, frame writer and limits.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Self, TypeVar

from fastapi import FastAPI

from server.app import Server, create_app, uvicorn_config
from server.domain.clock import Clock
from server.domain.core import Domain
from server.settings import Settings

T = TypeVar("T")
BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 picks a free port); IPv6 when the host is an IPv6 address.

    Listening before the server starts: connections made meanwhile wait in the backlog instead of
    being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say they are TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


class EmbeddedServer:
    """The real app under uvicorn in a thread of this process, on 127.0.0.1 (a free port unless given).

    `options` override uvicorn's configuration (`log_level`, `http`, …).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        app: FastAPI | None = None,
        port: int = 0,
        **options: Any,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.app = app or create_app(settings, clock=clock)
        self.sock = bind("127.0.0.1", port)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn_config(settings, self.app, **({"log_level": "warning", "lifespan": "on"} | options))
        self.server = Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="huddle-embedded", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[self.sock])

    def start(self, timeout: float = 15.0) -> Self:
        """Start serving; returns once the app has started (RuntimeError if it does not within `timeout`)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving (open event streams end at once) and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(timeout=timeout)
        self.sock.close()

    @property
    def domain(self) -> Domain:
        """The running app's domain."""
        domain: Domain = self.app.state.domain
        return domain

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run a coroutine on the server's event loop (e.g. `domain.tick()`) and wait for its result."""
        assert self.loop is not None, "not started"
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=timeout)

"""create_app(settings): the FastAPI application with its lifespan; uvicorn_config: how `serve` runs it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from server import __version__
from server.connections import FrameWriter, http_protocol
from server.dialects import convos, esn, huddle, pilcrow, v2, v2_chat
from server.dialects.base import Dialects
from server.dialects.common import BodyLimit, HostCheck, install_error_handlers
from server.dialects.esn_mail import mail_reader
from server.dialects.events import render
from server.dialects.origins import host_names, normal_origin
from server.domain.clock import Clock
from server.domain.core import Domain
from server.settings import Settings
from server.store.open import open_store


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the server. The store and domain open in the lifespan and live on app.state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.db, synchronous=settings.synchronous)
        domain = Domain(store, settings, render, clock)
        app.state.domain = domain
        app.state.mail = mail_reader(settings)
        await domain.start()
        if settings.setup_token and await domain.accounts.needs_setup():
            # serve's own words, not a log line: the operator needs it whatever the log level.
            print(
                "huddle-server: no user yet. Set up with POST /api/setup from this machine, or from elsewhere with "
                f"the header X-Setup-Token: {settings.setup_token} (good for one setup, until restart)",
                file=sys.stderr,
                flush=True,
            )
        try:
            yield
        finally:
            await domain.stop()
            app.state.mail.close()
            store.close()

    app = FastAPI(
        title="Huddle server",
        version=__version__,
        summary="Presence, direct messages, calls and events for terminal teams.",
        lifespan=lifespan,
        # Huddle exports no OpenTelemetry; left on, FastAPI asks the global providers whether
        # one is set up on every request (bench W4).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # Routes are tried in this order; paths no dialect owns answer in the v2 shape.
    dialects = Dialects(
        (v2.DIALECT, v2_chat.DIALECT, pilcrow.DIALECT, huddle.DIALECT, convos.DIALECT, esn.DIALECT), v2.DIALECT
    )
    app.state.dialects = dialects
    # Innermost first: the send lane sits inside the body checks (see v2.SendLane).
    app.add_middleware(v2.SendLane)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes or sys.maxsize, dialects=dialects)
    app.add_middleware(convos.ConvoPaths)
    app.add_middleware(HostCheck, names=host_names(settings.host, settings.allowed_hosts), dialects=dialects)
    app.state.allow_origins = frozenset(normal_origin(o) for o in settings.allow_origins)
    install_error_handlers(app, dialects)
    # The routes go straight onto the app's router: include_router wraps each router in another
    # layer that matches every request twice (~100 µs a request).
    app.router.routes.extend(dialects.routes())
    return app


# ---- how `serve` runs it ----------------------------------------------------------------
class Server(uvicorn.Server):
    """uvicorn's server, ending the app's event streams as soon as it starts shutting down.

    uvicorn lets open responses finish before the lifespan shutdown (which would close the
    streams), for up to timeout_graceful_shutdown; an SSE response never finishes by itself,
    so stopping with one open took those 3 s and logged an ERROR with the cancelled task's
    traceback. Closing the subscriptions first ends each SSE response and WebSocket at once.
    """

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        """Close the event streams, then shut down as uvicorn does."""
        state = getattr(self.config.app, "state", None)
        domain = getattr(state, "domain", None)
        if domain is not None:
            domain.hub.close_all()
        await super().shutdown(sockets)


def uvicorn_config(settings: Settings, app: FastAPI | None = None, **options: Any) -> uvicorn.Config:
    """The app under uvicorn with the connection limits of the settings (0 = off); `options` override."""
    limits: dict[str, Any] = {
        "http": http_protocol(settings.timeout_request, max_head_bytes=settings.max_head_bytes),
        # h11 (when httptools is missing) keeps an unfinished head up to this size itself.
        "h11_max_incomplete_event_size": settings.max_head_bytes or None,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "limit_concurrency": settings.limit_concurrency or None,
        "timeout_graceful_shutdown": 3,
        # Events are small JSON frames written identically to many sockets; per-socket
        # compression would re-encode each frame once per subscriber (bench W2: ~10 % of
        # the server's time at 1,000 subscribers).
        "ws_per_message_deflate": False,
        "ws": FrameWriter,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
    }
    return uvicorn.Config(app or create_app(settings), **(limits | options))

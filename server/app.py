"""create_app(settings): the FastAPI application with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server import __version__
from server.dialects import convos, esn, huddle, pilcrow, v2
from server.dialects.common import BodyLimit, install_error_handlers
from server.domain.clock import Clock
from server.domain.core import Domain
from server.settings import Settings
from server.store.sqlite import SqliteStore


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the server. The store and domain open in the lifespan and live on app.state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqliteStore(settings.db, synchronous=settings.synchronous)
        domain = Domain(store, settings, clock)
        app.state.domain = domain
        await domain.start()
        try:
            yield
        finally:
            await domain.stop()
            store.close()

    app = FastAPI(
        title="Huddle server",
        version=__version__,
        summary="Presence, direct messages, calls and events for terminal teams.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(convos.ConvoPaths)
    install_error_handlers(app)
    app.include_router(v2.router)
    app.include_router(pilcrow.router)
    app.include_router(huddle.router)
    app.include_router(convos.router)
    app.include_router(esn.router)
    return app

"""The Convos dialect (seed 002)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.types import ASGIApp, Receive, Scope, Send

router = APIRouter(tags=["convos"])


class ConvoPaths:
    """Convos paths are case-insensitive: rewrite /api/convo/... to the routes' spelling."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

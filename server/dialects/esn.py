"""The ESN activity streams dialect (seed 004)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["esn"])

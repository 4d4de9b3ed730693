"""Queries for the Convos dialect (mixed into Repo)."""

from __future__ import annotations

from sqlalchemy import Connection


class ConvoQueries:
    """Table access for convos; `conn` is the transaction's connection."""

    conn: Connection

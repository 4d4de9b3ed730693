"""Presence words and glyphs, computed from timestamps so they age between events."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from huddle_tui import untrusted
from huddle_tui.records import Contact, OooEntry

LEAVES = {"medical_leave": "medical leave", "parental_leave": "parental leave", "leave": "on leave"}
# Away this long (or never seen) reads as offline.
LONG_IDLE = timedelta(hours=12)
# The server out of reach this long: "active now" is no longer known to be true.
STALE_AFTER = timedelta(seconds=15)


def as_shown(contact: Contact, last_known: datetime | None) -> Contact:
    """The contact as the screen should show them: when presence is only known as of
    `last_known` (State.presence_last_known), someone active then is shown as that (`stale`),
    never as "active now"."""
    if last_known is None or contact.status != "active":
        return contact
    return replace(contact, status="stale", last_seen=last_known)


def state(contact: Contact, now: datetime) -> str:
    """One word: active | away | dnd | leave | offline | stale (last known active)."""
    if contact.status == "stale":
        return "stale"
    if contact.status in LEAVES:
        return "leave"
    if contact.status == "dnd":
        return "dnd"
    if contact.status == "active":
        return "active"
    if contact.last_seen is None or now - contact.last_seen > LONG_IDLE:
        return "offline"
    return "away"


GLYPHS = {"active": "●", "away": "◒", "dnd": "⊘", "leave": "☂", "offline": "○", "stale": "◌"}
RANK = {"active": 0, "stale": 1, "away": 1, "dnd": 2, "leave": 3, "offline": 4}


def glyph(contact: Contact, now: datetime) -> str:
    """The presence glyph (always shown with a word or colour class, never alone)."""
    return GLYPHS[state(contact, now)]


def age(then: datetime | None, now: datetime) -> str:
    """Compact age: now, 5m, 3h, 2d, Mar 3; blank when unknown."""
    if then is None:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h"
    if seconds < 7 * 86_400:
        return f"{seconds // 86_400}d"
    return then.astimezone().strftime("%b %-d")


def ago(then: datetime, now: datetime) -> str:
    """`3h ago`, `just now`, `2d ago`, `on Mar 3`."""
    short = age(then, now)
    if short == "now":
        return "just now"
    if short[-1] in "mhd" and short[:-1].isdigit():
        return f"{short} ago"
    return f"on {short}"


def sentence(contact: Contact, now: datetime) -> str:
    """The full presence line of a conversation header."""
    word = state(contact, now)
    label = LEAVES.get(contact.status, word)
    if word == "active":
        return "active now"
    if contact.last_seen is None:
        return label if word != "offline" else "offline · never seen"
    seen = contact.last_seen.astimezone()
    clock = seen.strftime("%H:%M") if now - contact.last_seen < timedelta(days=1) else seen.strftime("%a %-d %b %H:%M")
    if word == "stale":
        return f"active when last known, {ago(contact.last_seen, now)} ({clock}) · the server is out of reach"
    return f"{label} · seen {ago(contact.last_seen, now)} ({clock})"


def ooo_until(ooo: OooEntry) -> str:
    """`Out of office until Fri 19 Apr — <message>` (the message through the door, one line)."""
    text = "Out of office"
    if ooo.end is not None:
        text += f" until {ooo.end.astimezone().strftime('%a %-d %b')}"
    shown = untrusted.line(ooo.message, limit=280)
    if shown:
        text += f" — {shown}"
    return text


def ooo_short(ooo: OooEntry) -> str:
    """`✈ OOO until Fri 19 Apr` (or `✈ OOO` with no end): a status line's words."""
    until = f" until {ooo.end.astimezone().strftime('%a %-d %b')}" if ooo.end is not None else ""
    return f"✈ OOO{until}"


def sort_key(contact: Contact, now: datetime) -> tuple[int, int, str]:
    """Unread first, then active, away, the rest; by name."""
    return (0 if contact.unread else 1, RANK[state(contact, now)], contact.name.lower())

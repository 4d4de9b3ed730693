"""The door for other people's text, rule by rule."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huddle_tui import untrusted
from tests.support.hostile import CORPUS, EVERYTHING, HOSTILE_NAME

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(("label", "value"), sorted(CORPUS.items()))
def test_no_control_byte_gets_through(label: str, value: str) -> None:
    for shown in (untrusted.text(value), untrusted.line(value), untrusted.name(value), untrusted.notification(value)):
        assert not RAW.search(shown), label


@given(st.text(max_size=300))
def test_nothing_raw_ever_comes_out(value: str) -> None:
    assert not RAW.search(untrusted.text(value))
    assert not RAW.search(untrusted.line(value) + untrusted.name(value))
    assert "\n" not in untrusted.line(value) + untrusted.name(value) + untrusted.notification(value)


def test_controls_become_their_pictures() -> None:
    assert untrusted.text("a\x1b]2;x\x07b") == "a␛]2;x␇b"
    assert untrusted.text("\x00\x08\x18\x1a\x7f") == "␀␈␘␚␡"
    assert untrusted.text("one\r\ntwo\rthree") == "one\ntwo␍three"  # CRLF is a line break; CR alone is shown
    assert untrusted.text("\x9b2J\x9d0;t\x9c") == "�2J�0;t�"  # 8-bit CSI, OSC, ST
    assert untrusted.text("a\tb") == "a    b"
    assert untrusted.text("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert untrusted.text("x\u2028y") == "x\ny"


def test_bidi_controls_are_shown_not_obeyed() -> None:
    assert untrusted.text("file \u202egnp.exe\u202c") == "file ⟨RLO⟩gnp.exe⟨PDF⟩"
    assert untrusted.name("\u2067abc\u2069") == "⟨RLI⟩abc⟨PDI⟩"


def test_markup_is_left_as_text() -> None:
    for value in ("[/]", "[b]x", "[@click=app.quit]q[/]", "[link=http://x]y[/link]"):
        assert untrusted.text(value) == value
        assert untrusted.name(value) == value


def test_names_hide_nothing() -> None:
    assert untrusted.name("Ma\u200bya\u2060 Chen\ufeff") == "Maya Chen"
    assert untrusted.name("Maya\u00a0\u3000 Chen ") == "Maya Chen"
    assert untrusted.name("Maya\nChen") == "Maya␤Chen"
    assert untrusted.name("\u200d") == "?"
    assert untrusted.name("👩\u200d💻 Maya") == "👩\u200d💻 Maya"  # an emoji sequence keeps its joiner
    assert untrusted.name("👍🏽\u200d") == "👍🏽"  # a joiner joining nothing goes
    assert untrusted.name("x" * 500) == "x" * 63 + "…"
    assert untrusted.name(HOSTILE_NAME) == "Maya␛]2;PWNED-NAME␇ [/] [@click=app.quit]Chen ⟨RLO⟩nehC␤�2J"


def test_sizes_are_bounded() -> None:
    long = untrusted.text("y" * 100_000)
    assert long.startswith("y" * untrusted.BODY_LIMIT)
    assert long.endswith("… 80,000 more characters not shown")
    assert len(untrusted.line("z" * 100_000)) == untrusted.LINE_LIMIT
    assert len(untrusted.notification(EVERYTHING * 10)) <= untrusted.NOTIFY_LIMIT
    assert untrusted.text("e" + "\u0301" * 500) == "e" + "\u0301" * 4  # no towers of accents


def test_notification_text_cannot_add_fields_or_markup() -> None:
    assert untrusted.notification("a;b <b>&</b>\nc") == "a,b ‹b›+‹/b› c"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Maya Chen", "Maya Chen"),
        ("Maya Chen", "M\u0430ya Chen"),  # Cyrillic а
        ("Maya Chen", "\u039c\u0391\u03a5\u0391 CHEN"),  # Greek capitals
        ("Maya Chen", "maya.chen"),
        ("Maya Chen", "Maya  Ch\u00e9n"),
        ("Maya Chen", "rnaya chen"),
        ("Maya Chen", "Maya Chen (maya.chen)"),  # begins with the other's words
    ],
)
def test_lookalike_names_have_the_same_likeness(one: str, other: str) -> None:
    a, b = untrusted.likeness(one), untrusted.likeness(other)
    assert a == b[: len(a)]


def test_different_names_do_not_look_alike() -> None:
    assert untrusted.likeness("Sam") != untrusted.likeness("Samantha Lee")[:1]
    assert untrusted.likeness("Jin Park") != untrusted.likeness("Maya Chen")

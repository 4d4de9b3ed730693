"""Markdown in messages, drawn safely; a cursor on the log to copy a message or open its link."""

from __future__ import annotations

from pathlib import Path

import pytest

from huddle_tui.widgets.markdown import links, render
from tests.huddle_tui.test_app import SIZE, api, client_for, open_chat, until
from tests.support import LiveServer


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("**bold** and _it_ and `code`", "bold and it and code"),
        ("[docs](https://example.com/a)", "docs ⟨https://example.com/a⟩"),  # the target is always in sight
        ("https://example.com", "https://example.com"),  # a bare link shows once
        ("[https://good.example](https://evil.example)", "https://good.example ⟨https://evil.example⟩"),
        ("> quoted\n> more", "▎ quoted\n▎ more"),
        ("- one\n- two", "• one\n• two"),
        ("1. a\n2. b", "1. a\n2. b"),
        ("```\nx = 1\n```", "x = 1"),
        ("<b>not html</b> [@click=app.quit]", "<b>not html</b> [@click=app.quit]"),
        ("line one\nline two", "line one\nline two"),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),  # not a link at all
    ],
)
def test_markdown_renders_to_plain_content(source: str, shown: str) -> None:
    assert render(source).plain == shown


def test_code_is_highlighted_and_bold_is_bold() -> None:
    content = render("```python\ndef f():\n    return 1\n```\n**b**")
    styles = {str(span.style) for span in content.spans}
    assert any("$accent" in s for s in styles)  # the keyword
    assert "bold" in styles


def test_links_lists_what_can_be_opened_first() -> None:
    assert links("[a](ftp://x) [b](https://b.example) mailto:me@x.example") == [
        "https://b.example",
        "mailto:me@x.example",
        "ftp://x",
    ]


async def test_markdown_in_the_chat_and_the_message_cursor(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "**deploy** at `16:00`, see [runbook](https://runbook.example/deploy)"
    api(server, "maya.chen").post("/api/v2/messages", json={"to": "alex.kim", "body": body})
    app = client_for(server, "alex.kim", tmp_path)
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: opened.append(url))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "maya.chen")
        expected = "deploy at 16:00, see runbook ⟨https://runbook.example/deploy⟩"
        await until(pilot, lambda: any(expected in r for r in app.main.conversation.row_texts()), what="rendered")
        assert not any("**" in r for r in app.main.conversation.row_texts())
        await pilot.press("escape")  # from the composer to the message cursor
        log = app.main.conversation.log_view
        assert app.focused is log
        assert log.cursor is not None
        assert log.cursor.message.body == body
        await pilot.press("o")
        assert opened == ["https://runbook.example/deploy"]
        await pilot.press("c")
        assert app.clipboard == body
        await pilot.press("escape")
        assert app.focused is app.main.conversation.composer

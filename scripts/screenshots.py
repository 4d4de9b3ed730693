"""Regenerate screenshots/ from the real app against a real server: SVG, and PNG when Chromium is here.

.venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.scenes import SIZE, Scene, open_chat, wait  # noqa: E402

OUT = ROOT / "screenshots"


async def shoot(scene: Scene) -> list[Path]:
    """The main screen, the OOO banner, the unanswered-call alert, the OOO form, a live call,
    the main screen at 80×24, chat basics and search."""
    shots = []
    app = scene.client(stale_hours=2)  # the hint shows after 2 h of silence
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "maya.chen")
        await wait(pilot, lambda: any("✓✓" in r for r in app.main.conversation.row_texts()))
        shots.append(Path(app.save_screenshot("main.svg", str(OUT))))
        await open_chat(pilot, app, "jin.park")
        await wait(pilot, lambda: app.main.conversation.banner.display and app.main.conversation.hint.display)
        shots.append(Path(app.save_screenshot("ooo-banner.svg", str(OUT))))
        await pilot.press("ctrl+k")
        await wait(pilot, lambda: "ringing" in str(app.main.conversation.header.render()))
        scene.at("2024-03-15T18:24:31Z")  # nobody answered within the ring timeout
        await wait(pilot, lambda: any(kind == "no_answer" for kind, _ in app.alerts))
        shots.append(Path(app.save_screenshot("call-no-answer.svg", str(OUT))))
        await pilot.press("ctrl+o")
        await wait(pilot, lambda: app.screen is not app.main and app.screen.query("#ooo-list"))
        screen = app.screen
        screen.query_one("#start").value = "2024-03-25"  # type: ignore[attr-defined]
        screen.query_one("#end").value = "2024-03-29"  # type: ignore[attr-defined]
        screen.query_one("#message").value = "at the offsite, slow to answer"  # type: ignore[attr-defined]
        await pilot.pause(0.3)
        shots.append(Path(app.save_screenshot("ooo-form.svg", str(OUT))))
        await pilot.press("escape")
        app.clear_notifications()
        # Maya calls back 75 s before the scene's moment; Alex answers with ctrl+k from the chat.
        await open_chat(pilot, app, "maya.chen")
        scene.at("2024-03-15T18:22:45Z")
        scene.http("maya.chen").post("/api/v2/calls", json={"to": "alex.kim", "type": "audio"})
        await wait(pilot, lambda: app.main.call_banner.display)
        await pilot.press("ctrl+k")
        await wait(pilot, lambda: "on a call" in str(app.main.status_bar.render()))
        app.clear_notifications()
        await pilot.pause(0.3)
        shots.append(Path(app.save_screenshot("live-call.svg", str(OUT))))
    small = scene.client(stale_hours=2)
    async with small.run_test(size=(80, 24), notifications=True) as pilot:
        await open_chat(pilot, small, "maya.chen")
        await wait(pilot, lambda: any("✓✓" in r for r in small.main.conversation.row_texts()))
        shots.append(Path(small.save_screenshot("small-80x24.svg", str(OUT))))
    shots += await chat_basics(scene)
    return shots


async def chat_basics(scene: Scene) -> list[Path]:
    """Markdown, an edit, a reply with its quote, reactions, typing and the message cursor; then
    search."""
    sam, alex_http = scene.http("sam.ortiz"), scene.http("alex.kim")
    body = "the failover runbook is [here](https://wiki.example/failover); **step 2** bites: run `pg_ctl promote` first"
    runbook = sam.post("/api/v2/messages", json={"to": "alex.kim", "body": body}).json()["message_id"]
    app = scene.client()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_chat(pilot, app, "sam.ortiz")
        await wait(pilot, lambda: any("step 2" in r for r in app.main.conversation.row_texts()))
        await pilot.press("escape", "r", *"thanks, I'll take step 2 tonight", "enter")
        await wait(pilot, lambda: any("tonight" in r and "↪" in r for r in app.main.conversation.row_texts()))
        reply = app.main.conversation.log_view.rows()[-1].message.id
        sam.put(f"/api/v2/messages/{reply}/reactions/👍")
        alex_http.put(f"/api/v2/messages/{runbook}/reactions/🙏")
        sam.patch(f"/api/v2/messages/{runbook}", json={"body": body.replace("first", "first, then wait for the WAL")})
        await wait(pilot, lambda: sum("(edited)" in r or "👍 1" in r for r in app.main.conversation.row_texts()) >= 2)
        sam.post("/api/v2/typing", json={"to": "alex.kim"})
        await wait(pilot, lambda: app.main.conversation.typing_line.display)
        await pilot.press("escape", "up")  # the message cursor, on Sam's runbook
        app.clear_notifications()
        await pilot.pause(0.3)
        shots = [Path(app.save_screenshot("chat-basics.svg", str(OUT)))]
        await pilot.press("escape", "ctrl+g", *"jin", "enter")
        await wait(
            pilot, lambda: app.screen.query("#search-results") and app.screen.query_one("#search-results").option_count
        )  # type: ignore[attr-defined]
        await pilot.pause(0.3)
        shots.append(Path(app.save_screenshot("search.svg", str(OUT))))
    return shots


def to_png(svg: Path) -> Path | None:
    """Render an SVG to PNG with headless Chromium, if it is installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    png = svg.with_suffix(".png")
    html = svg.with_suffix(".html")
    html.write_text(
        f"<html><body style='margin:0;background:#0c0c0c'><img src='{svg.name}' style='width:1460px'></body></html>"
    )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *flags,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                "--window-size=1460,930",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    html.unlink()
    return png


def main() -> int:
    """Shoot, convert, report."""
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scene = Scene(Path(tmp))
        try:
            scene.story()
            shots = asyncio.run(shoot(scene))
        finally:
            scene.stop()
    for svg in shots:
        png = to_png(svg)
        print(svg.relative_to(ROOT), "and", png.relative_to(ROOT) if png else "(no Chromium: no PNG)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

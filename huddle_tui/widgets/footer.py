"""The main screen's key footer: what Textual's Footer shows, drawn as one line by one widget."""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


def _bindings(node: object) -> list[Binding]:
    """The bindings a screen or app class declares, in order."""
    out = []
    for item in getattr(type(node), "BINDINGS", []):
        if isinstance(item, Binding):
            out.append(item)
    return out


class Key(NamedTuple):
    """One key as the footer shows it."""

    key: str
    display: str
    description: str
    enabled: bool


class KeyFooter(Widget):
    """The keys of the screen's active bindings, as Textual's Footer lists them (one per action,
    the command palette's last and on the right), on one line, clickable, disabled ones dim.

    Textual's Footer is a widget per key, and each key runs style passes as it mounts and
    whenever the footer re-composes (focus moving about at start-up re-composes it several
    times): ~60 ms of a start with 2,000 contacts (bench C1, the main screen without any
    footer against with Footer). This draws the same keys as text in one widget; the theme's
    footer colours style it.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description", "key-footer--palette"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-footer--palette {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: list[Key] = []
        self.palette: Key | None = None
        # Where each key was drawn, for clicks: (first cell, end cell, key).
        self._cells: list[tuple[int, int, Key]] = []

    def on_mount(self) -> None:
        """Follow the screen's bindings."""
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        """Stop following them."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """Redraw when the keys shown change."""
        if not self.is_attached or screen is not self.screen:
            return
        app = screen.app
        keys: dict[str, Key] = {}
        palette: Key | None = None
        for name, (_, binding, enabled, _tip) in screen.active_bindings.items():
            if binding.show and binding.action not in keys:
                keys[binding.action] = Key(binding.key, app.get_key_display(binding), binding.description, enabled)
            if name == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = Key(binding.key, app.get_key_display(binding), binding.description, enabled)
        # The keys of what has focus (the message cursor's reply, edit…) first: they are what the
        # reader is about to press, and a narrow terminal would cut them off at the end. Then the
        # screen's and the app's, always in the order they declare them, whatever has focus
        # (Textual's Footer follows the focus chain, so its order moved as focus moved).
        declared = [b.action for b in (*_bindings(screen), *_bindings(app))]
        rank = {action: i for i, action in reversed(list(enumerate(declared)))}
        shown = [key for _, key in sorted(keys.items(), key=lambda item: rank.get(item[0], -1))]
        if (shown, palette) != (self.keys, self.palette):
            self.keys, self.palette = shown, palette
            self.refresh()

    def _key_text(self, key: Key, key_style: Style, description_style: Style) -> Text:
        dim = Style(dim=not key.enabled)
        return Text.assemble((f" {key.display} ", key_style + dim), (f"{key.description} ", description_style + dim))

    def render(self) -> Text:
        """The keys left to right, the command palette's at the right edge."""
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        cells: list[tuple[int, int, Key]] = []
        for key in self.keys:
            start = line.cell_len
            line.append_text(self._key_text(key, key_style, description_style))
            cells.append((start, line.cell_len, key))
        if self.palette is not None:
            right = Text("▏", style=self.get_component_rich_style("key-footer--palette"), end="")
            right.append_text(self._key_text(self.palette, key_style, description_style))
            gap = self.size.width - line.cell_len - right.cell_len
            if gap > 0:
                line.append(" " * gap)
                cells.append((line.cell_len + 1, line.cell_len + right.cell_len, self.palette))
                line.append_text(right)
        self._cells = cells
        return line

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it (the bell when its binding is disabled)."""
        for start, end, key in self._cells:
            if start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return

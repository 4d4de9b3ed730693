"""Textual's Footer, recomposed only when what it shows changes."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Footer re-composes all its keys (each a widget with a style pass) whenever the screen's
    bindings are updated, and focus moving about at start-up updates them several times without
    changing a single key shown: ~100 ms of start-up (bench C1). This one skips an update that
    shows the same keys, in the same state, as the last one it drew. Textual is pinned exactly;
    the snapshot tests show the footer."""

    _shown: Any = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """Recompose as Footer does, unless the keys shown are those already drawn."""
        will_draw = screen.app.app_focus and self.is_attached and screen is self.screen
        palette = screen.app.COMMAND_PALETTE_BINDING
        shown = [
            (key, binding.action, binding.description, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
            if binding.show or key == palette
        ]
        if will_draw and shown == self._shown:
            return
        if will_draw:
            self._shown = shown
        super().bindings_changed(screen)

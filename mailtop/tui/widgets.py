"""Small display helpers shared by the panels: status labels, bars, tables updated in place by key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from mailtop.model import Status
from mailtop.tui.plain import human_bytes

__all__ = ["KeyBar", "bar", "cursor_key", "human_bytes", "status_text", "sync_table"]

# Colour is a second channel only: the label says it in words (NO_COLOR, colour blindness).
_STATUS = {
    Status.OK: (" OK ", "green"),
    Status.WARNING: ("WARN", "bold yellow"),
    Status.CRITICAL: ("CRIT", "bold red"),
    Status.UNKNOWN: ("UNKN", "bold magenta"),
}


def status_text(status: Status) -> Text:
    label, style = _STATUS[status]
    return Text(label, style=style)


def bar(fraction: float, width: int = 20, warn: float = 0.9, crit: float = 0.98) -> Text:
    """``[#######.....]``-style bar (block characters; still readable without colour)."""
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    style = "red" if fraction >= crit else "yellow" if fraction >= warn else "green"
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def cursor_key(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except (RowDoesNotExist, IndexError):
        return None


def sync_table(table: DataTable, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Show ``rows`` (``(key, cells)`` in display order) keeping the cursor on the same key.

    When the keys and their order are unchanged only the cells that changed are updated (no flicker,
    the scroll position stays); otherwise the table is rebuilt and the cursor put back on its key.
    """
    keys = [k for k, _ in rows]
    current = [rk.value for rk in table.rows]
    columns = list(table.columns)
    if keys == current:
        for key, cells in rows:
            old = table.get_row(key)
            for col, (before, after) in zip(columns, zip(old, cells, strict=False), strict=False):
                if before != after:
                    table.update_cell(key, col, after)
        return
    keep = cursor_key(table)
    row_before, scroll_y = table.cursor_row, table.scroll_y
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if not rows:
        return
    if keep is not None and keep in set(keys):
        target = table.get_row_index(keep)
    else:
        target = min(row_before, len(rows) - 1)
    table.move_cursor(row=target, animate=False, scroll=False)
    table.scroll_to(y=scroll_y, animate=False)
    table.move_cursor(row=target, animate=False)


class KeyBar(Widget):
    """The footer: the keys that work now (focused widget, its panel, the app), drawn as one line of text.

    Textual's ``Footer`` recomposes after every change of the bindings (each focus change: a panel
    switch, opening or closing the filter): it removes its ``FooterKey`` widgets and mounts new ones,
    which cost 40-100 ms of the UI's event loop per key under load, a re-layout of the screen, and kept
    the dead keys alive through ``data_bind`` watchers (a leak). This bar only re-renders its one line,
    and only when the keys shown change. It looks like the compact ``Footer`` (same colour variables);
    a click on a key presses it.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        & > .keybar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .keybar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .keybar--disabled { text-style: dim; }
    }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.keys: tuple[tuple[str, str, str, bool], ...] = ()
        """(key, key as shown, description, enabled) of each key shown, in order."""
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        if screen is not self.screen:
            return
        keys: list[tuple[str, str, str, bool]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show or binding.action in seen:  # one key per action, as Footer shows
                continue
            seen.add(binding.action)
            keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        if tuple(keys) != self.keys:
            self.keys = tuple(keys)
            self.refresh()  # one line, fixed size: a repaint, never a layout

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keybar--key")
        desc_style = self.get_component_rich_style("keybar--description")
        dim = self.get_component_rich_style("keybar--disabled")
        text = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        for key, shown, description, enabled in self.keys:
            start = text.cell_len
            ks, ds = (key_style, desc_style) if enabled else (key_style + dim, desc_style + dim)
            text.append(shown, ks)
            if description:
                text.append(" " + description, ds)
            self._spans.append((start, text.cell_len, key))
            text.append(" ")
        return text

    def on_click(self, event: Any) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                enabled = next((k[3] for k in self.keys if k[0] == key), True)
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return

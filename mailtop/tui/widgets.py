"""Small display helpers shared by the panels: status labels, bars, tables updated in place by key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer
from textual.widgets.data_table import RowDoesNotExist

from mailtop.model import Status
from mailtop.tui.plain import human_bytes

__all__ = ["MailtopFooter", "bar", "cursor_key", "human_bytes", "status_text", "sync_table"]

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


class MailtopFooter(Footer):
    """Textual's ``Footer`` without its leak: it recomposes its keys whenever the bindings change (every
    focus change) and binds each new key's ``compact`` to itself (``data_bind``); the footer keeps the
    watcher, and so the widget, of every key it ever made. 100 key presses left 2,260 dead keys alive,
    which made every full garbage collection slower (100+ ms) and memory grow. Before composing new
    keys, drop the watchers of keys no longer attached."""

    def compose(self) -> ComposeResult:
        watchers = getattr(self, "__watchers", None)  # textual.reactive._watch stores them under this name
        if isinstance(watchers, dict) and watchers.get("compact"):
            watchers["compact"][:] = [(node, cb) for node, cb in watchers["compact"]
                                      if getattr(node, "is_attached", False)]
        yield from super().compose()

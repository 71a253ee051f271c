"""A table that draws only the rows on screen (Line API), for the Queue panel's up to 1,000 messages.

Textual's ``DataTable`` measures every cell of every row when rows change (1,000 rows x 8 cells cost
~170 ms per refresh plus ~200 ms of re-measuring on idle); this table keeps the rows as tuples of
display-safe strings and turns only the visible ones into segments when it paints, so replacing all
rows costs about the same as building a list. Fixed column widths, the last column takes the rest.

Rows are keyed (the first item of a row is its key): the cursor stays on its key when the rows are
replaced (a refresh, a new sort), and on the same line when its row left. A click on the header posts
:class:`RowTable.HeaderSelected`; a click on a row moves the cursor there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None
    """Cells wide; None: what is left of the line (at least 8)."""
    justify: str = "left"


Cell = tuple[str, str]
"""(display-safe text, style name)."""


@lru_cache(maxsize=128)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


def exact_strip(segments: list[Segment], length: int, width: int, style: Style) -> Strip:
    """``segments`` (``length`` cells) as a strip of exactly ``width`` cells.

    Not ``Strip.crop_extend``: on a strip that already has the width it caches the strip in itself (a
    reference cycle), so every painted line became garbage that only a full GC pass frees (~3,500
    strips with 7 caches each per 10 s of keys)."""
    if length == width:
        return Strip(segments, width)
    if length < width:
        return Strip([*segments, Segment(" " * (width - length), style)], width)
    return Strip(segments, length).crop(0, width)


def fit(text: str, width: int, justify: str = "left") -> str:
    """``text`` cut or padded to exactly ``width`` cells (cut like ``DataTable`` does)."""
    if width <= 0:
        return ""
    n = cell_len(text)
    if n > width:
        return set_cell_size(text, width)
    pad = " " * (width - n)
    return pad + text if justify == "right" else text + pad


class RowTable(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"rowtable--header", "rowtable--cursor"}
    DEFAULT_CSS = """
    RowTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .rowtable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .rowtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .rowtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class HeaderSelected(Message):
        def __init__(self, table: RowTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

    def __init__(self, columns: Sequence[Column], cells: Callable[[Any], Sequence[Cell]], **kw: Any) -> None:
        super().__init__(**kw)
        self.columns = list(columns)
        self.cells = cells
        """Turns a row into one (text, style) per column; called only for rows being painted."""
        self.rows: Sequence[Any] = ()
        self._index: dict[str, int] = {}
        self.cursor = 0

    # ------------------------------------------------------------- data
    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_key(self) -> str | None:
        return self.rows[self.cursor][0] if 0 <= self.cursor < len(self.rows) else None

    def keys(self) -> list[str]:
        return [r[0] for r in self.rows]

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Show ``rows`` (keyed by their first item), keeping the cursor on the same key."""
        keep = self.cursor_key
        self.rows = rows
        self._index = {r[0]: i for i, r in enumerate(rows)}
        if keep is not None and keep in self._index:
            self.cursor = self._index[keep]
        else:
            self.cursor = max(0, min(self.cursor, len(rows) - 1))
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self._scroll_to_cursor()
        self.refresh()

    def index_of(self, key: str) -> int | None:
        return self._index.get(key)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)

    # ------------------------------------------------------------- painting
    def _widths(self, total: int) -> list[int]:
        fixed = sum((c.width or 0) + 2 for c in self.columns)
        rest = max(8, total - fixed - 2)
        return [c.width if c.width is not None else rest for c in self.columns]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        widths = self._widths(width)
        if y == 0:
            head = base + self.get_component_rich_style("rowtable--header")
            segments = [Segment(" " + fit(c.label, w, c.justify) + " ", head)
                        for c, w in zip(self.columns, widths, strict=True)]
            return exact_strip(segments, sum(w + 2 for w in widths), width, head)
        idx = int(self.scroll_y) + y - 1
        if idx < 0 or idx >= len(self.rows):
            return Strip.blank(width, base)
        over = self.get_component_rich_style("rowtable--cursor") if idx == self.cursor else None
        line = base + over if over is not None else base
        segments = []
        length = 0
        for (text, style), column, w in zip(self.cells(self.rows[idx]), self.columns, widths, strict=False):
            cell = base + _style(style) + over if over is not None else base + _style(style)
            segments.append(Segment(" ", line))
            segments.append(Segment(fit(text, w, column.justify), cell))
            segments.append(Segment(" ", line))
            length += w + 2
        return exact_strip(segments, length, width, line)

    # ------------------------------------------------------------- movement
    def _scroll_to_cursor(self) -> None:
        h = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False)

    def move_cursor(self, row: int, animate: bool = False) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(row, len(self.rows) - 1))
        self._scroll_to_cursor()
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.rows) - 1)

    def on_click(self, event: Any) -> None:
        if event.y == 0:
            x = event.x
            for column, w in zip(self.columns, self._widths(self.size.width), strict=True):
                if x < w + 2:
                    self.post_message(self.HeaderSelected(self, column.key))
                    return
                x -= w + 2
            return
        self.move_cursor(int(self.scroll_y) + event.y - 1)

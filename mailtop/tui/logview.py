"""A log viewer widget (Line API): keeps the last N lines, follows the tail, pauses when scrolled up.

Rendering draws only the visible lines, so it costs the same for 500 or 50,000 kept lines. While the
cursor sits on the last line the view follows new lines; moving up (keys, mouse wheel) pauses it and
counts the lines that arrived since ("+N new lines"); End or ``f`` resumes.

Each kept line is a plain ``(text, style, queue ID)`` tuple of strings (display-safe text, see
:mod:`mailtop.tui.text`): the cyclic garbage collector stops tracking such tuples after its first pass,
so thousands of kept lines a second never pile up in the oldest generation, whose full collections
stop the UI (with a 2,000 lines/s log, 4,000 tracked objects a second made a 20-80 ms full collection
every few seconds). :class:`LogLine` is made only for the line a user picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mailtop.tui.plain import ShownLine, clean, status_style

__all__ = ["LogLine", "LogView", "line_of", "status_style"]

Row = tuple[str, str, str]
"""A kept line: (display-safe text, style name, queue ID or "")."""


@dataclass(frozen=True, slots=True)
class LogLine:
    plain: str
    """The line, display-safe (escape sequences removed, controls visible)."""
    style: str
    item: Any = None
    """What the source gave us for this line (a ``ShownLine`` with its queue ID, an event, a string)."""

    @classmethod
    def of(cls, row: Row) -> LogLine:
        return cls(row[0], row[1], ShownLine(*row))

    @property
    def text(self) -> Text:
        return Text(self.plain, style=self.style, no_wrap=True, end="")


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


def line_of(item: Any) -> str:
    """The text of one item from the log source: a string, or a record with ``raw``/``line``."""
    if isinstance(item, str):
        return item
    for attr in ("raw", "line", "text"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    return str(item)


class LogView(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "follow", "End: follow", show=False),
        Binding("enter", "pick", "Trace line"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"logview--cursor"}
    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > .logview--cursor { background: $accent 40%; }
    """

    following: reactive[bool] = reactive(True)
    pending: reactive[int] = reactive(0)

    class Picked(Message):
        def __init__(self, line: LogLine) -> None:
            super().__init__()
            self.line = line

    class State(Message):
        """Following or paused changed, or the count of waiting lines changed."""

        def __init__(self, following: bool, pending: int) -> None:
            super().__init__()
            self.following = following
            self.pending = pending

    def __init__(self, max_lines: int = 5000, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_lines = max(100, max_lines)
        self.rows: list[Row] = []
        """Every kept line, oldest first."""
        self.view: list[Row] = []
        """The kept lines that match the filter (what is drawn)."""
        self.needle = ""
        self.cursor = -1
        self.total = 0

    # ------------------------------------------------------------- data
    @property
    def lines(self) -> list[LogLine]:
        """The kept lines as :class:`LogLine` (made on demand: tracing, tests)."""
        return [LogLine.of(r) for r in self.rows]

    def append(self, items: list[Any]) -> None:
        new: list[Row] = []
        for item in items:
            if type(item) is ShownLine:  # prepared by the collector worker
                new.append((item.plain, item.style, item.queue_id))
                continue
            plain = clean(line_of(item)).rstrip("\n")
            qid = getattr(item, "queue_id", "")
            new.append((plain, getattr(item, "style", "") or status_style(plain), qid if isinstance(qid, str) else ""))
        if not new:
            return
        self.total += len(new)
        self.rows.extend(new)
        shown = [ln for ln in new if self._match(ln)]
        self.view.extend(shown)
        trim = len(self.rows) - self.max_lines
        if trim > self.max_lines // 5:  # trim in chunks, not on every line
            dropped = self.rows[:trim]
            del self.rows[:trim]
            drop_view = sum(1 for ln in dropped if self._match(ln)) if self.needle else trim
            drop_view = min(drop_view, len(self.view))
            del self.view[:drop_view]
            self.cursor = max(0, self.cursor - drop_view)
        if self.following:
            self.cursor = len(self.view) - 1
        elif shown:
            self.pending += len(shown)
        self._resize()
        if self.following:
            self.scroll_to(y=self._end_y(), animate=False)
        self.refresh()

    def set_filter(self, needle: str) -> None:
        self.needle = needle.lower()
        self.view = [ln for ln in self.rows if self._match(ln)]
        self.cursor = len(self.view) - 1 if self.following else min(self.cursor, len(self.view) - 1)
        self._resize()
        self._scroll_to_cursor()
        self.refresh()

    def _match(self, line: Row) -> bool:
        return not self.needle or self.needle in line[0].lower()

    def _resize(self) -> None:
        width = max((len(ln[0]) for ln in self.view[-200:]), default=0)
        self.virtual_size = Size(max(width, self.size.width), len(self.view))

    # ------------------------------------------------------------- rendering
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        idx = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if idx < 0 or idx >= len(self.view):
            return Strip.blank(width, base)
        plain, style, _qid = self.view[idx]
        length = cell_len(plain)
        strip = Strip([Segment(plain, base + _style(style))], length)
        if scroll_x or length != width:  # crop_extend of a strip that fits caches it in itself (a cycle)
            strip = strip.crop_extend(scroll_x, scroll_x + width, base)
        if idx == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("logview--cursor"))
        return strip

    # ------------------------------------------------------------- movement
    def _set_following(self, following: bool) -> None:
        if following:
            self.pending = 0
        self.following = following

    def watch_following(self) -> None:
        self.post_message(self.State(self.following, self.pending))

    def watch_pending(self) -> None:
        self.post_message(self.State(self.following, self.pending))

    def _rows(self) -> int:
        """Lines visible at once: the height without the horizontal scrollbar (shown for long lines)."""
        return max(1, self.scrollable_content_region.height)

    def _end_y(self) -> int:
        return max(0, len(self.view) - self._rows())

    def _scroll_to_cursor(self) -> None:
        h = self._rows()
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if not self.view:
            return
        self.cursor = min(max(0, self.cursor + delta), len(self.view) - 1)
        self._set_following(self.cursor == len(self.view) - 1)
        self._scroll_to_cursor()
        self.refresh()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self._rows() - 1))

    def action_top(self) -> None:
        self.action_cursor(-len(self.view))

    def action_follow(self) -> None:
        self.cursor = len(self.view) - 1
        self._set_following(True)
        self.scroll_to(y=self._end_y(), animate=False)
        self.refresh()

    def action_pick(self) -> None:
        if 0 <= self.cursor < len(self.view):
            self.post_message(self.Picked(LogLine.of(self.view[self.cursor])))

    def on_resize(self, event: Any) -> None:
        # Lines that arrive while the panel is hidden are appended to a view without a size: the
        # scroll to the end is clamped to 0 there. When the view gets (or changes) its size, a
        # following view shows the newest lines again.
        self._resize()
        if self.following:
            self.call_after_refresh(self._scroll_end)

    def on_show(self, event: Any) -> None:
        if self.following:
            self.call_after_refresh(self._scroll_end)

    def _scroll_end(self) -> None:
        if self.following:
            self.cursor = len(self.view) - 1
            self.scroll_to(y=self._end_y(), animate=False)
            self.refresh()

    def on_mouse_scroll_up(self, event: Any) -> None:
        # wheel up: the user wants to read; stop following
        if self.following and len(self.view) > self._rows():
            self._set_following(False)
            self.cursor = max(0, int(self.scroll_y) + self._rows() - 2)

    async def on_click(self, event: Any) -> None:
        idx = int(self.scroll_y) + event.y
        if 0 <= idx < len(self.view):
            self.cursor = idx
            self._set_following(idx == len(self.view) - 1)
            self.refresh()

    def cursor_line(self) -> LogLine | None:
        return LogLine.of(self.view[self.cursor]) if 0 <= self.cursor < len(self.view) else None




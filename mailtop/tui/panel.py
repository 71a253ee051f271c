"""The base of every panel: sources it listens to, a status line, a filter bar, redraw only when shown.

A panel subclass sets ``TITLE``, ``KEY`` (the key that shows it), ``SOURCES`` (names of the
collectors it draws) and implements ``compose_body()`` and ``render_view()``. The app hands every
:class:`~mailtop.tui.collect.Snapshot` to the panels that listen to it; a hidden panel only marks
itself dirty and redraws when it is shown again (Dolphie: panels skip redraw while hidden).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Input, Static

from mailtop.config import Config
from mailtop.tui.collect import Snapshot
from mailtop.tui.plain import age_text
from mailtop.tui.text import literal

__all__ = ["Context", "FilterBar", "Panel", "age_text", "hms"]


@dataclass(frozen=True)
class Context:
    """What every panel may read: the config, whether actions are allowed, a clock (fixed in tests)."""

    config: Config
    read_only_reason: str = ""
    """Empty when actions are allowed; otherwise why they are not (shown to the user)."""
    clock: Callable[[], float] = time.time
    unavailable: dict[str, str] = field(default_factory=dict)
    """Source name -> why it has no collector (a core not installed, not configured)."""

    @property
    def read_only(self) -> bool:
        return bool(self.read_only_reason)


def hms(ts: float | None) -> str:
    if ts is None:
        return "never"
    return time.strftime("%H:%M:%S", time.localtime(ts))


class FilterBar(Input):
    """The ``/`` filter: filters as you type; Enter keeps it, Escape clears it. It lies over the
    panel's status line while open (alone in its own CSS layer), so showing and hiding it moves
    nothing else on the screen."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear_filter", "Clear filter", show=False)]

    def action_clear_filter(self) -> None:
        self.value = ""
        panel = next((a for a in self.ancestors if isinstance(a, Panel)), None)
        if panel is not None:
            panel.close_filter()


class Panel(Vertical, can_focus=True):
    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""
    SOURCES: ClassVar[tuple[str, ...]] = ()
    DESCRIPTION: ClassVar[str] = ""
    FILTER_HINT: ClassVar[str] = "filter"

    filter_text: reactive[str] = reactive("", init=False)

    def __init__(self, ctx: Context) -> None:
        super().__init__(id=f"panel-{self.panel_id()}", classes="panel")
        self.ctx = ctx
        self.snaps: dict[str, Snapshot] = {name: Snapshot(name) for name in self.SOURCES}
        self.dirty = True
        self.shown = False
        self.redraws = 0
        self.render_error = ""

    @classmethod
    def panel_id(cls) -> str:
        return cls.TITLE.lower()

    # ---------------------------------------------------------------- composition
    def compose(self) -> ComposeResult:
        yield Static(id="panel-status", classes="panel-status")
        yield from self.compose_body()
        bar = FilterBar(placeholder=f"/ {self.FILTER_HINT} (Enter keep, Esc clear)", id="filter", classes="filter")
        bar.display = False
        yield bar

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._draw_status()

    # ---------------------------------------------------------------- data flow
    def listens(self, name: str) -> bool:
        return name in self.SOURCES

    def take(self, snap: Snapshot) -> None:
        """A source this panel listens to has a new snapshot."""
        self.snaps[snap.name] = snap
        self.dirty = True
        if self.shown:
            self.redraw()

    def set_shown(self, shown: bool) -> None:
        self.shown = shown
        if shown and self.dirty:
            self.redraw()

    def redraw(self) -> None:
        self.dirty = False
        self.redraws += 1
        self._draw_status()
        try:
            self.render_view()
        except Exception as exc:  # noqa: BLE001 - a drawing bug must not take the dashboard down; shown
            self.render_error = f"{exc.__class__.__name__}: {exc}"
            self.log.error(f"{self.TITLE} panel: {self.render_error}")
            self.app.notify(f"{self.TITLE} panel could not draw its data: {self.render_error}",
                            title="display error", severity="error", timeout=10, markup=False)
        else:
            self.render_error = ""

    def render_view(self) -> None:
        """Draw the panel from ``self.snaps`` (called only while shown)."""

    def data(self, name: str):
        return self.snaps[name].data if name in self.snaps else None

    def status_parts(self) -> Iterable[Text]:
        now = self.ctx.clock()
        for name in self.SOURCES:
            snap = self.snaps.get(name, Snapshot(name))
            if name in self.ctx.unavailable:
                yield Text.assemble((f"{name}: ", "bold"), ("UNAVAILABLE ", "reverse"),
                                    literal(self.ctx.unavailable[name]))
            elif snap.stale:
                yield Text.assemble(
                    (f"{name}: ", "bold"), (" STALE ", "reverse bold"),
                    f" last good {hms(snap.updated)} - ", literal(snap.error, "italic"),
                )
            elif snap.updated is None:
                yield Text.assemble((f"{name}: ", "bold"), "loading...")
            else:
                yield Text.assemble((f"{name}: ", "bold"), f"{hms(snap.updated)} ({age_text(now - snap.updated)} ago)")

    def _draw_status(self) -> None:
        parts = list(self.status_parts())
        if self.filter_text:
            parts.append(Text.assemble(("filter: ", "bold"), literal(self.filter_text)))
        status = Text("  ").join(parts) if parts else Text("")
        status.no_wrap = True
        status.overflow = "ellipsis"
        try:
            widget = self.query_one("#panel-status", Static)
        except NoMatches:  # not composed yet
            return
        widget.update(status, layout=False)  # one line (CSS height 1): a repaint, never a re-layout
        widget.set_class(any(s.stale for s in self.snaps.values()), "stale")

    # ---------------------------------------------------------------- filter
    def open_filter(self) -> None:
        bar = self.query_one("#filter", FilterBar)
        bar.display = True
        bar.focus()

    def close_filter(self) -> None:
        """Hide the bar (a kept filter is named in the status line under it; ``/`` edits it again)."""
        self.query_one("#filter", FilterBar).display = False
        self.focus_body()

    def focus_body(self) -> None:
        """Give the keyboard to the panel's main widget (override); by default the panel itself, so its
        keys work while no text field takes them."""
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self.filter_text = event.value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            self.close_filter()

    def watch_filter_text(self) -> None:
        self.dirty = True
        if self.shown:
            self.redraw()

    # ---------------------------------------------------------------- actions
    def can_act(self) -> bool:
        """False (and a notice saying why) when actions are disabled."""
        if self.ctx.read_only:
            self.app.notify(self.ctx.read_only_reason, title="read-only", severity="warning")
            return False
        return True

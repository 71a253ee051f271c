"""Log panel: the live tail of the mail logs.

Shows every new line of the configured logs (``logs.files``) as it arrives, coloured by delivery
status, with ``/`` to filter. Scrolling up pauses following and the status line counts the lines
waiting ("+N new"); End or ``f`` resumes. Enter on a line traces that message's whole life (the
``mailtop.logs`` trace core) in a modal screen. Lines are always shown literally.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mailtop.tui.logview import LogView
from mailtop.tui.panel import Panel


class LogPanel(Panel):
    TITLE = "Log"
    SOURCES = ("log",)
    DESCRIPTION = "live tail of the mail log; filter, pause, trace a message"
    FILTER_HINT = "text in the line (queue ID, address, status=...)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow", "Follow"),
        Binding("enter", "trace", "Trace"),
        Binding("p", "pause", "Pause"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="log-state", classes="subtle")
        yield LogView(max_lines=self.ctx.config.logs.history_lines, id="logview")

    @property
    def view(self) -> LogView:
        return self.query_one("#logview", LogView)

    def on_mount(self) -> None:
        super().on_mount()
        self._draw_state(True, 0)

    def take(self, snap) -> None:  # type: ignore[override]
        # Every batch must reach the view (even while hidden) or lines would be lost; drawing is
        # still skipped while hidden: the view only repaints when visible.
        prev = self.snaps.get(snap.name)
        super().take(snap)
        if snap.ok and snap.data is not None and (prev is None or prev.polls != snap.polls):
            batch = list(getattr(snap.data, "lines", snap.data))
            if batch:
                self.view.append(batch)
                if self.shown:
                    self._draw_state(self.view.following, self.view.pending)

    def render_view(self) -> None:
        self._draw_state(self.view.following, self.view.pending)

    def watch_filter_text(self) -> None:
        self.view.set_filter(self.filter_text)
        super().watch_filter_text()

    def focus_body(self) -> None:
        self.view.focus()

    def on_log_view_state(self, message: LogView.State) -> None:
        self._draw_state(message.following, message.pending)

    def _draw_state(self, following: bool, pending: int) -> None:
        view = self.view
        if following:
            text = Text.assemble(("FOLLOWING", "bold"), f"  {len(view.view)} lines shown, {view.total} read")
        else:
            text = Text.assemble((" PAUSED ", "bold reverse"), (f"  +{pending} new lines", "bold"),
                                 "  (End or f: follow)")
        self.query_one("#log-state", Static).update(text, layout=False)  # one line

    def action_follow(self) -> None:
        self.view.action_follow()

    def action_pause(self) -> None:
        view = self.view
        if view.following:
            view.action_cursor(-1)
        else:
            view.action_follow()

    def action_trace(self) -> None:
        line = self.view.cursor_line()
        if line is not None:
            self.view.post_message(LogView.Picked(line))

    async def on_log_view_picked(self, message: LogView.Picked) -> None:
        message.stop()
        from mailtop.tui.panels.trace import open_trace

        await open_trace(self, message.line)

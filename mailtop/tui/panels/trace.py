"""Trace of one message (placeholder until the trace core lands)."""

from __future__ import annotations

from mailtop.tui.logview import LogLine
from mailtop.tui.panel import Panel


def open_trace(panel: Panel, line: LogLine) -> None:
    panel.app.notify("trace: the trace core is not available yet", severity="warning")

"""Placeholder until the core lands."""

from __future__ import annotations

from mailtop.tui.panel import Panel


class QueuePanel(Panel):
    SOURCES = ("queue",)
    TITLE = "Queue"
    DESCRIPTION = ""

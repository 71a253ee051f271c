"""Placeholder until the core lands."""

from __future__ import annotations

from mailtop.tui.panel import Panel


class DelaysPanel(Panel):
    TITLE = "Delays"
    DESCRIPTION = ""

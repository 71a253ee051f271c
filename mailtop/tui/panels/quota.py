"""Placeholder until the core lands."""

from __future__ import annotations

from mailtop.tui.panel import Panel


class QuotaPanel(Panel):
    TITLE = "Quota"
    DESCRIPTION = ""

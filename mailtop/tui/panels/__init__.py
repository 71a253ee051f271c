"""The dashboard's panels, in the order of their keys (1-9)."""

from __future__ import annotations

from mailtop.tui.panel import Panel
from mailtop.tui.panels.access import AccessPanel
from mailtop.tui.panels.aliases import AliasesPanel
from mailtop.tui.panels.delays import DelaysPanel
from mailtop.tui.panels.health import HealthPanel
from mailtop.tui.panels.log import LogPanel
from mailtop.tui.panels.overview import OverviewPanel
from mailtop.tui.panels.probes import ProbesPanel
from mailtop.tui.panels.queue import QueuePanel
from mailtop.tui.panels.quota import QuotaPanel

PANELS: list[type[Panel]] = [
    OverviewPanel, QueuePanel, LogPanel, DelaysPanel, QuotaPanel, HealthPanel, AliasesPanel, AccessPanel,
    ProbesPanel,
]

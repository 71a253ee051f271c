"""Delays panel: delivery delay percentiles per relay and per destination domain, and the trend.

From the log core's statistics over the last ``thresholds.log_window`` seconds (``LogStats.delays``
by relay and by domain: p50, p90, p99, max of final deliveries). The sparklines show the trend since
the dashboard started: the window's p90 delay and the deliveries per poll, one sample per log poll
(the last 120 kept).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from mailtop.tui.panel import Panel
from mailtop.tui.spark import spark_text
from mailtop.tui.text import literal
from mailtop.tui.widgets import sync_table

SAMPLES = 120


def secs(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


class DelaysPanel(Panel):
    TITLE = "Delays"
    SOURCES = ("log",)
    DESCRIPTION = "delay percentiles per relay and destination, with trend sparklines"
    FILTER_HINT = "relay or domain"
    BINDINGS = []

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.p90: deque[float] = deque(maxlen=SAMPLES)
        self.delivered: deque[float] = deque(maxlen=SAMPLES)
        self._last_polls = -1
        self._last_delivered: int | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="dl-head", classes="subtle")
        yield Static("p90 delay (s) over time", classes="subtle")
        yield Static(id="dl-p90")
        yield Static("deliveries per poll", classes="subtle")
        yield Static(id="dl-rate")
        table: DataTable[Any] = DataTable(id="dl-table", cursor_type="row")
        for key, label, width in (("kind", "By", 6), ("name", "Relay / domain", 30), ("n", "N", 6),
                                  ("p50", "p50 s", 7), ("p90", "p90 s", 7), ("p99", "p99 s", 7), ("max", "max s", 7)):
            table.add_column(label, key=key, width=width)
        yield table

    def focus_body(self) -> None:
        self.query_one("#dl-table", DataTable).focus()

    def take(self, snap: Any) -> None:  # type: ignore[override]
        # samples are taken on every poll, shown or not, so the trend has no holes
        if snap.ok and snap.polls != self._last_polls and getattr(snap.data, "delays", None) is not None:
            self._last_polls = snap.polls
            self.p90.append(snap.data.delays.p90)
            total = snap.data.counts.delivered
            self.delivered.append(max(0, total - self._last_delivered) if self._last_delivered is not None else 0)
            self._last_delivered = total
        super().take(snap)

    def render_view(self) -> None:
        data = self.data("log")
        if getattr(data, "delays", None) is None:
            self.query_one("#dl-head", Static).update(Text("no log data yet", style="dim"))
            for chart in ("#dl-p90", "#dl-rate"):
                self.query_one(chart, Static).update(spark_text([], 80))
            return
        d = data.delays
        self.query_one("#dl-head", Static).update(Text.assemble(
            (f"last {int(data.window / 60)} min: ", "bold"),
            f"{d.count} deliveries  p50 {secs(d.p50)}s  p90 {secs(d.p90)}s  p99 {secs(d.p99)}s  max {secs(d.max)}s"))
        width = self.size.width or 80
        self.query_one("#dl-p90", Static).update(spark_text([round(v, 1) for v in self.p90], width, unit=" s"))
        self.query_one("#dl-rate", Static).update(spark_text(list(self.delivered), width))
        needle = self.filter_text.lower()
        rows = []
        for kind, groups in (("relay", data.by_relay), ("domain", data.by_domain)):
            for name, s in sorted(groups.items(), key=lambda kv: -kv[1].p90):
                if needle and needle not in name.lower():
                    continue
                rows.append((f"{kind}:{name}", [kind, literal(name), Text(str(s.count), justify="right"),
                                                *(Text(secs(v), justify="right") for v in (s.p50, s.p90, s.p99, s.max))]))
        with self.app.batch_update():
            sync_table(self.query_one("#dl-table", DataTable), rows)

"""Overview panel: is anything wrong, and where - in ten seconds.

Top: the worst status and counts of findings by status; the queue counts per queue with the oldest
message's age; the delivery rate, defer/bounce counts and delivery delay of the last log window; the
health of each service (``system.*`` findings). Below: every finding, worst first.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from mailtop.model import Status, worst
from mailtop.tui.panel import Panel, age_text
from mailtop.tui.panels.health import collect_findings
from mailtop.tui.sources import CHECK_PREFIX
from mailtop.tui.text import literal
from mailtop.tui.widgets import status_text, sync_table

QUEUES = ("incoming", "active", "deferred", "hold")


def queue_line(summary: Any, now: float) -> Text:
    if summary is None:
        return Text("Queue: no data yet", style="dim")
    if getattr(summary, "error", ""):
        return Text.assemble(("Queue: ", "bold"), ("cannot read: ", "bold red"), literal(summary.error))
    parts: list[Any] = [("Queue ", "bold")]
    for name in QUEUES:
        n = summary.count(name)
        parts.append((f"{name} {n}", "bold yellow" if name in ("deferred", "hold") and n else ""))
        parts.append("  ")
    oldest = [q.oldest_arrival for q in summary.queues if q.oldest_arrival is not None]
    if oldest:
        parts.append(f"oldest {age_text(now - min(oldest))}")
    return Text.assemble(*parts)


def log_line(data: Any) -> Text:
    if getattr(data, "counts", None) is None:
        return Text("Log: no data yet", style="dim")
    c = data.counts
    window = int((c.window or 0) / 60)
    rate = c.delivered / max(1.0, (c.window or 60) / 60)
    d = data.delays
    delay = f"delay p50 {d.p50:.1f}s p90 {d.p90:.1f}s" if d is not None and d.count else "no deliveries"
    return Text.assemble(
        (f"Log {window}m ", "bold"), f"delivered {c.delivered} ({rate:.1f}/min)  ",
        (f"deferred {c.deferred}", "yellow" if c.deferred else ""), "  ",
        (f"bounced {c.bounced}", "red" if c.bounced else ""), f"  rejected {c.rejected}  ", delay,
    )


def services_line(rows: list[Any]) -> Text:
    services = [r for r in rows if r.finding.id.startswith("system.")]
    if not services:
        return Text("Services: no data yet", style="dim")
    text = Text.assemble(("Services ", "bold"))
    for r in sorted(services, key=lambda r: r.finding.id):
        text.append_text(Text.assemble(r.finding.id.removeprefix("system."), ":", status_text(r.finding.status), " "))
    return text


class OverviewPanel(Panel):
    TITLE = "Overview"
    SOURCES = ("queue", "log")
    DESCRIPTION = "every finding at a glance, worst first; queue, delivery and services"
    FILTER_HINT = "finding id or text"
    BINDINGS = []

    def listens(self, name: str) -> bool:
        return name in self.SOURCES or name.startswith(CHECK_PREFIX)

    def status_parts(self):
        checks = [s for n, s in self.snaps.items() if n.startswith(CHECK_PREFIX)]
        stale = [s.name for s in self.snaps.values() if s.stale]
        yield Text.assemble(("checks ", "bold"), f"{sum(1 for s in checks if s.updated)}/{len(checks)} ran")
        if stale:
            yield Text.assemble((" STALE ", "reverse bold"), " " + ", ".join(stale))
        for name in self.SOURCES:
            if name in self.ctx.unavailable:
                yield Text.assemble((f"{name}: ", "bold"), ("N/A", "reverse"), " ", literal(self.ctx.unavailable[name]))

    def compose_body(self) -> ComposeResult:
        yield Static(id="ov-status", classes="ov-line")
        yield Static(id="ov-queue", classes="ov-line")
        yield Static(id="ov-log", classes="ov-line")
        yield Static(id="ov-services", classes="ov-line")
        table: DataTable[Any] = DataTable(id="ov-findings", cursor_type="row")
        table.add_column("St", key="status", width=4)
        table.add_column("Finding", key="id", width=24)
        table.add_column("Summary", key="summary")
        yield table

    def focus_body(self) -> None:
        self.query_one("#ov-findings", DataTable).focus()

    def render_view(self) -> None:
        now = self.ctx.clock()
        rows = collect_findings(self.snaps)
        statuses = [r.finding.status for r in rows]
        overall = worst(statuses) if statuses else Status.UNKNOWN
        counts = "  ".join(
            f"{s.name.lower()} {statuses.count(s)}" for s in (Status.CRITICAL, Status.UNKNOWN, Status.WARNING, Status.OK)
        )
        head = Text.assemble(("Overall ", "bold"), status_text(overall), "  ", counts if rows else "no findings yet")
        self.query_one("#ov-status", Static).update(head, layout=False)  # one-line rows: no re-layout
        queue = self.data("queue")
        summary = getattr(queue, "summary", queue)
        self.query_one("#ov-queue", Static).update(queue_line(summary, getattr(summary, "time", now)), layout=False)
        self.query_one("#ov-log", Static).update(log_line(self.data("log")), layout=False)
        self.query_one("#ov-services", Static).update(services_line(rows), layout=False)
        needle = self.filter_text.lower()
        shown = [r for r in rows if not needle or needle in f"{r.finding.id} {r.finding.summary}".lower()]
        with self.app.batch_update():
            sync_table(
                self.query_one("#ov-findings", DataTable),
                [(r.finding.id, [status_text(r.finding.status), literal(r.finding.id), literal(r.finding.summary)])
                 for r in shown],
            )

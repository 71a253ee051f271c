"""Health panel: every finding of the health checks (DNS/MX, relay, TLS, services, queue, quota, aliases).

A table of findings, worst first (status, id, summary); below it the highlighted finding's details and
hint. ``r`` re-runs the check that produced the highlighted finding now; ``R`` re-runs every check.
Each check runs on its own interval (``check:<id>`` sources, see :mod:`mailtop.tui.sources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from mailtop.model import Finding
from mailtop.tui.collect import Snapshot
from mailtop.tui.panel import Panel, hms
from mailtop.tui.sources import CHECK_PREFIX
from mailtop.tui.text import literal
from mailtop.tui.widgets import cursor_key, status_text, sync_table


@dataclass(frozen=True)
class Row:
    finding: Finding
    check: str
    stale: bool
    updated: float | None


def collect_findings(snaps: dict[str, Snapshot]) -> list[Row]:
    """Every finding of every check source (last good data), deduplicated by id, worst first."""
    rows: dict[str, Row] = {}
    order: list[str] = []
    for name, snap in snaps.items():
        if not name.startswith(CHECK_PREFIX) or snap.data is None:
            continue
        check = name[len(CHECK_PREFIX):]
        for result in snap.data.results:
            if not result.reported:
                continue
            for f in result.findings:
                owner = result.check
                if f.id in rows and rows[f.id].check == f.id and owner != f.id:
                    continue  # the finding's own check is the authority for it
                if f.id not in rows:
                    order.append(f.id)
                rows[f.id] = Row(f, owner if owner else check, snap.stale, snap.updated)
    index = {fid: i for i, fid in enumerate(order)}
    return sorted(rows.values(), key=lambda r: (-r.finding.status.severity, index[r.finding.id]))


def stale_checks(snaps: dict[str, Snapshot]) -> list[str]:
    return [n[len(CHECK_PREFIX):] for n, s in snaps.items() if n.startswith(CHECK_PREFIX) and s.stale]


class HealthPanel(Panel):
    TITLE = "Health"
    DESCRIPTION = "findings of every health check, with details and hints; re-run one"
    FILTER_HINT = "id, status or text"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Re-run check"),
        Binding("R", "rerun_all", "Re-run all"),
    ]

    def listens(self, name: str) -> bool:
        return name.startswith(CHECK_PREFIX)

    def compose_body(self) -> ComposeResult:
        table: DataTable[Any] = DataTable(id="findings", cursor_type="row", zebra_stripes=False)
        table.add_column("St", key="status", width=4)
        table.add_column("Finding", key="id", width=26)
        table.add_column("Summary", key="summary")
        yield table
        with VerticalScroll(id="finding-detail", can_focus=False):
            yield Static(id="finding-text")

    def status_parts(self):
        checks = [n for n in self.snaps if n.startswith(CHECK_PREFIX)]
        done = [n for n in checks if self.snaps[n].updated is not None]
        stale = stale_checks(self.snaps)
        if "checks" in self.ctx.unavailable:
            yield Text.assemble(("checks: ", "bold"), ("UNAVAILABLE ", "reverse"),
                                literal(self.ctx.unavailable["checks"]))
            return
        parts = [("checks: ", "bold"), f"{len(done)}/{len(checks)} ran"]
        yield Text.assemble(*parts)
        if stale:
            yield Text.assemble((" STALE ", "reverse bold"), " " + ", ".join(stale))

    @property
    def table(self) -> DataTable:
        return self.query_one("#findings", DataTable)

    def focus_body(self) -> None:
        self.table.focus()

    def rows(self) -> list[Row]:
        rows = collect_findings(self.snaps)
        needle = self.filter_text.lower()
        if needle:
            rows = [r for r in rows if needle in f"{r.finding.status.name} {r.finding.id} {r.finding.summary} "
                    f"{r.finding.details}".lower()]
        return rows

    def render_view(self) -> None:
        self._rows = {r.finding.id: r for r in self.rows()}
        table_rows = []
        for r in self._rows.values():
            summary = literal(r.finding.summary)
            if r.stale:
                summary = Text.assemble(("(stale) ", "italic"), summary)
            table_rows.append((r.finding.id, [status_text(r.finding.status), literal(r.finding.id), summary]))
        with self.app.batch_update():
            sync_table(self.table, table_rows)
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def _show_detail(self) -> None:
        rows = getattr(self, "_rows", {})
        key = cursor_key(self.table)
        widget = self.query_one("#finding-text", Static)
        if key is None or key not in rows:
            widget.update(Text("No findings yet." if not rows else ""))
            return
        r = rows[key]
        f = r.finding
        text = Text.assemble(status_text(f.status), " ", literal(f.id, "bold"), "  ", literal(f.summary), "\n")
        if f.details:
            text.append_text(Text("\n").join(literal(line) for line in f.details.splitlines()))
            text.append("\n")
        if f.hint:
            text.append_text(Text.assemble(("hint: ", "bold"), literal(f.hint)))
            text.append("\n")
        when = f"check {r.check}, ran {hms(r.updated)}" + ("  (STALE: last run failed)" if r.stale else "")
        text.append(when, style="dim")
        widget.update(text)

    def action_rerun(self) -> None:
        key = cursor_key(self.table)
        rows = getattr(self, "_rows", {})
        if key is None or key not in rows:
            return
        check = rows[key].check
        self.app.refresh_source(CHECK_PREFIX + check)  # type: ignore[attr-defined]
        self.app.notify(f"re-running {check}", timeout=3, markup=False)

    def action_rerun_all(self) -> None:
        self.app.refresh_source(*[n for n in self.snaps if n.startswith(CHECK_PREFIX)])  # type: ignore[attr-defined]
        self.app.notify("re-running every check", timeout=3)


def worst_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -f.status.severity)




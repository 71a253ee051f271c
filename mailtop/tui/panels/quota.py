"""Quota panel: users by usage with bars, and the mail store's disk space and inodes.

Data: ``mailtop.health.quota.collect_quota`` (doveadm quota, else maildirsize files; psutil and
statvfs for the filesystems), refreshed every ``refresh.quota`` seconds. Users are sorted by usage,
highest first; bars turn yellow/red at ``thresholds.quota_warn/crit`` and ``disk_warn/crit``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from mailtop.tui.panel import Panel
from mailtop.tui.text import literal
from mailtop.tui.widgets import bar, human_bytes, sync_table


class QuotaPanel(Panel):
    TITLE = "Quota"
    SOURCES = ("quota",)
    DESCRIPTION = "users by quota usage with bars; mail store disk and inodes"
    FILTER_HINT = "user name"
    BINDINGS = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="qu-fs")
        table: DataTable[Any] = DataTable(id="qu-users", cursor_type="row")
        for key, label, width in (("user", "User", 14), ("bar", "Usage", 22), ("pct", "%", 5),
                                  ("used", "Used", 10), ("limit", "Limit", 10), ("msgs", "Msgs", 7),
                                  ("source", "From", None)):
            table.add_column(label, key=key, width=width)
        yield table

    def focus_body(self) -> None:
        self.query_one("#qu-users", DataTable).focus()

    def render_view(self) -> None:
        snap = self.data("quota")
        if snap is None:
            return
        th = self.ctx.config.thresholds
        fs_lines = []
        for fs in snap.filesystems:
            line = Text.assemble((f"{fs.mountpoint:<12} ", "bold"), "space ",
                                 bar(fs.percent / 100, 16, th.disk_warn / 100, th.disk_crit / 100),
                                 f" {fs.percent:3.0f}% of {human_bytes(fs.total_bytes)}")
            if fs.inodes_percent is not None:
                line.append_text(Text.assemble("  inodes ", bar(fs.inodes_percent / 100, 10, th.disk_warn / 100,
                                                                 th.disk_crit / 100), f" {fs.inodes_percent:3.0f}%"))
            fs_lines.append(line)
        for err in snap.errors:
            fs_lines.append(Text.assemble(("! ", "bold yellow"), literal(err)))
        self.query_one("#qu-fs", Static).update(Text("\n").join(fs_lines) if fs_lines else Text("no mail store"))
        needle = self.filter_text.lower()
        users = sorted(snap.users, key=lambda u: -(u.percent or 0.0))
        rows = []
        for u in users:
            if needle and needle not in u.user.lower():
                continue
            pct = u.percent
            rows.append((u.user, [
                literal(u.user),
                bar((pct or 0) / 100, 20, th.quota_warn / 100, th.quota_crit / 100) if pct is not None else Text("no limit", style="dim"),
                Text("" if pct is None else f"{pct:.0f}", justify="right"),
                Text(human_bytes(u.used_bytes), justify="right"),
                Text(human_bytes(u.limit_bytes) if u.limit_bytes else "-", justify="right"),
                Text(str(u.messages), justify="right"),
                literal(u.source),
            ]))
        with self.app.batch_update():
            sync_table(self.query_one("#qu-users", DataTable), rows)

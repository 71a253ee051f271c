"""Probes panel: send a probe to the autoresponder, watch it in flight, see the reply and round trip.

``p`` (or ``ctrl+p``) sends a probe to ``[probe] target`` (``mailtop.health.probe.run_probe_sync`` in a
worker thread). While it is in flight the panel shows each phase as the core reports it (mailbox,
submit, sent, waiting, reply) with the elapsed time; then the status, the round trip, who replied and
the SPF/DKIM/DMARC verdicts. Below: the history of past probes (``read_history``) with a sparkline of
round trips. The mailbox password comes from ``[probe] password_file`` or ``$MAILTOP_PROBE_PASSWORD``
(``probe.password_env``); it is read when the probe starts and never kept.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from mailtop.tui.panel import Panel
from mailtop.tui.secret import Secret, scrub
from mailtop.tui.spark import spark_text
from mailtop.tui.text import literal
from mailtop.tui.widgets import sync_table


class ProbesPanel(Panel):
    TITLE = "Probes"
    DESCRIPTION = "send a probe to the autoresponder; in flight, reply, round trip, history"
    FILTER_HINT = "status or target"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "probe", "Send probe"),
        Binding("ctrl+l", "history", "Reload history", key_display="^L"),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.phases: list[Any] = []
        self.result: Any = None
        self.in_flight = False
        self.history: tuple[Any, ...] = ()

    def compose_body(self) -> ComposeResult:
        yield Static(id="pr-target", classes="subtle")
        yield Static(id="pr-flight")
        yield Static("round trips (s), oldest to newest", classes="subtle")
        yield Static(id="pr-spark")
        table: DataTable[Any] = DataTable(id="pr-history", cursor_type="row")
        for key, label, width in (("time", "Time (UTC)", 20), ("status", "Status", 14), ("rt", "Round trip", 11),
                                  ("submit", "Submit", 8), ("target", "Target", None)):
            table.add_column(label, key=key, width=width)
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.action_history()

    def focus_body(self) -> None:
        self.query_one("#pr-history", DataTable).focus()

    def _password(self) -> str:
        from mailtop.health.access_command import PasswordError, read_password_file

        cfg = self.ctx.config.probe
        if cfg.password_file is not None:
            try:
                return read_password_file(cfg.password_file)
            except PasswordError as exc:
                raise ValueError(str(exc)) from None
        value = os.environ.get(cfg.password_env, "")
        if not value:
            raise ValueError(f"no probe password: set [probe] password_file or ${cfg.password_env}")
        return value

    def action_probe(self) -> None:
        if self.in_flight:
            self.app.notify("a probe is already in flight", severity="warning")
            return
        from mailtop.health.probe import ProbeSettings

        try:
            settings = ProbeSettings.from_config(self.ctx.config)
        except ValueError as exc:
            self.app.notify(f"probe: {exc}", severity="error", markup=False)
            return
        self.in_flight = True
        self.phases = []
        self.result = None
        self.redraw()
        self._run(settings)

    @work(thread=True, group="probe", exclusive=True, description="probes panel: send a probe",
          exit_on_error=False)
    def _run(self, settings: Any) -> None:
        from mailtop.health.probe import run_probe_sync

        # The password is read here, in the worker, held by a Secret (hidden from repr) and dropped as soon
        # as the probe returns; errors are caught so that no traceback (which would show the locals) is
        # printed or logged by Textual.
        try:
            secret = Secret(self._password())
        except ValueError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        try:
            result = run_probe_sync(settings, secret.reveal(),
                                    lambda p: self.app.call_from_thread(self._progress, p))
        except Exception as exc:  # noqa: BLE001 - shown as a notice; never a traceback (it would hold the password)
            why = scrub(f"the probe failed: {exc.__class__.__name__}: {exc}", secret.reveal())
            secret.clear()
            self.app.call_from_thread(self._failed, why)
            return
        finally:
            secret.clear()
        self.app.call_from_thread(self._finished, result)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # _run catches its errors; this is for what escapes it (e.g. the app closing under it)
        if event.worker.group == "probe" and event.state is WorkerState.ERROR:
            event.stop()
            self._failed(f"the probe failed: {event.worker.error.__class__.__name__}: {event.worker.error}")

    def _progress(self, progress: Any) -> None:
        self.phases.append(progress)
        self.redraw()

    def _failed(self, why: str) -> None:
        self.in_flight = False
        self.app.notify(why, title="probe", severity="error", markup=False)
        self.redraw()

    def _finished(self, result: Any) -> None:
        self.in_flight = False
        self.result = result
        self.action_history()

    def action_history(self) -> None:
        from mailtop.health.probe import read_history

        self.history = read_history(self.ctx.config.general.state_dir, limit=200)
        self.redraw()

    def render_view(self) -> None:
        cfg = self.ctx.config
        self.query_one("#pr-target", Static).update(Text.assemble(
            ("target ", "bold"), literal(cfg.probe.target or "(none: set [probe] target)"),
            "  reply mailbox ", literal(cfg.probe.mailbox_user or "?"), "   p: send a probe"))
        lines: list[Text] = []
        for ph in self.phases:
            lines.append(Text.assemble((f"{ph.elapsed:6.2f}s ", "dim"), (f"{ph.phase:<8}", "bold"), literal(ph.detail)))
        if self.in_flight:
            lines.append(Text("in flight...", style="bold italic"))
        r = self.result
        if r is not None:
            rt = f"{r.round_trip:.2f}s" if r.round_trip is not None else "-"
            good = str(r.status) == "replied"
            lines.append(Text.assemble((str(r.status).upper(), "bold green" if good else "bold red"),
                                       f"  round trip {rt}  total {r.total_seconds:.2f}s  ", literal(r.detail)))
            if r.reply_from:
                lines.append(Text.assemble("reply from ", literal(r.reply_from), "  ", literal(r.reply_subject)))
            auth = [f"{a.method}={a.result}" for a in (*r.reply_auth, *r.probe_auth)]
            if auth:
                lines.append(Text.assemble("auth ", literal(" ".join(auth))))
            for note in r.notes:  # how the reply was read where it was not as declared
                lines.append(Text.assemble(("note ", "bold yellow"), literal(note)))
        self.query_one("#pr-flight", Static).update(Text("\n").join(lines[-8:]) if lines else
                                                    Text("no probe sent in this session", style="dim"))
        rts = [h.round_trip for h in self.history if h.round_trip is not None]
        self.query_one("#pr-spark", Static).update(spark_text(rts, self.size.width or 80, need=2, unit=" s"))
        needle = self.filter_text.lower()
        rows = []
        for h in reversed(self.history):
            if needle and needle not in f"{h.status} {h.target}".lower():
                continue
            rows.append((h.token, [
                h.time[:19].replace("T", " "), Text(h.status, style="green" if h.status == "replied" else "red"),
                Text("-" if h.round_trip is None else f"{h.round_trip:.2f}s", justify="right"),
                Text("-" if h.submit_seconds is None else f"{h.submit_seconds:.2f}s", justify="right"),
                literal(h.target),
            ]))
        with self.app.batch_update():
            sync_table(self.query_one("#pr-history", DataTable), rows)

"""Trace of one message: pick a log line, see that message's whole life.

The queue ID comes from the picked line (the parser's ``queue_id``). The screen shows the flow the log
core tracked for it (``FlowTracker.find``: client, sender, message-id, each delivery with relay, delay,
status and reason) and every kept log line that mentions the queue ID, all literally.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mailtop.queueid import LONG_PATTERN, SHORT_PATTERN, is_queue_id
from mailtop.tui.logview import LogLine, status_style
from mailtop.tui.panel import Panel, hms
from mailtop.tui.text import literal

# the shared validator's patterns (short IDs of 6-21 hex digits, long IDs with a 10-11 character time part)
_QID = re.compile(rf"\]: ({SHORT_PATTERN}|{LONG_PATTERN}): ")


def queue_id_of(line: LogLine) -> str:
    qid = getattr(line.item, "queue_id", "")
    if qid:
        return qid
    m = _QID.search(line.plain)
    return m.group(1) if m and is_queue_id(m.group(1)) else ""


def flow_text(flow: Any) -> Text:
    if flow is None:
        return Text("The log core has no flow for this queue ID (it left before the dashboard started, or was "
                    "evicted); the lines below are what the log view still holds.\n", style="italic")
    t = Text()
    rows = [
        ("first seen", hms(flow.first_seen)), ("last seen", hms(flow.last_seen)),
        ("origin", flow.origin), ("client", flow.client), ("SASL user", flow.sasl_user),
        ("message-id", flow.message_id), ("sender", "<>" if flow.sender == "" else (flow.sender or "?")),
        ("size", "" if flow.size is None else f"{flow.size} bytes"),
        ("state", "removed" if flow.removed else "expired" if flow.expired else "in the queue"),
    ]
    for label, value in rows:
        if value:
            t.append_text(Text.assemble((f"{label:>11}: ", "bold"), literal(value), "\n"))
    for d in flow.deliveries:
        delay = f"{d.delay:.1f}s" if d.delay is not None else "-"
        t.append_text(Text.assemble(
            (f"{hms(d.ts)} ", "dim"), (f"{d.status:<9}", status_style(f"status={d.status}") or "bold"), " ",
            literal(d.recipient), "  via ", literal(d.relay or d.service), f"  delay {delay}  ", literal(d.dsn), "\n",
        ))
        if d.reason:
            t.append_text(Text.assemble("           ", literal(d.reason, "italic"), "\n"))
    if flow.notifications:
        t.append_text(Text.assemble(("notifications: ", "bold"), literal(", ".join(flow.notifications)), "\n"))
    return t


class TraceScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, queue_id: str, flow: Any, lines: list[LogLine]) -> None:
        super().__init__()
        self.queue_id = queue_id
        self.flow = flow
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="trace-box"):
            yield Static(Text.assemble(("Trace of ", "bold"), literal(self.queue_id, "bold"), "   (Esc to close)"))
            yield Static(flow_text(self.flow), id="trace-flow")
            body = Text("\n").join(Text(ln.plain, style=ln.style) for ln in self.lines[-500:])
            yield Static(body or Text("no lines kept", style="dim"), id="trace-lines")

    def action_close(self) -> None:
        self.dismiss(None)


async def open_trace(panel: Panel, line: LogLine) -> None:
    qid = queue_id_of(line)
    if not qid:
        panel.app.notify("this line has no queue ID to trace", severity="warning")
        return
    src = panel.app.poller.sources.get("log")  # type: ignore[attr-defined]
    monitor = getattr(src, "owner", None)
    flow = None
    if monitor is not None:
        try:
            flow = monitor.trace(qid)
            if inspect.isawaitable(flow):  # the log worker's client
                flow = await flow
        except Exception as exc:  # noqa: BLE001 - shown; the kept lines are still useful
            panel.app.notify(f"trace {qid}: {exc}", severity="warning", markup=False)
    lines = [LogLine.of(row) for row in panel.query_one("#logview").rows if qid in row[0]]
    panel.app.push_screen(TraceScreen(qid, flow, lines))

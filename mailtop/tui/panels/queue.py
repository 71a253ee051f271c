"""Queue panel: the messages, the shape by age and destination, the grouped reasons, and actions.

Three views (``m`` messages, ``s`` shape, ``g`` reason groups), all from one ``postqueue -j`` read per
refresh (``mailtop.mta.postfix.PostfixQueue.snapshot``).

Messages: a table keyed by queue ID, so the cursor and the selection survive a refresh. ``o``/``O``
sorts by the next column / reverses; ``/`` filters: words match anywhere, and ``from:``, ``to:``,
``domain:``, ``reason:``, ``queue:``, ``age>30m``, ``age<2h`` narrow by field. Space selects, ``a``
selects every shown message, ``x`` clears the selection.

Actions (``h`` hold, ``u`` release, ``r`` requeue, ``d`` delete, ``D`` deliver now, ``F`` flush all)
apply to the selection, else to the message under the cursor; in the groups view to every message of
the group under the cursor. Each goes through a confirmation that shows the exact command
(``mailtop.mta.actions.QueueActions.plan``) and is audited by the core.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Static

from mailtop.tui.panel import Panel, age_text
from mailtop.tui.text import clean, literal
from mailtop.tui.widgets import cursor_key, human_bytes, sync_table

MAX_ROWS = 1000
"""Rows drawn in the messages table; the rest are counted (filter or sort to reach them)."""

QUEUE_ABBR = {"active": "act", "deferred": "def", "hold": "HOLD", "incoming": "inc", "maildrop": "drop"}
SORTS = ("age", "queue_id", "queue", "size", "sender", "recipient", "reason")
_AGE = re.compile(r"age([<>])(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class QueueFilter:
    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    min_age: float | None = None
    max_age: float | None = None

    @classmethod
    def parse(cls, text: str) -> QueueFilter:
        words, fields = [], []
        min_age = max_age = None
        for tok in text.lower().split():
            m = _AGE.match(tok)
            if m:
                seconds = float(m.group(2)) * _UNIT[m.group(3)]
                if m.group(1) == ">":
                    min_age = seconds
                else:
                    max_age = seconds
                continue
            key, colon, value = tok.partition(":")
            if colon and key in ("from", "to", "domain", "reason", "queue", "id") and value:
                fields.append((key, value))
            else:
                words.append(tok)
        return cls(tuple(words), tuple(fields), min_age, max_age)

    def match(self, e: Any, now: float) -> bool:
        age = now - e.arrival
        if self.min_age is not None and age < self.min_age:
            return False
        if self.max_age is not None and age > self.max_age:
            return False
        for key, value in self.fields:
            if key == "from" and value not in e.sender.lower():
                return False
            if key == "to" and not any(value in r.address.lower() for r in e.recipients):
                return False
            if key == "domain" and not any(value in r.domain for r in e.recipients):
                return False
            if key == "reason" and not any(value in r.reason.lower() for r in e.recipients):
                return False
            if key == "queue" and not e.queue.startswith(value):
                return False
            if key == "id" and value not in e.queue_id.lower():
                return False
        return True


@dataclass(frozen=True)
class PreparedQueue:
    """A queue snapshot plus what filtering and sorting need, computed in the collector's thread
    (lower-case search text per message, the order by age), so a big queue costs the UI little."""

    snapshot: Any
    hay: tuple[str, ...]
    by_age: tuple[int, ...]

    @property
    def entries(self) -> Sequence[Any]:
        return self.snapshot.entries

    @property
    def summary(self) -> Any:
        return self.snapshot.summary


def prepare(snapshot: Any) -> PreparedQueue:
    entries = snapshot.entries
    hay = tuple(" ".join([e.queue_id, e.queue, e.sender, *(f"{r.address} {r.reason}" for r in e.recipients)]).lower()
                for e in entries)
    order = tuple(sorted(range(len(entries)), key=lambda i: entries[i].arrival))
    return PreparedQueue(snapshot, hay, order)


def sort_key(column: str, now: float) -> Callable[[Any], Any]:
    if column == "age":
        return lambda e: e.arrival
    if column == "recipient":
        return lambda e: e.recipients[0].address.lower() if e.recipients else ""
    if column == "reason":
        return lambda e: e.recipients[0].reason if e.recipients else ""
    if column == "sender":
        return lambda e: e.sender.lower()
    return lambda e: getattr(e, column)


def entry_cells(e: Any, now: float, selected: bool) -> list[Any]:
    first = e.recipients[0] if e.recipients else None
    rcpt = clean(first.address) if first else ""
    if len(e.recipients) > 1:
        rcpt += f" +{len(e.recipients) - 1}"
    return [
        Text("●" if selected else " ", style="bold"),
        Text(e.queue_id),
        Text(QUEUE_ABBR.get(e.queue, e.queue), style="bold" if e.queue == "hold" else ""),
        Text(age_text(now - e.arrival), justify="right"),
        Text(human_bytes(e.size), justify="right"),
        literal(e.sender or "<>"),
        literal(rcpt),
        literal(first.reason if first else ""),
    ]


class QueuePanel(Panel):
    TITLE = "Queue"
    SOURCES = ("queue",)
    DESCRIPTION = "messages, shape by age and destination, grouped reasons; actions"
    FILTER_HINT = "words, from: to: domain: reason: queue: age>30m age<2h"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "view('messages')", "Messages"),
        Binding("s", "view('shape')", "Shape"),
        Binding("g", "view('groups')", "Reasons"),
        Binding("space", "select", "Select", key_display="Space"),
        Binding("a", "select_all", "Select shown"),
        Binding("x", "clear_selection", "Clear selection"),
        Binding("o", "sort", "Sort column"),
        Binding("O", "reverse", "Reverse sort"),
        Binding("h", "act('hold')", "Hold"),
        Binding("u", "act('release')", "Release"),
        Binding("r", "act('requeue')", "Requeue"),
        Binding("d", "act('delete')", "Delete"),
        Binding("D", "act('deliver')", "Deliver now"),
        Binding("F", "act('flush')", "Flush all"),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.selected: set[str] = set()
        self.sort_column = "age"
        self.sort_reverse = False
        self.shown_ids: list[str] = []
        self.matched = 0
        self._actions: Any = None
        self._orders: dict[tuple[int, str], list[int]] = {}

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        yield Static(id="q-summary", classes="subtle")
        with ContentSwitcher(initial="messages", id="q-views"):
            table: DataTable[Any] = DataTable(id="messages", cursor_type="row")
            for key, label, width in (("sel", "", 1), ("queue_id", "Queue ID", 11), ("queue", "Q", 4),
                                      ("age", "Age", 6), ("size", "Size", 8), ("sender", "Sender", 18),
                                      ("recipient", "Recipient", 20), ("reason", "Reason", None)):
                table.add_column(label, key=key, width=width)
            yield table
            with VerticalScroll(id="shape", can_focus=False):
                yield Static(id="shape-text")
            groups: DataTable[Any] = DataTable(id="groups", cursor_type="row")
            groups.add_column("Rcpts", key="recipients", width=6)
            groups.add_column("Msgs", key="messages", width=6)
            groups.add_column("Oldest", key="oldest", width=7)
            groups.add_column("Domains", key="domains", width=22)
            groups.add_column("Reason", key="reason")
            yield groups

    @property
    def table(self) -> DataTable:
        return self.query_one("#messages", DataTable)

    @property
    def view_name(self) -> str:
        return self.query_one("#q-views", ContentSwitcher).current or "messages"

    def focus_body(self) -> None:
        name = self.view_name
        if name in ("messages", "groups"):
            self.query_one(f"#{name}", DataTable).focus()

    def action_view(self, name: str) -> None:
        self.query_one("#q-views", ContentSwitcher).current = name
        self.focus_body()
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def _snapshot(self) -> Any:
        return self.data("queue")

    def render_view(self) -> None:
        snap = self._snapshot()
        summary = getattr(snap, "summary", None)
        now = summary.time if summary is not None else self.ctx.clock()
        self.query_one("#q-summary", Static).update(self._summary_text(snap, summary, now))
        if snap is None:
            return
        view = self.view_name
        if view == "messages":
            self._draw_messages(snap.entries, now)
        elif view == "shape":
            self._draw_shape(summary)
        else:
            self._draw_groups(summary, now)

    def _summary_text(self, snap: Any, summary: Any, now: float) -> Text:
        if summary is None:
            return Text("no queue data yet", style="dim")
        if summary.error:
            return Text.assemble(("cannot read the queue: ", "bold red"), literal(summary.error))
        parts: list[Any] = []
        for q in ("active", "incoming", "deferred", "hold"):
            parts.append(f"{q} {summary.count(q)}  ")
        oldest = summary.oldest_age()
        if oldest is not None:
            parts.append(f"oldest {age_text(oldest)}  ")
        if self.view_name == "messages":
            parts.append(f"shown {len(self.shown_ids)}/{self.matched}")
            if self.matched > MAX_ROWS:
                parts.append((" (first 1000: filter to narrow)", "italic"))
            parts.append(f"  sort {self.sort_column}{' desc' if self.sort_reverse else ''}")
        if self.selected:
            parts.append((f"  selected {len(self.selected)}", "bold reverse"))
        return Text.assemble(*parts)

    def _order(self, prepared: PreparedQueue, now: float) -> list[int]:
        """Indices of the entries in sort order (cached per snapshot and column)."""
        key = (id(prepared), self.sort_column)
        if key not in self._orders:
            if self.sort_column == "age":
                order = list(prepared.by_age)
            else:
                entries = prepared.entries
                k = sort_key(self.sort_column, now)
                order = sorted(range(len(entries)), key=lambda i: k(entries[i]))
            self._orders = {kk: v for kk, v in self._orders.items() if kk[0] == id(prepared)}
            self._orders[key] = order
        return self._orders[key]

    def _draw_messages(self, entries: Sequence[Any], now: float) -> None:
        snap = self._snapshot()
        prepared = snap if isinstance(snap, PreparedQueue) else prepare(snap)
        entries = prepared.entries
        order = self._order(prepared, now)
        if self.sort_reverse:
            order = order[::-1]
        if self.filter_text:
            flt = QueueFilter.parse(self.filter_text)
            hay = prepared.hay
            words = flt.words
            idx = [i for i in order if all(w in hay[i] for w in words)]
            if flt.fields or flt.min_age is not None or flt.max_age is not None:
                idx = [i for i in idx if flt.match(entries[i], now)]
        else:
            idx = order
        self.matched = len(idx)
        shown = [entries[i] for i in idx[:MAX_ROWS]]
        self.shown_ids = [e.queue_id for e in shown]
        if self.selected:
            present = {e.queue_id for e in entries}
            self.selected &= present  # a message that left the queue cannot stay selected
        rows = [(e.queue_id, entry_cells(e, now, e.queue_id in self.selected)) for e in shown]
        with self.app.batch_update():
            sync_table(self.table, rows)
        self._draw_status()
        summary = getattr(self._snapshot(), "summary", None)
        self.query_one("#q-summary", Static).update(self._summary_text(self._snapshot(), summary, now))

    def _draw_shape(self, summary: Any) -> None:
        out = Text()
        for shape in summary.shapes:
            if not shape.total or shape.total[0] == 0:
                continue
            table = Table(title=f"{shape.queue} (recipients by age in minutes)", title_justify="left",
                          box=None, padding=(0, 1), show_edge=False, header_style="bold")
            table.add_column("domain", no_wrap=True, max_width=24)
            table.add_column("T", justify="right")
            for h in shape.headings:
                table.add_column(h, justify="right")
            table.add_row("TOTAL", *[str(n) for n in shape.total], style="bold")
            for domain, counts in shape.rows[:50]:
                table.add_row(literal(domain), *[str(n) if n else "." for n in counts])
            self.query_one("#shape-text", Static).update(table)
            return
        self.query_one("#shape-text", Static).update(out or Text("the queue is empty", style="dim"))

    def _draw_groups(self, summary: Any, now: float) -> None:
        needle = self.filter_text.lower()
        rows = []
        self._groups = {}
        for i, g in enumerate(summary.reasons):
            domains = ", ".join(d.domain for d in g.domains[:3]) + (" ..." if len(g.domains) > 3 else "")
            if needle and needle not in f"{g.reason} {domains}".lower():
                continue
            key = f"g{i}:{g.reason}"
            self._groups[key] = g
            rows.append((key, [str(g.recipients), str(g.messages), age_text(now - g.oldest_arrival),
                               literal(domains), literal(g.reason)]))
        with self.app.batch_update():
            sync_table(self.query_one("#groups", DataTable), rows)

    # ------------------------------------------------------------------ selection and sorting
    def action_select(self) -> None:
        key = cursor_key(self.table)
        if key is None or self.view_name != "messages":
            return
        self.selected ^= {key}
        self.table.update_cell(key, "sel", Text("●" if key in self.selected else " ", style="bold"))
        self.table.action_cursor_down()
        self._redraw_summary()

    def action_select_all(self) -> None:
        self.selected |= set(self.shown_ids)
        self.redraw()

    def action_clear_selection(self) -> None:
        self.selected.clear()
        self.redraw()

    def action_sort(self) -> None:
        self.sort_column = SORTS[(SORTS.index(self.sort_column) + 1) % len(SORTS)]
        self.redraw()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.redraw()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value
        if column in SORTS:
            self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
            self.sort_column = column
            self.redraw()

    def _redraw_summary(self) -> None:
        snap = self._snapshot()
        summary = getattr(snap, "summary", None)
        now = summary.time if summary is not None else self.ctx.clock()
        self.query_one("#q-summary", Static).update(self._summary_text(snap, summary, now))

    # ------------------------------------------------------------------ actions
    def targets(self) -> tuple[list[str], str]:
        """The queue IDs an action applies to, and how to name them."""
        snap = self._snapshot()
        if self.view_name == "groups":
            key = cursor_key(self.query_one("#groups", DataTable))
            group = getattr(self, "_groups", {}).get(key or "")
            if group is None or snap is None:
                return [], ""
            from mailtop.mta.summary import group_reason

            ids = [e.queue_id for e in snap.entries
                   if any(group_reason(r.reason) == group.reason for r in e.recipients)]
            return ids, f"the group '{clean(group.reason)}'"
        if self.selected:
            return sorted(self.selected), "the selection"
        key = cursor_key(self.table)
        return ([key], "the message under the cursor") if key else ([], "")

    def _queue_actions(self) -> Any:
        if self._actions is None:
            from mailtop.mta.actions import QueueActions

            self._actions = QueueActions(self.ctx.config)
        return self._actions

    def action_act(self, action: str) -> None:
        if not self.can_act():
            return
        try:
            acts = self._queue_actions()
        except ImportError as exc:
            self.app.notify(f"queue actions are not available: {exc}", severity="error", markup=False)
            return
        ok, why = acts.available(action)
        if not ok:
            self.app.notify(f"{action}: {why}", title="not allowed", severity="warning", markup=False)
            return
        ids: list[str] = []
        what = "the whole queue"
        if action != "flush":
            ids, what = self.targets()
            if not ids:
                self.app.notify(f"{action}: no message under the cursor or selected", severity="warning")
                return
            if action == "deliver" and len(ids) != 1:
                self.app.notify("deliver now works on one message (postqueue -i): move the cursor, clear the "
                                "selection with x", severity="warning")
                return
        try:
            plan = acts.plan(action, ids)
        except ValueError as exc:
            self.app.notify(f"{action}: {exc}", severity="error", markup=False)
            return
        argvs = [plan.argv, *plan.followup]
        n = len(plan.targets)
        detail = ""
        if plan.stdin:
            shown = " ".join(plan.targets[:12]) + (" ..." if n > 12 else "")
            detail = f"queue IDs fed on stdin ({n}): {shown}"
        title = f"{action} {n or ''} message{'s' if n != 1 else ''} ({what})" if action != "flush" else \
            "flush: try every deferred message now"

        def run() -> str:
            res = acts.run(action, ids)
            self._last_result = res
            if not res.ok:
                raise RuntimeError(res.message or res.result)
            text = f"{res.result}: {len(res.done)} done"
            if res.missing:
                text += f", {len(res.missing)} no longer there"
            return text

        def done(ok: bool, outcome: str) -> None:
            if ok:
                self.selected -= set(ids)

        self.app.confirm_and_run(title, argvs, run, detail=detail, refresh=("queue",), done=done)  # type: ignore[attr-defined]


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(list(argv))

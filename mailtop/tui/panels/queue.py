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

import shlex
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import ContentSwitcher, DataTable, Static

from mailtop.tui.panel import Panel, age_text
from mailtop.tui.queueview import (
    MAX_ROWS,
    QUEUE_ABBR,
    SORTS,
    PreparedQueue,
    QueueFilter,
    QueueModel,
    QueueView,
    QueueViewParams,
    prepare,
)
from mailtop.tui.rowtable import Cell, Column, RowTable
from mailtop.tui.text import clean, literal
from mailtop.tui.widgets import cursor_key, sync_table

__all__ = ["MAX_ROWS", "PreparedQueue", "QueueFilter", "QueuePanel", "command_line", "prepare"]

COLUMNS = (Column("sel", "", 1), Column("queue_id", "Queue ID", 11), Column("queue", "Q", 4),
           Column("age", "Age", 6, "right"), Column("size", "Size", 8, "right"), Column("sender", "Sender", 18),
           Column("recipient", "Recipient", 20), Column("reason", "Reason"))


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
        self.model = QueueModel()
        """In-process model (sources that return a snapshot: tests, fixed data); unused with a worker."""
        self.summary: Any = None
        """The summary of the last snapshot (views answering a re-sort come without one)."""
        self.view: QueueView | None = None
        """The last view drawn (from the worker, or computed from ``model``)."""
        self._groups: dict[str, Any] = {}
        self._inflight = False
        self._again = False
        self.drawn_at = 0.0
        """``time.perf_counter()`` when rows for a new sort or filter were first drawn (the benchmark
        reads it)."""
        self._drawn_key: tuple[str, bool, str] | None = None
        self.view_times: deque[tuple[float, float, float]] = deque(maxlen=200)
        """(round trip, time computing in the worker, perf_counter when asked) of the last views asked
        for (the benchmark reads it)."""

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        yield Static(id="q-summary", classes="subtle")
        with ContentSwitcher(initial="messages", id="q-views"):
            yield RowTable(COLUMNS, self._cells, id="messages")
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
    def table(self) -> RowTable:
        return self.query_one("#messages", RowTable)

    @property
    def view_name(self) -> str:
        try:
            return self.query_one("#q-views", ContentSwitcher).current or "messages"
        except NoMatches:  # not composed yet, or already taken down (a poll answered while quitting)
            return "messages"

    def focus_body(self) -> None:
        name = self.view_name
        if name == "messages":
            self.table.focus()
        elif name == "groups":
            self.query_one("#groups", DataTable).focus()

    def action_view(self, name: str) -> None:
        self.query_one("#q-views", ContentSwitcher).current = name
        self.focus_body()
        self.redraw()

    # ------------------------------------------------------------------ data
    def _worker(self) -> Any:
        """The collector worker's client behind the ``queue`` source, or None (in-process source)."""
        src = getattr(self.app, "poller", None) and self.app.poller.sources.get("queue")  # type: ignore[attr-defined]
        owner = getattr(src, "owner", None)
        return owner if hasattr(owner, "queue_view") else None

    def params(self) -> QueueViewParams:
        # rows are wanted even while the panel is hidden: showing it then costs no round trip to the
        # worker (formatting 1,000 rows there costs ~10 ms a poll); the summary views need none
        return QueueViewParams(self.sort_column, self.sort_reverse, self.filter_text,
                               MAX_ROWS if self.view_name == "messages" else 0, frozenset(self.selected))

    @staticmethod
    def _same(a: QueueViewParams, b: QueueViewParams) -> bool:
        return (a.sort, a.reverse, a.filter) == (b.sort, b.reverse, b.filter) and (a.limit > 0) == (b.limit > 0)

    @property
    def view_pending(self) -> bool:
        """A view for the current sort/filter was asked for and has not been drawn yet."""
        if self.view is None:
            return self.snaps["queue"].updated is not None
        return self._inflight or not self._same(self.view.params, self.params())

    def take(self, snap: Any) -> None:  # type: ignore[override]
        prev = self.snaps.get(snap.name)
        data = snap.data
        if snap.ok and data is not None and (prev is None or prev.polls != snap.polls):
            self.summary = getattr(data, "summary", None)
            if isinstance(data, QueueView):
                if self.view is None or self._same(data.params, self.params()):
                    self.view = data
                elif self._worker() is not None:
                    # the poll was asked for an older sort/filter (the user typed while the worker read the
                    # queue): keep the rows shown, which match what was typed, and ask for them anew
                    # from the new snapshot (drawing the poll's rows flashed the old filter's rows)
                    self.request_view()
            else:
                self.model.load(data)
                self.view = None
        worker = self._worker()
        if worker is not None:
            worker.queue_params = self.params()  # the next poll answers with the view wanted now
        super().take(snap)

    def set_shown(self, shown: bool) -> None:
        self.shown = shown
        worker = self._worker()
        if worker is not None:
            worker.queue_params = self.params()
            if shown and self.view is not None and not self._same(self.view.params, self.params()):
                self.dirty = True  # rows were not sent while hidden: ask for them now
        super().set_shown(shown)

    def _current_view(self) -> QueueView | None:
        """The view to draw now; asks the worker for a new one when the sort or filter changed."""
        want = self.params()
        if self._worker() is None:
            if self.model.prepared is None:
                return None
            if self.view is None or not self._same(self.view.params, want) or \
                    self.view.snapshot_id != self.model.snapshot_id or self.view.params.selected != want.selected:
                self.view = self.model.view(want)
            return self.view
        if self.view is not None and not self._same(self.view.params, want):
            self.request_view()
        return self.view

    def request_view(self) -> None:
        """Ask the worker for the view of the current sort/filter (one request at a time; the last
        wish wins)."""
        if self._inflight:
            self._again = True
            return
        self._inflight = True
        self.run_worker(self._fetch_view(), group="queue-view", exit_on_error=False)

    async def _fetch_view(self) -> None:
        worker = self._worker()
        try:
            while True:
                self._again = False
                want = self.params()
                worker.queue_params = want
                try:
                    t0 = time.perf_counter()
                    view = await worker.queue_view(want)
                    self.view_times.append((time.perf_counter() - t0, view.compute_seconds, t0))
                except Exception as exc:  # noqa: BLE001 - shown; the last rows stay
                    self.app.notify(f"queue view: {exc}", title="queue", severity="error", markup=False)
                    return
                if not self._again:
                    self.view = view
                    self._inflight = False
                    self.redraw()
                    return
        finally:
            self._inflight = False

    # ------------------------------------------------------------------ drawing
    def render_view(self) -> None:
        view = self._current_view()
        summary = self.summary
        now = summary.time if summary is not None else self.ctx.clock()
        if view is not None:
            if view.params.limit > 0:
                self._draw_messages(view)
            if view.params.selected:
                self.selected -= view.params.selected - view.present  # left the queue: cannot stay selected
        name = self.view_name
        if summary is not None and not summary.error:
            if name == "shape":
                self._draw_shape(summary)
            elif name == "groups":
                self._draw_groups(summary, now)
        self.query_one("#q-summary", Static).update(self._summary_text(summary, now), layout=False)

    def _summary_text(self, summary: Any, now: float) -> Text:
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
                parts.append((f" (first {MAX_ROWS}: filter to narrow)", "italic"))
            parts.append(f"  sort {self.sort_column}{' desc' if self.sort_reverse else ''}")
        if self.selected:
            parts.append((f"  selected {len(self.selected)}", "bold reverse"))
        return Text.assemble(*parts)

    def _cells(self, row: Sequence[str]) -> list[Cell]:
        qid, queue = row[0], row[1]
        return [("●" if qid in self.selected else " ", "bold"), (qid, ""),
                (QUEUE_ABBR.get(queue, queue), "bold" if queue == "hold" else ""), (row[2], ""), (row[3], ""),
                (row[4], ""), (row[5], ""), (row[6], "")]

    def _draw_messages(self, view: QueueView) -> None:
        table = self.table
        if table.rows is not view.rows:
            table.set_rows(view.rows)
        self.shown_ids = table.keys()
        self.matched = view.matched
        key = (view.params.sort, view.params.reverse, view.params.filter)
        if key != self._drawn_key:
            self._drawn_key = key
            self.drawn_at = time.perf_counter()

    def _draw_shape(self, summary: Any) -> None:
        """One qshape-style table per non-empty queue, deferred first (where stuck mail is)."""
        tables: list[Any] = []
        order = {"deferred": 0, "active": 1, "incoming": 2, "hold": 3, "maildrop": 4}
        for shape in sorted(summary.shapes, key=lambda s: order.get(s.queue, 9)):
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
            tables += [table, Text("")]
        shown = Group(*tables[:-1]) if tables else Text("the queue is empty", style="dim")
        self.query_one("#shape-text", Static).update(shown)

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
        key = self.table.cursor_key
        if key is None or self.view_name != "messages":
            return
        self.selected ^= {key}
        self.table.action_cursor_down()
        self.table.refresh()
        self._redraw_summary()

    def action_select_all(self) -> None:
        self.selected |= set(self.shown_ids)
        self.table.refresh()
        self._redraw_summary()

    def action_clear_selection(self) -> None:
        self.selected.clear()
        self.table.refresh()
        self._redraw_summary()

    def action_sort(self) -> None:
        self.sort_column = SORTS[(SORTS.index(self.sort_column) + 1) % len(SORTS)]
        self.redraw()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.redraw()

    def on_row_table_header_selected(self, event: RowTable.HeaderSelected) -> None:
        column = event.column
        if column in SORTS:
            self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
            self.sort_column = column
            self.redraw()

    def _redraw_summary(self) -> None:
        summary = self.summary
        now = summary.time if summary is not None else self.ctx.clock()
        self.query_one("#q-summary", Static).update(self._summary_text(summary, now), layout=False)

    # ------------------------------------------------------------------ actions
    async def targets(self) -> tuple[list[str], str]:
        """The queue IDs an action applies to, and how to name them."""
        if self.view_name == "groups":
            key = cursor_key(self.query_one("#groups", DataTable))
            group = self._groups.get(key or "")
            if group is None:
                return [], ""
            worker = self._worker()
            if worker is not None:
                ids = list(await worker.queue_group_ids(group.reason))
            else:
                ids = list(self.model.group_ids(group.reason))
            return ids, f"the group '{clean(group.reason)}'"
        if self.selected:
            return sorted(self.selected), "the selection"
        key = self.table.cursor_key
        return ([key], "the message under the cursor") if key else ([], "")

    def _queue_actions(self) -> Any:
        if self._actions is None:
            from mailtop.mta.actions import QueueActions

            self._actions = QueueActions(self.ctx.config)
        return self._actions

    async def action_act(self, action: str) -> None:
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
            ids, what = await self.targets()
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

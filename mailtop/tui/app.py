"""The Textual application: a thin shell around one panel per module of ``mailtop.tui.panels``.

The app owns the collectors (:mod:`mailtop.tui.collect`), hands their snapshots to the panels that
listen to them, switches panels (one key each, a tab bar for the mouse), and runs actions through
the confirmation screen. Everything a panel shows is drawn by the panel's own module.
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, TabbedContent, TabPane

from mailtop import __version__
from mailtop.config import Config
from mailtop.tui import strips
from mailtop.tui.collect import Poller, Source, SourceUpdated
from mailtop.tui.modals import ConfirmScreen, HelpScreen
from mailtop.tui.panel import Context, Panel
from mailtop.tui.panels import PANELS
from mailtop.tui.text import literal
from mailtop.tui.widgets import KeyBar

THEMES = {"dark": "textual-dark", "light": "textual-light"}

GC_CHECK = 0.5
"""Seconds between checks whether a full garbage collection is due."""
GC_EVERY = 30.0
"""Seconds between full garbage collections (run only in a pause of the user's input)."""
GC_QUIET = 1.0
"""Seconds without a key or mouse press before a full garbage collection may run."""
GC_DEEP_EVERY = 10
"""Every this many full collections, frozen objects are collected too (cycles among them freed)."""
GC_FORCE = 300.0
"""Seconds after which a full garbage collection runs even while the user keeps typing."""
GC_NO_FULL = 1_000_000_000
"""The oldest generation's threshold while the app runs: no automatic full collection."""


def read_only_reason(cfg: Config, euid: int | None = None) -> str:
    """Why actions are disabled, or "" when they are allowed."""
    if cfg.general.read_only:
        return "read-only mode (--read-only or general.read_only): actions are disabled"
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return "read-only: not running as root (postsuper and postalias need root); actions are disabled"
    return ""


class MailtopApp(App[int]):
    """mailtop's dashboard."""

    TITLE = "mailtop"
    CSS_PATH = "mailtop.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("t", "toggle_theme", "Theme"),
        Binding("escape", "blur", "Leave a text field", key_display="Esc", show=False),
        Binding("ctrl+r", "refresh_now", "Refresh now", key_display="^R", show=False),
        *[
            Binding(str(i + 1), f"show_panel('{cls.panel_id()}')", cls.TITLE, show=False)
            for i, cls in enumerate(PANELS)
        ],
    ]

    def __init__(
        self,
        config: Config,
        *,
        sources: Sequence[Source] | None = None,
        unavailable: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        read_only: str | None = None,
        start_collectors: bool = True,
    ) -> None:
        super().__init__()
        strips.install()  # painted lines freed by reference counting, not left to the cyclic GC
        self.config = config
        if sources is None:
            from mailtop.tui.sources import build_sources

            built, missing = build_sources(config)
            sources, unavailable = built, {**missing, **(unavailable or {})}
        self.ctx = Context(
            config=config,
            read_only_reason=read_only_reason(config) if read_only is None else read_only,
            clock=clock,
            unavailable=dict(unavailable or {}),
        )
        self.poller = Poller(self, list(sources), clock=clock)
        self._last_input = self._last_full_gc = time.monotonic()
        self._frozen = False
        self._gc_passes = 0
        self.gc_pauses: deque[float] = deque(maxlen=100)
        """Seconds taken by the last full garbage collections (the benchmark reads it)."""
        self.start_collectors = start_collectors
        self.panels: list[Panel] = [cls(self.ctx) for cls in PANELS]
        self.theme = THEMES.get(config.general.theme, "textual-dark")
        self.sub_title = f"{config.general.hostname or 'localhost'} - v{__version__}"

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        self.topbar = Static(self._topbar(), id="topbar")
        yield self.topbar
        self.tabs = TabbedContent(id="panels", initial=self.panels[0].id)
        with self.tabs:
            for i, panel in enumerate(self.panels):
                with TabPane(f"{i + 1} {panel.TITLE}", id=panel.id):
                    yield panel
        yield KeyBar(id="keybar")

    def _topbar(self) -> Text:
        cfg = self.config
        bar = Text.assemble(("mailtop ", "bold"), literal(cfg.general.hostname or "localhost"))
        stale = [s.name for s in self.poller.snapshots.values() if s.stale]
        if stale:
            bar.append("  STALE: " + ", ".join(stale), style="bold reverse")
        if self.ctx.read_only:
            bar.append("  READ-ONLY", style="bold")
        return bar

    def on_mount(self) -> None:
        self.current_panel.set_shown(True)
        if self.start_collectors:
            self.poller.start()
        self._gc_threshold = gc.get_threshold()
        young, middle, _ = self._gc_threshold
        gc.set_threshold(young, middle, GC_NO_FULL)
        self.set_timer(1.0, self.collect_garbage)
        self.set_interval(GC_CHECK, self._maybe_collect_garbage)

    # ------------------------------------------------------------------ garbage collection
    # A full collection of the cyclic GC walks every object it tracks and stops the event loop while
    # it does: 20-80 ms with the ~170,000 objects of a running dashboard, at a random moment (a key
    # press). So the automatic full collections are off while the app runs (young generations are
    # still collected as usual) and the full pass runs here, while nobody is typing: at least
    # ``GC_QUIET`` seconds after the last key or mouse event, every ``GC_EVERY`` seconds, and after
    # ``GC_FORCE`` seconds even without a pause. The objects alive after it are frozen
    # (``gc.freeze``), so later passes never walk them: a pass walks only what was made since the last
    # one (25-45 ms after 10 s of busy typing under load, less when idle). Frozen objects are still
    # freed by reference counting; garbage *cycles* among them wait for a deep pass (unfreeze, collect
    # everything: 130-250 ms), every ``GC_DEEP_EVERY``-th pass.
    def collect_garbage(self, deep: bool = False) -> float:
        """Collect, then freeze the survivors; returns the seconds it took. ``deep``: everything,
        frozen objects too (the first pass and every ``GC_DEEP_EVERY``-th are deep)."""
        t0 = time.perf_counter()
        self._gc_passes += 1
        if deep or self._gc_passes % GC_DEEP_EVERY == 1:
            gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._frozen = True
        self._last_full_gc = time.monotonic()
        took = time.perf_counter() - t0
        self.gc_pauses.append(took)
        return took

    def _maybe_collect_garbage(self) -> None:
        now = time.monotonic()
        since = now - self._last_full_gc
        if (since >= GC_EVERY and now - self._last_input >= GC_QUIET) or since >= GC_FORCE:
            self.collect_garbage()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollUp, events.MouseScrollDown)):
            self._last_input = time.monotonic()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        if getattr(self, "_frozen", False):
            gc.unfreeze()  # collectable again once the app is gone (tests run many apps in one process)
        if getattr(self, "_gc_threshold", None):
            gc.set_threshold(*self._gc_threshold)
        await self.poller.close()

    @property
    def current_panel(self) -> Panel:
        active = self.tabs.active
        return next((p for p in self.panels if p.id == active), self.panels[0])

    def panel(self, panel_id: str) -> Panel:
        return next(p for p in self.panels if p.panel_id() == panel_id)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        active = event.pane.id
        for p in self.panels:
            p.set_shown(p.id == active)

    # ------------------------------------------------------------------ data
    def on_source_updated(self, message: SourceUpdated) -> None:
        if self._exit or not self._running:  # quitting: the panels' widgets may be gone (a poll ending now is dropped)
            return
        snap = message.snapshot
        for p in self.panels:
            if p.listens(snap.name):
                p.take(snap)
        if message.failed_now:
            self.notify(
                f"{snap.name}: {snap.error}\nShowing the last good data (marked STALE).",
                title="collector failed", severity="error", timeout=8, markup=False,
            )
        elif message.recovered:
            self.notify(f"{snap.name}: working again", title="collector recovered", timeout=4, markup=False)
        self.topbar.update(self._topbar(), layout=False)  # one line (CSS): no re-layout

    def refresh_source(self, *names: str) -> None:
        for name in names:
            self.poller.poke(name)

    # ------------------------------------------------------------------ actions
    def action_show_panel(self, panel_id: str) -> None:
        # drop focus first: a focused widget in the pane being hidden would pull the tabs back to it
        self.set_focus(None)
        self.tabs.active = f"panel-{panel_id}"
        self.panel(panel_id).focus_body()

    def action_help(self) -> None:
        sections: list[tuple[str, Sequence[Binding]]] = [("Everywhere", [b for b in self._bindings_of(self)])]
        for i, p in enumerate(self.panels):
            sections.append((f"{i + 1}  {p.TITLE} - {p.DESCRIPTION}", self._bindings_of(p)))
        intro = self.ctx.read_only_reason
        self.push_screen(HelpScreen(sections, intro=intro))

    @staticmethod
    def _bindings_of(node: Any) -> list[Binding]:
        out = []
        for b in node.BINDINGS:
            if isinstance(b, Binding):
                out.append(b)
            else:
                out.append(Binding(*b))
        return out

    def action_blur(self) -> None:
        self.current_panel.focus_body()

    def action_filter(self) -> None:
        self.current_panel.open_filter()

    def action_toggle_theme(self) -> None:
        self.theme = THEMES["light"] if self.theme == THEMES["dark"] else THEMES["dark"]

    def action_refresh_now(self) -> None:
        self.refresh_source(*self.current_panel.SOURCES)

    def confirm_and_run(
        self,
        title: str,
        argvs: Sequence[Sequence[str]],
        run: Callable[[], str],
        *,
        detail: str = "",
        refresh: Sequence[str] = (),
        done: Callable[[bool, str], None] | None = None,
    ) -> None:
        """Show the exact command(s); when confirmed, ``run()`` in a thread; report the outcome."""
        if self.ctx.read_only:
            self.notify(self.ctx.read_only_reason, title="read-only", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(title, run, tuple(refresh), done)
            else:
                self.notify(f"{title}: cancelled", timeout=3, markup=False)

        self.push_screen(ConfirmScreen(title, argvs, detail), answered)

    @work(thread=True, group="actions")
    def _run_action(
        self, title: str, run: Callable[[], str], refresh: tuple[str, ...],
        done: Callable[[bool, str], None] | None,
    ) -> None:
        try:
            outcome = run() or "done"
            ok = True
        except Exception as exc:  # noqa: BLE001 - the operator sees the failure
            outcome, ok = f"{exc.__class__.__name__}: {exc}", False
        self.call_from_thread(self._action_finished, title, ok, outcome, refresh, done)

    def _action_finished(
        self, title: str, ok: bool, outcome: str, refresh: tuple[str, ...],
        done: Callable[[bool, str], None] | None,
    ) -> None:
        self.notify(f"{title}: {outcome}", title="done" if ok else "failed",
                    severity="information" if ok else "error", timeout=6 if ok else 12, markup=False)
        self.refresh_source(*refresh)
        if done is not None:
            done(ok, outcome)


def run_app(config: Config) -> int:
    app = MailtopApp(config)
    app.run()
    return app.return_code or 0



"""Collectors in workers, Dolphie style.

A :class:`Source` names a collector function from the core (sync: it runs in a thread; async: it runs
on the event loop, where its I/O is awaited) and its refresh interval from ``cfg.refresh``. The
:class:`Poller` runs one worker per source: poll, post a typed :class:`SourceUpdated` message, then
sleep the interval *after* the poll finished, so a slow poll never stacks up behind itself. A poll
can be asked to run now (``Poller.poke``), e.g. after an action or for "re-run this check".

A failing poll never crashes the app and never blanks a panel: the message carries the last good
data, marked stale, with the error text, and the app shows a notice.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump


@dataclass(frozen=True)
class Source:
    """One collector: ``fetch()`` returns a frozen record (or raises)."""

    name: str
    interval: float
    fetch: Callable[[], Any] | Callable[[], Awaitable[Any]]
    label: str = ""
    """Shown in notices ("queue: postqueue failed ...")."""
    owner: Any = None
    """The object behind ``fetch`` when a panel needs more of it (the log monitor, for tracing)."""


@dataclass(frozen=True)
class Snapshot:
    """What a panel knows about one source: the last good data and whether it is current."""

    name: str
    data: Any = None
    updated: float | None = None
    """Wall-clock time of the last good poll (None: never succeeded)."""
    error: str = ""
    """The last poll's error; empty when the last poll succeeded."""
    failed_at: float | None = None
    duration: float = 0.0
    polls: int = 0

    @property
    def stale(self) -> bool:
        return bool(self.error)

    @property
    def ok(self) -> bool:
        return self.updated is not None and not self.error


class SourceUpdated(Message):
    """A poll finished (successfully or not)."""

    def __init__(self, snapshot: Snapshot, failed_now: bool, recovered: bool) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.failed_now = failed_now
        """This poll failed and the previous one did not (show a notice once, not every poll)."""
        self.recovered = recovered


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    first = text.splitlines()[0]
    return f"{exc.__class__.__name__}: {first}" if not first.startswith(exc.__class__.__name__) else first


SLOW_FACTOR = 2.0
"""A source whose poll takes ``d`` seconds polls again after at least ``SLOW_FACTOR * d`` seconds."""


class Poller:
    """Runs every source's poll loop in a worker owned by ``owner`` (the app)."""

    def __init__(self, owner: MessagePump, sources: list[Source], clock: Callable[[], float] = time.time):
        self.owner = owner
        self.sources = {s.name: s for s in sources}
        self.snapshots: dict[str, Snapshot] = {s.name: Snapshot(s.name) for s in sources}
        self._wake: dict[str, asyncio.Event] = {}
        self._clock = clock
        self.paused = False

    def start(self) -> None:
        for src in self.sources.values():
            self._wake[src.name] = asyncio.Event()
            self.owner.run_worker(  # type: ignore[attr-defined]
                self._loop(src), name=f"collect:{src.name}", group="collect", exit_on_error=False
            )

    def poke(self, name: str) -> None:
        """Run ``name``'s next poll now instead of after its interval."""
        event = self._wake.get(name)
        if event is not None:
            event.set()

    async def poll_once(self, src: Source) -> Snapshot:
        prev = self.snapshots[src.name]
        t0 = time.monotonic()
        try:
            if inspect.iscoroutinefunction(src.fetch):
                data = await src.fetch()
            else:
                data = await asyncio.to_thread(src.fetch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the operator as a notice and a stale marker
            snap = replace(
                prev, error=describe_error(exc), failed_at=self._clock(),
                duration=time.monotonic() - t0, polls=prev.polls + 1,
            )
        else:
            snap = Snapshot(src.name, data, self._clock(), "", None, time.monotonic() - t0, prev.polls + 1)
        self.snapshots[src.name] = snap
        self.owner.post_message(SourceUpdated(snap, failed_now=snap.stale and not prev.stale,
                                              recovered=prev.stale and not snap.stale))
        return snap

    async def _loop(self, src: Source) -> None:
        wake = self._wake[src.name]
        while True:
            wake.clear()
            snap = await self.poll_once(src)
            try:
                await asyncio.wait_for(wake.wait(), timeout=self.pause_after(src, snap.duration))
            except TimeoutError:
                pass

    @staticmethod
    def pause_after(src: Source, duration: float) -> float:
        """Seconds until the next poll: the source's interval, longer when a poll is slow (a 100k queue
        read taking 1.5 s polls every 3 s instead of keeping a core busy)."""
        return max(src.interval, SLOW_FACTOR * duration)

    async def close(self) -> None:
        """Stop the worker processes behind the sources (the app is closing)."""
        for src in self.sources.values():
            close = getattr(src.owner, "close", None)
            if close is not None and inspect.iscoroutinefunction(close):
                await close()

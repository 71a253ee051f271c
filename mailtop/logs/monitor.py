"""Live monitoring of the mail logs for long-running front ends (the dashboard): follow -> parse -> stats.

``LogMonitor(cfg).poll()`` reads what was appended to ``cfg.logs.files`` since the last poll
(``follow.MailLogFollower``: byte offsets, rotation), feeds the events to a ``stats.LogStats`` (which
also tracks each message's flow, for ``trace``) and returns a :class:`LogBatch`: the new events and
the counts and delay percentiles of the last ``thresholds.log_window``. ``trace(queue_id)`` returns the
flow the statistics tracked for a queue ID. Both hold one lock, so a UI thread may trace while a
worker thread polls.

Memory is bounded for a process that runs for weeks, and levels off within minutes:

* the per-minute buckets of the statistics (counts, reasons and one delay sample per final delivery)
  are kept only for ``thresholds.log_window`` (the longest window a poll asks for), not the statistics'
  default hour: at 2,000 lines/s the delay samples alone grew ~1.7 MiB a minute for an hour;
* at most ``LIVE_MAX_FLOWS`` flows (or ``logs.max_flows`` when lower): flows of messages that are
  never removed (deferred mail) otherwise pile up to ``logs.max_flows`` (100,000, ~1.1 KiB each);
  the dashboard traces the lines it shows, which are recent;
* at most ``MAX_KEYS`` distinct senders, recipients, reasons ... per counter (the rarest are dropped
  first).

No Textual, no display code: a front end turns the events into what it shows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FROM_START_MAX = 8 * 1024 * 1024
"""Read a log from its start when all files together are at most this big (the lab, a quiet host);
otherwise follow from the end, as tail -f does."""

MAX_KEYS = 50_000
"""Distinct keys kept per counter of the statistics (senders, recipients, domains, reasons)."""

LIVE_MAX_FLOWS = 20_000
"""Flows (messages by queue ID) a live monitor keeps at most; the oldest first seen is evicted."""


@dataclass(frozen=True)
class LogBatch:
    """One poll of the mail logs: the new events and the statistics of the last window."""

    lines: tuple[Any, ...]
    """The new events (``parse.LogEvent``), oldest first; a front end may replace them by what it shows."""
    counts: Any
    """``stats.Counts`` of the last ``window`` seconds."""
    delays: Any
    """``stats.DelayStats`` of final deliveries in the window."""
    by_relay: dict[str, Any]
    by_domain: dict[str, Any]
    time: float
    window: float
    errors: tuple[str, ...] = ()
    """Files that could not be read this poll (``path: reason``)."""


class LogMonitor:
    """Follow the configured logs and keep statistics; ``poll()`` from one worker thread, ``trace()``
    from any thread."""

    def __init__(self, cfg: Any, clock: Callable[[], float] = time.time) -> None:
        from mailtop.logs.flows import FlowTracker
        from mailtop.logs.follow import MailLogFollower
        from mailtop.logs.stats import LogStats

        files = list(cfg.logs.files)
        size = 0
        for f in files:
            try:
                size += os.stat(f).st_size
            except OSError:
                continue
        self.follower = MailLogFollower(files, from_start=size <= FROM_START_MAX)
        self.window = cfg.thresholds.log_window
        self.stats = LogStats(clock=clock, window_max=max(60.0, float(self.window)), max_keys=MAX_KEYS,
                              syslog_names=cfg.logs.syslog_names,
                              flows=FlowTracker(max_flows=min(cfg.logs.max_flows, LIVE_MAX_FLOWS)))
        self.clock = clock
        self._lock = threading.Lock()

    def poll(self) -> LogBatch:
        with self._lock:
            events = self.follower.poll()
            self.stats.add_all(events)
            errors = tuple(f"{p}: {e.strerror or e}" for p, e in self.follower.errors())
            if errors and not events and not self.stats.lines:
                raise OSError("; ".join(errors))
            w = self.window
            return LogBatch(
                lines=tuple(events), counts=self.stats.counts(w), delays=self.stats.delays(w),
                by_relay=dict(self.stats.delays(w, by="relay")), by_domain=dict(self.stats.delays(w, by="domain")),
                time=self.clock(), window=w, errors=errors,
            )

    def trace(self, queue_id: str) -> Any:
        """The flow tracked for ``queue_id`` (``flows.Flow``), or None."""
        with self._lock:
            return self.stats.flows.find(queue_id)

    def close(self) -> None:
        close = getattr(self.follower, "close", None)
        if close is not None:
            close()

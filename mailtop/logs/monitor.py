"""Live monitoring of the mail logs for long-running front ends (the dashboard): follow -> parse -> stats.

``LogMonitor(cfg).poll()`` reads what was appended to ``cfg.logs.files`` since the last poll
(``follow.MailLogFollower``: byte offsets, rotation) - or, with no files and ``logs.journal``, what the
systemd journal got (``journal.JournalSource``: ``journalctl -f``) - feeds the events to a ``stats.LogStats`` (which
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

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FROM_START_MAX = 8 * 1024 * 1024
"""Read a log from its start when all files together are at most this big (the lab, a quiet host);
otherwise follow from the end, as tail -f does."""

WINDOW_MAX = 256 * 1024 * 1024
"""How far back the first poll counts a large log's window at most (read a chunk at a time, so this
bounds time, not memory): five minutes at ~7,000 lines/s. ``--check`` reads back at most 64 MiB."""

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
        self.window = cfg.thresholds.log_window
        self.files = files
        # (path, open file, its end of complete lines, its first line) to count first
        self._prime: list[tuple[str, Any, int, bytes]] = []
        self._journal_window = False
        self.follower: Any
        if not files and getattr(cfg.logs, "journal", False):
            from mailtop.logs.journal import JournalSource

            self.follower = JournalSource(cfg)
            self._journal_window = True  # the first poll counts the window from the journal
            self._journal_timeout = max(10.0, 4 * float(cfg.general.timeout))
        else:
            starts: dict[str, Any] = {}
            if size > FROM_START_MAX:
                starts = self._open_windows(files)
            self.follower = MailLogFollower(files, from_start=size <= FROM_START_MAX, starts=starts)
        self.stats = LogStats(clock=clock, window_max=max(60.0, float(self.window)), max_keys=MAX_KEYS,
                              syslog_names=cfg.logs.syslog_names,
                              flows=FlowTracker(max_flows=min(cfg.logs.max_flows, LIVE_MAX_FLOWS)))
        self.clock = clock
        self._lock = threading.Lock()
        self.ready = threading.Event()
        """Set once the first poll has counted the window (checks over the statistics wait for it)."""

    def _open_windows(self, files: list[Any]) -> dict[str, Any]:
        """A large log is followed from its end; the window before the end is counted by the first poll
        (``_count_window``). Returns where each follower starts: the end of the complete lines now, with
        the file's identity and first line (a rotation or truncation before the first poll is noticed)."""
        from mailtop.logs.follow import _first_line
        from mailtop.logs.window import line_end

        starts = {}
        for f in files:
            try:
                fh = open(f, "rb")  # noqa: SIM115 - closed by _count_window
            except OSError:
                continue  # the follower reports it
            try:
                st = os.fstat(fh.fileno())
                end = line_end(fh, st.st_size)
            except OSError:
                fh.close()
                continue
            first = _first_line(fh)
            starts[str(f)] = ((st.st_dev, st.st_ino), end, first)
            self._prime.append((str(f), fh, end, first))
        return starts

    def _count_window(self) -> None:
        """Count the last ``window`` (and a minute) before the followers' start, a chunk at a time:
        rates, delays and traces are there from the first screen, not only after ``window`` seconds.
        Only the statistics: the new-lines list shows what is appended from now on."""
        import heapq

        from mailtop.logs.parse import LineParser
        from mailtop.logs.window import events_since, window_lines, window_start

        now = self.clock()
        since = now - float(self.window) - 60.0
        streams = []
        with contextlib.ExitStack() as stack:
            for path, fh, end, first in self._prime:
                parser = LineParser(reference_time=now)
                try:
                    src = self._untruncated(path, fh, end, first)
                    if src is None:
                        continue
                    if src is not fh:
                        stack.enter_context(src)
                    start = window_start(src, since, lambda line, p=parser: p.parse(line).ts, end, WINDOW_MAX)
                except OSError:
                    continue
                streams.append(events_since(parser, window_lines(src, start, end), since))
            if streams:
                self.stats.add_all(streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda e: e.ts))

    @staticmethod
    def _untruncated(path: str, fh: Any, end: int, first: bytes) -> Any:
        """What to count ``path``'s window from: ``fh``; after a truncation since the start
        (copytruncate) the copy ``PATH.1`` when it holds the old content, else nothing (the truncated
        file holds lines that come after the start: its follower reads them)."""
        from mailtop.logs.follow import _first_line

        if os.fstat(fh.fileno()).st_size >= end and _first_line(fh) == first:
            return fh
        try:
            copy = open(path + ".1", "rb")  # noqa: SIM115 - closed by the caller's stack
        except OSError:
            return None
        if first and _first_line(copy) == first and os.fstat(copy.fileno()).st_size >= end:
            return copy
        copy.close()
        return None

    def _close_prime(self) -> list[Any]:
        """Close the files the window was counted from. Returns the events appended after the start to
        a file the path no longer names (rotated by rename, e.g. while the window was counted): its
        follower reads the new file from its start, the rest of the old one is read here (a truncation
        is the follower's own to handle, from the copy)."""
        from mailtop.logs.follow import iter_text_lines

        out: list[Any] = []
        parse = self.follower.parser.parse
        prime, self._prime = self._prime, []
        for path, fh, end_at_start, _first in prime:
            try:
                try:
                    st = os.stat(path)
                    old = os.fstat(fh.fileno())
                    if (st.st_dev, st.st_ino) == (old.st_dev, old.st_ino):
                        continue
                except FileNotFoundError:
                    pass  # renamed and not created again yet
                fh.seek(end_at_start)
                for lines in iter_text_lines(fh):
                    out.extend(parse(line) for line in lines)
            except OSError:
                continue
            finally:
                fh.close()
        return out

    def file_errors(self) -> list[tuple[Any, OSError]]:
        """Configured files that are missing or cannot be read, with the error."""
        from pathlib import Path

        errors: dict[Path, OSError] = dict(self.follower.errors())
        for f in map(Path, self.files):
            if f not in errors and not f.exists():
                errors[f] = FileNotFoundError(2, "No such file or directory", str(f))
        return list(errors.items())

    def poll(self) -> LogBatch:
        with self._lock:
            window_error: tuple[str, ...] = ()
            tails: list[Any] = []
            try:
                if self._prime:
                    try:
                        self._count_window()
                    finally:
                        tails = self._close_prime()
                elif self._journal_window:
                    self._journal_window = False
                    since = self.clock() - float(self.window) - 60.0
                    self.follower.count_window(self.stats.add_all, since, self._journal_timeout)
            except OSError as exc:  # only history: following goes on, the batch says what failed
                window_error = (f"the last {self.window:g} s before the start: {exc.strerror or exc}",)
            events = self.follower.poll()
            if tails:
                events = tails + events
            self.stats.add_all(events)
            self.ready.set()
            errors = window_error + tuple(f"{p}: {e.strerror or e}" for p, e in self.follower.errors())
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
        for _path, fh, _end, _first in self._prime:
            fh.close()
        self._prime = []
        close = getattr(self.follower, "close", None)
        if close is not None:
            close()


"""Build the collectors (:class:`~mailtop.tui.collect.Source`) from the config, importing each core lazily.

Each health check of ``mailtop.checks.registry`` is its own source ``check:<id>`` with the check's own
refresh interval (DNS every few minutes, the queue every few seconds). A core that is not installed
gives no source but a reason, which the panels show instead of a blank.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailtop.config import Config
from mailtop.tui.collect import Source

CHECK_PREFIX = "check:"
FROM_START_MAX = 8 * 1024 * 1024
"""Read a log from its start when all files together are at most this big (the lab, a quiet host);
otherwise follow from the end, as tail -f does."""


@dataclass(frozen=True)
class LogBatch:
    """One poll of the mail logs: the new events and the statistics of the last window."""

    lines: tuple[Any, ...]
    counts: Any
    delays: Any
    by_relay: dict[str, Any]
    by_domain: dict[str, Any]
    time: float
    window: float
    errors: tuple[str, ...] = ()


class LogMonitor:
    """Glue of the log cores for the dashboard: follow (``MailLogFollower``), count (``LogStats``,
    which also tracks flows for tracing). ``poll()`` runs in the collector's thread; ``trace()`` may be
    called from the UI, so both take a lock."""

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.time) -> None:
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
        self.stats = LogStats(clock=clock)
        self.window = cfg.thresholds.log_window
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
        with self._lock:
            return self.stats.flows.find(queue_id)


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise


def check_fetch(cfg: Config, check_id: str) -> Callable[[], Any]:
    from mailtop.checks import run_checks

    async def fetch() -> Any:
        return await run_checks(cfg, only=check_id)

    return fetch


def check_sources(cfg: Config) -> list[Source]:
    from mailtop.checks import registry

    return [
        Source(f"{CHECK_PREFIX}{c.id}", c.refresh, check_fetch(cfg, c.id), label=c.title)
        for c in registry(cfg)
        if not c.opt_in  # the probe sends real mail: the Probes panel runs it on demand
    ]


def build_sources(cfg: Config) -> tuple[list[Source], dict[str, str]]:
    sources: list[Source] = []
    missing: dict[str, str] = {}
    if _optional("mailtop.mta.postfix") is not None:
        from mailtop.mta.postfix import PostfixQueue
        from mailtop.tui.panels.queue import prepare

        reader = PostfixQueue.from_config(cfg)
        sources.append(Source("queue", cfg.refresh.queue, lambda: prepare(reader.snapshot()), label="postqueue -j"))
    else:
        missing["queue"] = "mailtop.mta.postfix is not installed"
    if not cfg.logs.files:
        missing["log"] = "no log files configured (logs.files); the journal is not followed by the dashboard yet"
    elif _optional("mailtop.logs.follow") is not None and _optional("mailtop.logs.stats") is not None:
        monitor = LogMonitor(cfg)
        sources.append(Source("log", cfg.refresh.log, monitor.poll, label="mail log", owner=monitor))
    else:
        missing["log"] = "mailtop.logs (follow, stats) is not installed"
    if _optional("mailtop.health.quota") is not None:
        from mailtop.health.quota import collect_quota

        sources.append(Source("quota", cfg.refresh.quota, lambda: collect_quota(cfg), label="quota"))
    else:
        missing["quota"] = "mailtop.health.quota is not installed"
    if _optional("mailtop.checks") is not None:
        sources += check_sources(cfg)
    else:
        missing["checks"] = "mailtop.checks is not installed"
    return sources, missing

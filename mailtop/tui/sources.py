"""Build the collectors (:class:`~mailtop.tui.collect.Source`) from the config, importing each core lazily.

Each health check of ``mailtop.checks.registry`` is its own source ``check:<id>`` with the check's own
refresh interval (DNS every few minutes, the queue every few seconds). A core that is not installed
gives no source but a reason, which the panels show instead of a blank.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mailtop.config import Config
from mailtop.tui.collect import Source

CHECK_PREFIX = "check:"


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


def _live_logs(cfg: Config, monitor: Any) -> Callable[[], Any]:
    from mailtop.checks import run_live_logs

    async def fetch() -> Any:
        return await run_live_logs(cfg, monitor)

    return fetch


def check_sources(cfg: Config, worker: Any = None, live: dict[str, tuple[Callable[[], Any], Any]] | None = None
                  ) -> list[Source]:
    """One source per check; with ``worker`` (a :class:`~mailtop.tui.worker.CheckWorker`) the checks run
    in that worker process, else on the UI's event loop and its threads. ``live``: check id -> (fetch,
    owner) for checks answered by another collector from what it keeps (``logs``: the log monitor;
    ``queue``: the queue worker's last listing)."""
    from mailtop.checks import registry

    live = live or {}
    out = []
    for c in registry(cfg):
        if c.opt_in:  # the probe sends real mail: the Probes panel runs it on demand
            continue
        if c.id in live:
            fetch, owner = live[c.id]
        elif worker is not None:
            fetch, owner = worker.fetcher(c.id), worker
        else:
            fetch, owner = check_fetch(cfg, c.id), None
        out.append(Source(f"{CHECK_PREFIX}{c.id}", c.refresh, fetch, label=c.title, owner=owner))
    return out


def build_sources(
    cfg: Config, *, workers: bool = True, queue_reader: str = "", reader_args: dict[str, Any] | None = None,
    sys_path: tuple[str, ...] = (),
) -> tuple[list[Source], dict[str, str]]:
    """The dashboard's collectors. With ``workers`` (the default) the queue and the log are read, and
    the health checks run, in worker processes (:mod:`mailtop.tui.worker`) so the UI keeps its
    interpreter lock; without, in threads of the UI process. ``queue_reader`` ("module:callable", called with the config and
    ``reader_args``) replaces ``PostfixQueue.from_config`` (the benchmark's synthetic 100k queue)."""
    sources: list[Source] = []
    missing: dict[str, str] = {}
    live: dict[str, tuple[Callable[[], Any], Any]] = {}  # checks answered from a collector's own data
    if _optional("mailtop.mta.postfix") is not None:
        if workers:
            from mailtop.tui.worker import DEFAULT_READER, QueueWorker

            kwargs = {"reader": queue_reader or DEFAULT_READER, "reader_args": dict(reader_args or {})}
            qw = QueueWorker(cfg, kwargs=kwargs, sys_path=sys_path)
            sources.append(Source("queue", cfg.refresh.queue, qw.fetch, label="postqueue -j", owner=qw))
            live["queue"] = (qw.check, qw)
        else:
            from mailtop.tui.worker import resolve

            reader = resolve(queue_reader)(cfg, **(reader_args or {})) if queue_reader else None
            if reader is None:
                from mailtop.mta.postfix import PostfixQueue

                reader = PostfixQueue.from_config(cfg)
            from mailtop.tui.queueview import prepare

            sources.append(Source("queue", cfg.refresh.queue, lambda: prepare(reader.snapshot(), search=True), label="postqueue -j"))
    else:
        missing["queue"] = "mailtop.mta.postfix is not installed"
    if not cfg.logs.files and not cfg.logs.journal:
        missing["log"] = "no log files configured (logs.files) and the journal is not read (logs.journal)"
    elif _optional("mailtop.logs.follow") is not None and _optional("mailtop.logs.stats") is not None:
        if workers:
            from mailtop.tui.worker import LogWorker

            lw = LogWorker(cfg, sys_path=sys_path)
            sources.append(Source("log", cfg.refresh.log, lw.fetch, label="mail log", owner=lw))
            live["logs"] = (lw.check, lw)
        else:
            from mailtop.logs.monitor import LogMonitor

            monitor = LogMonitor(cfg)
            sources.append(Source("log", cfg.refresh.log, monitor.poll, label="mail log", owner=monitor))
            live["logs"] = (_live_logs(cfg, monitor), monitor)
    else:
        missing["log"] = "mailtop.logs (follow, stats) is not installed"
    if _optional("mailtop.health.quota") is not None:
        from mailtop.health.quota import collect_quota

        sources.append(Source("quota", cfg.refresh.quota, lambda: collect_quota(cfg), label="quota"))
    else:
        missing["quota"] = "mailtop.health.quota is not installed"
    if _optional("mailtop.checks") is not None:
        if workers:
            from mailtop.tui.worker import CheckWorker

            sources += check_sources(cfg, CheckWorker(cfg, sys_path=sys_path), live)
        else:
            sources += check_sources(cfg, live=live)
    else:
        missing["checks"] = "mailtop.checks is not installed"
    return sources, missing

"""The collector worker processes (``mailtop.tui.worker``): no UI in them, failures reported, the log
worker against the lab's real logs."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from mailtop.tui.plain import ShownLine
from mailtop.tui.queueview import QueueViewParams
from mailtop.tui.worker import LogWorker, QueueWorker, WorkerError


def test_worker_side_imports_neither_textual_nor_rich():
    code = ("import sys, mailtop.tui.worker, mailtop.tui.queueview, mailtop.tui.plain, mailtop.logs.monitor; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "[]"


async def test_a_broken_worker_is_reported_with_its_error_and_restarted(plain_config):
    worker = QueueWorker(plain_config, kwargs={"reader": "mailtop.no_such_module:Reader"})
    try:
        with pytest.raises(WorkerError, match="no_such_module"):
            await worker.fetch()
        with pytest.raises(WorkerError, match="no_such_module"):
            await worker.queue_view(QueueViewParams())
        assert worker.starts == 2  # a dead worker is started again on the next call
    finally:
        await worker.close()
    assert worker.proc is None


async def _close(sources) -> None:  # noqa: ANN001
    """Stop the worker processes behind ``sources`` (as the app's Poller does when it quits)."""
    for src in sources:
        if src.owner is not None and hasattr(src.owner, "close"):
            await src.owner.close()


async def test_log_worker_sends_display_lines_and_traces(lab_config):
    worker = LogWorker(lab_config)
    try:
        batch = await worker.fetch()
        assert batch.lines and all(type(x) is ShownLine for x in batch.lines)
        assert batch.counts is not None and batch.window == lab_config.thresholds.log_window
        qid = next(x.queue_id for x in batch.lines if x.queue_id and "status=" in x.plain)
        flow = await worker.trace(qid)
        assert flow is not None and flow.deliveries
        assert any(x.style for x in batch.lines)  # coloured by status in the worker
    finally:
        await worker.close()


async def test_health_checks_run_in_one_niced_worker_process_with_the_same_findings(lab_config):
    """Every ``check:<id>`` source runs its check in the checks worker (one process for all), not in the
    UI process: the findings are those of an in-process run against the lab, the worker's check threads
    are niced, and several checks run at once."""
    import asyncio
    import os
    from pathlib import Path

    from mailtop.checks import run_checks
    from mailtop.tui.sources import build_sources
    from mailtop.tui.worker import WORKER_NICE, CheckWorker

    sources, _ = build_sources(lab_config)
    checks = {s.name: s for s in sources if s.name.startswith("check:")}
    owners = {id(s.owner) for name, s in checks.items() if name not in ("check:logs", "check:queue")}
    assert "check:system.postfix" in checks and len(owners) == 1
    worker = checks["check:system.postfix"].owner
    assert isinstance(worker, CheckWorker)
    try:
        runs = await asyncio.gather(checks["check:system.postfix"].fetch(), checks["check:storage"].fetch(),
                                    checks["check:aliases"].fetch())
        assert worker.pid is not None and worker.pid != os.getpid() and worker.alive and worker.starts == 1
        here = await run_checks(lab_config, only="system.postfix")
        assert [(f.id, f.status) for f in runs[0].findings] == [(f.id, f.status) for f in here.findings]
        assert runs[0].findings and runs[1].findings and runs[2].findings
        nices = []
        for task in Path(f"/proc/{worker.pid}/task").iterdir():
            stat = (task / "stat").read_text()
            nices.append(int(stat[stat.rindex(")") + 2:].split()[16]))
        assert os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE in nices, nices  # the checks' event loop
    finally:
        await _close(sources)
    assert not worker.alive


async def test_the_logs_check_comes_from_the_log_worker_with_the_findings_of_a_fresh_read(lab_config):
    """``check:logs`` is answered by the log worker from the statistics it keeps while following the
    log (not by re-reading the window in the checks worker): the same findings as ``--check``'s."""
    from mailtop.checks import run_checks
    from mailtop.tui.sources import build_sources

    sources, _ = build_sources(lab_config)
    by_name = {s.name: s for s in sources}
    src = by_name["check:logs"]
    assert isinstance(src.owner, LogWorker) and src.owner is by_name["log"].owner
    try:
        await by_name["log"].fetch()  # the dashboard polls the log source; the check reads what it counted
        live = await src.fetch()
        here = await run_checks(lab_config, only="logs")
        assert live.results[0].check == "logs" and live.results[0].state == "ran"
        assert {f.id for f in live.findings} >= {"logs.defer_rate"}
        assert [(f.id, f.status, f.summary) for f in live.findings] == \
            [(f.id, f.status, f.summary) for f in here.findings]
    finally:
        await _close(sources)


async def test_the_queue_check_comes_from_the_queue_worker_with_the_findings_of_a_fresh_read(lab_config):
    """``check:queue`` is answered by the queue worker from its last listing (no second ``postqueue
    -j`` per run): the findings are ``--check``'s on the same queue."""
    from mailtop.checks import run_checks
    from mailtop.tui.sources import build_sources
    from mailtop.tui.worker import QueueWorker

    sources, _ = build_sources(lab_config)
    by_name = {s.name: s for s in sources}
    src = by_name["check:queue"]
    assert isinstance(src.owner, QueueWorker) and src.owner is by_name["queue"].owner
    try:
        waiting = asyncio.ensure_future(src.fetch())  # asked before the first listing: waits for it
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await by_name["queue"].fetch()
        live = await waiting
        here = await run_checks(lab_config, only="queue")
        assert live.results[0].check == "queue" and live.results[0].state == "ran"
        assert "queue.total" in {f.id for f in live.findings}
        assert [(f.id, f.status, f.summary) for f in live.findings] == \
            [(f.id, f.status, f.summary) for f in here.findings]
    finally:
        await _close(sources)

"""The collector worker processes (``mailtop.tui.worker``): no UI in them, failures reported, the log
worker against the lab's real logs."""

from __future__ import annotations

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

"""Queue actions through the panel against the lab: requeue, delete, deliver now, flush.

Each goes through the confirmation modal (which must show the exact command), really changes the
lab's queue (or makes Postfix try the message again), and leaves one line in the audit log. The
first test drives the dashboard's own collectors (worker processes, ``build_sources``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import make_app
from screen_text import screen_text
from test_queue_lab import queue_state, send_deferred, wait_until

from mailtop.mta.postfix import PostfixQueue
from mailtop.tui.collect import Source
from mailtop.tui.modals import ConfirmScreen
from mailtop.tui.sources import build_sources


class Audit:
    """The audit lines written after this point."""

    def __init__(self, cfg) -> None:
        self.path = Path(cfg.general.audit_log)
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def lines(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.start)
            return [json.loads(x) for x in fh.read().decode().splitlines() if x.strip()]

    def find(self, action: str) -> dict | None:
        return next((rec for rec in self.lines() if rec["action"] == action), None)


def delete_quietly(cfg, qid: str) -> None:
    subprocess.run(["postsuper", "-c", str(cfg.postfix.config_dir), "-d", qid], capture_output=True, timeout=10,
                   check=False)


async def confirm(pilot, app, *must_show: str) -> None:
    await wait_until(lambda: isinstance(app.screen, ConfirmScreen), timeout=5)
    await pilot.pause()
    text = screen_text(app)
    for part in must_show:
        assert part in text, f"{part!r} not in the confirmation:\n{text}"
    await pilot.press("y")


async def test_requeue_then_delete_through_the_panel_with_workers(lab, lab_config):
    sender = send_deferred(lab)
    old_qid, _ = await wait_until(lambda: queue_state(lab_config, sender))
    audit = Audit(lab_config)
    sources, _ = build_sources(lab_config)
    app = make_app(lab_config, [s for s in sources if s.name in ("queue", "log")])
    cfg_dir = str(lab_config.postfix.config_dir)
    new_qid = ""
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.panel("queue")
            assert panel._worker() is not None  # the rows come from the queue worker process
            await pilot.press("2", "slash", *f"from:{sender}", "enter")
            await wait_until(lambda: panel.shown_ids == [old_qid])
            await pilot.press("r")
            await confirm(pilot, app, f"-c {cfg_dir} -r -", "postkick", old_qid)
            # requeued: the message is there under a new queue ID, the old one is gone
            state = await wait_until(lambda: (s := queue_state(lab_config, sender)) and s[0] != old_qid and s)
            new_qid = state[0]
            rec = await wait_until(lambda: audit.find("requeue"))
            assert rec["targets"] == [old_qid] and rec["result"] == "ok"
            # the panel follows: after its refresh it shows the new ID only
            await wait_until(lambda: panel.shown_ids == [new_qid])
            await pilot.press("d")
            await confirm(pilot, app, f"-c {cfg_dir} -d -", new_qid)
            await wait_until(lambda: queue_state(lab_config, sender) is None)
            rec = await wait_until(lambda: audit.find("delete"))
            assert rec["targets"] == [new_qid] and rec["result"] == "ok"
            await wait_until(lambda: panel.shown_ids == [])
        assert all(src.owner.proc is None for src in app.poller.sources.values())  # workers stopped on quit
    finally:
        for qid in (old_qid, new_qid):
            if qid:
                delete_quietly(lab_config, qid)


def attempts(cfg, qid: str) -> int:
    """Delivery attempts of ``qid`` the lab's Postfix logged so far."""
    n = 0
    for f in cfg.logs.files:
        try:
            text = Path(f).read_text(errors="replace")
        except OSError:
            continue
        n += sum(1 for line in text.splitlines() if f"{qid}: to=<" in line and "status=" in line)
    return n


async def test_deliver_now_and_flush_through_the_panel(lab, lab_config):
    sender = send_deferred(lab)
    qid, _ = await wait_until(lambda: queue_state(lab_config, sender))
    await wait_until(lambda: attempts(lab_config, qid) >= 1, timeout=20)  # the first try (dead relay) is logged
    audit = Audit(lab_config)
    reader = PostfixQueue.from_config(lab_config)
    app = make_app(lab_config, [Source("queue", 60.0, reader.snapshot)])
    cfg_dir = str(lab_config.postfix.config_dir)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.panel("queue")
            await pilot.press("2", "slash", *f"from:{sender}", "enter")
            await wait_until(lambda: panel.shown_ids == [qid])
            before = attempts(lab_config, qid)
            await pilot.press("D")
            await confirm(pilot, app, f"postqueue -c {cfg_dir} -i {qid}")
            rec = await wait_until(lambda: audit.find("deliver"))
            assert rec["targets"] == [qid] and rec["result"] == "ok"
            # Postfix really tried it again (and deferred it again: the relay is dead)
            await wait_until(lambda: attempts(lab_config, qid) > before, timeout=20)
            assert queue_state(lab_config, sender) is not None
            before = attempts(lab_config, qid)
            await pilot.press("F")
            await confirm(pilot, app, f"postqueue -c {cfg_dir} -f")
            rec = await wait_until(lambda: audit.find("flush"))
            assert rec["result"] == "ok" and rec["argv"][-1] == "-f"
            await wait_until(lambda: attempts(lab_config, qid) > before, timeout=20)
    finally:
        delete_quietly(lab_config, qid)

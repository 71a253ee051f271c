"""Queue panel against the lab: a message really goes on hold and comes back, through the confirmation."""

from __future__ import annotations

import asyncio
import smtplib
import subprocess
import uuid
from email.message import EmailMessage

from conftest import make_app
from screen_text import screen_text

from mailtop.mta.postfix import PostfixQueue
from mailtop.tui.collect import Source
from mailtop.tui.modals import ConfirmScreen


def send_deferred(lab: dict) -> str:
    """Send one message to a non-local address (the lab defers it to the dead relay); return its sender."""
    sender = f"tui-{uuid.uuid4().hex[:10]}@client.example"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "someone@example.com", "tui queue test"
    msg.set_content("held and released by the dashboard test")
    with smtplib.SMTP("127.0.0.1", lab["ports"]["smtp"], local_hostname="tui.test", timeout=10) as s:
        s.send_message(msg)
    return sender


def queue_state(cfg, sender: str) -> tuple[str, str] | None:
    for e in PostfixQueue.from_config(cfg).iter_entries():
        if e.sender == sender:
            return e.queue_id, e.queue
    return None


async def wait_until(pred, timeout: float = 15.0):
    for _ in range(int(timeout / 0.1)):
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_hold_and_release_a_message_through_the_panel(lab, lab_config):
    sender = send_deferred(lab)
    await wait_until(lambda: queue_state(lab_config, sender))
    reader = PostfixQueue.from_config(lab_config)
    app = make_app(lab_config, [Source("queue", 60.0, reader.snapshot)])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        panel = app.panel("queue")
        await pilot.press("slash", *f"from:{sender}", "enter")
        await wait_until(lambda: panel.shown_ids)
        await pilot.pause()
        qid, _ = queue_state(lab_config, sender)
        assert panel.shown_ids == [qid]
        await pilot.press("space", "h")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert f"-c {lab_config.postfix.config_dir} -h -" in text and qid in text
        await pilot.press("y")
        await wait_until(lambda: queue_state(lab_config, sender)[1] == "hold")
        # the refresh after the action shows it on hold, cursor still on it, selection cleared
        await wait_until(lambda: "HOLD" in screen_text(app))
        panel.table.move_cursor(row=0)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and " -H -" in screen_text(app)
        await pilot.press("y")
        await wait_until(lambda: queue_state(lab_config, sender)[1] != "hold")
    # clean up: delete it (postsuper as the lab is ours)
    subprocess.run(["postsuper", "-c", str(lab_config.postfix.config_dir), "-d", qid], check=True,
                   capture_output=True, timeout=10)


async def test_cancel_changes_nothing(lab, lab_config):
    sender = send_deferred(lab)
    await wait_until(lambda: queue_state(lab_config, sender))
    reader = PostfixQueue.from_config(lab_config)
    app = make_app(lab_config, [Source("queue", 60.0, reader.snapshot)])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "slash", *f"from:{sender}", "enter")
        panel = app.panel("queue")
        await wait_until(lambda: panel.shown_ids)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
    qid, queue = queue_state(lab_config, sender)
    assert queue == "deferred"
    subprocess.run(["postsuper", "-c", str(lab_config.postfix.config_dir), "-d", qid], check=True,
                   capture_output=True, timeout=10)

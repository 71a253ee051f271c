"""Probes panel against the lab: a probe goes to echo@lab.test, the reply comes back, history grows."""

from __future__ import annotations

import asyncio

from conftest import make_app
from screen_text import screen_text


async def wait_until(pred, timeout: float = 40.0):
    for _ in range(int(timeout / 0.1)):
        if pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_probe_round_trip(lab, lab_config):
    app = make_app(lab_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("9")
        panel = app.panel("probes")
        before = len(panel.history)
        await pilot.press("p")
        await wait_until(lambda: panel.phases)
        await wait_until(lambda: not panel.in_flight)
        await pilot.pause()
        assert panel.result is not None and str(panel.result.status) == "replied", panel.result
        assert "REPLIED" in screen_text(app) and "round trip" in screen_text(app)
        assert len(panel.history) == before + 1
        assert [p.phase for p in panel.phases][:1] == ["mailbox"]

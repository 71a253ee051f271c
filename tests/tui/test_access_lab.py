"""Access panel against the lab: a login is tested step by step; the password never stays or shows."""

from __future__ import annotations

import asyncio

from conftest import make_app
from screen_text import screen_text
from textual.widgets import Input


async def wait_until(pred, timeout: float = 20.0):
    for _ in range(int(timeout / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_login_tester_masks_and_forgets_the_password(lab, lab_config):
    user = "alice"
    password = lab["users"][user]["password"]
    app = make_app(lab_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("8")
        panel = app.panel("access")
        await pilot.press("e")
        await pilot.press(*user, "enter", *password)
        await pilot.pause()
        assert password not in screen_text(app)  # masked while typed
        await pilot.press("enter")
        await wait_until(lambda: panel.results and not panel.running)
        await pilot.pause()
        text = screen_text(app)
        assert "login" in text and "ok" in text
        assert panel.results[0].ok
        assert password not in text
        assert app.query_one("#ac-password", Input).value == ""
        assert password not in repr(panel.results) and password not in repr(vars(panel))
        # a wrong password is reported as an authentication failure
        await pilot.press("shift+tab", "enter", *"wrong-password", "enter")
        await wait_until(lambda: panel.results and not panel.running)
        await pilot.pause()
        assert "authentication failed" in screen_text(app)

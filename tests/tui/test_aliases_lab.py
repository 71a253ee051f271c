"""Aliases panel against the lab: an edit really lands, newaliases really runs, bad text is refused."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from conftest import make_app
from screen_text import screen_text

from mailtop.tui.modals import ConfirmScreen


async def wait_until(pred, timeout: float = 15.0):
    for _ in range(int(timeout / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def postalias_query(cfg, name: str) -> str:
    db = f"hash:{cfg.aliases.path}"
    out = subprocess.run(["postalias", "-c", str(cfg.postfix.config_dir), "-q", name, db],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


async def test_alias_edit_lands_and_is_rebuilt(lab, lab_config):
    path = Path(lab_config.aliases.path)
    original = path.read_text()
    name = "tuitest"
    try:
        app = make_app(lab_config)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            panel = app.panel("aliases")
            await wait_until(lambda: panel.validations >= 1)
            editor = panel.editor
            # validation as you type: an entry without a colon is an error on its line
            editor.load_text(original.rstrip("\n") + "\nbroken line without colon\n")
            await wait_until(lambda: any(p.is_error for p in panel.problems))
            assert "error" in screen_text(app)
            await pilot.press("e", "ctrl+s")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)  # refused before asking
            editor.load_text(original.rstrip("\n") + f"\n{name}: alice@lab.test\n")
            await wait_until(lambda: panel.problems is not None and not any(p.is_error for p in panel.problems)
                             and panel.editor.text.endswith(f"{name}: alice@lab.test\n"))
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            text = screen_text(app)
            assert "newaliases" in text or "postalias" in text
            await pilot.press("y")
            await wait_until(lambda: f"{name}: alice@lab.test" in path.read_text())
            await wait_until(lambda: postalias_query(lab_config, name) == "alice@lab.test")
    finally:
        path.write_text(original)
        subprocess.run(["postalias", "-c", str(lab_config.postfix.config_dir), f"hash:{path}"],
                       capture_output=True, timeout=20)

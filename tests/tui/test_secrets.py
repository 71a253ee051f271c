"""Passwords typed into the Access panel or read by the Probes panel never reach Textual's log (worker
names, descriptions, reprs, tracebacks), and a login call that raises becomes a notice, not a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import textual.constants
from conftest import make_app
from screen_text import screen_text
from textual.widgets import Input
from textual.worker import Worker

from mailtop.health.access import Endpoint
from mailtop.tui.secret import Secret


async def wait_until(pred, timeout: float = 40.0):
    for _ in range(int(timeout / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.fixture
def textual_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What ``TEXTUAL_LOG=<file>`` would write: every ``log`` call of the app, worker states included."""
    path = tmp_path / "textual.log"
    monkeypatch.setattr(textual.constants, "LOG_FILE", str(path))
    return path


@pytest.fixture
def created_workers(monkeypatch: pytest.MonkeyPatch) -> list[Worker]:
    """Every worker the app creates (they finish and leave ``app.workers`` within milliseconds)."""
    made: list[Worker] = []
    init = Worker.__init__

    def recording_init(self, *args, **kw) -> None:
        init(self, *args, **kw)
        made.append(self)

    monkeypatch.setattr(Worker, "__init__", recording_init)
    return made


def test_secret_hides_its_value():
    s = Secret("hunter2-xyz")
    assert "hunter2-xyz" not in repr(s) and "hunter2-xyz" not in str(s) and "hunter2-xyz" not in f"{s!r} {s}"
    assert s.reveal() == "hunter2-xyz"
    s.clear()
    assert s.reveal() == ""


async def test_access_password_not_in_worker_or_log(lab, lab_config, textual_log, created_workers):
    user = "alice"
    password = lab["users"][user]["password"]
    app = make_app(lab_config)
    workers = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("8")
        panel = app.panel("access")
        await pilot.press("e")
        await pilot.press(*user, "enter", *password)
        await pilot.pause()
        await pilot.press("escape", "ctrl+a")  # every endpoint: one worker each
        await wait_until(lambda: panel.results and not panel.running)
        await pilot.pause()
        assert all(r.ok for r in panel.results), panel.results
    workers = [w for w in created_workers if w.group == "access"]
    assert len(workers) == len(panel.results) >= 2
    for w in workers:
        assert w.description == "access panel: login test"
        assert password not in f"{w.name} {w.description} {w!r} {w}"
        assert password not in repr(w._work)  # the call Textual keeps (functools.partial of the arguments)
    log = textual_log.read_text()
    assert "access panel: login test" in log  # the workers were logged, by description only
    assert "ac-password" in log  # the password field's messages were logged too, without the value
    assert password not in log


async def test_probe_password_not_in_worker_or_log(lab, lab_config, textual_log, created_workers):
    password = Path(lab_config.probe.password_file).read_text().splitlines()[0]
    app = make_app(lab_config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("9")
        panel = app.panel("probes")
        await pilot.press("p")
        await wait_until(lambda: panel.phases)
        await wait_until(lambda: not panel.in_flight)
        await pilot.pause()
        assert str(panel.result.status) == "replied", panel.result
    workers = [w for w in created_workers if w.group == "probe"]
    assert workers and all(w.description == "probes panel: send a probe" for w in workers)
    assert all(password not in f"{w.name} {w!r} {w._work!r}" for w in workers)
    log = textual_log.read_text()
    assert "probes panel: send a probe" in log
    assert password not in log


async def test_failing_login_call_is_a_notice_and_the_app_goes_on(plain_config, textual_log):
    """An endpoint the core refuses (``LoginSpec`` raises ValueError for a protocol it does not test)
    stands for any unexpected error in the worker: before, the app exited with a traceback showing the
    worker's locals (the password)."""
    password = "s3cret-Pa55-for-the-log"
    app = make_app(plain_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("8")
        panel = app.panel("access")
        panel.endpoints = {"smtp 127.0.0.1:1": Endpoint("smtp", "127.0.0.1", 1)}
        await pilot.press("e")
        await pilot.press(*"alice", "enter", *password)
        await pilot.press("escape", "ctrl+a")
        await wait_until(lambda: panel.failures and not panel.running)
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert app.query_one("#ac-password", Input).value == ""
        notices = [n.message for n in app._notifications]
        assert any("login test failed" in m and "protocol must be one of" in m for m in notices), notices
        text = screen_text(app)
        assert "ERROR" in text and "protocol must be one of" in text
        assert password not in text and all(password not in m for m in notices)
        # the app still answers keys
        await pilot.press("1")
        await pilot.pause()
        assert app.panel("overview").shown
    log = textual_log.read_text()
    assert password not in log

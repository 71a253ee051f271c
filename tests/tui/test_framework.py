"""The dashboard's frame: panel keys, help, filter, quit, themes, NO_COLOR, 80x24, collectors, read-only."""

from __future__ import annotations

from conftest import fixed, make_app, sequence
from screen_text import screen_lines, screen_text
from textual.filter import Monochrome
from textual.widgets import TabbedContent

from mailtop.config import load_config
from mailtop.tui.app import read_only_reason
from mailtop.tui.modals import ConfirmScreen, HelpScreen
from mailtop.tui.panels import PANELS


async def test_each_panel_has_its_key(plain_config):
    app = make_app(plain_config)
    async with app.run_test(size=(80, 24)) as pilot:
        for i, cls in enumerate(PANELS):
            await pilot.press(str(i + 1))
            await pilot.pause()
            assert app.query_one("#panels", TabbedContent).active == f"panel-{cls.panel_id()}"
            assert app.current_panel.shown and all(not p.shown for p in app.panels if p is not app.current_panel)


async def test_tab_bar_fits_80x24_and_switches_by_mouse(plain_config):
    app = make_app(plain_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tabs_row = screen_lines(app)[1]
        for i, cls in enumerate(PANELS):
            assert f"{i + 1} {cls.TITLE}" in tabs_row
        await pilot.click("#--content-tab-panel-log")
        await pilot.pause()
        assert app.current_panel.panel_id() == "log"


async def test_help_lists_every_binding(plain_config):
    app = make_app(plain_config)
    async with app.run_test(size=(120, 300)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for binding in app.BINDINGS:
            assert binding.description in text
        for panel in app.panels:
            assert panel.TITLE in text
            for binding in panel.BINDINGS:
                assert binding.description in text, (panel.TITLE, binding)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits(plain_config):
    app = make_app(plain_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_theme_from_config_and_toggle(plain_config, tmp_path):
    light = load_config(None, environ={}, detect=False, flags={"general": {"theme": "light"}})
    app = make_app(light)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "textual-dark"
        await pilot.press("t")
        assert app.theme == "textual-light"


async def test_no_color_is_honoured(plain_config, no_color_env):
    app = make_app(plain_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        assert any(isinstance(f, Monochrome) for f in app._filters)


async def test_filter_key_opens_filter_and_escape_clears(plain_config):
    lines = ["postfix/smtp[1]: ABC123: to=<a@x.test>, status=sent", "postfix/smtp[2]: DEF456: status=deferred"]
    app = make_app(plain_config, [fixed("log", lines)])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("slash", *"DEF456")
        await pilot.pause()
        text = screen_text(app)
        assert "DEF456" in text and "ABC123" not in text
        await pilot.press("escape")
        await pilot.pause()
        text = screen_text(app)
        assert "DEF456" in text and "ABC123" in text


async def test_failing_collector_keeps_last_good_data_marked_stale(plain_config):
    def broken():
        raise OSError("log file vanished")

    src = sequence("log", [lambda: ["first good line"], broken], interval=0.05)
    app = make_app(plain_config, [src])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("3")
        for _ in range(40):
            await pilot.pause(0.02)
            if app.poller.snapshots["log"].stale:
                break
        await pilot.pause()
        snap = app.poller.snapshots["log"]
        assert snap.stale and snap.data == ["first good line"] and "log file vanished" in snap.error
        text = screen_text(app)
        assert "first good line" in text
        assert "STALE" in text
        assert "log file vanished" in text
        assert any("log file vanished" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_hidden_panels_skip_redraw(plain_config):
    src = fixed("queue", None, interval=0.02)
    app = make_app(plain_config, [src])
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):  # bounded wait: a loaded CI host may poll slower than every 20 ms
            if app.poller.snapshots["queue"].polls >= 3:
                break
            await pilot.pause(0.03)
        queue = app.panel("queue")
        assert app.poller.snapshots["queue"].polls >= 3
        assert queue.redraws == 0 and queue.dirty
        await pilot.press("2")
        await pilot.pause()
        assert queue.redraws >= 1


def test_read_only_reasons(plain_config):
    ro = load_config(None, environ={}, detect=False, flags={"general": {"read_only": "true"}})
    assert "read-only" in read_only_reason(ro, euid=0)
    assert "not running as root" in read_only_reason(plain_config, euid=1000)
    assert read_only_reason(plain_config, euid=0) == ""


async def test_read_only_refuses_actions_and_says_why(plain_config):
    app = make_app(plain_config, read_only="read-only: not running as root")
    ran = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.confirm_and_run("hold 1 message", [["postsuper", "-h", "ABC"]], lambda: ran.append(1) or "ok")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("not running as root" in str(n.message) for n in app._notifications)
    assert ran == []


async def test_confirmation_shows_exact_command_and_no_cancels(plain_config):
    app = make_app(plain_config)
    ran = []
    argv = ["/usr/sbin/postsuper", "-c", "/etc/postfix dir", "-d", "ABC123"]
    async with app.run_test(size=(80, 24)) as pilot:
        app.confirm_and_run("delete 1 message", [argv], lambda: ran.append(1) or "deleted")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "$ /usr/sbin/postsuper -c '/etc/postfix dir' -d ABC123" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        app.confirm_and_run("delete 1 message", [argv], lambda: ran.append(1) or "deleted")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert ran == [1]

"""SVG snapshots of every panel at 80x24 and 160x48, from recorded lab data and fixed times.

Update after a deliberate change of looks: ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest
from conftest import make_app
from fixtures import fixed_sources, snapshot_config

from mailtop.tui.panels import PANELS

SIZES = {"small": (80, 24), "large": (160, 48)}


def snapshot_app():
    app = make_app(snapshot_config(), fixed_sources())
    return app


async def settle(pilot) -> None:
    # the collectors are endless loops: wait until every source has polled once, then let it draw
    app = pilot.app
    for _ in range(200):
        if all(s.polls for s in app.poller.snapshots.values()):
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("index", range(len(PANELS)), ids=[p.TITLE.lower() for p in PANELS])
def test_panel_snapshot(snap_compare, index, size):
    async def run_before(pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press(str(index + 1))
        await settle(pilot)
        await pilot.pause(0.2)

    assert snap_compare(snapshot_app(), terminal_size=SIZES[size], run_before=run_before)


def test_help_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        await settle(pilot)  # the panels behind the help screen drawn first: the same screen every run
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=run_before)


def test_light_theme_snapshot(snap_compare):
    """The light theme (key ``t``) at 80x24, on the Queue panel (table, cursor, summary)."""

    async def run_before(pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause(0.2)
        assert pilot.app.theme == "textual-light"

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=run_before)

"""Panel details from recorded lab data: separators between labels, the log's first draw, notes, charts."""

from __future__ import annotations

from conftest import fixed, make_app
from fixtures import fixed_sources, log_batch, snapshot_config
from screen_text import screen_lines, screen_text
from test_snapshots import settle

from mailtop.config import load_config
from mailtop.health.probe import ProbeResult, ProbeStatus
from mailtop.queueid import is_queue_id
from mailtop.tui.logview import LogLine, line_of
from mailtop.tui.panels.trace import queue_id_of
from mailtop.tui.spark import spark_text


async def test_labels_are_separated_on_screen():
    """What the screen shows (not how an SVG splits it into styled runs): a label never runs into the
    next word."""
    app = make_app(snapshot_config(), fixed_sources())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Overall CRIT  critical 1" in text
        assert "deferred 12  hold 1" in text
        assert "bounced 10  rejected 12" in text
        await pilot.press("3")
        await pilot.pause()
        assert "FOLLOWING  300 lines shown" in screen_text(app)


async def test_log_follows_from_the_first_draw():
    """The first batch arrives while the Log panel is hidden; when shown it shows the newest lines."""
    batch = log_batch()
    last = line_of(batch.lines[-1]).rstrip("\n")
    first = line_of(batch.lines[0]).rstrip("\n")
    app = make_app(snapshot_config(), [fixed("log", batch)])
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await pilot.pause()
        lines = screen_lines(app)
        view = app.panel("log").view
        assert view.following and view.cursor == len(view.view) - 1
        assert any(row.startswith(last[:90]) for row in lines), "\n".join(lines)
        assert not any(row.startswith(first[:90]) for row in lines)
        # and at another size (the terminal grows): still the newest lines
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert any(row.startswith(last[:110]) for row in screen_lines(app))


async def test_aliases_file_with_bytes_not_utf8_is_not_rewritten(tmp_path):
    """A Latin-1 byte in a comment: the panel shows the file read-only and says which line; typing and ^S
    change nothing on disk (before, the byte became U+FFFD in the editor and a save wrote that)."""
    path = tmp_path / "aliases"
    original = b"postmaster: root\n# Fran\xe7ois's list\nlist: alice, bob\n"
    path.write_bytes(original)
    cfg = load_config(None, environ={}, detect=False, flags={
        "general": {"hostname": "mail.example.test", "audit_log": str(tmp_path / "audit.log")},
        "aliases": {"path": str(path)}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("7")
        panel = app.panel("aliases")
        for _ in range(100):
            if panel.validations:
                break
            await pilot.pause(0.05)
        assert panel.bad_lines == [2]
        assert panel.editor.read_only
        text = screen_text(app)
        assert "not UTF-8 on line 2" in text and "mailtop aliases" in text, text
        await pilot.press("e", "end", *"x", "ctrl+s")
        await pilot.pause()
        assert panel.editor.text == panel.loaded_text
        panel.action_save()
        await pilot.pause()
        assert any("not UTF-8 on line 2" in str(n.message) for n in app._notifications)
    assert path.read_bytes() == original


def test_trace_takes_queue_ids_of_every_length():
    """The queue ID of a plain line, by the shared validator (``mailtop.queueid``): short IDs up to 21
    hex digits (XFS/btrfs inode numbers), long IDs with a 7-character seconds part."""
    head = "Nov 25 18:15:55 mail postfix/qmgr[695]: "
    for qid in ("2FB905143E6", "D59A3400000087", "D59A34000000870ABCDEF", "4YQ3Xz5ZbBz1n2", "4YQ3XzK5ZbBz1n2"):
        assert is_queue_id(qid)
        assert queue_id_of(LogLine(f"{head}{qid}: removed", "")) == qid
    for word in ("warning", "D59A34000000870ABCDEF0", "4YQ3Xz5ZbBzz"):
        assert queue_id_of(LogLine(f"{head}{word}: removed", "")) == ""


async def test_probe_notes_are_shown():
    note = "a text/plain part declares an unknown charset 'x-bogus': read as UTF-8 (with replacement)"
    result = ProbeResult(token="mt1", target="echo@lab.test", sender="probe@lab.test", status=ProbeStatus.REPLIED,
                         started="2026-05-28T20:26:40Z", total_seconds=0.62, timeout=30.0, round_trip=0.56,
                         reply_from="Lab echo responder <echo@lab.test>", notes=(note,))
    app = make_app(snapshot_config(), fixed_sources())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("9")
        panel = app.panel("probes")
        panel.result = result
        panel.redraw()
        await pilot.pause()
        text = screen_text(app)
        assert "REPLIED  round trip 0.56s" in text
        assert f"note {note}" in text


def test_spark_text_one_cell_per_point_oldest_first():
    assert spark_text([1.0], 80).plain == "collecting (1 of 3 points)"
    t = spark_text([1.21, 0.93, 2.40], 80, need=2, unit=" s").plain
    assert t.startswith("▂▁█  0.93..2.4 s, 3 points")  # not stretched into blocks over the width
    assert spark_text([5, 5, 5], 80).plain.startswith("▄▄▄ ")  # flat: a level line, not empty or solid
    assert spark_text(list(range(200)), 60).plain.startswith("▁")  # the newest that fit, oldest left
    assert len(spark_text(list(range(200)), 60).plain.split()[0]) == 36


async def test_delays_say_they_are_collecting():
    app = make_app(snapshot_config(), fixed_sources())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await pilot.pause()
        assert screen_text(app).count("collecting (1 of 3 points)") == 2

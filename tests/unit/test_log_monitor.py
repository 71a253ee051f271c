"""The dashboard's log monitor on a large log: the window before its start is counted at once, and
following goes on from exactly where that count stopped (real lab lines, restamped)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from mailtop.config import load_config
from mailtop.logs import monitor as monitor_mod
from mailtop.logs.monitor import LogMonitor
from mailtop.logs.parse import LineParser
from mailtop.logs.stats import LogStats

DATA = Path(__file__).parent.parent / "data" / "logs"
CAPTURE = (DATA / "lab-postfix.log").read_text(errors="replace").splitlines()
QID = re.compile(r"\b([0-9A-F]{10,12})\b")


def _pass(at: float, tag: str) -> list[str]:
    """The whole lab capture stamped at ``at``, its queue IDs made unique with ``tag``."""
    t = time.localtime(at)
    stamp = time.strftime("%b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t)
    return [stamp + QID.sub(lambda m: tag + m.group(1), line)[15:] for line in CAPTURE if line[:3].isalpha()]


def _config(tmp_path: Path, *files: Path):
    return load_config(None, environ={}, detect=False, flags={
        "general": {"hostname": "t", "state_dir": str(tmp_path), "audit_log": str(tmp_path / "audit.log")},
        "logs": {"files": ",".join(map(str, files))}, "thresholds": {"log_window": 300}})


@pytest.fixture
def big_log(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_mod, "FROM_START_MAX", 50_000)  # "large": followed from its end
    now = time.time()
    old = [ln for i in range(6) for ln in _pass(now - 7200 + i * 60, f"{i:X}")]  # two hours ago
    recent = [ln for i in range(3) for ln in _pass(now - 120 + i * 30, f"{i + 6:X}")]  # in the window
    log = tmp_path / "postfix.log"
    log.write_text("\n".join(old + recent) + "\n")
    assert log.stat().st_size > 50_000
    return log, recent, now


def _expected_counts(lines: list[str], now: float):
    stats = LogStats(clock=lambda: now, window_max=300.0)
    parser = LineParser(reference_time=now)
    stats.add_all(parser.parse(ln) for ln in lines)
    return stats.counts(300)


def test_the_window_before_the_start_is_counted_by_the_first_poll(tmp_path, big_log):
    log, recent, now = big_log
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        batch = mon.poll()
        assert batch.lines == ()  # the Log panel shows what comes from now on, as tail -f does
        assert mon.ready.is_set()
        expected = _expected_counts(recent, now)
        assert expected.delivered > 0 and expected.received > 0
        assert batch.counts == expected  # the window's lines, and not the ones two hours back
        assert batch.delays.count > 0
        qid = next(m.group(1) for ln in reversed(recent) if "status=sent" in ln for m in [QID.search(ln[16:])] if m)
        assert mon.trace(qid) is not None  # messages of the window can be traced at once
    finally:
        mon.close()


def test_following_goes_on_where_the_count_stopped(tmp_path, big_log):
    """A line half written when the monitor starts is read whole by the follower, once; nothing
    appended between the start and the first poll is lost or counted twice."""
    log, recent, now = big_log
    extra = _pass(now - 5, "F")
    with log.open("a") as fh:
        fh.write(extra[0][:30])  # the writer is in the middle of a line
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        with log.open("a") as fh:
            fh.write(extra[0][30:] + "\n" + "\n".join(extra[1:]) + "\n")
        batch = mon.poll()
        assert [x.line for x in batch.lines] == extra
        assert batch.counts == _expected_counts(recent + extra, now)
        assert mon.poll().lines == ()
    finally:
        mon.close()


def test_a_small_log_is_read_from_its_start_without_a_separate_count(tmp_path):
    now = time.time()
    lines = _pass(now - 60, "A")
    log = tmp_path / "postfix.log"
    log.write_text("\n".join(lines) + "\n")
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        batch = mon.poll()
        assert [x.line for x in batch.lines] == lines
        assert batch.counts == _expected_counts(lines, now)
    finally:
        mon.close()


def test_missing_and_unreadable_files_are_named(tmp_path, big_log):
    log, _recent, now = big_log
    missing = tmp_path / "nope.log"
    mon = LogMonitor(_config(tmp_path, log, missing), clock=lambda: now)
    try:
        mon.poll()
        errors = dict(mon.file_errors())
        assert list(errors) == [missing] and isinstance(errors[missing], FileNotFoundError)
    finally:
        mon.close()


async def test_the_live_logs_check_equals_a_fresh_read_of_the_window(tmp_path, big_log):
    from mailtop.checks import run_checks, run_live_logs

    log, _recent, now = big_log
    cfg = _config(tmp_path, log)
    mon = LogMonitor(cfg)
    try:
        mon.poll()
        live = await run_live_logs(cfg, mon)
        fresh = await run_checks(cfg, only="logs")
        assert live.findings and [(f.id, f.status, f.summary) for f in live.findings] == \
            [(f.id, f.status, f.summary) for f in fresh.findings]
        assert any(f.id == "logs.defer_rate" for f in live.findings)
    finally:
        mon.close()


async def test_the_live_logs_check_says_when_the_log_was_not_read_yet(tmp_path, big_log):
    from dataclasses import replace

    from mailtop.checks import run_live_logs
    from mailtop.model import Status

    log, _recent, _now = big_log
    cfg = _config(tmp_path, log)
    cfg = replace(cfg, general=replace(cfg.general, timeout=0.2))
    mon = LogMonitor(cfg)  # never polled
    try:
        run = await run_live_logs(cfg, mon)
        assert [(f.id, f.status) for f in run.findings] == [("logs", Status.UNKNOWN)]
        assert "not been read yet" in run.findings[0].summary
    finally:
        mon.close()


# The hand-over from the first poll's window count to the follower when the log is rotated or truncated
# between the monitor's start and that first poll (counting a busy log's window takes seconds; logrotate
# may run meanwhile): every line written after the start is read once, none lost, none doubled.


def _append(path, lines: list[str]) -> None:
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def test_a_log_rotated_by_rename_before_the_first_poll_loses_nothing(tmp_path, big_log):
    """logrotate's default (create): the rest of the old file and the whole new one are read once."""
    log, recent, now = big_log
    tail_old = _pass(now - 20, "D")
    new = _pass(now - 10, "E")
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        _append(log, tail_old)  # written before the rename
        os.rename(log, log.with_name(log.name + ".1"))
        _append(log, new)  # the syslog daemon's new file
        batch = mon.poll()
        assert [x.line for x in batch.lines] == tail_old + new
        assert batch.counts == _expected_counts(recent + tail_old + new, now)
        _append(log, new[:2])
        assert [x.line for x in mon.poll().lines] == new[:2]
    finally:
        mon.close()


def test_a_log_copied_and_truncated_before_the_first_poll_loses_nothing(tmp_path, big_log):
    """logrotate's copytruncate: the lines after the start are in the copy (PATH.1), then the file
    starts again from its first byte; neither a shorter nor a longer new content is read from the old
    offset (the middle of other lines)."""
    log, recent, now = big_log
    tail_old = _pass(now - 20, "D")
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        _append(log, tail_old)
        shutil.copyfile(log, log.with_name(log.name + ".1"))
        with log.open("r+") as fh:
            fh.truncate(0)
        new = _pass(now - 10, "E")
        _append(log, new)
        batch = mon.poll()
        assert [x.line for x in batch.lines] == tail_old + new
        assert batch.counts == _expected_counts(recent + tail_old + new, now)
    finally:
        mon.close()


def test_a_log_truncated_and_regrown_past_the_start_is_read_from_its_first_line(tmp_path, big_log):
    log, recent, now = big_log
    size = log.stat().st_size
    mon = LogMonitor(_config(tmp_path, log), clock=lambda: now)
    try:
        with log.open("r+") as fh:
            fh.truncate(0)
        new: list[str] = []
        i = 0
        while sum(len(x) + 1 for x in new) <= size + 1000:  # the new content reaches past the old end
            new += _pass(now - 30 + i % 20, f"{0xA0 + i % 90:X}")
            i += 1
        _append(log, new)
        lines: list[str] = []
        for _ in range(50):
            batch = mon.poll()
            got = [x.line for x in batch.lines]
            if not got:
                break
            lines += got
        assert lines == new  # not the old offset's half line and what follows it
        # the old window went with the truncation (no copy): the new lines are counted once, not also
        # as "the window before the start" read from the truncated file
        assert batch.counts == _expected_counts(new, now)
    finally:
        mon.close()

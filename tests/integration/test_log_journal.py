"""The mail log from the systemd journal (hosts without a log file): real journal files, written by
systemd-journal-remote (installed by the lab) from real lab lines, read by the real journalctl.

This machine runs no journald; ``logs.journal_paths`` points journalctl at the test's journal (``--file``
or ``--directory``), exactly as the system journal would be read without it.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import pytest

from mailtop.checks import run_checks, run_live_logs
from mailtop.config import load_config
from mailtop.logs.monitor import LogMonitor
from mailtop.model import Status

DATA = Path(__file__).parent.parent / "data" / "logs"
REMOTE = "/lib/systemd/systemd-journal-remote"
SYSLOG = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d (\S+) ([^\[:\s]+)(?:\[(\d+)\])?: (.*)$")
QID = re.compile(r"\b([0-9A-F]{10,12})\b")


def _capture(tag: str) -> list[tuple[str, str, str, str]]:
    """The lab capture's lines as (host, identifier, pid, message), queue IDs made unique with ``tag``."""
    out = []
    for line in (DATA / "lab-postfix.log").read_text(errors="replace").splitlines():
        m = SYSLOG.match(line)
        if m and "\x00" not in line:
            out.append((m.group(1), m.group(2), m.group(3) or "",
                        QID.sub(lambda q: tag + q.group(1)[len(tag):], m.group(4))))
    return out


def _syslog_line(at: float, entry: tuple[str, str, str, str]) -> str:
    t = time.localtime(at)
    host, ident, pid, msg = entry
    tag = f"{ident}[{pid}]" if pid else ident
    return time.strftime("%b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t) + f" {host} {tag}: {msg}"


def write_journal(path: Path, entries: list[tuple[float, tuple[str, str, str, str]]], seq: int = 0) -> None:
    """A journal file holding ``entries`` (time, (host, identifier, pid, message)) in the mail facility."""
    blocks = []
    for i, (at, (host, ident, pid, msg)) in enumerate(entries):
        fields = [f"__REALTIME_TIMESTAMP={int(at * 1e6)}", f"__MONOTONIC_TIMESTAMP={seq + i + 1}",
                  "_BOOT_ID=6d61696c746f70206a6f75726e616c21", f"_HOSTNAME={host}", "SYSLOG_FACILITY=2",
                  f"SYSLOG_IDENTIFIER={ident}", "PRIORITY=6", f"MESSAGE={msg}"]
        if pid:
            fields.append(f"SYSLOG_PID={pid}")
        blocks.append("\n".join(fields) + "\n")
    export = path.with_suffix(".export")
    export.write_text("\n".join(blocks) + "\n")  # a blank line ends the last entry too
    subprocess.run([REMOTE, f"--output={path}", str(export)], check=True, capture_output=True, timeout=60)


def _cfg(tmp_path: Path, **logs):
    return load_config(None, environ={}, detect=False, flags={
        "general": {"hostname": "t", "state_dir": str(tmp_path), "audit_log": str(tmp_path / "audit.log")},
        "logs": logs, "thresholds": {"log_window": 300}})


@pytest.fixture
def journal_and_file(tmp_path):
    """The same mail traffic as a journal and as a syslog file: two hours ago (outside the window) and
    in the last two minutes."""
    now = time.time()
    entries = [(now - 7200 + i * 0.5, e) for i, e in enumerate(_capture("1"))]
    entries += [(now - 120 + i * 0.1, e) for i, e in enumerate(_capture("2"))]
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "mail.journal", entries)
    log = tmp_path / "mail.log"
    log.write_text("\n".join(_syslog_line(at, e) for at, e in entries) + "\n")
    return jdir, log, entries, now


def _same(a, b):
    return [(f.id, f.status, f.summary) for f in a.findings] == [(f.id, f.status, f.summary) for f in b.findings]


async def test_check_reads_the_journal_window_as_it_reads_a_log_file(tmp_path, journal_and_file):
    jdir, log, _entries, _now = journal_and_file
    from_journal = await run_checks(_cfg(tmp_path, journal=True, journal_paths=[str(jdir)]), only="logs")
    from_file = await run_checks(_cfg(tmp_path, files=[str(log)]), only="logs")
    ids = {f.id for f in from_journal.findings}
    assert {"logs.defer_rate", "logs.bounce_rate"} <= ids
    assert any("of 0 delivery" not in f.summary for f in from_journal.findings if f.id == "logs.defer_rate")
    assert _same(from_journal, from_file)


async def test_dashboard_monitor_counts_the_journal_window_then_follows_new_entries(tmp_path, journal_and_file):
    jdir, log, entries, now = journal_and_file
    cfg = _cfg(tmp_path, journal=True, journal_paths=[str(jdir)])
    mon = LogMonitor(cfg)
    try:
        first = mon.poll()
        file_mon = LogMonitor(_cfg(tmp_path, files=[str(log)]), clock=lambda: first.time)
        try:
            assert first.counts == _window_counts(file_mon)  # the window, as read from the file
        finally:
            file_mon.close()
        assert first.counts.delivered > 0
        live = await run_live_logs(cfg, mon)
        fresh = await run_checks(cfg, only="logs")
        assert _same(live, fresh)
        # new mail lands in the journal (a second journal file in the folder): it is followed, once
        new = [(time.time(), e) for e in _capture("3")[:40]]
        write_journal(jdir / "more.journal", new, seq=len(entries))
        got: list[str] = []
        deadline = time.monotonic() + 15
        while len(got) < len(new) and time.monotonic() < deadline:
            got += [ev.text for ev in mon.poll().lines]
            time.sleep(0.1)
        assert got == [_message_text(e) for _at, e in new]
        time.sleep(0.5)
        assert mon.poll().lines == ()
    finally:
        mon.close()


def _window_counts(file_mon: LogMonitor):
    # the file monitor reads a small file from its start; its counts over the window are the reference
    return file_mon.poll().counts


def _message_text(entry: tuple[str, str, str, str]) -> str:
    from mailtop.logs.parse import LineParser

    return LineParser().parse(_syslog_line(time.time(), entry)).text


async def test_a_journal_that_cannot_be_read_is_a_clear_unknown(tmp_path):
    bad = tmp_path / "broken.journal"
    bad.write_bytes(b"this is not a journal file\n" * 100)
    run = await run_checks(_cfg(tmp_path, journal=True, journal_paths=[str(bad)]), only="logs")
    assert [f.status for f in run.findings] == [Status.UNKNOWN]
    assert "systemd journal" in run.findings[0].summary and "journalctl" in run.findings[0].summary
    # the hint's command reads the journal that was read (not the system's)
    assert run.findings[0].hint == f"see: journalctl --file={bad} -o short -n 20 SYSLOG_FACILITY=2"


async def test_no_journalctl_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run here
    run = await run_checks(_cfg(tmp_path, journal=True), only="logs")
    assert [f.status for f in run.findings] == [Status.UNKNOWN]
    assert "journalctl is not installed" in run.findings[0].summary


def test_follow_reports_a_failing_journalctl_and_keeps_polling(tmp_path):
    bad = tmp_path / "broken.journal"
    bad.write_bytes(b"garbage" * 1000)
    mon = LogMonitor(_cfg(tmp_path, journal=True, journal_paths=[str(bad)]))
    try:
        with pytest.raises(OSError, match="journalctl"):
            mon.poll()  # nothing counted and the journal unreadable: the panel shows the error (STALE)
        errors = mon.file_errors()
        assert errors and "journalctl" in str(errors[0][1])
    finally:
        mon.close()


def test_event_loop_is_not_needed_for_the_live_check(tmp_path, journal_and_file):
    """The dashboard's worker runs the live check with asyncio.run from a plain thread."""
    jdir, _log, _entries, _now = journal_and_file
    cfg = _cfg(tmp_path, journal=True, journal_paths=[str(jdir / "mail.journal")])  # a file, not a folder
    mon = LogMonitor(cfg)
    try:
        mon.poll()
        run = asyncio.run(run_live_logs(cfg, mon))
        assert run.findings and run.findings[0].id.startswith("logs.")
    finally:
        mon.close()


async def test_an_empty_journal_folder_is_not_an_all_clear(tmp_path):
    """journalctl over a folder without journal files (a host without journald) prints nothing and
    exits 0: that must not read as "no deferrals"."""
    empty = tmp_path / "journal"
    empty.mkdir()
    run = await run_checks(_cfg(tmp_path, journal=True, journal_paths=[str(empty)]), only="logs")
    assert [f.status for f in run.findings] == [Status.UNKNOWN]
    assert "no journal files" in run.findings[0].summary


def test_entries_written_after_an_empty_window_are_followed(tmp_path):
    """A quiet server: nothing in the window, so no cursor to go on from. Following must start at the
    window's start, not at the journal's end when journalctl -f happens to start (-n 0): the mail
    logged in between is read."""
    from mailtop.logs.journal import JournalSource
    from mailtop.logs.stats import LogStats

    now = time.time()
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "old.journal", [(now - 7200 + i, e) for i, e in enumerate(_capture("1")[:30])])
    src = JournalSource(_cfg(tmp_path, journal=True, journal_paths=[str(jdir)]))
    try:
        stats = LogStats(clock=lambda: now, window_max=300.0)
        src.count_window(stats.add_all, now - 360, 20.0)
        assert stats.lines == 0 and src.cursor == ""
        new = [(time.time(), e) for e in _capture("3")[:25]]
        write_journal(jdir / "new.journal", new, seq=100)  # before following has started
        got: list[str] = []
        deadline = time.monotonic() + 10
        while len(got) < len(new) and time.monotonic() < deadline:
            got += [ev.text for ev in src.poll()]
            time.sleep(0.1)
        assert got == [_message_text(e) for _at, e in new]
    finally:
        src.close()


def test_a_journalctl_writing_much_to_stderr_does_not_block(tmp_path):
    """journalctl warns on stderr once per corrupted or unreadable journal file (a host with many
    rotated files); its stderr must be read while its output is, or it blocks on a full pipe and the
    window times out. A real process writes 1 MiB of such warnings, then its one entry."""
    import sys

    from mailtop.logs.follow import JournalFollower

    entry = '{"__REALTIME_TIMESTAMP": "1764090264123456", "SYSLOG_IDENTIFIER": "postfix/qmgr", "MESSAGE": "ok"}'
    code = ("import sys\n"
            "for i in range(16384): sys.stderr.write(f'Journal file /var/log/journal/x/{i:060d}.journal~ corrupted, "
            "ignoring file.\\n')\n"
            f"sys.stderr.flush(); print({entry!r}); sys.exit(1)\n")
    jf = JournalFollower(argv=[sys.executable, "-c", code])
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 10
        while not jf.eof and time.monotonic() < deadline:
            lines += jf.poll(0.2)
        assert jf.eof and len(lines) == 1 and lines[0].endswith("postfix/qmgr: ok")
        jf.proc.wait(timeout=5)
        err = jf.stderr_text()
        assert err.endswith("00016383.journal~ corrupted, ignoring file.\n")  # the end of what it said
        assert len(err) <= JournalFollower.STDERR_KEEP
    finally:
        jf.close()


def test_a_busy_journal_is_followed_at_its_pace(tmp_path):
    """journalctl -f blocks once its 64 KiB pipe is full: a poll that read only what was in the pipe got
    ~230 entries a second, and the Log panel fell further behind a busy journal (2,000 lines/s). A
    backlog of 20,000 entries is read within a few polls (the dashboard polls every 0.5 s)."""
    from mailtop.logs.journal import JournalSource

    now = time.time()
    cap = _capture("5")
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "busy.journal", [(now - 30 + i * 0.001, cap[i % len(cap)]) for i in range(20_000)])
    src = JournalSource(_cfg(tmp_path, journal=True, journal_paths=[str(jdir)]))
    src.since = now - 60  # as after a window read before these entries
    try:
        got = polls = 0
        while got < 20_000 and polls < 10:
            time.sleep(0.5)
            got += len(src.poll())
            polls += 1
        assert got == 20_000
        time.sleep(0.3)
        assert src.poll() == []  # each once
    finally:
        src.close()


async def test_the_journal_window_gets_the_checks_time_not_one_network_calls(tmp_path):
    """Reading a busy window from the journal takes seconds; the read was cut at general.timeout (the
    time for one network call) although the check may take general.timeout + 5: with a timeout of 0.1 s
    a window of 20,000 entries (~0.2 s of journalctl here) was UNKNOWN; it gets general.timeout + 3."""
    now = time.time()
    cap = _capture("6")
    jdir = tmp_path / "journal"
    jdir.mkdir()
    write_journal(jdir / "busy.journal", [(now - 200 + i * 0.005, cap[i % len(cap)]) for i in range(20_000)])
    cfg = _cfg(tmp_path, journal=True, journal_paths=[str(jdir)])
    from dataclasses import replace

    cfg = replace(cfg, general=replace(cfg.general, timeout=0.1))
    run = await run_checks(cfg, only="logs")
    assert [f.id for f in run.findings] == ["logs.defer_rate", "logs.bounce_rate", "logs.auth_failures"]
    assert run.findings[0].data["attempts"] > 1000

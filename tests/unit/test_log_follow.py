"""Follower: byte offsets, rotation by rename and by copy-truncate while a writer appends, deleted and
re-created files, files that do not exist yet, long and partial lines, .gz history, the journal."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from mailtop.logs.follow import ChangeWaiter, FileFollower, JournalFollower, MailLogFollower, read_lines
from mailtop.logs.parse import LineParser

DATA = Path(__file__).resolve().parent.parent / "data" / "logs"
REAL = (DATA / "lab-postfix.log").read_text().splitlines()


def _line(i: int) -> str:
    # a real lab line, numbered at the end so that order and duplicates can be checked
    return f"{REAL[i % len(REAL)]} #{i}"


def _collect_until(f: FileFollower, got: list[str], want: int, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < end:
        got.extend(f.read_new())
        time.sleep(0.002)


def _numbers(lines: list[str]) -> list[int]:
    return [int(ln.rsplit("#", 1)[1]) for ln in lines]


def _writer(path: Path, n: int, lock: threading.Lock, done: threading.Event) -> threading.Thread:
    def run() -> None:
        for i in range(n):
            with lock:
                # like syslog/postlogd: append a whole line per write, reopening after rotation
                with open(path, "a") as fh:
                    fh.write(_line(i) + "\n")
            if i % 50 == 0:
                time.sleep(0.001)
        done.set()

    return threading.Thread(target=run, daemon=True)


def test_rotation_by_rename_while_writing(tmp_path: Path):
    log = tmp_path / "mail.log"
    log.touch()
    f = FileFollower(log, from_start=True)
    lock = threading.Lock()
    done = threading.Event()
    n = 6000
    w = _writer(log, n, lock, done)
    w.start()
    got: list[str] = []
    for k in range(1, 4):
        _collect_until(f, got, k * 1200)
        with lock:
            os.rename(log, tmp_path / f"mail.log.{k}")    # logrotate 'create': rename, new empty file
            log.touch()
    done.wait(30)
    _collect_until(f, got, n)
    f.close()
    assert f.rotations == 3
    assert _numbers(got) == list(range(n))               # nothing lost, nothing doubled, in order


def test_rotation_by_copytruncate_while_writing(tmp_path: Path):
    log = tmp_path / "mail.log"
    log.touch()
    f = FileFollower(log, from_start=True)
    lock = threading.Lock()
    done = threading.Event()
    n = 6000
    w = _writer(log, n, lock, done)
    w.start()
    got: list[str] = []
    for k in range(1, 4):
        _collect_until(f, got, k * 1000)
        with lock:
            # logrotate copytruncate: copy to .1, then truncate in place (the reader lags behind)
            if (tmp_path / "mail.log.1").exists():
                os.rename(tmp_path / "mail.log.1", tmp_path / f"mail.log.{k}.old")
            shutil.copyfile(log, tmp_path / "mail.log.1")
            with open(log, "r+") as fh:
                fh.truncate(0)
    done.wait(30)
    _collect_until(f, got, n)
    f.close()
    assert f.truncations == 3
    assert f.recovered_lines > 0          # the lines the reader had not reached came from mail.log.1
    assert _numbers(got) == list(range(n))


def test_truncated_and_regrown_past_offset_is_noticed(tmp_path: Path):
    log = tmp_path / "mail.log"
    log.write_text("".join(_line(i) + "\n" for i in range(3)))
    f = FileFollower(log, from_start=True)
    assert _numbers(f.read_new()) == [0, 1, 2]
    # truncated and rewritten with more than before, before the next poll; no copy to recover from
    log.write_text("".join(_line(i) + "\n" for i in range(100, 110)))
    assert _numbers(f.read_new()) == list(range(100, 110))
    assert f.truncations == 1


def test_missing_then_created_deleted_and_recreated(tmp_path: Path):
    log = tmp_path / "mail.log"
    f = FileFollower(log)             # does not exist yet
    assert f.read_new() == [] and f.error is None
    log.write_text(_line(0) + "\n")
    assert _numbers(f.read_new()) == [0]     # a file that appears later is read from its start
    with open(log, "a") as fh:
        fh.write(_line(1) + "\n")
    log.unlink()
    assert _numbers(f.read_new()) == [1]     # the deleted file's last lines still come
    assert f.read_new() == []
    log.write_text(_line(2) + "\n")
    assert _numbers(f.read_new()) == [2]
    assert f.rotations == 1
    f.close()


def test_starts_at_end_and_waits_for_partial_lines(tmp_path: Path):
    log = tmp_path / "mail.log"
    log.write_text(_line(0) + "\n" + "half a li")
    f = FileFollower(log)             # from now on: old lines and the unfinished one are skipped
    assert f.read_new() == []
    with open(log, "a") as fh:
        fh.write("ne\n" + _line(1)[:30])
    assert f.read_new() == []
    with open(log, "a") as fh:
        fh.write(_line(1)[30:] + "\n")
    assert _numbers(f.read_new()) == [1]


def test_long_line_and_invalid_utf8(tmp_path: Path):
    log = tmp_path / "mail.log"
    log.write_bytes(b"A" * 300_000 + b"\n" + b"\xff\xfe bad \xc3\x28\n" + (_line(5) + "\n").encode())
    f = FileFollower(log, from_start=True, chunk_size=4096, max_line=1000)
    out = f.read_new()
    assert len(out) == 3 and len(out[0]) == 1001 and "\ufffd" in out[1] and _numbers(out[2:]) == [5]
    p = LineParser()
    assert [p.parse(x).kind for x in out] == ["unparsed", "unparsed", p.parse(_line(5)).kind]


def test_gz_history_and_plain_give_the_same_lines(tmp_path: Path):
    src = DATA / "lab-postfix.log"
    gz = tmp_path / "mail.log.2.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(src.read_bytes())
    plain = [ln for batch in read_lines(src) for ln in batch]
    packed = [ln for batch in read_lines(gz) for ln in batch]
    assert plain == packed == src.read_text().splitlines()


def test_journal_json_via_a_real_process():
    # journalctl -o json output recorded (this machine runs no journald): the follower reads a process
    jf = JournalFollower(argv=["cat", str(DATA / "journal.json")])
    lines: list[str] = []
    end = time.monotonic() + 10
    while not jf.eof and time.monotonic() < end:
        lines.extend(jf.poll(0.5))
    jf.close()
    assert len(lines) == 5
    p = LineParser()
    evs = [p.parse(x) for x in lines]
    assert [e.kind for e in evs] == ["client", "queued", "delivery", "login", "message-id"]
    assert evs[0].ts == 1764090264.123456 and evs[0].instance == "postfix" and evs[0].pid == 11795
    assert "\ufffd" in evs[4].message_id     # a non-UTF-8 MESSAGE (byte array) is decoded safely


def test_journalctl_command_runs():
    jf = JournalFollower(follow=False)
    assert jf.argv[:3] == ["journalctl", "-o", "json"]
    end = time.monotonic() + 10
    while not jf.eof and time.monotonic() < end:
        jf.poll(0.5)
    jf.close()
    assert jf.eof


def test_mail_log_follower_batches_with_watchdog(tmp_path: Path):
    log = tmp_path / "mail.log"
    dlog = tmp_path / "dovecot.log"
    log.touch()
    dlog.touch()
    fol = MailLogFollower([log, dlog], from_start=True)
    stop = threading.Event()
    got = []

    def consume() -> None:
        for batch in fol.batches(stop, poll_interval=5.0, idle_every=0.2):
            got.extend(batch)
            if len(got) >= 2:
                stop.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    with open(log, "a") as fh:
        fh.write(REAL[10] + "\n")
    with open(dlog, "a") as fh:
        fh.write((DATA / "lab-dovecot.log").read_text().splitlines()[5] + "\n")
    t.join(10)
    elapsed = time.monotonic() - start
    assert fol.waiter is not None and fol.waiter.using_watchdog, fol.waiter.fallback_reason
    assert {e.program for e in got} == {"postfix", "dovecot"}
    assert elapsed < 4.0      # woken by watchdog, not by the 5 s poll
    fol.close()


def test_poll_fallback_without_watchdog(tmp_path: Path):
    w = ChangeWaiter([tmp_path / "x.log"], use_watchdog=False)
    assert not w.using_watchdog and w.wait(0.05) is False
    w.close()


def test_unreadable_file_reports_error(tmp_path: Path):
    if os.geteuid() == 0:
        # root reads everything; a directory in place of the file gives an OSError the same way
        bad = tmp_path / "dir.log"
        bad.mkdir()
        f = FileFollower(bad)
        assert f.read_new() == [] and f.error is not None and f.error.errno == 21
    else:  # pragma: no cover - CI runs as root
        bad = tmp_path / "secret.log"
        bad.write_text("x\n")
        bad.chmod(0)
        f = FileFollower(bad)
        assert f.read_new() == [] and isinstance(f.error, PermissionError)
    assert sys.version_info >= (3, 11)

"""mailtop.logs.window: the last minutes of a log, read from its end (real lab lines, restamped)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailtop.logs.parse import LineParser
from mailtop.logs.window import line_end, window_lines, window_start

DATA = Path(__file__).parent.parent / "data" / "logs"


def _restamped(n: int, start: float, step: float) -> list[str]:
    """``n`` real lab Postfix lines, one every ``step`` seconds from ``start`` (classic syslog stamps)."""
    real = [ln for ln in (DATA / "lab-postfix.log").read_text(errors="replace").splitlines() if ln[:3].isalpha()]
    out = []
    for i in range(n):
        line = real[i % len(real)]
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime(start + i * step))
        out.append(stamp + line[15:])
    return out


@pytest.fixture
def log(tmp_path):
    now = time.time()
    lines = _restamped(3000, now - 3000, 1.0)  # one line a second for the last 50 minutes
    path = tmp_path / "postfix.log"
    path.write_text("\n".join(lines) + "\n")
    return path, lines, now


def _read(path: Path, since: float, chunk: int, max_bytes: int = 1 << 30) -> list[str]:
    parser = LineParser(reference_time=time.time())
    with open(path, "rb") as fh:
        end = line_end(fh, path.stat().st_size, chunk)
        start = window_start(fh, since, lambda ln: parser.parse(ln).ts, end, max_bytes, chunk)
        return [ln for batch in window_lines(fh, start, end, chunk) for ln in batch]


@pytest.mark.parametrize("chunk", [97, 512, 4096, 65536])
def test_window_is_a_suffix_covering_since(log, chunk):
    path, lines, now = log
    since = now - 600
    got = _read(path, since, chunk)
    assert got == lines[len(lines) - len(got):]  # whole lines, in order, up to the last
    parser = LineParser(reference_time=now)
    left_out = lines[: len(lines) - len(got)]
    assert left_out and all(parser.parse(ln).ts < since for ln in left_out)  # nothing in the window left out
    assert len(got) < 600 + 2 * chunk // 50 + 2  # and not much more than the window (one chunk back)


def test_since_before_the_file_reads_it_all(log):
    path, lines, now = log
    assert _read(path, 0.0, 512) == lines


def test_max_bytes_bounds_the_walk(log):
    path, lines, now = log
    got = _read(path, 0.0, 512, max_bytes=4096)
    assert 0 < len(got) < len(lines) and got == lines[len(lines) - len(got):]


def test_a_line_still_being_written_waits(tmp_path):
    lines = _restamped(50, time.time() - 50, 1.0)
    path = tmp_path / "postfix.log"
    path.write_text("\n".join(lines) + "\n" + lines[0][:40])  # no newline after the last line yet
    assert _read(path, 0.0, 64) == lines
    with open(path, "rb") as fh:
        assert line_end(fh, path.stat().st_size, 16) == len(("\n".join(lines) + "\n").encode())


def test_no_newline_at_all(tmp_path):
    path = tmp_path / "postfix.log"
    path.write_bytes(b"garbage without end")
    with open(path, "rb") as fh:
        assert line_end(fh, path.stat().st_size) == 0
    assert _read(path, 0.0, 8) == []


def test_garbage_and_invalid_utf8_are_lines_not_errors(tmp_path):
    lines = _restamped(20, time.time() - 20, 1.0)
    path = tmp_path / "postfix.log"
    path.write_bytes(b"\xff\xfe\x00 binary\n" + ("\n".join(lines) + "\n").encode())
    got = _read(path, 0.0, 32)
    assert got[1:] == lines and "\ufffd" in got[0]


def _check_cfg(tmp_path: Path, log: Path):
    from mailtop.config import load_config

    return load_config(None, environ={}, detect=False, flags={
        "general": {"hostname": "t", "state_dir": str(tmp_path), "audit_log": str(tmp_path / "audit.log")},
        "logs": {"files": str(log)}, "thresholds": {"log_window": 300}})


def test_the_check_says_when_its_read_does_not_reach_back_over_the_window(tmp_path, log, monkeypatch):
    """At 2,000 lines/s five minutes of log are ~73 MiB, more than the 64 MiB the check reads back: the
    counts are then of a shorter time than the findings' "in the last 5 min", and the details say so."""
    from mailtop import checks
    from mailtop.logs import parse, stats

    path, _lines, now = log  # a line a second: 300 s are ~38 KB here
    full = checks.log_window_findings(stats, parse, _check_cfg(tmp_path, path), now)
    assert full and not any("covers only" in f.details for f in full)
    monkeypatch.setattr(checks, "TAIL_MAX", 20_000)  # ~150 s of these lines
    monkeypatch.setattr(checks, "TAIL_CHUNK", 4096)
    cut = checks.log_window_findings(stats, parse, _check_cfg(tmp_path, path), now)
    assert [f.id for f in cut] == [f.id for f in full]
    for f in cut:
        assert f"{path} covers only the last " in f.details and "read back" in f.details
        covered = int(f.details.split("covers only the last ")[1].split(" s")[0])
        assert 100 < covered < 200


def test_the_check_says_when_the_log_file_starts_inside_the_window(tmp_path):
    from mailtop import checks
    from mailtop.logs import parse, stats

    now = time.time()
    path = tmp_path / "postfix.log"
    path.write_text("\n".join(_restamped(120, now - 120, 1.0)) + "\n")  # rotated two minutes ago
    found = checks.log_window_findings(stats, parse, _check_cfg(tmp_path, path), now)
    assert found and all(f"{path} covers only the last " in f.details and "(the file starts there" in f.details
                         for f in found)
    covered = int(found[0].details.split("covers only the last ")[1].split(" s")[0])
    assert 118 <= covered <= 122

"""``mailtop report`` read by two processes (mailtop.logs.fast_split) gives exactly the one-pass report.

The reference is ``command.summarize_events`` (every line through ``LineParser.parse`` and
``LogStats.add``). The second part is read in this process first (``fork=False``: the same code as
the child runs, without the fork) at many split points, and through a real fork at some; then the
cases where the parts cannot be joined and the parent reads the rest itself (evictions, a log
longer than the staleness limit, a waiting delivery with a delay read by the full parser, a child
that fails) give the same report too.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logfast import DATA, REPO
from logfast import gen_log as _gen
from logfast import write_log as _write

from mailtop.logs import fast, fast_split
from mailtop.logs.command import report_data, summarize, summarize_events


def _split(path: Path, at: int, names: tuple[str, ...] = (), max_flows: int = 100_000, fork: bool = False) -> dict:
    stats = fast.LogStats(syslog_names=names, flows=fast.ReportFlows(max_flows=max_flows))
    run = fast._Run(stats)
    fast_split.read_split(run, path, os.stat(path).st_mtime, at=at, fork=fork)
    return report_data(stats, top=50)


def _check(path: Path, points: list[int], names: tuple[str, ...] = (), max_flows: int = 100_000,
           fork: bool = False) -> dict:
    ref = report_data(summarize_events([path], names, max_flows=max_flows), top=50)
    for at in points:
        got = _split(path, at, names, max_flows, fork)
        for key in ref:
            assert got[key] == ref[key], (at, key)
    return ref


def _points(path: Path, n: int) -> list[int]:
    size = path.stat().st_size
    return [1] + [size * i // n for i in range(1, n)] + [size - 2]


def test_identical_at_many_split_points_of_a_generated_log(tmp_path: Path):
    p = _write(tmp_path, "gen.log", _gen(20_000, seed=5))
    ref = _check(p, _points(p, 23))
    assert ref["totals"]["deferred"] > 30 and ref["delays"]["all"]["count"] > 500
    # another instance interleaved, and counting one instance only (its lines are skipped)
    other = _gen(6_000, seed=6, name="postfix-out").splitlines(True)
    mixed = "".join(a + b for a, b in zip(_gen(6_000, seed=7).splitlines(True), other, strict=False))
    m = _write(tmp_path, "mixed.log", mixed)
    _check(m, _points(m, 7))
    assert _check(m, _points(m, 7), ("postfix-out",))["skipped_other_instances"] > 1000


def test_identical_on_the_lab_captures_split_anywhere(tmp_path: Path):
    for src in sorted(DATA.glob("*.log")):
        p = _write(tmp_path, src.name, src.read_bytes())
        _check(p, _points(p, 11))
        _check(p, _points(p, 5), ("postfix-lab",))


def test_identical_through_a_real_fork(tmp_path: Path):
    p = _write(tmp_path, "gen.log", _gen(20_000, seed=8))
    _check(p, [p.stat().st_size // 3, p.stat().st_size // 2], fork=True)


def test_a_split_inside_a_line_moves_to_the_next_line(tmp_path: Path):
    text = _gen(3_000, seed=3)
    p = _write(tmp_path, "gen.log", text)
    cut = text.index("\n", len(text) // 2)
    assert fast_split.split_point(p, near=cut - 5) == cut + 1
    assert fast_split.split_point(p, near=cut + 1) == cut + 1
    assert fast_split.split_point(p, near=len(text) - 1) == 0        # nothing after the last line
    _check(p, [cut - 5, cut, cut + 1, cut + 2])


def test_evictions_make_the_parent_read_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    p = _write(tmp_path, "gen.log", _gen(6_000, seed=9))
    merged = []
    real = fast_split._merge
    monkeypatch.setattr(fast_split, "_merge", lambda *a: (merged.append(1), real(*a)))
    for max_flows in (0, 1, 3):
        _check(p, _points(p, 5), max_flows=max_flows)
    assert not merged                       # too few flows allowed: never joined
    _check(p, _points(p, 5), max_flows=40)  # joined where 40 live flows are enough
    _check(p, _points(p, 5))
    assert len(merged) >= 5                 # the default: joined


def test_a_log_longer_than_the_staleness_limit_is_not_joined(tmp_path: Path):
    # a message received on Nov 1 and delivered on Nov 24: its flow is stale on the way (six days)
    early = ("Nov  1 10:00:00 mail postfix/smtpd[1]: 4ABCDE1234: client=a.example[192.0.2.1]\n"
             "Nov  1 10:00:01 mail postfix/qmgr[2]: 4ABCDE1234: from=<s@a.example>, size=500, nrcpt=1\n")
    late = ("Nov 24 10:00:00 mail postfix/smtp[3]: 4ABCDE1234: to=<r@b.example>, relay=none, delay=9, "
            "dsn=2.0.0, status=sent (ok)\n"
            "Nov 24 10:00:01 mail postfix/smtp[3]: 4ABCDE1234: to=<x@b.example>, relay=none, delay=9, "
            "dsn=4.0.0, status=deferred (later)\n")
    p = _write(tmp_path, "long.log", early + _gen(2_000, seed=1) + late)
    ref = _check(p, _points(p, 5))
    assert ref["totals"]["bytes_delivered"] == _split(p, 1)["totals"]["bytes_delivered"]


def test_a_waiting_delivery_read_by_the_full_parser(tmp_path: Path):
    """The second part's line for a flow of the first part, with a fractional stamp (full parser):
    it waits and is replayed, a final delivery's delay too (the sums are integers of microseconds:
    the same in any order)."""
    # delays 0.1, 0.2, 0.03 in this order sum to 0.33000000000000007 as floats; 0.1, 0.03, 0.2 to 0.33
    first = ("Nov 24 10:00:00 mail postfix/smtpd[1]: 4ABCDE1234: client=a.example[192.0.2.1]\n"
             "Nov 24 10:00:01 mail postfix/qmgr[2]: 4ABCDE1234: from=<s@a.example>, size=500, nrcpt=2\n"
             "Nov 24 10:00:01 mail postfix/smtpd[1]: 5BCDEF1234: client=b.example[192.0.2.2]\n"
             "Nov 24 10:00:01 mail postfix/smtp[3]: 6CDEF12345: to=<r@b.example>, relay=none, delay=0.1, "
             "dsn=2.0.0, status=sent (ok)\n")
    second = ("Nov 24 10:00:02.5 mail postfix/smtp[3]: 4ABCDE1234: to=<r@b.example>, relay=none, delay=0.2, "
              "dsn=2.0.0, status=sent (ok)\n"
              "Nov 24 10:00:02 mail postfix/smtp[3]: 7DEF123456: to=<r@b.example>, relay=none, delay=0.03, "
              "dsn=2.0.0, status=sent (ok)\n"
              "Nov 24 10:00:02.6 mail postfix/qmgr[2]: 5BCDEF1234: from=<t@b.example>, size=700, nrcpt=1\n"
              "Nov 24 10:00:03 mail postfix/smtp[3]: 5BCDEF1234: to=<u@c.example>, relay=none, delay=2, "
              "dsn=4.0.0, status=deferred (later)\n"
              "Nov 24 10:00:03.1 mail postfix/qmgr[2]: 4ABCDE1234: removed\n"
              "Nov 24 10:00:04 mail postfix/smtp[3]: 4ABCDE1234: to=<r@b.example>, relay=none, delay=2, "
              "dsn=2.0.0, status=sent (ok)\n")
    p = _write(tmp_path, "frac.log", first + second)
    ref = _check(p, [len(first)])
    assert ref["totals"]["bytes_received"] == 1200 and ref["totals"]["bytes_delivered"] == 500
    assert ref["totals"]["deferred"] == 1
    assert ref["delays"]["all"]["mean"] == 2_330_000 / 4 / 1e6
    p2 = _write(tmp_path, "frac2.log", first + second.replace(".5 mail", " mail"))
    ref = _check(p2, [len(first)])
    assert ref["totals"]["bytes_delivered"] == 500


def test_more_live_flows_than_max_flows_across_the_split(tmp_path: Path):
    """Five messages wait in the first part, five more arrive in the second: with max_flows 9 the first
    one is evicted in one pass (its delivery then has no size), which the parts alone never see."""
    msg = ("Nov 24 10:00:0{i} mail postfix/smtpd[1]: 4ABCDE123{i}: client=a.example[192.0.2.1]\n"
           "Nov 24 10:00:0{i} mail postfix/qmgr[2]: 4ABCDE123{i}: from=<s@a.example>, size=100, nrcpt=1\n")
    first = "".join(msg.format(i=i) for i in range(5))
    second = "".join(msg.format(i=i) for i in range(5, 10)) + (
        "Nov 24 10:00:09 mail postfix/smtp[3]: 4ABCDE1230: to=<r@b.example>, relay=none, delay=1, "
        "dsn=2.0.0, status=sent (ok)\n")
    p = _write(tmp_path, "evict.log", first + second)
    assert _check(p, [len(first)], max_flows=9)["totals"]["bytes_delivered"] == 0
    assert _check(p, [len(first)])["totals"]["bytes_delivered"] == 100


def test_a_year_guess_that_differs_at_the_split(tmp_path: Path):
    """March then August, the file written in April: one pass reads August as the same year (five
    months on), the second part alone as the year before (August is after April): not joined. (The
    March lines are of another program: unparsed, they set the year guess but no first/last time.)"""
    text = ("Mar 10 10:00:00 mail sshd[1]: Accepted publickey for root\n" * 3
            + "Aug 10 10:00:00 mail postfix/smtpd[1]: connect from a.example[192.0.2.1]\n" * 3)
    p = tmp_path / "year.log"
    p.write_text(text)
    mtime = time.mktime((2026, 4, 1, 0, 0, 0, 0, 0, -1))
    os.utime(p, (mtime, mtime))
    ref = _check(p, _points(p, 6))
    assert time.localtime(ref["last"]).tm_year == 2026


def test_new_year_in_either_part(tmp_path: Path):
    text = ("Dec 31 23:59:58 mail postfix/smtpd[1]: 4ABCDE1234: client=a.example[192.0.2.1]\n"
            "Dec 31 23:59:59 mail postfix/qmgr[2]: 4ABCDE1234: from=<s@a.example>, size=500, nrcpt=1\n"
            "Jan  1 00:00:01 mail postfix/smtp[3]: 4ABCDE1234: to=<r@b.example>, relay=none, delay=3, "
            "dsn=2.0.0, status=sent (ok)\n"
            "Jan  1 00:00:02 mail postfix/qmgr[2]: 4ABCDE1234: removed\n") * 3
    p = tmp_path / "ny.log"
    p.write_text(text)
    mtime = time.mktime((2026, 1, 1, 1, 0, 0, 0, 0, -1))
    os.utime(p, (mtime, mtime))
    ref = _check(p, _points(p, 9))
    assert ref["first"] < ref["last"] and ref["totals"]["bytes_delivered"] == 1500


def test_a_failing_child_leaves_the_rest_to_the_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    p = _write(tmp_path, "gen.log", _gen(4_000, seed=4))

    def boom(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(fast_split, "second_part", boom)
    _check(p, [p.stat().st_size // 2], fork=True)


def test_report_reads_a_large_file_in_two_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    p = _write(tmp_path, "gen.log", _gen(8_000, seed=11))
    used = []
    real = fast_split.read_split
    monkeypatch.setattr(fast_split, "read_split", lambda *a, **k: (used.append(1), real(*a, **k)))
    monkeypatch.setattr(fast_split, "SPLIT_MIN_BYTES", 1000)
    assert fast_split.can_split(p) == (len(os.sched_getaffinity(0)) >= 2 and threading.active_count() == 1)
    ref = report_data(summarize_events([p]), top=50)
    got = report_data(summarize([p]), top=50)
    assert got == ref
    assert used == ([1] if fast_split.can_split(p) else [])
    # not for two files, stdin, gzip or small files
    assert not fast_split.can_split(None)
    gz = _write(tmp_path, "gen.log.gz", b"\x1f\x8b" + b"0" * 2000)
    assert not fast_split.can_split(gz)
    monkeypatch.setattr(fast_split, "SPLIT_MIN_BYTES", 1 << 40)
    assert not fast_split.can_split(p)
    monkeypatch.setattr(fast_split, "SPLIT_MIN_BYTES", 1000)
    # a process with other threads is not forked
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not fast_split.can_split(p)
    finally:
        stop.set()
        other.join()


def _edge_lines() -> bytes:
    """test_log_fast's lines built for every branch of the fast pattern (and each way out of it)."""
    spec = importlib.util.spec_from_file_location("test_log_fast_edge", REPO / "tests" / "unit" / "test_log_fast.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.EDGE.replace("\\r", "\r").replace("\\x1b", "\x1b").replace("<SP>", " ")
    return text.encode().replace(b"\\xff\\xfe", b"\xff\xfe")


def test_identical_with_the_edge_lines_around_the_split(tmp_path: Path):
    """The fast pattern's edge lines (reused queue IDs, fractional and RFC 3339 stamps, \\r, invalid
    UTF-8, expiries, milter rejects, New Year) before, after and on both sides of the split."""
    edge = _edge_lines()
    gen = _gen(3_000, seed=12).encode()
    for name, text in (("a", edge + gen), ("b", gen + edge), ("c", edge + gen + edge)):
        p = _write(tmp_path, f"{name}.log", text)
        _check(p, _points(p, 13))
        _check(p, _points(p, 5), ("postfix",))


_REAL = [ln for src in sorted(DATA.glob("*.log")) for ln in src.read_text(errors="replace").splitlines()]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_REAL) - 1), st.integers(0, 300), st.sampled_from(
    ["", " ", ":", ": ", "<", ">", ",", "=", "0", "z", "[", "]", "é", "NOQUEUE: ", "removed", "\r"]), st.booleans()),
    min_size=2, max_size=80), st.floats(0.0, 1.0))
def test_identical_on_mutated_real_lines_split_anywhere(tmp_path_factory, edits, where):
    """Real lines (their queue IDs repeat across the split), each cut or with a character put in."""
    out = []
    for idx, pos, ins, cut in edits:
        line = _REAL[idx]
        out.append(line[:pos] if cut else line[:pos] + ins + line[pos:])
    p = _write(tmp_path_factory.mktemp("mut"), "m.log", "\n".join(out) + "\n")
    _check(p, [int(p.stat().st_size * where)])

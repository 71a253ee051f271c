"""Chunks counted together (``fast._Run._feed_vector``) give exactly the one-pass state.

The chunk reader counts a chunk's lines per kind and per distinct key, in any order, and runs only
the flows in log order; it declines a chunk (the line loop reads it) where the order could matter
outside the flows: a stamp that is not a classic one of the year guess's month, minutes older than
the windows keep, a flow sweep that falls due. These tests compare the report with the full
parser's (``command.summarize_events``) and the state behind it with the line loop's
(``_feed_lines``): every minute bucket (counters, reasons, delays as a multiset, logins, auth
failures) and every delay histogram (count, integer sum, max, buckets); they use small reads so most
chunks are counted together, and check that they were.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logfast import CAPTURES, MTIME
from logfast import gen_log as _gen
from logfast import write_log as _write

from mailtop.logs import fast, fast_split
from mailtop.logs.command import report_data, summarize, summarize_events


def _state(stats) -> dict:  # noqa: ANN001
    """What the report is made of, beyond ``report_data``: minute buckets and histograms."""
    def hist(h) -> tuple:  # noqa: ANN001
        return (h.count, h.total_us, h.max, dict(sorted(h.buckets.items())))

    return {
        "minutes": [(b.minute, dict(b.c), Counter(b.delays), dict(b.reasons), dict(b.auth), dict(b.logins))
                    for b in stats._minutes],
        "hist_all": hist(stats.hist_all),
        "hist_relay": {k: hist(h) for k, h in stats.hist_relay.items()},
        "hist_domain": {k: hist(h) for k, h in stats.hist_domain.items()},
        "totals": stats.totals(), "lines": stats.lines, "unparsed": stats.unparsed, "skipped": stats.skipped,
        "first": stats.first_ts, "last": stats.last_ts, "all_counts": dict(stats.all_counts),
    }


def _line_by_line(paths: list[Path], names: tuple[str, ...]):  # noqa: ANN202
    """The fast path with every chunk read by its line loop (``_feed_lines``)."""
    vector = fast._Run._feed_vector
    fast._Run._feed_vector = lambda self, parser, lines, *scanned: False
    try:
        return summarize(paths, names)
    finally:
        fast._Run._feed_vector = vector


def _same(paths: list[Path], names: tuple[str, ...] = ()) -> dict:
    """The report equals the full parser's; the state behind it equals the line loop's (which makes
    a minute bucket only for the lines that count in one, where ``LogStats.add`` makes one for
    every line with a handler: empty buckets the report never shows)."""
    got_stats = summarize(paths, names)
    ref, got = _state(_line_by_line(paths, names)), _state(got_stats)
    for key in ref:
        assert got[key] == ref[key], key
    data = report_data(got_stats, top=50)
    assert data == report_data(summarize_events(paths, names), top=50)
    return data


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts chunks counted together ("vector") and declined ones."""
    seen: Counter = Counter()
    real = fast._Run._feed_vector

    def spy(self, parser, lines, *scanned):  # noqa: ANN001, ANN202
        ok = real(self, parser, lines, *scanned)
        seen["vector" if ok else "declined"] += 1
        return ok

    monkeypatch.setattr(fast._Run, "_feed_vector", spy)
    return seen


def test_generated_logs_are_counted_together_with_the_one_pass_state(tmp_path: Path, taken: Counter,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fast, "REPORT_CHUNK", 2048)
    p = _write(tmp_path, "gen.log", _gen(20_000, seed=11))
    for names in ((), ("postfix-lab",), ("other",)):
        _same([p], names)
    assert taken["vector"] > 5 * taken["declined"]
    # two inputs one after the other (flows, caches and year guess carry over)
    q = _write(tmp_path, "gen2.log", _gen(5_000, seed=12, name="postfix"))
    data = _same([p, q])
    assert data["totals"]["deferred"] > 50 and data["extra"]["logins"] > 50


def test_small_caches_and_early_folds_give_the_same_state(tmp_path: Path, taken: Counter,
                                                          monkeypatch: pytest.MonkeyPatch):
    """The caches emptied when full and the histogram counters folded when large (a real log's many
    senders, recipients, relays and reasons) change nothing: here every few chunks."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 4096)
    monkeypatch.setattr(fast, "CACHE_MAX", 7)
    monkeypatch.setattr(fast, "FOLD_KEYS", 10)
    folds = Counter()
    real_fold = fast._Run._fold

    def fold(self):  # noqa: ANN001, ANN202
        folds["n"] += 1
        return real_fold(self)

    monkeypatch.setattr(fast._Run, "_fold", fold)
    p = _write(tmp_path, "gen.log", _gen(12_000, seed=21))
    data = _same([p])
    assert taken["vector"] > 5 * taken["declined"] and folds["n"] > 5
    assert len(data["top_recipients"]) > 20


def test_the_full_parsers_lines_inside_counted_chunks(tmp_path: Path, taken: Counter,
                                                      monkeypatch: pytest.MonkeyPatch):
    """Pickups, expiries, warnings with a queue ID, auth failures, fractional stamps, other
    instances, unknown programs, Dovecot login failures: read by the full parser inside chunks that
    are counted together, the flow ones in their place among the queue-ID lines."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 4096)
    lines = _gen(8_000, seed=3).splitlines(True)
    extra = [
        "{s} mail postfix-lab/pickup[9]: {q}: uid=0 from=<root>\n",
        "{s}.25 mail postfix-lab/qmgr[3]: {q}: from=<x@y.example>, size=77, nrcpt=1 (queue active)\n",
        "{s} mail postfix-lab/smtp[4]: {q}: to=<a@b.example>, relay=none, delay=3.5, dsn=2.0.0, status=sent (ok)\n",
        "{s}.5 mail postfix-lab/smtp[4]: {q}: to=<a@b.example>, relay=none, delay=0.125, dsn=5.0.0, "
        "status=bounced (no)\n",
        "{s} mail postfix-lab/qmgr[3]: {q}: from=<x@y.example>, status=expired, returned to sender\n",
        "{s} mail postfix-lab/cleanup[5]: {q}: warning: header Subject: hi from x; from=<a@b> to=<c@d>\n",
        "{s} mail postfix-other/smtpd[6]: {q}: client=x.example[192.0.2.7]\n",
        "{s} mail nobody-knows[7]: {q}: to=<a@b>, relay=r, delay=1, status=sent (?)\n",
        "{s} mail dovecot: imap-login: Disconnected (auth failed, 3 attempts in 6 secs): user=<u>, "
        "method=PLAIN, rip=203.0.113.9, lip=127.0.0.1, session=<x>\n",
        "{s} mail postfix-lab/smtpd[8]: warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: x\n",
        # read by the chunk pattern: pickups (of the pickup service only) and expiries (the first status)
        "{s} mail postfix-lab/qmgr[3]: {q}: uid=0 from=<root>\n",
        "{s} mail postfix-lab/bounce[3]: {q}: sender=x notification: 5ABCDE\n",
        "{s} mail postfix-lab/qmgr[3]: {q}: from=<a@b>, status=sent, status=expired, returned\n",
        "{s} mail postfix-lab/qmgr[3]: {q}: from=<a@b>, status=force-expired\n",
        "{s} mail postfix-lab/qmgr[3]: {q}: from=<a@b>, status=expiredx, returned\n",
        "{s} mail postfix-lab/qmgr[3]: {q}: from=<a>b>, size=9, status=expired\n",
        "{s} mail postfix-lab/pickup[9]: {q}: sender=<x> uid=5\n",
        # Dovecot *-login failures read by the chunk pattern (and the shapes it leaves to the parser)
        "{s} mail dovecot: pop3-login: Info: Aborted login (auth failed, 0 attempts in 2 secs): user=<a, rip=9>, "
        "xrip=1, method=PLAIN, rip=198.51.100.4, lip=127.0.0.1\n",
        "{s} mail dovecot: imap-login: Disconnected (auth failed, 12 attempts in 9 secs): user=<>, rip=, lip=1\n",
        "{s} mail dovecot: imap-login: Warning: Disconnected (auth failed, 2 attempts): user=<b>, rip=192.0.2.8\n",
        "{s} mail dovecot: imap-login: Disconnected (auth failed, x=2 attempts): user=<b>, rip=192.0.2.8\n",
        "{s} mail dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.9\n",
        "{s} mail dovecot: imap-login: Disconnected: Aborted login by logging out (auth failed, 1 attempts in 1 "
        "secs): user=<probe>, method=PLAIN, rip=203.0.113.66, lip=127.0.0.1, secured, session=<x>\n",
    ]
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 7 == 3:
            qid = line.split(": ", 2)[1] if ": " in line else "ABCDEF123"
            out.append(extra[i % len(extra)].format(s=line[:15], q=qid if qid.isalnum() else "ABCDEF123"))
    data = _same([_write(tmp_path, "mixed.log", "".join(out))])
    _same([_write(tmp_path, "mixed.log", "".join(out))], ("postfix-lab",))
    assert taken["vector"] > 3 * taken["declined"]
    assert data["extra"]["auth_failures"] > 50 and data["extra"]["expired"] > 50


_REAL = [ln for src in CAPTURES for ln in src.read_text(errors="replace").splitlines() if ln[:3] == "Nov"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_REAL) - 1), st.integers(0, 400), st.sampled_from(
    ["", " ", ":", ": ", "<", ">", ",", "=", "x", "0", "z", "[", "]", "(", ")", "é", "NOQUEUE: ", "removed",
     "-login", "Dec", "\n"]), st.booleans()), min_size=1, max_size=80))
def test_mutated_real_lines_in_counted_chunks(tmp_path_factory, edits):
    """Real lines, each cut or with something put in, after real lines that set the sweep time:
    chunks of ~1 KiB, counted together where they qualify."""
    fast_chunk = fast.REPORT_CHUNK
    fast.REPORT_CHUNK = 1024
    try:
        out = _REAL[:40]
        for idx, pos, ins, cut in edits:
            line = _REAL[idx]
            out.append(line[:pos] if cut else line[:pos] + ins + line[pos:])
        p = _write(tmp_path_factory.mktemp("mut"), "m.log", "\n".join(out) + "\n")
        _same([p])
    finally:
        fast.REPORT_CHUNK = fast_chunk


def test_a_month_change_inside_a_chunk_is_read_line_by_line(tmp_path: Path, taken: Counter,
                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fast, "REPORT_CHUNK", 4096)
    a = _gen(3_000, seed=4)
    b = a.replace("Nov 24 ", "Dec 31 ")
    c = a.replace("Nov 24 ", "Jan  1 ")
    _same([_write(tmp_path, "ny.log", a + b + c)])
    assert taken["declined"] >= 2 and taken["vector"] > 20


def test_lines_older_than_the_window_keep_their_minute_buckets(tmp_path: Path, taken: Counter,
                                                               monkeypatch: pytest.MonkeyPatch):
    """A chunk with a new latest minute and lines of minutes before the window: the buckets the
    one-pass reading keeps (an older line re-makes its bucket after the eviction) are kept."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 1024)
    head = _gen(400, seed=5)             # sets the sweep time; minutes from Nov 24 00:00 on
    tail = []
    for i in range(40):
        late = f"Nov 24 0{2 + i // 20}:{i % 60:02d}:00"      # two hours later: evicts the old minutes
        old = f"Nov 24 00:0{i % 3}:30"                       # older than the window by then
        tail.append(f"{late} mail postfix-lab/smtp[4]: 4A{i:08X}: to=<a{i}@b.example>, relay=r.example[192.0.2.1]:25,"
                    f" delay=0.{i:02d}, dsn=2.0.0, status=sent (ok)\n")
        tail.append(f"{old} mail postfix-lab/smtp[4]: 4B{i:08X}: to=<o{i}@b.example>, relay=r.example[192.0.2.1]:25,"
                    f" delay=1.{i:02d}, dsn=4.0.0, status=deferred (later)\n")
        tail.append(f"{old} mail postfix-lab/smtpd[5]: NOQUEUE: reject: RCPT from x[192.0.2.{i}]: 554 5.7.1 no; "
                    f"from=<a@b> to=<c@d> proto=ESMTP helo=<x>\n")
    _same([_write(tmp_path, "old.log", head + "".join(tail))])
    assert taken["vector"] and taken["declined"]


def _fed(batches: list[list[str]], vector: bool):  # noqa: ANN202
    """Stats of the fast path fed these exact chunks (the chunk reader on or off)."""
    stats = fast.LogStats(flows=fast.ReportFlows())  # type: ignore[arg-type]
    run = fast._Run(stats)
    if not vector:
        run._feed_vector = lambda parser, lines, *scanned: False  # type: ignore[method-assign]
    run.feed(fast.P.LineParser(MTIME), [(b, True) for b in batches])
    return stats


def test_a_chunk_with_a_new_latest_minute_then_an_older_one():
    """Chunks made by hand: [late, old] in one chunk, where "old" is before the window "late" opens.
    Read line by line, the old line's bucket is made again after the late one evicted it, and stays.
    The chunk reader makes minute buckets in line order in its loop, and declines such a chunk anyway
    (the minutes guard): the same buckets either way."""
    first = [f"Nov 24 10:00:{s:02d} mail postfix/smtpd[1]: {0x4A0000 + s:X}1: client=c.example[192.0.2.1]"
             for s in range(20)]
    second = ["Nov 24 11:10:00 mail postfix/smtp[3]: 4B00001: to=<a@b.example>, relay=r, delay=1, dsn=2.0.0, "
              "status=sent (ok)",
              "Nov 24 10:00:30 mail postfix/smtp[3]: 4B00002: to=<o@b.example>, relay=r, delay=2, dsn=4.0.0, "
              "status=deferred (later)"]
    seen: Counter = Counter()
    real = fast._Run._feed_vector

    def spy(self, parser, lines, *scanned):  # noqa: ANN001, ANN202
        ok = real(self, parser, lines, *scanned)
        seen[ok] += 1
        return ok

    fast._Run._feed_vector = spy
    try:
        got = _fed([first, first[:1], second], vector=True)
    finally:
        fast._Run._feed_vector = real
    ref = _fed([first, first[:1], second], vector=False)
    assert _state(got) == _state(ref)
    assert [b.minute for b in ref._minutes][-2:] == [int(ref.last_ts // 60) - 70, int(ref.last_ts // 60)]
    assert seen[True] >= 1          # the middle chunk is counted together


def test_stale_flows_are_swept_where_the_one_pass_reading_sweeps(tmp_path: Path, taken: Counter,
                                                                 monkeypatch: pytest.MonkeyPatch):
    """A message silent for more than the staleness limit (six days) is a new flow afterwards: its
    size no longer counts as delivered bytes. A line every two minutes for a week, so no chunk is
    declined for its minutes: only the sweeps that fall due."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 1024)
    start = time.mktime((2025, 11, 10, 10, 0, 0, 0, 0, -1))
    out = ["Nov 10 10:00:00 mail postfix/smtpd[1]: 4ABCDE1234: client=a.example[192.0.2.1]\n",
           "Nov 10 10:00:01 mail postfix/qmgr[2]: 4ABCDE1234: from=<s@a.example>, size=5000, nrcpt=1\n"]
    for i in range(1, 7 * 24 * 30 + 90):
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime(start + 120 * i))
        q = f"5{i:09X}"
        if i % 3:
            out.append(f"{stamp} mail postfix/smtpd[1]: connect from c.example[192.0.2.{i % 250}]\n")
        else:
            out.append(f"{stamp} mail postfix/qmgr[2]: {q}: from=<s{i % 5}@a.example>, size={i}, nrcpt=1\n")
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(start + 120 * (7 * 24 * 30 + 90)))
    out.append(f"{stamp} mail postfix/smtp[3]: 4ABCDE1234: to=<r@b.example>, relay=none, delay=9, dsn=2.0.0, "
               "status=sent (ok)\n")
    data = _same([_write(tmp_path, "stale.log", "".join(out))])
    assert data["totals"]["bytes_delivered"] == 0 and data["totals"]["delivered"] == 1
    assert taken["vector"] > taken["declined"] > 10       # declined: where a sweep falls due


def test_two_processes_with_small_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: Counter):
    """fast_split's second part counted together too, carried flows recorded in the flow loop."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 2048)
    p = _write(tmp_path, "gen.log", _gen(12_000, seed=8))
    ref = report_data(summarize_events([p]), top=50)
    size = p.stat().st_size
    merged = []
    real = fast_split._merge
    monkeypatch.setattr(fast_split, "_merge", lambda *a: (merged.append(1), real(*a)))
    for at in (size // 5, size // 2, size * 4 // 5):
        stats = fast.LogStats(flows=fast.ReportFlows())  # type: ignore[arg-type]
        run = fast._Run(stats)
        fast_split.read_split(run, p, MTIME, at=at, fork=False)
        assert report_data(stats, top=50) == ref, at
    assert len(merged) == 3 and taken["vector"] > 50


def test_chunks_long_before_the_end_skip_the_windows_contents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A day of log: the chunks more than the windows' span before the last line count their rows
    without the minute buckets' contents (gone from the windows by the end): same state, same report."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 8192)
    seen: Counter = Counter()
    real = fast._Run._flush_batch

    def spy(self):  # noqa: ANN001, ANN202
        seen["doomed" if self.doomed else "kept"] += 1
        return real(self)

    monkeypatch.setattr(fast._Run, "_flush_batch", spy)
    calls: list[bool] = []
    real_sf = fast.summarize_fast
    monkeypatch.setattr(fast, "summarize_fast", lambda *a, **k: (calls.append(k.get("doom", True)), real_sf(*a, **k))[1])
    # ends, five minutes after the rest, with a line that makes no minute bucket ("removed"): the
    # guess is the last delivery's minute, not that line's (else the check would read it all again)
    import datetime as dt

    text = _gen(20_000, seed=31)
    last = dt.datetime.strptime("2025 " + text.splitlines()[-1][:15], "%Y %b %d %H:%M:%S") + dt.timedelta(minutes=5)
    p = _write(tmp_path, "gen.log", text + f"{last:%b} {last.day:2d} {last:%H:%M:%S} mail postfix-lab/qmgr[2]: "
               "4F00001: removed\n")
    _same([p])
    assert seen["doomed"] > 5 and seen["kept"] > 0
    assert calls[0] is True and calls.count(False) == 0      # read once: the guess held


def test_a_last_line_that_misleads_the_guess_means_reading_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The last line is hours after the others, a client= line the guess takes for one that makes a
    minute bucket, but of an instance the report skips (no bucket): the chunks before are skipped as if
    the windows would move past them, they do not, so the input is read again without skipping (and
    the report equals the full parser's)."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 8192)
    calls: list[bool] = []
    real = fast.summarize_fast

    def spy(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        calls.append(kw.get("doom", True))
        return real(*args, **kw)

    monkeypatch.setattr(fast, "summarize_fast", spy)
    lines = _gen(6_000, seed=32).splitlines(True)
    last = lines[-1][:15]
    lines = [ln for ln in lines if ln[:15] != last]
    mon, day, hms = lines[-1][:3], int(lines[-1][4:6]), lines[-1][7:15]
    late = (f"{mon} {day:2d} {(int(hms[:2]) + 5) % 24:02d}{hms[2:]} mail postfix-other/smtpd[9]: 4ABCDE1234: "
            "client=x[192.0.2.1]\n")
    if int(hms[:2]) + 5 >= 24:                  # the next day
        late = f"{mon} {day + 1:2d} {late[7:]}"
    p = _write(tmp_path, "late.log", "".join(lines) + late)
    _same([p], ("postfix-lab",))
    assert calls[:2] == [True, False]       # read again without skipping (then the line loop's reference)


def test_two_parts_with_skipped_minutes_give_the_one_pass_state(tmp_path: Path):
    """Read in two parts (fast_split), each skipping the contents of the minutes long before the last
    line: every minute bucket, histogram and count equals the one-pass line loop's (the child's waiting
    whole lines are replayed before its minutes are merged, so their early buckets leave the windows)."""
    import os

    p = _write(tmp_path, "gen.log", _gen(20_000, seed=33))
    ref = _state(_line_by_line([p], ()))
    mtime = os.stat(p).st_mtime
    tail = fast._tail_minute(p, mtime)
    size = p.stat().st_size
    for at in (size // 3, size // 2, size * 2 // 3):
        stats = fast.LogStats(flows=fast.ReportFlows())  # type: ignore[arg-type]
        run = fast._Run(stats)
        run.doom_minute = tail - int(stats.window_max // 60) - 2
        fast_split.read_split(run, p, mtime, at=at, fork=False)
        assert run.doomed_any
        got = _state(stats)
        for key in ref:
            assert got[key] == ref[key], (at, key)

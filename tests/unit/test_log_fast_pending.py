"""The fast path's pending final deliveries (``fast._Run._flush_sent``) give the one-by-one report.

Sent and bounced deliveries read by the fast pattern wait in a list and are counted together (per
distinct recipient, delay text, minute, relay, domain), in any order: the delay sums are integers of
microseconds (``stats.delay_us``). These tests compare the whole report with the full parser's
(``command.summarize_events``) where that could go wrong: delays whose float sum would depend on the
order of the additions, many relays and domains in one flush, delays that are no number,
deliveries read by the full parser between pending ones, flushes of every size (``PEND_MAX``), small
reads (lines split across reads, pending deliveries across chunks), minute boundaries, New Year,
unknown lines and invalid UTF-8 among them, and the two-process split.
"""

from __future__ import annotations

import random
from functools import reduce
from operator import add
from pathlib import Path

import pytest
from logfast import MTIME
from logfast import same_report as _same
from logfast import write_log as _write

from mailtop.logs import fast, fast_split
from mailtop.logs.command import report_data, summarize_events
from mailtop.logs.parse import LineParser

# 1e16 + 1 + 1 is 1e16 added one by one, 1e16 + 2 with the ones first: the sums see the order
DELAYS = ["1e16", "1", "1", "0.1", "0.2", "0.3", "7", "abc", "nan", "inf", "2.5", "1e16", "0.01", "1"]






def _deliveries(n: int, seed: int, relays: int = 4, domains: int = 6) -> bytes:
    """Messages with deliveries to many relays and domains, some read by the full parser."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        mm, ss = divmod(i // 3, 60)
        stamp = f"Nov 24 10:{mm % 60:02d}:{ss:02d}"
        q = f"{0x4A0000 + i:X}0"
        out.append(f"{stamp} mail postfix/smtpd[1]: {q}: client=c{i % 5}.example.org[192.0.2.{i % 200}]")
        out.append(f"{stamp} mail postfix/qmgr[2]: {q}: from=<s{i % 7}@Ex{i % 3}.example>, size={100 + i}, nrcpt=3")
        for j in range(3):
            d = DELAYS[(i * 3 + j) % len(DELAYS)]
            relay = f"mx{rng.randrange(relays)}.example[192.0.2.{j}]:25"
            to = f"R{rng.randrange(9)}@Dom{rng.randrange(domains)}.Example"
            status = rng.choice(["sent", "sent", "sent", "bounced", "deferred"])
            head = stamp
            if rng.random() < 0.05:
                head = stamp + ".5"              # fractional stamp: the full parser reads this one
            out.append(f"{head} mail postfix/smtp[3]: {q}: to=<{to}>, relay={relay}, delay={d}, "
                       f"delays=0/0/0/0, dsn=2.0.0, status={status} (250 ok <{to}>)")
        if i % 11 == 0:
            out.append(f"{stamp} mail postfix/local[4]: {q}: to=<f@lab.test>, relay=local, delay=1, "
                       f"dsn=2.0.0, status=sent (forwarded as 5BCDEF{i:04X})")
        if i % 13 == 0:
            out.append(f"{stamp} mail nobody-knows[5]: {q}: to=<x@y>, relay=r, delay=3, status=sent (?)")
        out.append(f"{stamp} mail postfix/qmgr[2]: {q}: removed")
    return ("\n".join(out) + "\n").encode()


def test_the_delays_used_here_have_sums_that_depend_on_the_order():
    vals = [float(d) for d in DELAYS if d not in ("abc", "nan", "inf")]
    assert reduce(add, vals, 0.0) != reduce(add, sorted(vals), 0.0)


@pytest.mark.parametrize("pend_max", [0, 1, 7, 4096])
@pytest.mark.parametrize("keys", [1, 4, 30])     # relays and domains per flush: each way of splitting
def test_pending_deliveries_give_the_one_by_one_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       pend_max: int, keys: int):
    monkeypatch.setattr(fast, "PEND_MAX", pend_max)
    p = _write(tmp_path, "d.log", _deliveries(400, seed=pend_max, relays=keys, domains=keys))
    data = _same([p])
    assert data["totals"]["delivered"] > 300 and data["totals"]["bounced"] > 50
    assert len(data["delays"]["by_relay"]) >= min(keys, 10) and len(data["delays"]["by_domain"]) >= min(keys, 10)


def test_flushes_happen_and_keep_the_exact_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The pending path is the one taken (it flushes), and the histogram's sum is the exact sum of
    the delays in whole microseconds (the same in any order, unlike their float sum)."""
    calls = []
    real = fast._Run._flush_sent

    def spy(self, pend):  # noqa: ANN001, ANN202
        calls.append(len(pend))
        return real(self, pend)

    monkeypatch.setattr(fast._Run, "_flush_sent", spy)
    raw = _deliveries(300, seed=5)
    p = _write(tmp_path, "d.log", raw)
    counted = fast.summarize_fast([p], split=False)       # chunks counted together after the first
    vector = fast._Run._feed_vector
    monkeypatch.setattr(fast._Run, "_feed_vector", lambda self, parser, lines, *scanned: False)
    calls.clear()
    st = fast.summarize_fast([p], split=False)            # the line loop's pending deliveries
    assert calls and sum(calls) > 500
    monkeypatch.setattr(fast._Run, "_feed_vector", vector)
    parser = LineParser(MTIME)
    in_order = [ev.delay for ev in map(parser.parse, raw.decode().splitlines())
                if ev.kind == "delivery" and ev.status in ("sent", "bounced") and ev.delay is not None
                and "forwarded as " not in ev.reason]
    assert st.hist_all.count == len(in_order)
    assert st.hist_all.total_us == sum(round(d * 1_000_000) for d in in_order)
    assert st.hist_all.total_us == sum(reversed([round(d * 1_000_000) for d in in_order]))
    assert st.delays().mean == st.hist_all.total_us / len(in_order) / 1e6
    assert (counted.hist_all.count, counted.hist_all.total_us) == (st.hist_all.count, st.hist_all.total_us)


def test_small_reads_new_year_unknown_lines_and_invalid_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Reads of 1 KiB: lines split across reads, pending deliveries across many chunks; New Year,
    an unknown line, invalid UTF-8 and a \\r among the pending ones (their chunks fall back)."""
    monkeypatch.setattr(fast, "REPORT_CHUNK", 1024)
    a = _deliveries(120, seed=1)
    b = _deliveries(60, seed=2).replace(b"Nov 24 10:", b"Dec 31 23:")
    c = _deliveries(60, seed=3).replace(b"Nov 24 10:", b"Jan  1 00:")
    odd = (b"Dec 31 23:59:59 mail whatever: \xff\xfe garbage\n"
           b"Dec 31 23:59:59 mail postfix/smtp[3]: 4B00000: to=<cr@x>, relay=r, delay=2, dsn=2.0.0, "
           b"status=sent (ok)\r\n"
           b"Dec 31 23:59:59 mail postfix/smtp[3]: 4B00001: to=<u@x\xc3\xa9>, relay=r, delay=3, dsn=2.0.0, "
           b"status=sent (ok)\n")
    p = _write(tmp_path, "ny.log", a + b + odd + c)
    data = _same([p])
    assert data["unparsed"] >= 1 and data["totals"]["delivered"] > 200


def test_pending_deliveries_across_the_two_process_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The child's histograms are added to the parent's: the joined report is the one-pass report at
    every split point."""
    monkeypatch.setattr(fast, "PEND_MAX", 3)
    merged = []
    real = fast_split._merge
    monkeypatch.setattr(fast_split, "_merge", lambda *a: (merged.append(1), real(*a)))
    raw = _deliveries(300, seed=9)
    p = _write(tmp_path, "s.log", raw)
    ref = report_data(summarize_events([p]), top=50)
    size = len(raw)
    for at in (size // 7, size // 3, size // 2, size * 4 // 5):
        stats = fast.LogStats(flows=fast.ReportFlows())  # type: ignore[arg-type]
        run = fast._Run(stats)
        fast_split.read_split(run, p, MTIME, at=at, fork=False)
        assert report_data(stats, top=50) == ref, at
    # joined (not read again by the parent), also where a waiting delivery with a delay was read by
    # the full parser (a fractional stamp): its delay is added in the replay
    assert len(merged) == 4

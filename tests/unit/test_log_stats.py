"""Flows, statistics, windows, delay percentiles, health findings and trace on real lab captures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtop.config import ThresholdsConfig
from mailtop.logs import parse as P
from mailtop.logs.flows import FlowTracker
from mailtop.logs.parse import LineParser
from mailtop.logs.stats import LogStats, gimme_domain, log_findings, window_health
from mailtop.logs.trace import trace
from mailtop.model import Status

DATA = Path(__file__).resolve().parent.parent / "data" / "logs"


def _stats(*names: str, **kw) -> LogStats:
    s = LogStats(**kw)
    p = LineParser(time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1)))
    for name in names:
        for line in (DATA / name).read_text().splitlines():
            s.add(p.parse(line))
    return s


def test_totals_of_the_lab_capture():
    # the same numbers pflogsumm prints for this file (tests/integration/test_log_report.py runs it)
    t = _stats("lab-postfix.log").totals()
    assert (t.received, t.delivered, t.deferred, t.deferrals, t.bounced, t.rejected) == (122, 104, 111, 177, 10, 12)
    assert (t.bytes_received, t.bytes_delivered, t.senders, t.recipients) == (2481839, 575777, 7, 3)


def test_flows_join_a_message_life():
    s = _stats("lab-postfix.log")
    done = list(s.flows.finished)
    sent = next(f for f in done if f.origin == "smtpd" and f.deliveries and f.deliveries[-1].status == "sent")
    assert sent.removed and sent.client == "unknown[127.0.0.1]" and sent.message_id.startswith("<")
    assert sent.sender is not None and sent.size and sent.recipients
    d = sent.deliveries[-1]
    assert d.final and d.split_delays() is not None and d.relay.endswith(":2424")
    expired = [f for f in done if f.expired]
    assert expired and any(f.notifications for f in expired)   # (mail from <> gets no notification)


def test_flow_memory_is_bounded():
    ft = FlowTracker(max_flows=100, stale_after=3600)
    p = LineParser()
    t0 = "Nov 25 10:00:00"
    for i in range(1000):
        ft.feed(p.parse(f"{t0} mail postfix/qmgr[1]: {0x100000 + i:X}: from=<a@b.c>, size=1, nrcpt=1 (queue active)"))
    assert len(ft) == 100 and ft.evicted == 900
    ft.feed(p.parse(f"Nov 25 12:00:00 mail postfix/qmgr[1]: {0x900000:X}: from=<a@b.c>, size=1, nrcpt=1 (queue active)"))
    assert len(ft) == 1                      # the others went stale (not seen for more than an hour)
    ft.feed(p.parse(f"Nov 25 12:00:01 mail postfix/qmgr[1]: {0x900000:X}: removed"))
    assert len(ft) == 0 and ft.finished[-1].removed


def test_instances_do_not_mix():
    p = LineParser()
    s = LogStats()
    for line in ("Nov 25 10:00:00 mail postfix-a/qmgr[1]: ABCDEF123: from=<x@a.example>, size=100, nrcpt=1 (queue active)",
                 "Nov 25 10:00:00 mail postfix-b/qmgr[2]: ABCDEF123: from=<y@b.example>, size=999, nrcpt=1 (queue active)",
                 "Nov 25 10:00:01 mail postfix-a/lmtp[3]: ABCDEF123: to=<u@lab.test>, relay=local, delay=1, "
                 "delays=0/0/0/1, dsn=2.0.0, status=sent (ok)"):
        s.add(p.parse(line))
    assert s.totals().bytes_delivered == 100


def test_windows_and_delay_percentiles():
    p = LineParser(time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1)))
    s = LogStats()
    # 100 final deliveries one per 30 s; delay i/10 s; to two relays and two domains; plus deferrals
    for i in range(1, 101):
        t = time.localtime(time.mktime((2025, 11, 25, 10, 0, 0, 0, 0, -1)) + 30 * i)
        stamp = time.strftime("%b %d %H:%M:%S", t)
        relay, dom = ("mx1[192.0.2.1]:25", "a.example") if i % 2 else ("mx2[192.0.2.2]:25", "b.example")
        s.add(p.parse(f"{stamp} mail postfix/smtp[5]: {0xA00000 + i:X}: to=<u{i}@{dom}>, relay={relay}, "
                      f"delay={i / 10}, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"))
        s.add(p.parse(f"{stamp} mail postfix/smtp[5]: {0xB00000 + i:X}: to=<v@{dom}>, relay=none, delay=9999, "
                      "delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to mx[192.0.2.9]:25: Connection timed out)"))
    allc = s.counts()
    assert (allc.delivered, allc.deferred) == (100, 100)
    last5 = s.counts(300.0)
    # windows are whole minutes: the minute of "now" (10:50) and the four before it (10:46..10:50)
    assert last5.delivered == 9 and last5.deferred == 9
    d = s.delays()                                             # deferrals never count
    assert d.count == 100 and d.max == 10.0
    assert d.p50 == pytest.approx(5.0, rel=0.02) and d.p90 == pytest.approx(9.0, rel=0.02)
    w = s.delays(300.0)
    assert (w.count, w.p50, w.max) == (9, 9.6, 10.0)           # exact in windows
    by_relay = s.delays(by="relay")
    assert set(by_relay) == {"mx1[192.0.2.1]:25", "mx2[192.0.2.2]:25"} and by_relay["mx2[192.0.2.2]:25"].max == 10.0
    assert s.delays(3600.0, by="domain")["a.example"].count == 50
    top = s.top_reasons("deferred")
    assert top == [("deferred", "connect to *: Connection timed out", 100)]
    h = window_health(s, 300.0)
    assert (h.attempts, h.defer_rate) == (18, 50.0)
    with pytest.raises(ValueError):
        s.counts(7200.0)


def test_auth_burst_and_findings():
    p = LineParser()
    s = LogStats()
    for i in range(30):
        s.add(p.parse(f"Nov 25 10:00:{i:02d} mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 "
                      f"secs): user=<admin>, method=PLAIN, rip=203.0.113.66, lip=192.0.2.1, TLS, session=<s{i}>"))
    s.add(p.parse("Nov 25 10:00:31 mail postfix/submission/smtpd[9]: warning: unknown[198.51.100.1]: SASL LOGIN "
                  "authentication failed: UGFzc3dvcmQ6"))
    assert s.auth_failures(300.0) == [("203.0.113.66", 30), ("198.51.100.1", 1)]
    f = {x.id: x for x in log_findings(s, ThresholdsConfig())}
    assert f["logs.auth_failures"].status == Status.WARNING and "203.0.113.66" in f["logs.auth_failures"].summary
    assert f["logs.defer_rate"].status == Status.OK


def test_findings_on_lab_capture():
    s = _stats("lab-postfix.log", "lab-dovecot.log")
    f = {x.id: x for x in log_findings(s, ThresholdsConfig())}
    # the capture ends with force-expired deferred mail: most attempts in its last minutes were deferred
    assert f["logs.defer_rate"].status == Status.CRITICAL
    assert "Connection refused" in f["logs.defer_rate"].hint
    assert f["logs.defer_rate"].metrics[0].value > 30


# Real lab lines (lab-postfix.log), repeated with other queue IDs and times: a quiet server's window.
BOUNCED = ("Nov 25 18:15:{s:02d} mail postfix-lab/lmtp[875]: {q:X}: to=<ghost@lab.test>, relay=127.0.0.1[127.0.0.1]"
           ":2424, delay=0.04, delays=0.01/0.02/0/0.02, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: "
           "550 5.1.1 <ghost@lab.test> User doesn't exist: ghost@lab.test (in reply to RCPT TO command))")
DEFERRED = ("Nov 25 18:15:{s:02d} mail postfix-lab/smtp[698]: {q:X}: to=<someone@example.com>, relay=none, "
            "delay=65, delays=64/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2999: "
            "Connection refused)")


def _window(*lines: str) -> LogStats:
    p = LineParser(time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1)))
    s = LogStats()
    for i, fmt in enumerate(lines):
        s.add(p.parse(fmt.format(s=i % 60, q=0xE190A5168D2 + i)))
    return s


def test_one_bounce_out_of_one_attempt_is_too_few_to_judge():
    s = _window(BOUNCED)
    f = {x.id: x for x in log_findings(s, ThresholdsConfig())}
    assert ThresholdsConfig().rate_min_attempts == 20
    assert f["logs.bounce_rate"].status is Status.OK and f["logs.defer_rate"].status is Status.OK
    assert f["logs.bounce_rate"].summary.startswith("too few attempts to judge (1)")
    assert f["logs.bounce_rate"].metrics[0].value == 100.0        # the rate is still reported as data
    assert f["logs.bounce_rate"].data == {"attempts": 1, "min_attempts": 20} and not f["logs.bounce_rate"].hint
    # the same window judged when one attempt is enough: CRITICAL, as before the minimum existed
    f = {x.id: x for x in log_findings(s, ThresholdsConfig(rate_min_attempts=1))}
    assert f["logs.bounce_rate"].status is Status.CRITICAL
    assert f["logs.bounce_rate"].summary == "100.0% of 1 delivery attempts bounced in the last 5 min"


def test_rates_are_judged_from_the_minimum_number_of_attempts():
    th = ThresholdsConfig()
    below = {x.id: x for x in log_findings(_window(*[DEFERRED] * 15, *[BOUNCED] * 4), th)}
    assert below["logs.defer_rate"].status is Status.OK and below["logs.bounce_rate"].status is Status.OK
    assert below["logs.defer_rate"].summary.startswith("too few attempts to judge (19): 15 of 19 delivery attempts")
    at = {x.id: x for x in log_findings(_window(*[DEFERRED] * 15, *[BOUNCED] * 5), th)}
    assert at["logs.defer_rate"].status is Status.CRITICAL and at["logs.bounce_rate"].status is Status.CRITICAL
    assert at["logs.defer_rate"].summary == "75.0% of 20 delivery attempts deferred in the last 5 min"
    assert "Connection refused" in at["logs.defer_rate"].hint


def test_syslog_name_filter_and_gimme_domain():
    s = _stats("lab-postfix.log", "lab-postfix-open.log", syslog_names=["postfix-open"])
    assert s.totals().received == 0 and s.skipped > 1000
    assert gimme_domain("unknown[127.0.0.1]") == "127.0.0.1"
    assert gimme_domain("mail.sub.example.com[192.0.2.1]") == "example.com"
    assert gimme_domain("localhost[127.0.0.1]") == "localhost"


def test_trace_by_queue_id_address_and_message_id():
    lines = (DATA / "lab-postfix.log").read_text().splitlines() + (DATA / "lab-dovecot.log").read_text().splitlines()
    r = trace("carol@lab.test", lines)
    assert r.query_kind == "address" and r.messages
    first = r.messages[0]
    assert any("connect from" in ln for ln in r.lines)          # the smtpd session comes along
    assert any("sender non-delivery notification" in ln for ln in r.lines)
    assert any(first.notifications[0] + ": " in ln for ln in r.lines)   # the bounce message itself
    assert any("Quota exceeded" in ln and "lmtp(carol)" in ln for ln in r.lines)   # Dovecot's side
    by_id = trace(first.queue_id, lines)
    assert by_id.query_kind == "queue_id" and by_id.queue_ids[0] == first.queue_id
    assert set(by_id.lines) <= set(lines) and len(by_id.lines) >= 6
    r2 = trace(first.message_id, lines)
    assert r2.query_kind == "message_id" and first.queue_id in r2.queue_ids
    none = trace("nobody-at-all@nowhere.example", lines)
    assert none.lines == () and none.lines_read == len(lines)
    rej = trace("@outside.example", lines)
    assert rej.lines and all("Relay access denied" in ln for ln in rej.lines)
    assert P.is_queue_id(first.queue_id)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, 3, 50, 200, 600]), st.integers(1, 40), st.randoms(use_true_random=False), st.integers(0, 30))
def test_top_lists_equal_a_full_sort(size, spread, rnd, n):
    """The top-n lists sort only the items at or above the n-th count: the same as sorting them all
    (most first, ties by key), also with many ties at the cut."""
    from mailtop.logs.stats import _top

    counts = {f"{rnd.randrange(10**6):06d}@x": rnd.randrange(spread) for _ in range(size)}
    assert _top(counts, n) == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def test_delays_of_the_top_relays_and_domains_only():
    p = LineParser()
    s = LogStats()
    for i in range(300):
        s.add(p.parse(f"Nov 25 10:{i % 60:02d}:00 mail postfix/smtp[1]: 4ABCDE{i:04X}: to=<u@d{i % 7}.example>, "
                      f"relay=mx{i % 11}[192.0.2.{i % 11}]:25, delay={i % 13}, dsn=2.0.0, status=sent (ok)"))
    for by in ("relay", "domain"):
        full = s.delays(by=by)
        for window in (None, 3600.0):
            ref = s.delays(window, by=by, now=s.last_ts)
            got = s.delays(window, by=by, now=s.last_ts, top=3)
            want = sorted(ref.items(), key=lambda kv: (-kv[1].count, kv[0]))[:3]
            assert list(got.items()) == want
        assert len(full) > 3

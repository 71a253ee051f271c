"""Parser tests on real lab captures (tests/data/logs/README.md) and on other real formats."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mailtop.logs import parse as P
from mailtop.logs.follow import iter_text_lines
from mailtop.logs.parse import LineParser, YearGuesser, is_queue_id
from mailtop.logs.stats import LogStats

DATA = Path(__file__).resolve().parent.parent / "data" / "logs"


def _events(name: str) -> list[P.LogEvent]:
    p = LineParser(time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1)))
    return [p.parse(line) for line in (DATA / name).read_text(errors="replace").splitlines()]


def _one(line: str) -> P.LogEvent:
    return LineParser(time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1))).parse(line)


def test_every_lab_postfix_line_is_read():
    evs = _events("lab-postfix.log")
    kinds = Counter(e.kind for e in evs)
    assert kinds[P.UNPARSED] == 0
    assert all(e.program == "postfix" and e.instance.startswith("postfix-lab") for e in evs)
    # the capture holds each of these (see capture.sh)
    for kind in (P.CONNECT, P.CLIENT, P.MESSAGE_ID, P.QUEUED, P.DELIVERY, P.REMOVED, P.REJECT, P.NOTIFY,
                 P.PICKUP, P.EXPIRED, P.AUTH_FAILED, P.DISCONNECT, P.LOST):
        assert kinds[kind] > 0, kind


def test_every_lab_dovecot_line_is_read():
    evs = _events("lab-dovecot.log")
    kinds = Counter(e.kind for e in evs)
    assert kinds[P.UNPARSED] == 0
    assert all(e.program == "dovecot" and e.host == "" for e in evs)
    for kind in (P.LOGIN, P.LOGIN_FAILED, P.LOGIN_DISCONNECT, P.LOGOUT, P.SAVED, P.QUOTA, P.AUTH):
        assert kinds[kind] > 0, kind


def test_delivery_fields_from_lab():
    line = ("Nov 25 18:04:24 mail postfix-lab/lmtp[11802]: 2FB905143E6: to=<alice@lab.test>, "
            "relay=127.0.0.1[127.0.0.1]:2424, delay=0.02, delays=0.01/0.01/0/0.01, dsn=2.0.0, "
            "status=sent (250 2.0.0 <alice@lab.test> YMgRDCgjB2sSLgAAg+zDdQ Saved)")
    e = _one(line)
    assert (e.kind, e.instance, e.service, e.pid, e.queue_id) == (P.DELIVERY, "postfix-lab", "lmtp", 11802,
                                                                    "2FB905143E6")
    assert (e.address, e.relay, e.delay, e.dsn, e.status) == ("alice@lab.test", "127.0.0.1[127.0.0.1]:2424", 0.02,
                                                              "2.0.0", "sent")
    assert e.split_delays() == P.Delays(0.01, 0.01, 0.0, 0.01)
    assert e.reason == "250 2.0.0 <alice@lab.test> YMgRDCgjB2sSLgAAg+zDdQ Saved"
    assert e.is_final
    assert e.ts == time.mktime((2025, 11, 25, 18, 4, 24, 0, 0, -1))
    assert e.line == line


def test_submission_client_with_sasl_and_conn_use():
    evs = _events("lab-postfix.log")
    sub = [e for e in evs if e.kind == P.CLIENT and e.instance == "postfix-lab/submission"]
    assert sub and sub[0].service == "smtpd" and sub[0].user in ("alice", "bob")
    assert sub[0].client == "unknown[127.0.0.1]" and sub[0].client_ip == "127.0.0.1"
    deferred = [e for e in evs if e.kind == P.DELIVERY and e.status == "deferred"]
    assert deferred and all(e.dsn.startswith("4.") and not e.is_final for e in deferred)


def test_expired_notify_pickup_and_sasl_failure():
    evs = _events("lab-postfix.log")
    exp = next(e for e in evs if e.kind == P.EXPIRED)
    assert exp.status == "force-expired" and exp.reason == "returned to sender" and "@" in exp.address
    n = next(e for e in evs if e.kind == P.NOTIFY)
    assert is_queue_id(n.linked_queue_id) and n.linked_queue_id != n.queue_id
    pk = next(e for e in evs if e.kind == P.PICKUP)
    assert pk.address == "root"
    af = next(e for e in evs if e.kind == P.AUTH_FAILED)
    assert (af.client_ip, af.user, af.status) == ("127.0.0.1", "alice", "PLAIN")


def test_noqueue_reject():
    evs = _events("lab-postfix.log")
    rej = [e for e in evs if e.kind == P.REJECT]
    relay = next(e for e in rej if "Relay access denied" in e.reason)
    assert relay.queue_id == "" and relay.status == "RCPT" and relay.client_ip == "127.0.0.2"
    assert relay.reason.startswith("554 5.7.1 <") and "from=<" not in relay.reason
    assert "@" in relay.address


def test_dovecot_file_format_lines():
    e = _one("Nov 25 18:06:03 imap-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, "
             "lip=127.0.0.1, mpid=29811, secured, session=<GOCRyB1hMrt/AAAB>")
    assert (e.kind, e.service, e.user, e.client_ip, e.host) == (P.LOGIN, "imap-login", "alice", "127.0.0.1", "")
    e = _one("Nov 25 18:06:03 pop3-login: Info: Disconnected: Aborted login by logging out (auth failed, 1 attempts "
             "in 1 secs): user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<1QxLyB1hQLx/AAAB>")
    assert (e.kind, e.user, e.client_ip) == (P.LOGIN_FAILED, "alice", "127.0.0.1")
    e = _one("Nov 25 18:04:24 lmtp(alice)<11794><YMgRDCgjB2sSLgAAg+zDdQ>: Info: msgid=<welcome-alice@lab.test>: "
             "saved mail to INBOX")
    assert (e.kind, e.user, e.message_id, e.pid) == (P.SAVED, "alice", "<welcome-alice@lab.test>", 11794)


def test_other_formats():
    evs = _events("other-formats.log")
    by_line = {e.line: e for e in evs}
    lines = (DATA / "other-formats.log").read_text().splitlines()
    first = by_line[lines[1]]
    assert first.kind == P.CONNECT and first.instance == "postfix"
    # RFC 3339 with fraction and offset: 18:04:24.123456+01:00 == 17:04:24.123456 UTC
    assert abs(first.ts - (1764090264.123456)) < 1e-6
    long = next(e for e in evs if e.kind == P.CLIENT)
    assert long.queue_id == "4Dq2Yq6nM7z9vQR" and is_queue_id(long.queue_id)
    z = next(e for e in evs if e.kind == P.CLIENT and e.instance == "postfix/submission")
    assert z.user == "bob" and z.ts == 1764093866.0
    kinds = Counter(e.kind for e in evs)
    assert kinds[P.REJECT] == 2          # postscreen and cleanup header
    assert kinds[P.REJECT_WARNING] == 2  # smtpd reject_warning and cleanup header WARN
    assert kinds[P.MILTER_REJECT] == 1 and kinds[P.HOLD] == 1 and kinds[P.DISCARD] == 1
    assert kinds[P.FATAL] == 1 and kinds[P.PANIC] == 1 and kinds[P.STATISTICS] == 1
    assert kinds[P.POSTSCREEN] >= 3 and kinds[P.AUTH_FAILED] == 1 and kinds[P.AUTH] == 1
    assert kinds[P.LOGIN] == 2 and kinds[P.LOGIN_FAILED] == 1 and kinds[P.LOGOUT] == 1
    assert kinds[P.UNPARSED] == 3        # the header comment, sshd and the garbage line
    fwd = next(e for e in evs if e.kind == P.DELIVERY and e.service == "local")
    assert fwd.orig_to == "root" and fwd.linked_queue_id == "6B2C3D4E5F"
    failed = next(e for e in evs if e.kind == P.LOGIN_FAILED)
    s = LogStats()
    s.add(failed)
    assert s.auth_failures() == [("203.0.113.66", 3)]   # "3 attempts"


def test_any_syslog_name():
    for tag, inst in (("postfix/smtpd", "postfix"), ("postfix-lab/submission/smtpd", "postfix-lab/submission"),
                      ("mx2/smtps/smtpd", "mx2/smtps"), ("postfix-open/smtpd", "postfix-open")):
        e = _one(f"Nov 25 18:04:24 mail {tag}[1]: 2FB905143E6: client=unknown[127.0.0.1]")
        assert (e.kind, e.instance, e.service) == (P.CLIENT, inst, "smtpd"), tag


def test_year_inferred_across_new_year():
    ref = time.mktime((2026, 1, 1, 12, 0, 0, 0, 0, -1))
    p = LineParser(ref)
    a = p.parse("Dec 31 23:59:59 mail postfix/qmgr[1]: 2FB905143E6: removed")
    b = p.parse("Jan  1 00:00:01 mail postfix/qmgr[1]: 2FB905143E7: removed")
    c = p.parse("Dec 31 23:59:58 mail postfix/qmgr[1]: 2FB905143E8: removed")   # a straggler
    assert b.ts - a.ts == 2.0 and a.ts - c.ts == 1.0
    assert time.localtime(a.ts).tm_year == 2025 and time.localtime(b.ts).tm_year == 2026
    # a December line read in November of the next year's reference is last year's
    assert YearGuesser(time.mktime((2026, 11, 25, 0, 0, 0, 0, 0, -1))).year(12, 24) == 2025
    assert YearGuesser(time.mktime((2026, 11, 25, 0, 0, 0, 0, 0, -1))).year(11, 25) == 2026


def test_fractional_classic_stamp_and_bad_input():
    e = _one("Nov  5 08:00:00.250000 mail postfix/qmgr[7]: 2FB905143E6: removed")
    assert e.kind == P.REMOVED and e.ts == time.mktime((2025, 11, 5, 8, 0, 0, 0, 0, -1)) + 0.25
    for bad in ("", "Nov", "Foo 25 18:04:24 mail postfix/smtpd[1]: x", "Nov 99 18:04:24 mail postfix/smtpd[1]: x",
                "Nov 25 18:04:24", "2025-13-45T99:00:00Z mail postfix/smtpd[1]: x", "\x00\x01\x02",
                "Nov 25 18:04:24 mail unknown-daemon[1]: hello", "x" * (P.MAX_LINE + 10)):
        assert _one(bad).kind == P.UNPARSED, bad
    huge = "Nov 25 18:04:24 mail postfix/smtpd[1]: warning: " + "A" * 1_000_000
    assert _one(huge).kind == P.UNPARSED


def test_queue_ids():
    assert is_queue_id("2FB905143E6") and is_queue_id("4Dq2Yq6nM7z9vQR")
    assert not is_queue_id("warning") and not is_queue_id("NOQUEUE") and not is_queue_id("connect")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(data: bytes):
    parser = LineParser()
    stats = LogStats()
    import io

    for batch in iter_text_lines(io.BytesIO(data), chunk_size=64, max_line=512):
        for line in batch:
            ev = parser.parse(line)
            assert isinstance(ev, P.LogEvent)
            stats.add(ev)
    stats.totals()
    stats.counts(300.0)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(open(DATA / "lab-postfix.log", encoding="utf-8").read().splitlines()[:400]),
       st.integers(min_value=0, max_value=300), st.binary(max_size=30))
def test_mangled_real_lines_never_raise(line: str, cut: int, junk: bytes):
    mangled = line[:cut] + junk.decode("utf-8", "replace") + line[cut:]
    ev = LineParser().parse(mangled)
    LogStats().add(ev)


# --------------------------------------------------------------------------- queue IDs of every length
# lab-xfs-postfix.log (real, capture-xfs.sh): short IDs of 14 characters (queue file inodes on XFS,
# 0x400000087...) and long IDs (enable_long_queue_ids), some with a "z" inside the time part.
XFS_SENT = ("Nov 25 19:08:38 mail postfix-lab/lmtp[3229]: 5A58E400000088: to=<alice@lab.test>, "
            "relay=127.0.0.1[127.0.0.1]:2424, delay=0.02, delays=0/0.01/0/0.01, dsn=2.0.0, status=sent (250 ok)")


def test_short_queue_ids_of_13_and_more_characters_from_an_xfs_lab():
    evs = _events("lab-xfs-postfix.log")
    qids = {e.queue_id for e in evs if e.queue_id}
    assert {len(q) for q in qids if not q.count("z")} == {14}
    sent = [e for e in evs if e.kind == P.DELIVERY and e.status == "sent" and len(e.queue_id) == 14]
    assert len(sent) >= 10
    kinds = Counter(e.kind for e in evs if len(e.queue_id) == 14)
    for kind in (P.CLIENT, P.MESSAGE_ID, P.QUEUED, P.DELIVERY, P.REMOVED, P.NOTIFY):
        assert kinds[kind] > 0, kind
    # every "QID: " line of the capture has its queue ID read (none is left as info without one)
    for e in evs:
        head = e.line.split("]: ", 1)[1].split(": ", 1)[0]
        assert e.queue_id == (head if head.isalnum() and len(head) >= 13 else e.queue_id), e.line
    e = _one(XFS_SENT)
    assert (e.kind, e.queue_id, e.status, e.address) == (P.DELIVERY, "5A58E400000088", "sent", "alice@lab.test")


def test_long_queue_ids_from_the_lab_including_a_z_in_the_time_part():
    evs = _events("lab-xfs-postfix.log")
    long_ids = {e.queue_id for e in evs if "z" in e.queue_id}
    assert len(long_ids) >= 10
    # Postfix's time part is base 52 (the "z" included); only the inode part (base 51) has none
    assert any("z" in q[:10] for q in long_ids)
    z_time = next(e for e in evs if e.kind == P.DELIVERY and "z" in e.queue_id[:10])
    assert z_time.status and is_queue_id(z_time.queue_id)


# Hand-made lines of the real format (the lab cannot make inode numbers of 2**40 and more): the
# short IDs of XFS capture lines with longer inode numbers, up to the 16 hex digits of a 64-bit inode.
HAND_SHORT = ["5A58E" + "4" + "0" * (n - 8) + "88" for n in range(13, 22)]      # 13..21 characters
HAND_LONG = ["4jZTjy5Dzyz1", "4jZTjy4sdZzxmQmbt", "4YQ3Xz5ZbBz1n2", "4jZTjy5DzyzxmQmbxbcdfgh",
             "4jZTjyy5Dzyz1", "4jZTjyy5DzyzxmQmbxbcdfgh"]                         # 12..24 characters
NOT_QUEUE_IDS = ["", "ABCDE", "5A58E" + "0" * 17, "5a58e400000088", "5A58E40000008G", "NOQUEUE", "warning",
                 "4jZTjy5Dzy", "4jZTjy5Dzyz", "4jZTjy5Dz1", "4jZTj5Dzyz1", "4jZTjy5Dzyzxm1z", "4jaTjy5Dzyz1",
                 "4jZTjy5Dzyz" + "1" * 13, "4jZTjyyy5Dzyz1", "ABCDEF0123456 ", " ABCDEF0123456"]


def test_queue_id_lengths_and_formats_one_validator_for_logs_and_queue():
    from mailtop.mta import actions

    assert is_queue_id is actions.is_queue_id      # one validator (mailtop.queueid), not two that drift
    assert [len(q) for q in HAND_SHORT] == list(range(13, 22))
    for q in HAND_SHORT + HAND_LONG:
        assert is_queue_id(q), q
    for q in NOT_QUEUE_IDS:
        assert not is_queue_id(q), q


def test_every_queue_id_format_is_read_from_a_delivery_line():
    for q in HAND_SHORT + HAND_LONG:
        e = _one(XFS_SENT.replace("5A58E400000088", q))
        assert (e.kind, e.queue_id, e.status) == (P.DELIVERY, q, "sent"), q
        n = _one(f"Nov 25 19:08:47 mail postfix-lab/bounce[3324]: {q}: sender non-delivery notification: {q}")
        assert (n.kind, n.queue_id, n.linked_queue_id) == (P.NOTIFY, q, q)
    for q in NOT_QUEUE_IDS:
        if q and q.strip() == q and q != "warning":
            e = _one(XFS_SENT.replace("5A58E400000088", q))
            assert e.kind == P.INFO and e.queue_id == "", q


def test_trace_follows_a_14_character_and_a_long_queue_id_from_the_xfs_lab():
    from mailtop.logs.trace import trace

    lines = (DATA / "lab-xfs-postfix.log").read_text().splitlines()
    sent = [e for e in _events("lab-xfs-postfix.log") if e.kind == P.DELIVERY and e.status == "sent"]
    for qid in (next(e.queue_id for e in sent if len(e.queue_id) == 14),
                next(e.queue_id for e in sent if "z" in e.queue_id)):
        r = trace(qid, lines)
        assert r.query_kind == "queue_id" and r.queue_ids[0] == qid, qid
        assert any(f"{qid}: removed" in ln for ln in r.lines) and any(f"{qid}: client=" in ln for ln in r.lines)
        assert [m.queue_id for m in r.messages][:1] == [qid] and r.messages[0].removed

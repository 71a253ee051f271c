"""The report's fast path (mailtop.logs.fast) gives exactly the report of the full parser.

The reference is ``command.summarize_events``: every line through ``LineParser.parse`` and
``LogStats.add`` with the dashboard's ``FlowTracker``. Compared: the whole ``report_data`` (totals,
extras, windows, delays, reasons, top lists, line counts), on the committed captures, on generated
logs, on lines built to hit every branch, and on mutated real lines (hypothesis).
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from logfast import CAPTURES, DATA, MTIME
from logfast import gen_log as _gen
from logfast import same_report as _same
from logfast import write_log as _write

from mailtop.logs import fast
from mailtop.logs.command import summarize, summarize_events
from mailtop.logs.parse import LineParser


def test_identical_on_every_committed_capture(tmp_path: Path):
    for src in CAPTURES:
        p = _write(tmp_path, src.name, src.read_bytes())
        for names in ((), ("postfix-lab",), ("postfix",)):
            data = _same([p], names)
            assert data["lines"] > 0
    # the captures one after the other: state (flows, year) carries across files
    paths = [_write(tmp_path, f"{i}-{src.name}", src.read_bytes()) for i, src in enumerate(CAPTURES)]
    data = _same(paths)
    assert data["totals"]["received"] > 100 and data["totals"]["deferrals"] > 100


def test_identical_on_generated_logs_and_most_lines_take_the_fast_path(tmp_path: Path):
    text = _gen(30_000, seed=5)
    p = _write(tmp_path, "gen.log", text)
    for names in ((), ("postfix-lab",), ("other",)):
        _same([p], names)
    data = _same([p])
    t = data["totals"]
    assert t["delivered"] > 500 and t["deferred"] > 50 and t["bounced"] > 20 and t["rejected"] > 50
    assert data["extra"]["logins"] > 50 and data["delays"]["all"]["count"] > 500
    # the fast pattern reads nearly every generated line itself
    lines = text.splitlines()
    taken = sum(1 for ln in lines if fast._LINE.match(ln))
    assert taken / len(lines) > 0.97
    # gzip and two instances interleaved (one skipped with --syslog-name)
    gz = _write(tmp_path, "gen.log.gz", gzip.compress(text.encode()))
    _same([gz], ("postfix-lab",))
    other = _gen(30_000, seed=6, name="postfix-out").splitlines(True)
    mixed = "".join(a + b for a, b in zip(text.splitlines(True), other, strict=False))
    m = _write(tmp_path, "mixed.log", mixed)
    assert _same([m], ("postfix-out",))["skipped_other_instances"] > 10_000
    _same([m])


def test_identical_with_evictions(tmp_path: Path):
    """max_flows small: the oldest flows are evicted in the same order on both paths."""
    p = _write(tmp_path, "gen.log", _gen(8_000, seed=9))
    for max_flows in (0, 1, 3, 40):
        _same([p], max_flows=max_flows)


# Lines made to take every branch of the fast pattern and each way out of it to the full parser.
EDGE = """\
Nov 24 10:00:00 mail postfix/smtpd[1]: 4ABCDE1234: client=host.example.com[192.0.2.1], sasl_method=PLAIN, sasl_username=u
Nov 24 10:00:00 mail postfix/smtpd[1]: 4ABCDE1234: client=unknown[192.0.2.1]
Nov 24 10:00:00 mail postfix/qmgr[2]: 4ABCDE1234: from=<A@Example.COM>, size=0, nrcpt=1 (queue active)
Nov 24 10:00:00 mail postfix/qmgr[2]: 4ABCDE1234: from=<A@Example.COM>, size=512, nrcpt=1 (queue active)
Nov 24 10:00:00 mail postfix/qmgr[2]: 4ABCDE1234: from=<A@Example.COM>, size=700, nrcpt=1 (queue active)
Nov 24 10:00:01 mail postfix/smtp[3]: 4ABCDE1234: to=<x@Remote.Example>, relay=none, delay=nan, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to x: refused)
Nov 24 10:00:01 mail postfix/smtp[3]: 4ABCDE1234: to=<x@Remote.Example>, relay=none, delay=inf, dsn=4.4.1, status=deferred (again)
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<x@Remote.Example>, orig_to=<y@Example.com>, relay=mx[192.0.2.9]:25, conn_use=2, delay=1e400, delays=1/0/0/0, dsn=2.0.0, status=sent (250 ok)
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<x@Remote.Example>, relay=mx[192.0.2.9]:25, delay=1_5, dsn=2.0.0, status=sent (250 ok)
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<x@Remote.Example>, relay=mx[192.0.2.9]:25, delay=abc, dsn=2.0.0, status=sent (250 ok)
Nov 24 10:00:02 mail postfix/local[3]: 4ABCDE1234: to=<x@lab.test>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (forwarded as 5BCDEF1234)
Nov 24 10:00:02 mail postfix/local[3]: 4ABCDE1234: to=<x@lab.test>, relay=local, delay=0.1, dsn=2.0.0, status=sent   forwarded as<SP>
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<b@x>, relay=r, delay=5, dsn=5.0.0, status=bounced (host said: 550 <b@x> no)
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<b@x>, relay=r, delay=5, dsn=5.0.0, status=undeliverable (odd)
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<b@x>, relay=r, delay=5, dsn=5.0.0, status=sent
Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<b@x> relay=r
Nov 24 10:00:03 mail postfix/bounce[4]: 4ABCDE1234: sender non-delivery notification: 5BCDEF1234
Nov 24 10:00:03 mail postfix/cleanup[4]: 4ABCDE1234: message-id=<a@b>
Nov 24 10:00:03 mail postfix/qmgr[2]: 4ABCDE1234: removed
Nov 24 10:00:03 mail postfix/qmgr[2]: 4ABCDE1234: removed extra
Nov 24 10:00:04 mail postfix/qmgr[2]: 4ABCDE1234: from=<a@b>, size=10, nrcpt=1 (queue active)
Nov 24 10:00:04 mail postfix/smtp[3]: 4ABCDE1234: to=<x@y>, relay=none, delay=3, dsn=4.4.1, status=deferred (later)
Nov 24 10:00:04 mail postfix/qmgr[2]: 4ABCDE1234: from=<a@b>, status=expired, returned to sender
Nov 24 10:00:04 mail postfix/qmgr[2]: 4ABCDE1234: from=<we>ird>, size=10, nrcpt=1 (queue active)
Nov 24 10:00:04 mail postfix/qmgr[2]: 4ABCDE1234: from=<>, size=123456789012345678901234567890, nrcpt=1
Nov 24 10:00:05 mail postfix/pickup[5]: 6CDEF12345: uid=0 from=<root>
Nov 24 10:00:05 mail postfix/qmgr[2]: 6CDEF12345: from=<root>, size=300, nrcpt=1 (queue active)
Nov 24 10:00:05 mail postfix/qmgr[2]: 6CDEF12345: from=<>, size=300, nrcpt=1 (queue active)
Nov 24 10:00:05 mail postfix/qmqpd[5]: 6CDEF12345: client=other[192.0.2.3]
Nov 24 10:00:05 mail postfix/postscreen[5]: 7DEF123456: client=ps.example.org[192.0.2.4]
Nov 24 10:00:05 mail postfix/qmgr[2]: 7DEF123456: from=<Z@EXAMPLE.org>, size=5, nrcpt=1 (queue active)
Nov 24 10:00:06 mail postfix-out/smtpd[6]: 4ABCDE1234: client=x[192.0.2.5]
Nov 24 10:00:06 mail postfix-out/qmgr[6]: 4ABCDE1234: from=<s@o>, size=99, nrcpt=1 (queue active)
Nov 24 10:00:06 mail postfix/submission/smtpd[7]: 3Kq8Yk0xYbz4wDk: client=sub[192.0.2.6]
Nov 24 10:00:06 mail postfix/qmgr[2]: 3Kq8Yk0xYbz4wDk: from=<l@long.example>, size=77, nrcpt=1
Nov 24 10:00:06 mail postfix/qmgr[2]: 3Kq8Yk0xYbz4wDkAAAAAAAAAA: from=<l@long.example>, size=77, nrcpt=1
Nov 24 10:00:06 mail postfix/qmgr[2]: ABCD: from=<short@x>, size=77, nrcpt=1
Nov 24 10:00:06 mail postfix/qmgr[2]: ABCDEF0123456: from=<long@x>, size=77, nrcpt=1
Nov 24 10:00:07 mail postfix/smtpd[8]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <r@x>: Relay access denied; from=<s@x> to=<r@x> proto=ESMTP helo=<h>
Nov 24 10:00:07 mail postfix/smtpd[8]: NOQUEUE: reject: CONNECT from odd
Nov 24 10:00:07 mail postfix/cleanup[8]: NOQUEUE: reject: header Subject: spam from x; from=<a@b> to=<c@d>
Nov 24 10:00:07 mail postfix/smtpd[8]: NOQUEUE: reject_warning: RCPT from unknown[192.0.2.7]: 450 maybe; from=<s@x> to=<r@x>
Nov 24 10:00:07 mail postfix/smtpd[8]: NOQUEUE: milter-reject: END-OF-MESSAGE from x[1.2.3.4]: 5.7.1 no
Nov 24 10:00:07 mail postfix/smtpd[8]: warning: unknown[192.0.2.8]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Nov 24 10:00:07 mail postfix/smtpd[8]: warning: hostname x does not resolve
Nov 24 10:00:07 mail postfix/smtpd[8]: fatal: no
Nov 24 10:00:07 mail postfix/smtpd[8]: panic: no
Nov 24 10:00:07 mail postfix/smtpd[8]: error: no
Nov 24 10:00:07 mail postfix/smtpd[8]: hold: odd
Nov 24 10:00:07 mail postfix/smtpd[8]: discard: odd
Nov 24 10:00:07 mail postfix/smtpd[8]: disconnect from unknown[192.0.2.8] ehlo=1 commands=1
Nov 24 10:00:07 mail postfix/smtpd[8]: connect from unknown[192.0.2.8]
Nov 24 10:00:07 mail postfix/smtpd[8]: lost connection after AUTH from unknown[192.0.2.8]
Nov 24 10:00:07 mail postfix/anvil[9]: statistics: max connection rate 1/60s for (smtp:192.0.2.8) at Nov 24 10:00:07
Nov 24 10:00:07 mail postfix/smtpd[99999999999999999999999]: connect from x
Nov 24 10:00:07 mail postfix/smtpd[]: connect from x
Nov 24 10:00:07 mail postfix/smtpd: connect from x
Nov 24 10:00:07 mail sshd[10]: Accepted publickey for root
Nov 24 10:00:07 mail sshd[10]: 4ABCDE1234: client=fake[1.2.3.4]
Nov 24 10:00:07 mail dovecot[11]: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.10, lip=127.0.0.1
Nov 24 10:00:08 mail dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.10, lip=127.0.0.1, mpid=5, secured
Nov 24 10:00:08 mail dovecot: imap-login: Info: Login: user=<alice>, method=PLAIN, rip=192.0.2.11, lip=127.0.0.1
Nov 24 10:00:08 mail dovecot: pop3-login: Login: user=<alice>, rip=<192.0.2.12>, lip=127.0.0.1
Nov 24 10:00:08 mail dovecot: pop3-login: Login: user=<alice>, method=A B, rip=192.0.2.13, lip=127.0.0.1
Nov 24 10:00:08 mail dovecot: pop3-login: Login: user=<alice>, x-y=1, rip=192.0.2.14
Nov 24 10:00:08 mail dovecot: pop3-login: Login: user=<alice>, xrip=1, rip=192.0.2.15
Nov 24 10:00:08 mail dovecot: pop3-login: Login: user=<alice>, method=PL rip=9.9.9.9, rip=192.0.2.16
Nov 24 10:00:08 mail dovecot: imap: Login: user=<alice>, rip=192.0.2.17
Nov 24 10:00:08 mail dovecot: imap-login: Disconnected (auth failed, 3 attempts in 6 secs): user=<bob>, method=PLAIN, rip=192.0.2.18, lip=127.0.0.1
Nov 24 10:00:08 mail dovecot: auth: passwd-file(bob,192.0.2.18): Password mismatch
Nov 24 10:00:08 mail dovecot: lmtp(carol)<77><abc>: msgid=<q@x>: saved mail to INBOX
Nov 24 10:00:08 mail dovecot: lmtp(carol: x)<77>: odd
Nov 24 10:00:08 mail dovecot: lmtp<77777777777777777777777>: odd
Nov 24 10:00:08 mail dovecot: Info: nothing
Nov 24 10:00:08 imap-login: Info: Login: user=<alice>, method=PLAIN, rip=192.0.2.19, lip=127.0.0.1
Nov 24 10:00:08.123456 mail postfix/smtpd[12]: 8EF1234567: client=frac[192.0.2.20]
2025-11-24T10:00:09.123456+01:00 mail postfix/qmgr[2]: 8EF1234567: from=<f@r.ac>, size=1, nrcpt=1
Nov 24 10:00:09 mail:x postfix/smtpd[12]: connect from x
Nov 24 10:00:09  postfix/smtpd[12]: connect from x
Nov 24 25:00:09 mail postfix/smtpd[12]: connect from x
Xyz 24 10:00:09 mail postfix/smtpd[12]: connect from x
Nov 24 10:00:61 mail postfix/smtpd[12]: connect from x
Nov 24 10:00:09 mail postfix/smtpd[12]:<SP>
Nov 24 10:00:09 mail postfix/smtpd[12]:
Nov 24 10:00:09 mail postfix/smtpd[12]: connect from crlf\r
Nov 24 10:00:09 mail postfix/smtp[3]: 4ABCDE1234: to=<cr@x>, relay=r, delay=2, dsn=2.0.0, status=sent (ok)\r
Dec 31 23:59:59 mail postfix/smtpd[13]: connect from x
Jan  1 00:00:01 mail postfix/smtpd[13]: connect from x
Jan  1 00:00:02 mail postfix/qmgr[2]: 9F12345678: from=<ny@x>, size=3, nrcpt=1
Jun  1 00:00:02 mail postfix/smtpd[13]: connect from x
Nov 24 10:00:10 mail postfix/smtpd[14]: \x1b[31m red
Nov 24 10:00:10 mail postfix/smtpd[14]: café
garbage \xff\xfe
"""


def test_identical_on_lines_built_for_every_branch(tmp_path: Path):
    text = EDGE.replace("\\r", "\r").replace("\\x1b", "\x1b").replace("<SP>", " ")
    raw = text.encode().replace(b"\\xff\\xfe", b"\xff\xfe")
    long = b"Nov 24 10:00:11 mail postfix/smtpd[1]: connect from " + b"x" * 40_000 + b"\n"
    # digit runs int() refuses (over 4300 digits): the parser says UNPARSED, so must the fast path
    n = "9" * 5000
    raw += (f"Nov 24 10:00:12 mail postfix/qmgr[2]: 4ABCDE1234: from=<a@b>, size={n}, nrcpt=1\n"
            f"Nov 24 10:00:12 mail postfix/smtpd[{n}]: connect from x\n"
            f"Nov 24 10:00:12 mail dovecot: lmtp<{n}>: x\n"
            f"Nov 24 10:00:12 mail dovecot: lmtp({n}): x\n").encode()
    p = _write(tmp_path, "edge.log", raw)
    for names in ((), ("postfix",), ("postfix-out",)):
        _same([p], names)
    # the same lines with a long line / no \r in the chunk (other batch flags), and without a last newline
    _same([_write(tmp_path, "edge2.log", long + raw.replace(b"\r", b""))])
    _same([_write(tmp_path, "edge3.log", raw.replace(b"\r", b"").rstrip(b"\n"))])
    data = _same([_write(tmp_path, "edge4.log", raw.replace(b"\r", b""))])
    assert data["unparsed"] >= 8 and data["totals"]["rejected"] >= 2 and data["extra"]["logins"] >= 5


_REAL = [ln for src in CAPTURES for ln in src.read_text(errors="replace").splitlines()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_REAL) - 1), st.integers(0, 400), st.sampled_from(
    ["", " ", ":", ": ", "<", ">", ",", "=", "x", "0", "z", "\r", "[", "]", "(", ")", "é", "NOQUEUE: ", "removed"]),
    st.booleans()), min_size=1, max_size=60))
def test_identical_on_mutated_real_lines(tmp_path_factory, edits):
    """Real lines, each cut or with a character put in somewhere: still the same report."""
    out = []
    for idx, pos, ins, cut in edits:
        line = _REAL[idx]
        out.append(line[:pos] if cut else line[:pos] + ins + line[pos:])
    p = _write(tmp_path_factory.mktemp("mut"), "m.log", "\n".join(out) + "\n")
    _same([p])


def test_random_shuffles_of_a_generated_log(tmp_path: Path):
    """Lines out of order (merged files, clock steps): windows, flows and first/last still agree."""
    lines = _gen(6_000, seed=2).splitlines(True)
    rng = random.Random(4)
    for i in range(0, len(lines) - 50, 50):
        block = lines[i:i + 50]
        rng.shuffle(block)
        lines[i:i + 50] = block
    _same([_write(tmp_path, "shuffled.log", "".join(lines))])


# Queue IDs of every real length: short IDs of 13-21 characters (file systems with large inode numbers;
# 14 is what the XFS lab capture lab-xfs-postfix.log has, the others are hand-made from it) and long IDs
# (enable_long_queue_ids) of 12-24 characters, "z" in the time part too; then IDs that are not.
QIDS = ["5A58E" + "4" + "0" * (n - 8) + "88" for n in range(13, 22)] + [
    "4jZTjy5Dzyz1", "4jZTjy4sdZzxmQmbt", "4YQ3Xz5ZbBz1n2", "4jZTjy5DzyzxmQmbxbcdfgh", "4jZTjyy5DzyzxmQmbxbcdfgh"]
NOT_QIDS = ["5A58E" + "0" * 17, "ABCDE", "4jZTjy5Dzyz" + "1" * 13, "4jaTjy5Dzyz1", "4jZTjy5Dzyzxm1z"]


def _message(qid: str, i: int) -> str:
    s = f"Nov 24 11:{i:02d}"
    return (f"{s}:00 mail postfix/smtpd[1]: {qid}: client=c{i}.example[192.0.2.{i}]\n"
            f"{s}:01 mail postfix/cleanup[2]: {qid}: message-id=<{i}@c.example>\n"
            f"{s}:02 mail postfix/qmgr[3]: {qid}: from=<s{i}@c.example>, size={1000 + i}, nrcpt=2 (queue active)\n"
            f"{s}:03 mail postfix/smtp[4]: {qid}: to=<r{i}@far.example>, relay=none, delay=1, "
            f"delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to far.example[192.0.2.99]:25: refused)\n"
            f"{s}:04 mail postfix/lmtp[5]: {qid}: to=<alice@lab.test>, relay=127.0.0.1[127.0.0.1]:2424, "
            f"delay=0.{i:02d}, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Saved)\n"
            f"{s}:05 mail postfix/smtp[4]: {qid}: to=<r{i}@far.example>, relay=none, delay=9, dsn=5.4.4, "
            f"status=bounced (Host not found)\n"
            f"{s}:06 mail postfix/bounce[6]: {qid}: sender non-delivery notification: {qid[::-1]}\n"
            f"{s}:07 mail postfix/qmgr[3]: {qid}: removed\n")


def test_identical_for_queue_ids_of_every_length_and_the_fast_pattern_reads_them(tmp_path: Path):
    text = "".join(_message(q, i) for i, q in enumerate(QIDS + NOT_QIDS))
    data = _same([_write(tmp_path, "qids.log", text)])
    t = data["totals"]
    n = len(QIDS)
    assert (t["received"], t["delivered"], t["deferred"], t["bounced"]) == (n, n, n, n)
    assert t["bytes_received"] == sum(1000 + i for i in range(n))
    assert data["delays"]["all"]["count"] == 2 * n
    for q in QIDS:                        # read by the fast pattern itself, not only by the fallback
        for line in _message(q, 1).splitlines():
            m = fast._LINE.match(line)
            assert m is not None and m["qid"] == q, line
    for q in NOT_QIDS:
        for line in _message(q, 1).splitlines():
            m = fast._LINE.match(line)
            assert m is None or m["qid"] is None, line


def test_fast_stats_keep_no_message_history(tmp_path: Path):
    p = _write(tmp_path, "lab.log", (DATA / "lab-postfix.log").read_bytes())
    assert summarize([p]).recent_flows() == []
    assert summarize_events([p]).recent_flows()      # the dashboard's path keeps them


def test_parser_delay_not_finite_is_no_delay():
    p = LineParser(MTIME)
    ev = p.parse("Nov 24 10:00:02 mail postfix/smtp[3]: 4ABCDE1234: to=<x@y>, relay=r, delay=nan, dsn=2.0.0, "
                 "status=sent (ok)")
    assert ev.kind == "delivery" and ev.delay is None
    assert p.parse(ev.line.replace("nan", "-inf")).delay is None
    assert p.parse(ev.line.replace("nan", "0.25")).delay == 0.25

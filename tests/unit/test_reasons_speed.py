"""normalize_reason (the fast one, with its guards) gives exactly what the plain version gave.

``reference_normalize_reason`` below is a frozen copy of ``mailtop/reasons.py`` as it was before the speed
work (commit 12b7cc5: every rule one ``re.sub`` pass, in order); only the function's name is changed. The fast
version must equal it on every ``str``: on every reason of the committed captures (tests/data), on the
reasons of generated logs, on hand-made texts where each rule just matches (or just fails) next to what its
guard looks for, and on arbitrary texts built from the tokens the rules care about (hypothesis).
The figures: tests/bench/bench_reasons.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logfast import CAPTURES, gen_log

from mailtop.reasons import normalize_reason

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------------------
# Frozen reference: mailtop/reasons.py at 12b7cc5, from "_WILD = " to the end (normalize_reason renamed).
# ---------------------------------------------------------------------------------------------------------

_WILD = "*"

# What must survive the later rules is swapped for one character of Unicode's supplementary
# private-use plane (never a word character, never seen in mail logs) and put back at the end.
_PROTECT_BASE = 0xF0000
_PROTECT_MAX = 0xFFFD  # characters available in the plane
_PROTECTED = re.compile("[\U000F0000-\U000FFFFD]")

# SMTP reply code with an enhanced status code: "451 4.7.1", "421-4.7.0".
_SMTP_CODE_ENH = re.compile(r"(?<![\w.])([2-5]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})(?![\w.])")
# A reply code alone, where a reply starts: beginning of the text or after "said:", "...me:", a colon.
_SMTP_CODE_ALONE = re.compile(r"(^|:\s+|\()([2-5]\d\d)(?=[ -]|$)")
# An enhanced status code anywhere (dsn=4.4.1 in a log line, "5.2.2" after a code).
_ENH_CODE = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?![\w.])")

_REJECT_TAIL = re.compile(r";\s*from=<[^>]*>.*$", re.S)
# The block list that listed a client names the cause: keep it ("blocked using zen.spamhaus.org").
_DNSBL = re.compile(r"(blocked using )([\w.\-]+\w)")
_QUOTED_USER = re.compile(r'(unknown user: )"[^"]*"')
_URL = re.compile(r"\b((?:https?|ftp)://[^/\s?#>)\]]+)[^\s>)\]]*", re.I)
# host[addr]:port and [addr]:port (the host part may be "unknown" or a name)
_HOST_BRACKET = re.compile(r"[\w.\-]*\[[^\]\s]*\](?::\d+)?")
_ANGLE_ADDR = re.compile(r"<[^<>\s]+>")
_BARE_ADDR = re.compile(r"[\w.!#$%&'*+/=?^`{|}~\-]+@[\w.\-]+\w")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_NAME_EQ = re.compile(r"\bname=\S+")
_QUEUED_AS = re.compile(r"\b(queued as|id=|queue ID:?)\s*\S+", re.I)
# A host name: at least two labels, the last alphabetic (2+ letters), and made of name characters.
_FQDN = re.compile(r"(?<![\w.\-/])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})\.)+[A-Za-z]{2,63}\.?(?![\w\-])")
# Tokens with letters and digits mixed (queue IDs, provider trace IDs); 6 characters or more.
_MIXED = re.compile(r"(?<![\w])(?=[\w.\-]*\d)(?=[\w.\-]*[A-Za-z])[\w][\w.\-]{5,}(?![\w])")
_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,:]\d+)*(?![\w])")
_SPACES = re.compile(r"\s+")
_STARS = re.compile(r"\*(?:[ ,]*\*)+")


def _protect(text: str) -> tuple[str, list[str]]:
    kept: list[str] = []

    def keep(value: str) -> str:
        if len(kept) >= _PROTECT_MAX:
            return value
        kept.append(value)
        return chr(_PROTECT_BASE + len(kept) - 1)

    text = _SMTP_CODE_ENH.sub(lambda m: keep(f"{m.group(1)} {m.group(2)}"), text)
    text = _SMTP_CODE_ALONE.sub(lambda m: m.group(1) + keep(m.group(2)), text)
    text = _ENH_CODE.sub(lambda m: keep(m.group(1)), text)
    text = _DNSBL.sub(lambda m: m.group(1) + keep(m.group(2)), text)
    text = _URL.sub(lambda m: keep(m.group(1) + ("/" + _WILD if len(m.group(0)) > len(m.group(1)) else "")), text)
    return text, kept




def reference_normalize_reason(text: str) -> str:
    """Return ``text`` with message-specific parts replaced by ``*`` (see the module docstring)."""
    if not text:
        return ""
    # Any private-use placeholder characters already in the input would confuse the restore step.
    text = _PROTECTED.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    text = _REJECT_TAIL.sub("", text)
    text, kept = _protect(text)
    text = _HOST_BRACKET.sub(_WILD, text)
    text = _ANGLE_ADDR.sub(lambda m: "<*>" if "@" in m.group(0) or "." in m.group(0) else m.group(0), text)
    text = _BARE_ADDR.sub(_WILD, text)
    text = _IPV4.sub(_WILD, text)
    text = _IPV6.sub(lambda m: _WILD if m.group(0).count(":") >= 2 and len(m.group(0)) > 2 else m.group(0), text)
    text = _QUOTED_USER.sub(r'\1"*"', text)
    text = _NAME_EQ.sub("name=" + _WILD, text)
    text = _QUEUED_AS.sub(lambda m: f"{m.group(1)} {_WILD}" if not m.group(1).endswith("=") else f"{m.group(1)}{_WILD}",
                          text)
    text = _FQDN.sub(_WILD, text)
    text = _MIXED.sub(_WILD, text)
    text = _NUMBER.sub(_WILD, text)
    text = _STARS.sub(_WILD, text)
    if kept:
        text = _PROTECTED.sub(lambda m: kept[ord(m.group(0)) - _PROTECT_BASE], text)
    return text.strip()


# ---------------------------------------------------------------------------------------------------------
# Reasons as mailtop meets them
# ---------------------------------------------------------------------------------------------------------

_STATUS_WORDS = ("status=deferred (", "status=bounced (", "status=expired (")
_REJECT_WORD = "NOQUEUE: reject: "
_ADDR_IN_REASON = re.compile(r"<[^<>\s]*@[^<>\s]*>")  # what LogStats._norm replaces by <*> before the call
# A reject's parts as mailtop.logs.parse reads them (its _REJECT_SMTPD): LogStats gets the reason group.
_REJECT_SMTPD = re.compile(
    r"(?P<stage>\S+) from (?P<client>\S+?): (?P<reason>.*?)(?:; from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?"
    r"(?: proto=(?P<proto>\S+))?(?: helo=<(?P<helo>[^>]*)>)?)?\Z",
    re.S,
)


def reasons_of_log(text: str) -> set[str]:
    """The reasons of a log as mailtop normalises them: the text in ``status=deferred (...)`` (bounced,
    expired), the text after ``NOQUEUE: reject: `` whole and the reason part that LogStats gets; each
    as it is and with ``<...@...>`` already ``<*>`` (LogStats._norm's cache key)."""
    out: set[str] = set()
    for line in text.splitlines():
        found: list[str] = []
        for word in _STATUS_WORDS:
            i = line.find(word)
            if i >= 0:
                reason = line[i + len(word):]
                found.append(reason[:-1] if reason.endswith(")") else reason)
        i = line.find(_REJECT_WORD)
        if i >= 0:
            reason = line[i + len(_REJECT_WORD):]
            found.append(reason)
            m = _REJECT_SMTPD.match(reason)
            if m:
                found.append(m.group("reason"))
        for reason in found:
            out.add(reason)
            out.add(_ADDR_IN_REASON.sub("<*>", reason))
    return out


def captured_reasons() -> set[str]:
    """Every reason in the committed captures: the logs (tests/data/logs/*.log, the journal's MESSAGE
    fields) and the queue (``postqueue -j`` delay_reason, the ``postqueue -p`` reason lines)."""
    out: set[str] = set()
    for path in CAPTURES:
        out |= reasons_of_log(path.read_text(encoding="utf-8", errors="surrogateescape"))
    journal = REPO / "tests" / "data" / "logs" / "journal.json"
    messages = [json.loads(line).get("MESSAGE", "") for line in journal.read_text().splitlines() if line.strip()]
    out |= reasons_of_log("\n".join(m for m in messages if isinstance(m, str)))
    queue = REPO / "tests" / "data" / "queue"
    for line in (queue / "postqueue-j.jsonl").read_text().splitlines():
        for rcpt in json.loads(line).get("recipients", []):
            if rcpt.get("delay_reason"):
                out.add(rcpt["delay_reason"])
    for line in (queue / "postqueue-p.txt").read_text().splitlines():
        s = line.strip()
        if s.startswith("(") and s.endswith(")"):
            out.add(s[1:-1])
    return out


def test_captured_reasons_equal_reference() -> None:
    reasons = sorted(captured_reasons())
    assert len(reasons) >= 20  # the captures hold deferrals, bounces, rejects and queue reasons
    for reason in reasons:
        assert normalize_reason(reason) == reference_normalize_reason(reason), reason


@pytest.mark.parametrize("seed", [1, 7])
def test_generated_log_reasons_equal_reference(seed: int) -> None:
    reasons = sorted(reasons_of_log(gen_log(30_000, seed)))
    assert len(reasons) >= 500  # MX hosts and addresses vary: many distinct reasons
    for reason in reasons:
        assert normalize_reason(reason) == reference_normalize_reason(reason), reason


# ---------------------------------------------------------------------------------------------------------
# Hand-made texts: each rule just matching, or just not, beside what its guard looks for
# ---------------------------------------------------------------------------------------------------------

EDGES = [
    # placeholders in the input (removed first), other non-ASCII text, Unicode whitespace and digits
    "a\U000F0000b 450 4.2.0", "\U000FFFFD x", "\U000F0001http://h/p \U000F0002", "\U000FFFFE 450 4.2.0",
    "\U000EFFFF x", "café 450 4.2.0 naïve@exämple.com", "a\u2028b\x85c\xa0d\u3000e", "\x1c a \x1f b\x1d\x1e",
    "a\u200bb", "  \t\n ", "x\r\n", "\n450 4.2.0\n", "٤٥٠ 4.2.0", "4٥٠ 4.2.0", "450 ٤.2.0", "4.٤.1", "٣٠٠ seconds",
    # the reject tail
    "554 5.7.1 <x@y.z>: Relay access denied; from=<a@b.c> to=<x@y.z> proto=ESMTP helo=<h>", "; from=<",
    ";from=<>x", "a ;  from=<a> b", "from=<a> b", "a; from=<b", "a;\tfrom=<b>\nc",
    # reply code and enhanced code (the first rule's '.' hint and the five characters before it)
    "450 4.2.0", "421-4.7.0 x", "x450 4.2.0", ".450 4.2.0", "_450 4.2.0", "450 4.2.0.1", "450 4.2.0x", "450 4.2.0-",
    "599 5.9.999", "250 2.0.0 Ok", "450 4.2.0 450 4.2.0", "450 4.2.0450 4.2.0", "450 4.2.0 451-4.7.1 5.2.2",
    "650 4.2.0", "450 3.2.0", "450 4.2.0000", "450  4.2.0", "450\t4.2.0", "(450 4.2.0)", "a:450 4.2.0",
    # reply code alone
    "450 try later", "(450 x", ": 450-x", ":  450 x", "said:450 x", "said: 450", "a450 x", "450", "(4500 x",
    "(450)", "x (550 y", "said: 650 x", "\U000F0000450 x", "550 denied", "250", "350-x", "250x", "5500 x",
    # enhanced code alone
    "dsn=4.4.1", "x4.4.1", "5.2.2", "5.2.2.", "(5.2.2)", "1.2.3 4.2.0", "4.2.0.1.2", "a 5.1.1, 4.2.0",
    # block lists
    "blocked using zen.spamhaus.org; x", "Blocked using x.y", "blocked  using x.y", "BLOCKED USING x.y",
    "blocked using ", "blocked using -x.y-", "blocked using \U000F0000",
    # URLs (the hint is the first "://"; the scheme may start five characters before it)
    "see http://x.y/z", "HTTPS://X.Y/?a", "ftp://h", "Ftp://h/p q", "xhttp://a/b", "httpſ://a/b c",
    "://x", "a://b", "http://", "http:// x", "https://a.b/c?d#e)f", "(http://a/b)", "<https://a/b>",
    "http://a/b?u=http://c/d", "ahttps://a/b http://c", "_http://a/b", "http://x:450-4.2.0",
    # host[address]:port
    "mx[1.2.3.4]:25", "[1.2.3.4]", "a[b c]", "a[]", "[1]:25x[2]", "[1]:25[2]", "[1]:25.[2]", "[1]:2-a[3]",
    "a.b-c_d[x]", "é[x]", "a![x]", "x [y][z]", "[[x]]", "a b[c]", "(a.b[c])", "a[b]c[d]", "[x]:", "[x]:٣",
    "m" * 70 + "[1.2.3.4]:25", "a!" + "b" * 70 + "[x]", "a " + "b" * 63 + "[x]", "a " + "b" * 64 + "[x]",
    "a " + "b" * 65 + "[x]", "a!bc[x] d!e[y]",
    # <...>
    "<a@b>", "<a.b>", "<ab>", "<>", "<a b@c>", "<<a@b>>", "<a@b><c>", "<a@b", "a@b>", "<*>", "<.>", "<@>",
    # bare addresses
    "a@b.c", "a@b.c+d@e.f", "@a.b@c.d", "a@b.", "a@.b", "x!#$%&'*+/=?^`{|}~-y@z.w", "a@b.c.x@y.z", " @a.b",
    "(@a(@a(@a", "a@b@c", "a@b-", "ä@b.c", "a.@b", "x @y.z w@v.u", "(a@b.c)", "a@b_c", "b" * 70 + "@x.y",
    "a(" + "b" * 70 + "@x.y",
    # IPv4, IPv6
    "1.2.3.4", "1.2.3.4:25", "1.2.3", "a1.2.3.4", "1.2.3.4.5", "1.2.3.4x", "1234.1.1.1", "1.2.3.4:",
    "1.2.3.4:25:30", "a 1.2.3.4:25:30 b",
    "2001:db8::1", "::", ":::", "::1", "fe80::1%eth0", "a:b:c", "x::y", "12345:1:2", "1:2", "a:1:", ":a:",
    ":abcde:", "said: 450: x",
    # quoted user, name=, queued as / id= / queue ID
    'unknown user: "bob"', 'unknown  user: "x"', 'Unknown user: "x"', 'unknown user: "', 'unknown user:"x"',
    "name=foo.bar type=MX", "NAME=foo", "xname=foo", "name=", "a name= b",
    "queued as ABC123", "QUEUED AS x", "id=abc", "ID=abc", "queue ID: 123", "Queue id abc", "ıd=abc", "İD=x",
    "queued aſ x", "Id=", "queued as", "queue", "xid=1", "q", "=", "queue ID:", "QUEUE ID:x", "id =x",
    # host names, mixed tokens, numbers
    "mx.example.com", "a.b", "a.bc", "x/a.bc", "a.bc-", "EXAMPLE.COM.", "-a.bc", "a..bc", "1.bc",
    "abc123", "ab12", "e9si123456ejx.170", "123456", "abcdef", "a1-b2-c3", "a_1_b_2", "é12345",
    "300 seconds", "1,000", "12:30:00", "x300", "3.14", "1.2,3:4",
    # stars
    "* *", "*,*", "* , *", "**", "<*> <*>", "*a*", "* x *", "[a] [b]", "[a],[b]", "a@b.c, d@e.f", "*",
    # many placeholders (more than the restore loop takes one at a time)
    "450 4.2.0 " * 12, ("see http://x/y 450 4.2.0 " * 5).strip(),
]


@pytest.mark.parametrize("text", EDGES)
def test_edge_equals_reference(text: str) -> None:
    assert normalize_reason(text) == reference_normalize_reason(text)


def test_whitespace_split_is_re_s() -> None:
    """The fast version's ' '.join(text.split()) is re's \\s+ -> ' ' and strip only because both use
    the same whitespace: every code point."""
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    assert set(re.findall(r"\s", everything)) == {c for c in everything if c.isspace()}


def test_only_q_folds_to_q() -> None:
    """The queued-as guard looks for '=', 'q' or 'Q': no other character matches 'q' with re.I."""
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    assert re.findall("q", everything, re.I) == ["Q", "q"]


# ---------------------------------------------------------------------------------------------------------
# Arbitrary texts from the tokens the rules care about
# ---------------------------------------------------------------------------------------------------------

VOCABULARY = [
    "<", ">", "@", "[", "]", ":", "::", ".", "*", ",", ";", "(", ")", "/", "?", "#", "-", "_", "!", "+", "=", '"',
    "0", "1", "2", "3", "4", "5", "7", "9", "25", "450", "4.2.0", "5.1.1", "421-4.7.0", "127.0.0.1", "2001:db8::",
    "٣", "a", "b", "e", "f", "x", "A", "E", "Q", "q", "ſ", "ı", "é", "mx.example.com", "ab12cd",
    " ", " ", " ", "  ", "\t", "\n", "\xa0", "\u2028",
    "name=", "queued as", "queue ID", "ID=", "id=", "http://", "https://", "FTP://", "://",
    "blocked using ", "unknown user: ", "from=<", "said: ", "\U000F0001", "\U000F0000", "\U000FFFFD",
]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCABULARY), max_size=40).map("".join))
def test_vocabulary_texts_equal_reference(text: str) -> None:
    assert normalize_reason(text) == reference_normalize_reason(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_text_equals_reference(text: str) -> None:
    assert normalize_reason(text) == reference_normalize_reason(text)

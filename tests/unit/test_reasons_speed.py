"""normalize_reason (the fast one, with its guards) gives exactly what the plain version gave.

``reference_normalize_reason`` (tests/helpers/reasons_ref.py) is a frozen copy of ``mailtop/reasons.py`` as it was before the speed
work (commit 12b7cc5: every rule one ``re.sub`` pass, in order); only the function's name is changed. The fast
version must equal it on every ``str``: on every reason of the committed captures (tests/data), on the
reasons of generated logs, on hand-made texts where each rule just matches (or just fails) next to what its
guard looks for, and on arbitrary texts built from the tokens the rules care about (hypothesis).
The figures: tests/bench/bench_reasons.py.
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logfast import gen_log
from reasons_ref import captured_reasons, reasons_of_log, reference_normalize_reason

from mailtop.reasons import normalize_reason


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

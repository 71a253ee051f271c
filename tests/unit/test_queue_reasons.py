"""normalize_reason on real reason strings.

Sources: the first group was captured from the lab (``postqueue -j`` ``delay_reason`` after mail to the dead
relay, the ``NOQUEUE: reject`` of a client bound to 127.0.0.2, the LMTP bounce for carol's full mailbox in
``<lab>/log/postfix.log``); the rest are reasons as Postfix 3.7 writes them for common remote answers
(greylisting, block lists, unknown users, provider rate limits), with their host names and addresses.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtop.reasons import normalize_reason

CASES = [
    # --- captured from the lab
    ("connect to 127.0.0.1[127.0.0.1]:2999: Connection refused", "connect to *: Connection refused"),
    (
        "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2999: Connection refused",
        "delivery temporarily suspended: connect to *: Connection refused",
    ),
    (
        "554 5.7.1 <x@example.com>: Relay access denied; from=<tester@client.example> to=<x@example.com> "
        "proto=ESMTP helo=<client.example>",
        "554 5.7.1 <*>: Relay access denied",
    ),
    (
        "host 127.0.0.1[127.0.0.1] said: 552 5.2.2 <carol@lab.test> Quota exceeded (mailbox for user is full) "
        "(in reply to end of DATA command)",
        "host * said: 552 5.2.2 <*> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)",
    ),
    # --- common remote answers
    (
        "host mx.example.com[203.0.113.5] said: 451 4.7.1 Greylisted for 300 seconds (in reply to RCPT TO command)",
        "host * said: 451 4.7.1 Greylisted for * seconds (in reply to RCPT TO command)",
    ),
    (
        "host mx.example.com[203.0.113.5] said: 450 4.2.0 <bob@example.com>: Recipient address rejected: "
        "Greylisted, see http://postgrey.schweikert.ch/help/example.com.html (in reply to RCPT TO command)",
        "host * said: 450 4.2.0 <*>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/* "
        "(in reply to RCPT TO command)",
    ),
    (
        "connect to mx.example.net[2001:db8::25]:25: Network is unreachable",
        "connect to *: Network is unreachable",
    ),
    (
        "Host or domain name not found. Name service error for name=nowhere.invalid type=MX: Host not found, try again",
        "Host or domain name not found. Name service error for name=* type=MX: Host not found, try again",
    ),
    (
        "host gmail-smtp-in.l.google.com[142.250.1.27] said: 421-4.7.0 [203.0.113.9      15] Our system has "
        "detected an unusual rate of unsolicited mail. https://support.google.com/mail/?p=UnsolicitedRateLimitError "
        "e9si123456ejx.170 - gsmtp (in reply to end of DATA command)",
        "host * said: 421 4.7.0 [*] Our system has detected an unusual rate of unsolicited mail. "
        "https://support.google.com/* * - gsmtp (in reply to end of DATA command)",
    ),
    (
        "host mx.example.com[203.0.113.5] refused to talk to me: 554 5.7.1 Service unavailable; Client host "
        "[198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7",
        "host * refused to talk to me: 554 5.7.1 Service unavailable; Client host * blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/*",
    ),
    (
        "lost connection with mx.example.com[203.0.113.5] while sending end of data -- message may be sent more "
        "than once",
        "lost connection with * while sending end of data -- message may be sent more than once",
    ),
    ("250 2.0.0 Ok: queued as 7F5A120CC05", "250 2.0.0 Ok: queued as *"),
    ("250 2.0.0 Ok: queued as 3Pc4Bn6kJnzJxnn", "250 2.0.0 Ok: queued as *"),
    ('unknown user: "bob"', 'unknown user: "*"'),
    (
        "message size 10485761 exceeds size limit 10240000 of server mx.example.com[198.51.100.1]",
        "message size * exceeds size limit * of server *",
    ),
    ("mail transport unavailable", "mail transport unavailable"),
    ("450 4.1.8 <root@client.example>: Sender address rejected: Domain not found",
     "450 4.1.8 <*>: Sender address rejected: Domain not found"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalize_real_reasons(raw: str, expected: str) -> None:
    assert normalize_reason(raw) == expected


def test_same_cause_different_hosts_group_together() -> None:
    a = normalize_reason("connect to mx1.a.example[192.0.2.1]:25: Connection timed out")
    b = normalize_reason("connect to mx2.b.example[2001:db8::7]:25: Connection timed out")
    assert a == b == "connect to *: Connection timed out"


def test_status_codes_are_kept_and_distinguish_groups() -> None:
    a = normalize_reason("host x[192.0.2.1] said: 450 4.7.1 try later")
    b = normalize_reason("host x[192.0.2.1] said: 451 4.7.1 try later")
    assert a != b
    assert "450 4.7.1" in a and "451 4.7.1" in b


def test_empty_and_whitespace() -> None:
    assert normalize_reason("") == ""
    assert normalize_reason("  connection   refused \n") == "connection refused"


@given(st.text())
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_reason(text)
    assert isinstance(once, str)
    assert normalize_reason(once) == once

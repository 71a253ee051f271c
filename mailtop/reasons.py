"""Normalise delivery reasons (defer, bounce, reject) so that equal causes group together.

``normalize_reason(text)`` turns a reason as Postfix writes it (``delay_reason`` of ``postqueue -j``,
``status=deferred (...)`` in the log, the text of a ``NOQUEUE: reject``) into a key that no longer
depends on which message, address, host or attempt it came from::

    connect to 127.0.0.1[127.0.0.1]:2999: Connection refused
        -> connect to *: Connection refused
    host mx.example.com[203.0.113.5] said: 451 4.7.1 Greylisted for 300 seconds (in reply to RCPT TO command)
        -> host * said: 451 4.7.1 Greylisted for * seconds (in reply to RCPT TO command)
    554 5.7.1 <x@example.com>: Relay access denied; from=<a@b.c> to=<x@example.com> proto=ESMTP helo=<h>
        -> 554 5.7.1 <*>: Relay access denied

What is replaced (each by ``*``, angle brackets kept around addresses):

* a host with its address in brackets, with the port when there is one: ``name[addr]:port``, ``[addr]``;
* e-mail addresses, ``<...@...>`` and bare ``local@domain``; the empty sender ``<>`` is kept;
* IPv4 and IPv6 addresses (with a port), ``name=...`` of DNS errors, bare host names with a dot
  (``mx1.example.com``), the path and query of URLs (the URL's host is kept: it names the DNSBL or
  the provider's help page, which is what groups);
* Postfix queue IDs (short hex and long ``enable_long_queue_ids`` IDs) and other tokens that mix
  letters and digits (``e9si1234ejx.170`` of a provider's trace ID);
* every other number (``Greylisted for 300 seconds`` -> ``Greylisted for * seconds``).

What is kept, on purpose:

* the SMTP reply code and the enhanced status code (``451 4.7.1``, ``550 5.1.1``): they say what kind of
  failure it is and are what an administrator searches for. A multi-line reply's ``421-4.7.0`` is written
  ``421 4.7.0`` so that it groups with the one-line form;
* every word, including a prefix such as ``delivery temporarily suspended:``, which says that Postfix
  stopped trying the destination (a different state from a single failed attempt);
* upper and lower case.

The per-message tail of a reject log line (``; from=<...> to=<...> proto=... helo=<...>``) is dropped.
Whitespace runs become one space. The function is pure, fast (precompiled patterns) and never raises
on any ``str``.
"""

from __future__ import annotations

import re

__all__ = ["normalize_reason"]

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




def normalize_reason(text: str) -> str:
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

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
Whitespace runs become one space. The function is pure, fast (a rule runs only when the text holds what
it needs: ~5 us for a typical reason, see "Speed" below) and never raises on any ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["normalize_reason"]

_WILD = "*"

# What must survive the later rules is swapped for one character of Unicode's supplementary
# private-use plane (never a word character, never seen in mail logs) and put back at the end.
_PROTECT_BASE = 0xF0000
_PROTECT_MAX = 0xFFFD  # characters available in the plane
_PROTECTED = re.compile("[\U000F0000-\U000FFFFD]")

# Speed. Each rule below runs only when the text holds what every match of it needs (a literal, or a
# "hint" pattern that starts with one character), so most texts skip most rules; each such guard is exact
# (a skipped rule is one that would have changed nothing), which tests/unit/test_reasons_speed.py checks
# against a frozen copy of the plain version (every rule a re.sub, in this order). The regular-expression
# engine finds a pattern that starts with one literal character fast; one that starts with a look-behind,
# a class or a run (``[\w.\-]*\[``) it tries at every position. Such patterns are found from a literal in
# them instead, and where the match starts is worked out from there (see each).

# SMTP reply code with an enhanced status code: "451 4.7.1", "421-4.7.0". The rule is
#     (?<![\w.])([2-5]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})(?![\w.])
# found from its first '.', the five characters before it checked by the look-behind (_keep_codes).
_SMTP_CODE_ENH_DOT = re.compile(r"\.(?<=(?<![\w.])[2-5]\d\d[ -][245]\.)\d{1,3}\.\d{1,3}(?![\w.])")
# A reply code alone, where a reply starts: beginning of the text or after "said:", "...me:", a colon.
_SMTP_CODE_ALONE = re.compile(r"(^|:\s+|\()([2-5]\d\d)(?=[ -]|$)")
_ALONE_HINT_COLON = re.compile(r":\s+[2-5]\d\d")
_ALONE_HINT_PAREN = re.compile(r"\([2-5]\d\d")
# An enhanced status code anywhere (dsn=4.4.1 in a log line, "5.2.2" after a code):
#     (?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?![\w.])   found from its first '.', as above.
_ENH_CODE_DOT = re.compile(r"\.(?<=(?<![\w.])[245]\.)\d{1,3}\.\d{1,3}(?![\w.])")

_REJECT_TAIL = re.compile(r";\s*from=<[^>]*>.*$", re.S)
# The block list that listed a client names the cause: keep it ("blocked using zen.spamhaus.org").
_DNSBL = re.compile(r"(blocked using )([\w.\-]+\w)")
_QUOTED_USER = re.compile(r'(unknown user: )"[^"]*"')
_URL = re.compile(r"\b((?:https?|ftp)://[^/\s?#>)\]]+)[^\s>)\]]*", re.I)
# host[addr]:port and [addr]:port (the host part may be "unknown" or a name):
#     [\w.\-]*\[[^\]\s]*\](?::\d+)?   found from its '[' (_sub_run_literal).
_HOST_CORE = re.compile(r"\[[^\]\s]*\](?::\d+)?")
_HOST_RUN = re.compile(r"[\w.\-]*")
_HOST_CHAR = re.compile(r"[\w.\-]")
# <...> with '@' or '.' in it becomes <*> (the rule is <[^<>\s]+>, kept as it is without either; as no two
# <...> without '<', '>' or a space inside can overlap, leaving those out changes no other match).
_ANGLE_ADDR = re.compile(r"<[^<>\s]*[@.][^<>\s]*>")
# A bare address:
#     [\w.!#$%&'*+/=?^`{|}~\-]+@[\w.\-]+\w   found from its '@' (_sub_run_literal).
_BARE_CORE = re.compile(r"@[\w.\-]+\w")
_BARE_RUN = re.compile(r"[\w.!#$%&'*+/=?^`{|}~\-]*")
_BARE_CHAR = re.compile(r"[\w.!#$%&'*+/=?^`{|}~\-]")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")  # two colons, at most four hex digits between
_NAME_EQ = re.compile(r"\bname=\S+")
_QUEUED_AS = re.compile(r"\b(queued as|id=|queue ID:?)\s*\S+", re.I)
# A host name: at least two labels, the last alphabetic (2+ letters), and made of name characters.
_FQDN = re.compile(r"(?<![\w.\-/])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})\.)+[A-Za-z]{2,63}\.?(?![\w\-])")
# Tokens with letters and digits mixed (queue IDs, provider trace IDs); 6 characters or more.
_MIXED = re.compile(r"(?<![\w])(?=[\w.\-]*\d)(?=[\w.\-]*[A-Za-z])[\w][\w.\-]{5,}(?![\w])")
_NUMBER = re.compile(r"(?<![\w])\d+(?:[.,:]\d+)*(?![\w])")
_DIGIT = re.compile(r"\d")
_STARS = re.compile(r"\*(?:[ ,]*\*)+")


def _keep_codes(text: str, dot_pattern: re.Pattern[str], back: int, keep: Callable[[str], str]) -> str:
    """Each match of a code rule -> ``keep(code)``; a match starts ``back`` characters before the '.'
    where ``dot_pattern`` matches (5: reply code and enhanced code, whose '-' becomes ' '; 1: enhanced code).

    The rule matches at s exactly when ``dot_pattern`` matches at s + back, with the same end, so
    the leftmost match from ``last`` is the leftmost ``dot_pattern`` match from ``last + back``.
    """
    m = dot_pattern.search(text)
    if m is None:
        return text
    parts: list[str] = []
    last = 0
    while m is not None:
        dot, end = m.span()
        start = dot - back
        parts.append(text[last:start])
        parts.append(keep(f"{text[start:start + 3]} {text[start + 4:end]}" if back == 5 else text[start:end]))
        last = end
        m = dot_pattern.search(text, end + back)
    parts.append(text[last:])
    return "".join(parts)


def _sub_from(text: str, pattern: re.Pattern[str], pos: int, repl: Callable[[re.Match[str]], str]) -> str:
    """``pattern.sub(repl, text)`` when no match starts before ``pos`` and ``pattern`` never matches an empty
    string: the same matches, found from ``pos`` (look-behinds and ``\b`` still see the text before it)."""
    parts: list[str] = []
    last = 0
    for m in pattern.finditer(text, pos):
        parts.append(text[last:m.start()])
        parts.append(repl(m))
        last = m.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _sub_run_literal(text: str, core: re.Pattern[str], run: re.Pattern[str], run_char: re.Pattern[str],
                     empty_run: bool) -> str:
    """``re.sub(RUN + CORE, "*", text)`` where RUN is a run of one character class (``run``: ``[...]*``,
    ``run_char``: ``[...]``; RUN is ``[...]*`` when ``empty_run``, else ``[...]+``) and CORE starts with a
    character that is not in that class.

    The engine's leftmost match, searching from the end ``last`` of the previous one: from any start,
    the run reaches (greedily, and backtracking cannot help: CORE's first character is not in the class)
    the first character outside the class. So a start matches exactly when that character begins a CORE
    match; the first such CORE (the leftmost from ``last``) gives the match, and it starts where the run
    in front of it starts (not before ``last``). When the run must not be empty and is, no match ends
    there and the search goes on.
    """
    m = core.search(text)
    if m is None:
        return text
    parts: list[str] = []
    last = 0
    while m is not None:
        p, e = m.span()
        # the next search goes on from this CORE's end, also when it is left out (empty run, '@...'):
        # it holds no '@' after its first character, so no CORE starts inside it; ``last`` stays.
        m = core.search(text, e)
        # The run in front of p. Mostly a host or address after a space (never in the class): the last
        # space of the 64 characters before p; else, or when something else outside the class is between
        # or the run may go on before them, one character at a time (each character is in one run only).
        lo = p - 64 if p - 64 > last else last
        j = text.rfind(" ", lo, p) + 1
        if j == 0 or run.fullmatch(text, j, p) is None:
            j = p
            while j > last and run_char.match(text, j - 1) is not None:
                j -= 1
        if j == p and not empty_run:
            continue
        parts.append(text[last:j])
        parts.append(_WILD)
        last = e
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _queued_as(m: re.Match[str]) -> str:
    word = m.group(1)
    return f"{word}{_WILD}" if word.endswith("=") else f"{word} {_WILD}"


def _ipv6(m: re.Match[str]) -> str:
    value = m.group(0)
    return _WILD if value.count(":") >= 2 and len(value) > 2 else value


def normalize_reason(text: str) -> str:
    """Return ``text`` with message-specific parts replaced by ``*`` (see the module docstring)."""
    if not text:
        return ""
    if not text.isascii():
        # Any private-use placeholder characters already in the input would confuse the restore step.
        text = _PROTECTED.sub("", text)
    # \s+ -> " ", then strip: str.split() and re's \s are the same Unicode whitespace (Py_UNICODE_ISSPACE).
    text = " ".join(text.split())
    if "from=<" in text:
        text = _REJECT_TAIL.sub("", text)

    # What must survive the later rules (reply codes, block lists, URL hosts) -> placeholders.
    kept: list[str] = []

    def keep(value: str) -> str:
        if len(kept) >= _PROTECT_MAX:
            return value
        kept.append(value)
        return chr(_PROTECT_BASE + len(kept) - 1)

    text = _keep_codes(text, _SMTP_CODE_ENH_DOT, 5, keep)
    if ((text and text[0] in "2345") or _ALONE_HINT_COLON.search(text) is not None
            or _ALONE_HINT_PAREN.search(text) is not None):
        text = _SMTP_CODE_ALONE.sub(lambda m: m.group(1) + keep(m.group(2)), text)
    text = _keep_codes(text, _ENH_CODE_DOT, 1, keep)
    if "blocked using " in text:
        text = _DNSBL.sub(lambda m: m.group(1) + keep(m.group(2)), text)
    if (i := text.find("://")) >= 0:
        # no match starts before the scheme ("ftp", "http", "https") in front of the first "://"
        text = _sub_from(text, _URL, max(i - 5, 0),
                         lambda m: keep(m.group(1) + ("/" + _WILD if len(m.group(0)) > len(m.group(1)) else "")))

    if "[" in text:
        text = _sub_run_literal(text, _HOST_CORE, _HOST_RUN, _HOST_CHAR, True)
    if "<" in text and ("@" in text or "." in text):
        text = _ANGLE_ADDR.sub("<*>", text)
    if "@" in text:
        text = _sub_run_literal(text, _BARE_CORE, _BARE_RUN, _BARE_CHAR, False)
    if text.count(".") >= 3:
        text = _IPV4.sub(_WILD, text)
    if _IPV6_HINT.search(text) is not None:
        text = _IPV6.sub(_ipv6, text)
    if 'unknown user: "' in text:
        text = _QUOTED_USER.sub(r'\1"*"', text)
    if "name=" in text:
        text = _NAME_EQ.sub("name=" + _WILD, text)
    # re.I: "id=" needs '=', the other two words a 'q' or 'Q' (no other character folds to q).
    if "=" in text or "q" in text or "Q" in text:
        text = _QUEUED_AS.sub(_queued_as, text)
    if "." in text:
        text = _FQDN.sub(_WILD, text)
    if _DIGIT.search(text) is not None:
        text = _MIXED.sub(_WILD, text)
        if _DIGIT.search(text) is not None:
            text = _NUMBER.sub(_WILD, text)
    if text.count(_WILD) >= 2:
        text = _STARS.sub(_WILD, text)
    # Placeholder i -> kept[i]. The few of a real reason one at a time, in order: kept[i] may hold
    # placeholders before i (they stay, as the one pass of the re.sub below leaves them), never i or after.
    if len(kept) == 1:
        text = text.replace(chr(_PROTECT_BASE), kept[0])
    elif len(kept) <= 8:
        for i, value in enumerate(kept):
            text = text.replace(chr(_PROTECT_BASE + i), value)
    else:
        text = _PROTECTED.sub(lambda m: kept[ord(m.group(0)) - _PROTECT_BASE], text)
    return text.strip()

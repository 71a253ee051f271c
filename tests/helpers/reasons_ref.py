"""Shared by tests/unit/test_reasons_speed.py and tests/bench/bench_reasons.py: a frozen copy of
``normalize_reason`` as it was before the speed work (the reference the fast one must equal) and the
reasons as mailtop meets them (in logs and queue captures)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from logfast import CAPTURES, REPO

from mailtop.logs.parse import _REJECT_SMTPD  # how LogStats reads a reject's reason part
from mailtop.logs.stats import _ADDR_IN_REASON  # what LogStats._norm replaces by <*> before the call

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


def reasons_and_keys(lines: Iterable[str]) -> tuple[set[str], set[str]]:
    """The reasons of log lines as written (the text in ``status=deferred (...)``, bounced, expired; the
    text after ``NOQUEUE: reject: `` whole and the reason part LogStats gets) and the keys LogStats._norm
    calls normalize_reason with (the status texts and the reason parts, ``<...@...>`` already ``<*>``)."""
    raw: set[str] = set()
    called: set[str] = set()
    for line in lines:
        line = line.rstrip("\n")
        for word in _STATUS_WORDS:
            i = line.find(word)
            if i >= 0:
                reason = line[i + len(word):]
                reason = reason[:-1] if reason.endswith(")") else reason
                raw.add(reason)
                called.add(reason)
        i = line.find(_REJECT_WORD)
        if i >= 0:
            reason = line[i + len(_REJECT_WORD):]
            raw.add(reason)
            m = _REJECT_SMTPD.match(reason)
            if m:
                raw.add(m.group("reason"))
            called.add(m.group("reason") if m else reason)
    return raw, {_ADDR_IN_REASON.sub("<*>", r) for r in called}


def reasons_of_log(text: str) -> set[str]:
    """The reasons of a log as written, each also with ``<...@...>`` already ``<*>``."""
    raw, _ = reasons_and_keys(text.splitlines())
    return raw | {_ADDR_IN_REASON.sub("<*>", r) for r in raw}


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

#!/usr/bin/env python3
"""Benchmark: ``mailtop.reasons.normalize_reason`` against the plain version it replaced (same run).

The reasons are those ``mailtop report`` normalises on a realistic log: in ``status=deferred (...)``,
``status=bounced (...)`` (and expired) the text in the parentheses, after ``NOQUEUE: reject: `` the text
(whole, and the reason part of it that LogStats gets); each as it is and with
``<...@...>`` already ``<*>`` (LogStats._norm's cache key, which is what reaches the function). Also
every reason of the lab captures (tests/data/logs/*.log) and of the queue capture (``postqueue -j``
delay_reason, tests/data/queue/postqueue-j.jsonl). Make the log first:

    .venv/bin/python tests/bench/gen_maillog.py /tmp/reasons-m1.log --lines 1000000
    flock /tmp/mailtop-heavy.lock .venv/bin/python tests/bench/bench_reasons.py /tmp/reasons-m1.log

Each distinct reason is normalised once per round (a cache in front, as LogStats has, would hide the
cost), by the reference (``reference_normalize_reason`` below: mailtop/reasons.py at 12b7cc5, the plain
seventeen ``re.sub`` passes, frozen here) and by the current function, interleaved, ``--repeat`` rounds.
Printed: the number of distinct reasons, microseconds per call (median and min over rounds) for each,
and the ratio. Exit 1 if any output differs from the reference's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mailtop.reasons import normalize_reason  # noqa: E402

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

_STATUS_WORDS = ("status=deferred (", "status=bounced (", "status=expired (")
_REJECT_WORD = "NOQUEUE: reject: "
_ADDR_IN_REASON = re.compile(r"<[^<>\s]*@[^<>\s]*>")  # what LogStats._norm replaces by <*> before the call
# A reject's parts as mailtop.logs.parse reads them (its _REJECT_SMTPD): LogStats gets the reason group.
_REJECT_SMTPD = re.compile(
    r"(?P<stage>\S+) from (?P<client>\S+?): (?P<reason>.*?)(?:; from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?"
    r"(?: proto=(?P<proto>\S+))?(?: helo=<(?P<helo>[^>]*)>)?)?\Z",
    re.S,
)


def reasons_of_lines(lines: object) -> tuple[set[str], set[str]]:
    """(the reasons as they are in the log, the keys LogStats._norm calls the function with)."""
    raw: set[str] = set()
    keys: set[str] = set()
    for line in lines:  # type: ignore[attr-defined]
        for word in _STATUS_WORDS:
            i = line.find(word)
            if i >= 0:
                reason = line[i + len(word):].rstrip("\n")
                reason = reason[:-1] if reason.endswith(")") else reason
                raw.add(reason)
                keys.add(_ADDR_IN_REASON.sub("<*>", reason))
        i = line.find(_REJECT_WORD)
        if i >= 0:
            reason = line[i + len(_REJECT_WORD):].rstrip("\n")
            raw.add(reason)
            m = _REJECT_SMTPD.match(reason)
            keys.add(_ADDR_IN_REASON.sub("<*>", m.group("reason") if m else reason))
    return raw, keys


def captured_reasons() -> set[str]:
    out: set[str] = set()
    for path in sorted((REPO / "tests" / "data" / "logs").glob("*.log")):
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            raw, keys = reasons_of_lines(f)
        out |= raw | keys
    for line in (REPO / "tests" / "data" / "queue" / "postqueue-j.jsonl").read_text().splitlines():
        for rcpt in json.loads(line).get("recipients", []):
            if rcpt.get("delay_reason"):
                out.add(rcpt["delay_reason"])
    return out


def per_call_us(fn: Callable[[str], str], texts: list[str]) -> float:
    t0 = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - t0) / len(texts) * 1e6


def measure(name: str, texts: list[str], repeat: int) -> int:
    bad = [t for t in texts if normalize_reason(t) != reference_normalize_reason(t)]
    ref: list[float] = []
    new: list[float] = []
    for _ in range(repeat):  # interleaved, so that a busy moment hits both
        ref.append(per_call_us(reference_normalize_reason, texts))
        new.append(per_call_us(normalize_reason, texts))
    r, n = statistics.median(ref), statistics.median(new)
    print(f"{name:34s} {len(texts):7d}  reference {r:6.2f} us (min {min(ref):6.2f})  "
          f"normalize_reason {n:6.2f} us (min {min(new):6.2f})  ratio {r / n:5.2f}x"
          f"  outputs {len({normalize_reason(t) for t in texts})}  differ {len(bad)}")
    for text in bad[:5]:
        print(f"  DIFFERS: {text!r}\n    reference: {reference_normalize_reason(text)!r}\n"
              f"    now:       {normalize_reason(text)!r}")
    return len(bad)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", nargs="?", default="/tmp/reasons-m1.log",
                    help="a generated log (tests/bench/gen_maillog.py); default /tmp/reasons-m1.log")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    if not os.path.exists(args.log):
        print(f"{args.log}: no such file; make it with\n"
              f"  .venv/bin/python tests/bench/gen_maillog.py {args.log} --lines 1000000", file=sys.stderr)
        return 2
    with open(args.log, encoding="utf-8", errors="surrogateescape") as f:
        raw, keys = reasons_of_lines(f)
    print(f"log {args.log} ({os.path.getsize(args.log) / 1e6:.0f} MB); load {os.getloadavg()[0]:.2f}; "
          f"python {sys.version.split()[0]}; {args.repeat} rounds, distinct reasons each call once per round")
    bad = measure("realistic log: keys LogStats calls", sorted(keys), args.repeat)
    bad += measure("realistic log: reasons as written", sorted(raw), args.repeat)
    bad += measure("captures (tests/data)", sorted(captured_reasons()), args.repeat)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

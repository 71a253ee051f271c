"""Parse the text queue listing: ``postqueue -p`` / ``mailq`` of Postfix, and Sendmail's ``mailq``.

For Postfix < 3.1 (no ``postqueue -j``) and for Sendmail. The text has less than the JSON:

* the queue is known only for active (``*``) and held (``!`` Postfix, ``QUARANTINE:`` Sendmail)
  messages; a message with a delay reason is counted as ``deferred``, one without as ``incoming``;
* the arrival time has no year (the most recent past date that fits is taken, local time) and,
  in Sendmail's listing, no seconds;
* ``#`` after a Postfix queue ID marks a forced expiry (``postsuper -e``).

``parse_mailq(lines, now)`` yields ``QueueEntry`` objects, and a ``str`` for each line it could not
place (the caller counts them as skipped); it never raises on odd input.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Iterable, Iterator

from mailtop.mta.records import QueueEntry, Recipient

# "556C55148E3!    1324 Wed Nov 25 18:05:30  tester@client.example"   (Postfix)
# "u8T9idh4006507       27 Thu Sep 29 05:44 <user@example.com>"        (Sendmail)
_HEAD = re.compile(
    r"^(?P<id>[0-9A-Za-z]{5,40})(?P<flag>[*!#X-]?)\s+(?P<size>\d+)\s+"
    r"(?P<time>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+[A-Z][a-z]{2}\s+\d{1,2}\s+\d{1,2}:\d{2}(?::\d{2})?)"
    r"\s*(?P<sender>.*?)\s*$"
)
_REASON = re.compile(r"^\s*(?:[A-Z0-9]+\s+)?\((?P<reason>.*)\)\s*$")
_QUARANTINE = re.compile(r"^\s*QUARANTINE:\s*(?P<reason>.*?)\s*$")
_IGNORE = re.compile(
    r"^\s*(?:-Queue ID-|-----Q-ID-----|-- \d+ [KMG]?bytes in \d+ Requests?\.|Mail queue is empty|"
    r"Total requests:|MSP Queue status|MTA Queue status|/\S+ \(\d+ requests?\)|/\S+ is empty)"
)
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def _arrival(text: str, now: float) -> float | None:
    parts = text.split()
    try:
        month = _MONTHS[parts[1]]
        day = int(parts[2])
        hms = [int(x) for x in parts[3].split(":")]
    except (KeyError, IndexError, ValueError):
        return None
    if len(hms) == 2:
        hms.append(0)
    year = time.localtime(now).tm_year
    for y in (year, year - 1):
        try:
            t = _dt.datetime(y, month, day, hms[0], hms[1], hms[2]).timestamp()
        except ValueError:  # Feb 29 in a year without it
            continue
        if t <= now + 86400:  # a clock a little ahead still counts as this year
            return t
    return None


def _strip_angle(addr: str) -> str:
    addr = addr.strip()
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1]
    return addr


class _Open:
    __slots__ = ("qid", "flag", "size", "arrival", "sender", "reason", "rcpts", "quarantine")

    def __init__(self, qid: str, flag: str, size: int, arrival: float, sender: str) -> None:
        self.qid = qid
        self.flag = flag
        self.size = size
        self.arrival = arrival
        self.sender = sender
        self.reason = ""
        self.rcpts: list[Recipient] = []
        self.quarantine = False

    def entry(self) -> QueueEntry:
        if self.flag == "*":
            queue = "active"
        elif self.flag == "!" or self.quarantine:
            queue = "hold"
        elif any(r.reason for r in self.rcpts):
            queue = "deferred"
        else:
            queue = "incoming"
        # the null sender is written MAILER-DAEMON, as postqueue -j does
        sender = "MAILER-DAEMON" if self.sender in ("", "<>") else self.sender
        return QueueEntry(queue=queue, queue_id=self.qid, arrival=self.arrival, size=self.size, sender=sender,
                          recipients=tuple(self.rcpts), forced_expire=self.flag == "#")


def parse_mailq(lines: Iterable[str], now: float | None = None) -> Iterator[QueueEntry | str]:
    """Entries from a text listing, in order; a ``str`` (the line, shortened) for each line skipped."""
    now = time.time() if now is None else now
    cur: _Open | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            if cur is not None and cur.rcpts:
                yield cur.entry()
                cur = None
            continue
        m = _HEAD.match(line)
        if m:
            if cur is not None:
                yield cur.entry()
            arrival = _arrival(m.group("time"), now)
            if arrival is None:
                cur = None
                yield line[:200]
                continue
            cur = _Open(m.group("id"), m.group("flag"), int(m.group("size")), arrival,
                        _strip_angle(m.group("sender")))
            continue
        if _IGNORE.match(line):
            continue
        if cur is None:
            yield line[:200]
            continue
        q = _QUARANTINE.match(line)
        if q:
            cur.quarantine = True
            continue
        r = _REASON.match(line)
        if r:
            cur.reason = r.group("reason")
            continue
        if line[:1].isspace():
            cur.rcpts.append(Recipient(address=_strip_angle(line), reason=cur.reason))
            continue
        yield line[:200]
    if cur is not None:
        yield cur.entry()

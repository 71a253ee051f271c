"""``mailtop report``'s fast path: whole logs -> ``LogStats`` without a ``LogEvent`` per line.

``summarize_fast(paths)`` gives the same ``LogStats`` answers as feeding every line through
``LineParser.parse`` and ``LogStats.add`` (``command.summarize_events``, the reference), several times
faster. How:

* Files are read in 64 KiB binary chunks (``REPORT_CHUNK``), decoded once per chunk and split on
  ``\\n`` (``follow.iter_line_batches``, the reader of the full path).
* One compiled regular expression (``_LINE``) recognises, in C, the line kinds that make up nearly all
  of a real log and captures only the fields the report needs: Postfix ``QID: to=<..>, relay=..,
  delay=.., status=..`` (the parser's own ``_DELIVERY`` pattern, embedded), ``QID: from=<..>, size=N``,
  ``QID: client=..``, ``QID: message-id=..``, ``QID: removed``, bounce notifications, ``NOQUEUE:
  reject: RCPT from ..`` (smtpd), and lines that only count (``connect from``, ``disconnect from``,
  TLS, ``lost connection``, ...); Dovecot syslog lines (``*-login: Login:``; the rest only count).
  Where it was built, ``mailtop/logs/_linescan.c`` gives the same groups for ~97 % of a real log's
  lines without the pattern (its first path through the pattern's rules, in C; every other line is
  the pattern's: ``tests/unit/test_log_linescan.py`` compares both line by line).
  The pattern is *sound, not complete*: every line it accepts is one the parser reads the same way
  (same timestamp code and caches, same tag classification, same queue-ID rules); any other line
  (fractional or RFC 3339 stamps, Dovecot's own log file, warnings, expiries, unknown shapes, a
  chunk holding a ``\\r`` or an over-long line) goes through ``LineParser.parse`` + ``LogStats.add``
  in its place in the stream, so order-dependent state (the year guess, the flows) is the same.
* Final deliveries (sent, bounced) wait in a list and are counted together (``_Run._flush_sent``: per
  distinct recipient, delay text, minute, relay and domain, histogram sums continued in log order),
  flushed before a delivery the full parser reads, every ``PEND_MAX`` rows and at the end of an input.
  Lines that only count take a short path once their tag and stamp are known.
* The flows keep only what the totals need (``ReportFlows``: where a message came from, its size,
  whether it was deferred), with ``FlowTracker``'s keys, eviction (``max_flows``) and staleness rules.
  So the returned stats have no message history: ``recent_flows()`` is empty.

``tests/unit/test_log_fast.py`` proves the report data (``command.report_data``) is identical to the
reference on the committed captures, on generated logs and on hostile inputs.

One large regular file is read by two processes (``mailtop.logs.fast_split``; the hooks here:
``_Run.carry``/``records``/``fresh``, ``_defer_line``, ``ReportFlows.peak``), with the same answers
(``tests/unit/test_log_fast_split.py``). ``MAILTOP_REPORT_SPLIT=0`` keeps one process.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import compress, groupby
from operator import attrgetter, itemgetter

from mailtop import queueid
from mailtop.logs import parse as P
from mailtop.logs.stats import (
    _ATTEMPTS,
    LogStats,
    _addr_domain,
    _bucket,
    _Hist,
    _norm_addr,
    delay_us,
    gimme_domain,
)

__all__ = ["ReportFlows", "summarize_fast"]


class _LeanFlow:
    """The part of ``flows._Flow`` the totals read."""

    __slots__ = ("received", "size", "deferred", "last_seen")

    def __init__(self, ts: float) -> None:
        self.received = ""
        self.size: int | None = None
        self.deferred = False
        self.last_seen = ts


class ReportFlows:
    """``FlowTracker`` for reports: same keys, eviction (``max_flows``, oldest first) and staleness
    (``stale_after`` seconds of log time), but no history (no deliveries, no finished ring)."""

    def __init__(self, max_flows: int = 100_000, stale_after: float = 6 * 86400.0) -> None:
        self.max_flows = max_flows
        self.stale_after = stale_after
        self._live: dict[str, _LeanFlow] = {}
        self.finished: tuple = ()
        self.evicted = 0
        self.peak = 0                      # the most live flows at once (fast_split's guard)
        self._last_ts = 0.0
        self._next_sweep = 0.0
        self._bases: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._live)

    def _key(self, instance: str, queue_id: str) -> str:
        base = self._bases.get(instance)
        if base is None:
            if len(self._bases) > 1000:
                self._bases.clear()
            base = self._bases[instance] = instance.split("/", 1)[0] + " "
        return base + queue_id

    def _new(self, key: str, ts: float) -> _LeanFlow:
        flow = self._live[key] = _LeanFlow(ts)
        if len(self._live) > self.peak:
            self.peak = len(self._live)
        if len(self._live) > self.max_flows:
            del self._live[next(iter(self._live))]
            self.evicted += 1
        return flow

    def flow_for(self, ev: P.LogEvent) -> _LeanFlow:
        key = self._key(ev.instance, ev.queue_id)
        flow = self._live.get(key)
        return flow if flow is not None else self._new(key, ev.ts)

    def feed(self, ev: P.LogEvent) -> _LeanFlow | None:
        if not ev.queue_id:
            return None
        ts = ev.ts
        if ts > self._last_ts:
            self._last_ts = ts
            if ts >= self._next_sweep:
                self._sweep(ts)
        if ev.kind == P.REMOVED:
            return self._live.pop(self._key(ev.instance, ev.queue_id), None)
        flow = self.flow_for(ev)
        flow.last_seen = ts
        if ev.kind == P.QUEUED and not flow.size:
            flow.size = ev.size
        return flow

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + max(60.0, self.stale_after / 100)
        limit = now - self.stale_after
        stale = [k for k, f in self._live.items() if f.last_seen < limit]
        for k in stale:
            del self._live[k]
        self.evicted += len(stale)


# ----------------------------------------------------------------------------- the line pattern

# Exactly what is_queue_id() accepts (mailtop.queueid); the parser looks for "QID: " up to
# queueid.MAX_LEN + 2 characters into the message, so every ID these match is seen there too.
_QID = rf"(?:{queueid.SHORT_PATTERN}|{queueid.LONG_PATTERN})"
assert P._QID_WINDOW >= queueid.MAX_LEN + 2
# Anything that might be read as a queue ID (wider than _QID, cheap to reject for a word such as
# "connect": a line starting so is never "plain").
_QID_ANY = r"(?:[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}z)"
_DELIVERY = P._DELIVERY.pattern
assert _DELIVERY.startswith("to=<") and _DELIVERY.endswith(r"\Z")

# Digit runs are capped where the parser calls int() on them (int() refuses more than 4300 digits:
# the parser then says UNPARSED); a longer run fails here and the line takes the full parser.
_LINE = re.compile(
    r"(?s)[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [^ :]+ (?:"
    r"(?P<name>[^ \[]+)\[[0-9]{1,20}\]: (?:"
    rf"(?P<qid>{_QID}): (?:"
    rf"{_DELIVERY}(?P<K_DELIVERY>)"
    r"|from=<(?P<sender>[^>]*)>, size=(?P<size>[0-9]{1,300})(?![0-9])(?P<K_QUEUED>)"
    r"|client=(?P<client>.*)(?P<K_CLIENT>)"
    r"|(?:message-id=|sender [^:]*notification: )(?P<K_FEED>)"
    r"|removed\Z(?P<K_REMOVED>)"
    r")"
    r"|NOQUEUE: reject: (?P<rj>.*)(?P<K_REJECT>)"
    # no queue ID, and not a kind LogStats counts (reject, hold, discard, milter, warning, fatal,
    # panic, error): connect/disconnect/lost/TLS/... lines only count as lines
    rf"|(?:disconnect from |(?!{_QID_ANY}: |NOQUEUE: )[^rhdmwfpe])(?P<K_PLAIN>)"
    r")"
    r"|dovecot: (?P<dsvc>[\w-]+)(?:\([^):]{0,200}\))?(?:<[0-9]{1,20}>)?(?:<(?!\d{21})[^>:]*>)?: (?:"
    r"(?:Info: )?Login: user=<[^>]*>, (?:[a-z_]+=[^,<>=]*, )*?rip=(?!<)(?P<rip>[^,\s]*)(?P<K_LOGIN>)"
    r"|(?P<K_DOVECOT>))"
    r")"
)
_G = _LINE.groupindex
K_DELIVERY, K_QUEUED, K_CLIENT, K_FEED, K_REMOVED, K_REJECT, K_PLAIN, K_LOGIN, K_DOVECOT = (
    _G["K_DELIVERY"], _G["K_QUEUED"], _G["K_CLIENT"], _G["K_FEED"], _G["K_REMOVED"], _G["K_REJECT"], _G["K_PLAIN"],
    _G["K_LOGIN"], _G["K_DOVECOT"])
assert K_DELIVERY < K_QUEUED < K_CLIENT < K_FEED < K_REMOVED < K_REJECT < K_PLAIN < K_LOGIN < K_DOVECOT
_NAME, _QIDG, _TO, _RELAY, _DELAY, _STATUS, _REST = (
    _G["name"], _G["qid"], _G["to"], _G["relay"], _G["delay"], _G["status"], _G["rest"])
_SENDER, _SIZE, _CLIENT, _DSVC, _RJ, _RIP = _G["sender"], _G["size"], _G["client"], _G["dsvc"], _G["rj"], _G["rip"]


# The chunk reader's pattern (``_Run._feed_vector``): ``_LINE`` with two changes that move into the
# pattern what the line loop tests in Python: a Dovecot ``*-login`` line is a login (``K_LOGIN``) or
# a line for the full parser (``K_OTHER``), any other Dovecot line only counts (``K_DOVECOT``, also
# when it says "Login:"); and every line matches (``K_OTHER``: the full parser reads it).
_DOVE_OLD = (r"dovecot: (?P<dsvc>[\w-]+)(?:\([^):]{0,200}\))?(?:<[0-9]{1,20}>)?(?:<(?!\d{21})[^>:]*>)?: (?:"
             r"(?:Info: )?Login: user=<[^>]*>, (?:[a-z_]+=[^,<>=]*, )*?rip=(?!<)(?P<rip>[^,\s]*)(?P<K_LOGIN>)"
             r"|(?P<K_DOVECOT>))")
_DOVE_NEW = (r"dovecot: (?P<dsvc>[\w-]+)(?:(?<=-login)(?P<dlogin>)|(?<!-login))"
             r"(?:\([^):]{0,200}\))?(?:<[0-9]{1,20}>)?(?:<(?!\d{21})[^>:]*>)?: (?:"
             r"(?(dlogin)(?:Info: )?Login: user=<[^>]*>, (?:[a-z_]+=[^,<>=]*, )*?rip=(?!<)(?P<rip>[^,\s]*)(?P<K_LOGIN>)"
             r"|(?!))|(?(dlogin)(?!)|(?P<K_DOVECOT>))"
             # a *-login failure (LOGIN_FAILED): "Disconnected"/"Aborted login", a head without "=",
             # "<", ">" holding "auth failed" (so the first ": user=" ends it and no key=value is in
             # it), then the login line's keys up to the first rip=. No group of its own: its last
             # group is dlogin (the chunk reader reads the head and the address in Python).
             r"|(?(dlogin)(?:Info: )?(?:Disconnected|Aborted login)[^=<>]*auth failed[^=<>]*: user=<[^>]*>, "
             r"(?:[a-z_]+=[^,<>=]*, )*?rip=(?!<)[^,\s]*|(?!)))")
assert _LINE.pattern.count(_DOVE_OLD) == 1
# Also: groups the chunk reader does not read are not captured (each group costs: 28 -> 23 groups
# made the match ~25 % faster), and the stamp is any 15 characters (the chunk reader checks every
# stamp of the chunk with the parser's own code, which accepts only what the strict head matches).
_HEAD = "[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] "
assert _LINE.pattern.startswith("(?s)" + _HEAD)
_V_PATTERN = _LINE.pattern.replace(_DOVE_OLD, _DOVE_NEW).replace(_HEAD, "[^\n]{15} ", 1)
for _g in ("orig", "conn", "delays", "dsn", "dsvc"):
    assert _V_PATTERN.count(f"(?P<{_g}>") == 1
    _V_PATTERN = _V_PATTERN.replace(f"(?P<{_g}>", "(?:")
# Two more queue-ID kinds the line loop leaves to the full parser: pickup's "uid=.."/"sender=.." (a
# PICKUP for the pickup service: the chunk reader checks the tag; INFO/NOTIFY for others, which it
# leaves to the full parser) and qmgr's "from=<..>, status=expired" (EXPIRED: no ">, size=<digit>"
# anywhere, the first ", status=" followed by a status that ends in "expired").
_V_REMOVED = r"|removed\Z(?P<K_REMOVED>)"
assert _V_PATTERN.count(_V_REMOVED) == 1
# No group of their own (each group costs ~10 % of the match: +2 groups made it 0.39 -> 0.48 s for
# 1M lines): their last group is the queue ID's, and the character after "QID: " tells them apart.
_V_PATTERN = _V_PATTERN.replace(_V_REMOVED, (
    r"|(?:uid=|sender=)"
    r"|from=<(?!.*>, size=[0-9])(?:(?!, status=).)*, status=(?:(?!, ).)*expired(?:, |\Z)"
) + _V_REMOVED)
# Kinds whose last group is a field need no marker group of their own (fewer groups, faster match):
# a delivery ends with ``rest``, a from= line with ``size``, client= with ``client``, a NOQUEUE reject
# with ``rj``, a Dovecot login with ``rip``.
for _g in ("K_DELIVERY", "K_QUEUED", "K_CLIENT", "K_REJECT", "K_LOGIN"):
    assert _V_PATTERN.count(f"(?P<{_g}>)") == 1
    _V_PATTERN = _V_PATTERN.replace(f"(?P<{_g}>)", "")
_LINE_V = re.compile(_V_PATTERN + "|(?P<K_OTHER>)")
_GV = _LINE_V.groupindex
V_DELIVERY, V_QUEUED, V_CLIENT, V_FEED, V_REMOVED, V_REJECT, V_PLAIN, V_LOGIN, V_DOVECOT, V_OTHER = (
    _GV["rest"], _GV["size"], _GV["client"], _GV["K_FEED"], _GV["K_REMOVED"], _GV["rj"],
    _GV["K_PLAIN"], _GV["rip"], _GV["K_DOVECOT"], _GV["K_OTHER"])
V_PICKEX = _GV["qid"]          # a pickup (uid=/sender=) or an expiry (from=<..>, status=..expired)
V_LOGINFAIL = _GV["dlogin"]    # a Dovecot *-login failure
assert 0 < V_PICKEX < V_REMOVED
V_SLOWQ, V_SLOWX = 0, 1000    # a line the full parser read, with / without a queue ID
_V_COUNTED = frozenset((V_REJECT, V_LOGIN, V_LOGINFAIL, V_SLOWX))   # lines without a queue ID that count
assert V_DELIVERY < V_QUEUED < V_CLIENT < V_FEED < V_REMOVED < V_REJECT < V_PLAIN < V_LOGIN < V_DOVECOT < V_OTHER
_VQ_LE = V_REMOVED.__ge__      # a queue-ID line: k <= V_REMOVED (V_SLOWQ too, not V_SLOWX)
_VNAME, _VQID, _VCLIENT, _VSTATUS, _VREST, _VSIZE, _VSENDER, _VRJ, _VRIP = (itemgetter(_GV[g]) for g in (
    "name", "qid", "client", "status", "rest", "size", "sender", "rj", "rip"))
_VI_STATUS, _VI_REST, _VI_NAME, _VI_RJ, _VI_QID = _GV["status"], _GV["rest"], _GV["name"], _GV["rj"], _GV["qid"]
_VI_CLIENT, _VI_RIP = _GV["client"], _GV["rip"]


def _positions(seq: list, value: object) -> list[int]:
    """The indexes of ``value`` in ``seq`` (C scans: for values that are few)."""
    out: list[int] = []
    n = seq.count(value)
    i = -1
    index = seq.index
    for _ in range(n):
        i = index(value, i + 1)
        out.append(i)
    return out
_VI_SIZE, _VI_SENDER = _GV["size"], _GV["sender"]

# The same classification in C where it was built (mailtop/logs/_linescan.c: the pattern's groups per
# line for the common kinds, the pattern's own match for every other line). Without it (no compiler
# at install time, or MAILTOP_REPORT_C=0) the pattern reads every line: the same answers, slower.
# fast_split's bitmap of queue-ID hashes is made (prescan) and read (_qhash) with the same hash: C's
# (FNV-1a of the bytes) with the C module, else Python's hash() of the str.
_scan = _scan_bytes = _prescan = None
_qhash = hash
if os.environ.get("MAILTOP_REPORT_C", "") != "0":
    try:
        from mailtop.logs import _linescan
    except ImportError:
        pass
    else:
        _linescan.configure(_LINE_V)
        _scan, _scan_bytes = _linescan.scan, _linescan.scan_bytes
        _prescan, _qhash = _linescan.prescan, _linescan.qhash
_VDROW = itemgetter(_GV["to"], _GV["relay"], _GV["delay"], _GV["status"], _GV["rest"])
_SLOWM = dict.fromkeys(range(len(_GV) + 1), "")    # stands in for a full-parser line's match
_SLOWM[_GV["name"]] = None
_LASTINDEX = attrgetter("lastindex")
_SECONDS = {f":{i:02d}": i for i in range(61)}   # what LineParser._classic_ts accepts after the minute
_S15 = itemgetter(slice(0, 15))
_FWD = "forwarded as "

_OTHER = ()        # a tag the full parser reads (dovecot[pid]: ...)
_INF = float("inf")
CARRY_BITS = 1 << 21   # fast_split: the bitmap of queue-ID hashes (256 KiB)
# Read size of the report: 64 KiB reads keep ~8 MiB less memory alive than 1 MiB ones (the chunk, its
# copies, its decoded text and lines) at the same speed (1M lines: peak RSS 25.8 -> 17.2 MiB).
REPORT_CHUNK = 64 << 10
# Final deliveries counted together (_Run._flush_sent): at most this many wait (plus one batch). The
# flush costs ~1.4-1.8 us per row from 64 to 4096 rows (1M lines): small keeps less memory waiting.
PEND_MAX = 256
# The chunk reader's deliveries (and rejects, logins) are counted every this many rows: fewer fixed
# costs per chunk (~75 deliveries in 64 KiB), little memory waiting (~0.3 MB).
BATCH_MAX = 256
# The caches of the report (text -> what it means: addresses, clients, senders, reasons, delays) are
# emptied past CACHE_MAX entries; _count_final's histogram counters are folded past FOLD_KEYS keys. A
# real log has tens of thousands of distinct senders, recipients, clients and reasons, most seen a
# few times: large caches hold megabytes (twice with two processes) for few hits.
CACHE_MAX = 2048
FOLD_KEYS = 20000
DELIVERY = P.DELIVERY


_P_MINUTE, _P_TO, _P_RELAY, _P_TEXT, _P_SIZE, _P_SENT = (itemgetter(i) for i in range(6))
_I2, _I3, _I4, _I01, _I12 = itemgetter(2), itemgetter(3), itemgetter(4), itemgetter(0, 1), itemgetter(1, 2)


def _forwarded(rest: str) -> bool:
    """A sent delivery that only forwarded the message (``LogStats._delivery``: its reason says so)."""
    if _FWD not in rest:
        return False
    reason = rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()
    return _FWD in reason
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def _hist_counts(h: _Hist, counts: Iterable[tuple[tuple[float, int, int], int]]) -> None:
    """``h.add(d, b, us)`` ``c`` times for each ``((d, b, us), c)``: the histogram's buckets, count,
    max and integer sum (``stats.delay_us``) do not depend on the order of the additions."""
    hb = h.buckets
    n = tot = 0
    mx = h.max
    for (d, b, us), c in counts:
        hb[b] = hb.get(b, 0) + c
        n += c
        tot += us * c
        if d > mx:
            mx = d
    h.count += n
    h.total_us += tot
    h.max = mx


def _count_reasons(minutes: list | None, rkeys: list[tuple[str, str]], statuses: list[str] | str,
                   reasons: Counter[tuple[str, str]]) -> None:
    """Rows of (minute bucket, status, reason key) counted in C, then per distinct (minute, status) and
    (minute, reason key): ``minute.c[status]``, ``minute.reasons[key]``, ``reasons[key]`` (a status
    for every row, or one for all)."""
    reasons.update(rkeys)
    if minutes is None:                     # doomed buckets (_Run.doom_minute)
        return
    if isinstance(statuses, str):
        for minute, c in Counter(minutes).items():
            minute.c[statuses] += c
    else:
        for (minute, status), c in Counter(zip(minutes, statuses, strict=True)).items():
            minute.c[status] += c
    for (minute, rkey), c in Counter(zip(minutes, rkeys, strict=True)).items():
        minute.reasons[rkey] += c


def _cached_keys(pairs: list, cache: dict, make: Callable) -> list:
    """``cache[p]`` for each of ``pairs``, ``make(p)`` (then cached) where missing: looked up in C for the
    whole batch, a Python step only per miss. The cache is emptied first when past ``CACHE_MAX``."""
    if len(cache) > CACHE_MAX:
        cache.clear()
    keys = list(map(cache.get, pairs))
    if None in keys:
        for i in _positions(keys, None):
            pair = pairs[i]
            key = cache.get(pair)
            if key is None:
                key = cache[pair] = make(pair)
            keys[i] = key
    return keys


def _carried(bitmap: bytearray, qid: str) -> bool:
    h = _qhash(qid) & (CARRY_BITS - 1)
    return bool(bitmap[h >> 3] & (1 << (h & 7)))


class _Redo(Exception):
    """Chunks were counted without their minute buckets' contents (``_Run.doom_minute``) but one of
    those buckets is still in the windows at the end: read everything again without that."""


_BUCKET_KINDS = frozenset((P.DELIVERY, P.CLIENT, P.REJECT, P.LOGIN))   # lines that make a minute bucket


def _tail_minute(path: str | os.PathLike[str], ref: float | None) -> int | None:
    """The minute of the last delivery, client=, reject or login line in the last 256 KiB of a
    regular, uncompressed file, as a parser of its own reads it: a guess of the newest minute bucket
    at the end (``summarize_fast`` checks what it was used for); None when there is none."""
    if str(path).endswith(".gz"):
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):    # a pipe or a device: read once, never reopened
            return None
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - (256 << 10)))
            tail = fh.read()
    except OSError:
        return None
    lines = tail.rstrip(b"\n").split(b"\n")
    if size > len(tail):
        lines = lines[1:]                   # the first one may be cut
    for raw in reversed(lines):
        ev = P.LineParser(ref).parse(raw.decode("utf-8", "replace"))     # each line's year guessed alone
        if ev.kind in _BUCKET_KINDS and ev.ts > 0:
            return int(ev.ts // 60)
    return None


def summarize_fast(paths: Iterable[str | os.PathLike[str] | None], syslog_names: Iterable[str] = (),
                   errors: list[tuple[str, OSError]] | None = None, max_flows: int = 100_000,
                   split: bool = True, doom: bool = True) -> LogStats:
    """Whole files -> ``LogStats`` (see the module docstring); the arguments of ``command.summarize``.
    One large regular file is read by two processes (``fast_split``) unless ``split`` is False or the
    environment has ``MAILTOP_REPORT_SPLIT=0``. ``doom``: the chunks of a regular file more than the
    windows' span before its last line skip the minute buckets' contents (``_Run.doom_minute``)."""
    from mailtop.logs.follow import for_each_input, read_line_batches

    stats = LogStats(syslog_names=syslog_names, flows=ReportFlows(max_flows=max_flows))  # type: ignore[arg-type]
    run = _Run(stats)
    paths = list(paths)
    split = split and os.environ.get("MAILTOP_REPORT_SPLIT", "") != "0"
    doom = doom and all(p is not None and str(p) != "-" and os.path.isfile(p) for p in paths)   # read again
    span = int(stats.window_max // 60)

    def consume(path: str | os.PathLike[str] | None, ref: float | None) -> None:
        tail = _tail_minute(path, ref) if doom and path is not None else None
        run.doom_minute = None if tail is None else tail - span - 2
        if len(paths) == 1 and split and can_split(path):
            read_split(run, path, ref)       # two processes (mailtop.logs.fast_split)
        else:
            run.feed(P.LineParser(ref), read_line_batches(path, REPORT_CHUNK, raw=_scan_bytes is not None))
        mins = stats._minutes
        if run.doom_minute is not None and run.doomed_any and mins and mins[0].minute <= run.doom_minute:
            raise _Redo
        run.doom_minute = None

    from mailtop.logs.fast_split import can_split, read_split

    try:
        for_each_input(paths, errors, consume)
    except _Redo:
        if errors is not None:
            del errors[:]
        return summarize_fast(paths, syslog_names, errors, max_flows, split, doom=False)
    return stats


class _Run:
    """Caches that live across the files of one report."""

    def __init__(self, stats: LogStats) -> None:
        assert stats.max_keys is None and stats.clock is None
        self.stats = stats
        self.names: dict[str, tuple] = {}
        self.domains: dict[str, str] = {}                 # client -> gimme_domain(client)
        self.addrs: dict[str, tuple[str, str]] = {}       # address -> (normalised, domain)
        self.delays: dict[str, tuple[float, int, int] | None] = {}
        self.plain_names: set[str] = set()               # tags of counted Postfix instances
        self.senders: dict[str, tuple[str, str | None]] = {}  # from=<..> -> (normalised, domain)
        # fast_split's second part: queue IDs whose flow may have begun before this part (a bitmap of
        # their hashes) and what their lines do to flows, kept for the replay (see fast_split)
        self.carry: bytearray | None = None
        self.fresh: set[str] = set()        # flow keys removed in this part: known from then on
        self.records: list[tuple] = []
        self.unsupported = False
        # _feed_vector's final deliveries' delays, counted per distinct key (_count_final, _fold)
        # _feed_vector's rows waiting to be counted together (_flush_batch)
        self.b_sent: list[tuple] = []      # sent deliveries (to, relay, delay, status, rest) ...
        self.b_sent_bk: list = []          # ... and their minute buckets
        self.b_bounced: list[tuple] = []
        self.b_bounced_bk: list = []
        self.b_reasons: list[tuple] = []   # (minute bucket, status, rest) of the other deliveries
        self.b_rej: list[tuple] = []
        self.b_login: list[tuple] = []
        self.c_text: Counter[str] = Counter()
        self.c_relay: Counter[tuple[str, str]] = Counter()
        self.c_dom: Counter[tuple[str, str]] = Counter()
        self.origins: dict[str, str] = {}   # client= text -> where the message came from (smtpd, postscreen)
        self.rejects: dict[tuple[str, str], tuple[str, str]] = {}  # (service, NOQUEUE reject text) -> reason key
        self.reason_keys: dict[tuple[str, str], tuple[str, str]] = {}   # (status, delivery's rest) -> reason key
        # Chunks whose minutes are all at or before doom_minute count their rows without the minute
        # buckets' contents (the windows' counters, reasons, delay samples, logins): those buckets are
        # gone from the windows by the end of the input (summarize_fast checks it, else reads again).
        # The batches are flushed where a chunk's "doomed" differs from the last one's.
        self.doom_minute: int | None = None
        self.doomed = False
        self.doomed_any = False

    def _name(self, parser: P.LineParser, name: str) -> tuple:
        """A syslog tag name -> (instance, service, flow key prefix, counted) for Postfix; ``None`` for
        a program the parser does not know (the line is UNPARSED); ``_OTHER`` for Dovecot."""
        kind = parser._names.get(name, False)
        if kind is False:
            kind = parser._classify(name)
        out: tuple | None
        if kind is None:
            out = None
        elif kind[0] == "postfix":
            inst = kind[1]
            st = self.stats
            out = (inst, kind[2], inst.split("/", 1)[0] + " ", not st.syslog_names or st._name_ok(inst))
        else:
            out = _OTHER
        if len(self.names) > 1000:
            self.names.clear()
        self.names[name] = out
        return out

    def feed(self, parser: P.LineParser, batches: Iterable[tuple[list[str], bool]]) -> None:
        """One input's line batches, in order: each chunk counted together (``_feed_vector``) when that
        is proven to give the one-pass answers, else line by line (``_feed_lines``)."""
        from mailtop.logs.follow import block_lines

        vector = self._feed_vector
        lines_path = self._feed_lines
        for batch in batches:
            if type(batch) is bytes:                # a block of whole lines, for the C classifier
                scanned = _scan_bytes(batch, P.MAX_LINE)
                if scanned is not None:
                    if not vector(parser, None, scanned, batch):
                        lines_path(parser, (block_lines(batch),))
                    continue
                batch = block_lines(batch)          # a "\r" or a long line: as iter_line_batches gives it
            if not (batch[1] and vector(parser, batch[0])):
                lines_path(parser, (batch,))
        self._flush_batch()
        self._fold()

    def _feed_vector(self, parser: P.LineParser, lines: list[str] | None,  # noqa: C901, PLR0912, PLR0915
                     scanned: tuple[list, list[int], list[str]] | None = None, block: bytes = b"") -> bool:
        """One chunk's lines counted together: what ``_feed_lines`` gives, with Python work per distinct
        key (stamp, tag, recipient, delay text, ...) and a short loop over the queue-ID lines for the
        flows, the rest in C (``map``, ``compress``, ``Counter`` over ``_LINE_V``'s matches). False
        (nothing changed but caches) when the chunk does not meet what makes the order of its lines
        irrelevant outside the flows:

        * every line starts with a classic stamp of the year guess's current month (the stamps are
          timed in order of first appearance, as the line loop times them; the month makes the year
          guess give the same years even where the line loop would time a stamp again after a cache
          clear in the middle of the chunk: a guard no test builds a case for);
        * the minutes of its lines are all at or after the oldest minute the windows keep once the
          chunk is read (the minute buckets are then the same whatever order they are made in; the
          loop below makes them in line order anyway: a guard kept for safety);
        * no flow sweep falls due in it (``ReportFlows._next_sweep``);
        * in fast_split's second part, none of its queue IDs may have begun in the first part.

        One loop then goes over the chunk's lines in order: the queue-ID lines act on the flows, the
        lines that count take their minute bucket, the lines the full parser reads
        (``LineParser.parse`` + ``LogStats.add``) are added in their place. Deliveries, NOQUEUE
        rejects and logins are counted per batch of chunks, senders per chunk, final deliveries into
        counters of distinct keys (``_count_final``): counters, reasons and delay histograms do not
        depend on the order (see ``_flush_sent``)."""
        st = self.stats
        if scanned is not None:                     # the C classifier's, of ``block`` (lines is None)
            ms, ks, stamps = scanned
        elif _scan is not None:
            ms, ks, stamps = _scan(lines)
        else:
            ms = list(map(_LINE_V.match, lines))
            ks = list(map(_LASTINDEX, ms))
            stamps = list(map(_S15, lines))
        distinct = dict.fromkeys(stamps)
        years = parser.years
        month = years._month if years._year else 0
        months = P._MONTHS
        for key in distinct:
            mo = months.get(key[:3])
            if mo is None or (month and mo != month):
                return False
            month = mo
        tscache = parser._ts_cache
        min_cache = parser._min_cache
        classic_ts = parser._classic_ts
        smap: dict[str, float] = {}
        for key in distinct:
            ts = tscache.get(key)
            if ts is None:
                # LineParser._classic_ts when the minute is known (its checks, its cache entry)
                base = min_cache.get(key[:12])
                ss = _SECONDS.get(key[12:15])           # ":00" .. ":60" (ASCII digits, at most 60)
                if base is not None and ss is not None:
                    ts = base + ss
                    if len(tscache) > 4096:
                        tscache.clear()
                    tscache[key] = ts
                else:
                    ts = classic_ts(key)
                    if ts is None:
                        return False
            smap[key] = ts
        tss = smap.values()
        tmin, tmax = min(tss), max(tss)
        flows: ReportFlows = st.flows  # type: ignore[assignment]
        if tmin <= 0:
            return False
        sweep_due = tmax + 1.0 >= flows._next_sweep
        mins = st._minutes
        m0, m1 = int(tmin // 60), int(tmax // 60)
        top = max(m1, mins[-1].minute) if mins else m1
        if m0 <= top - int(st.window_max // 60) - 1:
            return False
        doomed = self.doom_minute is not None and m1 <= self.doom_minute
        n = len(ks)
        # tags: a Postfix tag of a counted instance is read here; any other line by the full parser
        names = self.names
        ninfo: dict[str | None, tuple | None] = {}
        bad: set[str] = set()
        for name in set(map(_VNAME, ms)):
            if name is None:
                continue
            info = names.get(name, False)
            if info is False:
                info = self._name(parser, name)
            if info is None or info is _OTHER or not info[3]:
                bad.add(name)
            ninfo[name] = info
        prefixes = {info[2] for name, info in ninfo.items() if name not in bad}
        names_list = list(map(_VNAME, ms)) if bad or len(prefixes) != 1 else None
        if sweep_due and min(ks) <= V_REMOVED and (not bad or any(
                k <= V_REMOVED and name not in bad for k, name in zip(ks, names_list, strict=True))):
            return False            # a queue-ID line read here would have to sweep the flows first
        carry = self.carry
        maybe: set[str] = set()             # fast_split's second part: flow keys that may be carried
        fresh = self.fresh
        if carry is not None:
            qmask = list(map(_VQ_LE, ks))
            if names_list is None:          # one tag prefix, every tag read here
                pre = next(iter(prefixes))
                mask = CARRY_BITS - 1
                qhash = _qhash
                for qid in set(map(_VQID, compress(ms, qmask))):
                    h = qhash(qid) & mask
                    if carry[h >> 3] & (1 << (h & 7)):
                        maybe.add(pre + qid)
            else:
                for name, qid in set(zip(compress(names_list, qmask), map(_VQID, compress(ms, qmask)),
                                         strict=True)):
                    if name not in bad and _carried(carry, qid):
                        maybe.add(ninfo[name][2] + qid)
        # from here on the chunk is read here
        if doomed != self.doomed:
            self._flush_batch()
            self.doomed = doomed
            self.doomed_any = self.doomed_any or doomed
        if V_PICKEX in ks:
            for i in _positions(ks, V_PICKEX):
                m = ms[i]
                if m.string[m.end(_VI_QID) + 2] != "f":     # uid=/sender=: a pickup for pickup only
                    info = ninfo.get(m[_VI_NAME])
                    if not info or info[1] != "pickup":
                        ks[i] = V_OTHER       # another service's: INFO or NOTIFY, the full parser's
        slow_idx = _positions(ks, V_OTHER)
        if bad:
            slow_idx = sorted(set(slow_idx).union(compress(range(n), map(bad.__contains__, names_list))))
        slowq: list[tuple[P.LogEvent, str]] = []
        slowx: list[tuple[P.LogEvent, str]] = []
        if slow_idx:
            parse = parser.parse
            for i in slow_idx:
                m = ms[i]
                if type(m) is not tuple:
                    line = m.string
                else:                               # read in C, then found to be for the full parser
                    if lines is None:
                        from mailtop.logs.follow import block_lines

                        lines = block_lines(block)[0]
                    line = lines[i]
                ev = parse(line)
                if ev.queue_id:
                    ks[i] = V_SLOWQ
                    slowq.append((ev, line))
                else:
                    ks[i] = V_SLOWX
                    slowx.append((ev, line))
                ms[i] = _SLOWM
        nfast = n - len(slow_idx)
        st.lines += nfast
        parser.parsed += nfast
        if nfast:
            # first/last of the lines read here (the full parser's lines count their own, when they
            # count): the extremes of all stamps, unless only lines for the full parser have them
            lo, hi = tmin, tmax
            if slow_idx:
                slow_stamps = Counter([stamps[i] for i in slow_idx])
                if any(smap[k] in (tmin, tmax) and stamps.count(k) == c for k, c in slow_stamps.items()):
                    only = {k for k, c in slow_stamps.items() if stamps.count(k) == c}
                    fast_ts = [ts for k, ts in smap.items() if k not in only]
                    lo, hi = min(fast_ts), max(fast_ts)
            if hi > st.last_ts:
                st.last_ts = hi
            if lo < st.first_ts or not st.first_ts:
                st.first_ts = lo
        t = st._t
        all_counts = st.all_counts
        minute_of = st._minute
        # the queue-ID lines, in order: the flows (one loop over the chunk's columns)
        pre = next(iter(prefixes)) if len(prefixes) == 1 else None
        pmap = {name: ("" if name in bad or info is None else info[2]) for name, info in ninfo.items()}
        hi = 0.0
        # client= lines: where the message came from (smtpd, postscreen: LogStats._client), in the loop
        origin = self.origins
        origin_of = self._origin
        receives = {name: info[1] in ("smtpd", "postscreen") for name, info in ninfo.items()
                    if info and name not in bad}
        nrec = 0
        # deliveries: their rows and minute buckets wait for _flush_batch (counted per batch of chunks)
        sent_add, sentbk_add = self.b_sent.append, self.b_sent_bk.append
        bounced_add, bouncedbk_add = self.b_bounced.append, self.b_bounced_bk.append
        reason_add = self.b_reasons.append
        slow_next = iter(slowq).__next__
        live = flows._live
        get, pop = live.get, live.pop
        new_live = flows._new
        add = st.add
        defer = self._defer_line if carry is not None else None
        bsum = ndef = 0
        srows: list[tuple[str, str, int]] = []
        srow = srows.append
        records = self.records
        rej_add, login_add = self.b_rej.append, self.b_login.append
        auth = st.auth
        slowx_next = iter(slowx).__next__
        for k, m, stamp in zip(ks, ms, stamps, strict=True):
            if k > V_REMOVED:                           # not a queue-ID line
                if k in _V_COUNTED:
                    if k == V_SLOWX:                    # the full parser's, in its place
                        ev, line = slowx_next()
                        if defer is None or not defer(ev, line):
                            add(ev)
                        continue
                    minute = minute_of(smap[stamp])
                    if k == V_REJECT:                   # counted per batch (_flush_batch)
                        rej_add((minute, ninfo[m[_VI_NAME]][1], m[_VI_RJ]))
                    elif k == V_LOGIN:
                        login_add((minute, m[_VI_RIP]))
                    else:                               # V_LOGINFAIL: LogStats._login_failed
                        line = m.string
                        p = line.find(": user=<")       # the end of the head (see _DOVE_NEW)
                        am = _ATTEMPTS.search(line, 0, p)
                        nf = max(1, int(am.group(1))) if am else 1
                        r = line.find(", rip=", line.find(">", p + 8)) + 6
                        ip = line[r:m.end()] or "?"
                        minute.c["auth_failures"] += nf
                        minute.auth[ip] += nf
                        all_counts["auth_failures"] += nf
                        auth[ip] += nf
                continue
            if k == V_SLOWQ:
                ev, line = slow_next()
                if defer is None or not defer(ev, line):
                    add(ev)
                continue
            ts = smap[stamp]
            if ts > hi:
                hi = ts
            key = (pre if pre is not None else pmap[m[_VI_NAME]]) + m[_VI_QID]
            if maybe and key in maybe and key not in fresh:
                # fast_split's second part, a flow that may have begun in the first part: what the line
                # does to it waits for the replay (as in _feed_lines); what it counts is counted
                if k == V_REMOVED:
                    fresh.add(key)
                    records.append(("R", key, ts))
                elif k == V_QUEUED:
                    records.append(("Q", key, ts, m[_VI_SENDER], int(m[_VI_SIZE])))
                elif k == V_DELIVERY:                    # counted here, its flow part recorded
                    row = _VDROW(m)
                    minute = st._cur
                    if minute is None or minute.minute != int(ts // 60):
                        minute = minute_of(ts)
                    status = row[3]
                    if status == "sent":
                        sent_add(row)
                        sentbk_add(minute)
                        records.append(("T" if _forwarded(row[4]) else "S", key, ts))
                    else:
                        reason_add((minute, status, row[4]))
                        if status == "bounced":
                            bounced_add(row)
                            bouncedbk_add(minute)
                        records.append(("D" if status == "deferred" else "T", key, ts))
                elif k == V_CLIENT:                      # counted here, the origin recorded
                    minute = minute_of(ts)
                    if receives[m[_VI_NAME]]:
                        client = m[_VI_CLIENT]
                        dom = origin.get(client)
                        if dom is None:
                            dom = origin_of(client)
                        nrec += 1
                        minute.c["received"] += 1
                        records.append(("C", key, ts, dom))
                    else:
                        records.append(("T", key, ts))
                elif k == V_PICKEX:                       # as _feed_lines leaves them: whole lines,
                    records.append(("L", m.string))       # counted (a line too) in the replay
                    st.lines -= 1
                else:
                    records.append(("T", key, ts))
                continue
            if k == V_REMOVED:
                pop(key, None)
                continue
            fl = get(key)
            if fl is None:
                fl = new_live(key, ts)
            fl.last_seen = ts
            if k == V_FEED:
                continue
            if k == V_PICKEX:
                if m.string[m.end(_VI_QID) + 2] == "f":     # LogStats._expired
                    all_counts["expired"] += 1
                    minute_of(ts).c["expired"] += 1
                else:                                       # LogStats._pickup
                    fl.received = "pickup"
                    t["received"] += 1
                    all_counts["received"] += 1
                    minute_of(ts).c["received"] += 1
                continue
            if k == V_DELIVERY:
                row = _VDROW(m)                         # (to, relay, delay, status, rest)
                minute = st._cur                        # every delivery's minute (LogStats.add)
                if minute is None or minute.minute != int(ts // 60):
                    minute = minute_of(ts)
                status = row[3]
                if status == "sent":
                    sent_add(row)
                    sentbk_add(minute)
                    if fl.size and not (_FWD in row[4] and _forwarded(row[4])):
                        bsum += fl.size
                    continue
                reason_add((minute, status, row[4]))
                if status == "deferred":
                    if not fl.deferred:
                        fl.deferred = True
                        ndef += 1
                elif status == "bounced":
                    bounced_add(row)
                    bouncedbk_add(minute)
                continue
            if k == V_CLIENT:
                minute = st._cur                        # every client= line's minute (LogStats.add)
                if minute is None or minute.minute != int(ts // 60):
                    minute = minute_of(ts)
                if receives[m[_VI_NAME]]:
                    client = m[_VI_CLIENT]
                    dom = origin.get(client)
                    if dom is None:
                        dom = origin_of(client)
                    fl.received = dom
                    nrec += 1
                    minute.c["received"] += 1
                continue
            size = int(m[_VI_SIZE])                     # V_QUEUED: LogStats._queued
            if not fl.size:
                fl.size = size
                if fl.received:
                    srow((m[_VI_SENDER], fl.received, size))
                    fl.received = ""
        # the latest queue-ID line read here (the full parser's lines set it themselves; with the
        # carried lines of fast_split's second part, which _feed_lines leaves out: no difference, as
        # every value here is below the next sweep's time, which alone it decides)
        if hi > flows._last_ts:
            flows._last_ts = hi
        if nrec:
            t["received"] += nrec
            all_counts["received"] += nrec
        if bsum:
            t["bytes_delivered"] += bsum
        if ndef:
            t["deferred"] += ndef
        if srows:
            self._count_senders(srows)
        if len(self.b_sent) > BATCH_MAX or len(self.b_reasons) > BATCH_MAX or len(self.b_rej) > BATCH_MAX \
                or len(self.b_login) > BATCH_MAX:
            self._flush_batch()
        return True

    def _flush_batch(self) -> None:
        """The chunk reader's deliveries, NOQUEUE rejects and Dovecot logins of the last chunks, counted
        (any order gives the same: counters, minute buckets, histograms)."""
        st = self.stats
        if self.b_sent or self.b_reasons:
            self._count_deliveries()
        if self.b_rej:
            rows = self.b_rej
            n = len(rows)
            st._t["rejected"] += n
            st.all_counts["rejected"] += n

            def reject_key(pair: tuple[str, str]) -> tuple[str, str]:     # (service, NOQUEUE reject text)
                service, reason = pair
                if service != "cleanup":
                    rm = P._REJECT_SMTPD.match(reason)
                    if rm is not None:
                        reason = rm.group("reason")
                return ("rejected", st._norm(reason))

            rks = _cached_keys(list(map(_I12, rows)), self.rejects, reject_key)
            _count_reasons(None if self.doomed else list(map(_FIRST, rows)), rks, "rejected", st.reasons)
            rows.clear()
        if self.b_login and self.doomed:
            st.all_counts["logins"] += len(self.b_login)
            ips = list(map(_SECOND, self.b_login))
            if "" in ips:
                ips = [ip or "?" for ip in ips]
            st.login_clients.update(ips)
            self.b_login.clear()
        if self.b_login:
            login_clients = st.login_clients
            st.all_counts["logins"] += len(self.b_login)
            for (minute, ip), c in Counter(self.b_login).items():
                ip = ip or "?"
                minute.c["logins"] += c
                minute.logins[ip] += c
                login_clients[ip] += c
            self.b_login.clear()

    def _origin(self, client: str) -> str:
        """Where a message came from (``LogStats._client``): ``gimme_domain`` of ``client=``'s host;
        remembered in ``origins`` by the whole ``client=`` text (the chunk reader looks there first)."""
        c = client.find(", ")
        host = client[:c] if c >= 0 else client
        domains = self.domains
        dom = domains.get(host)
        if dom is None:
            if len(domains) > CACHE_MAX:
                domains.clear()
            dom = domains[host] = gimme_domain(host)
        if len(self.origins) > CACHE_MAX:
            self.origins.clear()
        self.origins[client] = dom
        return dom

    def _count_senders(self, srows: list[tuple[str, str, int]]) -> None:
        """``LogStats._queued`` for a message's first ``from=`` line with an origin: ``(from=, origin, size)``.
        Each distinct sender is normalised once (cached); the counting is done in C."""
        st = self.stats
        sender_of = self.senders
        st._t["bytes_received"] += sum(map(_I2, srows))
        ss = list(map(_FIRST, srows))
        if len(sender_of) > CACHE_MAX:
            sender_of.clear()
        for sender in set(ss).difference(sender_of):
            addr = _norm_addr(sender) if sender else "from=<>"
            if addr == sender:
                addr = sender                   # one string object for both (memory)
            sender_of[sender] = (addr, _addr_domain(addr) or None)
        nas = list(map(sender_of.__getitem__, ss))
        st.senders.update(map(_FIRST, nas))
        doms = list(map(_SECOND, nas))
        if None in doms:                        # no domain: the origin's (or the address, for pickup)
            for i in _positions(doms, None):
                received = srows[i][1]
                doms[i] = nas[i][0] if received == "pickup" else received
        st.sending_domains.update(doms)

    def _count_deliveries(self) -> None:
        """``LogStats._delivery`` for the waiting deliveries (sorted by status in the loop), but what the
        flows count (bytes delivered, deferred once): sent and bounced ones by ``_count_final``;
        deferrals and bounces per distinct (minute, status, rest). Empties the batches."""
        st = self.stats
        t, all_counts = st._t, st.all_counts
        rows, bks = self.b_sent, self.b_sent_bk
        if rows:
            if _FWD in "\n".join(map(_I4, rows)):
                keep = [not _forwarded(r[4]) for r in rows]
                nf = keep.count(False)
                if nf:
                    t["forwarded"] += nf
                    rows = list(compress(rows, keep))
                    bks = list(compress(bks, keep))
            if rows:
                self._count_final(bks, rows, True)
            self.b_sent.clear()
            self.b_sent_bk.clear()
        if self.b_bounced:
            self._count_final(self.b_bounced_bk, self.b_bounced, False)
            self.b_bounced.clear()
            self.b_bounced_bk.clear()
        if self.b_reasons:
            rows = self.b_reasons                       # (minute bucket, status, rest)
            sts = list(map(_SECOND, rows))
            nd, nb = sts.count("deferred"), sts.count("bounced")
            if nd + nb != len(rows):                    # other statuses: no reason counted
                keep = [s == "deferred" or s == "bounced" for s in sts]
                rows, sts = list(compress(rows, keep)), list(compress(sts, keep))
            if rows:
                norm = st._norm

                def delivery_key(pair: tuple[str, str]) -> tuple[str, str]:   # (status, rest of the line)
                    status, rest = pair
                    return (status, norm(rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()))

                rks = _cached_keys(list(map(_I12, rows)), self.reason_keys, delivery_key)
                if nd:
                    t["deferrals"] += nd
                    all_counts["deferred"] += nd
                if nb:
                    t["bounced"] += nb
                    all_counts["bounced"] += nb
                _count_reasons(None if self.doomed else list(map(_FIRST, rows)), rks, sts, st.reasons)
            self.b_reasons.clear()

    def _count_final(self, bks: list, rows: list[tuple], sent: bool) -> None:
        """Final deliveries ``(to, relay, delay text, ...)`` in minute buckets ``bks``: what
        ``LogStats._delivery`` counts for sent ones (``sent``) and ``_final_delay`` for both. The
        recipients are counted in C (``Counter.update`` of their normalised forms, known per distinct
        address); the histograms into counters of distinct keys (delay text; (relay, text); (recipient
        domain, text)), turned into ``LogStats``' histograms by ``_fold`` when they grow large and at the
        end of the input; each minute's (delay, relay, domain) list gets its rows."""
        st = self.stats
        tos = list(map(_FIRST, rows))
        addrs = self.addrs
        if len(addrs) > CACHE_MAX:
            addrs.clear()
        for to in set(tos):
            if to not in addrs:
                addr = _norm_addr(to)
                if addr == to:
                    addr = to                   # one string object for both (memory)
                i = addr.find("@")
                addrs[to] = (addr, addr[i + 1:] if i > 0 else addr)
        nas = list(map(addrs.__getitem__, tos))
        doms = list(map(_SECOND, nas))
        doomed = self.doomed
        if sent:
            n = len(rows)
            st._t["delivered"] += n
            st.all_counts["delivered"] += n
            if not doomed:
                for b, c in Counter(bks).items():
                    b.c["delivered"] += c
            st.recipients.update(map(_FIRST, nas))
            st.recipient_domains.update(doms)
        texts = list(map(_I2, rows))
        dmap = self._delay_map(texts)
        if None in dmap.values():                  # delays that are no number: not counted
            keep = list(map(dmap.__getitem__, texts))
            rows = list(compress(rows, keep))
            bks = list(compress(bks, keep))
            doms = list(compress(doms, keep))
            texts = list(compress(texts, keep))
            if not rows:
                return
        relays = list(map(_SECOND, rows))
        self.c_text.update(texts)
        self.c_relay.update(zip(relays, texts, strict=True))
        self.c_dom.update(zip(doms, texts, strict=True))
        if len(self.c_relay) + len(self.c_dom) > FOLD_KEYS:
            self._fold()
        if doomed:
            return
        samples = list(zip(map(_FIRST, map(dmap.__getitem__, texts)), relays, doms, strict=True))
        first = bks[0]
        if bks.count(first) == len(bks):
            first.delays.extend(samples)
            return
        at = 0
        for b, grp in groupby(bks):
            n = len(list(grp))
            b.delays.extend(samples[at:at + n])
            at += n

    def _fold(self) -> None:
        """``_count_final``'s counters of distinct keys into ``LogStats``' histograms (per distinct key)."""
        st = self.stats
        if not self.c_text:
            return
        dmap = self._delay_map(self.c_text)
        _hist_counts(st.hist_all, [(dmap[k], c) for k, c in self.c_text.items()])
        for hists, counts in ((st.hist_relay, self.c_relay), (st.hist_domain, self.c_dom)):
            per: dict[str, list] = {}
            for (k, text), c in counts.items():
                lst = per.get(k)
                if lst is None:
                    lst = per[k] = []
                lst.append((dmap[text], c))
            for k, lst in per.items():
                h = hists.get(k)
                if h is None:
                    h = hists[k] = _Hist()
                _hist_counts(h, lst)
            counts.clear()
        self.c_text.clear()

    def _feed_lines(self, parser: P.LineParser, batches: Iterable[tuple[list[str], bool]]) -> None:  # noqa: C901, PLR0912, PLR0915
        """Line batches, in order, line by line. One long function: local names are what makes it fast.

        Each branch below mirrors, step by step, what ``LineParser.parse`` and ``LogStats.add`` (and
        its handlers, and ``FlowTracker.feed``) do for that line kind.
        """
        st = self.stats
        add = st.add
        parse = parser.parse
        flows: ReportFlows = st.flows  # type: ignore[assignment]
        live = flows._live
        t = st._t
        all_counts = st.all_counts
        senders, sending_domains = st.senders, st.sending_domains
        reasons = st.reasons
        login_clients = st.login_clients
        norm = st._norm
        minute_of = st._minute
        names, domains = self.names, self.domains
        name_of = self._name
        tscache = parser._ts_cache
        classic_ts = parser._classic_ts
        match = _LINE.match
        new_flow = _LeanFlow
        reject_smtpd = P._REJECT_SMTPD.match
        first_ts, last_ts = st.first_ts, st.last_ts
        f_last, f_next = flows._last_ts, flows._next_sweep
        carry, fresh, records = self.carry, self.fresh, self.records
        new_live = flows._new              # a message's first line: create, count the peak, evict
        # sent deliveries, counted per distinct (recipient, relay, delay) at the end of the batch or
        # before anything else that adds a delay (see _flush_sent)
        pend: list[tuple] = []
        pend_add = pend.append
        flush = self._flush_sent
        plain_names = self.plain_names
        sender_of = self.senders

        for lines, plain in batches:
            st.lines += len(lines)
            fast = 0
            for line in lines:
                m = match(line) if plain else None
                if m is not None:
                    k = m.lastindex
                    # lines that only count (most of a log), when their tag and stamp are known: what
                    # the general code below does for them, in fewer steps
                    if ((k == K_PLAIN and m[_NAME] in plain_names)
                            or (k == K_DOVECOT and not m[_DSVC].endswith("-login"))):
                        ts = tscache.get(line[:15])
                        if ts is not None:
                            fast += 1
                            if ts > last_ts:
                                last_ts = ts
                            if ts < first_ts or not first_ts:
                                first_ts = ts
                            continue
                    if k < K_LOGIN:
                        info = names.get(m[_NAME], False)
                        if info is False:
                            info = name_of(parser, m[_NAME])
                        if info is _OTHER:
                            m = None
                    elif k == K_DOVECOT and m[_DSVC].endswith("-login"):
                        m = None
                if m is None:
                    # the full parser and LogStats.add, in this line's place
                    st.first_ts, st.last_ts = first_ts, last_ts
                    flows._last_ts, flows._next_sweep = f_last, f_next
                    st.lines -= 1
                    ev = parse(line)
                    if pend and ev.kind == DELIVERY:     # the pending ones' delays and recipients first
                        flush(pend)
                    if carry is None or not self._defer_line(ev, line):
                        add(ev)
                    first_ts, last_ts = st.first_ts, st.last_ts
                    f_last, f_next = flows._last_ts, flows._next_sweep
                    continue
                key = line[:15]
                ts = tscache.get(key)
                if ts is None:
                    ts = classic_ts(key)
                if ts is None or (k < K_LOGIN and info is None):
                    st.unparsed += 1
                    parser.unparsed += 1
                    continue
                fast += 1
                if k >= K_LOGIN:                                   # Dovecot
                    if ts > last_ts:
                        last_ts = ts
                    if ts < first_ts or not first_ts:
                        first_ts = ts
                    if k == K_LOGIN and m[_DSVC].endswith("-login"):   # LogStats._login
                        minute = st._cur
                        if minute is None or minute.minute != int(ts // 60):
                            minute = minute_of(ts)
                        ip = m[_RIP] or "?"
                        minute.c["logins"] += 1
                        minute.logins[ip] += 1
                        all_counts["logins"] += 1
                        login_clients[ip] += 1
                    continue
                if not info[3]:                                    # another Postfix instance
                    st.skipped += 1
                    continue
                if ts > last_ts:
                    last_ts = ts
                if ts < first_ts or not first_ts:
                    first_ts = ts
                if k == K_PLAIN:
                    if len(plain_names) > 1000:
                        plain_names.clear()
                    plain_names.add(m[_NAME])      # a known tag of a counted instance
                    continue
                if k == K_REJECT:            # LogStats._reject for a NOQUEUE reject (no flow)
                    minute = st._cur
                    if minute is None or minute.minute != int(ts // 60):
                        minute = minute_of(ts)
                    reason = m[_RJ]
                    if info[1] != "cleanup":
                        rm = reject_smtpd(reason)
                        if rm is not None:
                            reason = rm.group("reason")
                    t["rejected"] += 1
                    minute.c["rejected"] += 1
                    all_counts["rejected"] += 1
                    rkey = ("rejected", norm(reason))
                    minute.reasons[rkey] += 1
                    reasons[rkey] += 1
                    continue
                # a queue-ID line
                fkey = info[2] + m[_QIDG]
                if carry is not None and fkey not in fresh and _carried(carry, m[_QIDG]):
                    # fast_split's second part: what the line does to its flow waits for the replay
                    # (record); what it counts is counted here, against a stand-in flow that counts
                    # nothing (no size, already deferred, no origin)
                    if k == K_REMOVED:
                        fresh.add(fkey)
                        records.append(("R", fkey, ts))
                        continue
                    if k == K_QUEUED:
                        records.append(("Q", fkey, ts, m[_SENDER], int(m[_SIZE])))
                        continue
                    if k == K_DELIVERY:
                        status = m[_STATUS]
                        if status == "sent":
                            rest = m[_REST]
                            reason = rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()
                            records.append(("T" if "forwarded as " in reason else "S", fkey, ts))
                        else:
                            records.append(("D" if status == "deferred" else "T", fkey, ts))
                    elif k == K_CLIENT and info[1] in ("smtpd", "postscreen"):
                        client = m[_CLIENT]
                        c = client.find(", ")
                        if c >= 0:
                            client = client[:c]
                        dom = domains.get(client)
                        if dom is None:
                            if len(domains) > CACHE_MAX:
                                domains.clear()
                            dom = domains[client] = gimme_domain(client)
                        records.append(("C", fkey, ts, dom))
                    else:
                        records.append(("T", fkey, ts))
                    fl = new_flow(ts)
                    fl.deferred = True
                else:
                    if k == K_QUEUED:            # LogStats._queued looks the flow up before feeding it
                        flow = live.get(fkey)
                        if flow is None:
                            flow = new_live(fkey, ts)
                        first = not flow.size
                    if ts > f_last:              # FlowTracker.feed
                        f_last = ts
                        if ts >= f_next:
                            flows._sweep(ts)
                            f_next = flows._next_sweep
                    if k == K_REMOVED:
                        live.pop(fkey, None)
                        continue
                    fl = live.get(fkey)
                    if fl is None:
                        fl = new_live(fkey, ts)
                fl.last_seen = ts
                if k == K_FEED:
                    continue
                if k == K_DELIVERY:          # LogStats._delivery
                    minute = st._cur
                    if minute is None or minute.minute != int(ts // 60):
                        minute = minute_of(ts)
                    status = m[_STATUS]
                    rest = m[_REST]
                    if status == "sent":
                        if "forwarded as " in rest:
                            reason = rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()
                            if "forwarded as " in reason:
                                t["forwarded"] += 1
                                continue
                        pend_add((minute, m[_TO], m[_RELAY], m[_DELAY], fl.size, True))
                        continue
                    reason = rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()
                    if status == "deferred":
                        t["deferrals"] += 1
                        if not fl.deferred:
                            fl.deferred = True
                            t["deferred"] += 1
                        minute.c["deferred"] += 1
                        all_counts["deferred"] += 1
                        rkey = ("deferred", norm(reason))
                        minute.reasons[rkey] += 1
                        reasons[rkey] += 1
                        continue
                    elif status == "bounced":
                        t["bounced"] += 1
                        minute.c["bounced"] += 1
                        all_counts["bounced"] += 1
                        rkey = ("bounced", norm(reason))
                        minute.reasons[rkey] += 1
                        reasons[rkey] += 1
                        # its delay (LogStats._final_delay) in its place among the sent ones
                        pend_add((minute, m[_TO], m[_RELAY], m[_DELAY], None, False))
                elif k == K_QUEUED:
                    size = int(m[_SIZE])
                    if not fl.size:
                        fl.size = size
                    if first and flow.received:
                        sender = m[_SENDER]
                        na = sender_of.get(sender)
                        if na is None:
                            addr = _norm_addr(sender) if sender else "from=<>"
                            if len(sender_of) > CACHE_MAX:
                                sender_of.clear()
                            na = sender_of[sender] = (addr, _addr_domain(addr) or None)
                        addr, dom = na
                        if dom is None or not dom:
                            dom = addr if flow.received == "pickup" else flow.received
                        sending_domains[dom] += 1
                        senders[addr] += 1
                        t["bytes_received"] += size
                        flow.received = ""
                else:                        # K_CLIENT: LogStats._client
                    minute = st._cur
                    if minute is None or minute.minute != int(ts // 60):
                        minute = minute_of(ts)
                    if info[1] in ("smtpd", "postscreen"):
                        client = m[_CLIENT]
                        c = client.find(", ")
                        if c >= 0:
                            client = client[:c]
                        t["received"] += 1
                        minute.c["received"] += 1
                        all_counts["received"] += 1
                        dom = domains.get(client)
                        if dom is None:
                            if len(domains) > CACHE_MAX:
                                domains.clear()
                            dom = domains[client] = gimme_domain(client)
                        fl.received = dom
            if len(pend) > PEND_MAX:
                flush(pend)
            parser.parsed += fast
        if pend:
            flush(pend)
        st.first_ts, st.last_ts = first_ts, last_ts
        flows._last_ts, flows._next_sweep = f_last, f_next

    def _flush_sent(self, pend: list[tuple]) -> None:
        """Count the pending final deliveries ``(minute, to, relay, delay text, flow size, sent)`` (sent:
        what ``LogStats._delivery`` counts for a sent one; both: the delay, ``_final_delay``) as the
        line-by-line code would have. Nothing here depends on the order of the rows (the histograms'
        sums are integers of microseconds, the window's delay lists are sorted before use, the
        report sorts every top list), so it is counted per distinct key: Python work per distinct
        recipient, delay text, relay and domain, the rest in C (``Counter``, ``map``, ``zip``).
        Empties ``pend``."""
        st = self.stats
        addrs = self.addrs
        tos = list(map(_P_TO, pend))
        todom: dict[str, str] = {}
        toaddr: dict[str, str] = {}
        for to in dict.fromkeys(tos):
            na = addrs.get(to)
            if na is None:
                addr = _norm_addr(to)
                i = addr.find("@")
                if len(addrs) > CACHE_MAX:
                    addrs.clear()
                na = addrs[to] = (addr, addr[i + 1:] if i > 0 else addr)
            toaddr[to], todom[to] = na
        flags = list(map(_P_SENT, pend))
        sent = list(compress(pend, flags)) if False in flags else pend
        if sent:
            n = len(sent)
            st._t["delivered"] += n
            st.all_counts["delivered"] += n
            size = sum(filter(None, map(_P_SIZE, sent)))
            if size:
                st._t["bytes_delivered"] += size
            for minute, c in Counter(map(_P_MINUTE, sent)).items():
                minute.c["delivered"] += c
            recipients, recipient_domains = st.recipients, st.recipient_domains
            for to, c in Counter(compress(tos, flags) if sent is not pend else tos).items():
                recipients[toaddr[to]] += c
                recipient_domains[todom[to]] += c
        texts = list(map(_P_TEXT, pend))
        dmap = self._delay_map(texts)
        rows: list[tuple] = pend
        if None in dmap.values():
            keep = list(map(dmap.__getitem__, texts))
            rows = list(compress(pend, keep))
            tos = list(compress(tos, keep))
            texts = list(compress(texts, keep))
        if rows:
            self._count_delays(rows, tos, texts, dmap, todom)
        pend.clear()

    def _delay_map(self, texts: Iterable[str]) -> dict[str, tuple[float, int, int] | None]:
        """Each distinct delay text -> (delay, bucket, microseconds), None when it is no number (as the
        parser reads it: ``float``, finite; -0.0 as 0.0 like ``LogStats._final_delay``)."""
        delays = self.delays
        dmap: dict[str, tuple[float, int, int] | None] = {}
        for text in dict.fromkeys(texts):
            db = delays.get(text, False)
            if db is False:
                try:
                    d = float(text)
                except ValueError:
                    db = None
                else:
                    d += 0.0
                    db = (d, _bucket(d), delay_us(d)) if -_INF < d < _INF else None
                if len(delays) > CACHE_MAX:
                    delays.clear()
                delays[text] = db
            dmap[text] = db
        return dmap

    def _count_delays(self, rows: list[tuple], tos: list[str], texts: list[str],
                      dmap: dict[str, tuple[float, int, int] | None], todom: dict[str, str]) -> None:
        """``LogStats._final_delay`` for ``rows`` (``(minute, to, relay, text, ...)``, every text a
        number): the whole-input histograms per distinct text, (relay, text) and (recipient, text);
        each minute's (delay, relay, domain) list (any order: it is sorted before use)."""
        st = self.stats
        relays = list(map(_P_RELAY, rows))
        dget = dmap.__getitem__
        _hist_counts(st.hist_all, [(dget(k), c) for k, c in Counter(texts).items()])
        for hists, keys, keyf in ((st.hist_relay, relays, None), (st.hist_domain, tos, todom.__getitem__)):
            per: dict[str, list] = {}
            for (k, text), c in Counter(zip(keys, texts, strict=True)).items():
                if keyf is not None:
                    k = keyf(k)
                lst = per.get(k)
                if lst is None:
                    lst = per[k] = []
                lst.append((dget(text), c))
            for k, counts in per.items():
                h = hists.get(k)
                if h is None:
                    h = hists[k] = _Hist()
                _hist_counts(h, counts)
        samples = list(zip(map(_FIRST, map(dget, texts)), relays, map(todom.__getitem__, tos), strict=True))
        at = 0
        for minute, grp in groupby(map(_P_MINUTE, rows)):
            n = len(list(grp))
            minute.delays.extend(samples[at:at + n])
            at += n

    def _defer_line(self, ev: P.LogEvent, line: str) -> bool:
        """fast_split's second part: a line the full parser reads whose flow may have begun before this
        part waits, whole, for the replay (True); a final delivery's delay among them too (the delay
        sums are integers: any order gives the same)."""
        if not ev.queue_id or ev.kind == P.UNPARSED:
            return False
        st = self.stats
        if st.syslog_names and ev.program == "postfix" and not st._name_ok(ev.instance):
            return False
        key = st.flows._key(ev.instance, ev.queue_id)
        if key in self.fresh or not _carried(self.carry, ev.queue_id):
            return False
        if ev.kind == P.REMOVED:
            self.fresh.add(key)
        self.records.append(("L", line))
        return True

"""Statistics over a mail log: totals (pflogsumm-compatible), rolling windows, delays, reasons, logins.

``LogStats.add(event)`` takes parsed events in log order (``LineParser.parse``). Queries:

* ``totals()`` -> ``Totals``: the grand totals exactly as pflogsumm counts them (see docs/report.md for
  the few places where mailtop counts on purpose something more, in separate fields);
* ``counts(window)`` -> ``Counts``: received, delivered, deferred attempts, bounced, rejected, expired,
  logins and authentication failures in the last ``window`` seconds (``None``: the whole input);
* ``delays(window, by=None|"relay"|"domain")`` -> ``DelayStats`` (or a dict of them): p50, p90, p99 and
  max of the ``delay=`` of *final* deliveries (sent or bounced). Deferred attempts are never counted:
  their delay is only the time so far. Whole-input percentiles come from a log-bucket histogram
  (within 1 %); windowed ones are exact;
* ``top_reasons(category, window, n)``: normalised defer, bounce, reject and warning reasons
  (``mailtop.reasons.normalize_reason``);
* ``auth_failures(window)``, ``logins(window)``: by client address (Postfix SASL failures and Dovecot
  login failures; a brute-force burst stands out at the top);
* ``top_senders/top_recipients/top_domains(n)``.

``window_health(stats, window)`` and ``log_findings(stats, thresholds)`` give the defer and bounce
rates and auth-failure bursts of the last window, for the health checks; the rates are judged only
from ``thresholds.rate_min_attempts`` delivery attempts in the window (below it: OK, "too few attempts
to judge (N)"), so one bounce out of one attempt on a quiet server pages nobody.

Windows are counted in whole minutes: "the last 5 minutes" is the minute that holds "now" and the
four before it. "now" for the windows is ``clock()`` when a clock is given (the dashboard passes ``time.time``), else
the time of the latest event (a report over an old log looks at that log's last minutes).

Memory: windows keep one bucket per minute for ``window_max`` seconds (default one hour); whole-input
counters of addresses and reasons grow with the number of distinct values unless ``max_keys`` is set
(the dashboard sets it; the report does not, to match pflogsumm's counts of distinct senders).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from mailtop.logs import parse as P
from mailtop.logs.flows import FlowTracker, MessageFlow

__all__ = [
    "LogStats", "Totals", "Counts", "DelayStats", "WindowHealth", "window_health", "log_findings",
    "unreadable_finding", "gimme_domain", "WINDOWS",
]

WINDOWS: dict[str, float | None] = {"5m": 300.0, "1h": 3600.0, "all": None}

_HIST_BASE = 0.001
_HIST_RATIO = 1.02
_LOG_RATIO = math.log(_HIST_RATIO)


@dataclass(frozen=True, slots=True)
class Totals:
    """pflogsumm's "Grand Totals" (same names, same rules)."""

    received: int = 0
    delivered: int = 0
    forwarded: int = 0
    deferred: int = 0          # messages deferred at least once
    deferrals: int = 0         # deferred delivery attempts
    bounced: int = 0
    rejected: int = 0
    reject_warnings: int = 0
    held: int = 0
    discarded: int = 0
    bytes_received: int = 0
    bytes_delivered: int = 0
    senders: int = 0
    sending_domains: int = 0
    recipients: int = 0
    recipient_domains: int = 0


@dataclass(frozen=True, slots=True)
class Counts:
    """What happened in a window (delivery attempts per recipient, like the log)."""

    window: float | None
    received: int = 0
    delivered: int = 0
    deferred: int = 0
    bounced: int = 0
    rejected: int = 0
    reject_warnings: int = 0
    expired: int = 0
    logins: int = 0
    auth_failures: int = 0
    warnings: int = 0
    errors: int = 0            # fatal, panic, error lines


@dataclass(frozen=True, slots=True)
class DelayStats:
    count: int = 0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    mean: float = 0.0


@dataclass(frozen=True, slots=True)
class WindowHealth:
    """Rates of the last window, for the health checks."""

    window: float
    attempts: int                 # delivery attempts (sent + deferred + bounced)
    delivered: int
    deferred: int
    bounced: int
    defer_rate: float             # percent of attempts
    bounce_rate: float
    auth_failures: int
    auth_failures_by_client: tuple[tuple[str, int], ...]   # most first
    bursts: tuple[tuple[str, int], ...]                     # clients at or above ``burst``


def _bucket(v: float) -> int:
    return 0 if v <= _HIST_BASE else int(math.log(v / _HIST_BASE) / _LOG_RATIO) + 1


def delay_us(v: float) -> int:
    """A delay in whole microseconds: what the histograms sum. Postfix prints delays with at most
    ``delay_logging_resolution_limit`` (0..6) decimals, so for any delay below ~2e9 s this is the
    exact value of the logged text; a text with more decimals or an exponent is rounded to the
    microsecond. An integer sum is the same in any order: the report's means do not depend on the
    order deliveries are counted in (``mailtop.logs.fast`` counts them per distinct key)."""
    return round(v * 1_000_000)


class _Hist:
    """Log-bucket histogram of non-negative values: bounded memory, percentiles within 1 %.
    ``total_us``: the sum in whole microseconds (``delay_us``), exact and order-independent."""

    __slots__ = ("buckets", "count", "total_us", "max")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total_us = 0
        self.max = 0.0

    def add(self, v: float, b: int | None = None, us: int | None = None) -> None:
        if b is None:
            b = _bucket(v)
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.total_us += delay_us(v) if us is None else us
        if v > self.max:
            self.max = v

    def quantile(self, q: float) -> float:
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                if b == 0:
                    return 0.0
                mid = _HIST_BASE * _HIST_RATIO ** (b - 0.5)
                return min(mid, self.max)
        return self.max

    def stats(self) -> DelayStats:
        if not self.count:
            return DelayStats()
        return DelayStats(self.count, self.quantile(0.5), self.quantile(0.9), self.quantile(0.99), self.max,
                          self.total_us / self.count / 1e6)


def _exact(values: list[float]) -> DelayStats:
    """Exact statistics of ``values`` in any order: sorted first, so the float sum of the mean is
    the same whatever order the deliveries were counted in."""
    if not values:
        return DelayStats()
    values.sort()
    n = len(values)

    def q(p: float) -> float:
        return values[max(0, math.ceil(p * n) - 1)]

    return DelayStats(n, q(0.5), q(0.9), q(0.99), values[-1], sum(values) / n)


class _Minute:
    __slots__ = ("minute", "c", "delays", "reasons", "auth", "logins")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.c: Counter[str] = Counter()
        # (delay, relay, domain) of final deliveries; any order (queries sort the values first)
        self.delays: list[tuple[float, str, str]] = []
        self.reasons: Counter[tuple[str, str]] = Counter()
        self.auth: Counter[str] = Counter()
        self.logins: Counter[str] = Counter()


def _lower_ascii(s: str) -> str:
    return s.lower() if s.isascii() else "".join(c.lower() if c.isascii() else c for c in s)


def _norm_addr(addr: str) -> str:
    """pflogsumm: lower-case from the first '@' on (when something follows it)."""
    i = addr.find("@")
    if 0 <= i < len(addr) - 1:
        return addr[:i] + _lower_ascii(addr[i:])
    return addr


def _addr_domain(addr: str) -> str | None:
    """pflogsumm's ``s/^[^@]+\\@//``: the part after the first '@' when something precedes it."""
    i = addr.find("@")
    if i > 0:
        return addr[i + 1:]
    return None


_GD_IP = re.compile(r"^([^\[]*)\[((?:\d{1,3}\.){3}\d{1,3})\]")
_GD_SLASH = re.compile(r"^([^/]*)/([0-9a-f.:]+)", re.I)
_GD_ANY = re.compile(r"^([^\[(/]*)[\[(/]([^\])]+)[\])]:?\d*$")
_GD_TRIM = re.compile(r"^(.*)\.([^.]+)\.([^.]{3}|[^.]{2,3}\.[^.]{2})$")


def gimme_domain(client: str) -> str:
    """pflogsumm's ``gimme_domain``: a client ``name[addr]`` -> its domain (or the address)."""
    m = _GD_IP.match(client) or _GD_SLASH.match(client) or _GD_ANY.match(client)
    if m is None:
        return ""
    domain, ip = m.group(1), m.group(2)
    if domain in ("", "unknown"):
        return ip
    t = _GD_TRIM.match(domain)
    if t:
        return _lower_ascii(f"{t.group(2)}.{t.group(3)}")
    return domain


_ADDR_IN_REASON = re.compile(r"<[^<>\s]*@[^<>\s]*>")
_ATTEMPTS = re.compile(r"(\d+) attempts")


def _locked(method):  # noqa: ANN001, ANN202 - a plain decorator
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class LogStats:
    """Accumulates events; every query returns frozen records (or lists of tuples).

    Threads: feed it from one worker thread with ``add_all(batch)`` (which holds ``lock``); queries
    hold ``lock`` too, so the UI thread may query while the worker feeds. ``add`` (one event) takes
    no lock: use it only where nothing queries at the same time (reports, tests).

    ``syslog_names``: when given, Postfix lines of other instances are skipped (like pflogsumm's
    ``--syslog-name``): a name ``N`` accepts ``N`` and ``N/anything`` (``N/submission``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        window_max: float = 3600.0,
        max_keys: int | None = None,
        syslog_names: Iterable[str] = (),
        flows: FlowTracker | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.window_max = window_max
        self.max_keys = max_keys
        self.syslog_names = frozenset(syslog_names)
        self.flows = flows if flows is not None else FlowTracker()
        self.lines = 0
        self.unparsed = 0
        self.skipped = 0           # Postfix lines of instances not in syslog_names
        self.first_ts = 0.0
        self.last_ts = 0.0
        # pflogsumm totals
        self._t: Counter[str] = Counter()
        self.senders: Counter[str] = Counter()
        self.sending_domains: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()
        self.recipient_domains: Counter[str] = Counter()
        # whole-input extras
        self.all_counts: Counter[str] = Counter()
        self.reasons: Counter[tuple[str, str]] = Counter()
        self.auth: Counter[str] = Counter()
        self.login_clients: Counter[str] = Counter()
        self.hist_all = _Hist()
        self.hist_relay: dict[str, _Hist] = {}
        self.hist_domain: dict[str, _Hist] = {}
        self.services: Counter[str] = Counter()
        # windows
        self._minutes: deque[_Minute] = deque()
        self._cur: _Minute | None = None
        self._norm_cache: dict[str, str] = {}
        self._handlers: dict[str, Callable[[P.LogEvent, _Minute], None]] = {
            P.CLIENT: self._client, P.PICKUP: self._pickup, P.QUEUED: self._queued,
            P.DELIVERY: self._delivery, P.REJECT: self._reject, P.REJECT_WARNING: self._reject,
            P.HOLD: self._reject, P.DISCARD: self._reject, P.MILTER_REJECT: self._reject,
            P.EXPIRED: self._expired, P.AUTH_FAILED: self._auth_failed, P.LOGIN_FAILED: self._login_failed,
            P.LOGIN: self._login, P.WARNING: self._warning, P.FATAL: self._error, P.PANIC: self._error,
            P.ERROR: self._error,
        }

    # ------------------------------------------------------------------ feeding
    def add_all(self, events: Iterable[P.LogEvent]) -> None:
        with self.lock:
            add = self.add
            for ev in events:
                add(ev)

    def add(self, ev: P.LogEvent) -> None:
        self.lines += 1
        kind = ev.kind
        if kind == P.UNPARSED:
            self.unparsed += 1
            return
        if self.syslog_names and ev.program == "postfix" and not self._name_ok(ev.instance):
            self.skipped += 1
            return
        ts = ev.ts
        if ts > self.last_ts:
            self.last_ts = ts
        if ts < self.first_ts or not self.first_ts:
            self.first_ts = ts
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(ev, self._minute(ts))
        elif ev.queue_id:
            self.flows.feed(ev)

    def _name_ok(self, instance: str) -> bool:
        if instance in self.syslog_names:
            return True
        return instance.split("/", 1)[0] in self.syslog_names

    def _minute(self, ts: float) -> _Minute:
        m = int(ts // 60)
        cur = self._cur
        if cur is not None and cur.minute == m:
            return cur
        mins = self._minutes
        if not mins or m > mins[-1].minute:
            cur = _Minute(m)
            mins.append(cur)
            horizon = m - int(self.window_max // 60) - 1
            while mins and mins[0].minute < horizon:
                mins.popleft()
            self._cur = cur
            return cur
        # an older line (clock step, merged files): find its bucket, or make one in place
        keys = [b.minute for b in mins]
        i = bisect.bisect_left(keys, m)
        if i < len(mins) and mins[i].minute == m:
            return mins[i]
        b = _Minute(m)
        mins.insert(i, b)
        return b

    def _norm(self, text: str) -> str:
        key = _ADDR_IN_REASON.sub("<*>", text) if "@" in text else text
        cached = self._norm_cache.get(key)
        if cached is None:
            from mailtop.reasons import normalize_reason

            cached = normalize_reason(key)
            if len(self._norm_cache) > 20000:
                self._norm_cache.clear()
            self._norm_cache[key] = cached
        return cached

    def _bump(self, counter: Counter[str], key: str, n: int = 1) -> None:
        counter[key] += n
        if self.max_keys is not None and len(counter) > self.max_keys:
            keep = counter.most_common(self.max_keys // 2)
            counter.clear()
            counter.update(dict(keep))

    # ------------------------------------------------------------------ handlers
    def _client(self, ev: P.LogEvent, minute: _Minute) -> None:
        flow = self.flows.feed(ev)
        if ev.service in ("smtpd", "postscreen") and flow is not None:
            self._t["received"] += 1
            minute.c["received"] += 1
            self.all_counts["received"] += 1
            flow.received = gimme_domain(ev.client)

    def _pickup(self, ev: P.LogEvent, minute: _Minute) -> None:
        flow = self.flows.feed(ev)
        if flow is not None:
            self._t["received"] += 1
            minute.c["received"] += 1
            self.all_counts["received"] += 1
            flow.received = "pickup"

    def _queued(self, ev: P.LogEvent, minute: _Minute) -> None:
        flow = self.flows.flow_for(ev)
        first = not flow.size
        self.flows.feed(ev)
        if not first:
            return
        if flow.received:
            size = ev.size or 0
            addr = _norm_addr(ev.address) if ev.address else "from=<>"
            dom = _addr_domain(addr)
            if dom is None or not dom:
                dom = addr if flow.received == "pickup" else flow.received
            self._bump(self.sending_domains, dom)
            self._bump(self.senders, addr)
            self._t["bytes_received"] += size
            flow.received = ""

    def _delivery(self, ev: P.LogEvent, minute: _Minute) -> None:
        flow = self.flows.feed(ev)
        status = ev.status
        if status == "sent":
            if "forwarded as " in ev.reason:
                self._t["forwarded"] += 1
                return
            addr = _norm_addr(ev.address)
            i = addr.find("@")
            dom = addr[i + 1:] if i > 0 else addr
            self._t["delivered"] += 1
            self._bump(self.recipients, addr)
            self._bump(self.recipient_domains, dom)
            if flow is not None and flow.size:
                self._t["bytes_delivered"] += flow.size
            minute.c["delivered"] += 1
            self.all_counts["delivered"] += 1
            self._final_delay(ev, dom, minute)
        elif status == "deferred":
            self._t["deferrals"] += 1
            if flow is not None and not flow.deferred:
                flow.deferred = True
                self._t["deferred"] += 1
            minute.c["deferred"] += 1
            self.all_counts["deferred"] += 1
            key = ("deferred", self._norm(ev.reason))
            minute.reasons[key] += 1
            self.reasons[key] += 1
        elif status == "bounced":
            self._t["bounced"] += 1
            minute.c["bounced"] += 1
            self.all_counts["bounced"] += 1
            key = ("bounced", self._norm(ev.reason))
            minute.reasons[key] += 1
            self.reasons[key] += 1
            addr = _norm_addr(ev.address)
            i = addr.find("@")
            self._final_delay(ev, addr[i + 1:] if i > 0 else addr, minute)

    def _final_delay(self, ev: P.LogEvent, domain: str, minute: _Minute) -> None:
        d = ev.delay
        if d is None:
            return
        d += 0.0               # -0.0 -> 0.0: equal values are then the same value in any order
        relay = ev.relay
        minute.delays.append((d, relay, domain))
        b = _bucket(d)
        us = delay_us(d)
        self.hist_all.add(d, b, us)
        h = self.hist_relay.get(relay)
        if h is None:
            if self.max_keys is not None and len(self.hist_relay) >= self.max_keys:
                h = None
            else:
                h = self.hist_relay[relay] = _Hist()
        if h is not None:
            h.add(d, b, us)
        h = self.hist_domain.get(domain)
        if h is None and (self.max_keys is None or len(self.hist_domain) < self.max_keys):
            h = self.hist_domain[domain] = _Hist()
        if h is not None:
            h.add(d, b, us)

    def _reject(self, ev: P.LogEvent, minute: _Minute) -> None:
        kind = ev.kind
        if ev.queue_id:
            self.flows.feed(ev)
        if ev.service == "cleanup":
            counted = ev.status in ("header", "body", "END-OF-MESSAGE") or not ev.queue_id
        else:
            counted = kind != P.MILTER_REJECT
        total_key = {P.REJECT: "rejected", P.MILTER_REJECT: "rejected", P.REJECT_WARNING: "reject_warnings",
                     P.HOLD: "held", P.DISCARD: "discarded"}[kind]
        if counted:
            self._t[total_key] += 1
        else:
            self.all_counts["milter_rejected_smtpd"] += 1
        minute.c[total_key] += 1
        self.all_counts[total_key] += 1
        category = "rejected" if total_key == "rejected" else total_key
        key = (category, self._norm(ev.reason))
        minute.reasons[key] += 1
        self.reasons[key] += 1

    def _expired(self, ev: P.LogEvent, minute: _Minute) -> None:
        self.flows.feed(ev)
        minute.c["expired"] += 1
        self.all_counts["expired"] += 1

    def _auth_failed(self, ev: P.LogEvent, minute: _Minute) -> None:
        ip = ev.client_ip or "?"
        minute.c["auth_failures"] += 1
        minute.auth[ip] += 1
        self.all_counts["auth_failures"] += 1
        self._bump(self.auth, ip)

    def _login_failed(self, ev: P.LogEvent, minute: _Minute) -> None:
        m = _ATTEMPTS.search(ev.reason)
        n = int(m.group(1)) if m else 1
        n = max(1, n)
        ip = ev.client_ip or "?"
        minute.c["auth_failures"] += n
        minute.auth[ip] += n
        self.all_counts["auth_failures"] += n
        self._bump(self.auth, ip, n)

    def _login(self, ev: P.LogEvent, minute: _Minute) -> None:
        ip = ev.client_ip or "?"
        minute.c["logins"] += 1
        minute.logins[ip] += 1
        self.all_counts["logins"] += 1
        self._bump(self.login_clients, ip)

    def _warning(self, ev: P.LogEvent, minute: _Minute) -> None:
        if ev.queue_id:
            self.flows.feed(ev)
        minute.c["warnings"] += 1
        self.all_counts["warnings"] += 1
        key = ("warning", self._norm(ev.reason))
        minute.reasons[key] += 1
        self.reasons[key] += 1

    def _error(self, ev: P.LogEvent, minute: _Minute) -> None:
        minute.c["errors"] += 1
        self.all_counts["errors"] += 1
        key = (ev.kind, self._norm(ev.reason))
        minute.reasons[key] += 1
        self.reasons[key] += 1

    # ------------------------------------------------------------------ queries
    def now(self) -> float:
        return self.clock() if self.clock is not None else self.last_ts

    def _window(self, window: float | None, now: float | None) -> list[_Minute] | None:
        """The minute buckets inside the window, or None for the whole input."""
        if window is None:
            return None
        if window > self.window_max:
            raise ValueError(f"window {window:g} s is longer than the {self.window_max:g} s kept")
        t = self.now() if now is None else now
        first = int((t - window) // 60)
        last = int(t // 60)
        return [b for b in self._minutes if first < b.minute <= last] if window >= 60 else [
            b for b in self._minutes if b.minute == last]

    @_locked
    def totals(self) -> Totals:
        t = self._t
        return Totals(
            received=t["received"], delivered=t["delivered"], forwarded=t["forwarded"], deferred=t["deferred"],
            deferrals=t["deferrals"], bounced=t["bounced"], rejected=t["rejected"],
            reject_warnings=t["reject_warnings"], held=t["held"], discarded=t["discarded"],
            bytes_received=t["bytes_received"], bytes_delivered=t["bytes_delivered"], senders=len(self.senders),
            sending_domains=len(self.sending_domains), recipients=len(self.recipients),
            recipient_domains=len(self.recipient_domains),
        )

    @_locked
    def counts(self, window: float | None = None, now: float | None = None) -> Counts:
        buckets = self._window(window, now)
        if buckets is None:
            c = self.all_counts
        else:
            c = Counter()
            for b in buckets:
                c.update(b.c)
        return Counts(window, c["received"], c["delivered"], c["deferred"], c["bounced"], c["rejected"],
                      c["reject_warnings"], c["expired"], c["logins"], c["auth_failures"], c["warnings"],
                      c["errors"])

    @_locked
    def delays(self, window: float | None = None, by: str | None = None,
               now: float | None = None, top: int | None = None) -> DelayStats | dict[str, DelayStats]:
        """Delay percentiles of final deliveries; ``by`` = None, ``"relay"`` or ``"domain"``; with
        ``top``, only the ``top`` relays or domains with the most deliveries (ties by name)."""
        if by not in (None, "relay", "domain"):
            raise ValueError(f"by must be None, 'relay' or 'domain', not {by!r}")
        buckets = self._window(window, now)
        if buckets is None:
            if by is None:
                return self.hist_all.stats()
            hists = self.hist_relay if by == "relay" else self.hist_domain
            keys = hists if top is None else [k for k, _ in _top({k: h.count for k, h in hists.items()}, top)]
            return {k: hists[k].stats() for k in keys}
        if by is None:
            return _exact([d for b in buckets for d, _, _ in b.delays])
        idx = 1 if by == "relay" else 2
        groups: dict[str, list[float]] = {}
        for b in buckets:
            for sample in b.delays:
                groups.setdefault(sample[idx], []).append(sample[0])
        if top is not None:
            groups = {k: groups[k] for k, _ in _top({k: len(v) for k, v in groups.items()}, top)}
        return {k: _exact(v) for k, v in groups.items()}

    @_locked
    def top_reasons(self, category: str | None = None, window: float | None = None, n: int = 10,
                    now: float | None = None) -> list[tuple[str, str, int]]:
        """``[(category, reason, count)]``, most first. Categories: deferred, bounced, rejected,
        reject_warnings, held, discarded, warning, fatal, panic, error."""
        buckets = self._window(window, now)
        if buckets is None:
            src: Counter[tuple[str, str]] = self.reasons
        else:
            src = Counter()
            for b in buckets:
                src.update(b.reasons)
        items = [(k, v) for k, v in src.items() if category is None or k[0] == category]
        items.sort(key=lambda kv: (-kv[1], kv[0]))
        return [(k[0], k[1], v) for k, v in items[:n]]

    def auth_failures(self, window: float | None = None, n: int = 10, now: float | None = None
                      ) -> list[tuple[str, int]]:
        return self._by_client("auth", window, n, now)

    def logins(self, window: float | None = None, n: int = 10, now: float | None = None) -> list[tuple[str, int]]:
        return self._by_client("logins", window, n, now)

    @_locked
    def _by_client(self, attr: str, window: float | None, n: int, now: float | None) -> list[tuple[str, int]]:
        buckets = self._window(window, now)
        if buckets is None:
            src: Counter[str] = self.auth if attr == "auth" else self.login_clients
        else:
            src = Counter()
            for b in buckets:
                src.update(getattr(b, attr))
        return sorted(src.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    @_locked
    def top_senders(self, n: int = 10) -> list[tuple[str, int]]:
        return _top(self.senders, n)

    @_locked
    def top_recipients(self, n: int = 10) -> list[tuple[str, int]]:
        return _top(self.recipients, n)

    @_locked
    def top_domains(self, n: int = 10) -> list[tuple[str, int]]:
        """Recipient domains of delivered mail."""
        return _top(self.recipient_domains, n)

    @_locked
    def top_sending_domains(self, n: int = 10) -> list[tuple[str, int]]:
        return _top(self.sending_domains, n)

    @_locked
    def recent_flows(self, n: int = 50) -> list[MessageFlow]:
        """The last ``n`` finished messages, newest first."""
        out = list(self.flows.finished)[-n:]
        out.reverse()
        return out


def _top(counter: Mapping[str, int], n: int) -> list[tuple[str, int]]:
    """The ``n`` largest ``(key, count)``, most first, ties by key. Only the items at or above the
    n-th largest count are sorted with the key (a real log's tens of thousands of addresses)."""
    if n <= 0:
        return []
    if len(counter) > 4 * n + 64:
        floor = sorted(counter.values(), reverse=True)[n - 1]
        items = [kv for kv in counter.items() if kv[1] >= floor]
    else:
        items = list(counter.items())
    items.sort(key=lambda kv: (-kv[1], kv[0]))
    return items[:n]


# ----------------------------------------------------------------------------- health


def window_health(stats: LogStats, window: float = 300.0, burst: int = 20, now: float | None = None
                  ) -> WindowHealth:
    """Defer and bounce rates and authentication-failure bursts over the last ``window`` seconds."""
    c = stats.counts(window, now)
    attempts = c.delivered + c.deferred + c.bounced
    by_client = tuple(stats.auth_failures(window, n=50, now=now))
    return WindowHealth(
        window=window, attempts=attempts, delivered=c.delivered, deferred=c.deferred, bounced=c.bounced,
        defer_rate=100.0 * c.deferred / attempts if attempts else 0.0,
        bounce_rate=100.0 * c.bounced / attempts if attempts else 0.0,
        auth_failures=c.auth_failures, auth_failures_by_client=by_client,
        bursts=tuple((ip, k) for ip, k in by_client if k >= burst),
    )


def log_findings(stats: LogStats, thresholds, now: float | None = None) -> list:
    """``Finding``s for the defer rate, bounce rate and auth-failure bursts of the last
    ``thresholds.log_window`` seconds (``thresholds`` is ``Config.thresholds``)."""
    from mailtop.model import Finding, Metric, Status

    win = float(thresholds.log_window)
    h = window_health(stats, min(win, stats.window_max), burst=int(thresholds.auth_failures_warn), now=now)
    out = []
    minutes = f"{win / 60:g} min"
    # A rate needs a sample: one bounce out of one attempt is 100 %, which says nothing on a quiet server.
    min_attempts = int(thresholds.rate_min_attempts)
    too_few = h.attempts < min_attempts
    for name, rate, warn, crit in (
        ("defer_rate", h.defer_rate, thresholds.defer_rate_warn, thresholds.defer_rate_crit),
        ("bounce_rate", h.bounce_rate, thresholds.bounce_rate_warn, thresholds.bounce_rate_crit),
    ):
        status = Status.CRITICAL if rate >= crit else Status.WARNING if rate >= warn else Status.OK
        what = "deferred" if name == "defer_rate" else "bounced"
        n = h.deferred if name == "defer_rate" else h.bounced
        summary = f"{rate:.1f}% of {h.attempts} delivery attempts {what} in the last {minutes}"
        if too_few:
            status = Status.OK
            summary = f"too few attempts to judge ({h.attempts}): {n} of {h.attempts} delivery attempts {what} " \
                      f"in the last {minutes}"
        hint = ""
        if status != Status.OK:
            top = stats.top_reasons(what, win, 1, now=now)
            hint = f"most common reason: {top[0][1]}" if top else ""
        out.append(Finding(
            id=f"logs.{name}", status=status, summary=summary,
            details=f"{n} {what}, {h.delivered} delivered" + (
                f"; rates are judged from {min_attempts} attempts (thresholds.rate_min_attempts)" if too_few else ""),
            hint=hint,
            metrics=(Metric(name, round(rate, 2), "%", warn, crit, 0, 100),),
            data={"attempts": h.attempts, "min_attempts": min_attempts},
        ))
    worst = h.auth_failures_by_client[0] if h.auth_failures_by_client else ("", 0)
    crit_n, warn_n = thresholds.auth_failures_crit, thresholds.auth_failures_warn
    status = Status.CRITICAL if worst[1] >= crit_n else Status.WARNING if worst[1] >= warn_n else Status.OK
    summary = (f"{worst[1]} authentication failures from {worst[0]} in the last {minutes}" if worst[1]
               else f"no authentication failures in the last {minutes}")
    out.append(Finding(
        id="logs.auth_failures", status=status, summary=summary,
        details=", ".join(f"{ip}: {k}" for ip, k in h.auth_failures_by_client[:10]),
        hint="a brute-force attempt? block the address (fail2ban, firewall) or check the client's password"
        if status != Status.OK else "",
        metrics=(Metric("auth_failures_max_client", worst[1], "", warn_n, crit_n, 0),
                 Metric("auth_failures", h.auth_failures, "", None, None, 0)),
        data={"by_client": dict(h.auth_failures_by_client)},
    ))
    return out


def unreadable_finding(path: str, error: OSError):
    """A finding for a mail log that cannot be read, saying what to do."""
    from mailtop.model import Finding, Status

    return Finding(
        id="logs.readable", status=Status.UNKNOWN,
        summary=f"cannot read the mail log {path}: {error.strerror or error}",
        details=str(error),
        hint="run mailtop as root, or add your user to the group that owns the log (usually 'adm': "
             "sudo usermod -aG adm $USER, then log in again); or set [logs] files / journal = true",
    )


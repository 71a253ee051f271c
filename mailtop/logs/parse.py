"""Mail log line -> ``LogEvent``: Postfix and Dovecot, classic syslog and RFC 3339 timestamps.

Accepted line shapes (all as found on real hosts; the tests hold captured samples of each)::

    Nov 25 18:04:24 mail postfix-lab/smtpd[11795]: 2FB905143E6: client=unknown[127.0.0.1]      classic syslog / postlogd
    Nov  5 08:00:00.123456 mail postfix/qmgr[7]: ...                                          classic with fraction
    2025-11-25T18:04:24.123456+01:00 mail postfix/submission/smtpd[9]: ...                   RFC 3339 (rsyslog default)
    Nov 25 18:04:24 mail dovecot: imap-login: Login: user=<alice>, ...                        Dovecot via syslog
    Nov 25 18:04:24 imap-login: Info: Login: user=<alice>, ...                                Dovecot's own log_path file

The Postfix ``syslog_name`` may be anything (``postfix``, ``postfix-lab``, ``postfix/submission``,
``mx2/smtps``): a line is Postfix when the last ``/`` component of its tag names a Postfix daemon
(``smtpd``, ``qmgr``, ...) or its first component starts with ``postfix``. ``LogEvent.instance`` keeps
the syslog_name without the daemon (``postfix-lab/submission``), ``LogEvent.service`` the daemon.

Short (hex, 6-21 characters: 13 and more on XFS and other file systems with large inode numbers) and
long (``enable_long_queue_ids``) queue IDs are both recognised, by ``mailtop.queueid.is_queue_id``, the
validator the queue actions use too.

Classic timestamps carry no year: ``YearGuesser`` picks one from a reference time (the file's
modification time, or now) so that a line is never more than a day in the future, and moves to the
next year when the months wrap from December to January while reading forward.

Nothing here raises on any input: a line that cannot be read is an event of kind ``UNPARSED``.
Text taken from a log line is data; front ends must show it literally (never as markup).
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import datetime
from typing import NamedTuple

from mailtop.queueid import MAX_LEN as _QID_MAX
from mailtop.queueid import is_queue_id

__all__ = [
    "LogEvent", "LineParser", "YearGuesser", "parse_line", "is_queue_id", "MAX_LINE",
    "POSTFIX_SERVICES", "Delays",
]

MAX_LINE = 32 * 1024
"""Longer lines are not parsed (kind ``UNPARSED``): no real Postfix or Dovecot line is that long."""

# ----------------------------------------------------------------------------- kinds
# Postfix
CONNECT = "connect"                # smtpd/postscreen: connect from NAME[ADDR]
DISCONNECT = "disconnect"          # smtpd: disconnect from NAME[ADDR] ehlo=1 ... commands=N
LOST = "lost"                      # smtpd: lost connection after X from NAME[ADDR]
CLIENT = "client"                  # smtpd: QID: client=NAME[ADDR][, sasl_method=..., sasl_username=...]
PICKUP = "pickup"                  # pickup: QID: uid=0 from=<root>
MESSAGE_ID = "message-id"          # cleanup: QID: message-id=<...>
QUEUED = "queued"                  # qmgr: QID: from=<s>, size=N, nrcpt=N (queue active)
DELIVERY = "delivery"              # smtp/lmtp/local/virtual/pipe/error: QID: to=<r>, relay=..., status=...
EXPIRED = "expired"                # qmgr: QID: from=<s>, status=expired, returned to sender
REMOVED = "removed"                # qmgr: QID: removed
NOTIFY = "notify"                  # bounce: QID: sender non-delivery notification: QID2
REJECT = "reject"                  # smtpd/postscreen/cleanup: [NOQUEUE|QID]: reject: ...
REJECT_WARNING = "reject_warning"
HOLD = "hold"
DISCARD = "discard"
MILTER_REJECT = "milter-reject"    # smtpd: QID: milter-reject: END-OF-MESSAGE from ...
AUTH_FAILED = "auth-failed"        # smtpd: warning: NAME[ADDR]: SASL LOGIN authentication failed: ...
WARNING = "warning"
ERROR = "error"
FATAL = "fatal"
PANIC = "panic"
POSTSCREEN = "postscreen"          # postscreen verdicts (PASS NEW, DNSBL rank, PREGREET, ...)
STATISTICS = "statistics"          # anvil: statistics: max connection rate ...
INFO = "info"                      # any other well-formed Postfix line
# Dovecot
LOGIN = "login"                    # imap-login/pop3-login/submission-login: Login: user=<u>, ..., rip=ADDR
LOGIN_FAILED = "login-failed"      # *-login: Disconnected (auth failed, N attempts ...): user=<u>, ..., rip=ADDR
LOGIN_DISCONNECT = "login-disconnect"  # *-login: Disconnected (no auth attempts ...)
LOGOUT = "logout"                  # imap(u)/pop3(u): Disconnected: Logged out in=.. out=..
SAVED = "saved"                    # lmtp(u)/lda(u): msgid=<..>: saved mail to MAILBOX
QUOTA = "quota"                    # lmtp(u): ... Quota exceeded ...
AUTH = "auth"                      # auth: passwd-file(u,ADDR): unknown user / Password mismatch
DOVECOT = "dovecot"                # any other Dovecot line
UNPARSED = "unparsed"

FINAL_STATUSES = frozenset({"sent", "bounced"})

POSTFIX_SERVICES = frozenset({
    "smtpd", "postscreen", "cleanup", "qmgr", "nqmgr", "oqmgr", "pickup", "smtp", "lmtp", "local", "virtual",
    "pipe", "bounce", "defer", "trace", "error", "retry", "discard", "anvil", "master", "postfix-script",
    "postsuper", "postqueue", "postdrop", "sendmail", "tlsmgr", "tlsproxy", "verify", "scache", "showq",
    "flush", "dnsblog", "proxymap", "postmap", "postalias", "postlog", "postlogd", "spawn", "qmqpd",
    "policy-spf", "postmulti", "postconf", "smtp-sink", "smtp-source", "postkick", "postcat",
})

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


_DELIVERY = re.compile(
    r"to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig>[^>]*)>, )?relay=(?P<relay>[^,]+), "
    r"(?:conn_use=(?P<conn>[^,]+), )?delay=(?P<delay>[^,]+), (?:delays=(?P<delays>[^,]+), )?"
    r"(?:dsn=(?P<dsn>[^,]+), )?status=(?P<status>\S+)(?P<rest>.*)\Z",
    re.S,
)
_QUEUED = re.compile(r"from=<(?P<from>[^>]*)>, size=(?P<size>\d+)(?:, nrcpt=(?P<nrcpt>\d+))?")
_REJECT_SMTPD = re.compile(
    r"(?P<stage>\S+) from (?P<client>\S+?): (?P<reason>.*?)(?:; from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?"
    r"(?: proto=(?P<proto>\S+))?(?: helo=<(?P<helo>[^>]*)>)?)?\Z",
    re.S,
)
_CLEANUP_REJECT = re.compile(
    r"(?P<what>header|body|END-OF-MESSAGE) (?P<reason>.*?)(?:; from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?.*)?\Z",
    re.S,
)
_SASL_FAIL = re.compile(r"(?P<client>\S+?\[[^\]]*\]): SASL (?P<method>\S+) authentication failed")
_KV = re.compile(r"(\w+)=<([^>]*)>|(\w+)=([^,\s]*)")
_DOVECOT_TAG = re.compile(r"(?P<svc>[\w-]+)(?:\((?P<who>[^)]*)\))?(?:<(?P<pid>\d+)>)?(?:<(?P<sess>[^>]*)>)?\Z")
_DOVECOT_LEVELS = ("Info: ", "Warning: ", "Error: ", "Fatal: ", "Panic: ", "Debug: ")


class Delays(NamedTuple):
    """Postfix ``delays=a/b/c/d``: before the queue manager, in the queue manager, connection set-up,
    transmission (seconds)."""

    before_qmgr: float
    in_qmgr: float
    connect: float
    transmit: float


class LogEvent(NamedTuple):
    """One log line, read. Fields that do not apply are empty (``""``, ``None``, ``0``).

    ``kind`` is one of the constants of this module (``DELIVERY``, ``REJECT``, ``LOGIN_FAILED``, ...).
    ``address`` is the sender (``QUEUED``, ``PICKUP``, ``EXPIRED``), the recipient (``DELIVERY``, ``REJECT``
    when the line has ``to=<>``) or the login user (Dovecot). ``client`` is ``name[addr]``, ``client_ip``
    the address alone. ``reason`` is the text in parentheses after ``status=`` or the reject text.
    ``line`` is the whole line (without the newline), for trace and the log view.
    """

    ts: float
    kind: str
    line: str
    host: str = ""
    program: str = ""          # "postfix" or "dovecot" (or "" when unknown)
    instance: str = ""         # Postfix syslog_name (postfix-lab, postfix/submission); Dovecot: ""
    service: str = ""          # smtpd, qmgr, lmtp, imap-login, auth, ...
    pid: int = 0
    queue_id: str = ""
    text: str = ""             # the message after "tag: " (and after "QID: " for Postfix)
    address: str = ""
    client: str = ""
    client_ip: str = ""
    status: str = ""
    relay: str = ""
    delay: float | None = None
    delays: str = ""           # raw "a/b/c/d"; see split_delays()
    dsn: str = ""
    size: int | None = None
    reason: str = ""
    message_id: str = ""
    user: str = ""             # SASL user (smtpd client=), Dovecot user
    orig_to: str = ""
    linked_queue_id: str = ""  # NOTIFY: the notification's queue ID; DELIVERY "forwarded as" QID2

    def split_delays(self) -> Delays | None:
        """``delays=a/b/c/d`` as numbers (None when the line has none)."""
        return _delays(self.delays)

    @property
    def is_final(self) -> bool:
        """A delivery attempt that ends this recipient's life (sent or bounced)."""
        return self.kind == DELIVERY and self.status in FINAL_STATUSES


class YearGuesser:
    """The year of a classic (year-less) timestamp.

    ``reference`` is a time the log cannot be (much) later than: the file's mtime, or now. The first
    line gets the latest year that does not put it more than a day after the reference. Reading on,
    a jump from a late month back to an early one (December -> January) moves to the next year; a
    line slightly out of order across New Year keeps the previous year.
    """

    def __init__(self, reference: float | None = None) -> None:
        ref = time.time() if reference is None else reference
        lt = time.localtime(ref + 86400)
        self._ref_year = lt.tm_year
        self._ref_key = (lt.tm_mon, lt.tm_mday)
        self._year = 0
        self._month = 0

    def year(self, month: int, day: int) -> int:
        if not self._year:
            self._year = self._ref_year if (month, day) <= self._ref_key else self._ref_year - 1
            self._month = month
            return self._year
        last = self._month
        if month == last:
            return self._year
        if month < last and last - month >= 6:   # Dec -> Jan: a new year
            self._year += 1
            self._month = month
            return self._year
        if month > last and month - last >= 6:   # Jan -> Dec: an older straggler
            return self._year - 1
        self._month = month
        return self._year


def _delays(text: str | None) -> Delays | None:
    if not text:
        return None
    parts = text.split("/")
    if len(parts) != 4:
        return None
    try:
        return Delays(float(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]))
    except ValueError:
        return None


def _client_ip(client: str) -> str:
    i = client.find("[")
    if i < 0:
        return client
    j = client.find("]", i)
    return client[i + 1:j] if j > i else client[i + 1:]


_tn = tuple.__new__
_QID_WINDOW = _QID_MAX + 2      # "QID: " is looked for only where a queue ID can end
_INF = float("inf")


class LineParser:
    """Parses lines one at a time. Keeps the year guess and a small timestamp cache; one per input.

    ``parse(line)`` never raises; lines longer than ``MAX_LINE`` and lines that are neither Postfix
    nor Dovecot give ``kind == UNPARSED``. ``parsed``/``unparsed`` count what it saw.
    """

    def __init__(self, reference_time: float | None = None) -> None:
        self.years = YearGuesser(reference_time)
        self._ts_cache: dict[str, float] = {}
        self._min_cache: dict[str, float] = {}
        self._names: dict[str, tuple[str, str] | None] = {}
        self.parsed = 0
        self.unparsed = 0

    # ------------------------------------------------------------------ timestamps
    def _classic_ts(self, key: str) -> float | None:
        """``key`` = 'Mmm dd HH:MM:SS' (15 characters); None when it is not a timestamp.

        The start of each minute is computed once (``mktime`` and the year guess); seconds are added.
        """
        ss_text = key[13:15]
        if key[12:13] != ":" or not (ss_text.isdigit() and ss_text.isascii()):
            return None
        ss = int(ss_text)
        if ss > 60:
            return None
        mkey = key[:12]
        base = self._min_cache.get(mkey)
        if base is None:
            base = self._minute_start(mkey)
            if base is None:
                return None
        ts = base + ss
        if len(self._ts_cache) > 4096:
            self._ts_cache.clear()
        self._ts_cache[key] = ts
        return ts

    def _minute_start(self, mkey: str) -> float | None:
        month = _MONTHS.get(mkey[:3])
        if month is None or mkey[3] != " " or mkey[6] != " " or mkey[9] != ":":
            return None
        d = mkey[4:6]
        if d[0] == " ":
            d = d[1]
        hm = mkey[7:9] + mkey[10:12]
        if not (d.isdigit() and d.isascii() and hm.isdigit() and hm.isascii()):
            return None
        day = int(d)
        hh, mm = int(hm[:2]), int(hm[2:])
        if not (1 <= day <= 31 and hh < 24 and mm < 60):
            return None
        year = self.years.year(month, day)
        try:
            base = time.mktime((year, month, day, hh, mm, 0, 0, 0, -1))
        except (OverflowError, ValueError):
            return None
        if len(self._min_cache) > 4096:
            self._min_cache.clear()
        self._min_cache[mkey] = base
        return base

    def _rfc3339(self, token: str) -> float | None:
        frac = 0.0
        key = token
        if len(token) > 20 and token[19] == ".":
            end = 20
            n = len(token)
            while end < n and token[end].isdigit() and token[end].isascii():
                end += 1
            if end == 20:
                return None
            frac = float("0" + token[19:end])
            key = token[:19] + token[end:]
        cached = self._ts_cache.get(key)
        if cached is None:
            if len(key) < 19 or key[10] not in "Tt" or not key[:4].isdigit():
                return None
            try:
                dt = datetime.fromisoformat(key[:-1] + "+00:00" if key[-1] in "Zz" else key)
            except ValueError:
                return None
            try:
                cached = dt.timestamp() if dt.tzinfo else time.mktime(dt.timetuple())
            except (OverflowError, ValueError, OSError):
                return None
            if len(self._ts_cache) > 4096:
                self._ts_cache.clear()
            self._ts_cache[key] = cached
        return cached + frac

    # ------------------------------------------------------------------ lines
    def parse(self, line: str) -> LogEvent:
        try:
            ev = self._parse(line)
        except (ValueError, IndexError, KeyError, OverflowError):
            ev = None
        if ev is None:
            self.unparsed += 1
            return _tn(LogEvent, (0.0, UNPARSED, line, "", "", "", "", 0, "", "", "", "", "", "", "", None, "", "",
                                  None, "", "", "", "", ""))
        self.parsed += 1
        return ev

    def _parse(self, line: str) -> LogEvent | None:
        if len(line) > MAX_LINE:
            return None
        if line[-1:] == "\n":
            line = line[:-1]
        if line[-1:] == "\r":
            line = line[:-1]
        c0 = line[:1]
        if "A" <= c0 <= "Z":
            key = line[:15]
            ts = self._ts_cache.get(key)
            if ts is None:
                ts = self._classic_ts(key)
                if ts is None:
                    return None
            c15 = line[15:16]
            if c15 == " ":
                rest = line[16:]
            elif c15 == ".":
                sp = line.find(" ", 16)
                if sp < 0:
                    return None
                digits = line[16:sp]
                if not (digits.isdigit() and digits.isascii()):
                    return None
                ts += float("0." + digits)
                rest = line[sp + 1:]
            else:
                return None
        elif "0" <= c0 <= "9":
            sp = line.find(" ")
            if sp < 0:
                return None
            ts = self._rfc3339(line[:sp])
            if ts is None:
                return None
            rest = line[sp + 1:]
        else:
            return None
        parts = rest.split(" ", 2)
        if len(parts) < 3:
            return None
        host, tag, msg = parts
        if host[-1:] == ":":
            # Dovecot's own log file: "Nov 25 18:04:24 imap-login: Info: ..."
            c = rest.find(": ")
            if c < 0:
                return None
            return self._dovecot(ts, line, "", rest[:c], rest[c + 2:])
        if tag[-1:] != ":":
            return None
        tag = tag[:-1]
        pid = 0
        b = tag.find("[")
        if b >= 0:
            name = tag[:b]
            p = tag[b + 1:-1]
            if p.isdigit() and p.isascii() and tag[-1] == "]":
                pid = int(p)
        else:
            name = tag
        kind = self._names.get(name, False)
        if kind is False:
            kind = self._classify(name)
        if kind is None:
            return None
        if kind[0] == "postfix":
            return self._postfix(ts, line, host, kind[1], kind[2], pid, msg)
        c2 = msg.find(": ")
        if c2 < 0:
            return _tn(LogEvent, (ts, DOVECOT, line, host, "dovecot", "", "", pid, "", msg, "", "", "", "", "", None,
                                  "", "", None, "", "", "", "", ""))
        return self._dovecot(ts, line, host, msg[:c2], msg[c2 + 2:], pid)

    def _classify(self, name: str) -> tuple[str, str, str] | None:
        """A syslog tag name -> ("postfix", instance, service), ("dovecot", "", "") or None (cached)."""
        out: tuple[str, str, str] | None = None
        slash = name.rfind("/")
        if slash > 0:
            service = name[slash + 1:]
            instance = name[:slash]
            if service in POSTFIX_SERVICES or instance.startswith("postfix"):
                out = ("postfix", instance, service)
        elif name == "dovecot":
            out = ("dovecot", "", "")
        elif name.startswith("postfix"):   # "postfix[123]: ..." (postlog, postfix-script on some systems)
            out = ("postfix", name, name)
        if len(self._names) > 1000:
            self._names.clear()
        self._names[name] = out
        return out

    # ------------------------------------------------------------------ Postfix
    def _postfix(self, ts: float, line: str, host: str, inst: str, svc: str, pid: int, msg: str) -> LogEvent:
        qid = ""
        body = msg
        c = msg.find(": ", 0, _QID_WINDOW)
        if c > 0:
            head = msg[:c]
            if head == "NOQUEUE":
                body = msg[c + 2:]
            elif is_queue_id(head):
                qid = head
                body = msg[c + 2:]
        b0 = body[:1]
        if qid:
            if b0 == "t" and body.startswith("to=<"):
                m = _DELIVERY.match(body)
                if m:
                    to, orig, relay, _conn, delay, delays, dsn, status, rest = m.groups()
                    reason = rest[2:-1] if rest[:2] == " (" and rest[-1:] == ")" else rest.strip()
                    linked = ""
                    if status == "sent" and "forwarded as " in rest:
                        linked = rest.rsplit("forwarded as ", 1)[1].rstrip(")").strip()
                    try:
                        fdelay: float | None = float(delay)
                    except ValueError:
                        fdelay = None
                    if fdelay is not None and not -_INF < fdelay < _INF:
                        fdelay = None        # delay=nan / inf: no delay (it would break the histograms)
                    return _tn(LogEvent, (ts, DELIVERY, line, host, "postfix", inst, svc, pid, qid, body, to, "", "",
                                          status, relay, fdelay, delays or "", dsn or "", None, reason, "", "",
                                          orig or "", linked))
            elif b0 == "f" and body.startswith("from=<"):
                e = body.find(">, size=", 6)
                if e > 0:
                    s0 = e + 8
                    s1 = s0
                    n = len(body)
                    while s1 < n and "0" <= body[s1] <= "9":
                        s1 += 1
                    if s1 > s0:
                        return _tn(LogEvent, (ts, QUEUED, line, host, "postfix", inst, svc, pid, qid, body,
                                              body[6:e], "", "", "", "", None, "", "", int(body[s0:s1]), "", "",
                                              "", "", ""))
                k = body.find(", status=")
                if k > 0:
                    status, _, reason = body[k + 9:].partition(", ")
                    if status.endswith("expired"):     # expired, force-expired (postsuper -e)
                        e = body.find(">")
                        return _tn(LogEvent, (ts, EXPIRED, line, host, "postfix", inst, svc, pid, qid, body,
                                              body[6:e] if e > 0 else "", "", "", status, "", None, "", "", None,
                                              reason, "", "", "", ""))
            elif b0 == "c" and body.startswith("client="):
                client = body[7:]
                user = ""
                comma = client.find(", ")
                if comma >= 0:
                    extra = client[comma:]
                    client = client[:comma]
                    k = extra.find("sasl_username=")
                    if k >= 0:
                        user = extra[k + 14:].split(",", 1)[0].strip()
                return _tn(LogEvent, (ts, CLIENT, line, host, "postfix", inst, svc, pid, qid, body, "", client,
                                      _client_ip(client), "", "", None, "", "", None, "", "", user, "", ""))
            elif b0 == "m" and body.startswith("message-id="):
                mid = body[11:].split(",", 1)[0].strip()
                return _tn(LogEvent, (ts, MESSAGE_ID, line, host, "postfix", inst, svc, pid, qid, body, "", "", "",
                                      "", "", None, "", "", None, "", mid, "", "", ""))
            elif body == "removed":
                return _tn(LogEvent, (ts, REMOVED, line, host, "postfix", inst, svc, pid, qid, body, "", "", "",
                                      "", "", None, "", "", None, "", "", "", "", ""))
        if b0 == "c" and body.startswith("connect from "):
            client = body[13:]
            return _tn(LogEvent, (ts, CONNECT, line, host, "postfix", inst, svc, pid, qid, body, "", client,
                                  _client_ip(client), "", "", None, "", "", None, "", "", "", "", ""))
        if b0 == "d" and body.startswith("disconnect from "):
            client = body[16:].split(" ", 1)[0]
            return _tn(LogEvent, (ts, DISCONNECT, line, host, "postfix", inst, svc, pid, qid, body, "", client,
                                  _client_ip(client), "", "", None, "", "", None, "", "", "", "", ""))
        ev = _tn(LogEvent, (ts, INFO, line, host, "postfix", inst, svc, pid, qid, body, "", "", "", "", "", None,
                            "", "", None, "", "", "", "", ""))
        return self._postfix_rare(ev, svc, qid, body)

    def _postfix_rare(self, ev: LogEvent, svc: str, qid: str, body: str) -> LogEvent:
        b0 = body[:1]
        if svc == "pickup" and qid and (body.startswith("uid=") or body.startswith("sender=")):
            k = body.find("from=<")
            addr = ""
            if k >= 0:
                e = body.find(">", k)
                addr = body[k + 6:e] if e > 0 else ""
            return ev._replace(kind=PICKUP, address=addr)
        if b0 in "rhdm":
            for word, kind in (("reject: ", REJECT), ("reject_warning: ", REJECT_WARNING),
                               ("hold: ", HOLD), ("discard: ", DISCARD), ("milter-reject: ", MILTER_REJECT)):
                if body.startswith(word):
                    rest = body[len(word):]
                    if svc == "cleanup":
                        m = _CLEANUP_REJECT.match(rest)
                        if m:
                            return ev._replace(kind=kind, reason=rest, address=m.group("to") or "",
                                               status=m.group("what"))
                        return ev._replace(kind=kind, reason=rest)
                    m = _REJECT_SMTPD.match(rest)
                    if m:
                        client = m.group("client")
                        return ev._replace(kind=kind, client=client, client_ip=_client_ip(client),
                                           reason=m.group("reason"), address=m.group("to") or "",
                                           status=m.group("stage"))
                    return ev._replace(kind=kind, reason=rest)
        if b0 == "l" and body.startswith("lost connection after "):
            k = body.find(" from ")
            client = body[k + 6:] if k > 0 else ""
            return ev._replace(kind=LOST, client=client, client_ip=_client_ip(client))
        if b0 == "w" and body.startswith("warning: "):
            rest = body[9:]
            if svc == "cleanup":   # header_checks WARN: counted with reject warnings (as pflogsumm does)
                m = _CLEANUP_REJECT.match(rest)
                if m:
                    return ev._replace(kind=REJECT_WARNING, reason=rest, address=m.group("to") or "",
                                       status=m.group("what"))
            m = _SASL_FAIL.match(rest)
            if m:
                client = m.group("client")
                k = rest.find("sasl_username=")
                user = rest[k + 14:].split(",", 1)[0] if k >= 0 else ""
                return ev._replace(kind=AUTH_FAILED, client=client, client_ip=_client_ip(client),
                                   reason=rest, status=m.group("method"), user=user, address=user)
            return ev._replace(kind=WARNING, reason=rest)
        if qid and svc == "bounce" and "notification: " in body:
            return ev._replace(kind=NOTIFY, linked_queue_id=body.rsplit(": ", 1)[1].strip(), reason=body)
        for word, kind in (("fatal: ", FATAL), ("panic: ", PANIC), ("error: ", ERROR)):
            if body.startswith(word):
                return ev._replace(kind=kind, reason=body[len(word):])
        if svc == "postscreen":
            return ev._replace(kind=POSTSCREEN)
        if svc == "anvil" and body.startswith("statistics: "):
            return ev._replace(kind=STATISTICS)
        return ev

    # ------------------------------------------------------------------ Dovecot
    def _dovecot(self, ts: float, line: str, host: str, tag: str, msg: str, pid: int = 0) -> LogEvent | None:
        m = _DOVECOT_TAG.match(tag)
        if m is None:
            return None
        svc = m.group("svc")
        who = m.group("who") or ""
        if m.group("pid"):
            pid = int(m.group("pid"))
        level = ""
        for lv in _DOVECOT_LEVELS:
            if msg.startswith(lv):
                level = lv[:-2]
                msg = msg[len(lv):]
                break
        if not host and not level:
            return None   # the log-file format always has a level: this is not a Dovecot line
        user = who if who and not who.isdigit() else ""
        if who.isdigit() and who.isascii() and not pid:
            pid = int(who)
        ev = LogEvent(ts, DOVECOT, line, host, "dovecot", "", svc, pid, "", msg, user=user)
        if svc.endswith("-login"):
            kv = _kv(msg)
            ip = kv.get("rip", "")
            u = kv.get("user", "")
            if msg.startswith("Login: "):
                return ev._replace(kind=LOGIN, user=u, address=u, client_ip=ip, client=ip,
                                   status=kv.get("method", ""))
            if msg.startswith("Disconnected") or msg.startswith("Aborted login"):
                head = msg.split(": user=", 1)[0]
                if "auth failed" in head:
                    return ev._replace(kind=LOGIN_FAILED, user=u, address=u, client_ip=ip, client=ip,
                                       reason=head, status=kv.get("method", ""))
                return ev._replace(kind=LOGIN_DISCONNECT, user=u, address=u, client_ip=ip, client=ip, reason=head)
            return ev
        if svc in ("lmtp", "lda", "deliver"):
            k = msg.find("msgid=")
            mid = msg[k + 6:].split(": ", 1)[0] if k >= 0 else ""
            if "Quota exceeded" in msg or "quota exceeded" in msg:
                return ev._replace(kind=QUOTA, reason=msg, address=user, message_id=mid)
            if k >= 0 and ": saved mail to " in msg:
                return ev._replace(kind=SAVED, message_id=mid, address=user,
                                   reason=msg.rsplit(": saved mail to ", 1)[1])
            if k >= 0:
                return ev._replace(message_id=mid, address=user)
            return ev
        if svc in ("imap", "pop3", "submission", "managesieve"):
            if msg.startswith("Disconnected") or "Logged out" in msg[:40]:
                return ev._replace(kind=LOGOUT, address=user, reason=msg)
            if "Quota exceeded" in msg:
                return ev._replace(kind=QUOTA, address=user, reason=msg)
            return ev
        if svc == "auth" or svc.startswith("auth-"):
            k = msg.find("(")
            close = msg.find("): ", k)
            if k > 0 and close > k and ("unknown user" in msg or "assword mismatch" in msg):
                parts = msg[k + 1:close].split(",")
                u = parts[0]
                ip = parts[1] if len(parts) > 1 else ""
                return ev._replace(kind=AUTH, user=u, address=u, client_ip=ip, client=ip, reason=msg[close + 3:])
            return ev
        return ev


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _KV.finditer(text):
        if m.group(1):
            out.setdefault(m.group(1), m.group(2))
        else:
            out.setdefault(m.group(3), m.group(4))
    return out


def parse_line(line: str, reference_time: float | None = None) -> LogEvent:
    """Parse one line with a fresh ``LineParser`` (year guessed from ``reference_time`` or now).

    For many lines use one ``LineParser``: it keeps the year across New Year and caches timestamps.
    """
    return LineParser(reference_time).parse(line)


def timestamp_of(year: int, month: int, day: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    """Local-time epoch seconds (helper for tests and the generator)."""
    return time.mktime((year, month, day, hh, mm, ss, 0, 0, -1))


def utc_timestamp(year: int, month: int, day: int, hh: int = 0, mm: int = 0, ss: int = 0) -> float:
    return float(calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)))

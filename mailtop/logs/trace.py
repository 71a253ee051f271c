"""Find messages in a mail log and show every line of their life.

``trace(query, lines)`` reads lines once (any iterable: a file, a follower's history, the dashboard's
buffer) and returns a ``TraceResult``: the matching messages (``MessageFlow``) and their lines in log
order. The query is

* a queue ID (``2FB905143E6``, long IDs too),
* a message-id (``<...>`` or ``message-id`` text without the brackets when it contains ``@``... see below),
* an e-mail address: matches senders and recipients (``to=`` and ``orig_to=``), case-insensitively;
  an address that is only a domain (``@example.com``) matches every address of that domain.

A message-id is recognised by its angle brackets (``<id@host>``). A message's lines include its
smtpd session (``connect from`` ... ``disconnect from`` of the same smtpd process), the cleanup,
queue manager and delivery lines, the bounce notification it caused (followed as its own queue ID),
mail it was forwarded as, and Dovecot's ``saved mail`` line with the same message-id.
NOQUEUE rejects match by recipient or sender address.

Memory is bounded: lines are buffered per live queue ID and per smtpd session and dropped when the
message leaves the queue without matching.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailtop.logs import parse as P
from mailtop.logs.flows import FlowTracker, MessageFlow

__all__ = ["TraceResult", "trace", "query_kind"]

MAX_BUFFERED_KEYS = 50_000
MAX_LINES_PER_KEY = 1000


@dataclass(frozen=True, slots=True)
class TraceResult:
    query: str
    query_kind: str                       # queue_id, message_id, address, domain
    queue_ids: tuple[str, ...]
    messages: tuple[MessageFlow, ...]
    lines: tuple[str, ...]
    lines_read: int = 0


def query_kind(query: str) -> str:
    q = query.strip()
    if q.startswith("<") and q.endswith(">"):
        return "message_id"
    if q.startswith("@"):
        return "domain"
    if "@" in q:
        return "address"
    if P.is_queue_id(q):
        return "queue_id"
    return "address"


class _Tracer:
    def __init__(self, query: str) -> None:
        self.query = query.strip()
        self.kind = query_kind(self.query)
        self.q_low = self.query.lower()
        self.flows = FlowTracker(max_flows=MAX_BUFFERED_KEYS)
        self.buffers: dict[str, list[tuple[int, str]]] = {}      # flow key -> lines
        self.sessions: dict[str, list[tuple[int, str]]] = {}     # smtpd "instance pid" -> lines
        self.session_of: dict[str, str] = {}                      # flow key -> session key
        self.session_keys: dict[str, list[str]] = {}              # session key -> flow keys
        self.matched: set[str] = set()                            # flow keys
        self.matched_ids: set[str] = set()                        # queue IDs to follow (notifications)
        self.message_ids: set[str] = set()
        self.out: list[tuple[int, str]] = []
        self.result_flows: dict[str, MessageFlow] = {}
        self.n = 0

    def _addr_match(self, addr: str) -> bool:
        if not addr:
            return False
        a = addr.lower()
        if self.kind == "domain":
            return a.endswith(self.q_low)
        return a == self.q_low

    def feed(self, line: str, ev: P.LogEvent) -> None:
        self.n += 1
        seq = self.n
        kind = ev.kind
        if kind == P.UNPARSED:
            return
        if ev.program == "dovecot":
            if ev.message_id and ev.message_id in self.message_ids:
                self.out.append((seq, line))
            return
        qid = ev.queue_id
        if not qid:
            self._session_line(seq, line, ev)
            if kind in (P.REJECT, P.REJECT_WARNING, P.HOLD, P.DISCARD, P.MILTER_REJECT) and (
                    self._addr_match(ev.address) or self._reject_from_matches(ev)):
                self.out.append((seq, line))
            return
        key = self.flows._key(ev.instance, qid)
        flow = self.flows.feed(ev)
        if key in self.matched:
            self.out.append((seq, line))
        else:
            buf = self.buffers.setdefault(key, [])
            if len(buf) < MAX_LINES_PER_KEY:
                buf.append((seq, line))
            if kind == P.CLIENT and ev.service in ("smtpd", "postscreen"):
                skey = f"{ev.instance} {ev.pid}"
                self.session_of[key] = skey
                self.session_keys.setdefault(skey, []).append(key)
            if self._matches(ev, qid):
                self._match(key, flow)
            elif len(self.buffers) > MAX_BUFFERED_KEYS:
                old = next(iter(self.buffers))
                del self.buffers[old]
                self.session_of.pop(old, None)
        if key in self.matched and flow is not None:
            if kind == P.NOTIFY and ev.linked_queue_id:
                self.matched_ids.add(ev.linked_queue_id)
            if kind == P.DELIVERY and ev.linked_queue_id:
                self.matched_ids.add(ev.linked_queue_id)
            if kind == P.MESSAGE_ID and ev.message_id:
                self.message_ids.add(ev.message_id)
            self.result_flows[key] = flow.freeze()
        if kind == P.REMOVED:
            self.buffers.pop(key, None)
            self.session_of.pop(key, None)

    def _reject_from_matches(self, ev: P.LogEvent) -> bool:
        if self.kind not in ("address", "domain"):
            return False
        k = ev.text.find("from=<")
        if k < 0:
            return False
        e = ev.text.find(">", k)
        return self._addr_match(ev.text[k + 6:e])

    def _matches(self, ev: P.LogEvent, qid: str) -> bool:
        kind = self.kind
        if qid in self.matched_ids:
            return True
        if kind == "queue_id":
            return qid == self.query
        if kind == "message_id":
            return ev.kind == P.MESSAGE_ID and ev.message_id == self.query
        if ev.kind in (P.QUEUED, P.PICKUP, P.EXPIRED):
            return self._addr_match(ev.address)
        if ev.kind == P.DELIVERY:
            return self._addr_match(ev.address) or self._addr_match(ev.orig_to)
        return False

    def _match(self, key: str, flow) -> None:  # noqa: ANN001 - internal _Flow
        self.matched.add(key)
        lines = self.buffers.pop(key, [])
        sess = self.session_of.get(key)
        if sess and sess in self.sessions:
            lines = self.sessions[sess] + lines
        self.out.extend(lines)
        if flow is not None and flow.message_id:
            self.message_ids.add(flow.message_id)
        if flow is not None:
            self.result_flows[key] = flow.freeze()

    def _session_line(self, seq: int, line: str, ev: P.LogEvent) -> None:
        if ev.service not in ("smtpd", "postscreen") or not ev.pid:
            return
        skey = f"{ev.instance} {ev.pid}"
        if ev.kind == P.CONNECT:
            self._close_session(skey)
            self.sessions[skey] = [(seq, line)]
            if len(self.sessions) > MAX_BUFFERED_KEYS:
                old = next(iter(self.sessions))
                del self.sessions[old]
                self.session_keys.pop(old, None)
            return
        buf = self.sessions.get(skey)
        if buf is None:
            return
        if len(buf) < MAX_LINES_PER_KEY:
            buf.append((seq, line))
        # a session line after the match (TLS, disconnect) belongs to the matched message too
        for key in self.session_keys.get(skey, ()):
            if key in self.matched:
                self.out.append((seq, line))
                break
        if ev.kind == P.DISCONNECT:
            self._close_session(skey)

    def _close_session(self, skey: str) -> None:
        """The session ended: its lines go with each message it carried (matched or still buffered)."""
        lines = self.sessions.pop(skey, None)
        keys = self.session_keys.pop(skey, [])
        if not lines:
            return
        for key in keys:
            if key in self.matched:
                self.out.extend(lines)
            elif key in self.buffers:
                self.buffers[key].extend(lines)
            self.session_of.pop(key, None)

    def result(self) -> TraceResult:
        seen: set[int] = set()
        lines = []
        for seq, line in sorted(self.out):
            if seq not in seen:
                seen.add(seq)
                lines.append(line)
        flows = tuple(self.result_flows.values())
        return TraceResult(self.query, self.kind, tuple(f.queue_id for f in flows), flows, tuple(lines), self.n)


def trace(query: str, lines: Iterable[str], parser: P.LineParser | None = None) -> TraceResult:
    """Every line of the messages matching ``query`` (see the module docstring)."""
    tracer = _Tracer(query)
    parse = (parser or P.LineParser()).parse
    for line in lines:
        tracer.feed(line, parse(line))
    return tracer.result()
